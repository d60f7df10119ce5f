/*
 * Track windows (offset bookkeeping) and alert records (the ring format).
 *
 * A track window is a queue of slots, one per consumed message of a
 * partition, in offset order, kept in chunks of up to TRACK_CHUNK_SLOTS
 * allocated as messages arrive and freed once every slot in them is
 * finished: a window costs what is in flight, not its bound (a partition
 * reading a backlog used to touch a whole 1 MiB window; 96 of them were
 * 32 MiB of a run's peak RSS). Slots never move, so other threads may
 * hold a slot's address until they finish it. Only the consumer thread
 * pushes and advances; other threads only decrement a slot's `pending`
 * with release semantics, and the owner reads it with acquire, so a slot
 * seen at zero has all its effects (incident delivered) visible, and
 * nothing touches it afterwards.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "track.h"

#define TRACK_CHUNK_SLOTS 1024 /* 16 KiB */

typedef struct track_chunk {
    struct track_chunk *next; /* towards the newest */
    msg_track_t slots[];
} track_chunk_t;

struct track_window {
    track_chunk_t *oldest; /* holds slot `tail`; NULL when nothing is held */
    track_chunk_t *newest; /* holds slot `head - 1` */
    track_chunk_t *spare;  /* one finished chunk kept for the next */
    size_t max_slots;      /* in flight at most */
    size_t chunk_slots;    /* a power of two dividing max_slots */
    size_t head;           /* slots pushed so far */
    size_t tail;           /* slots finished so far */
};

track_window_t *track_window_new(size_t slots)
{
    size_t cap = 16;
    while (cap < slots) cap <<= 1;
    track_window_t *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->max_slots = cap;
    w->chunk_slots = cap < TRACK_CHUNK_SLOTS ? cap : TRACK_CHUNK_SLOTS;
    return w;
}

