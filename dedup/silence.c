/*
 * Silences (silence.h): the record an operator writes, its JSON (the
 * Alertmanager API v2 shapes, also what the file and Redis hold), the
 * compiled immutable set the workers match against, and the silencer that
 * owns the list.
 *
 * Threads: the compiled set is read by every worker without a lock (it is
 * reached through the rule set generation the worker entered). The
 * silencer's list is touched by HTTP threads and the Redis poll thread
 * under one mutex; each change compiles a new set and publishes it with
 * rules_live_set_silences, which returns once no worker still reads the
 * previous generation: an alert decided after the API answered sees the
 * silence.
 *
 * Durability (silence_store.c): memory store -> one JSON file written
 * atomically on every change; Redis -> one hash field per silence plus a
 * version counter other instances poll.
 */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#include "silence_int.h"

/* ---- time ------------------------------------------------------------- */

void silence_format_time(int64_t ms, char out[40])
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[96]; /* years past 9999 would need more than 40 */
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    memcpy(out, buf, 39);
    out[39] = '\0';
}

const char *silence_state(const srec_t *r, int64_t now_ms)
{
    if (r->ends_ms <= now_ms) return "expired";
    if (r->starts_ms > now_ms) return "pending";
    return "active";
}

/* ---- records ------------------------------------------------------------ */

void srec_free(srec_t *r)
{
    for (size_t i = 0; i < r->n_m; i++) {
        free(r->m[i].name);
        free(r->m[i].value);
    }
    free(r->m);
    free(r->created_by);
    free(r->comment);
    memset(r, 0, sizeof *r);
}

qerr_t srec_copy(srec_t *dst, const srec_t *src)
{
    *dst = *src;
    dst->m = calloc(src->n_m ? src->n_m : 1, sizeof *dst->m);
    dst->created_by = strdup(src->created_by ? src->created_by : "");
    dst->comment = strdup(src->comment ? src->comment : "");
    bool ok = dst->m && dst->created_by && dst->comment;
    for (size_t i = 0; ok && i < src->n_m; i++) {
        dst->m[i] = src->m[i];
        dst->m[i].name = strdup(src->m[i].name);
        dst->m[i].value = strdup(src->m[i].value);
        ok = dst->m[i].name && dst->m[i].value;
        if (!ok) dst->n_m = i + 1;
    }
    if (!ok) {
        srec_free(dst);
        return QERR_NOMEM;
    }
    return QERR_OK;
}

void silence_new_id(char out[40])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        uint64_t t = (uint64_t)clock_mono_ns() ^ (uint64_t)clock_wall_ms() << 20;
        for (int i = 0; i < 16; i++) b[i] = (unsigned char)(t >> (8 * (i % 8))) ^ (unsigned char)i;
    }
    b[6] = (b[6] & 0x0f) | 0x40; /* a version 4 UUID, as Alertmanager's ids are */
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* Compiles the record's matchers; Alertmanager's validation messages. */
qerr_t srec_compile(const srec_t *r, matcher_set_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (r->n_m == 0) {
        snprintf(errbuf, errlen, "at least one matcher required");
        return QERR_INVALID;
    }
    matcher_set_t *ms = matcher_set_new();
    if (!ms) {
        snprintf(errbuf, errlen, "out of memory");
        return QERR_NOMEM;
    }
    for (size_t i = 0; i < r->n_m; i++) {
        const smatch_t *m = &r->m[i];
        match_op_t op = m->is_regex ? (m->is_equal ? MATCH_RE : MATCH_NRE)
                                    : (m->is_equal ? MATCH_EQ : MATCH_NE);
        char why[400];
        if (!label_name_valid_classic(m->name, strlen(m->name))) {
            snprintf(errbuf, errlen, "invalid label matcher %zu: invalid label name \"%s\"", i,
                     m->name);
            matcher_set_destroy(ms);
            return QERR_INVALID;
        }
        if (matcher_set_add(ms, m->name, op, m->value, why, sizeof why) != QERR_OK) {
            if (m->is_regex)
                snprintf(errbuf, errlen,
                         "invalid label matcher %zu: invalid regular expression \"%s\": %s", i,
                         m->value, why);
            else
                snprintf(errbuf, errlen, "invalid label matcher %zu: %s", i, why);
            matcher_set_destroy(ms);
            return QERR_INVALID;
        }
    }
    /* Alertmanager's matchesEmpty: only `=` and `=~` matchers can match the
     * empty string; a negative one (`severity!="critical"`) never counts
     * as matching it, so it alone makes a valid silence. */
    bool all_match_empty = true;
    for (size_t i = 0; i < r->n_m && all_match_empty; i++) {
        const smatch_t *m = &r->m[i];
        if (!m->is_equal) {
            all_match_empty = false;
        } else if (!m->is_regex) {
            all_match_empty = !*m->value;
        } else {
            char why[400];
            matcher_set_t *one = matcher_set_new();
            if (!one ||
                matcher_set_add(one, m->name, MATCH_RE, m->value, why, sizeof why) != QERR_OK)
                all_match_empty = false; /* compiled above: only OOM gets here */
            else
                all_match_empty = matcher_set_matches(one, NULL, 0);
            matcher_set_destroy(one);
        }
    }
    if (all_match_empty) {
        snprintf(errbuf, errlen, "at least one matcher must not match the empty string");
        matcher_set_destroy(ms);
        return QERR_INVALID;
    }
    *out = ms;
    return QERR_OK;
}

