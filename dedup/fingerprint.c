/*
 * Fingerprints: a 64-bit identity of an alert's label set.
 *
 * Both modes hash the same byte encoding — labels sorted bytewise by name,
 * each as name bytes, 0xFF, value bytes, 0xFF — which is Prometheus's
 * LabelSet.Fingerprint encoding (0xFF never occurs in valid UTF-8, so the
 * encoding is unambiguous). `alertmanager` mode hashes it with FNV-1a 64 and
 * so equals Alertmanager's fingerprints; `xxh3` (default) uses XXH3-64,
 * several times faster on long label sets.
 *
 * The encoding is built into a stack buffer and hashed in one call (XXH3's
 * one-shot path is much faster than streaming); label sets larger than the
 * buffer fall back to the streaming API.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "dedup.h"

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME  1099511628211ULL

typedef struct {
    fingerprint_mode_t mode;
    uint64_t fnv;
    XXH3_state_t *xstate; /* only when the stack buffer overflowed */
    unsigned char buf[2048];
    size_t used;
} fp_hasher_t;

static void hasher_feed(fp_hasher_t *h, const void *data, size_t len)
{
    if (h->mode == FP_ALERTMANAGER) {
        const unsigned char *p = data;
        for (size_t i = 0; i < len; i++) {
            h->fnv ^= p[i];
            h->fnv *= FNV_PRIME;
        }
        return;
    }
    if (!h->xstate && h->used + len <= sizeof(h->buf)) {
        memcpy(h->buf + h->used, data, len);
        h->used += len;
        return;
    }
    if (!h->xstate) {
        h->xstate = XXH3_createState();
        XXH3_64bits_reset(h->xstate);
        XXH3_64bits_update(h->xstate, h->buf, h->used);
    }
    XXH3_64bits_update(h->xstate, data, len);
}

static inline void hasher_label(fp_hasher_t *h, str_t name, str_t value)
{
    static const unsigned char sep = 0xFF;
    size_t need = (size_t)name.len + value.len + 2;
    if (h->mode != FP_ALERTMANAGER && !h->xstate && h->used + need <= sizeof(h->buf)) {
        /* The usual case, one label straight into the buffer. */
        unsigned char *p = h->buf + h->used;
        copy_short(p, name.ptr, name.len);
        p[name.len] = sep;
        p += name.len + 1;
        copy_short(p, value.ptr, value.len);
        p[value.len] = sep;
        h->used += need;
        return;
    }
    hasher_feed(h, name.ptr, name.len);
    hasher_feed(h, &sep, 1);
    hasher_feed(h, value.ptr, value.len);
    hasher_feed(h, &sep, 1);
}

static int str_cmp(str_t a, const char *b)
{
    size_t blen = strlen(b);
    size_t n = a.len < blen ? a.len : blen;
    int c = memcmp(a.ptr, b, n);
    if (c) return c;
    return a.len < blen ? -1 : a.len > blen;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void dedup_fp_conf_init(dedup_fp_conf_t *fc, fingerprint_mode_t mode, strlist_t *only,
                        strlist_t *ignore)
{
    fc->mode = mode;
    fc->only = only;
    fc->ignore = ignore;
    fc->regroup = NULL;
    fc->regroup_ctx = NULL;
    /* Sorted once here so every alert is a single merge walk. strcmp
     * order is the bytewise order labels are sorted in. */
    if (only && only->n) qsort(only->items, only->n, sizeof(char *), name_cmp);
    if (ignore && ignore->n) qsort(ignore->items, ignore->n, sizeof(char *), name_cmp);
}

/* Hashes only the listed names (sorted), with "" for ones the alert lacks,
 * walking both sorted lists together. A name listed twice counts once. */
static void hash_only(fp_hasher_t *h, const strlist_t *only, const label_t *labels, uint32_t n)
{
    uint32_t li = 0;
    for (size_t j = 0; j < only->n; j++) {
        const char *name = only->items[j];
        if (j && strcmp(name, only->items[j - 1]) == 0) continue;
        while (li < n && str_cmp(labels[li].name, name) < 0) li++;
        str_t value = {"", 0};
        if (li < n && str_cmp(labels[li].name, name) == 0) value = labels[li].value;
        hasher_label(h, (str_t){name, (uint32_t)strlen(name)}, value);
    }
}

/* Hashes every label but the listed ones, walking both sorted lists. */
static void hash_without(fp_hasher_t *h, const strlist_t *ignore, const label_t *labels, uint32_t n)
{
    size_t j = 0;
    for (uint32_t i = 0; i < n; i++) {
        while (j < ignore->n && str_cmp(labels[i].name, ignore->items[j]) > 0) j++;
        if (j < ignore->n && str_cmp(labels[i].name, ignore->items[j]) == 0) continue;
        hasher_label(h, labels[i].name, labels[i].value);
    }
}

static uint64_t fingerprint_plain(const dedup_fp_conf_t *fc, const label_t *labels,
                                  uint32_t n_labels)
{
    fp_hasher_t h;
    h.mode = fc->mode;
    h.fnv = FNV_OFFSET;
    h.xstate = NULL;
    h.used = 0;

    if (fc->only && fc->only->n)
        hash_only(&h, fc->only, labels, n_labels);
    else if (fc->ignore && fc->ignore->n)
        hash_without(&h, fc->ignore, labels, n_labels);
    else
        for (uint32_t i = 0; i < n_labels; i++) hasher_label(&h, labels[i].name, labels[i].value);

    uint64_t v;
    if (h.mode == FP_ALERTMANAGER) {
        v = h.fnv;
    } else if (h.xstate) {
        v = XXH3_64bits_digest(h.xstate);
        XXH3_freeState(h.xstate);
    } else {
        v = XXH3_64bits(h.buf, h.used);
    }
    return v;
}

uint64_t dedup_fingerprint(const dedup_fp_conf_t *fc, const label_t *labels, uint32_t n_labels)
{
    uint64_t v = fingerprint_plain(fc, labels, n_labels);
    return fc->regroup ? fc->regroup(fc->regroup_ctx, labels, n_labels, v) : v;
}

uint64_t dedup_fingerprint_alert(const dedup_fp_conf_t *fc, const alert_t *a)
{
    uint64_t v = fingerprint_plain(fc, a->labels, a->n_labels);
    if (!fc->regroup) return v;
    uint64_t g = fc->regroup(fc->regroup_ctx, a->labels, a->n_labels, v);
    /* A folded member's resolve gets a fingerprint of its own, with no
     * incident open: it is suppressed as `resolved` and never closes the
     * group's incident, which other members may still be firing; the group
     * closes when none has fired for dedup.window. */
    if (g != v && a->status == ALERT_RESOLVED) g = XXH3_64bits_withSeed(&g, sizeof g, 0x7265736fu);
    return g;
}
