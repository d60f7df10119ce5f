/*
 * The composed decision: rules, then the window (decision.c), then noise —
 * the one function the dedup worker, `quell replay` and `quell explain`
 * call. The inhibition state it reads is inhibit.c's.
 *
 * State it is handed, and who owns it:
 *   - the dedup table: the worker's (one thread);
 *   - the rule cache and the noise table: this decider's (one thread);
 *     fingerprints are sharded to workers, so a fingerprint's noise state
 *     is always on the worker that decides it;
 *   - the inhibition state: shared by all workers, lock-free (below).
 *
 * Noise semantics are dedup_noise_apply's (dedup.h); here the state lives
 * in this decider's noise table, in shared-store mode in the Redis entry.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "dedup.h"
#include "rules_int.h"

/* ---- noise table ------------------------------------------------------ */

#define NOISE_FIRST_SLOTS 4096

typedef struct {
    uint64_t fp; /* 0 = empty */
    dedup_noise_state_t st;
} noise_slot_t;

struct decider {
    decider_opts_t o;
    dedup_table_t *table;
    inhibit_state_t *inhibit;
    rules_cache_t *cache;
    noise_slot_t *noise;
    size_t noise_mask, noise_used;
    size_t noise_cap; /* slots the noise table may grow to (noise_entries, rounded up) */
    bool silence_wall_clock;
    decider_window_fn window_for; /* NULL: o.dedup.window_ms for every alert */
    void *window_ctx;
};

void decider_silence_wall_clock(decider_t *d, bool wall) { d->silence_wall_clock = wall; }

void decider_set_window(decider_t *d, decider_window_fn fn, void *ctx)
{
    d->window_for = fn;
    d->window_ctx = ctx;
}

decider_t *decider_new(const decider_opts_t *opts, dedup_table_t *table, inhibit_state_t *inhibit)
{
    decider_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->o = *opts;
    d->table = table;
    d->inhibit = inhibit;
    d->noise_cap = NOISE_FIRST_SLOTS;
    while (d->noise_cap < opts->noise_entries) d->noise_cap *= 2;
    if (opts->cache_entries && !(d->cache = rules_cache_new(opts->cache_entries))) {
        free(d);
        return NULL;
    }
    return d;
}

void decider_destroy(decider_t *d)
{
    if (!d) return;
    rules_cache_destroy(d->cache);
    free(d->noise);
    free(d);
}

/* The noise table: open addressing, a fingerprint in one of NOISE_PROBES
 * slots from its home. It starts small and doubles while more than half
 * full, up to the first power of two >= noise_entries, so memory follows the
 * fingerprints that use noise control (20,000 of them take 2 MiB, not the
 * 64 MiB a table sized for a million did, touched page by page). At the
 * cap, a fingerprint whose probe window is full restarts the state in its
 * home slot (it is then treated as new to noise control). The window is
 * 32 slots: with 8, linear probing's clusters filled some new
 * fingerprint's window while the table was 15-36% full, and each time it
 * doubled (launch-day: 40,084 fingerprints in 524,288 slots, 16 MiB, the
 * dedup thread's largest source of page faults; the same keys fit in
 * 131,072 with 32). Slots are never emptied, so a lookup stops at the
 * first empty one: a missing fingerprint costs no more than before. */
#define NOISE_PROBES 32

static size_t noise_home(uint64_t key, size_t mask)
{
    return (size_t)(key * 0x9E3779B97F4A7C15ull >> 17) & mask;
}

static bool noise_grow(decider_t *d, size_t slots)
{
    noise_slot_t *nv = calloc(slots, sizeof *nv);
    if (!nv) return false;
    size_t mask = slots - 1, used = 0;
    for (size_t i = 0; d->noise && i <= d->noise_mask; i++) {
        if (!d->noise[i].fp) continue;
        size_t h = noise_home(d->noise[i].fp, mask);
        for (size_t p = 0; p < NOISE_PROBES; p++)
            if (!nv[(h + p) & mask].fp) {
                nv[(h + p) & mask] = d->noise[i];
                used++;
                break;
            }
    }
    free(d->noise);
    d->noise = nv;
    d->noise_mask = mask;
    d->noise_used = used;
    return true;
}

void decider_prefetch(const decider_t *d, uint64_t fp, bool deep)
{
    dedup_table_prefetch(d->table, fp, deep);
    if (deep) return;
    /* Keyed by the fingerprint only when it covers every label; else by a
     * hash of the labels, which is not known here. */
    if (d->o.fingerprint_covers_labels) rules_cache_prefetch(d->cache, fp);
    if (d->noise) __builtin_prefetch(&d->noise[noise_home(fp ? fp : 1, d->noise_mask)], 1, 3);
}

