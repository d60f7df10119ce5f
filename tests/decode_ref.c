/*
 * decode_ref: the JSON half of ingest/decode.c as it was before simdjson
 * (cJSON parsing into the arena through process-wide hooks), frozen as the
 * reference for test_decode_json's differential test. Test-only; the
 * protobuf reader, the content-type map and the dispatch are left out, and
 * the timestamp parser is kept as a private copy so that later changes to
 * time_parse_rfc3339() are checked against it too. Copied from main at
 * 9d3e06f, with ingest_decode() reduced to its JSON path (ref_decode_json).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "../ingest/ingest.h"
#include "decode_ref.h"

/* ---- per-call context and error text ---------------------------------- */

/* Limits with 0 ("not configured") replaced by the largest value the output
 * can carry: str_t lengths and n_labels are uint32_t. */
typedef struct {
    size_t message, labels, name, value, annotation;
} limits_t;

typedef struct {
    arena_t *arena;
    limits_t lim;
    int64_t event_time_ms;
    char *errbuf;
    size_t errlen;
    size_t alert_idx;
    bool in_alert;           /* prefix errors with "alert N: " */
    bool json_syntax_failed; /* no JSON tree was built: AUTO may try protobuf */
} dctx_t;

static decode_error_t __attribute__((format(printf, 3, 4)))
fail(dctx_t *c, decode_error_t e, const char *fmt, ...)
{
    if (!c->errbuf || c->errlen == 0) return e;
    int n = 0;
    if (c->in_alert) n = snprintf(c->errbuf, c->errlen, "alert %zu: ", c->alert_idx);
    if (n < 0 || (size_t)n >= c->errlen) return e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errbuf + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return e;
}

/* Renders untrusted bytes for an error sentence: printable ASCII as is, the
 * rest as \xNN, cut at QUOTE_MAX input bytes. The text ends up in a
 * dead-letter header and in logs, so it must stay short and plain. */
#define QUOTE_MAX 64
typedef struct {
    char s[QUOTE_MAX * 4 + 4];
} quoted_t;

static const char *quote(quoted_t *q, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && i < QUOTE_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            q->s[o++] = (char)ch;
            continue;
        }
        memcpy(q->s + o, "\\x", 2);
        q->s[o + 2] = hex[ch >> 4];
        q->s[o + 3] = hex[ch & 15];
        o += 4;
    }
    strcpy(q->s + o, len > QUOTE_MAX ? "..." : "");
    return q->s;
}

/* ---- UTF-8 and label names -------------------------------------------- */

#define UTF8_OK ((size_t)-1)
#define ONES    0x0101010101010101ull /* SWAR: one bit per byte */
#define HIGHS   0x8080808080808080ull

/* Offset of the first byte that is not strict UTF-8 (Unicode 15, table 3-7:
 * no overlongs, no surrogates, nothing above U+10FFFF), or UTF8_OK. NUL is
 * refused too: strings travel as C strings through cJSON and protobuf-c and a
 * NUL would silently cut a label value short, merging distinct alerts. */
