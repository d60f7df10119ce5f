/*
 * The Kafka consumer adapter: one thread (the caller of ingest_run) polls the
 * group, decodes, fingerprints and hands alerts to the dedup workers' rings.
 *
 * Offsets: enable.auto.offset.store=false. Each message gets a slot in its
 * partition's track window; the slot is held until every alert of it is
 * decided and every incident or dead letter it produced is acknowledged.
 * This thread advances the windows in offset order and stores the offset
 * after the last finished message; librdkafka's auto-commit then commits
 * stored offsets only. A crash therefore re-reads, never skips.
 *
 * Rebalances (cooperative-sticky by default): on revoke, the revoked
 * partitions are drained (their in-flight messages finish), their offsets
 * stored and committed synchronously, and only then unassigned, so the next
 * owner starts exactly where this one stopped.
 *
 * Watermark: dedup decides each fingerprint on its own event time, but an
 * idle incident may only be dropped once no partition still being read is
 * behind it. Each record carries the watermark: the oldest "newest event
 * time" over the assigned partitions. A partition that delivered nothing
 * yet holds everything back. Reaching a partition's end is not enough to
 * leave it out — a producer backfilling history batches per partition, so
 * the next batch of an "ended" partition can be older than what others
 * already delivered — so only a partition idle at its end for
 * IDLE_PARTITION_MS stops holding the watermark back.
 *
 * Gaps: the next offset of a partition should be the previous + 1. When it is
 * not (retention deleted data this consumer had not read, an offset reset),
 * the gap is logged and counted as loss rather than skipped silently.
 */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "ingest.h"

#define TRACK_SLOTS       16384 /* per partition, 16 bytes each: 256 KiB when full */
#define DRAIN_TIMEOUT_MS  60000
#define IDLE_PARTITION_MS 5000
#define PUBLISH_EVERY     32 /* messages: bounds the wait a batch adds (~30 us) */
/* Messages taken from librdkafka per call: one queue lock and wake-up per
 * batch instead of per message (rd_kafka_consumer_poll cost ~1.5 us a
 * message on this machine, the batch call ~0.6 us). */
#define CONSUME_BATCH 256
/* Messages handed to a lane and not yet decoded stay librdkafka's (their
 * fetch buffers too) outside its queue bound. A job takes ring room for an
 * eighth of its message besides itself, so the ring bounds their bytes,
 * not only their count: 1 MiB is ~15,000 one-alert messages (~25 ms of
 * decoding, enough to keep a lane busy) and ~8 MiB of payload whatever
 * the message size (messages of 16 batched alerts: ~2,000; counted alone,
 * 25,000 of them took 100 MiB). */
#define LANE_JOB_RING_BYTES (1024 * 1024)
#define JOB_WEIGHT_SHIFT    3           /* ring room per message byte: 1/8 */
#define JOB_WEIGHT_MAX      (64 * 1024) /* a huge message weighs this much */
/* librdkafka's consumer queue bound (queued.max.messages.kbytes), see
 * ingest_new. */
#define QUEUE_KBYTES      "32768"
#define NUDGE_INTERVAL_MS 5     /* at most this often: see nudge_fetch() */
#define NUDGE_MIN_LAG     10000 /* messages known to be waiting, over all partitions */
#define NUDGE_DRY_MS      20    /* then any lag: see nudge_fetch() */
/* While the queue is dry and messages are still in flight, the consumer
 * thread waits this long for more instead of 50 ms, so it sees them
 * finish and commits promptly (see commit_when_idle()). */
#define DRY_INFLIGHT_POLL_MS 2
#define DRY_INFLIGHT_SPAN_MS 200 /* ... for at most this long: see ingest_run */

/* An ingest lane decodes, fingerprints and hands off the messages of the
 * partitions it is given, into its own ring to each worker (rings are
 * single-producer). Lane 0 is the consumer thread itself; lanes 1.. are
 * threads fed by the consumer thread over a job ring. A partition always
 * goes to the same lane, so its messages keep their order. */
/* A start commit is committed again this long after it was sent. */
#define START_CHECK_NS (1000LL * 1000000)

typedef struct {
    rd_kafka_message_t *m; /* the lane destroys it; NULL: a watermark tick */
    msg_track_t *t;
    int64_t event_ms, watermark_ms;
    int64_t received_ns; /* wall clock when the consumer thread took it */
} job_t;

typedef struct {
    ingest_t *in;
    ring_t **rings; /* to each worker, indexed by dedup_shard() */
    ring_t *jobs;   /* from the consumer thread; NULL for lane 0 */
    arena_t arena;
    unsigned unpublished; /* records committed since the last publish */
    log_limit_t decode_log;
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    _Alignas(CACHELINE) _Atomic uint64_t alerts;
    _Atomic uint64_t decode_errors[DECODE__COUNT];
    _Atomic uint64_t alerts_in[INGEST_SOURCE__COUNT][INGEST_FORMAT__COUNT];
} lane_t;

typedef struct {
    char *topic;
    int32_t partition;
    lane_t *lane;
    track_window_t *window;
    int64_t expected_offset; /* -1 until known */
    int64_t stored_offset;   /* last offset handed to offsets_store */
    int64_t newest_event_ms; /* 0 until a message arrived */
    int64_t eof_since_ns;    /* monotonic time it reached its end; 0 = not at end */
    uint64_t pushed;         /* messages given a track slot so far */
    uint64_t barrier_at;     /* `pushed` when the barrier being served was raised */
    int64_t finished_offset; /* after the last finished message; -1 = none yet */
    int64_t mark_offset;     /* finished_offset when the mark being served was taken */
    int64_t commit_limit;    /* commits held (ingest_hold_commits): stored at most
                              * this far, the latest published mark; -1 = none */
    int64_t start_to_commit; /* new to the group and empty: commit this at its first
                              * fetch result (see on_assign); -1 = none */
    int64_t start_check;     /* that start commit, to be checked (retry_starts); -1 = none */
    int64_t start_check_ns;  /* not before this (monotonic) */
} part_state_t;

