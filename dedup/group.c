/*
 * Grouping rules (see group.h): a per-rule fingerprint over a subset of
 * labels, with ids normalised out of the values.
 *
 * Compiled once from the config read at start and never changed, so the
 * hook may be called from every ingest thread and replay without locks.
 * The grouped fingerprint chains XXH3 over the rule name, then each `by`
 * label's name and value in sorted order (values normalised when the label
 * is listed in `normalize`), each piece seeded with the hash so far.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "dedup.h"
#include "rules_int.h"

#define FAIL_AT(node, ...)                                                                         \
    do {                                                                                           \
        int o_ = snprintf(errbuf, errlen, "%s:%u:%u: ", path, (node)->line, (node)->col);          \
        if (o_ >= 0 && (size_t)o_ < errlen)                                                        \
            snprintf(errbuf + o_, errlen - (size_t)o_, __VA_ARGS__);                               \
        return QERR_INVALID;                                                                       \
    } while (0)

typedef struct {
    char *name;
    matcher_set_t *ms;
    char **by; /* sorted bytewise, unique */
    size_t n_by;
    bool *normalize; /* per `by` entry */
} group_rule_t;

struct fp_grouping {
    group_rule_t *v;
    size_t n;
};

/* ---- normalisation ------------------------------------------------------ */

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool uuid_at(const char *s, size_t len, size_t i)
{
    static const int groups[5] = {8, 4, 4, 4, 12};
    size_t p = i;
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, p++)
            if (p >= len || !is_hex(s[p])) return false;
        if (g < 4) {
            if (p >= len || s[p] != '-') return false;
            p++;
        }
    }
    return p == len || !is_alnum(s[p]);
}

static void put(char *out, size_t cap, size_t *o, const char *t, size_t n)
{
    for (size_t k = 0; k < n; k++, (*o)++)
        if (*o + 1 < cap) out[*o] = t[k];
}

/* "CVE-YYYY-N..." at i: the length, else 0. A CVE id names a class of
 * attack, not an instance: it is kept. */
static size_t cve_at(const char *s, size_t len, size_t i)
{
    if (len - i < 10 || strncasecmp(s + i, "CVE-", 4)) return 0;
    size_t p = i + 4;
    for (size_t k = 0; k < 4; k++, p++)
        if (!is_digit(s[p])) return 0;
    if (p >= len || s[p] != '-') return 0;
    size_t d = ++p;
    while (p < len && is_digit(s[p])) p++;
    return p > d && (p == len || !is_alnum(s[p])) ? p - i : 0;
}

size_t id_normalize(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        bool word_start = i == 0 || !is_alnum(s[i - 1]);
        size_t cve = word_start ? cve_at(s, len, i) : 0;
        if (cve) {
            put(out, cap, &o, &s[i], cve);
            i += cve;
            continue;
        }
        if (word_start && uuid_at(s, len, i)) {
            put(out, cap, &o, "<uuid>", 6);
            i += 36;
            continue;
        }
        if (!is_alnum(s[i])) {
            put(out, cap, &o, &s[i], 1);
            i++;
            continue;
        }
        /* A word: [A-Za-z0-9]+ */
        size_t e = i;
        bool all_hex = true, has_digit = false, has_letter = false;
        while (e < len && is_alnum(s[e])) {
            all_hex &= is_hex(s[e]);
            has_digit |= is_digit(s[e]);
            has_letter |= !is_digit(s[e]);
            e++;
        }
        bool zero_x = e - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
        if (zero_x) {
            for (size_t k = i + 2; k < e; k++) zero_x &= is_hex(s[k]);
        }
        if (zero_x || (all_hex && has_digit && has_letter && e - i >= 8)) {
            put(out, cap, &o, "<hex>", 5);
            i = e;
            continue;
        }
        /* Digit runs of 3 or more, or making the whole word: "job 8812",
         * "cell 7"; short runs inside a word ("SSLv3", "Win32", "host42")
         * name a kind of thing more often than an instance. */
        for (size_t k = i; k < e;) {
            if (is_digit(s[k])) {
                size_t d = k;
                while (k < e && is_digit(s[k])) k++;
                if (k - d >= 3 || (d == i && k == e))
                    put(out, cap, &o, "<n>", 3);
                else
                    put(out, cap, &o, &s[d], k - d);
            } else {
                put(out, cap, &o, &s[k], 1);
                k++;
            }
        }
        i = e;
    }
    if (cap) out[o < cap ? o : cap - 1] = '\0';
    return o;
}

