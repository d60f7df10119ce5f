/*
 * Recorded traffic as alerts, for `quell suggest` and `quell replay`:
 *
 *   - JSON lines of Prometheus/Alertmanager alerts (as `quell gen` writes
 *     them), or one JSON document (a webhook payload, an alert array):
 *     replay's rules for event time ("receivedAt", else the first line's
 *     startsAt, else 1 ms after the previous line);
 *   - varint-delimited protobuf `quell.v1.Alert`s (`quell gen --format
 *     proto`): event time from startsAt, else 1 ms after the previous;
 *   - CSV (or TSV, ';' or '|' separated; delimiter from the header line,
 *     RFC 4180 quoting) and JSON of any flat or nested objects (IDS
 *     alerts, telecom alarms, cron check logs): one per line, pretty-printed
 *     one after another, in one array, or in an export wrapper's array
 *     ({"messages": [...]});
 *   - Suricata's and Snort's fast.log, one alert a line, its fields named
 *     as EVE names them (timestamp, signature, priority, src_ip ...).
 *
 * The column mapping (`--map`) is a comma-separated list of LABEL=SOURCE
 * (the label LABEL takes the value of column / JSON field SOURCE; a dotted
 * SOURCE such as alert.signature walks nested JSON objects) or SOURCE alone
 * (a label of that name). Two targets are special: `time` is the event time
 * (RFC 3339, "YYYY-MM-DD HH:MM:SS[.f]" UTC, offsets with or without colon,
 * or Unix seconds/ms/us/ns), and `status` (resolved, resolve, ok, cleared,
 * clear, closed, recovered, inactive, normal, up, success, passed ... ->
 * resolved; anything else firing).
 * With a mapping only mapped fields become labels. Without one, CSV
 * columns and the scalar fields of JSON objects that are not Alertmanager-
 * shaped (nested names joined with '_': alert.signature is
 * alert_signature) all become labels, names made label-safe, and roles are
 * guessed by name (ignoring case and '_'): the alert name from alertname, alert_signature,
 * signature, rule, alarm, check, msg, title, name...; the severity from
 * severity, alert_severity, priority, level...; the time from time,
 * timestamp, @timestamp, ts...; the status from status, state, result...
 *
 * Single-threaded. Rows that cannot be read are reported on stderr as
 * FILE:LINE: message and counted, never silently dropped.
 */
#ifndef QUELL_APP_RECORDED_H
#define QUELL_APP_RECORDED_H

#include "../core/core.h"

typedef struct recorded recorded_t;

/* Called once per alert in input order. `a` (labels sorted bytewise by
 * name, event_time_ms set, fingerprint 0) is valid until it returns. */
typedef void (*recorded_fn)(void *ctx, alert_t *a);

/* `map_spec` may be NULL (no mapping). Limits come from conf->ingest. On
 * a bad spec returns NULL with "--map: message" in errbuf. */
recorded_t *recorded_new(const conf_t *conf, const char *map_spec, char *errbuf, size_t errlen);
void recorded_destroy(recorded_t *r); /* NULL-safe */

/* Reads every partition of a topic from its low to its high watermark
 * (what is there when the call starts), then decodes the messages in
 * (timestamp, partition, offset) order as `quell run` does: the format from
 * their content-type header, event time their timestamp. The same topic
 * contents give the same alerts. -1 when it cannot (stderr says). */
int recorded_read_kafka(recorded_t *r, const char *topic, const char *brokers, recorded_fn fn,
                        void *ctx);

/* Reads one file. Returns 0, or -1 when it cannot be opened (stderr says). */
int recorded_read(recorded_t *r, const char *path, recorded_fn fn, void *ctx);

/* The same on bytes in memory: `buf` holds `len` bytes and a NUL after
 * them, and is modified (CSV fields are unquoted in place). `path` names
 * it in messages. */
void recorded_read_buffer(recorded_t *r, const char *path, char *buf, size_t len, recorded_fn fn,
                          void *ctx);

uint64_t recorded_errors(const recorded_t *r); /* rows or lines not read */

/* Called from a recorded_fn: where the alert it is given stands in its
 * input (0 for a file's first alert, counting alerts, not lines). A
 * file's alerts are handed out in event-time order, so this differs from
 * the order of the calls when the file was not in time order; replay
 * prints its per-alert lines by it, in input order. */
size_t recorded_position(const recorded_t *r);

/* The event time of a Prometheus/Alertmanager JSON document: its
 * "receivedAt", else (when `with_starts_at`) its first alert's startsAt.
 * False when it has neither; *out is then 0. */
bool recorded_json_time(const char *text, size_t len, bool with_starts_at, int64_t *out);
/* Whether `text` is exactly one JSON document shaped as Alertmanager's: an
 * alert ("labels"), a webhook payload ("alerts") or an array of alerts. */
bool recorded_is_alertmanager_json(const char *text, size_t len);
/* Event time from text as the mapping reads it; false when unparsable. */
bool recorded_parse_time(const char *s, size_t len, int64_t *ms_out);

#endif
