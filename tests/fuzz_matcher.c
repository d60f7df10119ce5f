/*
 * libFuzzer target for dedup/matcher*.c: the matcher parsers (classic, UTF-8 and the
 * fallback combination) and the Go-regex-to-PCRE2 translation, on
 * untrusted text. Crashes and memory errors are the sanitizers' to find; on
 * top of that the contract in rules.h is checked and a violation aborts:
 *
 * - matcher_set_parse returns QERR_OK, or QERR_INVALID with "COL: message"
 *   (COL >= 1) and nothing appended;
 * - a successful parse renders (matcher_set_format) and the rendering,
 *   parsed again, gives as many matchers with the same names, operators
 *   and values (Alertmanager's String() form round-trips);
 * - matching any label set built from the input terminates;
 * - matcher_set_parse_filter (the API's filter=) appends exactly one
 *   matcher, or none with an error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dedup/rules_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violated(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_matcher: contract violated: %s\n  input: %s\n", what, text);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    matcher_set_t *ms = matcher_set_new();
    char err[512];
    qerr_t rc = matcher_set_parse(ms, text, err, sizeof err);
    if (rc == QERR_INVALID) {
        char *end;
        long col = strtol(err, &end, 10);
        if (col < 1 || strncmp(end, ": ", 2) != 0) violated("error without a column", text);
        if (matcher_set_count(ms) != 0) violated("error but matchers appended", text);
    } else if (rc == QERR_OK && strlen(text) == size) {
        char out[16384];
        size_t need = matcher_set_format(ms, out, sizeof out);
        if (need < sizeof out) {
            matcher_set_t *again = matcher_set_new();
            if (matcher_set_parse(again, out, err, sizeof err) != QERR_OK)
                violated("rendering does not parse", out);
            if (matcher_set_count(again) != matcher_set_count(ms))
                violated("rendering parses to another count", out);
            for (size_t i = 0; i < matcher_set_count(ms); i++) {
                matcher_view_t a, b;
                matcher_set_get(ms, i, &a);
                matcher_set_get(again, i, &b);
                if (a.op != b.op || a.name_len != b.name_len || a.value_len != b.value_len ||
                    memcmp(a.name, b.name, a.name_len) || memcmp(a.value, b.value, a.value_len))
                    violated("rendering parses to other matchers", out);
            }
            matcher_set_destroy(again);
        }
        /* Match a label set made of the input itself. */
        label_t l[2] = {
            {{"a", 1}, {text, (uint32_t)(size / 2)}},
            {{text, (uint32_t)(size / 2)}, {text + size / 2, (uint32_t)(size - size / 2)}}};
        if (size / 2 > 1 && memcmp(text, "a", 1) > 0) (void)matcher_set_matches(ms, l, 2);
        (void)matcher_set_matches(ms, l, 1);
    }
    matcher_set_destroy(ms);
    /* The API's filter= parser: one matcher or an error, nothing else. */
    ms = matcher_set_new();
    rc = matcher_set_parse_filter(ms, text, err, sizeof err);
    if (rc == QERR_OK && matcher_set_count(ms) != 1) violated("filter: not one matcher", text);
    if (rc == QERR_INVALID && matcher_set_count(ms) != 0)
        violated("filter: error but appended", text);
    matcher_set_destroy(ms);
    /* The regex translation on its own. */
    size_t plen;
    char *pat = go_regex_to_pcre2(text, size, &plen, err, sizeof err);
    free(pat);
    free(text);
    return 0;
}
