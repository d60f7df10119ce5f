/* dedup's internal seam between the worker thread (worker.c) and its
 * shared-store mode (store_worker.c). Not part of the module's API. */
#ifndef QUELL_DEDUP_INT_H
#define QUELL_DEDUP_INT_H

#include "dedup.h"

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
void store_worker_set_rules(store_worker_t *sw, const dedup_rules_hook_t *h, void *ctx);
/* Decides up to a batch of records from `ring` (releasing them) and serves
 * confirmations, parked alerts and count flushes. Returns true when it did
 * any work; `stopping` makes it wait for every outstanding forward. */
bool store_worker_step(store_worker_t *sw, ring_t *ring, bool stopping);
/* Whether something is still outstanding (forwards to confirm, parked
 * alerts, counts to flush): the worker must not sleep long nor stop yet. */
bool store_worker_busy(const store_worker_t *sw);

#endif
