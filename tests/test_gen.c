/*
 * Unit tests for bench/gen.c (`quell gen`): determinism, counts, skew, the
 * JSON and protobuf encodings (decoded with cJSON and protobuf-c, not with
 * quell's own decoder), the resolve share, the run model behind
 * startsAt/endsAt, and option parsing. A digest pins the default output so
 * that a change in the bytes, on any machine, is seen.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, timegm, open_memstream */
#endif
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../bench/bench.h"
#include "check.h"
#include "quell/v1/alert.pb-c.h"

#define FOUR_MINUTES_MS (4 * 60 * 1000)
/* fnv1a64 of the default output, 1000 alerts; see test_golden(). */
#define GOLDEN_JSON  0xb9e18530920c19dcULL
#define GOLDEN_PROTO 0xd2ab7bdd155362acULL

static gen_opts_t opts_with(uint64_t alerts, uint64_t fingerprints, uint64_t seed,
                            gen_format_t format)
{
    gen_opts_t o;
    gen_opts_defaults(&o);
    o.alerts = alerts;
    o.fingerprints = fingerprints;
    o.seed = seed;
    o.format = format;
    return o;
}

/* Everything gen_write() produces for `o`; caller frees. */
static char *gen_bytes(const gen_opts_t *o, size_t *len)
{
    char err[256] = "", *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    gen_t *g = gen_new(o, err, sizeof err);
    CHECK(g != NULL);
    if (!g) fprintf(stderr, "gen_new: %s\n", err);
    if (g) CHECK_EQ_INT(gen_write(g, f), QERR_OK);
    gen_destroy(g);
    fclose(f);
    return buf;
}

static uint64_t fnv1a64(const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ULL;
    return h;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" to Unix ms, -1 if it is not that shape. */
static int64_t parse_ts(const char *s)
{
    struct tm tm = {0};
    int ms, n = 0;
    if (!s || strlen(s) != 24 ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 ||
        n != 24)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Reads a protobuf varint; 0 bytes consumed on a truncated one. */
static size_t read_varint(const unsigned char *p, size_t n, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) return i + 1;
    }
    return 0;
}

static void test_determinism(void)
{
    for (int f = GEN_JSON; f <= GEN_PROTO; f++) {
        gen_opts_t a = opts_with(20000, 1000, 7, (gen_format_t)f), b = a;
        b.seed = 8;
        size_t la, la2, lb;
        char *x = gen_bytes(&a, &la), *y = gen_bytes(&a, &la2), *z = gen_bytes(&b, &lb);
        CHECK(la > 0 && la == la2 && memcmp(x, y, la) == 0);
        CHECK(la != lb || memcmp(x, z, la) != 0);
        free(x);
        free(y);
        free(z);
    }
    /* gen_next and gen_write give the same messages. */
    gen_opts_t o = opts_with(500, 100, 3, GEN_JSON);
    size_t total;
    char *all = gen_bytes(&o, &total), *at = all;
    gen_t *g = gen_new(&o, NULL, 0);
    const void *msg;
    size_t len;
    bool same = true;
    while (g && gen_next(g, &msg, &len, NULL, NULL)) {
        same = same && at + len < all + total && !memcmp(at, msg, len) && at[len] == '\n';
        at += len + 1;
    }
    CHECK(same && at == all + total);
    gen_destroy(g);
    free(all);
}

/* The cross-machine contract: these bytes never change unless the generator
 * is changed on purpose (then update the digests, and say so). */
static void test_golden(void)
{
    gen_opts_t o = opts_with(1000, 1000, 1, GEN_JSON);
    size_t len;
    char *buf = gen_bytes(&o, &len);
    uint64_t json_digest = fnv1a64(buf, len);
    printf("gen: default JSON, 1000 alerts: %zu bytes, fnv1a64 %016llx\n", len,
           (unsigned long long)json_digest);
    CHECK(json_digest == GOLDEN_JSON);
    free(buf);
    o.format = GEN_PROTO;
    buf = gen_bytes(&o, &len);
    uint64_t proto_digest = fnv1a64(buf, len);
    printf("gen: default proto, 1000 alerts: %zu bytes, fnv1a64 %016llx\n", len,
           (unsigned long long)proto_digest);
    CHECK(proto_digest == GOLDEN_PROTO);
    free(buf);
}

