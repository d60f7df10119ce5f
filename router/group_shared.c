/*
 * Routing groups across instances (Redis store): what each instance told
 * about a group is recorded in one shared hash per group, so that N
 * instances of one consumer group send one reminder per repeat_interval
 * and one resolved notification per group, not one each.
 *
 * Each instance still groups what it decided (the Redis store makes every
 * fingerprint one instance's), so a FIRING notification is sent by the
 * instance that has the change. Before any notification leaves, one
 * script call on PREFIXgrp:GROUPID and PREFIXgrpa:GROUPID:
 *   - publishes a record of each of the notification's alerts in the
 *     alerts hash (group_alerts.c's encoding; at most
 *     GROUP_SHARED_MAX_ALERTS fields, a record over GROUP_ALERT_MAX_BYTES
 *     is not written) and, when the notification is to be sent, returns
 *     every record of the group, so notify.c lists the whole group's
 *     alerts (from every instance) in it, with no extra round trip;
 *   - records the notification's alerts (field = fingerprint, value "f"
 *     firing / "r" resolved; for a firing one with an end, field "e" +
 *     fingerprint = END, Unix ms: its endsAt, or its last occurrence +
 *     resolve_timeout, router_alert_ends_ms; a separate field, so an older
 *     quell's script still reads "f") and, for a sent one, the time
 *     (field "_t");
 *   - FIRING: always sent once due; before it, group_shared_hold claims
 *     the group's firing slot (group.c asks): when another instance sent
 *     one within group_interval, the group waits until that has passed
 *     (holds kept), so the instances together send at most one firing
 *     notification per group_interval, as one Alertmanager would;
 *   - REMINDER: sent only if no instance notified this group within 90%
 *     of repeat_interval (the instances' timers drift apart by their own
 *     notification times), else skipped;
 *   - RESOLVED: sent only when no alert of the group is still firing on
 *     any instance, an "f" whose END has passed counting as resolved
 *     (a dead instance's alerts resolve as its own groups would have
 *     resolved them; then both hashes are deleted, the records returned
 *     first); otherwise skipped, and the last instance to resolve sends it;
 *   - REFRESH (an alert's end moved on: it occurred again, though nothing
 *     changed to notify): only the records and statuses, never sent, so
 *     the other instances do not take a live instance's alerts for ended;
 *   - UNTOLD (every alert resolved in a group this instance never
 *     notified: their partitions moved here after another instance
 *     notified them firing): records those resolved, and sends the
 *     group's resolved when it is the last, as RESOLVED would;
 *   - a firing status the hash holds resolved since the sender last saw
 *     the alert (it was resolved where its partition moved) is stale: not
 *     written, handed back so the sender's group resolves it too.
 * After the resolved, the group hash stays as a tombstone until it
 * expires, so nothing sends it twice; a new firing alert reopens it.
 * The hashes expire 2 x repeat_interval + 1 h after their last write, so a
 * dead instance's firing alerts cannot hold a group's resolved forever.
 * A skipped notification releases its holds (nothing to deliver). Redis
 * unavailable: everything is sent, as before (a duplicate, never a miss),
 * each notification listing its own instance's alerts.
 *
 * Threads: the router thread only. Connections through redis_open.
 */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "router_int.h"

/* KEYS: the group hash, its alerts hash. ARGV: kind (f firing, m
 * reminder, x resolved, u resolved here but never notified here, p
 * refresh), now, repeat, ttl, cap, then (fingerprint, status, record) per
 * alert: status "r", or "f:END:SEEN" (END empty: never; SEEN: its last
 * occurrence known to the sender), stored as "f" and, apart, eFINGERPRINT
 * = END; "r" is stored with wFINGERPRINT = when. A firing status whose
 * field says "r" written at or after SEEN is stale (another instance
 * resolved it since): not written, returned. An empty record (oversized)
 * is not written. Once the group's resolved is sent, the alerts hash goes
 * and the group hash stays as a tombstone (_c; statuses kept, _t and _s
 * gone) until its TTL, so a late stale writer learns and nothing re-sends
 * it; a new firing alert reopens the group. Returns {send, previous send
 * time, HGETALL of the alerts hash (when sent), stale fingerprints}. */
