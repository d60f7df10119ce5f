/*
 * Rule sets: the config's rule sections compiled once into an immutable
 * structure, and their evaluation.
 *
 * Evaluation is a pure function of (rule set, labels, time). It is split in
 * two so a per-thread cache can keep the expensive half:
 *   - label-only: which exclusions' matchers match (through an index of
 *     equality matchers: a new fingerprint costs one hash probe per label
 *     plus the rules that have no equality matcher, not one test per rule),
 *     and the severity;
 *   - time: whether a matching exclusion is active now (starts_at/ends_at,
 *     recurring intervals), checked on the few matching rules only.
 * The first active exclusion in file order wins, so verdicts are
 * deterministic whatever the index's order.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <xxhash.h>

#include "dedup.h"
#include "rules_int.h"

static _Atomic uint64_t next_generation = 1;

#define FAIL_AT(node, ...) return conf_fail_at(errbuf, errlen, path, (node), __VA_ARGS__)

#define WARN_AT(node, ...)                                                                         \
    do {                                                                                           \
        if (warn) {                                                                                \
            char w_[1024];                                                                         \
            conf_warn_at(w_, sizeof w_, path, (node), __VA_ARGS__);                                \
            warn(warn_ctx, w_);                                                                    \
        }                                                                                          \
    } while (0)

static uint64_t pair_hash(const char *name, size_t nl, const char *value, size_t vl)
{
    return XXH3_64bits_withSeed(value, vl, XXH3_64bits(name, nl));
}

#define PREFIX_KEY_MAX 4
static uint64_t prefix_hash(const char *name, size_t nl, const char *value, size_t vl)
{
    return XXH3_64bits_withSeed(value, vl, ~XXH3_64bits(name, nl));
}

/* ---- severity ----------------------------------------------------------- */

static const struct {
    uint8_t sev;
    const char *values;
} default_severities[] = {
    /* the words monitoring tools use, syslog's levels, X.733's perceived
     * severities and incident tools' SEV1..SEV5 */
    {1, "critical crit page p0 p1 emergency emerg alert fatal disaster sev0 sev1 sev-1 "
        "very-high very_high"},
    {2, "error err high major p2 sev2 sev-2"},
    /* X.733 ranks minor above warning; they share SEV3, the level
     * Prometheus's warning has always had */
    {3, "warning warn medium average minor p3 sev3 sev-3"},
    {4, "info information informational low notice indeterminate p4 sev4 sev-4"},
    {5, "none debug cosmetic ok p5 sev5 sev-5"},
    /* Nagios's (Icinga's, Naemon's) states: a host DOWN is as critical as a
     * CRITICAL service, UNREACHABLE (behind a host that is down) one less,
     * UNKNOWN (the check itself failed) a warning; Zabbix's "Not
     * classified" and CEF's "Very-High" (two words, a space: added as
     * such) */
    {1, "down"},
    {2, "unreachable"},
    {3, "unknown"},
};

/* Severity words of more than one word (a space in them). */
static const struct {
    uint8_t sev;
    const char *value;
} default_phrases[] = {{1, "very high"}, {5, "not classified"}};

static qerr_t sev_add(ruleset_t *rs, const char *value, uint8_t sev)
{
    sev_entry_t *v = realloc(rs->sev_map, (rs->n_sev_map + 1) * sizeof *v);
    if (!v) return QERR_NOMEM;
    rs->sev_map = v;
    char *low = strdup(value);
    if (!low) return QERR_NOMEM;
    for (char *p = low; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    v[rs->n_sev_map].value = low;
    v[rs->n_sev_map].sev = sev;
    rs->n_sev_map++;
    return QERR_OK;
}

static qerr_t sev_defaults(ruleset_t *rs)
{
    for (size_t i = 0; i < sizeof default_severities / sizeof *default_severities; i++) {
        char tmp[128];
        snprintf(tmp, sizeof tmp, "%s", default_severities[i].values);
        char *save = NULL;
        for (char *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save))
            if (sev_add(rs, t, default_severities[i].sev)) return QERR_NOMEM;
    }
    for (size_t i = 0; i < sizeof default_phrases / sizeof *default_phrases; i++)
        if (sev_add(rs, default_phrases[i].value, default_phrases[i].sev)) return QERR_NOMEM;
    return QERR_OK;
}

static int parse_sev(const char *s)
{
    if (strncasecmp(s, "SEV", 3) == 0 && s[3] >= '1' && s[3] <= '5' && s[4] == '\0')
        return s[3] - '0';
    return -1;
}

