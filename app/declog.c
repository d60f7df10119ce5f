/*
 * The decision log (declog.h).
 *
 * Rings: one per worker, written only by its worker thread, read by HTTP
 * threads. Each slot is a seqlock (odd while written): a reader copies the
 * record and keeps it only when the sequence was even and unchanged, so
 * the writer never waits and the reader never sees half a record. A
 * fingerprint whose latest record in the ring holds the same decision has
 * that record updated in place (a run: `times`), so a ring holds the
 * decisions of many more alerts, and explain shows a fingerprint's
 * changes of decision rather than its latest duplicates. The
 * worker pays one copy of the decision (and, for a new record, of the
 * labels) per decision; `quell bench` measured it (docs/performance.md).
 *
 * Topic: the record is produced with its own producer (librdkafka copies
 * the payload; a full queue drops and counts, the hot path never blocks);
 * a thread serves the producer's callbacks.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../dedup/dedup.h"
#include "declog.h"

typedef struct {
    _Atomic uint64_t seq;
    declog_rec_t r;
} slot_t;

/* Open alerts whose records left the ring (see kept_note): set-associative
 * by fingerprint, KEPT_WAYS records a set, written by the worker thread
 * (seqlock per slot, as the ring's), scanned whole by readers. */
#define KEPT_WAYS 8

typedef struct {
    _Atomic uint64_t seq;
    bool live;
    declog_rec_t r;
} kslot_t;

/* What the writer looks at to place a kept record: a set's fingerprints
 * in one cache line (kept_fps; 0: free way), its times and run beside
 * (kkey_t), apart from the 9 KiB of its records. A record that leaves the
 * ring in the same run as the one kept for its fingerprint (the same
 * decision: an alert that keeps firing makes a new ring record at each
 * decision once the ring turned over) only moves the times here, which
 * readers lay over the kept copy: a lookup in one cache line and a store
 * to another, not a 1.1 KiB copy (quell-declog-bench: ~300 ns an alert
 * that way). */
typedef struct {
    _Atomic int64_t decided_ms, event_ms, ends_ms;
    const void *rule; /* the run's decision, for the writer */
    /* The ring's head from which no record of this fingerprint newer than
     * the kept one can be in the ring (kept_continue). */
    uint64_t ring_until;
    uint8_t kind;
    bool silenced;
} kkey_t;

typedef struct {
    slot_t *slots;
    kslot_t *kept;              /* NULL: none */
    _Atomic uint64_t *kept_fps; /* by the same index; written by the worker */
    kkey_t *kept_keys;          /* by the same index */
    size_t kept_sets;           /* a power of two */
    /* Where a fingerprint's latest record is: head position + 1 (0: none),
     * by a hash of the fingerprint, direct-mapped. When that record holds
     * the same decision it is updated in place (see the top), which skips
     * re-packing the labels, the bulk of a record's cost. A collision only
     * costs a new record: readers take the newest record of a
     * fingerprint. */
    uint64_t *where;
    size_t where_mask;
    _Atomic uint64_t head; /* records written so far */
    declog_rec_t scratch;  /* the record being built (no ring) */
    mbuf_t json;           /* the topic's payload */
} wring_t;

struct declog {
    size_t n_workers, recent;
    size_t kept_per_worker; /* KEPT_WAYS * kept_sets; 0 = none */
    int64_t open_ms;        /* how long a firing record stays open: dedup.window */
    wring_t *rings;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    pthread_t poller;
    bool polling;
    _Atomic bool stop;
    _Atomic uint64_t produced, dropped;
    _Atomic uint64_t kept_lost; /* open records pushed out of a full kept set */
};

static bool set(rd_kafka_conf_t *kc, const char *k, const char *v, char *errbuf, size_t errlen)
{
    return rd_kafka_conf_set(kc, k, v, errbuf, errlen) == RD_KAFKA_CONF_OK;
}

