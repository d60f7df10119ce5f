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

#include "../core/common.h"
#include "../core/conf.h"
#include "../core/hist.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/ring.h"
#include "../core/track.h"

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
    /* Optional (NULL = none): replaces the fingerprint of alerts a
     * grouping rule folds (group.h: fp_grouping_attach). Thread-safe reads
     * only; `regroup_ctx` outlives every user of this struct. */
    uint64_t (*regroup)(const void *ctx, const label_t *labels, uint32_t n_labels, uint64_t fp);
    const void *regroup_ctx;
} dedup_fp_conf_t;

/* Sorts `only` and `ignore` in place (they stay owned by the caller, e.g.
 * the config) and points `fc` at them. Call once at start, not per alert. */
void dedup_fp_conf_init(dedup_fp_conf_t *fc, fingerprint_mode_t mode, strlist_t *only,
                        strlist_t *ignore);

/* Thread-safe (reads only). The fingerprint of a label set: for partition
 * keys and label-set counts. */
uint64_t dedup_fingerprint(const dedup_fp_conf_t *fc, const label_t *labels, uint32_t n_labels);
/* The fingerprint an alert is decided under: dedup_fingerprint, except that
 * the resolve of an alert a grouping rule folds gets one of its own (so it
 * never closes the incident of the group). Thread-safe. */
uint64_t dedup_fingerprint_alert(const dedup_fp_conf_t *fc, const alert_t *a);

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
/* Forgets every entry (keeps the memory). */
void dedup_table_clear(dedup_table_t *t);
/* Idle entries are expired by the watermark sweep (decisions of other
 * fingerprints) only after max(window_ms, keep_ms): set it to the longest
 * window alerts may be decided with (routes' dedup_window), so a longer
 * per-alert window is never cut short. 0 (the default) = window_ms. */
void dedup_table_set_keep(dedup_table_t *t, int64_t keep_ms);

/* One fingerprint's window: the state the window rules read and write,
 * wherever it is kept (a memory table slot, a shared-store entry). */
typedef struct {
    bool open; /* an incident is open */
    uint64_t incident_id;
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    int64_t last_forward_ms;
    uint64_t count;
} window_state_t;

/* The window rules, the only copy (decision.c): one occurrence at `now_ms`
 * (event time) against one fingerprint's state. Pure. */
decision_kind_t window_decide(window_state_t *w, const dedup_params_t *p, uint64_t fp,
                              alert_status_t status, int64_t now_ms, incident_t *out);
/* An incident's id: stable over its re-forwards, new for a new incident. */
uint64_t window_incident_id(uint64_t fp, int64_t first_seen_ms);

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

/* Owner thread: asks for the cache lines dedup_decide(fingerprint) will
 * read first, a decision ahead; `deep` (once a first call had time to
 * land): the entry its bucket names too. A hint: the table is unchanged. */
void dedup_table_prefetch(const dedup_table_t *t, uint64_t fingerprint, bool deep);

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

/* ---- noise control ----------------------------------------------------
 * The stage after dedup (issue 4's noise rules), as a pure function over a
 * per-fingerprint state, so the memory decider (rules/decide.c) and the
 * shared store (store_decide, state inside the Redis entry) run the same
 * code. Over event time, no timers:
 *   flapping  a firing<->resolved change is a flip; flips are counted from
 *             the first flip of a window of W; N flips within it hold the
 *             fingerprint (reason `flapping`) until an alert arrives W after
 *             the last flip: that one is forwarded once, `flapped` set.
 *   transient a new incident is held back (reason `transient`) until seen
 *             min_count times or firing for min_duration (either suffices);
 *             it is then forwarded as new. Resolved before, never shown. */
typedef struct {
    uint32_t flap_threshold; /* 0 = off */
    int64_t flap_window_ms;
    uint64_t min_count;      /* 0 = off */
    int64_t min_duration_ms; /* 0 = off */
} dedup_noise_t;

typedef struct {
    int64_t window_start_ms; /* first flip of the current flap window */
    int64_t last_flip_ms;
    uint32_t flips;
    uint8_t last_status; /* alert_status_t of the previous alert */
    bool seen;           /* last_status is valid */
    bool held;           /* held as flapping */
    bool pending;        /* a new incident held as transient */
} dedup_noise_state_t;