static qerr_t compile_severity(ruleset_t *rs, const conf_node_t *n, const char *path, char *errbuf,
                               size_t errlen)
{
    if (n && n->kind != CONF_NODE_MAP) FAIL_AT(n, "severity must be a map");
    const conf_node_t *labels = n ? conf_node_get(n, "labels") : NULL;
    const conf_node_t *map = n ? conf_node_get(n, "map") : NULL;
    const conf_node_t *drop = n ? conf_node_get(n, "drop") : NULL;
    const conf_node_t *def = n ? conf_node_get(n, "default") : NULL;
    for (size_t k = 0; n && k < n->n; k++) {
        const char *kn = conf_node_key(n, k)->text;
        if (strcmp(kn, "labels") && strcmp(kn, "map") && strcmp(kn, "drop") &&
            strcmp(kn, "default"))
            FAIL_AT(conf_node_key(n, k), "unknown severity key \"%s\" (labels, map, drop, default)",
                    kn);
    }
    /* Which labels carry the source's severity, first present wins. */
    if (labels) {
        if (labels->kind != CONF_NODE_SEQ || labels->n == 0)
            FAIL_AT(labels, "severity.labels must be a non-empty list of label names");
        rs->sev_labels = calloc(labels->n, sizeof(char *));
        if (!rs->sev_labels) FAIL_AT(labels, "out of memory");
        for (size_t i = 0; i < labels->n; i++) {
            if (labels->items[i].kind != CONF_NODE_SCALAR || !labels->items[i].text[0])
                FAIL_AT(&labels->items[i], "a label name must be a non-empty string");
            rs->sev_labels[i] = strdup(labels->items[i].text);
            rs->n_sev_labels++;
        }
    } else {
        rs->sev_labels = calloc(1, sizeof(char *));
        if (!rs->sev_labels || !(rs->sev_labels[0] = strdup("severity"))) {
            snprintf(errbuf, errlen, "%s: out of memory", path);
            return QERR_NOMEM;
        }
        rs->n_sev_labels = 1;
    }
    if (map) {
        if (map->kind != CONF_NODE_MAP)
            FAIL_AT(map, "severity.map must map SEV1..SEV5 to lists of source values");
        for (size_t k = 0; k < map->n; k++) {
            const conf_node_t *key = conf_node_key(map, k), *v = &map->items[k];
            int sev = parse_sev(key->text);
            /* Either direction reads naturally, so both are taken: SEV3 to
             * source values, or a source value to its SEV ("warning: SEV3"). */
            if (sev < 0 && v->kind == CONF_NODE_SCALAR && parse_sev(v->text) > 0) {
                for (size_t j = 0; j < rs->n_sev_map; j++)
                    if (!strcasecmp(rs->sev_map[j].value, key->text))
                        FAIL_AT(key, "\"%s\" is mapped twice", key->text);
                if (sev_add(rs, key->text, (uint8_t)parse_sev(v->text)))
                    FAIL_AT(v, "out of memory");
                continue;
            }
            if (sev < 0)
                FAIL_AT(key, "\"%s\" is neither SEV1..SEV5 nor a source severity mapped to one",
                        key->text);
            if (v->kind == CONF_NODE_SCALAR) {
                if (sev_add(rs, v->text, (uint8_t)sev)) FAIL_AT(v, "out of memory");
                continue;
            }
            if (v->kind != CONF_NODE_SEQ) FAIL_AT(v, "a list of source severities");
            for (size_t i = 0; i < v->n; i++) {
                if (v->items[i].kind != CONF_NODE_SCALAR)
                    FAIL_AT(&v->items[i], "a source severity must be a string");
                for (size_t j = 0; j < rs->n_sev_map; j++)
                    if (!strcasecmp(rs->sev_map[j].value, v->items[i].text))
                        FAIL_AT(&v->items[i], "\"%s\" is mapped twice", v->items[i].text);
                if (sev_add(rs, v->items[i].text, (uint8_t)sev)) FAIL_AT(v, "out of memory");
            }
        }
    } else if (sev_defaults(rs)) {
        snprintf(errbuf, errlen, "out of memory");
        return QERR_NOMEM;
    }
    /* Dropping only applies when the section is written: without it quell
     * ranks severities (replay, explain) but suppresses nothing. */
    rs->sev_drop = n ? (uint8_t)(1u << 5) : 0;
    if (drop) {
        rs->sev_drop = 0;
        if (drop->kind != CONF_NODE_SEQ)
            FAIL_AT(drop, "severity.drop must be a list such as [SEV5]");
        for (size_t i = 0; i < drop->n; i++) {
            int sev = parse_sev(drop->items[i].text);
            if (drop->items[i].kind != CONF_NODE_SCALAR || sev < 0)
                FAIL_AT(&drop->items[i], "\"%s\" is not one of SEV1..SEV5", drop->items[i].text);
            rs->sev_drop |= (uint8_t)(1u << sev);
        }
    }
    if (def) {
        int sev = def->kind == CONF_NODE_SCALAR ? parse_sev(def->text) : -1;
        if (sev < 0) FAIL_AT(def, "severity.default must be one of SEV1..SEV5");
        rs->sev_default = (uint8_t)sev;
    }
    return QERR_OK;
}

uint8_t ruleset_severity(const ruleset_t *rs, const label_t *labels, uint32_t n)
{
    for (size_t i = 0; i < rs->n_sev_labels; i++) {
        const char *v;
        size_t vl;
        if (!labels_get(labels, n, rs->sev_labels[i], strlen(rs->sev_labels[i]), &v, &vl)) continue;
        for (size_t j = 0; j < rs->n_sev_map; j++) {
            const char *m = rs->sev_map[j].value;
            if (strlen(m) == vl && strncasecmp(m, v, vl) == 0) return rs->sev_map[j].sev;
        }
    }
    return rs->sev_default;
}

/* ---- time intervals ---------------------------------------------------- */

static qerr_t compile_interval_list(ruleset_t *rs, const conf_node_t *list, const char *path,
                                    time_interval_t **out, size_t *n_out, char *errbuf,
                                    size_t errlen)
{
    if (list->kind != CONF_NODE_SEQ) FAIL_AT(list, "time_intervals must be a list");
    *out = calloc(list->n ? list->n : 1, sizeof **out);
    if (!*out) FAIL_AT(list, "out of memory");
    for (size_t i = 0; i < list->n; i++) {
        qerr_t rc =
            time_interval_compile(&list->items[i], path, rs->zones, &(*out)[i], errbuf, errlen);
        if (rc) return rc;
        (*n_out)++;
    }
    return QERR_OK;
}

