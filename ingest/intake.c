/*
 * HTTP intake: Alertmanager's POST /api/v2/alerts and PagerDuty's Events
 * API v2 (POST /v2/enqueue), for sources that cannot write to Kafka.
 *
 * Accepted alerts are not decided here: they are published to the input
 * topic (the first of kafka.topics), one message per alert keyed by its
 * fingerprint, and come back through the consumer like any other, so they
 * get the same at-least-once path, ordering per fingerprint and dead-letter
 * rules. A request is validated whole first with the consumer's own decoder
 * (the same limits and rules): one bad alert gets 400 and nothing of the
 * request is published. Then the answer waits for the broker: 200 only once
 * every message is acknowledged (idempotent producer, acks=all), 503 when
 * Kafka cannot take them in time; a client retrying after a 503 may publish
 * some alerts twice, which dedup folds.
 *
 * Handlers run on the HTTP server's connection threads, several at once;
 * the producer is shared. One poller thread serves its delivery reports;
 * each request sleeps on its own condition variable until the last of its
 * messages is reported, so an answer leaves as soon as Kafka acknowledged.
 */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ingest.h"

#define PUBLISH_TIMEOUT_MS 5000 /* message.timeout.ms: then 503 */
#define PD_MAX_DEDUP_KEY   255

struct intake {
    const conf_t *conf;
    ingest_limits_t limits;
    dedup_fp_conf_t fp;
    rd_kafka_t *rk;
    char *topic;
    char *token;
    size_t max_alerts;
    _Atomic uint64_t requests[INTAKE_API__COUNT][INTAKE_CODE__COUNT];
    _Atomic uint64_t alerts[INTAKE_API__COUNT];
    pthread_t poller;
    bool poller_started;
    _Atomic bool stop;
};

/* One request's outstanding messages. The poller changes `pending` only
 * under `mu` and signals with it held, so once the request sees 0 under
 * `mu` no report touches it any more and it may go. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t done;
    int pending;
    int failed;
    rd_kafka_resp_err_t first_err;
} publish_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    publish_t *p = m->_private;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (m->err) {
        if (!p->first_err) p->first_err = m->err;
        p->failed++;
    }
    if (--p->pending == 0) pthread_cond_signal(&p->done);
    pthread_mutex_unlock(&p->mu);
}

static void *poller_main(void *arg)
{
    intake_t *it = arg;
    while (!atomic_load_explicit(&it->stop, memory_order_acquire)) rd_kafka_poll(it->rk, 50);
    return NULL;
}

static bool kset(rd_kafka_conf_t *kc, const char *k, const char *v, char *errbuf, size_t errlen)
{
    return rd_kafka_conf_set(kc, k, v, errbuf, errlen) == RD_KAFKA_CONF_OK;
}

intake_t *intake_new(const conf_t *conf, const char *brokers, const dedup_fp_conf_t *fp,
                     const char *token, char *errbuf, size_t errlen)
{
    intake_t *it = calloc(1, sizeof(*it));
    if (!it) return NULL;
    it->conf = conf;
    it->limits = (ingest_limits_t){conf->ingest.max_message_bytes, conf->ingest.max_labels,
                                   conf->ingest.max_name_bytes, conf->ingest.max_value_bytes,
                                   conf->ingest.max_annotation_bytes};
    it->fp = *fp;
    it->max_alerts = conf->http.max_alerts;
    it->topic = strdup(conf->kafka.topics.items[0]);
    if (token && *token) it->token = strdup(token);
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", PUBLISH_TIMEOUT_MS);
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    bool ok = kset(kc, "bootstrap.servers", brokers, errbuf, errlen) &&
              kset(kc, "enable.idempotence", "true", errbuf, errlen) &&
              kset(kc, "acks", "all", errbuf, errlen) &&
              kset(kc, "linger.ms", "1", errbuf, errlen) &&
              kset(kc, "message.timeout.ms", timeout, errbuf, errlen);
    for (size_t i = 0; ok && i < conf->kafka.n_properties; i++) {
        const conf_kv_t *p = &conf->kafka.properties[i];
        /* Consumer-only settings stay with the consumer (as in router/). */
        if (strcmp(p->key, "group.id") == 0 || strncmp(p->key, "enable.auto", 11) == 0 ||
            strncmp(p->key, "auto.", 5) == 0 || strncmp(p->key, "fetch.", 6) == 0 ||
            strncmp(p->key, "session.", 8) == 0 || strncmp(p->key, "statistics.", 11) == 0 ||
            strcmp(p->key, "partition.assignment.strategy") == 0)
            continue;
        ok = kset(kc, p->key, p->value, errbuf, errlen);
    }
    if (!ok || !it->topic) {
        rd_kafka_conf_destroy(kc);
        intake_destroy(it);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
    rd_kafka_conf_set_log_cb(kc, log_kafka_cb);
    it->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, errlen);
    if (!it->rk) {
        intake_destroy(it);
        return NULL;
    }
    if (pthread_create(&it->poller, NULL, poller_main, it) != 0) {
        snprintf(errbuf, errlen, "intake: cannot start the delivery report thread");
        intake_destroy(it);
        return NULL;
    }
    pthread_setname_np(it->poller, "quell-intake");
    it->poller_started = true;
    return it;
}

