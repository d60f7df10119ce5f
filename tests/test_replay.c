/* quell replay / explain / check through the real binary, on files written
 * under a temporary directory: determinism byte for byte, the JSON
 * contract, a crafted candidate diff, receivedAt event times, every
 * Alertmanager payload in ../shared/data and every other vendor's (replay
 * and explain), the rule files refused as traffic, and rule errors in
 * check. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char dir[] = "/tmp/quell-replay-XXXXXX";

static int run(const char *args, char **out, char **err)
{
    char cmd[8192], out_path[256], err_path[256];
    snprintf(out_path, sizeof(out_path), "%s/out", dir);
    snprintf(err_path, sizeof(err_path), "%s/err", dir);
    snprintf(cmd, sizeof(cmd), "cd %s && %s %s >%s 2>%s", dir, getenv("QUELL_BIN"), args, out_path,
             err_path);
    int status = system(cmd);
    *out = check_read_file(out_path, NULL);
    *err = check_read_file(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_text(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

static const char *BASE = "dedup:\n  window: 5m\n"
                          "exclusions:\n"
                          "  - name: staging\n"
                          "    matchers: ['cluster=~\"staging.*\"']\n"
                          "    owner: sre\n"
                          "    ends_at: 2030-01-01T00:00:00Z\n"
                          "severity:\n  map:\n    SEV1: [critical]\n    SEV3: [warning]\n"
                          "    SEV5: [none]\n";
static const char *CAND = "dedup:\n  window: 5m\n"
                          "exclusions:\n"
                          "  - name: db\n"
                          "    matchers: ['service=\"db\"']\n"
                          "    owner: sre\n"
                          "    ends_at: 2030-01-01T00:00:00Z\n"
                          "severity:\n  map:\n    SEV1: [critical]\n    SEV3: [warning]\n"
                          "    SEV5: [none]\n";

static void test_determinism_and_json(void)
{
    char *out, *err, *out2, *err2;
    write_text("base.yaml", BASE);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s gen --alerts 5000 --fingerprints 200 --seed 7 > %s/storm.jsonl",
             getenv("QUELL_BIN"), dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(run("replay -c base.yaml --format json storm.jsonl", &out, &err), 0);
    CHECK_EQ_INT(run("replay -c base.yaml --format json storm.jsonl", &out2, &err2), 0);
    CHECK(out && out2 && strcmp(out, out2) == 0); /* byte for byte */
    CHECK_EQ_INT(count_lines(out), 5001);
    CHECK(strstr(out, "{\"fingerprint\":\"") == out);
    CHECK(strstr(out, "\"reason\":\"excluded:staging\"") != NULL);
    CHECK(strstr(out, "\"reason\":\"new\"") != NULL);
    CHECK(strstr(out, "\"reason\":\"duplicate\"") != NULL);
    const char *sum = strstr(out, "{\"summary\":{\"alerts_in\":5000,");
    CHECK(sum != NULL);
    /* the summary adds up: forwarded + suppressed = alerts in */
    unsigned long long in = 0, inc = 0, sup = 0;
    if (sum)
        sscanf(sum,
               "{\"summary\":{\"alerts_in\":%llu,\"fingerprints\":%*u,\"incidents_out\":%llu,"
               "\"suppressed\":%llu",
               &in, &inc, &sup);
    CHECK_EQ_INT(in, 5000);
    CHECK_EQ_INT(inc + sup, 5000);
    int fwd = 0;
    for (const char *p = out; (p = strstr(p, "\"decision\":\"forward\"")); p++) fwd++;
    CHECK_EQ_INT(fwd, inc);
    free(out);
    free(err);
    free(out2);
    free(err2);
    /* Text output is deterministic too, and names the rule with samples. */
    CHECK_EQ_INT(run("replay -c base.yaml storm.jsonl", &out, &err), 0);
    CHECK_EQ_INT(run("replay -c base.yaml storm.jsonl", &out2, &err2), 0);
    CHECK(out && out2 && strcmp(out, out2) == 0);
    CHECK(strstr(out, "excluded:staging") != NULL && strstr(out, "e.g. ") != NULL);
    CHECK(strstr(out, "5000 alerts") != NULL);
    free(out);
    free(err);
    free(out2);
    free(err2);
}

/* A crafted change: the candidate drops the staging exclusion and adds one
 * for service="db". Expected: db alerts newly suppressed (critical first),
 * staging alerts newly let through. */
static void test_candidate_diff(void)
{
    write_text("base.yaml", BASE);
    write_text("cand.yaml", CAND);
    write_text(
        "crafted.jsonl",
        "{\"labels\":{\"alertname\":\"A\",\"service\":\"db\",\"severity\":\"warning\"},"
        "\"receivedAt\":\"2026-01-01T00:00:00Z\"}\n"
        "{\"labels\":{\"alertname\":\"B\",\"service\":\"db\",\"severity\":\"critical\"},"
        "\"receivedAt\":\"2026-01-01T00:00:01Z\"}\n"
        "{\"labels\":{\"alertname\":\"C\",\"cluster\":\"staging-1\",\"severity\":\"warning\"},"
        "\"receivedAt\":\"2026-01-01T00:00:02Z\"}\n"
        "{\"labels\":{\"alertname\":\"D\",\"service\":\"web\"}}\n"
        "{\"labels\":{\"alertname\":\"E\",\"severity\":\"none\"}}\n"
        "{\"labels\":{\"alertname\":\"A\",\"service\":\"db\",\"severity\":\"warning\"},"
        "\"receivedAt\":\"2026-01-01T00:01:00Z\"}\n");
    char *out, *err;
    CHECK_EQ_INT(run("replay -c base.yaml --candidate cand.yaml crafted.jsonl", &out, &err), 0);
    CHECK(out != NULL);
    if (!out) return;
    const char *ns = strstr(out, "newly suppressed: 2 alerts");
    const char *nf = strstr(out, "newly let through: 1 alerts");
    CHECK(ns != NULL && nf != NULL);
    if (ns && nf) {
        /* critical first */
        const char *b = strstr(ns, "alertname=\"B\""), *a = strstr(ns, "alertname=\"A\"");
        CHECK(b && a && b < a && a < nf);
        CHECK(strstr(ns, "SEV1 {alertname=\"B\"") != NULL);
        CHECK(strstr(nf, "alertname=\"C\"") != NULL);
        CHECK(strstr(nf, "was excluded:staging, now new") != NULL);
    }
    /* E is SEV5: dropped on both sides */
    CHECK(strstr(out, "severity ") != NULL);
    free(out);
    free(err);
    /* JSON with a candidate: each line says what changed. */
    CHECK_EQ_INT(
        run("replay -c base.yaml --candidate cand.yaml --format json crafted.jsonl", &out, &err),
        0);
    CHECK_EQ_INT(count_lines(out), 7);
    CHECK(strstr(out, "\"reason\":\"excluded:db\",\"was\":{\"decision\":\"forward\",\"reason\":"
                      "\"new\"}") != NULL);
    CHECK(strstr(out, "\"reason\":\"severity\"") != NULL);
    CHECK(strstr(out, "\"newly_suppressed\":2,\"newly_forwarded\":1") != NULL);
    free(out);
    free(err);
}

