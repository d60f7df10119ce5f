/*
 * Crash safety of the memory store: `quell run` with a snapshot file
 * written every second is killed with SIGKILL at 10 random points of a
 * storm (produced at a steady rate by a thread here, into the mock cluster
 * this process owns, so it outlives every quell), and restarted each time.
 *
 * Checked, per crash k (S_k: the fingerprints in the snapshot file left on
 * disk at the kill; R_k: those run k sent):
 *   - S_k holds only delivered incidents: S_k within what runs 0..k sent;
 *   - no fingerprint of S_k is sent again after the restart (it was
 *     restored), so what is sent again was opened since the last snapshot
 *     (a re-read of uncommitted offsets included);
 *   - the snapshot on disk is recent: written within interval + 1 s of the
 *     kill, so "since the last snapshot" is at most one interval;
 *   - duplicates after crash k <= |(R_0..R_k) - S_k|, and in total
 *     <= sum of |R_k - S_k| (each incident forgotten is re-sent once);
 * and at the end: every fingerprint of the storm was forwarded (0 lost).
 * kafka.session_timeout is 4 s, about the least the mock cluster's group
 * join accepts: each restart waits that long for the dead member to leave.
 *
 * Before the storm, a resolve delivered and committed between two
 * snapshots survives kill -9 (resolve_across_kill: the alert's next firing
 * opens a new incident), and a clean stop reads nothing twice after it.
 * Then routing groups across kill -9 (groups_across_kill):
 * with a `route:` to a webhook receiver (tests/webhook_sink.c) and the
 * snapshot every 200 ms, FILE.groups is written while quell runs, a group
 * notified before the kill still sends its resolved notification after
 * the restart, and a resolved notification the receiver had not answered
 * at the kill is sent again after it (at least once). Then groups_storm:
 * 12 groups of 5 alerts fire and resolve while quell is killed 3 times;
 * every group must end with a resolved notification.
 */
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../bench/bench.h"
#include "../dedup/dedup.h"
#include "check.h"
#include "harness.h"
#include "webhook_sink.h"

#define CRASHES     10
#define INTERVAL_MS 1000

typedef struct {
    char dir[64];
    char brokers[256];
    char conf[128], snap[128];
    int time_scale;
} env_t;

/* ---- incidents out ---------------------------------------------------- */

#define PARTITIONS 4

/* Incidents out: fingerprints, with where each was read from; order_by_run
 * puts the fingerprints in the order of the runs that sent them (a read
 * gives them partition by partition, not in time order). */
typedef struct {
    uint64_t *fp;
    int32_t *part;
    int64_t *off;
    size_t n, cap;
    int64_t end[CRASHES + 1][PARTITIONS]; /* per crash: offsets below were sent by then */
} fps_t;

static void collect(const rd_kafka_message_t *m, void *ctx)
{
    fps_t *f = ctx;
    cJSON *j = cJSON_ParseWithLength(m->payload, m->len);
    const cJSON *fp = cJSON_GetObjectItem(j, "fingerprint");
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4096;
        f->fp = realloc(f->fp, f->cap * sizeof(*f->fp));
        f->part = realloc(f->part, f->cap * sizeof(*f->part));
        f->off = realloc(f->off, f->cap * sizeof(*f->off));
    }
    f->part[f->n] = m->partition;
    f->off[f->n] = m->offset;
    f->fp[f->n++] = fp && cJSON_IsString(fp) ? strtoull(fp->valuestring, NULL, 16) : 0;
    cJSON_Delete(j);
}

typedef struct {
    int run;
    int32_t part;
    int64_t off;
    uint64_t fp;
} rec_t;

static int cmp_rec(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    if (x->run != y->run) return x->run - y->run;
    if (x->part != y->part) return x->part - y->part;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* After crash `k` (CRASHES: the end): records whose offset is below
 * end[j] of their partition were sent by run j or before. */
static void order_by_run(fps_t *f, int k)
{
    if (k < CRASHES) {
        for (int p = 0; p < PARTITIONS; p++) f->end[k][p] = 0;
        for (size_t i = 0; i < f->n; i++)
            if (f->part[i] >= 0 && f->part[i] < PARTITIONS && f->off[i] + 1 > f->end[k][f->part[i]])
                f->end[k][f->part[i]] = f->off[i] + 1;
    }
    rec_t *r = malloc((f->n + 1) * sizeof(*r));
    for (size_t i = 0; i < f->n; i++) {
        int run = k;
        for (int j = 0; j < k; j++)
            if (f->off[i] < f->end[j][f->part[i] % PARTITIONS]) {
                run = j;
                break;
            }
        r[i] = (rec_t){run, f->part[i], f->off[i], f->fp[i]};
    }
    qsort(r, f->n, sizeof(*r), cmp_rec);
    for (size_t i = 0; i < f->n; i++) {
        f->fp[i] = r[i].fp;
        f->part[i] = r[i].part;
        f->off[i] = r[i].off;
    }
    free(r);
}

/* Distinct values of v[0..n). */
static size_t distinct(const uint64_t *v, size_t n)
{
    uint64_t *s = malloc((n + 1) * sizeof(*s));
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), harness_cmp_u64);
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += i == 0 || s[i] != s[i - 1];
    free(s);
    return d;
}

