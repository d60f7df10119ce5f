/*
 * Inhibition state: which inhibit_rules sources are firing, keyed by (rule,
 * values of the equal labels). Shared by every worker without a lock
 * (open addressing over atomics; slots are never removed, an expired one
 * just stops muting). Saved with the snapshot; in shared-store mode its
 * changes travel through Redis (inhibit_sync.c is the wire side).
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "rules_int.h"

/* ---- inhibition state ------------------------------------------------- */

typedef struct {
    _Atomic uint64_t key; /* 0 = empty; never removed (expired entries stay) */
    /* Sources matching only the source side, and sources matching both
     * sides (Alertmanager: those cannot inhibit a target that also matches
     * both, so an alert never inhibits itself). Each: fires until `until`. */
    _Atomic int64_t until_src;
    _Atomic uint64_t fp_src;
    _Atomic int64_t until_both;
    _Atomic uint64_t fp_both;
    /* Shared mode only: event time of each half's last change (the newest
     * wins when instances' states are merged) and whether this instance
     * changed it since the last push (inhibit_sync.c). */
    _Atomic int64_t at_src, at_both;
    _Atomic bool dirty;
} inhibit_slot_t;

struct inhibit_state {
    inhibit_slot_t *slots;
    size_t mask;
    _Atomic uint64_t dropped;
    bool shared; /* set before any worker runs */
};

#define INHIBIT_PROBES 64

