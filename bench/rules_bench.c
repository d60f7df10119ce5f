/*
 * quell-rules-bench: what the rules cost per alert on one core, with 10,
 * 1,000 and 10,000 exclusion rules, for a new fingerprint (cache miss: the
 * label-only half is evaluated through the equality index) and for a
 * repeat (cache hit: only the time half runs), and the whole composed
 * decision (rules + dedup + noise) for both. Not a test: figures only.
 *   build/bench/quell-rules-bench [ALERTS]
 *
 * Rules look like real exclusions: 95% have an equality matcher on
 * alertname plus a regex on namespace; 5% have only a regex (they are tried
 * for every new fingerprint). Alerts carry 9 labels; one in ten matches a
 * rule.
 */
#include <stdlib.h>
#include <string.h>

#include "../dedup/dedup.h"

static ruleset_t *make_rules(size_t n)
{
    size_t cap = n * 120 + 256;
    char *y = malloc(cap);
    size_t o = (size_t)snprintf(y, cap, "noise:\n  min_count: 1\nexclusions:\n");
    for (size_t i = 0; i < n; i++) {
        if (i % 20 == 19)
            o += (size_t)snprintf(y + o, cap - o,
                                  "  - {name: r%zu, "
                                  "matchers: ['job=~\"batch-%zu-.*\"']}\n",
                                  i, i);
        else
            o += (size_t)snprintf(
                y + o, cap - o,
                "  - {name: r%zu, "
                "matchers: ['alertname=\"Alert%zu\"', 'namespace=~\"ns-(a|b).*\"']}\n",
                i, i);
    }
    conf_t c;
    conf_defaults(&c);
    char err[1024];
    ruleset_t *rs = NULL;
    if (conf_load_buffer(&c, "bench", y, o, err, sizeof err) != QERR_OK ||
        ruleset_compile(&c, NULL, NULL, &rs, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "rules-bench: %s\n", err);
        exit(2);
    }
    conf_free(&c);
    free(y);
    return rs;
}

typedef struct {
    char buf[9][48];
    label_t l[9];
} alert_labels_t;

static void make_labels(alert_labels_t *a, uint64_t i, size_t n_rules)
{
    static const char *const names[9] = {"alertname", "cluster", "container", "instance", "job",
                                         "namespace", "pod",     "service",   "severity"};
    /* one in ten names an existing rule's alert */
    uint64_t an = i % 10 == 0 ? (i / 10) % n_rules : 1000000 + i;
    snprintf(a->buf[0], 48, "Alert%llu", (unsigned long long)an);
    snprintf(a->buf[1], 48, "prod-eu-west-%llu", (unsigned long long)(i % 3));
    snprintf(a->buf[2], 48, "api-%llu", (unsigned long long)(i % 17));
    snprintf(a->buf[3], 48, "10.0.%llu.%llu:8080", (unsigned long long)(i % 250),
             (unsigned long long)(i % 199));
    snprintf(a->buf[4], 48, "svc-%llu", (unsigned long long)(i % 31));
    snprintf(a->buf[5], 48, "ns-%c%llu", "abcd"[i % 4], (unsigned long long)(i % 13));
    snprintf(a->buf[6], 48, "pod-%llu", (unsigned long long)i);
    snprintf(a->buf[7], 48, "service-%llu", (unsigned long long)(i % 23));
    snprintf(a->buf[8], 48, "%s", i % 7 ? "warning" : "critical");
    for (int k = 0; k < 9; k++) {
        a->l[k].name = (str_t){names[k], (uint32_t)strlen(names[k])};
        a->l[k].value = (str_t){a->buf[k], (uint32_t)strlen(a->buf[k])};
    }
}

int main(int argc, char **argv)
{
    uint64_t n_alerts = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    alert_labels_t *labels = malloc(sizeof *labels * n_alerts);
    for (uint64_t i = 0; i < n_alerts; i++) make_labels(&labels[i], i, 10);
    printf("%-8s %14s %14s %16s %16s %10s\n", "rules", "eval new (ns)", "eval repeat",
           "decide new (ns)", "decide repeat", "excluded");
    static const size_t sizes[] = {10, 1000, 10000};
    for (size_t s = 0; s < 3; s++) {
        size_t n_rules = sizes[s];
        for (uint64_t i = 0; i < n_alerts; i++) make_labels(&labels[i], i, n_rules);
        int64_t t0 = clock_mono_ns();
        ruleset_t *rs = make_rules(n_rules);
        double compile_ms = (double)(clock_mono_ns() - t0) / 1e6;
        rules_cache_t *cache = rules_cache_new(n_alerts * 2);
        uint64_t excluded = 0;
        rules_verdict_t v;
        /* new fingerprints: every alert a distinct key (cache misses) */
        t0 = clock_mono_ns();
        for (uint64_t i = 0; i < n_alerts; i++) {
            ruleset_eval_cached(rs, cache, i + 1, labels[i].l, 9, 1767225600000LL, &v);
            excluded += v.suppress;
        }
        double new_ns = (double)(clock_mono_ns() - t0) / (double)n_alerts;
        /* repeats: the same keys again (cache hits) */
        t0 = clock_mono_ns();
        for (uint64_t i = 0; i < n_alerts; i++)
            ruleset_eval_cached(rs, cache, i + 1, labels[i].l, 9, 1767225600000LL, &v);
        double rep_ns = (double)(clock_mono_ns() - t0) / (double)n_alerts;
        /* the composed decision: rules + dedup + noise */
        dedup_table_t *table = dedup_table_new(n_alerts * 2);
        inhibit_state_t *inh = inhibit_state_new(1024);
        decider_opts_t o = {{300000, 14400000}, true, n_alerts * 2, n_alerts * 2};
        decider_t *d = decider_new(&o, table, inh);
        alert_t a = {0};
        incident_t inc;
        t0 = clock_mono_ns();
        for (uint64_t i = 0; i < n_alerts; i++) {
            a.labels = labels[i].l;
            a.n_labels = 9;
            a.fingerprint = (i + 1) * 0x9E3779B97F4A7C15ull;
            a.event_time_ms = a.watermark_ms = 1767225600000LL + (int64_t)i;
            decider_decide(d, rs, &a, &inc);
        }
        double dnew_ns = (double)(clock_mono_ns() - t0) / (double)n_alerts;
        t0 = clock_mono_ns();
        for (uint64_t i = 0; i < n_alerts; i++) {
            a.labels = labels[i].l;
            a.n_labels = 9;
            a.fingerprint = (i + 1) * 0x9E3779B97F4A7C15ull;
            a.event_time_ms = a.watermark_ms = 1767225600000LL + (int64_t)(n_alerts + i);
            decider_decide(d, rs, &a, &inc);
        }
        double drep_ns = (double)(clock_mono_ns() - t0) / (double)n_alerts;
        printf("%-8zu %14.0f %14.0f %16.0f %16.0f %9.1f%%   (compile %.0f ms)\n", n_rules, new_ns,
               rep_ns, dnew_ns, drep_ns, 100.0 * (double)excluded / (double)n_alerts, compile_ms);
        decider_destroy(d);
        inhibit_state_destroy(inh);
        dedup_table_destroy(table);
        rules_cache_destroy(cache);
        ruleset_destroy(rs);
    }
    free(labels);
    return 0;
}
