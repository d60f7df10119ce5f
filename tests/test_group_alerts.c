/*
 * A group's alerts across instances (router/group_alerts.c), without
 * Redis: the shared record's bytes round trip; malformed, truncated and
 * oversized records are refused without a crash; the composition of one
 * notification from this instance's alerts and the others' records
 * (its own view winning, resolved listed once, endsAt past, a resolved
 * notification listing all resolved), and the webhook body formatted
 * from it (commonLabels over the whole group, max_alerts truncation).
 */
#include <cjson/cJSON.h>

#include "../router/router_int.h"
#include "check.h"

#define L(n, v)                                                                                    \
    {                                                                                              \
        {n, sizeof(n) - 1}, { v, sizeof(v) - 1 }                                                   \
    }

static const int64_t T = 1767225600000LL; /* 2026-01-01T00:00:00Z */

static label_t la[] = {L("alertname", "DiskFull"), L("instance", "db1"), L("team", "db"),
                       L("zone", "a")};
static label_t lb[] = {L("alertname", "DiskFull"), L("instance", "db2"), L("team", "db"),
                       L("zone", "b")};
static label_t lc[] = {L("alertname", "DiskFull"), L("instance", "db3"), L("team", "db"),
                       L("zone", "b")};
static label_t an[] = {L("summary", "disk full"), L("description", "quote \" and \n newline")};

static alert_t make_alert(label_t *l, uint64_t fp, alert_status_t st)
{
    return (alert_t){.labels = l,
                     .n_labels = 4,
                     .annotations = an,
                     .n_annotations = 2,
                     .status = st,
                     .starts_at_ms = T,
                     .ends_at_ms = st == ALERT_RESOLVED ? T + 9000 : 0,
                     .generator_url = {"http://prom/g", 13},
                     .fingerprint = fp};
}

