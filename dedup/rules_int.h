/*
 * rules internals: shared by the rules/ sources and the unit tests, not by other
 * modules (they use rules.h).
 */
#ifndef QUELL_RULES_INT_H
#define QUELL_RULES_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "dedup.h"

/* One compiled matcher. Strings are NUL-terminated copies (lengths kept:
 * a quoted "\x00" makes an embedded NUL possible). */
typedef struct {
    char *name;
    size_t name_len;
    match_op_t op;
    char *value;
    size_t value_len;
    pcre2_code *re; /* MATCH_RE / MATCH_NRE only */
    /* A literal every match starts with (from the regex's leading literal
     * run, when it has no alternation): a cheap filter before PCRE2. */
    size_t prefix_len;
} matcher_t;

/* A growable list, what the parsers produce. */
typedef struct {
    matcher_t *v;
    size_t n, cap;
} matcher_list_t;

void matcher_list_free(matcher_list_t *l); /* frees items and array; leaves l empty */

/* Builds one matcher (copies name/value, compiles regexes). On error writes
 * a message (no position) and returns QERR_INVALID. */
qerr_t matcher_make(matcher_t *out, const char *name, size_t name_len, match_op_t op,
                    const char *value, size_t value_len, char *errbuf, size_t errlen);
void matcher_free(matcher_t *m);
bool matcher_matches_value(const matcher_t *m, const char *v, size_t len);

/* The parsers. `err_col` receives the 1-based column (in characters) the
 * error is about. On error `out` is left empty. */
qerr_t matchers_parse_classic(const char *text, size_t len, matcher_list_t *out, size_t *err_col,
                              char *errbuf, size_t errlen);
qerr_t matchers_parse_utf8(const char *text, size_t len, matcher_list_t *out, size_t *err_col,
                           char *errbuf, size_t errlen);
/* Alertmanager's fallback mode (the default): classic when it accepts, else
 * UTF-8, else the classic error. */
qerr_t matchers_parse_fallback(const char *text, size_t len, matcher_list_t *out, size_t *err_col,
                               char *errbuf, size_t errlen);

/* FallbackMatcherParser: one matcher, braces refused (tests only). */
qerr_t matchers_parse_fallback_single(const char *text, size_t len, matcher_list_t *out,
                                      size_t *err_col, char *errbuf, size_t errlen);

/* Go strconv.Unquote for a double-quoted string (quotes included), checked
 * to be valid UTF-8 afterwards. Writes a malloc'd result. */
qerr_t go_unquote(const char *s, size_t len, char **out, size_t *out_len);

/* Label name validity: classic [a-zA-Z_][a-zA-Z0-9_]*, UTF-8 any non-empty
 * valid UTF-8. */
bool label_name_valid_classic(const char *s, size_t len);
bool label_name_valid_utf8(const char *s, size_t len);
bool utf8_valid(const char *s, size_t len);

/* UTF-8 lexer tokens, exposed for the lexer conformance table. */
typedef enum {
    TOK_EOF = 0,
    TOK_OPEN_BRACE,
    TOK_CLOSE_BRACE,
    TOK_COMMA,
    TOK_EQUALS,
    TOK_NOT_EQUALS,
    TOK_MATCHES,
    TOK_NOT_MATCHES,
    TOK_QUOTED,
    TOK_UNQUOTED,
} tok_kind_t;
typedef struct {
    tok_kind_t kind;
    size_t off_start, off_end; /* bytes */
    size_t col_start, col_end; /* characters, 0-based like Alertmanager's */
} tok_t;
typedef struct {
    const char *in;
    size_t len;
    size_t start, pos, width, column, cols;
    bool failed;
    size_t err_col, err_col_end; /* 0-based columns of the failure */
    char err[160];
} lexer_t;
void lexer_init(lexer_t *l, const char *in, size_t len);
/* false on a lexing error (l->err set); a TOK_EOF token at the end. */
bool lexer_scan(lexer_t *l, tok_t *t);
const char *tok_kind_name(tok_kind_t k);

/* Translates a Go (RE2) regular expression into PCRE2 syntax, refusing what
 * Go refuses (backreferences, lookaround, possessive and atomic groups, \C,
 * nested repetition, repeat counts over 1000, unknown escapes...). Returns
 * a malloc'd pattern or NULL with a message in errbuf. */
char *go_regex_to_pcre2(const char *re, size_t len, size_t *out_len, char *errbuf, size_t errlen);
/* Compiles ^(?:RE)$ the way Alertmanager does; NULL with a message. */
pcre2_code *go_regex_compile_anchored(const char *re, size_t len, char *errbuf, size_t errlen);
/* Matches a compiled regex; -1 when the match limit was hit. Thread-safe. */
int go_regex_match(const pcre2_code *code, const char *s, size_t len);

/* ---- time zones and intervals (timeint.c) -------------------------- */

typedef struct tz_zone tz_zone_t;
tz_zone_t *tz_zone_load(const char *name, char *errbuf, size_t errlen); /* "UTC", "Local", IANA */
void tz_zone_free(tz_zone_t *z);
int32_t tz_offset(const tz_zone_t *z, int64_t unix_s); /* NULL zone = UTC */

