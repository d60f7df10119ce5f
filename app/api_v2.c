/*
 * The Alertmanager API v2 (api_v2.h), answered as Alertmanager 0.25 does:
 * the paths, status codes and JSON field names of its OpenAPI spec
 * (api/v2/openapi.yaml). Errors are JSON strings (400, 500), 404 bodies
 * are empty, missing required fields get go-swagger's 422
 * {"code":602,"message":...}.
 *
 * Threads: HTTP connection threads. Silences go through the silencer (its
 * own mutex); alerts are read from the decision log's rings (lock-free
 * copies), never from a worker's table. The routing and what is derived
 * from the config (config.original, the root receiver) come from the
 * current routing generation (routing_live_t, no lock), read once per
 * request, so a reload (SIGHUP) shows at the next request.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "../router/router.h"
#include "api_v2.h"

/* What the API derives from one config (a routing generation's view). */
typedef struct {
    char *original; /* config.original: an Alertmanager config derived from quell's */
    char *receiver; /* the routing tree's root receiver */
} api_view_t;

struct api_v2 {
    api_v2_opts_t o;
    int64_t started_ms;
    char cluster_name[40];
    /* Without o.routing: the config's, fixed. */
    api_view_t *own_view;
    routing_t *own_routes; /* NULL: no `route:`, one implicit receiver */
};

static void fmt_time(int64_t ms, char out[40])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    memcpy(out, buf, 39);
    out[39] = '\0';
}

static void json_string(mbuf_t *b, const char *s)
{
    mbuf_append(b, "\"", 1);
    mbuf_json_str(b, s, strlen(s));
    mbuf_append(b, "\"", 1);
}

/* ---- config.original: what an Alertmanager would make of quell's routing.
 * Only keys Alertmanager knows are written, so amtool can load it. */

static void yaml_scalar(mbuf_t *b, const char *s)
{
    json_string(b, s); /* a JSON string is a valid YAML double-quoted scalar */
}

static void yaml_route(mbuf_t *b, const conf_node_t *r, int indent)
{
    static const char *const keys[] = {"receiver", "continue", "group_wait", "group_interval",
                                       "repeat_interval"};
    bool first = true;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const conf_node_t *v = conf_node_get(r, keys[k]);
        if (!v || v->kind != CONF_NODE_SCALAR) continue;
        mbuf_printf(b, "%*s%s%s: ", first ? 0 : indent, "", "", keys[k]);
        if (!strcmp(keys[k], "continue"))
            mbuf_printf(b, "%s\n", v->text);
        else
            yaml_scalar(b, v->text), mbuf_append(b, "\n", 1);
        first = false;
    }
    static const char *const lists[] = {"group_by", "matchers"};
    for (size_t k = 0; k < 2; k++) {
        const conf_node_t *v = conf_node_get(r, lists[k]);
        if (!v) continue;
        mbuf_printf(b, "%*s%s: [", first ? 0 : indent, "", lists[k]);
        first = false;
        if (v->kind == CONF_NODE_SCALAR) yaml_scalar(b, v->text);
        for (size_t i = 0; v->kind == CONF_NODE_SEQ && i < v->n; i++) {
            if (i) mbuf_append(b, ", ", 2);
            yaml_scalar(b, v->items[i].text);
        }
        mbuf_append(b, "]\n", 2);
    }
    static const char *const maps[] = {"match", "match_re"};
    for (size_t k = 0; k < 2; k++) {
        const conf_node_t *v = conf_node_get(r, maps[k]);
        if (!v || v->kind != CONF_NODE_MAP) continue;
        mbuf_printf(b, "%*s%s: {", first ? 0 : indent, "", maps[k]);
        first = false;
        for (size_t i = 0; i < v->n; i++) {
            if (i) mbuf_append(b, ", ", 2);
            yaml_scalar(b, v->keys[i].text);
            mbuf_append(b, ": ", 2);
            yaml_scalar(b, v->items[i].text);
        }
        mbuf_append(b, "}\n", 2);
    }
    const conf_node_t *sub = conf_node_get(r, "routes");
    if (sub && sub->kind == CONF_NODE_SEQ && sub->n) {
        mbuf_printf(b, "%*sroutes:\n", first ? 0 : indent, "");
        for (size_t i = 0; i < sub->n; i++) {
            mbuf_printf(b, "%*s- ", indent, "");
            yaml_route(b, &sub->items[i], indent + 2);
        }
    }
    if (first) mbuf_append(b, "{}\n", 3);
}

