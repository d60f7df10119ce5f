/*
 * A dedup worker: one thread, one ring in, one table, one shard of the
 * fingerprint space.
 *
 * Loop: take the oldest record from the ring, rebuild the alert in place
 * (no copy: strings point into the ring), decide, and either hand it to the
 * forward callback (which then owns the track hold) or release the hold
 * right away. The record is released only after that, so the alert's bytes
 * stay valid while the router formats them. Idle waits sleep on the ring's
 * futex; a full sink makes the worker wait, which fills its ring, which
 * stops ingest: backpressure all the way to Kafka, nothing dropped.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dedup_int.h"

struct dedup_worker {
    dedup_params_t params;
    dedup_table_t *table;
    dedup_inputs_t in; /* one ring per ingest thread */
    dedup_forward_fn forward;
    void *ctx;
    /* The rules' view: NULL decider = the window alone. */
    struct {
        rules_live_t *live;
        decider_t *decider;
        size_t reader;
        const ruleset_t *batch; /* shared-store mode: held for one batch */
    } rules;
    dedup_decided_fn on_decided; /* every decision (the decision log); NULL = none */
    dedup_prefetch_fn on_prefetch;
    void *on_decided_ctx;
    pthread_t thread;
    bool started;
    arena_t scratch;
    _Atomic bool stop;
    store_worker_t *store; /* NULL: the memory store */
    store_worker_stats_t store_stats;
    _Alignas(CACHELINE) _Atomic uint64_t decisions[DECISION__COUNT];
    _Atomic uint64_t last_decision_ns;
    _Atomic uint64_t tracked, evictions; /* published table figures */
    uint32_t since_publish;
    /* The wall clock for decision latency, read every WALL_CLOCK_EVERY
     * decisions and after every idle spell rather than per alert: a read
     * costs about as much as a cache-hit decision. */
    int64_t wall_ns;
    uint32_t wall_age;
    decision_latency_t latency; /* Kafka timestamp to decided (forward handed to the sink) */
    /* Noisy-alert sketch: owned by the thread; a reader bumps top_req and
     * the thread copies the sketch into top_copy (under top_lock, taken only
     * then) and sets top_done. */
    top_sketch_t *top;
    _Alignas(CACHELINE) _Atomic uint64_t top_req;
    _Atomic uint64_t top_done;
    pthread_mutex_t top_lock;
    top_entry_t *top_copy;
    size_t top_copy_n;
    /* Table copies for the periodic snapshot (snapshot.c), the same way:
     * a reader bumps snap_req, the thread copies its entries into a buffer
     * it allocates, parks it in snap_copy under snap_lock and sets
     * snap_done. A copy nobody collected is freed by the next one. */
    _Alignas(CACHELINE) _Atomic uint64_t snap_req;
    _Atomic uint64_t snap_done;
    pthread_mutex_t snap_lock;
    dedup_entry_t *snap_copy;
    size_t snap_copy_n;
};

dedup_worker_t *dedup_worker_new(const dedup_params_t *p, size_t max_entries, size_t ring_bytes,
                                 dedup_forward_fn forward, void *ctx)
{
    dedup_worker_t *w = aligned_alloc(CACHELINE, sizeof(*w));
    if (!w) return NULL;
    *w = (dedup_worker_t){0};
    w->params = *p;
    w->forward = forward;
    w->ctx = ctx;
    arena_init(&w->scratch, 16 * 1024);
    decision_latency_init(&w->latency);
    w->table = dedup_table_new(max_entries);
    w->top = top_sketch_new(DEDUP_TOP_K);
    w->top_copy = calloc(DEDUP_TOP_K, sizeof(*w->top_copy));
    pthread_mutex_init(&w->top_lock, NULL);
    pthread_mutex_init(&w->snap_lock, NULL);
    if (!w->table || !dedup_worker_add_ring(w, ring_bytes) || !w->top || !w->top_copy) {
        dedup_worker_destroy(w);
        return NULL;
    }
    return w;
}

ring_t *dedup_worker_add_ring(dedup_worker_t *w, size_t ring_bytes)
{
    if (w->in.n == DEDUP_MAX_INPUTS) return NULL;
    ring_t *r = ring_new(ring_bytes);
    if (!r) return NULL;
    ring_set_bell(r, &w->in.bell);
    w->in.rings[w->in.n++] = r;
    return r;
}

