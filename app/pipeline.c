/*
 * `quell run`: wires the stages top to bottom and runs them until SIGTERM.
 *
 *   [embedded mock cluster]  only when kafka.brokers is "embedded"
 *   router      one producer + the router thread serving delivery reports
 *   workers     N dedup threads, each with its ring and table
 *   ingest      the consumer, in this (main) thread
 *
 * Shutdown is the reverse and loses nothing: ingest stops polling, waits
 * until every consumed message is decided and delivered, commits and leaves
 * the group; then workers stop (their rings are empty), the router flushes,
 * and the dedup tables are saved to the snapshot file when one is set.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "../dedup/dedup.h"
#include "../ingest/ingest.h"
#include "../router/router.h"
#include "api_v2.h"
#include "app.h"

static _Atomic bool stop_requested;
static _Atomic bool reload_requested;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
}

static void on_sighup(int sig)
{
    (void)sig;
    atomic_store(&reload_requested, true);
}

/* The decision log's view of one worker. */
typedef struct {
    declog_t *declog;
    size_t worker;
} worker_log_t;

static void log_decided(void *ctx, const alert_t *a, const incident_t *inc)
{
    worker_log_t *wl = ctx;
    declog_note(wl->declog, wl->worker, a, inc);
}

static void log_prefetch(void *ctx, uint64_t fp, bool deep)
{
    worker_log_t *wl = ctx;
    declog_prefetch(wl->declog, wl->worker, fp, deep);
}

static void declog_families(void *ctx, mbuf_t *b) { declog_metrics(ctx, b); }

/* Router thread: whether a routed alert occurred again since its group was
 * told, from the decision log (the workers fold repeats, which the router
 * never sees): so a group resolves by time only what stopped occurring. */
static bool seen_in_log(void *ctx, uint64_t fp, int64_t *seen_ms, int64_t *event_ms,
                        int64_t *ends_at_ms)
{
    declog_times_t t;
    if (!declog_latest(ctx, fp, &t) || !t.firing) return false;
    *seen_ms = t.decided_ms; /* the wall clock, as the groups' */
    *event_ms = t.event_ms;
    *ends_at_ms = t.ends_ms;
    return true;
}

/* The rules' metrics, through the ops hooks (scrape threads). */
typedef struct {
    rules_live_t *live;
    rules_reloader_t *reloader;
    inhibit_state_t *inhibit;
} rules_metrics_t;
static void rules_reasons(void *ctx, mbuf_t *b, const char *name)
{
    rules_metrics_t *m = ctx;
    rules_metrics_reasons(m->live, b, name);
}
static void rules_families(void *ctx, mbuf_t *b)
{
    rules_metrics_t *m = ctx;
    rules_metrics_write(m->live, m->reloader, m->inhibit, b);
}

static void log_rule_warning(void *ctx, const char *msg)
{
    (void)ctx;
    log_warn("rules", "%s", msg);
}

#define PROGRESS_INTERVAL_NS (30LL * 1000000000)

/* What every stage counted, summed; read while they run (approximate) or
 * after they stopped (exact, with the table figures). */
typedef struct {
    ingest_stats_t in;
    router_stats_t out;
    uint64_t decisions[DECISION__COUNT];
    uint64_t decided, forwarded, dead_lettered;
    uint64_t last_decision_ns;
    uint64_t tracked, slots, bytes, evictions, expirations;
} totals_t;

/* `stopped`: the workers have stopped, so their tables may be read. */
static void gather_totals(ingest_t *in, dedup_worker_t **workers, size_t n, router_t *router,
                          bool stopped, totals_t *t)
{
    *t = (totals_t){0};
    ingest_stats(in, &t->in);
    router_stats(router, &t->out);
    dedup_worker_stats_t ws;
    dedup_workers_stats_sum(workers, n, &ws);
    memcpy(t->decisions, ws.decisions, sizeof(t->decisions));
    t->last_decision_ns = ws.last_decision_ns;
    for (size_t i = 0; stopped && i < n; i++) {
        dedup_table_stats_t ts;
        dedup_table_stats(dedup_worker_table(workers[i]), &ts);
        t->tracked += ts.tracked;
        t->slots += ts.slots;
        t->bytes += ts.bytes;
        t->evictions += ts.evictions;
        t->expirations += ts.expirations;
    }
    for (int k = 0; k < DECISION__COUNT; k++) {
        t->decided += t->decisions[k];
        if (DECISION_IS_FORWARD(k)) t->forwarded += t->decisions[k];
    }
    for (int k = 0; k < DECODE__COUNT; k++) t->dead_lettered += t->in.decode_errors[k];
}

typedef struct {
    router_t *router;
    dedup_worker_t **workers;
    size_t n_workers;
    _Atomic(ingest_t *) ingest; /* set once the consumer exists */
    _Atomic bool stop;
} router_thread_t;

/* Serves delivery reports and, every 30 s, logs one progress line so an
 * operator sees the pipeline move before metrics exist. */
