/*
 * The decision log's rings (app/declog.c): runs of one decision on one
 * fingerprint kept as one record with its count, a change of decision as a
 * new record, the ring's bound, and readers copying records while the
 * worker rewrites them in place (never half a record), and the open
 * alerts kept once their records left the ring.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../app/declog.h"
#include "../dedup/dedup.h"
#include "check.h"

typedef struct {
    uint64_t fp;
    declog_rec_t got[16];
    size_t n;
} collect_t;

static bool collect(void *ctx, const declog_rec_t *r)
{
    collect_t *c = ctx;
    if (r->fingerprint == c->fp && c->n < 16) c->got[c->n++] = *r;
    return true;
}

static size_t records_of(declog_t *d, uint64_t fp, collect_t *c)
{
    memset(c, 0, sizeof *c);
    c->fp = fp;
    declog_each(d, collect, c);
    return c->n;
}

static size_t count_all(declog_t *d)
{
    collect_t c = {0};
    size_t n = 0;
    for (uint64_t fp = 0; fp < 64; fp++) n += records_of(d, fp, &c);
    return n;
}

static const char *note_url = "";

static void note(declog_t *d, uint64_t fp, decision_kind_t kind, const char *rule, int64_t event_ms,
                 const char *value)
{
    label_t labels[1] = {{{"host", 4}, {value, (uint32_t)strlen(value)}}};
    char desc[32];
    snprintf(desc, sizeof desc, "%lld", (long long)event_ms);
    label_t ann[1] = {{{"description", 11}, {desc, (uint32_t)strlen(desc)}}};
    alert_t a = {.fingerprint = fp,
                 .labels = labels,
                 .n_labels = 1,
                 .annotations = ann,
                 .n_annotations = 1,
                 .generator_url = {note_url, (uint32_t)strlen(note_url)},
                 .event_time_ms = event_ms,
                 .status = ALERT_FIRING};
    incident_t inc = {.kind = kind, .fingerprint = fp, .rule = rule, .first_seen_ms = 1000};
    declog_note(d, 0, &a, &inc);
}

static void test_runs(void)
{
    declog_opts_t o = {.workers = 1, .recent = 8};
    char err[256];
    declog_t *d = declog_new(&o, err, sizeof err);
    CHECK(d != NULL);
    collect_t c;
    note(d, 7, DECISION_FORWARD_NEW, NULL, 1, "a");
    for (int i = 2; i <= 6; i++) note(d, 7, DECISION_SUPPRESS_DUPLICATE, NULL, i, "a");
    note(d, 7, DECISION_SUPPRESS_FLAPPING, NULL, 7, "a");
    CHECK_EQ_INT(records_of(d, 7, &c), 3); /* newest first */
    CHECK_EQ_INT(c.got[0].kind, DECISION_SUPPRESS_FLAPPING);
    CHECK_EQ_INT(c.got[0].times, 1);
    CHECK_EQ_INT(c.got[1].kind, DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(c.got[1].times, 5);
    CHECK_EQ_INT(c.got[1].event_ms, 6); /* the run's latest alert */
    CHECK(strcmp(c.got[1].annotations, "description") == 0 &&
          strcmp(c.got[1].annotations + 12, "6") == 0);
    CHECK(strcmp(c.got[1].labels, "host") == 0 && strcmp(c.got[1].labels + 5, "a") == 0);
    CHECK_EQ_INT(c.got[2].kind, DECISION_FORWARD_NEW);
    CHECK_EQ_INT(c.got[2].times, 1);

    /* A run keeps the latest generatorURL, longer or shorter. */
    note_url = "http://prometheus:9090/graph?g0.expr=up";
    note(d, 7, DECISION_SUPPRESS_FLAPPING, NULL, 8, "a");
    note_url = "http://p/";
    note(d, 7, DECISION_SUPPRESS_FLAPPING, NULL, 8, "a");
    CHECK_EQ_INT(records_of(d, 7, &c), 3);
    CHECK_EQ_STR(c.got[0].generator_url, "http://p/");
    CHECK_EQ_STR(c.got[0].reason, "flapping");
    CHECK_EQ_STR(c.got[1].reason, "duplicate");
    note_url = "http://prometheus:9090/graph?g0.expr=up";
    note(d, 7, DECISION_SUPPRESS_FLAPPING, NULL, 8, "a");
    CHECK_EQ_INT(records_of(d, 7, &c), 3);
    CHECK_EQ_STR(c.got[0].generator_url, "http://prometheus:9090/graph?g0.expr=up");
    CHECK_EQ_INT(c.got[0].times, 4);
    note_url = "";
    note(d, 7, DECISION_SUPPRESS_FLAPPING, NULL, 8, "a");
    records_of(d, 7, &c);
    CHECK_EQ_STR(c.got[0].generator_url, "");

    /* Another fingerprint in between ends nothing: runs are per
     * fingerprint. A different rule is a different decision. */
    note(d, 9, DECISION_SUPPRESS_DUPLICATE, NULL, 8, "b");
    note(d, 7, DECISION_SUPPRESS_FLAPPING, NULL, 9, "a");
    CHECK_EQ_INT(records_of(d, 7, &c), 3);
    CHECK_EQ_INT(c.got[0].times, 6);
    static const char rule_a[] = "a", rule_b[] = "b";
    note(d, 9, DECISION_SUPPRESS_EXCLUDED, rule_a, 10, "b");
    note(d, 9, DECISION_SUPPRESS_EXCLUDED, rule_a, 11, "b");
    note(d, 9, DECISION_SUPPRESS_EXCLUDED, rule_b, 12, "b");
    CHECK_EQ_INT(records_of(d, 9, &c), 3);
    CHECK_EQ_INT(c.got[0].times, 1);
    CHECK_EQ_INT(c.got[1].times, 2);

    /* The ring is bounded: 8 records, the oldest go first, and a run whose
     * record left the ring starts a new one. */
    for (uint64_t fp = 20; fp < 28; fp++) note(d, fp, DECISION_FORWARD_NEW, NULL, 20, "c");
    CHECK_EQ_INT(count_all(d), 8);
    CHECK_EQ_INT(records_of(d, 7, &c), 0);
    note(d, 7, DECISION_SUPPRESS_FLAPPING, NULL, 30, "a");
    CHECK_EQ_INT(records_of(d, 7, &c), 1);
    CHECK_EQ_INT(c.got[0].times, 1);
    declog_destroy(d);
}

