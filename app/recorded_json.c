/*
 * Recorded JSON without the ingest decoder's shapes (see recorded.h): JSON
 * lines or documents of any shape, through a column mapping or with the
 * roles of their fields guessed (flattened, nested names joined with '_');
 * export wrappers, PagerDuty Events v2 events and Prometheus's HTTP API
 * responses. Alertmanager-shaped values go to the ingest decoder
 * (rec_decode_and_emit in recorded.c), as `quell run` reads them.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../ingest/ingest.h"
#include "recorded.h"
#include "recorded_int.h"

/* ---- mapped JSON lines --------------------------------------------------- */

static const cJSON *json_path(const cJSON *j, const char *path)
{
    const cJSON *direct = cJSON_GetObjectItemCaseSensitive(j, path);
    if (direct) return direct;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg && j; seg = strtok_r(NULL, ".", &save))
        j = cJSON_GetObjectItemCaseSensitive(j, seg);
    return j;
}

/* A scalar as text, in `num` (32 bytes) when it is no string; NULL: no
 * scalar. */
static const char *scalar_text(const cJSON *c, char *num)
{
    if (cJSON_IsString(c)) return c->valuestring;
    if (cJSON_IsBool(c)) return cJSON_IsTrue(c) ? "true" : "false";
    if (!cJSON_IsNumber(c)) return NULL;
    double d = c->valuedouble;
    if (d > -9e15 && d < 9e15 && d == (double)(long long)d) /* no UB cast */
        snprintf(num, 32, "%lld", (long long)d);
    else
        snprintf(num, 32, "%.17g", d);
    return num;
}

/* An array of scalars joined with ", " (malloc'd); NULL when it is empty,
 * holds anything else, or out of memory. */
static char *join_scalars(const cJSON *a, size_t *first_len)
{
    size_t cap = 0;
    char num[32];
    for (const cJSON *e = a->child; e; e = e->next) {
        const char *t = scalar_text(e, num);
        if (!t) return NULL;
        cap += strlen(t) + 2;
    }
    if (!cap) return NULL;
    char *out = malloc(cap + 1), *o = out;
    if (!out) return NULL;
    for (const cJSON *e = a->child; e; e = e->next) {
        const char *t = scalar_text(e, num);
        size_t l = strlen(t);
        if (o != out)
            *o++ = ',', *o++ = ' ';
        else
            *first_len = l;
        memcpy(o, t, l);
        o += l;
    }
    *o = '\0';
    return out;
}

/* One object through the mapping: a row. */
static void read_mapped_json(recorded_t *r, const char *file, size_t line, const cJSON *j,
                             recorded_fn fn, void *ctx)
{
    arena_reset(&r->arena);
    row_t row;
    row.n = 0;
    row.have_time = row.resolved = row.bad_time = row.have_end = row.time_is_start =
        row.have_changed = false;
    for (size_t m = 0; m < r->n_map; m++) {
        char num[32];
        const cJSON *src = json_path(j, r->map[m].source);
        const char *v = scalar_text(src, num);
        if (v) {
            rec_row_add(r, &row, r->map[m].label, v, strlen(v), true);
        } else if (cJSON_IsArray(src)) { /* as without a mapping: see flat_t */
            size_t first_len = 0;
            char *joined = join_scalars(src, &first_len);
            bool time = !strcmp(r->map[m].label, "time");
            if (joined)
                rec_row_add(r, &row, r->map[m].label, joined, time ? first_len : strlen(joined),
                            true);
            free(joined);
        }
    }
    rec_row_emit(r, &row, file, line, fn, ctx);
}

/* Any JSON object without a mapping: its scalar fields, nested ones named
 * with '_' (alert.signature -> alert_signature), roles guessed. An array
 * of scalars is one field too, its elements joined with ", " (Wazuh's
 * rule.groups, AMiner's AffectedLogAtomPaths: what an alert is about);
 * only its first element is read as a time (AMiner's LogData.Timestamps,
 * one per log line, the first line's its event's). */
#define MAX_FLAT 512 /* scalar fields of one object read without a mapping */
typedef struct {
    char *names[MAX_FLAT];
    const char *leaves[MAX_FLAT];  /* the field's own key: "description" of rule.description */
    const char *parents[MAX_FLAT]; /* the key of the object it sits in: "rule"; "" at the top */
    const char *vals[MAX_FLAT];
    size_t lens[MAX_FLAT];
    size_t first_lens[MAX_FLAT]; /* an array's first element; else lens */
    bool arrays[MAX_FLAT];
    char *owned[MAX_FLAT]; /* an array's joined value; freed with the names */
    char nums[MAX_FLAT][32];
    size_t n;
    /* JSON documents found inside string fields, read as objects there
     * (an SNS notification's Message: the CloudWatch alarm itself); the
     * leaves and parents point into them. */
    cJSON *inner[4];
    size_t n_inner;
} flat_t;

