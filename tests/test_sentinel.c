/*
 * Redis AUTH and Sentinel, against real servers this test starts on free
 * loopback ports (redis-server, and redis-server --sentinel):
 *   - store.url credentials (USER:PASSWORD@, :PASSWORD@, %-escapes) and
 *     store.password_file, parsed;
 *   - redis_open against a server with requirepass and an ACL user: the
 *     right credentials connect, wrong ones are refused with the reason;
 *   - store.sentinel_password_file: a sentinel with requirepass answers
 *     only after AUTH (refused without it, with the reason);
 *   - `quell run` with an ACL user, the master found through a sentinel
 *     that requires a password,
 *     a storm going on: the master is killed (SIGKILL) mid-storm, the
 *     sentinel promotes the replica, quell asks again and carries on.
 *     Every fingerprint is forwarded (0 lost); duplicates are counted and
 *     bounded by the alerts decided locally while no master answered
 *     (fail_open, counted as `store degraded`) plus what the replica had
 *     not yet received; the failover gap (kill to the last worker back on
 *     the new master) is printed.
 */
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <sys/stat.h>

#include "../bench/bench.h"
#include "../dedup/dedup.h"
#include "check.h"
#include "harness.h"
/* Only its free-port and availability helpers are used here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "redis_local.h"
#pragma GCC diagnostic pop

#define PASSWORD      "s3cret pass"
#define ACL_USER      "quell"
#define ACL_PASS      "q:pw@1"
#define SENTINEL_PASS "sentinel pw"

typedef struct {
    pid_t pid;
    int port;
    char conf[160];
} server_t;

static char dir[64];
static server_t servers[3]; /* master, replica, sentinel */

static void servers_kill_all(void)
{
    for (int i = 0; i < 3; i++)
        if (servers[i].pid > 0) {
            kill(servers[i].pid, SIGKILL);
            waitpid(servers[i].pid, NULL, 0);
            servers[i].pid = 0;
        }
}

/* Writes `body` as NAME.conf and starts redis-server on it (`sentinel`:
 * in sentinel mode); 0 once it answers. */
static int server_start(server_t *s, const char *name, const char *body, bool sentinel)
{
    snprintf(s->conf, sizeof(s->conf), "%s/%s.conf", dir, name);
    FILE *f = fopen(s->conf, "w");
    fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\n%s", s->port, dir, body);
    fclose(f);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        char log[200];
        snprintf(log, sizeof(log), "%s/%s.log", dir, name);
        if (!freopen(log, "a", stdout)) _exit(127);
        if (sentinel)
            execlp("redis-server", "redis-server", s->conf, "--sentinel", (char *)NULL);
        else
            execlp("redis-server", "redis-server", s->conf, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 250; i++) {
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
        bool up = c && !c->err;
        if (c) redisFree(c);
        if (up) return 0;
        harness_sleep_ms(20);
    }
    return -1;
}

static const char *data_conf(char *buf, size_t len, int replica_of)
{
    int n = snprintf(buf, len,
                     "save \"\"\nappendonly no\nrequirepass \"%s\"\nmasterauth \"%s\"\n"
                     "user %s on >%s ~* &* +@all\n",
                     PASSWORD, PASSWORD, ACL_USER, ACL_PASS);
    if (replica_of) snprintf(buf + n, len - (size_t)n, "replicaof 127.0.0.1 %d\n", replica_of);
    return buf;
}

/* ---- parsing ----------------------------------------------------------- */