static void *router_main(void *arg)
{
    router_thread_t *rt = arg;
    int64_t next_progress_ns = clock_mono_ns() + PROGRESS_INTERVAL_NS;
    while (!atomic_load_explicit(&rt->stop, memory_order_acquire)) {
        router_poll(rt->router, 100);
        if (atomic_load(&stop_requested)) router_drain(rt->router);
        ingest_t *in = atomic_load_explicit(&rt->ingest, memory_order_acquire);
        if (!in || clock_mono_ns() < next_progress_ns) continue;
        next_progress_ns += PROGRESS_INTERVAL_NS;
        totals_t t;
        gather_totals(in, rt->workers, rt->n_workers, rt->router, false, &t);
        log_info("core",
                 "progress: alerts_in=%llu decided=%llu forwarded=%llu delivered=%llu "
                 "suppressed=%llu dead_lettered=%llu lost=%llu",
                 (unsigned long long)t.in.alerts, (unsigned long long)t.decided,
                 (unsigned long long)t.forwarded, (unsigned long long)t.out.delivered,
                 (unsigned long long)(t.decided - t.forwarded), (unsigned long long)t.dead_lettered,
                 (unsigned long long)t.in.offsets_skipped);
    }
    return NULL;
}

static qerr_t forward_to_router(void *ctx, const alert_t *a, const incident_t *inc,
                                msg_track_t *track)
{
    return router_forward(ctx, a, inc, track);
}

static qerr_t dead_letter_to_router(void *ctx, const rd_kafka_message_t *m, const char *reason,
                                    const char *detail, msg_track_t *track)
{
    return router_dead_letter(ctx, m, reason, detail, track);
}

/* Starts librdkafka's mock cluster (real Kafka protocol over loopback TCP)
 * and creates the topics. The handle owning it must outlive every client. */
static rd_kafka_mock_cluster_t *embedded_start(const conf_t *c, rd_kafka_t **owner, char *errbuf,
                                               size_t errlen)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(kc, log_kafka_cb);
    rd_kafka_conf_set(kc, "log_level", "3", NULL, 0);
    *owner = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, errlen);
    if (!*owner) return NULL;
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(*owner, 1);
    if (!mc) {
        snprintf(errbuf, errlen, "cannot start the embedded mock cluster");
        return NULL;
    }
    for (size_t i = 0; i < c->kafka.topics.n; i++)
        rd_kafka_mock_topic_create(mc, c->kafka.topics.items[i], c->kafka.embedded_partitions, 1);
    rd_kafka_mock_topic_create(mc, c->kafka.output_topic, c->kafka.embedded_partitions, 1);
    rd_kafka_mock_topic_create(mc, c->kafka.dlq_topic, 1, 1);
    return mc;
}

/* With a `route:`: group notifications per receiver type and their fate. */
static void print_routing_summary(FILE *out, const router_stats_t *rs)
{
    if (!rs->routing) return;
    static const char *const kinds[RECEIVER_KINDS] = {"kafka", "webhook", "pagerduty", "slack",
                                                      "file",  "stdout",  "none"};
    const notifier_stats_t *n = &rs->notify;
    fprintf(out, "  notifications         %llu routed incidents\n", (unsigned long long)n->alerts);
    for (int k = 0; k < RECEIVER_KINDS; k++)
        if (n->notifications[k])
            fprintf(out, "    %-22s%llu (delivered %llu)\n", kinds[k],
                    (unsigned long long)n->notifications[k], (unsigned long long)n->delivered[k]);
    fprintf(out, "    retries %llu, dead-lettered %llu, rate-limited %llu in %llu digests\n",
            (unsigned long long)n->retries, (unsigned long long)n->dead_lettered,
            (unsigned long long)n->rate_limited, (unsigned long long)n->digests);
}

