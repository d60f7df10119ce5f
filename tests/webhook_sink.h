/*
 * A webhook receiver for tests: libmicrohttpd on a loopback port, keeping
 * each request's body, arrival time and Content-Type, and answering with a
 * script (status, Retry-After, delay per request; 200 once it runs out).
 */
#ifndef QUELL_TEST_WEBHOOK_SINK_H
#define QUELL_TEST_WEBHOOK_SINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define WEBHOOK_SINK_MAX 256 /* requests kept; later ones replace the last */

typedef struct {
    pthread_mutex_t mu;
    struct MHD_Daemon *d;
    uint16_t port;
    int n_req;
    char *body[WEBHOOK_SINK_MAX];
    int64_t at_ms[WEBHOOK_SINK_MAX];
    char content_type[64];
    /* script: status for request i (0 = 200 from then on) */
    int status[WEBHOOK_SINK_MAX];
    int retry_after_s[WEBHOOK_SINK_MAX];
    int delay_ms[WEBHOOK_SINK_MAX];
} webhook_sink_t;

/* Listens on `port` (0: a free one; s->port says which). The caller zeroes
 * the struct, sets `mu` to PTHREAD_MUTEX_INITIALIZER and the script. */
bool webhook_sink_start(webhook_sink_t *s, uint16_t port);
void webhook_sink_stop(webhook_sink_t *s); /* the port closes; bodies are kept */
void webhook_sink_free(webhook_sink_t *s); /* stops, frees the bodies */
int webhook_sink_requests(webhook_sink_t *s);
/* Requests whose body contains a and, when not NULL, b. */
int webhook_sink_matching(webhook_sink_t *s, const char *a, const char *b);

#endif
