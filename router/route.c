/*
 * The routing tree: compiles `route:` and `receivers:` (kept by conf.c as
 * position-keeping trees) into routes with their effective options, and
 * matches label sets against them with Alertmanager's semantics.
 *
 * Compile once at start (or reload), match on the router thread; the
 * compiled tree is read-only, so matching is safe from any thread. Matchers
 * are rules/'s (Alertmanager's language); the legacy `match`/`match_re`
 * maps become equality and anchored regex matchers, as in Alertmanager.
 * Every config error says "FILE:LINE:COL: message".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dedup/dedup.h"
#include "router_int.h"

#define DEFAULT_GROUP_WAIT_MS      (30 * 1000LL)
#define DEFAULT_GROUP_INTERVAL_MS  (5 * 60 * 1000LL)
#define DEFAULT_REPEAT_INTERVAL_MS (4 * 3600 * 1000LL)
#define PAGERDUTY_DEFAULT_URL      "https://events.pagerduty.com/v2/enqueue"
#define MAX_ROUTE_DEPTH            32

typedef struct {
    matcher_set_t *matchers;
    char *url;
} runbook_rule_t;

typedef struct {
    char **words; /* lowercase */
    size_t n_words;
    char *url;
} keyword_rule_t;

struct routing {
    route_t **routes; /* pre-order; routes[0] is the root */
    size_t n_routes, cap_routes;
    int64_t max_dedup_window_ms; /* the longest route dedup_window, 0 = none */
    receiver_t *receivers;
    size_t n_receivers;
    /* enrichment */
    runbook_rule_t *runbooks;
    size_t n_runbooks;
    keyword_rule_t *keywords;
    size_t n_keywords;
    uint32_t urgency_high_up_to; /* SEV1..this is high */
    matcher_set_t *urgency_high; /* also high when it matches (NULL = none) */
    int64_t novelty_window_ms;
    char **novelty_labels;
    size_t n_novelty_labels;
    time_interval_set_t *intervals; /* `time_intervals:`, for route muting */
};

typedef struct {
    const char *path;
    char *errbuf;
    size_t errlen;
    routing_t *rt;
} compile_t;

__attribute__((format(printf, 3, 4))) static qerr_t fail(compile_t *c, const conf_node_t *at,
                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    conf_vfail_at(c->errbuf, c->errlen, c->path, at, fmt, ap);
    va_end(ap);
    return QERR_INVALID;
}

static qerr_t want_kind(compile_t *c, const conf_node_t *n, conf_node_kind_t kind, const char *what)
{
    if (n->kind == kind) return QERR_OK;
    static const char *names[] = {"null", "a scalar", "a map", "a list"};
    return fail(c, n, "%s must be %s, not %s", what, names[kind], names[n->kind]);
}

static qerr_t get_duration(compile_t *c, const conf_node_t *n, const char *what, bool zero_ok,
                           int64_t *out)
{
    if (want_kind(c, n, CONF_NODE_SCALAR, what) != QERR_OK) return QERR_INVALID;
    if (conf_parse_duration_ms(n->text, out) != QERR_OK)
        return fail(c, n, "%s: \"%s\" is not a duration (e.g. 30s, 5m, 4h)", what, n->text);
    if (!zero_ok && *out <= 0) return fail(c, n, "%s must be greater than 0", what);
    return QERR_OK;
}

static qerr_t get_uint(compile_t *c, const conf_node_t *n, const char *what, uint64_t max,
                       uint64_t *out)
{
    if (want_kind(c, n, CONF_NODE_SCALAR, what) != QERR_OK) return QERR_INVALID;
    char *end = NULL;
    unsigned long long v = strtoull(n->text, &end, 10);
    if (!*n->text || *end || n->text[0] == '-' || v > max)
        return fail(c, n, "%s must be a whole number from 0 to %llu", what,
                    (unsigned long long)max);
    *out = v;
    return QERR_OK;
}

/* The booleans Alertmanager's YAML (gopkg.in/yaml.v2, YAML 1.1) reads, so
 * `continue: yes` carries over as it does there. */
static int yaml11_bool(const char *t)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                      "on",   "On",   "ON",   "y",   "Y"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO",
                                     "off",   "Off",   "OFF",   "n",  "N"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!strcmp(t, yes[i])) return 1;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (!strcmp(t, no[i])) return 0;
    return -1;
}

static qerr_t get_bool(compile_t *c, const conf_node_t *n, const char *what, bool *out)
{
    if (want_kind(c, n, CONF_NODE_SCALAR, what) != QERR_OK) return QERR_INVALID;
    int v = yaml11_bool(n->text);
    if (v < 0) return fail(c, n, "%s must be true or false", what);
    *out = v == 1;
    return QERR_OK;
}

/* ---- receivers -------------------------------------------------------- */

static const char *const receiver_kinds[] = {"kafka", "webhook", "pagerduty",
                                             "slack", "file",    "stdout"};

static qerr_t dup_scalar(compile_t *c, const conf_node_t *n, const char *what, char **out)
{
    if (want_kind(c, n, CONF_NODE_SCALAR, what) != QERR_OK) return QERR_INVALID;
    free(*out);
    *out = strdup(n->text);
    return *out ? QERR_OK : QERR_NOMEM;
}

#define N_RECEIVER_KINDS (sizeof(receiver_kinds) / sizeof(*receiver_kinds))

static int receiver_kind_of(const char *name, size_t len)
{
    for (size_t t = 0; t < N_RECEIVER_KINDS; t++)
        if (strlen(receiver_kinds[t]) == len && !strncmp(receiver_kinds[t], name, len))
            return (int)t;
    return -1;
}

