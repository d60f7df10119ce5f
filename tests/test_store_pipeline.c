/*
 * Several `quell run` processes sharing one Redis (started here on a free
 * loopback port), one consumer group, the mock cluster in this process (so
 * it outlives the quell processes):
 *   - a storm spread over every partition (the same fingerprint reaches
 *     both instances at once): exactly one incident per fingerprint;
 *   - the same with `noise.min_count: 3`: the count is shared, so exactly
 *     the fingerprints seen 3 times are forwarded, once each;
 *   - kill -9 of an instance while its forwards are decided but not
 *     delivered: another instance delivers them, same incident ids;
 *   - Redis killed mid-stream and restarted empty: nothing lost,
 *     duplicates bounded by the degraded decisions and counted, the store
 *     back in use without a restart;
 *   - every key has a TTL.
 */
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>

#include "../bench/bench.h"
#include "../dedup/dedup.h"
#include "../dedup/dedup_int.h"
#include "check.h"
#include "harness.h"
#include "redis_local.h"

typedef struct {
    char brokers[256];
    rd_kafka_t *admin;
    rd_kafka_mock_cluster_t *mock;
    char dir[64];
    int time_scale;
    char prefix[64];
} env_t;

typedef struct {
    char name[32];
    char alerts[96], incidents[96], dlq[96], group[96], key_prefix[96];
    char conf_path[160];
} scenario_t;

static redis_local_t redis;

static void scenario_init(env_t *env, scenario_t *s, const char *name, const char *extra)
{
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->alerts, sizeof(s->alerts), "%s-%s-alerts", env->prefix, name);
    snprintf(s->incidents, sizeof(s->incidents), "%s-%s-incidents", env->prefix, name);
    snprintf(s->dlq, sizeof(s->dlq), "%s-%s-dlq", env->prefix, name);
    snprintf(s->group, sizeof(s->group), "%s-%s-group", env->prefix, name);
    snprintf(s->key_prefix, sizeof(s->key_prefix), "%s-%s:", env->prefix, name);
    snprintf(s->conf_path, sizeof(s->conf_path), "%s/%s.yaml", env->dir, name);
    CHECK_EQ_INT(rd_kafka_mock_topic_create(env->mock, s->alerts, 4, 1), 0);
    CHECK_EQ_INT(rd_kafka_mock_topic_create(env->mock, s->incidents, 4, 1), 0);
    CHECK_EQ_INT(rd_kafka_mock_topic_create(env->mock, s->dlq, 1, 1), 0);
    FILE *f = fopen(s->conf_path, "w");
    fprintf(f,
            "workers: 2\n"
            "kafka:\n"
            "  brokers: \"%s\"\n"
            "  group_id: %s\n"
            "  topics: [%s]\n"
            "  output_topic: %s\n"
            "  dlq_topic: %s\n"
            "  session_timeout: 6s\n"
            "  commit_interval: 100ms\n"
            "http:\n"
            "  listen: \"\"\n" /* two instances on one host: no fixed port */
            "dedup:\n"
            "  window: 1h\n"
            "  repeat_interval: 24h\n"
            "store:\n"
            "  url: redis://127.0.0.1:%d/0\n"
            "  prefix: \"%s\"\n"
            "  timeout: 200ms\n"
            "  lease: 2s\n"
            "%s",
            env->brokers, s->group, s->alerts, s->incidents, s->dlq, redis.port, s->key_prefix,
            extra ? extra : "");
    fclose(f);
}

static void out_paths(env_t *env, const scenario_t *s, const char *instance, char out[200],
                      char log[200])
{
    snprintf(out, 200, "%s/%s-%s.out", env->dir, s->name, instance);
    snprintf(log, 200, "%s/%s-%s.log", env->dir, s->name, instance);
}

static pid_t quell_start(env_t *env, const scenario_t *s, const char *instance)
{
    char out[200], log[200];
    out_paths(env, s, instance, out, log);
    return harness_quell_start(s->conf_path, out, log);
}

static int quell_stop(env_t *env, pid_t pid)
{
    return harness_quell_stop(pid, 60000 * env->time_scale);
}

static long long summary_value(env_t *env, const scenario_t *s, const char *instance,
                               const char *name)
{
    char out[200], log[200];
    out_paths(env, s, instance, out, log);
    return harness_summary_value(out, name);
}