/* Open alerts whose records left the ring stay listed (kept), one per
 * fingerprint, until a resolve leaves the ring after them; a set that is
 * full gives up its oldest, counted. */
static void test_kept(void)
{
    declog_opts_t o = {.workers = 1, .recent = 4, .open = 64, .open_ms = 3600000};
    char err[256];
    declog_t *d = declog_new(&o, err, sizeof err);
    CHECK(d != NULL);
    CHECK_EQ_INT(declog_capacity(d), 4 + 64);
    collect_t c;
    note(d, 100, DECISION_FORWARD_NEW, NULL, 1, "a");
    note(d, 100, DECISION_SUPPRESS_DUPLICATE, NULL, 2, "a");
    for (uint64_t fp = 1; fp <= 10; fp++) note(d, fp, DECISION_FORWARD_NEW, NULL, 3, "b");
    /* Both of 100's records left the ring; the latest is kept, once. */
    CHECK_EQ_INT(records_of(d, 100, &c), 1);
    CHECK_EQ_INT(c.got[0].kind, DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(c.got[0].event_ms, 2);
    CHECK_EQ_INT(count_all(d), 10); /* 4 in the ring, 6 kept (fingerprints 1-6) */
    CHECK_EQ_INT(records_of(d, 100, &c), 1);
    /* Once the ring turned over, its run goes on in the kept record: no
     * new ring record (7-10 stay in the ring), the times move. */
    for (uint64_t fp = 15; fp <= 18; fp++) note(d, fp, DECISION_FORWARD_NEW, NULL, 3, "b");
    note(d, 100, DECISION_SUPPRESS_DUPLICATE, NULL, 3, "a");
    note(d, 100, DECISION_SUPPRESS_DUPLICATE, NULL, 4, "a");
    CHECK_EQ_INT(records_of(d, 100, &c), 1);
    CHECK_EQ_INT(c.got[0].kind, DECISION_SUPPRESS_DUPLICATE);
    CHECK_EQ_INT(c.got[0].event_ms, 4);
    CHECK_EQ_INT(records_of(d, 18, &c), 1); /* still in the ring */
    CHECK(c.got[0].times == 1);
    /* A newer record in the ring comes first. */
    note(d, 100, DECISION_SUPPRESS_FLAPPING, NULL, 4, "a");
    CHECK_EQ_INT(records_of(d, 100, &c), 2);
    CHECK_EQ_INT(c.got[0].kind, DECISION_SUPPRESS_FLAPPING);
    /* It resolves; once the resolve left the ring, nothing is listed. */
    note(d, 100, DECISION_FORWARD_RESOLVED, NULL, 5, "a");
    for (uint64_t fp = 11; fp <= 14; fp++) note(d, fp, DECISION_FORWARD_NEW, NULL, 6, "b");
    CHECK_EQ_INT(records_of(d, 100, &c), 0);
    mbuf_t m = {0};
    declog_metrics(d, &m);
    CHECK(m.buf && strstr(m.buf, "quell_decision_log_kept_lost_total 0\n"));
    mbuf_free(&m);
    declog_destroy(d);

    /* One set of 8: the 12 that left the ring keep the 8 newest. */
    o.open = 8;
    d = declog_new(&o, err, sizeof err);
    for (uint64_t fp = 1; fp <= 16; fp++) note(d, fp, DECISION_FORWARD_NEW, NULL, (int64_t)fp, "b");
    CHECK_EQ_INT(count_all(d), 4 + 8);
    declog_metrics(d, &m);
    CHECK(m.buf && strstr(m.buf, "quell_decision_log_kept_lost_total 4\n"));
    mbuf_free(&m);
    declog_destroy(d);

    /* Past dedup.window (open_ms) a record is not kept. */
    o.open_ms = 0;
    d = declog_new(&o, err, sizeof err);
    for (uint64_t fp = 1; fp <= 8; fp++) note(d, fp, DECISION_FORWARD_NEW, NULL, 1, "b");
    CHECK_EQ_INT(count_all(d), 4);
    declog_destroy(d);
}

/* declog_latest: a fingerprint's latest decision, from the ring (by the
 * index, or a walk when another fingerprint took its index entry) or its
 * kept record; what route groups ask before resolving an alert by time. */
static void test_latest(void)
{
    declog_opts_t o = {.workers = 2, .recent = 8, .open = 64, .open_ms = 3600000};
    char err[256];
    declog_t *d = declog_new(&o, err, sizeof err);
    CHECK(d != NULL);
    declog_times_t t;
    CHECK(!declog_latest(d, 100, &t));
    note(d, 100, DECISION_FORWARD_NEW, NULL, 1, "a");
    note(d, 100, DECISION_SUPPRESS_DUPLICATE, NULL, 2, "a");
    CHECK(declog_latest(d, 100, &t));
    CHECK(t.firing);
    CHECK_EQ_INT(t.event_ms, 2);
    CHECK(t.decided_ms > 0);
    CHECK(!declog_latest(d, 55, &t));
    /* 132 takes 100's index entry (8 ring slots, 32 entries): a walk. */
    note(d, 132, DECISION_FORWARD_NEW, NULL, 3, "b");
    CHECK(declog_latest(d, 100, &t) && t.event_ms == 2);
    CHECK(declog_latest(d, 132, &t) && t.event_ms == 3);
    /* The ring turns over: 100's record is kept, its run goes on there. */
    for (uint64_t fp = 1; fp <= 10; fp++) note(d, fp, DECISION_FORWARD_NEW, NULL, 4, "c");
    CHECK(declog_latest(d, 100, &t) && t.firing && t.event_ms == 2);
    note(d, 100, DECISION_SUPPRESS_DUPLICATE, NULL, 5, "a");
    CHECK(declog_latest(d, 100, &t) && t.firing && t.event_ms == 5);
    /* A resolve is the latest: not firing. */
    note(d, 100, DECISION_FORWARD_RESOLVED, NULL, 6, "a");
    CHECK(declog_latest(d, 100, &t));
    CHECK(!t.firing);
    declog_destroy(d);
    /* No ring: nothing to say. */
    o.recent = 0;
    d = declog_new(&o, err, sizeof err);
    CHECK(d && !declog_latest(d, 100, &t));
    declog_destroy(d);
}

/* The worker rewrites records in place while readers copy them: a copy is
 * whole, its fields from one write (event_ms = 1000 * times + fp, and the
 * description annotation says the same). */
typedef struct {
    declog_t *d;
    _Atomic bool stop;
    uint64_t copies, torn;
} reader_t;

static bool check_whole(void *ctx, const declog_rec_t *r)
{
    reader_t *rd = ctx;
    char want[32];
    snprintf(want, sizeof want, "%lld", (long long)r->event_ms);
    rd->copies++;
    if (r->event_ms != (int64_t)(1000 * r->times + r->fingerprint) ||
        strcmp(r->annotations + 12, want) != 0)
        rd->torn++;
    return true;
}

static void *read_main(void *arg)
{
    reader_t *rd = arg;
    while (!atomic_load(&rd->stop)) declog_each(rd->d, check_whole, rd);
    return NULL;
}

static void test_readers_see_whole_records(void)
{
    declog_opts_t o = {.workers = 1, .recent = 16};
    char err[256];
    reader_t rd = {.d = declog_new(&o, err, sizeof err)};
    CHECK(rd.d != NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, read_main, &rd) == 0);
    uint64_t times[4] = {0};
    for (int i = 0; i < 400000; i++) {
        uint64_t fp = (uint64_t)(i % 4);
        times[fp]++;
        note(rd.d, fp, DECISION_SUPPRESS_DUPLICATE, NULL, (int64_t)(1000 * times[fp] + fp), "x");
    }
    atomic_store(&rd.stop, true);
    pthread_join(t, NULL);
    fprintf(stderr, "declog: %llu records copied during 400000 in-place updates, %llu torn\n",
            (unsigned long long)rd.copies, (unsigned long long)rd.torn);
    CHECK(rd.copies > 0);
    CHECK_EQ_INT(rd.torn, 0);
    collect_t c;
    CHECK_EQ_INT(records_of(rd.d, 3, &c), 1);
    CHECK_EQ_INT(c.got[0].times, 100000);
    declog_destroy(rd.d);
}

int main(void)
{
    test_latest();
    test_runs();
    test_kept();
    test_readers_see_whole_records();
    return check_summary("test_declog");
}
