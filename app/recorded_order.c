/*
 * recorded_read_files, recorded_read and recorded_read_buffer (see
 * recorded.h): inputs handed out in event-time order across them. Each
 * input is read twice: a first pass through the readers (rec_read_one)
 * keeps only each alert's event time and learns how the input's times
 * read (D/M/Y or M/D/Y, a 12-hour clock, the year of a yearless date;
 * read again when that changed them); the order is planned from those
 * times; the second pass hands each alert out when its turn has come and
 * packs one read ahead of its turn until it has. Memory: one input's
 * bytes at a time (a pipe's kept), 16 bytes an alert for the order, and
 * the alerts waiting.
 * Single-threaded, as the readers are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "recorded_int.h"

/* ---- event-time order ------------------------------------------------------ */

/* An alert packed into one allocation (labels, annotations and strings
 * after the struct), to wait for its turn; NULL when out of memory. */
static alert_t *pack_alert(const alert_t *a)
{
    size_t n = (size_t)a->n_labels + a->n_annotations, bytes = sizeof *a + n * sizeof(label_t);
    for (uint32_t i = 0; i < a->n_labels; i++)
        bytes += a->labels[i].name.len + a->labels[i].value.len + 2;
    for (uint32_t i = 0; i < a->n_annotations; i++)
        bytes += a->annotations[i].name.len + a->annotations[i].value.len + 2;
    bytes += a->generator_url.len + a->source.len + 2;
    alert_t *p = malloc(bytes);
    if (!p) return NULL;
    *p = *a;
    label_t *l = (label_t *)(p + 1);
    char *o = (char *)(l + n);
#define PACK_STR(to, from)                                                                         \
    do {                                                                                           \
        (to).len = (from).len;                                                                     \
        (to).ptr = o;                                                                              \
        if ((from).len) memcpy(o, (from).ptr, (from).len);                                         \
        o[(from).len] = '\0';                                                                      \
        o += (from).len + 1;                                                                       \
    } while (0)
    p->labels = a->n_labels ? l : NULL;
    for (uint32_t i = 0; i < a->n_labels; i++, l++) {
        PACK_STR(l->name, a->labels[i].name);
        PACK_STR(l->value, a->labels[i].value);
    }
    p->annotations = a->n_annotations ? l : NULL;
    for (uint32_t i = 0; i < a->n_annotations; i++, l++) {
        PACK_STR(l->name, a->annotations[i].name);
        PACK_STR(l->value, a->annotations[i].value);
    }
    PACK_STR(p->generator_url, a->generator_url);
    PACK_STR(p->source, a->source);
#undef PACK_STR
    return p;
}

/* recorded_fn of the first pass: keeps the event time only. */
static void scan_alert(void *ctx, alert_t *a)
{
    recorded_t *r = ctx;
    if (r->n_times == r->cap_times) {
        size_t cap = r->cap_times ? r->cap_times * 2 : 4096;
        int64_t *t = realloc(r->times, cap * sizeof *t);
        if (t) r->times = t;
        uint8_t *c = t ? realloc(r->closes, cap) : NULL;
        if (!c) {
            r->scan_oom = true;
            return;
        }
        r->closes = c;
        r->cap_times = cap;
    }
    r->closes[r->n_times] = r->emitting_close;
    r->times[r->n_times++] = a->event_time_ms;
}

typedef struct {
    recorded_fn fn;
    void *ctx;
    recorded_t *r;
} emit_t;

/* Hands out the waiting alerts whose turn has come. */
static void release_due(emit_t *e)
{
    recorded_t *r = e->r;
    while (r->next_due < r->n_order) {
        size_t pos = r->order[r->next_due];
        alert_t *a = r->held[pos];
        if (!a) {
            if (pos < r->read_pos) { /* read in the first pass, not in this one: none */
                r->next_due++;
                continue;
            }
            return;
        }
        r->held[pos] = NULL;
        r->n_held--;
        r->next_due++;
        r->position = pos;
        e->fn(e->ctx, a);
        free(a);
    }
}

/* recorded_fn of the second pass: the alert now if its turn has come,
 * else packed until it has. */