inhibit_state_t *inhibit_state_new(size_t slots)
{
    size_t n = 64;
    while (n < slots) n *= 2;
    inhibit_state_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->slots = calloc(n, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    s->mask = n - 1;
    return s;
}

void inhibit_state_destroy(inhibit_state_t *s)
{
    if (!s) return;
    free(s->slots);
    free(s);
}

uint64_t inhibit_state_dropped(const inhibit_state_t *s)
{
    return s ? atomic_load_explicit(&((inhibit_state_t *)s)->dropped, memory_order_relaxed) : 0;
}

static inhibit_slot_t *inhibit_slot(inhibit_state_t *s, uint64_t key, bool create)
{
    if (key == 0) key = 1;
    for (size_t i = 0; i < INHIBIT_PROBES; i++) {
        inhibit_slot_t *sl = &s->slots[(key + i) & s->mask];
        uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
        if (k == key) return sl;
        if (k == 0) {
            if (!create) return NULL;
            uint64_t expect = 0;
            if (atomic_compare_exchange_strong(&sl->key, &expect, key)) return sl;
            if (expect == key) return sl;
        }
    }
    if (create) atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
    return NULL;
}

static void atomic_max64(_Atomic int64_t *p, int64_t v)
{
    int64_t cur = atomic_load_explicit(p, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak(p, &cur, v)) {
    }
}

/* (rule, values of the equal labels); a missing label counts as "", like
 * Alertmanager. */
static uint64_t inhibit_key(const inhibit_rule_t *r, const label_t *labels, uint32_t n)
{
    uint64_t h = r->name_hash;
    for (size_t i = 0; i < r->n_equal; i++) {
        const char *v;
        size_t vl;
        labels_get(labels, n, r->equal[i], strlen(r->equal[i]), &v, &vl);
        h = XXH3_64bits_withSeed(v, vl, h ^ (i + 1) * 0x9E3779B97F4A7C15ull);
    }
    return h;
}

typedef struct {
    uint64_t key;
    int64_t until_src;
    uint64_t fp_src;
    int64_t until_both;
    uint64_t fp_both;
} inhibit_record_t;

static const char inhibit_magic[8] = {'Q', 'U', 'E', 'L', 'L', 'I', 'N', '1'};

/* Workers may add sources meanwhile (the periodic snapshot): the records
 * are gathered first, so the count written is the records that follow. */
static qerr_t write_inhibit(FILE *fp, void *ctx)
{
    inhibit_state_t *s = ctx;
    inhibit_record_t *recs = malloc((s->mask + 1) * sizeof *recs);
    if (!recs) return QERR_NOMEM;
    uint64_t n = 0;
    for (size_t i = 0; i <= s->mask; i++) {
        inhibit_slot_t *sl = &s->slots[i];
        inhibit_record_t r = {atomic_load(&sl->key), atomic_load(&sl->until_src),
                              atomic_load(&sl->fp_src), atomic_load(&sl->until_both),
                              atomic_load(&sl->fp_both)};
        if (r.key) recs[n++] = r;
    }
    bool ok = fwrite(inhibit_magic, 8, 1, fp) == 1 && fwrite(&n, 8, 1, fp) == 1 &&
              (n == 0 || fwrite(recs, sizeof *recs, n, fp) == n);
    free(recs);
    return ok ? QERR_OK : QERR_IO;
}

qerr_t inhibit_state_save(inhibit_state_t *s, const char *path, char *errbuf, size_t errlen)
{
    return file_replace(path, write_inhibit, s, errbuf, errlen);
}

qerr_t inhibit_state_load(inhibit_state_t *s, const char *path, uint64_t *loaded, char *errbuf,
                          size_t errlen)
{
    *loaded = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return QERR_OK; /* first start */
    char magic[8];
    uint64_t n = 0;
    qerr_t rc = QERR_OK;
    if (fread(magic, 8, 1, fp) != 1 || memcmp(magic, inhibit_magic, 8) != 0 ||
        fread(&n, 8, 1, fp) != 1) {
        snprintf(errbuf, errlen, "%s: not an inhibition state file", path);
        rc = QERR_INVALID;
    }
    for (uint64_t i = 0; rc == QERR_OK && i < n; i++) {
        inhibit_record_t r;
        if (fread(&r, sizeof r, 1, fp) != 1) {
            snprintf(errbuf, errlen, "%s: truncated", path);
            rc = QERR_INVALID;
            break;
        }
        inhibit_slot_t *sl = inhibit_slot(s, r.key, true);
        if (!sl) continue;
        atomic_store(&sl->until_src, r.until_src);
        atomic_store(&sl->fp_src, r.fp_src);
        atomic_store(&sl->until_both, r.until_both);
        atomic_store(&sl->fp_both, r.fp_both);
        (*loaded)++;
    }
    fclose(fp);
    return rc;
}

/* ---- sharing (the wire side is inhibit_sync.c) --------------------- */

void inhibit_state_share(inhibit_state_t *s) { s->shared = true; }

size_t inhibit_state_take_dirty(inhibit_state_t *s, size_t *cursor, inhibit_wire_t *out, size_t cap)
{
    size_t n = 0;
    for (; *cursor <= s->mask && n < cap; (*cursor)++) {
        inhibit_slot_t *sl = &s->slots[*cursor];
        if (!atomic_load_explicit(&sl->dirty, memory_order_acquire)) continue;
        /* Cleared before reading: a change made meanwhile marks it again. */
        atomic_store_explicit(&sl->dirty, false, memory_order_seq_cst);
        out[n++] = (inhibit_wire_t){atomic_load(&sl->key),       atomic_load(&sl->at_src),
                                    atomic_load(&sl->until_src), atomic_load(&sl->fp_src),
                                    atomic_load(&sl->at_both),   atomic_load(&sl->until_both),
                                    atomic_load(&sl->fp_both)};
    }
    return n;
}

void inhibit_state_merge(inhibit_state_t *s, const inhibit_wire_t *w)
{
    inhibit_slot_t *sl = inhibit_slot(s, w->key, true);
    if (!sl) return;
    /* Per half, the newer change wins; a worker changing the slot at the
     * same moment re-marks it dirty and its change is pushed next. */
    int64_t at = atomic_load(&sl->at_src);
    if (w->at_src > at && atomic_compare_exchange_strong(&sl->at_src, &at, w->at_src)) {
        atomic_store(&sl->fp_src, w->fp_src);
        atomic_store(&sl->until_src, w->until_src);
    }
    at = atomic_load(&sl->at_both);
    if (w->at_both > at && atomic_compare_exchange_strong(&sl->at_both, &at, w->at_both)) {
        atomic_store(&sl->fp_both, w->fp_both);
        atomic_store(&sl->until_both, w->until_both);
    }
}

/* ---- what the decider asks ------------------------------------------- */

void inhibit_state_source(inhibit_state_t *s, const inhibit_rule_t *r, const alert_t *a, bool both,
                          int64_t now_ms, int64_t window_ms)
{
    inhibit_slot_t *sl = inhibit_slot(s, inhibit_key(r, a->labels, a->n_labels), true);
    if (!sl) return;
    _Atomic int64_t *until = both ? &sl->until_both : &sl->until_src;
    _Atomic uint64_t *fp = both ? &sl->fp_both : &sl->fp_src;
    bool changed = true;
    if (a->status == ALERT_FIRING) {
        atomic_store_explicit(fp, a->fingerprint, memory_order_relaxed);
        atomic_max64(until, now_ms + window_ms);
    } else if (atomic_load_explicit(fp, memory_order_relaxed) == a->fingerprint) {
        /* The source that armed it resolved. Another source with the
         * same equal labels re-arms it on its next occurrence. */
        atomic_store_explicit(until, 0, memory_order_relaxed);
    } else {
        changed = false;
    }
    if (changed && s->shared) {
        atomic_max64(both ? &sl->at_both : &sl->at_src, now_ms);
        atomic_store_explicit(&sl->dirty, true, memory_order_release);
    }
}

bool inhibit_state_mutes(inhibit_state_t *s, const inhibit_rule_t *r, const alert_t *a, bool both,
                         int64_t now_ms)
{
    inhibit_slot_t *sl = inhibit_slot(s, inhibit_key(r, a->labels, a->n_labels), false);
    if (!sl) return false;
    bool inhibited = atomic_load_explicit(&sl->until_src, memory_order_relaxed) > now_ms;
    if (!both) inhibited |= atomic_load_explicit(&sl->until_both, memory_order_relaxed) > now_ms;
    return inhibited;
}