static bool str_same(str_t a, str_t b)
{
    return a.len == b.len && (!a.len || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static size_t encode(uint8_t *buf, const alert_t *a, const incident_t *inc, int64_t written)
{
    notify_alert_t na = {a, inc, {0}, 0, 0};
    return group_alert_encode(buf, GROUP_ALERT_MAX_BYTES, &na, written);
}

static void test_round_trip(void)
{
    alert_t a = make_alert(la, 0x1111, ALERT_RESOLVED);
    incident_t inc = {.count = 7, .first_seen_ms = T - 5, .last_seen_ms = T + 5, .severity = 2};
    uint8_t buf[GROUP_ALERT_MAX_BYTES];
    size_t len = encode(buf, &a, &inc, T + 42);
    CHECK(len > 0);
    arena_t ar;
    arena_init(&ar, 4096);
    group_alert_t g;
    CHECK(group_alert_decode(buf, len, 0x1111, &ar, &g));
    CHECK_EQ_INT(g.alert.fingerprint, 0x1111);
    CHECK_EQ_INT(g.alert.status, ALERT_RESOLVED);
    CHECK_EQ_INT(g.alert.starts_at_ms, T);
    CHECK_EQ_INT(g.alert.ends_at_ms, T + 9000);
    CHECK_EQ_INT(g.written_ms, T + 42);
    CHECK_EQ_INT(g.inc.count, 7);
    CHECK_EQ_INT(g.inc.first_seen_ms, T - 5);
    CHECK_EQ_INT(g.inc.last_seen_ms, T + 5);
    CHECK_EQ_INT(g.inc.severity, 2);
    CHECK_EQ_INT(g.alert.n_labels, 4);
    CHECK_EQ_INT(g.alert.n_annotations, 2);
    for (uint32_t i = 0; i < 4 && i < g.alert.n_labels; i++)
        CHECK(str_same(g.alert.labels[i].name, la[i].name) &&
              str_same(g.alert.labels[i].value, la[i].value));
    for (uint32_t i = 0; i < 2 && i < g.alert.n_annotations; i++)
        CHECK(str_same(g.alert.annotations[i].name, an[i].name) &&
              str_same(g.alert.annotations[i].value, an[i].value));
    CHECK(str_same(g.alert.generator_url, a.generator_url));
    /* The same bytes again from the decoded copy. */
    uint8_t again[GROUP_ALERT_MAX_BYTES];
    size_t len2 = encode(again, &g.alert, &g.inc, g.written_ms);
    CHECK_EQ_INT(len2, len);
    CHECK(len2 == len && memcmp(buf, again, len) == 0);
    /* No labels, no annotations, no URL. */
    alert_t bare = {.fingerprint = 9};
    len = encode(buf, &bare, NULL, 0);
    CHECK(len > 0 && group_alert_decode(buf, len, 9, &ar, &g));
    CHECK_EQ_INT(g.alert.n_labels, 0);
    CHECK_EQ_INT(g.inc.count, 1);
    arena_free(&ar);
}

static void test_refused(void)
{
    alert_t a = make_alert(la, 0x1111, ALERT_FIRING);
    uint8_t buf[GROUP_ALERT_MAX_BYTES + 16];
    size_t len = encode(buf, &a, NULL, T);
    arena_t ar;
    arena_init(&ar, 4096);
    group_alert_t g;
    /* Every truncation, and trailing bytes. */
    for (size_t cut = 0; cut < len; cut++) CHECK(!group_alert_decode(buf, cut, 1, &ar, &g));
    buf[len] = 0;
    CHECK(!group_alert_decode(buf, len + 1, 1, &ar, &g));
    /* Wrong magic, version, status, severity. */
    size_t where[] = {0, 1, 2, 3};
    for (size_t i = 0; i < 4; i++) {
        uint8_t saved = buf[where[i]];
        buf[where[i]] = 0xee;
        CHECK(!group_alert_decode(buf, len, 1, &ar, &g));
        buf[where[i]] = saved;
    }
    CHECK(group_alert_decode(buf, len, 1, &ar, &g));
    /* A label count past the bytes there are. */
    buf[52] = 0xff;
    buf[53] = 0xff;
    CHECK(!group_alert_decode(buf, len, 1, &ar, &g));
    /* Labels out of order (a record nobody encoded). */
    label_t rev[] = {L("zone", "a"), L("alertname", "x")};
    alert_t r = {.labels = rev, .n_labels = 2};
    len = encode(buf, &r, NULL, T);
    CHECK(len > 0);
    CHECK(!group_alert_decode(buf, len, 1, &ar, &g));
    /* Oversized: not encoded, and refused when read. */
    static char big[GROUP_ALERT_MAX_BYTES];
    memset(big, 'x', sizeof(big));
    label_t huge[] = {{{"alertname", 9}, {big, sizeof(big)}}};
    alert_t h = {.labels = huge, .n_labels = 1};
    CHECK_EQ_INT(encode(buf, &h, NULL, T), 0);
    CHECK(!group_alert_decode(buf, GROUP_ALERT_MAX_BYTES + 1, 1, &ar, &g));
    /* Random bytes: refused or decoded, never a crash (the sanitizer build). */
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 20000; round++) {
        size_t n = 56 + (size_t)(round % 200);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        buf[0] = 'Q';
        buf[1] = 1;
        buf[2] &= 1;
        buf[3] %= 6;
        buf[52] %= 4;
        buf[53] = 0;
        buf[54] %= 3;
        buf[55] = 0;
        (void)group_alert_decode(buf, n, 1, &ar, &g);
        if (round % 1000 == 0) arena_reset(&ar);
    }
    arena_free(&ar);
}

/* The others' records as the gate would return them. */
static size_t others_of(group_alert_t *out, arena_t *ar, const alert_t *a, size_t n,
                        const int64_t *written)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[GROUP_ALERT_MAX_BYTES];
        incident_t inc = {.count = 1, .first_seen_ms = T, .last_seen_ms = T};
        size_t len = encode(buf, &a[i], &inc, written[i]);
        if (len && group_alert_decode(buf, len, a[i].fingerprint, ar, &out[k])) k++;
    }
    return k;
}

