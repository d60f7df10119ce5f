/*
 * Recorded traffic readers (see recorded.h): Prometheus JSON, protobuf,
 * CSV through a column mapping or guessed roles, fast.log, Snort's full
 * alerts, OSSEC's alerts.log, syslog and Zeek logs, and kafka:TOPIC; JSON
 * of any other shape: recorded_json.c; files in event-time order:
 * recorded_order.c; compressed input: recorded_unpack.c.
 *
 * Design: every reader ends in one alert_t built in a per-row arena (labels
 * sorted bytewise, names unique, empty values dropped as Prometheus does)
 * handed to the caller's callback, so `suggest` and `replay` see recorded
 * CSV exactly as they see alerts off Kafka. A file is read whole into
 * memory (recorded traffic of a week is tens of MB), one at a time, twice
 * (recorded_order.c): its times first, then its alerts, each handed out when
 * its event-time turn has come. Output and errors are a function of the
 * bytes (and, for syslog dates without a year, the file's modification
 * time) only: no clock is read.
 */
#include "recorded.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "../ingest/ingest.h"

#include "recorded_int.h"

static bool start_time_name(const char *name);

/* A problem with one row: the first REPORT_MAX of a file go to stderr as
 * FILE:LINE: message, the rest are counted and summed up at its end. */
