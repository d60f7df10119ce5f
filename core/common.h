/*
 * core/common.h: what every file of quell may need — the version, the error
 * enum, clocks, per-thread counters, fixed-width fields and hex. No state.
 */
#ifndef QUELL_COMMON_H
#define QUELL_COMMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define QUELL_VERSION "0.1.0"

#define CACHELINE 64

typedef enum {
    QERR_OK = 0,
    QERR_INVALID = -1, /* bad input or config: not retriable */
    QERR_NOMEM = -2,
    QERR_FULL = -3, /* try again later: a ring or buffer is full */
    QERR_IO = -4,   /* file or network failure: retriable */
    QERR_KAFKA = -5,
    QERR_DECODE = -6, /* a message that cannot be decoded: dead-letter it */
} qerr_t;

const char *qerr_str(qerr_t err);

int64_t clock_wall_ms(void); /* Unix time, ms */
/* Unix time, ms, to the kernel's tick (1-4 ms behind at most): a load, not
 * a clock read, for stamps taken per alert that people read. */
int64_t clock_wall_coarse_ms(void);
int64_t clock_mono_ns(void); /* monotonic, for measuring durations */
/* Unix time in ns (CLOCK_REALTIME). */
int64_t clock_wall_ns(void);

/* The calling thread's scheduler slice request (sched_setattr's
 * sched_runtime; core/sched.c), inherited by threads it starts later: us
 * 0 = the kernel's default. A kernel without custom slices ignores it. */
qerr_t sched_slice_set(unsigned us, char *errbuf, size_t errlen);
/* The calling thread's slice in ns as the kernel reports it (0: none asked
 * for; -1: unknown). */
int64_t sched_slice_ns(void);

/* Asks served by another thread: the asker takes a ticket (a counter it
 * bumps), the owner serves it between two units of its own work, and the
 * asker waits here until `served(ctx, ticket)` holds, polling every ms.
 * false after `timeout_ms` or once *cancel (may be NULL) is set. The
 * workers' table copies and top-N, the router's groups cut and the
 * snapshot's consumer barrier and marks all wait this way. */
bool wait_served(bool (*served)(void *ctx, uint64_t ticket), void *ctx, uint64_t ticket,
                 int timeout_ms, const _Atomic bool *cancel);

/* Per-thread counters: written by their owner thread only, read by others.
 * A relaxed load+store is enough (single writer) and costs no lock prefix. */
static inline void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline uint64_t stat_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

/* For values stored outside the process (Redis entries and hashes), so they
 * read the same whatever the host's byte order. */
static inline void le64_put(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint64_t le64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* memcpy for the short strings of an alert (label names and values, mostly
 * under 32 bytes), inline: two overlapping moves of a power-of-two size
 * cover any length from that size to twice it, so no byte outside
 * [0, n) is read or written. A memcpy call per string (through the PLT,
 * then glibc's size dispatch) was most of what copying a record cost. */
static inline void copy_short(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n > 32) {
        memcpy(d, s, n);
    } else if (n >= 16) {
        uint64_t a[2], b[2];
        memcpy(a, s, 16);
        memcpy(b, s + n - 16, 16);
        memcpy(d, a, 16);
        memcpy(d + n - 16, b, 16);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n) {
        unsigned char a = s[0], b = s[n / 2], c = s[n - 1];
        d[0] = a;
        d[n / 2] = b;
        d[n - 1] = c;
    }
}

/* Writes 16 lowercase hex digits and a NUL into out[17]. */
void hex16(uint64_t v, char out[17]);

/* ---- files (core/file.c) ----------------------------------------------- */

/* Reads a whole file into a malloc'd NUL-terminated buffer (its length
 * without the NUL in *len_out, when not NULL); NULL with errno set when it
 * cannot. */
char *file_read_all(const char *path, size_t *len_out);
/* Replaces `path` atomically: `write` fills PATH.tmp, which is flushed,
 * fsynced and renamed over PATH. On any failure PATH is left as it was, the
 * temporary file is removed and errbuf says why. */
qerr_t file_replace(const char *path, qerr_t (*write)(FILE *f, void *ctx), void *ctx, char *errbuf,
                    size_t errlen);

/* ---- calendar (core/civil.c) ------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);
void time_civil_from_days(int64_t days, int *y, int *m, int *d);
/* Parses an RFC 3339 timestamp of exactly `len` bytes into Unix ms. Go's zero
 * time (Alertmanager's "no end") gives 0. False when it is not one. */
bool time_parse_rfc3339(const char *s, size_t len, int64_t *ms_out);
/* Formats Unix ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (NUL-terminated). */
void time_format_rfc3339(int64_t unix_ms, char out[32]);

#endif