/* ---- compile ------------------------------------------------------------ */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void rule_free(group_rule_t *r)
{
    free(r->name);
    matcher_set_destroy(r->ms);
    for (size_t i = 0; i < r->n_by; i++) free(r->by[i]);
    free(r->by);
    free(r->normalize);
}

void fp_grouping_destroy(fp_grouping_t *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) rule_free(&g->v[i]);
    free(g->v);
    free(g);
}

static qerr_t compile_rule(fp_grouping_t *g, const conf_node_t *it, const char *path,
                           rules_warn_fn warn, void *warn_ctx, char *errbuf, size_t errlen)
{
    if (it->kind != CONF_NODE_MAP) FAIL_AT(it, "a grouping rule must be a map with name and by");
    group_rule_t *r = &g->v[g->n];
    memset(r, 0, sizeof *r);
    r->ms = matcher_set_new();
    g->n++; /* owned from here: freed with the set on error */
    if (!r->ms) FAIL_AT(it, "out of memory");
    const conf_node_t *name = NULL, *by = NULL, *norm = NULL, *owner = NULL;
    for (size_t k = 0; k < it->n; k++) {
        const conf_node_t *key = conf_node_key(it, k), *v = &it->items[k];
        const char *kn = key->text;
        if (!strcmp(kn, "name")) {
            if (v->kind != CONF_NODE_SCALAR || !v->text[0]) FAIL_AT(v, "name must be a string");
            name = v;
        } else if (!strcmp(kn, "matchers")) {
            qerr_t rc = matcher_set_from_node(r->ms, v, path, errbuf, errlen);
            if (rc) return rc;
        } else if (!strcmp(kn, "by")) {
            by = v;
        } else if (!strcmp(kn, "normalize")) {
            norm = v;
        } else if (!strcmp(kn, "owner") || !strcmp(kn, "comment")) {
            if (v->kind != CONF_NODE_SCALAR) FAIL_AT(v, "%s must be a string", kn);
            if (!strcmp(kn, "owner")) owner = v;
        } else {
            FAIL_AT(key,
                    "unknown grouping key \"%s\" (name, matchers, by, normalize, owner, comment)",
                    kn);
        }
    }
    if (!name) FAIL_AT(it, "a grouping rule needs a name");
    for (size_t i = 0; i + 1 < g->n; i++)
        if (!strcmp(g->v[i].name, name->text))
            FAIL_AT(name, "grouping rule \"%s\" is defined twice", name->text);
    if (!(r->name = strdup(name->text))) FAIL_AT(name, "out of memory");
    if (!by || by->kind != CONF_NODE_SEQ || by->n == 0)
        FAIL_AT(by ? by : it, "grouping rule \"%s\" needs by: a non-empty list of label names",
                r->name);
    r->by = calloc(by->n, sizeof *r->by);
    r->normalize = calloc(by->n, sizeof *r->normalize);
    if (!r->by || !r->normalize) FAIL_AT(by, "out of memory");
    for (size_t i = 0; i < by->n; i++) {
        const conf_node_t *x = &by->items[i];
        if (x->kind != CONF_NODE_SCALAR || !label_name_valid_utf8(x->text, strlen(x->text)) ||
            !x->text[0])
            FAIL_AT(x, "by: \"%s\" is not a label name",
                    x->kind == CONF_NODE_SCALAR ? x->text : "");
        bool dup = false;
        for (size_t j = 0; j < r->n_by; j++) dup |= !strcmp(r->by[j], x->text);
        if (dup) continue;
        if (!(r->by[r->n_by] = strdup(x->text))) FAIL_AT(x, "out of memory");
        r->n_by++;
    }
    qsort(r->by, r->n_by, sizeof *r->by, name_cmp);
    if (norm) {
        if (norm->kind != CONF_NODE_SEQ) FAIL_AT(norm, "normalize must be a list of label names");
        for (size_t i = 0; i < norm->n; i++) {
            const conf_node_t *x = &norm->items[i];
            bool found = false;
            for (size_t j = 0; x->kind == CONF_NODE_SCALAR && j < r->n_by; j++)
                if (!strcmp(r->by[j], x->text)) found = r->normalize[j] = true;
            if (!found)
                FAIL_AT(x, "normalize: \"%s\" is not one of this rule's by labels",
                        x->kind == CONF_NODE_SCALAR ? x->text : "");
        }
    }
    if (!owner && warn) {
        char w[600];
        snprintf(w, sizeof w, "%s:%u:%u: warning: grouping rule \"%s\" has no owner", path,
                 it->line, it->col, r->name);
        warn(warn_ctx, w);
    }
    return QERR_OK;
}

