/*
 * Recurring time intervals (Alertmanager's time_intervals) and the IANA
 * time zones they are written in.
 *
 * Zones: the system's compiled tzdata (/usr/share/zoneinfo, TZif v2+) is
 * read once per zone when the rule set is compiled; evaluation is then a
 * binary search over the zone's transitions: no TZ environment variable, no
 * localtime(), nothing shared, so any thread may evaluate. Beyond the last
 * transition in the file (2037 in Debian's "fat" tzdata) the last offset is
 * kept; the file's POSIX TZ footer is not interpreted.
 *
 * Interval semantics are Alertmanager's: every field given must match
 * (times: [start, end) minutes of day; weekdays, days_of_month with negative
 * days counted from the month's end, months, years: inclusive ranges); an
 * empty interval matches always; a list of intervals matches when any does.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_int.h"

/* ---- zones ------------------------------------------------------------ */

struct tz_zone {
    char *name;
    size_t n;           /* transitions */
    int64_t *at;        /* Unix seconds, ascending */
    int32_t *off_after; /* UTC offset (s) from at[i] on */
    int32_t off_before; /* before the first transition */
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

void tz_zone_free(tz_zone_t *z)
{
    if (!z) return;
    free(z->name);
    free(z->at);
    free(z->off_after);
    free(z);
}

static bool zone_name_ok(const char *name)
{
    if (!*name || name[0] == '/' || strstr(name, "..")) return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p)) return false;
    return true;
}

tz_zone_t *tz_zone_load(const char *name, char *errbuf, size_t errlen)
{
    tz_zone_t *z = calloc(1, sizeof *z);
    unsigned char *buf = NULL;
    if (!z) goto oom;
    z->name = strdup(name);
    if (!z->name) goto oom;
    if (!strcmp(name, "UTC") || !strcmp(name, "")) return z;
    char path[512];
    if (!strcmp(name, "Local")) {
        snprintf(path, sizeof path, "/etc/localtime");
    } else if (zone_name_ok(name)) {
        const char *dir = getenv("TZDIR");
        snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    } else {
        snprintf(errbuf, errlen, "unknown time zone \"%s\"", name);
        goto fail;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(errbuf, errlen, "unknown time zone \"%s\" (no %s)", name, path);
        goto fail;
    }
    size_t cap = 1 << 16, len = 0;
    buf = malloc(cap);
    if (buf) len = fread(buf, 1, cap, fp);
    fclose(fp);
    if (!buf) goto oom;
    /* Header: "TZif", version, 15 reserved, six counts. v1 data (32-bit)
     * comes first; v2+ repeats it with 64-bit times after a second header. */
    if (len < 44 || memcmp(buf, "TZif", 4) != 0) goto bad;
    const unsigned char *h = buf;
    uint32_t isutc = be32(h + 20), isstd = be32(h + 24), leap = be32(h + 28),
             timecnt = be32(h + 32), typecnt = be32(h + 36), charcnt = be32(h + 40);
    size_t tsize = 4;
    size_t pos = 44;
    if (h[4] >= '2') {
        pos += timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isutc;
        if (pos + 44 > len || memcmp(buf + pos, "TZif", 4) != 0) goto bad;
        h = buf + pos;
        isutc = be32(h + 20);
        isstd = be32(h + 24);
        leap = be32(h + 28);
        timecnt = be32(h + 32);
        typecnt = be32(h + 36);
        charcnt = be32(h + 40);
        tsize = 8;
        pos += 44;
    }
    if (typecnt == 0 || typecnt > 256 || timecnt > 100000) goto bad;
    if (pos + timecnt * (tsize + 1) + typecnt * 6 > len) goto bad;
    const unsigned char *times = buf + pos, *idx = times + timecnt * tsize, *types = idx + timecnt;
    z->n = timecnt;
    z->at = malloc((timecnt ? timecnt : 1) * sizeof *z->at);
    z->off_after = malloc((timecnt ? timecnt : 1) * sizeof *z->off_after);
    if (!z->at || !z->off_after) goto oom;
    for (uint32_t i = 0; i < timecnt; i++) {
        z->at[i] = tsize == 8 ? be64(times + i * 8) : (int64_t)(int32_t)be32(times + i * 4);
        if (idx[i] >= typecnt) goto bad;
        z->off_after[i] = (int32_t)be32(types + idx[i] * 6);
    }
    /* Before the first transition: the first non-DST type (RFC 8536). */
    z->off_before = (int32_t)be32(types);
    for (uint32_t t = 0; t < typecnt; t++)
        if (!types[t * 6 + 4]) {
            z->off_before = (int32_t)be32(types + t * 6);
            break;
        }
    free(buf);
    return z;
bad:
    snprintf(errbuf, errlen, "time zone \"%s\": not a TZif file", name);
    goto fail;
oom:
    snprintf(errbuf, errlen, "out of memory");
fail:
    free(buf);
    tz_zone_free(z);
    return NULL;
}