/* One setting of a receiver. Returns 1 when `key` is not a setting. */
static int receiver_field(compile_t *c, receiver_t *r, const conf_node_t *k, const conf_node_t *v)
{
    const char *key = k->text;
    uint64_t u;
    qerr_t err = QERR_OK;
    if (!strcmp(key, "url") || !strcmp(key, "api_url")) /* api_url: Alertmanager's Slack */
        err = dup_scalar(c, v, key, &r->url);
    else if (!strcmp(key, "routing_key"))
        err = dup_scalar(c, v, "routing_key", &r->routing_key);
    else if (!strcmp(key, "topic"))
        err = dup_scalar(c, v, "topic", &r->topic);
    else if (!strcmp(key, "path"))
        err = dup_scalar(c, v, "path", &r->path);
    else if (!strcmp(key, "external_url"))
        err = dup_scalar(c, v, "external_url", &r->external_url);
    else if (!strcmp(key, "format")) {
        if (want_kind(c, v, CONF_NODE_SCALAR, "format") != QERR_OK) return QERR_INVALID;
        if (strcmp(v->text, "json") && strcmp(v->text, "protobuf"))
            return fail(c, v, "format must be json or protobuf");
        r->protobuf = !strcmp(v->text, "protobuf");
    } else if (!strcmp(key, "max_alerts")) {
        err = get_uint(c, v, "max_alerts", 1000000, &u);
        r->max_alerts = u;
    } else if (!strcmp(key, "rate_limit")) {
        err = get_uint(c, v, "rate_limit (notifications per minute)", 1000000, &u);
        r->rate_limit_per_min = (uint32_t)u;
    } else if (!strcmp(key, "max_retries")) {
        err = get_uint(c, v, "max_retries", 100, &u);
        r->max_retries = (uint32_t)u;
    } else if (!strcmp(key, "max_in_flight")) {
        err = get_uint(c, v, "max_in_flight", 1024, &u);
        r->max_in_flight = (uint32_t)(u ? u : 1);
    } else if (!strcmp(key, "timeout"))
        err = get_duration(c, v, "timeout", false, &r->timeout_ms);
    else if (!strcmp(key, "backoff"))
        err = get_duration(c, v, "backoff", false, &r->backoff_ms);
    else if (!strcmp(key, "send_resolved")) {
        /* Alertmanager's; quell always sends the resolved notification. */
        bool b = true;
        err = get_bool(c, v, "send_resolved", &b);
        if (err == QERR_OK && !b)
            return fail(c, v,
                        "send_resolved: false is not supported (resolved notifications "
                        "are always sent)");
    } else
        return 1;
    return err;
}

/* The settings in a nested form: `webhook: {url: ...}`, or Alertmanager's
 * `webhook_configs: [{url: ...}]` with one entry. */
static qerr_t receiver_nested(compile_t *c, receiver_t *r, const conf_node_t *k,
                              const conf_node_t *v, bool am_list)
{
    if (am_list) {
        if (v->kind != CONF_NODE_SEQ || v->n != 1)
            return fail(c, v, "%s: one entry per receiver (make one receiver for each)", k->text);
        v = &v->items[0];
    }
    if (v->kind == CONF_NODE_NULL) return QERR_OK; /* `stdout:` alone */
    if (want_kind(c, v, CONF_NODE_MAP, k->text) != QERR_OK) return QERR_INVALID;
    for (size_t i = 0; i < v->n; i++) {
        int rc = receiver_field(c, r, conf_node_key(v, i), &v->items[i]);
        if (rc == 1)
            return fail(c, conf_node_key(v, i), "unknown %s key \"%s\"", k->text,
                        conf_node_key(v, i)->text);
        if (rc != QERR_OK) return (qerr_t)rc;
    }
    return QERR_OK;
}

/* A receiver names its kind one of three ways: `type: webhook` with the
 * settings beside it, `webhook: {settings}`, or Alertmanager's
 * `webhook_configs: [{settings}]`, so existing configs carry over. */
static qerr_t compile_receiver(compile_t *c, const conf_t *conf, const conf_node_t *m,
                               receiver_t *r)
{
    if (want_kind(c, m, CONF_NODE_MAP, "a receiver") != QERR_OK) return QERR_INVALID;
    r->timeout_ms = 10000;
    r->max_retries = 5;
    r->backoff_ms = 500;
    r->max_in_flight = 4;
    const conf_node_t *kind_node = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const conf_node_t *k = conf_node_key(m, i), *v = &m->items[i];
        const char *key = k->text;
        size_t klen = strlen(key);
        bool am_list = klen > 8 && !strcmp(key + klen - 8, "_configs");
        int kind = receiver_kind_of(key, am_list ? klen - 8 : klen);
        qerr_t err = QERR_OK;
        if (!strcmp(key, "name")) {
            err = dup_scalar(c, v, "name", &r->name);
        } else if (!strcmp(key, "type") || kind >= 0) {
            if (kind_node)
                return fail(c, k, "a receiver has one kind; it was already given at line %u",
                            kind_node->line);
            kind_node = k;
            if (kind < 0) {
                if (want_kind(c, v, CONF_NODE_SCALAR, "type") != QERR_OK) return QERR_INVALID;
                kind = receiver_kind_of(v->text, strlen(v->text));
                if (kind < 0)
                    return fail(c, v,
                                "unknown receiver type \"%s\" (kafka, webhook, pagerduty, slack, "
                                "file, stdout)",
                                v->text);
            } else {
                err = receiver_nested(c, r, k, v, am_list);
            }
            r->kind = (receiver_kind_t)kind;
        } else {
            int rc = receiver_field(c, r, k, v);
            if (rc == 1) return fail(c, k, "unknown receiver key \"%s\"", key);
            err = (qerr_t)rc;
        }
        if (err != QERR_OK) return err;
    }
    if (!r->name || !*r->name) return fail(c, m, "a receiver needs a `name:`");
    /* A receiver without an integration is valid in Alertmanager (the usual
     * `- name: 'null'` that Watchdog routes to): its groups are kept and
     * their notifications dropped. */
    if (!kind_node && (r->url || r->routing_key || r->path || r->topic))
        return fail(c, m,
                    "receiver \"%s\" needs a kind: `type: webhook` (or kafka, pagerduty, slack, "
                    "file, stdout), `webhook: {url: ...}` or `webhook_configs: [{url: ...}]`",
                    r->name);
    if (!kind_node) r->kind = RECV_NONE;
    switch (r->kind) {
    case RECV_WEBHOOK:
    case RECV_SLACK:
        if (!r->url || !*r->url)
            return fail(c, m, "receiver \"%s\" (%s) needs a `url:`", r->name,
                        receiver_kinds[r->kind]);
        break;
    case RECV_PAGERDUTY:
        if (!r->routing_key || !*r->routing_key)
            return fail(c, m, "receiver \"%s\" (pagerduty) needs a `routing_key:`", r->name);
        if (!r->url) r->url = strdup(PAGERDUTY_DEFAULT_URL);
        break;
    case RECV_FILE:
        if (!r->path || !*r->path)
            return fail(c, m, "receiver \"%s\" (file) needs a `path:`", r->name);
        break;
    case RECV_KAFKA:
        if (!r->topic) r->topic = strdup(conf->kafka.output_topic);
        break;
    case RECV_STDOUT:
    case RECV_NONE: break;
    }
    return QERR_OK;
}

