/*
 * Novelty shared through Redis: two `quell run` instances of one consumer
 * group, one Redis (started here), a route with a `file` receiver per
 * instance, novelty on alertname (the default signature). The storm is
 * spread over every partition, so each alertname reaches both instances
 * under different fingerprints. Checked: every alertname notified is
 * marked `novel` on exactly one fingerprint over both instances (without
 * the shared claim, each instance marks its own first one).
 */
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "../bench/bench.h"
#include "check.h"
#include "harness.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "redis_local.h"
#pragma GCC diagnostic pop

typedef struct {
    char name[128];
    uint64_t fp;
    bool novel;
} seen_t;

typedef struct {
    seen_t *v;
    size_t n, cap;
} seen_list_t;

static void read_notifications(const char *path, seen_list_t *out)
{
    char *text = check_read_file(path, NULL);
    for (char *l = text; l && *l;) {
        char *nl = strchr(l, '\n');
        if (nl) *nl = '\0';
        cJSON *j = cJSON_Parse(l);
        const cJSON *alerts = cJSON_GetObjectItem(j, "alerts");
        const cJSON *a;
        cJSON_ArrayForEach(a, alerts)
        {
            const cJSON *labels = cJSON_GetObjectItem(a, "labels");
            const cJSON *name = cJSON_GetObjectItem(labels, "alertname");
            const cJSON *fp = cJSON_GetObjectItem(a, "fingerprint");
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 1024;
                out->v = realloc(out->v, out->cap * sizeof(*out->v));
            }
            seen_t *s = &out->v[out->n++];
            snprintf(s->name, sizeof(s->name), "%s", cJSON_IsString(name) ? name->valuestring : "");
            s->fp = cJSON_IsString(fp) ? strtoull(fp->valuestring, NULL, 16) : 0;
            s->novel = cJSON_IsTrue(cJSON_GetObjectItem(a, "novel"));
        }
        cJSON_Delete(j);
        l = nl ? nl + 1 : NULL;
    }
    free(text);
}

static int cmp_seen(const void *a, const void *b)
{
    const seen_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->fp < y->fp ? -1 : x->fp > y->fp;
}

int main(void)
{
    if (!redis_local_available()) {
        printf("SKIP test_novelty_shared: redis-server not installed\n");
        return 77;
    }
    redis_local_t redis = {0};
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/quell-nov-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    CHECK_EQ_INT(redis_local_start(&redis), 0);
    harness_mock_t kafka;
    CHECK_EQ_INT(harness_mock_start(&kafka, "nv", 4), 0);
    const char *brokers = kafka.brokers;

    const char *names[2] = {"a", "b"};
    char conf[2][160], out[2][160], log[2][160], notes[2][160];
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        snprintf(conf[i], sizeof(conf[i]), "%s/%s.yaml", dir, names[i]);
        snprintf(out[i], sizeof(out[i]), "%s/%s.out", dir, names[i]);
        snprintf(log[i], sizeof(log[i]), "%s/%s.log", dir, names[i]);
        snprintf(notes[i], sizeof(notes[i]), "%s/%s.jsonl", dir, names[i]);
        FILE *f = fopen(conf[i], "w");
        fprintf(f,
                "workers: 2\n"
                "kafka:\n"
                "  brokers: \"%s\"\n"
                "  group_id: nv\n"
                "  topics: [nv-alerts]\n"
                "  output_topic: nv-incidents\n"
                "  dlq_topic: nv-dlq\n"
                "  session_timeout: 6s\n"
                "  commit_interval: 100ms\n"
                "http:\n"
                "  listen: \"\"\n"
                "dedup:\n"
                "  window: 1h\n"
                "  repeat_interval: 24h\n"
                "store:\n"
                "  url: redis://127.0.0.1:%d/0\n"
                "  prefix: \"nv:\"\n"
                "  timeout: 200ms\n"
                "route:\n"
                "  receiver: notes\n"
                "  group_by: [alertname, instance]\n"
                "  group_wait: 200ms\n"
                "  group_interval: 1s\n"
                "receivers:\n"
                "  - name: notes\n"
                "    type: file\n"
                "    path: %s\n",
                brokers, redis.port, notes[i]);
        fclose(f);
        pid[i] = harness_quell_start(conf[i], out[i], log[i]);
    }
    /* Each stage has its own bound inside ctest's, so a slow one says
     * which it was instead of the whole test being killed. */
    const char *logs[] = {log[0], log[1]};
    bool both = harness_wait_files(logs, 2, "assigned 2 partitions", 60000);
    if (!both) fprintf(stderr, "the two instances did not share the partitions within 60 s\n");
    CHECK(both);
    load_opts_t o = {.brokers = brokers,
                     .topic = "nv-alerts",
                     .group = "nv",
                     .output_topic = "nv-incidents",
                     .dlq_topic = "nv-dlq",
                     .rate = 5000,
                     .wait = true,
                     .timeout_s = 60};
    gen_opts_defaults(&o.gen);
    o.gen.alerts = 10000;
    o.gen.fingerprints = 2000;
    o.gen.resolve_share = 0;
    load_result_t res;
    int rc = load_run(&o, &res);
    if (rc) fprintf(stderr, "load: %s\n", res.error);
    CHECK_EQ_INT(rc, 0);
    for (int i = 0; i < 2; i++) CHECK_EQ_INT(harness_quell_stop(pid[i], 20000), 0);

    seen_list_t seen = {0};
    read_notifications(notes[0], &seen);
    size_t from_a = seen.n;
    read_notifications(notes[1], &seen);
    CHECK(from_a > 0 && seen.n > from_a); /* both instances notified */
    /* none read: its array is NULL, which qsort may not be given */
    if (seen.n) qsort(seen.v, seen.n, sizeof(*seen.v), cmp_seen);
    size_t names_n = 0, wrong = 0;
    for (size_t i = 0; i < seen.n;) {
        size_t j = i, novel_fps = 0;
        uint64_t last_fp = 0;
        bool last_novel = false;
        for (; j < seen.n && strcmp(seen.v[j].name, seen.v[i].name) == 0; j++) {
            if (j == i || seen.v[j].fp != last_fp) {
                if (j != i) novel_fps += last_novel;
                last_fp = seen.v[j].fp;
                last_novel = false;
            }
            last_novel |= seen.v[j].novel;
        }
        novel_fps += last_novel;
        names_n++;
        if (novel_fps != 1) {
            wrong++;
            fprintf(stderr, "alertname %s: novel on %zu fingerprints\n", seen.v[i].name, novel_fps);
        }
        i = j;
    }
    CHECK(names_n > 1);
    CHECK_EQ_INT(wrong, 0);
    printf("novelty: %zu alertnames over 2 instances, each novel exactly once: %s\n", names_n,
           wrong ? "no" : "yes");
    free(seen.v);
    harness_mock_stop(&kafka);
    redis_local_stop(&redis);
    harness_dir_done(dir, check_failures > 0);
    return check_summary("novelty shared");
}
