/*
 * Configuration: one table of keys (conf_keys[] below) is the single source
 * for the defaults, the validation of a YAML file and the generated docs.
 *
 * - Each key has a dotted name ("kafka.brokers"), a type, its default and its
 *   bounds as text in the key's own unit ("4MiB", "1s".."5m"), and the offset
 *   of its field in conf_t. conf_defaults() parses the default texts with the
 *   same code that parses the file, so a default can never be a value the
 *   loader would reject, and the docs print exactly what is applied.
 * - Sections ("kafka:") are not listed separately: a name is a section when
 *   some key starts with "name.". The YAML is nested maps only; dotted keys
 *   are refused so one setting has one spelling.
 * - conf_load() reads the file whole and hands the bytes to
 *   conf_load_buffer() (also tests/fuzz_conf.c's entry point), which loads
 *   them with libyaml's document API; nodes keep their start marks, so every
 *   error is "FILE:LINE: message" (1-based). Input is capped (1 MiB, 32
 *   levels of nesting, 100 anchors) so a hostile file cannot keep libyaml
 *   busy for minutes; see check_limits().
 *   The first error stops the load. Each assignment replaces the old value
 *   only once the new one is complete, so after a failed load the conf_t is
 *   still valid and freeable (defaults plus whatever was read).
 * - Strings, lists and maps are heap copies, defaults included, so
 *   conf_free() has one rule: free everything the table names, then zero.
 *
 * Threads: main() calls this before any thread starts. No state outside the
 * caller's conf_t and the load context on the stack.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "conf.h"

typedef enum {
    CT_INT,      /* int field */
    CT_COUNT,    /* size_t field, a plain integer */
    CT_SIZE,     /* size_t field, bytes: an integer, optionally KiB/MiB/GiB */
    CT_DURATION, /* int64_t field in ms, "1h30m" */
    CT_STRING,   /* char * field, never empty */
    CT_ENUM,     /* int-sized enum field; values "a|b|c", index = enum value */
    CT_LIST,     /* strlist_t field; min/max bound the item count */
    CT_MAP,      /* conf_kv_t * field plus a size_t count; max bounds the count */
    CT_TREE,     /* conf_node_t * field: a section another module compiles */
} conf_type_t;

/* Per type: the name the docs print, and what a value looks like for
 * "expected ..." errors. */
static const struct {
    const char *doc, *expect;
} type_info[] = {
    [CT_INT] = {"int", "an integer"},
    [CT_COUNT] = {"int", "an integer"},
    [CT_SIZE] = {"size", "a size (bytes, or a number with KiB, MiB or GiB, e.g. 4MiB)"},
    [CT_DURATION] = {"duration",
                     "a duration (a number with a unit ms, s, m, h, d, w or y, e.g. 30s or 1h30m)"},
    [CT_STRING] = {"string", "a string"},
    [CT_ENUM] = {"enum", "one of the values"}, /* load_value() lists them */
    [CT_LIST] = {"string list", "a list of strings"},
    [CT_MAP] = {"string map", "a mapping of names to values"},
    [CT_TREE] = {"section", "a mapping or a list"},
};

typedef struct {
    const char *name; /* dotted path in the YAML */
    conf_type_t type;
    const char *def;     /* default as text; lists comma-separated; maps "" */
    const char *min;     /* bounds as text in the key's unit; both required */
    const char *max;     /*   for numbers, optional counts for lists/maps */
    const char *values;  /* CT_ENUM only */
    size_t offset;       /* the field in conf_t */
    size_t count_offset; /* CT_MAP only: its size_t entry count */
    const char *desc;    /* Markdown, no '|': it goes in a table cell */
} conf_key_t;

/* The enum values are matched by position in `values`, so the C enums must
 * keep this numbering and be int-sized (they are stored through an int *). */
_Static_assert(LOG_ERROR == 0 && LOG_WARN == 1 && LOG_INFO == 2 && LOG_DEBUG == 3, "log.level");
_Static_assert(LOG_FMT_LOGFMT == 0 && LOG_FMT_JSON == 1, "log.format");
_Static_assert(FP_XXH3 == 0 && FP_ALERTMANAGER == 1, "dedup.fingerprint");
_Static_assert(sizeof(log_level_t) == sizeof(int) && sizeof(log_format_t) == sizeof(int) &&
                   sizeof(fingerprint_mode_t) == sizeof(int),
               "enums are stored as int");

#define F(field) offsetof(conf_t, field)

