/*
 * Grouping: alerts of one route with equal group_by label values form one
 * group, and a group's notifications follow Alertmanager's timing:
 *
 *   - the first notification group_wait after the group was created;
 *   - after a change (a new alert, or one whose status differs from what
 *     was last notified) an update, but not sooner than group_interval
 *     after the previous notification;
 *   - when nothing changed for repeat_interval, a reminder;
 *   - when every alert is resolved, one resolved notification, then the
 *     group closes (a group resolved before its first notification closes
 *     silently: nobody was paged, so there is nothing to resolve).
 *
 * An alert resolves by a resolved occurrence, or (resolve_timeout set) by
 * not occurring again: each firing alert has an end on the groups' clock
 * (router_alert_ends_ms: its endsAt, else its last occurrence +
 * resolve_timeout, Alertmanager's rule). The group's timer is the earlier
 * of its next flush (`flush_ms`) and its earliest end (`expires_ms`); when
 * an end passes, the group first asks `seen` whether the alert occurred
 * since (the dedup workers fold repeats, so the router is not told of
 * them), then marks it resolved: a change, notified at the next update
 * (group_interval), as any resolve. An alert that comes back within the
 * dedup window of its last occurrence is folded into its still-open
 * incident, so no forward would reopen it: it is watched (`lapsed`, a
 * copy) until that window has passed, asking `seen` every second, and a
 * firing occurrence since its end reopens it as a forward would.
 *
 * Pure and single-threaded over a driven clock (the caller passes now_ms):
 * the router thread in production, the test in tests. Each group has one
 * timer, on a hashed timer wheel (intrusive list per slot): adding,
 * moving and firing a timer is O(1), and a tick visits one slot, so a
 * million idle groups cost a few hundred list steps per tick, never a walk
 * over every group (Alertmanager's 30 s maintenance pause).
 *
 * At-least-once: a group carries the input holds (msg_track_t) of the
 * alerts that changed it until its next notification, which takes them
 * over; an alert that changes nothing already notified is released at
 * once.
 *
 * Delivery seen by the group (group_table_track_delivery; the notifier
 * turns it on): each notification also carries one unit of the group's
 * own counter (`ack`, a msg_track_t no consumer window owns), released by
 * every path that releases input holds: delivered, dead-lettered, acked
 * by the broker. So `ack.pending` counts the group's notifications not yet
 * confirmed, without a callback or a lookup on the delivery path. A save
 * (group_table_save) writes a group with one unconfirmed as not sent
 * (changed, resolved alerts it dropped put back), so a restart after a
 * crash sends it again: a possible duplicate, never a lost page. A group
 * that closes while one is unconfirmed waits on `closing` (the delivery
 * still points at its counter) and is saved from there.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "router_int.h"

#define WHEEL_SLOTS 4096 /* power of two */

typedef struct tw_node tw_node_t;
struct tw_node {
    tw_node_t *prev, *next;
    int64_t due_ms;
};

enum { SENT_NONE = 0, SENT_FIRING, SENT_RESOLVED };

typedef struct {
    alert_t *alert; /* owned deep copy: one allocation */
    incident_t inc;
    enrichment_t enrich;
    int64_t ends_ms; /* firing: when it resolves without news (0 = never) */
    int64_t seen_ms; /* its last occurrence known, on the groups' clock */
    uint8_t sent;    /* what the last notification said about it */
} entry_t;

/* An alert resolved by time while dedup may still fold its comeback. */
typedef struct {
    const route_t *route;
    alert_t *alert; /* owned copy, as it was firing */
    incident_t inc;
    enrichment_t enrich;
    int64_t since_ms; /* its end: a later occurrence reopens it */
    int64_t until_ms; /* its last occurrence + the dedup window */
} lapsed_t;

typedef struct group group_t;
struct group {
    tw_node_t timer; /* first: a timer node is its group */
    group_t *hnext;
    uint64_t id;
    const route_t *route;
    char *key;
    label_t *labels; /* point into label_bytes */
    uint32_t n_labels;
    char *label_bytes;
    entry_t *entries;
    size_t n_entries, cap_entries;
    uint32_t *index; /* fingerprint -> entry + 1, open addressing; 0 = empty */
    size_t index_cap;
    msg_track_t **tracks;
    size_t n_tracks, cap_tracks;
    uint64_t folded;
    int64_t last_notify_ms;
    int64_t flush_ms;   /* the next flush (the timer is this or expires_ms) */
    int64_t expires_ms; /* no firing entry ends before this (0 = none ends) */
    bool notified;      /* a firing notification went out */
    bool changed;
    /* Delivery tracking (gt->track_delivery): notifications not yet
     * confirmed hold units of `ack`; the rest is the state as of the last
     * time none was (see settle()). */
    msg_track_t ack;
    int64_t acked_last_ms; /* last_notify_ms when last none was pending */
    entry_t *told;         /* resolved entries dropped since then */
    size_t n_told, cap_told;
};

struct group_table {
    tw_node_t slots[WHEEL_SLOTS]; /* sentinels */
    int64_t tick_ms;
    int64_t cur_tick; /* last tick processed */
    group_t **buckets;
    size_t n_buckets;
    size_t n_groups;
    size_t held;
    notify_fn fn;
    void *ctx;
    group_muted_fn muted; /* NULL: routes are never muted */
    void *muted_ctx;
    group_hold_fn hold; /* NULL: a firing notification goes when due */
    void *hold_ctx;
    int64_t resolve_timeout_ms; /* 0: alerts resolve only when told */
    group_seen_fn seen;         /* NULL: only group_table_add tells */
    void *seen_ctx;
    bool refresh;    /* shared groups: a NOTIFY_REFRESH when an alert's end moved
                      * on, a NOTIFY_UNTOLD for a group never notified here */
    int64_t fold_ms; /* dedup.window: how long a comeback may be folded */
    lapsed_t *lapsed;
    size_t n_lapsed, cap_lapsed;
    int64_t lapsed_due_ms; /* the next look at them */
    bool track_delivery;
    group_t *closing; /* closed while a notification was unconfirmed (hnext) */
    size_t n_closing;
    /* scratch for notifications */
    notify_alert_t *scratch;
    uint64_t *elsewhere; /* scratch_cap of them: resolved by another instance */
    size_t scratch_cap;
    char *keybuf;
    size_t keybuf_cap;
};

/* ---- timer wheel ------------------------------------------------------ */

