/*
 * ingest: turns Kafka messages into alerts.
 *
 * Two halves. The decoder (decode.c) is pure: bytes in, alerts out, into an
 * arena the caller owns and resets per message; it never touches Kafka. The
 * consumer (consumer.c) is the adapter: it polls the group, decodes,
 * fingerprints, hands each alert to the dedup worker owning its shard, routes
 * undecodable messages to the dead-letter topic and stores offsets only once
 * everything a message produced has been delivered.
 */
#ifndef QUELL_INGEST_H
#define QUELL_INGEST_H

#include <librdkafka/rdkafka.h>

#include "../core/arena.h"
#include "../core/common.h"
#include "../core/conf.h"
#include "../core/hist.h"
#include "../core/http.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/track.h"
#include "../dedup/dedup.h"

/* ---- decoder ---------------------------------------------------------- */

typedef struct {
    size_t max_message_bytes;
    size_t max_labels;
    size_t max_name_bytes;
    size_t max_value_bytes;      /* label values */
    size_t max_annotation_bytes; /* annotation values */
} ingest_limits_t;

typedef enum {
    INGEST_FORMAT_AUTO = 0,
    INGEST_FORMAT_JSON, /* alert object, array of them, or webhook v4 */
    INGEST_FORMAT_PROTO_ALERT,
    INGEST_FORMAT_PROTO_BATCH,
    INGEST_FORMAT__COUNT
} ingest_format_t;

/* The format a message was read as: `format` when a content-type named it,
 * else what AUTO picks (JSON when it starts with '{' or '[' after blanks,
 * protobuf otherwise; a batch and a single alert are both "protobuf" here).
 * For metrics labels. */
ingest_format_t ingest_format_of(ingest_format_t format, const void *buf, size_t len);
const char *ingest_format_str(ingest_format_t f); /* "json", "protobuf" */

/* Whether a consumed Kafka message's value may be followed by headers, read
 * off the byte after the value, without rd_kafka_message_headers(): for a
 * message with none that call still builds and frees a parse buffer (two
 * allocations) to read the record's header count, 0, every message. A v2
 * record stores its header count (a zigzag varint: 0 is the byte 0) right
 * after its value, and librdkafka hands out the value where it lies in the
 * record. v0/v1 messages have no headers, whatever the byte. Returns true
 * (ask librdkafka) unless that byte is 0; also when there is no value or its
 * end is a page boundary, so the byte is read only on the page of the
 * value's last byte, which is mapped. */
bool ingest_may_have_headers(const void *value, size_t len);

/* Where a message came from, for metrics: the HTTP intake marks what it
 * publishes with a `quell-source` header; anything else is "kafka". */
typedef enum {
    INGEST_SOURCE_KAFKA = 0,
    INGEST_SOURCE_ALERTMANAGER, /* quell-source: http:alertmanager */
    INGEST_SOURCE_PAGERDUTY,    /* quell-source: http:pagerduty */
    INGEST_SOURCE__COUNT
} ingest_source_t;
ingest_source_t ingest_source_from_header(const void *value, size_t len);
const char *ingest_source_str(ingest_source_t s); /* "kafka", "http_alertmanager", ... */

/* Why a message was refused; the string form goes into the dead-letter
 * header and the metrics label, so it stays short and stable. */
typedef enum {
    DECODE_OK = 0,
    DECODE_TOO_LARGE,        /* "too_large" */
    DECODE_EMPTY,            /* "empty" */
    DECODE_BAD_JSON,         /* "bad_json" */
    DECODE_BAD_PROTO,        /* "bad_proto" */
    DECODE_BAD_SHAPE,        /* "bad_shape": valid JSON, not an alert */
    DECODE_NO_LABELS,        /* "no_labels" */
    DECODE_TOO_MANY_LABELS,  /* "too_many_labels" */
    DECODE_NAME_TOO_LONG,    /* "name_too_long" */
    DECODE_VALUE_TOO_LONG,   /* "value_too_long" */
    DECODE_BAD_UTF8,         /* "bad_utf8" */
    DECODE_BAD_LABEL_NAME,   /* "bad_label_name" */
    DECODE_DUP_LABEL,        /* "duplicate_label" */
    DECODE_BAD_TIME,         /* "bad_time" */
    DECODE_BAD_CONTENT_TYPE, /* "bad_content_type" */
    DECODE__COUNT
} decode_error_t;

