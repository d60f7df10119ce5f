/*
 * The in-memory window table: one slot per open incident. The window rules
 * themselves are decision.c's (window_decide); this file keeps the slots.
 *
 * One table per worker thread, never shared. Entries live in one array that
 * grows by doubling up to the bound; a bucket array of 32-bit indices chains
 * them by fingerprint, and an intrusive doubly linked list keeps them in
 * order of last occurrence. That order gives both policies for free:
 *   - expiry: the least recently seen entry is at the tail, so a decision
 *     checks the tail and drops up to two entries expired against the
 *     watermark (see dedup.h) — the table does not fill with dead incidents
 *     and no periodic sweep thread is needed;
 *   - eviction: when the table is full the tail goes (documented as "least
 *     recently seen is evicted", counted).
 * Cost: 56 bytes per entry plus 4-8 bytes of bucket, ~64 bytes per tracked
 * fingerprint (dedup_table_stats reports the exact figure).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedup.h"

#define NIL UINT32_MAX

typedef struct {
    uint64_t fp;
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    int64_t last_forward_ms;
    uint64_t count;
    uint32_t hash_next; /* bucket chain, or free list when unused */
    uint32_t lru_prev;  /* towards more recently seen */
    uint32_t lru_next;  /* towards less recently seen */
    uint32_t pad;
} entry_t;

struct dedup_table {
    entry_t *entries;
    uint32_t entries_cap;  /* allocated */
    uint32_t entries_used; /* high-water mark in the array */
    uint32_t free_head;
    uint32_t *buckets;
    uint32_t bucket_mask;
    uint32_t max_entries;
    uint32_t count;
    uint32_t lru_head, lru_tail;
    uint64_t evictions, expirations;
    int64_t keep_ms; /* dedup_table_set_keep */
};

static uint32_t bucket_of(const dedup_table_t *t, uint64_t fp)
{
    /* fp is already a good hash; fold so low bits see the high ones too. */
    return (uint32_t)((fp ^ (fp >> 29)) & t->bucket_mask);
}

dedup_table_t *dedup_table_new(size_t max_entries)
{
    if (max_entries == 0 || max_entries >= NIL) return NULL;
    dedup_table_t *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->max_entries = (uint32_t)max_entries;
    t->entries_cap = max_entries < 1024 ? (uint32_t)max_entries : 1024;
    t->entries = malloc(sizeof(entry_t) * t->entries_cap);
    uint32_t nb = 1024;
    t->buckets = malloc(sizeof(uint32_t) * nb);
    if (!t->entries || !t->buckets) {
        dedup_table_destroy(t);
        return NULL;
    }
    memset(t->buckets, 0xff, sizeof(uint32_t) * nb);
    t->bucket_mask = nb - 1;
    t->free_head = NIL;
    t->lru_head = t->lru_tail = NIL;
    return t;
}

void dedup_table_destroy(dedup_table_t *t)
{
    if (!t) return;
    free(t->entries);
    free(t->buckets);
    free(t);
}

void dedup_table_clear(dedup_table_t *t)
{
    memset(t->buckets, 0xff, sizeof(uint32_t) * ((size_t)t->bucket_mask + 1));
    t->entries_used = 0;
    t->free_head = NIL;
    t->count = 0;
    t->lru_head = t->lru_tail = NIL;
}

static uint32_t lookup(const dedup_table_t *t, uint64_t fp)
{
    uint32_t i = t->buckets[bucket_of(t, fp)];
    while (i != NIL && t->entries[i].fp != fp) i = t->entries[i].hash_next;
    return i;
}

void dedup_table_prefetch(const dedup_table_t *t, uint64_t fp, bool deep)
{
    const uint32_t *b = &t->buckets[bucket_of(t, fp)];
    if (!deep) {
        __builtin_prefetch(b, 0, 3);
        return;
    }
    uint32_t i = *b;
    if (i != NIL) __builtin_prefetch(&t->entries[i], 1, 3);
}

static void lru_unlink(dedup_table_t *t, uint32_t i)
{
    entry_t *e = &t->entries[i];
    if (e->lru_prev != NIL)
        t->entries[e->lru_prev].lru_next = e->lru_next;
    else
        t->lru_head = e->lru_next;
    if (e->lru_next != NIL)
        t->entries[e->lru_next].lru_prev = e->lru_prev;
    else
        t->lru_tail = e->lru_prev;
}

static void lru_push_front(dedup_table_t *t, uint32_t i)
{
    entry_t *e = &t->entries[i];
    e->lru_prev = NIL;
    e->lru_next = t->lru_head;
    if (t->lru_head != NIL) t->entries[t->lru_head].lru_prev = i;
    t->lru_head = i;
    if (t->lru_tail == NIL) t->lru_tail = i;
}

static void remove_entry(dedup_table_t *t, uint32_t i)
{
    uint32_t *link = &t->buckets[bucket_of(t, t->entries[i].fp)];
    while (*link != i) link = &t->entries[*link].hash_next;
    *link = t->entries[i].hash_next;
    lru_unlink(t, i);
    t->entries[i].hash_next = t->free_head;
    t->free_head = i;
    t->count--;
}