static void print_summary(FILE *out, ingest_t *in, dedup_worker_t **workers, size_t n,
                          router_t *router)
{
    totals_t t;
    gather_totals(in, workers, n, router, true, &t);
    const ingest_stats_t *is = &t.in;
    uint64_t suppressed = t.decided - t.forwarded;
    double secs = is->first_message_ns && t.last_decision_ns > is->first_message_ns
                      ? (double)(t.last_decision_ns - is->first_message_ns) / 1e9
                      : 0;

    fprintf(out, "quell run summary\n");
    fprintf(out, "  messages consumed     %llu\n", (unsigned long long)is->messages);
    if (is->fetch_nudges)
        fprintf(out,
                "  fetch wake-ups        %llu (librdkafka's queue ran dry with more to fetch; "
                "waited %.1f ms)\n",
                (unsigned long long)is->fetch_nudges, (double)is->fetch_wait_ns / 1e6);
    fprintf(out, "  alerts in             %llu\n", (unsigned long long)is->alerts);
    fprintf(out, "  alerts decided        %llu\n", (unsigned long long)t.decided);
    fprintf(out,
            "  incidents out         %llu (new %llu, repeat %llu, resolved %llu; delivered %llu)\n",
            (unsigned long long)t.forwarded, (unsigned long long)t.decisions[DECISION_FORWARD_NEW],
            (unsigned long long)t.decisions[DECISION_FORWARD_REPEAT],
            (unsigned long long)t.decisions[DECISION_FORWARD_RESOLVED],
            (unsigned long long)t.out.delivered);
    fprintf(out, "  suppressed            %llu\n", (unsigned long long)suppressed);
    for (int k = DECISION_SUPPRESS_DUPLICATE; k < DECISION__COUNT; k++)
        fprintf(out, "    %-22s%llu\n", decision_str((decision_kind_t)k),
                (unsigned long long)t.decisions[k]);
    fprintf(out, "  dead-lettered         %llu\n", (unsigned long long)t.dead_lettered);
    for (int k = 1; k < DECODE__COUNT; k++)
        if (is->decode_errors[k])
            fprintf(out, "    %-22s%llu\n", decode_error_str((decode_error_t)k),
                    (unsigned long long)is->decode_errors[k]);
    if (is->offset_gaps)
        fprintf(out, "  LOST (offset gaps)    %llu messages in %llu gaps\n",
                (unsigned long long)is->offsets_skipped, (unsigned long long)is->offset_gaps);
    if (t.decided)
        fprintf(out, "  noise reduction       %.1f%% suppressed (%.1f alerts per incident)\n",
                100.0 * (double)suppressed / (double)t.decided,
                t.forwarded ? (double)t.decided / (double)t.forwarded : 0.0);
    /* Cost per slot, not per fingerprint still tracked: the table keeps the
     * slots it grew to after incidents expire. */
    fprintf(out,
            "  tracked fingerprints  %llu (table %.1f MiB, %.1f bytes per slot; %llu expired, "
            "%llu evicted)\n",
            (unsigned long long)t.tracked, (double)t.bytes / (1024.0 * 1024.0),
            t.slots ? (double)t.bytes / (double)t.slots : 0.0, (unsigned long long)t.expirations,
            (unsigned long long)t.evictions);
    print_routing_summary(out, &t.out);
    if (secs > 0)
        fprintf(out,
                "  throughput            %.0f alerts/s (first message to last decision, %.3f s)\n",
                (double)t.decided / secs, secs);
    static decision_latency_t lat; /* ~24 KiB: not on the stack */
    decision_latency_init(&lat);
    for (size_t i = 0; i < n; i++) decision_latency_merge(&lat, dedup_worker_latency(workers[i]));
    /* A storm replayed with its original event times as Kafka timestamps
     * (quell load, quell gen) measures their age, not quell: say so rather
     * than print months as a latency. */
    const hist_t *d = &lat.decided;
    if (stat_get(&d->count) && hist_quantile(d, 0.5) > 3600ULL * 1000000000)
        fprintf(out,
                "  decision latency      n/a (Kafka timestamps are %.1f days old: replayed "
                "event times, not send times)\n",
                (double)hist_quantile(d, 0.5) / 86400e9);
    else if (stat_get(&d->count)) {
        fprintf(out,
                "  decision latency      p50 %.3f ms, p99 %.3f ms, max %.3f ms (Kafka timestamp "
                "to decided)\n",
                (double)hist_quantile(d, 0.5) / 1e6, (double)hist_quantile(d, 0.99) / 1e6,
                (double)stat_get(&d->max_ns) / 1e6);
        /* The split at the moment quell took the message: which side of it
         * the tail is on. Quantiles of each share, so they need not add. */
        const hist_t *c = &lat.consumed, *q = &lat.in_quell;
        fprintf(out,
                "    to consumed         p50 %.3f ms, p99 %.3f ms, max %.3f ms (Kafka timestamp "
                "to taken from librdkafka: producer, broker, fetch)\n",
                (double)hist_quantile(c, 0.5) / 1e6, (double)hist_quantile(c, 0.99) / 1e6,
                (double)stat_get(&c->max_ns) / 1e6);
        fprintf(out,
                "    consumed to decided p50 %.3f ms, p99 %.3f ms, max %.3f ms (in quell: decode, "
                "rings, wake-up, rules)\n",
                (double)hist_quantile(q, 0.5) / 1e6, (double)hist_quantile(q, 0.99) / 1e6,
                (double)stat_get(&q->max_ns) / 1e6);
    }
    fflush(out);
}

/* Puts every worker on the shared store when store.url is not "memory".
 * *shared tells the caller which it is. */
static qerr_t store_setup(const conf_t *conf, const dedup_params_t *params,
                          dedup_worker_t **workers, size_t n, bool *shared, store_conf_t *out,
                          char *errbuf, size_t errlen)
{
    store_conf_t sc = {.prefix = conf->store.prefix,
                       .timeout_ms = conf->store.timeout_ms,
                       .on_error = (store_on_error_t)conf->store.on_error,
                       .lease_ms = conf->store.lease_ms,
                       .ttl_ms = store_ttl_ms(params, conf->store.lease_ms),
                       .cache_ms = conf->store.cache_ms,
                       .batch = conf->store.batch,
                       .cache_entries = conf->store.cache_entries};
    qerr_t err = store_conf_connection(conf, &sc, &(bool){false}, errbuf, errlen);
    if (err != QERR_OK) return err;
    *shared = strcmp(conf->store.url, "memory") != 0;
    if (!*shared) return QERR_OK;
    if (strlen(conf->store.prefix) > 100) {
        snprintf(errbuf, errlen, "store.prefix: longer than 100 bytes");
        return QERR_INVALID;
    }
    /* Identifies this process's pending forwards: a restart is another
     * instance, so what the old one left pending is taken over. */
    uint64_t me = 0;
    while (me == 0)
        if (getrandom(&me, sizeof(me), 0) != sizeof(me)) me = (uint64_t)clock_mono_ns();
    for (size_t i = 0; i < n; i++)
        if (dedup_worker_use_store(workers[i], &sc, me) != QERR_OK) {
            snprintf(errbuf, errlen, "cannot allocate the store for dedup worker %zu", i);
            return QERR_NOMEM;
        }
    char where[300];
    log_info("store", "shared windows in redis %s db %d%s, prefix \"%s\", instance %016llx",
             store_conf_where(&sc, where, sizeof(where)), sc.db, sc.password[0] ? " (AUTH)" : "",
             sc.prefix, (unsigned long long)me);
    *out = sc;
    return QERR_OK;
}