static const conf_key_t conf_keys[] = {
    /* core */
    {"workers", CT_INT, "0", "0", "256", NULL, F(workers), 0,
     "Dedup worker threads; 0 = half the CPU cores, at least one (a decision costs a fraction "
     "of decoding the alert, see ingest.threads)."},
    {"ring_bytes", CT_SIZE, "4MiB", "64KiB", "1GiB", NULL, F(ring_bytes), 0,
     "Capacity of each worker's input ring."},
    {"sched_slice_us", CT_INT, "100", "0", "100000", NULL, F(sched_slice_us), 0,
     "Scheduler time slice quell's threads ask of Linux (EEVDF custom slice, kernel 6.12+; "
     "no privilege needed), in microseconds: a thread woken by a message then runs before a busy "
     "neighbour's slice is over, which keeps decision latency low on cores shared with a broker "
     "or batch jobs. 0 = the kernel's default (1.4 ms on 2 cores); the kernel raises values "
     "under 100. Older kernels ignore it."},
    /* log */
    {"log.level", CT_ENUM, "info", NULL, NULL, "error|warn|info|debug", F(log.level), 0,
     "Least severe level written."},
    {"log.format", CT_ENUM, "logfmt", NULL, NULL, "logfmt|json", F(log.format), 0,
     "Format of log lines on stderr."},
    /* kafka */
    {"kafka.brokers", CT_STRING, "embedded", NULL, NULL, NULL, F(kafka.brokers), 0,
     "Bootstrap brokers (host:port,...); `embedded` starts an in-process mock cluster."},
    {"kafka.group_id", CT_STRING, "quell", NULL, NULL, NULL, F(kafka.group_id), 0,
     "Consumer group id."},
    {"kafka.topics", CT_LIST, "alerts", "1", NULL, NULL, F(kafka.topics), 0,
     "Topics alerts are consumed from."},
    {"kafka.output_topic", CT_STRING, "incidents", NULL, NULL, NULL, F(kafka.output_topic), 0,
     "Topic deduplicated incidents are produced to."},
    {"kafka.dlq_topic", CT_STRING, "alerts-dlq", NULL, NULL, NULL, F(kafka.dlq_topic), 0,
     "Dead-letter topic for messages that cannot be decoded."},
    {"kafka.embedded_partitions", CT_INT, "8", "1", "256", NULL, F(kafka.embedded_partitions), 0,
     "Partitions per topic of the embedded mock cluster."},
    {"kafka.session_timeout", CT_DURATION, "10s", "1s", "5m", NULL, F(kafka.session_timeout_ms), 0,
     "Consumer group session timeout."},
    {"kafka.commit_interval", CT_DURATION, "1s", "10ms", "1m", NULL, F(kafka.commit_interval_ms), 0,
     "How often offsets of fully delivered messages are committed; a crash re-reads at most this "
     "much (with periodic snapshots, what the last one does not cover: see "
     "dedup.snapshot_interval)."},
    {"kafka.properties", CT_MAP, "", NULL, "1024", NULL, F(kafka.properties), F(kafka.n_properties),
     "librdkafka properties passed through as they are (e.g. `security.protocol`); "
     "values are taken as text."},
    /* ingest */
    {"ingest.threads", CT_INT, "0", "0", "16", NULL, F(ingest.threads), 0,
     "Threads decoding and fingerprinting Kafka messages, the consumer's own included; "
     "each takes a share of the partitions. 0 = one per CPU core."},
    {"ingest.max_message_bytes", CT_SIZE, "1MiB", "1KiB", "64MiB", NULL,
     F(ingest.max_message_bytes), 0, "Larger Kafka messages are dead-lettered."},
    {"ingest.max_labels", CT_COUNT, "64", "1", "1024", NULL, F(ingest.max_labels), 0,
     "Most labels an alert may carry."},
    {"ingest.max_name_bytes", CT_SIZE, "256", "1", "65536", NULL, F(ingest.max_name_bytes), 0,
     "Longest label or annotation name."},
    {"ingest.max_value_bytes", CT_SIZE, "4KiB", "1", "1MiB", NULL, F(ingest.max_value_bytes), 0,
     "Longest label value."},
    {"ingest.max_annotation_bytes", CT_SIZE, "64KiB", "1", "16MiB", NULL,
     F(ingest.max_annotation_bytes), 0, "Longest annotation value."},
    /* dedup */
    {"dedup.window", CT_DURATION, "5m", "1s", "30d", NULL, F(dedup.window_ms), 0,
     "Repeats of a fingerprint within this window are folded into one incident."},
    {"dedup.repeat_interval", CT_DURATION, "4h", "1s", "365d", NULL, F(dedup.repeat_interval_ms), 0,
     "A still-firing incident is re-sent after this long."},
    {"dedup.max_fingerprints", CT_COUNT, "1000000", "1", "1000000000", NULL,
     F(dedup.max_fingerprints), 0, "Fingerprints tracked at once, over all workers."},
    {"dedup.fingerprint", CT_ENUM, "xxh3", NULL, NULL, "xxh3|alertmanager", F(dedup.fingerprint), 0,
     "Fingerprint function; `alertmanager` matches Alertmanager's fingerprints."},
    {"dedup.fingerprint_labels", CT_LIST, "", NULL, NULL, NULL, F(dedup.fingerprint_labels), 0,
     "Labels that make the fingerprint; empty = all labels. Exclusive with `dedup.ignore_labels`."},
    {"dedup.ignore_labels", CT_LIST, "", NULL, NULL, NULL, F(dedup.ignore_labels), 0,
     "Labels left out of the fingerprint."},
    {"dedup.snapshot_file", CT_STRING, "", "0", NULL, NULL, F(dedup.snapshot_file), 0,
     "Where open incidents are saved on shutdown and restored at start (memory store); "
     "empty = not kept, so a restart re-forwards incidents still open. Its directory must exist "
     "and be writable (`quell check` and `quell run` refuse it otherwise)."},
    {"dedup.snapshot_interval", CT_DURATION, "5s", "0ms", "1h", NULL, F(dedup.snapshot_interval_ms),
     0,
     "How often the snapshot file (with FILE.inhibit, and FILE.groups with a `route:`) is "
     "also written while running (memory store), so a crash re-sends at most the incidents "
     "opened since and loses no open group; offsets are committed only as far as the last one "
     "written covers, so they trail by about this much; `0s` = only at a clean stop."},
    /* global (Alertmanager's section) */
    {"global.resolve_timeout", CT_DURATION, "5m", "10ms", "365d", NULL,
     F(global.resolve_timeout_ms), 0,
     "A routed alert that states no endsAt is resolved in its groups when it has not occurred "
     "again for this long; one with endsAt, once that passes (Alertmanager's "
     "`global.resolve_timeout`); also the endsAt `GET /api/v2/alerts` shows for it. Read at "
     "start."},
    /* store */
    {"store.url", CT_STRING, "memory", NULL, NULL, NULL, F(store.url), 0,
     "Where dedup windows live: `memory` (this process) or `redis://HOST:PORT/DB`, shared by "
     "every instance of the consumer group (see Running several instances)."},
    {"store.prefix", CT_STRING, "quell:", NULL, NULL, NULL, F(store.prefix), 0,
     "Prefix of the Redis keys (one per fingerprint); give each deployment its own."},
    {"store.timeout", CT_DURATION, "50ms", "1ms", "10s", NULL, F(store.timeout_ms), 0,
     "Longest a Redis connect or round trip may take before the store counts as failed."},
    {"store.on_error", CT_ENUM, "fail_open", NULL, NULL, "fail_open|fail_closed", F(store.on_error),
     0,
     "When Redis fails: `fail_open` decides on the worker's own table and forwards, marked "
     "`degraded`; `fail_closed` holds alerts (offsets uncommitted) until Redis is back."},
    {"store.lease", CT_DURATION, "30s", "1s", "1h", NULL, F(store.lease_ms), 0,
     "How long a forward not yet confirmed delivered stays its instance's; after that another "
     "instance re-forwards it under the same incident id."},
    {"store.batch", CT_COUNT, "1024", "1", "65536", NULL, F(store.batch), 0,
     "Alerts a worker decides per Redis round trip, at most."},
    {"store.cache", CT_DURATION, "1s", "0ms", "1m", NULL, F(store.cache_ms), 0,
     "How long a worker trusts what Redis answered to suppress duplicates without asking again; "
     "`0ms` asks every time."},
    {"store.cache_entries", CT_COUNT, "65536", "1024", "100000000", NULL, F(store.cache_entries), 0,
     "Fingerprints each worker's cache of Redis answers holds."},
    {"store.password_file", CT_STRING, "", "0", NULL, NULL, F(store.password_file), 0,
     "File holding the Redis password (AUTH; with a user in `store.url`, ACL `AUTH user pass`); "
     "overrides a password in the URL. Empty = the URL's, if any."},
    {"store.sentinels", CT_LIST, "", NULL, NULL, NULL, F(store.sentinels), 0,
     "Redis Sentinels (`host:port`, ...) asked for the master of `store.master_name`, again "
     "after every lost connection or READONLY reply (failover); `store.url` then gives only the "
     "user, password and database. Empty = `store.url` names the server."},
    {"store.master_name", CT_STRING, "", "0", NULL, NULL, F(store.master_name), 0,
     "The master name the sentinels monitor (required with `store.sentinels`)."},
    {"store.sentinel_password_file", CT_STRING, "", "0", NULL, NULL,
     F(store.sentinel_password_file), 0,
     "File holding the password the sentinels require (their `requirepass`), sent as AUTH "
     "before asking them for the master; empty = the sentinels take no AUTH. Needs "
     "`store.sentinels`."},
    /* http */
    {"http.listen", CT_STRING, HTTP_DEFAULT_LISTEN, "0", NULL, NULL, F(http.listen), 0,
     "Address of the HTTP server (`/metrics`, `/-/healthy`, `/-/ready`, the alert intake, "
     "`/api/v1/top`); `host:port`, `[v6]:port`; empty = no HTTP server."},
    {"http.auth_token_file", CT_STRING, "", "0", NULL, NULL, F(http.auth_token_file), 0,
     "File holding a bearer token the intake and API endpoints require; empty = none. "
     "`/metrics` and the health endpoints never need it."},
    {"http.max_request_bytes", CT_SIZE, "4MiB", "1KiB", "256MiB", NULL, F(http.max_request_bytes),
     0, "Larger request bodies are refused with 413."},
    {"http.max_alerts", CT_COUNT, "10000", "1", "1000000", NULL, F(http.max_alerts), 0,
     "Most alerts one `POST /api/v2/alerts` may carry (413 above)."},
    /* silences and the decision log */
    {"silences.file", CT_STRING, "", "0", NULL, NULL, F(silences.file), 0,
     "Where silences set over the API are kept (memory store; written atomically on every "
     "change, read at start); empty = `dedup.snapshot_file` + `.silences`, or not kept when "
     "that is empty too. With the Redis store they live in Redis. Its directory must exist and "
     "be writable, as for `dedup.snapshot_file`."},
    {"silences.retention", CT_DURATION, "120h", "1m", "365d", NULL, F(silences.retention_ms), 0,
     "How long an expired silence is still listed (Alertmanager's `--data.retention`)."},
    {"decisions.topic", CT_STRING, "", "0", NULL, NULL, F(decisions.topic), 0,
     "Kafka topic that gets one JSON record per decision (fingerprint, labels, decision, "
     "reason, rule or silence id, incident id, times); empty = off."},
    {"decisions.recent", CT_COUNT, "1024", "0", "1000000", NULL, F(decisions.recent), 0,
     "Decision records each worker keeps in memory (a run of the same decision on one "
     "fingerprint is one record, with its count) for `quell explain --fingerprint`, "
     "`/api/v1/explain` and `GET /api/v2/alerts`; 0 = none."},
    {"decisions.open", CT_COUNT, "16384", "0", "10000000", NULL, F(decisions.open), 0,
     "Open alerts whose records left those rings, still listed by `GET /api/v2/alerts` (one "
     "record, ~1.1 KiB, per alert; memory taken as they come); beyond it the oldest give way, "
     "counted in quell_decision_log_kept_lost_total; 0 = only what the rings hold."},
    /* structured sections, compiled by their modules */
    {"exclusions", CT_TREE, "", NULL, NULL, NULL, F(exclusions), 0,
     "Exclusion rules (see docs/rules.md)."},
    {"noise", CT_TREE, "", NULL, NULL, NULL, F(noise), 0,
     "Flapping and transient-alert suppression (see docs/rules.md)."},
    {"inhibit_rules", CT_TREE, "", NULL, NULL, NULL, F(inhibit_rules), 0,
     "Inhibition rules, Alertmanager semantics (see docs/rules.md)."},
    {"severity", CT_TREE, "", NULL, NULL, NULL, F(severity), 0,
     "Mapping of source severities to SEV1..SEV5 (see docs/rules.md)."},
    {"time_intervals", CT_TREE, "", NULL, NULL, NULL, F(time_intervals), 0,
     "Named recurring time intervals rules refer to (see docs/rules.md)."},
    {"grouping", CT_TREE, "", NULL, NULL, NULL, F(grouping), 0,
     "Rules folding alerts into one fingerprint by a subset of their labels, ids in values "
     "normalised (see docs/tuning.md); read at start, not on reload."},
    {"route", CT_TREE, "", NULL, NULL, NULL, F(route), 0,
     "The routing tree, Alertmanager's shape (see docs/routing.md)."},
    {"receivers", CT_TREE, "", NULL, NULL, NULL, F(receivers), 0,
     "Receivers incidents are delivered to (see docs/routing.md)."},
    {"runbooks", CT_TREE, "", NULL, NULL, NULL, F(runbooks), 0,
     "Rules attaching runbook URLs to incidents (see docs/routing.md)."},
    {"novelty", CT_TREE, "", NULL, NULL, NULL, F(novelty), 0,
     "How never-seen-before incidents are flagged (see docs/routing.md)."},
    {"urgency", CT_TREE, "", NULL, NULL, NULL, F(urgency), 0,
     "Which incidents are high urgency (see docs/routing.md)."},
};