/* A name/value pair object: exactly two members, a string "name" or
 * "key" and a scalar "value" (any case). CloudWatch's Dimensions, AWS
 * tags and many webhooks write their labels as arrays of these. */
static bool name_value_pair(const cJSON *o, const cJSON **name, const cJSON **value)
{
    *name = *value = NULL;
    int members = 0;
    for (const cJSON *m = o->child; m; m = m->next, members++) {
        if (!m->string) return false;
        if (!strcasecmp(m->string, "name") || !strcasecmp(m->string, "key"))
            *name = m;
        else if (!strcasecmp(m->string, "value"))
            *value = m;
    }
    return members == 2 && cJSON_IsString(*name) && *(*name)->valuestring && *value &&
           !cJSON_IsObject(*value) && !cJSON_IsArray(*value) && !cJSON_IsNull(*value);
}

static void flat_add(flat_t *fl, const char *path, const cJSON *c, const char *leaf,
                     const char *parent);

/* An array of name/value pair objects, each pair one field named by its
 * name under the array's path (Dimensions_BucketName); false when some
 * element is no pair, and nothing is added. */
static bool flatten_pairs(flat_t *fl, const cJSON *a, const char *path)
{
    const cJSON *k, *v;
    if (!a->child) return false;
    for (const cJSON *e = a->child; e; e = e->next)
        if (!cJSON_IsObject(e) || !name_value_pair(e, &k, &v)) return false;
    for (const cJSON *e = a->child; e && fl->n < MAX_FLAT; e = e->next) {
        name_value_pair(e, &k, &v);
        char sub[256];
        int sl = snprintf(sub, sizeof sub, "%s_%s", path, k->valuestring);
        if (sl > 0 && (size_t)sl < sizeof sub) flat_add(fl, sub, v, k->valuestring, a->string);
    }
    return true;
}

static void flatten(flat_t *fl, const cJSON *j, const char *prefix, const char *parent, int depth)
{
    for (const cJSON *c = j->child; c && fl->n < MAX_FLAT; c = c->next) {
        if (!c->string) continue;
        char path[256];
        int pl = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "_" : "", c->string);
        if (pl < 0 || (size_t)pl >= sizeof path) continue; /* absurdly deep names: skipped */
        if (cJSON_IsObject(c)) {
            if (depth < 4) flatten(fl, c, path, c->string, depth + 1);
            continue;
        }
        if (cJSON_IsArray(c) && cJSON_IsObject(c->child) && flatten_pairs(fl, c, path)) continue;
        if (cJSON_IsString(c) && depth < 4 && fl->n_inner < sizeof fl->inner / sizeof *fl->inner) {
            const char *v = c->valuestring;
            while (isspace((unsigned char)*v)) v++;
            cJSON *inner = *v == '{' ? cJSON_Parse(v) : NULL;
            if (cJSON_IsObject(inner)) {
                fl->inner[fl->n_inner++] = inner;
                flatten(fl, inner, path, c->string, depth + 1);
                continue;
            }
            cJSON_Delete(inner);
        }
        flat_add(fl, path, c, c->string, parent);
    }
}

/* One scalar, or array of scalars, as field `path`. */
static void flat_add(flat_t *fl, const char *path, const cJSON *c, const char *leaf,
                     const char *parent)
{
    if (fl->n >= MAX_FLAT) return;
    size_t i = fl->n;
    fl->owned[i] = NULL;
    fl->arrays[i] = cJSON_IsArray(c);
    if (fl->arrays[i])
        fl->vals[i] = fl->owned[i] = join_scalars(c, &fl->first_lens[i]);
    else
        fl->vals[i] = scalar_text(c, fl->nums[i]);
    if (!fl->vals[i]) return;
    if (!(fl->names[i] = rec_label_safe(path))) {
        free(fl->owned[i]);
        return;
    }
    fl->leaves[i] = leaf;
    fl->parents[i] = parent;
    fl->lens[i] = strlen(fl->vals[i]);
    if (!fl->arrays[i]) fl->first_lens[i] = fl->lens[i];
    fl->n++;
}

static void flat_free(flat_t *fl)
{
    for (size_t i = 0; i < fl->n; i++) {
        free(fl->names[i]);
        free(fl->owned[i]);
    }
    for (size_t i = 0; i < fl->n_inner; i++) cJSON_Delete(fl->inner[i]);
}