struct ingest {
    ingest_opts_t opts;
    ingest_limits_t limits;
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue; /* the consumer queue, read in batches */
    unsigned rebalances;     /* bumped by every rebalance callback */
    part_state_t *parts;
    size_t n_parts, cap_parts;
    part_state_t *last_part; /* cache: consecutive messages share partitions */
    lane_t *lanes;
    size_t n_lanes;
    log_limit_t err_log;
    int64_t watermark_ms;
    unsigned unpublished; /* messages handed off since the last publish_all */
    int64_t last_nudge_ns;
    int64_t dry_since_ns;       /* the queue has been empty since; 0 = it is not */
    size_t queue_peak;          /* longest consumer queue since the last nudge */
    bool commit_owed;           /* messages handed out since the last idle commit */
    int64_t idle_commit_ns;     /* when commit_when_idle() last committed */
    int64_t idle_commit_gap_ns; /* at most one idle commit per this */
    _Alignas(CACHELINE) _Atomic uint64_t messages;
    _Atomic uint64_t offset_gaps;
    _Atomic uint64_t offsets_skipped;
    _Atomic uint64_t fetch_nudges;
    _Atomic uint64_t fetch_wait_ns; /* consumer thread idle after a nudge */
    _Atomic uint64_t first_message_ns;
    _Atomic int32_t assigned; /* partitions held now */
    /* Consumer lag per partition from librdkafka's statistics, replaced
     * whole on every statistics event (consumer thread); read by scrapes. */
    pthread_mutex_t lag_lock;
    ingest_lag_t *lag;
    size_t n_lag;
    /* Delivery barrier (ingest_barrier_request): raised by any thread,
     * served by the consumer thread, which owns the track windows. */
    _Alignas(CACHELINE) _Atomic uint64_t barrier_req;
    _Atomic uint64_t barrier_done;
    uint64_t barrier_serving; /* consumer thread */
    /* Commits held to the state snapshots (ingest_hold_commits): marks
     * requested and published by the snapshot writer, taken and applied
     * by the consumer thread. */
    bool hold_commits;
    bool closed; /* ingest_close done */
    _Alignas(CACHELINE) _Atomic uint64_t mark_req;
    _Atomic uint64_t mark_taken;
    _Atomic uint64_t mark_published;
    uint64_t mark_serving, mark_applied; /* consumer thread */
};

static void lanes_stop(ingest_t *in);

static part_state_t *part_find(ingest_t *in, const char *topic, int32_t partition)
{
    if (in->last_part && in->last_part->partition == partition &&
        strcmp(in->last_part->topic, topic) == 0)
        return in->last_part;
    for (size_t i = 0; i < in->n_parts; i++) {
        if (in->parts[i].partition == partition && strcmp(in->parts[i].topic, topic) == 0)
            return in->last_part = &in->parts[i];
    }
    return NULL;
}

static part_state_t *part_add(ingest_t *in, const char *topic, int32_t partition)
{
    part_state_t *p = part_find(in, topic, partition);
    if (p) return p;
    if (in->n_parts == in->cap_parts) {
        size_t ncap = in->cap_parts ? in->cap_parts * 2 : 16;
        part_state_t *np = realloc(in->parts, ncap * sizeof(*np));
        if (!np) return NULL;
        in->parts = np;
        in->cap_parts = ncap;
        in->last_part = NULL;
    }
    p = &in->parts[in->n_parts];
    p->window = track_window_new(TRACK_SLOTS);
    p->topic = strdup(topic);
    if (!p->window || !p->topic) {
        track_window_destroy(p->window);
        free(p->topic);
        return NULL;
    }
    p->partition = partition;
    p->lane = &in->lanes[(XXH3_64bits(topic, strlen(topic)) + (uint64_t)partition) % in->n_lanes];
    p->expected_offset = -1;
    p->stored_offset = -1;
    p->newest_event_ms = 0;
    p->eof_since_ns = 0;
    p->pushed = p->barrier_at = 0; /* nothing of it was handed out before */
    p->finished_offset = p->mark_offset = p->commit_limit = -1; /* no mark covers it yet */
    p->start_to_commit = p->start_check = -1;
    in->n_parts++;
    return p;
}

static void part_remove(ingest_t *in, part_state_t *p)
{
    track_window_destroy(p->window);
    free(p->topic);
    *p = in->parts[--in->n_parts];
    in->last_part = NULL;
}

/* Advances one partition's window past its finished messages. */
static void part_advance(part_state_t *p)
{
    int64_t finished;
    if (track_window_advance(p->window, &finished)) p->finished_offset = finished;
}

/* Advances one partition's window and stores its offset if it moved: the
 * offset after the last finished message, or, with commits held, no
 * further than the latest published mark. */
static void part_store(ingest_t *in, part_state_t *p)
{
    part_advance(p);
    int64_t commit_offset = p->finished_offset;
    if (in->hold_commits && p->commit_limit < commit_offset) commit_offset = p->commit_limit;
    if (commit_offset < 0 || commit_offset == p->stored_offset) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = commit_offset;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(in->rk, l);
    if (err && log_limit_allow(&in->err_log, 10000, NULL))
        log_warn("ingest", "offsets_store %s[%d]@%lld: %s", p->topic, (int)p->partition,
                 (long long)commit_offset, rd_kafka_err2str(err));
    else
        p->stored_offset = commit_offset;
    rd_kafka_topic_partition_list_destroy(l);
}

static void lane_publish(lane_t *l)
{
    for (size_t i = 0; i < l->in->opts.n_rings; i++) ring_publish(l->rings[i]);
    l->unpublished = 0;
}

/* Consumer thread: hands every record and job written since the last
 * publish to the workers (lane 0) and to the other lanes. */
static void publish_all(ingest_t *in)
{
    lane_publish(&in->lanes[0]);
    for (size_t i = 1; i < in->n_lanes; i++) ring_publish(in->lanes[i].jobs);
    in->unpublished = 0;
}

/* Sends the watermark down every ring of the lane (dedup_inputs_peek):
 * after everything the lane handed off before, so a worker knows this
 * ring holds nothing stamped lower. A full ring gets none: it is not
 * idle. */
static void lane_tick(lane_t *l, int64_t watermark_ms)
{
    for (size_t i = 0; i < l->in->opts.n_rings; i++) {
        void *dst = ring_reserve(l->rings[i], ALERT_REC_TICK_BYTES);
        if (!dst) continue;
        alert_rec_write_tick(dst, watermark_ms);
        ring_commit_local(l->rings[i]);
    }
    lane_publish(l);
}

/* Consumer thread: every few ms, each lane ticks (the others through
 * their job rings, behind the jobs already queued). */
static void tick_all(ingest_t *in)
{
    lane_tick(&in->lanes[0], in->watermark_ms);
    for (size_t i = 1; i < in->n_lanes; i++) {
        job_t *j = ring_reserve(in->lanes[i].jobs, sizeof(*j));
        if (!j) continue;
        *j = (job_t){NULL, NULL, 0, in->watermark_ms, 0};
        ring_commit_local(in->lanes[i].jobs);
    }
    publish_all(in);
}