const char *decode_error_str(decode_error_t e);

/* Maps a content-type header value to a format; unknown values give
 * DECODE_BAD_CONTENT_TYPE. NULL/empty means AUTO. */
decode_error_t ingest_format_from_content_type(const char *ct, size_t len, ingest_format_t *out);

/* Decodes one message into alerts allocated in `arena` (the alerts, their
 * label arrays and a JSON message's strings; a protobuf message's strings
 * point into `buf`, which must outlive the alerts). Labels come out sorted bytewise
 * by name. `event_time_ms` is the decision clock for this message: it also
 * decides status (a set endsAt <= event time means resolved).
 * On error returns the reason and writes a human sentence (with the alert
 * index and label name where relevant) into errbuf. The fingerprint field is
 * left 0: the caller fingerprints. Single-threaded per arena; any number
 * of threads at once (each keeps its own JSON parser between calls). */
decode_error_t ingest_decode(arena_t *arena, const ingest_limits_t *limits, ingest_format_t format,
                             const void *buf, size_t len, int64_t event_time_ms,
                             alert_t **alerts_out, size_t *n_out, char *errbuf, size_t errlen);

/* ---- consumer -------------------------------------------------------- */

/* Sends an undecodable message to the dead-letter topic; the track hold is
 * released when that produce is acknowledged. Any ingest thread. */
typedef qerr_t (*ingest_dead_letter_fn)(void *ctx, const rd_kafka_message_t *m, const char *reason,
                                        const char *detail, msg_track_t *track);

typedef struct {
    const conf_t *conf;
    const char *brokers; /* overrides conf->kafka.brokers */
    bool embedded;       /* tune fetch waits for the mock cluster */
    /* n_lanes × n_rings rings: lane L's ring to the worker of shard S is
     * rings[L * n_rings + S] (dedup_shard()). Lane 0 is the consumer
     * thread; each further lane is an ingest thread decoding the
     * partitions given to it. */
    ring_t **rings;
    size_t n_rings;
    size_t n_lanes; /* 0 = 1 */
    dedup_fp_conf_t fingerprint;
    ingest_dead_letter_fn dead_letter;
    void *dead_letter_ctx;
} ingest_opts_t;

typedef struct {
    uint64_t messages;
    uint64_t alerts;
    uint64_t decode_errors[DECODE__COUNT];
    uint64_t offset_gaps;      /* times the next offset was not the expected one */
    uint64_t offsets_skipped;  /* messages never seen because of those gaps */
    uint64_t fetch_nudges;     /* brokers woken to fetch again (consumer.c, nudge_fetch) */
    uint64_t fetch_wait_ns;    /* the consumer's wait for those fetches, messages behind */
    uint64_t first_message_ns; /* monotonic clock of the first message */
    uint64_t alerts_in[INGEST_SOURCE__COUNT][INGEST_FORMAT__COUNT]; /* by source, format */
    int32_t assigned_partitions;                                    /* held now (readiness) */
} ingest_stats_t;

/* Consumer lag of one assigned partition, from librdkafka's statistics
 * (refreshed every statistics.interval.ms, 5 s unless kafka.properties
 * says otherwise). */
typedef struct {
    char topic[128];
    int32_t partition;
    int64_t lag;
} ingest_lag_t;

typedef struct ingest ingest_t;

ingest_t *ingest_new(const ingest_opts_t *opts, char *errbuf, size_t errlen);
/* Runs the consumer in the calling thread until *stop is set, then drains:
 * waits until everything consumed is decided and delivered. Returns
 * QERR_OK after a clean drain. The consumer stays in the group until
 * ingest_close. */
qerr_t ingest_run(ingest_t *in, _Atomic bool *stop);
/* After ingest_run, same thread: commits the stored offsets and leaves the
 * group. With commits held, `release_held` first stores everything
 * finished: pass true only once the state that covers it is saved. */
