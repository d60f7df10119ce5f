/*
 * Recorded traffic as alerts, for `quell suggest` and `quell replay`:
 *
 *   - JSON lines of Prometheus/Alertmanager alerts (as `quell gen` writes
 *     them), or one JSON document (a webhook payload, an alert array):
 *     replay's rules for event time ("receivedAt", else the first line's
 *     startsAt, else 1 ms after the previous line);
 *   - Prometheus's HTTP API responses: query_range / query of ALERTS (each
 *     sample an alert sent again, a gap resolving it), /api/v1/alerts;
 *   - varint-delimited protobuf `quell.v1.Alert`s (`quell gen --format
 *     proto`): event time from startsAt, else 1 ms after the previous;
 *   - CSV (or TSV, ';' or '|' separated; delimiter from the header line,
 *     RFC 4180 quoting) and JSON of any flat or nested objects (IDS
 *     alerts, telecom alarms, cron check logs): one per line, pretty-printed
 *     one after another, in one array, or in an export wrapper's array
 *     ({"messages": [...]});
 *   - Suricata's and Snort's fast.log, one alert a line, its fields named
 *     as EVE names them (timestamp, signature, priority, src_ip ...);
 *   - Snort's (Suricata's) full alerts, a record of lines per alert, as
 *     fast.log's fields; OSSEC's (Wazuh's) alerts.log, a record per
 *     alert, its fields named as Wazuh's alerts.json flattened
 *     (rule_description, rule_level ...);
 *   - syslog lines (RFC 3164, RFC 5424; an IDS alert in one gives
 *     fast.log's fields) and Zeek logs ("#fields" header);
 *   - records that say they are no alert (named BENIGN or normal, Suricata
 *     EVE's flow/dns/... events) are skipped and counted on stderr.
 *
 * The column mapping (`--map`) is a comma-separated list of LABEL=SOURCE
 * (the label LABEL takes the value of column / JSON field SOURCE; a dotted
 * SOURCE such as alert.signature walks nested JSON objects) or SOURCE alone
 * (a label of that name). Three targets are special: `time` is the event time
 * (RFC 3339, "YYYY-MM-DD HH:MM[:SS[.f]]" UTC, offsets with or without colon,
 * D/M/Y or M/D/Y as the file's dates say (recorded_set_date_order), syslog
 * dates without a year (the file's modification year, or recorded_set_year),
 * a 12-hour clock without AM/PM (recorded_set_clock), month names, or
 * Unix seconds/ms/us/ns), and `status` (resolved, resolve, ok, cleared,
 * clear, closed, recovered, inactive, normal, up, success, passed ... ->
 * resolved; anything else firing); `end`, when a row that is a whole
 * incident ended, makes it fire at its time and resolve at its end.
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

/* Reads files as one stream in event-time order (input order, then file
 * order, among equal times): each alert is handed out when its turn has
 * come, so memory holds only the alerts read ahead of their turn (none
 * for files in time order given in time order). Each file is read twice:
 * first its times only (and how they read: D/M/Y or M/D/Y, the year of a
 * yearless date), then its alerts. Returns 0, or -1 when one cannot be
 * opened (stderr says; nothing handed out when the first pass finds it). */
int recorded_read_files(recorded_t *r, const char *const *paths, size_t n, recorded_fn fn,
                        void *ctx);
/* One file: recorded_read_files of one. */
int recorded_read(recorded_t *r, const char *path, recorded_fn fn, void *ctx);

/* Dates such as 5/7/2017: REC_DATE_MDY (0) or REC_DATE_DMY (1) whatever
 * the data says; -1 (the default): from the data, per file (a first field
 * over 12 somewhere means D/M/Y, a second one M/D/Y; else as the other
 * files of the read, else M/D/Y, said once on stderr). */
