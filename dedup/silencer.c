/*
 * The silencer (silence.h): the list of silences, kept durable and shared,
 * and the API v2 operations on it.
 *
 * Memory store: the list is written to one JSON file (an array of silences
 * in the API's shape) after every change, a temporary file then rename, so
 * a crash leaves the old or the new list, never half of one; it is read at
 * start.
 *
 * Redis store: `PREFIX + "silences"` is a hash, one field per silence id,
 * the value the same JSON object; `PREFIX + "silences:version"` is a
 * counter every writer increments after its HSET. Each instance reads the
 * counter every poll_ms and re-reads the hash when it moved, so another
 * instance's silence is in force here within poll_ms plus one round trip
 * (poll_ms is store.cache, bounded below). A write answers only once Redis
 * took it and this instance published it.
 *
 * Threads: HTTP threads and the poll thread, under `lock`. Publishing waits
 * for workers to leave the previous rule-set generation (a few µs).
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "silence_int.h"

struct silencer {
    silencer_opts_t o;
    char *file;
    store_conf_t redis;
    bool shared;
    char hkey[160], vkey[180];
    pthread_mutex_t lock;
    srec_t *recs;
    size_t n, cap;
    silences_t *current; /* what was last published */
    redisContext *ctx;
    long long version; /* Redis counter last read; -1 = never */
    bool logged_down;
    pthread_t thread;
    bool running;
    _Atomic bool stop;
};

/* ---- the list ------------------------------------------------------------- */

static srec_t *find(silencer_t *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->recs[i].id, id)) return &s->recs[i];
    return NULL;
}

/* Expired longer than the retention: dropped. Returns how many. */
static size_t gc(silencer_t *s, int64_t now_ms, char dropped[][40], size_t cap)
{
    size_t k = 0, n_dropped = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->recs[i].ends_ms + s->o.retention_ms < now_ms) {
            if (n_dropped < cap) memcpy(dropped[n_dropped], s->recs[i].id, 40);
            n_dropped++;
            srec_free(&s->recs[i]);
            continue;
        }
        s->recs[k++] = s->recs[i];
    }
    s->n = k;
    return n_dropped;
}

static qerr_t put(silencer_t *s, const srec_t *r)
{
    srec_t *cur = find(s, r->id);
    if (cur) {
        srec_free(cur);
        return srec_copy(cur, r);
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        srec_t *nv = realloc(s->recs, nc * sizeof *nv);
        if (!nv) return QERR_NOMEM;
        s->recs = nv;
        s->cap = nc;
    }
    if (srec_copy(&s->recs[s->n], r) != QERR_OK) return QERR_NOMEM;
    s->n++;
    return QERR_OK;
}

static void clear(silencer_t *s)
{
    for (size_t i = 0; i < s->n; i++) srec_free(&s->recs[i]);
    s->n = 0;
}

/* Compiles the list and makes it the live one (under lock). */
static void publish(silencer_t *s)
{
    silences_t *next = silences_build(s->recs, s->n, clock_wall_ms(), s->current);
    if (!next) {
        log_error("silence", "out of memory compiling silences: the previous ones stay");
        return;
    }
    if (s->o.live) rules_live_set_silences(s->o.live, next);
    silences_release(s->current);
    s->current = next;
}

/* ---- the file ------------------------------------------------------------- */

static qerr_t parse_list(const char *text, size_t len, srec_t **out, size_t *n_out, char *errbuf,
                         size_t errlen)
{
    *out = NULL;
    *n_out = 0;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        snprintf(errbuf, errlen, "not a JSON array of silences");
        return QERR_INVALID;
    }
    int n = cJSON_GetArraySize(root);
    srec_t *v = calloc(n ? (size_t)n : 1, sizeof *v);
    if (!v) {
        cJSON_Delete(root);
        snprintf(errbuf, errlen, "out of memory");
        return QERR_NOMEM;
    }
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        char why[512];
        if (srec_from_json(cJSON_GetArrayItem(root, i), &v[k], why, sizeof why) != 200 ||
            !v[k].id[0]) {
            log_warn("silence", "silence %d of the file left out: %s", i, why);
            srec_free(&v[k]);
            continue;
        }
        k++;
    }
    cJSON_Delete(root);
    *out = v;
    *n_out = k;
    return QERR_OK;
}

