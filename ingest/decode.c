/*
 * decode: bytes of one Kafka message in, alerts out (see ingest.h).
 *
 * Formats: a Prometheus/Alertmanager alert object, an array of them, an
 * Alertmanager webhook body (an object with an "alerts" array), a protobuf
 * quell.v1.Alert or quell.v1.AlertBatch. Both parsers validate the same way
 * through check_pair() and finish_labels(), so a JSON alert and its protobuf
 * twin give the same alert_t or the same refusal.
 *
 * Memory: nothing here calls malloc per alert. JSON is parsed by simdjson's
 * DOM parser (json_dom.cpp, one per thread, buffers kept between messages);
 * the strings the alerts keep are copied out of it into the arena. Protobuf
 * is read by a wire-format reader of our own (see "protobuf" below) whose
 * strings point into `buf`. Both the arena and `buf` must outlive the
 * alerts; the caller resets the arena.
 *
 * Threads: any number of threads may decode at once, each with its own arena
 * (the JSON parser is thread-local). Only a refused JSON text goes through
 * cJSON (to say where it is wrong), whose global error position is written on
 * every parse and never read (the position comes from return_parse_end): a
 * benign race that ThreadSanitizer reports inside cJSON_ParseWithLengthOpts.
 *
 * Invariants of a DECODE_OK result: every alert has >= 1 label; labels are
 * sorted bytewise by name, names unique and valid legacy Prometheus names,
 * values non-empty; every name/value/url is valid UTF-8 without NUL bytes
 * and within the limits. Error messages number alerts from 0, as in the
 * input array ("alert 3" is alerts[3]).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <cjson/cJSON.h>

#include "ingest.h"
#include "json_dom.h"

static const char *const error_names[DECODE__COUNT] = {
    [DECODE_OK] = "ok",
    [DECODE_TOO_LARGE] = "too_large",
    [DECODE_EMPTY] = "empty",
    [DECODE_BAD_JSON] = "bad_json",
    [DECODE_BAD_PROTO] = "bad_proto",
    [DECODE_BAD_SHAPE] = "bad_shape",
    [DECODE_NO_LABELS] = "no_labels",
    [DECODE_TOO_MANY_LABELS] = "too_many_labels",
    [DECODE_NAME_TOO_LONG] = "name_too_long",
    [DECODE_VALUE_TOO_LONG] = "value_too_long",
    [DECODE_BAD_UTF8] = "bad_utf8",
    [DECODE_BAD_LABEL_NAME] = "bad_label_name",
    [DECODE_DUP_LABEL] = "duplicate_label",
    [DECODE_BAD_TIME] = "bad_time",
    [DECODE_BAD_CONTENT_TYPE] = "bad_content_type",
};

const char *decode_error_str(decode_error_t e)
{
    return (unsigned)e < DECODE__COUNT ? error_names[e] : "unknown";
}

bool ingest_may_have_headers(const void *value, size_t len)
{
    if (!value || len == 0) return true;
    const unsigned char *after = (const unsigned char *)value + len;
    if (((uintptr_t)after & 4095) == 0) return true; /* 4096: the smallest page size */
    return *after != 0;
}

ingest_format_t ingest_format_of(ingest_format_t format, const void *buf, size_t len)
{
    if (format != INGEST_FORMAT_AUTO) return format;
    const unsigned char *p = buf;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
    return i < len && (p[i] == '{' || p[i] == '[') ? INGEST_FORMAT_JSON : INGEST_FORMAT_PROTO_ALERT;
}

ingest_source_t ingest_source_from_header(const void *value, size_t len)
{
    if (len == 17 && memcmp(value, "http:alertmanager", 17) == 0) return INGEST_SOURCE_ALERTMANAGER;
    if (len == 14 && memcmp(value, "http:pagerduty", 14) == 0) return INGEST_SOURCE_PAGERDUTY;
    return INGEST_SOURCE_KAFKA;
}

const char *ingest_source_str(ingest_source_t s)
{
    return s == INGEST_SOURCE_ALERTMANAGER ? "http_alertmanager"
           : s == INGEST_SOURCE_PAGERDUTY  ? "http_pagerduty"
                                           : "kafka";
}

const char *ingest_format_str(ingest_format_t f)
{
    return f == INGEST_FORMAT_JSON ? "json" : f == INGEST_FORMAT_AUTO ? "auto" : "protobuf";
}

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
    bool text_is_utf8;       /* strings come from a validating parser: skip the UTF-8 scan */
    /* Strings point into the message up to here (protobuf): the UTF-8 scan
     * may read whole 16-byte blocks past a string's end, not past this. */
    const unsigned char *readable_end;
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
#ifdef __SSE2__
    /* Fastest path: 32 ASCII bytes without NUL, one branch (annotations
     * are long and nearly always ASCII). A byte >= 0x80 or a NUL (compared
     * equal to zero: 0xff) sets its lane's top bit; SSE2 is part of every
     * x86-64, so this needs no CPU check. It took a tenth of the ingest
     * threads' time as 64-bit words. */
    const __m128i zero = _mm_setzero_si128();
    for (; i + 32 <= len; i += 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
        __m128i nul = _mm_or_si128(_mm_cmpeq_epi8(a, zero), _mm_cmpeq_epi8(b, zero));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), nul))) break;
    }
    if (i + 16 <= len) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        if (!_mm_movemask_epi8(_mm_or_si128(a, _mm_cmpeq_epi8(a, zero)))) i += 16;
    }
#else
    /* Fastest path: 32 ASCII bytes without NUL, one branch (annotations
     * are long and nearly always ASCII). */
    for (; i + 32 <= len; i += 32) {
        uint64_t w[4], acc = 0;
        memcpy(w, s + i, 32);
        for (int k = 0; k < 4; k++) acc |= w[k] | ((w[k] - ONES) & ~w[k]);
        if (acc & HIGHS) break;
    }