/* The kept records: 18 MiB with the defaults, where a decision that
 * continues a kept run lands on a page of its own. In 2 MiB pages where
 * the kernel allows them (madvise mode), so those are not TLB misses too;
 * anonymous memory, so the pages never touched cost nothing, as calloc's. */
static void *kept_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: refused, small pages */
    return p;
}

static void *poll_main(void *arg)
{
    declog_t *d = arg;
    while (!atomic_load(&d->stop)) rd_kafka_poll(d->rk, 100);
    return NULL;
}

declog_t *declog_new(const declog_opts_t *o, char *errbuf, size_t errlen)
{
    declog_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->n_workers = o->workers;
    d->recent = o->recent;
    if (d->recent) {
        d->rings = calloc(o->workers, sizeof *d->rings);
        if (!d->rings) goto oom;
        size_t where = 4;
        while (where < 4 * d->recent) where *= 2;
        for (size_t i = 0; i < o->workers; i++) {
            if (!(d->rings[i].slots = calloc(d->recent, sizeof(slot_t)))) goto oom;
            if (!(d->rings[i].where = calloc(where, sizeof(uint64_t)))) goto oom;
            d->rings[i].where_mask = where - 1;
        }
        /* The kept records, split over the workers (fingerprints are
         * sharded), in sets of KEPT_WAYS; calloc'd, so the pages of sets
         * never used are never touched. */
        size_t sets = 1;
        while (o->open && sets * KEPT_WAYS * o->workers < o->open) sets *= 2;
        d->open_ms = o->open_ms;
        for (size_t i = 0; o->open && i < o->workers; i++) {
            size_t fps_bytes = sets * KEPT_WAYS * sizeof(uint64_t); /* 64 per set */
            d->rings[i].kept_sets = sets; /* before: declog_destroy unmaps by it */
            if (!(d->rings[i].kept = kept_alloc(sets * KEPT_WAYS * sizeof(kslot_t))) ||
                !(d->rings[i].kept_keys = calloc(sets * KEPT_WAYS, sizeof(kkey_t))) ||
                !(d->rings[i].kept_fps = aligned_alloc(64, fps_bytes)))
                goto oom;
            memset((void *)d->rings[i].kept_fps, 0, fps_bytes);
            d->kept_per_worker = sets * KEPT_WAYS;
        }
    } else if (o->topic && *o->topic) {
        d->rings = calloc(o->workers, sizeof *d->rings); /* scratch records only */
        if (!d->rings) goto oom;
    }
    if (o->topic && *o->topic) {
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        bool ok = set(kc, "bootstrap.servers", o->brokers, errbuf, errlen) &&
                  set(kc, "linger.ms", "20", errbuf, errlen) &&
                  set(kc, "compression.codec", "lz4", errbuf, errlen) &&
                  set(kc, "queue.buffering.max.messages", "1000000", errbuf, errlen);
        for (size_t i = 0; ok && o->conf && i < o->conf->kafka.n_properties; i++) {
            const conf_kv_t *p = &o->conf->kafka.properties[i];
            if (!strcmp(p->key, "group.id") || !strncmp(p->key, "enable.auto", 11) ||
                !strncmp(p->key, "auto.", 5) || !strncmp(p->key, "fetch.", 6) ||
                !strncmp(p->key, "session.", 8) || !strcmp(p->key, "partition.assignment.strategy"))
                continue;
            ok = set(kc, p->key, p->value, errbuf, errlen);
        }
        if (!ok) {
            rd_kafka_conf_destroy(kc);
            goto fail;
        }
        rd_kafka_conf_set_log_cb(kc, log_kafka_cb);
        char why[256];
        d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, why, sizeof why);
        if (!d->rk) {
            rd_kafka_conf_destroy(kc);
            snprintf(errbuf, errlen, "decisions.topic: %s", why);
            goto fail;
        }
        d->rkt = rd_kafka_topic_new(d->rk, o->topic, NULL);
        if (!d->rkt || pthread_create(&d->poller, NULL, poll_main, d) != 0) goto oom;
        d->polling = true;
    }
    return d;
