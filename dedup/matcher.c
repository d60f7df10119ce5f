/*
 * Matcher sets: an AND of label matchers, built once (parse, compile the
 * regexes) and then only read, by any number of threads.
 *
 * Semantics are Alertmanager's: a label the alert does not carry matches as
 * the empty string, so `team=""` matches an alert without `team` and
 * `team!=""` requires it. Regexes are anchored; a regex that hits the
 * match limit counts as not matching (whatever the operator), so an
 * undecidable match never suppresses an alert.
 */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

struct matcher_set {
    matcher_t *v;
    size_t n, cap;
};

/* The leading literal run of a Go regex that every match must start with:
 * none when the pattern alternates anywhere (a top-level `|` would make it
 * optional); a character followed by `*`, `?` or `{` is optional and ends
 * the run before it. */
static size_t literal_prefix(const char *re, size_t len)
{
    if (memchr(re, '|', len)) return 0;
    size_t n = 0;
    while (n < len && !strchr("\\.+*?()|[]{}^$", re[n]) && re[n] != '\0') n++;
    if (n < len && n > 0 && (re[n] == '*' || re[n] == '?' || re[n] == '{')) n--;
    /* never cut a UTF-8 sequence */
    while (n > 0 && n < len && ((unsigned char)re[n] & 0xC0) == 0x80) n--;
    return n;
}

qerr_t matcher_make(matcher_t *out, const char *name, size_t name_len, match_op_t op,
                    const char *value, size_t value_len, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->op = op;
    out->name = malloc(name_len + 1);
    out->value = malloc(value_len + 1);
    if (!out->name || !out->value) {
        matcher_free(out);
        snprintf(errbuf, errlen, "out of memory");
        return QERR_NOMEM;
    }
    memcpy(out->name, name, name_len);
    out->name[name_len] = '\0';
    out->name_len = name_len;
    memcpy(out->value, value, value_len);
    out->value[value_len] = '\0';
    out->value_len = value_len;
    if (op == MATCH_RE || op == MATCH_NRE) {
        out->re = go_regex_compile_anchored(value, value_len, errbuf, errlen);
        if (!out->re) {
            matcher_free(out);
            return QERR_INVALID;
        }
        out->prefix_len = literal_prefix(value, value_len);
    }
    return QERR_OK;
}

void matcher_free(matcher_t *m)
{
    free(m->name);
    free(m->value);
    pcre2_code_free(m->re);
    memset(m, 0, sizeof *m);
}

bool matcher_matches_value(const matcher_t *m, const char *v, size_t len)
{
    switch (m->op) {
    case MATCH_EQ: return len == m->value_len && memcmp(v, m->value, len) == 0;
    case MATCH_NE: return !(len == m->value_len && memcmp(v, m->value, len) == 0);
    case MATCH_RE: return go_regex_match(m->re, v, len) == 1;
    case MATCH_NRE: return go_regex_match(m->re, v, len) == 0;
    }
    return false;
}

matcher_set_t *matcher_set_new(void) { return calloc(1, sizeof(matcher_set_t)); }

void matcher_set_destroy(matcher_set_t *ms)
{
    if (!ms) return;
    for (size_t i = 0; i < ms->n; i++) matcher_free(&ms->v[i]);
    free(ms->v);
    free(ms);
}

static qerr_t set_reserve(matcher_set_t *ms, size_t more)
{
    if (ms->n + more <= ms->cap) return QERR_OK;
    size_t cap = ms->cap ? ms->cap : 4;
    while (cap < ms->n + more) cap *= 2;
    matcher_t *v = realloc(ms->v, cap * sizeof *v);
    if (!v) return QERR_NOMEM;
    ms->v = v;
    ms->cap = cap;
    return QERR_OK;
}

/* Moves the list's matchers into the set (all or none). */
static qerr_t set_take(matcher_set_t *ms, matcher_list_t *l)
{
    if (set_reserve(ms, l->n) != QERR_OK) {
        matcher_list_free(l);
        return QERR_NOMEM;
    }
    if (l->n) memcpy(ms->v + ms->n, l->v, l->n * sizeof *l->v);
    ms->n += l->n;
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
    return QERR_OK;
}

