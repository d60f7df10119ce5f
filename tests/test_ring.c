/* Ring handoff under concurrency: a producer thread writes records of
 * varying sizes (so wrap-around and skip markers happen constantly) while
 * the consumer checks order and content; plus track windows and the alert
 * record round trip. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "../core/core.h"
#include "check.h"

#define RECORDS 400000

static uint32_t record_len(uint64_t seq) { return 8 + (uint32_t)((seq * 2654435761u) % 700); }

static void *producer(void *arg)
{
    ring_t *r = arg;
    for (uint64_t seq = 0; seq < RECORDS; seq++) {
        uint32_t len = record_len(seq);
        unsigned char *p;
        while (!(p = ring_reserve(r, len))) ring_wait_room(r, len, 50);
        memcpy(p, &seq, 8);
        for (uint32_t i = 8; i < len; i++) p[i] = (unsigned char)(seq + i);
        ring_commit(r);
    }
    return NULL;
}

static void test_spsc(void)
{
    ring_t *r = ring_new(16384); /* small: the producer must wait often */
    CHECK(r != NULL);
    pthread_t t;
    pthread_create(&t, NULL, producer, r);
    uint64_t expect = 0, bad_len = 0, bad_body = 0;
    while (expect < RECORDS) {
        size_t len;
        unsigned char *p = ring_peek(r, &len);
        if (!p) {
            ring_wait_data(r, 50);
            continue;
        }
        uint64_t seq;
        memcpy(&seq, p, 8);
        if (seq != expect) break;
        if (len != record_len(seq)) bad_len++;
        for (uint32_t i = 8; i < len; i++)
            if (p[i] != (unsigned char)(seq + i)) {
                bad_body++;
                break;
            }
        ring_release(r);
        expect++;
    }
    pthread_join(t, NULL);
    CHECK_EQ_INT(expect, RECORDS);
    CHECK_EQ_INT(bad_len, 0);
    CHECK_EQ_INT(bad_body, 0);
    size_t len;
    CHECK(ring_peek(r, &len) == NULL);
    CHECK_EQ_INT(ring_used_bytes(r), 0);
    ring_destroy(r);
}

/* Whether record `p` of `len` bytes still holds what the producer wrote. */
static bool record_intact(const unsigned char *p, size_t len, uint64_t seq)
{
    uint64_t got;
    memcpy(&got, p, 8);
    if (got != seq || len != record_len(seq)) return false;
    for (uint32_t i = 8; i < len; i++)
        if (p[i] != (unsigned char)(seq + i)) return false;
    return true;
}

/* A consumer deciding batches in place (the store worker): records held
 * with ring_hold stay intact while the producer waits for room, also
 * when records skipped between them (ring_skip, as ticks) are not kept,
 * and ring_release_held gives their bytes back. Checked after the whole batch
 * is taken, so a hold that released would show overwritten records. */
static void test_spsc_held(void)
{
    ring_t *r = ring_new(16384);
    CHECK(r != NULL);
    pthread_t t;
    pthread_create(&t, NULL, producer, r);
    enum { BATCH = 40 };
    uint64_t expect = 0, broken = 0;
    while (expect < RECORDS) {
        unsigned char *batch[BATCH];
        size_t lens[BATCH], n = 0;
        uint64_t seqs[BATCH], taken = 0;
        while (n < BATCH && (batch[n] = ring_peek(r, &lens[n]))) {
            uint64_t seq = expect + taken++;
            if (seq % 7 == 3) { /* a record nobody keeps, as a tick */
                ring_skip(r);
                continue;
            }
            ring_hold(r);
            seqs[n++] = seq;
        }
        if (taken == 0) {
            ring_wait_data(r, 50);
            continue;
        }
        sched_yield(); /* the producer's turn to try to reuse held bytes */
        for (size_t i = 0; i < n; i++)
            if (!record_intact(batch[i], lens[i], seqs[i])) broken++;
        expect += taken;
        ring_release_held(r);
        ring_wake_producer(r);
    }
    pthread_join(t, NULL);
    CHECK_EQ_INT(broken, 0);
    CHECK_EQ_INT(expect, RECORDS);
    size_t len;
    CHECK(ring_peek(r, &len) == NULL);
    CHECK_EQ_INT(ring_used_bytes(r), 0);
    ring_destroy(r);
}

static void test_full_and_limits(void)
{
    ring_t *r = ring_new(4096);
    CHECK(ring_reserve(r, ring_max_record(r) + 1) == NULL);
    int n = 0;
    while (ring_reserve(r, 100)) {
        ring_commit(r);
        n++;
    }
    CHECK(n > 0 && n < 4096 / 100);
    size_t len;
    CHECK(ring_peek(r, &len) != NULL);
    CHECK_EQ_INT(len, 100);
    ring_release(r);
    CHECK(ring_reserve(r, 100) != NULL); /* room again after one release */
    ring_destroy(r);
}