oom:
    snprintf(errbuf, errlen, "out of memory allocating the decision log");
fail:
    declog_destroy(d);
    return NULL;
}

void declog_destroy(declog_t *d)
{
    if (!d) return;
    if (d->polling) {
        atomic_store(&d->stop, true);
        pthread_join(d->poller, NULL);
    }
    if (d->rk) {
        rd_kafka_flush(d->rk, 5000);
        if (d->rkt) rd_kafka_topic_destroy(d->rkt);
        rd_kafka_destroy(d->rk);
    }
    for (size_t i = 0; d->rings && i < d->n_workers; i++) {
        free(d->rings[i].slots);
        free(d->rings[i].where);
        if (d->rings[i].kept)
            munmap(d->rings[i].kept, d->rings[i].kept_sets * KEPT_WAYS * sizeof(kslot_t));
        free(d->rings[i].kept_keys);
        free((void *)d->rings[i].kept_fps);
        mbuf_free(&d->rings[i].json);
    }
    free(d->rings);
    free(d);
}

bool declog_on(const declog_t *d) { return d && (d->recent || d->rk); }

size_t declog_capacity(const declog_t *d)
{
    return d ? (d->recent + d->kept_per_worker) * d->n_workers : 0;
}

/* Whether a record says its alert is open, its time aside: a firing alert's
 * decision, not a resolve (GET /api/v2/alerts lists these). */
static bool rec_firing(const declog_rec_t *r)
{
    decision_kind_t k = (decision_kind_t)r->kind;
    return r->firing && k != DECISION_FORWARD_RESOLVED &&
           k != DECISION_SUPPRESS_RESOLVED_NO_INCIDENT;
}