static void store_all(ingest_t *in)
{
    for (size_t i = 0; i < in->n_parts; i++) part_store(in, &in->parts[i]);
}

/* See the top of the file. Recomputed every few ms: a stale watermark is
 * only smaller, which is the safe side. */
static void update_watermark(ingest_t *in)
{
    int64_t lowest = INT64_MAX, newest = 0;
    int64_t idle_before_ns = clock_mono_ns() - (int64_t)IDLE_PARTITION_MS * 1000000;
    for (size_t i = 0; i < in->n_parts; i++) {
        const part_state_t *p = &in->parts[i];
        if (p->newest_event_ms > newest) newest = p->newest_event_ms;
        bool idle = p->eof_since_ns && p->eof_since_ns < idle_before_ns;
        if (!idle && p->newest_event_ms < lowest) lowest = p->newest_event_ms;
    }
    in->watermark_ms = lowest == INT64_MAX ? newest : lowest;
}

static size_t inflight(ingest_t *in, part_state_t *only)
{
    size_t n = 0;
    for (size_t i = 0; i < in->n_parts; i++) {
        if (only && &in->parts[i] != only) continue;
        n += track_window_inflight(in->parts[i].window);
    }
    return n;
}

/* Consumer thread, every few ms. A new request notes how many messages
 * each partition has handed out; the barrier passes once that many are
 * finished (decided, delivered) on every partition. A partition revoked
 * meanwhile was drained first, one assigned meanwhile handed nothing out
 * before the request. */
static void barrier_serve(ingest_t *in)
{
    uint64_t req = atomic_load_explicit(&in->barrier_req, memory_order_acquire);
    if (req != in->barrier_serving) {
        for (size_t i = 0; i < in->n_parts; i++) in->parts[i].barrier_at = in->parts[i].pushed;
        in->barrier_serving = req;
    }
    if (atomic_load_explicit(&in->barrier_done, memory_order_relaxed) == in->barrier_serving)
        return;
    for (size_t i = 0; i < in->n_parts; i++) {
        const part_state_t *p = &in->parts[i];
        if (p->pushed - track_window_inflight(p->window) < p->barrier_at) return;
    }
    atomic_store_explicit(&in->barrier_done, in->barrier_serving, memory_order_release);
}

uint64_t ingest_barrier_request(ingest_t *in)
{
    return atomic_fetch_add_explicit(&in->barrier_req, 1, memory_order_acq_rel) + 1;
}

bool ingest_barrier_passed(ingest_t *in, uint64_t ticket)
{
    return atomic_load_explicit(&in->barrier_done, memory_order_acquire) >= ticket;
}

/* Consumer thread, every few ms, after store_all: commits held to the
 * state snapshots (see ingest_hold_commits). A new mark request notes,
 * per partition, the offset after the last finished message; a published
 * mark (its snapshot is on disk) raises the partitions' commit limits to
 * it. A partition assigned after the mark was taken has none (-1) and
 * keeps its limit; one revoked meanwhile is gone. The writer asks for one
 * mark at a time, so the mark published is the one being served, or an
 * older one abandoned, which is ignored. */
static void mark_serve(ingest_t *in)
{
    uint64_t req = atomic_load_explicit(&in->mark_req, memory_order_acquire);
    if (req != in->mark_serving) {
        for (size_t i = 0; i < in->n_parts; i++)
            in->parts[i].mark_offset = in->parts[i].finished_offset;
        in->mark_serving = req;
        atomic_store_explicit(&in->mark_taken, req, memory_order_release);
    }
    uint64_t pub = atomic_load_explicit(&in->mark_published, memory_order_acquire);
    if (pub == in->mark_applied || pub != in->mark_serving) return;
    for (size_t i = 0; i < in->n_parts; i++) {
        part_state_t *p = &in->parts[i];
        if (p->mark_offset > p->commit_limit) p->commit_limit = p->mark_offset;
    }
    in->mark_applied = pub;
    store_all(in);
}

void ingest_hold_commits(ingest_t *in) { in->hold_commits = true; }

uint64_t ingest_mark_request(ingest_t *in)
{
    return atomic_fetch_add_explicit(&in->mark_req, 1, memory_order_acq_rel) + 1;
}

bool ingest_mark_taken(ingest_t *in, uint64_t ticket)
{
    return atomic_load_explicit(&in->mark_taken, memory_order_acquire) >= ticket;
}

void ingest_mark_publish(ingest_t *in, uint64_t ticket)
{
    atomic_store_explicit(&in->mark_published, ticket, memory_order_release);
}

/* Waits until the given partition (or all, when NULL) has nothing in
 * flight, storing offsets as they finish. Workers and the router keep
 * running meanwhile; this thread only waits. */
static bool drain(ingest_t *in, part_state_t *only)
{
    int64_t deadline = clock_mono_ns() + (int64_t)DRAIN_TIMEOUT_MS * 1000000;
    publish_all(in);
    for (;;) {
        if (only)
            part_store(in, only);
        else
            store_all(in);
        if (inflight(in, only) == 0) return true;
        if (clock_mono_ns() > deadline) return false;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* Consumer thread, while librdkafka's queue is dry. Auto-commit sends the
 * stored offsets every kafka.commit_interval; a backlog's (or a burst's)
 * last offsets would wait for that tick, up to the interval after the
 * last alert was decided, and the consumer thread, blocked in its poll
 * for up to 50 ms, stores them late too. So once the queue is dry and
 * everything handed out is finished, this stores the offsets and commits
 * them now (asynchronously: the stored offsets, what auto-commit would
 * send). At most four times per commit interval, so trickling live traffic
 * costs the broker a few more OffsetCommits, not one per message.
 * Returns true while messages are still in flight (poll briefly). */
static bool commit_when_idle(ingest_t *in, int64_t now_ns)
{
    if (!in->commit_owed) return false;
    /* Every 2 ms while in flight: only the windows, not offsets_store
     * (a list and a lock per partition) until all is finished. */
    size_t n = 0;
    for (size_t i = 0; i < in->n_parts; i++) {
        part_advance(&in->parts[i]);
        n += track_window_inflight(in->parts[i].window);
    }
    if (n > 0) return true;
    if (now_ns - in->idle_commit_ns < in->idle_commit_gap_ns) return false;
    store_all(in);
    in->commit_owed = false;
    in->idle_commit_ns = now_ns;
    rd_kafka_resp_err_t err = rd_kafka_commit(in->rk, NULL, 1);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET && log_limit_allow(&in->err_log, 10000, NULL))
        log_warn("ingest", "commit: %s", rd_kafka_err2str(err));
    return false;
}