static void emit_alert(void *ctx, alert_t *a)
{
    emit_t *e = ctx;
    recorded_t *r = e->r;
    size_t pos = r->read_pos++;
    if (!r->order || pos >= r->n_order || r->next_due >= r->n_order ||
        r->order[r->next_due] == pos) {
        if (r->order && pos < r->n_order && r->next_due < r->n_order) r->next_due++;
        r->position = pos;
        e->fn(e->ctx, a);
        if (r->order) release_due(e);
        return;
    }
    alert_t *p = pack_alert(a);
    if (!p) { /* out of memory: decided now, out of its turn, rather than lost */
        r->position = pos;
        e->fn(e->ctx, a);
        return;
    }
    r->held[pos] = p;
    if (++r->n_held > r->peak_held) r->peak_held = r->n_held;
}

/* One input of a read: a file's path, or bytes the caller holds. */
typedef struct {
    const char *path;
    char *buf; /* the caller's (recorded_read_buffer), or a pipe's bytes (`owned`);
                * NULL: read the file, once a pass */
    size_t len;
    bool owned;
    /* what the first pass found: how its times read */
    int date_order;
    long start_year;
    int64_t mtime_ms; /* 0: unknown */
    size_t first, n;  /* its alerts: positions first .. first+n-1 */
    bool dates_undecided, dates_voted;
    bool clock12;   /* a 12-hour clock without AM/PM (recorded_t's clock12) */
    bool clock_rev; /* ... in a newest-first file; its dates read PM first: */
    int64_t *pm_days;
    size_t n_pm_days;
    /* where its clock ended (its last time: as written, as read 12-hour,
     * its date), for the input after it */
    rec_clock_at_t clock_end;
} input_t;

/* The bytes of an input: for the first pass a copy of the caller's (CSV
 * fields are unquoted in place, so the second pass needs them as they
 * were), else the file read again. NULL: cannot open it. */
static char *input_bytes(const input_t *in, bool scanning, size_t *len, bool *owned)
{
    *owned = true;
    if (in->buf) {
        *len = in->len;
        if (!scanning) {
            *owned = false;
            return in->buf;
        }
        char *c = malloc(in->len + 1);
        if (c) memcpy(c, in->buf, in->len + 1);
        return c;
    }
    return file_read_all(in->path, len);
}

/* Before an input is read: its times as the first pass settled them.
 * After a 12-hour clock without AM/PM, an input's clock goes on from where
 * the one before it ended (CIC-IDS2017's Friday afternoon files, 3:56
 * after the morning file's 12:59, are 15:56); a new date starts afresh. */
static void times_reset(recorded_t *r, const input_t *in, const input_t *before)
{
    r->topts.date_order = in->date_order;
    r->start_year = in->start_year;
    r->year_offset = 0;
    r->have_yearless = false;
    r->votes_dmy = r->votes_mdy = r->two_field_dates = 0;
    r->steps_dmy = r->steps_mdy = 0;
    r->prev_first = r->prev_second = 0;
    r->clock12 = in->clock12;
    r->clock_24 = false;
    r->clock_at = (rec_clock_at_t){0};
    r->clock_up = r->clock_down = r->clock_down_same_day = r->clock_wrapped_down = 0;
    r->clock_wraps = r->clock_big_back = r->clock_up_same_day = 0;
    r->clock_rev = in->clock_rev;
    r->rev_have_day = false;
    memset(r->rev, 0, sizeof r->rev);
    r->rev_up = r->rev_down = r->rev_big_up = r->rev_pm_days = 0;
    r->pm_days = in->pm_days;
    r->n_pm_days = in->n_pm_days;
    r->n_pm_build = 0;
    r->clock_continued = before && before->clock12 && !before->clock_rev && before->clock_end.have;
    if (r->clock_continued) r->clock_at = before->clock_end;
}

static int day_cmp(const void *x, const void *y)
{
    const int64_t *a = x, *b = y;
    return *a < *b ? -1 : *a > *b;
}

/* After an input's first-pass read: where its clock ended, and the dates
 * a newest-first reading starts in the afternoon (taken from r). Returns
 * whether those dates differ from the ones it was read with. */
