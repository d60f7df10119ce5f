/*
 * The shared store: the pure parts (entry blob, decision parity with the
 * memory table, URL parsing) and the store worker against a real
 * redis-server started here on a free loopback port: window expiry and
 * repeats with a driven event clock, two instances racing on the same
 * fingerprints, takeover of a dead instance's pending forward, Redis killed
 * and restarted, and a TTL on every key. The adapter's own RESP
 * formatting against hiredis's.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>

#include "../dedup/dedup_int.h"
#include "check.h"
#include "redis_local.h"
#include "store_step.h"

#define MIN  60000LL
#define HOUR (60 * MIN)

static const dedup_params_t P = {5 * MIN, 4 * HOUR};
static redis_local_t redis;

/* ---- pure ---------------------------------------------------------------- */

static void test_entry_roundtrip(void)
{
    store_entry_t e = {.open = true,
                       .pending = true,
                       .pending_kind = DECISION_FORWARD_REPEAT,
                       .seq = 0x01020304,
                       .incident_id = 0x1122334455667788ULL,
                       .owner = 42,
                       .lease_until_ms = 1700000000123,
                       .first_seen_ms = 1700000000000,
                       .last_seen_ms = 1700000001000,
                       .last_forward_ms = 1700000000500,
                       .count = 99};
    unsigned char b[STORE_ENTRY_BYTES];
    store_entry_encode(&e, b);
    store_entry_t d;
    CHECK(store_entry_decode(b, sizeof(b), &d));
    CHECK(memcmp(&e, &d, sizeof(e)) == 0);
    CHECK(!store_entry_decode(b, sizeof(b) - 1, &d));
    b[1] = STORE_ENTRY_FORMAT + 1; /* a newer format is not overwritten */
    CHECK(!store_entry_decode(b, sizeof(b), &d));
}

/* store_decide and dedup_decide agree on every decision of a random
 * stream (one instance, no pending foreign entries). */
static void test_decide_parity(void)
{
    dedup_table_t *t = dedup_table_new(1000);
    store_entry_t entries[16] = {{0}};
    store_ctx_t ctx = {.me = 1, .wall_ms = 1000, .lease_ms = 30000};
    uint64_t seed = 7;
    int64_t now = 1000;
    int forwards = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int f = (int)((seed >> 33) % 16);
        alert_status_t st = ((seed >> 20) % 10) == 0 ? ALERT_RESOLVED : ALERT_FIRING;
        now += (int64_t)((seed >> 40) % (2 * MIN));
        incident_t a, b;
        decision_kind_t k1 = dedup_decide(t, &P, (uint64_t)f + 100, st, now, 0, &a);
        CHECK_EQ_INT(store_decide(&entries[f], &P, &ctx, (uint64_t)f + 100, st, now, &b),
                     STORE_DECIDED);
        if (k1 != b.kind || a.count != b.count || a.first_seen_ms != b.first_seen_ms) {
            CHECK_EQ_INT(k1, b.kind);
            CHECK_EQ_INT(a.count, b.count);
            break;
        }
        if (DECISION_IS_FORWARD(k1)) forwards++;
        entries[f].pending = false; /* delivered */
    }
    CHECK(forwards > 100);
    dedup_table_destroy(t);
}

/* The fail-open table is cleared when Redis is back: nothing stale stays. */
static void test_table_clear(void)
{
    dedup_table_t *t = dedup_table_new(100);
    incident_t inc;
    for (uint64_t fp = 1; fp <= 50; fp++) dedup_decide(t, &P, fp, ALERT_FIRING, 10, 10, &inc);
    dedup_table_clear(t);
    dedup_table_stats_t st;
    dedup_table_stats(t, &st);
    CHECK_EQ_INT(st.tracked, 0);
    for (uint64_t fp = 1; fp <= 120; fp++)
        CHECK_EQ_INT(dedup_decide(t, &P, fp, ALERT_FIRING, 20, 20, &inc), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(dedup_decide(t, &P, 120, ALERT_FIRING, 21, 21, &inc), DECISION_SUPPRESS_DUPLICATE);
    dedup_table_destroy(t);
}

static void test_pending_rules(void)
{
    store_entry_t e = {0};
    store_ctx_t a = {.me = 1, .wall_ms = 1000, .lease_ms = 5000};
    store_ctx_t b = {.me = 2, .wall_ms = 2000, .lease_ms = 5000};
    incident_t inc;
    CHECK_EQ_INT(store_decide(&e, &P, &a, 9, ALERT_FIRING, 100, &inc), STORE_DECIDED);
    CHECK_EQ_INT(inc.kind, DECISION_FORWARD_NEW);
    uint64_t id = inc.incident_id;
    CHECK(id != 0);
    CHECK(e.pending && e.owner == 1 && e.lease_until_ms == 6000);
    /* The owner's own duplicates are suppressed while it delivers. */
    store_entry_t own = e;
    CHECK_EQ_INT(store_decide(&own, &P, &a, 9, ALERT_FIRING, 200, &inc), STORE_DECIDED);
    CHECK_EQ_INT(inc.kind, DECISION_SUPPRESS_DUPLICATE);
    /* Another instance waits while the lease runs... */
    store_entry_t other = e;
    CHECK_EQ_INT(store_decide(&other, &P, &b, 9, ALERT_FIRING, 200, &inc), STORE_PARK);
    CHECK(memcmp(&other, &e, sizeof(e)) == 0);
    /* ...and takes over once it ran out: the same incident, forwarded. */
    b.wall_ms = 7000;
    CHECK_EQ_INT(store_decide(&other, &P, &b, 9, ALERT_FIRING, 300, &inc), STORE_DECIDED);
    CHECK_EQ_INT(inc.kind, DECISION_FORWARD_NEW);
    CHECK_EQ_INT(inc.incident_id, id);
    CHECK_EQ_INT(inc.count, 2);
    CHECK(other.owner == 2 && other.seq == 2);
    /* Confirmed: others just suppress. */
    other.pending = false;
    CHECK_EQ_INT(store_decide(&other, &P, &a, 9, ALERT_FIRING, 400, &inc), STORE_DECIDED);
    CHECK_EQ_INT(inc.kind, DECISION_SUPPRESS_DUPLICATE);
}

/* The adapter writes its commands as RESP itself (resp_*): byte for
 * byte what hiredis formats of the same arguments, for empty, binary
 * (CR, LF, NUL inside), long and numeric arguments, several commands
 * in one buffer, and a buffer reused after resp_reset. */
static void test_resp_format(void)
{
    static char big[70000];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)(i * 7 + 3);
    const char bin[] = {'a', '\r', '\n', 0, '$', '*', '\n'};
    const char *argv1[] = {"EVALSHA", "0123456789abcdef0123456789abcdef01234567", "2", "", bin};
    size_t len1[] = {7, 40, 1, 0, sizeof(bin)};
    const char *argv2[] = {"SET", big, "NX", "GET", "PX", "360000"};
    size_t len2[] = {3, sizeof(big), 2, 3, 2, 6};
    const char *argv3[] = {"X"};
    size_t len3[] = {1};
    struct {
        int argc;
        const char **argv;
        const size_t *len;
    } cmds[] = {{5, argv1, len1}, {6, argv2, len2}, {1, argv3, len3}};
    resp_buf_t b = {0};
    for (int round = 0; round < 2; round++) {
        resp_reset(&b);
        size_t want_len = 0;
        char *want = NULL;
        for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
            resp_cmd(&b, (size_t)cmds[c].argc);
            for (int i = 0; i < cmds[c].argc; i++) resp_arg(&b, cmds[c].argv[i], cmds[c].len[i]);
            char *one = NULL;
            int n = redisFormatCommandArgv(&one, cmds[c].argc, cmds[c].argv, cmds[c].len);
            CHECK(n > 0);
            if (n <= 0) return;
            want = realloc(want, want_len + (size_t)n);
            memcpy(want + want_len, one, (size_t)n);
            want_len += (size_t)n;
            free(one);
        }
        CHECK_EQ_INT(b.len, want_len);
        CHECK(b.len == want_len && memcmp(b.buf, want, want_len) == 0);
        free(want);
    }
    /* 9 and 100 arguments: counts of one and three digits */
    for (size_t argc = 9; argc <= 100; argc += 91) {
        resp_reset(&b);
        resp_cmd(&b, argc);
        const char *argv[100];
        size_t lens[100];
        for (size_t i = 0; i < argc; i++) argv[i] = big, lens[i] = i * 11;
        for (size_t i = 0; i < argc; i++) resp_arg(&b, argv[i], lens[i]);
        char *one = NULL;
        int n = redisFormatCommandArgv(&one, (int)argc, argv, lens);
        CHECK(n > 0 && b.len == (size_t)n && memcmp(b.buf, one, (size_t)n) == 0);
        free(one);
    }
    resp_free(&b);
    CHECK(b.buf == NULL && b.len == 0);
}