void intake_destroy(intake_t *it)
{
    if (!it) return;
    if (it->poller_started) {
        atomic_store_explicit(&it->stop, true, memory_order_release);
        pthread_join(it->poller, NULL);
    }
    if (it->rk) {
        rd_kafka_flush(it->rk, PUBLISH_TIMEOUT_MS);
        rd_kafka_destroy(it->rk);
    }
    free(it->topic);
    free(it->token);
    free(it);
}

void intake_stats(intake_t *it, intake_stats_t *out)
{
    for (int a = 0; a < INTAKE_API__COUNT; a++) {
        out->alerts[a] = atomic_load_explicit(&it->alerts[a], memory_order_relaxed);
        for (int c = 0; c < INTAKE_CODE__COUNT; c++)
            out->requests[a][c] = atomic_load_explicit(&it->requests[a][c], memory_order_relaxed);
    }
}

const char *intake_api_str(intake_api_t a)
{
    return a == INTAKE_API_ALERTMANAGER ? "alertmanager" : "pagerduty";
}

static const int code_values[INTAKE_CODE__COUNT] = {200, 202, 400, 401, 413, 422, 503};

int intake_code_value(intake_code_t c) { return code_values[c]; }

static void count(intake_t *it, intake_api_t api, int status)
{
    for (int c = 0; c < INTAKE_CODE__COUNT; c++)
        if (code_values[c] == status)
            atomic_fetch_add_explicit(&it->requests[api][c], 1, memory_order_relaxed);
}

typedef struct {
    char *value;
    size_t len;
    char key[17];
} out_msg_t;

/* Publishes every message and waits for every acknowledgement. Returns 0,
 * or the first Kafka error. */
