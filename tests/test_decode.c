/*
 * Unit tests for ingest/decode.c: every format, every refusal reason, the
 * timestamp parser, the content-type map, and the real payloads under
 * ../shared/data/payloads (Alertmanager bodies must decode, other vendors'
 * bodies must be refused with a reason, never crash).
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/mman.h>

#include "../bench/bench.h"
#include "../core/core.h"
#include "../ingest/ingest.h"
#include "check.h"
#include "quell/v1/alert.pb-c.h"

#define EVENT_MS 1700000000000LL /* 2023-11-14T22:13:20Z */

static arena_t arena;
static char err[512];
static alert_t *alerts;
static size_t n_alerts;

static const ingest_limits_t limits = {
    .max_message_bytes = 1 << 20,
    .max_labels = 64,
    .max_name_bytes = 128,
    .max_value_bytes = 4096,
    .max_annotation_bytes = 4096,
};

static decode_error_t decode_lim(const ingest_limits_t *lim, ingest_format_t fmt, const void *buf,
                                 size_t len)
{
    arena_reset(&arena);
    decode_error_t r =
        ingest_decode(&arena, lim, fmt, buf, len, EVENT_MS, &alerts, &n_alerts, err, sizeof(err));
    CHECK(r == DECODE_OK || err[0] != '\0'); /* every refusal says why */
    return r;
}

static decode_error_t decode_fmt(ingest_format_t fmt, const char *s)
{
    return decode_lim(&limits, fmt, s, strlen(s));
}

static decode_error_t decode(const char *s) { return decode_fmt(INGEST_FORMAT_AUTO, s); }

static int str_eq(str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* The value of label `name`, or NULL. */
static const char *label(const alert_t *a, const char *name)
{
    static char buf[8192];
    for (uint32_t i = 0; i < a->n_labels; i++) {
        if (str_eq(a->labels[i].name, name)) {
            snprintf(buf, sizeof(buf), "%.*s", (int)a->labels[i].value.len, a->labels[i].value.ptr);
            return buf;
        }
    }
    return NULL;
}

static int labels_sorted(const alert_t *a)
{
    for (uint32_t i = 1; i < a->n_labels; i++) {
        str_t p = a->labels[i - 1].name, q = a->labels[i].name;
        uint32_t n = p.len < q.len ? p.len : q.len;
        int r = memcmp(p.ptr, q.ptr, n);
        if (r > 0 || (r == 0 && p.len >= q.len)) return 0;
    }
    return 1;
}

static int err_has(const char *needle)
{
    if (strstr(err, needle)) return 1;
    fprintf(stderr, "  error text \"%s\" lacks \"%s\"\n", err, needle);
    return 0;
}

/* ---- protobuf builders ------------------------------------------------- */

typedef struct {
    const char *name, *value;
} kv_t;

static Quell__V1__Label pb_kv[2][64];
static Quell__V1__Label *pb_kvp[2][64];

static void pb_fill(Quell__V1__Alert *m, const kv_t *l, size_t nl, const kv_t *an, size_t na)
{
    quell__v1__alert__init(m);
    for (size_t i = 0; i < nl; i++) {
        quell__v1__label__init(&pb_kv[0][i]);
        pb_kv[0][i].name = (char *)l[i].name;
        pb_kv[0][i].value = (char *)l[i].value;
        pb_kvp[0][i] = &pb_kv[0][i];
    }
    for (size_t i = 0; i < na; i++) {
        quell__v1__label__init(&pb_kv[1][i]);
        pb_kv[1][i].name = (char *)an[i].name;
        pb_kv[1][i].value = (char *)an[i].value;
        pb_kvp[1][i] = &pb_kv[1][i];
    }
    m->n_labels = nl;
    m->labels = pb_kvp[0];
    m->n_annotations = na;
    m->annotations = pb_kvp[1];
}

static size_t pb_pack(const Quell__V1__Alert *m, uint8_t *out, size_t cap)
{
    size_t n = quell__v1__alert__get_packed_size(m);
    CHECK(n <= cap);
    return n <= cap ? quell__v1__alert__pack(m, out) : 0;
}

/* ---- JSON formats ------------------------------------------------------ */

static void test_json_object(void)
{
    const char *js =
        "{\"labels\":{\"severity\":\"page\",\"alertname\":\"HighLatency\",\"job\":\"api\"},"
        "\"annotations\":{\"summary\":\"p99 \\u00e9 > 1s\",\"runbook\":\"https://r/x\"},"
        "\"startsAt\":\"2023-11-14T22:00:00.123456789Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
        "\"generatorURL\":\"http://prom:9090/graph\",\"source\":\"prometheus\",\"extra\":[1,2]}";
    CHECK_EQ_INT(decode(js), DECODE_OK);
    CHECK_EQ_INT(n_alerts, 1);
    alert_t *a = &alerts[0];
    CHECK_EQ_INT(a->n_labels, 3);
    CHECK(str_eq(a->labels[0].name, "alertname"));
    CHECK(str_eq(a->labels[1].name, "job"));
    CHECK(str_eq(a->labels[2].name, "severity"));
    CHECK_EQ_STR(label(a, "alertname"), "HighLatency");
    CHECK_EQ_INT(a->n_annotations, 2);
    CHECK(str_eq(a->annotations[0].name, "summary")); /* input order */
    CHECK(str_eq(a->annotations[0].value, "p99 \xc3\xa9 > 1s"));
    CHECK(str_eq(a->annotations[1].name, "runbook"));
    CHECK_EQ_INT(a->starts_at_ms, 1699999200123LL);
    CHECK_EQ_INT(a->ends_at_ms, 0);
    CHECK_EQ_INT(a->status, ALERT_FIRING);
    CHECK_EQ_INT(a->event_time_ms, EVENT_MS);
    CHECK_EQ_INT(a->fingerprint, 0);
    CHECK(str_eq(a->generator_url, "http://prom:9090/graph"));
    CHECK(str_eq(a->source, "prometheus"));

    /* Minimal alert: only labels. Same thing forced to JSON. */
    CHECK_EQ_INT(decode_fmt(INGEST_FORMAT_JSON, " \r\n\t{\"labels\":{\"a\":\"b\"}} \n"), DECODE_OK);
    CHECK_EQ_INT(n_alerts, 1);
    CHECK_EQ_INT(alerts[0].n_annotations, 0);
    CHECK_EQ_INT(alerts[0].generator_url.len, 0);
    CHECK_EQ_INT(alerts[0].source.len, 0);
    CHECK_EQ_INT(decode("\xef\xbb\xbf{\"labels\":{\"a\":\"b\"}}"), DECODE_OK); /* UTF-8 BOM */
    /* null means unset everywhere optional */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"annotations\":null,\"startsAt\":null,"
                        "\"endsAt\":null,\"generatorURL\":null,\"status\":null,\"source\":null}"),
                 DECODE_OK);
    CHECK_EQ_INT(alerts[0].starts_at_ms, 0);
}

