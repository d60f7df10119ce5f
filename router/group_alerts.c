/*
 * A group's alerts across instances (Redis store): the record each
 * instance publishes of each alert of its groups, and the composition of
 * one notification from this instance's alerts and the others' records.
 * Pure: bytes in, bytes out, the clock from the caller; group_shared.c
 * moves the records through Redis, notify.c sends what is composed.
 *
 * Record (all integers little-endian; the fingerprint is the hash field):
 *   'Q' 1                         magic, version
 *   u8 status                     0 firing, 1 resolved
 *   u8 severity                   incident_t.severity
 *   u64 count                     occurrences folded into the incident
 *   i64 starts_at, ends_at, first_seen, last_seen, written   (Unix ms)
 *                                 ends_at: a firing alert's end as its
 *                                 instance's groups count it (its endsAt,
 *                                 else last occurrence + resolve_timeout:
 *                                 notify_alert_t.ends_ms), when it has one
 *   u16 n_labels, u16 n_annotations
 *   n_labels x (u16 len, name, u16 len, value)   sorted by name, unique
 *   n_annotations x (u16 len, name, u16 len, value)
 *   u16 len, generator_url
 * At most GROUP_ALERT_MAX_BYTES. The decoder refuses anything else (short,
 * trailing bytes, a length past the end, labels out of order), since the
 * bytes come from Redis, which anyone with its password can write.
 *
 * Threads: none of its own; called on the router thread.
 */
#include <stdlib.h>

#include "router_int.h"

#define HEAD_BYTES (2 + 1 + 1 + 8 + 5 * 8 + 2 + 2)

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool put_bytes(uint8_t *buf, size_t cap, size_t *at, const char *s, size_t n)
{
    if (n > 0xffff || *at + 2 + n > cap) return false;
    put_le(buf + *at, n, 2);
    if (n) memcpy(buf + *at + 2, s, n);
    *at += 2 + n;
    return true;
}

static bool put_pairs(uint8_t *buf, size_t cap, size_t *at, const label_t *l, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!put_bytes(buf, cap, at, l[i].name.ptr, l[i].name.len) ||
            !put_bytes(buf, cap, at, l[i].value.ptr, l[i].value.len))
            return false;
    return true;
}

size_t group_alert_encode(uint8_t *buf, size_t cap, const notify_alert_t *na, int64_t written_ms)
{
    const alert_t *a = na->alert;
    const incident_t *inc = na->inc;
    if (cap > GROUP_ALERT_MAX_BYTES) cap = GROUP_ALERT_MAX_BYTES;
    if (cap < HEAD_BYTES || a->n_labels > 0xffff || a->n_annotations > 0xffff) return 0;
    buf[0] = 'Q';
    buf[1] = 1;
    buf[2] = a->status == ALERT_RESOLVED ? 1 : 0;
    buf[3] = inc ? inc->severity : 0;
    put_le(buf + 4, inc ? inc->count : 1, 8);
    int64_t ends = a->status != ALERT_RESOLVED && na->ends_ms ? na->ends_ms : a->ends_at_ms;
    int64_t t[5] = {a->starts_at_ms, ends, inc ? inc->first_seen_ms : 0,
                    inc ? inc->last_seen_ms : 0, written_ms};
    for (int i = 0; i < 5; i++) put_le(buf + 12 + 8 * i, (uint64_t)t[i], 8);
    put_le(buf + 52, a->n_labels, 2);
    put_le(buf + 54, a->n_annotations, 2);
    size_t at = HEAD_BYTES;
    if (!put_pairs(buf, cap, &at, a->labels, a->n_labels) ||
        !put_pairs(buf, cap, &at, a->annotations, a->n_annotations) ||
        !put_bytes(buf, cap, &at, a->generator_url.ptr, a->generator_url.len))
        return 0;
    return at;
}

typedef struct {
    const uint8_t *p;
    size_t len, at;
    arena_t *arena;
} reader_t;

static bool get_str(reader_t *r, str_t *out)
{
    if (r->len - r->at < 2) return false;
    size_t n = (size_t)get_le(r->p + r->at, 2);
    r->at += 2;
    if (r->len - r->at < n) return false;
    char *s = arena_strndup(r->arena, (const char *)r->p + r->at, n);
    if (!s) return false;
    r->at += n;
    *out = (str_t){s, (uint32_t)n};
    return true;
}

