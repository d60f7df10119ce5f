/*
 * Incident formatting: the exact bytes the output topic receives.
 *
 * Pure: no allocation, no clock. A bounded writer appends into the caller's
 * buffer and keeps counting past its end, so the caller learns the size to
 * retry with (the same contract as snprintf).
 */
#include <string.h>

#include "router_int.h"

/* Days since 1970-01-01 to a civil date (proleptic Gregorian); the
 * well-known era arithmetic, exact for every int64 day count we format. */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

static void put_digits(char *out, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void router_format_time(int64_t unix_ms, char out[32])
{
    int64_t days = unix_ms / 86400000;
    int64_t rem = unix_ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days -= 1;
    }
    int y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    unsigned ms = (unsigned)rem;
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    put_digits(out, (unsigned)(y < 0 ? 0 : y), 4);
    out[4] = '-';
    put_digits(out + 5, mo, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
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

size_t router_format_incident_json(char *buf, size_t cap, const alert_t *a, const incident_t *inc)
{
    writer_t w = {buf, cap, 0};
    char fp[17];
    hex16(inc->fingerprint, fp);
    put_lit(&w, "{\"fingerprint\":\"");
    put_lit(&w, fp);
    put_lit(&w, "\",\"incident_id\":\"");
    put_lit(&w, fp);
    put(&w, "-", 1);
    put_u64(&w, (uint64_t)inc->first_seen_ms);
    put_lit(&w, "\",\"kind\":\"");
    put_lit(&w, inc->kind == DECISION_FORWARD_REPEAT     ? "repeat"
                : inc->kind == DECISION_FORWARD_RESOLVED ? "resolved"
                                                         : "new");
    put_lit(&w, "\",\"status\":\"");
    put_lit(&w, inc->kind == DECISION_FORWARD_RESOLVED ? "resolved" : "firing");
    put_lit(&w, "\",\"labels\":");
    put_labels(&w, a->labels, a->n_labels);
    put_lit(&w, ",\"annotations\":");
    put_labels(&w, a->annotations, a->n_annotations);
    put_lit(&w, ",\"starts_at\":");
    put_time(&w, a->starts_at_ms);
    put_lit(&w, ",\"ends_at\":");
    put_time(&w, a->ends_at_ms);
    put_lit(&w, ",\"generator_url\":");
    put_str(&w, a->generator_url);
    put_lit(&w, ",\"source\":");
    put_str(&w, a->source);
    put_lit(&w, ",\"count\":");
    put_u64(&w, inc->count);
    put_lit(&w, ",\"first_seen\":");
    put_time(&w, inc->first_seen_ms);
    put_lit(&w, ",\"last_seen\":");
    put_time(&w, inc->last_seen_ms);
    /* Only when set: decided without the shared store (it failed open), so
     * another instance may have forwarded the same incident. */
    if (inc->degraded) put_lit(&w, ",\"degraded\":true");
    put(&w, "}", 1);
    if (cap) buf[w.len < cap ? w.len : cap - 1] = '\0';
    return w.len;
}
