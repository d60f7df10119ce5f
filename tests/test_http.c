/*
 * The HTTP side of `quell run` through the real binary, against the mock
 * cluster started in this process: health and readiness, the bearer token,
 * the Alertmanager and PagerDuty intakes (nothing published for an invalid
 * request), /metrics adding up (received = decided = forwarded +
 * suppressed), /api/v1/top, and a real Prometheus (Debian's, when
 * installed) sending its alerts through POST /api/v2/alerts and coming out
 * deduplicated.
 *
 * quell listens on port 0 and logs the port it got; Prometheus gets a port
 * this test reserved a moment before. Every child is stopped on every path.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/core.h"
#include "check.h"
#include "harness.h"
/* Only part of the redis-server fixture is used here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "redis_local.h"
#pragma GCC diagnostic pop

#define TOKEN "s3cret-token"

typedef struct {
    char brokers[256];
    rd_kafka_t *admin;  /* owns the mock cluster */
    rd_kafka_t *reader; /* a client of it, for watermarks */
    rd_kafka_mock_cluster_t *mock;
    char dir[64];
    int time_scale;
} env_t;

typedef struct {
    char alerts[64], incidents[64], dlq[64], group[64];
    char conf_path[160], log_path[160], out_path[160];
    pid_t pid;
    int port;
    char base[64];
} inst_t;

static void dump_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    fprintf(stderr, "---- %s\n", path);
    while (fgets(line, sizeof(line), f)) fputs(line, stderr);
    fclose(f);
}

/* ---- HTTP client -------------------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
    mbuf_append(ctx, p, sz * n);
    return sz * n;
}

/* Returns the status (0 when the request failed); the body into `out`. */
static long http_do(const char *method, const char *url, const char *body, const char *token,
                    mbuf_t *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[128];
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    mbuf_t ignored;
    mbuf_init(&ignored);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out ? out : &ignored);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    mbuf_free(&ignored);
    return status;
}

static long get(inst_t *q, const char *path, const char *token, mbuf_t *out)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", q->base, path);
    return http_do("GET", url, NULL, token, out);
}

static long post(inst_t *q, const char *path, const char *body, const char *token, mbuf_t *out)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", q->base, path);
    return http_do("POST", url, body, token, out);
}

/* Sum of every sample of `name` whose label text contains `match` (NULL =
 * all) in a Prometheus exposition. */
static double metric(const char *text, const char *name, const char *match)
{
    double sum = 0;
    size_t nl = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, name, nl) != 0 || (l[nl] != '{' && l[nl] != ' ')) continue;
        const char *end = strchr(l, '\n');
        const char *sp = l + nl;
        if (*sp == '{') {
            const char *close = strchr(sp, '}');
            if (!close) continue;
            if (match) {
                char labels[512];
                size_t len = (size_t)(close - sp) < sizeof(labels) - 1 ? (size_t)(close - sp)
                                                                       : sizeof(labels) - 1;
                memcpy(labels, sp, len);
                labels[len] = '\0';
                if (!strstr(labels, match)) continue;
            }
            sp = close + 1;
        } else if (match) {
            continue;
        }
        if (end && sp > end) continue;
        sum += strtod(sp, NULL);
    }
    return sum;
}

static char *scrape(inst_t *q)
{
    mbuf_t b;
    mbuf_init(&b);
    if (get(q, "/metrics", NULL, &b) != 200) {
        mbuf_free(&b);
        return NULL;
    }
    return b.buf;
}

/* ---- quell -------------------------------------------------------------- */

static int create_topic(env_t *env, const char *name, int partitions)
{
    return rd_kafka_mock_topic_create(env->mock, name, partitions, 1) ? -1 : 0;
}

