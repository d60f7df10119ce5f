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
/* A section of dedup's API: dedup.h includes it at its end, so whichever
 * header comes first, dedup.h's types are there. */
#include "dedup.h"

#ifndef QUELL_RULES_H
#define QUELL_RULES_H

#include "../core/common.h"
#include "../core/conf.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/track.h"
#include "../core/types.h"

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

/* Parses one matcher as Alertmanager 0.25's API reads a `filter` query
 * parameter (labels.ParseMatcher): `name op value`, the name
 * [a-zA-Z_:][a-zA-Z0-9_:]*, spaces around, the value optionally in double
 * quotes with \" \\ \n escapes; no braces, no list. On error returns
 * QERR_INVALID, appends nothing and writes Alertmanager's own message to
 * errbuf ("bad matcher format: TEXT", "matcher value contains unescaped
 * double quote: VALUE", a regex's "error parsing regexp: ..."). */
qerr_t matcher_set_parse_filter(matcher_set_t *ms, const char *text, char *errbuf, size_t errlen);

/* matcher_set_add() as Alertmanager's API builds a matcher (labels.NewMatcher),
 * with its regex error text, which quotes the anchored "^(?:RE)$". */
qerr_t matcher_set_add_api(matcher_set_t *ms, const char *name, match_op_t op, const char *value,
                           char *errbuf, size_t errlen);

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
    size_t prefix_len; /* regexes: every match starts with value[0, prefix_len) */
} matcher_view_t;
bool matcher_set_get(const matcher_set_t *ms, size_t i, matcher_view_t *out);

/* Regex evaluations that hit PCRE2's match limit (the matcher then counts
 * as not matching, so a rule never suppresses on an undecided match). */
uint64_t matcher_regex_limit_hits(void);

/* ---- named time intervals ---------------------------------------------- */

/* The config's `time_intervals:` (Alertmanager's named intervals) on their
 * own, for the routing tree's mute_time_intervals/active_time_intervals
 * (timeint_set.c). Immutable: any thread. */
typedef struct time_interval_set time_interval_set_t;
/* An empty set when the config has none. QERR_INVALID with
 * "FILE:LINE:COL: message" on a bad section. */
qerr_t time_interval_set_compile(const conf_t *conf, time_interval_set_t **out, char *errbuf,
                                 size_t errlen);
void time_interval_set_destroy(time_interval_set_t *s); /* NULL-safe */
/* The index of NAME, -1 when the set has none of that name. */
int time_interval_set_find(const time_interval_set_t *s, const char *name);
/* Whether `now_ms` lies in any interval of entry `idx`. */
bool time_interval_set_contains(const time_interval_set_t *s, int idx, int64_t now_ms);

/* ---- rule sets -------------------------------------------------------- */

/* The compiled rule sections (exclusions, severity, inhibit_rules, noise,
 * time_intervals) of one config. Immutable: any number of threads may
 * evaluate one; reload builds a new one and swaps it (rules_live_t). */
typedef struct ruleset ruleset_t;

/* Warnings (a rule without owner or end, a rule matching every alert) go
 * to `warn` as "FILE:LINE:COL: warning: ..." lines; they do not fail. */
typedef void (*rules_warn_fn)(void *ctx, const char *msg);

/* Compiles conf's rule sections (conf->path prefixes errors). On error
 * returns QERR_INVALID with "FILE:LINE:COL: message". `conf` may be freed
 * afterwards: the rule set copies what it keeps. */
qerr_t ruleset_compile(const conf_t *conf, rules_warn_fn warn, void *warn_ctx, ruleset_t **out,
                       char *errbuf, size_t errlen);
void ruleset_destroy(ruleset_t *rs); /* NULL-safe */
/* Unique per compiled set in this process (caches key on it). */
uint64_t ruleset_generation(const ruleset_t *rs);
size_t ruleset_exclusion_count(const ruleset_t *rs);
size_t ruleset_inhibit_count(const ruleset_t *rs);
/* The noise section (all zero: off), owned by the rule set. */
const dedup_noise_t *ruleset_noise(const ruleset_t *rs);

