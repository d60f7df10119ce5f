/*
 * The shared store's Redis adapter: one hiredis connection per thread,
 * commands written as RESP into a buffer the connection keeps (resp_*
 * below) and sent as one pipeline per store_run(), i.e. one round trip.
 *
 * Three Lua scripts, loaded with SCRIPT LOAD on every (re)connect and called
 * with EVALSHA; a NOSCRIPT reply (Redis restarted, SCRIPT FLUSH) fails the
 * round trip, and the reconnect that follows loads them again:
 *   cas      (per key) set the key to the desired entry (PX ttl) iff it holds
 *            exactly the expected one ("" = absent), else answer what it
 *            holds: the atomic step that makes two instances deciding one
 *            fingerprint agree; an expected "?" only reads the key;
 *   confirm  (per key) clear the pending flag iff the entry is still pending for this
 *            forward (seq + incident id), keeping the TTL; when the key holds
 *            the entry the caller expected, it writes the one the caller
 *            worked out (store_entry_confirm);
 *   touch    (per key) fold suppressed occurrences in (count += n, last_seen = max)
 *            and renew the TTL (or keep it: STORE_TTL_RENEW_MS), answering
 *            the entry it wrote (the worker's cache takes it as what Redis
 *            holds now); a no-op answering 0 when the key is gone or of
 *            another format. When the key holds the entry the caller
 *            expected, it writes the entry the caller worked out
 *            (store_entry_touch) and answers 1.
 * Each takes up to MULTI_KEYS keys per call: consecutive commands of one
 * script queued on a connection are sent as one call, and reads its keys
 * with one MGET (a key twice in one call is never sent: the second starts
 * the next call, so each key is handled exactly as a one-key script would). A CAS expecting the
 * key absent (a fingerprint new to this worker) is a plain
 * `SET key desired NX GET PX ttl` instead, on Redis >= 7.0 (INFO server
 * on connect): the same atomic step without the script.
 * Entries are format 2 (96 bytes, dedup plus noise state); format-1
 * entries (64 bytes, written before noise state was shared) are read as
 * format 2 with no noise state, by C and by the scripts alike.
 * Failures: a round trip that errs or exceeds store.timeout drops the
 * connection; reconnects back off from 100 ms to 5 s. Up/down changes are
 * logged once each. Connections are opened by redis_open (redis_conn.c:
 * AUTH, Sentinel, SELECT); an error reply such as READONLY (the master was
 * demoted by a failover) drops the connection like any error, and the
 * reconnect asks the sentinels for the new master.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dedup_int.h"

/* An entry the scripts understand: format 1 (64 bytes) or format 2 (96,
 * the same first 64 bytes plus noise state and the pending id; store.c). */
#define LUA_ENTRY_OK                                                                               \
    "(#cur == 64 and string.byte(cur, 2) == 1 or #cur == 96 and string.byte(cur, 2) == 2)"

/* A format-1 entry is compared (and returned) as format 2, the way C reads
 * it (store_entry_upgrade), so a CAS against what C was given can succeed
 * and rewrite it as format 2.
 * Any number of keys; ARGV: the expected and desired entry per key, then
 * a renew flag per key (below) and the TTL. Answers one element per key:
 * 1 (written), 0 (absent, not written) or the entry it holds (not
 * written). An expected "?" (never an entry: those are 0, 64 or 96 bytes)
 * reads the key without writing. Each key is handled exactly as the
 * one-key script of earlier builds did: one call per CAS was ~10 us of
 * Redis time, on the same 2 cores as quell
 * (~135,000 calls per launch-day run); a call of 128 keys costs a fraction
 * of that per key. */
/* Each script reads its keys with one MGET rather than one GET per key:
 * a redis.call is ~1 us of Redis CPU on its own (argument objects, the
 * command's dispatch, its reply turned back into Lua). MGET answers false
 * for a key of another type where GET raised WRONGTYPE: cas then writes
 * an absent-expected key with NX (and raises WRONGTYPE with a GET when
 * that finds the key there), so a foreign key is never overwritten. */
/* cas and touch: ARGV[#ARGV - 1] holds a byte per key, '1' where the
 * write sets the TTL (PX), else it keeps the key's (KEEPTTL: the caller
 * set it less than STORE_TTL_RENEW_MS / 2 ago); PX was ~1 us of Redis CPU
 * per key of the ~3-4 a key's write costs (a hiredis loop of 128-key
 * calls: 3.9-4.2 against 2.9-3.2 us). A key expected absent always gets
 * it. */
