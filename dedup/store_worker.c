/*
 * A dedup worker in shared-store mode: decides batches of alerts against
 * Redis with one pipelined round trip per batch (two or three when another
 * instance raced it), keeping Redis off the path whenever it can.
 *
 * Per batch (up to store.batch records drained from the rings):
 *  1. L1: each worker caches what Redis last answered per fingerprint. An
 *     alert whose cached entry is younger than store.cache and which the
 *     cache alone decides as a duplicate (or a resolve of nothing) is
 *     decided and acted on right there (as is one a rule suppresses); its
 *     count and last occurrence are folded into Redis later by one
 *     pipelined `touch` per fingerprint every store.cache / 2.
 *  2. Every other alert joins its fingerprint's group. Each group is decided
 *     in C on its base entry (the cached one, or "absent" for a fingerprint
 *     never seen: optimistic, so a new fingerprint costs one script call)
 *     and written with a compare-and-set; a lost CAS returns the entry that
 *     won, and the group is decided again on it. All groups go in one
 *     pipeline per round, behind the confirms of forwards delivered since
 *     the last round and the count flushes due then: one round trip per
 *     batch in the common case, not one for the groups and one for the
 *     confirms.
 *  3. Results are acted on in input order (each fingerprint's; the alerts
 *     acted on in 1. went first): forwards go to the sink with a
 *     worker-owned delivery track; the input message's track is released
 *     only after the sink delivered AND Redis was told (confirm), so a crash
 *     anywhere in between leaves the offset uncommitted and the entry
 *     pending, and the replay or the next occurrence re-forwards it.
 * Alerts for an incident another live instance is still delivering are
 * parked (a heap copy of the record, its offset held) and decided again
 * every 100 ms, until it is confirmed or its lease runs out.
 * When Redis fails (error, timeout, down), fail_open decides the batch on
 * the worker's own memory table and marks forwards degraded; fail_closed
 * holds the batch and retries until Redis is back (backpressure).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dedup_int.h"

#define PARK_RECHECK_NS   (100LL * 1000000)
#define OUTSTANDING_MAX   65536
#define MAX_ROUNDS        6
#define CONFIRM_BATCH_MAX 1024
/* L1 is set-associative: a fingerprint may sit in any of the L1_WAYS
 * slots of its set, whose fingerprints share one cache line (l1_tag). Two
 * ways (a fingerprint's home slot or the next) lost ~3,000 fingerprints
 * per launch-day run that came back (~50,000 fingerprints in 65,536
 * slots), each a CAS expecting it absent, lost: a second round trip for
 * its batch (half the run's round trips). */
#define L1_WAYS 8
/* How far ahead of the record being taken the batch's next ones are
 * prefetched (assemble). */
#define RECORD_PREFETCH_BYTES 2048

typedef struct {
    uint64_t fp;
    bool used;
    bool known; /* blob holds what Redis had; else Redis had no entry */
    bool dirty; /* delta not yet folded into Redis */
    unsigned char blob[STORE_ENTRY_BYTES];
    store_entry_t view; /* blob plus the local delta */
    int64_t fresh_until_ns;
    /* When this worker queued the write that last set the key's TTL (0:
     * unknown); writes within STORE_TTL_RENEW_MS / 2 of it keep the TTL. */
    int64_t ttl_set_ns;
    uint64_t delta;
    int64_t delta_last_seen;
} l1_slot_t;

/* IT_DONE: acted on while the batch was assembled (suppressed by a rule
 * before the store was asked, or decided from L1: see assemble). */
typedef enum {
    IT_LOCAL,
    IT_GROUP,
    IT_DECIDED,
    IT_PARK,
    IT_FALLBACK,
    IT_SKIP,
    IT_DONE
} item_state_t;

typedef struct {
    const void *rec; /* the record: held in its ring, or a parked copy */
    size_t len;
    void *parked_copy; /* owned when this item came back from the park list */
    alert_t a;
    msg_track_t *track;
    item_state_t state;
    int group;
    uint32_t seq;  /* the entry's forward count after this decision */
    bool takeover; /* re-forwards a dead instance's undelivered forward */
    incident_t inc;
} item_t;

typedef struct {
    uint64_t fp;
    bool known_expected; /* expected blob valid (else: expect absent) */
    unsigned char expected[STORE_ENTRY_BYTES];
    store_entry_t base;
    bool need_read;
    bool done;
    bool fallback;
    bool reseed_checked;
    bool from_redis; /* base was read from Redis in this batch */
    bool loaded;     /* base taken from L1 (when its first round is queued) */
    uint64_t delta;
    int64_t delta_last_seen;
    bool renew_ttl;    /* the CAS sets the key's TTL */
    int64_t queued_ns; /* when the CAS was queued */
    unsigned char desired[STORE_ENTRY_BYTES];
    int first_item, last_item; /* range in items[] (items of other groups interleave) */
} group_t;

typedef struct {
    msg_track_t delivery; /* handed to the sink; 0 pending = delivered */
    msg_track_t *input;
    uint64_t fp, incident_id;
    uint32_t seq;
    bool failed; /* the sink refused it: keep the input held, confirm nothing */
} outstanding_t;

/* One batch: its items (records held in their rings) and groups. */
typedef struct {
    arena_t scratch; /* the items' decoded alerts */
    item_t *items;
    size_t n_items, cap_items;
    size_t from_park; /* items[0..from_park) came back from the park list */
    group_t *groups;
    size_t n_groups, cap_groups;
    int32_t *group_index; /* open addressing over groups by fp */
    size_t group_mask;
    bool redis;          /* Redis was up when it was drained */
    bool sent;           /* a round is on the wire, its answers unread */
    int rounds;          /* rounds run so far */
    size_t pre, pending; /* results of the round sent: flushes + confirms, groups */
} batch_t;

/* A delivered forward whose confirm rides the next round. */
typedef struct {
    uint64_t fp, incident_id;
    uint32_t seq;
    bool known; /* expected: the entry as written, pending (L1's blob) */
    unsigned char expected[STORE_ENTRY_BYTES];
} confirm_t;

/* A touch of the periodic flush on the wire: whose, and whether it sets
 * the key's TTL. */
typedef struct {
    uint64_t fp;
    bool renew_ttl;
} touched_t;