static qerr_t compile_named_intervals(ruleset_t *rs, const conf_node_t *n, const char *path,
                                      char *errbuf, size_t errlen)
{
    if (!n) return QERR_OK;
    if (n->kind != CONF_NODE_SEQ)
        FAIL_AT(n, "time_intervals must be a list of {name, time_intervals}");
    rs->ivs = calloc(n->n ? n->n : 1, sizeof *rs->ivs);
    if (!rs->ivs) FAIL_AT(n, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const conf_node_t *it = &n->items[i];
        const conf_node_t *name = conf_node_get(it, "name"),
                          *list = conf_node_get(it, "time_intervals");
        if (it->kind != CONF_NODE_MAP || !name || name->kind != CONF_NODE_SCALAR || !name->text[0])
            FAIL_AT(it, "a named time interval needs a name");
        if (!list) FAIL_AT(it, "time interval \"%s\" needs time_intervals", name->text);
        for (size_t k = 0; k < it->n; k++) {
            const char *kn = conf_node_key(it, k)->text;
            if (strcmp(kn, "name") && strcmp(kn, "time_intervals"))
                FAIL_AT(conf_node_key(it, k), "unknown key \"%s\" (name, time_intervals)", kn);
        }
        for (size_t j = 0; j < rs->n_ivs; j++)
            if (!strcmp(rs->ivs[j].name, name->text))
                FAIL_AT(name, "time interval \"%s\" is defined twice", name->text);
        named_intervals_t *ni = &rs->ivs[rs->n_ivs++];
        ni->name = strdup(name->text);
        if (!ni->name) FAIL_AT(name, "out of memory");
        qerr_t rc = compile_interval_list(rs, list, path, &ni->v, &ni->n, errbuf, errlen);
        if (rc) return rc;
    }
    return QERR_OK;
}

/* ---- exclusions -------------------------------------------------------- */

static bool matches_everything(const matcher_set_t *ms)
{
    /* Heuristic: it matches an alert without labels and one whose every
     * label it tests holds an unlikely value. */
    size_t n = matcher_set_count(ms);
    if (n == 0) return true;
    label_t none[1];
    if (!matcher_set_matches(ms, none, 0)) return false;
    label_t *probe = calloc(n, sizeof *probe);
    if (!probe) return false;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        matcher_view_t v;
        matcher_set_get(ms, i, &v);
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            if (probe[j].name.len == v.name_len && !memcmp(probe[j].name.ptr, v.name, v.name_len))
                dup = true;
        if (dup) continue;
        probe[k].name = (str_t){v.name, (uint32_t)v.name_len};
        probe[k].value = (str_t){"q\x01uell-probe", 12};
        k++;
    }
    /* sort by name for the binary search */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0; j--) {
            size_t a = probe[j - 1].name.len, b = probe[j].name.len;
            int c = memcmp(probe[j - 1].name.ptr, probe[j].name.ptr, a < b ? a : b);
            if (c > 0 || (c == 0 && a > b)) {
                label_t t = probe[j];
                probe[j] = probe[j - 1];
                probe[j - 1] = t;
            }
        }
    bool all = matcher_set_matches(ms, probe, (uint32_t)k);
    free(probe);
    return all;
}

static qerr_t parse_time_node(const conf_node_t *v, const char *path, int64_t *out, char *errbuf,
                              size_t errlen)
{
    if (v->kind != CONF_NODE_SCALAR || !time_parse_rfc3339(v->text, strlen(v->text), out) || !*out)
        FAIL_AT(v, "\"%s\" is not an RFC 3339 time such as 2026-01-02T15:04:05Z", v->text);
    return QERR_OK;
}

static qerr_t compile_exclusion(ruleset_t *rs, const conf_node_t *it, const char *path,
                                rules_warn_fn warn, void *warn_ctx, char *errbuf, size_t errlen)
{
    if (it->kind != CONF_NODE_MAP) FAIL_AT(it, "an exclusion must be a map with name and matchers");
    exclusion_t *e = &rs->ex[rs->n_ex];
    memset(e, 0, sizeof *e);
    e->line = it->line;
    e->col = it->col;
    e->ms = matcher_set_new();
    rs->n_ex++; /* owned from here: freed with the set on error */
    if (!e->ms) FAIL_AT(it, "out of memory");
    const conf_node_t *name = NULL, *matchers = NULL;
    for (size_t k = 0; k < it->n; k++) {
        const conf_node_t *key = conf_node_key(it, k), *v = &it->items[k];
        const char *kn = key->text;
        qerr_t rc = QERR_OK;
        if (!strcmp(kn, "name")) {
            if (v->kind != CONF_NODE_SCALAR || !v->text[0]) FAIL_AT(v, "name must be a string");
            name = v;
        } else if (!strcmp(kn, "matchers")) {
            matchers = v;
            rc = matcher_set_from_node(e->ms, v, path, errbuf, errlen);
        } else if (!strcmp(kn, "starts_at")) {
            rc = parse_time_node(v, path, &e->starts_ms, errbuf, errlen);
        } else if (!strcmp(kn, "ends_at")) {
            rc = parse_time_node(v, path, &e->ends_ms, errbuf, errlen);
        } else if (!strcmp(kn, "owner") || !strcmp(kn, "comment")) {
            if (v->kind != CONF_NODE_SCALAR) FAIL_AT(v, "%s must be a string", kn);
            char *s = strdup(v->text);
            if (!s) FAIL_AT(v, "out of memory");
            if (!strcmp(kn, "owner"))
                e->owner = s;
            else
                e->comment = s;
        } else if (!strcmp(kn, "time_intervals")) {
            /* Names of top-level intervals, or intervals written inline. */
            if (v->kind != CONF_NODE_SEQ) FAIL_AT(v, "time_intervals must be a list");
            e->named = calloc(v->n ? v->n : 1, sizeof *e->named);
            e->inl = calloc(v->n ? v->n : 1, sizeof *e->inl);
            if (!e->named || !e->inl) FAIL_AT(v, "out of memory");
            for (size_t i = 0; i < v->n && !rc; i++) {
                const conf_node_t *x = &v->items[i];
                if (x->kind == CONF_NODE_SCALAR) {
                    const named_intervals_t *found = NULL;
                    for (size_t j = 0; j < rs->n_ivs; j++)
                        if (!strcmp(rs->ivs[j].name, x->text)) found = &rs->ivs[j];
                    if (!found) FAIL_AT(x, "no time interval named \"%s\"", x->text);
                    e->named[e->n_named++] = found;
                } else {
                    rc = time_interval_compile(x, path, rs->zones, &e->inl[e->n_inl], errbuf,
                                               errlen);
                    if (!rc) e->n_inl++;
                }
            }
        } else {
            FAIL_AT(key,
                    "unknown exclusion key \"%s\" (name, matchers, starts_at, ends_at, "
                    "time_intervals, owner, comment)",
                    kn);
        }
        if (rc) return rc;
    }
    if (!name) FAIL_AT(it, "an exclusion needs a name");
    for (size_t i = 0; i + 1 < rs->n_ex; i++)
        if (!strcmp(rs->ex[i].name, name->text))
            FAIL_AT(name, "exclusion \"%s\" is defined twice (first at line %u)", name->text,
                    rs->ex[i].line);
    e->name = strdup(name->text);
    if (!e->name) FAIL_AT(name, "out of memory");
    if (e->starts_ms && e->ends_ms && e->ends_ms <= e->starts_ms)
        FAIL_AT(it, "exclusion \"%s\": ends_at must be after starts_at", e->name);
    if (!e->owner) WARN_AT(it, "exclusion \"%s\" has no owner", e->name);
    if (!e->ends_ms) WARN_AT(it, "exclusion \"%s\" has no end (ends_at)", e->name);
    if (!matchers || matches_everything(e->ms))
        WARN_AT(matchers ? matchers : it, "exclusion \"%s\" matches every alert", e->name);
    return QERR_OK;
}

