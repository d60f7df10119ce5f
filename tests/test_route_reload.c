/*
 * Routing reload end to end: `quell run` (embedded Kafka, alerts posted to
 * its Alertmanager intake) routes to webhook receiver A, a loopback HTTP
 * server (libmicrohttpd, free port). The config is rewritten to route to
 * B and quell gets SIGHUP:
 *   - the reload is counted in /metrics and /api/v2/status shows it;
 *   - new alerts reach B and never A;
 *   - an alert already grouped on A's route resolves there (its group
 *     keeps its route until it closes): nothing is lost;
 *   - a config whose routing does not compile (unknown receiver) is
 *     refused, counted, logged with file:line, and routing to B goes on;
 *   - quell stops cleanly (exit 0).
 * Waits poll a condition until a deadline.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The status (0 when the request failed); the NUL-terminated body in out. */
static long http_do(const char *method, const char *path, const char *body, mbuf_t *out)
{
    return http_client_do(http_port, method, path, body, out);
}

/* quell_config_reloads_total{result="..."}, -1 when not read. */
static long long reloads(const char *result)
{
    mbuf_t b = {0};
    long long v = -1;
    char key[96];
    snprintf(key, sizeof key, "quell_config_reloads_total{result=\"%s\"} ", result);
    if (http_do("GET", "/metrics", NULL, &b) == 200 && b.buf) {
        const char *p = strstr(b.buf, key);
        if (p) v = atoll(p + strlen(key));
    }
    mbuf_free(&b);
    return v;
}

static void post_alert(const char *name, bool resolved)
{
    char body[512], t[40];
    time_format_rfc3339(clock_wall_ms() - 1000, t);
    snprintf(body, sizeof body, "[{\"labels\":{\"alertname\":\"%s\",\"team\":\"db\"}%s%s%s}]", name,
             resolved ? ",\"endsAt\":\"" : "", resolved ? t : "", resolved ? "\"" : "");
    mbuf_t b = {0};
    CHECK_EQ_INT(http_do("POST", "/api/v2/alerts", body, &b), 200);
    mbuf_free(&b);
}

static char dir[64], conf_path[128];

/* Replaces the config as config tools do (a temp file renamed over it). */
static void write_config(const char *receiver, uint16_t port_a, uint16_t port_b)
{
    char tmp[160], yaml[2048];
    snprintf(yaml, sizeof yaml,
             "workers: 1\n"
             "kafka:\n  embedded_partitions: 1\n"
             "http:\n  listen: 127.0.0.1:%d\n"
             "route:\n"
             "  receiver: %s\n"
             "  group_by: [alertname]\n"
             "  group_wait: 50ms\n"
             "  group_interval: 100ms\n"
             "  repeat_interval: 1h\n"
             "receivers:\n"
             "  - name: A\n    type: webhook\n    url: http://127.0.0.1:%u/a\n"
             "  - name: B\n    type: webhook\n    url: http://127.0.0.1:%u/b\n",
             http_port, receiver, port_a, port_b);
    snprintf(tmp, sizeof tmp, "%s.tmp", conf_path);
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(yaml, f);
    fclose(f);
    CHECK(rename(tmp, conf_path) == 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dir, sizeof dir, "/tmp/quell-route-reload-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(conf_path, sizeof conf_path, "%s/quell.yaml", dir);
    char out[128], log[128];
    snprintf(out, sizeof out, "%s/quell.out", dir);
    snprintf(log, sizeof log, "%s/quell.log", dir);
    webhook_sink_t a = {.mu = PTHREAD_MUTEX_INITIALIZER}, b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    CHECK(webhook_sink_start(&a, 0) && webhook_sink_start(&b, 0));
    http_port = redis_local_free_port();
    write_config("A", a.port, b.port);
    pid_t pid = harness_quell_start(conf_path, out, log);
    mbuf_t m = {0};
    bool ready = false;
    for (int i = 0; i < 600 && !ready; i++) { /* the group's first assignment */
        ready = http_do("GET", "/-/ready", NULL, &m) == 200;
        if (!ready) harness_sleep_ms(50);
    }
    CHECK(ready);

    /* Generation 1: to A. */
    post_alert("Before1", false);
    HARNESS_WAIT_UNTIL(webhook_sink_matching(&a, "Before1", NULL) > 0, 15000);
    CHECK_EQ_INT(webhook_sink_matching(&a, "Before1", NULL), 1);
    long long ok0 = reloads("success"), failed0 = reloads("failure");
    CHECK(ok0 >= 1 && failed0 >= 0);

    /* Generation 2: to B. */
    write_config("B", a.port, b.port);
    kill(pid, SIGHUP);
    HARNESS_WAIT_UNTIL(reloads("success") > ok0, 10000);
    CHECK(reloads("success") > ok0);
    CHECK_EQ_INT(reloads("failure"), failed0);
    CHECK_EQ_INT(http_do("GET", "/api/v2/status", NULL, &m), 200);
    CHECK(m.buf && strstr(m.buf, "receiver: \\\"B\\\""));
    post_alert("After1", false);
    HARNESS_WAIT_UNTIL(webhook_sink_matching(&b, "After1", NULL) > 0, 10000);
    CHECK_EQ_INT(webhook_sink_matching(&b, "After1", NULL), 1);
    /* Before1's group was notified on A's route: it resolves there. */
    post_alert("Before1", true);
    HARNESS_WAIT_UNTIL(webhook_sink_matching(&a, "Before1", "\"status\":\"resolved\"") > 0, 10000);
    CHECK_EQ_INT(webhook_sink_matching(&a, "Before1", "\"status\":\"resolved\""), 1);

    /* A routing that does not compile is refused as a whole. */
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", conf_path);
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f,
                "workers: 1\nkafka:\n  embedded_partitions: 1\nhttp:\n  listen: 127.0.0.1:%d\n"
                "route:\n  receiver: nowhere\nreceivers:\n"
                "  - name: A\n    type: webhook\n    url: http://127.0.0.1:%u/a\n",
                http_port, a.port);
        fclose(f);
        CHECK(rename(tmp, conf_path) == 0);
    }
    long long ok1 = reloads("success");
    kill(pid, SIGHUP);
    HARNESS_WAIT_UNTIL(reloads("failure") > failed0, 10000);
    CHECK(reloads("failure") > failed0);
    CHECK_EQ_INT(reloads("success"), ok1);
    post_alert("After2", false);
    HARNESS_WAIT_UNTIL(webhook_sink_matching(&b, "After2", NULL) > 0, 10000);
    CHECK_EQ_INT(webhook_sink_matching(&b, "After2", NULL), 1);

    CHECK_EQ_INT(harness_quell_stop(pid, 30000), 0);
    /* The refusal names the place in the file. */
    FILE *lf = fopen(log, "r");
    char line[2048];
    bool named = false;
    char where[160];
    snprintf(where, sizeof where, "%s:", conf_path);
    while (lf && fgets(line, sizeof line, lf))
        if (strstr(line, "reload refused") && strstr(line, where)) named = true;
    if (lf) fclose(lf);
    CHECK(named);
    CHECK_EQ_INT(webhook_sink_matching(&a, "After", NULL), 0);
    if (check_failures) harness_dump_file(log);
    mbuf_free(&m);
    webhook_sink_free(&a);
    webhook_sink_free(&b);
    if (!check_failures) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    curl_global_cleanup();
    return check_summary("route_reload");
}
