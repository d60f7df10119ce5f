/*
 * Grouping rules: fold alerts into one fingerprint by a subset of their
 * labels, with ids in label values (digit runs, long hex, UUIDs) replaced
 * by placeholders. One alert name firing on 300 hosts, or a job whose name
 * carries its run id, then makes one incident instead of hundreds.
 *
 *   grouping:
 *     - name: ids-signature
 *       matchers: ['alertname=~"ET SCAN .*"']   # absent = every alert
 *       by: [alertname, severity]               # the labels that make the fingerprint
 *       normalize: [alertname]                  # ids in these values -> placeholders
 *       owner: secops
 *
 * The first rule (in file order) whose matchers match decides the
 * fingerprint: a hash of the rule's name and the `by` labels (a missing
 * label hashes as ""). Alerts no rule matches keep the dedup.* fingerprint.
 * Grouping changes fingerprints, and so incident identity and worker
 * sharding: it is computed where fingerprints are (ingest, replay), from
 * the config read at start; a reload does not change it.
 */
/* A section of dedup's API: dedup.h includes it at its end, so whichever
 * header comes first, dedup.h's types are there. */
#include "dedup.h"

#ifndef QUELL_RULES_GROUP_H
#define QUELL_RULES_GROUP_H

typedef struct fp_grouping fp_grouping_t;

/* Compiles conf->grouping. *out is NULL when the section is absent or
 * empty. Errors: QERR_INVALID with "FILE:LINE:COL: message". Warnings (no
 * owner) go to `warn`. `conf` may be freed afterwards. */
qerr_t fp_grouping_compile(const conf_t *conf, rules_warn_fn warn, void *warn_ctx,
                           fp_grouping_t **out, char *errbuf, size_t errlen);
void fp_grouping_destroy(fp_grouping_t *g); /* NULL-safe */
size_t fp_grouping_count(const fp_grouping_t *g);
const char *fp_grouping_name(const fp_grouping_t *g, size_t i);

/* The index of the first rule matching the labels (sorted), or -1. */
int fp_grouping_match(const fp_grouping_t *g, const label_t *labels, uint32_t n_labels);

/* dedup_fp_conf_t.regroup: the grouped fingerprint when a rule matches,
 * else `fp`. `ctx` is the fp_grouping_t. Thread-safe. */
uint64_t fp_grouping_regroup(const void *ctx, const label_t *labels, uint32_t n_labels,
                             uint64_t fp);

/* Points fc's regroup hook at g (NULL clears it). */
void fp_grouping_attach(const fp_grouping_t *g, dedup_fp_conf_t *fc);

/* Writes `s` with ids replaced: a UUID by "<uuid>", a word of 8 or more
 * hex digits with both a decimal digit and a letter (or 0x-prefixed) by
 * "<hex>",
 * a run of 3 or more decimal digits, or a word of digits only, by "<n>".
 * CVE ids (CVE-2021-44228) are kept: they name a kind of attack. Returns
 * the length the result needs (like snprintf); `out` is NUL-terminated
 * when cap > 0. */
size_t id_normalize(const char *s, size_t len, char *out, size_t cap);

#endif
