/* The public command line as an SRE uses it: exit codes and messages of
 * check, gen, version and bad usage, through the real binary. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char dir[] = "/tmp/quell-cli-XXXXXX";

/* Runs `quell ARGS` with stdout and stderr captured; returns the exit code. */
static int run(const char *args, char **out, char **err)
{
    char cmd[2048], out_path[256], err_path[256];
    snprintf(out_path, sizeof(out_path), "%s/out", dir);
    snprintf(err_path, sizeof(err_path), "%s/err", dir);
    snprintf(cmd, sizeof(cmd), "%s %s >%s 2>%s", getenv("QUELL_BIN"), args, out_path, err_path);
    int status = system(cmd);
    *out = check_read_file(out_path, NULL);
    *err = check_read_file(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_check(void)
{
    char good[256], bad[256], args[600], want[600];
    char *out, *err;
    snprintf(good, sizeof(good), "%s/good.yaml", dir);
    snprintf(bad, sizeof(bad), "%s/bad.yaml", dir);
    write_text(good, "kafka:\n  brokers: k1:9092\ndedup:\n  window: 10m\n");
    write_text(bad, "kafka:\n  brokerz: k1:9092\n");

    snprintf(args, sizeof(args), "check -c %s", good);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    free(out);
    free(err);

    snprintf(args, sizeof(args), "check -c %s", bad);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    snprintf(want, sizeof(want), "%s:2: unknown key \"kafka.brokerz\"", bad);
    CHECK(err && strncmp(err, want, strlen(want)) == 0);
    CHECK(err && strstr(err, "did you mean \"kafka.brokers\"") != NULL);
    free(out);
    free(err);

    /* The routing sections are checked too, with their column. */
    char route[256];
    snprintf(route, sizeof(route), "%s/route.yaml", dir);
    write_text(route, "route:\n  receiver: pager\nreceivers:\n  - {name: oncall, type: stdout}\n");
    snprintf(args, sizeof(args), "check -c %s", route);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    snprintf(want, sizeof(want), "%s:2:13: unknown receiver \"pager\"", route);
    CHECK(err && strncmp(err, want, strlen(want)) == 0);
    free(out);
    free(err);
    /* What `quell run` would refuse at start: a librdkafka property it
     * does not know (with the property's line), a store.url of no scheme. */
    write_text(route, "workers: 1\nkafka:\n  properties:\n    security.protocol: SASL_SSL\n"
                      "    sasl.mechanismz: PLAIN\n");
    snprintf(args, sizeof(args), "check -c %s", route);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    snprintf(want, sizeof(want), "%s:5: kafka.properties.sasl.mechanismz: ", route);
    CHECK(err && strncmp(err, want, strlen(want)) == 0);
    free(out);
    free(err);
    write_text(route, "store:\n  url: redis-1:6379\n");
    CHECK_EQ_INT(run(args, &out, &err), 1);
    snprintf(want, sizeof(want), "%s:2: store.url: \"redis-1:6379\" is neither", route);
    CHECK(err && strncmp(err, want, strlen(want)) == 0);
    free(out);
    free(err);
    /* Files quell writes, in a directory that is not there (or is no
     * directory): refused at load with the key's line, by check and by run
     * (before touching Kafka), not logged at the first snapshot. */
    write_text(route,
               "workers: 1\ndedup:\n  window: 10m\n  snapshot_file: /nonexistent-q/s.snap\n");
    CHECK_EQ_INT(run(args, &out, &err), 1);
    snprintf(want, sizeof(want),
             "%s:4: dedup.snapshot_file: \"/nonexistent-q/s.snap\": directory /nonexistent-q "
             "does not exist\n",
             route);
    CHECK(err && !strcmp(err, want));
    free(out);
    free(err);
    snprintf(args, sizeof(args), "run -c %s --brokers 127.0.0.1:9", route);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    CHECK(err && !strcmp(err, want));
    free(out);
    free(err);
    snprintf(args, sizeof(args), "check -c %s", route);
    write_text(route, "silences:\n  file: /nonexistent-q/silences\n");
    CHECK_EQ_INT(run(args, &out, &err), 1);
    snprintf(want, sizeof(want), "%s:2: silences.file: \"/nonexistent-q/silences\": directory ",
             route);
    CHECK(err && strncmp(err, want, strlen(want)) == 0);
    free(out);
    free(err);
    snprintf(want, sizeof(want), "dedup:\n  snapshot_file: %s/good.yaml/snap\n", dir);
    write_text(route, want);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    CHECK(err && strstr(err, ":2: dedup.snapshot_file: ") && strstr(err, "is not a directory"));
    free(out);
    free(err);
    snprintf(want, sizeof(want), "dedup:\n  snapshot_file: %s\n", dir);
    write_text(route, want);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    CHECK(err && strstr(err, ":2: dedup.snapshot_file: ") &&
          strstr(err, "is a directory, not a file"));
    free(out);
    free(err);
    /* a file not there yet in a directory that is: fine */
    snprintf(want, sizeof(want), "dedup:\n  snapshot_file: %s/later.snap\n", dir);
    write_text(route, want);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    free(out);
    free(err);
    snprintf(want, sizeof(want), "%s:2: unknown key \"kafka.brokerz\"", bad);

    /* `run` refuses the same file before touching Kafka. */
    snprintf(args, sizeof(args), "run -c %s", bad);
    CHECK_EQ_INT(run(args, &out, &err), 1);
    CHECK(err && strncmp(err, want, strlen(want)) == 0);
    free(out);
    free(err);
    unlink(good);
    unlink(bad);
    unlink(route);
}

static void test_gen_and_usage(void)
{
    char *out, *err;
    CHECK_EQ_INT(run("gen --alerts 25 --fingerprints 5", &out, &err), 0);
    int lines = 0;
    for (char *p = out; p && *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 25);
    free(out);
    free(err);

    CHECK_EQ_INT(run("gen --alerts nope", &out, &err), 2);
    CHECK(err && *err);
    free(out);
    free(err);

    CHECK_EQ_INT(run("version", &out, &err), 0);
    CHECK(out && strncmp(out, "quell ", 6) == 0);
    free(out);
    free(err);

    CHECK_EQ_INT(run("frobnicate", &out, &err), 2);
    CHECK(err && strstr(err, "unknown command") != NULL);
    free(out);
    free(err);

    CHECK_EQ_INT(run("config", &out, &err), 0);
    CHECK(out && strstr(out, "| `dedup.window` | duration | `5m` |") != NULL);
    free(out);
    free(err);
}

/* Every command answers --help with its usage on stdout and status 0, as
 * an SRE's first try at a command is; an unknown option is status 2 with
 * the usage on stderr. */
static void test_help(void)
{
    static const char *const cmds[] = {"run", "check", "replay", "explain", "suggest", "top",
                                       "gen", "load",  "bench",  "config",  "version", NULL};
    char args[64], want[64];
    char *out, *err;
    for (int i = 0; cmds[i]; i++) {
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        snprintf(want, sizeof want, "quell %s", cmds[i]);
        CHECK_EQ_INT(run(args, &out, &err), 0);
        CHECK(out && strstr(out, "usage:") && strstr(out, want));
        if (!(out && strstr(out, want))) fprintf(stderr, "  %s --help said: %s\n", cmds[i], err);
        free(out);
        free(err);
    }
    static const char *const strict[] = {"run",     "check",  "replay",  "explain",
                                         "suggest", "config", "version", NULL};
    for (int i = 0; strict[i]; i++) {
        snprintf(args, sizeof args, "%s --frobnicate x", strict[i]);
        CHECK_EQ_INT(run(args, &out, &err), 2);
        CHECK(err && strstr(err, "--frobnicate") && strstr(err, "usage:"));
        free(out);
        free(err);
    }
}

/* replay and explain without -c judge with the defaults, as suggest and
 * run do; "-" is stdin. */
static void test_defaults_and_stdin(void)
{
    char alerts[256], args[700];
    char *out, *err;
    snprintf(alerts, sizeof alerts, "%s/alerts.json", dir);
    write_text(alerts, "{\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"a\"},"
                       "\"receivedAt\":\"2026-01-01T00:00:00Z\"}\n"
                       "{\"labels\":{\"alertname\":\"DiskFull\",\"instance\":\"a\"},"
                       "\"receivedAt\":\"2026-01-01T00:00:10Z\"}\n");
    snprintf(args, sizeof args, "replay %s", alerts);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "2 alerts in, 1 incidents out"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "replay - <%s", alerts);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "2 alerts in, 1 incidents out"));
    free(out);
    free(err);
    CHECK_EQ_INT(run("replay", &out, &err), 2);
    CHECK(err && strstr(err, "no INPUT"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "explain - <%s", alerts);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK(out && strstr(out, "alertname=\"DiskFull\"") && strstr(out, "decision"));
    free(out);
    free(err);
    unlink(alerts);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_check();
    test_gen_and_usage();
    test_help();
    test_defaults_and_stdin();
    rmdir(dir);
    return check_summary("cli");
}
