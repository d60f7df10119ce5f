/*
 * scenario: reads bench/scenarios/NAME.yaml, a storm and the quell config
 * to run it with, for `quell gen --scenario` and `quell bench`.
 *
 *   description: one line for people
 *   gen:                # quell gen's options, without "--"
 *     alerts: 2000000
 *     flood-share: 0.6
 *   config: |          # a quell config, passed to `quell run` as it is
 *     dedup:
 *       window: 5m
 *
 * The gen section goes through gen_parse_args, so a scenario accepts
 * exactly what the command line does and is checked the same way; only
 * "scenario" itself is refused there (no nesting).
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "bench.h"

#define MAX_GEN_KEYS 32

typedef struct {
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev;
    const char *path;
    char *errbuf;
    size_t errlen;
} reader_t;

static bool next(reader_t *r)
{
    if (r->have_ev) yaml_event_delete(&r->ev);
    r->have_ev = yaml_parser_parse(&r->parser, &r->ev);
    if (!r->have_ev)
        snprintf(r->errbuf, r->errlen, "%s:%zu: %s", r->path, r->parser.problem_mark.line + 1,
                 r->parser.problem ? r->parser.problem : "invalid YAML");
    return r->have_ev;
}

static qerr_t bad(reader_t *r, const char *what)
{
    snprintf(r->errbuf, r->errlen, "%s:%zu: %s", r->path, r->ev.start_mark.line + 1, what);
    return QERR_INVALID;
}

static char *scalar_dup(const yaml_event_t *ev)
{
    return strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
}

/* The `gen:` map, turned into an argv for gen_parse_args. */
static qerr_t read_gen(reader_t *r, gen_opts_t *opts)
{
    char *argv[2 * MAX_GEN_KEYS + 1] = {"gen"};
    int argc = 1;
    qerr_t rc = QERR_INVALID;
    size_t line = r->ev.start_mark.line + 1;
    if (!next(r)) return QERR_INVALID;
    if (r->ev.type != YAML_MAPPING_START_EVENT) return bad(r, "gen: must be a map of options");
    for (;;) {
        if (!next(r)) goto out;
        if (r->ev.type == YAML_MAPPING_END_EVENT) break;
        if (r->ev.type != YAML_SCALAR_EVENT || argc + 2 > (int)(sizeof argv / sizeof *argv)) {
            bad(r, "gen: expected an option name (at most 32)");
            goto out;
        }
        char *key = scalar_dup(&r->ev);
        if (!strcmp(key, "scenario")) {
            free(key);
            bad(r, "gen: a scenario cannot include another");
            goto out;
        }
        argv[argc] = malloc(strlen(key) + 3);
        sprintf(argv[argc++], "--%s", key);
        free(key);
        if (!next(r)) goto out;
        if (r->ev.type != YAML_SCALAR_EVENT) {
            bad(r, "gen: option values are scalars");
            goto out;
        }
        argv[argc++] = scalar_dup(&r->ev);
    }
    bool help = false;
    char err[256];
    rc = gen_parse_args(argc, argv, opts, &help, err, sizeof err);
    if (rc != QERR_OK) snprintf(r->errbuf, r->errlen, "%s:%zu: gen: %s", r->path, line, err);
out:
    for (int i = 1; i < argc; i++) free(argv[i]);
    return rc;
}

qerr_t gen_load_scenario(const char *path, gen_opts_t *opts, char **config, char *errbuf,
                         size_t errlen)
{
    reader_t r = {.path = path, .errbuf = errbuf, .errlen = errlen};
    qerr_t rc = QERR_INVALID;
    bool saw_gen = false;
    if (config) *config = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errbuf, errlen, "%s: cannot open: %m", path);
        return QERR_INVALID;
    }
    yaml_parser_initialize(&r.parser);
    yaml_parser_set_input_file(&r.parser, f);
    /* stream start, document start, the top map */
    for (int i = 0; i < 3; i++)
        if (!next(&r)) goto out;
    if (r.ev.type != YAML_MAPPING_START_EVENT) {
        bad(&r, "a scenario is a map with gen: and config:");
        goto out;
    }
    for (;;) {
        if (!next(&r)) goto out;
        if (r.ev.type == YAML_MAPPING_END_EVENT) break;
        if (r.ev.type != YAML_SCALAR_EVENT) {
            bad(&r, "expected description:, gen: or config:");
            goto out;
        }
        const char *key = (const char *)r.ev.data.scalar.value;
        if (!strcmp(key, "gen")) {
            if (read_gen(&r, opts) != QERR_OK) goto out;
            saw_gen = true;
        } else if (!strcmp(key, "config") || !strcmp(key, "description")) {
            bool is_config = !strcmp(key, "config");
            if (!next(&r)) goto out;
            if (r.ev.type != YAML_SCALAR_EVENT) {
                bad(&r, "config: is a block of YAML text (config: |)");
                goto out;
            }
            if (is_config && config) {
                free(*config);
                *config = scalar_dup(&r.ev);
            }
        } else {
            bad(&r, "unknown key: expected description:, gen: or config:");
            goto out;
        }
    }
    if (!saw_gen) {
        snprintf(errbuf, errlen, "%s: no gen: section", path);
        goto out;
    }
    rc = QERR_OK;
out:
    if (r.have_ev) yaml_event_delete(&r.ev);
    yaml_parser_delete(&r.parser);
    fclose(f);
    if (config && rc == QERR_OK && !*config) *config = strdup("");
    if (config && rc != QERR_OK) {
        free(*config);
        *config = NULL;
    }
    return rc;
}
