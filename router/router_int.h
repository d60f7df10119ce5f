/*
 * router's private helpers shared by its .c files: the bounded JSON writer
 * every formatter uses (appends into the caller's buffer and keeps counting
 * past its end, so the caller learns the size to retry with).
 */
#ifndef QUELL_ROUTER_INT_H
#define QUELL_ROUTER_INT_H

#include <string.h>

#include "router.h"

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} writer_t;

static inline void put(writer_t *w, const char *s, size_t n)
{
    if (n && w->len < w->cap) {
        size_t room = w->cap - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static inline void put_lit(writer_t *w, const char *s) { put(w, s, strlen(s)); }

static inline void put_json_str(writer_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(w, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        switch (c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default: put(w, esc, 6); break;
        }
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

static inline void put_str(writer_t *w, str_t s) { put_json_str(w, s.ptr, s.len); }

static inline void put_u64(writer_t *w, uint64_t v)
{
    char tmp[24];
    int i = 23;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(w, tmp + i, (size_t)(23 - i));
}

static inline void put_time(writer_t *w, int64_t ms)
{
    if (ms == 0) {
        put_lit(w, "null");
        return;
    }
    char t[32];
    router_format_time(ms, t);
    put(w, "\"", 1);
    put_lit(w, t);
    put(w, "\"", 1);
}

static inline void put_labels(writer_t *w, const label_t *l, uint32_t n)
{
    put(w, "{", 1);
    for (uint32_t i = 0; i < n; i++) {
        if (i) put(w, ",", 1);
        put_str(w, l[i].name);
        put(w, ":", 1);
        put_str(w, l[i].value);
    }
    put(w, "}", 1);
}

/* Router thread: produces `value` to `topic` carrying n_tracks holds,
 * released together on the broker's ack. With `reason`, adds the
 * dead-letter headers (quell-error delivery_failed, quell-error-detail,
 * quell-receiver). Copies `tracks`; the caller keeps its array. */
qerr_t router_produce_tracked(router_t *r, const char *topic, const char *key, const void *value,
                              size_t len, const char *receiver, const char *reason,
                              msg_track_t *const *tracks, size_t n_tracks);

/* One alert of a notification as a packed quell.v1.Incident, allocated in
 * `scratch` (*out); returns its length, 0 on OOM. */
size_t router_format_incident_proto(arena_t *scratch, const notify_alert_t *na, uint8_t **out);

#endif