bool exclusion_active(const exclusion_t *e, int64_t now_ms)
{
    if (e->starts_ms && now_ms < e->starts_ms) return false;
    if (e->ends_ms && now_ms >= e->ends_ms) return false;
    if (e->n_inl == 0 && e->n_named == 0) return true;
    for (size_t i = 0; i < e->n_inl; i++)
        if (time_interval_contains(&e->inl[i], now_ms)) return true;
    for (size_t i = 0; i < e->n_named; i++)
        for (size_t j = 0; j < e->named[i]->n; j++)
            if (time_interval_contains(&e->named[i]->v[j], now_ms)) return true;
    return false;
}

static qerr_t build_index(ruleset_t *rs)
{
    size_t buckets = 16;
    while (buckets < rs->n_ex * 2) buckets *= 2;
    rs->heads = malloc(buckets * sizeof *rs->heads);
    rs->chain = malloc((rs->n_ex ? rs->n_ex : 1) * sizeof *rs->chain);
    rs->unindexed = malloc((rs->n_ex ? rs->n_ex : 1) * sizeof *rs->unindexed);
    if (!rs->heads || !rs->chain || !rs->unindexed) return QERR_NOMEM;
    memset(rs->heads, 0xff, buckets * sizeof *rs->heads);
    rs->head_mask = buckets - 1;
    /* Filed in reverse so each chain lists rules in file order. */
    for (size_t i = rs->n_ex; i-- > 0;) {
        const exclusion_t *e = &rs->ex[i];
        bool filed = false;
        for (size_t m = 0; m < matcher_set_count(e->ms); m++) {
            matcher_view_t v;
            matcher_set_get(e->ms, m, &v);
            if (v.op != MATCH_EQ || v.value_len == 0) continue;
            uint64_t h = pair_hash(v.name, v.name_len, v.value, v.value_len);
            index_entry_t *c = &rs->chain[rs->n_chain];
            c->h = h;
            c->rule = (uint32_t)i;
            c->next = rs->heads[h & rs->head_mask];
            rs->heads[h & rs->head_mask] = (uint32_t)rs->n_chain++;
            filed = true;
            break;
        }
        for (size_t m = 0; !filed && m < matcher_set_count(e->ms); m++) {
            matcher_view_t v;
            matcher_set_get(e->ms, m, &v);
            if (v.op != MATCH_RE || v.prefix_len == 0) continue;
            size_t l = v.prefix_len < PREFIX_KEY_MAX ? v.prefix_len : PREFIX_KEY_MAX;
            uint64_t h = prefix_hash(v.name, v.name_len, v.value, l);
            index_entry_t *c = &rs->chain[rs->n_chain];
            c->h = h;
            c->rule = (uint32_t)i;
            c->next = rs->heads[h & rs->head_mask];
            rs->heads[h & rs->head_mask] = (uint32_t)rs->n_chain++;
            rs->prefix_lengths |= (uint8_t)(1u << l);
            filed = true;
        }
        if (!filed) rs->unindexed[rs->n_unindexed++] = (uint32_t)i;
    }
    /* unindexed was filled backwards */
    for (size_t a = 0, b = rs->n_unindexed; a + 1 < b; a++, b--) {
        uint32_t t = rs->unindexed[a];
        rs->unindexed[a] = rs->unindexed[b - 1];
        rs->unindexed[b - 1] = t;
    }
    return QERR_OK;
}

/* ---- inhibit rules and noise ------------------------------------------ */

