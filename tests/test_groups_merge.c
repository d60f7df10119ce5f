/*
 * One group's alerts merged across instances (Redis store,
 * router/group_alerts.c, group_shared.c): two `quell run` instances of one
 * consumer group, one Redis, two partitions (one each), one webhook
 * receiver (tests/webhook_sink.c) both send to. The group "Merge" has four
 * alerts on each partition, so each instance decides half of it; the
 * halves differ in one label (zone) and share team and an annotation.
 * Checked against what one Alertmanager would send:
 *   - a firing notification lists all eight alerts (exact fingerprints and
 *     label sets), with commonLabels {alertname, team} (zone differs
 *     across the halves) and commonAnnotations over all eight;
 *   - no two firing notifications for the group within group_interval;
 *   - one resolved notification, listing all eight as resolved.
 * First, group_shared.c alone against the same Redis (two handles as two
 * instances): the records come back with the gate's answer, a malformed
 * one is left out, the resolved gate deletes both hashes, and an
 * unreachable Redis sends with nothing merged.
 * Each stage has its own deadline; every server started here is stopped.
 */
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>

#include "../router/router_int.h"
#include "check.h"
#include "harness.h"
#include "webhook_sink.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "redis_local.h"
#pragma GCC diagnostic pop

#define N                 2
#define PER_PARTITION     4
#define GROUP_INTERVAL_MS 1500

static int time_scale(void)
{
    const char *s = getenv("QUELL_TIME_SCALE");
    int v = s ? atoi(s) : 1;
    return v > 0 ? v : 1;
}

