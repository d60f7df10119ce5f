/*
 * The operator pieces in process: the Prometheus exposition (escaping,
 * cumulative histogram), the noisy-alert sketch against exact counts, the
 * constant-time token comparison, the PagerDuty event conversion, and the
 * HTTP server's routing, token and size limits on a loopback port.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../dedup/dedup.h"
#include "../ingest/ingest.h"
#include "check.h"

static void test_exposition(void)
{
    mbuf_t b;
    mbuf_init(&b);
    metrics_family(&b, "quell_x_total", "counter", "Things.");
    metrics_sample(&b, "quell_x_total", 42, 2, "reason", "excluded:a \"b\"\\c\nd", "k", "v");
    metrics_sample(&b, "quell_x_total", 0.5, 0);
    CHECK_EQ_STR(b.buf, "# HELP quell_x_total Things.\n# TYPE quell_x_total counter\n"
                        "quell_x_total{reason=\"excluded:a \\\"b\\\"\\\\c\\nd\",k=\"v\"} 42\n"
                        "quell_x_total 0.5\n");
    mbuf_free(&b);

    /* bench's log-linear hist_t in ns, exposed in seconds with
     * Prometheus-style bounds; merged from two "workers". */
    hist_t *h = malloc(sizeof(*h)), *sum = malloc(sizeof(*sum));
    hist_init(h);
    hist_init(sum);
    hist_record(h, 3000000);      /* 3 ms */
    hist_record(h, 700000000);    /* 700 ms */
    hist_record(h, 999000000000); /* 999 s: above every bound */
    hist_merge(sum, h);
    hist_merge(sum, h);
    metrics_histogram(&b, "quell_lat_seconds", "Latency.", sum);
    CHECK(strstr(b.buf, "# TYPE quell_lat_seconds histogram\n") != NULL);
    CHECK(strstr(b.buf, "quell_lat_seconds_bucket{le=\"0.001\"} 0\n") != NULL);
    CHECK(strstr(b.buf, "quell_lat_seconds_bucket{le=\"0.005\"} 2\n") != NULL);
    CHECK(strstr(b.buf, "quell_lat_seconds_bucket{le=\"0.5\"} 2\n") != NULL);
    CHECK(strstr(b.buf, "quell_lat_seconds_bucket{le=\"1\"} 4\n") != NULL);
    CHECK(strstr(b.buf, "quell_lat_seconds_bucket{le=\"300\"} 4\n") != NULL);
    CHECK(strstr(b.buf, "quell_lat_seconds_bucket{le=\"+Inf\"} 6\n") != NULL);
    CHECK(strstr(b.buf, "quell_lat_seconds_count 6\n") != NULL);
    free(h);
    free(sum);
    mbuf_free(&b);

    metrics_reload_t r0, r1;
    metrics_reload_get(&r0);
    metrics_note_reload(false);
    metrics_note_reload(true);
    metrics_reload_get(&r1);
    CHECK_EQ_INT(r1.ok - r0.ok, 1);
    CHECK_EQ_INT(r1.failed - r0.failed, 1);
    CHECK(r1.last_was_ok && r1.last_ok_ms > 0);
}

/* A skewed stream over many fingerprints: the heavy hitters must be held,
 * with counts no lower than exact and over by at most their error. */
static void test_sketch(void)
{
    enum { K = 64, N_FP = 5000, N = 200000 };
    top_sketch_t *s = top_sketch_new(K);
    uint64_t *exact = calloc(N_FP, sizeof(uint64_t));
    uint64_t rng = 88172645463325252ULL;
    char name[16];
    label_t l = {{"alertname", 9}, {name, 0}};
    for (int i = 0; i < N; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        /* 5 hot fingerprints take half the stream. */
        uint64_t fp = (rng & 1) ? rng % 5 : 5 + (rng >> 8) % (N_FP - 5);
        exact[fp]++;
        l.value.len = (uint32_t)snprintf(name, sizeof(name), "A%llu", (unsigned long long)fp);
        alert_t a = {.labels = &l,
                     .n_labels = 1,
                     .fingerprint = fp + 1,
                     .status = (i % 7 == 0) ? ALERT_RESOLVED : ALERT_FIRING};
        top_sketch_add(s, &a, (i & 3) ? DECISION_SUPPRESS_DUPLICATE : DECISION_FORWARD_NEW, i);
    }
    top_entry_t *out = calloc(K, sizeof(*out));
    size_t n = top_sketch_copy(s, out, K);
    CHECK_EQ_INT(n, K);
    int hot_found = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t fp = out[i].fingerprint - 1;
        total += out[i].count;
        CHECK(out[i].count >= exact[fp]);
        CHECK(out[i].count - out[i].error <= exact[fp]);
        if (fp < 5) {
            hot_found++;
            size_t vl;
            const char *v = top_entry_label(&out[i], "alertname", &vl);
            char want[16];
            snprintf(want, sizeof(want), "A%llu", (unsigned long long)fp);
            CHECK(v && vl == strlen(want) && memcmp(v, want, vl) == 0);
            CHECK_EQ_INT(out[i].error, 0); /* held from its first occurrence */
            CHECK(out[i].suppressed > 0 && out[i].incidents > 0 && out[i].flaps > 0);
        }
    }
    CHECK_EQ_INT(hot_found, 5);
    CHECK_EQ_INT(total, N); /* space-saving keeps the stream's total */
    free(out);
    free(exact);
    top_sketch_destroy(s);
}

