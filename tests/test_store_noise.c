/*
 * Noise control in the shared store: the flapping and transient state lives
 * in the Redis entry (format 2), so instances sharing one Redis agree on
 * it. Pure parts (the format-2 blob, reading format 1, a noise hold leaves
 * no pending forward) and, against a real redis-server on a free loopback
 * port with a driven event clock: two store workers with different instance
 * ids taking turns on the same fingerprints decide exactly as one memory
 * decider (dedup/decide.c) does, on scripted cases and on a random stream;
 * a format-1 entry left by an older build is read and rewritten.
 */
#include "../dedup/dedup.h"
#include "../dedup/dedup_int.h"
#include "check.h"
#include "redis_local.h"
#include "store_step.h"

#define MIN  60000LL
#define HOUR (60 * MIN)
#define T0   1700000000000LL

static const dedup_params_t P = {5 * MIN, 4 * HOUR};
static redis_local_t redis;

static ruleset_t *compile(const char *yaml)
{
    conf_t c;
    conf_defaults(&c);
    char err[512];
    ruleset_t *rs = NULL;
    if (conf_load_buffer(&c, "r.yaml", yaml, strlen(yaml), err, sizeof err) == QERR_OK) {
        free(c.path);
        c.path = strdup("r.yaml");
        if (ruleset_compile(&c, NULL, NULL, &rs, err, sizeof err) != QERR_OK) rs = NULL;
    }
    conf_free(&c);
    if (!rs) fprintf(stderr, "compile: %s\n", err);
    return rs;
}

/* ---- pure ---------------------------------------------------------------- */

static void test_entry_format2(void)
{
    store_entry_t e = {.open = true,
                       .pending = true,
                       .pending_kind = DECISION_FORWARD_NEW,
                       .seq = 7,
                       .incident_id = 0x1122334455667788ULL,
                       .owner = 42,
                       .lease_until_ms = T0 + 5,
                       .first_seen_ms = T0,
                       .last_seen_ms = T0 + 1000,
                       .last_forward_ms = T0 + 500,
                       .count = 99,
                       .pending_id = 0x99,
                       .noise = {.window_start_ms = T0 + 10,
                                 .last_flip_ms = T0 + 20,
                                 .flips = 0x01020304,
                                 .last_status = ALERT_RESOLVED,
                                 .seen = true,
                                 .held = true,
                                 .pending = true}};
    unsigned char b[STORE_ENTRY_BYTES];
    store_entry_encode(&e, b);
    CHECK_EQ_INT(b[1], 2);
    store_entry_t d;
    CHECK(store_entry_decode(b, sizeof b, &d));
    unsigned char again[STORE_ENTRY_BYTES];
    store_entry_encode(&d, again);
    CHECK(memcmp(b, again, sizeof b) == 0);
    CHECK(d.count == 99 && d.seq == 7 && d.pending_id == 0x99 && d.noise.flips == 0x01020304 &&
          d.noise.seen && d.noise.held && d.noise.pending &&
          d.noise.last_status == ALERT_RESOLVED && d.noise.window_start_ms == T0 + 10 &&
          d.noise.last_flip_ms == T0 + 20);
    /* Format 1: the first 64 bytes, byte 1 = 1, no noise flags: read with
     * the noise state zeroed, the rest as it was. */
    unsigned char v1[STORE_ENTRY_BYTES_V1];
    memcpy(v1, b, sizeof v1);
    v1[1] = 1;
    v1[2] &= 3;
    CHECK(store_entry_decode(v1, sizeof v1, &d));
    CHECK(d.open && d.pending && d.count == 99 && d.incident_id == e.incident_id);
    CHECK(!d.noise.seen && !d.noise.held && !d.noise.pending && d.noise.flips == 0);
    CHECK_EQ_INT(d.pending_id, e.incident_id); /* format 1 confirms by incident id */
    unsigned char up[STORE_ENTRY_BYTES];
    CHECK(store_entry_upgrade(v1, sizeof v1, up));
    CHECK_EQ_INT(up[1], STORE_ENTRY_FORMAT);
    CHECK(!store_entry_upgrade(b, sizeof b, up));    /* already format 2 */
    CHECK(!store_entry_decode(b, sizeof b - 1, &d)); /* neither length */
    v1[1] = 2;
    CHECK(!store_entry_decode(v1, sizeof v1, &d)); /* 64 bytes claiming format 2 */
    b[1] = STORE_ENTRY_FORMAT + 1;
    CHECK(!store_entry_decode(b, sizeof b, &d));
}

