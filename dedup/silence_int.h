/*
 * Silence internals shared by silence.c, silencer.c and the unit tests.
 */
#ifndef QUELL_SILENCE_INT_H
#define QUELL_SILENCE_INT_H

#include <cjson/cJSON.h>

#include "dedup.h"
#include "rules_int.h"

/* One matcher as the API writes it. */
typedef struct {
    char *name, *value;
    bool is_regex, is_equal;
} smatch_t;

/* One silence as the operator wrote it (what the API, the file and Redis
 * carry). Strings owned. */
typedef struct {
    char id[40];
    smatch_t *m;
    size_t n_m;
    int64_t starts_ms, ends_ms, updated_ms;
    char *created_by, *comment;
} srec_t;

void srec_free(srec_t *r);
qerr_t srec_copy(srec_t *dst, const srec_t *src);
/* The API's JSON object: 200; 400 when the body does not unmarshal as a
 * postableSilence (Alertmanager answers {"code":400,"message":...}); or
 * go-swagger's validation code (602 a required field, 612 too few
 * matchers), answered with 422; 500 out of memory. With a message. `r` is
 * empty on error. */
int srec_from_json(const cJSON *o, srec_t *r, char *errbuf, size_t errlen);
/* gettableSilence (with_status) or the stored form (without). */
void srec_json(const srec_t *r, int64_t now_ms, bool with_status, mbuf_t *b);
qerr_t srec_compile(const srec_t *r, matcher_set_t **out, char *errbuf, size_t errlen);
const char *silence_state(const srec_t *r, int64_t now_ms);
void silence_format_time(int64_t ms, char out[40]);
void silence_new_id(char out[40]);

typedef struct {
    char id[40];
    matcher_set_t *ms;
    int64_t starts_ms, ends_ms;
    _Atomic uint64_t hits;
} csilence_t;

/* The equality index (like the rule set's for exclusions): a silence with
 * a non-empty `name="value"` matcher is filed once under hash(name, value),
 * so an alert tries only the silences its own label values can match, plus
 * those without such a matcher. */
typedef struct {
    uint64_t h;
    uint32_t sil;
    uint32_t next; /* UINT32_MAX ends a chain */
} sidx_entry_t;

struct silences {
    _Atomic long refs;
    csilence_t *v;
    size_t n;
    char **names; /* distinct names the index files under */
    size_t n_names;
    uint32_t *heads;
    size_t head_mask;
    sidx_entry_t *chain;
    size_t n_chain;
    uint32_t *unindexed;
    size_t n_unindexed;
};

silences_t *silences_build(const srec_t *recs, size_t n, int64_t now_ms, const silences_t *prev);

#endif