static void test_json_array_and_webhook(void)
{
    CHECK_EQ_INT(decode("[{\"labels\":{\"a\":\"1\"}},{\"labels\":{\"a\":\"2\"},"
                        "\"status\":\"resolved\"}]"),
                 DECODE_OK);
    CHECK_EQ_INT(n_alerts, 2);
    CHECK_EQ_STR(label(&alerts[1], "a"), "2");
    CHECK_EQ_INT(alerts[1].status, ALERT_RESOLVED);

    CHECK_EQ_INT(decode("[]"), DECODE_OK);
    CHECK_EQ_INT(n_alerts, 0);
    CHECK(alerts == NULL);
    CHECK_EQ_INT(decode("{\"version\":\"4\",\"alerts\":[]}"), DECODE_OK);
    CHECK_EQ_INT(n_alerts, 0);

    const char *v4 =
        "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"X\\\"}\",\"truncatedAlerts\":0,"
        "\"status\":\"resolved\",\"receiver\":\"r\",\"groupLabels\":{\"alertname\":\"X\"},"
        "\"commonLabels\":{\"alertname\":\"X\"},\"commonAnnotations\":{},\"externalURL\":\"http://"
        "am\","
        "\"alerts\":[{\"status\":\"resolved\",\"labels\":{\"alertname\":\"X\",\"i\":\"1\"},"
        "\"annotations\":{},\"startsAt\":\"2023-11-14T21:00:00Z\",\"endsAt\":\"2023-11-14T22:00:"
        "00Z\","
        "\"generatorURL\":\"\",\"fingerprint\":\"0123456789abcdef\"},"
        "{\"status\":\"firing\",\"labels\":{\"alertname\":\"X\",\"i\":\"2\"},\"annotations\":{},"
        "\"startsAt\":\"2023-11-14T21:00:00Z\",\"endsAt\":\"0001-01-01T00:00:00Z\"}]}";
    CHECK_EQ_INT(decode(v4), DECODE_OK);
    CHECK_EQ_INT(n_alerts, 2);
    CHECK_EQ_INT(alerts[0].status, ALERT_RESOLVED);
    CHECK_EQ_INT(alerts[0].ends_at_ms, 1699999200000LL);
    CHECK_EQ_INT(alerts[1].status, ALERT_FIRING);
    CHECK_EQ_STR(label(&alerts[1], "i"), "2");

    /* 2016-17 bodies: no status, no endsAt. */
    CHECK_EQ_INT(decode("{\"alerts\":[{\"labels\":{\"alertname\":\"old\"},"
                        "\"startsAt\":\"2016-10-19T15:03:37.811Z\",\"sendsAt\":\"\"}],"
                        "\"version\":0,\"groupKey\":0}"),
                 DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_FIRING);
    CHECK_EQ_INT(alerts[0].starts_at_ms, 1476889417811LL);
}

static void test_status(void)
{
    /* endsAt set and <= event time: resolved, exactly at endsAt included. */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"endsAt\":\"2023-11-14T22:13:19Z\"}"),
                 DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_RESOLVED);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"endsAt\":\"2023-11-14T22:13:20Z\"}"),
                 DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_RESOLVED);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"endsAt\":\"2023-11-14T22:13:20.001Z\"}"),
                 DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_FIRING);
    /* Alertmanager's zero time is "no end". */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"endsAt\":\"0001-01-01T00:00:00Z\"}"),
                 DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_FIRING);
    /* An explicit status wins over endsAt, both ways. */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"status\":\"firing\","
                        "\"endsAt\":\"2020-01-01T00:00:00Z\"}"),
                 DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_FIRING);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"status\":\"resolved\"}"), DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_RESOLVED);
    /* API v2 gettable alerts carry a status object: derived. */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"status\":{\"state\":\"active\"},"
                        "\"endsAt\":\"2020-01-01T00:00:00Z\"}"),
                 DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_RESOLVED);
}

static void test_labels(void)
{
    /* Bytewise: uppercase before '_' before lowercase; a prefix sorts first. */
    CHECK_EQ_INT(
        decode("{\"labels\":{\"ab\":\"1\",\"a_\":\"2\",\"a\":\"3\",\"B\":\"4\",\"_x\":\"5\","
               "\"Z9\":\"6\"}}"),
        DECODE_OK);
    const char *want[] = {"B", "Z9", "_x", "a", "a_", "ab"};
    CHECK_EQ_INT(alerts[0].n_labels, 6);
    for (int i = 0; i < 6; i++) CHECK(str_eq(alerts[0].labels[i].name, want[i]));

    /* More than 30 labels takes the qsort path. */
    char js[4096];
    size_t o = (size_t)snprintf(js, sizeof(js), "{\"labels\":{");
    for (int i = 50; i > 0; i--)
        o += (size_t)snprintf(js + o, sizeof(js) - o, "%s\"l%02d\":\"v\"", i == 50 ? "" : ",", i);
    snprintf(js + o, sizeof(js) - o, "}}");
    CHECK_EQ_INT(decode(js), DECODE_OK);
    CHECK_EQ_INT(alerts[0].n_labels, 50);
    CHECK(labels_sorted(&alerts[0]));
    CHECK(str_eq(alerts[0].labels[0].name, "l01"));

    /* Empty values are absent labels (Prometheus semantics). */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"x\",\"empty\":\"\",\"z\":\"y\"}}"), DECODE_OK);
    CHECK_EQ_INT(alerts[0].n_labels, 2);
    CHECK(label(&alerts[0], "empty") == NULL);
    CHECK_EQ_STR(label(&alerts[0], "z"), "y");

    /* Valid multi-byte UTF-8 values (2, 3, 4 bytes, U+10FFFF), escapes. */
    CHECK_EQ_INT(decode("{\"labels\":{\"v\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5\xf4\x8f\xbf\xbf"
                        "\\ud83d\\udd25\\\"\\\\\"}}"),
                 DECODE_OK);
    CHECK(str_eq(alerts[0].labels[0].value,
                 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5\xf4\x8f\xbf\xbf\xf0\x9f\x94\xa5\"\\"));
    /* __name__ is a valid name. */
    CHECK_EQ_INT(decode("{\"labels\":{\"__name__\":\"up\"}}"), DECODE_OK);
}

/* ---- protobuf ---------------------------------------------------------- */

