/*
 * quell-worker-bench: what one dedup worker thread costs per alert on a
 * scenario's storm, as `quell run` wires it (the scenario's rules, the
 * decision log with its defaults, the noisy-alert sketch), without Kafka
 * and without ingest: the storm is decoded and fingerprinted up front into
 * ring records, then fed to the worker's ring by this thread, faster than
 * the worker decides, so the worker never waits. Prints the worker
 * thread's CPU time per alert (its schedstat), per pass. Not a test:
 * figures only; on a shared machine compare the lowest of several passes.
 *   build/bench/quell-worker-bench SCENARIO [ALERTS] [PASSES]
 *   WB_NO_DECLOG=1 ...: without the decision log
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../app/declog.h"
#include "../dedup/dedup.h"
#include "../dedup/rules.h"
#include "../ingest/ingest.h"
#include "bench.h"

typedef struct {
    char *bytes;     /* alert records, one after the other */
    size_t *offsets; /* n + 1 */
    size_t n;
} records_t;

static records_t records_make(const gen_opts_t *o, const conf_t *conf)
{
    char err[256];
    gen_t *g = gen_new(o, err, sizeof(err));
    if (!g) {
        fprintf(stderr, "worker-bench: %s\n", err);
        exit(2);
    }
    ingest_limits_t lim = {conf->ingest.max_message_bytes, conf->ingest.max_labels,
                           conf->ingest.max_name_bytes, conf->ingest.max_value_bytes,
                           conf->ingest.max_annotation_bytes};
    dedup_fp_conf_t fc;
    strlist_t only = conf->dedup.fingerprint_labels, ignore = conf->dedup.ignore_labels;
    dedup_fp_conf_init(&fc, conf->dedup.fingerprint, &only, &ignore);
    arena_t arena;
    arena_init(&arena, 256 * 1024);
    records_t r = {0};
    size_t cap = 1 << 24, used = 0;
    r.bytes = malloc(cap);
    r.offsets = malloc(sizeof(size_t) * (o->alerts + 1));
    const void *buf;
    size_t len;
    int64_t t;
    while (gen_next(g, &buf, &len, &t, NULL)) {
        arena_reset(&arena);
        alert_t *alerts;
        size_t n;
        if (ingest_decode(&arena, &lim, INGEST_FORMAT_AUTO, buf, len, t, &alerts, &n, err,
                          sizeof(err)) != DECODE_OK ||
            n != 1) {
            fprintf(stderr, "worker-bench: alert %zu: %s\n", r.n, err);
            exit(1);
        }
        alert_t *a = &alerts[0];
        a->event_time_ms = a->watermark_ms = t;
        a->fingerprint = dedup_fingerprint_alert(&fc, a);
        size_t size = alert_rec_size(a);
        while (used + size > cap) r.bytes = realloc(r.bytes, cap *= 2);
        alert_rec_write(r.bytes + used, a, NULL);
        r.offsets[r.n++] = used;
        used += (size + 7) & ~(size_t)7;
    }
    r.offsets[r.n] = used;
    gen_destroy(g);
    arena_free(&arena);
    return r;
}

static qerr_t forward(void *ctx, const alert_t *a, const incident_t *inc, msg_track_t *t)
{
    (void)ctx;
    (void)a;
    (void)inc;
    track_done(t);
    return QERR_OK;
}

typedef struct {
    declog_t *declog;
} hook_t;

static void decided(void *ctx, const alert_t *a, const incident_t *inc)
{
    declog_note(((hook_t *)ctx)->declog, 0, a, inc);
}

static void prefetch(void *ctx, uint64_t fp, bool deep)
{
    declog_prefetch(((hook_t *)ctx)->declog, 0, fp, deep);
}

