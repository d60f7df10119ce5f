/* `quell bench` through the real binary on a tiny scenario: one throughput
 * run and one latency run on the embedded cluster, --json and --out. The
 * figures must agree with each other (every alert in is decided, incidents
 * plus suppressions make the decisions, the reasons add up); how fast is
 * never asserted. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char dir[] = "/tmp/quell-bench-cli-XXXXXX";

static int run(const char *args, char **out, char **err)
{
    char cmd[2048], out_path[256], err_path[256];
    snprintf(out_path, sizeof(out_path), "%s/out", dir);
    snprintf(err_path, sizeof(err_path), "%s/err", dir);
    snprintf(cmd, sizeof(cmd), "timeout 150 %s %s >%s 2>%s", getenv("QUELL_BIN"), args, out_path,
             err_path);
    int status = system(cmd);
    *out = check_read_file(out_path, NULL);
    *err = check_read_file(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* `quell ARGS` that must succeed and print one JSON object: the object
 * (NULL, with a failed check, when it did not). */
static cJSON *run_json(const char *args, char **out, char **err)
{
    int rc = run(args, out, err);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) fprintf(stderr, "quell bench: %s\n", *err ? *err : "");
    cJSON *j = *out ? cJSON_Parse(*out) : NULL;
    CHECK(j != NULL);
    return j;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    CHECK(cJSON_IsNumber(v));
    if (!cJSON_IsNumber(v)) fprintf(stderr, "missing number %s\n", key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* DIR/NAME.yaml: a scenario whose gen: section is `gen` (its first
 * line's indentation is the caller's) and whose config is a 5m window. */
static void scenario_write(char *path, size_t cap, const char *name, const char *gen)
{
    snprintf(path, cap, "%s/%s.yaml", dir, name);
    FILE *f = fopen(path, "w");
    fprintf(f, "description: %s\ngen:\n  %sconfig: |\n  dedup:\n    window: 5m\n", name, gen);
    fclose(f);
}

static void test_usage(void)
{
    char *out, *err;
    CHECK_EQ_INT(run("bench", &out, &err), 2);
    CHECK(err && strstr(err, "--scenario"));
    free(out), free(err);
    CHECK_EQ_INT(run("bench --scenario /nonexistent.yaml", &out, &err), 2);
    CHECK(err && strstr(err, "/nonexistent.yaml"));
    free(out), free(err);
    CHECK_EQ_INT(run("bench --scenario x.yaml --kafka-property queued.min.messages", &out, &err),
                 2);
    CHECK(err && strstr(err, "KEY=VALUE"));
    free(out), free(err);
    CHECK_EQ_INT(run("bench --scenario x.yaml --append-time", &out, &err), 2);
    CHECK(err && strstr(err, "--append-time needs --brokers"));
    free(out), free(err);
    CHECK_EQ_INT(run("bench --help", &out, &err), 0);
    CHECK(out && strstr(out, "--store URL"));
    free(out), free(err);
}

static void test_tiny_scenario(void)
{
    char scenario[300], csv_dir[300], args[1200], *out, *err;
    scenario_write(scenario, sizeof scenario, "tiny",
                   "alerts: 4000\n  fingerprints: 300\n  seed: 5\n"
                   "  duration: 10m\n  flood-share: 0.5\n  flood-fingerprints: 20\n"
                   "  transient-share: 0.05\n  excluded-share: 0.02\n");
    snprintf(csv_dir, sizeof csv_dir, "%s/csv", dir);
    snprintf(args, sizeof args,
             "bench --scenario %s --runs 1 --workers 2 --format proto --latency-rate 2000 "
             "--warmup 0.5 --json --out %s",
             scenario, csv_dir);
    cJSON *j = run_json(args, &out, &err);
    if (j) {
        double in = num(j, "alerts_in"), decided = num(j, "alerts_decided"),
               incidents = num(j, "incidents_out"), suppressed = num(j, "suppressed");
        CHECK_EQ_INT((long long)num(j, "alerts"), 4000);
        CHECK_EQ_INT((long long)num(j, "produced"), 4000);
        CHECK_EQ_INT((long long)in, 4000);
        CHECK_EQ_INT((long long)decided, 4000);
        CHECK(incidents >= 1 && incidents <= in);
        CHECK_EQ_INT((long long)(incidents + suppressed), (long long)decided);
        CHECK_EQ_INT((long long)(num(j, "incidents_new") + num(j, "incidents_repeat") +
                                 num(j, "incidents_resolved")),
                     (long long)incidents);
        CHECK_EQ_INT((long long)num(j, "incidents_delivered"), (long long)incidents);
        const cJSON *reasons = cJSON_GetObjectItem(j, "suppressed_by_reason"), *r;
        double sum = 0;
        cJSON_ArrayForEach(r, reasons) sum += r->valuedouble;
        CHECK_EQ_INT((long long)sum, (long long)suppressed);
        double pct = num(j, "suppressed_pct");
        CHECK(pct > 0 && pct < 100 && fabs(pct - 100 * suppressed / decided) < 0.01);
        CHECK(num(j, "alerts_per_second") > 0);
        /* The default: quell drains the storm preloaded into the cluster. */
        const cJSON *mode = cJSON_GetObjectItem(j, "mode");
        CHECK(cJSON_IsString(mode) && !strcmp(mode->valuestring, "backlog"));
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "live_alerts_per_second")));
        CHECK_EQ_INT((long long)num(j, "dead_lettered"), 0);
        CHECK_EQ_INT((long long)num(j, "lost"), 0);
        CHECK(num(j, "peak_rss_bytes") > 1 << 20);
        CHECK(num(j, "bytes_per_fingerprint") > 0);
        const cJSON *lat = cJSON_GetObjectItem(j, "latency_ms");
        CHECK(cJSON_IsObject(lat));
        if (cJSON_IsObject(lat)) {
            double p50 = num(lat, "p50"), p99 = num(lat, "p99"), max = num(lat, "max");
            /* Sent-time stamps: well under a minute, ordered. */
            CHECK(p50 >= 0 && p50 <= p99 && p99 <= max && max < 60000);
            CHECK_EQ_INT((long long)num(lat, "rate"), 2000);
            CHECK_EQ_INT((long long)num(lat, "loader_nice"), 10); /* the default */
            /* After the warm-up: from quell's /metrics, scraped ~0.5 s
             * into the 2 s run and at its end: the alerts decided in
             * between, fewer than the run's. (An interpolated quantile
             * may pass the maximum: no order against the whole run's.) */
            const cJSON *st = cJSON_GetObjectItem(lat, "after_warmup");
            CHECK(cJSON_IsObject(st));
            if (cJSON_IsObject(st)) {
                double n = num(st, "alerts"), sp50 = num(st, "p50"), sp99 = num(st, "p99"),
                       within = num(st, "within_5ms_pct");
                CHECK(n > 500 && n < 4000);
                CHECK(sp50 > 0 && sp50 <= sp99 && sp99 < 60000);
                CHECK(within >= 0 && within <= 100);
                CHECK(num(st, "to_consumed_p99") > 0 && num(st, "consumed_to_decided_p99") > 0);
                /* The loader's acks over the same window: some, and none
                 * slower than the whole run's slowest. */
                const cJSON *ack = cJSON_GetObjectItem(lat, "loader_produce_to_ack");
                double ack99 = num(st, "loader_produce_to_ack_p99");
                CHECK(ack99 > 0 && cJSON_IsObject(ack) && ack99 <= num(ack, "max"));
            }
        }
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "store_round_trips_per_alert")));
    }
    cJSON_Delete(j);
    free(out), free(err);

    /* The time series: header, then cumulative counts that never go down
     * and end with everything in. */
    char csv[400];
    snprintf(csv, sizeof csv, "%s/tiny-proto-run1.csv", csv_dir);
    char *text = check_read_file(csv, NULL);
    CHECK(text && !strncmp(text, "seconds,alerts_in,alerts_decided,incidents_out", 46));
    unsigned long long last_in = 0, last_dec = 0, in, dec, inc;
    int rows = 0;
    for (char *line = text ? strchr(text, '\n') : NULL; line && line[1];
         line = strchr(line + 1, '\n')) {
        double t;
        if (sscanf(line + 1, "%lf,%llu,%llu,%llu", &t, &in, &dec, &inc) != 4) break;
        CHECK(in >= last_in && dec >= last_dec && dec <= 4000 && in <= 4000);
        last_in = in, last_dec = dec, rows++;
    }
    CHECK(rows >= 2);
    CHECK_EQ_INT(last_in, 4000);
    free(text);
    unlink(csv);
    rmdir(csv_dir);
    unlink(scenario);
}