const char *rec_last_word(const char *s, size_t len, size_t *word_len)
{
    size_t p = len;
    while (p > 0 && s[p - 1] != '_' && s[p - 1] != '-' && s[p - 1] != '.') {
        p--;
        if (p < len - 1 && isupper((unsigned char)s[p]) &&
            (p == 0 || !isupper((unsigned char)s[p - 1])))
            break;
    }
    *word_len = len - p;
    return s + p;
}

/* Whether a word names a thing an alert is about rather than the alert:
 * "name" in Wazuh's "agent" object is the host's, AMiner's
 * PersistenceFileName a file's ("Default" for every detector). */
static bool entity_word(const char *w, size_t len)
{
    static const char *const entities[] = {
        "file",  "host",     "user",      "process", "parent",      "domain", "path",
        "image", "computer", "account",   "device",  "machine",     "server", "node",
        "agent", "manager",  "interface", "source",  "destination", "client", "observer"};
    for (size_t i = 0; i < sizeof entities / sizeof *entities; i++)
        if (strlen(entities[i]) == len && !strncasecmp(w, entities[i], len)) return true;
    return false;
}

/* Whether a JSON key is role name `role` (ignoring case and '_'), or ends
 * with it as its last CamelCase or '_'-separated word when `suffix`
 * (AMiner's AnalysisComponentName, DetectionTimestamp), the word before
 * it, or else the last of the object it sits in (`parent`), naming no
 * entity (entity_word); an array's key may add a plural 's'
 * (Timestamps). */
bool rec_leaf_is_role(const char *leaf, const char *parent, bool array, const char *role,
                      bool suffix)
{
    size_t ll = strlen(leaf), rl = strlen(role), wl;
    const char *w;
    if (rec_role_name_eq(leaf, role)) {
        w = rec_last_word(parent, strlen(parent), &wl);
        return !entity_word(w, wl);
    }
    if (array && ll > 1 && (leaf[ll - 1] == 's' || leaf[ll - 1] == 'S')) {
        char one[128];
        if (ll - 1 < sizeof one) {
            memcpy(one, leaf, ll - 1);
            one[ll - 1] = '\0';
            if (rec_leaf_is_role(one, parent, false, role, suffix)) return true;
        }
    }
    if (!suffix || strchr(role, '_') || ll <= rl) return false;
    const char *word = leaf + ll - rl;
    bool boundary = isupper((unsigned char)word[0]) ? !isupper((unsigned char)word[-1])
                                                    : word[-1] == '_' || word[-1] == '-';
    if (!boundary || !rec_role_name_eq(word, role)) return false;
    size_t ql = (size_t)(word - leaf);
    while (ql && (leaf[ql - 1] == '_' || leaf[ql - 1] == '-')) ql--;
    w = rec_last_word(leaf, ql, &wl);
    return !entity_word(w, wl);
}

/* Whether a value is an encoded blob, not a name: an SNS notification's
 * "Signature" (344 characters of base64) beside the CloudWatch alarm in
 * its Message. */
static bool blob_value(const char *v, size_t len)
{
    if (len < 64) return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '+' && v[i] != '/' && v[i] != '=')
            return false;
    return true;
}

/* Whether a nested key's value reads as an alert's time: not a setting
 * that happens to be called "time" (Graylog's condition parameters carry
 * "time": 1, the minutes it looks back, which read as 1970). Any date from
 * 1990 on. */
bool rec_plausible_time(const char *v, size_t len)
{
    int64_t ms;
    return recorded_parse_time(v, len, &ms) && ms >= 631152000000LL;
}

/* Whether field i's value can play role q: a blob names nothing, and a
 * nested key (found by its own key) is a time only when it reads as one. */
static bool role_value_ok(const flat_t *fl, int q, size_t i, bool nested)
{
    if (q == ROLE_NAME) return !blob_value(fl->vals[i], fl->lens[i]);
    if (q == ROLE_TIME && nested) return rec_plausible_time(fl->vals[i], fl->first_lens[i]);
    return true;
}

/* Roles of a JSON object's fields: a full name as guess_roles reads it
 * first (alert_signature, rule_description); for a role none has, a
 * field's own key in the role's list order, equal to a role name before
 * ending with one: nested-JSON IDS outputs name their fields by the object
 * they sit in (AMiner: AnalysisComponent.AnalysisComponentName,
 * LogData.Timestamps), and their alert's name is the detector's, not its
 * type's (several detectors share one) nor its message's. With `exact_only`,
 * full names only (is an object a record, or a wrapper around some?).
 * Returns whether a value decided the guess: role_value_ok turned down a
 * field whose name fit. *time_nested: the time was found by its own key. */
