/*
 * Private to the recorded traffic readers (recorded.c, recorded_order.c,
 * recorded_text.c): the reader's state (struct recorded, shared by the
 * readers in recorded.c and the event-time order in recorded_order.c,
 * single-threaded), and the pure byte-level pieces recorded.c builds its
 * readers from (recorded_text.c: each takes bytes and returns a verdict or
 * a new string, keeps no state, any thread).
 */
#ifndef QUELL_APP_RECORDED_INT_H
#define QUELL_APP_RECORDED_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "../ingest/ingest.h"
#include "recorded.h"

/* Times (recorded_text.c): see rec_parse_time below. */
typedef struct {
    int date_order; /* REC_DATE_MDY or REC_DATE_DMY */
    long year;      /* for a date without one */
} rec_time_opts_t;

#define MAX_MAP 64

typedef struct {
    char *label;  /* target label ("time", "status" special) */
    char *source; /* column name or dotted JSON path */
} map_entry_t;

/* Where a clock read 12-hour stands after a time: `have` one was read;
 * the time as written (`raw`) and as read (`ms`, 12 h later when `pm`),
 * its date (`day`), and the latest time read on that date (`latest_ms`).
 * An input's end is the next input's start when its clock goes on. */
typedef struct {
    bool have, pm;
    int64_t raw, ms, day, latest_ms;
} rec_clock_at_t;

/* A label name and what it says of its values (recorded.c's
 * field_class); an empty name is an empty slot. */
#define REC_NAME_CLASSES 256
typedef struct {
    char name[40];
    uint16_t cls;
} rec_name_class_t;

