/*
 * The bytes of recorded traffic (see recorded.h): times as exports spell
 * them, text encodings (UTF-16 with a byte order mark, invalid UTF-8),
 * CSV records, label names, status words, and which reader a file needs.
 * Pure functions of their arguments: no reader state, no clock, so each is
 * tested on its own (test_suggest) and fuzzed through the readers
 * (fuzz_recorded). Any thread.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "recorded_int.h"

bool rec_label_name_ok(const char *s)
{
    if (!s[0] || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_')) return false;
    return true;
}

/* A column name made into a label name: other bytes become '_', a leading
 * digit gets a '_' before it. */
char *rec_label_safe(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n + 2);
    if (!o) return NULL;
    size_t k = 0;
    if (!n || isdigit((unsigned char)s[0])) o[k++] = '_';
    for (size_t i = 0; i < n; i++)
        o[k++] = isalnum((unsigned char)s[i]) || s[i] == '_' ? s[i] : '_';
    o[k] = '\0';
    return o;
}

/* Reads 1..max digits at *i. */
static bool num_at(const char *s, size_t len, size_t *i, int max, long *out, int *digits)
{
    long v = 0;
    int n = 0;
    while (*i < len && n < max && isdigit((unsigned char)s[*i]))
        v = v * 10 + (s[(*i)++] - '0'), n++;
    *out = v;
    if (digits) *digits = n;
    return n > 0;
}

static bool clock_at(const char *s, size_t len, size_t *i, long *h, long *mi, long *sec,
                     long *frac_ms, rec_time_info_t *info)
{
    /* h:mm[:ss[.frac]] [AM|PM]: seconds are left out by spreadsheets
     * ("5/7/2017 8:42"), a 12-hour clock by US exports ("3:30:12 PM"). */
    *sec = 0, *frac_ms = 0;
    if (!num_at(s, len, i, 2, h, NULL) || *i >= len || s[(*i)++] != ':' ||
        !num_at(s, len, i, 2, mi, NULL))
        return false;
    if (info) info->clock = true, info->hour = (int)*h;
    if (*i + 1 < len && s[*i] == ':' && isdigit((unsigned char)s[*i + 1])) {
        (*i)++;
        num_at(s, len, i, 2, sec, NULL);
        if (*i < len && (s[*i] == '.' || s[*i] == ',')) {
            (*i)++;
            int n = 0;
            while (*i < len && isdigit((unsigned char)s[*i])) {
                if (n < 3) *frac_ms = *frac_ms * 10 + (s[*i] - '0');
                n++, (*i)++;
            }
            if (!n) return false;
            for (; n < 3; n++) *frac_ms *= 10;
        }
    }
    size_t k = *i;
    while (k < len && s[k] == ' ') k++;
    /* AM, PM, or a.m., p.m. (Canadian, Australian locales) */
    bool dotted =
        len - k >= 4 && s[k + 1] == '.' && (s[k + 2] == 'M' || s[k + 2] == 'm') && s[k + 3] == '.';
    size_t marker = dotted ? 4 : 2;
    if (len - k >= 2 && (s[k] == 'A' || s[k] == 'a' || s[k] == 'P' || s[k] == 'p') &&
        (dotted || s[k + 1] == 'M' || s[k + 1] == 'm') &&
        (k + marker == len || !isalpha((unsigned char)s[k + marker]))) {
        if (*h < 1 || *h > 12) return false;
        bool pm = s[k] == 'P' || s[k] == 'p';
        *h = *h % 12 + (pm ? 12 : 0);
        *i = k + marker;
        if (info) info->ampm = true;
    }
    return true;
}

/* Zone abbreviations with one offset the world agrees on, as logs and
 * Java's Date write them. Ambiguous ones are read as North America's
 * (CST: Central, not China) as most parsers do; IST is not read at all
 * (India, Ireland, Israel). */
static const struct {
    const char *name;
    int minutes;
} zone_abbrevs[] = {
    {"EST", -300}, {"EDT", -240}, {"CST", -360},  {"CDT", -300},  {"MST", -420}, {"MDT", -360},
    {"PST", -480}, {"PDT", -420}, {"AKST", -540}, {"AKDT", -480}, {"HST", -600}, {"WET", 0},
    {"WEST", 60},  {"BST", 60},   {"CET", 60},    {"CEST", 120},  {"MET", 60},   {"MEST", 120},
    {"EET", 120},  {"EEST", 180}, {"MSK", 180},   {"SGT", 480},   {"HKT", 480},  {"JST", 540},
    {"KST", 540},  {"AEST", 600}, {"AEDT", 660},  {"NZST", 720},  {"NZDT", 780},
};

/* A zone at *i: Z; UTC or GMT, maybe with an offset (GMT+1,
 * UTC+05:30); an offset +HH:MM, +HHMM, +HH; or an abbreviation of
 * zone_abbrevs ending where letters do. */
static bool zone_at(const char *s, size_t len, size_t *i, long *offset_s)
{
    size_t k = *i;
    *offset_s = 0;
    if (k < len && (s[k] == 'Z' || s[k] == 'z')) {
        *i = k + 1;
        return true;
    }
    size_t letters = 0;
    while (k + letters < len && isalpha((unsigned char)s[k + letters])) letters++;
    if (letters == 3 && (!strncasecmp(s + k, "UTC", 3) || !strncasecmp(s + k, "GMT", 3))) {
        k += 3;
        if (k >= len || (s[k] != '+' && s[k] != '-')) {
            *i = k;
            return true;
        }
    } else if (letters) {
        for (size_t z = 0; z < sizeof zone_abbrevs / sizeof *zone_abbrevs; z++)
            if (strlen(zone_abbrevs[z].name) == letters &&
                !strncasecmp(s + k, zone_abbrevs[z].name, letters)) {
                *offset_s = zone_abbrevs[z].minutes * 60L;
                *i = k + letters;
                return true;
            }
        return false;
    }
    if (k >= len || (s[k] != '+' && s[k] != '-')) return false;
    int sign = s[k++] == '-' ? -1 : 1;
    long oh, om = 0;
    if (!num_at(s, len, &k, 2, &oh, NULL) || oh > 14) return false;
    if (k < len && s[k] == ':') k++;
    if (k < len) num_at(s, len, &k, 2, &om, NULL);
    *offset_s = sign * (oh * 3600 + om * 60);
    *i = k;
    return true;
}

/* An optional zone after the clock (zone_at), then the end; none = UTC. */
static bool zone_at_end(const char *s, size_t len, size_t i, long *offset_s)
{
    *offset_s = 0;
    while (i < len && s[i] == ' ') i++;
    if (i < len && !zone_at(s, len, &i, offset_s)) return false;
    return i == len;
}

static bool civil_ms(long y, long mo, long d, long h, long mi, long sec, long frac_ms,
                     long offset_s, int64_t *ms_out, rec_time_info_t *info)
{
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
    int64_t days = time_days_from_civil(y, (unsigned)mo, (unsigned)d);
    if (info) info->day = days;
    *ms_out = (days * 86400 + h * 3600 + mi * 60 + sec - offset_s) * 1000 + frac_ms;
    return true;
}

