/*
 * The operator's endpoints of a running quell (see ops.h).
 *
 * /metrics reads only what the stages publish for other threads: per-thread
 * counters (summed here), the table figures each worker publishes, ring
 * indices, the consumer's lag copy. It never reads a table or a sketch a
 * worker owns; /api/v1/top asks each worker for a copy of its sketch and
 * merges the copies.
 *
 * Cardinality: every label set is bounded by code (decisions, reasons,
 * formats, workers, partitions), never by alert content. Rule names will
 * become `reason` values ("excluded:<rule>"): bounded by the config.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <stddef.h>

#include "app.h"

struct ops {
    ops_stages_t st;
    http_server_t *http;
    intake_t *intake;
    char *token;
    int64_t started_ms;
    struct {
        ops_metrics_fn fn;
        void *ctx;
    } extra[8];
    _Atomic size_t n_extra;
    _Atomic(ops_reasons_fn) reasons;
    void *_Atomic reasons_ctx;
    /* Shared store: a connection of its own for the readiness probe, used
     * by one HTTP thread at a time. */
    store_conf_t store_conf;
    store_probe_t *store;
};

qerr_t ops_set_decision_reasons(ops_t *o, ops_reasons_fn fn, void *ctx)
{
    atomic_store_explicit(&o->reasons_ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&o->reasons, fn, memory_order_release);
    return QERR_OK;
}

qerr_t ops_add_metrics(ops_t *o, ops_metrics_fn fn, void *ctx)
{
    size_t n = atomic_load_explicit(&o->n_extra, memory_order_relaxed);
    if (n == sizeof(o->extra) / sizeof(o->extra[0])) return QERR_INVALID;
    o->extra[n].fn = fn;
    o->extra[n].ctx = ctx;
    atomic_store_explicit(&o->n_extra, n + 1, memory_order_release);
    return QERR_OK;
}

/* ---- /metrics --------------------------------------------------------- */

static void decisions_metrics(ops_t *o, mbuf_t *b)
{
    dedup_worker_stats_t st;
    dedup_workers_stats_sum(o->st.workers, o->st.n_workers, &st);
    const uint64_t *d = st.decisions;
    uint64_t tracked = st.tracked, evictions = st.evictions;
    /* ~24 KiB, and scrapes may run concurrently */
    decision_latency_t *lat = calloc(1, sizeof(*lat));
    for (size_t i = 0; lat && i < o->st.n_workers; i++)
        decision_latency_merge(lat, dedup_worker_latency(o->st.workers[i]));
    metrics_family(b, "quell_decisions_total", "counter",
                   "Alerts decided, by decision (forward, suppress) and reason.");
    ops_reasons_fn reasons = atomic_load_explicit(&o->reasons, memory_order_acquire);
    for (int k = 0; k < DECISION__COUNT; k++) {
        if (reasons && (k == DECISION_SUPPRESS_EXCLUDED || k == DECISION_SUPPRESS_INHIBITED))
            continue; /* per rule below */
        metrics_sample(b, "quell_decisions_total", (double)d[k], 2, "decision",
                       DECISION_IS_FORWARD(k) ? "forward" : "suppress", "reason",
                       decision_str((decision_kind_t)k));
    }
    if (reasons)
        reasons(atomic_load_explicit(&o->reasons_ctx, memory_order_relaxed), b,
                "quell_decisions_total");
    metrics_family(b, "quell_tracked_fingerprints", "gauge",
                   "Fingerprints held in the dedup tables (open incidents), as the workers last "
                   "published them.");
    metrics_sample(b, "quell_tracked_fingerprints", (double)tracked, 0);
    metrics_family(b, "quell_fingerprint_evictions_total", "counter",
                   "Open incidents dropped because a dedup table was full.");
    metrics_sample(b, "quell_fingerprint_evictions_total", (double)evictions, 0);
    if (lat) {
        metrics_histogram(b, "quell_decision_latency_seconds",
                          "Time from an alert's event time (Kafka timestamp) to its decision.",
                          &lat->decided);
        metrics_histogram(b, "quell_consume_latency_seconds",
                          "Time from an alert's Kafka timestamp to quell taking its message from "
                          "librdkafka: the producer's batching, the broker, the fetch, "
                          "librdkafka's queue (the Kafka path's share of the decision latency).",
                          &lat->consumed);
        metrics_histogram(b, "quell_pipeline_latency_seconds",
                          "Time from quell taking an alert's message from librdkafka to its "
                          "decision: decoding, the rings, a worker's wake-up, the rules (quell's "
                          "share of the decision latency).",
                          &lat->in_quell);
    }
    free(lat);
    static const struct {
        const char *name, *help;
        size_t off;
    } store_counters[] = {
        {"quell_store_round_trips_total", "Round trips to the shared store (Redis).",
         offsetof(dedup_worker_stats_t, store_round_trips)},
        {"quell_store_degraded_total",
         "Alerts decided locally because the shared store failed (store.on_error fail_open).",
         offsetof(dedup_worker_stats_t, store_degraded)},
        {"quell_store_conflicts_total", "Compare-and-sets lost to another instance.",
         offsetof(dedup_worker_stats_t, store_conflicts)},
        {"quell_store_parked_total", "Alerts held while another instance delivered their incident.",
         offsetof(dedup_worker_stats_t, store_parked)},
        {"quell_store_takeovers_total", "Pending forwards of a dead instance re-forwarded.",
         offsetof(dedup_worker_stats_t, store_takeovers)},
        {"quell_store_reseeded_total", "Entries the store had lost, written back from the cache.",
         offsetof(dedup_worker_stats_t, store_reseeded)},
        {"quell_store_cache_hits_total",
         "Alerts decided from the local cache without a round trip.",
         offsetof(dedup_worker_stats_t, store_local)},
    };
    for (size_t i = 0; i < sizeof(store_counters) / sizeof(store_counters[0]); i++) {
        metrics_family(b, store_counters[i].name, "counter", store_counters[i].help);
        metrics_sample(b, store_counters[i].name,
                       (double)*(const uint64_t *)((const char *)&st + store_counters[i].off), 0);
    }
    metrics_family(b, "quell_ring_used_bytes", "gauge", "Bytes waiting in each worker's ring.");
    for (size_t i = 0; i < o->st.n_workers; i++) {
        char w[24];
        snprintf(w, sizeof(w), "%zu", i);
        metrics_sample(b, "quell_ring_used_bytes", (double)dedup_worker_ring_used(o->st.workers[i]),
                       1, "worker", w);
    }
    metrics_family(b, "quell_ring_capacity_bytes", "gauge", "Capacity of each worker's ring.");
    metrics_sample(b, "quell_ring_capacity_bytes", (double)o->st.conf->ring_bytes, 0);
}