static void kslot_write(kslot_t *k, const declog_rec_t *r)
{
    uint64_t seq = atomic_load_explicit(&k->seq, memory_order_relaxed);
    atomic_store_explicit(&k->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    k->live = r != NULL;
    if (r) memcpy(&k->r, r, sizeof *r);
    atomic_store_explicit(&k->seq, seq + 2, memory_order_release);
}

/* Worker thread: the record the ring is about to overwrite. The ring keeps
 * the last `recent` records, so on a busy instance an alert that keeps
 * firing without a change of decision (its run updated in place) or that
 * fired once, long ago in records, would drop out of GET /api/v2/alerts
 * while its incident is open. An open one is kept here instead, one per
 * fingerprint (records leave the ring oldest first, so the one kept is
 * the latest that left); a resolve leaving the ring removes it, and
 * readers take a fingerprint's ring records before its kept one. A full
 * set gives up its oldest record, counted (quell_decision_log_kept_lost). */
static void kkey_set(kkey_t *k, const declog_rec_t *r)
{
    atomic_store_explicit(&k->decided_ms, r->decided_ms, memory_order_relaxed);
    atomic_store_explicit(&k->event_ms, r->event_ms, memory_order_relaxed);
    atomic_store_explicit(&k->ends_ms, r->ends_ms, memory_order_relaxed);
    k->rule = r->rule;
    k->kind = r->kind;
    k->silenced = r->silenced;
}

/* The first way of fp's set in a ring's kept records. */
static size_t kept_set(const wring_t *ring, uint64_t fp)
{
    return ((fp ^ (fp >> 29)) & (ring->kept_sets - 1)) * KEPT_WAYS;
}

static void kept_note(declog_t *d, wring_t *ring, const declog_rec_t *r, uint64_t h)
{
    if (!ring->kept || !r->fingerprint) return;
    uint64_t fp = r->fingerprint;
    size_t at = kept_set(ring, fp);
    _Atomic uint64_t *fps = &ring->kept_fps[at];
    kkey_t *keys = &ring->kept_keys[at];
    bool open = rec_firing(r) && r->decided_ms + d->open_ms > clock_wall_coarse_ms();
    for (int i = 0; i < KEPT_WAYS; i++) {
        if (atomic_load_explicit(&fps[i], memory_order_relaxed) != fp) continue;
        kkey_t *k = &keys[i];
        /* Written at head h, a newer record of it may be at h - 1 (none is
         * known here): it has left the ring once the head is past
         * h - 1 + recent. */
        k->ring_until = h + d->recent;
        if (open && k->kind == r->kind && k->silenced == r->silenced && k->rule == r->rule) {
            kkey_set(k, r); /* the same run: its times only */
            return;
        }
        if (open) {
            kslot_write(&ring->kept[at + i], r);
            kkey_set(k, r);
        } else {
            atomic_store_explicit(&fps[i], 0, memory_order_relaxed);
            kslot_write(&ring->kept[at + i], NULL);
        }
        return;
    }
    if (!open) return;
    int way = -1, oldest = 0;
    for (int i = 0; i < KEPT_WAYS && way < 0; i++) {
        int64_t decided = atomic_load_explicit(&keys[i].decided_ms, memory_order_relaxed);
        if (!atomic_load_explicit(&fps[i], memory_order_relaxed) ||
            decided + d->open_ms <= r->decided_ms)
            way = i;
        else if (decided < atomic_load_explicit(&keys[oldest].decided_ms, memory_order_relaxed))
            oldest = i;
    }
    if (way < 0) {
        way = oldest;
        atomic_fetch_add_explicit(&d->kept_lost, 1, memory_order_relaxed);
    }
    /* The record, then its key and fingerprint: a reader that sees the
     * new fingerprint with the old record skips it (they differ). */
    kslot_write(&ring->kept[at + way], r);
    kkey_set(&keys[way], r);
    keys[way].ring_until = h + d->recent; /* see above */
    atomic_store_explicit(&fps[way], fp, memory_order_relaxed);
}

/* Packs label pairs as "name\0value\0"; whole pairs only. */
static uint16_t pack(char *out, size_t cap, const label_t *l, uint32_t n, bool *cut)
{
    size_t len = 0;
    uint16_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t need = (size_t)l[i].name.len + l[i].value.len + 2;
        if (len + need > cap) {
            *cut = true;
            break;
        }
        memcpy(out + len, l[i].name.ptr, l[i].name.len);
        len += l[i].name.len;
        out[len++] = '\0';
        memcpy(out + len, l[i].value.ptr, l[i].value.len);
        len += l[i].value.len;
        out[len++] = '\0';
        k++;
    }
    return k;
}

uint32_t declog_rec_labels(const declog_rec_t *r, bool annotations, label_t *out, uint32_t cap)
{
    const char *p = annotations ? r->annotations : r->labels;
    uint32_t n = annotations ? r->n_annotations : r->n_labels;
    if (n > cap) n = cap;
    for (uint32_t i = 0; i < n; i++) {
        size_t nl = strlen(p);
        out[i].name = (str_t){p, (uint32_t)nl};
        p += nl + 1;
        size_t vl = strlen(p);
        out[i].value = (str_t){p, (uint32_t)vl};
        p += vl + 1;
    }
    return n;
}

void declog_rec_labels_json(const declog_rec_t *r, bool annotations, mbuf_t *b)
{
    label_t l[512];
    uint32_t n = declog_rec_labels(r, annotations, l, 512);
    mbuf_append(b, "{", 1);
    for (uint32_t i = 0; i < n; i++) {
        mbuf_append(b, i ? ",\"" : "\"", i ? 2 : 1);
        mbuf_json_str(b, l[i].name.ptr, l[i].name.len);
        mbuf_append(b, "\":\"", 3);
        mbuf_json_str(b, l[i].value.ptr, l[i].value.len);
        mbuf_append(b, "\"", 1);
    }
    mbuf_append(b, "}", 1);
}