#undef F
#define N_KEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

static const conf_key_t *key_find(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(conf_keys[i].name, name) == 0) return &conf_keys[i];
    return NULL;
}

/* A section is any name some key continues with ".": nothing to list. */
static bool is_section(const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < N_KEYS; i++)
        if (strncmp(conf_keys[i].name, name, len) == 0 && conf_keys[i].name[len] == '.')
            return true;
    return false;
}

/* ---- value parsing ---------------------------------------------------- */

/* Reads one or more digits; NULL when there are none or they overflow. */
static const char *parse_digits(const char *s, int64_t *out)
{
    int64_t n = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (n > (INT64_MAX - d) / 10) return NULL;
        n = n * 10 + d;
    }
    if (p == s) return NULL;
    *out = n;
    return p;
}

static int parse_int(const char *s, int64_t *out)
{
    bool neg = (*s == '-');
    int64_t n;
    const char *end = parse_digits(s + neg, &n);
    if (!end || *end) return -1;
    *out = neg ? -n : n;
    return 0;
}

/* Binary units only: "4MB" meaning 4,000,000 or 4 MiB is a guess we refuse. */
static int parse_size(const char *s, int64_t *out)
{
    static const struct {
        const char *suffix;
        int64_t mul;
    } units[] = {
        {"", 1},
        {"KiB", 1LL << 10},
        {"MiB", 1LL << 20},
        {"GiB", 1LL << 30},
    };
    int64_t n;
    const char *end = parse_digits(s, &n);
    if (!end) return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) != 0) continue;
        if (n > INT64_MAX / units[i].mul) return -1;
        *out = n * units[i].mul;
        return 0;
    }
    return -1;
}

/* Prometheus' model.ParseDuration, the grammar Alertmanager's and
 * Prometheus' configs use: "0", or numbers each followed by a unit of
 * y (365d), w, d, h, m, s, ms, from largest to smallest, each at most once
 * ("1y2w", "1h30m", "90s"). No sign, fraction, space or empty string; a
 * bare number other than 0 is refused ("10" could mean seconds or
 * milliseconds). A total over Go's time.Duration (2^63-1 ns, about 292
 * years) is refused as Prometheus refuses it, though milliseconds would
 * hold it: a config one accepts, the other reads too. */
qerr_t conf_parse_duration_ms(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        {"y", 365 * 86400000LL}, {"w", 7 * 86400000LL}, {"d", 86400000LL}, {"h", 3600000LL},
        {"m", 60000LL},          {"s", 1000LL},         {"ms", 1LL},
    };
    const size_t n_units = sizeof(units) / sizeof(units[0]);
    const int64_t max_ms = INT64_MAX / 1000000; /* whole ms within 2^63-1 ns */
    if (!s || !out || !*s) return QERR_INVALID;
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return QERR_OK;
    }
    int64_t total = 0;
    size_t next_rank = 0; /* index of the largest unit still allowed */
    for (const char *p = s; *p;) {
        int64_t n;
        p = parse_digits(p, &n);
        if (!p) return QERR_INVALID;
        /* The unit is every non-digit up to the next number, as Prometheus
         * reads it: "1hm" has the unknown unit "hm", not h then m. */
        size_t len = 0;
        while (p[len] && (p[len] < '0' || p[len] > '9')) len++;
        size_t u = 0;
        while (u < n_units && (strlen(units[u].unit) != len || strncmp(p, units[u].unit, len) != 0))
            u++;
        if (u == n_units || u < next_rank) return QERR_INVALID;
        if (n > (max_ms - total) / units[u].ms) return QERR_INVALID;
        total += n * units[u].ms;
        p += len;
        next_rank = u + 1;
    }
    *out = total;
    return QERR_OK;
}

