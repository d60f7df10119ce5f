/* Receiver payloads, byte for byte; PagerDuty's against its OpenAPI schema
 * (required fields, enums) from the shared data. */
#include <cjson/cJSON.h>

#include "../router/router_int.h"
#include "check.h"
#include "quell/v1/alert.pb-c.h"

#define L(n, v)                                                                                    \
    {                                                                                              \
        {n, sizeof(n) - 1}, { v, sizeof(v) - 1 }                                                   \
    }

static label_t l1[] = {L("alertname", "DiskFull"), L("instance", "db1:9100"), L("team", "db")};
static label_t l2[] = {L("alertname", "DiskFull"), L("instance", "db2:9100"), L("team", "db")};
static label_t an1[] = {L("summary", "disk 95% full"), L("runbook", "x")};
static label_t an2[] = {L("summary", "disk 97% full"), L("runbook", "x")};
static label_t gl[] = {L("alertname", "DiskFull"), L("team", "db")};

static const int64_t T = 1767225600000LL; /* 2026-01-01T00:00:00Z */

static void sample(notification_t *n, notify_alert_t *na, alert_t *a, incident_t *inc,
                   route_t *route, notify_kind_t kind)
{
    a[0] = (alert_t){.labels = l1,
                     .n_labels = 3,
                     .annotations = an1,
                     .n_annotations = 2,
                     .starts_at_ms = T,
                     .generator_url = {"http://prom/g", 13},
                     .fingerprint = 0x1111222233334444ULL};
    a[1] = (alert_t){.labels = l2,
                     .n_labels = 3,
                     .annotations = an2,
                     .n_annotations = 2,
                     .starts_at_ms = T + 1000,
                     .fingerprint = 0xaaaabbbbccccddddULL};
    inc[0] = (incident_t){.kind = DECISION_FORWARD_NEW,
                          .count = 3,
                          .first_seen_ms = T,
                          .last_seen_ms = T + 5000,
                          .severity = 2};
    inc[1] = (incident_t){.kind = DECISION_FORWARD_NEW,
                          .count = 1,
                          .first_seen_ms = T + 1000,
                          .last_seen_ms = T + 1000,
                          .severity = 3};
    if (kind == NOTIFY_RESOLVED) {
        a[0].status = a[1].status = ALERT_RESOLVED;
        a[0].ends_at_ms = a[1].ends_at_ms = T + 60000;
    }
    na[0] =
        (notify_alert_t){&a[0],
                         &inc[0],
                         {.runbook_url = "https://rb/disk", .novel = true, .urgency_high = true},
                         0,
                         0};
    na[1] = (notify_alert_t){&a[1], &inc[1], {0}, 0, 0};
    *n = (notification_t){.kind = kind,
                          .route = route,
                          .group_key = "{}/{team=\"db\"}:{alertname=\"DiskFull\", team=\"db\"}",
                          .group_id = 0x0123456789abcdefULL,
                          .group_labels = gl,
                          .n_group_labels = 2,
                          .alerts = na,
                          .n_alerts = 2,
                          .n_firing = kind == NOTIFY_RESOLVED ? 0 : 2,
                          .folded = 4,
                          .now_ms = T + 30000};
}

