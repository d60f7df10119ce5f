/* See harness.h. */
#include "harness.h"

#include <librdkafka/rdkafka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void harness_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

pid_t harness_quell_start(const char *conf_path, const char *out_path, const char *log_path)
{
    const char *bin = getenv("QUELL_BIN");
    fflush(stdout); /* or the child would write our buffered output again */
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *out = freopen(out_path, "a", stdout);
        FILE *err = freopen(log_path, "a", stderr);
        (void)out;
        (void)err;
        execl(bin, "quell", "run", "-c", conf_path, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int harness_quell_stop(pid_t pid, int timeout_ms)
{
    kill(pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        harness_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

long long harness_summary_value(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    long long v = -1;
    while (fgets(line, sizeof(line), f)) {
        char *p = strstr(line, name);
        if (p && p == line + strspn(line, " ")) v = atoll(p + strlen(name));
    }
    fclose(f);
    return v;
}

bool harness_file_has(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[4096]; /* a log line longer than this is split, and not matched across */
    bool has = false;
    while (!has && fgets(line, sizeof(line), f)) has = strstr(line, what) != NULL;
    fclose(f);
    return has;
}

bool harness_wait_files(const char *const *paths, int n, const char *what, int timeout_ms)
{
    int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;; harness_sleep_ms(50)) {
        bool all = true;
        for (int i = 0; all && i < n; i++) all = harness_file_has(paths[i], what);
        if (all) return true;
        if (clock_mono_ns() >= deadline) return false;
    }
}

void harness_dump_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof(line), f)) fputs(line, stderr);
    fclose(f);
}

size_t harness_distinct_in_storm(const gen_opts_t *opts)
{
    char err[256];
    gen_t *g = gen_new(opts, err, sizeof(err));
    unsigned char *seen = calloc(opts->fingerprints, 1);
    size_t distinct = 0;
    uint64_t idx;
    while (g && seen && gen_next(g, NULL, NULL, NULL, &idx))
        if (!seen[idx]) {
            seen[idx] = 1;
            distinct++;
        }
    free(seen);
    gen_destroy(g);
    return distinct;
}

harness_expected_t harness_reference_decisions(const gen_opts_t *opts, int64_t window_ms,
                                               int64_t repeat_ms)
{
    harness_expected_t e = {0};
    int64_t *last_seen = calloc(opts->fingerprints, sizeof(int64_t));
    int64_t *last_forward = calloc(opts->fingerprints, sizeof(int64_t));
    bool *open = calloc(opts->fingerprints, sizeof(bool));
    char err[256];
    gen_t *g = gen_new(opts, err, sizeof(err));
    const void *buf;
    size_t len;
    int64_t t;
    uint64_t i;
    while (g && last_seen && last_forward && open && gen_next(g, &buf, &len, &t, &i)) {
        bool resolved = memmem(buf, len, "\"status\":\"resolved\"", 19) != NULL;
        if (open[i] && t - last_seen[i] > window_ms) open[i] = false;
        if (resolved) {
            if (open[i]) e.resolved++;
            open[i] = false;
        } else if (!open[i]) {
            open[i] = true;
            last_seen[i] = last_forward[i] = t;
            e.new ++;
        } else {
            if (t > last_seen[i]) last_seen[i] = t;
            if (t - last_forward[i] >= repeat_ms) {
                last_forward[i] = t;
                e.repeat++;
            }
        }
    }
    gen_destroy(g);
    free(last_seen);
    free(last_forward);
    free(open);
    return e;
}

int harness_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void *harness_load_thread(void *arg)
{
    harness_load_t *lt = arg;
    lt->rc = load_run(&lt->opts, &lt->result);
    return NULL;
}

int harness_mock_start(harness_mock_t *m, const char *prefix, int alert_partitions)
{
    char errbuf[256], topic[128];
    *m = (harness_mock_t){0};
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "log_level", "3", NULL, 0);
    /* QUELL_TEST_MOCK_DEBUG=1: the mock coordinator's log on stderr (and
     * each fleet instance's consumer-group log at debug level), to see
     * what a group did in a failed run. */
    if (getenv("QUELL_TEST_MOCK_DEBUG")) {
        rd_kafka_conf_set(kc, "log_level", "7", NULL, 0);
        rd_kafka_conf_set(kc, "debug", "mock", NULL, 0);
    }
    if (!(m->admin = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof(errbuf)))) return -1;
    if (!(m->mock = rd_kafka_mock_cluster_new(m->admin, 1))) return -1;
    snprintf(m->brokers, sizeof(m->brokers), "%s", rd_kafka_mock_cluster_bootstraps(m->mock));
    static const struct {
        const char *suffix;
        int partitions;
    } topics[] = {{"alerts", 0}, {"incidents", 4}, {"dlq", 1}};
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        snprintf(topic, sizeof(topic), "%s-%s", prefix, topics[i].suffix);
        int np = topics[i].partitions ? topics[i].partitions : alert_partitions;
        if (rd_kafka_mock_topic_create(m->mock, topic, np, 1) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return -1;
    }
    return 0;
}

