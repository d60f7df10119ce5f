/*
 * Silences (dedup/silence.h) without HTTP: Alertmanager's validation and
 * answers, states and times, the decision they give (silenced:<id>) through
 * the live rule set while a worker-like reader keeps deciding, the file
 * that keeps them across a restart, and two silencers sharing one real
 * redis-server (skipped with a SKIP line when it is not installed).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../dedup/silence.h"
#include "check.h"
#include "redis_local.h"

#define S(s)                                                                                       \
    {                                                                                              \
        (s), (uint32_t)strlen(s)                                                                   \
    }
#define MIN 60000LL

static void iso(int64_t ms, char out[40])
{
    char t[32];
    time_format_rfc3339(ms, t);
    snprintf(out, 40, "%s", t);
}

/* A postableSilence body; end relative to now. */
static char *body(const char *id, const char *matchers, int64_t start_ms, int64_t end_ms)
{
    char s[40], e[40];
    iso(start_ms, s);
    iso(end_ms, e);
    char *b = malloc(4096);
    snprintf(b, 4096,
             "{%s%s%s\"matchers\":%s,\"startsAt\":\"%s\",\"endsAt\":\"%s\","
             "\"createdBy\":\"me\",\"comment\":\"maint\"}",
             id ? "\"id\":\"" : "", id ? id : "", id ? "\"," : "", matchers, s, e);
    return b;
}