static rd_kafka_resp_err_t publish(intake_t *it, intake_api_t api, const out_msg_t *msgs, size_t n,
                                   int *failed_out)
{
    publish_t p = {.pending = 0};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.done, NULL);
    int64_t deadline = clock_mono_ns() + (int64_t)PUBLISH_TIMEOUT_MS * 1000000;
    const char *ct = "application/json";
    const char *src = api == INTAKE_API_ALERTMANAGER ? "http:alertmanager" : "http:pagerduty";
    size_t produced = 0;
    rd_kafka_resp_err_t err = 0;
    for (; produced < n; produced++) {
        pthread_mutex_lock(&p.mu);
        p.pending++;
        pthread_mutex_unlock(&p.mu);
        for (;;) {
            err = rd_kafka_producev(it->rk, RD_KAFKA_V_TOPIC(it->topic),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_VALUE(msgs[produced].value, msgs[produced].len),
                                    RD_KAFKA_V_KEY(msgs[produced].key, 16),
                                    RD_KAFKA_V_HEADER("content-type", ct, (ssize_t)strlen(ct)),
                                    RD_KAFKA_V_HEADER("quell-source", src, (ssize_t)strlen(src)),
                                    RD_KAFKA_V_OPAQUE(&p), RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || clock_mono_ns() > deadline) break;
            struct timespec ts = {0, 2000000}; /* the queue drains as the broker acks */
            nanosleep(&ts, NULL);
        }
        if (err) {
            pthread_mutex_lock(&p.mu);
            p.pending--;
            pthread_mutex_unlock(&p.mu);
            break;
        }
    }
    /* Every produced message gets its report within message.timeout.ms, so
     * this wait ends; the request must not return before it does. */
    pthread_mutex_lock(&p.mu);
    while (p.pending > 0) pthread_cond_wait(&p.done, &p.mu);
    if (!err) err = p.first_err;
    *failed_out = p.failed + (int)(n - produced);
    pthread_mutex_unlock(&p.mu);
    pthread_cond_destroy(&p.done);
    pthread_mutex_destroy(&p.mu);
    if (!err && produced) atomic_fetch_add_explicit(&it->alerts[api], n, memory_order_relaxed);
    return err;
}

/* ---- Alertmanager: POST /api/v2/alerts -------------------------------- */

/* Refusals in the shape Alertmanager 0.25 gives them (checked against a
 * running one): on /api/v2/alerts a JSON string, on Prometheus's v1 path
 * {"status":"error","errorType":...,"error":...}. The text is quell's. */
static void am_fail(intake_t *it, const http_req_t *req, http_resp_t *resp, int status,
                    const char *msg)
{
    if (status != 503)
        LOG_LIMITED(LOG_WARN, "intake", "alertmanager-refused", 10000,
                    "refused POST %s with %d: %s", req->path, status, msg);
    else
        LOG_LIMITED(LOG_ERROR, "intake", "alertmanager-unavailable", 10000, "POST %s: %s",
                    req->path, msg);
    resp->status = status;
    resp->content_type = "application/json";
    if (!strncmp(req->path, "/api/v1/", 8)) {
        mbuf_printf(&resp->body, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":\"",
                    status == 503 ? "unavailable" : "bad_data");
        mbuf_json_str(&resp->body, msg, strlen(msg));
        mbuf_append(&resp->body, "\"}", 2);
    } else {
        mbuf_append(&resp->body, "\"", 1);
        mbuf_json_str(&resp->body, msg, strlen(msg));
        mbuf_append(&resp->body, "\"", 1);
    }
    count(it, INTAKE_API_ALERTMANAGER, status);
}

/* Go's url.ParseRequestURI accepting `s`, what go-swagger's "uri" format
 * asks of a generatorURL: no control byte; an absolute path, or a scheme
 * ([A-Za-z][A-Za-z0-9+.-]*:) then an opaque part or //authority whose host
 * has only the characters Go allows there and a numeric port. */
static bool go_request_uri(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return false;
    if (*s == '/') return true;
    const char *p = s;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) return false;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    if (*p != ':') return false;
    const char *rest = p + 1;
    if (strncmp(rest, "//", 2) != 0) return true; /* opaque, or an absolute path */
    const char *auth = rest + 2, *auth_end = auth + strcspn(auth, "/?#");
    const char *host = auth;
    for (const char *q = auth; q < auth_end; q++)
        if (*q == '@') host = q + 1;
    const char *port = NULL;
    if (*host != '[')
        for (const char *q = host; q < auth_end; q++)
            if (*q == ':') port = q;
    for (const char *q = host; q < (port ? port : auth_end); q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
              (unsigned char)*q >= 0x80 || strchr("-._~!$&'()*+,;=:[]<>\"%", *q)))
            return false;
    for (const char *q = port ? port + 1 : auth_end; q < auth_end; q++)
        if (*q < '0' || *q > '9') return false;
    return true;
}

