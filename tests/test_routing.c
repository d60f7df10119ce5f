/* The routing tree against Alertmanager's own routing tests
 * (dispatch/route_test.go, every suite and case): matched routes in order,
 * their effective options, route keys, route labels and the walk order;
 * plus config errors with positions. */
#include <cjson/cJSON.h>

#include "../router/router_int.h"
#include "check.h"

static const char *const receivers[] = {
    "notify-def",         "notify-A",  "notify-testing", "notify-productionA",
    "notify-productionB", "notify-BC", "notify-B"};

/* Go's time.Duration.String() for whole seconds: "30s", "5m0s", "4h0m0s". */
static void go_duration(int64_t ms, char *out, size_t cap)
{
    int64_t s = ms / 1000, h = s / 3600, m = s / 60 % 60, sec = s % 60;
    if (h)
        snprintf(out, cap, "%lldh%lldm%llds", (long long)h, (long long)m, (long long)sec);
    else if (m)
        snprintf(out, cap, "%lldm%llds", (long long)m, (long long)sec);
    else
        snprintf(out, cap, "%llds", (long long)sec);
}

static routing_t *compile(const char *route_yaml, conf_t *c)
{
    size_t cap = strlen(route_yaml) * 2 + 4096, len = 0;
    char *buf = malloc(cap);
    len += (size_t)snprintf(buf + len, cap - len, "route:\n");
    for (const char *p = route_yaml; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        len += (size_t)snprintf(buf + len, cap - len, "  %.*s\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
    len += (size_t)snprintf(buf + len, cap - len, "receivers:\n");
    for (size_t i = 0; i < sizeof(receivers) / sizeof(*receivers); i++)
        len +=
            (size_t)snprintf(buf + len, cap - len, "  - {name: %s, type: stdout}\n", receivers[i]);
    char err[512] = "";
    conf_defaults(c);
    routing_t *rt = NULL;
    if (conf_load_buffer(c, "suite.yml", buf, len, err, sizeof(err)) != QERR_OK ||
        routing_compile(c, &rt, err, sizeof(err)) != QERR_OK) {
        fprintf(stderr, "compile failed: %s\n%s", err, buf);
        CHECK(0);
    }
    free(buf);
    return rt;
}

static void labels_of(const cJSON *obj, label_t *out, uint32_t *n)
{
    /* cJSON keeps the file's order; the router wants them sorted. */
    *n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        label_t l = {{it->string, (uint32_t)strlen(it->string)},
                     {it->valuestring, (uint32_t)strlen(it->valuestring)}};
        uint32_t k = *n;
        while (k && strcmp(out[k - 1].name.ptr, l.name.ptr) > 0) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = l;
        (*n)++;
    }
}

static int cases_run;

static void check_route(const cJSON *want, const route_t *got, const char *origin)
{
    const char *rcv = cJSON_GetObjectItem(want, "receiver")->valuestring;
    if (strcmp(rcv, got->receiver->name) != 0)
        fprintf(stderr, "%s: receiver %s != %s\n", origin, got->receiver->name, rcv);
    CHECK_EQ_STR(got->receiver->name, rcv);
    CHECK_EQ_INT(got->group_by_all, cJSON_IsTrue(cJSON_GetObjectItem(want, "group_by_all")));
    const cJSON *gb = cJSON_GetObjectItem(want, "group_by");
    CHECK_EQ_INT(got->n_group_by, cJSON_GetArraySize(gb));
    for (size_t i = 0; i < got->n_group_by && (int)i < cJSON_GetArraySize(gb); i++)
        CHECK_EQ_STR(got->group_by[i], cJSON_GetArrayItem(gb, (int)i)->valuestring);
    char d[32];
    go_duration(got->group_wait_ms, d, sizeof(d));
    CHECK_EQ_STR(d, cJSON_GetObjectItem(want, "group_wait")->valuestring);
    go_duration(got->group_interval_ms, d, sizeof(d));
    CHECK_EQ_STR(d, cJSON_GetObjectItem(want, "group_interval")->valuestring);
    go_duration(got->repeat_interval_ms, d, sizeof(d));
    CHECK_EQ_STR(d, cJSON_GetObjectItem(want, "repeat_interval")->valuestring);
}

static void test_conformance(void)
{
    char path[1024];
    if (!CHECK_DATA(path, "conformance/alertmanager/routing/route_match_cases.json")) return;
    char *text = check_read_file(path, NULL);
    CHECK(text != NULL);
    if (!text) return;
    cJSON *doc = cJSON_Parse(text);
    const cJSON *suites = cJSON_GetObjectItem(doc, "suites"), *suite;
    int n_suites = 0;
    cJSON_ArrayForEach(suite, suites)
    {
        n_suites++;
        conf_t c;
        routing_t *rt = compile(cJSON_GetObjectItem(suite, "route_config_yaml")->valuestring, &c);
        if (!rt) {
            conf_free(&c);
            continue;
        }
        const cJSON *cs;
        cJSON_ArrayForEach(cs, cJSON_GetObjectItem(suite, "cases"))
        {
            const char *origin = cJSON_GetObjectItem(cs, "origin")->valuestring;
            label_t labels[32];
            uint32_t n;
            labels_of(cJSON_GetObjectItem(cs, "labels"), labels, &n);
            const route_t *got[16];
            size_t found = routing_match(rt, labels, n, got, 16);
            cases_run++;
            const cJSON *want = cJSON_GetObjectItem(cs, "expected_routes");
            const cJSON *keys = cJSON_GetObjectItem(cs, "expected_route_keys");
            const cJSON *rlabels = cJSON_GetObjectItem(cs, "expected_route_labels");
            if (want) {
                CHECK_EQ_INT(found, cJSON_GetArraySize(want));
                for (size_t i = 0; i < found && (int)i < cJSON_GetArraySize(want); i++)
                    check_route(cJSON_GetArrayItem(want, (int)i), got[i], origin);
            }
            for (size_t i = 0; keys && i < found && (int)i < cJSON_GetArraySize(keys); i++)
                CHECK_EQ_STR(got[i]->key, cJSON_GetArrayItem(keys, (int)i)->valuestring);
            if (rlabels) {
                CHECK_EQ_INT(found, 1);
                label_t wl[16];
                uint32_t wn;
                labels_of(rlabels, wl, &wn);
                CHECK_EQ_INT(got[0]->n_labels, wn);
                for (uint32_t i = 0; i < wn && i < got[0]->n_labels; i++) {
                    CHECK(got[0]->labels[i].name.len == wl[i].name.len &&
                          !memcmp(got[0]->labels[i].name.ptr, wl[i].name.ptr, wl[i].name.len));
                    CHECK(got[0]->labels[i].value.len == wl[i].value.len &&
                          !memcmp(got[0]->labels[i].value.ptr, wl[i].value.ptr, wl[i].value.len));
                }
            }
        }
        if (n_suites == 1) {
            const cJSON *walk = cJSON_GetObjectItem(
                cJSON_GetObjectItem(doc, "walk_order_of_TestRouteWalk_tree"), "expected_receivers");
            const route_t *all[64];
            size_t nr = routing_walk(rt, all, 64);
            CHECK_EQ_INT(nr, cJSON_GetArraySize(walk));
            for (size_t i = 0; i < nr && (int)i < cJSON_GetArraySize(walk); i++)
                CHECK_EQ_STR(all[i]->receiver->name, cJSON_GetArrayItem(walk, (int)i)->valuestring);
        }
        routing_destroy(rt);
        conf_free(&c);
    }
    CHECK_EQ_INT(n_suites, 4);
    CHECK_EQ_INT(cases_run, 28);
    cJSON_Delete(doc);
    free(text);
}

/* A whole config (as q.yml) loaded into *c and its routing compiled into
 * *rt; the caller frees both, whatever the result. */
static qerr_t load_compile(const char *yaml, conf_t *c, routing_t **rt, char *err, size_t errlen)
{
    conf_defaults(c);
    qerr_t e = conf_load_buffer(c, "q.yml", yaml, strlen(yaml), err, errlen);
    return e == QERR_OK ? routing_compile(c, rt, err, errlen) : e;
}

/* "FILE:LINE:COL: message" for a config that must be refused. */
static bool refused(const char *yaml, const char *want)
{
    conf_t c;
    char err[512] = "";
    routing_t *rt = NULL;
    qerr_t e = load_compile(yaml, &c, &rt, err, sizeof(err));
    routing_destroy(rt);
    conf_free(&c);
    bool ok = e == QERR_INVALID && strstr(err, want) != NULL;
    if (!ok) fprintf(stderr, "wanted \"%s\", got \"%s\"\n", want, err);
    return ok;
}

static void test_errors(void)
{
    CHECK(refused("route:\n  receiver: nope\nreceivers:\n  - {name: a, type: stdout}\n",
                  "q.yml:2:13: unknown receiver \"nope\""));
    CHECK(refused("route:\n  receiver: a\n  routes:\n    - receiver: b\n"
                  "receivers:\n  - {name: a, type: stdout}\n",
                  "q.yml:4:17: unknown receiver \"b\""));
    CHECK(refused(
        "route:\n  receiver: a\n  group_wait: soon\nreceivers:\n  - {name: a, type: stdout}\n",
        "q.yml:3:15: group_wait: \"soon\" is not a duration"));
    /* durations read as Alertmanager's (Prometheus' model.ParseDuration) */
    CHECK(refused("route:\n  receiver: a\n  repeat_interval: 1d1y\nreceivers:\n"
                  "  - {name: a, type: stdout}\n",
                  "q.yml:3:20: repeat_interval: \"1d1y\" is not a duration"));
    CHECK(refused("route:\n  receiver: a\n  group_interval: 300y\nreceivers:\n"
                  "  - {name: a, type: stdout}\n",
                  "q.yml:3:19: group_interval: \"300y\" is not a duration"));
    {
        conf_t c;
        char err[512] = "";
        routing_t *rt = NULL;
        CHECK_EQ_INT(load_compile("route:\n  receiver: a\n  group_wait: 0\n"
                                  "  group_interval: 1h30m\n  repeat_interval: 1y2w\n"
                                  "receivers:\n  - {name: a, type: stdout}\n",
                                  &c, &rt, err, sizeof err),
                     QERR_OK);
        if (*err) fprintf(stderr, "%s\n", err);
        const route_t *got[4];
        label_t l = {{"x", 1}, {"y", 1}};
        CHECK_EQ_INT(rt ? routing_match(rt, &l, 1, got, 4) : 0, 1);
        if (rt) {
            CHECK_EQ_INT(got[0]->group_wait_ms, 0);
            CHECK_EQ_INT(got[0]->group_interval_ms, 5400000);
            CHECK_EQ_INT(got[0]->repeat_interval_ms, (365 + 14) * 86400000LL);
        }
        routing_destroy(rt);
        conf_free(&c);
    }
    CHECK(refused("route:\n  receiver: a\n  colour: red\nreceivers:\n  - {name: a, type: stdout}\n",
                  "q.yml:3:3: unknown route key \"colour\""));
    CHECK(refused("route:\n  receiver: a\nreceivers:\n  - {name: a, type: webhook}\n",
                  "q.yml:4:5: receiver \"a\" (webhook) needs a `url:`"));
    CHECK(refused("route:\n  receiver: a\nreceivers:\n  - {name: a, type: pager}\n",
                  "unknown receiver type \"pager\""));
    CHECK(refused("route:\n  receiver: a\n  routes:\n    - matchers: ['x=~\"(\"']\n"
                  "receivers:\n  - {name: a, type: stdout}\n",
                  "q.yml:4:"));
    CHECK(refused(
        "route:\n  receiver: a\n  group_by: [a, '...']\nreceivers:\n  - {name: a, type: stdout}\n",
        "must be the only entry"));
    CHECK(refused("receivers:\n  - {name: a, type: stdout}\n", "without a `route:`"));
    CHECK(refused("route:\n  receiver: a\nreceivers:\n  - {name: a, type: stdout}\n"
                  "  - {name: a, type: stdout}\n",
                  "defined twice"));
}

/* The three ways to name a receiver's kind compile to the same receiver. */
static void test_receiver_forms(void)
{
    static const char *const forms[] = {
        "  - {name: a, type: webhook, url: 'http://h/x', max_alerts: 5}\n",
        "  - name: a\n    webhook: {url: 'http://h/x', max_alerts: 5}\n",
        "  - name: a\n    webhook_configs:\n      - url: 'http://h/x'\n        max_alerts: 5\n"
        "        send_resolved: true\n",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "route:\n  receiver: a\nreceivers:\n%s", forms[i]);
        conf_t c;
        char err[512] = "";
        routing_t *rt = NULL;
        qerr_t e = load_compile(yaml, &c, &rt, err, sizeof(err));
        if (e != QERR_OK) fprintf(stderr, "form %zu: %s\n", i, err);
        CHECK_EQ_INT(e, QERR_OK);
        CHECK(rt && routing_n_receivers(rt) == 1);
        if (rt && routing_n_receivers(rt) == 1) {
            const receiver_t *r = routing_receiver(rt, 0);
            CHECK(r->kind == RECV_WEBHOOK && r->max_alerts == 5 && !strcmp(r->url, "http://h/x"));
        }
        routing_destroy(rt);
        conf_free(&c);
    }
    CHECK(refused("route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n"
                  "      - api_url: 'http://h/s'\n    type: stdout\n",
                  "q.yml:7:5: a receiver has one kind; it was already given at line 5"));
    CHECK(refused("route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs: []\n",
                  "q.yml:5:22: webhook_configs: one entry per receiver"));
    CHECK(refused("route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook: {colour: red}\n",
                  "q.yml:5:15: unknown webhook key \"colour\""));
    CHECK(refused("route:\n  receiver: a\nreceivers:\n  - name: a\n    url: 'http://h/x'\n",
                  "needs a kind"));
    /* Alertmanager's YAML 1.1 booleans: `continue: yes` as there. */
    {
        const char *yaml = "route:\n  receiver: a\n  routes:\n    - receiver: a\n"
                           "      continue: yes\n    - receiver: a\n      continue: Off\n"
                           "receivers:\n  - {name: a, type: stdout}\n";
        conf_t c;
        char err[512] = "";
        routing_t *rt = NULL;
        qerr_t e = load_compile(yaml, &c, &rt, err, sizeof(err));
        if (e != QERR_OK) fprintf(stderr, "yes/Off: %s\n", err);
        CHECK_EQ_INT(e, QERR_OK);
        label_t l = {{"x", 1}, {"1", 1}};
        const route_t *got[4];
        /* continue: yes on the first child, so both children match. */
        CHECK_EQ_INT(rt ? routing_match(rt, &l, 1, got, 4) : 0, 2);
        routing_destroy(rt);
        conf_free(&c);
    }
    CHECK(refused("route:\n  receiver: a\n  routes:\n    - receiver: a\n      continue: maybe\n"
                  "receivers:\n  - {name: a, type: stdout}\n",
                  "continue must be true or false"));
}

