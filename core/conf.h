/*
 * core/conf.h: quell's configuration — the key table, YAML loading with
 * FILE:LINE errors, and the structured sections stages compile themselves.
 */
#ifndef QUELL_CONF_H
#define QUELL_CONF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "log.h"

typedef struct {
    char **items;
    size_t n;
} strlist_t;

typedef struct {
    char *key;
    char *value;
    uint32_t line; /* where the file set it (0 = not from a file) */
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

/* The one way a module that compiles a section reports a problem in it:
 * "PATH:LINE:COL: message" into errbuf (LINE:COL of `at`, 1:1 when NULL).
 * conf_fail_at returns QERR_INVALID, so `return conf_fail_at(...)` reads as
 * what it does; conf_warn_at writes "PATH:LINE:COL: warning: message". */
qerr_t conf_fail_at(char *errbuf, size_t errlen, const char *path, const conf_node_t *at,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
qerr_t conf_vfail_at(char *errbuf, size_t errlen, const char *path, const conf_node_t *at,
                     const char *fmt, va_list ap);
void conf_warn_at(char *buf, size_t len, const char *path, const conf_node_t *at, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
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
    int sched_slice_us; /* 0 = the kernel's (core/sched.c) */
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
        char *snapshot_file;          /* "" = none: open incidents do not survive a restart */
        int64_t snapshot_interval_ms; /* periodic snapshots; 0 = only at a clean stop */
    } dedup;
    struct {
        int64_t resolve_timeout_ms; /* an alert without endsAt resolves after this */
    } global;
    struct {
        char *url;    /* "memory" or "redis://HOST:PORT/DB" (dedup/store.c parses it) */
        char *prefix; /* Redis key prefix */
        int64_t timeout_ms;
        int on_error; /* store_on_error_t: 0 fail_open, 1 fail_closed */
        int64_t lease_ms;
        size_t batch;
        int64_t cache_ms;
        size_t cache_entries;
        char *password_file;          /* "" = the URL's password, if any */
        strlist_t sentinels;          /* "host:port" each; empty = store.url names the server */
        char *master_name;            /* the master the sentinels are asked for */
        char *sentinel_password_file; /* "" = the sentinels take no AUTH */
    } store;
    struct {
        char *listen;          /* "" = no HTTP server */
        char *auth_token_file; /* "" = no token */
        size_t max_request_bytes;
        size_t max_alerts;
    } http;
    struct {
        char *file; /* "" = dedup.snapshot_file + ".silences" */
        int64_t retention_ms;
    } silences;
    struct {
        char *topic;   /* "" = no decision log topic */
        size_t recent; /* per worker, for explain and GET /api/v2/alerts */
        size_t open;   /* open alerts kept beyond the rings, for GET /api/v2/alerts */
    } decisions;
    /* Structured sections, NULL when absent from the file: compiled by the
     * module that owns them (rules/ for the rule sections, router/ for the
     * routing ones). */
    conf_node_t *exclusions;     /* rules */
    conf_node_t *noise;          /* rules */
    conf_node_t *inhibit_rules;  /* rules */
    conf_node_t *severity;       /* rules */
    conf_node_t *time_intervals; /* rules: named recurring intervals */
    conf_node_t *grouping;       /* rules: fold-by-labels fingerprints (dedup/group.c) */
    conf_node_t *route;          /* router */
    conf_node_t *receivers;      /* router */
    conf_node_t *runbooks;       /* router */
    conf_node_t *novelty;        /* router */
    conf_node_t *urgency;        /* router */
    char *path;                  /* the file loaded last ("" for defaults): prefixes errors */
    uint32_t *key_lines;         /* per key of the table, its line in `path` (0 = not set
                                    there); NULL for defaults. conf_key_line() reads it */
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
/* Parses a duration as Prometheus does (model.ParseDuration): "250ms", "30s",
 * "5m", "4h", "1d", "2w", "1y", "1h30m"; "0". QERR_INVALID for anything else,
 * a total over 2^63-1 ns included. */
qerr_t conf_parse_duration_ms(const char *s, int64_t *out);
void conf_free(conf_t *c);
/* The line of `path` that set key `name` ("dedup.snapshot_file"); 0 when
 * the file did not set it or no file was loaded. */
uint32_t conf_key_line(const conf_t *c, const char *name);
/* What `quell check` and `quell run` verify on the machine beyond the
 * file's own text: the directory of each file quell writes
 * (dedup.snapshot_file, silences.file) exists, is a directory and is
 * writable, so a wrong path is refused at load rather than logged at the
 * first snapshot. QERR_INVALID with "FILE:LINE: message" in errbuf.
 * replay, suggest and explain read a config without this check: they
 * write none of these files. */
qerr_t conf_check_paths(const conf_t *c, char *errbuf, size_t errlen);
/* Every key with type, default and description, as a Markdown table. */
void conf_print_doc(FILE *out);

#endif
