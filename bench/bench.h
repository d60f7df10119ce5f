/*
 * bench: load generation for quell.
 *
 * `quell gen` (gen.c) writes a deterministic, skewed storm of Prometheus
 * alerts: JSON lines or length-delimited quell.v1.Alert messages. The same
 * options give byte-identical output on any machine (see gen.c's design note
 * for the exact contract), so a benchmark run can be replayed and two runs
 * compared.
 *
 * Two levels: gen_main() is the command (argv in, stdout out, exit code
 * back); gen_new()/gen_next() hand out one message at a time to a test or a
 * benchmark driver that produces them to Kafka itself.
 *
 * Nothing here is thread-safe: one gen_t per thread.
 */
#ifndef QUELL_BENCH_H
#define QUELL_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/core.h"

typedef enum {
    GEN_JSON = 0,  /* one Alertmanager-style alert object per message */
    GEN_PROTO = 1, /* one quell.v1.Alert per message */
} gen_format_t;

#define GEN_MAX_FINGERPRINTS (1u << 24) /* instance IPs are unique below this */

typedef struct {
    uint64_t alerts;       /* messages to produce (default 100000) */
    uint64_t fingerprints; /* K distinct label sets, 1..GEN_MAX_FINGERPRINTS (1000) */
    uint64_t seed;         /* drives the occurrence sequence only (1) */
    gen_format_t format;   /* GEN_JSON */
    int64_t start_ms;      /* event time of the first alert, Unix ms > 0
                            * (2026-01-01T00:00:00Z) */
    int64_t spacing_ms;    /* event-time step between alerts, >= 0 (10) */
    double resolve_share;  /* fraction of occurrences that are resolves, 0..1 (0.02) */
    /* Scenario shapes; all off by default (the output is then exactly what
     * it was before they existed). */
    int64_t duration_ms;    /* > 0: event times spread evenly over it (spacing ignored) */
    double flap_share;      /* steady fingerprints that flip firing/resolved each time */
    double transient_share; /* non-flood occurrences of one-off fingerprints: fire, resolve */
    double excluded_share;  /* non-flood occurrences of Watchdog/InfoInhibitor (severity none) */
    double flood_share;     /* occurrences from a new service once the flood runs; the
                             * flood comes on top: with --duration the others keep their
                             * rate */
    double flood_start;     /* when the flood starts, as a fraction of the run (0.5) */
    uint64_t flood_fingerprints; /* the new service's distinct label sets (500) */
} gen_opts_t;

typedef struct gen gen_t;

/* Fills every option with its default. */
void gen_opts_defaults(gen_opts_t *opts);

/* Parses gen's command line (argv[0] is the command name, skipped) over
 * whatever `opts` holds. Options take "--name value" or "--name=value".
 * Returns QERR_OK, or QERR_INVALID with a sentence in errbuf. Sets *help
 * when --help was given (the other options are then not all checked). */
qerr_t gen_parse_args(int argc, char **argv, gen_opts_t *opts, bool *help, char *errbuf,
                      size_t errlen);

/* Reads the `gen:` section of a scenario file (bench/scenarios/\*.yaml: a
 * map of gen option names without "--" to values) over `opts`, and, when
 * `config` is not NULL, its `config:` text (a quell config, YAML, given as
 * a block scalar; "" when absent; caller frees). QERR_OK, or QERR_INVALID
 * with "FILE:LINE: message" in errbuf. `--scenario FILE` on gen's command
 * line does the same at its position: later options override it. */
qerr_t gen_load_scenario(const char *path, gen_opts_t *opts, char **config, char *errbuf,
                         size_t errlen);

/* Writes the --help text. */
void gen_usage(FILE *out);

/* A generator for `opts` (copied). Builds the popularity table: 8 bytes of
 * CDF plus 8 bytes of run state per fingerprint. Returns NULL with a
 * sentence in errbuf when an option is out of range or memory runs out. */
gen_t *gen_new(const gen_opts_t *opts, char *errbuf, size_t errlen);
void gen_destroy(gen_t *g); /* safe on NULL */

/* The next message: its bytes (owned by `g`, valid until the next call on
 * `g`; unframed: no newline after JSON, no length prefix before protobuf),
 * its event time (start_ms + n * spacing_ms for the n-th message) and the
 * index of its fingerprint (0 is the most frequent; index i always has the
 * same label set whatever the seed, alert count or format). Any out pointer
 * may be NULL. Returns false once opts.alerts messages have been given. */
