/*
 * `quell top`: the noisy-alert report. Asks a running instance for its
 * merged noisy-alert sketches (GET /api/v1/top), prints the noisiest groups
 * — occurrences, the share dedup already suppressed, incidents opened,
 * firing/resolved flaps — and, for each, a rule in the config's own syntax
 * to try with `quell replay --candidate`: an exclusion (matchers on the
 * grouping labels, an owner and an end to fill in) and, when it flaps, the
 * flapping noise rule.
 *
 * Counts come from per-worker space-saving sketches: upper bounds, exact for
 * anything noisy enough to matter (see dedup/top.c), since quell started or
 * since the fingerprint entered the sketch, for fingerprints seen within the
 * window.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../router/router.h"
#include "app.h"

static void top_usage(FILE *out)
{
    fprintf(out,
            "usage: quell top [-c FILE] [--url URL] [--window 1h] [--by alertname,service]\n"
            "                 [--limit 10] [--token-file FILE]\n"
            "  asks a running quell (default http://127.0.0.1:9095, or http.listen of -c FILE)\n"
            "  for its noisiest alerts and prints a suggested rule for each\n");
}

/* Lowercase [a-z0-9-] slug of the group's values, for rule names. */
static void slug_append(char *out, size_t cap, const char *s)
{
    size_t len = strlen(out);
    bool dash = len == 0 || out[len - 1] == '-';
    for (; *s && len + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c)) {
            out[len++] = (char)tolower(c);
            dash = false;
        } else if (!dash) {
            out[len++] = '-';
            dash = true;
        }
    }
    out[len] = '\0';
}

/* A matcher value in double quotes, escaped as Alertmanager's parser reads
 * it; the whole matcher then goes into a YAML single-quoted scalar. */