/* ---- JSON ----------------------------------------------------------------- */

static void json_kv_str(mbuf_t *b, const char *key, const char *v, bool comma)
{
    mbuf_printf(b, "%s\"%s\":\"", comma ? "," : "", key);
    mbuf_json_str(b, v ? v : "", v ? strlen(v) : 0);
    mbuf_append(b, "\"", 1);
}

void srec_json(const srec_t *r, int64_t now_ms, bool with_status, mbuf_t *b)
{
    char t[40];
    mbuf_append(b, "{", 1);
    json_kv_str(b, "id", r->id, false);
    if (with_status) mbuf_printf(b, ",\"status\":{\"state\":\"%s\"}", silence_state(r, now_ms));
    silence_format_time(r->updated_ms, t);
    json_kv_str(b, "updatedAt", t, true);
    mbuf_append(b, ",\"matchers\":[", 13);
    for (size_t i = 0; i < r->n_m; i++) {
        mbuf_append(b, i ? ",{" : "{", i ? 2 : 1);
        json_kv_str(b, "name", r->m[i].name, false);
        json_kv_str(b, "value", r->m[i].value, true);
        mbuf_printf(b, ",\"isRegex\":%s,\"isEqual\":%s}", r->m[i].is_regex ? "true" : "false",
                    r->m[i].is_equal ? "true" : "false");
    }
    mbuf_append(b, "]", 1);
    silence_format_time(r->starts_ms, t);
    json_kv_str(b, "startsAt", t, true);
    silence_format_time(r->ends_ms, t);
    json_kv_str(b, "endsAt", t, true);
    json_kv_str(b, "createdBy", r->created_by, true);
    json_kv_str(b, "comment", r->comment, true);
    mbuf_append(b, "}", 1);
}

static qerr_t json_time(const cJSON *o, const char *key, int64_t *out, char *errbuf, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) || !time_parse_rfc3339(v->valuestring, strlen(v->valuestring), out)) {
        /* Go fails the unmarshalling of the whole body on it. */
        if (cJSON_IsString(v))
            snprintf(errbuf, errlen, "parsing time \"%s\": not an RFC 3339 date-time",
                     v->valuestring);
        else
            snprintf(errbuf, errlen,
                     "json: cannot unmarshal %s into Go struct field PostableSilence.%s of type "
                     "strfmt.DateTime",
                     cJSON_IsNumber(v) ? "number"
                     : cJSON_IsBool(v) ? "bool"
                                       : "object",
                     key);
        return QERR_INVALID;
    }
    return QERR_OK;
}

/* The required fields of postableSilence, checked the way go-swagger does
 * before the handler runs (422, code 602). */
static const char *missing_field(const cJSON *o)
{
    static const char *const required[] = {"matchers", "startsAt", "endsAt", "createdBy",
                                           "comment"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(o, required[i])) return required[i];
    return NULL;
}

