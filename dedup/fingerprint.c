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

static void hasher_label(fp_hasher_t *h, str_t name, str_t value)
{
    static const unsigned char sep = 0xFF;
    hasher_feed(h, name.ptr, name.len);
    hasher_feed(h, &sep, 1);
    hasher_feed(h, value.ptr, value.len);
    hasher_feed(h, &sep, 1);
}

static bool strlist_has(const strlist_t *l, str_t s)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strlen(l->items[i]) == s.len && memcmp(l->items[i], s.ptr, s.len) == 0) return true;
    }
    return false;
}

static int str_cmp(str_t a, const char *b)
{
    size_t blen = strlen(b);
    size_t n = a.len < blen ? a.len : blen;
    int c = memcmp(a.ptr, b, n);
    if (c) return c;
    return a.len < blen ? -1 : a.len > blen;
}

/* Hashes only the listed names in sorted order, with "" for missing ones.
 * The list is small (a handful of names), so a selection by repeated
 * minimum avoids sorting config-owned memory. */
static void hash_only(fp_hasher_t *h, const strlist_t *only, const label_t *labels, uint32_t n)
{
    const char *prev = NULL;
    for (size_t round = 0; round < only->n; round++) {
        const char *next = NULL;
        for (size_t i = 0; i < only->n; i++) {
            const char *c = only->items[i];
            if (prev && strcmp(c, prev) <= 0) continue;
            if (!next || strcmp(c, next) < 0) next = c;
        }
        if (!next) break;
        str_t name = {next, (uint32_t)strlen(next)};
        str_t value = {"", 0};
        for (uint32_t i = 0; i < n; i++) {
            if (str_cmp(labels[i].name, next) == 0) {
                value = labels[i].value;
                break;
            }
        }
        hasher_label(h, name, value);
        prev = next;
    }
}

uint64_t dedup_fingerprint(const dedup_fp_conf_t *fc, const label_t *labels, uint32_t n_labels)
{
    fp_hasher_t h;
    h.mode = fc->mode;
    h.fnv = FNV_OFFSET;
    h.xstate = NULL;
    h.used = 0;

    if (fc->only && fc->only->n) {
        hash_only(&h, fc->only, labels, n_labels);
    } else {
        bool filter = fc->ignore && fc->ignore->n;
        for (uint32_t i = 0; i < n_labels; i++) {
            if (filter && strlist_has(fc->ignore, labels[i].name)) continue;
            hasher_label(&h, labels[i].name, labels[i].value);
        }
    }

    if (h.mode == FP_ALERTMANAGER) return h.fnv;
    if (h.xstate) {
        uint64_t v = XXH3_64bits_digest(h.xstate);
        XXH3_freeState(h.xstate);
        return v;
    }
    return XXH3_64bits(h.buf, h.used);
}