static void ingest_metrics(ops_t *o, mbuf_t *b)
{
    ingest_stats_t is;
    ingest_stats(o->st.ingest, &is);
    metrics_family(b, "quell_messages_consumed_total", "counter", "Kafka messages consumed.");
    metrics_sample(b, "quell_messages_consumed_total", (double)is.messages, 0);
    metrics_family(b, "quell_alerts_received_total", "counter",
                   "Alerts decoded and handed to the dedup workers, by source (kafka, or the "
                   "HTTP intake that published them) and format.");
    for (int src = 0; src < INGEST_SOURCE__COUNT; src++) {
        const uint64_t *f = is.alerts_in[src];
        const char *name = ingest_source_str((ingest_source_t)src);
        metrics_sample(b, "quell_alerts_received_total", (double)f[INGEST_FORMAT_JSON], 2, "source",
                       name, "format", "json");
        metrics_sample(b, "quell_alerts_received_total",
                       (double)(f[INGEST_FORMAT_PROTO_ALERT] + f[INGEST_FORMAT_PROTO_BATCH]), 2,
                       "source", name, "format", "protobuf");
    }
    metrics_family(b, "quell_decode_errors_total", "counter",
                   "Messages sent to the dead-letter topic, by reason.");
    for (int k = 1; k < DECODE__COUNT; k++)
        metrics_sample(b, "quell_decode_errors_total", (double)is.decode_errors[k], 1, "reason",
                       decode_error_str((decode_error_t)k));
    metrics_family(b, "quell_messages_lost_total", "counter",
                   "Messages never consumed because of offset gaps (retention, resets).");
    metrics_sample(b, "quell_messages_lost_total", (double)is.offsets_skipped, 0);
    metrics_family(b, "quell_kafka_assigned_partitions", "gauge",
                   "Input partitions this instance consumes now.");
    metrics_sample(b, "quell_kafka_assigned_partitions", (double)is.assigned_partitions, 0);

    enum { MAX_LAG = 1024 };
    ingest_lag_t *lag = malloc(MAX_LAG * sizeof(*lag));
    size_t n = lag ? ingest_lag(o->st.ingest, lag, MAX_LAG) : 0;
    metrics_family(b, "quell_kafka_consumer_lag_messages", "gauge",
                   "Messages behind the partition end, from librdkafka statistics.");
    for (size_t i = 0; i < n; i++) {
        char part[16];
        snprintf(part, sizeof(part), "%d", (int)lag[i].partition);
        metrics_sample(b, "quell_kafka_consumer_lag_messages", (double)lag[i].lag, 2, "topic",
                       lag[i].topic, "partition", part);
    }
    free(lag);
}

