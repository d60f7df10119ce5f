/*
 * Calendar arithmetic and RFC 3339 timestamps, without timegm() or the C
 * library's time zone state: no TZ or locale dependence, and safe from any
 * thread. The ingest decoders parse alert times with it, the rules read
 * expiry dates and time intervals with it, the router formats incident
 * times with it. The day arithmetic is Howard Hinnant's well-known era
 * method, exact for every int64 day count formatted here.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no timegm(), so no TZ or locale dependence. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Go's zero time.Time, which Alertmanager writes for "no end". */
#define GO_ZERO_TIME_MS (-62135596800000LL)

bool time_parse_rfc3339(const char *s, size_t len, int64_t *ms_out)
{
    /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
    if (!s || len < 20) return false;
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    int year = digits(s, 4), mon = digits(s + 5, 2), day = digits(s + 8, 2);
    int hour = digits(s + 11, 2), min = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 ||
        min > 59 || sec < 0 || sec > 59) /* no leap second: Go refuses :60 too */
        return false;
    static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[mon - 1] + (mon == 2 && leap)) return false;

    size_t i = 19;
    int64_t frac_ms = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
            i++;
        }
        size_t n = i - start;
        if (n == 0) return false;
        for (; n < 3; n++) frac_ms *= 10; /* ".5" is 500 ms; digits past ms truncate */
    }
    int64_t offset_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        if (len - i < 6 || s[i + 3] != ':') return false;
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
        offset_s = (int64_t)oh * 3600 + om * 60;
        if (s[i] == '-') offset_s = -offset_s;
        i += 6;
    } else {
        return false;
    }
    if (i != len) return false;

    int64_t secs = time_days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 + hour * 3600 +
                   min * 60 + sec - offset_s;
    int64_t ms = secs * 1000 + frac_ms;
    /* Any spelling of Go's zero instant means "unset". */
    *ms_out = ms == GO_ZERO_TIME_MS ? 0 : ms;
    return true;
}

void time_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

static void put_digits(char *out, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void time_format_rfc3339(int64_t unix_ms, char out[32])
{
    int64_t days = unix_ms / 86400000;
    int64_t rem = unix_ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days -= 1;
    }
    int y, mo, d;
    time_civil_from_days(days, &y, &mo, &d);
    unsigned ms = (unsigned)rem;
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    put_digits(out, (unsigned)(y < 0 ? 0 : y), 4);
    out[4] = '-';
    put_digits(out + 5, (unsigned)mo, 2);
    out[7] = '-';
    put_digits(out + 8, (unsigned)d, 2);
    out[10] = 'T';
    put_digits(out + 11, ms / 3600000, 2);
    out[13] = ':';
    put_digits(out + 14, ms / 60000 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, ms / 1000 % 60, 2);
    out[19] = '.';
    put_digits(out + 20, ms % 1000, 3);
    out[23] = 'Z';
    out[24] = '\0';
}
