/*
 * Noise control's pure core (dedup.h): one function over one fingerprint's
 * noise state, shared by the memory decider and the shared store so that
 * both decide alike by construction.
 */
#include "dedup.h"

decision_kind_t dedup_noise_apply(dedup_noise_state_t *st, const dedup_noise_t *np,
                                  alert_status_t status_in, int64_t now, decision_kind_t k,
                                  incident_t *out)
{
    bool flap_on = np->flap_threshold > 0, transient_on = np->min_count || np->min_duration_ms;
    uint8_t status = (uint8_t)status_in;
    if (flap_on) {
        bool released = false;
        if (st->held && now - st->last_flip_ms >= np->flap_window_ms) {
            st->held = false;
            st->flips = 0;
            released = true;
        }
        if (st->seen && status != st->last_status) {
            if (st->flips == 0 || now - st->window_start_ms > np->flap_window_ms) {
                st->window_start_ms = now;
                st->flips = 0;
            }
            st->flips++;
            st->last_flip_ms = now;
            if (st->flips >= np->flap_threshold) {
                st->held = true;
                released = false;
            }
        }
        st->seen = true;
        st->last_status = status;
        if (st->held) {
            out->kind = k = DECISION_SUPPRESS_FLAPPING;
            return k;
        }
        if (released) {
            /* One incident saying it flapped, whatever dedup thought. */
            if (k == DECISION_SUPPRESS_DUPLICATE) k = DECISION_FORWARD_REPEAT;
            if (k == DECISION_SUPPRESS_RESOLVED_NO_INCIDENT) k = DECISION_FORWARD_RESOLVED;
            out->kind = k;
            out->flapped = true;
            st->pending = false;
            return k;
        }
    }
    st->seen = true;
    st->last_status = status;
    if (transient_on) {
        bool enough =
            (np->min_count && out->count >= np->min_count) ||
            (np->min_duration_ms && out->last_seen_ms - out->first_seen_ms >= np->min_duration_ms);
        if (k == DECISION_FORWARD_NEW) {
            st->pending = !enough;
        } else if (st->pending &&
                   (k == DECISION_SUPPRESS_DUPLICATE || k == DECISION_FORWARD_REPEAT)) {
            if (enough) {
                st->pending = false;
                k = DECISION_FORWARD_NEW;
            }
        } else if (st->pending && k == DECISION_FORWARD_RESOLVED) {
            st->pending = false;
            k = DECISION_SUPPRESS_TRANSIENT;
        }
        if (st->pending) k = DECISION_SUPPRESS_TRANSIENT;
        out->kind = k;
    }
    return k;
}
