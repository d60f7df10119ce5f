/* Rule sets and the composed decision over a driven clock: exclusions
 * (windows, recurring intervals in IANA zones), severity, errors with
 * positions and warnings, the equality index against brute force, the
 * cache, inhibition, flapping, transient suppression, and reload under
 * load. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "../dedup/rules_int.h"
#include "check.h"

#define MIN  60000LL
#define HOUR (60 * MIN)
/* 2026-01-05T00:00:00Z, a Monday */
#define MONDAY 1767571200000LL

#define S(s)                                                                                       \
    {                                                                                              \
        (s), (uint32_t)strlen(s)                                                                   \
    }

static ruleset_t *compile(const char *yaml, char *err, size_t errlen)
{
    conf_t c;
    conf_defaults(&c);
    ruleset_t *rs = NULL;
    if (conf_load_buffer(&c, "r.yaml", yaml, strlen(yaml), err, errlen) == QERR_OK) {
        free(c.path);
        c.path = strdup("r.yaml");
        if (ruleset_compile(&c, NULL, NULL, &rs, err, errlen) != QERR_OK) rs = NULL;
    }
    conf_free(&c);
    return rs;
}

static void warn_collect(void *ctx, const char *msg)
{
    char *buf = ctx;
    strncat(buf, msg, 4000 - strlen(buf));
    strncat(buf, "\n", 4000 - strlen(buf));
}

static const char *verdict_of(const ruleset_t *rs, const label_t *l, uint32_t n, int64_t now)
{
    static char buf[128];
    rules_verdict_t v;
    ruleset_eval(rs, l, n, now, &v);
    if (!v.suppress) return "pass";
    if (v.kind == DECISION_SUPPRESS_SEVERITY) return "severity";
    snprintf(buf, sizeof buf, "excluded:%s", v.rule);
    return buf;
}

static void test_exclusions(void)
{
    char err[1024];
    ruleset_t *rs = compile("exclusions:\n"
                            "  - name: dev\n"
                            "    matchers: ['env=\"dev\"']\n"
                            "    owner: sre\n"
                            "  - name: maint\n"
                            "    matchers: ['service=~\"db|cache\"', 'team!=\"core\"']\n"
                            "    starts_at: 2026-01-05T01:00:00Z\n"
                            "    ends_at: 2026-01-05T03:00:00Z\n"
                            "  - name: nights\n"
                            "    matchers: 'alertname=\"Backup\"'\n"
                            "    time_intervals:\n"
                            "      - times: [{start_time: '22:00', end_time: '24:00'}]\n"
                            "        weekdays: ['monday:friday']\n"
                            "        location: Europe/Berlin\n"
                            "  - name: weekends\n"
                            "    matchers: ['alertname=\"Batch\"']\n"
                            "    time_intervals: [weekend]\n"
                            "time_intervals:\n"
                            "  - name: weekend\n"
                            "    time_intervals:\n"
                            "      - weekdays: [saturday, sunday]\n"
                            "      - days_of_month: ['-1']\n"
                            "        months: ['january']\n",
                            err, sizeof err);
    CHECK(rs != NULL);
    if (!rs) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ_INT(ruleset_exclusion_count(rs), 4);
    label_t dev[] = {{S("alertname"), S("X")}, {S("env"), S("dev")}};
    CHECK_EQ_STR(verdict_of(rs, dev, 2, MONDAY), "excluded:dev");
    label_t db[] = {{S("service"), S("db")}};
    CHECK_EQ_STR(verdict_of(rs, db, 1, MONDAY), "pass"); /* before starts_at */
    CHECK_EQ_STR(verdict_of(rs, db, 1, MONDAY + HOUR), "excluded:maint");
    CHECK_EQ_STR(verdict_of(rs, db, 1, MONDAY + 3 * HOUR - 1), "excluded:maint");
    CHECK_EQ_STR(verdict_of(rs, db, 1, MONDAY + 3 * HOUR), "pass"); /* ends_at is exclusive */
    label_t core[] = {{S("service"), S("db")}, {S("team"), S("core")}};
    CHECK_EQ_STR(verdict_of(rs, core, 2, MONDAY + HOUR), "pass");
    /* 22:00-24:00 Berlin (UTC+1 in January) = 21:00-23:00 UTC, Mon-Fri */
    label_t backup[] = {{S("alertname"), S("Backup")}};
    CHECK_EQ_STR(verdict_of(rs, backup, 1, MONDAY + 20 * HOUR + 59 * MIN), "pass");
    CHECK_EQ_STR(verdict_of(rs, backup, 1, MONDAY + 21 * HOUR), "excluded:nights");
    CHECK_EQ_STR(verdict_of(rs, backup, 1, MONDAY + 22 * HOUR + 59 * MIN), "excluded:nights");
    CHECK_EQ_STR(verdict_of(rs, backup, 1, MONDAY + 23 * HOUR), "pass");
    /* Friday 2026-01-09 21:30 UTC = 22:30 Berlin: yes; Saturday: no */
    CHECK_EQ_STR(verdict_of(rs, backup, 1, MONDAY + 4 * 24 * HOUR + 21 * HOUR + 30 * MIN),
                 "excluded:nights");
    CHECK_EQ_STR(verdict_of(rs, backup, 1, MONDAY + 5 * 24 * HOUR + 21 * HOUR + 30 * MIN), "pass");
    /* Summer: Berlin is UTC+2, 2026-07-06 is a Monday: 22:30 Berlin = 20:30 UTC */
    int64_t july6 = 1783296000000LL;
    CHECK_EQ_STR(verdict_of(rs, backup, 1, july6 + 20 * HOUR + 30 * MIN), "excluded:nights");
    CHECK_EQ_STR(verdict_of(rs, backup, 1, july6 + 21 * HOUR + 30 * MIN), "excluded:nights");
    CHECK_EQ_STR(verdict_of(rs, backup, 1, july6 + 22 * HOUR + 30 * MIN), "pass"); /* 00:30 Tue */
    /* Named interval: weekends, or January 31st */
    label_t batch[] = {{S("alertname"), S("Batch")}};
    CHECK_EQ_STR(verdict_of(rs, batch, 1, MONDAY), "pass");
    CHECK_EQ_STR(verdict_of(rs, batch, 1, MONDAY - HOUR), "excluded:weekends"); /* Sunday */
    CHECK_EQ_STR(verdict_of(rs, batch, 1, MONDAY + 26 * 24 * HOUR),
                 "excluded:weekends");                                       /* Sat 31 */
    CHECK_EQ_STR(verdict_of(rs, batch, 1, MONDAY + 24 * 24 * HOUR), "pass"); /* Thu 29 */
    /* Explain lists the match. */
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    ruleset_explain(rs, dev, 2, MONDAY, fp);
    fclose(fp);
    CHECK(strstr(text, "exclusion dev") != NULL && strstr(text, "ACTIVE") != NULL);
    free(text);
    ruleset_destroy(rs);
}

