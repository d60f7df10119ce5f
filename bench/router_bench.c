/*
 * quell-router-bench: what routing costs, per receiver type, on this
 * machine. The production path end to end: router_forward() from this
 * thread (a worker's lane), the router thread routing, grouping (group_wait
 * 0, one group per alert), formatting and delivering to
 *   webhook, pagerduty, slack   a local HTTP receiver (libmicrohttpd)
 *   file                        a temp file
 *   kafka (json, protobuf)      librdkafka's in-process mock cluster
 * An alert counts as delivered when its input hold is released (HTTP 2xx,
 * file written, broker ack): what gates the offset commit.
 *
 *   throughput  a burst of N alerts: notifications/s until all delivered
 *   latency     alerts paced at RATE/s: forward -> delivered, p50/p99;
 *               group_wait is 0, so this is what the router itself adds
 *               (wheel tick, formatting, HTTP round trip)
 *
 *   build/bench/quell-router-bench [N] [RATE]
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <microhttpd.h>

#include "../router/router_int.h"

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data;
    if (!*state) {
        *state = (void *)1;
        return MHD_YES;
    }
    if (*size) {
        *size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(2, "ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

typedef struct {
    router_t *r;
    _Atomic bool stop;
} poller_t;

static void *poll_main(void *arg)
{
    poller_t *p = arg;
    while (!atomic_load(&p->stop)) router_poll(p->r, 50);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void forward_one(router_t *r, uint64_t i, msg_track_t *t)
{
    char id[24];
    int n = snprintf(id, sizeof(id), "%llu", (unsigned long long)i);
    label_t l[] = {{{"alertname", 9}, {"BenchDown", 9}},
                   {{"id", 2}, {id, (uint32_t)n}},
                   {{"service", 7}, {"checkout", 8}}};
    label_t ann[] = {{{"summary", 7}, {"checkout is down in eu-west-1", 29}}};
    int64_t now = clock_wall_ms();
    alert_t a = {.labels = l,
                 .n_labels = 3,
                 .annotations = ann,
                 .n_annotations = 1,
                 .fingerprint = 0x9e3779b97f4a7c15ULL * (i + 1),
                 .starts_at_ms = now,
                 .event_time_ms = now};
    incident_t inc = {.kind = DECISION_FORWARD_NEW,
                      .count = 1,
                      .fingerprint = a.fingerprint,
                      .first_seen_ms = now,
                      .last_seen_ms = now,
                      .severity = 2};
    while (router_forward(r, &a, &inc, t) == QERR_FULL) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

/* Waits until every hold in t[from..to) is released; records when each was
 * first seen released into done_ns. Returns false on timeout. */
static bool wait_done(msg_track_t *t, int64_t *done_ns, size_t from, size_t to, int64_t timeout_ns)
{
    int64_t deadline = clock_mono_ns() + timeout_ns;
    size_t left = 0, cursor = from;
    for (size_t i = from; i < to; i++) left += !done_ns[i];
    while (left) {
        for (size_t i = cursor; i < to; i++) {
            if (done_ns[i] || atomic_load_explicit(&t[i].pending, memory_order_acquire)) continue;
            done_ns[i] = clock_mono_ns();
            left--;
        }
        while (cursor < to && done_ns[cursor]) cursor++;
        if (clock_mono_ns() > deadline) return false;
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    return true;
}

static void run(const char *name, const char *receiver_yaml, const char *brokers, size_t n,
                double rate)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "kafka:\n  output_topic: bench-out\n  dlq_topic: bench-dlq\n"
             "route:\n  receiver: rx\n  group_by: [id]\n  group_wait: 0s\n"
             "receivers:\n  - name: rx\n%s",
             receiver_yaml);
    conf_t c;
    conf_defaults(&c);
    char err[512];
    if (conf_load_buffer(&c, name, yaml, strlen(yaml), err, sizeof(err)) != QERR_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    router_t *r = router_new(&c, brokers, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "%s: %s\n", name, err);
        exit(1);
    }
    poller_t p = {.r = r};
    pthread_t th;
    pthread_create(&th, NULL, poll_main, &p);

    msg_track_t *t = calloc(n * 2, sizeof(*t));
    int64_t *sent = calloc(n * 2, sizeof(int64_t)), *done = calloc(n * 2, sizeof(int64_t));
    /* Throughput: a burst. */
    int64_t t0 = clock_mono_ns();
    for (size_t i = 0; i < n; i++) {
        t[i].pending = 1;
        forward_one(r, i, &t[i]);
    }
    bool ok = wait_done(t, done, 0, n, 120LL * 1000000000);
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    /* Latency: paced. */
    size_t m = n < (size_t)(rate * 3) ? n : (size_t)(rate * 3);
    int64_t start = clock_mono_ns();
    for (size_t k = 0; k < m; k++) {
        size_t i = n + k;
        int64_t due = start + (int64_t)((double)k * 1e9 / rate);
        while (clock_mono_ns() < due) {
            /* Completions are timed while sending, not after. */
            for (size_t j = n; j < i; j++)
                if (!done[j] && !atomic_load_explicit(&t[j].pending, memory_order_acquire))
                    done[j] = clock_mono_ns();
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
        t[i].pending = 1;
        sent[i] = clock_mono_ns();
        forward_one(r, i, &t[i]);
    }
    ok = ok && wait_done(t, done, n, n + m, 60LL * 1000000000);
    int64_t *lat = calloc(m + 1, sizeof(int64_t));
    for (size_t k = 0; k < m; k++) lat[k] = done[n + k] - sent[n + k];
    qsort(lat, m, sizeof(int64_t), cmp_i64);
    router_stats_t st;
    router_stats(r, &st);
    printf("%-18s %9.0f notifications/s (%zu in %.2f s)   latency p50 %6.2f ms  p99 %6.2f ms "
           "(%zu at %.0f/s)%s\n",
           name, (double)n / secs, n, secs, (double)lat[m / 2] / 1e6,
           (double)lat[m * 99 / 100] / 1e6, m, rate, ok ? "" : "  TIMED OUT");
    atomic_store(&p.stop, true);
    pthread_join(th, NULL);
    router_destroy(r, 10000);
    conf_free(&c);
    free(t);
    free(sent);
    free(done);
    free(lat);
}