typedef struct parked {
    struct parked *next;
    void *rec;
    size_t len;
} parked_t;

struct store_worker {
    store_conf_t conf;
    dedup_params_t params;
    store_ctx_t ctx;
    store_conn_t *conn;
    dedup_table_t *fallback;
    size_t ring_turn; /* which input ring the next batch starts at */
    dedup_forward_fn forward;
    void *fctx;
    store_decided_fn decided;
    void *decided_ctx;
    store_worker_stats_t *stats;
    batch_t batch;
    store_result_t *results;
    size_t cap_results;
    /* L1 */
    l1_slot_t *l1;
    uint64_t *l1_tag; /* l1[i].fp for every slot, a set per cache line */
    size_t l1_mask;
    uint64_t *dirty_fps; /* fingerprints with a delta (may repeat; stale ones skipped) */
    size_t n_dirty, cap_dirty;
    l1_slot_t *evicted; /* deltas of evicted slots, for the next flush */
    size_t n_evicted, cap_evicted;
    int64_t next_flush_ns;
    /* The periodic flush's touches on the wire: their fingerprints in
     * order, the index of the first one's result, and when they were
     * queued (the answers renew L1 from then). */
    touched_t *touched;
    size_t n_touched, cap_touched, touched_first;
    int64_t touched_at_ns;
    /* forwards awaiting delivery, FIFO */
    outstanding_t *out;
    size_t out_head, out_n;
    /* Delivered forwards: confirms for Redis, and the inputs released once
     * the round carrying the confirms is answered. n_*_sent of them are in
     * the round on the wire. */
    confirm_t *confirms;
    size_t n_confirms, cap_confirms, n_confirms_sent;
    msg_track_t **releases;
    size_t n_releases, cap_releases, n_releases_sent;
    /* parked alerts */
    parked_t *parked, *parked_tail;
    size_t n_parked;
    int64_t next_park_ns;
    bool was_down; /* Redis failed since the fallback table was last cleared */
    /* the rule half of the composed decision (NULL: none) */
    const dedup_rules_hook_t *rules;
    void *rules_ctx;
};

void store_worker_set_rules(store_worker_t *sw, const dedup_rules_hook_t *h, void *ctx)
{
    sw->rules = h;
    sw->rules_ctx = ctx;
}

static void count_decision(store_worker_t *sw, const item_t *it)
{
    sw->decided(sw->decided_ctx, &it->a, &it->inc);
}

/* A rule suppressed it, or L1 decided it (a suppression): counted, its
 * input released, the store untouched (L1's counts reach it with the next
 * count flush). */
static void act_now(store_worker_t *sw, item_t *it)
{
    if (it->state == IT_LOCAL) stat_add(&sw->stats->local, 1);
    count_decision(sw, it);
    track_done(it->track);
    free(it->parked_copy);
    it->parked_copy = NULL;
    it->state = IT_DONE;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) abort(); /* batch-sized buffers: nothing sensible is left to do */
    return q;
}

store_worker_t *store_worker_new(const store_conf_t *sc, uint64_t me, const dedup_params_t *p,
                                 dedup_table_t *fallback, dedup_forward_fn forward, void *ctx,
                                 store_decided_fn decided, void *decided_ctx,
                                 store_worker_stats_t *stats)
{
    store_worker_t *sw = calloc(1, sizeof(*sw));
    if (!sw) return NULL;
    sw->conf = *sc;
    sw->params = *p;
    sw->ctx = (store_ctx_t){.me = me, .lease_ms = sc->lease_ms};
    sw->fallback = fallback;
    sw->forward = forward;
    sw->fctx = ctx;
    /* Whatever the table holds now (a snapshot restored at start) is not
     * what Redis says: cleared on the first batch Redis answers. */
    sw->was_down = true;
    sw->decided = decided;
    sw->decided_ctx = decided_ctx;
    sw->stats = stats;
    arena_init(&sw->batch.scratch, 64 * 1024);
    size_t slots = 1024;
    while (slots < sc->cache_entries) slots <<= 1;
    sw->l1 = calloc(slots, sizeof(*sw->l1));
    sw->l1_tag = aligned_alloc(L1_WAYS * sizeof(uint64_t), slots * sizeof(uint64_t));
    if (sw->l1_tag) memset(sw->l1_tag, 0, slots * sizeof(uint64_t));
    sw->l1_mask = slots - 1;
    sw->out = malloc(OUTSTANDING_MAX * sizeof(outstanding_t));
    sw->conn = store_conn_new(sc, "dedup");
    if (!sw->l1 || !sw->l1_tag || !sw->out || !sw->conn) {
        store_worker_destroy(sw);
        return NULL;
    }
    return sw;
}

void store_worker_destroy(store_worker_t *sw)
{
    if (!sw) return;
    while (sw->parked) {
        parked_t *p = sw->parked;
        sw->parked = p->next;
        free(p->rec);
        free(p);
    }
    store_conn_destroy(sw->conn);
    arena_free(&sw->batch.scratch);
    free(sw->batch.items);
    free(sw->batch.groups);
    free(sw->batch.group_index);
    free(sw->confirms);
    free(sw->releases);
    free(sw->results);
    free(sw->l1);
    free(sw->l1_tag);
    free(sw->dirty_fps);
    free(sw->evicted);
    free(sw->touched);
    free(sw->out);
    free(sw);
}

/* ---- L1 ---------------------------------------------------------------- */

/* The first slot of fp's set. */
static size_t l1_set(const store_worker_t *sw, uint64_t fp)
{
    return (size_t)((fp ^ (fp >> 31)) & sw->l1_mask & ~(size_t)(L1_WAYS - 1));
}

static l1_slot_t *l1_find(store_worker_t *sw, uint64_t fp)
{
    size_t set = l1_set(sw, fp);
    for (size_t k = 0; k < L1_WAYS; k++)
        if (sw->l1_tag[set + k] == fp && sw->l1[set + k].used) return &sw->l1[set + k];
    return NULL;
}

static void mark_dirty(store_worker_t *sw, l1_slot_t *s)
{
    if (s->dirty) return;
    s->dirty = true;
    if (sw->n_dirty == sw->cap_dirty) {
        sw->cap_dirty = sw->cap_dirty ? sw->cap_dirty * 2 : 1024;
        sw->dirty_fps = xrealloc(sw->dirty_fps, sw->cap_dirty * sizeof(uint64_t));
    }
    sw->dirty_fps[sw->n_dirty++] = s->fp;
}

