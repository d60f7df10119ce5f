/*
 * libFuzzer target for core/conf.c: the YAML config loader, through
 * conf_load_buffer() (conf_load() reads the file and calls it). Each input is
 * loaded over the defaults and freed. Crashes, leaks and memory errors are
 * the sanitizers' to find; on top of that the contract in core.h is checked
 * and a violation aborts:
 *
 * - an error is QERR_INVALID with "fuzz:LINE: message" (LINE a positive
 *   decimal, the message not empty), or QERR_NOMEM with "fuzz: out of
 *   memory"; no other result;
 * - the same load into a tiny errbuf gives the same result and a truncated,
 *   NUL-terminated prefix of the same message;
 * - a successful load keeps the rules conf.c enforces (topics not empty,
 *   not both fingerprint_labels and ignore_labels, strings set, at most
 *   1024 kafka.properties);
 * - loading with no errbuf at all (NULL, 0) is safe.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined, or with gcc and
 * tests/fuzz_main.c as the driver.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violated(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_conf: contract violated: %s\n  error: %s\n", what, err ? err : "");
    abort();
}

/* "fuzz:" LINE ": " MESSAGE, LINE without leading zeros. */
static int error_form_ok(const char *err)
{
    const char *p = err;
    if (strncmp(p, "fuzz:", 5) != 0) return 0;
    p += 5;
    if (*p < '1' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return p[0] == ':' && p[1] == ' ' && p[2] != '\0';
}

static void check_loaded(const conf_t *c)
{
    if (c->kafka.topics.n == 0 || !c->kafka.topics.items) violated("no kafka.topics", NULL);
    for (size_t i = 0; i < c->kafka.topics.n; i++)
        if (!c->kafka.topics.items[i] || !c->kafka.topics.items[i][0])
            violated("empty topic", NULL);
    if (c->dedup.fingerprint_labels.n && c->dedup.ignore_labels.n)
        violated("fingerprint_labels and ignore_labels both set", NULL);
    if (!c->kafka.brokers || !*c->kafka.brokers || !c->kafka.group_id || !*c->kafka.group_id ||
        !c->kafka.output_topic || !*c->kafka.output_topic || !c->kafka.dlq_topic ||
        !*c->kafka.dlq_topic || !c->dedup.snapshot_file)
        violated("a string key is missing or empty", NULL);
    if (c->kafka.n_properties > 1024 || (c->kafka.n_properties && !c->kafka.properties))
        violated("kafka.properties count", NULL);
    for (size_t i = 0; i < c->kafka.n_properties; i++)
        if (!c->kafka.properties[i].key || !c->kafka.properties[i].value)
            violated("kafka.properties entry", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    conf_t c;
    char err[1024], tiny[12];

    conf_defaults(&c);
    memset(err, 'x', sizeof(err));
    qerr_t rc = conf_load_buffer(&c, "fuzz", (const char *)data, size, err, sizeof(err));
    if (!memchr(err, '\0', sizeof(err))) violated("errbuf not NUL-terminated", NULL);
    if (rc == QERR_OK) {
        if (err[0] != '\0') violated("message on success", err);
        check_loaded(&c);
    } else if (rc == QERR_INVALID) {
        if (!error_form_ok(err)) violated("error not in \"fuzz:LINE: message\" form", err);
    } else if (rc == QERR_NOMEM) {
        if (strcmp(err, "fuzz: out of memory") != 0) violated("out of memory message", err);
    } else {
        violated("unexpected result", err);
    }
    conf_free(&c);

    /* The message is truncated, never overrun, and does not depend on the
     * buffer's size. */
    conf_defaults(&c);
    memset(tiny, 'x', sizeof(tiny));
    qerr_t rc2 = conf_load_buffer(&c, "fuzz", (const char *)data, size, tiny, sizeof(tiny));
    conf_free(&c);
    if (rc2 != rc && rc != QERR_NOMEM && rc2 != QERR_NOMEM)
        violated("result depends on errbuf", err);
    if (!memchr(tiny, '\0', sizeof(tiny))) violated("tiny errbuf not NUL-terminated", tiny);
    if (rc2 == rc && strncmp(tiny, err, strlen(tiny)) != 0)
        violated("tiny errbuf message differs", err);

    /* No errbuf at all is allowed by the contract. */
    conf_defaults(&c);
    conf_load_buffer(&c, "fuzz", (const char *)data, size, NULL, 0);
    conf_free(&c);
    return 0;
}