static void tw_unlink(tw_node_t *n)
{
    if (!n->prev) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

static void tw_insert(group_table_t *gt, tw_node_t *n, int64_t due_ms)
{
    tw_unlink(n);
    n->due_ms = due_ms;
    int64_t tick = due_ms / gt->tick_ms;
    /* A tick already processed would only be seen a revolution later. */
    if (tick <= gt->cur_tick) tick = gt->cur_tick + 1;
    tw_node_t *head = &gt->slots[tick & (WHEEL_SLOTS - 1)];
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

/* The group's timer: its next flush, or sooner the earliest end of its
 * firing alerts. */
static void arm(group_table_t *gt, group_t *g, int64_t flush_ms)
{
    g->flush_ms = flush_ms;
    int64_t due = g->expires_ms && g->expires_ms < flush_ms ? g->expires_ms : flush_ms;
    tw_insert(gt, &g->timer, due);
}

/* ---- alert copies ----------------------------------------------------- */

static alert_t *alert_clone(const alert_t *a)
{
    size_t bytes = sizeof(alert_t) + sizeof(label_t) * (a->n_labels + a->n_annotations);
    for (uint32_t i = 0; i < a->n_labels; i++)
        bytes += a->labels[i].name.len + a->labels[i].value.len;
    for (uint32_t i = 0; i < a->n_annotations; i++)
        bytes += a->annotations[i].name.len + a->annotations[i].value.len;
    bytes += a->generator_url.len + a->source.len + 1;
    alert_t *c = malloc(bytes);
    if (!c) return NULL;
    *c = *a;
    c->labels = (label_t *)(c + 1);
    c->annotations = c->labels + a->n_labels;
    char *p = (char *)(c->annotations + a->n_annotations);
#define COPY(dst, src)                                                                             \
    do {                                                                                           \
        (dst).ptr = p;                                                                             \
        (dst).len = (src).len;                                                                     \
        if ((src).len) memcpy(p, (src).ptr, (src).len);                                            \
        p += (src).len;                                                                            \
    } while (0)
    for (uint32_t i = 0; i < a->n_labels; i++) {
        COPY(c->labels[i].name, a->labels[i].name);
        COPY(c->labels[i].value, a->labels[i].value);
    }
    for (uint32_t i = 0; i < a->n_annotations; i++) {
        COPY(c->annotations[i].name, a->annotations[i].name);
        COPY(c->annotations[i].value, a->annotations[i].value);
    }
    COPY(c->generator_url, a->generator_url);
    COPY(c->source, a->source);
#undef COPY
    return c;
}

/* ---- group keys ------------------------------------------------------- */

static bool keybuf_put(group_table_t *gt, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > gt->keybuf_cap) {
        size_t cap = gt->keybuf_cap ? gt->keybuf_cap : 256;
        while (cap < *len + n + 1) cap *= 2;
        char *b = realloc(gt->keybuf, cap);
        if (!b) return false;
        gt->keybuf = b;
        gt->keybuf_cap = cap;
    }
    memcpy(gt->keybuf + *len, s, n);
    *len += n;
    gt->keybuf[*len] = '\0';
    return true;
}

static bool keybuf_quoted(group_table_t *gt, size_t *len, str_t s)
{
    bool ok = keybuf_put(gt, len, "\"", 1);
    for (uint32_t i = 0; ok && i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '"' || c == '\\') ok = keybuf_put(gt, len, "\\", 1);
        if (c == '\n')
            ok = ok && keybuf_put(gt, len, "\\n", 2);
        else
            ok = ok && keybuf_put(gt, len, &c, 1);
    }
    return ok && keybuf_put(gt, len, "\"", 1);
}

static bool wanted(const route_t *r, str_t name, size_t *gi)
{
    if (r->group_by_all) return true;
    /* Both sides are sorted: advance the group_by cursor. */
    while (*gi < r->n_group_by) {
        size_t gl = strlen(r->group_by[*gi]);
        size_t m = gl < name.len ? gl : name.len;
        int c = memcmp(r->group_by[*gi], name.ptr, m);
        if (c == 0) c = gl < name.len ? -1 : gl > name.len ? 1 : 0;
        if (c == 0) return true;
        if (c > 0) return false;
        (*gi)++;
    }
    return false;
}

/* Builds "ROUTEKEY:{a=\"1\", b=\"2\"}" into gt->keybuf; returns its length
 * and the number of group labels, 0 on OOM. */
static size_t build_key(group_table_t *gt, const route_t *r, const alert_t *a, uint32_t *n_group)
{
    size_t len = 0;
    *n_group = 0;
    if (!keybuf_put(gt, &len, r->key, strlen(r->key)) || !keybuf_put(gt, &len, ":{", 2)) return 0;
    size_t gi = 0;
    for (uint32_t i = 0; i < a->n_labels; i++) {
        if (!wanted(r, a->labels[i].name, &gi)) continue;
        if ((*n_group && !keybuf_put(gt, &len, ", ", 2)) ||
            !keybuf_put(gt, &len, a->labels[i].name.ptr, a->labels[i].name.len) ||
            !keybuf_put(gt, &len, "=", 1) || !keybuf_quoted(gt, &len, a->labels[i].value))
            return 0;
        (*n_group)++;
    }
    return keybuf_put(gt, &len, "}", 1) ? len : 0;
}

/* ---- ends ------------------------------------------------------------- */

int64_t router_alert_ends_ms(int64_t ends_at_ms, int64_t event_ms, int64_t seen_ms,
                             int64_t resolve_timeout_ms)
{
    if (!ends_at_ms) return seen_ms + resolve_timeout_ms;
    int64_t left = ends_at_ms - (event_ms ? event_ms : seen_ms);
    return seen_ms + (left > 0 ? left : 0);
}

/* ---- table ------------------------------------------------------------ */

group_table_t *group_table_new(int64_t now_ms, int64_t tick_ms, notify_fn fn, void *ctx)
{
    group_table_t *gt = calloc(1, sizeof(*gt));
    if (!gt) return NULL;
    gt->tick_ms = tick_ms > 0 ? tick_ms : 10;
    gt->cur_tick = now_ms / gt->tick_ms;
    for (size_t i = 0; i < WHEEL_SLOTS; i++) gt->slots[i].prev = gt->slots[i].next = &gt->slots[i];
    gt->n_buckets = 1024;
    gt->buckets = calloc(gt->n_buckets, sizeof(*gt->buckets));
    gt->fn = fn;
    gt->ctx = ctx;
    if (!gt->buckets) {
        free(gt);
        return NULL;
    }
    return gt;
}

