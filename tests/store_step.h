/* One store_worker_step over a single input ring, as a worker fed by one
 * ingest thread runs it: shared by the store tests. */
#ifndef QUELL_TESTS_STORE_STEP_H
#define QUELL_TESTS_STORE_STEP_H

#include "../dedup/dedup_int.h"

static inline bool step_ring(store_worker_t *sw, ring_t *ring, bool stopping)
{
    dedup_inputs_t in = {.rings = {ring}, .n = 1};
    return store_worker_step(sw, &in, stopping);
}

#endif
