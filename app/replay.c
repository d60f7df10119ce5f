/*
 * `quell replay` and `quell explain`: recorded alerts through the same
 * decision core the workers run (decider_decide: rules, dedup, noise),
 * offline, in one thread: the alerts of the files given in event-time
 * order across them (recorded.c), their per-alert JSON lines printed in
 * input order.
 *
 * Determinism: the output is a function of the config, the candidate and
 * the input bytes only. Event time comes from the input (a line's
 * "receivedAt", else 1 ms after the previous line, starting from the first
 * line's receivedAt or startsAt); no clock is read; tables are sized from
 * the config; per-alert lines are in input order, and summaries sort by count
 * then name. So the same input gives the same bytes.
 *
 * Inputs: JSON lines as `quell gen` writes them, or a file holding one JSON
 * document (an Alertmanager webhook payload, an alert array). A line that
 * cannot be decoded is reported on stderr with FILE:LINE and counted, never
 * silently skipped.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "../dedup/dedup.h"
#include "../ingest/ingest.h"
#include "../router/router.h"
#include "api_v2.h"
#include "app.h"
#include "recorded.h"
#include "tuning.h"

#define SAMPLES 3

typedef struct {
    char *name; /* reason, e.g. "excluded:dev" */
    uint64_t alerts, fingerprints;
    char *samples[SAMPLES];
    uint64_t sample_fp[SAMPLES];
    size_t n_samples;
    uint64_t *fps; /* distinct fingerprints seen (small sets) */
    size_t n_fps, cap_fps;
} reason_stat_t;

typedef struct {
    reason_stat_t *v;
    size_t n;
} reason_table_t;

typedef struct {
    char *labels;
    char *reason_was, *reason_now;
    uint8_t severity;
    uint64_t fp;
    int64_t at_ms;
    char *change; /* newly suppressed: the candidate's change that did it (tuning.h) */
} diff_item_t;

typedef struct {
    const char *label;
    conf_t conf;
    ruleset_t *rs;
    dedup_fp_conf_t fpc;     /* this side's fingerprint: dedup.* and grouping */
    fp_grouping_t *grouping; /* NULL: none */
    dedup_table_t *table;
    inhibit_state_t *inhibit;
    decider_t *decider;
    routing_t *routes; /* routes' dedup_window; NULL: none */
    int64_t keep_ms;   /* what the table keeps: the longest window */
    reason_table_t reasons;
    uint64_t forwarded, suppressed, by_kind[DECISION__COUNT];
    diff_item_t *incidents; /* first few forwarded, for the text output */
    size_t n_incidents;
} side_t;

typedef struct {
    side_t base, cand;
    bool has_cand, json;
    recorded_t *rec; /* CSV and --map inputs */
    /* --format json: this input's per-alert lines go out in input order.
     * A line whose turn has come (`next_out`, the common case) is printed
     * at once; one decided ahead of its turn waits in `lines`, by input
     * position. `line` is the one being built. */
    mbuf_t line;
    size_t next_out;
    char **lines;
    size_t n_lines, cap_lines;
    ingest_limits_t limits;
    arena_t arena;
    uint64_t alerts_in, decode_errors;
    uint64_t lines_lost; /* --format json lines not printed: out of memory */
    uint64_t *fps;
    size_t n_fps, cap_fps;
    diff_item_t *newly_suppressed, *newly_forwarded;
    size_t n_ns, n_nf, cap_ns, cap_nf;
    uint64_t count_ns, count_nf;
} replay_t;

/* ---- small helpers ------------------------------------------------------ */

static bool fp_insert(uint64_t **v, size_t *n, size_t *cap, uint64_t fp)
{
    /* Linear for small sets is fine for sample counting; the global set
     * uses the sorted insert below. */
    size_t lo = 0, hi = *n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((*v)[mid] < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < *n && (*v)[lo] == fp) return false;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        uint64_t *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return false;
        *v = nv;
        *cap = nc;
    }
    memmove(*v + lo + 1, *v + lo, (*n - lo) * sizeof **v);
    (*v)[lo] = fp;
    (*n)++;
    return true;
}

static char *render_labels(const alert_t *a)
{
    size_t cap = 2;
    for (uint32_t i = 0; i < a->n_labels; i++)
        cap += a->labels[i].name.len + a->labels[i].value.len * 2 + 6;
    char *s = malloc(cap + 1);
    if (!s) return NULL;
    size_t o = 0;
    s[o++] = '{';
    for (uint32_t i = 0; i < a->n_labels; i++) {
        if (i) {
            s[o++] = ',';
            s[o++] = ' ';
        }
        memcpy(s + o, a->labels[i].name.ptr, a->labels[i].name.len);
        o += a->labels[i].name.len;
        s[o++] = '=';
        s[o++] = '"';
        for (uint32_t k = 0; k < a->labels[i].value.len; k++) {
            char c = a->labels[i].value.ptr[k];
            if (c == '"' || c == '\\') s[o++] = '\\';
            s[o++] = c == '\n' ? ' ' : c;
        }
        s[o++] = '"';
    }
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

static void fmt_time(int64_t ms, char *buf, size_t cap)
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(((ms % 1000) + 1000) % 1000));
}