/* Records of v[from..to) whose fingerprint occurs in v[0..from). */
static size_t repeats_of_earlier(const uint64_t *v, size_t from, size_t to)
{
    uint64_t *s = malloc((from + 1) * sizeof(*s));
    memcpy(s, v, from * sizeof(*s));
    qsort(s, from, sizeof(*s), harness_cmp_u64);
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += bsearch(&v[i], s, from, sizeof(*s), harness_cmp_u64) != NULL;
    free(s);
    return n;
}

/* ---- quell and the storm ------------------------------------------------ */

static void write_conf(env_t *env, int64_t interval_ms)
{
    FILE *f = fopen(env->conf, "w");
    fprintf(f,
            "workers: 2\n"
            "kafka:\n"
            "  brokers: \"%s\"\n"
            "  group_id: crash\n"
            "  topics: [crash-alerts]\n"
            "  output_topic: crash-incidents\n"
            "  dlq_topic: crash-dlq\n"
            "  session_timeout: 4s\n"
            "  commit_interval: 500ms\n"
            "ingest:\n"
            "  threads: 1\n"
            "http:\n"
            "  listen: \"\"\n"
            "dedup:\n"
            "  window: 1h\n"
            "  repeat_interval: 24h\n"
            "  snapshot_file: %s\n"
            "  snapshot_interval: %lldms\n"
            /* Sources that fire in the storm, targets that never do: the
             * state is saved beside the snapshot, decisions do not move. */
            "inhibit_rules:\n"
            "  - name: crash-src\n"
            "    source_matchers: ['severity=\"critical\"']\n"
            "    target_matchers: ['alertname=\"NotInThisStorm\"']\n"
            "    equal: [cluster]\n",
            env->brokers, env->snap, (long long)interval_ms);
    fclose(f);
}

