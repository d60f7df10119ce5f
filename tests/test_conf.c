/*
 * Tests for core/conf.c: the defaults, a full valid file, every error class
 * with its exact "FILE:LINE: message", durations, sizes, kafka.properties,
 * lists, the did-you-mean hint and the generated Markdown docs.
 *
 * Each YAML body is written to its own file in a mkdtemp() directory and
 * removed right after loading, so a failed run leaves nothing behind but the
 * directory, which main() removes too.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/core.h"
#include "check.h"

static char tmp_dir[] = "/tmp/quell_test_conf_XXXXXX";
static int tmp_seq;

/* Writes `len` bytes of `body` to a fresh file; its name goes into path. */
static void write_file(const char *body, size_t len, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/conf%03d.yaml", tmp_dir, tmp_seq++);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ_INT(fwrite(body, 1, len, f), len);
    fclose(f);
}

/* Loads `len` bytes of YAML over the defaults; the file is gone afterwards. */
static qerr_t load_bytes(conf_t *c, const char *body, size_t len, char *path, size_t pathlen,
                         char *err, size_t errlen)
{
    write_file(body, len, path, pathlen);
    conf_defaults(c);
    qerr_t rc = conf_load(c, path, err, errlen);
    unlink(path);
    return rc;
}

static qerr_t load_text(conf_t *c, const char *body, char *err, size_t errlen)
{
    char path[256];
    return load_bytes(c, body, strlen(body), path, sizeof(path), err, errlen);
}

/* True when loading `body` fails with QERR_INVALID and "PATH:LINE: <want>",
 * exactly (`exact`) or with <want> anywhere after the prefix. */
static bool fails_bytes(const char *body, size_t len, int line, const char *want, bool exact)
{
    conf_t c;
    char path[256], err[1024], prefix[300];
    qerr_t rc = load_bytes(&c, body, len, path, sizeof(path), err, sizeof(err));
    conf_free(&c);
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
    size_t plen = strlen(prefix);
    bool ok = rc == QERR_INVALID && strncmp(err, prefix, plen) == 0 &&
              (exact ? strcmp(err + plen, want) == 0 : strstr(err + plen, want) != NULL);
    if (!ok)
        fprintf(stderr, "--- body:\n%.*s\n--- rc %d\n got: %s\nwant: %s%s%s\n", (int)len, body,
                (int)rc, err, prefix, exact ? "" : "...", want);
    return ok;
}

static bool fails_with(const char *body, int line, const char *want)
{
    return fails_bytes(body, strlen(body), line, want, true);
}

static bool fails_like(const char *body, int line, const char *want)
{
    return fails_bytes(body, strlen(body), line, want, false);
}

static bool loads_ok(const char *body)
{
    conf_t c;
    char err[1024];
    qerr_t rc = load_text(&c, body, err, sizeof(err));
    conf_free(&c);
    if (rc != QERR_OK) fprintf(stderr, "--- body:\n%s\n--- rc %d: %s\n", body, (int)rc, err);
    return rc == QERR_OK;
}

static void test_defaults(void)
{
    conf_t c;
    conf_defaults(&c);
    CHECK_EQ_INT(c.workers, 0);
    CHECK_EQ_INT(c.ring_bytes, 4 << 20);
    CHECK_EQ_INT(c.log.level, LOG_INFO);
    CHECK_EQ_INT(c.log.format, LOG_FMT_LOGFMT);
    CHECK_EQ_STR(c.kafka.brokers, "embedded");
    CHECK_EQ_STR(c.kafka.group_id, "quell");
    CHECK_EQ_INT(c.kafka.topics.n, 1);
    if (c.kafka.topics.n == 1) CHECK_EQ_STR(c.kafka.topics.items[0], "alerts");
    CHECK_EQ_STR(c.kafka.output_topic, "incidents");
    CHECK_EQ_STR(c.kafka.dlq_topic, "alerts-dlq");
    CHECK_EQ_INT(c.kafka.embedded_partitions, 8);
    CHECK_EQ_INT(c.kafka.session_timeout_ms, 10000);
    CHECK(c.kafka.properties == NULL);
    CHECK_EQ_INT(c.kafka.n_properties, 0);
    CHECK_EQ_INT(c.ingest.max_message_bytes, 1 << 20);
    CHECK_EQ_INT(c.ingest.max_labels, 64);
    CHECK_EQ_INT(c.ingest.max_name_bytes, 256);
    CHECK_EQ_INT(c.ingest.max_value_bytes, 4096);
    CHECK_EQ_INT(c.ingest.max_annotation_bytes, 65536);
    CHECK_EQ_INT(c.dedup.window_ms, 5 * 60 * 1000);
    CHECK_EQ_INT(c.dedup.repeat_interval_ms, 4 * 3600 * 1000);
    CHECK_EQ_INT(c.global.resolve_timeout_ms, 5 * 60 * 1000);
    CHECK_EQ_INT(c.dedup.max_fingerprints, 1000000);
    CHECK_EQ_INT(c.dedup.fingerprint, FP_XXH3);
    CHECK_EQ_INT(c.dedup.fingerprint_labels.n, 0);
    CHECK_EQ_INT(c.dedup.ignore_labels.n, 0);

    /* conf_free leaves the struct zeroed, so a second call is harmless. */
    conf_free(&c);
    CHECK(c.kafka.brokers == NULL && c.kafka.topics.items == NULL && c.kafka.topics.n == 0);
    CHECK_EQ_INT(c.ring_bytes, 0);
    conf_free(&c);
    conf_t zero;
    memset(&zero, 0, sizeof(zero));
    conf_free(&zero);
    conf_free(NULL);
}