/* Whether a write of slot `s`'s key queued at now_ns must set its TTL
 * (STORE_TTL_RENEW_MS): yes unless this worker set it recently. */
static bool ttl_due(const l1_slot_t *s, int64_t now_ns)
{
    return !s || s->ttl_set_ns == 0 ||
           now_ns - s->ttl_set_ns >= (int64_t)STORE_TTL_RENEW_MS / 2 * 1000000;
}

/* Queues the touch of slot `s`'s delta; returns whether it sets the TTL. */
static bool flush_one(store_worker_t *sw, l1_slot_t *s, int64_t now_ns)
{
    bool renew = ttl_due(s, now_ns);
    /* Redis likely holds the blob as cached (one instance writing it):
     * then the touch writes the result below without the script working
     * it out again. */
    store_touch_add(sw->conn, s->fp, s->delta, s->delta_last_seen, s->known ? s->blob : NULL,
                    renew);
    /* What the touch makes of the blob, so the next CAS expects it. */
    if (s->known) store_entry_touch(s->blob, s->delta, s->delta_last_seen, s->blob);
    s->delta = 0;
    s->dirty = false;
    return renew;
}

/* Of two used slots, whether `a` is worth more than `b`: an open
 * incident's entry over a closed one (a resolved or one-off alert rarely
 * comes back, a firing one does, and a fingerprint missing from L1 costs
 * a CAS that expects it absent and is lost: a second round for the whole
 * batch), then the fresher. */
static bool l1_keep_first(const l1_slot_t *a, const l1_slot_t *b)
{
    bool ao = a->known && a->view.open, bo = b->known && b->view.open;
    if (ao != bo) return ao;
    return a->fresh_until_ns > b->fresh_until_ns;
}

/* The slot for `fp`, claimed if absent (a free one of its set, else
 * evicting the one l1_keep_first values least; an evicted delta is queued
 * for the next flush round first). */
static l1_slot_t *l1_claim(store_worker_t *sw, uint64_t fp)
{
    l1_slot_t *s = l1_find(sw, fp);
    if (s) return s;
    size_t set = l1_set(sw, fp), victim = set;
    for (size_t k = 0; k < L1_WAYS; k++) {
        l1_slot_t *c = &sw->l1[set + k];
        if (!c->used) {
            victim = set + k;
            break;
        }
        if (l1_keep_first(&sw->l1[victim], c)) victim = set + k;
    }
    sw->l1_tag[victim] = fp;
    s = &sw->l1[victim];
    if (s->used && s->dirty && s->delta) {
        /* Not queued on the connection here: a round may be mid-flight. */
        if (sw->n_evicted == sw->cap_evicted) {
            sw->cap_evicted = sw->cap_evicted ? sw->cap_evicted * 2 : 256;
            sw->evicted = xrealloc(sw->evicted, sw->cap_evicted * sizeof(l1_slot_t));
        }
        sw->evicted[sw->n_evicted++] = *s;
    }
    *s = (l1_slot_t){.fp = fp, .used = true};
    return s;
}

/* ---- batch assembly ----------------------------------------------------- */

static item_t *new_item(batch_t *b)
{
    if (b->n_items == b->cap_items) {
        b->cap_items = b->cap_items ? b->cap_items * 2 : 256;
        b->items = xrealloc(b->items, b->cap_items * sizeof(item_t));
    }
    item_t *it = &b->items[b->n_items++];
    *it = (item_t){.group = -1};
    return it;
}

static int group_of(batch_t *b, uint64_t fp, bool create)
{
    if (!b->group_index) return -1;
    size_t i = (size_t)(fp ^ (fp >> 29)) & b->group_mask;
    for (;; i = (i + 1) & b->group_mask) {
        int32_t g = b->group_index[i];
        if (g < 0) break;
        if (b->groups[g].fp == fp) return g;
    }
    if (!create) return -1;
    int g = (int)b->n_groups++;
    b->group_index[i] = g;
    b->groups[g] = (group_t){.fp = fp, .first_item = -1};
    return g;
}

/* The group's base: what L1 holds for its fingerprint, and the
 * occurrences folded locally so far, which its write carries. Taken when
 * the group's first round is queued, behind that round's count flushes. */
static void group_load(store_worker_t *sw, group_t *gr)
{
    gr->loaded = true;
    uint64_t fp = gr->fp;
    l1_slot_t *s = l1_find(sw, fp);
    if (s && s->known) {
        gr->known_expected = true;
        memcpy(gr->expected, s->blob, STORE_ENTRY_BYTES);
        if (!store_entry_decode(s->blob, STORE_ENTRY_BYTES, &gr->base)) gr->need_read = true;
    }
    if (s && s->dirty) {
        /* The group's write carries the locally folded occurrences. */
        gr->delta = s->delta;
        gr->delta_last_seen = s->delta_last_seen;
        s->delta = 0;
        s->dirty = false;
    }
}

static void add_item_to_group(batch_t *b, size_t idx, bool need_read)
{
    item_t *it = &b->items[idx];
    int g = group_of(b, it->a.fingerprint, true);
    group_t *gr = &b->groups[g];
    if (need_read) gr->need_read = true;
    if (gr->first_item < 0) gr->first_item = (int)idx;
    gr->last_item = (int)idx;
    it->group = g;
    it->state = IT_GROUP;
}

static bool noise_same(const dedup_noise_state_t *a, const dedup_noise_state_t *b)
{
    return a->window_start_ms == b->window_start_ms && a->last_flip_ms == b->last_flip_ms &&
           a->flips == b->flips && a->last_status == b->last_status && a->seen == b->seen &&
           a->held == b->held && a->pending == b->pending;
}

/* Whether `after` differs from `before` only as a touch changes an entry
 * (count up, last occurrence not earlier): then the decision can be folded
 * into Redis later with the other occurrences. Every field of
 * store_entry_t is compared: one added there must be added here. */