#define REPORT_MAX 20
void rec_report(recorded_t *r, const char *file, size_t line, const char *fmt, ...)
{
    if (r->scanning || r->reported++ >= REPORT_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%zu: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* After an input: how many problems were not listed, times not read. */
static void report_tail(recorded_t *r, const char *where)
{
    if (r->scanning) return;
    if (r->reported > REPORT_MAX)
        fprintf(stderr, "%s: %llu more problems not listed\n", where,
                (unsigned long long)(r->reported - REPORT_MAX));
    if (r->bad_times)
        fprintf(stderr, "%s: %llu times not read (alerts kept, in file order)\n", where,
                (unsigned long long)r->bad_times);
    if (r->trimmed_rows)
        fprintf(stderr,
                "%s: %llu rows with more than ingest.max_labels (%zu) labels: alertname and "
                "severity kept, the labels past the limit (in name order) dropped; --map picks "
                "the ones to keep\n",
                where, (unsigned long long)r->trimmed_rows, r->limits.max_labels);
    if (r->cut_values)
        fprintf(stderr, "%s: %llu values longer than ingest.max_value_bytes (%zu) cut there\n",
                where, (unsigned long long)r->cut_values, r->limits.max_value_bytes);
    if (r->not_alerts)
        fprintf(stderr,
                "%s: %llu records that are no alert skipped (named BENIGN or normal, as IDS "
                "exports label traffic that is no attack; Suricata EVE events other than "
                "alerts: flow, dns, http, stats ...)\n",
                where, (unsigned long long)r->not_alerts);
    if (r->other_lines)
        fprintf(stderr,
                "%s: %llu log lines that are no alert skipped (notifications, flapping, "
                "downtime, current states, the log's own lines)\n",
                where, (unsigned long long)r->other_lines);
    if (r->no_times && r->explain)
        fprintf(stderr,
                "%s: %llu alerts without a time (no column or field was read as one, or it was "
                "empty): each explained as of now; name it with --map time=COLUMN\n",
                where, (unsigned long long)r->no_times);
    else if (r->no_times)
        fprintf(stderr,
                "%s: %llu alerts without a time (no column or field was read as one, or it was "
                "empty): each 1 ms after the previous; name it with --map time=COLUMN\n",
                where, (unsigned long long)r->no_times);
}

/* ---- setup -------------------------------------------------------------- */

recorded_t *recorded_new(const conf_t *conf, const char *map_spec, char *errbuf, size_t errlen)
{
    recorded_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    r->limits = (ingest_limits_t){conf->ingest.max_message_bytes, conf->ingest.max_labels,
                                  conf->ingest.max_name_bytes, conf->ingest.max_value_bytes,
                                  conf->ingest.max_annotation_bytes};
    arena_init(&r->arena, 64 * 1024);
    r->date_order_forced = -1;
    r->clock_forced = -1;
    r->topts = (rec_time_opts_t){REC_DATE_MDY, 1970};
    if (!map_spec) return r;
    r->has_map = true;
    char *spec = strdup(map_spec), *save = NULL;
    if (!spec) goto oom;
    for (char *tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t tl = strlen(tok);
        while (tl && tok[tl - 1] == ' ') tok[--tl] = '\0';
        if (!tl) continue;
        if (r->n_map == MAX_MAP) {
            snprintf(errbuf, errlen, "--map: more than %d entries", MAX_MAP);
            goto fail;
        }
        char *eq = strchr(tok, '=');
        map_entry_t *m = &r->map[r->n_map];
        if (eq) {
            *eq = '\0';
            m->label = strdup(tok);
            m->source = strdup(eq + 1);
        } else {
            m->label = rec_label_safe(tok);
            m->source = strdup(tok);
        }
        r->n_map++;
        if (!m->label || !m->source) goto oom;
        if (!m->source[0]) {
            snprintf(errbuf, errlen, "--map: \"%s=\" names no column", m->label);
            goto fail;
        }
        if (!rec_label_name_ok(m->label)) {
            snprintf(errbuf, errlen, "--map: \"%s\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)",
                     m->label);
            goto fail;
        }
        for (size_t i = 0; i + 1 < r->n_map; i++)
            if (!strcmp(r->map[i].label, m->label)) {
                snprintf(errbuf, errlen, "--map: label \"%s\" is mapped twice", m->label);
                goto fail;
            }
        if (!strcmp(m->label, "time")) {
            const char *leaf = strrchr(m->source, '.');
            char *safe = rec_label_safe(leaf ? leaf + 1 : m->source);
            r->map_time_start = safe && start_time_name(safe);
            free(safe);
        }
    }
    free(spec);
    if (!r->n_map) {
        snprintf(errbuf, errlen, "--map: no entries (expected LABEL=COLUMN,...)");
        recorded_destroy(r);
        return NULL;
    }
    return r;
oom:
    snprintf(errbuf, errlen, "out of memory");
fail:
    free(spec);
    recorded_destroy(r);
    return NULL;
}

void recorded_destroy(recorded_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_map; i++) {
        free(r->map[i].label);
        free(r->map[i].source);
    }
    arena_free(&r->arena);
    free(r->times);
    free(r->closes);
    free(r->pm_days_build);
    free(r->order);
    free(r->held);
    for (size_t i = 0; i < ROLES_CACHED; i++) free(r->roles_cache[i].key);
    free(r->shape);
    free(r->fired);
    free(r);
}

uint64_t recorded_errors(const recorded_t *r) { return r->errors; }

size_t recorded_position(const recorded_t *r) { return r->position; }

/* ---- time --------------------------------------------------------------- */

int64_t rec_next_time(recorded_t *r, bool found, int64_t t)
{
    if (!found && r->explain) return 0; /* explain asks about it as of now */
    if (!found) t = r->have_time ? r->last_time + 1 : 0;
    r->last_time = t;
    r->have_time = true;
    return t;
}

/* A time with a clock as this file's clock reads (see recorded_t). With
 * `clock12`, a time without AM/PM reads as whichever of its two readings
 * (3:30 or 15:30; 12:30 or 0:30) is nearer the latest time so far on the
 * same date, a tie going forward: 1:05 after 12:59 is 13:05, a straggler
 * 8:00 after 13:05 stays 8:00 and the 2:05 after it is 14:05 (the latest,
 * not the one before: a straggler does not turn the afternoon after it).
 * A date's first time reads as written (12:xx noon), but 12:xx within 6
 * hours after the date before's latest is just past midnight
 * (round-the-clock data: 11:59 PM, 12:00).
 * Whether or not, counts what the steps say for input_settle. */
/* One of a date's two newest-first readings (see struct recorded) of a
 * time with readings lo and hi (raw as written); `first` of its date. */
static int64_t rev_step(recorded_t *r, int c, bool first, bool as_written, bool noon, int64_t raw,
                        int64_t lo, int64_t hi)
{
    const int64_t six_hours_ms = 6 * 3600000LL;
    int64_t ms = raw;
    if (first)
        ms = c == 1 && !as_written && !noon ? hi : raw;
    else if (!as_written)
        ms = r->rev[c].earliest - lo <= hi - r->rev[c].earliest ? lo : hi;
    if (!first) {
        r->rev[c].up += ms > r->rev[c].prev;
        r->rev[c].down += ms < r->rev[c].prev;
        r->rev[c].big_up += ms >= r->rev[c].earliest + six_hours_ms;
    }
    if (first || ms < r->rev[c].earliest) r->rev[c].earliest = ms;
    r->rev[c].prev = ms;
    return ms;
}

void rec_clock_finish(recorded_t *r)
{
    if (!r->rev_have_day) return;
    r->rev_have_day = false;
    int c = r->rev[1].up < r->rev[0].up;
    r->rev_up += r->rev[c].up;
    r->rev_down += r->rev[c].down;
    r->rev_big_up += r->rev[c].big_up;
    memset(r->rev, 0, sizeof r->rev);
    if (!c) return;
    r->rev_pm_days++;
    if (r->n_pm_build == r->cap_pm_build) {
        size_t cap = r->cap_pm_build ? r->cap_pm_build * 2 : 16;
        int64_t *d = realloc(r->pm_days_build, cap * sizeof *d);
        if (!d) return; /* out of memory: that date reads as written */
        r->pm_days_build = d;
        r->cap_pm_build = cap;
    }
    r->pm_days_build[r->n_pm_build++] = r->rev_day;
}

static bool day_in(const int64_t *days, size_t n, int64_t day)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (days[mid] == day) return true;
        if (days[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int64_t clock_time(recorded_t *r, const rec_time_info_t *info, int64_t raw)
{
    const int64_t half_day_ms = 12 * 3600000LL, six_hours_ms = 6 * 3600000LL;
    bool as_written = info->ampm || info->hour == 0 || info->hour > 12;
    if (as_written) r->clock_24 = true; /* and each such time reads as written */
    bool same_day = r->clock_at.have && info->day == r->clock_at.day;
    r->clock_down_same_day += same_day && raw < r->clock_at.raw;
    r->clock_up_same_day += same_day && raw > r->clock_at.raw;
    bool noon = info->hour == 12; /* as the parser reads 12:xx without AM/PM */
    int64_t lo = noon ? raw - half_day_ms : raw, hi = noon ? raw : raw + half_day_ms;
    int64_t ms = raw;
    if (!as_written) {
        if (same_day)
            ms = hi - r->clock_at.latest_ms <= r->clock_at.latest_ms - lo ? hi : lo;
        else if (noon && r->clock_at.have && lo >= r->clock_at.latest_ms &&
                 lo - r->clock_at.latest_ms <= six_hours_ms)
            ms = lo;
    }
    if (!noon) {
        bool pm = !as_written && ms == hi;
        r->clock_wraps += pm && !r->clock_at.pm;
        r->clock_at.pm = pm;
    }
    r->clock_up += r->clock_at.have && ms > r->clock_at.ms;
    r->clock_down += r->clock_at.have && ms < r->clock_at.ms;
    r->clock_wrapped_down += same_day && ms < r->clock_at.ms;
    r->clock_big_back += same_day && ms <= r->clock_at.latest_ms - six_hours_ms;
    if (!same_day || ms > r->clock_at.latest_ms) r->clock_at.latest_ms = ms;
    r->clock_at.have = true;
    r->clock_at.raw = raw;
    r->clock_at.ms = ms;
    r->clock_at.day = info->day;
    bool new_date = !r->rev_have_day || info->day != r->rev_day;
    if (new_date) {
        rec_clock_finish(r);
        r->rev_have_day = true;
        r->rev_day = info->day;
        r->rev_anchor_pm = day_in(r->pm_days, r->n_pm_days, info->day);
    }
    int64_t rev_ms[2];
    for (int c = 0; c < 2; c++) rev_ms[c] = rev_step(r, c, new_date, as_written, noon, raw, lo, hi);
    if (!r->clock12) return raw;
    return r->clock_rev ? rev_ms[r->rev_anchor_pm] : ms;
}

/* A time as this file's times read (see recorded_t): a yearless date
 * more than half a year before the previous one has rolled over into the
 * next year (Dec 31 -> Jan 1), more than half a year after it back into
 * the previous (a newest-first log). */
bool rec_read_time(recorded_t *r, const char *v, size_t len, int64_t *ms)
{
    rec_time_info_t info;
    r->topts.year = r->start_year + r->year_offset;
    bool ok = rec_parse_time(v, len, &r->topts, ms, &info);
    if (info.two_field_date) { /* 13/07/2017 votes D/M even when M/D cannot read it */
        r->two_field_dates++;
        r->votes_dmy += info.first_over_12;
        r->votes_mdy += info.second_over_12;
        if (r->prev_first) {
            r->steps_dmy += info.first != r->prev_first && info.second == r->prev_second;
            r->steps_mdy += info.second != r->prev_second && info.first == r->prev_first;
        }
        r->prev_first = info.first, r->prev_second = info.second;
    }
    if (!ok) return false;
    if (info.yearless) {
        const int64_t half_year = 183LL * 86400000;
        if (r->have_yearless &&
            (*ms < r->last_yearless_ms - half_year || *ms > r->last_yearless_ms + half_year)) {
            r->year_offset += *ms < r->last_yearless_ms ? 1 : -1;
            r->topts.year = r->start_year + r->year_offset;
            if (!rec_parse_time(v, len, &r->topts, ms, &info)) return false;
        }
        r->have_yearless = true;
        r->last_yearless_ms = *ms;
    }
    if (info.clock) *ms = clock_time(r, &info, *ms);
    return true;
}

/* ---- building an alert from (label, value) pairs ----------------------- */

static int label_cmp(const void *a, const void *b)
{
    const label_t *x = a, *y = b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = memcmp(x->name.ptr, y->name.ptr, n);
    if (c) return c;
    return x->name.len < y->name.len ? -1 : x->name.len > y->name.len;
}

/* Adds label `name` = value (copied into the arena); "time" and "status"
 * are read instead when `special`. */
void rec_row_add(recorded_t *r, row_t *row, const char *name, const char *v, size_t vlen,
                 bool special)
{
    if (special && !strcmp(name, "time")) {
        if (!vlen) return;
        if (rec_read_time(r, v, vlen, &row->time_ms)) {
            row->have_time = true;
        } else {
            row->bad_time = true;
            snprintf(row->bad_time_text, sizeof row->bad_time_text, "%.*s",
                     (int)(vlen > 40 ? 40 : vlen), v);
            for (char *c = row->bad_time_text; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == '"') *c = '?';
        }
        return;
    }
    if (special && !strcmp(name, "status")) {
        row->resolved = rec_status_resolved(v, vlen);
        return;
    }
    if (special && !strcmp(name, "changed")) {
        row->have_changed = vlen && rec_parse_time(v, vlen, &r->topts, &row->changed_ms, NULL);
        return;
    }
    if (special && !strcmp(name, "end")) {
        /* read as the file's dates read, without voting on them: an open
         * problem's is empty */
        row->have_end = vlen && rec_parse_time(v, vlen, &r->topts, &row->end_ms, NULL);
        return;
    }
    while (vlen && isspace((unsigned char)*v)) v++, vlen--;
    while (vlen && isspace((unsigned char)v[vlen - 1])) vlen--;
    if (!vlen || row->n >= sizeof row->labels / sizeof *row->labels) return;
    if (vlen > r->limits.max_value_bytes) {
        vlen = r->limits.max_value_bytes;
        r->cut_values++;
    }
    char *nv = arena_strndup(&r->arena, v, vlen);
    char *nn = arena_strndup(&r->arena, name, strlen(name));
    if (!nv || !nn) return;
    rec_utf8_clean(nv, vlen);
    row->labels[row->n++] = (label_t){{nn, (uint32_t)strlen(nn)}, {nv, (uint32_t)vlen}};
}

/* The label set of a row (labels sorted, names unique). */
static uint64_t labels_hash(const row_t *row)
{
    uint64_t h = row->n;
    for (uint32_t i = 0; i < row->n; i++) {
        h = XXH3_64bits_withSeed(row->labels[i].name.ptr, row->labels[i].name.len, h);
        h = XXH3_64bits_withSeed(row->labels[i].value.ptr, row->labels[i].value.len, ~h);
    }
    return h ? h : 1;
}

/* The key of a row's alert name in r->fired, beside its label sets'. */
static uint64_t name_key(const row_t *row)
{
    for (uint32_t i = 0; i < row->n; i++)
        if (row->labels[i].name.len == 9 && !memcmp(row->labels[i].name.ptr, "alertname", 9)) {
            uint64_t h = XXH3_64bits_withSeed(row->labels[i].value.ptr, row->labels[i].value.len,
                                              0x6e616d65ull);
            return h ? h : 1;
        }
    return 0;
}

/* r->fired: the slot of key, or the empty one where it goes. */
static size_t fired_slot(const recorded_t *r, uint64_t key)
{
    size_t i = (size_t)key & (r->fired_cap - 1);
    while (r->fired[i].key && r->fired[i].key != key) i = (i + 1) & (r->fired_cap - 1);
    return i;
}

static uint32_t fired_count(const recorded_t *r, uint64_t key)
{
    if (!r->fired_cap || !key) return 0;
    size_t i = fired_slot(r, key);
    return r->fired[i].key == key ? r->fired[i].open : 0;
}

void rec_fired_reset(recorded_t *r)
{
    if (r->fired_cap) memset(r->fired, 0, r->fired_cap * sizeof *r->fired);
    r->fired_n = 0;
}

/* Adds delta to key's count; out of memory, nothing is recorded (a later
 * closed row of it is then read as a whole incident). */
static void fired_add(recorded_t *r, uint64_t key, int delta)
{
    if (!key || (delta < 0 && !r->fired_cap)) return;
    if ((r->fired_n + 1) * 4 > r->fired_cap * 3) {
        size_t cap = r->fired_cap ? r->fired_cap * 2 : 1024;
        __typeof__(r->fired) grown = calloc(cap, sizeof *grown);
        if (!grown) return;
        __typeof__(r->fired) old = r->fired;
        size_t old_cap = r->fired_cap;
        r->fired = grown;
        r->fired_cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].key) r->fired[fired_slot(r, old[i].key)] = old[i];
        free(old);
    }
    size_t i = fired_slot(r, key);
    if (!r->fired[i].key) {
        if (delta < 0) return;
        r->fired[i].key = key;
        r->fired_n++;
    }
    if (delta > 0 || r->fired[i].open) r->fired[i].open += (uint32_t)delta;
}

/* Records whether the row's label set is open now, and counts the open
 * label sets of its name. */
static void fired_mark(recorded_t *r, uint64_t fp, uint64_t name, bool open)
{
    if (open == (fired_count(r, fp) > 0)) return;
    fired_add(r, fp, open ? 1 : -1);
    fired_add(r, name, open ? 1 : -1);
}

static bool is_role_label(const label_t *l)
{
    return (l->name.len == 9 && !memcmp(l->name.ptr, "alertname", 9)) ||
           (l->name.len == 8 && !memcmp(l->name.ptr, "severity", 8));
}

void rec_row_emit(recorded_t *r, row_t *row, const char *file, size_t line, recorded_fn fn,
                  void *ctx)
{
    if (row->bad_time) {
        /* Kept: a week of alerts with an odd time format is still worth
         * tuning on, in file order. */
        r->bad_times++;
        rec_report(r, file, line,
                   r->explain
                       ? "warning: time \"%s\" not read: explained as of now"
                       : "warning: time \"%s\" not read: taken as 1 ms after the previous alert",
                   row->bad_time_text);
    }
    if (!row->n) {
        r->errors++;
        rec_report(r, file, line, "not read: no labels (no %sfield has a value)",
                   r->has_map ? "mapped " : "");
        return;
    }
    for (uint32_t i = 0; i < row->n; i++) {
        label_t *l = &row->labels[i];
        if (l->name.len != 9 || memcmp(l->name.ptr, "alertname", 9)) continue;
        bool resolved = false;
        size_t skip = rec_status_prefix(l->value.ptr, l->value.len, &resolved);
        l->value.ptr += skip;
        l->value.len -= (uint32_t)skip;
        row->resolved |= resolved;
        if (rec_benign_name(l->value.ptr, l->value.len)) {
            r->not_alerts++;
            return;
        }
    }
    if (!row->have_time && !row->bad_time) r->no_times++;
    qsort(row->labels, row->n, sizeof *row->labels, label_cmp);
    uint32_t k = 0; /* names unique: the first of equal names stays */
    for (uint32_t i = 0; i < row->n; i++)
        if (!k || label_cmp(&row->labels[k - 1], &row->labels[i]))
            row->labels[k++] = row->labels[i];
    row->n = k;
    if (row->n > r->limits.max_labels) {
        /* Past the limit, keep the labels the decision reads (the name,
         * the severity), then the first others in name order. */
        uint32_t keep_other = (uint32_t)r->limits.max_labels, out = 0;
        for (uint32_t i = 0; i < row->n; i++)
            if (is_role_label(&row->labels[i]) && keep_other) keep_other--;
        for (uint32_t i = 0; i < row->n; i++) {
            bool role = is_role_label(&row->labels[i]);
            if (role || keep_other) {
                if (!role) keep_other--;
                row->labels[out++] = row->labels[i];
            }
        }
        row->n = out;
        r->trimmed_rows++;
    }
    alert_t a;
    memset(&a, 0, sizeof a);
    a.labels = row->labels;
    a.n_labels = row->n;
    a.status = row->resolved ? ALERT_RESOLVED : ALERT_FIRING;
    a.event_time_ms = rec_next_time(r, row->have_time, row->time_ms);
    a.starts_at_ms = a.event_time_ms;
    /* Open before this row: its label set, or another of its name (a
     * stream of events whose ids differ: PagerDuty's webhook messages) */
    uint64_t fp = labels_hash(row), name = name_key(row);
    bool fired_before = fired_count(r, fp) || fired_count(r, name);
    /* A row that is a whole incident (a Zabbix problem, a PagerDuty
     * incident, an alarm with its clear time): it fired at its time,
     * whatever its status says now, and resolved at its end. So is a
     * closed row timed by when it was created, of an alert nothing before
     * it opened (PagerDuty's REST incidents: created_at, status resolved;
     * Opsgenie's alerts: createdAt, closed), not the resolve of one: its
     * end is when its state last changed (last_status_change_at,
     * updatedAt); without that, it only fired, as an open problem's row
     * does (end -1). */
    int64_t end_ms = row->end_ms;
    bool whole = row->have_time && row->have_end && end_ms >= row->time_ms;
    if (!whole && row->have_time && row->resolved && (row->time_is_start || r->map_time_start) &&
        !fired_before) {
        whole = true;
        end_ms = row->have_changed && row->changed_ms >= row->time_ms ? row->changed_ms : -1;
    }
    if (whole) {
        a.status = ALERT_FIRING;
        if (end_ms >= 0) {
            fn(ctx, &a);
            a.status = ALERT_RESOLVED;
            a.event_time_ms = end_ms;
            r->emitting_close = true;
        }
    }
    fired_mark(r, fp, name, a.status == ALERT_FIRING);
    fn(ctx, &a);
    r->emitting_close = false;
}

/* ---- without a mapping: guessing the roles of fields ---------------------- */

/* Field names (label-safe; compared ignoring case and '_') that play a
 * role when no mapping is given, most specific first. */
const char *const rec_role_names[ROLE__COUNT][40] = {
    /* alertname */
    {"alertname",
     "alert_signature",
     "signature",
     "signature_name",
     "sig_name",
     "threat_name",
     "alert_name",
     "alert_title", /* Microsoft's GUIDE incidents: AlertTitle */
     "rule_name",
     "rule_description",
     "rule_comment", /* OSSEC's JSON alerts */
     "rule",
     "alarm_name",
     "alarm",
     "check_name",
     "check",
     "condition_name",          /* New Relic */
     "incident_condition_name", /* Google Cloud Monitoring (Stackdriver) */
     "payload_summary",         /* PagerDuty Events v2 without a dedup_key */
     "event_name",
     "note", /* Zeek notice.log: its msg is free text about one instance */
     "msg",
     "title",
     "alert",
     "name",
     "summary",
     "job_name", /* cron and batch check logs */
     "job",
     "attack_cat", /* UNSW-NB15 */
     "attack_type",
     "label",   /* CIC-IDS2017/2018 flows: " Label" */
     "problem", /* Zabbix's problem export */
     "trigger_name",
     "trigger",
     "service",     /* Riemann's events: host, service, state, description */
     "message",     /* Opsgenie's alert export */
     "description", /* PagerDuty's incident export */
     NULL},
    /* severity */
    {"severity", "alert_severity", "priority", "perceived_severity", "severity_level", "sev",
     "level", "rule_level", "criticality", "urgency", NULL},
    /* time */
    {"time", "timestamp", "ts", "datetime", "event_time", "alarm_time",
     /* when it fired, before when something was made (Graylog's check
      * result: triggered_at; its condition's created_at) */
     "triggered_at", "detected_at", "raised_at", "fired_at", "alerted_at", "occurred_at",
     "created_at", "created_on" /* PagerDuty's incident export */, "opened_at" /* ServiceNow */,
     "first_occurrence" /* Netcool */, "first_seen", "start_time", "received_at", "finished_at",
     "started_at", "incident_started_at", "payload_timestamp", "date",
     "clock" /* Zabbix's API: epoch seconds */, NULL},
    /* status: a check's result, PagerDuty's event_action, Pingdom's current_state,
     * Google Cloud Monitoring's incident.state */
    {"status", "state", "alarm_state", "current_state", "incident_state", "event_action", "result",
     "outcome", "new_state_value" /* CloudWatch: ALARM, OK */, NULL},
    /* end: when a row that is a whole incident ended (Zabbix's "Recovery
     * time", PagerDuty's resolved_on, an alarm's clear time) */
    {"recovery_time",
     "resolved_at",
     "resolved_on",
     "resolved_time",
     "resolve_time",
     "resolution_time",
     "recovered_at",
     "recovered_time",
     "cleared_at",
     "cleared_on",
     "cleared_time",
     "clear_time",
     "closed_at",
     "closed_on",
     "closed_time",
     "close_time",
     "ended_at",
     "end_time",
     "r_clock" /* Zabbix's problem.get: 0 while open */,
     NULL},
    /* changed: when a row's state last changed, its close for a closed one
     * timed by its creation (PagerDuty's REST incidents, Opsgenie's
     * alerts); never a label, as it changes with every update */
    {"last_status_change_at", "last_state_change_at", "last_state_change", "updated_at",
     "updated_on", "last_updated", "last_updated_at", "modified_at", "last_modified", NULL},
};
static const char *const role_label[ROLE__COUNT] = {"alertname", "severity", "time",
                                                    "status",    "end",      "changed"};

/* Whether a time field says when the alert started or was created, not
 * when this row's event happened (see rec_row_emit). */
static bool start_time_name(const char *name)
{
    static const char *const names[] = {
        "created_at",       "created_on", "creation_time", "opened_at",  "opened_on",
        "first_occurrence", "first_seen", "start_time",    "started_at", "incident_started_at",
        "triggered_at",     "fired_at",   "raised_at",     NULL};
    for (size_t i = 0; names[i]; i++)
        if (rec_role_name_eq(name, names[i])) return true;
    return false;
}

/* A field name equals a role name ignoring case and '_': exports spell
 * one column "Alert Name", "alert_name" and "AlertName". */
bool rec_role_name_eq(const char *field, const char *role)
{
    for (;;) {
        while (*field == '_') field++;
        while (*role == '_') role++;
        if (!*field || !*role) return !*field && !*role;
        if (tolower((unsigned char)*field++) != tolower((unsigned char)*role++)) return false;
    }
}

/* For each role, the index of the field playing it (-1: none). `names`
 * are label-safe. */
static void guess_roles(char *const *names, size_t n, int roles[ROLE__COUNT])
{
    for (int r = 0; r < ROLE__COUNT; r++) {
        roles[r] = -1;
        for (size_t k = 0; rec_role_names[r][k] && roles[r] < 0; k++)
            for (size_t i = 0; i < n && roles[r] < 0; i++) {
                bool taken = false;
                for (int q = 0; q < r; q++) taken |= roles[q] == (int)i;
                if (!taken && names[i] && rec_role_name_eq(names[i], rec_role_names[r][k]))
                    roles[r] = (int)i;
            }
    }
}

/* A field that measures one occurrence, not what it is about: as a label
 * it would make every occurrence a label set of its own (Zabbix's and
 * PagerDuty's exports carry each problem's "Duration"). */
static bool occurrence_field(const char *name)
{
    /* count: how many times it was folded so far (Kubernetes events,
     * Opsgenie's alerts); whether someone acknowledged it yet (Zabbix's
     * "Ack", Opsgenie's) is its handling, not the alert */
    static const char *const names[] = {"duration", "elapsed", "count", "acknowledged",
                                        "ack",      "acked",   NULL};
    for (size_t i = 0; names[i]; i++)
        if (rec_role_name_eq(name, names[i])) return true;
    return false;
}

/* A word of a field name. */
typedef struct {
    const char *p;
    size_t n;
} word_t;

/* The last `max` words of a field name, last first (rec_last_word:
 * NewStateReason is Reason, State, New); how many. */
static size_t name_words(const char *name, word_t *w, size_t max)
{
    size_t len = strlen(name), n = 0;
    while (len && n < max) {
        size_t wl;
        const char *s = rec_last_word(name, len, &wl);
        if (wl) w[n++] = (word_t){s, wl};
        len = (size_t)(s - name);
        while (len && (name[len - 1] == '_' || name[len - 1] == '-' || name[len - 1] == '.')) len--;
    }
    return n;
}

static bool word_is(word_t w, const char *s)
{
    return strlen(s) == w.n && !strncasecmp(w.p, s, w.n);
}

static bool word_in(word_t w, const char *const *set)
{
    for (; *set; set++)
        if (word_is(w, *set)) return true;
    return false;
}

/* 8-4-4-4-12 hex digits: a message's or an event's own id. */
static bool uuid_value(const char *v, size_t len)
{
    if (len != 36) return false;
    for (size_t i = 0; i < 36; i++)
        if (i == 8 || i == 13 || i == 18 || i == 23 ? v[i] != '-' : !isxdigit((unsigned char)v[i]))
            return false;
    return true;
}

/* What a field name says of its values (field_class): bits. */
enum {
    FC_SRC_PORT = 1 << 0,   /* a source port: volatile when ephemeral */
    FC_ID = 1 << 1,         /* an id of one occurrence */
    FC_EVENT_ID = 1 << 2,   /* ... of an event: a kind when 5 digits or fewer */
    FC_COUNTER = 1 << 3,    /* a counter: volatile when digits */
    FC_ALWAYS = 1 << 4,     /* always volatile: a probe, a packet, a check's
                             * description, the row's own id, a state
                             * before, a reason, a resourceVersion */
    FC_QUOTED_LOG = 1 << 5, /* a log line: volatile when it holds a clock */
    FC_ID_WORD = 1 << 6,    /* a last word id, uuid ...: volatile on a UUID */
    FC_TIME_WORD = 1 << 7,  /* a last word naming a time */
    FC_NO_WORDS = 1 << 8    /* no word at all: never volatile */
};

/* The classes of a field name (FC_*), from its words: see volatile_field
 * and per_row_field for what each means. */
static uint16_t field_class(const char *name)
{
    static const char *const ids[] = {"id", "uuid", "guid", "uid", NULL};
    static const char *const time_words[] = {"at",      "on",      "time",     "date",
                                             "created", "updated", "modified", "timestamp",
                                             "ts",      "end",     "start",    NULL};
    static const char *const before[] = {"old", "prev", "previous", NULL};
    static const char *const state[] = {"state", "status", "value", NULL};
    static const char *const src_ports[] = {"srcport", "sport", "spt", "sourceport", NULL};
    static const char *const src_words[] = {"src", "source", "orig", "client", "s", NULL};
    static const char *const occ_ids[] = {
        "flow",      "tx",           "transaction", "session", "request",  "trace",
        "span",      "correlation",  "message",     "msg",     "packet",   "pkt",
        "conn",      "connection",   "event",       "record",  "external", "run",
        "execution", "notification", NULL};
    static const char *const one_word_ids[] = {
        "flowid", "txid", "eventid", "sessionid", "requestid", "traceid", "spanid",
        "fuid",   "pid",  "ppid",    "spid",      "dpid",      "dvcpid",  NULL};
    /* a word of the name, with digits: flow_bytes_toserver, pcap_cnt */
    static const char *const counters[] = {
        "firedtimes", "cnt",     "bytes",    "pkts",  "packets", "seq", "sequence",
        "serial",     "attempt", "attempts", "retry", "retries", NULL};
    /* Snort's alert_csv: the packet's own header fields (decimal or hex:
     * tcpseq 0x1A2B3C4D) */
    static const char *const packet_fields[] = {"tcpseq",  "tcpack", "tcplen", "tcpwindow",
                                                "ttl",     "dgmlen", "iplen",  "icmpid",
                                                "icmpseq", "ethlen", NULL};
    static const char *const raw[] = {
        "payload", "payload_printable", "packet",        "description", "long_description",
        "output",  "long_output",       "plugin_output", "stdout",      "stderr",
        NULL};
    word_t w[8]; /* last first */
    size_t nw = name_words(name, w, 8);
    if (!nw) return FC_NO_WORDS;
    uint16_t c = 0;
    if (nw == 1 && word_in(w[0], ids)) c |= FC_ALWAYS;
    if (word_in(w[0], ids)) c |= FC_ID_WORD;
    if (word_in(w[0], time_words)) c |= FC_TIME_WORD;
    bool had_before = false, had_state = false;
    for (size_t i = 0; i < nw; i++) {
        had_before |= word_in(w[i], before);
        had_state |= word_is(w[i], "state");
        if (word_is(w[i], "probe")) c |= FC_ALWAYS;
        if (word_in(w[i], counters)) c |= FC_COUNTER;
    }
    /* Zeek's notice.log "n": the count a notice carries */
    if (!strcmp(name, "n")) c |= FC_COUNTER;
    for (size_t i = 0; packet_fields[i]; i++)
        if (!strcmp(name, packet_fields[i])) c |= FC_ALWAYS;
    if ((had_before && word_in(w[0], state)) || (had_state && word_is(w[0], "reason")))
        c |= FC_ALWAYS;
    /* Kubernetes's resourceVersion: moves with every write of the object */
    if (nw >= 2 && word_is(w[1], "resource") && word_is(w[0], "version")) c |= FC_ALWAYS;
    if (word_in(w[0], src_ports) ||
        (nw >= 2 && word_in(w[1], src_words) && (word_is(w[0], "port") || word_is(w[0], "p"))))
        c |= FC_SRC_PORT;
    if (word_in(w[0], one_word_ids) || (nw >= 2 && word_is(w[0], "id") && word_in(w[1], occ_ids)))
        c |= FC_ID;
    if (word_is(w[0], "eventid") || (nw >= 2 && word_is(w[0], "id") && word_is(w[1], "event")))
        c |= FC_EVENT_ID;
    for (size_t i = 0; raw[i]; i++)
        if (rec_role_name_eq(name, raw[i])) c |= FC_ALWAYS;
    /* Wazuh's full_log, raw_log, AMiner's LogData.RawLogData, ECS's
     * event.original */
    if ((nw >= 2 && word_is(w[0], "log") && (word_is(w[1], "full") || word_is(w[1], "raw"))) ||
        (nw >= 3 && word_is(w[0], "data") && word_is(w[1], "log") && word_is(w[2], "raw")) ||
        (nw >= 2 && word_is(w[0], "original") && word_is(w[1], "event")))
        c |= FC_QUOTED_LOG;
    return c;
}

/* field_class of a name, remembered by name in r: a row's fields are
 * the previous row's more often than not, so the word lists are read once
 * a name, not once a value. */
static uint16_t field_class_of(recorded_t *r, const char *name)
{
    size_t len = strlen(name);
    if (len >= sizeof r->name_class[0].name) return field_class(name);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
    rec_name_class_t *e = &r->name_class[h % REC_NAME_CLASSES];
    if (strcmp(e->name, name)) {
        memcpy(e->name, name, len + 1);
        e->cls = field_class(name);
    }
    return e->cls;
}

/* A field that names one packet, flow, process or log line rather than
 * what an alert is about (IDS and host-agent outputs), class c: as a
 * label, every row would be a label set of its own and an attack
 * signature seen over hundreds of connections hundreds of incidents. What
 * identifies an attack phase (the signature or rule, its category, the
 * targeted host and service: dest_ip, dest_port) stays. Not a label, then:
 *   - the client side's ephemeral port (1024 and up): src_port, srcport,
 *     sport, spt (CEF), source_port, client_port, Zeek's id.orig_p;
 *   - an id of one occurrence: flow_id, tx_id, session, request, trace,
 *     span, message, packet and connection ids (Zeek's uid and fuid), an
 *     event id longer than 5 digits (Windows's EventID 4625 is a kind of
 *     event; a SIEM's event_id 90210377 one event);
 *   - a process id (pid, ppid: syslog's, Wazuh's, EDR events'; CEF's spid,
 *     dpid, dvcpid) and CEF's externalId;
 *   - per-row counters: flow bytes and packets (flow.bytes_toserver),
 *     Wazuh's rule.firedtimes, pcap_cnt, Zeek's n, a sequence or serial
 *     number (an alarm's, Netcool's Serial), an attempt or retry count
 *     (a cron job's), Snort's alert_csv packet fields (tcpseq, ttl ...);
 *   - a run's or a notification's id (a cron job's run_id);
 *   - the raw log line or packet an alert quotes (Wazuh's full_log,
 *     AMiner's RawLogData, ECS's event.original, holding a clock in its
 *     first 64 bytes: syslog's, Apache's after the client's address; a
 *     syscheck alert's full_log, "File '/etc/hosts' modified", says which
 *     file, and stays; EVE's payload_printable);
 *   - the probe that ran a check and its output (Pingdom's first_probe,
 *     second_probe, description and long_description: its DOWN and its UP
 *     came from other probe locations with other texts, so the UP closed
 *     nothing; Nagios's plugin_output, a cron job's output, stdout,
 *     stderr). */
static bool per_row_field(uint16_t c, const char *v, size_t len, bool digits)
{
    /* a source port under 1024 is a server's answer (http_inspect's
     * alerts on a response come from port 80): it names the service */
    if ((c & FC_SRC_PORT) && digits && (len > 4 || atoi(v) >= 1024)) return true;
    if ((c & FC_ID) && !((c & FC_EVENT_ID) && digits && len <= 5)) return true;
    if ((c & FC_COUNTER) && digits) return true;
    for (size_t k = 0; (c & FC_QUOTED_LOG) && k + 8 <= len && k < 64; k++)
        if (isdigit((unsigned char)v[k]) && isdigit((unsigned char)v[k + 1]) && v[k + 2] == ':' &&
            isdigit((unsigned char)v[k + 3]) && isdigit((unsigned char)v[k + 4]) &&
            v[k + 5] == ':' && isdigit((unsigned char)v[k + 6]) && isdigit((unsigned char)v[k + 7]))
            return true;
    return false;
}

/* A field that changes from one notification of an alert to the next
 * without saying which alert it is: as a label, the firing and its
 * resolve would be two label sets, and the resolve would close nothing
 * (a CloudWatch alarm through SNS: MessageId, StateChangeTime,
 * OldStateValue, NewStateReason, Signature; Grafana's alert annotations:
 * id, created, timeEnd, prevState). Not a label, then:
 *   - the row's own id: a field named id (uuid, guid, uid), or one whose
 *     last word is one of those holding a UUID (rule ids, agent ids stay);
 *   - a time: a value that reads as a date from 1990 on, written with a
 *     date and a clock, or digits under a name whose last word is a time
 *     word (created, updatedAt, timeEnd);
 *   - the state before this one and the reason for this one (OldStateValue,
 *     prevState, NewStateReason); Kubernetes's resourceVersion;
 *   - an encoded blob (a signature, a base64 packet);
 *   - a field of one packet, flow, process or log line (per_row_field).
 * What a name says is read once a name (field_class_of). */
static bool volatile_field(recorded_t *r, const char *name, const char *v, size_t len)
{
    uint16_t c = field_class_of(r, name);
    if (c & FC_NO_WORDS) return false;
    if ((c & FC_ALWAYS) || ((c & FC_ID_WORD) && uuid_value(v, len))) return true;
    bool digits = len > 0;
    for (size_t i = 0; i < len && digits; i++) digits = isdigit((unsigned char)v[i]);
    /* a date opens with a digit: a URL ("https://h/p") is not parsed */
    bool dated = len && isdigit((unsigned char)v[0]) &&
                 (memchr(v, '-', len) || memchr(v, '/', len)) && memchr(v, ':', len);
    if ((dated || (digits && (c & FC_TIME_WORD))) && len < 64 && rec_plausible_time(v, len))
        return true;
    /* a time word's value in any other spelling (Wazuh's
     * predecoder.timestamp "Nov 14 22:13:20", without a year) */
    int64_t ms;
    if (!digits && len && len < 64 && (c & FC_TIME_WORD) && recorded_parse_time(v, len, &ms))
        return true;
    if (per_row_field(c, v, len, digits)) return true;
    if (len >= 64) {
        bool base64 = true, marked = false;
        for (size_t i = 0; i < len && base64; i++) {
            base64 = isalnum((unsigned char)v[i]) || v[i] == '+' || v[i] == '/' || v[i] == '=';
            marked |= v[i] == '+' || v[i] == '/' || v[i] == '=';
        }
        if (base64 && (marked || len >= 200)) return true;
    }
    return false;
}

/* The length of a state in front of a value, as mail subjects and
 * notification titles put it ("ALARM: ", "OK: " from CloudWatch through
 * SNS, Nagios's "PROBLEM: " and "RECOVERY: "; in brackets, Grafana's
 * "[Alerting] " and "[OK] ", rec_status_prefix): it changes with the
 * state, the rest names the alert. Upper case only: "Note: x" stays. */
static size_t state_colon_prefix(const char *v, size_t len)
{
    static const char *const states[] = {"ALARM",     "OK",       "INSUFFICIENT_DATA", "FIRING",
                                         "RESOLVED",  "PROBLEM",  "RECOVERY",          "TRIGGERED",
                                         "RECOVERED", "CRITICAL", "WARNING",           NULL};
    for (const char *const *s = states; *s; s++) {
        size_t sl = strlen(*s);
        if (len > sl + 2 && !memcmp(v, *s, sl) && v[sl] == ':' && v[sl + 1] == ' ') return sl + 2;
    }
    return 0;
}

/* One row of (label-safe name, value) fields, roles guessed. */
void rec_row_from_fields(recorded_t *r, row_t *row, char *const *names, const char *const *vals,
                         const size_t *lens, size_t n, const int roles[ROLE__COUNT])
{
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || occurrence_field(names[i])) continue;
        int role = -1;
        for (int q = 0; q < ROLE__COUNT; q++)
            if (roles[q] == (int)i) role = q;
        if (role == ROLE_TIME && start_time_name(names[i])) row->time_is_start = true;
        if (role == ROLE_SEVERITY && roles[ROLE_END] >= 0 && names[roles[ROLE_END]] &&
            rec_role_name_eq(names[roles[ROLE_END]], "r_clock") && lens[i] == 1 &&
            vals[i][0] >= '0' && vals[i][0] <= '5') {
            /* Zabbix's API (problem.get, event.get: timed by clock, closed
             * by r_clock) writes its severity as a digit counting up from
             * 0, "Not classified", to 5, "Disaster": read as the word its
             * UI shows, which the severity rules rank (as a number, a
             * disaster would read as a priority 5, the least severe) */
            static const char *const zabbix[] = {"not classified", "information", "warning",
                                                 "average",        "high",        "disaster"};
            const char *w = zabbix[vals[i][0] - '0'];
            rec_row_add(r, row, role_label[role], w, strlen(w), false);
        } else if (role >= 0) {
            rec_row_add(r, row, role_label[role], vals[i], lens[i], role >= ROLE_TIME);
        } else if (strcmp(names[i], "alertname") && strcmp(names[i], "severity") &&
                   !volatile_field(r, names[i], vals[i], lens[i])) {
            bool ignored;
            size_t skip = state_colon_prefix(vals[i], lens[i]);
            if (!skip) skip = rec_status_prefix(vals[i], lens[i], &ignored);
            rec_row_add(r, row, names[i], vals[i] + skip, lens[i] - skip, false);
        }
    }
}