static void inst_init(env_t *env, inst_t *q, const char *name, bool token, const char *extra)
{
    *q = (inst_t){0};
    snprintf(q->alerts, sizeof(q->alerts), "%s-alerts", name);
    snprintf(q->incidents, sizeof(q->incidents), "%s-incidents", name);
    snprintf(q->dlq, sizeof(q->dlq), "%s-dlq", name);
    snprintf(q->group, sizeof(q->group), "%s-group", name);
    snprintf(q->conf_path, sizeof(q->conf_path), "%s/%s.yaml", env->dir, name);
    snprintf(q->log_path, sizeof(q->log_path), "%s/%s.log", env->dir, name);
    snprintf(q->out_path, sizeof(q->out_path), "%s/%s.out", env->dir, name);
    CHECK_EQ_INT(create_topic(env, q->alerts, 4), 0);
    CHECK_EQ_INT(create_topic(env, q->incidents, 4), 0);
    CHECK_EQ_INT(create_topic(env, q->dlq, 1), 0);
    char token_path[160] = "";
    if (token) {
        snprintf(token_path, sizeof(token_path), "%s/%s.token", env->dir, name);
        FILE *t = fopen(token_path, "w");
        fprintf(t, "%s\n", TOKEN);
        fclose(t);
    }
    FILE *f = fopen(q->conf_path, "w");
    fprintf(f,
            "workers: 2\n"
            "kafka:\n"
            "  brokers: \"%s\"\n"
            "  group_id: %s\n"
            "  topics: [%s]\n"
            "  output_topic: %s\n"
            "  dlq_topic: %s\n"
            "  session_timeout: 6s\n"
            "  properties:\n"
            "    statistics.interval.ms: \"500\"\n"
            "http:\n"
            "  listen: \"127.0.0.1:0\"\n"
            "  auth_token_file: \"%s\"\n"
            "  max_request_bytes: 64KiB\n"
            "  max_alerts: 50\n"
            "dedup:\n"
            "  window: 1h\n"
            "  repeat_interval: 24h\n"
            "%s",
            env->brokers, q->group, q->alerts, q->incidents, q->dlq, token_path,
            extra ? extra : "");
    fclose(f);
}

/* The port quell logged ("listening on ... (port N)"); 0 until then. */
static int logged_port(const char *log_path)
{
    char *log = check_read_file(log_path, NULL);
    int port = 0;
    const char *p = log ? strstr(log, "(port ") : NULL;
    if (p) port = atoi(p + 6);
    free(log);
    return port;
}

static bool inst_start(env_t *env, inst_t *q)
{
    q->pid = harness_quell_start(q->conf_path, q->out_path, q->log_path);
    for (int waited = 0; waited < 10000 * env->time_scale; waited += 20) {
        if ((q->port = logged_port(q->log_path))) break;
        harness_sleep_ms(20);
    }
    snprintf(q->base, sizeof(q->base), "http://127.0.0.1:%d", q->port);
    return q->port > 0;
}

static int inst_stop(env_t *env, inst_t *q)
{
    if (q->pid <= 0) return -1;
    int rc = harness_quell_stop(q->pid, 60000 * env->time_scale);
    q->pid = 0;
    return rc;
}

static bool wait_ready(env_t *env, inst_t *q)
{
    for (int waited = 0; waited < 30000 * env->time_scale; waited += 100) {
        if (get(q, "/-/ready", NULL, NULL) == 200) return true;
        harness_sleep_ms(100);
    }
    return false;
}

/* Waits until every received alert is decided; returns the last scrape. */
static char *wait_settled(env_t *env, inst_t *q, double want_received)
{
    char *m = NULL;
    for (int waited = 0; waited < 30000 * env->time_scale; waited += 100) {
        free(m);
        m = scrape(q);
        if (m && metric(m, "quell_alerts_received_total", NULL) >= want_received &&
            metric(m, "quell_decisions_total", NULL) ==
                metric(m, "quell_alerts_received_total", NULL) &&
            metric(m, "quell_incidents_delivered_total", NULL) ==
                metric(m, "quell_decisions_total", "decision=\"forward\""))
            return m;
        harness_sleep_ms(100);
    }
    return m;
}

