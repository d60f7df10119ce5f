/*
 * libFuzzer target for the silence API's parser (dedup/silence.c,
 * silencer.c): a POST /api/v2/silences body from anyone holding the token.
 * Crashes and memory errors are the sanitizers' to find; on top of that the
 * contract in silence.h is checked and a violation aborts:
 *
 * - silencer_post answers 200, 400, 404, 422 or 500, always with a body
 *   that is valid JSON (Alertmanager's shapes: an object, or a string);
 * - a 200 names a silence GET then finds (200), whose JSON parses back
 *   into a silence that compiles (what was accepted can be served and
 *   reloaded from the file or Redis).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dedup/silence_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violated(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_silence: contract violated: %s\n  input: %.*s\n", what, (int)size,
            (const char *)data);
    abort();
}

static silencer_t *silencer(void)
{
    static silencer_t *s;
    if (!s) {
        log_setup(LOG_ERROR, LOG_FMT_LOGFMT);
        silencer_opts_t o = {.retention_ms = 60000, .poll_ms = 1000};
        char err[128];
        s = silencer_new(&o, err, sizeof err);
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) return 0;
    silencer_t *s = silencer();
    if (!s) return 0;
    mbuf_t out = {0};
    int st = silencer_post(s, (const char *)data, size, &out);
    if (st != 200 && st != 400 && st != 404 && st != 422 && st != 500)
        violated("unexpected status", data, size);
    cJSON *body = out.buf ? cJSON_ParseWithLength(out.buf, out.len) : NULL;
    if (!body) violated("the answer is not JSON", data, size);
    if (st == 200) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "silenceID");
        if (!cJSON_IsString(id)) violated("200 without silenceID", data, size);
        mbuf_t got = {0};
        if (silencer_get(s, id->valuestring, &got) != 200)
            violated("accepted but not found", data, size);
        cJSON *o = cJSON_ParseWithLength(got.buf, got.len);
        srec_t r;
        char err[512];
        if (!o || srec_from_json(o, &r, err, sizeof err) != 200)
            violated("served silence does not parse back", data, size);
        matcher_set_t *ms = NULL;
        if (srec_compile(&r, &ms, err, sizeof err) != QERR_OK)
            violated("served silence does not compile", data, size);
        matcher_set_destroy(ms);
        srec_free(&r);
        cJSON_Delete(o);
        mbuf_t ex = {0};
        silencer_expire(s, id->valuestring, &ex); /* keep the list short */
        mbuf_free(&ex);
        mbuf_free(&got);
    }
    cJSON_Delete(body);
    mbuf_free(&out);
    return 0;
}