static void test_proto(void)
{
    uint8_t buf[4096];
    Quell__V1__Alert m;
    kv_t l[] = {{"severity", "page"}, {"alertname", "Down"}, {"empty", ""}};
    kv_t an[] = {{"summary", "it broke"}};
    pb_fill(&m, l, 3, an, 1);
    m.status = QUELL__V1__STATUS__STATUS_UNSPECIFIED;
    m.starts_at_ms = 1699999000000LL;
    m.ends_at_ms = EVENT_MS - 1;
    m.generator_url = "http://g";
    m.source = "unit";
    size_t n = pb_pack(&m, buf, sizeof(buf));
    CHECK(buf[0] == 0x0a);

    for (int f = 0; f < 2; f++) {
        CHECK_EQ_INT(
            decode_lim(&limits, f ? INGEST_FORMAT_PROTO_ALERT : INGEST_FORMAT_AUTO, buf, n),
            DECODE_OK);
        CHECK_EQ_INT(n_alerts, 1);
        alert_t *a = &alerts[0];
        CHECK_EQ_INT(a->n_labels, 2); /* "empty" dropped */
        CHECK(str_eq(a->labels[0].name, "alertname"));
        CHECK(str_eq(a->labels[1].value, "page"));
        CHECK_EQ_INT(a->n_annotations, 1);
        CHECK(str_eq(a->annotations[0].value, "it broke"));
        CHECK_EQ_INT(a->starts_at_ms, 1699999000000LL);
        CHECK_EQ_INT(a->status, ALERT_RESOLVED); /* derived: ends_at <= event time */
        CHECK(str_eq(a->generator_url, "http://g"));
        CHECK(str_eq(a->source, "unit"));
    }
    m.status = QUELL__V1__STATUS__STATUS_FIRING; /* explicit wins */
    n = pb_pack(&m, buf, sizeof(buf));
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_AUTO, buf, n), DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_FIRING);
    m.status = QUELL__V1__STATUS__STATUS_RESOLVED;
    m.ends_at_ms = 0;
    n = pb_pack(&m, buf, sizeof(buf));
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_AUTO, buf, n), DECODE_OK);
    CHECK_EQ_INT(alerts[0].status, ALERT_RESOLVED);

    /* AlertBatch: AUTO sees tag 0x7a. */
    Quell__V1__AlertBatch b = QUELL__V1__ALERT_BATCH__INIT;
    Quell__V1__Alert *ms[3] = {&m, &m, &m};
    b.alerts = ms;
    b.n_alerts = 3;
    n = quell__v1__alert_batch__get_packed_size(&b);
    CHECK(n < sizeof(buf));
    quell__v1__alert_batch__pack(&b, buf);
    CHECK(buf[0] == 0x7a);
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_AUTO, buf, n), DECODE_OK);
    CHECK_EQ_INT(n_alerts, 3);
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_BATCH, buf, n), DECODE_OK);
    CHECK_EQ_INT(n_alerts, 3);
    CHECK_EQ_STR(label(&alerts[2], "alertname"), "Down");
    b.n_alerts = 0;
    n = quell__v1__alert_batch__get_packed_size(&b);
    CHECK_EQ_INT(n, 0); /* an empty batch packs to nothing */
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_BATCH, buf, n), DECODE_EMPTY);

    /* An Alert whose first label is 123 bytes: 0x0a 0x7b reads as "\n{". AUTO
     * tries JSON, fails, and falls back to protobuf. */
    char big[128];
    memset(big, 'v', sizeof(big));
    big[123 - 2 - 2 - 1] = '\0'; /* name "a" (3 bytes) + value tag/len (2) */
    kv_t l3[] = {{"a", big}};
    pb_fill(&m, l3, 1, NULL, 0);
    n = pb_pack(&m, buf, sizeof(buf));
    CHECK(buf[0] == 0x0a && buf[1] == '{');
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_AUTO, buf, n), DECODE_OK);
    CHECK_EQ_INT(n_alerts, 1);
    CHECK_EQ_STR(label(&alerts[0], "a"), big);
    /* Same lead bytes but not protobuf either: the JSON error is reported. */
    CHECK_EQ_INT(decode("\n{\"labels\":"), DECODE_BAD_JSON);
    CHECK(err_has("JSON"));

    /* Truncation: every prefix is refused or is a shorter valid message. */
    kv_t l4[] = {{"alertname", "Down"}, {"job", "node"}};
    pb_fill(&m, l4, 2, an, 1);
    n = pb_pack(&m, buf, sizeof(buf));
    for (size_t cut = 1; cut < n; cut++) {
        uint8_t *copy = malloc(cut); /* exact size, so ASan sees over-reads */
        memcpy(copy, buf, cut);
        decode_error_t r = decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, copy, cut);
        CHECK(r == DECODE_OK || r == DECODE_BAD_PROTO || r == DECODE_NO_LABELS);
        if (cut == 5) { /* inside the first label's name */
            CHECK_EQ_INT(r, DECODE_BAD_PROTO);
            CHECK(err_has("quell.v1.Alert"));
        }
        free(copy);
    }
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_BATCH, buf, 7), DECODE_BAD_PROTO);

    /* Label checks apply to protobuf too. */
    kv_t bad[] = {{"bad-name", "x"}};
    pb_fill(&m, bad, 1, NULL, 0);
    n = pb_pack(&m, buf, sizeof(buf));
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, buf, n), DECODE_BAD_LABEL_NAME);
    kv_t dup[] = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
    pb_fill(&m, dup, 3, NULL, 0);
    n = pb_pack(&m, buf, sizeof(buf));
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, buf, n), DECODE_DUP_LABEL);
    CHECK(err_has("\"a\""));
    pb_fill(&m, NULL, 0, an, 1);
    n = pb_pack(&m, buf, sizeof(buf));
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, buf, n), DECODE_NO_LABELS);
    kv_t badutf[] = {{"a", "\xed\xa0\x80"}}; /* UTF-8-encoded surrogate */
    pb_fill(&m, badutf, 1, NULL, 0);
    n = pb_pack(&m, buf, sizeof(buf));
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, buf, n), DECODE_BAD_UTF8);

    /* A NUL inside a protobuf string is refused, not truncated at:
     * Alert{labels: [Label{name:"a", value:"x\0y"}]} by hand. */
    const uint8_t nul[] = {0x0a, 0x08, 0x0a, 0x01, 'a', 0x12, 0x03, 'x', 0x00, 'y'};
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, nul, sizeof(nul)), DECODE_BAD_UTF8);
    CHECK(err_has("NUL"));
    const uint8_t ok[] = {0x0a, 0x08, 0x0a, 0x01, 'a', 0x12, 0x03, 'x', 'z', 'y'};
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, ok, sizeof(ok)), DECODE_OK);
    CHECK(str_eq(alerts[0].labels[0].value, "xzy"));

    /* JSON through an explicit protobuf format is refused, not guessed. */
    CHECK_EQ_INT(decode_fmt(INGEST_FORMAT_PROTO_ALERT, "{\"labels\":{\"a\":\"b\"}}"),
                 DECODE_BAD_PROTO);
    /* Garbage that is neither. */
    CHECK_EQ_INT(decode("\xff\xfe garbage"), DECODE_BAD_PROTO);
}

/* The protobuf reader takes the usual label set in one pass
 * (labels_plain) and everything else through the per-label checks: for
 * label sets on both sides of that line, a protobuf alert and its JSON
 * twin give the same verdict, sentence and labels. */
static void test_proto_json_twins(void)
{
    static const ingest_limits_t lim = {1 << 20, 4, 8, 16, 32};
    static const kv_t sets[][5] = {
        {{"a", "1"}, {"b", "2"}, {"c", "3"}},                         /* plain */
        {{"b", "2"}, {"a", "1"}, {"c", "3"}},                         /* unsorted */
        {{"a", "1"}, {"a", "2"}},                                     /* duplicate */
        {{"a", "1"}, {"b", ""}, {"c", "3"}},                          /* an empty value */
        {{"a", ""}},                                                  /* nothing left */
        {{"a", "1"}, {"b-c", "2"}},                                   /* bad name */
        {{"a", "1"}, {"9", "2"}},                                     /* bad first byte */
        {{"a", "1"}, {"longname9", "2"}},                             /* name over 8 */
        {{"a", "1"}, {"b", "0123456789abcdefX"}},                     /* value over 16 */
        {{"a", "1"}, {"b", "x\xc3"}},                                 /* bad UTF-8 */
        {{"a", "\xc3\xa9"}, {"b", "\xf0\x9f\x94\xa5"}},               /* good UTF-8 */
        {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}}, /* 5 > 4 */
        {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", ""}},  /* 4 left */
        {{"B", "1"}, {"_", "2"}, {"a", "3"}, {"aa", "4"}},            /* bytewise order */
    };
    static const kv_t notes[][2] = {
        {{"summary", "s"}},
        {{"", "no name"}},
        {{"summary", "0123456789abcdef0123456789abcdefX"}}, /* over 32 */
        {{"sum\xff", "s"}},
        {{"free text name", "x\xe2\x82"}},
    };
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        for (size_t k = 0; k < sizeof notes / sizeof *notes; k++) {
            kv_t l[5], an[1];
            size_t nl = 0;
            char js[1024];
            size_t o = (size_t)snprintf(js, sizeof js, "{\"labels\":{");
            for (; nl < 5 && sets[i][nl].name; nl++) {
                l[nl] = sets[i][nl];
                o += (size_t)snprintf(js + o, sizeof js - o, "%s\"%s\":\"%s\"", nl ? "," : "",
                                      l[nl].name, l[nl].value);
            }
            an[0] = notes[k][0];
            snprintf(js + o, sizeof js - o, "},\"annotations\":{\"%s\":\"%s\"}}", an[0].name,
                     an[0].value);
            Quell__V1__Alert m;
            uint8_t buf[1024];
            pb_fill(&m, l, nl, an, 1);
            size_t n = pb_pack(&m, buf, sizeof buf);
            decode_error_t rp = decode_lim(&lim, INGEST_FORMAT_PROTO_ALERT, buf, n);
            char perr[512];
            snprintf(perr, sizeof perr, "%s", err);
            size_t pn = n_alerts ? alerts[0].n_labels : 0;
            char plabels[256] = "";
            for (size_t j = 0, po = 0; j < pn; j++)
                po += (size_t)snprintf(
                    plabels + po, sizeof plabels - po, "%.*s=%.*s;",
                    (int)alerts[0].labels[j].name.len, alerts[0].labels[j].name.ptr,
                    (int)alerts[0].labels[j].value.len, alerts[0].labels[j].value.ptr);
            decode_error_t rj = decode_lim(&lim, INGEST_FORMAT_JSON, js, strlen(js));
            char jlabels[256] = "";
            for (size_t j = 0, jo = 0; rj == DECODE_OK && j < alerts[0].n_labels; j++)
                jo += (size_t)snprintf(
                    jlabels + jo, sizeof jlabels - jo, "%.*s=%.*s;",
                    (int)alerts[0].labels[j].name.len, alerts[0].labels[j].name.ptr,
                    (int)alerts[0].labels[j].value.len, alerts[0].labels[j].value.ptr);
            /* JSON checks the UTF-8 of the whole text before any field:
             * there a bad byte anywhere is the refusal, and the protobuf
             * alert's own (its labels come first) need only be one too.
             * Otherwise the same verdict, sentence (but for bad UTF-8's
             * offsets) and labels. */
            bool same = rj == DECODE_BAD_UTF8 && rp != DECODE_BAD_UTF8
                            ? rp != DECODE_OK
                            : rp == rj && (rp == DECODE_BAD_UTF8 || strcmp(perr, err) == 0) &&
                                  strcmp(plabels, jlabels) == 0;
            if (!same)
                fprintf(stderr,
                        "  set %zu, annotation %zu: protobuf %s \"%s\" [%s], JSON %s \"%s\" "
                        "[%s]\n",
                        i, k, decode_error_str(rp), perr, plabels, decode_error_str(rj), err,
                        jlabels);
            CHECK(same);
        }
}