static qerr_t parse_at(matcher_set_t *ms, const char *text, size_t *err_col, char *errbuf,
                       size_t errlen)
{
    matcher_list_t l = {0};
    char why[512];
    qerr_t rc = matchers_parse_fallback(text, strlen(text), &l, err_col, why, sizeof why);
    if (rc != QERR_OK) {
        snprintf(errbuf, errlen, "%s", why);
        return rc == QERR_NOMEM ? QERR_NOMEM : QERR_INVALID;
    }
    if (set_take(ms, &l) != QERR_OK) {
        snprintf(errbuf, errlen, "out of memory");
        return QERR_NOMEM;
    }
    return QERR_OK;
}

qerr_t matcher_set_parse(matcher_set_t *ms, const char *text, char *errbuf, size_t errlen)
{
    size_t col = 1;
    char why[512];
    qerr_t rc = parse_at(ms, text, &col, why, sizeof why);
    if (rc != QERR_OK) snprintf(errbuf, errlen, "%zu: %s", col, why);
    return rc;
}

qerr_t matcher_set_add(matcher_set_t *ms, const char *name, match_op_t op, const char *value,
                       char *errbuf, size_t errlen)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (!label_name_valid_utf8(name, nl)) {
        snprintf(errbuf, errlen, "invalid label name \"%s\"", name);
        return QERR_INVALID;
    }
    if (!utf8_valid(value, vl)) {
        snprintf(errbuf, errlen, "label value not valid UTF-8");
        return QERR_INVALID;
    }
    if (set_reserve(ms, 1) != QERR_OK) {
        snprintf(errbuf, errlen, "out of memory");
        return QERR_NOMEM;
    }
    matcher_t m;
    qerr_t rc = matcher_make(&m, name, nl, op, value, vl, errbuf, errlen);
    if (rc != QERR_OK) return rc;
    ms->v[ms->n++] = m;
    return QERR_OK;
}

qerr_t matcher_set_add_api(matcher_set_t *ms, const char *name, match_op_t op, const char *value,
                           char *errbuf, size_t errlen)
{
    qerr_t rc = matcher_set_add(ms, name, op, value, errbuf, errlen);
    if (rc != QERR_INVALID || (op != MATCH_RE && op != MATCH_NRE)) return rc;
    /* labels.NewMatcher compiles "^(?:" + value + ")$" and Go's error
     * quotes that whole text; go_regex_compile_anchored quotes the value. */
    char tail[1100];
    snprintf(tail, sizeof tail, ": `%s`", value);
    size_t el = strlen(errbuf), tl = strlen(tail);
    if (el >= tl && !strcmp(errbuf + el - tl, tail))
        snprintf(errbuf + el - tl, errlen - (el - tl), ": `^(?:%s)$`", value);
    return rc;
}

static bool go_space(char c) /* RE2's \s */
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

/* labels.ParseMatcher of Alertmanager 0.25: its regex
 * ^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$ and then
 * its unquoting, by hand. */