struct recorded {
    map_entry_t map[MAX_MAP];
    /* what label names say of their values (recorded.c's field_class),
     * by a hash of the name: a row's names are the last row's */
    rec_name_class_t name_class[REC_NAME_CLASSES];
    size_t n_map;
    bool has_map;
    bool map_time_start; /* --map's time is a start or creation time (see row_t) */
    ingest_limits_t limits;
    arena_t arena;
    uint64_t errors;
    uint64_t reported, bad_times; /* in this file: lines written to stderr, times not read */
    uint64_t no_times;            /* in this file: rows with no time at all */
    uint64_t not_alerts;          /* in this file: rows that say they are no alert (skipped) */
    uint64_t other_lines;         /* in this file: log lines that are no alert (skipped) */
    uint64_t cut_values;          /* in this file: values cut at ingest.max_value_bytes */
    uint64_t trimmed_rows;        /* in this file: rows with labels past ingest.max_labels */
    int64_t last_time;
    bool have_time;
    bool explain; /* recorded_set_explain: an alert without a time is asked about as of now */
    /* Times of the file being read: how dates read (rec_time_opts_t), the
     * votes its two-field dates cast on their order, the years its
     * yearless dates rolled over (Dec -> Jan) since its first one. */
    int date_order_forced; /* -1: from the data */
    rec_time_opts_t topts;
    long start_year;
    uint64_t votes_dmy, votes_mdy, two_field_dates;
    /* weaker votes, from one date to the next: the day changes more often
     * than the month, so a first field that changes while the second
     * stays says D/M (3/7/2017 -> 4/7/2017), and the other way M/D */
    uint64_t steps_dmy, steps_mdy;
    int prev_first, prev_second;
    int year_offset;
    bool have_yearless;
    int64_t last_yearless_ms;
    bool told_date_order;
    /* A 12-hour clock written without AM/PM (CIC-IDS2017's 7/7/2017 3:30
     * for 15:30): `clock_forced` 12, 24 or -1 (from the data); `clock12`
     * the file is read so (clock_time in recorded.c: a time reads 12 hours
     * later when that is nearer the latest before it that date). What the
     * file's clock says about it: `clock_24` an hour 0 or over 12, or
     * AM/PM, is there; steps between times in file order as read 12-hour
     * (up, down; wrapped_down within a date) and as written (down_same_day,
     * within a date); wraps, the times from which the 12-hour reading goes
     * 12 hours later (`clock_at.pm`: the one before did). */
    int clock_forced;
    bool clock12, clock_24, told_clock;
    bool clock_continued; /* the clock goes on from a 12-hour input before it */
    uint64_t clock_up, clock_down, clock_down_same_day, clock_wrapped_down, clock_wraps;
    uint64_t clock_big_back;    /* steps back of 6 hours or more within a date, read 12-hour */
    rec_clock_at_t clock_at;    /* where the clock stands: the last time read */
    uint64_t clock_up_same_day; /* steps forward within a date, as written */
    /* A newest-first file (`clock_rev`) reads each date from its earliest
     * time (its last in file order) up: a time as whichever reading is
     * nearer the earliest so far on its date, a tie going back. Its first
     * time in file order (its latest) reads as written, or 12 hours later
     * on the dates in `pm_days` (sorted; the input's): those where that
     * leaves fewer steps forward. Both readings of a date run side by side
     * (rev[0] as written, rev[1] 12 hours later) and the date's end says
     * which won (rec_clock_finish): `pm_days_build`, and the counts of the
     * winners' steps. */
    bool clock_rev, rev_have_day, rev_anchor_pm;
    int64_t rev_day;
    struct {
        int64_t earliest, prev;
        uint64_t up, down, big_up;
    } rev[2];
    uint64_t rev_up, rev_down, rev_big_up, rev_pm_days;
    const int64_t *pm_days;
    size_t n_pm_days;
    int64_t *pm_days_build;
    size_t n_pm_build, cap_pm_build;
    /* --year: the year of a file's first yearless date (0: from the
     * file's modification time) */
    long year_forced;
    /* A read of one or more inputs (recorded_read_files) goes twice over
     * them: `scanning`, only each alert's event time is kept (`times`, in
     * input order), nothing is reported; then the alerts are handed out in
     * event-time order: `order` (NULL: input order is that order) lists
     * input positions, `next_due` the next to hand out; an alert read
     * before its turn waits, packed (pack_alert), in held[position]. */
    bool scanning;
    int64_t *times;
    /* closes[i]: alert i is the close of a row that is a whole incident
     * (at its end, after the row's next ones: not a file out of order) */
    uint8_t *closes;
    bool emitting_close;
    size_t n_times, cap_times;
    size_t *order, next_due, n_order, read_pos;
    void **held;
    size_t n_held, peak_held;
    bool scan_oom;
    size_t position; /* recorded_position: of the alert being handed out */
    /* The roles guessed for the last JSON objects' fields without a
     * mapping (guess_json_roles), ROLES_CACHED shapes, replaced in turn:
     * records of one file share a few shapes (Wazuh's differ by decoder),
     * and guessing costs a comparison per field and role name. `key` lists
     * the fields (name, key, array?) and whether full names only were
     * tried. A guess a value decided (role_value_ok turned a field down)
     * is not kept; a kept one is checked against the values of the object
     * it is reused for. `shape` is the key being built, reused. */
#define ROLES_CACHED 8
    struct {
        char *key;
        size_t key_len;
        int roles[6];
        bool time_nested; /* the time was found by its own key */
    } roles_cache[ROLES_CACHED];
    size_t roles_next;
    char *shape;
    size_t shape_cap;
    /* Label sets fired and not resolved so far, and how many of each
     * alert name (open addressing on a hash; key 0 is empty): a resolved
     * row of a whole incident is told from the resolve of one opened
     * before (rec_row_emit). */
    struct {
        uint64_t key;
        uint32_t open;
    } * fired;
    size_t fired_n, fired_cap;
};

/* One input through the reader its bytes need (recorded.c): `buf` holds
 * `len` bytes and a NUL after them, and is modified (CSV fields are
 * unquoted in place). Resets the input's counters and reports its tail. */
void rec_read_one(recorded_t *r, const char *path, char *buf, size_t len, recorded_fn fn,
                  void *ctx);

/* ---- shared by the readers (recorded.c) and the JSON reader
 * (recorded_json.c) ---- */

/* Columns read; a wider export is warned about and its rows still checked
 * against the header's full width. */
#define MAX_COLS 1024

/* A problem with one row: the first few of a file go to stderr as
 * FILE:LINE: message, the rest are counted and summed up at its end. */