/* With a `route:`: group notifications by receiver type and their fate. */
static void routing_metrics(const notifier_stats_t *n, mbuf_t *b)
{
    static const char *const kinds[RECEIVER_KINDS] = {"kafka", "webhook", "pagerduty", "slack",
                                                      "file",  "stdout",  "none"};
    metrics_family(b, "quell_routed_incidents_total", "counter",
                   "Incidents the routing tree took (forwarded decisions, with a route:).");
    metrics_sample(b, "quell_routed_incidents_total", (double)n->alerts, 0);
    metrics_family(b, "quell_notifications_total", "counter",
                   "Group notifications, by receiver type.");
    for (int k = 0; k < RECEIVER_KINDS; k++)
        metrics_sample(b, "quell_notifications_total", (double)n->notifications[k], 1,
                       "receiver_type", kinds[k]);
    metrics_family(b, "quell_notifications_delivered_total", "counter",
                   "Group notifications delivered (HTTP 2xx, written, handed to Kafka).");
    for (int k = 0; k < RECEIVER_KINDS; k++)
        metrics_sample(b, "quell_notifications_delivered_total", (double)n->delivered[k], 1,
                       "receiver_type", kinds[k]);
    metrics_family(b, "quell_notification_retries_total", "counter",
                   "HTTP notification attempts that failed and were retried.");
    metrics_sample(b, "quell_notification_retries_total", (double)n->retries, 0);
    metrics_family(b, "quell_notifications_dead_lettered_total", "counter",
                   "Notifications that could not be delivered: sent to the dead-letter topic.");
    metrics_sample(b, "quell_notifications_dead_lettered_total", (double)n->dead_lettered, 0);
    metrics_family(b, "quell_notifications_rate_limited_total", "counter",
                   "Notifications folded into a rate-limit digest.");
    metrics_sample(b, "quell_notifications_rate_limited_total", (double)n->rate_limited, 0);
    metrics_family(b, "quell_notification_digests_total", "counter", "Rate-limit digests sent.");
    metrics_sample(b, "quell_notification_digests_total", (double)n->digests, 0);
}

static void router_metrics(ops_t *o, mbuf_t *b)
{
    router_stats_t rs;
    router_stats(o->st.router, &rs);
    metrics_family(b, "quell_incidents_forwarded_total", "counter",
                   "Incidents handed to the output producer.");
    metrics_sample(b, "quell_incidents_forwarded_total", (double)rs.produced, 0);
    metrics_family(b, "quell_incidents_delivered_total", "counter",
                   "Incidents acknowledged by the output topic's broker.");
    metrics_sample(b, "quell_incidents_delivered_total", (double)rs.delivered, 0);
    metrics_family(b, "quell_delivery_retries_total", "counter",
                   "Deliveries that failed and were produced again.");
    metrics_sample(b, "quell_delivery_retries_total", (double)rs.retries, 0);
    metrics_family(b, "quell_dead_lettered_total", "counter",
                   "Messages produced to the dead-letter topic.");
    metrics_sample(b, "quell_dead_lettered_total", (double)rs.dead_lettered, 0);
    if (rs.routing) routing_metrics(&rs.notify, b);
}

static void intake_metrics(ops_t *o, mbuf_t *b)
{
    if (!o->intake) return;
    intake_stats_t s;
    intake_stats(o->intake, &s);
    metrics_family(b, "quell_intake_requests_total", "counter",
                   "HTTP intake requests answered, by API and status code.");
    for (int a = 0; a < INTAKE_API__COUNT; a++)
        for (int c = 0; c < INTAKE_CODE__COUNT; c++) {
            if (a == INTAKE_API_ALERTMANAGER && c == INTAKE_CODE_202) continue;
            if (a == INTAKE_API_PAGERDUTY && (c == INTAKE_CODE_200 || c == INTAKE_CODE_422))
                continue;
            char code[8];
            snprintf(code, sizeof(code), "%d", intake_code_value((intake_code_t)c));
            metrics_sample(b, "quell_intake_requests_total", (double)s.requests[a][c], 2, "api",
                           intake_api_str((intake_api_t)a), "code", code);
        }
    metrics_family(b, "quell_intake_alerts_total", "counter",
                   "Alerts the HTTP intake published to the input topic (acknowledged).");
    for (int a = 0; a < INTAKE_API__COUNT; a++)
        metrics_sample(b, "quell_intake_alerts_total", (double)s.alerts[a], 1, "api",
                       intake_api_str((intake_api_t)a));
}