/* go-swagger's validation of a postableAlerts body, as Alertmanager 0.25
 * answers it before its own checks: the first alert, in order, with a
 * generatorURL that is no URI (601) or without labels (602) gets 422 with
 * its index. false when the body passes (or is no JSON array: the
 * decoder's refusal says why). */
static bool swagger_refuses(const http_req_t *req, http_resp_t *resp)
{
    cJSON *root = cJSON_ParseWithLength(req->body, req->body_len);
    const cJSON *el;
    int k = 0;
    bool refused = false;
    const cJSON *arr = cJSON_IsArray(root) ? root : NULL;
    cJSON_ArrayForEach(el, arr)
    {
        if (cJSON_IsObject(el)) {
            const cJSON *url = cJSON_GetObjectItemCaseSensitive(el, "generatorURL");
            const cJSON *labels = cJSON_GetObjectItemCaseSensitive(el, "labels");
            if (cJSON_IsString(url) && *url->valuestring && !go_request_uri(url->valuestring)) {
                mbuf_printf(&resp->body,
                            "{\"code\":601,\"message\":\"%d.generatorURL in body must be of type "
                            "uri: \\\"",
                            k);
                mbuf_t v = {0};
                mbuf_json_str(&v, url->valuestring, strlen(url->valuestring));
                /* the value is quoted inside the message: escape it twice */
                mbuf_json_str(&resp->body, v.buf ? v.buf : "", v.len);
                mbuf_free(&v);
                mbuf_append(&resp->body, "\\\"\"}", 4);
                refused = true;
            } else if (!labels || cJSON_IsNull(labels)) {
                mbuf_printf(&resp->body,
                            "{\"code\":602,\"message\":\"%d.labels in body is required\"}", k);
                refused = true;
            }
        }
        if (refused) break;
        k++;
    }
    cJSON_Delete(root);
    if (refused) {
        resp->status = 422;
        resp->content_type = "application/json";
    }
    return refused;
}