static void dump_logs(env_t *env, const scenario_t *s)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "tail -n 30 %s/%s-*.log %s/%s-*.out >&2", env->dir, s->name,
             env->dir, s->name);
    if (system(cmd) != 0) fprintf(stderr, "(no logs)\n");
}

/* ---- incidents out ------------------------------------------------------ */

typedef struct {
    uint64_t fp;
    char id[64];
} inc_rec_t;

typedef struct {
    inc_rec_t *v;
    size_t n, cap;
    size_t not_new, degraded;
} incidents_t;

static void collect(const rd_kafka_message_t *m, incidents_t *in)
{
    cJSON *j = cJSON_ParseWithLength(m->payload, m->len);
    const cJSON *fp = cJSON_GetObjectItem(j, "fingerprint");
    const cJSON *id = cJSON_GetObjectItem(j, "incident_id");
    const cJSON *kind = cJSON_GetObjectItem(j, "kind");
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 1024;
        in->v = realloc(in->v, in->cap * sizeof(inc_rec_t));
    }
    inc_rec_t *r = &in->v[in->n++];
    r->fp = fp && cJSON_IsString(fp) ? strtoull(fp->valuestring, NULL, 16) : 0;
    snprintf(r->id, sizeof(r->id), "%s", id && cJSON_IsString(id) ? id->valuestring : "");
    if (!kind || !cJSON_IsString(kind) || strcmp(kind->valuestring, "new") != 0) in->not_new++;
    if (cJSON_IsTrue(cJSON_GetObjectItem(j, "degraded"))) in->degraded++;
    cJSON_Delete(j);
}

static void collect_fn(const rd_kafka_message_t *m, void *ctx) { collect(m, ctx); }

static int consume_all(env_t *env, const char *topic, incidents_t *in)
{
    return harness_consume_all(env->brokers, topic, 60000 * env->time_scale, collect_fn, in);
}

static int cmp_rec(const void *a, const void *b)
{
    const inc_rec_t *x = a, *y = b;
    if (x->fp != y->fp) return x->fp < y->fp ? -1 : 1;
    return strcmp(x->id, y->id);
}

typedef struct {
    size_t distinct, dups, ids_differ;
} tally_t;

static tally_t tally(incidents_t *in)
{
    tally_t t = {0};
    qsort(in->v, in->n, sizeof(inc_rec_t), cmp_rec);
    for (size_t i = 0; i < in->n; i++) {
        if (i && in->v[i].fp == in->v[i - 1].fp) {
            t.dups++;
            if (strcmp(in->v[i].id, in->v[i - 1].id) != 0) t.ids_differ++;
        } else {
            t.distinct++;
        }
    }
    return t;
}

/* Produces the storm round-robin over the 4 partitions, unkeyed: the same
 * fingerprint reaches every partition, hence both instances. */
static void produce_spread(env_t *env, const char *topic, const gen_opts_t *opts)
{
    char errbuf[256], err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", env->brokers, NULL, 0);
    rd_kafka_conf_set(kc, "linger.ms", "5", NULL, 0);
    /* The mock cluster keeps ~5 MiB per partition: compressed, the whole
     * storm fits before anyone reads it. */
    rd_kafka_conf_set(kc, "compression.codec", "lz4", NULL, 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof(errbuf));
    gen_t *g = gen_new(opts, err, sizeof(err));
    const void *buf;
    size_t len;
    int64_t t;
    uint64_t idx, i = 0;
    while (gen_next(g, &buf, &len, &t, &idx)) {
        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % 4)),
                                 RD_KAFKA_V_VALUE((void *)buf, len),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(t),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
        i++;
    }
    CHECK_EQ_INT(rd_kafka_flush(p, 30000), 0);
    gen_destroy(g);
    rd_kafka_destroy(p);
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

/* Waits until the group has committed everything produced to the topic. */
static void wait_committed(env_t *env, const scenario_t *s)
{
    load_opts_t o = load_opts_for(env, s);
    o.gen.alerts = 0;
    load_result_t r;
    int rc = load_run(&o, &r);
    if (rc) fprintf(stderr, "load: %s\n", r.error);
    CHECK_EQ_INT(rc, 0);
}

