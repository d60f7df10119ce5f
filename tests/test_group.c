/* Grouping under a driven clock: Alertmanager's timings, holds, closing. */
#include "../router/router_int.h"
#include "check.h"

#define S 1000LL
#define M (60 * S)
#define H (60 * M)

typedef struct {
    int calls;
    notify_kind_t kind[64];
    size_t n_alerts[64], n_firing[64];
    int64_t at[64];
    char states[64][8];  /* per alert: F firing, R resolved (firing first) */
    int64_t ends_at[64]; /* the first resolved alert's endsAt */
    char key[256];
    msg_track_t *tracks[1024];
    size_t n_tracks;
} sink_t;

static void on_note(void *ctx, const notification_t *n)
{
    sink_t *s = ctx;
    if (s->calls < 64) {
        s->kind[s->calls] = n->kind;
        s->n_alerts[s->calls] = n->n_alerts;
        s->n_firing[s->calls] = n->n_firing;
        s->at[s->calls] = n->now_ms;
        s->ends_at[s->calls] = 0;
        for (size_t i = 0; i < n->n_alerts && i < 7; i++) {
            bool resolved = n->alerts[i].alert->status == ALERT_RESOLVED;
            s->states[s->calls][i] = resolved ? 'R' : 'F';
            if (resolved && !s->ends_at[s->calls])
                s->ends_at[s->calls] = n->alerts[i].alert->ends_at_ms;
        }
        s->states[s->calls][n->n_alerts < 7 ? n->n_alerts : 7] = '\0';
    }
    snprintf(s->key, sizeof(s->key), "%s", n->group_key);
    s->calls++;
    /* Delivered at once: release what it carries. */
    for (size_t i = 0; i < n->n_tracks; i++) track_done(n->tracks[i]);
}

static route_t test_route(char **group_by, size_t n, bool all)
{
    static receiver_t rcv = {.name = "r"};
    return (route_t){.receiver = &rcv,
                     .key = "{}/{team=\"a\"}",
                     .group_by = group_by,
                     .n_group_by = n,
                     .group_by_all = all,
                     .group_wait_ms = 30 * S,
                     .group_interval_ms = 5 * M,
                     .repeat_interval_ms = 4 * H};
}

static alert_t mk(label_t *l, uint32_t n, uint64_t fp, bool resolved)
{
    return (alert_t){.labels = l,
                     .n_labels = n,
                     .fingerprint = fp,
                     .status = resolved ? ALERT_RESOLVED : ALERT_FIRING};
}

#define L(n, v)                                                                                    \
    {                                                                                              \
        {n, sizeof(n) - 1}, { v, sizeof(v) - 1 }                                                   \
    }