static void test_counts(void)
{
    gen_opts_t o = opts_with(12345, 500, 1, GEN_JSON);
    size_t len, lines = 0;
    char *buf = gen_bytes(&o, &len);
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    CHECK_EQ_INT(lines, 12345);
    CHECK(len > 0 && buf[len - 1] == '\n');
    free(buf);

    o.format = GEN_PROTO;
    buf = gen_bytes(&o, &len);
    size_t frames = 0, off = 0;
    uint64_t n;
    for (size_t k; off < len && (k = read_varint((unsigned char *)buf + off, len - off, &n));
         frames++)
        off += k + n;
    CHECK_EQ_INT(frames, 12345);
    CHECK_EQ_INT(off, len);
    free(buf);

    o.alerts = 0;
    buf = gen_bytes(&o, &len);
    CHECK_EQ_INT(len, 0);
    free(buf);

    /* Event times step by spacing; gen_next stays false once done. */
    o = opts_with(100, 10, 1, GEN_JSON);
    o.start_ms = 1000;
    o.spacing_ms = 7;
    gen_t *g = gen_new(&o, NULL, 0);
    int64_t t;
    uint64_t i = 0;
    bool steps = true;
    while (g && gen_next(g, NULL, NULL, &t, NULL)) steps = steps && t == 1000 + 7 * (int64_t)i++;
    CHECK(steps);
    CHECK_EQ_INT(i, 100);
    CHECK(g && !gen_next(g, NULL, NULL, NULL, NULL));
    gen_destroy(g);
}

static void test_skew(void)
{
    enum { K = 1000, N = 200000 };
    static uint64_t hits[K];
    gen_opts_t o = opts_with(N, K, 42, GEN_PROTO);
    gen_t *g = gen_new(&o, NULL, 0);
    uint64_t idx, distinct = 0, top = 0, out_of_range = 0;
    while (g && gen_next(g, NULL, NULL, NULL, &idx)) {
        if (idx >= K) {
            out_of_range++;
            continue;
        }
        distinct += hits[idx]++ == 0;
    }
    gen_destroy(g);
    CHECK_EQ_INT(out_of_range, 0);
    CHECK(distinct <= K && distinct > K / 2);
    for (int i = 0; i < K / 100; i++) top += hits[i]; /* index 0 is the hottest */
    printf("gen: top 1%% of %d fingerprints carry %.1f%% of %d alerts\n", K,
           100.0 * (double)top / N, N);
    CHECK(top > N * 0.30); /* Zipf 1.125 over 1000: about half */
    CHECK(hits[0] > hits[K / 2] * 20);

    /* A few million fingerprints are fine. */
    o = opts_with(20000, 3000000, 1, GEN_JSON);
    g = gen_new(&o, NULL, 0);
    CHECK(g != NULL);
    bool in_range = true;
    while (g && gen_next(g, NULL, NULL, NULL, &idx)) in_range = in_range && idx < 3000000;
    CHECK(in_range);
    gen_destroy(g);
}

/* Every JSON message parses, has the Alertmanager shape, sorted labels,
 * the times the run model predicts, and a label set that is a function of
 * the fingerprint index and distinct between indices. */
