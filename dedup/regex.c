/*
 * Go (RE2) regular expressions on PCRE2.
 *
 * Alertmanager compiles matcher regexes with Go's regexp package: RE2
 * syntax, linear time, no backtracking constructs. PCRE2 accepts a superset
 * with some different meanings, so a pattern is first walked once in Go's
 * grammar: what Go refuses is refused here with Go's reason, and the few
 * constructs whose meaning differs are rewritten:
 *   - `$` is end of text in Go (PCRE2: also before a final newline)
 *     -> PCRE2_DOLLAR_ENDONLY;
 *   - \s is [\t\n\f\r ] in Go (PCRE2 adds \v); \v is U+000B in Go (PCRE2:
 *     any vertical space);
 *   - octal escapes \0, \12, \123 -> \o{...} (PCRE2 may read \12 as a
 *     backreference);
 *   - a `{` that is not a valid Go repeat is a literal -> \{;
 *   - `(*VERB)`, `(?>...)`, `(?=`, `(?#`, `(?R)`, `a*+`, `a**`, \K, \G,
 *     \Z, \R, \X, \h, \e, \g, \k, \N ... are refused as Go refuses them.
 * Matching runs on the JIT with a match limit: PCRE2 backtracks, so a
 * pathological pattern that RE2 would run in linear time is cut off and
 * counted instead of stalling a worker.
 *
 * Threads: compile once at rule-set build; go_regex_match() may be called
 * from any thread (match data is per thread).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define RE_MATCH_LIMIT 200000 /* backtracking steps per match */
#define RE_DEPTH_LIMIT 5000
#define RE_MAX_REPEAT  1000 /* Go's limit on {n,m} counts */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t len)
{
    if (b->oom) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + len + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}
static void sb_str(sbuf_t *b, const char *s) { sb_put(b, s, strlen(s)); }

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static unsigned hexval(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}
static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Parses a Go repeat {n}, {n,}, {n,m} at re[i] == '{'. Returns the length
 * consumed, 0 when it is not a repeat (then `{` is a literal), -1 when it
 * is one with a bad count (Go: "invalid repeat count"). */
static long parse_repeat(const char *re, size_t len, size_t i)
{
    size_t j = i + 1;
    long n = 0, m = -1;
    size_t d = j;
    while (j < len && re[j] >= '0' && re[j] <= '9') {
        if (n <= RE_MAX_REPEAT) n = n * 10 + (re[j] - '0');
        j++;
    }
    if (j == d) return 0;
    if (j < len && re[j] == ',') {
        j++;
        size_t d2 = j;
        if (j < len && re[j] >= '0' && re[j] <= '9') {
            m = 0;
            while (j < len && re[j] >= '0' && re[j] <= '9') {
                if (m <= RE_MAX_REPEAT) m = m * 10 + (re[j] - '0');
                j++;
            }
        }
        (void)d2;
    } else {
        m = n;
    }
    if (j >= len || re[j] != '}') return 0;
    if (n > RE_MAX_REPEAT || m > RE_MAX_REPEAT || (m >= 0 && m < n)) return -1;
    return (long)(j - i + 1);
}

static const char *const posix_classes[] = {"alnum", "alpha", "ascii", "blank", "cntrl",
                                            "digit", "graph", "lower", "print", "punct",
                                            "space", "upper", "word",  "xdigit"};

/* An escape at re[i] == '\\'. Appends its PCRE2 form; returns the bytes
 * consumed or 0 with errbuf set. */