/* The silence id of a 200 answer {"silenceID":"..."}. */
static bool id_of(const mbuf_t *b, char out[40])
{
    const char *p = b->buf ? strstr(b->buf, "\"silenceID\":\"") : NULL;
    if (!p) return false;
    p += 13;
    size_t n = strcspn(p, "\"");
    if (n != 36) return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static int post(silencer_t *s, const char *b, mbuf_t *out)
{
    out->len = 0;
    return silencer_post(s, b, strlen(b), out);
}

/* POSTs body(id, matchers, start_ms, end_ms): the answer is `code` and,
 * unless `words` is NULL, holds them. */
static void post_expect(silencer_t *s, const char *id, const char *matchers, int64_t start_ms,
                        int64_t end_ms, int code, const char *words, mbuf_t *out)
{
    char *b = body(id, matchers, start_ms, end_ms);
    int got = post(s, b, out);
    bool ok = got == code && (!words || (out->buf && strstr(out->buf, words)));
    CHECK(ok);
    if (!ok) fprintf(stderr, "  %d (want %d) for %s: %s\n", got, code, matchers, out->buf);
    free(b);
}

/* The startsAt a silence was stored with, as the API shows it. */
static bool stored_start(silencer_t *s, const char *id, char out[40])
{
    mbuf_t g = {0};
    bool ok = silencer_get(s, id, &g) == 200;
    const char *p = ok ? strstr(g.buf, "\"startsAt\":\"") : NULL;
    if (p) snprintf(out, 40, "%.*s", (int)strcspn(p + 12, "\""), p + 12);
    mbuf_free(&g);
    return p != NULL;
}

/* A body like body()'s with a startsAt given as text. */
static char *body_at(const char *id, const char *matchers, const char *start, int64_t end_ms)
{
    char *b = body(id, matchers, 0, end_ms);
    char zero[40];
    iso(0, zero);
    char *at = strstr(b, zero);
    size_t zl = strlen(zero), sl = strlen(start);
    memmove(at + sl, at + zl, strlen(at + zl) + 1);
    memcpy(at, start, sl);
    return b;
}

static bool state_is(silencer_t *s, const char *id, const char *state)
{
    mbuf_t g = {0};
    char want[64];
    snprintf(want, sizeof want, "\"state\":\"%s\"", state);
    bool ok = silencer_get(s, id, &g) == 200 && strstr(g.buf, want);
    mbuf_free(&g);
    return ok;
}

static ruleset_t *empty_rules(void)
{
    conf_t c;
    conf_defaults(&c);
    ruleset_t *rs = NULL;
    char err[256];
    if (ruleset_compile(&c, NULL, NULL, &rs, err, sizeof err) != QERR_OK) rs = NULL;
    conf_free(&c);
    return rs;
}

static decision_kind_t decide(decider_t *d, rules_live_t *live, label_t *l, uint32_t n, uint64_t fp,
                              int64_t now, incident_t *inc, char *reason, size_t cap)
{
    alert_t a = {0};
    a.labels = l;
    a.n_labels = n;
    a.fingerprint = fp;
    a.event_time_ms = now;
    a.watermark_ms = now;
    const ruleset_t *rs = rules_live_enter(live, 0);
    decision_kind_t k = decider_decide(d, rs, &a, inc);
    char buf[128];
    snprintf(reason, cap, "%s", decision_reason(inc, buf, sizeof buf));
    rules_live_leave(live, 0);
    return k;
}

/* ---- validation: Alertmanager's codes and messages ------------------------------ */

/* A silencer of its own, in memory (no file, no Redis). */
static silencer_t *memory_silencer(void)
{
    silencer_opts_t o = {.retention_ms = 120 * 60 * MIN, .poll_ms = 100};
    char err[256];
    silencer_t *s = silencer_new(&o, err, sizeof err);
    CHECK(s != NULL);
    return s;
}

static void test_validation(void)
{
    silencer_t *s = memory_silencer();
    if (!s) return;
    int64_t now = clock_wall_ms();
    mbuf_t out = {0};
    const char *ok_m = "[{\"name\":\"alertname\",\"value\":\"Test\",\"isRegex\":false}]";
    char *b = body(NULL, "[{\"name\":\"a\",\"value\":\"(\",\"isRegex\":true}]", now, now + MIN);
    CHECK_EQ_INT(post(s, b, &out), 400);
    /* Alertmanager 0.25's body, word for word. */
    CHECK_EQ_STR(out.buf, "\"silence invalid: invalid label matcher 0: invalid regular expression "
                          "\\\"(\\\": error parsing regexp: missing closing ): `(`\"");
    free(b);
    post_expect(s, NULL, ok_m, now + 2 * MIN, now + MIN, 400, "start time must be before end time",
                &out);
    post_expect(s, NULL, ok_m, now - 10 * MIN, now - 5 * MIN, 400, "end time can't be in the past",
                &out);
    /* go-swagger's minItems, before Alertmanager's handler runs. */
    b = body(NULL, "[]", now, now + MIN);
    CHECK_EQ_INT(post(s, b, &out), 422);
    CHECK_EQ_STR(out.buf, "{\"code\":612,\"message\":\"matchers in body should have at least 1 "
                          "items\"}");
    free(b);
    /* A body that does not unmarshal: 400 with go-swagger's object. */
    const char *bad_time = "{\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":false}],"
                           "\"startsAt\":\"yesterday\",\"endsAt\":\"2030-01-01T00:00:00Z\","
                           "\"createdBy\":\"x\",\"comment\":\"y\"}";
    CHECK_EQ_INT(post(s, bad_time, &out), 400);
    CHECK(strncmp(out.buf,
                  "{\"code\":400,\"message\":\"parsing silence body from \\\"\\\" failed, because",
                  60) == 0);
    const char *bad_type =
        "{\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":false}],"
        "\"startsAt\":\"2030-01-01T00:00:00Z\",\"endsAt\":\"2030-01-01T01:00:00Z\","
        "\"createdBy\":5,\"comment\":\"y\"}";
    CHECK_EQ_INT(post(s, bad_type, &out), 400);
    CHECK(
        strstr(out.buf, "\"code\":400") &&
        strstr(out.buf, "cannot unmarshal number into Go struct field PostableSilence.createdBy"));
    post_expect(s, NULL, "[{\"name\":\"a\",\"value\":\".*\",\"isRegex\":true}]", now, now + MIN,
                400, "must not match the empty string", &out);
    /* A negative matcher never counts as matching the empty string
     * (Alertmanager's matchesEmpty): alone, it is a valid silence; with
     * a positive one that matches it, too. */
    post_expect(s, NULL,
                "[{\"name\":\"severity\",\"value\":\"critical\",\"isRegex\":false,"
                "\"isEqual\":false}]",
                now, now + MIN, 200, NULL, &out);
    post_expect(s, NULL,
                "[{\"name\":\"a\",\"value\":\"\",\"isRegex\":false},"
                "{\"name\":\"b\",\"value\":\"x.*\",\"isRegex\":true,\"isEqual\":false}]",
                now, now + MIN, 200, NULL, &out);
    post_expect(s, NULL,
                "[{\"name\":\"a\",\"value\":\"\",\"isRegex\":false},"
                "{\"name\":\"b\",\"value\":\"x*\",\"isRegex\":true}]",
                now, now + MIN, 400, "must not match the empty string", &out);
    post_expect(s, NULL, "[{\"name\":\"0bad\",\"value\":\"x\",\"isRegex\":false}]", now, now + MIN,
                400, "invalid label name", &out);
    b = body("0d5b5e0e-3c5f-4c3e-9a9e-2d2d2d2d2d2d", ok_m, now, now + MIN);
    CHECK_EQ_INT(post(s, b, &out), 404);
    CHECK_EQ_STR(out.buf, "\"silence not found\"");
    free(b);
    const char *missing = "{\"matchers\":[],\"endsAt\":\"2030-01-01T00:00:00Z\","
                          "\"createdBy\":\"x\",\"comment\":\"y\"}";
    CHECK_EQ_INT(post(s, missing, &out), 422);
    CHECK(strstr(out.buf, "startsAt in body is required") != NULL);
    /* no body at all: go-swagger's "required" (Alertmanager 0.25) */
    CHECK_EQ_INT(post(s, " \n", &out), 422);
    CHECK_EQ_STR(out.buf, "{\"code\":602,\"message\":\"silence in body is required\"}");
    CHECK_EQ_INT(post(s, "{nope", &out), 400);
    CHECK(strncmp(out.buf, "{\"code\":400,\"message\":", 22) == 0);
    out.len = 0;
    CHECK_EQ_INT(silencer_get(s, "0d5b5e0e-3c5f-4c3e-9a9e-2d2d2d2d2d2d", &out), 404);
    /* Alertmanager 0.25: 500 "silence not found" (a GET: an empty 404) */
    out.len = 0;
    CHECK_EQ_INT(silencer_expire(s, "0d5b5e0e-3c5f-4c3e-9a9e-2d2d2d2d2d2d", &out), 500);
    CHECK_EQ_STR(out.buf, "\"silence not found\"");
    const char *bad_filter = "foo=~\"(";
    out.len = 0;
    CHECK_EQ_INT(silencer_list(s, &bad_filter, 1, &out), 400);
    CHECK_EQ_STR(out.buf, "\"matcher value contains unescaped double quote: \\\"(\"");
    /* one matcher per filter, as Alertmanager 0.25: no braces, no list */
    const char *braces = "{a=\"b\"}";
    out.len = 0;
    CHECK_EQ_INT(silencer_list(s, &braces, 1, &out), 400);
    CHECK_EQ_STR(out.buf, "\"bad matcher format: {a=\\\"b\\\"}\"");
    mbuf_free(&out);
    silencer_destroy(s);
}