static reason_stat_t *reason_get(reason_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].name, name)) return &t->v[i];
    reason_stat_t *v = realloc(t->v, (t->n + 1) * sizeof *v);
    if (!v) return NULL;
    t->v = v;
    memset(&v[t->n], 0, sizeof *v);
    v[t->n].name = strdup(name);
    return &v[t->n++];
}

static int reason_cmp(const void *a, const void *b)
{
    const reason_stat_t *x = a, *y = b;
    if (x->alerts != y->alerts) return x->alerts < y->alerts ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void reasons_free(reason_table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].name);
        for (size_t k = 0; k < t->v[i].n_samples; k++) free(t->v[i].samples[k]);
        free(t->v[i].fps);
    }
    free(t->v);
}

static void diff_push(diff_item_t **v, size_t *n, size_t *cap, diff_item_t it)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        diff_item_t *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) {
            free(it.labels);
            free(it.reason_was);
            free(it.reason_now);
            free(it.change);
            return;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = it;
}

static void diff_free(diff_item_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].labels);
        free(v[i].reason_was);
        free(v[i].reason_now);
        free(v[i].change);
    }
    free(v);
}

/* ---- sides -------------------------------------------------------------- */

static void warn_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "%s\n", msg);
}

static int64_t side_window(void *ctx, const alert_t *a)
{
    const side_t *s = ctx;
    return routing_dedup_window_ms(s->routes, a, s->keep_ms);
}

