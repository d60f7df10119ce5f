/*
 * rules: what SREs tune — Alertmanager label matchers, exclusions, severity
 * mapping, inhibition and noise controls — compiled from the config's rule
 * sections into an immutable rule set that workers evaluate as a pure
 * function of (rule set, labels, time).
 *
 * Matchers follow Alertmanager exactly: the classic and the UTF-8 matcher
 * syntax with Alertmanager's default "fallback" mode, regexes fully anchored
 * (^(?:RE)$), a missing label matching as "". Regexes are RE2/Go syntax,
 * translated to PCRE2 (JIT) and refused where Go would refuse them.
 */
#ifndef QUELL_RULES_H
#define QUELL_RULES_H

#include "../core/core.h"

/* ---- matchers --------------------------------------------------------- */

typedef enum { MATCH_EQ, MATCH_NE, MATCH_RE, MATCH_NRE } match_op_t;

/* An AND of matchers; the empty set matches everything. Immutable once
 * built: any number of threads may match against it. */
typedef struct matcher_set matcher_set_t;

matcher_set_t *matcher_set_new(void);        /* NULL on OOM */
void matcher_set_destroy(matcher_set_t *ms); /* NULL-safe */

/* Parses Alertmanager matcher text (classic `a="1", b=~"x.*"` or braces
 * `{a="b"}`, with Alertmanager's default "fallback" semantics: the classic
 * parser's result when it accepts the text, else the UTF-8 parser's) and
 * appends to ms. On error returns QERR_INVALID, appends nothing and writes
 * "COL: message" (1-based column, in characters, in `text`) to errbuf. */
qerr_t matcher_set_parse(matcher_set_t *ms, const char *text, char *errbuf, size_t errlen);

/* Appends one matcher (for legacy `match:`/`match_re:` maps); regexes are
 * compiled anchored. Errors as "message" (no column). */
qerr_t matcher_set_add(matcher_set_t *ms, const char *name, match_op_t op, const char *value,
                       char *errbuf, size_t errlen);

/* `labels` sorted by name (alert_t.labels); a missing label matches as "".
 * Thread-safe. */
bool matcher_set_matches(const matcher_set_t *ms, const label_t *labels, uint32_t n_labels);

size_t matcher_set_count(const matcher_set_t *ms);

/* Appends the matchers written in a config node: a YAML list of matcher
 * strings, or one string. Errors as "FILE:LINE:COL: message" (FILE = path). */
qerr_t matcher_set_from_node(matcher_set_t *ms, const conf_node_t *node, const char *path,
                             char *errbuf, size_t errlen);

/* Renders the set back in Alertmanager's Matcher.String() form, joined by
 * ", " (e.g. `foo="bar", baz=~"x.*"`), for explain/top output. Returns the
 * length the full rendering needs (like snprintf); buf is NUL-terminated
 * when cap > 0. */
size_t matcher_set_format(const matcher_set_t *ms, char *buf, size_t cap);

/* One matcher of the set, for callers that index or explain rules. `name`
 * and `value` stay owned by the set. Returns false past the end. */
typedef struct {
    const char *name;
    size_t name_len;
    match_op_t op;
    const char *value;
    size_t value_len;
} matcher_view_t;
bool matcher_set_get(const matcher_set_t *ms, size_t i, matcher_view_t *out);

/* Regex evaluations that hit PCRE2's match limit (the matcher then counts
 * as not matching, so a rule never suppresses on an undecided match). */
uint64_t matcher_regex_limit_hits(void);

#endif
