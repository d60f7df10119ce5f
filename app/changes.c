/*
 * What each change of a candidate config would newly hide, for `quell
 * replay --candidate`. Pure: decided alerts in, text out; the report's
 * order is a function of its input (severity, then counts, then names), so
 * the same replay prints the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "tuning.h"

static char *dup_printf(const char *prefix, const char *name)
{
    size_t n = strlen(prefix) + strlen(name) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s", prefix, name);
    return s;
}

static bool strlist_eq(const strlist_t *a, const strlist_t *b)
{
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i], b->items[i])) return false;
    return true;
}

char *tuning_change_of(const conf_t *base, const conf_t *cand, const fp_grouping_t *cand_grouping,
                       const alert_t *a, uint64_t base_fp, const char *cand_reason)
{
    if (!strncmp(cand_reason, "excluded:", 9)) return dup_printf("exclusion ", cand_reason + 9);
    if (!strncmp(cand_reason, "inhibited:", 10)) return dup_printf("inhibit ", cand_reason + 10);
    if (!strcmp(cand_reason, "severity")) return strdup("severity");
    if (!strcmp(cand_reason, "flapping")) return strdup("noise.flapping");
    if (!strcmp(cand_reason, "transient")) return strdup("noise.min_count/min_duration");
    int g = fp_grouping_match(cand_grouping, a->labels, a->n_labels);
    if (g >= 0 && a->fingerprint != base_fp)
        return dup_printf("grouping ", fp_grouping_name(cand_grouping, (size_t)g));
    if (base->dedup.window_ms != cand->dedup.window_ms ||
        base->dedup.repeat_interval_ms != cand->dedup.repeat_interval_ms)
        return strdup("dedup.window/repeat_interval");
    if (base->dedup.fingerprint != cand->dedup.fingerprint ||
        !strlist_eq(&base->dedup.fingerprint_labels, &cand->dedup.fingerprint_labels) ||
        !strlist_eq(&base->dedup.ignore_labels, &cand->dedup.ignore_labels))
        return strdup("dedup.fingerprint_labels/ignore_labels");
    return strdup("dedup");
}

static int sev_rank(uint8_t s) { return s ? s : 9; }

/* By change, then most severe first, then time. */
static int hidden_cmp(const void *x, const void *y)
{
    const tuning_hidden_t *a = x, *b = y;
    int c = strcmp(a->change ? a->change : "", b->change ? b->change : "");
    if (c) return c;
    if (sev_rank(a->severity) != sev_rank(b->severity))
        return sev_rank(a->severity) - sev_rank(b->severity);
    return a->at_ms < b->at_ms ? -1 : a->at_ms > b->at_ms;
}

typedef struct {
    size_t first, n; /* range in the sorted items */
    uint64_t label_sets;
    uint8_t worst;
    uint64_t at_worst; /* alerts at the worst severity */
} change_t;

static int change_cmp(const void *x, const void *y)
{
    const change_t *a = x, *b = y;
    if (sev_rank(a->worst) != sev_rank(b->worst)) return sev_rank(a->worst) - sev_rank(b->worst);
    if (a->n != b->n) return a->n < b->n ? 1 : -1;
    return a->first < b->first ? -1 : a->first > b->first;
}

static int str_ptr_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

void tuning_print_changes(FILE *out, tuning_hidden_t *v, size_t n)
{
    fprintf(out, "  what each change newly hides (most severe first):\n");
    if (!n) {
        fprintf(out, "    nothing\n");
        return;
    }
    qsort(v, n, sizeof *v, hidden_cmp);
    change_t *ch = calloc(n, sizeof *ch);
    const char **sets = malloc(n * sizeof *sets);
    if (!ch || !sets) {
        free(ch);
        free(sets);
        return;
    }
    size_t nc = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && !strcmp(v[j].change ? v[j].change : "", v[i].change ? v[i].change : ""))
            j++;
        change_t *c = &ch[nc++];
        c->first = i;
        c->n = j - i;
        c->worst = v[i].severity; /* sorted most severe first within a change */
        for (size_t k = i; k < j; k++) {
            sets[k - i] = v[k].labels ? v[k].labels : "";
            if (v[k].severity == c->worst) c->at_worst++;
        }
        qsort(sets, j - i, sizeof *sets, str_ptr_cmp);
        for (size_t k = 0; k < j - i; k++)
            if (!k || strcmp(sets[k], sets[k - 1])) c->label_sets++;
        i = j;
    }
    qsort(ch, nc, sizeof *ch, change_cmp);
    for (size_t i = 0; i < nc; i++) {
        const change_t *c = &ch[i];
        char sev[8] = "SEV?";
        if (c->worst) snprintf(sev, sizeof sev, "SEV%u", c->worst);
        fprintf(out, "    %s: %zu alerts (%llu label sets); most severe %s (%llu alerts)\n",
                v[c->first].change ? v[c->first].change : "?", c->n,
                (unsigned long long)c->label_sets, sev, (unsigned long long)c->at_worst);
        for (size_t k = 0; k < c->n && k < 3; k++) {
            const tuning_hidden_t *h = &v[c->first + k];
            char s[8] = "SEV?";
            if (h->severity) snprintf(s, sizeof s, "SEV%u", h->severity);
            fprintf(out, "      %s %s\n", s, h->labels ? h->labels : "");
        }
    }
    free(ch);
    free(sets);
}