static inline bool dedup_noise_on(const dedup_noise_t *np)
{
    return np && (np->flap_threshold > 0 || np->min_count || np->min_duration_ms);
}

/* Applies noise control to the dedup decision `k` (with `out` as dedup
 * filled it) and returns the final decision (also in out->kind). */
decision_kind_t dedup_noise_apply(dedup_noise_state_t *st, const dedup_noise_t *np,
                                  alert_status_t status, int64_t now_ms, decision_kind_t k,
                                  incident_t *out);

/* ---- snapshot file ---------------------------------------------------- */

#define DEDUP_SNAPSHOT_MAGIC "QUELLSN1" /* the file's first 8 bytes (layout: window.c) */

/* Writes every table's entries to `path` atomically (temp file + rename).
 * Called after the final offset commit, when no worker runs. */
qerr_t dedup_snapshot_save(const char *path, dedup_table_t **tables, size_t n, char *errbuf,
                           size_t errlen);
/* Loads `path` (a missing file is not an error) into the tables, each entry
 * into tables[dedup_shard(fp, n)]. */
qerr_t dedup_snapshot_load(const char *path, dedup_table_t **tables, size_t n, uint64_t *loaded,
                           char *errbuf, size_t errlen);

/* Writes `n_parts` arrays of entries to `path` in the layout above,
 * atomically (temp file + fsync + rename): a reader sees the previous
 * file or this one, whole. */
qerr_t dedup_snapshot_write(const char *path, dedup_entry_t *const *parts, const size_t *counts,
                            size_t n_parts, char *errbuf, size_t errlen);

/* Periodic snapshots while the pipeline runs (snapshot.c), and what the
 * writer asks of the consumer, from the writer's thread:
 * - the barrier: how the writer learns that every forward decided before a
 *   copy was taken has been delivered: `barrier_request` returns a ticket,
 *   `barrier_passed` says whether everything handed to the pipeline before
 *   the request is finished;
 * - the mark, when the consumer holds its commits to the snapshots
 *   (ingest_hold_commits; NULL functions: it does not): `mark_request`
 *   before the copies, `mark_taken` once the consumer noted where each
 *   partition's finished messages end, `mark_publish` once the files are in
 *   place, so offsets up to the mark may be committed. */
typedef struct {
    uint64_t (*barrier_request)(void *ctx);
    bool (*barrier_passed)(void *ctx, uint64_t ticket);
    uint64_t (*mark_request)(void *ctx);
    bool (*mark_taken)(void *ctx, uint64_t ticket);
    void (*mark_publish)(void *ctx, uint64_t ticket);
    void *ctx;
} snapshot_consumer_t;

/* A file another stage keeps beside the snapshot (PATH + `suffix`), part
 * of every periodic write, renamed before the table file: `cut` is called
 * on the writer's thread after the copies (and the barrier, if any) and
 * returns the file's bytes (*buf malloc'd, freed by the writer; NULL =
 * nothing to write, the file is left as it is) or an error (nothing of
 * this write is published then). The routing groups (PATH.groups) are
 * one. `carries_undelivered`: the cut holds every forward decided before
 * it that is not delivered yet, and a restart sends those: the delivery
 * barrier is then skipped. */
typedef struct {
    const char *suffix;
    qerr_t (*cut)(void *ctx, char **buf, size_t *len, const _Atomic bool *stop);
    void *ctx;
    bool carries_undelivered;
} snapshot_beside_t;

typedef struct snapshot_writer snapshot_writer_t;
typedef struct dedup_worker dedup_worker_t; /* the worker section below */

typedef struct {
    uint64_t writes;       /* snapshots written */
    uint64_t failures;     /* not written: I/O error, a copy or the barrier timed out */
    uint64_t last_entries; /* entries in the latest one */
    int64_t last_write_ms; /* wall clock of the latest one; 0 = none yet */
} snapshot_writer_stats_t;

typedef struct inhibit_state inhibit_state_t; /* rules.h */
/* Starts a thread writing `path` every `interval_ms` from copies the
 * workers hand over (dedup_worker_copy_table), `beside` (may be NULL;
 * copied, its ctx must outlive the writer) before it and `inhibit` (may be
 * NULL) as PATH.inhibit after it. `workers` must outlive the writer and run
 * the memory store. NULL with errbuf set on failure. */