int32_t tz_offset(const tz_zone_t *z, int64_t unix_s)
{
    if (!z || z->n == 0) return z ? z->off_before : 0;
    if (unix_s < z->at[0]) return z->off_before;
    size_t lo = 0, hi = z->n; /* last transition <= unix_s */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= unix_s)
            lo = mid;
        else
            hi = mid;
    }
    return z->off_after[lo];
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

void local_time(const tz_zone_t *z, int64_t now_ms, local_tm_t *out)
{
    int64_t s = (now_ms >= 0 ? now_ms / 1000 : (now_ms - 999) / 1000);
    int64_t l = s + tz_offset(z, s);
    int64_t days = l >= 0 ? l / 86400 : (l - 86399) / 86400;
    int64_t sod = l - days * 86400;
    time_civil_from_days(days, &out->year, &out->month, &out->mday);
    out->wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    out->minute_of_day = (int)(sod / 60);
    out->mdays = days_in_month(out->year, out->month);
}

/* ---- intervals -------------------------------------------------------- */

static bool in_ranges(const int32_t (*r)[2], size_t n, int v)
{
    if (n == 0) return true;
    for (size_t i = 0; i < n; i++)
        if (v >= r[i][0] && v <= r[i][1]) return true;
    return false;
}

bool time_interval_contains(const time_interval_t *ti, int64_t now_ms)
{
    local_tm_t t;
    local_time(ti->zone, now_ms, &t);
    if (ti->n_times) {
        bool ok = false;
        for (size_t i = 0; i < ti->n_times; i++)
            if (t.minute_of_day >= ti->times[i][0] && t.minute_of_day < ti->times[i][1]) ok = true;
        if (!ok) return false;
    }
    if (ti->weekdays && !(ti->weekdays & (1u << t.wday))) return false;
    if (ti->months && !(ti->months & (1u << t.month))) return false;
    if (!in_ranges(ti->years, ti->n_years, t.year)) return false;
    if (ti->n_mdays) {
        bool ok = false;
        for (size_t i = 0; i < ti->n_mdays; i++) {
            /* Negative days count from the end: -1 is the last day. */
            int b = ti->mdays[i][0] < 0 ? t.mdays + 1 + ti->mdays[i][0] : ti->mdays[i][0];
            int e = ti->mdays[i][1] < 0 ? t.mdays + 1 + ti->mdays[i][1] : ti->mdays[i][1];
            if (b < 1) b = 1;
            if (e > t.mdays) e = t.mdays;
            if (t.mday >= b && t.mday <= e) ok = true;
        }
        if (!ok) return false;
    }
    return true;
}

void time_interval_free(time_interval_t *ti)
{
    free(ti->times);
    free(ti->years);
    free(ti->mdays);
    memset(ti, 0, sizeof *ti);
}

/* ---- compile ---------------------------------------------------------- */