static int parse_number(conf_type_t t, const char *s, int64_t *out)
{
    switch (t) {
    case CT_SIZE: return parse_size(s, out);
    case CT_DURATION: return conf_parse_duration_ms(s, out) == QERR_OK ? 0 : -1;
    default: return parse_int(s, out);
    }
}

/* Bounds are text in the key's unit so the docs print them as written. A
 * bound that does not parse, or a number without both, is a table bug:
 * conf_defaults() checks every key through here and aborts on it. */
static int key_bounds(const conf_key_t *k, int64_t *lo, int64_t *hi)
{
    bool numeric = k->type <= CT_DURATION;
    conf_type_t unit = numeric ? k->type : CT_COUNT;
    *lo = numeric ? INT64_MIN : 0;
    *hi = INT64_MAX;
    if (numeric && (!k->min || !k->max)) return -1;
    if (k->min && parse_number(unit, k->min, lo) != 0) return -1;
    if (k->max && parse_number(unit, k->max, hi) != 0) return -1;
    return 0;
}

/* Index of `s` in "a|b|c", or -1. */
static int enum_index(const char *values, const char *s)
{
    size_t len = strlen(s);
    int i = 0;
    for (const char *v = values; v; i++) {
        const char *bar = strchr(v, '|');
        size_t vlen = bar ? (size_t)(bar - v) : strlen(v);
        if (vlen == len && strncmp(v, s, len) == 0) return i;
        v = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* "a|b" -> "<q>a<q>, <q>b<q>": for error messages and the docs. */
static void enum_join(const char *values, const char *quote, char *buf, size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (const char *v = values; v && pos < len;) {
        const char *bar = strchr(v, '|');
        int vlen = bar ? (int)(bar - v) : (int)strlen(v);
        int w =
            snprintf(buf + pos, len - pos, "%s%s%.*s%s", pos ? ", " : "", quote, vlen, v, quote);
        if (w < 0) break;
        pos += (size_t)w;
        v = bar ? bar + 1 : NULL;
    }
}

/* ---- assigning values ------------------------------------------------- */

static void list_free(strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void map_free(conf_kv_t **kv, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        free((*kv)[i].key);
        free((*kv)[i].value);
    }
    free(*kv);
    *kv = NULL;
    *n = 0;
}

/* Writes an error message for the caller to prefix with FILE:LINE: key. */
__attribute__((format(printf, 3, 4))) static qerr_t bad(char *msg, size_t msglen, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return QERR_INVALID;
}

/* Parses `text` for a scalar key, checks its bounds and stores it. On error
 * returns QERR_INVALID (or QERR_NOMEM) with a message in msg and leaves the
 * field as it was. */
static qerr_t set_scalar(conf_t *c, const conf_key_t *k, const char *text, char *msg, size_t msglen)
{
    void *field = (char *)c + k->offset;
    int64_t v, lo, hi;
    if (k->type == CT_STRING) {
        /* An empty broker list, group or topic name is always a mistake;
         * optional strings (a file path) say so with min "0". */
        if (!*text && !(k->min && strcmp(k->min, "0") == 0))
            return bad(msg, msglen, "must not be empty");
        char *dup = strdup(text);
        if (!dup) return QERR_NOMEM;
        free(*(char **)field);
        *(char **)field = dup;
        return QERR_OK;
    }
    if (k->type == CT_ENUM) {
        int idx = enum_index(k->values, text);
        if (idx < 0) {
            char allowed[128];
            enum_join(k->values, "", allowed, sizeof(allowed));
            return bad(msg, msglen, "\"%s\" is not one of: %s", text, allowed);
        }
        *(int *)field = idx;
        return QERR_OK;
    }
    if (key_bounds(k, &lo, &hi) != 0) return bad(msg, msglen, "bad bounds in the key table");
    if (parse_number(k->type, text, &v) != 0)
        return bad(msg, msglen, "\"%s\" is not %s", text, type_info[k->type].expect);
    /* The storage checks guard the casts even if a bound were too wide. */
    if (v < lo || v > hi || (k->type == CT_INT && (v < INT_MIN || v > INT_MAX)) ||
        ((k->type == CT_COUNT || k->type == CT_SIZE) && v < 0))
        return bad(msg, msglen, "%s is out of range %s..%s", text, k->min, k->max);
    switch (k->type) {
    case CT_INT: *(int *)field = (int)v; break;
    case CT_COUNT:
    case CT_SIZE: *(size_t *)field = (size_t)v; break;
    default: *(int64_t *)field = v; break;
    }
    return QERR_OK;
}

/* Checks a list's or map's size against the key's count bounds. */
static bool count_ok(const conf_key_t *k, size_t n, char *msg, size_t msglen)
{
    int64_t lo, hi;
    const char *one = k->type == CT_LIST ? "item" : "entry";
    const char *many = k->type == CT_LIST ? "items" : "entries";
    if (key_bounds(k, &lo, &hi) != 0) return bad(msg, msglen, "bad bounds in the key table") == 0;
    if ((int64_t)n < lo)
        return bad(msg, msglen, "needs at least %s %s", k->min, lo == 1 ? one : many) == 0;
    if ((int64_t)n > hi) return bad(msg, msglen, "has more than %s %s", k->max, many) == 0;
    return true;
}

/* Replaces a list field with `l` (taking it) once its size is checked. */
static qerr_t set_list(conf_t *c, const conf_key_t *k, strlist_t *l, char *msg, size_t msglen)
{
    if (!count_ok(k, l->n, msg, msglen)) {
        list_free(l);
        return QERR_INVALID;
    }
    strlist_t *field = (strlist_t *)((char *)c + k->offset);
    list_free(field);
    *field = *l;
    return QERR_OK;
}

/* Defaults write lists as "a,b"; the file uses YAML sequences. */
static qerr_t set_list_text(conf_t *c, const conf_key_t *k, const char *text, char *msg,
                            size_t msglen)
{
    strlist_t l = {0};
    size_t n = *text ? 1 : 0;
    for (const char *p = text; *p; p++) n += (*p == ',');
    l.items = calloc(n ? n : 1, sizeof(char *));
    if (!l.items) return QERR_NOMEM;
    for (const char *p = text; *p && l.n < n;) {
        size_t len = strcspn(p, ",");
        if (!(l.items[l.n] = strndup(p, len))) {
            list_free(&l);
            return QERR_NOMEM;
        }
        l.n++;
        p += len + (p[len] == ',');
    }
    return set_list(c, k, &l, msg, msglen);
}

/* ---- loading a file --------------------------------------------------- */

typedef struct {
    const char *path;
    yaml_document_t *doc;
    conf_t *c;
    char *err;
    size_t errlen;
    size_t key_line[N_KEYS]; /* where each key was set; 0 = not in the file */
} load_t;

__attribute__((format(printf, 3, 4))) static qerr_t fail(load_t *ld, size_t line, const char *fmt,
                                                         ...)
{
    if (ld->err && ld->errlen) {
        int w = snprintf(ld->err, ld->errlen, "%s:%zu: ", ld->path, line);
        if (w >= 0 && (size_t)w < ld->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ld->err + w, ld->errlen - (size_t)w, fmt, ap);
            va_end(ap);
        }
    }
    return QERR_INVALID;
}

static size_t node_line(const yaml_node_t *n) { return n ? n->start_mark.line + 1 : 1; }

static yaml_node_t *node_get(load_t *ld, yaml_node_item_t id)
{
    return yaml_document_get_node(ld->doc, id);
}

static const char *node_kind(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE    ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a scalar";
}

/* A plain "~", "null" or nothing: YAML's null, as in "kafka:" with no keys. */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* The text of a node that must be a non-null scalar; NULL once an error is
 * reported, `what` naming the value. A NUL byte is refused because a C
 * string would silently cut the value there. */
static const char *scalar_text(load_t *ld, const yaml_node_t *n, const char *what,
                               const char *expect)
{
    if (n->type != YAML_SCALAR_NODE)
        fail(ld, node_line(n), "%s: expected %s, got %s", what, expect, node_kind(n));
    else if (is_null(n))
        fail(ld, node_line(n), "%s: missing value", what);
    else if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        fail(ld, node_line(n), "%s: contains a NUL character", what);
    else
        return (const char *)n->data.scalar.value;
    return NULL;
}

static qerr_t load_list(load_t *ld, const conf_key_t *k, yaml_node_t *v)
{
    strlist_t l = {0};
    char msg[256], what[160];
    qerr_t rc = QERR_OK;
    if (!is_null(v) && v->type != YAML_SEQUENCE_NODE)
        return fail(ld, node_line(v), "%s: expected %s, got %s", k->name, type_info[k->type].expect,
                    node_kind(v));
    if (v->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it = v->data.sequence.items.start, *top = v->data.sequence.items.top;
        if (!(l.items = calloc((size_t)(top - it) + 1, sizeof(char *)))) return QERR_NOMEM;
        snprintf(what, sizeof(what), "%s item", k->name);
        for (; it < top; it++) {
            yaml_node_t *item = node_get(ld, *it);
            const char *s = scalar_text(ld, item, what, "a string");
            if (!s) {
                rc = QERR_INVALID;
                goto out;
            }
            if (!*s) {
                rc = fail(ld, node_line(item), "%s: must not be empty", what);
                goto out;
            }
            if (!(l.items[l.n++] = strdup(s))) {
                rc = QERR_NOMEM;
                goto out;
            }
        }
    }
    rc = set_list(ld->c, k, &l, msg, sizeof(msg)); /* takes l, also on error */
    return rc == QERR_INVALID ? fail(ld, node_line(v), "%s: %s", k->name, msg) : rc;
out:
    list_free(&l);
    return rc;
}

static qerr_t load_map(load_t *ld, const conf_key_t *k, yaml_node_t *v)
{
    conf_kv_t *kv = NULL;
    size_t n = 0;
    char msg[256], what[320];
    qerr_t rc = QERR_OK;
    if (!is_null(v) && v->type != YAML_MAPPING_NODE)
        return fail(ld, node_line(v), "%s: expected %s, got %s", k->name, type_info[k->type].expect,
                    node_kind(v));
    if (v->type == YAML_MAPPING_NODE) {
        yaml_node_pair_t *p = v->data.mapping.pairs.start, *top = v->data.mapping.pairs.top;
        /* Bound the count before the quadratic duplicate check below. */
        if (!count_ok(k, (size_t)(top - p), msg, sizeof(msg)))
            return fail(ld, node_line(v), "%s: %s", k->name, msg);
        if (!(kv = calloc((size_t)(top - p) + 1, sizeof(*kv)))) return QERR_NOMEM;
        for (; p < top; p++) {
            yaml_node_t *kn = node_get(ld, p->key);
            const char *key = scalar_text(ld, kn, k->name, "a string as name"), *val;
            if (!key) {
                rc = QERR_INVALID;
                goto out;
            }
            snprintf(what, sizeof(what), "%s.%s", k->name, key);
            for (size_t i = 0; i < n; i++)
                if (strcmp(kv[i].key, key) == 0) {
                    rc = fail(ld, node_line(kn), "duplicate key \"%s\"", what);
                    goto out;
                }
            /* Any scalar is taken as its text: "true", "5", "0.5" go to
             * librdkafka as written, and librdkafka validates them. */
            val = scalar_text(ld, node_get(ld, p->value), what, "a scalar value");
            if (!val) {
                rc = QERR_INVALID;
                goto out;
            }
            conf_kv_t *e = &kv[n++];
            e->line = (uint32_t)node_line(kn);
            e->key = strdup(key);
            e->value = strdup(val);
            if (!e->key || !e->value) {
                rc = QERR_NOMEM;
                goto out;
            }
        }
    }
    conf_kv_t **field = (conf_kv_t **)((char *)ld->c + k->offset);
    size_t *count = (size_t *)((char *)ld->c + k->count_offset);
    map_free(field, count);
    *field = kv;
    *count = n;
    return QERR_OK;
out:
    map_free(&kv, &n);
    return rc;
}

/* Aliases are expanded when a tree is copied, so a few anchors could stand
 * for millions of nodes ("billion laughs"); a recursive alias, for a cycle.
 * Both limits are far beyond a real config. */
#define CONF_MAX_TREE_NODES 200000
#define CONF_MAX_TREE_DEPTH 64

static void tree_free_children(conf_node_t *n)
{
    for (size_t i = 0; i < n->n; i++) {
        tree_free_children(&n->items[i]);
        if (n->keys) free(n->keys[i].text);
    }
    free(n->items);
    free(n->keys);
    free(n->text);
}

static void tree_free(conf_node_t **t)
{
    if (!*t) return;
    tree_free_children(*t);
    free(*t);
    *t = NULL;
}

static qerr_t scalar_copy(load_t *ld, const yaml_node_t *y, conf_node_t *out)
{
    out->line = (uint32_t)y->start_mark.line + 1;
    out->col = (uint32_t)y->start_mark.column + 1;
    if (is_null(y)) {
        out->kind = CONF_NODE_NULL;
        out->text = strdup("");
        return out->text ? QERR_OK : QERR_NOMEM;
    }
    out->kind = CONF_NODE_SCALAR;
    if (strlen((const char *)y->data.scalar.value) != y->data.scalar.length)
        return fail(ld, out->line, "contains a NUL character");
    out->quoted = y->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                  y->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    out->text = strdup((const char *)y->data.scalar.value);
    return out->text ? QERR_OK : QERR_NOMEM;
}

/* Copies a YAML node into `out` (zeroed by the caller), children first
 * allocated then filled, so a failure leaves a tree tree_free_children can
 * free. */
static qerr_t tree_copy(load_t *ld, const yaml_node_t *y, conf_node_t *out, size_t depth,
                        size_t *budget)
{
    if (depth > CONF_MAX_TREE_DEPTH || *budget == 0)
        return fail(ld, node_line(y), "YAML aliases expand to more than %d nodes or %d levels",
                    CONF_MAX_TREE_NODES, CONF_MAX_TREE_DEPTH);
    (*budget)--;
    out->line = (uint32_t)y->start_mark.line + 1;
    out->col = (uint32_t)y->start_mark.column + 1;
    if (y->type == YAML_SCALAR_NODE) return scalar_copy(ld, y, out);
    if (y->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it = y->data.sequence.items.start, *top = y->data.sequence.items.top;
        out->kind = CONF_NODE_SEQ;
        if (!(out->items = calloc((size_t)(top - it) + 1, sizeof(conf_node_t)))) return QERR_NOMEM;
        for (; it < top; it++) {
            qerr_t rc = tree_copy(ld, node_get(ld, *it), &out->items[out->n++], depth + 1, budget);
            if (rc != QERR_OK) return rc;
        }
        return QERR_OK;
    }
    yaml_node_pair_t *p = y->data.mapping.pairs.start, *top = y->data.mapping.pairs.top;
    size_t cap = (size_t)(top - p) + 1;
    out->kind = CONF_NODE_MAP;
    if (!(out->items = calloc(cap, sizeof(conf_node_t))) ||
        !(out->keys = calloc(cap, sizeof(conf_node_t))))
        return QERR_NOMEM;
    for (; p < top; p++) {
        yaml_node_t *kn = node_get(ld, p->key);
        conf_node_t *key = &out->keys[out->n], *val = &out->items[out->n];
        out->n++;
        if (!scalar_text(ld, kn, "key", "a string as key")) return QERR_INVALID;
        qerr_t rc = scalar_copy(ld, kn, key);
        if (rc != QERR_OK) return rc;
        for (size_t i = 0; i + 1 < out->n; i++)
            if (strcmp(out->keys[i].text, key->text) == 0)
                return fail(ld, key->line, "duplicate key \"%s\"", key->text);
        if ((rc = tree_copy(ld, node_get(ld, p->value), val, depth + 1, budget)) != QERR_OK)
            return rc;
    }
    return QERR_OK;
}

static qerr_t load_tree(load_t *ld, const conf_key_t *k, yaml_node_t *v)
{
    conf_node_t **field = (conf_node_t **)((char *)ld->c + k->offset);
    size_t budget = CONF_MAX_TREE_NODES;
    conf_node_t *t = calloc(1, sizeof(*t));
    if (!t) return QERR_NOMEM;
    qerr_t rc = tree_copy(ld, v, t, 0, &budget);
    if (rc != QERR_OK) {
        tree_free(&t);
        return rc;
    }
    tree_free(field);
    *field = t;
    return QERR_OK;
}

const conf_node_t *conf_node_get(const conf_node_t *map, const char *key)
{
    if (!map || map->kind != CONF_NODE_MAP) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i].text, key) == 0) return &map->items[i];
    return NULL;
}