bool gen_next(gen_t *g, const void **buf, size_t *len, int64_t *event_time_ms, uint64_t *fp_index);

/* Writes every remaining message to `out`, framed: JSON followed by '\n',
 * protobuf preceded by its length as a protobuf varint (what protobuf's
 * writeDelimitedTo produces). QERR_OK, or QERR_IO when a write failed. */
qerr_t gen_write(gen_t *g, FILE *out);

/* `quell gen`: argv[0] is "gen". Writes to stdout. Returns the process exit
 * code: 0 ok (also after --help), 1 write failure, 2 usage error (message on
 * stderr). */
int gen_main(int argc, char **argv);

/* ---- load: a storm into Kafka, waiting for quell -------------------- */

typedef struct {
    const char *brokers;
    const char *topic;        /* quell's input topic */
    const char *group;        /* quell's consumer group, whose commits are awaited */
    const char *output_topic; /* counted: incidents produced during the run */
    const char *dlq_topic;    /* counted: dead letters produced during the run */
    uint64_t max_ahead;       /* produced but uncommitted messages, at most; 0 = no limit */
    double rate;              /* alerts per second, 0 = as fast as possible */
    bool wait;                /* wait until the group has committed everything */
    int timeout_s;
    bool stamp_now; /* Kafka timestamp = the time of sending, not the event time:
                     * decision latency is then measurable (dedup then runs on
                     * the wall clock, not the scenario's event times) */
    int linger_ms;  /* producer linger.ms; 0 = librdkafka's default of 5 */
    /* Alerts per Kafka message, as a bridge that batches sends them: 1 (or
     * 0) = one alert per message; N = a quell.v1.AlertBatch (proto) or a
     * JSON array of up to N alerts, one partition's in order. */
    unsigned batch;
    /* Backlog mode: when set, the whole storm is produced first (no flow
     * control: the cluster must hold it), then this is called (it starts
     * the consumer), and `seconds` runs from the group's first assignment
     * to everything committed: the consumer alone drains a backlog, as
     * after an outage or a storm that outran it. Non-zero aborts. */
    int (*loaded)(void *ctx);
    void *loaded_ctx;
    /* Whether the consumer is still running (NULL: not known): waiting for
     * its commits stops at once when it has exited (a config it refused,
     * a crash) instead of at the timeout. Called with loaded_ctx. */
    bool (*alive)(void *ctx);
    /* Set (monotonic ns) when the first alert is produced, for a watcher
     * that times phases of the run from it (the latency run's warm-up);
     * NULL: none. */
    _Atomic int64_t *started_ns;
    gen_opts_t gen;
} load_opts_t;

typedef struct {
    uint64_t produced, delivered, failed;
    uint64_t incidents, dead_lettered;
    double produce_seconds; /* first produce to last delivery */
    /* Each delivered message's produce call to the broker's ack (the
     * loader's linger, the request, the broker's append): the part of a
     * decision latency that is the loader's and the broker's write path. */
    hist_t ack_latency;
    double seconds; /* first produce (backlog mode: the group's assignment) to
                     * everything committed */
    char error[256];
} load_result_t;

/* Produces the storm described by `o->gen` and, with `o->wait`, returns
 * once the group has committed all of it. 0, or -1 with res->error set. */
int load_run(const load_opts_t *o, load_result_t *res);
/* `quell load`: argv[0] is "load". Returns the process exit code. */
int load_main(int argc, char **argv);
/* Creates `topic` (8 partitions) when the cluster lacks it; append_time:
 * message.timestamp.type=LogAppendTime. 0, or -1 with a sentence in
 * errbuf. */
int load_ensure_topic(const char *brokers, const char *topic, bool append_time, char *errbuf,
                      size_t errlen);

/* Kafka figures a benchmark samples while a storm runs: messages in the
 * input topic, committed by the group, and in the output topic, all
 * counted from when load_sampler_new() was called. */
typedef struct load_sampler load_sampler_t;
load_sampler_t *load_sampler_new(const char *brokers, const char *topic, const char *group,
                                 const char *output_topic, char *errbuf, size_t errlen);
int load_sampler_read(load_sampler_t *s, uint64_t *in, uint64_t *committed, uint64_t *out);
void load_sampler_destroy(load_sampler_t *s);

/* ---- bench: `quell bench` ------------------------------------------- */

/* `quell bench --scenario FILE ...`: argv[0] is "bench"; `self` is the
 * quell binary to spawn `quell run` from. Returns the process exit code. */
int bench_main(int argc, char **argv, const char *self);

#endif