static qerr_t compile_receivers(compile_t *c, const conf_t *conf)
{
    const conf_node_t *s = conf->receivers;
    if (!s) return QERR_OK;
    if (want_kind(c, s, CONF_NODE_SEQ, "receivers") != QERR_OK) return QERR_INVALID;
    c->rt->receivers = calloc(s->n ? s->n : 1, sizeof(receiver_t));
    if (!c->rt->receivers) return QERR_NOMEM;
    for (size_t i = 0; i < s->n; i++) {
        receiver_t *r = &c->rt->receivers[i];
        r->index = (uint32_t)i;
        c->rt->n_receivers = i + 1;
        qerr_t err = compile_receiver(c, conf, &s->items[i], r);
        if (err != QERR_OK) return err;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->rt->receivers[j].name, r->name))
                return fail(c, &s->items[i], "receiver \"%s\" is defined twice", r->name);
    }
    return QERR_OK;
}

static const receiver_t *receiver_find(const routing_t *rt, const char *name)
{
    for (size_t i = 0; i < rt->n_receivers; i++)
        if (!strcmp(rt->receivers[i].name, name)) return &rt->receivers[i];
    return NULL;
}

/* ---- routes ----------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_label(const void *a, const void *b)
{
    const label_t *x = a, *y = b;
    size_t m = x->name.len < y->name.len ? x->name.len : y->name.len;
    int r = memcmp(x->name.ptr, y->name.ptr, m);
    return r ? r : (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

static void route_free(route_t *r)
{
    if (!r) return;
    matcher_set_destroy(r->matchers);
    for (size_t i = 0; i < r->n_group_by; i++) free(r->group_by[i]);
    free(r->group_by);
    for (uint32_t i = 0; i < r->n_labels; i++) {
        free((char *)r->labels[i].name.ptr);
        free((char *)r->labels[i].value.ptr);
    }
    free(r->labels);
    free(r->mute_intervals);
    free(r->active_intervals);
    free((char *)r->key);
    free(r->children);
    free(r);
}

static qerr_t compile_group_by(compile_t *c, const conf_node_t *v, route_t *r)
{
    if (want_kind(c, v, CONF_NODE_SEQ, "group_by") != QERR_OK) return QERR_INVALID;
    for (size_t i = 0; i < r->n_group_by; i++) free(r->group_by[i]);
    free(r->group_by);
    r->group_by = calloc(v->n + 1, sizeof(char *));
    r->n_group_by = 0;
    r->group_by_all = false;
    if (!r->group_by) return QERR_NOMEM;
    for (size_t i = 0; i < v->n; i++) {
        const conf_node_t *it = &v->items[i];
        if (want_kind(c, it, CONF_NODE_SCALAR, "a group_by label") != QERR_OK) return QERR_INVALID;
        if (!strcmp(it->text, "...")) {
            if (v->n != 1)
                return fail(c, it, "group_by: \"...\" (all labels) must be the only entry");
            r->group_by_all = true;
            return QERR_OK;
        }
        if (!*it->text) return fail(c, it, "group_by: empty label name");
        bool dup = false;
        for (size_t j = 0; j < r->n_group_by && !dup; j++) dup = !strcmp(r->group_by[j], it->text);
        if (dup) return fail(c, it, "group_by: \"%s\" is listed twice", it->text);
        if (!(r->group_by[r->n_group_by++] = strdup(it->text))) return QERR_NOMEM;
    }
    qsort(r->group_by, r->n_group_by, sizeof(char *), cmp_str);
    return QERR_OK;
}

static qerr_t set_label(route_t *r, const char *name, const char *value)
{
    for (uint32_t i = 0; i < r->n_labels; i++) {
        if (r->labels[i].name.len == strlen(name) &&
            !memcmp(r->labels[i].name.ptr, name, strlen(name))) {
            char *v = strdup(value);
            if (!v) return QERR_NOMEM;
            free((char *)r->labels[i].value.ptr);
            r->labels[i].value = (str_t){v, (uint32_t)strlen(v)};
            return QERR_OK;
        }
    }
    label_t *l = realloc(r->labels, (r->n_labels + 1) * sizeof(*l));
    if (!l) return QERR_NOMEM;
    r->labels = l;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return QERR_NOMEM;
    }
    l[r->n_labels++] = (label_t){{n, (uint32_t)strlen(n)}, {v, (uint32_t)strlen(v)}};
    qsort(r->labels, r->n_labels, sizeof(label_t), cmp_label);
    return QERR_OK;
}

static qerr_t add_route(routing_t *rt, route_t *r)
{
    if (rt->n_routes == rt->cap_routes) {
        size_t cap = rt->cap_routes ? rt->cap_routes * 2 : 16;
        route_t **rs = realloc(rt->routes, cap * sizeof(*rs));
        if (!rs) return QERR_NOMEM;
        rt->routes = rs;
        rt->cap_routes = cap;
    }
    r->id = (uint32_t)rt->n_routes;
    rt->routes[rt->n_routes++] = r;
    return QERR_OK;
}

static qerr_t legacy_map(compile_t *c, const conf_node_t *v, route_t *r, bool regex)
{
    const char *what = regex ? "match_re" : "match";
    if (want_kind(c, v, CONF_NODE_MAP, what) != QERR_OK) return QERR_INVALID;
    for (size_t i = 0; i < v->n; i++) {
        const conf_node_t *val = &v->items[i];
        if (want_kind(c, val, CONF_NODE_SCALAR, what) != QERR_OK) return QERR_INVALID;
        char msg[256];
        qerr_t err;
        if (regex) {
            /* Alertmanager anchors match_re values; the route key shows it. */
            size_t n = strlen(val->text) + 8;
            char *anchored = malloc(n);
            if (!anchored) return QERR_NOMEM;
            snprintf(anchored, n, "^(?:%s)$", val->text);
            err =
                matcher_set_add(r->matchers, v->keys[i].text, MATCH_RE, anchored, msg, sizeof(msg));
            free(anchored);
        } else {
            err = matcher_set_add(r->matchers, v->keys[i].text, MATCH_EQ, val->text, msg,
                                  sizeof(msg));
        }
        if (err != QERR_OK) return fail(c, val, "%s: %s", what, msg);
    }
    return QERR_OK;
}