static bool touch_only(const store_entry_t *before, const store_entry_t *after)
{
    return after->count >= before->count && after->last_seen_ms >= before->last_seen_ms &&
           after->open == before->open && after->pending == before->pending &&
           after->pending_kind == before->pending_kind && after->seq == before->seq &&
           after->incident_id == before->incident_id && after->owner == before->owner &&
           after->lease_until_ms == before->lease_until_ms &&
           after->first_seen_ms == before->first_seen_ms &&
           after->last_forward_ms == before->last_forward_ms &&
           after->pending_id == before->pending_id && noise_same(&after->noise, &before->noise);
}

/* Tries to decide from L1 alone: a suppression that changes nothing but
 * the count and last occurrence (a duplicate, or an occurrence of a
 * fingerprint held as flapping that does not flip it). A transient hold
 * is not: its release depends on the count every instance adds to. */
static bool decide_local(store_worker_t *sw, item_t *it, int64_t now_ns)
{
    if (sw->conf.cache_ms <= 0) return false;
    l1_slot_t *s = l1_find(sw, it->a.fingerprint);
    if (!s || now_ns >= s->fresh_until_ns || s->view.noise.pending) return false;
    store_entry_t e = s->view;
    if (store_decide(&e, &sw->params, &sw->ctx, it->a.fingerprint, it->a.status,
                     it->a.event_time_ms, &it->inc) != STORE_DECIDED)
        return false;
    if (DECISION_IS_FORWARD(it->inc.kind)) return false;
    /* Only count and last occurrence are folded in later (touch): a
     * decision that moved the noise state (a flip, say) is written now. */
    if (!noise_same(&e.noise, &s->view.noise)) return false;
    if (it->inc.kind == DECISION_SUPPRESS_RESOLVED_NO_INCIDENT) {
        it->state = IT_LOCAL;
        return true;
    }
    if (!touch_only(&s->view, &e)) return false;
    s->delta += e.count - s->view.count;
    if (e.last_seen_ms > s->delta_last_seen) s->delta_last_seen = e.last_seen_ms;
    s->view = e;
    mark_dirty(sw, s);
    it->state = IT_LOCAL;
    return true;
}

/* ---- the Redis rounds --------------------------------------------------- */

/* Decides every item of group `g` in order on its base; true when the
 * entry changed and must be written. */
static bool decide_group(store_worker_t *sw, batch_t *b, group_t *gr)
{
    store_entry_t e = gr->base;
    if (gr->delta) {
        e.count += gr->delta;
        if (gr->delta_last_seen > e.last_seen_ms) e.last_seen_ms = gr->delta_last_seen;
    }
    for (int i = gr->first_item; i <= gr->last_item; i++) {
        item_t *it = &b->items[i];
        if (it->group != (int)(gr - b->groups)) continue;
        bool foreign_expired =
            e.pending && e.owner != sw->ctx.me && e.lease_until_ms <= sw->ctx.wall_ms;
        if (store_decide(&e, &sw->params, &sw->ctx, gr->fp, it->a.status, it->a.event_time_ms,
                         &it->inc) == STORE_PARK) {
            it->state = IT_PARK;
        } else {
            it->state = IT_DECIDED;
            it->seq = e.seq;
            it->takeover = foreign_expired && DECISION_IS_FORWARD(it->inc.kind);
        }
    }
    store_entry_encode(&e, gr->desired);
    if (!gr->known_expected) {
        /* Nothing there and nothing to write (e.g. a resolve of nothing). */
        store_entry_t none = {0};
        unsigned char nb[STORE_ENTRY_BYTES];
        store_entry_encode(&none, nb);
        return memcmp(nb, gr->desired, STORE_ENTRY_BYTES) != 0;
    }
    return memcmp(gr->expected, gr->desired, STORE_ENTRY_BYTES) != 0;
}

/* ttl_set_ns: when the write that set the key's TTL was queued (0: this
 * did not set it). */
static void group_to_l1(store_worker_t *sw, group_t *gr, const unsigned char *blob, bool known,
                        int64_t now_ns, int64_t ttl_set_ns)
{
    l1_slot_t *s = l1_claim(sw, gr->fp);
    s->known = known;
    if (ttl_set_ns) s->ttl_set_ns = ttl_set_ns;
    if (known) {
        memcpy(s->blob, blob, STORE_ENTRY_BYTES);
        if (!store_entry_decode(blob, STORE_ENTRY_BYTES, &s->view)) {
            s->used = false;
            return;
        }
    } else {
        s->view = (store_entry_t){0};
    }
    s->fresh_until_ns = now_ns + sw->conf.cache_ms * 1000000;
}

/* Takes a reply for a group that was read or lost its CAS. */
static void group_rebase(store_worker_t *sw, group_t *gr, const store_result_t *r)
{
    gr->from_redis = true;
    if (r->cur_len == 0) {
        if (gr->known_expected && !gr->reseed_checked) {
            /* We knew an entry Redis no longer has (restarted empty, or
             * flushed): decide on what we knew and write it back, rather
             * than open the incident again. */
            gr->reseed_checked = true;
            stat_add(&sw->stats->reseeded, 1);
            store_entry_decode(gr->expected, STORE_ENTRY_BYTES, &gr->base);
        } else {
            gr->base = (store_entry_t){0};
        }
        gr->known_expected = false;
        return;
    }
    if (r->cur_len != STORE_ENTRY_BYTES || !store_entry_decode(r->cur, r->cur_len, &gr->base)) {
        /* Not ours to overwrite (another format): decide it locally. */
        gr->fallback = true;
        gr->done = true;
        return;
    }
    gr->known_expected = true;
    memcpy(gr->expected, r->cur, STORE_ENTRY_BYTES);
}

static void ensure_results(store_worker_t *sw, size_t n)
{
    if (sw->cap_results >= n) return;
    sw->cap_results = n * 2;
    sw->results = xrealloc(sw->results, sw->cap_results * sizeof(store_result_t));
}

static void flush_dirty(store_worker_t *sw);

/* Queues what rides in front of a round's groups: the counts of evicted
 * cache slots (in front of the groups: a group deciding the same
 * fingerprint below must see its last occurrence, or it would take the
 * incident for expired), the confirms of delivered forwards, then the
 * periodic count flush when due (behind the confirms: its answers renew
 * L1, and must not show a delivered forward still pending). Returns the
 * number of results they take. */