static const char full_yaml[] = "# every key set\n"
                                "workers: 4\n"
                                "ring_bytes: 8MiB\n"
                                "log:\n"
                                "  level: debug\n"
                                "  format: json\n"
                                "kafka:\n"
                                "  brokers: \"k1:9092,k2:9092\"\n"
                                "  group_id: quell-test\n"
                                "  topics: [alerts-a, alerts-b]\n"
                                "  output_topic: out\n"
                                "  dlq_topic: dlq\n"
                                "  embedded_partitions: 3\n"
                                "  session_timeout: 45s\n"
                                "  properties:\n"
                                "    security.protocol: SASL_SSL\n"
                                "    enable.idempotence: true\n"
                                "    linger.ms: 5\n"
                                "    \"queue.buffering.max.kbytes\": '1024'\n"
                                "    some.ratio: 0.50\n"
                                "    client.id: |-\n"
                                "      multi\n"
                                "      line\n"
                                "ingest:\n"
                                "  max_message_bytes: 2MiB\n"
                                "  max_labels: 32\n"
                                "  max_name_bytes: 128\n"
                                "  max_value_bytes: 1KiB\n"
                                "  max_annotation_bytes: 8KiB\n"
                                "dedup:\n"
                                "  window: 1h30m\n"
                                "  repeat_interval: 1d\n"
                                "  max_fingerprints: 5000\n"
                                "  fingerprint: alertmanager\n"
                                "  fingerprint_labels:\n"
                                "    - alertname\n"
                                "    - cluster\n"
                                "  ignore_labels: []\n";

static void test_full_file(void)
{
    conf_t c;
    char err[1024] = "";
    CHECK_EQ_INT(load_text(&c, full_yaml, err, sizeof(err)), QERR_OK);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_INT(c.workers, 4);
    CHECK_EQ_INT(c.ring_bytes, 8 << 20);
    CHECK_EQ_INT(c.log.level, LOG_DEBUG);
    CHECK_EQ_INT(c.log.format, LOG_FMT_JSON);
    CHECK_EQ_STR(c.kafka.brokers, "k1:9092,k2:9092");
    CHECK_EQ_STR(c.kafka.group_id, "quell-test");
    CHECK_EQ_INT(c.kafka.topics.n, 2); /* replaces the default, not appended */
    if (c.kafka.topics.n == 2) {
        CHECK_EQ_STR(c.kafka.topics.items[0], "alerts-a");
        CHECK_EQ_STR(c.kafka.topics.items[1], "alerts-b");
    }
    CHECK_EQ_STR(c.kafka.output_topic, "out");
    CHECK_EQ_STR(c.kafka.dlq_topic, "dlq");
    CHECK_EQ_INT(c.kafka.embedded_partitions, 3);
    CHECK_EQ_INT(c.kafka.session_timeout_ms, 45000);
    CHECK_EQ_INT(c.ingest.max_message_bytes, 2 << 20);
    CHECK_EQ_INT(c.ingest.max_labels, 32);
    CHECK_EQ_INT(c.ingest.max_name_bytes, 128);
    CHECK_EQ_INT(c.ingest.max_value_bytes, 1024);
    CHECK_EQ_INT(c.ingest.max_annotation_bytes, 8192);
    CHECK_EQ_INT(c.dedup.window_ms, 90 * 60 * 1000);
    CHECK_EQ_INT(c.dedup.repeat_interval_ms, 86400000);
    CHECK_EQ_INT(c.dedup.max_fingerprints, 5000);
    CHECK_EQ_INT(c.dedup.fingerprint, FP_ALERTMANAGER);
    CHECK_EQ_INT(c.dedup.fingerprint_labels.n, 2);
    if (c.dedup.fingerprint_labels.n == 2) {
        CHECK_EQ_STR(c.dedup.fingerprint_labels.items[0], "alertname");
        CHECK_EQ_STR(c.dedup.fingerprint_labels.items[1], "cluster");
    }
    CHECK_EQ_INT(c.dedup.ignore_labels.n, 0);

    /* kafka.properties: names with dots kept whole, values as written. */
    static const char *const want[][2] = {
        {"security.protocol", "SASL_SSL"},
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"queue.buffering.max.kbytes", "1024"},
        {"some.ratio", "0.50"},
        {"client.id", "multi\nline"},
    };
    size_t n_want = sizeof(want) / sizeof(want[0]);
    CHECK_EQ_INT(c.kafka.n_properties, n_want);
    for (size_t i = 0; i < n_want && i < c.kafka.n_properties; i++) {
        CHECK_EQ_STR(c.kafka.properties[i].key, want[i][0]);
        CHECK_EQ_STR(c.kafka.properties[i].value, want[i][1]);
    }
    conf_free(&c);
}