static const char *const weekday_names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday"};
static const char *const month_names[] = {"january",   "february", "march",    "april",
                                          "may",       "june",     "july",     "august",
                                          "september", "october",  "november", "december"};

#define FAIL_AT(node, ...) return conf_fail_at(errbuf, errlen, path, (node), __VA_ARGS__)

static bool parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < -100000 || v > 100000) return false;
    *out = (int)v;
    return true;
}

/* A name from `names` (case-insensitive) or, when numeric_ok, 1-based
 * number; returns the index + base, -1 when unknown. */
static int lookup_name(const char *s, size_t len, const char *const *names, int n, int base,
                       bool numeric_ok)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], s, len) == 0) return i + base;
    if (numeric_ok) {
        char tmp[16];
        if (len >= sizeof tmp) return -1;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        int v;
        if (parse_int(tmp, &v) && v >= 1 && v <= n) return v;
    }
    return -1;
}

/* "a" or "a:b" into [lo, hi]. */
static bool split_range(const char *s, const char **a, size_t *al, const char **b, size_t *bl)
{
    const char *colon = strchr(s, ':');
    /* a leading '-' is a sign, not a separator */
    *a = s;
    if (!colon) {
        *al = strlen(s);
        *b = s;
        *bl = *al;
        return *al > 0;
    }
    *al = (size_t)(colon - s);
    *b = colon + 1;
    *bl = strlen(*b);
    return *al > 0 && *bl > 0;
}

static qerr_t push_range(int32_t (**arr)[2], size_t *n, int lo, int hi)
{
    int32_t(*v)[2] = realloc(*arr, (*n + 1) * sizeof **arr);
    if (!v) return QERR_NOMEM;
    v[*n][0] = lo;
    v[*n][1] = hi;
    *arr = v;
    (*n)++;
    return QERR_OK;
}

static bool parse_hhmm(const char *s, int *min)
{
    int h, m;
    char extra;
    if (sscanf(s, "%d:%d%c", &h, &m, &extra) != 2) return false;
    if (strlen(s) != 5 || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0)) return false;
    *min = h * 60 + m;
    return true;
}