static void test_enrichment(void)
{
    const char *yaml = "route:\n  receiver: a\n"
                       "receivers:\n  - {name: a, type: stdout}\n"
                       "runbooks:\n"
                       "  - matchers: ['alertname=\"DiskFull\"']\n    url: https://rb/disk\n"
                       "  - keywords: [Latency]\n    url: https://rb/latency\n"
                       "novelty:\n  days: 1\n  labels: [service]\n"
                       "urgency:\n  high_up_to: SEV1\n  high_matchers: ['team=\"db\"']\n";
    conf_t c;
    conf_defaults(&c);
    char err[512] = "";
    routing_t *rt = NULL;
    CHECK(conf_load_buffer(&c, "e.yml", yaml, strlen(yaml), err, sizeof(err)) == QERR_OK);
    CHECK(routing_compile(&c, &rt, err, sizeof(err)) == QERR_OK);
    if (!rt) {
        fprintf(stderr, "%s\n", err);
        conf_free(&c);
        return;
    }
    label_t disk[] = {{{"alertname", 9}, {"DiskFull", 8}}, {{"service", 7}, {"api", 3}}};
    label_t lat[] = {{{"alertname", 9}, {"ApiLATENCYHigh", 14}}, {{"team", 4}, {"db", 2}}};
    alert_t a1 = {.labels = disk, .n_labels = 2}, a2 = {.labels = lat, .n_labels = 2};
    incident_t sev1 = {.severity = 1}, sev2 = {.severity = 2};
    enrichment_t en;
    routing_enrich(rt, &a1, &sev2, &en);
    CHECK_EQ_STR(en.runbook_url, "https://rb/disk");
    CHECK(!en.urgency_high);
    routing_enrich(rt, &a1, &sev1, &en);
    CHECK(en.urgency_high);
    routing_enrich(rt, &a2, &sev2, &en);
    CHECK_EQ_STR(en.runbook_url, "https://rb/latency");
    CHECK(en.urgency_high); /* team="db" */
    novelty_t *nv = novelty_new(rt);
    int64_t day = 86400000;
    CHECK(novelty_check(nv, &a1, 10 * day));
    CHECK(!novelty_check(nv, &a1, 10 * day + 1000));
    CHECK(novelty_check(nv, &a2, 10 * day + 1000));
    disk[1].value = (str_t){"web", 3}; /* another service: another signature */
    CHECK(novelty_check(nv, &a1, 10 * day + 2000));
    CHECK(novelty_check(nv, &a1, 12 * day)); /* not seen within novelty.days */
    novelty_destroy(nv);
    routing_destroy(rt);
    conf_free(&c);
}

int main(void)
{
    test_conformance();
    test_errors();
    test_receiver_forms();
    test_enrichment();
    return check_summary("test_routing");
}