/* ---- decisions: a silence is an exclusion named silenced:<id> ------------------- */

typedef struct {
    rules_live_t *live;
    _Atomic bool stop;
    _Atomic uint64_t entered;
} reader_t;

/* A worker-like reader entering and leaving the live set as fast as it can:
 * publishing a silence must wait for it, never break it. */
static void *reader_main(void *arg)
{
    reader_t *r = arg;
    while (!atomic_load(&r->stop)) {
        const ruleset_t *rs = rules_live_enter(r->live, 1);
        if (ruleset_silences(rs)) silences_count(ruleset_silences(rs));
        rules_live_leave(r->live, 1);
        atomic_fetch_add(&r->entered, 1);
    }
    return NULL;
}

static void test_decisions_and_file(void)
{
    char dir[] = "/tmp/quell-silence-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/state.silences", dir);
    rules_live_t *live = rules_live_new(empty_rules(), 2);
    dedup_table_t *table = dedup_table_new(1000);
    decider_opts_t dopts = {{5 * MIN, 240 * MIN}, true, 256, 256};
    decider_t *d = decider_new(&dopts, table, NULL);
    decider_silence_wall_clock(d, true);
    reader_t rd = {.live = live};
    pthread_t th;
    pthread_create(&th, NULL, reader_main, &rd);

    silencer_opts_t o = {.file = path, .retention_ms = 60 * MIN, .poll_ms = 100, .live = live};
    char err[256];
    silencer_t *s = silencer_new(&o, err, sizeof err);
    CHECK(s != NULL);
    if (!s) goto out;
    int64_t now = clock_wall_ms();
    label_t test[] = {{S("alertname"), S("Test")}, {S("env"), S("prod")}};
    label_t other[] = {{S("alertname"), S("Other")}};
    incident_t inc;
    char reason[128];
    /* Before: forwarded. */
    CHECK_EQ_INT(decide(d, live, test, 2, 11, now, &inc, reason, sizeof reason),
                 DECISION_FORWARD_NEW);
    uint64_t gen0 = rules_live_generation(live);
    mbuf_t out = {0};
    char *b = body(NULL, "[{\"name\":\"alertname\",\"value\":\"Test\",\"isRegex\":false}]", now,
                   now + 60 * MIN);
    CHECK_EQ_INT(post(s, b, &out), 200);
    free(b);
    char id[40] = "";
    CHECK(id_of(&out, id));
    CHECK(rules_live_generation(live) > gen0); /* a new generation, published before the answer */
    /* After the answer: the next decision is silenced, named by the id. */
    CHECK_EQ_INT(decide(d, live, test, 2, 12, now, &inc, reason, sizeof reason),
                 DECISION_SUPPRESS_EXCLUDED);
    char want[80];
    snprintf(want, sizeof want, "silenced:%s", id);
    CHECK_EQ_STR(reason, want);
    CHECK(inc.silenced);
    CHECK_EQ_INT(decide(d, live, other, 1, 13, now, &inc, reason, sizeof reason),
                 DECISION_FORWARD_NEW);
    /* Metrics name it. */
    mbuf_t m = {0};
    rules_metrics_reasons(live, &m, "quell_decisions_total");
    CHECK(m.buf && strstr(m.buf, want) != NULL);
    mbuf_free(&m);
    /* Listed (active), found by filter and by id. */
    out.len = 0;
    const char *f = "alertname=\"Test\"";
    CHECK_EQ_INT(silencer_list(s, &f, 1, &out), 200);
    CHECK(strstr(out.buf, id) && strstr(out.buf, "\"state\":\"active\""));
    out.len = 0;
    const char *f2 = "alertname=\"Nope\"";
    CHECK_EQ_INT(silencer_list(s, &f2, 1, &out), 200);
    CHECK_EQ_STR(out.buf, "[]");
    out.len = 0;
    CHECK_EQ_INT(silencer_get(s, id, &out), 200);
    CHECK(strstr(out.buf, "\"createdBy\":\"me\"") != NULL);
    /* Update by id: the same id, the new comment (the stored start sent
     * back, as amtool does: a moved start would make a new silence). */
    char start[40] = "";
    CHECK(stored_start(s, id, start));
    b = body_at(id, "[{\"name\":\"alertname\",\"value\":\"Test\",\"isRegex\":false}]", start,
                now + 90 * MIN);
    char *c = strstr(b, "maint");
    memcpy(c, "maynt", 5);
    CHECK_EQ_INT(post(s, b, &out), 200);
    free(b);
    char id2[40] = "";
    CHECK(id_of(&out, id2));
    CHECK_EQ_STR(id2, id);
    /* A pending silence does not silence yet. */
    post_expect(s, NULL, "[{\"name\":\"alertname\",\"value\":\"Other\",\"isRegex\":false}]",
                now + 30 * MIN, now + 60 * MIN, 200, NULL, &out);
    CHECK_EQ_INT(decide(d, live, other, 1, 14, now, &inc, reason, sizeof reason),
                 DECISION_FORWARD_NEW);
    out.len = 0;
    CHECK_EQ_INT(silencer_list(s, NULL, 0, &out), 200);
    CHECK(strstr(out.buf, "\"state\":\"pending\"") != NULL);

    /* A restart: a new silencer reads the file back and publishes it. */
    silencer_destroy(s);
    rules_live_set_silences(live, NULL);
    CHECK_EQ_INT(decide(d, live, test, 2, 15, now, &inc, reason, sizeof reason),
                 DECISION_FORWARD_NEW);
    s = silencer_new(&o, err, sizeof err);
    CHECK(s != NULL);
    if (!s) goto out;
    CHECK_EQ_INT(decide(d, live, test, 2, 16, now, &inc, reason, sizeof reason),
                 DECISION_SUPPRESS_EXCLUDED);
    CHECK_EQ_STR(reason, want);
    /* The file is what replay reads: silences judged at event time. */
    silences_t *fs = silences_load_file(path, err, sizeof err);
    CHECK(fs && silences_count(fs) == 2);
    CHECK(silences_match(fs, test, 2, now + MIN) != NULL);
    CHECK(silences_match(fs, test, 2, now + 100 * MIN) == NULL);
    silences_release(fs);
    /* A config reload keeps the silences. */
    rules_live_swap(live, empty_rules());
    CHECK_EQ_INT(decide(d, live, test, 2, 17, now, &inc, reason, sizeof reason),
                 DECISION_SUPPRESS_EXCLUDED);
    /* Expire = delete: no longer silences, still listed as expired, then
     * a second expire is a 200 that changes nothing, as Alertmanager 0.25
     * answers it. */
    out.len = 0;
    CHECK_EQ_INT(silencer_expire(s, id, &out), 200);
    CHECK_EQ_INT(decide(d, live, test, 2, 18, now + 1, &inc, reason, sizeof reason),
                 DECISION_FORWARD_NEW);
    out.len = 0;
    CHECK_EQ_INT(silencer_get(s, id, &out), 200);
    CHECK(strstr(out.buf, "\"state\":\"expired\"") != NULL);
    mbuf_t before = {0};
    mbuf_append(&before, out.buf, out.len);
    out.len = 0;
    CHECK_EQ_INT(silencer_expire(s, id, &out), 200);
    CHECK_EQ_INT(out.len, 0);
    out.len = 0;
    CHECK_EQ_INT(silencer_get(s, id, &out), 200);
    CHECK(out.len == before.len && !memcmp(out.buf, before.buf, out.len));
    mbuf_free(&before);
    mbuf_free(&out);
    silencer_destroy(s);
