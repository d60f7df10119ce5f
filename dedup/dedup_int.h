/* dedup's internal seams: between the worker thread (worker.c) and its
 * shared-store mode (store_worker.c), and the Redis adapter (the entry
 * format, the pure store decision, the pipelined connection) that only
 * dedup's files and its tests use. Not part of the module's API. */
#ifndef QUELL_DEDUP_INT_H
#define QUELL_DEDUP_INT_H

#include "dedup.h"

/* A worker's input: one ring per ingest thread, all ringing one bell.
 *
 * Each record carries the watermark its ingest thread stamped when the
 * consumer read it; stamps grow along one ring. With several rings the
 * worker may see a record before an older one still queued on another
 * ring, so the watermark it decides with is the lowest of the latest
 * stamps seen on every ring: whatever a ring still holds was stamped at
 * least that. Idle ingest threads send ticks (ALERT_REC_TICK_BYTES) so an
 * idle ring does not hold the watermark back; dedup_inputs_peek consumes
 * them. With one ring this is the record's own stamp. */
typedef struct {
    ring_t *rings[DEDUP_MAX_INPUTS];
    int64_t stamp[DEDUP_MAX_INPUTS]; /* latest watermark stamp seen per ring; 0 = none */
    size_t n;
    ring_bell_t bell;
} dedup_inputs_t;

/* The oldest alert record of ring `i` with its watermark lowered as above,
 * or NULL when the ring holds none. Release it with ring_release(). */
void *dedup_inputs_peek(dedup_inputs_t *in, size_t i, size_t *len);
bool dedup_inputs_empty(dedup_inputs_t *in); /* consumes ticks */

typedef struct store_worker store_worker_t;

typedef struct {
    _Atomic uint64_t round_trips, degraded, conflicts, parked, takeovers, reseeded, local;
} store_worker_stats_t;

/* Called on the worker thread for every decision (counters, top sketch,
 * latency), before a forward is handed to the sink. */
typedef void (*store_decided_fn)(void *ctx, const alert_t *a, const incident_t *inc);

store_worker_t *store_worker_new(const store_conf_t *sc, uint64_t me, const dedup_params_t *p,
                                 dedup_table_t *fallback, dedup_forward_fn forward, void *ctx,
                                 store_decided_fn decided, void *decided_ctx,
                                 store_worker_stats_t *stats);
void store_worker_destroy(store_worker_t *sw);
/* The rule half of the composed decision (dedup.h), run per batch. */
/* Shared-store mode decides dedup in batches inside the store worker, so
 * the rule half of the composed decision runs there: `pre` before the
 * store is asked (true: suppressed by a rule, `out` filled, the store is not
 * touched). batch_begin/batch_end bracket each batch, so a rule reload
 * never splits one. `noise` (may be NULL) gives the noise rules of the
 * batch's rule set (valid until batch_end; NULL = none): the store decision
 * applies them over the noise state kept in the shared entry, so instances
 * agree on flapping and transient holds. worker.c implements it over the
 * worker's live rule set. */
typedef struct {
    void (*batch_begin)(void *ctx);
    bool (*pre)(void *ctx, const alert_t *a, incident_t *out);
    void (*batch_end)(void *ctx);
    const dedup_noise_t *(*noise)(void *ctx);
} dedup_rules_hook_t;
void store_worker_set_rules(store_worker_t *sw, const dedup_rules_hook_t *h, void *ctx);
/* Decides up to a batch of records from `in` (releasing them; each ring's
 * records stay in their order) and serves confirmations, parked alerts
 * and count flushes. Returns true when it did any work; `stopping` makes
 * it wait for every outstanding forward. */
bool store_worker_step(store_worker_t *sw, dedup_inputs_t *in, bool stopping);
/* Whether something is still outstanding (forwards to confirm, parked
 * alerts, counts to flush): the worker must not sleep long nor stop yet. */
bool store_worker_busy(const store_worker_t *sw);
/* How long a busy worker whose rings are dry may sleep: 0 while forwards
 * wait for their delivery or inputs for their release (look again within
 * a millisecond), else until its next count flush or parked recheck, at
 * most `cap_ms` (nothing there is woken by anything but time). */
int store_worker_wait_ms(const store_worker_t *sw, int cap_ms);

/* ---- the Redis adapter (store.c, store_redis.c) ---------------------- */