static int str_cmp(str_t a, str_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static bool get_pairs(reader_t *r, label_t **out, uint32_t n, bool sorted)
{
    *out = NULL;
    if (!n) return true;
    /* Each pair takes at least 4 bytes: a count past that is a lie. */
    if ((size_t)n * 4 > r->len - r->at) return false;
    label_t *l = arena_alloc(r->arena, (size_t)n * sizeof(*l));
    if (!l) return false;
    for (uint32_t i = 0; i < n; i++) {
        if (!get_str(r, &l[i].name) || !get_str(r, &l[i].value)) return false;
        if (sorted && i && str_cmp(l[i - 1].name, l[i].name) >= 0) return false;
    }
    *out = l;
    return true;
}

bool group_alert_decode(const uint8_t *buf, size_t len, uint64_t fingerprint, arena_t *arena,
                        group_alert_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < HEAD_BYTES || len > GROUP_ALERT_MAX_BYTES || buf[0] != 'Q' || buf[1] != 1 ||
        buf[2] > 1 || buf[3] > 5)
        return false;
    alert_t *a = &out->alert;
    incident_t *inc = &out->inc;
    a->status = buf[2] ? ALERT_RESOLVED : ALERT_FIRING;
    a->fingerprint = fingerprint;
    inc->fingerprint = fingerprint;
    inc->incident_id = fingerprint;
    inc->severity = buf[3];
    inc->count = get_le(buf + 4, 8);
    a->starts_at_ms = (int64_t)get_le(buf + 12, 8);
    a->ends_at_ms = (int64_t)get_le(buf + 20, 8);
    inc->first_seen_ms = (int64_t)get_le(buf + 28, 8);
    inc->last_seen_ms = (int64_t)get_le(buf + 36, 8);
    out->written_ms = (int64_t)get_le(buf + 44, 8);
    inc->kind = a->status == ALERT_RESOLVED ? DECISION_FORWARD_RESOLVED : DECISION_FORWARD_NEW;
    a->event_time_ms = inc->last_seen_ms;
    reader_t r = {buf, len, HEAD_BYTES, arena};
    a->n_labels = (uint32_t)get_le(buf + 52, 2);
    a->n_annotations = (uint32_t)get_le(buf + 54, 2);
    if (!get_pairs(&r, &a->labels, a->n_labels, true) ||
        !get_pairs(&r, &a->annotations, a->n_annotations, false) ||
        !get_str(&r, &a->generator_url) || r.at != len)
        return false;
    return true;
}

static int cmp_fp(const void *x, const void *y)
{
    const group_alert_t *a = x, *b = y;
    return a->alert.fingerprint < b->alert.fingerprint
               ? -1
               : a->alert.fingerprint > b->alert.fingerprint;
}

/* Whether another instance's record is listed, and as what. */
static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* `own_fps`: this instance's fingerprints, sorted (its view wins). */
static bool listed(const notification_t *own, const uint64_t *own_fps, int64_t prev_sent_ms,
                   group_alert_t *g)
{
    if (bsearch(&g->alert.fingerprint, own_fps, own->n_alerts, sizeof(*own_fps), cmp_u64))
        return false;
    alert_t *a = &g->alert;
    if (own->kind == NOTIFY_RESOLVED) {
        /* The group resolved on every instance: all of it listed resolved. */
        if (a->status == ALERT_FIRING && (!a->ends_at_ms || a->ends_at_ms > own->now_ms))
            a->ends_at_ms = own->now_ms;
        a->status = ALERT_RESOLVED;
        g->inc.kind = DECISION_FORWARD_RESOLVED;
        return true;
    }
    if (a->status == ALERT_FIRING && a->ends_at_ms && a->ends_at_ms <= own->now_ms) {
        /* Past its end (its endsAt, or its last occurrence +
         * resolve_timeout as its instance counted it) and not refreshed:
         * its instance stopped (a live one republishes a record whose end
         * moved on), so resolved, as Alertmanager would have it; listed
         * once, in the first notification after its end. */
        a->status = ALERT_RESOLVED;
        g->inc.kind = DECISION_FORWARD_RESOLVED;
        return a->ends_at_ms > prev_sent_ms;
    }
    /* A resolved alert is listed once, in the first notification after it
     * resolved (Alertmanager drops it from the group once notified). */
    return a->status == ALERT_FIRING || g->written_ms > prev_sent_ms;
}

bool group_alerts_merge(const notification_t *own, group_alert_t *others, size_t n_others,
                        int64_t prev_sent_ms, arena_t *arena, group_enrich_fn enrich, void *ctx,
                        notification_t *out)
{
    *out = *own;
    if (!n_others) return true;
    qsort(others, n_others, sizeof(*others), cmp_fp);
    uint64_t *own_fps = arena_alloc(arena, (own->n_alerts + 1) * sizeof(*own_fps));
    if (!own_fps) return false;
    for (size_t i = 0; i < own->n_alerts; i++) own_fps[i] = own->alerts[i].alert->fingerprint;
    qsort(own_fps, own->n_alerts, sizeof(*own_fps), cmp_u64);
    size_t extra = 0;
    for (size_t i = 0; i < n_others; i++) {
        others[i].listed = listed(own, own_fps, prev_sent_ms, &others[i]);
        extra += others[i].listed;
    }
    if (!extra) return true;
    notify_alert_t *v = arena_alloc(arena, (own->n_alerts + extra) * sizeof(*v));
    if (!v) return false;
    size_t n = 0, firing = 0;
    /* Firing first (own, then the others' by fingerprint), then resolved. */
    for (int pass = 0; pass < 2; pass++) {
        alert_status_t want = pass ? ALERT_RESOLVED : ALERT_FIRING;
        for (size_t i = 0; i < own->n_alerts; i++)
            if (own->alerts[i].alert->status == want) v[n++] = own->alerts[i];
        for (size_t i = 0; i < n_others; i++) {
            if (!others[i].listed || others[i].alert.status != want) continue;
            notify_alert_t *na = &v[n++];
            na->alert = &others[i].alert;
            na->inc = &others[i].inc;
            memset(&na->enrich, 0, sizeof(na->enrich));
            if (enrich) enrich(ctx, na->alert, na->inc, &na->enrich);
            na->enrich.novel = false; /* novelty was its own instance's to tell */
        }
        if (!pass) firing = n;
    }
    out->alerts = v;
    out->n_alerts = n;
    out->n_firing = own->kind == NOTIFY_RESOLVED ? 0 : firing;
    return true;
}