#endif
    while (i < len) {
        if (i + 8 <= len) { /* fast path: 8 ASCII bytes, none of them NUL */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (((w | ((w - ONES) & ~w)) & HIGHS) == 0) {
                i += 8;
                continue;
            }
        } else {
            /* The tail, most of a short label name or value: the same test
             * on the bytes left, padded with 0x01 (ASCII, not NUL). */
            uint64_t w = ONES;
            memcpy(&w, s + i, len - i);
            if (((w | ((w - ONES) & ~w)) & HIGHS) == 0) return UTF8_OK;
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

/* utf8_invalid_at() for a string inside the message: most label values
 * are shorter than 32 bytes, where the call, the word loop and the tail
 * cost more than the check. Here whole 16-byte blocks are tested while they
 * end inside the message, the bytes past the string masked off; the first
 * block with a byte to look at goes to the full check. */
static inline size_t utf8_check(const dctx_t *c, const char *str, size_t len)
{
#ifdef __SSE2__
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len && c->readable_end && (size_t)(c->readable_end - (s + i)) >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned m =
            (unsigned)_mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, _mm_setzero_si128())));
        if (len - i < 16) m &= (1u << (len - i)) - 1;
        if (m) break;
        i += 16;
    }
    if (i >= len) return UTF8_OK;
    size_t at = utf8_invalid_at(str + i, len - i);
    return at == UTF8_OK ? UTF8_OK : i + at;
#else
    (void)c;
    return utf8_invalid_at(str, len);
#endif
}

/* Legacy Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*. A table: one load
 * per byte instead of five compares (names are checked on every alert). */
enum { NAME_FIRST = 1, NAME_NEXT = 2 };
static const unsigned char name_chars[256] = {
    ['a' ... 'z'] = NAME_FIRST | NAME_NEXT,
    ['A' ... 'Z'] = NAME_FIRST | NAME_NEXT,
    ['_'] = NAME_FIRST | NAME_NEXT,
    ['0' ... '9'] = NAME_NEXT,
};

static bool valid_label_name(const char *s, size_t len)
{
    if (len == 0 || !(name_chars[(unsigned char)s[0]] & NAME_FIRST)) return false;
    for (size_t i = 1; i < len; i++)
        if (!(name_chars[(unsigned char)s[i]] & NAME_NEXT)) return false;
    return true;
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
    if (!label && !c->text_is_utf8 && (at = utf8_check(c, name, nlen)) != UTF8_OK)
        return fail(c, DECODE_BAD_UTF8, "annotation name %s", utf8_why(why, name, at));
    if (vlen > vmax)
        return fail(c, DECODE_VALUE_TOO_LONG, "%s \"%s\": value is %zu bytes, limit %zu", kind,
                    quote(&q, name, nlen), vlen, vmax);
    if (!c->text_is_utf8 && (at = utf8_check(c, val, vlen)) != UTF8_OK)
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
    if (!c->text_is_utf8 && (at = utf8_check(c, s, len)) != UTF8_OK)
        return fail(c, DECODE_BAD_UTF8, "%s %s", field, utf8_why(why, s, at));
    out->ptr = s;
    out->len = (uint32_t)len;
    return DECODE_OK;
}