/* What Redis holds per fingerprint, decoded. */
typedef struct {
    bool open;              /* an incident is open */
    bool pending;           /* its last forward is not confirmed delivered */
    uint8_t pending_kind;   /* decision_kind_t of that forward */
    uint32_t seq;           /* forwards so far (matches confirms to forwards) */
    uint64_t incident_id;   /* stable over the incident's re-forwards */
    uint64_t owner;         /* instance holding the pending forward */
    int64_t lease_until_ms; /* wall clock */
    int64_t first_seen_ms;  /* event time, like the memory table */
    int64_t last_seen_ms;
    int64_t last_forward_ms;
    uint64_t count;
    dedup_noise_state_t noise; /* noise control's state (format 2) */
    /* Incident id of the pending forward (format 2): a noise hold may open
     * a new incident (new incident_id) while a forward of the previous one
     * still awaits its confirm, which matches (seq, pending_id). */
    uint64_t pending_id;
} store_entry_t;

#define STORE_ENTRY_BYTES  96 /* format 2 */
#define STORE_ENTRY_FORMAT 2  /* byte 1 of the blob; bump when fields are added */
/* Format 1 (64 bytes, no noise state) is still read: store_entry_upgrade
 * (and the Lua scripts) turn it into format 2 with the noise state zeroed. */
#define STORE_ENTRY_BYTES_V1 64
void store_entry_encode(const store_entry_t *e, unsigned char out[STORE_ENTRY_BYTES]);
/* false when `len` bytes are not an entry this build understands. */
bool store_entry_decode(const void *buf, size_t len, store_entry_t *e);
/* A format-1 blob rewritten as format 2 (what the cas script compares
 * against); false, and nothing written, for anything else. */
bool store_entry_upgrade(const void *buf, size_t len, unsigned char out[STORE_ENTRY_BYTES]);
/* What a touch makes of a format-2 entry `in`: count += delta, last seen
 * raised to last_seen_ms, every other byte as it was (exactly the touch
 * script's arithmetic). False when `in` is not a format-2 entry. */
bool store_entry_touch(const unsigned char in[STORE_ENTRY_BYTES], uint64_t delta,
                       int64_t last_seen_ms, unsigned char out[STORE_ENTRY_BYTES]);
/* What a confirm of the forward `id` (seq u32 then incident id u64, little
 * endian, as the confirm script gets it) makes of a format-2 entry `in`:
 * the pending flag cleared, every other byte as it was. False when `in` is
 * not a format-2 entry pending for that forward (the script writes
 * nothing then either). */
bool store_entry_confirm(const unsigned char in[STORE_ENTRY_BYTES], const unsigned char id[12],
                         unsigned char out[STORE_ENTRY_BYTES]);

typedef enum {
    STORE_DECIDED = 0, /* `out` holds the decision; the entry may have changed */
    STORE_PARK,        /* another live instance is delivering this incident: hold
                        * the alert (offset uncommitted) and decide again later */
} store_outcome_t;

typedef struct {
    uint64_t me;     /* this instance's id (random per process start) */
    int64_t wall_ms; /* now, wall clock: leases are real time */
    int64_t lease_ms;
    const dedup_noise_t *noise; /* noise rules in force; NULL = none */
} store_ctx_t;

/* Pure: decides one alert against `e` (zeroed = no entry) exactly like
 * dedup_decide then dedup_noise_apply (with ctx->noise) do in memory, and
 * applies the pending/lease rules above. Only a final forward leaves `e`
 * pending, owned by ctx->me: a noise hold writes its state, never a
 * pending forward. */
store_outcome_t store_decide(store_entry_t *e, const dedup_params_t *p, const store_ctx_t *ctx,
                             uint64_t fingerprint, alert_status_t status, int64_t now_ms,
                             incident_t *out);

/* One connection to Redis, owned by one thread. */
typedef struct store_conn store_conn_t;
store_conn_t *store_conn_new(const store_conf_t *sc, const char *name);
void store_conn_destroy(store_conn_t *c);
/* Connects (or reconnects after the backoff); false while Redis is away. */
bool store_conn_ready(store_conn_t *c);
bool store_conn_up(const store_conn_t *c);

/* Key TTLs. A write that sets a key's TTL sets the store's ttl_ms plus
 * STORE_TTL_RENEW_MS; a write may instead keep the TTL the key has
 * (`renew_ttl` false: SET KEEPTTL, ~1 us less of Redis CPU per key than
 * PX) when its caller set that TTL itself less than STORE_TTL_RENEW_MS / 2
 * before queueing the write, measured from when it queued that one. Every
 * write (by instances of this build) sets that TTL or keeps it, so a key
 * still lives at least ttl_ms after its last write; a write expecting the
 * key absent always sets it. */