static size_t utf8_invalid_at(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    /* Fastest path: 32 ASCII bytes without NUL, one branch (annotations
     * are long and nearly always ASCII). */
    for (; i + 32 <= len; i += 32) {
        uint64_t w[4], acc = 0;
        memcpy(w, s + i, 32);
        for (int k = 0; k < 4; k++) acc |= w[k] | ((w[k] - ONES) & ~w[k]);
        if (acc & HIGHS) break;
    }
    while (i < len) {
        if (i + 8 <= len) { /* fast path: 8 ASCII bytes, none of them NUL */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (((w | ((w - ONES) & ~w)) & HIGHS) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char b = s[i];
        if (b == 0) return i;
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (b >= 0xc2 && b <= 0xdf) {
            need = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            need = 2;
            if (b == 0xe0)
                lo = 0xa0; /* overlong */
            else if (b == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (b >= 0xf0 && b <= 0xf4) {
            need = 3;
            if (b == 0xf0)
                lo = 0x90; /* overlong */
            else if (b == 0xf4)
                hi = 0x8f; /* > U+10FFFF */
        } else {
            return i; /* continuation byte, 0xc0/0xc1 or 0xf5.. */
        }
        if (len - i <= need) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += need + 1;
    }
    return UTF8_OK;
}

/* Legacy Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*. */
static bool valid_label_name(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
              (i > 0 && ch >= '0' && ch <= '9')))
            return false;
    }
    return len > 0;
}

/* ---- validation shared by both formats -------------------------------- */

/* The end of a "... is not valid UTF-8" sentence. */
static const char *utf8_why(char buf[64], const char *s, size_t at)
{
    unsigned char b = (unsigned char)s[at];
    if (b == 0)
        snprintf(buf, 64, "contains a NUL byte at offset %zu", at);
    else
        snprintf(buf, 64, "is not valid UTF-8 (byte 0x%02x at offset %zu)", b, at);
    return buf;
}

/* One label or annotation. Label names follow the legacy Prometheus syntax;
 * annotation names are free text, any non-empty UTF-8 (Alertmanager would
 * insist on label-name syntax there too; senders in the wild do not). */
static decode_error_t check_pair(dctx_t *c, bool label, const char *name, size_t nlen,
                                 const char *val, size_t vlen)
{
    const char *kind = label ? "label" : "annotation";
    size_t vmax = label ? c->lim.value : c->lim.annotation, at;
    quoted_t q;
    char why[64];
    if (nlen > c->lim.name)
        return fail(c, DECODE_NAME_TOO_LONG, "%s name \"%s\" is %zu bytes, limit %zu", kind,
                    quote(&q, name, nlen), nlen, c->lim.name);
    if (label && !valid_label_name(name, nlen))
        return fail(c, DECODE_BAD_LABEL_NAME,
                    "label name \"%s\" is not a valid Prometheus "
                    "label name ([a-zA-Z_][a-zA-Z0-9_]*)",
                    quote(&q, name, nlen));
    if (nlen == 0) return fail(c, DECODE_BAD_LABEL_NAME, "annotation name is empty");
    if (!label && (at = utf8_invalid_at(name, nlen)) != UTF8_OK)
        return fail(c, DECODE_BAD_UTF8, "annotation name %s", utf8_why(why, name, at));
    if (vlen > vmax)
        return fail(c, DECODE_VALUE_TOO_LONG, "%s \"%s\": value is %zu bytes, limit %zu", kind,
                    quote(&q, name, nlen), vlen, vmax);
    if ((at = utf8_invalid_at(val, vlen)) != UTF8_OK)
        return fail(c, DECODE_BAD_UTF8, "%s \"%s\": value %s", kind, quote(&q, name, nlen),
                    utf8_why(why, val, at));
    return DECODE_OK;
}

/* generatorURL and source: free text bounded like an annotation value. */
static decode_error_t check_text(dctx_t *c, const char *field, const char *s, size_t len,
                                 str_t *out)
{
    char why[64];
    size_t at;
    if (len > c->lim.annotation)
        return fail(c, DECODE_VALUE_TOO_LONG, "%s is %zu bytes, limit %zu", field, len,
                    c->lim.annotation);
    if ((at = utf8_invalid_at(s, len)) != UTF8_OK)
        return fail(c, DECODE_BAD_UTF8, "%s %s", field, utf8_why(why, s, at));
    out->ptr = s;
    out->len = (uint32_t)len;
    return DECODE_OK;
}

static int label_cmp(const label_t *a, const label_t *b)
{
    uint32_t n = a->name.len < b->name.len ? a->name.len : b->name.len;
    int r = memcmp(a->name.ptr, b->name.ptr, n);
    if (r) return r;
    return (a->name.len > b->name.len) - (a->name.len < b->name.len);
}

static int label_qsort_cmp(const void *a, const void *b) { return label_cmp(a, b); }

/* Insertion sort wins on the usual 5-30 labels (no call per comparison, and
 * senders often emit names already sorted); qsort bounds the worst case. */
static void sort_labels(label_t *l, size_t n)
{
    if (n > 30) {
        qsort(l, n, sizeof(*l), label_qsort_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        label_t x = l[i];
        size_t j = i;
        while (j > 0 && label_cmp(&l[j - 1], &x) > 0) {
            l[j] = l[j - 1];
            j--;
        }
        l[j] = x;
    }
}

/* Takes the checked labels as given, empty values included, and leaves the
 * alert's label set. Duplicates are looked for before empty values are
 * dropped, so {"a":"x","a":""} is refused rather than resolved silently.
 * Empty values are then dropped: Prometheus treats a label with an empty
 * value as absent, so {a="x",b=""} and {a="x"} are the same series and must
 * fingerprint alike. */
static decode_error_t finish_labels(dctx_t *c, alert_t *a, label_t *l, size_t n)
{
    quoted_t q;
    sort_labels(l, n);
    for (size_t i = 1; i < n; i++) {
        if (l[i].name.len == l[i - 1].name.len &&
            memcmp(l[i].name.ptr, l[i - 1].name.ptr, l[i].name.len) == 0)
            return fail(c, DECODE_DUP_LABEL, "label \"%s\" appears more than once",
                        quote(&q, l[i].name.ptr, l[i].name.len));
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (l[i].value.len > 0) l[kept++] = l[i];
    if (kept == 0) {
        if (n > 0) return fail(c, DECODE_NO_LABELS, "no labels left: all %zu have empty values", n);
        return fail(c, DECODE_NO_LABELS, "no labels");
    }
    if (kept > c->lim.labels)
        return fail(c, DECODE_TOO_MANY_LABELS, "%zu labels, limit %zu", kept, c->lim.labels);
    a->labels = l;
    a->n_labels = (uint32_t)kept;
    return DECODE_OK;
}

typedef enum { STATUS_DERIVE, STATUS_FIRING, STATUS_RESOLVED } status_hint_t;

/* An explicit status (webhook "status", protobuf STATUS_*) wins. Otherwise
 * Alertmanager's rule: resolved iff endsAt is set and not after the event
 * time (resolved exactly at endsAt). */
static void set_status(dctx_t *c, alert_t *a, status_hint_t hint)
{
    if (hint == STATUS_FIRING)
        a->status = ALERT_FIRING;
    else if (hint == STATUS_RESOLVED)
        a->status = ALERT_RESOLVED;
    else
        a->status = (a->ends_at_ms != 0 && a->ends_at_ms <= c->event_time_ms) ? ALERT_RESOLVED
                                                                              : ALERT_FIRING;
    a->event_time_ms = c->event_time_ms;
}

static void *arena_array(dctx_t *c, size_t n, size_t size)
{
    if (n == 0) return NULL;
    if (n > SIZE_MAX / size) return NULL;
    return arena_alloc(c->arena, n * size);
}

/* ---- timestamps -------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no timegm(), so no TZ or locale dependence. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Go's zero time.Time, which Alertmanager writes for "no end". */
#define GO_ZERO_TIME_MS (-62135596800000LL)

static bool ref_parse_time(const char *s, size_t len, int64_t *ms_out)
{
    /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
    if (!s || len < 20) return false;
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    int year = digits(s, 4), mon = digits(s + 5, 2), day = digits(s + 8, 2);
    int hour = digits(s + 11, 2), min = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 ||
        min > 59 || sec < 0 || sec > 59) /* no leap second: Go refuses :60 too */
        return false;
    static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[mon - 1] + (mon == 2 && leap)) return false;

    size_t i = 19;
    int64_t frac_ms = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
            i++;
        }
        size_t n = i - start;
        if (n == 0) return false;
        for (; n < 3; n++) frac_ms *= 10; /* ".5" is 500 ms; digits past ms truncate */
    }
    int64_t offset_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        if (len - i < 6 || s[i + 3] != ':') return false;
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
        offset_s = (int64_t)oh * 3600 + om * 60;
        if (s[i] == '-') offset_s = -offset_s;
        i += 6;
    } else {
        return false;
    }
    if (i != len) return false;

    int64_t secs = days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 + hour * 3600 +
                   min * 60 + sec - offset_s;
    int64_t ms = secs * 1000 + frac_ms;
    /* Any spelling of Go's zero instant means "unset". */
    *ms_out = ms == GO_ZERO_TIME_MS ? 0 : ms;
    return true;
}

