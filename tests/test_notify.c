/* The notifier end to end against a local HTTP receiver (libmicrohttpd on
 * a free loopback port, started and stopped here): exact payloads, retries
 * on 500 and timeouts, Retry-After, no retry on 400, dead-lettering, the
 * rate-limit digest, and nothing lost while the receiver is down. Holds
 * (msg_track_t) must be released exactly when delivered or dead-lettered. */
#include <pthread.h>
#include <time.h>

#include "../router/router_int.h"
#include "check.h"
#include "webhook_sink.h"

/* ---- the notifier under test ----------------------------------------- */

typedef struct {
    int n;
    char reason[8][256];
    char body[8][4096];
} dlq_t;

static void on_dead_letter(void *ctx, const receiver_t *rcv, const char *body, size_t len,
                           const char *reason)
{
    (void)rcv;
    dlq_t *d = ctx;
    if (d->n < 8) {
        snprintf(d->reason[d->n], sizeof(d->reason[0]), "%s", reason);
        snprintf(d->body[d->n], sizeof(d->body[0]), "%.*s", (int)len, body);
    }
    d->n++;
}

typedef struct {
    conf_t conf;
    routing_t *rt;
    notifier_t *n;
    dlq_t dlq;
    int64_t skew_ms; /* added to the wall clock: lets a test jump a minute */
} rig_t;

static bool rig_new(rig_t *r, const char *yaml)
{
    memset(r, 0, sizeof(*r));
    char err[512] = "";
    conf_defaults(&r->conf);
    if (conf_load_buffer(&r->conf, "t.yml", yaml, strlen(yaml), err, sizeof(err)) != QERR_OK ||
        routing_compile(&r->conf, &r->rt, err, sizeof(err)) != QERR_OK || !r->rt) {
        fprintf(stderr, "config: %s\n", err);
        return false;
    }
    notifier_opts_t o = {.routing = r->rt,
                         .dead_letter = on_dead_letter,
                         .dead_letter_ctx = &r->dlq,
                         .now_ms = clock_wall_ms(),
                         .tick_ms = 10};
    r->n = notifier_new(&o, err, sizeof(err));
    return r->n != NULL;
}

static void rig_free(rig_t *r)
{
    notifier_destroy(r->n);
    routing_destroy(r->rt);
    conf_free(&r->conf);
}

static int64_t now(rig_t *r) { return clock_wall_ms() + r->skew_ms; }

static double scale(void)
{
    const char *s = getenv("QUELL_TIME_SCALE");
    return s ? atof(s) : 1.0;
}

/* Runs the notifier until cond() or the deadline. */
#define RUN_UNTIL(r, cond, ms)                                                                     \
    do {                                                                                           \
        int64_t dl_ = clock_wall_ms() + (int64_t)((ms)*scale());                                   \
        while (!(cond) && clock_wall_ms() < dl_) notifier_run((r)->n, now(r), 5);                  \
    } while (0)

#define L(n, v)                                                                                    \
    {                                                                                              \
        {n, sizeof(n) - 1}, { v, sizeof(v) - 1 }                                                   \
    }

static void submit(rig_t *r, const char *id, uint64_t fp, msg_track_t *t)
{
    label_t l[] = {L("alertname", "Down"), {{"id", 2}, {id, (uint32_t)strlen(id)}}};
    label_t ann[] = {L("summary", "it is down")};
    alert_t a = {.labels = l,
                 .n_labels = 2,
                 .annotations = ann,
                 .n_annotations = 1,
                 .fingerprint = fp,
                 .starts_at_ms = 1767225600000LL};
    incident_t inc = {.kind = DECISION_FORWARD_NEW,
                      .count = 1,
                      .fingerprint = fp,
                      .first_seen_ms = 1767225600000LL,
                      .last_seen_ms = 1767225600000LL,
                      .severity = 1};
    CHECK(notifier_submit(r->n, &a, &inc, t, now(r)) == QERR_OK);
}