/* Per-window counts over a driven clock: 5-minute buckets, 2 hours. */
static void test_sketch_window(void)
{
    const int64_t M = 60 * 1000, T0 = 1000LL * 24 * 3600 * 1000; /* a bucket boundary */
    top_sketch_t *s = top_sketch_new(8);
    label_t l = {{"alertname", 9}, {"A", 1}};
    alert_t a = {.labels = &l, .n_labels = 1, .fingerprint = 42, .status = ALERT_FIRING};
    /* 10 at T0 (1 new, 9 duplicates), 5 at T0+30m, 3 at T0+100m with one
     * flap, 1 late one from before T0 (totals only if older than 2 h). */
    for (int i = 0; i < 10; i++)
        top_sketch_add(s, &a, i ? DECISION_SUPPRESS_DUPLICATE : DECISION_FORWARD_NEW, T0 + i);
    for (int i = 0; i < 5; i++) top_sketch_add(s, &a, DECISION_SUPPRESS_DUPLICATE, T0 + 30 * M);
    a.status = ALERT_RESOLVED;
    top_sketch_add(s, &a, DECISION_FORWARD_RESOLVED, T0 + 100 * M);
    a.status = ALERT_FIRING;
    top_sketch_add(s, &a, DECISION_FORWARD_NEW, T0 + 100 * M + 1);
    top_sketch_add(s, &a, DECISION_SUPPRESS_DUPLICATE, T0 + 101 * M);
    top_sketch_add(s, &a, DECISION_SUPPRESS_DUPLICATE, T0 - 130 * M); /* too late for buckets */
    top_entry_t e;
    CHECK_EQ_INT(top_sketch_copy(s, &e, 1), 1);
    top_counts_t c;
    int64_t now = T0 + 102 * M;
    top_entry_window(&e, now, 5 * M, &c); /* bucket of T0+100m..105m */
    CHECK(c.windowed);
    CHECK_EQ_INT(c.count, 3);
    CHECK_EQ_INT(c.incidents, 1);
    CHECK_EQ_INT(c.flaps, 2);
    CHECK_EQ_INT(c.suppressed, 1);
    top_entry_window(&e, now, 75 * M, &c); /* from T0+30m */
    CHECK_EQ_INT(c.count, 8);
    top_entry_window(&e, now, 2 * 60 * M, &c); /* everything in the ring */
    CHECK_EQ_INT(c.count, 18);
    CHECK_EQ_INT(c.suppressed, 15);
    CHECK_EQ_INT(c.incidents, 2);
    top_entry_window(&e, now, 3 * 60 * M, &c); /* past the ring: totals */
    CHECK(!c.windowed);
    CHECK_EQ_INT(c.count, 19);
    /* Hours later, the buckets have rolled: nothing in the last 30 minutes. */
    top_entry_window(&e, T0 + 300 * M, 30 * M, &c);
    CHECK_EQ_INT(c.count, 0);
    /* A new event rolls the ring and zeroes the skipped buckets. */
    top_sketch_add(s, &a, DECISION_SUPPRESS_DUPLICATE, T0 + 300 * M);
    top_sketch_copy(s, &e, 1);
    top_entry_window(&e, T0 + 300 * M, 2 * 60 * M, &c);
    CHECK_EQ_INT(c.count, 1);
    top_sketch_destroy(s);
}

static void test_token(void)
{
    CHECK(http_token_equal("abc", 3, "abc"));
    CHECK(!http_token_equal("abd", 3, "abc"));
    CHECK(!http_token_equal("ab", 2, "abc"));
    CHECK(!http_token_equal("abcd", 4, "abc"));
    CHECK(!http_token_equal("", 0, "abc"));
}

static cJSON *pd(const char *body, const char **status, char *key, char *err)
{
    char *json = NULL;
    qerr_t rc = intake_pd_to_alert(body, strlen(body), &json, key, 256, status, err, 256);
    cJSON *j = rc == QERR_OK ? cJSON_Parse(json) : NULL;
    cJSON_free(json);
    return j;
}