static void print_store_summary(FILE *out, dedup_worker_t **workers, size_t n)
{
    dedup_worker_stats_t t;
    dedup_workers_stats_sum(workers, n, &t);
    uint64_t decided = 0;
    for (int k = 0; k < DECISION__COUNT; k++) decided += t.decisions[k];
    fprintf(out, "  store round trips     %llu (%.4f per alert)\n",
            (unsigned long long)t.store_round_trips,
            decided ? (double)t.store_round_trips / (double)decided : 0.0);
    fprintf(out, "  store cache hits      %llu\n", (unsigned long long)t.store_local);
    fprintf(out, "  store degraded        %llu\n", (unsigned long long)t.store_degraded);
    fprintf(out, "  store conflicts       %llu\n", (unsigned long long)t.store_conflicts);
    fprintf(out, "  store parked          %llu\n", (unsigned long long)t.store_parked);
    fprintf(out, "  store takeovers       %llu\n", (unsigned long long)t.store_takeovers);
    fprintf(out, "  store reseeded        %llu\n", (unsigned long long)t.store_reseeded);
    fflush(out);
}

/* The HTTP side (metrics, health, intake, top); NULL on error. */
static ops_t *ops_for(const conf_t *conf, const char *brokers, ingest_t *in,
                      dedup_worker_t **workers, size_t n_workers, router_t *router,
                      const dedup_fp_conf_t *fp, api_v2_t *api, char *errbuf, size_t errlen)
{
    ops_stages_t st = {conf, brokers, in, workers, n_workers, router, fp, api_v2_routes, api};
    return ops_start(&st, errbuf, errlen);
}

/* Routing groups are kept beside the dedup snapshot ("FILE.groups"), so a
 * restart does not page open groups again and still resolves them; no
 * snapshot file, no state. Written with every periodic snapshot (see
 * snapshots_start) and at a clean stop. */
static bool groups_path(const conf_t *conf, char *out, size_t cap)
{
    if (!conf->route || !conf->dedup.snapshot_file || !*conf->dedup.snapshot_file) return false;
    snprintf(out, cap, "%s.groups", conf->dedup.snapshot_file);
    return true;
}

/* The firing alerts of the restored groups, as dedup entries. */
typedef struct {
    dedup_entry_t *v;
    size_t n, cap;
    bool oom;
} group_firing_t;

static void keep_firing(void *ctx, const incident_t *inc)
{
    group_firing_t *gf = ctx;
    if (gf->n == gf->cap) {
        size_t cap = gf->cap ? gf->cap * 2 : 64;
        dedup_entry_t *v = realloc(gf->v, cap * sizeof(*v));
        if (!v) {
            gf->oom = true;
            return;
        }
        gf->v = v;
        gf->cap = cap;
    }
    gf->v[gf->n++] = (dedup_entry_t){.fingerprint = inc->fingerprint,
                                     .first_seen_ms = inc->first_seen_ms,
                                     .last_seen_ms = inc->last_seen_ms,
                                     .last_forward_ms = inc->last_seen_ms,
                                     .count = inc->count};
}

static bool groups_restore(const conf_t *conf, router_t *router, group_firing_t *firing,
                           char *errbuf, size_t errlen)
{
    char path[4096];
    uint64_t loaded = 0;
    if (!groups_path(conf, path, sizeof(path))) return true;
    if (router_groups_load(router, path, &loaded, errbuf, errlen) != QERR_OK) return false;
    if (loaded)
        log_info("router", "restored %llu open groups from %s", (unsigned long long)loaded, path);
    router_groups_firing(router, keep_firing, firing);
    if (firing->oom) {
        snprintf(errbuf, errlen, "out of memory reading the restored groups");
        return false;
    }
    return true;
}

/* The groups file is cut after the table copies (dedup/snapshot.c), so it
 * can hold a firing alert the table file does not: one decided between the
 * copy and the cut whose offset was committed. Left out of the table, its
 * resolve would be suppressed as resolved_no_incident and its group would
 * never send its resolved notification. So the groups' firing alerts go
 * into the tables first, and the table file, loaded next, overwrites the
 * ones it has (its state is the dedup's own). */
static qerr_t groups_firing_to_tables(group_firing_t *firing, dedup_table_t **tables,
                                      size_t n_workers)
{
    qerr_t err = QERR_OK;
    for (size_t i = 0; i < firing->n && err == QERR_OK; i++)
        err = dedup_table_restore(tables[dedup_shard(firing->v[i].fingerprint, n_workers)],
                                  &firing->v[i]);
    if (firing->n)
        log_info("dedup", "%zu firing alerts of the restored groups kept open", firing->n);
    free(firing->v);
    *firing = (group_firing_t){0};
    return err;
}

/* After the router thread stopped, before the dedup snapshot (the order
 * the periodic write keeps too: groups newer than the table are reconciled
 * at start, see groups_firing_to_tables; the reverse would lose a resolved
 * notification). Only after a complete drain, like the dedup snapshot:
 * else the periodic groups file stays, paired with the periodic table
 * file left in place. */
static bool groups_keep(const conf_t *conf, router_t *router, qerr_t drain)
{
    char path[4096], errbuf[512];
    if (!groups_path(conf, path, sizeof(path))) return true;
    if (drain != QERR_OK) {
        log_warn("router", "drain incomplete: group state not saved");
        return false;
    }
    if (router_groups_save(router, path, errbuf, sizeof(errbuf)) != QERR_OK) {
        log_error("router", "%s", errbuf);
        return false;
    }
    return true;
}

/* A route's dedup_window, for the workers (memory store): the window of
 * the first route the alert goes to in the current routing generation,
 * when it sets one, at most keep_ms (what the tables keep, fixed at
 * start). Worker threads: one acquire load, no lock; generations are kept
 * until exit (router/route_live.c). */
typedef struct {
    routing_live_t *live;
    int64_t keep_ms;
} route_windows_t;