/* What the label-and-time rules say about one alert. */
typedef struct {
    bool suppress;
    decision_kind_t kind; /* DECISION_SUPPRESS_EXCLUDED or _SEVERITY when suppress */
    const char *rule;     /* the exclusion's name; owned by the rule set */
    uint32_t rule_index;  /* the exclusion's position in the file */
    uint8_t severity;     /* 1..5 (SEV1..SEV5), 0 = unknown */
} rules_verdict_t;

/* Pure: exclusions (first match in file order that is active at now_ms),
 * then the severity table. Thread-safe. */
void ruleset_eval(const ruleset_t *rs, const label_t *labels, uint32_t n_labels, int64_t now_ms,
                  rules_verdict_t *out);

/* A per-thread cache of the label-only part of the evaluation (which
 * exclusions' matchers match, the severity), keyed by a hash of all the
 * labels (the fingerprint when it covers all labels) and the rule set's
 * generation: a flood of one alert is matched once. Direct-mapped; owned by
 * one thread. */
typedef struct rules_cache rules_cache_t;
rules_cache_t *rules_cache_new(size_t entries); /* rounded up to a power of two */
void rules_cache_destroy(rules_cache_t *c);
/* Owner thread: asks for label_key's cache line, an evaluation ahead. */
void rules_cache_prefetch(const rules_cache_t *c, uint64_t label_key);
void ruleset_eval_cached(const ruleset_t *rs, rules_cache_t *c, uint64_t label_key,
                         const label_t *labels, uint32_t n_labels, int64_t now_ms,
                         rules_verdict_t *out);

/* Writes, for `quell explain`, every rule the alert matches and why. */
void ruleset_explain(const ruleset_t *rs, const label_t *labels, uint32_t n_labels, int64_t now_ms,
                     FILE *out);

/* ---- the composed decision -------------------------------------------- */

/* Which inhibition sources are firing, shared by every worker of a process
 * (a source and its targets may live on different workers). Lock-free:
 * open addressing with atomic slots; keyed by (rule name, values of the
 * `equal` labels), so it survives reloads that keep a rule's name. In
 * memory, saved with the dedup snapshot (every snapshot_interval and at a
 * clean stop), so a restart, after a crash too, knows its sources. */
typedef struct inhibit_state inhibit_state_t;
inhibit_state_t *inhibit_state_new(size_t slots); /* rounded up to a power of two */
void inhibit_state_destroy(inhibit_state_t *s);
uint64_t inhibit_state_dropped(const inhibit_state_t *s); /* sources not stored: table full */
/* Firing sources across a restart (beside the dedup snapshot), so
 * inhibitors are known before the first target is decided. Workers may run
 * meanwhile; a missing file loads nothing. Atomic (temp file + rename). */
qerr_t inhibit_state_save(inhibit_state_t *s, const char *path, char *errbuf, size_t errlen);
qerr_t inhibit_state_load(inhibit_state_t *s, const char *path, uint64_t *loaded, char *errbuf,
                          size_t errlen);

/* Shared mode (store.url is Redis): the firing sources of every instance
 * meet in one Redis hash, `PREFIX + "inhibit"`, one field per (rule,
 * values of the equal labels), so a source seen by one instance inhibits
 * targets decided by another. Each half of a slot (source-only, both
 * sides) carries the event time of its last change; merging keeps the
 * newer. */
typedef struct {
    uint64_t key;
    int64_t at_src, until_src;
    uint64_t fp_src;
    int64_t at_both, until_both;
    uint64_t fp_both;
} inhibit_wire_t;
#define INHIBIT_WIRE_BYTES 64 /* the record plus the wall clock of its last push */
/* Before any worker runs: from now on changes are marked for a push. */
void inhibit_state_share(inhibit_state_t *s);
/* Slots changed since last taken, from *cursor on (start at 0; done when
 * it returns less than cap). One thread (the sync thread). */
size_t inhibit_state_take_dirty(inhibit_state_t *s, size_t *cursor, inhibit_wire_t *out,
                                size_t cap);
/* Folds another instance's record in (newer change per half wins). */
void inhibit_state_merge(inhibit_state_t *s, const inhibit_wire_t *w);