static void check_ttls(const scenario_t *s, long long want_at_least)
{
    redisContext *c = redis_local_client(&redis);
    long long no_ttl = 0;
    long long n = redis_local_count_keys(c, s->key_prefix, &no_ttl);
    CHECK(n >= want_at_least);
    CHECK_EQ_INT(no_ttl, 0);
    redisFree(c);
}

/* ---- scenarios ------------------------------------------------------------ */

/* Starts instances a and b and waits until both are in the group, two
 * partitions each, so the storm that follows reaches both. */
static void start_two(env_t *env, const scenario_t *s, pid_t *a, pid_t *b)
{
    *a = quell_start(env, s, "a");
    *b = quell_start(env, s, "b");
    char la[200], lb[200];
    snprintf(la, sizeof(la), "%s/%s-a.log", env->dir, s->name);
    snprintf(lb, sizeof(lb), "%s/%s-b.log", env->dir, s->name);
    const char *logs[] = {la, lb};
    harness_wait_files(logs, 2, "assigned 2 partitions", 60000 * env->time_scale);
}

static void test_two_instances(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "atomic", NULL);
    gen_opts_t g;
    gen_opts_defaults(&g);
    g.alerts = 20000;
    g.fingerprints = 1500;
    g.resolve_share = 0;
    pid_t a, b;
    start_two(env, &s, &a, &b);
    produce_spread(env, s.alerts, &g);
    wait_committed(env, &s);
    CHECK_EQ_INT(quell_stop(env, a), 0);
    CHECK_EQ_INT(quell_stop(env, b), 0);
    size_t want = harness_distinct_in_storm(&g);
    incidents_t in = {0};
    CHECK_EQ_INT(consume_all(env, s.incidents, &in), (long long)want);
    tally_t t = tally(&in);
    CHECK_EQ_INT(t.distinct, (long long)want);
    CHECK_EQ_INT(t.dups, 0);
    CHECK_EQ_INT(in.not_new, 0);
    /* Both did decide, and both did the work of deciding together. */
    long long da = summary_value(env, &s, "a", "alerts decided");
    long long db = summary_value(env, &s, "b", "alerts decided");
    CHECK(da > 0 && db > 0);
    CHECK_EQ_INT(da + db, 20000);
    CHECK_EQ_INT(summary_value(env, &s, "a", "store degraded") +
                     summary_value(env, &s, "b", "store degraded"),
                 0);
    check_ttls(&s, (long long)want);
    free(in.v);
    if (check_failures) dump_logs(env, &s);
}

/* Transient suppression across instances: `min_count: 3`, the storm spread
 * so every fingerprint's occurrences reach both instances. The count lives
 * in the shared entry: a fingerprint seen 3 times or more is forwarded
 * exactly once (as new), one seen less is never forwarded. */
static void test_transient_two_instances(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "transient", "noise:\n  min_count: 3\n");
    gen_opts_t g;
    gen_opts_defaults(&g);
    g.alerts = 6000;
    g.fingerprints = 3000;
    g.resolve_share = 0;
    pid_t a, b;
    start_two(env, &s, &a, &b);
    produce_spread(env, s.alerts, &g);
    wait_committed(env, &s);
    CHECK_EQ_INT(quell_stop(env, a), 0);
    CHECK_EQ_INT(quell_stop(env, b), 0);
    /* Which fingerprints reach 3 occurrences. */
    char err[256];
    gen_t *gg = gen_new(&g, err, sizeof(err));
    uint32_t *count = calloc(g.fingerprints, sizeof *count);
    uint64_t idx;
    size_t want = 0, held = 0;
    while (gen_next(gg, NULL, NULL, NULL, &idx)) count[idx]++;
    for (size_t i = 0; i < g.fingerprints; i++) {
        want += count[i] >= 3;
        held += count[i] > 0 && count[i] < 3;
    }
    free(count);
    gen_destroy(gg);
    CHECK(want > 0 && held > 0);
    incidents_t in = {0};
    CHECK_EQ_INT(consume_all(env, s.incidents, &in), (long long)want);
    tally_t t = tally(&in);
    CHECK_EQ_INT(t.distinct, (long long)want);
    CHECK_EQ_INT(t.dups, 0);
    CHECK_EQ_INT(in.not_new, 0);
    long long da = summary_value(env, &s, "a", "alerts decided");
    long long db = summary_value(env, &s, "b", "alerts decided");
    CHECK(da > 0 && db > 0);
    CHECK_EQ_INT(da + db, 6000);
    free(in.v);
    if (check_failures) dump_logs(env, &s);
}