static void test_lists_and_maps(void)
{
    conf_t c;
    char err[1024];
    /* Block lists, anchors and aliases, an empty map and a section left empty. */
    CHECK_EQ_INT(load_text(&c,
                           "log:\n"
                           "kafka:\n"
                           "  topics: &t\n"
                           "    - one\n"
                           "    - 'two'\n"
                           "  properties: {}\n"
                           "dedup:\n"
                           "  ignore_labels: *t\n",
                           err, sizeof(err)),
                 QERR_OK);
    CHECK_EQ_INT(c.log.level, LOG_INFO);
    CHECK_EQ_INT(c.kafka.topics.n, 2);
    CHECK_EQ_INT(c.dedup.ignore_labels.n, 2);
    if (c.dedup.ignore_labels.n == 2) CHECK_EQ_STR(c.dedup.ignore_labels.items[1], "two");
    CHECK_EQ_INT(c.kafka.n_properties, 0);
    conf_free(&c);

    /* A null list is an empty one; both label lists may be named if one is empty. */
    CHECK(loads_ok("dedup:\n  fingerprint_labels:\n  ignore_labels: [a]\n"));
    CHECK(loads_ok("dedup:\n  fingerprint_labels: [a]\n  ignore_labels: []\n"));
    CHECK(loads_ok("kafka:\n  properties:\n"));
    CHECK(fails_with("kafka:\n  topics: []\n", 2, "kafka.topics: needs at least 1 item"));
    CHECK(fails_with("kafka:\n  topics:\n", 2, "kafka.topics: needs at least 1 item"));
    CHECK(fails_with("kafka:\n  topics: [a, \"\"]\n", 2, "kafka.topics item: must not be empty"));
    CHECK(fails_with("kafka:\n  topics:\n    - a\n    -\n", 4, "kafka.topics item: missing value"));
    CHECK(fails_with("kafka:\n  topics:\n    - a\n    - {x: 1}\n", 4,
                     "kafka.topics item: expected a string, got a mapping"));
    CHECK(fails_with("kafka:\n  topics: alerts\n", 2,
                     "kafka.topics: expected a list of strings, got a scalar"));
    CHECK(fails_with("kafka:\n  properties: [a]\n", 2,
                     "kafka.properties: expected a mapping of names to values, got a list"));
    CHECK(fails_with("kafka:\n  properties:\n    acks: [1]\n", 3,
                     "kafka.properties.acks: expected a scalar value, got a list"));
    CHECK(fails_with("kafka:\n  properties:\n    acks:\n", 3,
                     "kafka.properties.acks: missing value"));
    CHECK(fails_with("kafka:\n  properties:\n    acks: all\n    linger.ms: 5\n    acks: 1\n", 5,
                     "duplicate key \"kafka.properties.acks\""));

    /* The property count is bounded (it guards a quadratic duplicate check). */
    size_t cap = 64 + 1025 * 24;
    char *big = malloc(cap);
    CHECK(big != NULL);
    if (big) {
        size_t pos = (size_t)snprintf(big, cap, "kafka:\n  properties:\n");
        for (int i = 0; i < 1025; i++)
            pos += (size_t)snprintf(big + pos, cap - pos, "    p%d: %d\n", i, i);
        CHECK(fails_with(big, 3, "kafka.properties: has more than 1024 entries"));
        free(big);
    }
}