static char *config_original(const conf_t *c, const char *receiver)
{
    mbuf_t b = {0};
    mbuf_append(&b, "# Derived by quell from its routing: only keys Alertmanager knows.\n", 67);
    mbuf_append(&b, "route:\n  ", 9);
    if (c->route && c->route->kind == CONF_NODE_MAP) {
        if (!conf_node_get(c->route, "receiver")) {
            mbuf_append(&b, "receiver: ", 10);
            yaml_scalar(&b, receiver);
            mbuf_append(&b, "\n  ", 3);
        }
        yaml_route(&b, c->route, 2);
    } else {
        mbuf_append(&b, "receiver: ", 10);
        yaml_scalar(&b, receiver);
        mbuf_append(&b, "\n", 1);
    }
    mbuf_append(&b, "receivers:\n", 11);
    bool any = false;
    for (size_t i = 0; c->receivers && c->receivers->kind == CONF_NODE_SEQ && i < c->receivers->n;
         i++) {
        const conf_node_t *n = conf_node_get(&c->receivers->items[i], "name");
        if (!n) continue;
        mbuf_append(&b, "- name: ", 8);
        yaml_scalar(&b, n->text);
        mbuf_append(&b, "\n", 1);
        any = true;
    }
    if (!any) {
        mbuf_append(&b, "- name: ", 8);
        yaml_scalar(&b, receiver);
        mbuf_append(&b, "\n", 1);
    }
    if (b.oom) {
        mbuf_free(&b);
        return NULL;
    }
    return b.buf;
}

void *api_v2_view_new(const conf_t *c)
{
    api_view_t *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    const conf_node_t *r = c->route ? conf_node_get(c->route, "receiver") : NULL;
    v->receiver = strdup(r && r->kind == CONF_NODE_SCALAR ? r->text : c->kafka.output_topic);
    v->original = v->receiver ? config_original(c, v->receiver) : NULL;
    if (!v->original) {
        api_v2_view_free(v);
        return NULL;
    }
    return v;
}

void api_v2_view_free(void *view)
{
    api_view_t *v = view;
    if (!v) return;
    free(v->original);
    free(v->receiver);
    free(v);
}

/* The routing and view to answer one request with. */
static const api_view_t *view_of(const api_v2_t *a, const routing_t **routes)
{
    if (!a->o.routing) {
        *routes = a->own_routes;
        return a->own_view;
    }
    const routing_gen_t *g = routing_live_current(a->o.routing);
    *routes = g->routing;
    return g->view;
}

api_v2_t *api_v2_new(const api_v2_opts_t *o)
{
    api_v2_t *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->o = *o;
    a->started_ms = clock_wall_ms();
    /* Stable over restarts: this host and this listen address. */
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    XXH64_hash_t h = XXH3_64bits_withSeed(host, strlen(host), 0x9E3779B97F4A7C15ull);
    h = XXH3_64bits_withSeed(o->conf->http.listen, strlen(o->conf->http.listen), h);
    char hex[17];
    hex16(h, hex);
    snprintf(a->cluster_name, sizeof a->cluster_name, "quell-%s", hex);
    if (o->routing) return a;
    if (!(a->own_view = api_v2_view_new(o->conf))) {
        free(a);
        return NULL;
    }
    char err[512];
    if (routing_compile(o->conf, &a->own_routes, err, sizeof err) != QERR_OK) {
        log_warn("api", "alerts are listed without their receivers: %s", err);
        a->own_routes = NULL;
    }
    return a;
}

void api_v2_destroy(api_v2_t *a)
{
    if (!a) return;
    api_v2_view_free(a->own_view);
    routing_destroy(a->own_routes);
    free(a);
}

static void set_json(http_resp_t *resp, int status)
{
    resp->status = status;
    resp->content_type = "application/json";
}

/* ---- status, receivers -------------------------------------------------- */

static void on_status(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    (void)req;
    api_v2_t *a = ctx;
    char up[40];
    fmt_time(a->started_ms, up);
    mbuf_t *b = &resp->body;
    mbuf_append(b, "{\"cluster\":{\"name\":", 19);
    json_string(b, a->cluster_name);
    mbuf_append(b, ",\"status\":\"ready\",\"peers\":[{\"name\":", 35);
    json_string(b, a->cluster_name);
    mbuf_append(b, ",\"address\":", 11);
    json_string(b, a->o.conf->http.listen);
    mbuf_append(b, "}]},\"config\":{\"original\":", 25);
    const routing_t *routes;
    const api_view_t *v = view_of(a, &routes);
    json_string(b, v && v->original ? v->original : "");
    mbuf_printf(b,
                "},\"uptime\":\"%s\",\"versionInfo\":{\"branch\":\"quell\",\"buildDate\":\"\","
                "\"buildUser\":\"quell\",\"goVersion\":\"none (C)\",\"revision\":\"quell\","
                "\"version\":\"%s\"}}",
                up, QUELL_VERSION);
    set_json(resp, 200);
}

static void on_receivers(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    (void)req;
    api_v2_t *a = ctx;
    const routing_t *routes;
    const api_view_t *v = view_of(a, &routes);
    mbuf_t *b = &resp->body;
    mbuf_append(b, "[", 1);
    size_t n = routes ? routing_n_receivers(routes) : 0;
    for (size_t i = 0; i < n; i++) {
        mbuf_append(b, i ? ",{\"name\":" : "{\"name\":", i ? 9 : 8);
        json_string(b, routing_receiver(routes, i)->name);
        mbuf_append(b, "}", 1);
    }
    if (!n) {
        mbuf_append(b, "{\"name\":", 8);
        json_string(b, v ? v->receiver : "");
        mbuf_append(b, "}", 1);
    }
    mbuf_append(b, "]", 1);
    set_json(resp, 200);
}