static long long pending_in_redis(const scenario_t *s)
{
    redisContext *c = redis_local_client(&redis);
    long long pending = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000", cursor, s->key_prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY) break;
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *v = redisCommand(c, "GET %b", r->element[1]->element[i]->str,
                                         (size_t)r->element[1]->element[i]->len);
            store_entry_t e;
            if (v && v->type == REDIS_REPLY_STRING &&
                store_entry_decode(v->str, (size_t)v->len, &e) && e.pending)
                pending++;
            if (v) freeReplyObject(v);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
    return pending;
}

static void test_kill9(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "kill9", NULL);
    load_opts_t o = load_opts_for(env, &s);
    o.gen.alerts = 5000;
    o.gen.fingerprints = 300;
    produce_spread(env, s.alerts, &o.gen);
    /* Deliveries of incidents fail (retriably) for a while: the decisions
     * are in Redis, pending, and nothing is delivered yet. */
    rd_kafka_resp_err_t errs[200];
    for (int i = 0; i < 200; i++) errs[i] = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
    rd_kafka_mock_push_request_errors_array(env->mock, 0 /* Produce */, 200, errs);
    pid_t a = quell_start(env, &s, "a");
    long long pending = 0;
    int64_t deadline = clock_mono_ns() + 30LL * 1000000000 * env->time_scale;
    while ((pending = pending_in_redis(&s)) < 50 && clock_mono_ns() < deadline)
        harness_sleep_ms(20);
    CHECK(pending >= 50);
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    pid_t b = quell_start(env, &s, "b");
    wait_committed(env, &s);
    CHECK_EQ_INT(quell_stop(env, b), 0);
    size_t want = harness_distinct_in_storm(&o.gen);
    incidents_t in = {0};
    CHECK(consume_all(env, s.incidents, &in) >= (long long)want);
    tally_t t = tally(&in);
    CHECK_EQ_INT(t.distinct, (long long)want); /* every incident delivered */
    CHECK_EQ_INT(t.ids_differ, 0);             /* any repeat has the same incident id */
    CHECK_EQ_INT(in.not_new, 0);
    CHECK(summary_value(env, &s, "b", "store takeovers") > 0);
    CHECK_EQ_INT(pending_in_redis(&s), 0); /* everything confirmed in the end */
    check_ttls(&s, (long long)want);
    free(in.v);
    if (check_failures) dump_logs(env, &s);
}

static void test_redis_outage(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "outage", "  cache: 200ms\n");
    harness_load_t lt = {.opts = load_opts_for(env, &s)};
    lt.opts.gen.alerts = 30000;
    lt.opts.gen.fingerprints = 2000;
    lt.opts.rate = 6000; /* ~5 s of traffic */
    pid_t a = quell_start(env, &s, "a");
    /* The outage must fall while quell decides: its group join took 3 s
     * on a loaded CI machine, and Redis was back before the first alert. */
    char log[200];
    snprintf(log, sizeof(log), "%s/%s-a.log", env->dir, s.name);
    const char *logs[] = {log};
    CHECK(harness_wait_files(logs, 1, "assigned", 60000 * env->time_scale));
    pthread_t th;
    pthread_create(&th, NULL, harness_load_thread, &lt);
    harness_sleep_ms(1500);
    redis_local_kill(&redis, SIGKILL);
    harness_sleep_ms(1000);
    CHECK_EQ_INT(redis_local_start(&redis), 0); /* same port, empty */
    pthread_join(th, NULL);
    if (lt.rc) fprintf(stderr, "load: %s\n", lt.result.error);
    CHECK_EQ_INT(lt.rc, 0);
    CHECK_EQ_INT(quell_stop(env, a), 0);
    size_t want = harness_distinct_in_storm(&lt.opts.gen);
    incidents_t in = {0};
    int n = consume_all(env, s.incidents, &in);
    tally_t t = tally(&in);
    long long degraded = summary_value(env, &s, "a", "store degraded");
    CHECK_EQ_INT(t.distinct, (long long)want); /* nothing lost */
    CHECK(degraded > 0);                       /* the outage was seen, and counted */
    CHECK((long long)t.dups <= 2 * degraded);  /* duplicates bounded by it */
    CHECK_EQ_INT(in.degraded, degraded);       /* and marked on the incidents */
    CHECK_EQ_INT(summary_value(env, &s, "a", "alerts decided"), 30000);
    /* Recovered without a restart: Redis holds the incidents again. */
    char *text = check_read_file(log, NULL);
    CHECK(text && strstr(text, "reachable again"));
    free(text);
    check_ttls(&s, 1);
    printf("outage: %zu fingerprints, %d incidents out, %zu duplicates, %lld degraded\n", want, n,
           t.dups, degraded);
    free(in.v);
    if (check_failures) dump_logs(env, &s);
}