static void test_errors(void)
{
    /* Unknown keys, with the line of the key, deep in a file too. */
    CHECK(fails_with("workerz: 4\n", 1, "unknown key \"workerz\" (did you mean \"workers\"?)"));
    CHECK(fails_with("workers: 2\n"
                     "log:\n"
                     "  level: info\n"
                     "kafka:\n"
                     "  brokers: a:9092\n"
                     "  topics:\n"
                     "    - a\n"
                     "    - b\n"
                     "  properties:\n"
                     "    acks: all\n"
                     "\n"
                     "  # a comment\n"
                     "  session_timeout: 30s\n"
                     "  brokerz: b\n"
                     "dedup:\n"
                     "  window: 1m\n",
                     14, "unknown key \"kafka.brokerz\" (did you mean \"kafka.brokers\"?)"));
    CHECK(fails_with("colour: blue\n", 1, "unknown key \"colour\""));
    /* a Prometheus rule file given as the config says what it looks like */
    CHECK(fails_like("groups:\n  - name: node\n    rules: []\n", 1,
                     "unknown key \"groups\" (a Prometheus rule file?"));
    CHECK(fails_with("log:\n  brokers: x\n", 2, "unknown key \"log.brokers\""));

    /* Wrong types. */
    CHECK(fails_with("workers: [1, 2]\n", 1, "workers: expected an integer, got a list"));
    CHECK(fails_with("workers: abc\n", 1, "workers: \"abc\" is not an integer"));
    CHECK(fails_with("workers: 1.5\n", 1, "workers: \"1.5\" is not an integer"));
    CHECK(fails_with("workers: 99999999999999999999\n", 1,
                     "workers: \"99999999999999999999\" is not an integer"));
    CHECK(fails_with("kafka: 3\n", 1, "kafka: expected a mapping of keys, got a scalar"));
    CHECK(fails_with("kafka:\n  brokers: {a: b}\n", 2,
                     "kafka.brokers: expected a string, got a mapping"));
    CHECK(fails_with("log:\n  level: [info]\n", 2,
                     "log.level: expected one of: error, warn, info, debug, got a list"));
    CHECK(fails_with("? [a, b]\n: 1\n", 1, "key: expected a string as key, got a list"));

    /* Bounds, in the key's own unit. */
    CHECK(fails_with("workers: 257\n", 1, "workers: 257 is out of range 0..256"));
    CHECK(fails_with("workers: -1\n", 1, "workers: -1 is out of range 0..256"));
    CHECK(fails_with("ring_bytes: 32KiB\n", 1, "ring_bytes: 32KiB is out of range 64KiB..1GiB"));
    CHECK(fails_with("ring_bytes: 2GiB\n", 1, "ring_bytes: 2GiB is out of range 64KiB..1GiB"));
    CHECK(fails_with("kafka:\n  session_timeout: 10m\n", 2,
                     "kafka.session_timeout: 10m is out of range 1s..5m"));
    CHECK(fails_with("kafka:\n  embedded_partitions: 0\n", 2,
                     "kafka.embedded_partitions: 0 is out of range 1..256"));
    CHECK(fails_with("ingest:\n  max_labels: 1025\n", 2,
                     "ingest.max_labels: 1025 is out of range 1..1024"));
    CHECK(fails_with("dedup:\n  window: 0\n", 2, "dedup.window: 0 is out of range 1s..30d"));
    /* y as Prometheus reads it (365d), within a key's range or not */
    CHECK(loads_ok("dedup:\n  repeat_interval: 1y\n"));
    CHECK(loads_ok("silences:\n  retention: 1w2d\n"));
    CHECK(fails_with("dedup:\n  window: 1y\n", 2, "dedup.window: 1y is out of range 1s..30d"));
    CHECK(fails_like("dedup:\n  window: 1d1w\n", 2, "dedup.window: \"1d1w\" is not a duration"));
    CHECK(fails_with("global:\n  resolve_timeout: 0s\n", 2,
                     "global.resolve_timeout: 0s is out of range 10ms..365d"));
    CHECK(fails_like("global:\n  resolve_timeout: soon\n", 2, "global.resolve_timeout"));
    CHECK(fails_like("global:\n  resolve_timout: 5m\n", 2, "global.resolve_timeout"));
    CHECK(fails_with("dedup:\n  repeat_interval: 366d\n", 2,
                     "dedup.repeat_interval: 366d is out of range 1s..365d"));
    CHECK(fails_with("dedup:\n  max_fingerprints: 1000000001\n", 2,
                     "dedup.max_fingerprints: 1000000001 is out of range 1..1000000000"));

    /* Enums list the allowed values. */
    CHECK(fails_with("log:\n  level: verbose\n", 2,
                     "log.level: \"verbose\" is not one of: error, warn, info, debug"));
    CHECK(fails_with("log:\n  format: text\n", 2,
                     "log.format: \"text\" is not one of: logfmt, json"));
    CHECK(fails_with("dedup:\n  fingerprint: md5\n", 2,
                     "dedup.fingerprint: \"md5\" is not one of: xxh3, alertmanager"));

    /* Durations and sizes. */
    CHECK(fails_with("kafka:\n  session_timeout: 30\n", 2,
                     "kafka.session_timeout: \"30\" is not a duration (a number with a unit ms, "
                     "s, m, h, d, w or y, e.g. 30s or 1h30m)"));
    CHECK(fails_with("ring_bytes: 4MB\n", 1,
                     "ring_bytes: \"4MB\" is not a size (bytes, or a number with KiB, MiB or GiB, "
                     "e.g. 4MiB)"));

    /* Duplicates: the line of the second one, at any depth. */
    CHECK(fails_with("workers: 1\nworkers: 2\n", 2, "duplicate key \"workers\""));
    CHECK(fails_with("kafka:\n  brokers: a\n  group_id: g\n  brokers: b\n", 4,
                     "duplicate key \"kafka.brokers\""));
    CHECK(fails_with("kafka:\n  brokers: a\nlog:\n  level: info\nkafka:\n  group_id: g\n", 5,
                     "duplicate key \"kafka\""));

    /* Values that are missing, empty or hold a NUL. */
    CHECK(fails_with("kafka:\n  brokers:\n", 2, "kafka.brokers: missing value"));
    CHECK(fails_with("workers: ~\n", 1, "workers: missing value"));
    CHECK(fails_with("kafka:\n  group_id: \"\"\n", 2, "kafka.group_id: must not be empty"));
    CHECK(
        fails_with("kafka:\n  brokers: \"a\\0b\"\n", 2, "kafka.brokers: contains a NUL character"));

    /* Rules between keys: the line of the later key. */
    CHECK(fails_with("dedup:\n  fingerprint_labels: [a]\n  window: 1m\n  ignore_labels: [b]\n", 4,
                     "dedup.fingerprint_labels and dedup.ignore_labels cannot both be set "
                     "(fingerprint_labels already names every label used)"));
    CHECK(fails_like("dedup:\n  ignore_labels: [b]\n  fingerprint_labels: [a]\n", 3,
                     "cannot both be set"));
    CHECK(fails_like("mute_time_intervals:\n  - name: off\n", 1,
                     "Alertmanager's older name for time_intervals: rename it"));
    /* http.listen: `quell check` refuses what `quell run` cannot bind. */
    CHECK(fails_like("http:\n  listen: 9095\n", 2, "http.listen: \"9095\" is not host:port"));
    CHECK(fails_like("workers: 1\nhttp:\n  listen: \"localhost:abc\"\n", 3, "is not host:port"));
    CHECK(fails_like("http:\n  listen: \"[::1]9095\"\n", 2, "is not host:port"));
    CHECK(fails_like("http:\n  listen: \"0.0.0.0:70000\"\n", 2, "is not host:port"));
    CHECK(loads_ok("http:\n  listen: \"[::1]:9095\"\n"));
    CHECK(loads_ok("http:\n  listen: \":9095\"\n"));
    CHECK(loads_ok("http:\n  listen: \"\"\n"));

    /* Shapes: dotted keys, a non-map top level, several documents. */
    CHECK(fails_with("kafka.brokers: x\n", 1,
                     "dotted key \"kafka.brokers\": nest it instead (\"kafka:\" then "
                     "\"brokers:\")"));
    CHECK(fails_with("- a\n- b\n", 1, "the top level must be a mapping of keys, got a list"));
    CHECK(fails_with("# comment\n\njust text\n", 3,
                     "the top level must be a mapping of keys, got a scalar"));
    CHECK(fails_with("workers: 1\n---\nworkers: 2\n", 2, "only one YAML document is allowed"));

    /* YAML syntax errors: libyaml's words, our FILE:LINE. */
    CHECK(fails_like("workers: 4\nkafka:\n\tbrokers: x\n", 3, "YAML syntax error: "));
    CHECK(fails_like("workers: 4\nkafka:\n  topics: [a\nlog:\n  level: info\n", 4,
                     "YAML syntax error: "));
    CHECK(fails_like("workers: 4\nkafka\n  brokers: x\n", 3, "at line 2)"));
    CHECK(fails_like("workers: 4\nkafka: *nope\n", 2, "YAML syntax error: "));
    CHECK(fails_like("workers: 4\n\nkafka:\n  brokers: \"a\xff\"\n", 4, "UTF-8"));

    /* The first error wins. */
    CHECK(fails_with("workers: 1000\nlog:\n  level: loud\n", 1,
                     "workers: 1000 is out of range 0..256"));

    /* Too large to be a config file. */
    size_t big_len = (1 << 20) + 10;
    char *big = malloc(big_len);
    CHECK(big != NULL);
    if (big) {
        memset(big, '#', big_len);
        CHECK(fails_bytes(big, big_len, 1, "larger than 1048576 bytes; is this the config file?",
                          true));
        free(big);
    }
}