/* ---- refusals ---------------------------------------------------------- */

static void test_errors(void)
{
    /* too_large is checked before anything is parsed. */
    ingest_limits_t small = limits;
    small.max_message_bytes = 16;
    const char *js20 = "{\"labels\":{\"a\":\"b\"}}";
    CHECK_EQ_INT(decode_lim(&small, INGEST_FORMAT_AUTO, js20, strlen(js20)), DECODE_TOO_LARGE);
    CHECK(err_has("message is 20 bytes, limit 16"));
    const char *junk = "\x01\x02\x03 not parsed at all";
    CHECK_EQ_INT(decode_lim(&small, INGEST_FORMAT_PROTO_ALERT, junk, strlen(junk)),
                 DECODE_TOO_LARGE);
    size_t huge = 3u << 20;
    char *h = malloc(huge);
    memset(h, ' ', huge);
    h[0] = '[';
    h[huge - 1] = ']';
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_AUTO, h, huge), DECODE_TOO_LARGE);
    ingest_limits_t unlimited = {0}; /* 0 = no limit */
    CHECK_EQ_INT(decode_lim(&unlimited, INGEST_FORMAT_AUTO, h, huge), DECODE_OK);
    CHECK_EQ_INT(n_alerts, 0);
    free(h);

    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_AUTO, "", 0), DECODE_EMPTY);
    CHECK_EQ_INT(decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, "", 0), DECODE_EMPTY);
    CHECK_EQ_INT(decode(" \n\t\r "), DECODE_EMPTY);
    CHECK_EQ_INT(decode_fmt(INGEST_FORMAT_JSON, "  "), DECODE_EMPTY);

    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"}"), DECODE_BAD_JSON);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"}} trailing"), DECODE_BAD_JSON);
    CHECK(err_has("after the JSON value"));
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\x01\"}}"), DECODE_BAD_JSON); /* raw control byte */
    CHECK(err_has("0x01"));
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\\q\"}}"), DECODE_BAD_JSON);
    CHECK_EQ_INT(decode_fmt(INGEST_FORMAT_JSON, "\x0a\x03\x0a\x01\x61"), DECODE_BAD_JSON);

    CHECK_EQ_INT(decode("\"just a string\""), DECODE_BAD_PROTO); /* AUTO: not { or [ */
    CHECK_EQ_INT(decode_fmt(INGEST_FORMAT_JSON, "\"just a string\""), DECODE_BAD_SHAPE);
    CHECK(err_has("a string"));
    CHECK_EQ_INT(decode("{\"event_action\":\"trigger\"}"), DECODE_BAD_SHAPE);
    CHECK(err_has("neither \"labels\" nor an \"alerts\" array"));
    CHECK_EQ_INT(decode("{\"alerts\":{}}"), DECODE_BAD_SHAPE);
    CHECK_EQ_INT(decode("[{\"labels\":{\"a\":\"b\"}}, 5]"), DECODE_BAD_SHAPE);
    CHECK(err_has("alert 1: is a number"));
    CHECK_EQ_INT(decode("{\"labels\":[\"a\",\"b\"]}"), DECODE_BAD_SHAPE);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":5}}"), DECODE_BAD_SHAPE);
    CHECK(err_has("label \"a\": value is a number, not a string"));
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"annotations\":{\"n\":true}}"),
                 DECODE_BAD_SHAPE);
    CHECK(err_has("annotation \"n\""));
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"annotations\":\"x\"}"), DECODE_BAD_SHAPE);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"status\":\"pending\"}"), DECODE_BAD_SHAPE);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"generatorURL\":7}"), DECODE_BAD_SHAPE);

    CHECK_EQ_INT(decode("{\"labels\":{}}"), DECODE_NO_LABELS);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"\",\"b\":\"\"}}"), DECODE_NO_LABELS);
    CHECK(err_has("empty values"));
    CHECK_EQ_INT(decode("[{\"labels\":{\"a\":\"b\"}},{\"annotations\":{}}]"), DECODE_NO_LABELS);
    CHECK(err_has("alert 1:"));

    char js[8192];
    size_t o = (size_t)snprintf(js, sizeof(js), "{\"labels\":{");
    for (int i = 0; i < 65; i++)
        o += (size_t)snprintf(js + o, sizeof(js) - o, "%s\"l%d\":\"v\"", i ? "," : "", i);
    snprintf(js + o, sizeof(js) - o, "}}");
    CHECK_EQ_INT(decode(js), DECODE_TOO_MANY_LABELS);
    CHECK(err_has("65 labels, limit 64"));

    char name[200];
    memset(name, 'n', 129);
    name[129] = '\0';
    snprintf(js, sizeof(js), "{\"labels\":{\"%s\":\"v\"}}", name);
    CHECK_EQ_INT(decode(js), DECODE_NAME_TOO_LONG);
    CHECK(err_has("is 129 bytes, limit 128"));
    snprintf(js, sizeof(js), "{\"labels\":{\"a\":\"v\"},\"annotations\":{\"%s\":\"v\"}}", name);
    CHECK_EQ_INT(decode(js), DECODE_NAME_TOO_LONG);

    /* The sentence names the alert and the label. */
    char *big = malloc(40000);
    o = (size_t)snprintf(big, 40000, "[");
    for (int i = 0; i < 3; i++)
        o += (size_t)snprintf(big + o, 40000 - o, "{\"labels\":{\"a\":\"%d\"}},", i);
    o += (size_t)snprintf(big + o, 40000 - o, "{\"labels\":{\"a\":\"b\",\"team\":\"");
    memset(big + o, 'x', 5000);
    o += 5000;
    snprintf(big + o, 40000 - o, "\"}}]");
    CHECK_EQ_INT(decode(big), DECODE_VALUE_TOO_LONG);
    CHECK_EQ_STR(err, "alert 3: label \"team\": value is 5000 bytes, limit 4096");
    o = (size_t)snprintf(big, 40000, "{\"labels\":{\"a\":\"b\"},\"annotations\":{\"d\":\"");
    memset(big + o, 'x', 4097);
    snprintf(big + o + 4097, 40000 - o - 4097, "\"}}");
    CHECK_EQ_INT(decode(big), DECODE_VALUE_TOO_LONG);
    CHECK(err_has("annotation \"d\": value is 4097 bytes, limit 4096"));
    free(big);

    /* Strict UTF-8. */
    static const char *bad_utf8[] = {
        "\xff",             /* never valid */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong, 3 bytes */
        "\xf0\x80\x80\xaf", /* overlong, 4 bytes */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xc3",             /* truncated */
        "abc\xe2\x82",      /* truncated at the end */
        "\x80",             /* lone continuation */
        "ok\xc3\x28",       /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(*bad_utf8); i++) {
        snprintf(js, sizeof(js), "{\"labels\":{\"a\":\"%s\"}}", bad_utf8[i]);
        CHECK_EQ_INT(decode(js), DECODE_BAD_UTF8);
        snprintf(js, sizeof(js), "{\"labels\":{\"a\":\"b\"},\"annotations\":{\"k%s\":\"v\"}}",
                 bad_utf8[i]);
        CHECK_EQ_INT(decode(js), DECODE_BAD_UTF8);
    }
    /* The parser validates the whole text, so the sentence gives the
     * offset in the message rather than the field; and invalid UTF-8 in a
     * field quell ignores is refused too (JSON text must be UTF-8). */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"generatorURL\":\"http://\xfe\"}"),
                 DECODE_BAD_UTF8);
    CHECK(err_has("byte 0xfe at byte 43"));
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"groupKey\":\"\xc3\"}"), DECODE_BAD_UTF8);
    /* Numbers: their values are never used, so any JSON number passes where
     * quell ignores it, also beyond 64 bits (real webhook bodies have
     * "groupKey": 43434343434343434343); what is not JSON number syntax is
     * bad JSON, as in Go. */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"k\":[43434343434343434343,-1e999,0.5e-3]}"),
                 DECODE_OK);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"k\":01}"), DECODE_BAD_JSON);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"k\":+1}"), DECODE_BAD_JSON);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"k\":1.}"), DECODE_BAD_JSON);
    CHECK(err_has("number"));
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":18446744073709551616}}"), DECODE_BAD_SHAPE);
    CHECK(err_has("label \"a\": value is a number, not a string"));
    /* A byte order mark is skipped; error offsets still count it. */
    CHECK_EQ_INT(decode("\xef\xbb\xbf{\"labels\":{\"a\":\"b\"}}"), DECODE_OK);
    CHECK_EQ_INT(decode("\xef\xbb\xbf{\"labels\":{\"a\":\"b\"}} x"), DECODE_BAD_JSON);
    CHECK(err_has("after the JSON value at byte 24"));
    /* Nesting: 1,000 levels parse (cJSON's limit, kept), deeper is refused
     * without recursion trouble, however deep. */
    static char deep[2 * 100000 + 64];
    for (int levels = 999; levels <= 100000; levels = levels == 1001 ? 100000 : levels + 1) {
        size_t o2 = (size_t)snprintf(deep, sizeof deep, "{\"labels\":{\"a\":\"b\"},\"x\":");
        memset(deep + o2, '[', (size_t)levels - 1);
        memset(deep + o2 + levels - 1, ']', (size_t)levels - 1);
        snprintf(deep + o2 + 2 * (levels - 1), sizeof deep - o2 - 2 * (levels - 1), "}");
        CHECK_EQ_INT(decode(deep), levels <= 1000 ? DECODE_OK : DECODE_BAD_JSON);
    }
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"x\\u0000y\"}}"), DECODE_BAD_UTF8);
    CHECK(err_has("\\u0000"));
    /* An escaped backslash before "u0000" is text, not an escape. */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"x\\\\u0000y\"}}"), DECODE_OK);
    CHECK_EQ_STR(label(&alerts[0], "a"), "x\\u0000y");
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"\\udc00\"}}"), DECODE_BAD_JSON); /* lone surrogate */

    static const char *bad_names[] = {"1abc", "a-b", "a.b", "", "caf\xc3\xa9", "a b"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++) {
        snprintf(js, sizeof(js), "{\"labels\":{\"ok\":\"1\",\"%s\":\"v\"}}", bad_names[i]);
        CHECK_EQ_INT(decode(js), DECODE_BAD_LABEL_NAME);
    }
    CHECK(err_has("label name \"a b\""));
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"annotations\":{\"\":\"v\"}}"),
                 DECODE_BAD_LABEL_NAME);
    /* Annotation names are free text. */
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"annotations\":{\"Run book!\":\"v\"}}"),
                 DECODE_OK);

    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}"), DECODE_DUP_LABEL);
    CHECK(err_has("label \"a\" appears more than once"));
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"1\",\"a\":\"\"}}"), DECODE_DUP_LABEL);

    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"startsAt\":\"yesterday\"}"), DECODE_BAD_TIME);
    CHECK(err_has("startsAt \"yesterday\""));
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"endsAt\":1700000000}"), DECODE_BAD_TIME);
    CHECK_EQ_INT(decode("{\"labels\":{\"a\":\"b\"},\"endsAt\":\"\"}"), DECODE_BAD_TIME);

    ingest_format_t f;
    CHECK_EQ_INT(ingest_format_from_content_type("text/plain", 10, &f), DECODE_BAD_CONTENT_TYPE);

    /* NULL limits and NULL errbuf are allowed. */
    arena_reset(&arena);
    CHECK_EQ_INT(
        ingest_decode(&arena, NULL, INGEST_FORMAT_AUTO, "{}", 2, 0, &alerts, &n_alerts, NULL, 0),
        DECODE_BAD_SHAPE);
    CHECK_EQ_STR(decode_error_str(DECODE_DUP_LABEL), "duplicate_label");
    CHECK_EQ_STR(decode_error_str(DECODE_BAD_CONTENT_TYPE), "bad_content_type");
    for (int e = 0; e < DECODE__COUNT; e++) CHECK(strcmp(decode_error_str(e), "unknown") != 0);
}

