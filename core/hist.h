/*
 * core/hist.h: the log-linear latency histogram (one type for the run
 * summary and /metrics).
 */
#ifndef QUELL_HIST_H
#define QUELL_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Log-linear histogram of durations in ns: exact below 16, then 16 buckets
 * per power of two (at most 6.25% wide), up to 2^64. One writer thread
 * records (relaxed single-writer stores, no lock prefix, no allocation);
 * any thread may read or merge it while it is written (approximate), e.g.
 * a dedup worker's decision latency read by the summary and /metrics. */
#define HIST_SUB_BITS 4
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

typedef struct {
    _Alignas(CACHELINE) _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t max_ns;
    _Atomic uint64_t buckets[HIST_BUCKETS];
} hist_t;

void hist_init(hist_t *h);
/* Owner thread only. */
void hist_record(hist_t *h, uint64_t ns);
/* Adds `src` into `dst` (dst owned by the caller; src may be being written). */
void hist_merge(hist_t *dst, const hist_t *src);
/* The value at quantile q (0..1): the upper bound of the bucket holding
 * that rank, never above the maximum recorded. 0 when empty. */
uint64_t hist_quantile(const hist_t *h, double q);
/* Bucket i holds values in [hist_bucket_lower(i), hist_bucket_lower(i+1)). */
uint64_t hist_bucket_lower(size_t i);
size_t hist_bucket_of(uint64_t ns);

/* Decision latency, whole and in its two shares, so an SRE can tell the
 * Kafka path's part from quell's: `decided` runs from the alert's Kafka
 * timestamp to its decision; `consumed` from the timestamp to quell taking
 * the message from librdkafka (the producer's batching, the broker, the
 * fetch, librdkafka's queue); `in_quell` from there to the decision
 * (decode, the rings, a worker's wake-up, the rules). Every alert lands in
 * all three, so the counts are equal and, per alert, decided = consumed +
 * in_quell exactly (so are the sums). One writer, as for hist_t. */
typedef struct {
    hist_t decided, consumed, in_quell;
} decision_latency_t;

void decision_latency_init(decision_latency_t *l);
/* `now_ns` (wall clock) against `event_time_ms` (a Kafka timestamp) and
 * `received_ns` (wall clock when quell took the message; 0 or earlier than
 * the stamp: unknown, the whole latency counts as quell's). A stamp in the
 * future (clock skew) counts 0; a stale `now_ns` (read before the message
 * arrived) clamps the in-quell share to 0. */
void decision_latency_record(decision_latency_t *l, int64_t now_ns, int64_t event_time_ms,
                             int64_t received_ns);
void decision_latency_merge(decision_latency_t *dst, const decision_latency_t *src);

#endif