static void test_event_time(void)
{
    /* Without receivedAt lines are 1 ms apart: a 5m window folds them; with
     * receivedAt an hour apart, each opens a new incident. */
    write_text("w.yaml", "dedup:\n  window: 5m\n");
    write_text("t1.jsonl", "{\"labels\":{\"a\":\"1\"}}\n{\"labels\":{\"a\":\"1\"}}\n");
    write_text("t2.jsonl", "{\"labels\":{\"a\":\"1\"},\"receivedAt\":\"2026-01-01T00:00:00Z\"}\n"
                           "{\"labels\":{\"a\":\"1\"},\"receivedAt\":\"2026-01-01T01:00:00Z\"}\n");
    char *out, *err;
    CHECK_EQ_INT(run("replay -c w.yaml --format json t1.jsonl", &out, &err), 0);
    CHECK(strstr(out, "\"reason\":\"duplicate\"") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(run("replay -c w.yaml --format json t2.jsonl", &out, &err), 0);
    CHECK(strstr(out, "\"reason\":\"duplicate\"") == NULL);
    CHECK(strstr(out, "\"incidents_out\":2") != NULL);
    free(out);
    free(err);
    /* A line that is not an alert is reported with FILE:LINE, not skipped
     * silently. */
    write_text("bad.jsonl", "{\"labels\":{\"a\":\"1\"}}\nnot json\n");
    CHECK_EQ_INT(run("replay -c w.yaml bad.jsonl", &out, &err), 0);
    CHECK(strstr(err, "bad.jsonl:2: not decoded") != NULL);
    CHECK(strstr(out, "1 not decoded") != NULL);
    free(out);
    free(err);
}

/* A route's dedup_window decides in replay as in `quell run`: db's 15m
 * window folds an alert 10 minutes later, web's 1m window opens a new
 * incident 2 minutes later, the rest keeps dedup.window (5m). */
static void test_route_window(void)
{
    write_text("rw.yaml", "dedup:\n  window: 5m\n"
                          "route:\n  receiver: out\n  routes:\n"
                          "    - matchers: ['team=\"db\"']\n      dedup_window: 15m\n"
                          "    - matchers: ['team=\"web\"']\n      dedup_window: 1m\n"
                          "receivers:\n  - name: out\n    type: stdout\n");
    write_text("rw.jsonl",
               "{\"labels\":{\"team\":\"db\"},\"receivedAt\":\"2026-01-01T00:00:00Z\"}\n"
               "{\"labels\":{\"team\":\"web\"},\"receivedAt\":\"2026-01-01T00:00:00Z\"}\n"
               "{\"labels\":{\"team\":\"ops\"},\"receivedAt\":\"2026-01-01T00:00:00Z\"}\n"
               "{\"labels\":{\"team\":\"web\"},\"receivedAt\":\"2026-01-01T00:02:00Z\"}\n"
               "{\"labels\":{\"team\":\"ops\"},\"receivedAt\":\"2026-01-01T00:02:00Z\"}\n"
               "{\"labels\":{\"team\":\"db\"},\"receivedAt\":\"2026-01-01T00:10:00Z\"}\n");
    char *out, *err;
    CHECK_EQ_INT(run("replay -c rw.yaml --format json rw.jsonl", &out, &err), 0);
    static const char *want[] = {"new", "new", "new", "new", "duplicate", "duplicate"};
    const char *line = out;
    for (size_t i = 0; i < 6 && line; i++) {
        char key[64];
        snprintf(key, sizeof key, "\"reason\":\"%s\"", want[i]);
        const char *eol = strchr(line, '\n');
        const char *hit = strstr(line, key);
        if (!hit || (eol && hit > eol)) fprintf(stderr, "  line %zu: want %s\n", i + 1, want[i]);
        CHECK(hit && (!eol || hit < eol));
        line = eol ? eol + 1 : NULL;
    }
    free(out);
    free(err);
}

/* replay reads what suggest reads (app/recorded.c): a varint-delimited
 * protobuf file as `quell gen --format proto` writes it, and JSON lines of
 * another shape (Suricata EVE) without --map. */
static void test_inputs_as_suggest(void)
{
    char cmd[1024], *out, *err;
    write_text("w5.yaml", "dedup:\n  window: 5m\n");
    snprintf(cmd, sizeof cmd,
             "%s gen --alerts 3000 --fingerprints 100 --seed 11 --format proto > %s/storm.pb",
             getenv("QUELL_BIN"), dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(run("replay -c w5.yaml --format json storm.pb", &out, &err), 0);
    CHECK(out && strstr(out, "\"alerts_in\":3000,") != NULL);
    CHECK(err && strstr(err, "not decoded") == NULL);
    free(out);
    free(err);
    write_text("eve.json", "{\"timestamp\":\"2026-03-02T10:00:01.1+0000\",\"src_ip\":\"10.0.0.1\","
                           "\"alert\":{\"signature\":\"ET SCAN Nmap\",\"severity\":2}}\n"
                           "{\"timestamp\":\"2026-03-02T10:00:02.1+0000\",\"src_ip\":\"10.0.0.1\","
                           "\"alert\":{\"signature\":\"ET SCAN Nmap\",\"severity\":2}}\n");
    CHECK_EQ_INT(run("replay -c w5.yaml --format json eve.json", &out, &err), 0);
    CHECK(out && strstr(out, "\"alerts_in\":2,") != NULL);
    CHECK(out && strstr(out, "\"reason\":\"duplicate\"") != NULL); /* same labels, 1 s apart */
    CHECK(err && strstr(err, "not decoded") == NULL);
    free(out);
    free(err);
}

static void test_payloads(void)
{
    char path[1024];
    if (!CHECK_DATA(path, "payloads/alertmanager")) return;
    DIR *d = opendir(path);
    CHECK(d != NULL);
    if (!d) return;
    write_text("w.yaml", "dedup:\n  window: 5m\n");
    struct dirent *de;
    int files = 0, alerts_total = 0;
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".json")) continue;
        char args[2048];
        snprintf(args, sizeof args, "replay -c w.yaml --format json %s/%s", path, de->d_name);
        char *out, *err;
        int rc = run(args, &out, &err);
        CHECK_EQ_INT(rc, 0);
        unsigned long long in = 0;
        const char *s = out ? strstr(out, "{\"summary\":{\"alerts_in\":") : NULL;
        if (s) sscanf(s, "{\"summary\":{\"alerts_in\":%llu", &in);
        if (!s || in == 0) fprintf(stderr, "  %s: %s", de->d_name, err ? err : "");
        CHECK(s != NULL && in > 0);
        alerts_total += (int)in;
        files++;
        free(out);
        free(err);
    }
    closedir(d);
    printf("replayed %d Alertmanager payload files, %d alerts\n", files, alerts_total);
    CHECK(files >= 10);
}

/* Every other vendor's payload (Datadog, Grafana, PagerDuty, CloudWatch,
 * ...) through replay and explain: each is decided (alerts in) or refused
 * with FILE:LINE, never a crash or silence; explain reads what replay
 * reads. A few answers pinned: PagerDuty's v1 webhook wraps two messages,
 * an Events v2 resolve is a resolve of its trigger's alert, Pingdom "UP"
 * and Grafana "ok" resolve, events carry their own times. And each Prometheus rule file given as
 * traffic is refused as YAML. */
/* A CloudWatch alarm through SNS, made here: its state is the status
 * (OK resolves), its name the alarm's, whatever the envelope around it. */
static void test_sns_cloudwatch(void)
{
    static const char *const states[] = {"ALARM", "OK"};
    char line[2][1800];
    for (int k = 0; k < 2; k++) {
        char sig[400];
        memset(sig, 'Q', 344);
        sig[344] = '\0';
        snprintf(
            line[k], sizeof line[k],
            "{\"Type\":\"Notification\",\"MessageId\":\"m-%d\",\"Subject\":\"%s: "
            "\\\"HighCPU\\\"\",\"Message\":\"{\\\"AlarmName\\\":\\\"HighCPU\\\","
            "\\\"NewStateValue\\\":\\\"%s\\\",\\\"Region\\\":\\\"EU\\\","
            "\\\"Trigger\\\":{\\\"Dimensions\\\":[{\\\"value\\\":\\\"i-0a\\\","
            "\\\"name\\\":\\\"InstanceId\\\"},{\\\"name\\\":\\\"AutoScalingGroupName\\\","
            "\\\"value\\\":\\\"web\\\"}]}}\","
            "\"Tags\":[{\"Key\":\"team\",\"Value\":\"storage\"},{\"Key\":\"tier\",\"Value\":1}],"
            "\"Mixed\":[{\"name\":\"a\",\"value\":\"b\"},{\"other\":\"c\"}],"
            "\"Timestamp\":\"2024-03-01T10:0%d:00.000Z\",\"Signature\":\"%s\"}\n",
            k, states[k], states[k], k, sig);
    }
    char both[3800];
    snprintf(both, sizeof both, "%s%s", line[0], line[1]);
    write_text("sns.json", both);
    char *out, *err;
    CHECK_EQ_INT(run("explain sns.json", &out, &err), 0);
    const char *second = out ? strstr(out, "alert 2: ") : NULL;
    CHECK(out && strstr(out, "alert 1: fingerprint ") && strstr(out, ", firing,"));
    CHECK(second && strstr(second, ", resolved,"));
    CHECK(out && strstr(out, "alertname=\"HighCPU\"") && strstr(out, "2024-03-01T10:01:00.000Z"));
    /* name/value pair arrays are labels, one per pair; an array whose
     * elements are not all pairs is no label */
    CHECK(out && strstr(out, "Message_Trigger_Dimensions_InstanceId=\"i-0a\"") &&
          strstr(out, "Message_Trigger_Dimensions_AutoScalingGroupName=\"web\""));
    CHECK(out && strstr(out, "Tags_team=\"storage\"") && strstr(out, "Tags_tier=\"1\""));
    CHECK(out && !strstr(out, "Mixed"));
    if (!(second && strstr(second, ", resolved,"))) fprintf(stderr, "%s%s", out, err);
    free(out);
    free(err);
    unlink("sns.json");
}