static qerr_t legacy_map(matcher_set_t *ms, const conf_node_t *map, match_op_t op, const char *path,
                         char *errbuf, size_t errlen)
{
    if (map->kind != CONF_NODE_MAP) FAIL_AT(map, "must be a map of label: value");
    for (size_t k = 0; k < map->n; k++) {
        char why[256];
        if (map->items[k].kind != CONF_NODE_SCALAR) FAIL_AT(&map->items[k], "must be a string");
        if (matcher_set_add(ms, conf_node_key(map, k)->text, op, map->items[k].text, why,
                            sizeof why))
            FAIL_AT(&map->items[k], "%s", why);
    }
    return QERR_OK;
}

static qerr_t compile_inhibit(ruleset_t *rs, const conf_node_t *n, const char *path, char *errbuf,
                              size_t errlen)
{
    if (!n) return QERR_OK;
    if (n->kind != CONF_NODE_SEQ) FAIL_AT(n, "inhibit_rules must be a list");
    rs->inh = calloc(n->n ? n->n : 1, sizeof *rs->inh);
    if (!rs->inh) FAIL_AT(n, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const conf_node_t *it = &n->items[i];
        if (it->kind != CONF_NODE_MAP) FAIL_AT(it, "an inhibit rule must be a map");
        inhibit_rule_t *r = &rs->inh[rs->n_inh++];
        r->src = matcher_set_new();
        r->tgt = matcher_set_new();
        if (!r->src || !r->tgt) FAIL_AT(it, "out of memory");
        for (size_t k = 0; k < it->n; k++) {
            const conf_node_t *key = conf_node_key(it, k), *v = &it->items[k];
            const char *kn = key->text;
            qerr_t rc = QERR_OK;
            if (!strcmp(kn, "source_matchers"))
                rc = matcher_set_from_node(r->src, v, path, errbuf, errlen);
            else if (!strcmp(kn, "target_matchers"))
                rc = matcher_set_from_node(r->tgt, v, path, errbuf, errlen);
            else if (!strcmp(kn, "source_match"))
                rc = legacy_map(r->src, v, MATCH_EQ, path, errbuf, errlen);
            else if (!strcmp(kn, "source_match_re"))
                rc = legacy_map(r->src, v, MATCH_RE, path, errbuf, errlen);
            else if (!strcmp(kn, "target_match"))
                rc = legacy_map(r->tgt, v, MATCH_EQ, path, errbuf, errlen);
            else if (!strcmp(kn, "target_match_re"))
                rc = legacy_map(r->tgt, v, MATCH_RE, path, errbuf, errlen);
            else if (!strcmp(kn, "name")) {
                if (v->kind != CONF_NODE_SCALAR || !v->text[0]) FAIL_AT(v, "name must be a string");
                free(r->name);
                r->name = strdup(v->text);
            } else if (!strcmp(kn, "equal")) {
                if (v->kind != CONF_NODE_SEQ) FAIL_AT(v, "equal must be a list of label names");
                r->equal = calloc(v->n ? v->n : 1, sizeof(char *));
                if (!r->equal) FAIL_AT(v, "out of memory");
                for (size_t j = 0; j < v->n; j++) {
                    const conf_node_t *x = &v->items[j];
                    /* Alertmanager's fallback mode validates label names
                     * the classic way. */
                    if (x->kind != CONF_NODE_SCALAR ||
                        !label_name_valid_classic(x->text, strlen(x->text)))
                        FAIL_AT(x, "\"%s\" is not a valid label name", x->text);
                    r->equal[r->n_equal++] = strdup(x->text);
                }
            } else {
                FAIL_AT(key,
                        "unknown inhibit rule key \"%s\" (name, source_matchers, "
                        "target_matchers, equal)",
                        kn);
            }
            if (rc) return rc;
        }
        if (!r->name) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "inhibit-%zu", i + 1);
            r->name = strdup(tmp);
        }
        if (!r->name) FAIL_AT(it, "out of memory");
        for (size_t j = 0; j + 1 < rs->n_inh; j++)
            if (!strcmp(rs->inh[j].name, r->name))
                FAIL_AT(it, "inhibit rule \"%s\" is defined twice", r->name);
        r->name_hash = XXH3_64bits(r->name, strlen(r->name));
    }
    return QERR_OK;
}

static qerr_t duration_node(const conf_node_t *v, const char *path, int64_t *out, char *errbuf,
                            size_t errlen)
{
    if (v->kind != CONF_NODE_SCALAR || conf_parse_duration_ms(v->text, out) != QERR_OK || *out <= 0)
        FAIL_AT(v, "\"%s\" is not a duration such as 30s, 5m or 1h", v->text);
    return QERR_OK;
}

static qerr_t count_node(const conf_node_t *v, const char *path, uint64_t *out, char *errbuf,
                         size_t errlen)
{
    char *end;
    unsigned long long x = v->kind == CONF_NODE_SCALAR ? strtoull(v->text, &end, 10) : 0;
    if (v->kind != CONF_NODE_SCALAR || !v->text[0] || *end || x < 1 || x > 1000000)
        FAIL_AT(v, "\"%s\" is not a count between 1 and 1000000", v->text);
    *out = x;
    return QERR_OK;
}