static size_t queue_pre(store_worker_t *sw)
{
    int64_t now_ns = clock_mono_ns();
    for (size_t i = 0; i < sw->n_evicted; i++) flush_one(sw, &sw->evicted[i], now_ns);
    sw->n_evicted = 0;
    for (size_t i = 0; i < sw->n_confirms; i++)
        store_confirm_add(sw->conn, sw->confirms[i].fp, sw->confirms[i].seq,
                          sw->confirms[i].incident_id,
                          sw->confirms[i].known ? sw->confirms[i].expected : NULL);
    sw->n_confirms_sent = sw->n_confirms;
    sw->n_releases_sent = sw->n_releases;
    if (clock_mono_ns() >= sw->next_flush_ns) flush_dirty(sw);
    /* results: one per call of up to 128 confirms, one per touch */
    return store_queued(sw->conn);
}

/* The periodic flush's touches were answered (in `results`, where
 * flush_dirty queued them): each answer is what Redis holds now, the
 * occurrences folded in, so the slot takes it and is fresh for another
 * store.cache, like a slot a CAS just wrote. Without this a fingerprint
 * suppressed from L1 for longer than store.cache went to Redis once per
 * store.cache anyway: a CAS that only re-read what the touch had written.
 * (The staleness stays bounded: what a slot shows is never older than
 * store.cache.) A slot whose key is gone is left stale, so its next
 * occurrence asks Redis (and writes back what it knew: reseed). */
static void touches_answered(store_worker_t *sw, const store_result_t *results)
{
    for (size_t i = 0; i < sw->n_touched; i++) {
        const store_result_t *r = &results[sw->touched_first + i];
        if (r->kind != STORE_R_VALUE) continue; /* not run (NOSCRIPT) */
        l1_slot_t *s = l1_find(sw, sw->touched[i].fp);
        if (s && sw->touched[i].renew_ttl && r->cur_len) s->ttl_set_ns = sw->touched_at_ns;
        if (!s || !s->known || s->dirty) continue;
        store_entry_t e;
        if (r->cur_len != STORE_ENTRY_BYTES || !store_entry_decode(r->cur, r->cur_len, &e)) {
            s->fresh_until_ns = 0;
            continue;
        }
        memcpy(s->blob, r->cur, STORE_ENTRY_BYTES);
        s->view = e;
        s->fresh_until_ns = sw->touched_at_ns + sw->conf.cache_ms * 1000000;
    }
    sw->n_touched = 0;
}

/* The round carrying the confirms was answered (or failed: a failed
 * confirm leaves the entry pending; once its lease ends another decision
 * re-forwards it under the same id, which receivers deduplicate. The
 * delivery did happen.) Releases their inputs. */
static void confirms_done(store_worker_t *sw)
{
    for (size_t i = 0; i < sw->n_releases_sent; i++) track_done(sw->releases[i]);
    size_t nc = sw->n_confirms - sw->n_confirms_sent, nr = sw->n_releases - sw->n_releases_sent;
    if (nc) memmove(sw->confirms, sw->confirms + sw->n_confirms_sent, nc * sizeof(*sw->confirms));
    if (nr) memmove(sw->releases, sw->releases + sw->n_releases_sent, nr * sizeof(*sw->releases));
    sw->n_confirms = nc;
    sw->n_releases = nr;
    sw->n_confirms_sent = sw->n_releases_sent = 0;
}

/* Queues and sends the next round of batch `b` (the groups not done yet,
 * behind queue_pre's commands) without reading the answers. False when
 * nothing needed Redis (every group done without it) or Redis failed
 * (b->sent stays false; the caller decides the rest without Redis). */
static bool round_send(store_worker_t *sw, batch_t *b)
{
    sw->ctx.wall_ms = clock_wall_ms();
    int64_t now_ns = clock_mono_ns(); /* the round's: one clock read, not one per group */
    size_t pre = queue_pre(sw);
    size_t pending = 0;
    for (size_t g = 0; g < b->n_groups; g++) {
        group_t *gr = &b->groups[g];
        if (gr->done) continue;
        if (!gr->loaded) group_load(sw, gr);
        if (gr->need_read) {
            store_get_add(sw->conn, gr->fp);
            pending++;
        } else if (decide_group(sw, b, gr)) {
            gr->renew_ttl = !gr->known_expected || ttl_due(l1_find(sw, gr->fp), now_ns);
            gr->queued_ns = now_ns;
            store_cas_add(sw->conn, gr->fp, gr->known_expected ? gr->expected : NULL, gr->desired,
                          gr->renew_ttl);
            pending++;
        } else if (!gr->from_redis) {
            /* Nothing to write, but decided on a cached or guessed base
             * (a resolve of "nothing", say): no CAS checks that, so
             * read what Redis holds and decide again. */
            gr->need_read = true;
            store_get_add(sw->conn, gr->fp);
            pending++;
        } else {
            gr->done = true;
            group_to_l1(sw, gr, gr->expected, gr->known_expected, now_ns, 0);
        }
    }
    b->pre = pre;
    b->pending = pending;
    b->rounds++;
    if (pre + pending == 0) return false;
    ensure_results(sw, pre + pending);
    if (store_send(sw->conn) != QERR_OK) {
        confirms_done(sw);
        sw->n_touched = 0;
        return false;
    }
    b->sent = true;
    return true;
}

/* Reads the answers of b's round on the wire. Returns QERR_OK (groups
 * still pending get another round), QERR_FULL (the scripts were loaded
 * again: run the round again) or QERR_IO. */