int srec_from_json(const cJSON *o, srec_t *r, char *errbuf, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(o)) {
        snprintf(errbuf, errlen,
                 "json: cannot unmarshal %s into Go value of type models.PostableSilence",
                 cJSON_IsArray(o)    ? "array"
                 : cJSON_IsString(o) ? "string"
                                     : "number");
        return 400;
    }
    const char *miss = missing_field(o);
    if (miss) {
        snprintf(errbuf, errlen, "%s in body is required", miss);
        return 602;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (cJSON_IsString(id) && strlen(id->valuestring) < sizeof r->id)
        snprintf(r->id, sizeof r->id, "%s", id->valuestring);
    if (json_time(o, "startsAt", &r->starts_ms, errbuf, errlen) ||
        json_time(o, "endsAt", &r->ends_ms, errbuf, errlen))
        return 400;
    const cJSON *up = cJSON_GetObjectItemCaseSensitive(o, "updatedAt");
    if (cJSON_IsString(up))
        time_parse_rfc3339(up->valuestring, strlen(up->valuestring), &r->updated_ms);
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(o, "createdBy");
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(o, "comment");
    if (!cJSON_IsString(cb) || !cJSON_IsString(cm)) {
        const cJSON *bad = cJSON_IsString(cb) ? cm : cb;
        snprintf(errbuf, errlen,
                 "json: cannot unmarshal %s into Go struct field PostableSilence.%s of type string",
                 cJSON_IsNumber(bad) ? "number"
                 : cJSON_IsBool(bad) ? "bool"
                                     : "object",
                 cJSON_IsString(cb) ? "comment" : "createdBy");
        return 400;
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "matchers");
    if (!cJSON_IsArray(ms)) {
        snprintf(errbuf, errlen,
                 "json: cannot unmarshal %s into Go struct field PostableSilence.matchers of "
                 "type models.Matchers",
                 cJSON_IsString(ms)   ? "string"
                 : cJSON_IsNumber(ms) ? "number"
                                      : "object");
        return 400;
    }
    int n = cJSON_GetArraySize(ms);
    if (n == 0) {
        snprintf(errbuf, errlen, "matchers in body should have at least 1 items");
        return 612;
    }
    r->created_by = strdup(cb->valuestring);
    r->comment = strdup(cm->valuestring);
    r->m = calloc(n ? (size_t)n : 1, sizeof *r->m);
    if (!r->created_by || !r->comment || !r->m) goto oom;
    for (int i = 0; i < n; i++) {
        const cJSON *m = cJSON_GetArrayItem(ms, i);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "name");
        const cJSON *vl = cJSON_GetObjectItemCaseSensitive(m, "value");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(m, "isRegex");
        const cJSON *eq = cJSON_GetObjectItemCaseSensitive(m, "isEqual");
        if (!cJSON_IsString(nm) || !cJSON_IsString(vl) || !cJSON_IsBool(re)) {
            snprintf(errbuf, errlen, "matchers.%d.%s in body is required", i,
                     !cJSON_IsString(nm)   ? "name"
                     : !cJSON_IsString(vl) ? "value"
                                           : "isRegex");
            srec_free(r);
            return 602;
        }
        smatch_t *sm = &r->m[r->n_m++];
        sm->name = strdup(nm->valuestring);
        sm->value = strdup(vl->valuestring);
        sm->is_regex = cJSON_IsTrue(re);
        sm->is_equal = !cJSON_IsBool(eq) || cJSON_IsTrue(eq); /* absent: true (API v2) */
        if (!sm->name || !sm->value) goto oom;
    }
    return 200;
oom:
    srec_free(r);
    snprintf(errbuf, errlen, "out of memory");
    return 500;
}

/* ---- the compiled set ------------------------------------------------------ */

void silences_release(silences_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    for (size_t i = 0; i < s->n; i++) matcher_set_destroy(s->v[i].ms);
    for (size_t i = 0; i < s->n_names; i++) free(s->names[i]);
    free(s->names);
    free(s->heads);
    free(s->chain);
    free(s->unindexed);
    free(s->v);
    free(s);
}

silences_t *silences_ref(silences_t *s)
{
    if (s) atomic_fetch_add(&s->refs, 1);
    return s;
}

size_t silences_count(const silences_t *s) { return s ? s->n : 0; }

static uint64_t idx_hash(const char *name, size_t nl, const char *value, size_t vl)
{
    return XXH3_64bits_withSeed(value, vl, XXH3_64bits(name, nl));
}

static bool try_one(const silences_t *s, uint32_t i, const label_t *labels, uint32_t n_labels,
                    int64_t now_ms)
{
    const csilence_t *c = &s->v[i];
    return c->starts_ms <= now_ms && now_ms < c->ends_ms &&
           matcher_set_matches(c->ms, labels, n_labels);
}

const char *silences_match(const silences_t *s, const label_t *labels, uint32_t n_labels,
                           int64_t now_ms)
{
    if (!s || !s->n) return NULL;
    /* The first silence in list order that matches, from the candidates
     * the index gives and the unindexed ones. */
    uint32_t best = UINT32_MAX;
    for (size_t k = 0; k < s->n_names; k++) {
        const char *v;
        size_t vl;
        if (!labels_get(labels, n_labels, s->names[k], strlen(s->names[k]), &v, &vl) || !vl)
            continue;
        uint64_t h = idx_hash(s->names[k], strlen(s->names[k]), v, vl);
        for (uint32_t e = s->heads[h & s->head_mask]; e != UINT32_MAX; e = s->chain[e].next)
            if (s->chain[e].h == h && s->chain[e].sil < best &&
                try_one(s, s->chain[e].sil, labels, n_labels, now_ms))
                best = s->chain[e].sil;
    }
    for (size_t k = 0; k < s->n_unindexed && s->unindexed[k] < best; k++)
        if (try_one(s, s->unindexed[k], labels, n_labels, now_ms)) best = s->unindexed[k];
    if (best == UINT32_MAX) return NULL;
    csilence_t *c = &((silences_t *)s)->v[best];
    atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
    return c->id;
}

