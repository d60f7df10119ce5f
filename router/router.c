/*
 * The router: routes, the notifier it feeds, and the Kafka sink — one librdkafka producer shared by
 * every worker (rd_kafka_producev is thread-safe) and served by the router thread, which calls
 * router_poll() to run delivery reports.
 *
 * Delivery contract: a message's opaque is the msg_track_t of the input
 * message it came from. Success releases it. Failure never drops it: the
 * same bytes are produced again from the delivery report (counted, logged
 * at most once per 10 s), so the input offset is not committed until the
 * broker really has the incident — at-least-once, never at-most-once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/ring.h"
#include "router_int.h"

#define FORMAT_BUF_BYTES 65536
#define MAX_LANES        256
#define LANE_BATCH       4096 /* records taken per lane per poll: fairness */

typedef struct {
    size_t n;
    msg_track_t *tracks[];
} held_t;

typedef struct {
    incident_t inc;
    /* then the alert record (alert_rec_write) */
} lane_hdr_t;

typedef struct retired retired_t;
struct retired {
    retired_t *next;
    notifier_t *notifier;
    uint64_t generation;
};

struct router {
    rd_kafka_t *rk;
    char *output_topic;
    char *dlq_topic;
    log_limit_t retry_log; /* touched only from delivery reports (router thread) */
    /* routing: NULL without a `route:` */
    routing_t *routing;
    notifier_t *notifier; /* the current routing generation's (router thread) */
    /* Reloads (router_follow): notifiers of earlier generations that still
     * have open groups or deliveries, newest first. Router thread only. */
    routing_live_t *live;
    uint64_t generation;
    retired_t *retired;
    notifier_opts_t notifier_opts;    /* template for each generation's notifier */
    notifier_counters_t counters;     /* every generation's, so reloads never reset them */
    novelty_shared_t *novelty_shared; /* Redis store only */
    group_shared_t *group_shared;     /* Redis store only */
    int64_t resolve_timeout_ms;       /* global.resolve_timeout: in use from router_set_seen */
    size_t lane_bytes;
    pthread_mutex_t lane_lock; /* registration only */
    ring_t *lanes[MAX_LANES];
    _Atomic size_t n_lanes;
    arena_t scratch;
    _Atomic bool draining;
    bool drain_flushed; /* router thread */
    /* Groups for a periodic snapshot (router_groups_snapshot): a ticket
     * asked by the snapshot thread, served by the router thread between
     * two polls. `cut` is written by the router thread before it stores
     * `served` (release) and read by the asker after it loads it
     * (acquire); the asker frees it. One asker at a time. */
    _Atomic uint64_t cut_asked, cut_served;
    char *cut;
    size_t cut_len;
    qerr_t cut_err;
    uint64_t id; /* unique per process: names the lanes' owner */
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
        if ((uintptr_t)track & 1) {
            held_t *h = (held_t *)((uintptr_t)track & ~(uintptr_t)1);
            for (size_t i = 0; i < h->n; i++) track_done(h->tracks[i]);
            free(h);
            return;
        }
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

static qerr_t produce_for_notifier(void *ctx, const char *topic, const char *key, const void *value,
                                   size_t len, const char *receiver, const char *reason,
                                   msg_track_t *const *tracks, size_t n_tracks)
{
    return router_produce_tracked(ctx, topic, key, value, len, receiver, reason, tracks, n_tracks);
}

router_t *router_new(const conf_t *conf, const char *brokers, char *errbuf, size_t errlen)
{
    router_t *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->output_topic = strdup(conf->kafka.output_topic);
    r->dlq_topic = strdup(conf->kafka.dlq_topic);
    static _Atomic uint64_t next_id = 1;
    r->id = atomic_fetch_add(&next_id, 1);
    pthread_mutex_init(&r->lane_lock, NULL);
    arena_init(&r->scratch, 65536);
    r->lane_bytes = conf->ring_bytes;
    if (routing_compile(conf, &r->routing, errbuf, errlen) != QERR_OK) {
        router_destroy(r, 0);
        return NULL;
    }
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
    if (r->routing) {
        /* Redis store: novelty is shared through it too. */
        store_conf_t sc = {.timeout_ms = conf->store.timeout_ms};
        bool memory = true;
        if (store_conf_connection(conf, &sc, &memory, errbuf, errlen) != QERR_OK) {
            router_destroy(r, 0);
            return NULL;
        }
        if (!memory && (!(r->novelty_shared = novelty_shared_new(&sc, conf->store.prefix)) ||
                        !(r->group_shared = group_shared_new(&sc, conf->store.prefix)))) {
            snprintf(errbuf, errlen, "out of memory");
            router_destroy(r, 0);
            return NULL;
        }
        r->notifier_opts = (notifier_opts_t){.routing = r->routing,
                                             .produce = produce_for_notifier,
                                             .produce_ctx = r,
                                             .dlq_topic = r->dlq_topic,
                                             .now_ms = clock_wall_ms(),
                                             .novelty_shared = r->novelty_shared,
                                             .group_shared = r->group_shared,
                                             .counters = &r->counters};
        r->resolve_timeout_ms = conf->global.resolve_timeout_ms;
        r->notifier_opts.dedup_window_ms = conf->dedup.window_ms;
        r->generation = 1;
        r->notifier = notifier_new(&r->notifier_opts, errbuf, errlen);
        if (!r->notifier) {
            router_destroy(r, 0);
            return NULL;
        }
    }
    return r;
}

void router_destroy(router_t *r, int timeout_ms)
{
    if (!r) return;
    /* The producer first: a delivery report releases a notification's
     * holds, one of which is its group's (group.c), so no report may run
     * once the notifiers are freed. */
    if (r->rk) {
        if (rd_kafka_flush(r->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_error("router", "%d messages not delivered at shutdown", rd_kafka_outq_len(r->rk));
        rd_kafka_destroy(r->rk);
    }
    /* What is still queued keeps its holds: re-read after a restart. */
    notifier_destroy(r->notifier);
    for (retired_t *t = r->retired, *next; t; t = next) {
        next = t->next;
        notifier_destroy(t->notifier);
        free(t);
    }
    free(r->cut);
    novelty_shared_destroy(r->novelty_shared);
    group_shared_destroy(r->group_shared);
    routing_destroy(r->routing);
    for (size_t i = 0; i < atomic_load(&r->n_lanes); i++) ring_destroy(r->lanes[i]);
    pthread_mutex_destroy(&r->lane_lock);
    arena_free(&r->scratch);
    free(r->output_topic);
    free(r->dlq_topic);
    free(r);
}

/* The calling thread's lane, registered on its first call. A thread
 * forwards to one router for its life (workers do). */
static ring_t *lane_get(router_t *r)
{
    /* By id, not address: a later router may reuse a freed one's. */
    static _Thread_local uint64_t lane_owner;
    static _Thread_local ring_t *lane;
    if (lane_owner == r->id && lane) return lane;
    pthread_mutex_lock(&r->lane_lock);
    size_t n = atomic_load_explicit(&r->n_lanes, memory_order_relaxed);
    ring_t *ring = n < MAX_LANES ? ring_new(r->lane_bytes) : NULL;
    if (ring) {
        r->lanes[n] = ring;
        atomic_store_explicit(&r->n_lanes, n + 1, memory_order_release);
        lane_owner = r->id;
        lane = ring;
    }
    pthread_mutex_unlock(&r->lane_lock);
    return ring;
}

static qerr_t lane_push(router_t *r, const alert_t *a, const incident_t *inc, msg_track_t *track)
{
    ring_t *ring = lane_get(r);
    if (!ring) return QERR_NOMEM;
    size_t len = sizeof(lane_hdr_t) + alert_rec_size(a);
    if (len > ring_max_record(ring)) {
        log_error("router", "incident of %zu bytes exceeds the lane (ring_bytes)", len);
        return QERR_INVALID;
    }
    lane_hdr_t *h = ring_reserve(ring, len);
    if (!h) return QERR_FULL;
    h->inc = *inc;
    alert_rec_write(h + 1, a, track);
    ring_commit(ring);
    return QERR_OK;
}

/* Router thread. The notifier an incident goes to: a retired generation's
 * when one of its open groups holds the alert (so that group sees the
 * alert resolve and closes where it was notified), else the current. */
static notifier_t *notifier_for(router_t *r, const alert_t *a)
{
    for (retired_t *t = r->retired; t; t = t->next)
        if (notifier_holds(t->notifier, a)) return t->notifier;
    return r->notifier;
}

/* Router thread, between polls: a new routing generation gets its own
 * notifier; the previous one is retired (keeps its groups, timers and
 * deliveries until they are done). Like Alertmanager, which rebuilds its
 * dispatcher on reload, except that open groups are not re-dispatched:
 * they finish on the route that notified them. */
static void follow_generation(router_t *r, int64_t now_ms)
{
    const routing_gen_t *g = routing_live_current(r->live);
    if (g->generation == r->generation) return;
    uint64_t was = r->generation;
    r->generation = g->generation; /* a failure below is not retried every poll */
    if (!g->routing) return;       /* refused by the reload (route: removed) */
    notifier_opts_t o = r->notifier_opts;
    o.routing = g->routing;
    o.now_ms = now_ms;
    char errbuf[256];
    notifier_t *next = notifier_new(&o, errbuf, sizeof errbuf);
    retired_t *t = calloc(1, sizeof *t);
    if (!next || !t) {
        notifier_destroy(next);
        free(t);
        log_error("router", "routing generation %llu not used, generation %llu stays: %s",
                  (unsigned long long)g->generation, (unsigned long long)was,
                  next ? "out of memory" : errbuf);
        return;
    }
    notifier_carry_novelty(next, r->notifier);
    *t = (retired_t){r->retired, r->notifier, was};
    r->retired = t;
    r->notifier = next;
    r->drain_flushed = false;
    log_info("router", "routing generation %llu in use; generation %llu keeps %zu open groups",
             (unsigned long long)g->generation, (unsigned long long)was,
             notifier_groups(t->notifier));
}

/* Router thread: runs the retired notifiers and frees those with no group
 * and nothing queued, in flight or in a digest. */
static void run_retired(router_t *r, int64_t now_ms, bool flush)
{
    for (retired_t **pp = &r->retired; *pp;) {
        retired_t *t = *pp;
        if (flush) notifier_flush(t->notifier, now_ms);
        notifier_run(t->notifier, now_ms, 0);
        /* A closing group's last notification may still be with the
         * producer, which releases the group's own hold on its ack; an
         * alert resolved by time is watched until dedup stops folding its
         * comeback (at most the dedup window), which reopens it here. */
        if (notifier_groups(t->notifier) || notifier_pending(t->notifier) ||
            notifier_closing(t->notifier) || notifier_watched(t->notifier)) {
            pp = &t->next;
            continue;
        }
        log_info("router", "routing generation %llu retired: its groups closed",
                 (unsigned long long)t->generation);
        *pp = t->next;
        notifier_destroy(t->notifier);
        free(t);
    }
}

/* Router thread: moves what the workers handed over into the notifier,
 * at most `batch` records per lane. *emptied (may be NULL): every lane was
 * seen empty, so all that was in them when this started is routed. */
static size_t lanes_drain(router_t *r, int64_t now_ms, size_t batch, bool *emptied)
{
    size_t n = atomic_load_explicit(&r->n_lanes, memory_order_acquire), moved = 0;
    if (emptied) *emptied = true;
    for (size_t i = 0; i < n; i++) {
        void *rec = NULL;
        size_t len, k = 0;
        for (; k < batch && (rec = ring_peek(r->lanes[i], &len)); k++) {
            const lane_hdr_t *h = rec;
            alert_t a;
            msg_track_t *track = NULL;
            arena_reset(&r->scratch);
            if (alert_rec_read(h + 1, len - sizeof(*h), &r->scratch, &a, &track) == QERR_OK &&
                notifier_submit(notifier_for(r, &a), &a, &h->inc, track, now_ms) != QERR_OK)
                log_error("router", "out of memory routing an incident; input offset held");
            ring_release(r->lanes[i]);
            moved++;
        }
        if (emptied && k == batch) *emptied = false;
    }
    return moved;
}

qerr_t router_produce_tracked(router_t *r, const char *topic, const char *key, const void *value,
                              size_t len, const char *receiver, const char *reason,
                              msg_track_t *const *tracks, size_t n_tracks)
{
    held_t *h = malloc(sizeof(*h) + (n_tracks ? n_tracks : 1) * sizeof(msg_track_t *));
    if (!h) return QERR_NOMEM;
    h->n = n_tracks;
    if (n_tracks) memcpy(h->tracks, tracks, n_tracks * sizeof(*tracks));
    rd_kafka_headers_t *hdrs = NULL;
    if (reason) {
        hdrs = rd_kafka_headers_new(3);
        rd_kafka_header_add(hdrs, "quell-error", -1, "delivery_failed", -1);
        rd_kafka_header_add(hdrs, "quell-error-detail", -1, reason, -1);
        if (receiver) rd_kafka_header_add(hdrs, "quell-receiver", -1, receiver, -1);
    }
    rd_kafka_resp_err_t err;
    for (int tries = 0;; tries++) {
        err = rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                RD_KAFKA_V_VALUE((void *)value, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_OPAQUE((void *)((uintptr_t)h | 1)), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 100) break;
        rd_kafka_poll(r->rk, 10); /* this is the router thread: serving reports is ours */
    }
    if (err) {
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        free(h);
        log_error("router", "produce to %s: %s", topic, rd_kafka_err2str(err));
        return QERR_KAFKA;
    }
    return QERR_OK;
}

/* Every routing generation's groups, oldest first: a retired one's groups
 * are restored when their route is still in the config at the restart,
 * and the current generation's, written last, win a key both have. */
static qerr_t groups_write(FILE *f, void *ctx)
{
    router_t *r = ctx;
    size_t n = 1;
    for (retired_t *t = r->retired; t; t = t->next) n++;
    notifier_t **ns = calloc(n, sizeof(*ns));
    if (!ns) return QERR_NOMEM;
    size_t i = n;
    ns[--i] = r->notifier;
    for (retired_t *t = r->retired; t; t = t->next) ns[--i] = t->notifier; /* newest first */
    qerr_t err = notifier_write_groups(ns, n, f);
    free(ns);
    return err;
}

qerr_t router_groups_save(router_t *r, const char *path, char *errbuf, size_t errlen)
{
    return r->notifier ? file_replace(path, groups_write, r, errbuf, errlen) : QERR_OK;
}

/* Router thread, between two polls: serves a snapshot's ask. First every
 * lane is drained until seen empty: the snapshot thread asks after it took
 * the workers' table copies, and a worker hands a forward to its lane
 * before it takes the next record, so then every incident in the copies
 * is in a group (pending, in flight or confirmed), which is what lets the
 * snapshot skip the delivery barrier (dedup/snapshot.c). Into memory (the
 * groups as bytes, tens of bytes of header per group plus its alerts):
 * the disk write and fsync are the snapshot thread's, so the router thread
 * never waits on the disk. */
static void groups_cut_serve(router_t *r, int64_t now_ms)
{
    uint64_t asked = atomic_load_explicit(&r->cut_asked, memory_order_acquire);
    if (asked == atomic_load_explicit(&r->cut_served, memory_order_relaxed)) return;
    bool emptied = false;
    /* Bounded: workers faster than this thread would keep a lane full;
     * then the cut waits for a later poll (the asker's timeout bounds it). */
    lanes_drain(r, now_ms, 1u << 20, &emptied);
    if (!emptied) return;
    free(r->cut); /* an earlier cut its asker gave up on */
    r->cut = NULL;
    r->cut_len = 0;
    FILE *f = open_memstream(&r->cut, &r->cut_len);
    r->cut_err = f ? groups_write(f, r) : QERR_NOMEM;
    if (f && fclose(f) != 0 && r->cut_err == QERR_OK) r->cut_err = QERR_NOMEM;
    atomic_store_explicit(&r->cut_served, asked, memory_order_release);
}

static bool cut_served(void *ctx, uint64_t ticket)
{
    router_t *r = ctx;
    return atomic_load_explicit(&r->cut_served, memory_order_acquire) >= ticket;
}

qerr_t router_groups_snapshot(router_t *r, char **buf, size_t *len, int timeout_ms,
                              const _Atomic bool *stop)
{
    *buf = NULL;
    *len = 0;
    if (!r->notifier) return QERR_OK;
    uint64_t ticket = atomic_fetch_add_explicit(&r->cut_asked, 1, memory_order_acq_rel) + 1;
    if (!wait_served(cut_served, r, ticket, timeout_ms, stop)) return QERR_IO;
    /* Served, and the router thread does not touch `cut` until the next
     * ask, which only this (one) asker makes. */
    if (r->cut_err != QERR_OK) return r->cut_err;
    *buf = r->cut;
    *len = r->cut_len;
    r->cut = NULL;
    r->cut_len = 0;
    return QERR_OK;
}

qerr_t router_groups_load(router_t *r, const char *path, uint64_t *loaded, char *errbuf,
                          size_t errlen)
{
    *loaded = 0;
    return r->notifier
               ? notifier_load_groups(r->notifier, path, clock_wall_ms(), loaded, errbuf, errlen)
               : QERR_OK;
}

void router_groups_firing(router_t *r, void (*fn)(void *ctx, const incident_t *inc), void *ctx)
{
    if (r->notifier) notifier_foreach_firing(r->notifier, fn, ctx);
}

const routing_t *router_routing(const router_t *r) { return r->routing; }

void router_follow(router_t *r, routing_live_t *live) { r->live = live; }

void router_set_seen(router_t *r, router_seen_fn fn, void *ctx)
{
    if (!r->notifier) return;
    r->notifier_opts.resolve_timeout_ms = r->resolve_timeout_ms;
    r->notifier_opts.seen = fn;
    r->notifier_opts.seen_ctx = ctx;
    notifier_set_resolve(r->notifier, r->resolve_timeout_ms, fn, ctx);
}

void router_drain(router_t *r) { atomic_store_explicit(&r->draining, true, memory_order_release); }

qerr_t router_forward(router_t *r, const alert_t *a, const incident_t *inc, msg_track_t *track)
{
    if (r->routing) return lane_push(r, a, inc, track);
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

void router_poll(router_t *r, int timeout_ms)
{
    if (!r->notifier) {
        rd_kafka_poll(r->rk, timeout_ms);
        return;
    }
    /* Short waits: workers hand incidents over without waking this thread,
     * so a 1 ms poll bounds the latency routing adds. */
    int64_t end = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
    do {
        int64_t now = clock_wall_ms();
        if (r->live) follow_generation(r, now);
        size_t moved = lanes_drain(r, now, LANE_BATCH, NULL);
        /* Draining: what groups hold goes out now, not at their timers
         * (walks every group, so only when something new came in). */
        bool flush = atomic_load_explicit(&r->draining, memory_order_acquire) &&
                     (moved || !r->drain_flushed);
        if (flush) {
            notifier_flush(r->notifier, now);
            r->drain_flushed = true;
        }
        if (r->retired) run_retired(r, now, flush);
        notifier_run(r->notifier, now, moved ? 0 : 1);
        /* After the run: a notification it confirmed is written as sent. */
        groups_cut_serve(r, now);
        rd_kafka_poll(r->rk, 0);
    } while (clock_mono_ns() < end);
}

void router_stats(router_t *r, router_stats_t *out)
{
    out->produced = atomic_load_explicit(&r->produced, memory_order_relaxed);
    out->delivered = atomic_load_explicit(&r->delivered, memory_order_relaxed);
    out->dead_lettered = atomic_load_explicit(&r->dead_lettered, memory_order_relaxed);
    out->retries = atomic_load_explicit(&r->retries, memory_order_relaxed);
    /* From the router's counters, never a notifier: the router thread
     * frees retired notifiers while this runs on another thread. */
    out->routing = r->routing != NULL;
    if (r->routing)
        notifier_counters_read(&r->counters, &out->notify);
    else
        memset(&out->notify, 0, sizeof(out->notify));
}