static qerr_t read_file(const char *path, srec_t **out, size_t *n, char *errbuf, size_t errlen)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return QERR_OK; /* first start */
    mbuf_t b = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) mbuf_append(&b, chunk, got);
    fclose(f);
    qerr_t rc = b.oom ? QERR_NOMEM : QERR_OK;
    if (rc == QERR_OK && b.len) {
        char why[400];
        rc = parse_list(b.buf, b.len, out, n, why, sizeof why);
        if (rc != QERR_OK) snprintf(errbuf, errlen, "%s: %s", path, why);
    }
    mbuf_free(&b);
    return rc;
}

static qerr_t write_buf(FILE *f, void *ctx)
{
    const mbuf_t *b = ctx;
    return fwrite(b->buf, 1, b->len, f) == b->len ? QERR_OK : QERR_IO;
}

/* The whole list, through file_replace (temporary file, fsync, rename). */
static qerr_t write_file(silencer_t *s)
{
    if (!s->file) return QERR_OK;
    mbuf_t b = {0};
    mbuf_append(&b, "[", 1);
    for (size_t i = 0; i < s->n; i++) {
        if (i) mbuf_append(&b, ",\n", 2);
        srec_json(&s->recs[i], 0, false, &b);
    }
    mbuf_append(&b, "]\n", 2);
    char err[512] = "out of memory";
    qerr_t rc = b.oom ? QERR_NOMEM : file_replace(s->file, write_buf, &b, err, sizeof err);
    if (rc != QERR_OK) log_error("silence", "%s: the silences are not saved: %s", s->file, err);
    mbuf_free(&b);
    return rc;
}

silences_t *silences_load_file(const char *path, char *errbuf, size_t errlen)
{
    srec_t *v = NULL;
    size_t n = 0;
    if (read_file(path, &v, &n, errbuf, errlen) != QERR_OK) return NULL;
    silences_t *s = silences_build(v, n, INT64_MIN, NULL); /* replay: any time may be asked */
    for (size_t i = 0; i < n; i++) srec_free(&v[i]);
    free(v);
    if (!s) snprintf(errbuf, errlen, "out of memory");
    return s;
}

/* ---- Redis ------------------------------------------------------------------ */

static void redis_down(silencer_t *s, const char *why)
{
    if (!s->logged_down) {
        char where[300];
        log_warn("silence", "redis %s unavailable (%s): silences are re-read when it answers",
                 store_conf_where(&s->redis, where, sizeof where), why);
    }
    s->logged_down = true;
    if (s->ctx) redisFree(s->ctx);
    s->ctx = NULL;
}

static bool redis_up(silencer_t *s)
{
    if (s->ctx) return true;
    char err[256];
    /* redis_conn.c: Sentinel, AUTH, SELECT and timeouts, like every Redis
     * user in quell. */
    s->ctx = redis_open(&s->redis, NULL, 0, err, sizeof err);
    if (!s->ctx) {
        redis_down(s, err);
        return false;
    }
    if (s->logged_down) log_info("silence", "redis reachable again");
    s->logged_down = false;
    return true;
}

/* Reads the hash when the counter moved (under lock). */
static qerr_t redis_pull(silencer_t *s, bool force)
{
    if (!redis_up(s)) return QERR_IO;
    redisReply *r = redisCommand(s->ctx, "GET %s", s->vkey);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        if (r) freeReplyObject(r);
        redis_down(s, "GET failed");
        return QERR_IO;
    }
    long long v = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    if (!force && v == s->version) return QERR_OK;
    r = redisCommand(s->ctx, "HGETALL %s", s->hkey);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        redis_down(s, "HGETALL failed");
        return QERR_IO;
    }
    clear(s);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *val = r->element[i + 1];
        cJSON *o = cJSON_ParseWithLength(val->str, val->len);
        srec_t rec;
        char why[400];
        if (srec_from_json(o, &rec, why, sizeof why) == 200 && rec.id[0]) put(s, &rec);
        srec_free(&rec);
        cJSON_Delete(o);
    }
    freeReplyObject(r);
    s->version = v;
    publish(s);
    return QERR_OK;
}

/* Stores one silence (and drops `dropped` ids) in Redis, then bumps the
 * counter. */
static qerr_t redis_push(silencer_t *s, const srec_t *rec, char dropped[][40], size_t n_dropped)
{
    if (!redis_up(s)) return QERR_IO;
    mbuf_t b = {0};
    srec_json(rec, 0, false, &b);
    redisAppendCommand(s->ctx, "HSET %s %s %b", s->hkey, rec->id, b.buf, b.len);
    for (size_t i = 0; i < n_dropped; i++)
        redisAppendCommand(s->ctx, "HDEL %s %s", s->hkey, dropped[i]);
    redisAppendCommand(s->ctx, "INCR %s", s->vkey);
    mbuf_free(&b);
    bool ok = true;
    for (size_t i = 0; i < n_dropped + 2; i++) {
        redisReply *r = NULL;
        if (redisGetReply(s->ctx, (void **)&r) != REDIS_OK || !r || r->type == REDIS_REPLY_ERROR)
            ok = false;
        if (r) freeReplyObject(r);
        if (!ok) break;
    }
    if (!ok) {
        redis_down(s, "HSET failed");
        return QERR_IO;
    }
    return QERR_OK;
}