static noise_slot_t *noise_slot(decider_t *d, uint64_t fp)
{
    uint64_t key = fp ? fp : 1; /* 0 marks an empty slot */
    size_t cap = d->noise_cap;
    if (!d->noise && !noise_grow(d, NOISE_FIRST_SLOTS)) return NULL;
    for (;;) {
        size_t slots = d->noise_mask + 1, h = noise_home(key, d->noise_mask);
        noise_slot_t *empty = NULL;
        for (size_t p = 0; p < NOISE_PROBES; p++) {
            noise_slot_t *s = &d->noise[(h + p) & d->noise_mask];
            if (s->fp == key) return s;
            if (!s->fp) {
                empty = s; /* placed in the first empty slot, so not further on */
                break;
            }
        }
        if ((!empty || d->noise_used * 2 >= slots) && slots < cap && noise_grow(d, slots * 2))
            continue;
        noise_slot_t *s = empty ? empty : &d->noise[h];
        if (empty) d->noise_used++;
        memset(s, 0, sizeof *s);
        s->fp = key;
        return s;
    }
}

static void fill_suppressed(incident_t *out, const alert_t *a, decision_kind_t k, const char *rule,
                            uint8_t sev)
{
    memset(out, 0, sizeof *out);
    out->kind = k;
    out->fingerprint = a->fingerprint;
    out->incident_id = a->fingerprint;
    out->first_seen_ms = out->last_seen_ms = a->event_time_ms;
    out->rule = rule;
    out->severity = sev;
}

bool decider_rules(decider_t *d, const ruleset_t *rs, const alert_t *a, incident_t *out)
{
    int64_t now = a->event_time_ms;
    memset(out, 0, sizeof *out);
    if (!rs) return false;
    /* 1. inhibition sources, whatever becomes of the alert itself */
    for (size_t i = 0; d->inhibit && i < rs->n_inh; i++) {
        const inhibit_rule_t *r = &rs->inh[i];
        if (!matcher_set_matches(r->src, a->labels, a->n_labels)) continue;
        inhibit_state_source(d->inhibit, r, a, matcher_set_matches(r->tgt, a->labels, a->n_labels),
                             now, d->o.dedup.window_ms);
    }
    /* 2. exclusions and severity (cached), then inhibition */
    rules_verdict_t v;
    uint64_t key = a->fingerprint;
    if (!d->o.fingerprint_covers_labels) {
        key = 0x51u;
        for (uint32_t i = 0; i < a->n_labels; i++) {
            key = XXH3_64bits_withSeed(a->labels[i].name.ptr, a->labels[i].name.len, key);
            key = XXH3_64bits_withSeed(a->labels[i].value.ptr, a->labels[i].value.len, ~key);
        }
    }
    ruleset_eval_cached(rs, d->cache, key, a->labels, a->n_labels, now, &v);
    out->severity = v.severity;
    /* Silences: run-time exclusions, after the config's own (which name
     * the rule first when both match). The wall clock when live, like
     * Alertmanager: an alert decided after the silence was set is silenced
     * whatever its event time. */
    if (silences_count(rs->silences) && !(v.suppress && v.kind == DECISION_SUPPRESS_EXCLUDED)) {
        int64_t snow = d->silence_wall_clock ? clock_wall_ms() : now;
        const char *sid = silences_match(rs->silences, a->labels, a->n_labels, snow);
        if (sid) {
            fill_suppressed(out, a, DECISION_SUPPRESS_EXCLUDED, sid, v.severity);
            out->silenced = true;
            return true;
        }
    }
    if (v.suppress) {
        if (v.kind == DECISION_SUPPRESS_EXCLUDED) /* the rule set's one mutable field */
            atomic_fetch_add_explicit(&((exclusion_t *)&rs->ex[v.rule_index])->hits, 1,
                                      memory_order_relaxed);
        fill_suppressed(out, a, v.kind, v.rule, v.severity);
        return true;
    }
    for (size_t i = 0; d->inhibit && i < rs->n_inh; i++) {
        const inhibit_rule_t *r = &rs->inh[i];
        if (!matcher_set_matches(r->tgt, a->labels, a->n_labels)) continue;
        if (inhibit_state_mutes(d->inhibit, r, a,
                                matcher_set_matches(r->src, a->labels, a->n_labels), now)) {
            atomic_fetch_add_explicit(&((inhibit_rule_t *)r)->hits, 1, memory_order_relaxed);
            fill_suppressed(out, a, DECISION_SUPPRESS_INHIBITED, r->name, v.severity);
            return true;
        }
    }
    return false;
}

