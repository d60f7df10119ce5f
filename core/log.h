/*
 * core/log.h: leveled, rate-limited log lines (logfmt or JSON) on stderr.
 * The level and format are set once at start and read by every thread.
 */
#ifndef QUELL_LOG_H
#define QUELL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.h"

typedef enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level_t;
typedef enum { LOG_FMT_LOGFMT = 0, LOG_FMT_JSON } log_format_t;

extern log_level_t log_level_current;

void log_setup(log_level_t level, log_format_t format);
int log_level_parse(const char *s, log_level_t *out);
/* Thread-safe: one write(2) per line. `component` is e.g. "dedup". */
void log_emit(log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The level is checked before anything is formatted. */
#define LOG_AT(lvl, comp, ...)                                                                     \
    do {                                                                                           \
        if ((lvl) <= log_level_current) log_emit((lvl), (comp), __VA_ARGS__);                      \
    } while (0)
#define log_error(comp, ...) LOG_AT(LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  LOG_AT(LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...)  LOG_AT(LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) LOG_AT(LOG_DEBUG, comp, __VA_ARGS__)

/* librdkafka's log callback (rd_kafka_conf_set_log_cb) routed through
 * log_emit, so its lines share quell's format, levels and stream. Called
 * from librdkafka's threads. `rk` is a const rd_kafka_t *. */
struct rd_kafka_s;
void log_kafka_cb(const struct rd_kafka_s *rk, int syslog_level, const char *fac, const char *buf);

/* Rate limit for repeated errors: true at most once per `interval_ms` per
 * limiter; the number of suppressed calls is returned through `suppressed`.
 * One limiter per call site, owned by one thread. */
typedef struct {
    int64_t last_ms;
    uint64_t suppressed;
} log_limit_t;
bool log_limit_allow(log_limit_t *lim, int64_t interval_ms, uint64_t *suppressed);

/* Rate limit by message key, from any thread: a line with `key` is written
 * at most once per `interval_ms`; the next one written says how many
 * similar lines were suppressed meanwhile. Keys hash into a fixed table
 * (keys sharing a slot share the limit). For errors that can repeat in a
 * storm (a broker down, a client sending junk). */
void log_emit_limited(log_level_t level, const char *component, const char *key,
                      int64_t interval_ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define LOG_LIMITED(lvl, comp, key, interval_ms, ...)                                              \
    do {                                                                                           \
        if ((lvl) <= log_level_current)                                                            \
            log_emit_limited((lvl), (comp), (key), (interval_ms), __VA_ARGS__);                    \
    } while (0)

#endif