/* A network alarm export: the time in a column no role name fits
 * ("Occurred On (NT)"), found by its first value; the status in "Alarm
 * Status" (Cleared resolves); a 10-digit serial number is no time (and,
 * a sequence, no label). */
static void test_alarm_export(void)
{
    write_text("alarms.csv",
               "Alarm Serial Number,Alarm Name,Severity,NE Name,Occurred On (NT),Alarm Status\n"
               "1596031871,Cell Unavailable,Critical,eNodeB-0007,2024-05-01 10:00:00,Active\n"
               "1596031871,Cell Unavailable,Critical,eNodeB-0007,2024-05-01 10:04:30,Cleared\n");
    char *out, *err;
    CHECK_EQ_INT(run("explain alarms.csv", &out, &err), 0);
    const char *second = out ? strstr(out, "alert 2: ") : NULL;
    CHECK(out && strstr(out, "2024-05-01T10:00:00.000Z") && strstr(out, ", firing,"));
    CHECK(second && strstr(second, "2024-05-01T10:04:30.000Z") && strstr(second, ", resolved,"));
    /* the serial number, a sequence, is no label either */
    CHECK(out && strstr(out, "alertname=\"Cell Unavailable\"") &&
          strstr(out, "NE_Name=\"eNodeB-0007\"") && !strstr(out, "Alarm_Serial_Number"));
    if (!(second && strstr(second, ", resolved,"))) fprintf(stderr, "%s%s", out, err);
    free(out);
    free(err);
    /* no column reads as a date: none is the time, the serial included */
    write_text("alarms.csv", "Alarm Serial Number,Alarm Name,NE Name\n"
                             "1596031871,Cell Unavailable,eNodeB-0007\n");
    CHECK_EQ_INT(run("explain alarms.csv", &out, &err), 0);
    CHECK(out && !strstr(out, "2020-07-29") && strstr(out, "alertname=\"Cell Unavailable\""));
    CHECK(err && strstr(err, "without a time"));
    free(out);
    free(err);
    unlink("alarms.csv");
}

/* Compressed files given by name read as what they hold (before, a
 * .gz was taken for protobuf and every line refused). */