/* ---- silences ------------------------------------------------------------ */

static bool silencer_there(api_v2_t *a, http_resp_t *resp)
{
    if (a->o.silencer) return true;
    mbuf_append(&resp->body, "\"silences are not available\"", 28);
    set_json(resp, 503);
    return false;
}

static void on_silences_get(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    api_v2_t *a = ctx;
    if (!silencer_there(a, resp)) return;
    const char *filters[16];
    size_t n = http_req_query_all(req, "filter", filters, 16);
    set_json(resp, silencer_list(a->o.silencer, filters, n, &resp->body));
}

static void on_silences_post(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    api_v2_t *a = ctx;
    if (!silencer_there(a, resp)) return;
    set_json(resp, silencer_post(a->o.silencer, req->body, req->body_len, &resp->body));
}

static const char *silence_id(const http_req_t *req)
{
    return req->path + strlen("/api/v2/silence/");
}

/* go-swagger checks {silenceID} is a UUID (strfmt: 8-4-4-4-12 hex digits,
 * or 32 without the dashes) before the handler runs: 422, code 601. */
static bool silence_id_valid(const http_req_t *req, http_resp_t *resp)
{
    const char *id = silence_id(req);
    size_t len = strlen(id), digits = 0;
    bool ok = len == 36 || len == 32;
    for (size_t i = 0; ok && i < len; i++) {
        bool dash = len == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
        ok = dash ? id[i] == '-' : (strchr("0123456789abcdefABCDEF", id[i]) && id[i]);
        digits += !dash;
    }
    if (ok && digits == 32) return true;
    static const char head[] = "{\"code\":601,\"message\":\"silenceID in path must be of type "
                               "uuid: \\\"";
    mbuf_append(&resp->body, head, sizeof(head) - 1);
    mbuf_json_str(&resp->body, id, len);
    mbuf_append(&resp->body, "\\\"\"}", 4);
    set_json(resp, 422);
    return false;
}

static void on_silence_get(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    api_v2_t *a = ctx;
    if (!silence_id_valid(req, resp) || !silencer_there(a, resp)) return;
    set_json(resp, silencer_get(a->o.silencer, silence_id(req), &resp->body));
}

static void on_silence_delete(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    api_v2_t *a = ctx;
    if (!silence_id_valid(req, resp) || !silencer_there(a, resp)) return;
    set_json(resp, silencer_expire(a->o.silencer, silence_id(req), &resp->body));
}

/* ---- alerts ---------------------------------------------------------------- */

/* One group of GET /api/v2/alerts/groups: a route and the values of its
 * group_by labels, as Alertmanager's dispatcher makes them. */
typedef struct {
    const route_t *route;  /* NULL: no routing tree (one implicit receiver) */
    char *key;             /* route id + the group labels' JSON */
    uint64_t key_hash;     /* of key, for list_t.g_index */
    mbuf_t labels;         /* the group labels as a JSON object */
    label_t *group_labels; /* owned copy, sorted by name: the group's order */
    uint32_t n_group_labels;
    size_t *items; /* indexes into list_t.items */
    size_t n, cap;
} group_t;

/* One listed alert, kept until the answer is sorted as Alertmanager sorts
 * it (by fingerprint; in a group by job, instance, then labels). */
typedef struct {
    uint64_t fingerprint;
    mbuf_t json;
    label_t *labels; /* owned copy (one block), sorted by name */
    uint32_t n_labels;
} item_t;

typedef struct {
    api_v2_t *a;
    const routing_t *routes;   /* this request's routing generation */
    const char *root_receiver; /* and its root receiver */
    int64_t now;
    silences_t *sil;
    matcher_set_t *filter;   /* NULL = all */
    matcher_set_t *receiver; /* receiver=~RE, NULL = all */
    bool want_silenced, want_inhibited, want_active;
    uint64_t *seen; /* fingerprints already listed (latest decision wins) */
    size_t seen_mask;
    bool groups;
    group_t *g;
    size_t n_g, cap_g;
    /* Open addressing over g by key_hash: index + 1, 0 = free; at most
     * half full. An alert finds its group in O(1), not by a scan of the
     * groups so far (100k alerts in 10k groups: 10^9 compares). */
    uint32_t *g_index;
    size_t g_index_mask;
    item_t *items;
    size_t n_items, cap_items;
    bool oom;
} list_t;

static bool seen_add(list_t *l, uint64_t fp)
{
    if (!fp) fp = 1;
    for (size_t i = fp & l->seen_mask;; i = (i + 1) & l->seen_mask) {
        if (l->seen[i] == fp) return false;
        if (!l->seen[i]) {
            l->seen[i] = fp;
            return true;
        }
    }
}