qerr_t matcher_set_parse_filter(matcher_set_t *ms, const char *text, char *errbuf, size_t errlen)
{
    const char *p = text, *end = text + strlen(text);
    while (p < end && go_space(*p)) p++;
    const char *name = p;
    if (p == end || !name_start(*p)) goto bad_format;
    while (p < end && (name_start(*p) || (*p >= '0' && *p <= '9'))) p++;
    size_t name_len = (size_t)(p - name);
    while (p < end && go_space(*p)) p++;
    match_op_t op;
    if (p + 1 < end && p[0] == '=' && p[1] == '~') {
        op = MATCH_RE;
        p += 2;
    } else if (p < end && p[0] == '=') {
        op = MATCH_EQ;
        p += 1;
    } else if (p + 1 < end && p[0] == '!' && p[1] == '=') {
        op = MATCH_NE;
        p += 2;
    } else if (p + 1 < end && p[0] == '!' && p[1] == '~') {
        op = MATCH_NRE;
        p += 2;
    } else {
        goto bad_format;
    }
    while (p < end && go_space(*p)) p++;
    const char *raw_end = end;
    while (raw_end > p && go_space(raw_end[-1])) raw_end--;
    size_t raw_len = (size_t)(raw_end - p);
    const char *raw = p; /* ms[3] in Go, for the messages */
    const char *v = raw;
    size_t vlen = raw_len;
    bool want_quote = false;
    if (vlen && *v == '"') {
        v++;
        vlen--;
        want_quote = true;
    }
    if (!utf8_valid(v, vlen)) {
        snprintf(errbuf, errlen, "matcher value not valid UTF-8: %.*s", (int)raw_len, raw);
        return QERR_INVALID;
    }
    char *value = malloc(vlen + 1), *name_z = malloc(name_len + 1);
    if (!value || !name_z) {
        free(value);
        free(name_z);
        snprintf(errbuf, errlen, "out of memory");
        return QERR_NOMEM;
    }
    size_t n = 0;
    bool escaped = false, quote_error = false;
    for (size_t i = 0; i < vlen && !quote_error; i++) {
        char c = v[i];
        if (escaped) {
            escaped = false;
            if (c == 'n') {
                value[n++] = '\n';
            } else if (c == '"' || c == '\\') {
                value[n++] = c;
            } else { /* a spurious escape: the backslash stays */
                value[n++] = '\\';
                value[n++] = c; /* (n <= i + 1 <= vlen: room) */
            }
            continue;
        }
        if (c == '\\') {
            if (i < vlen - 1)
                escaped = true;
            else
                value[n++] = '\\'; /* a last backslash is a literal one */
        } else if (c == '"') {
            if (!want_quote || i < vlen - 1)
                quote_error = true;
            else
                want_quote = false;
        } else {
            value[n++] = c;
        }
    }
    if (quote_error || want_quote) {
        free(value);
        free(name_z);
        snprintf(errbuf, errlen, "matcher value contains unescaped double quote: %.*s",
                 (int)raw_len, raw);
        return QERR_INVALID;
    }
    value[n] = '\0';
    memcpy(name_z, name, name_len);
    name_z[name_len] = '\0';
    qerr_t rc = matcher_set_add_api(ms, name_z, op, value, errbuf, errlen);
    free(value);
    free(name_z);
    return rc;
bad_format:
    snprintf(errbuf, errlen, "bad matcher format: %s", text);
    return QERR_INVALID;
}

/* Labels are sorted bytewise by name (memcmp order, shorter first on a
 * common prefix): binary search. */
bool labels_get(const label_t *labels, uint32_t n, const char *name, size_t name_len,
                const char **v, size_t *vlen)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const str_t *ln = &labels[mid].name;
        size_t common = ln->len < name_len ? ln->len : name_len;
        int c = memcmp(ln->ptr, name, common);
        if (c == 0) c = ln->len < name_len ? -1 : ln->len > name_len ? 1 : 0;
        if (c == 0) {
            *v = labels[mid].value.ptr;
            *vlen = labels[mid].value.len;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *v = "";
    *vlen = 0;
    return false;
}

bool matcher_set_matches(const matcher_set_t *ms, const label_t *labels, uint32_t n_labels)
{
    for (size_t i = 0; i < ms->n; i++) {
        const matcher_t *m = &ms->v[i];
        const char *v;
        size_t vlen;
        labels_get(labels, n_labels, m->name, m->name_len, &v, &vlen);
        if (!matcher_matches_value(m, v, vlen)) return false;
    }
    return true;
}

size_t matcher_set_count(const matcher_set_t *ms) { return ms ? ms->n : 0; }

bool matcher_set_get(const matcher_set_t *ms, size_t i, matcher_view_t *out)
{
    if (!ms || i >= ms->n) return false;
    const matcher_t *m = &ms->v[i];
    out->name = m->name;
    out->name_len = m->name_len;
    out->op = m->op;
    out->value = m->value;
    out->value_len = m->value_len;
    out->prefix_len = m->prefix_len;
    return true;
}

qerr_t matcher_set_from_node(matcher_set_t *ms, const conf_node_t *node, const char *path,
                             char *errbuf, size_t errlen)
{
    if (!node) return QERR_OK;
    const conf_node_t *items = node;
    size_t n = 1;
    if (node->kind == CONF_NODE_SEQ) {
        items = node->items;
        n = node->n;
    } else if (node->kind != CONF_NODE_SCALAR) {
        return conf_fail_at(errbuf, errlen, path, node,
                            "matchers must be a string or a list of strings");
    }
    for (size_t i = 0; i < n; i++) {
        const conf_node_t *it = &items[i];
        if (it->kind != CONF_NODE_SCALAR) {
            return conf_fail_at(errbuf, errlen, path, it,
                                "a matcher must be a string such as 'severity=\"critical\"'");
        }
        size_t col = 1;
        char why[512];
        qerr_t rc = parse_at(ms, it->text, &col, why, sizeof why);
        if (rc != QERR_OK) {
            /* The column inside the YAML line: exact for plain and simply
             * quoted one-line scalars. */
            snprintf(errbuf, errlen, "%s:%u:%zu: invalid matcher: %s", path, it->line,
                     (size_t)it->col + (it->quoted ? 1 : 0) + col - 1, why);
            return rc;
        }
    }
    return QERR_OK;
}