static void test_url(void)
{
    store_conf_t sc = {0};
    bool mem;
    char err[256];
    CHECK_EQ_INT(store_url_parse("memory", &sc, &mem, err, sizeof(err)), QERR_OK);
    CHECK(mem);
    CHECK_EQ_INT(store_url_parse("redis://r1.example:6380/3", &sc, &mem, err, sizeof(err)),
                 QERR_OK);
    CHECK(!mem);
    CHECK_EQ_STR(sc.host, "r1.example");
    CHECK_EQ_INT(sc.port, 6380);
    CHECK_EQ_INT(sc.db, 3);
    CHECK_EQ_INT(store_url_parse("redis://h", &sc, &mem, err, sizeof(err)), QERR_OK);
    CHECK_EQ_INT(sc.port, 6379);
    CHECK_EQ_INT(sc.db, 0);
    CHECK_EQ_INT(store_url_parse("redis://h:0/1", &sc, &mem, err, sizeof(err)), QERR_INVALID);
    CHECK_EQ_INT(store_url_parse("redis://h:1/x", &sc, &mem, err, sizeof(err)), QERR_INVALID);
    CHECK_EQ_INT(store_url_parse("http://h", &sc, &mem, err, sizeof(err)), QERR_INVALID);
    CHECK(strstr(err, "store.url") != NULL);
}

/* ---- a store worker driven by hand ---------------------------------------- */

typedef struct {
    uint64_t fp;
    decision_kind_t kind;
    uint64_t incident_id;
    bool degraded;
    msg_track_t *delivery;
} fwd_t;

typedef struct {
    fwd_t fwd[4096];
    size_t n;
    bool hold; /* do not deliver (the instance "dies" before delivery) */
} sink_t;

static qerr_t sink_forward(void *ctx, const alert_t *a, const incident_t *inc, msg_track_t *track)
{
    sink_t *s = ctx;
    if (s->n < 4096)
        s->fwd[s->n++] = (fwd_t){a->fingerprint, inc->kind, inc->incident_id, inc->degraded, track};
    if (!s->hold) track_done(track);
    return QERR_OK;
}

typedef struct {
    store_worker_t *sw;
    ring_t *ring;
    dedup_table_t *fallback;
    _Atomic uint64_t decisions[DECISION__COUNT];
    store_worker_stats_t stats;
    sink_t sink;
    msg_track_t tracks[4096];
    size_t n_tracks;
} inst_t;

static store_conf_t conf_for(const char *prefix)
{
    store_conf_t sc = {.prefix = prefix,
                       .timeout_ms = 500,
                       .on_error = STORE_FAIL_OPEN,
                       .lease_ms = 1000,
                       .cache_ms = 1000,
                       .batch = 64,
                       .cache_entries = 1024};
    sc.ttl_ms = store_ttl_ms(&P, sc.lease_ms);
    snprintf(sc.host, sizeof(sc.host), "127.0.0.1");
    sc.port = redis.port;
    return sc;
}

/* The order decisions were counted in, while order_on (test_local_first). */
static struct {
    uint64_t fp;
    decision_kind_t kind;
} order_log[64];
static size_t order_n;
static bool order_on;

static void count_decided(void *ctx, const alert_t *a, const incident_t *inc)
{
    if (order_on && order_n < 64) {
        order_log[order_n].fp = a->fingerprint;
        order_log[order_n++].kind = inc->kind;
    }
    decision_kind_t k = inc->kind;
    _Atomic uint64_t *decisions = ctx;
    stat_add(&decisions[k], 1);
}

static void inst_init(inst_t *in, const store_conf_t *sc, uint64_t me)
{
    memset(in, 0, sizeof(*in));
    in->ring = ring_new(1 << 20);
    in->fallback = dedup_table_new(10000);
    in->sw = store_worker_new(sc, me, &P, in->fallback, sink_forward, &in->sink, count_decided,
                              in->decisions, &in->stats);
}

static void inst_destroy(inst_t *in)
{
    store_worker_destroy(in->sw);
    ring_destroy(in->ring);
    dedup_table_destroy(in->fallback);
}

/* Puts one alert in the ring; returns its input track. */
static msg_track_t *push(inst_t *in, uint64_t fp, alert_status_t st, int64_t now)
{
    label_t l = {{"alertname", 9}, {"A", 1}};
    alert_t a = {.labels = &l,
                 .n_labels = 1,
                 .status = st,
                 .event_time_ms = now,
                 .watermark_ms = now,
                 .fingerprint = fp};
    msg_track_t *t = &in->tracks[in->n_tracks++ % 4096];
    atomic_init(&t->pending, 1);
    size_t size = alert_rec_size(&a);
    alert_rec_write(ring_reserve(in->ring, size), &a, t);
    ring_commit(in->ring);
    return t;
}