static qerr_t compile_noise(ruleset_t *rs, const conf_node_t *n, const char *path, char *errbuf,
                            size_t errlen)
{
    if (!n) return QERR_OK;
    if (n->kind != CONF_NODE_MAP) FAIL_AT(n, "noise must be a map");
    for (size_t k = 0; k < n->n; k++) {
        const conf_node_t *key = conf_node_key(n, k), *v = &n->items[k];
        qerr_t rc;
        if (!strcmp(key->text, "min_count")) {
            rc = count_node(v, path, &rs->noise.min_count, errbuf, errlen);
        } else if (!strcmp(key->text, "min_duration")) {
            rc = duration_node(v, path, &rs->noise.min_duration_ms, errbuf, errlen);
        } else if (!strcmp(key->text, "flapping")) {
            const conf_node_t *th = conf_node_get(v, "threshold"), *w = conf_node_get(v, "window");
            if (v->kind != CONF_NODE_MAP || !th || !w)
                FAIL_AT(v, "flapping needs threshold (state changes) and window (duration)");
            for (size_t j = 0; j < v->n; j++)
                if (strcmp(conf_node_key(v, j)->text, "threshold") &&
                    strcmp(conf_node_key(v, j)->text, "window"))
                    FAIL_AT(conf_node_key(v, j), "unknown flapping key \"%s\" (threshold, window)",
                            conf_node_key(v, j)->text);
            uint64_t t = 0;
            if ((rc = count_node(th, path, &t, errbuf, errlen))) return rc;
            if (t < 2 || t > 1000) FAIL_AT(th, "threshold must be between 2 and 1000");
            rs->noise.flap_threshold = (uint32_t)t;
            rc = duration_node(w, path, &rs->noise.flap_window_ms, errbuf, errlen);
        } else {
            FAIL_AT(key, "unknown noise key \"%s\" (flapping, min_count, min_duration)", key->text);
        }
        if (rc) return rc;
    }
    return QERR_OK;
}

/* ---- compile / destroy ------------------------------------------------- */

void ruleset_destroy(ruleset_t *rs)
{
    if (!rs) return;
    silences_release(rs->silences);
    if (rs->body_moved) { /* its rules live on in the next generation */
        free(rs);
        return;
    }
    for (size_t i = 0; i < rs->n_ex; i++) {
        exclusion_t *e = &rs->ex[i];
        free(e->name);
        free(e->owner);
        free(e->comment);
        matcher_set_destroy(e->ms);
        for (size_t j = 0; j < e->n_inl; j++) time_interval_free(&e->inl[j]);
        free(e->inl);
        free(e->named);
    }
    free(rs->ex);
    for (size_t i = 0; i < rs->n_ivs; i++) {
        for (size_t j = 0; j < rs->ivs[i].n; j++) time_interval_free(&rs->ivs[i].v[j]);
        free(rs->ivs[i].v);
        free(rs->ivs[i].name);
    }
    free(rs->ivs);
    for (size_t i = 0; i < rs->n_inh; i++) {
        inhibit_rule_t *r = &rs->inh[i];
        free(r->name);
        matcher_set_destroy(r->src);
        matcher_set_destroy(r->tgt);
        for (size_t j = 0; j < r->n_equal; j++) free(r->equal[j]);
        free(r->equal);
    }
    free(rs->inh);
    for (size_t i = 0; i < rs->n_sev_labels; i++) free(rs->sev_labels[i]);
    free(rs->sev_labels);
    for (size_t i = 0; i < rs->n_sev_map; i++) free(rs->sev_map[i].value);
    free(rs->sev_map);
    free(rs->heads);
    free(rs->chain);
    free(rs->unindexed);
    zone_cache_destroy(rs->zones);
    free(rs->path);
    free(rs);
}

qerr_t ruleset_compile(const conf_t *conf, rules_warn_fn warn, void *warn_ctx, ruleset_t **out,
                       char *errbuf, size_t errlen)
{
    *out = NULL;
    const char *path = conf->path && conf->path[0] ? conf->path : "<config>";
    ruleset_t *rs = calloc(1, sizeof *rs);
    qerr_t rc = QERR_NOMEM;
    if (!rs || !(rs->zones = zone_cache_new()) || !(rs->path = strdup(path))) goto oom;
    rs->generation = atomic_fetch_add(&next_generation, 1);
    if ((rc = compile_named_intervals(rs, conf->time_intervals, path, errbuf, errlen))) goto fail;
    const conf_node_t *ex = conf->exclusions;
    if (ex) {
        if (ex->kind != CONF_NODE_SEQ) {
            rc = conf_fail_at(errbuf, errlen, path, ex, "exclusions must be a list");
            goto fail;
        }
        rs->ex = calloc(ex->n ? ex->n : 1, sizeof *rs->ex);
        if (!rs->ex) goto oom;
        for (size_t i = 0; i < ex->n; i++)
            if ((rc = compile_exclusion(rs, &ex->items[i], path, warn, warn_ctx, errbuf, errlen)))
                goto fail;
    }
    if ((rc = compile_severity(rs, conf->severity, path, errbuf, errlen))) goto fail;
    if ((rc = compile_inhibit(rs, conf->inhibit_rules, path, errbuf, errlen))) goto fail;
    if ((rc = compile_noise(rs, conf->noise, path, errbuf, errlen))) goto fail;
    /* grouping is applied where fingerprints are made (group.h); checked here
     * so `quell check` and a reload refuse a bad section too */
    fp_grouping_t *grouping = NULL;
    if ((rc = fp_grouping_compile(conf, warn, warn_ctx, &grouping, errbuf, errlen))) goto fail;
    fp_grouping_destroy(grouping);
    if ((rc = build_index(rs))) goto oom;
    *out = rs;
    return QERR_OK;
oom:
    snprintf(errbuf, errlen, "%s: out of memory compiling rules", path);
    rc = QERR_NOMEM;
fail:
    ruleset_destroy(rs);
    return rc;
}

/* exclusion_t's first field is its name: a pointer to one is a pointer to
 * a `char *`, so one comparator serves the sorted array and the key. */
