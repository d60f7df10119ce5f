/*
 * The shared store's pure part: the entry Redis holds per fingerprint (a
 * fixed little-endian blob) and the decision over it. No I/O, no clock.
 *
 * Blob layout, format 2 (96 bytes; the Lua scripts in store_redis.c know
 * the offsets of flags, seq+id, last_seen and count, nothing else):
 *   0 'Q'   1 format   2 flags (1 open, 2 pending; noise: 4 seen, 8 held,
 *   16 transient pending)   3 pending kind   4 seq u32   8 incident id
 *   16 owner   24 lease until (wall ms)   32 first seen   40 last seen
 *   48 last forward   56 count
 *   64 flap window start   72 last flip   80 flips u32   84 last status
 *   85..87 zero   88 pending forward's incident id (confirm matches it)
 * Format 1 is the first 64 bytes alone (no noise state): it is read as
 * format 2 with the noise state zeroed and the pending id = incident id (store_entry_upgrade; the
 * scripts do the same), and rewritten as format 2 by the next decision. A later format appends
 * fields and bumps byte 1; an older build reading a newer blob refuses it (decode false) and the
 * worker fails open for that fingerprint rather than overwrite it.
 */
#include <stdlib.h>
#include <string.h>

#include "dedup_int.h"

void store_entry_encode(const store_entry_t *e, unsigned char out[STORE_ENTRY_BYTES])
{
    out[0] = 'Q';
    out[1] = STORE_ENTRY_FORMAT;
    out[2] = (unsigned char)((e->open ? 1 : 0) | (e->pending ? 2 : 0) | (e->noise.seen ? 4 : 0) |
                             (e->noise.held ? 8 : 0) | (e->noise.pending ? 16 : 0));
    out[3] = e->pending_kind;
    for (int i = 0; i < 4; i++) out[4 + i] = (unsigned char)(e->seq >> (8 * i));
    le64_put(out + 8, e->incident_id);
    le64_put(out + 16, e->owner);
    le64_put(out + 24, (uint64_t)e->lease_until_ms);
    le64_put(out + 32, (uint64_t)e->first_seen_ms);
    le64_put(out + 40, (uint64_t)e->last_seen_ms);
    le64_put(out + 48, (uint64_t)e->last_forward_ms);
    le64_put(out + 56, e->count);
    le64_put(out + 64, (uint64_t)e->noise.window_start_ms);
    le64_put(out + 72, (uint64_t)e->noise.last_flip_ms);
    for (int i = 0; i < 4; i++) out[80 + i] = (unsigned char)(e->noise.flips >> (8 * i));
    out[84] = e->noise.last_status;
    out[85] = out[86] = out[87] = 0;
    le64_put(out + 88, e->pending_id);
}

bool store_entry_upgrade(const void *buf, size_t len, unsigned char out[STORE_ENTRY_BYTES])
{
    const unsigned char *p = buf;
    if (len != STORE_ENTRY_BYTES_V1 || p[0] != 'Q' || p[1] != 1) return false;
    memcpy(out, p, STORE_ENTRY_BYTES_V1);
    out[1] = STORE_ENTRY_FORMAT;
    out[2] &= 3; /* format 1 had no noise flags */
    memset(out + STORE_ENTRY_BYTES_V1, 0, STORE_ENTRY_BYTES - STORE_ENTRY_BYTES_V1);
    memcpy(out + 88, p + 8, 8); /* format 1 confirmed by (seq, incident id) */
    return true;
}

/* Both through the entry's own codec rather than its byte offsets again:
 * decoding and encoding a format-2 entry gives back its bytes (the three
 * spare bytes are zero in every entry written, by C and by the scripts). */
bool store_entry_touch(const unsigned char in[STORE_ENTRY_BYTES], uint64_t delta,
                       int64_t last_seen_ms, unsigned char out[STORE_ENTRY_BYTES])
{
    store_entry_t e;
    if (!store_entry_decode(in, STORE_ENTRY_BYTES, &e)) return false;
    e.count += delta;
    if (last_seen_ms > e.last_seen_ms) e.last_seen_ms = last_seen_ms;
    store_entry_encode(&e, out);
    return true;
}