static const char cas_lua[] =
    "local out, ttl, renew = {}, ARGV[#ARGV], ARGV[#ARGV - 1] "
    "local all = redis.call('MGET', unpack(KEYS)) "
    "for i = 1, #KEYS do "
    "  local cur = all[i] "
    "  if cur and #cur == 64 and string.byte(cur, 1) == 81 and string.byte(cur, 2) == 1 then "
    "    cur = 'Q' .. string.char(2, string.byte(cur, 3) % 4) .. string.sub(cur, 4) .. "
    "string.rep(string.char(0), 24) .. string.sub(cur, 9, 16) end "
    "  local want = ARGV[2 * i - 1] "
    "  if want == '' and not cur then "
    "    if redis.call('SET', KEYS[i], ARGV[2 * i], 'NX', 'PX', ttl) then out[i] = 1 "
    "    else out[i] = redis.call('GET', KEYS[i]) or 0 end "
    "  elseif want ~= '?' and (cur or '') == want then "
    "    if string.byte(renew, i) == 49 then redis.call('SET', KEYS[i], ARGV[2 * i], 'PX', ttl) "
    "    else redis.call('SET', KEYS[i], ARGV[2 * i], 'KEEPTTL') end "
    "    out[i] = 1 "
    "  else out[i] = cur or 0 end "
    "end "
    "return out";

/* confirm and touch take any number of keys (ARGV: one id per key for
 * confirm; a count and a last-seen per key, then the renew flags and the
 * TTL, for touch): the adapter sends one call per MULTI_KEYS fingerprints
 * rather than one per fingerprint. confirm answers how many it cleared; touch one element per
 * key, like cas: the entry written, or 0. Touches were ~70% of the script calls of a launch-day run
 * (231,801 EVALSHA at 9.25 us each in Redis for 2M alerts); a call's
 * fixed cost (dispatch, the script's invocation, the reply) is now paid
 * once per batch. Each key is handled exactly as the one-key scripts did. */
/* confirm's ARGV per key: the forward's id (seq and incident id), the
 * entry expected ("" unknown) and the entry to write when it holds that
 * (store_entry_confirm: skips the script's byte work, as touch does). */
static const char confirm_lua[] =
    "local done = 0 "
    "local all = redis.call('MGET', unpack(KEYS)) "
    "for i = 1, #KEYS do "
    "  local cur, want = all[i], ARGV[3 * i - 1] "
    "  if cur and #want > 0 and cur == want then "
    "    redis.call('SET', KEYS[i], ARGV[3 * i], 'KEEPTTL') done = done + 1 "
    "  elseif cur and " LUA_ENTRY_OK " then "
    "    local f = string.byte(cur, 3) "
    "    local id = string.sub(cur, 5, 16) "
    "    if #cur == 96 then id = string.sub(cur, 5, 8) .. string.sub(cur, 89, 96) end "
    "    if f % 4 >= 2 and id == ARGV[3 * i - 2] then "
    "      redis.call('SET', KEYS[i], string.sub(cur, 1, 2) .. string.char(f - 2) .. "
    "string.sub(cur, 4), 'KEEPTTL') done = done + 1 end "
    "  end "
    "end "
    "return done";

/* touch's ARGV per key: the entry expected ("" unknown), the entry to
 * write when it holds that, the count to add and the last seen; then the
 * TTL. The expected case is the common one (an instance alone on its
 * fingerprints) and skips the arithmetic: unpacking, packing and five
 * new Lua strings per key were ~1.5 us of Redis CPU in a hiredis loop,
 * more than the GET. */
static const char touch_lua[] =
    "local out, ttl, renew = {}, ARGV[#ARGV], ARGV[#ARGV - 1] "
    "local all = redis.call('MGET', unpack(KEYS)) "
    "local function put(i, v) "
    "  if string.byte(renew, i) == 49 then redis.call('SET', KEYS[i], v, 'PX', ttl) "
    "  else redis.call('SET', KEYS[i], v, 'KEEPTTL') end "
    "end "
    "for i = 1, #KEYS do "
    "  local cur, want = all[i], ARGV[4 * i - 3] "
    "  out[i] = 0 "
    "  if cur and #want > 0 and cur == want then "
    "    put(i, ARGV[4 * i - 2]) out[i] = 1 "
    "  elseif cur and " LUA_ENTRY_OK " then "
    "    local ls = struct.unpack('<l', cur, 41) local n = struct.unpack('<L', cur, 57) "
    "    local nls = tonumber(ARGV[4 * i]) if ls > nls then nls = ls end "
    "    out[i] = string.sub(cur, 1, 40) .. struct.pack('<l', nls) .. "
    "string.sub(cur, 49, 56) .. struct.pack('<L', n + tonumber(ARGV[4 * i - 1])) .. "
    "string.sub(cur, 65) "
    "    put(i, out[i]) "
    "  end "
    "end "
    "return out";