static void test_json(void)
{
    enum { K = 300, N = 30000 };
    static char *labels_of[K];
    static int64_t open_run[K];
    gen_opts_t o = opts_with(N, K, 5, GEN_JSON);
    o.resolve_share = 0.1;
    gen_t *g = gen_new(&o, NULL, 0);
    const void *msg;
    size_t len;
    int64_t ev;
    uint64_t idx;
    int bad_parse = 0, bad_shape = 0, bad_times = 0, unstable = 0, unsorted = 0;
    bool saw_newline = false, saw_quote = false;
    while (g && gen_next(g, &msg, &len, &ev, &idx)) {
        cJSON *a = cJSON_ParseWithLength(msg, len);
        if (!a) {
            bad_parse++;
            continue;
        }
        cJSON *labels = cJSON_GetObjectItemCaseSensitive(a, "labels");
        cJSON *ann = cJSON_GetObjectItemCaseSensitive(a, "annotations");
        cJSON *name = cJSON_GetObjectItemCaseSensitive(labels, "alertname");
        cJSON *desc = cJSON_GetObjectItemCaseSensitive(ann, "description");
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "status"));
        int64_t starts =
            parse_ts(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "startsAt")));
        int64_t ends =
            parse_ts(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "endsAt")));
        if (!cJSON_IsObject(labels) || !cJSON_IsString(name) || !*name->valuestring ||
            !cJSON_IsString(desc) || !cJSON_GetObjectItemCaseSensitive(ann, "summary") ||
            !cJSON_GetObjectItemCaseSensitive(ann, "runbook_url") || !status ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "generatorURL")) || idx >= K) {
            bad_shape++;
            cJSON_Delete(a);
            continue;
        }
        saw_newline |= strchr(desc->valuestring, '\n') != NULL;
        saw_quote |= strchr(desc->valuestring, '"') != NULL;
        for (cJSON *l = labels->child; l && l->next; l = l->next)
            unsorted += strcmp(l->string, l->next->string) >= 0;
        bool resolved = !strcmp(status, "resolved");
        int64_t want_start = open_run[idx] ? open_run[idx] : ev;
        open_run[idx] = resolved ? 0 : want_start;
        bad_times += starts != want_start || ends != (resolved ? ev : ev + FOUR_MINUTES_MS) ||
                     (!resolved && strcmp(status, "firing"));
        char *l = cJSON_PrintUnformatted(labels);
        if (!labels_of[idx])
            labels_of[idx] = l;
        else
            unstable += strcmp(labels_of[idx], l) != 0, free(l);
        cJSON_Delete(a);
    }
    gen_destroy(g);
    CHECK_EQ_INT(bad_parse, 0);
    CHECK_EQ_INT(bad_shape, 0);
    CHECK_EQ_INT(bad_times, 0);
    CHECK_EQ_INT(unstable, 0);
    CHECK_EQ_INT(unsorted, 0);
    CHECK(saw_newline && saw_quote); /* escaping was exercised and round-trips */
    int seen = 0, same = 0;
    for (int i = 0; i < K; i++) {
        seen += labels_of[i] != NULL;
        for (int j = i + 1; j < K && labels_of[i]; j++)
            same += labels_of[j] && !strcmp(labels_of[i], labels_of[j]);
    }
    CHECK(seen > K / 2);
    CHECK_EQ_INT(same, 0);
    for (int i = 0; i < K; i++) free(labels_of[i]);
}

/* Each delimited protobuf message unpacks and carries what the JSON form of
 * the same options carries. */