static void test_merge(void)
{
    receiver_t rcv = {.name = "hook", .kind = RECV_WEBHOOK};
    route_t route = {.receiver = &rcv};
    label_t gl[] = {L("alertname", "DiskFull")};
    /* This instance: db1 firing. The others: db1 (stale copy: must lose
     * to ours), db2 firing, db3 resolved at T+500. */
    alert_t own_a = make_alert(la, 0xa1, ALERT_FIRING);
    incident_t own_inc = {.count = 2, .first_seen_ms = T, .last_seen_ms = T};
    notify_alert_t own_na = {&own_a, &own_inc, {0}, 0, 0};
    notification_t own = {.kind = NOTIFY_FIRING,
                          .route = &route,
                          .group_key = "{}:{alertname=\"DiskFull\"}",
                          .group_labels = gl,
                          .n_group_labels = 1,
                          .alerts = &own_na,
                          .n_alerts = 1,
                          .n_firing = 1,
                          .now_ms = T + 1000};
    alert_t stale = make_alert(lb, 0xa1, ALERT_RESOLVED); /* same fingerprint, other labels */
    alert_t oa[3] = {stale, make_alert(lb, 0xb2, ALERT_FIRING),
                     make_alert(lc, 0xc3, ALERT_RESOLVED)};
    int64_t written[3] = {T + 600, T + 600, T + 500};
    arena_t ar;
    arena_init(&ar, 8192);
    group_alert_t others[3];
    size_t n_others = others_of(others, &ar, oa, 3, written);
    CHECK_EQ_INT(n_others, 3);
    notification_t m;
    /* Last sent at T: the resolved db3 (written T+500) is listed once. */
    CHECK(group_alerts_merge(&own, others, n_others, T, &ar, NULL, NULL, &m));
    CHECK_EQ_INT(m.n_alerts, 3);
    CHECK_EQ_INT(m.n_firing, 2);
    if (m.n_alerts == 3) {
        CHECK(m.alerts[0].alert == &own_a); /* ours first, ours for 0xa1 */
        CHECK_EQ_INT(m.alerts[1].alert->fingerprint, 0xb2);
        CHECK_EQ_INT(m.alerts[2].alert->fingerprint, 0xc3);
        CHECK_EQ_INT(m.alerts[2].alert->status, ALERT_RESOLVED);
    }
    /* The webhook body over the whole group: zone differs, so
     * commonLabels is {alertname, team}; max_alerts truncates. */
    char body[8192];
    rcv.max_alerts = 2;
    CHECK(router_format_webhook(body, sizeof(body), &rcv, &m) < sizeof(body));
    cJSON *j = cJSON_Parse(body);
    CHECK(j != NULL);
    const cJSON *cl = cJSON_GetObjectItem(j, "commonLabels");
    CHECK_EQ_INT(cJSON_GetArraySize(cl), 2);
    CHECK(cJSON_GetObjectItem(cl, "team") && !cJSON_GetObjectItem(cl, "zone"));
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "alerts")), 2);
    CHECK_EQ_INT(cJSON_GetObjectItem(j, "truncatedAlerts")->valueint, 1);
    CHECK_EQ_STR(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "commonAnnotations"), "summary")->valuestring,
        "disk full");
    cJSON_Delete(j);

    /* Sent since (T+700): db3's resolution was told; not listed again. */
    n_others = others_of(others, &ar, oa, 3, written);
    CHECK(group_alerts_merge(&own, others, n_others, T + 700, &ar, NULL, NULL, &m));
    CHECK_EQ_INT(m.n_alerts, 2);
    CHECK_EQ_INT(m.n_firing, 2);

    /* db2's endsAt passed (its instance stopped refreshing): resolved,
     * once. */
    oa[1].ends_at_ms = T + 800;
    n_others = others_of(others, &ar, oa, 3, written);
    CHECK(group_alerts_merge(&own, others, n_others, T + 700, &ar, NULL, NULL, &m));
    CHECK_EQ_INT(m.n_alerts, 2);
    CHECK_EQ_INT(m.n_firing, 1);
    n_others = others_of(others, &ar, oa, 3, written);
    CHECK(group_alerts_merge(&own, others, n_others, T + 900, &ar, NULL, NULL, &m));
    CHECK_EQ_INT(m.n_alerts, 1);
    oa[1].ends_at_ms = 0;

    /* The resolved notification: everything, resolved. */
    own_a.status = ALERT_RESOLVED;
    own_a.ends_at_ms = T + 900;
    own.kind = NOTIFY_RESOLVED;
    own.n_firing = 0;
    n_others = others_of(others, &ar, oa, 3, written);
    CHECK(group_alerts_merge(&own, others, n_others, T + 700, &ar, NULL, NULL, &m));
    CHECK_EQ_INT(m.n_alerts, 3);
    CHECK_EQ_INT(m.n_firing, 0);
    for (size_t i = 0; i < m.n_alerts; i++) CHECK_EQ_INT(m.alerts[i].alert->status, ALERT_RESOLVED);
    rcv.max_alerts = 0;
    CHECK(router_format_webhook(body, sizeof(body), &rcv, &m) < sizeof(body));
    CHECK(strstr(body, "\"status\":\"resolved\",\"alerts\"") != NULL);
    CHECK(strstr(body, "\"status\":\"firing\"") == NULL);

    /* Nobody else: the notification as it was. */
    CHECK(group_alerts_merge(&own, others, 0, 0, &ar, NULL, NULL, &m));
    CHECK(m.alerts == own.alerts && m.n_alerts == 1);
    arena_free(&ar);
}