/* What quell must decide, worked out independently (as in test_pipeline):
 * per fingerprint, a window from the last occurrence, a reminder every
 * repeat interval, resolved closes. */
/* Windows that expire, reminders and resolves decided through Redis (cache,
 * batches and count flushes included) equal the reference exactly. */
static void test_window_semantics(env_t *env)
{
    scenario_t s;
    scenario_init(env, &s, "window", NULL);
    /* scenario_init wrote 1h/24h; this scenario needs 5m/30m. */
    char *text = check_read_file(s.conf_path, NULL);
    char *w = strstr(text, "window: 1h"), *r = strstr(text, "repeat_interval: 24h");
    FILE *f = fopen(s.conf_path, "w");
    fprintf(f, "%.*swindow: 5m\n  repeat_interval: 30m%s", (int)(w - text), text,
            r + strlen("repeat_interval: 24h"));
    fclose(f);
    free(text);
    load_opts_t o = load_opts_for(env, &s);
    o.gen.alerts = 30000;
    o.gen.fingerprints = 500;
    o.gen.spacing_ms = 200; /* 100 minutes of event time */
    o.gen.resolve_share = 0.05;
    pid_t a = quell_start(env, &s, "a");
    load_result_t res;
    int rc = load_run(&o, &res);
    if (rc) fprintf(stderr, "load: %s\n", res.error);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(quell_stop(env, a), 0);
    harness_expected_t e = harness_reference_decisions(&o.gen, 5 * 60000, 30 * 60000);
    CHECK(e.new > 500 && e.repeat > 0 && e.resolved > 0);
    char path[200];
    snprintf(path, sizeof(path), "%s/%s-a.out", env->dir, s.name);
    harness_expected_t got = {0};
    CHECK(harness_summary_incidents(path, &got));
    CHECK_EQ_INT(got.new, (long long)e.new);
    CHECK_EQ_INT(got.repeat, (long long)e.repeat);
    CHECK_EQ_INT(got.resolved, (long long)e.resolved);
    CHECK(summary_value(env, &s, "a", "store cache hits") > 0);
    CHECK_EQ_INT(summary_value(env, &s, "a", "store degraded"), 0);
    if (check_failures) dump_logs(env, &s);
}

int main(void)
{
    if (!redis_local_available()) {
        printf("SKIP: redis-server not installed\n");
        return 77;
    }
    env_t env = {0};
    const char *scale = getenv("QUELL_TIME_SCALE");
    env.time_scale = scale && atoi(scale) > 0 ? atoi(scale) : 1;
    snprintf(env.prefix, sizeof(env.prefix), "s%d-%lld", (int)getpid(),
             (long long)(clock_wall_ms() % 100000));
    snprintf(env.dir, sizeof(env.dir), "/tmp/quell-st-XXXXXX");
    CHECK(mkdtemp(env.dir) != NULL);
    CHECK_EQ_INT(redis_local_start(&redis), 0);
    char errbuf[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "log_level", "3", NULL, 0);
    env.admin = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof(errbuf));
    env.mock = rd_kafka_mock_cluster_new(env.admin, 1);
    snprintf(env.brokers, sizeof(env.brokers), "%s", rd_kafka_mock_cluster_bootstraps(env.mock));
    if (!check_failures) {
        test_two_instances(&env);
        test_transient_two_instances(&env);
        test_window_semantics(&env);
        test_kill9(&env);
        test_redis_outage(&env);
    }
    rd_kafka_mock_cluster_destroy(env.mock);
    rd_kafka_destroy(env.admin);
    redis_local_stop(&redis);
    harness_dir_done(env.dir, check_failures > 0);
    return check_summary("store pipeline");
}
