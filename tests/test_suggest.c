/* The tuning loop on recorded traffic: grouping rules (rules/group.c), id
 * normalisation, and `quell suggest` + `quell replay` through the real
 * binary on generated IDS storms (ids_storm.h): the proposal shrinks the
 * storm at least 50x, every attack phase still opens an incident, and the
 * candidate report lists the critical alert a suggestion hides first. */
#include <lzma.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "../app/recorded.h"
#include "../app/recorded_int.h"
#include "../dedup/group.h"
#include "check.h"
#include "ids_storm.h"

static char dir[] = "/tmp/quell-suggest-XXXXXX";

/* Runs quell with `args`, its stdin the output of shell command `pipe`
 * (NULL: none). */
static int run_piped(const char *pipe, const char *args, char **out, char **err)
{
    char cmd[4096], out_path[256], err_path[256];
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    snprintf(cmd, sizeof cmd, "%s%s%s %s >%s 2>%s", pipe ? pipe : "", pipe ? " | " : "",
             getenv("QUELL_BIN"), args, out_path, err_path);
    int status = system(cmd);
    *out = check_read_file(out_path, NULL);
    *err = check_read_file(err_path, NULL);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run(const char *args, char **out, char **err) { return run_piped(NULL, args, out, err); }

/* `quell suggest -o SUG PATH`, which must succeed: the proposal it wrote. */
static char *suggest_into(const char *sug, const char *path)
{
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "suggest -o %s %s", sug, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    free(out);
    free(err);
    return check_read_file(sug, NULL);
}

static bool *forwarded_rows(const char *out, size_t n, size_t *forwards);

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* ---- normalisation and grouping rules ----------------------------------- */

static void test_normalize(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"DiskFull", "DiskFull"},
        {"job 8812 failed", "job <n> failed"},
        {"cell 7 down", "cell <n> down"},
        {"SSLv3 on host42", "SSLv3 on host42"},
        {"flow 0x1f3a0c9d reset", "flow <hex> reset"},
        {"backup-2026010203 done", "backup-<n> done"},
        {"session 3f2504e0-4f89-41d3-9a0c-0305e82c3301 resumed", "session <uuid> resumed"},
        {"commit deadbeef12 pushed", "commit <hex> pushed"},
        {"ET EXPLOIT log4j (CVE-2021-44228)", "ET EXPLOIT log4j (CVE-2021-44228)"},
        {"[1:2010935:3] ET SCAN", "[<n>:<n>:<n>] ET SCAN"},
        {"Win32 deadbeef", "Win32 deadbeef"},
    };
    char out[200];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = id_normalize(cases[i].in, strlen(cases[i].in), out, sizeof out);
        CHECK_EQ_STR(out, cases[i].want);
        CHECK_EQ_INT(n, strlen(cases[i].want));
    }
    /* truncation reports the full length, like snprintf */
    CHECK_EQ_INT(id_normalize("job 8812 failed", 15, out, 4), strlen("job <n> failed"));
    CHECK_EQ_STR(out, "job");
}

static qerr_t load(conf_t *c, const char *yaml, char *err, size_t errlen)
{
    conf_defaults(c);
    return conf_load_buffer(c, "g.yaml", yaml, strlen(yaml), err, errlen);
}

static void test_grouping_rules(void)
{
    conf_t c;
    char err[512];
    fp_grouping_t *g = NULL;
    CHECK_EQ_INT(load(&c,
                      "grouping:\n"
                      "  - name: ids\n"
                      "    matchers: ['alertname=~\"job [0-9]+ failed\"']\n"
                      "    by: [alertname]\n"
                      "    normalize: [alertname]\n"
                      "    owner: batch\n"
                      "  - name: by-name\n"
                      "    by: [alertname, severity]\n"
                      "    owner: sre\n",
                      err, sizeof err),
                 QERR_OK);
    CHECK_EQ_INT(fp_grouping_compile(&c, NULL, NULL, &g, err, sizeof err), QERR_OK);
    CHECK_EQ_INT(fp_grouping_count(g), 2);
    dedup_fp_conf_t fc;
    dedup_fp_conf_init(&fc, FP_XXH3, NULL, NULL);
    uint64_t plain_a, plain_b;
    label_t a[] = {{{"alertname", 9}, {"DiskFull", 8}},
                   {{"instance", 8}, {"db-1", 4}},
                   {{"severity", 8}, {"critical", 8}}};
    label_t b[] = {{{"alertname", 9}, {"DiskFull", 8}},
                   {{"instance", 8}, {"db-2", 4}},
                   {{"severity", 8}, {"critical", 8}}};
    label_t w[] = {{{"alertname", 9}, {"DiskFull", 8}},
                   {{"instance", 8}, {"db-2", 4}},
                   {{"severity", 8}, {"warning", 7}}};
    label_t j1[] = {{{"alertname", 9}, {"job 8812 failed", 15}}, {{"instance", 8}, {"a", 1}}};
    label_t j2[] = {{{"alertname", 9}, {"job 9913 failed", 15}}, {{"instance", 8}, {"b", 1}}};
    plain_a = dedup_fingerprint(&fc, a, 3);
    plain_b = dedup_fingerprint(&fc, b, 3);
    CHECK(plain_a != plain_b);
    fp_grouping_attach(g, &fc);
    /* one name on many hosts: one fingerprint; a different severity stays apart */
    CHECK(dedup_fingerprint(&fc, a, 3) == dedup_fingerprint(&fc, b, 3));
    CHECK(dedup_fingerprint(&fc, a, 3) != dedup_fingerprint(&fc, w, 3));
    /* ids in names fold by the first rule */
    CHECK_EQ_INT(fp_grouping_match(g, j1, 2), 0);
    CHECK(dedup_fingerprint(&fc, j1, 2) == dedup_fingerprint(&fc, j2, 2));
    /* a folded member's resolve never lands on the group's incident;
     * without grouping, firing and resolved share one fingerprint (below) */
    alert_t fa = {.labels = a, .n_labels = 3, .status = ALERT_FIRING};
    alert_t ra = fa;
    ra.status = ALERT_RESOLVED;
    CHECK(dedup_fingerprint_alert(&fc, &fa) == dedup_fingerprint(&fc, a, 3));
    CHECK(dedup_fingerprint_alert(&fc, &ra) != dedup_fingerprint_alert(&fc, &fa));
    fp_grouping_attach(NULL, &fc);
    CHECK(dedup_fingerprint(&fc, a, 3) == plain_a);
    CHECK(dedup_fingerprint_alert(&fc, &ra) == plain_a);
    fp_grouping_destroy(g);
    conf_free(&c);

    /* errors name file:line:col */
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"grouping:\n  - name: x\n", "g.yaml:2:5: grouping rule \"x\" needs by"},
        {"grouping:\n  - name: x\n    by: [a]\n    normalize: [b]\n",
         "g.yaml:4:17: normalize: \"b\" is not one of this rule's by labels"},
        {"grouping:\n  - name: x\n    by: [a]\n    colour: red\n",
         "g.yaml:4:5: unknown grouping key \"colour\""},
        {"grouping: {name: x}\n", "g.yaml:1:11: grouping must be a list"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(load(&c, bad[i].yaml, err, sizeof err), QERR_OK);
        g = NULL;
        CHECK_EQ_INT(fp_grouping_compile(&c, NULL, NULL, &g, err, sizeof err), QERR_INVALID);
        if (strncmp(err, bad[i].want, strlen(bad[i].want)))
            fprintf(stderr, "got: %s\nwant: %s\n", err, bad[i].want);
        CHECK(!strncmp(err, bad[i].want, strlen(bad[i].want)));
        CHECK(g == NULL);
        conf_free(&c);
    }
}

/* ---- reading recorded traffic --------------------------------------------- */

static void test_times(void)
{
    static const struct {
        const char *in;
        int64_t want;
    } ok[] = {
        {"2026-03-02T10:00:01Z", 1772445601000LL},
        {"2026-03-02T10:00:01.250+01:00", 1772442001250LL},
        {"2026-03-02T10:00:01.123456+0000", 1772445601123LL}, /* Suricata EVE */
        {"2026-03-02 10:00:01", 1772445601000LL},
        {"2026/03/02 10:00:01.5 UTC", 1772445601500LL},
        {"03/02/2026-10:00:01.123456", 1772445601123LL}, /* fast.log */
        {"1772445601", 1772445601000LL},
        {"1772445601.25", 1772445601250LL},
        {"1772445601000", 1772445601000LL},
        {" 2026-03-02T10:00:01Z ", 1772445601000LL},
        {"2026-03-02T10:00", 1772445600000LL}, /* ISO 8601 without seconds */
        {"2017-07-05 08:42:10.123456", 1499244130123LL},
        {"2017-07-05T08:42:10.123456+02:00", 1499236930123LL}, /* RFC 5424 */
        {"1499244130123456", 1499244130123LL},                 /* epoch us */
        {"1499244130123456789", 1499244130123LL},              /* epoch ns */
        {"5/7/2017 8:42", 1494146520000LL},                    /* M/D/Y, no seconds */
        {"7/13/2017 3:30:12 PM", 1499959812000LL},             /* a 12-hour clock */
        {"5/7/17 12:05 AM", 1494115500000LL},                  /* 2-digit year */
        {"13.07.2017 08:42:10", 1499935330000LL},              /* dots: D.M.Y */
        {"Wed Dec  6 15:51:00 2017", 1512575460000LL},         /* ctime */
        {"06/Dec/2017:15:51:00 +0100", 1512571860000LL},       /* Apache */
        {"Wed, 06 Dec 2017 15:51:00 +0000", 1512575460000LL},  /* RFC 2822 */
        {"20170707T153000Z", 1499441400000LL},                 /* ISO 8601 basic */
        {"20170707T1530+0200", 1499434200000LL},
        {"20170707T153000.250", 1499441400250LL},
        {"20170707153000", 1499441400000LL},            /* not Unix ms (the year 2609) */
        {"20170707153000.000000+060", 1499437800000LL}, /* WMI CIM_DATETIME: minutes */
        {"2017-07-07 3:30:00 p.m.", 1499441400000LL},
        {"7/7/2017 3:30:00 PM", 1499441400000LL}, /* Windows event export */
        {"07-Jul-2017 15:30:00", 1499441400000LL},
        {"1499441400.123456", 1499441400123LL},
        {"2017-07-07 03:30:00 PM", 1499441400000LL},
        {"Jul 7, 2017 3:30:00 PM", 1499441400000LL},
        {"Jul 7, 2017 @ 15:30:00.123", 1499441400123LL},   /* Kibana */
        {"Jul 7, 2017, 3:30:00 PM", 1499441400000LL},      /* QRadar */
        {"Fri Jul 07 15:30:00 UTC 2017", 1499441400000LL}, /* Java's Date */
        {"07 Jul 2017, 15:30", 1499441400000LL},
        {"Fri Jul 07 15:30:00 CEST 2017", 1499434200000LL}, /* a zone's abbreviation */
        {"2017-07-07 15:30:00 CEST", 1499434200000LL},
        {"2017-07-07 10:30:00 EDT", 1499437800000LL},
        {"Jul 7, 2017 7:30:00 AM PST", 1499441400000LL},
        {"2017-07-07 15:30:00 GMT+2", 1499434200000LL},
        {"2017-07-07T15:30:00 UTC+05:30", 1499421600000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int64_t t = -1;
        bool got = recorded_parse_time(ok[i].in, strlen(ok[i].in), &t);
        if (!got || t != ok[i].want) fprintf(stderr, "time \"%s\": %lld\n", ok[i].in, (long long)t);
        CHECK(got && t == ok[i].want);
    }
    static const char *const bad[] = {"yesterday",
                                      "2026-13-02 10:00:01",
                                      "10:00:01",
                                      "",
                                      "1.2.3",
                                      "1772445601.",
                                      "5/7",
                                      "13:30 PM",
                                      "Dec 32 10:00:00",
                                      "20171307T153000Z",
                                      "20170707T15300",
                                      "20170707T2530",
                                      "20170707T1530.5.5",
                                      "Jul 7, 2017 @@ 15:30",
                                      "2017-07-07 15:30:00 IST", /* India, Ireland or Israel */
                                      "2017-07-07 15:30:00 XYZ",
                                      "Fri Jul 07 15:30:00 CESTX 2017",
                                      "2017-07-07 15:30:00 UTC+25"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t t;
        CHECK(!recorded_parse_time(bad[i], strlen(bad[i]), &t));
    }
}

/* Two-field dates read in the order given, voting on it; yearless dates
 * (syslog) take the year given. */
static void test_time_orders(void)
{
    rec_time_opts_t mdy = {REC_DATE_MDY, 2026}, dmy = {REC_DATE_DMY, 2026};
    rec_time_info_t info;
    int64_t t = 0;
    CHECK(rec_parse_time("5/7/2017 8:42", 13, &dmy, &t, &info));
    CHECK_EQ_INT(t, 1499244120000LL); /* 5 July */
    CHECK(info.two_field_date && !info.first_over_12 && !info.second_over_12);
    CHECK(!rec_parse_time("13/07/2017 08:42:10", 19, &mdy, &t, &info));
    CHECK(info.first_over_12);
    CHECK(rec_parse_time("13/07/2017 08:42:10", 19, &dmy, &t, &info));
    CHECK_EQ_INT(t, 1499935330000LL);
    CHECK(rec_parse_time("7/13/2017 3:30:12 PM", 20, &mdy, &t, &info));
    CHECK(info.second_over_12 && !info.first_over_12);
    CHECK(rec_parse_time("Dec  6 15:51:00", 15, &mdy, &t, &info));
    CHECK_EQ_INT(t, 1796572260000LL);
    CHECK(info.yearless && info.month == 12);
    rec_time_opts_t y2027 = {REC_DATE_MDY, 2027};
    CHECK(rec_parse_time("Jan 01 00:00:01.123", 19, &y2027, &t, &info));
    CHECK_EQ_INT(t, 1798761601123LL);
    CHECK(rec_parse_time("<notatime", 9, &mdy, &t, &info) == false);
    /* fast.log's M/D-clock is M/D whatever the file's other dates say */
    CHECK(rec_parse_time("07/05-08:42:10.5", 16, &dmy, &t, &info));
    CHECK_EQ_INT(t, 1783240930500LL);
    CHECK(!info.two_field_date);
}

typedef struct {
    char rows[16][300];
    int64_t t[16];
    size_t n;
} seen_t;

static void keep_row(void *ctx, alert_t *a)
{
    seen_t *s = ctx;
    if (s->n == 16) return;
    size_t o = 0;
    for (uint32_t i = 0; i < a->n_labels; i++)
        o += (size_t)snprintf(s->rows[s->n] + o, sizeof s->rows[0] - o, "%s%.*s=%.*s", i ? " " : "",
                              (int)a->labels[i].name.len, a->labels[i].name.ptr,
                              (int)a->labels[i].value.len, a->labels[i].value.ptr);
    if (a->status == ALERT_RESOLVED)
        snprintf(s->rows[s->n] + o, sizeof s->rows[0] - o, " RESOLVED");
    s->t[s->n++] = a->event_time_ms;
}

static void count_row(void *ctx, alert_t *a)
{
    (void)a;
    (*(size_t *)ctx)++;
}

/* CSV quoting, roles guessed without a mapping, a mapping picking columns. */
static void test_csv(void)
{
    char path[256], err[200];
    snprintf(path, sizeof path, "%s/alarms.csv", dir);
    write_text(path, "Time;Alarm Name;Perceived Severity;Node;State\r\n"
                     "2026-03-02 10:00:00;\"Link down; port 7\";major;ne-1;active\r\n"
                     "2026-03-02 10:00:05;\"Says \"\"hi\"\"\nacross lines\";minor;ne-2;cleared\r\n"
                     "\r\n"
                     "2026-03-02 10:00:09;Fan;;ne-3;active\r\n");
    conf_t c;
    conf_defaults(&c);
    recorded_t *r = recorded_new(&c, NULL, err, sizeof err);
    seen_t s = {0};
    CHECK(r != NULL);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_STR(s.rows[0], "Node=ne-1 alertname=Link down; port 7 severity=major");
    CHECK_EQ_STR(s.rows[1],
                 "Node=ne-2 alertname=Says \"hi\"\nacross lines severity=minor RESOLVED");
    CHECK_EQ_STR(s.rows[2], "Node=ne-3 alertname=Fan");
    CHECK_EQ_INT(s.t[1] - s.t[0], 5000);
    CHECK_EQ_INT(recorded_errors(r), 0);
    recorded_destroy(r);

    r = recorded_new(&c, "alertname=Alarm Name,instance=Node,time=Time", err, sizeof err);
    memset(&s, 0, sizeof s);
    CHECK(r != NULL);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_STR(s.rows[0], "alertname=Link down; port 7 instance=ne-1");
    recorded_destroy(r);

    /* A Wazuh alert (nested JSON, no mapping): rule.description names it,
     * rule.level is its severity. */
    snprintf(path, sizeof path, "%s/wazuh.json", dir);
    write_text(path, "{\"timestamp\":\"2022-01-21T00:09:59.000+0000\",\"rule\":{\"level\":5,"
                     "\"description\":\"sshd: authentication failed.\",\"id\":\"5716\"},"
                     "\"agent\":{\"name\":\"mail\"}}\n");
    r = recorded_new(&c, NULL, err, sizeof err);
    memset(&s, 0, sizeof s);
    CHECK(r != NULL);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    if (s.n) {
        fprintf(stderr, "wazuh row: %s\n", s.rows[0]);
        CHECK(strstr(s.rows[0], "alertname=sshd: authentication failed.") != NULL);
        CHECK(strstr(s.rows[0], "severity=5") != NULL);
    }
    recorded_destroy(r);

    /* A cron check log and PagerDuty events, roles guessed: a run that
     * succeeded, a host back up and a PagerDuty "resolve" close what the
     * failure opened; they are not alerts of their own. */
    snprintf(path, sizeof path, "%s/cron.csv", dir);
    write_text(path, "finished_at,job,host,result\n"
                     "1772445600,backup,db-1,failed\n"
                     "1772449200,backup,db-1,success\n"
                     "1772449260,ping,web-1,up\n");
    r = recorded_new(&c, NULL, err, sizeof err);
    memset(&s, 0, sizeof s);
    CHECK(r != NULL);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_STR(s.rows[0], "alertname=backup host=db-1");
    CHECK_EQ_STR(s.rows[1], "alertname=backup host=db-1 RESOLVED");
    CHECK_EQ_STR(s.rows[2], "alertname=ping host=web-1 RESOLVED");
    recorded_destroy(r);
    snprintf(path, sizeof path, "%s/pd.json", dir);
    write_text(path,
               "{\"routing_key\":\"k\",\"dedup_key\":\"srv01/HTTP\",\"event_action\":"
               "\"trigger\",\"payload\":{\"summary\":\"HTTP down\",\"severity\":\"critical\"}}\n"
               "{\"routing_key\":\"k\",\"dedup_key\":\"srv01/HTTP\",\"event_action\":"
               "\"resolve\",\"payload\":{\"summary\":\"HTTP down\",\"severity\":\"critical\"}}\n");
    r = recorded_new(&c, "alertname=payload.summary,dedup_key,status=event_action", err,
                     sizeof err);
    memset(&s, 0, sizeof s);
    CHECK(r != NULL);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.rows[0], "alertname=HTTP down dedup_key=srv01/HTTP");
    CHECK_EQ_STR(s.rows[1], "alertname=HTTP down dedup_key=srv01/HTTP RESOLVED");
    recorded_destroy(r);

    /* header names as exports spell them: spaces, case, no separator */
    snprintf(path, sizeof path, "%s/export.csv", dir);
    write_text(path, "Event Time,Signature Name,Severity Level,Source IP\n"
                     "2026-03-02 10:00:00,ET SCAN Nmap,2,203.0.113.5\n");
    r = recorded_new(&c, NULL, err, sizeof err);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.rows[0], "Source_IP=203.0.113.5 alertname=ET SCAN Nmap severity=2");
    CHECK_EQ_INT(s.t[0], 1772445600000LL);
    recorded_destroy(r);
    snprintf(path, sizeof path, "%s/export2.csv", dir);
    write_text(path, "AlertName;EventTime;host\nDisk full;1772445600;db-1\n");
    r = recorded_new(&c, NULL, err, sizeof err);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.rows[0], "alertname=Disk full host=db-1");
    CHECK_EQ_INT(s.t[0], 1772445600000LL);
    recorded_destroy(r);

    static const char *const bad_maps[] = {"", "a=", "1x=y", "a=b,a=c"};
    for (size_t i = 0; i < sizeof bad_maps / sizeof *bad_maps; i++) {
        err[0] = '\0';
        CHECK(recorded_new(&c, bad_maps[i], err, sizeof err) == NULL);
        CHECK(!strncmp(err, "--map: ", 7));
    }
    conf_free(&c);
}