/* ---- JSON -------------------------------------------------------------- */

/* Set only while this thread is inside cJSON_ParseWithLengthOpts(). */
static _Thread_local arena_t *json_arena;
static _Thread_local bool json_oom;
static pthread_once_t json_hooks_once = PTHREAD_ONCE_INIT;

static void *json_malloc(size_t size)
{
    arena_t *a = json_arena;
    if (!a) return malloc(size);
    void *p = arena_alloc(a, size);
    if (!p) json_oom = true;
    return p;
}

/* Inside a parse every pointer cJSON frees (a failed parse deletes its partial
 * tree) came from the arena, which is reset as a whole later. */
static void json_free(void *p)
{
    if (!json_arena) free(p);
}

static void json_hooks_install(void)
{
    cJSON_Hooks hooks = {json_malloc, json_free};
    cJSON_InitHooks(&hooks);
}

static bool json_ws(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* cJSON is lenient where a dead-letter decision must not be: it takes every
 * byte <= 0x20 for whitespace, copies raw control bytes into strings, and
 * turns \u0000 into a NUL that would cut a C string (and so a label value)
 * short. One pass refuses all three. */
static decode_error_t json_precheck(dctx_t *c, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        /* Fast path: skip 8 bytes holding no byte < 0x20 and no backslash. */
        while (i + 8 <= len) {
            uint64_t w, bs;
            memcpy(&w, p + i, 8);
            bs = w ^ (ONES * '\\');
            if (((w - ONES * 0x20) & ~w & HIGHS) | ((bs - ONES) & ~bs & HIGHS)) break;
            i += 8;
        }
        if (i >= len) break;
        unsigned char ch = p[i];
        if (ch < 0x20 && !json_ws(ch))
            return fail(c, DECODE_BAD_JSON, "control byte 0x%02x at byte %zu", ch, i);
        if (ch == '\\') {
            if (len - i >= 6 && memcmp(p + i + 1, "u0000", 5) == 0)
                return fail(c, DECODE_BAD_UTF8,
                            "\\u0000 at byte %zu: NUL characters are not accepted", i);
            i++; /* skip the escaped byte, so "\\\\" pairs keep their parity */
        }
    }
    return DECODE_OK;
}

