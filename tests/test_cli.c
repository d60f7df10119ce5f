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
    char good[256], bad[256], args[600], want[300];
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

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_check();
    test_gen_and_usage();
    rmdir(dir);
    return check_summary("cli");
}