/* ---- CSV ---------------------------------------------------------------- */

/* Snort 2's alert_csv with its default fields (snort.conf "output
 * alert_csv: FILE default"), which writes no header line. */
#define SNORT_CSV_COLS 27
static const char *const snort_csv_cols[SNORT_CSV_COLS] = {
    "timestamp", "sig_generator", "sig_id",   "sig_rev",   "msg",    "proto",  "src",
    "srcport",   "dst",           "dstport",  "ethsrc",    "ethdst", "ethlen", "tcpflags",
    "tcpseq",    "tcpack",        "tcplen",   "tcpwindow", "ttl",    "tos",    "id",
    "dgmlen",    "iplen",         "icmptype", "icmpcode",  "icmpid", "icmpseq"};

/* Whether the CSV at `p` has no header line: its first field reads as a
 * time (in either date order). Returns its first line's field count when
 * so, else 0. Reads a copy: fields are unquoted in place. */
static size_t csv_headerless(const char *p, const char *end, char delim)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
    char *copy = malloc(l + 1); /* not strndup: a NUL in the line would cut it short */
    if (!copy) return 0;
    memcpy(copy, p, l);
    copy[l] = '\0';
    char *cp = copy, *f[1];
    size_t fl[1], lines = 0;
    size_t n = rec_csv_record(&cp, copy + l, delim, f, fl, 1, &lines);
    int64_t ms;
    rec_time_opts_t mdy = {REC_DATE_MDY, 1970}, dmy = {REC_DATE_DMY, 1970};
    bool timed = n >= 2 && fl[0] &&
                 (rec_parse_time(f[0], fl[0], &mdy, &ms, NULL) ||
                  rec_parse_time(f[0], fl[0], &dmy, &ms, NULL));
    free(copy);
    return timed ? n : 0;
}