static void test_timings(void)
{
    char *gb[] = {"alertname"};
    route_t r = test_route(gb, 1, false);
    sink_t s = {0};
    int64_t t0 = 1000 * S;
    group_table_t *gt = group_table_new(t0, 100, on_note, &s);
    label_t l1[] = {L("alertname", "Disk"), L("host", "a")};
    label_t l2[] = {L("alertname", "Disk"), L("host", "b")};
    alert_t a1 = mk(l1, 2, 1, false), a2 = mk(l2, 2, 2, false);
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    msg_track_t t1 = {.pending = 1}, t2 = {.pending = 1}, t3 = {.pending = 1};

    CHECK(group_table_add(gt, &r, &a1, &inc, NULL, &t1, t0) == QERR_OK);
    CHECK_EQ_INT(group_table_count(gt), 1);
    CHECK_EQ_INT(group_table_held(gt), 1);
    /* What a reload asks (notifier_holds): is this alert in a group? */
    label_t l3[] = {L("alertname", "Cpu"), L("host", "a")};
    alert_t a3 = mk(l3, 2, 1, false);
    CHECK(group_table_has(gt, &r, &a1));
    CHECK(!group_table_has(gt, &r, &a2)); /* same group, another fingerprint */
    CHECK(!group_table_has(gt, &r, &a3)); /* same fingerprint, no such group */
    group_table_advance(gt, t0 + 29 * S);
    CHECK_EQ_INT(s.calls, 0);
    CHECK_EQ_INT(t1.pending, 1);
    group_table_advance(gt, t0 + 30 * S + 100);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(s.kind[0], NOTIFY_FIRING);
    CHECK_EQ_INT(s.n_alerts[0], 1);
    CHECK_EQ_STR(s.key, "{}/{team=\"a\"}:{alertname=\"Disk\"}");
    CHECK_EQ_INT(t1.pending, 0);

    /* A second alert: an update, but not before group_interval. */
    CHECK(group_table_add(gt, &r, &a2, &inc, NULL, &t2, t0 + 40 * S) == QERR_OK);
    group_table_advance(gt, t0 + 5 * M);
    CHECK_EQ_INT(s.calls, 1);
    group_table_advance(gt, t0 + 30 * S + 5 * M + 200);
    CHECK_EQ_INT(s.calls, 2);
    CHECK_EQ_INT(s.n_alerts[1], 2);
    CHECK_EQ_INT(t2.pending, 0);

    /* A repeat of something already notified changes nothing: released
     * at once, no notification. */
    incident_t rep = {.kind = DECISION_FORWARD_REPEAT, .count = 7};
    CHECK(group_table_add(gt, &r, &a1, &rep, NULL, &t3, t0 + 10 * M) == QERR_OK);
    CHECK_EQ_INT(t3.pending, 0);
    group_table_advance(gt, t0 + 20 * M);
    CHECK_EQ_INT(s.calls, 2);

    /* Nothing changed for repeat_interval: a reminder. */
    int64_t last = t0 + 30 * S + 5 * M;
    group_table_advance(gt, last + 4 * H - S);
    CHECK_EQ_INT(s.calls, 2);
    group_table_advance(gt, last + 4 * H + 200);
    CHECK_EQ_INT(s.calls, 3);
    CHECK_EQ_INT(s.kind[2], NOTIFY_REMINDER);

    /* One resolves: an update shows it resolved, then it leaves. */
    int64_t t = last + 4 * H + 10 * S;
    alert_t a1r = mk(l1, 2, 1, true);
    msg_track_t t4 = {.pending = 1}, t5 = {.pending = 1};
    CHECK(group_table_add(gt, &r, &a1r, &inc, NULL, &t4, t) == QERR_OK);
    CHECK_EQ_INT(t4.pending, 1);
    group_table_advance(gt, t + 5 * M + 200);
    CHECK_EQ_INT(s.calls, 4);
    CHECK_EQ_INT(s.kind[3], NOTIFY_FIRING);
    CHECK_EQ_INT(s.n_alerts[3], 2);
    CHECK_EQ_INT(s.n_firing[3], 1);
    CHECK_EQ_INT(t4.pending, 0);

    /* The last resolves: one resolved notification, the group closes. */
    alert_t a2r = mk(l2, 2, 2, true);
    int64_t t2r = t + 6 * M;
    CHECK(group_table_add(gt, &r, &a2r, &inc, NULL, &t5, t2r) == QERR_OK);
    group_table_advance(gt, t2r + 5 * M);
    CHECK_EQ_INT(s.calls, 5);
    CHECK_EQ_INT(s.kind[4], NOTIFY_RESOLVED);
    CHECK_EQ_INT(s.n_alerts[4], 1);
    CHECK_EQ_INT(group_table_count(gt), 0);
    CHECK(!group_table_has(gt, &r, &a2)); /* closed: a retired notifier can go */
    CHECK_EQ_INT(t5.pending, 0);
    CHECK_EQ_INT(group_table_held(gt), 0);
    group_table_destroy(gt);
}

static void test_silent_close_and_keys(void)
{
    sink_t s = {0};
    group_table_t *gt = group_table_new(0, 100, on_note, &s);
    route_t all = test_route(NULL, 0, true), none = test_route(NULL, 0, false);
    label_t l1[] = {L("alertname", "X"), L("b", "q\"uote")};
    alert_t a = mk(l1, 2, 9, false), ar = mk(l1, 2, 9, true);
    incident_t inc = {.kind = DECISION_FORWARD_NEW};
    msg_track_t t1 = {.pending = 1}, t2 = {.pending = 1}, t3 = {.pending = 1};
    group_table_add(gt, &all, &a, &inc, NULL, &t1, 0);
    group_table_add(gt, &all, &ar, &inc, NULL, &t2, 10 * S);
    /* Resolved before anyone was paged: closes without a notification. */
    group_table_advance(gt, 31 * S);
    CHECK_EQ_INT(s.calls, 0);
    CHECK_EQ_INT(group_table_count(gt), 0);
    CHECK_EQ_INT(t1.pending, 0);
    CHECK_EQ_INT(t2.pending, 0);
    group_table_add(gt, &none, &a, &inc, NULL, &t3, 40 * S);
    group_table_add(gt, &all, &a, &inc, NULL, NULL, 40 * S);
    CHECK_EQ_INT(group_table_count(gt), 2);
    /* Shutdown flush: pending notifications now, not at group_wait. */
    group_table_flush(gt, 41 * S);
    CHECK_EQ_INT(s.calls, 2);
    CHECK_EQ_INT(t3.pending, 0);
    group_table_destroy(gt);
}

