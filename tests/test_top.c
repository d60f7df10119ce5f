/*
 * `quell top`'s report (app/top.c) from a GET /api/v1/top answer: the
 * rules it suggests are a config `quell check` takes (the loader and the
 * rule compiler accept them), for a flapping group (the noise block) and
 * a group whose alerts lack the grouping label (name=""), two groups
 * whose names would be the same.
 */
#include <cjson/cJSON.h>

#include "../app/app.h"
#include "check.h"

static const char answer[] =
    "{\"by\":[\"alertname\",\"service\"],\"windowed\":true,\"groups\":["
    "{\"labels\":{\"alertname\":\"Flappy\",\"service\":\"db\"},\"occurrences\":20,"
    "\"suppressed\":5,\"incidents\":6,\"flaps\":12,\"fingerprints\":2,\"first_seen_ms\":0},"
    "{\"labels\":{\"alertname\":\"\",\"service\":\"\"},\"occurrences\":9,\"suppressed\":0,"
    "\"incidents\":9,\"flaps\":0,\"fingerprints\":9,\"first_seen_ms\":0},"
    /* Two groups that slug alike: "a-b"/"" and "a"/"b". */
    "{\"labels\":{\"alertname\":\"a-b\",\"service\":\"\"},\"occurrences\":5,\"suppressed\":0,"
    "\"incidents\":5,\"flaps\":0,\"fingerprints\":1,\"first_seen_ms\":0},"
    "{\"labels\":{\"alertname\":\"a\",\"service\":\"b\"},\"occurrences\":4,\"suppressed\":0,"
    "\"incidents\":4,\"flaps\":0,\"fingerprints\":1,\"first_seen_ms\":0}]}";

static void test_suggestion_loads(void)
{
    cJSON *doc = cJSON_Parse(answer);
    CHECK(doc != NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    if (!doc || !f) return;
    top_print_report(f, doc, "1h", "http://127.0.0.1:9095");
    fclose(f);
    cJSON_Delete(doc);
    const char *rules = strstr(text, "\nexclusions:\n");
    CHECK(rules != NULL);
    CHECK(strstr(text, "    threshold: 6\n") != NULL);
    CHECK(strstr(text, "  - name: noisy-a-b\n") && strstr(text, "  - name: noisy-a-b-4\n"));
    CHECK(strstr(text, "      - 'alertname=\"\"'\n      - 'service=\"\"'\n") != NULL);
    if (rules) {
        conf_t c;
        conf_defaults(&c);
        char err[1024] = "";
        ruleset_t *rs = NULL;
        qerr_t rc = conf_load_buffer(&c, "top.yaml", rules + 1, strlen(rules + 1), err, sizeof err);
        if (rc == QERR_OK) rc = ruleset_compile(&c, NULL, NULL, &rs, err, sizeof err);
        if (rc != QERR_OK) fprintf(stderr, "suggested rules refused: %s\n%s", err, rules + 1);
        CHECK_EQ_INT(rc, QERR_OK);
        ruleset_destroy(rs);
        conf_free(&c);
    }
    free(text);
}

int main(void)
{
    test_suggestion_loads();
    return check_summary("test_top");
}