static void test_empty_and_missing(void)
{
    CHECK(loads_ok(""));
    CHECK(loads_ok("# only a comment\n\n"));
    CHECK(loads_ok("---\n"));
    CHECK(loads_ok("~\n"));
    CHECK(loads_ok("kafka:\nlog: ~\n"));

    conf_t c;
    char err[512], path[300];
    conf_defaults(&c);
    snprintf(path, sizeof(path), "%s/missing.yaml", tmp_dir);
    CHECK_EQ_INT(conf_load(&c, path, err, sizeof(err)), QERR_IO);
    CHECK(strncmp(err, path, strlen(path)) == 0 && strstr(err, ": No such file") != NULL);
    CHECK_EQ_STR(c.kafka.brokers, "embedded");
    conf_free(&c);

    /* A failed load keeps what was read before the error, and frees. */
    CHECK_EQ_INT(
        load_text(&c, "workers: 7\nkafka:\n  brokers: x\n  topics: []\n", err, sizeof(err)),
        QERR_INVALID);
    CHECK_EQ_INT(c.workers, 7);
    CHECK_EQ_STR(c.kafka.brokers, "x");
    CHECK_EQ_INT(c.kafka.topics.n, 1);
    CHECK_EQ_STR(c.kafka.group_id, "quell");
    conf_free(&c);

    /* A NULL errbuf is allowed. */
    char p2[256];
    conf_defaults(&c);
    write_file("workers: x\n", 11, p2, sizeof(p2));
    CHECK_EQ_INT(conf_load(&c, p2, NULL, 0), QERR_INVALID);
    unlink(p2);
    conf_free(&c);
}