static void forward_blocking(dedup_worker_t *w, const alert_t *a, const incident_t *inc,
                             msg_track_t *track)
{
    for (;;) {
        qerr_t err = w->forward(w->ctx, a, inc, track);
        if (err != QERR_FULL) {
            /* Any other failure leaves the hold in place: the input offset
             * is never committed, so a restart retries it. */
            return;
        }
        struct timespec ts = {0, 1000000}; /* the sink's queue drains in ms */
        nanosleep(&ts, NULL);
    }
}

#define WALL_CLOCK_EVERY 32

static int64_t worker_wall_ns(dedup_worker_t *w)
{
    if (w->wall_age++ % WALL_CLOCK_EVERY == 0) w->wall_ns = clock_wall_ns();
    return w->wall_ns;
}

/* The next record's lines, asked for while this one is decided: the
 * table, rule cache, noise state, decision log and sketch of a backlog's
 * 20,000 fingerprints do not stay in cache, and each decision walked them
 * miss after miss. First the lines a fingerprint picks directly, then
 * (`deep`, once this decision had time to bring those in) the ones they
 * point at. quell-worker-bench, launch-day, lowest of 6 passes: 300-307
 * ns of the worker thread per alert with, 325-337 without. */
typedef struct {
    bool on;
    uint64_t fingerprint;
    int64_t event_time_ms;
} ahead_t;

static void prefetch_ahead(dedup_worker_t *w, const ahead_t *n, bool deep)
{
    if (w->rules.decider)
        decider_prefetch(w->rules.decider, n->fingerprint, deep);
    else
        dedup_table_prefetch(w->table, n->fingerprint, deep);
    top_sketch_prefetch(w->top, n->fingerprint, n->event_time_ms, deep);
    if (w->on_prefetch) w->on_prefetch(w->on_decided_ctx, n->fingerprint, deep);
}

static void process_one(dedup_worker_t *w, ring_t *ring, const void *rec, size_t len)
{
    alert_t a;
    msg_track_t *track, *next_track;
    ahead_t next = {0};
    size_t next_len;
    const void *next_rec = ring_peek_next(ring, &next_len);
    if (next_rec &&
        alert_rec_peek(next_rec, next_len, &next.fingerprint, &next.event_time_ms, &next_track)) {
        next.on = true;
        __builtin_prefetch(next_track, 1, 3);
        prefetch_ahead(w, &next, false);
    }
    arena_reset(&w->scratch);
    if (alert_rec_read(rec, len, &w->scratch, &a, &track) != QERR_OK) {
        log_error("dedup", "corrupt ring record of %zu bytes", len);
        return;
    }
    incident_t inc;
    decision_kind_t k;
    if (w->rules.decider) {
        /* Entered per alert, so a reload is seen between alerts, never
         * within one. Suppressions name their rule (owned by the set) but
         * are not forwarded; forwards carry no rule name: nothing outlives
         * the set. */
        const ruleset_t *rs = rules_live_enter(w->rules.live, w->rules.reader);
        k = decider_decide(w->rules.decider, rs, &a, &inc);
        if (w->on_decided) w->on_decided(w->on_decided_ctx, &a, &inc);
        rules_live_leave(w->rules.live, w->rules.reader);
    } else {
        k = dedup_decide(w->table, &w->params, a.fingerprint, a.status, a.event_time_ms,
                         a.watermark_ms, &inc);
        if (w->on_decided) w->on_decided(w->on_decided_ctx, &a, &inc);
    }
    stat_add(&w->decisions[k], 1);
    top_sketch_add(w->top, &a, k, a.event_time_ms);
    if (next.on) prefetch_ahead(w, &next, true);
    if (DECISION_IS_FORWARD(k))
        forward_blocking(w, &a, &inc, track);
    else
        track_done(track);
    decision_latency_record(&w->latency, worker_wall_ns(w), a.event_time_ms, a.received_ns);
}

static void publish_table_stats(dedup_worker_t *w)
{
    dedup_table_stats_t ts;
    dedup_table_stats(w->table, &ts);
    atomic_store_explicit(&w->tracked, ts.tracked, memory_order_relaxed);
    atomic_store_explicit(&w->evictions, ts.evictions, memory_order_relaxed);
    w->since_publish = 0;
}

static void serve_top_request(dedup_worker_t *w)
{
    uint64_t req = atomic_load_explicit(&w->top_req, memory_order_acquire);
    if (req == atomic_load_explicit(&w->top_done, memory_order_relaxed)) return;
    pthread_mutex_lock(&w->top_lock);
    w->top_copy_n = top_sketch_copy(w->top, w->top_copy, DEDUP_TOP_K);
    pthread_mutex_unlock(&w->top_lock);
    atomic_store_explicit(&w->top_done, req, memory_order_release);
}