/* --baseline: each run paired with one of another binary (here the same
 * one), and the ratios of the medians reported. */
static void test_baseline(void)
{
    char scenario[300], args[1200], *out, *err;
    scenario_write(scenario, sizeof scenario, "pair",
                   "alerts: 2000\n  fingerprints: 100\n  seed: 7\n  duration: 10m\n");
    snprintf(args, sizeof args,
             "bench --scenario %s --runs 2 --format proto --latency-rate 0 --json "
             "--baseline %s --baseline-store memory",
             scenario, getenv("QUELL_BIN"));
    cJSON *j = run_json(args, &out, &err);
    if (j) {
        const cJSON *b = cJSON_GetObjectItem(j, "baseline"),
                    *ratio = cJSON_GetObjectItem(j, "ratio");
        CHECK(cJSON_IsObject(b) && cJSON_IsObject(ratio));
        if (cJSON_IsObject(b) && cJSON_IsObject(ratio)) {
            CHECK(num(b, "alerts_per_second") > 0);
            CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(b, "alerts_per_second_runs")), 2);
            /* Same binary, same storm: about the same incidents (a resolve
             * may fall before or after another partition's watermark). */
            double bi = num(b, "incidents_out"), ci = num(j, "incidents_out");
            CHECK(bi > 0 && fabs(bi - ci) <= 0.05 * ci);
            CHECK(num(ratio, "alerts_per_second") > 0 && num(ratio, "cpu_per_alert") > 0 &&
                  num(ratio, "peak_rss") > 0);
            const cJSON *bt = cJSON_GetObjectItem(b, "cpu_us_per_alert_by_thread");
            CHECK(cJSON_IsObject(bt) && num(bt, "consumer") > 0);
        }
        CHECK(num(j, "cpu_us_per_alert") > 0);
        /* By kind of thread: the consumer (lane 0 too) worked, and the
         * kinds never add up to more than the whole. Not "about the whole":
         * they are read per live thread in /proc's ticks of 10 ms, each
         * rounded down, and threads that ended before the reading (start-up,
         * admin clients) are in the whole only; on 2,000 alerts one tick
         * is 5 us per alert, and CI saw the kinds sum to half the whole. */
        const cJSON *t = cJSON_GetObjectItem(j, "cpu_us_per_alert_by_thread");
        CHECK(cJSON_IsObject(t));
        if (cJSON_IsObject(t)) {
            double sum = 0;
            static const char *const kinds[] = {"consumer", "ingest_lanes", "dedup", "librdkafka",
                                                "other"};
            for (size_t k = 0; k < 5; k++) sum += num(t, kinds[k]);
            double whole = num(j, "cpu_us_per_alert");
            /* Each kind is its own median over the runs: a tick per kind
             * of slack, and a quarter for runs that split differently. */
            double tick = 1e6 / (double)sysconf(_SC_CLK_TCK) / num(j, "alerts_decided");
            CHECK_EQ_INT((long long)num(j, "alerts_decided"), 2000);
            bool adds_up = sum <= 1.25 * whole + 5 * tick;
            if (!(num(t, "consumer") > 0 && adds_up)) {
                fprintf(stderr, "  by thread:");
                for (size_t k = 0; k < 5; k++)
                    fprintf(stderr, " %s %.3f", kinds[k], num(t, kinds[k]));
                fprintf(stderr, "; whole %.3f us per alert\n", whole);
            }
            CHECK(num(t, "consumer") > 0);
            CHECK(adds_up);
        }
    }
    cJSON_Delete(j);
    free(out), free(err);
    CHECK_EQ_INT(run("bench --scenario x.yaml --baseline /nonexistent/quell", &out, &err), 2);
    CHECK(err && strstr(err, "/nonexistent/quell"));
    free(out), free(err);
    unlink(scenario);
}

