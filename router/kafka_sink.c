/*
 * The Kafka sink: one librdkafka producer shared by every worker
 * (rd_kafka_producev is thread-safe) and served by the router thread, which
 * calls router_poll() to run delivery reports.
 *
 * Delivery contract: a message's opaque is the msg_track_t of the input
 * message it came from. Success releases it. Failure never drops it: the
 * same bytes are produced again from the delivery report (counted, logged
 * at most once per 10 s), so the input offset is not committed until the
 * broker really has the incident — at-least-once, never at-most-once.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router.h"

#define FORMAT_BUF_BYTES 65536

struct router {
    rd_kafka_t *rk;
    char *output_topic;
    char *dlq_topic;
    log_limit_t retry_log; /* touched only from delivery reports (router thread) */
    _Alignas(CACHELINE) _Atomic uint64_t produced;
    _Atomic uint64_t delivered;
    _Atomic uint64_t dead_lettered;
    _Atomic uint64_t retries;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    router_t *r = opaque;
    msg_track_t *track = m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (strcmp(rd_kafka_topic_name(m->rkt), r->dlq_topic) != 0)
            atomic_fetch_add_explicit(&r->delivered, 1, memory_order_relaxed);
        track_done(track);
        return;
    }
    atomic_fetch_add_explicit(&r->retries, 1, memory_order_relaxed);
    uint64_t quiet = 0;
    if (log_limit_allow(&r->retry_log, 10000, &quiet))
        log_error("router",
                  "delivery to %s failed: %s; producing again (%llu more failures not logged)",
                  rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err), (unsigned long long)quiet);
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_headers_t *copy = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        copy = rd_kafka_headers_copy(hdrs);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(rd_kafka_topic_name(m->rkt)), RD_KAFKA_V_KEY(m->key, m->key_len),
        RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(track), RD_KAFKA_V_HEADERS(copy), RD_KAFKA_V_END);
    if (err) {
        /* Nowhere to put it: keep the track held so the offset is never
         * committed; a restart re-reads the input and tries again. */
        if (copy) rd_kafka_headers_destroy(copy);
        log_error("router", "cannot re-produce to %s: %s; input offset held",
                  rd_kafka_topic_name(m->rkt), rd_kafka_err2str(err));
    }
}

static bool set(rd_kafka_conf_t *kc, const char *k, const char *v, char *errbuf, size_t errlen)
{
    return rd_kafka_conf_set(kc, k, v, errbuf, errlen) == RD_KAFKA_CONF_OK;
}

router_t *router_new(const conf_t *conf, const char *brokers, char *errbuf, size_t errlen)
{
    router_t *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->output_topic = strdup(conf->kafka.output_topic);
    r->dlq_topic = strdup(conf->kafka.dlq_topic);
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    bool ok = set(kc, "bootstrap.servers", brokers, errbuf, errlen) &&
              set(kc, "linger.ms", "5", errbuf, errlen) &&
              set(kc, "queue.buffering.max.messages", "1000000", errbuf, errlen) &&
              set(kc, "message.timeout.ms", "60000", errbuf, errlen) &&
              set(kc, "enable.idempotence", "true", errbuf, errlen) &&
              set(kc, "compression.codec", "lz4", errbuf, errlen);
    /* User properties come last so they win; consumer-only ones are
     * ignored by librdkafka with a warning, which is what we want. */
    for (size_t i = 0; ok && i < conf->kafka.n_properties; i++) {
        const conf_kv_t *p = &conf->kafka.properties[i];
        if (strcmp(p->key, "group.id") == 0 || strncmp(p->key, "enable.auto", 11) == 0 ||
            strncmp(p->key, "auto.", 5) == 0 || strncmp(p->key, "fetch.", 6) == 0 ||
            strncmp(p->key, "session.", 8) == 0 ||
            strcmp(p->key, "partition.assignment.strategy") == 0)
            continue;
        ok = set(kc, p->key, p->value, errbuf, errlen);
    }
    if (!ok) {
        rd_kafka_conf_destroy(kc);
        router_destroy(r, 0);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
    rd_kafka_conf_set_opaque(kc, r);
    rd_kafka_conf_set_log_cb(kc, log_kafka_cb);
    r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, errlen);
    if (!r->rk) {
        router_destroy(r, 0);
        return NULL;
    }
    return r;
}