decision_kind_t decider_decide(decider_t *d, const ruleset_t *rs, const alert_t *a, incident_t *out)
{
    int64_t now = a->event_time_ms;
    if (decider_rules(d, rs, a, out)) return out->kind;
    uint8_t sev = out->severity;
    /* 3. dedup, with the alert's route's window when it has one */
    dedup_params_t p = d->o.dedup;
    if (d->window_for) {
        int64_t w = d->window_for(d->window_ctx, a);
        if (w > 0) p.window_ms = w;
    }
    decision_kind_t k =
        dedup_decide(d->table, &p, a->fingerprint, a->status, now, a->watermark_ms, out);
    out->severity = sev;
    out->rule = NULL;
    if (!rs) return k;
    /* 4. noise (dedup's pure core: the shared store runs the same) */
    const noise_params_t *np = &rs->noise;
    if (!dedup_noise_on(np)) return k;
    noise_slot_t *sl = noise_slot(d, a->fingerprint);
    if (!sl) return k; /* no memory for noise state: fail open */
    return dedup_noise_apply(&sl->st, np, a->status, now, k, out);
}

const char *decision_reason(const incident_t *inc, char *buf, size_t cap)
{
    switch (inc->kind) {
    case DECISION_FORWARD_NEW: return "new";
    case DECISION_FORWARD_REPEAT: return "repeat";
    case DECISION_FORWARD_RESOLVED:
    case DECISION_SUPPRESS_RESOLVED_NO_INCIDENT: return "resolved";
    case DECISION_SUPPRESS_DUPLICATE: return "duplicate";
    case DECISION_SUPPRESS_EXCLUDED:
        snprintf(buf, cap, "%s:%s", inc->silenced ? "silenced" : "excluded",
                 inc->rule ? inc->rule : "");
        return buf;
    case DECISION_SUPPRESS_INHIBITED:
        snprintf(buf, cap, "inhibited:%s", inc->rule ? inc->rule : "");
        return buf;
    case DECISION_SUPPRESS_FLAPPING: return "flapping";
    case DECISION_SUPPRESS_TRANSIENT: return "transient";
    case DECISION_SUPPRESS_SEVERITY: return "severity";
    default: return "unknown";
    }
}

/* ---- live rule set ------------------------------------------------------ */

typedef struct {
    _Alignas(CACHELINE) _Atomic(const ruleset_t *) held;
} live_slot_t;

struct rules_live {
    _Atomic(ruleset_t *) current;
    size_t n; /* readers; slot n is the shared one */
    live_slot_t *slots;
    pthread_mutex_t any; /* guards slot n */
    /* Writers (reload, the silencer) one at a time, so a reload keeps the
     * silences and a silence change keeps the reloaded rules. Never taken
     * by a reader. */
    pthread_mutex_t writer;
    silences_t *silences; /* carried into every new generation */
};

rules_live_t *rules_live_new(ruleset_t *initial, size_t n_readers)
{
    rules_live_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->slots = aligned_alloc(CACHELINE, (n_readers + 1) * sizeof *l->slots);
    if (!l->slots) {
        free(l);
        return NULL;
    }
    for (size_t i = 0; i <= n_readers; i++) atomic_init(&l->slots[i].held, NULL);
    pthread_mutex_init(&l->any, NULL);
    pthread_mutex_init(&l->writer, NULL);
    l->n = n_readers;
    atomic_init(&l->current, initial);
    return l;
}

void rules_live_destroy(rules_live_t *l)
{
    if (!l) return;
    ruleset_destroy(atomic_load(&l->current));
    silences_release(l->silences);
    pthread_mutex_destroy(&l->any);
    pthread_mutex_destroy(&l->writer);
    free(l->slots);
    free(l);
}

const ruleset_t *rules_live_enter(rules_live_t *l, size_t r)
{
    for (;;) {
        ruleset_t *p = atomic_load_explicit(&l->current, memory_order_acquire);
        atomic_store_explicit(&l->slots[r].held, p, memory_order_seq_cst);
        /* Re-check: a swap between the load and the publication would
         * otherwise free what this reader is about to use. */
        if (atomic_load_explicit(&l->current, memory_order_seq_cst) == p) return p;
    }
}

void rules_live_leave(rules_live_t *l, size_t r)
{
    atomic_store_explicit(&l->slots[r].held, NULL, memory_order_release);
}

