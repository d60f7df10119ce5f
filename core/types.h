/*
 * Value types shared by every stage: the decoded alert, its labels, the
 * decision a dedup worker reaches. Types only, no functions, so any stage can
 * include it without pulling another stage's API in.
 *
 * Strings are byte ranges (not NUL-terminated) that point into memory owned
 * by whoever produced the alert: an ingest arena while decoding, a ring
 * record while a worker decides. Nothing here owns memory.
 */
#ifndef QUELL_TYPES_H
#define QUELL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *ptr;
    uint32_t len;
} str_t;

typedef struct {
    str_t name;
    str_t value;
} label_t;

typedef enum {
    ALERT_FIRING = 0,
    ALERT_RESOLVED = 1,
} alert_status_t;

/* Where the alert came from; it travels with the alert so that the message's
 * offset can be stored once every alert of it has been decided. */
typedef struct msg_track msg_track_t;

typedef struct {
    label_t *labels; /* sorted bytewise by name, names unique */
    uint32_t n_labels;
    label_t *annotations; /* in input order */
    uint32_t n_annotations;
    alert_status_t status;
    int64_t starts_at_ms;  /* Unix ms, 0 = unset */
    int64_t ends_at_ms;    /* Unix ms, 0 = unset */
    int64_t event_time_ms; /* the clock decisions use: Kafka timestamp, else arrival */
    int64_t watermark_ms;  /* no partition still being read is behind this event
                            * time, so incidents idle since before it minus the
                            * window may be dropped (0 = unknown: drop none) */
    int64_t received_ns;   /* wall clock when quell took its Kafka message, for the
                            * latency split (0 = unknown); carried in ring records
                            * to within a microsecond */
    str_t generator_url;
    str_t source;
    uint64_t fingerprint;
    /* A digest of the annotations and generator_url, to tell whether they
     * changed without reading them (the decision log): set from a ring
     * record (alert_rec_read); 0 = not known, never equal to a record's. */
    uint64_t details_hash;
} alert_t;

/* What a dedup worker decided for one alert. */
typedef enum {
    DECISION_FORWARD_NEW = 0,               /* first occurrence: a new incident */
    DECISION_FORWARD_REPEAT,                /* still firing after repeat_interval */
    DECISION_FORWARD_RESOLVED,              /* resolved while an incident was open */
    DECISION_SUPPRESS_DUPLICATE,            /* folded into the open incident */
    DECISION_SUPPRESS_RESOLVED_NO_INCIDENT, /* resolved, nothing was open */
    DECISION_SUPPRESS_EXCLUDED,             /* an exclusion rule matched (incident_t.rule) */
    DECISION_SUPPRESS_FLAPPING,             /* held while it flips firing/resolved */
    DECISION_SUPPRESS_TRANSIENT,            /* not yet seen often or long enough */
    DECISION_SUPPRESS_INHIBITED,            /* an inhibit rule matched (incident_t.rule) */
    DECISION_SUPPRESS_SEVERITY,             /* mapped to a severity that is dropped */
    DECISION__COUNT
} decision_kind_t;

#define DECISION_IS_FORWARD(k) ((k) <= DECISION_FORWARD_RESOLVED)

/* The incident as it stands after the decision; what the router formats. */
typedef struct {
    decision_kind_t kind;
    uint64_t fingerprint;
    uint64_t count; /* occurrences folded in, this one included */
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    uint64_t incident_id; /* stable over re-forwards of one incident (0 = the fingerprint) */
    const char *rule;     /* EXCLUDED/INHIBITED: the rule's name, owned by the rule set */
    uint8_t severity;     /* 1..5 for SEV1..SEV5, 0 = unknown */
    bool degraded;        /* decided without the shared store (it failed open) */
    bool flapped;         /* forwarded once after flapping stopped */
    bool silenced;        /* EXCLUDED by a silence: `rule` is its id */
} incident_t;

#endif