static void test_durations(void)
{
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"0", 0},
        {"0s", 0},
        {"250ms", 250},
        {"30s", 30000},
        {"90s", 90000},
        {"5m", 300000},
        {"4h", 14400000},
        {"1d", 86400000},
        {"1w", 604800000},
        {"1h30m", 5400000},
        {"1d12h", 129600000},
        {"1m30s500ms", 90500},
        {"1w2d3h4m5s6ms", 788645006},
        {"007s", 7000},
        /* y, and any combination from largest to smallest unit, as
         * Prometheus' model.ParseDuration reads them */
        {"1y", 31536000000},
        {"1y2w", 32745600000},
        {"2y1d", 63158400000},
        {"1y1w1d1h1m1s1ms", 32230861001},
        {"0y0s", 0},
        /* the most Go's time.Duration holds (2^63-1 ns), in whole ms */
        {"9223372036854ms", 9223372036854},
        {"292y", 9208512000000},
        {"106751d23h47m16s854ms", 9223372036854},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ms = -1;
        qerr_t rc = conf_parse_duration_ms(good[i].text, &ms);
        if (rc != QERR_OK || ms != good[i].ms)
            fprintf(stderr, "duration \"%s\": rc %d, %" PRId64 " ms\n", good[i].text, (int)rc, ms);
        CHECK_EQ_INT(rc, QERR_OK);
        CHECK_EQ_INT(ms, good[i].ms);
    }
    static const char *const bad[] = {
        "",
        "10",
        "1",
        "00",
        "1x",
        "h",
        "ms",
        "1h30",
        "30m1h",
        "1h1h",
        "1s1m",
        "1ms1s",
        "-1s",
        "+1s",
        " 1s",
        "1s ",
        "1.5h",
        "1H",
        "1 s",
        "1Y",
        "1sm",
        "1hm",
        "1ms5",
        "1s1y",
        "1y1y",
        "1d1w",
        "1yr",
        "1 y",
        "-1y",
        /* over 2^63-1 ns, as Prometheus refuses ("duration out of range") */
        "9223372036855ms",
        "293y",
        "106752d",
        "106751d23h47m16s855ms",
        "9223372036854775807ms",
        "9223372036854775808ms",
        "9223372036854776s",
        "15250284453w",
        "15250284452w1w",
        "9223372036854775807ms1ms",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 42;
        qerr_t rc = conf_parse_duration_ms(bad[i], &ms);
        if (rc != QERR_INVALID) fprintf(stderr, "duration \"%s\" accepted\n", bad[i]);
        CHECK_EQ_INT(rc, QERR_INVALID);
        CHECK_EQ_INT(ms, 42); /* untouched on error */
    }
    int64_t ms;
    CHECK_EQ_INT(conf_parse_duration_ms(NULL, &ms), QERR_INVALID);
}

static void test_sizes(void)
{
    static const struct {
        const char *text;
        size_t bytes;
    } good[] = {
        {"65536", 65536},  {"64KiB", 65536},     {"3MiB", 3 << 20},
        {"1GiB", 1 << 30}, {"1048576", 1 << 20},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        conf_t c;
        char body[64], err[512];
        snprintf(body, sizeof(body), "ring_bytes: %s\n", good[i].text);
        CHECK_EQ_INT(load_text(&c, body, err, sizeof(err)), QERR_OK);
        CHECK_EQ_INT(c.ring_bytes, good[i].bytes);
        conf_free(&c);
    }
    static const char *const bad[] = {"4MB", "4 MiB", "1.5MiB", "4mib",
                                      "-1",  "MiB",   "4M",     "99999999999GiB"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[64];
        snprintf(body, sizeof(body), "ring_bytes: %s\n", bad[i]);
        CHECK(fails_like(body, 1, "is not a size"));
    }
}