static int cmp_view(const void *a, const void *b)
{
    /* Alertmanager's labels.Matchers order: name, value, then type. */
    const matcher_view_t *x = a, *y = b;
    size_t m = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, m);
    if (!c) c = (x->name_len > y->name_len) - (x->name_len < y->name_len);
    if (c) return c;
    m = x->value_len < y->value_len ? x->value_len : y->value_len;
    c = memcmp(x->value, y->value, m);
    if (!c) c = (x->value_len > y->value_len) - (x->value_len < y->value_len);
    return c ? c : (int)x->op - (int)y->op;
}

/* "{a=\"1\",b=~\"x\"}": Matchers.String() of the sorted set, values
 * quoted as Go's %q does for printable text. Caller frees. */
static char *matchers_key(const matcher_set_t *ms)
{
    size_t n = matcher_set_count(ms);
    matcher_view_t *v = calloc(n + 1, sizeof(*v));
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) matcher_set_get(ms, i, &v[i]);
    qsort(v, n, sizeof(*v), cmp_view);
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    char *out = NULL;
    size_t cap = 0;
    writer_t w = {NULL, 0, 0};
    for (int pass = 0; pass < 2; pass++) {
        w = (writer_t){out, cap, 0};
        put(&w, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i) put(&w, ",", 1);
            put(&w, v[i].name, v[i].name_len);
            put_lit(&w, ops[v[i].op]);
            put_json_str(&w, v[i].value, v[i].value_len);
        }
        put(&w, "}", 2); /* with the NUL */
        if (pass == 0) {
            cap = w.len;
            out = malloc(cap);
            if (!out) break;
        }
    }
    free(v);
    return out;
}

/* A list of names of `time_intervals:` entries, resolved to indices. */
static qerr_t interval_names(compile_t *c, const conf_node_t *v, const char *what, int **out,
                             size_t *n_out)
{
    if (want_kind(c, v, CONF_NODE_SEQ, what) != QERR_OK) return QERR_INVALID;
    free(*out);
    *n_out = 0;
    *out = calloc(v->n ? v->n : 1, sizeof(int));
    if (!*out) return QERR_NOMEM;
    for (size_t i = 0; i < v->n; i++) {
        const conf_node_t *it = &v->items[i];
        if (want_kind(c, it, CONF_NODE_SCALAR, "a time interval name") != QERR_OK)
            return QERR_INVALID;
        int idx = time_interval_set_find(c->rt->intervals, it->text);
        if (idx < 0)
            return fail(c, it, "%s: no time interval named \"%s\" in time_intervals", what,
                        it->text);
        (*out)[(*n_out)++] = idx;
    }
    return QERR_OK;
}

bool routing_route_muted(const routing_t *rt, const route_t *r, int64_t now_ms)
{
    for (size_t i = 0; i < r->n_mute_intervals; i++)
        if (time_interval_set_contains(rt->intervals, r->mute_intervals[i], now_ms)) return true;
    if (r->n_active_intervals == 0) return false;
    for (size_t i = 0; i < r->n_active_intervals; i++)
        if (time_interval_set_contains(rt->intervals, r->active_intervals[i], now_ms)) return false;
    return true;
}