enum { SCRIPT_CAS, SCRIPT_CONFIRM, SCRIPT_TOUCH, N_SCRIPTS };
static const char *const scripts[N_SCRIPTS] = {cas_lua, confirm_lua, touch_lua};

#define MAX_PREFIX 128
#define KEY_BYTES  (MAX_PREFIX + 16)
#define MULTI_KEYS 128 /* fingerprints per script call */
/* Bytes of one per-key argument: an entry (cas, touch), an id (12,
 * confirm) or a number (touch). */
#define MULTI_ARG  STORE_ENTRY_BYTES
#define MULTI_ARGS 4 /* per-key arguments at most (touch) */

/* What one result is (one per key of a cas or touch call, one per
 * confirm call). */
typedef enum { CMD_CAS, CMD_GET, CMD_CONFIRM, CMD_TOUCH, CMD_TOUCH_EXPECT, CMD_SET_NX } cmd_kind_t;

/* One call sent: it fills the results slots[first .. first + n) (indices
 * in the order the commands were queued; a CAS sent as SET NX answers
 * before the cas call it was queued with); a cas or touch call answers an
 * array of n, the others one reply (n = 1). */
typedef struct {
    uint32_t first, n;
    bool array;
} call_t;

struct store_conn {
    store_conf_t conf;
    char prefix[MAX_PREFIX];
    size_t prefix_len;
    char name[32];
    char where[300]; /* store_conf_where, for logs */
    char addr[300];  /* host:port of the server connected to last */
    redisContext *ctx;
    char sha[N_SCRIPTS][41];
    char ttl[24];
    int64_t next_attempt_ns;
    int64_t backoff_ms;
    bool ever_up;
    bool logged_down;
    /* A CAS expecting the key absent goes as a plain SET NX GET (Redis >=
     * 7.0: SET with both NX and GET) rather than through the script: ~1.7
     * against ~3.4 us of Redis CPU per key, and every new fingerprint is
     * one. */
    bool set_nx_get;
    cmd_kind_t *kinds; /* what each queued result is, in queued order */
    size_t n_queued, cap_queued;
    /* per queued result of kind CMD_TOUCH_EXPECT: the entry it writes
     * when Redis holds the one expected (its answer is then 1) */
    unsigned char (*written)[STORE_ENTRY_BYTES];
    size_t cap_written;
    call_t *calls; /* calls sent, in order */
    size_t n_calls, cap_calls;
    uint32_t *slots; /* the results of the calls, in the order they answer */
    size_t n_slots, cap_slots;
    /* The call being gathered (multi_n keys of script multi_script); sent
     * when full, and before a call of another script is queued or the
     * pipeline runs, so commands keep their order. multi_kind: each key's
     * result (cas: CMD_CAS or CMD_GET). */
    int multi_script;
    size_t multi_n;
    uint64_t multi_fp[MULTI_KEYS];
    char multi_key[MULTI_KEYS][KEY_BYTES];
    size_t multi_key_len[MULTI_KEYS];
    char multi_arg[MULTI_KEYS][MULTI_ARGS][MULTI_ARG];
    size_t multi_arg_len[MULTI_KEYS][MULTI_ARGS];
    cmd_kind_t multi_kind[MULTI_KEYS];
    char multi_renew[MULTI_KEYS]; /* cas, touch: '1' sets the TTL, '0' keeps it */
    /* The round's commands, formatted; handed to hiredis in one piece by
     * store_send. Formatting each call with redisAppendCommandArgv (an
     * sds per call built with sdscatfmt per argument, then appended to
     * hiredis's output buffer, which grows by realloc and is freed after
     * every write) was ~5% of the dedup thread's samples in a launch-day
     * run. */
    resp_buf_t out;
    store_conn_stats_t stats;
};

/* ---- RESP ---------------------------------------------------------------- */

static void resp_room(resp_buf_t *b, size_t more)
{
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + more) cap *= 2;
    char *nb = realloc(b->buf, cap);
    if (!nb) abort(); /* a round's commands: nothing sensible is left to do */
    b->buf = nb;
    b->cap = cap;
}