/* A noise hold writes its state but never a pending forward; the release
 * is a forward like any other. */
static void test_hold_not_pending(void)
{
    dedup_noise_t np = {.min_count = 3};
    store_ctx_t ctx = {.me = 1, .wall_ms = 1000, .lease_ms = 5000, .noise = &np};
    store_entry_t e = {0};
    incident_t inc;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(store_decide(&e, &P, &ctx, 9, ALERT_FIRING, T0 + i, &inc), STORE_DECIDED);
        CHECK_EQ_INT(inc.kind, DECISION_SUPPRESS_TRANSIENT);
        CHECK(!e.pending && e.seq == 0 && e.noise.pending && e.open);
    }
    /* Another instance sees no pending forward to wait for. */
    store_ctx_t other = {.me = 2, .wall_ms = 1000, .lease_ms = 5000, .noise = &np};
    CHECK_EQ_INT(store_decide(&e, &P, &other, 9, ALERT_FIRING, T0 + 2, &inc), STORE_DECIDED);
    CHECK_EQ_INT(inc.kind, DECISION_FORWARD_NEW);
    CHECK(e.pending && e.owner == 2 && e.seq == 1 && !e.noise.pending);
}

/* ---- through Redis --------------------------------------------------------- */

typedef struct {
    const ruleset_t *rs;
    decider_t *d; /* its rule half only (pre) */
} hook_ctx_t;

static void hook_begin(void *ctx) { (void)ctx; }
static void hook_end(void *ctx) { (void)ctx; }
static bool hook_pre(void *ctx, const alert_t *a, incident_t *o)
{
    hook_ctx_t *h = ctx;
    return decider_rules(h->d, h->rs, a, o);
}
static const dedup_noise_t *hook_noise(void *ctx)
{
    hook_ctx_t *h = ctx;
    return ruleset_noise(h->rs);
}
static const dedup_rules_hook_t hook = {hook_begin, hook_pre, hook_end, hook_noise};

/* Decisions of both instances, in the order made (shared: the test drains
 * one instance at a time). */
#define LOG_MAX 8192
static decision_kind_t decided_log[LOG_MAX];
static size_t n_decided;
typedef struct {
    uint64_t fp;
    decision_kind_t kind;
    bool flapped;
    uint64_t incident_id;
} fwd_t;
static fwd_t fwd_log[LOG_MAX];
static size_t n_fwd;

static qerr_t sink_forward(void *ctx, const alert_t *a, const incident_t *inc, msg_track_t *track)
{
    (void)ctx;
    if (n_fwd < LOG_MAX)
        fwd_log[n_fwd++] = (fwd_t){a->fingerprint, inc->kind, inc->flapped, inc->incident_id};
    track_done(track);
    return QERR_OK;
}

static void on_decided(void *ctx, const alert_t *a, const incident_t *inc)
{
    (void)ctx;
    (void)a;
    decision_kind_t k = inc->kind;
    if (n_decided < LOG_MAX) decided_log[n_decided++] = k;
}

typedef struct {
    store_worker_t *sw;
    ring_t *ring;
    dedup_table_t *fallback;
    store_worker_stats_t stats;
    hook_ctx_t h;
    msg_track_t tracks[4096];
    size_t n_tracks;
} inst_t;

static void inst_init(inst_t *in, const char *prefix, int64_t cache_ms, uint64_t me,
                      const ruleset_t *rs)
{
    memset(in, 0, sizeof *in);
    store_conf_t sc = {.prefix = prefix,
                       .timeout_ms = 500,
                       .on_error = STORE_FAIL_OPEN,
                       .lease_ms = 1000,
                       .cache_ms = cache_ms,
                       .batch = 64,
                       .cache_entries = 1024};
    sc.ttl_ms = store_ttl_ms(&P, sc.lease_ms);
    snprintf(sc.host, sizeof sc.host, "127.0.0.1");
    sc.port = redis.port;
    in->ring = ring_new(1 << 22);
    in->fallback = dedup_table_new(10000);
    in->sw = store_worker_new(&sc, me, &P, in->fallback, sink_forward, NULL, on_decided, NULL,
                              &in->stats);
    decider_opts_t o = {P, true, 256, 1024};
    in->h = (hook_ctx_t){rs, decider_new(&o, in->fallback, NULL)};
    store_worker_set_rules(in->sw, &hook, &in->h);
}

