/*
 * mute_time_intervals / active_time_intervals on routes, Alertmanager's
 * semantics: names of `time_intervals:` entries; not on the root; not
 * inherited; mute wins over active; a muted route sends nothing while
 * grouping goes on, and the first flush after the mute sends what changed.
 */
#include <time.h>

#include "../router/router_int.h"
#include "check.h"

#define S 1000LL
#define M (60 * S)
#define H (60 * M)

static const char base[] = "time_intervals:\n"
                           "  - name: nights\n"
                           "    time_intervals:\n"
                           "      - times: [{start_time: '00:00', end_time: '06:00'}]\n"
                           "  - name: office\n"
                           "    time_intervals:\n"
                           "      - weekdays: ['monday:friday']\n"
                           "        times: [{start_time: '09:00', end_time: '17:00'}]\n"
                           "receivers:\n"
                           "  - {name: a, type: stdout}\n"
                           "route:\n"
                           "  receiver: a\n"
                           "  group_wait: 30s\n"
                           "  group_interval: 5m\n"
                           "  repeat_interval: 4h\n"
                           "  routes:\n"
                           "    - matchers: ['team=\"db\"']\n"
                           "      mute_time_intervals: [nights]\n"
                           "      routes:\n"
                           "        - matchers: ['sub=\"x\"']\n"
                           "    - matchers: ['team=\"web\"']\n"
                           "      active_time_intervals: [office]\n"
                           "      mute_time_intervals: [nights]\n";

static routing_t *compile(const char *yaml, conf_t *c, char *err, size_t errlen)
{
    conf_defaults(c);
    routing_t *rt = NULL;
    if (conf_load_buffer(c, "q.yml", yaml, strlen(yaml), err, errlen) != QERR_OK) return NULL;
    if (routing_compile(c, &rt, err, errlen) != QERR_OK) return NULL;
    return rt;
}

/* Unix ms of a UTC date and time. */
static int64_t at(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm) * 1000;
}

static void test_compile_and_semantics(void)
{
    conf_t c;
    char err[512] = "";
    routing_t *rt = compile(base, &c, err, sizeof(err));
    if (!rt) fprintf(stderr, "%s\n", err);
    CHECK(rt != NULL);
    if (!rt) return;
    const route_t *routes[8];
    size_t n = routing_walk(rt, routes, 8);
    CHECK_EQ_INT(n, 4);
    const route_t *root = routes[0], *db = routes[1], *dbx = routes[2], *web = routes[3];
    int64_t mon_03 = at(2026, 12, 7, 3, 0), mon_10 = at(2026, 12, 7, 10, 0),
            mon_20 = at(2026, 12, 7, 20, 0), sat_10 = at(2026, 12, 5, 10, 0);
    CHECK(!routing_route_muted(rt, root, mon_03));
    CHECK(routing_route_muted(rt, db, mon_03)); /* in `nights` */
    CHECK(!routing_route_muted(rt, db, mon_10));
    CHECK(!routing_route_muted(rt, dbx, mon_03)); /* not inherited */
    CHECK(routing_route_muted(rt, web, mon_20));  /* outside `office` */
    CHECK(routing_route_muted(rt, web, sat_10));
    CHECK(!routing_route_muted(rt, web, mon_10));
    CHECK(routing_route_muted(rt, web, at(2026, 12, 7, 5, 0))); /* nights, not office */
    routing_destroy(rt);
    conf_free(&c);

    /* Refused, with the position. */
    char *bad = malloc(sizeof(base) + 256);
    snprintf(bad, sizeof(base) + 256, "%s", base);
    memcpy(strstr(bad, "[nights]"), "[wkends]", 8); /* the db route's */
    CHECK(compile(bad, &c, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "q.yml:") && strstr(err, "no time interval named \"wkends\""));
    conf_free(&c);
    snprintf(bad, sizeof(base) + 256,
             "time_intervals:\n  - name: n\n    time_intervals: [{weekdays: [monday]}]\n"
             "receivers:\n  - {name: a, type: stdout}\n"
             "route:\n  receiver: a\n  mute_time_intervals: [n]\n");
    CHECK(compile(bad, &c, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "q.yml:8:") && strstr(err, "root route cannot"));
    conf_free(&c);
    free(bad);
}

/* ---- grouping under a mute -------------------------------------------- */

typedef struct {
    int calls;
    notify_kind_t kind[16];
    size_t n_alerts[16];
} sink_t;