/* Everything but the labels, which a fingerprint keeps, and the run. */
static void fill_decision(declog_rec_t *r, const alert_t *a, const incident_t *inc, bool fresh)
{
    r->fingerprint = a->fingerprint;
    r->incident_id = inc->incident_id;
    r->event_ms = a->event_time_ms;
    r->decided_ms = clock_wall_coarse_ms(); /* per decision: a clock read was 5% of a worker */
    r->starts_ms = a->starts_at_ms;
    r->ends_ms = a->ends_at_ms;
    r->first_seen_ms = inc->first_seen_ms;
    r->kind = (uint8_t)inc->kind;
    r->firing = a->status == ALERT_FIRING;
    r->silenced = inc->silenced;
    /* A run's annotations and generatorURL are nearly always the same:
     * when the alert's digest says so (known: from a ring record), they
     * are neither read (their bytes are in another core's ring record)
     * nor rewritten, and a decision continuing a run touches only the
     * record's first lines. */
    if (!fresh && a->details_hash && a->details_hash == r->details_hash) return;
    r->details_hash = a->details_hash;
    bool cut = false;
    r->n_annotations =
        pack(r->annotations, sizeof r->annotations, a->annotations, a->n_annotations, &cut);
    size_t gl = a->generator_url.len < sizeof r->generator_url - 1 ? a->generator_url.len
                                                                   : sizeof r->generator_url - 1;
    /* A run's reason is the same (same kind, rule and silence), and its
     * generatorURL nearly always: neither is rewritten then. */
    if (fresh || r->generator_url[gl] != '\0' ||
        (gl && memcmp(r->generator_url, a->generator_url.ptr, gl))) {
        if (gl) memcpy(r->generator_url, a->generator_url.ptr, gl);
        r->generator_url[gl] = '\0';
    }
    if (!fresh) return;
    const char *reason = decision_reason(inc, r->reason, sizeof r->reason);
    if (reason != r->reason) { /* a constant word: no printf per decision */
        size_t n = strnlen(reason, sizeof r->reason - 1);
        memcpy(r->reason, reason, n);
        r->reason[n] = '\0';
    }
}

static void fill(declog_rec_t *r, const alert_t *a, const incident_t *inc)
{
    fill_decision(r, a, inc, true);
    r->times = 1;
    r->rule = inc->rule;
    r->labels_cut = false;
    r->n_labels = pack(r->labels, sizeof r->labels, a->labels, a->n_labels, &r->labels_cut);
}

/* Worker thread, a decision the ring cannot add to a run of its own: when
 * the fingerprint's latest record is the kept one (no newer one can be in
 * the ring: ring_until) with the same decision, the run goes on there, in
 * place, as the ring continues its runs: no new ring record (the labels'
 * copy, the bulk of a record's cost) and no eviction. Returns the record
 * then; else NULL, with *way the fingerprint's kept key if it has one (a
 * new ring record will be newer than it). */