static void inst_destroy(inst_t *in)
{
    store_worker_destroy(in->sw);
    decider_destroy(in->h.d);
    ring_destroy(in->ring);
    dedup_table_destroy(in->fallback);
}

static alert_t alert_of(label_t *l, uint64_t fp, alert_status_t st, int64_t now)
{
    l[0] = (label_t){{"alertname", 9}, {"A", 1}};
    return (alert_t){.labels = l,
                     .n_labels = 1,
                     .status = st,
                     .event_time_ms = now,
                     .watermark_ms = now,
                     .fingerprint = fp};
}

static void push(inst_t *in, uint64_t fp, alert_status_t st, int64_t now)
{
    label_t l[1];
    alert_t a = alert_of(l, fp, st, now);
    msg_track_t *t = &in->tracks[in->n_tracks++ % 4096];
    atomic_init(&t->pending, 1);
    size_t size = alert_rec_size(&a);
    alert_rec_write(ring_reserve(in->ring, size), &a, t);
    ring_commit(in->ring);
}

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

typedef struct {
    uint64_t fp;
    alert_status_t st;
    int64_t at; /* minutes after T0 */
} ev_t;

/* Entries under `prefix` still pending (a forward never confirmed): after
 * a drain, none may be, or the next instance would park behind them. */
static long long pending_under(const char *prefix)
{
    redisContext *c = redis_local_client(&redis);
    char script[512];
    snprintf(script, sizeof script,
             "local p, cur = 0, '0' repeat local r = redis.call('SCAN', cur, 'MATCH', '%s*', "
             "'COUNT', 1000) cur = r[1] for _, k in ipairs(r[2]) do local v = "
             "redis.call('GET', k) if v and #v >= 64 and string.byte(v, 3) %% 4 >= 2 then "
             "p = p + 1 end end until cur == '0' return p",
             prefix);
    redisReply *r = redisCommand(c, "EVAL %s 0", script);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    redisFree(c);
    return n;
}

/* Runs `ev` through instances a and b in turn (each alert decided before
 * the next is sent) and through one memory decider; every decision, and
 * every forward's `flapped`, must agree. Returns the forwards made. */
static size_t run_split(const char *prefix, const char *yaml, const ev_t *ev, size_t n,
                        int64_t cache_ms)
{
    ruleset_t *rs = compile(yaml);
    CHECK(rs != NULL);
    if (!rs) return 0;
    static inst_t a, b;
    inst_init(&a, prefix, cache_ms, 101, rs);
    inst_init(&b, prefix, cache_ms, 102, rs);
    dedup_table_t *t = dedup_table_new(10000);
    decider_opts_t o = {P, true, 256, 1024};
    decider_t *mem = decider_new(&o, t, NULL);
    n_decided = n_fwd = 0;
    size_t mem_fwd = 0;
    for (size_t i = 0; i < n; i++) {
        inst_t *in = i % 2 ? &b : &a;
        size_t before = n_fwd;
        push(in, ev[i].fp, ev[i].st, T0 + ev[i].at * MIN);
        drain(in);
        label_t l[1];
        alert_t al = alert_of(l, ev[i].fp, ev[i].st, T0 + ev[i].at * MIN);
        incident_t inc;
        decision_kind_t want = decider_decide(mem, rs, &al, &inc);
        CHECK_EQ_INT(n_decided, i + 1);
        if (n_decided != i + 1) break;
        if (decided_log[i] != want)
            fprintf(stderr, "  %s: alert %zu (fp %llu at %lld min): store %s, memory %s\n", prefix,
                    i, (unsigned long long)ev[i].fp, (long long)ev[i].at,
                    decision_str(decided_log[i]), decision_str(want));
        CHECK_EQ_INT(decided_log[i], want);
        if (DECISION_IS_FORWARD(want)) {
            mem_fwd++;
            CHECK_EQ_INT(n_fwd, before + 1);
            if (n_fwd == before + 1) CHECK_EQ_INT(fwd_log[before].flapped, inc.flapped);
        }
    }
    CHECK_EQ_INT(n_fwd, mem_fwd);
    CHECK_EQ_INT(a.stats.degraded + b.stats.degraded, 0);
    CHECK_EQ_INT(pending_under(prefix), 0);
    decider_destroy(mem);
    dedup_table_destroy(t);
    inst_destroy(&a);
    inst_destroy(&b);
    ruleset_destroy(rs);
    return n_fwd;
}

