/* tests/webhook_sink.h */
#include "webhook_sink.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "../core/core.h"

typedef struct {
    char *buf;
    size_t len;
} upload_t;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
    (void)url, (void)method, (void)version;
    webhook_sink_t *s = cls;
    upload_t *u = *state;
    if (!u) {
        *state = calloc(1, sizeof(upload_t));
        return MHD_YES;
    }
    if (*size) {
        u->buf = realloc(u->buf, u->len + *size + 1);
        memcpy(u->buf + u->len, data, *size);
        u->len += *size;
        u->buf[u->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    int i = s->n_req < WEBHOOK_SINK_MAX ? s->n_req++ : WEBHOOK_SINK_MAX - 1;
    free(s->body[i]); /* past the last slot: the newest replaces it */
    s->body[i] = u->buf ? u->buf : strdup("");
    s->at_ms[i] = clock_wall_ms();
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    snprintf(s->content_type, sizeof(s->content_type), "%s", ct ? ct : "");
    int status = s->status[i] ? s->status[i] : 200;
    int ra = s->retry_after_s[i], delay = s->delay_ms[i];
    pthread_mutex_unlock(&s->mu);
    free(u);
    *state = NULL;
    if (delay) {
        struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(2, "ok", MHD_RESPMEM_PERSISTENT);
    if (ra) {
        char v[16];
        snprintf(v, sizeof(v), "%d", ra);
        MHD_add_response_header(r, "Retry-After", v);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

bool webhook_sink_start(webhook_sink_t *s, uint16_t port)
{
    s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, port,
                            NULL, NULL, on_request, s, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
                            MHD_OPTION_END);
    if (!s->d) return false;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s->port != 0;
}

void webhook_sink_stop(webhook_sink_t *s)
{
    if (s->d) MHD_stop_daemon(s->d);
    s->d = NULL;
}

void webhook_sink_free(webhook_sink_t *s)
{
    webhook_sink_stop(s);
    for (int i = 0; i < WEBHOOK_SINK_MAX; i++) free(s->body[i]);
    pthread_mutex_destroy(&s->mu);
}

int webhook_sink_requests(webhook_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->n_req;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int webhook_sink_matching(webhook_sink_t *s, const char *a, const char *b)
{
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_req && i < WEBHOOK_SINK_MAX; i++)
        if (s->body[i] && strstr(s->body[i], a) && (!b || strstr(s->body[i], b))) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}