void ops_write_metrics(ops_t *o, mbuf_t *b)
{
    metrics_family(b, "quell_build_info", "gauge", "Version of quell and librdkafka; always 1.");
    metrics_sample(b, "quell_build_info", 1, 2, "version", QUELL_VERSION, "librdkafka",
                   rd_kafka_version_str());
    metrics_family(b, "quell_start_time_seconds", "gauge", "Unix time quell started serving.");
    metrics_sample(b, "quell_start_time_seconds", (double)o->started_ms / 1000.0, 0);
    ingest_metrics(o, b);
    decisions_metrics(o, b);
    router_metrics(o, b);
    intake_metrics(o, b);
    if (o->http) http_server_metrics(o->http, b);
    size_t n_extra = atomic_load_explicit(&o->n_extra, memory_order_acquire);
    for (size_t i = 0; i < n_extra; i++) o->extra[i].fn(o->extra[i].ctx, b);
    metrics_reload_t r;
    metrics_reload_get(&r);
    metrics_family(b, "quell_config_reloads_total", "counter", "Config reloads, by result.");
    metrics_sample(b, "quell_config_reloads_total", (double)r.ok, 1, "result", "success");
    metrics_sample(b, "quell_config_reloads_total", (double)r.failed, 1, "result", "failure");
    metrics_family(b, "quell_config_last_reload_successful", "gauge",
                   "1 when the last config load succeeded.");
    metrics_sample(b, "quell_config_last_reload_successful", r.last_was_ok ? 1 : 0, 0);
    metrics_family(b, "quell_config_last_reload_success_timestamp_seconds", "gauge",
                   "Unix time of the last successful config load (the start counts).");
    metrics_sample(b, "quell_config_last_reload_success_timestamp_seconds",
                   (double)(r.last_ok_ms ? r.last_ok_ms : o->started_ms) / 1000.0, 0);
}

static void on_metrics(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    (void)req;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    ops_write_metrics(ctx, &resp->body);
}

/* ---- readiness -------------------------------------------------------- */

static bool ready_kafka(void *ctx, char *why, size_t len)
{
    ops_t *o = ctx;
    ingest_stats_t is;
    ingest_stats(o->st.ingest, &is);
    if (is.assigned_partitions > 0) return true;
    snprintf(why, len, "no input partition assigned to this consumer");
    return false;
}

/* The memory store is this process: it answers while the process does.
 * Redis must answer a real command (a GET), not merely be connected: a
 * connection can outlive the server. After a failure the connection backs
 * off, so a probe during an outage answers at once. */
static bool ready_store(void *ctx, char *why, size_t len)
{
    ops_t *o = ctx;
    if (!o->store) return true;
    char where[300];
    bool ok = store_probe_ready(o->store);
    if (!ok)
        snprintf(why, len, "redis %s does not answer",
                 store_conf_where(&o->store_conf, where, sizeof(where)));
    return ok;
}

/* ---- /api/v1/top ------------------------------------------------------ */

#define TOP_MAX_BY 8

typedef struct {
    char *key; /* the group's label values joined by \x1f */
    const top_entry_t *e;
    top_counts_t c; /* over the window */
} keyed_t;

typedef struct {
    const char *key;
    uint64_t count, error, suppressed, incidents, flaps, fingerprints;
    int64_t first_seen_ms, last_seen_ms;
} group_t;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const keyed_t *)a)->key, ((const keyed_t *)b)->key);
}

static int cmp_group(const void *a, const void *b)
{
    const group_t *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->key, y->key);
}

static void top_fail(http_resp_t *resp, const char *msg)
{
    resp->status = 400;
    mbuf_printf(&resp->body, "%s\n", msg);
}

