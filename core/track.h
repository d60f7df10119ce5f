/*
 * core/track.h: at-least-once bookkeeping of consumed messages, and the
 * flat record an alert crosses a ring in.
 */
#ifndef QUELL_TRACK_H
#define QUELL_TRACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "common.h"
#include "types.h"

/* At-least-once bookkeeping. Every consumed Kafka message gets a slot in its
 * partition's track window holding the number of things still outstanding
 * for it (alerts not yet decided, incidents or dead letters not yet
 * acknowledged by the producer). Any thread finishing one of them calls
 * track_done(); the consumer thread, which owns the window, advances past
 * finished slots in offset order and stores the offset after the last one.
 * So an offset is committed only when everything before it is finished. */
struct msg_track {
    _Atomic int32_t pending;
    int64_t offset;
};

static inline void track_add(msg_track_t *t, int32_t n)
{
    atomic_fetch_add_explicit(&t->pending, n, memory_order_relaxed);
}
/* Any thread. */
static inline void track_done(msg_track_t *t)
{
    if (t) atomic_fetch_sub_explicit(&t->pending, 1, memory_order_release);
}

typedef struct track_window track_window_t;
/* At most `slots` (rounded up to a power of two, at least 16) in flight;
 * memory is taken in chunks as messages arrive and given back as they
 * finish. */
track_window_t *track_window_new(size_t slots);
void track_window_destroy(track_window_t *w);
/* Owner thread. A slot for `offset` with `pending` = 1 (a hold the owner
 * drops with track_done once it has handed every part out); NULL when the
 * window is full (advance, or wait for workers). */
msg_track_t *track_window_push(track_window_t *w, int64_t offset);
/* Owner thread. Pops finished slots in order; returns true and the offset to
 * commit (last finished + 1) when any was popped. */
bool track_window_advance(track_window_t *w, int64_t *commit_offset);
size_t track_window_inflight(const track_window_t *w);

/* How an alert crosses a ring: one flat record (header, label lengths,
 * string bytes), written in place by ingest and read in place by a worker. */
size_t alert_rec_size(const alert_t *a);
void alert_rec_write(void *dst, const alert_t *a, msg_track_t *track);
/* Rebuilds a view of the record: strings point into `rec`, label arrays are
 * allocated in `scratch`. */
qerr_t alert_rec_read(const void *rec, size_t len, arena_t *scratch, alert_t *out,
                      msg_track_t **track);
/* A watermark tick: a record holding only the watermark, which an ingest
 * thread sends down each of its rings while it has nothing else to send,
 * so a worker reading several rings knows how far each has come (see
 * dedup_inputs_peek). Alert records are always longer. */
#define ALERT_REC_TICK_BYTES 8
void alert_rec_write_tick(void *dst, int64_t watermark_ms);
int64_t alert_rec_watermark(const void *rec, size_t len);      /* alert or tick */
void alert_rec_set_watermark(void *rec, int64_t watermark_ms); /* alert records only */
/* An alert record's fingerprint, event time and track, without reading the
 * rest; false for a tick. */
bool alert_rec_peek(const void *rec, size_t len, uint64_t *fingerprint, int64_t *event_time_ms,
                    msg_track_t **track);

#endif