static void test_severity(void)
{
    char err[1024];
    ruleset_t *rs = compile("severity:\n"
                            "  labels: [severity, priority]\n"
                            "  map:\n"
                            "    SEV1: [critical, P1]\n"
                            "    SEV3: [warning]\n"
                            "    SEV5: [debug, cosmetic]\n",
                            err, sizeof err);
    CHECK(rs != NULL);
    if (!rs) return;
    label_t a[] = {{S("severity"), S("CRITICAL")}};
    CHECK_EQ_INT(ruleset_severity(rs, a, 1), 1);
    label_t b[] = {{S("priority"), S("p1")}};
    CHECK_EQ_INT(ruleset_severity(rs, b, 1), 1);
    label_t c[] = {{S("severity"), S("Cosmetic")}};
    CHECK_EQ_STR(verdict_of(rs, c, 1, 0), "severity"); /* SEV5 dropped by default */
    label_t d[] = {{S("severity"), S("unknown")}};
    CHECK_EQ_INT(ruleset_severity(rs, d, 1), 0);
    CHECK_EQ_STR(verdict_of(rs, d, 1, 0), "pass");
    ruleset_destroy(rs);
    /* Without the section: ranked, nothing dropped. */
    rs = compile("workers: 1\n", err, sizeof err);
    CHECK(rs != NULL);
    if (!rs) return;
    label_t e[] = {{S("severity"), S("none")}};
    CHECK_EQ_INT(ruleset_severity(rs, e, 1), 5);
    CHECK_EQ_STR(verdict_of(rs, e, 1, 0), "pass");
    /* incident tools' SEV1..SEV5, syslog's emerg/notice, X.733's
     * indeterminate: ranked too, so replay lists them by severity */
    static const struct {
        const char *value;
        int sev;
    } spelled[] = {{"SEV1", 1},  {"sev-2", 2}, {"Sev3", 3},   {"sev4", 4},
                   {"SEV5", 5},  {"emerg", 1}, {"notice", 4}, {"indeterminate", 4},
                   {"Major", 2}, {"Minor", 3}, {"warning", 3}}; /* X.733: minor over warning */
    for (size_t i = 0; i < sizeof spelled / sizeof *spelled; i++) {
        label_t l[] = {{S("severity"), {spelled[i].value, (uint32_t)strlen(spelled[i].value)}}};
        if (ruleset_severity(rs, l, 1) != spelled[i].sev)
            fprintf(stderr, "severity \"%s\": %d\n", spelled[i].value, ruleset_severity(rs, l, 1));
        CHECK_EQ_INT(ruleset_severity(rs, l, 1), spelled[i].sev);
    }
    ruleset_destroy(rs);
    /* The map read the other way round: a source value to its SEV. */
    rs =
        compile("severity:\n  map: {critical: SEV1, Info: SEV5, warning: sev3}\n", err, sizeof err);
    CHECK(rs != NULL);
    if (!rs) return;
    label_t f[] = {{S("severity"), S("info")}};
    CHECK_EQ_INT(ruleset_severity(rs, f, 1), 5);
    CHECK_EQ_STR(verdict_of(rs, f, 1, 0), "severity");
    label_t g[] = {{S("severity"), S("WARNING")}};
    CHECK_EQ_INT(ruleset_severity(rs, g, 1), 3);
    CHECK_EQ_STR(verdict_of(rs, g, 1, 0), "pass");
    ruleset_destroy(rs);
}

