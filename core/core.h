/*
 * core: the shared runtime every stage uses — errors, logging, clocks,
 * arenas, the lock-free ring between threads, and the configuration.
 *
 * Ownership rules are given per function. Nothing here keeps global state
 * except the log level/format (set once at start, read by every thread).
 */
#ifndef QUELL_CORE_H
#define QUELL_CORE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "types.h"

#define QUELL_VERSION "0.1.0"

#define CACHELINE 64

/* ---- errors ----------------------------------------------------------- */

typedef enum {
    QERR_OK = 0,
    QERR_INVALID = -1, /* bad input or config: not retriable */
    QERR_NOMEM = -2,
    QERR_FULL = -3, /* try again later: a ring or buffer is full */
    QERR_IO = -4,   /* file or network failure: retriable */
    QERR_KAFKA = -5,
    QERR_DECODE = -6, /* a message that cannot be decoded: dead-letter it */
} qerr_t;

const char *qerr_str(qerr_t err);

/* ---- logging ---------------------------------------------------------- */

typedef enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level_t;
typedef enum { LOG_FMT_LOGFMT = 0, LOG_FMT_JSON } log_format_t;

extern log_level_t log_level_current;

void log_setup(log_level_t level, log_format_t format);
int log_level_parse(const char *s, log_level_t *out);
/* Thread-safe: one write(2) per line. `component` is e.g. "dedup". */
void log_emit(log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The level is checked before anything is formatted. */
#define LOG_AT(lvl, comp, ...)                                                                     \
    do {                                                                                           \
        if ((lvl) <= log_level_current) log_emit((lvl), (comp), __VA_ARGS__);                      \
    } while (0)
#define log_error(comp, ...) LOG_AT(LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  LOG_AT(LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...)  LOG_AT(LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) LOG_AT(LOG_DEBUG, comp, __VA_ARGS__)

/* librdkafka's log callback (rd_kafka_conf_set_log_cb) routed through
 * log_emit, so its lines share quell's format, levels and stream. Called
 * from librdkafka's threads. `rk` is a const rd_kafka_t *. */
struct rd_kafka_s;
void log_kafka_cb(const struct rd_kafka_s *rk, int syslog_level, const char *fac, const char *buf);

/* Rate limit for repeated errors: true at most once per `interval_ms` per
 * limiter; the number of suppressed calls is returned through `suppressed`.
 * One limiter per call site, owned by one thread. */
typedef struct {
    int64_t last_ms;
    uint64_t suppressed;
} log_limit_t;
bool log_limit_allow(log_limit_t *lim, int64_t interval_ms, uint64_t *suppressed);

/* Rate limit by message key, from any thread: a line with `key` is written
 * at most once per `interval_ms`; the next one written says how many
 * similar lines were suppressed meanwhile. Keys hash into a fixed table
 * (keys sharing a slot share the limit). For errors that can repeat in a
 * storm (a broker down, a client sending junk). */
void log_emit_limited(log_level_t level, const char *component, const char *key,
                      int64_t interval_ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define LOG_LIMITED(lvl, comp, key, interval_ms, ...)                                              \
    do {                                                                                           \
        if ((lvl) <= log_level_current)                                                            \
            log_emit_limited((lvl), (comp), (key), (interval_ms), __VA_ARGS__);                    \
    } while (0)

/* ---- clocks ----------------------------------------------------------- */

int64_t clock_wall_ms(void); /* Unix time, ms */
int64_t clock_mono_ns(void); /* monotonic, for measuring durations */

/* ---- arena ------------------------------------------------------------ */

/* A bump allocator reset per message: decoding allocates without malloc per
 * alert. Owned by one thread. Chunks are kept across resets. */
typedef struct arena_chunk arena_chunk_t;
typedef struct {
    arena_chunk_t *head;
    arena_chunk_t *current;
    size_t chunk_bytes;
} arena_t;

void arena_init(arena_t *a, size_t chunk_bytes);
void *arena_alloc(arena_t *a, size_t bytes); /* 16-byte aligned; NULL on OOM */
char *arena_strndup(arena_t *a, const char *s, size_t len);
void arena_reset(arena_t *a);
void arena_free(arena_t *a);

/* ---- fixed-width little-endian fields ---------------------------------- */

/* For values stored outside the process (Redis entries and hashes), so they
 * read the same whatever the host's byte order. */
static inline void le64_put(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint64_t le64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ---- ring ------------------------------------------------------------- */

/* Single-producer single-consumer byte ring of variable-length records.
 * The producer thread reserves space, writes a record in place and commits;
 * the consumer thread peeks the oldest record, reads it in place and releases
 * it. Lock-free (C11 acquire/release on the two indices); records are
 * contiguous (a record that would straddle the end skips to the start). */
typedef struct ring ring_t;

ring_t *ring_new(size_t capacity_bytes); /* rounded up to a power of two */
void ring_destroy(ring_t *r);
size_t ring_max_record(const ring_t *r);
/* Producer side. NULL when the ring has no room now (QERR_FULL semantics). */
void *ring_reserve(ring_t *r, size_t len);
void ring_commit(ring_t *r); /* ring_commit_local + ring_publish */
/* Batching: commit_local keeps the record for the producer's next publish,
 * which hands every record committed since to the consumer with one
 * release store and at most one wake (saves a fence and a shared cache
 * line per record). The producer must publish before it blocks on
 * anything the consumer's progress decides; ring_wait_room publishes. */
void ring_commit_local(ring_t *r);
void ring_publish(ring_t *r);
/* Consumer side. NULL when empty. */
void *ring_peek(ring_t *r, size_t *len);
void ring_release(ring_t *r);
size_t ring_used_bytes(const ring_t *r);
/* Consumer side: blocks until a record is committed or `timeout_ms` passes
 * (futex; the producer wakes it only when it is actually waiting). */
void ring_wait_data(ring_t *r, int timeout_ms);
/* Producer side: blocks until `len` bytes could be reserved or `timeout_ms`
 * passes. Backpressure: the producer stops, nothing is dropped. */
void ring_wait_room(ring_t *r, size_t len, int timeout_ms);

/* A consumer reading several rings (a dedup worker fed by several ingest
 * threads) sleeps on one bell they all ring on publish, instead of on one
 * ring while another fills. Set before either side runs. */
typedef struct {
    _Alignas(CACHELINE) _Atomic uint32_t seq;
    _Atomic uint32_t waiting;
} ring_bell_t;
void ring_set_bell(ring_t *r, ring_bell_t *bell); /* then wait with ring_bell_wait only */
/* Blocks until one of `rings` (all ringing `bell`) has a record or
 * `timeout_ms` passes. */
void ring_bell_wait(ring_bell_t *bell, ring_t *const *rings, size_t n, int timeout_ms);

/* Per-thread counters: written by their owner thread only, read by others.
 * A relaxed load+store is enough (single writer) and costs no lock prefix. */
static inline void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline uint64_t stat_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

/* ---- latency histogram ------------------------------------------------ */

/* Log-linear histogram of durations in ns: exact below 16, then 16 buckets
 * per power of two (at most 6.25% wide), up to 2^64. One writer thread
 * records (relaxed single-writer stores, no lock prefix, no allocation);
 * any thread may read or merge it while it is written (approximate), e.g.
 * a dedup worker's decision latency read by the summary and /metrics. */
#define HIST_SUB_BITS 4
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

typedef struct {
    _Alignas(CACHELINE) _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t max_ns;
    _Atomic uint64_t buckets[HIST_BUCKETS];
} hist_t;

void hist_init(hist_t *h);
/* Owner thread only. */
void hist_record(hist_t *h, uint64_t ns);
/* Adds `src` into `dst` (dst owned by the caller; src may be being written). */
void hist_merge(hist_t *dst, const hist_t *src);
/* The value at quantile q (0..1): the upper bound of the bucket holding
 * that rank, never above the maximum recorded. 0 when empty. */
uint64_t hist_quantile(const hist_t *h, double q);
/* Bucket i holds values in [hist_bucket_lower(i), hist_bucket_lower(i+1)). */
uint64_t hist_bucket_lower(size_t i);
size_t hist_bucket_of(uint64_t ns);

/* Records `now_ns` (wall clock) minus `event_time_ms` (a Kafka timestamp),
 * 0 when the stamp is in the future (clock skew). */
void decision_latency_record(hist_t *h, int64_t now_ns, int64_t event_time_ms);
/* Unix time in ns (CLOCK_REALTIME). */
int64_t clock_wall_ns(void);

/* ---- message tracking ------------------------------------------------ */

/* At-least-once bookkeeping. Every consumed Kafka message gets a slot in its
 * partition's track window holding the number of things still outstanding
 * for it (alerts not yet decided, incidents or dead letters not yet
 * acknowledged by the producer). Any thread finishing one of them calls
 * track_done(); the consumer thread, which owns the window, advances past
 * finished slots in offset order and stores the offset after the last one.
 * So an offset is committed only when everything before it is finished. */
struct msg_track {
    _Atomic int32_t pending;
    int64_t offset;
};

static inline void track_add(msg_track_t *t, int32_t n)
{
    atomic_fetch_add_explicit(&t->pending, n, memory_order_relaxed);
}
/* Any thread. */
static inline void track_done(msg_track_t *t)
{
    if (t) atomic_fetch_sub_explicit(&t->pending, 1, memory_order_release);
}

typedef struct track_window track_window_t;
track_window_t *track_window_new(size_t slots); /* power of two */
void track_window_destroy(track_window_t *w);
/* Owner thread. A slot for `offset` with `pending` = 1 (a hold the owner
 * drops with track_done once it has handed every part out); NULL when the
 * window is full (advance, or wait for workers). */
msg_track_t *track_window_push(track_window_t *w, int64_t offset);
/* Owner thread. Pops finished slots in order; returns true and the offset to
 * commit (last finished + 1) when any was popped. */
bool track_window_advance(track_window_t *w, int64_t *commit_offset);
size_t track_window_inflight(const track_window_t *w);

/* ---- alert records -------------------------------------------------- */

/* How an alert crosses a ring: one flat record (header, label lengths,
 * string bytes), written in place by ingest and read in place by a worker. */
size_t alert_rec_size(const alert_t *a);
void alert_rec_write(void *dst, const alert_t *a, msg_track_t *track);
/* Rebuilds a view of the record: strings point into `rec`, label arrays are
 * allocated in `scratch`. */
qerr_t alert_rec_read(const void *rec, size_t len, arena_t *scratch, alert_t *out,
                      msg_track_t **track);
/* A watermark tick: a record holding only the watermark, which an ingest
 * thread sends down each of its rings while it has nothing else to send,
 * so a worker reading several rings knows how far each has come (see
 * dedup_inputs_peek). Alert records are always longer. */
#define ALERT_REC_TICK_BYTES 8
void alert_rec_write_tick(void *dst, int64_t watermark_ms);
int64_t alert_rec_watermark(const void *rec, size_t len);      /* alert or tick */
void alert_rec_set_watermark(void *rec, int64_t watermark_ms); /* alert records only */

/* ---- metrics ---------------------------------------------------------- */

/* A growable text buffer for HTTP bodies and the Prometheus exposition.
 * Appends never fail loudly: on OOM `oom` is set and further text dropped,
 * and the caller answers 500. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} mbuf_t;

void mbuf_init(mbuf_t *b);
void mbuf_free(mbuf_t *b);
void mbuf_printf(mbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mbuf_append(mbuf_t *b, const char *s, size_t len);
/* Appends `s` as the body of a JSON string (no quotes). */
void mbuf_json_str(mbuf_t *b, const char *s, size_t len);

/* Prometheus text format, version 0.0.4. A family header, then samples:
 * metrics_sample(b, "quell_x_total", v, 2, "decision", "forward", "reason", "new")
 * takes `n_labels` name/value pairs; values are escaped. */
void metrics_family(mbuf_t *b, const char *name, const char *type, const char *help);
void metrics_sample(mbuf_t *b, const char *name, double value, int n_labels, ...);

/* Writes a hist_t (ns, log-linear) as a Prometheus histogram in seconds with
 * fixed bounds. A log-linear bucket straddling a bound counts above it, so
 * the exposition errs towards slower by at most one bucket (6.25%). */
void metrics_histogram(mbuf_t *b, const char *name, const char *help, const hist_t *h);

/* Config reloads, counted for /metrics. The reload code calls this; the
 * counters are process-wide (like the log level) because a reload is. */
void metrics_note_reload(bool ok);
typedef struct {
    uint64_t ok, failed;
    int64_t last_ok_ms; /* Unix ms of the last successful load (the start counts) */
    bool last_was_ok;
} metrics_reload_t;
void metrics_reload_get(metrics_reload_t *out);

/* ---- HTTP server ------------------------------------------------------ */

/* A small router over libmicrohttpd (one thread per connection, so a
 * handler may block, e.g. until Kafka acknowledges). Handlers are pure
 * request -> response functions; the server handles bodies, size limits,
 * the bearer token and the built-in /-/healthy and /-/ready. */
typedef struct http_server http_server_t;

typedef struct {
    const char *method; /* "GET", "POST" */
    const char *path;
    const char *body; /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;
    void *conn; /* for http_req_header / http_req_query */
} http_req_t;

typedef struct {
    int status;               /* 200 unless set */
    const char *content_type; /* static string; "text/plain; charset=utf-8" unless set */
    mbuf_t body;
} http_resp_t;

const char *http_req_header(const http_req_t *req, const char *name);
const char *http_req_query(const http_req_t *req, const char *name);

typedef void (*http_handler_fn)(void *ctx, const http_req_t *req, http_resp_t *resp);
/* A readiness check: true when ready; otherwise writes why into `why`. */
typedef bool (*http_check_fn)(void *ctx, char *why, size_t len);

#define HTTP_AUTH 1 /* route flag: the bearer token is required when one is set */

typedef struct {
    const char *listen;       /* "host:port", "[v6]:port"; port 0 picks a free one */
    const char *token;        /* NULL or "": no token */
    size_t max_request_bytes; /* larger bodies get 413 */
} http_opts_t;

/* Creates the server (not listening yet): add routes and checks, then
 * start. Not thread-safe before start; read-only after. */
http_server_t *http_server_new(const http_opts_t *o, char *errbuf, size_t errlen);
qerr_t http_route(http_server_t *s, const char *method, const char *path, int flags,
                  http_handler_fn fn, void *ctx);
/* May be called while serving, from one thread at a time (at most 8). */
qerr_t http_ready_check(http_server_t *s, const char *name, http_check_fn fn, void *ctx);
qerr_t http_server_start(http_server_t *s, char *errbuf, size_t errlen);
uint16_t http_server_port(const http_server_t *s); /* the bound port, once started */
/* quell_http_requests_total{handler,code}: answers so far. */
void http_server_metrics(http_server_t *s, mbuf_t *b);
/* Stops accepting, waits for running handlers, frees. */
void http_server_destroy(http_server_t *s);
/* Reads a bearer token file (trailing whitespace trimmed; empty refused).
 * The caller frees *out. */
qerr_t http_load_token(const char *path, char **out, char *errbuf, size_t errlen);
/* Constant-time comparison of a presented token with the expected one. */
bool http_token_equal(const char *got, size_t got_len, const char *want);

/* ---- configuration ---------------------------------------------------- */

typedef struct {
    char **items;
    size_t n;
} strlist_t;

typedef struct {
    char *key;
    char *value;
} conf_kv_t;

typedef enum { FP_XXH3 = 0, FP_ALERTMANAGER } fingerprint_mode_t;

/* A structured section (routes, receivers, rules) kept as a tree for the
 * module that owns it to compile: conf.c checks only YAML shape and limits,
 * the module checks meaning and reports "FILE:LINE:COL: message" with the
 * positions kept here. Aliases are expanded (bounded); keys are unique. */
typedef enum { CONF_NODE_NULL, CONF_NODE_SCALAR, CONF_NODE_MAP, CONF_NODE_SEQ } conf_node_kind_t;

typedef struct conf_node conf_node_t;
struct conf_node {
    conf_node_kind_t kind;
    uint32_t line, col; /* 1-based start of the node */
    char *text;         /* SCALAR: the value ("" for NULL nodes, never NULL) */
    bool quoted;        /* SCALAR written in quotes: "null" or "true" is then text */
    size_t n;           /* MAP, SEQ: number of children */
    conf_node_t *keys;  /* MAP: keys[i] (scalars) name items[i] */
    conf_node_t *items; /* MAP, SEQ: the children */
};

/* The value under `key` in a MAP node; NULL when absent or `map` is not a
 * map. */
const conf_node_t *conf_node_get(const conf_node_t *map, const char *key);
/* The key node naming items[i] of a MAP (for error positions). */
static inline const conf_node_t *conf_node_key(const conf_node_t *map, size_t i)
{
    return &map->keys[i];
}

/* The HTTP server's address unless the config names one. */
#define HTTP_DEFAULT_LISTEN "127.0.0.1:9095"

typedef struct {
    int workers; /* 0 = half the cores, at least one */
    size_t ring_bytes;
    struct {
        log_level_t level;
        log_format_t format;
    } log;
    struct {
        char *brokers; /* "embedded" starts the in-process mock cluster */
        char *group_id;
        strlist_t topics;
        char *output_topic;
        char *dlq_topic;
        int embedded_partitions;
        int64_t session_timeout_ms;
        int64_t commit_interval_ms;
        conf_kv_t *properties; /* passed to librdkafka as they are */
        size_t n_properties;
    } kafka;
    struct {
        int threads; /* decoding threads, the consumer's included; 0 = one per core */
        size_t max_message_bytes;
        size_t max_labels;
        size_t max_name_bytes;
        size_t max_value_bytes;
        size_t max_annotation_bytes;
    } ingest;
    struct {
        int64_t window_ms;
        int64_t repeat_interval_ms;
        size_t max_fingerprints;
        fingerprint_mode_t fingerprint;
        strlist_t fingerprint_labels;
        strlist_t ignore_labels;
        char *snapshot_file; /* "" = none: open incidents do not survive a restart */
    } dedup;
    struct {
        char *url;    /* "memory" or "redis://HOST:PORT/DB" (dedup/store.c parses it) */
        char *prefix; /* Redis key prefix */
        int64_t timeout_ms;
        int on_error; /* store_on_error_t: 0 fail_open, 1 fail_closed */
        int64_t lease_ms;
        size_t batch;
        int64_t cache_ms;
        size_t cache_entries;
    } store;
    struct {
        char *listen;          /* "" = no HTTP server */
        char *auth_token_file; /* "" = no token */
        size_t max_request_bytes;
        size_t max_alerts;
    } http;
    /* Structured sections, NULL when absent from the file: compiled by the
     * module that owns them (rules/ for the rule sections, router/ for the
     * routing ones). */
    conf_node_t *exclusions;     /* rules */
    conf_node_t *noise;          /* rules */
    conf_node_t *inhibit_rules;  /* rules */
    conf_node_t *severity;       /* rules */
    conf_node_t *time_intervals; /* rules: named recurring intervals */
    conf_node_t *grouping;       /* rules: fold-by-labels fingerprints (rules/group.c) */
    conf_node_t *route;          /* router */
    conf_node_t *receivers;      /* router */
    conf_node_t *runbooks;       /* router */
    conf_node_t *novelty;        /* router */
    conf_node_t *urgency;        /* router */
    char *path;                  /* the file loaded last ("" for defaults): prefixes errors */
} conf_t;

/* Fills every key with its default. Free with conf_free(). */
void conf_defaults(conf_t *c);
/* Loads a YAML file over the defaults. On error returns QERR_INVALID and
 * writes "FILE:LINE: message" into errbuf; `c` is then still valid (defaults
 * plus whatever was read) and must be freed. */
qerr_t conf_load(conf_t *c, const char *path, char *errbuf, size_t errlen);
/* Loads `len` bytes of YAML (not NUL-terminated) over the defaults: the same
 * contract as conf_load(), including the 1 MiB limit; `name` is used in the
 * "NAME:LINE: message" errors. The caller keeps `buf`. */
qerr_t conf_load_buffer(conf_t *c, const char *name, const char *buf, size_t len, char *errbuf,
                        size_t errlen);
/* Parses a duration such as "250ms", "30s", "5m", "4h", "1d", "1h30m". */
qerr_t conf_parse_duration_ms(const char *s, int64_t *out);
void conf_free(conf_t *c);
/* Every key with type, default and description, as a Markdown table. */
void conf_print_doc(FILE *out);

/* ---- small helpers ---------------------------------------------------- */

/* Writes 16 lowercase hex digits and a NUL into out[17]. */
void hex16(uint64_t v, char out[17]);

#endif
