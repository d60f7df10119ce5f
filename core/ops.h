/*
 * Private to core/: the operator's side of `quell run` — the HTTP server
 * with /metrics, the health endpoints, the intake and /api/v1/top — wired
 * to the running stages. pipeline.c starts it once every stage exists and
 * stops it before tearing them down.
 */
#ifndef QUELL_OPS_H
#define QUELL_OPS_H

#include "../dedup/dedup.h"
#include "../ingest/ingest.h"
#include "../router/router.h"
#include "core.h"

typedef struct ops ops_t;

typedef struct {
    const conf_t *conf;
    const char *brokers; /* resolved (the embedded cluster's address too) */
    ingest_t *ingest;
    dedup_worker_t **workers;
    size_t n_workers;
    router_t *router;
    const dedup_fp_conf_t *fingerprint; /* must outlive the ops */
} ops_stages_t;

/* Starts the HTTP server when http.listen is set (else returns an ops that
 * does nothing). NULL with errbuf on error (bad address, token file,
 * producer). */
ops_t *ops_start(const ops_stages_t *st, char *errbuf, size_t errlen);
/* The server, to add readiness checks (e.g. a store) before traffic
 * matters; NULL when HTTP is off. */
http_server_t *ops_http(ops_t *o);
/* Stops the server (waits for running requests), then the intake. */
void ops_stop(ops_t *o);

/* Writes the whole Prometheus exposition (exposed for tests and bench). */
void ops_write_metrics(ops_t *o, mbuf_t *b);

#endif
