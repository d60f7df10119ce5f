/*
 * The decision log: every decision a worker reaches, kept in a bounded
 * ring of recent decisions per worker (what `quell explain --fingerprint`,
 * /api/v1/explain and GET /api/v2/alerts answer from) and, when
 * decisions.topic is set, produced as one JSON record to that topic.
 */
#ifndef QUELL_DECLOG_H
#define QUELL_DECLOG_H

#include "../core/core.h"

typedef struct declog declog_t;

/* One decision as kept in the ring: a run of the same decision on one
 * fingerprint (same kind, same rule) is one record, updated in place, with
 * the latest alert's fields and `times` the length of the run. Labels and
 * annotations are packed as
 * "name\0value\0" pairs (a copy, no formatting on the hot path), cut at
 * whole pairs when they do not fit (`labels_cut`); the other strings are
 * NUL-terminated and cut at their field's size. */
typedef struct {
    uint64_t fingerprint, incident_id;
    int64_t event_ms;   /* the alert's event time */
    int64_t decided_ms; /* wall clock */
    int64_t starts_ms, ends_ms;
    int64_t first_seen_ms; /* with the fingerprint, the incident id */
    uint64_t times;        /* decisions in this run, this one included */
    uint64_t details_hash; /* alert_t.details_hash of the annotations and URL held */
    const void *rule;      /* incident_t.rule of the run: compared, never read */
    uint8_t kind;          /* decision_kind_t */
    bool firing;
    bool silenced;
    bool labels_cut;
    uint16_t n_labels, n_annotations;
    /* What a decision that continues a run rewrites lies in the lines
     * above and these two, next to each other (a run's reason and labels
     * do not change). */
    char annotations[192];
    char generator_url[128];
    char reason[80]; /* decision_reason(): "excluded:<rule>", "silenced:<id>", ... */
    char labels[640];
} declog_rec_t;

/* The record's labels (or annotations) back as label_t, pointing into it;
 * at most `cap`. Returns how many. */
uint32_t declog_rec_labels(const declog_rec_t *r, bool annotations, label_t *out, uint32_t cap);
/* ... and as a JSON object. */
void declog_rec_labels_json(const declog_rec_t *r, bool annotations, mbuf_t *b);

typedef struct {
    size_t workers;
    size_t recent;      /* records per worker; 0 = no ring */
    size_t open;        /* open alerts kept beyond the rings, in all; 0 = none */
    int64_t open_ms;    /* how long a firing alert's record stays open */
    const char *topic;  /* NULL/"" = no topic */
    const conf_t *conf; /* brokers' properties for the topic's producer */
    const char *brokers;
} declog_opts_t;

/* NULL with errbuf on error; a log with neither ring nor topic is valid
 * and costs one branch per decision. */
declog_t *declog_new(const declog_opts_t *o, char *errbuf, size_t errlen);
/* Flushes the topic (up to 5 s) and frees. NULL-safe. */
void declog_destroy(declog_t *d);
bool declog_on(const declog_t *d);
/* Records the rings hold at most, over all workers. */
size_t declog_capacity(const declog_t *d);

/* Worker `w`'s thread only: records one decision. Never blocks: a full
 * producer queue drops the record from the topic (counted). */
void declog_note(declog_t *d, size_t w, const alert_t *a, const incident_t *inc);

/* Worker `w`'s thread only: asks for the cache lines declog_note() of a
 * decision on `fingerprint` will read and write first, a decision ahead;
 * `deep` (once a first call had time to land): the records those name.
 * A hint: the log is unchanged. */
void declog_prefetch(const declog_t *d, size_t w, uint64_t fingerprint, bool deep);

/* Any thread: calls fn for every record still in the rings (newest of each
 * worker first), then for the records of open alerts that left them (one
 * per fingerprint, older than any of its ring records: the first record a
 * fingerprint gets is its latest); a record being overwritten is skipped.
 * Stops when fn returns false. */
typedef bool (*declog_fn)(void *ctx, const declog_rec_t *r);
void declog_each(declog_t *d, declog_fn fn, void *ctx);

/* Any thread: the times of the latest decision on `fp` the log holds (a
 * lookup in each worker's ring index and kept records; a walk over a ring
 * whose index entry another fingerprint took). `firing`: of a firing
 * alert, not a resolve. false when the log holds none. */
typedef struct {
    int64_t decided_ms, event_ms, ends_ms;
    bool firing;
} declog_times_t;
bool declog_latest(declog_t *d, uint64_t fp, declog_times_t *out);

/* The record as the topic carries it (one JSON object, no newline). */
void declog_rec_json(const declog_rec_t *r, mbuf_t *b);

/* quell_decision_log_* families. Any thread. */
void declog_metrics(declog_t *d, mbuf_t *b);

#endif