static void produce_alert(rd_kafka_t *p, int partition, int k, bool resolved)
{
    char v[512];
    snprintf(v, sizeof v,
             "{\"labels\":{\"alertname\":\"Merge\",\"team\":\"db\",\"zone\":\"%s\","
             "\"instance\":\"i%d\"},\"annotations\":{\"summary\":\"disk full\"},"
             "\"status\":\"%s\"}",
             partition ? "b" : "a", k, resolved ? "resolved" : "firing");
    CHECK(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("gm-alerts"), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_VALUE(v, strlen(v)),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void produce_all(rd_kafka_t *p, bool resolved)
{
    for (int part = 0; part < N; part++)
        for (int k = 0; k < PER_PARTITION; k++)
            produce_alert(p, part, part * PER_PARTITION + k, resolved);
    CHECK(rd_kafka_flush(p, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* One webhook request for group "Merge", as the checks need it. */
typedef struct {
    bool resolved;      /* the notification's status */
    int n_alerts;       /* listed */
    int n_firing;       /* listed firing */
    unsigned instances; /* bit k: instance label "ik" listed */
    unsigned firing_bits;
    bool common_ok;       /* commonLabels exactly {alertname: Merge, team: db} */
    bool annot_ok;        /* commonAnnotations {summary: disk full} */
    bool labels_ok;       /* every alert's labels the ones produced for it */
    int fps_distinct;     /* distinct fingerprints listed */
    char fp_set[64 * 17]; /* the listed fingerprints, sorted, comma-separated */
    int64_t at_ms;
} seen_t;

static int cmp_fp(const void *a, const void *b) { return strcmp(a, b); }

static bool read_note(const char *body, int64_t at_ms, seen_t *out)
{
    memset(out, 0, sizeof(*out));
    out->at_ms = at_ms;
    cJSON *j = cJSON_Parse(body);
    const cJSON *st = cJSON_GetObjectItem(j, "status");
    if (!cJSON_IsString(st)) {
        cJSON_Delete(j);
        return false;
    }
    out->resolved = !strcmp(st->valuestring, "resolved");
    out->labels_ok = true;
    char fps[64][17];
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(j, "alerts"))
    {
        const cJSON *l = cJSON_GetObjectItem(a, "labels"), *s = cJSON_GetObjectItem(a, "status"),
                    *fp = cJSON_GetObjectItem(a, "fingerprint");
        const cJSON *inst = cJSON_GetObjectItem(l, "instance"),
                    *zone = cJSON_GetObjectItem(l, "zone");
        int k = -1;
        if (cJSON_IsString(inst)) sscanf(inst->valuestring, "i%d", &k);
        if (k < 0 || k >= N * PER_PARTITION || !cJSON_IsString(zone) ||
            strcmp(zone->valuestring, k < PER_PARTITION ? "a" : "b") ||
            cJSON_GetArraySize(l) != 4 || !cJSON_IsString(fp) || !cJSON_IsString(s)) {
            out->labels_ok = false;
            continue;
        }
        out->instances |= 1u << k;
        bool firing = !strcmp(s->valuestring, "firing");
        if (firing) {
            out->n_firing++;
            out->firing_bits |= 1u << k;
        }
        bool dup = false;
        for (int i = 0; i < out->fps_distinct && i < 64; i++)
            dup |= !strcmp(fps[i], fp->valuestring);
        if (!dup && out->fps_distinct < 64)
            snprintf(fps[out->fps_distinct++], 17, "%s", fp->valuestring);
        out->n_alerts++;
    }
    qsort(fps, (size_t)out->fps_distinct, sizeof(fps[0]), cmp_fp);
    for (int i = 0; i < out->fps_distinct; i++) {
        strcat(out->fp_set, fps[i]);
        strcat(out->fp_set, ",");
    }
    const cJSON *cl = cJSON_GetObjectItem(j, "commonLabels"),
                *ca = cJSON_GetObjectItem(j, "commonAnnotations");
    const cJSON *an = cJSON_GetObjectItem(cl, "alertname"), *team = cJSON_GetObjectItem(cl, "team"),
                *sum = cJSON_GetObjectItem(ca, "summary");
    out->common_ok = cJSON_GetArraySize(cl) == 2 && cJSON_IsString(an) &&
                     !strcmp(an->valuestring, "Merge") && cJSON_IsString(team) &&
                     !strcmp(team->valuestring, "db");
    out->annot_ok = cJSON_GetArraySize(ca) == 1 && cJSON_IsString(sum) &&
                    !strcmp(sum->valuestring, "disk full");
    cJSON_Delete(j);
    return true;
}

/* Every request so far, parsed; returns how many. */
static int read_all(webhook_sink_t *s, seen_t *v, int cap)
{
    int n = 0;
    pthread_mutex_lock(&s->mu);
    int req = s->n_req < WEBHOOK_SINK_MAX ? s->n_req : WEBHOOK_SINK_MAX;
    for (int i = 0; i < req && n < cap; i++)
        if (s->body[i] && read_note(s->body[i], s->at_ms[i], &v[n])) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- the Redis adapter alone (group_shared.c), two handles as two
 * instances ------------------------------------------------------------ */

#define LB(n, v)                                                                                   \
    {                                                                                              \
        {n, sizeof(n) - 1}, { v, sizeof(v) - 1 }                                                   \
    }

static label_t gl_a[] = {LB("alertname", "G"), LB("zone", "a")};
static label_t gl_b[] = {LB("alertname", "G"), LB("zone", "b")};
static label_t g_group[] = {LB("alertname", "G")};

static notification_t gate_note(const route_t *route, notify_kind_t kind, notify_alert_t *na,
                                int64_t now_ms)
{
    return (notification_t){.kind = kind,
                            .route = route,
                            .group_key = "{}:{alertname=\"G\"}",
                            .group_id = 0x77,
                            .group_labels = g_group,
                            .n_group_labels = 1,
                            .alerts = na,
                            .n_alerts = 1,
                            .n_firing = kind == NOTIFY_RESOLVED ? 0 : 1,
                            .now_ms = now_ms};
}

/* Two handles on one Redis as two instances, one group of two alerts. */
typedef struct {
    store_conf_t sc;
    group_shared_t *one, *two;
    receiver_t rcv;
    route_t route;
    alert_t a, b;
    incident_t inc;
    notify_alert_t na, nb;
    arena_t ar;
} gate_rig_t;

static const int64_t T0 = 1767225600000LL;

static bool gate_rig_new(gate_rig_t *g, const redis_local_t *redis, const char *prefix)
{
    memset(g, 0, sizeof *g);
    g->sc = (store_conf_t){.port = redis->port, .timeout_ms = 500};
    snprintf(g->sc.host, sizeof(g->sc.host), "127.0.0.1");
    g->one = group_shared_new(&g->sc, prefix);
    g->two = group_shared_new(&g->sc, prefix);
    g->rcv = (receiver_t){.name = "hook", .kind = RECV_WEBHOOK};
    g->route =
        (route_t){.receiver = &g->rcv, .repeat_interval_ms = 3600000, .group_interval_ms = 1000};
    g->a = (alert_t){.labels = gl_a, .n_labels = 2, .fingerprint = 0xa, .starts_at_ms = T0};
    g->b = (alert_t){.labels = gl_b, .n_labels = 2, .fingerprint = 0xb, .starts_at_ms = T0};
    g->inc = (incident_t){.count = 1, .first_seen_ms = T0, .last_seen_ms = T0};
    g->na = (notify_alert_t){&g->a, &g->inc, {0}, 0, T0};
    g->nb = (notify_alert_t){&g->b, &g->inc, {0}, 0, T0};
    arena_init(&g->ar, 8192);
    CHECK(g->one && g->two);
    return g->one && g->two;
}

static void gate_rig_free(gate_rig_t *g)
{
    group_shared_destroy(g->one);
    group_shared_destroy(g->two);
    arena_free(&g->ar);
}

/* After the group's resolved: the alerts hash is gone, the group hash
 * is a tombstone (_c, no _s). */
static bool tombstone(redisContext *c, const char *prefix)
{
    redisReply *r = redisCommand(c, "EXISTS %sgrpa:0000000000000077", prefix);
    bool ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    if (r) freeReplyObject(r);
    r = redisCommand(c, "HMGET %sgrp:0000000000000077 _c _s", prefix);
    ok = ok && r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
         r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_NIL;
    if (r) freeReplyObject(r);
    return ok;
}

static void test_gate_direct(const redis_local_t *redis)
{
    gate_rig_t g;
    if (!gate_rig_new(&g, redis, "gd:")) return;
    group_others_t others;
    notification_t note = gate_note(&g.route, NOTIFY_FIRING, &g.na, T0), merged;

    /* Instance one fires first: only its own record comes back. */
    CHECK(group_shared_gate(g.one, &note, &g.ar, &others));
    CHECK_EQ_INT(others.n, 1);
    CHECK_EQ_INT(others.prev_sent_ms, 0);
    /* Instance two, a group_interval later: one's alert is in its page. */
    note = gate_note(&g.route, NOTIFY_FIRING, &g.nb, T0 + 1000);
    CHECK(group_shared_gate(g.two, &note, &g.ar, &others));
    CHECK_EQ_INT(others.n, 2);
    CHECK_EQ_INT(others.prev_sent_ms, T0);
    CHECK(group_alerts_merge(&note, others.v, others.n, others.prev_sent_ms, &g.ar, NULL, NULL,
                             &merged));
    CHECK_EQ_INT(merged.n_alerts, 2);
    CHECK_EQ_INT(merged.n_firing, 2);
    if (merged.n_alerts == 2) CHECK_EQ_INT(merged.alerts[1].alert->fingerprint, 0xa);
    /* A record nobody can read is left out and counted; both hashes have
     * the group record's expiry. */
    redisContext *c = redis_local_client(redis);
    CHECK(c != NULL);
    if (c) {
        redisReply *r = redisCommand(c, "HSET gd:grpa:0000000000000077 00000000000000ff junk");
        if (r) freeReplyObject(r);
        r = redisCommand(c, "PTTL gd:grpa:0000000000000077");
        CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 3600000);
        if (r) freeReplyObject(r);
    }
    note = gate_note(&g.route, NOTIFY_FIRING, &g.na, T0 + 2000);
    CHECK(group_shared_gate(g.one, &note, &g.ar, &others));
    CHECK_EQ_INT(others.n, 2);
    CHECK_EQ_INT(others.malformed, 1);
    if (c) {
        redisReply *r = redisCommand(c, "HDEL gd:grpa:0000000000000077 00000000000000ff");
        if (r) freeReplyObject(r);
    }
    /* One resolves: skipped (two still fires). Two resolves: sent, both
     * listed resolved, both hashes gone. */
    g.a.status = g.b.status = ALERT_RESOLVED;
    g.a.ends_at_ms = g.b.ends_at_ms = T0 + 3000;
    note = gate_note(&g.route, NOTIFY_RESOLVED, &g.na, T0 + 3000);
    CHECK(!group_shared_gate(g.one, &note, &g.ar, &others));
    note = gate_note(&g.route, NOTIFY_RESOLVED, &g.nb, T0 + 3100);
    CHECK(group_shared_gate(g.two, &note, &g.ar, &others));
    CHECK_EQ_INT(others.n, 2);
    CHECK(group_alerts_merge(&note, others.v, others.n, others.prev_sent_ms, &g.ar, NULL, NULL,
                             &merged));
    CHECK_EQ_INT(merged.n_alerts, 2);
    CHECK_EQ_INT(merged.n_firing, 0);
    for (size_t i = 0; i < merged.n_alerts; i++)
        CHECK_EQ_INT(merged.alerts[i].alert->status, ALERT_RESOLVED);
    if (c) {
        CHECK(tombstone(c, "gd:"));
        redisFree(c);
    }
    group_shared_destroy(g.one);
    group_shared_destroy(g.two);

    /* Redis unreachable: sent, own alerts only (nothing merged). */
    g.sc.port = redis_local_free_port();
    group_shared_t *down = group_shared_new(&g.sc, "gd:");
    g.a.status = ALERT_FIRING;
    note = gate_note(&g.route, NOTIFY_FIRING, &g.na, T0 + 4000);
    CHECK(down && group_shared_gate(down, &note, &g.ar, &others));
    CHECK_EQ_INT(others.n, 0);
    group_shared_destroy(down);
    arena_free(&g.ar);
}

/* Alerts without endsAt over two instances: each record carries its end
 * (last occurrence + resolve_timeout); a live instance republishes it when
 * it moves on (REFRESH, never sent); a dead one's alert counts as resolved
 * once its end passed, in listings and for the group's resolved. */
static void test_gate_dead_instance(const redis_local_t *redis)
{
    gate_rig_t g;
    if (!gate_rig_new(&g, redis, "gx:")) return;
    g.na.ends_ms = g.nb.ends_ms = T0 + 5000;
    group_others_t others;
    notification_t note = gate_note(&g.route, NOTIFY_FIRING, &g.na, T0), merged;
    CHECK(group_shared_gate(g.one, &note, &g.ar, &others));
    note = gate_note(&g.route, NOTIFY_FIRING, &g.nb, T0 + 1000);
    CHECK(group_shared_gate(g.two, &note, &g.ar, &others));
    CHECK_EQ_INT(others.n, 2);
    for (size_t i = 0; i < others.n; i++) CHECK_EQ_INT(others.v[i].alert.ends_at_ms, T0 + 5000);
    /* The status stays "f" (what an older quell reads); the end beside. */
    redisContext *c = redis_local_client(redis);
    if (c) {
        redisReply *r = redisCommand(c, "HMGET gx:grp:0000000000000077 000000000000000a "
                                        "e000000000000000a");
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
              r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "f") &&
              r->element[1]->type == REDIS_REPLY_STRING && atoll(r->element[1]->str) == T0 + 5000);
        if (r) freeReplyObject(r);
    }
    /* One's alert occurred again: its end moves on, published, not sent. */
    g.na.ends_ms = T0 + 9000;
    note = gate_note(&g.route, NOTIFY_REFRESH, &g.na, T0 + 4000);
    CHECK(!group_shared_gate(g.one, &note, &g.ar, &others));
    /* Two's stops: resolved at T0 + 5 s. One's is still firing at T0 + 6 s:
     * two's resolved is skipped. */
    g.b.status = ALERT_RESOLVED;
    g.b.ends_at_ms = T0 + 5000;
    g.nb.ends_ms = 0;
    note = gate_note(&g.route, NOTIFY_RESOLVED, &g.nb, T0 + 6000);
    CHECK(!group_shared_gate(g.two, &note, &g.ar, &others));
    /* One's instance dies. Past its end (T0 + 9 s), a firing notification
     * of two lists it resolved, with that end as endsAt... */
    note = gate_note(&g.route, NOTIFY_FIRING, &g.nb, T0 + 9500);
    CHECK(group_shared_gate(g.two, &note, &g.ar, &others));
    CHECK(group_alerts_merge(&note, others.v, others.n, others.prev_sent_ms, &g.ar, NULL, NULL,
                             &merged));
    CHECK_EQ_INT(merged.n_alerts, 2);
    CHECK_EQ_INT(merged.n_firing, 0);
    for (size_t i = 0; i < merged.n_alerts; i++) {
        CHECK_EQ_INT(merged.alerts[i].alert->status, ALERT_RESOLVED);
        if (merged.alerts[i].alert->fingerprint == 0xa)
            CHECK_EQ_INT(merged.alerts[i].alert->ends_at_ms, T0 + 9000);
    }
    /* ...and the group's resolved goes out, not held until the TTL. */
    note = gate_note(&g.route, NOTIFY_RESOLVED, &g.nb, T0 + 9600);
    CHECK(group_shared_gate(g.two, &note, &g.ar, &others));
    if (c) {
        CHECK(tombstone(c, "gx:"));
        redisFree(c);
    }
    gate_rig_free(&g);
}

/* A partition moved between firing and resolve: instance one notified
 * both alerts firing; alert a's partition then moved to two, which
 * decides its resolve in a group it never notified (NOTIFY_UNTOLD). The
 * group's resolved still goes out, once, as one Alertmanager's would: two
 * records a resolved; one, still holding a firing from before the move,
 * learns it was resolved elsewhere instead of recording it firing again,
 * and its own resolved is the group's last. Then nothing re-sends it,
 * and a new firing reopens the group. */
static void test_gate_partition_moved(const redis_local_t *redis)
{
    gate_rig_t g;
    if (!gate_rig_new(&g, redis, "gp:")) return;
    group_others_t others;
    uint64_t elsewhere[2];
    size_t n_elsewhere = 9;
    notify_alert_t both[2] = {g.na, g.nb};
    notification_t note = gate_note(&g.route, NOTIFY_FIRING, both, T0);
    note.n_alerts = 2;
    note.n_firing = 2;
    CHECK(group_shared_gate(g.one, &note, &g.ar, &others));
    /* Two: a resolved, in a group it never notified. Not the last. */
    alert_t a_res = g.a;
    a_res.status = ALERT_RESOLVED;
    a_res.ends_at_ms = T0 + 2000;
    notify_alert_t na_res = {&a_res, &g.inc, {0}, 0, T0 + 2000};
    note = gate_note(&g.route, NOTIFY_UNTOLD, &na_res, T0 + 2000);
    CHECK(!group_shared_gate(g.two, &note, &g.ar, &others));
    /* One: its b resolved, a still firing here as of T0: an update, not
     * sent (nothing left firing), a listed as resolved elsewhere. */
    alert_t b_res = g.b;
    b_res.status = ALERT_RESOLVED;
    b_res.ends_at_ms = T0 + 2500;
    notify_alert_t one_view[2] = {g.na, {&b_res, &g.inc, {0}, 0, T0 + 2500}};
    note = gate_note(&g.route, NOTIFY_FIRING, one_view, T0 + 3000);
    note.n_alerts = 2;
    note.resolved_elsewhere = elsewhere;
    note.n_resolved_elsewhere = &n_elsewhere;
    CHECK(!group_shared_gate(g.one, &note, &g.ar, &others));
    CHECK_EQ_INT(n_elsewhere, 1);
    if (n_elsewhere == 1) CHECK_EQ_INT(elsewhere[0], 0xa);
    /* One resolves a too (the gate said so): the group's resolved, with
     * both records. */
    notify_alert_t all_res[2] = {{&a_res, &g.inc, {0}, 0, T0}, one_view[1]};
    note = gate_note(&g.route, NOTIFY_RESOLVED, all_res, T0 + 4000);
    note.n_alerts = 2;
    CHECK(group_shared_gate(g.one, &note, &g.ar, &others));
    CHECK_EQ_INT(others.n, 2);
    redisContext *c = redis_local_client(redis);
    if (c) CHECK(tombstone(c, "gp:"));
    /* Late: two's untold resolve and one's stale firing are not sent. */
    note = gate_note(&g.route, NOTIFY_UNTOLD, &na_res, T0 + 5000);
    CHECK(!group_shared_gate(g.two, &note, &g.ar, &others));
    note = gate_note(&g.route, NOTIFY_FIRING, &g.na, T0 + 5000);
    note.resolved_elsewhere = elsewhere;
    note.n_resolved_elsewhere = &n_elsewhere;
    CHECK(!group_shared_gate(g.one, &note, &g.ar, &others));
    CHECK_EQ_INT(n_elsewhere, 1);
    /* Redis down: an untold resolve is never sent (each instance then
     * notifies only its own groups). */
    store_conf_t sc = g.sc;
    sc.port = redis_local_free_port();
    group_shared_t *down = group_shared_new(&sc, "gp:");
    note = gate_note(&g.route, NOTIFY_UNTOLD, &na_res, T0 + 5500);
    CHECK(down && !group_shared_gate(down, &note, &g.ar, &others));
    group_shared_destroy(down);
    /* a fires again, seen after its resolve: the group reopens. */
    g.na.seen_ms = T0 + 6000;
    note = gate_note(&g.route, NOTIFY_FIRING, &g.na, T0 + 6000);
    note.resolved_elsewhere = elsewhere;
    note.n_resolved_elsewhere = &n_elsewhere;
    CHECK(group_shared_gate(g.one, &note, &g.ar, &others));
    CHECK_EQ_INT(n_elsewhere, 0);
    CHECK_EQ_INT(others.prev_sent_ms, 0);
    if (c) {
        redisReply *r = redisCommand(c, "HEXISTS gp:grp:0000000000000077 _c");
        CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
        if (r) freeReplyObject(r);
        redisFree(c);
    }
    gate_rig_free(&g);
}

int main(void)
{
    if (!redis_local_available()) {
        printf("SKIP test_groups_merge: redis-server not installed\n");
        return 77;
    }
    const int scale = time_scale();
    const unsigned all_bits = (1u << (N * PER_PARTITION)) - 1;
    redis_local_t redis = {0};
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/quell-gm-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    CHECK_EQ_INT(redis_local_start(&redis), 0);
    /* Stage 0: the adapter's contract, before any quell runs. */
    test_gate_direct(&redis);
    test_gate_dead_instance(&redis);
    test_gate_partition_moved(&redis);
    harness_mock_t kafka;
    CHECK_EQ_INT(harness_mock_start(&kafka, "gm", N), 0);
    webhook_sink_t sink = {.mu = PTHREAD_MUTEX_INITIALIZER};
    CHECK(webhook_sink_start(&sink, 0));

    char conf[N][160], out[N][160], log[N][160];
    pid_t pid[N];
    for (int i = 0; i < N; i++) {
        FILE *f =
            harness_fleet_conf(dir, i, "gm", kafka.brokers, redis.port, conf[i], out[i], log[i]);
        fprintf(f,
                "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 300ms\n"
                "  group_interval: %dms\n  repeat_interval: 1h\n"
                "receivers:\n  - name: hook\n    type: webhook\n"
                "    url: http://127.0.0.1:%u/hook\n    timeout: 5s\n",
                GROUP_INTERVAL_MS, sink.port);
        fclose(f);
        pid[i] = harness_quell_start(conf[i], out[i], log[i]);
    }
    /* Stage 1: each instance owns one partition. */
    int64_t deadline = clock_mono_ns() + 60LL * scale * 1000000000;
    bool assigned = false;
    for (; !assigned && clock_mono_ns() < deadline; harness_sleep_ms(50)) {
        assigned = true;
        for (int i = 0; i < N; i++) assigned &= harness_file_has(log[i], "assigned 1 partitions");
    }
    CHECK(assigned);

    char errbuf[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", kafka.brokers, NULL, 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errbuf, sizeof(errbuf));
    CHECK(p != NULL);

    /* Stage 2: both halves fire; wait for a notification listing all. */
    seen_t seen[WEBHOOK_SINK_MAX];
    int n = 0;
    bool merged = false;
    if (p) produce_all(p, false);
    deadline = clock_mono_ns() + 20LL * scale * 1000000000;
    for (; !merged && clock_mono_ns() < deadline; harness_sleep_ms(50)) {
        n = read_all(&sink, seen, WEBHOOK_SINK_MAX);
        for (int i = 0; i < n; i++) merged |= !seen[i].resolved && seen[i].firing_bits == all_bits;
    }
    CHECK(merged);
    /* Let a late firing notification show (one would come within a
     * group_interval), then resolve everything. */
    harness_sleep_ms(GROUP_INTERVAL_MS * 2);

    /* Stage 3: every alert resolves on both instances. */
    if (p) produce_all(p, true);
    bool resolved = false;
    deadline = clock_mono_ns() + 20LL * scale * 1000000000;
    for (; !resolved && clock_mono_ns() < deadline; harness_sleep_ms(50)) {
        n = read_all(&sink, seen, WEBHOOK_SINK_MAX);
        for (int i = 0; i < n; i++) resolved |= seen[i].resolved;
    }
    CHECK(resolved);
    /* A second resolved notification would come right after the first. */
    harness_sleep_ms(GROUP_INTERVAL_MS * 2);
    if (p) rd_kafka_destroy(p);
    for (int i = 0; i < N; i++) CHECK_EQ_INT(harness_quell_stop(pid[i], 30000 * scale), 0);

    n = read_all(&sink, seen, WEBHOOK_SINK_MAX);
    int firing = 0, n_resolved = 0, close_firing = 0, full_firing = 0;
    const char *full_set = NULL; /* the fingerprints a full firing notification listed */
    for (int i = 0; i < n; i++)
        if (!seen[i].resolved && seen[i].firing_bits == all_bits) full_set = seen[i].fp_set;
    int64_t last_fire = 0;
    for (int i = 0; i < n; i++) {
        const seen_t *s = &seen[i];
        CHECK(s->labels_ok);
        if (s->resolved) {
            n_resolved++;
            /* All eight, every one resolved, common labels over all. */
            CHECK_EQ_INT(s->instances, all_bits);
            CHECK_EQ_INT(s->n_alerts, N * PER_PARTITION);
            CHECK_EQ_INT(s->fps_distinct, N * PER_PARTITION);
            CHECK_EQ_INT(s->n_firing, 0);
            CHECK(s->common_ok);
            CHECK(s->annot_ok);
            /* The same eight alerts (fingerprints) as the firing page. */
            if (full_set) CHECK_EQ_STR(s->fp_set, full_set);
            continue;
        }
        firing++;
        if (last_fire && s->at_ms - last_fire < GROUP_INTERVAL_MS - 100) close_firing++;
        last_fire = s->at_ms;
        if (s->firing_bits == all_bits) {
            full_firing++;
            CHECK_EQ_INT(s->n_alerts, N * PER_PARTITION);
            CHECK_EQ_INT(s->fps_distinct, N * PER_PARTITION);
            CHECK(s->common_ok);
            CHECK(s->annot_ok);
            CHECK_EQ_STR(s->fp_set, full_set);
        }
    }
    CHECK(full_firing >= 1);
    CHECK_EQ_INT(close_firing, 0);
    CHECK_EQ_INT(n_resolved, 1);
    printf("groups merge: %d webhook requests: %d firing (%d listing all %d alerts of both "
           "instances, %d within group_interval of another), %d resolved\n",
           n, firing, full_firing, N * PER_PARTITION, close_firing, n_resolved);

    webhook_sink_free(&sink);
    harness_mock_stop(&kafka);
    redis_local_stop(&redis);
    if (check_failures)
        for (int i = 0; i < N; i++) harness_dump_file(log[i]);
    harness_dir_done(dir, check_failures > 0);
    return check_summary("groups merge");
}