static const char *receiver_name(const list_t *l, const route_t *r)
{
    return r && r->receiver ? r->receiver->name : l->root_receiver;
}

static bool in_group_by(const route_t *r, const label_t *l)
{
    if (!r) return false;
    bool in = r->group_by_all;
    for (size_t k = 0; !in && k < r->n_group_by; k++)
        in = strlen(r->group_by[k]) == l->name.len &&
             !memcmp(r->group_by[k], l->name.ptr, l->name.len);
    return in;
}

/* An owned copy of lv (all of it, or with `group_of` only the labels in
 * that route's group_by) in one block; NULL on OOM. */
static label_t *labels_copy(const label_t *lv, uint32_t nl, bool group, const route_t *group_of,
                            uint32_t *n_out)
{
    size_t bytes = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < nl; i++)
        if (!group || in_group_by(group_of, &lv[i])) {
            bytes += lv[i].name.len + lv[i].value.len;
            n++;
        }
    label_t *out = malloc(n * sizeof *out + bytes + 1);
    if (!out) return NULL;
    char *p = (char *)(out + n);
    uint32_t j = 0;
    for (uint32_t i = 0; i < nl; i++) {
        if (group && !in_group_by(group_of, &lv[i])) continue;
        memcpy(p, lv[i].name.ptr, lv[i].name.len);
        out[j].name = (str_t){p, lv[i].name.len};
        p += lv[i].name.len;
        memcpy(p, lv[i].value.ptr, lv[i].value.len);
        out[j].value = (str_t){p, lv[i].value.len};
        p += lv[i].value.len;
        j++;
    }
    *n_out = n;
    return out;
}

static int str_cmp(str_t a, str_t b)
{
    int c = memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len);
    if (c) return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

int api_labels_cmp(const label_t *a, uint32_t na, const label_t *b, uint32_t nb)
{
    if (na != nb) return na < nb ? -1 : 1;
    /* Over the union of the names in order: the first name one set lacks
     * puts the set that has it after; else the first differing value. */
    uint32_t i = 0, j = 0;
    while (i < na && j < nb) {
        int c = str_cmp(a[i].name, b[j].name);
        if (c < 0) return 1;  /* a has a name b lacks */
        if (c > 0) return -1; /* b has a name a lacks */
        c = str_cmp(a[i].value, b[j].value);
        if (c) return c;
        i++;
        j++;
    }
    return 0;
}

static const label_t *label_named(const label_t *lv, uint32_t nl, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < nl; i++)
        if (lv[i].name.len == len && !memcmp(lv[i].name.ptr, name, len)) return &lv[i];
    return NULL;
}

int api_group_alert_cmp(const label_t *a, uint32_t na, const label_t *b, uint32_t nb)
{
    static const char *const keys[] = {"job", "instance"};
    for (size_t k = 0; k < 2; k++) {
        const label_t *x = label_named(a, na, keys[k]), *y = label_named(b, nb, keys[k]);
        if (!x && !y) continue;
        if (!x) return 1; /* the alert with the label comes first */
        if (!y) return -1;
        int c = str_cmp(x->value, y->value);
        if (c) return c;
    }
    return api_labels_cmp(a, na, b, nb);
}

/* The group labels of an alert on route r: its group_by labels (all with
 * `[...]`), as a JSON object. */
static void group_labels(const route_t *r, const label_t *lv, uint32_t nl, mbuf_t *b)
{
    mbuf_append(b, "{", 1);
    bool first = true;
    for (uint32_t i = 0; r && i < nl; i++) {
        if (!in_group_by(r, &lv[i])) continue;
        mbuf_append(b, first ? "\"" : ",\"", first ? 1 : 2);
        mbuf_json_str(b, lv[i].name.ptr, lv[i].name.len);
        mbuf_append(b, "\":\"", 3);
        mbuf_json_str(b, lv[i].value.ptr, lv[i].value.len);
        mbuf_append(b, "\"", 1);
        first = false;
    }
    mbuf_append(b, "}", 1);
}

/* The slot of g_index holding the group of `key` (hash h), or the free
 * slot where it goes. */
static size_t group_slot(const list_t *l, uint64_t h, const char *key)
{
    size_t i = (size_t)h & l->g_index_mask;
    for (;; i = (i + 1) & l->g_index_mask) {
        uint32_t at = l->g_index[i];
        if (!at) return i;
        const group_t *g = &l->g[at - 1];
        if (g->key_hash == h && !strcmp(g->key, key)) return i;
    }
}

/* Doubles g_index once it is half full; false when out of memory. */
static bool group_index_room(list_t *l)
{
    size_t slots = l->g_index ? l->g_index_mask + 1 : 0;
    if (2 * (l->n_g + 1) <= slots) return true;
    size_t ns = slots ? slots * 2 : 64;
    uint32_t *ni = calloc(ns, sizeof *ni);
    if (!ni) return false;
    free(l->g_index);
    l->g_index = ni;
    l->g_index_mask = ns - 1;
    for (size_t k = 0; k < l->n_g; k++)
        l->g_index[group_slot(l, l->g[k].key_hash, l->g[k].key)] = (uint32_t)(k + 1);
    return true;
}

