/* dedup's internal seam between the worker thread (worker.c) and its
 * shared-store mode (store_worker.c). Not part of the module's API. */
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
typedef void (*store_decided_fn)(void *ctx, const alert_t *a, decision_kind_t k);

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

#endif