/* A month's English name or its first three letters at *i: 1..12, 0 when none. */
static int month_at(const char *s, size_t len, size_t *i)
{
    static const char *const names[] = {"january",   "february", "march",    "april",
                                        "may",       "june",     "july",     "august",
                                        "september", "october",  "november", "december"};
    size_t n = 0;
    while (*i + n < len && isalpha((unsigned char)s[*i + n])) n++;
    if (n < 3) return 0;
    for (int m = 0; m < 12; m++)
        if ((n == 3 || n == strlen(names[m])) && !strncasecmp(s + *i, names[m], n)) {
            *i += n;
            return m + 1;
        }
    return 0;
}

/* Between a date and its clock: spaces, and a ',' (QRadar's "Jul 7, 2017,
 * 3:30:00 PM") or an '@' (Kibana's "Jul 7, 2017 @ 15:30:00.123") among
 * them. */
static void date_clock_sep(const char *s, size_t len, size_t *i)
{
    while (*i < len && s[*i] == ' ') (*i)++;
    if (*i < len && (s[*i] == ',' || s[*i] == '@')) (*i)++;
    while (*i < len && s[*i] == ' ') (*i)++;
}

/* Dates with a month's name: syslog (RFC 3164, "Dec  6 15:51:00", no
 * year), ctime ("Wed Dec  6 15:51:00 2017"), RFC 2822 ("Wed, 06 Dec 2017
 * 15:51:00 +0000"), Apache ("06/Dec/2017:15:51:00 +0000"),
 * "06-Dec-2017 15:51:00", Java's Date ("Fri Jul 07 15:30:00 UTC 2017"),
 * Kibana's ("Jul 7, 2017 @ 15:30:00.123") and QRadar's ("Jul 7, 2017,
 * 3:30:00 PM"). */
static bool named_month_time(const char *s, size_t len, const rec_time_opts_t *o, int64_t *ms_out,
                             rec_time_info_t *info)
{
    size_t i = 0;
    static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    for (int d = 0; d < 7; d++)
        if (len > 3 && !strncasecmp(s, days[d], 3)) {
            while (i < len && isalpha((unsigned char)s[i])) i++;
            if (i < len && s[i] == ',') i++;
            while (i < len && s[i] == ' ') i++;
            break;
        }
    long y = -1, mo, d, h, mi, sec, frac_ms, offset_s;
    if (i >= len) return false;
    if (i == 0 && len > 5 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
        isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]) && s[4] == ' ' &&
        isalpha((unsigned char)s[5])) { /* YYYY Mon DD time: OSSEC's alerts.log */
        num_at(s, len, &i, 4, &y, NULL);
        i++;
    }
    if (isalpha((unsigned char)s[i])) { /* [YYYY] Mon DD [YYYY] time [YYYY] */
        if (!(mo = month_at(s, len, &i))) return false;
        while (i < len && s[i] == ' ') i++;
        if (!num_at(s, len, &i, 2, &d, NULL)) return false;
        if (i < len && s[i] == ',') i++;
        while (i < len && s[i] == ' ') i++;
        size_t k = i;
        long maybe_y;
        int dy;
        if (y < 0 && num_at(s, len, &k, 4, &maybe_y, &dy) && dy == 4 && k < len &&
            (s[k] == ' ' || s[k] == ',')) {
            y = maybe_y;
            i = k;
            date_clock_sep(s, len, &i);
        }
    } else { /* DD Mon YYYY time, DD/Mon/YYYY:time, DD-Mon-YYYY time */
        if (!num_at(s, len, &i, 2, &d, NULL) || i >= len) return false;
        char sep = s[i];
        if (sep != ' ' && sep != '/' && sep != '-') return false;
        i++;
        if (!(mo = month_at(s, len, &i)) || i >= len || s[i++] != sep) return false;
        int dy;
        if (!num_at(s, len, &i, 4, &y, &dy) || (dy != 4 && dy != 2)) return false;
        if (dy == 2) y += 2000;
        if (i >= len || (s[i] != ' ' && s[i] != ':' && s[i] != 'T' && s[i] != ',')) return false;
        if (s[i] == ':' || s[i] == 'T')
            i++;
        else
            date_clock_sep(s, len, &i);
    }
    if (!clock_at(s, len, &i, &h, &mi, &sec, &frac_ms, info)) return false;
    size_t k = i;
    while (k < len && s[k] == ' ') k++;
    long maybe_y;
    int dy;
    long zone_s = 0; /* Java's Date: Fri Jul 07 15:30:00 CEST 2017 */
    size_t z = k;
    if (y < 0 && zone_at(s, len, &z, &zone_s) && z < len && s[z] == ' ') {
        while (z < len && s[z] == ' ') z++;
        if (num_at(s, len, &z, 4, &maybe_y, &dy) && dy == 4)
            y = maybe_y, i = z;
        else
            zone_s = 0;
    }
    if (y < 0 && num_at(s, len, &k, 4, &maybe_y, &dy) && dy == 4) y = maybe_y, i = k; /* ctime */
    if (!zone_at_end(s, len, i, &offset_s)) return false;
    offset_s += zone_s;
    if (y < 0) {
        y = o ? o->year : 1970;
        if (info) info->yearless = true, info->month = (int)mo;
    }
    return civil_ms(y, mo, d, h, mi, sec, frac_ms, offset_s, ms_out, info);
}

/* The other spellings recorded alerts use: Y-M-D or Y/M/D, then 'T', ' '
 * or '-', then a clock (clock_at) and an optional zone; or two small
 * fields and maybe a year (A/B/Y, A.B.Y, A-B-Y, A/B-clock of fast.log):
 * M/D or D/M as `o` says, voted on in `info` (A > 12: D/M; B > 12: M/D). */
static bool loose_time(const char *s, size_t len, const rec_time_opts_t *o, int64_t *ms_out,
                       rec_time_info_t *info)
{
    size_t i = 0;
    long a, b, c = -1, y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, offset_s = 0;
    int da;
    if (!num_at(s, len, &i, 4, &a, &da) || i >= len || (s[i] != '-' && s[i] != '/' && s[i] != '.'))
        return false;
    char sep = s[i++];
    if (!num_at(s, len, &i, 2, &b, NULL)) return false;
    if (i + 1 < len && s[i] == sep && isdigit((unsigned char)s[i + 1])) {
        i++;
        int dc;
        if (!num_at(s, len, &i, 4, &c, &dc)) return false;
        if (dc == 2 && da != 4)
            c += 2000; /* M/D/YY */
        else if (dc != 4 && da != 4)
            return false;
    }
    bool yearless = false;
    if (da == 4) {
        if (c < 0 || sep == '.') return false;
        y = a, mo = b, d = c;
    } else if (da <= 2 && (c >= 0 || sep == '/')) {
        /* 13.07.2017: dots are German, Russian ... always D.M.Y; a date
         * joined to its clock by '-' is fast.log's, always M/D */
        bool fastlog = sep == '/' && i < len && s[i] == '-';
        bool dmy = sep == '.' || (!fastlog && o && o->date_order == REC_DATE_DMY);
        if (info && sep != '.' && !fastlog) {
            info->two_field_date = true;
            info->first_over_12 |= a > 12 && b <= 12;
            info->second_over_12 |= b > 12 && a <= 12;
            info->first = (int)a, info->second = (int)b;
        }
        mo = dmy ? b : a, d = dmy ? a : b;
        if (c < 0) {
            yearless = true;
            y = o ? o->year : 1970;
        } else {
            y = c;
        }
    } else {
        return false;
    }
    if (i < len) {
        if (s[i] != 'T' && s[i] != ' ' && s[i] != '-' && s[i] != ':') return false;
        while (i < len && (s[i] == 'T' || s[i] == ' ' || s[i] == '-' || s[i] == ':')) i++;
        if (!clock_at(s, len, &i, &h, &mi, &sec, &frac_ms, info)) return false;
        if (!zone_at_end(s, len, i, &offset_s)) return false;
    } else if (yearless) {
        return false; /* "5/7": a fraction, not a time */
    }
    if (yearless && info) info->yearless = true, info->month = (int)mo;
    return civil_ms(y, mo, d, h, mi, sec, frac_ms, offset_s, ms_out, info);
}

