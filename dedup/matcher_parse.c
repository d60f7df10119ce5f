/*
 * Alertmanager's two matcher parsers and its default "fallback" mode.
 *
 * classic (pkg/labels/parse.go): split on commas outside double quotes,
 *   then each piece against `\s*NAME\s*OP\s*VALUE\s*` with NAME
 *   [a-zA-Z_:][a-zA-Z0-9_:]*, a value optionally in double quotes with \n,
 *   \" and \\ escapes (any other backslash is literal). Lenient: unquoted
 *   values may hold almost anything, braces are stripped once at each end.
 * UTF-8 (matcher/parse): a lexer (braces, comma, operators, double-quoted
 *   strings with Go escapes, unquoted runs of non-reserved characters) and a
 *   small state machine; names may be any UTF-8 when quoted.
 * fallback (matcher/compat, the default): the classic result when the
 *   classic parser accepts the input, else the UTF-8 result, else the
 *   classic error.
 *
 * Both are written to agree case for case with Alertmanager's own tables
 * (tests/test_matcher.c loads them); error texts carry a column instead of
 * Go's exact words. Pure functions, any thread.
 *
 * One deliberate difference: input that is not valid UTF-8 is refused
 * (Go would carry U+FFFD replacements into the matcher).
 */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

/* ---- UTF-8 ------------------------------------------------------------ */

#define RUNE_EOF   (-1)
#define RUNE_ERROR 0xFFFD

/* Decodes one rune at s (len > 0); invalid sequences give U+FFFD, width 1. */
static int32_t utf8_decode(const unsigned char *s, size_t len, size_t *width)
{
    unsigned c = s[0];
    *width = 1;
    if (c < 0x80) return (int32_t)c;
    size_t n;
    uint32_t r, min;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        r = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        r = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        r = c & 0x07;
        min = 0x10000;
    } else {
        return RUNE_ERROR;
    }
    if (len < n) return RUNE_ERROR;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return RUNE_ERROR;
        r = (r << 6) | (s[i] & 0x3F);
    }
    if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return RUNE_ERROR;
    *width = n;
    return (int32_t)r;
}

bool utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t w;
        int32_t r = utf8_decode((const unsigned char *)s + i, len - i, &w);
        if (r == RUNE_ERROR && w == 1 && (unsigned char)s[i] >= 0x80) return false;
        i += w;
    }
    return true;
}