/* Messages in a topic (sum of partition high watermarks; nothing deleted). */
static long long topic_count(env_t *env, const char *topic)
{
    long long n = 0;
    for (int p = 0; p < 4; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(env->reader, topic, p, &lo, &hi, 5000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
            n += hi - lo;
    }
    return n;
}

/* ---- scenarios ---------------------------------------------------------- */

/* A PagerDuty example event from the shared data; a clone without it gets
 * events of the same shape written here (the counts below hold for both). */
static char *pd_example(const char *file)
{
    static const struct {
        const char *file, *event;
    } own[] = {
        {"pd-api-schema__trigger_event_example.json",
         "{\"routing_key\":\"r1\",\"dedup_key\":\"srv01/mysql\",\"event_action\":\"trigger\","
         "\"payload\":{\"summary\":\"DISK at 99%\",\"source\":\"db03\",\"severity\":"
         "\"critical\",\"component\":\"mysql\",\"group\":\"prod\",\"class\":\"disk\"}}"},
        {"pd-developer-docs__trigger_event.json",
         "{\"routing_key\":\"r2\",\"dedup_key\":\"samplekeyhere\",\"event_action\":\"trigger\","
         "\"payload\":{\"summary\":\"Example\",\"source\":\"host1\",\"severity\":\"info\"}}"},
        {"pd-developer-docs__acknowledge_event.json",
         "{\"routing_key\":\"r3\",\"dedup_key\":\"dedupkeyhere\",\"event_action\":"
         "\"acknowledge\"}"},
        {"pd-developer-docs__resolve_event.json",
         "{\"routing_key\":\"r3\",\"dedup_key\":\"dedupkeyhere\",\"event_action\":\"resolve\"}"},
        {"pd-developer-docs__change_event.json",
         "{\"routing_key\":\"r2\",\"payload\":{\"summary\":\"Build passed\",\"source\":\"ci\"}}"},
    };
    if (check_data_present()) {
        char path[512], rel[256];
        snprintf(rel, sizeof(rel), "payloads/pagerduty/%s", file);
        return CHECK_DATA(path, rel) ? check_read_file(path, NULL) : NULL;
    }
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (strcmp(own[i].file, file) == 0) return strdup(own[i].event);
    return NULL;
}

static void test_intake(env_t *env)
{
    inst_t q;
    inst_init(env, &q, "intake", true, NULL);
    if (!inst_start(env, &q)) {
        CHECK(!"quell did not log its HTTP port");
        goto out;
    }
    CHECK_EQ_INT(get(&q, "/-/healthy", NULL, NULL), 200);
    CHECK(wait_ready(env, &q));
    CHECK_EQ_INT(get(&q, "/nope", NULL, NULL), 404);
    /* GET /api/v2/alerts lists what quell holds open (app/api_v2.c). */
    CHECK_EQ_INT(get(&q, "/api/v2/alerts", TOKEN, NULL), 200);

    const char *good =
        "[{\"labels\":{\"alertname\":\"DiskFull\",\"service\":\"db\"},"
        "\"generatorURL\":\"http://prom-1:9090/graph?g0.expr=disk%3E0.9&g0.tab=1\"},"
        "{\"labels\":{\"alertname\":\"DiskFull\",\"service\":\"db\"},\"generatorURL\":\"/graph\"},"
        "{\"labels\":{\"alertname\":\"DiskFull\",\"service\":\"db\"},\"generatorURL\":\"\"},"
        "{\"labels\":{\"alertname\":\"CPU\",\"service\":\"api\"},"
        "\"annotations\":{\"summary\":\"hot\"},\"startsAt\":\"2026-01-01T00:00:00Z\"}]";
    /* The token: none, wrong, right. /metrics never needs it. */
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", good, NULL, NULL), 401);
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", good, "s3cret-tokem", NULL), 401);
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", good, "s3cret-token-longer", NULL), 401);
    CHECK_EQ_INT(get(&q, "/api/v1/top", NULL, NULL), 401);
    CHECK_EQ_INT(get(&q, "/metrics", NULL, NULL), 200);
    CHECK_EQ_INT(topic_count(env, q.alerts), 0);

    /* Invalid requests: 400 (413 for the limits) and nothing published. */
    mbuf_t body;
    mbuf_init(&body);
    const char *bad_last = "[{\"labels\":{\"alertname\":\"A\"}},{\"labels\":{\"alertname\":\"B\"}},"
                           "{\"labels\":{}}]";
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", bad_last, TOKEN, &body), 400);
    CHECK(body.buf && strstr(body.buf, "alert 2"));
    /* in Alertmanager's shapes: a JSON string on v2, v1's error object,
     * go-swagger's 422 for no body */
    CHECK(body.buf && body.buf[0] == '"' && body.buf[body.len - 1] == '"');
    mbuf_free(&body);
    CHECK_EQ_INT(post(&q, "/api/v1/alerts", bad_last, TOKEN, &body), 400);
    const char *v1_err =
        "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid alerts";
    CHECK(body.buf && !strncmp(body.buf, v1_err, strlen(v1_err)));
    mbuf_free(&body);
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", "", TOKEN, &body), 422);
    CHECK_EQ_STR(body.buf, "{\"code\":602,\"message\":\"alerts in body is required\"}");
    /* go-swagger's checks first, the first alert failing one: as a
     * running Alertmanager 0.25 answered these bodies */
    static const struct {
        const char *body, *answer;
    } swagger[] = {
        {"[{\"labels\":{\"a\":\"b\"}},{}]",
         "{\"code\":602,\"message\":\"1.labels in body is required\"}"},
        {"[{\"labels\":null}]", "{\"code\":602,\"message\":\"0.labels in body is required\"}"},
        {"[{\"labels\":{\"a\":\"b\"},\"generatorURL\":\"x y\"},{}]",
         "{\"code\":601,\"message\":\"0.generatorURL in body must be of type uri: \\\"x y\\\"\"}"},
        {"[{\"labels\":{},\"generatorURL\":\"grafana\"}]",
         "{\"code\":601,\"message\":\"0.generatorURL in body must be of type uri: "
         "\\\"grafana\\\"\"}"},
        {"[{\"labels\":{\"a\":\"b\"},\"generatorURL\":\"http://h:99x/\"}]",
         "{\"code\":601,\"message\":\"0.generatorURL in body must be of type uri: "
         "\\\"http://h:99x/\\\"\"}"},
        {"[{\"labels\":{\"a\":\"b\"},\"generatorURL\":\"gr\\\"a\"}]",
         "{\"code\":601,\"message\":\"0.generatorURL in body must be of type uri: "
         "\\\"gr\\\\\\\"a\\\"\"}"},
    };
    for (size_t k = 0; k < sizeof swagger / sizeof *swagger; k++) {
        mbuf_free(&body);
        CHECK_EQ_INT(post(&q, "/api/v2/alerts", swagger[k].body, TOKEN, &body), 422);
        CHECK_EQ_STR(body.buf, swagger[k].answer);
    }
    mbuf_free(&body);
    CHECK_EQ_INT(post(&q, "/api/v1/alerts", "", TOKEN, &body), 400);
    CHECK(body.buf && strstr(body.buf, "\"errorType\":\"bad_data\""));
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", "[{\"labels\":{\"alertname\":\"A\"}},", TOKEN, NULL),
                 400);
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", "{\"labels\":{\"alertname\":\"A\"}}", TOKEN, NULL),
                 400);
    CHECK_EQ_INT(post(&q, "/api/v2/alerts",
                      "[{\"labels\":{\"alertname\":\"A\"},\"startsAt\":\"yesterday\"}]", TOKEN,
                      NULL),
                 400);
    /* Alertmanager refuses an endsAt before the startsAt. */
    CHECK_EQ_INT(post(&q, "/api/v2/alerts",
                      "[{\"labels\":{\"alertname\":\"A\"},\"startsAt\":\"2030-01-02T00:00:00Z\","
                      "\"endsAt\":\"2030-01-01T00:00:00Z\"}]",
                      TOKEN, &body),
                 400);
    CHECK(body.buf && strstr(body.buf, "start time must be before end time"));
    mbuf_t many;
    mbuf_init(&many);
    mbuf_printf(&many, "[");
    for (int i = 0; i < 51; i++)
        mbuf_printf(&many, "%s{\"labels\":{\"n\":\"%d\"}}", i ? "," : "", i);
    mbuf_printf(&many, "]");
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", many.buf, TOKEN, NULL), 413);
    mbuf_free(&many);
    char *huge = malloc(70 * 1024);
    memset(huge, ' ', 70 * 1024 - 1);
    huge[0] = '[';
    huge[70 * 1024 - 2] = ']';
    huge[70 * 1024 - 1] = '\0';
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", huge, TOKEN, NULL), 413);
    free(huge);
    harness_sleep_ms(200);
    CHECK_EQ_INT(topic_count(env, q.alerts), 0);

    /* Valid: 200 once published, one message per alert. */
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", good, TOKEN, NULL), 200);
    CHECK_EQ_INT(topic_count(env, q.alerts), 4);
    CHECK_EQ_INT(post(&q, "/api/v2/alerts", "[]", TOKEN, NULL), 200);
    /* Alertmanager's v1 path (Prometheus's `api_version: v1`), the same intake. */
    mbuf_free(&body);
    CHECK_EQ_INT(post(&q, "/api/v1/alerts", "[]", TOKEN, &body), 200);
    CHECK_EQ_STR(body.buf, "{\"status\":\"success\"}");
    CHECK_EQ_INT(post(&q, "/api/v1/alerts", "[]", NULL, NULL), 401);

    /* PagerDuty: the examples from the shared data. */
    static const char *const pd_ok[] = {
        "pd-api-schema__trigger_event_example.json", "pd-developer-docs__trigger_event.json",
        "pd-developer-docs__acknowledge_event.json", "pd-developer-docs__resolve_event.json"};
    for (size_t i = 0; i < sizeof(pd_ok) / sizeof(pd_ok[0]); i++) {
        char *ev = pd_example(pd_ok[i]);
        CHECK(ev != NULL);
        if (!ev) continue;
        mbuf_free(&body);
        CHECK_EQ_INT(post(&q, "/v2/enqueue", ev, TOKEN, &body), 202);
        cJSON *j = body.buf ? cJSON_Parse(body.buf) : NULL;
        cJSON *src = cJSON_Parse(ev);
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "success");
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "dedup_key")),
                     cJSON_GetStringValue(cJSON_GetObjectItem(src, "dedup_key")));
        if (i == 0) CHECK_EQ_INT(post(&q, "/v2/enqueue", ev, NULL, NULL), 401);
        cJSON_Delete(j);
        cJSON_Delete(src);
        free(ev);
    }
    /* A change event is not an Events API v2 event; nor is junk. */
    char *change = pd_example("pd-developer-docs__change_event.json");
    mbuf_free(&body);
    CHECK_EQ_INT(post(&q, "/v2/enqueue", change ? change : "", TOKEN, &body), 400);
    CHECK(body.buf && strstr(body.buf, "\"invalid event\""));
    free(change);
    mbuf_free(&body);
    CHECK_EQ_INT(post(&q, "/v2/enqueue", "not json", TOKEN, &body), 400);
    CHECK(body.buf && strstr(body.buf, "Unrecognized object"));
    CHECK_EQ_INT(post(&q, "/v2/enqueue",
                      "{\"routing_key\":\"k\",\"event_action\":\"trigger\",\"payload\":{"
                      "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"fatal\"}}",
                      TOKEN, NULL),
                 400);
    /* routing_key equal to the token authenticates without a header. */
    mbuf_free(&body);
    CHECK_EQ_INT(post(&q, "/v2/enqueue",
                      "{\"routing_key\":\"" TOKEN "\",\"event_action\":\"trigger\",\"payload\":{"
                      "\"summary\":\"s\",\"source\":\"h\",\"severity\":\"info\"}}",
                      NULL, &body),
                 202);
    CHECK(body.buf && strstr(body.buf, "\"dedup_key\":\""));
    mbuf_free(&body);
    /* 4 Alertmanager alerts + 5 PagerDuty events, nothing from the refusals. */
    CHECK_EQ_INT(topic_count(env, q.alerts), 9);

    /* /metrics adds up once everything is decided. Fingerprints: DiskFull
     * (3 occurrences), CPU, the PagerDuty dedup keys srv01/mysql,
     * samplekeyhere, dedupkeyhere (acknowledged: firing, then resolved) and
     * the random key of the trigger without one. */
    char *m = wait_settled(env, &q, 9);
    CHECK(m != NULL);
    if (m) {
        double received = metric(m, "quell_alerts_received_total", NULL);
        double decided = metric(m, "quell_decisions_total", NULL);
        double fwd = metric(m, "quell_decisions_total", "decision=\"forward\"");
        double sup = metric(m, "quell_decisions_total", "decision=\"suppress\"");
        CHECK_EQ_INT(received, 9);
        CHECK_EQ_INT(metric(m, "quell_alerts_received_total",
                            "source=\"http_alertmanager\",format=\"json\""),
                     4);
        CHECK_EQ_INT(metric(m, "quell_alerts_received_total", "source=\"http_pagerduty\""), 5);
        CHECK_EQ_INT(decided, received);
        CHECK_EQ_INT(fwd + sup, decided);
        CHECK_EQ_INT(metric(m, "quell_decisions_total", "reason=\"new\""), 6);
        CHECK_EQ_INT(metric(m, "quell_decisions_total", "reason=\"duplicate\""), 2);
        CHECK_EQ_INT(metric(m, "quell_decisions_total", "reason=\"resolved\""), 1);
        CHECK_EQ_INT(metric(m, "quell_incidents_forwarded_total", NULL), fwd);
        CHECK_EQ_INT(metric(m, "quell_incidents_delivered_total", NULL), fwd);
        CHECK_EQ_INT(metric(m, "quell_decision_latency_seconds_count", NULL), decided);
        CHECK_EQ_INT(metric(m, "quell_decision_latency_seconds_bucket", "le=\"+Inf\""), decided);
        /* Its split where quell took each message: every alert in both
         * shares, which add up to the whole (sums printed to the µs). */
        CHECK_EQ_INT(metric(m, "quell_consume_latency_seconds_count", NULL), decided);
        CHECK_EQ_INT(metric(m, "quell_pipeline_latency_seconds_count", NULL), decided);
        double whole = metric(m, "quell_decision_latency_seconds_sum", NULL);
        double parts = metric(m, "quell_consume_latency_seconds_sum", NULL) +
                       metric(m, "quell_pipeline_latency_seconds_sum", NULL);
        CHECK(whole > 0 && parts > whole - 3e-6 && parts < whole + 3e-6);
        CHECK_EQ_INT(metric(m, "quell_intake_alerts_total", "api=\"alertmanager\""), 4);
        CHECK_EQ_INT(metric(m, "quell_intake_alerts_total", "api=\"pagerduty\""), 5);
        CHECK_EQ_INT(metric(m, "quell_intake_requests_total", "code=\"401\""), 1);
        CHECK_EQ_INT(
            metric(m, "quell_http_requests_total", "handler=\"/api/v2/alerts\",code=\"401\""), 3);
        CHECK_EQ_INT(
            metric(m, "quell_http_requests_total", "handler=\"/api/v2/alerts\",code=\"413\""), 2);
        CHECK_EQ_INT(metric(m, "quell_intake_requests_total", "code=\"413\""), 1);
        CHECK_EQ_INT(metric(m, "quell_kafka_assigned_partitions", NULL), 4);
        CHECK_EQ_INT(metric(m, "quell_build_info", "version=\"" QUELL_VERSION "\""), 1);
        CHECK(strstr(m, "# TYPE quell_decision_latency_seconds histogram") != NULL);
        CHECK(strstr(m, "quell_ring_used_bytes{worker=\"1\"}") != NULL);
    }
    free(m);
    /* Lag arrives with librdkafka's statistics (every 500 ms here). */
    bool lag_seen = false;
    for (int waited = 0; !lag_seen && waited < 5000 * env->time_scale; waited += 100) {
        char *s = scrape(&q);
        lag_seen = s && strstr(s, "quell_kafka_consumer_lag_messages{topic=\"intake-alerts\"");
        free(s);
        if (!lag_seen) harness_sleep_ms(100);
    }
    CHECK(lag_seen);

    /* The noisy-alert report: the five PagerDuty events (four keys) share alertname
     * "pagerduty" and lead; DiskFull follows, folded twice. */
    mbuf_free(&body);
    CHECK_EQ_INT(get(&q, "/api/v1/top?by=alertname,service&window=1d", TOKEN, &body), 200);
    cJSON *top = body.buf ? cJSON_Parse(body.buf) : NULL;
    cJSON *groups = cJSON_GetObjectItem(top, "groups");
    cJSON *g0 = cJSON_GetArrayItem(groups, 0), *g1 = cJSON_GetArrayItem(groups, 1);
    CHECK_EQ_INT(cJSON_GetArraySize(groups), 3);
    CHECK_EQ_STR(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(g0, "labels"), "alertname")),
        "pagerduty");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(g0, "occurrences")), 5);
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(g0, "fingerprints")), 4);
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(g0, "flaps")), 1);
    CHECK_EQ_STR(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(g1, "labels"), "alertname")),
        "DiskFull");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(g1, "occurrences")), 3);
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(g1, "suppressed")), 2);
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(g1, "incidents")), 1);
    cJSON_Delete(top);
    mbuf_free(&body);
    CHECK_EQ_INT(get(&q, "/api/v1/top?window=forever", TOKEN, NULL), 400);

    /* quell top: the same report, printed with a rule per group. */
    char cmd[600], out_path[200];
    snprintf(out_path, sizeof(out_path), "%s/top.out", env->dir);
    snprintf(cmd, sizeof(cmd), "%s top -c %s --url %s --by alertname,service --window 1d > %s",
             getenv("QUELL_BIN"), q.conf_path, q.base, out_path);
    CHECK_EQ_INT(system(cmd), 0);
    char *report = check_read_file(out_path, NULL);
    CHECK(report && strstr(report, "alertname=\"DiskFull\",service=\"db\""));
    CHECK(report && strstr(report, "  - name: noisy-diskfull-db\n    matchers:\n"
                                   "      - 'alertname=\"DiskFull\"'\n"
                                   "      - 'service=\"db\"'\n"));
    CHECK(report && strstr(report, "66.7% already suppressed"));
    /* A group whose alerts lack a label: the rule says so (name=""), not
     * a rule wider than the group, nor an empty matchers: list. */
    CHECK(report && strstr(report, "      - 'alertname=\"pagerduty\"'\n"
                                   "      - 'service=\"\"'\n"));
    free(report);
    /* Kafka down: the intake answers 503 (after its 5 s publish timeout)
     * instead of pretending; back up, it answers 200 again. */
    CHECK_EQ_INT(rd_kafka_mock_broker_set_down(env->mock, 1), 0);
    mbuf_free(&body);
    CHECK_EQ_INT(
        post(&q, "/api/v2/alerts", "[{\"labels\":{\"alertname\":\"Down\"}}]", TOKEN, &body), 503);
    CHECK(body.buf && strstr(body.buf, "retry"));
    CHECK_EQ_INT(rd_kafka_mock_broker_set_up(env->mock, 1), 0);
    long st = 0;
    for (int i = 0; i < 20 && st != 200; i++)
        st = post(&q, "/api/v2/alerts", "[{\"labels\":{\"alertname\":\"Up\"}}]", TOKEN, NULL);
    CHECK_EQ_INT(st, 200);
    mbuf_free(&body);

    /* Without the token (no -c), the API refuses. */
    snprintf(cmd, sizeof(cmd), "%s top --url %s 2>/dev/null >/dev/null", getenv("QUELL_BIN"),
             q.base);
    CHECK(system(cmd) != 0);