/* `mark` ('*' or '$'), n in decimal, CRLF. */
static void resp_head(resp_buf_t *b, char mark, size_t n)
{
    char digits[24];
    size_t k = sizeof(digits);
    do {
        digits[--k] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    resp_room(b, 1 + (sizeof(digits) - k) + 2);
    char *w = b->buf + b->len;
    *w++ = mark;
    memcpy(w, digits + k, sizeof(digits) - k);
    w += sizeof(digits) - k;
    *w++ = '\r';
    *w++ = '\n';
    b->len = (size_t)(w - b->buf);
}

void resp_cmd(resp_buf_t *b, size_t argc) { resp_head(b, '*', argc); }

void resp_arg(resp_buf_t *b, const void *p, size_t len)
{
    resp_head(b, '$', len);
    resp_room(b, len + 2);
    if (len) memcpy(b->buf + b->len, p, len);
    b->buf[b->len + len] = '\r';
    b->buf[b->len + len + 1] = '\n';
    b->len += len + 2;
}

void resp_reset(resp_buf_t *b) { b->len = 0; }

void resp_free(resp_buf_t *b)
{
    free(b->buf);
    *b = (resp_buf_t){0};
}

/* resp_arg of a NUL-terminated string. */
static void resp_str(resp_buf_t *b, const char *s) { resp_arg(b, s, strlen(s)); }

store_conn_t *store_conn_new(const store_conf_t *sc, const char *name)
{
    store_conn_t *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->conf = *sc;
    snprintf(c->prefix, sizeof(c->prefix), "%s", sc->prefix ? sc->prefix : "");
    c->prefix_len = strlen(c->prefix);
    c->conf.prefix = c->prefix;
    snprintf(c->name, sizeof(c->name), "%s", name);
    store_conf_where(sc, c->where, sizeof(c->where));
    snprintf(c->ttl, sizeof(c->ttl), "%lld", (long long)(sc->ttl_ms + STORE_TTL_RENEW_MS));
    c->backoff_ms = 100;
    return c;
}

static void drop(store_conn_t *c, const char *reason)
{
    char why[160]; /* `reason` may point into the context freed below */
    snprintf(why, sizeof(why), "%s", reason);
    if (c->ctx) redisFree(c->ctx);
    c->ctx = NULL;
    c->n_queued = 0;
    c->n_calls = 0;
    c->n_slots = 0;
    c->multi_n = 0;
    resp_reset(&c->out);
    c->stats.errors++;
    c->next_attempt_ns = clock_mono_ns() + c->backoff_ms * 1000000;
    /* With sentinels a failover is the likely cause and ends in a second
     * or two: retry (ask the sentinels) at least every second. */
    int64_t cap_ms = c->conf.n_sentinels ? 1000 : 5000;
    c->backoff_ms = c->backoff_ms * 2 > cap_ms ? cap_ms : c->backoff_ms * 2;
    if (!c->logged_down) {
        log_error("store", "%s: redis %s unavailable (%s); %s until it is back", c->name, c->where,
                  why,
                  c->conf.on_error == STORE_FAIL_OPEN ? "deciding locally (fail_open)"
                                                      : "holding alerts (fail_closed)");
        c->logged_down = true;
    }
}

void store_conn_destroy(store_conn_t *c)
{
    if (!c) return;
    if (c->ctx) redisFree(c->ctx);
    free(c->kinds);
    free(c->written);
    free(c->calls);
    free(c->slots);
    resp_free(&c->out);
    free(c);
}

/* SCRIPT LOAD of every script (on connect, and after a NOSCRIPT). */
static bool load_scripts(store_conn_t *c)
{
    for (int i = 0; i < N_SCRIPTS; i++) {
        redisReply *r = redisCommand(c->ctx, "SCRIPT LOAD %s", scripts[i]);
        bool ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok) memcpy(c->sha[i], r->str, 41);
        char why[160];
        snprintf(why, sizeof(why), "SCRIPT LOAD: %.140s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : c->ctx->errstr);
        if (r) freeReplyObject(r);
        if (!ok) {
            drop(c, why);
            return false;
        }
    }
    return true;
}

/* The server's major version from INFO server (0 when unknown). */
static int server_major(store_conn_t *c)
{
    redisReply *r = redisCommand(c->ctx, "INFO server");
    int major = 0;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *v = strstr(r->str, "redis_version:");
        if (v) major = atoi(v + 14);
    }
    if (r) freeReplyObject(r);
    return major;
}