static declog_rec_t *kept_continue(wring_t *ring, const alert_t *a, const incident_t *inc,
                                   uint64_t h, kkey_t **way)
{
    *way = NULL;
    if (!ring->kept) return NULL;
    uint64_t fp = a->fingerprint;
    size_t at = kept_set(ring, fp);
    for (int i = 0; i < KEPT_WAYS; i++) {
        if (atomic_load_explicit(&ring->kept_fps[at + i], memory_order_relaxed) != fp) continue;
        kkey_t *key = *way = &ring->kept_keys[at + i];
        if (h < key->ring_until || a->status != ALERT_FIRING || key->kind != (uint8_t)inc->kind ||
            key->silenced != inc->silenced || key->rule != inc->rule)
            return NULL;
        kslot_t *k = &ring->kept[at + i];
        uint64_t seq = atomic_load_explicit(&k->seq, memory_order_relaxed);
        atomic_store_explicit(&k->seq, seq + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        fill_decision(&k->r, a, inc, false);
        k->r.times++;
        atomic_store_explicit(&k->seq, seq + 2, memory_order_release);
        kkey_set(key, &k->r);
        return &k->r;
    }
    return NULL;
}

/* The lines of a record's sequence and header, which a decision compares
 * before it continues the record's run. (Its annotations and generatorURL
 * too were more prefetches than a core's fill buffers take.) */
static void prefetch_run(const void *slot, size_t end)
{
    uintptr_t p = (uintptr_t)slot & ~(uintptr_t)(CACHELINE - 1);
    for (; p < (uintptr_t)slot + end; p += CACHELINE) __builtin_prefetch((const void *)p, 1, 3);
}

void declog_prefetch(const declog_t *d, size_t w, uint64_t fp, bool deep)
{
    if (!d || !d->recent) return;
    const wring_t *ring = &d->rings[w];
    const uint64_t *where = &ring->where[(fp ^ (fp >> 31)) & ring->where_mask];
    size_t at = ring->kept ? kept_set(ring, fp) : 0;
    if (!deep) {
        __builtin_prefetch(where, 0, 3);
        if (ring->kept) __builtin_prefetch((const void *)&ring->kept_fps[at], 0, 3);
        return;
    }
    uint64_t h = atomic_load_explicit(&((wring_t *)ring)->head, memory_order_relaxed);
    if (*where && h - (*where - 1) < d->recent)
        prefetch_run(&ring->slots[(*where - 1) % d->recent], offsetof(slot_t, r.annotations));
    for (int i = 0; ring->kept && i < KEPT_WAYS; i++) {
        if (atomic_load_explicit(&ring->kept_fps[at + i], memory_order_relaxed) != fp) continue;
        __builtin_prefetch(&ring->kept_keys[at + i], 1, 3);
        prefetch_run(&ring->kept[at + i], offsetof(kslot_t, r.annotations));
        break;
    }
}

void declog_note(declog_t *d, size_t w, const alert_t *a, const incident_t *inc)
{
    if (!d || !d->rings) return;
    wring_t *ring = &d->rings[w];
    declog_rec_t *r = &ring->scratch;
    if (d->recent) {
        /* Written in place: the slot's sequence is odd meanwhile, so a
         * reader copying it drops the copy. */
        uint64_t h = atomic_load_explicit(&ring->head, memory_order_relaxed);
        uint64_t fp = a->fingerprint;
        uint64_t *where = &ring->where[(fp ^ (fp >> 31)) & ring->where_mask];
        uint64_t at = *where ? *where - 1 : h;
        const declog_rec_t *last = &ring->slots[at % d->recent].r;
        bool update = *where && h - at < d->recent && last->fingerprint == fp &&
                      last->kind == (uint8_t)inc->kind && last->silenced == inc->silenced &&
                      last->rule == inc->rule;
        kkey_t *kept_way = NULL;
        declog_rec_t *kept = update ? NULL : kept_continue(ring, a, inc, h, &kept_way);
        if (kept) {
            r = kept;
            goto topic;
        }
        slot_t *s = &ring->slots[(update ? at : h) % d->recent];
        if (!update && h >= d->recent) kept_note(d, ring, &s->r, h);
        uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
        atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        if (update) {
            fill_decision(&s->r, a, inc, false);
            s->r.times++;
        } else {
            fill(&s->r, a, inc);
            __atomic_store_n(where, h + 1, __ATOMIC_RELAXED); /* declog_latest reads it */
            if (kept_way) kept_way->ring_until = h + d->recent + 1;
        }
        atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
        if (!update) atomic_store_explicit(&ring->head, h + 1, memory_order_release);
        r = &s->r; /* only this thread writes it */
    } else {
        fill(r, a, inc);
    }
topic:
    if (d->rkt) {
        ring->json.len = 0;
        declog_rec_json(r, &ring->json);
        char key[17];
        hex16(a->fingerprint, key);
        if (ring->json.oom || rd_kafka_produce(d->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                               ring->json.buf, ring->json.len, key, 16, NULL) != 0)
            atomic_fetch_add_explicit(&d->dropped, 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&d->produced, 1, memory_order_relaxed);
    }
}

void declog_each(declog_t *d, declog_fn fn, void *ctx)
{
    if (!d || !d->recent) return;
    declog_rec_t *copy = malloc(sizeof *copy);
    if (!copy) return;
    for (size_t w = 0; w < d->n_workers; w++) {
        wring_t *ring = &d->rings[w];
        uint64_t h = atomic_load_explicit(&ring->head, memory_order_acquire);
        uint64_t n = h < d->recent ? h : d->recent;
        for (uint64_t i = 1; i <= n; i++) {
            slot_t *s = &ring->slots[(h - i) % d->recent];
            uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
            if (s1 & 1) continue;
            memcpy(copy, &s->r, sizeof *copy);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1) continue;
            if (!fn(ctx, copy)) {
                free(copy);
                return;
            }
        }
        /* Then the open records the ring no longer holds: after its own,
         * which are newer (see kept_note). */
        for (size_t i = 0; ring->kept && i < ring->kept_sets * KEPT_WAYS; i++) {
            kslot_t *k = &ring->kept[i];
            uint64_t s1 = atomic_load_explicit(&k->seq, memory_order_acquire);
            if ((s1 & 1) || !k->live) continue;
            memcpy(copy, &k->r, sizeof *copy);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&k->seq, memory_order_relaxed) != s1 || !k->live) continue;
            /* The times of the same run moved since (kept_note). */
            const kkey_t *key = &ring->kept_keys[i];
            if (atomic_load_explicit(&ring->kept_fps[i], memory_order_relaxed) ==
                copy->fingerprint) {
                int64_t decided = atomic_load_explicit(&key->decided_ms, memory_order_relaxed);
                if (decided > copy->decided_ms) {
                    copy->decided_ms = decided;
                    copy->event_ms = atomic_load_explicit(&key->event_ms, memory_order_relaxed);
                    copy->ends_ms = atomic_load_explicit(&key->ends_ms, memory_order_relaxed);
                }
            }
            if (!fn(ctx, copy)) {
                free(copy);
                return;
            }
        }
    }
    free(copy);
}