static qerr_t compile_route(compile_t *c, const conf_node_t *m, const route_t *parent, size_t depth,
                            route_t **out)
{
    *out = NULL;
    if (depth > MAX_ROUTE_DEPTH)
        return fail(c, m, "routes nest deeper than %d levels", MAX_ROUTE_DEPTH);
    if (want_kind(c, m, CONF_NODE_MAP, parent ? "a route" : "route") != QERR_OK)
        return QERR_INVALID;
    route_t *r = calloc(1, sizeof(*r));
    if (!r) return QERR_NOMEM;
    qerr_t err = add_route(c->rt, r);
    if (err != QERR_OK) {
        free(r);
        return err;
    }
    r->matchers = matcher_set_new();
    if (!r->matchers) return QERR_NOMEM;
    /* Inherit, then override. */
    if (parent) {
        r->receiver = parent->receiver;
        r->group_by_all = parent->group_by_all;
        r->group_wait_ms = parent->group_wait_ms;
        r->group_interval_ms = parent->group_interval_ms;
        r->repeat_interval_ms = parent->repeat_interval_ms;
        r->dedup_window_ms = parent->dedup_window_ms;
        r->group_by = calloc(parent->n_group_by + 1, sizeof(char *));
        if (!r->group_by) return QERR_NOMEM;
        for (size_t i = 0; i < parent->n_group_by; i++)
            if (!(r->group_by[r->n_group_by++] = strdup(parent->group_by[i]))) return QERR_NOMEM;
        for (uint32_t i = 0; i < parent->n_labels; i++) {
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)parent->labels[i].name.len,
                     parent->labels[i].name.ptr);
            if ((err = set_label(r, name, parent->labels[i].value.ptr)) != QERR_OK) return err;
        }
    } else {
        r->group_wait_ms = DEFAULT_GROUP_WAIT_MS;
        r->group_interval_ms = DEFAULT_GROUP_INTERVAL_MS;
        r->repeat_interval_ms = DEFAULT_REPEAT_INTERVAL_MS;
    }
    const conf_node_t *routes = NULL, *receiver = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const conf_node_t *k = conf_node_key(m, i), *v = &m->items[i];
        const char *key = k->text;
        char msg[256];
        err = QERR_OK;
        if (!strcmp(key, "receiver")) {
            if (want_kind(c, v, CONF_NODE_SCALAR, "receiver") != QERR_OK) return QERR_INVALID;
            receiver = v;
            r->receiver = receiver_find(c->rt, v->text);
            if (!r->receiver)
                return fail(c, v, "unknown receiver \"%s\" (not in `receivers:`)", v->text);
        } else if (!strcmp(key, "matchers")) {
            if (matcher_set_from_node(r->matchers, v, c->path, msg, sizeof(msg)) != QERR_OK) {
                snprintf(c->errbuf, c->errlen, "%s", msg);
                return QERR_INVALID;
            }
        } else if (!strcmp(key, "match"))
            err = legacy_map(c, v, r, false);
        else if (!strcmp(key, "match_re"))
            err = legacy_map(c, v, r, true);
        else if (!strcmp(key, "continue"))
            err = get_bool(c, v, "continue", &r->cont);
        else if (!strcmp(key, "routes")) {
            if (want_kind(c, v, CONF_NODE_SEQ, "routes") != QERR_OK) return QERR_INVALID;
            routes = v;
        } else if (!strcmp(key, "group_by"))
            err = compile_group_by(c, v, r);
        else if (!strcmp(key, "group_wait"))
            err = get_duration(c, v, "group_wait", true, &r->group_wait_ms);
        else if (!strcmp(key, "group_interval"))
            err = get_duration(c, v, "group_interval", false, &r->group_interval_ms);
        else if (!strcmp(key, "repeat_interval"))
            err = get_duration(c, v, "repeat_interval", false, &r->repeat_interval_ms);
        else if (!strcmp(key, "dedup_window")) {
            /* Applied by the dedup workers (app/pipeline.c: route_window). */
            err = get_duration(c, v, "dedup_window", false, &r->dedup_window_ms);
        } else if (!strcmp(key, "labels")) {
            if (want_kind(c, v, CONF_NODE_MAP, "labels") != QERR_OK) return QERR_INVALID;
            for (size_t j = 0; j < v->n && err == QERR_OK; j++) {
                if (want_kind(c, &v->items[j], CONF_NODE_SCALAR, "a label value") != QERR_OK)
                    return QERR_INVALID;
                err = set_label(r, v->keys[j].text, v->items[j].text);
            }
        } else if (!strcmp(key, "mute_time_intervals") || !strcmp(key, "active_time_intervals")) {
            bool mute = key[0] == 'm';
            err = interval_names(c, v, key, mute ? &r->mute_intervals : &r->active_intervals,
                                 mute ? &r->n_mute_intervals : &r->n_active_intervals);
            if (err == QERR_OK && !parent) return fail(c, k, "the root route cannot have %s", key);
        } else
            return fail(c, k, "unknown route key \"%s\"", key);
        if (err != QERR_OK) return err;
    }
    if (!parent) {
        if (!receiver) return fail(c, m, "the root route needs a `receiver:`");
        if (matcher_set_count(r->matchers))
            return fail(c, m, "the root route must not have matchers: it matches every alert");
        if (r->cont) return fail(c, m, "the root route cannot have `continue`");
    }
    /* Alertmanager's route key: the parent's, "/", then the sorted
     * matchers. */
    char *mkey = matchers_key(r->matchers);
    if (!mkey) return QERR_NOMEM;
    size_t plen = parent ? strlen(parent->key) + 1 : 0;
    char *key = malloc(plen + strlen(mkey) + 1);
    if (!key) {
        free(mkey);
        return QERR_NOMEM;
    }
    snprintf(key, plen + strlen(mkey) + 1, "%s%s%s", parent ? parent->key : "", parent ? "/" : "",
             mkey);
    free(mkey);
    r->key = key;
    if (routes) {
        r->children = calloc(routes->n + 1, sizeof(route_t *));
        if (!r->children) return QERR_NOMEM;
        for (size_t i = 0; i < routes->n; i++) {
            err = compile_route(c, &routes->items[i], r, depth + 1, &r->children[i]);
            if (err != QERR_OK) return err;
            r->n_children = i + 1;
        }
    }
    *out = r;
    return QERR_OK;
}

