/*
 * Firing inhibition sources shared through Redis (rules.h): the adapter
 * between the process's lock-free inhibit state (decide.c) and one Redis
 * hash per deployment, `PREFIX + "inhibit"`, field = 16 hex digits of the
 * slot key, value = 64 bytes little-endian:
 *   0 key   8 at_src   16 until_src   24 fp_src   32 at_both   40 until_both
 *   48 fp_both   56 wall clock of the last push (prunes: event times may be
 *   old, e.g. a replayed topic, so they cannot say what is stale)
 * A push merges each changed slot with a Lua script (per half, the newer
 * `at` wins: the same rule as inhibit_state_merge), so two instances
 * pushing at once keep both halves' newest changes. A pull is one HGETALL.
 * Workers never wait for Redis: they read the local state, which is at
 * most push_ms + pull_ms behind another instance's.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules_int.h"

static const char merge_lua[] =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1]) local new = ARGV[2] "
    "if cur and #cur == 64 then "
    "  local src = string.sub(new, 9, 32) local both = string.sub(new, 33, 56) "
    "  if struct.unpack('<l', cur, 9) > struct.unpack('<l', new, 9) then "
    "    src = string.sub(cur, 9, 32) end "
    "  if struct.unpack('<l', cur, 33) > struct.unpack('<l', new, 33) then "
    "    both = string.sub(cur, 33, 56) end "
    "  new = string.sub(new, 1, 8) .. src .. both .. string.sub(new, 57, 64) end "
    "redis.call('HSET', KEYS[1], ARGV[1], new) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[3]) return 1";

#define PUSH_BATCH 512

struct inhibit_sync {
    inhibit_state_t *s;
    store_conf_t conf;
    char key[160]; /* the hash */
    char ttl[24];
    int64_t push_ms, pull_ms, next_pull_ns;
    redisContext *ctx;
    char sha[41];
    bool logged_down;
    int64_t retry_ns; /* no reconnect before (1 s after a failure) */
    pthread_t thread;
    bool running;
    _Atomic bool stop;
    _Atomic uint64_t pushes, pulls, errors, fields;
    inhibit_wire_t retry[PUSH_BATCH]; /* taken but not acknowledged: sent first next time */
    size_t n_retry;
};

static void wire_encode(const inhibit_wire_t *w, int64_t wall_ms,
                        unsigned char out[INHIBIT_WIRE_BYTES])
{
    le64_put(out + 56, (uint64_t)wall_ms);
    le64_put(out, w->key);
    le64_put(out + 8, (uint64_t)w->at_src);
    le64_put(out + 16, (uint64_t)w->until_src);
    le64_put(out + 24, w->fp_src);
    le64_put(out + 32, (uint64_t)w->at_both);
    le64_put(out + 40, (uint64_t)w->until_both);
    le64_put(out + 48, w->fp_both);
}

static void wire_decode(const unsigned char *p, inhibit_wire_t *w)
{
    *w = (inhibit_wire_t){le64_get(p),      (int64_t)le64_get(p + 8),  (int64_t)le64_get(p + 16),
                          le64_get(p + 24), (int64_t)le64_get(p + 32), (int64_t)le64_get(p + 40),
                          le64_get(p + 48)};
}

static void down(inhibit_sync_t *y, const char *reason)
{
    char why[160], where[300]; /* `reason` may point into the context freed below */
    snprintf(why, sizeof why, "%s", reason);
    if (y->ctx) redisFree(y->ctx);
    y->ctx = NULL;
    y->retry_ns = clock_mono_ns() + 1000000000LL;
    atomic_fetch_add(&y->errors, 1);
    if (!y->logged_down)
        log_warn("rules",
                 "inhibition sources: redis %s unavailable (%s); sharing resumes "
                 "when it is back",
                 store_conf_where(&y->conf, where, sizeof where), why);
    y->logged_down = true;
}

static bool connect_now(inhibit_sync_t *y)
{
    if (y->ctx) return true;
    if (clock_mono_ns() < y->retry_ns) return false;
    char errbuf[256];
    y->ctx = redis_open(&y->conf, NULL, 0, errbuf, sizeof(errbuf)); /* redis_conn.c */
    if (!y->ctx) {
        down(y, errbuf);
        return false;
    }
    redisReply *r = redisCommand(y->ctx, "SCRIPT LOAD %s", merge_lua);
    bool ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok) memcpy(y->sha, r->str, 41);
    if (r) freeReplyObject(r);
    if (!ok) {
        down(y, "SCRIPT LOAD failed");
        return false;
    }
    if (y->logged_down) log_info("rules", "inhibition sources: redis reachable again");
    y->logged_down = false;
    return true;
}

inhibit_sync_t *inhibit_sync_new(inhibit_state_t *s, const store_conf_t *sc, int64_t push_ms,
                                 int64_t pull_ms)
{
    inhibit_sync_t *y = calloc(1, sizeof *y);
    if (!y) return NULL;
    y->s = s;
    y->conf = *sc;
    y->conf.prefix = NULL; /* copied into key */
    snprintf(y->key, sizeof y->key, "%sinhibit", sc->prefix ? sc->prefix : "");
    snprintf(y->ttl, sizeof y->ttl, "%lld", (long long)sc->ttl_ms);
    y->push_ms = push_ms > 0 ? push_ms : 50;
    y->pull_ms = pull_ms > 0 ? pull_ms : 1000;
    y->logged_down = false;
    inhibit_state_share(s);
    return y;
}