static void test_proto(void)
{
    gen_opts_t o = opts_with(3000, 200, 9, GEN_PROTO), oj = o;
    oj.format = GEN_JSON;
    oj.resolve_share = o.resolve_share = 0.2;
    size_t len, off = 0, k;
    char *buf = gen_bytes(&o, &len);
    gen_t *gj = gen_new(&oj, NULL, 0);
    const void *msg;
    size_t mlen;
    int64_t ev;
    uint64_t n;
    int count = 0, bad = 0, mismatch = 0;
    while (off < len && (k = read_varint((unsigned char *)buf + off, len - off, &n))) {
        Quell__V1__Alert *a = quell__v1__alert__unpack(NULL, n, (uint8_t *)buf + off + k);
        off += k + n;
        count++;
        if (!a || !gj || !gen_next(gj, &msg, &mlen, &ev, NULL)) {
            bad++;
            quell__v1__alert__free_unpacked(a, NULL);
            continue;
        }
        cJSON *j = cJSON_ParseWithLength(msg, mlen);
        cJSON *jl = cJSON_GetObjectItemCaseSensitive(j, "labels");
        bool resolved = a->status == QUELL__V1__STATUS__STATUS_RESOLVED;
        bad += a->n_labels < 5 || a->n_annotations != 3 ||
               strcmp(a->labels[0]->name, "alertname") ||
               (!resolved && a->status != QUELL__V1__STATUS__STATUS_FIRING) ||
               a->ends_at_ms != (resolved ? ev : ev + FOUR_MINUTES_MS) || a->starts_at_ms > ev ||
               !*a->generator_url;
        for (size_t i = 0; i + 1 < a->n_labels; i++)
            bad += strcmp(a->labels[i]->name, a->labels[i + 1]->name) >= 0;
        mismatch += cJSON_GetArraySize(jl) != (int)a->n_labels;
        for (size_t i = 0; i < a->n_labels; i++) {
            const char *v =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jl, a->labels[i]->name));
            mismatch += !v || strcmp(v, a->labels[i]->value);
        }
        mismatch +=
            parse_ts(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "startsAt"))) !=
            a->starts_at_ms;
        cJSON_Delete(j);
        quell__v1__alert__free_unpacked(a, NULL);
    }
    CHECK_EQ_INT(off, len);
    CHECK_EQ_INT(count, 3000);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(mismatch, 0);
    gen_destroy(gj);
    free(buf);
}

static uint64_t count_resolves(double share, uint64_t n)
{
    gen_opts_t o = opts_with(n, 1000, 11, GEN_JSON);
    o.resolve_share = share;
    gen_t *g = gen_new(&o, NULL, 0);
    const void *msg;
    size_t len;
    uint64_t resolves = 0;
    while (g && gen_next(g, &msg, &len, NULL, NULL))
        resolves += memmem(msg, len, "\"status\":\"resolved\"", 19) != NULL;
    gen_destroy(g);
    return resolves;
}

static void test_resolve_share(void)
{
    uint64_t r = count_resolves(0.02, 100000);
    printf("gen: resolve share 0.02 gave %llu resolves in 100000\n", (unsigned long long)r);
    CHECK(r > 1500 && r < 2500);
    CHECK_EQ_INT(count_resolves(0.0, 20000), 0);
    CHECK_EQ_INT(count_resolves(1.0, 20000), 20000);
}

static qerr_t parse(gen_opts_t *o, const char *a1, const char *a2, const char *a3)
{
    char *argv[] = {"gen", (char *)a1, (char *)a2, (char *)a3, NULL};
    int argc = 1 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);
    char err[256] = "";
    bool help;
    gen_opts_defaults(o);
    qerr_t rc = gen_parse_args(argc, argv, o, &help, err, sizeof err);
    CHECK(rc == QERR_OK || *err); /* a refusal always says why */
    return rc;
}