void intake_alertmanager(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    intake_t *it = ctx;
    size_t i = 0;
    while (i < req->body_len && strchr(" \t\r\n", req->body[i])) i++;
    if (i == req->body_len && strncmp(req->path, "/api/v1/", 8) != 0) {
        /* go-swagger's answer to no body at all */
        resp->status = 422;
        resp->content_type = "application/json";
        mbuf_printf(&resp->body, "{\"code\":602,\"message\":\"alerts in body is required\"}");
        count(it, INTAKE_API_ALERTMANAGER, 422);
        return;
    }
    if (i == req->body_len || req->body[i] != '[') {
        am_fail(it, req, resp, 400, "expected a JSON array of postable alerts");
        return;
    }
    if (strncmp(req->path, "/api/v1/", 8) != 0 && swagger_refuses(req, resp)) {
        LOG_LIMITED(LOG_WARN, "intake", "alertmanager-refused", 10000,
                    "refused POST %s with 422: %.*s", req->path, (int)resp->body.len,
                    resp->body.buf ? resp->body.buf : "");
        count(it, INTAKE_API_ALERTMANAGER, 422);
        return;
    }
    arena_t arena;
    arena_init(&arena, 64 * 1024);
    char errbuf[512];
    alert_t *alerts = NULL;
    size_t n = 0;
    decode_error_t e =
        ingest_decode(&arena, &it->limits, INGEST_FORMAT_JSON, req->body, req->body_len,
                      clock_wall_ms(), &alerts, &n, errbuf, sizeof(errbuf));
    cJSON *root = NULL;
    out_msg_t *msgs = NULL;
    size_t made = 0;
    if (e != DECODE_OK) {
        char msg[600];
        snprintf(msg, sizeof(msg), "invalid alerts (%s): %s; nothing was accepted",
                 decode_error_str(e), errbuf);
        am_fail(it, req, resp, 400, msg);
        goto out;
    }
    /* Alertmanager's Alert.Validate: an endsAt before the startsAt. */
    for (size_t k = 0; k < n; k++)
        if (alerts[k].starts_at_ms && alerts[k].ends_at_ms &&
            alerts[k].ends_at_ms < alerts[k].starts_at_ms) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "invalid alerts: alert %zu: start time must be before end time; nothing was "
                     "accepted",
                     k);
            am_fail(it, req, resp, 400, msg);
            goto out;
        }
    if (n > it->max_alerts) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%zu alerts in one request; http.max_alerts is %zu", n,
                 it->max_alerts);
        am_fail(it, req, resp, 413, msg);
        goto out;
    }
    /* The decoder said every alert is valid; now split the array into one
     * message per alert, each element re-serialized as it was sent. */
    root = cJSON_ParseWithLength(req->body, req->body_len);
    if (!root || !cJSON_IsArray(root) || (size_t)cJSON_GetArraySize(root) != n) {
        am_fail(it, req, resp, 400, "expected a JSON array of postable alerts");
        goto out;
    }
    msgs = calloc(n ? n : 1, sizeof(*msgs));
    if (!msgs) {
        am_fail(it, req, resp, 503, "out of memory");
        goto out;
    }
    const cJSON *el;
    cJSON_ArrayForEach(el, root)
    {
        msgs[made].value = cJSON_PrintUnformatted(el);
        if (!msgs[made].value) break;
        msgs[made].len = strlen(msgs[made].value);
        hex16(dedup_fingerprint(&it->fp, alerts[made].labels, alerts[made].n_labels),
              msgs[made].key);
        made++;
    }
    if (made != n) {
        am_fail(it, req, resp, 503, "out of memory");
        goto out;
    }
    int failed = 0;
    rd_kafka_resp_err_t err = publish(it, INTAKE_API_ALERTMANAGER, msgs, n, &failed);
    if (err) {
        char msg[300];
        snprintf(msg, sizeof(msg), "kafka did not take %d of %zu alerts: %s; retry", failed, n,
                 rd_kafka_err2str(err));
        am_fail(it, req, resp, 503, msg);
        goto out;
    }
    resp->status = 200;
    if (!strncmp(req->path, "/api/v1/", 8)) { /* v1's success body; v2's is empty */
        resp->content_type = "application/json";
        mbuf_printf(&resp->body, "{\"status\":\"success\"}");
    }
    count(it, INTAKE_API_ALERTMANAGER, 200);
out:
    for (size_t k = 0; k < made; k++) cJSON_free(msgs[k].value);
    free(msgs);
    cJSON_Delete(root);
    arena_free(&arena);
}

/* ---- PagerDuty: POST /v2/enqueue -------------------------------------- */

static void pd_answer(intake_t *it, http_resp_t *resp, int status, const char *pd_status,
                      const char *message, const char *error)
{
    LOG_LIMITED(LOG_WARN, "intake", "pagerduty-refused", 10000,
                "refused POST /v2/enqueue with %d: %s", status, error);
    resp->status = status;
    resp->content_type = "application/json";
    mbuf_printf(&resp->body, "{\"status\":\"");
    mbuf_json_str(&resp->body, pd_status, strlen(pd_status));
    mbuf_printf(&resp->body, "\",\"message\":\"");
    mbuf_json_str(&resp->body, message, strlen(message));
    mbuf_printf(&resp->body, "\",\"errors\":[\"");
    mbuf_json_str(&resp->body, error, strlen(error));
    mbuf_printf(&resp->body, "\"]}");
    count(it, INTAKE_API_PAGERDUTY, status);
}

static const char *str_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool blank(const char *s) { return !s || !*s; }