static void test_many_groups(void)
{
    /* 200k groups on one wheel; every first notification fires once at
     * group_wait, and idle groups then cost nothing until repeat. */
    char *gb[] = {"id"};
    route_t r = test_route(gb, 1, false);
    sink_t s = {0};
    group_table_t *gt = group_table_new(0, 100, on_note, &s);
    incident_t inc = {.kind = DECISION_FORWARD_NEW};
    enum { N = 200000 };
    for (int i = 0; i < N; i++) {
        char v[16];
        int n = snprintf(v, sizeof(v), "%d", i);
        label_t l[] = {L("alertname", "A"), {{"id", 2}, {v, (uint32_t)n}}};
        alert_t a = mk(l, 2, (uint64_t)i + 1, false);
        group_table_add(gt, &r, &a, &inc, NULL, NULL, (int64_t)(i % 1000));
    }
    CHECK_EQ_INT(group_table_count(gt), N);
    for (int64_t t = 0; t <= 32 * S; t += 100) group_table_advance(gt, t);
    CHECK_EQ_INT(s.calls, N);
    for (int64_t t = 32 * S; t <= 10 * M; t += 1000) group_table_advance(gt, t);
    CHECK_EQ_INT(s.calls, N);
    group_table_advance(gt, 5 * H); /* a jump: one pass, every reminder */
    CHECK_EQ_INT(s.calls, 2 * N);
    group_table_destroy(gt);
}

/* A table restored from the start of `f` under a config of one route. */
static group_table_t *restore(FILE *f, const route_t *route, int64_t now_ms, sink_t *s, qerr_t *err)
{
    rewind(f);
    group_table_t *gt = group_table_new(now_ms, 100, on_note, s);
    uint64_t loaded, dropped;
    *err = group_table_load(gt, f, (const route_t *const[]){route}, 1, now_ms, &loaded, &dropped);
    return gt;
}

static void test_snapshot(void)
{
    char *gb[] = {"alertname"};
    route_t r = test_route(gb, 1, false);
    r.id = 0;
    sink_t s = {0};
    group_table_t *gt = group_table_new(0, 100, on_note, &s);
    label_t l1[] = {L("alertname", "Disk"), L("host", "a")};
    label_t l2[] = {L("alertname", "Cpu"), L("host", "b")};
    alert_t a1 = mk(l1, 2, 1, false), a2 = mk(l2, 2, 2, false);
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1, .severity = 2};
    group_table_add(gt, &r, &a1, &inc, NULL, NULL, 0);
    group_table_add(gt, &r, &a2, &inc, NULL, NULL, 0);
    group_table_advance(gt, 31 * S);
    CHECK_EQ_INT(s.calls, 2);
    FILE *f = tmpfile();
    CHECK(group_table_save((const group_table_t *const[]){gt}, 1, f) == QERR_OK);
    group_table_destroy(gt);

    /* A restart: both groups come back as notified, so nothing is sent
     * until their reminder is due. */
    rewind(f);
    sink_t s2 = {0};
    gt = group_table_new(10 * M, 100, on_note, &s2);
    const route_t *routes[] = {&r};
    uint64_t loaded = 0, dropped = 0;
    CHECK(group_table_load(gt, f, routes, 1, 10 * M, &loaded, &dropped) == QERR_OK);
    CHECK_EQ_INT(loaded, 2);
    CHECK_EQ_INT(dropped, 0);
    CHECK_EQ_INT(group_table_count(gt), 2);
    group_table_advance(gt, 2 * H);
    CHECK_EQ_INT(s2.calls, 0);
    /* The same alert again changes nothing: no page after the restart. */
    msg_track_t t = {.pending = 1};
    group_table_add(gt, &r, &a1, &inc, NULL, &t, 2 * H);
    CHECK_EQ_INT(t.pending, 0);
    group_table_advance(gt, 31 * S + 4 * H + 200);
    CHECK_EQ_INT(s2.calls, 2);
    CHECK_EQ_INT(s2.kind[0], NOTIFY_REMINDER);
    /* Resolving still closes with one resolved notification. */
    alert_t a1r = mk(l1, 2, 1, true);
    group_table_add(gt, &r, &a1r, &inc, NULL, NULL, 5 * H);
    group_table_advance(gt, 5 * H + 6 * M);
    CHECK_EQ_INT(s2.calls, 3);
    CHECK_EQ_INT(s2.kind[2], NOTIFY_RESOLVED);
    CHECK_EQ_INT(group_table_count(gt), 1);
    group_table_destroy(gt);

    /* A config whose route changed: the groups are dropped, not misfiled. */
    rewind(f);
    route_t other = r;
    other.key = "{}/{team=\"b\"}";
    const route_t *routes2[] = {&other};
    gt = group_table_new(0, 100, on_note, &s2);
    CHECK(group_table_load(gt, f, routes2, 1, 0, &loaded, &dropped) == QERR_OK);
    CHECK_EQ_INT(loaded, 0);
    CHECK_EQ_INT(dropped, 2);
    CHECK_EQ_INT(group_table_count(gt), 0);
    group_table_destroy(gt);
    /* A damaged file is refused. */
    rewind(f);
    fputs("garbage", f);
    rewind(f);
    gt = group_table_new(0, 100, on_note, &s2);
    CHECK(group_table_load(gt, f, routes, 1, 0, &loaded, &dropped) == QERR_INVALID);
    group_table_destroy(gt);
    fclose(f);
}