static void told_clear(group_t *g)
{
    for (size_t i = 0; i < g->n_told; i++) free(g->told[i].alert);
    g->n_told = 0;
}

static void group_free(group_t *g)
{
    for (size_t i = 0; i < g->n_entries; i++) free(g->entries[i].alert);
    told_clear(g);
    free(g->told);
    free(g->entries);
    free(g->index);
    free(g->tracks);
    free(g->key);
    free(g->labels);
    free(g->label_bytes);
    free(g);
}

void group_table_destroy(group_table_t *gt)
{
    if (!gt) return;
    /* Deliveries still pointing at a closing group's counter are the
     * notifier's, freed before this without touching it. */
    for (group_t *g = gt->closing, *next; g; g = next) {
        next = g->hnext;
        group_free(g);
    }
    for (size_t b = 0; b < gt->n_buckets; b++) {
        for (group_t *g = gt->buckets[b], *next; g; g = next) {
            next = g->hnext;
            group_free(g);
        }
    }
    for (size_t i = 0; i < gt->n_lapsed; i++) free(gt->lapsed[i].alert);
    free(gt->lapsed);
    free(gt->buckets);
    free(gt->scratch);
    free(gt->elsewhere);
    free(gt->keybuf);
    free(gt);
}

size_t group_table_count(const group_table_t *gt) { return gt->n_groups; }

size_t group_table_watched(const group_table_t *gt) { return gt->n_lapsed; }
size_t group_table_held(const group_table_t *gt) { return gt->held; }

static void table_grow(group_table_t *gt)
{
    size_t nb = gt->n_buckets * 2;
    group_t **b = calloc(nb, sizeof(*b));
    if (!b) return; /* chains get longer; still correct */
    for (size_t i = 0; i < gt->n_buckets; i++) {
        for (group_t *g = gt->buckets[i], *next; g; g = next) {
            next = g->hnext;
            g->hnext = b[g->id & (nb - 1)];
            b[g->id & (nb - 1)] = g;
        }
    }
    free(gt->buckets);
    gt->buckets = b;
    gt->n_buckets = nb;
}

static bool unconfirmed(const group_t *g)
{
    return atomic_load_explicit(&g->ack.pending, memory_order_acquire) > 0;
}

static void table_remove(group_table_t *gt, group_t *g)
{
    group_t **pp = &gt->buckets[g->id & (gt->n_buckets - 1)];
    while (*pp != g) pp = &(*pp)->hnext;
    *pp = g->hnext;
    tw_unlink(&g->timer);
    gt->n_groups--;
    if (unconfirmed(g)) {
        /* A delivery still holds &g->ack: keep the group until it is
         * confirmed (closing_sweep), and save it meanwhile. */
        g->hnext = gt->closing;
        gt->closing = g;
        gt->n_closing++;
        return;
    }
    group_free(g);
}

/* Frees the closing groups whose last notification was confirmed. */
static void closing_sweep(group_table_t *gt)
{
    for (group_t **pp = &gt->closing; *pp;) {
        group_t *g = *pp;
        if (unconfirmed(g)) {
            pp = &g->hnext;
            continue;
        }
        *pp = g->hnext;
        gt->n_closing--;
        group_free(g);
    }
}

void group_table_track_delivery(group_table_t *gt) { gt->track_delivery = true; }

size_t group_table_closing(group_table_t *gt)
{
    closing_sweep(gt);
    return gt->n_closing;
}

static group_t *group_create(group_table_t *gt, const route_t *r, const alert_t *a, size_t keylen,
                             uint32_t n_group, uint64_t id, int64_t now_ms)
{
    group_t *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->id = id;
    g->route = r;
    g->key = malloc(keylen + 1);
    size_t bytes = 1;
    size_t gi = 0;
    for (uint32_t i = 0; i < a->n_labels; i++)
        if (wanted(r, a->labels[i].name, &gi))
            bytes += a->labels[i].name.len + a->labels[i].value.len;
    g->label_bytes = malloc(bytes);
    g->labels = calloc(n_group + 1, sizeof(label_t));
    if (!g->key || !g->label_bytes || !g->labels) {
        group_free(g);
        return NULL;
    }
    memcpy(g->key, gt->keybuf, keylen + 1);
    char *p = g->label_bytes;
    gi = 0;
    for (uint32_t i = 0; i < a->n_labels; i++) {
        if (!wanted(r, a->labels[i].name, &gi)) continue;
        label_t *l = &g->labels[g->n_labels++];
        memcpy(p, a->labels[i].name.ptr, a->labels[i].name.len);
        l->name = (str_t){p, a->labels[i].name.len};
        p += a->labels[i].name.len;
        memcpy(p, a->labels[i].value.ptr, a->labels[i].value.len);
        l->value = (str_t){p, a->labels[i].value.len};
        p += a->labels[i].value.len;
    }
    size_t b = id & (gt->n_buckets - 1);
    g->hnext = gt->buckets[b];
    gt->buckets[b] = g;
    gt->n_groups++;
    arm(gt, g, now_ms + r->group_wait_ms);
    if (gt->n_groups > gt->n_buckets) table_grow(gt);
    return g;
}

static uint32_t *index_slot(group_t *g, uint64_t fp)
{
    size_t mask = g->index_cap - 1;
    for (size_t i = (size_t)(fp * 0x9E3779B97F4A7C15ULL >> 32) & mask;; i = (i + 1) & mask) {
        uint32_t e = g->index[i];
        if (!e || g->entries[e - 1].alert->fingerprint == fp) return &g->index[i];
    }
}

static bool index_rebuild(group_t *g)
{
    size_t cap = 16;
    while (cap < g->n_entries * 2 + 2) cap *= 2;
    uint32_t *idx = calloc(cap, sizeof(*idx));
    if (!idx) return false;
    free(g->index);
    g->index = idx;
    g->index_cap = cap;
    for (size_t i = 0; i < g->n_entries; i++)
        *index_slot(g, g->entries[i].alert->fingerprint) = (uint32_t)(i + 1);
    return true;
}

static entry_t *entry_find(group_t *g, uint64_t fp)
{
    if (!g->index_cap) return NULL;
    uint32_t e = *index_slot(g, fp);
    return e ? &g->entries[e - 1] : NULL;
}