out:
    CHECK_EQ_INT(inst_stop(env, &q), 0);
    if (check_failures) dump_file(q.log_path);
}

/* ---- a real Prometheus -------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void test_prometheus(env_t *env)
{
    const char *prom = "/usr/bin/prometheus";
    if (access(prom, X_OK) != 0) {
        printf("SKIP prometheus scenario: %s not installed\n", prom);
        return;
    }
    inst_t q;
    inst_init(env, &q, "prom", true, NULL);
    pid_t ppid = 0;
    char prom_log[160];
    snprintf(prom_log, sizeof(prom_log), "%s/prometheus.log", env->dir);
    if (!inst_start(env, &q) || !wait_ready(env, &q)) {
        CHECK(!"quell did not start");
        goto out;
    }
    char cfg[160], rules[160], data[160], token_path[160], listen[64];
    snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", env->dir);
    snprintf(rules, sizeof(rules), "%s/rules.yml", env->dir);
    snprintf(data, sizeof(data), "%s/prometheus-data", env->dir);
    snprintf(token_path, sizeof(token_path), "%s/prom.token", env->dir);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", free_port());
    FILE *f = fopen(rules, "w");
    fprintf(f, "groups:\n"
               "  - name: quell-test\n"
               "    interval: 500ms\n"
               "    rules:\n"
               "      - alert: AlwaysFiring\n"
               "        expr: vector(1)\n"
               "        labels:\n"
               "          service: test\n");
    fclose(f);
    f = fopen(cfg, "w");
    fprintf(f,
            "global:\n"
            "  evaluation_interval: 500ms\n"
            "rule_files: [\"%s\"]\n"
            "alerting:\n"
            "  alertmanagers:\n"
            "    - api_version: v2\n"
            "      authorization:\n"
            "        credentials_file: \"%s\"\n"
            "      static_configs:\n"
            "        - targets: [\"127.0.0.1:%d\"]\n",
            rules, token_path, q.port);
    fclose(f);
    f = fopen(token_path, "w");
    fprintf(f, "%s", TOKEN);
    fclose(f);
    fflush(stdout);
    fflush(stderr);
    ppid = fork();
    if (ppid == 0) {
        FILE *o = freopen(prom_log, "a", stdout);
        FILE *e = freopen(prom_log, "a", stderr);
        (void)o;
        (void)e;
        char a1[200], a2[200], a3[100];
        snprintf(a1, sizeof(a1), "--config.file=%s", cfg);
        snprintf(a2, sizeof(a2), "--storage.tsdb.path=%s", data);
        snprintf(a3, sizeof(a3), "--web.listen-address=%s", listen);
        execl(prom, "prometheus", a1, a2, a3, "--rules.alert.resend-delay=500ms",
              "--log.level=warn", (char *)NULL);
        _exit(127);
    }
    /* Prometheus re-sends the firing alert on every evaluation: wait for a
     * handful of deliveries (bounded: ~20 s). */
    double got = 0;
    for (int waited = 0; waited < 20000 * env->time_scale && got < 4; waited += 200) {
        char *m = scrape(&q);
        got = m ? metric(m, "quell_intake_alerts_total", "api=\"alertmanager\"") : 0;
        free(m);
        harness_sleep_ms(200);
    }
    CHECK(got >= 4);
    kill(ppid, SIGTERM);
    waitpid(ppid, NULL, 0);
    ppid = 0;
    char *m = wait_settled(env, &q, got);
    if (m) {
        double received = metric(m, "quell_alerts_received_total", NULL);
        CHECK(received >= 4);
        CHECK_EQ_INT(metric(m, "quell_decisions_total", NULL), received);
        /* One incident; every re-send folded into it. */
        CHECK_EQ_INT(metric(m, "quell_decisions_total", "reason=\"new\""), 1);
        CHECK_EQ_INT(metric(m, "quell_decisions_total", "reason=\"duplicate\""), received - 1);
        CHECK_EQ_INT(metric(m, "quell_incidents_delivered_total", NULL), 1);
        CHECK_EQ_INT(metric(m, "quell_intake_requests_total", "code=\"401\""), 0);
    }
    free(m);
    CHECK_EQ_INT(topic_count(env, q.incidents), 1);