/* The sync: at start, reads what Redis has (so inhibitors are known before
 * the first target is decided, also after a crash), then a thread pushes
 * local changes every push_ms and reads every instance's every pull_ms
 * (one HGETALL: the hash holds only firing sources, not fingerprints).
 * Fields no instance pushed for `sc->ttl_ms` (wall clock) are pruned; the hash itself expires after
 * ttl_ms without writes. Redis away: logged once, each instance goes on with what it knows and
 * catches up. */
typedef struct inhibit_sync inhibit_sync_t;
inhibit_sync_t *inhibit_sync_new(inhibit_state_t *s, const store_conf_t *sc, int64_t push_ms,
                                 int64_t pull_ms);
/* One push then one pull, on the caller's thread (before the thread runs,
 * or in tests). QERR_IO when Redis did not answer. */
qerr_t inhibit_sync_now(inhibit_sync_t *y);
qerr_t inhibit_sync_run(inhibit_sync_t *y); /* starts the thread */
/* Stops the thread after a last push. NULL-safe. */
void inhibit_sync_destroy(inhibit_sync_t *y);
typedef struct {
    uint64_t pushes, pulls, errors;
    uint64_t fields; /* sources in Redis at the last pull */
} inhibit_sync_stats_t;
void inhibit_sync_stats(inhibit_sync_t *y, inhibit_sync_stats_t *out);

/* Per worker (or per replay): the decision core that both the dedup worker
 * and `quell replay` run, so they cannot disagree:
 *   1. inhibition sources are recorded (a suppressed alert still inhibits,
 *      like a silenced one in Alertmanager);
 *   2. rules: excluded, severity dropped, inhibited -> suppressed;
 *   3. dedup_decide (dedup/window.c) on the worker's table;
 *   4. noise: flapping (held while it flips, one `flapped` incident once
 *      stable), transient (min_count / min_duration before the first
 *      forward).
 * Pure apart from the state it is handed: same alerts in the same order
 * with the same rule set give the same decisions. Owned by one thread. */
typedef struct decider decider_t;

typedef struct {
    dedup_params_t dedup;
    bool fingerprint_covers_labels; /* the fingerprint hashes every label: it keys the
                                       rule cache; otherwise a hash of all labels does */
    size_t cache_entries;           /* rule cache; 0 = no cache */
    size_t noise_entries;           /* noise state slots (allocated on first use) */
} decider_opts_t;

/* `table` stays owned by the caller (the worker); `inhibit` may be NULL
 * (then inhibit rules never match) and is shared. */
decider_t *decider_new(const decider_opts_t *opts, dedup_table_t *table, inhibit_state_t *inhibit);
void decider_destroy(decider_t *d);
/* Silences are judged at the wall clock (`quell run`, like Alertmanager)
 * instead of the alert's event time (replay, the default). Before use. */
void decider_silence_wall_clock(decider_t *d, bool wall);
/* Per-alert dedup window (a route's dedup_window): `fn` returns it, or 0
 * for opts->dedup.window_ms. Called on the decider's thread. The table's
 * keep (dedup_table_set_keep) must cover every window it returns. Set
 * before the first decision. */
typedef int64_t (*decider_window_fn)(void *ctx, const alert_t *a);
void decider_set_window(decider_t *d, decider_window_fn fn, void *ctx);
/* Decider's thread: asks for the cache lines decider_decide() of an alert
 * with this fingerprint will read first, a decision ahead (see
 * dedup_table_prefetch for `deep`). A hint: nothing changes. */
void decider_prefetch(const decider_t *d, uint64_t fingerprint, bool deep);
/* Decides one alert at its event time. `rs` may be NULL (no rules). */
decision_kind_t decider_decide(decider_t *d, const ruleset_t *rs, const alert_t *a,
                               incident_t *out);

/* The rule half alone (steps 1 and 2), for the shared-store mode where the
 * store decides dedup: true when a rule suppresses the alert (`out`
 * filled); else false with out->severity set. */
bool decider_rules(decider_t *d, const ruleset_t *rs, const alert_t *a, incident_t *out);

