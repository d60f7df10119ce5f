/*
 * dedup: fingerprints alerts and decides, per fingerprint, whether an alert
 * opens an incident, repeats it, resolves it, or is suppressed.
 *
 * The decision core (dedup_decide) is a pure function of (table, alert
 * fingerprint and status, now, watermark): no clock is read, no I/O is
 * done, so tests drive time and replaying the same input gives the same
 * decisions. A table
 * is owned by one worker thread; workers own disjoint fingerprint shards, so
 * no table is ever shared and nothing on the decision path takes a lock.
 */
#ifndef QUELL_DEDUP_H
#define QUELL_DEDUP_H

#include "../core/core.h"

/* ---- fingerprint ------------------------------------------------------ */

/* The label filter and hash. `only` (fingerprint_labels) and `ignore`
 * (ignore_labels) are mutually exclusive; both empty means all labels.
 * With `only`, a listed label the alert lacks is hashed with an empty value
 * (Alertmanager's SignatureForLabels). Labels must be sorted by name, and
 * both lists sorted bytewise: build it with dedup_fp_conf_init. */
typedef struct {
    fingerprint_mode_t mode;
    const strlist_t *only;
    const strlist_t *ignore;
} dedup_fp_conf_t;

/* Sorts `only` and `ignore` in place (they stay owned by the caller, e.g.
 * the config) and points `fc` at them. Call once at start, not per alert. */
void dedup_fp_conf_init(dedup_fp_conf_t *fc, fingerprint_mode_t mode, strlist_t *only,
                        strlist_t *ignore);

/* Thread-safe (reads only). */
uint64_t dedup_fingerprint(const dedup_fp_conf_t *fc, const label_t *labels, uint32_t n_labels);

/* ---- window table and decision core ----------------------------------- */

typedef struct {
    int64_t window_ms;          /* an incident stays open this long after its last occurrence */
    int64_t repeat_interval_ms; /* a still-firing incident is re-forwarded this often */
} dedup_params_t;

typedef struct dedup_table dedup_table_t;

typedef struct {
    uint64_t tracked;     /* fingerprints held now */
    uint64_t evictions;   /* open incidents dropped because the table was full */
    uint64_t expirations; /* incidents closed because their window elapsed */
    uint64_t slots;       /* entries allocated (grows by doubling, never shrinks) */
    size_t bytes;         /* memory held by the table */
} dedup_table_stats_t;

/* `max_entries` bounds the table; when full, the fingerprint seen least
 * recently is evicted. Returns NULL on OOM. */
dedup_table_t *dedup_table_new(size_t max_entries);
void dedup_table_destroy(dedup_table_t *t);

/* Decides one alert and updates the table. Fills `out` with the incident as
 * it stands afterwards (for suppressions too, so callers can count).
 *
 * `now_ms` is the alert's event time: it decides this fingerprint's window.
 * Other fingerprints' incidents are only ever expired against
 * `watermark_ms`, the event time no input partition is still behind. With
 * several partitions read at different paces, one partition's clock must not
 * close incidents whose own partition has not caught up yet: that would
 * re-forward them. 0 means unknown (nothing is expired early). */
decision_kind_t dedup_decide(dedup_table_t *t, const dedup_params_t *p, uint64_t fingerprint,
                             alert_status_t status, int64_t now_ms, int64_t watermark_ms,
                             incident_t *out);

void dedup_table_stats(const dedup_table_t *t, dedup_table_stats_t *out);

/* Snapshot entries for persistence across a clean restart: calls `fn` for
 * every open incident. */
typedef struct {
    uint64_t fingerprint;
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    int64_t last_forward_ms;
    uint64_t count;
} dedup_entry_t;
void dedup_table_foreach(const dedup_table_t *t, void (*fn)(const dedup_entry_t *e, void *arg),
                         void *arg);
/* Inserts an entry as it was saved (no decision is made). */
qerr_t dedup_table_restore(dedup_table_t *t, const dedup_entry_t *e);

const char *decision_str(decision_kind_t k);

/* ---- snapshot file ---------------------------------------------------- */

/* Writes every table's entries to `path` atomically (temp file + rename).
 * Called after the final offset commit, when no worker runs. */
qerr_t dedup_snapshot_save(const char *path, dedup_table_t **tables, size_t n, char *errbuf,
                           size_t errlen);
/* Loads `path` (a missing file is not an error) into the tables, each entry
 * into tables[dedup_shard(fp, n)]. */
qerr_t dedup_snapshot_load(const char *path, dedup_table_t **tables, size_t n, uint64_t *loaded,
                           char *errbuf, size_t errlen);