static qerr_t load_value(load_t *ld, const conf_key_t *k, yaml_node_t *v)
{
    char msg[512], expect[160] = "one of: ";
    if (k->type == CT_TREE) return load_tree(ld, k, v);
    if (k->type == CT_LIST) return load_list(ld, k, v);
    if (k->type == CT_MAP) return load_map(ld, k, v);
    if (k->type == CT_ENUM) enum_join(k->values, "", expect + 8, sizeof(expect) - 8);
    const char *text =
        scalar_text(ld, v, k->name, k->type == CT_ENUM ? expect : type_info[k->type].expect);
    if (!text) return QERR_INVALID;
    qerr_t rc = set_scalar(ld->c, k, text, msg, sizeof(msg));
    return rc == QERR_INVALID ? fail(ld, node_line(v), "%s: %s", k->name, msg) : rc;
}

/* Edit distance counting a swap of neighbours as one edit (optimal string
 * alignment): "levle" is one typo from "level". Long names get no hint. */
static size_t edit_distance(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t rows[3][65]; /* rows i-2, i-1, i, used round-robin */
    if (alen > 64 || blen > 64) return SIZE_MAX;
    for (size_t j = 0; j <= blen; j++) rows[0][j] = j;
    for (size_t i = 1; i <= alen; i++) {
        size_t *cur = rows[i % 3], *up = rows[(i - 1) % 3], *up2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            size_t best = up[j - 1] + (a[i - 1] != b[j - 1]);
            if (up[j] + 1 < best) best = up[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                up2[j - 2] + 1 < best)
                best = up2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[alen % 3][blen];
}

static qerr_t unknown_key(load_t *ld, size_t line, const char *name)
{
    const char *best = NULL;
    size_t best_len = 0, best_dist = 3; /* hint within two edits only */
    size_t len = strlen(name);
    for (size_t i = 0; i < N_KEYS; i++) {
        /* Candidates: the key and each of its sections ("kafka"). */
        const char *kn = conf_keys[i].name;
        for (size_t clen = 1; clen <= strlen(kn); clen++) {
            if (kn[clen] != '.' && kn[clen] != '\0') continue;
            size_t d = edit_distance(name, len, kn, clen);
            /* Two edits turn any three-letter name into another ("foo" into
             * "log"): short names need the edits to be a minority. */
            if (d < best_dist && 2 * d <= len) {
                best = kn;
                best_len = clen;
                best_dist = d;
            }
        }
    }
    if (best)
        return fail(ld, line, "unknown key \"%s\" (did you mean \"%.*s\"?)", name, (int)best_len,
                    best);
    /* The file most often given by mistake: alerting rules for Prometheus
     * (plain, or as a Kubernetes PrometheusRule), which fire the alerts
     * quell decides. */
    /* Alertmanager's older name for the same section. */
    if (!strcmp(name, "mute_time_intervals"))
        return fail(ld, line,
                    "unknown key \"mute_time_intervals\" (Alertmanager's older name for "
                    "time_intervals: rename it time_intervals)");
    if (!strcmp(name, "groups") || !strcmp(name, "apiVersion"))
        return fail(ld, line,
                    "unknown key \"%s\" (a Prometheus rule file? quell's config has other keys: "
                    "`quell config` lists them)",
                    name);
    return fail(ld, line, "unknown key \"%s\"", name);
}

static qerr_t walk_map(load_t *ld, yaml_node_t *map, const char *prefix)
{
    yaml_node_pair_t *start = map->data.mapping.pairs.start;
    for (yaml_node_pair_t *p = start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node_get(ld, p->key), *vn = node_get(ld, p->value);
        const char *key = scalar_text(ld, kn, prefix ? prefix : "key", "a string as key");
        char name[256];
        qerr_t rc;
        if (!key) return QERR_INVALID;
        snprintf(name, sizeof(name), "%s%s%s", prefix ? prefix : "", prefix ? "." : "", key);
        /* Earlier keys of this map were checked to be scalars already. */
        for (yaml_node_pair_t *q = start; q < p; q++) {
            yaml_node_t *prev = node_get(ld, q->key);
            if (strcmp((const char *)prev->data.scalar.value, key) == 0)
                return fail(ld, node_line(kn), "duplicate key \"%s\"", name);
        }
        if (strchr(key, '.'))
            return fail(ld, node_line(kn),
                        "dotted key \"%s\": nest it instead (\"kafka:\" then \"brokers:\")", name);
        const conf_key_t *k = key_find(name);
        if (k) {
            ld->key_line[k - conf_keys] = node_line(kn);
            rc = load_value(ld, k, vn);
        } else if (is_section(name)) {
            if (is_null(vn)) continue; /* "kafka:" alone: all defaults */
            if (vn->type != YAML_MAPPING_NODE)
                return fail(ld, node_line(vn), "%s: expected a mapping of keys, got %s", name,
                            node_kind(vn));
            rc = walk_map(ld, vn, name);
        } else {
            rc = unknown_key(ld, node_line(kn), name);
        }
        if (rc != QERR_OK) return rc;
    }
    return QERR_OK;
}

/* http.listen's shape, as core/http.c binds it: empty, host:port or
 * [v6]:port with a numeric port. The host is resolved only by `quell run`. */
static bool listen_shape_ok(const char *s)
{
    if (!*s) return true;
    const char *port;
    size_t host_len;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return false;
        host_len = (size_t)(close - s - 1);
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon) return false;
        host_len = (size_t)(colon - s);
        port = colon + 1;
    }
    if (host_len >= 128 || !*port || strlen(port) > 5) return false;
    unsigned long v = 0;
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    return v <= 65535;
}