/* ---- resolve by time (Alertmanager's resolve_timeout) ------------------ */

/* What the decision log would answer: the fingerprint's last occurrence. */
typedef struct {
    uint64_t fp;
    int64_t seen_ms, event_ms, ends_at_ms;
    int asked;
} seen_t;

static bool seen_fn(void *ctx, uint64_t fp, int64_t *seen_ms, int64_t *event_ms,
                    int64_t *ends_at_ms)
{
    seen_t *s = ctx;
    s->asked++;
    if (fp != s->fp || !s->seen_ms) return false;
    *seen_ms = s->seen_ms;
    *event_ms = s->event_ms;
    *ends_at_ms = s->ends_at_ms;
    return true;
}

#define RT   (5 * M) /* resolve_timeout */
#define FOLD (5 * M) /* dedup.window */

static const int64_t t0 = 1000 * S; /* the clock at the start */

/* A table resolving by time into *s, *r a route grouping by alertname. */
static group_table_t *resolving_table(route_t *r, sink_t *s, int64_t t0, group_seen_fn seen,
                                      void *ctx, bool refresh)
{
    static char *by_alertname[] = {"alertname"};
    *r = test_route(by_alertname, 1, false);
    group_table_t *gt = group_table_new(t0, 100, on_note, s);
    group_table_set_resolve(gt, RT, seen, ctx, refresh, FOLD);
    return gt;
}

/* Advances in 1 s steps (the router thread's pace, coarser). */
static void run_to(group_table_t *gt, int64_t from, int64_t to)
{
    for (int64_t t = from; t <= to; t += S) group_table_advance(gt, t);
    group_table_advance(gt, to);
}

static void test_resolve_timeout_without_ends_at(void)
{
    route_t r;
    sink_t s = {0};
    group_table_t *gt = resolving_table(&r, &s, t0, NULL, NULL, false);
    label_t l1[] = {L("alertname", "Cron"), L("job", "backup")};
    alert_t a = mk(l1, 2, 1, false);
    a.event_time_ms = t0;
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    CHECK(group_table_add(gt, &r, &a, &inc, NULL, NULL, t0) == QERR_OK);
    run_to(gt, t0, t0 + 31 * S);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(s.kind[0], NOTIFY_FIRING);
    CHECK_EQ_STR(s.states[0], "F");
    /* Not sent again: firing until its last occurrence + resolve_timeout. */
    run_to(gt, t0 + 31 * S, t0 + RT - S);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(group_table_count(gt), 1);
    /* Then resolved: a change, told at the next update (group_interval
     * after the first notification), the group's resolved notification,
     * with endsAt = last occurrence + resolve_timeout; the group closes. */
    run_to(gt, t0 + RT - S, t0 + 30 * S + 5 * M + S);
    CHECK_EQ_INT(s.calls, 2);
    CHECK_EQ_INT(s.kind[1], NOTIFY_RESOLVED);
    CHECK_EQ_INT(s.n_firing[1], 0);
    CHECK_EQ_STR(s.states[1], "R");
    CHECK_EQ_INT(s.ends_at[1], t0 + RT);
    CHECK_EQ_INT(group_table_count(gt), 0);

    /* Off (0): an alert resolves only when a resolve arrives. */
    group_table_set_resolve(gt, 0, NULL, NULL, false, 0);
    CHECK(group_table_add(gt, &r, &a, &inc, NULL, NULL, t0 + H) == QERR_OK);
    run_to(gt, t0 + H, t0 + 2 * H);
    CHECK_EQ_INT(s.calls, 3);
    CHECK_EQ_INT(group_table_count(gt), 1);
    group_table_destroy(gt);
}

