/* The exact bytes the output topic receives for an incident. */
#include <cjson/cJSON.h>

#include "../router/router_int.h"
#include "check.h"

static void test_time(void)
{
    char t[32];
    time_format_rfc3339(0, t);
    CHECK_EQ_STR(t, "1970-01-01T00:00:00.000Z");
    time_format_rfc3339(1767225600123LL, t);
    CHECK_EQ_STR(t, "2026-01-01T00:00:00.123Z");
    time_format_rfc3339(-1, t);
    CHECK_EQ_STR(t, "1969-12-31T23:59:59.999Z");
}

static void test_incident_bytes(void)
{
    label_t labels[2] = {{{"alertname", 9}, {"DiskFull", 8}}, {{"dev", 3}, {"sda1", 4}}};
    label_t ann[1] = {{{"summary", 7}, {"disk \"sda1\" is\n95%\x01 full", 24}}};
    alert_t a = {.labels = labels,
                 .n_labels = 2,
                 .annotations = ann,
                 .n_annotations = 1,
                 .starts_at_ms = 1767225600000LL,
                 .ends_at_ms = 0,
                 .generator_url = {"http://prom/graph?g0.expr=up", 28},
                 .source = {"", 0},
                 .fingerprint = 0x5ffe595edddd2cfaULL};
    incident_t inc = {.kind = DECISION_FORWARD_NEW,
                      .fingerprint = 0x5ffe595edddd2cfaULL,
                      .count = 1,
                      .first_seen_ms = 1767225600000LL,
                      .last_seen_ms = 1767225600000LL};
    char buf[1024];
    size_t n = router_format_incident_json(buf, sizeof(buf), &a, &inc);
    const char *want =
        "{\"fingerprint\":\"5ffe595edddd2cfa\",\"incident_id\":\"5ffe595edddd2cfa-1767225600000\","
        "\"kind\":\"new\",\"status\":\"firing\","
        "\"labels\":{\"alertname\":\"DiskFull\",\"dev\":\"sda1\"},"
        "\"annotations\":{\"summary\":\"disk \\\"sda1\\\" is\\n95%\\u0001 full\"},"
        "\"starts_at\":\"2026-01-01T00:00:00.000Z\",\"ends_at\":null,"
        "\"generator_url\":\"http://prom/graph?g0.expr=up\",\"source\":\"\",\"count\":1,"
        "\"first_seen\":\"2026-01-01T00:00:00.000Z\",\"last_seen\":\"2026-01-01T00:00:00.000Z\"}";
    CHECK_EQ_STR(buf, want);
    CHECK_EQ_INT(n, strlen(want));
    cJSON *j = cJSON_Parse(buf);
    CHECK(j != NULL);
    CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "annotations"), "summary")->valuestring,
                 "disk \"sda1\" is\n95%\x01 full");
    cJSON_Delete(j);

    /* Resolved incidents say so; a short buffer reports the size needed. */
    inc.kind = DECISION_FORWARD_RESOLVED;
    inc.count = 12;
    char small[40];
    size_t need = router_format_incident_json(small, sizeof(small), &a, &inc);
    CHECK(need >= sizeof(small));
    CHECK_EQ_INT(strlen(small), sizeof(small) - 1);
    char *big = malloc(need + 1);
    CHECK_EQ_INT(router_format_incident_json(big, need + 1, &a, &inc), need);
    CHECK(strstr(big, "\"kind\":\"resolved\",\"status\":\"resolved\"") != NULL);
    CHECK(strstr(big, "\"count\":12,") != NULL);
    free(big);
}

int main(void)
{
    test_time();
    test_incident_bytes();
    return check_summary("format");
}