static void test_webhook(void)
{
    receiver_t rcv = {.name = "hook", .kind = RECV_WEBHOOK, .external_url = "http://quell:8080"};
    route_t route = {.receiver = &rcv};
    notification_t n;
    notify_alert_t na[2];
    alert_t a[2];
    incident_t inc[2];
    sample(&n, na, a, inc, &route, NOTIFY_FIRING);
    char buf[4096];
    size_t len = router_format_webhook(buf, sizeof(buf), &rcv, &n);
    const char *want =
        "{\"receiver\":\"hook\",\"status\":\"firing\",\"alerts\":["
        "{\"status\":\"firing\",\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"db1:9100\","
        "\"team\":\"db\"},\"annotations\":{\"summary\":\"disk 95% full\",\"runbook\":\"x\"},"
        "\"startsAt\":\"2026-01-01T00:00:00.000Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
        "\"generatorURL\":\"http://prom/g\",\"fingerprint\":\"1111222233334444\"},"
        "{\"status\":\"firing\",\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"db2:9100\","
        "\"team\":\"db\"},\"annotations\":{\"summary\":\"disk 97% full\",\"runbook\":\"x\"},"
        "\"startsAt\":\"2026-01-01T00:00:01.000Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
        "\"generatorURL\":\"\",\"fingerprint\":\"aaaabbbbccccdddd\"}],"
        "\"groupLabels\":{\"alertname\":\"DiskFull\",\"team\":\"db\"},"
        "\"commonLabels\":{\"alertname\":\"DiskFull\",\"team\":\"db\"},"
        "\"commonAnnotations\":{\"runbook\":\"x\"},\"externalURL\":\"http://quell:8080\","
        "\"version\":\"4\",\"groupKey\":\"{}/{team=\\\"db\\\"}:{alertname=\\\"DiskFull\\\", "
        "team=\\\"db\\\"}\",\"truncatedAlerts\":0}";
    CHECK_EQ_STR(buf, want);
    CHECK_EQ_INT(len, strlen(want));
    /* max_alerts truncates and says how many were left out. */
    rcv.max_alerts = 1;
    router_format_webhook(buf, sizeof(buf), &rcv, &n);
    cJSON *doc = cJSON_Parse(buf);
    CHECK(doc != NULL);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "alerts")), 1);
    CHECK_EQ_INT(cJSON_GetObjectItem(doc, "truncatedAlerts")->valueint, 1);
    cJSON_Delete(doc);
    /* Too small a buffer: the size needed, like snprintf. */
    char tiny[16];
    CHECK_EQ_INT(router_format_webhook(tiny, sizeof(tiny), &rcv, &n), strlen(buf));
    CHECK_EQ_INT(strlen(tiny), 15);
}

/* The Events API v2 request schema: required fields present, enums kept. */
static void check_pd_schema(const cJSON *schema, const char *body)
{
    cJSON *doc = cJSON_Parse(body);
    CHECK(doc != NULL);
    if (!doc) return;
    const cJSON *req = schema;
    const char *steps[] = {"paths",   "/enqueue",         "post",  "requestBody",
                           "content", "application/json", "schema"};
    for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++)
        req = cJSON_GetObjectItem(req, steps[i]);
    CHECK(req != NULL);
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(req, "required"))
        CHECK(cJSON_GetObjectItem(doc, f->valuestring) != NULL);
    bool found = false;
    cJSON_ArrayForEach(
        f, cJSON_GetObjectItem(
               cJSON_GetObjectItem(cJSON_GetObjectItem(req, "properties"), "event_action"), "enum"))
        found |= !strcmp(f->valuestring, cJSON_GetObjectItem(doc, "event_action")->valuestring);
    CHECK(found);
    const cJSON *payload = cJSON_GetObjectItem(doc, "payload");
    if (payload) {
        const cJSON *ps = cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(schema, "components"), "schemas"), "Payload");
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(ps, "required"))
            CHECK(cJSON_IsString(cJSON_GetObjectItem(payload, f->valuestring)));
        found = false;
        cJSON_ArrayForEach(
            f, cJSON_GetObjectItem(
                   cJSON_GetObjectItem(cJSON_GetObjectItem(ps, "properties"), "severity"), "enum"))
            found |= !strcmp(f->valuestring, cJSON_GetObjectItem(payload, "severity")->valuestring);
        CHECK(found);
        CHECK(strlen(cJSON_GetObjectItem(payload, "summary")->valuestring) <= 1024);
    }
    const cJSON *links = cJSON_GetObjectItem(doc, "links"), *l;
    cJSON_ArrayForEach(l, links) CHECK(cJSON_IsString(cJSON_GetObjectItem(l, "href")));
    cJSON_Delete(doc);
}