static void *poll_main(void *arg)
{
    silencer_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct timespec ts = {s->o.poll_ms / 1000, (s->o.poll_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&s->lock);
        redis_pull(s, false);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

silencer_t *silencer_new(const silencer_opts_t *o, char *errbuf, size_t errlen)
{
    silencer_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->o = *o;
    if (s->o.poll_ms < 10) s->o.poll_ms = 10;
    s->version = -1;
    pthread_mutex_init(&s->lock, NULL);
    if (o->redis) {
        s->shared = true;
        s->redis = *o->redis;
        snprintf(s->hkey, sizeof s->hkey, "%ssilences", o->redis->prefix);
        snprintf(s->vkey, sizeof s->vkey, "%ssilences:version", o->redis->prefix);
        pthread_mutex_lock(&s->lock);
        if (redis_pull(s, true) != QERR_OK) publish(s); /* read again when it answers */
        pthread_mutex_unlock(&s->lock);
        return s;
    }
    if (o->file && *o->file) {
        if (!(s->file = strdup(o->file))) goto fail;
        srec_t *v = NULL;
        size_t n = 0;
        if (read_file(s->file, &v, &n, errbuf, errlen) != QERR_OK) goto fail;
        s->recs = v;
        s->n = s->cap = n;
        if (n) log_info("silence", "restored %zu silences from %s", n, s->file);
    }
    publish(s);
    return s;
fail:
    silencer_destroy(s);
    return NULL;
}

qerr_t silencer_run(silencer_t *s)
{
    if (!s->shared || s->running) return QERR_OK;
    if (pthread_create(&s->thread, NULL, poll_main, s) != 0) return QERR_NOMEM;
    pthread_setname_np(s->thread, "quell-silence");
    s->running = true;
    return QERR_OK;
}

void silencer_destroy(silencer_t *s)
{
    if (!s) return;
    if (s->running) {
        atomic_store(&s->stop, true);
        pthread_join(s->thread, NULL);
    }
    clear(s);
    free(s->recs);
    free(s->file);
    silences_release(s->current);
    if (s->ctx) redisFree(s->ctx);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

qerr_t silencer_sync_now(silencer_t *s)
{
    if (!s->shared) return QERR_OK;
    pthread_mutex_lock(&s->lock);
    qerr_t rc = redis_pull(s, false);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

silences_t *silencer_current(silencer_t *s)
{
    pthread_mutex_lock(&s->lock);
    silences_t *c = silences_ref(s->current);
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* ---- the API ------------------------------------------------------------------- */

/* Alertmanager answers errors with a JSON string; go-swagger's own
 * refusals (a body that does not unmarshal, 400; a validation, 422 with
 * its code, 6xx) with {"code":N,"message":...}. */
static int fail_obj(mbuf_t *out, int status, int code, const char *msg)
{
    out->len = 0;
    mbuf_printf(out, "{\"code\":%d,\"message\":\"", code);
    mbuf_json_str(out, msg, strlen(msg));
    mbuf_append(out, "\"}", 2);
    return status;
}

static int fail(mbuf_t *out, int status, const char *msg)
{
    out->len = 0;
    if (status == 422) return fail_obj(out, 422, 602, msg);
    mbuf_append(out, "\"", 1);
    mbuf_json_str(out, msg, strlen(msg));
    mbuf_append(out, "\"", 1);
    return status;
}

/* Makes the change durable and live (under lock): the file, or Redis. */
static int commit(silencer_t *s, const srec_t *rec, mbuf_t *out)
{
    int64_t now = clock_wall_ms();
    char dropped[64][40];
    size_t n_dropped = gc(s, now, dropped, 64);
    if (n_dropped > 64) n_dropped = 64;
    if (s->shared) {
        if (redis_push(s, rec, dropped, n_dropped) != QERR_OK)
            return fail(out, 500, "silence not stored: redis unavailable");
    }
    if (put(s, rec) != QERR_OK) return fail(out, 500, "out of memory");
    if (!s->shared && write_file(s) != QERR_OK)
        return fail(out, 500, "silence not stored: the silences file cannot be written");
    publish(s);
    return 200;
}

/* Alertmanager 0.25's canUpdate: an update keeps the silence's id only
 * with the same matchers (in order) and, while it is active, the same
 * start (to the second); while pending, a start not in the past. An
 * expired one is never updated. */
static bool can_update(const srec_t *prev, const srec_t *rec, int64_t now)
{
    if (prev->n_m != rec->n_m) return false;
    for (size_t i = 0; i < prev->n_m; i++) {
        const smatch_t *a = &prev->m[i], *b = &rec->m[i];
        if (strcmp(a->name, b->name) || strcmp(a->value, b->value) || a->is_regex != b->is_regex ||
            a->is_equal != b->is_equal)
            return false;
    }
    if (prev->ends_ms <= now) return false;                  /* expired */
    if (prev->starts_ms > now) return rec->starts_ms >= now; /* pending */
    return rec->starts_ms / 1000 == prev->starts_ms / 1000 && rec->ends_ms >= now;
}

/* Expires `r` (the caller holds the lock): endsAt = now, and a pending
 * one's startsAt too. 200, or the failure's status with its body. */
static int expire_locked(silencer_t *s, const srec_t *r, int64_t now, mbuf_t *out)
{
    srec_t upd;
    if (srec_copy(&upd, r) != QERR_OK) return fail(out, 500, "out of memory");
    if (upd.starts_ms > now) upd.starts_ms = now;
    upd.ends_ms = now;
    upd.updated_ms = now;
    int st = commit(s, &upd, out); /* may move `r`: upd's id is logged */
    if (st == 200) log_info("silence", "silence %s expired", upd.id);
    srec_free(&upd);
    return st;
}

int silencer_post(silencer_t *s, const char *body, size_t len, mbuf_t *out)
{
    char why[600];
    size_t blank = 0;
    while (blank < len && (body[blank] == ' ' || body[blank] == '\t' || body[blank] == '\r' ||
                           body[blank] == '\n'))
        blank++;
    if (blank == len) /* go-swagger: io.EOF from the decoder */
        return fail_obj(out, 422, 602, "silence in body is required");
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!o)
        return fail_obj(out, 400, 400,
                        "parsing silence body from \"\" failed, because the body is not valid "
                        "JSON");
    srec_t rec;
    int st = srec_from_json(o, &rec, why, sizeof why);
    cJSON_Delete(o);
    if (st == 400) {
        char msg[700];
        snprintf(msg, sizeof msg, "parsing silence body from \"\" failed, because %s", why);
        return fail_obj(out, 400, 400, msg);
    }
    if (st >= 600) return fail_obj(out, 422, st, why);
    if (st != 200) return fail(out, st, why);
    int64_t now = clock_wall_ms();
    matcher_set_t *ms = NULL;
    if (rec.starts_ms >= rec.ends_ms) {
        st = fail(out, 400, "Failed to create silence: start time must be before end time");
        goto out;
    }
    if (rec.ends_ms < now) {
        st = fail(out, 400, "Failed to create silence: end time can't be in the past");
        goto out;
    }
    if (srec_compile(&rec, &ms, why, sizeof why) != QERR_OK) {
        char msg[700];
        snprintf(msg, sizeof msg, "silence invalid: %s", why);
        st = fail(out, 400, msg);
        goto out;
    }
    pthread_mutex_lock(&s->lock);
    if (rec.id[0]) {
        const srec_t *prev = find(s, rec.id);
        if (!prev) {
            pthread_mutex_unlock(&s->lock);
            st = fail(out, 404, "silence not found");
            goto out;
        }
        /* Like Alertmanager, an update it cannot make in place (other
         * matchers, an active one's start moved, an expired one) becomes a
         * new silence, and the old one, unless expired already, expires. */
        if (!can_update(prev, &rec, now)) {
            if (prev->ends_ms > now && (st = expire_locked(s, prev, now, out)) != 200) {
                pthread_mutex_unlock(&s->lock);
                goto out;
            }
            silence_new_id(rec.id);
        }
    } else {
        silence_new_id(rec.id);
    }
    if (rec.starts_ms < now) rec.starts_ms = now; /* Alertmanager: no start in the past */
    rec.updated_ms = now;
    st = commit(s, &rec, out);
    pthread_mutex_unlock(&s->lock);
    if (st == 200) {
        out->len = 0;
        mbuf_printf(out, "{\"silenceID\":\"%s\"}", rec.id);
        char until[40];
        silence_format_time(rec.ends_ms, until);
        log_info("silence", "silence %s set by \"%s\" (%zu matchers) until %s", rec.id,
                 rec.created_by, rec.n_m, until);
    }
out:
    matcher_set_destroy(ms);
    srec_free(&rec);
    return st;
}

/* Alertmanager's filter on silences: every filter matcher equals one of
 * the silence's matchers (name, type and value). */
static bool filter_match(const srec_t *r, matcher_set_t *const *f, size_t n_f)
{
    for (size_t i = 0; i < n_f; i++) {
        matcher_view_t v;
        for (size_t k = 0; matcher_set_get(f[i], k, &v); k++) {
            bool found = false;
            for (size_t j = 0; j < r->n_m && !found; j++) {
                const smatch_t *m = &r->m[j];
                match_op_t op = m->is_regex ? (m->is_equal ? MATCH_RE : MATCH_NRE)
                                            : (m->is_equal ? MATCH_EQ : MATCH_NE);
                found = op == v.op && strlen(m->name) == v.name_len &&
                        !memcmp(m->name, v.name, v.name_len) && strlen(m->value) == v.value_len &&
                        !memcmp(m->value, v.value, v.value_len);
            }
            if (!found) return false;
        }
    }
    return true;
}

static int state_rank(const srec_t *r, int64_t now)
{
    const char *st = silence_state(r, now);
    return st[0] == 'a' ? 0 : st[0] == 'p' ? 1 : 2;
}

static int cmp_silence(const void *a, const void *b, void *now_ms)
{
    const srec_t *x = *(const srec_t *const *)a, *y = *(const srec_t *const *)b;
    int64_t now = *(const int64_t *)now_ms;
    int rx = state_rank(x, now), ry = state_rank(y, now);
    if (rx != ry) return rx - ry;
    int64_t kx = rx == 1 ? x->starts_ms : x->ends_ms, ky = rx == 1 ? y->starts_ms : y->ends_ms;
    if (rx == 2) return kx < ky ? 1 : kx > ky ? -1 : 0; /* expired: most recent first */
    return kx < ky ? -1 : kx > ky ? 1 : 0;
}

int silencer_list(silencer_t *s, const char *const *filters, size_t n_filters, mbuf_t *out)
{
    matcher_set_t *f[16] = {0};
    if (n_filters > 16) n_filters = 16;
    int st = 200;
    for (size_t i = 0; i < n_filters; i++) {
        char why[1024];
        /* one matcher each, as Alertmanager 0.25 parses filter= */
        if (!(f[i] = matcher_set_new())) {
            st = fail(out, 500, "out of memory");
            goto out;
        }
        if (matcher_set_parse_filter(f[i], filters[i], why, sizeof why) != QERR_OK) {
            st = fail(out, 400, why);
            goto out;
        }
    }
    pthread_mutex_lock(&s->lock);
    int64_t now = clock_wall_ms();
    gc(s, now, NULL, 0);
    const srec_t **sorted = malloc((s->n ? s->n : 1) * sizeof *sorted);
    if (!sorted) {
        pthread_mutex_unlock(&s->lock);
        st = fail(out, 500, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (filter_match(&s->recs[i], f, n_filters)) sorted[k++] = &s->recs[i];
    qsort_r(sorted, k, sizeof *sorted, cmp_silence, &now);
    mbuf_append(out, "[", 1);
    for (size_t i = 0; i < k; i++) {
        if (i) mbuf_append(out, ",", 1);
        srec_json(sorted[i], now, true, out);
    }
    mbuf_append(out, "]", 1);
    free(sorted);
    pthread_mutex_unlock(&s->lock);
out:
    for (size_t i = 0; i < n_filters; i++) matcher_set_destroy(f[i]);
    return st;
}

int silencer_get(silencer_t *s, const char *id, mbuf_t *out)
{
    pthread_mutex_lock(&s->lock);
    const srec_t *r = find(s, id);
    if (r) srec_json(r, clock_wall_ms(), true, out);
    pthread_mutex_unlock(&s->lock);
    return r ? 200 : 404; /* Alertmanager's 404 has no body */
}

int silencer_expire(silencer_t *s, const char *id, mbuf_t *out)
{
    pthread_mutex_lock(&s->lock);
    int64_t now = clock_wall_ms();
    srec_t *r = find(s, id);
    int st;
    /* As a running Alertmanager 0.25 answers (amtool 0.25 prints its
     * 500 as "silence not found"; later versions answer 404, which amtool
     * 0.25 reports as a status outside its spec). */
    if (!r) {
        st = fail(out, 500, "silence not found");
    } else if (r->ends_ms <= now) {
        st = 200; /* already expired: left as it is, not an error (0.25) */
    } else {
        st = expire_locked(s, r, now, out);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}
