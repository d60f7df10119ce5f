/*
 * End to end through the real binary: `quell run` as a child process, Kafka
 * in, incidents and dead letters out.
 *
 * By default the broker is librdkafka's mock cluster started in this test
 * process (so it outlives quell restarts); with --bootstrap-file FILE it is
 * the real Apache Kafka started by scripts/kafka-local.sh (exit 77 = skipped
 * when that file is absent because Java or Maven is missing). Every scenario
 * uses its own topics and group, so runs never see each other's data.
 */
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../bench/bench.h"
#include "check.h"
#include "harness.h"

typedef struct {
    char brokers[256];
    bool real;
    rd_kafka_t *admin; /* owns the mock cluster too, when there is one */
    rd_kafka_mock_cluster_t *mock;
    char dir[64];
    int time_scale;
    char prefix[64];
} env_t;

typedef struct {
    char alerts[96], incidents[96], dlq[96], group[96];
    char conf_path[160], log_path[160], out_path[160], snapshot_path[160];
} scenario_t;

static int create_topic(env_t *env, const char *name, int partitions)
{
    if (!env->real) return rd_kafka_mock_topic_create(env->mock, name, partitions, 1) ? -1 : 0;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, partitions, 1, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(env->admin);
    rd_kafka_CreateTopics(env->admin, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = -1;
    if (ev) {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        rc = (n == 1 &&
              (rd_kafka_topic_result_error(tr[0]) == RD_KAFKA_RESP_ERR_NO_ERROR ||
               rd_kafka_topic_result_error(tr[0]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
                 ? 0
                 : -1;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

static void scenario_init(env_t *env, scenario_t *s, const char *name, const char *window,
                          const char *repeat_interval)
{
    snprintf(s->alerts, sizeof(s->alerts), "%s-%s-alerts", env->prefix, name);
    snprintf(s->incidents, sizeof(s->incidents), "%s-%s-incidents", env->prefix, name);
    snprintf(s->dlq, sizeof(s->dlq), "%s-%s-dlq", env->prefix, name);
    snprintf(s->group, sizeof(s->group), "%s-%s-group", env->prefix, name);
    snprintf(s->conf_path, sizeof(s->conf_path), "%s/%s.yaml", env->dir, name);
    snprintf(s->log_path, sizeof(s->log_path), "%s/%s.log", env->dir, name);
    snprintf(s->out_path, sizeof(s->out_path), "%s/%s.out", env->dir, name);
    snprintf(s->snapshot_path, sizeof(s->snapshot_path), "%s/%s.state", env->dir, name);
    CHECK_EQ_INT(create_topic(env, s->alerts, 4), 0);
    CHECK_EQ_INT(create_topic(env, s->incidents, 4), 0);
    CHECK_EQ_INT(create_topic(env, s->dlq, 1), 0);
    FILE *f = fopen(s->conf_path, "w");
    fprintf(f,
            "workers: 2\n"
            /* More lanes than the 4 partitions share evenly, whatever the
             * machine's cores: order and watermarks across lanes. */
            "ingest:\n"
            "  threads: 3\n"
            "kafka:\n"
            "  brokers: \"%s\"\n"
            "  group_id: %s\n"
            "  topics: [%s]\n"
            "  output_topic: %s\n"
            "  dlq_topic: %s\n"
            "  session_timeout: 6s\n"
            "http:\n"
            "  listen: \"127.0.0.1:0\"\n" /* tests run side by side: any free port */
            "dedup:\n"
            "  window: %s\n"
            "  repeat_interval: %s\n"
            "  snapshot_file: %s\n"
            /* Commits follow the snapshots, and quell load paces itself
             * on commits: at the default 5 s its pauses reach the 5 s a
             * partition idle at its end needs to stop holding the
             * watermark back (consumer.c), and windows close early. */
            "  snapshot_interval: 500ms\n",
            env->brokers, s->group, s->alerts, s->incidents, s->dlq, window, repeat_interval,
            s->snapshot_path);
    fclose(f);
}

/* Reads every message of `topic` from the beginning to its end. */
static int consume_all(env_t *env, const char *topic, harness_consume_fn fn, void *ctx)
{
    return harness_consume_all(env->brokers, topic, 60000 * env->time_scale, fn, ctx);
}

typedef struct {
    uint64_t *fps;
    size_t n, cap;
    size_t not_new;
} incidents_t;

static void collect_incident(const rd_kafka_message_t *m, void *ctx)
{
    incidents_t *in = ctx;
    cJSON *j = cJSON_ParseWithLength(m->payload, m->len);
    const cJSON *fp = cJSON_GetObjectItem(j, "fingerprint");
    const cJSON *kind = cJSON_GetObjectItem(j, "kind");
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 1024;
        in->fps = realloc(in->fps, in->cap * sizeof(uint64_t));
    }
    in->fps[in->n++] = fp ? strtoull(fp->valuestring, NULL, 16) : 0;
    if (!kind || strcmp(kind->valuestring, "new") != 0) in->not_new++;
    /* The key is the fingerprint, so one fingerprint stays on one partition. */
    CHECK(fp && m->key_len == 16 && memcmp(m->key, fp->valuestring, 16) == 0);
    cJSON_Delete(j);
}

/* Exactly one incident per distinct firing fingerprint, nothing else. */
static pid_t quell_start(const scenario_t *s)
{
    return harness_quell_start(s->conf_path, s->out_path, s->log_path);
}

/* SIGTERM, then wait for the drain; returns the exit code (-1: killed). */
static int quell_stop(env_t *env, pid_t pid)
{
    return harness_quell_stop(pid, 60000 * env->time_scale);
}

static void check_one_incident_each(env_t *env, const scenario_t *s, size_t want)
{
    incidents_t in = {0};
    int n = consume_all(env, s->incidents, collect_incident, &in);
    CHECK_EQ_INT(n, (long long)want);
    if (in.n) qsort(in.fps, in.n, sizeof(uint64_t), harness_cmp_u64);
    size_t distinct = 0, dups = 0;
    for (size_t i = 0; i < in.n; i++) {
        if (i && in.fps[i] == in.fps[i - 1])
            dups++;
        else
            distinct++;
    }
    CHECK_EQ_INT(distinct, (long long)want);
    CHECK_EQ_INT(dups, 0);
    CHECK_EQ_INT(in.not_new, 0);
    free(in.fps);
}

static load_opts_t load_opts_for(env_t *env, const scenario_t *s)
{
    load_opts_t o = {.brokers = env->brokers,
                     .topic = s->alerts,
                     .group = s->group,
                     .output_topic = s->incidents,
                     .dlq_topic = s->dlq,
                     .max_ahead = 20000,
                     .wait = true,
                     .timeout_s = 120 * env->time_scale};
    gen_opts_defaults(&o.gen);
    o.gen.resolve_share = 0;
    return o;
}

/* A storm through quell: one incident per distinct fingerprint. */
static void test_storm(env_t *env, gen_format_t format)
{
    scenario_t s;
    scenario_init(env, &s, format == GEN_JSON ? "storm-json" : "storm-proto", "1h", "24h");
    pid_t pid = quell_start(&s);
    load_opts_t o = load_opts_for(env, &s);
    o.gen.alerts = 20000;
    o.gen.fingerprints = 800;
    o.gen.format = format;
    load_result_t r;
    int rc = load_run(&o, &r);
    if (rc) fprintf(stderr, "load: %s\n", r.error);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(r.produced, 20000);
    CHECK_EQ_INT(quell_stop(env, pid), 0);
    size_t want = harness_distinct_in_storm(&o.gen);
    CHECK(want > 100);
    CHECK_EQ_INT(r.incidents, (long long)want);
    check_one_incident_each(env, &s, want);
    /* quell's own counters agree with what Kafka saw: every message once,
     * or (at least once) more when the group lost its partitions before
     * their offsets were committed (a session timeout on a starved
     * broker): then re-read, and every re-read a duplicate. */
    long long in = harness_summary_value(s.out_path, "alerts in");
    CHECK(in == 20000 || (in > 20000 && harness_file_has(s.log_path, "partitions (lost)")));
    CHECK_EQ_INT(harness_summary_value(s.out_path, "alerts decided"), in);
    CHECK_EQ_INT(harness_summary_value(s.out_path, "duplicate"), in - (long long)want);
    if (check_failures) harness_dump_file(s.log_path);
}

/* One "    NAME p50 X ms, p99 Y ms, max Z ms" line of the run summary's
 * decision latency (NAME "decision latency" or one of its shares). */
static bool summary_latency(const char *path, const char *name, double v[3])
{
    FILE *f = fopen(path, "r");
    char line[512], fmt[160];
    snprintf(fmt, sizeof fmt, " %s p50 %%lf ms, p99 %%lf ms, max %%lf ms", name);
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = sscanf(line, fmt, &v[0], &v[1], &v[2]) == 3;
    if (f) fclose(f);
    return found;
}

/* Messages stamped when sent: the summary gives the decision latency and
 * its split where quell took each message, and neither share exceeds the
 * whole at any quantile (per alert, each is a part of it). */
static void test_latency_split(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "latency", "1h", "24h");
    pid_t pid = quell_start(&s);
    load_opts_t o = load_opts_for(env, &s);
    o.gen.alerts = 5000;
    o.gen.fingerprints = 200;
    o.stamp_now = true;
    o.rate = 5000;
    load_result_t r;
    int rc = load_run(&o, &r);
    if (rc) fprintf(stderr, "load: %s\n", r.error);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(quell_stop(env, pid), 0);
    double whole[3], consumed[3], in_quell[3];
    CHECK(summary_latency(s.out_path, "decision latency", whole));
    CHECK(summary_latency(s.out_path, "to consumed", consumed));
    CHECK(summary_latency(s.out_path, "consumed to decided", in_quell));
    for (int i = 0; i < 3; i++) {
        CHECK(consumed[i] <= whole[i]);
        CHECK(in_quell[i] <= whole[i]);
    }
    CHECK(whole[2] > 0);
    if (check_failures) harness_dump_file(s.out_path);
}

/* What quell must decide for a storm, worked out independently from the
 * rules in docs/dedup.md: per fingerprint, a window from the last occurrence,
 * a reminder every repeat interval, resolved closes. */
/* Windows that expire, reminders and resolves, across 4 partitions read at
 * their own pace: quell's decisions equal the reference exactly (the
 * watermark keeps one partition's clock from closing another's incidents). */
static void test_window_semantics(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "window", "5m", "30m");
    pid_t pid = quell_start(&s);
    load_opts_t o = load_opts_for(env, &s);
    o.gen.alerts = 30000;
    o.gen.fingerprints = 500;
    o.gen.spacing_ms = 200; /* 100 minutes of event time */
    o.gen.resolve_share = 0.05;
    load_result_t r;
    int rc = load_run(&o, &r);
    if (rc) fprintf(stderr, "load: %s\n", r.error);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(quell_stop(env, pid), 0);
    harness_expected_t e = harness_reference_decisions(&o.gen, 5 * 60000, 30 * 60000);
    CHECK(e.new > 500 && e.repeat > 0 && e.resolved > 0); /* every rule is exercised */
    long long forwarded = (long long)(e.new + e.repeat + e.resolved);
    CHECK_EQ_INT(r.incidents, forwarded);
    CHECK_EQ_INT(harness_summary_value(s.out_path, "incidents out"), forwarded);
    harness_expected_t got = {0};
    CHECK(harness_summary_incidents(s.out_path, &got));
    CHECK_EQ_INT(got.new, (long long)e.new);
    CHECK_EQ_INT(got.repeat, (long long)e.repeat);
    CHECK_EQ_INT(got.resolved, (long long)e.resolved);
    if (check_failures) harness_dump_file(s.log_path);
}

typedef struct {
    int dead;
    int with_source_offset;
    char reasons[8][32];
    char values[8][64];
} dlq_t;

static void collect_dead(const rd_kafka_message_t *m, void *ctx)
{
    dlq_t *d = ctx;
    rd_kafka_headers_t *h;
    const void *v;
    size_t n;
    if (d->dead >= 8) return;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (rd_kafka_header_get_last(h, "quell-error", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
            snprintf(d->reasons[d->dead], 32, "%.*s", (int)n, (const char *)v);
        if (rd_kafka_header_get_last(h, "quell-source-offset", &v, &n) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
            d->with_source_offset++;
    }
    snprintf(d->values[d->dead], 64, "%.*s", (int)m->len, (const char *)m->payload);
    d->dead++;
}

static void produce(rd_kafka_t *p, const char *topic, const char *value, const char *content_type)
{
    rd_kafka_headers_t *h = NULL;
    if (content_type) {
        h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, "content-type", -1, content_type, -1);
    }
    rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                      RD_KAFKA_V_END);
}

/* Malformed messages reach the dead-letter topic unchanged, with a reason,
 * and do not stop the stream. */
static void test_dead_letters(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "dlq", "1h", "24h");
    char errbuf[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", env->brokers, NULL, 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof(errbuf));
    produce(p, s.alerts, "{\"labels\":{\"alertname\":\"A\"", NULL);           /* truncated */
    produce(p, s.alerts, "{\"labels\":{}}", NULL);                            /* no labels */
    produce(p, s.alerts, "{\"labels\":{\"alertname\":\"B\"}}", "text/plain"); /* content-type */
    produce(p, s.alerts, "{\"labels\":{\"alertname\":\"Good\",\"job\":\"x\"}}", NULL);
    produce(p, s.alerts,
            "[{\"labels\":{\"alertname\":\"Good\",\"job\":\"x\"}},{\"labels\":{\"alertname\":"
            "\"Other\"}}]",
            "application/json");
    rd_kafka_flush(p, 10000);
    rd_kafka_destroy(p);

    pid_t pid = quell_start(&s);
    load_opts_t o = load_opts_for(env, &s);
    o.gen.alerts = 0; /* produce nothing more: wait for the group to commit */
    load_result_t r;
    int rc = load_run(&o, &r);
    if (rc) fprintf(stderr, "load: %s\n", r.error);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(quell_stop(env, pid), 0);

    dlq_t d = {0};
    CHECK_EQ_INT(consume_all(env, s.dlq, collect_dead, &d), 3);
    CHECK_EQ_STR(d.reasons[0], "bad_json");
    CHECK_EQ_STR(d.reasons[1], "no_labels");
    CHECK_EQ_STR(d.reasons[2], "bad_content_type");
    CHECK_EQ_STR(d.values[1], "{\"labels\":{}}"); /* unchanged */
    CHECK_EQ_INT(d.with_source_offset, 3);
    incidents_t in = {0};
    CHECK_EQ_INT(consume_all(env, s.incidents, collect_incident, &in), 2); /* Good, Other */
    free(in.fps);
    CHECK_EQ_INT(harness_summary_value(s.out_path, "dead-lettered"), 3);
    if (check_failures) harness_dump_file(s.log_path);
}

/* Rules in the running pipeline: an exclusion suppresses, and a SIGHUP
 * reload (an invalid file refused first, then a valid one) adds one. */
static void wait_commit(env_t *env, const scenario_t *s)
{
    load_opts_t o = load_opts_for(env, s);
    o.gen.alerts = 0; /* produce nothing more: wait for the group to commit */
    load_result_t r;
    int rc = load_run(&o, &r);
    if (rc) fprintf(stderr, "load: %s\n", r.error);
    CHECK_EQ_INT(rc, 0);
}

static bool log_has(const char *path, const char *what, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        char *text = check_read_file(path, NULL);
        bool found = text && strstr(text, what);
        free(text);
        if (found) return true;
        harness_sleep_ms(50);
    }
    return false;
}

/* Runs a shell command; its stdout (cut at cap - 1 bytes) in out, its exit
 * status returned (-1 when it could not run). */
static int run_capture(const char *cmd, char *out, size_t cap)
{
    FILE *pp = popen(cmd, "r");
    size_t got = pp ? fread(out, 1, cap - 1, pp) : 0;
    out[got] = '\0';
    return pp ? WEXITSTATUS(pclose(pp)) : -1;
}

static void test_rules_and_reload(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "rules", "1h", "24h");
    char base[4096];
    char *text = check_read_file(s.conf_path, NULL);
    snprintf(base, sizeof base, "%s", text ? text : "");
    free(text);
    FILE *f = fopen(s.conf_path, "a");
    fprintf(f, "exclusions:\n  - {name: dev, matchers: ['env=\"dev\"']}\n");
    fclose(f);
    char errbuf[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", env->brokers, NULL, 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof(errbuf));
    produce(p, s.alerts, "{\"labels\":{\"alertname\":\"A\",\"env\":\"prod\"}}", NULL);
    produce(p, s.alerts, "{\"labels\":{\"alertname\":\"B\",\"env\":\"dev\"}}", NULL);
    rd_kafka_flush(p, 10000);
    pid_t pid = quell_start(&s);
    wait_commit(env, &s);
    /* An invalid file is refused; the old rules stay. */
    f = fopen(s.conf_path, "w");
    fprintf(f, "%sexclusions:\n  - {name: broken, matchers: ['x=~\"(\"']}\n", base);
    fclose(f);
    kill(pid, SIGHUP);
    CHECK(log_has(s.log_path, "reload refused", 10000 * env->time_scale));
    f = fopen(s.conf_path, "w");
    fprintf(f,
            "%sexclusions:\n  - {name: dev, matchers: ['env=\"dev\"']}\n"
            "  - {name: no-c, matchers: ['alertname=\"C\"']}\n",
            base);
    fclose(f);
    kill(pid, SIGHUP);
    CHECK(log_has(s.log_path, "rules reloaded", 10000 * env->time_scale));
    produce(p, s.alerts, "{\"labels\":{\"alertname\":\"C\",\"env\":\"prod\"}}", NULL);
    produce(p, s.alerts, "{\"labels\":{\"alertname\":\"D\",\"env\":\"dev\"}}", NULL);
    produce(p, s.alerts, "{\"labels\":{\"alertname\":\"E\",\"env\":\"prod\"}}", NULL);
    rd_kafka_flush(p, 10000);
    rd_kafka_destroy(p);
    wait_commit(env, &s);
    CHECK_EQ_INT(quell_stop(env, pid), 0);
    incidents_t in = {0};
    CHECK_EQ_INT(consume_all(env, s.incidents, collect_incident, &in), 2); /* A, E */
    free(in.fps);
    /* quell replay reads the same topic and, with the final rules, agrees;
     * twice, byte for byte. */
    char cmd[2048], *first = NULL;
    snprintf(cmd, sizeof cmd, "%s replay -c %s --brokers '%s' --format json kafka:%s 2>>%s",
             getenv("QUELL_BIN"), s.conf_path, env->brokers, s.alerts, s.log_path);
    for (int round = 0; round < 2; round++) {
        char out[8192];
        CHECK_EQ_INT(run_capture(cmd, out, sizeof out), 0);
        CHECK(strstr(out, "\"alerts_in\":5,") != NULL);
        CHECK(strstr(out, "\"incidents_out\":2,") != NULL);
        CHECK(strstr(out, "\"excluded:no-c\":{\"alerts\":1,") != NULL);
        CHECK(strstr(out, "\"excluded:dev\":{\"alerts\":2,") != NULL);
        if (round == 0)
            first = strdup(out);
        else
            CHECK(first && strcmp(first, out) == 0);
        if (check_failures) fprintf(stderr, "replay output:\n%s\n", out);
    }
    free(first);
    /* quell suggest reads the inputs replay takes, the topic included. */
    snprintf(cmd, sizeof cmd, "%s suggest -c %s --brokers '%s' kafka:%s 2>>%s", getenv("QUELL_BIN"),
             s.conf_path, env->brokers, s.alerts, s.log_path);
    char out[16384];
    CHECK_EQ_INT(run_capture(cmd, out, sizeof out), 0);
    CHECK(strstr(out, "# quell suggest: 5 alerts from 1 input") != NULL);
    if (check_failures) harness_dump_file(s.log_path);
}

/* The group's committed offsets of `topic` (partitions 0..3; -1: none);
 * false when they could not be read. */
static bool committed_offsets(env_t *env, const scenario_t *s, int64_t off[4])
{
    char errbuf[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", env->brokers, NULL, 0);
    rd_kafka_conf_set(kc, "group.id", s->group, NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errbuf, sizeof(errbuf));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (int p = 0; p < 4; p++) rd_kafka_topic_partition_list_add(l, s->alerts, p);
    bool ok = rd_kafka_committed(rk, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int p = 0; p < 4; p++) off[p] = ok ? l->elems[p].offset : -1;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return ok;
}

/* Messages of `topic` the group has committed so far. */
static long long committed_total(env_t *env, const scenario_t *s)
{
    int64_t off[4];
    long long total = 0;
    if (committed_offsets(env, s, off))
        for (int p = 0; p < 4; p++)
            if (off[p] > 0) total += off[p];
    return total;
}

/* Partitions of `topic` whose start the group has committed. */
static int committed_partitions(env_t *env, const scenario_t *s)
{
    int64_t off[4];
    int n = 0;
    if (committed_offsets(env, s, off))
        for (int p = 0; p < 4; p++) n += off[p] >= 0;
    return n;
}

/* The start of an empty partition new to the group is committed even
 * when the broker refuses the first commits ("rebalance in progress", as
 * when a second instance joins at that moment): before, nothing else
 * ever committed an idle partition, and quell load waited on it until
 * its timeout (test_novelty_shared, seen under the sanitizers). The mock
 * cluster refuses the first four OffsetCommit requests. */
static void test_start_commit_refused(env_t *env)
{
    if (env->real) return; /* request errors are the mock cluster's */
    scenario_t s;
    scenario_init(env, &s, "startcommit", "1h", "24h");
    rd_kafka_mock_push_request_errors(
        env->mock, 8 /* OffsetCommit */, 4, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
    pid_t pid = quell_start(&s);
    int64_t deadline = clock_mono_ns() + 20LL * 1000000000 * env->time_scale;
    int n = 0;
    while ((n = committed_partitions(env, &s)) < 4 && clock_mono_ns() < deadline)
        harness_sleep_ms(100);
    if (n < 4) fprintf(stderr, "start commits: %d of 4 partitions committed\n", n);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(quell_stop(env, pid), 0);
    if (check_failures) harness_dump_file(s.log_path);
}

/* SIGTERM while alerts are flowing, then a restart: every fingerprint is
 * forwarded exactly once over the two runs and nothing is lost. */
static void test_restart(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "restart", "1h", "24h");
    harness_load_t lt = {.opts = load_opts_for(env, &s)};
    lt.opts.gen.alerts = 40000;
    lt.opts.gen.fingerprints = 3000;
    lt.opts.rate = 15000; /* ~2.7 s of traffic */
    pid_t pid = quell_start(&s);
    pthread_t t;
    pthread_create(&t, NULL, harness_load_thread, &lt);
    /* Stop once quell has committed part of the storm, mid-stream. */
    int64_t deadline = clock_mono_ns() + 60LL * 1000000000 * env->time_scale;
    while (committed_total(env, &s) < 5000 && clock_mono_ns() < deadline) harness_sleep_ms(50);
    CHECK_EQ_INT(quell_stop(env, pid), 0);
    long long first_run = harness_summary_value(s.out_path, "alerts in");
    pid = quell_start(&s);
    pthread_join(t, NULL);
    if (lt.rc) fprintf(stderr, "load: %s\n", lt.result.error);
    CHECK_EQ_INT(lt.rc, 0);
    CHECK_EQ_INT(quell_stop(env, pid), 0);
    /* It really was mid-stream: the first run saw part of the storm. */
    CHECK(first_run > 0 && first_run < 40000);
    size_t want = harness_distinct_in_storm(&lt.opts.gen);
    check_one_incident_each(env, &s, want);
    if (check_failures) harness_dump_file(s.log_path);
}

static int env_init(env_t *env, int argc, char **argv)
{
    const char *scale = getenv("QUELL_TIME_SCALE");
    env->time_scale = scale ? atoi(scale) : 1;
    if (env->time_scale < 1) env->time_scale = 1;
    snprintf(env->prefix, sizeof(env->prefix), "t%d-%lld", (int)getpid(),
             (long long)(clock_wall_ms() % 100000));
    snprintf(env->dir, sizeof(env->dir), "/tmp/quell-it-XXXXXX");
    if (!mkdtemp(env->dir)) return -1;
    char errbuf[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "log_level", "3", NULL, 0);
    if (argc == 3 && strcmp(argv[1], "--bootstrap-file") == 0) {
        FILE *f = fopen(argv[2], "r");
        if (!f || !fgets(env->brokers, sizeof(env->brokers), f)) {
            printf("SKIP: no real Kafka broker (%s missing: Java or Maven not installed)\n",
                   argv[2]);
            if (f) fclose(f);
            rd_kafka_conf_destroy(kc);
            rmdir(env->dir);
            return 77;
        }
        fclose(f);
        env->brokers[strcspn(env->brokers, "\r\n")] = '\0';
        env->real = true;
        rd_kafka_conf_set(kc, "bootstrap.servers", env->brokers, NULL, 0);
        env->admin = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof(errbuf));
        printf("real Kafka at %s\n", env->brokers);
    } else {
        env->admin = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof(errbuf));
        env->mock = rd_kafka_mock_cluster_new(env->admin, 1);
        snprintf(env->brokers, sizeof(env->brokers), "%s",
                 rd_kafka_mock_cluster_bootstraps(env->mock));
        printf("mock cluster at %s\n", env->brokers);
    }
    return env->admin ? 0 : -1;
}

/* With a `route:`: incidents grouped per alertname into a file receiver
 * and, for one route with `continue`, a kafka receiver. Offsets are
 * committed only after delivery (load waits for the commits), and every
 * fingerprint of the storm reaches the file: nothing lost in grouping. */
/* The restarted quell of test_routing logged "running:" after restoring
 * its groups. */
static bool restarted_running(const char *log_path)
{
    char *log = check_read_file(log_path, NULL);
    const char *restored = log ? strstr(log, "open groups from") : NULL;
    bool running = restored && strstr(restored, "running: ") != NULL;
    free(log);
    return running;
}

static void test_routing(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "routing", "1h", "24h");
    char notes[200];
    snprintf(notes, sizeof(notes), "%s/routing.notifications", env->dir);
    FILE *f = fopen(s.conf_path, "a");
    fprintf(f,
            "route:\n  receiver: file\n  group_by: [alertname]\n  group_wait: 500ms\n"
            "  group_interval: 1s\n  routes:\n    - matchers: ['alertname=~\".+\"']\n"
            "      receiver: bus\n      continue: true\n    - receiver: file\n"
            "receivers:\n  - {name: file, type: file, path: '%s'}\n"
            "  - {name: bus, type: kafka, topic: '%s'}\n",
            notes, s.incidents);
    fclose(f);
    pid_t pid = quell_start(&s);
    load_opts_t o = load_opts_for(env, &s);
    o.gen.alerts = 5000;
    o.gen.fingerprints = 300;
    load_result_t r;
    int rc = load_run(&o, &r);
    if (rc) fprintf(stderr, "load: %s\n", r.error);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(quell_stop(env, pid), 0);
    size_t want = harness_distinct_in_storm(&o.gen);
    char *text = check_read_file(notes, NULL);
    CHECK(text != NULL);
    uint64_t *fps = calloc(want + 1, sizeof(uint64_t));
    size_t n_fps = 0, lines = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = '\0';
        lines++;
        cJSON *doc = cJSON_Parse(line);
        CHECK(doc != NULL);
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItem(doc, "alerts"))
        {
            uint64_t fp = strtoull(cJSON_GetObjectItem(a, "fingerprint")->valuestring, NULL, 16);
            bool seen = false;
            for (size_t i = 0; i < n_fps && !seen; i++) seen = fps[i] == fp;
            if (!seen && n_fps <= want) fps[n_fps++] = fp;
        }
        cJSON_Delete(doc);
        line = nl + 1;
    }
    CHECK_EQ_INT(n_fps, want);
    CHECK(lines > 0 && lines < want); /* grouped: fewer notifications than incidents */
    CHECK(harness_summary_value(s.out_path, "notifications") > 0);
    free(fps);
    free(text);
    /* Open groups are kept beside the dedup snapshot and restored, so a
     * restart does not page them again. */
    char groups[200];
    snprintf(groups, sizeof(groups), "%s.groups", s.snapshot_path);
    CHECK(access(groups, R_OK) == 0);
    pid = quell_start(&s);
    const char *logs[] = {s.log_path};
    CHECK(harness_wait_files(logs, 1, "open groups from", 30000 * env->time_scale));
    /* Stopped once it runs: quell takes SIGTERM as a drain only from its
     * "running:" line on (the groups are restored before), and the log
     * holds the first run's "running:" too. */
    HARNESS_WAIT_UNTIL(restarted_running(s.log_path), 30000 * env->time_scale);
    CHECK(restarted_running(s.log_path));
    CHECK_EQ_INT(quell_stop(env, pid), 0);
    if (check_failures) harness_dump_file(s.log_path);
}

static void env_destroy(env_t *env)
{
    if (env->mock) rd_kafka_mock_cluster_destroy(env->mock);
    if (env->admin) rd_kafka_destroy(env->admin);
    harness_dir_done(env->dir, check_failures > 0);
}

int main(int argc, char **argv)
{
    env_t env = {0};
    int rc = env_init(&env, argc, argv);
    if (rc == 77) return 77;
    CHECK_EQ_INT(rc, 0);
    if (rc) return check_summary("pipeline");
    test_storm(&env, GEN_JSON);
    test_storm(&env, GEN_PROTO);
    test_latency_split(&env);
    test_window_semantics(&env);
    test_dead_letters(&env);
    test_rules_and_reload(&env);
    test_restart(&env);
    test_start_commit_refused(&env);
    test_routing(&env);
    env_destroy(&env);
    return check_summary(env.real ? "pipeline (real Kafka)" : "pipeline (mock cluster)");
}