static void test_pagerduty(void)
{
    char path[1024];
    if (!CHECK_DATA(path, "payloads/pagerduty/pd-api-schema__events-v2-openapiv3.json")) return;
    char *text = check_read_file(path, NULL);
    CHECK(text != NULL);
    cJSON *schema = cJSON_Parse(text ? text : "{}");
    receiver_t rcv = {.name = "pd", .kind = RECV_PAGERDUTY, .routing_key = "R0UT1NG"};
    route_t route = {.receiver = &rcv};
    notification_t n;
    notify_alert_t na[2];
    alert_t a[2];
    incident_t inc[2];
    sample(&n, na, a, inc, &route, NOTIFY_FIRING);
    char buf[8192];
    router_format_pagerduty(buf, sizeof(buf), &rcv, &n);
    const char *want =
        "{\"routing_key\":\"R0UT1NG\",\"event_action\":\"trigger\","
        "\"dedup_key\":\"quell-0123456789abcdef\",\"payload\":{\"summary\":\"[FIRING:2] DiskFull "
        "team=db: disk 95% "
        "full\",\"timestamp\":\"2026-01-01T00:00:30.000Z\",\"severity\":\"error\","
        "\"source\":\"db1:9100\",\"custom_details\":{\"group_key\":\"{}/{team=\\\"db\\\"}:"
        "{alertname=\\\"DiskFull\\\", team=\\\"db\\\"}\",\"firing\":2,\"resolved\":0,\"folded\":4,"
        "\"novel\":true,\"urgency\":\"high\",\"group_labels\":{\"alertname\":\"DiskFull\","
        "\"team\":\"db\"},\"common_annotations\":{\"runbook\":\"x\"}}},\"client\":\"quell\","
        "\"links\":[{\"href\":\"https://rb/disk\",\"text\":\"Runbook\"}]}";
    CHECK_EQ_STR(buf, want);
    check_pd_schema(schema, buf);

    /* Summary capped at 1024 bytes, cut on a UTF-8 boundary. */
    static char longsum[3000];
    for (size_t i = 0; i + 2 < sizeof(longsum); i += 2) memcpy(longsum + i, "\xc3\xa9", 2);
    an1[0].value = (str_t){longsum, (uint32_t)strlen(longsum)};
    router_format_pagerduty(buf, sizeof(buf), &rcv, &n);
    check_pd_schema(schema, buf);
    cJSON *doc = cJSON_Parse(buf);
    const char *s =
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "payload"), "summary")->valuestring;
    CHECK(strlen(s) <= PAGERDUTY_SUMMARY_MAX && strlen(s) > 1000);
    CHECK(!strcmp(s + strlen(s) - 3, "..."));
    cJSON_Delete(doc);
    an1[0].value = (str_t){"disk 95% full", 13};

    /* SEV1 maps to critical; resolve carries only what resolve needs, with
     * the same dedup_key. */
    inc[1].severity = 1;
    router_format_pagerduty(buf, sizeof(buf), &rcv, &n);
    CHECK(strstr(buf, "\"severity\":\"critical\"") != NULL);
    sample(&n, na, a, inc, &route, NOTIFY_RESOLVED);
    router_format_pagerduty(buf, sizeof(buf), &rcv, &n);
    CHECK_EQ_STR(buf, "{\"routing_key\":\"R0UT1NG\",\"event_action\":\"resolve\","
                      "\"dedup_key\":\"quell-0123456789abcdef\"}");
    check_pd_schema(schema, buf);
    router_format_digest(buf, sizeof(buf), &rcv, 412, "team=\"db\"", T);
    check_pd_schema(schema, buf);
    cJSON_Delete(schema);
    free(text);
}