out:
    atomic_store(&rd.stop, true);
    pthread_join(th, NULL);
    CHECK(atomic_load(&rd.entered) > 0);
    decider_destroy(d);
    dedup_table_destroy(table);
    rules_live_destroy(live);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* ---- the guarantee: decided after the answer = silenced ------------------------ */

typedef struct {
    rules_live_t *live;
    _Atomic bool answered, stop;
    _Atomic uint64_t after, escaped;
} racer_t;

/* A worker deciding as fast as it can. A decision that began after the
 * POST answered (the flag read before entering the live set) must be
 * silenced. */
static void *racer_main(void *arg)
{
    racer_t *r = arg;
    dedup_table_t *table = dedup_table_new(1000);
    decider_opts_t dopts = {{5 * MIN, 240 * MIN}, true, 256, 256};
    decider_t *d = decider_new(&dopts, table, NULL);
    decider_silence_wall_clock(d, true);
    label_t test[] = {{S("alertname"), S("Race")}};
    uint64_t fp = 1;
    while (!atomic_load(&r->stop)) {
        bool after = atomic_load(&r->answered);
        alert_t a = {0};
        a.labels = test;
        a.n_labels = 1;
        a.fingerprint = fp++;
        a.event_time_ms = a.watermark_ms = 1; /* an old event time: the wall clock decides */
        incident_t inc;
        const ruleset_t *rs = rules_live_enter(r->live, 0);
        decision_kind_t k = decider_decide(d, rs, &a, &inc);
        rules_live_leave(r->live, 0);
        if (after) {
            atomic_fetch_add(&r->after, 1);
            if (k != DECISION_SUPPRESS_EXCLUDED || !inc.silenced) atomic_fetch_add(&r->escaped, 1);
        }
    }
    decider_destroy(d);
    dedup_table_destroy(table);
    return NULL;
}