static void add_to_group(list_t *l, const route_t *r, const label_t *lv, uint32_t nl, size_t item)
{
    mbuf_t key = {0}, gl = {0};
    group_labels(r, lv, nl, &gl);
    mbuf_printf(&key, "%u:", r ? r->id : 0);
    mbuf_append(&key, gl.buf ? gl.buf : "", gl.len);
    mbuf_append(&key, "", 1);
    if (key.oom || gl.oom || !group_index_room(l) || l->n_g >= UINT32_MAX) {
        l->oom = true;
        goto out;
    }
    uint64_t h = XXH3_64bits(key.buf, key.len - 1);
    size_t slot = group_slot(l, h, key.buf);
    size_t i;
    if (l->g_index[slot]) {
        i = l->g_index[slot] - 1;
    } else {
        if (l->n_g == l->cap_g) {
            size_t nc = l->cap_g ? l->cap_g * 2 : 16;
            group_t *ng = realloc(l->g, nc * sizeof *ng);
            if (!ng) {
                l->oom = true;
                goto out;
            }
            l->g = ng;
            l->cap_g = nc;
        }
        group_t ng = {.route = r, .key_hash = h, .key = strdup(key.buf), .labels = gl};
        ng.group_labels = labels_copy(lv, nl, true, r, &ng.n_group_labels);
        if (!ng.key || !ng.group_labels) { /* gl is freed at out */
            free(ng.key);
            free(ng.group_labels);
            l->oom = true;
            goto out;
        }
        gl = (mbuf_t){0};
        i = l->n_g++;
        l->g[i] = ng;
        l->g_index[slot] = (uint32_t)(i + 1);
    }
    group_t *g = &l->g[i];
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 8;
        size_t *ni = realloc(g->items, nc * sizeof *ni);
        if (!ni) {
            l->oom = true;
            goto out;
        }
        g->items = ni;
        g->cap = nc;
    }
    g->items[g->n++] = item;
out:
    mbuf_free(&key);
    mbuf_free(&gl);
}

