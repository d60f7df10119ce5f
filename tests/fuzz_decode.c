/*
 * libFuzzer target for ingest/decode.c: every parser of untrusted message
 * bytes and headers. Each input goes through ingest_decode() in AUTO mode and
 * in each explicit format, under roomy and under tight limits, and through
 * time_parse_rfc3339() and ingest_format_from_content_type(). Crashes and
 * memory errors are the sanitizers' to find; on top of that every DECODE_OK
 * result is checked against the contract in ingest.h (sorted unique valid
 * labels, limits, UTF-8) with code independent of decode.c, and a violation
 * aborts.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined, or with gcc and
 * tests/fuzz_main.c as the driver.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../ingest/ingest.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ingest_limits_t roomy = {
    .max_message_bytes = 1 << 20,
    .max_labels = 64,
    .max_name_bytes = 128,
    .max_value_bytes = 4096,
    .max_annotation_bytes = 16384,
};
static const ingest_limits_t tight = {
    .max_message_bytes = 2048,
    .max_labels = 3,
    .max_name_bytes = 8,
    .max_value_bytes = 16,
    .max_annotation_bytes = 32,
};

static void violated(const char *what, size_t alert)
{
    fprintf(stderr, "fuzz_decode: contract violated: alert %zu: %s\n", alert, what);
    abort();
}

/* NUL is refused by contract. */
static bool utf8_ok(const char *str, uint32_t len) { return check_utf8_strict(str, len, false); }

static int name_ok(str_t s)
{
    if (s.len == 0) return 0;
    for (uint32_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        int alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
        if (!alpha && !(i > 0 && ch >= '0' && ch <= '9')) return 0;
    }
    return 1;
}

static void check_alerts(const alert_t *alerts, size_t n, const ingest_limits_t *lim)
{
    for (size_t i = 0; i < n; i++) {
        const alert_t *a = &alerts[i];
        if (a->n_labels == 0) violated("no labels", i);
        if (a->n_labels > lim->max_labels) violated("too many labels", i);
        for (uint32_t k = 0; k < a->n_labels; k++) {
            str_t name = a->labels[k].name, value = a->labels[k].value;
            if (!name_ok(name) || name.len > lim->max_name_bytes) violated("label name", i);
            if (value.len == 0 || value.len > lim->max_value_bytes ||
                !utf8_ok(value.ptr, value.len))
                violated("label value", i);
            if (k > 0) {
                str_t prev = a->labels[k - 1].name;
                uint32_t m = prev.len < name.len ? prev.len : name.len;
                int r = memcmp(prev.ptr, name.ptr, m);
                if (r > 0 || (r == 0 && prev.len >= name.len))
                    violated("labels not sorted/unique", i);
            }
        }
        for (uint32_t k = 0; k < a->n_annotations; k++) {
            str_t name = a->annotations[k].name, value = a->annotations[k].value;
            if (name.len == 0 || name.len > lim->max_name_bytes || !utf8_ok(name.ptr, name.len))
                violated("annotation name", i);
            if (value.len > lim->max_annotation_bytes || !utf8_ok(value.ptr, value.len))
                violated("annotation value", i);
        }
        if (!utf8_ok(a->generator_url.ptr, a->generator_url.len) ||
            !utf8_ok(a->source.ptr, a->source.len))
            violated("generator_url/source", i);
        if (a->status != ALERT_FIRING && a->status != ALERT_RESOLVED) violated("status", i);
        if (a->fingerprint != 0) violated("fingerprint set", i);
    }
}

static void run(arena_t *arena, const ingest_limits_t *lim, ingest_format_t fmt,
                const uint8_t *data, size_t size)
{
    char err[256];
    alert_t *alerts = NULL;
    size_t n = 0;
    decode_error_t r =
        ingest_decode(arena, lim, fmt, data, size, 1700000000000LL, &alerts, &n, err, sizeof(err));
    if ((unsigned)r >= DECODE__COUNT) violated("unknown reason", 0);
    if (r == DECODE_OK) {
        if (n > 0 && !alerts) violated("NULL alerts", 0);
        check_alerts(alerts, n, lim);
    } else if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
        violated("refusal without a sentence", 0);
    }
    arena_free(arena); /* the alerts die with it, as with a reset */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A chunk size of 1 gives every allocation its own malloc block (the
     * arena is freed, not just reset, after each decode), so ASan sees an
     * overrun past any one of them; nothing carries over between inputs. */
    arena_t arena;
    arena_init(&arena, 1);
    run(&arena, &roomy, INGEST_FORMAT_AUTO, data, size);
    run(&arena, &tight, INGEST_FORMAT_AUTO, data, size);
    run(&arena, &roomy, INGEST_FORMAT_JSON, data, size);
    run(&arena, &roomy, INGEST_FORMAT_PROTO_ALERT, data, size);
    run(&arena, &roomy, INGEST_FORMAT_PROTO_BATCH, data, size);

    int64_t ms;
    if (time_parse_rfc3339((const char *)data, size, &ms) &&
        (ms < -62167219200000LL || ms > 253402300799999LL)) /* years 0000-9999 */
        violated("timestamp out of range", 0);

    ingest_format_t fmt = (ingest_format_t)-1;
    if (ingest_format_from_content_type((const char *)data, size, &fmt) == DECODE_OK &&
        (fmt < INGEST_FORMAT_AUTO || fmt > INGEST_FORMAT_PROTO_BATCH))
        violated("content type mapped to no format", 0);
    return 0;
}