qerr_t time_interval_compile(const conf_node_t *node, const char *path, zone_cache_t *zones,
                             time_interval_t *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (node->kind != CONF_NODE_MAP) FAIL_AT(node, "a time interval must be a map");
    for (size_t k = 0; k < node->n; k++) {
        const conf_node_t *key = conf_node_key(node, k), *v = &node->items[k];
        const char *kn = key->text;
        if (!strcmp(kn, "location")) {
            if (v->kind != CONF_NODE_SCALAR) FAIL_AT(v, "location must be a time zone name");
            char why[256];
            out->zone = zone_cache_get(zones, v->text, why, sizeof why);
            if (!out->zone) FAIL_AT(v, "%s", why);
            continue;
        }
        bool known = !strcmp(kn, "times") || !strcmp(kn, "weekdays") ||
                     !strcmp(kn, "days_of_month") || !strcmp(kn, "months") || !strcmp(kn, "years");
        if (!known)
            FAIL_AT(key,
                    "unknown time interval key \"%s\" (times, weekdays, days_of_month, "
                    "months, years, location)",
                    kn);
        if (v->kind != CONF_NODE_SEQ) FAIL_AT(v, "%s must be a list", kn);
        for (size_t i = 0; i < v->n; i++) {
            const conf_node_t *it = &v->items[i];
            if (!strcmp(kn, "times")) {
                const conf_node_t *st = conf_node_get(it, "start_time"),
                                  *et = conf_node_get(it, "end_time");
                int a, b;
                if (it->kind != CONF_NODE_MAP || !st || !et)
                    FAIL_AT(it, "times entries need start_time and end_time");
                if (!parse_hhmm(st->text, &a)) FAIL_AT(st, "start_time must be HH:MM");
                if (!parse_hhmm(et->text, &b)) FAIL_AT(et, "end_time must be HH:MM");
                if (b <= a) FAIL_AT(et, "end_time must be after start_time");
                if (push_range(&out->times, &out->n_times, a, b)) FAIL_AT(it, "out of memory");
                continue;
            }
            if (it->kind != CONF_NODE_SCALAR) FAIL_AT(it, "%s entries must be strings", kn);
            const char *a, *b;
            size_t al, bl;
            if (!split_range(it->text, &a, &al, &b, &bl)) FAIL_AT(it, "bad range \"%s\"", it->text);
            if (!strcmp(kn, "weekdays")) {
                int lo = lookup_name(a, al, weekday_names, 7, 0, false),
                    hi = lookup_name(b, bl, weekday_names, 7, 0, false);
                if (lo < 0 || hi < 0) FAIL_AT(it, "unknown weekday in \"%s\"", it->text);
                if (hi < lo) FAIL_AT(it, "weekday range \"%s\" ends before it starts", it->text);
                for (int d = lo; d <= hi; d++) out->weekdays |= (uint8_t)(1u << d);
            } else if (!strcmp(kn, "months")) {
                int lo = lookup_name(a, al, month_names, 12, 1, true),
                    hi = lookup_name(b, bl, month_names, 12, 1, true);
                if (lo < 0 || hi < 0) FAIL_AT(it, "unknown month in \"%s\"", it->text);
                if (hi < lo) FAIL_AT(it, "month range \"%s\" ends before it starts", it->text);
                for (int m = lo; m <= hi; m++) out->months |= 1u << m;
            } else {
                char ta[16], tb[16];
                int lo, hi;
                if (al >= sizeof ta || bl >= sizeof tb) FAIL_AT(it, "bad range \"%s\"", it->text);
                memcpy(ta, a, al);
                ta[al] = '\0';
                memcpy(tb, b, bl);
                tb[bl] = '\0';
                if (!parse_int(ta, &lo) || !parse_int(tb, &hi))
                    FAIL_AT(it, "bad number in \"%s\"", it->text);
                if (!strcmp(kn, "years")) {
                    if (hi < lo) FAIL_AT(it, "year range \"%s\" ends before it starts", it->text);
                    if (push_range(&out->years, &out->n_years, lo, hi))
                        FAIL_AT(it, "out of memory");
                } else {
                    bool ok = lo != 0 && hi != 0 && lo >= -31 && lo <= 31 && hi >= -31 && hi <= 31;
                    if (ok && (lo > 0) == (hi > 0) && hi < lo) ok = false;
                    if (ok && lo > 0 && hi < 0) ok = true; /* e.g. 15:-1 */
                    if (ok && lo < 0 && hi > 0) ok = false;
                    if (!ok)
                        FAIL_AT(it, "bad day-of-month range \"%s\" (1..31 or -31..-1)", it->text);
                    if (push_range(&out->mdays, &out->n_mdays, lo, hi))
                        FAIL_AT(it, "out of memory");
                }
            }
        }
    }
    return QERR_OK;
}

/* ---- zone cache ------------------------------------------------------- */

struct zone_cache {
    tz_zone_t **v;
    size_t n;
};

zone_cache_t *zone_cache_new(void) { return calloc(1, sizeof(zone_cache_t)); }

void zone_cache_destroy(zone_cache_t *zc)
{
    if (!zc) return;
    for (size_t i = 0; i < zc->n; i++) tz_zone_free(zc->v[i]);
    free(zc->v);
    free(zc);
}

const tz_zone_t *zone_cache_get(zone_cache_t *zc, const char *name, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < zc->n; i++)
        if (!strcmp(zc->v[i]->name, name)) return zc->v[i];
    tz_zone_t *z = tz_zone_load(name, errbuf, errlen);
    if (!z) return NULL;
    tz_zone_t **v = realloc(zc->v, (zc->n + 1) * sizeof *v);
    if (!v) {
        tz_zone_free(z);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    zc->v = v;
    zc->v[zc->n++] = z;
    return z;
}
