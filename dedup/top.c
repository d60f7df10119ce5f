/*
 * The noisy-alert sketch: which fingerprints a worker sees most, with how
 * often they were suppressed, opened incidents and flapped.
 *
 * Space-saving (Metwally et al.): k counters; a fingerprint already held is
 * incremented, a new one takes over the smallest counter and inherits its
 * count as its error bound. Any fingerprint seen more than n/k times is
 * guaranteed to be held, which is exactly the question "what is noisy". A
 * min-heap finds the smallest counter in O(1) and keeps it in O(log k); an
 * open-addressing index finds a fingerprint's counter. Memory is fixed at
 * creation; one sketch per worker, owned by its thread.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"

/* Heap nodes carry their count, so sifting compares without touching the
 * (large) entries: a repeat costs a few cache lines, not one per level. */
typedef struct {
    uint64_t count;
    uint32_t idx;
} hnode_t;

struct top_sketch {
    size_t k, n;
    top_entry_t *entries;
    hnode_t *heap;   /* min count on top */
    uint32_t *hpos;  /* entry index -> heap position */
    uint32_t *index; /* fingerprint slots: entry index + 1, 0 = empty */
    size_t index_mask;
};

top_sketch_t *top_sketch_new(size_t k)
{
    if (k < 1) k = 1;
    top_sketch_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    size_t slots = 4;
    while (slots < 2 * k) slots *= 2;
    s->k = k;
    s->index_mask = slots - 1;
    s->entries = calloc(k, sizeof(*s->entries));
    s->heap = calloc(k, sizeof(*s->heap));
    s->hpos = calloc(k, sizeof(*s->hpos));
    s->index = calloc(slots, sizeof(*s->index));
    if (!s->entries || !s->heap || !s->hpos || !s->index) {
        top_sketch_destroy(s);
        return NULL;
    }
    return s;
}

void top_sketch_destroy(top_sketch_t *s)
{
    if (!s) return;
    free(s->entries);
    free(s->heap);
    free(s->hpos);
    free(s->index);
    free(s);
}

static size_t slot_of(const top_sketch_t *s, uint64_t fp)
{
    return (size_t)(fp ^ (fp >> 29)) & s->index_mask;
}

static size_t index_find(const top_sketch_t *s, uint64_t fp)
{
    for (size_t i = slot_of(s, fp);; i = (i + 1) & s->index_mask) {
        uint32_t v = s->index[i];
        if (!v || s->entries[v - 1].fingerprint == fp) return i;
    }
}

/* Linear-probing delete with backward shift, so no tombstones build up. */
static void index_remove(top_sketch_t *s, size_t i)
{
    s->index[i] = 0;
    for (size_t j = (i + 1) & s->index_mask; s->index[j]; j = (j + 1) & s->index_mask) {
        size_t home = slot_of(s, s->entries[s->index[j] - 1].fingerprint);
        /* Move j back into the hole when its home is not in (i, j]. */
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (between) continue;
        s->index[i] = s->index[j];
        s->index[j] = 0;
        i = j;
    }
}

static void heap_swap(top_sketch_t *s, size_t a, size_t b)
{
    hnode_t t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
    s->hpos[s->heap[a].idx] = (uint32_t)a;
    s->hpos[s->heap[b].idx] = (uint32_t)b;
}

static uint64_t hcount(const top_sketch_t *s, size_t pos) { return s->heap[pos].count; }

static void sift_down(top_sketch_t *s, size_t pos)
{
    for (;;) {
        size_t l = 2 * pos + 1, r = l + 1, m = pos;
        if (l < s->n && hcount(s, l) < hcount(s, m)) m = l;
        if (r < s->n && hcount(s, r) < hcount(s, m)) m = r;
        if (m == pos) return;
        heap_swap(s, pos, m);
        pos = m;
    }
}

static void sift_up(top_sketch_t *s, size_t pos)
{
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (hcount(s, parent) <= hcount(s, pos)) return;
        heap_swap(s, pos, parent);
        pos = parent;
    }
}

/* "name\0value\0" pairs, whole pairs only, in label order. */
static uint16_t pack_labels(char *dst, const alert_t *a)
{
    size_t pos = 0;
    for (uint32_t i = 0; i < a->n_labels; i++) {
        const label_t *l = &a->labels[i];
        size_t need = (size_t)l->name.len + l->value.len + 2;
        if (pos + need > TOP_LABEL_BYTES) continue; /* a shorter later pair may fit */
        memcpy(dst + pos, l->name.ptr, l->name.len);
        pos += l->name.len;
        dst[pos++] = '\0';
        memcpy(dst + pos, l->value.ptr, l->value.len);
        pos += l->value.len;
        dst[pos++] = '\0';
    }
    return (uint16_t)pos;
}

/* Moves an entry's bucket ring to `epoch`, zeroing the buckets it skips;
 * returns the bucket for `epoch`, or -1 when it is older than the ring. */