static int ex_name_cmp(const void *a, const void *b)
{
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Hits of `from`'s rules are added to the same-named rules of `to` (on
 * reload, so per-rule counters do not restart). `from` is no longer read
 * by any worker. O(n log n): 10,000 rules carry over in milliseconds. */
void ruleset_carry_hits(ruleset_t *from, ruleset_t *to)
{
    if (!from || !to || from->ex == to->ex) return; /* a shared body keeps its own counts */
    exclusion_t **sorted = malloc((from->n_ex ? from->n_ex : 1) * sizeof *sorted);
    if (!sorted) return;
    for (size_t i = 0; i < from->n_ex; i++) sorted[i] = &from->ex[i];
    qsort(sorted, from->n_ex, sizeof *sorted, ex_name_cmp);
    for (size_t i = 0; i < to->n_ex; i++) {
        const exclusion_t *key = &to->ex[i];
        exclusion_t **hit = bsearch(&key, sorted, from->n_ex, sizeof *sorted, ex_name_cmp);
        if (hit) atomic_fetch_add(&to->ex[i].hits, atomic_load(&(*hit)->hits));
    }
    free(sorted);
    for (size_t i = 0; i < to->n_inh; i++)
        for (size_t k = 0; k < from->n_inh; k++)
            if (!strcmp(to->inh[i].name, from->inh[k].name))
                atomic_fetch_add(&to->inh[i].hits, atomic_load(&from->inh[k].hits));
}

uint64_t ruleset_generation(const ruleset_t *rs) { return rs->generation; }
size_t ruleset_exclusion_count(const ruleset_t *rs) { return rs ? rs->n_ex : 0; }
size_t ruleset_inhibit_count(const ruleset_t *rs) { return rs ? rs->n_inh : 0; }
const dedup_noise_t *ruleset_noise(const ruleset_t *rs) { return rs ? &rs->noise : NULL; }

/* ---- evaluation -------------------------------------------------------- */

/* Exclusions whose matchers match, in file order: up to `cap` indices into
 * buf; returns how many match in total. */
static size_t static_matches(const ruleset_t *rs, const label_t *labels, uint32_t n, uint32_t *buf,
                             size_t cap)
{
    size_t total = 0;
    /* Candidates from the index, then the unindexed ones; merged in order
     * by insertion into the small sorted buffer. */
#define TAKE(idx)                                                                                  \
    do {                                                                                           \
        uint32_t i_ = (idx);                                                                       \
        if (matcher_set_matches(rs->ex[i_].ms, labels, n)) {                                       \
            size_t p_ = total < cap ? total : cap;                                                 \
            while (p_ > 0 && buf[p_ - 1] > i_) {                                                   \
                if (p_ < cap) buf[p_] = buf[p_ - 1];                                               \
                p_--;                                                                              \
            }                                                                                      \
            if (p_ < cap) buf[p_] = i_;                                                            \
            total++;                                                                               \
        }                                                                                          \
    } while (0)
    if (rs->n_chain) {
        for (uint32_t l = 0; l < n; l++) {
            uint64_t h = pair_hash(labels[l].name.ptr, labels[l].name.len, labels[l].value.ptr,
                                   labels[l].value.len);
            for (uint32_t c = rs->heads[h & rs->head_mask]; c != UINT32_MAX; c = rs->chain[c].next)
                if (rs->chain[c].h == h) TAKE(rs->chain[c].rule);
            for (size_t pl = 1; rs->prefix_lengths && pl <= PREFIX_KEY_MAX; pl++) {
                if (!(rs->prefix_lengths & (1u << pl)) || labels[l].value.len < pl) continue;
                h = prefix_hash(labels[l].name.ptr, labels[l].name.len, labels[l].value.ptr, pl);
                for (uint32_t c = rs->heads[h & rs->head_mask]; c != UINT32_MAX;
                     c = rs->chain[c].next)
                    if (rs->chain[c].h == h) TAKE(rs->chain[c].rule);
            }
        }
    }
    for (size_t u = 0; u < rs->n_unindexed; u++) TAKE(rs->unindexed[u]);
#undef TAKE
    return total;
}

static void finish(const ruleset_t *rs, const uint32_t *idx, size_t n_idx, uint8_t sev,
                   int64_t now_ms, rules_verdict_t *out)
{
    out->suppress = false;
    out->kind = DECISION_FORWARD_NEW;
    out->rule = NULL;
    out->severity = sev;
    for (size_t i = 0; i < n_idx; i++) {
        const exclusion_t *e = &rs->ex[idx[i]];
        if (exclusion_active(e, now_ms)) {
            out->suppress = true;
            out->kind = DECISION_SUPPRESS_EXCLUDED;
            out->rule = e->name;
            out->rule_index = idx[i];
            return;
        }
    }
    if (sev && (rs->sev_drop & (1u << sev))) {
        out->suppress = true;
        out->kind = DECISION_SUPPRESS_SEVERITY;
    }
}

void ruleset_eval(const ruleset_t *rs, const label_t *labels, uint32_t n_labels, int64_t now_ms,
                  rules_verdict_t *out)
{
    uint32_t small[16];
    size_t total = static_matches(rs, labels, n_labels, small, 16);
    uint32_t *idx = small;
    if (total > 16) {
        idx = malloc(total * sizeof *idx);
        if (idx) {
            static_matches(rs, labels, n_labels, idx, total);
        } else {
            idx = small;
            total = 16;
        }
    }
    finish(rs, idx, total, ruleset_severity(rs, labels, n_labels), now_ms, out);
    if (idx != small) free(idx);
}

#define CACHE_IDX 5

typedef struct {
    uint64_t key;
    uint64_t generation; /* 0 = empty */
    uint32_t idx[CACHE_IDX];
    uint8_t n_idx;
    uint8_t severity;
    bool overflow; /* more matches than fit: evaluate in full */
} cache_entry_t;