static bool guess_json_roles_uncached(const flat_t *fl, int roles[ROLE__COUNT], bool exact_only,
                                      bool *time_nested)
{
    bool by_value = false;
    *time_nested = false;
    /* guess_roles, with role_value_ok */
    for (int q = 0; q < ROLE__COUNT; q++) {
        roles[q] = -1;
        for (size_t k = 0; rec_role_names[q][k] && roles[q] < 0; k++)
            for (size_t i = 0; i < fl->n && roles[q] < 0; i++) {
                bool taken = false;
                for (int o = 0; o < q; o++) taken |= roles[o] == (int)i;
                if (taken || !rec_role_name_eq(fl->names[i], rec_role_names[q][k])) continue;
                if (role_value_ok(fl, q, i, false))
                    roles[q] = (int)i;
                else
                    by_value = true;
            }
    }
    if (exact_only) return by_value;
    for (int q = 0; q < ROLE__COUNT; q++) {
        bool before = roles[q] >= 0;
        for (size_t k = 0; rec_role_names[q][k] && roles[q] < 0; k++)
            for (int suffix = 0; suffix < 2 && roles[q] < 0; suffix++)
                for (size_t i = 0; i < fl->n && roles[q] < 0; i++) {
                    bool taken = false;
                    for (int o = 0; o < ROLE__COUNT; o++) taken |= roles[o] == (int)i;
                    if (taken || !rec_leaf_is_role(fl->leaves[i], fl->parents[i], fl->arrays[i],
                                                   rec_role_names[q][k], suffix))
                        continue;
                    if (role_value_ok(fl, q, i, true))
                        roles[q] = (int)i;
                    else
                        by_value = true;
                }
        if (q == ROLE_TIME && !before && roles[q] >= 0) *time_nested = true;
    }
    return by_value;
}

_Static_assert(ROLE__COUNT == sizeof((recorded_t *)0)->roles_cache[0].roles /
                                  sizeof((recorded_t *)0)->roles_cache[0].roles[0],
               "recorded_t.roles_cache holds one index per role");

/* The shape of a flattened object (name NUL key NUL parent NUL kind, for
 * each field, after a byte saying exact_only) into r->shape; its length,
 * 0 when out of memory. */
static size_t shape_key(recorded_t *r, const flat_t *fl, bool exact_only)
{
    size_t len = 1;
    for (size_t i = 0; i < fl->n; i++)
        len += strlen(fl->names[i]) + strlen(fl->leaves[i]) + strlen(fl->parents[i]) + 4;
    if (len > r->shape_cap) {
        char *b = realloc(r->shape, len);
        if (!b) return 0;
        r->shape = b;
        r->shape_cap = len;
    }
    char *o = r->shape;
    *o++ = exact_only ? 'x' : 'k';
    for (size_t i = 0; i < fl->n; i++) {
        size_t nl = strlen(fl->names[i]) + 1, ll = strlen(fl->leaves[i]) + 1,
               pl = strlen(fl->parents[i]) + 1;
        memcpy(o, fl->names[i], nl);
        memcpy(o + nl, fl->leaves[i], ll);
        memcpy(o + nl + ll, fl->parents[i], pl);
        o += nl + ll + pl;
        *o++ = fl->arrays[i] ? 'a' : 's';
    }
    return len;
}

/* guess_json_roles_uncached, reusing the guess made for an object before
 * with the same fields (see recorded_t.roles_cache) when this object's
 * values fit it too. */
static void guess_json_roles(recorded_t *r, const flat_t *fl, int roles[ROLE__COUNT],
                             bool exact_only)
{
    size_t len = shape_key(r, fl, exact_only);
    for (size_t c = 0; len && c < ROLES_CACHED; c++) {
        if (!r->roles_cache[c].key || r->roles_cache[c].key_len != len ||
            memcmp(r->roles_cache[c].key, r->shape, len))
            continue;
        const int *kept = r->roles_cache[c].roles;
        if ((kept[ROLE_NAME] < 0 || role_value_ok(fl, ROLE_NAME, (size_t)kept[ROLE_NAME], false)) &&
            (kept[ROLE_TIME] < 0 || role_value_ok(fl, ROLE_TIME, (size_t)kept[ROLE_TIME],
                                                  r->roles_cache[c].time_nested))) {
            memcpy(roles, kept, sizeof r->roles_cache[c].roles);
            return;
        }
        break; /* a value of this object turns the kept guess down */
    }
    bool time_nested;
    if (guess_json_roles_uncached(fl, roles, exact_only, &time_nested) || !len) return;
    char *key = malloc(len);
    if (!key) return;
    memcpy(key, r->shape, len);
    size_t c = r->roles_next++ % ROLES_CACHED;
    free(r->roles_cache[c].key);
    r->roles_cache[c].key = key;
    r->roles_cache[c].key_len = len;
    r->roles_cache[c].time_nested = time_nested;
    memcpy(r->roles_cache[c].roles, roles, sizeof r->roles_cache[c].roles);
}