#define N(x) (sizeof(x) / sizeof((x)[0]))

/* min_count 3 reached by alerts split over two instances: forwarded once,
 * as new, by whichever instance saw the third; the duplicates after it
 * are suppressed; a transient resolved before it is never shown. */
static void test_transient_split(int64_t cache_ms)
{
    const ev_t ev[] = {
        {1, ALERT_FIRING, 0},   {1, ALERT_FIRING, 1},  {1, ALERT_FIRING, 2},
        {1, ALERT_FIRING, 3},   {1, ALERT_FIRING, 4},  {2, ALERT_FIRING, 5},
        {2, ALERT_RESOLVED, 6}, {2, ALERT_FIRING, 20}, {2, ALERT_FIRING, 21},
    };
    char prefix[32];
    snprintf(prefix, sizeof prefix, "t-trans%lld:", (long long)cache_ms);
    size_t f = run_split(prefix, "noise:\n  min_count: 3\n", ev, N(ev), cache_ms);
    CHECK_EQ_INT(f, 1);
    CHECK_EQ_INT(fwd_log[0].fp, 1);
    CHECK_EQ_INT(fwd_log[0].kind, DECISION_FORWARD_NEW);
    CHECK_EQ_INT(decided_log[0], DECISION_SUPPRESS_TRANSIENT);
    CHECK_EQ_INT(decided_log[1], DECISION_SUPPRESS_TRANSIENT); /* instance b */
    CHECK_EQ_INT(decided_log[2], DECISION_FORWARD_NEW);        /* instance a, count 3 */
    CHECK_EQ_INT(decided_log[3], DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(decided_log[6], DECISION_SUPPRESS_TRANSIENT); /* resolved, never shown */
}

/* min_duration across instances: held until it has fired for 4 minutes. */
static void test_duration_split(void)
{
    const ev_t ev[] = {{3, ALERT_FIRING, 0},
                       {3, ALERT_FIRING, 2},
                       {3, ALERT_FIRING, 3},
                       {3, ALERT_FIRING, 4},
                       {3, ALERT_FIRING, 5}};
    size_t f = run_split("t-dur:", "noise:\n  min_duration: 4m\n", ev, N(ev), 0);
    CHECK_EQ_INT(f, 1);
    CHECK_EQ_INT(decided_log[3], DECISION_FORWARD_NEW);
}

/* Flapping across instances: the flips each instance sees add up; the
 * alert is held by both, then forwarded once, flapped, when stable. */
static void test_flapping_split(void)
{
    const ev_t ev[] = {
        {5, ALERT_FIRING, 0},  {5, ALERT_RESOLVED, 1},
        {5, ALERT_FIRING, 2},  {5, ALERT_RESOLVED, 3}, /* third flip: held */
        {5, ALERT_FIRING, 4},  {5, ALERT_RESOLVED, 5},
        {5, ALERT_FIRING, 6},  {5, ALERT_FIRING, 16}, /* 10 min after the last flip: released */
        {5, ALERT_FIRING, 17},
    };
    size_t f =
        run_split("t-flap:", "noise:\n  flapping: {threshold: 3, window: 10m}\n", ev, N(ev), 0);
    CHECK_EQ_INT(f, 4); /* new, resolved, new; then the one flapped incident */
    for (int i = 3; i <= 6; i++) CHECK_EQ_INT(decided_log[i], DECISION_SUPPRESS_FLAPPING);
    CHECK(n_fwd == 4 && fwd_log[3].flapped);
    CHECK_EQ_INT(decided_log[8], DECISION_SUPPRESS_DUPLICATE);
}

/* A random stream over a few fingerprints, both noise rules on, the
 * instances taking turns: the same decisions as one memory decider. */
static void test_random_split(void)
{
    static ev_t ev[3000];
    uint64_t seed = 12345;
    int64_t at = 0;
    for (size_t i = 0; i < N(ev); i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        ev[i].fp = 1 + (seed >> 33) % 12;
        ev[i].st = ((seed >> 20) % 4) == 0 ? ALERT_RESOLVED : ALERT_FIRING;
        if ((seed >> 45) % 3 == 0) at += 1 + (int64_t)((seed >> 50) % 4);
        ev[i].at = at;
    }
    run_split("t-rand:",
              "noise:\n  flapping: {threshold: 3, window: 10m}\n  min_count: 3\n"
              "  min_duration: 4m\n",
              ev, N(ev), 0);
}

/* One instance, batches through the L1 cache and grouped CAS rounds: the
 * same decision counts as the memory decider. */
static void test_random_batched(int64_t cache_ms)
{
    ruleset_t *rs = compile("noise:\n  flapping: {threshold: 4, window: 15m}\n  min_count: 3\n");
    CHECK(rs != NULL);
    if (!rs) return;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "t-batch%lld:", (long long)cache_ms);
    static inst_t in;
    inst_init(&in, prefix, cache_ms, 201, rs);
    dedup_table_t *t = dedup_table_new(100000);
    decider_opts_t o = {P, true, 256, 1 << 16};
    decider_t *mem = decider_new(&o, t, NULL);
    uint64_t want[DECISION__COUNT] = {0}, got[DECISION__COUNT] = {0};
    n_decided = n_fwd = 0;
    uint64_t seed = 99;
    int64_t now = T0;
    size_t total = 0;
    for (int round = 0; round < 20; round++) {
        size_t start = n_decided;
        for (int i = 0; i < 200; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t r = seed >> 33;
            uint64_t fp = (r % 4 == 0) ? 1 + (r >> 8) % 8 : 100 + (r >> 8) % 300;
            alert_status_t st = ((seed >> 20) % 6) == 0 ? ALERT_RESOLVED : ALERT_FIRING;
            now += 2000;
            label_t l[1];
            alert_t al = alert_of(l, fp * 0x9e3779b97f4a7c15ULL, st, now);
            incident_t inc;
            want[decider_decide(mem, rs, &al, &inc)]++;
            push(&in, al.fingerprint, st, now);
            total++;
        }
        drain(&in);
        for (size_t i = start; i < n_decided; i++) got[decided_log[i]]++;
        if (n_decided > LOG_MAX - 400) n_decided = 0; /* counted already */
    }
    for (int k = 0; k < DECISION__COUNT; k++) {
        if (got[k] != want[k])
            fprintf(stderr, "  batched %lld: %s store %llu memory %llu\n", (long long)cache_ms,
                    decision_str((decision_kind_t)k), (unsigned long long)got[k],
                    (unsigned long long)want[k]);
        CHECK_EQ_INT(got[k], want[k]);
    }
    CHECK(want[DECISION_SUPPRESS_TRANSIENT] > 0 && want[DECISION_SUPPRESS_FLAPPING] > 0);
    CHECK(cache_ms == 0 || in.stats.local > 0);
    CHECK_EQ_INT(pending_under(prefix), 0);
    decider_destroy(mem);
    dedup_table_destroy(t);
    inst_destroy(&in);
    ruleset_destroy(rs);
}