/* The reason string of a decision: "new", "repeat", "resolved",
 * "duplicate", "excluded:<rule>", "silenced:<silence id>", "flapping", "transient",
 * "inhibited:<rule>", "severity". Writes into buf. */
const char *decision_reason(const incident_t *inc, char *buf, size_t cap);

/* ---- reload ------------------------------------------------------------ */

typedef struct rules_reloader rules_reloader_t;

/* The live rule set: workers read it per alert, reload swaps it. A worker
 * sees the old or the new set for a whole alert, never a mix; the old set
 * is freed only once no worker still holds it (hazard slot per reader). */
typedef struct rules_live rules_live_t;
rules_live_t *rules_live_new(ruleset_t *initial, size_t n_readers); /* takes `initial` */
void rules_live_destroy(rules_live_t *l); /* frees the current set; no reader may be active */
/* Reader `r` (its own slot, one thread): the set to use until leave. */
const ruleset_t *rules_live_enter(rules_live_t *l, size_t r);
void rules_live_leave(rules_live_t *l, size_t r);
/* Any one thread at a time: installs `next` (taking it), waits until no
 * reader holds the old set, frees it. */
void rules_live_swap(rules_live_t *l, ruleset_t *next);
uint64_t rules_live_generation(rules_live_t *l);
/* Any thread, for rare readers such as a metrics scrape: one extra slot
 * guarded by a mutex. */
const ruleset_t *rules_live_enter_any(rules_live_t *l);
void rules_live_leave_any(rules_live_t *l);

/* Metrics. Samples of `family` (quell_decisions_total) per rule:
 * decision="suppress", reason="excluded:<name>" / "inhibited:<name>"
 * (cardinality bounded by the config). Any thread. */
void rules_metrics_reasons(rules_live_t *l, mbuf_t *b, const char *family);
/* quell_rules_generation, quell_rules{kind}, quell_regex_match_limit_total,
 * quell_inhibit_sources_dropped_total. Reloads are counted in ops'
 * quell_config_reloads_total. `r`, `inh` may be NULL. */
void rules_metrics_write(rules_live_t *l, rules_reloader_t *r, inhibit_state_t *inh, mbuf_t *b);

/* The rest of a reload, for sections dedup does not own (the routing,
 * app/pipeline.c): `prepare` compiles them from the loaded config into
 * *out (QERR_INVALID with "FILE:LINE:COL: message" refuses the whole
 * reload: neither rules nor these change; prepare runs after the rules
 * compiled, so a prepared *out is always committed); `commit` publishes
 * *out once the rules are swapped in and takes ownership. Reload
 * thread. */
typedef struct {
    qerr_t (*prepare)(void *ctx, const conf_t *c, void **out, char *errbuf, size_t errlen);
    void (*commit)(void *ctx, void *prepared);
    void *ctx;
} reload_hook_t;

/* Loads `path`, compiles its rule sections (and the hook's, when `hook`
 * is not NULL) and swaps them in. On error (invalid file) nothing changes
 * and errbuf says why. */
qerr_t rules_reload_now(rules_live_t *live, const char *path, char *errbuf, size_t errlen);
qerr_t rules_reload_with(rules_live_t *live, const char *path, const reload_hook_t *hook,
                         char *errbuf, size_t errlen);

/* A thread that reloads when *request is set (e.g. by a SIGHUP handler;
 * may be NULL) or when the file's mtime/size changes, every poll_ms.
 * `hook` (copied; may be NULL) reloads more than the rules. */
rules_reloader_t *rules_reloader_start(rules_live_t *live, const char *path, int64_t poll_ms,
                                       _Atomic bool *request, const reload_hook_t *hook);
void rules_reloader_stop(rules_reloader_t *r); /* NULL-safe */
void rules_reloader_counts(rules_reloader_t *r, uint64_t *reloads, uint64_t *failures);

/* The worker decides with the rules: per alert, reader `reader`'s view of
 * `live`, then `d` (built over dedup_worker_table(w)) in memory mode; per
 * batch, the rule half before the shared store in store mode. The worker
 * keeps neither; both must outlive it. Before dedup_worker_start. */
void dedup_worker_use_rules(dedup_worker_t *w, rules_live_t *live, decider_t *d, size_t reader);

#endif