snapshot_writer_t *snapshot_writer_start(const char *path, dedup_worker_t **workers,
                                         size_t n_workers, inhibit_state_t *inhibit,
                                         const snapshot_beside_t *beside, int64_t interval_ms,
                                         const snapshot_consumer_t *consumer, char *errbuf,
                                         size_t errlen);
/* Stops and joins the thread (a write under way is finished or abandoned,
 * never left half-renamed); safe on NULL. Call before the workers stop. */
void snapshot_writer_stop(snapshot_writer_t *s);
void snapshot_writer_stats(snapshot_writer_t *s, snapshot_writer_stats_t *out);

/* Which worker owns a fingerprint. Uses the high bits: tables hash with the
 * low ones, so shards stay evenly filled. */
static inline size_t dedup_shard(uint64_t fingerprint, size_t n_workers)
{
    return (size_t)((fingerprint >> 40) % n_workers);
}

/* ---- shared store (Redis) ---------------------------------------------
 * Several quell instances share their windows through one Redis. The
 * decision stays in C and pure (store_decide over a store_entry_t); Redis
 * only holds one opaque, versioned 96-byte entry per fingerprint (dedup
 * window and noise state) and swaps
 * it atomically (a Lua compare-and-set on the whole value, loaded once and
 * called with EVALSHA). A forward is written as *pending* (incident id,
 * owner instance, lease) and confirmed only once the sink has delivered it;
 * a pending entry whose lease ran out (its owner died) is taken over by the
 * next instance that decides that fingerprint, which re-forwards it with the
 * same incident id. store_redis.c is the adapter; store.c the pure part. */

typedef enum { STORE_FAIL_OPEN = 0, STORE_FAIL_CLOSED } store_on_error_t;

#define STORE_MAX_SENTINELS 8

typedef struct {
    char host[256];
    int port;
} store_addr_t;

typedef struct {
    char host[256];
    int port;
    int db;
    char user[128];     /* ACL user ("" = AUTH with the password alone) */
    char password[512]; /* "" = no AUTH */
    /* With sentinels, host:port above is unused: the master is asked for
     * on every connect (redis_conn.c). */
    store_addr_t sentinels[STORE_MAX_SENTINELS];
    char sentinel_password[512]; /* "" = no AUTH to the sentinels */
    size_t n_sentinels;
    char master_name[128];
    const char *prefix;        /* key prefix, e.g. "quell:" */
    int64_t timeout_ms;        /* per round trip and connect */
    store_on_error_t on_error; /* fail_open: decide locally, mark degraded */
    int64_t lease_ms;          /* a pending forward is its owner's this long */
    int64_t ttl_ms;            /* key TTL: window + margin (store_ttl_ms) */
    int64_t cache_ms;          /* an entry Redis answered is trusted this long */
    size_t batch;              /* alerts decided per round trip, at most */
    size_t cache_entries;      /* per-worker L1 cache slots */
} store_conf_t;

/* Parses "redis://HOST[:PORT][/DB]" into `sc`; "memory" returns QERR_OK and
 * sets *is_memory. */
qerr_t store_url_parse(const char *url, store_conf_t *sc, bool *is_memory, char *errbuf,
                       size_t errlen);
/* The connection part of `sc` from the config: store.url (with
 * "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]", percent-escapes decoded),
 * store.password_file, store.sentinels, store.master_name and
 * store.sentinel_password_file. The other
 * fields of `sc` are left alone. */
qerr_t store_conf_connection(const conf_t *c, store_conf_t *sc, bool *is_memory, char *errbuf,
                             size_t errlen);

/* ---- one Redis connection helper (redis_conn.c) ------------------------
 * Every Redis user in quell (the store workers, the inhibition sync, the
 * readiness probe) connects through redis_open: master discovery through
 * Sentinel, AUTH, SELECT, timeouts. Returns a connected hiredis context
 * (a redisContext *, typed void * so this header needs no hiredis), which
 * the caller frees with redisFree, and "host:port" of the server in
 * `addr`; NULL with errbuf set when no master answered. Any thread; no
 * shared state. */
void *redis_open(const store_conf_t *sc, char *addr, size_t addrlen, char *errbuf, size_t errlen);
/* Whether an error reply means "this is not (or no longer) the master":
 * READONLY, MASTERDOWN, LOADING... The caller drops the connection; the
 * next redis_open asks the sentinels again. */