/* A firing alert's record carries its end as its instance counts it
 * (endsAt, or last occurrence + resolve_timeout), so another instance's
 * merge lists it resolved once that passed, as Alertmanager would. */
static void test_record_end(void)
{
    uint8_t buf[GROUP_ALERT_MAX_BYTES];
    arena_t ar;
    arena_init(&ar, 8192);
    alert_t a = make_alert(la, 0xa1, ALERT_FIRING);
    incident_t inc = {.count = 1, .first_seen_ms = T, .last_seen_ms = T};
    notify_alert_t na = {&a, &inc, {0}, T + 300000, 0};
    group_alert_t g;
    size_t n = group_alert_encode(buf, sizeof buf, &na, T);
    CHECK(n > 0 && group_alert_decode(buf, n, 0xa1, &ar, &g));
    CHECK_EQ_INT(g.alert.ends_at_ms, T + 300000);
    /* A resolved one keeps its own endsAt. */
    alert_t r = make_alert(la, 0xa1, ALERT_RESOLVED);
    na.alert = &r;
    n = group_alert_encode(buf, sizeof buf, &na, T);
    CHECK(n > 0 && group_alert_decode(buf, n, 0xa1, &ar, &g));
    CHECK_EQ_INT(g.alert.ends_at_ms, T + 9000);
    /* Before its end another instance lists it firing; after, resolved
     * with that end, once. */
    na.alert = &a;
    group_alert_t others[1];
    alert_t own_a = make_alert(lb, 0xb2, ALERT_FIRING);
    notify_alert_t own_na = {&own_a, &inc, {0}, 0, 0};
    notification_t own = {.kind = NOTIFY_FIRING, .alerts = &own_na, .n_alerts = 1, .n_firing = 1};
    notification_t out;
    for (int step = 0; step < 3; step++) {
        int64_t now = step == 0 ? T + 299000 : T + 301000;
        int64_t prev = step == 2 ? T + 301000 : T;
        n = group_alert_encode(buf, sizeof buf, &na, T);
        CHECK(group_alert_decode(buf, n, 0xa1, &ar, &others[0]));
        own.now_ms = now;
        CHECK(group_alerts_merge(&own, others, 1, prev, &ar, NULL, NULL, &out));
        if (step == 0) {
            CHECK_EQ_INT(out.n_alerts, 2);
            CHECK_EQ_INT(out.n_firing, 2);
        } else if (step == 1) {
            CHECK_EQ_INT(out.n_alerts, 2);
            CHECK_EQ_INT(out.n_firing, 1);
            CHECK_EQ_INT(out.alerts[1].alert->status, ALERT_RESOLVED);
            CHECK_EQ_INT(out.alerts[1].alert->ends_at_ms, T + 300000);
        } else {
            CHECK_EQ_INT(out.n_alerts, 1); /* told once */
        }
    }
    arena_free(&ar);
}

int main(void)
{
    test_record_end();
    test_round_trip();
    test_refused();
    test_merge();
    return check_summary("group alerts");
}