out:
    if (ppid > 0) {
        kill(ppid, SIGKILL);
        waitpid(ppid, NULL, 0);
    }
    CHECK_EQ_INT(inst_stop(env, &q), 0);
    if (check_failures) {
        dump_file(q.log_path);
        dump_file(prom_log);
    }
}

/* Readiness follows the shared store: ready with Redis up, 503 naming the
 * store once it is gone, ready again when it is back. */
static void test_store_readiness(env_t *env)
{
    if (!redis_local_available()) {
        printf("SKIP store readiness: redis-server not installed\n");
        return;
    }
    redis_local_t r = {0};
    inst_t q = {0};
    if (redis_local_start(&r) != 0) {
        CHECK(!"redis-server did not start");
        return;
    }
    char extra[128];
    snprintf(extra, sizeof(extra), "store:\n  url: \"redis://127.0.0.1:%d\"\n", r.port);
    inst_init(env, &q, "store", false, extra);
    if (!inst_start(env, &q)) {
        CHECK(!"quell did not start");
        goto out;
    }
    CHECK(wait_ready(env, &q));
    redis_local_kill(&r, SIGTERM);
    mbuf_t body;
    mbuf_init(&body);
    long st = 0;
    for (int i = 0; i < 50 && st != 503; i++) {
        mbuf_free(&body);
        st = get(&q, "/-/ready", NULL, &body);
        if (st != 503) harness_sleep_ms(100);
    }
    CHECK_EQ_INT(st, 503);
    CHECK(body.buf && strstr(body.buf, "store: redis 127.0.0.1:"));
    CHECK_EQ_INT(get(&q, "/-/healthy", NULL, NULL), 200); /* alive, just not ready */
    mbuf_free(&body);
    CHECK_EQ_INT(redis_local_start(&r), 0);
    CHECK(wait_ready(env, &q));
out:
    CHECK_EQ_INT(inst_stop(env, &q), 0);
    redis_local_stop(&r);
    if (check_failures) dump_file(q.log_path);
}