static bool clock_end(recorded_t *r, input_t *in)
{
    rec_clock_finish(r);
    if (r->n_pm_build) qsort(r->pm_days_build, r->n_pm_build, sizeof *r->pm_days_build, day_cmp);
    bool differ = r->n_pm_build != in->n_pm_days ||
                  (in->n_pm_days &&
                   memcmp(r->pm_days_build, in->pm_days, in->n_pm_days * sizeof *in->pm_days));
    free(in->pm_days);
    in->pm_days = r->pm_days_build;
    in->n_pm_days = r->n_pm_build;
    r->pm_days_build = NULL;
    r->n_pm_build = r->cap_pm_build = 0;
    r->pm_days = NULL;
    r->n_pm_days = 0;
    in->clock_end = r->clock_at;
    return differ;
}

static long year_of(int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    return tm.tm_year + 1900L;
}

/* After an input's first pass: how its times should have been read. Its
 * dates' order from their votes; a yearless date's year such that the
 * last one falls at or before the file's modification time (a log is
 * written as it goes), counting the rollovers before it. Returns whether
 * that differs from how they were read. */
static bool input_settle(recorded_t *r, input_t *in)
{
    bool changed = false;
    int order = in->date_order;
    in->dates_undecided = false;
    in->dates_voted = r->votes_dmy != r->votes_mdy || r->steps_dmy != r->steps_mdy;
    if (r->date_order_forced >= 0)
        order = r->date_order_forced;
    else if (r->votes_dmy != r->votes_mdy)
        order = r->votes_dmy > r->votes_mdy ? REC_DATE_DMY : REC_DATE_MDY;
    else if (r->steps_dmy != r->steps_mdy)
        order = r->steps_dmy > r->steps_mdy ? REC_DATE_DMY : REC_DATE_MDY;
    else if (r->two_field_dates)
        in->dates_undecided = true;
    if (order != in->date_order) in->date_order = order, changed = true;
    /* A 12-hour clock without AM/PM: no hour over 12 (nor 0) and no AM/PM
     * anywhere; times mostly going forward in file order as so read (a
     * newest-first file steps back all the way: its steps say nothing of
     * a wrap); and either a step back of 6 to 12 hours within a date (read
     * 12 hours later, it is nearer the latest before it) that leaves fewer
     * steps back than there were, and fewer steps back of 6 hours or more
     * left than such wraps (a file sorted by signature restarts its clock
     * at each group: read 12-hour, each restart is still such a step), or
     * it follows such a file (times_reset). */
    bool clock12 = r->clock_forced >= 0
                       ? r->clock_forced == 12
                       : !r->clock_24 && r->clock_up > r->clock_down &&
                             ((r->clock_wraps && r->clock_wrapped_down < r->clock_down_same_day &&
                               r->clock_big_back < r->clock_wraps) ||
                              r->clock_continued);
    /* Newest first, the same read from each date's end: times mostly going
     * back as so read, a date whose first (latest) time reads 12 hours
     * later, fewer steps forward than as written, and fewer forward steps
     * of 6 hours or more than such dates. */
    bool rev = r->clock_forced < 0 && !clock12 && !r->clock_24 && r->rev_down > r->rev_up &&
               r->rev_pm_days && r->rev_up < r->clock_up_same_day && r->rev_big_up < r->rev_pm_days;
    if (r->clock_forced == 12 && r->rev_down > r->rev_up && r->clock_down > r->clock_up) rev = true;
    if (rev) clock12 = true;
    if (clock12 != in->clock12 || rev != in->clock_rev)
        in->clock12 = clock12, in->clock_rev = rev, changed = true;
    if (r->year_forced) {
        if (r->year_forced != in->start_year) in->start_year = r->year_forced, changed = true;
    } else if (r->have_yearless && in->mtime_ms) {
        long y = year_of(in->mtime_ms);
        /* the last yearless date as it would read in the mtime's year */
        int64_t last = r->last_yearless_ms +
                       (time_days_from_civil(y, 1, 1) - time_days_from_civil(r->topts.year, 1, 1)) *
                           86400000LL;
        long start = y - r->year_offset - (last > in->mtime_ms + 86400000LL ? 1 : 0);
        if (start != in->start_year) in->start_year = start, changed = true;
    }
    return changed;
}