/* Dates and clocks written without separators: ISO 8601's basic format
 * (20170707T153000Z, 20170707T1530+0200) and 14 digits YYYYMMDDhhmmss
 * (WMI's CIM_DATETIME 20170707153000.000000+000, whose zone is minutes;
 * some SIEM exports): read before Unix time, which 14 digits would be as
 * milliseconds of the year 2609. Without the 'T' only a year 1970..2100
 * is such a date. */
static bool compact_time(const char *s, size_t len, int64_t *ms_out)
{
    size_t i = 0;
    long date, clock, h, mi, sec = 0, frac_ms = 0, offset_s = 0;
    int n;
    if (!num_at(s, len, &i, 8, &date, &n) || n != 8 || i >= len) return false;
    bool t = s[i] == 'T' || s[i] == 't';
    if (t) i++;
    if (!num_at(s, len, &i, 6, &clock, &n) || (n != 6 && !(t && n == 4)) ||
        (i < len && isdigit((unsigned char)s[i])))
        return false;
    long y = date / 10000, mo = date / 100 % 100, d = date % 100;
    if (!t && (y < 1970 || y > 2100)) return false;
    if (n == 6)
        h = clock / 10000, mi = clock / 100 % 100, sec = clock % 100;
    else
        h = clock / 100, mi = clock % 100;
    int digits = 0;
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        i++;
        while (i < len && isdigit((unsigned char)s[i])) {
            if (digits < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
            digits++, i++;
        }
        if (!digits) return false;
        for (int k = digits; k < 3; k++) frac_ms *= 10;
    }
    long minutes;
    int dm;
    size_t k = i + 1;
    if (!t && digits == 6 && i < len && (s[i] == '+' || s[i] == '-') &&
        num_at(s, len, &k, 3, &minutes, &dm) && dm == 3 && k == len) {
        offset_s = (s[i] == '-' ? -60 : 60) * minutes; /* CIM_DATETIME: +UUU minutes */
    } else if (!zone_at_end(s, len, i, &offset_s)) {
        return false;
    }
    return civil_ms(y, mo, d, h, mi, sec, frac_ms, offset_s, ms_out, NULL);
}

bool rec_parse_time(const char *s, size_t len, const rec_time_opts_t *o, int64_t *ms_out,
                    rec_time_info_t *info)
{
    if (info) memset(info, 0, sizeof *info);
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (!len || len > 60) return false;
    if (compact_time(s, len, ms_out)) return true;
    /* Unix seconds, ms, us or ns, by magnitude; a fraction is allowed. */
    bool numeric = isdigit((unsigned char)s[len - 1]); /* "1.2.3" and "17.": no time */
    size_t dots = 0;
    for (size_t i = 0; i < len; i++) {
        dots += s[i] == '.';
        numeric &= isdigit((unsigned char)s[i]) || (s[i] == '.' && i);
    }
    if (numeric && dots <= 1) {
        char tmp[64];
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        double v = strtod(tmp, NULL);
        if (v < 1e11)
            v *= 1000.0;
        else if (v >= 1e17)
            v /= 1e6;
        else if (v >= 1e14)
            v /= 1e3;
        *ms_out = (int64_t)v;
        return true;
    }
    if (time_parse_rfc3339(s, len, ms_out)) return true;
    if (loose_time(s, len, o, ms_out, info)) return true;
    rec_time_info_t loose_info = info ? *info : (rec_time_info_t){0};
    if (info) memset(info, 0, sizeof *info);
    if (named_month_time(s, len, o, ms_out, info)) return true;
    if (info) *info = loose_info; /* 13/07/2017 read as M/D still votes D/M */
    return false;
}

bool recorded_parse_time(const char *s, size_t len, int64_t *ms_out)
{
    return rec_parse_time(s, len, NULL, ms_out, NULL);
}

/* Invalid UTF-8 bytes become '?': recorded exports are not always clean,
 * and a label value must be valid UTF-8. */
void rec_utf8_clean(char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = n && i + n <= len && !(n == 2 && c < 0xC2);
        for (size_t k = 1; ok && k < n; k++) ok = ((unsigned char)s[i + k] >> 6) == 2;
        if (ok && n == 3) {
            unsigned c1 = (unsigned char)s[i + 1];
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
        }
        if (ok && n == 4) {
            unsigned c1 = (unsigned char)s[i + 1];
            ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90) && c <= 0xF4;
        }
        if (!ok || c == 0) { /* a NUL too: values are printed as C strings */
            s[i++] = '?';
            continue;
        }
        i += n;
    }
}

bool rec_status_resolved(const char *v, size_t len)
{
    /* What a check that passed, a host back up (Pingdom, Nagios) or a
     * PagerDuty "resolve" event say: each closes what a failure opened. */
    static const char *const words[] = {
        "resolved", "resolve", "ok", "cleared", "clear",     "closed",     "recovered", "recovery",
        "inactive", "normal",  "up", "success", "succeeded", "successful", "pass",      "passed"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strlen(words[i]) == len && !strncasecmp(words[i], v, len)) return true;
    return false;
}

size_t rec_status_prefix(const char *v, size_t len, bool *resolved)
{
    /* Datadog's titles, Alertmanager's default mail and chat titles: the
     * state rides in front of the name, so "[Recovered] X" must close what
     * "[Triggered] X" opened rather than be an alert of its own. */
    static const char *const firing[] = {"triggered", "re-triggered", "retriggered", "firing",
                                         "alert",     "alerting",     "warn",        "warning",
                                         "no data",   "renotify",     "problem"};
    static const char *const ok[] = {"recovered", "resolved", "ok", "recovery"};
    if (len < 4 || v[0] != '[') return 0;
    const char *close = memchr(v, ']', len);
    if (!close) return 0;
    size_t wl = (size_t)(close - v - 1), skip = (size_t)(close - v) + 1;
    const char *colon = memchr(v + 1, ':', wl); /* [FIRING:2] */
    if (colon) {
        for (const char *d = colon + 1; d < close; d++)
            if (!isdigit((unsigned char)*d)) return 0;
        wl = (size_t)(colon - v - 1);
    }
    while (skip < len && isspace((unsigned char)v[skip])) skip++;
    if (skip == len) return 0; /* nothing would be left of the name */
    for (size_t i = 0; i < sizeof firing / sizeof *firing; i++)
        if (strlen(firing[i]) == wl && !strncasecmp(firing[i], v + 1, wl))
            return *resolved = false, skip;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strlen(ok[i]) == wl && !strncasecmp(ok[i], v + 1, wl)) return *resolved = true, skip;
    return 0;
}