/* Which worker owns a fingerprint. Uses the high bits: tables hash with the
 * low ones, so shards stay evenly filled. */
static inline size_t dedup_shard(uint64_t fingerprint, size_t n_workers)
{
    return (size_t)((fingerprint >> 40) % n_workers);
}

/* ---- noisy-alert sketch ------------------------------------------------ */

/* The k fingerprints a worker saw most (space-saving: counts are upper
 * bounds, over by at most `error`), for `quell top`. One per worker, owned
 * by its thread; copies leave through dedup_worker_top(). */
#define TOP_LABEL_BYTES 232
typedef struct {
    uint64_t fingerprint;
    uint64_t count; /* occurrences since it entered the sketch, plus `error` */
    uint64_t error;
    uint64_t suppressed;                 /* decisions that were not forwarded */
    uint64_t incidents;                  /* new incidents opened */
    uint64_t flaps;                      /* firing <-> resolved changes */
    int64_t first_seen_ms, last_seen_ms; /* event time */
    uint8_t last_status;
    uint16_t labels_len;
    char labels[TOP_LABEL_BYTES]; /* "name\0value\0" pairs; whole pairs that fit */
} top_entry_t;

typedef struct top_sketch top_sketch_t;
top_sketch_t *top_sketch_new(size_t k);
void top_sketch_destroy(top_sketch_t *s);
void top_sketch_add(top_sketch_t *s, const alert_t *a, decision_kind_t k, int64_t now_ms);
size_t top_sketch_copy(const top_sketch_t *s, top_entry_t *out, size_t cap);
size_t top_sketch_capacity(const top_sketch_t *s);
/* A label's value in an entry (NULL when absent or truncated away). */
const char *top_entry_label(const top_entry_t *e, const char *name, size_t *len);

/* ---- worker ----------------------------------------------------------- */

/* Called by a worker for every alert that must be forwarded. Returns
 * QERR_FULL to ask the worker to wait and call again (backpressure). Takes
 * over the worker's hold on `track`. */
typedef qerr_t (*dedup_forward_fn)(void *ctx, const alert_t *a, const incident_t *inc,
                                   msg_track_t *track);

typedef struct dedup_worker dedup_worker_t;

typedef struct {
    uint64_t decisions[DECISION__COUNT];
    uint64_t last_decision_ns; /* monotonic clock of the latest decision */
    /* The table's figures as the worker last published them (every few
     * hundred decisions and when idle): the table itself is never read from
     * another thread while the worker runs. */
    uint64_t tracked;
    uint64_t evictions;
} dedup_worker_stats_t;

/* The worker owns its ring (input) and table. */
dedup_worker_t *dedup_worker_new(const dedup_params_t *p, size_t max_entries, size_t ring_bytes,
                                 dedup_forward_fn forward, void *ctx);
qerr_t dedup_worker_start(dedup_worker_t *w);
/* Processes what is left in the ring, then joins the thread. */
void dedup_worker_stop(dedup_worker_t *w);
void dedup_worker_destroy(dedup_worker_t *w);
ring_t *dedup_worker_ring(dedup_worker_t *w);
dedup_table_t *dedup_worker_table(dedup_worker_t *w);
/* Replaces dedup_decide for this worker: the composed decision (rules,
 * then dedup_decide on `table`, then noise; rules/rules.h). Called on the
 * worker's thread. Set before dedup_worker_start. */
typedef decision_kind_t (*dedup_decide_fn)(void *ctx, dedup_table_t *table, const alert_t *a,
                                           incident_t *out);
void dedup_worker_set_decider(dedup_worker_t *w, dedup_decide_fn fn, void *ctx);
/* Any thread; approximate while the worker runs. The table's own figures
 * come from dedup_table_stats(dedup_worker_table(w)), and only once the
 * worker has stopped: the table belongs to its thread. */
void dedup_worker_stats(dedup_worker_t *w, dedup_worker_stats_t *out);
/* Any thread: adds the worker's decision latency (wall clock at the decision
 * minus the alert's event time) into `out`. */
void dedup_worker_latency(dedup_worker_t *w, hist_snapshot_t *out);
/* Any thread: asks the worker for a copy of its noisy-alert sketch and waits
 * up to `timeout_ms` for it. Returns the entries copied into `out` (at most
 * `cap`; DEDUP_TOP_K per worker); 0 when the worker did not answer. */
#define DEDUP_TOP_K 512
size_t dedup_worker_top(dedup_worker_t *w, top_entry_t *out, size_t cap, int timeout_ms);

#endif