static const char *json_type(const cJSON *v)
{
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

static size_t json_count(const cJSON *v)
{
    size_t n = 0;
    for (const cJSON *e = v ? v->child : NULL; e; e = e->next) n++;
    return n;
}

static decode_error_t json_time(dctx_t *c, const char *field, const cJSON *v, int64_t *out)
{
    quoted_t q;
    *out = 0;
    if (!v || cJSON_IsNull(v)) return DECODE_OK;
    if (!cJSON_IsString(v))
        return fail(c, DECODE_BAD_TIME, "%s is %s, not an RFC 3339 string", field, json_type(v));
    size_t len = strlen(v->valuestring);
    if (!ref_parse_time(v->valuestring, len, out))
        return fail(c, DECODE_BAD_TIME, "%s \"%s\" is not an RFC 3339 timestamp", field,
                    quote(&q, v->valuestring, len));
    return DECODE_OK;
}

static decode_error_t json_text(dctx_t *c, const char *field, const cJSON *v, str_t *out)
{
    out->ptr = "";
    out->len = 0;
    if (!v || cJSON_IsNull(v)) return DECODE_OK;
    if (!cJSON_IsString(v))
        return fail(c, DECODE_BAD_SHAPE, "%s is %s, not a string", field, json_type(v));
    return check_text(c, field, v->valuestring, strlen(v->valuestring), out);
}

/* The members of a "labels" or "annotations" object, checked, in input order. */
static decode_error_t json_pairs(dctx_t *c, bool label, const cJSON *obj, label_t **out,
                                 size_t *n_out)
{
    const char *kind = label ? "label" : "annotation";
    quoted_t q;
    decode_error_t r;
    size_t n = json_count(obj), i = 0;
    label_t *l = arena_array(c, n, sizeof(label_t));
    if (n && !l) return fail(c, DECODE_TOO_LARGE, "out of memory for %zu %ss", n, kind);
    for (const cJSON *e = obj->child; e; e = e->next, i++) {
        size_t nlen = strlen(e->string);
        if (!cJSON_IsString(e))
            return fail(c, DECODE_BAD_SHAPE, "%s \"%s\": value is %s, not a string", kind,
                        quote(&q, e->string, nlen), json_type(e));
        size_t vlen = strlen(e->valuestring);
        if ((r = check_pair(c, label, e->string, nlen, e->valuestring, vlen))) return r;
        l[i] = (label_t){{e->string, (uint32_t)nlen}, {e->valuestring, (uint32_t)vlen}};
    }
    *out = l;
    *n_out = n;
    return DECODE_OK;
}

static decode_error_t json_alert(dctx_t *c, const cJSON *obj, alert_t *a)
{
    quoted_t q;
    decode_error_t r;
    if (!cJSON_IsObject(obj))
        return fail(c, DECODE_BAD_SHAPE, "is %s, not an alert object", json_type(obj));

    /* One pass over the keys; a repeated key takes the last value, as Go's
     * encoding/json (and so Alertmanager) does. */
    const cJSON *labels = NULL, *annotations = NULL, *starts = NULL, *ends = NULL, *url = NULL,
                *status = NULL, *source = NULL;
    for (const cJSON *f = obj->child; f; f = f->next) {
        const char *k = f->string;
        if (!k) continue;
        if (strcmp(k, "labels") == 0)
            labels = f;
        else if (strcmp(k, "annotations") == 0)
            annotations = f;
        else if (strcmp(k, "startsAt") == 0)
            starts = f;
        else if (strcmp(k, "endsAt") == 0)
            ends = f;
        else if (strcmp(k, "generatorURL") == 0)
            url = f;
        else if (strcmp(k, "status") == 0)
            status = f;
        else if (strcmp(k, "source") == 0)
            source = f;
    }

    if (!labels || cJSON_IsNull(labels)) return fail(c, DECODE_NO_LABELS, "no \"labels\"");
    if (!cJSON_IsObject(labels))
        return fail(c, DECODE_BAD_SHAPE, "\"labels\" is %s, not an object", json_type(labels));
    label_t *l;
    size_t n;
    if ((r = json_pairs(c, true, labels, &l, &n)) || (r = finish_labels(c, a, l, n))) return r;
    if (annotations && !cJSON_IsNull(annotations)) {
        if (!cJSON_IsObject(annotations))
            return fail(c, DECODE_BAD_SHAPE, "\"annotations\" is %s, not an object",
                        json_type(annotations));
        if ((r = json_pairs(c, false, annotations, &a->annotations, &n))) return r;
        a->n_annotations = (uint32_t)n;
    }

    if ((r = json_time(c, "startsAt", starts, &a->starts_at_ms))) return r;
    if ((r = json_time(c, "endsAt", ends, &a->ends_at_ms))) return r;
    if ((r = json_text(c, "generatorURL", url, &a->generator_url))) return r;
    if ((r = json_text(c, "source", source, &a->source))) return r;

    /* Webhook bodies say "firing"/"resolved"; API v2 gettable alerts carry a
     * status object, and posted alerts none: both derive from endsAt. */
    status_hint_t hint = STATUS_DERIVE;
    if (status && cJSON_IsString(status)) {
        if (strcasecmp(status->valuestring, "firing") == 0)
            hint = STATUS_FIRING;
        else if (strcasecmp(status->valuestring, "resolved") == 0)
            hint = STATUS_RESOLVED;
        else
            return fail(c, DECODE_BAD_SHAPE, "status \"%s\" is neither \"firing\" nor \"resolved\"",
                        quote(&q, status->valuestring, strlen(status->valuestring)));
    } else if (status && !cJSON_IsNull(status) && !cJSON_IsObject(status)) {
        return fail(c, DECODE_BAD_SHAPE, "status is %s, not a string", json_type(status));
    }
    set_status(c, a, hint);
    return DECODE_OK;
}

static decode_error_t json_decode(dctx_t *c, const char *buf, size_t len, alert_t **out,
                                  size_t *n_out)
{
    decode_error_t r;
    if ((r = json_precheck(c, (const unsigned char *)buf, len))) {
        c->json_syntax_failed = true;
        return r;
    }
    /* cJSON before 1.7.18 reads a byte past an unterminated buffer
     * (CVE-2023-53154; Debian backports the fix to 1.7.15). Parsing a
     * NUL-terminated copy makes any version safe for one memcpy. */
    char *text = arena_alloc(c->arena, len + 1);
    if (!text) return fail(c, DECODE_TOO_LARGE, "out of memory copying %zu bytes of JSON", len);
    memcpy(text, buf, len);
    text[len] = '\0';
    buf = text;
    pthread_once(&json_hooks_once, json_hooks_install);
    const char *end = NULL;
    json_arena = c->arena;
    json_oom = false;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    json_arena = NULL;
    if (!root) {
        c->json_syntax_failed = true;
        if (json_oom)
            return fail(c, DECODE_TOO_LARGE, "out of memory parsing %zu bytes of JSON", len);
        return fail(c, DECODE_BAD_JSON, "invalid JSON near byte %zu",
                    end ? (size_t)(end - buf) : (size_t)0);
    }
    for (const char *p = end; p < buf + len; p++) {
        if (!json_ws((unsigned char)*p)) {
            c->json_syntax_failed = true;
            return fail(c, DECODE_BAD_JSON, "unexpected data after the JSON value at byte %zu",
                        (size_t)(p - buf));
        }
    }

    const cJSON *items = NULL; /* an array of alerts, or NULL for one alert */
    if (cJSON_IsArray(root)) {
        items = root;
    } else if (cJSON_IsObject(root)) {
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
        const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(root, "alerts");
        if (!labels && cJSON_IsArray(alerts)) {
            items = alerts; /* webhook body, any version */
        } else if (alerts && !labels) {
            return fail(c, DECODE_BAD_SHAPE, "\"alerts\" is %s, not an array", json_type(alerts));
        } else if (!labels) {
            return fail(c, DECODE_BAD_SHAPE,
                        "a JSON object with neither \"labels\" nor an "
                        "\"alerts\" array is not a Prometheus alert or Alertmanager webhook");
        }
    } else {
        return fail(c, DECODE_BAD_SHAPE, "top-level JSON value is %s, not an alert object or array",
                    json_type(root));
    }

    size_t n = items ? json_count(items) : 1;
    alert_t *alerts = arena_array(c, n, sizeof(alert_t));
    if (n && !alerts) return fail(c, DECODE_TOO_LARGE, "out of memory for %zu alerts", n);
    const cJSON *e = items ? items->child : root;
    c->in_alert = true;
    for (size_t i = 0; i < n; i++, e = e->next) {
        c->alert_idx = i;
        memset(&alerts[i], 0, sizeof(alerts[i]));
        if ((r = json_alert(c, e, &alerts[i]))) return r;
    }
    c->in_alert = false;
    *out = alerts;
    *n_out = n;
    return DECODE_OK;
}

/* ---- entry point (JSON only) ------------------------------------------- */

static size_t limit_or(size_t v, size_t cap) { return v == 0 || v > cap ? cap : v; }

decode_error_t ref_decode_json(arena_t *arena, const ingest_limits_t *limits, const void *buf,
                               size_t len, int64_t event_time_ms, alert_t **alerts_out,
                               size_t *n_out, char *errbuf, size_t errlen)
{
    const ingest_limits_t none = {0};
    if (!limits) limits = &none;
    dctx_t c = {
        .arena = arena,
        .lim = {limit_or(limits->max_message_bytes, SIZE_MAX),
                limit_or(limits->max_labels, UINT32_MAX),
                limit_or(limits->max_name_bytes, UINT32_MAX),
                limit_or(limits->max_value_bytes, UINT32_MAX),
                limit_or(limits->max_annotation_bytes, UINT32_MAX)},
        .event_time_ms = event_time_ms,
        .errbuf = errbuf,
        .errlen = errlen,
    };
    *alerts_out = NULL;
    *n_out = 0;
    if (errbuf && errlen) errbuf[0] = '\0';

    if (len > c.lim.message)
        return fail(&c, DECODE_TOO_LARGE, "message is %zu bytes, limit %zu", len, c.lim.message);
    if (!buf || len == 0) return fail(&c, DECODE_EMPTY, "empty message");
    const unsigned char *p = buf;
    size_t first = len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0 ? 3 : 0; /* cJSON skips a BOM */
    while (first < len && json_ws(p[first])) first++;
    if (first == len) return fail(&c, DECODE_EMPTY, "message is only whitespace");
    return json_decode(&c, buf, len, alerts_out, n_out);
}