bool rec_benign_name(const char *v, size_t len)
{
    /* CIC-IDS2017/2018 "BENIGN", KDD/NSL-KDD "normal" ("normal." in KDD
     * Cup 99), UNSW-NB15 "Normal": traffic an IDS data set labels as no
     * attack, which it lists beside the attacks. */
    while (len && isspace((unsigned char)*v)) v++, len--;
    while (len && (isspace((unsigned char)v[len - 1]) || v[len - 1] == '.')) len--;
    return (len == 6 && !strncasecmp(v, "benign", 6)) || (len == 6 && !strncasecmp(v, "normal", 6));
}

bool rec_eve_not_alert(const char *event_type)
{
    /* Suricata EVE's other event types: records of traffic and of the
     * sensor, written to the same eve.json as its alerts. "anomaly" and
     * "drop" stay alerts (a decoder anomaly, a dropped packet). */
    static const char *const types[] = {"flow",
                                        "netflow",
                                        "dns",
                                        "http",
                                        "http2",
                                        "tls",
                                        "fileinfo",
                                        "stats",
                                        "ssh",
                                        "smtp",
                                        "krb5",
                                        "smb",
                                        "dhcp",
                                        "rdp",
                                        "nfs",
                                        "ikev2",
                                        "ike",
                                        "tftp",
                                        "snmp",
                                        "sip",
                                        "rfb",
                                        "mqtt",
                                        "quic",
                                        "pgsql",
                                        "ftp",
                                        "ftp_data",
                                        "dnp3",
                                        "modbus",
                                        "dcerpc",
                                        "mdns",
                                        "bittorrent-dht",
                                        "frame",
                                        "arp",
                                        "ldap",
                                        "pop3",
                                        "websocket"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcmp(event_type, types[i])) return true;
    return false;
}

/* One record from *p (RFC 4180: quoted fields may hold the delimiter,
 * newlines and "" for a quote). Fields are unquoted in place; returns how
 * many the record has, of which the first `cap` are in f[]. *lines counts
 * the newlines consumed. */
size_t rec_csv_record(char **p, char *end, char delim, char **f, size_t *fl, size_t cap,
                      size_t *lines)
{
    size_t n = 0;
    char *s = *p;
    for (;;) {
        char *out = s, *start = s;
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                if (s >= end) break;
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        *out++ = '"';
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                if (*s == '\n') (*lines)++;
                *out++ = *s++;
            }
            while (s < end && *s != delim && *s != '\n') s++; /* junk after the quote */
        } else {
            while (s < end && *s != delim && *s != '\n') s++;
            out = s;
        }
        size_t len = (size_t)(out - start);
        if (len && start[len - 1] == '\r' && (s >= end || *s == '\n')) len--;
        if (n < cap) {
            f[n] = start;
            fl[n] = len;
        }
        n++;
        if (s < end && *s == delim) {
            s++;
            continue;
        }
        if (s < end) { /* '\n' */
            s++;
            (*lines)++;
        }
        break;
    }
    *p = s;
    return n; /* the fields there are: the first `cap` are in f[] */
}

/* UTF-16 text (Excel's "Unicode text" export, Windows alarm tools) as
 * UTF-8: a malloc'd, NUL-terminated copy and its length, or NULL when
 * `buf` does not open with a UTF-16 byte order mark. A surrogate without
 * its pair becomes '?'. */
char *rec_utf16_to_utf8(const char *buf, size_t len, size_t *out_len)
{
    const unsigned char *b = (const unsigned char *)buf;
    if (len < 2 || !((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF))) return NULL;
    bool little = b[0] == 0xFF;
    char *o = malloc(len / 2 * 3 + 1); /* a unit: at most 3 bytes; a pair: 4 */
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 2; i + 1 < len; i += 2) {
        uint32_t cp = little ? (uint32_t)(b[i] | b[i + 1] << 8) : (uint32_t)(b[i] << 8 | b[i + 1]);
        if (cp >= 0xD800 && cp < 0xE000) {
            uint32_t lo = 0;
            if (cp < 0xDC00 && i + 3 < len)
                lo = little ? (uint32_t)(b[i + 2] | b[i + 3] << 8)
                            : (uint32_t)(b[i + 2] << 8 | b[i + 3]);
            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            } else {
                cp = '?';
            }
        }
        if (cp < 0x80) {
            o[k++] = (char)cp;
        } else if (cp < 0x800) {
            o[k++] = (char)(0xC0 | cp >> 6);
            o[k++] = (char)(0x80 | (cp & 63));
        } else if (cp < 0x10000) {
            o[k++] = (char)(0xE0 | cp >> 12);
            o[k++] = (char)(0x80 | (cp >> 6 & 63));
            o[k++] = (char)(0x80 | (cp & 63));
        } else {
            o[k++] = (char)(0xF0 | cp >> 18);
            o[k++] = (char)(0x80 | (cp >> 12 & 63));
            o[k++] = (char)(0x80 | (cp >> 6 & 63));
            o[k++] = (char)(0x80 | (cp & 63));
        }
    }
    o[k] = '\0';
    *out_len = k;
    return o;
}

char rec_csv_delimiter(const char *s, const char *end)
{
    static const char cands[] = {',', '\t', ';', '|'};
    size_t best = 0;
    char d = ',';
    for (size_t c = 0; c < sizeof cands; c++) {
        size_t n = 0;
        bool q = false;
        for (const char *p = s; p < end && (*p != '\n' || q); p++) {
            if (*p == '"') q = !q;
            if (!q && *p == cands[c]) n++;
        }
        if (n > best) best = n, d = cands[c];
    }
    return d;
}

/* A header that is a YAML document's first line ("---", "groups:",
 * "apiVersion: v1"): a rule or config file given as traffic, which CSV
 * would read as one column of its lines. */
bool rec_yaml_header(const char *h)
{
    if (!strncmp(h, "---", 3)) return true;
    if (!(isalpha((unsigned char)*h) || *h == '_')) return false;
    while (isalnum((unsigned char)*h) || *h == '_' || *h == '-' || *h == '.') h++;
    return *h == ':' && (h[1] == '\0' || h[1] == ' ');
}

/* Finds `needle` in s[0..len); NULL when absent. */
static const char *find(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle));
}

static void trim(const char **v, size_t *len)
{
    while (*len && isspace((unsigned char)**v)) (*v)++, (*len)--;
    while (*len && isspace((unsigned char)(*v)[*len - 1])) (*len)--;
}

/* An IDS alert's "[Classification: C]" and "[Priority: P]" after `p`
 * (each optional, before the "{PROTO}"), appended to f[*n]; returns
 * where they end, or NULL when one is not closed. */