static void rehash(dedup_table_t *t, uint32_t nb)
{
    uint32_t *nbk = malloc(sizeof(uint32_t) * nb);
    if (!nbk) return; /* keep the old, longer chains: slower, still correct */
    memset(nbk, 0xff, sizeof(uint32_t) * nb);
    free(t->buckets);
    t->buckets = nbk;
    t->bucket_mask = nb - 1;
    for (uint32_t i = t->lru_head; i != NIL; i = t->entries[i].lru_next) {
        uint32_t b = bucket_of(t, t->entries[i].fp);
        t->entries[i].hash_next = t->buckets[b];
        t->buckets[b] = i;
    }
}

static int64_t keep_ms(const dedup_table_t *t, const dedup_params_t *p)
{
    return t->keep_ms > p->window_ms ? t->keep_ms : p->window_ms;
}

void dedup_table_set_keep(dedup_table_t *t, int64_t keep_ms) { t->keep_ms = keep_ms; }

/* Returns a free slot, evicting the least recently seen entry when full.
 * NIL only on OOM while growing. */
static uint32_t alloc_entry(dedup_table_t *t, const dedup_params_t *p, int64_t watermark_ms)
{
    if (t->count >= t->max_entries) {
        uint32_t victim = t->lru_tail;
        if (watermark_ms - t->entries[victim].last_seen_ms > keep_ms(t, p))
            t->expirations++;
        else
            t->evictions++;
        remove_entry(t, victim);
    }
    if (t->free_head != NIL) {
        uint32_t i = t->free_head;
        t->free_head = t->entries[i].hash_next;
        return i;
    }
    if (t->entries_used == t->entries_cap) {
        uint64_t ncap = (uint64_t)t->entries_cap * 2;
        if (ncap > t->max_entries) ncap = t->max_entries;
        entry_t *ne = realloc(t->entries, sizeof(entry_t) * ncap);
        if (!ne) return NIL;
        t->entries = ne;
        t->entries_cap = (uint32_t)ncap;
    }
    return t->entries_used++;
}

static uint32_t insert(dedup_table_t *t, const dedup_params_t *p, uint64_t fp, int64_t watermark_ms)
{
    uint32_t i = alloc_entry(t, p, watermark_ms);
    if (i == NIL) return NIL;
    if (t->count + 1 > t->bucket_mask + 1 && t->bucket_mask < (1u << 30))
        rehash(t, (t->bucket_mask + 1) * 2);
    entry_t *e = &t->entries[i];
    memset(e, 0, sizeof(*e));
    e->fp = fp;
    uint32_t b = bucket_of(t, fp);
    e->hash_next = t->buckets[b];
    t->buckets[b] = i;
    lru_push_front(t, i);
    t->count++;
    return i;
}

/* Drops up to `budget` entries expired against the watermark from the LRU
 * tail. */
static void expire_tail(dedup_table_t *t, const dedup_params_t *p, int64_t watermark_ms, int budget)
{
    if (watermark_ms <= 0) return;
    while (budget-- > 0 && t->lru_tail != NIL &&
           watermark_ms - t->entries[t->lru_tail].last_seen_ms > keep_ms(t, p)) {
        remove_entry(t, t->lru_tail);
        t->expirations++;
    }
}

decision_kind_t dedup_decide(dedup_table_t *t, const dedup_params_t *p, uint64_t fingerprint,
                             alert_status_t status, int64_t now_ms, int64_t watermark_ms,
                             incident_t *out)
{
    expire_tail(t, p, watermark_ms, 2);
    uint32_t i = lookup(t, fingerprint);
    /* A slot is an open incident; the window rules (decision.c) run over a
     * copy of it and the table follows what they did to it. */
    window_state_t w = {0};
    if (i != NIL) {
        const entry_t *e = &t->entries[i];
        w = (window_state_t){true,
                             window_incident_id(fingerprint, e->first_seen_ms),
                             e->first_seen_ms,
                             e->last_seen_ms,
                             e->last_forward_ms,
                             e->count};
    }
    decision_kind_t kind = window_decide(&w, p, fingerprint, status, now_ms, out);
    if (!w.open) {
        if (i != NIL) {
            /* resolved, or expired before this occurrence */
            if (status != ALERT_RESOLVED || kind == DECISION_SUPPRESS_RESOLVED_NO_INCIDENT)
                t->expirations++;
            remove_entry(t, i);
        }
        return kind;
    }
    if (i == NIL || kind == DECISION_FORWARD_NEW) {
        if (i != NIL) { /* expired, then opened anew: a fresh slot at the front */
            remove_entry(t, i);
            t->expirations++;
        }
        i = insert(t, p, fingerprint, watermark_ms);
        if (i == NIL) return kind; /* out of memory: forwarded untracked, not lost */
    } else {
        lru_unlink(t, i);
        lru_push_front(t, i);
    }
    entry_t *e = &t->entries[i];
    e->first_seen_ms = w.first_seen_ms;
    e->last_seen_ms = w.last_seen_ms;
    e->last_forward_ms = w.last_forward_ms;
    e->count = w.count;
    return kind;
}