static bool list_one(void *ctx, const declog_rec_t *r)
{
    list_t *l = ctx;
    if (!seen_add(l, r->fingerprint)) return true; /* an older decision of a listed one */
    decision_kind_t k = (decision_kind_t)r->kind;
    /* Open while its incident may be, and until its end as a route group
     * counts it (Alertmanager lists no alert whose endsAt has passed):
     * its endsAt, else its last occurrence + global.resolve_timeout. */
    int64_t resolve_ms = l->a->o.conf->global.resolve_timeout_ms;
    bool open = r->firing && k != DECISION_FORWARD_RESOLVED &&
                k != DECISION_SUPPRESS_RESOLVED_NO_INCIDENT &&
                r->decided_ms + l->a->o.conf->dedup.window_ms > l->now &&
                router_alert_ends_ms(r->ends_ms, r->event_ms, r->decided_ms, resolve_ms) > l->now;
    if (!open) return true;
    label_t lv[512];
    uint32_t nl = declog_rec_labels(r, false, lv, 512); /* sorted, as the alert's were */
    if (l->filter && !matcher_set_matches(l->filter, lv, nl)) return true;
    /* Its receivers: the routes it matches (Alertmanager's order). */
    const route_t *routes[16];
    size_t nr = l->routes ? routing_match(l->routes, lv, nl, routes, 16) : 0;
    if (nr > 16) nr = 16;
    if (nr == 0) routes[nr++] = NULL;
    bool wanted[16]; /* route i's receiver passes receiver= */
    bool any = false;
    for (size_t i = 0; i < nr; i++) {
        const char *name = receiver_name(l, routes[i]);
        label_t rl = {{"receiver", 8}, {name, (uint32_t)strlen(name)}};
        wanted[i] = !l->receiver || matcher_set_matches(l->receiver, &rl, 1);
        any |= wanted[i];
    }
    if (!any) return true;
    mbuf_t sb = {0};
    silences_match_all_json(l->sil, lv, nl, l->now, &sb);
    bool silenced = sb.len > 2;
    bool inhibited = k == DECISION_SUPPRESS_INHIBITED;
    bool excluded = k == DECISION_SUPPRESS_EXCLUDED && !r->silenced;
    bool suppressed = silenced || inhibited || excluded;
    bool keep = true;
    if (silenced && !l->want_silenced) keep = false;
    if (inhibited && !l->want_inhibited) keep = false;
    if (!suppressed && !l->want_active) keep = false;
    if (keep) {
        mbuf_t one = {0}, *b = &one;
        char fp[17], t[40];
        hex16(r->fingerprint, fp);
        mbuf_append(b, "{\"annotations\":", 15);
        declog_rec_labels_json(r, true, b);
        /* Alertmanager's: received without endsAt, it gets now + resolve_timeout. */
        int64_t end = r->ends_ms ? r->ends_ms : r->decided_ms + resolve_ms;
        fmt_time(end, t);
        mbuf_printf(b, ",\"endsAt\":\"%s\",\"fingerprint\":\"%s\",\"receivers\":[", t, fp);
        for (size_t i = 0; i < nr; i++) {
            const char *name = receiver_name(l, routes[i]);
            bool dup = false;
            for (size_t j = 0; j < i && !dup; j++) dup = !strcmp(name, receiver_name(l, routes[j]));
            if (dup) continue;
            mbuf_append(b, i ? ",{\"name\":" : "{\"name\":", i ? 9 : 8);
            json_string(b, name);
            mbuf_append(b, "}", 1);
        }
        fmt_time(r->starts_ms       ? r->starts_ms
                 : r->first_seen_ms ? r->first_seen_ms
                                    : r->event_ms,
                 t);
        mbuf_printf(b, "],\"startsAt\":\"%s\",\"status\":{\"inhibitedBy\":[", t);
        if (inhibited) json_string(b, strchr(r->reason, ':') ? strchr(r->reason, ':') + 1 : "");
        mbuf_append(b, "],\"silencedBy\":", 15);
        mbuf_append(b, sb.buf, sb.len);
        mbuf_printf(b, ",\"state\":\"%s\"}", suppressed ? "suppressed" : "active");
        fmt_time(r->decided_ms, t);
        mbuf_printf(b, ",\"updatedAt\":\"%s\"", t);
        /* omitted when empty, as Alertmanager's GettableAlert omits it */
        if (r->generator_url[0]) {
            mbuf_append(b, ",\"generatorURL\":", 16);
            json_string(b, r->generator_url);
        }
        mbuf_append(b, ",\"labels\":", 10);
        declog_rec_labels_json(r, false, b);
        mbuf_append(b, "}", 1);
        if (one.oom) l->oom = true;
        if (l->n_items == l->cap_items) {
            size_t nc = l->cap_items ? l->cap_items * 2 : 64;
            item_t *ni = realloc(l->items, nc * sizeof *ni);
            if (ni) {
                l->items = ni;
                l->cap_items = nc;
            }
        }
        item_t *it = l->n_items < l->cap_items ? &l->items[l->n_items] : NULL;
        if (it) *it = (item_t){.fingerprint = r->fingerprint, .json = one};
        if (it && l->groups) it->labels = labels_copy(lv, nl, false, NULL, &it->n_labels);
        if (!it || (l->groups && !it->labels)) {
            l->oom = true;
            if (it) free(it->labels);
            mbuf_free(&one);
        } else {
            size_t idx = l->n_items++;
            /* Groups: only those of the routes receiver= keeps, as
             * Alertmanager filters its dispatcher's routes. */
            for (size_t i = 0; l->groups && i < nr; i++)
                if (wanted[i]) add_to_group(l, routes[i], lv, nl, idx);
        }
    }
    mbuf_free(&sb);
    return true;
}

/* A boolean query parameter as Alertmanager 0.25 reads it (go-swagger's
 * binding, swag.ConvertBool): the last value given counts; an empty one
 * means the default; true, yes, 1, y, on, t, ok, checked and selected, in
 * any case, mean true, and anything else, "maybe" included, means false:
 * never an error (checked against a running Alertmanager 0.25). */
static bool bool_param(const http_req_t *req, const char *name, bool def)
{
    static const char *const truthy[] = {"true", "yes", "1",       "y",       "on",
                                         "t",    "ok",  "checked", "selected"};
    const char *vals[32];
    size_t n = http_req_query_all(req, name, vals, sizeof vals / sizeof *vals);
    if (!n || !*vals[n - 1]) return def;
    for (size_t i = 0; i < sizeof truthy / sizeof *truthy; i++)
        if (!strcasecmp(vals[n - 1], truthy[i])) return true;
    return false;
}

/* The list being sorted, for the comparators (qsort has no context
 * argument; each HTTP connection thread sorts its own list). */
static _Thread_local const list_t *sort_list;

static int item_fp_cmp(const void *x, const void *y)
{
    uint64_t a = ((const item_t *)x)->fingerprint, b = ((const item_t *)y)->fingerprint;
    return a < b ? -1 : a > b;
}

static int group_item_cmp(const void *x, const void *y)
{
    const item_t *a = &sort_list->items[*(const size_t *)x];
    const item_t *b = &sort_list->items[*(const size_t *)y];
    return api_group_alert_cmp(a->labels, a->n_labels, b->labels, b->n_labels);
}

/* Alertmanager's AlertGroups order: group labels, then receiver name. */
static int group_cmp(const void *x, const void *y)
{
    const group_t *a = x, *b = y;
    int c = api_labels_cmp(a->group_labels, a->n_group_labels, b->group_labels, b->n_group_labels);
    if (c) return c;
    return strcmp(receiver_name(sort_list, a->route), receiver_name(sort_list, b->route));
}

