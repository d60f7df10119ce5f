/*
 * The tuning loop on recorded traffic: `quell suggest` (suggest.c) proposes
 * rules from recorded alerts; `quell replay --candidate` reports, per
 * change of the candidate, what it would newly hide, critical first
 * (changes.c). See docs/tuning.md.
 */
#ifndef QUELL_APP_TUNING_H
#define QUELL_APP_TUNING_H

#include "../dedup/dedup.h"

int suggest_main(int argc, char **argv);

/* Which change of the candidate config made an alert that the current
 * config forwards suppressed, from the candidate's reason: "exclusion
 * NAME", "grouping NAME", "noise.flapping", "noise.min_count/min_duration",
 * "severity", "inhibit NAME", "dedup.window/repeat_interval", "dedup".
 * Returns a malloc'd string (NULL on OOM). */
char *tuning_change_of(const conf_t *base, const conf_t *cand, const fp_grouping_t *cand_grouping,
                       const alert_t *a, uint64_t base_fp, const char *cand_reason);

/* One alert a candidate newly suppresses. Strings stay the caller's. */
typedef struct {
    const char *change; /* tuning_change_of */
    uint8_t severity;   /* 1..5, 0 = unknown */
    const char *labels; /* rendered {a="b", ...} */
    int64_t at_ms;
} tuning_hidden_t;

/* Prints, per change, the alerts and distinct label sets it newly hides,
 * its most severe alert and a few samples (most severe first). Changes
 * hiding a more severe alert come first, then by alerts hidden. Sorts `v`. */
void tuning_print_changes(FILE *out, tuning_hidden_t *v, size_t n);

#endif