static int pos_cmp(const void *x, const void *y)
{
    const int64_t *a = x, *b = y; /* (time, position) pairs */
    if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

/* The order to hand the alerts out in (r->order), from the first pass's
 * times; NULL when input order is it. Says on stderr which inputs were
 * out of order, and when the inputs' times overlap. */
static void plan_order(recorded_t *r, const input_t *in, size_t n_in)
{
    size_t n = r->n_times, total_out = 0;
    for (size_t k = 0; k < n_in; k++) {
        /* said of the rows' own times: a whole incident's close comes
         * after the rows read next */
        size_t out = 0, opens = 0;
        int64_t prev = INT64_MIN;
        for (size_t i = in[k].first; i < in[k].first + in[k].n; i++) {
            if (r->closes[i]) continue;
            out += r->times[i] < prev;
            prev = r->times[i];
            opens++;
        }
        total_out += out;
        if (out)
            fprintf(stderr,
                    "%s: %zu alert%s earlier than the one before in the file (%s): read in "
                    "event-time order\n",
                    in[k].path, out, out == 1 ? "" : "s",
                    out * 2 > opens ? "newest first?" : "interleaved sources?");
    }
    for (size_t i = 1; i < n; i++) total_out += r->times[i] < r->times[i - 1];
    bool across = false; /* inversions at the seams between inputs */
    int64_t latest = INT64_MIN;
    for (size_t k = 0; k < n_in; k++) {
        for (size_t i = in[k].first; i < in[k].first + in[k].n && k; i++)
            across |= r->times[i] < latest;
        for (size_t i = in[k].first; i < in[k].first + in[k].n; i++)
            if (r->times[i] > latest) latest = r->times[i];
    }
    if (across)
        fprintf(stderr,
                "%s ... %s: their times overlap: alerts decided in event-time order across "
                "the %zu inputs\n",
                in[0].path, in[n_in - 1].path, n_in);
    if (!total_out && !across) return;
    int64_t *pairs = malloc(n * 2 * sizeof *pairs);
    size_t *order = malloc(n * sizeof *order);
    void **held = calloc(n, sizeof *held);
    if (!pairs || !order || !held) {
        fprintf(stderr, "recorded: out of memory: alerts decided in input order\n");
        free(pairs), free(order), free(held);
        return;
    }
    for (size_t i = 0; i < n; i++) pairs[2 * i] = r->times[i], pairs[2 * i + 1] = (int64_t)i;
    qsort(pairs, n, 2 * sizeof *pairs, pos_cmp);
    for (size_t i = 0; i < n; i++) order[i] = (size_t)pairs[2 * i + 1];
    free(pairs);
    r->order = order;
    r->n_order = n;
    r->held = held;
}

/* Whether a regular file starts as a compressed stream does. */
static bool file_packed(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char magic[8];
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return recorded_packed(magic, n) != NULL;
}

/* recorded.h: recorded_read_files, recorded_read and recorded_read_buffer. */
static int read_inputs(recorded_t *r, input_t *in, size_t n_in, recorded_fn fn, void *ctx)
{
    int rc = -1;
    int64_t saved_last = r->last_time;
    bool saved_have = r->have_time;
    uint64_t saved_errors = r->errors, broken = 0;
    for (size_t k = 0; k < n_in; k++) {
        in[k].date_order = r->date_order_forced >= 0 ? r->date_order_forced : REC_DATE_MDY;
        struct stat st;
        bool have_st = !stat(in[k].path, &st);
        in[k].mtime_ms = have_st ? (int64_t)st.st_mtime * 1000 : 0;
        if (!in[k].buf && have_st && (!S_ISREG(st.st_mode) || file_packed(in[k].path))) {
            /* a pipe (<(zcat log.gz), /dev/stdin) cannot be read twice, and
             * a compressed file is unpacked once: the bytes are kept for
             * the second pass */
            if (!S_ISREG(st.st_mode)) in[k].mtime_ms = 0;
            if (!(in[k].buf = file_read_all(in[k].path, &in[k].len))) {
                fprintf(stderr, "quell: cannot open %s\n", in[k].path);
                goto out;
            }
            in[k].owned = true;
            int unpacked = recorded_unpack(in[k].path, &in[k].buf, &in[k].len);
            if (unpacked < 0) goto out;
            broken += unpacked > 0; /* a broken stream: counted as not read */
        }
        in[k].start_year = r->year_forced   ? r->year_forced
                           : in[k].mtime_ms ? year_of(in[k].mtime_ms)
                                            : 1970;
    }
    /* First pass: times only. Again when it found the times were read
     * wrong (a D/M/Y file, a log across New Year): at most twice more. */
    for (int attempt = 0; attempt < 3; attempt++) {
        r->scanning = true;
        rec_fired_reset(r);
        r->n_times = 0;
        r->scan_oom = false;
        r->last_time = saved_last;
        r->have_time = saved_have;
        bool changed = false;
        for (size_t k = 0; k < n_in; k++) {
            size_t len;
            bool owned;
            char *buf = input_bytes(&in[k], true, &len, &owned);
            if (!buf) {
                r->scanning = false;
                fprintf(stderr, "quell: cannot open %s\n", in[k].path);
                goto out;
            }
            times_reset(r, &in[k], k ? &in[k - 1] : NULL);
            in[k].first = r->n_times;
            rec_read_one(r, in[k].path, buf, len, scan_alert, r);
            bool days_changed = clock_end(r, &in[k]);
            in[k].n = r->n_times - in[k].first;
            free(buf);
            changed |= input_settle(r, &in[k]);
            changed |= days_changed && in[k].clock_rev; /* read with the dates it found */
        }
        /* A file whose dates never say their order reads as the others
         * of this read do, or else M/D (said once). */
        uint64_t dmy = 0, mdy = 0;
        for (size_t k = 0; k < n_in; k++)
            if (in[k].dates_voted) {
                if (in[k].date_order == REC_DATE_DMY)
                    dmy++;
                else
                    mdy++;
            }
        for (size_t k = 0; k < n_in; k++)
            if (in[k].dates_undecided && dmy > mdy && in[k].date_order != REC_DATE_DMY)
                in[k].date_order = REC_DATE_DMY, changed = true;
        r->scanning = false;
        if (!changed) break;
    }
    r->errors = saved_errors + broken;
    for (size_t k = 0; k < n_in; k++)
        if (in[k].dates_undecided && !r->told_date_order) {
            r->told_date_order = true;
            fprintf(stderr,
                    "%s: dates such as 5/7/2017 could be D/M/Y or M/D/Y (no day over 12 says "
                    "which): read as %s; --date-order %s reads them the other way\n",
                    in[k].path, in[k].date_order == REC_DATE_DMY ? "D/M/Y" : "M/D/Y (US)",
                    in[k].date_order == REC_DATE_DMY ? "mdy" : "dmy");
        }
    for (size_t k = 0; k < n_in; k++)
        if (in[k].clock12 && r->clock_forced < 0 && !r->told_clock) {
            r->told_clock = true;
            fprintf(stderr,
                    "%s: a 12-hour clock without AM/PM (no hour over 12, and the clock goes "
                    "back 12 hours within a day, as at 12:59 -> 1:05): a time reads as PM when "
                    "that is nearer the latest before it; --clock 24 reads them as written\n",
                    in[k].path);
        }
    if (r->scan_oom)
        fprintf(stderr, "recorded: out of memory: alerts decided in input order\n");
    else
        plan_order(r, in, n_in);
    free(r->times); /* the order has what the second pass needs */
    free(r->closes);
    r->times = NULL;
    r->closes = NULL;
    r->n_times = r->cap_times = 0;
    /* Second pass: the alerts, in event-time order. */
    r->last_time = saved_last;
    r->have_time = saved_have;
    r->next_due = r->read_pos = r->n_held = 0;
    rec_fired_reset(r); /* each pass emits the alerts the first counted */
    emit_t e = {fn, ctx, r};
    for (size_t k = 0; k < n_in; k++) {
        size_t len;
        bool owned;
        char *buf = input_bytes(&in[k], false, &len, &owned);
        if (!buf) {
            fprintf(stderr, "quell: cannot open %s\n", in[k].path);
            goto out;
        }
        times_reset(r, &in[k], k ? &in[k - 1] : NULL);
        rec_read_one(r, in[k].path, buf, len, emit_alert, &e);
        if (owned) free(buf);
    }
    r->read_pos = SIZE_MAX; /* every position not held by now never comes */
    if (r->order) release_due(&e);
    rc = 0;
out:
    if (r->held)
        for (size_t i = 0; i < r->n_order; i++) free(r->held[i]);
    free(r->held);
    free(r->order);
    r->held = NULL;
    r->order = NULL;
    r->n_order = r->n_held = 0;
    r->scanning = false;
    for (size_t k = 0; k < n_in; k++) {
        if (in[k].owned) free(in[k].buf);
        free(in[k].pm_days);
    }
    return rc;
}

int recorded_read_files(recorded_t *r, const char *const *paths, size_t n, recorded_fn fn,
                        void *ctx)
{
    input_t *in = calloc(n ? n : 1, sizeof *in);
    if (!in) {
        fprintf(stderr, "quell: out of memory\n");
        return -1;
    }
    for (size_t k = 0; k < n; k++) in[k].path = paths[k];
    int rc = read_inputs(r, in, n, fn, ctx);
    free(in);
    return rc;
}

int recorded_read(recorded_t *r, const char *path, recorded_fn fn, void *ctx)
{
    return recorded_read_files(r, &path, 1, fn, ctx);
}

void recorded_read_buffer(recorded_t *r, const char *path, char *buf, size_t len, recorded_fn fn,
                          void *ctx)
{
    input_t in = {.path = path, .buf = buf, .len = len};
    read_inputs(r, &in, 1, fn, ctx);
}

void recorded_set_date_order(recorded_t *r, int order) { r->date_order_forced = order; }

int recorded_date_order_arg(const char *s)
{
    return !strcasecmp(s, "dmy") ? REC_DATE_DMY : !strcasecmp(s, "mdy") ? REC_DATE_MDY : -1;
}

void recorded_set_clock(recorded_t *r, int hours) { r->clock_forced = hours; }

int recorded_clock_arg(const char *s) { return !strcmp(s, "12") ? 12 : !strcmp(s, "24") ? 24 : -1; }

void recorded_set_year(recorded_t *r, long year) { r->year_forced = year; }

long recorded_year_arg(const char *s)
{
    char *end;
    long y = strtol(s, &end, 10);
    return end != s && !*end && y >= 1970 && y <= 9999 ? y : -1;
}

int recorded_time_option(recorded_time_opts_t *o, const char *cmd, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    bool date = !strcmp(a, "--date-order"), clock = !strcmp(a, "--clock"),
         year = !strcmp(a, "--year");
    if (!(date || clock || year) || *i + 1 >= argc) return 0;
    const char *v = argv[++*i];
    if (date && (o->date_order = recorded_date_order_arg(v)) < 0) {
        fprintf(stderr, "quell %s: --date-order: \"%s\" is not dmy or mdy\n", cmd, v);
        return -1;
    }
    if (clock && (o->clock_hours = recorded_clock_arg(v)) < 0) {
        fprintf(stderr, "quell %s: --clock: \"%s\" is not 12 or 24\n", cmd, v);
        return -1;
    }
    if (year && (o->year = recorded_year_arg(v)) < 0) {
        fprintf(stderr, "quell %s: --year: \"%s\" is not a year (1970..9999)\n", cmd, v);
        return -1;
    }
    return 1;
}

void recorded_apply_time_opts(recorded_t *r, const recorded_time_opts_t *o)
{
    if (o->date_order >= 0) recorded_set_date_order(r, o->date_order);
    if (o->clock_hours >= 0) recorded_set_clock(r, o->clock_hours);
    if (o->year > 0) recorded_set_year(r, o->year);
}

void recorded_set_explain(recorded_t *r) { r->explain = true; }

size_t recorded_peak_held(const recorded_t *r) { return r->peak_held; }