static void read_flat_row(recorded_t *r, const char *file, size_t line, flat_t *fl, recorded_fn fn,
                          void *ctx)
{
    int roles[ROLE__COUNT];
    guess_json_roles(r, fl, roles, false);
    if (roles[ROLE_TIME] >= 0) fl->lens[roles[ROLE_TIME]] = fl->first_lens[roles[ROLE_TIME]];
    arena_reset(&r->arena);
    row_t row;
    row.n = 0;
    row.have_time = row.resolved = row.bad_time = row.have_end = row.time_is_start =
        row.have_changed = false;
    rec_row_from_fields(r, &row, fl->names, fl->vals, fl->lens, fl->n, roles);
    flat_free(fl);
    rec_row_emit(r, &row, file, line, fn, ctx);
}

/* ---- JSON documents ------------------------------------------------------- */

/* Alertmanager-shaped: an alert ("labels"), a webhook payload ("alerts"),
 * or an array of alerts. These go through the ingest decoder. */
static bool prom_shaped(const cJSON *j)
{
    if (cJSON_IsArray(j)) j = j->child;
    return cJSON_IsObject(j) && (cJSON_GetObjectItemCaseSensitive(j, "labels") ||
                                 cJSON_GetObjectItemCaseSensitive(j, "alerts"));
}

bool recorded_is_alertmanager_json(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    bool yes = j && prom_shaped(j);
    while (yes && end < text + len && isspace((unsigned char)*end)) end++;
    cJSON_Delete(j);
    return yes && end == text + len;
}

/* Whether an object is one record itself: a mapped source resolves on it,
 * or (no mapping) a field names the alert (by its full name only when
 * `exact_only`: see guess_json_roles). */
static bool json_is_row(recorded_t *r, const cJSON *j, bool exact_only)
{
    if (r->has_map) {
        for (size_t m = 0; m < r->n_map; m++)
            if (json_path(j, r->map[m].source)) return true;
        return false;
    }
    flat_t fl;
    fl.n = fl.n_inner = 0;
    flatten(&fl, j, "", "", 0);
    int roles[ROLE__COUNT];
    guess_json_roles(r, &fl, roles, exact_only);
    flat_free(&fl);
    return roles[ROLE_NAME] >= 0;
}

/* An object of no string field of its own but what says which list it is
 * and where the next page is: counts, flags and objects, as an export's
 * envelope is ({"took": 3, "hits": {...}}; `kubectl get events -o json`:
 * {"apiVersion": "v1", "kind": "List", "items": [...]}). */
static bool json_envelope(const cJSON *j)
{
    static const char *const list_words[] = {"jsonrpc" /* Zabbix's API */,
                                             "apiVersion",
                                             "kind",
                                             "object",
                                             "next",
                                             "next_page",
                                             "nextPageToken",
                                             "cursor",
                                             "next_cursor",
                                             "continue",
                                             "self",
                                             NULL};
    for (const cJSON *c = j->child; c; c = c->next) {
        if (!cJSON_IsString(c)) continue;
        bool listing = false;
        for (size_t i = 0; list_words[i] && !listing; i++)
            listing = c->string && rec_role_name_eq(c->string, list_words[i]);
        if (!listing) return false;
    }
    return true;
}

/* The records of an export wrapper ({"messages": [...]}, {"Records":
 * [...]}, {"hits": {"hits": [...]}}): the first array of objects among its
 * fields, or their fields'. Without a mapping only through envelopes: an
 * alert that carries a list of objects (New Relic's "targets", PagerDuty's
 * "links", Graylog's matching messages) stays one record. NULL: none. */
static const cJSON *json_records(const cJSON *j, int depth, bool envelopes_only)
{
    if (envelopes_only && !json_envelope(j)) return NULL;
    for (const cJSON *c = j->child; c; c = c->next)
        if (cJSON_IsArray(c) && cJSON_IsObject(c->child)) return c;
    if (depth > 0)
        for (const cJSON *c = j->child; c; c = c->next) {
            const cJSON *inner =
                cJSON_IsObject(c) ? json_records(c, depth - 1, envelopes_only) : NULL;
            if (inner) return inner;
        }
    return NULL;
}