typedef struct {
    char **v;      /* by input position (file order) when rec is set */
    size_t *order; /* positions in the order the reader hands alerts out */
    size_t n, cap;
    recorded_t *rec;
} names_t;

/* recorded_fn: each alert's alertname, in the order replay decides them. */
static void keep_name(void *ctx, alert_t *a)
{
    names_t *nm = ctx;
    size_t pos = nm->rec ? recorded_position(nm->rec) : nm->n; /* positions: a permutation */
    while (nm->n >= nm->cap || pos >= nm->cap) {
        nm->cap = nm->cap ? nm->cap * 2 : 1024;
        nm->v = realloc(nm->v, nm->cap * sizeof *nm->v);
        nm->order = realloc(nm->order, nm->cap * sizeof *nm->order);
    }
    const char *name = "";
    size_t len = 0;
    for (uint32_t i = 0; i < a->n_labels; i++)
        if (a->labels[i].name.len == 9 && !memcmp(a->labels[i].name.ptr, "alertname", 9))
            name = a->labels[i].value.ptr, len = a->labels[i].value.len;
    nm->order[nm->n++] = pos;
    nm->v[pos] = strndup(name, len);
}

static void names_free(names_t *nm)
{
    for (size_t i = 0; i < nm->n; i++) free(nm->v[i]);
    free(nm->v);
    free(nm->order);
}

/* recorded_fn: "NAME|severity|N" (severity when the label is there, N
 * the label count). */
static void keep_name_and_count(void *ctx, alert_t *a)
{
    names_t *nm = ctx;
    keep_name(ctx, a);
    bool sev = false;
    for (uint32_t i = 0; i < a->n_labels; i++)
        sev |= a->labels[i].name.len == 8 && !memcmp(a->labels[i].name.ptr, "severity", 8);
    char buf[400];
    snprintf(buf, sizeof buf, "%s|%s|%u", nm->v[nm->n - 1], sev ? "severity" : "-", a->n_labels);
    free(nm->v[nm->n - 1]);
    nm->v[nm->n - 1] = strdup(buf);
}

/* Problems in a CSV name the line the row starts on, counting the lines a
 * quoted field spans; a quote left open says which lines it swallowed. */
static void test_csv_problem_lines(void)
{
    char path[256], defaults[256], args[1024], want[400];
    snprintf(path, sizeof path, "%s/lines.csv", dir);
    snprintf(defaults, sizeof defaults, "%s/lines.yaml", dir);
    write_text(defaults, "# the defaults\n");
    write_text(path, "time,signature,host\n"          /* 1 */
                     "1772445600,ET SCAN a\n"         /* 2: a field short */
                     "1772445601,\"ET SCAN\nb\",h2\n" /* 3-4 */
                     "yesterday,ET SCAN c,h3\n"       /* 5: a bad time */
                     "1772445603,ET SCAN d,h4,x\n"    /* 6: a field too many */
                     "1772445604,\"ET SCAN e,h5\n"    /* 7: a quote not closed... */
                     "1772445605,ET SCAN f,h6\n");    /* 8: ...swallows this */
    char *out, *err;
    snprintf(args, sizeof args, "replay -c %s %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    static const char *const lines[] = {
        ":2: not read: 2 fields, the header has 3",
        ":5: warning: time \"yesterday\" not read",
        ":6: not read: 4 fields, the header has 3",
        ":7: not read: 2 fields, the header has 3 (the row spans lines 7-8: a quote not closed?)",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        snprintf(want, sizeof want, "%s%s", path, lines[i]);
        if (!err || !strstr(err, want))
            fprintf(stderr, "want \"%s\" in:\n%s", want, err ? err : "");
        CHECK(err && strstr(err, want));
    }
    CHECK(out && strstr(out, "2 alerts, 2 fingerprints, 3 not decoded"));
    free(out);
    free(err);

    /* a YAML file (a Prometheus rule file, a config) given as traffic is
     * refused as such, not read as a one-column CSV of its lines */
    snprintf(path, sizeof path, "%s/rules.yml", dir);
    write_text(path,
               "# node rules\n\ngroups:\n  - name: node\n    rules:\n      - alert: HostDown\n"
               "        expr: up == 0\n        labels: {severity: critical}\n");
    snprintf(args, sizeof args, "replay -c %s %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    snprintf(want, sizeof want,
             "%s:3: not read: YAML (a rule or config file?), not recorded alerts", path);
    CHECK(err && strstr(err, want));
    CHECK(err && strstr(err, "no alert read from ") && strstr(err, "(1 not decoded)"));
    if (!err || !strstr(err, want)) fprintf(stderr, "%s%s", out ? out : "", err ? err : "");
    free(out);
    free(err);

    /* a value longer than ingest.max_value_bytes is cut, and that is said */
    snprintf(path, sizeof path, "%s/long.csv", dir);
    FILE *lf = fopen(path, "w");
    fputs("signature,host\n\"", lf);
    for (int i = 0; i < 5000; i++) fputc('A' + i % 26, lf);
    fputs("\",h1\n", lf);
    fclose(lf);
    snprintf(args, sizeof args, "replay -c %s %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err &&
          strstr(err, "long.csv: 1 values longer than ingest.max_value_bytes (4096) cut there"));
    CHECK(out && strstr(out, "1 alerts, 1 fingerprints"));
    free(out);
    free(err);

    /* an exporter's preamble before the header: skipped, lines still counted */
    snprintf(path, sizeof path, "%s/preamble.csv", dir);
    write_text(path, "# exported by sensor-7\n\nsignature,host\nET SCAN a,h1\nET SCAN b\n");
    snprintf(args, sizeof args, "replay -c %s %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    snprintf(want, sizeof want, "%s:5: not read: 1 fields, the header has 2", path);
    CHECK(err && strstr(err, want));
    CHECK(out && strstr(out, "1 alerts, 1 fingerprints, 1 not decoded"));
    free(out);
    free(err);

    /* more fields than ingest.max_labels (64): the alert's name and
     * severity are kept, the labels past the limit dropped, and said */
    FILE *f = fopen(path, "w");
    fputs("zone", f);
    for (int col = 0; col < 80; col++) fprintf(f, ",a%02d", col); /* sort before alertname */
    fputs(",signature,priority\nz1", f);
    for (int col = 0; col < 80; col++) fprintf(f, ",v%d", col);
    fputs(",ET SCAN wide,1\n", f);
    fclose(f);
    conf_t wc;
    conf_defaults(&wc);
    char we[200];
    recorded_t *wr = recorded_new(&wc, NULL, we, sizeof we);
    names_t nm = {0};
    CHECK_EQ_INT(recorded_read(wr, path, keep_name_and_count, &nm), 0);
    CHECK_EQ_INT(nm.n, 1);
    if (nm.n) CHECK_EQ_STR(nm.v[0], "ET SCAN wide|severity|64");
    names_free(&nm);
    recorded_destroy(wr);
    conf_free(&wc);
    snprintf(args, sizeof args, "replay -c %s %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err && strstr(err, "1 rows with more than ingest.max_labels (64) labels"));
    free(out);
    free(err);

    /* a wide export (300 columns): a row a field short is refused, a
     * column far to the right can be mapped */
    f = fopen(path, "w");
    for (int row = 0; row < 3; row++)
        for (int col = 0; col < (row == 2 ? 299 : 300); col++)
            fprintf(f, "%s%s%d%s", col ? "," : "", row ? "v" : "c", col,
                    col == (row == 2 ? 298 : 299) ? "\n" : "");
    fclose(f);
    conf_t c;
    conf_defaults(&c);
    char e[200];
    recorded_t *r = recorded_new(&c, "alertname=c299,c0", e, sizeof e);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.rows[0], "alertname=v299 c0=v0");
    CHECK_EQ_INT(recorded_errors(r), 1);
    recorded_destroy(r);
    conf_free(&c);
}

/* UTF-16 text with its byte order mark (Excel's "Unicode text", Windows
 * alarm exporters), little- and big-endian, is read as the UTF-8 it
 * spells; a NUL byte in a value becomes '?'. */
static void test_utf16(void)
{
    static const char text[] =
        "Time\tAlarm Name\tNode\r\n"
        "2026-03-02 10:00:00\tLink down \xc3\xa9t\xc3\xa9 \xf0\x9f\x94\xa5\tne-1\r\n";
    char path[256], err[200];
    conf_t c;
    conf_defaults(&c);
    for (int big_endian = 0; big_endian < 2; big_endian++) {
        snprintf(path, sizeof path, "%s/utf16-%d.txt", dir, big_endian);
        FILE *f = fopen(path, "wb");
        fputs(big_endian ? "\xfe\xff" : "\xff\xfe", f);
        /* the UTF-8 above as UTF-16 code units (one surrogate pair) */
        for (const unsigned char *p = (const unsigned char *)text; *p;) {
            uint32_t cp = *p++;
            if (cp >= 0xF0) {
                cp = (cp & 7u) << 18 | (p[0] & 63u) << 12 | (p[1] & 63u) << 6 | (p[2] & 63u);
                p += 3;
            } else if (cp >= 0xC0) {
                cp = (cp & 31u) << 6 | (p[0] & 63u);
                p += 1;
            }
            unsigned units[2] = {cp, 0};
            int n = 1;
            if (cp >= 0x10000) {
                units[0] = 0xD800 + ((cp - 0x10000) >> 10);
                units[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF);
                n = 2;
            }
            for (int k = 0; k < n; k++) {
                unsigned char hi = (unsigned char)(units[k] >> 8), lo = (unsigned char)units[k];
                fputc(big_endian ? hi : lo, f);
                fputc(big_endian ? lo : hi, f);
            }
        }
        fclose(f);
        recorded_t *r = recorded_new(&c, NULL, err, sizeof err);
        seen_t s = {0};
        CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
        CHECK_EQ_INT(s.n, 1);
        CHECK_EQ_STR(s.rows[0], "Node=ne-1 alertname=Link down \xc3\xa9t\xc3\xa9 \xf0\x9f\x94\xa5");
        CHECK_EQ_INT(s.t[0], 1772445600000LL);
        CHECK_EQ_INT(recorded_errors(r), 0);
        recorded_destroy(r);
    }
    snprintf(path, sizeof path, "%s/nul.csv", dir);
    FILE *f = fopen(path, "wb");
    fwrite("signature,host\nET SCAN a\0b,h1\n", 1, 31, f);
    fclose(f);
    recorded_t *r = recorded_new(&c, NULL, err, sizeof err);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.rows[0], "alertname=ET SCAN a?b host=h1");
    recorded_destroy(r);
    conf_free(&c);
}