typedef struct {
    int year, month, mday, wday; /* month 1..12, wday 0 = Sunday */
    int minute_of_day;
    int mdays; /* days in this month */
} local_tm_t;
void local_time(const tz_zone_t *z, int64_t now_ms, local_tm_t *out);

/* Zones loaded once per rule set, shared by its intervals. */
typedef struct zone_cache zone_cache_t;
zone_cache_t *zone_cache_new(void);
void zone_cache_destroy(zone_cache_t *zc);
const tz_zone_t *zone_cache_get(zone_cache_t *zc, const char *name, char *errbuf, size_t errlen);

typedef struct {
    int32_t (*times)[2]; /* [start, end) minutes of day */
    size_t n_times;
    uint8_t weekdays; /* bit per day (0 = Sunday); 0 = any */
    uint32_t months;  /* bits 1..12; 0 = any */
    int32_t (*mdays)[2];
    size_t n_mdays;
    int32_t (*years)[2];
    size_t n_years;
    const tz_zone_t *zone; /* NULL = UTC; owned by the zone cache */
} time_interval_t;

qerr_t time_interval_compile(const conf_node_t *node, const char *path, zone_cache_t *zones,
                             time_interval_t *out, char *errbuf, size_t errlen);
void time_interval_free(time_interval_t *ti);
bool time_interval_contains(const time_interval_t *ti, int64_t now_ms);

/* ---- rule set internals (ruleset.c) -------------------------------- */

typedef struct {
    char *name;
    time_interval_t *v;
    size_t n;
} named_intervals_t;

typedef struct {
    char *name, *owner, *comment;
    uint32_t line, col;
    matcher_set_t *ms;
    int64_t starts_ms, ends_ms; /* 0 = open */
    time_interval_t *inl;       /* inline intervals (owned) */
    size_t n_inl;
    const named_intervals_t **named; /* by name (owned by the rule set) */
    size_t n_named;
    /* Alerts it suppressed: the one mutable field of a rule set (workers
     * add, the metrics scrape reads; carried over to the next set on
     * reload, by name). */
    _Atomic uint64_t hits;
} exclusion_t;

typedef struct {
    char *name;
    matcher_set_t *src, *tgt;
    char **equal;
    size_t n_equal;
    uint64_t name_hash;    /* keys the shared inhibition state: survives reloads */
    _Atomic uint64_t hits; /* like exclusion_t.hits */
} inhibit_rule_t;

/* The noise section: dedup's noise core runs it (dedup.h), in memory and
 * in the shared store alike. */
typedef dedup_noise_t noise_params_t;

typedef struct {
    uint64_t h;
    uint32_t rule;
    uint32_t next; /* UINT32_MAX ends a chain */
} index_entry_t;

typedef struct {
    char *value; /* lower case */
    uint8_t sev;
} sev_entry_t;

struct ruleset {
    uint64_t generation;
    char *path;
    zone_cache_t *zones;
    named_intervals_t *ivs;
    size_t n_ivs;
    exclusion_t *ex;
    size_t n_ex;
    /* Equality index: each exclusion with a non-empty `name="value"` matcher
     * is filed once under hash(name, value); the rest are always tried. */
    uint32_t *heads;
    size_t head_mask;
    index_entry_t *chain;
    size_t n_chain;
    uint32_t *unindexed;
    size_t n_unindexed;
    /* Regex-only rules with a literal prefix are filed in the same index
     * under hash(name, first PREFIX_KEY_MAX-or-fewer prefix bytes) with a
     * different seed; bit L of prefix_lengths says length L is in use. */
    uint8_t prefix_lengths;
    char **sev_labels;
    size_t n_sev_labels;
    sev_entry_t *sev_map;
    size_t n_sev_map;
    uint8_t sev_drop; /* bit per SEV number */
    uint8_t sev_default;
    inhibit_rule_t *inh;
    size_t n_inh;
    noise_params_t noise;
    /* Run-time silences (silence.h): one reference, NULL = none. A new
     * silence list is published as a shell generation sharing everything
     * above with the previous set (ruleset_share), which then owns it. */
    struct silences *silences;
    bool body_moved; /* destroy frees only the shell and its silences */
};

/* A new generation with the same compiled rules as `cur` (moved into it:
 * `cur` keeps using them until freed, then frees only its shell). NULL on
 * OOM. One writer at a time (rules_live's writer lock). */
ruleset_t *ruleset_share(ruleset_t *cur);

/* Label value lookup in a sorted label array ("" when absent). */
bool labels_get(const label_t *labels, uint32_t n, const char *name, size_t name_len,
                const char **v, size_t *vlen);
uint8_t ruleset_severity(const ruleset_t *rs, const label_t *labels, uint32_t n);
bool exclusion_active(const exclusion_t *e, int64_t now_ms);
void ruleset_carry_hits(ruleset_t *from, ruleset_t *to);

/* The decider's two questions to the inhibition state (inhibit.c), from any
 * worker: an alert matching rule r's source side (`both`: its target side
 * too) arms or, resolved, disarms it; and whether it mutes an alert matching
 * its target side now. */
void inhibit_state_source(inhibit_state_t *s, const inhibit_rule_t *r, const alert_t *a, bool both,
                          int64_t now_ms, int64_t window_ms);
bool inhibit_state_mutes(inhibit_state_t *s, const inhibit_rule_t *r, const alert_t *a, bool both,
                         int64_t now_ms);

#endif