/* ---- timestamps and content types ------------------------------------- */

static void test_time(void)
{
    static const struct {
        const char *s;
        int ok;
        int64_t ms;
    } cases[] = {
        {"2023-11-14T22:13:20Z", 1, 1700000000000LL},
        {"2023-11-14t22:13:20z", 1, 1700000000000LL},
        {"2023-11-14T22:13:20.5Z", 1, 1700000000500LL},
        {"2023-11-14T22:13:20.123456789Z", 1, 1700000000123LL},
        {"2023-11-14T22:13:20.999999999999Z", 1, 1700000000999LL}, /* any length, truncated */
        {"2016-08-01T13:27:08.008+03:00", 1, 1470047228008LL},
        {"2017-01-26T08:31:54.865-05:00", 1, 1485437514865LL},
        {"2018-03-07T06:33:21.873077559-05:00", 1, 1520422401873LL},
        {"2020-10-11T14:34:11.279383004Z", 1, 1602426851279LL},
        {"2000-02-29T23:59:59.999Z", 1, 951868799999LL},
        {"1970-01-01T00:00:00Z", 1, 0},
        {"1969-12-31T23:59:59.500Z", 1, -500},
        {"9999-12-31T23:59:59.999Z", 1, 253402300799999LL},
        {"0001-01-01T00:00:00Z", 1, 0},      /* Go zero time = unset */
        {"0001-01-01T02:00:00+02:00", 1, 0}, /* same instant */
        {"0001-01-01T00:00:00.000000000Z", 1, 0},
        {"2023-02-29T00:00:00Z", 0, 0}, /* not a leap year */
        {"1900-02-29T00:00:00Z", 0, 0},
        {"2023-04-31T00:00:00Z", 0, 0},
        {"2023-13-01T00:00:00Z", 0, 0},
        {"2023-00-01T00:00:00Z", 0, 0},
        {"2023-11-00T00:00:00Z", 0, 0},
        {"2023-11-14T24:00:00Z", 0, 0},
        {"2023-11-14T23:60:00Z", 0, 0},
        {"2023-11-14T23:59:60Z", 0, 0},
        {"2023-11-14T22:13:20", 0, 0},      /* no zone */
        {"2023-11-14T22:13:20+0000", 0, 0}, /* RFC 3339 needs the colon */
        {"2023-11-14T22:13:20+24:00", 0, 0},
        {"2023-11-14T22:13:20+05:60", 0, 0},
        {"2023-11-14T22:13:20.Z", 0, 0},
        {"2023-11-14 22:13:20Z", 0, 0},
        {"2023-11-14T22:13:20Zjunk", 0, 0},
        {"+023-11-14T22:13:20Z", 0, 0},
        {"2023-1a-14T22:13:20Z", 0, 0},
        {"", 0, 0},
        {"2023", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int64_t ms = 12345;
        bool ok = time_parse_rfc3339(cases[i].s, strlen(cases[i].s), &ms);
        if (ok != (bool)cases[i].ok || (ok && ms != cases[i].ms))
            fprintf(stderr, "  time case \"%s\": ok=%d ms=%lld\n", cases[i].s, ok, (long long)ms);
        CHECK_EQ_INT(ok, cases[i].ok);
        if (cases[i].ok) CHECK_EQ_INT(ms, cases[i].ms);
    }
    /* The length bounds the parse: no NUL needed. */
    int64_t ms;
    CHECK(time_parse_rfc3339("2023-11-14T22:13:20Zxxxx", 20, &ms));
    CHECK_EQ_INT(ms, 1700000000000LL);
}

static void test_content_type(void)
{
    static const struct {
        const char *ct;
        decode_error_t r;
        ingest_format_t f;
    } cases[] = {
        {"", DECODE_OK, INGEST_FORMAT_AUTO},
        {"  ", DECODE_OK, INGEST_FORMAT_AUTO},
        {"application/json", DECODE_OK, INGEST_FORMAT_JSON},
        {"Application/JSON; charset=utf-8", DECODE_OK, INGEST_FORMAT_JSON},
        {"text/json", DECODE_OK, INGEST_FORMAT_JSON},
        {"application/vnd.alertmanager.v4+json", DECODE_OK, INGEST_FORMAT_JSON},
        {"application/x-protobuf", DECODE_OK, INGEST_FORMAT_PROTO_ALERT},
        {"application/protobuf", DECODE_OK, INGEST_FORMAT_PROTO_ALERT},
        {"application/x-protobuf; type=quell.v1.Alert", DECODE_OK, INGEST_FORMAT_PROTO_ALERT},
        {"application/x-protobuf;type=quell.v1.AlertBatch", DECODE_OK, INGEST_FORMAT_PROTO_BATCH},
        {"APPLICATION/PROTOBUF ; Type=\"quell.v1.alertbatch\" ", DECODE_OK,
         INGEST_FORMAT_PROTO_BATCH},
        {"application/x-protobuf; charset=binary; type=quell.v1.AlertBatch", DECODE_OK,
         INGEST_FORMAT_PROTO_BATCH},
        {"application/x-protobuf; type=quell.v1.Incident", DECODE_BAD_CONTENT_TYPE, 0},
        {"application/x-protobuf; type=", DECODE_BAD_CONTENT_TYPE, 0},
        {"text/plain", DECODE_BAD_CONTENT_TYPE, 0},
        {"application/octet-stream", DECODE_BAD_CONTENT_TYPE, 0},
        {"application/jsonx", DECODE_BAD_CONTENT_TYPE, 0},
        {"+json", DECODE_BAD_CONTENT_TYPE, 0},
        {"/+json", DECODE_BAD_CONTENT_TYPE, 0},
        {"application/+json", DECODE_BAD_CONTENT_TYPE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        ingest_format_t f = (ingest_format_t)99;
        decode_error_t r = ingest_format_from_content_type(cases[i].ct, strlen(cases[i].ct), &f);
        if (r != cases[i].r) fprintf(stderr, "  content-type case \"%s\"\n", cases[i].ct);
        CHECK_EQ_INT(r, cases[i].r);
        if (cases[i].r == DECODE_OK) CHECK_EQ_INT(f, cases[i].f);
    }
    ingest_format_t f = INGEST_FORMAT_JSON;
    CHECK_EQ_INT(ingest_format_from_content_type(NULL, 0, &f), DECODE_OK);
    CHECK_EQ_INT(f, INGEST_FORMAT_AUTO);
    /* The header value is a byte range, not a C string. */
    CHECK_EQ_INT(ingest_format_from_content_type("application/jsonGARBAGE", 16, &f), DECODE_OK);
    CHECK_EQ_INT(f, INGEST_FORMAT_JSON);

    /* The mapped format drives decoding: a protobuf header on JSON bytes. */
    const char *js = "{\"labels\":{\"a\":\"b\"}}";
    const char *ct = "application/x-protobuf; type=quell.v1.Alert";
    CHECK_EQ_INT(ingest_format_from_content_type(ct, strlen(ct), &f), DECODE_OK);
    CHECK_EQ_INT(decode_fmt(f, js), DECODE_BAD_PROTO);
    ct = "application/json";
    CHECK_EQ_INT(ingest_format_from_content_type(ct, strlen(ct), &f), DECODE_OK);
    CHECK_EQ_INT(decode_fmt(f, js), DECODE_OK);
}

/* ---- real payloads ----------------------------------------------------- */

/* Alerts a body holds, counted independently with plain cJSON. -1 when the
 * body is not a Prometheus shape at all. */
static int count_alerts(const char *buf)
{
    cJSON *root = cJSON_Parse(buf);
    int n = -1;
    if (cJSON_IsArray(root)) {
        n = cJSON_GetArraySize(root);
    } else if (cJSON_IsObject(root)) {
        cJSON *alerts_item = cJSON_GetObjectItemCaseSensitive(root, "alerts");
        if (cJSON_GetObjectItemCaseSensitive(root, "labels"))
            n = 1;
        else if (cJSON_IsArray(alerts_item))
            n = cJSON_GetArraySize(alerts_item);
    }
    cJSON_Delete(root);
    return n;
}

static int run_dir(const char *sub, int prometheus)
{
    char dir[1024], path[2048], rel[256];
    snprintf(rel, sizeof(rel), "payloads/%s", sub);
    if (!CHECK_DATA(dir, rel)) return -1;
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return 0;
    ingest_limits_t wide = limits;
    wide.max_annotation_bytes = 64 * 1024; /* prometheus_bot__big_output has > 4 KiB */
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        size_t len = 0;
        char *buf = check_read_file(path, &len);
        CHECK(buf != NULL);
        if (!buf) continue;
        files++;
        int want = count_alerts(buf);
        decode_error_t r = decode_lim(&wide, INGEST_FORMAT_AUTO, buf, len);
        if (prometheus) {
            if (r != DECODE_OK || (int)n_alerts != want)
                fprintf(stderr, "  %s: %s (%s), %zu alerts, want %d\n", de->d_name,
                        decode_error_str(r), err, n_alerts, want);
            CHECK_EQ_INT(r, DECODE_OK);
            CHECK_EQ_INT(n_alerts, want);
            CHECK(want > 0);
            for (size_t i = 0; r == DECODE_OK && i < n_alerts; i++) {
                CHECK(alerts[i].n_labels > 0);
                CHECK(labels_sorted(&alerts[i]));
                CHECK(label(&alerts[i], "alertname") != NULL);
                CHECK(alerts[i].starts_at_ms == 0 || alerts[i].starts_at_ms > 1400000000000LL);
            }
            /* The same bytes forced to JSON decode the same. */
            CHECK_EQ_INT(decode_lim(&wide, INGEST_FORMAT_JSON, buf, len), DECODE_OK);
        } else if (want < 0) {
            if (r != DECODE_BAD_SHAPE)
                fprintf(stderr, "  %s: %s (%s)\n", de->d_name, decode_error_str(r), err);
            CHECK_EQ_INT(r, DECODE_BAD_SHAPE);
            CHECK(err_has("not a Prometheus alert"));
        } else {
            CHECK(r != DECODE_OK || (int)n_alerts == want);
        }
        free(buf);
    }
    closedir(d);
    return files;
}

static void test_payloads(void)
{
    if (run_dir("alertmanager", 1) < 0) return; /* no shared data: skipped */
    CHECK(run_dir("alertmanager", 1) >= 11);
    CHECK(run_dir("pagerduty", 0) > 0);
    CHECK(run_dir("datadog", 0) > 0);
    CHECK(run_dir("grafana", 0) > 0);
    CHECK(run_dir("other", 0) > 0);

    /* Specific bodies: offsets, nanoseconds, old format, the big annotation. */
    char path[1024];
    size_t len;
    ingest_limits_t wide = limits;
    wide.max_annotation_bytes = 64 * 1024;
    CHECK_DATA(path, "payloads/alertmanager/alerta__prometheus_v3_alert.json");
    char *buf = check_read_file(path, &len);
    if (buf && decode_lim(&limits, INGEST_FORMAT_AUTO, buf, len) == DECODE_OK) {
        CHECK_EQ_INT(alerts[0].starts_at_ms, 1470047228008LL);
        CHECK_EQ_INT(alerts[0].ends_at_ms, 0);
        CHECK_EQ_INT(alerts[0].n_labels, 9);
        CHECK(str_eq(alerts[0].labels[0].name, "__name__"));
    } else {
        CHECK(0);
    }
    free(buf);
    CHECK_DATA(path,
               "payloads/alertmanager/prometheus-msteams__card-grafana-inspired-payload.json");
    buf = check_read_file(path, &len);
    CHECK(buf && decode_lim(&limits, INGEST_FORMAT_AUTO, buf, len) == DECODE_OK);
    if (buf) CHECK_EQ_INT(alerts[0].starts_at_ms, 1602426851279LL);
    free(buf);
    CHECK_DATA(path, "payloads/alertmanager/prometheus_bot__noGenURL.json");
    buf = check_read_file(path, &len);
    CHECK(buf && decode_lim(&limits, INGEST_FORMAT_AUTO, buf, len) == DECODE_OK);
    if (buf) {
        CHECK_EQ_INT(n_alerts, 8);
        CHECK_EQ_INT(alerts[0].status, ALERT_FIRING); /* no status, no endsAt */
        CHECK_EQ_INT(alerts[0].ends_at_ms, 0);
        CHECK_EQ_INT(alerts[0].generator_url.len, 0);
        CHECK_EQ_INT(alerts[7].generator_url.len > 0, 1);
    }
    free(buf);
    CHECK_DATA(path, "payloads/alertmanager/prometheus_bot__big_output.json");
    buf = check_read_file(path, &len);
    CHECK(buf && decode_lim(&limits, INGEST_FORMAT_AUTO, buf, len) == DECODE_VALUE_TOO_LONG);
    CHECK(err_has("alert 0: annotation \"summary\": value is"));
    CHECK(buf && decode_lim(&wide, INGEST_FORMAT_AUTO, buf, len) == DECODE_OK);
    if (buf) CHECK(alerts[0].annotations[0].value.len > 4096);
    free(buf);
}

/* Decoding reuses the arena's chunks: many messages, one arena. */
static void test_arena_reuse(void)
{
    const char *js =
        "{\"alerts\":[{\"labels\":{\"a\":\"1\",\"b\":\"2\"}},{\"labels\":{\"c\":\"3\"}}]}";
    for (int i = 0; i < 10000; i++) {
        if (decode(js) != DECODE_OK || n_alerts != 2) {
            CHECK(0);
            break;
        }
    }
}

/* Decoders on several threads at once, each with its own arena (and its
 * own simdjson parser). Meanwhile the main thread uses cJSON the ordinary
 * way, as other modules do. */
static void *decode_thread(void *arg)
{
    long id = (long)arg, bad = 0;
    arena_t a;
    arena_init(&a, 4096);
    char js[128], e[256];
    snprintf(js, sizeof(js),
             "[{\"labels\":{\"t\":\"%ld\",\"a\":\"x\"}},{\"labels\":{\"t\":\"%ld\"}}]", id, id);
    for (int i = 0; i < 5000; i++) {
        alert_t *out;
        size_t n;
        arena_reset(&a);
        if (ingest_decode(&a, &limits, INGEST_FORMAT_AUTO, js, strlen(js), EVENT_MS, &out, &n, e,
                          sizeof(e)) != DECODE_OK ||
            n != 2 || out[1].n_labels != 1 ||
            (long)strtol(out[1].labels[0].value.ptr, NULL, 10) != id)
            bad++;
    }
    arena_free(&a);
    return (void *)bad;
}

static void test_threads(void)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, decode_thread, (void *)i) == 0);
    for (int i = 0; i < 2000; i++) CHECK_EQ_INT(count_alerts("{\"alerts\":[{},{}]}"), 2);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        CHECK_EQ_INT((long)bad, 0);
    }
}