static bool connect_now(store_conn_t *c)
{
    char errbuf[256];
    c->ctx = redis_open(&c->conf, c->addr, sizeof(c->addr), errbuf, sizeof(errbuf));
    if (!c->ctx) {
        drop(c, errbuf);
        return false;
    }
    /* Keep the reader's buffer between rounds (hiredis frees one over
     * 16 KiB whenever it runs empty, and a round's answers are often
     * more: a malloc, a free and fresh pages per round trip). */
    c->ctx->reader->maxbuf = 0;
    if (!load_scripts(c)) return false;
    c->set_nx_get = server_major(c) >= 7;
    if (c->ever_up) c->stats.reconnects++;
    if (c->logged_down)
        log_info("store", "%s: redis %s reachable again (%s); shared decisions resumed", c->name,
                 c->where, c->addr);
    c->ever_up = true;
    c->logged_down = false;
    c->backoff_ms = 100;
    return true;
}

bool store_conn_ready(store_conn_t *c)
{
    if (c->ctx) return true;
    if (clock_mono_ns() < c->next_attempt_ns) return false;
    return connect_now(c);
}

bool store_conn_up(const store_conn_t *c) { return c->ctx != NULL; }

static void *grow(void *p, size_t *cap, size_t size)
{
    size_t ncap = *cap ? *cap * 2 : 256;
    void *np = realloc(p, ncap * size);
    if (!np) abort(); /* a few KiB: nothing sensible is left to do */
    *cap = ncap;
    return np;
}

static size_t key_of(const store_conn_t *c, uint64_t fp, char out[KEY_BYTES])
{
    memcpy(out, c->prefix, c->prefix_len);
    hex16(fp, out + c->prefix_len);
    return c->prefix_len + 16;
}

/* A call sent, answering results `first` .. `first + n - 1` of the queue. */
static void call_push(store_conn_t *c, size_t first, size_t n, bool array)
{
    if (c->n_calls == c->cap_calls) c->calls = grow(c->calls, &c->cap_calls, sizeof(*c->calls));
    while (c->n_slots + n > c->cap_slots)
        c->slots = grow(c->slots, &c->cap_slots, sizeof(uint32_t));
    c->calls[c->n_calls++] =
        (call_t){.first = (uint32_t)c->n_slots, .n = (uint32_t)n, .array = array};
    for (size_t i = 0; i < n; i++) c->slots[c->n_slots++] = (uint32_t)(first + i);
}

/* Sends the gathered call: EVALSHA sha N key... then each key's arguments
 * (then the renew flags and the TTL for cas and touch). CASes expecting an absent key go
 * first, each as SET key desired NX GET PX ttl, when the server has it. */
