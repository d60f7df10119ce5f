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

#include "../bench/bench.h"

void harness_sleep_ms(int ms);

/* Starts `$QUELL_BIN run -c conf_path` with stdout appended to out_path and
 * stderr to log_path; returns its pid. */
pid_t harness_quell_start(const char *conf_path, const char *out_path, const char *log_path);
/* SIGTERM, then waits up to `timeout_ms` for the drain (SIGKILL after).
 * Returns the exit code; -1 when it was killed or died of a signal. */
int harness_quell_stop(pid_t pid, int timeout_ms);

/* Reads every message of `topic` (all its partitions) from the beginning
 * to the end it had when called, calling `fn` for each. Returns how many
 * were read, or -1 when the end was not reached within `timeout_ms`. */
typedef void (*harness_consume_fn)(const rd_kafka_message_t *m, void *ctx);
int harness_consume_all(const char *brokers, const char *topic, int timeout_ms,
                        harness_consume_fn fn, void *ctx);

/* The value of a "  name   N" line of quell's run summary; -1 if absent. */
long long harness_summary_value(const char *path, const char *name);
/* Copies a file to stderr (a failed test shows quell's log). */
void harness_dump_file(const char *path);

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
