/*
 * `quell suggest`: reads recorded traffic, finds the noisiest groups and
 * proposes rules in the config's own syntax (a YAML file `quell check`
 * accepts and `quell replay --candidate` takes). See docs/tuning.md.
 *
 * How it decides, generically (nothing here knows a data set):
 *   1. every alert is kept in memory with its labels; alerts are grouped
 *      into families by alert name with ids normalised (id_normalize);
 *   2. the current config decides them all (the decider replay and the
 *      workers run): incidents per family;
 *   3. proposals, each kept only when it passes the evaluation below:
 *      - severity: a severity.map for numeric priorities (1 = most severe,
 *        as IDS and ticketing priorities count; the highest when some are
 *        over 7, as Wazuh's and OSSEC's levels and risk scores count) the
 *        current rules do not rank, so replay lists critical changes
 *        first;
 *      - grouping: a family whose name carries ids (several raw names)
 *        folds to one fingerprint per normalised name; a family firing
 *        with many label sets (one name on many hosts) folds by name and
 *        severity;
 *      - noise: flapping when status flips are common, min_duration when
 *        most incidents resolve within minutes (never min_count: it hides
 *        the one-off alert a new attack or outage starts with);
 *      - dedup.window/repeat_interval: the shortest step of a fixed ladder
 *        that reaches --target alerts per incident;
 *      - exclusions (with --exclusions): low-severity families that are
 *        a large share of all alerts, with owner and an expiry.
 *   4. evaluation: the candidate config runs through the same decider; a
 *      grouping or noise proposal that would leave a family that opens an
 *      incident today with none is dropped. Exclusions hide families on
 *      purpose and are opt-in.
 * Output is a function of the input bytes and flags: no clock is read
 * (expiries count from the last recorded event).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../dedup/dedup.h"
#include "recorded.h"
#include "tuning.h"

/* ---- a growable text buffer -------------------------------------------- */

typedef struct {
    char *s;
    size_t n, cap;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + (size_t)k + 1) nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) return;
        b->s = ns;
        b->cap = nc;
    }
}

/* ---- string interning ---------------------------------------------------- */

typedef struct {
    char **v;
    size_t n, cap;
    uint32_t *slots; /* id + 1; 0 = empty */
    size_t mask;
} intern_t;

static uint64_t str_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static uint32_t intern(intern_t *t, const char *s, size_t len)
{
    if (t->n * 2 >= t->mask) {
        size_t nm = t->mask ? (t->mask + 1) * 2 : 1024;
        uint32_t *ns = calloc(nm, sizeof *ns);
        if (!ns) return UINT32_MAX;
        for (size_t i = 0; i < t->n; i++) {
            size_t p = str_hash(t->v[i], strlen(t->v[i])) & (nm - 1);
            while (ns[p]) p = (p + 1) & (nm - 1);
            ns[p] = (uint32_t)i + 1;
        }
        free(t->slots);
        t->slots = ns;
        t->mask = nm - 1;
    }
    size_t p = str_hash(s, len) & t->mask;
    while (t->slots[p]) {
        const char *x = t->v[t->slots[p] - 1];
        if (strlen(x) == len && !memcmp(x, s, len)) return t->slots[p] - 1;
        p = (p + 1) & t->mask;
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        char **nv = realloc(t->v, nc * sizeof *nv);
        if (!nv) return UINT32_MAX;
        t->v = nv;
        t->cap = nc;
    }
    if (!(t->v[t->n] = strndup(s, len))) return UINT32_MAX;
    t->slots[p] = (uint32_t)t->n + 1;
    return (uint32_t)t->n++;
}

static void intern_free(intern_t *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->v[i]);
    free(t->v);
    free(t->slots);
}

/* ---- recorded alerts ----------------------------------------------------- */

typedef struct {
    label_t *labels;
    uint32_t n_labels;
    alert_status_t status;
    int64_t t;
    uint32_t family;    /* normalised alert name */
    uint32_t raw_name;  /* alert name as written */
    uint32_t sev_value; /* interned value of the severity label ("" if none) */
    uint64_t fp;        /* the current config's fingerprint */
} rec_t;

typedef struct {
    uint64_t alerts, label_sets, raw_names, incidents_now, resolved;
    uint8_t worst_sev, best_sev; /* current ranking, 0 = unknown */
    int64_t first_ms, last_ms;
    uint64_t flip_fps_alerts; /* alerts of label sets that flip often */
} family_t;

typedef struct {
    conf_t base;
    const char *base_path; /* NULL: defaults */
    char *base_text;       /* the base file, copied into the output */
    ruleset_t *base_rs;
    dedup_fp_conf_t base_fpc;
    fp_grouping_t *base_grouping;
    arena_t arena;
    rec_t *recs;
    size_t n, cap;
    intern_t names, families, sev_values;
    const char *sev_label; /* the label severities are read from */
    family_t *fam;
    /* Per (family, label name): whether the label has one value on every
     * alert of the family. Such labels go into a fold's `by`: they cost no
     * folding and keep, say, a category new to a phase apart. */
    intern_t label_names;
    struct fl_slot {
        uint64_t key; /* family << 32 | name id, + 1; 0 = empty */
        uint64_t value_hash;
        uint64_t count;
        bool varies;
    } * fl;
    size_t fl_mask, fl_n;
    recorded_t *reader;
} suggest_t;

static void keep_alert(void *ctx, alert_t *a)
{
    suggest_t *s = ctx;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4096;
        rec_t *nv = realloc(s->recs, nc * sizeof *nv);
        if (!nv) return;
        s->recs = nv;
        s->cap = nc;
    }
    rec_t *r = &s->recs[s->n];
    r->labels = arena_alloc(&s->arena, a->n_labels * sizeof *r->labels);
    if (!r->labels) return;
    const char *name = "";
    size_t name_len = 0;
    const char *sev = "";
    size_t sev_len = 0;
    for (uint32_t i = 0; i < a->n_labels; i++) {
        const label_t *l = &a->labels[i];
        char *nn = arena_strndup(&s->arena, l->name.ptr, l->name.len);
        char *nv = arena_strndup(&s->arena, l->value.ptr, l->value.len);
        if (!nn || !nv) return;
        r->labels[i] = (label_t){{nn, l->name.len}, {nv, l->value.len}};
        if (l->name.len == 9 && !memcmp(nn, "alertname", 9)) name = nv, name_len = l->value.len;
        if (l->name.len == strlen(s->sev_label) && !memcmp(nn, s->sev_label, l->name.len))
            sev = nv, sev_len = l->value.len;
    }
    r->n_labels = a->n_labels;
    r->status = a->status;
    r->t = a->event_time_ms;
    r->raw_name = intern(&s->names, name, name_len);
    char small[1024];
    size_t need = id_normalize(name, name_len, small, sizeof small);
    r->family = intern(&s->families, small, need < sizeof small ? need : sizeof small - 1);
    r->sev_value = intern(&s->sev_values, sev, sev_len);
    r->fp = dedup_fingerprint(&s->base_fpc, r->labels, r->n_labels);
    if (r->raw_name == UINT32_MAX || r->family == UINT32_MAX || r->sev_value == UINT32_MAX) return;
    s->n++;
}