static qerr_t round_recv(store_worker_t *sw, batch_t *b)
{
    b->sent = false;
    qerr_t err = store_recv(sw->conn, sw->results, b->pre + b->pending);
    if (err == QERR_FULL) {
        /* No script ran: the confirms go again with the next round, and
         * so do the groups' scripts (a SET NX did run: taken below). */
        sw->n_confirms_sent = sw->n_releases_sent = 0;
    } else {
        confirms_done(sw);
        if (err != QERR_OK) {
            sw->n_touched = 0;
            return err;
        }
        stat_add(&sw->stats->round_trips, 1);
    }
    touches_answered(sw, sw->results); /* before the groups: theirs are newer */
    int64_t now_ns = clock_mono_ns();
    size_t r = b->pre;
    for (size_t g = 0; g < b->n_groups && r < b->pre + b->pending; g++) {
        group_t *gr = &b->groups[g];
        if (gr->done) continue;
        const store_result_t *res = &sw->results[r++];
        if (res->kind == STORE_R_RETRY) continue;
        if (res->kind == STORE_R_VALUE) {
            gr->need_read = false;
            group_rebase(sw, gr, res);
        } else if (res->kind == STORE_R_OK) {
            gr->done = true;
            group_to_l1(sw, gr, gr->desired, true, now_ns, gr->renew_ttl ? gr->queued_ns : 0);
        } else {
            stat_add(&sw->stats->conflicts, 1);
            group_rebase(sw, gr, res);
        }
    }
    return err;
}

/* Runs b's rounds (from the one on the wire, if any) until every group is
 * decided and written; groups still open when Redis fails, or after
 * MAX_ROUNDS, are decided without it (fallback). */
static void run_groups(store_worker_t *sw, batch_t *b)
{
    for (;;) {
        if (!b->sent) {
            if (b->rounds >= MAX_ROUNDS || !round_send(sw, b)) break;
        }
        if (round_recv(sw, b) == QERR_IO) break;
    }
    for (size_t g = 0; g < b->n_groups; g++)
        if (!b->groups[g].done) b->groups[g].fallback = true;
}

/* ---- acting on decisions ------------------------------------------------ */

static void poll_outstanding(store_worker_t *sw, bool wait_all);