/* --batch N: a bridge's batches, N alerts per Kafka message (AlertBatch
 * or a JSON array, one partition's alerts in order). Every alert is in and
 * decided once, in about a tenth of the messages, and the storm decides
 * as it does one alert per message (same fingerprints, same order). A
 * batch's alerts share its Kafka timestamp, the event time dedup goes by,
 * so the storm is dense: a batch spans seconds of a 5-minute window. */
static void test_batch(void)
{
    char scenario[300], args[1200], *out, *err;
    scenario_write(scenario, sizeof scenario, "batch",
                   "alerts: 3000\n  fingerprints: 200\n  seed: 9\n  duration: 1m\n"
                   "  flood-share: 0.3\n");
    double incidents[3] = {0};
    const char *formats[] = {"proto", "json", "proto"};
    const int batches[] = {10, 10, 1};
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args,
                 "bench --scenario %s --runs 1 --format %s --latency-rate 0 --json --batch %d",
                 scenario, formats[i], batches[i]);
        cJSON *j = run_json(args, &out, &err);
        if (j) {
            CHECK_EQ_INT((long long)num(j, "produced"), 3000);
            CHECK_EQ_INT((long long)num(j, "alerts_in"), 3000);
            CHECK_EQ_INT((long long)num(j, "alerts_decided"), 3000);
            CHECK_EQ_INT((long long)num(j, "dead_lettered"), 0);
            CHECK_EQ_INT((long long)num(j, "batch"), batches[i]);
            double messages = num(j, "messages_in");
            if (batches[i] == 1)
                CHECK_EQ_INT((long long)messages, 3000);
            else /* each partition's last batch may be short */
                CHECK(messages >= 300 && messages < 300 + 96);
            incidents[i] = num(j, "incidents_out");
        }
        cJSON_Delete(j);
        free(out), free(err);
    }
    CHECK(incidents[2] > 0 && incidents[0] == incidents[2] && incidents[1] == incidents[2]);
    CHECK_EQ_INT(run("bench --scenario x.yaml --batch 1000000", &out, &err), 2);
    CHECK(err && strstr(err, "--batch"));
    free(out), free(err);
    unlink(scenario);
}