static void submit_status(rig_t *r, const char *id, uint64_t fp, msg_track_t *t, bool resolved)
{
    label_t l[] = {L("alertname", "Down"), {{"id", 2}, {id, (uint32_t)strlen(id)}}};
    alert_t a = {.labels = l,
                 .n_labels = 2,
                 .fingerprint = fp,
                 .status = resolved ? ALERT_RESOLVED : ALERT_FIRING,
                 .starts_at_ms = 1767225600000LL};
    incident_t inc = {.kind = resolved ? DECISION_FORWARD_RESOLVED : DECISION_FORWARD_NEW,
                      .count = 1,
                      .fingerprint = fp,
                      .first_seen_ms = 1767225600000LL,
                      .last_seen_ms = 1767225600000LL};
    CHECK(notifier_submit(r->n, &a, &inc, t, now(r)) == QERR_OK);
}

static char *config(const char *type, uint16_t port, const char *extra)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "route:\n  receiver: rx\n  group_by: [id]\n  group_wait: 0s\n  group_interval: 1s\n"
             "receivers:\n  - name: rx\n    type: %s\n    url: http://127.0.0.1:%u/hook\n"
             "    routing_key: KEY\n    timeout: 500ms\n%s%s",
             type, port, strstr(extra, "backoff") ? "" : "    backoff: 20ms\n", extra);
    return buf;
}

static void test_exact_payload_and_retry_on_500(void)
{
    webhook_sink_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .status = {500, 500}};
    CHECK(webhook_sink_start(&s, 0));
    rig_t r;
    CHECK(rig_new(&r, config("webhook", s.port, "")));
    msg_track_t t = {.pending = 1};
    submit(&r, "a", 0x42, &t);
    RUN_UNTIL(&r, atomic_load(&t.pending) == 0, 5000);
    CHECK_EQ_INT(t.pending, 0);
    CHECK_EQ_INT(webhook_sink_requests(&s), 3);
    CHECK_EQ_STR(s.content_type, "application/json");
    const char *want =
        "{\"receiver\":\"rx\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\","
        "\"labels\":{\"alertname\":\"Down\",\"id\":\"a\"},\"annotations\":{\"summary\":\"it is "
        "down\"},\"startsAt\":\"2026-01-01T00:00:00.000Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
        "\"generatorURL\":\"\",\"fingerprint\":\"0000000000000042\"}],\"groupLabels\":{\"id\":"
        "\"a\"},\"commonLabels\":{\"alertname\":\"Down\",\"id\":\"a\"},\"commonAnnotations\":{"
        "\"summary\":\"it is down\"},\"externalURL\":\"\",\"version\":\"4\",\"groupKey\":\"{}:{id="
        "\\\"a\\\"}\",\"truncatedAlerts\":0}";
    CHECK_EQ_STR(s.body[2], want);
    CHECK_EQ_STR(s.body[0], want); /* retries send the same bytes */
    notifier_stats_t st;
    notifier_stats(r.n, &st);
    CHECK_EQ_INT(st.retries, 2);
    CHECK_EQ_INT(st.delivered[RECV_WEBHOOK], 1);
    CHECK_EQ_INT(r.dlq.n, 0);
    rig_free(&r);
    webhook_sink_free(&s);
}

static void test_timeout_and_retry_after(void)
{
    /* First answer comes after the 500 ms timeout; the second is a 429
     * asking for 1 s; the third succeeds. */
    webhook_sink_t s = {.mu = PTHREAD_MUTEX_INITIALIZER,
                        .delay_ms = {1500},
                        .status = {200, 429},
                        .retry_after_s = {0, 1}};
    CHECK(webhook_sink_start(&s, 0));
    rig_t r;
    CHECK(rig_new(&r, config("pagerduty", s.port, "")));
    msg_track_t t = {.pending = 1};
    submit(&r, "b", 0x43, &t);
    RUN_UNTIL(&r, atomic_load(&t.pending) == 0, 8000);
    CHECK_EQ_INT(t.pending, 0);
    CHECK_EQ_INT(webhook_sink_requests(&s), 3);
    CHECK(s.at_ms[2] - s.at_ms[1] >= 950); /* Retry-After: 1, not the 20 ms backoff */
    CHECK(strstr(s.body[2], "\"event_action\":\"trigger\"") != NULL);
    CHECK(strstr(s.body[2], "\"severity\":\"critical\"") != NULL);
    CHECK_EQ_INT(r.dlq.n, 0);
    rig_free(&r);
    webhook_sink_free(&s);
}