/* An alert held as flapping keeps firing without flipping: those
 * occurrences change only the entry's count and last occurrence, so they
 * are decided from the cache like duplicates (no CAS each), and their
 * count still reaches Redis. */
static void test_flapping_held_local(void)
{
    ruleset_t *rs = compile("noise:\n  flapping: {threshold: 3, window: 10m}\n");
    CHECK(rs != NULL);
    if (!rs) return;
    static inst_t in;
    inst_init(&in, "t-held:", 3000, 301, rs);
    n_decided = n_fwd = 0;
    /* firing, resolved, firing, resolved (third flip: held), firing */
    for (int i = 0; i < 5; i++) push(&in, 7, i % 2 ? ALERT_RESOLVED : ALERT_FIRING, T0 + i * MIN);
    drain(&in);
    CHECK_EQ_INT(decided_log[3], DECISION_SUPPRESS_FLAPPING);
    CHECK_EQ_INT(decided_log[4], DECISION_SUPPRESS_FLAPPING);
    uint64_t local = in.stats.local, rt = in.stats.round_trips;
    for (int i = 1; i <= 100; i++) push(&in, 7, ALERT_FIRING, T0 + 4 * MIN + i);
    drain(&in);
    CHECK_EQ_INT(n_decided, 105);
    for (size_t i = 5; i < n_decided; i++) CHECK_EQ_INT(decided_log[i], DECISION_SUPPRESS_FLAPPING);
    CHECK_EQ_INT(in.stats.local - local, 100);
    CHECK(in.stats.round_trips - rt <= 1); /* the count flush, not a round per batch */
    step_ring(in.sw, in.ring, true);
    redisContext *c = redis_local_client(&redis);
    redisReply *r = redisCommand(c, "GET t-held:%016llx", 7ULL);
    store_entry_t e = {0};
    CHECK(r && r->type == REDIS_REPLY_STRING && store_entry_decode(r->str, (size_t)r->len, &e));
    CHECK(e.noise.held && e.open);
    CHECK_EQ_INT(e.count, 101); /* the incident the fifth alert opened, and the 100 */
    CHECK_EQ_INT(e.last_seen_ms, T0 + 4 * MIN + 100);
    if (r) freeReplyObject(r);
    redisFree(c);
    inst_destroy(&in);
    ruleset_destroy(rs);
}