static void test_pagerduty(void)
{
    const char *status;
    char key[256], err[256];
    char path[512];
    if (!CHECK_DATA(path, "payloads/pagerduty/pd-api-schema__trigger_event_example.json")) return;
    char *ev = check_read_file(path, NULL);
    CHECK(ev != NULL);
    cJSON *a = ev ? pd(ev, &status, key, err) : NULL;
    CHECK(a != NULL);
    if (!a) { /* the rest reads the converted event */
        free(ev);
        return;
    }
    CHECK_EQ_STR(key, "srv01/mysql");
    cJSON *labels = cJSON_GetObjectItem(a, "labels");
    CHECK_EQ_INT(cJSON_GetArraySize(labels), 2);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(labels, "dedup_key")), "srv01/mysql");
    cJSON *ann = cJSON_GetObjectItem(a, "annotations");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ann, "severity")), "critical");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ann, "pagerduty_action")), "trigger");
    const char *details = cJSON_GetStringValue(cJSON_GetObjectItem(ann, "custom_details"));
    CHECK(details && strstr(details, "free space"));
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "status")), "firing");
    cJSON_Delete(a);
    free(ev);

    a = pd("{\"routing_key\":\"r\",\"dedup_key\":\"k1\",\"event_action\":\"resolve\"}", &status,
           key, err);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "status")), "resolved");
    CHECK_EQ_STR(key, "k1");
    cJSON_Delete(a);
    /* A trigger without dedup_key gets a fresh one each time. */
    const char *nokey = "{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"payload\":{"
                        "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\"}}";
    char key2[256];
    cJSON_Delete(pd(nokey, &status, key, err));
    cJSON_Delete(pd(nokey, &status, key2, err));
    CHECK_EQ_INT(strlen(key), 32);
    CHECK(strcmp(key, key2) != 0);

    static const struct {
        const char *body, *status, *err;
    } bad[] = {
        {"nope", "Unrecognized object", "JSON parse error"},
        {"[1]", "Unrecognized object", "JSON parse error"},
        {"{\"event_action\":\"trigger\"}", "invalid event", "routing_key"},
        {"{\"routing_key\":\"r\",\"event_action\":\"explode\"}", "invalid event", "event_action"},
        {"{\"routing_key\":\"r\",\"event_action\":\"resolve\"}", "invalid event", "dedup_key"},
        {"{\"routing_key\":\"r\",\"event_action\":\"acknowledge\",\"dedup_key\":7}",
         "invalid event", "dedup_key"},
        {"{\"routing_key\":\"r\",\"event_action\":\"trigger\"}", "invalid event", "payload"},
        {"{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"payload\":{\"source\":\"h\","
         "\"severity\":\"info\"}}",
         "invalid event", "summary"},
        {"{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\","
         "\"severity\":\"info\"}}",
         "invalid event", "source"},
        {"{\"routing_key\":\"r\",\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\","
         "\"source\":\"h\",\"severity\":\"CRITICAL\"}}",
         "invalid event", "severity"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = pd(bad[i].body, &status, key, err);
        CHECK(a == NULL);
        CHECK_EQ_STR(status, bad[i].status);
        if (!strstr(err, bad[i].err)) fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK(strstr(err, bad[i].err) != NULL);
        cJSON_Delete(a);
    }
    char longkey[400];
    snprintf(longkey, sizeof(longkey),
             "{\"routing_key\":\"r\",\"event_action\":\"resolve\",\"dedup_key\":\"%0300d\"}", 0);
    CHECK(pd(longkey, &status, key, err) == NULL);
}

/* ---- the server ------------------------------------------------------- */

static void echo(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    (void)ctx;
    resp->status = 201;
    const char *q = http_req_query(req, "x");
    mbuf_printf(&resp->body, "%s %zu %s", req->method, req->body_len, q ? q : "-");
}

static bool never_ready(void *ctx, char *why, size_t len)
{
    (void)ctx;
    snprintf(why, len, "store unreachable");
    return false;
}

static size_t sink(char *p, size_t sz, size_t n, void *ctx)
{
    mbuf_append(ctx, p, sz * n);
    return sz * n;
}