static int64_t route_window(void *ctx, const alert_t *a)
{
    const route_windows_t *w = ctx;
    return routing_dedup_window_ms(routing_live_current(w->live)->routing, a, w->keep_ms);
}

/* Whether the workers ask the routing for a window: with routing and the
 * memory store (the Redis store decides with dedup.window: said once).
 * *keep_ms gets what the tables keep: the longest window at start. */
static bool route_windows(const conf_t *conf, const routing_t *rt, int64_t *keep_ms)
{
    int64_t longest = routing_max_dedup_window_ms(rt);
    if (!rt) return false;
    if (strcmp(conf->store.url, "memory") != 0) {
        if (longest)
            log_warn("dedup", "a route's dedup_window is not applied with the Redis store: "
                              "dedup.window decides every fingerprint");
        return false;
    }
    *keep_ms = longest > conf->dedup.window_ms ? longest : conf->dedup.window_ms;
    return true;
}

/* ---- reload of the routing sections (reload thread) ---------------------- */

typedef struct {
    routing_live_t *live;
    int64_t keep_ms; /* route_windows_t's: longer route windows are cut to it */
    bool windows;
} routing_reload_t;

typedef struct {
    routing_t *rt;
    void *view;
} routing_next_t;

static qerr_t routing_prepare(void *ctx, const conf_t *c, void **out, char *errbuf, size_t errlen)
{
    routing_reload_t *rr = ctx;
    routing_t *rt = NULL;
    qerr_t rc = routing_compile(c, &rt, errbuf, errlen);
    if (rc != QERR_OK) return rc;
    bool had = routing_live_current(rr->live)->routing != NULL;
    if (!rt != !had) {
        /* The router forwards to Kafka or to the notifier from how it
         * started; switching needs a restart. */
        snprintf(errbuf, errlen, "%s: `route:` %s: that needs a restart", c->path,
                 had ? "removed" : "added");
        routing_destroy(rt);
        return QERR_INVALID;
    }
    routing_next_t *next = calloc(1, sizeof *next);
    void *view = api_v2_view_new(c);
    if (!next || !view) {
        free(next);
        api_v2_view_free(view);
        routing_destroy(rt);
        snprintf(errbuf, errlen, "out of memory reloading the routing");
        return QERR_NOMEM;
    }
    int64_t longest = routing_max_dedup_window_ms(rt);
    if (rr->windows && longest > rr->keep_ms)
        log_warn("router",
                 "a route's dedup_window (%lld ms) is longer than the longest at start "
                 "(%lld ms): it is cut to that until a restart",
                 (long long)longest, (long long)rr->keep_ms);
    *next = (routing_next_t){rt, view};
    *out = next;
    return QERR_OK;
}

static void routing_commit(void *ctx, void *prepared)
{
    routing_reload_t *rr = ctx;
    routing_next_t *next = prepared;
    uint64_t gen = 0;
    if (routing_live_publish(rr->live, next->rt, next->view, &gen) != QERR_OK) {
        log_error("router", "out of memory publishing the reloaded routing; the previous stays");
        routing_destroy(next->rt);
        api_v2_view_free(next->view);
    } else {
        log_info("router", "routing generation %llu published", (unsigned long long)gen);
    }
    free(next);
}

static uint64_t barrier_request(void *ctx) { return ingest_barrier_request(ctx); }
static bool barrier_passed(void *ctx, uint64_t t) { return ingest_barrier_passed(ctx, t); }
static uint64_t mark_request(void *ctx) { return ingest_mark_request(ctx); }
static bool mark_taken(void *ctx, uint64_t t) { return ingest_mark_taken(ctx, t); }
static void mark_publish(void *ctx, uint64_t t) { ingest_mark_publish(ctx, t); }

/* The routing groups for a periodic snapshot: the router thread writes
 * them into memory between two polls (router_groups_snapshot); 5 s is
 * many polls, so a miss means a router thread stuck, not busy. */
static qerr_t groups_cut(void *ctx, char **buf, size_t *len, const _Atomic bool *stop)
{
    return router_groups_snapshot(ctx, buf, len, 5000, stop);
}

/* Memory store with a snapshot file: written every snapshot_interval too
 * (dedup/snapshot.c), with the routing groups beside it (FILE.groups), so
 * kill -9 re-pages only what opened since and loses no group. The
 * consumer then commits only what a written snapshot covers
 * (ingest_hold_commits). */
static snapshot_writer_t *snapshots_start(const conf_t *conf, bool shared_store, ingest_t *in,
                                          dedup_worker_t **workers, size_t n_workers,
                                          inhibit_state_t *inhibit, router_t *router)
{
    char errbuf[256], gpath[4096];
    if (shared_store || !conf->dedup.snapshot_file || !*conf->dedup.snapshot_file ||
        conf->dedup.snapshot_interval_ms <= 0)
        return NULL;
    snapshot_consumer_t c = {barrier_request, barrier_passed, mark_request,
                             mark_taken,      mark_publish,   in};
    /* With routing every forward goes to a group, and the groups file
     * carries what is not delivered: no delivery barrier (snapshot.c). */
    snapshot_beside_t groups = {".groups", groups_cut, router, true};
    snapshot_writer_t *s =
        snapshot_writer_start(conf->dedup.snapshot_file, workers, n_workers, inhibit,
                              groups_path(conf, gpath, sizeof gpath) ? &groups : NULL,
                              conf->dedup.snapshot_interval_ms, &c, errbuf, sizeof(errbuf));
    if (!s)
        log_warn("dedup", "%s: the snapshot is written at a clean stop only", errbuf);
    else
        ingest_hold_commits(in);
    return s;
}