static void test_resolve_at_ends_at(void)
{
    route_t r;
    sink_t s = {0};
    group_table_t *gt = resolving_table(&r, &s, t0, NULL, NULL, false);
    label_t l1[] = {L("alertname", "Lag"), L("host", "a")};
    label_t l2[] = {L("alertname", "Lag"), L("host", "b")};
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    /* Prometheus sends endsAt = now + 4 evaluation intervals (here 8 m);
     * one host's rule stops, the other's goes on (re-sent: a REPEAT
     * forward, or the same alert again with a later endsAt). */
    alert_t a = mk(l1, 2, 1, false), b = mk(l2, 2, 2, false);
    a.event_time_ms = b.event_time_ms = t0;
    a.ends_at_ms = b.ends_at_ms = t0 + 8 * M;
    CHECK(group_table_add(gt, &r, &a, &inc, NULL, NULL, t0) == QERR_OK);
    CHECK(group_table_add(gt, &r, &b, &inc, NULL, NULL, t0) == QERR_OK);
    run_to(gt, t0, t0 + 31 * S);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_STR(s.states[0], "FF");
    for (int64_t t = t0 + M; t <= t0 + 20 * M; t += M) {
        b.event_time_ms = t;
        b.ends_at_ms = t + 8 * M;
        CHECK(group_table_add(gt, &r, &b, &inc, NULL, NULL, t) == QERR_OK);
        run_to(gt, t - M + S, t);
    }
    /* a ended at t0 + 8 m: the update after it lists it resolved with its
     * own endsAt, b firing; then a leaves the group. */
    CHECK_EQ_INT(s.calls, 2);
    CHECK_EQ_INT(s.kind[1], NOTIFY_FIRING);
    CHECK(s.at[1] >= t0 + 8 * M && s.at[1] <= t0 + 8 * M + 2 * S);
    CHECK_EQ_STR(s.states[1], "FR");
    CHECK_EQ_INT(s.ends_at[1], t0 + 8 * M);
    CHECK_EQ_INT(s.n_firing[1], 1);
    /* b stops at t0 + 20 m: resolved at its endsAt, t0 + 28 m. */
    run_to(gt, t0 + 20 * M, t0 + 28 * M - S);
    CHECK_EQ_INT(s.calls, 2);
    run_to(gt, t0 + 28 * M - S, t0 + 28 * M + S);
    CHECK_EQ_INT(s.calls, 3);
    CHECK_EQ_INT(s.kind[2], NOTIFY_RESOLVED);
    CHECK_EQ_STR(s.states[2], "R");
    CHECK_EQ_INT(s.ends_at[2], t0 + 28 * M);
    CHECK_EQ_INT(group_table_count(gt), 0);

    /* A replay of old traffic: endsAt is as far past the event time as it
     * was live, so the alert lives as long on the groups' clock. */
    int64_t t1 = t0 + H;
    alert_t old = mk(l1, 2, 1, false);
    old.event_time_ms = t0 - 30 * 24 * H;
    old.ends_at_ms = old.event_time_ms + 3 * M;
    CHECK(group_table_add(gt, &r, &old, &inc, NULL, NULL, t1) == QERR_OK);
    run_to(gt, t1, t1 + 31 * S);
    CHECK_EQ_INT(s.calls, 4);
    CHECK_EQ_INT(s.kind[3], NOTIFY_FIRING);
    run_to(gt, t1 + 31 * S, t1 + 30 * S + 5 * M + S);
    CHECK_EQ_INT(s.calls, 5);
    CHECK_EQ_INT(s.kind[4], NOTIFY_RESOLVED);
    group_table_destroy(gt);
}

/* `a` fires (again) at t; within `ms` exactly one firing notification,
 * listing `states`. */
static void fires_again(group_table_t *gt, const route_t *r, sink_t *s, alert_t *a, int64_t t,
                        int64_t ms, const char *states)
{
    int before = s->calls;
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    a->event_time_ms = t;
    CHECK(group_table_add(gt, r, a, &inc, NULL, NULL, t) == QERR_OK);
    run_to(gt, t, t + ms);
    CHECK_EQ_INT(s->calls, before + 1);
    CHECK_EQ_INT(s->kind[before], NOTIFY_FIRING);
    CHECK_EQ_STR(s->states[before], states);
}

