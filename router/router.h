/*
 * router: turns decided incidents into notifications and delivers them.
 *
 * For now one sink: incidents as JSON to the Kafka output topic, keyed by
 * fingerprint, plus the dead-letter topic for undecodable input. Formatting
 * (format.c) is pure and tested byte for byte; the Kafka sink (kafka_sink.c)
 * is the adapter. Every produced message carries the msg_track_t of the
 * input message it came from and releases it only when the broker has
 * acknowledged it, which is what lets ingest commit offsets safely.
 */
#ifndef QUELL_ROUTER_H
#define QUELL_ROUTER_H

#include <librdkafka/rdkafka.h>

#include "../core/core.h"

/* ---- formatting (pure) ------------------------------------------------ */

/* RFC 3339 UTC with milliseconds: "2026-01-01T00:00:00.000Z"; out[32]. */
void router_format_time(int64_t unix_ms, char out[32]);

/* Writes the incident JSON object (no newline) into buf; returns the length
 * it needs, like snprintf: retry with a larger buffer when >= cap. */
size_t router_format_incident_json(char *buf, size_t cap, const alert_t *a, const incident_t *inc);

/* ---- Kafka sink ------------------------------------------------------- */

typedef struct router router_t;

typedef struct {
    uint64_t produced;  /* incidents handed to the producer */
    uint64_t delivered; /* incidents acknowledged by the broker */
    uint64_t dead_lettered;
    uint64_t retries; /* deliveries that failed and were produced again */
} router_stats_t;

/* Creates the producer. `brokers` overrides conf->kafka.brokers. */
router_t *router_new(const conf_t *conf, const char *brokers, char *errbuf, size_t errlen);
/* Flushes outstanding messages (waits up to `timeout_ms`) then frees. */
void router_destroy(router_t *r, int timeout_ms);

/* Any worker thread. Formats and produces; `track` is released when the
 * broker acknowledges. QERR_FULL when the producer queue is full: the caller
 * keeps the alert and calls again (backpressure). */
qerr_t router_forward(router_t *r, const alert_t *a, const incident_t *inc, msg_track_t *track);

/* Consumer thread. Sends `msg` unchanged (key, value, headers) to the
 * dead-letter topic, adding headers quell-error (reason code),
 * quell-error-detail, quell-source-topic/partition/offset. */
qerr_t router_dead_letter(router_t *r, const rd_kafka_message_t *msg, const char *reason,
                          const char *detail, msg_track_t *track);

/* Serves delivery reports; the router thread calls it in a loop. */
void router_poll(router_t *r, int timeout_ms);
void router_stats(router_t *r, router_stats_t *out);

#endif