/* ---- rendering -------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t cap, n;
} out_t;

static void out_put(out_t *o, const char *s, size_t len)
{
    if (o->n < o->cap) {
        size_t room = o->cap - o->n;
        memcpy(o->buf + o->n, s, len < room ? len : room);
    }
    o->n += len;
}
static void out_str(out_t *o, const char *s) { out_put(o, s, strlen(s)); }

static bool name_has_reserved(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && (c == ' ' || (c >= '\t' && c <= '\r') || strchr("{}!=~,\\\"'`", c)))
            return true;
        /* Non-ASCII white space (U+0085, U+00A0, U+2000.., U+3000) */
        if (c == 0xC2 && i + 1 < len &&
            ((unsigned char)s[i + 1] == 0x85 || (unsigned char)s[i + 1] == 0xA0))
            return true;
        if (c == 0xE1 && i + 2 < len && (unsigned char)s[i + 1] == 0x9A &&
            (unsigned char)s[i + 2] == 0x80)
            return true;
        if (c == 0xE2 && i + 2 < len) {
            unsigned b1 = (unsigned char)s[i + 1], b2 = (unsigned char)s[i + 2];
            if (b1 == 0x80 && (b2 <= 0x8A || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF)) return true;
            if (b1 == 0x81 && b2 == 0x9F) return true;
        }
        if (c == 0xE3 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
            (unsigned char)s[i + 2] == 0x80)
            return true;
    }
    return false;
}

/* Go's strconv.Quote, close enough for display: printable characters stay,
 * the rest is escaped. */
static void out_go_quote(out_t *o, const char *s, size_t len)
{
    out_str(o, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        switch (c) {
        case '"': out_str(o, "\\\""); continue;
        case '\\': out_str(o, "\\\\"); continue;
        case '\a': out_str(o, "\\a"); continue;
        case '\b': out_str(o, "\\b"); continue;
        case '\f': out_str(o, "\\f"); continue;
        case '\n': out_str(o, "\\n"); continue;
        case '\r': out_str(o, "\\r"); continue;
        case '\t': out_str(o, "\\t"); continue;
        case '\v': out_str(o, "\\v"); continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7F) {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            out_str(o, tmp);
        } else if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
                   (unsigned char)s[i + 1] <= 0xA0) {
            /* C1 controls and NO-BREAK SPACE are not printable in Go. */
            snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned char)s[i + 1]);
            out_str(o, tmp);
            i++;
        } else {
            out_put(o, s + i, 1);
        }
    }
    out_str(o, "\"");
}

static const char *op_str(match_op_t op)
{
    switch (op) {
    case MATCH_EQ: return "=";
    case MATCH_NE: return "!=";
    case MATCH_RE: return "=~";
    case MATCH_NRE: return "!~";
    }
    return "?";
}

size_t matcher_set_format(const matcher_set_t *ms, char *buf, size_t cap)
{
    out_t o = {buf, cap ? cap - 1 : 0, 0};
    for (size_t i = 0; ms && i < ms->n; i++) {
        const matcher_t *m = &ms->v[i];
        if (i) out_str(&o, ", ");
        if (name_has_reserved(m->name, m->name_len)) {
            out_go_quote(&o, m->name, m->name_len);
            out_str(&o, op_str(m->op));
            out_go_quote(&o, m->value, m->value_len);
            continue;
        }
        out_put(&o, m->name, m->name_len);
        out_str(&o, op_str(m->op));
        out_str(&o, "\"");
        /* OpenMetrics escaping: only \\, \n and \" */
        for (size_t k = 0; k < m->value_len; k++) {
            char c = m->value[k];
            if (c == '\\')
                out_str(&o, "\\\\");
            else if (c == '\n')
                out_str(&o, "\\n");
            else if (c == '"')
                out_str(&o, "\\\"");
            else
                out_put(&o, &c, 1);
        }
        out_str(&o, "\"");
    }
    if (cap) buf[o.n < cap ? o.n : cap - 1] = '\0';
    return o.n;
}