qerr_t intake_pd_to_alert(const char *body, size_t len, char **alert_json, char *dedup_key,
                          size_t key_cap, const char **pd_status, char *errbuf, size_t errlen)
{
    *alert_json = NULL;
    *pd_status = "invalid event";
    cJSON *ev = cJSON_ParseWithLength(body, len);
    if (!ev || !cJSON_IsObject(ev)) {
        cJSON_Delete(ev);
        *pd_status = "Unrecognized object";
        snprintf(errbuf, errlen, "JSON parse error");
        return QERR_INVALID;
    }
    qerr_t rc = QERR_INVALID;
    cJSON *alert = NULL;
    const char *action = str_field(ev, "event_action");
    const char *key = str_field(ev, "dedup_key");
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(ev, "payload");
    bool trigger = action && !strcmp(action, "trigger");
    if (blank(str_field(ev, "routing_key"))) {
        snprintf(errbuf, errlen, "'routing_key' is missing or blank");
        goto out;
    }
    if (!action || (!trigger && strcmp(action, "acknowledge") && strcmp(action, "resolve"))) {
        snprintf(errbuf, errlen,
                 "'event_action' is missing or invalid (must be trigger, acknowledge or resolve)");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(ev, "dedup_key") && !key) {
        snprintf(errbuf, errlen, "'dedup_key' must be a string");
        goto out;
    }
    if (key && strlen(key) > PD_MAX_DEDUP_KEY) {
        snprintf(errbuf, errlen, "'dedup_key' is longer than %d characters", PD_MAX_DEDUP_KEY);
        goto out;
    }
    if (!trigger && blank(key)) {
        snprintf(errbuf, errlen, "'dedup_key' is required for %s events", action);
        goto out;
    }
    if (trigger) {
        const char *sev = str_field(payload, "severity");
        if (!cJSON_IsObject(payload)) {
            snprintf(errbuf, errlen, "'payload' is missing or not an object");
            goto out;
        }
        if (blank(str_field(payload, "summary"))) {
            snprintf(errbuf, errlen, "'payload.summary' is missing or blank");
            goto out;
        }
        if (blank(str_field(payload, "source"))) {
            snprintf(errbuf, errlen, "'payload.source' is missing or blank");
            goto out;
        }
        if (!sev || (strcmp(sev, "critical") && strcmp(sev, "error") && strcmp(sev, "warning") &&
                     strcmp(sev, "info"))) {
            snprintf(errbuf, errlen,
                     "'payload.severity' is missing or invalid (must be critical, error, warning "
                     "or info)");
            goto out;
        }
    }
    if (blank(key)) {
        /* PagerDuty makes one up for a trigger without one; so do we. */
        uint64_t r[2] = {0, 0};
        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) r[0] = (uint64_t)clock_mono_ns();
        char a[17], b[17];
        hex16(r[0], a);
        hex16(r[1], b);
        snprintf(dedup_key, key_cap, "%s%s", a, b);
    } else {
        snprintf(dedup_key, key_cap, "%s", key);
    }

    /* The fingerprint comes from dedup_key alone (and a constant alertname),
     * so a resolve, which has no payload, matches its trigger. Everything
     * else travels as annotations. */
    alert = cJSON_CreateObject();
    cJSON *labels = cJSON_AddObjectToObject(alert, "labels");
    cJSON_AddStringToObject(labels, "alertname", "pagerduty");
    cJSON_AddStringToObject(labels, "dedup_key", dedup_key);
    cJSON *ann = cJSON_AddObjectToObject(alert, "annotations");
    cJSON_AddStringToObject(ann, "pagerduty_action", action);
    static const char *const fields[] = {"summary", "source", "severity", "component",
                                         "group",   "class",  "timestamp"};
    for (size_t i = 0; payload && i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = str_field(payload, fields[i]);
        if (v) cJSON_AddStringToObject(ann, fields[i], v);
    }
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(payload, "custom_details");
    if (details) {
        char *d = cJSON_PrintUnformatted(details);
        if (d) cJSON_AddStringToObject(ann, "custom_details", d);
        cJSON_free(d);
    }
    const char *client = str_field(ev, "client"), *client_url = str_field(ev, "client_url");
    if (client) cJSON_AddStringToObject(ann, "client", client);
    if (client_url) cJSON_AddStringToObject(alert, "generatorURL", client_url);
    cJSON_AddStringToObject(alert, "status", !strcmp(action, "resolve") ? "resolved" : "firing");
    cJSON_AddStringToObject(alert, "source", "pagerduty");
    *alert_json = cJSON_PrintUnformatted(alert);
    rc = *alert_json ? QERR_OK : QERR_NOMEM;