static void test_url_credentials(void)
{
    store_conf_t sc = {0};
    bool mem;
    char err[256];
    CHECK_EQ_INT(store_url_parse("redis://u1:p%40ss%3A1@h:7/2", &sc, &mem, err, sizeof(err)),
                 QERR_OK);
    CHECK_EQ_STR(sc.user, "u1");
    CHECK_EQ_STR(sc.password, "p@ss:1");
    CHECK_EQ_STR(sc.host, "h");
    CHECK_EQ_INT(sc.port, 7);
    CHECK_EQ_INT(sc.db, 2);
    CHECK_EQ_INT(store_url_parse("redis://:pw@h", &sc, &mem, err, sizeof(err)), QERR_OK);
    CHECK_EQ_STR(sc.user, "");
    CHECK_EQ_STR(sc.password, "pw");
    CHECK_EQ_INT(store_url_parse("redis://h:6379/0", &sc, &mem, err, sizeof(err)), QERR_OK);
    CHECK_EQ_STR(sc.password, "");
    CHECK_EQ_INT(store_url_parse("redis://pw@h", &sc, &mem, err, sizeof(err)), QERR_INVALID);
    CHECK(strstr(err, "USER:PASSWORD@") != NULL);
    CHECK_EQ_INT(store_url_parse("redis://:p%4@h", &sc, &mem, err, sizeof(err)), QERR_INVALID);

    /* store.password_file overrides the URL's; sentinels need a name. */
    char pwfile[128];
    snprintf(pwfile, sizeof(pwfile), "%s/pw", dir);
    FILE *f = fopen(pwfile, "w");
    fprintf(f, "from file\n");
    fclose(f);
    char *items[2] = {"127.0.0.1:26379", "[::1]:26380"};
    conf_t c = {0};
    c.store.url = "redis://u:urlpw@h/1";
    c.store.password_file = pwfile;
    c.store.sentinels = (strlist_t){items, 2};
    c.store.master_name = "qm";
    CHECK_EQ_INT(store_conf_connection(&c, &sc, &mem, err, sizeof(err)), QERR_OK);
    CHECK_EQ_STR(sc.password, "from file");
    CHECK_EQ_STR(sc.user, "u");
    CHECK_EQ_INT(sc.n_sentinels, 2);
    CHECK_EQ_STR(sc.sentinels[1].host, "[::1]");
    CHECK_EQ_INT(sc.sentinels[1].port, 26380);
    CHECK_EQ_STR(sc.sentinel_password, "");
    c.store.sentinel_password_file = pwfile; /* the sentinels' own */
    CHECK_EQ_INT(store_conf_connection(&c, &sc, &mem, err, sizeof(err)), QERR_OK);
    CHECK_EQ_STR(sc.sentinel_password, "from file");
    c.store.sentinels = (strlist_t){NULL, 0};
    c.store.master_name = "";
    CHECK_EQ_INT(store_conf_connection(&c, &sc, &mem, err, sizeof(err)), QERR_INVALID);
    CHECK(strstr(err, "store.sentinel_password_file needs store.sentinels") != NULL);
    c.store.sentinel_password_file = "";
    c.store.sentinels = (strlist_t){items, 2};
    c.store.master_name = "";
    CHECK_EQ_INT(store_conf_connection(&c, &sc, &mem, err, sizeof(err)), QERR_INVALID);
    CHECK(strstr(err, "store.master_name") != NULL);
    c.store.master_name = "qm";
    char *bad[1] = {"nohostport"};
    c.store.sentinels = (strlist_t){bad, 1};
    c.store.master_name = "qm";
    CHECK_EQ_INT(store_conf_connection(&c, &sc, &mem, err, sizeof(err)), QERR_INVALID);
    c.store.password_file = "/nonexistent/pw";
    c.store.sentinels = (strlist_t){NULL, 0};
    c.store.master_name = "";
    CHECK_EQ_INT(store_conf_connection(&c, &sc, &mem, err, sizeof(err)), QERR_IO);
}

/* ---- AUTH against a real server ------------------------------------------ */

static bool opens(const store_conf_t *sc, char *err, size_t len)
{
    redisContext *c = redis_open(sc, NULL, 0, err, len);
    if (!c) return false;
    redisReply *r = redisCommand(c, "SET quell-auth-probe 1");
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
    redisFree(c);
    return ok;
}

static void test_auth(void)
{
    store_conf_t sc = {.port = servers[0].port, .timeout_ms = 1000};
    snprintf(sc.host, sizeof(sc.host), "127.0.0.1");
    char err[256] = "";
    CHECK(!opens(&sc, err, sizeof(err))); /* no password: NOAUTH on the first command */
    snprintf(sc.password, sizeof(sc.password), "%s", PASSWORD);
    CHECK(opens(&sc, err, sizeof(err)));
    snprintf(sc.password, sizeof(sc.password), "wrong");
    CHECK(!opens(&sc, err, sizeof(err)));
    CHECK(strstr(err, "AUTH") != NULL);
    snprintf(sc.user, sizeof(sc.user), "%s", ACL_USER);
    snprintf(sc.password, sizeof(sc.password), "%s", ACL_PASS);
    CHECK(opens(&sc, err, sizeof(err)));
    if (check_failures) fprintf(stderr, "auth: %s\n", err);
}

/* The sentinel requires a password of its own: asked without it, it
 * answers NOAUTH and no master is found; with it, the master is. */