struct rules_cache {
    cache_entry_t *e;
    size_t mask;
};

rules_cache_t *rules_cache_new(size_t entries)
{
    size_t n = 16;
    while (n < entries) n *= 2;
    rules_cache_t *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->e = calloc(n, sizeof *c->e);
    if (!c->e) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    return c;
}

void rules_cache_destroy(rules_cache_t *c)
{
    if (!c) return;
    free(c->e);
    free(c);
}

static cache_entry_t *cache_slot(const rules_cache_t *c, uint64_t label_key)
{
    /* Mix the key: fingerprints' low bits also pick dedup slots. */
    return &c->e[(label_key * 0x9E3779B97F4A7C15ull >> 20) & c->mask];
}

void rules_cache_prefetch(const rules_cache_t *c, uint64_t label_key)
{
    if (c) __builtin_prefetch(cache_slot(c, label_key), 0, 3);
}

void ruleset_eval_cached(const ruleset_t *rs, rules_cache_t *c, uint64_t label_key,
                         const label_t *labels, uint32_t n_labels, int64_t now_ms,
                         rules_verdict_t *out)
{
    if (!c) {
        ruleset_eval(rs, labels, n_labels, now_ms, out);
        return;
    }
    cache_entry_t *e = cache_slot(c, label_key);
    if (e->generation != rs->generation || e->key != label_key) {
        size_t total = static_matches(rs, labels, n_labels, e->idx, CACHE_IDX);
        e->key = label_key;
        e->generation = rs->generation;
        e->overflow = total > CACHE_IDX;
        e->n_idx = (uint8_t)(total > CACHE_IDX ? CACHE_IDX : total);
        e->severity = ruleset_severity(rs, labels, n_labels);
    }
    if (e->overflow) {
        ruleset_eval(rs, labels, n_labels, now_ms, out);
        return;
    }
    finish(rs, e->idx, e->n_idx, e->severity, now_ms, out);
}

/* ---- explain ------------------------------------------------------------ */

static void fmt_time(int64_t ms, char *buf, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void ruleset_explain(const ruleset_t *rs, const label_t *labels, uint32_t n_labels, int64_t now_ms,
                     FILE *out)
{
    char buf[2048], t1[32], t2[32];
    rules_verdict_t v;
    ruleset_eval(rs, labels, n_labels, now_ms, &v);
    size_t shown = 0;
    for (size_t i = 0; i < rs->n_ex; i++) {
        const exclusion_t *e = &rs->ex[i];
        if (!matcher_set_matches(e->ms, labels, n_labels)) continue;
        matcher_set_format(e->ms, buf, sizeof buf);
        bool active = exclusion_active(e, now_ms);
        fprintf(out, "exclusion %s (%s:%u): matchers {%s} match", e->name, rs->path, e->line, buf);
        if (e->starts_ms || e->ends_ms) {
            fmt_time(e->starts_ms, t1, sizeof t1);
            fmt_time(e->ends_ms, t2, sizeof t2);
            fprintf(out, "; window %s .. %s", e->starts_ms ? t1 : "-", e->ends_ms ? t2 : "-");
        }
        if (e->n_inl || e->n_named) fprintf(out, "; recurring intervals");
        fprintf(out, "; %s now", active ? "ACTIVE" : "not active");
        if (e->owner) fprintf(out, "; owner %s", e->owner);
        if (e->comment) fprintf(out, "; comment: %s", e->comment);
        if (v.rule == e->name) fprintf(out, "  => suppressed (excluded:%s)", e->name);
        fprintf(out, "\n");
        shown++;
    }
    if (!shown) fprintf(out, "exclusions: none of %zu matches\n", rs->n_ex);
    uint8_t sev = ruleset_severity(rs, labels, n_labels);
    if (sev)
        fprintf(out, "severity: SEV%u%s\n", sev,
                (rs->sev_drop & (1u << sev)) ? " (dropped by the severity table)" : "");
    else
        fprintf(out, "severity: unknown (no label among the severity table's labels maps)\n");
    for (size_t i = 0; i < rs->n_inh; i++) {
        const inhibit_rule_t *r = &rs->inh[i];
        bool src = matcher_set_matches(r->src, labels, n_labels),
             tgt = matcher_set_matches(r->tgt, labels, n_labels);
        if (!src && !tgt) continue;
        fprintf(out, "inhibit rule %s: %s%s%s\n", r->name, src ? "a source (it can inhibit)" : "",
                src && tgt ? " and " : "",
                tgt ? "a target (inhibited while a matching source fires)" : "");
    }
    fprintf(out, "rules verdict: %s%s%s\n", v.suppress ? "suppress" : "pass",
            v.kind == DECISION_SUPPRESS_EXCLUDED ? " excluded:" : "",
            v.kind == DECISION_SUPPRESS_EXCLUDED   ? v.rule
            : v.kind == DECISION_SUPPRESS_SEVERITY ? " severity"
                                                   : "");
}

ruleset_t *ruleset_share(ruleset_t *cur)
{
    ruleset_t *rs = malloc(sizeof *rs);
    if (!rs) return NULL;
    *rs = *cur;
    rs->generation = atomic_fetch_add(&next_generation, 1);
    rs->silences = NULL;
    rs->body_moved = false;
    cur->body_moved = true;
    return rs;
}

const silences_t *ruleset_silences(const ruleset_t *rs) { return rs ? rs->silences : NULL; }

void ruleset_attach_silences(ruleset_t *rs, silences_t *s)
{
    silences_release(rs->silences);
    rs->silences = silences_ref(s);
}