static const char *ids_brackets(const char *p, const char *end, rec_field_t *f, size_t *n)
{
    static const struct {
        const char *tag, *name;
    } brackets[] = {{"[Classification:", "classification"}, {"[Priority:", "priority"}};
    for (size_t b = 0; b < 2; b++) {
        const char *at = find(p, (size_t)(end - p), brackets[b].tag);
        const char *brace = memchr(p, '{', (size_t)(end - p));
        if (!at || (brace && brace < at)) continue;
        const char *v = at + strlen(brackets[b].tag), *close = memchr(v, ']', (size_t)(end - v));
        if (!close) return NULL;
        size_t vl = (size_t)(close - v);
        trim(&v, &vl);
        f[(*n)++] = (rec_field_t){brackets[b].name, v, vl};
        p = close + 1;
    }
    return p;
}
/* "ADDR:PORT" as two fields; an address alone (ICMP) as one. */
static size_t endpoint(const char *s, size_t len, const char *addr_name, const char *port_name,
                       rec_field_t *f)
{
    trim(&s, &len);
    size_t colon = len;
    while (colon && s[colon - 1] != ':') colon--;
    bool port = colon && colon < len;
    for (size_t i = colon; port && i < len; i++) port = isdigit((unsigned char)s[i]);
    if (!port) {
        f[0] = (rec_field_t){addr_name, s, len};
        return 1;
    }
    f[0] = (rec_field_t){addr_name, s, colon - 1};
    f[1] = (rec_field_t){port_name, s + colon, len - colon};
    return 2;
}

/* "SRC[:PORT] -> DST[:PORT]" in p[0..end), appended to f[*n] (src_ip,
 * src_port, dest_ip, dest_port); false when there is no arrow. */
static bool ids_flow(const char *p, const char *end, rec_field_t *f, size_t *n)
{
    const char *arrow = find(p, (size_t)(end - p), "->");
    if (!arrow) return false;
    *n += endpoint(p, (size_t)(arrow - p), "src_ip", "src_port", f + *n);
    *n += endpoint(arrow + 2, (size_t)(end - arrow - 2), "dest_ip", "dest_port", f + *n);
    return true;
}

/* The rule of an IDS alert as fast.log and Snort's full alerts write it,
 * "[**] [GID:SID:REV] MESSAGE [**]" at `stars` (which opens "[**] ["):
 * signature_id and signature appended to f[*n]; returns where it ends,
 * NULL when it is not such a rule. */
static const char *ids_rule(const char *stars, const char *end, rec_field_t *f, size_t *n)
{
    const char *id = stars + 6, *id_end = memchr(id, ']', (size_t)(end - id));
    if (!id_end) return NULL;
    const char *msg = id_end + 1, *msg_end = find(msg, (size_t)(end - msg), "[**]");
    if (!msg_end) return NULL;
    size_t ml = (size_t)(msg_end - msg);
    trim(&msg, &ml);
    if (!ml) return NULL;
    f[(*n)++] = (rec_field_t){"signature_id", id, (size_t)(id_end - id)};
    f[(*n)++] = (rec_field_t){"signature", msg, ml};
    return msg_end + 4;
}

size_t rec_fastlog_line(const char *s, size_t len, rec_field_t f[REC_FASTLOG_FIELDS])
{
    const char *end = s + len, *stars = find(s, len, "[**] [");
    if (!stars) return 0;
    size_t n = 0, tl = (size_t)(stars - s);
    const char *t = s;
    trim(&t, &tl);
    if (!tl) return 0;
    f[n++] = (rec_field_t){"timestamp", t, tl};
    const char *p = ids_rule(stars, end, f, &n);
    if (!p || !(p = ids_brackets(p, end, f, &n))) return 0;
    const char *brace = memchr(p, '{', (size_t)(end - p));
    const char *brace_end = brace ? memchr(brace, '}', (size_t)(end - brace)) : NULL;
    if (!brace_end) return 0;
    f[n++] = (rec_field_t){"proto", brace + 1, (size_t)(brace_end - brace - 1)};
    return ids_flow(brace_end + 1, end, f, &n) ? n : 0;
}

/* The next space-delimited token at *i: its start and length (0: none). */
static size_t token_at(const char *s, size_t len, size_t *i, const char **tok)
{
    while (*i < len && s[*i] == ' ') (*i)++;
    *tok = s + *i;
    size_t n = 0;
    while (*i < len && s[*i] != ' ') (*i)++, n++;
    return n;
}

/* An IDS alert in a syslog message: "[GID:SID:REV] MESSAGE [Classification:
 * C] [Priority: P] {PROTO} SRC -> DST" (classification, priority and the
 * addresses optional). Returns the fields found, 0 when it is none. */
static size_t ids_message(const char *s, size_t len, rec_field_t *f)
{
    if (!len || s[0] != '[') return 0;
    size_t i = 1, colons = 0;
    while (i < len && (isdigit((unsigned char)s[i]) || s[i] == ':')) colons += s[i++] == ':';
    if (i >= len || s[i] != ']' || colons != 2) return 0;
    size_t n = 0;
    f[n++] = (rec_field_t){"signature_id", s + 1, i - 1};
    const char *msg = s + i + 1, *end = s + len, *stop = end;
    static const char *const stops[] = {"[Classification:", "[Priority:", "{"};
    for (size_t k = 0; k < 3; k++) {
        const char *at = find(msg, (size_t)(end - msg), stops[k]);
        if (at && at < stop) stop = at;
    }
    size_t ml = (size_t)(stop - msg);
    trim(&msg, &ml);
    if (!ml) return 0;
    f[n++] = (rec_field_t){"signature", msg, ml};
    const char *p = stop;
    const char *after = ids_brackets(p, end, f, &n);
    if (after) p = after;
    const char *brace = memchr(p, '{', (size_t)(end - p));
    const char *brace_end = brace ? memchr(brace, '}', (size_t)(end - brace)) : NULL;
    if (!brace_end || !find(brace_end, (size_t)(end - brace_end), "->")) return n;
    f[n++] = (rec_field_t){"proto", brace + 1, (size_t)(brace_end - brace - 1)};
    ids_flow(brace_end + 1, end, f, &n);
    return n;
}

/* CEF's extension keys (ArcSight's dictionary, the ones devices write),
 * each under the field name it reads as: its own, or one saying what it
 * is where the short key would read as something else ("rt", the time the
 * event happened; "in"/"out", bytes; "start"/"end", the activity's, not an
 * incident's). A key outside the dictionary is skipped (names must be
 * static here). */