static void test_dead_letters(void)
{
    /* 400: not retried. 503 forever: dead-lettered after max_retries. */
    webhook_sink_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .status = {400, 503, 503, 503}};
    CHECK(webhook_sink_start(&s, 0));
    rig_t r;
    CHECK(rig_new(&r, config("slack", s.port, "    max_retries: 2\n    max_in_flight: 1\n")));
    msg_track_t t1 = {.pending = 1}, t2 = {.pending = 1};
    submit(&r, "c", 0x44, &t1);
    RUN_UNTIL(&r, atomic_load(&t1.pending) == 0, 5000);
    submit(&r, "d", 0x45, &t2);
    RUN_UNTIL(&r, atomic_load(&t2.pending) == 0, 5000);
    CHECK_EQ_INT(t1.pending, 0);
    CHECK_EQ_INT(t2.pending, 0);
    CHECK_EQ_INT(webhook_sink_requests(&s), 4);
    CHECK_EQ_INT(r.dlq.n, 2);
    CHECK_EQ_STR(r.dlq.reason[0], "HTTP 400 after 1 attempt");
    CHECK_EQ_STR(r.dlq.reason[1], "HTTP 503 after 3 attempts");
    CHECK(strncmp(r.dlq.body[1], "{\"text\":\":red_circle: *[FIRING:1] Down* `id=d`", 46) == 0);
    rig_free(&r);
    webhook_sink_free(&s);
}

static void test_rate_limit_digest(void)
{
    webhook_sink_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    CHECK(webhook_sink_start(&s, 0));
    rig_t r;
    CHECK(rig_new(&r, config("webhook", s.port, "    rate_limit: 2\n")));
    msg_track_t t[5];
    const char *ids[] = {"1", "2", "3", "4", "5"};
    for (int i = 0; i < 5; i++) {
        t[i] = (msg_track_t){.pending = 1};
        submit(&r, ids[i], 0x100 + (uint64_t)i, &t[i]);
    }
    RUN_UNTIL(&r, webhook_sink_requests(&s) >= 2 && notifier_pending(r.n) == 1, 3000);
    RUN_UNTIL(&r, 0, 200); /* nothing more goes out within the minute */
    CHECK_EQ_INT(webhook_sink_requests(&s), 2);
    int held = 0;
    for (int i = 0; i < 5; i++) held += atomic_load(&t[i].pending);
    CHECK_EQ_INT(held, 3); /* folded into the digest, not dropped */
    r.skew_ms = 61000;     /* the minute ends */
    RUN_UNTIL(&r, webhook_sink_requests(&s) >= 3 && notifier_pending(r.n) == 0, 3000);
    CHECK_EQ_INT(webhook_sink_requests(&s), 3);
    CHECK(strstr(s.body[2], "3 more notifications for receiver rx held back by its rate limit "
                            "(2 per minute)") != NULL);
    held = 0;
    for (int i = 0; i < 5; i++) held += atomic_load(&t[i].pending);
    CHECK_EQ_INT(held, 0);
    notifier_stats_t st;
    notifier_stats(r.n, &st);
    CHECK_EQ_INT(st.rate_limited, 3);
    CHECK_EQ_INT(st.digests, 1);
    rig_free(&r);
    webhook_sink_free(&s);
}