/* The wire reader against protobuf-c's generated unpacker, on quell gen's
 * storms and on mutations of them (bit flips, truncations, spliced bytes,
 * batches): protobuf-c refuses exactly what decodes as bad_proto, and what
 * both accept carries the same labels, annotations, times and status. */
static bool same_str(str_t s, const char *c)
{
    return c && strlen(c) == s.len && memcmp(s.ptr, c, s.len) == 0;
}

static void differential_one(const uint8_t *buf, size_t len, bool batch, uint64_t *agreed,
                             uint64_t *refused)
{
    ProtobufCMessage *m = batch ? (ProtobufCMessage *)quell__v1__alert_batch__unpack(NULL, len, buf)
                                : (ProtobufCMessage *)quell__v1__alert__unpack(NULL, len, buf);
    decode_error_t r =
        decode_lim(NULL, batch ? INGEST_FORMAT_PROTO_BATCH : INGEST_FORMAT_PROTO_ALERT, buf, len);
    CHECK_EQ_INT(m == NULL, r == DECODE_BAD_PROTO);
    if (m && r == DECODE_OK) {
        Quell__V1__Alert *single = batch ? NULL : (Quell__V1__Alert *)m, **as = &single;
        size_t n = 1;
        if (batch)
            as = ((Quell__V1__AlertBatch *)m)->alerts, n = ((Quell__V1__AlertBatch *)m)->n_alerts;
        CHECK_EQ_INT(n, n_alerts);
        for (size_t i = 0; i < n && i < n_alerts; i++) {
            const alert_t *a = &alerts[i];
            size_t kept = 0;
            for (size_t k = 0; k < as[i]->n_labels; k++) {
                bool found = false;
                for (uint32_t j = 0; j < a->n_labels; j++)
                    found |= same_str(a->labels[j].name, as[i]->labels[k]->name) &&
                             same_str(a->labels[j].value, as[i]->labels[k]->value);
                kept += *as[i]->labels[k]->value != '\0';
                CHECK(found || *as[i]->labels[k]->value == '\0');
            }
            CHECK_EQ_INT(kept, a->n_labels);
            CHECK_EQ_INT(as[i]->n_annotations, a->n_annotations);
            for (size_t k = 0; k < as[i]->n_annotations && k < a->n_annotations; k++)
                CHECK(same_str(a->annotations[k].name, as[i]->annotations[k]->name) &&
                      same_str(a->annotations[k].value, as[i]->annotations[k]->value));
            CHECK(same_str(a->generator_url, as[i]->generator_url));
            CHECK(a->starts_at_ms == as[i]->starts_at_ms && a->ends_at_ms == as[i]->ends_at_ms);
            if (as[i]->status == 1) CHECK_EQ_INT(a->status, ALERT_FIRING);
            if (as[i]->status == 2) CHECK_EQ_INT(a->status, ALERT_RESOLVED);
        }
        (*agreed)++;
    }
    *refused += r == DECODE_BAD_PROTO;
    if (m) protobuf_c_message_free_unpacked(m, NULL);
}