static void on_top(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    ops_t *o = ctx;
    const char *by_q = http_req_query(req, "by");
    const char *win_q = http_req_query(req, "window");
    const char *lim_q = http_req_query(req, "limit");
    char by_buf[512];
    snprintf(by_buf, sizeof(by_buf), "%s", by_q && *by_q ? by_q : "alertname");
    const char *by[TOP_MAX_BY];
    size_t n_by = 0;
    for (char *save = NULL, *t = strtok_r(by_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n_by == TOP_MAX_BY) return top_fail(resp, "at most 8 labels in by");
        by[n_by++] = t;
    }
    int64_t window_ms = 3600 * 1000;
    if (win_q && conf_parse_duration_ms(win_q, &window_ms) != QERR_OK)
        return top_fail(resp, "window must be a duration such as 30m or 1h");
    long limit = lim_q ? strtol(lim_q, NULL, 10) : 20;
    if (limit < 1 || limit > 1000) return top_fail(resp, "limit must be 1..1000");

    size_t cap = o->st.n_workers * DEDUP_TOP_K, n = 0;
    top_entry_t *entries = malloc(cap * sizeof(*entries));
    keyed_t *keyed = malloc(cap * sizeof(*keyed));
    group_t *groups = calloc(cap ? cap : 1, sizeof(*groups));
    size_t n_keyed = 0, n_groups = 0;
    if (!entries || !keyed || !groups) {
        resp->status = 500;
        goto out;
    }
    for (size_t i = 0; i < o->st.n_workers; i++)
        n += dedup_worker_top(o->st.workers[i], entries + n, cap - n, 1000);
    int64_t now = clock_wall_ms(), since = now - window_ms;
    bool windowed = true;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].last_seen_ms < since) continue;
        top_counts_t c;
        top_entry_window(&entries[i], now, window_ms, &c);
        windowed = c.windowed;
        if (c.count == 0) continue;
        mbuf_t k;
        mbuf_init(&k);
        for (size_t j = 0; j < n_by; j++) {
            size_t vl;
            const char *v = top_entry_label(&entries[i], by[j], &vl);
            if (j) mbuf_append(&k, "\x1f", 1);
            mbuf_append(&k, v ? v : "", vl);
        }
        if (!k.buf) mbuf_append(&k, "", 0);
        keyed[n_keyed++] = (keyed_t){k.buf, &entries[i], c};
    }
    qsort(keyed, n_keyed, sizeof(*keyed), cmp_key);
    for (size_t i = 0; i < n_keyed; i++) {
        if (!n_groups || strcmp(groups[n_groups - 1].key, keyed[i].key) != 0)
            groups[n_groups++] = (group_t){.key = keyed[i].key, .first_seen_ms = INT64_MAX};
        group_t *g = &groups[n_groups - 1];
        const top_entry_t *e = keyed[i].e;
        const top_counts_t *c = &keyed[i].c;
        g->count += c->count;
        g->error += c->windowed ? 0 : e->error;
        g->suppressed += c->suppressed;
        g->incidents += c->incidents;
        g->flaps += c->flaps;
        g->fingerprints++;
        if (e->first_seen_ms < g->first_seen_ms) g->first_seen_ms = e->first_seen_ms;
        if (e->last_seen_ms > g->last_seen_ms) g->last_seen_ms = e->last_seen_ms;
    }
    qsort(groups, n_groups, sizeof(*groups), cmp_group);

    resp->content_type = "application/json";
    mbuf_t *b = &resp->body;
    mbuf_printf(b, "{\"window_seconds\":%lld,\"by\":[", (long long)(window_ms / 1000));
    for (size_t j = 0; j < n_by; j++) {
        mbuf_printf(b, "%s\"", j ? "," : "");
        mbuf_json_str(b, by[j], strlen(by[j]));
        mbuf_append(b, "\"", 1);
    }
    mbuf_printf(b, "],\"windowed\":%s,\"fingerprints_sampled\":%zu,\"groups\":[",
                windowed ? "true" : "false", n_keyed);
    for (size_t i = 0; i < n_groups && (long)i < limit; i++) {
        const group_t *g = &groups[i];
        mbuf_printf(b, "%s{\"labels\":{", i ? "," : "");
        const char *v = g->key;
        for (size_t j = 0; j < n_by; j++) {
            const char *end = strchr(v, '\x1f');
            size_t vl = end ? (size_t)(end - v) : strlen(v);
            mbuf_printf(b, "%s\"", j ? "," : "");
            mbuf_json_str(b, by[j], strlen(by[j]));
            mbuf_append(b, "\":\"", 3);
            mbuf_json_str(b, v, vl);
            mbuf_append(b, "\"", 1);
            v = end ? end + 1 : v + vl;
        }
        mbuf_printf(b,
                    "},\"occurrences\":%llu,\"max_overcount\":%llu,\"suppressed\":%llu,"
                    "\"incidents\":%llu,\"flaps\":%llu,\"fingerprints\":%llu,"
                    "\"first_seen_ms\":%lld,\"last_seen_ms\":%lld}",
                    (unsigned long long)g->count, (unsigned long long)g->error,
                    (unsigned long long)g->suppressed, (unsigned long long)g->incidents,
                    (unsigned long long)g->flaps, (unsigned long long)g->fingerprints,
                    (long long)g->first_seen_ms, (long long)g->last_seen_ms);
    }
    mbuf_printf(b, "]}\n");