/* Steps until the ring is empty and nothing is outstanding (bounded). */
static void drain(inst_t *in)
{
    size_t len;
    for (int i = 0; i < 5000; i++) {
        step_ring(in->sw, in->ring, false);
        if (!ring_peek(in->ring, &len) && !store_worker_busy(in->sw)) return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    CHECK(!"drain timed out");
}

static decision_kind_t last_kind(inst_t *in, uint64_t before_n)
{
    return in->sink.n > before_n ? in->sink.fwd[in->sink.n - 1].kind : DECISION__COUNT;
}

static void test_window_and_repeat_redis(void)
{
    store_conf_t sc = conf_for("t-window:");
    sc.cache_ms = 0; /* every decision goes to Redis */
    inst_t in;
    inst_init(&in, &sc, 11);
    size_t n0 = in.sink.n;
    push(&in, 1, ALERT_FIRING, 0);
    drain(&in);
    CHECK_EQ_INT(last_kind(&in, n0), DECISION_FORWARD_NEW);
    uint64_t id = in.sink.fwd[in.sink.n - 1].incident_id;
    n0 = in.sink.n;
    push(&in, 1, ALERT_FIRING, 4 * MIN);
    push(&in, 1, ALERT_FIRING, 8 * MIN);
    push(&in, 1, ALERT_FIRING, 13 * MIN); /* exactly window after the last: inside */
    drain(&in);
    CHECK_EQ_INT(in.sink.n, n0);
    CHECK_EQ_INT(in.decisions[DECISION_SUPPRESS_DUPLICATE], 3);
    /* Every 4 h of firing a reminder, same incident id. */
    for (int64_t t = 14 * MIN; t <= 4 * HOUR + 13 * MIN; t += 4 * MIN)
        push(&in, 1, ALERT_FIRING, t);
    drain(&in);
    CHECK_EQ_INT(in.sink.n, n0 + 1);
    CHECK_EQ_INT(last_kind(&in, n0), DECISION_FORWARD_REPEAT);
    CHECK_EQ_INT(in.sink.fwd[in.sink.n - 1].incident_id, id);
    /* More than a window of silence: a new incident with a new id. */
    n0 = in.sink.n;
    push(&in, 1, ALERT_FIRING, 5 * HOUR);
    drain(&in);
    CHECK_EQ_INT(last_kind(&in, n0), DECISION_FORWARD_NEW);
    CHECK(in.sink.fwd[in.sink.n - 1].incident_id != id);
    /* Resolved closes; a resolve of nothing is suppressed. */
    n0 = in.sink.n;
    push(&in, 1, ALERT_RESOLVED, 5 * HOUR + 1);
    push(&in, 1, ALERT_RESOLVED, 5 * HOUR + 2);
    drain(&in);
    CHECK_EQ_INT(in.sink.n, n0 + 1);
    CHECK_EQ_INT(in.sink.fwd[n0].kind, DECISION_FORWARD_RESOLVED);
    CHECK_EQ_INT(in.decisions[DECISION_SUPPRESS_RESOLVED_NO_INCIDENT], 1);
    CHECK(in.stats.round_trips > 0);
    CHECK_EQ_INT(in.stats.degraded, 0);
    inst_destroy(&in);

    /* A second instance sees the same state: Redis, not the process,
     * holds the window. */
    inst_t other;
    sc.cache_ms = 1000;
    inst_init(&other, &sc, 12);
    push(&other, 1, ALERT_FIRING, 5 * HOUR + 3); /* closed above: new */
    push(&other, 1, ALERT_FIRING, 5 * HOUR + 4);
    drain(&other);
    CHECK_EQ_INT(other.sink.n, 1);
    CHECK_EQ_INT(other.sink.fwd[0].kind, DECISION_FORWARD_NEW);
    inst_destroy(&other);
}

/* L1: a flood of one fingerprint costs Redis nothing once cached. */
static void test_cache(void)
{
    store_conf_t sc = conf_for("t-cache:");
    inst_t in;
    inst_init(&in, &sc, 21);
    push(&in, 5, ALERT_FIRING, 1000);
    drain(&in);
    uint64_t rt = in.stats.round_trips;
    for (int i = 0; i < 2000; i++) {
        push(&in, 5, ALERT_FIRING, 1000 + i);
        if (i % 500 == 499) step_ring(in.sw, in.ring, false);
    }
    while (ring_used_bytes(in.ring)) step_ring(in.sw, in.ring, false);
    CHECK_EQ_INT(in.sink.n, 1);
    CHECK_EQ_INT(in.stats.local, 2000);
    CHECK(in.stats.round_trips - rt <= 1); /* at most the count flush */
    /* The counts reach Redis with the flush (forced when stopping). */
    step_ring(in.sw, in.ring, true);
    redisContext *c = redis_local_client(&redis);
    redisReply *r = redisCommand(c, "GET t-cache:%016llx", 5ULL);
    store_entry_t e = {0};
    CHECK(r && r->type == REDIS_REPLY_STRING && store_entry_decode(r->str, (size_t)r->len, &e));
    CHECK_EQ_INT(e.count, 2001);
    CHECK_EQ_INT(e.last_seen_ms, 2999);
    CHECK(!e.pending); /* confirmed after delivery */
    if (r) freeReplyObject(r);
    redisFree(c);
    inst_destroy(&in);
}

typedef struct {
    inst_t *in;
    pthread_barrier_t *bar;
} race_arg_t;

/* Alerts that need no round (decided from L1) are acted on while the
 * batch is assembled, before the round that decides the others; each
 * fingerprint's decisions keep their input order. */
static void test_local_first(void)
{
    store_conf_t sc = conf_for("t-local-first:");
    inst_t in;
    inst_init(&in, &sc, 23);
    push(&in, 5, ALERT_FIRING, 1000);
    push(&in, 8, ALERT_FIRING, 1000);
    drain(&in);
    uint64_t local0 = in.stats.local;
    order_n = 0;
    order_on = true;
    push(&in, 6, ALERT_FIRING, 2000);                   /* new: decided in the round */
    msg_track_t *t5 = push(&in, 5, ALERT_FIRING, 2000); /* L1: a duplicate */
    push(&in, 8, ALERT_RESOLVED, 2000);                 /* the round: a resolve */
    push(&in, 8, ALERT_FIRING, 2001); /* behind it in 8's group, though L1 holds 8 */
    push(&in, 6, ALERT_FIRING, 2001); /* 6's group: a duplicate */
    push(&in, 5, ALERT_FIRING, 2001); /* L1 */
    step_ring(in.sw, in.ring, false);
    order_on = false;
    CHECK_EQ_INT(in.stats.local - local0, 2);
    CHECK_EQ_INT(atomic_load(&t5->pending), 0);
    CHECK_EQ_INT(order_n, 6);
    static const uint64_t fps[] = {5, 5, 6, 8, 8, 6};
    for (size_t i = 0; i < order_n && i < 6; i++) CHECK_EQ_INT(order_log[i].fp, fps[i]);
    CHECK_EQ_INT(order_log[0].kind, DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(order_log[1].kind, DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(order_log[2].kind, DECISION_FORWARD_NEW);
    CHECK_EQ_INT(order_log[3].kind, DECISION_FORWARD_RESOLVED);
    CHECK(order_log[4].kind != DECISION_FORWARD_RESOLVED);
    CHECK_EQ_INT(order_log[5].kind, DECISION_SUPPRESS_DUPLICATE);
    drain(&in);
    inst_destroy(&in);
}

static void *race_main(void *arg)
{
    race_arg_t *ra = arg;
    pthread_barrier_wait(ra->bar);
    drain(ra->in);
    return NULL;
}

/* Two instances decide the same 500 fingerprints at the same instant: one
 * forward each, not two. With `batch` 1024 a round holds all 500 groups,
 * CASes of several script calls of up to 128 keys each. */
static void test_race(const char *prefix, size_t batch)
{
    store_conf_t sc = conf_for(prefix);
    sc.batch = batch;
    static inst_t a, b;
    inst_init(&a, &sc, 31);
    inst_init(&b, &sc, 32);
    for (int round = 0; round < 3; round++)
        for (uint64_t fp = 1; fp <= 500; fp++) {
            push(&a, fp, ALERT_FIRING, 1000 + round);
            push(&b, fp, ALERT_FIRING, 1000 + round);
        }
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    race_arg_t ra = {&a, &bar}, rb = {&b, &bar};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race_main, &ra);
    pthread_create(&tb, NULL, race_main, &rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&bar);
    CHECK_EQ_INT(a.sink.n + b.sink.n, 500);
    CHECK_EQ_INT(a.decisions[DECISION_FORWARD_NEW] + b.decisions[DECISION_FORWARD_NEW], 500);
    CHECK_EQ_INT(
        a.decisions[DECISION_SUPPRESS_DUPLICATE] + b.decisions[DECISION_SUPPRESS_DUPLICATE], 2500);
    CHECK(a.stats.conflicts + b.stats.conflicts + a.stats.parked + b.stats.parked > 0);
    CHECK_EQ_INT(a.stats.degraded + b.stats.degraded, 0);
    inst_destroy(&a);
    inst_destroy(&b);
}

/* The confirms of delivered forwards ride the next batch's round: one
 * round trip per batch, not one for the CASes and one for the confirms. */
static void test_confirms_ride(void)
{
    store_conf_t sc = conf_for("t-ride:");
    inst_t in;
    inst_init(&in, &sc, 35);
    msg_track_t *first = NULL;
    for (uint64_t s = 0; s < 5; s++) {
        for (uint64_t fp = 1; fp <= 50; fp++) {
            msg_track_t *t = push(&in, s * 100 + fp, ALERT_FIRING, 1000);
            if (!first) first = t;
        }
        step_ring(in.sw, in.ring, false);
        CHECK_EQ_INT(in.stats.round_trips, s + 1);
    }
    /* The last batch's confirms: a round of their own once nothing else
     * goes to Redis. */
    drain(&in);
    CHECK_EQ_INT(in.stats.round_trips, 6);
    CHECK_EQ_INT(in.sink.n, 250);
    CHECK_EQ_INT(atomic_load(&first->pending), 0);
    redisContext *c = redis_local_client(&redis);
    for (uint64_t fp = 1; fp <= 401; fp += 100) {
        redisReply *r = redisCommand(c, "GET t-ride:%016llx", (unsigned long long)fp);
        store_entry_t e = {0};
        CHECK(r && r->type == REDIS_REPLY_STRING && store_entry_decode(r->str, (size_t)r->len, &e));
        CHECK(e.open && !e.pending); /* every forward confirmed */
        if (r) freeReplyObject(r);
    }
    redisFree(c);
    inst_destroy(&in);
}

/* Fingerprints spread over the cache as real ones are (hashes, not
 * small consecutive numbers that share home slots). */
static uint64_t spread_fp(uint64_t i)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    return z ^ (z >> 31);
}

/* A flood of one-off fingerprints (fired and resolved at once) through a
 * small cache does not push out the entries of open incidents: their next
 * occurrences are still decided from the cache. (When a one-off's two
 * candidate slots both hold open incidents, one of those goes: rare.)
 * Evicting the less fresh of two instead pushed out all 50. */
static void test_cache_keeps_open(void)
{
    store_conf_t sc = conf_for("t-keep:");
    sc.cache_ms = 4000; /* the test's own time is not what is checked */
    inst_t in;
    inst_init(&in, &sc, 36);
    for (uint64_t i = 1; i <= 50; i++) push(&in, spread_fp(i), ALERT_FIRING, 1000);
    drain(&in);
    CHECK_EQ_INT(in.sink.n, 50);
    for (uint64_t i = 1000; i < 4000; i++) {
        push(&in, spread_fp(i), ALERT_FIRING, 2000);
        push(&in, spread_fp(i), ALERT_RESOLVED, 2001);
        if (i % 500 == 0) drain(&in);
    }
    drain(&in);
    uint64_t local = in.stats.local, conflicts = in.stats.conflicts;
    for (uint64_t i = 1; i <= 50; i++) push(&in, spread_fp(i), ALERT_FIRING, 3000);
    drain(&in);
    /* Each evicted one costs a CAS that expected it absent. */
    CHECK_EQ_INT(in.stats.local - local + in.stats.conflicts - conflicts, 50);
    CHECK(in.stats.local - local >= 40);
    CHECK_EQ_INT(in.decisions[DECISION_SUPPRESS_DUPLICATE], 50);
    CHECK_EQ_INT(in.decisions[DECISION_FORWARD_NEW], 3050);
    inst_destroy(&in);
}

typedef struct {
    inst_t *in;
    ring_t *ring;
    int n;
    _Atomic int produced;
    _Atomic bool stop;
    int stalls; /* waits for room that ran into their timeout */
} feeder_t;

static void *feeder_main(void *arg)
{
    feeder_t *f = arg;
    label_t l = {{"alertname", 9}, {"A", 1}};
    for (int i = 0; i < f->n && !atomic_load(&f->stop); i++) {
        alert_t a = {.labels = &l,
                     .n_labels = 1,
                     .status = ALERT_FIRING,
                     .event_time_ms = 1000 + i,
                     .watermark_ms = 1000 + i,
                     .fingerprint = 13};
        msg_track_t *t = &f->in->tracks[i % 4096];
        atomic_init(&t->pending, 1);
        size_t size = alert_rec_size(&a);
        void *p;
        while (!(p = ring_reserve(f->ring, size)) && !atomic_load(&f->stop)) {
            int64_t t0 = clock_mono_ns();
            ring_wait_room(f->ring, size, 2000);
            if (clock_mono_ns() - t0 >= 1500LL * 1000000) f->stalls++;
        }
        if (!p) break;
        alert_rec_write(p, &a, t);
        ring_commit(f->ring);
        atomic_store(&f->produced, i + 1);
    }
    return NULL;
}

/* The worker releases the records it copies quietly and wakes a producer
 * waiting for room once per 64 records and at the end of each ring's
 * burst: an ingest thread blocked on a full ring (4 KiB here, a few
 * dozen records) is never left waiting for its timeout. */
static void test_producer_woken(void)
{
    store_conf_t sc = conf_for("t-woken:");
    sc.batch = 1024;
    static inst_t in;
    inst_init(&in, &sc, 45);
    ring_t *small = ring_new(4096);
    feeder_t f = {.in = &in, .ring = small, .n = 1000};
    pthread_t th;
    pthread_create(&th, NULL, feeder_main, &f);
    size_t len;
    int64_t deadline = clock_mono_ns() + 20LL * 1000000000;
    while (clock_mono_ns() < deadline &&
           (atomic_load(&f.produced) < f.n || ring_peek(small, &len) || store_worker_busy(in.sw)))
        if (!step_ring(in.sw, small, false)) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    atomic_store(&f.stop, true);
    pthread_join(th, NULL);
    CHECK_EQ_INT(atomic_load(&f.produced), 1000);
    CHECK_EQ_INT(in.sink.n, 1);
    CHECK_EQ_INT(in.decisions[DECISION_SUPPRESS_DUPLICATE], 999);
    CHECK_EQ_INT(f.stalls, 0);
    inst_destroy(&in);
    ring_destroy(small);
}

/* Fingerprints that fit the cache stay in it: of 512 open incidents in a
 * cache of 1,024 slots (8-way sets), 4 are pushed out by others of their
 * set; with two candidate slots per fingerprint 78 were. Each one pushed
 * out costs its batch a CAS expecting it absent, lost, and a second round
 * trip. */
static void test_cache_sets(void)
{
    store_conf_t sc = conf_for("t-sets:");
    sc.cache_ms = 4000; /* flushed within the drain */
    inst_t in;
    inst_init(&in, &sc, 44);
    for (uint64_t i = 1; i <= 512; i++) push(&in, spread_fp(100000 + i), ALERT_FIRING, 1000);
    drain(&in);
    CHECK_EQ_INT(in.sink.n, 512);
    uint64_t local = in.stats.local, conflicts = in.stats.conflicts;
    for (uint64_t i = 1; i <= 512; i++) push(&in, spread_fp(100000 + i), ALERT_FIRING, 1001);
    drain(&in);
    CHECK_EQ_INT(in.decisions[DECISION_SUPPRESS_DUPLICATE], 512);
    CHECK_EQ_INT(in.stats.local - local + in.stats.conflicts - conflicts, 512);
    CHECK(in.stats.conflicts - conflicts <= 8);
    inst_destroy(&in);
}

/* The count flush's answers are what Redis holds: L1 takes them. Another
 * instance resolves an incident this one has cached as open; until its
 * next flush this one suppresses the next occurrence from its cache (the
 * documented store.cache staleness), after it the occurrence opens a new
 * incident at once, its CAS expecting what the touch answered. (Before,
 * the cache kept its own guess, open, until store.cache ran out.) */
static void test_touch_answers(void)
{
    store_conf_t sc = conf_for("t-answer:");
    sc.cache_ms = 600000; /* no flush but the forced one; nothing goes stale */
    static inst_t a, b;
    inst_init(&a, &sc, 41);
    inst_init(&b, &sc, 42);
    push(&a, 9, ALERT_FIRING, 1000);
    drain(&a);
    push(&b, 9, ALERT_RESOLVED, 1001);
    drain(&b);
    CHECK(a.sink.n == 1 && b.sink.n == 1 && b.sink.fwd[0].kind == DECISION_FORWARD_RESOLVED);
    push(&a, 9, ALERT_FIRING, 1002); /* cached as open: a duplicate, counted */
    while (ring_used_bytes(a.ring)) step_ring(a.sw, a.ring, false);
    CHECK_EQ_INT(a.sink.n, 1);
    CHECK_EQ_INT(a.stats.local, 1);
    step_ring(a.sw, a.ring, true); /* the flush: its answer says closed */
    uint64_t conflicts = a.stats.conflicts;
    push(&a, 9, ALERT_FIRING, 1003);
    drain(&a);
    CHECK_EQ_INT(a.sink.n, 2);
    CHECK_EQ_INT(last_kind(&a, 1), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(a.stats.conflicts, conflicts);
    inst_destroy(&a);
    inst_destroy(&b);
}

/* The entry Redis holds for fp (decoded), or false. */
static bool redis_entry(redisContext *c, const char *prefix, uint64_t fp, store_entry_t *e)
{
    redisReply *r = redisCommand(c, "GET %s%016llx", prefix, (unsigned long long)fp);
    bool ok = r && r->type == REDIS_REPLY_STRING && store_entry_decode(r->str, (size_t)r->len, e);
    if (r) freeReplyObject(r);
    return ok;
}

/* A touch carries the entry the worker expects Redis to hold and the one
 * it makes of it: written as is when Redis holds the expected one, else
 * worked out by the script from what Redis holds (another instance wrote
 * since). Either way it answers what Redis holds now. Two touches of one
 * key in one pipeline both count: the scripts read their keys up front
 * (MGET), so the second goes in a call of its own; sent in one call, its
 * stale read would overwrite the first's count. */
static void test_touch_expected(void)
{
    store_conf_t sc = conf_for("t-texp:");
    redisContext *c = redis_local_client(&redis);
    store_entry_t e = {.open = true,
                       .incident_id = 7,
                       .first_seen_ms = 1000,
                       .last_seen_ms = 1000,
                       .last_forward_ms = 1000,
                       .count = 1};
    unsigned char b[STORE_ENTRY_BYTES];
    store_entry_encode(&e, b);
    redisReply *r = redisCommand(c, "SET t-texp:%016llx %b PX 1000", 5ULL, b, sizeof b);
    if (r) freeReplyObject(r);
    store_conn_t *conn = store_conn_new(&sc, "test");
    CHECK(store_conn_ready(conn));
    store_result_t res[4];
    store_entry_t d;
    /* expected: written as worked out here, the TTL renewed */
    store_touch_add(conn, 5, 2, 1005, b, true);
    CHECK(store_run(conn, res, 1) == QERR_OK);
    CHECK(res[0].kind == STORE_R_VALUE && res[0].cur_len == STORE_ENTRY_BYTES &&
          store_entry_decode(res[0].cur, res[0].cur_len, &d) && d.count == 3 &&
          d.last_seen_ms == 1005 && d.incident_id == 7);
    CHECK(redis_entry(c, "t-texp:", 5, &d) && d.count == 3 && d.last_seen_ms == 1005);
    r = redisCommand(c, "PTTL t-texp:%016llx", 5ULL);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 1000);
    if (r) freeReplyObject(r);
    /* stale expectation (b is no longer there): the script's arithmetic on
     * what is there; last seen never goes back */
    store_touch_add(conn, 5, 4, 1001, b, true);
    CHECK(store_run(conn, res, 1) == QERR_OK);
    CHECK(res[0].kind == STORE_R_VALUE && res[0].cur_len == STORE_ENTRY_BYTES &&
          store_entry_decode(res[0].cur, res[0].cur_len, &d) && d.count == 7 &&
          d.last_seen_ms == 1005);
    CHECK(redis_entry(c, "t-texp:", 5, &d) && d.count == 7 && d.last_seen_ms == 1005);
    /* one key twice in a pipeline, both expecting what is there now */
    unsigned char now[STORE_ENTRY_BYTES];
    memcpy(now, res[0].cur, sizeof now);
    store_touch_add(conn, 5, 1, 1006, now, true);
    store_touch_add(conn, 6, 1, 1006, NULL, true); /* absent: nothing written */
    store_touch_add(conn, 5, 10, 1007, now, true);
    CHECK_EQ_INT(store_queued(conn), 3);
    CHECK(store_run(conn, res, 3) == QERR_OK);
    CHECK(res[1].kind == STORE_R_VALUE && res[1].cur_len == 0);
    CHECK(res[2].cur_len == STORE_ENTRY_BYTES &&
          store_entry_decode(res[2].cur, res[2].cur_len, &d) && d.count == 18 &&
          d.last_seen_ms == 1007);
    CHECK(redis_entry(c, "t-texp:", 5, &d) && d.count == 18 && d.last_seen_ms == 1007);
    r = redisCommand(c, "EXISTS t-texp:%016llx", 6ULL);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    if (r) freeReplyObject(r);
    store_conn_destroy(conn);
    redisFree(c);
}

/* A confirm carries the entry the worker wrote (pending) and the one it
 * makes of it: written as is (TTL kept) when Redis holds the first, else
 * the script clears the flag only if the entry is still pending for that
 * forward. Another instance's forward pending since is never confirmed. */
static void test_confirm_expected(void)
{
    store_conf_t sc = conf_for("t-cexp:");
    redisContext *c = redis_local_client(&redis);
    store_entry_t e = {.open = true,
                       .pending = true,
                       .pending_kind = DECISION_FORWARD_NEW,
                       .seq = 3,
                       .incident_id = 9,
                       .pending_id = 9,
                       .owner = 1,
                       .first_seen_ms = 1000,
                       .last_seen_ms = 1000,
                       .last_forward_ms = 1000,
                       .count = 1};
    unsigned char b[STORE_ENTRY_BYTES], later[STORE_ENTRY_BYTES];
    store_entry_encode(&e, b);
    for (uint64_t fp = 1; fp <= 3; fp++) {
        redisReply *r =
            redisCommand(c, "SET t-cexp:%016llx %b PX 100000", (unsigned long long)fp, b, sizeof b);
        if (r) freeReplyObject(r);
    }
    /* fp 2: touched since (count 5); fp 3: another instance's forward
     * (seq 4, owner 2) pending since */
    store_entry_t e2 = e, e3 = e;
    e2.count = 5;
    e3.seq = 4;
    e3.owner = 2;
    store_entry_encode(&e2, later);
    redisReply *r = redisCommand(c, "SET t-cexp:%016llx %b KEEPTTL", 2ULL, later, sizeof later);
    if (r) freeReplyObject(r);
    store_entry_encode(&e3, later);
    r = redisCommand(c, "SET t-cexp:%016llx %b KEEPTTL", 3ULL, later, sizeof later);
    if (r) freeReplyObject(r);
    store_conn_t *conn = store_conn_new(&sc, "test");
    CHECK(store_conn_ready(conn));
    for (uint64_t fp = 1; fp <= 3; fp++) store_confirm_add(conn, fp, 3, 9, b);
    store_result_t res[1];
    CHECK_EQ_INT(store_queued(conn), 1);
    CHECK(store_run(conn, res, 1) == QERR_OK && res[0].kind == STORE_R_OK);
    store_entry_t d;
    CHECK(redis_entry(c, "t-cexp:", 1, &d) && !d.pending && d.seq == 3 && d.count == 1);
    CHECK(redis_entry(c, "t-cexp:", 2, &d) && !d.pending && d.count == 5);
    CHECK(redis_entry(c, "t-cexp:", 3, &d) && d.pending && d.seq == 4 && d.owner == 2);
    r = redisCommand(c, "PTTL t-cexp:%016llx", 1ULL);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 1000 && r->integer <= 100000);
    if (r) freeReplyObject(r);
    store_conn_destroy(conn);
    redisFree(c);
}

