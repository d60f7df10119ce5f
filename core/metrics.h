/*
 * core/metrics.h: text buffers and the Prometheus text exposition.
 */
#ifndef QUELL_METRICS_H
#define QUELL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

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

#endif