void router_destroy(router_t *r, int timeout_ms)
{
    if (!r) return;
    if (r->rk) {
        if (rd_kafka_flush(r->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_error("router", "%d messages not delivered at shutdown", rd_kafka_outq_len(r->rk));
        rd_kafka_destroy(r->rk);
    }
    free(r->output_topic);
    free(r->dlq_topic);
    free(r);
}

qerr_t router_forward(router_t *r, const alert_t *a, const incident_t *inc, msg_track_t *track)
{
    static _Thread_local char buf[FORMAT_BUF_BYTES];
    char *out = buf;
    size_t len = router_format_incident_json(buf, sizeof(buf), a, inc);
    if (len >= sizeof(buf)) {
        out = malloc(len + 1);
        if (!out) return QERR_NOMEM;
        router_format_incident_json(out, len + 1, a, inc);
    }
    char key[17];
    hex16(inc->fingerprint, key);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        r->rk, RD_KAFKA_V_TOPIC(r->output_topic), RD_KAFKA_V_KEY(key, 16),
        RD_KAFKA_V_VALUE(out, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_TIMESTAMP(a->event_time_ms), RD_KAFKA_V_OPAQUE(track), RD_KAFKA_V_END);
    if (out != buf) free(out);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return QERR_FULL;
    if (err) {
        log_error("router", "produce to %s: %s", r->output_topic, rd_kafka_err2str(err));
        return QERR_KAFKA;
    }
    atomic_fetch_add_explicit(&r->produced, 1, memory_order_relaxed);
    return QERR_OK;
}

qerr_t router_dead_letter(router_t *r, const rd_kafka_message_t *msg, const char *reason,
                          const char *detail, msg_track_t *track)
{
    rd_kafka_headers_t *src = NULL;
    rd_kafka_headers_t *hdrs;
    if (rd_kafka_message_headers(msg, &src) == RD_KAFKA_RESP_ERR_NO_ERROR)
        hdrs = rd_kafka_headers_copy(src);
    else
        hdrs = rd_kafka_headers_new(5);
    char num[32];
    rd_kafka_header_add(hdrs, "quell-error", -1, reason, -1);
    rd_kafka_header_add(hdrs, "quell-error-detail", -1, detail, -1);
    rd_kafka_header_add(hdrs, "quell-source-topic", -1, rd_kafka_topic_name(msg->rkt), -1);
    snprintf(num, sizeof(num), "%d", (int)msg->partition);
    rd_kafka_header_add(hdrs, "quell-source-partition", -1, num, -1);
    snprintf(num, sizeof(num), "%lld", (long long)msg->offset);
    rd_kafka_header_add(hdrs, "quell-source-offset", -1, num, -1);
    rd_kafka_resp_err_t err;
    for (;;) {
        err = rd_kafka_producev(
            r->rk, RD_KAFKA_V_TOPIC(r->dlq_topic), RD_KAFKA_V_KEY(msg->key, msg->key_len),
            RD_KAFKA_V_VALUE(msg->payload, msg->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(track), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        /* Rare (dead letters are few): wait for the router thread to drain
         * the queue. Not rd_kafka_poll here: delivery reports must run on
         * the router thread only (retry_log is that thread's). */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (err) {
        rd_kafka_headers_destroy(hdrs);
        log_error("router", "dead-letter produce to %s: %s", r->dlq_topic, rd_kafka_err2str(err));
        return QERR_KAFKA;
    }
    atomic_fetch_add_explicit(&r->dead_lettered, 1, memory_order_relaxed);
    return QERR_OK;
}

void router_poll(router_t *r, int timeout_ms) { rd_kafka_poll(r->rk, timeout_ms); }

void router_stats(router_t *r, router_stats_t *out)
{
    out->produced = atomic_load_explicit(&r->produced, memory_order_relaxed);
    out->delivered = atomic_load_explicit(&r->delivered, memory_order_relaxed);
    out->dead_lettered = atomic_load_explicit(&r->dead_lettered, memory_order_relaxed);
    out->retries = atomic_load_explicit(&r->retries, memory_order_relaxed);
}