qerr_t fp_grouping_compile(const conf_t *conf, rules_warn_fn warn, void *warn_ctx,
                           fp_grouping_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    const char *path = conf->path && conf->path[0] ? conf->path : "<config>";
    const conf_node_t *n = conf->grouping;
    if (!n || n->kind == CONF_NODE_NULL) return QERR_OK;
    if (n->kind != CONF_NODE_SEQ) FAIL_AT(n, "grouping must be a list of rules");
    if (n->n == 0) return QERR_OK;
    fp_grouping_t *g = calloc(1, sizeof *g);
    if (!g || !(g->v = calloc(n->n, sizeof *g->v))) {
        free(g);
        snprintf(errbuf, errlen, "%s: out of memory compiling grouping", path);
        return QERR_NOMEM;
    }
    for (size_t i = 0; i < n->n; i++) {
        qerr_t rc = compile_rule(g, &n->items[i], path, warn, warn_ctx, errbuf, errlen);
        if (rc) {
            fp_grouping_destroy(g);
            return rc;
        }
    }
    *out = g;
    return QERR_OK;
}

size_t fp_grouping_count(const fp_grouping_t *g) { return g ? g->n : 0; }

const char *fp_grouping_name(const fp_grouping_t *g, size_t i)
{
    return g && i < g->n ? g->v[i].name : NULL;
}

/* ---- evaluation --------------------------------------------------------- */

int fp_grouping_match(const fp_grouping_t *g, const label_t *labels, uint32_t n_labels)
{
    for (size_t i = 0; g && i < g->n; i++)
        if (matcher_set_matches(g->v[i].ms, labels, n_labels)) return (int)i;
    return -1;
}

uint64_t fp_grouping_regroup(const void *ctx, const label_t *labels, uint32_t n_labels, uint64_t fp)
{
    const fp_grouping_t *g = ctx;
    int ri = fp_grouping_match(g, labels, n_labels);
    if (ri < 0) return fp;
    const group_rule_t *r = &g->v[ri];
    /* Chained seeds instead of a streaming state (whose layout is not
     * public in the packaged header): each piece is hashed with the hash
     * so far as its seed. */
    uint64_t h = XXH3_64bits(r->name, strlen(r->name));
    char small[512];
    for (size_t i = 0; i < r->n_by; i++) {
        const char *v = "";
        size_t vl = 0;
        labels_get(labels, n_labels, r->by[i], strlen(r->by[i]), &v, &vl);
        h = XXH3_64bits_withSeed(r->by[i], strlen(r->by[i]), h ^ 0xFFu);
        if (r->normalize[i] && vl) {
            size_t need = id_normalize(v, vl, small, sizeof small);
            char *buf = need < sizeof small ? small : malloc(need + 1);
            if (buf) {
                if (buf != small) id_normalize(v, vl, buf, need + 1);
                h = XXH3_64bits_withSeed(buf, need, ~h);
                if (buf != small) free(buf);
            } else {
                h = XXH3_64bits_withSeed(v, vl, ~h); /* no memory: the raw value, still grouped */
            }
        } else {
            h = XXH3_64bits_withSeed(v, vl, ~h);
        }
    }
    return h ? h : 1;
}

void fp_grouping_attach(const fp_grouping_t *g, dedup_fp_conf_t *fc)
{
    fc->regroup = g ? fp_grouping_regroup : NULL;
    fc->regroup_ctx = g;
}