static void test_errors_and_warnings(void)
{
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"exclusions:\n  - name: a\n    matchers: ['x=~\"(\"']\n", "r.yaml:3:"},
        {"exclusions:\n  - name: a\n    matchers: ['x=\"1\"']\n    ends_at: tomorrow\n",
         "r.yaml:4:14: "},
        {"exclusions:\n  - matchers: ['x=\"1\"']\n", "r.yaml:2:5: "},
        {"exclusions:\n  - name: a\n    colour: red\n", "r.yaml:3:5: unknown exclusion key"},
        {"exclusions:\n  - name: a\n  - name: a\n", "defined twice"},
        {"exclusions:\n  - name: a\n    time_intervals: [nope]\n", "no time interval named"},
        {"exclusions:\n  - name: a\n    time_intervals:\n      - location: Mars/Olympus\n",
         "r.yaml:4:19: unknown time zone"},
        {"exclusions:\n  - name: a\n    time_intervals:\n      - weekdays: [funday]\n",
         "unknown weekday"},
        {"severity:\n  map:\n    SEV9: [x]\n", "r.yaml:3:5: "},
        {"severity:\n  map:\n    critical: [x]\n", "r.yaml:3:5: \"critical\" is neither"},
        {"severity:\n  map: {warn: SEV3, Warn: SEV4}\n", "r.yaml:2:21: \"Warn\" is mapped twice"},
        {"inhibit_rules:\n  - equal: ['not a label']\n", "not a valid label name"},
        {"noise:\n  flapping: {threshold: 1, window: 5m}\n", "threshold"},
        {"noise:\n  min_duration: soon\n", "r.yaml:2:17: "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[1024] = "";
        ruleset_t *rs = compile(bad[i].yaml, err, sizeof err);
        CHECK(rs == NULL);
        if (!strstr(err, bad[i].want)) fprintf(stderr, "  case %zu: got '%s'\n", i, err);
        CHECK(strstr(err, bad[i].want) != NULL);
        ruleset_destroy(rs);
    }
    /* Warnings: no owner, no end, matches everything. */
    conf_t c;
    conf_defaults(&c);
    static const char y[] = "exclusions:\n"
                            "  - name: all\n"
                            "    matchers: ['x=~\".*\"']\n"
                            "  - name: fine\n"
                            "    owner: me\n"
                            "    ends_at: 2030-01-01T00:00:00Z\n"
                            "    matchers: ['x=\"1\"']\n";
    char err[1024], warns[4096] = "";
    CHECK(conf_load_buffer(&c, "w.yaml", y, sizeof y - 1, err, sizeof err) == QERR_OK);
    ruleset_t *rs = NULL;
    CHECK(ruleset_compile(&c, warn_collect, warns, &rs, err, sizeof err) == QERR_OK);
    CHECK(strstr(warns, "\"all\" has no owner") != NULL);
    CHECK(strstr(warns, "\"all\" has no end") != NULL);
    CHECK(strstr(warns, "\"all\" matches every alert") != NULL);
    CHECK(strstr(warns, "\"fine\"") == NULL);
    ruleset_destroy(rs);
    conf_free(&c);
}