/* ---- enrichment config ------------------------------------------------ */

static qerr_t compile_runbooks(compile_t *c, const conf_node_t *s)
{
    routing_t *rt = c->rt;
    if (!s) return QERR_OK;
    if (want_kind(c, s, CONF_NODE_SEQ, "runbooks") != QERR_OK) return QERR_INVALID;
    rt->runbooks = calloc(s->n + 1, sizeof(*rt->runbooks));
    rt->keywords = calloc(s->n + 1, sizeof(*rt->keywords));
    if (!rt->runbooks || !rt->keywords) return QERR_NOMEM;
    for (size_t i = 0; i < s->n; i++) {
        const conf_node_t *m = &s->items[i];
        if (want_kind(c, m, CONF_NODE_MAP, "a runbook rule") != QERR_OK) return QERR_INVALID;
        const conf_node_t *url = conf_node_get(m, "url"), *ms = conf_node_get(m, "matchers"),
                          *kw = conf_node_get(m, "keywords");
        for (size_t j = 0; j < m->n; j++)
            if (strcmp(m->keys[j].text, "url") && strcmp(m->keys[j].text, "matchers") &&
                strcmp(m->keys[j].text, "keywords"))
                return fail(c, &m->keys[j], "unknown runbook key \"%s\" (url, matchers, keywords)",
                            m->keys[j].text);
        if (!url || url->kind != CONF_NODE_SCALAR || !*url->text)
            return fail(c, m, "a runbook rule needs a `url:`");
        if (!ms == !kw) return fail(c, m, "a runbook rule needs `matchers:` or `keywords:` (one)");
        if (ms) {
            runbook_rule_t *rb = &rt->runbooks[rt->n_runbooks++];
            rb->url = strdup(url->text);
            rb->matchers = matcher_set_new();
            if (!rb->url || !rb->matchers) return QERR_NOMEM;
            char msg[256];
            if (matcher_set_from_node(rb->matchers, ms, c->path, msg, sizeof(msg)) != QERR_OK) {
                snprintf(c->errbuf, c->errlen, "%s", msg);
                return QERR_INVALID;
            }
        } else {
            if (want_kind(c, kw, CONF_NODE_SEQ, "keywords") != QERR_OK) return QERR_INVALID;
            keyword_rule_t *k = &rt->keywords[rt->n_keywords++];
            k->url = strdup(url->text);
            k->words = calloc(kw->n + 1, sizeof(char *));
            if (!k->url || !k->words) return QERR_NOMEM;
            for (size_t j = 0; j < kw->n; j++) {
                if (want_kind(c, &kw->items[j], CONF_NODE_SCALAR, "a keyword") != QERR_OK)
                    return QERR_INVALID;
                char *w = strdup(kw->items[j].text);
                if (!w) return QERR_NOMEM;
                for (char *p = w; *p; p++)
                    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
                k->words[k->n_words++] = w;
            }
        }
    }
    return QERR_OK;
}

static qerr_t compile_novelty_urgency(compile_t *c, const conf_t *conf)
{
    routing_t *rt = c->rt;
    rt->novelty_window_ms = 30LL * 86400000;
    rt->urgency_high_up_to = 2;
    const conf_node_t *nv = conf->novelty, *ur = conf->urgency;
    if (nv) {
        if (want_kind(c, nv, CONF_NODE_MAP, "novelty") != QERR_OK) return QERR_INVALID;
        for (size_t i = 0; i < nv->n; i++) {
            const conf_node_t *k = &nv->keys[i], *v = &nv->items[i];
            uint64_t days;
            if (!strcmp(k->text, "days")) {
                if (get_uint(c, v, "novelty.days", 3650, &days) != QERR_OK) return QERR_INVALID;
                if (!days) return fail(c, v, "novelty.days must be at least 1");
                rt->novelty_window_ms = (int64_t)days * 86400000;
            } else if (!strcmp(k->text, "labels")) {
                if (want_kind(c, v, CONF_NODE_SEQ, "novelty.labels") != QERR_OK)
                    return QERR_INVALID;
                rt->novelty_labels = calloc(v->n + 1, sizeof(char *));
                if (!rt->novelty_labels) return QERR_NOMEM;
                for (size_t j = 0; j < v->n; j++) {
                    if (want_kind(c, &v->items[j], CONF_NODE_SCALAR, "a label") != QERR_OK)
                        return QERR_INVALID;
                    if (!(rt->novelty_labels[rt->n_novelty_labels++] = strdup(v->items[j].text)))
                        return QERR_NOMEM;
                }
                qsort(rt->novelty_labels, rt->n_novelty_labels, sizeof(char *), cmp_str);
            } else
                return fail(c, k, "unknown novelty key \"%s\" (days, labels)", k->text);
        }
    }
    if (ur) {
        if (want_kind(c, ur, CONF_NODE_MAP, "urgency") != QERR_OK) return QERR_INVALID;
        for (size_t i = 0; i < ur->n; i++) {
            const conf_node_t *k = &ur->keys[i], *v = &ur->items[i];
            if (!strcmp(k->text, "high_up_to")) {
                if (want_kind(c, v, CONF_NODE_SCALAR, "urgency.high_up_to") != QERR_OK)
                    return QERR_INVALID;
                const char *t = v->text;
                if (!strncmp(t, "SEV", 3) || !strncmp(t, "sev", 3)) t += 3;
                if (t[0] < '0' || t[0] > '5' || t[1])
                    return fail(c, v, "urgency.high_up_to must be SEV0..SEV5 (SEV0: none)");
                rt->urgency_high_up_to = (uint32_t)(t[0] - '0');
            } else if (!strcmp(k->text, "high_matchers")) {
                rt->urgency_high = matcher_set_new();
                char msg[256];
                if (!rt->urgency_high) return QERR_NOMEM;
                if (matcher_set_from_node(rt->urgency_high, v, c->path, msg, sizeof(msg)) !=
                    QERR_OK) {
                    snprintf(c->errbuf, c->errlen, "%s", msg);
                    return QERR_INVALID;
                }
            } else
                return fail(c, k, "unknown urgency key \"%s\" (high_up_to, high_matchers)",
                            k->text);
        }
    }
    return QERR_OK;
}