static const struct {
    const char *key, *name;
} cef_keys[] = {
    {"act", "act"},
    {"app", "app"},
    {"cat", "cat"},
    {"cnt", "cnt"},
    {"cn1", "cn1"},
    {"cn1Label", "cn1Label"},
    {"cn2", "cn2"},
    {"cn2Label", "cn2Label"},
    {"cn3", "cn3"},
    {"cn3Label", "cn3Label"},
    {"cs1", "cs1"},
    {"cs1Label", "cs1Label"},
    {"cs2", "cs2"},
    {"cs2Label", "cs2Label"},
    {"cs3", "cs3"},
    {"cs3Label", "cs3Label"},
    {"cs4", "cs4"},
    {"cs4Label", "cs4Label"},
    {"cs5", "cs5"},
    {"cs5Label", "cs5Label"},
    {"cs6", "cs6"},
    {"cs6Label", "cs6Label"},
    {"destinationServiceName", "destinationServiceName"},
    {"deviceDirection", "deviceDirection"},
    {"deviceExternalId", "deviceExternalId"},
    {"deviceFacility", "deviceFacility"},
    {"deviceProcessName", "deviceProcessName"},
    {"dhost", "dhost"},
    {"dmac", "dmac"},
    {"dntdom", "dntdom"},
    {"dpid", "dpid"},
    {"dpriv", "dpriv"},
    {"dproc", "dproc"},
    {"dpt", "dpt"},
    {"dst", "dst"},
    {"duid", "duid"},
    {"duser", "duser"},
    {"dvc", "dvc"},
    {"dvchost", "dvchost"},
    {"dvcmac", "dvcmac"},
    {"dvcpid", "dvcpid"},
    {"end", "activity_end"},
    {"externalId", "externalId"},
    {"fileHash", "fileHash"},
    {"filePath", "filePath"},
    {"fname", "fname"},
    {"fsize", "file_bytes"},
    {"in", "bytes_in"},
    {"msg", "msg"},
    {"out", "bytes_out"},
    {"outcome", "outcome_of_event"},
    {"proto", "proto"},
    {"reason", "reason"},
    {"request", "request"},
    {"requestClientApplication", "requestClientApplication"},
    {"requestMethod", "requestMethod"},
    {"rt", "timestamp"},
    {"shost", "shost"},
    {"smac", "smac"},
    {"sntdom", "sntdom"},
    {"spid", "spid"},
    {"spriv", "spriv"},
    {"sproc", "sproc"},
    {"spt", "spt"},
    {"src", "src"},
    {"start", "activity_start"},
    {"suid", "suid"},
    {"suser", "suser"},
};

/* Severity of a CEF header: 0-10, or a word (Low, Medium, High,
 * Very-High). A digit reads as CEF's bands, so the severity rules rank it
 * whatever the file's range: 0-3 Low, 4-6 Medium, 7-8 High, 9-10
 * Very-High. */
static void cef_severity(const char **v, size_t *len)
{
    size_t l = *len;
    if (!l || l > 2 || !isdigit((unsigned char)(*v)[0]) ||
        (l == 2 && !isdigit((unsigned char)(*v)[1])))
        return;
    int x = atoi(*v);
    if (x > 10) return;
    const char *w = x >= 9 ? "Very-High" : x >= 7 ? "High" : x >= 4 ? "Medium" : "Low";
    *v = w;
    *len = strlen(w);
}

size_t rec_cef(const char *s, size_t len, rec_field_t *f, size_t cap)
{
    if (len < 4 || memcmp(s, "CEF:", 4) || cap < 6) return 0;
    /* CEF:Version|Vendor|Product|Version|Signature ID|Name|Severity|Extension,
     * '|' escaped as "\|" in the header */
    static const char *const header[] = {
        NULL,           "device_vendor", "device_product", "device_version",
        "signature_id", "signature",     "severity"};
    size_t i = 4, n = 0;
    for (size_t h = 0; h < 7; h++) {
        size_t start = i;
        while (i < len && !(s[i] == '|' && s[i - 1] != '\\')) i++;
        if (i >= len) return 0;
        const char *v = s + start;
        size_t vl = i - start;
        trim(&v, &vl);
        i++;
        if (!header[h] || !vl) continue;
        if (h == 6) cef_severity(&v, &vl);
        f[n++] = (rec_field_t){header[h], v, vl};
    }
    /* Extension: key=value pairs; a value runs to the space before the
     * next key= ('=' in a value is escaped "\=") */
    const char *end = s + len, *p = s + i;
    while (p < end && n < cap) {
        while (p < end && *p == ' ') p++;
        const char *k = p;
        while (p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == '.')) p++;
        if (p >= end || *p != '=' || p == k) break;
        size_t kl = (size_t)(p - k);
        const char *v = ++p, *next = end;
        for (const char *q = p; q < end; q++) {
            if (*q != ' ') continue;
            const char *r = q + 1;
            while (r < end && (isalnum((unsigned char)*r) || *r == '_' || *r == '.')) r++;
            if (r < end && *r == '=' && r > q + 1) {
                next = q;
                break;
            }
        }
        size_t vl = (size_t)(next - v);
        trim(&v, &vl);
        p = next;
        for (size_t c = 0; c < sizeof cef_keys / sizeof *cef_keys; c++)
            if (strlen(cef_keys[c].key) == kl && !memcmp(cef_keys[c].key, k, kl)) {
                if (vl) f[n++] = (rec_field_t){cef_keys[c].name, v, vl};
                break;
            }
    }
    return n;
}

size_t rec_syslog_line(const char *s, size_t len, rec_field_t f[REC_SYSLOG_FIELDS])
{
    size_t i = 0, n = 0;
    bool rfc5424 = false;
    if (len && s[0] == '<') { /* <PRI> */
        i = 1;
        while (i < len && i < 5 && isdigit((unsigned char)s[i])) i++;
        if (i == 1 || i >= len || s[i++] != '>') return 0;
        if (i + 1 < len && s[i] == '1' && s[i + 1] == ' ') rfc5424 = true, i += 2;
    }
    if (len - i > 4 && !memcmp(s + i, "CEF:", 4)) /* a CEF line without a syslog header */
        return rec_cef(s + i, len - i, f, REC_SYSLOG_FIELDS);
    const char *ts = s + i;
    size_t tl;
    if (i < len && isalpha((unsigned char)s[i])) { /* Mmm dd hh:mm:ss[.f] */
        const char *t;
        if (token_at(s, len, &i, &t) != 3 || !token_at(s, len, &i, &t) || !token_at(s, len, &i, &t))
            return 0;
        tl = (size_t)(s + i - ts);
    } else {
        tl = token_at(s, len, &i, &ts);
    }
    int64_t ms;
    if (!tl || !rec_parse_time(ts, tl, NULL, &ms, NULL)) return 0;
    for (size_t k = 0; k < tl; k++) /* "1499244130" is a number, not a syslog line */
        if (ts[k] == ':') goto timed;
    return 0;
timed:
    f[n++] = (rec_field_t){"timestamp", ts, tl};
    const char *host, *tag;
    size_t hl = token_at(s, len, &i, &host);
    if (!hl) return 0;
    f[n++] = (rec_field_t){"host", host, hl};
    const char *msg;
    size_t taglen = token_at(s, len, &i, &tag);
    if (!taglen) return 0;
    if (taglen > 4 && !memcmp(tag, "CEF:", 4)) { /* ArcSight's "HOST CEF:0|..." */
        msg = tag;
        goto cef;
    }
    if (rfc5424) { /* APP PROCID MSGID SD MSG */
        const char *procid, *msgid, *sd;
        size_t pl = token_at(s, len, &i, &procid), ml = token_at(s, len, &i, &msgid);
        if (!pl || !ml) return 0;
        f[n++] = (rec_field_t){"program", tag, taglen};
        if (!(pl == 1 && *procid == '-')) f[n++] = (rec_field_t){"pid", procid, pl};
        while (i < len && s[i] == ' ') i++;
        sd = s + i;
        if (i < len && s[i] == '[') { /* structured data: up to "] " not in quotes */
            bool q = false;
            for (; i < len; i++) {
                if (s[i] == '"' && s[i - 1] != '\\') q = !q;
                if (!q && s[i] == ']' && (i + 1 == len || s[i + 1] == ' ')) {
                    i++;
                    break;
                }
            }
        } else {
            token_at(s, len, &i, &sd);
        }
        msg = s + i;
    } else { /* TAG[PID]: MSG */
        const char *colon = memchr(tag, ':', (size_t)(s + len - tag));
        if (!colon || colon > tag + taglen) return 0;
        const char *bracket = memchr(tag, '[', (size_t)(colon - tag));
        const char *name_end = bracket ? bracket : colon;
        if (name_end == tag) return 0;
        f[n++] = (rec_field_t){"program", tag, (size_t)(name_end - tag)};
        if (bracket && colon[-1] == ']' && colon - bracket > 2)
            f[n++] = (rec_field_t){"pid", bracket + 1, (size_t)(colon - bracket - 2)};
        msg = colon + 1;
    }
cef:;
    size_t ml = (size_t)(s + len - msg);
    trim(&msg, &ml);
    if (ml > 3 && !memcmp(msg, "\xEF\xBB\xBF", 3)) msg += 3, ml -= 3; /* RFC 5424's BOM */
    size_t cef = rec_cef(msg, ml, f + n, REC_SYSLOG_FIELDS - n);
    if (cef) { /* the event's own time (rt) over the syslog header's */
        for (size_t k = n; k < n + cef; k++)
            if (!strcmp(f[k].name, "timestamp")) {
                memmove(f, f + 1, (n + cef - 1) * sizeof *f);
                return n + cef - 1;
            }
        return n + cef;
    }
    size_t ids = ids_message(msg, ml, f + n);
    if (ids) return n + ids;
    if (ml) f[n++] = (rec_field_t){"msg", msg, ml};
    return n;
}

