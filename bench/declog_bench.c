/*
 * quell-declog-bench: what the decision log and silences add to the
 * composed decision on one core, per alert, without Kafka: the decision
 * alone; with the recent-decisions ring (decisions.recent), alone and
 * with the open alerts kept beyond it (decisions.open: the defaults);
 * with 10 and 100 active silences that do not match. Not a test: figures
 * only (median of 5 passes, thread CPU time).
 *   build/bench/quell-declog-bench [ALERTS]
 * The topic's cost (decisions.topic) is librdkafka's produce call on top
 * of the ring's, measured end to end with `quell bench` (README).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../app/declog.h"
#include "../dedup/dedup.h"

#define N_FP     10000
#define N_LABELS 9

static label_t labels[N_FP][N_LABELS];
static char text[N_FP][N_LABELS][2][32];

static void make_alerts(void)
{
    static const char *names[N_LABELS] = {"alertname", "cluster", "env",      "instance", "job",
                                          "namespace", "pod",     "severity", "team"};
    for (int f = 0; f < N_FP; f++)
        for (int l = 0; l < N_LABELS; l++) {
            snprintf(text[f][l][0], 32, "%s", names[l]);
            snprintf(text[f][l][1], 32, "%s-%d", names[l], l == 0 ? f % 50 : f);
            labels[f][l].name = (str_t){text[f][l][0], (uint32_t)strlen(text[f][l][0])};
            labels[f][l].value = (str_t){text[f][l][1], (uint32_t)strlen(text[f][l][1])};
        }
}

/* CPU time of this thread: other processes on a shared machine preempt
 * the bench, and wall time would count their turns. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static volatile uint64_t touched;

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ns per decision, median of 5 passes over `n` alerts. */
static double run(rules_live_t *live, declog_t *dl, size_t n)
{
    double t[5];
    for (int pass = 0; pass < 5; pass++) {
        dedup_table_t *table = dedup_table_new(N_FP * 2);
        decider_opts_t o = {{300000, 14400000}, true, 65536, N_FP * 2};
        decider_t *d = decider_new(&o, table, NULL);
        decider_silence_wall_clock(d, true);
        int64_t t0 = cpu_ns();
        for (size_t i = 0; i < n; i++) {
            alert_t a = {0};
            size_t f = (i * 7919) % N_FP;
            a.labels = labels[f];
            a.n_labels = N_LABELS;
            a.fingerprint = 0x9E3779B97F4A7C15ull * (f + 1);
            a.event_time_ms = 1767225600000 + (int64_t)i;
            a.watermark_ms = a.event_time_ms;
            /* A worker reads the alert out of its ring first, so its bytes
             * are in cache when the decision runs: touch them likewise. */
            for (uint32_t l = 0; l < N_LABELS; l++)
                touched += (uint64_t)a.labels[l].name.ptr[a.labels[l].name.len - 1] +
                           (uint64_t)a.labels[l].value.ptr[a.labels[l].value.len - 1];
            incident_t inc;
            const ruleset_t *rs = rules_live_enter(live, 0);
            decider_decide(d, rs, &a, &inc);
            if (dl) declog_note(dl, 0, &a, &inc);
            rules_live_leave(live, 0);
        }
        t[pass] = (double)(cpu_ns() - t0) / (double)n;
        decider_destroy(d);
        dedup_table_destroy(table);
    }
    qsort(t, 5, sizeof t[0], cmp_d);
    return t[2];
}

static void set_silences(rules_live_t *live, silencer_t **s, int n)
{
    silencer_destroy(*s);
    silencer_opts_t so = {.retention_ms = 3600000, .poll_ms = 1000, .live = live};
    char err[256];
    *s = silencer_new(&so, err, sizeof err);
    int64_t now = clock_wall_ms();
    char start[32], end[32];
    time_format_rfc3339(now, start);
    time_format_rfc3339(now + 3600000, end);
    for (int i = 0; i < n; i++) {
        char b[512];
        snprintf(b, sizeof b,
                 "{\"matchers\":[{\"name\":\"alertname\",\"value\":\"nomatch-%d\","
                 "\"isRegex\":false},{\"name\":\"env\",\"value\":\"x.*\",\"isRegex\":true}],"
                 "\"startsAt\":\"%s\",\"endsAt\":\"%s\",\"createdBy\":\"b\",\"comment\":\"c\"}",
                 i, start, end);
        mbuf_t out = {0};
        silencer_post(*s, b, strlen(b), &out);
        mbuf_free(&out);
    }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    log_setup(LOG_ERROR, LOG_FMT_LOGFMT);
    make_alerts();
    conf_t c;
    conf_defaults(&c);
    ruleset_t *rs = NULL;
    char err[256];
    if (ruleset_compile(&c, NULL, NULL, &rs, err, sizeof err) != QERR_OK) return 1;
    rules_live_t *live = rules_live_new(rs, 1);
    declog_opts_t dlo = {.workers = 1, .recent = 1024, .open_ms = 3600000, .conf = &c};
    declog_t *dl = declog_new(&dlo, err, sizeof err);
    dlo.open = 16384; /* the defaults: open alerts kept once they left the ring */
    declog_t *dlk = declog_new(&dlo, err, sizeof err);
    silencer_t *sil = NULL;
    double base = run(live, NULL, n);
    double ring = run(live, dl, n);
    double kept = run(live, dlk, n);
    printf("decision alone                     %7.1f ns/alert\n", base);
    printf("with the decision ring (1024)      %7.1f ns/alert (x%.2f)\n", ring, ring / base);
    printf("ring + open alerts kept (16384)    %7.1f ns/alert (x%.2f)\n", kept, kept / base);
    set_silences(live, &sil, 10);
    double s10 = run(live, NULL, n);
    printf("with 10 silences, none matching    %7.1f ns/alert (x%.2f)\n", s10, s10 / base);
    set_silences(live, &sil, 100);
    double s100 = run(live, NULL, n);
    printf("with 100 silences, none matching   %7.1f ns/alert (x%.2f)\n", s100, s100 / base);
    silencer_destroy(sil);
    declog_destroy(dl);
    declog_destroy(dlk);
    rules_live_destroy(live);
    conf_free(&c);
    return 0;
}