typedef struct {
    dedup_entry_t *v;
    size_t n;
} snap_fill_t;

static void snap_fill(const dedup_entry_t *e, void *arg)
{
    snap_fill_t *f = arg;
    f->v[f->n++] = *e;
}

/* Worker thread, between records: one pass over the table (~40 bytes an
 * entry copied; a few ms for 100,000 entries), no lock held meanwhile. */
static void serve_snapshot_request(dedup_worker_t *w)
{
    uint64_t req = atomic_load_explicit(&w->snap_req, memory_order_acquire);
    if (req == atomic_load_explicit(&w->snap_done, memory_order_relaxed)) return;
    dedup_table_stats_t ts;
    dedup_table_stats(w->table, &ts);
    snap_fill_t f = {malloc((ts.tracked ? ts.tracked : 1) * sizeof(dedup_entry_t)), 0};
    if (f.v) dedup_table_foreach(w->table, snap_fill, &f);
    pthread_mutex_lock(&w->snap_lock);
    free(w->snap_copy);
    w->snap_copy = f.v; /* NULL: out of memory, the reader sees no copy */
    w->snap_copy_n = f.n;
    pthread_mutex_unlock(&w->snap_lock);
    atomic_store_explicit(&w->snap_done, req, memory_order_release);
}

static void serve_requests(dedup_worker_t *w)
{
    serve_top_request(w);
    serve_snapshot_request(w);
}

/* Shared-store mode: batches instead of single records, and outstanding
 * forwards keep the thread awake (and from stopping) until confirmed. */
static void *store_main(dedup_worker_t *w)
{
    int idle_spins = 0;
    bool decided = false; /* since last_decision_ns was stamped */
    ring_idle_t idle;
    ring_idle_init(&idle);
    for (;;) {
        bool stopping = atomic_load_explicit(&w->stop, memory_order_acquire);
        if (store_worker_step(w->store, &w->in, false)) {
            idle_spins = 0;
            decided = true;
            serve_top_request(w);
            continue;
        }
        if (idle_spins == 0) {
            /* Only after decisions: an idle wake-up must not move the
             * summary's "last decision" (its throughput) later. */
            if (decided)
                atomic_store_explicit(&w->last_decision_ns, (uint64_t)clock_mono_ns(),
                                      memory_order_relaxed);
            decided = false;
            w->wall_age = 0;        /* the next decision reads the clock afresh */
            publish_table_stats(w); /* the fail-open table */
        }
        serve_top_request(w);
        if (stopping && dedup_inputs_empty(&w->in)) {
            store_worker_step(w->store, &w->in, true);
            if (!store_worker_busy(w->store) && dedup_inputs_empty(&w->in)) break;
            continue;
        }
        /* Forwards awaiting delivery wake nothing when delivered: look
         * again within a millisecond. Counts to flush and parked alerts
         * only have a time: sleep until it. Polled and slept as the memory
         * worker does, not yielded: 64 yields at every dry moment (L1
         * almost always has counts to flush) were 2.3x the memory
         * worker's involuntary switches and ~0.6 s more of this thread per
         * 2M-alert Redis run, on the cores redis-server and the consumer
         * need. */
        int wait_ms = 100;
        if (store_worker_busy(w->store)) {
            int ms = store_worker_wait_ms(w->store, 100);
            wait_ms = ms ? ms : 1;
        }
        if (idle_spins++ == 0 && ring_idle_poll(&idle, w->in.rings, w->in.n)) continue;
        ring_idle_sleeping(&idle);
        ring_bell_wait(&w->in.bell, w->in.rings, w->in.n, wait_ms);
        ring_idle_woke(&idle);
        idle_spins = 0;
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    dedup_worker_t *w = arg;
    if (w->store) return store_main(w);
    int idle_spins = 0;
    bool decided = false; /* since last_decision_ns was stamped */
    ring_idle_t idle;
    ring_idle_init(&idle);
    for (;;) {
        /* Up to a burst from each input ring in turn: each ring's records
         * stay in order (one ingest thread's order), and none starves. */
        size_t len, done = 0;
        for (size_t i = 0; i < w->in.n; i++) {
            ring_t *ring = w->in.rings[i];
            void *rec;
            int k = 0;
            for (; k < 64 && (rec = dedup_inputs_peek(&w->in, i, &len)); k++, done++) {
                process_one(w, ring, rec, len);
                ring_release_quiet(ring);
                if (++w->since_publish == 256) {
                    publish_table_stats(w);
                    serve_requests(w);
                }
            }
            if (k) ring_wake_producer(ring);
        }
        if (done) {
            idle_spins = 0;
            decided = true;
            continue;
        }
        if (idle_spins == 0) {
            if (decided) /* not on an idle wake-up: see store_main */
                atomic_store_explicit(&w->last_decision_ns, (uint64_t)clock_mono_ns(),
                                      memory_order_relaxed);
            decided = false;
            w->wall_age = 0; /* the next decision reads the clock afresh */
            publish_table_stats(w);
        }
        serve_requests(w);
        if (atomic_load_explicit(&w->stop, memory_order_acquire)) {
            /* Re-check after seeing stop: a record committed just before it
             * must still be decided. */
            if (dedup_inputs_empty(&w->in)) break;
            continue;
        }
        /* While ingest drains a backlog the next record is microseconds
         * away: poll for it a moment before sleeping, which saves a futex
         * wake per batch (ring_idle_t: only then). */
        if (idle_spins++ == 0 && ring_idle_poll(&idle, w->in.rings, w->in.n)) continue;
        ring_idle_sleeping(&idle);
        ring_bell_wait(&w->in.bell, w->in.rings, w->in.n, 100);
        ring_idle_woke(&idle);
        idle_spins = 0;
    }
    return NULL;
}

qerr_t dedup_worker_start(dedup_worker_t *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) return QERR_NOMEM;
    pthread_setname_np(w->thread, "quell-dedup");
    w->started = true;
    return QERR_OK;
}

