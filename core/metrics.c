/*
 * Metrics plumbing: a growable text buffer, the Prometheus text exposition
 * (families, escaped label values, cumulative histograms), a per-thread
 * latency histogram and the reload counters.
 *
 * Collection is pull-only: stages keep their own per-thread counters
 * (stat_add) and the scrape sums them, so recording a metric never takes a
 * lock or a shared cache line on the alert path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* ---- text buffer ------------------------------------------------------ */

void mbuf_init(mbuf_t *b) { *b = (mbuf_t){0}; }

void mbuf_free(mbuf_t *b)
{
    free(b->buf);
    *b = (mbuf_t){0};
}

static bool mbuf_reserve(mbuf_t *b, size_t more)
{
    if (b->oom) return false;
    if (b->len + more + 1 <= b->cap) return true;
    size_t ncap = b->cap ? b->cap : 1024;
    while (ncap < b->len + more + 1) ncap *= 2;
    char *nb = realloc(b->buf, ncap);
    if (!nb) {
        b->oom = true;
        return false;
    }
    b->buf = nb;
    b->cap = ncap;
    return true;
}

void mbuf_append(mbuf_t *b, const char *s, size_t len)
{
    if (!mbuf_reserve(b, len)) return;
    memcpy(b->buf + b->len, s, len);
    b->len += len;
    b->buf[b->len] = '\0';
}

void mbuf_printf(mbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !mbuf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mbuf_json_str(mbuf_t *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            mbuf_append(b, esc, 2);
        } else if (c < 0x20) {
            mbuf_printf(b, "\\u%04x", c);
        } else {
            mbuf_append(b, (const char *)&s[i], 1);
        }
    }
}

/* ---- exposition ------------------------------------------------------- */

void metrics_family(mbuf_t *b, const char *name, const char *type, const char *help)
{
    mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and newline (the format's
 * only escapes); anything else is written as it is. */
static void label_value(mbuf_t *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            mbuf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            mbuf_append(b, "\\n", 2);
        else
            mbuf_append(b, v, 1);
    }
}

static void value_text(mbuf_t *b, double v)
{
    /* Counters are integers: print them exactly, not as %g's 6 digits. */
    if (v >= 0 && v < 9007199254740992.0 && v == (double)(uint64_t)v)
        mbuf_printf(b, " %llu\n", (unsigned long long)v);
    else
        mbuf_printf(b, " %.15g\n", v);
}

void metrics_sample(mbuf_t *b, const char *name, double value, int n_labels, ...)
{
    mbuf_printf(b, "%s", name);
    va_list ap;
    va_start(ap, n_labels);
    for (int i = 0; i < n_labels; i++) {
        const char *k = va_arg(ap, const char *);
        const char *v = va_arg(ap, const char *);
        mbuf_printf(b, "%s%s=\"", i ? "," : "{", k);
        label_value(b, v ? v : "");
        mbuf_append(b, "\"", 1);
    }
    va_end(ap);
    if (n_labels) mbuf_append(b, "}", 1);
    value_text(b, value);
}

/* ---- histogram -------------------------------------------------------- */

/* Finer from 1 to 10 ms, where a decision-latency objective sits (p99 <
 * 5 ms): histogram_quantile interpolates within a bucket, so [2.5, 5] ms
 * alone could not tell 3 ms from 4.9. */
static const double hist_bounds_s[] = {0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075,
                                       0.01,   0.025, 0.05,  0.1,   0.25,  0.5,   1,
                                       2.5,    5,     10,    30,    60,    300};

void metrics_histogram(mbuf_t *b, const char *name, const char *help, const hist_t *h)
{
    metrics_family(b, name, "histogram", help);
    uint64_t cum = 0;
    size_t i = 0;
    for (size_t k = 0; k < sizeof(hist_bounds_s) / sizeof(hist_bounds_s[0]); k++) {
        uint64_t bound_ns = (uint64_t)(hist_bounds_s[k] * 1e9);
        /* Bucket i lies wholly at or under the bound when the next one starts past it. */
        for (; i < HIST_BUCKETS && hist_bucket_lower(i + 1) <= bound_ns + 1; i++)
            cum += stat_get(&h->buckets[i]);
        mbuf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, hist_bounds_s[k],
                    (unsigned long long)cum);
    }
    for (; i < HIST_BUCKETS; i++) cum += stat_get(&h->buckets[i]);
    mbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    mbuf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)stat_get(&h->sum_ns) / 1e9, name,
                (unsigned long long)cum);
}

/* ---- reloads ---------------------------------------------------------- */

static _Atomic uint64_t reloads_ok, reloads_failed;
static _Atomic int64_t reload_last_ok_ms;
static _Atomic bool reload_last_was_ok = true;

void metrics_note_reload(bool ok)
{
    if (ok) {
        atomic_fetch_add(&reloads_ok, 1);
        atomic_store(&reload_last_ok_ms, clock_wall_ms());
    } else {
        atomic_fetch_add(&reloads_failed, 1);
    }
    atomic_store(&reload_last_was_ok, ok);
}

void metrics_reload_get(metrics_reload_t *out)
{
    out->ok = atomic_load(&reloads_ok);
    out->failed = atomic_load(&reloads_failed);
    out->last_ok_ms = atomic_load(&reload_last_ok_ms);
    out->last_was_ok = atomic_load(&reload_last_was_ok);
}