static int label_cmp(const label_t *a, const label_t *b)
{
    /* Names mostly differ in their first byte: no memcmp() call then. */
    if (a->name.len && b->name.len && a->name.ptr[0] != b->name.ptr[0])
        return (unsigned char)a->name.ptr[0] - (unsigned char)b->name.ptr[0];
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
    /* Senders mostly emit names sorted: strictly ascending means sorted and
     * unique, one comparison per label. */
    size_t asc = 1;
    while (asc < n && label_cmp(&l[asc - 1], &l[asc]) < 0) asc++;
    if (asc < n) {
        sort_labels(l, n);
        for (size_t i = 1; i < n; i++) {
            if (l[i].name.len == l[i - 1].name.len &&
                memcmp(l[i].name.ptr, l[i - 1].name.ptr, l[i].name.len) == 0)
                return fail(c, DECODE_DUP_LABEL, "label \"%s\" appears more than once",
                            quote(&q, l[i].name.ptr, l[i].name.len));
        }
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

/* The usual label set, checked in one pass: names valid and within the
 * limit, values non-empty, within the limit and valid UTF-8, names
 * strictly ascending (so sorted and unique), no more than the limit. True
 * means check_pair() on each and finish_labels() take them as they are;
 * false says nothing, and the caller runs those two, which give the
 * refusal and its sentence, or sort, or drop the empty values. Their loops
 * and calls, one after the other, cost more than the checks. */
static bool labels_plain(const dctx_t *c, const label_t *l, size_t n)
{
    if (n == 0 || n > c->lim.labels) return false;
    for (size_t i = 0; i < n; i++) {
        size_t nlen = l[i].name.len, vlen = l[i].value.len;
        if (nlen > c->lim.name || vlen == 0 || vlen > c->lim.value ||
            !valid_label_name(l[i].name.ptr, nlen))
            return false;
        if (i && label_cmp(&l[i - 1], &l[i]) >= 0) return false;
        if (!c->text_is_utf8 && utf8_check(c, l[i].value.ptr, vlen) != UTF8_OK) return false;
    }
    return true;
}

/* The same for annotations: what check_pair() accepts, without the
 * sentence of what it refuses. */
static bool annotations_plain(const dctx_t *c, const label_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t nlen = l[i].name.len, vlen = l[i].value.len;
        if (nlen == 0 || nlen > c->lim.name || vlen > c->lim.annotation) return false;
        if (!c->text_is_utf8 && (utf8_check(c, l[i].name.ptr, nlen) != UTF8_OK ||
                                 utf8_check(c, l[i].value.ptr, vlen) != UTF8_OK))
            return false;
    }
    return true;
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

/* ---- content type ------------------------------------------------------ */

static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

static void trim(const char **s, size_t *len)
{
    while (*len && is_ows(**s)) (*s)++, (*len)--;
    while (*len && is_ows((*s)[*len - 1])) (*len)--;
}

static bool eq_ci(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && strncasecmp(s, lit, n) == 0;
}

decode_error_t ingest_format_from_content_type(const char *ct, size_t len, ingest_format_t *out)
{
    if (!ct) len = 0;
    trim(&ct, &len);
    if (len == 0) {
        *out = INGEST_FORMAT_AUTO;
        return DECODE_OK;
    }
    const char *semi = memchr(ct, ';', len);
    const char *mt = ct;
    size_t mt_len = semi ? (size_t)(semi - ct) : len;
    trim(&mt, &mt_len);

    const char *slash = memchr(mt, '/', mt_len);
    if (eq_ci(mt, mt_len, "application/json") || eq_ci(mt, mt_len, "text/json") ||
        (slash && slash > mt && mt_len > 6 && (size_t)(slash - mt) + 1 < mt_len - 5 &&
         strncasecmp(mt + mt_len - 5, "+json", 5) == 0)) {
        *out = INGEST_FORMAT_JSON;
        return DECODE_OK;
    }
    if (!eq_ci(mt, mt_len, "application/x-protobuf") && !eq_ci(mt, mt_len, "application/protobuf"))
        return DECODE_BAD_CONTENT_TYPE;

    /* Parameters: only type= matters; a type we do not know is an error
     * rather than a guess. */
    ingest_format_t fmt = INGEST_FORMAT_PROTO_ALERT;
    const char *p = semi ? semi + 1 : ct + len;
    const char *end = ct + len;
    while (p < end) {
        const char *next = memchr(p, ';', (size_t)(end - p));
        size_t plen = next ? (size_t)(next - p) : (size_t)(end - p);
        const char *eq = memchr(p, '=', plen);
        if (eq) {
            const char *name = p, *val = eq + 1;
            size_t name_len = (size_t)(eq - p), val_len = plen - name_len - 1;
            trim(&name, &name_len);
            trim(&val, &val_len);
            if (val_len >= 2 && val[0] == '"' && val[val_len - 1] == '"') val++, val_len -= 2;
            if (eq_ci(name, name_len, "type")) {
                if (eq_ci(val, val_len, "quell.v1.Alert"))
                    fmt = INGEST_FORMAT_PROTO_ALERT;
                else if (eq_ci(val, val_len, "quell.v1.AlertBatch"))
                    fmt = INGEST_FORMAT_PROTO_BATCH;
                else
                    return DECODE_BAD_CONTENT_TYPE;
            }
        }
        p = next ? next + 1 : end;
    }
    *out = fmt;
    return DECODE_OK;
}

/* ---- JSON -------------------------------------------------------------- */

/* simdjson (through json_dom.h) parses and validates: JSON syntax, UTF-8 of
 * the whole text, escapes and surrogate pairs, depth. Its strings are
 * unescaped into the thread's parser and copied into the arena here for the
 * alerts to keep. It reports what went wrong, not where, so a refused text is
 * parsed a second time, by cJSON, only to say where (the messages of the
 * cJSON decoder this replaced); what is refused is simdjson's verdict. */

static bool json_ws(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Refuses raw control bytes (simdjson does too, but this names the byte)
 * and \u0000, which is valid JSON but would put a NUL into a label value:
 * strings end up as C strings in places (protobuf-c, headers), where it
 * would cut the value short and merge distinct alerts. For a refused text;
 * an accepted one needs only json_nul_escape_at(). */
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

/* The offset of the first \u0000 escape from the backslash `bs` on, or len:
 * on a text simdjson accepted, the one thing json_precheck() would still
 * refuse. There every backslash starts an escape and none of the bytes it
 * escapes is a backslash, so jumping from one to the next keeps the parity
 * (and memchr() jumps faster than the precheck's 8-byte steps). */
static size_t json_nul_escape_at(const char *buf, size_t len, const char *bs)
{
    const char *end = buf + len;
    while (bs) {
        if (end - bs >= 6 && memcmp(bs + 1, "u0000", 5) == 0) return (size_t)(bs - buf);
        bs += 2;
        bs = bs < end ? memchr(bs, '\\', (size_t)(end - bs)) : NULL;
    }
    return len;
}

/* Where cJSON stops reading `buf`: 1 and *at for a syntax error, 2 and *at
 * for data after the value, 0 if it reads it all. The refusal path only;
 * cJSON's tree is malloc'd and freed here. cJSON before 1.7.18 reads a byte
 * past an unterminated buffer (CVE-2023-53154), hence the terminated copy. */
static int json_locate(const char *buf, size_t len, size_t *at)
{
    char *text = malloc(len + 1);
    *at = 0;
    if (!text) return 0;
    memcpy(text, buf, len);
    text[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    int where = 0;
    if (!root) {
        where = 1;
        *at = end ? (size_t)(end - text) : 0;
    } else {
        cJSON_Delete(root);
        for (const char *p = end; p < text + len; p++) {
            if (!json_ws((unsigned char)*p)) {
                where = 2;
                *at = (size_t)(p - text);
                break;
            }
        }
    }
    free(text);
    return where;
}

/* A JSON number lexeme (RFC 8259 section 6), exactly. */
static bool json_number_syntax(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0') {
        i++;
    } else {
        if (i >= n || s[i] < '1' || s[i] > '9') return false;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && s[i] == '.') {
        if (++i >= n || s[i] < '0' || s[i] > '9') return false;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return false;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    return i == n;
}

static bool json_number_char(char ch)
{
    return (ch >= '0' && ch <= '9') || ch == '-' || ch == '+' || ch == '.' || ch == 'e' ||
           ch == 'E';
}

/* simdjson refuses numbers it cannot hold (integers beyond 64 bits, 1e999)
 * where JSON, Go and cJSON read them; real webhook bodies carry such
 * numbers in fields quell ignores ("groupKey": 43434343434343434343). No
 * number's value is ever used here, only its type, so a copy of the text
 * with every number-syntax run outside strings written as "0" and blanks
 * (same length: offsets hold) parses as the original should. Runs that are
 * not JSON numbers (01, 1., +1) stay, and stay refused. NULL: out of memory. */
static char *json_zero_numbers(const char *buf, size_t len)
{
    char *t = malloc(len ? len : 1);
    if (!t) return NULL;
    memcpy(t, buf, len);
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char ch = t[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '"') {
            in_str = true;
            continue;
        }
        if (!json_number_char(ch)) continue;
        size_t j = i;
        while (j < len && json_number_char(t[j])) j++;
        if (json_number_syntax(t + i, j - i)) {
            t[i] = '0';
            memset(t + i + 1, ' ', j - i - 1);
        }
        i = j - 1;
    }
    return t;
}

/* The first raw tab, CR or LF inside a string (JSON wants them escaped;
 * cJSON took them, and json_precheck() lets them pass as whitespace), or
 * len. */
static size_t json_raw_control_at(const char *buf, size_t len)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (in_str && ch < 0x20) return i;
        if (in_str && ch == '\\')
            i++;
        else if (ch == '"')
            in_str = !in_str;
    }
    return len;
}

static decode_error_t json_refused(dctx_t *c, jd_status_t st, const char *why, const char *buf,
                                   size_t len)
{
    decode_error_t r;
    size_t at;
    c->json_syntax_failed = true;
    if ((r = json_precheck(c, (const unsigned char *)buf, len))) return r;
    if (st == JD_NO_MEMORY)
        return fail(c, DECODE_TOO_LARGE, "out of memory parsing %zu bytes of JSON", len);
    switch (json_locate(buf, len, &at)) {
    case 1: return fail(c, DECODE_BAD_JSON, "invalid JSON near byte %zu", at);
    case 2: return fail(c, DECODE_BAD_JSON, "unexpected data after the JSON value at byte %zu", at);
    }
    if (st == JD_BAD_UTF8) {
        /* Well-formed apart from its encoding: not a syntax failure, as
         * when cJSON read it and the field checks refused it. */
        c->json_syntax_failed = false;
        at = utf8_invalid_at(buf, len);
        if (at != UTF8_OK)
            return fail(c, DECODE_BAD_UTF8,
                        "JSON text is not valid UTF-8 (byte 0x%02x at byte %zu)",
                        (unsigned char)buf[at], at);
        return fail(c, DECODE_BAD_UTF8, "JSON text is not valid UTF-8");
    }
    if (st == JD_RAW_CONTROL && (at = json_raw_control_at(buf, len)) != len)
        return fail(c, DECODE_BAD_JSON,
                    "invalid JSON: unescaped 0x%02x inside a string at byte %zu",
                    (unsigned char)buf[at], at);
    /* What cJSON took and JSON does not: 01, 1., -01.e5 as numbers; a \u
     * escape without 4 hex digits (cJSON read U+0000). */
    return fail(c, DECODE_BAD_JSON, "invalid JSON: %s", why ? why : "refused by the parser");
}

static const char *json_type(const jd_val_t *v)
{
    switch (v->type) {
    case JD_STRING: return "a string";
    case JD_NUMBER: return "a number";
    case JD_BOOL: return "a boolean";
    case JD_NULL: return "null";
    case JD_ARRAY: return "an array";
    case JD_OBJECT: return "an object";
    }
    return "invalid";
}

static bool json_key_is(const jd_member_t *m, const char *key, size_t key_len)
{
    return m->key_len == key_len && memcmp(m->key, key, key_len) == 0;
}
#define KEY_IS(m, lit) json_key_is((m), lit, sizeof(lit) - 1)

/* The members of an object in the arena (they live as long as the alerts
 * do, which is cheaper than a second pass to size a scratch buffer). */
static jd_member_t *json_members(dctx_t *c, const jd_val_t *obj)
{
    jd_member_t *m = arena_array(c, obj->n, sizeof(jd_member_t));
    if (m) jd_members(obj, m);
    return m;
}

static str_t json_copy(dctx_t *c, const char *s, size_t len)
{
    if (len == 0) return (str_t){"", 0};
    char *p = arena_alloc(c->arena, len);
    if (!p) return (str_t){NULL, 0};
    memcpy(p, s, len);
    return (str_t){p, (uint32_t)len};
}

static decode_error_t json_time(dctx_t *c, const char *field, const jd_val_t *v, int64_t *out)
{
    quoted_t q;
    *out = 0;
    if (!v || v->type == JD_NULL) return DECODE_OK;
    if (v->type != JD_STRING)
        return fail(c, DECODE_BAD_TIME, "%s is %s, not an RFC 3339 string", field, json_type(v));
    if (!time_parse_rfc3339(v->u.str.ptr, v->u.str.len, out))
        return fail(c, DECODE_BAD_TIME, "%s \"%s\" is not an RFC 3339 timestamp", field,
                    quote(&q, v->u.str.ptr, v->u.str.len));
    return DECODE_OK;
}

static decode_error_t json_text(dctx_t *c, const char *field, const jd_val_t *v, str_t *out)
{
    decode_error_t r;
    out->ptr = "";
    out->len = 0;
    if (!v || v->type == JD_NULL) return DECODE_OK;
    if (v->type != JD_STRING)
        return fail(c, DECODE_BAD_SHAPE, "%s is %s, not a string", field, json_type(v));
    if ((r = check_text(c, field, v->u.str.ptr, v->u.str.len, out))) return r;
    *out = json_copy(c, v->u.str.ptr, v->u.str.len);
    if (!out->ptr) return fail(c, DECODE_TOO_LARGE, "out of memory for %s", field);
    return DECODE_OK;
}

/* The members of a "labels" or "annotations" object, checked, in input
 * order, their strings copied into the arena. simdjson unescapes an
 * object's strings one after the other into its string buffer, so the span
 * from the lowest to the highest byte of them is about their total size:
 * then one copy of the span and rebased pointers (a copy per string was a
 * sixth of the decode time); per string otherwise (never seen). */
static decode_error_t json_pairs(dctx_t *c, bool label, const jd_val_t *obj, label_t **out,
                                 size_t *n_out, bool *plain_out)
{
    const char *kind = label ? "label" : "annotation";
    quoted_t q;
    decode_error_t r;
    size_t n = obj->n, bytes = 0;
    jd_member_t *m = json_members(c, obj);
    label_t *l = arena_array(c, n, sizeof(label_t));
    if (n && (!m || !l)) return fail(c, DECODE_TOO_LARGE, "out of memory for %zu %ss", n, kind);
    /* The usual object, all strings that labels_plain() (annotations_plain())
     * takes, needs no check_pair() per member, and labels no
     * finish_labels(): *plain_out. The pairs point into the parser until
     * the copy below. Otherwise each member in turn, for the first
     * refusal's sentence. */
    bool plain = true;
    for (size_t i = 0; plain && i < n; i++) {
        const jd_member_t *e = &m[i];
        plain =
            e->val.type == JD_STRING && e->key_len <= UINT32_MAX && e->val.u.str.len <= UINT32_MAX;
        l[i].name = (str_t){e->key, (uint32_t)e->key_len};
        l[i].value = (str_t){e->val.u.str.ptr, (uint32_t)e->val.u.str.len};
    }
    if (plain) plain = label ? labels_plain(c, l, n) : annotations_plain(c, l, n);
    *plain_out = plain;
    const char *lo = NULL, *hi = NULL;
    for (size_t i = 0; i < n; i++) {
        const jd_member_t *e = &m[i];
        if (!plain && e->val.type != JD_STRING)
            return fail(c, DECODE_BAD_SHAPE, "%s \"%s\": value is %s, not a string", kind,
                        quote(&q, e->key, e->key_len), json_type(&e->val));
        if (!plain &&
            (r = check_pair(c, label, e->key, e->key_len, e->val.u.str.ptr, e->val.u.str.len)))
            return r;
        bytes += e->key_len + e->val.u.str.len;
        const char *k = e->key, *v = e->val.u.str.ptr;
        if (!lo || k < lo) lo = k;
        if (v < lo) lo = v;
        if (!hi || k + e->key_len > hi) hi = k + e->key_len;
        if (v + e->val.u.str.len > hi) hi = v + e->val.u.str.len;
    }
    size_t span = n ? (size_t)(hi - lo) : 0;
    bool one_copy = span <= bytes + 16 * n + 64;
    size_t size = one_copy ? span : bytes;
    char *s = size ? arena_alloc(c->arena, size) : NULL;
    if (size && !s) return fail(c, DECODE_TOO_LARGE, "out of memory for %zu %ss", n, kind);
    if (one_copy) {
        if (span) memcpy(s, lo, span);
        for (size_t i = 0; i < n; i++) {
            const jd_member_t *e = &m[i];
            size_t nlen = e->key_len, vlen = e->val.u.str.len;
            l[i].name = (str_t){nlen ? s + (e->key - lo) : "", (uint32_t)nlen};
            l[i].value = (str_t){vlen ? s + (e->val.u.str.ptr - lo) : "", (uint32_t)vlen};
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            const jd_member_t *e = &m[i];
            size_t nlen = e->key_len, vlen = e->val.u.str.len;
            memcpy(s, e->key, nlen);
            l[i].name = (str_t){nlen ? s : "", (uint32_t)nlen};
            s += nlen;
            memcpy(s, e->val.u.str.ptr, vlen);
            l[i].value = (str_t){vlen ? s : "", (uint32_t)vlen};
            s += vlen;
        }
    }
    *out = l;
    *n_out = n;
    return DECODE_OK;
}

/* One alert; `m`: the object's members when the caller has them already. */
static decode_error_t json_alert(dctx_t *c, const jd_val_t *obj, const jd_member_t *m, alert_t *a)
{
    quoted_t q;
    decode_error_t r;
    if (obj->type != JD_OBJECT)
        return fail(c, DECODE_BAD_SHAPE, "is %s, not an alert object", json_type(obj));
    if (!m && !(m = json_members(c, obj)) && obj->n)
        return fail(c, DECODE_TOO_LARGE, "out of memory for %zu members", obj->n);

    /* One pass over the keys; a repeated key takes the last value, as Go's
     * encoding/json (and so Alertmanager) does. */
    const jd_val_t *labels = NULL, *annotations = NULL, *starts = NULL, *ends = NULL, *url = NULL,
                   *status = NULL, *source = NULL;
    for (size_t i = 0; i < obj->n; i++) {
        const jd_member_t *f = &m[i];
        if (KEY_IS(f, "labels"))
            labels = &f->val;
        else if (KEY_IS(f, "annotations"))
            annotations = &f->val;
        else if (KEY_IS(f, "startsAt"))
            starts = &f->val;
        else if (KEY_IS(f, "endsAt"))
            ends = &f->val;
        else if (KEY_IS(f, "generatorURL"))
            url = &f->val;
        else if (KEY_IS(f, "status"))
            status = &f->val;
        else if (KEY_IS(f, "source"))
            source = &f->val;
    }

    if (!labels || labels->type == JD_NULL) return fail(c, DECODE_NO_LABELS, "no \"labels\"");
    if (labels->type != JD_OBJECT)
        return fail(c, DECODE_BAD_SHAPE, "\"labels\" is %s, not an object", json_type(labels));
    label_t *l;
    size_t n;
    bool plain;
    if ((r = json_pairs(c, true, labels, &l, &n, &plain))) return r;
    if (plain) {
        a->labels = l;
        a->n_labels = (uint32_t)n;
    } else if ((r = finish_labels(c, a, l, n))) {
        return r;
    }
    if (annotations && annotations->type != JD_NULL) {
        if (annotations->type != JD_OBJECT)
            return fail(c, DECODE_BAD_SHAPE, "\"annotations\" is %s, not an object",
                        json_type(annotations));
        if ((r = json_pairs(c, false, annotations, &a->annotations, &n, &plain))) return r;
        a->n_annotations = (uint32_t)n;
    }

    if ((r = json_time(c, "startsAt", starts, &a->starts_at_ms))) return r;
    if ((r = json_time(c, "endsAt", ends, &a->ends_at_ms))) return r;
    if ((r = json_text(c, "generatorURL", url, &a->generator_url))) return r;
    if ((r = json_text(c, "source", source, &a->source))) return r;

    /* Webhook bodies say "firing"/"resolved"; API v2 gettable alerts carry a
     * status object, and posted alerts none: both derive from endsAt. */
    status_hint_t hint = STATUS_DERIVE;
    if (status && status->type == JD_STRING) {
        const char *s = status->u.str.ptr;
        size_t len = status->u.str.len;
        if (len == 6 && strncasecmp(s, "firing", 6) == 0)
            hint = STATUS_FIRING;
        else if (len == 8 && strncasecmp(s, "resolved", 8) == 0)
            hint = STATUS_RESOLVED;
        else
            return fail(c, DECODE_BAD_SHAPE, "status \"%s\" is neither \"firing\" nor \"resolved\"",
                        quote(&q, s, len));
    } else if (status && status->type != JD_NULL && status->type != JD_OBJECT) {
        return fail(c, DECODE_BAD_SHAPE, "status is %s, not a string", json_type(status));
    }
    set_status(c, a, hint);
    return DECODE_OK;
}

/* The top-level shapes: one alert object, an array of them, or a webhook
 * body (an object with an "alerts" array and no "labels"). */
static decode_error_t json_walk(dctx_t *c, const jd_val_t *root, alert_t **out, size_t *n_out)
{
    decode_error_t r;
    const jd_val_t *items = NULL; /* an array of alerts, or NULL for one alert */
    const jd_member_t *members = NULL;
    if (root->type == JD_ARRAY) {
        items = root;
    } else if (root->type == JD_OBJECT) {
        if (!(members = json_members(c, root)) && root->n)
            return fail(c, DECODE_TOO_LARGE, "out of memory for %zu members", root->n);
        /* The first of each key decides the shape (cJSON's lookup did). */
        const jd_val_t *labels = NULL, *alerts = NULL;
        for (size_t i = 0; i < root->n; i++) {
            if (!labels && KEY_IS(&members[i], "labels")) labels = &members[i].val;
            if (!alerts && KEY_IS(&members[i], "alerts")) alerts = &members[i].val;
        }
        if (!labels && alerts && alerts->type == JD_ARRAY) {
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

    size_t n = items ? items->n : 1;
    alert_t *alerts = arena_array(c, n, sizeof(alert_t));
    jd_val_t *vals = items ? arena_array(c, n, sizeof(jd_val_t)) : NULL;
    if (n && (!alerts || (items && !vals)))
        return fail(c, DECODE_TOO_LARGE, "out of memory for %zu alerts", n);
    if (items) jd_items(items, vals);
    c->in_alert = true;
    for (size_t i = 0; i < n; i++) {
        c->alert_idx = i;
        memset(&alerts[i], 0, sizeof(alerts[i]));
        if ((r = items ? json_alert(c, &vals[i], NULL, &alerts[i])
                       : json_alert(c, root, members, &alerts[i])))
            return r;
    }
    c->in_alert = false;
    *out = alerts;
    *n_out = n;
    return DECODE_OK;
}

static decode_error_t json_decode(dctx_t *c, const char *buf, size_t len, alert_t **out,
                                  size_t *n_out)
{
    /* cJSON skipped a UTF-8 byte order mark and so does this (simdjson
     * would refuse it); error offsets still count from buf. */
    size_t bom = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    const char *why = NULL, *bs;
    size_t at;
    jd_val_t root;
    jd_status_t st = jd_parse(buf + bom, len - bom, &root, &why);
    if (st == JD_BAD_NUMBER) {
        char *zeroed = json_zero_numbers(buf + bom, len - bom);
        if (zeroed) {
            st = jd_parse(zeroed, len - bom, &root, &why); /* it copies: free at once */
            free(zeroed);
        }
    }
    decode_error_t r;
    if (st != JD_OK) {
        r = json_refused(c, st, why, buf, len);
    } else if ((bs = memchr(buf, '\\', len)) && (at = json_nul_escape_at(buf, len, bs)) != len) {
        c->json_syntax_failed = true; /* refused before any tree, as before */
        r = fail(c, DECODE_BAD_UTF8, "\\u0000 at byte %zu: NUL characters are not accepted", at);
    } else {
        /* Every string simdjson gives out is valid UTF-8 and, with \u0000
         * refused just above, free of NUL: check_pair() need not look. */
        c->text_is_utf8 = true;
        r = json_walk(c, &root, out, n_out);
        c->text_is_utf8 = false;
    }
    jd_release();
    return r;
}

/* ---- protobuf ---------------------------------------------------------- */

/* A wire-format reader for quell.v1.Alert and AlertBatch, straight into
 * alert_t: strings point into `buf` (they carry their length, so a NUL
 * inside is seen and refused by check_*() rather than cutting the string),
 * and the only allocations are the alert and label arrays. It accepts what
 * protobuf-c's generated unpacker accepts (unknown fields skipped, the last
 * of a repeated scalar wins, 10-byte varints, open enums) and refuses what
 * it refuses (truncation, a known field with the wrong wire type, groups,
 * field number 0), with the same precedence: every alert of a message is
 * read before any is checked, so a malformed message is bad_proto whatever
 * its first alert holds. protobuf-c cost ~5 allocations and copies per
 * label; this is the ingest thread's hottest loop (see bench/). */

typedef struct {
    const uint8_t *p, *end;
} pbr_t;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static bool pb_varint_long(pbr_t *r, uint64_t *v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Two to eight bytes (an alert's timestamps in ms take six, a long
     * string's length two) from one word when the message has eight left:
     * the byte loop below, a branch and a bounds check per byte, was 7% of
     * an ingest lane. The stop byte is the first with its top bit clear. */
    if (r->end - r->p >= 8) {
        uint64_t w;
        memcpy(&w, r->p, 8);
        uint64_t stops = ~w & HIGHS;
        if (stops) {
            unsigned nbytes = ((unsigned)__builtin_ctzll(stops) + 1) / 8;
            if (nbytes < 8) w &= (1ull << (8 * nbytes)) - 1;
            uint64_t x = w & 0x7f;
            for (unsigned k = 1; k < 8; k++) x |= (w >> k) & (0x7full << (7 * k));
            r->p += nbytes;
            *v = x;
            return true;
        }
    }
#endif
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        if (shift < 64) x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Tags and lengths below 128 are one byte: nearly all of an alert's. */
static inline bool pb_varint(pbr_t *r, uint64_t *v)
{
    if (r->p < r->end && *r->p < 0x80) {
        *v = *r->p++;
        return true;
    }
    return pb_varint_long(r, v);
}

/* The next field's number and wire type; false at the end or on a bad tag. */
static bool pb_tag(pbr_t *r, uint32_t *field, unsigned *wt, bool *bad)
{
    uint64_t tag;
    *bad = false;
    if (r->p == r->end) return false;
    if (!pb_varint(r, &tag) || tag >> 3 == 0 || tag >> 3 > 0x1fffffff) return !(*bad = true);
    *field = (uint32_t)(tag >> 3);
    *wt = (unsigned)(tag & 7);
    return true;
}

static bool pb_bytes(pbr_t *r, pbr_t *sub)
{
    uint64_t n;
    if (!pb_varint(r, &n) || n > (uint64_t)(r->end - r->p)) return false;
    sub->p = r->p;
    sub->end = r->p + n;
    r->p += n;
    return true;
}

static bool pb_skip(pbr_t *r, unsigned wt)
{
    uint64_t v;
    pbr_t sub;
    size_t n = wt == WT_I64 ? 8 : 4;
    switch (wt) {
    case WT_VARINT: return pb_varint(r, &v);
    case WT_LEN: return pb_bytes(r, &sub);
    case WT_I64:
    case WT_I32:
        if ((size_t)(r->end - r->p) < n) return false;
        r->p += n;
        return true;
    default: return false; /* groups (3, 4) and 6, 7: protobuf-c refuses them too */
    }
}

/* A quell.v1.Label: name = 1, value = 2. */
static bool pb_label(pbr_t r, label_t *out)
{
    uint32_t f;
    unsigned wt;
    bool bad;
    uint64_t n;
    /* What every encoder writes for a short label: name then value, each a
     * one-byte tag and a one-byte length, filling the submessage exactly.
     * The loop below reads the same from it. */
    size_t len = (size_t)(r.end - r.p);
    if (len >= 4 && r.p[0] == 0x0a && r.p[1] < 0x80 && (size_t)r.p[1] + 4 <= len) {
        size_t nlen = r.p[1];
        const uint8_t *v = r.p + 2 + nlen;
        if (v[0] == 0x12 && v[1] < 0x80 && 4 + nlen + v[1] == len) {
            out->name = (str_t){(const char *)r.p + 2, (uint32_t)nlen};
            out->value = (str_t){(const char *)v + 2, v[1]};
            return true;
        }
    }
    str_t name = {"", 0}, value = {"", 0};
    while (pb_tag(&r, &f, &wt, &bad)) {
        if (f == 1 || f == 2) {
            if (wt != WT_LEN || !pb_varint(&r, &n) || n > (uint64_t)(r.end - r.p)) return false;
            str_t s = {(const char *)r.p, (uint32_t)n};
            r.p += n;
            if (f == 1)
                name = s;
            else
                value = s;
        } else if (!pb_skip(&r, wt)) {
            return false;
        }
    }
    out->name = name;
    out->value = value;
    return !bad;
}

/* One Alert as read, before any check. */
typedef struct {
    label_t *labels, *annotations;
    uint32_t n_labels, n_annotations;
    int32_t status;
    int64_t starts_at_ms, ends_at_ms;
    str_t generator_url, source;
} pb_alert_t;

/* Label and annotation submessages remembered by the first pass of
 * pb_read_alert, so the second reads them without walking the alert again;
 * an alert with more takes the walk. */
#define PB_PAIRS_SEEN 64

/* Reads an Alert in two passes: count the labels and annotations (and
 * check the framing), then fill arrays of exactly that size. */
static bool pb_read_alert(dctx_t *c, pbr_t msg, pb_alert_t *a, bool *oom)
{
    uint32_t f;
    unsigned wt;
    bool bad;
    uint64_t v;
    size_t nl = 0, na = 0;
    /* Start and length as scalars: a pbr_t copied into the array right
     * after pb_bytes() wrote it stalled on store forwarding. */
    const uint8_t *seen_at[PB_PAIRS_SEEN];
    uint32_t seen_len[PB_PAIRS_SEEN];
    bool seen_is_label[PB_PAIRS_SEEN];
    *a = (pb_alert_t){.generator_url = {"", 0}, .source = {"", 0}};
    pbr_t r = msg;
    while (pb_tag(&r, &f, &wt, &bad)) {
        switch (f) {
        case 1:
        case 2:
        case 6:
        case 7: {
            if (wt != WT_LEN || !pb_varint(&r, &v) || v > (uint64_t)(r.end - r.p)) return false;
            const uint8_t *at = r.p;
            r.p += v;
            if (f <= 2 && nl + na < PB_PAIRS_SEEN) {
                seen_at[nl + na] = at;
                seen_len[nl + na] = (uint32_t)v;
                seen_is_label[nl + na] = f == 1;
            }
            if (f == 1) nl++;
            if (f == 2) na++;
            if (f == 6) a->generator_url = (str_t){(const char *)at, (uint32_t)v};
            if (f == 7) a->source = (str_t){(const char *)at, (uint32_t)v};
            break;
        }
        case 3:
        case 4:
        case 5:
            if (wt != WT_VARINT || !pb_varint(&r, &v)) return false;
            if (f == 3) a->status = (int32_t)v;
            if (f == 4) a->starts_at_ms = (int64_t)v;
            if (f == 5) a->ends_at_ms = (int64_t)v;
            break;
        default:
            if (!pb_skip(&r, wt)) return false;
        }
    }
    if (bad) return false;
    a->labels = arena_array(c, nl, sizeof(label_t));
    a->annotations = arena_array(c, na, sizeof(label_t));
    if ((nl && !a->labels) || (na && !a->annotations)) return !(*oom = true);
    if (nl + na <= PB_PAIRS_SEEN) {
        for (size_t i = 0; i < nl + na; i++) {
            label_t *l =
                seen_is_label[i] ? &a->labels[a->n_labels++] : &a->annotations[a->n_annotations++];
            if (!pb_label((pbr_t){seen_at[i], seen_at[i] + seen_len[i]}, l)) return false;
        }
        return true;
    }
    r = msg;
    while (pb_tag(&r, &f, &wt, &bad)) {
        pbr_t sub;
        if (f == 1 || f == 2) {
            if (!pb_bytes(&r, &sub)) return false; /* framing checked above: never */
            label_t *l = f == 1 ? &a->labels[a->n_labels++] : &a->annotations[a->n_annotations++];
            if (!pb_label(sub, l)) return false;
        } else {
            pb_skip(&r, wt);
        }
    }
    return true;
}

static decode_error_t pb_check_pairs(dctx_t *c, const label_t *l, size_t n, bool label)
{
    decode_error_t r;
    for (size_t i = 0; i < n; i++)
        if ((r = check_pair(c, label, l[i].name.ptr, l[i].name.len, l[i].value.ptr,
                            l[i].value.len)))
            return r;
    return DECODE_OK;
}

static decode_error_t pb_alert(dctx_t *c, const pb_alert_t *m, alert_t *a)
{
    decode_error_t r;
    memset(a, 0, sizeof(*a));
    if (labels_plain(c, m->labels, m->n_labels)) {
        a->labels = m->labels;
        a->n_labels = m->n_labels;
    } else {
        if ((r = pb_check_pairs(c, m->labels, m->n_labels, true))) return r;
        if ((r = finish_labels(c, a, m->labels, m->n_labels))) return r;
    }
    if (!annotations_plain(c, m->annotations, m->n_annotations) &&
        (r = pb_check_pairs(c, m->annotations, m->n_annotations, false)))
        return r;
    a->annotations = m->annotations;
    a->n_annotations = m->n_annotations;
    if ((r = check_text(c, "generator_url", m->generator_url.ptr, m->generator_url.len,
                        &a->generator_url)))
        return r;
    if ((r = check_text(c, "source", m->source.ptr, m->source.len, &a->source))) return r;
    a->starts_at_ms = m->starts_at_ms;
    a->ends_at_ms = m->ends_at_ms;
    /* proto3 enums are open: a value from a newer schema derives like
     * UNSPECIFIED rather than refusing the alert. */
    status_hint_t hint = m->status == 1   ? STATUS_FIRING   /* STATUS_FIRING */
                         : m->status == 2 ? STATUS_RESOLVED /* STATUS_RESOLVED */
                                          : STATUS_DERIVE;
    set_status(c, a, hint);
    return DECODE_OK;
}

static decode_error_t pb_decode(dctx_t *c, bool batch, const uint8_t *buf, size_t len,
                                alert_t **out, size_t *n_out)
{
    decode_error_t r;
    pbr_t msg = {buf, buf + len}, rd = msg;
    c->readable_end = buf + len;
    size_t n = 1;
    uint32_t f;
    unsigned wt;
    bool bad = false, oom = false;
    if (batch) { /* AlertBatch: alerts = 15; count them, checking the framing */
        n = 0;
        while (pb_tag(&rd, &f, &wt, &bad)) {
            if (f == 15 && wt != WT_LEN) goto malformed;
            n += f == 15;
            if (!pb_skip(&rd, wt)) goto malformed;
        }
        if (bad) goto malformed;
    }
    pb_alert_t *ms = arena_array(c, n, sizeof(pb_alert_t));
    alert_t *alerts = arena_array(c, n, sizeof(alert_t));
    if (n && (!ms || !alerts)) return fail(c, DECODE_TOO_LARGE, "out of memory for %zu alerts", n);
    if (!batch) {
        if (!pb_read_alert(c, msg, &ms[0], &oom)) goto malformed;
    } else {
        size_t i = 0;
        rd = msg;
        while (pb_tag(&rd, &f, &wt, &bad)) {
            pbr_t sub;
            if (f != 15) {
                pb_skip(&rd, wt);
                continue;
            }
            if (!pb_bytes(&rd, &sub) || !pb_read_alert(c, sub, &ms[i++], &oom)) goto malformed;
        }
    }
    c->in_alert = true;
    for (size_t i = 0; i < n; i++) {
        c->alert_idx = i;
        if ((r = pb_alert(c, &ms[i], &alerts[i]))) return r;
    }
    c->in_alert = false;
    *out = alerts;
    *n_out = n;
    return DECODE_OK;
malformed:
    /* No reason means "retry later", so an arena out of memory is reported
     * as too large. */
    if (oom) return fail(c, DECODE_TOO_LARGE, "out of memory decoding %zu bytes", len);
    return fail(c, DECODE_BAD_PROTO,
                "not a valid %s protobuf message (%zu bytes, truncated "
                "or malformed)",
                batch ? "quell.v1.AlertBatch" : "quell.v1.Alert", len);
}

/* ---- entry point ------------------------------------------------------- */

static size_t limit_or(size_t v, size_t cap) { return v == 0 || v > cap ? cap : v; }

decode_error_t ingest_decode(arena_t *arena, const ingest_limits_t *limits, ingest_format_t format,
                             const void *buf, size_t len, int64_t event_time_ms,
                             alert_t **alerts_out, size_t *n_out, char *errbuf, size_t errlen)
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

    if (format == INGEST_FORMAT_PROTO_ALERT || format == INGEST_FORMAT_PROTO_BATCH)
        return pb_decode(&c, format == INGEST_FORMAT_PROTO_BATCH, p, len, alerts_out, n_out);

    size_t first = len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0 ? 3 : 0; /* cJSON skips a BOM */
    while (first < len && json_ws(p[first])) first++;
    if (first == len) return fail(&c, DECODE_EMPTY, "message is only whitespace");
    if (format == INGEST_FORMAT_JSON) return json_decode(&c, buf, len, alerts_out, n_out);

    /* AUTO. See alert.proto: an AlertBatch always starts with tag 0x7a, an
     * Alert never does, and JSON alerts start with '{' or '['. */
    if (p[first] != '{' && p[first] != '[')
        return pb_decode(&c, p[0] == 0x7a, p, len, alerts_out, n_out);
    decode_error_t r = json_decode(&c, buf, len, alerts_out, n_out);
    if (r == DECODE_OK || !c.json_syntax_failed || p[0] != 0x0a) return r;

    /* 0x0a is both JSON whitespace and the tag of Alert.labels, so an Alert
     * whose first label is 0x7b ('{') or 0x5b ('[') bytes long looks like
     * JSON. If it unpacks as protobuf, its verdict stands; if not, the JSON
     * error is the better explanation. */
    char json_err[256] = "";
    if (errbuf && errlen) snprintf(json_err, sizeof(json_err), "%s", errbuf);
    c.in_alert = false;
    decode_error_t pr = pb_decode(&c, false, p, len, alerts_out, n_out);
    if (pr != DECODE_BAD_PROTO) return pr;
    if (errbuf && errlen) snprintf(errbuf, errlen, "%s", json_err);
    return r;
}
