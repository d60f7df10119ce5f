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

int main(void)
{
    test_snapshot();
    test_timings();
    test_silent_close_and_keys();
    test_many_groups();
    return check_summary("test_group");
}