static void test_track_window(void)
{
    track_window_t *w = track_window_new(4);
    msg_track_t *a = track_window_push(w, 10);
    msg_track_t *b = track_window_push(w, 11);
    msg_track_t *c = track_window_push(w, 12);
    int64_t off = -1;
    track_add(b, 2);
    track_done(b); /* b still has 2 outstanding */
    track_done(c); /* c finished, but b holds the line */
    CHECK(!track_window_advance(w, &off));
    track_done(a);
    CHECK(track_window_advance(w, &off));
    CHECK_EQ_INT(off, 11); /* a done: commit 11, b not yet */
    track_done(b);
    track_done(b);
    CHECK(track_window_advance(w, &off));
    CHECK_EQ_INT(off, 13); /* b and c done */
    CHECK_EQ_INT(track_window_inflight(w), 0);
    for (int i = 0; i < 16; i++) track_window_push(w, 100 + i);
    CHECK(track_window_push(w, 200) == NULL); /* full at 16 slots (min size) */
    track_window_destroy(w);
}

/* A window larger than a chunk: slots stay where they are while chunks
 * come and go, and commits stay in offset order across chunk edges. */
static void test_track_window_chunks(void)
{
    enum { MAX = 4096, N = 2500 };
    track_window_t *w = track_window_new(MAX);
    static msg_track_t *slots[MAX];
    int64_t off = -1;
    for (int round = 0; round < 5; round++) {
        int64_t first = (int64_t)round * N;
        for (int i = 0; i < N; i++) {
            slots[i] = track_window_push(w, first + i);
            CHECK(slots[i] != NULL);
            for (int j = i - 3; j >= 0 && j < i; j++) CHECK(slots[j] != slots[i]);
        }
        /* Finish from the newest down: nothing moves until the oldest. */
        for (int i = N - 1; i > 0; i--) track_done(slots[i]);
        CHECK(!track_window_advance(w, &off));
        CHECK_EQ_INT(track_window_inflight(w), N);
        track_done(slots[0]);
        CHECK(track_window_advance(w, &off));
        CHECK_EQ_INT(off, first + N);
        CHECK_EQ_INT(track_window_inflight(w), 0);
    }
    for (int i = 0; i < MAX; i++) CHECK(track_window_push(w, i) != NULL);
    CHECK(track_window_push(w, MAX) == NULL); /* full at its bound */
    track_window_destroy(w);                  /* frees the chunks still held */
}

static void test_alert_record(void)
{
    label_t labels[2] = {{{"alertname", 9}, {"Disk\xc3\xa9", 6}}, {{"job", 3}, {"", 0}}};
    label_t ann[1] = {{{"summary", 7}, {"full", 4}}};
    alert_t a = {.labels = labels,
                 .n_labels = 2,
                 .annotations = ann,
                 .n_annotations = 1,
                 .status = ALERT_RESOLVED,
                 .starts_at_ms = 5,
                 .ends_at_ms = 9,
                 .event_time_ms = 7,
                 .watermark_ms = 6,
                 .generator_url = {"http://x", 8},
                 .source = {"prom", 4},
                 .fingerprint = 0xabcdef};
    size_t n = alert_rec_size(&a);
    void *buf = malloc(n);
    msg_track_t t;
    alert_rec_write(buf, &a, &t);
    arena_t ar;
    arena_init(&ar, 1024);
    alert_t b;
    msg_track_t *tb = NULL;
    CHECK_EQ_INT(alert_rec_read(buf, n, &ar, &b, &tb), QERR_OK);
    CHECK(tb == &t);
    CHECK_EQ_INT(b.n_labels, 2);
    CHECK(b.labels[0].value.len == 6 && memcmp(b.labels[0].value.ptr, "Disk\xc3\xa9", 6) == 0);
    CHECK(b.labels[1].value.len == 0);
    CHECK(b.annotations[0].value.len == 4 && memcmp(b.annotations[0].value.ptr, "full", 4) == 0);
    CHECK(b.status == ALERT_RESOLVED && b.ends_at_ms == 9 && b.event_time_ms == 7);
    CHECK_EQ_INT(b.watermark_ms, 6);
    CHECK(b.fingerprint == 0xabcdef);
    CHECK(b.source.len == 4 && b.generator_url.len == 8);
    CHECK_EQ_INT(b.received_ns, 0); /* not from Kafka */
    CHECK_EQ_INT(alert_rec_read(buf, 4, &ar, &b, &tb), QERR_INVALID);

    /* The moment the consumer took the message travels to the worker, to
     * the microsecond, when it is less than 71 minutes after the stamp. */
    a.event_time_ms = 1765000000000;
    a.received_ns = a.event_time_ms * 1000000 + 1234567891;
    alert_rec_write(buf, &a, &t);
    CHECK_EQ_INT(alert_rec_read(buf, n, &ar, &b, &tb), QERR_OK);
    CHECK_EQ_INT(b.received_ns, a.event_time_ms * 1000000 + 1234567000);
    a.received_ns = a.event_time_ms * 1000000 + 72LL * 60 * 1000000000; /* a replayed stamp */
    alert_rec_write(buf, &a, &t);
    CHECK_EQ_INT(alert_rec_read(buf, n, &ar, &b, &tb), QERR_OK);
    CHECK_EQ_INT(b.received_ns, 0);
    a.received_ns = a.event_time_ms * 1000000 - 5000000; /* before its stamp (skew) */
    alert_rec_write(buf, &a, &t);
    CHECK_EQ_INT(alert_rec_read(buf, n, &ar, &b, &tb), QERR_OK);
    CHECK_EQ_INT(b.received_ns, 0);
    arena_free(&ar);
    free(buf);
}