static void test_no_escape(void)
{
    for (int round = 0; round < 20; round++) {
        racer_t r = {.live = rules_live_new(empty_rules(), 1)};
        silencer_opts_t o = {.retention_ms = 60 * MIN, .poll_ms = 100, .live = r.live};
        char err[256];
        silencer_t *s = silencer_new(&o, err, sizeof err);
        pthread_t th;
        pthread_create(&th, NULL, racer_main, &r);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        int64_t now = clock_wall_ms();
        char *b = body(NULL, "[{\"name\":\"alertname\",\"value\":\"Race\",\"isRegex\":false}]", now,
                       now + 60 * MIN);
        mbuf_t out = {0};
        CHECK_EQ_INT(post(s, b, &out), 200);
        atomic_store(&r.answered, true);
        /* Until the racer has decided a few after the answer (it may not
         * be scheduled for a while on a loaded machine), 10 s at most. */
        for (int i = 0; i < 5000 && atomic_load(&r.after) < 100; i++) nanosleep(&ts, NULL);
        atomic_store(&r.stop, true);
        pthread_join(th, NULL);
        CHECK(atomic_load(&r.after) > 0);
        CHECK_EQ_INT(atomic_load(&r.escaped), 0);
        free(b);
        mbuf_free(&out);
        silencer_destroy(s);
        rules_live_destroy(r.live);
    }
}