/* An entry an older build wrote (format 1, 64 bytes) is read, confirmed,
 * touched and rewritten as format 2 (96 bytes) with its incident kept. */
static void test_format1_in_redis(void)
{
    store_entry_t e = {.open = true,
                       .incident_id = 555,
                       .first_seen_ms = T0,
                       .last_seen_ms = T0,
                       .last_forward_ms = T0,
                       .count = 1};
    unsigned char b[STORE_ENTRY_BYTES];
    store_entry_encode(&e, b);
    b[1] = 1;
    b[2] &= 3;
    redisContext *c = redis_local_client(&redis);
    redisReply *r = redisCommand(c, "SET t-v1:%016llx %b PX 600000", 77ULL, b, (size_t)64);
    CHECK(r && r->type == REDIS_REPLY_STATUS);
    if (r) freeReplyObject(r);
    ruleset_t *rs = compile("noise:\n  min_count: 2\n");
    static inst_t in;
    inst_init(&in, "t-v1:", 1000, 301, rs);
    n_decided = n_fwd = 0;
    push(&in, 77, ALERT_FIRING, T0 + MIN); /* the open incident: a duplicate */
    drain(&in);
    CHECK_EQ_INT(n_decided, 1);
    CHECK_EQ_INT(decided_log[0], DECISION_SUPPRESS_DUPLICATE);
    r = redisCommand(c, "GET t-v1:%016llx", 77ULL);
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == STORE_ENTRY_BYTES);
    store_entry_t d;
    CHECK(r && store_entry_decode(r->str, (size_t)r->len, &d) && d.incident_id == 555 &&
          d.count == 2 && d.noise.seen);
    if (r) freeReplyObject(r);
    /* A resolve forwards (and is confirmed) under the same incident id. */
    push(&in, 77, ALERT_RESOLVED, T0 + 2 * MIN);
    drain(&in);
    CHECK(n_fwd == 1 && fwd_log[0].kind == DECISION_FORWARD_RESOLVED &&
          fwd_log[0].incident_id == 555);
    r = redisCommand(c, "GET t-v1:%016llx", 77ULL);
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == STORE_ENTRY_BYTES &&
          !(r->str[2] & 2)); /* confirmed: not pending */
    if (r) freeReplyObject(r);
    /* touch of a format-1 entry keeps its format and length */
    r = redisCommand(c, "SET t-v1:%016llx %b PX 600000", 78ULL, b, (size_t)64);
    if (r) freeReplyObject(r);
    store_conf_t sc = {.prefix = "t-v1:", .timeout_ms = 500, .ttl_ms = 600000, .batch = 8};
    snprintf(sc.host, sizeof sc.host, "127.0.0.1");
    sc.port = redis.port;
    store_conn_t *conn = store_conn_new(&sc, "test");
    CHECK(store_conn_ready(conn));
    store_touch_add(conn, 78, 5, T0 + 3 * MIN, NULL, true);
    store_result_t res[1];
    CHECK(store_run(conn, res, 1) == QERR_OK);
    store_conn_destroy(conn);
    /* ...and answers what it wrote, read as format 2 */
    CHECK(res[0].kind == STORE_R_VALUE && res[0].cur_len == STORE_ENTRY_BYTES &&
          store_entry_decode(res[0].cur, res[0].cur_len, &d) && d.count == 6 &&
          d.last_seen_ms == T0 + 3 * MIN);
    r = redisCommand(c, "GET t-v1:%016llx", 78ULL);
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == 64 &&
          store_entry_decode(r->str, 64, &d) && d.count == 6 && d.last_seen_ms == T0 + 3 * MIN);
    if (r) freeReplyObject(r);
    redisFree(c);
    inst_destroy(&in);
    ruleset_destroy(rs);
}