void recorded_set_date_order(recorded_t *r, int order);
/* "dmy" or "mdy" (any case) as such an order; -1 otherwise. */
int recorded_date_order_arg(const char *s);
/* A clock such as 3:30 with no AM/PM: 12 (a 12-hour clock: a time reads
 * as whichever of its two readings is nearer the latest time before it in
 * file order on the same date, as 1:05 after 12:59 is 13:05; a date's
 * first time as written, 12:xx as noon unless just after the date before's
 * latest time: past midnight), 24 (as written), or -1 (the default): from the
 * data, per file: 12 when no hour is over 12 (nor 0), nothing says AM or
 * PM, the times mostly go forward in file order, the clock goes back 6 to
 * 12 hours within a date somewhere and fewer times go back once read so,
 * or the file follows such a file in the read; in a newest-first file the
 * same read from each date's end; said once on stderr. */
void recorded_set_clock(recorded_t *r, int hours);
/* "12" or "24" as such a clock; -1 otherwise. */
int recorded_clock_arg(const char *s);
/* Dates without a year (syslog's Dec  6 15:51:00): the year of a file's
 * first one (later ones roll over into the next year as they do without
 * it); 0 (the default): from the file's modification time. */
void recorded_set_year(recorded_t *r, long year);
/* A year 1970..9999 as text; -1 otherwise. */
long recorded_year_arg(const char *s);
/* The time options replay, explain and suggest share: --date-order,
 * --clock and --year, as recorded_set_date_order/_clock/_year take them. */
typedef struct {
    int date_order, clock_hours; /* -1: from the data */
    long year;                   /* 0: from the file's modification time */
} recorded_time_opts_t;
#define RECORDED_TIME_OPTS_INIT                                                                    \
    {                                                                                              \
        .date_order = -1, .clock_hours = -1, .year = 0                                             \
    }
/* Reads argv[*i] (and its value, *i moved past it) when it is one of
 * them: 1; 0 when it is not; -1 when its value is refused (said on stderr
 * as "quell CMD: ..."). */
int recorded_time_option(recorded_time_opts_t *o, const char *cmd, int argc, char **argv, int *i);
void recorded_apply_time_opts(recorded_t *r, const recorded_time_opts_t *o);
/* For `quell explain`: an alert without a time is asked about as of now
 * (event time 0 from the reader), and the messages say so. */
void recorded_set_explain(recorded_t *r);
/* The most alerts held at once waiting for their turn (for tests). */
size_t recorded_peak_held(const recorded_t *r);

/* The same on bytes in memory: `buf` holds `len` bytes and a NUL after
 * them, and is modified (CSV fields are unquoted in place). `path` names
 * it in messages. */
void recorded_read_buffer(recorded_t *r, const char *path, char *buf, size_t len, recorded_fn fn,
                          void *ctx);

uint64_t recorded_errors(const recorded_t *r); /* rows or lines not read */

/* Called from a recorded_fn: where the alert it is given stands in its
 * read (0 for the first alert of the first file of a recorded_read_files
 * call, counting alerts, not lines, across its files in the order given).
 * Alerts are handed out in event-time order, so this differs from the
 * order of the calls when the input was not in time order; replay prints
 * its per-alert lines by it, in input order. */
size_t recorded_position(const recorded_t *r);

/* The event time of a Prometheus/Alertmanager JSON document: its
 * "receivedAt", else (when `with_starts_at`) its first alert's startsAt.
 * False when it has neither; *out is then 0. */
bool recorded_json_time(const char *text, size_t len, bool with_starts_at, int64_t *out);
/* Whether `text` is exactly one JSON document shaped as Alertmanager's: an
 * alert ("labels"), a webhook payload ("alerts") or an array of alerts. */
bool recorded_is_alertmanager_json(const char *text, size_t len);

/* Compressed input (gzip, concatenated members too; xz; zstd), known by
 * its magic bytes: *buf (malloc'd, *len bytes, NUL after them) is
 * replaced by what it unpacks to. 0: done, or not compressed (nothing
 * changed); 1: the stream broke or ended early, *buf holds what came out
 * before it (stderr says); -1: out of memory (stderr says, *buf kept). */
int recorded_unpack(const char *path, char **buf, size_t *len);
/* "gzip", "xz", "zstd" when buf starts like one, else NULL. */
const char *recorded_packed(const char *buf, size_t len);
/* Event time from text as the mapping reads it; false when unparsable. */
bool recorded_parse_time(const char *s, size_t len, int64_t *ms_out);

#endif