static void list_alerts(api_v2_t *a, const http_req_t *req, http_resp_t *resp, bool groups)
{
    list_t l = {.a = a, .now = clock_wall_ms()};
    const api_view_t *v = view_of(a, &l.routes);
    l.root_receiver = v ? v->receiver : "";
    const char *filters[16];
    size_t nf = http_req_query_all(req, "filter", filters, 16);
    char why[1024];
    /* (unprocessed: nothing quell lists is ever unprocessed) */
    l.want_silenced = bool_param(req, "silenced", true);
    l.want_inhibited = bool_param(req, "inhibited", true);
    l.want_active = bool_param(req, "active", true);
    if (nf && !(l.filter = matcher_set_new())) goto oom;
    for (size_t i = 0; i < nf; i++)
        if (matcher_set_parse_filter(l.filter, filters[i], why, sizeof why) != QERR_OK) {
            /* Alertmanager 0.25's labels.ParseMatcher and its words */
            mbuf_append(&resp->body, "\"", 1);
            mbuf_json_str(&resp->body, why, strlen(why));
            mbuf_append(&resp->body, "\"", 1);
            set_json(resp, 400);
            goto out;
        }
    const char *rcv = http_req_query(req, "receiver");
    if (rcv && *rcv) {
        if (!(l.receiver = matcher_set_new())) goto oom;
        if (matcher_set_add_api(l.receiver, "receiver", MATCH_RE, rcv, why, sizeof why) !=
            QERR_OK) {
            mbuf_printf(&resp->body, "\"failed to parse receiver param: ");
            mbuf_json_str(&resp->body, why, strlen(why));
            mbuf_append(&resp->body, "\"", 1);
            set_json(resp, 400);
            goto out;
        }
    }
    size_t slots = 1024;
    while (slots < 2 * declog_capacity(a->o.declog)) slots *= 2;
    if (!(l.seen = calloc(slots, sizeof *l.seen))) goto oom;
    l.seen_mask = slots - 1;
    l.sil = a->o.live ? rules_live_silences(a->o.live) : NULL;
    l.groups = groups;
    mbuf_t *b = &resp->body;
    mbuf_append(b, "[", 1);
    declog_each(a->o.declog, list_one, &l);
    silences_release(l.sil);
    if (l.oom) goto oom;
    sort_list = &l;
    if (!groups) {
        if (l.n_items > 1) qsort(l.items, l.n_items, sizeof *l.items, item_fp_cmp);
        for (size_t i = 0; i < l.n_items; i++) {
            if (i) mbuf_append(b, ",", 1);
            mbuf_append(b, l.items[i].json.buf, l.items[i].json.len);
        }
    } else {
        if (l.n_g > 1) qsort(l.g, l.n_g, sizeof *l.g, group_cmp);
    }
    for (size_t i = 0; groups && i < l.n_g; i++) {
        group_t *g = &l.g[i];
        if (g->n > 1) qsort(g->items, g->n, sizeof *g->items, group_item_cmp);
        mbuf_append(b, i ? ",{\"alerts\":[" : "{\"alerts\":[", i ? 12 : 11);
        for (size_t k = 0; k < g->n; k++) {
            const mbuf_t *one = &l.items[g->items[k]].json;
            if (k) mbuf_append(b, ",", 1);
            mbuf_append(b, one->buf, one->len);
        }
        mbuf_append(b, "],\"labels\":", 11);
        mbuf_append(b, g->labels.buf, g->labels.len);
        mbuf_append(b, ",\"receiver\":{\"name\":", 20);
        json_string(b, receiver_name(&l, g->route));
        mbuf_append(b, "}}", 2);
    }
    mbuf_append(b, "]", 1);
    if (l.oom) b->oom = true;
    set_json(resp, 200);
    goto out;
oom:
    resp->body.oom = true;
out:
    sort_list = NULL;
    for (size_t i = 0; i < l.n_g; i++) {
        free(l.g[i].key);
        mbuf_free(&l.g[i].labels);
        free(l.g[i].group_labels);
        free(l.g[i].items);
    }
    free(l.g);
    free(l.g_index);
    for (size_t i = 0; i < l.n_items; i++) {
        mbuf_free(&l.items[i].json);
        free(l.items[i].labels);
    }
    free(l.items);
    free(l.seen);
    matcher_set_destroy(l.filter);
    matcher_set_destroy(l.receiver);
}

static void on_alerts_get(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    list_alerts(ctx, req, resp, false);
}

static void on_groups_get(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    list_alerts(ctx, req, resp, true);
}

/* ---- explain ---------------------------------------------------------------- */

typedef struct {
    uint64_t fp;
    mbuf_t *out;
    size_t n;
} explain_t;

static bool explain_one(void *ctx, const declog_rec_t *r)
{
    explain_t *e = ctx;
    if (r->fingerprint != e->fp) return true;
    if (e->n++) mbuf_append(e->out, ",\n", 2);
    declog_rec_json(r, e->out);
    return true;
}

