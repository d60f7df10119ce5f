/*
 * A route's dedup_window applied (memory store): the decider decides each
 * alert with its route's window (decider_set_window), and the table's
 * watermark sweep keeps idle entries for the longest window in use
 * (dedup_table_set_keep), so a longer route window is never cut short by
 * other fingerprints' decisions.
 */
#include "../dedup/rules.h"
#include "../router/router.h"
#include "check.h"

#define MIN (60 * 1000LL)

/* Alerts labelled team=db go to a route with a 15-minute window. */
static int64_t window_of(void *ctx, const alert_t *a)
{
    (void)ctx;
    for (uint32_t i = 0; i < a->n_labels; i++)
        if (a->labels[i].name.len == 4 && !memcmp(a->labels[i].name.ptr, "team", 4))
            return a->labels[i].value.len == 2 && !memcmp(a->labels[i].value.ptr, "db", 2)
                       ? 15 * MIN
                       : 0;
    return 0;
}

#define S(s)                                                                                       \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }

static decision_kind_t decide(decider_t *d, const char *team, uint64_t fp, int64_t t)
{
    label_t l[] = {{S("alertname"), S("X")}, {S("team"), {team, strlen(team)}}};
    alert_t a = {0};
    a.labels = l;
    a.n_labels = 2;
    a.fingerprint = fp;
    a.status = ALERT_FIRING;
    a.event_time_ms = t;
    a.watermark_ms = t;
    incident_t out;
    return decider_decide(d, NULL, &a, &out);
}

static void test_windows(bool keep)
{
    dedup_params_t p = {5 * MIN, 24 * 60 * MIN};
    dedup_table_t *t = dedup_table_new(1000);
    decider_opts_t o = {.dedup = p, .fingerprint_covers_labels = true};
    decider_t *d = decider_new(&o, t, NULL);
    decider_set_window(d, window_of, NULL);
    if (keep) dedup_table_set_keep(t, 15 * MIN);
    int64_t t0 = 1000 * MIN;
    CHECK_EQ_INT(decide(d, "db", 1, t0), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(decide(d, "web", 2, t0), DECISION_FORWARD_NEW);
    /* 10 minutes later: past the default window, within db's. Other
     * fingerprints' decisions sweep the table meanwhile. */
    for (uint64_t i = 0; i < 8; i++) decide(d, "web", 100 + i, t0 + 9 * MIN);
    decision_kind_t db = decide(d, "db", 1, t0 + 10 * MIN);
    CHECK_EQ_INT(decide(d, "web", 2, t0 + 10 * MIN), DECISION_FORWARD_NEW);
    if (keep)
        CHECK_EQ_INT(db, DECISION_SUPPRESS_DUPLICATE);
    else /* without the keep the sweep dropped it: what the keep is for */
        CHECK_EQ_INT(db, DECISION_FORWARD_NEW);
    /* And 16 minutes after its last occurrence, db's window is over too. */
    if (keep) CHECK_EQ_INT(decide(d, "db", 1, t0 + 26 * MIN + 1), DECISION_FORWARD_NEW);
    decider_destroy(d);
    dedup_table_destroy(t);
}

/* dedup_window compiles and is inherited; no "not applied" refusal. */
static void test_compile(void)
{
    static const char yaml[] = "receivers:\n  - {name: a, type: stdout}\n"
                               "route:\n  receiver: a\n  routes:\n"
                               "    - matchers: ['team=\"db\"']\n      dedup_window: 15m\n"
                               "      routes:\n        - matchers: ['sub=\"x\"']\n";
    conf_t c;
    conf_defaults(&c);
    char err[512] = "";
    routing_t *rt = NULL;
    CHECK_EQ_INT(conf_load_buffer(&c, "q.yml", yaml, strlen(yaml), err, sizeof err), QERR_OK);
    CHECK_EQ_INT(routing_compile(&c, &rt, err, sizeof err), QERR_OK);
    const route_t *routes[4];
    CHECK_EQ_INT(routing_walk(rt, routes, 4), 3);
    CHECK_EQ_INT(routes[0]->dedup_window_ms, 0);
    CHECK_EQ_INT(routes[1]->dedup_window_ms, 15 * MIN);
    CHECK_EQ_INT(routes[2]->dedup_window_ms, 15 * MIN);
    routing_destroy(rt);
    conf_free(&c);
}

int main(void)
{
    test_windows(true);
    test_windows(false);
    test_compile();
    return check_summary("route window");
}