/* Room for one more track in g->tracks. */
static bool tracks_room(group_t *g)
{
    if (g->n_tracks < g->cap_tracks) return true;
    size_t cap = g->cap_tracks ? g->cap_tracks * 2 : 4;
    msg_track_t **t = realloc(g->tracks, cap * sizeof(*t));
    if (!t) return false;
    g->tracks = t;
    g->cap_tracks = cap;
    return true;
}

static bool hold(group_table_t *gt, group_t *g, msg_track_t *track)
{
    if (!track) return true;
    if (!tracks_room(g)) return false;
    g->tracks[g->n_tracks++] = track;
    gt->held++;
    return true;
}

static void mark_changed(group_table_t *gt, group_t *g, int64_t now_ms)
{
    g->changed = true;
    if (!g->notified) return; /* the first notification is at group_wait */
    int64_t due = g->last_notify_ms + g->route->group_interval_ms;
    if (due < now_ms) due = now_ms;
    if (due < g->flush_ms || !g->timer.prev) arm(gt, g, due);
}

/* A firing entry's end: the group's timer comes no later than it. */
static void expiry_note(group_table_t *gt, group_t *g, int64_t ends_ms)
{
    if (!ends_ms || (g->expires_ms && g->expires_ms <= ends_ms)) return;
    g->expires_ms = ends_ms;
    if (g->timer.prev && ends_ms < g->timer.due_ms) tw_insert(gt, &g->timer, ends_ms);
}

/* The group `a` belongs to on `route`, NULL when it has none yet; its key
 * is left in gt->keybuf (*keylen bytes: 0 when out of memory), with its
 * hash and group-label count, for group_create. */
static group_t *group_lookup(group_table_t *gt, const route_t *route, const alert_t *a,
                             size_t *keylen, uint32_t *n_group, uint64_t *id)
{
    *keylen = build_key(gt, route, a, n_group);
    if (!*keylen) return NULL;
    *id = XXH3_64bits(gt->keybuf, *keylen);
    group_t *g = gt->buckets[*id & (gt->n_buckets - 1)];
    while (g && (g->id != *id || strcmp(g->key, gt->keybuf) != 0)) g = g->hnext;
    return g;
}

static group_t *group_find(group_table_t *gt, const route_t *route, const alert_t *a)
{
    size_t keylen;
    uint32_t n_group;
    uint64_t id;
    return group_lookup(gt, route, a, &keylen, &n_group, &id);
}

qerr_t group_table_add(group_table_t *gt, const route_t *route, const alert_t *a,
                       const incident_t *inc, const enrichment_t *en, msg_track_t *track,
                       int64_t now_ms)
{
    size_t keylen;
    uint32_t n_group;
    uint64_t id;
    group_t *g = group_lookup(gt, route, a, &keylen, &n_group, &id);
    if (!keylen) return QERR_NOMEM;
    if (!g) g = group_create(gt, route, a, keylen, n_group, id, now_ms);
    if (!g) return QERR_NOMEM;

    alert_t *copy = alert_clone(a);
    if (!copy) return QERR_NOMEM;
    g->folded += 1;
    uint8_t status = a->status == ALERT_RESOLVED ? SENT_RESOLVED : SENT_FIRING;
    entry_t *e = entry_find(g, a->fingerprint);
    if (!e) {
        if (g->n_entries == g->cap_entries) {
            size_t cap = g->cap_entries ? g->cap_entries * 2 : 4;
            entry_t *ne = realloc(g->entries, cap * sizeof(*ne));
            if (!ne) {
                free(copy);
                return QERR_NOMEM;
            }
            g->entries = ne;
            g->cap_entries = cap;
        }
        e = &g->entries[g->n_entries++];
        *e = (entry_t){.alert = copy};
        if (g->n_entries * 2 + 2 > g->index_cap) {
            if (!index_rebuild(g)) {
                g->n_entries--;
                free(copy);
                return QERR_NOMEM;
            }
        } else {
            *index_slot(g, a->fingerprint) = (uint32_t)g->n_entries;
        }
    } else {
        free(e->alert);
        e->alert = copy;
    }
    e->inc = *inc;
    if (en) e->enrich = *en;
    e->seen_ms = now_ms;
    e->ends_ms =
        status == SENT_FIRING && gt->resolve_timeout_ms
            ? router_alert_ends_ms(a->ends_at_ms, a->event_time_ms, now_ms, gt->resolve_timeout_ms)
            : 0;
    expiry_note(gt, g, e->ends_ms);
    if (e->sent == status && !g->changed) {
        /* Already notified in this state: folded in, nothing new to say. */
        track_done(track);
        return QERR_OK;
    }
    if (!hold(gt, g, track)) return QERR_NOMEM;
    if (e->sent != status) mark_changed(gt, g, now_ms);
    return QERR_OK;
}

/* ---- notifications ---------------------------------------------------- */

bool group_table_has(group_table_t *gt, const route_t *route, const alert_t *a)
{
    group_t *g = group_find(gt, route, a);
    return g && entry_find(g, a->fingerprint);
}

/* Delivery tracking: when none of g's notifications is unconfirmed, its
 * current state is what receivers have; remember it. Called before each
 * notification, so the remembered state is at worst older (a duplicate
 * after a crash), never newer, than what was confirmed. */
static void settle(group_t *g)
{
    if (unconfirmed(g)) return;
    g->acked_last_ms = g->last_notify_ms;
    told_clear(g);
}

/* The group's alerts as one notification (firing first) into gt->scratch;
 * false on OOM. No holds. */
static bool compose(group_table_t *gt, group_t *g, notify_kind_t kind, int64_t now_ms,
                    notification_t *note)
{
    if (gt->scratch_cap < g->n_entries) {
        notify_alert_t *s = realloc(gt->scratch, g->n_entries * sizeof(*s));
        if (!s) return false;
        gt->scratch = s;
        uint64_t *w = realloc(gt->elsewhere, g->n_entries * sizeof(*w));
        if (!w) return false;
        gt->elsewhere = w;
        gt->scratch_cap = g->n_entries;
    }
    size_t n = 0, n_firing = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < g->n_entries; i++) {
            entry_t *e = &g->entries[i];
            bool firing = e->alert->status != ALERT_RESOLVED;
            if (firing != (pass == 0)) continue;
            gt->scratch[n++] =
                (notify_alert_t){e->alert, &e->inc, e->enrich, e->ends_ms, e->seen_ms};
            n_firing += firing;
        }
    }
    *note = (notification_t){
        .kind = kind,
        .route = g->route,
        .group_key = g->key,
        .group_id = g->id,
        .group_labels = g->labels,
        .n_group_labels = g->n_labels,
        .alerts = gt->scratch,
        .n_alerts = n,
        .n_firing = n_firing,
        .folded = g->folded,
        .now_ms = now_ms,
    };
    return true;
}

