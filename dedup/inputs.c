/*
 * A worker's input rings and the watermark across them (dedup_int.h).
 */
#include "dedup_int.h"

void *dedup_inputs_peek(dedup_inputs_t *in, size_t i, size_t *len)
{
    ring_t *ring = in->rings[i];
    for (;;) {
        void *rec = ring_peek(ring, len);
        if (!rec) return NULL;
        int64_t wm = alert_rec_watermark(rec, *len);
        in->stamp[i] = wm;
        if (*len == ALERT_REC_TICK_BYTES) {
            ring_skip(ring);
            continue;
        }
        int64_t low = wm;
        for (size_t j = 0; j < in->n; j++)
            if (in->stamp[j] < low) low = in->stamp[j];
        if (low != wm) alert_rec_set_watermark(rec, low);
        return rec;
    }
}

bool dedup_inputs_empty(dedup_inputs_t *in)
{
    size_t len;
    for (size_t i = 0; i < in->n; i++)
        if (dedup_inputs_peek(in, i, &len)) return false;
    return true;
}