void harness_mock_stop(harness_mock_t *m)
{
    if (m->mock) rd_kafka_mock_cluster_destroy(m->mock);
    if (m->admin) rd_kafka_destroy(m->admin);
    *m = (harness_mock_t){0};
}

int harness_consume_all(const char *brokers, const char *topic, int timeout_ms,
                        harness_consume_fn fn, void *ctx)
{
    char errbuf[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", brokers, NULL, 0);
    rd_kafka_conf_set(kc, "group.id", "quell-test-reader", NULL, 0);
    rd_kafka_conf_set(kc, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_conf_set(kc, "fetch.wait.max.ms", "10", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errbuf, sizeof(errbuf));
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    /* A real broker may answer a topic's metadata with an error (leader
     * not available yet, a stale controller view) and no partitions for a
     * while; that is not "the topic is empty". */
    int np = 0;
    for (int tries = 0; np == 0 && tries < 20; tries++) {
        const struct rd_kafka_metadata *md;
        if (tries) harness_sleep_ms(250);
        if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
        if (md->topic_cnt == 1 && !md->topics[0].err) np = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    if (np == 0) {
        fprintf(stderr, "harness: no partitions for %s\n", topic);
        rd_kafka_destroy(rk);
        return -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    /* An empty answer is asked again for a second: a broker that just
     * elected a leader may report nothing yet. */
    int64_t remaining = 0;
    for (int round = 0; remaining == 0 && round < 5; round++) {
        if (round) harness_sleep_ms(200);
        for (int p = 0; p < np; p++) {
            /* A loaded broker (a real one beside other work) may time out
             * or answer "not ready" a while: ask again rather than count 0. */
            int64_t lo = 0, hi = 0;
            rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
            for (int tries = 0; err != RD_KAFKA_RESP_ERR_NO_ERROR && tries < 6; tries++)
                err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "harness: watermarks of %s[%d]: %s\n", topic, p,
                        rd_kafka_err2str(err));
                remaining = -1;
                break;
            }
            remaining += hi - lo;
        }
        if (remaining < 0) break;
    }
    if (remaining < 0) {
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
        return -1;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int n = 0;
    int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
    while (remaining > 0 && clock_mono_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) continue;
        if (!m->err) {
            fn(m, ctx);
            n++;
            remaining--;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return remaining == 0 ? n : -1;
}

bool harness_summary_incidents(const char *path, harness_expected_t *out)
{
    FILE *f = fopen(path, "r");
    char line[512];
    bool found = false;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long long total, n, rp, rs;
        if (sscanf(line, "  incidents out %llu (new %llu, repeat %llu, resolved %llu", &total, &n,
                   &rp, &rs) == 4) {
            *out = (harness_expected_t){n, rp, rs};
            found = true;
        }
    }
    if (f) fclose(f);
    return found;
}

void harness_dir_done(const char *dir, bool failed)
{
    /* QUELL_TEST_KEEP=1 keeps a passing run's logs too, to compare them
     * with a failing run's. */
    const char *keep = getenv("QUELL_TEST_KEEP");
    if (failed || (keep && *keep == '1')) {
        fprintf(stderr, "logs kept in %s\n", dir);
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

FILE *harness_fleet_conf(const char *dir, int i, const char *prefix, const char *brokers,
                         int redis_port, char conf[160], char out[160], char log[160])
{
    snprintf(conf, 160, "%s/q%d.yaml", dir, i);
    snprintf(out, 160, "%s/q%d.out", dir, i);
    snprintf(log, 160, "%s/q%d.log", dir, i);
    FILE *f = fopen(conf, "w");
    if (f)
        fprintf(f,
                "workers: 1\n"
                "kafka:\n  brokers: \"%s\"\n  group_id: %s\n  topics: [%s-alerts]\n"
                "  output_topic: %s-incidents\n  dlq_topic: %s-dlq\n"
                "  session_timeout: 6s\n  commit_interval: 100ms\n%s"
                "http:\n  listen: \"\"\n"
                "dedup:\n  window: 1h\n  repeat_interval: 24h\n"
                "store:\n  url: redis://127.0.0.1:%d/0\n  prefix: \"%s:\"\n  timeout: 200ms\n"
                "  lease: 2s\n",
                brokers, prefix, prefix, prefix, prefix,
                getenv("QUELL_TEST_MOCK_DEBUG")
                    ? "  properties: {debug: cgrp}\nlog:\n  level: debug\n"
                    : "",
                redis_port, prefix);
    return f;
}