/* librdkafka 2.0 stops fetching while its consumer queue holds
 * queued.max.messages.kbytes (or queued.min.messages), and when the
 * application has drained it nothing tells the broker thread: it sleeps
 * until its next service round, up to a second later (2.1 added
 * fetch.queue.backoff.ms for this). So bounding the queue to what a
 * fraction of a second of draining needs used to cost half the rate: at
 * 64 MiB, 264,000 alerts/s against 498,000 at 256 MiB. Any request to a
 * broker wakes its thread, which then decides again what to fetch. So
 * when the queue has run dry while a partition is known to hold more
 * (the high watermark of its last fetch is past what this consumer read),
 * this asks the leaders of those partitions for their end offsets: one
 * ListOffsets per broker, at most every NUDGE_INTERVAL_MS. The answer is
 * not needed, so the call does not wait for it (timeout 0: the requests
 * go out, the call returns, and librdkafka drops the late answer, its
 * callback seeing ERR__DESTROY, as it was written to). Only when
 * NUDGE_MIN_LAG messages are known to wait, or fewer but the queue has
 * been dry for NUDGE_DRY_MS (the end of a backlog; messages that each
 * carry many alerts): a consumer keeping up with live traffic has a fetch
 * in flight anyway, answered within fetch.wait.max.ms. Consumer thread. */