/* Files every silence under its first non-empty equality matcher. */
static qerr_t build_index(silences_t *s)
{
    size_t slots = 16;
    while (slots < 2 * s->n) slots *= 2;
    s->heads = malloc(slots * sizeof *s->heads);
    s->chain = malloc((s->n ? s->n : 1) * sizeof *s->chain);
    s->unindexed = malloc((s->n ? s->n : 1) * sizeof *s->unindexed);
    s->names = calloc(s->n ? s->n : 1, sizeof *s->names);
    if (!s->heads || !s->chain || !s->unindexed || !s->names) return QERR_NOMEM;
    s->head_mask = slots - 1;
    memset(s->heads, 0xff, slots * sizeof *s->heads);
    for (uint32_t i = 0; i < s->n; i++) {
        matcher_view_t m;
        bool filed = false;
        for (size_t k = 0; !filed && matcher_set_get(s->v[i].ms, k, &m); k++) {
            if (m.op != MATCH_EQ || !m.value_len) continue;
            size_t j = 0;
            while (j < s->n_names &&
                   !(strlen(s->names[j]) == m.name_len && !memcmp(s->names[j], m.name, m.name_len)))
                j++;
            if (j == s->n_names && !(s->names[s->n_names++] = strndup(m.name, m.name_len)))
                return QERR_NOMEM;
            uint64_t h = idx_hash(m.name, m.name_len, m.value, m.value_len);
            sidx_entry_t *e = &s->chain[s->n_chain];
            *e = (sidx_entry_t){h, i, s->heads[h & s->head_mask]};
            s->heads[h & s->head_mask] = (uint32_t)s->n_chain++;
            filed = true;
        }
        if (!filed) s->unindexed[s->n_unindexed++] = i;
    }
    return QERR_OK;
}

void silences_match_all_json(const silences_t *s, const label_t *labels, uint32_t n_labels,
                             int64_t now_ms, mbuf_t *out)
{
    mbuf_append(out, "[", 1);
    bool first = true;
    for (size_t i = 0; s && i < s->n; i++) {
        const csilence_t *c = &s->v[i];
        if (c->starts_ms > now_ms || c->ends_ms <= now_ms) continue;
        if (!matcher_set_matches(c->ms, labels, n_labels)) continue;
        mbuf_printf(out, "%s\"%s\"", first ? "" : ",", c->id);
        first = false;
    }
    mbuf_append(out, "]", 1);
}

void silences_metrics_reasons(const silences_t *s, mbuf_t *b, const char *family)
{
    char reason[64];
    for (size_t i = 0; s && i < s->n; i++) {
        snprintf(reason, sizeof reason, "silenced:%s", s->v[i].id);
        metrics_sample(b, family, (double)atomic_load_explicit(&s->v[i].hits, memory_order_relaxed),
                       2, "decision", "suppress", "reason", reason);
    }
}

/* Compiles every record not expired at now_ms (a pending one becomes active
 * with time, an expired one never matches again); hits carry over by id
 * from `prev`. Records that do not compile (a file written by hand) are
 * logged and left out. */
silences_t *silences_build(const srec_t *recs, size_t n, int64_t now_ms, const silences_t *prev)
{
    silences_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    atomic_init(&s->refs, 1);
    s->v = calloc(n ? n : 1, sizeof *s->v);
    if (!s->v) {
        free(s);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (recs[i].ends_ms <= now_ms) continue;
        char err[512];
        csilence_t *c = &s->v[s->n];
        if (srec_compile(&recs[i], &c->ms, err, sizeof err) != QERR_OK) {
            log_warn("silence", "silence %s left out: %s", recs[i].id, err);
            continue;
        }
        memcpy(c->id, recs[i].id, sizeof c->id);
        c->starts_ms = recs[i].starts_ms;
        c->ends_ms = recs[i].ends_ms;
        for (size_t k = 0; prev && k < prev->n; k++)
            if (!strcmp(prev->v[k].id, c->id))
                atomic_store(&c->hits, atomic_load(&prev->v[k].hits));
        s->n++;
    }
    if (build_index(s) != QERR_OK) {
        silences_release(s);
        return NULL;
    }
    return s;
}