void rec_report(recorded_t *r, const char *file, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The event time of an alert: `t` when `found`, else 1 ms after the
 * previous one (0 for explain, which asks as of now). */
int64_t rec_next_time(recorded_t *r, bool found, int64_t t);
/* A time as this file's times read (its date order, year, 12-hour clock). */
bool rec_read_time(recorded_t *r, const char *v, size_t len, int64_t *ms);

/* One row being built from (label, value) pairs. */
typedef struct {
    label_t labels[MAX_COLS]; /* every column of a row: none dropped before the trim */
    uint32_t n;
    bool have_time, resolved, bad_time;
    bool have_end; /* when it ended: a row that is a whole incident */
    /* timed by when it started or was created (created_at, opened_at...),
     * and when its state last changed (last_status_change_at, updated_at):
     * a closed such row is a whole incident too */
    bool time_is_start, have_changed;
    int64_t time_ms, end_ms, changed_ms;
    char bad_time_text[64];
} row_t;

/* Adds label `name` = value (copied into the arena); "time", "status",
 * "end" and "changed" are read instead when `special`. */
void rec_row_add(recorded_t *r, row_t *row, const char *name, const char *v, size_t vlen,
                 bool special);
/* Forgets which label sets were fired (a pass over the inputs starts). */
void rec_fired_reset(recorded_t *r);
/* The row as an alert (or two: fired and resolved, for a row with an
 * end) to fn; a row without labels is reported and counted. */
void rec_row_emit(recorded_t *r, row_t *row, const char *file, size_t line, recorded_fn fn,
                  void *ctx);

/* The roles a field can play without a mapping, and the names tried for
 * each, most specific first (NULL-terminated). */
enum { ROLE_NAME, ROLE_SEVERITY, ROLE_TIME, ROLE_STATUS, ROLE_END, ROLE_CHANGED, ROLE__COUNT };
extern const char *const rec_role_names[ROLE__COUNT][40];
/* A field name equals a role name ignoring case and '_'. */
bool rec_role_name_eq(const char *field, const char *role);
/* One row of (label-safe name, value) fields, roles[] playing their roles. */
void rec_row_from_fields(recorded_t *r, row_t *row, char *const *names, const char *const *vals,
                         const size_t *lens, size_t n, const int roles[ROLE__COUNT]);
/* The last word of s[0, len): after the last '_', '-' or '.', or from
 * its last capital starting a CamelCase word ("Component" in
 * "AnalysisComponent"); all of it when none (recorded_json.c). */
const char *rec_last_word(const char *s, size_t len, size_t *word_len);
/* Whether a key is role name `role`, or (suffix) ends with it as its last
 * word, naming no entity (recorded_json.c). */
bool rec_leaf_is_role(const char *leaf, const char *parent, bool array, const char *role,
                      bool suffix);
/* Whether a value reads as an alert's time: a date from 1990 on. */
bool rec_plausible_time(const char *v, size_t len);

/* Alertmanager/Prometheus JSON or protobuf through the ingest decoder, as
 * `quell run` reads it, each alert at `t` (or its startsAt, when
 * time_from_alert); a value it refuses is reported with its reason. */
void rec_decode_and_emit(recorded_t *r, const char *file, size_t line, ingest_format_t format,
                         const char *text, size_t len, int64_t t, bool time_from_alert,
                         recorded_fn fn, void *ctx);
/* A Prometheus JSON value's event time (receivedAt, else the first
 * line's startsAt, else 1 ms after the previous). */
int64_t rec_prom_time(recorded_t *r, const char *text, size_t len);

/* JSON text of any shape: one value after another (recorded_json.c). */
void rec_read_json_text(recorded_t *r, const char *file, const char *buf, size_t len,
                        recorded_fn fn, void *ctx);

/* Times (recorded_text.c). A date of two small fields and a year
 * (5/7/2017, 13.07.2017, fast.log's 07/05-08:42:10) reads as M/D or D/M
 * as `date_order` says; a date without a year (syslog's "Dec  6
 * 15:51:00", fast.log's M/D) takes `year`. */
enum { REC_DATE_MDY, REC_DATE_DMY };
/* What a read time says about its file: two-field dates vote on their
 * order (first field over 12: D/M; second over 12: M/D); a yearless date
 * gives its month, for the year's rollover. */
typedef struct {
    bool two_field_date, first_over_12, second_over_12;
    int first, second; /* the two fields of such a date */
    bool yearless;
    int month;
    /* a date and a clock (not RFC 3339, not Unix time): the hour as
     * written, whether AM/PM said which half of the day, the date's day
     * (days since 1970-01-01, before any zone) */
    bool clock, ampm;
    int hour;
    int64_t day;
} rec_time_info_t;
/* `o` NULL: M/D, year 1970. `info` may be NULL. False when unparsable. */
bool rec_parse_time(const char *s, size_t len, const rec_time_opts_t *o, int64_t *ms_out,
                    rec_time_info_t *info);

/* The end of an input's times: the last date's newest-first readings
 * decided (see struct recorded's clock_rev); recorded.c. */
void rec_clock_finish(recorded_t *r);

/* Which reader a file needs, from its first bytes. */
typedef enum {
    REC_KIND_JSON,
    REC_KIND_PROTO,
    REC_KIND_CSV,
    REC_KIND_FASTLOG,
    REC_KIND_SYSLOG,
    REC_KIND_SNORT_FULL, /* Snort's full alerts: rec_snort_full */
    REC_KIND_OSSEC,      /* OSSEC's (Wazuh's) alerts.log: rec_ossec_record */
    REC_KIND_NAGIOS      /* Nagios's (Icinga's, Naemon's) log: rec_nagios_line */
} rec_kind_t;
rec_kind_t rec_sniff(const char *buf, size_t len);

/* A label name quell accepts: [a-zA-Z_][a-zA-Z0-9_]*. */
bool rec_label_name_ok(const char *s);
/* A column name made into a label name (malloc'd; NULL when out of
 * memory): other bytes become '_', a leading digit gets a '_' before it. */
char *rec_label_safe(const char *s);

/* In place: bytes that are not strict UTF-8, and NUL, become '?'. */
void rec_utf8_clean(char *s, size_t len);
/* UTF-16 text with a byte order mark as UTF-8: a malloc'd, NUL-terminated
 * copy (the caller frees it) and its length; NULL when `buf` opens with no
 * UTF-16 byte order mark (or out of memory). */
char *rec_utf16_to_utf8(const char *buf, size_t len, size_t *out_len);

/* Whether a status value means resolved (resolved, ok, cleared, up,
 * success, passed ..., case-insensitively). */
bool rec_status_resolved(const char *v, size_t len);
/* The length of a state prefix of an alert's name, as notifications
 * title it ("[Triggered] ", "[Recovered] ", "[FIRING:2] ", "[OK] "), 0
 * when none; *resolved tells which. */
size_t rec_status_prefix(const char *v, size_t len, bool *resolved);

/* Records that say they are no alert: an alert name an IDS data set gives
 * traffic that is no attack (BENIGN, normal), a Suricata EVE event type
 * other than an alert's (flow, dns, http, stats ...). */
bool rec_benign_name(const char *v, size_t len);
bool rec_eve_not_alert(const char *event_type);

/* CSV: the delimiter of the header line starting at `s` (, tab ; or |);
 * one record from *p, unquoted in place, advancing *p (see recorded_text.c);
 * whether a one-column header is a YAML document's first line. */
char rec_csv_delimiter(const char *s, const char *end);
size_t rec_csv_record(char **p, char *end, char delim, char **f, size_t *fl, size_t cap,
                      size_t *lines);
bool rec_yaml_header(const char *h);

/* One line of Suricata's or Snort's fast.log:
 *   TIME  [**] [GID:SID:REV] MESSAGE [**] [Classification: C] [Priority: P]
 *   {PROTO} SRC:PORT -> DST:PORT
 * (classification and priority optional) as fields named as EVE names
 * them: timestamp, signature_id, signature, classification, priority,
 * proto, src_ip, src_port, dest_ip, dest_port. Values point into `s`.
 * Returns how many were found, 0 when the line is not such an alert. */
#define REC_FASTLOG_FIELDS 10
typedef struct {
    const char *name;
    const char *value;
    size_t len;
} rec_field_t;
size_t rec_fastlog_line(const char *s, size_t len, rec_field_t f[REC_FASTLOG_FIELDS]);

/* Multi-line alerts, one record each. A record opens with a line of its
 * own (rec_record_start: "[**] [" for REC_KIND_SNORT_FULL, "** Alert "
 * for REC_KIND_OSSEC, other kinds none) and runs to the next one; Snort's
 * also ends at a blank line. Each reader takes one record's lines
 * (s[0..len), '\n' between them, a '\r' before one allowed) and returns
 * its fields (values pointing into `s`), or 0 with `*why` (static text)
 * and `*bad_line` (the offending line, 0 for the record's first) saying
 * what is wrong. */
bool rec_record_start(rec_kind_t kind, const char *s, size_t len);
/* Snort's (and Suricata's) full alert format (`snort -A full`, Snort's
 * `alert` file):
 *   [**] [GID:SID:REV] MESSAGE [**]
 *   [Classification: C] [Priority: P]        (optional, either optional)
 *   TIME SRC[:PORT] -> DST[:PORT]            (M/D[/Y]-h:m:s.f as fast.log)
 *   PROTO TTL:63 TOS:0x0 ID:61212 ...         (the packet's header)
 *   ...                                       (TCP flags, [Xref => ...])
 * as fast.log's fields (rec_fastlog_line): the proto from the packet's
 * header line, none of the packet's own fields (TTL, ID, Seq: they differ
 * per packet, every alert would be a label set of its own). */
size_t rec_snort_full(const char *s, size_t len, rec_field_t f[REC_FASTLOG_FIELDS],
                      size_t *bad_line, const char **why);
/* OSSEC's (and Wazuh's) alerts.log:
 *   ** Alert 1596031871.1234: [mail ] - GROUP,GROUP,
 *   2020 Jul 29 14:11:11 (AGENT) IP->LOCATION   (or HOST->LOCATION)
 *   Rule: 5716 (level 5) -> 'DESCRIPTION'
 *   Src IP: 10.0.0.9                            (Src Port, Dst IP, Dst Port,
 *   User: root                                   User: each optional)
 *   LOG LINE(S)
 * as Wazuh's alerts.json names them flattened: timestamp, rule_groups,
 * agent_name, agent_ip, location, rule_id, rule_level, rule_description,
 * full_log (the log: every line after the key lines), and OSSEC's JSON
 * srcip, srcport, dstip, dstport, user. The alert id is no field. */
#define REC_OSSEC_FIELDS 16
size_t rec_ossec_record(const char *s, size_t len, rec_field_t f[REC_OSSEC_FIELDS],
                        size_t *bad_line, const char **why);

/* One syslog line: RFC 3164 ("Dec  6 15:51:00 HOST TAG[PID]: MESSAGE"),
 * RFC 5424 ("<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MESSAGE") or a
 * high-precision ISO timestamp in front of RFC 3164's host (rsyslog), a
 * "<PRI>" allowed before either: fields timestamp, host, program, pid and
 * msg; when the message is an IDS alert as Snort and Suricata log it to
 * syslog ("[GID:SID:REV] MESSAGE [Classification: C] [Priority: P]
 * {PROTO} SRC:PORT -> DST:PORT"), the fields fast.log's are instead of
 * msg (which carries addresses and ports: one label set per alert).
 * Values point into `s`; 0 when the line is no such line. */
#define REC_SYSLOG_FIELDS 40
size_t rec_syslog_line(const char *s, size_t len, rec_field_t f[REC_SYSLOG_FIELDS]);

/* A CEF event (ArcSight's Common Event Format, "CEF:0|VENDOR|PRODUCT|
 * VERSION|SIGNATURE ID|NAME|SEVERITY|key=value ..."), alone on a line or
 * as a syslog message (then rec_syslog_line's host and time come first):
 * fields device_vendor, device_product, device_version, signature_id,
 * signature (the name), severity (a number 0-10 as CEF's band: Low,
 * Medium, High, Very-High), and the extension's keys of CEF's dictionary
 * (rt as timestamp; spt, the source port, as such is no label). At most
 * `cap` fields; 0 when `s` opens with no CEF header. */
size_t rec_cef(const char *s, size_t len, rec_field_t *f, size_t cap);

/* One line of Nagios's log (nagios.log; Icinga's and Naemon's are the
 * same): "[EPOCH] SERVICE ALERT: HOST;SERVICE;STATE;TYPE;ATTEMPT;OUTPUT" or
 * "[EPOCH] HOST ALERT: HOST;STATE;TYPE;ATTEMPT;OUTPUT", as fields
 * timestamp, alertname (the service, "host" for a host), host and state
 * (OK and UP resolve). The state type (SOFT, HARD), the attempt and the
 * check's output are no fields: they change with each check. Returns how
 * many fields, 0 when the line is no Nagios log line (or an alert with
 * fields missing), -1 when it is one but no alert (a notification, flapping, downtime, the current
 * states logged at a rotation, the log's own lines). */
#define REC_NAGIOS_FIELDS 4
int rec_nagios_line(const char *s, size_t len, rec_field_t f[REC_NAGIOS_FIELDS]);

#endif