static void test_did_you_mean(void)
{
    static const char *const cases[][3] = {
        /* YAML, unknown name, suggestion ("" = none) */
        {"dedup:\n  windw: 1m\n", "dedup.windw", "dedup.window"},
        {"log:\n  levle: info\n", "log.levle", "log.level"},
        {"kafka:\n  topic: [a]\n", "kafka.topic", "kafka.topics"},
        {"injest:\n  max_labels: 3\n", "injest", "ingest"},
        {"lgo:\n  level: info\n", "lgo", "log"},
        {"worker: 3\n", "worker", "workers"},
        {"foo: 1\n", "foo", ""},
        {"dedup:\n  fingerprints: xxh3\n", "dedup.fingerprints", "dedup.fingerprint"},
        {"dedup:\n  max_fingerprint: 3\n", "dedup.max_fingerprint", "dedup.max_fingerprints"},
        {"kafka:\n  zookeeper: x\n", "kafka.zookeeper", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[256];
        int line = strchr(cases[i][1], '.') ? 2 : 1;
        if (*cases[i][2])
            snprintf(want, sizeof(want), "unknown key \"%s\" (did you mean \"%s\"?)", cases[i][1],
                     cases[i][2]);
        else
            snprintf(want, sizeof(want), "unknown key \"%s\"", cases[i][1]);
        CHECK(fails_with(cases[i][0], line, want));
    }
}

static void test_print_doc(void)
{
    static const char *const keys[] = {
        "workers",
        "ring_bytes",
        "sched_slice_us",
        "log.level",
        "log.format",
        "kafka.brokers",
        "kafka.group_id",
        "kafka.topics",
        "kafka.output_topic",
        "kafka.dlq_topic",
        "kafka.embedded_partitions",
        "kafka.session_timeout",
        "kafka.commit_interval",
        "kafka.properties",
        "ingest.threads",
        "ingest.max_message_bytes",
        "ingest.max_labels",
        "ingest.max_name_bytes",
        "ingest.max_value_bytes",
        "ingest.max_annotation_bytes",
        "dedup.window",
        "dedup.repeat_interval",
        "dedup.max_fingerprints",
        "dedup.fingerprint",
        "dedup.fingerprint_labels",
        "dedup.ignore_labels",
        "dedup.snapshot_file",
        "dedup.snapshot_interval",
        "global.resolve_timeout",
        "store.url",
        "store.prefix",
        "store.timeout",
        "store.on_error",
        "store.lease",
        "store.batch",
        "store.cache",
        "store.cache_entries",
        "store.password_file",
        "store.sentinels",
        "store.master_name",
        "store.sentinel_password_file",
        "http.listen",
        "http.auth_token_file",
        "http.max_request_bytes",
        "http.max_alerts",
        "silences.file",
        "silences.retention",
        "decisions.topic",
        "decisions.recent",
        "decisions.open",
        "exclusions",
        "noise",
        "inhibit_rules",
        "severity",
        "time_intervals",
        "grouping",
        "route",
        "receivers",
        "runbooks",
        "novelty",
        "urgency",
    };
    const size_t n_keys = sizeof(keys) / sizeof(keys[0]);
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    CHECK(f != NULL);
    if (!f) return;
    conf_print_doc(f);
    fclose(f);

    CHECK(strncmp(doc, "| key | type | default | description |\n|---|---|---|---|\n", 56) == 0);
    for (size_t i = 0; i < n_keys; i++) {
        char cell[80];
        snprintf(cell, sizeof(cell), "\n| `%s` | ", keys[i]);
        if (!strstr(doc, cell)) fprintf(stderr, "doc lacks %s\n", keys[i]);
        CHECK(strstr(doc, cell) != NULL);
    }
    /* One row per key, and every row has exactly four cells (an unescaped
     * '|' in a description would break the table). */
    size_t rows = 0;
    for (char *line = doc; *line;) {
        char *nl = strchr(line, '\n');
        size_t bars = 0;
        for (char *p = line; p < nl; p++) bars += (*p == '|');
        CHECK_EQ_INT(bars, 5);
        rows++;
        line = nl + 1;
    }
    CHECK_EQ_INT(rows, n_keys + 2);
    /* Types, defaults and bounds come from the same table. */
    CHECK(strstr(doc, "| `ring_bytes` | size | `4MiB` | ") != NULL);
    CHECK(strstr(doc, "Range 64KiB..1GiB.") != NULL);
    CHECK(strstr(doc, "| `kafka.topics` | string list | `[alerts]` | ") != NULL);
    CHECK(strstr(doc, "| `kafka.properties` | string map | `{}` | ") != NULL);
    CHECK(strstr(doc, "| `kafka.session_timeout` | duration | `10s` | ") != NULL);
    CHECK(strstr(doc, "One of `error`, `warn`, `info`, `debug`.") != NULL);
    CHECK(strstr(doc, "| `dedup.fingerprint_labels` | string list | `[]` | ") != NULL);
    free(doc);
}

/* Hostile YAML is refused quickly instead of keeping libyaml busy. */
static void test_input_limits(void)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "workers: ");
    for (int i = 0; i < 33; i++) body[n++] = '[';
    for (int i = 0; i < 33; i++) body[n++] = ']';
    body[n++] = '\n';
    CHECK(fails_bytes(body, (size_t)n, 1, "YAML nested deeper than 32 levels", false));

    size_t cap = 4096, len = 0;
    char *many = malloc(cap);
    len += (size_t)snprintf(many + len, cap - len, "kafka:\n  properties:\n");
    for (int i = 0; i < 101; i++)
        len += (size_t)snprintf(many + len, cap - len, "    k%d: &a%d v\n", i, i);
    /* Two header lines, then the 101st anchor is on line 103. */
    CHECK(fails_bytes(many, len, 103, "more than 100 YAML anchors", false));
    free(many);
}

