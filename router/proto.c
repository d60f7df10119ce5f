/*
 * Kafka receivers with `format: protobuf`: each alert of a group
 * notification as one quell.v1.Incident (proto/quell/v1/alert.proto), the
 * type the output topic's consumers already decode.
 *
 * protobuf-c wants NUL-terminated strings, and our strings are byte ranges,
 * so they are copied into a scratch arena first (router thread only).
 */
#include <stdlib.h>

#include "quell/v1/alert.pb-c.h"
#include "router_int.h"

static char *cstr(arena_t *ar, str_t s) { return arena_strndup(ar, s.ptr ? s.ptr : "", s.len); }

static Quell__V1__Label **labels(arena_t *ar, const label_t *l, uint32_t n)
{
    Quell__V1__Label **out = arena_alloc(ar, sizeof(*out) * (n + 1));
    Quell__V1__Label *items = arena_alloc(ar, sizeof(*items) * (n + 1));
    if (!out || !items) return NULL;
    for (uint32_t i = 0; i < n; i++) {
        quell__v1__label__init(&items[i]);
        items[i].name = cstr(ar, l[i].name);
        items[i].value = cstr(ar, l[i].value);
        if (!items[i].name || !items[i].value) return NULL;
        out[i] = &items[i];
    }
    return out;
}

size_t router_format_incident_proto(arena_t *scratch, const notify_alert_t *na, uint8_t **out)
{
    const alert_t *a = na->alert;
    const incident_t *inc = na->inc;
    Quell__V1__Alert pa;
    quell__v1__alert__init(&pa);
    pa.n_labels = a->n_labels;
    pa.labels = labels(scratch, a->labels, a->n_labels);
    pa.n_annotations = a->n_annotations;
    pa.annotations = labels(scratch, a->annotations, a->n_annotations);
    pa.status = a->status == ALERT_RESOLVED ? QUELL__V1__STATUS__STATUS_RESOLVED
                                            : QUELL__V1__STATUS__STATUS_FIRING;
    pa.starts_at_ms = a->starts_at_ms;
    pa.ends_at_ms = a->ends_at_ms;
    pa.generator_url = cstr(scratch, a->generator_url);
    pa.source = cstr(scratch, a->source);
    Quell__V1__Incident pi;
    quell__v1__incident__init(&pi);
    char fp[17], id[48];
    hex16(a->fingerprint, fp);
    snprintf(id, sizeof(id), "%s-%lld", fp, (long long)inc->first_seen_ms);
    pi.fingerprint = fp;
    pi.alert = &pa;
    pi.count = inc->count;
    pi.first_seen_ms = inc->first_seen_ms;
    pi.last_seen_ms = inc->last_seen_ms;
    pi.incident_id = id;
    pi.kind = inc->kind == DECISION_FORWARD_REPEAT     ? "repeat"
              : inc->kind == DECISION_FORWARD_RESOLVED ? "resolved"
                                                       : "new";
    if (!pa.labels || !pa.annotations || !pa.generator_url || !pa.source) return 0;
    size_t len = quell__v1__incident__get_packed_size(&pi);
    *out = arena_alloc(scratch, len + 1);
    if (!*out) return 0;
    return quell__v1__incident__pack(&pi, *out);
}