/* Rules between keys, checked once the whole file is read. */
static qerr_t check_cross(load_t *ld)
{
    const char *url = ld->c->store.url;
    if (url && strcmp(url, "memory") != 0 && strncmp(url, "redis://", 8) != 0) {
        size_t line = ld->key_line[key_find("store.url") - conf_keys];
        return fail(ld, line ? line : 1,
                    "store.url: \"%s\" is neither memory nor redis://HOST:PORT/DB", url);
    }
    if (ld->c->http.listen && !listen_shape_ok(ld->c->http.listen)) {
        size_t line = ld->key_line[key_find("http.listen") - conf_keys];
        return fail(ld, line ? line : 1,
                    "http.listen: \"%s\" is not host:port or [v6]:port with a numeric port "
                    "(e.g. 0.0.0.0:9095; empty = no HTTP server)",
                    ld->c->http.listen);
    }
    const conf_key_t *fl = key_find("dedup.fingerprint_labels");
    const conf_key_t *il = key_find("dedup.ignore_labels");
    if (ld->c->dedup.fingerprint_labels.n && ld->c->dedup.ignore_labels.n) {
        size_t a = ld->key_line[fl - conf_keys], b = ld->key_line[il - conf_keys];
        return fail(ld, a > b ? a : (b ? b : 1),
                    "dedup.fingerprint_labels and dedup.ignore_labels cannot both be set "
                    "(fingerprint_labels already names every label used)");
    }
    return QERR_OK;
}