/* A firing entry resolved (by time, or elsewhere): its endsAt is its own,
 * else `end_ms`. A change. */
static void resolve_entry(group_table_t *gt, group_t *g, entry_t *e, int64_t end_ms, int64_t now_ms)
{
    e->alert->status = ALERT_RESOLVED;
    if (!e->alert->ends_at_ms) e->alert->ends_at_ms = end_ms;
    e->ends_ms = 0;
    mark_changed(gt, g, now_ms);
}

/* Firing entries another instance resolved since this one last saw them
 * (shared groups: their partitions moved; the gate said so): resolved
 * here too, a change, so the group moves on to its update or resolved. */
static void resolve_elsewhere(group_table_t *gt, group_t *g, size_t n, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        entry_t *e = entry_find(g, gt->elsewhere[i]);
        if (e && e->alert->status != ALERT_RESOLVED) resolve_entry(gt, g, e, now_ms, now_ms);
    }
}

static void notify(group_table_t *gt, group_t *g, notify_kind_t kind, int64_t now_ms)
{
    notification_t note;
    size_t n_elsewhere = 0;
    /* On OOM: retried at the next tick, the group keeps its holds. */
    if (!compose(gt, g, kind, now_ms, &note)) return;
    note.resolved_elsewhere = gt->elsewhere;
    note.n_resolved_elsewhere = &n_elsewhere;
    if (kind == NOTIFY_REFRESH) { /* tells, sends nothing */
        gt->fn(gt->ctx, &note);
        resolve_elsewhere(gt, g, n_elsewhere, now_ms);
        return;
    }
    size_t n_holds = g->n_tracks;
    if (gt->track_delivery) {
        if (!tracks_room(g)) return;
        settle(g);
        /* One unit of the group's counter rides with the input holds:
         * released where they are, so the group learns of the delivery
         * without a callback (see the note at the top). */
        track_add(&g->ack, 1);
        g->tracks[g->n_tracks++] = &g->ack;
    }
    note.tracks = g->tracks;
    note.n_tracks = g->n_tracks;
    gt->fn(gt->ctx, &note);
    gt->held -= n_holds;
    g->n_tracks = 0;
    g->last_notify_ms = now_ms;
    g->changed = false;
    resolve_elsewhere(gt, g, n_elsewhere, now_ms);
}

static void release_all(group_table_t *gt, group_t *g)
{
    for (size_t i = 0; i < g->n_tracks; i++) track_done(g->tracks[i]);
    gt->held -= g->n_tracks;
    g->n_tracks = 0;
}

/* Keeps a resolved entry a notification dropped until that notification
 * is confirmed: a save puts it back (told firing, not told resolved). */
static bool told_keep(group_t *g, const entry_t *e)
{
    if (g->n_told == g->cap_told) {
        size_t cap = g->cap_told ? g->cap_told * 2 : 4;
        entry_t *t = realloc(g->told, cap * sizeof(*t));
        if (!t) return false; /* out of memory: a save then misses it */
        g->told = t;
        g->cap_told = cap;
    }
    g->told[g->n_told++] = *e;
    return true;
}

/* After a firing notification: resolved alerts were told, so they leave. */
static void drop_resolved(group_table_t *gt, group_t *g)
{
    size_t w = 0;
    for (size_t i = 0; i < g->n_entries; i++) {
        entry_t *e = &g->entries[i];
        if (e->alert->status == ALERT_RESOLVED) {
            if (!(gt->track_delivery && unconfirmed(g) && told_keep(g, e))) free(e->alert);
            continue;
        }
        e->sent = SENT_FIRING;
        g->entries[w++] = *e;
    }
    bool shrunk = w != g->n_entries;
    g->n_entries = w;
    if (shrunk)
        index_rebuild(g); /* on OOM the old index stays: lookups
                           * then miss and re-add, still correct */
}

void group_table_set_mute(group_table_t *gt, group_muted_fn fn, void *ctx)
{
    gt->muted = fn;
    gt->muted_ctx = ctx;
}

void group_table_set_hold(group_table_t *gt, group_hold_fn fn, void *ctx)
{
    gt->hold = fn;
    gt->hold_ctx = ctx;
}

void group_table_set_resolve(group_table_t *gt, int64_t resolve_timeout_ms, group_seen_fn seen,
                             void *ctx, bool refresh, int64_t fold_ms)
{
    gt->fold_ms = fold_ms;
    gt->resolve_timeout_ms = resolve_timeout_ms > 0 ? resolve_timeout_ms : 0;
    gt->seen = seen;
    gt->seen_ctx = ctx;
    gt->refresh = refresh;
}

/* A flush while the route is muted (Alertmanager's time muting): nothing
 * is sent and nothing is marked sent. Resolved alerts leave the group (a
 * muted route never tells them; if every alert resolved, the group closes
 * silently); the holds are released, since a mute may last hours and the
 * input offsets must move on. The group is looked at again every
 * group_interval; the first flush after the mute sends what changed (or a
 * reminder when one is due). Returns false when the group closed. */
static bool group_muted(group_table_t *gt, group_t *g, int64_t now_ms)
{
    release_all(gt, g);
    bool changed = g->changed;
    size_t w = 0;
    for (size_t i = 0; i < g->n_entries; i++) {
        entry_t *e = &g->entries[i];
        if (e->alert->status == ALERT_RESOLVED) {
            changed |= e->sent == SENT_FIRING; /* told firing, now gone */
            free(e->alert);
            continue;
        }
        changed |= e->sent != SENT_FIRING;
        g->entries[w++] = *e;
    }
    bool shrunk = w != g->n_entries;
    g->n_entries = w;
    if (w == 0) {
        table_remove(gt, g);
        return false;
    }
    if (shrunk) index_rebuild(g);
    g->changed = changed;
    arm(gt, g, now_ms + g->route->group_interval_ms);
    return true;
}

/* An entry resolving by time whose comeback dedup may fold (its dedup
 * window reaches past its end): watched (see the note at the top). Out of
 * memory: not watched, it reopens at its next forward. */