static const char gate_lua[] =
    "local kind, now, rep = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]) "
    "local cap = tonumber(ARGV[5]) "
    "if kind == 'u' and redis.call('HEXISTS', KEYS[1], '_s') == 0 then return {0, 0, {}, {}} end "
    "local stale = {} "
    "for i = 6, #ARGV, 3 do "
    "  local fp, st, put = ARGV[i], ARGV[i + 1], true "
    "  if string.sub(st, 1, 1) == 'f' then "
    "    local e, seen = string.match(st, '^f:(%d*):(%d+)$') "
    "    if redis.call('HGET', KEYS[1], fp) == 'r' and "
    "        tonumber(redis.call('HGET', KEYS[1], 'w' .. fp) or '0') >= tonumber(seen) then "
    "      put = false "
    "      stale[#stale + 1] = fp "
    "    else "
    "      redis.call('HSET', KEYS[1], fp, 'f') "
    "      if e ~= '' then redis.call('HSET', KEYS[1], 'e' .. fp, e) "
    "      else redis.call('HDEL', KEYS[1], 'e' .. fp) end "
    "      redis.call('HDEL', KEYS[1], 'w' .. fp, '_c') end "
    "  elseif kind == 'u' and redis.call('HGET', KEYS[1], fp) ~= 'f' then "
    "    put = false "
    "  else "
    "    redis.call('HSET', KEYS[1], fp, 'r', 'w' .. fp, ARGV[2]) "
    "    redis.call('HDEL', KEYS[1], 'e' .. fp) end "
    "  if put and #ARGV[i + 2] > 0 and (redis.call('HEXISTS', KEYS[2], fp) == 1 "
    "      or redis.call('HLEN', KEYS[2]) < cap) then "
    "    redis.call('HSET', KEYS[2], fp, ARGV[i + 2]) end "
    "end "
    "local function firing_left() "
    "  local st = redis.call('HGETALL', KEYS[1]) "
    "  for i = 1, #st, 2 do "
    "    if st[i + 1] == 'f' then "
    "      local e = tonumber(redis.call('HGET', KEYS[1], 'e' .. st[i]) or '0') "
    "      if e == 0 or e > now then return true end end end "
    "  return false "
    "end "
    "local send = 1 "
    "local prev = tonumber(redis.call('HGET', KEYS[1], '_s') or '0') "
    "if kind == 'p' or redis.call('HEXISTS', KEYS[1], '_c') == 1 then send = 0 "
    "elseif kind == 'x' or kind == 'u' then "
    "  if firing_left() then send = 0 "
    "  else "
    "    local all = redis.call('HGETALL', KEYS[2]) "
    "    redis.call('DEL', KEYS[2]) "
    "    redis.call('HDEL', KEYS[1], '_t', '_s') "
    "    redis.call('HSET', KEYS[1], '_c', ARGV[2]) "
    "    redis.call('PEXPIRE', KEYS[1], ARGV[4]) "
    "    return {1, prev, all, stale} end "
    "elseif kind == 'm' and now - tonumber(redis.call('HGET', KEYS[1], '_t') or '0') < rep * 0.9 "
    "    then send = 0 "
    "elseif #stale > 0 and not firing_left() then send = 0 "
    "end "
    "redis.call('PEXPIRE', KEYS[1], ARGV[4]) "
    "redis.call('PEXPIRE', KEYS[2], ARGV[4]) "
    "if send == 0 then return {0, 0, {}, stale} end "
    "redis.call('HSET', KEYS[1], '_t', ARGV[2], '_s', ARGV[2]) "
    "return {1, prev, redis.call('HGETALL', KEYS[2]), stale}";

/* The firing slot: at most one firing notification per group_interval
 * over all instances. Returns 0 (claimed: _t = now) or when it frees. */
static const char hold_lua[] = "local now, gi = tonumber(ARGV[1]), tonumber(ARGV[2]) "
                               "local last = tonumber(redis.call('HGET', KEYS[1], '_t') or '0') "
                               "if last > 0 and now - last < gi then return last + gi end "
                               "redis.call('HSET', KEYS[1], '_t', ARGV[1]) "
                               "redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
                               "return 0";

#define FIELD_BYTES 64 /* 17 of fingerprint, then up to 44 of "f:END:SEEN" */

struct group_shared {
    store_conf_t conf;
    char prefix[128];
    redisContext *ctx;
    char sha[41], hold_sha[41];
    int64_t retry_ns;
    bool logged_down;
    char **argv;
    size_t *lens;
    size_t cap;
    char *fields; /* FIELD_BYTES per alert: hex fingerprint + NUL, then its status */
    char aprefix[128];
    uint8_t *records; /* the alerts' records of one gate call */
    size_t records_cap;
};

group_shared_t *group_shared_new(const store_conf_t *sc, const char *prefix)
{
    group_shared_t *gs = calloc(1, sizeof(*gs));
    if (!gs) return NULL;
    gs->conf = *sc;
    snprintf(gs->prefix, sizeof(gs->prefix), "%sgrp:", prefix ? prefix : "");
    snprintf(gs->aprefix, sizeof(gs->aprefix), "%sgrpa:", prefix ? prefix : "");
    gs->conf.prefix = gs->prefix;
    return gs;
}

void group_shared_destroy(group_shared_t *gs)
{
    if (!gs) return;
    if (gs->ctx) redisFree(gs->ctx);
    free(gs->argv);
    free(gs->lens);
    free(gs->fields);
    free(gs->records);
    free(gs);
}