static void test_resolve_seen_and_reopen(void)
{
    route_t r;
    sink_t s = {0};
    seen_t seen = {.fp = 1};
    group_table_t *gt = resolving_table(&r, &s, t0, seen_fn, &seen, true);
    label_t l1[] = {L("alertname", "Disk"), L("host", "a")};
    label_t l2[] = {L("alertname", "Disk"), L("host", "b")};
    alert_t a = mk(l1, 2, 1, false), b = mk(l2, 2, 2, false);
    a.event_time_ms = b.event_time_ms = t0;
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    CHECK(group_table_add(gt, &r, &a, &inc, NULL, NULL, t0) == QERR_OK);
    CHECK(group_table_add(gt, &r, &b, &inc, NULL, NULL, t0) == QERR_OK);
    run_to(gt, t0, t0 + 31 * S);
    CHECK_EQ_INT(s.calls, 1);
    /* a goes on occurring, folded by the dedup workers: the group never
     * sees it, the decision log does (seen). b stops. */
    for (int64_t t = t0 + 30 * S; t <= t0 + 30 * M; t += 30 * S) {
        seen.seen_ms = seen.event_ms = t;
        run_to(gt, t - 29 * S, t);
    }
    CHECK(seen.asked >= 1);
    CHECK(seen.asked <= 12); /* about two lookups per resolve_timeout */
    /* b resolved at t0 + 5 m, told in the update at t0 + 5 m 30 s; a's end
     * moved on, which a shared group republishes (NOTIFY_REFRESH). */
    int updates = 0, refreshes = 0;
    for (int i = 1; i < s.calls && i < 64; i++) {
        updates += s.kind[i] == NOTIFY_FIRING;
        refreshes += s.kind[i] == NOTIFY_REFRESH;
    }
    CHECK_EQ_INT(updates, 1);
    CHECK(refreshes >= 1);
    int u = 1;
    while (u < s.calls && s.kind[u] != NOTIFY_FIRING) u++;
    CHECK_EQ_STR(s.states[u], "FR");
    CHECK_EQ_INT(s.ends_at[u], t0 + RT);
    CHECK_EQ_INT(group_table_count(gt), 1);

    /* b fires again (a new incident: the dedup window had closed): it
     * reopens in the group, an update lists it firing. */
    int64_t t = t0 + 30 * M + S;
    fires_again(gt, &r, &s, &b, t, 5 * S, "FF");

    /* Both stop: both resolve, one resolved notification, closed. */
    seen.fp = 0;
    run_to(gt, t + 5 * S, t + 12 * M);
    CHECK_EQ_INT(s.kind[s.calls - 1], NOTIFY_RESOLVED);
    CHECK_EQ_STR(s.states[s.calls - 1], "RR");
    CHECK_EQ_INT(group_table_count(gt), 0);

    /* It fires again later: a new group, paged again after group_wait. */
    fires_again(gt, &r, &s, &a, t + H, 31 * S, "F");
    group_table_destroy(gt);
}

/* An alert that comes back after it resolved by time, within its dedup
 * window: the workers fold the comeback into its open incident (no
 * forward), so the group watches the decision log and reopens it. */
static void test_resolve_comeback_folded(void)
{
    route_t r;
    sink_t s = {0};
    seen_t seen = {.fp = 1};
    group_table_t *gt = resolving_table(&r, &s, t0, seen_fn, &seen, false);
    r.dedup_window_ms = 30 * M; /* this route's alerts: a 30 m dedup window */
    label_t l1[] = {L("alertname", "Lag"), L("host", "a")};
    alert_t a = mk(l1, 2, 1, false);
    a.event_time_ms = t0;
    a.ends_at_ms = t0 + 4 * M; /* Prometheus: 4 evaluation intervals */
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    seen.seen_ms = seen.event_ms = t0;
    seen.ends_at_ms = t0 + 4 * M;
    CHECK(group_table_add(gt, &r, &a, &inc, NULL, NULL, t0) == QERR_OK);
    /* Its rule stops: resolved at t0 + 4 m, the group's resolved at the
     * update t0 + 5 m 30 s, closed. */
    run_to(gt, t0, t0 + 6 * M);
    CHECK_EQ_INT(s.calls, 2);
    CHECK_EQ_INT(s.kind[1], NOTIFY_RESOLVED);
    CHECK_EQ_INT(group_table_count(gt), 0);
    /* It comes back at t0 + 10 m, 10 m after its last occurrence: folded
     * by dedup, seen in the decision log; a new group pages again. */
    seen.seen_ms = seen.event_ms = t0 + 10 * M;
    seen.ends_at_ms = t0 + 14 * M;
    run_to(gt, t0 + 6 * M, t0 + 10 * M + 32 * S);
    CHECK_EQ_INT(s.calls, 3);
    CHECK_EQ_INT(s.kind[2], NOTIFY_FIRING);
    CHECK_EQ_STR(s.states[2], "F");
    CHECK(s.at[2] >= t0 + 10 * M + 30 * S);
    /* Gone again, past the window of its last occurrence: let go (its
     * next occurrence is a new incident, forwarded). */
    run_to(gt, t0 + 10 * M + 32 * S, t0 + 60 * M);
    CHECK_EQ_INT(s.kind[s.calls - 1], NOTIFY_RESOLVED);
    CHECK_EQ_INT(group_table_count(gt), 0);
    int asked = seen.asked;
    run_to(gt, t0 + 60 * M, t0 + 70 * M);
    CHECK_EQ_INT(seen.asked, asked);
    group_table_destroy(gt);
}