void dedup_worker_stop(dedup_worker_t *w)
{
    if (!w || !w->started) return;
    atomic_store_explicit(&w->stop, true, memory_order_release);
    pthread_join(w->thread, NULL);
    w->started = false;
}

/* Shared-store mode: the rules run before the store decides, with one rule
 * set held for the whole batch. */
static void rules_batch_begin(void *ctx)
{
    dedup_worker_t *w = ctx;
    w->rules.batch = rules_live_enter(w->rules.live, w->rules.reader);
}
static bool rules_pre(void *ctx, const alert_t *a, incident_t *out)
{
    dedup_worker_t *w = ctx;
    return decider_rules(w->rules.decider, w->rules.batch, a, out);
}
static void rules_batch_end(void *ctx)
{
    dedup_worker_t *w = ctx;
    w->rules.batch = NULL;
    rules_live_leave(w->rules.live, w->rules.reader);
}
static const dedup_noise_t *rules_noise(void *ctx)
{
    dedup_worker_t *w = ctx;
    return w->rules.batch ? ruleset_noise(w->rules.batch) : NULL;
}
static const dedup_rules_hook_t store_rules_hook = {rules_batch_begin, rules_pre, rules_batch_end,
                                                    rules_noise};

static void store_decided(void *ctx, const alert_t *a, const incident_t *inc)
{
    dedup_worker_t *w = ctx;
    decision_kind_t k = inc->kind;
    if (w->on_decided) w->on_decided(w->on_decided_ctx, a, inc); /* the batch's set is held */
    stat_add(&w->decisions[k], 1);
    top_sketch_add(w->top, a, k, a->event_time_ms);
    decision_latency_record(&w->latency, worker_wall_ns(w), a->event_time_ms, a->received_ns);
}

qerr_t dedup_worker_use_store(dedup_worker_t *w, const store_conf_t *sc, uint64_t me)
{
    w->store = store_worker_new(sc, me, &w->params, w->table, w->forward, w->ctx, store_decided, w,
                                &w->store_stats);
    if (w->store && w->rules.decider) store_worker_set_rules(w->store, &store_rules_hook, w);
    return w->store ? QERR_OK : QERR_NOMEM;
}

void dedup_worker_destroy(dedup_worker_t *w)
{
    if (!w) return;
    dedup_worker_stop(w);
    store_worker_destroy(w->store);
    dedup_table_destroy(w->table);
    for (size_t i = 0; i < w->in.n; i++) ring_destroy(w->in.rings[i]);
    top_sketch_destroy(w->top);
    free(w->top_copy);
    pthread_mutex_destroy(&w->top_lock);
    free(w->snap_copy);
    pthread_mutex_destroy(&w->snap_lock);
    arena_free(&w->scratch);
    free(w);
}