static void forward_one(store_worker_t *sw, item_t *it)
{
    while (sw->out_n == OUTSTANDING_MAX) {
        poll_outstanding(sw, false);
        if (sw->out_n == OUTSTANDING_MAX) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    outstanding_t *o = &sw->out[(sw->out_head + sw->out_n) % OUTSTANDING_MAX];
    *o = (outstanding_t){.input = it->track,
                         .fp = it->a.fingerprint,
                         .incident_id = it->inc.incident_id,
                         .failed = false};
    atomic_init(&o->delivery.pending, 1);
    o->seq = it->state == IT_DECIDED ? it->seq : 0; /* 0: nothing to confirm in Redis */
    sw->out_n++;
    for (;;) {
        qerr_t err = sw->forward(sw->fctx, &it->a, &it->inc, &o->delivery);
        if (err == QERR_OK) return;
        if (err != QERR_FULL) {
            o->failed = true;
            return;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void park(store_worker_t *sw, item_t *it)
{
    bool again = it->parked_copy != NULL;
    parked_t *p = malloc(sizeof(*p));
    void *copy = it->parked_copy;
    if (!copy) {
        copy = malloc(it->len);
        if (copy) memcpy(copy, it->rec, it->len);
    }
    if (!p || !copy) {
        /* Out of memory: forward rather than hold (never lose it). */
        free(p);
        if (copy != it->parked_copy) free(copy);
        it->inc = (incident_t){.kind = DECISION_FORWARD_NEW,
                               .fingerprint = it->a.fingerprint,
                               .count = 1,
                               .first_seen_ms = it->a.event_time_ms,
                               .last_seen_ms = it->a.event_time_ms,
                               .degraded = true};
        count_decision(sw, it);
        forward_one(sw, it);
        free(it->parked_copy);
        it->parked_copy = NULL;
        return;
    }
    p->rec = copy;
    p->len = it->len;
    p->next = NULL;
    it->parked_copy = NULL;
    /* Appended, so parked alerts come back in their order. */
    if (sw->parked)
        sw->parked_tail->next = p;
    else
        sw->parked = p;
    sw->parked_tail = p;
    sw->n_parked++;
    if (!again) stat_add(&sw->stats->parked, 1);
    if (sw->next_park_ns == 0) sw->next_park_ns = clock_mono_ns() + PARK_RECHECK_NS;
}

static void decide_fallback(store_worker_t *sw, item_t *it)
{
    sw->was_down = true;
    decision_kind_t k = dedup_decide(sw->fallback, &sw->params, it->a.fingerprint, it->a.status,
                                     it->a.event_time_ms, it->a.watermark_ms, &it->inc);
    if (DECISION_IS_FORWARD(k)) {
        it->inc.degraded = true;
        stat_add(&sw->stats->degraded, 1);
    }
}

static void act(store_worker_t *sw, batch_t *b)
{
    for (size_t i = 0; i < b->n_items; i++) {
        item_t *it = &b->items[i];
        if (it->state == IT_SKIP || it->state == IT_DONE) continue;
        if (it->group >= 0 && b->groups[it->group].fallback) it->state = IT_FALLBACK;
        if (it->state == IT_FALLBACK) decide_fallback(sw, it);
        if (it->state == IT_PARK) {
            park(sw, it);
            continue;
        }
        decision_kind_t k = it->inc.kind;
        count_decision(sw, it);
        if (DECISION_IS_FORWARD(k)) {
            if (it->state == IT_DECIDED && it->takeover) stat_add(&sw->stats->takeovers, 1);
            forward_one(sw, it);
        } else {
            track_done(it->track);
        }
        free(it->parked_copy);
        it->parked_copy = NULL;
    }
}

/* fail_closed and Redis failed for part of `b`: hold everything that was
 * not written to Redis (park the rest of the batch and retry later). */
static void act_held(store_worker_t *sw, batch_t *b)
{
    for (size_t i = 0; i < b->n_items; i++) {
        item_t *it = &b->items[i];
        if (it->state == IT_SKIP || it->state == IT_DONE) continue;
        if (it->state == IT_DECIDED && !b->groups[it->group].fallback) {
            /* Written to Redis already: act on it. */
            count_decision(sw, it);
            if (DECISION_IS_FORWARD(it->inc.kind))
                forward_one(sw, it);
            else
                track_done(it->track);
            free(it->parked_copy);
            it->parked_copy = NULL;
            continue;
        }
        park(sw, it);
    }
}

/* Finishes batch `b`: its remaining rounds, then acts on every decision in
 * input order. Nothing is on the wire afterwards. */
static void finish(store_worker_t *sw, batch_t *b)
{
    if (b->n_groups) run_groups(sw, b);
    if (sw->conf.on_error == STORE_FAIL_CLOSED) {
        bool blocked = false;
        for (size_t i = 0; i < b->n_items && !blocked; i++)
            blocked = b->items[i].state == IT_FALLBACK ||
                      (b->items[i].group >= 0 && b->groups[b->items[i].group].fallback);
        if (blocked) {
            act_held(sw, b);
            return;
        }
    }
    act(sw, b);
}

/* ---- confirmations and flushes ------------------------------------------ */

static void *grow(void *p, size_t *cap, size_t size)
{
    *cap = *cap ? *cap * 2 : 256;
    return xrealloc(p, *cap * size);
}

/* Takes the delivered forwards off the FIFO (in order): their confirms
 * and inputs wait for the next round. No I/O. */
static size_t collect_delivered(store_worker_t *sw)
{
    size_t n = 0;
    while (sw->out_n) {
        outstanding_t *o = &sw->out[sw->out_head];
        if (!o->failed && atomic_load_explicit(&o->delivery.pending, memory_order_acquire) != 0)
            break;
        if (!o->failed) {
            if (o->seq) {
                if (sw->n_confirms == sw->cap_confirms)
                    sw->confirms = grow(sw->confirms, &sw->cap_confirms, sizeof(confirm_t));
                sw->confirms[sw->n_confirms] =
                    (confirm_t){.fp = o->fp, .incident_id = o->incident_id, .seq = o->seq};
            }
            if (sw->n_releases == sw->cap_releases)
                sw->releases = grow(sw->releases, &sw->cap_releases, sizeof(msg_track_t *));
            sw->releases[sw->n_releases++] = o->input;
            l1_slot_t *s = l1_find(sw, o->fp);
            if (s && s->known && s->view.pending && s->view.seq == o->seq &&
                s->view.owner == sw->ctx.me) {
                if (o->seq) {
                    /* Likely what Redis holds: the entry as this worker
                     * wrote it (the confirm goes in front of any CAS). */
                    sw->confirms[sw->n_confirms].known = true;
                    memcpy(sw->confirms[sw->n_confirms].expected, s->blob, STORE_ENTRY_BYTES);
                }
                /* What confirm makes of it, so the next CAS expects it. */
                s->view.pending = false;
                s->blob[2] &= (unsigned char)~2u;
            }
            if (o->seq) sw->n_confirms++;
        }
        sw->out_head = (sw->out_head + 1) % OUTSTANDING_MAX;
        sw->out_n--;
        n++;
    }
    return n;
}

/* A round of its own for the confirms and count flushes that wait (when no
 * batch round carries them). Nothing may be on the wire. Redis down: the
 * inputs are released without confirms (see confirms_done). */
static void run_pre(store_worker_t *sw)
{
    if (!store_conn_ready(sw->conn)) {
        sw->n_confirms_sent = sw->n_confirms;
        sw->n_releases_sent = sw->n_releases;
        sw->n_touched = 0; /* never answered */
        confirms_done(sw);
        return;
    }
    /* Twice at most: once more after a NOSCRIPT reload. */
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t q = queue_pre(sw);
        ensure_results(sw, q);
        qerr_t err = store_run(sw->conn, sw->results, q);
        if (err == QERR_OK && q) stat_add(&sw->stats->round_trips, 1);
        if (err == QERR_OK || err == QERR_FULL)
            touches_answered(sw, sw->results);
        else
            sw->n_touched = 0;
        if (err != QERR_FULL) break;
        if (attempt == 1) break;
        sw->n_confirms_sent = sw->n_releases_sent = 0;
    }
    confirms_done(sw);
}

static void poll_outstanding(store_worker_t *sw, bool wait_all)
{
    for (;;) {
        size_t n = collect_delivered(sw);
        if (sw->n_releases) run_pre(sw);
        if (!wait_all || sw->out_n == 0) return;
        if (n == 0) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

/* Queues a touch for every fingerprint with occurrences folded locally
 * (every store.cache / 2). Lost counts on failure: only the count and
 * last-seen figures of suppressed duplicates, never a decision. */
static void flush_dirty(store_worker_t *sw)
{
    int64_t now = clock_mono_ns();
    sw->next_flush_ns = now + (sw->conf.cache_ms > 1 ? sw->conf.cache_ms / 2 : 1) * 1000000;
    sw->n_touched = 0;
    sw->touched_first = store_queued(sw->conn);
    sw->touched_at_ns = now;
    for (size_t i = 0; i < sw->n_dirty; i++) {
        l1_slot_t *s = l1_find(sw, sw->dirty_fps[i]);
        if (s && s->dirty && s->delta) {
            bool renew = flush_one(sw, s, now);
            if (sw->n_touched == sw->cap_touched)
                sw->touched = grow(sw->touched, &sw->cap_touched, sizeof(*sw->touched));
            sw->touched[sw->n_touched++] = (touched_t){s->fp, renew};
        }
        if (s) s->dirty = false;
    }
    sw->n_dirty = 0;
}

/* ---- the step ------------------------------------------------------------ */

static void load_item(store_worker_t *sw, batch_t *b, item_t *it)
{
    if (alert_rec_read(it->rec, it->len, &b->scratch, &it->a, &it->track) != QERR_OK) {
        log_error("dedup", "corrupt ring record of %zu bytes", it->len);
        it->state = IT_SKIP;
        it->track = NULL;
    }
    (void)sw;
}

static void reset_batch(batch_t *b)
{
    b->n_items = 0;
    b->n_groups = 0;
    b->from_park = 0;
    b->rounds = 0;
    b->sent = false;
    if (b->group_index) memset(b->group_index, 0xff, (b->group_mask + 1) * sizeof(int32_t));
    arena_reset(&b->scratch);
}

/* Drains up to a batch of records into `b` (parked ones first) and
 * decides what L1 and the rules alone can; the rest is grouped. */
static bool assemble(store_worker_t *sw, batch_t *b, dedup_inputs_t *in, bool stopping)
{
    reset_batch(b);
    int64_t now_ns = clock_mono_ns();
    /* Parked alerts first: they are older than anything in the ring. */
    if (sw->parked && (now_ns >= sw->next_park_ns || stopping)) {
        parked_t *p = sw->parked;
        sw->parked = NULL;
        sw->n_parked = 0;
        sw->next_park_ns = 0;
        while (p) {
            parked_t *next = p->next;
            item_t *it = new_item(b);
            it->rec = p->rec;
            it->len = p->len;
            it->parked_copy = p->rec;
            free(p);
            p = next;
            b->from_park++;
        }
    }
    /* Records are decided where they are: held in their ring (ring_hold)
     * until the step has acted on the whole batch, then released
     * (release_held). Copying them out was ~1.5% of a run's CPU. */
    size_t len;
    void *rec;
    size_t taken = 0;
    /* Each batch starts at the next ring, so a busy one cannot starve
     * the others. */
    sw->ring_turn++;
    for (size_t r = 0; r < in->n; r++) {
        size_t which = (sw->ring_turn + r) % in->n;
        const char *fetched = NULL; /* prefetched up to here in this ring */
        while (taken < sw->conf.batch && (rec = dedup_inputs_peek(in, which, &len))) {
            /* A backlog's records were written long before this worker
             * (the slower stage with Redis) reaches them: out of cache,
             * and each record's header tells where the next one starts,
             * so every record was a miss in turn (ring_peek and
             * alert_rec_read ~10% of the dedup thread's samples in a
             * launch-day run, 2% with the memory store, whose worker
             * keeps up). Records lie one after the other: the lines
             * ahead are asked for while this one is read. A line past
             * the ring's end is only a hint that fetches nothing useful. */
            const char *ahead = (const char *)rec + len + RECORD_PREFETCH_BYTES;
            if (!fetched || fetched < (const char *)rec || fetched > ahead)
                fetched = (const char *)rec;
            for (; fetched < ahead; fetched += CACHELINE) __builtin_prefetch(fetched, 0, 3);
            ring_hold(in->rings[which]);
            item_t *it = new_item(b);
            it->rec = rec;
            it->len = len;
            taken++;
        }
    }
    if (b->n_items > b->cap_groups) {
        size_t cap = 64;
        while (cap < b->n_items) cap <<= 1;
        b->groups = xrealloc(b->groups, cap * sizeof(group_t));
        b->group_index = xrealloc(b->group_index, 2 * cap * sizeof(int32_t));
        b->cap_groups = cap;
        b->group_mask = 2 * cap - 1;
        memset(b->group_index, 0xff, 2 * cap * sizeof(int32_t));
    }
    if (b->n_items == 0) return false;
    b->redis = store_conn_ready(sw->conn);
    if (b->redis && sw->was_down) {
        /* Back from an outage: what the fallback table decided alone
         * is stale now (other instances went on); the next outage
         * starts it afresh rather than suppress on old state. */
        dedup_table_clear(sw->fallback);
        sw->was_down = false;
    }
    for (size_t i = 0; i < b->n_items; i++) {
        item_t *it = &b->items[i];
        load_item(sw, b, it);
        if (it->state == IT_SKIP) continue;
        /* What needs no round is acted on now, while its record and
         * decoded alert are still in the cache: the decision log, top
         * sketch and counters read them again, and in a pass after the
         * round (the batch's others; ~850 KiB for 1,024 alerts) they were
         * misses. A fingerprint's own decisions keep their order: once
         * one of its alerts joins a group, the rest of the batch's do. */
        if (sw->rules && sw->rules->pre(sw->rules_ctx, &it->a, &it->inc)) {
            act_now(sw, it);
            continue;
        }
        if (!b->redis) {
            it->state = IT_FALLBACK;
            continue;
        }
        uint64_t fp = it->a.fingerprint;
        if (i >= b->from_park && group_of(b, fp, false) < 0 && decide_local(sw, it, now_ns)) {
            act_now(sw, it);
            continue;
        }
        add_item_to_group(b, i, i < b->from_park);
    }
    return true;
}

/* The batch is acted on (parked records were copied): its records, and
 * the ticks between them, go back to their rings' producers. */
static void release_held(dedup_inputs_t *in)
{
    for (size_t r = 0; r < in->n; r++) {
        ring_release_held(in->rings[r]);
        ring_wake_producer(in->rings[r]);
    }
}

/* One step: a batch drained, decided (its rounds carry the confirms of
 * the forwards delivered since the last round) and acted on; confirms and
 * count flushes that no round carried get a round of their own. */
static bool step(store_worker_t *sw, dedup_inputs_t *in, bool stopping)
{
    batch_t *b = &sw->batch;
    bool worked = assemble(sw, b, in, stopping);
    collect_delivered(sw);
    if (b->n_items) finish(sw, b);
    release_held(in);
    bool flush_due = clock_mono_ns() >= sw->next_flush_ns && (sw->n_dirty || sw->n_evicted);
    if (sw->n_releases || flush_due) run_pre(sw);
    if (stopping) {
        poll_outstanding(sw, true);
        flush_dirty(sw);
        run_pre(sw);
    }
    return worked;
}

bool store_worker_step(store_worker_t *sw, dedup_inputs_t *in, bool stopping)
{
    /* One rule set for the whole batch: a reload lands between batches. */
    if (sw->rules) {
        sw->rules->batch_begin(sw->rules_ctx);
        sw->ctx.noise = sw->rules->noise ? sw->rules->noise(sw->rules_ctx) : NULL;
    }
    bool worked = step(sw, in, stopping);
    sw->ctx.noise = NULL; /* it points into the rule set released below */
    if (sw->rules) sw->rules->batch_end(sw->rules_ctx);
    return worked;
}

int store_worker_wait_ms(const store_worker_t *sw, int cap_ms)
{
    if (sw->out_n || sw->n_releases) return 0;
    int64_t due = INT64_MAX;
    if (sw->n_dirty || sw->n_evicted) due = sw->next_flush_ns;
    if (sw->parked && sw->next_park_ns && sw->next_park_ns < due) due = sw->next_park_ns;
    if (due == INT64_MAX) return cap_ms;
    int64_t ms = (due - clock_mono_ns() + 999999) / 1000000;
    return ms < 1 ? 1 : ms > cap_ms ? cap_ms : (int)ms;
}

bool store_worker_busy(const store_worker_t *sw)
{
    return sw->out_n > 0 || sw->parked != NULL || sw->n_dirty > 0 || sw->n_evicted > 0 ||
           sw->n_releases > 0;
}