static bool nudge_fetch(ingest_t *in, int64_t now_ns, int64_t min_lag)
{
    if (now_ns - in->last_nudge_ns < (int64_t)NUDGE_INTERVAL_MS * 1000000) return false;
    in->last_nudge_ns = now_ns;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    int64_t lag = 0;
    for (size_t i = 0; i < in->n_parts; i++) {
        part_state_t *p = &in->parts[i];
        int64_t lo, hi;
        if (p->expected_offset < 0 ||
            rd_kafka_get_watermark_offsets(in->rk, p->topic, p->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi <= p->expected_offset)
            continue;
        lag += hi - p->expected_offset;
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = -1; /* latest */
    }
    bool nudged = lag >= min_lag; /* min_lag >= 1 */
    if (nudged) {
        stat_add(&in->fetch_nudges, 1);
        /* the request is what wakes the broker: see above */
        rd_kafka_offsets_for_times(in->rk, l, 0);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return nudged;
}

/* The wake-up above, before the queue runs dry: once what is queued is
 * down to a quarter of its longest since the last wake-up, the fetch (a
 * round trip and the decompression of up to fetch.max.bytes) overlaps
 * the draining of the rest instead of following it. Consumer thread, after
 * a full batch (a partial one means the queue is dry anyway). */
#define NUDGE_EARLY_MIN 1024 /* queued messages: below it, wait for dry */

static void nudge_early(ingest_t *in, int64_t now_ns)
{
    size_t queued = rd_kafka_queue_length(in->queue);
    if (queued > in->queue_peak) in->queue_peak = queued;
    if (in->queue_peak < NUDGE_EARLY_MIN || queued > in->queue_peak / 4) return;
    /* lag counts what is queued too: only when the broker has more */
    if (nudge_fetch(in, now_ns, (int64_t)queued + 1)) in->queue_peak = 0;
}

/* Commits where a partition new to the group starts (see on_assign):
 * asynchronously, then once more a second later (retry_starts). */
static void commit_start(ingest_t *in, part_state_t *p, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = offset;
    rd_kafka_commit(in->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
    p->start_check = offset;
    p->start_check_ns = clock_mono_ns() + START_CHECK_NS;
}

/* Consumer thread, with the periodic stores. A start commit sent while
 * the group was still rebalancing (a second instance joining) is refused
 * ("rebalance in progress") and, for an empty partition, nothing else
 * would ever commit it: the group never shows it owns the partition, and
 * quell load, lag dashboards and the next owner's start go by what is
 * committed. So it is committed again, synchronously, until it holds,
 * while nothing later of the partition has been stored (an offset stored
 * since is committed by the auto-commit and must not be moved back). */
static void retry_starts(ingest_t *in, int64_t now_ns)
{
    for (size_t i = 0; i < in->n_parts; i++) {
        part_state_t *p = &in->parts[i];
        if (p->start_check < 0 || now_ns < p->start_check_ns) continue;
        if (p->stored_offset >= 0) {
            p->start_check = -1;
            continue;
        }
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->start_check;
        rd_kafka_resp_err_t err = rd_kafka_commit(in->rk, l, 0);
        rd_kafka_topic_partition_list_destroy(l);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->start_check = -1;
        } else {
            log_debug("ingest", "%s[%d]: start commit again: %s", p->topic, (int)p->partition,
                      rd_kafka_err2str(err));
            p->start_check_ns = now_ns + START_CHECK_NS;
        }
    }
}

/* Consumer thread: the first fetch result (a message or the end) of a
 * partition whose start commit was held back. Before anything of it is
 * handed out, so no later stored offset can be committed first. */
static void start_fetched(ingest_t *in, part_state_t *p)
{
    if (p->start_to_commit < 0) return;
    commit_start(in, p, p->start_to_commit);
    p->start_to_commit = -1;
}

static void on_assign(ingest_t *in, rd_kafka_topic_partition_list_t *parts)
{
    /* Learn where each partition resumes so a gap at the very first fetch
     * (committed data deleted by retention) is seen too. A partition the
     * group never committed starts at the earliest retained offset; that
     * start is committed, so it is durable and so tools (quell load, lag
     * dashboards) can see the group owns the partition. One holding data
     * gets it right away. An empty one gets it once its first fetch came
     * back (start_fetched): a producer waiting for the commit (quell load,
     * quell bench's latency run) then starts when quell is reading, not
     * hundreds of milliseconds before, while offsets are looked up and
     * fetchers start (measured: the first 20,000 alerts of a 45,000/s run
     * then waited 100-250 ms, p99 of the whole run included). */
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_topic_partition_list_t *starts = rd_kafka_topic_partition_list_new(parts->cnt);
    bool have_committed =
        rd_kafka_committed(in->rk, committed, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    int empty_new = 0;
    for (int i = 0; i < parts->cnt; i++) {
        part_state_t *p = part_add(in, parts->elems[i].topic, parts->elems[i].partition);
        if (!p) {
            log_error("ingest", "out of memory tracking %s[%d]", parts->elems[i].topic,
                      (int)parts->elems[i].partition);
            continue;
        }
        int64_t lo, hi;
        if (have_committed && committed->elems[i].offset >= 0) {
            p->expected_offset = committed->elems[i].offset;
        } else if (rd_kafka_query_watermark_offsets(in->rk, p->topic, p->partition, &lo, &hi,
                                                    5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->expected_offset = lo;
            if (hi > lo)
                rd_kafka_topic_partition_list_add(starts, p->topic, p->partition)->offset = lo;
            else
                p->start_to_commit = lo, empty_new++;
        }
        log_debug("ingest", "assigned %s[%d] resuming at %lld", p->topic, (int)p->partition,
                  (long long)p->expected_offset);
    }
    atomic_store_explicit(&in->assigned, (int32_t)in->n_parts, memory_order_relaxed);
    log_info("ingest", "assigned %d partitions (%d new to the group, %d of them empty)", parts->cnt,
             starts->cnt + empty_new, empty_new);
    if (starts->cnt) rd_kafka_commit(in->rk, starts, 1);
    rd_kafka_topic_partition_list_destroy(starts);
    rd_kafka_topic_partition_list_destroy(committed);
}

static void on_revoke(ingest_t *in, rd_kafka_topic_partition_list_t *parts, bool lost)
{
    rd_kafka_topic_partition_list_t *commit = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        part_state_t *p = part_find(in, parts->elems[i].topic, parts->elems[i].partition);
        if (!p) continue;
        if (!drain(in, p))
            log_error("ingest",
                      "%s[%d]: in-flight messages not finished in %d ms; the next owner will "
                      "re-read them",
                      p->topic, (int)p->partition, DRAIN_TIMEOUT_MS);
        if (p->stored_offset >= 0)
            rd_kafka_topic_partition_list_add(commit, p->topic, p->partition)->offset =
                p->stored_offset;
        part_remove(in, p);
    }
    if (!lost && commit->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(in->rk, commit, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            log_warn("ingest", "commit on revoke: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(commit);
    atomic_store_explicit(&in->assigned, (int32_t)in->n_parts, memory_order_relaxed);
    log_info("ingest", "revoked %d partitions%s", parts->cnt, lost ? " (lost)" : "");
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ingest_t *in = opaque;
    in->rebalances++;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(in, parts);
        if (cooperative)
            rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else {
        on_revoke(in, parts, rd_kafka_assignment_lost(rk));
        if (cooperative)
            rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
}

/* librdkafka's statistics JSON: topics.T.partitions.P.consumer_lag. Only
 * partitions this consumer fetches report a lag >= 0. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    (void)rk;
    ingest_t *in = opaque;
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    if (!root) return 0;
    ingest_lag_t *lag = NULL;
    size_t n = 0, cap = 0;
    const cJSON *topic;
    cJSON_ArrayForEach(topic, cJSON_GetObjectItemCaseSensitive(root, "topics"))
    {
        const cJSON *part;
        cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(topic, "partitions"))
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(part, "partition");
            const cJSON *l = cJSON_GetObjectItemCaseSensitive(part, "consumer_lag");
            if (!cJSON_IsNumber(id) || id->valueint < 0 || !cJSON_IsNumber(l) || l->valuedouble < 0)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                ingest_lag_t *nl = realloc(lag, ncap * sizeof(*nl));
                if (!nl) break;
                lag = nl;
                cap = ncap;
            }
            snprintf(lag[n].topic, sizeof(lag[n].topic), "%s", topic->string);
            lag[n].partition = id->valueint;
            lag[n].lag = (int64_t)l->valuedouble;
            n++;
        }
    }
    cJSON_Delete(root);
    pthread_mutex_lock(&in->lag_lock);
    free(in->lag);
    in->lag = lag;
    in->n_lag = n;
    pthread_mutex_unlock(&in->lag_lock);
    return 0; /* librdkafka frees json */
}

size_t ingest_lag(ingest_t *in, ingest_lag_t *out, size_t cap)
{
    pthread_mutex_lock(&in->lag_lock);
    size_t n = in->n_lag < cap ? in->n_lag : cap;
    if (n) memcpy(out, in->lag, n * sizeof(*out));
    pthread_mutex_unlock(&in->lag_lock);
    return n;
}

static bool set(rd_kafka_conf_t *kc, const char *k, const char *v, char *errbuf, size_t errlen)
{
    return rd_kafka_conf_set(kc, k, v, errbuf, errlen) == RD_KAFKA_CONF_OK;
}

ingest_t *ingest_new(const ingest_opts_t *opts, char *errbuf, size_t errlen)
{
    ingest_t *in = aligned_alloc(CACHELINE, sizeof(*in));
    if (!in) return NULL;
    *in = (ingest_t){0};
    in->opts = *opts;
    const conf_t *c = opts->conf;
    in->limits = (ingest_limits_t){c->ingest.max_message_bytes, c->ingest.max_labels,
                                   c->ingest.max_name_bytes, c->ingest.max_value_bytes,
                                   c->ingest.max_annotation_bytes};
    pthread_mutex_init(&in->lag_lock, NULL);
    in->n_lanes = opts->n_lanes ? opts->n_lanes : 1;
    in->lanes = calloc(in->n_lanes, sizeof(*in->lanes));
    if (!in->lanes) {
        snprintf(errbuf, errlen, "out of memory");
        ingest_destroy(in);
        return NULL;
    }
    for (size_t i = 0; i < in->n_lanes; i++) {
        lane_t *l = &in->lanes[i];
        l->in = in;
        l->rings = opts->rings + i * opts->n_rings;
        arena_init(&l->arena, 256 * 1024);
        if (i > 0 && !(l->jobs = ring_new(LANE_JOB_RING_BYTES))) {
            snprintf(errbuf, errlen, "out of memory");
            ingest_destroy(in);
            return NULL;
        }
    }

    char session[32], heartbeat[32], commit[32];
    snprintf(commit, sizeof(commit), "%lld", (long long)c->kafka.commit_interval_ms);
    in->idle_commit_gap_ns = c->kafka.commit_interval_ms * 1000000 / 4;
    snprintf(session, sizeof(session), "%lld", (long long)c->kafka.session_timeout_ms);
    snprintf(heartbeat, sizeof(heartbeat), "%lld", (long long)(c->kafka.session_timeout_ms / 3));
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    bool ok = set(kc, "bootstrap.servers", opts->brokers, errbuf, errlen) &&
              set(kc, "group.id", c->kafka.group_id, errbuf, errlen) &&
              set(kc, "enable.auto.offset.store", "false", errbuf, errlen) &&
              set(kc, "enable.auto.commit", "true", errbuf, errlen) &&
              set(kc, "auto.commit.interval.ms", commit, errbuf, errlen) &&
              set(kc, "auto.offset.reset", "earliest", errbuf, errlen) &&
              set(kc, "enable.partition.eof", "true", errbuf, errlen) && /* for the watermark */
              set(kc, "partition.assignment.strategy", "cooperative-sticky", errbuf, errlen) &&
              set(kc, "session.timeout.ms", session, errbuf, errlen) &&
              set(kc, "heartbeat.interval.ms", heartbeat, errbuf, errlen) &&
              /* An empty fetch on the mock cluster sleeps the whole wait. */
              set(kc, "fetch.wait.max.ms", opts->embedded ? "10" : "100", errbuf, errlen) &&
              /* consumer lag for /metrics; kafka.properties may change it */
              set(kc, "statistics.interval.ms", "5000", errbuf, errlen) &&
              /* The consumer queue (all partitions forward to it) is
               * bounded in bytes; with librdkafka's per-message overhead it
               * is most of quell's memory while it drains a backlog. A full
               * queue stops fetching until the broker thread next wakes:
               * before librdkafka 2.1 up to a second (it does not wake when
               * the application drains the queue; nudge_fetch() wakes it),
               * from 2.1 on fetch.queue.backoff.ms, set below when it
               * exists. With the wake-ups the bound can be small: 32 MiB is
               * ~100,000 protobuf alerts, a tenth of a second of draining
               * (launch-day backlog: peak RSS 176 MiB, 573 MiB with the
               * 256 MiB of before, at the same rate). The message count
               * bound stays out of the way. */
              set(kc, "queued.min.messages", "1000000", errbuf, errlen) &&
              set(kc, "queued.max.messages.kbytes", QUEUE_KBYTES, errbuf, errlen) &&
              /* one fetch response may overshoot the bound by this much */
              set(kc, "fetch.max.bytes", "8388608", errbuf, errlen);
    char ignored[256]; /* librdkafka before 2.1 does not know it */
    (void)rd_kafka_conf_set(kc, "fetch.queue.backoff.ms", "10", ignored, sizeof ignored);
    for (size_t i = 0; ok && i < c->kafka.n_properties; i++)
        ok = set(kc, c->kafka.properties[i].key, c->kafka.properties[i].value, errbuf, errlen);
    if (!ok) {
        rd_kafka_conf_destroy(kc);
        ingest_destroy(in);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_stats_cb(kc, stats_cb);
    rd_kafka_conf_set_opaque(kc, in);
    rd_kafka_conf_set_log_cb(kc, log_kafka_cb);
    in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errbuf, errlen);
    if (!in->rk) {
        ingest_destroy(in);
        return NULL;
    }
    rd_kafka_poll_set_consumer(in->rk);
    in->queue = rd_kafka_queue_get_consumer(in->rk);
    if (!in->queue) {
        snprintf(errbuf, errlen, "no consumer queue");
        ingest_destroy(in);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)c->kafka.topics.n);
    for (size_t i = 0; i < c->kafka.topics.n; i++)
        rd_kafka_topic_partition_list_add(topics, c->kafka.topics.items[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(in->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        snprintf(errbuf, errlen, "subscribe: %s", rd_kafka_err2str(err));
        ingest_destroy(in);
        return NULL;
    }
    return in;
}

void ingest_destroy(ingest_t *in)
{
    if (!in) return;
    if (in->lanes) lanes_stop(in); /* when ingest_close was not called */
    if (in->queue) rd_kafka_queue_destroy(in->queue);
    if (in->rk) rd_kafka_destroy(in->rk);
    while (in->n_parts) part_remove(in, &in->parts[0]);
    free(in->parts);
    free(in->lag);
    pthread_mutex_destroy(&in->lag_lock);
    for (size_t i = 0; in->lanes && i < in->n_lanes; i++) {
        arena_free(&in->lanes[i].arena);
        ring_destroy(in->lanes[i].jobs);
    }
    free(in->lanes);
    free(in);
}

static void dead_letter(lane_t *l, const rd_kafka_message_t *m, msg_track_t *t,
                        decode_error_t reason, const char *detail)
{
    ingest_t *in = l->in;
    stat_add(&l->decode_errors[reason], 1);
    uint64_t quiet = 0;
    if (log_limit_allow(&l->decode_log, 10000, &quiet))
        log_warn("ingest", "%s[%d]@%lld to dead-letter topic: %s: %s (%llu more not logged)",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
                 decode_error_str(reason), detail, (unsigned long long)quiet);
    track_add(t, 1);
    if (in->opts.dead_letter(in->opts.dead_letter_ctx, m, decode_error_str(reason), detail, t) !=
        QERR_OK)
        log_error("ingest", "could not dead-letter %s[%d]@%lld; its offset stays uncommitted",
                  rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
}

/* Copies one alert into its worker's ring, waiting while the ring is full. */
static void hand_off(lane_t *l, const alert_t *a, size_t size, msg_track_t *t)
{
    ring_t *ring = l->rings[dedup_shard(a->fingerprint, l->in->opts.n_rings)];
    void *dst;
    while (!(dst = ring_reserve(ring, size))) ring_wait_room(ring, size, 100);
    alert_rec_write(dst, a, t);
    ring_commit_local(ring); /* published by the lane, in batches */
}

/* Decodes one message on its lane: its alerts go to the workers whole, or
 * the message goes to the dead-letter topic whole; the lane's hold on the
 * track is dropped at the end. */
static void decode_message(lane_t *l, const rd_kafka_message_t *m, msg_track_t *t, int64_t event_ms,
                           int64_t watermark_ms, int64_t received_ns)
{
    ingest_t *in = l->in;
    ingest_format_t format = INGEST_FORMAT_AUTO;
    ingest_source_t source = INGEST_SOURCE_KAFKA;
    rd_kafka_headers_t *hdrs = NULL;
    const void *ct;
    size_t ct_len;
    if (!ingest_may_have_headers(m->payload, m->len) ||
        rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        hdrs = NULL;
    if (hdrs &&
        rd_kafka_header_get_last(hdrs, "quell-source", &ct, &ct_len) == RD_KAFKA_RESP_ERR_NO_ERROR)
        source = ingest_source_from_header(ct, ct_len);
    if (hdrs && rd_kafka_header_get_last(hdrs, "content-type", &ct, &ct_len) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR) {
        decode_error_t e = ingest_format_from_content_type(ct, ct_len, &format);
        if (e != DECODE_OK) {
            char detail[300];
            snprintf(detail, sizeof(detail), "content-type \"%.*s\" is not one quell reads",
                     (int)(ct_len > 200 ? 200 : ct_len), (const char *)ct);
            dead_letter(l, m, t, e, detail);
            track_done(t);
            return;
        }
    }

    char errbuf[512];
    alert_t *alerts;
    size_t n;
    arena_reset(&l->arena);
    decode_error_t e = ingest_decode(&l->arena, &in->limits, format, m->payload, m->len, event_ms,
                                     &alerts, &n, errbuf, sizeof(errbuf));
    if (e == DECODE_OK) {
        /* Size every record first: a message goes to the workers whole or
         * to the dead-letter topic whole, never in part. */
        size_t max_rec = ring_max_record(l->rings[0]);
        size_t *sizes = arena_alloc(&l->arena, sizeof(size_t) * (n + 1));
        for (size_t i = 0; i < n && e == DECODE_OK; i++) {
            alerts[i].event_time_ms = event_ms;
            alerts[i].watermark_ms = watermark_ms;
            alerts[i].received_ns = received_ns;
            alerts[i].fingerprint = dedup_fingerprint_alert(&in->opts.fingerprint, &alerts[i]);
            sizes[i] = alert_rec_size(&alerts[i]);
            if (sizes[i] > max_rec) {
                e = DECODE_TOO_LARGE;
                snprintf(errbuf, sizeof(errbuf),
                         "alert %zu needs %zu bytes, more than a worker ring record (%zu): raise "
                         "ring_bytes",
                         i, sizes[i], max_rec);
            }
        }
        if (e == DECODE_OK) {
            /* This thread's hold passes to the last alert: one alert per
             * message, the usual case, then costs the lane no atomic on a
             * track the worker's core is about to write. `t` is not touched
             * after the last hand-off. */
            if (n > 1) track_add(t, (int32_t)(n - 1));
            stat_add(&l->alerts, n);
            stat_add(&l->alerts_in[source][ingest_format_of(format, m->payload, m->len)], n);
            if (n == 0) track_done(t);
            for (size_t i = 0; i < n; i++) hand_off(l, &alerts[i], sizes[i], t);
            return;
        }
    }
    dead_letter(l, m, t, e, errbuf);
    track_done(t); /* drop this thread's hold */
}

/* `revoked_meanwhile`: a rebalance ran inside the batch call that returned
 * this message, after it was fetched. A message of a partition no longer
 * held is then left to its next owner, which starts at the committed
 * offset: handling it here would store an offset for a partition this
 * member does not own. Returns true when another lane took `m` over. */
static bool handle_message(ingest_t *in, rd_kafka_message_t *m, bool revoked_meanwhile,
                           int64_t received_ns)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    part_state_t *p = part_find(in, topic, m->partition);
    if (!p && revoked_meanwhile) return false;
    if (!p) p = part_add(in, topic, m->partition); /* assigned outside the callback */
    if (!p) return false;
    start_fetched(in, p);

    if (p->expected_offset >= 0 && m->offset > p->expected_offset) {
        stat_add(&in->offset_gaps, 1);
        stat_add(&in->offsets_skipped, (uint64_t)(m->offset - p->expected_offset));
        log_error("ingest",
                  "%s[%d]: offsets %lld..%lld were never consumed (deleted by retention or "
                  "reset): %lld messages lost",
                  topic, (int)m->partition, (long long)p->expected_offset, (long long)m->offset - 1,
                  (long long)(m->offset - p->expected_offset));
    }
    p->expected_offset = m->offset + 1;
    p->eof_since_ns = 0;

    msg_track_t *t;
    while (!(t = track_window_push(p->window, m->offset))) {
        part_store(in, p);
        if ((t = track_window_push(p->window, m->offset))) break;
        publish_all(in);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL); /* backpressure: workers are 16k messages behind */
    }
    p->pushed++;

    if (!stat_get(&in->first_message_ns))
        stat_add(&in->first_message_ns, (uint64_t)clock_mono_ns());
    stat_add(&in->messages, 1);

    rd_kafka_timestamp_type_t tstype;
    int64_t event_ms = rd_kafka_message_timestamp(m, &tstype);
    if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || event_ms <= 0) event_ms = clock_wall_ms();
    if (event_ms > p->newest_event_ms) {
        bool was_unknown = p->newest_event_ms == 0;
        p->newest_event_ms = event_ms;
        if (was_unknown) update_watermark(in);
    }

    if (p->lane->jobs == NULL) {
        decode_message(p->lane, m, t, event_ms, in->watermark_ms, received_ns);
        return false;
    }
    /* Another lane decodes it: the message goes over whole, and that lane
     * destroys it. */
    ring_t *jobs = p->lane->jobs;
    size_t weight = m->len >> JOB_WEIGHT_SHIFT, room;
    room = sizeof(job_t) + (weight < JOB_WEIGHT_MAX ? weight : JOB_WEIGHT_MAX);
    job_t *j = ring_reserve(jobs, room);
    if (!j) {
        publish_all(in); /* nothing waits on this thread while it waits */
        while (!(j = ring_reserve(jobs, room))) ring_wait_room(jobs, room, 100);
    }
    *j = (job_t){m, t, event_ms, in->watermark_ms, received_ns};
    ring_commit_local(jobs);
    return true;
}

static void *lane_main(void *arg)
{
    lane_t *l = arg;
    int idle_spins = 0;
    ring_idle_t idle;
    ring_idle_init(&idle);
    for (;;) {
        size_t len;
        const job_t *jp = ring_peek(l->jobs, &len);
        if (jp) {
            job_t j = *jp;
            ring_release_quiet(l->jobs); /* the consumer thread is woken per batch */
            if (!j.m) {
                lane_tick(l, j.watermark_ms);
                continue;
            }
            decode_message(l, j.m, j.t, j.event_ms, j.watermark_ms, j.received_ns);
            rd_kafka_message_destroy(j.m);
            if (++l->unpublished >= PUBLISH_EVERY) {
                lane_publish(l);
                ring_wake_producer(l->jobs);
            }
            idle_spins = 0;
            continue;
        }
        ring_wake_producer(l->jobs);
        if (l->unpublished) lane_publish(l);
        if (atomic_load_explicit(&l->stop, memory_order_acquire)) {
            if (!ring_peek(l->jobs, &len)) break;
            continue;
        }
        /* As the workers do (dedup/worker.c): under load the next job is
         * microseconds away. */
        if (idle_spins++ == 0 && ring_idle_poll(&idle, &l->jobs, 1)) continue;
        ring_idle_sleeping(&idle);
        ring_wait_data(l->jobs, 100);
        ring_idle_woke(&idle);
        idle_spins = 0;
    }
    return NULL;
}

static qerr_t lanes_start(ingest_t *in)
{
    for (size_t i = 1; i < in->n_lanes; i++) {
        lane_t *l = &in->lanes[i];
        if (pthread_create(&l->thread, NULL, lane_main, l) != 0) return QERR_NOMEM;
        pthread_setname_np(l->thread, "quell-ingest");
        l->started = true;
    }
    return QERR_OK;
}

/* After the drain: the lanes' job rings are empty by then. */
static void lanes_stop(ingest_t *in)
{
    for (size_t i = 1; i < in->n_lanes; i++) {
        lane_t *l = &in->lanes[i];
        if (!l->started) continue;
        atomic_store_explicit(&l->stop, true, memory_order_release);
        pthread_join(l->thread, NULL);
        l->started = false;
    }
}

qerr_t ingest_run(ingest_t *in, _Atomic bool *stop)
{
    int64_t last_store_ns = 0;
    rd_kafka_message_t *batch[CONSUME_BATCH];
    if (lanes_start(in) != QERR_OK) {
        log_error("ingest", "cannot start the ingest threads");
        lanes_stop(in);
        return QERR_NOMEM;
    }
    while (!atomic_load_explicit(stop, memory_order_acquire)) {
        /* Records reach the workers in batches: published every
         * PUBLISH_EVERY messages, and before this thread may block. */
        unsigned rebalances = in->rebalances;
        ssize_t got = rd_kafka_consume_batch_queue(in->queue, 0, batch, CONSUME_BATCH);
        if (got <= 0) {
            /* Nothing queued: publish, wake a broker that may have
             * stopped fetching, then wait for one message. Not a batch
             * call with a timeout: that waits for a full batch. */
            if (in->unpublished) publish_all(in);
            int64_t dry_ns = clock_mono_ns();
            if (!in->dry_since_ns) in->dry_since_ns = dry_ns;
            bool dry_long = dry_ns - in->dry_since_ns >= (int64_t)NUDGE_DRY_MS * 1000000;
            bool nudged = nudge_fetch(in, dry_ns, dry_long ? 1 : NUDGE_MIN_LAG);
            /* Brief polls only early in a dry spell: messages still in
             * flight after DRY_INFLIGHT_SPAN_MS are held (a group's
             * group_wait, a slow receiver), and 2 ms polls for all that
             * time would be 500 wake-ups a second of an idle service. */
            bool busy = commit_when_idle(in, dry_ns) &&
                        dry_ns - in->dry_since_ns < (int64_t)DRY_INFLIGHT_SPAN_MS * 1000000;
            rebalances = in->rebalances;
            batch[0] = rd_kafka_consumer_poll(in->rk, busy ? DRY_INFLIGHT_POLL_MS : 50);
            got = batch[0] != NULL;
            if (got) in->dry_since_ns = 0;
            if (nudged) stat_add(&in->fetch_wait_ns, (uint64_t)(clock_mono_ns() - dry_ns));
        }
        bool revoked_meanwhile = rebalances != in->rebalances;
        int64_t now = clock_mono_ns();
        if (got == CONSUME_BATCH) nudge_early(in, now);
        /* One stamp for the batch: all of it was taken at this moment.
         * Time spent before, in librdkafka's queue, counts as the Kafka
         * path's (decision_latency_t). */
        int64_t received_ns = got > 0 ? clock_wall_ns() : 0;
        if (now - last_store_ns > 20 * 1000000) {
            store_all(in);
            update_watermark(in);
            tick_all(in);
            barrier_serve(in);
            mark_serve(in);
            retry_starts(in, now);
            last_store_ns = now;
        }
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                part_state_t *p = part_find(in, rd_kafka_topic_name(m->rkt), m->partition);
                if (p) start_fetched(in, p);
                if (p && !p->eof_since_ns) p->eof_since_ns = now;
            } else if (m->err) {
                if (log_limit_allow(&in->err_log, 10000, NULL))
                    log_warn("ingest", "consumer: %s", rd_kafka_message_errstr(m));
            } else {
                bool taken = handle_message(in, m, revoked_meanwhile, received_ns);
                in->commit_owed = true;
                if (++in->unpublished >= PUBLISH_EVERY) publish_all(in);
                if (taken) continue;
            }
            rd_kafka_message_destroy(m);
        }
    }
    publish_all(in);

    log_info("ingest", "draining %zu in-flight messages", inflight(in, NULL));
    bool drained = drain(in, NULL);
    if (!drained) log_error("ingest", "drain timed out; uncommitted messages will be re-read");
    return drained ? QERR_OK : QERR_KAFKA;
}

void ingest_close(ingest_t *in, bool release_held)
{
    if (in->closed) return;
    in->closed = true;
    if (in->hold_commits && release_held) {
        in->hold_commits = false;
        store_all(in);
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(in->rk, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("ingest", "final commit: %s", rd_kafka_err2str(err));
    err = rd_kafka_consumer_close(in->rk);
    if (err) log_warn("ingest", "close: %s", rd_kafka_err2str(err));
    lanes_stop(in);
}

void ingest_stats(ingest_t *in, ingest_stats_t *out)
{
    *out = (ingest_stats_t){0};
    out->messages = stat_get(&in->messages);
    for (size_t l = 0; l < in->n_lanes; l++) {
        const lane_t *ln = &in->lanes[l];
        out->alerts += stat_get(&ln->alerts);
        for (int i = 0; i < DECODE__COUNT; i++)
            out->decode_errors[i] += stat_get(&ln->decode_errors[i]);
        for (int s = 0; s < INGEST_SOURCE__COUNT; s++)
            for (int f = 0; f < INGEST_FORMAT__COUNT; f++)
                out->alerts_in[s][f] += stat_get(&ln->alerts_in[s][f]);
    }
    out->offset_gaps = stat_get(&in->offset_gaps);
    out->offsets_skipped = stat_get(&in->offsets_skipped);
    out->fetch_nudges = stat_get(&in->fetch_nudges);
    out->fetch_wait_ns = stat_get(&in->fetch_wait_ns);
    out->first_message_ns = stat_get(&in->first_message_ns);
    out->assigned_partitions = atomic_load_explicit(&in->assigned, memory_order_relaxed);
}