static void test_sentinel_auth(void)
{
    store_conf_t sc = {.timeout_ms = 1000, .n_sentinels = 1};
    snprintf(sc.sentinels[0].host, sizeof(sc.sentinels[0].host), "127.0.0.1");
    sc.sentinels[0].port = servers[2].port;
    snprintf(sc.master_name, sizeof(sc.master_name), "qm");
    snprintf(sc.password, sizeof(sc.password), "%s", PASSWORD);
    char err[256] = "";
    CHECK(!opens(&sc, err, sizeof(err)));
    CHECK(strstr(err, "NOAUTH") != NULL || strstr(err, "AUTH") != NULL);
    snprintf(sc.sentinel_password, sizeof(sc.sentinel_password), "wrong");
    CHECK(!opens(&sc, err, sizeof(err)));
    CHECK(strstr(err, "sentinel 127.0.0.1:") != NULL && strstr(err, "AUTH") != NULL);
    snprintf(sc.sentinel_password, sizeof(sc.sentinel_password), "%s", SENTINEL_PASS);
    CHECK(opens(&sc, err, sizeof(err)));
    if (check_failures) fprintf(stderr, "sentinel auth: %s\n", err);
}

/* ---- failover mid-storm -------------------------------------------------- */

typedef struct {
    uint64_t *fp;
    size_t n, cap, degraded;
} fps_t;

static void collect(const rd_kafka_message_t *m, void *ctx)
{
    fps_t *f = ctx;
    cJSON *j = cJSON_ParseWithLength(m->payload, m->len);
    const cJSON *fp = cJSON_GetObjectItem(j, "fingerprint");
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4096;
        f->fp = realloc(f->fp, f->cap * sizeof(*f->fp));
    }
    f->fp[f->n++] = fp && cJSON_IsString(fp) ? strtoull(fp->valuestring, NULL, 16) : 0;
    if (cJSON_IsTrue(cJSON_GetObjectItem(j, "degraded"))) f->degraded++;
    cJSON_Delete(j);
}