/* Sends w[0..n) in one pipeline; on failure keeps them for the next try. */
static bool push_batch(inhibit_sync_t *y, const inhibit_wire_t *w, size_t n)
{
    int64_t wall = clock_wall_ms();
    for (size_t i = 0; i < n; i++) {
        char field[17];
        hex16(w[i].key, field);
        unsigned char v[INHIBIT_WIRE_BYTES];
        wire_encode(&w[i], wall, v);
        const char *argv[7] = {"EVALSHA", y->sha, "1", y->key, field, (const char *)v, y->ttl};
        size_t lens[7] = {7, 40, 1, strlen(y->key), 16, INHIBIT_WIRE_BYTES, strlen(y->ttl)};
        redisAppendCommandArgv(y->ctx, 7, argv, lens);
    }
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        redisReply *r = NULL;
        ok = redisGetReply(y->ctx, (void **)&r) == REDIS_OK && r && r->type == REDIS_REPLY_INTEGER;
        if (r) freeReplyObject(r);
    }
    if (!ok) {
        /* Merging is idempotent and the newer change wins, so resending
         * what may have landed is harmless. */
        if (w != y->retry) memcpy(y->retry, w, n * sizeof *w);
        y->n_retry = n;
        down(y, y->ctx && y->ctx->errstr[0] ? y->ctx->errstr : "bad reply");
        return false;
    }
    atomic_fetch_add(&y->pushes, n);
    return true;
}

static bool push(inhibit_sync_t *y)
{
    if (y->n_retry) {
        size_t n = y->n_retry;
        y->n_retry = 0;
        if (!push_batch(y, y->retry, n)) return false;
    }
    inhibit_wire_t w[PUSH_BATCH];
    size_t cursor = 0, n;
    do {
        n = inhibit_state_take_dirty(y->s, &cursor, w, PUSH_BATCH);
        if (n && !push_batch(y, w, n)) return false;
    } while (n == PUSH_BATCH);
    return true;
}

static bool pull(inhibit_sync_t *y)
{
    redisReply *r = redisCommand(y->ctx, "HGETALL %s", y->key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        down(y, y->ctx && y->ctx->errstr[0] ? y->ctx->errstr : "bad reply");
        return false;
    }
    int64_t wall = clock_wall_ms();
    size_t stale = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        redisReply *f = r->element[i], *v = r->element[i + 1];
        if (v->type != REDIS_REPLY_STRING || v->len != INHIBIT_WIRE_BYTES) continue;
        inhibit_wire_t w;
        wire_decode((const unsigned char *)v->str, &w);
        if ((int64_t)le64_get((const unsigned char *)v->str + 56) + y->conf.ttl_ms < wall) {
            /* No instance has pushed it for a TTL (a source re-pushes on
             * every occurrence): pruned, so the hash stays as small as what
             * fires. */
            redisAppendCommand(y->ctx, "HDEL %s %b", y->key, f->str, (size_t)f->len);
            stale++;
            continue;
        }
        inhibit_state_merge(y->s, &w);
    }
    atomic_store(&y->fields, (uint64_t)(r->elements / 2 - stale));
    freeReplyObject(r);
    for (size_t i = 0; i < stale; i++) {
        redisReply *d = NULL;
        if (redisGetReply(y->ctx, (void **)&d) != REDIS_OK) {
            down(y, "HDEL failed");
            return false;
        }
        if (d) freeReplyObject(d);
    }
    atomic_fetch_add(&y->pulls, 1);
    return true;
}

qerr_t inhibit_sync_now(inhibit_sync_t *y)
{
    if (!connect_now(y)) return QERR_IO;
    if (!push(y) || !pull(y)) return QERR_IO;
    y->next_pull_ns = clock_mono_ns() + y->pull_ms * 1000000;
    return QERR_OK;
}

static void *sync_main(void *arg)
{
    inhibit_sync_t *y = arg;
    while (!atomic_load(&y->stop)) {
        struct timespec ts = {y->push_ms / 1000, (y->push_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        if (!connect_now(y)) continue; /* redisConnect waits at most store.timeout */
        if (!push(y)) continue;
        if (clock_mono_ns() >= y->next_pull_ns) {
            y->next_pull_ns = clock_mono_ns() + y->pull_ms * 1000000;
            pull(y);
        }
    }
    if (connect_now(y)) push(y); /* the last changes of this instance */
    return NULL;
}

qerr_t inhibit_sync_run(inhibit_sync_t *y)
{
    if (pthread_create(&y->thread, NULL, sync_main, y) != 0) return QERR_NOMEM;
    pthread_setname_np(y->thread, "quell-inhibit");
    y->running = true;
    return QERR_OK;
}

void inhibit_sync_destroy(inhibit_sync_t *y)
{
    if (!y) return;
    if (y->running) {
        atomic_store(&y->stop, true);
        pthread_join(y->thread, NULL);
    }
    if (y->ctx) redisFree(y->ctx);
    free(y);
}

void inhibit_sync_stats(inhibit_sync_t *y, inhibit_sync_stats_t *out)
{
    *out = (inhibit_sync_stats_t){atomic_load(&y->pushes), atomic_load(&y->pulls),
                                  atomic_load(&y->errors), atomic_load(&y->fields)};
}