/* The same comeback across a restart: the watch is saved beside the
 * groups and restored, so the comeback dedup folds still reopens. */
static void test_resolve_comeback_across_restart(void)
{
    route_t r;
    sink_t s = {0};
    seen_t seen = {.fp = 1};
    group_table_t *gt = resolving_table(&r, &s, t0, seen_fn, &seen, false);
    r.dedup_window_ms = 30 * M;
    label_t l1[] = {L("alertname", "Lag"), L("host", "a")};
    alert_t a = mk(l1, 2, 1, false);
    a.event_time_ms = t0;
    a.ends_at_ms = t0 + 4 * M;
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    seen.seen_ms = seen.event_ms = t0;
    seen.ends_at_ms = t0 + 4 * M;
    CHECK(group_table_add(gt, &r, &a, &inc, NULL, NULL, t0) == QERR_OK);
    run_to(gt, t0, t0 + 6 * M);
    CHECK_EQ_INT(s.kind[1], NOTIFY_RESOLVED);
    CHECK_EQ_INT(group_table_count(gt), 0);
    CHECK_EQ_INT(group_table_watched(gt), 1);
    FILE *f = tmpfile();
    CHECK(group_table_save((const group_table_t *const[]){gt}, 1, f) == QERR_OK);
    group_table_destroy(gt);

    /* Restarted: loaded before the decision log is handed over (as at
     * start), then the comeback at t0 + 10 m reopens. */
    rewind(f);
    sink_t s2 = {0};
    gt = group_table_new(t0 + 6 * M, 100, on_note, &s2);
    const route_t *routes[] = {&r};
    uint64_t loaded = 0, dropped = 0;
    CHECK(group_table_load(gt, f, routes, 1, t0 + 6 * M, &loaded, &dropped) == QERR_OK);
    CHECK_EQ_INT(group_table_count(gt), 0);
    CHECK_EQ_INT(group_table_watched(gt), 1);
    group_table_advance(gt, t0 + 6 * M + 2 * S); /* no decision log yet: waits */
    group_table_set_resolve(gt, RT, seen_fn, &seen, false, FOLD);
    seen.seen_ms = seen.event_ms = t0 + 10 * M;
    seen.ends_at_ms = t0 + 14 * M;
    run_to(gt, t0 + 6 * M + 2 * S, t0 + 10 * M + 32 * S);
    CHECK_EQ_INT(s2.calls, 1);
    CHECK_EQ_INT(s2.kind[0], NOTIFY_FIRING);
    CHECK_EQ_STR(s2.states[0], "F");
    group_table_destroy(gt);

    /* Restored after the window of its last occurrence passed, or on a
     * route the config no longer has: not watched. */
    qerr_t err;
    route_t other = r;
    other.key = "{}/{team=\"b\"}";
    const struct {
        const route_t *route;
        int64_t at;
    } late[] = {{&r, t0 + 31 * M}, {&other, t0 + 6 * M}};
    for (size_t i = 0; i < 2; i++) {
        gt = restore(f, late[i].route, late[i].at, &s2, &err);
        CHECK(err == QERR_OK);
        CHECK_EQ_INT(group_table_watched(gt), 0);
        group_table_destroy(gt);
    }

    /* A file cut after its groups (an older quell's) loads, watching none;
     * one cut inside the watched alerts is refused. */
    fseek(f, 0, SEEK_END);
    long whole = ftell(f);
    rewind(f);
    char *bytes = malloc((size_t)whole);
    CHECK(bytes && fread(bytes, 1, (size_t)whole, f) == (size_t)whole);
    fclose(f);
    size_t groups_end = strlen("QUELLGRP1\n") + 8; /* no groups were open */
    f = tmpfile();
    fwrite(bytes, 1, groups_end, f);
    gt = restore(f, &r, t0 + 6 * M, &s2, &err);
    CHECK(err == QERR_OK);
    CHECK_EQ_INT(group_table_watched(gt), 0);
    group_table_destroy(gt);
    fclose(f);
    f = tmpfile();
    fwrite(bytes, 1, (size_t)whole - 3, f);
    gt = restore(f, &r, t0 + 6 * M, &s2, &err);
    CHECK(err == QERR_INVALID);
    group_table_destroy(gt);
    fclose(f);
    free(bytes);
}