void ingest_close(ingest_t *in, bool release_held);
void ingest_destroy(ingest_t *in);
/* Any thread; approximate while running. */
void ingest_stats(ingest_t *in, ingest_stats_t *out);
/* Any thread: copies at most `cap` lag figures; returns how many. */
size_t ingest_lag(ingest_t *in, ingest_lag_t *out, size_t cap);
/* Delivery barrier, any thread: request returns a ticket; passed(ticket)
 * becomes true once every message this consumer had handed to the workers
 * when the request was made is finished (every alert decided, every
 * incident and dead letter delivered). Served by ingest_run's thread
 * within a few tens of ms once that holds; never while it is not running. */
uint64_t ingest_barrier_request(ingest_t *in);
bool ingest_barrier_passed(ingest_t *in, uint64_t ticket);

/* Commits held to the state snapshots. Without it, an offset is committed
 * once its message is finished; the state a restart after kill -9 loads is
 * the last snapshot's, so a message finished and committed after that
 * snapshot's copies would be neither in the state nor read again: a
 * resolve lost leaves its incident open and the next firing of it is
 * suppressed as a duplicate. Held, offsets are committed no further than
 * the latest published mark: the snapshot writer requests a mark before
 * it copies the state (taken by ingest_run's thread: per partition, the
 * offset after the last finished message, so everything before it is in
 * the copies), and publishes it once the files are renamed into place.
 * A restart then re-reads what came after it. Call hold before
 * ingest_run; the rest from the writer's thread. */
void ingest_hold_commits(ingest_t *in);
uint64_t ingest_mark_request(ingest_t *in);
bool ingest_mark_taken(ingest_t *in, uint64_t ticket);
void ingest_mark_publish(ingest_t *in, uint64_t ticket);

/* ---- HTTP intake ------------------------------------------------------ */

/* POST /api/v2/alerts (Alertmanager's postable alerts) and POST /v2/enqueue
 * (PagerDuty Events API v2): validated whole with the decoder above, then
 * published to the first input topic; answered once Kafka acknowledged.
 * The handlers are http_handler_fn's for core's HTTP server. */
typedef struct intake intake_t;

typedef enum { INTAKE_API_ALERTMANAGER = 0, INTAKE_API_PAGERDUTY, INTAKE_API__COUNT } intake_api_t;
typedef enum {
    INTAKE_CODE_200 = 0,
    INTAKE_CODE_202,
    INTAKE_CODE_400,
    INTAKE_CODE_401,
    INTAKE_CODE_413,
    INTAKE_CODE_422, /* Alertmanager's intake: no body at all (go-swagger) */
    INTAKE_CODE_503,
    INTAKE_CODE__COUNT
} intake_code_t;

typedef struct {
    uint64_t requests[INTAKE_API__COUNT][INTAKE_CODE__COUNT]; /* answered, by status */
    uint64_t alerts[INTAKE_API__COUNT];                       /* published and acknowledged */
} intake_stats_t;

/* `token`: the bearer token (NULL: none). The Alertmanager route relies on
 * the server's HTTP_AUTH; the PagerDuty handler checks it itself, accepting
 * a routing_key equal to it too. `fp` must outlive the intake. */
intake_t *intake_new(const conf_t *conf, const char *brokers, const dedup_fp_conf_t *fp,
                     const char *token, char *errbuf, size_t errlen);
/* Flushes (bounded) and frees; the HTTP server must be stopped first. */
void intake_destroy(intake_t *it);
void intake_alertmanager(void *ctx, const http_req_t *req, http_resp_t *resp);
void intake_pagerduty(void *ctx, const http_req_t *req, http_resp_t *resp);
void intake_stats(intake_t *it, intake_stats_t *out);
const char *intake_api_str(intake_api_t a);
int intake_code_value(intake_code_t c);

/* Pure: a PagerDuty event to the alert JSON quell publishes for it
 * (labels alertname="pagerduty" and dedup_key, the rest as annotations;
 * resolve -> status resolved). `dedup_key` receives the event's key, or a
 * new random one for a trigger without. On QERR_INVALID, `pd_status` is
 * PagerDuty's status text ("invalid event", "Unrecognized object") and
 * errbuf the reason. The caller frees *alert_json with cJSON_free. */
qerr_t intake_pd_to_alert(const char *body, size_t len, char **alert_json, char *dedup_key,
                          size_t key_cap, const char **pd_status, char *errbuf, size_t errlen);

#endif