static void test_args(void)
{
    gen_opts_t o;
    CHECK_EQ_INT(parse(&o, NULL, NULL, NULL), QERR_OK);
    CHECK(o.alerts == 100000 && o.fingerprints == 1000 && o.seed == 1 && o.format == GEN_JSON &&
          o.start_ms == 1767225600000LL && o.spacing_ms == 10 && o.resolve_share == 0.02);
    CHECK_EQ_INT(parse(&o, "--alerts", "5", "--format=proto"), QERR_OK);
    CHECK(o.alerts == 5 && o.format == GEN_PROTO);
    CHECK_EQ_INT(parse(&o, "--start=2026-01-01T01:00:00.25+01:00", NULL, NULL), QERR_OK);
    CHECK_EQ_INT(o.start_ms, 1767225600250LL);
    CHECK_EQ_INT(parse(&o, "--start", "2024-02-29T23:59:59.999999Z", NULL), QERR_OK);
    CHECK_EQ_INT(o.start_ms, 1709251199999LL);
    CHECK_EQ_INT(parse(&o, "--start", "1767225600000", "--resolve-share=.5"), QERR_OK);
    CHECK(o.start_ms == 1767225600000LL && o.resolve_share == 0.5);
    CHECK_EQ_INT(parse(&o, "--seed", "18446744073709551615", "--spacing-ms=0"), QERR_OK);
    CHECK(o.seed == UINT64_MAX && o.spacing_ms == 0);
    CHECK_EQ_INT(parse(&o, "--fingerprints", "16777216", NULL), QERR_OK);

    const char *bad[][2] = {
        {"--alerts", "-1"},
        {"--alerts", "1x"},
        {"--alerts", ""},
        {"--alerts", "18446744073709551616"},
        {"--fingerprints", "0"},
        {"--fingerprints", "16777217"},
        {"--format", "xml"},
        {"--resolve-share", "1.5"},
        {"--resolve-share", "0,02"},
        {"--resolve-share", "."},
        {"--start", "2026-13-01T00:00:00Z"},
        {"--start", "2025-02-29T00:00:00Z"},
        {"--start", "2026-01-01 00:00:00Z"},
        {"--start", "2026-01-01T00:00:00"},
        {"--start", "0"},
        {"--start", "2026-+1-01T00:00:00Z"},
        {"--start", "2026-01-01T00:00:00+0:100"},
        {"--start", "2026-01-01T00:00:00.Z"},
        {"--spacing-ms", "-5"},
        {"--bogus", "1"},
        {"extra", NULL},
        {"--alerts", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qerr_t rc = parse(&o, bad[i][0], bad[i][1], NULL);
        if (rc != QERR_INVALID)
            fprintf(stderr, "accepted: %s %s\n", bad[i][0], bad[i][1] ? bad[i][1] : "");
        CHECK_EQ_INT(rc, QERR_INVALID);
    }
    /* 10^12 alerts 10 ms apart would end after year 9999. */
    CHECK_EQ_INT(parse(&o, "--alerts", "1000000000000000", NULL), QERR_INVALID);

    char *argv_bad[] = {"gen", "--format", "yaml", NULL};
    fprintf(stderr, "(a usage message is expected next)\n");
    CHECK_EQ_INT(gen_main(3, argv_bad), 2);
    gen_opts_defaults(&o);
    o.fingerprints = 0;
    char err[128] = "";
    CHECK(gen_new(&o, err, sizeof err) == NULL && strstr(err, "--fingerprints"));
    gen_destroy(NULL);
}

/* The scenario families: the flood is the new service's non-critical
 * alerts and starts where asked; excluded alerts are Watchdog/InfoInhibitor
 * with severity none; a transient fires once and its resolve comes next;
 * a flapper alternates; and the shipped scenario files load. */
static void test_families(void)
{
    gen_opts_t o = opts_with(20000, 500, 9, GEN_JSON);
    o.flood_share = 0.5;
    o.flood_start = 0.5;
    o.flood_fingerprints = 40;
    o.excluded_share = 0.1;
    o.transient_share = 0.1;
    o.flap_share = 0.2;
    o.duration_ms = 3600 * 1000;
    char err[256] = "";
    gen_t *g = gen_new(&o, err, sizeof err);
    CHECK(g != NULL);
    if (!g) return;
    const void *buf;
    size_t len;
    int64_t t, last_t = 0, t_half = 0;
    uint64_t idx, n = 0, flood_early = 0, flood_late = 0, excluded = 0, flood_critical = 0;
    uint64_t transient_fire = 0, transient_resolve = 0, open_transient = UINT64_MAX;
    uint64_t pairs_ok = 0, flood_idx_bad = 0;
    while (gen_next(g, &buf, &len, &t, &idx)) {
        cJSON *a = cJSON_ParseWithLength(buf, len);
        const char *svc =
            cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "labels"), "service"));
        const char *sev =
            cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "labels"), "severity"));
        const char *name = cJSON_GetStringValue(
            cJSON_GetObjectItem(cJSON_GetObjectItem(a, "labels"), "alertname"));
        bool resolved = !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(a, "status")), "resolved");
        CHECK(t >= last_t && t < o.start_ms + o.duration_ms);
        last_t = t;
        if (n == 10000) t_half = t;
        if (svc && !strcmp(svc, "recommendations-v2")) {
            *(n < 10000 ? &flood_early : &flood_late) += 1;
            flood_critical += !strcmp(sev, "critical");
            flood_idx_bad += idx < 500 || idx >= 540;
        }
        if (!strcmp(sev, "none")) {
            excluded++;
            CHECK(!strcmp(name, "Watchdog") || !strcmp(name, "InfoInhibitor"));
            CHECK(!resolved);
        }
        if (idx >= 500 + 40 + 64) { /* transient */
            if (resolved) {
                transient_resolve++;
                pairs_ok += idx == open_transient;
                open_transient = UINT64_MAX;
            } else {
                transient_fire++;
                CHECK(open_transient == UINT64_MAX);
                open_transient = idx;
            }
        }
        cJSON_Delete(a);
        n++;
    }
    gen_destroy(g);
    CHECK_EQ_INT(n, 20000);
    CHECK_EQ_INT(flood_early, 0);
    /* The flood comes on top: the second half of the alerts (flood share
     * 0.5) takes half the event time the first half took. */
    CHECK(t_half > o.start_ms + o.duration_ms * 64 / 100 &&
          t_half < o.start_ms + o.duration_ms * 70 / 100);
    CHECK(flood_late > 4000 && flood_late < 6000); /* 50% of the second half */
    CHECK_EQ_INT(flood_critical, 0);
    CHECK_EQ_INT(flood_idx_bad, 0);
    CHECK(excluded > 1200 && excluded < 1800); /* 10% of the 15,000 non-flood */
    CHECK(transient_fire > 600 && transient_fire <= transient_resolve + 1);
    CHECK_EQ_INT(pairs_ok, transient_resolve);

    /* The shipped scenarios load and describe what their names say. */
    const char *src = getenv("QUELL_SOURCE_DIR");
    const char *names[] = {"launch-day", "steady", "cardinality"};
    for (size_t i = 0; src && i < 3; i++) {
        char path[1024], *config = NULL;
        snprintf(path, sizeof path, "%s/bench/scenarios/%s.yaml", src, names[i]);
        gen_opts_defaults(&o);
        CHECK_EQ_INT(gen_load_scenario(path, &o, &config, err, sizeof err), QERR_OK);
        if (*err) fprintf(stderr, "%s\n", err);
        CHECK(config && strstr(config, "dedup:"));
        CHECK(o.alerts >= 1000000 && o.duration_ms > 0);
        if (i == 0) CHECK(o.flood_share > 0 && o.excluded_share > 0);
        if (i == 2) CHECK(o.fingerprints >= 1000000);
        free(config);
    }
    /* A scenario is refused with its file and line; later options win. */
    char path[] = "/tmp/quell-scenario-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("gen:\n  alerts: 10\n  flood-share: 2\n", f);
    fclose(f);
    gen_opts_defaults(&o);
    CHECK_EQ_INT(gen_load_scenario(path, &o, NULL, err, sizeof err), QERR_INVALID);
    CHECK(strstr(err, path) && strstr(err, ":1: gen:"));
    f = fopen(path, "w");
    fputs("gen:\n  alerts: 10\n  seed: 5\n", f);
    fclose(f);
    CHECK_EQ_INT(parse(&o, "--scenario", path, "--alerts=7"), QERR_OK);
    CHECK(o.alerts == 7 && o.seed == 5);
    CHECK_EQ_INT(parse(&o, "--excluded-share", "0.6", "--transient-share=0.5"), QERR_INVALID);
    unlink(path);
}

int main(void)
{
    test_determinism();
    test_golden();
    test_counts();
    test_skew();
    test_json();
    test_proto();
    test_resolve_share();
    test_args();
    test_families();
    return check_summary("gen");
}
