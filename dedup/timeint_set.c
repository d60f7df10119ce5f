/*
 * The config's named `time_intervals:` as a set others can ask "is NAME
 * in force now?" — the routing tree's mute_time_intervals and
 * active_time_intervals (router/route.c) use it; rules compile the same
 * section into their rule set (ruleset.c) with the same interval code
 * (timeint.c). Immutable once compiled: any thread may ask.
 */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

struct time_interval_set {
    zone_cache_t *zones;
    named_intervals_t *ivs;
    size_t n_ivs;
};

#define FAIL_AT(node, ...) return conf_fail_at(errbuf, errlen, path, (node), __VA_ARGS__)

static qerr_t compile_one(time_interval_set_t *s, const conf_node_t *it, const char *path,
                          char *errbuf, size_t errlen)
{
    const conf_node_t *name = conf_node_get(it, "name"),
                      *list = conf_node_get(it, "time_intervals");
    if (it->kind != CONF_NODE_MAP || !name || name->kind != CONF_NODE_SCALAR || !name->text[0])
        FAIL_AT(it, "a named time interval needs a name");
    if (!list) FAIL_AT(it, "time interval \"%s\" needs time_intervals", name->text);
    if (list->kind != CONF_NODE_SEQ) FAIL_AT(list, "time_intervals must be a list");
    for (size_t j = 0; j < s->n_ivs; j++)
        if (!strcmp(s->ivs[j].name, name->text))
            FAIL_AT(name, "time interval \"%s\" is defined twice", name->text);
    named_intervals_t *ni = &s->ivs[s->n_ivs];
    *ni = (named_intervals_t){0};
    ni->name = strdup(name->text);
    ni->v = calloc(list->n ? list->n : 1, sizeof(*ni->v));
    s->n_ivs++; /* freed by the destroy even when incomplete */
    if (!ni->name || !ni->v) FAIL_AT(it, "out of memory");
    for (size_t i = 0; i < list->n; i++) {
        qerr_t rc =
            time_interval_compile(&list->items[i], path, s->zones, &ni->v[i], errbuf, errlen);
        if (rc) return rc;
        ni->n++;
    }
    return QERR_OK;
}

qerr_t time_interval_set_compile(const conf_t *conf, time_interval_set_t **out, char *errbuf,
                                 size_t errlen)
{
    *out = NULL;
    const char *path = conf->path && *conf->path ? conf->path : "config";
    const conf_node_t *n = conf->time_intervals;
    time_interval_set_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->zones = zone_cache_new())) {
        free(s);
        snprintf(errbuf, errlen, "out of memory");
        return QERR_NOMEM;
    }
    qerr_t rc = QERR_OK;
    if (n) {
        if (n->kind != CONF_NODE_SEQ) {
            rc = conf_fail_at(errbuf, errlen, path, n,
                              "time_intervals must be a list of {name, time_intervals}");
        } else if (!(s->ivs = calloc(n->n ? n->n : 1, sizeof(*s->ivs)))) {
            rc = conf_fail_at(errbuf, errlen, path, n, "out of memory");
        } else {
            for (size_t i = 0; i < n->n && rc == QERR_OK; i++)
                rc = compile_one(s, &n->items[i], path, errbuf, errlen);
        }
    }
    if (rc != QERR_OK) {
        time_interval_set_destroy(s);
        return rc;
    }
    *out = s;
    return QERR_OK;
}

void time_interval_set_destroy(time_interval_set_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_ivs; i++) {
        for (size_t j = 0; j < s->ivs[i].n; j++) time_interval_free(&s->ivs[i].v[j]);
        free(s->ivs[i].v);
        free(s->ivs[i].name);
    }
    free(s->ivs);
    zone_cache_destroy(s->zones);
    free(s);
}

int time_interval_set_find(const time_interval_set_t *s, const char *name)
{
    for (size_t i = 0; s && i < s->n_ivs; i++)
        if (!strcmp(s->ivs[i].name, name)) return (int)i;
    return -1;
}

bool time_interval_set_contains(const time_interval_set_t *s, int idx, int64_t now_ms)
{
    if (!s || idx < 0 || (size_t)idx >= s->n_ivs) return false;
    const named_intervals_t *ni = &s->ivs[idx];
    for (size_t i = 0; i < ni->n; i++)
        if (time_interval_contains(&ni->v[i], now_ms)) return true;
    return false;
}