static void test_slack_jsonl(void)
{
    receiver_t rcv = {.name = "chat", .kind = RECV_SLACK};
    route_t route = {.receiver = &rcv};
    notification_t n;
    notify_alert_t na[2];
    alert_t a[2];
    incident_t inc[2];
    sample(&n, na, a, inc, &route, NOTIFY_FIRING);
    char buf[8192];
    router_format_slack(buf, sizeof(buf), &rcv, &n);
    CHECK_EQ_STR(buf, "{\"text\":\":red_circle: *[FIRING:2] DiskFull* `team=db` :rotating_light: "
                      "high urgency :new: never seen before\\n• db1:9100: disk 95% full\\n• "
                      "db2:9100: disk 97% full\\n4 occurrences folded in · "
                      "<https://rb/disk|Runbook>\"}");
    rcv = (receiver_t){.name = "out", .kind = RECV_STDOUT};
    router_format_jsonl(buf, sizeof(buf), &rcv, &n);
    size_t len = strlen(buf);
    CHECK(len > 0 && buf[len - 1] == '\n');
    CHECK(strncmp(buf,
                  "{\"receiver\":\"out\",\"status\":\"firing\",\"kind\":\"firing\",\"group_id\":"
                  "\"0123456789abcdef\",\"group_key\":",
                  80) == 0);
    cJSON *doc = cJSON_Parse(buf);
    CHECK(doc != NULL);
    const cJSON *al = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "alerts"), 0);
    CHECK_EQ_STR(cJSON_GetObjectItem(al, "runbook_url")->valuestring, "https://rb/disk");
    CHECK_EQ_STR(cJSON_GetObjectItem(al, "severity")->valuestring, "SEV2");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(al, "novel")));
    CHECK_EQ_INT(cJSON_GetObjectItem(al, "count")->valueint, 3);
    cJSON_Delete(doc);
    router_format_digest(buf, sizeof(buf), &rcv, 412, "service=\"x\"", T);
    CHECK_EQ_STR(buf, "{\"receiver\":\"out\",\"status\":\"digest\",\"time\":"
                      "\"2026-01-01T00:00:00.000Z\",\"held_back\":412,\"text\":\"412 more "
                      "notifications for receiver out held back by its rate limit (0 per minute): "
                      "service=\\\"x\\\"\"}\n");
}

static void test_protobuf(void)
{
    receiver_t rcv = {.name = "bus", .kind = RECV_KAFKA, .protobuf = true};
    route_t route = {.receiver = &rcv};
    notification_t n;
    notify_alert_t na[2];
    alert_t a[2];
    incident_t inc[2];
    sample(&n, na, a, inc, &route, NOTIFY_FIRING);
    arena_t ar;
    arena_init(&ar, 4096);
    uint8_t *buf = NULL;
    size_t len = router_format_incident_proto(&ar, &na[0], &buf);
    CHECK(len > 0);
    Quell__V1__Incident *pi = quell__v1__incident__unpack(NULL, len, buf);
    CHECK(pi != NULL);
    if (pi) {
        CHECK_EQ_STR(pi->fingerprint, "1111222233334444");
        CHECK_EQ_STR(pi->incident_id, "1111222233334444-1767225600000");
        CHECK_EQ_STR(pi->kind, "new");
        CHECK_EQ_INT(pi->count, 3);
        CHECK_EQ_INT(pi->alert->n_labels, 3);
        CHECK_EQ_STR(pi->alert->labels[1]->value, "db1:9100");
        CHECK_EQ_STR(pi->alert->annotations[0]->value, "disk 95% full");
        CHECK_EQ_INT(pi->alert->status, QUELL__V1__STATUS__STATUS_FIRING);
        quell__v1__incident__free_unpacked(pi, NULL);
    }
    arena_free(&ar);
}

int main(void)
{
    test_protobuf();
    test_webhook();
    test_pagerduty();
    test_slack_jsonl();
    return check_summary("test_payload");
}