static size_t translate_escape(const char *re, size_t len, size_t i, bool in_class, sbuf_t *b,
                               char *errbuf, size_t errlen)
{
    if (i + 1 >= len) {
        snprintf(errbuf, errlen, "trailing backslash at end of expression");
        return 0;
    }
    char c = re[i + 1];
    switch (c) {
    case 'A':
    case 'z':
    case 'b':
    case 'B':
        if (in_class) break;
        sb_put(b, re + i, 2);
        return 2;
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 'a':
    case 'f':
    case 't':
    case 'n':
    case 'r': sb_put(b, re + i, 2); return 2;
    case 's': sb_str(b, in_class ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]"); return 2;
    case 'S':
        /* Go's \S includes \v (its \s does not); PCRE2's does not. */
        sb_str(b, in_class ? "\\S\\x0B" : "[\\S\\x0B]");
        return 2;
    case 'v': sb_str(b, "\\x0B"); return 2;
    case 'p':
    case 'P': {
        size_t j = i + 2;
        if (j >= len) break;
        if (re[j] == '{') {
            size_t k = j + 1;
            while (k < len && re[k] != '}') k++;
            if (k >= len || k == j + 1) break;
            sb_put(b, re + i, k - i + 1);
            return k - i + 1;
        }
        if ((unsigned char)re[j] >= 0x80) break;
        sb_put(b, re + i, 3);
        return 3;
    }
    case 'x': {
        size_t j = i + 2;
        if (j < len && re[j] == '{') {
            size_t k = j + 1;
            unsigned long v = 0;
            while (k < len && is_hex(re[k])) {
                if (v <= 0x10FFFF) v = v * 16 + hexval(re[k]);
                k++;
            }
            if (k == j + 1 || k >= len || re[k] != '}' || v > 0x10FFFF) break;
            sb_put(b, re + i, k - i + 1);
            return k - i + 1;
        }
        if (j + 1 < len && is_hex(re[j]) && is_hex(re[j + 1])) {
            sb_put(b, re + i, 4);
            return 4;
        }
        break;
    }
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': {
        /* Go: a single non-zero digit is a backreference (refused); \0 and
         * two or three octal digits are an octal code. */
        size_t j = i + 1, k = j;
        if (c != '0' && !(j + 1 < len && re[j + 1] >= '0' && re[j + 1] <= '7')) {
            snprintf(errbuf, errlen,
                     "invalid escape sequence: `\\%c` (backreferences are not "
                     "supported)",
                     c);
            return 0;
        }
        while (k < len && k < j + 3 && re[k] >= '0' && re[k] <= '7') k++;
        sb_str(b, "\\o{");
        sb_put(b, re + j, k - j);
        sb_str(b, "}");
        return k - i;
    }
    case '8':
    case '9':
        snprintf(errbuf, errlen,
                 "invalid escape sequence: `\\%c` (backreferences are not "
                 "supported)",
                 c);
        return 0;
    case 'C': snprintf(errbuf, errlen, "invalid escape sequence: `\\C` (not supported)"); return 0;
    default:
        if ((unsigned char)c < 0x80 && !is_alnum(c)) {
            sb_put(b, re + i, 2);
            return 2;
        }
        break;
    }
    size_t show = 2;
    while (i + show < len && ((unsigned char)re[i + show] & 0xC0) == 0x80) show++;
    snprintf(errbuf, errlen, "invalid escape sequence: `%.*s`", (int)show, re + i);
    return 0;
}

/* A character class at re[i] == '['. Returns the bytes consumed or 0. */
static size_t translate_class(const char *re, size_t len, size_t i, sbuf_t *b, char *errbuf,
                              size_t errlen)
{
    size_t j = i + 1;
    sb_str(b, "[");
    if (j < len && re[j] == '^') {
        sb_str(b, "^");
        j++;
    }
    bool first = true;
    while (j < len && (re[j] != ']' || first)) {
        if (re[j] == ']') { /* first: a literal */
            sb_str(b, "\\]");
            j++;
        } else if (re[j] == '[' && j + 1 < len && re[j + 1] == ':') {
            size_t k = j + 2;
            bool neg = k < len && re[k] == '^';
            if (neg) k++;
            size_t ns = k;
            while (k < len && re[k] >= 'a' && re[k] <= 'z') k++;
            if (k + 1 < len && re[k] == ':' && re[k + 1] == ']') {
                bool known = false;
                for (size_t p = 0; p < sizeof posix_classes / sizeof *posix_classes; p++)
                    if (strlen(posix_classes[p]) == k - ns &&
                        memcmp(posix_classes[p], re + ns, k - ns) == 0)
                        known = true;
                if (!known) {
                    snprintf(errbuf, errlen, "invalid character class range: `%.*s`",
                             (int)(k + 2 - j), re + j);
                    return 0;
                }
                sb_put(b, re + j, k + 2 - j);
                j = k + 2;
            } else {
                sb_str(b, "\\[");
                j++;
            }
        } else if (re[j] == '[') {
            sb_str(b, "\\[");
            j++;
        } else if (re[j] == '\\') {
            size_t used = translate_escape(re, len, j, true, b, errbuf, errlen);
            if (!used) return 0;
            j += used;
        } else {
            sb_put(b, re + j, 1);
            j++;
        }
        first = false;
    }
    if (j >= len) {
        snprintf(errbuf, errlen, "missing closing ]: `%.*s`", (int)(len - i), re + i);
        return 0;
    }
    sb_str(b, "]");
    return j + 1 - i;
}

/* `(?` at re[i]. Go accepts (?:, (?P<name>, (?<name> and flag groups
 * (?flags) / (?flags:; everything else PCRE2 would take is refused. */