/* ---- multi-line alerts ------------------------------------------------------ */

/* The next line of a record at *p before `end`: its text without the line
 * break and a '\r' before it; false at the end. */
static bool record_line(const char **p, const char *end, const char **line, size_t *len)
{
    if (*p >= end) return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    *line = *p;
    *len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    *p = nl ? nl + 1 : end;
    if (*len && (*line)[*len - 1] == '\r') (*len)--;
    return true;
}

bool rec_record_start(rec_kind_t kind, const char *s, size_t len)
{
    if (kind == REC_KIND_SNORT_FULL) return len >= 6 && !memcmp(s, "[**] [", 6);
    return kind == REC_KIND_OSSEC && len >= 9 && !memcmp(s, "** Alert ", 9);
}

size_t rec_snort_full(const char *s, size_t len, rec_field_t f[REC_FASTLOG_FIELDS],
                      size_t *bad_line, const char **why)
{
    const char *p = s, *end = s + len, *l;
    size_t ll, n = 0, at = 0;
    *bad_line = 0;
    if (!record_line(&p, end, &l, &ll) || !rec_record_start(REC_KIND_SNORT_FULL, l, ll) ||
        !ids_rule(l, l + ll, f, &n)) {
        *why = "not a Snort alert (\"[**] [GID:SID:REV] MESSAGE [**]\")";
        return 0;
    }
    /* "[Classification: C] [Priority: P]" (either, or the line, may be absent) */
    at++;
    bool more = record_line(&p, end, &l, &ll);
    if (more && ll && l[0] == '[') {
        if (!ids_brackets(l, l + ll, f, &n)) {
            *bad_line = at, *why = "a [Classification: or [Priority: not closed";
            return 0;
        }
        at++;
        more = record_line(&p, end, &l, &ll);
    }
    /* TIME SRC[:PORT] -> DST[:PORT]; a packet that is no IP one has no addresses */
    size_t i = 0;
    const char *t = NULL;
    size_t tl = more ? token_at(l, ll, &i, &t) : 0;
    int64_t ms;
    if (!tl || !rec_parse_time(t, tl, NULL, &ms, NULL)) {
        *bad_line = at, *why = "no \"TIME SRC -> DST\" line after the alert's rule";
        return 0;
    }
    f[n++] = (rec_field_t){"timestamp", t, tl};
    ids_flow(l + i, l + ll, f, &n);
    /* "PROTO TTL:..." (the packet's other fields differ per packet: no labels) */
    if (record_line(&p, end, &l, &ll)) {
        const char *proto, *ttl;
        size_t k = 0, pl = token_at(l, ll, &k, &proto), tl2 = token_at(l, ll, &k, &ttl);
        if (pl && tl2 > 4 && !memcmp(ttl, "TTL:", 4)) f[n++] = (rec_field_t){"proto", proto, pl};
    }
    return n;
}

/* Whether `s` opens with `prefix`. */
static bool opens(const char *s, size_t len, const char *prefix)
{
    size_t pl = strlen(prefix);
    return len >= pl && !memcmp(s, prefix, pl);
}

size_t rec_ossec_record(const char *s, size_t len, rec_field_t f[REC_OSSEC_FIELDS],
                        size_t *bad_line, const char **why)
{
    const char *p = s, *end = s + len, *l;
    size_t ll, n = 0;
    *bad_line = 0;
    /* ** Alert ID:[ mail ] - GROUP,GROUP, */
    const char *colon = NULL;
    if (!record_line(&p, end, &l, &ll) || !opens(l, ll, "** Alert ") ||
        !(colon = memchr(l + 9, ':', ll - 9))) {
        *why = "not an OSSEC alert (\"** Alert ID: - GROUPS\")";
        return 0;
    }
    const char *dash = find(colon, (size_t)(l + ll - colon), " -");
    if (dash) {
        const char *g = dash + 2;
        size_t gl = (size_t)(l + ll - g);
        trim(&g, &gl);
        while (gl && g[gl - 1] == ',') gl--;
        if (gl) f[n++] = (rec_field_t){"rule_groups", g, gl};
    }
    /* YYYY Mon DD hh:mm:ss (AGENT) IP->LOCATION, or HOST->LOCATION */
    *bad_line = 1;
    size_t i = 0;
    const char *t, *tok;
    if (!record_line(&p, end, &l, &ll) || !token_at(l, ll, &i, &t) || !token_at(l, ll, &i, &tok) ||
        !token_at(l, ll, &i, &tok) || !token_at(l, ll, &i, &tok)) {
        *why = "no \"YYYY Mon DD hh:mm:ss HOST->LOCATION\" line after \"** Alert\"";
        return 0;
    }
    size_t tl = (size_t)(l + i - t);
    int64_t ms;
    if (!rec_parse_time(t, tl, NULL, &ms, NULL)) {
        *why = "no time (YYYY Mon DD hh:mm:ss) after \"** Alert\"";
        return 0;
    }
    f[n++] = (rec_field_t){"timestamp", t, tl};
    const char *host = l + i, *line_end = l + ll, *arrow;
    size_t hl;
    while (host < line_end && *host == ' ') host++;
    if (host < line_end && *host == '(') {
        const char *close = memchr(host, ')', (size_t)(line_end - host));
        arrow = close ? find(close, (size_t)(line_end - close), "->") : NULL;
        if (arrow) {
            const char *ip = close + 1;
            size_t ipl = (size_t)(arrow - ip);
            trim(&ip, &ipl);
            if (ipl) f[n++] = (rec_field_t){"agent_ip", ip, ipl};
            host++;
            hl = (size_t)(close - host);
        }
    } else {
        arrow = find(host, (size_t)(line_end - host), "->");
        hl = arrow ? (size_t)(arrow - host) : 0;
    }
    if (!arrow) {
        *why = "no HOST->LOCATION after the alert's time";
        return 0;
    }
    trim(&host, &hl);
    if (hl) f[n++] = (rec_field_t){"agent_name", host, hl};
    const char *loc = arrow + 2;
    size_t locl = (size_t)(line_end - loc);
    trim(&loc, &locl);
    if (locl) f[n++] = (rec_field_t){"location", loc, locl};
    /* Rule: ID (level N) -> 'DESCRIPTION' */
    *bad_line = 2;
    const char *id = NULL, *lv = NULL;
    size_t idl = 0, lvl = 0;
    if (record_line(&p, end, &l, &ll) && opens(l, ll, "Rule: ")) {
        for (id = l + 6; id < l + ll && *id == ' ';) id++;
        while (id + idl < l + ll && isdigit((unsigned char)id[idl])) idl++;
        const char *lp = find(l, ll, "(level ");
        if (lp)
            for (lv = lp + 7; lv + lvl < l + ll && isdigit((unsigned char)lv[lvl]);) lvl++;
    }
    const char *desc = idl && lvl ? find(lv + lvl, (size_t)(l + ll - lv - lvl), "->") : NULL;
    size_t dl = desc ? (size_t)(l + ll - desc - 2) : 0;
    if (desc) desc += 2, trim(&desc, &dl);
    if (dl >= 2 && desc[0] == '\'' && desc[dl - 1] == '\'') desc++, dl -= 2;
    if (!dl) {
        *why = "no \"Rule: ID (level N) -> 'DESCRIPTION'\" line";
        return 0;
    }
    f[n++] = (rec_field_t){"rule_id", id, idl};
    f[n++] = (rec_field_t){"rule_level", lv, lvl};
    f[n++] = (rec_field_t){"rule_description", desc, dl};
    *bad_line = 0;
    /* the fields OSSEC names ("Src IP: ..."), then the log itself: free
     * text, one or more lines (a file's changes, a command's output) */
    static const struct {
        const char *key, *name;
    } keys[] = {{"Src IP: ", "srcip"},
                {"Src Port: ", "srcport"},
                {"Dst IP: ", "dstip"},
                {"Dst Port: ", "dstport"},
                {"User: ", "user"}};
    const char *rest = p;
    while (record_line(&p, end, &l, &ll)) {
        size_t k = 0, nk = sizeof keys / sizeof *keys;
        while (k < nk && !opens(l, ll, keys[k].key)) k++;
        if (k == nk) break;
        const char *v = l + strlen(keys[k].key);
        size_t vl = (size_t)(l + ll - v);
        trim(&v, &vl);
        if (vl) f[n++] = (rec_field_t){keys[k].name, v, vl};
        rest = p;
    }
    size_t rl = (size_t)(end - rest);
    trim(&rest, &rl);
    if (rl) f[n++] = (rec_field_t){"full_log", rest, rl};
    return n;
}