bool redis_error_is_failover(const char *err);
/* Where the store lives, for log lines: "mymaster (sentinel)" or
 * "host:port". */
const char *store_conf_where(const store_conf_t *sc, char *buf, size_t len);

/* TTL of a key: twice the window (event time may lag the wall clock), plus
 * the lease and a minute, so an open incident never expires in Redis first. */
int64_t store_ttl_ms(const dedup_params_t *p, int64_t lease_ms);

/* A connection for readiness checks (the HTTP server's /-/ready): true when
 * Redis answers a GET now. Any thread; calls are serialised inside. */
typedef struct store_probe store_probe_t;
store_probe_t *store_probe_new(const store_conf_t *sc);
bool store_probe_ready(store_probe_t *p);
void store_probe_destroy(store_probe_t *p); /* NULL-safe */

/* ---- noisy-alert sketch ------------------------------------------------ */

/* The k fingerprints a worker saw most (space-saving: counts are upper
 * bounds, over by at most `error`), for `quell top`. One per worker, owned
 * by its thread; copies leave through dedup_worker_top(). */
#define TOP_LABEL_BYTES 232
#define TOP_BUCKET_MS   (5 * 60 * 1000)
#define TOP_BUCKETS     24 /* 2 h of 5-minute buckets */
/* One TOP_BUCKET_MS of an entry's counts: the four side by side, so a
 * decision writes one cache line of buckets, not four. */
typedef struct {
    uint32_t count, suppressed, incidents, flaps;
} top_bucket_t;
typedef struct {
    /* What every decision of the fingerprint writes comes first (the
     * bucket it counts in aside); the labels, written once, last. */
    uint64_t fingerprint;
    uint64_t count; /* occurrences since it entered the sketch, plus `error` */
    uint64_t error;
    uint64_t suppressed;                 /* decisions that were not forwarded */
    uint64_t incidents;                  /* new incidents opened */
    uint64_t flaps;                      /* firing <-> resolved changes */
    int64_t first_seen_ms, last_seen_ms; /* event time */
    /* The same counts per TOP_BUCKET_MS of event time, for the last
     * TOP_BUCKETS of them (ring indexed by epoch % TOP_BUCKETS; `epoch` is
     * the newest one written), so a report can ask for "the last hour". */
    int64_t epoch;
    uint8_t last_status;
    uint16_t labels_len;
    top_bucket_t b[TOP_BUCKETS];
    char labels[TOP_LABEL_BYTES]; /* "name\0value\0" pairs; whole pairs that fit */
} top_entry_t;

/* Counts of one entry over a window ending now: bucketed (5-minute
 * granularity) for windows up to TOP_BUCKETS * TOP_BUCKET_MS, else the
 * totals since the entry entered the sketch (`windowed` false). */
typedef struct {
    uint64_t count, suppressed, incidents, flaps;
    bool windowed;
} top_counts_t;
void top_entry_window(const top_entry_t *e, int64_t now_ms, int64_t window_ms, top_counts_t *out);

typedef struct top_sketch top_sketch_t;
top_sketch_t *top_sketch_new(size_t k);
void top_sketch_destroy(top_sketch_t *s);
void top_sketch_add(top_sketch_t *s, const alert_t *a, decision_kind_t k, int64_t now_ms);
/* Owner thread: asks for the cache lines top_sketch_add(fp, now_ms) will
 * touch, a decision ahead. `deep` (after a first call had time to land):
 * the entry the index names too. A hint: no effect on the counts. */
void top_sketch_prefetch(const top_sketch_t *s, uint64_t fp, int64_t now_ms, bool deep);
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
    /* shared store only (zero with the memory store) */
    uint64_t store_round_trips;
    uint64_t store_degraded;  /* decided locally because Redis failed (fail_open) */
    uint64_t store_conflicts; /* compare-and-sets lost to another instance */
    uint64_t store_parked;    /* alerts held while another instance delivered */
    uint64_t store_takeovers; /* pending forwards of a dead instance re-forwarded */
    uint64_t store_reseeded;  /* entries Redis had lost, written back from the cache */
    uint64_t store_local;     /* decided from the L1 cache without Redis */
    /* The table's figures as the worker last published them (every few
     * hundred decisions and when idle): the table itself is never read from
     * another thread while the worker runs. */
    uint64_t tracked;
    uint64_t evictions;
} dedup_worker_stats_t;