int main(void)
{
    env_t env = {0};
    const char *scale = getenv("QUELL_TIME_SCALE");
    env.time_scale = scale && atoi(scale) > 0 ? atoi(scale) : 1;
    snprintf(env.dir, sizeof(env.dir), "/tmp/quell-http-XXXXXX");
    if (!mkdtemp(env.dir)) return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char errbuf[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "log_level", "3", NULL, 0);
    env.admin = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof(errbuf));
    env.mock = env.admin ? rd_kafka_mock_cluster_new(env.admin, 1) : NULL;
    CHECK(env.mock != NULL);
    if (env.mock) {
        snprintf(env.brokers, sizeof(env.brokers), "%s",
                 rd_kafka_mock_cluster_bootstraps(env.mock));
        rd_kafka_conf_t *rc = rd_kafka_conf_new();
        rd_kafka_conf_set(rc, "bootstrap.servers", env.brokers, NULL, 0);
        rd_kafka_conf_set(rc, "log_level", "0", NULL, 0); /* the broker goes down on purpose */
        env.reader = rd_kafka_new(RD_KAFKA_PRODUCER, rc, errbuf, sizeof(errbuf));
        test_intake(&env);
        test_prometheus(&env);
        test_store_readiness(&env);
        if (env.reader) rd_kafka_destroy(env.reader);
        rd_kafka_mock_cluster_destroy(env.mock);
    }
    if (env.admin) rd_kafka_destroy(env.admin);
    curl_global_cleanup();
    harness_dir_done(env.dir, check_failures > 0);
    return check_summary("http");
}