/* `path` NULL: the defaults, as `quell run` without -c. */
static int side_open(side_t *s, const char *path, bool quiet)
{
    char err[1024];
    conf_defaults(&s->conf);
    if (path && conf_load(&s->conf, path, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (ruleset_compile(&s->conf, quiet ? NULL : warn_stderr, NULL, &s->rs, err, sizeof err) !=
        QERR_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    /* The silences `quell run` keeps beside the snapshot (memory store),
     * judged at each alert's event time. */
    char spath[4096] = "";
    if (s->conf.silences.file && *s->conf.silences.file)
        snprintf(spath, sizeof spath, "%s", s->conf.silences.file);
    else if (s->conf.dedup.snapshot_file && *s->conf.dedup.snapshot_file)
        snprintf(spath, sizeof spath, "%s.silences", s->conf.dedup.snapshot_file);
    if (spath[0]) {
        silences_t *sil = silences_load_file(spath, err, sizeof err);
        if (!sil) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
        ruleset_attach_silences(s->rs, sil);
        silences_release(sil);
    }
    if (fp_grouping_compile(&s->conf, NULL, NULL, &s->grouping, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    dedup_fp_conf_init(&s->fpc, s->conf.dedup.fingerprint, &s->conf.dedup.fingerprint_labels,
                       &s->conf.dedup.ignore_labels);
    fp_grouping_attach(s->grouping, &s->fpc);
    s->table = dedup_table_new(s->conf.dedup.max_fingerprints);
    s->inhibit = inhibit_state_new(65536);
    decider_opts_t o = {
        .dedup = {s->conf.dedup.window_ms, s->conf.dedup.repeat_interval_ms},
        .fingerprint_covers_labels = s->conf.dedup.fingerprint_labels.n == 0 &&
                                     s->conf.dedup.ignore_labels.n == 0 && !s->grouping,
        .cache_entries = 65536,
        .noise_entries = s->conf.dedup.max_fingerprints,
    };
    s->decider = s->table && s->inhibit ? decider_new(&o, s->table, s->inhibit) : NULL;
    if (!s->decider) {
        fprintf(stderr, "quell replay: out of memory\n");
        return -1;
    }
    /* A route's dedup_window, as `quell run` decides with it. */
    if (routing_compile(&s->conf, &s->routes, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int64_t longest = routing_max_dedup_window_ms(s->routes);
    if (longest) {
        s->keep_ms = longest > s->conf.dedup.window_ms ? longest : s->conf.dedup.window_ms;
        dedup_table_set_keep(s->table, s->keep_ms);
        decider_set_window(s->decider, side_window, s);
    }
    return 0;
}

static void side_close(side_t *s)
{
    decider_destroy(s->decider);
    dedup_table_destroy(s->table);
    inhibit_state_destroy(s->inhibit);
    ruleset_destroy(s->rs);
    fp_grouping_destroy(s->grouping);
    routing_destroy(s->routes);
    conf_free(&s->conf);
    reasons_free(&s->reasons);
    diff_free(s->incidents, s->n_incidents);
}

/* Decides one alert on one side; returns the reason (in buf). */
static const char *side_decide(side_t *s, const alert_t *a, incident_t *inc, char *buf, size_t cap)
{
    decision_kind_t k = decider_decide(s->decider, s->rs, a, inc);
    s->by_kind[k]++;
    const char *reason = decision_reason(inc, buf, cap);
    if (DECISION_IS_FORWARD(k)) {
        s->forwarded++;
        if (s->n_incidents < 10) {
            diff_item_t it = {render_labels(a), NULL, strdup(reason), inc->severity, a->fingerprint,
                              a->event_time_ms, NULL};
            size_t capn = s->n_incidents;
            diff_push(&s->incidents, &s->n_incidents, &capn, it);
        }
        return reason;
    }
    s->suppressed++;
    reason_stat_t *r = reason_get(&s->reasons, reason);
    if (!r) return reason;
    r->alerts++;
    if (fp_insert(&r->fps, &r->n_fps, &r->cap_fps, a->fingerprint)) {
        r->fingerprints++;
        if (r->n_samples < SAMPLES) {
            r->sample_fp[r->n_samples] = a->fingerprint;
            r->samples[r->n_samples++] = render_labels(a);
        }
    }
    return reason;
}

/* ---- input -------------------------------------------------------------- */

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static bool line_wait(replay_t *r, size_t pos, const mbuf_t *b);
static void print_waiting(replay_t *r, bool all);

static void decide_alert(replay_t *r, alert_t *a)
{
    a->fingerprint = dedup_fingerprint_alert(&r->base.fpc, a);
    uint64_t base_fp = a->fingerprint;
    a->watermark_ms = a->event_time_ms;
    r->alerts_in++;
    fp_insert(&r->fps, &r->n_fps, &r->cap_fps, a->fingerprint);
    incident_t bi, ci;
    char bbuf[300], cbuf[300];
    const char *breason = side_decide(&r->base, a, &bi, bbuf, sizeof bbuf);
    const char *creason = breason;
    bool bfwd = DECISION_IS_FORWARD(bi.kind), cfwd = bfwd;
    if (r->has_cand) {
        a->fingerprint = dedup_fingerprint_alert(&r->cand.fpc, a);
        creason = side_decide(&r->cand, a, &ci, cbuf, sizeof cbuf);
        cfwd = DECISION_IS_FORWARD(ci.kind);
        if (bfwd != cfwd) {
            diff_item_t it = {render_labels(a),
                              strdup(breason),
                              strdup(creason),
                              ci.severity ? ci.severity : bi.severity,
                              a->fingerprint,
                              a->event_time_ms,
                              bfwd ? tuning_change_of(&r->base.conf, &r->cand.conf,
                                                      r->cand.grouping, a, base_fp, creason)
                                   : NULL};
            if (bfwd) {
                r->count_ns++;
                diff_push(&r->newly_suppressed, &r->n_ns, &r->cap_ns, it);
            } else {
                r->count_nf++;
                diff_push(&r->newly_forwarded, &r->n_nf, &r->cap_nf, it);
            }
        }
    }
    if (r->json) {
        /* Decided in event-time order, printed in input order (line i is
         * the input's alert i): see replay_t.lines. */
        mbuf_t *b = &r->line;
        char hex[17];
        b->len = 0;
        hex16(a->fingerprint, hex);
        mbuf_printf(b, "{\"fingerprint\":\"%s\",\"decision\":\"%s\",\"reason\":\"", hex,
                    cfwd ? "forward" : "suppress");
        mbuf_json_str(b, creason, strlen(creason));
        mbuf_append(b, "\"", 1);
        if (r->has_cand && (bfwd != cfwd || strcmp(breason, creason))) {
            mbuf_printf(b, ",\"was\":{\"decision\":\"%s\",\"reason\":\"",
                        bfwd ? "forward" : "suppress");
            mbuf_json_str(b, breason, strlen(breason));
            mbuf_append(b, "\"}", 2);
        }
        mbuf_append(b, "}\n", 2);
        if (b->oom) {
            r->lines_lost++;
            return;
        }
        size_t pos = recorded_position(r->rec);
        if (pos == r->next_out) {
            fwrite(b->buf, 1, b->len, stdout);
            r->next_out++;
            print_waiting(r, false);
        } else if (!line_wait(r, pos, b)) {
            r->lines_lost++;
        }
    }
}

/* Keeps a line decided ahead of its turn (a copy of b) until its turn. */
static bool line_wait(replay_t *r, size_t pos, const mbuf_t *b)
{
    if (pos >= r->cap_lines) {
        size_t cap = r->cap_lines ? r->cap_lines : 1024;
        while (cap <= pos) cap *= 2;
        char **v = realloc(r->lines, cap * sizeof *v);
        if (!v) return false;
        memset(v + r->cap_lines, 0, (cap - r->cap_lines) * sizeof *v);
        r->lines = v;
        r->cap_lines = cap;
    }
    char *line = malloc(b->len + 1);
    if (!line) return false;
    memcpy(line, b->buf, b->len);
    line[b->len] = '\0';
    free(r->lines[pos]);
    r->lines[pos] = line;
    if (pos >= r->n_lines) r->n_lines = pos + 1;
    return true;
}

/* Prints the waiting lines whose turn has come; `all` at the input's end
 * (positions never decided, a record that did not decode, are skipped),
 * which readies the next input. */
static void print_waiting(replay_t *r, bool all)
{
    for (; r->next_out < r->n_lines; r->next_out++) {
        char *line = r->lines[r->next_out];
        if (!line && !all) return;
        if (line) fputs(line, stdout);
        free(line);
        r->lines[r->next_out] = NULL;
    }
    if (all) r->n_lines = r->next_out = 0;
}

static void replay_recorded_cb(void *ctx, alert_t *a) { decide_alert(ctx, a); }

/* Inputs go through the recorded-traffic readers (app/recorded.c), so
 * replay reads exactly what `quell suggest` reads: JSON documents and lines
 * of any shape, protobuf, CSV, and kafka:TOPIC. Files given one after
 * another are one stream, decided in event-time order across them; a
 * kafka:TOPIC is read on its own, where it stands among the inputs. */
static int replay_inputs(replay_t *r, const char **inputs, size_t n, const char *brokers)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t files = 0;
        while (i + files < n && strncmp(inputs[i + files], "kafka:", 6)) files++;
        if (files) {
            rc = recorded_read_files(r->rec, inputs + i, files, replay_recorded_cb, r);
            i += files;
        } else {
            rc = recorded_read_kafka(r->rec, inputs[i] + 6, brokers, replay_recorded_cb, r);
            i++;
        }
        print_waiting(r, true);
    }
    return rc;
}

/* ---- output ------------------------------------------------------------- */

static int diff_cmp(const void *a, const void *b)
{
    const diff_item_t *x = a, *y = b;
    /* critical first: SEV1..SEV5, unknown last; then input order */
    int sx = x->severity ? x->severity : 9, sy = y->severity ? y->severity : 9;
    if (sx != sy) return sx - sy;
    return x->at_ms < y->at_ms ? -1 : x->at_ms > y->at_ms ? 1 : 0;
}

static void print_side_text(const side_t *s, const replay_t *r)
{
    printf("%s: %llu alerts in, %llu incidents out", s->label, (unsigned long long)r->alerts_in,
           (unsigned long long)s->forwarded);
    if (r->alerts_in)
        printf(" (%.1f%% suppressed)", 100.0 * (double)s->suppressed / (double)r->alerts_in);
    printf("\n  forwarded: %llu new, %llu repeat, %llu resolved\n",
           (unsigned long long)s->by_kind[DECISION_FORWARD_NEW],
           (unsigned long long)s->by_kind[DECISION_FORWARD_REPEAT],
           (unsigned long long)s->by_kind[DECISION_FORWARD_RESOLVED]);
    reason_stat_t *sorted = malloc((s->reasons.n ? s->reasons.n : 1) * sizeof *sorted);
    if (sorted) {
        if (s->reasons.n) memcpy(sorted, s->reasons.v, s->reasons.n * sizeof *sorted);
        qsort(sorted, s->reasons.n, sizeof *sorted, reason_cmp);
        printf("  suppressed by reason:\n");
        for (size_t i = 0; i < s->reasons.n; i++) {
            printf("    %-32s %8llu alerts, %6llu fingerprints\n", sorted[i].name,
                   (unsigned long long)sorted[i].alerts,
                   (unsigned long long)sorted[i].fingerprints);
            if (strncmp(sorted[i].name, "excluded:", 9) &&
                strncmp(sorted[i].name, "inhibited:", 10) && strcmp(sorted[i].name, "severity") &&
                strcmp(sorted[i].name, "flapping") && strcmp(sorted[i].name, "transient"))
                continue; /* samples for rules, not for plain dedup */
            for (size_t k = 0; k < sorted[i].n_samples; k++) {
                char hex[17];
                hex16(sorted[i].sample_fp[k], hex);
                printf("      e.g. %s %s\n", hex, sorted[i].samples[k]);
            }
        }
        free(sorted);
    }
    if (s->n_incidents) {
        printf("  first incidents forwarded:\n");
        for (size_t i = 0; i < s->n_incidents; i++) {
            char ts[40], hex[17];
            fmt_time(s->incidents[i].at_ms, ts, sizeof ts);
            hex16(s->incidents[i].fp, hex);
            printf("    %s %-8s %s %s\n", ts, s->incidents[i].reason_now, hex,
                   s->incidents[i].labels);
        }
    }
}

static void print_diff_text(const char *title, diff_item_t *v, size_t n, uint64_t count)
{
    if (n) qsort(v, n, sizeof *v, diff_cmp); /* v is NULL when nothing changed */
    printf("  %s: %llu alerts\n", title, (unsigned long long)count);
    for (size_t i = 0; i < n && i < 20; i++) {
        char sev[8] = "SEV?";
        if (v[i].severity) snprintf(sev, sizeof sev, "SEV%u", v[i].severity);
        printf("    %s %s (was %s, now %s)\n", sev, v[i].labels, v[i].reason_was, v[i].reason_now);
    }
    if (n > 20) printf("    ... %zu more\n", n - 20);
}

/* The gain of the candidate, and per change what it newly hides. */
static void print_gain(const replay_t *r)
{
    uint64_t b = r->base.forwarded, c = r->cand.forwarded;
    printf("  gain: %llu -> %llu incidents out", (unsigned long long)b, (unsigned long long)c);
    if (c && b >= c)
        printf(" (%.1fx fewer)", (double)b / (double)c);
    else if (b < c)
        printf(" (%llu more)", (unsigned long long)(c - b));
    printf("; alerts per incident %.1f -> %.1f\n", b ? (double)r->alerts_in / (double)b : 0.0,
           c ? (double)r->alerts_in / (double)c : 0.0);
    tuning_hidden_t *h = malloc((r->n_ns ? r->n_ns : 1) * sizeof *h);
    if (!h) return;
    for (size_t i = 0; i < r->n_ns; i++)
        h[i] = (tuning_hidden_t){r->newly_suppressed[i].change, r->newly_suppressed[i].severity,
                                 r->newly_suppressed[i].labels, r->newly_suppressed[i].at_ms};
    tuning_print_changes(stdout, h, r->n_ns);
    free(h);
}

static void print_summary_json(const replay_t *r)
{
    const side_t *s = r->has_cand ? &r->cand : &r->base;
    printf("{\"summary\":{\"alerts_in\":%llu,\"fingerprints\":%zu,\"incidents_out\":%llu,"
           "\"suppressed\":%llu,\"decode_errors\":%llu,\"by_reason\":{",
           (unsigned long long)r->alerts_in, r->n_fps, (unsigned long long)s->forwarded,
           (unsigned long long)s->suppressed, (unsigned long long)r->decode_errors);
    reason_stat_t *sorted = malloc((s->reasons.n ? s->reasons.n : 1) * sizeof *sorted);
    if (sorted) {
        if (s->reasons.n) memcpy(sorted, s->reasons.v, s->reasons.n * sizeof *sorted);
        qsort(sorted, s->reasons.n, sizeof *sorted, reason_cmp);
        for (size_t i = 0; i < s->reasons.n; i++) {
            if (i) printf(",");
            json_str(stdout, sorted[i].name);
            printf(":{\"alerts\":%llu,\"fingerprints\":%llu}", (unsigned long long)sorted[i].alerts,
                   (unsigned long long)sorted[i].fingerprints);
        }
        free(sorted);
    }
    printf("},\"forwarded\":{\"new\":%llu,\"repeat\":%llu,\"resolved\":%llu}",
           (unsigned long long)s->by_kind[DECISION_FORWARD_NEW],
           (unsigned long long)s->by_kind[DECISION_FORWARD_REPEAT],
           (unsigned long long)s->by_kind[DECISION_FORWARD_RESOLVED]);
    if (r->has_cand)
        printf(",\"incidents_out_current\":%llu,\"newly_suppressed\":%llu,\"newly_forwarded\":%llu",
               (unsigned long long)r->base.forwarded, (unsigned long long)r->count_ns,
               (unsigned long long)r->count_nf);
    printf("}}\n");
}

static void replay_usage(FILE *out)
{
    fprintf(out, "usage: quell replay [-c FILE] [--candidate FILE2] [--format text|json]\n"
                 "                    [--brokers LIST] [--map LABEL=COLUMN,...]\n"
                 "                    [--date-order dmy|mdy] [--clock 12|24] [--year YYYY]\n"
                 "                    INPUT...\n"
                 "  INPUT: JSON lines (as `quell gen` writes them; \"receivedAt\" sets a line's\n"
                 "         event time, else lines are 1 ms apart), one JSON document (an\n"
                 "         Alertmanager webhook payload), varint-delimited protobuf, CSV, JSON\n"
                 "         of any other shape (lines, an array, pretty-printed; roles guessed,\n"
                 "         or named with --map), syslog or fast.log lines, Snort's full\n"
                 "         alerts, OSSEC's (Wazuh's) alerts.log, or kafka:TOPIC\n"
                 "         (with --brokers: the topic as it is now, in timestamp order).\n"
                 "         Files given one after another are decided in event-time order\n"
                 "         across them. What `quell suggest` reads (see docs/tuning.md).\n"
                 "  -c FILE: the current rules (default: the defaults, as `quell run`\n"
                 "         without -c); --candidate FILE2: the rules to compare them with\n"
                 "  --date-order: how 5/7/2017 reads (default: from the data, per file: a\n"
                 "         first field over 12 means D/M/Y, a second M/D/Y; else M/D/Y)\n"
                 "  --clock 12|24: how 3:30 without AM/PM reads (default: from the data, per\n"
                 "         file: 12 when no hour is over 12 and the clock goes back 12 hours\n"
                 "         within a day, as at 12:59 -> 1:05; said on stderr)\n"
                 "  --year YYYY: the year of dates without one (syslog's Dec  6 15:51:00; the\n"
                 "         first such date's, default: from the file's modification time)\n");
}

int replay_main(int argc, char **argv)
{
    const char *path = NULL, *cand = NULL, *format = "text", *brokers = NULL, *map = NULL;
    recorded_time_opts_t topts = RECORDED_TIME_OPTS_INIT;
    int t;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    size_t n_inputs = 0;
    int rc = 2;
    replay_t r = {0};
    r.base.label = "current rules";
    r.cand.label = "candidate rules";
    if (!inputs) return 1;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--candidate") && i + 1 < argc)
            cand = argv[++i];
        else if (!strcmp(argv[i], "--format") && i + 1 < argc)
            format = argv[++i];
        else if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            brokers = argv[++i];
        else if (!strcmp(argv[i], "--map") && i + 1 < argc)
            map = argv[++i];
        else if ((t = recorded_time_option(&topts, "replay", argc, argv, &i)) != 0) {
            if (t < 0) goto out;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            replay_usage(stdout);
            free(inputs);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "quell replay: unknown option \"%s\"\n", argv[i]);
            replay_usage(stderr);
            goto out;
        } else
            inputs[n_inputs++] = strcmp(argv[i], "-") ? argv[i] : "/dev/stdin";
    }
    if (!n_inputs || (strcmp(format, "text") && strcmp(format, "json"))) {
        fprintf(stderr, "quell replay: %s\n",
                n_inputs ? "--format must be text or json" : "no INPUT given");
        replay_usage(stderr);
        goto out;
    }
    rc = 1;
    r.json = !strcmp(format, "json");
    r.has_cand = cand != NULL;
    if (side_open(&r.base, path, r.json) != 0) goto out;
    if (cand && side_open(&r.cand, cand, r.json) != 0) goto out;
    char merr[512];
    if (!(r.rec = recorded_new(&r.base.conf, map, merr, sizeof merr))) {
        fprintf(stderr, "quell replay: %s\n", merr);
        goto out;
    }
    const conf_t *c = &r.base.conf;
    r.limits = (ingest_limits_t){c->ingest.max_message_bytes, c->ingest.max_labels,
                                 c->ingest.max_name_bytes, c->ingest.max_value_bytes,
                                 c->ingest.max_annotation_bytes};
    arena_init(&r.arena, 256 * 1024);
    recorded_apply_time_opts(r.rec, &topts);
    if (replay_inputs(&r, inputs, n_inputs, brokers) != 0) goto out_arena;
    r.decode_errors += recorded_errors(r.rec);
    if (!r.alerts_in) {
        /* Nothing decoded: a summary of zeros would read as "these rules
         * suppress nothing" (exit 1, as suggest and explain do). */
        fprintf(stderr, "quell replay: no alert read from %s%s", n_inputs == 1 ? "" : "any of the ",
                n_inputs == 1 ? inputs[0] : "inputs");
        if (r.decode_errors)
            fprintf(stderr, " (%llu not decoded)", (unsigned long long)r.decode_errors);
        fprintf(stderr, "\n");
        goto out_arena;
    }
    if (r.json) {
        print_summary_json(&r);
    } else {
        printf("replay of %zu input%s: %llu alerts, %zu fingerprints", n_inputs,
               n_inputs == 1 ? "" : "s", (unsigned long long)r.alerts_in, r.n_fps);
        if (r.decode_errors) printf(", %llu not decoded", (unsigned long long)r.decode_errors);
        printf("\n");
        print_side_text(&r.base, &r);
        if (r.has_cand) {
            print_side_text(&r.cand, &r);
            printf("candidate change (%s -> %s):\n", path ? path : "defaults", cand);
            print_gain(&r);
            print_diff_text("newly suppressed", r.newly_suppressed, r.n_ns, r.count_ns);
            print_diff_text("newly let through", r.newly_forwarded, r.n_nf, r.count_nf);
        }
    }
    rc = 0;
    if (r.lines_lost) {
        fprintf(stderr, "replay: %llu per-alert lines not printed: out of memory\n",
                (unsigned long long)r.lines_lost);
        rc = 1;
    }
out_arena:
    arena_free(&r.arena);
out:
    side_close(&r.base);
    if (cand) side_close(&r.cand);
    diff_free(r.newly_suppressed, r.n_ns);
    diff_free(r.newly_forwarded, r.n_nf);
    recorded_destroy(r.rec);
    for (size_t i = 0; i < r.n_lines; i++) free(r.lines[i]);
    mbuf_free(&r.line);
    free(r.lines);
    free(r.fps);
    free(inputs);
    fflush(stdout);
    return rc;
}

/* ---- explain -------------------------------------------------------------- */

typedef struct {
    side_t *side;
    routing_t *routes;
    int64_t wall_ms; /* the time of an alert that carries none */
    size_t n;        /* alerts explained */
} explain_t;

/* What the config does with one alert, as of `now`. */
static void explain_alert(explain_t *e, alert_t *a, int64_t now)
{
    side_t *s = e->side;
    a->fingerprint = dedup_fingerprint_alert(&s->fpc, a);
    char hex[17], ts[40];
    hex16(a->fingerprint, hex);
    fmt_time(now, ts, sizeof ts);
    char *labels = render_labels(a);
    printf("alert %zu: fingerprint %s, %s, evaluated at %s\n  labels %s\n", ++e->n, hex,
           a->status == ALERT_FIRING ? "firing" : "resolved", ts, labels ? labels : "");
    free(labels);
    ruleset_explain(s->rs, a->labels, a->n_labels, now, stdout);
    int g = fp_grouping_match(s->grouping, a->labels, a->n_labels);
    if (g >= 0)
        printf("grouping: rule %s folds it (the fingerprint above is the group's)\n",
               fp_grouping_name(s->grouping, (size_t)g));
    a->event_time_ms = now;
    a->watermark_ms = now;
    incident_t inc;
    char rb[300];
    decider_decide(s->decider, s->rs, a, &inc);
    printf("decision (as the first alert of its incident): %s (%s)\n",
           DECISION_IS_FORWARD(inc.kind) ? "forward" : "suppress",
           decision_reason(&inc, rb, sizeof rb));
    if (!e->routes) {
        printf("routes: none configured (incidents go to kafka.output_topic)\n");
        return;
    }
    const route_t *matched[64];
    size_t nm = routing_match(e->routes, a->labels, a->n_labels, matched, 64);
    for (size_t k = 0; k < nm && k < 64; k++) {
        printf("route %s -> receiver %s", matched[k]->key,
               matched[k]->receiver ? matched[k]->receiver->name : "(none)");
        if (matched[k]->group_by_all) {
            printf(", group_by [...]");
        } else if (matched[k]->n_group_by) {
            printf(", group_by [");
            for (size_t i = 0; i < matched[k]->n_group_by; i++)
                printf("%s%s", i ? ", " : "", matched[k]->group_by[i]);
            printf("]");
        }
        printf("%s\n", matched[k]->cont ? " (continue)" : "");
    }
    if (!nm) printf("routes: none matches\n");
}

/* recorded_fn for inputs that are not Alertmanager JSON. A reader in
 * explain's mode (recorded_set_explain) gives an alert without a time
 * event time 0: such an alert is asked about as of now. */
static void explain_recorded(void *ctx, alert_t *a)
{
    explain_t *e = ctx;
    explain_alert(e, a, a->event_time_ms >= 86400000 ? a->event_time_ms : e->wall_ms);
}

static void explain_usage(FILE *out)
{
    fprintf(out, "usage: quell explain [-c FILE] [--map LABEL=COLUMN,...] [--date-order dmy|mdy]\n"
                 "                     [--clock 12|24] [--year YYYY] ALERTS\n"
                 "       quell explain [-c FILE] [--url http://HOST:PORT] --fingerprint FP\n"
                 "  ALERTS: an Alertmanager alert or webhook payload, or anything replay reads\n"
                 "          (CSV, JSON of any shape, protobuf; see docs/tuning.md); - is stdin\n"
                 "  -c FILE: the rules to explain with (default: the defaults)\n");
}

int explain_main(int argc, char **argv)
{
    const char *path = NULL, *alert_path = NULL, *fp_hex = NULL, *url = NULL, *map = NULL;
    recorded_time_opts_t topts = RECORDED_TIME_OPTS_INIT;
    int t;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--fingerprint") && i + 1 < argc)
            fp_hex = argv[++i];
        else if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "--map") && i + 1 < argc)
            map = argv[++i];
        else if ((t = recorded_time_option(&topts, "explain", argc, argv, &i)) != 0) {
            if (t < 0) return 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            explain_usage(stdout);
            return 0;
        } else if (!alert_path && (argv[i][0] != '-' || !argv[i][1]))
            alert_path = argv[i];
        else {
            fprintf(stderr, "quell explain: unknown option \"%s\"\n", argv[i]);
            explain_usage(stderr);
            return 2;
        }
    }
    if (fp_hex) {
        /* Why was FP (not) paged: the running quell's recent decisions. */
        conf_t c;
        conf_defaults(&c);
        char err[1024];
        if (path && conf_load(&c, path, err, sizeof err) != QERR_OK) {
            fprintf(stderr, "%s\n", err);
            conf_free(&c);
            return 1;
        }
        int rc = api_explain_fingerprint(&c, url, fp_hex);
        conf_free(&c);
        return rc;
    }
    if (alert_path && !strcmp(alert_path, "-")) alert_path = "/dev/stdin";
    if (!alert_path) {
        fprintf(stderr, "quell explain: no ALERTS file given, nor --fingerprint\n");
        explain_usage(stderr);
        return 2;
    }
    side_t s = {0};
    explain_t e = {&s, NULL, clock_wall_ms(), 0};
    recorded_t *rec = NULL;
    int rc = 1;
    size_t len = 0;
    char *text = NULL;
    arena_t arena;
    arena_init(&arena, 64 * 1024);
    if (side_open(&s, path, false) != 0) goto out;
    /* Whole: an alert file is not a Kafka message; ingest.max_message_bytes
     * still refuses a document too big to be one, with its reason. */
    if (!(text = file_read_all(alert_path, &len))) {
        fprintf(stderr, "quell explain: cannot open %s\n", alert_path);
        goto out;
    }
    if (recorded_unpack(alert_path, &text, &len) < 0) goto out;
    char err[512];
    if (routing_compile(&s.conf, &e.routes, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (map || !recorded_is_alertmanager_json(text, len)) {
        /* CSV, a vendor's JSON, protobuf: read as replay reads them */
        if (!(rec = recorded_new(&s.conf, map, err, sizeof err))) {
            fprintf(stderr, "quell explain: %s\n", err);
            goto out;
        }
        recorded_set_explain(rec);
        recorded_apply_time_opts(rec, &topts);
        recorded_read_buffer(rec, alert_path, text, len, explain_recorded, &e);
        if (!e.n) {
            fprintf(stderr, "%s: no alert in it\n", alert_path);
            goto out;
        }
        rc = 0;
        goto out;
    }
    const conf_t *c = &s.conf;
    ingest_limits_t limits = {c->ingest.max_message_bytes, c->ingest.max_labels,
                              c->ingest.max_name_bytes, c->ingest.max_value_bytes,
                              c->ingest.max_annotation_bytes};
    int64_t now = 0;
    recorded_json_time(text, len, true, &now); /* receivedAt, else startsAt */
    /* An alert without a time is asked about as of now: exclusion windows
     * and time intervals then answer "what happens if it fires today". */
    if (now == 0) now = e.wall_ms;
    alert_t *alerts = NULL;
    size_t n = 0;
    decode_error_t de = ingest_decode(&arena, &limits, INGEST_FORMAT_JSON, text, len, now, &alerts,
                                      &n, err, sizeof err);
    if (de != DECODE_OK) {
        fprintf(stderr, "%s: not decoded (%s): %s\n", alert_path, decode_error_str(de), err);
        goto out;
    }
    if (!n) {
        /* a webhook payload with "alerts": [] */
        fprintf(stderr, "%s: no alert in it\n", alert_path);
        goto out;
    }
    for (size_t i = 0; i < n; i++) explain_alert(&e, &alerts[i], now);
    rc = 0;
out:
    recorded_destroy(rec);
    routing_destroy(e.routes);
    free(text);
    arena_free(&arena);
    side_close(&s);
    return rc;
}

/* `quell check`: the rule sections compile too; warnings do not fail. */
int check_rules(const conf_t *conf)
{
    char err[1024];
    ruleset_t *rs = NULL;
    if (ruleset_compile(conf, warn_stderr, NULL, &rs, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ruleset_destroy(rs);
    return 0;
}