static void print_matcher(FILE *out, const char *name, const char *value)
{
    fprintf(out, "      - '%s=\"", name);
    for (const char *v = value; *v; v++) {
        if (*v == '"' || *v == '\\')
            fprintf(out, "\\%c", *v);
        else if (*v == '\'')
            fputs("''", out);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
    fprintf(out, "\"'\n");
}

/* "45s", "12m", "3h20m", "2d4h": an age for the report. */
static void format_age(int64_t ms, char *out, size_t cap)
{
    int64_t s = ms < 0 ? 0 : ms / 1000;
    if (s < 60)
        snprintf(out, cap, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(out, cap, "%lldm", (long long)(s / 60));
    else if (s < 86400)
        snprintf(out, cap, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(out, cap, "%lldd%lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

static double num(const cJSON *o, const char *k)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

void top_print_report(FILE *out, const cJSON *doc, const char *window, const char *url)
{
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(doc, "groups");
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(doc, "by");
    int n = cJSON_GetArraySize(groups);
    fprintf(out, "noisiest alerts at %s over the last %s (by ", url, window);
    const cJSON *b;
    bool first = true;
    cJSON_ArrayForEach(b, by)
    {
        fprintf(out, "%s%s", first ? "" : ",", b->valuestring);
        first = false;
    }
    bool windowed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "windowed"));
    fprintf(out, "; %d groups)\n%s\n\n", n,
            windowed ? "counts are over the window, in 5-minute steps"
                     : "windows over 2h: counts run from \"since\", when quell began tracking each "
                       "alert");
    if (n == 0) {
        fprintf(out, "nothing seen in the window\n");
        return;
    }
    /* Counts run from when quell first saw the group's alerts (the sketch
     * holds each fingerprint from then on): "since" says how long ago. */
    fprintf(out, "%4s %12s %11s %10s %8s %6s %8s  %s\n", "#", "occurrences", "suppressed",
            "incidents", "flaps", "fps", "since", "group");
    int64_t now_ms = clock_wall_ms();
    int i = 0;
    const cJSON *g;
    cJSON_ArrayForEach(g, groups)
    {
        double occ = num(g, "occurrences"), sup = num(g, "suppressed");
        char since[32];
        format_age(now_ms - (int64_t)num(g, "first_seen_ms"), since, sizeof(since));
        fprintf(out, "%4d %12.0f %10.1f%% %10.0f %8.0f %6.0f %8s  ", ++i, occ,
                occ > 0 ? 100.0 * sup / occ : 0.0, num(g, "incidents"), num(g, "flaps"),
                num(g, "fingerprints"), since);
        const cJSON *l;
        first = true;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(g, "labels"))
        {
            fprintf(out, "%s%s=\"%s\"", first ? "" : ",", l->string, l->valuestring);
            first = false;
        }
        fputc('\n', out);
    }

    char ends[32], today[32];
    int64_t now = clock_wall_ms();
    time_format_rfc3339(now + 7LL * 86400 * 1000, ends);
    time_format_rfc3339(now, today);
    today[10] = '\0';
    fprintf(out,
            "\nsuggested rules (try them with: quell replay -c CURRENT --candidate NEW INPUT);\n"
            "fill in the owner, and keep the end date unless the exclusion is for good:\n\n");
    /* One exclusions: list (rules are per group) and, when any group flaps,
     * one noise: block (the flapping rule is global). */
    fprintf(out, "exclusions:\n");
    i = 0;
    double max_flaps = 0;
    /* Rule names are unique in a config: two groups whose values slug
     * alike (or cut at the same length) get their rank appended. */
    char(*used)[80] = calloc((size_t)n, sizeof(*used));
    cJSON_ArrayForEach(g, groups)
    {
        i++;
        double occ = num(g, "occurrences"), sup = num(g, "suppressed"), inc = num(g, "incidents"),
               flaps = num(g, "flaps");
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(g, "labels");
        char name[80] = "noisy";
        const cJSON *l;
        cJSON_ArrayForEach(l, labels)
        {
            slug_append(name, sizeof(name), "-");
            slug_append(name, sizeof(name), l->valuestring);
        }
        size_t nl = strlen(name);
        if (nl && name[nl - 1] == '-') name[nl - 1] = '\0';
        for (int k = 0; used; k++) {
            bool dup = false;
            for (int u = 0; u < i - 1 && !dup; u++) dup = !strcmp(used[u], name);
            if (!dup) break;
            size_t at = strlen(name) < sizeof(name) - 16 ? strlen(name) : sizeof(name) - 16;
            snprintf(name + at, sizeof(name) - at, k ? "-%d-%d" : "-%d", i, k);
        }
        if (used) snprintf(used[i - 1], sizeof(used[i - 1]), "%s", name);
        fprintf(out,
                "  # %d. %.0f occurrences, %.1f%% already suppressed, %.0f incidents, %.0f "
                "flaps%s\n",
                i, occ, occ > 0 ? 100.0 * sup / occ : 0.0, inc, flaps,
                flaps >= 4 && flaps * 4 >= occ ? " (flaps: see noise below first)" : "");
        if (flaps >= 4 && flaps * 4 >= occ && flaps > max_flaps) max_flaps = flaps;
        fprintf(out, "  - name: %s\n    matchers:\n", name);
        /* An empty value is a label the group's alerts lack: `name=""`
         * keeps the rule to them (and a list with no entry would be no
         * list: `quell check` refuses it). */
        cJSON_ArrayForEach(l, labels) print_matcher(out, l->string, l->valuestring);
        fprintf(out,
                "    owner: \"\"  # who answers for this exclusion\n"
                "    comment: \"quell top %s: %.0f occurrences, %.0f incidents in %s\"\n"
                "    ends_at: \"%s\"\n",
                today, occ, inc, window, ends);
    }
    free(used);
    if (max_flaps > 0)
        fprintf(out,
                "# some alerts flap: hold them while they flip instead of excluding them\n"
                "noise:\n"
                "  flapping:\n"
                "    threshold: %.0f\n"
                "    window: %s\n",
                max_flaps >= 8 ? max_flaps / 2 : 4, window);
}

int top_main(int argc, char **argv)
{
    const char *path = NULL, *url = NULL, *window = "1h", *by = "alertname", *token_file = NULL;
    int limit = 10;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "--window") && i + 1 < argc)
            window = argv[++i];
        else if (!strcmp(argv[i], "--by") && i + 1 < argc)
            by = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            limit = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--token-file") && i + 1 < argc)
            token_file = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            top_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "quell top: unknown option \"%s\"\n", argv[i]);
            top_usage(stderr);
            return 2;
        }
    }
    int64_t window_ms;
    if (conf_parse_duration_ms(window, &window_ms) != QERR_OK) {
        fprintf(stderr, "quell top: --window must be a duration such as 30m or 1h\n");
        return 2;
    }
    if (limit < 1 || limit > 1000) {
        fprintf(stderr, "quell top: --limit must be 1..1000\n");
        return 2;
    }
    conf_t conf;
    conf_defaults(&conf);
    char errbuf[1024];
    if (path && conf_load(&conf, path, errbuf, sizeof(errbuf)) != QERR_OK) {
        fprintf(stderr, "%s\n", errbuf);
        conf_free(&conf);
        return 1;
    }
    char base[300];
    if (url)
        snprintf(base, sizeof(base), "%s", url);
    else if (*conf.http.listen)
        snprintf(base, sizeof(base), "http://%s", conf.http.listen);
    else {
        fprintf(stderr, "quell top: http.listen is empty in %s; pass --url\n", path);
        conf_free(&conf);
        return 2;
    }
    char *token = NULL;
    if (!token_file && *conf.http.auth_token_file) token_file = conf.http.auth_token_file;
    if (token_file && http_load_token(token_file, &token, errbuf, sizeof(errbuf)) != QERR_OK) {
        fprintf(stderr, "quell top: %s\n", errbuf);
        conf_free(&conf);
        return 1;
    }

    int rc = 1;
    CURL *c = curl_easy_init();
    char *by_q = curl_easy_escape(c, by, 0), *win_q = curl_easy_escape(c, window, 0);
    char full[1200];
    snprintf(full, sizeof(full), "%s/api/v1/top?by=%s&window=%s&limit=%d", base, by_q, win_q,
             limit);
    curl_free(by_q);
    curl_free(win_q);
    mbuf_t body;
    mbuf_init(&body);
    long status = 0;
    char err[512];
    if (http_get(full, token, 30000, &body, &status, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "quell top: %s: %s (is quell running?)\n", base, err);
    } else if (status != 200) {
        fprintf(stderr, "quell top: %s answered %ld: %s", full, status, body.buf ? body.buf : "\n");
    } else {
        cJSON *doc = body.buf ? cJSON_Parse(body.buf) : NULL;
        if (!doc) {
            fprintf(stderr, "quell top: %s did not answer JSON\n", full);
        } else {
            top_print_report(stdout, doc, window, base);
            rc = 0;
        }
        cJSON_Delete(doc);
    }
    mbuf_free(&body);
    curl_easy_cleanup(c);
    free(token);
    conf_free(&conf);
    return rc;
}
