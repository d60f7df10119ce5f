/*
 * Alerts that stop arriving resolve, end to end: `quell run` (embedded
 * Kafka, alerts posted to its Alertmanager intake, global.resolve_timeout
 * short) routes to a webhook receiver, a loopback HTTP server
 * (libmicrohttpd, free port):
 *   - an alert posted once, without endsAt: its firing notification, then
 *     its group's resolved notification no sooner than resolve_timeout
 *     after it was posted (endsAt set), the group closed;
 *   - an alert posted again and again (the dedup workers fold the
 *     repeats; the group learns of them from the decision log) stays
 *     firing while it is posted, and resolves resolve_timeout after the
 *     last time;
 *   - an alert with endsAt resolves at it, its own endsAt in the payload;
 *   - the first alert posted again after it resolved opens a new group,
 *     paged again;
 *   - GET /api/v2/alerts shows an alert without endsAt with endsAt =
 *     updatedAt + resolve_timeout (Alertmanager's, at receipt).
 * Waits poll a condition until a deadline, stretched under sanitizers.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "check.h"
#include "harness.h"
#include "http_client.h"
#include "webhook_sink.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "redis_local.h" /* redis_local_free_port */
#pragma GCC diagnostic pop

static int http_port;

/* Posts alertname=name (firing), with `ends_at` (RFC 3339) when given;
 * returns when it was posted (wall clock). */
static int64_t post_alert(const char *name, const char *ends_at)
{
    char body[512];
    snprintf(body, sizeof body, "[{\"labels\":{\"alertname\":\"%s\",\"team\":\"db\"}%s%s%s}]", name,
             ends_at ? ",\"endsAt\":\"" : "", ends_at ? ends_at : "", ends_at ? "\"" : "");
    mbuf_t b = {0};
    int64_t at = clock_wall_ms();
    CHECK_EQ_INT(http_client_do(http_port, "POST", "/api/v2/alerts", body, &b), 200);
    mbuf_free(&b);
    return at;
}

/* The arrival time of the first request whose body holds a and b after
 * the first `skip` such requests; 0 when there is none. */
static int64_t arrival(webhook_sink_t *s, const char *a, const char *b, int skip)
{
    int64_t at = 0;
    pthread_mutex_lock(&s->mu);
    int n = s->n_req < WEBHOOK_SINK_MAX ? s->n_req : WEBHOOK_SINK_MAX;
    for (int i = 0; i < n && !at; i++)
        if (s->body[i] && strstr(s->body[i], a) && (!b || strstr(s->body[i], b)) && skip-- <= 0)
            at = s->at_ms[i];
    pthread_mutex_unlock(&s->mu);
    return at;
}

#define FIRING   "\"status\":\"firing\""
#define RESOLVED "\"status\":\"resolved\""