/* An idle consumer's poll before it sleeps: it sees a published record in
 * any of its rings, not one only committed locally, and gives up on empty
 * rings (the time it spins is not asserted). */
static void test_poll_any(void)
{
    ring_t *rings[2] = {ring_new(4096), ring_new(4096)};
    CHECK(!ring_poll_any(rings, 2, 0));
    CHECK(!ring_poll_any(rings, 2, 64));
    void *p = ring_reserve(rings[1], 16);
    CHECK(p != NULL);
    ring_commit_local(rings[1]);
    CHECK(!ring_poll_any(rings, 2, 8)); /* not published yet */
    ring_publish(rings[1]);
    CHECK(ring_poll_any(rings, 2, 0));
    CHECK(!ring_poll_any(rings, 1, 0)); /* the other ring is still empty */
    size_t len;
    CHECK(ring_peek(rings[1], &len) != NULL && len == 16);
    ring_release(rings[1]);
    CHECK(!ring_poll_any(rings, 2, 0));

    /* Polling only while sleeps are short: after a long one a waiting
     * record is left to the sleep (which returns at once), after a short
     * one it is polled for again. */
    ring_idle_t idle;
    ring_idle_init(&idle);
    p = ring_reserve(rings[0], 8);
    ring_commit(rings[0]);
    CHECK(ring_idle_poll(&idle, rings, 2));
    ring_idle_sleeping(&idle);
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
    ring_idle_woke(&idle);
    CHECK(!ring_idle_poll(&idle, rings, 2));
    ring_idle_sleeping(&idle);
    idle.asleep_ns += 1000000000; /* woken at once, however busy the machine */
    ring_idle_woke(&idle);
    CHECK(ring_idle_poll(&idle, rings, 2));
    ring_destroy(rings[0]);
    ring_destroy(rings[1]);
}

/* A producer asleep for room (a 10 s wait) is woken by ring_wake_producer
 * after quiet releases, a burst's worth: no wake-up is lost between them. */
typedef struct {
    ring_t *r;
    _Atomic int got_room;
} room_waiter_t;

static void *wait_for_room(void *arg)
{
    room_waiter_t *w = arg;
    while (!ring_reserve(w->r, 1024)) ring_wait_room(w->r, 1024, 10000);
    ring_commit(w->r);
    atomic_store(&w->got_room, 1);
    return NULL;
}

static void test_quiet_release(void)
{
    room_waiter_t w = {ring_new(4096), 0};
    while (ring_reserve(w.r, 1024)) ring_commit(w.r); /* full */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wait_for_room, &w) == 0);
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 200; i++) nanosleep(&ms, NULL); /* it is asleep by now */
    size_t len;
    int released = 0;
    while (ring_peek(w.r, &len)) ring_release_quiet(w.r), released++;
    CHECK(released >= 3);
    ring_wake_producer(w.r);
    for (int i = 0; i < 5000 && !atomic_load(&w.got_room); i++) nanosleep(&ms, NULL);
    CHECK_EQ_INT(atomic_load(&w.got_room), 1); /* well before its 10 s timeout */
    pthread_join(t, NULL);
    ring_destroy(w.r);
}

int main(void)
{
    test_spsc();
    test_spsc_held();
    test_full_and_limits();
    test_track_window();
    test_track_window_chunks();
    test_alert_record();
    test_poll_any();
    test_quiet_release();
    return check_summary("ring");
}