out:
    cJSON_Delete(alert);
    cJSON_Delete(ev);
    return rc;
}

void intake_pagerduty(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    intake_t *it = ctx;
    char errbuf[512], key[PD_MAX_DEDUP_KEY + 1];
    const char *pd_status;
    char *alert_json = NULL;
    if (intake_pd_to_alert(req->body, req->body_len, &alert_json, key, sizeof(key), &pd_status,
                           errbuf, sizeof(errbuf)) != QERR_OK) {
        pd_answer(it, resp, 400, pd_status,
                  !strcmp(pd_status, "invalid event") ? "Event object is invalid"
                                                      : "Event object format is unrecognized",
                  errbuf);
        return;
    }
    if (it->token) {
        /* PagerDuty clients authenticate with routing_key, not a header:
         * either the bearer token or routing_key equal to it will do. */
        const char *h = http_req_header(req, "Authorization");
        bool ok =
            h && !strncasecmp(h, "Bearer ", 7) && http_token_equal(h + 7, strlen(h + 7), it->token);
        if (!ok) {
            cJSON *ev = cJSON_ParseWithLength(req->body, req->body_len);
            const char *rk = str_field(ev, "routing_key");
            ok = rk && http_token_equal(rk, strlen(rk), it->token);
            cJSON_Delete(ev);
        }
        if (!ok) {
            cJSON_free(alert_json);
            pd_answer(it, resp, 401, "unauthorized", "Invalid routing key or token",
                      "routing_key or bearer token does not match http.auth_token_file");
            return;
        }
    }
    /* The same decoder as the consumer: limits on label and annotation
     * sizes apply here too, before anything is published. */
    arena_t arena;
    arena_init(&arena, 16 * 1024);
    alert_t *alerts;
    size_t n;
    decode_error_t e =
        ingest_decode(&arena, &it->limits, INGEST_FORMAT_JSON, alert_json, strlen(alert_json),
                      clock_wall_ms(), &alerts, &n, errbuf, sizeof(errbuf));
    if (e != DECODE_OK || n != 1) {
        pd_answer(it, resp, 400, "invalid event", "Event object is invalid",
                  e != DECODE_OK ? errbuf : "not one alert");
        goto out;
    }
    out_msg_t m = {alert_json, strlen(alert_json), ""};
    hex16(dedup_fingerprint(&it->fp, alerts[0].labels, alerts[0].n_labels), m.key);
    int failed = 0;
    rd_kafka_resp_err_t err = publish(it, INTAKE_API_PAGERDUTY, &m, 1, &failed);
    if (err) {
        resp->status = 503;
        resp->content_type = "application/json";
        mbuf_printf(&resp->body, "{\"status\":\"unavailable\",\"message\":\"");
        mbuf_json_str(&resp->body, rd_kafka_err2str(err), strlen(rd_kafka_err2str(err)));
        mbuf_printf(&resp->body, "\"}");
        count(it, INTAKE_API_PAGERDUTY, 503);
        goto out;
    }
    resp->status = 202;
    resp->content_type = "application/json";
    mbuf_printf(&resp->body,
                "{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":\"");
    mbuf_json_str(&resp->body, key, strlen(key));
    mbuf_printf(&resp->body, "\"}");
    count(it, INTAKE_API_PAGERDUTY, 202);
out:
    arena_free(&arena);
    cJSON_free(alert_json);
}