int main(void)
{
    const char *sc = getenv("QUELL_TIME_SCALE");
    const int scale = sc && atoi(sc) > 0 ? atoi(sc) : 1;
    const int64_t resolve_ms = 2000 * scale;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char dir[64], conf_path[128], out[128], log[128];
    snprintf(dir, sizeof dir, "/tmp/quell-resolve-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(conf_path, sizeof conf_path, "%s/quell.yaml", dir);
    snprintf(out, sizeof out, "%s/quell.out", dir);
    snprintf(log, sizeof log, "%s/quell.log", dir);
    webhook_sink_t a = {.mu = PTHREAD_MUTEX_INITIALIZER};
    CHECK(webhook_sink_start(&a, 0));
    http_port = redis_local_free_port();
    FILE *f = fopen(conf_path, "w");
    CHECK(f != NULL);
    if (!f) return check_summary("resolve_timeout");
    /* dedup.window shorter than resolve_timeout, so an alert posted again
     * after its group resolved opens a new incident (see docs/routing.md). */
    fprintf(f,
            "workers: 1\n"
            "kafka:\n  embedded_partitions: 1\n"
            "http:\n  listen: 127.0.0.1:%d\n"
            "dedup:\n  window: %dms\n"
            "global:\n  resolve_timeout: %lldms\n"
            "route:\n"
            "  receiver: A\n"
            "  group_by: [alertname]\n"
            "  group_wait: 100ms\n"
            "  group_interval: 300ms\n"
            "  repeat_interval: 1h\n"
            "receivers:\n"
            "  - name: A\n    type: webhook\n    url: http://127.0.0.1:%u/a\n",
            http_port, 1000 * scale, (long long)resolve_ms, a.port);
    fclose(f);
    pid_t pid = harness_quell_start(conf_path, out, log);
    mbuf_t m = {0};
    bool ready = false;
    for (int i = 0; i < 600 && !ready; i++) { /* the group's first assignment */
        ready = http_client_do(http_port, "GET", "/-/ready", NULL, &m) == 200;
        if (!ready) harness_sleep_ms(50);
    }
    CHECK(ready);

    /* Posted once: firing, then resolved by time. */
    int64_t gone_at = post_alert("Gone", NULL);
    char ends[40];
    int64_t ends_ms = clock_wall_ms() + resolve_ms / 2;
    time_format_rfc3339(ends_ms, ends);
    post_alert("Ends", ends);
    const char *gone = "\"alertname\":\"Gone\"";
    HARNESS_WAIT_UNTIL(arrival(&a, gone, FIRING, 0), 10000 * scale);
    CHECK(arrival(&a, gone, FIRING, 0) > 0);
    CHECK_EQ_INT(arrival(&a, gone, RESOLVED, 0), 0);

    /* The API shows endsAt = receipt + resolve_timeout. */
    int64_t posted = post_alert("Api", NULL);
    bool listed = false;
    for (int i = 0; i < 100 && !listed; i++) {
        listed = http_client_do(http_port, "GET", "/api/v2/alerts?filter=alertname%3D%22Api%22",
                                NULL, &m) == 200 &&
                 strstr(m.buf, "\"Api\"");
        if (!listed) harness_sleep_ms(20);
    }
    CHECK(listed);
    const char *e = listed ? strstr(m.buf, "\"endsAt\":\"") : NULL;
    const char *u = listed ? strstr(m.buf, "\"updatedAt\":\"") : NULL;
    int64_t e_ms = 0, u_ms = 0;
    CHECK(e && u && time_parse_rfc3339(e + 10, 24, &e_ms) && time_parse_rfc3339(u + 13, 24, &u_ms));
    CHECK(u_ms >= posted - 1000 && u_ms <= clock_wall_ms() + 1000);
    CHECK(e_ms - u_ms >= resolve_ms - 1000 && e_ms - u_ms <= resolve_ms + 1000);

    /* Posted again and again: firing all along, the repeats folded. */
    int64_t kept_last = 0, kept_until = clock_wall_ms() + 2 * resolve_ms + 1000;
    while (clock_wall_ms() < kept_until) {
        kept_last = post_alert("Kept", NULL);
        harness_sleep_ms(resolve_ms / 5);
    }
    const char *kept = "\"alertname\":\"Kept\"";
    CHECK(arrival(&a, kept, FIRING, 0) > 0);
    CHECK_EQ_INT(arrival(&a, kept, RESOLVED, 0), 0);

    /* Meanwhile Gone and Ends resolved: Gone no sooner than its
     * resolve_timeout, Ends at its endsAt, which its payload shows. */
    HARNESS_WAIT_UNTIL(arrival(&a, gone, RESOLVED, 0), 10000 * scale);
    int64_t gone_resolved = arrival(&a, gone, RESOLVED, 0);
    CHECK(gone_resolved >= gone_at + resolve_ms);
    const char *endsn = "\"alertname\":\"Ends\"";
    HARNESS_WAIT_UNTIL(arrival(&a, endsn, RESOLVED, 0), 10000 * scale);
    int64_t ends_resolved = arrival(&a, endsn, RESOLVED, 0);
    CHECK(ends_resolved >= ends_ms);
    char want[64];
    snprintf(want, sizeof want, "\"endsAt\":\"%s\"", ends);
    CHECK_EQ_INT(webhook_sink_matching(&a, endsn, want), 1);

    /* Kept stops: resolved resolve_timeout after its last post. */
    HARNESS_WAIT_UNTIL(arrival(&a, kept, RESOLVED, 0), 10000 * scale);
    CHECK(arrival(&a, kept, RESOLVED, 0) >= kept_last + resolve_ms);
    CHECK_EQ_INT(webhook_sink_matching(&a, kept, RESOLVED), 1);

    /* Gone again, after its group closed: a new group, paged again. */
    post_alert("Gone", NULL);
    HARNESS_WAIT_UNTIL(arrival(&a, gone, FIRING, 1), 10000 * scale);
    CHECK(arrival(&a, gone, FIRING, 1) > gone_resolved);

    CHECK_EQ_INT(harness_quell_stop(pid, 30000), 0);
    if (check_failures) harness_dump_file(log);
    mbuf_free(&m);
    webhook_sink_free(&a);
    harness_dir_done(dir, check_failures != 0);
    curl_global_cleanup();
    return check_summary("resolve_timeout");
}