static void swap_locked(rules_live_t *l, ruleset_t *next)
{
    ruleset_t *old = atomic_exchange_explicit(&l->current, next, memory_order_seq_cst);
    for (size_t i = 0; i <= l->n; i++) {
        while (atomic_load_explicit(&l->slots[i].held, memory_order_seq_cst) == old) {
            struct timespec ts = {0, 100000}; /* a reader holds it for one alert */
            nanosleep(&ts, NULL);
        }
    }
    ruleset_carry_hits(old, next);
    ruleset_destroy(old);
}

void rules_live_swap(rules_live_t *l, ruleset_t *next)
{
    pthread_mutex_lock(&l->writer);
    if (next && !next->silences) next->silences = silences_ref(l->silences);
    swap_locked(l, next);
    pthread_mutex_unlock(&l->writer);
}

void rules_live_set_silences(rules_live_t *l, silences_t *s)
{
    pthread_mutex_lock(&l->writer);
    silences_release(l->silences);
    l->silences = silences_ref(s);
    ruleset_t *cur = atomic_load(&l->current);
    ruleset_t *next = cur ? ruleset_share(cur) : NULL;
    if (next) {
        next->silences = silences_ref(s);
        swap_locked(l, next);
    } else if (cur) {
        log_error("rules", "out of memory publishing silences");
    }
    pthread_mutex_unlock(&l->writer);
}

silences_t *rules_live_silences(rules_live_t *l)
{
    pthread_mutex_lock(&l->writer);
    silences_t *s = silences_ref(l->silences);
    pthread_mutex_unlock(&l->writer);
    return s;
}

const ruleset_t *rules_live_enter_any(rules_live_t *l)
{
    pthread_mutex_lock(&l->any);
    return rules_live_enter(l, l->n);
}

void rules_live_leave_any(rules_live_t *l)
{
    rules_live_leave(l, l->n);
    pthread_mutex_unlock(&l->any);
}

void rules_metrics_reasons(rules_live_t *l, mbuf_t *b, const char *family)
{
    const ruleset_t *rs = rules_live_enter_any(l);
    char reason[600];
    for (size_t i = 0; rs && i < rs->n_ex; i++) {
        snprintf(reason, sizeof reason, "excluded:%s", rs->ex[i].name);
        metrics_sample(b, family,
                       (double)atomic_load_explicit(&rs->ex[i].hits, memory_order_relaxed), 2,
                       "decision", "suppress", "reason", reason);
    }
    for (size_t i = 0; rs && i < rs->n_inh; i++) {
        snprintf(reason, sizeof reason, "inhibited:%s", rs->inh[i].name);
        metrics_sample(b, family,
                       (double)atomic_load_explicit(&rs->inh[i].hits, memory_order_relaxed), 2,
                       "decision", "suppress", "reason", reason);
    }
    if (rs) silences_metrics_reasons(rs->silences, b, family);
    rules_live_leave_any(l);
}

void rules_metrics_write(rules_live_t *l, rules_reloader_t *r, inhibit_state_t *inh, mbuf_t *b)
{
    (void)r; /* reloads are counted in quell_config_reloads_total (metrics_note_reload) */
    const ruleset_t *rs = rules_live_enter_any(l);
    metrics_family(b, "quell_rules_generation", "gauge",
                   "Generation of the live rule set (changes on every successful reload).");
    metrics_sample(b, "quell_rules_generation", rs ? (double)rs->generation : 0, 0);
    metrics_family(b, "quell_rules", "gauge", "Rules in the live rule set, by kind.");
    metrics_sample(b, "quell_rules", rs ? (double)rs->n_ex : 0, 1, "kind", "exclusion");
    metrics_sample(b, "quell_rules", rs ? (double)rs->n_inh : 0, 1, "kind", "inhibit");
    rules_live_leave_any(l);
    metrics_family(b, "quell_regex_match_limit_total", "counter",
                   "Regex matches cut off by the PCRE2 match limit (counted as not matching).");
    metrics_sample(b, "quell_regex_match_limit_total", (double)matcher_regex_limit_hits(), 0);
    metrics_family(b, "quell_inhibit_sources_dropped_total", "counter",
                   "Firing inhibition sources not recorded because the shared table was full.");
    metrics_sample(b, "quell_inhibit_sources_dropped_total", (double)inhibit_state_dropped(inh), 0);
}

uint64_t rules_live_generation(rules_live_t *l)
{
    ruleset_t *p = atomic_load_explicit(&l->current, memory_order_acquire);
    return p ? ruleset_generation(p) : 0;
}
