/*
 * Logging, clocks and error strings: the small pieces every thread uses.
 *
 * A log line is formatted into a stack buffer and written with one write(2),
 * so lines from different threads never interleave. The level and format are
 * set once by main() before threads start and only read afterwards.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

log_level_t log_level_current = LOG_INFO;
static log_format_t log_format_current = LOG_FMT_LOGFMT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *qerr_str(qerr_t err)
{
    switch (err) {
    case QERR_OK: return "ok";
    case QERR_INVALID: return "invalid";
    case QERR_NOMEM: return "out of memory";
    case QERR_FULL: return "full";
    case QERR_IO: return "i/o error";
    case QERR_KAFKA: return "kafka error";
    case QERR_DECODE: return "undecodable message";
    }
    return "unknown error";
}

void log_setup(log_level_t level, log_format_t format)
{
    log_level_current = level;
    log_format_current = format;
}

int log_level_parse(const char *s, log_level_t *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

/* Appends `s` to buf as a JSON string body (without quotes). */
static size_t json_escape_into(char *buf, size_t cap, size_t pos, const char *s)
{
    for (; *s && pos + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)ch;
        } else if (ch < 0x20) {
            pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x", ch);
        } else {
            buf[pos++] = (char)ch;
        }
    }
    return pos;
}

void log_emit(log_level_t level, const char *component, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ts.tv_nsec / 1000000));

    char line[1400];
    size_t pos;
    if (log_format_current == LOG_FMT_JSON) {
        pos = (size_t)snprintf(line, sizeof(line),
                               "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"",
                               when, level_names[level], component);
        pos = json_escape_into(line, sizeof(line), pos, msg);
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\"}\n");
    } else {
        pos = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s component=%s msg=\"", when,
                               level_names[level], component);
        pos = json_escape_into(line, sizeof(line), pos, msg);
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\"\n");
    }
    if (pos > sizeof(line)) pos = sizeof(line);
    ssize_t ignored = write(STDERR_FILENO, line, pos);
    (void)ignored;
}

#define LIMIT_SLOTS 256

static struct {
    _Atomic int64_t last_ms;
    _Atomic uint64_t suppressed;
} limit_slots[LIMIT_SLOTS];

void log_emit_limited(log_level_t level, const char *component, const char *key,
                      int64_t interval_ms, const char *fmt, ...)
{
    uint32_t h = 2166136261u; /* FNV-1a over component and key */
    for (const char *p = component; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    __typeof__(limit_slots[0]) *slot = &limit_slots[h % LIMIT_SLOTS];
    int64_t now = clock_mono_ns() / 1000000 + 1; /* never 0: 0 means "never written" */
    int64_t last = atomic_load_explicit(&slot->last_ms, memory_order_relaxed);
    if ((last && now - last < interval_ms) ||
        !atomic_compare_exchange_strong(&slot->last_ms, &last, now)) {
        atomic_fetch_add_explicit(&slot->suppressed, 1, memory_order_relaxed);
        return;
    }
    uint64_t quiet = atomic_exchange_explicit(&slot->suppressed, 0, memory_order_relaxed);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (quiet)
        log_emit(level, component, "%s (suppressed %llu similar in the last %llds)", msg,
                 (unsigned long long)quiet, (long long)((now - last) / 1000));
    else
        log_emit(level, component, "%s", msg);
}

void log_kafka_cb(const struct rd_kafka_s *rk, int syslog_level, const char *fac, const char *buf)
{
    (void)rk;
    /* syslog levels: 0-3 errors, 4 warning, 5-6 notice/info, 7 debug. */
    log_level_t level = syslog_level <= 3   ? LOG_ERROR
                        : syslog_level == 4 ? LOG_WARN
                        : syslog_level <= 6 ? LOG_INFO
                                            : LOG_DEBUG;
    /* A broker that is down makes librdkafka repeat the same complaint
     * every few hundred ms per connection: one line per facility per 10 s. */
    if (level <= LOG_WARN)
        LOG_LIMITED(level, "kafka", fac, 10000, "%s: %s", fac, buf);
    else
        LOG_AT(level, "kafka", "%s: %s", fac, buf);
}

bool log_limit_allow(log_limit_t *lim, int64_t interval_ms, uint64_t *suppressed)
{
    int64_t now = clock_mono_ns() / 1000000;
    if (lim->last_ms != 0 && now - lim->last_ms < interval_ms) {
        lim->suppressed++;
        return false;
    }
    lim->last_ms = now;
    if (suppressed) *suppressed = lim->suppressed;
    lim->suppressed = 0;
    return true;
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool wait_served(bool (*served)(void *ctx, uint64_t ticket), void *ctx, uint64_t ticket,
                 int timeout_ms, const _Atomic bool *cancel)
{
    int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
    while (!served(ctx, ticket)) {
        if ((cancel && atomic_load(cancel)) || clock_mono_ns() > deadline) return false;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

void hex16(uint64_t v, char out[17])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[v & 0xf];
        v >>= 4;
    }
    out[16] = '\0';
}