/* 10,000 rules: the index and the cache agree with brute force. */
static void test_index_matches_brute_force(void)
{
    size_t n = 10000;
    size_t cap = n * 80 + 64;
    char *y = malloc(cap);
    size_t o = (size_t)snprintf(y, cap, "exclusions:\n");
    for (size_t i = 0; i < n; i++) {
        if (i % 100 == 7) /* some without an equality matcher */
            o += (size_t)snprintf(y + o, cap - o,
                                  "  - {name: r%zu, matchers: ['svc=~\"s%zu.*\"']}\n", i, i % 50);
        else
            o += (size_t)snprintf(y + o, cap - o,
                                  "  - {name: r%zu, matchers: ['alertname=\"A%zu\"', "
                                  "'env!=\"dev\"']}\n",
                                  i, i % 3000);
    }
    char err[1024];
    ruleset_t *rs = compile(y, err, sizeof err);
    free(y);
    CHECK(rs != NULL);
    if (!rs) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    rules_cache_t *cache = rules_cache_new(1024);
    int mismatches = 0, excluded = 0;
    for (int k = 0; k < 2000; k++) {
        char an[16], svc[16], env[8];
        snprintf(an, sizeof an, "A%d", (k * 7) % 3500);
        snprintf(svc, sizeof svc, "s%d", (k * 13) % 70);
        snprintf(env, sizeof env, "%s", k % 5 ? "prod" : "dev");
        label_t l[] = {{S(an), S(an)}, {S("env"), S(env)}, {S("svc"), S(svc)}};
        l[0].name = (str_t)S("alertname");
        /* brute force: first rule in file order whose set matches */
        const char *want = NULL;
        for (size_t i = 0; i < rs->n_ex && !want; i++)
            if (matcher_set_matches(rs->ex[i].ms, l, 3)) want = rs->ex[i].name;
        rules_verdict_t v1, v2;
        ruleset_eval(rs, l, 3, 0, &v1);
        ruleset_eval_cached(rs, cache, (uint64_t)k % 300 + 1, l, 3, 0, &v2);
        (void)v2;
        if ((want == NULL) != !v1.suppress || (want && strcmp(want, v1.rule) != 0)) mismatches++;
        excluded += v1.suppress;
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK(excluded > 100);
    /* The cache keyed by the label hash: same labels, same key -> same. */
    label_t l[] = {{S("alertname"), S("A5")}, {S("env"), S("prod")}};
    rules_verdict_t a, b;
    ruleset_eval_cached(rs, cache, 100000, l, 2, 0, &a);
    ruleset_eval_cached(rs, cache, 100000, l, 2, 0, &b);
    CHECK(a.suppress && b.suppress && a.rule == b.rule);
    CHECK_EQ_STR(a.rule, "r5");
    rules_cache_destroy(cache);
    ruleset_destroy(rs);
}

/* ---- the composed decision ---------------------------------------------- */

typedef struct {
    dedup_table_t *table;
    decider_t *d;
} dec_t;

static dec_t dec_new(inhibit_state_t *inh)
{
    dec_t x;
    x.table = dedup_table_new(10000);
    decider_opts_t o = {{5 * MIN, 4 * HOUR}, true, 256, 256};
    x.d = decider_new(&o, x.table, inh);
    return x;
}
static void dec_free(dec_t *x)
{
    decider_destroy(x->d);
    dedup_table_destroy(x->table);
}

static decision_kind_t send(dec_t *x, const ruleset_t *rs, label_t *l, uint32_t n, uint64_t fp,
                            alert_status_t st, int64_t now, incident_t *inc)
{
    alert_t a = {0};
    a.labels = l;
    a.n_labels = n;
    a.fingerprint = fp;
    a.status = st;
    a.event_time_ms = now;
    a.watermark_ms = now;
    return decider_decide(x->d, rs, &a, inc);
}

static void test_flapping(void)
{
    char err[512];
    ruleset_t *rs = compile("noise:\n  flapping: {threshold: 3, window: 10m}\n", err, sizeof err);
    CHECK(rs != NULL);
    if (!rs) return;
    dec_t x = dec_new(NULL);
    label_t l[] = {{S("alertname"), S("Flappy")}};
    incident_t inc;
    int64_t t = 0;
    CHECK_EQ_INT(send(&x, rs, l, 1, 9, ALERT_FIRING, t, &inc), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(send(&x, rs, l, 1, 9, ALERT_RESOLVED, t += MIN, &inc), DECISION_FORWARD_RESOLVED);
    CHECK_EQ_INT(send(&x, rs, l, 1, 9, ALERT_FIRING, t += MIN, &inc), DECISION_FORWARD_NEW);
    /* third flip within 10m: held */
    CHECK_EQ_INT(send(&x, rs, l, 1, 9, ALERT_RESOLVED, t += MIN, &inc), DECISION_SUPPRESS_FLAPPING);
    int held = 0;
    for (int i = 0; i < 10; i++)
        held += send(&x, rs, l, 1, 9, i % 2 ? ALERT_RESOLVED : ALERT_FIRING, t += MIN, &inc) ==
                DECISION_SUPPRESS_FLAPPING;
    CHECK_EQ_INT(held, 10); /* last state: resolved at t */
    /* stable (still resolved... then firing steady) for less than W: held */
    CHECK_EQ_INT(send(&x, rs, l, 1, 9, ALERT_RESOLVED, t + 5 * MIN, &inc),
                 DECISION_SUPPRESS_FLAPPING);
    /* W after the last flip: one incident, flapped */
    decision_kind_t k = send(&x, rs, l, 1, 9, ALERT_RESOLVED, t + 10 * MIN, &inc);
    CHECK(DECISION_IS_FORWARD(k));
    CHECK(inc.flapped);
    /* and then ordinary dedup again */
    k = send(&x, rs, l, 1, 9, ALERT_RESOLVED, t + 11 * MIN, &inc);
    CHECK(!DECISION_IS_FORWARD(k) && !inc.flapped);
    /* Flips spread wider than the window never hold. */
    dec_t y = dec_new(NULL);
    t = 0;
    for (int i = 0; i < 10; i++) {
        k = send(&y, rs, l, 1, 10, i % 2 ? ALERT_RESOLVED : ALERT_FIRING, t += 11 * MIN, &inc);
        CHECK(k != DECISION_SUPPRESS_FLAPPING);
    }
    dec_free(&x);
    dec_free(&y);
    ruleset_destroy(rs);
}

static void test_transient(void)
{
    char err[512];
    ruleset_t *rs = compile("noise:\n  min_count: 3\n  min_duration: 4m\n", err, sizeof err);
    CHECK(rs != NULL);
    if (!rs) return;
    dec_t x = dec_new(NULL);
    label_t l[] = {{S("alertname"), S("Blip")}};
    incident_t inc;
    /* seen 3 times: forwarded on the third, once */
    CHECK_EQ_INT(send(&x, rs, l, 1, 1, ALERT_FIRING, 0, &inc), DECISION_SUPPRESS_TRANSIENT);
    CHECK_EQ_INT(send(&x, rs, l, 1, 1, ALERT_FIRING, 10000, &inc), DECISION_SUPPRESS_TRANSIENT);
    CHECK_EQ_INT(send(&x, rs, l, 1, 1, ALERT_FIRING, 20000, &inc), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(inc.count, 3);
    CHECK_EQ_INT(send(&x, rs, l, 1, 1, ALERT_FIRING, 30000, &inc), DECISION_SUPPRESS_DUPLICATE);
    /* resolved before it counted: never shown */
    CHECK_EQ_INT(send(&x, rs, l, 1, 2, ALERT_FIRING, 0, &inc), DECISION_SUPPRESS_TRANSIENT);
    CHECK_EQ_INT(send(&x, rs, l, 1, 2, ALERT_RESOLVED, 1000, &inc), DECISION_SUPPRESS_TRANSIENT);
    /* kept firing 4 minutes (two occurrences): forwarded by duration */
    CHECK_EQ_INT(send(&x, rs, l, 1, 3, ALERT_FIRING, 0, &inc), DECISION_SUPPRESS_TRANSIENT);
    CHECK_EQ_INT(send(&x, rs, l, 1, 3, ALERT_FIRING, 4 * MIN, &inc), DECISION_FORWARD_NEW);
    dec_free(&x);
    ruleset_destroy(rs);
}

static void test_inhibition(void)
{
    char err[512];
    const char *yaml = "inhibit_rules:\n"
                       "  - name: node-down\n"
                       "    source_matchers: ['alertname=\"NodeDown\"']\n"
                       "    target_matchers: ['severity=~\"warning|info\"']\n"
                       "    equal: [instance]\n"
                       "  - name: crit-over-warn\n"
                       "    source_matchers: ['severity=\"critical\"']\n"
                       "    target_matchers: ['severity=~\"critical|warning\"']\n"
                       "    equal: [alertname]\n";
    ruleset_t *rs = compile(yaml, err, sizeof err);
    CHECK(rs != NULL);
    if (!rs) return;
    inhibit_state_t *inh = inhibit_state_new(1024);
    /* Two workers share the state: the source and the target are on
     * different ones. */
    dec_t w1 = dec_new(inh), w2 = dec_new(inh);
    incident_t inc;
    label_t src[] = {
        {S("alertname"), S("NodeDown")}, {S("instance"), S("n1")}, {S("severity"), S("critical")}};
    label_t tgt[] = {
        {S("alertname"), S("DiskFull")}, {S("instance"), S("n1")}, {S("severity"), S("warning")}};
    label_t other[] = {
        {S("alertname"), S("DiskFull")}, {S("instance"), S("n2")}, {S("severity"), S("warning")}};
    CHECK_EQ_INT(send(&w2, rs, tgt, 3, 100, ALERT_FIRING, 0, &inc), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(send(&w1, rs, src, 3, 200, ALERT_FIRING, MIN, &inc), DECISION_FORWARD_NEW);
    CHECK_EQ_INT(send(&w2, rs, tgt, 3, 101, ALERT_FIRING, 2 * MIN, &inc),
                 DECISION_SUPPRESS_INHIBITED);
    CHECK_EQ_STR(inc.rule, "node-down");
    CHECK_EQ_INT(send(&w2, rs, other, 3, 102, ALERT_FIRING, 2 * MIN, &inc), DECISION_FORWARD_NEW);
    /* An alert matching both sides never inhibits itself (nor others that
     * match both): critical NodeDown is source and target of rule 2. */
    CHECK_EQ_INT(send(&w1, rs, src, 3, 200, ALERT_FIRING, 3 * MIN, &inc),
                 DECISION_SUPPRESS_DUPLICATE);
    label_t crit2[] = {
        {S("alertname"), S("NodeDown")}, {S("instance"), S("n9")}, {S("severity"), S("critical")}};
    CHECK(send(&w2, rs, crit2, 3, 300, ALERT_FIRING, 3 * MIN, &inc) != DECISION_SUPPRESS_INHIBITED);
    /* The source resolves: targets pass again. */
    send(&w1, rs, src, 3, 200, ALERT_RESOLVED, 4 * MIN, &inc);
    CHECK_EQ_INT(send(&w2, rs, tgt, 3, 103, ALERT_FIRING, 5 * MIN, &inc), DECISION_FORWARD_NEW);
    /* A source that stops firing without resolving expires after the window. */
    send(&w1, rs, src, 3, 200, ALERT_FIRING, 6 * MIN, &inc);
    CHECK_EQ_INT(send(&w2, rs, tgt, 3, 104, ALERT_FIRING, 7 * MIN, &inc),
                 DECISION_SUPPRESS_INHIBITED);
    CHECK_EQ_INT(send(&w2, rs, tgt, 3, 105, ALERT_FIRING, 12 * MIN, &inc), DECISION_FORWARD_NEW);
    /* Across a (clean) restart: the firing source is saved and loaded, so
     * the first target after the restart is already inhibited. */
    send(&w1, rs, src, 3, 200, ALERT_FIRING, 20 * MIN, &inc);
    char path[] = "/tmp/quell-inhibit-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(inhibit_state_save(inh, path, err, sizeof err) == QERR_OK);
    inhibit_state_t *after = inhibit_state_new(1024);
    uint64_t loaded = 0;
    CHECK(inhibit_state_load(after, path, &loaded, err, sizeof err) == QERR_OK);
    CHECK(loaded >= 1);
    dec_t w3 = dec_new(after);
    CHECK_EQ_INT(send(&w3, rs, tgt, 3, 106, ALERT_FIRING, 21 * MIN, &inc),
                 DECISION_SUPPRESS_INHIBITED);
    dec_free(&w3);
    inhibit_state_destroy(after);
    /* A missing file loads nothing; a foreign one is refused. */
    after = inhibit_state_new(64);
    CHECK(inhibit_state_load(after, "/nonexistent/quell", &loaded, err, sizeof err) == QERR_OK);
    CHECK_EQ_INT(loaded, 0);
    FILE *junk = fopen(path, "w");
    fputs("not a state file", junk);
    fclose(junk);
    CHECK(inhibit_state_load(after, path, &loaded, err, sizeof err) == QERR_INVALID);
    unlink(path);
    inhibit_state_destroy(after);
    dec_free(&w1);
    dec_free(&w2);
    inhibit_state_destroy(inh);
    ruleset_destroy(rs);
}

/* ---- the worker, both modes ------------------------------------------------ */

typedef struct {
    _Atomic int forwards;
} hook_ctx_t;

static qerr_t count_forward(void *ctx, const alert_t *a, const incident_t *inc, msg_track_t *t)
{
    (void)a;
    (void)inc;
    hook_ctx_t *h = ctx;
    atomic_fetch_add(&h->forwards, 1);
    track_done(t);
    return QERR_OK;
}

/* The worker applies the rules in memory mode (the whole decision) and in
 * shared-store mode (the rule half before the store; here the store is
 * unreachable and fails open to the local table). */
static void test_worker_modes(void)
{
    char err[512];
    ruleset_t *rs =
        compile("exclusions:\n  - {name: dev, matchers: ['env=\"dev\"']}\n", err, sizeof err);
    CHECK(rs != NULL);
    if (!rs) return;
    rules_live_t *live = rules_live_new(rs, 1);
    for (int mode = 0; mode < 2; mode++) {
        dedup_params_t p = {5 * MIN, 4 * HOUR};
        hook_ctx_t h = {0};
        dedup_worker_t *w = dedup_worker_new(&p, 1000, 1 << 20, count_forward, &h);
        CHECK(w != NULL);
        if (!w) break;
        decider_opts_t o = {p, true, 256, 256};
        decider_t *d = decider_new(&o, dedup_worker_table(w), NULL);
        dedup_worker_use_rules(w, live, d, 0);
        if (mode == 1) {
            store_conf_t sc = {.prefix = "t",
                               .timeout_ms = 50,
                               .on_error = STORE_FAIL_OPEN,
                               .lease_ms = 1000,
                               .ttl_ms = store_ttl_ms(&p, 1000),
                               .cache_ms = 100,
                               .batch = 64,
                               .cache_entries = 1024};
            CHECK(store_url_parse("redis://127.0.0.1:1", &sc, &(bool){false}, err, sizeof err) ==
                  QERR_OK);
            CHECK(dedup_worker_use_store(w, &sc, 7) == QERR_OK);
        }
        CHECK(dedup_worker_start(w) == QERR_OK);
        const char *envs[] = {"prod", "dev", "dev", "stage"};
        for (int i = 0; i < 4; i++) {
            label_t l[] = {{S("alertname"), S("X")}, {S("env"), S(envs[i])}};
            alert_t a = {0};
            a.labels = l;
            a.n_labels = 2;
            a.fingerprint = 1000 + (uint64_t)i;
            a.event_time_ms = a.watermark_ms = MONDAY + i;
            size_t len = alert_rec_size(&a);
            void *rec;
            while (!(rec = ring_reserve(dedup_worker_ring(w), len))) usleep(1000);
            alert_rec_write(rec, &a, NULL);
            ring_commit(dedup_worker_ring(w));
        }
        dedup_worker_stats_t st;
        for (int waited = 0; waited < 5000; waited += 10) {
            dedup_worker_stats(w, &st);
            uint64_t total = 0;
            for (int k = 0; k < DECISION__COUNT; k++) total += st.decisions[k];
            if (total == 4) break;
            usleep(10000);
        }
        dedup_worker_stop(w);
        dedup_worker_stats(w, &st);
        if (st.decisions[DECISION_SUPPRESS_EXCLUDED] != 2) fprintf(stderr, "  mode %d\n", mode);
        CHECK_EQ_INT(st.decisions[DECISION_SUPPRESS_EXCLUDED], 2);
        CHECK_EQ_INT(st.decisions[DECISION_FORWARD_NEW], 2);
        CHECK_EQ_INT(atomic_load(&h.forwards), 2);
        dedup_worker_destroy(w);
        decider_destroy(d);
    }
    rules_live_destroy(live);
}

/* Per-rule counts for /metrics survive a reload (carried over by name). */
static void test_rule_metrics(void)
{
    char err[512];
    ruleset_t *rs = compile("exclusions:\n  - {name: dev, matchers: ['env=\"dev\"']}\n"
                            "inhibit_rules:\n  - {name: down, source_matchers: ['a=\"s\"'], "
                            "target_matchers: ['a=\"t\"']}\n",
                            err, sizeof err);
    CHECK(rs != NULL);
    if (!rs) return;
    rules_live_t *live = rules_live_new(rs, 1);
    dec_t x = dec_new(NULL);
    incident_t inc;
    label_t dev[] = {{S("env"), S("dev")}};
    const ruleset_t *cur = rules_live_enter(live, 0);
    for (int i = 0; i < 3; i++) send(&x, cur, dev, 1, 5, ALERT_FIRING, i, &inc);
    rules_live_leave(live, 0);
    ruleset_t *next = compile("exclusions:\n  - {name: other, matchers: ['x=\"1\"']}\n"
                              "  - {name: dev, matchers: ['env=~\"dev|test\"']}\n",
                              err, sizeof err);
    CHECK(next != NULL);
    if (next) rules_live_swap(live, next);
    mbuf_t b;
    mbuf_init(&b);
    rules_metrics_reasons(live, &b, "quell_decisions_total");
    rules_metrics_write(live, NULL, NULL, &b);
    CHECK(strstr(b.buf ? b.buf : "",
                 "quell_decisions_total{decision=\"suppress\",reason=\"excluded:dev\"} 3") != NULL);
    CHECK(strstr(b.buf ? b.buf : "", "reason=\"excluded:other\"} 0") != NULL);
    CHECK(strstr(b.buf ? b.buf : "", "quell_rules{kind=\"exclusion\"} 2") != NULL);
    CHECK(strstr(b.buf ? b.buf : "", "quell_rules_generation ") != NULL);
    if (check_failures) fprintf(stderr, "%s\n", b.buf ? b.buf : "");
    mbuf_free(&b);
    dec_free(&x);
    rules_live_destroy(live);
}

/* ---- reload under load ---------------------------------------------------- */

typedef struct {
    rules_live_t *live;
    size_t reader;
    _Atomic bool *stop;
    uint64_t evals, mixed;
} reader_arg_t;

static void *reader_main(void *p)
{
    reader_arg_t *r = p;
    label_t l[] = {{S("alertname"), S("A")}, {S("gen"), S("x")}};
    while (!atomic_load(r->stop)) {
        const ruleset_t *rs = rules_live_enter(r->live, r->reader);
        /* Each version excludes A with a rule named after its version and
         * has as many exclusions as its version number: a torn read would
         * show a name from one and a count from the other. */
        rules_verdict_t v;
        ruleset_eval(rs, l, 2, 0, &v);
        size_t n = ruleset_exclusion_count(rs);
        char want[32];
        snprintf(want, sizeof want, "v%zu", n);
        if (!v.suppress || strcmp(v.rule, want) != 0) r->mixed++;
        r->evals++;
        rules_live_leave(r->live, r->reader);
    }
    return NULL;
}

static void write_version(const char *path, int version)
{
    FILE *fp = fopen(path, "w");
    fprintf(fp, "exclusions:\n");
    fprintf(fp, "  - {name: v%d, matchers: ['alertname=\"A\"']}\n", version);
    for (int i = 1; i < version; i++)
        fprintf(fp, "  - {name: pad%d, matchers: ['x=\"%d\"']}\n", i, i);
    fclose(fp);
}

static void test_reload_under_load(void)
{
    char dir[] = "/tmp/quell-rules-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/rules.yaml", dir);
    write_version(path, 1);
    conf_t c;
    conf_defaults(&c);
    char err[1024];
    CHECK(conf_load(&c, path, err, sizeof err) == QERR_OK);
    ruleset_t *rs = NULL;
    CHECK(ruleset_compile(&c, NULL, NULL, &rs, err, sizeof err) == QERR_OK);
    conf_free(&c);
    rules_live_t *live = rules_live_new(rs, 3);
    _Atomic bool stop = false;
    reader_arg_t ra[2] = {{live, 0, &stop, 0, 0}, {live, 1, &stop, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, reader_main, &ra[i]);
    int reloads = 0, refused = 0;
    for (int v = 2; v <= 40; v++) {
        write_version(path, v);
        if (rules_reload_now(live, path, err, sizeof err) == QERR_OK) reloads++;
        if (v % 10 == 0) { /* an invalid file is refused; the old rules stay */
            FILE *fp = fopen(path, "w");
            fprintf(fp, "exclusions:\n  - {name: broken, matchers: ['x=~\"(\"']}\n");
            fclose(fp);
            uint64_t gen = rules_live_generation(live);
            if (rules_reload_now(live, path, err, sizeof err) != QERR_OK) refused++;
            CHECK(strstr(err, "rules.yaml:2:") != NULL);
            CHECK(rules_live_generation(live) == gen);
        }
    }
    /* The reloader thread: a file change is picked up. */
    _Atomic bool req = false;
    rules_reloader_t *rl = rules_reloader_start(live, path, 20, &req, NULL);
    sleep(1); /* mtime granularity: make the next write a visible change */
    /* As config tools do it: a temp file renamed over the old one (a file
     * rewritten in place can be seen half written by any reader). */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    write_version(tmp, 41);
    CHECK(rename(tmp, path) == 0);
    uint64_t ok = 0, bad = 0;
    for (int i = 0; i < 300 && ok == 0; i++) {
        usleep(10000);
        rules_reloader_counts(rl, &ok, &bad);
    }
    CHECK(ok >= 1);
    CHECK_EQ_INT(ruleset_exclusion_count(rules_live_enter(live, 2)), 41);
    rules_live_leave(live, 2);
    rules_reloader_stop(rl);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_EQ_INT(reloads, 39);
    CHECK_EQ_INT(refused, 4);
    CHECK(ra[0].evals > 0 && ra[1].evals > 0);
    CHECK_EQ_INT(ra[0].mixed + ra[1].mixed, 0);
    rules_live_destroy(live);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    log_setup(LOG_ERROR, LOG_FMT_LOGFMT); /* reload warnings are expected */
    test_exclusions();
    test_severity();
    test_errors_and_warnings();
    test_index_matches_brute_force();
    test_flapping();
    test_transient();
    test_inhibition();
    test_worker_modes();
    test_rule_metrics();
    test_reload_under_load();
    return check_summary("test_rules");
}