/* The worker owns its input rings and table. It starts with one ring;
 * each further ingest thread gets its own (dedup_worker_add_ring, before
 * start): rings are single-producer. */
#define DEDUP_MAX_INPUTS 16
dedup_worker_t *dedup_worker_new(const dedup_params_t *p, size_t max_entries, size_t ring_bytes,
                                 dedup_forward_fn forward, void *ctx);
ring_t *dedup_worker_add_ring(dedup_worker_t *w, size_t ring_bytes); /* NULL: too many */
qerr_t dedup_worker_start(dedup_worker_t *w);
/* Processes what is left in the ring, then joins the thread. */
void dedup_worker_stop(dedup_worker_t *w);
void dedup_worker_destroy(dedup_worker_t *w);
/* Makes the worker decide against the shared store (before start). `me` is
 * this instance's id, the same for every worker of the process. */
qerr_t dedup_worker_use_store(dedup_worker_t *w, const store_conf_t *sc, uint64_t me);
ring_t *dedup_worker_ring(dedup_worker_t *w);           /* the first input ring */
size_t dedup_worker_ring_used(const dedup_worker_t *w); /* bytes queued, all rings */
/* Decision latency: Kafka timestamp (event_time_ms) to the decision, the
 * forward included, and its split at the moment quell took the message
 * (decision_latency_t). Meaningful when producers stamp messages with the
 * time they send them; replayed storms stamped with old event times show
 * their age. Any thread reads it (decision_latency_merge). */
const decision_latency_t *dedup_worker_latency(const dedup_worker_t *w);
dedup_table_t *dedup_worker_table(dedup_worker_t *w);
/* The worker decides with the rules (dedup_worker_use_rules, rules.h);
 * without them, with the window alone. */
/* Called on the worker's thread with every decision (the decision log),
 * while the rule set it was decided with is held, so inc->rule is valid
 * during the call. Set before the worker starts. */
typedef void (*dedup_decided_fn)(void *ctx, const alert_t *a, const incident_t *inc);
/* Also on the worker's thread, a decision ahead of the one it names: asks
 * for the cache lines `fn` will touch for this fingerprint (first, then
 * `deep`, see dedup_table_prefetch). NULL: none. A hint only. */
typedef void (*dedup_prefetch_fn)(void *ctx, uint64_t fingerprint, bool deep);
void dedup_worker_set_decided_hook(dedup_worker_t *w, dedup_decided_fn fn,
                                   dedup_prefetch_fn prefetch, void *ctx);
/* Any thread; approximate while the worker runs. The table's own figures
 * come from dedup_table_stats(dedup_worker_table(w)), and only once the
 * worker has stopped: the table belongs to its thread. */
void dedup_worker_stats(dedup_worker_t *w, dedup_worker_stats_t *out);
/* The same, summed over `n` workers (last_decision_ns: the latest). */
void dedup_workers_stats_sum(dedup_worker_t **w, size_t n, dedup_worker_stats_t *out);
/* Any thread: asks the worker for a copy of its noisy-alert sketch and waits
 * up to `timeout_ms` for it. Returns the entries copied into `out` (at most
 * `cap`; DEDUP_TOP_K per worker); 0 when the worker did not answer. */
#define DEDUP_TOP_K 512
size_t dedup_worker_top(dedup_worker_t *w, top_entry_t *out, size_t cap, int timeout_ms);
/* Any thread: asks a memory-store worker for a copy of its table's entries
 * and waits up to `timeout_ms` (or until *cancel) for it. Returns a malloc'd
 * array the caller frees, *n entries; NULL when the worker did not answer
 * (or ran out of memory) — an empty table gives a non-NULL array. */
dedup_entry_t *dedup_worker_copy_table(dedup_worker_t *w, size_t *n, int timeout_ms,
                                       const _Atomic bool *cancel);

/* dedup's API goes on in section files, included here so that other
 * folders include this header only: the rule half of the decision
 * (matchers, exclusions, severity, inhibition, noise rules, time intervals,
 * reload), silences, and grouping rules. */
#include "rules.h" /* first: grouping and silences use its types */

#include "group.h"
#include "silence.h"

#endif