static size_t line_at_offset(const unsigned char *buf, size_t len, size_t offset)
{
    size_t line = 1;
    for (size_t i = 0; i < offset && i < len; i++) line += (buf[i] == '\n');
    return line;
}

static qerr_t yaml_error(load_t *ld, const yaml_parser_t *parser, const unsigned char *buf,
                         size_t len)
{
    if (parser->error == YAML_MEMORY_ERROR) {
        fail(ld, 1, "out of memory");
        return QERR_NOMEM;
    }
    /* The reader (bad UTF-8) reports a byte offset, not a mark. */
    if (parser->error == YAML_READER_ERROR)
        return fail(ld, line_at_offset(buf, len, parser->problem_offset), "YAML reader error: %s",
                    parser->problem ? parser->problem : "bad input");
    /* The problem mark is where the parser gave up; the context mark, when
     * on another line, is usually where the mistake is ("kafka" without a
     * colon is noticed a line later), so name both. */
    char where[48] = "";
    if (parser->context && parser->context_mark.line != parser->problem_mark.line)
        snprintf(where, sizeof(where), " at line %zu", parser->context_mark.line + 1);
    return fail(ld, parser->problem_mark.line + 1, "YAML syntax error: %s%s%s%s%s",
                parser->problem ? parser->problem : "unknown problem", parser->context ? " (" : "",
                parser->context ? parser->context : "", where, parser->context ? ")" : "");
}

/* libyaml's work grows with the square of two things no config needs many
 * of: nesting (its scanner visits every open flow level for each token, so a
 * 1 MiB file of "[[[[..." takes it many minutes) and anchors (each new one is
 * compared with all before it, each alias searched for among them). An event
 * pass over the stream refuses those before the document is built. Stopping at
 * the first event past a limit bounds the scanner too: it reads ahead of the
 * events by at most one line or 1024 characters (a possible simple key).
 * The depth counts block and flow collections alike; the schema needs 3. */
#define CONF_MAX_DEPTH   32
#define CONF_MAX_ANCHORS 100

static qerr_t check_limits(load_t *ld, const unsigned char *buf, size_t len)
{
    yaml_parser_t parser;
    size_t depth = 0, anchors = 0;
    qerr_t rc = QERR_OK;
    if (!yaml_parser_initialize(&parser)) return QERR_NOMEM;
    yaml_parser_set_input_string(&parser, buf, len);
    for (bool done = false; !done && rc == QERR_OK;) {
        yaml_event_t ev;
        /* A syntax error is left to the load, which meets the same events
         * and so reads no further than this pass did. */
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR) rc = yaml_error(ld, &parser, buf, len);
            break;
        }
        size_t line = ev.start_mark.line + 1;
        bool anchor = (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.anchor) ||
                      (ev.type == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor) ||
                      (ev.type == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor);
        if (anchor && ++anchors > CONF_MAX_ANCHORS)
            rc = fail(ld, line, "more than %d YAML anchors", CONF_MAX_ANCHORS);
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > CONF_MAX_DEPTH && rc == QERR_OK)
                rc = fail(ld, line, "YAML nested deeper than %d levels", CONF_MAX_DEPTH);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        case YAML_STREAM_END_EVENT: done = true; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static qerr_t load_buffer(load_t *ld, const unsigned char *buf, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    bool have_doc = false;
    qerr_t rc;
    if ((rc = check_limits(ld, buf, len)) != QERR_OK) return rc;
    if (!yaml_parser_initialize(&parser)) return QERR_NOMEM;
    yaml_parser_set_input_string(&parser, buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = yaml_error(ld, &parser, buf, len);
        goto out;
    }
    have_doc = true;
    ld->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && !is_null(root)) { /* no root: empty or comments only */
        if (root->type != YAML_MAPPING_NODE) {
            rc = fail(ld, node_line(root), "the top level must be a mapping of keys, got %s",
                      node_kind(root));
            goto out;
        }
        if ((rc = walk_map(ld, root, NULL)) != QERR_OK) goto out;
    }
    /* A second document would be silently ignored: refuse it. */
    if (!yaml_parser_load(&parser, &extra)) {
        rc = yaml_error(ld, &parser, buf, len);
        goto out;
    }
    size_t extra_line = yaml_document_get_root_node(&extra) ? extra.start_mark.line + 1 : 0;
    yaml_document_delete(&extra);
    if (extra_line) {
        rc = fail(ld, extra_line, "only one YAML document is allowed");
        goto out;
    }
    rc = check_cross(ld);
out:
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* Config files are small; the cap keeps a wrong path (/dev/zero, a log
 * file) from being read into memory whole. conf_load() reads at most one byte
 * more, so conf_load_buffer() sees the overflow and reports it. */
#define CONF_MAX_FILE_BYTES (1 << 20)

qerr_t conf_load_buffer(conf_t *c, const char *name, const char *buf, size_t len, char *errbuf,
                        size_t errlen)
{
    load_t ld = {.path = name, .c = c, .err = errbuf, .errlen = errlen};
    qerr_t rc;
    if (errbuf && errlen) errbuf[0] = '\0';
    char *path = strdup(name);
    if (!path) return QERR_NOMEM;
    free(c->path);
    c->path = path;
    if (len > CONF_MAX_FILE_BYTES)
        rc = fail(&ld, 1, "larger than %d bytes; is this the config file?", CONF_MAX_FILE_BYTES);
    else
        rc = load_buffer(&ld, (const unsigned char *)buf, len);
    if (rc == QERR_OK) {
        /* kept for checks made after the load (conf_check_paths) */
        uint32_t *lines = calloc(N_KEYS, sizeof *lines);
        if (!lines) rc = QERR_NOMEM;
        for (size_t i = 0; lines && i < N_KEYS; i++) lines[i] = (uint32_t)ld.key_line[i];
        free(c->key_lines);
        c->key_lines = lines;
    }
    if (rc == QERR_NOMEM && errbuf && errlen) snprintf(errbuf, errlen, "%s: out of memory", name);
    return rc;
}