#define STORE_TTL_RENEW_MS 60000

/* A pipelined batch of compare-and-sets: queue them, then run the batch in
 * one round trip. `expected` NULL = the key must be absent. `renew_ttl`:
 * see STORE_TTL_RENEW_MS. */
void store_cas_add(store_conn_t *c, uint64_t fp, const unsigned char *expected,
                   const unsigned char desired[STORE_ENTRY_BYTES], bool renew_ttl);
/* Plain reads in the same batch. */
void store_get_add(store_conn_t *c, uint64_t fp);
/* Marks the pending forward (seq, incident id) delivered, if still pending.
 * `expected` (NULL: unknown): the entry the caller believes Redis holds;
 * when it does, the confirm writes store_entry_confirm of it without the
 * script working it out. */
void store_confirm_add(store_conn_t *c, uint64_t fp, uint32_t seq, uint64_t incident_id,
                       const unsigned char *expected);
/* Adds occurrences suppressed locally: count += delta, last_seen = max.
 * `expected` (NULL: unknown) is the entry the caller believes Redis holds:
 * when it does, the touch writes store_entry_touch of it without the
 * script's arithmetic (the same bytes). Its result is STORE_R_VALUE with
 * the entry the touch wrote (cur_len 0: no entry there, nothing written).
 * Consecutive confirms (or touches) are sent as one command of up to 128
 * fingerprints: confirms with one result per command, touches one per
 * fingerprint; size results by store_queued(). `renew_ttl`: see
 * STORE_TTL_RENEW_MS (a touch of a key that is gone writes nothing). */
void store_touch_add(store_conn_t *c, uint64_t fp, uint64_t delta, int64_t last_seen_ms,
                     const unsigned char *expected, bool renew_ttl);

typedef enum {
    STORE_R_OK = 0,   /* CAS applied / confirm done */
    STORE_R_CONFLICT, /* CAS lost: `cur` holds the entry now (absent: cur_len 0) */
    STORE_R_VALUE,    /* GET or touch: `cur` holds the entry (absent: cur_len 0) */
    STORE_R_RETRY,    /* not run (its script was missing, QERR_FULL): send it again */
} store_result_kind_t;

typedef struct {
    store_result_kind_t kind;
    unsigned char cur[STORE_ENTRY_BYTES];
    size_t cur_len;
} store_result_t;

/* Sends everything queued and reads one result per command, in the order
 * they were queued (a CAS expecting the key absent goes as SET NX GET on
 * Redis >= 7.0; its result is where it was queued). On failure (timeout,
 * connection lost, error reply) returns QERR_IO: the connection is dropped
 * and retried after a backoff; nothing was decided. QERR_FULL: Redis had
 * lost the scripts (NOSCRIPT), no script ran (their results are
 * STORE_R_RETRY; a SET NX did run and its result stands), they are loaded
 * again: queue the commands not done again and run again. */
qerr_t store_run(store_conn_t *c, store_result_t *results, size_t n);
/* store_run in two halves, so the caller can work while Redis answers:
 * store_send writes everything queued (QERR_IO: the connection is dropped,
 * nothing was decided); store_recv then reads the results as store_run
 * does. Nothing may be queued in between. */
qerr_t store_send(store_conn_t *c);
qerr_t store_recv(store_conn_t *c, store_result_t *results, size_t n);
size_t store_queued(const store_conn_t *c); /* commands store_run will send */

/* Commands in RESP, Redis's wire format, written straight into a buffer
 * the connection keeps (store_redis.c): "*argc\r\n" then "$len\r\n"
 * bytes "\r\n" per argument, byte for byte what hiredis's
 * redisFormatCommandArgv makes of the same arguments. The buffer grows
 * (abort on out of memory, as the other batch buffers) and is reused:
 * resp_reset empties it without freeing. Owned by one thread. */
typedef struct {
    char *buf;
    size_t len, cap;
} resp_buf_t;
void resp_cmd(resp_buf_t *b, size_t argc);
void resp_arg(resp_buf_t *b, const void *p, size_t len);
void resp_reset(resp_buf_t *b);
void resp_free(resp_buf_t *b);

typedef struct {
    uint64_t round_trips;
    uint64_t commands;
    uint64_t errors;     /* failed round trips */
    uint64_t reconnects; /* successful connects after the first */
} store_conn_stats_t;
void store_conn_stats(const store_conn_t *c, store_conn_stats_t *out);

#endif