void dedup_worker_set_decided_hook(dedup_worker_t *w, dedup_decided_fn fn,
                                   dedup_prefetch_fn prefetch, void *ctx)
{
    w->on_decided = fn;
    w->on_prefetch = prefetch;
    w->on_decided_ctx = ctx;
}

void dedup_worker_use_rules(dedup_worker_t *w, rules_live_t *live, decider_t *d, size_t reader)
{
    w->rules.live = live;
    w->rules.decider = d;
    w->rules.reader = reader;
    if (w->store) store_worker_set_rules(w->store, &store_rules_hook, w);
}

ring_t *dedup_worker_ring(dedup_worker_t *w) { return w->in.rings[0]; }
size_t dedup_worker_ring_used(const dedup_worker_t *w)
{
    size_t used = 0;
    for (size_t i = 0; i < w->in.n; i++) used += ring_used_bytes(w->in.rings[i]);
    return used;
}
const decision_latency_t *dedup_worker_latency(const dedup_worker_t *w) { return &w->latency; }
dedup_table_t *dedup_worker_table(dedup_worker_t *w) { return w->table; }

void dedup_worker_stats(dedup_worker_t *w, dedup_worker_stats_t *out)
{
    for (int i = 0; i < DECISION__COUNT; i++) out->decisions[i] = stat_get(&w->decisions[i]);
    out->last_decision_ns = stat_get(&w->last_decision_ns);
    const store_worker_stats_t *s = &w->store_stats;
    out->store_round_trips = stat_get(&s->round_trips);
    out->store_degraded = stat_get(&s->degraded);
    out->store_conflicts = stat_get(&s->conflicts);
    out->store_parked = stat_get(&s->parked);
    out->store_takeovers = stat_get(&s->takeovers);
    out->store_reseeded = stat_get(&s->reseeded);
    out->store_local = stat_get(&s->local);
    out->tracked = stat_get(&w->tracked);
    out->evictions = stat_get(&w->evictions);
}

void dedup_workers_stats_sum(dedup_worker_t **w, size_t n, dedup_worker_stats_t *out)
{
    *out = (dedup_worker_stats_t){0};
    for (size_t i = 0; i < n; i++) {
        dedup_worker_stats_t s;
        dedup_worker_stats(w[i], &s);
        for (int k = 0; k < DECISION__COUNT; k++) out->decisions[k] += s.decisions[k];
        if (s.last_decision_ns > out->last_decision_ns) out->last_decision_ns = s.last_decision_ns;
        out->store_round_trips += s.store_round_trips;
        out->store_degraded += s.store_degraded;
        out->store_conflicts += s.store_conflicts;
        out->store_parked += s.store_parked;
        out->store_takeovers += s.store_takeovers;
        out->store_reseeded += s.store_reseeded;
        out->store_local += s.store_local;
        out->tracked += s.tracked;
        out->evictions += s.evictions;
    }
}

static bool top_served(void *ctx, uint64_t want)
{
    dedup_worker_t *w = ctx;
    return atomic_load_explicit(&w->top_done, memory_order_acquire) >= want;
}

static bool snap_served(void *ctx, uint64_t want)
{
    dedup_worker_t *w = ctx;
    return atomic_load_explicit(&w->snap_done, memory_order_acquire) >= want;
}

size_t dedup_worker_top(dedup_worker_t *w, top_entry_t *out, size_t cap, int timeout_ms)
{
    uint64_t want = atomic_fetch_add_explicit(&w->top_req, 1, memory_order_acq_rel) + 1;
    if (!wait_served(top_served, w, want, timeout_ms, NULL)) return 0;
    pthread_mutex_lock(&w->top_lock);
    size_t n = w->top_copy_n < cap ? w->top_copy_n : cap;
    memcpy(out, w->top_copy, n * sizeof(*out));
    pthread_mutex_unlock(&w->top_lock);
    return n;
}

dedup_entry_t *dedup_worker_copy_table(dedup_worker_t *w, size_t *n, int timeout_ms,
                                       const _Atomic bool *cancel)
{
    *n = 0;
    uint64_t want = atomic_fetch_add_explicit(&w->snap_req, 1, memory_order_acq_rel) + 1;
    if (!wait_served(snap_served, w, want, timeout_ms, cancel)) return NULL;
    pthread_mutex_lock(&w->snap_lock);
    dedup_entry_t *v = w->snap_copy;
    *n = w->snap_copy_n;
    w->snap_copy = NULL;
    w->snap_copy_n = 0;
    pthread_mutex_unlock(&w->snap_lock);
    return v;
}