/* A fingerprint suppressed from L1 without a pause stays cached: each
 * count flush (every store.cache / 2) renews its slot, so its occurrences
 * never go to Redis after the first, however long the flood lasts (before:
 * one CAS per store.cache, each costing a key of a script call). The
 * occurrences are paced over 3.5 x store.cache: the cache's expiry is
 * what is tested, so time has to pass; a stall of a whole store.cache
 * between two steps would cost one CAS, which the bound allows. */
static void test_cache_renewed(void)
{
    store_conf_t sc = conf_for("t-renew:");
    sc.cache_ms = 1000;
    inst_t in;
    inst_init(&in, &sc, 43);
    push(&in, 11, ALERT_FIRING, 1000);
    drain(&in);
    CHECK_EQ_INT(in.sink.n, 1);
    uint64_t local = in.stats.local;
    int64_t until = clock_mono_ns() + 3500LL * 1000000;
    int n = 0;
    while (clock_mono_ns() < until) {
        push(&in, 11, ALERT_FIRING, 1001 + n++);
        step_ring(in.sw, in.ring, false);
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    drain(&in);
    CHECK_EQ_INT(in.sink.n, 1);
    CHECK_EQ_INT(in.decisions[DECISION_SUPPRESS_DUPLICATE], (uint64_t)n);
    CHECK((uint64_t)n - (in.stats.local - local) <= 1); /* without renewal: 3 or more */
    inst_destroy(&in);
}

static long long pttl_of(redisContext *c, const char *prefix, uint64_t fp)
{
    redisReply *r = redisCommand(c, "PTTL %s%016llx", prefix, (unsigned long long)fp);
    long long ms = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -3;
    if (r) freeReplyObject(r);
    return ms;
}

static void pexpire(redisContext *c, const char *prefix, uint64_t fp, long long ms)
{
    redisReply *r = redisCommand(c, "PEXPIRE %s%016llx %lld", prefix, (unsigned long long)fp, ms);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    if (r) freeReplyObject(r);
}

/* The adapter's renew flag: a cas or touch that renews sets the TTL to
 * ttl_ms + STORE_TTL_RENEW_MS, one that does not keeps the key's, on the
 * expected path and on the script's own (a stale expectation) alike; a
 * CAS expecting the key absent sets it whatever the flag. */
static void test_ttl_flag(void)
{
    store_conf_t sc = conf_for("t-tflag:");
    long long full = sc.ttl_ms + STORE_TTL_RENEW_MS;
    redisContext *c = redis_local_client(&redis);
    store_conn_t *conn = store_conn_new(&sc, "test");
    CHECK(store_conn_ready(conn));
    store_entry_t e = {.open = true,
                       .incident_id = 7,
                       .first_seen_ms = 1000,
                       .last_seen_ms = 1000,
                       .last_forward_ms = 1000,
                       .count = 1};
    unsigned char b[STORE_ENTRY_BYTES], b2[STORE_ENTRY_BYTES], b3[STORE_ENTRY_BYTES];
    store_entry_encode(&e, b);
    store_result_t res[2];
    store_cas_add(conn, 1, NULL, b, false); /* absent: the TTL is set anyway */
    CHECK(store_run(conn, res, 1) == QERR_OK && res[0].kind == STORE_R_OK);
    long long t = pttl_of(c, "t-tflag:", 1);
    CHECK(t > full - 5000 && t <= full);
    pexpire(c, "t-tflag:", 1, 200000);
    e.count = 2;
    store_entry_encode(&e, b2);
    store_cas_add(conn, 1, b, b2, false); /* kept */
    CHECK(store_run(conn, res, 1) == QERR_OK && res[0].kind == STORE_R_OK);
    t = pttl_of(c, "t-tflag:", 1);
    CHECK(t > 190000 && t <= 200000);
    e.count = 3;
    store_entry_encode(&e, b3);
    store_cas_add(conn, 1, b2, b3, true); /* renewed */
    CHECK(store_run(conn, res, 1) == QERR_OK && res[0].kind == STORE_R_OK);
    CHECK(pttl_of(c, "t-tflag:", 1) > full - 5000);
    pexpire(c, "t-tflag:", 1, 200000);
    store_touch_add(conn, 1, 1, 1001, b3, false);  /* expected: kept */
    store_touch_add(conn, 2, 1, 1001, NULL, true); /* absent: nothing written */
    CHECK(store_run(conn, res, 2) == QERR_OK && res[0].kind == STORE_R_VALUE &&
          res[0].cur_len == STORE_ENTRY_BYTES && res[1].cur_len == 0);
    t = pttl_of(c, "t-tflag:", 1);
    CHECK(t > 190000 && t <= 200000);
    CHECK_EQ_INT(pttl_of(c, "t-tflag:", 2), -2);
    store_touch_add(conn, 1, 1, 1002, b, false); /* stale expectation: kept */
    CHECK(store_run(conn, res, 1) == QERR_OK && res[0].cur_len == STORE_ENTRY_BYTES);
    t = pttl_of(c, "t-tflag:", 1);
    CHECK(t > 190000 && t <= 200000);
    store_touch_add(conn, 1, 1, 1003, b, true); /* stale expectation: renewed */
    CHECK(store_run(conn, res, 1) == QERR_OK && res[0].cur_len == STORE_ENTRY_BYTES);
    CHECK(pttl_of(c, "t-tflag:", 1) > full - 5000);
    store_entry_t d;
    CHECK(redis_entry(c, "t-tflag:", 1, &d) && d.count == 6 && d.last_seen_ms == 1003);
    store_conn_destroy(conn);
    redisFree(c);
}

/* A worker keeps the TTL it set itself a moment ago (KEEPTTL on its count
 * flushes and CASes) and every write still leaves the key at least ttl_ms
 * to live; a worker that did not set the TTL (another instance, or this
 * one after its cache lost the slot) renews it. The key's TTL is cut
 * below a renewal's (but above ttl_ms) by hand to see which write did
 * what. */
static void test_ttl_kept(void)
{
    store_conf_t sc = conf_for("t-tkeep:");
    long long full = sc.ttl_ms + STORE_TTL_RENEW_MS, cut = sc.ttl_ms + 20000;
    redisContext *c = redis_local_client(&redis);
    inst_t a;
    inst_init(&a, &sc, 51);
    push(&a, 3, ALERT_FIRING, 1000); /* new: SET NX, the TTL set */
    drain(&a);
    CHECK_EQ_INT(a.sink.n, 1);
    long long t = pttl_of(c, "t-tkeep:", 3);
    CHECK(t > full - 5000 && t <= full);
    pexpire(c, "t-tkeep:", 3, cut);
    for (int i = 1; i <= 20; i++) push(&a, 3, ALERT_FIRING, 1000 + i); /* from L1: a touch */
    drain(&a);
    CHECK_EQ_INT(a.stats.local, 20);
    t = pttl_of(c, "t-tkeep:", 3);
    CHECK(t > cut - 10000 && t <= cut && t > sc.ttl_ms);
    push(&a, 3, ALERT_RESOLVED, 2000); /* a forward: a CAS */
    drain(&a);
    CHECK_EQ_INT(a.sink.n, 2);
    t = pttl_of(c, "t-tkeep:", 3);
    CHECK(t > cut - 10000 && t <= cut && t > sc.ttl_ms);
    store_entry_t d;
    CHECK(redis_entry(c, "t-tkeep:", 3, &d) && !d.open && d.count == 22);
    /* Another instance writes it: the TTL it never set is renewed. */
    inst_t b;
    inst_init(&b, &sc, 52);
    push(&b, 3, ALERT_FIRING, 3000);
    drain(&b);
    CHECK_EQ_INT(b.sink.n, 1);
    CHECK(pttl_of(c, "t-tkeep:", 3) > full - 5000);
    inst_destroy(&b);
    inst_destroy(&a);
    redisFree(c);
}

/* An instance dies between decision and delivery: its input stays
 * uncommitted, the replay reaches another instance, which waits out the
 * lease and forwards the same incident id. */
static void test_takeover(void)
{
    store_conf_t sc = conf_for("t-takeover:");
    inst_t dead, live;
    inst_init(&dead, &sc, 41);
    dead.sink.hold = true;
    msg_track_t *t = push(&dead, 77, ALERT_FIRING, 5000);
    for (int i = 0; i < 20; i++) step_ring(dead.sw, dead.ring, false);
    CHECK_EQ_INT(dead.sink.n, 1);
    uint64_t id = dead.sink.fwd[0].incident_id;
    CHECK_EQ_INT(atomic_load(&t->pending), 1); /* offset never committed */
    /* "kill -9": the worker vanishes without confirming anything. */

    inst_init(&live, &sc, 42);
    int64_t t0 = clock_mono_ns();
    msg_track_t *replay = push(&live, 77, ALERT_FIRING, 5000);
    step_ring(live.sw, live.ring, false);
    CHECK_EQ_INT(live.sink.n, 0); /* parked while the lease runs */
    CHECK_EQ_INT(atomic_load(&replay->pending), 1);
    drain(&live);
    CHECK_EQ_INT(live.sink.n, 1);
    CHECK_EQ_INT(live.sink.fwd[0].kind, DECISION_FORWARD_NEW);
    CHECK_EQ_INT(live.sink.fwd[0].incident_id, id);
    CHECK(clock_mono_ns() - t0 >= 900LL * 1000000); /* it did wait for the lease */
    CHECK_EQ_INT(atomic_load(&replay->pending), 0);
    CHECK_EQ_INT(live.stats.takeovers, 1);
    inst_destroy(&live);
    store_worker_destroy(dead.sw); /* what is left of it */
    ring_destroy(dead.ring);
    dedup_table_destroy(dead.fallback);
}

/* Redis killed: decisions fail open (forwards marked degraded, counted),
 * nothing is lost; restarted empty: the worker reconnects by itself and
 * writes back what it knew instead of opening those incidents again. */
static void test_redis_restart(void)
{
    store_conf_t sc = conf_for("t-restart:");
    sc.timeout_ms = 100;
    sc.cache_ms = 0;
    inst_t in;
    inst_init(&in, &sc, 51);
    for (uint64_t fp = 1; fp <= 50; fp++) push(&in, fp, ALERT_FIRING, 1000);
    drain(&in);
    CHECK_EQ_INT(in.sink.n, 50);

    redis_local_kill(&redis, SIGKILL);
    for (uint64_t fp = 1; fp <= 60; fp++) push(&in, fp, ALERT_FIRING, 2000);
    drain(&in);
    /* Nothing lost: the 10 new fingerprints went out, degraded; the 50
     * known ones went out once more at most (the fallback table is fresh). */
    size_t degraded = 0;
    for (size_t i = 50; i < in.sink.n; i++) degraded += in.sink.fwd[i].degraded;
    CHECK_EQ_INT(in.sink.n - 50, degraded);
    CHECK(in.sink.n >= 60 && in.sink.n <= 110);
    CHECK_EQ_INT(in.stats.degraded, degraded);
    for (size_t i = 0; i < in.n_tracks; i++) CHECK_EQ_INT(atomic_load(&in.tracks[i].pending), 0);

    CHECK_EQ_INT(redis_local_start(&redis), 0); /* same port, empty */
    struct timespec ts = {6, 0};                /* the longest reconnect backoff */
    nanosleep(&ts, NULL);
    size_t n0 = in.sink.n;
    uint64_t deg0 = in.stats.degraded;
    for (uint64_t fp = 1; fp <= 50; fp++) push(&in, fp, ALERT_FIRING, 3000);
    drain(&in);
    CHECK_EQ_INT(in.stats.degraded, deg0); /* recovered without a restart */
    CHECK_EQ_INT(in.sink.n, n0);           /* known incidents written back, not re-opened */
    CHECK_EQ_INT(in.stats.reseeded, 50);
    inst_destroy(&in);
}

/* SCRIPT FLUSH under a running worker: the scripts are loaded again and
 * the batch is sent again, nothing degraded. */
static void test_noscript(void)
{
    store_conf_t sc = conf_for("t-noscript:");
    sc.cache_ms = 0;
    inst_t in;
    inst_init(&in, &sc, 71);
    for (uint64_t fp = 1; fp <= 20; fp++) push(&in, fp, ALERT_FIRING, 1000);
    drain(&in);
    redisContext *c = redis_local_client(&redis);
    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    CHECK(r && r->type == REDIS_REPLY_STATUS);
    if (r) freeReplyObject(r);
    redisFree(c);
    for (uint64_t fp = 1; fp <= 40; fp++) push(&in, fp, ALERT_FIRING, 2000);
    drain(&in);
    CHECK_EQ_INT(in.sink.n, 40); /* 20 first, then the 20 new ones */
    CHECK_EQ_INT(in.decisions[DECISION_SUPPRESS_DUPLICATE], 20);
    CHECK_EQ_INT(in.stats.degraded, 0);
    inst_destroy(&in);
}

/* fail_closed: while Redis is away nothing is decided and nothing is
 * committed; once it is back, everything is, exactly once. */
static void test_fail_closed(void)
{
    store_conf_t sc = conf_for("t-closed:");
    sc.on_error = STORE_FAIL_CLOSED;
    sc.timeout_ms = 100;
    sc.cache_ms = 0; /* a cached duplicate would not need Redis at all */
    static inst_t in;
    inst_init(&in, &sc, 81);
    push(&in, 1, ALERT_FIRING, 1000);
    drain(&in);
    CHECK_EQ_INT(in.sink.n, 1);
    redis_local_kill(&redis, SIGKILL);
    msg_track_t *held[3];
    held[0] = push(&in, 1, ALERT_FIRING, 2000); /* a duplicate */
    held[1] = push(&in, 2, ALERT_FIRING, 2000); /* new */
    held[2] = push(&in, 3, ALERT_FIRING, 2000); /* new */
    for (int i = 0; i < 50; i++) {
        step_ring(in.sw, in.ring, false);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_INT(in.sink.n, 1); /* nothing forwarded... */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(atomic_load(&held[i]->pending), 1); /* ...or committed */
    CHECK(store_worker_busy(in.sw));
    CHECK_EQ_INT(redis_local_start(&redis), 0);
    int64_t deadline = clock_mono_ns() + 15LL * 1000000000;
    while (store_worker_busy(in.sw) && clock_mono_ns() < deadline) {
        step_ring(in.sw, in.ring, false);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_INT(in.sink.n, 3); /* 2 and 3 opened; 1 was... */
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(atomic_load(&held[i]->pending), 0);
    CHECK_EQ_INT(in.stats.degraded, 0);
    CHECK_EQ_INT(in.stats.reseeded, 1); /* ...a duplicate of what the cache knew */
    inst_destroy(&in);
}

/* Many fingerprints through a small cache (evictions with unflushed
 * counts), resolves and expiries: the same decisions as the memory table. */
static void test_parity_through_redis(int64_t cache_ms)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "t-parity%lld:", (long long)cache_ms);
    store_conf_t sc = conf_for(prefix);
    sc.cache_entries = 1024;
    sc.cache_ms = cache_ms;
    static inst_t in;
    inst_init(&in, &sc, 61);
    dedup_table_t *t = dedup_table_new(100000);
    uint64_t want[DECISION__COUNT] = {0};
    uint64_t seed = 99;
    int64_t now = 1000;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 2000; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            /* Skewed: a few hot fingerprints, many cold ones. */
            uint64_t r = seed >> 33;
            uint64_t fp = (r % 4 == 0) ? 1 + (r >> 8) % 8 : 100 + (r >> 8) % 6000;
            alert_status_t st = ((seed >> 20) % 20) == 0 ? ALERT_RESOLVED : ALERT_FIRING;
            now += 200;
            incident_t inc;
            want[dedup_decide(t, &P, fp * 0x9e3779b97f4a7c15ULL, st, now, 0, &inc)]++;
            push(&in, fp * 0x9e3779b97f4a7c15ULL, st, now);
        }
        drain(&in);
    }
    for (int k = 0; k < DECISION__COUNT; k++) CHECK_EQ_INT(in.decisions[k], want[k]);
    CHECK(cache_ms == 0 || in.stats.local > 0);
    dedup_table_destroy(t);
    inst_destroy(&in);
}