/* Wall ms of a log line's ts=... (UTC). */
static int64_t line_ms(const char *line)
{
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(line, "ts=%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Earliest and latest "reachable again" of the store workers after
 * `after_ms`. */
static void back_times(const char *log, int64_t after_ms, int64_t *first, int64_t *last)
{
    *first = *last = 0;
    char *text = check_read_file(log, NULL);
    for (char *l = text; l && *l;) {
        char *nl = strchr(l, '\n');
        if (nl) *nl = '\0';
        if (strstr(l, "component=store") && strstr(l, "reachable again")) {
            int64_t t = line_ms(l);
            if (t > after_ms) {
                if (!*first || t < *first) *first = t;
                if (t > *last) *last = t;
            }
        }
        l = nl ? nl + 1 : NULL;
    }
    free(text);
}

static void test_failover(void)
{
    harness_mock_t kafka;
    CHECK_EQ_INT(harness_mock_start(&kafka, "fo", 4), 0);
    const char *brokers = kafka.brokers;
    char conf[160], out[160], log[160];
    snprintf(conf, sizeof(conf), "%s/quell.yaml", dir);
    snprintf(out, sizeof(out), "%s/quell.out", dir);
    snprintf(log, sizeof(log), "%s/quell.log", dir);
    FILE *f = fopen(conf, "w");
    fprintf(f,
            "workers: 2\n"
            "kafka:\n"
            "  brokers: \"%s\"\n"
            "  group_id: fo\n"
            "  topics: [fo-alerts]\n"
            "  output_topic: fo-incidents\n"
            "  dlq_topic: fo-dlq\n"
            "  session_timeout: 6s\n"
            "  commit_interval: 200ms\n"
            "http:\n"
            "  listen: \"\"\n"
            "dedup:\n"
            "  window: 1h\n"
            "  repeat_interval: 24h\n"
            "store:\n"
            "  url: \"redis://%s:q%%3Apw%%401@ignored:1/0\"\n" /* ACL_PASS, %-escaped */
            "  sentinels: [\"127.0.0.1:%d\"]\n"
            "  master_name: qm\n"
            "  sentinel_password_file: \"%s/sentinel-pw\"\n"
            "  prefix: \"fo:\"\n"
            "  timeout: 200ms\n"
            "  lease: 2s\n",
            brokers, ACL_USER, servers[2].port, dir);
    fclose(f);
    char pw[160];
    snprintf(pw, sizeof(pw), "%s/sentinel-pw", dir);
    f = fopen(pw, "w");
    fputs(SENTINEL_PASS "\n", f);
    fclose(f);

    harness_load_t lt = {0};
    lt.opts = (load_opts_t){.brokers = brokers,
                            .topic = "fo-alerts",
                            .group = "fo",
                            .output_topic = "fo-incidents",
                            .dlq_topic = "fo-dlq",
                            .rate = 4000,
                            .wait = true,
                            .timeout_s = 120};
    gen_opts_defaults(&lt.opts.gen);
    lt.opts.gen.alerts = 36000; /* ~9 s */
    lt.opts.gen.fingerprints = 8000;
    lt.opts.gen.resolve_share = 0;

    pid_t q = harness_quell_start(conf, out, log);
    int64_t deadline = clock_mono_ns() + 30LL * 1000000000;
    for (bool assigned = false; !assigned && clock_mono_ns() < deadline; harness_sleep_ms(50)) {
        char *t = check_read_file(log, NULL);
        assigned = t && strstr(t, "assigned");
        free(t);
    }
    pthread_t th;
    pthread_create(&th, NULL, harness_load_thread, &lt);
    harness_sleep_ms(2500);
    int64_t killed_ms = clock_wall_ms();
    kill(servers[0].pid, SIGKILL); /* the master, mid-storm */
    waitpid(servers[0].pid, NULL, 0);
    servers[0].pid = 0;
    pthread_join(th, NULL);
    if (lt.rc) fprintf(stderr, "load: %s\n", lt.result.error);
    CHECK_EQ_INT(lt.rc, 0);
    CHECK_EQ_INT(harness_quell_stop(q, 60000), 0);

    /* The replica is the master now. */
    store_conf_t sc = {.timeout_ms = 1000, .n_sentinels = 1};
    snprintf(sc.master_name, sizeof(sc.master_name), "qm");
    snprintf(sc.sentinels[0].host, sizeof(sc.sentinels[0].host), "127.0.0.1");
    sc.sentinels[0].port = servers[2].port;
    snprintf(sc.password, sizeof(sc.password), "%s", PASSWORD);
    snprintf(sc.sentinel_password, sizeof(sc.sentinel_password), "%s", SENTINEL_PASS);
    char addr[64] = "", errbuf[256];
    redisContext *c = redis_open(&sc, addr, sizeof(addr), errbuf, sizeof(errbuf));
    CHECK(c != NULL);
    char want_addr[64];
    snprintf(want_addr, sizeof(want_addr), "127.0.0.1:%d", servers[1].port);
    CHECK_EQ_STR(addr, want_addr);
    if (c) redisFree(c);

    fps_t got = {0};
    CHECK(harness_consume_all(brokers, "fo-incidents", 60000, collect, &got) > 0);
    qsort(got.fp, got.n, sizeof(*got.fp), harness_cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < got.n; i++) distinct += i == 0 || got.fp[i] != got.fp[i - 1];
    size_t want = harness_distinct_in_storm(&lt.opts.gen);
    long long degraded = harness_summary_value(out, "store degraded");
    long long decided = harness_summary_value(out, "alerts decided");
    size_t dups = got.n - distinct;
    int64_t first = 0, last = 0;
    back_times(log, killed_ms, &first, &last);
    CHECK_EQ_INT(distinct, (long long)want); /* 0 lost */
    CHECK_EQ_INT(decided, 36000);
    CHECK(first > 0 && last > 0); /* back on the promoted replica without a restart */
    /* A duplicate needs a local decision (degraded) or an entry the
     * replica had not received when the master died (async replication:
     * at most what was written in the last moments before the kill). */
    CHECK((long long)dups <= degraded + 200);
    CHECK_EQ_INT((long long)got.degraded, degraded);
    printf("failover: %zu fingerprints, %zu incidents, %zu duplicates, %lld decided locally "
           "(degraded); gap from SIGKILL of the master to the first / last worker on the new "
           "master: %lld / %lld ms\n",
           want, got.n, dups, degraded, (long long)(first - killed_ms),
           (long long)(last - killed_ms));
    free(got.fp);
    harness_mock_stop(&kafka);
    if (check_failures) harness_dump_file(log);
}

int main(void)
{
    if (!redis_local_available()) {
        printf("SKIP test_sentinel: redis-server not installed\n");
        return 77;
    }
    snprintf(dir, sizeof(dir), "/tmp/quell-sentinel-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    atexit(servers_kill_all);
    test_url_credentials();
    char body[1024];
    for (int i = 0; i < 3; i++) servers[i].port = redis_local_free_port();
    CHECK_EQ_INT(server_start(&servers[0], "master", data_conf(body, sizeof(body), 0), false), 0);
    CHECK_EQ_INT(
        server_start(&servers[1], "replica", data_conf(body, sizeof(body), servers[0].port), false),
        0);
    snprintf(body, sizeof(body),
             "requirepass \"" SENTINEL_PASS "\"\n"
             "sentinel monitor qm 127.0.0.1 %d 1\n"
             "sentinel auth-pass qm %s\n"
             "sentinel down-after-milliseconds qm 1000\n"
             "sentinel failover-timeout qm 5000\n",
             servers[0].port, "\"" PASSWORD "\"");
    CHECK_EQ_INT(server_start(&servers[2], "sentinel", body, true), 0);
    if (!check_failures) test_auth();
    if (!check_failures) test_sentinel_auth();
    if (!check_failures) test_failover();
    servers_kill_all();
    harness_dir_done(dir, check_failures > 0);
    return check_summary("sentinel");
}