/* Roles guess_roles left to none, from a CSV's header and first row:
 * a column ending in a severity, status or time word ("Alarm Status",
 * "Event Severity", "Raise Time"; not the name, which "NE Name" would
 * take), else for the time the first column whose first value reads as
 * a date from 1990 on with a date or clock in it ("Occurred On (NT)",
 * "Last Seen"): alarm exports name their times every which way. */
static void csv_more_roles(char *const *names, size_t nh, int roles[ROLE__COUNT], const char *p,
                           const char *end, char delim)
{
    for (int q = ROLE_SEVERITY; q < ROLE__COUNT; q++)
        for (size_t k = 0; rec_role_names[q][k] && roles[q] < 0; k++)
            for (size_t i = 0; i < nh && roles[q] < 0; i++) {
                bool taken = false;
                for (int o = 0; o < ROLE__COUNT; o++) taken |= roles[o] == (int)i;
                if (!taken && names[i] &&
                    rec_leaf_is_role(names[i], "", false, rec_role_names[q][k], true))
                    roles[q] = (int)i;
            }
    if (roles[ROLE_TIME] >= 0) return;
    size_t l = (size_t)(end - p) < 65536 ? (size_t)(end - p) : 65536;
    char *copy = malloc(l + 1), **f = malloc(MAX_COLS * sizeof *f);
    size_t *fl = malloc(MAX_COLS * sizeof *fl);
    if (copy && f && fl) {
        memcpy(copy, p, l);
        copy[l] = '\0';
        char *cp = copy;
        size_t lines = 0, n = rec_csv_record(&cp, copy + l, delim, f, fl, MAX_COLS, &lines);
        for (size_t i = 0; i < n && i < nh && roles[ROLE_TIME] < 0; i++) {
            bool taken = false;
            for (int o = 0; o < ROLE__COUNT; o++) taken |= roles[o] == (int)i;
            bool dated =
                memchr(f[i], ':', fl[i]) || memchr(f[i], '-', fl[i]) || memchr(f[i], '/', fl[i]);
            if (!taken && names[i] && dated && rec_plausible_time(f[i], fl[i]))
                roles[ROLE_TIME] = (int)i;
        }
    }
    free(copy);
    free(f);
    free(fl);
}