/* Ring record `at` of fp when the slot still holds it, under its
 * seqlock: the times only. */
static bool ring_times(const declog_t *d, wring_t *ring, uint64_t at, uint64_t fp,
                       declog_times_t *out)
{
    slot_t *s = &ring->slots[at % d->recent];
    uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
    if (s1 & 1) return false;
    declog_times_t t = {s->r.decided_ms, s->r.event_ms, s->r.ends_ms, rec_firing(&s->r)};
    bool mine = s->r.fingerprint == fp;
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1 || !mine) return false;
    *out = t;
    return true;
}

bool declog_latest(declog_t *d, uint64_t fp, declog_times_t *out)
{
    if (!d || !d->recent) return false;
    bool found = false;
    for (size_t w = 0; w < d->n_workers; w++) {
        wring_t *ring = &d->rings[w];
        uint64_t h = atomic_load_explicit(&ring->head, memory_order_acquire);
        declog_times_t t;
        /* The newest ring record by the worker's index. An entry out of
         * the ring (or none) means fp has no record in it: a newer one
         * would have moved the entry. One that names another fingerprint
         * (it took the entry since) leaves fp's possibly further back: a
         * walk from the newest then. */
        uint64_t at =
            __atomic_load_n(&ring->where[(fp ^ (fp >> 31)) & ring->where_mask], __ATOMIC_RELAXED);
        bool in_ring = at && at <= h && h - (at - 1) <= d->recent;
        bool got = in_ring && ring_times(d, ring, at - 1, fp, &t);
        for (uint64_t i = 1; !got && in_ring && i <= (h < d->recent ? h : d->recent); i++)
            got = ring_times(d, ring, h - i, fp, &t);
        /* Its kept record (an open alert that left the ring): older than
         * any of its ring records, so only without one. */
        for (int i = 0; !got && ring->kept && i < KEPT_WAYS; i++) {
            size_t k = kept_set(ring, fp) + (size_t)i;
            if (atomic_load_explicit(&ring->kept_fps[k], memory_order_relaxed) != fp) continue;
            const kkey_t *key = &ring->kept_keys[k];
            t = (declog_times_t){atomic_load_explicit(&key->decided_ms, memory_order_relaxed),
                                 atomic_load_explicit(&key->event_ms, memory_order_relaxed),
                                 atomic_load_explicit(&key->ends_ms, memory_order_relaxed), true};
            got = true;
        }
        if (got && (!found || t.decided_ms > out->decided_ms)) {
            *out = t;
            found = true;
        }
    }
    return found;
}