static void down(group_shared_t *gs, const char *why)
{
    char where[300];
    if (gs->ctx) redisFree(gs->ctx);
    gs->ctx = NULL;
    gs->retry_ns = clock_mono_ns() + 1000000000LL;
    if (!gs->logged_down)
        log_warn("router",
                 "groups: redis %s unavailable (%.150s); every instance notifies its own groups",
                 store_conf_where(&gs->conf, where, sizeof(where)), why);
    gs->logged_down = true;
}

static bool ready(group_shared_t *gs)
{
    if (gs->ctx) return true;
    if (clock_mono_ns() < gs->retry_ns) return false;
    char errbuf[256];
    gs->ctx = redis_open(&gs->conf, NULL, 0, errbuf, sizeof(errbuf));
    if (!gs->ctx) {
        down(gs, errbuf);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < 2 && ok; i++) {
        redisReply *r = redisCommand(gs->ctx, "SCRIPT LOAD %s", i ? hold_lua : gate_lua);
        ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok) memcpy(i ? gs->hold_sha : gs->sha, r->str, 41);
        if (r) freeReplyObject(r);
    }
    if (!ok) {
        down(gs, "SCRIPT LOAD failed");
        return false;
    }
    if (gs->logged_down) log_info("router", "groups: redis reachable again");
    gs->logged_down = false;
    return true;
}

static bool grow(group_shared_t *gs, size_t need)
{
    if (need <= gs->cap) return true;
    size_t cap = need * 2;
    char **a = realloc(gs->argv, cap * sizeof(*a));
    if (a) gs->argv = a;
    size_t *l = realloc(gs->lens, cap * sizeof(*l));
    if (l) gs->lens = l;
    char *f = realloc(gs->fields, cap * FIELD_BYTES);
    if (f) gs->fields = f;
    if (!a || !l || !f) return false;
    gs->cap = cap;
    return true;
}

/* Room for `more` record bytes past `used` in gs->records. */
static bool grow_records(group_shared_t *gs, size_t used, size_t more)
{
    if (used + more <= gs->records_cap) return true;
    size_t cap = (used + more) * 2;
    uint8_t *r = realloc(gs->records, cap);
    if (!r) return false;
    gs->records = r;
    gs->records_cap = cap;
    return true;
}

/* The gate's {1, prev, {field, record, ...}} into *others. */
static void read_others(const redisReply *r, arena_t *arena, group_others_t *others)
{
    if (r->elements < 3 || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[2]->type != REDIS_REPLY_ARRAY)
        return;
    others->prev_sent_ms = r->element[1]->integer;
    const redisReply *all = r->element[2];
    size_t n = all->elements / 2;
    if (n > GROUP_SHARED_MAX_ALERTS) n = GROUP_SHARED_MAX_ALERTS;
    others->v = n ? arena_alloc(arena, n * sizeof(*others->v)) : NULL;
    if (!others->v) return;
    for (size_t i = 0; i < n; i++) {
        const redisReply *f = all->element[2 * i], *v = all->element[2 * i + 1];
        char hex[17];
        char *end = NULL;
        bool ok = f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING && f->len == 16;
        if (ok) {
            memcpy(hex, f->str, 16);
            hex[16] = '\0';
        }
        uint64_t fp = ok ? strtoull(hex, &end, 16) : 0;
        if (ok && end == hex + 16 &&
            group_alert_decode((const uint8_t *)v->str, v->len, fp, arena, &others->v[others->n]))
            others->n++;
        else
            others->malformed++;
    }
}

/* The gate's stale fingerprints into note->resolved_elsewhere. */
static void read_stale(const redisReply *stale, const notification_t *note)
{
    size_t n = 0;
    for (size_t i = 0; i < stale->elements && n < note->n_alerts; i++) {
        const redisReply *f = stale->element[i];
        char hex[17], *end = NULL;
        if (f->type != REDIS_REPLY_STRING || f->len != 16) continue;
        memcpy(hex, f->str, 16);
        hex[16] = '\0';
        uint64_t fp = strtoull(hex, &end, 16);
        if (end == hex + 16) note->resolved_elsewhere[n++] = fp;
    }
    *note->n_resolved_elsewhere = n;
}