static size_t translate_group(const char *re, size_t len, size_t i, sbuf_t *b, char *errbuf,
                              size_t errlen)
{
    size_t j = i + 2;
    if (j < len && re[j] == ':') {
        sb_str(b, "(?:");
        return 3;
    }
    if (j < len && (re[j] == 'P' || re[j] == '<')) {
        size_t k = re[j] == 'P' ? j + 1 : j;
        if (k < len && re[k] == '<') {
            size_t ns = k + 1, e = ns;
            while (e < len && (is_alnum(re[e]) || re[e] == '_')) e++;
            if (e > ns && e < len && re[e] == '>') {
                sb_str(b, "(?<");
                sb_put(b, re + ns, e - ns);
                sb_str(b, ">");
                return e + 1 - i;
            }
            if (ns < len && (re[ns] == '=' || re[ns] == '!')) {
                snprintf(errbuf, errlen,
                         "invalid or unsupported Perl syntax: `(?<%c` "
                         "(lookbehind is not supported)",
                         re[ns]);
                return 0;
            }
            snprintf(errbuf, errlen, "invalid named capture: `%.*s`",
                     (int)(e + 1 - i > 32 ? 32 : e + 1 - i), re + i);
            return 0;
        }
    }
    /* Flags. */
    size_t k = j;
    bool neg = false, saw = false;
    while (k < len) {
        char c = re[k];
        if (c == 'i' || c == 'm' || c == 's' || c == 'U') {
            saw = true;
            k++;
        } else if (c == '-' && !neg) {
            neg = true;
            saw = false;
            k++;
        } else {
            break;
        }
    }
    if (k < len && (re[k] == ')' || re[k] == ':') && (!neg || saw)) {
        sb_put(b, re + i, k + 1 - i);
        return k + 1 - i;
    }
    const char *why = "";
    if (j < len) {
        switch (re[j]) {
        case '=':
        case '!': why = " (lookahead is not supported)"; break;
        case '>': why = " (atomic groups are not supported)"; break;
        case '#': why = " (comments are not supported)"; break;
        default: break;
        }
    }
    snprintf(errbuf, errlen, "invalid or unsupported Perl syntax: `%.*s`%s",
             (int)(j + 1 <= len ? j + 1 - i : len - i), re + i, why);
    return 0;
}

char *go_regex_to_pcre2(const char *re, size_t len, size_t *out_len, char *errbuf, size_t errlen)
{
    sbuf_t b = {0};
    size_t i = 0;
    /* Whether the previous item can take a repetition operator, and whether
     * it already is one (Go refuses `a**`, `a*+`, `a{2}{3}`). */
    bool operand = false, repeated = false;
    errbuf[0] = '\0';
    while (i < len) {
        char c = re[i];
        if (c == '\\' && i + 1 < len && re[i + 1] == 'Q') {
            size_t j = i + 2;
            while (j < len && !(re[j] == '\\' && j + 1 < len && re[j + 1] == 'E')) j++;
            sb_put(&b, re + i, j - i);
            sb_str(&b, "\\E");
            bool had = j > i + 2;
            i = j < len ? j + 2 : len;
            if (had) {
                operand = true;
                repeated = false;
            }
            continue;
        }
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            long used = 1;
            if (c == '{') {
                used = parse_repeat(re, len, i);
                if (used < 0) {
                    snprintf(errbuf, errlen, "invalid repeat count");
                    goto fail;
                }
                if (used == 0) { /* a literal brace */
                    sb_str(&b, "\\{");
                    i++;
                    operand = true;
                    repeated = false;
                    continue;
                }
            }
            if (repeated) {
                snprintf(errbuf, errlen, "invalid nested repetition operator: `%.*s`", (int)used,
                         re + i);
                goto fail;
            }
            if (!operand) {
                snprintf(errbuf, errlen, "missing argument to repetition operator: `%.*s`",
                         (int)used, re + i);
                goto fail;
            }
            sb_put(&b, re + i, (size_t)used);
            i += (size_t)used;
            if (i < len && re[i] == '?') { /* non-greedy */
                sb_str(&b, "?");
                i++;
            }
            repeated = true;
            continue;
        }
        repeated = false;
        size_t used = 1;
        switch (c) {
        case '\\':
            used = translate_escape(re, len, i, false, &b, errbuf, errlen);
            if (!used) goto fail;
            operand = true;
            break;
        case '[':
            used = translate_class(re, len, i, &b, errbuf, errlen);
            if (!used) goto fail;
            operand = true;
            break;
        case '(':
            if (i + 1 < len && re[i + 1] == '?') {
                used = translate_group(re, len, i, &b, errbuf, errlen);
                if (!used) goto fail;
                /* (?i) alone sets flags: nothing to repeat after it. */
                operand = false;
            } else if (i + 1 < len && re[i + 1] == '*') {
                snprintf(errbuf, errlen, "missing argument to repetition operator: `*`");
                goto fail;
            } else {
                sb_str(&b, "(");
                operand = false;
            }
            break;
        case '|':
            sb_str(&b, "|");
            operand = false;
            break;
        case ')':
            sb_str(&b, ")");
            operand = true;
            break;
        default:
            /* ^ $ . and literals (whole UTF-8 sequences). */
            while (i + used < len && ((unsigned char)re[i + used] & 0xC0) == 0x80) used++;
            sb_put(&b, re + i, used);
            operand = true;
            break;
        }
        i += used;
    }
    if (b.oom) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    if (!b.p) sb_str(&b, "");
    *out_len = b.n;
    return b.p;