static void test_ttl(void)
{
    redisContext *c = redis_local_client(&redis);
    long long no_ttl = 0;
    long long n = redis_local_count_keys(c, "t-", &no_ttl);
    CHECK(n >= 50);
    CHECK_EQ_INT(no_ttl, 0);
    redisReply *r = redisCommand(c, "PTTL t-closed:%016llx", 2ULL);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 2 * P.window_ms &&
          r->integer <= store_ttl_ms(&P, 1000) + STORE_TTL_RENEW_MS);
    if (r) freeReplyObject(r);
    redisFree(c);
}

int main(void)
{
    test_entry_roundtrip();
    test_decide_parity();
    test_table_clear();
    test_pending_rules();
    test_url();
    test_resp_format();
    if (!redis_local_available()) {
        printf("SKIP: redis-server not installed\n");
        return check_failures ? 1 : 77;
    }
    if (redis_local_start(&redis) != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    test_window_and_repeat_redis();
    test_cache();
    test_local_first();
    test_race("t-race:", 64);
    test_race("t-race-wide:", 1024);
    test_confirms_ride();
    test_cache_keeps_open();
    test_cache_sets();
    test_producer_woken();
    test_touch_answers();
    test_touch_expected();
    test_confirm_expected();
    test_cache_renewed();
    test_ttl_flag();
    test_ttl_kept();
    test_takeover();
    test_redis_restart();
    test_noscript();
    test_fail_closed();
    test_parity_through_redis(1000);
    test_parity_through_redis(0);
    test_ttl();
    redis_local_stop(&redis);
    return check_summary("store");
}