/* Structured sections are kept as trees with positions for their modules. */
static void test_trees(void)
{
    conf_t c;
    char err[1024];
    const char *body = "route:\n"
                       "  receiver: pager\n"
                       "  routes:\n"
                       "    - matchers: ['team=\"db\"']\n"
                       "      continue: true\n"
                       "    - {receiver: x, group_by: []}\n"
                       "exclusions: &ex\n"
                       "  - name: \"null\"\n"
                       "    matchers: null\n"
                       "receivers: *ex\n";
    CHECK_EQ_INT(load_text(&c, body, err, sizeof(err)), QERR_OK);
    CHECK(c.route && c.route->kind == CONF_NODE_MAP && c.route->n == 2);
    CHECK(c.noise == NULL && c.urgency == NULL);
    const conf_node_t *recv = conf_node_get(c.route, "receiver");
    CHECK(recv && recv->kind == CONF_NODE_SCALAR && !strcmp(recv->text, "pager"));
    CHECK(recv && recv->line == 2 && recv->col == 13);
    CHECK(conf_node_get(c.route, "nope") == NULL && conf_node_get(recv, "x") == NULL);
    const conf_node_t *routes = conf_node_get(c.route, "routes");
    CHECK(routes && routes->kind == CONF_NODE_SEQ && routes->n == 2);
    if (routes && routes->n == 2) {
        const conf_node_t *m = conf_node_get(&routes->items[0], "matchers");
        CHECK(m && m->kind == CONF_NODE_SEQ && m->n == 1 && m->items[0].quoted &&
              !strcmp(m->items[0].text, "team=\"db\""));
        CHECK(m && m->line == 4 && m->col == 17);
        const conf_node_t *gb = conf_node_get(&routes->items[1], "group_by");
        CHECK(gb && gb->kind == CONF_NODE_SEQ && gb->n == 0);
        CHECK(!strcmp(conf_node_key(&routes->items[1], 0)->text, "receiver"));
    }
    /* The alias is a copy with the anchor's positions; quoted "null" is text. */
    CHECK(c.receivers && c.receivers->kind == CONF_NODE_SEQ && c.receivers->n == 1);
    if (c.exclusions && c.exclusions->n == 1) {
        const conf_node_t *name = conf_node_get(&c.exclusions->items[0], "name");
        const conf_node_t *m = conf_node_get(&c.exclusions->items[0], "matchers");
        CHECK(name && name->kind == CONF_NODE_SCALAR && !strcmp(name->text, "null"));
        CHECK(m && m->kind == CONF_NODE_NULL && !strcmp(m->text, ""));
    }
    CHECK(c.path && strstr(c.path, ".yaml"));
    conf_free(&c);

    CHECK(fails_with("route:\n  receiver: a\n  receiver: b\n", 3, "duplicate key \"receiver\""));
    /* Aliases may not expand without bound. */
    char big[4096];
    size_t pos =
        (size_t)snprintf(big, sizeof(big), "route:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 0; i < 7; i++)
        pos += (size_t)snprintf(big + pos, sizeof(big) - pos,
                                "  %c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n",
                                'b' + i, 'b' + i, 'a' + i, 'a' + i, 'a' + i, 'a' + i, 'a' + i,
                                'a' + i, 'a' + i, 'a' + i, 'a' + i, 'a' + i);
    /* a..e copy within the budget; f runs out on one of the leaves of a. */
    CHECK(fails_like(big, 2, "aliases expand to more than 200000 nodes"));
}

static void *slice_of_new_thread(void *arg)
{
    *(int64_t *)arg = sched_slice_ns();
    return NULL;
}

/* sched_slice_us: the default asks for 100 us; the request holds for the
 * thread and for threads it starts afterwards (librdkafka's too). */
static void test_sched_slice(void)
{
    conf_t c;
    conf_defaults(&c);
    CHECK_EQ_INT(c.sched_slice_us, 100);
    conf_free(&c);
    char err[256] = "";
    int64_t before = sched_slice_ns();
    CHECK_EQ_INT(sched_slice_set(300, err, sizeof err), QERR_OK);
    if (sched_slice_ns() == before && before == 0) {
        /* A kernel without custom slices (before 6.12) takes and ignores it. */
        check_skips++;
        printf("SKIP test_sched_slice: this kernel keeps no custom slice (Linux 6.12+)\n");
        return;
    }
    CHECK_EQ_INT(sched_slice_ns(), 300000);
    int64_t inherited = -1;
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, slice_of_new_thread, &inherited), 0);
    pthread_join(t, NULL);
    CHECK_EQ_INT(inherited, 300000);
    /* Back to the default (which the kernel then may report as its value). */
    CHECK_EQ_INT(sched_slice_set(0, err, sizeof err), QERR_OK);
    CHECK(sched_slice_ns() != 300000);
}

int main(void)
{
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults();
    test_full_file();
    test_lists_and_maps();
    test_errors();
    test_empty_and_missing();
    test_durations();
    test_sizes();
    test_did_you_mean();
    test_print_doc();
    test_input_limits();
    test_trees();
    test_sched_slice();
    CHECK_EQ_INT(rmdir(tmp_dir), 0); /* every file was removed */
    return check_summary("conf");
}