static void multi_send(store_conn_t *c)
{
    size_t n = c->multi_n;
    if (n == 0) return;
    c->multi_n = 0;
    int script = c->multi_script;
    size_t results = script == SCRIPT_CONFIRM ? 1 : n, base = c->n_queued;
    while (c->n_queued + results > c->cap_queued)
        c->kinds = grow(c->kinds, &c->cap_queued, sizeof(*c->kinds));
    if (script == SCRIPT_TOUCH)
        while (c->n_queued + results > c->cap_written)
            c->written = grow(c->written, &c->cap_written, sizeof(*c->written));
    c->n_queued += results;
    if (script == SCRIPT_CONFIRM) c->kinds[base] = CMD_CONFIRM;
    size_t per_key = script == SCRIPT_CONFIRM ? 3 : script == SCRIPT_CAS ? 2 : 4;
    bool in_call[MULTI_KEYS];
    size_t n_call = 0;
    for (size_t i = 0; i < n; i++) {
        in_call[i] = true;
        if (script == SCRIPT_CAS) c->kinds[base + i] = c->multi_kind[i];
        if (script == SCRIPT_TOUCH && c->multi_arg_len[i][0] == 0) c->kinds[base + i] = CMD_TOUCH;
        if (script == SCRIPT_TOUCH && c->multi_arg_len[i][0] != 0) {
            c->kinds[base + i] = CMD_TOUCH_EXPECT;
            memcpy(c->written[base + i], c->multi_arg[i][1], STORE_ENTRY_BYTES);
        }
        if (script != SCRIPT_CAS || !c->set_nx_get || c->multi_kind[i] != CMD_CAS ||
            c->multi_arg_len[i][0] != 0) {
            n_call++;
            continue;
        }
        in_call[i] = false;
        c->kinds[base + i] = CMD_SET_NX;
        resp_cmd(&c->out, 7);
        resp_arg(&c->out, "SET", 3);
        resp_arg(&c->out, c->multi_key[i], c->multi_key_len[i]);
        resp_arg(&c->out, c->multi_arg[i][1], c->multi_arg_len[i][1]);
        resp_arg(&c->out, "NX", 2);
        resp_arg(&c->out, "GET", 3);
        resp_arg(&c->out, "PX", 2);
        resp_str(&c->out, c->ttl);
        call_push(c, base + i, 1, false);
    }
    if (n_call == 0) return;
    /* EVALSHA sha numkeys key... args... [renew-flags ttl] */
    resp_cmd(&c->out, 3 + n_call * (1 + per_key) + (script != SCRIPT_CONFIRM ? 2 : 0));
    resp_arg(&c->out, "EVALSHA", 7);
    resp_arg(&c->out, c->sha[script], 40);
    char numkeys[16];
    resp_arg(&c->out, numkeys, (size_t)snprintf(numkeys, sizeof(numkeys), "%zu", n_call));
    for (size_t i = 0; i < n; i++)
        if (in_call[i]) resp_arg(&c->out, c->multi_key[i], c->multi_key_len[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; in_call[i] && j < per_key; j++)
            resp_arg(&c->out, c->multi_arg[i][j], c->multi_arg_len[i][j]);
    if (script != SCRIPT_CONFIRM) {
        char renew[MULTI_KEYS];
        size_t r = 0;
        for (size_t i = 0; i < n; i++)
            if (in_call[i]) renew[r++] = c->multi_renew[i];
        resp_arg(&c->out, renew, r);
        resp_str(&c->out, c->ttl);
    }
    if (script == SCRIPT_CONFIRM) {
        call_push(c, base, 1, false);
        return;
    }
    if (c->n_calls == c->cap_calls) c->calls = grow(c->calls, &c->cap_calls, sizeof(*c->calls));
    while (c->n_slots + n_call > c->cap_slots)
        c->slots = grow(c->slots, &c->cap_slots, sizeof(uint32_t));
    c->calls[c->n_calls++] =
        (call_t){.first = (uint32_t)c->n_slots, .n = (uint32_t)n_call, .array = true};
    for (size_t i = 0; i < n; i++)
        if (in_call[i]) c->slots[c->n_slots++] = (uint32_t)(base + i);
}

/* The next key of the call being gathered; its arguments are filled in by
 * the caller. */
static size_t multi_add(store_conn_t *c, int script, uint64_t fp)
{
    /* fp in the call already: its read (MGET, up front) would miss the
     * first one's write. Not for confirms: two of one key are of two
     * forwards (seq differs), and an entry is pending for one of them at
     * most, so the one that writes is the one the other does not see. */
    bool again = false;
    for (size_t j = 0; j < c->multi_n && !again && script != SCRIPT_CONFIRM; j++)
        again = c->multi_fp[j] == fp;
    if (c->multi_n && (c->multi_script != script || c->multi_n == MULTI_KEYS || again))
        multi_send(c);
    c->multi_script = script;
    size_t i = c->multi_n++;
    c->multi_fp[i] = fp;
    c->multi_key_len[i] = key_of(c, fp, c->multi_key[i]);
    return i;
}

void store_cas_add(store_conn_t *c, uint64_t fp, const unsigned char *expected,
                   const unsigned char desired[STORE_ENTRY_BYTES], bool renew_ttl)
{
    size_t i = multi_add(c, SCRIPT_CAS, fp);
    c->multi_kind[i] = CMD_CAS;
    c->multi_renew[i] = renew_ttl || !expected ? '1' : '0';
    c->multi_arg_len[i][0] = expected ? STORE_ENTRY_BYTES : 0;
    if (expected) memcpy(c->multi_arg[i][0], expected, STORE_ENTRY_BYTES);
    memcpy(c->multi_arg[i][1], desired, STORE_ENTRY_BYTES);
    c->multi_arg_len[i][1] = STORE_ENTRY_BYTES;
}

void store_get_add(store_conn_t *c, uint64_t fp)
{
    /* A read is a key of the cas call with "?" expected: reads and CASes
     * of one round share its calls. */
    size_t i = multi_add(c, SCRIPT_CAS, fp);
    c->multi_kind[i] = CMD_GET;
    c->multi_renew[i] = '0'; /* nothing written */
    c->multi_arg[i][0][0] = '?';
    c->multi_arg_len[i][0] = 1;
    c->multi_arg_len[i][1] = 0;
}

void store_confirm_add(store_conn_t *c, uint64_t fp, uint32_t seq, uint64_t incident_id,
                       const unsigned char *expected)
{
    size_t i = multi_add(c, SCRIPT_CONFIRM, fp);
    unsigned char *id = (unsigned char *)c->multi_arg[i][0];
    for (int b = 0; b < 4; b++) id[b] = (unsigned char)(seq >> (8 * b));
    for (int b = 0; b < 8; b++) id[4 + b] = (unsigned char)(incident_id >> (8 * b));
    c->multi_arg_len[i][0] = 12;
    c->multi_arg_len[i][1] = c->multi_arg_len[i][2] = 0;
    if (expected && store_entry_confirm(expected, id, (unsigned char *)c->multi_arg[i][2])) {
        memcpy(c->multi_arg[i][1], expected, STORE_ENTRY_BYTES);
        c->multi_arg_len[i][1] = c->multi_arg_len[i][2] = STORE_ENTRY_BYTES;
    }
}

void store_touch_add(store_conn_t *c, uint64_t fp, uint64_t delta, int64_t last_seen_ms,
                     const unsigned char *expected, bool renew_ttl)
{
    size_t i = multi_add(c, SCRIPT_TOUCH, fp);
    c->multi_renew[i] = renew_ttl ? '1' : '0';
    c->multi_arg_len[i][0] = c->multi_arg_len[i][1] = 0;
    if (expected &&
        store_entry_touch(expected, delta, last_seen_ms, (unsigned char *)c->multi_arg[i][1])) {
        memcpy(c->multi_arg[i][0], expected, STORE_ENTRY_BYTES);
        c->multi_arg_len[i][0] = c->multi_arg_len[i][1] = STORE_ENTRY_BYTES;
    }
    c->multi_arg_len[i][2] =
        (size_t)snprintf(c->multi_arg[i][2], MULTI_ARG, "%llu", (unsigned long long)delta);
    c->multi_arg_len[i][3] =
        (size_t)snprintf(c->multi_arg[i][3], MULTI_ARG, "%lld", (long long)last_seen_ms);
}

size_t store_queued(const store_conn_t *c)
{
    /* Counted as sent: the gathered call's results too. */
    size_t gathered = c->multi_n == 0 ? 0 : c->multi_script == SCRIPT_CONFIRM ? 1 : c->multi_n;
    return c->n_queued + gathered;
}

static bool take_value(const redisReply *r, store_result_t *out)
{
    if (r->type == REDIS_REPLY_NIL || (r->type == REDIS_REPLY_INTEGER && r->integer == 0)) {
        out->cur_len = 0;
        return true;
    }
    if (r->type == REDIS_REPLY_STRING && store_entry_upgrade(r->str, (size_t)r->len, out->cur)) {
        out->cur_len = STORE_ENTRY_BYTES; /* a format-1 entry (GET), read as format 2 */
        return true;
    }
    if (r->type != REDIS_REPLY_STRING || r->len > STORE_ENTRY_BYTES) {
        /* Another format or garbage under our prefix: report it as an
         * unreadable entry (cur_len without a decodable blob). */
        out->cur_len = r->type == REDIS_REPLY_STRING ? (size_t)STORE_ENTRY_BYTES + 1 : 0;
        return r->type == REDIS_REPLY_STRING;
    }
    memcpy(out->cur, r->str, (size_t)r->len);
    out->cur_len = (size_t)r->len;
    return true;
}

/* One result of kind `kind` from reply `r` (an element of a cas or touch
 * call's array, or a confirm call's count); false when `r` is not a
 * reply that kind has. `written`: what a CMD_TOUCH_EXPECT wrote when it
 * answers 1. */
static bool take_result(cmd_kind_t kind, const redisReply *r, const unsigned char *written,
                        store_result_t *out)
{
    switch (kind) {
    case CMD_CAS:
        if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
            out->kind = STORE_R_OK;
            return true;
        }
        out->kind = STORE_R_CONFLICT;
        return take_value(r, out);
    case CMD_GET: out->kind = STORE_R_VALUE; return take_value(r, out);
    case CMD_SET_NX:
        /* nil: it was absent and is written; else what it holds, unwritten */
        if (r->type == REDIS_REPLY_NIL) {
            out->kind = STORE_R_OK;
            return true;
        }
        out->kind = STORE_R_CONFLICT;
        return r->type == REDIS_REPLY_STRING && take_value(r, out);
    case CMD_TOUCH: out->kind = STORE_R_VALUE; return take_value(r, out);
    case CMD_TOUCH_EXPECT:
        out->kind = STORE_R_VALUE;
        if (written && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
            memcpy(out->cur, written, STORE_ENTRY_BYTES);
            out->cur_len = STORE_ENTRY_BYTES;
            return true;
        }
        return take_value(r, out);
    case CMD_CONFIRM: out->kind = STORE_R_OK; return r->type == REDIS_REPLY_INTEGER;
    }
    return false;
}