/* A PagerDuty Events v2 event with its dedup_key (without one, the intake
 * makes a random key up, which replay must not: its output is a function
 * of the input bytes). */
static bool pd_event(const cJSON *j)
{
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(j, "event_action");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "dedup_key");
    return cJSON_IsString(action) && cJSON_IsString(key) && key->valuestring[0] &&
           cJSON_GetObjectItemCaseSensitive(j, "routing_key");
}

/* A PagerDuty event as the intake (POST /v2/enqueue) turns it into an
 * alert: labels alertname="pagerduty" and dedup_key, so a resolve, which
 * has no payload, meets its trigger; the routing key (a secret) is no
 * label. */
static void read_pd_event(recorded_t *r, const char *file, size_t line, const cJSON *j,
                          recorded_fn fn, void *ctx)
{
    char *body = cJSON_PrintUnformatted(j), *alert_json = NULL, key[300], why[256];
    const char *pd_status = NULL;
    if (!body) return;
    if (intake_pd_to_alert(body, strlen(body), &alert_json, key, sizeof key, &pd_status, why,
                           sizeof why) != QERR_OK) {
        r->errors++;
        rec_report(r, file, line, "not read: PagerDuty event (%s): %s", pd_status, why);
    } else {
        /* The event's own time when it gives one (payload.timestamp);
         * the intake stamps the time it arrived instead. */
        size_t n = strlen(alert_json);
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "payload"), "timestamp");
        int64_t t;
        if (cJSON_IsString(ts) && rec_read_time(r, ts->valuestring, strlen(ts->valuestring), &t))
            t = rec_next_time(r, true, t);
        else
            t = rec_prom_time(r, alert_json, n);
        rec_decode_and_emit(r, file, line, INGEST_FORMAT_JSON, alert_json, n, t, false, fn, ctx);
    }
    cJSON_free(alert_json);
    cJSON_free(body);
}

/* ---- Prometheus's HTTP API: ALERTS over time, rules' alerts -------------- */

/* An alert of Prometheus's API as a row: its labels but __name__ and
 * alertstate, at `ms`, firing or resolved. */
static void prom_api_row(recorded_t *r, const char *file, size_t line, const cJSON *labels,
                         int64_t ms, bool resolved, recorded_fn fn, void *ctx)
{
    arena_reset(&r->arena);
    row_t row;
    row.n = 0;
    row.have_time = true;
    row.bad_time = row.have_end = row.time_is_start = row.have_changed = false;
    row.time_ms = ms;
    row.resolved = resolved;
    for (const cJSON *l = labels->child; l; l = l->next)
        if (l->string && cJSON_IsString(l) && strcmp(l->string, "__name__") &&
            strcmp(l->string, "alertstate"))
            rec_row_add(r, &row, l->string, l->valuestring, strlen(l->valuestring), false);
    rec_row_emit(r, &row, file, line, fn, ctx);
}

/* A sample's time: [1701000000.123, "1"]. */
static bool prom_sample_ms(const cJSON *v, int64_t *ms)
{
    const cJSON *t = cJSON_IsArray(v) ? v->child : NULL;
    if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 1e11) return false;
    *ms = (int64_t)(t->valuedouble * 1000.0 + 0.5);
    return true;
}

/* A response of Prometheus's HTTP API (Thanos and Mimir answer the same),
 * as `curl` saves it; false when j is none:
 *   - /api/v1/query_range?query=ALERTS (resultType "matrix"): the alerts
 *     Prometheus held firing at each step. Each sample is the alert sent
 *     again, as Prometheus resends firing alerts to Alertmanager; a gap in
 *     a series longer than a step and a half is the alert resolved one
 *     step after its last sample, and so is a series that stops before the
 *     others end. The step is the shortest one between two samples.
 *   - /api/v1/query?query=ALERTS (resultType "vector"): each series once.
 *   - /api/v1/alerts: the rules' alerts, each at its activeAt.
 * Pending alerts (alertstate or state "pending") never reached
 * Alertmanager: skipped, and counted. A series without an alertname is
 * not an alert: refused with its reason. */