static void json_time(mbuf_t *b, const char *key, int64_t ms)
{
    if (!ms) {
        mbuf_printf(b, ",\"%s\":null", key);
        return;
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    mbuf_printf(b, ",\"%s\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", key, tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void declog_rec_json(const declog_rec_t *r, mbuf_t *b)
{
    char fp[17];
    hex16(r->fingerprint, fp);
    bool fwd = DECISION_IS_FORWARD((decision_kind_t)r->kind);
    const char *colon = strchr(r->reason, ':');
    mbuf_printf(b, "{\"fingerprint\":\"%s\",\"labels\":", fp);
    declog_rec_labels_json(r, false, b);
    mbuf_printf(b, ",\"status\":\"%s\",\"decision\":\"%s\",\"kind\":\"%s\",\"reason\":\"",
                r->firing ? "firing" : "resolved", fwd ? "forward" : "suppress",
                decision_str((decision_kind_t)r->kind));
    mbuf_json_str(b, r->reason, strlen(r->reason));
    mbuf_append(b, "\"", 1);
    if (colon) {
        mbuf_printf(b, ",\"%s\":\"", r->silenced ? "silence_id" : "rule");
        mbuf_json_str(b, colon + 1, strlen(colon + 1));
        mbuf_append(b, "\"", 1);
    }
    if (fwd || r->kind == DECISION_SUPPRESS_DUPLICATE)
        mbuf_printf(b, ",\"incident_id\":\"%s-%lld\"", fp, (long long)r->first_seen_ms);
    json_time(b, "event_time", r->event_ms);
    json_time(b, "decided_at", r->decided_ms);
    if (r->times > 1) mbuf_printf(b, ",\"times\":%llu", (unsigned long long)r->times);
    if (r->labels_cut) mbuf_append(b, ",\"labels_cut\":true", 18);
    mbuf_append(b, "}", 1);
}

void declog_metrics(declog_t *d, mbuf_t *b)
{
    metrics_family(b, "quell_decision_log_records_total", "counter",
                   "Decision records produced to decisions.topic, or dropped (queue full).");
    metrics_sample(b, "quell_decision_log_records_total", d ? (double)atomic_load(&d->produced) : 0,
                   1, "result", "produced");
    metrics_sample(b, "quell_decision_log_records_total", d ? (double)atomic_load(&d->dropped) : 0,
                   1, "result", "dropped");
    metrics_family(b, "quell_decision_log_kept_lost_total", "counter",
                   "Open alerts' records pushed out of a full set of the kept records (older "
                   "than the ring): GET /api/v2/alerts no longer lists them; raise "
                   "decisions.open.");
    metrics_sample(b, "quell_decision_log_kept_lost_total",
                   d ? (double)atomic_load(&d->kept_lost) : 0, 0);
}
