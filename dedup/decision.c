/*
 * The window rules of the decision, once: what one occurrence of a
 * fingerprint does to that fingerprint's incident (open it, fold it, repeat
 * it, resolve it). Pure: no table, no I/O, no clock but the one given.
 *
 * Every place that decides runs this function over its own copy of the
 * state: the memory table (window.c) over a slot, the shared store
 * (store.c) over the entry Redis holds, and so `quell replay` and
 * `quell explain` through the decider. Noise control follows it in the same
 * order everywhere (dedup_noise_apply, noise.c).
 */
#include "dedup.h"

uint64_t window_incident_id(uint64_t fp, int64_t first_seen_ms)
{
    /* splitmix64 over the fingerprint and the first occurrence: a new
     * incident of the same fingerprint gets a new id, re-forwards of one
     * incident keep theirs. Never 0 (0 means "unset"). */
    uint64_t z = fp ^ ((uint64_t)first_seen_ms * 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z ? z : 1;
}

static decision_kind_t fill(incident_t *out, decision_kind_t kind, uint64_t fp,
                            const window_state_t *w)
{
    *out = (incident_t){.kind = kind,
                        .fingerprint = fp,
                        .count = w->count,
                        .first_seen_ms = w->first_seen_ms,
                        .last_seen_ms = w->last_seen_ms,
                        .incident_id = w->incident_id};
    return kind;
}

decision_kind_t window_decide(window_state_t *w, const dedup_params_t *p, uint64_t fp,
                              alert_status_t status, int64_t now_ms, incident_t *out)
{
    if (w->open && now_ms - w->last_seen_ms > p->window_ms) w->open = false;
    if (status == ALERT_RESOLVED) {
        if (!w->open) {
            window_state_t none = {.first_seen_ms = now_ms, .last_seen_ms = now_ms};
            return fill(out, DECISION_SUPPRESS_RESOLVED_NO_INCIDENT, fp, &none);
        }
        w->count++;
        if (now_ms > w->last_seen_ms) w->last_seen_ms = now_ms;
        w->open = false;
        return fill(out, DECISION_FORWARD_RESOLVED, fp, w);
    }
    if (!w->open) {
        w->open = true;
        w->first_seen_ms = w->last_seen_ms = w->last_forward_ms = now_ms;
        w->count = 1;
        w->incident_id = window_incident_id(fp, now_ms);
        return fill(out, DECISION_FORWARD_NEW, fp, w);
    }
    w->count++;
    if (now_ms > w->last_seen_ms) w->last_seen_ms = now_ms;
    decision_kind_t kind = DECISION_SUPPRESS_DUPLICATE;
    if (now_ms - w->last_forward_ms >= p->repeat_interval_ms) {
        w->last_forward_ms = now_ms;
        kind = DECISION_FORWARD_REPEAT;
    }
    return fill(out, kind, fp, w);
}