void track_window_destroy(track_window_t *w)
{
    if (!w) return;
    for (track_chunk_t *c = w->oldest, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(w->spare);
    free(w);
}

msg_track_t *track_window_push(track_window_t *w, int64_t offset)
{
    if (w->head - w->tail >= w->max_slots) return NULL;
    size_t pos = w->head & (w->chunk_slots - 1);
    if (pos == 0) {
        track_chunk_t *c = w->spare;
        if (c)
            w->spare = NULL;
        else if (!(c = malloc(sizeof(*c) + w->chunk_slots * sizeof(msg_track_t))))
            return NULL; /* the caller waits as on a full window */
        c->next = NULL;
        if (w->newest)
            w->newest->next = c;
        else
            w->oldest = c;
        w->newest = c;
    }
    msg_track_t *t = &w->newest->slots[pos];
    atomic_store_explicit(&t->pending, 1, memory_order_relaxed);
    t->offset = offset;
    w->head++;
    return t;
}

bool track_window_advance(track_window_t *w, int64_t *commit_offset)
{
    bool moved = false;
    while (w->tail != w->head) {
        msg_track_t *t = &w->oldest->slots[w->tail & (w->chunk_slots - 1)];
        if (atomic_load_explicit(&t->pending, memory_order_acquire) != 0) break;
        *commit_offset = t->offset + 1;
        w->tail++;
        moved = true;
        if ((w->tail & (w->chunk_slots - 1)) == 0) { /* every slot of the chunk finished */
            track_chunk_t *done = w->oldest;
            w->oldest = done->next;
            if (!w->oldest) w->newest = NULL; /* the next push starts a chunk */
            if (w->spare)
                free(done);
            else
                w->spare = done;
        }
    }
    return moved;
}

size_t track_window_inflight(const track_window_t *w) { return w->head - w->tail; }

/* ---- alert records ----------------------------------------------------
 * Layout (all little host-order integers, 8-byte aligned header):
 *   rec_hdr_t, then u32 lengths: n_labels*2 + n_annotations*2 + 2 (url,
 *   source), then the string bytes in the same order. */

typedef struct {
    msg_track_t *track;
    uint64_t fingerprint;
    int64_t starts_at_ms, ends_at_ms, event_time_ms, watermark_ms;
    uint32_t status, n_labels, n_annotations;
    /* received_ns - event_time_ms, in µs: the header's spare 4 bytes carry
     * the latency split for free. 0: unknown, or more than 71 minutes (a
     * replayed storm's old timestamps, whose latency means nothing). */
    uint32_t received_after_us;
    uint64_t details_hash; /* alert_t.details_hash */
} rec_hdr_t;

static uint32_t received_after_us(const alert_t *a)
{
    int64_t us = a->received_ns / 1000 - a->event_time_ms * 1000;
    if (a->received_ns <= 0 || us <= 0 || us > UINT32_MAX) return 0;
    return (uint32_t)us;
}

static size_t rec_nlens(const alert_t *a)
{
    return (size_t)a->n_labels * 2 + (size_t)a->n_annotations * 2 + 2;
}

size_t alert_rec_size(const alert_t *a)
{
    size_t bytes = sizeof(rec_hdr_t) + rec_nlens(a) * sizeof(uint32_t);
    for (uint32_t i = 0; i < a->n_labels; i++)
        bytes += a->labels[i].name.len + a->labels[i].value.len;
    for (uint32_t i = 0; i < a->n_annotations; i++)
        bytes += a->annotations[i].name.len + a->annotations[i].value.len;
    return bytes + a->generator_url.len + a->source.len;
}

static void put_str(uint32_t **lens, char **bytes, str_t s)
{
    *(*lens)++ = s.len;
    copy_short(*bytes, s.ptr, s.len);
    *bytes += s.len;
}

void alert_rec_write(void *dst, const alert_t *a, msg_track_t *track)
{
    rec_hdr_t *h = dst;
    h->track = track;
    h->fingerprint = a->fingerprint;
    h->starts_at_ms = a->starts_at_ms;
    h->ends_at_ms = a->ends_at_ms;
    h->event_time_ms = a->event_time_ms;
    h->watermark_ms = a->watermark_ms;
    h->status = a->status;
    h->n_labels = a->n_labels;
    h->n_annotations = a->n_annotations;
    h->received_after_us = received_after_us(a);
    uint32_t *lens = (uint32_t *)(h + 1);
    char *bytes = (char *)(lens + rec_nlens(a));
    for (uint32_t i = 0; i < a->n_labels; i++) {
        put_str(&lens, &bytes, a->labels[i].name);
        put_str(&lens, &bytes, a->labels[i].value);
    }
    const uint32_t *details_lens = lens;
    const char *details = bytes;
    for (uint32_t i = 0; i < a->n_annotations; i++) {
        put_str(&lens, &bytes, a->annotations[i].name);
        put_str(&lens, &bytes, a->annotations[i].value);
    }
    put_str(&lens, &bytes, a->generator_url);
    /* The annotations and the URL lie together, just written: their
     * lengths, then their bytes (~15 ns for launch-day's). */
    uint64_t dh = XXH3_64bits_withSeed(
        details, (size_t)(bytes - details),
        XXH3_64bits(details_lens, (size_t)((const char *)lens - (const char *)details_lens)));
    h->details_hash = dh ? dh : 1; /* 0 means not known */
    put_str(&lens, &bytes, a->source);
}

static str_t get_str(const uint32_t **lens, const char **bytes)
{
    str_t s = {*bytes, *(*lens)++};
    *bytes += s.len;
    return s;
}

qerr_t alert_rec_read(const void *rec, size_t len, arena_t *scratch, alert_t *out,
                      msg_track_t **track)
{
    if (len < sizeof(rec_hdr_t)) return QERR_INVALID;
    const rec_hdr_t *h = rec;
    memset(out, 0, sizeof(*out));
    out->fingerprint = h->fingerprint;
    out->starts_at_ms = h->starts_at_ms;
    out->ends_at_ms = h->ends_at_ms;
    out->event_time_ms = h->event_time_ms;
    out->watermark_ms = h->watermark_ms;
    out->status = (alert_status_t)h->status;
    out->n_labels = h->n_labels;
    out->n_annotations = h->n_annotations;
    out->details_hash = h->details_hash;
    out->received_ns =
        h->received_after_us ? (h->event_time_ms * 1000 + h->received_after_us) * 1000 : 0;
    out->labels = arena_alloc(scratch, sizeof(label_t) * (h->n_labels + 1));
    out->annotations = arena_alloc(scratch, sizeof(label_t) * (h->n_annotations + 1));
    if (!out->labels || !out->annotations) return QERR_NOMEM;
    const uint32_t *lens = (const uint32_t *)(h + 1);
    const char *bytes = (const char *)(lens + rec_nlens(out));
    for (uint32_t i = 0; i < h->n_labels; i++) {
        out->labels[i].name = get_str(&lens, &bytes);
        out->labels[i].value = get_str(&lens, &bytes);
    }
    for (uint32_t i = 0; i < h->n_annotations; i++) {
        out->annotations[i].name = get_str(&lens, &bytes);
        out->annotations[i].value = get_str(&lens, &bytes);
    }
    out->generator_url = get_str(&lens, &bytes);
    out->source = get_str(&lens, &bytes);
    *track = h->track;
    return QERR_OK;
}

void alert_rec_write_tick(void *dst, int64_t watermark_ms)
{
    memcpy(dst, &watermark_ms, sizeof(watermark_ms));
}

int64_t alert_rec_watermark(const void *rec, size_t len)
{
    int64_t wm;
    if (len == ALERT_REC_TICK_BYTES)
        memcpy(&wm, rec, sizeof(wm));
    else
        wm = ((const rec_hdr_t *)rec)->watermark_ms;
    return wm;
}

bool alert_rec_peek(const void *rec, size_t len, uint64_t *fingerprint, int64_t *event_time_ms,
                    msg_track_t **track)
{
    if (len < sizeof(rec_hdr_t)) return false;
    const rec_hdr_t *h = rec;
    *fingerprint = h->fingerprint;
    *event_time_ms = h->event_time_ms;
    *track = h->track;
    return true;
}

void alert_rec_set_watermark(void *rec, int64_t watermark_ms)
{
    ((rec_hdr_t *)rec)->watermark_ms = watermark_ms;
}

_Static_assert(sizeof(rec_hdr_t) > ALERT_REC_TICK_BYTES, "a tick must not look like an alert");