/* An export listing the newest alert first is replayed in event-time
 * order: three alerts 10 minutes apart are three incidents under a 5m
 * window, whichever order the file holds them in. */
static void test_time_order(void)
{
    char path[256], defaults[256], args[1024];
    snprintf(path, sizeof path, "%s/newest-first.csv", dir);
    snprintf(defaults, sizeof defaults, "%s/order.yaml", dir);
    write_text(defaults, "# the defaults\n");
    write_text(path, "time,signature,host\n"
                     "2026-03-02T10:20:00Z,ET SCAN a,h1\n"
                     "2026-03-02T10:10:00Z,ET SCAN a,h1\n"
                     "2026-03-02T10:00:00Z,ET SCAN a,h1\n");
    conf_t c;
    conf_defaults(&c);
    char e[200];
    recorded_t *r = recorded_new(&c, NULL, e, sizeof e);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK(s.t[0] < s.t[1] && s.t[1] < s.t[2]);
    recorded_destroy(r);
    conf_free(&c);
    char *out, *err;
    snprintf(args, sizeof args, "replay -c %s %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "3 alerts in, 3 incidents out"));
    CHECK(err && strstr(err, "newest-first.csv: 2 alerts earlier than the one before in the file "
                             "(newest first?): read in event-time order"));
    free(out);
    free(err);
    /* decided in event time, printed in file order: line i is row i */
    write_text(path, "time,signature,host\n"
                     "2026-03-02T10:20:00Z,ET SCAN a,h1\n"   /* new: 19 min after the last */
                     "2026-03-02T10:00:00Z,ET SCAN a,h1\n"   /* new: the first */
                     "2026-03-02T10:01:00Z,ET SCAN a,h1\n"); /* duplicate of the first */
    snprintf(args, sizeof args, "replay -c %s --format json %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    size_t forwards;
    bool *fw = forwarded_rows(out, 3, &forwards);
    CHECK(fw[0] && fw[1] && !fw[2]);
    free(fw);
    free(out);
    free(err);
}

/* A file's dates read D/M/Y when a first field over 12 says so anywhere
 * in it (CIC-IDS2017 exports: " Timestamp" = 13/07/2017 08:42, 5/7/2017
 * 8:42); M/D/Y when a second one does or nothing does (said once, with
 * the way to say otherwise); --date-order overrides. */
static void test_date_order_files(void)
{
    char path[256], defaults[256], args[1024], e[200];
    snprintf(path, sizeof path, "%s/cic.csv", dir);
    snprintf(defaults, sizeof defaults, "%s/dates.yaml", dir);
    write_text(defaults, "# the defaults\n");
    write_text(path, "Flow ID, Source IP, Timestamp, Label\n"
                     "1, 192.168.10.5, 5/7/2017 8:42, DoS Hulk\n"
                     "2, 192.168.10.5, 6/7/2017 9:00, DoS Hulk\n"
                     "3, 192.168.10.5, 13/7/2017 10:00:05, DoS Hulk\n");
    conf_t c;
    conf_defaults(&c);
    recorded_t *r =
        recorded_new(&c, "alertname=Label,instance=Source IP,time=Timestamp", e, sizeof e);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.t[0], 1499244120000LL); /* 5 July, not 7 May */
    CHECK_EQ_INT(s.t[2] - s.t[0], 8 * 86400000LL + 78 * 60000 + 5000);
    recorded_destroy(r);
    /* ambiguous throughout (one day): M/D/Y, said once; --date-order dmy
     * turns it */
    write_text(path, "Timestamp,Label\n5/7/2017 8:42,DoS\n5/7/2017 8:43,DoS\n");
    char *out, *err;
    snprintf(args, sizeof args, "replay -c %s --map alertname=Label,time=Timestamp %s", defaults,
             path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err && strstr(err, "cic.csv: dates such as 5/7/2017 could be D/M/Y or M/D/Y (no day over "
                             "12 says which): read as M/D/Y (US); --date-order dmy reads them the "
                             "other way"));
    CHECK(err && !strstr(err, "not read"));
    free(out);
    free(err);
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    recorded_set_date_order(r, REC_DATE_DMY);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.t[0], 1499244120000LL);
    CHECK_EQ_INT(s.t[1] - s.t[0], 60000);
    recorded_destroy(r);
    /* every field 12 or under, but the first changes from row to row
     * while the second stays (3, 4, 5 July): the first is the day */
    write_text(path, "Timestamp,Label\n3/7/2017 8:42,DoS\n4/7/2017 8:43,DoS\n5/7/2017 9:00,DoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.t[2], 1499245200000LL); /* 2017-07-05 09:00 */
    recorded_destroy(r);
    /* a second field over 12: M/D/Y, nothing said */
    write_text(path, "Timestamp,Label\n7/5/2017 8:42,DoS\n7/13/2017 3:30:12 PM,DoS\n");
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err && !strstr(err, "could be D/M/Y"));
    CHECK(out && strstr(out, "2 alerts in"));
    free(out);
    free(err);
    conf_free(&c);
}

/* Syslog times have no year: the file's modification year, counting the
 * rollovers before its last line (Dec 31 -> Jan 1 stays in order). */
static void test_syslog_years(void)
{
    char path[256], e[200];
    snprintf(path, sizeof path, "%s/syslog.csv", dir);
    write_text(path, "time,msg,host\n"
                     "Dec 31 23:59:58,sshd: Failed password,h1\n"
                     "Jan  1 00:00:01.123,sshd: Failed password,h1\n");
    struct timeval tv[2] = {{1798848000, 0}, {1798848000, 0}}; /* 2027-01-02 */
    CHECK_EQ_INT(utimes(path, tv), 0);
    conf_t c;
    conf_defaults(&c);
    recorded_t *r = recorded_new(&c, NULL, e, sizeof e);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.t[0], 1798761598000LL); /* 2026-12-31 */
    CHECK_EQ_INT(s.t[1], 1798761601123LL); /* 2027-01-01 */
    CHECK_EQ_INT(recorded_errors(r), 0);
    recorded_destroy(r);
    /* a December log whose file was written on 2 January: last year's */
    write_text(path, "time,msg,host\nDec  6 15:51:00,sshd: Failed password,h1\n");
    CHECK_EQ_INT(utimes(path, tv), 0);
    r = recorded_new(&c, NULL, e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.t[0], 1796572260000LL); /* 2026-12-06 */
    recorded_destroy(r);
    conf_free(&c);
}

/* A 12-hour clock written without AM/PM (CIC-IDS2017's 7/7/2017 3:30 for
 * 15:30, 1:05 after 12:59): read so (a time 12 hours later when that is
 * nearer the latest before it), said once with the way back (--clock 24).
 * Never when an hour over 12 or an AM/PM is there, nor for a newest-first
 * file whose steps back are its order. */