/* ---- public ----------------------------------------------------------- */

void routing_destroy(routing_t *rt)
{
    if (!rt) return;
    time_interval_set_destroy(rt->intervals);
    for (size_t i = 0; i < rt->n_routes; i++) route_free(rt->routes[i]);
    free(rt->routes);
    for (size_t i = 0; i < rt->n_receivers; i++) {
        receiver_t *r = &rt->receivers[i];
        free(r->name);
        free(r->url);
        free(r->routing_key);
        free(r->topic);
        free(r->path);
        free(r->external_url);
    }
    free(rt->receivers);
    for (size_t i = 0; i < rt->n_runbooks; i++) {
        matcher_set_destroy(rt->runbooks[i].matchers);
        free(rt->runbooks[i].url);
    }
    free(rt->runbooks);
    for (size_t i = 0; i < rt->n_keywords; i++) {
        for (size_t j = 0; j < rt->keywords[i].n_words; j++) free(rt->keywords[i].words[j]);
        free(rt->keywords[i].words);
        free(rt->keywords[i].url);
    }
    free(rt->keywords);
    matcher_set_destroy(rt->urgency_high);
    for (size_t i = 0; i < rt->n_novelty_labels; i++) free(rt->novelty_labels[i]);
    free(rt->novelty_labels);
    free(rt);
}

qerr_t routing_compile(const conf_t *conf, routing_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    compile_t c = {conf->path && *conf->path ? conf->path : "config", errbuf, errlen, NULL};
    if (!conf->route) {
        if (conf->receivers)
            return fail(&c, conf->receivers, "`receivers:` without a `route:` sends nothing");
        return QERR_OK;
    }
    c.rt = calloc(1, sizeof(routing_t));
    if (!c.rt) return QERR_NOMEM;
    route_t *root = NULL;
    qerr_t err = compile_receivers(&c, conf);
    if (err == QERR_OK) err = time_interval_set_compile(conf, &c.rt->intervals, errbuf, errlen);
    if (err == QERR_OK) err = compile_route(&c, conf->route, NULL, 0, &root);
    if (err == QERR_OK) err = compile_runbooks(&c, conf->runbooks);
    if (err == QERR_OK) err = compile_novelty_urgency(&c, conf);
    if (err == QERR_NOMEM) snprintf(errbuf, errlen, "out of memory compiling the routing tree");
    if (err != QERR_OK) {
        routing_destroy(c.rt);
        return err;
    }
    for (size_t i = 0; i < c.rt->n_routes; i++)
        if (c.rt->routes[i]->dedup_window_ms > c.rt->max_dedup_window_ms)
            c.rt->max_dedup_window_ms = c.rt->routes[i]->dedup_window_ms;
    *out = c.rt;
    return QERR_OK;
}

static size_t match_route(const route_t *r, const label_t *labels, uint32_t n, const route_t **out,
                          size_t cap, size_t found)
{
    if (!matcher_set_matches(r->matchers, labels, n)) return found;
    size_t before = found;
    for (size_t i = 0; i < r->n_children; i++) {
        size_t was = found;
        found = match_route(r->children[i], labels, n, out, cap, found);
        if (found > was && !r->children[i]->cont) break;
    }
    if (found == before) {
        if (found < cap) out[found] = r;
        found++;
    }
    return found;
}

size_t routing_match(const routing_t *rt, const label_t *labels, uint32_t n_labels,
                     const route_t **out, size_t cap)
{
    return match_route(rt->routes[0], labels, n_labels, out, cap, 0);
}

size_t routing_walk(const routing_t *rt, const route_t **out, size_t cap)
{
    for (size_t i = 0; i < rt->n_routes && i < cap; i++) out[i] = rt->routes[i];
    return rt->n_routes;
}

size_t routing_n_receivers(const routing_t *rt) { return rt->n_receivers; }
const receiver_t *routing_receiver(const routing_t *rt, size_t i) { return &rt->receivers[i]; }
size_t routing_n_routes(const routing_t *rt) { return rt->n_routes; }

int64_t routing_max_dedup_window_ms(const routing_t *rt)
{
    return rt ? rt->max_dedup_window_ms : 0; /* per alert on the workers: computed at compile */
}

int64_t routing_dedup_window_ms(const routing_t *rt, const alert_t *a, int64_t keep_ms)
{
    const route_t *first[1];
    if (!rt || rt->max_dedup_window_ms == 0 ||
        routing_match(rt, a->labels, a->n_labels, first, 1) == 0)
        return 0;
    int64_t ms = first[0]->dedup_window_ms;
    return ms < keep_ms ? ms : keep_ms;
}