static void count_note(void *ctx, const notification_t *n)
{
    (*(uint64_t *)ctx)++;
    for (size_t i = 0; i < n->n_tracks; i++) track_done(n->tracks[i]);
}

/* A million open groups on the wheel, driven clock: the cost of adding
 * them, of the tick that fires all their first notifications, and of an
 * idle tick afterwards (what the pipeline pays per 10 ms). */
static void million_groups(size_t groups)
{
    char *gb[] = {"id"};
    receiver_t rcv = {.name = "x"};
    route_t route = {.receiver = &rcv,
                     .key = "{}",
                     .group_by = gb,
                     .n_group_by = 1,
                     .group_wait_ms = 30000,
                     .group_interval_ms = 300000,
                     .repeat_interval_ms = 4 * 3600000LL};
    uint64_t notes = 0;
    group_table_t *gt = group_table_new(0, 10, count_note, &notes);
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    int64_t t0 = clock_mono_ns();
    for (size_t i = 0; i < groups; i++) {
        char id[24];
        int n = snprintf(id, sizeof(id), "%zu", i);
        label_t l[] = {{{"alertname", 9}, {"A", 1}}, {{"id", 2}, {id, (uint32_t)n}}};
        alert_t a = {.labels = l, .n_labels = 2, .fingerprint = i + 1};
        group_table_add(gt, &route, &a, &inc, NULL, NULL, (int64_t)(i % 20000));
    }
    double add_s = (double)(clock_mono_ns() - t0) / 1e9;
    int64_t worst = 0, first_ns = 0;
    for (int64_t t = 10; t <= 60000; t += 10) {
        int64_t s0 = clock_mono_ns();
        group_table_advance(gt, t);
        int64_t d = clock_mono_ns() - s0;
        if (t <= 50000)
            first_ns += d;
        else if (d > worst)
            worst = d;
    }
    printf("groups             %zu open groups: added at %.0f/s; first notifications %.0f ms "
           "in total over the 20 s they fall due; idle tick after: worst %.3f ms "
           "(%llu notifications)\n",
           groups, (double)groups / add_s, (double)first_ns / 1e6, (double)worst / 1e6,
           (unsigned long long)notes);
    group_table_destroy(gt);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000;
    double rate = argc > 2 ? atof(argv[2]) : 1000;
    log_setup(LOG_WARN, LOG_FMT_LOGFMT);
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, handle,
                         NULL, MHD_OPTION_CONNECTION_LIMIT, 1000, MHD_OPTION_END);
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        fprintf(stderr, "cannot start the HTTP receiver\n");
        return 1;
    }
    unsigned port = info->port;
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "log_level", "3", NULL, 0);
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    rd_kafka_mock_cluster_t *mc = owner ? rd_kafka_mock_cluster_new(owner, 1) : NULL;
    if (!mc) {
        fprintf(stderr, "cannot start the mock cluster\n");
        return 1;
    }
    rd_kafka_mock_topic_create(mc, "bench-out", 4, 1);
    rd_kafka_mock_topic_create(mc, "bench-dlq", 1, 1);
    const char *brokers = rd_kafka_mock_cluster_bootstraps(mc);
    char path[] = "/tmp/quell-router-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);

    printf("quell-router-bench: %zu alerts per burst, one group each, group_wait 0; "
           "HTTP to a loopback libmicrohttpd, kafka to the mock cluster\n",
           n);
    char rx[512];
    snprintf(rx, sizeof(rx),
             "    type: webhook\n    url: http://127.0.0.1:%u/\n    max_in_flight: 16\n", port);
    run("webhook", rx, brokers, n, rate);
    snprintf(rx, sizeof(rx),
             "    type: pagerduty\n    routing_key: K\n    url: http://127.0.0.1:%u/\n"
             "    max_in_flight: 16\n",
             port);
    run("pagerduty", rx, brokers, n, rate);
    snprintf(rx, sizeof(rx),
             "    type: slack\n    url: http://127.0.0.1:%u/\n    max_in_flight: 16\n", port);
    run("slack", rx, brokers, n, rate);
    snprintf(rx, sizeof(rx), "    type: file\n    path: %s\n", path);
    run("file", rx, brokers, n, rate);
    run("kafka (json)", "    type: kafka\n    topic: bench-out\n", brokers, n, rate);
    run("kafka (protobuf)", "    type: kafka\n    topic: bench-out\n    format: protobuf\n",
        brokers, n, rate);
    unlink(path);
    million_groups(argc > 3 ? strtoull(argv[3], NULL, 10) : 1000000);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
    MHD_stop_daemon(d);
    return 0;
}