static void read_csv(recorded_t *r, const char *file, char *buf, size_t len, recorded_fn fn,
                     void *ctx)
{
    char *p = buf, *end = buf + len;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* BOM */
    /* Blank lines and "# " comments before the header (an exporter's
     * preamble) are skipped; "#fields..." is a header. */
    size_t header_line = 1;
    for (;;) {
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        bool comment = q < end && *q == '#' &&
                       (q + 1 == end || q[1] == ' ' || q[1] == '\n' || q[1] == '\r' || q[1] == '#');
        if (!(q < end && (*q == '\n' || comment))) break;
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl) {
            p = end;
            break;
        }
        p = (char *)nl + 1;
        header_line++;
    }
    /* A Zeek log (notice.log, conn.log ...): "#separator \x09", more "#"
     * lines, the names after "#fields", "#close" at the end; "-" is an
     * unset field, "(empty)" an empty set. */
    bool zeek = end - p > 10 && !memcmp(p, "#separator", 10);
    char delim;
    if (zeek) {
        for (;;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            bool fields = end - p > 8 && !memcmp(p, "#fields", 7) && (p[7] == '\t' || p[7] == ' ');
            if (fields || !nl) {
                if (fields) p += 8;
                break;
            }
            p = nl + 1;
            header_line++;
        }
        delim = '\t';
    } else {
        delim = rec_csv_delimiter(p, end);
    }
    char *f[MAX_COLS];
    size_t fl[MAX_COLS], lines = 0, nh_all;
    char *header[MAX_COLS];
    size_t headerless = zeek ? 0 : csv_headerless(p, end, delim);
    if (headerless) {
        /* A first line that starts with a time is a row: Snort's alert_csv
         * writes none. Its columns are named as Snort names them when
         * there are as many (snort.conf's default list), else timestamp,
         * column_2, column_3 ... */
        nh_all = headerless;
        for (size_t i = 0; i < nh_all && i < MAX_COLS; i++) {
            char name[32];
            snprintf(name, sizeof name, "column_%zu", i + 1);
            header[i] = strdup(nh_all == SNORT_CSV_COLS ? snort_csv_cols[i]
                               : i == 0                 ? "timestamp"
                                                        : name);
        }
        if (!r->scanning)
            fprintf(stderr,
                    "%s:%zu: no header line (it starts with a time): columns named %s; name them "
                    "with --map LABEL=column_N\n",
                    file, header_line,
                    nh_all == SNORT_CSV_COLS ? "as Snort's alert_csv names them (timestamp, "
                                               "sig_generator, sig_id, sig_rev, msg, proto, src, "
                                               "srcport, dst, dstport, ...)"
                                             : "timestamp, column_2, column_3 ...");
    } else {
        nh_all = rec_csv_record(&p, end, delim, f, fl, MAX_COLS, &lines);
    }
    size_t nh = nh_all < MAX_COLS ? nh_all : MAX_COLS;
    if (nh_all > MAX_COLS && !r->scanning)
        fprintf(stderr, "%s:%zu: warning: %zu columns: only the first %d are read\n", file,
                header_line, nh_all, MAX_COLS);
    /* Names trimmed: CIC-IDS2017's CSVs have " Source IP", " Label". */
    for (size_t i = 0; i < nh && !headerless; i++) {
        const char *h = f[i];
        size_t hl = fl[i];
        while (hl && (*h == ' ' || *h == '\t')) h++, hl--;
        while (hl && (h[hl - 1] == ' ' || h[hl - 1] == '\t')) hl--;
        header[i] = strndup(h, hl);
    }
    if (nh == 1 && header[0] && rec_yaml_header(header[0])) {
        r->errors++;
        rec_report(
            r, file, header_line,
            "not read: YAML (a rule or config file?), not recorded alerts: CSV needs a header "
            "line naming its columns");
        free(header[0]);
        return;
    }
    /* Which column feeds which label (-1: none). */
    int src_of_map[MAX_MAP];
    char *auto_names[MAX_COLS] = {0};
    int roles[ROLE__COUNT];
    if (r->has_map) {
        for (size_t m = 0; m < r->n_map; m++) {
            src_of_map[m] = -1;
            for (size_t i = 0; i < nh && src_of_map[m] < 0; i++)
                if (header[i] && !strcmp(header[i], r->map[m].source)) src_of_map[m] = (int)i;
            for (size_t i = 0; i < nh && src_of_map[m] < 0; i++)
                if (header[i] && !strcasecmp(header[i], r->map[m].source)) src_of_map[m] = (int)i;
            if (src_of_map[m] < 0 && !r->scanning)
                fprintf(stderr, "%s:%zu: warning: --map: no column \"%s\" (label %s stays unset)\n",
                        file, header_line, r->map[m].source, r->map[m].label);
        }
    } else {
        for (size_t i = 0; i < nh; i++)
            auto_names[i] = header[i] ? rec_label_safe(header[i]) : NULL;
        guess_roles(auto_names, nh, roles);
        csv_more_roles(auto_names, nh, roles, p, end, delim);
    }
    size_t line = header_line + lines; /* the line the next row starts on */
    while (p < end) {
        size_t at = line;
        lines = 0;
        size_t nf = rec_csv_record(&p, end, delim, f, fl, MAX_COLS, &lines);
        line += lines ? lines : 1;
        size_t last_line = at + lines - (lines && p[-1] == '\n');
        if (nf == 1 && fl[0] == 0) continue;           /* blank line */
        if (zeek && fl[0] && f[0][0] == '#') continue; /* #types, #close ... */
        if (zeek)
            for (size_t i = 0; i < nf && i < MAX_COLS; i++)
                if ((fl[i] == 1 && f[i][0] == '-') || (fl[i] == 7 && !memcmp(f[i], "(empty)", 7)))
                    fl[i] = 0;
        arena_reset(&r->arena);
        row_t row;
        row.n = 0;
        row.have_time = row.resolved = row.bad_time = row.have_end = row.time_is_start =
            row.have_changed = false;
        if (nf != nh_all) {
            r->errors++;
            if (last_line > at) /* a quote left open swallows the rows after it */
                rec_report(
                    r, file, at,
                    "not read: %zu fields, the header has %zu (the row spans lines %zu-%zu: a "
                    "quote not closed?)",
                    nf, nh_all, at, last_line);
            else
                rec_report(r, file, at, "not read: %zu fields, the header has %zu", nf, nh_all);
            continue;
        }
        if (r->has_map) {
            for (size_t m = 0; m < r->n_map; m++)
                if (src_of_map[m] >= 0)
                    rec_row_add(r, &row, r->map[m].label, f[src_of_map[m]], fl[src_of_map[m]],
                                true);
        } else {
            rec_row_from_fields(r, &row, auto_names, (const char *const *)f, fl, nh, roles);
        }
        rec_row_emit(r, &row, file, at, fn, ctx);
    }
    for (size_t i = 0; i < nh; i++) {
        free(header[i]);
        free(auto_names[i]);
    }
}