static void watch(group_table_t *gt, const route_t *r, const alert_t *a, const incident_t *inc,
                  const enrichment_t *en, int64_t since_ms, int64_t until_ms)
{
    if (gt->n_lapsed == gt->cap_lapsed) {
        size_t cap = gt->cap_lapsed ? gt->cap_lapsed * 2 : 16;
        lapsed_t *l = realloc(gt->lapsed, cap * sizeof(*l));
        if (!l) return;
        gt->lapsed = l;
        gt->cap_lapsed = cap;
    }
    alert_t *copy = alert_clone(a);
    if (!copy) return;
    gt->lapsed[gt->n_lapsed++] = (lapsed_t){r, copy, *inc, *en, since_ms, until_ms};
}

static void lapse(group_table_t *gt, group_t *g, const entry_t *e)
{
    int64_t fold =
        g->route->dedup_window_ms > gt->fold_ms ? g->route->dedup_window_ms : gt->fold_ms;
    if (!gt->seen || e->seen_ms + fold <= e->ends_ms) return;
    watch(gt, g->route, e->alert, &e->inc, &e->enrich, e->ends_ms, e->seen_ms + fold);
}

/* Every second: a watched alert that occurred since its end reopens (as
 * its forward would: in its group, or a new one); one whose dedup window
 * passed is let go (its comeback is a new incident, forwarded). */
static void lapsed_watch(group_table_t *gt, int64_t now_ms)
{
    /* Restored from a file before the decision log was handed over: they
     * wait for it. */
    if (!gt->n_lapsed || !gt->seen || now_ms < gt->lapsed_due_ms) return;
    gt->lapsed_due_ms = now_ms + 1000;
    size_t w = 0;
    for (size_t i = 0; i < gt->n_lapsed; i++) {
        lapsed_t *l = &gt->lapsed[i];
        int64_t seen_ms, event_ms, ends_at_ms;
        bool back =
            gt->seen(gt->seen_ctx, l->alert->fingerprint, &seen_ms, &event_ms, &ends_at_ms) &&
            seen_ms > l->since_ms;
        if (back) {
            l->alert->event_time_ms = event_ms;
            l->alert->ends_at_ms = ends_at_ms;
            /* Out of memory: not reopened now; its next forward does. */
            group_table_add(gt, l->route, l->alert, &l->inc, &l->enrich, NULL, seen_ms);
        }
        if (back || now_ms >= l->until_ms) {
            free(l->alert);
            continue;
        }
        gt->lapsed[w++] = *l;
    }
    gt->n_lapsed = w;
}

/* The firing alerts whose end has passed: asks `seen` first (also for
 * those ending within half a resolve_timeout, so one pass covers a group
 * whose alerts go on firing), moves on the ends of those that occurred
 * since, resolves the others (a change). Recomputes expires_ms. */
static void expire(group_table_t *gt, group_t *g, int64_t now_ms)
{
    int64_t next = 0, soon = now_ms + gt->resolve_timeout_ms / 2;
    bool moved = false;
    for (size_t i = 0; i < g->n_entries; i++) {
        entry_t *e = &g->entries[i];
        if (e->alert->status == ALERT_RESOLVED || !e->ends_ms) continue;
        int64_t seen_ms, event_ms, ends_at_ms;
        if (e->ends_ms <= soon && gt->seen &&
            gt->seen(gt->seen_ctx, e->alert->fingerprint, &seen_ms, &event_ms, &ends_at_ms)) {
            int64_t end =
                router_alert_ends_ms(ends_at_ms, event_ms, seen_ms, gt->resolve_timeout_ms);
            if (end > e->ends_ms) {
                e->ends_ms = end;
                e->seen_ms = seen_ms;
                moved = true;
            }
        }
        if (e->ends_ms > now_ms) {
            if (!next || e->ends_ms < next) next = e->ends_ms;
            continue;
        }
        /* Resolved by time, as Alertmanager's ResolvedAt: its endsAt is
         * its own, else when it timed out. */
        lapse(gt, g, e);
        resolve_entry(gt, g, e, e->ends_ms, now_ms);
    }
    g->expires_ms = next;
    if (moved && gt->refresh && g->notified) notify(gt, g, NOTIFY_REFRESH, now_ms);
}

/* Returns false when the group closed (freed). */
static bool group_fire(group_table_t *gt, group_t *g, int64_t now_ms, bool force)
{
    if (g->expires_ms && g->expires_ms <= now_ms) expire(gt, g, now_ms);
    if (!force && g->flush_ms > now_ms) {
        arm(gt, g, g->flush_ms); /* only an end was due */
        return true;
    }
    if (gt->muted && gt->muted(gt->muted_ctx, g->route, now_ms)) return group_muted(gt, g, now_ms);
    size_t n_firing = 0;
    for (size_t i = 0; i < g->n_entries; i++)
        n_firing += g->entries[i].alert->status != ALERT_RESOLVED;
    if (n_firing == 0) {
        if (g->notified)
            notify(gt, g, NOTIFY_RESOLVED, now_ms);
        else if (gt->refresh)
            /* Shared: another instance may have notified these alerts
             * before their partitions moved here; the gate records them
             * resolved and sends the group's resolved if it is the last. */
            notify(gt, g, NOTIFY_UNTOLD, now_ms);
        else
            release_all(gt, g);
        table_remove(gt, g);
        return false;
    }
    const route_t *r = g->route;
    if (g->changed || !g->notified) {
        /* Another instance notified this group lately (group_shared.c):
         * wait for its group_interval, holds kept. Not at shutdown. */
        int64_t until = gt->hold && !force ? gt->hold(gt->hold_ctx, r, g->id, now_ms) : 0;
        if (until > now_ms) {
            arm(gt, g, until);
            return true;
        }
        notify(gt, g, NOTIFY_FIRING, now_ms);
        g->notified = true;
        drop_resolved(gt, g);
    } else if (!force && now_ms - g->last_notify_ms >= r->repeat_interval_ms) {
        notify(gt, g, NOTIFY_REMINDER, now_ms);
    }
    /* Changed already: alerts the gate said were resolved elsewhere. */
    arm(gt, g, g->last_notify_ms + (g->changed ? r->group_interval_ms : r->repeat_interval_ms));
    return true;
}

static void fire_slot(group_table_t *gt, tw_node_t *head, int64_t now_ms)
{
    /* Detach the slot: firing may put timers back into it. */
    tw_node_t list = *head;
    if (list.next == head) return;
    list.next->prev = &list;
    list.prev->next = &list;
    head->next = head->prev = head;
    while (list.next != &list) {
        tw_node_t *n = list.next;
        tw_unlink(n);
        if (n->due_ms <= now_ms)
            group_fire(gt, (group_t *)n, now_ms, false);
        else
            tw_insert(gt, n, n->due_ms);
    }
}