bool store_entry_confirm(const unsigned char in[STORE_ENTRY_BYTES], const unsigned char id[12],
                         unsigned char out[STORE_ENTRY_BYTES])
{
    store_entry_t e;
    uint32_t seq =
        (uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16 | (uint32_t)id[3] << 24;
    if (!store_entry_decode(in, STORE_ENTRY_BYTES, &e) || !e.pending || e.seq != seq ||
        e.pending_id != le64_get(id + 4))
        return false;
    e.pending = false;
    store_entry_encode(&e, out);
    return true;
}

bool store_entry_decode(const void *buf, size_t len, store_entry_t *e)
{
    unsigned char up[STORE_ENTRY_BYTES];
    const unsigned char *p = buf;
    if (store_entry_upgrade(buf, len, up)) {
        p = up;
        len = STORE_ENTRY_BYTES;
    }
    if (len != STORE_ENTRY_BYTES || p[0] != 'Q' || p[1] != STORE_ENTRY_FORMAT) return false;
    *e = (store_entry_t){0};
    e->open = p[2] & 1;
    e->pending = (p[2] & 2) != 0;
    e->pending_kind = p[3];
    e->seq = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    e->incident_id = le64_get(p + 8);
    e->owner = le64_get(p + 16);
    e->lease_until_ms = (int64_t)le64_get(p + 24);
    e->first_seen_ms = (int64_t)le64_get(p + 32);
    e->last_seen_ms = (int64_t)le64_get(p + 40);
    e->last_forward_ms = (int64_t)le64_get(p + 48);
    e->count = le64_get(p + 56);
    e->noise.seen = (p[2] & 4) != 0;
    e->noise.held = (p[2] & 8) != 0;
    e->noise.pending = (p[2] & 16) != 0;
    e->noise.window_start_ms = (int64_t)le64_get(p + 64);
    e->noise.last_flip_ms = (int64_t)le64_get(p + 72);
    e->noise.flips =
        (uint32_t)p[80] | (uint32_t)p[81] << 8 | (uint32_t)p[82] << 16 | (uint32_t)p[83] << 24;
    e->noise.last_status = p[84];
    e->pending_id = le64_get(p + 88);
    return true;
}

static void fill(incident_t *out, decision_kind_t kind, uint64_t fp, const store_entry_t *e)
{
    *out = (incident_t){.kind = kind,
                        .fingerprint = fp,
                        .count = e->count,
                        .first_seen_ms = e->first_seen_ms,
                        .last_seen_ms = e->last_seen_ms,
                        .incident_id = e->incident_id};
}

/* The window rules (decision.c) over the entry's window fields. */
static decision_kind_t decide_window(store_entry_t *e, const dedup_params_t *p, uint64_t fp,
                                     alert_status_t status, int64_t now_ms, incident_t *out)
{
    window_state_t w = {e->open,         e->incident_id,     e->first_seen_ms,
                        e->last_seen_ms, e->last_forward_ms, e->count};
    decision_kind_t k = window_decide(&w, p, fp, status, now_ms, out);
    e->open = w.open;
    e->incident_id = w.incident_id;
    e->first_seen_ms = w.first_seen_ms;
    e->last_seen_ms = w.last_seen_ms;
    e->last_forward_ms = w.last_forward_ms;
    e->count = w.count;
    return k;
}

store_outcome_t store_decide(store_entry_t *e, const dedup_params_t *p, const store_ctx_t *ctx,
                             uint64_t fingerprint, alert_status_t status, int64_t now_ms,
                             incident_t *out)
{
    bool foreign = e->pending && e->owner != ctx->me;
    if (foreign && e->lease_until_ms > ctx->wall_ms) return STORE_PARK;
    decision_kind_t pending_kind = (decision_kind_t)e->pending_kind;
    decision_kind_t k = decide_window(e, p, fingerprint, status, now_ms, out);
    /* Noise before the pending rules: a hold must not leave a pending
     * forward, and a release is a forward like any other. */
    if (dedup_noise_on(ctx->noise))
        k = dedup_noise_apply(&e->noise, ctx->noise, status, now_ms, k, out);
    if (foreign && DECISION_IS_FORWARD(pending_kind)) {
        /* Its owner died before the delivery was confirmed: whatever this
         * occurrence would be on its own, the undelivered forward goes out
         * again, under the same incident id. */
        if (k == DECISION_SUPPRESS_DUPLICATE && pending_kind != DECISION_FORWARD_RESOLVED) {
            k = pending_kind;
            out->kind = k;
        } else if (k == DECISION_SUPPRESS_RESOLVED_NO_INCIDENT &&
                   pending_kind == DECISION_FORWARD_RESOLVED) {
            k = DECISION_FORWARD_RESOLVED;
            fill(out, k, fingerprint, e);
        }
    }
    if (DECISION_IS_FORWARD(k)) {
        /* The confirm matches (seq, incident id) against the entry: a
         * forward noise made of a resolve of nothing (a flapping alert
         * released) carries the incident it closed. */
        if (!e->incident_id) e->incident_id = window_incident_id(fingerprint, now_ms);
        out->incident_id = e->pending_id = e->incident_id;
        e->pending = true;
        e->pending_kind = (uint8_t)k;
        e->owner = ctx->me;
        e->lease_until_ms = ctx->wall_ms + ctx->lease_ms;
        e->seq++;
    }
    return STORE_DECIDED;
}

int64_t store_ttl_ms(const dedup_params_t *p, int64_t lease_ms)
{
    return 2 * p->window_ms + lease_ms + 60000;
}

/* Decodes %XX escapes of s[0..len) into out (NUL-terminated); false on a
 * bad escape, a NUL byte or when it does not fit. */
static bool url_unescape(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '%') {
            unsigned v;
            char hex[3] = {0};
            if (i + 2 >= len) return false;
            hex[0] = s[i + 1];
            hex[1] = s[i + 2];
            char *end;
            v = (unsigned)strtoul(hex, &end, 16);
            if (end != hex + 2 || v == 0) return false;
            ch = (char)v;
            i += 2;
        }
        if (o + 1 >= cap) return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    return true;
}