/* ---- enrichment ------------------------------------------------------- */

static bool contains_ci(str_t hay, const char *needle)
{
    size_t n = strlen(needle);
    if (!n || n > hay.len) return n == 0;
    for (size_t i = 0; i + n <= hay.len; i++) {
        size_t j = 0;
        while (j < n) {
            char c = hay.ptr[i + j];
            if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
            if (c != needle[j]) break;
            j++;
        }
        if (j == n) return true;
    }
    return false;
}

static str_t find_label(const label_t *l, uint32_t n, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < n; i++)
        if (l[i].name.len == len && !memcmp(l[i].name.ptr, name, len)) return l[i].value;
    return (str_t){"", 0};
}

void routing_enrich(const routing_t *rt, const alert_t *a, const incident_t *inc, enrichment_t *out)
{
    *out = (enrichment_t){0};
    for (size_t i = 0; i < rt->n_runbooks && !out->runbook_url; i++)
        if (matcher_set_matches(rt->runbooks[i].matchers, a->labels, a->n_labels))
            out->runbook_url = rt->runbooks[i].url;
    if (!out->runbook_url && rt->n_keywords) {
        str_t name = find_label(a->labels, a->n_labels, "alertname");
        str_t sum = find_label(a->annotations, a->n_annotations, "summary");
        for (size_t i = 0; i < rt->n_keywords && !out->runbook_url; i++)
            for (size_t j = 0; j < rt->keywords[i].n_words && !out->runbook_url; j++)
                if (contains_ci(name, rt->keywords[i].words[j]) ||
                    contains_ci(sum, rt->keywords[i].words[j]))
                    out->runbook_url = rt->keywords[i].url;
    }
    out->urgency_high =
        (inc->severity && inc->severity <= rt->urgency_high_up_to) ||
        (rt->urgency_high && matcher_set_matches(rt->urgency_high, a->labels, a->n_labels));
}

/* ---- novelty ---------------------------------------------------------- */

/* Signature hash -> last seen, open addressing; entries older than the
 * window count as unseen and are overwritten in place. In memory only. */
struct novelty {
    const routing_t *rt;
    uint64_t *keys;
    int64_t *seen_ms;
    size_t cap, used;
};

novelty_t *novelty_new(const routing_t *rt)
{
    novelty_t *nv = calloc(1, sizeof(*nv));
    if (!nv) return NULL;
    nv->rt = rt;
    nv->cap = 1024;
    nv->keys = calloc(nv->cap, sizeof(uint64_t));
    nv->seen_ms = calloc(nv->cap, sizeof(int64_t));
    if (!nv->keys || !nv->seen_ms) {
        novelty_destroy(nv);
        return NULL;
    }
    return nv;
}

void novelty_destroy(novelty_t *nv)
{
    if (!nv) return;
    free(nv->keys);
    free(nv->seen_ms);
    free(nv);
}

bool novelty_carry(novelty_t *to, const novelty_t *from)
{
    uint64_t *keys = malloc(from->cap * sizeof(uint64_t));
    int64_t *seen = malloc(from->cap * sizeof(int64_t));
    if (!keys || !seen) {
        free(keys);
        free(seen);
        return false;
    }
    memcpy(keys, from->keys, from->cap * sizeof(uint64_t));
    memcpy(seen, from->seen_ms, from->cap * sizeof(int64_t));
    free(to->keys);
    free(to->seen_ms);
    to->keys = keys;
    to->seen_ms = seen;
    to->cap = from->cap;
    to->used = from->used;
    return true;
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return h;
}

static size_t novelty_slot(const novelty_t *nv, uint64_t key)
{
    size_t mask = nv->cap - 1;
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ULL >> 20) & mask;
    while (nv->keys[i] && nv->keys[i] != key) i = (i + 1) & mask;
    return i;
}

static void novelty_grow(novelty_t *nv)
{
    novelty_t old = *nv;
    nv->cap *= 2;
    nv->keys = calloc(nv->cap, sizeof(uint64_t));
    nv->seen_ms = calloc(nv->cap, sizeof(int64_t));
    if (!nv->keys || !nv->seen_ms) {
        free(nv->keys);
        free(nv->seen_ms);
        *nv = old; /* keep the old table: lookups stay right, just fuller */
        return;
    }
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.keys[i]) continue;
        size_t s = novelty_slot(nv, old.keys[i]);
        nv->keys[s] = old.keys[i];
        nv->seen_ms[s] = old.seen_ms[i];
    }
    free(old.keys);
    free(old.seen_ms);
}

int64_t novelty_window_ms(const novelty_t *nv) { return nv->rt->novelty_window_ms; }

uint64_t novelty_signature(const novelty_t *nv, const alert_t *a)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    str_t name = find_label(a->labels, a->n_labels, "alertname");
    h = fnv(h, name.ptr, name.len);
    for (size_t i = 0; i < nv->rt->n_novelty_labels; i++) {
        str_t v = find_label(a->labels, a->n_labels, nv->rt->novelty_labels[i]);
        h = fnv(h, "\xff", 1);
        h = fnv(h, v.ptr, v.len);
    }
    return h ? h : 1;
}

bool novelty_check(novelty_t *nv, const alert_t *a, int64_t now_ms)
{
    uint64_t h = novelty_signature(nv, a);
    if ((nv->used + 1) * 4 > nv->cap * 3) novelty_grow(nv);
    size_t s = novelty_slot(nv, h);
    bool novel = !nv->keys[s] || now_ms - nv->seen_ms[s] > nv->rt->novelty_window_ms;
    if (!nv->keys[s]) nv->used++;
    nv->keys[s] = h;
    nv->seen_ms[s] = now_ms;
    return novel;
}