/* ---- firing inhibitors through Redis --------------------------------------- */

typedef struct {
    inhibit_state_t *st;
    inhibit_sync_t *sync;
    decider_t *d;
    dedup_table_t *t;
} inh_inst_t;

static store_conf_t inh_conf(const char *prefix)
{
    store_conf_t sc = {.prefix = prefix, .timeout_ms = 500, .ttl_ms = store_ttl_ms(&P, 1000)};
    snprintf(sc.host, sizeof sc.host, "127.0.0.1");
    sc.port = redis.port;
    return sc;
}

static void inh_init(inh_inst_t *x, const char *prefix)
{
    x->st = inhibit_state_new(1024);
    store_conf_t sc = inh_conf(prefix);
    x->sync = inhibit_sync_new(x->st, &sc, 20, 50);
    x->t = dedup_table_new(1000);
    decider_opts_t o = {P, true, 0, 1024};
    x->d = decider_new(&o, x->t, x->st);
}

static void inh_destroy(inh_inst_t *x)
{
    inhibit_sync_destroy(x->sync);
    decider_destroy(x->d);
    dedup_table_destroy(x->t);
    inhibit_state_destroy(x->st);
}

/* The rule half of one alert on instance x: its decision kind, or
 * DECISION__COUNT when no rule suppressed it. */
static decision_kind_t inh_decide(inh_inst_t *x, const ruleset_t *rs, const char *name,
                                  const char *sev, const char *instance, uint64_t fp,
                                  alert_status_t st, int64_t at_min)
{
    label_t l[3] = {{{"alertname", 9}, {name, strlen(name)}},
                    {{"instance", 8}, {instance, strlen(instance)}},
                    {{"severity", 8}, {sev, strlen(sev)}}};
    alert_t a = {.labels = l,
                 .n_labels = 3,
                 .status = st,
                 .event_time_ms = T0 + at_min * MIN,
                 .watermark_ms = T0 + at_min * MIN,
                 .fingerprint = fp};
    incident_t inc;
    return decider_rules(x->d, rs, &a, &inc) ? inc.kind : DECISION__COUNT;
}