bool group_shared_gate(group_shared_t *gs, const notification_t *note, arena_t *arena,
                       group_others_t *others)
{
    if (others) memset(others, 0, sizeof(*others));
    if (note->n_resolved_elsewhere) *note->n_resolved_elsewhere = 0;
    /* Without Redis each instance notifies its own groups only. */
    bool fallback = note->kind != NOTIFY_UNTOLD;
    if (!ready(gs)) return fallback;
    size_t argc = 10 + 3 * note->n_alerts;
    if (!grow(gs, argc)) return fallback;
    char key[200], akey[200], now[24], rep[24], ttl[24], cap[24];
    char kind = note->kind == NOTIFY_REMINDER   ? 'm'
                : note->kind == NOTIFY_RESOLVED ? 'x'
                : note->kind == NOTIFY_REFRESH  ? 'p'
                : note->kind == NOTIFY_UNTOLD   ? 'u'
                                                : 'f';
    snprintf(key, sizeof(key), "%s%016llx", gs->prefix, (unsigned long long)note->group_id);
    snprintf(akey, sizeof(akey), "%s%016llx", gs->aprefix, (unsigned long long)note->group_id);
    snprintf(now, sizeof(now), "%lld", (long long)note->now_ms);
    snprintf(rep, sizeof(rep), "%lld", (long long)note->route->repeat_interval_ms);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)(2 * note->route->repeat_interval_ms + 3600000));
    snprintf(cap, sizeof(cap), "%d", GROUP_SHARED_MAX_ALERTS);
    char kind_s[2] = {kind, 0};
    const char *head[] = {"EVALSHA", gs->sha, "2", key, akey, kind_s, now, rep, ttl, cap};
    size_t n = 0;
    for (; n < 10; n++) {
        gs->argv[n] = (char *)head[n];
        gs->lens[n] = strlen(head[n]);
    }
    /* Records first into one buffer (it may move while growing), then
     * the pointers. An alert that does not fit is sent without a record. */
    size_t used = 0;
    for (size_t i = 0; i < note->n_alerts; i++) {
        size_t len = 0;
        if (grow_records(gs, used, GROUP_ALERT_MAX_BYTES)) {
            len = group_alert_encode(gs->records + used, GROUP_ALERT_MAX_BYTES, &note->alerts[i],
                                     note->now_ms);
        }
        gs->lens[10 + 3 * i + 2] = len;
        gs->argv[10 + 3 * i + 2] = (char *)(uintptr_t)used; /* an offset until the loop below */
        used += len;
    }
    for (size_t i = 0; i < note->n_alerts; i++) {
        const notify_alert_t *na = &note->alerts[i];
        char *f = gs->fields + FIELD_BYTES * i, *st = f + 17;
        snprintf(f, 17, "%016llx", (unsigned long long)na->alert->fingerprint);
        gs->argv[n] = f;
        gs->lens[n++] = 16;
        if (na->alert->status == ALERT_RESOLVED)
            snprintf(st, FIELD_BYTES - 17, "r");
        else if (na->ends_ms)
            snprintf(st, FIELD_BYTES - 17, "f:%lld:%lld", (long long)na->ends_ms,
                     (long long)na->seen_ms);
        else
            snprintf(st, FIELD_BYTES - 17, "f::%lld", (long long)na->seen_ms);
        gs->argv[n] = st;
        gs->lens[n++] = strlen(st);
        size_t off = (size_t)(uintptr_t)gs->argv[n];
        gs->argv[n++] = gs->records ? (char *)gs->records + off : "";
    }
    redisReply *r = redisCommandArgv(gs->ctx, (int)n, (const char **)gs->argv, gs->lens);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        char why[160];
        snprintf(why, sizeof(why), "%s",
                 r && r->type == REDIS_REPLY_ERROR
                     ? r->str
                     : (gs->ctx->errstr[0] ? gs->ctx->errstr : "no reply"));
        if (r) freeReplyObject(r);
        down(gs, why); /* NOSCRIPT too: the reconnect loads it again */
        return fallback;
    }
    bool send = r->element[0]->integer != 0;
    if (send && others && arena) read_others(r, arena, others);
    if (note->resolved_elsewhere && r->elements >= 4 && r->element[3]->type == REDIS_REPLY_ARRAY)
        read_stale(r->element[3], note);
    freeReplyObject(r);
    return send;
}

int64_t group_shared_hold(group_shared_t *gs, const route_t *r, uint64_t group_id, int64_t now_ms)
{
    if (!ready(gs)) return 0;
    char key[200], now[24], gi[24], ttl[24];
    snprintf(key, sizeof(key), "%s%016llx", gs->prefix, (unsigned long long)group_id);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(gi, sizeof(gi), "%lld", (long long)r->group_interval_ms);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)(2 * r->repeat_interval_ms + 3600000));
    redisReply *rep =
        redisCommand(gs->ctx, "EVALSHA %s 1 %s %s %s %s", gs->hold_sha, key, now, gi, ttl);
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        char why[160];
        snprintf(why, sizeof(why), "%s",
                 rep && rep->type == REDIS_REPLY_ERROR
                     ? rep->str
                     : (gs->ctx->errstr[0] ? gs->ctx->errstr : "no reply"));
        if (rep) freeReplyObject(rep);
        down(gs, why);
        return 0;
    }
    int64_t until = rep->integer;
    freeReplyObject(rep);
    return until;
}
