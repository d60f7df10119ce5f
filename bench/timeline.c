/*
 * quell-timeline: a scenario's alerts in vs incidents out per event-time
 * bucket, for the plot in docs/performance.md. Runs the storm through the same decode,
 * fingerprint and decision core `quell run` uses, in one thread and in
 * event-time order (one table, watermark = event time: what one partition
 * gives), with the scenario's dedup settings. Deterministic: the same
 * scenario gives the same CSV anywhere. Rules (exclusions, noise) are not
 * applied here.
 *   build/bench/quell-timeline bench/scenarios/launch-day.yaml [BUCKET_S] > t.csv
 */
#include <stdlib.h>
#include <string.h>

#include "../dedup/dedup.h"
#include "../ingest/ingest.h"
#include "bench.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: quell-timeline SCENARIO [BUCKET_SECONDS] > timeline.csv\n");
        return 2;
    }
    int64_t bucket_ms = (argc > 2 ? atoll(argv[2]) : 60) * 1000;
    char err[1024], *config = NULL;
    gen_opts_t o;
    gen_opts_defaults(&o);
    conf_t conf;
    conf_defaults(&conf);
    if (bucket_ms <= 0 || gen_load_scenario(argv[1], &o, &config, err, sizeof err) != QERR_OK ||
        conf_load_buffer(&conf, argv[1], config, strlen(config), err, sizeof err) != QERR_OK) {
        fprintf(stderr, "quell-timeline: %s\n", bucket_ms <= 0 ? "bad bucket" : err);
        return 2;
    }
    o.format = GEN_PROTO;
    gen_t *g = gen_new(&o, err, sizeof err);
    dedup_table_t *t = dedup_table_new(conf.dedup.max_fingerprints);
    if (!g || !t) return fprintf(stderr, "quell-timeline: %s\n", g ? "out of memory" : err), 1;
    dedup_params_t params = {conf.dedup.window_ms, conf.dedup.repeat_interval_ms};
    dedup_fp_conf_t fc;
    dedup_fp_conf_init(&fc, conf.dedup.fingerprint, &conf.dedup.fingerprint_labels,
                       &conf.dedup.ignore_labels);
    arena_t arena;
    arena_init(&arena, 64 * 1024);
    size_t n_buckets =
        (size_t)((o.duration_ms ? o.duration_ms : o.spacing_ms * (int64_t)o.alerts) / bucket_ms) +
        2;
    uint64_t(*b)[4] = calloc(n_buckets, sizeof *b); /* in, from the flood, forwarded, new */
    const void *buf;
    size_t len;
    int64_t ev;
    uint64_t idx;
    while (gen_next(g, &buf, &len, &ev, &idx)) {
        alert_t *a;
        size_t n;
        arena_reset(&arena);
        if (ingest_decode(&arena, NULL, INGEST_FORMAT_PROTO_ALERT, buf, len, ev, &a, &n, err,
                          sizeof err) != DECODE_OK)
            return fprintf(stderr, "quell-timeline: %s\n", err), 1;
        incident_t inc;
        decision_kind_t k = dedup_decide(t, &params, dedup_fingerprint(&fc, a->labels, a->n_labels),
                                         a->status, ev, ev, &inc);
        size_t i = (size_t)((ev - o.start_ms) / bucket_ms);
        if (i >= n_buckets) i = n_buckets - 1;
        b[i][0]++;
        b[i][1] += idx >= o.fingerprints && idx < o.fingerprints + o.flood_fingerprints &&
                   o.flood_share > 0;
        b[i][2] += DECISION_IS_FORWARD(k);
        b[i][3] += k == DECISION_FORWARD_NEW;
    }
    printf("minute,alerts_in,alerts_from_new_service,incidents_out,incidents_new\n");
    for (size_t i = 0; i < n_buckets; i++)
        if (b[i][0])
            printf("%.2f,%llu,%llu,%llu,%llu\n", (double)i * (double)bucket_ms / 60000.0,
                   (unsigned long long)b[i][0], (unsigned long long)b[i][1],
                   (unsigned long long)b[i][2], (unsigned long long)b[i][3]);
    free(b);
    arena_free(&arena);
    dedup_table_destroy(t);
    gen_destroy(g);
    free(config);
    conf_free(&conf);
    return 0;
}