static bool read_prom_api(recorded_t *r, const char *file, size_t line, const cJSON *j,
                          recorded_fn fn, void *ctx)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (!cJSON_IsObject(data) || !cJSON_IsString(status)) return false;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(data, "resultType");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result");
    const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(data, "alerts");
    uint64_t pending = 0;
    if (cJSON_IsArray(alerts)) { /* /api/v1/alerts */
        for (const cJSON *a = alerts->child; a; a = a->next) {
            const cJSON *labels = cJSON_GetObjectItemCaseSensitive(a, "labels");
            const cJSON *state = cJSON_GetObjectItemCaseSensitive(a, "state");
            const cJSON *at = cJSON_GetObjectItemCaseSensitive(a, "activeAt");
            int64_t ms;
            if (!cJSON_IsObject(labels)) {
                r->errors++;
                rec_report(r, file, line, "not read: a Prometheus alert without labels");
                continue;
            }
            if (cJSON_IsString(state) && strcmp(state->valuestring, "firing")) {
                pending++;
                continue;
            }
            bool timed = cJSON_IsString(at) &&
                         rec_read_time(r, at->valuestring, strlen(at->valuestring), &ms);
            prom_api_row(r, file, line, labels, timed ? ms : 0, false, fn, ctx);
        }
    } else if (cJSON_IsString(type) && cJSON_IsArray(result) &&
               (!strcmp(type->valuestring, "matrix") || !strcmp(type->valuestring, "vector"))) {
        bool matrix = !strcmp(type->valuestring, "matrix");
        int64_t step = 0, last_ms = INT64_MIN, ms, prev;
        for (const cJSON *s = result->child; matrix && s; s = s->next) {
            prev = INT64_MIN;
            const cJSON *values = cJSON_GetObjectItemCaseSensitive(s, "values");
            for (const cJSON *v = cJSON_IsArray(values) ? values->child : NULL; v; v = v->next) {
                if (!prom_sample_ms(v, &ms)) continue;
                if (prev != INT64_MIN && ms > prev && (!step || ms - prev < step)) step = ms - prev;
                if (ms > last_ms) last_ms = ms;
                prev = ms;
            }
        }
        if (!step) step = 60000; /* one sample a series: Prometheus's default evaluation */
        for (const cJSON *s = result->child; s; s = s->next) {
            const cJSON *metric = cJSON_GetObjectItemCaseSensitive(s, "metric");
            const cJSON *state = cJSON_GetObjectItemCaseSensitive(metric, "alertstate");
            if (!cJSON_IsObject(metric) ||
                !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(metric, "alertname"))) {
                r->errors++;
                rec_report(r, file, line,
                           "not read: a series without an alertname (query ALERTS, the series "
                           "Prometheus keeps of its alerts)");
                continue;
            }
            bool firing = !cJSON_IsString(state) || !strcmp(state->valuestring, "firing");
            if (!matrix) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "value");
                if (!firing)
                    pending++;
                else if (prom_sample_ms(v, &ms))
                    prom_api_row(r, file, line, metric, ms, false, fn, ctx);
                continue;
            }
            const cJSON *values = cJSON_GetObjectItemCaseSensitive(s, "values");
            prev = INT64_MIN;
            for (const cJSON *v = cJSON_IsArray(values) ? values->child : NULL; v; v = v->next) {
                if (!prom_sample_ms(v, &ms)) continue;
                if (!firing) {
                    pending++;
                    continue;
                }
                if (prev != INT64_MIN && ms - prev > step + step / 2)
                    prom_api_row(r, file, line, metric, prev + step, true, fn, ctx);
                prom_api_row(r, file, line, metric, ms, false, fn, ctx);
                prev = ms;
            }
            if (prev != INT64_MIN && prev < last_ms - step / 2)
                prom_api_row(r, file, line, metric, prev + step, true, fn, ctx);
        }
    } else {
        return false;
    }
    if (pending)
        rec_report(r, file, line,
                   "%llu pending alert samples skipped (alertstate pending: not yet firing, never "
                   "sent to Alertmanager)",
                   (unsigned long long)pending);
    return true;
}

/* One JSON value of the input, starting at `line`: an object is a row (or,
 * an export wrapper that is no row itself, its records); an array is its
 * elements, each read so. Alertmanager-shaped values without a mapping go
 * through the ingest decoder, as `quell run` reads them; `text` is the
 * value's bytes when it is the top-level one (NULL for nested values,
 * which are printed again for the decoder). `depth` bounds the unwrapping. */