static void test_proto_differential(void)
{
    gen_opts_t o;
    gen_opts_defaults(&o);
    o.alerts = 3000;
    o.format = GEN_PROTO;
    o.flood_share = 0.3;
    o.transient_share = 0.1;
    o.excluded_share = 0.1;
    char e[256];
    gen_t *g = gen_new(&o, e, sizeof e);
    const void *msg;
    size_t len;
    uint64_t rng = 12345, agreed = 0, refused = 0;
    static uint8_t buf[1 << 16], batch[1 << 17];
    size_t batch_len = 0;
    while (g && gen_next(g, &msg, &len, NULL, NULL)) {
        if (len > sizeof buf / 2) continue;
        differential_one(msg, len, false, &agreed, &refused);
        for (int k = 0; k < 4; k++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t m = len, at = (rng >> 33) % len;
            memcpy(buf, msg, len);
            switch ((rng >> 20) % 4) {
            case 0: buf[at] ^= (uint8_t)(1u << ((rng >> 8) % 8)); break;
            case 1: m = at; break;
            case 2: buf[at] = (uint8_t)(rng >> 40); break;
            case 3: /* a varint-looking run or a wild tag spliced in */
                memmove(buf + at + 3, buf + at, len - at);
                memcpy(buf + at, (rng >> 12) & 1 ? "\xff\xff\x7f" : "\x3a\x02\x0a", 3);
                m = len + 3;
                break;
            }
            differential_one(buf, m, false, &agreed, &refused);
        }
        /* AlertBatch: field 15, length-delimited, a few alerts at a time. */
        if (batch_len + len + 8 < sizeof batch) {
            batch[batch_len++] = 0x7a;
            for (size_t v = len;; v >>= 7) {
                batch[batch_len++] = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
                if (v < 0x80) break;
            }
            memcpy(batch + batch_len, msg, len);
            batch_len += len;
        }
        if (batch_len > 4000) {
            differential_one(batch, batch_len, true, &agreed, &refused);
            differential_one(batch, batch_len - 1, true, &agreed, &refused);
            batch_len = 0;
        }
    }
    gen_destroy(g);
    /* Around the reader's 64 remembered pairs: at, just over and far over,
     * the reader walking the alert a second time past it. */
    static char names[2][64][8];
    kv_t kv[2][64];
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 64; i++) {
            snprintf(names[w][i], sizeof names[w][i], "%c%02d", w ? 'd' : 'l', i);
            kv[w][i] = (kv_t){names[w][i], names[w][63 - i]};
        }
    const size_t shapes[][2] = {{40, 24}, {41, 24}, {64, 64}, {1, 63}, {64, 1}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        Quell__V1__Alert m;
        pb_fill(&m, kv[0], shapes[k][0], kv[1], shapes[k][1]);
        size_t n = pb_pack(&m, buf, sizeof buf);
        uint64_t before = agreed;
        differential_one(buf, n, false, &agreed, &refused);
        CHECK(agreed == before + 1);
        CHECK_EQ_INT(n_alerts, 1);
        CHECK_EQ_INT(alerts[0].n_labels, shapes[k][0]);
        CHECK_EQ_INT(alerts[0].n_annotations, shapes[k][1]);
    }
    /* Timestamps of every varint length, 1 to 10 bytes, read from a word
     * or byte by byte: in the middle of the alert (a label follows) and as
     * its last field, and cut short by one byte. */
    kv_t one = {"alertname", "VarintLengths"};
    for (int bits = 0; bits <= 64; bits++) {
        for (int minus = 0; minus < 2; minus++) {
            uint64_t v = bits == 64 ? UINT64_MAX : (1ull << bits) - (uint64_t)minus;
            if (v == 0) continue; /* proto3 leaves a zero out */
            Quell__V1__Alert m;
            pb_fill(&m, &one, 1, NULL, 0);
            m.starts_at_ms = (int64_t)v;
            size_t n = pb_pack(&m, buf, sizeof buf); /* labels first, then field 4 */
            uint64_t before = agreed;
            differential_one(buf, n, false, &agreed, &refused);
            CHECK(agreed == before + 1);
            CHECK(n_alerts == 1 && (uint64_t)alerts[0].starts_at_ms == v);
            /* field 4 first, then the label */
            size_t hdr = 0;
            uint8_t moved[64];
            moved[hdr++] = 0x20;
            for (uint64_t x = v;; x >>= 7) {
                moved[hdr++] = (uint8_t)(x >= 0x80 ? (x & 0x7f) | 0x80 : x);
                if (x < 0x80) break;
            }
            size_t label_len = n - hdr; /* the label field, as pb_pack wrote it */
            memcpy(moved + hdr, buf, label_len);
            before = agreed;
            differential_one(moved, hdr + label_len, false, &agreed, &refused);
            CHECK(agreed == before + 1);
            CHECK(n_alerts == 1 && (uint64_t)alerts[0].starts_at_ms == v);
            uint64_t refused_before = refused;
            differential_one(buf, n - 1, false, &agreed, &refused); /* truncated varint */
            CHECK(refused == refused_before + 1);
        }
    }
    fprintf(stderr,
            "decode: protobuf reader agrees with protobuf-c: %llu accepted alike, %llu "
            "refused alike\n",
            (unsigned long long)agreed, (unsigned long long)refused);
    CHECK(agreed > 3000 && refused > 1000);
}