/* ---- fast.log ------------------------------------------------------------- */

/* The largest field count of a line or record reader. */
#define REC_FIELDS_MAX 40
_Static_assert(REC_SYSLOG_FIELDS <= REC_FIELDS_MAX && REC_OSSEC_FIELDS <= REC_FIELDS_MAX &&
                   REC_NAGIOS_FIELDS <= REC_SYSLOG_FIELDS && REC_FASTLOG_FIELDS <= REC_FIELDS_MAX,
               "a reader's fields fit");

/* A line's or record's fields, named as EVE (or Wazuh) names them, as an
 * alert, read as CSV rows are: through the mapping, or with roles guessed
 * (signature or msg, priority, timestamp). */
static void emit_fields(recorded_t *r, const char *file, size_t line, const rec_field_t *f,
                        size_t n, recorded_fn fn, void *ctx)
{
    arena_reset(&r->arena);
    row_t row;
    row.n = 0;
    row.have_time = row.resolved = row.bad_time = row.have_end = row.time_is_start =
        row.have_changed = false;
    if (r->has_map) {
        for (size_t m = 0; m < r->n_map; m++)
            for (size_t i = 0; i < n; i++)
                if (!strcasecmp(f[i].name, r->map[m].source))
                    rec_row_add(r, &row, r->map[m].label, f[i].value, f[i].len, true);
    } else {
        char *names[REC_FIELDS_MAX];
        const char *vals[REC_FIELDS_MAX];
        size_t lens[REC_FIELDS_MAX];
        for (size_t i = 0; i < n; i++)
            names[i] = (char *)f[i].name, vals[i] = f[i].value, lens[i] = f[i].len;
        int roles[ROLE__COUNT];
        guess_roles(names, n, roles);
        rec_row_from_fields(r, &row, names, vals, lens, n, roles);
    }
    rec_row_emit(r, &row, file, line, fn, ctx);
}

