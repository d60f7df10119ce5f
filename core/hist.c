/*
 * hist: the log-linear latency histogram (see core.h).
 *
 * Bucket of v: below 2^SUB, v itself; above, the octave (position of the
 * top bit) and the SUB bits under it. So every bucket is at most 1/16 of
 * its lower bound wide, and the table is a fixed ~8 KiB: no allocation,
 * no resizing, a record is a shift, a count-leading-zeros and three
 * relaxed adds.
 */
#include <string.h>
#include <time.h>

#include "hist.h"

void hist_init(hist_t *h) { memset(h, 0, sizeof *h); }

size_t hist_bucket_of(uint64_t v)
{
    if (v < (1u << HIST_SUB_BITS)) return (size_t)v;
    unsigned top = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS */
    unsigned shift = top - HIST_SUB_BITS;
    return ((size_t)(shift + 1) << HIST_SUB_BITS) |
           (size_t)((v >> shift) & ((1u << HIST_SUB_BITS) - 1));
}

uint64_t hist_bucket_lower(size_t i)
{
    if (i >= HIST_BUCKETS) return UINT64_MAX;
    if (i < (1u << HIST_SUB_BITS)) return i;
    unsigned shift = (unsigned)(i >> HIST_SUB_BITS) - 1;
    uint64_t mantissa = (1u << HIST_SUB_BITS) | (i & ((1u << HIST_SUB_BITS) - 1));
    return mantissa << shift;
}

void hist_record(hist_t *h, uint64_t ns)
{
    stat_add(&h->buckets[hist_bucket_of(ns)], 1);
    stat_add(&h->count, 1);
    stat_add(&h->sum_ns, ns);
    if (ns > stat_get(&h->max_ns)) atomic_store_explicit(&h->max_ns, ns, memory_order_relaxed);
}

void hist_merge(hist_t *dst, const hist_t *src)
{
    uint64_t n = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        uint64_t c = stat_get(&src->buckets[i]);
        if (!c) continue;
        stat_add(&dst->buckets[i], c);
        n += c;
    }
    /* The buckets, not src->count, so quantiles stay consistent with them
     * while src is being written. */
    stat_add(&dst->count, n);
    stat_add(&dst->sum_ns, stat_get(&src->sum_ns));
    uint64_t m = stat_get(&src->max_ns);
    if (m > stat_get(&dst->max_ns)) atomic_store_explicit(&dst->max_ns, m, memory_order_relaxed);
}

uint64_t hist_quantile(const hist_t *h, double q)
{
    uint64_t n = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) n += stat_get(&h->buckets[i]);
    if (!n) return 0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    uint64_t rank = (uint64_t)(q * (double)n + 0.5), seen = 0, max = stat_get(&h->max_ns);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += stat_get(&h->buckets[i]);
        if (seen >= rank) {
            uint64_t upper = i + 1 < HIST_BUCKETS ? hist_bucket_lower(i + 1) - 1 : UINT64_MAX;
            return upper < max ? upper : max;
        }
    }
    return max;
}

int64_t clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void decision_latency_init(decision_latency_t *l)
{
    hist_init(&l->decided);
    hist_init(&l->consumed);
    hist_init(&l->in_quell);
}

void decision_latency_record(decision_latency_t *l, int64_t now_ns, int64_t event_time_ms,
                             int64_t received_ns)
{
    int64_t stamp_ns = event_time_ms * 1000000;
    int64_t total = now_ns - stamp_ns;
    if (total < 0) total = 0;
    /* The split point, kept inside [stamp, now] so the shares add up. */
    int64_t split_ns = received_ns > stamp_ns ? received_ns : stamp_ns;
    if (split_ns > stamp_ns + total) split_ns = stamp_ns + total;
    hist_record(&l->decided, (uint64_t)total);
    hist_record(&l->consumed, (uint64_t)(split_ns - stamp_ns));
    hist_record(&l->in_quell, (uint64_t)(stamp_ns + total - split_ns));
}

void decision_latency_merge(decision_latency_t *dst, const decision_latency_t *src)
{
    hist_merge(&dst->decided, &src->decided);
    hist_merge(&dst->consumed, &src->consumed);
    hist_merge(&dst->in_quell, &src->in_quell);
}