static void test_receiver_down_a_while(void)
{
    webhook_sink_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    CHECK(webhook_sink_start(&s, 0));
    uint16_t port = s.port;
    webhook_sink_stop(&s); /* down: connections refused */
    rig_t r;
    if (!rig_new(&r, config("webhook", port, "    max_retries: 30\n    backoff: 50ms\n"))) {
        CHECK(0);
        return;
    }
    enum { N = 10 };
    msg_track_t t[N];
    for (int i = 0; i < N; i++) {
        char id[8];
        snprintf(id, sizeof(id), "%d", i);
        t[i] = (msg_track_t){.pending = 1};
        submit(&r, id, 0x200 + (uint64_t)i, &t[i]);
    }
    RUN_UNTIL(&r, 0, 1000);
    int held = 0;
    for (int i = 0; i < N; i++) held += atomic_load(&t[i].pending);
    CHECK_EQ_INT(held, N); /* nothing acknowledged while it is down */
    CHECK(webhook_sink_start(&s, port));
    RUN_UNTIL(&r, notifier_pending(r.n) == 0, 10000);
    held = 0;
    for (int i = 0; i < N; i++) held += atomic_load(&t[i].pending);
    CHECK_EQ_INT(held, 0);
    CHECK_EQ_INT(webhook_sink_requests(&s), N);
    CHECK_EQ_INT(r.dlq.n, 0);
    rig_free(&r);
    webhook_sink_free(&s);
}

static void test_file_and_continue(void)
{
    char path[] = "/tmp/quell-notify-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "route:\n  receiver: f\n  group_wait: 0s\n  routes:\n"
             "    - matchers: ['alertname=\"Down\"']\n      receiver: f\n      continue: true\n"
             "    - matchers: ['id=~\"[0-9]+\"']\n      receiver: f\n      group_by: [id]\n"
             "receivers:\n  - {name: f, type: file, path: '%s'}\n",
             path);
    rig_t r;
    CHECK(rig_new(&r, yaml));
    msg_track_t t = {.pending = 1};
    submit(&r, "7", 0x300, &t);
    /* Two routes matched: one hold each, both released once written. */
    CHECK_EQ_INT(t.pending, 2);
    RUN_UNTIL(&r, atomic_load(&t.pending) == 0, 3000);
    CHECK_EQ_INT(t.pending, 0);
    char *text = check_read_file(path, NULL);
    int lines = 0;
    for (char *p = text; p && *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 2);
    CHECK(text && strstr(text, "\"group_key\":\"{}/{alertname=\\\"Down\\\"}:{}\"") != NULL);
    CHECK(text && strstr(text, "\"group_key\":\"{}/{id=~\\\"[0-9]+\\\"}:{id=\\\"7\\\"}\"") != NULL);
    free(text);
    rig_free(&r);
    unlink(path);
}

/* A receiver with no integration (Alertmanager's `- name: 'null'`, where
 * Watchdog is routed): its notifications are counted, go nowhere, and
 * release their holds so the input's offsets commit. */
static void test_null_receiver(void)
{
    rig_t r;
    CHECK(rig_new(&r, "route:\n  receiver: 'null'\n  group_wait: 0s\n"
                      "receivers:\n  - name: 'null'\n"));
    CHECK(routing_receiver(r.rt, 0)->kind == RECV_NONE);
    msg_track_t t = {.pending = 1};
    submit(&r, "1", 0x500, &t);
    RUN_UNTIL(&r, atomic_load(&t.pending) == 0, 3000);
    CHECK_EQ_INT(t.pending, 0);
    notifier_stats_t st;
    notifier_stats(r.n, &st);
    CHECK_EQ_INT(st.notifications[RECV_NONE], 1);
    CHECK_EQ_INT(st.delivered[RECV_NONE], 1);
    CHECK_EQ_INT(r.dlq.n, 0);
    rig_free(&r);
}

/* Group state saved while a notification is with its receiver (FILE.groups
 * is written every snapshot_interval, not only after a drain): restored,
 * that notification is sent again, since quell cannot know it arrived; a
 * notification the receiver confirmed before the save is not. */
static int restore_and_run(const char *yaml, const char *path, webhook_sink_t *s, int want_req,
                           int run_ms)
{
    rig_t r;
    char err[512] = "";
    uint64_t loaded = 0;
    if (!rig_new(&r, yaml)) return -1;
    CHECK(notifier_load_groups(r.n, path, now(&r), &loaded, err, sizeof err) == QERR_OK);
    CHECK_EQ_INT(loaded, 1);
    RUN_UNTIL(&r, webhook_sink_requests(s) >= want_req, run_ms);
    RUN_UNTIL(&r, notifier_pending(r.n) == 0, 3000);
    rig_free(&r);
    return webhook_sink_requests(s);
}