/* Suricata's or Snort's fast.log, or syslog: one alert a line, its
 * fields named as EVE names them (rec_fastlog_line, rec_syslog_line); or
 * Nagios's log (rec_nagios_line), whose lines that are no alert are
 * counted and skipped. */
static void read_lines(recorded_t *r, const char *file, const char *buf, size_t len,
                       rec_kind_t kind, recorded_fn fn, void *ctx)
{
    bool syslog = kind == REC_KIND_SYSLOG, nagios = kind == REC_KIND_NAGIOS;
    size_t line = 0;
    for (const char *p = buf; p < buf + len;) {
        const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
        const char *text = p;
        p += l + 1;
        line++;
        if (l && text[l - 1] == '\r') l--;
        size_t s = 0;
        while (s < l && isspace((unsigned char)text[s])) s++;
        if (s == l) continue;
        rec_field_t f[REC_SYSLOG_FIELDS];
        size_t n = nagios ? 0 : syslog ? rec_syslog_line(text, l, f) : rec_fastlog_line(text, l, f);
        if (!n && nagios) {
            int got = rec_nagios_line(text, l, f);
            if (got < 0) {
                r->other_lines++;
                continue;
            }
            n = (size_t)got;
        }
        if (!n) {
            r->errors++;
            rec_report(r, file, line, "not read: not a %s line",
                       nagios   ? "Nagios log"
                       : syslog ? "syslog"
                                : "fast.log alert");
            continue;
        }
        emit_fields(r, file, line, f, n, fn, ctx);
    }
}

/* ---- multi-line alerts: Snort's full alerts, OSSEC's alerts.log ------------ */

/* One record (rec_snort_full, rec_ossec_record) from line `line` on. */
static void read_record(recorded_t *r, const char *file, size_t line, rec_kind_t kind,
                        const char *rec, size_t len, recorded_fn fn, void *ctx)
{
    rec_field_t f[REC_FIELDS_MAX];
    size_t bad_line = 0;
    const char *why = "";
    size_t n = kind == REC_KIND_SNORT_FULL ? rec_snort_full(rec, len, f, &bad_line, &why)
                                           : rec_ossec_record(rec, len, f, &bad_line, &why);
    if (!n) {
        r->errors++;
        rec_report(r, file, line + bad_line, "not read: %s", why);
        return;
    }
    emit_fields(r, file, line, f, n, fn, ctx);
}

/* Lines not in a record (before the first, or after a Snort record's
 * blank line): one problem a stretch, at its first line. */
static void read_stray(recorded_t *r, const char *file, size_t first, size_t n, rec_kind_t kind)
{
    if (!n) return;
    r->errors++;
    rec_report(r, file, first, "not read: %zu line%s outside any %s record", n, n == 1 ? "" : "s",
               kind == REC_KIND_SNORT_FULL ? "Snort alert" : "OSSEC alert");
}

/* Records of several lines, each from its opening line (rec_record_start)
 * to the next one; a Snort record ends at a blank line too (an OSSEC log
 * may hold blank lines). One pass, a record at a time: nothing is held. */
static void read_records(recorded_t *r, const char *file, const char *buf, size_t len,
                         rec_kind_t kind, recorded_fn fn, void *ctx)
{
    const char *rec = NULL, *rec_end = NULL;
    size_t line = 0, rec_line = 0, stray_first = 0, stray_n = 0;
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) buf += 3, len -= 3; /* BOM */
    for (const char *p = buf;;) {
        bool at_end = p >= buf + len;
        const char *text = p;
        size_t l = 0;
        if (!at_end) {
            const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
            l = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
            p += l + 1;
            line++;
            if (l && text[l - 1] == '\r') l--;
        }
        size_t s = 0;
        while (s < l && isspace((unsigned char)text[s])) s++;
        bool blank = s == l, starts = !at_end && rec_record_start(kind, text, l);
        if (rec && (at_end || starts || (blank && kind == REC_KIND_SNORT_FULL))) {
            read_record(r, file, rec_line, kind, rec, (size_t)(rec_end - rec), fn, ctx);
            rec = NULL;
        }
        if (at_end || starts) {
            read_stray(r, file, stray_first, stray_n, kind);
            stray_n = 0;
        }
        if (at_end) break;
        if (starts) {
            rec = text, rec_end = text + l, rec_line = line;
        } else if (rec && !blank) {
            rec_end = text + l;
        } else if (!blank && !stray_n++) {
            stray_first = line;
        }
    }
}

/* ---- Prometheus JSON and protobuf ---------------------------------------- */

bool recorded_json_time(const char *text, size_t len, bool with_starts_at, int64_t *out)
{
    int64_t t = 0;
    bool found = false;
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (j) {
        const cJSON *ra = cJSON_GetObjectItemCaseSensitive(j, "receivedAt");
        if (cJSON_IsString(ra) && time_parse_rfc3339(ra->valuestring, strlen(ra->valuestring), &t))
            found = true;
        if (!found && with_starts_at) {
            const cJSON *first = j;
            const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(j, "alerts");
            if (cJSON_IsArray(alerts)) first = cJSON_GetArrayItem(alerts, 0);
            if (cJSON_IsArray(j)) first = cJSON_GetArrayItem(j, 0);
            const cJSON *sa = first ? cJSON_GetObjectItemCaseSensitive(first, "startsAt") : NULL;
            if (cJSON_IsString(sa) &&
                time_parse_rfc3339(sa->valuestring, strlen(sa->valuestring), &t) && t)
                found = true;
        }
        cJSON_Delete(j);
    }
    *out = t;
    return found;
}