/* ---- evaluation ---------------------------------------------------------- */

typedef struct {
    uint64_t forwarded;
    uint64_t *fam_forwarded; /* per family */
} eval_t;

static void warn_drop(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

/* Runs every kept alert through the decider with `conf`'s rules and
 * fingerprint. 0, or -1 with the reason on stderr. */
static int evaluate(const suggest_t *s, const conf_t *conf, eval_t *out)
{
    char err[1024];
    ruleset_t *rs = NULL;
    fp_grouping_t *g = NULL;
    dedup_table_t *table = NULL;
    inhibit_state_t *inh = NULL;
    decider_t *d = NULL;
    int rc = -1;
    memset(out->fam_forwarded, 0, s->families.n * sizeof *out->fam_forwarded);
    out->forwarded = 0;
    if (ruleset_compile(conf, warn_drop, NULL, &rs, err, sizeof err) != QERR_OK ||
        fp_grouping_compile(conf, NULL, NULL, &g, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "quell suggest: %s\n", err);
        goto out;
    }
    strlist_t only = conf->dedup.fingerprint_labels, ignore = conf->dedup.ignore_labels;
    dedup_fp_conf_t fpc;
    dedup_fp_conf_init(&fpc, conf->dedup.fingerprint, &only, &ignore);
    fp_grouping_attach(g, &fpc);
    table = dedup_table_new(conf->dedup.max_fingerprints);
    inh = inhibit_state_new(65536);
    decider_opts_t o = {
        .dedup = {conf->dedup.window_ms, conf->dedup.repeat_interval_ms},
        .fingerprint_covers_labels = false,
        .cache_entries = 65536,
        .noise_entries = conf->dedup.max_fingerprints,
    };
    if (!table || !inh || !(d = decider_new(&o, table, inh))) {
        fprintf(stderr, "quell suggest: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < s->n; i++) {
        const rec_t *r = &s->recs[i];
        alert_t a;
        memset(&a, 0, sizeof a);
        a.labels = r->labels;
        a.n_labels = r->n_labels;
        a.status = r->status;
        a.event_time_ms = a.watermark_ms = a.starts_at_ms = r->t;
        a.fingerprint = dedup_fingerprint_alert(&fpc, &a);
        incident_t inc;
        if (DECISION_IS_FORWARD(decider_decide(d, rs, &a, &inc))) {
            out->forwarded++;
            out->fam_forwarded[r->family]++;
        }
    }
    rc = 0;
out:
    decider_destroy(d);
    dedup_table_destroy(table);
    inhibit_state_destroy(inh);
    fp_grouping_destroy(g);
    ruleset_destroy(rs);
    return rc;
}

/* Loads base text + proposal text as one config and evaluates it. */
static int evaluate_text(const suggest_t *s, const char *text, size_t len, eval_t *out)
{
    conf_t c;
    char err[1024];
    conf_defaults(&c);
    int rc = -1;
    if (conf_load_buffer(&c, "<suggestion>", text, len, err, sizeof err) != QERR_OK)
        fprintf(stderr, "quell suggest: the proposal does not load (a bug): %s\n", err);
    else
        rc = evaluate(s, &c, out);
    conf_free(&c);
    return rc;
}

/* ---- proposals ----------------------------------------------------------- */

typedef struct {
    int64_t window_ms, repeat_ms;
    const char *window, *repeat;
} step_t;

static const step_t ladder[] = {
    {5 * 60000LL, 4 * 3600000LL, "5m", "4h"},     {15 * 60000LL, 4 * 3600000LL, "15m", "4h"},
    {30 * 60000LL, 8 * 3600000LL, "30m", "8h"},   {3600000LL, 12 * 3600000LL, "1h", "12h"},
    {2 * 3600000LL, 24 * 3600000LL, "2h", "24h"}, {4 * 3600000LL, 24 * 3600000LL, "4h", "24h"},
    {8 * 3600000LL, 48 * 3600000LL, "8h", "48h"}, {24 * 3600000LL, 7 * 86400000LL, "24h", "7d"},
};
#define N_STEPS (sizeof ladder / sizeof *ladder)

typedef struct {
    uint32_t family;
    bool ids; /* fold by normalised name (the raw names carry ids) */
} fold_t;

typedef struct {
    /* flags */
    double target;
    const char *owner;
    int64_t expires_ms;
    bool exclusions;
    size_t top;
    size_t id_variants, fold_min, max_rules;
    /* decisions */
    bool severity_map;
    fold_t *folds;
    size_t n_folds;
    bool fold_all; /* one catch-all rule instead of one per family */
    bool flapping, min_duration;
    int step;         /* -1 = leave dedup.* as it is */
    bool step_misses; /* the step gives fewest incidents but misses the target */
    uint32_t *excluded;
    size_t n_excluded;
    int64_t last_ms;
} plan_t;

static bool base_has(const suggest_t *s, const char *key)
{
    if (!s->base_text) return false;
    size_t kl = strlen(key);
    for (const char *p = s->base_text; p; p = strchr(p, '\n')) {
        if (*p == '\n') p++;
        if (!strncmp(p, key, kl) && p[kl] == ':') return true;
    }
    return false;
}

/* `s` as a YAML scalar: as it is when it is a plain word (secops,
 * team-a, ops@example.org), else double-quoted with escapes, so an owner
 * like "team: sec # ops" stays one value. */
static void sb_yaml_scalar(sbuf_t *b, const char *s)
{
    bool plain = isalnum((unsigned char)*s) || *s == '_';
    for (const char *p = s; plain && *p; p++)
        plain = isalnum((unsigned char)*p) || strchr("_.@/+-", *p);
    if (plain) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_printf(b, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            sb_printf(b, "\\x%02x", (unsigned char)*p);
        else
            sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

/* An alert name for a comment line of the report: on that line (control
 * characters become spaces, a newline would end the comment and leave the
 * rest as YAML) and at most 160 bytes. */
static const char *comment_text(const char *s, char *out, size_t cap)
{
    size_t k = 0, limit = cap - 4 < 160 ? cap - 4 : 160;
    for (; *s && k < limit; s++) out[k++] = (unsigned char)*s < 0x20 ? ' ' : *s;
    if (*s) {
        while (k && ((unsigned char)out[k - 1] & 0xC0) == 0x80) k--; /* whole characters */
        if (k && (unsigned char)out[k - 1] >= 0xC0) k--;
        out[k++] = '.', out[k++] = '.', out[k++] = '.';
    }
    out[k] = '\0';
    return out;
}

/* A YAML single-quoted scalar holding a matcher `name OP "value"` with
 * the value Go-quoted. */
static void sb_matcher(sbuf_t *b, const char *name, const char *op, const char *value)
{
    sb_printf(b, "'%s%s\"", name, op);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            sb_printf(b, "''");
        else if (*p == '"' || *p == '\\')
            sb_printf(b, "\\%c", *p);
        else if (*p == '\n')
            sb_printf(b, "\\n");
        else
            sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"'");
}

/* RE2 for a normalised name: literal text escaped, placeholders as
 * classes. Backslashes are doubled by sb_matcher's Go quoting. */
static char *family_regex(const char *norm)
{
    sbuf_t b = {0};
    for (const char *p = norm; *p;) {
        if (!strncmp(p, "<n>", 3)) {
            sb_printf(&b, "[0-9]+");
            p += 3;
        } else if (!strncmp(p, "<hex>", 5)) {
            sb_printf(&b, "(?:0[xX])?[0-9a-fA-F]+");
            p += 5;
        } else if (!strncmp(p, "<uuid>", 6)) {
            sb_printf(&b, "[0-9a-fA-F-]{36}");
            p += 6;
        } else {
            if (strchr("\\.+*?()|[]{}^$", *p)) sb_printf(&b, "\\");
            sb_printf(&b, "%c", *p);
            p++;
        }
    }
    if (!b.s) return strdup("");
    return b.s;
}

static void slug(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    bool dash = false;
    for (; *s && o + 1 < cap && o < 40; s++) {
        char c = *s;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out[o++] = c, dash = false;
        } else if (c >= 'A' && c <= 'Z') {
            out[o++] = (char)(c - 'A' + 'a'), dash = false;
        } else if (!dash && o) {
            out[o++] = '-', dash = true;
        }
    }
    while (o && out[o - 1] == '-') o--;
    out[o] = '\0';
    if (!o) snprintf(out, cap, "unnamed");
}

static void fmt_rfc3339(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool is_uint(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

static size_t constant_labels(const suggest_t *s, uint32_t family, const char **out, size_t cap);

/* A duration as the config writes it: "90s", "5m", "4h", "7d". */
static void fmt_duration(int64_t ms, char *out, size_t cap)
{
    if (ms % 86400000 == 0)
        snprintf(out, cap, "%lldd", (long long)(ms / 86400000));
    else if (ms % 3600000 == 0)
        snprintf(out, cap, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(out, cap, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(out, cap, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, cap, "%lldms", (long long)ms);
}

/* `by` of a fold: alertname, the severity label, and the labels constant
 * over the family (or over most families, for the catch-all rule). */
static void by_labels(const suggest_t *s, uint32_t family, char *out, size_t cap)
{
    const char *c[32];
    size_t n = constant_labels(s, family, c, 32);
    int o = snprintf(out, cap, "[alertname, %s", s->sev_label);
    for (size_t i = 0; i < n && o > 0 && (size_t)o < cap; i++)
        o += snprintf(out + o, cap - (size_t)o, ", %s", c[i]);
    if (o > 0 && (size_t)o < cap) snprintf(out + o, cap - (size_t)o, "]");
}

/* A severity's digits as a number, at most 10^9 (x * 100 stays in range). */
static long sev_number(const char *v)
{
    long x = strtol(v, NULL, 10);
    return x > 1000000000L || x < 0 ? 1000000000L : x;
}

/* How a file's numeric severities count, from their highest value and
 * whether 0 is among them. Priorities count down from 1: IDS priorities
 * (Suricata's and Snort's 1-4, 1 the highest), ticket priorities 1-5.
 * Syslog's severities count down from 0 (emergency) to 7 (debug): a
 * highest value of 6 or 7 (informational, debug) is that scale. A scale
 * with 0 that stops at 5 or under counts up from "nothing": Zabbix's 0
 * (not classified) to 5 (disaster); a priority counting down writes its
 * top as 1 or as P0, not 0 (a syslog file holding no severity under 6 is
 * read so too: export it with its words). Over 7, levels count up: up to
 * 10 CEF's 0-10 (9-10 very high, 7-8 high, 4-6 medium), up to 16 Wazuh's
 * and OSSEC's rule levels 0-15 (12 and over "high importance"), beyond
 * that scores, as a share of 100 (or of the highest). */
typedef enum {
    SEV_SCALE_PRIORITY,
    SEV_SCALE_SYSLOG,
    SEV_SCALE_UP5,
    SEV_SCALE_CEF,
    SEV_SCALE_LEVEL,
    SEV_SCALE_SCORE
} sev_scale_t;

static const char *const sev_scale_says[] = {
    "numeric priorities: 1 is the most severe",
    "syslog severities: 0 (emergency) is the most severe, 7 (debug) the least",
    "numeric levels from 0 (not classified) up: 5 (disaster) is the most severe",
    "numeric levels 0-10 (CEF): the highest is the most severe",
    "numeric levels: the highest is the most severe",
    "numeric scores: the highest is the most severe"};

static sev_scale_t sev_scale(long top, bool zero)
{
    if (top > 16) return SEV_SCALE_SCORE;
    if (top > 10) return SEV_SCALE_LEVEL;
    if (top > 7) return SEV_SCALE_CEF;
    if (top >= 6) return SEV_SCALE_SYSLOG;
    return zero ? SEV_SCALE_UP5 : SEV_SCALE_PRIORITY;
}

/* SEV1..SEV5 of a number on its scale. */
static int sev_of_number(long x, long top, sev_scale_t scale)
{
    switch (scale) {
    case SEV_SCALE_PRIORITY: return x <= 1 ? 1 : x >= 5 ? 5 : (int)x;
    /* emergency, alert, critical; error; warning; notice; info, debug */
    case SEV_SCALE_SYSLOG: return x <= 2 ? 1 : x == 3 ? 2 : x == 4 ? 3 : x == 5 ? 4 : 5;
    /* disaster; high; average, warning; information; not classified */
    case SEV_SCALE_UP5: return x >= 5 ? 1 : x == 4 ? 2 : x >= 2 ? 3 : x == 1 ? 4 : 5;
    case SEV_SCALE_LEVEL: return x >= 12 ? 1 : x >= 10 ? 2 : x >= 7 ? 3 : x >= 4 ? 4 : 5;
    case SEV_SCALE_CEF:
    case SEV_SCALE_SCORE: break;
    }
    long pct = x * 100 / (scale == SEV_SCALE_CEF ? 10 : top > 100 ? top : 100);
    return pct >= 90 ? 1 : pct >= 70 ? 2 : pct >= 40 ? 3 : pct >= 20 ? 4 : 5;
}

/* Numbers in numeric order, then words bytewise. */
static int sev_value_cmp(const void *x, const void *y)
{
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    bool na = is_uint(a), nb = is_uint(b);
    if (na != nb) return na ? -1 : 1;
    if (na && strlen(a) != strlen(b)) return strlen(a) < strlen(b) ? -1 : 1;
    return strcmp(a, b);
}

/* The proposed sections (only those the base does not write; those it
 * does are commented out, to merge by hand). */
static void render(const suggest_t *s, const plan_t *p, sbuf_t *b)
{
    bool any_dedup = p->step >= 0;
    if (any_dedup) {
        const char *c = base_has(s, "dedup") ? "# " : "";
        if (*c) sb_printf(b, "# (the current config has a dedup section: merge these by hand)\n");
        sb_printf(b, "%sdedup:\n", c);
        char was_w[32], was_r[32];
        fmt_duration(s->base.dedup.window_ms, was_w, sizeof was_w);
        fmt_duration(s->base.dedup.repeat_interval_ms, was_r, sizeof was_r);
        sb_printf(b, "%s  window: %s            # was %s: %s\n", c, ladder[p->step].window, was_w,
                  p->step_misses ? "the step giving fewest incidents (the target is not reached)"
                                 : "the shortest step reaching the target");
        sb_printf(b, "%s  repeat_interval: %s   # was %s\n", c, ladder[p->step].repeat, was_r);
    }
    if (p->severity_map) {
        const char *c = base_has(s, "severity") ? "# " : "";
        const char **vals = malloc((s->sev_values.n ? s->sev_values.n : 1) * sizeof *vals);
        size_t nv = 0;
        for (size_t i = 0; vals && i < s->sev_values.n; i++) vals[nv++] = s->sev_values.v[i];
        qsort(vals, nv, sizeof *vals, sev_value_cmp);
        long top = 0; /* the highest number: numbers sort first, in numeric order */
        for (size_t i = 0; i < nv && is_uint(vals[i]); i++) top = sev_number(vals[i]);
        bool zero = nv && is_uint(vals[0]) && sev_number(vals[0]) == 0;
        sev_scale_t scale = sev_scale(top, zero);
        sb_printf(b, "%sseverity:                # %s\n", c, sev_scale_says[scale]);
        sb_printf(b, "%s  labels: [%s]\n", c, s->sev_label);
        sb_printf(b, "%s  map: {", c);
        bool first = true;
        for (size_t i = 0; i < nv; i++) {
            const char *v = vals[i];
            int sev = 0;
            if (is_uint(v)) {
                sev = sev_of_number(sev_number(v), top, scale);
            } else if (*v) {
                label_t l = {{s->sev_label, (uint32_t)strlen(s->sev_label)},
                             {v, (uint32_t)strlen(v)}};
                rules_verdict_t vd;
                ruleset_eval(s->base_rs, &l, 1, 0, &vd);
                sev = vd.severity;
            }
            if (!sev) continue;
            sb_printf(b, "%s\"", first ? "" : ", ");
            for (const char *q = v; *q; q++)
                sb_printf(b, *q == '"' || *q == '\\' ? "\\%c" : "%c", *q);
            sb_printf(b, "\": SEV%d", sev);
            first = false;
        }
        free(vals);
        sb_printf(b, "}\n%s  drop: []\n", c);
    }
    if (p->n_folds || p->fold_all) {
        const char *c = base_has(s, "grouping") ? "# " : "";
        sb_printf(b, "%sgrouping:\n", c);
        char by[1024];
        for (size_t i = 0; i < p->n_folds; i++) {
            const fold_t *f = &p->folds[i];
            by_labels(s, f->family, by, sizeof by);
            const char *norm = s->families.v[f->family];
            const family_t *fm = &s->fam[f->family];
            char sl[64];
            slug(norm, sl, sizeof sl);
            sb_printf(b, "%s  - name: fold-%s%s\n", c, f->ids ? "ids-" : "", sl);
            sb_printf(b, "%s    matchers: [", c);
            if (f->ids) {
                char *re = family_regex(norm);
                sb_matcher(b, "alertname", "=~", re ? re : "");
                free(re);
            } else {
                /* the raw name: a family without ids has one */
                const char *raw = norm;
                for (size_t k = 0; k < s->n; k++)
                    if (s->recs[k].family == f->family) {
                        raw = s->names.v[s->recs[k].raw_name];
                        break;
                    }
                sb_matcher(b, "alertname", "=", raw);
            }
            sb_printf(b, "]\n%s    by: %s\n", c, by);
            if (f->ids) sb_printf(b, "%s    normalize: [alertname]\n", c);
            sb_printf(b, "%s    owner: ", c);
            sb_yaml_scalar(b, p->owner);
            sb_printf(b, "\n");
            sb_printf(b,
                      "%s    comment: \"%llu alerts, %llu label sets, %llu raw names; "
                      "%llu incidents now\"\n",
                      c, (unsigned long long)fm->alerts, (unsigned long long)fm->label_sets,
                      (unsigned long long)fm->raw_names, (unsigned long long)fm->incidents_now);
        }
        if (p->fold_all) {
            by_labels(s, UINT32_MAX, by, sizeof by);
            sb_printf(
                b, "%s  - name: fold-by-alertname   # every other alert: one incident per name\n",
                c);
            sb_printf(b, "%s    matchers: ['alertname=~\".+\"']\n", c);
            sb_printf(b, "%s    by: %s\n%s    owner: ", c, by, c);
            sb_yaml_scalar(b, p->owner);
            sb_printf(b, "\n");
            sb_printf(b,
                      "%s    comment: \"most alert names fire with many label sets (hosts, "
                      "addresses)\"\n",
                      c);
        }
    }
    if (p->flapping || p->min_duration) {
        const char *c = base_has(s, "noise") ? "# " : "";
        sb_printf(b, "%snoise:\n", c);
        if (p->flapping) sb_printf(b, "%s  flapping: {threshold: 4, window: 10m}\n", c);
        if (p->min_duration) sb_printf(b, "%s  min_duration: 2m\n", c);
    }
    if (p->n_excluded) {
        const char *c = base_has(s, "exclusions") ? "# " : "";
        char until[40];
        fmt_rfc3339(p->last_ms + p->expires_ms, until, sizeof until);
        sb_printf(b, "%sexclusions:\n", c);
        for (size_t i = 0; i < p->n_excluded; i++) {
            const char *norm = s->families.v[p->excluded[i]];
            const family_t *fm = &s->fam[p->excluded[i]];
            char sl[64];
            slug(norm, sl, sizeof sl);
            char *re = family_regex(norm);
            sb_printf(b, "%s  - name: quiet-%s\n%s    matchers: [", c, sl, c);
            sb_matcher(b, "alertname", "=~", re ? re : "");
            sb_printf(b, "]\n%s    owner: ", c);
            sb_yaml_scalar(b, p->owner);
            sb_printf(b, "\n%s    ends_at: %s\n", c, until);
            sb_printf(b, "%s    comment: \"SEV%u at worst, %llu alerts (%.1f%% of all)\"\n", c,
                      fm->worst_sev ? fm->worst_sev : 5, (unsigned long long)fm->alerts,
                      100.0 * (double)fm->alerts / (double)(s->n ? s->n : 1));
            free(re);
        }
    }
}

/* ---- analysis ------------------------------------------------------------ */

typedef struct {
    uint64_t fp;
    uint32_t family;
    uint32_t idx;
} fpref_t;

static int fpref_cmp(const void *x, const void *y)
{
    const fpref_t *a = x, *b = y;
    if (a->fp != b->fp) return a->fp < b->fp ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void analyse(suggest_t *s, uint64_t *episodes, uint64_t *short_episodes)
{
    s->fam = calloc(s->families.n ? s->families.n : 1, sizeof *s->fam);
    if (!s->fam) return;
    for (size_t i = 0; i < s->n; i++) {
        const rec_t *r = &s->recs[i];
        family_t *f = &s->fam[r->family];
        if (!f->alerts) f->first_ms = r->t;
        f->alerts++;
        f->last_ms = r->t;
        if (r->status == ALERT_RESOLVED) f->resolved++;
        rules_verdict_t v;
        ruleset_eval(s->base_rs, r->labels, r->n_labels, r->t, &v);
        if (v.severity && (!f->worst_sev || v.severity < f->worst_sev)) f->worst_sev = v.severity;
        if (v.severity > f->best_sev) f->best_sev = v.severity;
    }
    /* raw names per family */
    uint8_t *seen = calloc(s->names.n ? s->names.n : 1, 1);
    for (size_t i = 0; seen && i < s->n; i++)
        if (!seen[s->recs[i].raw_name]) {
            seen[s->recs[i].raw_name] = 1;
            s->fam[s->recs[i].family].raw_names++;
        }
    free(seen);
    /* label sets per family; status flips and fire->resolve episodes */
    fpref_t *refs = malloc((s->n ? s->n : 1) * sizeof *refs);
    if (!refs) return;
    for (size_t i = 0; i < s->n; i++)
        refs[i] = (fpref_t){s->recs[i].fp, s->recs[i].family, (uint32_t)i};
    qsort(refs, s->n, sizeof *refs, fpref_cmp);
    for (size_t i = 0; i < s->n;) {
        size_t j = i;
        while (j < s->n && refs[j].fp == refs[i].fp) j++;
        s->fam[refs[i].family].label_sets++;
        uint64_t flips = 0;
        int64_t fired_at = -1;
        for (size_t k = i; k < j; k++) {
            const rec_t *r = &s->recs[refs[k].idx];
            if (k > i && r->status != s->recs[refs[k - 1].idx].status) flips++;
            if (r->status == ALERT_FIRING && fired_at < 0) fired_at = r->t;
            if (r->status == ALERT_RESOLVED && fired_at >= 0) {
                (*episodes)++;
                if (r->t - fired_at < 2 * 60000) (*short_episodes)++;
                fired_at = -1;
            }
        }
        if (fired_at >= 0) (*episodes)++;
        if (flips >= 4) s->fam[refs[i].family].flip_fps_alerts += j - i;
        i = j;
    }
    free(refs);
}

/* Most alerts first, then by name: a total order, so output is stable. */
static struct fl_slot *fl_get(suggest_t *s, uint32_t family, uint32_t name)
{
    if (s->fl_n * 2 >= s->fl_mask) {
        size_t nm = s->fl_mask ? (s->fl_mask + 1) * 2 : 1024;
        struct fl_slot *nv = calloc(nm, sizeof *nv);
        if (!nv) return NULL;
        for (size_t i = 0; s->fl && i <= s->fl_mask; i++) {
            if (!s->fl[i].key) continue;
            size_t p = (s->fl[i].key * 0x9E3779B97F4A7C15ull >> 20) & (nm - 1);
            while (nv[p].key) p = (p + 1) & (nm - 1);
            nv[p] = s->fl[i];
        }
        free(s->fl);
        s->fl = nv;
        s->fl_mask = nm - 1;
    }
    uint64_t key = ((uint64_t)family << 32 | name) + 1;
    size_t p = (key * 0x9E3779B97F4A7C15ull >> 20) & s->fl_mask;
    while (s->fl[p].key && s->fl[p].key != key) p = (p + 1) & s->fl_mask;
    if (!s->fl[p].key) {
        s->fl[p].key = key;
        s->fl_n++;
    }
    return &s->fl[p];
}

static const struct fl_slot *fl_find(const suggest_t *s, uint32_t family, uint32_t name)
{
    if (!s->fl) return NULL;
    uint64_t key = ((uint64_t)family << 32 | name) + 1;
    size_t p = (key * 0x9E3779B97F4A7C15ull >> 20) & s->fl_mask;
    while (s->fl[p].key && s->fl[p].key != key) p = (p + 1) & s->fl_mask;
    return s->fl[p].key ? &s->fl[p] : NULL;
}

static void track_constant_labels(suggest_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        const rec_t *r = &s->recs[i];
        for (uint32_t k = 0; k < r->n_labels; k++) {
            uint32_t name = intern(&s->label_names, r->labels[k].name.ptr, r->labels[k].name.len);
            struct fl_slot *sl = name == UINT32_MAX ? NULL : fl_get(s, r->family, name);
            if (!sl) continue;
            uint64_t h = str_hash(r->labels[k].value.ptr, r->labels[k].value.len);
            if (sl->count && sl->value_hash != h) sl->varies = true;
            sl->value_hash = h;
            sl->count++;
        }
    }
}

/* Label names (besides alertname and the severity label) that keep one
 * value on every alert of `family`; or, for family UINT32_MAX, on every
 * alert of at least 90% of the families carrying them. Sorted. */
static size_t constant_labels(const suggest_t *s, uint32_t family, const char **out, size_t cap)
{
    size_t n = 0;
    for (uint32_t name = 0; name < s->label_names.n && n < cap; name++) {
        const char *ln = s->label_names.v[name];
        if (!strcmp(ln, "alertname") || !strcmp(ln, s->sev_label)) continue;
        bool keep;
        if (family != UINT32_MAX) {
            const struct fl_slot *sl = fl_find(s, family, name);
            keep = sl && !sl->varies && sl->count == s->fam[family].alerts;
        } else {
            size_t with = 0, varying = 0;
            for (uint32_t f = 0; f < s->families.n; f++) {
                const struct fl_slot *sl = fl_find(s, f, name);
                if (!sl) continue;
                with++;
                varying += sl->varies || sl->count != s->fam[f].alerts;
            }
            keep = with && varying * 10 <= with;
        }
        if (keep) out[n++] = ln;
    }
    for (size_t i = 1; i < n; i++) /* few: insertion sort */
        for (size_t j = i; j && strcmp(out[j - 1], out[j]) > 0; j--) {
            const char *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static int fam_cmp(const void *x, const void *y, void *ctx)
{
    const suggest_t *s = ctx;
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    const family_t *fa = &s->fam[a], *fb = &s->fam[b];
    if (fa->alerts != fb->alerts) return fa->alerts < fb->alerts ? 1 : -1;
    return strcmp(s->families.v[a], s->families.v[b]);
}

/* True when every family that opens an incident now opens one in `e`. */
static bool keeps_every_family(const suggest_t *s, const eval_t *now, const eval_t *e,
                               const plan_t *p, char *first_lost, size_t cap)
{
    for (size_t f = 0; f < s->families.n; f++) {
        bool excluded = false;
        for (size_t k = 0; k < p->n_excluded; k++) excluded |= p->excluded[k] == f;
        if (!excluded && now->fam_forwarded[f] && !e->fam_forwarded[f]) {
            comment_text(s->families.v[f], first_lost, cap);
            return false;
        }
    }
    return true;
}

static int run_plan(const suggest_t *s, const plan_t *p, eval_t *e, sbuf_t *text)
{
    /* Emptied, not just rewound: a plan rendering nothing must not leave
     * the previous plan's text to be written out. */
    text->n = 0;
    if (text->s) text->s[0] = '\0';
    if (s->base_text) sb_printf(text, "%s\n", s->base_text);
    render(s, p, text);
    if (!text->s) sb_printf(text, "%s", "");
    return evaluate_text(s, text->s ? text->s : "", text->n, e);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: quell suggest [-c FILE] [--map LABEL=COLUMN,...] [--target N] [--owner NAME]\n"
            "                     [--expires DURATION] [--exclusions] [--top N] [-o FILE]\n"
            "                     [--brokers LIST] [--date-order dmy|mdy] [--clock 12|24]\n"
            "                     [--year YYYY] INPUT...\n"
            "  Reads recorded alerts, the inputs replay takes (files of JSON, protobuf, CSV,\n"
            "  syslog, fast.log, Snort's full alerts, OSSEC's alerts.log; kafka:TOPIC with\n"
            "  --brokers), and\n"
            "  writes a config proposing rules: grouping, severity, noise, dedup.window, and with\n"
            "  --exclusions exclusions. Check it with `quell replay -c FILE --candidate OUT "
            "INPUT...`.\n"
            "  --target N      alerts per incident to aim for (default 60)\n"
            "  --owner NAME    owner written on every proposed rule (default unassigned)\n"
            "  --expires D     exclusions end D after the last recorded alert (default 30d)\n"
            "  --exclusions    also propose exclusions of low-severity noisy groups\n"
            "  --top N         noisiest groups listed in the report (default 10)\n"
            "  --id-variants N raw names a normalised name needs to fold by it (default 10)\n"
            "  --fold-min N    label sets an alert name needs to fold by name (default 3)\n"
            "  --date-order O  dmy or mdy: how 5/7/2017 reads (default: from the data, per\n"
            "                  file; M/D/Y when no day over 12 says which)\n"
            "  --clock H       12 or 24: how 3:30 without AM/PM reads (default: from the data,\n"
            "                  per file: 12 when no hour is over 12 and the clock goes back\n"
            "                  12 hours within a day, as at 12:59 -> 1:05)\n"
            "  --year YYYY     the year of dates without one (syslog's; default: from the\n"
            "                  file's modification time)\n");
}

int suggest_main(int argc, char **argv)
{
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    size_t n_inputs = 0;
    const char *map = NULL, *out_path = NULL, *brokers = NULL;
    recorded_time_opts_t topts = RECORDED_TIME_OPTS_INIT;
    int t;
    plan_t p = {.target = 60,
                .owner = "unassigned",
                .expires_ms = 30 * 86400000LL,
                .top = 10,
                .id_variants = 10,
                .fold_min = 3,
                .max_rules = 25,
                .step = -1};
    suggest_t s;
    memset(&s, 0, sizeof s);
    conf_defaults(&s.base);
    arena_init(&s.arena, 1 << 20);
    int rc = 2;
    char err[1024];
    eval_t now = {0}, e = {0}, best = {0};
    sbuf_t text = {0};
    if (!inputs) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && has)
            s.base_path = argv[++i];
        else if (!strcmp(a, "--map") && has)
            map = argv[++i];
        else if ((t = recorded_time_option(&topts, "suggest", argc, argv, &i)) != 0) {
            if (t < 0) goto out;
        } else if (!strcmp(a, "--brokers") && has)
            brokers = argv[++i];
        else if (!strcmp(a, "-o") && has)
            out_path = argv[++i];
        else if (!strcmp(a, "--owner") && has)
            p.owner = argv[++i];
        else if (!strcmp(a, "--exclusions"))
            p.exclusions = true;
        else if (!strcmp(a, "--target") && has) {
            p.target = strtod(argv[++i], NULL);
            if (p.target < 1) {
                fprintf(stderr, "quell suggest: --target must be at least 1\n");
                goto out;
            }
        } else if (!strcmp(a, "--expires") && has) {
            if (conf_parse_duration_ms(argv[++i], &p.expires_ms) != QERR_OK) {
                fprintf(stderr, "quell suggest: --expires: \"%s\" is not a duration\n", argv[i]);
                goto out;
            }
        } else if ((!strcmp(a, "--top") || !strcmp(a, "--id-variants") ||
                    !strcmp(a, "--fold-min")) &&
                   has) {
            long v = strtol(argv[++i], NULL, 10);
            if (v < 1) {
                fprintf(stderr, "quell suggest: %s must be a positive count\n", a);
                goto out;
            }
            *(!strcmp(a, "--top")           ? &p.top
              : !strcmp(a, "--id-variants") ? &p.id_variants
                                            : &p.fold_min) = (size_t)v;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "quell suggest: unknown option \"%s\"\n", a);
            usage(stderr);
            goto out;
        } else {
            inputs[n_inputs++] = strcmp(a, "-") ? a : "/dev/stdin";
        }
    }
    if (!n_inputs) {
        fprintf(stderr, "quell suggest: no INPUT given\n");
        usage(stderr);
        goto out;
    }
    rc = 1;
    if (s.base_path) {
        if (conf_load(&s.base, s.base_path, err, sizeof err) != QERR_OK) {
            fprintf(stderr, "%s\n", err);
            goto out;
        }
        /* Copied whole into the proposal (conf_load refuses a file over
         * 1 MiB, so this is never cut). */
        size_t base_len;
        if (!(s.base_text = file_read_all(s.base_path, &base_len))) {
            fprintf(stderr, "%s: cannot read it again to copy it\n", s.base_path);
            goto out;
        }
    }
    if (ruleset_compile(&s.base, warn_drop, NULL, &s.base_rs, err, sizeof err) != QERR_OK ||
        fp_grouping_compile(&s.base, NULL, NULL, &s.base_grouping, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    dedup_fp_conf_init(&s.base_fpc, s.base.dedup.fingerprint, &s.base.dedup.fingerprint_labels,
                       &s.base.dedup.ignore_labels);
    fp_grouping_attach(s.base_grouping, &s.base_fpc);
    if (!(s.reader = recorded_new(&s.base, map, err, sizeof err))) {
        fprintf(stderr, "quell suggest: %s\n", err);
        goto out;
    }
    /* the severity label: the first of the current severity.labels, or
     * "priority" when the data has that and not "severity" (decided after
     * reading: keep both until then) */
    s.sev_label = "severity";
    recorded_apply_time_opts(s.reader, &topts);
    /* files one after another as one stream in event-time order, as
     * replay reads them; kafka:TOPIC on its own */
    for (size_t i = 0; i < n_inputs;) {
        size_t files = 0;
        while (i + files < n_inputs && strncmp(inputs[i + files], "kafka:", 6)) files++;
        int read_rc = files ? recorded_read_files(s.reader, inputs + i, files, keep_alert, &s)
                            : recorded_read_kafka(s.reader, inputs[i] + 6, brokers, keep_alert, &s);
        if (read_rc != 0) goto out;
        i += files ? files : 1;
    }
    if (!s.n) {
        fprintf(stderr, "quell suggest: no alerts read\n");
        goto out;
    }
    uint64_t episodes = 0, short_episodes = 0;
    analyse(&s, &episodes, &short_episodes);
    track_constant_labels(&s);
    now.fam_forwarded = calloc(s.families.n, sizeof *now.fam_forwarded);
    e.fam_forwarded = calloc(s.families.n, sizeof *e.fam_forwarded);
    best.fam_forwarded = calloc(s.families.n, sizeof *best.fam_forwarded);
    if (!s.fam || !now.fam_forwarded || !e.fam_forwarded || !best.fam_forwarded) goto out;
    if (evaluate(&s, &s.base, &now) != 0) goto out;
    /* incidents now, per family */
    for (size_t f = 0; f < s.families.n; f++) s.fam[f].incidents_now = now.fam_forwarded[f];
    p.last_ms = s.recs[s.n - 1].t;
    for (size_t i = 0; i < s.n; i++)
        if (s.recs[i].t > p.last_ms) p.last_ms = s.recs[i].t;

    /* severity: numeric values the current rules do not rank */
    {
        uint64_t with = 0, numeric = 0, ranked = 0;
        for (size_t i = 0; i < s.n; i++) {
            const char *v = s.sev_values.v[s.recs[i].sev_value];
            if (!*v) continue;
            with++;
            if (is_uint(v)) numeric++;
        }
        for (size_t f = 0; f < s.families.n; f++)
            ranked += s.fam[f].worst_sev ? s.fam[f].alerts : 0;
        p.severity_map = with && numeric * 2 >= with && ranked * 2 < s.n;
    }
    /* families by alerts */
    uint32_t *order = malloc(s.families.n * sizeof *order);
    if (!order) goto out;
    for (size_t f = 0; f < s.families.n; f++) order[f] = (uint32_t)f;
    qsort_r(order, s.families.n, sizeof *order, fam_cmp, &s);
    /* grouping */
    p.folds = calloc(s.families.n, sizeof *p.folds);
    size_t fanned = 0;
    uint64_t fanned_alerts = 0;
    /* Alerts without a name are never folded: nothing says two of them are
     * one signature, and one rule for all would give a new attack's first
     * alert no incident of its own. The report says how to name them. */
    uint64_t unnamed = 0;
    for (size_t f = 0; f < s.families.n; f++)
        if (!s.families.v[f][0]) unnamed += s.fam[f].alerts;
    if (unnamed)
        fprintf(stderr,
                "quell suggest: %llu alerts have no alertname: no column or field was taken for "
                "it; name one with --map alertname=COLUMN (see docs/tuning.md)\n",
                (unsigned long long)unnamed);
    for (size_t k = 0; p.folds && k < s.families.n; k++) {
        uint32_t f = order[k];
        const family_t *fm = &s.fam[f];
        if (!s.families.v[f][0]) continue;
        if (fm->raw_names >= p.id_variants)
            p.folds[p.n_folds++] = (fold_t){f, true};
        else if (fm->label_sets >= p.fold_min)
            fanned++, fanned_alerts += fm->alerts;
    }
    if (fanned > p.max_rules) {
        p.fold_all = true;
    } else {
        for (size_t k = 0; p.folds && k < s.families.n; k++) {
            uint32_t f = order[k];
            const family_t *fm = &s.fam[f];
            if (s.families.v[f][0] && fm->raw_names < p.id_variants && fm->label_sets >= p.fold_min)
                p.folds[p.n_folds++] = (fold_t){f, false};
        }
    }
    /* noise, only when the traffic resolves */
    uint64_t flip_alerts = 0;
    for (size_t f = 0; f < s.families.n; f++) flip_alerts += s.fam[f].flip_fps_alerts;
    p.flapping = flip_alerts * 20 >= s.n;
    p.min_duration = episodes && short_episodes * 5 >= episodes;
    /* exclusions (opt-in): low severity, a large share */
    uint32_t *excl = calloc(s.families.n, sizeof *excl);
    p.excluded = excl;
    if (p.exclusions && excl) {
        for (size_t k = 0; k < s.families.n; k++) {
            const family_t *fm = &s.fam[order[k]];
            if (fm->worst_sev >= 4 && fm->alerts * 20 >= s.n) excl[p.n_excluded++] = order[k];
        }
    }

    /* evaluate: drop what would silence a family, then climb the ladder */
    char lost[512] = "";
    bool noise_dropped = false;
    sbuf_t notes = {0};
    if (run_plan(&s, &p, &e, &text) != 0) goto out;
    if ((p.flapping || p.min_duration) &&
        !keeps_every_family(&s, &now, &e, &p, lost, sizeof lost)) {
        sb_printf(&notes, "# noise rules not proposed: they would leave \"%s\" with no incident\n",
                  lost);
        p.flapping = p.min_duration = false;
        noise_dropped = true;
        if (run_plan(&s, &p, &e, &text) != 0) goto out;
    }
    if ((p.n_folds || p.fold_all) && !keeps_every_family(&s, &now, &e, &p, lost, sizeof lost)) {
        sb_printf(&notes, "# grouping not proposed: it would leave \"%s\" with no incident\n",
                  lost);
        p.n_folds = 0;
        p.fold_all = false;
        if (run_plan(&s, &p, &e, &text) != 0) goto out;
    }
    /* The first step of the ladder reaching the target, else the one
     * giving fewest incidents; never shorter than the current settings. */
    uint64_t fewest = e.forwarded;
    for (size_t st = 0; st < N_STEPS && (double)s.n < p.target * (double)fewest; st++) {
        if (ladder[st].window_ms < s.base.dedup.window_ms ||
            ladder[st].repeat_ms < s.base.dedup.repeat_interval_ms ||
            (ladder[st].window_ms == s.base.dedup.window_ms &&
             ladder[st].repeat_ms == s.base.dedup.repeat_interval_ms))
            continue;
        plan_t q = p;
        q.step = (int)st;
        if (run_plan(&s, &q, &best, &text) != 0) goto out;
        if (best.forwarded < fewest) {
            p.step = (int)st;
            fewest = best.forwarded;
        }
    }
    p.step_misses = p.step >= 0 && (double)s.n < p.target * (double)fewest;
    if (run_plan(&s, &p, &e, &text) != 0) goto out;

    /* the report, as comments, then the config */
    sbuf_t o = {0};
    char t0[40], t1[40];
    fmt_rfc3339(s.recs[0].t, t0, sizeof t0);
    fmt_rfc3339(p.last_ms, t1, sizeof t1);
    sb_printf(&o, "# quell suggest: %zu alerts from %zu input%s, %s to %s", s.n, n_inputs,
              n_inputs == 1 ? "" : "s", t0, t1);
    if (recorded_errors(s.reader))
        sb_printf(&o, " (%llu rows not read)", (unsigned long long)recorded_errors(s.reader));
    sb_printf(&o, "\n# current config (%s): %llu incidents, %.1f alerts per incident\n",
              s.base_path ? s.base_path : "defaults", (unsigned long long)now.forwarded,
              now.forwarded ? (double)s.n / (double)now.forwarded : 0.0);
    sb_printf(&o,
              "# with this proposal:   %llu incidents, %.1f alerts per incident (%.1fx fewer; "
              "target %.0f)\n",
              (unsigned long long)e.forwarded,
              e.forwarded ? (double)s.n / (double)e.forwarded : 0.0,
              e.forwarded ? (double)now.forwarded / (double)e.forwarded : 0.0, p.target);
    if (unnamed)
        sb_printf(&o,
                  "# %llu alerts have no alertname: not folded; name the column with --map "
                  "alertname=COLUMN\n",
                  (unsigned long long)unnamed);
    if (e.forwarded && (double)s.n < p.target * (double)e.forwarded)
        sb_printf(&o, "# the target is not reached without hiding alert names; see "
                      "--exclusions\n");
    uint64_t fam_now = 0, fam_kept = 0;
    for (size_t f = 0; f < s.families.n; f++) {
        fam_now += now.fam_forwarded[f] > 0;
        fam_kept += now.fam_forwarded[f] > 0 && e.fam_forwarded[f] > 0;
    }
    sb_printf(&o,
              "# alert names (ids normalised) opening an incident: %llu now, %llu of them "
              "still%s\n",
              (unsigned long long)fam_now, (unsigned long long)fam_kept,
              p.n_excluded ? " (the rest excluded below)" : "");
    sb_printf(&o, "# noisiest groups (alert name with ids normalised: alerts, label sets, raw "
                  "names, incidents now -> proposed):\n");
    for (size_t k = 0; k < s.families.n && k < p.top; k++) {
        uint32_t f = order[k];
        const family_t *fm = &s.fam[f];
        char shown[200];
        sb_printf(&o, "#   %s: %llu alerts, %llu label sets, %llu names, %llu -> %llu incidents",
                  s.families.v[f][0] ? comment_text(s.families.v[f], shown, sizeof shown)
                                     : "(no alertname)",
                  (unsigned long long)fm->alerts, (unsigned long long)fm->label_sets,
                  (unsigned long long)fm->raw_names, (unsigned long long)now.fam_forwarded[f],
                  (unsigned long long)e.fam_forwarded[f]);
        if (fm->worst_sev) sb_printf(&o, ", SEV%u at worst", fm->worst_sev);
        sb_printf(&o, "\n");
    }
    if (!p.flapping && !p.min_duration && !noise_dropped)
        sb_printf(&o,
                  "# noise: not proposed (%s); min_count never is: it hides the one-off alert "
                  "a new incident starts with\n",
                  episodes ? "status flips and short incidents are rare"
                           : "the traffic carries no resolves");
    if (notes.s) sb_printf(&o, "%s", notes.s);
    if (!p.exclusions)
        sb_printf(&o, "# exclusions: none proposed (they hide whole alert names; ask with "
                      "--exclusions)\n");
    sb_printf(&o, "%s", text.s ? text.s : "");
    free(notes.s);
    free(order);
    FILE *fo = out_path ? fopen(out_path, "w") : stdout;
    if (!fo) {
        fprintf(stderr, "quell suggest: cannot write %s\n", out_path);
        free(o.s);
        goto out;
    }
    fwrite(o.s ? o.s : "", 1, o.n, fo);
    if (fo != stdout) fclose(fo);
    free(o.s);
    rc = 0;
out:
    free(text.s);
    free(now.fam_forwarded);
    free(e.fam_forwarded);
    free(best.fam_forwarded);
    free(p.folds);
    free(p.excluded);
    free(s.fam);
    free(s.recs);
    intern_free(&s.names);
    intern_free(&s.families);
    intern_free(&s.sev_values);
    intern_free(&s.label_names);
    free(s.fl);
    recorded_destroy(s.reader);
    fp_grouping_destroy(s.base_grouping);
    ruleset_destroy(s.base_rs);
    conf_free(&s.base);
    arena_free(&s.arena);
    free(s.base_text);
    free(inputs);
    return rc;
}