void group_table_advance(group_table_t *gt, int64_t now_ms)
{
    if (gt->closing) closing_sweep(gt);
    lapsed_watch(gt, now_ms);
    int64_t target = now_ms / gt->tick_ms;
    if (target <= gt->cur_tick) return;
    if (target - gt->cur_tick >= WHEEL_SLOTS) {
        /* Far behind (a driven clock jumped): one pass over every slot. */
        gt->cur_tick = target;
        for (size_t i = 0; i < WHEEL_SLOTS; i++) fire_slot(gt, &gt->slots[i], now_ms);
        return;
    }
    while (gt->cur_tick < target) {
        gt->cur_tick++;
        fire_slot(gt, &gt->slots[gt->cur_tick & (WHEEL_SLOTS - 1)], now_ms);
    }
}

void group_table_flush(group_table_t *gt, int64_t now_ms)
{
    for (size_t b = 0; b < gt->n_buckets; b++) {
        for (group_t *g = gt->buckets[b], *next; g; g = next) {
            next = g->hnext;
            if (g->changed || !g->notified || g->n_tracks) group_fire(gt, g, now_ms, true);
        }
    }
}

/* ---- snapshot --------------------------------------------------------- */

/* Groups survive a restart through a file: per group its route (id and
 * key, so a changed config drops what no longer fits), notification state
 * and alerts (the ring's alert record format). Holds are not saved: the
 * input they stand for is not committed, so it is read again after a
 * restart and folds into the restored group. Little-endian host layout:
 * the file is for the same build on the same host, like the dedup one. */
#define SNAP_MAGIC "QUELLGRP1\n"

static bool wr(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n; }
static bool rd(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n; }

typedef struct {
    void *rec;
    size_t cap;
} rec_buf_t;

/* flags (what was sent, enrichment), incident, alert record: an entry's
 * and a watched alert's common part. */
static bool write_alert(FILE *f, uint8_t sent, const enrichment_t *en, const incident_t *incident,
                        const alert_t *a, rec_buf_t *rb)
{
    incident_t inc = *incident;
    inc.rule = NULL; /* a pointer into this process's rule set */
    uint64_t len = alert_rec_size(a);
    if (len > rb->cap) {
        void *nr = realloc(rb->rec, len);
        if (!nr) return false;
        rb->rec = nr;
        rb->cap = len;
    }
    alert_rec_write(rb->rec, a, NULL);
    uint8_t flags = (uint8_t)(sent | (en->novel ? 4 : 0) | (en->urgency_high ? 8 : 0));
    return wr(f, &flags, 1) && wr(f, &inc, sizeof(inc)) && wr(f, &len, 8) && wr(f, rb->rec, len);
}

static bool write_entry(FILE *f, const entry_t *e, rec_buf_t *rb)
{
    return write_alert(f, e->sent, &e->enrich, &e->inc, e->alert, rb);
}

static bool write_route(FILE *f, const route_t *r)
{
    uint32_t route_id = r->id, klen = (uint32_t)strlen(r->key);
    return wr(f, &route_id, 4) && wr(f, &klen, 4) && wr(f, r->key, klen);
}

static bool write_lapsed(FILE *f, const lapsed_t *l, rec_buf_t *rb)
{
    return write_route(f, l->route) && wr(f, &l->since_ms, 8) && wr(f, &l->until_ms, 8) &&
           write_alert(f, 0, &l->enrich, &l->inc, l->alert, rb);
}

/* A group with a notification its receiver has not confirmed is written
 * as if that notification was not sent: `changed`, so the restored group
 * sends an update (or, all resolved, its resolved notification) at its
 * first tick past the last confirmed one + group_interval; the resolved
 * alerts it dropped put back first (a later entry for the same
 * fingerprint wins at load). `notified` stays: a firing notification that
 * may have reached the receiver must be followed by its resolved one. */
static bool write_group(FILE *f, const group_t *g, rec_buf_t *rb)
{
    bool pending = unconfirmed(g);
    int64_t last = pending ? g->acked_last_ms : g->last_notify_ms;
    uint64_t ne = g->n_entries + (pending ? g->n_told : 0);
    uint8_t notified = g->notified, changed = pending || g->changed;
    bool ok = write_route(f, g->route) && wr(f, &last, 8) && wr(f, &g->folded, 8) &&
              wr(f, &notified, 1) && wr(f, &changed, 1) && wr(f, &ne, 8);
    for (size_t i = 0; ok && pending && i < g->n_told; i++) ok = write_entry(f, &g->told[i], rb);
    for (size_t i = 0; ok && i < g->n_entries; i++) ok = write_entry(f, &g->entries[i], rb);
    return ok;
}

qerr_t group_table_save(const group_table_t *const *gts, size_t n_tables, FILE *f)
{
    uint64_t n = 0;
    for (size_t t = 0; t < n_tables; t++) {
        n += gts[t]->n_groups;
        for (const group_t *g = gts[t]->closing; g; g = g->hnext) n += unconfirmed(g);
    }
    bool ok = wr(f, SNAP_MAGIC, strlen(SNAP_MAGIC)) && wr(f, &n, sizeof(n));
    rec_buf_t rb = {0};
    uint64_t written = 0;
    for (size_t t = 0; ok && t < n_tables; t++) {
        const group_table_t *gt = gts[t];
        /* Closing ones first: an open group with the same key (opened
         * since) is written after, so its state wins at load. */
        for (const group_t *g = gt->closing; ok && g; g = g->hnext)
            if (unconfirmed(g)) ok = write_group(f, g, &rb) && ++written;
        for (size_t b = 0; ok && b < gt->n_buckets; b++)
            for (const group_t *g = gt->buckets[b]; ok && g; g = g->hnext)
                ok = write_group(f, g, &rb) && ++written;
    }
    /* Then the watched alerts (lapsed), so a restart goes on watching an
     * alert resolved by time whose comeback dedup may still fold: without
     * them it would stay resolved while it fires again. A file that ends
     * after the groups (an older quell's) has none. */
    uint64_t nl = 0;
    for (size_t t = 0; t < n_tables; t++) nl += gts[t]->n_lapsed;
    ok = ok && wr(f, &nl, 8);
    for (size_t t = 0; ok && t < n_tables; t++)
        for (size_t i = 0; ok && i < gts[t]->n_lapsed; i++)
            ok = write_lapsed(f, &gts[t]->lapsed[i], &rb);
    free(rb.rec);
    /* A closing group confirmed between the count and the walk would make
     * them differ: not on one thread, but a file that lies is refused. */
    return ok && written == n && fflush(f) == 0 ? QERR_OK : QERR_IO;
}