static void test_inhibit_shared(void)
{
    ruleset_t *rs = compile("inhibit_rules:\n"
                            "  - name: node-down\n"
                            "    source_matchers: ['alertname=\"NodeDown\"']\n"
                            "    target_matchers: ['severity=\"warning\"']\n"
                            "    equal: [instance]\n");
    CHECK(rs != NULL);
    if (!rs) return;
    static inh_inst_t a, b, c;
    inh_init(&a, "t-inh:");
    inh_init(&b, "t-inh:");
    CHECK_EQ_INT(inhibit_sync_now(a.sync), QERR_OK);
    CHECK_EQ_INT(inhibit_sync_now(b.sync), QERR_OK);
    const decision_kind_t INH = DECISION_SUPPRESS_INHIBITED, NONE = DECISION__COUNT;
    /* A source fires on a: once a pushed and b pulled, b inhibits its
     * targets with the same instance, not others. */
    CHECK_EQ_INT(inh_decide(&a, rs, "NodeDown", "critical", "n1", 1, ALERT_FIRING, 0), NONE);
    CHECK_EQ_INT(inh_decide(&b, rs, "Disk", "warning", "n1", 2, ALERT_FIRING, 1), NONE);
    CHECK_EQ_INT(inhibit_sync_now(a.sync), QERR_OK);
    CHECK_EQ_INT(inhibit_sync_now(b.sync), QERR_OK);
    CHECK_EQ_INT(inh_decide(&b, rs, "Disk", "warning", "n1", 2, ALERT_FIRING, 2), INH);
    CHECK_EQ_INT(inh_decide(&b, rs, "Disk", "warning", "n2", 3, ALERT_FIRING, 2), NONE);
    /* A fresh instance (a restart, after a crash too) knows it before its
     * first target. */
    inh_init(&c, "t-inh:");
    CHECK_EQ_INT(inhibit_sync_now(c.sync), QERR_OK);
    CHECK_EQ_INT(inh_decide(&c, rs, "Disk", "warning", "n1", 2, ALERT_FIRING, 3), INH);
    /* The source resolves on b (another instance than the one that saw it
     * fire): every instance stops inhibiting. */
    CHECK_EQ_INT(inh_decide(&b, rs, "NodeDown", "critical", "n1", 1, ALERT_RESOLVED, 4), NONE);
    CHECK_EQ_INT(inhibit_sync_now(b.sync), QERR_OK);
    CHECK_EQ_INT(inhibit_sync_now(a.sync), QERR_OK);
    CHECK_EQ_INT(inhibit_sync_now(c.sync), QERR_OK);
    CHECK_EQ_INT(inh_decide(&a, rs, "Disk", "warning", "n1", 2, ALERT_FIRING, 5), NONE);
    CHECK_EQ_INT(inh_decide(&c, rs, "Disk", "warning", "n1", 2, ALERT_FIRING, 5), NONE);
    /* An alert matching both sides does not inhibit its like on another
     * instance, but does inhibit a plain target. */
    CHECK_EQ_INT(inh_decide(&a, rs, "NodeDown", "warning", "n3", 9, ALERT_FIRING, 6), NONE);
    CHECK_EQ_INT(inhibit_sync_now(a.sync), QERR_OK);
    CHECK_EQ_INT(inhibit_sync_now(b.sync), QERR_OK);
    CHECK_EQ_INT(inh_decide(&b, rs, "NodeDown", "warning", "n3", 10, ALERT_FIRING, 7), NONE);
    CHECK_EQ_INT(inh_decide(&b, rs, "Disk", "warning", "n3", 11, ALERT_FIRING, 7), INH);
    /* With the threads running: a source on a reaches b by itself. */
    CHECK_EQ_INT(inhibit_sync_run(a.sync), QERR_OK);
    CHECK_EQ_INT(inhibit_sync_run(b.sync), QERR_OK);
    CHECK_EQ_INT(inh_decide(&a, rs, "NodeDown", "critical", "n4", 12, ALERT_FIRING, 8), NONE);
    bool seen = false;
    for (int i = 0; i < 500 && !seen; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        seen = inh_decide(&b, rs, "Disk", "warning", "n4", 13, ALERT_FIRING, 9) == INH;
    }
    CHECK(seen);
    inhibit_sync_stats_t ys;
    inhibit_sync_stats(b.sync, &ys);
    CHECK(ys.pulls > 0 && ys.errors == 0 && ys.fields >= 2);
    /* A source that stopped firing long ago is pruned from Redis. */
    redisContext *rc = redis_local_client(&redis);
    unsigned char old[INHIBIT_WIRE_BYTES] = {0};
    old[8] = 1; /* at_src = 1, until 0: long over */
    redisReply *r = redisCommand(rc, "HSET t-inh:inhibit %s %b", "00000000000000aa", old,
                                 (size_t)INHIBIT_WIRE_BYTES);
    if (r) freeReplyObject(r);
    bool pruned = false;
    for (int i = 0; i < 500 && !pruned; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        r = redisCommand(rc, "HEXISTS t-inh:inhibit 00000000000000aa");
        pruned = r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
        if (r) freeReplyObject(r);
    }
    CHECK(pruned);
    r = redisCommand(rc, "PTTL t-inh:inhibit");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 0);
    if (r) freeReplyObject(r);
    redisFree(rc);
    inh_destroy(&a);
    inh_destroy(&b);
    inh_destroy(&c);
    ruleset_destroy(rs);
}

int main(void)
{
    test_entry_format2();
    test_hold_not_pending();
    if (!redis_local_available()) {
        printf("SKIP: redis-server not installed\n");
        return check_failures ? 1 : 77;
    }
    if (redis_local_start(&redis) != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    test_transient_split(0);
    test_transient_split(1000);
    test_duration_split();
    test_flapping_split();
    test_random_split();
    test_random_batched(0);
    test_random_batched(1000);
    test_flapping_held_local();
    test_format1_in_redis();
    test_inhibit_shared();
    /* Every key written, format 1 or 2, keeps a TTL. */
    redisContext *c = redis_local_client(&redis);
    long long no_ttl = 0;
    CHECK(redis_local_count_keys(c, "t-", &no_ttl) >= 10);
    CHECK_EQ_INT(no_ttl, 0);
    redisFree(c);
    redis_local_stop(&redis);
    return check_summary("store_noise");
}