qerr_t store_send(store_conn_t *c)
{
    multi_send(c);
    if (c->n_calls == 0) return QERR_OK;
    if (!c->ctx) {
        c->n_queued = c->n_calls = c->n_slots = 0;
        resp_reset(&c->out);
        return QERR_IO;
    }
    /* The round's commands in one piece: one copy into hiredis's output
     * buffer, written below. */
    int appended = redisAppendFormattedCommand(c->ctx, c->out.buf, c->out.len);
    resp_reset(&c->out);
    if (appended != REDIS_OK) {
        drop(c, c->ctx->errstr[0] ? c->ctx->errstr : "out of memory");
        return QERR_IO;
    }
    int done = 0;
    while (!done)
        if (redisBufferWrite(c->ctx, &done) != REDIS_OK) {
            drop(c, c->ctx->errstr[0] ? c->ctx->errstr : "write failed");
            return QERR_IO;
        }
    return QERR_OK;
}

qerr_t store_run(store_conn_t *c, store_result_t *results, size_t n)
{
    qerr_t err = store_send(c);
    return err == QERR_OK ? store_recv(c, results, n) : err;
}

qerr_t store_recv(store_conn_t *c, store_result_t *results, size_t n)
{
    size_t queued = c->n_queued, n_calls = c->n_calls;
    c->n_queued = 0;
    c->n_calls = 0;
    c->n_slots = 0;
    if (n_calls == 0) return QERR_OK;
    if (!c->ctx || n < queued) {
        if (c->ctx) drop(c, "result buffer too small");
        return QERR_IO;
    }
    c->stats.round_trips++;
    c->stats.commands += n_calls;
    bool noscript = false;
    for (size_t i = 0; i < n_calls; i++) {
        const call_t *call = &c->calls[i];
        redisReply *r = NULL;
        if (redisGetReply(c->ctx, (void **)&r) != REDIS_OK || !r) {
            drop(c, c->ctx->errstr[0] ? c->ctx->errstr : "no reply");
            return QERR_IO;
        }
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            /* The scripts are gone (SCRIPT FLUSH, or a restart this
             * connection did not notice): no script ran, so their keys can
             * simply be sent again once they are loaded. A SET NX of the
             * same pipeline did run: its result stands. */
            noscript = true;
            for (size_t k = 0; k < call->n; k++)
                results[c->slots[call->first + k]].kind = STORE_R_RETRY;
            freeReplyObject(r);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            char why[160];
            snprintf(why, sizeof(why), "%.150s", r->str);
            freeReplyObject(r);
            /* The rest of the pipeline's replies are still on the socket:
             * dropping the connection discards them with it. */
            drop(c, why);
            return QERR_IO;
        }
        bool ok = true;
        const uint32_t *slot = c->slots + call->first;
        if (call->array) {
            ok = r->type == REDIS_REPLY_ARRAY && r->elements == call->n;
            for (size_t k = 0; ok && k < call->n; k++)
                ok = take_result(c->kinds[slot[k]], r->element[k],
                                 c->kinds[slot[k]] == CMD_TOUCH_EXPECT ? c->written[slot[k]] : NULL,
                                 &results[slot[k]]);
        } else {
            ok = take_result(c->kinds[slot[0]], r, NULL, &results[slot[0]]);
        }
        freeReplyObject(r);
        if (!ok) {
            drop(c, "unexpected reply");
            return QERR_IO;
        }
    }
    if (noscript) {
        log_warn("store", "%s: redis answered NOSCRIPT; scripts loaded again", c->name);
        return load_scripts(c) ? QERR_FULL : QERR_IO;
    }
    return QERR_OK;
}

void store_conn_stats(const store_conn_t *c, store_conn_stats_t *out) { *out = c->stats; }

/* ---- readiness probe ----------------------------------------------------- */

struct store_probe {
    pthread_mutex_t lock; /* the HTTP server's threads probe concurrently */
    store_conn_t *conn;
};

store_probe_t *store_probe_new(const store_conf_t *sc)
{
    store_probe_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->lock, NULL);
    if (!(p->conn = store_conn_new(sc, "ready"))) {
        store_probe_destroy(p);
        return NULL;
    }
    return p;
}

bool store_probe_ready(store_probe_t *p)
{
    pthread_mutex_lock(&p->lock);
    bool ok = store_conn_ready(p->conn);
    if (ok) {
        store_result_t r;
        store_get_add(p->conn, 0);
        ok = store_run(p->conn, &r, 1) == QERR_OK;
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

void store_probe_destroy(store_probe_t *p)
{
    if (!p) return;
    store_conn_destroy(p->conn);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
