/* The decision core over a driven clock: window expiry, repeats, resolves,
 * eviction when full, out-of-order time, and snapshot round trips. */
#include <stdlib.h>
#include <unistd.h>

#include "../dedup/dedup_int.h"
#include "check.h"

#define MIN  60000LL
#define HOUR (60 * MIN)

static const dedup_params_t P = {5 * MIN, 4 * HOUR};

static decision_kind_t fire(dedup_table_t *t, uint64_t fp, int64_t now, incident_t *inc)
{
    /* One partition: the watermark is the alert's own time. */
    return dedup_decide(t, &P, fp, ALERT_FIRING, now, now, inc);
}

static void test_window_and_count(void)
{
    dedup_table_t *t = dedup_table_new(100);
    incident_t inc;
    CHECK_EQ_INT(fire(t, 1, 0, &inc), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(inc.count, 1);
    CHECK_EQ_INT(fire(t, 1, 4 * MIN, &inc), DECISION_SUPPRESS_DUPLICATE);
    /* The window counts from the last occurrence, not the first. */
    CHECK_EQ_INT(fire(t, 1, 8 * MIN, &inc), DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(inc.count, 3);
    CHECK_EQ_INT(inc.first_seen_ms, 0);
    CHECK_EQ_INT(inc.last_seen_ms, 8 * MIN);
    /* Exactly `window` after the last occurrence is still inside it. */
    CHECK_EQ_INT(fire(t, 1, 13 * MIN, &inc), DECISION_SUPPRESS_DUPLICATE);
    /* More than `window` of silence: the incident expired, a new one opens. */
    CHECK_EQ_INT(fire(t, 1, 18 * MIN + 1, &inc), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(inc.count, 1);
    CHECK_EQ_INT(inc.first_seen_ms, 18 * MIN + 1);
    /* Other fingerprints are independent. */
    CHECK_EQ_INT(fire(t, 2, 18 * MIN + 2, &inc), DECISION_FORWARD_NEW);
    dedup_table_stats_t st;
    dedup_table_stats(t, &st);
    CHECK_EQ_INT(st.tracked, 2);
    CHECK_EQ_INT(st.expirations, 1);
    dedup_table_destroy(t);
}

static void test_repeat_interval(void)
{
    dedup_table_t *t = dedup_table_new(100);
    incident_t inc;
    int64_t now = 0;
    CHECK_EQ_INT(fire(t, 7, now, &inc), DECISION_FORWARD_NEW);
    int repeats = 0, dups = 0;
    /* Keep firing every minute for 9 hours: reminders at 4h and 8h. */
    for (now = MIN; now <= 9 * HOUR; now += MIN) {
        decision_kind_t k = fire(t, 7, now, &inc);
        if (k == DECISION_FORWARD_REPEAT) {
            repeats++;
            CHECK(now == 4 * HOUR || now == 8 * HOUR);
        } else if (k == DECISION_SUPPRESS_DUPLICATE) {
            dups++;
        }
    }
    CHECK_EQ_INT(repeats, 2);
    CHECK_EQ_INT(dups, 9 * 60 - 2);
    CHECK_EQ_INT(inc.count, 9 * 60 + 1);
    dedup_table_destroy(t);
}

static void test_resolve(void)
{
    dedup_table_t *t = dedup_table_new(100);
    incident_t inc;
    /* Resolved with nothing open: suppressed. */
    CHECK_EQ_INT(dedup_decide(t, &P, 3, ALERT_RESOLVED, 0, 0, &inc),
                 DECISION_SUPPRESS_RESOLVED_NO_INCIDENT);
    CHECK_EQ_INT(fire(t, 3, MIN, &inc), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(fire(t, 3, 2 * MIN, &inc), DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(dedup_decide(t, &P, 3, ALERT_RESOLVED, 3 * MIN, 3 * MIN, &inc),
                 DECISION_FORWARD_RESOLVED);
    CHECK_EQ_INT(inc.count, 3);
    CHECK_EQ_INT(inc.first_seen_ms, MIN);
    /* Once resolved it is closed: a second resolve is suppressed... */
    CHECK_EQ_INT(dedup_decide(t, &P, 3, ALERT_RESOLVED, 3 * MIN + 1, 3 * MIN + 1, &inc),
                 DECISION_SUPPRESS_RESOLVED_NO_INCIDENT);
    /* ...and firing again opens a new incident at once. */
    CHECK_EQ_INT(fire(t, 3, 3 * MIN + 2, &inc), DECISION_FORWARD_NEW);
    /* A resolve after the window expired finds nothing open. */
    CHECK_EQ_INT(dedup_decide(t, &P, 3, ALERT_RESOLVED, 20 * MIN, 20 * MIN, &inc),
                 DECISION_SUPPRESS_RESOLVED_NO_INCIDENT);
    dedup_table_destroy(t);
}

static void test_out_of_order(void)
{
    dedup_table_t *t = dedup_table_new(100);
    incident_t inc;
    CHECK_EQ_INT(fire(t, 9, 10 * MIN, &inc), DECISION_FORWARD_NEW);
    /* An older event (another partition lagging) is a duplicate and does
     * not move last_seen backwards. */
    CHECK_EQ_INT(fire(t, 9, 2 * MIN, &inc), DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(inc.last_seen_ms, 10 * MIN);
    dedup_table_destroy(t);
}

/* Two partitions read at different paces: alerts from the fast one (clock
 * at 2 h) must not close an incident whose partition is still at minute 1.
 * The watermark (the slowest partition's time) is what expiry may use. */
static void test_partition_skew(void)
{
    dedup_table_t *t = dedup_table_new(100);
    incident_t inc;
    CHECK_EQ_INT(dedup_decide(t, &P, 1, ALERT_FIRING, 0, 0, &inc), DECISION_FORWARD_NEW);
    for (int i = 0; i < 10; i++)
        dedup_decide(t, &P, 100 + (uint64_t)i, ALERT_FIRING, 2 * HOUR, MIN, &inc);
    CHECK_EQ_INT(dedup_decide(t, &P, 1, ALERT_FIRING, 4 * MIN, 4 * MIN, &inc),
                 DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(inc.count, 2);

    /* Control: expiring against the fast partition's own clock would have
     * re-opened fingerprint 1 as a new incident. */
    dedup_table_t *u = dedup_table_new(100);
    dedup_decide(u, &P, 1, ALERT_FIRING, 0, 0, &inc);
    for (int i = 0; i < 10; i++)
        dedup_decide(u, &P, 100 + (uint64_t)i, ALERT_FIRING, 2 * HOUR, 2 * HOUR, &inc);
    CHECK_EQ_INT(dedup_decide(u, &P, 1, ALERT_FIRING, 4 * MIN, 4 * MIN, &inc),
                 DECISION_FORWARD_NEW);
    /* An unknown watermark expires nothing early. */
    dedup_table_t *v = dedup_table_new(100);
    dedup_decide(v, &P, 1, ALERT_FIRING, 0, 0, &inc);
    for (int i = 0; i < 10; i++)
        dedup_decide(v, &P, 100 + (uint64_t)i, ALERT_FIRING, 2 * HOUR, 0, &inc);
    dedup_table_stats_t st;
    dedup_table_stats(v, &st);
    CHECK_EQ_INT(st.tracked, 11);
    dedup_table_destroy(t);
    dedup_table_destroy(u);
    dedup_table_destroy(v);
}

static void test_eviction(void)
{
    dedup_table_t *t = dedup_table_new(3);
    incident_t inc;
    fire(t, 1, 0, &inc);
    fire(t, 2, 1, &inc);
    fire(t, 3, 2, &inc);
    fire(t, 1, 3, &inc); /* 1 becomes most recent: 2 is now least recent */
    CHECK_EQ_INT(fire(t, 4, 4, &inc), DECISION_FORWARD_NEW);
    dedup_table_stats_t st;
    dedup_table_stats(t, &st);
    CHECK_EQ_INT(st.tracked, 3);
    CHECK_EQ_INT(st.evictions, 1);
    CHECK_EQ_INT(fire(t, 1, 5, &inc), DECISION_SUPPRESS_DUPLICATE); /* kept */
    CHECK_EQ_INT(fire(t, 3, 6, &inc), DECISION_SUPPRESS_DUPLICATE); /* kept */
    CHECK_EQ_INT(fire(t, 2, 7, &inc), DECISION_FORWARD_NEW);        /* was evicted */
    dedup_table_destroy(t);
}

static void test_many_and_growth(void)
{
    /* Growth and rehash with 200k fingerprints, then all duplicates. */
    dedup_table_t *t = dedup_table_new(1000000);
    incident_t inc;
    uint64_t news = 0, dups = 0;
    for (int round = 0; round < 2; round++)
        for (uint64_t i = 0; i < 200000; i++) {
            decision_kind_t k = fire(t, i * 0x9E3779B97F4A7C15ULL, round, &inc);
            news += k == DECISION_FORWARD_NEW;
            dups += k == DECISION_SUPPRESS_DUPLICATE;
        }
    CHECK_EQ_INT(news, 200000);
    CHECK_EQ_INT(dups, 200000);
    dedup_table_stats_t st;
    dedup_table_stats(t, &st);
    CHECK_EQ_INT(st.tracked, 200000);
    /* 56-byte entry plus its share of 4-byte buckets (at most one per
     * slot here): the documented cost per fingerprint. */
    CHECK(st.slots >= st.tracked);
    CHECK(st.bytes / st.slots <= 64);
    printf("bytes per slot: %.1f; per tracked fingerprint: %.1f\n",
           (double)st.bytes / (double)st.slots, (double)st.bytes / (double)st.tracked);
    /* Everything expires lazily from the tail as time moves on. */
    for (int i = 0; i < 200000; i++) fire(t, 1, 10 * MIN + i, &inc);
    dedup_table_stats(t, &st);
    CHECK_EQ_INT(st.tracked, 1);
    dedup_table_destroy(t);
}

static void test_snapshot(void)
{
    char dir[] = "/tmp/quell-snap-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/state", dir);
    dedup_table_t *a[2] = {dedup_table_new(100), dedup_table_new(100)};
    incident_t inc;
    for (uint64_t fp = 1; fp <= 50; fp++) {
        uint64_t key = fp << 40; /* spread over shards */
        fire(a[dedup_shard(key, 2)], key, (int64_t)fp, &inc);
        fire(a[dedup_shard(key, 2)], key, (int64_t)fp + 1, &inc);
    }
    char err[256];
    CHECK_EQ_INT(dedup_snapshot_save(path, a, 2, err, sizeof(err)), QERR_OK);
    /* Restore into a different worker count: entries re-shard. */
    dedup_table_t *b[3] = {dedup_table_new(100), dedup_table_new(100), dedup_table_new(100)};
    uint64_t loaded = 0;
    CHECK_EQ_INT(dedup_snapshot_load(path, b, 3, &loaded, err, sizeof(err)), QERR_OK);
    CHECK_EQ_INT(loaded, 50);
    for (uint64_t fp = 1; fp <= 50; fp++) {
        uint64_t key = fp << 40;
        CHECK_EQ_INT(fire(b[dedup_shard(key, 3)], key, (int64_t)fp + 2, &inc),
                     DECISION_SUPPRESS_DUPLICATE);
        CHECK_EQ_INT(inc.count, 3);
        CHECK_EQ_INT(inc.first_seen_ms, (int64_t)fp);
    }
    /* A missing file is an empty start; a corrupt one is refused. */
    snprintf(path, sizeof(path), "%s/none", dir);
    CHECK_EQ_INT(dedup_snapshot_load(path, b, 3, &loaded, err, sizeof(err)), QERR_OK);
    CHECK_EQ_INT(loaded, 0);
    snprintf(path, sizeof(path), "%s/bad", dir);
    FILE *f = fopen(path, "wb");
    fputs("not a snapshot", f);
    fclose(f);
    CHECK_EQ_INT(dedup_snapshot_load(path, b, 3, &loaded, err, sizeof(err)), QERR_INVALID);
    CHECK(strstr(err, "not a quell snapshot") != NULL);
    unlink(path);
    snprintf(path, sizeof(path), "%s/state", dir);
    unlink(path);
    rmdir(dir);
    for (int i = 0; i < 2; i++) dedup_table_destroy(a[i]);
    for (int i = 0; i < 3; i++) dedup_table_destroy(b[i]);
}

/* Ring `i` gets an alert record stamped `wm`. */
static void put_alert(ring_t *r, uint64_t fp, int64_t wm)
{
    label_t l = {{"alertname", 9}, {"x", 1}};
    alert_t a = {.labels = &l, .n_labels = 1, .fingerprint = fp, .watermark_ms = wm};
    void *dst = ring_reserve(r, alert_rec_size(&a));
    alert_rec_write(dst, &a, NULL);
    ring_commit(r);
}

static void put_tick(ring_t *r, int64_t wm)
{
    alert_rec_write_tick(ring_reserve(r, ALERT_REC_TICK_BYTES), wm);
    ring_commit(r);
}

static int64_t peek_wm(dedup_inputs_t *in, size_t i, uint64_t *fp)
{
    size_t len;
    void *rec = dedup_inputs_peek(in, i, &len);
    if (!rec) return -1;
    arena_t scratch;
    arena_init(&scratch, 4096);
    alert_t a;
    msg_track_t *t;
    CHECK_EQ_INT(alert_rec_read(rec, len, &scratch, &a, &t), QERR_OK);
    *fp = a.fingerprint;
    arena_free(&scratch);
    ring_release(in->rings[i]);
    return a.watermark_ms;
}

/* A worker fed by two ingest lanes decides with the lowest stamp either
 * has shown: an alert read later from one lane must not let the table
 * expire incidents an older alert still queued in the other needs. */
static void test_inputs_watermark(void)
{
    dedup_inputs_t in = {.n = 2};
    in.rings[0] = ring_new(1 << 16);
    in.rings[1] = ring_new(1 << 16);
    uint64_t fp = 0;
    put_alert(in.rings[0], 1, 1000);
    /* Ring 1 has shown nothing: nothing may expire yet. */
    CHECK_EQ_INT(peek_wm(&in, 0, &fp), 0);
    CHECK_EQ_INT(fp, 1);
    put_tick(in.rings[1], 800);
    put_alert(in.rings[0], 2, 1200);
    /* The tick is consumed with ring 1's peek, which finds no alert. */
    CHECK_EQ_INT(peek_wm(&in, 1, &fp), -1);
    CHECK_EQ_INT(peek_wm(&in, 0, &fp), 800);
    CHECK_EQ_INT(fp, 2);
    put_alert(in.rings[1], 3, 1500);
    CHECK_EQ_INT(peek_wm(&in, 1, &fp), 1200); /* ring 0's latest stamp is lower now */
    put_tick(in.rings[0], 2000);
    CHECK(dedup_inputs_empty(&in)); /* ticks only */
    put_alert(in.rings[1], 4, 2500);
    CHECK_EQ_INT(peek_wm(&in, 1, &fp), 2000);
    /* One ring: the record's own stamp, as before lanes. */
    dedup_inputs_t one = {.n = 1};
    one.rings[0] = in.rings[0];
    put_alert(one.rings[0], 5, 3000);
    CHECK_EQ_INT(peek_wm(&one, 0, &fp), 3000);
    ring_destroy(in.rings[0]);
    ring_destroy(in.rings[1]);
}

int main(void)
{
    test_window_and_count();
    test_repeat_interval();
    test_resolve();
    test_out_of_order();
    test_partition_skew();
    test_eviction();
    test_many_and_growth();
    test_snapshot();
    test_inputs_watermark();
    return check_summary("dedup");
}