static void test_saved_in_flight_sent_again(void)
{
    /* Requests 0 and 1 are answered after 1.5 s: in flight for that long. */
    webhook_sink_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .delay_ms = {1500, 1500}};
    CHECK(webhook_sink_start(&s, 0));
    char dir[] = "/tmp/quell-notify-groups-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char firing[128], resolved[128], confirmed[128], yaml[1024], err[512] = "";
    snprintf(firing, sizeof firing, "%s/firing.groups", dir);
    snprintf(resolved, sizeof resolved, "%s/resolved.groups", dir);
    snprintf(confirmed, sizeof confirmed, "%s/confirmed.groups", dir);
    snprintf(yaml, sizeof yaml,
             "route:\n  receiver: rx\n  group_by: [id]\n  group_wait: 0s\n  group_interval: 1s\n"
             "  repeat_interval: 1h\n"
             "receivers:\n  - name: rx\n    type: webhook\n    url: http://127.0.0.1:%u/hook\n"
             "    timeout: 10s\n",
             s.port);
    rig_t r;
    CHECK(rig_new(&r, yaml));
    msg_track_t t1 = {.pending = 1}, t2 = {.pending = 1};
    submit_status(&r, "x", 0x500, &t1, false);
    RUN_UNTIL(&r, webhook_sink_requests(&s) >= 1, 3000);
    CHECK_EQ_INT(webhook_sink_requests(&s), 1);
    CHECK_EQ_INT(atomic_load(&t1.pending), 1); /* in flight */
    CHECK(notifier_save_groups(r.n, firing, err, sizeof err) == QERR_OK);
    RUN_UNTIL(&r, atomic_load(&t1.pending) == 0, 5000);
    CHECK_EQ_INT(atomic_load(&t1.pending), 0); /* delivered */
    CHECK(notifier_save_groups(r.n, confirmed, err, sizeof err) == QERR_OK);
    /* Resolved: the group closes as its notification goes out, still in
     * flight when saved. */
    submit_status(&r, "x", 0x500, &t2, true);
    RUN_UNTIL(&r, webhook_sink_requests(&s) >= 2, 5000);
    CHECK_EQ_INT(webhook_sink_requests(&s), 2);
    CHECK_EQ_INT(atomic_load(&t2.pending), 1);
    CHECK_EQ_INT(notifier_groups(r.n), 0);
    CHECK(notifier_save_groups(r.n, resolved, err, sizeof err) == QERR_OK);
    RUN_UNTIL(&r, atomic_load(&t2.pending) == 0, 5000);
    CHECK_EQ_INT(atomic_load(&t2.pending), 0);
    rig_free(&r);

    /* Restored from the save taken while the firing one was in flight:
     * sent again, promptly (not a repeat_interval later). */
    CHECK_EQ_INT(restore_and_run(yaml, firing, &s, 3, 5000), 3);
    CHECK(s.body[2] && strstr(s.body[2], "\"status\":\"firing\"") &&
          strstr(s.body[2], "\"groupKey\":\"{}:{id=\\\"x\\\"}\""));
    /* From the one taken while the resolved one was in flight: the group is
     * back and resolves again. */
    CHECK_EQ_INT(restore_and_run(yaml, resolved, &s, 4, 5000), 4);
    CHECK(s.body[3] && strstr(s.body[3], "\"status\":\"resolved\""));
    /* From the one taken once the firing one was confirmed: nothing to
     * send again (its reminder is an hour away). */
    CHECK_EQ_INT(restore_and_run(yaml, confirmed, &s, 5, 1500), 4);
    unlink(firing);
    unlink(resolved);
    unlink(confirmed);
    rmdir(dir);
    webhook_sink_free(&s);
}

int main(void)
{
    test_exact_payload_and_retry_on_500();
    test_timeout_and_retry_after();
    test_dead_letters();
    test_rate_limit_digest();
    test_receiver_down_a_while();
    test_file_and_continue();
    test_null_receiver();
    test_saved_in_flight_sent_again();
    return check_summary("test_notify");
}
