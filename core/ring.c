/*
 * SPSC byte ring of variable-length records, the only channel between an
 * ingest thread and a dedup worker (and between a worker and the router).
 *
 * Invariants: `head` (next byte to write) is written only by the producer,
 * `tail` (next byte to read) only by the consumer; both grow without bound
 * and are reduced modulo the power-of-two capacity. A record is a 8-byte
 * length header followed by the payload padded to 8 bytes, always contiguous:
 * when it would cross the end of the buffer the producer writes a skip marker
 * and starts at offset 0. Publishing uses release stores and reading uses
 * acquire loads, so a consumer that sees the new head also sees the bytes.
 */
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#define RING_SKIP UINT64_MAX
#define RING_HDR  8
/* ring_peek_next: how much of the record after the next one to ask for. */
#define RING_PREFETCH_BYTES 256

struct ring {
    _Alignas(CACHELINE) _Atomic size_t head;
    size_t head_reserved; /* producer-private: where the pending record ends */
    size_t head_local;    /* producer-private: end of the records committed so
                           * far, published to the consumer or not */
    size_t tail_cache;    /* producer's last view of tail, saves cache misses */
    _Alignas(CACHELINE) _Atomic size_t tail;
    size_t tail_next; /* consumer-private: where the peeked record ends */
    size_t read;      /* consumer-private: the next record to peek; past
                       * tail while records are held (ring_hold) */
    /* Sleep/wake: a waiter sets its flag, re-checks, then sleeps on the
     * futex word; the other side bumps the word and wakes only if the flag
     * is set, so the fast path is one relaxed load. */
    _Alignas(CACHELINE) _Atomic uint32_t data_seq;
    _Atomic uint32_t consumer_waiting;
    _Atomic uint32_t room_seq;
    _Atomic uint32_t producer_waiting;
    _Alignas(CACHELINE) ring_bell_t *bell; /* NULL: data_seq/consumer_waiting */
    size_t mask;
    size_t capacity;
    unsigned char *buf;
};

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

ring_t *ring_new(size_t capacity_bytes)
{
    size_t cap = 4096;
    while (cap < capacity_bytes) cap <<= 1;
    ring_t *r = aligned_alloc(CACHELINE, sizeof(*r));
    if (!r) return NULL;
    memset(r, 0, sizeof(*r));
    r->buf = aligned_alloc(CACHELINE, cap);
    if (!r->buf) {
        free(r);
        return NULL;
    }
    r->capacity = cap;
    r->mask = cap - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void ring_destroy(ring_t *r)
{
    if (!r) return;
    free(r->buf);
    free(r);
}

size_t ring_max_record(const ring_t *r) { return r->capacity / 2 - RING_HDR; }

void *ring_reserve(ring_t *r, size_t len)
{
    size_t need = RING_HDR + pad8(len);
    if (need > r->capacity / 2) return NULL;
    size_t head = r->head_local;
    size_t off = head & r->mask;
    size_t skip = 0;
    if (off + need > r->capacity) skip = r->capacity - off; /* wrap to 0 */
    size_t total = skip + need;
    if (head + total - r->tail_cache > r->capacity) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head + total - r->tail_cache > r->capacity) return NULL;
    }
    if (skip) {
        uint64_t marker = RING_SKIP;
        memcpy(r->buf + off, &marker, sizeof(marker));
        off = 0;
    }
    uint64_t hdr = len;
    memcpy(r->buf + off, &hdr, sizeof(hdr));
    r->head_reserved = head + total;
    return r->buf + off + RING_HDR;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t seen, int timeout_ms)
{
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
}