/* "[EPOCH] ": the length of it, 0 when the line does not open so. */
static size_t nagios_stamp(const char *s, size_t len)
{
    size_t i = 1;
    if (!len || s[0] != '[') return 0;
    while (i < len && isdigit((unsigned char)s[i])) i++;
    return i >= 10 && i <= 12 && i + 1 < len && s[i] == ']' && s[i + 1] == ' ' ? i + 2 : 0;
}

int rec_nagios_line(const char *s, size_t len, rec_field_t f[REC_NAGIOS_FIELDS])
{
    size_t at = nagios_stamp(s, len);
    if (!at) return 0;
    const char *p = s + at, *end = s + len;
    bool service = (size_t)(end - p) > 15 && !memcmp(p, "SERVICE ALERT: ", 15);
    bool host = !service && (size_t)(end - p) > 12 && !memcmp(p, "HOST ALERT: ", 12);
    if (!service && !host) return -1;
    p += service ? 15 : 12;
    /* HOST;[SERVICE;]STATE;TYPE;ATTEMPT;OUTPUT (the output may hold ';') */
    const char *part[4];
    size_t part_len[4], want = service ? 4 : 3;
    for (size_t k = 0; k < want; k++) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi || semi == p) return 0; /* an alert cut short: reported */
        part[k] = p;
        part_len[k] = (size_t)(semi - p);
        p = semi + 1;
    }
    int n = 0;
    f[n++] = (rec_field_t){"timestamp", s + 1, at - 3};
    if (service)
        f[n++] = (rec_field_t){"alertname", part[1], part_len[1]};
    else
        f[n++] = (rec_field_t){"alertname", "host", 4};
    f[n++] = (rec_field_t){"host", part[0], part_len[0]};
    f[n++] = (rec_field_t){"state", part[want - 2], part_len[want - 2]};
    return n;
}

rec_kind_t rec_sniff(const char *buf, size_t len)
{
    size_t i = 0;
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) i = 3;
    while (i < len && isspace((unsigned char)buf[i])) i++;
    const char *nl = memchr(buf + i, '\n', len - i);
    size_t first_len = nl ? (size_t)(nl - buf - i) : len - i;
    /* A first record of Snort's full alerts ("[**] [1:2003068:6] MESSAGE
     * [**]", not a JSON array) or of OSSEC's alerts.log ("** Alert 1596031871.1234:") */
    rec_field_t f[REC_FASTLOG_FIELDS];
    size_t n = 0;
    if (rec_record_start(REC_KIND_SNORT_FULL, buf + i, first_len) &&
        ids_rule(buf + i, buf + i + first_len, f, &n))
        return REC_KIND_SNORT_FULL;
    if (rec_record_start(REC_KIND_OSSEC, buf + i, first_len) && first_len > 9 &&
        isdigit((unsigned char)buf[i + 9]) && memchr(buf + i + 9, ':', first_len - 9))
        return REC_KIND_OSSEC;
    /* "[1701000000] LOG ROTATION: DAILY", "[1701000000] SERVICE ALERT: ..." */
    if (nagios_stamp(buf + i, first_len) && memchr(buf + i, ':', first_len)) return REC_KIND_NAGIOS;
    if (i < len && (buf[i] == '{' || buf[i] == '[')) return REC_KIND_JSON;
    /* A first line that is a fast.log alert: no header to read. */
    if (i < len && rec_fastlog_line(buf + i, first_len, f)) return REC_KIND_FASTLOG;
    rec_field_t sf[REC_SYSLOG_FIELDS];
    if (i < len && rec_syslog_line(buf + i, first_len, sf)) return REC_KIND_SYSLOG;
    /* A first line of 3 or more bytes without control characters is a CSV
     * header, whatever comes after it (a stray NUL in a row is the row's
     * problem): a varint-delimited Alert has its field tag 0x0a ('\n')
     * right after a one- or two-byte length. */
    size_t k = i;
    while (k < len && k < i + 512 && buf[k] != '\n' &&
           ((unsigned char)buf[k] >= 0x20 || buf[k] == '\t' || buf[k] == '\r'))
        k++;
    if (k - i >= 3 && (k == len || buf[k] == '\n' || k == i + 512)) return REC_KIND_CSV;
    /* Otherwise, text (printable ASCII or UTF-8 in the first bytes) is CSV. */
    for (size_t k = i; k < len && k < i + 512; k++) {
        unsigned char c = (unsigned char)buf[k];
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return REC_KIND_PROTO;
    }
    return len ? REC_KIND_CSV : REC_KIND_JSON;
}