qerr_t conf_load(conf_t *c, const char *path, char *errbuf, size_t errlen)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    qerr_t rc = QERR_OK;
    if (errbuf && errlen) errbuf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return QERR_IO;
    }
    if (!(buf = malloc(CONF_MAX_FILE_BYTES + 1))) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "%s: out of memory", path);
        rc = QERR_NOMEM;
        goto out;
    }
    len = fread(buf, 1, CONF_MAX_FILE_BYTES + 1, f);
    if (ferror(f)) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "%s: read error", path);
        rc = QERR_IO;
        goto out;
    }
    rc = conf_load_buffer(c, path, (const char *)buf, len, errbuf, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- defaults, free, docs --------------------------------------------- */

void conf_defaults(conf_t *c)
{
    memset(c, 0, sizeof(*c));
    if (!(c->path = strdup(""))) abort(); /* see the abort below */
    for (size_t i = 0; i < N_KEYS; i++) {
        const conf_key_t *k = &conf_keys[i];
        char msg[256] = "";
        qerr_t rc;
        if (k->type == CT_LIST)
            rc = set_list_text(c, k, k->def, msg, sizeof(msg));
        else if (k->type == CT_MAP) /* maps start empty; count_ok checks the bounds */
            rc = *k->def || !count_ok(k, 0, msg, sizeof(msg)) ? QERR_INVALID : QERR_OK;
        else if (k->type == CT_TREE) /* absent: NULL, as memset left it */
            rc = *k->def ? QERR_INVALID : QERR_OK;
        else
            rc = set_scalar(c, k, k->def, msg, sizeof(msg));
        /* A default the table itself rejects is a programming error that
         * test_conf catches, and out of memory this early leaves nothing to
         * run: neither can be reported through this void call, so stop. */
        if (rc != QERR_OK) {
            fprintf(stderr, "conf: default of %s: %s\n", k->name,
                    rc == QERR_NOMEM ? "out of memory" : msg);
            abort();
        }
    }
}

void conf_free(conf_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < N_KEYS; i++) {
        const conf_key_t *k = &conf_keys[i];
        void *field = (char *)c + k->offset;
        if (k->type == CT_STRING)
            free(*(char **)field);
        else if (k->type == CT_LIST)
            list_free(field);
        else if (k->type == CT_MAP)
            map_free(field, (size_t *)((char *)c + k->count_offset));
        else if (k->type == CT_TREE)
            tree_free(field);
    }
    free(c->path);
    free(c->key_lines);
    memset(c, 0, sizeof(*c));
}

uint32_t conf_key_line(const conf_t *c, const char *name)
{
    const conf_key_t *k = key_find(name);
    return c->key_lines && k ? c->key_lines[k - conf_keys] : 0;
}

/* The directory `file` is written in: a writable directory, or why not. */
static const char *dir_problem(const char *file, char *dir, size_t cap)
{
    const char *slash = strrchr(file, '/');
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == file)
        snprintf(dir, cap, "/");
    else
        snprintf(dir, cap, "%.*s", (int)(slash - file), file);
    struct stat st;
    if (stat(dir, &st) != 0) return errno == ENOENT ? "does not exist" : strerror(errno);
    if (!S_ISDIR(st.st_mode)) return "is not a directory";
    if (access(dir, W_OK | X_OK) != 0) return "is not writable";
    return NULL;
}

qerr_t conf_check_paths(const conf_t *c, char *errbuf, size_t errlen)
{
    const struct {
        const char *key, *file;
    } written[] = {
        {"dedup.snapshot_file", c->dedup.snapshot_file},
        {"silences.file", c->silences.file},
    };
    for (size_t i = 0; i < sizeof written / sizeof *written; i++) {
        const char *f = written[i].file;
        if (!f || !*f) continue;
        uint32_t line = conf_key_line(c, written[i].key);
        char dir[PATH_MAX];
        const char *why = dir_problem(f, dir, sizeof dir);
        struct stat st;
        if (why) {
            snprintf(errbuf, errlen, "%s:%u: %s: \"%s\": directory %s %s", c->path, line ? line : 1,
                     written[i].key, f, dir, why);
            return QERR_INVALID;
        }
        if (stat(f, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(errbuf, errlen, "%s:%u: %s: \"%s\" is a directory, not a file", c->path,
                     line ? line : 1, written[i].key, f);
            return QERR_INVALID;
        }
    }
    return QERR_OK;
}

void conf_print_doc(FILE *out)
{
    fputs("| key | type | default | description |\n", out);
    fputs("|---|---|---|---|\n", out);
    for (size_t i = 0; i < N_KEYS; i++) {
        const conf_key_t *k = &conf_keys[i];
        char extra[256] = "";
        fprintf(out, "| `%s` | %s | ", k->name, type_info[k->type].doc);
        if (k->type == CT_LIST)
            fprintf(out, "`[%s]`", k->def);
        else if (k->type == CT_MAP)
            fputs("`{}`", out);
        else if (k->type == CT_TREE)
            fputs("none", out);
        else if (!*k->def)
            fputs("`\"\"`", out);
        else
            fprintf(out, "`%s`", k->def);
        if (k->type == CT_ENUM) {
            char vals[200];
            enum_join(k->values, "`", vals, sizeof(vals));
            snprintf(extra, sizeof(extra), " One of %s.", vals);
        } else if (k->type <= CT_DURATION) {
            snprintf(extra, sizeof(extra), " Range %s..%s.", k->min, k->max);
        } else if (k->type == CT_LIST && k->min) {
            snprintf(extra, sizeof(extra), " At least %s item%s.", k->min,
                     strcmp(k->min, "1") ? "s" : "");
        } else if (k->type == CT_MAP && k->max) {
            snprintf(extra, sizeof(extra), " At most %s entries.", k->max);
        }
        fprintf(out, " | %s%s |\n", k->desc, extra);
    }
}

/* ---- positioned errors for section compilers ---------------------------- */

qerr_t conf_vfail_at(char *errbuf, size_t errlen, const char *path, const conf_node_t *at,
                     const char *fmt, va_list ap)
{
    int n = snprintf(errbuf, errlen, "%s:%u:%u: ", path ? path : "", at ? at->line : 1,
                     at ? at->col : 1);
    if (n >= 0 && (size_t)n < errlen) vsnprintf(errbuf + n, errlen - (size_t)n, fmt, ap);
    return QERR_INVALID;
}

qerr_t conf_fail_at(char *errbuf, size_t errlen, const char *path, const conf_node_t *at,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    conf_vfail_at(errbuf, errlen, path, at, fmt, ap);
    va_end(ap);
    return QERR_INVALID;
}

void conf_warn_at(char *buf, size_t len, const char *path, const conf_node_t *at, const char *fmt,
                  ...)
{
    int n = snprintf(buf, len, "%s:%u:%u: warning: ", path ? path : "", at ? at->line : 1,
                     at ? at->col : 1);
    if (n < 0 || (size_t)n >= len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - (size_t)n, fmt, ap);
    va_end(ap);
}