static void snapshots_stop(snapshot_writer_t *s)
{
    if (!s) return;
    snapshot_writer_stats_t st;
    snapshot_writer_stats(s, &st);
    snapshot_writer_stop(s);
    log_info("dedup", "periodic snapshots: %llu written, %llu not", (unsigned long long)st.writes,
             (unsigned long long)st.failures);
}

int pipeline_run(conf_t *conf, const char *brokers_override)
{
    int rc = 1;
    char errbuf[512] = "";
    rd_kafka_t *mock_owner = NULL;
    rd_kafka_mock_cluster_t *mock = NULL;
    router_t *router = NULL;
    ingest_t *in = NULL;
    ops_t *ops = NULL;
    /* Before any thread starts: they inherit it (core/sched.c). */
    if (conf->sched_slice_us > 0 &&
        sched_slice_set((unsigned)conf->sched_slice_us, errbuf, sizeof errbuf) != QERR_OK)
        log_warn("pipeline", "scheduler slice of %d us not set: %s", conf->sched_slice_us, errbuf);
    size_t n_workers =
        conf->workers > 0 ? (size_t)conf->workers : (size_t)sysconf(_SC_NPROCESSORS_ONLN) / 2;
    if (n_workers < 1) n_workers = 1;
    size_t n_lanes = conf->ingest.threads > 0 ? (size_t)conf->ingest.threads
                                              : (size_t)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_lanes < 1) n_lanes = 1;
    if (n_lanes > DEDUP_MAX_INPUTS) n_lanes = DEDUP_MAX_INPUTS;
    dedup_worker_t **workers = calloc(n_workers, sizeof(*workers));
    ring_t **rings = calloc(n_workers * n_lanes, sizeof(*rings));
    dedup_table_t **tables = calloc(n_workers, sizeof(*tables));
    router_thread_t rt = {0};
    pthread_t router_thread;
    bool router_started = false;
    bool shared_store = false;
    size_t started = 0;
    ruleset_t *rules = NULL;
    rules_live_t *live = NULL;
    fp_grouping_t *grouping = NULL;
    rules_reloader_t *reloader = NULL;
    inhibit_state_t *inhibit = NULL;
    inhibit_sync_t *isync = NULL;
    snapshot_writer_t *snapshots = NULL;
    routing_live_t *routing_live = NULL; /* routing generations (reloads) */
    route_windows_t windows = {0};       /* routes' dedup_window, for the workers */
    bool use_windows = false;
    decider_t **deciders = calloc(n_workers, sizeof(*deciders));
    silencer_t *silencer = NULL;
    declog_t *declog = NULL;
    api_v2_t *api = NULL;
    worker_log_t *wlogs = calloc(n_workers, sizeof(*wlogs));
    group_firing_t firing = {0}; /* restored groups' alerts, for the tables */

    /* Rules first: an invalid rule file stops the start before any
     * connection is made. */
    if (ruleset_compile(conf, log_rule_warning, NULL, &rules, errbuf, sizeof(errbuf)) != QERR_OK)
        goto out;
    live = rules_live_new(rules, n_workers);
    inhibit = inhibit_state_new(65536);
    if (!live || !inhibit || !deciders || !wlogs) {
        ruleset_destroy(live ? NULL : rules);
        snprintf(errbuf, sizeof(errbuf), "cannot allocate the rule set");
        goto out;
    }

    const char *brokers = brokers_override ? brokers_override : conf->kafka.brokers;
    bool embedded = strcmp(brokers, "embedded") == 0;
    if (embedded) {
        mock = embedded_start(conf, &mock_owner, errbuf, sizeof(errbuf));
        if (!mock) goto out;
        brokers = rd_kafka_mock_cluster_bootstraps(mock);
        fprintf(stderr, "embedded kafka: %s\n", brokers);
        fflush(stderr);
    }

    /* The decision log before the router: route groups ask it whether an
     * alert occurred again (global.resolve_timeout). */
    declog_opts_t dlo = {n_workers,
                         conf->decisions.recent,
                         conf->decisions.recent ? conf->decisions.open : 0,
                         conf->dedup.window_ms,
                         conf->decisions.topic,
                         conf,
                         brokers};
    if (!(declog = declog_new(&dlo, errbuf, sizeof(errbuf)))) goto out;
    router = router_new(conf, brokers, errbuf, sizeof(errbuf));
    if (!router) goto out;
    if (conf->decisions.recent)
        router_set_seen(router, seen_in_log, declog);
    else if (router_routing(router))
        log_warn("router", "decisions.recent is 0: route groups cannot tell an alert that "
                           "stopped from one the dedup workers fold, so alerts resolve in "
                           "groups only when a resolve arrives (global.resolve_timeout unused)");
    if (!groups_restore(conf, router, &firing, errbuf, sizeof(errbuf))) goto out;
    routing_live =
        routing_live_new(router_routing(router), api_v2_view_new(conf), api_v2_view_free);
    if (!routing_live || !routing_live_current(routing_live)->view) {
        snprintf(errbuf, sizeof(errbuf), "cannot allocate the routing generations");
        goto out;
    }
    router_follow(router, routing_live);
    rt.router = router;
    rt.workers = workers;
    rt.n_workers = n_workers;
    if (pthread_create(&router_thread, NULL, router_main, &rt) != 0) goto out;
    pthread_setname_np(router_thread, "quell-router");
    router_started = true;

    dedup_params_t params = {conf->dedup.window_ms, conf->dedup.repeat_interval_ms};
    windows.live = routing_live;
    use_windows = route_windows(conf, router_routing(router), &windows.keep_ms);
    size_t per_worker = (conf->dedup.max_fingerprints + n_workers - 1) / n_workers;
    for (size_t i = 0; i < n_workers; i++) {
        workers[i] =
            dedup_worker_new(&params, per_worker, conf->ring_bytes, forward_to_router, router);
        if (!workers[i]) {
            snprintf(errbuf, sizeof(errbuf), "cannot allocate dedup worker %zu", i);
            goto out;
        }
        rings[i] = dedup_worker_ring(workers[i]);
        for (size_t l = 1; l < n_lanes; l++)
            if (!(rings[l * n_workers + i] = dedup_worker_add_ring(workers[i], conf->ring_bytes))) {
                snprintf(errbuf, sizeof(errbuf), "cannot allocate dedup worker %zu's rings", i);
                goto out;
            }
        tables[i] = dedup_worker_table(workers[i]);
        decider_opts_t dopts = {
            .dedup = params,
            .fingerprint_covers_labels = conf->dedup.fingerprint_labels.n == 0 &&
                                         conf->dedup.ignore_labels.n == 0 && !conf->grouping,
            .cache_entries = 65536,
            .noise_entries = per_worker * 2,
        };
        deciders[i] = decider_new(&dopts, tables[i], inhibit);
        if (!deciders[i]) {
            snprintf(errbuf, sizeof(errbuf), "cannot allocate decider %zu", i);
            goto out;
        }
        decider_silence_wall_clock(deciders[i], true); /* like Alertmanager */
        if (use_windows) {
            decider_set_window(deciders[i], route_window, &windows);
            dedup_table_set_keep(tables[i], windows.keep_ms);
        }
        dedup_worker_use_rules(workers[i], live, deciders[i], i);
        wlogs[i] = (worker_log_t){declog, i};
        if (declog_on(declog))
            dedup_worker_set_decided_hook(workers[i], log_decided, log_prefetch, &wlogs[i]);
    }
    store_conf_t store_conf;
    if (store_setup(conf, &params, workers, n_workers, &shared_store, &store_conf, errbuf,
                    sizeof(errbuf)) != QERR_OK)
        goto out;
    if (conf->dedup.snapshot_file && *conf->dedup.snapshot_file) {
        uint64_t loaded = 0;
        if (!shared_store && groups_firing_to_tables(&firing, tables, n_workers) != QERR_OK) {
            snprintf(errbuf, sizeof(errbuf), "out of memory restoring the groups' alerts");
            goto out;
        }
        if (dedup_snapshot_load(conf->dedup.snapshot_file, tables, n_workers, &loaded, errbuf,
                                sizeof(errbuf)) != QERR_OK)
            goto out;
        log_info("dedup", "restored %llu open incidents from %s", (unsigned long long)loaded,
                 conf->dedup.snapshot_file);
        /* Inhibitors before the first target is decided. */
        char ipath[4096];
        snprintf(ipath, sizeof(ipath), "%s.inhibit", conf->dedup.snapshot_file);
        if (inhibit_state_load(inhibit, ipath, &loaded, errbuf, sizeof(errbuf)) != QERR_OK)
            goto out;
        if (loaded)
            log_info("rules", "restored %llu firing inhibition sources from %s",
                     (unsigned long long)loaded, ipath);
    }
    if (shared_store) {
        /* Firing inhibitors of every instance, read before the first
         * target is decided (after a crash too), then kept in step. */
        isync = inhibit_sync_new(inhibit, &store_conf, 50, conf->store.cache_ms);
        if (!isync) {
            snprintf(errbuf, sizeof(errbuf), "cannot allocate the inhibition sync");
            goto out;
        }
        if (inhibit_sync_now(isync) != QERR_OK)
            log_warn("rules", "firing inhibitors not read from redis yet: targets are decided on "
                              "what this instance knows until it answers");
        if (inhibit_sync_run(isync) != QERR_OK) {
            snprintf(errbuf, sizeof(errbuf), "cannot start the inhibition sync thread");
            goto out;
        }
    }
    /* Silences before the first alert is decided: a restart (or another
     * instance) never lets through what a silence covers. */
    char spath[4096] = "";
    if (conf->silences.file && *conf->silences.file)
        snprintf(spath, sizeof spath, "%s", conf->silences.file);
    else if (conf->dedup.snapshot_file && *conf->dedup.snapshot_file)
        snprintf(spath, sizeof spath, "%s.silences", conf->dedup.snapshot_file);
    silencer_opts_t so = {.file = spath,
                          .redis = shared_store ? &store_conf : NULL,
                          .retention_ms = conf->silences.retention_ms,
                          .poll_ms = conf->store.cache_ms / 2,
                          .live = live};
    if (!(silencer = silencer_new(&so, errbuf, sizeof(errbuf))) ||
        silencer_run(silencer) != QERR_OK)
        goto out;
    api = api_v2_new(&(api_v2_opts_t){conf, silencer, declog, live, routing_live});
    if (!api) {
        snprintf(errbuf, sizeof(errbuf), "cannot allocate the API");
        goto out;
    }
    for (; started < n_workers; started++)
        if (dedup_worker_start(workers[started]) != QERR_OK) goto out;

    ingest_opts_t io = {
        .conf = conf,
        .brokers = brokers,
        .embedded = embedded,
        .rings = rings,
        .n_rings = n_workers,
        .n_lanes = n_lanes,
        .dead_letter = dead_letter_to_router,
        .dead_letter_ctx = router,
    };
    dedup_fp_conf_init(&io.fingerprint, conf->dedup.fingerprint, &conf->dedup.fingerprint_labels,
                       &conf->dedup.ignore_labels);
    if (fp_grouping_compile(conf, NULL, NULL, &grouping, errbuf, sizeof(errbuf)) != QERR_OK)
        goto out;
    fp_grouping_attach(grouping, &io.fingerprint);
    in = ingest_new(&io, errbuf, sizeof(errbuf));
    if (!in) goto out;
    atomic_store_explicit(&rt.ingest, in, memory_order_release);
    snapshots = snapshots_start(conf, shared_store, in, workers, n_workers, inhibit, router);
    ops = ops_for(conf, brokers, in, workers, n_workers, router, &io.fingerprint, api, errbuf,
                  sizeof(errbuf));
    if (!ops) goto out;

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    routing_reload_t routing_reload = {routing_live, windows.keep_ms, use_windows};
    reload_hook_t routing_hook = {routing_prepare, routing_commit, &routing_reload};
    struct sigaction hup = {0};
    hup.sa_handler = on_sighup;
    sigaction(SIGHUP, &hup, NULL);
    if (conf->path && *conf->path) {
        reloader = rules_reloader_start(live, conf->path, 1000, &reload_requested, &routing_hook);
        if (!reloader) log_warn("rules", "no reload thread: rules and routing stay as loaded");
    }
    rules_metrics_t rmetrics = {live, reloader, inhibit};
    ops_set_decision_reasons(ops, rules_reasons, &rmetrics);
    ops_add_metrics(ops, rules_families, &rmetrics);
    ops_add_metrics(ops, declog_families, declog);
    log_info("core", "running: %zu workers, brokers %s, group %s", n_workers, brokers,
             conf->kafka.group_id);

    qerr_t err = ingest_run(in, &stop_requested);
    /* Commits held to the snapshots: the rest is committed once the state
     * that covers it is saved, below (a restart would otherwise read again
     * what the saved state already holds, and a resolve read again before
     * its firing opens the incident anew). Not held, or not drained: now. */
    bool commits_held = snapshots != NULL && err == QERR_OK;
    if (!commits_held) ingest_close(in, false);
    snapshots_stop(snapshots); /* before the workers: it waits on them */
    snapshots = NULL;
    ops_stop(ops); /* no new intake while the rest stops */
    ops = NULL;
    for (size_t i = 0; i < started; i++) dedup_worker_stop(workers[i]);
    started = 0;
    atomic_store(&rt.stop, true);
    pthread_join(router_thread, NULL);
    router_started = false;
    bool saved = groups_keep(conf, router, err);
    if (conf->dedup.snapshot_file && *conf->dedup.snapshot_file) {
        if (err != QERR_OK) {
            log_warn("dedup", "drain incomplete: snapshot not saved, so nothing stale is restored");
        } else if (!saved) {
            log_warn("dedup", "group state not saved: snapshot not saved either (the pair stays)");
        } else if (dedup_snapshot_save(conf->dedup.snapshot_file, tables, n_workers, errbuf,
                                       sizeof(errbuf)) != QERR_OK) {
            log_error("dedup", "snapshot not saved: %s", errbuf);
            saved = false;
        }
        char ipath[4096];
        snprintf(ipath, sizeof(ipath), "%s.inhibit", conf->dedup.snapshot_file);
        if (saved && err == QERR_OK &&
            inhibit_state_save(inhibit, ipath, errbuf, sizeof(errbuf)) != QERR_OK) {
            log_error("rules", "inhibition state not saved: %s", errbuf);
            saved = false;
        }
    }
    /* Everything finished is in the saved state: commit it all. If a save
     * failed, only up to the last periodic snapshot's mark. */
    if (commits_held) ingest_close(in, saved);
    errbuf[0] = '\0';
    print_summary(stdout, in, workers, n_workers, router);
    if (shared_store) print_store_summary(stdout, workers, n_workers);
    rc = err == QERR_OK ? 0 : 1;