/* A scenario whose config quell refuses: the run stops as soon as quell
 * has exited and says so (it used to wait for commits until --timeout,
 * then blame a missing group member), in backlog and live mode. */
static void test_refused_config(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/refused.yaml", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "description: refused\ngen:\n  alerts: 1000\nconfig: |\n  dedup:\n    "
               "window: banana\n");
    fclose(f);
    const char *modes[] = {"", " --live"};
    for (int m = 0; m < 2; m++) {
        char args[900], *out = NULL, *err = NULL;
        snprintf(args, sizeof args, "bench --scenario %s --runs 1 --latency-rate 0 --timeout 100%s",
                 path, modes[m]);
        CHECK(run(args, &out, &err) != 0);
        CHECK(err && strstr(err, "quell exited before"));
        /* its log, kept for the operator, names the refused line */
        const char *log = err ? strstr(err, "quell's log: ") : NULL;
        CHECK(log != NULL);
        if (log) {
            char lp[700];
            snprintf(lp, sizeof lp, "%.*s", (int)strcspn(log + 13, ")"), log + 13);
            char *text = check_read_file(lp, NULL);
            CHECK(text && strstr(text, "window"));
            free(text);
            char kept[700];
            snprintf(kept, sizeof kept, "rm -rf '%.*s'", (int)(strlen(lp) - 4), lp);
            CHECK_EQ_INT(system(kept), 0);
        }
        free(out);
        free(err);
    }
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_usage();
    test_tiny_scenario();
    test_baseline();
    test_batch();
    test_refused_config();
    rmdir(dir);
    return check_summary("bench_cli");
}