/* When `path` was last written (wall clock, ms); -1: no such file. */
static int64_t written_ms(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* The fingerprints in the snapshot file now (sorted), and its age in ms. */
static uint64_t *snapshot_read(const char *path, size_t *n, int64_t *age_ms)
{
    *age_ms = -1;
    *n = 0;
    uint64_t *fps = malloc(sizeof(*fps));
    FILE *f = fopen(path, "rb");
    if (!f) return fps;
    char magic[8];
    uint64_t total = 0;
    if (fread(magic, 8, 1, f) == 1 && memcmp(magic, DEDUP_SNAPSHOT_MAGIC, 8) == 0 &&
        fread(&total, sizeof(total), 1, f) == 1) {
        fps = realloc(fps, (total + 1) * sizeof(*fps));
        dedup_entry_t e;
        while (*n < total && fread(&e, sizeof(e), 1, f) == 1) fps[(*n)++] = e.fingerprint;
        CHECK_EQ_INT(*n, total);
    }
    fclose(f);
    qsort(fps, *n, sizeof(*fps), harness_cmp_u64);
    int64_t at = written_ms(path);
    if (at >= 0) *age_ms = clock_wall_ms() - at;
    return fps;
}

/* Sources in the inhibition state saved beside the snapshot, and its age
 * in ms (-1: no file). */
static uint64_t inhibit_read(const char *snap, int64_t *age_ms)
{
    char path[256];
    snprintf(path, sizeof path, "%s.inhibit", snap);
    uint64_t n = 0;
    char magic[8];
    *age_ms = -1;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    if (fread(magic, 8, 1, f) != 1 || fread(&n, 8, 1, f) != 1) n = 0;
    fclose(f);
    int64_t at = written_ms(path);
    if (at >= 0) *age_ms = clock_wall_ms() - at;
    return n;
}

static bool in_sorted(const uint64_t *s, size_t n, uint64_t v)
{
    return bsearch(&v, s, n, sizeof(*s), harness_cmp_u64) != NULL;
}

/* Distinct fingerprints of v[from..to) not in the sorted set s. */
static size_t distinct_not_in(const uint64_t *v, size_t from, size_t to, const uint64_t *s,
                              size_t n)
{
    uint64_t *w = malloc((to - from + 1) * sizeof(*w));
    size_t m = 0;
    for (size_t i = from; i < to; i++)
        if (!in_sorted(s, n, v[i])) w[m++] = v[i];
    size_t d = distinct(w, m);
    free(w);
    return d;
}

static pid_t start_named(env_t *env, const char *conf, const char *name, int run)
{
    char out[200], log[200];
    snprintf(out, sizeof(out), "%s/%s%d.out", env->dir, name, run);
    snprintf(log, sizeof(log), "%s/%s%d.log", env->dir, name, run);
    pid_t pid = harness_quell_start(conf, out, log);
    /* Killed only once it reads: after its assignment. */
    int64_t deadline = clock_mono_ns() + 30LL * 1000000000 * env->time_scale;
    for (;;) {
        char *t = check_read_file(log, NULL);
        bool assigned = t && strstr(t, "assigned");
        free(t);
        if (assigned || clock_mono_ns() > deadline) break;
        harness_sleep_ms(20);
    }
    return pid;
}

static pid_t start_run(env_t *env, int run) { return start_named(env, env->conf, "run", run); }

/* ---- routing groups across kill -9 ----------------------------------- */

static void produce_alert(rd_kafka_t *p, const char *name, bool resolved)
{
    char v[256];
    snprintf(v, sizeof v, "{\"labels\":{\"alertname\":\"%s\",\"team\":\"db\"},\"status\":\"%s\"}",
             name, resolved ? "resolved" : "firing");
    CHECK(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("groups-alerts"), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_VALUE(v, strlen(v)),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(rd_kafka_flush(p, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Whether `path` holds `what` (the groups file keeps label values as
 * they are), and its mtime in wall-clock ms (-1: no file). */
static bool file_holds(const char *path, const char *what, int64_t *mtime_ms)
{
    size_t len = 0;
    char *t = check_read_file(path, &len);
    bool found = t && memmem(t, len, what, strlen(what)) != NULL;
    free(t);
    struct stat st;
    *mtime_ms = stat(path, &st) == 0
                    ? (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000
                    : -1;
    return found;
}

#define WAIT_FOR(cond, ms)                                                                         \
    do {                                                                                           \
        int64_t dl_ = clock_mono_ns() + (int64_t)(ms)*1000000 * env->time_scale;                   \
        while (!(cond) && clock_mono_ns() < dl_) harness_sleep_ms(20);                             \
    } while (0)

/* The routing tests' config up to its route: one worker, one lane, the
 * memory store snapshotting every `interval_ms`; the caller writes the
 * route and receivers and closes the file. */
static FILE *groups_conf_begin(const char *path, const char *brokers, const char *group,
                               const char *snap, int interval_ms)
{
    FILE *f = fopen(path, "w");
    fprintf(f,
            "workers: 1\n"
            "kafka:\n"
            "  brokers: \"%s\"\n"
            "  group_id: %s\n"
            "  topics: [groups-alerts]\n"
            "  output_topic: groups-incidents\n"
            "  dlq_topic: groups-dlq\n"
            "  session_timeout: 4s\n"
            "  commit_interval: 200ms\n"
            "ingest:\n  threads: 1\n"
            "http:\n  listen: \"\"\n"
            "dedup:\n"
            "  window: 1h\n"
            "  repeat_interval: 24h\n"
            "  snapshot_file: %s\n"
            "  snapshot_interval: %dms\n",
            brokers, group, snap, interval_ms);
    return f;
}

/* The routing tests' own mock cluster (groups-* topics, 1 alert
 * partition) and a producer into it. */
static rd_kafka_t *groups_kafka_start(harness_mock_t *k)
{
    CHECK_EQ_INT(harness_mock_start(k, "groups", 1), 0);
    char errbuf[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", k->brokers, NULL, 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof errbuf);
    CHECK(p != NULL);
    return p;
}

static void groups_across_kill(env_t *env)
{
    harness_mock_t k;
    rd_kafka_t *p = groups_kafka_start(&k);
    webhook_sink_t sink = {.mu = PTHREAD_MUTEX_INITIALIZER};
    CHECK(webhook_sink_start(&sink, 0));
    char conf[160], snap[160], groups[176];
    snprintf(conf, sizeof conf, "%s/groups.yaml", env->dir);
    snprintf(snap, sizeof snap, "%s/groups.snapshot", env->dir);
    snprintf(groups, sizeof groups, "%s.groups", snap);
    FILE *f = groups_conf_begin(conf, k.brokers, "groups", snap, 200);
    fprintf(f,
            "route:\n"
            "  receiver: hook\n"
            "  group_by: [alertname]\n"
            "  group_wait: 100ms\n"
            "  group_interval: 500ms\n"
            "  repeat_interval: 1h\n"
            "  routes:\n"
            "    - matchers: ['alertname=\"GroupC\"']\n"
            "      group_wait: 4s\n"
            "receivers:\n"
            "  - name: hook\n"
            "    type: webhook\n"
            "    url: http://127.0.0.1:%u/hook\n"
            "    timeout: 120s\n",
            sink.port);
    fclose(f);

    pid_t pid = start_named(env, conf, "groups", 0);
    produce_alert(p, "GroupA", false);
    produce_alert(p, "GroupB", false);
    WAIT_FOR(webhook_sink_matching(&sink, "GroupA", "\"status\":\"firing\"") > 0 &&
                 webhook_sink_matching(&sink, "GroupB", "\"status\":\"firing\"") > 0,
             30000);
    CHECK_EQ_INT(webhook_sink_matching(&sink, "GroupA", "\"status\":\"firing\""), 1);
    CHECK_EQ_INT(webhook_sink_matching(&sink, "GroupB", "\"status\":\"firing\""), 1);
    /* Written while quell runs (no clean stop in this test), and after
     * both notifications were answered, so they are saved as sent. */
    pthread_mutex_lock(&sink.mu);
    int64_t answered_ms = sink.at_ms[sink.n_req - 1];
    pthread_mutex_unlock(&sink.mu);
    int64_t mtime = -1;
    WAIT_FOR(file_holds(groups, "GroupA", &mtime) && file_holds(groups, "GroupB", &mtime) &&
                 mtime >= answered_ms + 500,
             10000);
    CHECK(file_holds(groups, "GroupA", &mtime) && file_holds(groups, "GroupB", &mtime));
    CHECK(mtime >= answered_ms + 500);

    /* GroupB resolves; its notification reaches the receiver, which does
     * not answer before the kill. */
    pthread_mutex_lock(&sink.mu);
    int hung = sink.n_req;
    sink.delay_ms[hung] = 15000 * env->time_scale;
    pthread_mutex_unlock(&sink.mu);
    produce_alert(p, "GroupB", true);
    WAIT_FOR(webhook_sink_requests(&sink) > hung, 15000);
    CHECK(webhook_sink_matching(&sink, "GroupB", "\"status\":\"resolved\"") == 1);
    int64_t hung_ms = clock_wall_ms();
    /* GroupC opens; its route's group_wait (4 s) is still running at the
     * kill. The snapshots go on while GroupB's receiver has not answered
     * (no delivery barrier with routing): the files on disk at the kill
     * hold GroupC pending and GroupB's resolved one as not sent. */
    produce_alert(p, "GroupC", false);
    int64_t table_mtime = -1;
    WAIT_FOR(file_holds(groups, "GroupC", &mtime) && mtime > hung_ms + 200 &&
                 (file_holds(snap, "", &table_mtime), table_mtime > hung_ms + 200),
             10000);
    CHECK(file_holds(groups, "GroupC", &mtime) && mtime > hung_ms + 200);
    file_holds(snap, "", &table_mtime);
    CHECK(table_mtime > hung_ms + 200);
    int c_before = webhook_sink_matching(&sink, "GroupC", NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    pid = start_named(env, conf, "groups", 1);
    produce_alert(p, "GroupA", true);
    WAIT_FOR(webhook_sink_matching(&sink, "GroupA", "\"status\":\"resolved\"") > 0 &&
                 webhook_sink_matching(&sink, "GroupB", "\"status\":\"resolved\"") > 1 &&
                 webhook_sink_matching(&sink, "GroupC", "\"status\":\"firing\"") > 0,
             30000);
    int a_resolved = webhook_sink_matching(&sink, "GroupA", "\"status\":\"resolved\"");
    int b_resolved = webhook_sink_matching(&sink, "GroupB", "\"status\":\"resolved\"");
    int c_firing = webhook_sink_matching(&sink, "GroupC", "\"status\":\"firing\"");
    /* Waiting for its group_wait at the kill: notified after it. */
    CHECK(c_firing >= 1);
    /* Open before the kill: resolved after it, once. */
    CHECK_EQ_INT(a_resolved, 1);
    /* In flight at the kill: sent again after it (at least once). */
    CHECK(b_resolved >= 2);
    /* Answered before the last groups write: not paged again. */
    CHECK_EQ_INT(webhook_sink_matching(&sink, "GroupA", "\"status\":\"firing\""), 1);
    CHECK_EQ_INT(webhook_sink_matching(&sink, "GroupB", "\"status\":\"firing\""), 1);
    CHECK_EQ_INT(harness_quell_stop(pid, 30000 * env->time_scale), 0);
    printf("groups across kill -9: GroupA resolved %d (want 1), GroupB resolved %d (want >= 2: "
           "one unanswered at the kill), GroupC firing %d (want >= 1; %d before the kill), %d "
           "requests in all\n",
           a_resolved, b_resolved, c_firing, c_before, webhook_sink_requests(&sink));
    webhook_sink_free(&sink);
    rd_kafka_destroy(p);
    harness_mock_stop(&k);
}

/* ---- a resolve committed after the last snapshot ---------------------- */

typedef struct {
    const char *name;
    int new_, resolved;
    uint64_t fingerprint;
} kinds_t;

static void count_kinds(const rd_kafka_message_t *m, void *ctx)
{
    kinds_t *k = ctx;
    cJSON *j = cJSON_ParseWithLength(m->payload, m->len);
    const cJSON *kind = cJSON_GetObjectItem(j, "kind");
    const cJSON *name = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "labels"), "alertname");
    if (cJSON_IsString(kind) && cJSON_IsString(name) && strcmp(name->valuestring, k->name) == 0) {
        k->new_ += strcmp(kind->valuestring, "new") == 0;
        k->resolved += strcmp(kind->valuestring, "resolved") == 0;
        const cJSON *fp = cJSON_GetObjectItem(j, "fingerprint");
        if (cJSON_IsString(fp)) k->fingerprint = strtoull(fp->valuestring, NULL, 16);
    }
    cJSON_Delete(j);
}

static bool snapshot_holds(const char *path, uint64_t fp)
{
    size_t n;
    int64_t age;
    uint64_t *fps = snapshot_read(path, &n, &age);
    bool found = in_sorted(fps, n, fp);
    free(fps);
    return found;
}

static kinds_t kinds_of(const char *brokers, const char *name, int time_scale)
{
    kinds_t k = {name, 0, 0, 0};
    CHECK(harness_consume_all(brokers, "groups-incidents", 30000 * time_scale, count_kinds, &k) >=
          0);
    return k;
}

/* Without a route: an alert fires, a snapshot holds its incident, it
 * resolves and the resolve is delivered, then kill -9 before the next
 * snapshot. The state restored is the snapshot's, with the incident open:
 * the resolve must be read again (offsets are committed only up to what a
 * snapshot covers), else its next firing is a suppressed duplicate, a
 * lost page. Then a clean stop right after a resolve and a new firing:
 * the restart after it must not read them again (the final save comes
 * before the final commit, which then covers everything). */
static void resolve_across_kill(env_t *env)
{
    harness_mock_t k;
    rd_kafka_t *p = groups_kafka_start(&k);
    char conf[160], snap[160];
    snprintf(conf, sizeof conf, "%s/resolve.yaml", env->dir);
    snprintf(snap, sizeof snap, "%s/resolve.snapshot", env->dir);
    /* Long enough that the resolve, its delivery and its commit (every
     * 200 ms) all fall between two snapshots. */
    int interval_ms = 4000 * env->time_scale;
    fclose(groups_conf_begin(conf, k.brokers, "resolve", snap, interval_ms));
    const char *name = "ResolveAcrossKill";

    pid_t pid = start_named(env, conf, "resolve", 0);
    produce_alert(p, name, false);
    WAIT_FOR(kinds_of(k.brokers, name, env->time_scale).new_ == 1, 15000);
    CHECK_EQ_INT(kinds_of(k.brokers, name, env->time_scale).new_, 1);
    /* A snapshot holding the incident, then the resolve at once. */
    uint64_t fp = kinds_of(k.brokers, name, env->time_scale).fingerprint;
    int64_t mtime = -1;
    WAIT_FOR(snapshot_holds(snap, fp), 2 * interval_ms);
    CHECK(snapshot_holds(snap, fp));
    file_holds(snap, "", &mtime);
    produce_alert(p, name, true);
    WAIT_FOR(kinds_of(k.brokers, name, env->time_scale).resolved == 1, 15000);
    CHECK_EQ_INT(kinds_of(k.brokers, name, env->time_scale).resolved, 1);
    harness_sleep_ms(600); /* three commit intervals */
    int64_t at_kill = -1;
    file_holds(snap, "", &at_kill);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* Else the snapshot on disk already had the resolve: nothing shown. */
    CHECK_EQ_INT(at_kill, mtime);

    pid = start_named(env, conf, "resolve", 1);
    produce_alert(p, name, false);
    WAIT_FOR(kinds_of(k.brokers, name, env->time_scale).new_ >= 2, 20000);
    kinds_t after_kill = kinds_of(k.brokers, name, env->time_scale);
    /* The firing after the restart opens a new incident, once; the resolve
     * read again is forwarded again (one before the kill, so >= 1 would
     * hold whatever happened). */
    CHECK_EQ_INT(after_kill.new_, 2);
    CHECK(after_kill.resolved >= 2);

    /* Clean stop with a resolve and a firing since the last snapshot. */
    produce_alert(p, name, true);
    produce_alert(p, name, false);
    WAIT_FOR(kinds_of(k.brokers, name, env->time_scale).new_ >= 3, 20000);
    kinds_t before_stop = kinds_of(k.brokers, name, env->time_scale);
    CHECK_EQ_INT(before_stop.new_, 3);
    CHECK_EQ_INT(harness_quell_stop(pid, 30000 * env->time_scale), 0);
    pid = start_named(env, conf, "resolve", 2);
    harness_sleep_ms(2000 * env->time_scale);
    kinds_t after_stop = kinds_of(k.brokers, name, env->time_scale);
    CHECK_EQ_INT(after_stop.new_, before_stop.new_);
    CHECK_EQ_INT(after_stop.resolved, before_stop.resolved);
    CHECK_EQ_INT(harness_quell_stop(pid, 30000 * env->time_scale), 0);
    printf("resolve across kill -9: new incidents %d (want 2: the firing after the restart "
           "opens one), resolved %d (want >= 2: read again); after a clean stop and restart %d "
           "new, %d "
           "resolved (want %d, %d: nothing read again)\n",
           after_kill.new_, after_kill.resolved, after_stop.new_, after_stop.resolved,
           before_stop.new_, before_stop.resolved);
    rd_kafka_destroy(p);
    harness_mock_stop(&k);
}

/* groups_storm: alerts S<g>/i<k> fire one by one, then resolve one by
 * one (shuffled), paced, from a thread, while the main thread kills and
 * restarts quell. */
#define STORM_GROUPS 12
#define STORM_ALERTS 5

typedef struct {
    rd_kafka_t *p;
    int pace_ms;
} storm_t;

static void produce_member(rd_kafka_t *p, int g, int k, bool resolved)
{
    char v[256];
    snprintf(v, sizeof v,
             "{\"labels\":{\"alertname\":\"S%02d\",\"instance\":\"i%d\"},\"status\":\"%s\"}", g, k,
             resolved ? "resolved" : "firing");
    rd_kafka_producev(p, RD_KAFKA_V_TOPIC("groups-alerts"), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_VALUE(v, strlen(v)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                      RD_KAFKA_V_END);
    rd_kafka_poll(p, 0);
}

static void *storm_main(void *arg)
{
    storm_t *st = arg;
    int order[STORM_GROUPS * STORM_ALERTS];
    int n = STORM_GROUPS * STORM_ALERTS;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 0; i < n; i++) {
        produce_member(st->p, order[i] / STORM_ALERTS, order[i] % STORM_ALERTS, false);
        harness_sleep_ms(st->pace_ms);
    }
    for (int i = n - 1; i > 0; i--) {
        int j = rand() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < n; i++) {
        produce_member(st->p, order[i] / STORM_ALERTS, order[i] % STORM_ALERTS, true);
        harness_sleep_ms(st->pace_ms);
    }
    rd_kafka_flush(st->p, 30000);
    return NULL;
}

/* How many groups got at least one notification of `status`. */
static int groups_with(webhook_sink_t *sink, const char *status, int *total)
{
    int with = 0;
    *total = 0;
    for (int g = 0; g < STORM_GROUPS; g++) {
        char key[64];
        snprintf(key, sizeof key, "\"groupLabels\":{\"alertname\":\"S%02d\"}", g);
        int n = webhook_sink_matching(sink, key, status);
        with += n > 0;
        *total += n;
    }
    return with;
}

static void groups_storm(env_t *env)
{
    enum { KILLS = 3 };
    harness_mock_t k;
    storm_t st = {groups_kafka_start(&k), 0};
    webhook_sink_t sink = {.mu = PTHREAD_MUTEX_INITIALIZER};
    CHECK(webhook_sink_start(&sink, 0));
    char conf[160], snap[160];
    snprintf(conf, sizeof conf, "%s/storm.yaml", env->dir);
    snprintf(snap, sizeof snap, "%s/storm.snapshot", env->dir);
    FILE *f = groups_conf_begin(conf, k.brokers, "storm", snap, 100);
    fprintf(f,
            "route:\n"
            "  receiver: hook\n"
            "  group_by: [alertname]\n"
            "  group_wait: 1s\n"
            "  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n"
            "  - name: hook\n"
            "    type: webhook\n"
            "    url: http://127.0.0.1:%u/hook\n",
            sink.port);
    fclose(f);

    /* 60 alerts fire and then resolve over ~12 s; each kill comes 1-2 s
     * after the (re)start has its assignment. group_wait is longer than
     * snapshot_interval, as in any real config: a group is in a groups
     * file before its first notification can be delivered and its offset
     * committed (with a group_wait shorter than the interval, a group
     * opened, paged and committed between two writes is forgotten at a
     * kill, and its other alerts, caught up after the restart, can
     * resolve before its group_wait and close it silently). */
    st.pace_ms = 100;
    pid_t pid = start_named(env, conf, "storm", 0);
    pthread_t th;
    pthread_create(&th, NULL, storm_main, &st);
    for (int i = 0; i < KILLS; i++) {
        harness_sleep_ms(1000 + rand() % 1000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = start_named(env, conf, "storm", i + 1);
    }
    pthread_join(th, NULL);
    int fired_total, resolved_total;
    /* The notification's own status (its alerts carry one each too). */
    const char *firing = "{\"receiver\":\"hook\",\"status\":\"firing\"";
    const char *resolved_note = "{\"receiver\":\"hook\",\"status\":\"resolved\"";
    /* Every group, in the usual run; the rare one that closed silently
     * makes this wait run to its end. */
    WAIT_FOR(groups_with(&sink, resolved_note, &resolved_total) == STORM_GROUPS, 60000);
    int fired = groups_with(&sink, firing, &fired_total);
    int resolved = groups_with(&sink, resolved_note, &resolved_total);
    CHECK_EQ_INT(harness_quell_stop(pid, 30000 * env->time_scale), 0);
    CHECK(webhook_sink_requests(&sink) < WEBHOOK_SINK_MAX); /* every request kept */
    /* Nothing lost: every group that fired was told it resolved. (A group
     * whose alerts all fired and resolved while quell was down closes
     * silently, like Alertmanager's: nobody was paged.) */
    CHECK(fired > 0);
    CHECK_EQ_INT(resolved, fired);
    printf("groups storm: %d kills, %d groups, %d paged firing (%d requests): resolved "
           "notifications expected for %d groups, received for %d (%d requests, %d extra)\n",
           KILLS, STORM_GROUPS, fired, fired_total, fired, resolved, resolved_total,
           resolved_total - resolved);
    webhook_sink_free(&sink);
    rd_kafka_destroy(st.p);
    harness_mock_stop(&k);
}

int main(void)
{
    env_t env = {0};
    const char *scale = getenv("QUELL_TIME_SCALE");
    env.time_scale = scale && atoi(scale) > 0 ? atoi(scale) : 1;
    snprintf(env.dir, sizeof(env.dir), "/tmp/quell-crash-XXXXXX");
    CHECK(mkdtemp(env.dir) != NULL);
    snprintf(env.conf, sizeof(env.conf), "%s/quell.yaml", env.dir);
    snprintf(env.snap, sizeof(env.snap), "%s/dedup.snapshot", env.dir);
    srand((unsigned)getpid());
    resolve_across_kill(&env);
    groups_across_kill(&env);
    groups_storm(&env);
    harness_mock_t kafka;
    CHECK_EQ_INT(harness_mock_start(&kafka, "crash", 4), 0);
    snprintf(env.brokers, sizeof(env.brokers), "%s", kafka.brokers);
    write_conf(&env, INTERVAL_MS);

    /* ~60 s of alerts at 2,000/s (the 10 crashes and restarts take ~55 s);
     * with 60,000 label sets (skewed) new incidents keep opening all
     * through. */
    harness_load_t lt = {0};
    lt.opts = (load_opts_t){.brokers = env.brokers,
                            .topic = "crash-alerts",
                            .group = "crash",
                            .output_topic = "crash-incidents",
                            .dlq_topic = "crash-dlq",
                            .rate = 2000,
                            /* The mock cluster keeps ~5 MiB a partition,
                             * and commits trail by up to a snapshot
                             * interval plus each restart: what is not
                             * committed must stay well under that, or
                             * retention deletes what quell will read
                             * again (the test would count it lost). */
                            .max_ahead = 20000,
                            .wait = true,
                            .timeout_s = 180 * env.time_scale};
    gen_opts_defaults(&lt.opts.gen);
    lt.opts.gen.alerts = 120000;
    lt.opts.gen.fingerprints = 60000;
    lt.opts.gen.resolve_share = 0;

    pid_t pid = start_run(&env, 0);
    pthread_t th;
    pthread_create(&th, NULL, harness_load_thread, &lt);
    srand((unsigned)getpid());
    size_t seen_at[CRASHES + 1], snap_n[CRASHES], cum_bound[CRASHES], run_bound[CRASHES];
    uint64_t *snap[CRASHES];
    int64_t snap_age[CRASHES];
    fps_t out = {0};
    char inhibit_path[300];
    snprintf(inhibit_path, sizeof inhibit_path, "%s.inhibit", env.snap);
    int64_t started_ms = clock_wall_ms();
    for (int k = 0; k < CRASHES; k++) {
        /* Snapshots are written while quell runs (there is no clean stop
         * here): wait until this run has written one with its inhibition
         * state, then kill it at a random point of the storm up to a
         * second later. Waiting on the file, not asserting its age: a run
         * that starts slowly on a loaded machine writes its first one
         * late, and a kill before it found the previous run's. */
        bool written = false;
        for (int64_t waited = 0; !written && waited < 60000LL * env.time_scale; waited += 20) {
            written = written_ms(env.snap) >= started_ms && written_ms(inhibit_path) >= started_ms;
            if (!written) harness_sleep_ms(20);
        }
        CHECK(written);
        harness_sleep_ms(rand() % 1000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        snap[k] = snapshot_read(env.snap, &snap_n[k], &snap_age[k]);
        out.n = 0;
        CHECK(harness_consume_all(env.brokers, "crash-incidents", 60000 * env.time_scale, collect,
                                  &out) >= 0);
        order_by_run(&out, k);
        seen_at[k] = out.n;
        /* Every snapshot entry was delivered before the kill. */
        uint64_t *sent = malloc((out.n + 1) * sizeof(*sent));
        memcpy(sent, out.fp, out.n * sizeof(*sent));
        qsort(sent, out.n, sizeof(*sent), harness_cmp_u64);
        size_t undelivered = 0;
        for (size_t i = 0; i < snap_n[k]; i++) undelivered += !in_sorted(sent, out.n, snap[k][i]);
        CHECK_EQ_INT(undelivered, 0);
        free(sent);
        cum_bound[k] = distinct_not_in(out.fp, 0, out.n, snap[k], snap_n[k]);
        run_bound[k] = distinct_not_in(out.fp, k ? seen_at[k - 1] : 0, out.n, snap[k], snap_n[k]);
        /* The firing inhibition sources were saved with it, not only at a
         * clean stop (there was none). */
        int64_t inhibit_age;
        uint64_t sources = inhibit_read(env.snap, &inhibit_age);
        if (k > 0) CHECK(sources > 0 && inhibit_age >= 0);
        started_ms = clock_wall_ms();
        pid = start_run(&env, k + 1);
    }
    pthread_join(th, NULL);
    if (lt.rc) fprintf(stderr, "load: %s\n", lt.result.error);
    CHECK_EQ_INT(lt.rc, 0);
    CHECK_EQ_INT(harness_quell_stop(pid, 60000 * env.time_scale), 0);

    out.n = 0;
    CHECK(harness_consume_all(env.brokers, "crash-incidents", 60000 * env.time_scale, collect,
                              &out) > 0);
    order_by_run(&out, CRASHES);
    seen_at[CRASHES] = out.n;
    size_t want = harness_distinct_in_storm(&lt.opts.gen);
    CHECK_EQ_INT(distinct(out.fp, out.n), (long long)want); /* 0 lost */
    size_t total_dups = out.n - distinct(out.fp, out.n), sum_bound = 0, worst = 0;
    for (int k = 0; k < CRASHES; k++) {
        size_t dups = repeats_of_earlier(out.fp, seen_at[k], seen_at[k + 1]);
        size_t restored_again = 0; /* sent again though restored: must be 0 */
        for (size_t i = seen_at[k]; i < seen_at[k + 1]; i++)
            restored_again += in_sorted(snap[k], snap_n[k], out.fp[i]);
        printf("crash %d: %zu duplicates; opened since the snapshot %zu (this run), %zu (all "
               "runs); snapshot %zu entries, %lld ms old; %zu restored sent again\n",
               k, dups, run_bound[k], cum_bound[k], snap_n[k], (long long)snap_age[k],
               restored_again);
        CHECK_EQ_INT(restored_again, 0);
        CHECK(dups <= cum_bound[k]);
        sum_bound += run_bound[k];
        if (dups > worst) worst = dups;
        free(snap[k]);
    }
    CHECK(total_dups <= sum_bound);
    size_t delivered = distinct(out.fp, out.n);
    printf("crash: %d kills, %zu fingerprints, %zu incidents out, %zu duplicates "
           "(%.1f per crash, worst %zu; opened since the last snapshot, summed: %zu), %zu lost\n",
           CRASHES, want, out.n, total_dups, (double)total_dups / CRASHES, worst, sum_bound,
           want > delivered ? want - delivered : 0);
    free(out.fp);
    free(out.part);
    free(out.off);
    harness_mock_stop(&kafka);
    harness_dir_done(env.dir, check_failures > 0);
    return check_summary("crash");
}