static size_t utf8_encode(uint32_t r, char *out)
{
    if (r < 0x80) {
        out[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        out[0] = (char)(0xC0 | (r >> 6));
        out[1] = (char)(0x80 | (r & 0x3F));
        return 2;
    }
    if (r < 0x10000) {
        out[0] = (char)(0xE0 | (r >> 12));
        out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        out[2] = (char)(0x80 | (r & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (r >> 18));
    out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
    out[3] = (char)(0x80 | (r & 0x3F));
    return 4;
}

/* Go's unicode.IsSpace. */
static bool rune_is_space(int32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return r >= 0x2000 && r <= 0x200A;
    }
}

/* Characters (runes) in s[0, off): columns are counted in runes. */
static size_t rune_count(const char *s, size_t off)
{
    size_t n = 0;
    for (size_t i = 0; i < off; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
    return n;
}

bool label_name_valid_classic(const char *s, size_t len)
{
    if (len == 0) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

bool label_name_valid_utf8(const char *s, size_t len) { return len > 0 && utf8_valid(s, len); }

/* ---- Go strconv.Unquote (double quotes) ------------------------------- */

static int hexdig(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

qerr_t go_unquote(const char *s, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    if (len < 2 || s[0] != '"' || s[len - 1] != '"') return QERR_INVALID;
    const char *p = s + 1, *end = s + len - 1;
    if (memchr(p, '\n', (size_t)(end - p))) return QERR_INVALID;
    char *buf = malloc(len + 1);
    if (!buf) return QERR_NOMEM;
    size_t n = 0;
    while (p < end) {
        if (*p == '"') goto bad;
        if (*p != '\\') {
            buf[n++] = *p++;
            continue;
        }
        if (p + 1 >= end) goto bad;
        char c = p[1];
        p += 2;
        switch (c) {
        case 'a': buf[n++] = '\a'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'v': buf[n++] = '\v'; break;
        case '\\': buf[n++] = '\\'; break;
        case '"': buf[n++] = '"'; break;
        case 'x':
        case 'u':
        case 'U': {
            int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            if (end - p < digits) goto bad;
            uint32_t v = 0;
            for (int i = 0; i < digits; i++) {
                int d = hexdig(p[i]);
                if (d < 0) goto bad;
                v = v * 16 + (uint32_t)d;
            }
            p += digits;
            if (c == 'x') {
                buf[n++] = (char)v; /* a byte, not a rune */
            } else {
                if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) goto bad;
                n += utf8_encode(v, buf + n);
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
            if (end - p < 2) goto bad;
            uint32_t v = (uint32_t)(c - '0');
            for (int i = 0; i < 2; i++) {
                if (p[i] < '0' || p[i] > '7') goto bad;
                v = v * 8 + (uint32_t)(p[i] - '0');
            }
            if (v > 255) goto bad;
            p += 2;
            buf[n++] = (char)v;
            break;
        }
        default: goto bad;
        }
    }
    if (!utf8_valid(buf, n)) goto bad;
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return QERR_OK;
bad:
    free(buf);
    return QERR_INVALID;
}

/* ---- matcher list ----------------------------------------------------- */

static qerr_t list_push(matcher_list_t *l, matcher_t *m)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        matcher_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) return QERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *m;
    return QERR_OK;
}

void matcher_list_free(matcher_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) matcher_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* ---- classic ---------------------------------------------------------- */

static bool classic_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}
static bool classic_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
static bool classic_name_char(char c) { return classic_name_start(c) || (c >= '0' && c <= '9'); }

/* pkg/labels.ParseMatcher on s[0, len). */
static qerr_t classic_one(const char *s, size_t len, matcher_t *out, size_t *err_off, char *errbuf,
                          size_t errlen)
{
    size_t i = 0;
    while (i < len && classic_space(s[i])) i++;
    *err_off = i;
    size_t ns = i;
    if (i >= len || !classic_name_start(s[i])) goto bad_format;
    while (i < len && classic_name_char(s[i])) i++;
    size_t ne = i;
    while (i < len && classic_space(s[i])) i++;
    match_op_t op;
    if (i + 1 < len && s[i] == '=' && s[i + 1] == '~') {
        op = MATCH_RE;
        i += 2;
    } else if (i < len && s[i] == '=') {
        op = MATCH_EQ;
        i += 1;
    } else if (i + 1 < len && s[i] == '!' && s[i + 1] == '=') {
        op = MATCH_NE;
        i += 2;
    } else if (i + 1 < len && s[i] == '!' && s[i + 1] == '~') {
        op = MATCH_NRE;
        i += 2;
    } else {
        goto bad_format;
    }
    while (i < len && classic_space(s[i])) i++;
    size_t vs = i, ve = len;
    while (ve > vs && classic_space(s[ve - 1])) ve--;
    *err_off = vs;
    const char *raw = s + vs;
    size_t raw_len = ve - vs;
    const char *rv = raw;
    size_t rv_len = raw_len;
    bool expect_quote = false;
    if (rv_len && rv[0] == '"') {
        rv++;
        rv_len--;
        expect_quote = true;
    }
    if (!utf8_valid(rv, rv_len)) {
        snprintf(errbuf, errlen, "matcher value not valid UTF-8: %.*s", (int)raw_len, raw);
        return QERR_INVALID;
    }
    char *val = malloc(rv_len + 1);
    if (!val) return QERR_NOMEM;
    size_t n = 0;
    bool escaped = false;
    for (size_t k = 0; k < rv_len; k++) {
        char c = rv[k];
        if (escaped) {
            escaped = false;
            if (c == 'n') {
                val[n++] = '\n';
            } else if (c == '"' || c == '\\') {
                val[n++] = c;
            } else { /* a spurious escape: the backslash is literal */
                val[n++] = '\\';
                val[n++] = c;
            }
            continue;
        }
        if (c == '\\') {
            if (k < rv_len - 1) {
                escaped = true;
                continue;
            }
            val[n++] = '\\'; /* last byte: literal */
        } else if (c == '"') {
            if (!expect_quote || k < rv_len - 1) {
                free(val);
                snprintf(errbuf, errlen, "matcher value contains unescaped double quote: %.*s",
                         (int)raw_len, raw);
                return QERR_INVALID;
            }
            expect_quote = false;
        } else {
            val[n++] = c;
        }
    }
    if (expect_quote) {
        free(val);
        snprintf(errbuf, errlen, "matcher value contains unescaped double quote: %.*s",
                 (int)raw_len, raw);
        return QERR_INVALID;
    }
    qerr_t rc = matcher_make(out, s + ns, ne - ns, op, val, n, errbuf, errlen);
    free(val);
    return rc;
bad_format:
    snprintf(errbuf, errlen, "bad matcher format: %.*s", (int)len, s);
    return QERR_INVALID;
}

/* strings.TrimSpace: Unicode white space at both ends. */
static void trim_unicode_space(const char *s, size_t *start, size_t *end)
{
    while (*start < *end) {
        size_t w;
        int32_t r = utf8_decode((const unsigned char *)s + *start, *end - *start, &w);
        if (!rune_is_space(r)) break;
        *start += w;
    }
    while (*end > *start) {
        size_t b = *end - 1;
        while (b > *start && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
        size_t w;
        int32_t r = utf8_decode((const unsigned char *)s + b, *end - b, &w);
        if (!rune_is_space(r) || b + w != *end) break;
        *end = b;
    }
}

qerr_t matchers_parse_classic(const char *text, size_t len, matcher_list_t *out, size_t *err_col,
                              char *errbuf, size_t errlen)
{
    size_t s = 0, e = len;
    if (e > s && text[s] == '{') s++;
    if (e > s && text[e - 1] == '}') e--;
    bool in_quotes = false, escaped = false;
    size_t tok = s;
    qerr_t rc = QERR_OK;
    for (size_t i = s; i <= e; i++) {
        bool last = i == e;
        if (!last) {
            char c = text[i];
            if (c == ',' && !in_quotes) {
                /* A token ends; the character itself is not part of it. */
            } else {
                if (c == '"') {
                    if (!escaped)
                        in_quotes = !in_quotes;
                    else
                        escaped = false;
                } else if (c == '\\') {
                    escaped = !escaped;
                } else if (c != ',') {
                    escaped = false;
                }
                continue;
            }
        }
        size_t ts = tok, te = i;
        if (last) {
            trim_unicode_space(text, &ts, &te);
            if (ts == te) break;
        }
        matcher_t m;
        size_t off = 0;
        rc = classic_one(text + ts, te - ts, &m, &off, errbuf, errlen);
        if (rc != QERR_OK) {
            *err_col = rune_count(text, ts + off) + 1;
            goto fail;
        }
        if ((rc = list_push(out, &m)) != QERR_OK) {
            matcher_free(&m);
            snprintf(errbuf, errlen, "out of memory");
            *err_col = 1;
            goto fail;
        }
        tok = i + 1;
    }
    return QERR_OK;
fail:
    matcher_list_free(out);
    return rc;
}

/* ---- UTF-8 lexer ------------------------------------------------------ */

static bool rune_is_reserved(int32_t r)
{
    return rune_is_space(r) || (r < 0x80 && r >= 0 && strchr("{}!=~,\\\"'`", (int)r) && r != 0);
}

void lexer_init(lexer_t *l, const char *in, size_t len)
{
    memset(l, 0, sizeof *l);
    l->in = in;
    l->len = len;
}

static int32_t lx_next(lexer_t *l)
{
    if (l->pos >= l->len) {
        l->width = 0;
        return RUNE_EOF;
    }
    size_t w;
    int32_t r = utf8_decode((const unsigned char *)l->in + l->pos, l->len - l->pos, &w);
    l->width = w;
    l->pos += w;
    l->cols++;
    return r;
}
static void lx_rewind(lexer_t *l)
{
    l->pos -= l->width;
    if (l->width > 0) l->cols--;
}
static void lx_skip(lexer_t *l)
{
    l->start = l->pos;
    l->column = l->cols;
}
static bool lx_accept(lexer_t *l, const char *valid)
{
    int32_t r = lx_next(l);
    if (r != RUNE_EOF && r < 0x80 && strchr(valid, (int)r)) return true;
    lx_rewind(l);
    return false;
}
static void lx_emit(lexer_t *l, tok_t *t, tok_kind_t kind)
{
    t->kind = kind;
    t->off_start = l->start;
    t->off_end = l->pos;
    t->col_start = l->column;
    t->col_end = l->cols;
    l->start = l->pos;
    l->column = l->cols;
}
static bool lx_fail(lexer_t *l, const char *what)
{
    l->failed = true;
    l->err_col = l->column;
    l->err_col_end = l->cols;
    if (l->pos >= l->len && strncmp(what, "expected", 8) == 0)
        snprintf(l->err, sizeof l->err, "unexpected end of input, %s", what);
    else
        snprintf(l->err, sizeof l->err, "%.*s: %s", (int)(l->pos - l->start), l->in + l->start,
                 what);
    return false;
}

bool lexer_scan(lexer_t *l, tok_t *t)
{
    memset(t, 0, sizeof *t);
    if (l->failed) return false;
    for (int32_t r = lx_next(l); r != RUNE_EOF; r = lx_next(l)) {
        if (r == '{') {
            lx_emit(l, t, TOK_OPEN_BRACE);
            return true;
        }
        if (r == '}') {
            lx_emit(l, t, TOK_CLOSE_BRACE);
            return true;
        }
        if (r == ',') {
            lx_emit(l, t, TOK_COMMA);
            return true;
        }
        if (r == '=' || r == '!') {
            lx_rewind(l);
            if (lx_accept(l, "!")) {
                if (lx_accept(l, "=")) {
                    lx_emit(l, t, TOK_NOT_EQUALS);
                    return true;
                }
                if (lx_accept(l, "~")) {
                    lx_emit(l, t, TOK_NOT_MATCHES);
                    return true;
                }
                return lx_fail(l, "expected one of '=~'");
            }
            lx_accept(l, "=");
            if (lx_accept(l, "~"))
                lx_emit(l, t, TOK_MATCHES);
            else
                lx_emit(l, t, TOK_EQUALS);
            return true;
        }
        if (r == '"') {
            bool escaped = false;
            for (int32_t q = lx_next(l); q != RUNE_EOF; q = lx_next(l)) {
                if (escaped) {
                    escaped = false;
                } else if (q == '\\') {
                    escaped = true;
                } else if (q == '"') {
                    lx_rewind(l);
                    break;
                }
            }
            if (!lx_accept(l, "\"")) return lx_fail(l, "missing end \"");
            lx_emit(l, t, TOK_QUOTED);
            return true;
        }
        if (!rune_is_reserved(r)) {
            for (int32_t q = lx_next(l); q != RUNE_EOF; q = lx_next(l)) {
                if (rune_is_reserved(q)) {
                    lx_rewind(l);
                    break;
                }
            }
            lx_emit(l, t, TOK_UNQUOTED);
            return true;
        }
        if (rune_is_space(r)) {
            lx_skip(l);
            continue;
        }
        return lx_fail(l, "invalid input");
    }
    t->kind = TOK_EOF;
    t->off_start = t->off_end = l->len;
    t->col_start = t->col_end = l->cols;
    return true;
}

const char *tok_kind_name(tok_kind_t k)
{
    static const char *const names[] = {"EOF",    "OpenBrace", "CloseBrace", "Comma",
                                        "Equals", "NotEquals", "Matches",    "NotMatches",
                                        "Quoted", "Unquoted"};
    return k <= TOK_UNQUOTED ? names[k] : "?";
}

/* ---- UTF-8 parser ----------------------------------------------------- */

typedef struct {
    lexer_t lx;
    bool has_open_brace;
    size_t err_col; /* 0-based */
    char *errbuf;
    size_t errlen;
} parser_t;

static bool ps_peek(parser_t *p, tok_t *t)
{
    lexer_t save = p->lx;
    bool ok = lexer_scan(&p->lx, t);
    bool failed = p->lx.failed;
    char err[sizeof save.err];
    size_t ecol = p->lx.err_col;
    memcpy(err, p->lx.err, sizeof err);
    p->lx = save;
    /* An error stays: the next scan returns it. */
    p->lx.failed = failed;
    p->lx.err_col = ecol;
    memcpy(p->lx.err, err, sizeof err);
    return ok;
}

static qerr_t ps_lex_error(parser_t *p, const char *what)
{
    p->err_col = p->lx.err_col;
    snprintf(p->errbuf, p->errlen, "%s: %s", p->lx.err, what);
    return QERR_INVALID;
}

static qerr_t ps_unexpected(parser_t *p, const tok_t *t, const char *what)
{
    if (t->kind == TOK_EOF) {
        p->err_col = t->col_start;
        snprintf(p->errbuf, p->errlen, "end of input: %s", what);
    } else {
        p->err_col = t->col_start;
        snprintf(p->errbuf, p->errlen, "unexpected %.*s: %s", (int)(t->off_end - t->off_start),
                 p->lx.in + t->off_start, what);
    }
    return QERR_INVALID;
}

/* scan + kind check ("expect" upstream). */
static qerr_t ps_expect(parser_t *p, tok_t *t, unsigned kinds, const char *what)
{
    if (!lexer_scan(&p->lx, t)) return ps_lex_error(p, what);
    if (t->kind == TOK_EOF || !(kinds & (1u << t->kind))) return ps_unexpected(p, t, what);
    return QERR_OK;
}

#define K(k) (1u << (k))

static qerr_t ps_token_text(parser_t *p, const tok_t *t, char **out, size_t *out_len)
{
    const char *s = p->lx.in + t->off_start;
    size_t n = t->off_end - t->off_start;
    if (t->kind == TOK_QUOTED) {
        qerr_t rc = go_unquote(s, n, out, out_len);
        if (rc == QERR_NOMEM) return rc;
        if (rc != QERR_OK) {
            p->err_col = t->col_start;
            snprintf(p->errbuf, p->errlen, "%.*s: invalid input", (int)n, s);
            return QERR_INVALID;
        }
        return QERR_OK;
    }
    *out = strndup(s, n);
    *out_len = n;
    return *out ? QERR_OK : QERR_NOMEM;
}

static qerr_t ps_close_brace(parser_t *p)
{
    tok_t t;
    if (p->has_open_brace) {
        if (!lexer_scan(&p->lx, &t)) return ps_lex_error(p, "expected close brace");
        if (t.kind != TOK_CLOSE_BRACE) {
            p->err_col = t.kind == TOK_EOF ? t.col_start : t.col_start;
            snprintf(p->errbuf, p->errlen, "%s: expected close brace",
                     t.kind == TOK_EOF ? "end of input" : "unexpected token");
            return QERR_INVALID;
        }
    } else {
        if (lexer_scan(&p->lx, &t) && t.kind == TOK_CLOSE_BRACE) {
            p->err_col = t.col_start;
            snprintf(p->errbuf, p->errlen, "}: expected opening brace");
            return QERR_INVALID;
        }
        if (p->lx.failed) return ps_lex_error(p, "expected end of input");
        if (t.kind == TOK_EOF) return QERR_OK;
    }
    /* parseEOF */
    if (!lexer_scan(&p->lx, &t)) return ps_lex_error(p, "expected end of input");
    if (t.kind != TOK_EOF) {
        p->err_col = t.col_start;
        snprintf(p->errbuf, p->errlen, "%.*s: expected end of input",
                 (int)(t.off_end - t.off_start), p->lx.in + t.off_start);
        return QERR_INVALID;
    }
    return QERR_OK;
}

qerr_t matchers_parse_utf8(const char *text, size_t len, matcher_list_t *out, size_t *err_col,
                           char *errbuf, size_t errlen)
{
    parser_t p = {.errbuf = errbuf, .errlen = errlen};
    lexer_init(&p.lx, text, len);
    qerr_t rc = QERR_OK;
    tok_t t;
    char *name = NULL, *value = NULL;
    if (!utf8_valid(text, len)) {
        p.err_col = 0;
        snprintf(errbuf, errlen, "invalid UTF-8");
        rc = QERR_INVALID;
        goto fail;
    }
    /* parseOpenBrace */
    if (!ps_peek(&p, &t)) {
        rc = ps_lex_error(&p, "expected label name");
        goto fail;
    }
    if (t.kind == TOK_EOF) goto eof;
    if (t.kind == TOK_OPEN_BRACE) {
        lexer_scan(&p.lx, &t);
        p.has_open_brace = true;
    }
    if (!ps_peek(&p, &t)) {
        rc = ps_lex_error(&p, "expected label name");
        goto fail;
    }
    if (t.kind == TOK_EOF || t.kind == TOK_CLOSE_BRACE) goto close;
    for (;;) {
        /* parseMatcher */
        size_t name_len = 0, value_len = 0;
        if ((rc = ps_expect(&p, &t, K(TOK_QUOTED) | K(TOK_UNQUOTED), "expected label name")))
            goto fail;
        if ((rc = ps_token_text(&p, &t, &name, &name_len))) goto fail;
        if ((rc = ps_expect(&p, &t,
                            K(TOK_EQUALS) | K(TOK_NOT_EQUALS) | K(TOK_MATCHES) | K(TOK_NOT_MATCHES),
                            "expected an operator such as '=', '!=', '=~' or '!~'")))
            goto fail;
        match_op_t op = t.kind == TOK_EQUALS       ? MATCH_EQ
                        : t.kind == TOK_NOT_EQUALS ? MATCH_NE
                        : t.kind == TOK_MATCHES    ? MATCH_RE
                                                   : MATCH_NRE;
        if ((rc = ps_expect(&p, &t, K(TOK_QUOTED) | K(TOK_UNQUOTED), "expected label value")))
            goto fail;
        if ((rc = ps_token_text(&p, &t, &value, &value_len))) goto fail;
        matcher_t m;
        char why[256];
        if ((rc = matcher_make(&m, name, name_len, op, value, value_len, why, sizeof why))) {
            p.err_col = t.col_start;
            snprintf(errbuf, errlen, "failed to create matcher: %s", why);
            goto fail;
        }
        free(name);
        free(value);
        name = value = NULL;
        if ((rc = list_push(out, &m))) {
            matcher_free(&m);
            goto fail;
        }
        /* parseEndOfMatcher */
        if (!ps_peek(&p, &t)) {
            rc = ps_lex_error(&p, "expected a comma or close brace");
            goto fail;
        }
        if (t.kind == TOK_EOF || t.kind == TOK_CLOSE_BRACE) goto close;
        if (t.kind != TOK_COMMA) {
            rc = ps_unexpected(&p, &t, "expected a comma or close brace");
            goto fail;
        }
        /* parseComma */
        lexer_scan(&p.lx, &t);
        if (!ps_peek(&p, &t)) {
            rc = ps_lex_error(&p, "expected a matcher or close brace after comma");
            goto fail;
        }
        if (t.kind == TOK_EOF || t.kind == TOK_CLOSE_BRACE) goto close;
        if (t.kind != TOK_QUOTED && t.kind != TOK_UNQUOTED) {
            rc = ps_unexpected(&p, &t, "expected a matcher or close brace after comma");
            goto fail;
        }
    }
close:
    if ((rc = ps_close_brace(&p))) goto fail;
    return QERR_OK;
eof:
    if (!lexer_scan(&p.lx, &t) || t.kind != TOK_EOF) {
        rc = ps_lex_error(&p, "expected end of input");
        goto fail;
    }
    return QERR_OK;
fail:
    if (rc == QERR_NOMEM) snprintf(errbuf, errlen, "out of memory");
    free(name);
    free(value);
    matcher_list_free(out);
    *err_col = p.err_col + 1;
    return rc;
}

/* ---- fallback --------------------------------------------------------- */

qerr_t matchers_parse_fallback(const char *text, size_t len, matcher_list_t *out, size_t *err_col,
                               char *errbuf, size_t errlen)
{
    if (!utf8_valid(text, len)) {
        *err_col = 1;
        snprintf(errbuf, errlen, "matchers not valid UTF-8");
        return QERR_INVALID;
    }
    qerr_t rc = matchers_parse_classic(text, len, out, err_col, errbuf, errlen);
    if (rc != QERR_INVALID) return rc;
    char ubuf[256];
    size_t ucol = 0;
    if (matchers_parse_utf8(text, len, out, &ucol, ubuf, sizeof ubuf) == QERR_OK) {
        errbuf[0] = '\0';
        return QERR_OK;
    }
    /* Both refuse it: the classic error, as Alertmanager reports. */
    return QERR_INVALID;
}

/* matcher/compat FallbackMatcherParser: exactly one matcher, no braces. */
qerr_t matchers_parse_fallback_single(const char *text, size_t len, matcher_list_t *out,
                                      size_t *err_col, char *errbuf, size_t errlen)
{
    if (len && (text[0] == '{' || text[len - 1] == '}')) {
        *err_col = text[0] == '{' ? 1 : rune_count(text, len);
        snprintf(errbuf, errlen, "unexpected open or close brace: %.*s", (int)len, text);
        return QERR_INVALID;
    }
    if (!utf8_valid(text, len)) {
        *err_col = 1;
        snprintf(errbuf, errlen, "matcher not valid UTF-8");
        return QERR_INVALID;
    }
    matcher_t m;
    size_t off = 0;
    qerr_t rc = classic_one(text, len, &m, &off, errbuf, errlen);
    if (rc == QERR_OK) {
        if ((rc = list_push(out, &m)) != QERR_OK) matcher_free(&m);
        return rc;
    }
    if (rc != QERR_INVALID) return rc;
    *err_col = rune_count(text, off) + 1;
    char ubuf[256];
    size_t ucol;
    if (matchers_parse_utf8(text, len, out, &ucol, ubuf, sizeof ubuf) == QERR_OK) {
        if (out->n == 1) {
            errbuf[0] = '\0';
            return QERR_OK;
        }
        matcher_list_free(out);
    }
    return QERR_INVALID;
}
