/*
 * core/ring.h: the lock-free single-producer single-consumer ring that
 * carries records between threads, and the bell a consumer of several
 * rings sleeps on.
 */
#ifndef QUELL_RING_H
#define QUELL_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Single-producer single-consumer byte ring of variable-length records.
 * The producer thread reserves space, writes a record in place and commits;
 * the consumer thread peeks the oldest record, reads it in place and releases
 * it. Lock-free (C11 acquire/release on the two indices); records are
 * contiguous (a record that would straddle the end skips to the start). */
typedef struct ring ring_t;

ring_t *ring_new(size_t capacity_bytes); /* rounded up to a power of two */
void ring_destroy(ring_t *r);
size_t ring_max_record(const ring_t *r);
/* Producer side. NULL when the ring has no room now (QERR_FULL semantics). */
void *ring_reserve(ring_t *r, size_t len);
void ring_commit(ring_t *r); /* ring_commit_local + ring_publish */
/* Batching: commit_local keeps the record for the producer's next publish,
 * which hands every record committed since to the consumer with one
 * release store and at most one wake (saves a fence and a shared cache
 * line per record). The producer must publish before it blocks on
 * anything the consumer's progress decides; ring_wait_room publishes. */
void ring_commit_local(ring_t *r);
void ring_publish(ring_t *r);
/* Consumer side. NULL when empty. */
void *ring_peek(ring_t *r, size_t *len);
void ring_release(ring_t *r);
/* Consumer side: the record after the one ring_peek last returned, left
 * where it is (NULL when none is published yet): to ask for what deciding
 * it will need while the peeked one is decided. Prefetches the first lines
 * of the one after it, when published (records come from another core). */
const void *ring_peek_next(ring_t *r, size_t *len);
/* ring_release in two halves, for a consumer taking records in bursts:
 * release each record quietly, then wake a producer waiting for room once
 * per burst. The wake-up check costs a full fence, as much as deciding a
 * duplicate; a producer may wait one burst longer. */
void ring_release_quiet(ring_t *r);
void ring_wake_producer(ring_t *r);
/* For a consumer deciding a batch in place: ring_hold moves past the
 * peeked record without releasing it (the next peek returns the record
 * after it; the producer cannot reuse its bytes), ring_release_held
 * releases every record held so far, quietly (then ring_wake_producer).
 * Copying the batch out instead was ~1.5% of a Redis-store run's CPU. */
void ring_hold(ring_t *r);
void ring_release_held(ring_t *r);
/* Moves past the peeked record, a record nobody keeps (a tick): released
 * at once when nothing is held before it, else held with those. */
void ring_skip(ring_t *r);
size_t ring_used_bytes(const ring_t *r);
/* Consumer side: blocks until a record is committed or `timeout_ms` passes
 * (futex; the producer wakes it only when it is actually waiting). */
void ring_wait_data(ring_t *r, int timeout_ms);
/* Producer side: blocks until `len` bytes could be reserved or `timeout_ms`
 * passes. Backpressure: the producer stops, nothing is dropped. */
void ring_wait_room(ring_t *r, size_t len, int timeout_ms);

/* Consumer side: whether one of `rings` has a record, looking again after
 * each of up to `yields` sched_yield calls: under load the next batch is
 * microseconds away, and catching it saves a futex wake. */
bool ring_poll_any(ring_t *const *rings, size_t n, int yields);

/* An idle consumer's choice between polling and sleeping at once. Polling
 * pays while records come microseconds apart (ingest draining a backlog
 * publishes a batch every ~30 us); under light load the next record is a
 * millisecond away (a fetch response), and each yield is then a context
 * switch the broker and the producers sharing the cores pay for (measured
 * at 45,000 alerts/s with 64 yields per idle spell: ~16,000 involuntary
 * switches a second per idle thread). So it polls only while its last
 * sleep was short. Owned by the consumer thread. */
typedef struct {
    bool poll;         /* the last sleep was short: poll before the next */
    int64_t asleep_ns; /* when the current sleep began */
} ring_idle_t;

void ring_idle_init(ring_idle_t *idle);
/* Polls `rings` (ring_poll_any, 64 yields) when polling pays; true when
 * one has a record (then do not sleep). */
bool ring_idle_poll(ring_idle_t *idle, ring_t *const *rings, size_t n);
/* Around the caller's futex sleep (ring_bell_wait, ring_wait_data). */
void ring_idle_sleeping(ring_idle_t *idle);
void ring_idle_woke(ring_idle_t *idle);

/* A consumer reading several rings (a dedup worker fed by several ingest
 * threads) sleeps on one bell they all ring on publish, instead of on one
 * ring while another fills. Set before either side runs. */
typedef struct {
    _Alignas(CACHELINE) _Atomic uint32_t seq;
    _Atomic uint32_t waiting;
} ring_bell_t;
void ring_set_bell(ring_t *r, ring_bell_t *bell); /* then wait with ring_bell_wait only */
/* Blocks until one of `rings` (all ringing `bell`) has a record or
 * `timeout_ms` passes. */
void ring_bell_wait(ring_bell_t *bell, ring_t *const *rings, size_t n, int timeout_ms);

#endif