static void on_explain(void *ctx, const http_req_t *req, http_resp_t *resp)
{
    api_v2_t *a = ctx;
    const char *fp = http_req_query(req, "fingerprint");
    char *end = NULL;
    uint64_t v = fp ? strtoull(fp, &end, 16) : 0;
    if (!fp || strlen(fp) != 16 || *end) {
        mbuf_append(&resp->body, "\"fingerprint: 16 hex digits expected\"", 37);
        set_json(resp, 400);
        return;
    }
    explain_t e = {v, &resp->body, 0};
    mbuf_append(&resp->body, "[", 1);
    declog_each(a->o.declog, explain_one, &e);
    mbuf_append(&resp->body, "]\n", 2);
    set_json(resp, 200);
}

qerr_t api_v2_routes(void *api, http_server_t *s)
{
    api_v2_t *a = api;
    if (http_route(s, "GET", "/api/v2/status", HTTP_AUTH, on_status, a) ||
        http_route(s, "GET", "/api/v2/receivers", HTTP_AUTH, on_receivers, a) ||
        http_route(s, "GET", "/api/v2/silences", HTTP_AUTH, on_silences_get, a) ||
        http_route(s, "POST", "/api/v2/silences", HTTP_AUTH, on_silences_post, a) ||
        http_route(s, "GET", "/api/v2/silence/*", HTTP_AUTH, on_silence_get, a) ||
        http_route(s, "DELETE", "/api/v2/silence/*", HTTP_AUTH, on_silence_delete, a) ||
        http_route(s, "GET", "/api/v2/alerts", HTTP_AUTH, on_alerts_get, a) ||
        http_route(s, "GET", "/api/v2/alerts/groups", HTTP_AUTH, on_groups_get, a) ||
        http_route(s, "GET", "/api/v1/explain", HTTP_AUTH, on_explain, a))
        return QERR_INVALID;
    return QERR_OK;
}

/* ---- quell explain --fingerprint ------------------------------------------------ */

int api_explain_fingerprint(const conf_t *conf, const char *url, const char *fp)
{
    char u[1024], err[512];
    if (url)
        snprintf(u, sizeof u, "%s/api/v1/explain?fingerprint=%s", url, fp);
    else
        snprintf(u, sizeof u, "http://%s/api/v1/explain?fingerprint=%s",
                 conf->http.listen[0] ? conf->http.listen : HTTP_DEFAULT_LISTEN, fp);
    char *tok = NULL;
    if (conf->http.auth_token_file && *conf->http.auth_token_file &&
        http_load_token(conf->http.auth_token_file, &tok, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "quell explain: %s\n", err);
        return 1;
    }
    mbuf_t body = {0};
    long status = 0;
    qerr_t rc = http_get(u, tok, 10000, &body, &status, err, sizeof err);
    free(tok);
    int exit_code = 1;
    if (rc != QERR_OK) {
        fprintf(stderr, "quell explain: %s: %s (is quell run serving there?)\n", u, err);
    } else if (status != 200) {
        fprintf(stderr, "quell explain: %s answered %ld: %.*s\n", u, status, (int)body.len,
                body.buf ? body.buf : "");
    } else {
        cJSON *arr = cJSON_ParseWithLength(body.buf, body.len);
        int n = cJSON_GetArraySize(arr);
        if (!cJSON_IsArray(arr)) {
            fprintf(stderr, "quell explain: %s answered 200 but not a JSON array\n", u);
            cJSON_Delete(arr);
            goto out;
        }
        if (n == 0) {
            /* found nothing: an error, as replay and explain of a file
             * without alerts are (exit 1) */
            fprintf(stderr,
                    "quell explain: fingerprint %s: no recent decision (decisions.recent per "
                    "worker are kept)\n",
                    fp);
            cJSON_Delete(arr);
            goto out;
        }
        for (int i = 0; i < n; i++) {
            cJSON *r = cJSON_GetArrayItem(arr, i);
            const char *at = cJSON_GetStringValue(cJSON_GetObjectItem(r, "decided_at"));
            const char *ev = cJSON_GetStringValue(cJSON_GetObjectItem(r, "event_time"));
            const char *dec = cJSON_GetStringValue(cJSON_GetObjectItem(r, "decision"));
            const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(r, "reason"));
            const char *inc = cJSON_GetStringValue(cJSON_GetObjectItem(r, "incident_id"));
            const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(r, "status"));
            char *labels = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "labels"));
            printf("%s  %-8s %-8s reason=%s%s%s event_time=%s labels=%s\n", at ? at : "?",
                   dec ? dec : "?", st ? st : "?", why ? why : "?", inc ? " incident=" : "",
                   inc ? inc : "", ev ? ev : "null", labels ? labels : "{}");
            free(labels);
        }
        cJSON_Delete(arr);
        exit_code = 0;
    }
out:
    mbuf_free(&body);
    return exit_code;
}