static void on_note(void *ctx, const notification_t *n)
{
    sink_t *s = ctx;
    if (s->calls < 16) {
        s->kind[s->calls] = n->kind;
        s->n_alerts[s->calls] = n->n_alerts;
    }
    s->calls++;
    for (size_t i = 0; i < n->n_tracks; i++) track_done(n->tracks[i]);
}

static int64_t mute_until;
static bool muted(void *ctx, const route_t *r, int64_t now_ms)
{
    (void)ctx;
    (void)r;
    return now_ms < mute_until;
}

#define L(n, v)                                                                                    \
    {                                                                                              \
        {n, sizeof(n) - 1}, { v, sizeof(v) - 1 }                                                   \
    }

static void test_group_mute(void)
{
    static receiver_t rcv = {.name = "r"};
    char *gb[] = {"alertname"};
    route_t r = {.receiver = &rcv,
                 .key = "{}/{team=\"db\"}",
                 .group_by = gb,
                 .n_group_by = 1,
                 .group_wait_ms = 30 * S,
                 .group_interval_ms = 5 * M,
                 .repeat_interval_ms = 4 * H};
    sink_t s = {0};
    int64_t t0 = 1000 * S;
    mute_until = t0 + 20 * M;
    group_table_t *gt = group_table_new(t0, 100, on_note, &s);
    group_table_set_mute(gt, muted, NULL);
    label_t l1[] = {L("alertname", "Disk"), L("host", "a")};
    label_t l2[] = {L("alertname", "Disk"), L("host", "b")};
    alert_t a1 = {.labels = l1, .n_labels = 2, .fingerprint = 1, .status = ALERT_FIRING};
    alert_t a2 = {.labels = l2, .n_labels = 2, .fingerprint = 2, .status = ALERT_FIRING};
    alert_t a2r = a2;
    a2r.status = ALERT_RESOLVED;
    incident_t inc = {.kind = DECISION_FORWARD_NEW, .count = 1};
    msg_track_t t1 = {1, 0}, t2 = {1, 1}, t3 = {1, 2};
    CHECK_EQ_INT(group_table_add(gt, &r, &a1, &inc, NULL, &t1, t0), QERR_OK);
    CHECK_EQ_INT(group_table_add(gt, &r, &a2, &inc, NULL, &t2, t0), QERR_OK);
    /* group_wait passes while muted: nothing sent, the holds released
     * (offsets move on during a long mute). */
    group_table_advance(gt, t0 + 31 * S);
    CHECK_EQ_INT(s.calls, 0);
    CHECK_EQ_INT(atomic_load(&t1.pending), 0);
    CHECK_EQ_INT(atomic_load(&t2.pending), 0);
    CHECK_EQ_INT(group_table_held(gt), 0);
    /* a2 resolves during the mute: it leaves the group, never told. */
    CHECK_EQ_INT(group_table_add(gt, &r, &a2r, &inc, NULL, &t3, t0 + 10 * M), QERR_OK);
    group_table_advance(gt, t0 + 19 * M);
    CHECK_EQ_INT(s.calls, 0);
    CHECK_EQ_INT(atomic_load(&t3.pending), 0);
    /* The first flush after the mute sends the group as it stands. */
    group_table_advance(gt, t0 + 26 * M);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(s.kind[0], NOTIFY_FIRING);
    CHECK_EQ_INT(s.n_alerts[0], 1);
    /* Not muted any more: a reminder after repeat_interval, as usual. */
    group_table_advance(gt, t0 + 26 * M + 4 * H + 1 * M);
    CHECK_EQ_INT(s.calls, 2);
    CHECK_EQ_INT(s.kind[1], NOTIFY_REMINDER);
    /* Muted again when everything resolves: the group closes silently. */
    mute_until = INT64_MAX;
    alert_t a1r = a1;
    a1r.status = ALERT_RESOLVED;
    msg_track_t t4 = {1, 3};
    int64_t t5 = t0 + 5 * H;
    CHECK_EQ_INT(group_table_add(gt, &r, &a1r, &inc, NULL, &t4, t5), QERR_OK);
    group_table_advance(gt, t5 + 6 * M);
    CHECK_EQ_INT(s.calls, 2);
    CHECK_EQ_INT(group_table_count(gt), 0);
    CHECK_EQ_INT(atomic_load(&t4.pending), 0);
    group_table_destroy(gt);
}

int main(void)
{
    test_compile_and_semantics();
    test_group_mute();
    return check_summary("route mute");
}