void group_table_foreach_firing(const group_table_t *gt,
                                void (*fn)(void *ctx, const incident_t *inc), void *ctx)
{
    for (size_t b = 0; b < gt->n_buckets; b++)
        for (const group_t *g = gt->buckets[b]; g; g = g->hnext)
            for (size_t i = 0; i < g->n_entries; i++)
                if (g->entries[i].alert->status != ALERT_RESOLVED) fn(ctx, &g->entries[i].inc);
}

/* A route as written (id and key) and the one of the current config it
 * still is, or NULL (the config changed: what was on it is dropped). */
static qerr_t read_route(FILE *f, char **key, const route_t *const *routes, size_t n_routes,
                         const route_t **out)
{
    uint32_t route_id, klen;
    if (!rd(f, &route_id, 4) || !rd(f, &klen, 4) || klen > (1u << 20)) return QERR_INVALID;
    free(*key);
    *key = malloc(klen + 1);
    if (!*key) return QERR_NOMEM;
    if (!rd(f, *key, klen)) return QERR_INVALID;
    (*key)[klen] = '\0';
    *out = route_id < n_routes && !strcmp(routes[route_id]->key, *key) ? routes[route_id] : NULL;
    return QERR_OK;
}

/* What write_alert wrote; the alert is in `scratch` (reset here). */
static qerr_t read_alert(FILE *f, char **buf, arena_t *scratch, uint8_t *flags, incident_t *inc,
                         alert_t *a)
{
    uint64_t len;
    if (!rd(f, flags, 1) || !rd(f, inc, sizeof(*inc)) || !rd(f, &len, 8) || len > (64u << 20))
        return QERR_INVALID;
    char *nb = realloc(*buf, len ? len : 1);
    if (!nb) return QERR_NOMEM;
    *buf = nb;
    msg_track_t *track;
    arena_reset(scratch);
    if (!rd(f, *buf, len) || alert_rec_read(*buf, len, scratch, a, &track) != QERR_OK)
        return QERR_INVALID;
    return QERR_OK;
}

/* The watched alerts after the groups; none in an older quell's file. */
static qerr_t load_lapsed(group_table_t *gt, FILE *f, char **key, char **buf, arena_t *scratch,
                          const route_t *const *routes, size_t n_routes, int64_t now_ms)
{
    uint64_t n;
    if (!rd(f, &n, 8)) return feof(f) ? QERR_OK : QERR_INVALID;
    qerr_t err = QERR_OK;
    for (uint64_t i = 0; i < n && err == QERR_OK; i++) {
        const route_t *r;
        int64_t since_ms, until_ms;
        uint8_t flags;
        incident_t inc;
        alert_t a;
        err = read_route(f, key, routes, n_routes, &r);
        if (err == QERR_OK && (!rd(f, &since_ms, 8) || !rd(f, &until_ms, 8))) err = QERR_INVALID;
        if (err == QERR_OK) err = read_alert(f, buf, scratch, &flags, &inc, &a);
        if (err == QERR_OK && r && until_ms > now_ms) {
            enrichment_t en = {.novel = flags & 4, .urgency_high = flags & 8};
            watch(gt, r, &a, &inc, &en, since_ms, until_ms);
        }
    }
    return err;
}

qerr_t group_table_load(group_table_t *gt, FILE *f, const route_t *const *routes, size_t n_routes,
                        int64_t now_ms, uint64_t *loaded, uint64_t *dropped)
{
    char magic[sizeof(SNAP_MAGIC)];
    uint64_t n;
    *loaded = *dropped = 0;
    if (!rd(f, magic, strlen(SNAP_MAGIC)) || memcmp(magic, SNAP_MAGIC, strlen(SNAP_MAGIC)) ||
        !rd(f, &n, 8))
        return QERR_INVALID;
    arena_t scratch;
    arena_init(&scratch, 65536);
    char *buf = NULL, *key = NULL;
    qerr_t err = QERR_OK;
    for (uint64_t gi = 0; gi < n && err == QERR_OK; gi++) {
        int64_t last;
        uint64_t folded, ne;
        uint8_t notified, changed;
        const route_t *r;
        err = read_route(f, &key, routes, n_routes, &r);
        if (err != QERR_OK) break;
        if (!rd(f, &last, 8) || !rd(f, &folded, 8) || !rd(f, &notified, 1) || !rd(f, &changed, 1) ||
            !rd(f, &ne, 8)) {
            err = QERR_INVALID;
            break;
        }
        group_t *g = NULL;
        bool existed = false; /* a group of the same key came earlier in the file */
        for (uint64_t i = 0; i < ne && err == QERR_OK; i++) {
            uint8_t flags;
            incident_t inc;
            alert_t a;
            err = read_alert(f, &buf, &scratch, &flags, &inc, &a);
            if (err != QERR_OK || !r) continue;
            if (i == 0) existed = group_find(gt, r, &a) != NULL;
            enrichment_t en = {.novel = flags & 4, .urgency_high = flags & 8};
            err = group_table_add(gt, r, &a, &inc, &en, NULL, now_ms);
            if (err != QERR_OK) break;
            g = group_find(gt, r, &a);
            entry_t *e = g ? entry_find(g, a.fingerprint) : NULL;
            if (e) e->sent = flags & 3;
        }
        if (err != QERR_OK) break;
        if (!g) {
            (*dropped)++;
            continue;
        }
        g->folded = folded > g->folded ? folded : g->folded;
        if (existed) {
            /* Merged with the earlier one (a group that was closing and
             * one opened since): whatever either still has to say. */
            g->notified |= notified;
            g->changed |= changed;
            if (last > g->last_notify_ms) g->last_notify_ms = last;
        } else {
            g->notified = notified;
            g->changed = changed;
            g->last_notify_ms = last;
        }
        g->acked_last_ms = g->last_notify_ms;
        if (g->notified)
            arm(gt, g,
                g->changed ? g->last_notify_ms + r->group_interval_ms
                           : g->last_notify_ms + r->repeat_interval_ms);
        (*loaded) += !existed;
    }
    if (err == QERR_OK) err = load_lapsed(gt, f, &key, &buf, &scratch, routes, n_routes, now_ms);
    free(buf);
    free(key);
    arena_free(&scratch);
    return err;
}