static void test_compressed(void)
{
    write_text("plain.csv", "time,alertname,instance\n"
                            "2024-03-01T10:00:00Z,DiskFull,db1\n"
                            "2024-03-01T10:01:00Z,DiskFull,db2\n"
                            "2024-03-01T10:02:00Z,HighCPU,web1\n");
    char *out, *err, *gz_out, *gz_err;
    CHECK_EQ_INT(run("replay plain.csv", &out, &err), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cd %s && gzip -c plain.csv > packed.csv.gz", dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(run("replay packed.csv.gz", &gz_out, &gz_err), 0);
    CHECK(out && strstr(out, "3 alerts in"));
    CHECK(gz_out && out && !strcmp(strstr(gz_out, "current rules"), strstr(out, "current rules")));
    if (gz_err && *gz_err) fprintf(stderr, "%s", gz_err);
    CHECK(gz_err && !*gz_err);
    free(out);
    free(err);
    free(gz_out);
    free(gz_err);
    /* cut short: the lines before the cut, and it says so */
    snprintf(cmd, sizeof cmd, "cd %s && head -c 40 packed.csv.gz > cut.csv.gz", dir);
    CHECK_EQ_INT(system(cmd), 0);
    /* (40 bytes hold no whole alert line: nothing read, exit 1) */
    CHECK_EQ_INT(run("replay cut.csv.gz", &out, &err), 1);
    CHECK(err && strstr(err, "cut.csv.gz: gzip stream not whole, it ends early"));
    free(out);
    free(err);
    /* an archive is said to be one, not read as lines of binary */
    snprintf(cmd, sizeof cmd, "cd %s && tar czf both.tar.gz plain.csv", dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(run("replay both.tar.gz", &out, &err), 1);
    CHECK(err && strstr(err, "both.tar.gz: not read: an archive of files (tar xf it"));
    CHECK(err && strstr(err, "quell replay: no alert read from both.tar.gz (1 not decoded)"));
    free(out);
    free(err);
}

/* Prometheus's HTTP API as curl saves it: ALERTS over a range (each
 * sample sent again, a gap or an early end resolves one step after the
 * last sample, pending skipped and said), an instant query, the rules'
 * alerts, and a series that is no alert refused with its reason. */
static void test_prom_api(void)
{
    write_text("range.json",
               "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
               "{\"metric\":{\"__name__\":\"ALERTS\",\"alertname\":\"HighLatency\","
               "\"alertstate\":\"firing\",\"instance\":\"web1\"},\"values\":[[1701000000,\"1\"],"
               "[1701000060,\"1\"],[1701000120,\"1\"],[1701000600,\"1\"]]},"
               "{\"metric\":{\"__name__\":\"ALERTS\",\"alertname\":\"HighLatency\","
               "\"alertstate\":\"pending\",\"instance\":\"web2\"},\"values\":[[1701000000,\"1\"]]},"
               "{\"metric\":{\"__name__\":\"ALERTS\",\"alertname\":\"DiskFull\","
               "\"alertstate\":\"firing\",\"instance\":\"db1\"},\"values\":[[1701000030,\"1\"],"
               "[1701000090,\"1\"]]},"
               "{\"metric\":{\"__name__\":\"up\",\"instance\":\"db1\"},\"values\":[[1701000030,"
               "\"1\"]]}]}}\n");
    char *out, *err;
    CHECK_EQ_INT(run("explain range.json", &out, &err), 0);
    /* HighLatency: 3 samples, resolved at 12:03 (a gap), again at 12:10;
     * DiskFull: 2 samples, resolved at 12:02:30 (it stops before 12:10) */
    CHECK(out && strstr(out, "alert 7: ") && !strstr(out, "alert 9: "));
    CHECK(out && strstr(out, "resolved, evaluated at 2023-11-26T12:03:00.000Z") &&
          strstr(out, "resolved, evaluated at 2023-11-26T12:02:30.000Z") &&
          strstr(out, "firing, evaluated at 2023-11-26T12:10:00.000Z"));
    CHECK(out && strstr(out, "alertname=\"HighLatency\", instance=\"web1\"}") &&
          !strstr(out, "alertstate") && !strstr(out, "__name__") && !strstr(out, "web2"));
    CHECK(err && strstr(err, "1 pending alert samples skipped"));
    CHECK(err && strstr(err, "not read: a series without an alertname"));
    if (!(out && strstr(out, "alert 7: "))) fprintf(stderr, "%s%s", out, err);
    free(out);
    free(err);
    write_text("vector.json",
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
               "{\"metric\":{\"__name__\":\"ALERTS\",\"alertname\":\"DiskFull\","
               "\"alertstate\":\"firing\"},\"value\":[1701000030.5,\"1\"]}]}}\n");
    CHECK_EQ_INT(run("explain vector.json", &out, &err), 0);
    CHECK(out && strstr(out, "firing, evaluated at 2023-11-26T12:00:30.500Z") &&
          !strstr(out, "alert 2: "));
    free(out);
    free(err);
    write_text("rules.json",
               "{\"status\":\"success\",\"data\":{\"alerts\":[{\"labels\":{\"alertname\":"
               "\"HighLatency\",\"severity\":\"warning\"},\"state\":\"firing\",\"activeAt\":"
               "\"2023-11-26T12:00:00Z\",\"value\":\"1e+00\"},{\"labels\":{\"alertname\":"
               "\"DiskFull\"},\"state\":\"pending\",\"activeAt\":\"2023-11-26T12:01:00Z\"}]}}\n");
    CHECK_EQ_INT(run("explain rules.json", &out, &err), 0);
    CHECK(out && strstr(out, "alert 1: ") && strstr(out, "2023-11-26T12:00:00.000Z") &&
          strstr(out, "alertname=\"HighLatency\"") && !strstr(out, "DiskFull"));
    free(out);
    free(err);
}

/* `explain FILE`, checked to say exactly three alerts, alert k with
 * want[k] ("firing, evaluated at 2024-..."): its output (freed by the
 * caller). */
static char *explain_three(const char *file, const char *const want[3])
{
    char cmd[128], *out, *err;
    snprintf(cmd, sizeof cmd, "explain %s", file);
    CHECK_EQ_INT(run(cmd, &out, &err), 0);
    bool all = out && !strstr(out, "alert 4: ");
    for (int k = 0; k < 3; k++) {
        char key[32];
        snprintf(key, sizeof key, "alert %d: ", k + 1);
        const char *at = out ? strstr(out, key) : NULL;
        const char *next = at ? strstr(at + 1, "alert ") : NULL;
        const char *w = at ? strstr(at, want[k]) : NULL;
        all &= w && (!next || w < next);
    }
    CHECK(all);
    if (!all) fprintf(stderr, "%s: %s%s", file, out, err);
    free(err);
    return out;
}

/* Rows that are whole incidents: a Zabbix problem export (fired at
 * "Time", resolved at "Recovery time", whatever its status says now; an
 * open problem only fired) and a PagerDuty incident export (created_on,
 * resolved_on); "Duration" measures one occurrence and is no label. */
static void test_incident_rows(void)
{
    write_text("zabbix.csv",
               "\"Severity\",\"Time\",\"Recovery time\",\"Status\",\"Host\",\"Problem\","
               "\"Duration\"\n"
               "\"High\",\"2024-05-01 10:00:00\",\"2024-05-01 10:05:00\",\"RESOLVED\",\"db1\","
               "\"MySQL is down\",\"5m\"\n"
               "\"Warning\",\"2024-05-01 10:01:00\",\"\",\"PROBLEM\",\"web1\",\"High CPU\","
               "\"1h\"\n"
               "\"High\",\"2024-05-01 10:02:00\",\"2024-05-01 10:02:30\",\"RESOLVED\",\"db1\","
               "\"MySQL is down\",\"30s\"\n");
    char *out, *err;
    CHECK_EQ_INT(run("explain zabbix.csv", &out, &err), 0);
    const char *a[6] = {0};
    for (int i = 1; i <= 5 && out; i++) {
        char key[32];
        snprintf(key, sizeof key, "alert %d: ", i);
        a[i] = strstr(out, key);
    }
    CHECK(a[5] && !strstr(out, "alert 6: "));
    CHECK(a[1] && strstr(a[1], "firing, evaluated at 2024-05-01T10:00:00.000Z"));
    CHECK(a[2] && strstr(a[2], "firing, evaluated at 2024-05-01T10:01:00.000Z"));
    CHECK(a[3] && strstr(a[3], "firing, evaluated at 2024-05-01T10:02:00.000Z"));
    CHECK(a[4] && strstr(a[4], "resolved, evaluated at 2024-05-01T10:02:30.000Z"));
    CHECK(a[5] && strstr(a[5], "resolved, evaluated at 2024-05-01T10:05:00.000Z"));
    /* both MySQL problems are one label set: the duration is no label */
    CHECK(out && strstr(out, "alertname=\"MySQL is down\"") && !strstr(out, "Duration"));
    CHECK(a[1] && a[3] && !strncmp(a[1] + 9, a[3] + 9, 29)); /* "fingerprint X," alike */
    if (!a[5]) fprintf(stderr, "%s%s", out, err);
    free(out);
    free(err);
    write_text("pd.csv", "id,incident_number,description,service_name,created_on,resolved_on,"
                         "urgency,status\n"
                         "PABC1,17,Disk full on db1,Database,2024-05-01T10:00:00Z,"
                         "2024-05-01T11:00:00Z,high,resolved\n");
    CHECK_EQ_INT(run("explain pd.csv", &out, &err), 0);
    CHECK(out && strstr(out, "alert 1: ") && strstr(out, "firing, evaluated at 2024-05-01T10:00"));
    CHECK(out && strstr(out, "alert 2: ") &&
          strstr(out, "resolved, evaluated at 2024-05-01T11:00"));
    CHECK(out && strstr(out, "alertname=\"Disk full on db1\""));
    free(out);
    free(err);
    /* PagerDuty's REST API incidents: resolved ones timed by created_at,
     * closed at last_status_change_at (no label: it moves with each
     * update). Before, each was a resolve with no firing: nothing opened. */
    write_text("pd-api.json",
               "{\"incidents\":[{\"id\":\"Q1A\",\"title\":\"Disk full on db1\",\"status\":"
               "\"resolved\",\"urgency\":\"high\",\"created_at\":\"2024-05-01T10:00:00Z\","
               "\"last_status_change_at\":\"2024-05-01T10:03:00Z\"},"
               "{\"id\":\"Q1C\",\"title\":\"CPU high\",\"status\":\"triggered\",\"urgency\":"
               "\"low\",\"created_at\":\"2024-05-01T11:00:00Z\",\"last_status_change_at\":"
               "\"2024-05-01T11:00:00Z\"}],\"more\":false}\n");
    const char *const pd_want[3] /* and Zabbix's */ = {"firing, evaluated at 2024-05-01T10:00:00",
                                                       "resolved, evaluated at 2024-05-01T10:03:00",
                                                       "firing, evaluated at 2024-05-01T11:00:00"};
    out = explain_three("pd-api.json", pd_want);
    CHECK(out && !strstr(out, "last_status_change_at"));
    free(out);
    /* Zabbix's API (problem.get through JSON-RPC): clock, r_clock (0 while
     * open); whether it was acknowledged is no label. */
    write_text("zabbix-api.json",
               "{\"jsonrpc\":\"2.0\",\"result\":[{\"objectid\":\"15112\",\"clock\":\"1714557600\","
               "\"r_clock\":\"1714557780\",\"name\":\"Agent unreachable\",\"acknowledged\":\"1\","
               "\"severity\":\"3\"},{\"objectid\":\"15112\",\"clock\":\"1714561200\",\"r_clock\":"
               "\"0\",\"name\":\"Agent unreachable\",\"acknowledged\":\"0\",\"severity\":\"3\"}],"
               "\"id\":1}\n");
    out = explain_three("zabbix-api.json", pd_want); /* the same times */
    CHECK(out && strstr(out, "alertname=\"Agent unreachable\"") && !strstr(out, "acknowledged"));
    free(out);
    /* A close after the next row's creation is no file out of order. */
    write_text("pd-long.json",
               "{\"incidents\":[{\"title\":\"Disk full\",\"status\":\"resolved\",\"created_at\":"
               "\"2024-05-01T10:00:00Z\",\"last_status_change_at\":\"2024-05-01T12:00:00Z\"},"
               "{\"title\":\"CPU high\",\"status\":\"resolved\",\"created_at\":"
               "\"2024-05-01T11:00:00Z\",\"last_status_change_at\":\"2024-05-01T11:10:00Z\"}]}\n");
    CHECK_EQ_INT(run("replay pd-long.json", &out, &err), 0);
    CHECK(out && strstr(out, "4 alerts in, "));
    CHECK(err && !strstr(err, "earlier than the one before"));
    free(out);
    free(err);
    /* Opsgenie's alerts, closed, without a close time: each fired; an
     * event log timed by created_at whose resolve follows its firing
     * keeps it a resolve, even with an id of its own (a label set of its
     * own, the name still open). */
    write_text("og.csv", "TinyId,Message,Alias,Status,CreatedAt\n"
                         "1,Disk full,disk-db1,closed,2024-05-01 10:00:00\n"
                         "2,CPU high,cpu-api1,open,2024-05-01 10:05:00\n"
                         "3,CPU high,cpu-api1,closed,2024-05-01 10:06:00\n");
    const char *const og_want[3] = {"firing, evaluated at 2024-05-01T10:00:00",
                                    "firing, evaluated at 2024-05-01T10:05:00",
                                    "resolved, evaluated at 2024-05-01T10:06:00"};
    free(explain_three("og.csv", og_want));
    write_text("riemann.json", "{\"host\":\"h1\",\"service\":\"cpu\",\"state\":\"critical\","
                               "\"description\":\"load 12.5\",\"time\":1714557600}\n");
    CHECK_EQ_INT(run("explain riemann.json", &out, &err), 0);
    /* its description is what it measured this time: no label */
    CHECK(out && strstr(out, "alertname=\"cpu\"") && strstr(out, "host=\"h1\"") &&
          !strstr(out, "description="));
    free(out);
    free(err);
}

/* The fingerprint `explain` gives alert k (1-based), "" when none. */
static void explained_fp(const char *out, int k, char fp[17])
{
    char key[32];
    snprintf(key, sizeof key, "alert %d: fingerprint ", k);
    const char *at = out ? strstr(out, key) : NULL;
    fp[0] = '\0';
    if (at) snprintf(fp, 17, "%.16s", at + strlen(key));
}

/* A firing notification and its resolve are one label set, though the
 * fields that change from one notification to the next differ: each
 * pair below was two label sets before, so the resolve closed nothing. */
static void test_notification_pairs(void)
{
    static const struct {
        const char *name, *text, *gone[4], *kept;
    } pairs[] = {
        {"cloudwatch.json",
         "{\"Type\":\"Notification\",\"MessageId\":\"e288882d-4281-5be4-8fde-dccc11c8cb01\","
         "\"Subject\":\"ALARM: \\\"disk\\\" in EU\",\"Timestamp\":\"2024-05-01T10:00:00.100Z\","
         "\"Signature\":\"Wui8ZxaiH1IXLGJOTonbzc9lUaoq5HN3e2tPaX7G122R4r9P+"
         "Gbs01gOUsKMjPFiOwdvLT5rQjJw"
         "czb+1F6r6kt4qhU3\",\"Message\":\"{\\\"AlarmName\\\":\\\"disk\\\",\\\"AWSAccountId\\\":"
         "\\\"1234567890\\\",\\\"NewStateValue\\\":\\\"ALARM\\\",\\\"OldStateValue\\\":"
         "\\\"OK\\\",\\\"NewStateReason\\\":\\\"Threshold Crossed: "
         "97.0\\\",\\\"StateChangeTime\\\":"
         "\\\"2024-05-01T10:00:00.000+0000\\\"}\"}\n"
         "{\"Type\":\"Notification\",\"MessageId\":\"f288882d-4281-5be4-8fde-dccc11c8cb02\","
         "\"Subject\":\"OK: \\\"disk\\\" in EU\",\"Timestamp\":\"2024-05-01T10:03:00.100Z\","
         "\"Signature\":\"Xui8ZxaiH1IXLGJOTonbzc9lUaoq5HN3e2tPaX7G122R4r9P+"
         "Gbs01gOUsKMjPFiOwdvLT5rQjJw"
         "czb+1F6r6kt4qhU3\",\"Message\":\"{\\\"AlarmName\\\":\\\"disk\\\",\\\"AWSAccountId\\\":"
         "\\\"1234567890\\\",\\\"NewStateValue\\\":\\\"OK\\\",\\\"OldStateValue\\\":"
         "\\\"ALARM\\\",\\\"NewStateReason\\\":\\\"Threshold Crossed: "
         "0.0\\\",\\\"StateChangeTime\\\":"
         "\\\"2024-05-01T10:03:00.000+0000\\\"}\"}\n",
         {"MessageId", "OldStateValue", "NewStateReason", "Signature="},
         "Message_AWSAccountId=\"1234567890\""},
        {"grafana-annotations.json",
         "{\"id\":1201,\"alertId\":12,\"alertName\":\"High CPU\",\"newState\":\"alerting\","
         "\"prevState\":\"ok\",\"created\":1714557600000,\"time\":1714557600000,\"timeEnd\":"
         "1714557600000}\n"
         "{\"id\":1202,\"alertId\":12,\"alertName\":\"High CPU\",\"newState\":\"ok\","
         "\"prevState\":\"alerting\",\"created\":1714557780000,\"time\":1714557780000,\"timeEnd\":"
         "1714557780000}\n",
         {"id=", "prevState", "created", "timeEnd"},
         "alertId=\"12\""},
        {"grafana-legacy.json",
         "{\"ruleName\":\"CPU alert\",\"ruleId\":7,\"state\":\"alerting\",\"title\":"
         "\"[Alerting] CPU alert\",\"evalMatches\":[]}\n"
         "{\"ruleName\":\"CPU alert\",\"ruleId\":7,\"state\":\"ok\",\"title\":\"[OK] CPU alert\","
         "\"evalMatches\":[]}\n",
         {"[Alerting]", "[OK]", NULL, NULL},
         "title=\"CPU alert\""},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        write_text(pairs[i].name, pairs[i].text);
        char cmd[128], *out, *err, fp1[17], fp2[17];
        snprintf(cmd, sizeof cmd, "explain %s", pairs[i].name);
        CHECK_EQ_INT(run(cmd, &out, &err), 0);
        explained_fp(out, 1, fp1);
        explained_fp(out, 2, fp2);
        CHECK(fp1[0] && !strcmp(fp1, fp2));
        CHECK(out && strstr(out, "alert 1: ") && strstr(strstr(out, "alert 1: "), "firing"));
        CHECK(out && strstr(out, "alert 2: ") && strstr(strstr(out, "alert 2: "), "resolved"));
        for (int g = 0; g < 4 && pairs[i].gone[g]; g++) {
            const char *labels = out ? strstr(out, "  labels {") : NULL;
            CHECK(labels && !strstr(labels, pairs[i].gone[g]));
        }
        CHECK(out && strstr(out, pairs[i].kept));
        if (!fp1[0] || strcmp(fp1, fp2)) fprintf(stderr, "%s: %s%s", pairs[i].name, out, err);
        free(out);
        free(err);
    }
}

/* Fields of one packet, flow, process or log line split no incident: an
 * IDS signature on one target over many connections (flow_id, src_port,
 * tx_id, pcap_cnt, flow counters differ per row), Zeek's notices (uid,
 * id.orig_p), Wazuh's alerts (pid in full_log, data.srcport, firedtimes,
 * the event id) are one label set each; what identifies an attack phase
 * (signature, category, target host and port) still splits. Before, each
 * row was a label set of its own. And Pingdom's DOWN and its UP (other
 * probe locations, other descriptions) are one label set: the UP closes
 * the DOWN. */
static void test_per_row_fields(void)
{
    char eve[8192] = "";
    size_t o = 0;
    for (int i = 0; i < 6; i++) {
        /* rows 0-3: one signature on one target; 4: another target; 5:
         * another signature */
        int sid = i == 5 ? 2001219 : 2010935;
        o += (size_t)snprintf(
            eve + o, sizeof eve - o,
            "{\"timestamp\":\"2024-05-01T10:00:%02d.000000+0000\",\"flow_id\":%lld,"
            "\"in_iface\":\"eth0\",\"event_type\":\"alert\",\"src_ip\":\"10.0.0.9\","
            "\"src_port\":%d,\"dest_ip\":\"192.168.1.%d\",\"dest_port\":1433,\"proto\":\"TCP\","
            "\"tx_id\":%d,\"pcap_cnt\":%d,\"alert\":{\"action\":\"allowed\",\"gid\":1,"
            "\"signature_id\":%d,\"rev\":5,\"signature\":\"ET SCAN sig %d\",\"category\":"
            "\"Potentially Bad Traffic\",\"severity\":2},\"flow\":{\"pkts_toserver\":%d,"
            "\"bytes_toserver\":%d,\"start\":\"2024-05-01T10:00:%02d.000000+0000\"}}\n",
            i, 1234567890123456LL + i * 7919, 40000 + i * 13, i == 4 ? 11 : 10, i, 1000 + i, sid,
            sid, 3 + i, 200 + i * 60, i);
    }
    write_text("per-row-eve.json", eve);
    write_text(
        "per-row-notice.log",
        "#separator \\x09\n#path\tnotice\n"
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tnote\tn\n"
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\n"
        "1714557600.1\tCa1b2c3d4\t10.0.0.9\t51022\t192.168.1.10\t22\tSSH::Password_Guessing\t30\n"
        "1714557660.2\tCffee0011\t10.0.0.9\t51877\t192.168.1.10\t22\tSSH::Password_Guessing\t41\n"
        "1714557720.3\tC99887766\t10.0.0.9\t60001\t192.168.1.10\t22\tSSH::Password_Guessing\t57\n");
    write_text(
        "per-row-wazuh.json",
        "{\"timestamp\":\"2024-05-01T10:00:00.000+0000\",\"rule\":{\"level\":5,"
        "\"description\":\"sshd: authentication failed.\",\"id\":\"5716\",\"firedtimes\":1},"
        "\"agent\":{\"id\":\"001\",\"name\":\"web1\"},\"id\":\"1714557600.100\","
        "\"full_log\":\"May  1 10:00:00 web1 sshd[4242]: Failed password for root from "
        "203.0.113.5 port 50111 ssh2\",\"predecoder\":{\"timestamp\":\"May  1 10:00:00\"},"
        "\"data\":{\"srcip\":\"203.0.113.5\",\"srcport\":\"50111\"},\"process\":{\"pid\":4242},"
        "\"event\":{\"id\":\"90210377\"}}\n"
        "{\"timestamp\":\"2024-05-01T10:01:00.000+0000\",\"rule\":{\"level\":5,"
        "\"description\":\"sshd: authentication failed.\",\"id\":\"5716\",\"firedtimes\":2},"
        "\"agent\":{\"id\":\"001\",\"name\":\"web1\"},\"id\":\"1714557660.200\","
        "\"full_log\":\"May  1 10:01:00 web1 sshd[4377]: Failed password for root from "
        "203.0.113.5 port 50999 ssh2\",\"predecoder\":{\"timestamp\":\"May  1 10:01:00\"},"
        "\"data\":{\"srcip\":\"203.0.113.5\",\"srcport\":\"50999\"},\"process\":{\"pid\":4377},"
        "\"event\":{\"id\":\"90210999\"}}\n");
    /* AMiner: the raw log line it quotes holds the line's time */
    write_text(
        "per-row-aminer.json",
        "{\"AnalysisComponent\":{\"AnalysisComponentType\":\"NewMatchPathValueComboDetector\","
        "\"AnalysisComponentName\":\"NewUserAgentDetector\",\"Message\":\"New value\"},"
        "\"LogData\":{\"RawLogData\":[\"10.0.0.9 - - [29/Jul/2020:14:11:10 +0000] \\\"GET / "
        "HTTP/1.1\\\" 200 612\"],\"Timestamps\":[1596031870],\"LogLinesCount\":1}}\n"
        "{\"AnalysisComponent\":{\"AnalysisComponentType\":\"NewMatchPathValueComboDetector\","
        "\"AnalysisComponentName\":\"NewUserAgentDetector\",\"Message\":\"New value\"},"
        "\"LogData\":{\"RawLogData\":[\"10.0.0.9 - - [29/Jul/2020:14:12:10 +0000] \\\"GET /x "
        "HTTP/1.1\\\" 200 612\"],\"Timestamps\":[1596031930],\"LogLinesCount\":1}}\n");
    /* a cron job's runs (run id, attempt, output) and an alarm's
     * notifications (serial, sequence number) */
    write_text("per-row-cron.csv",
               "job,host,result,finished_at,run_id,attempt,output\n"
               "backup,db1,failed,2024-05-01T02:00:00Z,8812,1,rsync error 23 at 02:00:00\n"
               "backup,db1,failed,2024-05-01T02:05:00Z,8813,2,rsync error 12 at 02:05:01\n"
               "backup,db1,success,2024-05-01T02:10:00Z,8814,3,sent 1203 bytes\n");
    write_text("per-row-alarms.csv",
               "Serial,Node,Alarm Name,Perceived Severity,Event Time,Sequence Number\n"
               "100234,ne-1,LOS,critical,2024-05-01 10:00:00,5501\n"
               "100299,ne-1,LOS,critical,2024-05-01 10:03:00,5533\n");
    /* Snort's alert_csv without a header: the packet's own fields (TCP
     * sequence and ack numbers, window, TTL, IP id, lengths; hex or not) */
    write_text("per-row-snort.csv",
               "11/14-22:13:20.123456 ,1,2001219,20,\"ET SCAN Potential SSH Scan\",TCP,10.0.0.9,"
               "51234,192.168.1.10,22,00:11:22:33:44:55,66:77:88:99:AA:BB,0x4A,***AP***,0x1A2B3C4D,"
               "0x5E6F7A8B,,0x1F5,64,0,54321,60,20,,,,\n"
               "11/14-22:13:25.123456 ,1,2001219,20,\"ET SCAN Potential SSH Scan\",TCP,10.0.0.9,"
               "51299,192.168.1.10,22,00:11:22:33:44:55,66:77:88:99:AA:BB,0x4E,***AP***,0x1A2B3CFF,"
               "0x5E6F7AFF,,0x1F6,63,0,54399,64,24,,,,\n");
    static const struct {
        const char *file, *want;
    } cases[] = {
        {"per-row-snort.csv", "2 alerts, 1 fingerprints"},
        {"per-row-cron.csv", "3 alerts, 1 fingerprints"},
        {"per-row-alarms.csv", "2 alerts, 1 fingerprints"},
        {"per-row-eve.json", "6 alerts, 3 fingerprints"},
        {"per-row-aminer.json", "2 alerts, 1 fingerprints"},
        {"per-row-notice.log", "3 alerts, 1 fingerprints"},
        {"per-row-wazuh.json", "2 alerts, 1 fingerprints"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char cmd[256], *out, *err;
        snprintf(cmd, sizeof cmd, "replay %s", cases[i].file);
        CHECK_EQ_INT(run(cmd, &out, &err), 0);
        CHECK(out && strstr(out, cases[i].want));
        if (!out || !strstr(out, cases[i].want))
            fprintf(stderr, "%s: %s%s", cases[i].file, out, err);
        free(out);
        free(err);
    }
    /* the target's port and a server's answering port (under 1024) stay */
    char *out, *err;
    CHECK_EQ_INT(run("explain per-row-eve.json", &out, &err), 0);
    CHECK(out && strstr(out, "dest_port=\"1433\"") && strstr(out, "alert_category=") &&
          !strstr(out, "src_port") && !strstr(out, "flow_id") && !strstr(out, "tx_id") &&
          !strstr(out, "pcap_cnt") && !strstr(out, "flow_bytes"));
    free(out);
    free(err);
    char path[1024];
    if (!CHECK_DATA(path, "payloads/other")) return;
    char cmd[2400], fp1[17], fp2[17];
    /* explain reads one file: the two objects one after the other */
    snprintf(cmd, sizeof cmd, "cat %s/pingdom_down.json %s/pingdom_up.json >%s/pingdom.json", path,
             path, dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(run("explain pingdom.json", &out, &err), 0);
    explained_fp(out, 1, fp1);
    explained_fp(out, 2, fp2);
    CHECK(fp1[0] && !strcmp(fp1, fp2));
    CHECK(out && strstr(out, "check_id=\"803318\"") && !strstr(out, "probe") &&
          !strstr(out, "description="));
    if (!fp1[0] || strcmp(fp1, fp2)) fprintf(stderr, "pingdom: %s%s", out, err);
    free(out);
    free(err);
}

/* CEF (ArcSight's Common Event Format), alone on a line or as a syslog
 * message: named by its header's Name, timed by rt, its severity 0-10
 * read as CEF's bands (10 Very-High: SEV1), its source port, process
 * ids, external id and byte counts no labels. Before, a bare CEF line was
 * "not a syslog line" and a syslog one an alert named by the whole
 * header. */
static void test_cef(void)
{
    write_text("cef.log",
               "Dec  6 15:51:00 fw01 CEF:0|Security|threatmanager|1.0|100|worm successfully "
               "stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=50211 dpt=445 spid=771 externalId=99120045 "
               "in=512 out=90 proto=TCP act=blocked rt=1704448862000\n"
               "<134>Dec  6 15:52:00 fw01 CEF:0|Security|threatmanager|1.0|100|worm successfully "
               "stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=50999 dpt=445 spid=812 externalId=99120977 "
               "in=1500 out=312 proto=TCP act=blocked rt=1704448922000\n"
               "CEF:0|Trend Micro|Deep Security Agent|10.0|4000000|Eicar_test_file|6|cn1=1 "
               "cn1Label=Host ID dvchost=web7 act=Clean rt=Jan 05 2024 10:03:02 fname=eicar.exe\n");
    char *out, *err;
    CHECK_EQ_INT(run("replay cef.log", &out, &err), 0);
    CHECK(out && strstr(out, "3 alerts, 2 fingerprints"));
    CHECK(err && !strstr(err, "not read"));
    free(out);
    free(err);
    CHECK_EQ_INT(run("explain cef.log", &out, &err), 0);
    CHECK(out && strstr(out, "alertname=\"worm successfully stopped\"") &&
          strstr(out, "severity=\"Very-High\"") && strstr(out, "severity=\"Medium\"") &&
          strstr(out, "device_vendor=\"Trend Micro\"") && strstr(out, "dpt=\"445\"") &&
          strstr(out, "evaluated at 2024-01-05T10:01:02") &&
          strstr(out, "evaluated at 2024-01-05T10:03:02"));
    CHECK(out && !strstr(out, "spt=") && !strstr(out, "spid=") && !strstr(out, "externalId=") &&
          !strstr(out, "bytes_in="));
    if (!out || !strstr(out, "severity=\"Very-High\"")) fprintf(stderr, "%s%s", out, err);
    free(out);
    free(err);
}

/* `kubectl get events -o json`: a List whose items are the events (it
 * read as one alert without a name before: its apiVersion and kind are
 * strings, so it was no envelope), without what moves with each write. */
static void test_kubectl_events(void)
{
    write_text(
        "events.json",
        "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"},"
        "\"items\":[{\"kind\":\"Event\",\"count\":3,\"lastTimestamp\":\"2024-05-01T10:00:00Z\","
        "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\",\"uid\":"
        "\"e6a9d681-52a3-492f-ad8a-2b80dc7bf61d\"},\"message\":\"Back-off restarting failed "
        "container\",\"metadata\":{\"resourceVersion\":\"571325\",\"uid\":"
        "\"e082a174-c4f8-48fd-bf8e-51589860bf65\"},\"reason\":\"BackOff\",\"type\":\"Warning\"},"
        "{\"kind\":\"Event\",\"count\":4,\"lastTimestamp\":\"2024-05-01T10:01:00Z\","
        "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\",\"uid\":"
        "\"e6a9d681-52a3-492f-ad8a-2b80dc7bf61d\"},\"message\":\"Back-off restarting failed "
        "container\",\"metadata\":{\"resourceVersion\":\"571390\",\"uid\":"
        "\"e082a174-c4f8-48fd-bf8e-51589860bf65\"},\"reason\":\"BackOff\",\"type\":"
        "\"Warning\"}]}\n");
    char *out, *err, fp1[17], fp2[17];
    CHECK_EQ_INT(run("explain events.json", &out, &err), 0);
    explained_fp(out, 1, fp1);
    explained_fp(out, 2, fp2);
    CHECK(fp1[0] && !strcmp(fp1, fp2) && !strstr(out, "alert 3: "));
    CHECK(out && strstr(out, "alertname=\"Back-off restarting failed container\"") &&
          strstr(out, "involvedObject_name=\"web-1\"") && strstr(out, "reason=\"BackOff\""));
    CHECK(out && !strstr(out, "resourceVersion") && !strstr(out, "count=") && !strstr(out, "uid="));
    if (!fp1[0]) fprintf(stderr, "%s%s", out, err);
    free(out);
    free(err);
}

/* Nagios's log (Icinga's, Naemon's): its SERVICE and HOST ALERT lines
 * are the alerts, OK and UP resolve them; notifications and the log's own
 * lines are counted and skipped; an alert line cut short is reported. It
 * was every line "not decoded (bad_json)" before. */
static void test_nagios_log(void)
{
    write_text("nagios.log",
               "[1701000000] LOG ROTATION: DAILY\n"
               "[1701000000] SERVICE ALERT: web01;HTTP;CRITICAL;SOFT;1;CRITICAL - Socket timeout\n"
               "[1701000060] SERVICE ALERT: web01;HTTP;CRITICAL;HARD;3;CRITICAL - a;b;c\n"
               "[1701000060] SERVICE NOTIFICATION: oncall;web01;HTTP;CRITICAL;notify;CRITICAL\n"
               "[1701000300] SERVICE ALERT: web01;HTTP;OK;HARD;3;HTTP OK: 200 OK\n"
               "[1701000400] HOST ALERT: db02;DOWN;HARD;5;PING CRITICAL - Packet loss = 100%\n"
               "[1701000450] SERVICE ALERT: db02;Disk\n"
               "[1701000500] HOST ALERT: db02;UP;HARD;1;PING OK - Packet loss = 0%\n");
    char *out, *err, fp[6][17];
    CHECK_EQ_INT(run("explain nagios.log", &out, &err), 0);
    for (int k = 1; k <= 5; k++) explained_fp(out, k, fp[k]);
    CHECK(fp[1][0] && !strcmp(fp[1], fp[2]) && !strcmp(fp[1], fp[3]));
    CHECK(fp[4][0] && !strcmp(fp[4], fp[5]) && strcmp(fp[1], fp[4]));
    CHECK(out && !strstr(out, "alert 6: "));
    const char *a3 = out ? strstr(out, "alert 3: ") : NULL,
               *a5 = out ? strstr(out, "alert 5: ") : NULL;
    CHECK(a3 && strstr(a3, "resolved, evaluated at 2023-11-26T12:05:00"));
    CHECK(a5 && strstr(a5, "resolved, evaluated at 2023-11-26T12:08:20"));
    CHECK(out && strstr(out, "{alertname=\"HTTP\", host=\"web01\"}") &&
          strstr(out, "{alertname=\"host\", host=\"db02\"}"));
    CHECK(err && strstr(err, "nagios.log: 2 log lines that are no alert skipped"));
    CHECK(err && strstr(err, "nagios.log:7: not read: not a Nagios log line"));
    if (!a5) fprintf(stderr, "%s%s", out, err);
    free(out);
    free(err);
}

/* A state in front of the name, as Datadog and Alertmanager's chat and
 * mail titles put it: "[Recovered] X" resolves what "[Triggered] X"
 * opened; a bracket that is no state ("[TEST]") stays. */
static void test_state_prefix(void)
{
    write_text("dd.json", "{\"title\":\"[Triggered] [TEST] Disk full\",\"host\":\"db1\","
                          "\"date\":\"1591216985000\"}\n"
                          "{\"title\":\"[Recovered] [TEST] Disk full\",\"host\":\"db1\","
                          "\"date\":\"1591217985000\"}\n"
                          "{\"title\":\"[FIRING:2] KubePodCrashLooping\",\"host\":\"db1\","
                          "\"date\":\"1591218985000\"}\n");
    char *out, *err;
    CHECK_EQ_INT(run("replay dd.json", &out, &err), 0);
    CHECK(out && strstr(out, "3 alerts in, 2 incidents out"));
    CHECK(out && strstr(out, "forwarded: 1 new, 0 repeat, 1 resolved") == NULL &&
          strstr(out, "resolved"));
    free(out);
    free(err);
    CHECK_EQ_INT(run("explain dd.json", &out, &err), 0);
    const char *second = out ? strstr(out, "alert 2: ") : NULL;
    CHECK(second && strstr(second, ", resolved,"));
    CHECK(out && strstr(out, "alertname=\"[TEST] Disk full\""));
    CHECK(out && strstr(out, "alertname=\"KubePodCrashLooping\""));
    CHECK(out && !strstr(out, "[Triggered]") && !strstr(out, "[Recovered]"));
    free(out);
    free(err);
    unlink("dd.json");
}

/* Records of one shape whose values differ in what they can be: the
 * first one's nested "time" is a setting (1), the next ones' a date. The
 * guess a value decided is not reused for the next record of the shape. */
static void test_roles_by_value(void)
{
    write_text("shape.json", "{\"check\":{\"name\":\"Disk\",\"time\":\"1\"},\"host\":\"a\"}\n"
                             "{\"check\":{\"name\":\"Disk\",\"time\":\"2024-03-01T10:00:00Z\"},"
                             "\"host\":\"b\"}\n");
    char *out, *err;
    CHECK_EQ_INT(run("explain shape.json", &out, &err), 0);
    const char *second = out ? strstr(out, "alert 2: ") : NULL;
    CHECK(second && strstr(second, "evaluated at 2024-03-01T10:00:00.000Z"));
    if (!(second && strstr(second, "2024-03-01T10:00:00.000Z"))) fprintf(stderr, "%s", out);
    free(out);
    free(err);
    unlink("shape.json");
}

static void test_vendor_payloads(void)
{
    char root[1024];
    if (!CHECK_DATA(root, "payloads")) return;
    write_text("v.yaml", "# the defaults\n");
    static const char *const dirs[] = {"datadog", "grafana", "other", "pagerduty"};
    int files = 0;
    for (size_t k = 0; k < sizeof dirs / sizeof *dirs; k++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", root, dirs[k]);
        DIR *d = opendir(path);
        CHECK(d != NULL);
        if (!d) continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strstr(de->d_name, ".json")) continue;
            char args[2600], *out, *err;
            snprintf(args, sizeof args, "replay -c v.yaml --format json %s/%s", path, de->d_name);
            CHECK_EQ_INT(run(args, &out, &err), 0);
            unsigned long long in = 0, bad = 0;
            const char *sum = out ? strstr(out, "{\"summary\":{\"alerts_in\":") : NULL;
            const char *de_ = out ? strstr(out, "\"decode_errors\":") : NULL;
            if (sum) sscanf(sum, "{\"summary\":{\"alerts_in\":%llu", &in);
            if (de_) sscanf(de_, "\"decode_errors\":%llu", &bad);
            if (!sum || (in == 0 && !(bad && err && strstr(err, de->d_name))))
                fprintf(stderr, "  %s/%s: in %llu, errors %llu: %s", dirs[k], de->d_name, in, bad,
                        err ? err : "");
            CHECK(sum && (in > 0 || (bad > 0 && err && strstr(err, de->d_name))));
            free(out);
            free(err);
            snprintf(args, sizeof args, "explain -c v.yaml %s/%s", path, de->d_name);
            int rc = run(args, &out, &err);
            CHECK(rc == 0 || rc == 1);
            CHECK(rc == 1 || (out && strstr(out, "alert 1: fingerprint ")));
            CHECK(rc == 0 || (err && strstr(err, de->d_name)));
            free(out);
            free(err);
            files++;
        }
        closedir(d);
    }
    printf("replayed and explained %d vendor payload files\n", files);
    CHECK(files >= 20);
    static const struct {
        const char *file, *want;
    } pinned[] = {
        {"other/pagerduty_alert.json", "replay of 1 input: 2 alerts"},
        {"pagerduty/pd-developer-docs__resolve_event.json", "suppressed by reason:\n    resolved "},
        {"other/pingdom_up.json", "suppressed by reason:\n    resolved "},
        {"grafana/alerta__grafana_alert_ok.json", "suppressed by reason:\n    resolved "},
        {"other/stackdriver_closed.json", "suppressed by reason:\n    resolved "},
        {"other/stackdriver_open.json", "alertname=\"CPU usage\""},
        {"other/new_relic_notification.json", "alertname=\"New Relic Alert - Test Condition\""},
        /* Each event's own time: PagerDuty's payload.timestamp (+0000),
         * Pingdom's state_changed_timestamp, Graylog's triggered_at (not
         * its condition's created_at, nor the "time": 1 of its settings,
         * which read as 1970). */
        {"pagerduty/pd-developer-docs__trigger_event.json", "2015-07-17T08:42:58.315Z new "},
        {"other/pingdom_down.json", "2017-06-30T22:25:43.000Z new "},
        {"other/graylog_notification.json", "2015-09-10T09:45:54.749Z new "},
        /* An SNS notification's Message is the CloudWatch alarm, a JSON
         * document in a string: named by its AlarmName, not by SNS's
         * base64 Signature. */
        {"other/cloudwatch_notification.json", "alertname=\"bucketbytesAlarm\""},
        {"other/cloudwatch_insufficient_data.json", "alertname=\"notificationCountAlarm\""},
    };
    for (size_t i = 0; i < sizeof pinned / sizeof *pinned; i++) {
        char args[1400], *out, *err;
        snprintf(args, sizeof args, "replay -c v.yaml %s/%s", root, pinned[i].file);
        CHECK_EQ_INT(run(args, &out, &err), 0);
        if (!out || !strstr(out, pinned[i].want))
            fprintf(stderr, "  %s: want \"%s\" in:\n%s", pinned[i].file, pinned[i].want,
                    out ? out : "");
        CHECK(out && strstr(out, pinned[i].want));
        free(out);
        free(err);
    }
    char rules[1024];
    if (!CHECK_DATA(rules, "rules/kube-prometheus/nodeExporter-prometheusRule.yaml")) return;
    char args[1200], *out, *err;
    snprintf(args, sizeof args, "replay -c v.yaml %s", rules);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    CHECK(err && strstr(err, "not read: YAML (a rule or config file?)"));
    CHECK(err && strstr(err, "quell replay: no alert read from "));
    free(out);
    free(err);
}

static void test_check_and_explain(void)
{
    char *out, *err;
    write_text("bad-rule.yaml", "exclusions:\n  - name: x\n    matchers: ['a=~\"(\"']\n");
    CHECK_EQ_INT(run("check -c bad-rule.yaml", &out, &err), 1);
    CHECK(strstr(err, "bad-rule.yaml:3:") != NULL);
    free(out);
    free(err);
    write_text("warn.yaml", "exclusions:\n  - name: everything\n    matchers: []\n");
    CHECK_EQ_INT(run("check -c warn.yaml", &out, &err), 0); /* warnings don't fail */
    CHECK(strstr(err, "warn.yaml:3:") != NULL && strstr(err, "matches every alert") != NULL);
    CHECK(strstr(err, "no owner") != NULL && strstr(err, "no end") != NULL);
    free(out);
    free(err);
    write_text("base.yaml", BASE);
    write_text("alert.json", "{\"labels\":{\"alertname\":\"X\",\"cluster\":\"staging-2\","
                             "\"severity\":\"critical\"},\"startsAt\":\"2026-03-01T10:00:00Z\"}");
    CHECK_EQ_INT(run("explain -c base.yaml alert.json", &out, &err), 0);
    CHECK(strstr(out, "fingerprint ") != NULL);
    CHECK(strstr(out, "exclusion staging") != NULL && strstr(out, "ACTIVE now") != NULL);
    CHECK(strstr(out, "severity: SEV1") != NULL);
    CHECK(strstr(out, "suppress (excluded:staging)") != NULL);
    free(out);
    free(err);
    /* With a routing tree: the routes it goes to. */
    char routed[4096];
    snprintf(routed, sizeof routed,
             "%sroute:\n  receiver: all\n  group_by: [alertname]\n  routes:\n"
             "    - matchers: ['severity=\"critical\"']\n      receiver: pager\n"
             "receivers:\n  - {name: all, type: stdout}\n  - {name: pager, type: stdout}\n",
             BASE);
    write_text("routed.yaml", routed);
    CHECK_EQ_INT(run("explain -c routed.yaml alert.json", &out, &err), 0);
    CHECK(out && strstr(out, "-> receiver pager") != NULL);
    if (out && !strstr(out, "-> receiver pager")) fprintf(stderr, "%s%s", out, err ? err : "");
    free(out);
    free(err);
    CHECK_EQ_INT(run("replay -c base.yaml", &out, &err), 2); /* no input */
    free(out);
    free(err);

    /* explain reads what replay reads: a CSV row through --map, a
     * vendor's JSON object with its roles guessed */
    write_text("row.csv", "timestamp,signature,priority,src_ip\n"
                          "2026-03-02T10:00:00Z,ET SCAN Nmap,1,203.0.113.5\n");
    CHECK_EQ_INT(run("explain -c base.yaml --map "
                     "alertname=signature,severity=priority,instance=src_ip,time=timestamp row.csv",
                     &out, &err),
                 0);
    CHECK(out && strstr(out, "evaluated at 2026-03-02T10:00:00.000Z"));
    CHECK(out && strstr(out, "labels {alertname=\"ET SCAN Nmap\", instance=\"203.0.113.5\", "
                             "severity=\"1\"}"));
    if (!out || !strstr(out, "ET SCAN Nmap"))
        fprintf(stderr, "%s%s", out ? out : "", err ? err : "");
    free(out);
    free(err);
    write_text("event.json", "{\"title\": \"[Triggered] Host down\", \"date\": \"1591216985000\","
                             " \"host\": \"web-1\"}");
    CHECK_EQ_INT(run("explain -c base.yaml event.json", &out, &err), 0);
    /* the state in front of the title is the status, not the name */
    CHECK(out && strstr(out, "labels {alertname=\"Host down\", host=\"web-1\"}"));
    CHECK(out && strstr(out, "evaluated at 2020-06-03T20:43:05.000Z"));
    free(out);
    free(err);
    /* a file with no alert in it says so and fails */
    write_text("empty.csv", "timestamp,signature\n");
    CHECK_EQ_INT(run("explain -c base.yaml empty.csv", &out, &err), 1);
    CHECK(err && strstr(err, "empty.csv: no alert in it"));
    free(out);
    free(err);
    /* a webhook payload without alerts is no alert either */
    write_text("nothing.json", "{\"version\": \"4\", \"status\": \"firing\", \"alerts\": []}");
    CHECK_EQ_INT(run("explain -c base.yaml nothing.json", &out, &err), 1);
    CHECK(err && strstr(err, "nothing.json: no alert in it"));
    free(out);
    free(err);
}

/* Replay that read no alert fails (exit 1) and says so on stderr, whether
 * the inputs were empty, not alerts, or a payload without alerts; one
 * input with alerts among empty ones is a replay. */
static void test_nothing_read(void)
{
    char *out, *err;
    write_text("blank.json", "");
    write_text("none.json", "{\"alerts\": []}");
    write_text("prose.txt", "not an alert\n");
    CHECK_EQ_INT(run("replay blank.json", &out, &err), 1);
    CHECK(err && strstr(err, "quell replay: no alert read from blank.json\n"));
    CHECK(out && !*out);
    free(out);
    free(err);
    CHECK_EQ_INT(run("replay --format json blank.json none.json prose.txt", &out, &err), 1);
    CHECK(err && strstr(err, "quell replay: no alert read from any of the inputs"));
    CHECK(out && !*out);
    free(out);
    free(err);
    CHECK_EQ_INT(run("replay - < /dev/null", &out, &err), 1);
    CHECK(err && strstr(err, "quell replay: no alert read from /dev/stdin"));
    free(out);
    free(err);
    write_text("one.json", "{\"labels\": {\"alertname\": \"A\"}, \"startsAt\": "
                           "\"2024-01-01T00:00:00Z\"}\n");
    CHECK_EQ_INT(run("replay blank.json one.json", &out, &err), 0);
    CHECK(out && strstr(out, "1 alerts"));
    free(out);
    free(err);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_determinism_and_json();
    test_candidate_diff();
    test_event_time();
    test_route_window();
    test_inputs_as_suggest();
    test_payloads();
    test_vendor_payloads();
    test_sns_cloudwatch();
    test_alarm_export();
    test_compressed();
    test_prom_api();
    test_incident_rows();
    test_state_prefix();
    test_notification_pairs();
    test_kubectl_events();
    test_per_row_fields();
    test_cef();
    test_nagios_log();
    test_roles_by_value();
    test_check_and_explain();
    test_nothing_read();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return check_summary("test_replay");
}
