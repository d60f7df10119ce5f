/* core/hist.c: bucket bounds hold every value, quantiles land within a
 * bucket's width of the exact ones, merging adds, the maximum clamps; the
 * decision latency's two shares add up to the whole, alert by alert. */
#include <stdlib.h>

#include "../core/core.h"
#include "check.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_buckets(void)
{
    uint64_t s = 88172645463325252ULL;
    size_t bad = 0;
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint64_t v = i < 1000 ? (uint64_t)i : s >> (s & 63);
        size_t b = hist_bucket_of(v);
        bad += !(b < HIST_BUCKETS && hist_bucket_lower(b) <= v &&
                 (b + 1 == HIST_BUCKETS || v < hist_bucket_lower(b + 1)));
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(hist_bucket_of(UINT64_MAX), HIST_BUCKETS - 1);
    CHECK_EQ_INT(hist_bucket_of(0), 0);
    for (size_t b = 1; b < HIST_BUCKETS; b++)
        CHECK(hist_bucket_lower(b) > hist_bucket_lower(b - 1));
}

static void test_quantiles(void)
{
    static hist_t h, other, merged;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof *v), s = 1;
    hist_init(&h);
    hist_init(&other);
    hist_init(&merged);
    CHECK_EQ_INT(hist_quantile(&h, 0.5), 0);
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = 1000 + (s >> 40) % 5000000; /* 1 µs .. 5 ms */
        hist_record(i % 2 ? &h : &other, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_u64);
    hist_merge(&merged, &h);
    hist_merge(&merged, &other);
    CHECK_EQ_INT(stat_get(&merged.count), N);
    CHECK_EQ_INT(stat_get(&merged.max_ns), v[N - 1]);
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < 4; i++) {
        uint64_t exact = v[(size_t)(qs[i] * N) - 1], got = hist_quantile(&merged, qs[i]);
        CHECK(got >= exact - exact / 16 && got <= exact + exact / 16);
    }
    CHECK_EQ_INT(hist_quantile(&merged, 1.0), v[N - 1]); /* clamped to the max */
    free(v);
}

static void test_latency_split(void)
{
    static decision_latency_t l, merged;
    decision_latency_init(&l);
    decision_latency_init(&merged);
    const int64_t stamp_ms = 1765000000000, stamp_ns = stamp_ms * 1000000;
    /* taken 2 ms after the stamp, decided 300 µs later */
    decision_latency_record(&l, stamp_ns + 2300000, stamp_ms, stamp_ns + 2000000);
    CHECK_EQ_INT(stat_get(&l.decided.sum_ns), 2300000);
    CHECK_EQ_INT(stat_get(&l.consumed.sum_ns), 2000000);
    CHECK_EQ_INT(stat_get(&l.in_quell.sum_ns), 300000);
    /* unknown arrival: all of it is quell's */
    decision_latency_record(&l, stamp_ns + 1000, stamp_ms, 0);
    CHECK_EQ_INT(stat_get(&l.consumed.max_ns), 2000000);
    CHECK_EQ_INT(stat_get(&l.in_quell.sum_ns), 301000);
    /* a stale decision clock (read before the message came): quell's share
     * is 0, the Kafka path's is the whole */
    decision_latency_record(&l, stamp_ns + 5000, stamp_ms, stamp_ns + 9000);
    CHECK_EQ_INT(stat_get(&l.consumed.sum_ns), 2005000);
    /* a stamp in the future (skew): 0 everywhere */
    decision_latency_record(&l, stamp_ns - 7000, stamp_ms, stamp_ns - 3000);
    CHECK_EQ_INT(stat_get(&l.decided.sum_ns), 2306000);
    CHECK_EQ_INT(stat_get(&l.consumed.sum_ns) + stat_get(&l.in_quell.sum_ns), 2306000);
    CHECK_EQ_INT(stat_get(&l.decided.count), 4);
    CHECK_EQ_INT(stat_get(&l.consumed.count), 4);
    CHECK_EQ_INT(stat_get(&l.in_quell.count), 4);
    decision_latency_merge(&merged, &l);
    decision_latency_merge(&merged, &l);
    CHECK_EQ_INT(stat_get(&merged.in_quell.count), 8);
    CHECK_EQ_INT(stat_get(&merged.consumed.sum_ns), 2 * 2005000);
    CHECK_EQ_INT(stat_get(&merged.decided.max_ns), 2300000);
}

int main(void)
{
    test_buckets();
    test_quantiles();
    test_latency_split();
    return check_summary("hist");
}