out:
    if (errbuf[0]) log_error("core", "%s", errbuf);
    snapshots_stop(snapshots);
    ops_stop(ops);
    /* The router thread reads the consumer's and workers' counters: it
     * stops first. */
    if (router_started) {
        atomic_store(&rt.stop, true);
        pthread_join(router_thread, NULL);
    }
    if (in) ingest_destroy(in);
    for (size_t i = 0; i < started; i++) dedup_worker_stop(workers[i]);
    rules_reloader_stop(reloader); /* before the routing generations: it publishes them */
    router_destroy(router, 10000);
    silencer_destroy(silencer);
    for (size_t i = 0; i < n_workers; i++) dedup_worker_destroy(workers[i]);
    declog_destroy(declog);
    api_v2_destroy(api);
    free(wlogs);
    for (size_t i = 0; deciders && i < n_workers; i++) decider_destroy(deciders[i]);
    free(deciders);

    rules_live_destroy(live);
    /* After the router, workers, API and reloader: all read it. The first
     * generation's tree was the router's (freed with it, unread since). */
    routing_live_destroy(routing_live);
    inhibit_sync_destroy(isync); /* after the workers: pushes their last changes */
    inhibit_state_destroy(inhibit);
    fp_grouping_destroy(grouping); /* after ingest and ops: their fingerprints use it */
    free(firing.v);
    free(workers);
    free(rings);
    free(tables);
    if (mock) rd_kafka_mock_cluster_destroy(mock);
    if (mock_owner) rd_kafka_destroy(mock_owner);
    return rc;
}