static void read_json_value(recorded_t *r, const char *file, size_t line, const cJSON *j,
                            const char *text, size_t len, int depth, recorded_fn fn, void *ctx)
{
    if (!r->has_map && cJSON_IsObject(j) && pd_event(j)) {
        read_pd_event(r, file, line, j, fn, ctx);
        return;
    }
    if (!r->has_map && cJSON_IsObject(j) && read_prom_api(r, file, line, j, fn, ctx)) return;
    if (!r->has_map && prom_shaped(j)) {
        char *printed = text ? NULL : cJSON_PrintUnformatted(j);
        if (!text && !printed) return;
        const char *t = text ? text : printed;
        size_t tl = text ? len : strlen(printed);
        rec_decode_and_emit(r, file, line, INGEST_FORMAT_JSON, t, tl, rec_prom_time(r, t, tl),
                            false, fn, ctx);
        free(printed);
        return;
    }
    if (cJSON_IsArray(j)) {
        if (depth <= 0) {
            r->errors++;
            rec_report(r, file, line, "not read: arrays nested too deep");
            return;
        }
        bool any_object = false;
        for (const cJSON *e = j->child; e; e = e->next) any_object |= cJSON_IsObject(e);
        if (j->child && !any_object) { /* [1, 2]: a line that is no record */
            r->errors++;
            rec_report(r, file, line, "not read: not a JSON object");
            return;
        }
        for (const cJSON *e = j->child; e; e = e->next) {
            if (cJSON_IsObject(e)) {
                read_json_value(r, file, line, e, NULL, 0, depth - 1, fn, ctx);
            } else {
                r->errors++;
                rec_report(r, file, line, "not read: an array element that is not a JSON object");
            }
        }
        return;
    }
    if (!cJSON_IsObject(j)) {
        r->errors++;
        rec_report(r, file, line, "not read: not a JSON object");
        return;
    }
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(j, "event_type");
    if (cJSON_IsString(et) && rec_eve_not_alert(et->valuestring)) {
        r->not_alerts++;
        return;
    }
    if (r->has_map) {
        const cJSON *records =
            depth > 0 && !json_is_row(r, j, true) ? json_records(j, 1, false) : NULL;
        if (records)
            read_json_value(r, file, line, records, NULL, 0, depth - 1, fn, ctx);
        else
            read_mapped_json(r, file, line, j, fn, ctx);
        return;
    }
    /* Flattened once: for whether it is a record or a wrapper around
     * some, and for its row (flattening twice was 28% of replaying EVE). */
    flat_t fl;
    fl.n = fl.n_inner = 0;
    flatten(&fl, j, "", "", 0);
    int roles[ROLE__COUNT];
    guess_json_roles(r, &fl, roles, true);
    const cJSON *records = depth > 0 && roles[ROLE_NAME] < 0 ? json_records(j, 1, true) : NULL;
    /* An object named by a key of its own (an AMiner alert), whose array of
     * objects holds no records (AffectedLogAtomValues of some detectors),
     * is a record, not their wrapper; a wrapper with a "name" of its own
     * around records stays one. */
    if (records) {
        guess_json_roles(r, &fl, roles, false);
        if (roles[ROLE_NAME] >= 0 && !json_is_row(r, records->child, false)) records = NULL;
    }
    if (records) {
        flat_free(&fl);
        read_json_value(r, file, line, records, NULL, 0, depth - 1, fn, ctx);
    } else {
        read_flat_row(r, file, line, &fl, fn, ctx);
    }
}

/* JSON text: one document, JSON lines, or documents one after another
 * however they are laid out (pretty-printed, as jq prints them). A stretch
 * that does not parse is skipped to the end of its line and reported. One
 * document filling the whole input is a file, not a Kafka message, so
 * ingest.max_message_bytes does not apply to it. */
void rec_read_json_text(recorded_t *r, const char *file, const char *buf, size_t len,
                        recorded_fn fn, void *ctx)
{
    const char *p = buf, *end = buf + len;
    size_t line = 1;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* BOM */
    bool first = true;
    while (p < end) {
        while (p < end && isspace((unsigned char)*p)) line += *p++ == '\n';
        if (p >= end) break;
        const char *doc_end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &doc_end, false);
        if (!j || !doc_end || doc_end <= p) {
            cJSON_Delete(j);
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (r->has_map) {
                r->errors++;
                rec_report(r, file, line, "not read: not a JSON object");
            } else {
                /* the decoder's reason (bad_json, bad_utf8, ...) */
                rec_decode_and_emit(r, file, line, INGEST_FORMAT_JSON, p, l, rec_prom_time(r, p, l),
                                    false, fn, ctx);
            }
            p += l;
            first = false;
            continue;
        }
        const char *rest = doc_end;
        while (rest < end && isspace((unsigned char)*rest)) rest++;
        size_t saved_max = r->limits.max_message_bytes;
        if (first && rest == end && (size_t)(doc_end - p) > saved_max)
            r->limits.max_message_bytes = (size_t)(doc_end - p);
        read_json_value(r, file, line, j, p, (size_t)(doc_end - p), 2, fn, ctx);
        r->limits.max_message_bytes = saved_max;
        cJSON_Delete(j);
        for (const char *c = p; c < doc_end; c++) line += *c == '\n';
        p = doc_end;
        first = false;
    }
}