out:
    for (size_t i = 0; i < n_keyed; i++) free(keyed[i].key);
    free(groups);
    free(keyed);
    free(entries);
}

/* ---- lifecycle -------------------------------------------------------- */

ops_t *ops_start(const ops_stages_t *st, char *errbuf, size_t errlen)
{
    ops_t *o = calloc(1, sizeof(*o));
    if (!o) return NULL;
    o->st = *st;
    o->started_ms = clock_wall_ms();
    const conf_t *c = st->conf;
    if (!c->http.listen || !*c->http.listen) return o;
    bool memory = true;
    o->store_conf = (store_conf_t){.prefix = c->store.prefix, .timeout_ms = c->store.timeout_ms};
    if (store_conf_connection(c, &o->store_conf, &memory, errbuf, errlen) != QERR_OK) goto fail;
    if (!memory && !(o->store = store_probe_new(&o->store_conf))) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    if (c->http.auth_token_file && *c->http.auth_token_file &&
        http_load_token(c->http.auth_token_file, &o->token, errbuf, errlen) != QERR_OK)
        goto fail;
    http_opts_t ho = {c->http.listen, o->token, c->http.max_request_bytes};
    o->http = http_server_new(&ho, errbuf, errlen);
    if (!o->http) goto fail;
    o->intake = intake_new(c, st->brokers, st->fingerprint, o->token, errbuf, errlen);
    if (!o->intake) goto fail;
    if (http_route(o->http, "GET", "/metrics", 0, on_metrics, o) != QERR_OK ||
        http_route(o->http, "GET", "/api/v1/top", HTTP_AUTH, on_top, o) != QERR_OK ||
        http_route(o->http, "POST", "/api/v2/alerts", HTTP_AUTH, intake_alertmanager, o->intake) !=
            QERR_OK ||
        /* Alertmanager 0.25 still takes v1's (same body): Prometheus
         * configs with `api_version: v1` keep working. */
        http_route(o->http, "POST", "/api/v1/alerts", HTTP_AUTH, intake_alertmanager, o->intake) !=
            QERR_OK ||
        http_route(o->http, "POST", "/v2/enqueue", 0, intake_pagerduty, o->intake) != QERR_OK ||
        http_ready_check(o->http, "kafka", ready_kafka, o) != QERR_OK ||
        http_ready_check(o->http, "store", ready_store, o) != QERR_OK) {
        snprintf(errbuf, errlen, "http: too many routes");
        goto fail;
    }
    if (st->add_routes && st->add_routes(st->routes_ctx, o->http) != QERR_OK) {
        snprintf(errbuf, errlen, "http: too many routes");
        goto fail;
    }
    if (http_server_start(o->http, errbuf, errlen) != QERR_OK) {
        /* Several instances on one host with the default config must all
         * run: only an address the operator chose is worth refusing to
         * start for. Without the server, quell still decides and delivers. */
        if (strcmp(c->http.listen, HTTP_DEFAULT_LISTEN) != 0) goto fail;
        log_warn("http",
                 "%s; running without the HTTP server (set http.listen to choose an "
                 "address)",
                 errbuf);
        http_server_destroy(o->http);
        intake_destroy(o->intake);
        o->http = NULL;
        o->intake = NULL;
        errbuf[0] = '\0';
        return o;
    }
    log_info("http", "listening on %s (port %u)%s", c->http.listen,
             (unsigned)http_server_port(o->http), o->token ? ", token required" : "");
    return o;
fail:
    ops_stop(o);
    return NULL;
}

http_server_t *ops_http(ops_t *o) { return o ? o->http : NULL; }

void ops_stop(ops_t *o)
{
    if (!o) return;
    http_server_destroy(o->http);
    intake_destroy(o->intake);
    store_probe_destroy(o->store);
    free(o->token);
    free(o);
}
