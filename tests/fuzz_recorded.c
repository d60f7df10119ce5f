/*
 * libFuzzer target for app/recorded.c: recorded traffic (CSV, JSON lines of
 * any shape, Prometheus JSON, protobuf) as `quell suggest` and `quell
 * replay` read it. The first byte picks the reader's setup (no mapping, or
 * one of a few mappings, dotted JSON paths and the special time/status
 * targets included); the rest is the file. Crashes, leaks and memory
 * errors are the sanitizers' to find; on top of that every alert handed
 * out is checked, and a violation aborts:
 *
 * - at least one label, names unique and sorted bytewise, each name
 *   [a-zA-Z_][a-zA-Z0-9_]* (what the mapping and label_safe make) or a
 *   name the JSON decoder accepted (non-empty);
 * - every value non-empty and strict UTF-8 (check_utf8_strict);
 * - status firing or resolved.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined, or with gcc and
 * tests/fuzz_main.c as the driver.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../app/recorded.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violated(const char *what)
{
    fprintf(stderr, "fuzz_recorded: contract violated: %s\n", what);
    abort();
}

static int str_cmp(str_t a, str_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = memcmp(a.ptr, b.ptr, n);
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static void check_alert(void *ctx, alert_t *a)
{
    (*(size_t *)ctx)++;
    if (a->n_labels == 0) violated("an alert without labels");
    if (a->status != ALERT_FIRING && a->status != ALERT_RESOLVED) violated("bad status");
    for (uint32_t i = 0; i < a->n_labels; i++) {
        const label_t *l = &a->labels[i];
        if (!l->name.len) violated("an empty label name");
        if (!l->value.len) violated("an empty label value");
        if (!check_utf8_strict(l->value.ptr, l->value.len, true)) violated("a value is not UTF-8");
        if (i && str_cmp(a->labels[i - 1].name, l->name) >= 0)
            violated("names not sorted and unique");
    }
}

static const char *const maps[] = {
    NULL,
    NULL,
    "alertname=signature,severity=priority,instance=src_ip,time=timestamp",
    "alertname=alert.signature,category=alert.category,severity=alert.severity,time=timestamp,"
    "status=state",
    "a,b,c,time=t,status=s",
    /* arrays of scalars through a mapping: a time of the first element */
    "alertname=AnalysisComponent.AnalysisComponentName,time=LogData.Timestamps,"
    "paths=AnalysisComponent.AffectedLogAtomPaths",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static conf_t conf;
    static int ready;
    if (!ready) {
        conf_defaults(&conf);
        ready = 1;
    }
    if (size == 0) return 0;
    const char *map = maps[data[0] % (sizeof maps / sizeof *maps)];
    char err[256];
    recorded_t *r = recorded_new(&conf, map, err, sizeof err);
    if (!r) violated("a valid mapping refused");
    /* the first byte's other digits: how a clock without AM/PM and a
     * yearless date read (from the data, or forced) */
    static const int clocks[] = {-1, 12, 24};
    int clock_hours = clocks[data[0] / 5 % 3];
    if (clock_hours > 0) recorded_set_clock(r, clock_hours);
    if (data[0] / 15 % 2) recorded_set_year(r, 2017);
    char *buf = malloc(size);
    if (!buf) abort();
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    size_t alerts = 0;
    /* Row problems go to stderr, as expected on such input: not to the log. */
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w"))) abort();
    FILE *saved = stderr;
    stderr = devnull;
    recorded_read_buffer(r, "fuzz", buf, size - 1, check_alert, &alerts);
    stderr = saved;
    free(buf);
    recorded_destroy(r);
    return 0;
}