static void test_clock12(void)
{
    char path[256], defaults[256], args[1024], e[200];
    snprintf(path, sizeof path, "%s/clock12.csv", dir);
    snprintf(defaults, sizeof defaults, "%s/clock12.yaml", dir);
    write_text(defaults, "# the defaults\n");
    const int64_t day = 1499385600000LL, h = 3600000, m = 60000; /* 2017-07-07 */
    const char *afternoon = "Timestamp,Label\n"
                            "7/7/2017 11:58,DoS\n"
                            "7/7/2017 12:30,DoS\n"
                            "7/7/2017 12:59,DoS\n"
                            "7/7/2017 1:05,DoS\n"
                            "7/7/2017 3:30,DoS\n"
                            "7/8/2017 9:00,DoS\n"
                            "7/8/2017 1:10,DoS\n";
    write_text(path, afternoon);
    conf_t c;
    conf_defaults(&c);
    recorded_t *r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 7);
    CHECK_EQ_INT(s.t[0], day + 11 * h + 58 * m);
    CHECK_EQ_INT(s.t[2], day + 12 * h + 59 * m);
    CHECK_EQ_INT(s.t[3], day + 13 * h + 5 * m);
    CHECK_EQ_INT(s.t[4], day + 15 * h + 30 * m);
    CHECK_EQ_INT(s.t[5], day + 24 * h + 9 * h); /* a new date: morning again */
    CHECK_EQ_INT(s.t[6], day + 24 * h + 13 * h + 10 * m);
    recorded_destroy(r);
    char *out, *err;
    snprintf(args, sizeof args, "replay -c %s --map alertname=Label,time=Timestamp %s", defaults,
             path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err && strstr(err, "clock12.csv: a 12-hour clock without AM/PM"));
    CHECK(err && strstr(err, "--clock 24 reads them as written"));
    CHECK(err && !strstr(err, "earlier than the one before")); /* in order once read so */
    free(out);
    free(err);
    /* --clock 24: as written, 1:05 then sorted before 11:58 */
    snprintf(args, sizeof args, "replay -c %s --clock 24 --map alertname=Label,time=Timestamp %s",
             defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err && !strstr(err, "12-hour clock"));
    CHECK(err && strstr(err, "earlier than the one before"));
    free(out);
    free(err);
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    recorded_set_clock(r, 24);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 7);
    CHECK_EQ_INT(s.t[0], day + 1 * h + 5 * m);
    recorded_destroy(r);
    snprintf(args, sizeof args, "replay -c %s --clock 13 %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 2);
    CHECK(err && strstr(err, "--clock: \"13\" is not 12 or 24"));
    free(out);
    free(err);
    /* an hour over 12 anywhere: a 24-hour clock, read as written */
    static const char *const not12[] = {
        "Timestamp,Label\n7/7/2017 11:58,DoS\n7/7/2017 12:59,DoS\n7/7/2017 1:05,DoS\n"
        "7/7/2017 13:30,DoS\n",
        /* AM/PM said somewhere: each time as it says */
        "Timestamp,Label\n7/7/2017 11:58,DoS\n7/7/2017 12:59,DoS\n7/7/2017 1:05,DoS\n"
        "7/7/2017 3:30 PM,DoS\n",
        /* newest first, 24-hour, a night's gap (10:00 -> 3:00): the file
         * steps back throughout, no wrap */
        "Timestamp,Label\n7/7/2017 12:30,DoS\n7/7/2017 11:00,DoS\n7/7/2017 10:00,DoS\n"
        "7/7/2017 3:00,DoS\n7/7/2017 2:00,DoS\n",
        /* 24-hour, a night's storm sorted by signature: the clock
         * restarts at each group, not a 12-hour wrap */
        "Timestamp,Label\n7/7/2017 1:05,A\n7/7/2017 6:00,A\n7/7/2017 11:00,A\n"
        "7/7/2017 1:10,B\n7/7/2017 6:10,B\n7/7/2017 11:10,B\n"
        "7/7/2017 1:20,C\n7/7/2017 6:20,C\n7/7/2017 11:20,C\n",
    };
    for (size_t k = 0; k < sizeof not12 / sizeof *not12; k++) {
        write_text(path, not12[k]);
        r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
        memset(&s, 0, sizeof s);
        CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
        CHECK(s.n >= 4);
        CHECK_EQ_INT(s.t[0], day + (k == 2 ? 2 : 1) * h + (k == 2 ? 0 : 5) * m);
        recorded_destroy(r);
        snprintf(args, sizeof args, "replay -c %s --map alertname=Label,time=Timestamp %s",
                 defaults, path);
        CHECK_EQ_INT(run(args, &out, &err), 0);
        CHECK(err && !strstr(err, "12-hour clock"));
        free(out);
        free(err);
    }
    /* a straggler from early morning after the wrap stays in the morning
     * and leaves the afternoon after it in the afternoon */
    write_text(path, "Timestamp,Label\n7/7/2017 11:58,DoS\n7/7/2017 12:30,DoS\n"
                     "7/7/2017 1:05,DoS\n7/7/2017 8:00,DoS\n7/7/2017 2:05,DoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 5);
    CHECK_EQ_INT(s.t[0], day + 8 * h);
    CHECK_EQ_INT(s.t[4], day + 14 * h + 5 * m);
    recorded_destroy(r);
    /* a straggler from the morning after the wrap stays in the morning;
     * 12:xx is noon on either side of it */
    write_text(path, "Timestamp,Label\n7/7/2017 10:40,DoS\n7/7/2017 2:10,DoS\n"
                     "7/7/2017 11:50,DoS\n7/7/2017 12:20,DoS\n7/7/2017 2:30,DoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 5);
    CHECK_EQ_INT(s.t[0], day + 10 * h + 40 * m);
    CHECK_EQ_INT(s.t[1], day + 11 * h + 50 * m);
    CHECK_EQ_INT(s.t[2], day + 12 * h + 20 * m);
    CHECK_EQ_INT(s.t[3], day + 14 * h + 10 * m);
    CHECK_EQ_INT(s.t[4], day + 14 * h + 30 * m);
    recorded_destroy(r);
    /* files given one after another: an afternoon file (CIC-IDS2017's
     * Friday-Afternoon) goes on from the 12-hour morning file before it;
     * alone, or after a file of another date, it reads as written */
    char after[256], *paths[2] = {path, after};
    snprintf(after, sizeof after, "%s/clock12-afternoon.csv", dir);
    write_text(path, afternoon);
    write_text(after, "Timestamp,Label\n7/8/2017 3:56,DDoS\n7/8/2017 4:10,DDoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read_files(r, (const char *const *)paths, 2, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 9);
    CHECK_EQ_INT(s.t[7], day + 24 * h + 15 * h + 56 * m);
    CHECK_EQ_INT(s.t[8], day + 24 * h + 16 * h + 10 * m);
    recorded_destroy(r);
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, after, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.t[0], day + 24 * h + 3 * h + 56 * m);
    recorded_destroy(r);
    write_text(after, "Timestamp,Label\n7/9/2017 3:56,DDoS\n7/9/2017 4:10,DDoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read_files(r, (const char *const *)paths, 2, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 9);
    CHECK_EQ_INT(s.t[7], day + 48 * h + 3 * h + 56 * m);
    recorded_destroy(r);
    /* round the clock: 12:10 just after 11:50 PM is past midnight, then
     * the morning, noon, the afternoon */
    write_text(path, "Timestamp,Label\n7/7/2017 9:00,DoS\n7/7/2017 11:59,DoS\n"
                     "7/7/2017 12:30,DoS\n7/7/2017 1:10,DoS\n7/7/2017 5:00,DoS\n"
                     "7/7/2017 9:00,DoS\n7/7/2017 11:50,DoS\n7/8/2017 12:10,DoS\n"
                     "7/8/2017 1:00,DoS\n7/8/2017 11:00,DoS\n7/8/2017 12:20,DoS\n"
                     "7/8/2017 2:00,DoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 12);
    static const int64_t clock_min[] = {540,  719,  750,  790,  1020, 1260,
                                        1430, 1450, 1500, 2100, 2180, 2280};
    for (size_t k = 0; k < 12; k++) CHECK_EQ_INT(s.t[k], day + clock_min[k] * m);
    recorded_destroy(r);
    /* newest first: each date read from its end (its earliest time) up; a
     * morning-only date stays in the morning */
    write_text(path, "Timestamp,Label\n7/8/2017 10:00,DoS\n7/8/2017 9:00,DoS\n"
                     "7/7/2017 3:30,DoS\n7/7/2017 1:05,DoS\n7/7/2017 12:59,DoS\n"
                     "7/7/2017 12:30,DoS\n7/7/2017 11:58,DoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 7);
    static const int64_t newest_min[] = {718, 750, 779, 785, 930, 1980, 2040};
    for (size_t k = 0; k < 7; k++) CHECK_EQ_INT(s.t[k], day + newest_min[k] * m);
    recorded_destroy(r);
    snprintf(args, sizeof args, "replay -c %s --map alertname=Label,time=Timestamp %s", defaults,
             path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err && strstr(err, "clock12.csv: a 12-hour clock without AM/PM"));
    free(out);
    free(err);
    /* the same D/M/Y: the dates are learnt after the first reading, and
     * the afternoon's dates read again with them */
    write_text(path, "Timestamp,Label\n9/7/2017 10:00,DoS\n9/7/2017 9:00,DoS\n"
                     "8/7/2017 3:30,DoS\n8/7/2017 1:05,DoS\n8/7/2017 12:59,DoS\n"
                     "8/7/2017 12:30,DoS\n8/7/2017 11:58,DoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 7);
    for (size_t k = 0; k < 7; k++) CHECK_EQ_INT(s.t[k], day + 24 * h + newest_min[k] * m);
    recorded_destroy(r);
    /* --clock 12 reads a file so even when its steps would not say it */
    write_text(path, "Timestamp,Label\n7/7/2017 11:58,DoS\n7/7/2017 1:05,DoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    recorded_set_clock(r, 12);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.t[1], day + 13 * h + 5 * m);
    recorded_destroy(r);
    /* ... but an hour over 12 (or 0) still reads as written */
    write_text(path, "Timestamp,Label\n7/7/2017 11:58,DoS\n7/7/2017 1:05,DoS\n"
                     "7/7/2017 13:30,DoS\n7/7/2017 0:10,DoS\n");
    r = recorded_new(&c, "alertname=Label,time=Timestamp", e, sizeof e);
    recorded_set_clock(r, 12);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 4);
    CHECK_EQ_INT(s.t[0], day + 10 * m);
    CHECK_EQ_INT(s.t[3], day + 13 * h + 30 * m);
    recorded_destroy(r);
    conf_free(&c);
}

/* --year: the year of a file's first yearless date, whatever its
 * modification time (which otherwise decides it). */
static void test_year_flag(void)
{
    char path[256], defaults[256], args[1024], e[200];
    snprintf(path, sizeof path, "%s/year.csv", dir);
    snprintf(defaults, sizeof defaults, "%s/year.yaml", dir);
    write_text(defaults, "# the defaults\n");
    write_text(path, "time,msg,host\n"
                     "Dec  6 15:51:00,sshd: Failed password,h1\n"
                     "Jan  1 00:00:01,sshd: Failed password,h1\n");
    struct timeval tv[2] = {{1798848000, 0}, {1798848000, 0}}; /* 2027-01-02 */
    CHECK_EQ_INT(utimes(path, tv), 0);
    conf_t c;
    conf_defaults(&c);
    recorded_t *r = recorded_new(&c, NULL, e, sizeof e);
    recorded_set_year(r, 2017);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.t[0], 1512575460000LL); /* 2017-12-06 15:51 */
    CHECK_EQ_INT(s.t[1], 1514764801000LL); /* 2018-01-01: the rollover counts on */
    recorded_destroy(r);
    CHECK_EQ_INT(recorded_year_arg("2017"), 2017);
    CHECK_EQ_INT(recorded_year_arg("17x"), -1);
    CHECK_EQ_INT(recorded_year_arg("1969"), -1);
    /* through the commands: the same first time whatever the mtime */
    char *out, *err;
    snprintf(args, sizeof args, "replay -c %s --year 2017 --format json %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "\"alerts_in\":2"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "replay -c %s --year 20x7 %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 2);
    CHECK(err && strstr(err, "--year: \"20x7\" is not a year"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "explain -c %s --year 2017 %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "2017-12-06T15:51:00"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "suggest -c %s --year 2017 %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    free(out);
    free(err);
    conf_free(&c);
}

/* Files given together are one stream in event-time order: two sensors'
 * logs of the same hour are decided as the alerts happened. A file in
 * time order holds no alert back. */
static void test_across_files(void)
{
    char a[256], b[256], defaults[256], args[2048], e[200];
    snprintf(a, sizeof a, "%s/sensor-a.csv", dir);
    snprintf(b, sizeof b, "%s/sensor-b.csv", dir);
    snprintf(defaults, sizeof defaults, "%s/across.yaml", dir);
    write_text(defaults, "# the defaults\n");
    write_text(a, "time,signature,host\n"
                  "2026-03-02T10:00:00Z,ET SCAN a,h1\n"
                  "2026-03-02T10:20:00Z,ET SCAN a,h1\n");
    write_text(b, "time,signature,host\n"
                  "2026-03-02T10:10:00Z,ET SCAN a,h1\n"
                  "2026-03-02T10:12:00Z,ET SCAN a,h1\n");
    conf_t c;
    conf_defaults(&c);
    recorded_t *r = recorded_new(&c, NULL, e, sizeof e);
    seen_t s = {0};
    const char *both[] = {a, b};
    CHECK_EQ_INT(recorded_read_files(r, both, 2, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 4);
    CHECK(s.t[0] < s.t[1] && s.t[1] < s.t[2] && s.t[2] < s.t[3]);
    CHECK_EQ_INT(recorded_peak_held(r), 1); /* a's 10:20 waited for b */
    recorded_destroy(r);
    r = recorded_new(&c, NULL, e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, a, keep_row, &s), 0);
    CHECK_EQ_INT(recorded_peak_held(r), 0);
    recorded_destroy(r);
    conf_free(&c);
    /* 10:00 new, 10:10 new (10 min later), 10:12 duplicate, 10:20 new */
    char *out, *err;
    snprintf(args, sizeof args, "replay -c %s --format json %s %s", defaults, a, b);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    size_t forwards;
    bool *fw = forwarded_rows(out, 4, &forwards);
    CHECK(fw[0] && fw[1] && fw[2] && !fw[3]); /* lines in input order: a's, then b's */
    free(fw);
    CHECK(err && strstr(err, "their times overlap: alerts decided in event-time order across "
                             "the 2 inputs"));
    free(out);
    free(err);
    /* a pipe is read once, its bytes kept for the second pass (run()
     * puts quell first: `check` stands there, the pipe comes after) */
    snprintf(args, sizeof args, "check -c %s >/dev/null; cat %s | %s replay -c %s /dev/stdin",
             defaults, b, getenv("QUELL_BIN"), defaults);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "2 alerts in, 1 incidents out"));
    free(out);
    free(err);
}

/* explain asks about an alert without a time as of now, and says so
 * (not replay's "1 ms after the previous"). */
static void test_explain_untimed(void)
{
    char path[256], defaults[256], args[1024];
    snprintf(path, sizeof path, "%s/untimed.csv", dir);
    snprintf(defaults, sizeof defaults, "%s/explain.yaml", dir);
    write_text(defaults, "# the defaults\n");
    write_text(path, "signature,host\nET SCAN a,h1\nET SCAN b,h2\n");
    char *out, *err;
    snprintf(args, sizeof args, "explain -c %s %s", defaults, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err && strstr(err, "untimed.csv: 2 alerts without a time"));
    CHECK(err && strstr(err, "each explained as of now"));
    CHECK(err && !strstr(err, "1 ms"));
    CHECK(out && strstr(out, "alert 2:"));
    free(out);
    free(err);
}

/* The shapes IDS exports come in, without --map: records that are no
 * alert are skipped (Suricata EVE's flow/dns events, CIC-IDS "BENIGN"
 * rows), a Zeek log's "#fields" header and "-" for unset, syslog lines
 * (an IDS alert in one read as fast.log's fields; other lines by their
 * message). */
static void test_ids_shapes(void)
{
    char path[256], e[200];
    conf_t c;
    conf_defaults(&c);
    snprintf(path, sizeof path, "%s/eve-mixed.json", dir);
    write_text(path,
               "{\"timestamp\":\"2017-07-05T08:42:10.123456+0000\",\"event_type\":\"alert\","
               "\"src_ip\":\"10.0.0.1\",\"alert\":{\"signature\":\"ET SCAN a\",\"severity\":2}}\n"
               "{\"timestamp\":\"2017-07-05T08:42:11.000000+0000\",\"event_type\":\"flow\","
               "\"src_ip\":\"10.0.0.1\",\"flow\":{\"pkts_toserver\":3}}\n"
               "{\"timestamp\":\"2017-07-05T08:42:12.000000+0000\",\"event_type\":\"dns\","
               "\"src_ip\":\"10.0.0.1\",\"dns\":{\"rrname\":\"x.example\"}}\n"
               "{\"timestamp\":\"2017-07-05T08:42:13.000000+0000\",\"event_type\":\"anomaly\","
               "\"src_ip\":\"10.0.0.1\",\"anomaly\":{\"event\":\"INVALID_ACK\"}}\n");
    recorded_t *r = recorded_new(&c, NULL, e, sizeof e);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2); /* the alert and the anomaly */
    CHECK(strstr(s.rows[0], "alertname=ET SCAN a") != NULL);
    CHECK_EQ_INT(recorded_errors(r), 0);
    recorded_destroy(r);

    snprintf(path, sizeof path, "%s/cic-flows.csv", dir);
    write_text(path, "Flow ID, Source IP, Timestamp, Flow Duration, Label\n"
                     "a, 192.168.10.5, 5/7/2017 8:42, 10, BENIGN\n"
                     "b, 172.16.0.1, 5/7/2017 8:43, 11, DoS Hulk\n"
                     "c, 192.168.10.8, 5/7/2017 8:44, 12, benign\n");
    r = recorded_new(&c, NULL, e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.rows[0], "Flow_Duration=11 Source_IP=172.16.0.1 alertname=DoS Hulk");
    CHECK_EQ_INT(recorded_errors(r), 0);
    recorded_destroy(r);

    /* OSSEC's JSON alerts: rule.comment names the alert, TimeStamp (ms) */
    snprintf(path, sizeof path, "%s/ossec.json", dir);
    write_text(path, "{\"rule\":{\"level\":5,\"comment\":\"SSHD authentication failed.\","
                     "\"sidid\":5716},\"id\":\"1499244130.1234\",\"TimeStamp\":1499244130123,"
                     "\"location\":\"/var/log/secure\",\"hostname\":\"web1\"}\n");
    r = recorded_new(&c, NULL, e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK(strstr(s.rows[0], "alertname=SSHD authentication failed.") != NULL);
    CHECK(strstr(s.rows[0], "severity=5") != NULL);
    CHECK_EQ_INT(s.t[0], 1499244130123LL);
    recorded_destroy(r);

    /* Snort's alert_csv writes no header: a first line starting with a
     * time is a row, its 27 columns named as Snort names them */
    snprintf(path, sizeof path, "%s/alert.csv", dir);
    write_text(path, "07/05-08:42:10.123456,1,2001219,20,\"ET SCAN Potential SSH Scan\",TCP,"
                     "10.0.0.1,40000,192.168.10.5,22,00:0C:29:01:11:22,00:50:56:C0:00:08,0x4A,"
                     "***AP***,0x1,0x2,,0x3,64,0,7,60,20,,,,\n"
                     "07/05-08:42:11.000000,1,2001219,20,\"ET SCAN Potential SSH Scan\",TCP,"
                     "10.0.0.2,40001,192.168.10.5,22,00:0C:29:01:11:22,00:50:56:C0:00:08,0x4A,"
                     "***AP***,0x1,0x2,,0x3,64,0,8,60,20,,,,\n");
    r = recorded_new(&c, "alertname=msg,instance=src,time=timestamp", e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.rows[0], "alertname=ET SCAN Potential SSH Scan instance=10.0.0.1");
    CHECK_EQ_INT(s.t[1] - s.t[0], 877);
    CHECK_EQ_INT(recorded_errors(r), 0);
    recorded_destroy(r);

    snprintf(path, sizeof path, "%s/notice.log", dir);
    write_text(path, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n"
                     "#unset_field\t-\n#path\tnotice\n"
                     "#fields\tts\tuid\tsrc\tnote\tmsg\tactions\n"
                     "#types\ttime\tstring\taddr\tenum\tstring\tset[enum]\n"
                     "1499244130.123456\t-\t10.0.0.1\tScan::Port_Scan\t10.0.0.1 scanned at "
                     "least 15 unique ports\t(empty)\n"
                     "#close\t2017-07-05-16-00-00\n");
    r = recorded_new(&c, NULL, e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(
        s.rows[0],
        "alertname=Scan::Port_Scan msg=10.0.0.1 scanned at least 15 unique ports src=10.0.0.1");
    CHECK_EQ_INT(s.t[0], 1499244130123LL);
    CHECK_EQ_INT(recorded_errors(r), 0);
    recorded_destroy(r);

    snprintf(path, sizeof path, "%s/messages", dir);
    write_text(path,
               "Jul  5 08:42:10 sensor1 snort[4242]: [1:2001219:20] ET SCAN Potential SSH "
               "Scan [Classification: Attempted Information Leak] [Priority: 2] {TCP} "
               "10.0.0.1:40000 -> 192.168.10.5:22\n"
               "Jul  5 08:42:11 web1 sshd[77]: Failed password for root from 10.0.0.1 port "
               "40001 ssh2\n"
               "<34>1 2017-07-05T08:42:12.5Z web1 su - ID47 - 'su root' failed on /dev/pts/8\n");
    struct timeval tv[2] = {{1499270400, 0}, {1499270400, 0}}; /* 2017-07-05 16:00 */
    CHECK_EQ_INT(utimes(path, tv), 0);
    r = recorded_new(&c, NULL, e, sizeof e);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_STR(s.rows[0], "alertname=ET SCAN Potential SSH Scan classification=Attempted "
                            "Information Leak dest_ip=192.168.10.5 dest_port=22 host=sensor1 "
                            "program=snort proto=TCP severity=2 signature_id=1:2001219:20 "
                            "src_ip=10.0.0.1");
    CHECK_EQ_STR(s.rows[1], "alertname=Failed password for root from 10.0.0.1 port 40001 ssh2 "
                            "host=web1 program=sshd");
    CHECK_EQ_STR(s.rows[2], "alertname='su root' failed on /dev/pts/8 host=web1 program=su");
    CHECK_EQ_INT(s.t[0], 1499244130000LL);
    CHECK_EQ_INT(s.t[2], 1499244132500LL);
    CHECK_EQ_INT(recorded_errors(r), 0);
    recorded_destroy(r);
    conf_free(&c);
}

/* Nested-JSON IDS outputs without --map: a field's own key names the
 * alert when no full name does (AMiner's AnalysisComponentName, before its
 * type and message, which several detectors share); an array of epoch
 * seconds is a time (its first element), a key ending in a role's word
 * too (DetectionTimestamp); an array of scalars is a label; an array of
 * objects inside a record named so does not make it a wrapper. */
/* The rows of `path` read with mapping `map` (NULL: none) into `s`;
 * returns the reader's problem count. */
static uint64_t read_rows(const char *path, const char *map, seen_t *s)
{
    conf_t c;
    conf_defaults(&c);
    char e[200];
    memset(s, 0, sizeof *s);
    recorded_t *r = recorded_new(&c, map, e, sizeof e);
    CHECK(r != NULL);
    if (r) CHECK_EQ_INT(recorded_read(r, path, keep_row, s), 0);
    uint64_t errors = r ? recorded_errors(r) : 1;
    recorded_destroy(r);
    conf_free(&c);
    return errors;
}

static void test_nested_ids(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/aminer.json", dir);
    /* indented, one object after another, as AMiner's json.dumps writes */
    write_text(path, "{\n  \"AnalysisComponent\": {\n    \"AnalysisComponentType\": \"NewMatchPath"
                     "ValueDetector\",\n    \"AnalysisComponentName\": \"NewValueDetectorSshUser\","
                     "\n    \"Message\": \"New value(s) detected\",\n    \"AffectedLogAtomPaths\": "
                     "[\"/model/ssh/user\", \"/model/ssh/host\"]\n  },\n  \"LogData\": {\n    "
                     "\"Timestamps\": [1642723225.25, 1642723227.5],\n    \"DetectionTimestamp\": "
                     "1642723230.0\n  }\n}\n"
                     "{\"AnalysisComponent\": {\"AnalysisComponentName\": \"MissingMatchDetector"
                     "Cron\", \"AffectedLogAtomValues\": [{\"Value\": \"backup\", \"Interval\": "
                     "60}]}, \"LogData\": {\"DetectionTimestamp\": 1642723300.5}}\n");
    seen_t s;
    uint64_t errors = read_rows(path, NULL, &s);
    CHECK_EQ_INT(s.n, 2);
    CHECK(strstr(s.rows[0], "alertname=NewValueDetectorSshUser") != NULL);
    CHECK(strstr(s.rows[0], "AnalysisComponent_AffectedLogAtomPaths=/model/ssh/user, "
                            "/model/ssh/host") != NULL);
    CHECK(strstr(s.rows[0], "AnalysisComponent_AnalysisComponentType=NewMatchPathValueDetector") !=
          NULL);
    CHECK_EQ_INT(s.t[0], 1642723225250LL);
    CHECK(s.n == 2 && strstr(s.rows[1], "alertname=MissingMatchDetectorCron") != NULL);
    CHECK_EQ_INT(s.t[1], 1642723300500LL);
    CHECK_EQ_INT(errors, 0);

    /* the same through a mapping: the array's first element is the time */
    read_rows(path, "alertname=AnalysisComponent.AnalysisComponentName,time=LogData.Timestamps",
              &s);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.rows[0], "alertname=NewValueDetectorSshUser");
    CHECK_EQ_INT(s.t[0], 1642723225250LL);

    /* Wazuh's rule.groups, a list of words, is a label */
    snprintf(path, sizeof path, "%s/wazuh-groups.json", dir);
    write_text(path, "{\"timestamp\":\"2022-01-21T00:09:59.000+0000\",\"rule\":{\"level\":7,"
                     "\"description\":\"Integrity checksum changed.\",\"groups\":[\"ossec\","
                     "\"syscheck\"]},\"agent\":{\"name\":\"mail\"}}\n");
    read_rows(path, NULL, &s);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.rows[0], "agent_name=mail alertname=Integrity checksum changed. "
                            "rule_groups=ossec, syscheck severity=7");
    CHECK_EQ_INT(s.t[0], 1642723799000LL);

    /* a name of a thing the alert is about is not the alert's: without
     * AnalysisComponentName (a detector registered without one), not
     * PersistenceFileName ("Default" for every detector), nor agent.name */
    snprintf(path, sizeof path, "%s/unnamed-nested.json", dir);
    write_text(path, "{\"AnalysisComponent\": {\"PersistenceFileName\": \"Default\"}, "
                     "\"agent\": {\"name\": \"web-1\"}, \"event\": {\"name\": \"port scan\"}}\n"
                     "{\"AnalysisComponent\": {\"PersistenceFileName\": \"Default\"}, "
                     "\"agent\": {\"name\": \"web-1\"}}\n");
    read_rows(path, NULL, &s);
    CHECK_EQ_INT(s.n, 2);
    CHECK(strstr(s.rows[0], "alertname=port scan") != NULL);
    CHECK(s.n == 2 && !strstr(s.rows[1], "alertname="));

    /* an export wrapper with a "name" of its own still holds records */
    snprintf(path, sizeof path, "%s/wrapped.json", dir);
    write_text(path, "{\"export\": {\"name\": \"last week\"}, \"results\": [{\"signature\": "
                     "\"ET SCAN a\"}, {\"signature\": \"ET SCAN b\"}]}\n");
    read_rows(path, NULL, &s);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.rows[0], "alertname=ET SCAN a");
}

/* The SEVn a proposal's severity map gives value `v` (0: none). */
static int proposed_sev(const char *yaml, const char *v)
{
    char key[32];
    snprintf(key, sizeof key, "\"%s\": SEV", v);
    const char *m = yaml ? strstr(yaml, "  map: {") : NULL;
    const char *k = m ? strstr(m, key) : NULL;
    return k ? k[strlen(key)] - '0' : 0;
}

/* Numeric severities over 7 count up (Wazuh's rule.level: 12 is "high
 * importance", 3 a successful login): the proposal ranks the higher level
 * the more severe, where IDS priorities (1 most severe) stay as they
 * were. */
static void test_severity_levels(void)
{
    char path[256], sug[256], args[1024];
    snprintf(path, sizeof path, "%s/levels.json", dir);
    snprintf(sug, sizeof sug, "%s/levels.yaml", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 300; i++)
        fprintf(f,
                "{\"timestamp\":\"2022-01-21T00:%02d:%02d.000+0000\",\"rule\":{\"level\":%d,"
                "\"description\":\"%s\"},\"agent\":{\"name\":\"host-%d\"}}\n",
                i / 60, i % 60, i % 50 ? 3 : 12,
                i % 50 ? "PAM: Login session opened." : "Web shell upload detected.", i % 40);
    fclose(f);
    char *out, *err;
    snprintf(args, sizeof args, "suggest -o %s %s", sug, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    free(out);
    free(err);
    char *yaml = check_read_file(sug, NULL);
    int high = proposed_sev(yaml, "12"), low = proposed_sev(yaml, "3");
    CHECK(high > 0 && low > 0 && high < low);
    if (!(high > 0 && low > 0 && high < low) && yaml) fputs(yaml, stderr);
    free(yaml);
    /* priorities: 1 stays the most severe */
    snprintf(path, sizeof path, "%s/priorities.csv", dir);
    f = fopen(path, "w");
    fputs("timestamp,signature,priority,src_ip\n", f);
    for (int i = 0; i < 300; i++)
        fprintf(f, "2026-03-02T10:%02d:%02dZ,%s,%d,10.0.0.%d\n", i / 60, i % 60,
                i % 50 ? "ET POLICY curl" : "ET EXPLOIT log4j", i % 50 ? 3 : 1, i % 40);
    fclose(f);
    yaml = suggest_into(sug, path);
    high = proposed_sev(yaml, "1"), low = proposed_sev(yaml, "3");
    CHECK(high > 0 && low > 0 && high < low);
    free(yaml);
    /* Other numeric scales, by their highest value and a 0 among them:
     * CEF's 0-10 (9-10 very high), syslog's 0-7 (0 emergency), a 0-5
     * scale counting up from "not classified" (Zabbix), IDS priorities
     * 1-4. Before, CEF's 10 was SEV2 and 9 SEV3 (as Wazuh's levels),
     * syslog's 2 (critical) SEV2, a Zabbix disaster (5) SEV5. */
    static const struct {
        const char *what;
        int values[8], n;
        const char *value[4];
        int want[4];
        const char *first_hidden; /* a most severe value, listed first */
    } scales[] = {
        {"cef", {0, 3, 5, 7, 8, 10}, 6, {"10", "8", "5", "3"}, {1, 2, 3, 4}, "=\"10\"}"},
        {"syslog", {0, 2, 3, 4, 5, 6, 7}, 7, {"0", "2", "3", "7"}, {1, 1, 2, 5}, "=\"0\"}"},
        {"zero-up", {0, 1, 2, 3, 4, 5}, 6, {"5", "4", "1", "0"}, {1, 2, 4, 5}, "=\"5\"}"},
        {"ids", {1, 2, 3, 4}, 4, {"1", "2", "3", "4"}, {1, 2, 3, 4}, "=\"1\"}"},
    };
    static const char *const check_names[] = {"disk", "cpu", "memory", "network",
                                              "dns",  "ntp", "raid"};
    for (size_t k = 0; k < sizeof scales / sizeof *scales; k++) {
        snprintf(path, sizeof path, "%s/scale-%s.csv", dir, scales[k].what);
        f = fopen(path, "w");
        fputs("timestamp,signature,severity,host\n", f);
        for (int i = 0; i < 300; i++)
            fprintf(f, "2026-03-02T10:%02d:%02dZ,%s check,%d,h%d\n", i / 60, i % 60,
                    check_names[i % scales[k].n], scales[k].values[i % scales[k].n], i % 40);
        fclose(f);
        yaml = suggest_into(sug, path);
        bool ok = true;
        for (int j = 0; j < 4; j++)
            ok &= proposed_sev(yaml, scales[k].value[j]) == scales[k].want[j];
        CHECK(ok);
        if (!ok && yaml) fprintf(stderr, "%s:\n%s", scales[k].what, yaml);
        free(yaml);
        /* the candidate lists what it newly hides most severe first: the
         * most severe value's alerts, as SEV1 */
        snprintf(args, sizeof args, "replay --candidate %s %s", sug, path);
        CHECK_EQ_INT(run(args, &out, &err), 0);
        const char *ns = out ? strstr(out, "  newly suppressed: ") : NULL;
        const char *first = ns ? strchr(ns, '\n') : NULL;
        const char *eol = first ? strchr(first + 1, '\n') : NULL;
        const char *at = first ? strstr(first, scales[k].first_hidden) : NULL;
        ok = first && !strncmp(first, "\n    SEV1 ", 10) && at && at < eol;
        CHECK(ok);
        if (!ok) fprintf(stderr, "%s: %s", scales[k].what, out ? out : "");
        free(out);
        free(err);
    }
    /* Zabbix's API (problem.get: clock, r_clock) writes severity 0-5 as a
     * digit: read as its word (5 "disaster" is SEV1 under the defaults) */
    snprintf(path, sizeof path, "%s/zabbix-problems.json", dir);
    write_text(path, "{\"jsonrpc\":\"2.0\",\"result\":[{\"eventid\":\"9001\",\"clock\":"
                     "\"1714557600\",\"r_clock\":\"0\",\"name\":\"Zabbix agent is not "
                     "available\",\"severity\":\"5\"},{\"eventid\":\"9002\",\"clock\":"
                     "\"1714557660\",\"r_clock\":\"1714557900\",\"name\":\"High CPU\","
                     "\"severity\":\"0\"}],\"id\":1}\n");
    snprintf(args, sizeof args, "explain %s", path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "severity=\"disaster\"") &&
          strstr(out, "severity=\"not classified\""));
    if (!out || !strstr(out, "severity=\"disaster\"")) fprintf(stderr, "%s%s", out, err);
    free(out);
    free(err);
}

/* Traffic where no column names the alert: suggest does not fold the
 * unnamed alerts into one incident (a new signature would open none), and
 * says how to name the column. */
static void test_unnamed(void)
{
    char path[256], sug[256], args[1024];
    snprintf(path, sizeof path, "%s/unnamed.csv", dir);
    snprintf(sug, sizeof sug, "%s/unnamed.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs("when,sid,src\n", f);
    for (int i = 0; i < 400; i++) /* one sid from many hosts, then a new sid */
        fprintf(f, "%d,%d,10.0.%d.%d\n", 1772445600 + i * 10, i < 390 ? 2001219 : 2030001, i / 200,
                i % 200);
    fclose(f);
    char *out, *err;
    snprintf(args, sizeof args, "suggest -o %s %s", sug, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err && strstr(err, "400 alerts have no alertname"));
    /* nor a time ("when" is no time column's name): said, not silent */
    CHECK(err && strstr(err, "unnamed.csv: 400 alerts without a time"));
    char *yaml = check_read_file(sug, NULL);
    CHECK(yaml && !strstr(yaml, "fold-unnamed"));
    CHECK(yaml && strstr(yaml, "# 400 alerts have no alertname"));
    /* no window step gains anything here: none is written (the last step
     * tried was, while the report counted the plan without it) */
    CHECK(yaml && !strstr(yaml, "dedup:"));
    if (yaml && strstr(yaml, "fold-unnamed")) fputs(yaml, stderr);
    free(yaml);
    free(out);
    free(err);
}

/* Alert names with a newline, quotes or a YAML-looking colon, and an
 * owner that needs quoting: the proposal is still a config quell check
 * accepts (names in the report's comments stay on their comment line). */
static void test_awkward_names(void)
{
    char path[256], sug[256], args[1024];
    snprintf(path, sizeof path, "%s/awkward.csv", dir);
    snprintf(sug, sizeof sug, "%s/awkward.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs("time,signature,host\n", f);
    for (int i = 0; i < 40; i++)
        fprintf(f, "%d,\"%s\",h%d\n", 1772445600 + i * 60,
                i % 2 ? "Disk full\nkey: value # not a comment" : "say \"\"hi\"\": 'x'", i);
    fclose(f);
    char *out, *err;
    snprintf(args, sizeof args, "suggest --owner 'team: sec # ops' -o %s %s", sug, path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    free(out);
    free(err);
    snprintf(args, sizeof args, "check -c %s", sug);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    if (err && *err) {
        fprintf(stderr, "check: %s", err);
        char *yaml = check_read_file(sug, NULL);
        if (yaml) fputs(yaml, stderr);
        free(yaml);
    }
    free(out);
    free(err);
}

/* JSON exports as tools write them, not only JSON lines: one array of
 * records (pretty-printed, as jq or a UI export writes it), a wrapper
 * object holding the records ({"messages": [...]}, {"hits": {"hits":
 * [...]}}), objects one after another over several lines, and one
 * document bigger than a Kafka message may be. Every record is read, with
 * and without a mapping; a bad stretch is reported with its line. */
static void test_json_documents(void)
{
    char path[256], err[200];
    conf_t c;
    conf_defaults(&c);
    static const struct {
        const char *text;
        size_t want;
    } docs[] = {
        {"[\n {\"time\": \"2026-03-02T10:00:00Z\", \"signature\": \"ET SCAN a\"},\n"
         " {\"time\": \"2026-03-02T10:00:01Z\", \"signature\": \"ET SCAN b\"}\n]\n",
         2},
        {"{\"messages\": [{\"time\": \"2026-03-02T10:00:00Z\", \"signature\": \"x\"},"
         "{\"time\": \"2026-03-02T10:00:01Z\", \"signature\": \"y\"}]}",
         2},
        {"{\"took\": 3, \"hits\": {\"total\": 1, \"hits\": [{\"time\": \"2026-03-02T10:00:00Z\","
         " \"signature\": \"z\"}]}}",
         1},
        {"{\n  \"time\": \"2026-03-02T10:00:00Z\",\n  \"signature\": \"p\"\n}\n"
         "{\n  \"time\": \"2026-03-02T10:00:02Z\",\n  \"signature\": \"q\"\n}\n",
         2},
    };
    for (int mapped = 0; mapped < 2; mapped++)
        for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
            snprintf(path, sizeof path, "%s/doc%zu.json", dir, i);
            write_text(path, docs[i].text);
            recorded_t *r =
                recorded_new(&c, mapped ? "alertname=signature,time=time" : NULL, err, sizeof err);
            seen_t s = {0};
            CHECK(r != NULL);
            CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
            if (s.n != docs[i].want || recorded_errors(r))
                fprintf(stderr, "json document %zu (mapped %d): %zu rows, %llu errors\n", i, mapped,
                        s.n, (unsigned long long)recorded_errors(r));
            CHECK_EQ_INT(s.n, docs[i].want);
            CHECK_EQ_INT(recorded_errors(r), 0);
            if (s.n >= 1) CHECK(!strncmp(s.rows[0], "alertname=", 10));
            if (s.n >= 2) CHECK(s.t[1] > s.t[0]);
            recorded_destroy(r);
        }

    /* an alert that carries a list of objects is one record, not a wrapper */
    snprintf(path, sizeof path, "%s/pd-event.json", dir);
    write_text(path,
               "{\"routing_key\": \"k\", \"event_action\": \"trigger\", \"payload\": "
               "{\"summary\": \"Disk full\"}, \"links\": [{\"href\": \"h\", \"text\": \"t\"}]}");
    recorded_t *one = recorded_new(&c, NULL, err, sizeof err);
    seen_t s1 = {0};
    CHECK_EQ_INT(recorded_read(one, path, keep_row, &s1), 0);
    CHECK_EQ_INT(s1.n, 1);
    CHECK(strstr(s1.rows[0], "alertname=Disk full") != NULL);
    recorded_destroy(one);

    /* PagerDuty Events v2, no mapping: read as the intake reads them, so a
     * resolve (no payload) closes its trigger: labels alertname="pagerduty"
     * and dedup_key, not every field of the event */
    snprintf(path, sizeof path, "%s/pd-events.json", dir);
    write_text(path, "{\"routing_key\": \"R0123456789\", \"event_action\": \"trigger\", "
                     "\"dedup_key\": \"srv01/HTTP\", \"payload\": {\"summary\": \"HTTP down\", "
                     "\"source\": \"srv01\", \"severity\": \"critical\"}}\n"
                     "{\"routing_key\": \"R0123456789\", \"event_action\": \"resolve\", "
                     "\"dedup_key\": \"srv01/HTTP\"}\n");
    recorded_t *pd = recorded_new(&c, NULL, err, sizeof err);
    seen_t s2 = {0};
    CHECK_EQ_INT(recorded_read(pd, path, keep_row, &s2), 0);
    CHECK_EQ_INT(s2.n, 2);
    CHECK_EQ_STR(s2.rows[0], "alertname=pagerduty dedup_key=srv01/HTTP");
    CHECK_EQ_STR(s2.rows[1], "alertname=pagerduty dedup_key=srv01/HTTP RESOLVED");
    recorded_destroy(pd);

    /* one array of 20,000 records, 1.3 MB: more than ingest.max_message_bytes */
    snprintf(path, sizeof path, "%s/big.json", dir);
    FILE *f = fopen(path, "w");
    fputs("[", f);
    for (int i = 0; i < 20000; i++)
        fprintf(
            f,
            "%s{\"ts\":%lld,\"signature\":\"ET SCAN Potential SSH Scan\",\"src\":\"10.0.%d.%d\"}",
            i ? ",\n" : "", 1772445600000LL + i * 1000LL, i / 250, i % 250);
    fputs("]\n", f);
    fclose(f);
    recorded_t *r = recorded_new(&c, NULL, err, sizeof err);
    size_t n = 0;
    CHECK_EQ_INT(recorded_read(r, path, count_row, &n), 0);
    CHECK_EQ_INT(n, 20000);
    CHECK_EQ_INT(recorded_errors(r), 0);
    recorded_destroy(r);

    /* a stretch that is no JSON between good lines: reported, counted, the rest read */
    snprintf(path, sizeof path, "%s/mixed.json", dir);
    write_text(path, "{\"signature\":\"a\"}\n{\"signature\": oops}\n{\"signature\":\"b\"}\n");
    r = recorded_new(&c, "alertname=signature", err, sizeof err);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(recorded_errors(r), 1);
    recorded_destroy(r);
    conf_free(&c);
}

/* Suricata's and Snort's fast.log, as the sensors write it: no header,
 * one alert a line. Read without a mapping (the signature names it, the
 * priority is its severity) and through one (the same field names as EVE
 * and the CSV storm). */
static void test_fastlog(void)
{
    char path[256], err[200];
    snprintf(path, sizeof path, "%s/fast.log", dir);
    write_text(path,
               "03/02/2026-10:00:01.123456  [**] [1:2001219:20] ET SCAN Potential SSH Scan [**] "
               "[Classification: Attempted Information Leak] [Priority: 2] {TCP} "
               "203.0.113.5:51234 -> 10.1.0.7:22\n"
               "\n"
               "03/02/2026-10:00:02.5  [**] [1:2013504:6] ET POLICY GNU/Linux APT User-Agent [**] "
               "[Priority: 3] {TCP} 10.1.0.9:40000 -> 198.51.100.4:80\n"
               "garbage that is no alert\n");
    conf_t c;
    conf_defaults(&c);
    recorded_t *r = recorded_new(&c, NULL, err, sizeof err);
    seen_t s = {0};
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.rows[0], "alertname=ET SCAN Potential SSH Scan classification=Attempted "
                            "Information Leak dest_ip=10.1.0.7 dest_port=22 proto=TCP "
                            "severity=2 signature_id=1:2001219:20 src_ip=203.0.113.5");
    CHECK_EQ_INT(s.t[0], 1772445601123LL);
    CHECK(s.n == 2 && strstr(s.rows[1], "alertname=ET POLICY GNU/Linux APT User-Agent "));
    CHECK_EQ_INT(recorded_errors(r), 1); /* the garbage line, reported */
    recorded_destroy(r);
    r = recorded_new(&c, "alertname=signature,severity=priority,instance=src_ip,time=timestamp",
                     err, sizeof err);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(recorded_read(r, path, keep_row, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.rows[0], "alertname=ET SCAN Potential SSH Scan instance=203.0.113.5 severity=2");
    recorded_destroy(r);
    conf_free(&c);
}

/* Rows of longer alerts than seen_t holds (an OSSEC alert's full log). */
typedef struct {
    char rows[8][1200];
    int64_t t[8];
    size_t n;
} long_rows_t;

static void keep_long_row(void *ctx, alert_t *a)
{
    long_rows_t *s = ctx;
    if (s->n == 8) return;
    char *o = s->rows[s->n], *end = o + sizeof s->rows[0];
    for (uint32_t i = 0; i < a->n_labels && o < end; i++) {
        int k =
            snprintf(o, (size_t)(end - o), "%s%.*s=%.*s", i ? " " : "", (int)a->labels[i].name.len,
                     a->labels[i].name.ptr, (int)a->labels[i].value.len, a->labels[i].value.ptr);
        o += k > 0 ? k : 0;
    }
    s->t[s->n++] = a->event_time_ms;
}

/* `path` read without a mapping into `s`, the year of yearless dates
 * `year`; returns the problems counted. */
static uint64_t read_long_rows(const char *path, long year, long_rows_t *s)
{
    conf_t c;
    conf_defaults(&c);
    char e[200];
    memset(s, 0, sizeof *s);
    recorded_t *r = recorded_new(&c, NULL, e, sizeof e);
    CHECK(r != NULL);
    if (!r) return 1;
    recorded_set_year(r, year);
    CHECK_EQ_INT(recorded_read(r, path, keep_long_row, s), 0);
    uint64_t errors = recorded_errors(r);
    recorded_destroy(r);
    conf_free(&c);
    return errors;
}

/* Snort's full alerts (`snort -A full`): a record of lines per alert, read
 * as one alert with fast.log's fields and none of the packet's own (TTL,
 * ID, Seq differ per packet); the classification line may be absent, ICMP
 * has no ports, Xref lines are no fields; a time with or without its
 * year; a malformed record is reported at its line and counted. */
static void test_snort_full(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/alert.full", dir);
    const char *text = "[**] [1:2003068:6] ET SCAN Potential SSH Scan OUTBOUND [**]\n"
                       "[Classification: Attempted Information Leak] [Priority: 2] \n"
                       "03/07-16:11:04.322197 172.16.112.50:1025 -> 172.16.115.20:22\n"
                       "TCP TTL:63 TOS:0x0 ID:61212 IpLen:20 DgmLen:60 DF\n"
                       "******S* Seq: 0x3A5E24FB  Ack: 0x0  Win: 0x7D78  TcpLen: 40\n"
                       "[Xref => http://doc.emergingthreats.net/2003068]\n"
                       "\n"
                       "[**] [1:384:5] ICMP PING [**]\n"
                       "[Classification: Misc activity] [Priority: 3] \n"
                       "03/07/00-16:11:05.000001 172.16.112.50 -> 172.16.115.20\n"
                       "ICMP TTL:64 TOS:0x0 ID:1 IpLen:20 DgmLen:84\n"
                       "Type:8  Code:0  ID:1   Seq:1  ECHO\n"
                       "\n"
                       "[**] [119:4:1] (http_inspect) BARE BYTE UNICODE ENCODING [**]\n"
                       "03/07-16:11:06.5 10.0.0.1:80 -> 10.0.0.2:4000\n"
                       "TCP TTL:64 TOS:0x0 ID:2 IpLen:20 DgmLen:84\n"
                       "***AP*** Seq: 0x1  Ack: 0x2  Win: 0x3  TcpLen: 20\n"
                       "\n"
                       "[**] [1:1:1] rule line cut short\n"
                       "03/07-16:11:07.5 10.0.0.1:80 -> 10.0.0.2:4000\n"
                       "\n"
                       "[**] [1:2:1] no time line [**]\n"
                       "[Priority: 1]\n"
                       "TCP TTL:64 TOS:0x0 ID:2 IpLen:20 DgmLen:84\n"
                       "\n"
                       "stray text between records\n"
                       "more of it\n";
    write_text(path, text);
    CHECK_EQ_INT(rec_sniff(text, strlen(text)), REC_KIND_SNORT_FULL);
    long_rows_t s;
    CHECK_EQ_INT(read_long_rows(path, 2026, &s), 3); /* two records, one stretch */
    CHECK_EQ_INT(s.n, 3);
    /* in event time: the -y record's 2000 first */
    CHECK_EQ_STR(s.rows[0], "alertname=ICMP PING classification=Misc activity "
                            "dest_ip=172.16.115.20 proto=ICMP severity=3 signature_id=1:384:5 "
                            "src_ip=172.16.112.50");
    CHECK_EQ_INT(s.t[0], 952445465000LL); /* 2000-03-07T16:11:05.000Z */
    CHECK_EQ_STR(s.rows[1], "alertname=ET SCAN Potential SSH Scan OUTBOUND "
                            "classification=Attempted Information Leak dest_ip=172.16.115.20 "
                            "dest_port=22 proto=TCP severity=2 signature_id=1:2003068:6 "
                            "src_ip=172.16.112.50");
    CHECK_EQ_INT(s.t[1], 1772899864322LL); /* 2026-03-07T16:11:04.322Z: --year */
    CHECK_EQ_STR(s.rows[2], "alertname=(http_inspect) BARE BYTE UNICODE ENCODING "
                            "dest_ip=10.0.0.2 dest_port=4000 proto=TCP signature_id=119:4:1 "
                            "src_ip=10.0.0.1 src_port=80");
    /* the reader on its own: the offending line of a record */
    rec_field_t f[REC_FASTLOG_FIELDS];
    size_t bad = 99;
    const char *why = NULL;
    const char *rec = "[**] [1:2:1] x [**]\n[Priority: 1]\nno time here\n";
    CHECK_EQ_INT(rec_snort_full(rec, strlen(rec), f, &bad, &why), 0);
    CHECK_EQ_INT(bad, 2);
    CHECK(why && strstr(why, "TIME SRC -> DST"));
    rec = "[**] [1:2:1] x [**]\r\n[Priority: 1\r\n03/07-16:11:07.5 a -> b\r\n";
    CHECK_EQ_INT(rec_snort_full(rec, strlen(rec), f, &bad, &why), 0);
    CHECK_EQ_INT(bad, 1);
    /* through the binary: FILE:LINE: reason, and counted */
    char args[600], want[400], *out, *err;
    snprintf(args, sizeof args, "replay --format json %s", path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    snprintf(want, sizeof want, "%s:19: not read: not a Snort alert", path);
    CHECK(err && strstr(err, want));
    snprintf(want, sizeof want, "%s:24: not read: no \"TIME SRC -> DST\" line", path);
    CHECK(err && strstr(err, want));
    snprintf(want, sizeof want, "%s:26: not read: 2 lines outside any Snort alert record", path);
    CHECK(err && strstr(err, want));
    if (err && !strstr(err, want)) fputs(err, stderr);
    CHECK(out && strstr(out, "\"alerts_in\":3,") && strstr(out, "\"decode_errors\":3"));
    free(out);
    free(err);
}

/* OSSEC's (and Wazuh's) alerts.log: a record of lines per alert, named as
 * Wazuh's alerts.json names them flattened, the level the severity (the
 * role rule.level plays); the agent's "(NAME) IP->" and the manager's
 * "HOST->" second lines; the key lines; the log, one line or several, a
 * label of its own (full_log, as Wazuh's JSON has it); a malformed record
 * reported at its line. */
static void test_ossec_log(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/alerts.log", dir);
    const char *text =
        "** Alert 1596031871.1234: - syslog,sshd,authentication_failed,\n"
        "2020 Jul 29 14:11:11 (agent01) 10.0.0.5->/var/log/auth.log\n"
        "Rule: 5716 (level 5) -> 'SSHD authentication failed.'\n"
        "Src IP: 10.0.0.9\n"
        "User: root\n"
        "Jul 29 14:11:10 agent01 sshd[123]: Failed password for root from 10.0.0.9 port 4444 "
        "ssh2\n"
        "\n"
        "** Alert 1596031872.1300: mail  - ossec,syscheck,\n"
        "2020 Jul 29 14:11:12 wazuh-manager->syscheck\n"
        "Rule: 550 (level 7) -> 'Integrity checksum changed.'\n"
        "File '/etc/hosts' modified\n"
        "Size changed from '221' to '237'\n"
        "\n"
        "\n"
        "** Alert 1596031873.1400: - syslog,\n"
        "2020 Jul 29 14:11:13 host1->/var/log/messages\n"
        "Rule: 1002 level 2\n"
        "a log line\n"
        "\n"
        "** Alert 1596031874.1500: - syslog,\n"
        "Jul 29 14:11:14 host1 no year, no arrow\n"
        "\n";
    write_text(path, text);
    CHECK_EQ_INT(rec_sniff(text, strlen(text)), REC_KIND_OSSEC);
    long_rows_t s;
    CHECK_EQ_INT(read_long_rows(path, 0, &s), 2);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.rows[0],
                 "agent_ip=10.0.0.5 agent_name=agent01 alertname=SSHD authentication failed. "
                 "location=/var/log/auth.log "
                 "rule_groups=syslog,sshd,authentication_failed rule_id=5716 severity=5 "
                 "srcip=10.0.0.9 user=root");
    CHECK_EQ_INT(s.t[0], 1596031871000LL);
    CHECK_EQ_STR(s.rows[1], "agent_name=wazuh-manager alertname=Integrity checksum changed. "
                            "full_log=File '/etc/hosts' modified\nSize changed from '221' to "
                            "'237' location=syscheck rule_groups=ossec,syscheck rule_id=550 "
                            "severity=7");
    rec_field_t f[REC_OSSEC_FIELDS];
    size_t bad = 99;
    const char *why = NULL;
    const char *rec = "** Alert 1.2: - a,\n2020 Jul 29 14:11:13 h->l\nRule: 1 (level 2) x\n";
    CHECK_EQ_INT(rec_ossec_record(rec, strlen(rec), f, &bad, &why), 0);
    CHECK_EQ_INT(bad, 2);
    CHECK(why && strstr(why, "Rule: ID (level N)"));
    rec = "** Alert 1.2: - a,\r\n2020 Jul 29 14:11:13 (h) 10.0.0.1->l\r\nRule: 1 (level 12) -> "
          "'D'\r\n";
    CHECK_EQ_INT(rec_ossec_record(rec, strlen(rec), f, &bad, &why), 8); /* no log */
    char args[600], want[400], *out, *err;
    snprintf(args, sizeof args, "replay --format json %s", path);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    snprintf(want, sizeof want, "%s:17: not read: no \"Rule: ID (level N)", path);
    CHECK(err && strstr(err, want));
    snprintf(want, sizeof want, "%s:21: not read: no time", path);
    CHECK(err && strstr(err, want));
    if (err && !strstr(err, want)) fputs(err, stderr);
    CHECK(out && strstr(out, "\"alerts_in\":2,") && strstr(out, "\"decode_errors\":2"));
    free(out);
    free(err);
}

/* ---- the storm ------------------------------------------------------------ */

/* The signature of each data row of the CSV the generator wrote (its
 * second field, quoted), in order. */
static char **csv_signatures(const char *path, size_t *n)
{
    char *text = check_read_file(path, NULL);
    size_t cap = 1024, k = 0;
    char **v = malloc(cap * sizeof *v);
    char *line = text ? strchr(text, '\n') : NULL; /* skip the header */
    while (line && line[1]) {
        line++;
        char *q = strchr(line, '"'), *e = q ? strchr(q + 1, '"') : NULL;
        if (!q || !e) break;
        if (k == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[k++] = strndup(q + 1, (size_t)(e - q - 1));
        line = strchr(e, '\n');
    }
    free(text);
    *n = k;
    return v;
}

/* Which rows were forwarded, from replay's --format json lines. */
static bool *forwarded_rows(const char *out, size_t n, size_t *forwards)
{
    bool *fw = calloc(n ? n : 1, sizeof *fw);
    size_t i = 0;
    *forwards = 0;
    for (const char *p = out; p && *p && i < n; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "{\"fingerprint\"", 14)) continue;
        /* within the line: strstr over the rest of the output made this
         * quadratic (a minute under ASan, whose strstr measures it all) */
        const char *eol = strchr(p, '\n');
        size_t line_len = eol ? (size_t)(eol - p) : strlen(p);
        const char *d = memmem(p, line_len, "\"decision\":\"", 12);
        fw[i] = d && !strncmp(d + 12, "forward", 7);
        *forwards += fw[i];
        i++;
    }
    return fw;
}

static bool sig_matches(const char *row_sig, const char *sig)
{
    size_t l = strlen(sig);
    return !strncmp(row_sig, sig, l) && (row_sig[l] == '\0' || row_sig[l] == ' ');
}

/* Every signature new in attack phases 1 .. phases - 1 (those of the
 * IDSs in `sources`, 0: all) is forwarded at least once, and so is each
 * phase's first alert, judged in the order replay decides: `nm` holds the
 * names read back by input position and the reader's order, `fw` which
 * of replay's lines (in input order) were forwarded. */
static void check_phases(const char *what, const ids_storm_t *st, int phases, int sources,
                         const names_t *nm, const bool *fw)
{
    for (int p = 1; p < phases; p++) {
        size_t first = nm->n;
        for (size_t g = 0; g < st->n_sig; g++) {
            if (st->sig[g].phase != p || (sources && !(st->sig[g].source & sources))) continue;
            size_t sig_forwards = 0, sig_first = nm->n; /* first in event time */
            for (size_t k = 0; k < nm->n; k++) {
                size_t i = nm->order[k]; /* replay's lines are in input order */
                if (sig_matches(nm->v[i], st->sig[g].name)) {
                    sig_forwards += fw[i];
                    if (sig_first == nm->n) sig_first = k;
                }
            }
            if (!sig_forwards)
                fprintf(stderr, "%s, phase %d: \"%s\" never forwarded\n", what, p, st->sig[g].name);
            CHECK(sig_forwards >= 1);
            if (sig_first < first) first = sig_first;
        }
        CHECK(first < nm->n && fw[nm->order[first]]); /* the phase's first alert opens one */
    }
}

static void test_storm(void)
{
    ids_storm_t st;
    char storm[256], sug[256], empty[256], args[2048];
    snprintf(storm, sizeof storm, "%s/storm.csv", dir);
    snprintf(sug, sizeof sug, "%s/suggested.yaml", dir);
    snprintf(empty, sizeof empty, "%s/defaults.yaml", dir);
    write_text(empty, "# the defaults\n");
    CHECK_EQ_INT(ids_storm_write(&st, storm, IDS_CSV, 15, 45000), 0);
    CHECK(st.alerts > 40000 && st.alerts < 50000);
    const char *map = "alertname=signature,category,severity=priority,instance=src_ip,dest_ip,"
                      "time=timestamp";
    char *out, *err;
    snprintf(args, sizeof args, "suggest --map %s --owner secops -o %s %s", map, sug, storm);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    free(out);
    if (err && *err) fprintf(stderr, "suggest: %s\n", err);
    free(err);
    char *yaml = check_read_file(sug, NULL);
    CHECK(yaml && strstr(yaml, "grouping:"));
    CHECK(yaml && strstr(yaml, "normalize: [alertname]"));
    CHECK(yaml && strstr(yaml, "owner: secops"));
    CHECK(yaml && !strstr(yaml, "min_count:")); /* would hide one-off attack alerts */
    if (yaml) fputs(yaml, stdout);
    free(yaml);

    /* what quell check accepts */
    snprintf(args, sizeof args, "check -c %s", sug);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    free(out);
    free(err);

    /* replay with the proposal: >= 50x, every phase still opens incidents */
    snprintf(args, sizeof args, "replay -c %s --map %s --format json %s", sug, map, storm);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    size_t n_rows, forwards;
    char **sig = csv_signatures(storm, &n_rows);
    CHECK_EQ_INT(n_rows, st.alerts);
    bool *fw = forwarded_rows(out, n_rows, &forwards);
    free(out);
    free(err);
    double ratio = forwards ? (double)n_rows / (double)forwards : 0;
    printf("storm: %zu alerts, %zu incidents: %.1fx\n", n_rows, forwards, ratio);
    CHECK(ratio >= 50);
    for (int p = 1; p < IDS_PHASES; p++) {
        size_t phase_forwards = 0;
        for (size_t s = 0; s < st.n_sig; s++) {
            if (st.sig[s].phase != p) continue;
            size_t sig_forwards = 0;
            for (size_t i = 0; i < n_rows; i++)
                if (fw[i] && sig_matches(sig[i], st.sig[s].name)) sig_forwards++;
            if (!sig_forwards)
                fprintf(stderr, "phase %d: \"%s\" never forwarded\n", p, st.sig[s].name);
            CHECK(sig_forwards >= 1); /* every signature new in the phase opens an incident */
            phase_forwards += sig_forwards;
        }
        CHECK(phase_forwards >= 1);
    }
    /* the first alert of each phase is forwarded the moment it arrives */
    for (int p = 1; p < IDS_PHASES; p++) {
        size_t first = n_rows;
        for (size_t s = 0; s < st.n_sig && first == n_rows; s++)
            if (st.sig[s].phase == p)
                for (size_t i = 0; i < n_rows; i++)
                    if (sig_matches(sig[i], st.sig[s].name)) {
                        first = i;
                        break;
                    }
        CHECK(first < n_rows && fw[first]);
    }
    for (size_t i = 0; i < n_rows; i++) free(sig[i]);
    free(sig);
    free(fw);

    /* explain names the grouping rule that folds an alert */
    char alert[256];
    snprintf(alert, sizeof alert, "%s/alert.json", dir);
    write_text(alert, "{\"labels\":{\"alertname\":\"GPL ICMP_INFO PING id 12345\","
                      "\"severity\":\"3\",\"instance\":\"10.9.9.9\"}}");
    snprintf(args, sizeof args, "explain -c %s %s", sug, alert);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "grouping: rule fold-ids-gpl-icmp-info-ping-id-n folds it"));
    free(out);
    free(err);

    /* the candidate report: the gain, and the critical alert a suggestion
     * hides listed first */
    snprintf(args, sizeof args, "replay -c %s --candidate %s --map %s %s", empty, sug, map, storm);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    const char *gain = out ? strstr(out, "  gain: ") : NULL;
    CHECK(gain != NULL);
    const char *changes = out ? strstr(out, "what each change newly hides") : NULL;
    CHECK(changes && strstr(changes, "\n    grouping fold-"));
    const char *first_change = changes ? strstr(changes, "\n    ") : NULL;
    CHECK(first_change && strstr(first_change, "most severe SEV1") &&
          strstr(first_change, "most severe SEV1") < strchr(first_change + 1, '\n'));
    const char *ns = out ? strstr(out, "  newly suppressed: ") : NULL;
    const char *first_hidden = ns ? strchr(ns, '\n') : NULL;
    CHECK(first_hidden && !strncmp(first_hidden, "\n    SEV1 ", 10));
    if (out && (!first_hidden || strncmp(first_hidden, "\n    SEV1 ", 10))) fputs(out, stderr);
    free(out);
    free(err);
}

/* The storm as a SIEM export (IDS_EXPORT): one JSON array, newest first,
 * no --map (the roles from "Signature Name", "Severity", "Event Time"),
 * rule ids in the names. Defaults plus the proposal shrink it at least
 * 50x, and every signature new in a phase opens an incident with its first
 * alert, judged in the order replay decides (event time: the reader's). */
static void test_storm_export(void)
{
    ids_storm_t st;
    char storm[256], sug[256], args[2048];
    snprintf(storm, sizeof storm, "%s/export.json", dir);
    snprintf(sug, sizeof sug, "%s/export.yaml", dir);
    CHECK_EQ_INT(ids_storm_write(&st, storm, IDS_EXPORT, 23, 45000), 0);
    char *out, *err;
    snprintf(args, sizeof args, "suggest --owner secops -o %s %s", sug, storm);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(err && strstr(err, "(newest first?): read in event-time order"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "replay -c %s --format json %s", sug, storm);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    conf_t c;
    conf_defaults(&c);
    char e[200];
    recorded_t *r = recorded_new(&c, NULL, e, sizeof e);
    names_t nm = {.rec = r};
    CHECK_EQ_INT(recorded_read(r, storm, keep_name, &nm), 0);
    recorded_destroy(r);
    conf_free(&c);
    CHECK_EQ_INT(nm.n, st.alerts);
    size_t forwards;
    bool *fw = forwarded_rows(out, nm.n, &forwards);
    free(out);
    free(err);
    double ratio = forwards ? (double)nm.n / (double)forwards : 0;
    printf("export storm: %zu alerts, %zu incidents: %.1fx\n", nm.n, forwards, ratio);
    CHECK(ratio >= 50);
    check_phases("export", &st, IDS_PHASES, 0, &nm, fw);
    names_free(&nm);
    free(fw);
}

/* Suricata EVE JSON lines through a dotted --map; a bad row is reported as
 * FILE:LINE and counted, and the rest is still read. */
static void test_eve_json(void)
{
    ids_storm_t st;
    char storm[256], sug[256], args[2048];
    snprintf(storm, sizeof storm, "%s/eve.json", dir);
    snprintf(sug, sizeof sug, "%s/eve.yaml", dir);
    CHECK_EQ_INT(ids_storm_write(&st, storm, IDS_EVE, 7, 9000), 0);
    FILE *f = fopen(storm, "a");
    fputs("{\"timestamp\":\"yesterday\",\"alert\":{\"signature\":\"x\"}}\n[1, 2]\n", f);
    fclose(f);
    const char *map = "alertname=alert.signature,category=alert.category,severity=alert.severity,"
                      "instance=src_ip,time=timestamp";
    char *out, *err;
    snprintf(args, sizeof args, "suggest --map %s -o %s %s", map, sug, storm);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    char want[300];
    snprintf(want, sizeof want, "%s:%zu: warning: time \"yesterday\" not read", storm,
             st.alerts + 1);
    CHECK(err && strstr(err, want));
    snprintf(want, sizeof want, "%s:%zu: not read: not a JSON object", storm, st.alerts + 2);
    CHECK(err && strstr(err, want));
    free(out);
    free(err);
    snprintf(args, sizeof args, "replay -c %s --map %s --format json %s", sug, map, storm);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "\"decode_errors\":1"));
    size_t forwards;
    bool *fw = forwarded_rows(out, st.alerts + 1, &forwards);
    printf("eve storm: %zu alerts, %zu incidents: %.1fx\n", st.alerts, forwards,
           forwards ? (double)st.alerts / (double)forwards : 0.0);
    CHECK(forwards > 0 && st.alerts / forwards >= 10);
    free(fw);
    free(out);
    free(err);

    /* a bad mapping is refused */
    snprintf(args, sizeof args, "suggest --map 'alert name=x' %s", storm);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    CHECK(err && strstr(err, "--map: \"alert name\" is not a label name"));
    free(out);
    free(err);
}

/* A storm through suggest and replay without --map (the AIT-ADS-like
 * scenario of ait_storm_write: Wazuh's alerts.json and AMiner's JSON,
 * alone and as the two inputs of one scenario; Snort's full alerts;
 * OSSEC's alerts.log). `files` are the inputs as written (for reading the names back);
 * `inputs` what quell is given (a pipe's /dev/stdin among them, fed by
 * `pipe`). The proposal is a config quell check accepts; defaults plus it
 * shrink the storm at least 50x, and every attack phase opens an
 * incident, with every signature new in it, judged in the order replay
 * decides. */
static void storm_check(const char *what, const ids_storm_t *st, int phases, int sources,
                        const char *const *files, size_t n_files, const char *pipe,
                        const char *inputs)
{
    char sug[256], args[2048];
    snprintf(sug, sizeof sug, "%s/ait.yaml", dir);
    char *out, *err;
    snprintf(args, sizeof args, "suggest --owner secops -o %s %s", sug, inputs);
    CHECK_EQ_INT(run_piped(pipe, args, &out, &err), 0);
    if (err && *err) fprintf(stderr, "%s: suggest: %s", what, err);
    free(out);
    free(err);
    snprintf(args, sizeof args, "check -c %s", sug); /* a config quell accepts */
    CHECK_EQ_INT(run(args, &out, &err), 0);
    free(out);
    free(err);
    snprintf(args, sizeof args, "replay -c %s --format json %s", sug, inputs);
    CHECK_EQ_INT(run_piped(pipe, args, &out, &err), 0);
    free(err);
    conf_t c;
    conf_defaults(&c);
    char e[200];
    recorded_t *r = recorded_new(&c, NULL, e, sizeof e);
    names_t nm = {.rec = r};
    CHECK_EQ_INT(recorded_read_files(r, files, n_files, keep_name, &nm), 0);
    recorded_destroy(r);
    conf_free(&c);
    CHECK_EQ_INT(nm.n, st->alerts);
    size_t forwards;
    bool *fw = forwarded_rows(out, nm.n, &forwards);
    free(out);
    double ratio = forwards ? (double)nm.n / (double)forwards : 0;
    printf("%s: %zu alerts, %zu incidents: %.1fx\n", what, nm.n, forwards, ratio);
    CHECK(ratio >= 50);
    check_phases(what, st, phases, sources, &nm, fw);
    names_free(&nm);
    free(fw);
}

/* storm_check of ait_storm_write's storm, the phases of the IDSs whose
 * files are given ("wazuh" in a Wazuh file's name). */
static void ait_check(const char *what, const ids_storm_t *st, const char *const *files,
                      size_t n_files, const char *pipe, const char *inputs)
{
    int sources = 0;
    for (size_t i = 0; i < n_files; i++)
        sources |= strstr(files[i], "wazuh") ? AIT_WAZUH : AIT_AMINER;
    storm_check(what, st, AIT_PHASES, sources, files, n_files, pipe, inputs);
}

static void test_storm_ait(void)
{
    ids_storm_t st;
    char wz[256], am[256], both[600];
    snprintf(wz, sizeof wz, "%s/wazuh-alerts.json", dir);
    snprintf(am, sizeof am, "%s/aminer.json", dir);
    const char *files[2] = {wz, am};
    /* Both IDSs as one stream, Wazuh's as an export's JSON array gzip'd
     * through a pipe beside AMiner's lines; then each alone, AMiner's
     * indented as it writes its JSON. Smaller than the 45,000 alerts the
     * issue names (test_storm has that size): the suite stays fast, and
     * suggest still gets the shape (days of noise, phases hours apart). */
    CHECK_EQ_INT(ait_storm_write(&st, wz, am, 22, 9000, AIT_WAZUH_ARRAY | AIT_AMINER_LINES), 0);
    char pipe[600];
    snprintf(pipe, sizeof pipe, "gzip -1c %s | gzip -dc", wz);
    snprintf(both, sizeof both, "/dev/stdin %s", am);
    ait_check("ait storm (gzip'd Wazuh export + AMiner)", &st, files, 2, pipe, both);
    CHECK_EQ_INT(ait_storm_write(&st, wz, NULL, 5, 8000, 0), 0);
    ait_check("ait wazuh", &st, files, 1, NULL, wz);
    CHECK_EQ_INT(ait_storm_write(&st, NULL, am, 6, 8000, 0), 0);
    ait_check("ait aminer", &st, files + 1, 1, NULL, am);
}

/* The multi-line IDS formats as storms, without --map: Snort's full
 * alerts (the IDS storm of ids_storm_write, 45,000 alerts as the issue
 * names, test_storm's size), and OSSEC's alerts.log (the AIT-ADS-like
 * scenario's Wazuh alerts as Wazuh writes them to alerts.log, gzip'd
 * through a pipe given as "-", ait_check's size). Defaults plus the
 * proposal shrink each at least 50x, and every signature new in an
 * attack phase opens an incident, the phase's first alert too. */
static void test_storm_multiline(void)
{
    ids_storm_t st;
    char path[256], pipe[600];
    snprintf(path, sizeof path, "%s/snort-alert.full", dir);
    const char *files[1] = {path};
    CHECK_EQ_INT(ids_storm_write(&st, path, IDS_SNORT_FULL, 31, 45000), 0);
    CHECK(st.alerts > 40000 && st.alerts < 50000);
    storm_check("snort full storm", &st, IDS_PHASES, 0, files, 1, NULL, path);
    snprintf(path, sizeof path, "%s/wazuh-alerts.log", dir);
    CHECK_EQ_INT(ait_storm_write(&st, path, NULL, 41, 9000, AIT_WAZUH_LOG), 0);
    snprintf(pipe, sizeof pipe, "gzip -1c %s | gzip -dc", path);
    storm_check("ossec alerts.log storm (gzip'd, -)", &st, AIT_PHASES, AIT_WAZUH, files, 1, pipe,
                "-");
}

/* text gzip'd (one member) into a malloc'd buffer */
static char *gzip_of(const char *text, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    size_t cap = deflateBound(&z, (uLong)len) + 32;
    char *out = malloc(cap);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* recorded_unpack: gzip (two members back to back), xz and zstd give the
 * text back; a stream cut short or corrupt keeps what came before and
 * says so; text that is not compressed is left alone. */
static void test_unpack(void)
{
    size_t len = 0;
    char *text = malloc(200001);
    for (int i = 0; len < 200000 - 80; i++)
        len += (size_t)snprintf(text + len, 200001 - len, "{\"alertname\":\"A%d\",\"n\":%d}\n",
                                i % 37, i);
    size_t glen;
    char *gz = gzip_of(text, len, &glen);
    CHECK(gz != NULL);
    if (!gz) return;
    /* two members: the text twice */
    char *buf = malloc(2 * glen + 1);
    memcpy(buf, gz, glen);
    memcpy(buf + glen, gz, glen);
    size_t blen = 2 * glen;
    CHECK_EQ_STR(recorded_packed(buf, blen), "gzip");
    CHECK_EQ_INT(recorded_unpack("t.gz", &buf, &blen), 0);
    CHECK(blen == 2 * len && !memcmp(buf, text, len) && !memcmp(buf + len, text, len));
    CHECK(buf[blen] == '\0');
    free(buf);
    /* cut short: what came out before the cut, and 1 */
    buf = malloc(glen / 2 + 1);
    memcpy(buf, gz, glen / 2);
    blen = glen / 2;
    CHECK_EQ_INT(recorded_unpack("t.gz", &buf, &blen), 1);
    CHECK(blen > 0 && blen < len && !memcmp(buf, text, blen));
    free(buf);
    /* corrupt in the middle: found at once, or by the CRC at its end */
    buf = malloc(glen + 1);
    memcpy(buf, gz, glen);
    memset(buf + glen / 2, 0xff, 64);
    blen = glen;
    CHECK_EQ_INT(recorded_unpack("t.gz", &buf, &blen), 1);
    CHECK(blen > 1000 && !memcmp(buf, text, 1000)); /* what came before the damage */
    free(buf);
    free(gz);
    /* xz */
    size_t cap = lzma_stream_buffer_bound(len), xlen = 0;
    buf = malloc(cap + 1);
    CHECK(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, (const uint8_t *)text, len,
                                  (uint8_t *)buf, &xlen, cap) == LZMA_OK);
    CHECK_EQ_STR(recorded_packed(buf, xlen), "xz");
    CHECK_EQ_INT(recorded_unpack("t.xz", &buf, &xlen), 0);
    CHECK(xlen == len && !memcmp(buf, text, len));
    free(buf);
    /* zstd */
    cap = ZSTD_compressBound(len);
    buf = malloc(cap + 1);
    size_t zlen = ZSTD_compress(buf, cap, text, len, 3);
    CHECK(!ZSTD_isError(zlen));
    CHECK_EQ_STR(recorded_packed(buf, zlen), "zstd");
    CHECK_EQ_INT(recorded_unpack("t.zst", &buf, &zlen), 0);
    CHECK(zlen == len && !memcmp(buf, text, len));
    zlen = len / 3; /* not compressed: untouched */
    CHECK(recorded_packed(buf, zlen) == NULL);
    char *same = buf;
    CHECK_EQ_INT(recorded_unpack("t.json", &buf, &zlen), 0);
    CHECK(buf == same && zlen == len / 3);
    free(buf);
    free(text);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_normalize();
    test_grouping_rules();
    test_times();
    test_csv();
    test_json_documents();
    test_csv_problem_lines();
    test_utf16();
    test_time_order();
    test_time_orders();
    test_date_order_files();
    test_syslog_years();
    test_clock12();
    test_year_flag();
    test_across_files();
    test_explain_untimed();
    test_ids_shapes();
    test_nested_ids();
    test_severity_levels();
    test_unnamed();
    test_awkward_names();
    test_fastlog();
    test_snort_full();
    test_ossec_log();
    test_storm();
    test_storm_export();
    test_eve_json();
    test_storm_ait();
    test_storm_multiline();
    test_unpack();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return check_summary("test_suggest");
}