static long req(uint16_t port, const char *method, const char *path, const char *body,
                size_t body_len, const char *auth, bool chunked, mbuf_t *out)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (auth) h = curl_slist_append(h, auth);
    if (chunked) h = curl_slist_append(h, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        if (!chunked) curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void test_server(void)
{
    char err[256];
    http_opts_t o = {"127.0.0.1:0", "tok", 1024};
    http_server_t *s = http_server_new(&o, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(http_route(s, "POST", "/echo", HTTP_AUTH, echo, NULL), QERR_OK);
    CHECK_EQ_INT(http_route(s, "GET", "/open", 0, echo, NULL), QERR_OK);
    CHECK_EQ_INT(http_server_start(s, err, sizeof(err)), QERR_OK);
    uint16_t port = http_server_port(s);
    CHECK(port > 0);
    mbuf_t b;
    mbuf_init(&b);
    CHECK_EQ_INT(req(port, "GET", "/-/healthy", NULL, 0, NULL, false, &b), 200);
    CHECK_EQ_INT(req(port, "GET", "/-/ready", NULL, 0, NULL, false, &b), 200);
    CHECK_EQ_INT(http_ready_check(s, "store", never_ready, NULL), QERR_OK);
    mbuf_free(&b);
    CHECK_EQ_INT(req(port, "GET", "/-/ready", NULL, 0, NULL, false, &b), 503);
    CHECK(b.buf && strstr(b.buf, "store: store unreachable"));
    mbuf_free(&b);
    CHECK_EQ_INT(req(port, "GET", "/open?x=1", NULL, 0, NULL, false, &b), 201);
    CHECK_EQ_STR(b.buf, "GET 0 1");
    mbuf_free(&b);
    CHECK_EQ_INT(req(port, "POST", "/echo", "abc", 3, NULL, false, &b), 401);
    CHECK_EQ_INT(req(port, "POST", "/echo", "abc", 3, "Authorization: Bearer tok2", false, &b),
                 401);
    CHECK_EQ_INT(req(port, "POST", "/echo", "abc", 3, "Authorization: Basic tok", false, &b), 401);
    mbuf_free(&b);
    CHECK_EQ_INT(req(port, "POST", "/echo", "abc", 3, "Authorization: Bearer tok", false, &b), 201);
    CHECK_EQ_STR(b.buf, "POST 3 -");
    char *big = calloc(1, 2048);
    memset(big, 'x', 2047);
    CHECK_EQ_INT(req(port, "POST", "/echo", big, 2047, "Authorization: Bearer tok", false, &b),
                 413);
    CHECK_EQ_INT(req(port, "POST", "/echo", big, 2047, "Authorization: Bearer tok", true, &b), 413);
    mbuf_free(&b);
    big[1024] = '\0'; /* chunked: curl sends strlen */
    CHECK_EQ_INT(req(port, "POST", "/echo", big, 1024, "Authorization: Bearer tok", true, &b), 201);
    CHECK_EQ_STR(b.buf, "POST 1024 -");
    free(big);
    CHECK_EQ_INT(req(port, "GET", "/echo", NULL, 0, NULL, false, &b), 405);
    CHECK_EQ_INT(req(port, "GET", "/nope", NULL, 0, NULL, false, &b), 404);
    mbuf_free(&b);
    http_server_metrics(s, &b);
    CHECK(strstr(b.buf, "quell_http_requests_total{handler=\"/echo\",code=\"413\"} 2\n") != NULL);
    CHECK(strstr(b.buf, "quell_http_requests_total{handler=\"/echo\",code=\"401\"} 3\n") != NULL);
    CHECK(strstr(b.buf, "quell_http_requests_total{handler=\"other\",code=\"404\"} 1\n") != NULL);
    mbuf_free(&b);
    http_server_destroy(s);

    /* Bad addresses are refused before anything listens. */
    http_opts_t bad = {"localhost", NULL, 1024};
    CHECK(http_server_new(&bad, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "host:port") != NULL);
}

/* Same key: one line per interval, then a count of what was held back. */
static void test_log_limit(void)
{
    char path[] = "/tmp/quell-logtest-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    for (int i = 0; i < 5; i++) LOG_LIMITED(LOG_ERROR, "test", "key-a", 200, "broker down %d", i);
    LOG_LIMITED(LOG_ERROR, "test", "key-b", 200, "other key");
    struct timespec ts = {0, 250 * 1000000L};
    nanosleep(&ts, NULL);
    LOG_LIMITED(LOG_ERROR, "test", "key-a", 200, "broker down again");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char *text = check_read_file(path, NULL);
    unlink(path);
    CHECK(text && strstr(text, "broker down 0"));
    CHECK(text && !strstr(text, "broker down 1"));
    CHECK(text && strstr(text, "other key"));
    CHECK(text && strstr(text, "broker down again (suppressed 4 similar"));
    free(text);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_exposition();
    test_sketch();
    test_sketch_window();
    test_token();
    test_log_limit();
    test_pagerduty();
    test_server();
    curl_global_cleanup();
    return check_summary("ops");
}