/* Every offset of annotation values of every length up to 70, so each path
 * of the UTF-8 check (16-byte blocks read past the value inside the
 * message, 32 and 16 bytes at a time, 8 at a time, the tail) meets the bad
 * byte: a lone continuation byte and a NUL are refused wherever they are,
 * and a two-byte character straddling any boundary is accepted. By hand:
 * Alert{labels: [a="x"], annotations: [d=V]}, then, in half the runs, a
 * generatorURL holding "é" within 16 bytes of V's end, which the blocks
 * read past V must not count. */
static void test_utf8_every_offset(void)
{
    static const uint8_t url[] = {0x32, 20,  'h', 't', 't', 'p', ':', '/', 0xc3, 0xa9, 'x',
                                  'x',  'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x',  'x',  'x'};
    uint8_t msg[8 + 7 + 127 + sizeof(url)];
    int wrong = 0, runs = 0;
    for (int with_url = 0; with_url < 2; with_url++) {
        for (size_t vlen = 1; vlen <= 70; vlen++) {
            const uint8_t head[] = {0x0a,         0x06,
                                    0x0a,         0x01,
                                    'a',          0x12,
                                    0x01,         'x', /* a="x" */
                                    0x12,         (uint8_t)(3 + 2 + vlen),
                                    0x0a,         0x01,
                                    'd',          0x12,
                                    (uint8_t)vlen};
            memcpy(msg, head, sizeof(head));
            uint8_t *v = msg + sizeof(head);
            size_t len = sizeof(head) + vlen;
            if (with_url) {
                memcpy(msg + len, url, sizeof(url));
                len += sizeof(url);
            }
            for (size_t at = 0; at < vlen; at++) {
                memset(v, 'a', vlen);
                v[at] = 0x80;
                wrong +=
                    decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, msg, len) != DECODE_BAD_UTF8;
                v[at] = 0x00;
                wrong +=
                    decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, msg, len) != DECODE_BAD_UTF8;
                if (at + 1 < vlen) {
                    v[at] = 0xc3; /* U+00E9 */
                    v[at + 1] = 0xa9;
                    wrong += decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, msg, len) != DECODE_OK;
                    v[at + 1] = 'a'; /* a lead byte without its continuation */
                    wrong +=
                        decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, msg, len) != DECODE_BAD_UTF8;
                }
                runs++;
            }
            memset(v, 'a', vlen);
            wrong += decode_lim(&limits, INGEST_FORMAT_PROTO_ALERT, msg, len) != DECODE_OK;
        }
    }
    CHECK(runs > 4000);
    CHECK_EQ_INT(wrong, 0);
}

/* The byte after a Kafka value: a v2 record's header count. 0 says no
 * headers; anything else, or no byte that may be read, asks librdkafka. */
static void test_may_have_headers(void)
{
    /* value "abc", then header counts 0, 1 (zigzag 2), -1 (zigzag 1) */
    static const unsigned char none[] = {'a', 'b', 'c', 0x00, 0x7f};
    static const unsigned char one[] = {'a', 'b', 'c', 0x02, 0x00};
    static const unsigned char null_hdrs[] = {'a', 'b', 'c', 0x01};
    CHECK(!ingest_may_have_headers(none, 3));
    CHECK(ingest_may_have_headers(one, 3));
    CHECK(ingest_may_have_headers(null_hdrs, 3));
    CHECK(ingest_may_have_headers(none, 0)); /* no value: ask */
    CHECK(ingest_may_have_headers(NULL, 0));
    /* A value ending on a page boundary: the next page is never read (here
     * it is unreadable, so a read would crash the test). */
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *two =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(two != MAP_FAILED);
    if (two == MAP_FAILED) return;
    CHECK(mprotect(two + page, (size_t)page, PROT_NONE) == 0);
    memset(two, 0, (size_t)page);
    unsigned char *value = two + page - 3;
    CHECK(ingest_may_have_headers(value, 3));
    CHECK(!ingest_may_have_headers(value - 1, 3)); /* the 0 after it is on its page */
    two[page - 1] = 2;
    CHECK(ingest_may_have_headers(value - 1, 3));
    munmap(two, (size_t)page * 2);
}

int main(void)
{
    arena_init(&arena, 64 * 1024);
    test_proto_differential();
    test_proto_json_twins();
    test_utf8_every_offset();
    test_json_object();
    test_json_array_and_webhook();
    test_status();
    test_labels();
    test_proto();
    test_errors();
    test_time();
    test_content_type();
    test_may_have_headers();
    test_payloads();
    test_arena_reuse();
    test_threads();
    arena_free(&arena);
    return check_summary("decode");
}
