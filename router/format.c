/*
 * Incident formatting: the exact bytes the output topic receives.
 *
 * Pure: no allocation, no clock. A bounded writer appends into the caller's
 * buffer and keeps counting past its end, so the caller learns the size to
 * retry with (the same contract as snprintf).
 */
#include <string.h>

#include "router_int.h"

size_t router_format_incident_json(char *buf, size_t cap, const alert_t *a, const incident_t *inc)
{
    writer_t w = {buf, cap, 0};
    char fp[17];
    hex16(inc->fingerprint, fp);
    put_lit(&w, "{\"fingerprint\":\"");
    put_lit(&w, fp);
    put_lit(&w, "\",\"incident_id\":\"");
    put_lit(&w, fp);
    put(&w, "-", 1);
    put_u64(&w, (uint64_t)inc->first_seen_ms);
    put_lit(&w, "\",\"kind\":\"");
    put_lit(&w, inc->kind == DECISION_FORWARD_REPEAT     ? "repeat"
                : inc->kind == DECISION_FORWARD_RESOLVED ? "resolved"
                                                         : "new");
    put_lit(&w, "\",\"status\":\"");
    put_lit(&w, inc->kind == DECISION_FORWARD_RESOLVED ? "resolved" : "firing");
    put_lit(&w, "\",\"labels\":");
    put_labels(&w, a->labels, a->n_labels);
    put_lit(&w, ",\"annotations\":");
    put_labels(&w, a->annotations, a->n_annotations);
    put_lit(&w, ",\"starts_at\":");
    put_time(&w, a->starts_at_ms);
    put_lit(&w, ",\"ends_at\":");
    put_time(&w, a->ends_at_ms);
    put_lit(&w, ",\"generator_url\":");
    put_str(&w, a->generator_url);
    put_lit(&w, ",\"source\":");
    put_str(&w, a->source);
    put_lit(&w, ",\"count\":");
    put_u64(&w, inc->count);
    put_lit(&w, ",\"first_seen\":");
    put_time(&w, inc->first_seen_ms);
    put_lit(&w, ",\"last_seen\":");
    put_time(&w, inc->last_seen_ms);
    /* Only when set: decided without the shared store (it failed open), so
     * another instance may have forwarded the same incident. */
    if (inc->degraded) put_lit(&w, ",\"degraded\":true");
    put(&w, "}", 1);
    if (cap) buf[w.len < cap ? w.len : cap - 1] = '\0';
    return w.len;
}