fail:
    free(b.p);
    return NULL;
}

static pcre2_compile_context *ccontext;
static pthread_once_t ccontext_once = PTHREAD_ONCE_INIT;
static void ccontext_init(void)
{
    ccontext = pcre2_compile_context_create(NULL);
    /* Go's `.` excludes only \n, and (?m) lines end at \n only. */
    if (ccontext) pcre2_set_newline(ccontext, PCRE2_NEWLINE_LF);
}
static pcre2_compile_context *compile_ctx(void)
{
    pthread_once(&ccontext_once, ccontext_init);
    return ccontext;
}

pcre2_code *go_regex_compile_anchored(const char *re, size_t len, char *errbuf, size_t errlen)
{
    if (!utf8_valid(re, len)) {
        snprintf(errbuf, errlen, "error parsing regexp: invalid UTF-8");
        return NULL;
    }
    /* Like Alertmanager: the text is wrapped, then parsed as one pattern. */
    size_t wl = len + 6;
    char *wrapped = malloc(wl + 1);
    if (!wrapped) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    memcpy(wrapped, "^(?:", 4);
    memcpy(wrapped + 4, re, len);
    memcpy(wrapped + 4 + len, ")$", 3);
    char why[200];
    size_t plen = 0;
    char *pat = go_regex_to_pcre2(wrapped, wl, &plen, why, sizeof why);
    free(wrapped);
    if (!pat) {
        snprintf(errbuf, errlen, "error parsing regexp: %s", why);
        return NULL;
    }
    int code = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, plen,
                                  PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF |
                                      PCRE2_NEVER_BACKSLASH_C,
                                  &code, &off, compile_ctx());
    if (!c) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        /* Go's words for the commonest mistakes (regexp/syntax's ErrMissingParen,
         * ErrUnexpectedParen); PCRE2's for the rest. */
        const char *go = code == PCRE2_ERROR_MISSING_CLOSING_PARENTHESIS     ? "missing closing )"
                         : code == PCRE2_ERROR_UNMATCHED_CLOSING_PARENTHESIS ? "unexpected )"
                                                                             : (const char *)msg;
        snprintf(errbuf, errlen, "error parsing regexp: %s: `%.*s`", go, (int)len, re);
        free(pat);
        return NULL;
    }
    free(pat);
    /* The JIT is an optimisation: the interpreter still matches without it. */
    (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return c;
}

/* Per-thread match data and the shared limits. */
static pthread_key_t md_key;
static pcre2_match_context *match_ctx;
static pthread_once_t match_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t limit_hits;

static void md_free(void *p) { pcre2_match_data_free(p); }
static void match_init(void)
{
    pthread_key_create(&md_key, md_free);
    match_ctx = pcre2_match_context_create(NULL);
    if (match_ctx) {
        pcre2_set_match_limit(match_ctx, RE_MATCH_LIMIT);
        pcre2_set_depth_limit(match_ctx, RE_DEPTH_LIMIT);
    }
}

int go_regex_match(const pcre2_code *code, const char *s, size_t len)
{
    pthread_once(&match_once, match_init);
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (!md) {
        md = pcre2_match_data_create(1, NULL);
        if (!md) return -1;
        pthread_setspecific(md_key, md);
    }
    int rc = pcre2_match(code, (PCRE2_SPTR)(s ? s : ""), len, 0, 0, md, match_ctx);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    atomic_fetch_add_explicit(&limit_hits, 1, memory_order_relaxed);
    return -1;
}

uint64_t matcher_regex_limit_hits(void)
{
    return atomic_load_explicit(&limit_hits, memory_order_relaxed);
}
