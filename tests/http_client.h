/*
 * One HTTP request from a test to a local quell (libcurl, blocking, 10 s
 * at most): what the end-to-end tests that drive its HTTP API share.
 */
#ifndef QUELL_TEST_HTTP_CLIENT_H
#define QUELL_TEST_HTTP_CLIENT_H

#include "../core/core.h"

/* `method` `path` on 127.0.0.1:port with `body` (may be NULL) as JSON.
 * Returns the status, 0 when the request failed; the NUL-terminated
 * answer in *out (which the caller frees). */
long http_client_do(int port, const char *method, const char *path, const char *body, mbuf_t *out);

#endif
