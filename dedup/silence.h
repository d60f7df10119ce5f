/*
 * Silences: Alertmanager's run-time exclusions ("silence this for 2 h"),
 * created, updated and expired over the API v2 (app/api_v2.c) and kept in
 * a silencer_t, which owns the list, makes it durable (a file beside the
 * dedup snapshot, or Redis shared by every instance) and publishes it to
 * the workers as a new rule-set generation (rules_live_set_silences): the
 * hot path reads an immutable compiled set and takes no lock.
 *
 * Semantics follow Alertmanager 0.25: a silence is active while
 * startsAt <= now < endsAt, pending before, expired after; expiring sets
 * endsAt to now (and startsAt too when it was pending); expired silences
 * are kept `retention` and then dropped. The clock is the wall clock when
 * quell runs (like Alertmanager) and the alert's event time in replay.
 */
/* A section of dedup's API: dedup.h includes it at its end, so whichever
 * header comes first, dedup.h's types are there. */
#include "dedup.h"

#ifndef QUELL_SILENCE_H
#define QUELL_SILENCE_H

/* ---- the compiled set the hot path reads ------------------------------ */

/* Immutable once built; reference counted (every rule-set generation that
 * carries it holds one reference). */
typedef struct silences silences_t;

void silences_release(silences_t *s); /* NULL-safe; frees on the last reference */
silences_t *silences_ref(silences_t *s);
size_t silences_count(const silences_t *s);

/* Pure: the first silence active at now_ms whose matchers match, its id
 * (owned by the set) or NULL. Counts the hit. Thread-safe. */
const char *silences_match(const silences_t *s, const label_t *labels, uint32_t n_labels,
                           int64_t now_ms);
/* Every silence active at now_ms matching the labels, ids appended to
 * `out` as a JSON array of strings (for silencedBy). */
void silences_match_all_json(const silences_t *s, const label_t *labels, uint32_t n_labels,
                             int64_t now_ms, mbuf_t *out);
/* quell_decisions_total samples reason="silenced:<id>" (any thread). */
void silences_metrics_reasons(const silences_t *s, mbuf_t *b, const char *family);

/* The live rule set with these silences: a new generation sharing the
 * compiled config rules of the current one; reload keeps the silences.
 * Takes a reference to `s`. Any thread; serialised with reloads. */
void rules_live_set_silences(rules_live_t *l, silences_t *s);
/* The silences of the current generation (a new reference; release it). */
silences_t *rules_live_silences(rules_live_t *l);
/* A rule set's silences (NULL when none); owned by the set. */
const silences_t *ruleset_silences(const ruleset_t *rs);
/* Attaches (takes a reference to) `s` to a rule set not yet published
 * (replay, explain). */
void ruleset_attach_silences(ruleset_t *rs, silences_t *s);

/* ---- the silencer: the list, its durability and its API -------------- */

typedef struct silencer silencer_t;

typedef struct {
    const char *file;          /* memory store: where silences are kept; NULL/"" = not kept */
    const store_conf_t *redis; /* shared store: NULL = memory */
    int64_t retention_ms;      /* expired silences are kept this long */
    int64_t poll_ms;           /* Redis: how often the version key is read */
    rules_live_t *live;        /* where new generations are published; may be NULL (tests) */
} silencer_opts_t;

/* Loads what the file or Redis holds and publishes it. NULL with errbuf on
 * error (an unreadable file is an error; Redis down is not: it is read
 * again when it answers). */
silencer_t *silencer_new(const silencer_opts_t *o, char *errbuf, size_t errlen);
/* Starts the Redis poll thread (shared mode; no-op in memory mode). */
qerr_t silencer_run(silencer_t *s);
void silencer_destroy(silencer_t *s); /* NULL-safe; stops the thread */

/* The API, answering as Alertmanager does. Each writes the response body
 * (JSON) into `out` and returns the HTTP status. Any thread (a mutex
 * serialises writers; the hot path never takes it). */
/* POST /api/v2/silences: create, or update when `id` names one. */
int silencer_post(silencer_t *s, const char *body, size_t len, mbuf_t *out);
/* GET /api/v2/silences?filter=...: `filters` are matcher texts. */
int silencer_list(silencer_t *s, const char *const *filters, size_t n_filters, mbuf_t *out);
/* GET /api/v2/silence/{id} */
int silencer_get(silencer_t *s, const char *id, mbuf_t *out);
/* DELETE /api/v2/silence/{id} */
int silencer_expire(silencer_t *s, const char *id, mbuf_t *out);
/* Re-reads Redis now when its version moved (tests; the thread does it). */
qerr_t silencer_sync_now(silencer_t *s);
/* The compiled set now published (a reference; release it). */
silences_t *silencer_current(silencer_t *s);

/* Loads a silences file into a compiled set (replay, explain). A missing
 * file gives an empty set. NULL with errbuf on a bad file. */
silences_t *silences_load_file(const char *path, char *errbuf, size_t errlen);

#endif