void dedup_table_stats(const dedup_table_t *t, dedup_table_stats_t *out)
{
    out->tracked = t->count;
    out->evictions = t->evictions;
    out->expirations = t->expirations;
    out->slots = t->entries_cap;
    out->bytes = sizeof(*t) + sizeof(entry_t) * (size_t)t->entries_cap +
                 sizeof(uint32_t) * ((size_t)t->bucket_mask + 1);
}

void dedup_table_foreach(const dedup_table_t *t, void (*fn)(const dedup_entry_t *e, void *arg),
                         void *arg)
{
    /* Oldest first, so a restore rebuilds the same LRU order. */
    for (uint32_t i = t->lru_tail; i != NIL; i = t->entries[i].lru_prev) {
        const entry_t *e = &t->entries[i];
        dedup_entry_t out = {e->fp, e->first_seen_ms, e->last_seen_ms, e->last_forward_ms,
                             e->count};
        fn(&out, arg);
    }
}

qerr_t dedup_table_restore(dedup_table_t *t, const dedup_entry_t *in)
{
    static const dedup_params_t never_expired = {INT64_MAX, INT64_MAX};
    uint32_t i = lookup(t, in->fingerprint);
    if (i == NIL) i = insert(t, &never_expired, in->fingerprint, 0);
    if (i == NIL) return QERR_NOMEM;
    entry_t *e = &t->entries[i];
    e->first_seen_ms = in->first_seen_ms;
    e->last_seen_ms = in->last_seen_ms;
    e->last_forward_ms = in->last_forward_ms;
    e->count = in->count;
    return QERR_OK;
}

const char *decision_str(decision_kind_t k)
{
    switch (k) {
    case DECISION_FORWARD_NEW: return "new";
    case DECISION_FORWARD_REPEAT: return "repeat";
    case DECISION_FORWARD_RESOLVED: return "resolved";
    case DECISION_SUPPRESS_DUPLICATE: return "duplicate";
    case DECISION_SUPPRESS_RESOLVED_NO_INCIDENT: return "resolved_no_incident";
    case DECISION_SUPPRESS_EXCLUDED: return "excluded";
    case DECISION_SUPPRESS_FLAPPING: return "flapping";
    case DECISION_SUPPRESS_TRANSIENT: return "transient";
    case DECISION_SUPPRESS_INHIBITED: return "inhibited";
    case DECISION_SUPPRESS_SEVERITY: return "severity";
    case DECISION__COUNT: break;
    }
    return "unknown";
}

/* ---- snapshot file ----------------------------------------------------
 * Layout: 8-byte magic "QUELLSN1", u64 entry count, then entries as
 * dedup_entry_t in host byte order (the file is for the same host's next
 * start, not an exchange format). */

static void write_entry(const dedup_entry_t *e, void *arg)
{
    FILE *f = arg;
    fwrite(e, sizeof(*e), 1, f);
}

typedef struct {
    dedup_table_t **tables;
    size_t n;
} snapshot_tables_t;

static qerr_t write_snapshot(FILE *f, void *ctx)
{
    const snapshot_tables_t *st = ctx;
    uint64_t total = 0;
    for (size_t i = 0; i < st->n; i++) total += st->tables[i]->count;
    fwrite(DEDUP_SNAPSHOT_MAGIC, 8, 1, f);
    fwrite(&total, sizeof(total), 1, f);
    for (size_t i = 0; i < st->n; i++) dedup_table_foreach(st->tables[i], write_entry, f);
    return QERR_OK;
}

qerr_t dedup_snapshot_save(const char *path, dedup_table_t **tables, size_t n, char *errbuf,
                           size_t errlen)
{
    snapshot_tables_t st = {tables, n};
    return file_replace(path, write_snapshot, &st, errbuf, errlen);
}

qerr_t dedup_snapshot_load(const char *path, dedup_table_t **tables, size_t n, uint64_t *loaded,
                           char *errbuf, size_t errlen)
{
    *loaded = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return QERR_OK;
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return QERR_IO;
    }
    qerr_t err = QERR_OK;
    char magic[8];
    uint64_t total;
    if (fread(magic, sizeof(magic), 1, f) != 1 || memcmp(magic, DEDUP_SNAPSHOT_MAGIC, 8) != 0 ||
        fread(&total, sizeof(total), 1, f) != 1) {
        snprintf(errbuf, errlen, "%s: not a quell snapshot", path);
        err = QERR_INVALID;
        goto out;
    }
    for (uint64_t i = 0; i < total; i++) {
        dedup_entry_t e;
        if (fread(&e, sizeof(e), 1, f) != 1) {
            snprintf(errbuf, errlen, "%s: truncated after %llu of %llu entries", path,
                     (unsigned long long)i, (unsigned long long)total);
            err = QERR_INVALID;
            goto out;
        }
        err = dedup_table_restore(tables[dedup_shard(e.fingerprint, n)], &e);
        if (err) {
            snprintf(errbuf, errlen, "%s: %s", path, qerr_str(err));
            goto out;
        }
        (*loaded)++;
    }
out:
    fclose(f);
    return err;
}