static int bucket_for(top_entry_t *e, int64_t epoch)
{
    if (epoch > e->epoch) {
        int64_t skip = epoch - e->epoch;
        if (skip > TOP_BUCKETS) skip = TOP_BUCKETS;
        for (int64_t i = 0; i < skip; i++) {
            int b = (int)((epoch - i) % TOP_BUCKETS);
            e->b[b] = (top_bucket_t){0};
        }
        e->epoch = epoch;
    }
    if (epoch < 0 || e->epoch - epoch >= TOP_BUCKETS) return -1; /* late event: totals only */
    return (int)(epoch % TOP_BUCKETS);
}

void top_entry_window(const top_entry_t *e, int64_t now_ms, int64_t window_ms, top_counts_t *out)
{
    if (window_ms > (int64_t)TOP_BUCKETS * TOP_BUCKET_MS) {
        *out = (top_counts_t){e->count - e->error, e->suppressed, e->incidents, e->flaps, false};
        return;
    }
    *out = (top_counts_t){.windowed = true};
    int64_t now_epoch = now_ms / TOP_BUCKET_MS;
    int64_t n = (window_ms + TOP_BUCKET_MS - 1) / TOP_BUCKET_MS;
    for (int64_t ep = now_epoch - n + 1; ep <= now_epoch; ep++) {
        if (ep < 0 || ep > e->epoch || e->epoch - ep >= TOP_BUCKETS) continue;
        int b = (int)(ep % TOP_BUCKETS);
        out->count += e->b[b].count;
        out->suppressed += e->b[b].suppressed;
        out->incidents += e->b[b].incidents;
        out->flaps += e->b[b].flaps;
    }
}

void top_sketch_add(top_sketch_t *s, const alert_t *a, decision_kind_t k, int64_t now_ms)
{
    size_t slot = index_find(s, a->fingerprint);
    top_entry_t *e;
    bool flapped = false;
    if (s->index[slot]) {
        uint32_t ei = s->index[slot] - 1;
        e = &s->entries[ei];
        e->count++;
        flapped = e->last_status != (uint8_t)a->status;
        if (flapped) e->flaps++;
        s->heap[s->hpos[ei]].count = e->count;
        sift_down(s, s->hpos[ei]);
    } else {
        uint32_t ei;
        uint64_t base = 0;
        if (s->n < s->k) {
            ei = (uint32_t)s->n;
            s->heap[s->n] = (hnode_t){1, ei};
            s->hpos[ei] = (uint32_t)s->n;
            s->n++;
        } else {
            ei = s->heap[0].idx;
            base = s->heap[0].count;
            index_remove(s, index_find(s, s->entries[ei].fingerprint));
            slot = index_find(s, a->fingerprint); /* the removal may have moved slots */
        }
        e = &s->entries[ei];
        /* Counts and buckets: the labels are rewritten just below. */
        memset(e, 0, offsetof(top_entry_t, labels));
        e->fingerprint = a->fingerprint;
        e->count = base + 1;
        e->error = base;
        e->first_seen_ms = now_ms;
        e->epoch = now_ms / TOP_BUCKET_MS;
        e->labels_len = pack_labels(e->labels, a);
        s->index[slot] = ei + 1;
        s->heap[s->hpos[ei]].count = e->count;
        if (base)
            sift_down(s, 0);
        else
            sift_up(s, s->hpos[ei]);
    }
    e->last_status = (uint8_t)a->status;
    if (now_ms > e->last_seen_ms) e->last_seen_ms = now_ms;
    if (!DECISION_IS_FORWARD(k)) e->suppressed++;
    if (k == DECISION_FORWARD_NEW) e->incidents++;
    int b = bucket_for(e, now_ms / TOP_BUCKET_MS);
    if (b >= 0) {
        top_bucket_t *bk = &e->b[b];
        bk->count++;
        if (!DECISION_IS_FORWARD(k)) bk->suppressed++;
        if (k == DECISION_FORWARD_NEW) bk->incidents++;
        if (flapped) bk->flaps++;
    }
}

void top_sketch_prefetch(const top_sketch_t *s, uint64_t fp, int64_t now_ms, bool deep)
{
    const uint32_t *slot = &s->index[slot_of(s, fp)];
    if (!deep) {
        __builtin_prefetch(slot, 0, 3);
        return;
    }
    /* The entry's counts and the bucket of now_ms: the index slot came
     * in meanwhile. */
    uint32_t v = *slot;
    if (!v || now_ms < 0) return;
    const top_entry_t *e = &s->entries[v - 1];
    __builtin_prefetch(e, 1, 3);
    __builtin_prefetch(&e->b[(now_ms / TOP_BUCKET_MS) % TOP_BUCKETS], 1, 3);
}

size_t top_sketch_copy(const top_sketch_t *s, top_entry_t *out, size_t cap)
{
    size_t n = s->n < cap ? s->n : cap;
    memcpy(out, s->entries, n * sizeof(*out));
    return n;
}

size_t top_sketch_capacity(const top_sketch_t *s) { return s->k; }

const char *top_entry_label(const top_entry_t *e, const char *name, size_t *len)
{
    size_t pos = 0;
    while (pos < e->labels_len) {
        const char *n = e->labels + pos;
        size_t nl = strlen(n);
        const char *v = n + nl + 1;
        size_t vl = strlen(v);
        if (strcmp(n, name) == 0) {
            *len = vl;
            return v;
        }
        pos += nl + vl + 2;
    }
    *len = 0;
    return NULL;
}