qerr_t store_url_parse(const char *url, store_conf_t *sc, bool *is_memory, char *errbuf,
                       size_t errlen)
{
    *is_memory = strcmp(url, "memory") == 0;
    if (*is_memory) return QERR_OK;
    static const char scheme[] = "redis://";
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
        snprintf(errbuf, errlen, "store.url: \"%s\" is neither memory nor redis://HOST:PORT/DB",
                 url);
        return QERR_INVALID;
    }
    const char *h = url + sizeof(scheme) - 1;
    sc->user[0] = sc->password[0] = '\0';
    const char *at = memchr(h, '@', strcspn(h, "/"));
    if (at) {
        /* USER:PASSWORD@ or :PASSWORD@ (Redis's URI scheme); %XX escapes
         * let either hold any byte. */
        const char *colon = memchr(h, ':', (size_t)(at - h));
        if (!colon) {
            snprintf(errbuf, errlen,
                     "store.url: write the credentials as USER:PASSWORD@ or :PASSWORD@");
            return QERR_INVALID;
        }
        if (!url_unescape(h, (size_t)(colon - h), sc->user, sizeof(sc->user)) ||
            !url_unescape(colon + 1, (size_t)(at - colon - 1), sc->password,
                          sizeof(sc->password))) {
            snprintf(errbuf, errlen, "store.url: bad %%-escape or over-long user or password");
            return QERR_INVALID;
        }
        h = at + 1;
    }
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof(sc->host)) {
        snprintf(errbuf, errlen, "store.url: \"%s\" has no host", url);
        return QERR_INVALID;
    }
    memcpy(sc->host, h, hl);
    sc->host[hl] = '\0';
    sc->port = 6379;
    sc->db = 0;
    const char *p = h + hl;
    char *end;
    if (*p == ':') {
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            snprintf(errbuf, errlen, "store.url: \"%s\" has a bad port", url);
            return QERR_INVALID;
        }
        sc->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 65535) {
            snprintf(errbuf, errlen, "store.url: \"%s\" has a bad database number", url);
            return QERR_INVALID;
        }
        sc->db = (int)db;
        p = end;
    } else if (*p == '/') {
        p++;
    }
    if (*p) {
        snprintf(errbuf, errlen, "store.url: unexpected \"%s\" in \"%s\"", p, url);
        return QERR_INVALID;
    }
    return QERR_OK;
}
