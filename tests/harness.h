/*
 * What the end-to-end tests share: running `quell run` as a child process,
 * reading its summary, and the reference model of the dedup decisions that
 * quell's output must equal (memory store or Redis, one instance or two).
 */
#ifndef QUELL_TEST_HARNESS_H
#define QUELL_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "../bench/bench.h"

void harness_sleep_ms(int ms);

/* Polls `cond` every 20 ms until it holds or `ms` have passed. */
#define HARNESS_WAIT_UNTIL(cond, ms)                                                               \
    do {                                                                                           \
        for (int waited_ = 0; !(cond) && waited_ < (ms); waited_ += 20) harness_sleep_ms(20);      \
    } while (0)

/* qsort order of uint64_t values. */
int harness_cmp_u64(const void *a, const void *b);

/* A storm produced from another thread while a test acts on quell:
 * pthread_create(&t, NULL, harness_load_thread, &load), then join; `rc`
 * and `result` are load_run's. */
typedef struct {
    load_opts_t opts;
    load_result_t result;
    int rc;
} harness_load_t;
void *harness_load_thread(void *arg);

/* Starts `$QUELL_BIN run -c conf_path` with stdout appended to out_path and
 * stderr to log_path; returns its pid. */
pid_t harness_quell_start(const char *conf_path, const char *out_path, const char *log_path);
/* SIGTERM, then waits up to `timeout_ms` for the drain (SIGKILL after).
 * Returns the exit code; -1 when it was killed or died of a signal. */
int harness_quell_stop(pid_t pid, int timeout_ms);

/* A librdkafka mock cluster of one broker, held by the test process (so it
 * outlives quell's restarts), with PREFIX-alerts (`alert_partitions`),
 * PREFIX-incidents (4) and PREFIX-dlq (1). 0 on success. */
typedef struct {
    rd_kafka_t *admin;
    rd_kafka_mock_cluster_t *mock;
    char brokers[256];
} harness_mock_t;
int harness_mock_start(harness_mock_t *m, const char *prefix, int alert_partitions);
void harness_mock_stop(harness_mock_t *m);

/* Reads every message of `topic` (all its partitions) from the beginning
 * to the end it had when called, calling `fn` for each. Returns how many
 * were read, or -1 when the end was not reached within `timeout_ms`. */
typedef void (*harness_consume_fn)(const rd_kafka_message_t *m, void *ctx);
int harness_consume_all(const char *brokers, const char *topic, int timeout_ms,
                        harness_consume_fn fn, void *ctx);

/* The value of a "  name   N" line of quell's run summary; -1 if absent. */
long long harness_summary_value(const char *path, const char *name);
/* Whether a line of the file at `path` holds `what` (quell's log said it). */
bool harness_file_has(const char *path, const char *what);
/* Waits up to `timeout_ms` until every one of the `n` files holds `what`
 * (each instance's log says "assigned 2 partitions"); whether they did. */
bool harness_wait_files(const char *const *paths, int n, const char *what, int timeout_ms);
/* Copies a file to stderr (a failed test shows quell's log). */
void harness_dump_file(const char *path);
/* A test's temporary directory at its end: removed when the test passed,
 * kept and said ("logs kept in DIR") when it failed. */
void harness_dir_done(const char *dir, bool failed);

/* Instance i of a fleet of quells sharing a Redis store: its config,
 * output and log paths under `dir` (DIR/qI.yaml, .out, .log, each
 * char[160]), and its config open for writing with what the fleet shares
 * written: one worker, group PREFIX on topics PREFIX-alerts (-incidents,
 * -dlq) at `brokers`, no HTTP, dedup 1h/24h, the store at
 * redis://127.0.0.1:REDIS_PORT/0 with prefix "PREFIX:". The caller adds its
 * route and receivers and closes it. NULL when it cannot be opened. */
FILE *harness_fleet_conf(const char *dir, int i, const char *prefix, const char *brokers,
                         int redis_port, char conf[160], char out[160], char log[160]);

/* Distinct fingerprints in `opts`'s storm, counted by the generator itself. */
size_t harness_distinct_in_storm(const gen_opts_t *opts);

/* What quell must decide for `opts`'s storm, computed independently of
 * dedup/: a window that closes `window_ms` after an incident's last
 * occurrence, a reminder every `repeat_ms`, resolves closing it. */
typedef struct {
    uint64_t new, repeat, resolved;
} harness_expected_t;
harness_expected_t harness_reference_decisions(const gen_opts_t *opts, int64_t window_ms,
                                               int64_t repeat_ms);
/* Reads quell's "incidents out N (new A, repeat B, resolved C" summary
 * line into *out; false when the file has none. */
bool harness_summary_incidents(const char *path, harness_expected_t *out);

#endif