/* ---- shared: two instances, one Redis ------------------------------------------ */

static void test_shared_redis(void)
{
    if (!redis_local_available()) {
        printf("SKIP shared silences: redis-server not installed\n");
        check_skips++;
        return;
    }
    redis_local_t rl = {0};
    if (redis_local_start(&rl) != 0) {
        CHECK(!"redis-server did not start");
        redis_local_stop(&rl);
        return;
    }
    store_conf_t sc = {.port = rl.port, .prefix = "silence-test:", .timeout_ms = 500};
    snprintf(sc.host, sizeof sc.host, "127.0.0.1");
    rules_live_t *live_a = rules_live_new(empty_rules(), 1);
    rules_live_t *live_b = rules_live_new(empty_rules(), 1);
    silencer_opts_t oa = {.redis = &sc, .retention_ms = 60 * MIN, .poll_ms = 20, .live = live_a};
    silencer_opts_t ob = oa;
    ob.live = live_b;
    char err[256];
    silencer_t *a = silencer_new(&oa, err, sizeof err);
    silencer_t *b = silencer_new(&ob, err, sizeof err);
    CHECK(a && b);
    if (!a || !b) goto out;
    CHECK_EQ_INT(silencer_run(b), QERR_OK);
    dedup_table_t *table = dedup_table_new(1000);
    decider_opts_t dopts = {{5 * MIN, 240 * MIN}, true, 256, 256};
    decider_t *d = decider_new(&dopts, table, NULL);
    decider_silence_wall_clock(d, true);
    int64_t now = clock_wall_ms();
    label_t test[] = {{S("alertname"), S("Test")}};
    incident_t inc;
    char reason[128];
    mbuf_t out = {0};
    char *body_a = body(NULL, "[{\"name\":\"alertname\",\"value\":\"Test\",\"isRegex\":false}]",
                        now, now + 60 * MIN);
    CHECK_EQ_INT(post(a, body_a, &out), 200);
    free(body_a);
    char id[40] = "";
    CHECK(id_of(&out, id));
    /* B sees it within its poll interval (20 ms here; store.cache/2 in
     * quell run): poll until a deadline, never a fixed sleep. */
    bool seen = false;
    for (int i = 0; i < 250 && !seen; i++) {
        seen = decide(d, live_b, test, 1, 20 + (uint64_t)i, now, &inc, reason, sizeof reason) ==
               DECISION_SUPPRESS_EXCLUDED;
        if (!seen) {
            struct timespec ts = {0, 4000000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK(seen);
    char want[80];
    snprintf(want, sizeof want, "silenced:%s", id);
    CHECK_EQ_STR(reason, want);
    /* Expired on B: A sees it after a sync. */
    out.len = 0;
    CHECK_EQ_INT(silencer_expire(b, id, &out), 200);
    CHECK_EQ_INT(silencer_sync_now(a), QERR_OK);
    out.len = 0;
    CHECK_EQ_INT(silencer_get(a, id, &out), 200);
    CHECK(out.buf && strstr(out.buf, "\"state\":\"expired\"") != NULL);
    /* What Redis holds: one hash field per silence and the version key. */
    redisContext *rc = redis_local_client(&rl);
    redisReply *r = rc ? redisCommand(rc, "HLEN silence-test:silences") : NULL;
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    if (r) freeReplyObject(r);
    long long no_ttl = 0;
    CHECK_EQ_INT(redis_local_count_keys(rc, "silence-test:", &no_ttl), 2);
    if (rc) redisFree(rc);
    /* A new instance reads what Redis holds at start. */
    silencer_t *c = silencer_new(&oa, err, sizeof err);
    out.len = 0;
    CHECK(c && silencer_get(c, id, &out) == 200);
    silencer_destroy(c);
    mbuf_free(&out);
    decider_destroy(d);
    dedup_table_destroy(table);
out:
    silencer_destroy(a);
    silencer_destroy(b);
    rules_live_destroy(live_a);
    rules_live_destroy(live_b);
    redis_local_stop(&rl);
}

/* An update keeps the id only where Alertmanager 0.25's canUpdate lets it
 * (checked against a running 0.25): the same matchers, an active one's
 * start unchanged, a pending one's start not in the past; otherwise a new
 * silence, and the old one expires. */
static void test_update_in_place(void)
{
    silencer_t *s = memory_silencer();
    if (!s) return;
    int64_t now = clock_wall_ms();
    const char *m1 = "[{\"name\":\"a\",\"value\":\"1\",\"isRegex\":false}]";
    const char *m2 = "[{\"name\":\"a\",\"value\":\"2\",\"isRegex\":false}]";
    mbuf_t out = {0};
    char a[40] = "", b_id[40] = "", c[40] = "", start[40] = "";
    char *b = body(NULL, m1, now, now + 60 * MIN);
    CHECK_EQ_INT(post(s, b, &out), 200);
    free(b);
    CHECK(id_of(&out, a));
    CHECK(stored_start(s, a, start));
    /* same matchers and start, a later end: in place */
    b = body_at(a, m1, start, now + 90 * MIN);
    CHECK_EQ_INT(post(s, b, &out), 200);
    free(b);
    CHECK(id_of(&out, c));
    CHECK_EQ_STR(c, a);
    CHECK(state_is(s, a, "active"));
    /* other matchers: a new silence, the old one expired */
    b = body_at(a, m2, start, now + 90 * MIN);
    CHECK_EQ_INT(post(s, b, &out), 200);
    free(b);
    CHECK(id_of(&out, b_id));
    CHECK(strcmp(b_id, a) != 0);
    CHECK(state_is(s, a, "expired"));
    CHECK(state_is(s, b_id, "active"));
    /* an active one's start moved: new again */
    post_expect(s, b_id, m2, now - 60 * MIN, now + 90 * MIN, 200, NULL, &out);
    CHECK(id_of(&out, c));
    CHECK(strcmp(c, b_id) != 0);
    CHECK(state_is(s, b_id, "expired"));
    CHECK(state_is(s, c, "active"));
    /* pending: a later start is in place, a start in the past is not */
    char p[40] = "", q[40] = "";
    post_expect(s, NULL, m1, now + 30 * MIN, now + 60 * MIN, 200, NULL, &out);
    CHECK(id_of(&out, p));
    post_expect(s, p, m1, now + 20 * MIN, now + 60 * MIN, 200, NULL, &out);
    CHECK(id_of(&out, q));
    CHECK_EQ_STR(q, p);
    CHECK(state_is(s, p, "pending"));
    post_expect(s, p, m1, now - MIN, now + 60 * MIN, 200, NULL, &out);
    CHECK(id_of(&out, q));
    CHECK(strcmp(q, p) != 0);
    CHECK(state_is(s, p, "expired"));
    CHECK(state_is(s, q, "active"));
    /* an expired one: a new silence, the old one left expired */
    b = body_at(a, m1, start, now + 90 * MIN);
    CHECK_EQ_INT(post(s, b, &out), 200);
    free(b);
    CHECK(id_of(&out, c));
    CHECK(strcmp(c, a) != 0);
    CHECK(state_is(s, a, "expired"));
    mbuf_free(&out);
    silencer_destroy(s);
}

int main(void)
{
    log_setup(LOG_WARN, LOG_FMT_LOGFMT);
    test_validation();
    test_decisions_and_file();
    test_no_escape();
    test_update_in_place();
    test_shared_redis();
    return check_summary("silence");
}