static void test_resolve_before_first_notification(void)
{
    /* An alert whose endsAt passes before group_wait: nobody was paged,
     * the group closes silently (as a resolve before group_wait). */
    route_t r;
    sink_t s = {0};
    group_table_t *gt = resolving_table(&r, &s, 0, NULL, NULL, false);
    label_t l1[] = {L("alertname", "Blip")};
    alert_t a = mk(l1, 1, 1, false);
    a.event_time_ms = 10 * S;
    a.ends_at_ms = 20 * S;
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    CHECK(group_table_add(gt, &r, &a, &inc, NULL, NULL, 10 * S) == QERR_OK);
    run_to(gt, 10 * S, 2 * M);
    CHECK_EQ_INT(s.calls, 0);
    CHECK_EQ_INT(group_table_count(gt), 0);
    group_table_destroy(gt);
}

/* Shared groups (refresh on): what group_shared.c's gate may answer. */
typedef struct {
    sink_t sink;
    uint64_t elsewhere; /* reported resolved elsewhere by the second call */
} shared_sink_t;

static void on_shared_note(void *ctx, const notification_t *n)
{
    shared_sink_t *s = ctx;
    if (s->sink.calls == 1 && n->resolved_elsewhere) {
        n->resolved_elsewhere[0] = s->elsewhere;
        *n->n_resolved_elsewhere = 1;
    }
    on_note(&s->sink, n);
}

static void test_shared_partition_moved(void)
{
    static char *by_alertname[] = {"alertname"};
    route_t r = test_route(by_alertname, 1, false);
    label_t l1[] = {L("alertname", "Disk"), L("instance", "a")};
    label_t l2[] = {L("alertname", "Disk"), L("instance", "b")};
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    /* A resolve in a group this instance never notified: not closed
     * silently but handed to the gate (NOTIFY_UNTOLD), which knows whether
     * another instance notified it before the partition moved. */
    shared_sink_t ss = {0};
    group_table_t *gt = group_table_new(0, 100, on_shared_note, &ss);
    group_table_set_resolve(gt, RT, NULL, NULL, true, FOLD);
    alert_t b = mk(l2, 2, 2, true);
    b.event_time_ms = 10 * S;
    CHECK(group_table_add(gt, &r, &b, &inc, NULL, NULL, 10 * S) == QERR_OK);
    run_to(gt, 10 * S, 2 * M);
    CHECK_EQ_INT(ss.sink.calls, 1);
    CHECK_EQ_INT(ss.sink.kind[0], NOTIFY_UNTOLD);
    CHECK_EQ_INT(group_table_count(gt), 0);
    group_table_destroy(gt);

    /* Two firing alerts notified here; b resolves here, while a, whose
     * partition moved, was resolved by another instance (the gate says
     * so at the update): the group resolves a too and sends its resolved
     * at the next group_interval, not when a's endsAt (1 h) passes. */
    ss = (shared_sink_t){.elsewhere = 1};
    gt = group_table_new(0, 100, on_shared_note, &ss);
    group_table_set_resolve(gt, RT, NULL, NULL, true, FOLD);
    alert_t a = mk(l1, 2, 1, false);
    b = mk(l2, 2, 2, false);
    a.event_time_ms = b.event_time_ms = 10 * S;
    a.ends_at_ms = b.ends_at_ms = H;
    CHECK(group_table_add(gt, &r, &a, &inc, NULL, NULL, 10 * S) == QERR_OK);
    CHECK(group_table_add(gt, &r, &b, &inc, NULL, NULL, 10 * S) == QERR_OK);
    run_to(gt, 10 * S, 1 * M);
    CHECK_EQ_INT(ss.sink.calls, 1);
    b.status = ALERT_RESOLVED;
    b.ends_at_ms = M;
    CHECK(group_table_add(gt, &r, &b, &inc, NULL, NULL, M) == QERR_OK);
    run_to(gt, M, 12 * M);
    CHECK_EQ_INT(ss.sink.calls, 3);
    CHECK_EQ_INT(ss.sink.kind[1], NOTIFY_FIRING);
    CHECK_EQ_STR(ss.sink.states[1], "FR");
    CHECK_EQ_INT(ss.sink.kind[2], NOTIFY_RESOLVED);
    CHECK(ss.sink.at[2] < 12 * M);
    CHECK_EQ_INT(group_table_count(gt), 0);
    group_table_destroy(gt);
}

int main(void)
{
    test_shared_partition_moved();
    test_resolve_timeout_without_ends_at();
    test_resolve_at_ends_at();
    test_resolve_seen_and_reopen();
    test_resolve_before_first_notification();
    test_resolve_comeback_folded();
    test_resolve_comeback_across_restart();
    test_snapshot();
    test_timings();
    test_silent_close_and_keys();
    test_many_groups();
    return check_summary("test_group");
}
