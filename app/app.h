/*
 * app: the program. main() dispatches the commands; pipeline.c wires the
 * stages of `quell run` top to bottom; ops.c is the operator's side of it
 * (the HTTP server with /metrics, health, the intake and /api/v1/top);
 * replay.c, top.c are the offline and reporting commands. This header is
 * what those files call in each other; no stage includes it.
 */
#ifndef QUELL_APP_H
#define QUELL_APP_H

#include "../core/core.h"
#include "../dedup/dedup.h"
#include "../ingest/ingest.h"
#include "../router/router.h"

/* Runs until SIGTERM/SIGINT, then drains and commits. Returns the process
 * exit code. `brokers_override` may be NULL. */
int pipeline_run(conf_t *conf, const char *brokers_override);

/* replay.c: `quell replay`, `quell explain`, and the rule part of
 * `quell check` (1 on error, 0 otherwise; warnings go to stderr). */
int replay_main(int argc, char **argv);
int explain_main(int argc, char **argv);
int check_rules(const conf_t *conf);
/* `quell top`: the noisy-alert report from a running instance. */
int top_main(int argc, char **argv);
/* Prints the report of one GET /api/v1/top answer (`doc`) with a rule per
 * group, as `quell top` does; the rules after "exclusions:" are a config
 * `quell check` takes. */
struct cJSON;
void top_print_report(FILE *out, const struct cJSON *doc, const char *window, const char *url);

/* ---- ops: the HTTP side of `quell run` ---- */

typedef struct ops ops_t;

typedef struct {
    const conf_t *conf;
    const char *brokers; /* resolved (the embedded cluster's address too) */
    ingest_t *ingest;
    dedup_worker_t **workers;
    size_t n_workers;
    router_t *router;
    const dedup_fp_conf_t *fingerprint; /* must outlive the ops */
    /* More routes (the Alertmanager API v2, app/api_v2.c), added before the
     * server starts; NULL = none. */
    qerr_t (*add_routes)(void *ctx, http_server_t *s);
    void *routes_ctx;
} ops_stages_t;

/* Starts the HTTP server when http.listen is set (else returns an ops that
 * does nothing). NULL with errbuf on error (bad address, token file,
 * producer). */
ops_t *ops_start(const ops_stages_t *st, char *errbuf, size_t errlen);
/* The server, to add readiness checks (e.g. a store) before traffic
 * matters; NULL when HTTP is off. */
http_server_t *ops_http(ops_t *o);
/* Adds a writer of more metric families to /metrics (a Redis store's round
 * trips, per-rule exclusion counts, per-receiver deliveries): called on the
 * scrape thread, it must read only what its module publishes for other
 * threads. Up to 8; from one thread, also while serving. */
typedef void (*ops_metrics_fn)(void *ctx, mbuf_t *b);
qerr_t ops_add_metrics(ops_t *o, ops_metrics_fn fn, void *ctx);
/* Per-rule decision counts: a rule module writes its samples of
 * `quell_decisions_total` (labels decision="suppress",
 * reason="excluded:<rule>" / "inhibited:<rule>", with metrics_sample and
 * the `name` it is given) inside the family, so the family stays one block
 * and sums stay right: once one is registered, the generic
 * reason="excluded" and reason="inhibited" samples are left out. */
typedef void (*ops_reasons_fn)(void *ctx, mbuf_t *b, const char *name);
qerr_t ops_set_decision_reasons(ops_t *o, ops_reasons_fn fn, void *ctx);
/* Stops the server (waits for running requests), then the intake. */
void ops_stop(ops_t *o);

/* Writes the whole Prometheus exposition (exposed for tests and bench). */
void ops_write_metrics(ops_t *o, mbuf_t *b);

#endif