/* CPU time of the thread named quell-dedup, from its schedstat (ns). */
static int64_t worker_cpu_ns(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int64_t ns = -1;
    while (d && (e = readdir(d))) {
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = '\0';
        fclose(f);
        if (strncmp(comm, "quell-dedup", 11)) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        if ((f = fopen(path, "r"))) {
            long long v;
            if (fscanf(f, "%lld", &v) == 1) ns = v;
            fclose(f);
        }
    }
    if (d) closedir(d);
    return ns;
}

static double pass(const records_t *r, const conf_t *conf, rules_live_t *live)
{
    dedup_params_t params = {conf->dedup.window_ms, conf->dedup.repeat_interval_ms};
    size_t entries = conf->dedup.max_fingerprints;
    dedup_worker_t *w = dedup_worker_new(&params, entries, conf->ring_bytes, forward, NULL);
    decider_opts_t dopts = {.dedup = params,
                            .fingerprint_covers_labels = true,
                            .cache_entries = 65536,
                            .noise_entries = entries * 2};
    decider_t *dc = decider_new(&dopts, dedup_worker_table(w), NULL);
    decider_silence_wall_clock(dc, true);
    dedup_worker_use_rules(w, live, dc, 0);
    char err[256];
    declog_opts_t dlo = {
        1, conf->decisions.recent, conf->decisions.open, conf->dedup.window_ms, NULL, conf, NULL};
    hook_t h = {declog_new(&dlo, err, sizeof err)};
    if (!getenv("WB_NO_DECLOG")) dedup_worker_set_decided_hook(w, decided, prefetch, &h);
    ring_t *ring = dedup_worker_ring(w);
    if (dedup_worker_start(w) != QERR_OK) exit(1);
    int64_t cpu0 = worker_cpu_ns();
    for (size_t i = 0; i < r->n; i++) {
        size_t len = r->offsets[i + 1] - r->offsets[i];
        void *dst;
        while (!(dst = ring_reserve(ring, len))) ring_wait_room(ring, len, 100);
        memcpy(dst, r->bytes + r->offsets[i], len);
        ring_commit_local(ring);
        if (i % 32 == 31) ring_publish(ring);
    }
    ring_publish(ring);
    dedup_worker_stats_t st;
    for (;;) {
        dedup_worker_stats(w, &st);
        uint64_t sum = 0;
        for (int k = 0; k < DECISION__COUNT; k++) sum += st.decisions[k];
        if (sum >= r->n) break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    int64_t cpu = worker_cpu_ns() - cpu0;
    dedup_worker_destroy(w);
    decider_destroy(dc);
    declog_destroy(h.declog);
    return (double)cpu / (double)r->n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: quell-worker-bench SCENARIO [ALERTS] [PASSES]\n");
        return 2;
    }
    log_setup(LOG_ERROR, LOG_FMT_LOGFMT);
    gen_opts_t o;
    gen_opts_defaults(&o);
    char *config = NULL, err[512];
    if (gen_load_scenario(argv[1], &o, &config, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "worker-bench: %s\n", err);
        return 2;
    }
    o.format = GEN_PROTO;
    if (argc > 2) o.alerts = strtoull(argv[2], NULL, 10);
    int passes = argc > 3 ? atoi(argv[3]) : 5;
    conf_t conf;
    conf_defaults(&conf);
    if (conf_load_buffer(&conf, argv[1], config, strlen(config), err, sizeof err) != QERR_OK) {
        fprintf(stderr, "worker-bench: %s\n", err);
        return 2;
    }
    ruleset_t *rs = NULL;
    if (ruleset_compile(&conf, NULL, NULL, &rs, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "worker-bench: %s\n", err);
        return 2;
    }
    rules_live_t *live = rules_live_new(rs, 1);
    records_t r = records_make(&o, &conf);
    printf("%zu alerts; dedup worker thread CPU per alert, ns:", r.n);
    for (int p = 0; p < passes; p++) {
        printf(" %.1f", pass(&r, &conf, live));
        fflush(stdout);
    }
    printf("\n");
    rules_live_destroy(live);
    conf_free(&conf);
    free(config);
    free(r.bytes);
    free(r.offsets);
    return 0;
}
