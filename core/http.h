/*
 * core/http.h: a small HTTP server with routes, bearer tokens and
 * readiness checks, over libmicrohttpd.
 */
#ifndef QUELL_HTTP_H
#define QUELL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "metrics.h"

/* A small router over libmicrohttpd (one thread per connection, so a
 * handler may block, e.g. until Kafka acknowledges). Handlers are pure
 * request -> response functions; the server handles bodies, size limits,
 * the bearer token and the built-in /-/healthy and /-/ready. */
typedef struct http_server http_server_t;

typedef struct {
    const char *method; /* "GET", "POST" */
    const char *path;
    const char *body; /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;
    void *conn; /* for http_req_header / http_req_query */
} http_req_t;

typedef struct {
    int status;               /* 200 unless set */
    const char *content_type; /* static string; "text/plain; charset=utf-8" unless set */
    mbuf_t body;
} http_resp_t;

const char *http_req_header(const http_req_t *req, const char *name);
const char *http_req_query(const http_req_t *req, const char *name);
/* Every value of a repeated query parameter (`?filter=a&filter=b`), in
 * order, at most `cap`; returns how many. */
size_t http_req_query_all(const http_req_t *req, const char *name, const char **out, size_t cap);

typedef void (*http_handler_fn)(void *ctx, const http_req_t *req, http_resp_t *resp);
/* A readiness check: true when ready; otherwise writes why into `why`. */
typedef bool (*http_check_fn)(void *ctx, char *why, size_t len);

#define HTTP_AUTH 1 /* route flag: the bearer token is required when one is set */
/* A route path ending in '*' matches every longer path with that prefix
 * (e.g. "/api/v2/silence/" then a star); the handler reads the rest from
 * req->path. */

typedef struct {
    const char *listen;       /* "host:port", "[v6]:port"; port 0 picks a free one */
    const char *token;        /* NULL or "": no token */
    size_t max_request_bytes; /* larger bodies get 413 */
} http_opts_t;

/* Creates the server (not listening yet): add routes and checks, then
 * start. Not thread-safe before start; read-only after. */
http_server_t *http_server_new(const http_opts_t *o, char *errbuf, size_t errlen);
qerr_t http_route(http_server_t *s, const char *method, const char *path, int flags,
                  http_handler_fn fn, void *ctx);
/* May be called while serving, from one thread at a time (at most 8). */
qerr_t http_ready_check(http_server_t *s, const char *name, http_check_fn fn, void *ctx);
qerr_t http_server_start(http_server_t *s, char *errbuf, size_t errlen);
uint16_t http_server_port(const http_server_t *s); /* the bound port, once started */
/* quell_http_requests_total{handler,code}: answers so far. */
void http_server_metrics(http_server_t *s, mbuf_t *b);
/* Stops accepting, waits for running handlers, frees. */
void http_server_destroy(http_server_t *s);
/* Reads a bearer token file (trailing whitespace trimmed; empty refused).
 * The caller frees *out. */
qerr_t http_load_token(const char *path, char **out, char *errbuf, size_t errlen);
/* Constant-time comparison of a presented token with the expected one. */
bool http_token_equal(const char *got, size_t got_len, const char *want);

/* The client side, as quell's commands use it (quell top, quell explain
 * --fingerprint, the bench's /metrics scrapes): GET `url` with the bearer
 * `token` (NULL or "": none), the body appended to `body` (initialised by
 * the caller) and the status into *status. QERR_IO with the transport's
 * error (refused, timed out) in errbuf when no answer came. */
qerr_t http_get(const char *url, const char *token, long timeout_ms, mbuf_t *body, long *status,
                char *errbuf, size_t errlen);

#endif