static void wake(_Atomic uint32_t *waiting, _Atomic uint32_t *seq)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(waiting, memory_order_relaxed)) {
        atomic_fetch_add_explicit(seq, 1, memory_order_release);
        syscall(SYS_futex, (uint32_t *)seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

void ring_commit_local(ring_t *r) { r->head_local = r->head_reserved; }

void ring_publish(ring_t *r)
{
    if (atomic_load_explicit(&r->head, memory_order_relaxed) == r->head_local) return;
    atomic_store_explicit(&r->head, r->head_local, memory_order_release);
    if (r->bell)
        wake(&r->bell->waiting, &r->bell->seq);
    else
        wake(&r->consumer_waiting, &r->data_seq);
}

void ring_set_bell(ring_t *r, ring_bell_t *bell) { r->bell = bell; }

static bool ring_empty_seq_cst(ring_t *r)
{
    return atomic_load_explicit(&r->head, memory_order_seq_cst) ==
           atomic_load_explicit(&r->tail, memory_order_relaxed);
}

void ring_bell_wait(ring_bell_t *bell, ring_t *const *rings, size_t n, int timeout_ms)
{
    uint32_t seen = atomic_load_explicit(&bell->seq, memory_order_acquire);
    atomic_store_explicit(&bell->waiting, 1, memory_order_seq_cst);
    bool empty = true;
    for (size_t i = 0; empty && i < n; i++) empty = ring_empty_seq_cst(rings[i]);
    if (empty) futex_wait(&bell->seq, seen, timeout_ms);
    atomic_store_explicit(&bell->waiting, 0, memory_order_relaxed);
}

bool ring_poll_any(ring_t *const *rings, size_t n, int yields)
{
    for (int k = 0;; k++) {
        for (size_t i = 0; i < n; i++)
            if (atomic_load_explicit(&rings[i]->head, memory_order_relaxed) !=
                atomic_load_explicit(&rings[i]->tail, memory_order_relaxed))
                return true;
        if (k == yields) return false;
        sched_yield();
    }
}

/* Yields while draining a backlog: the core goes to whichever thread has
 * work (a 50 us spin instead cost 5% of the launch-day drain rate, 0.946x,
 * paired). */
#define IDLE_YIELDS   64
#define IDLE_SHORT_NS 200000 /* a sleep shorter than this: records come fast */

void ring_idle_init(ring_idle_t *idle) { *idle = (ring_idle_t){.poll = true}; }

bool ring_idle_poll(ring_idle_t *idle, ring_t *const *rings, size_t n)
{
    return idle->poll && ring_poll_any(rings, n, IDLE_YIELDS);
}

void ring_idle_sleeping(ring_idle_t *idle) { idle->asleep_ns = clock_mono_ns(); }

void ring_idle_woke(ring_idle_t *idle)
{
    idle->poll = clock_mono_ns() - idle->asleep_ns < IDLE_SHORT_NS;
}

void ring_commit(ring_t *r)
{
    ring_commit_local(r);
    ring_publish(r);
}

void ring_wait_data(ring_t *r, int timeout_ms)
{
    uint32_t seen = atomic_load_explicit(&r->data_seq, memory_order_acquire);
    atomic_store_explicit(&r->consumer_waiting, 1, memory_order_seq_cst);
    if (ring_empty_seq_cst(r)) futex_wait(&r->data_seq, seen, timeout_ms);
    atomic_store_explicit(&r->consumer_waiting, 0, memory_order_relaxed);
}

void ring_wait_room(ring_t *r, size_t len, int timeout_ms)
{
    /* A reserve needs the record plus, when it wraps, the skipped tail of
     * the buffer, which is shorter than the record: twice the record is
     * always enough, and waiting for more would stall the producer. */
    size_t need = 2 * (RING_HDR + pad8(len));
    if (need > r->capacity) need = r->capacity;
    ring_publish(r); /* the consumer frees room only from what it can see */
    uint32_t seen = atomic_load_explicit(&r->room_seq, memory_order_acquire);
    atomic_store_explicit(&r->producer_waiting, 1, memory_order_seq_cst);
    size_t head = r->head_local;
    if (head - atomic_load_explicit(&r->tail, memory_order_seq_cst) + need > r->capacity)
        futex_wait(&r->room_seq, seen, timeout_ms);
    atomic_store_explicit(&r->producer_waiting, 0, memory_order_relaxed);
}

/* The record at *pos (past a skip marker, which moves *pos), NULL when
 * none is published before `head`. */
static unsigned char *record_at(const ring_t *r, size_t *pos, size_t head, size_t *len)
{
    if (*pos == head) return NULL;
    size_t off = *pos & r->mask;
    uint64_t hdr;
    memcpy(&hdr, r->buf + off, sizeof(hdr));
    if (hdr == RING_SKIP) {
        *pos += r->capacity - off;
        if (*pos == head) return NULL;
        off = 0;
        memcpy(&hdr, r->buf, sizeof(hdr));
    }
    *len = (size_t)hdr;
    return r->buf + off + RING_HDR;
}

void *ring_peek(ring_t *r, size_t *len)
{
    size_t pos = r->read;
    unsigned char *rec =
        record_at(r, &pos, atomic_load_explicit(&r->head, memory_order_acquire), len);
    if (rec) r->tail_next = pos + RING_HDR + pad8(*len);
    return rec;
}

const void *ring_peek_next(ring_t *r, size_t *len)
{
    size_t pos = r->tail_next;
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    const unsigned char *rec = record_at(r, &pos, head, len);
    if (!rec) return NULL;
    /* The record after it, when published: its first lines are asked for
     * now, so that the next call finds its header in cache. */
    size_t after = pos + RING_HDR + pad8(*len);
    for (size_t i = 0; i < RING_PREFETCH_BYTES && after + i < head; i += CACHELINE)
        __builtin_prefetch(r->buf + ((after + i) & r->mask), 0, 3);
    return rec;
}

void ring_release(ring_t *r)
{
    ring_release_quiet(r);
    ring_wake_producer(r);
}

void ring_release_quiet(ring_t *r)
{
    r->read = r->tail_next;
    atomic_store_explicit(&r->tail, r->tail_next, memory_order_release);
}

void ring_hold(ring_t *r) { r->read = r->tail_next; }

void ring_release_held(ring_t *r)
{
    atomic_store_explicit(&r->tail, r->read, memory_order_release);
}

void ring_skip(ring_t *r)
{
    if (r->read == atomic_load_explicit(&r->tail, memory_order_relaxed))
        ring_release(r);
    else
        ring_hold(r);
}

void ring_wake_producer(ring_t *r) { wake(&r->producer_waiting, &r->room_seq); }

size_t ring_used_bytes(const ring_t *r)
{
    return atomic_load_explicit(&((ring_t *)r)->head, memory_order_relaxed) -
           atomic_load_explicit(&((ring_t *)r)->tail, memory_order_relaxed);
}