int64_t rec_prom_time(recorded_t *r, const char *text, size_t len)
{
    int64_t t;
    bool found = recorded_json_time(text, len, !r->have_time, &t);
    return rec_next_time(r, found, t);
}

void rec_decode_and_emit(recorded_t *r, const char *file, size_t line, ingest_format_t format,
                         const char *text, size_t len, int64_t t, bool time_from_alert,
                         recorded_fn fn, void *ctx)
{
    arena_reset(&r->arena);
    alert_t *alerts = NULL;
    size_t n = 0;
    char err[512];
    decode_error_t e =
        ingest_decode(&r->arena, &r->limits, format, text, len, t, &alerts, &n, err, sizeof err);
    if (e != DECODE_OK) {
        r->errors++;
        rec_report(r, file, line, "not decoded (%s): %s", decode_error_str(e), err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        alerts[i].event_time_ms = t;
        if (time_from_alert && alerts[i].starts_at_ms)
            alerts[i].event_time_ms = rec_next_time(r, true, alerts[i].starts_at_ms);
        fn(ctx, &alerts[i]);
    }
}

static void read_proto(recorded_t *r, const char *file, const char *buf, size_t len, recorded_fn fn,
                       void *ctx)
{
    size_t p = 0, rec = 0;
    while (p < len) {
        uint64_t n = 0;
        int shift = 0;
        while (p < len && shift < 64) {
            unsigned char c = (unsigned char)buf[p++];
            n |= (uint64_t)(c & 0x7F) << shift;
            shift += 7;
            if (!(c & 0x80)) break;
        }
        rec++;
        if (n > len - p) {
            r->errors++;
            rec_report(r, file, rec, "not decoded: record %zu is truncated", rec);
            return;
        }
        rec_decode_and_emit(r, file, rec, INGEST_FORMAT_PROTO_ALERT, buf + p, (size_t)n,
                            rec_next_time(r, false, 0), true, fn, ctx);
        p += n;
    }
}

/* ---- files ---------------------------------------------------------------- */

/* ---- kafka:TOPIC ---------------------------------------------------------- */

typedef struct {
    char *bytes;
    size_t len;
    int64_t ts;
    int32_t partition;
    int64_t offset;
    ingest_format_t format;
} kmsg_t;

static int kmsg_cmp(const void *a, const void *b)
{
    const kmsg_t *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    if (x->partition != y->partition) return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Hands a topic's alerts out in the order read, counting positions. */
typedef struct {
    recorded_fn fn;
    void *ctx;
    recorded_t *r;
} kafka_fn_t;

static void kafka_emit(void *ctx, alert_t *a)
{
    kafka_fn_t *k = ctx;
    k->fn(k->ctx, a);
    k->r->position++;
}

/* recorded.h. Messages are copied out, then sorted: the order librdkafka
 * interleaves partitions in is not the same from one read to the next. */
int recorded_read_kafka(recorded_t *r, const char *topic, const char *brokers, recorded_fn fn,
                        void *ctx)
{
    if (!brokers) {
        fprintf(stderr, "quell: kafka:%s needs --brokers\n", topic);
        return -1;
    }
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (rd_kafka_conf_set(kc, "bootstrap.servers", brokers, err, sizeof err) ||
        rd_kafka_conf_set(kc, "group.id", "quell-recorded", err, sizeof err) ||
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", err, sizeof err)) {
        fprintf(stderr, "quell: %s\n", err);
        rd_kafka_conf_destroy(kc);
        return -1;
    }
    rd_kafka_conf_set_log_cb(kc, log_kafka_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "quell: %s\n", err);
        return -1;
    }
    int rc = -1;
    kmsg_t *msgs = NULL;
    size_t n = 0, cap = 0;
    int64_t *high = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "quell: kafka:%s: no such topic or no metadata\n", topic);
        goto out;
    }
    int np = md->topics[0].partition_cnt;
    high = calloc((size_t)(np > 0 ? np : 1), sizeof *high);
    parts = rd_kafka_topic_partition_list_new(np > 0 ? np : 1);
    if (!high || !parts) goto out;
    int remaining = 0;
    for (int p = 0; p < np; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000)) {
            fprintf(stderr, "quell: kafka:%s[%d]: no watermarks\n", topic, p);
            goto out;
        }
        high[p] = hi;
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = lo;
            remaining++;
        }
    }
    if (rd_kafka_assign(rk, parts)) goto out;
    int64_t deadline = clock_mono_ns() + 60LL * 1000000000;
    while (remaining > 0 && clock_mono_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (!m->err && m->partition >= 0 && m->partition < np && m->offset < high[m->partition]) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 1024;
                kmsg_t *nm = realloc(msgs, nc * sizeof *nm);
                if (!nm) {
                    rd_kafka_message_destroy(m);
                    break;
                }
                msgs = nm;
                cap = nc;
            }
            kmsg_t *k = &msgs[n++];
            k->bytes = malloc(m->len ? m->len : 1);
            if (k->bytes && m->len) memcpy(k->bytes, m->payload, m->len);
            k->len = k->bytes ? m->len : 0;
            k->ts = rd_kafka_message_timestamp(m, NULL);
            k->partition = m->partition;
            k->offset = m->offset;
            k->format = INGEST_FORMAT_AUTO;
            rd_kafka_headers_t *h;
            const void *v;
            size_t vl;
            if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                rd_kafka_header_get_last(h, "content-type", &v, &vl) == RD_KAFKA_RESP_ERR_NO_ERROR)
                ingest_format_from_content_type(v, vl, &k->format);
            if (m->offset + 1 >= high[m->partition]) remaining--;
        }
        rd_kafka_message_destroy(m);
    }
    if (remaining > 0) {
        fprintf(stderr, "quell: kafka:%s: not all partitions read within 60 s\n", topic);
        goto out;
    }
    if (n) qsort(msgs, n, sizeof *msgs, kmsg_cmp);
    char where[300];
    snprintf(where, sizeof where, "kafka:%s", topic);
    r->reported = r->bad_times = r->no_times = r->cut_values = r->trimmed_rows = 0;
    r->not_alerts = r->other_lines = 0;
    r->position = 0;
    kafka_fn_t kf = {fn, ctx, r};
    for (size_t i = 0; i < n; i++)
        rec_decode_and_emit(r, where, i + 1, msgs[i].format, msgs[i].bytes, msgs[i].len, msgs[i].ts,
                            false, kafka_emit, &kf);
    report_tail(r, where);
    rc = 0;
out:
    for (size_t i = 0; i < n; i++) free(msgs[i].bytes);
    free(msgs);
    free(high);
    if (parts) rd_kafka_topic_partition_list_destroy(parts);
    if (md) rd_kafka_metadata_destroy(md);
    if (rkt) rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- one input ------------------------------------------------------------ */

/* One input through the reader its bytes need. */
void rec_read_one(recorded_t *r, const char *path, char *buf, size_t len, recorded_fn fn, void *ctx)
{
    /* An archive holds files, not alerts: said, not read line by line as
     * binary. (A compressed stream was unpacked before: recorded_unpack.) */
    const char *archive = len > 262 && !memcmp(buf + 257, "ustar", 5) ? "tar xf"
                          : len > 4 && !memcmp(buf, "PK\x03\x04", 4)  ? "unzip"
                                                                      : NULL;
    if (archive) {
        r->errors++;
        if (!r->scanning)
            fprintf(stderr, "%s: not read: an archive of files (%s it and give its files)\n", path,
                    archive);
        return;
    }
    size_t utf8_len = 0;
    char *utf8 = rec_utf16_to_utf8(buf, len, &utf8_len);
    if (utf8) buf = utf8, len = utf8_len;
    rec_kind_t kind = rec_sniff(buf, len);
    r->reported = r->bad_times = r->no_times = r->cut_values = r->trimmed_rows = 0;
    r->not_alerts = r->other_lines = 0;
    if (kind == REC_KIND_CSV) {
        read_csv(r, path, buf, len, fn, ctx);
    } else if (kind == REC_KIND_FASTLOG || kind == REC_KIND_SYSLOG || kind == REC_KIND_NAGIOS) {
        read_lines(r, path, buf, len, kind, fn, ctx);
    } else if (kind == REC_KIND_SNORT_FULL || kind == REC_KIND_OSSEC) {
        read_records(r, path, buf, len, kind, fn, ctx);
    } else if (kind == REC_KIND_PROTO) {
        read_proto(r, path, buf, len, fn, ctx);
    } else {
        rec_read_json_text(r, path, buf, len, fn, ctx);
    }
    report_tail(r, path);
    free(utf8);
}
