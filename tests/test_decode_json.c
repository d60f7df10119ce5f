/*
 * Differential test of the JSON decoder (simdjson since it replaced cJSON)
 * against the decoder it replaced, frozen in tests/decode_ref.c: every JSON
 * file under ../shared/data, a `quell gen` storm, and deterministic
 * mutations of all of them (byte flips, truncations, deletions, inserted
 * control bytes, escapes, invalid UTF-8, odd numbers, structure). Both must
 * give the same verdict, the same sentence and, when they accept, the same
 * alerts (labels, annotations, times, status, URL, source).
 *
 * Where they may differ, by design (JSON spec, RFC 8259, and Go's
 * encoding/json, which Alertmanager uses, decide):
 *  - Invalid UTF-8 anywhere: now bad_utf8 for the whole text, with its byte
 *    offset. cJSON read raw bytes, so the old decoder refused them only in
 *    fields it checked (and said which), accepted them in fields it ignored.
 *    RFC 8259 section 8.1: JSON text exchanged between systems MUST be UTF-8.
 *  - Number syntax JSON does not have (01, 1., -01.e5): cJSON took them
 *    (it hands any run of digits, signs, dots and e's to strtod), simdjson
 *    and Go refuse them: now bad_json ("...number"). Numbers
 *    JSON has but no 64-bit type holds (43434343434343434343, 1e999) are
 *    still accepted where quell ignores them, as cJSON and Go do.
 *  - A raw tab, CR or LF inside a string: cJSON took it into the string;
 *    JSON (section 7) and Go refuse it: now bad_json with its offset.
 *  - A \u escape without four hex digits ("\u12pk"): cJSON read it as
 *    U+0000 (which then cut the C string short); JSON and Go refuse it:
 *    now bad_json.
 * Each allowed difference is counted and checked to be of one of those
 * kinds; anything else fails with the input printed.
 */
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bench/bench.h"
#include "../core/core.h"
#include "../ingest/ingest.h"
#include "check.h"
#include "decode_ref.h"

#define EVENT_MS 1700000000000LL

static const ingest_limits_t roomy = {
    .max_message_bytes = 1 << 20,
    .max_labels = 64,
    .max_name_bytes = 128,
    .max_value_bytes = 4096,
    .max_annotation_bytes = 64 * 1024,
};
static const ingest_limits_t tight = {
    .max_message_bytes = 1 << 20,
    .max_labels = 4,
    .max_name_bytes = 12,
    .max_value_bytes = 24,
    .max_annotation_bytes = 40,
};

static arena_t arena_new, arena_ref;
static uint64_t n_same_ok, n_same_refused, n_utf8_diff, n_number_diff, n_raw_diff, n_escape_diff,
    n_failed;

/* Strict UTF-8 by decoding code points, independent of decode.c. */
static bool utf8_ok(const unsigned char *s, size_t len) { return check_utf8_strict(s, len, true); }

static bool same_str(str_t a, str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool same_pairs(const label_t *a, const label_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!same_str(a[i].name, b[i].name) || !same_str(a[i].value, b[i].value)) return false;
    return true;
}

static bool same_alerts(const alert_t *a, const alert_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].n_labels != b[i].n_labels || a[i].n_annotations != b[i].n_annotations ||
            !same_pairs(a[i].labels, b[i].labels, a[i].n_labels) ||
            !same_pairs(a[i].annotations, b[i].annotations, a[i].n_annotations) ||
            a[i].status != b[i].status || a[i].starts_at_ms != b[i].starts_at_ms ||
            a[i].ends_at_ms != b[i].ends_at_ms || a[i].event_time_ms != b[i].event_time_ms ||
            !same_str(a[i].generator_url, b[i].generator_url) ||
            !same_str(a[i].source, b[i].source) || a[i].fingerprint != b[i].fingerprint)
            return false;
    }
    return true;
}

static void show(const char *what, const uint8_t *buf, size_t len)
{
    fprintf(stderr, "  %s (%zu bytes): ", what, len);
    for (size_t i = 0; i < len && i < 400; i++)
        fprintf(stderr, buf[i] >= 0x20 && buf[i] < 0x7f ? "%c" : "\\x%02x", buf[i]);
    fprintf(stderr, "%s\n", len > 400 ? "..." : "");
}

static void compare(const ingest_limits_t *lim, const uint8_t *buf, size_t len)
{
    char err_new[512], err_ref[512];
    alert_t *a_new, *a_ref;
    size_t n_new, n_ref;
    arena_reset(&arena_new);
    arena_reset(&arena_ref);
    decode_error_t r_new = ingest_decode(&arena_new, lim, INGEST_FORMAT_JSON, buf, len, EVENT_MS,
                                         &a_new, &n_new, err_new, sizeof err_new);
    decode_error_t r_ref = ref_decode_json(&arena_ref, lim, buf, len, EVENT_MS, &a_ref, &n_ref,
                                           err_ref, sizeof err_ref);
    const char *why = NULL;
    if (r_new == r_ref && r_new == DECODE_OK) {
        if (n_new == n_ref && same_alerts(a_new, a_ref, n_new)) {
            n_same_ok++;
            return;
        }
        why = "both accept, different alerts";
    } else if (r_new == r_ref && strcmp(err_new, err_ref) == 0) {
        n_same_refused++;
        return;
    } else if (r_new == DECODE_BAD_UTF8 && r_ref != DECODE_BAD_JSON && !utf8_ok(buf, len) &&
               strstr(err_new, "JSON text is not valid UTF-8")) {
        n_utf8_diff++;
        return;
    } else if (r_new == DECODE_BAD_JSON && r_ref != DECODE_BAD_JSON &&
               strstr(err_new, "parsing a number")) {
        n_number_diff++;
        return;
    } else if (r_new == DECODE_BAD_JSON && r_ref != DECODE_BAD_JSON &&
               strstr(err_new, "inside a string at byte") &&
               (memchr(buf, '\t', len) || memchr(buf, '\n', len) || memchr(buf, '\r', len))) {
        n_raw_diff++;
        return;
    } else if (r_new == DECODE_BAD_JSON && r_ref != DECODE_BAD_JSON &&
               strstr(err_new, "parsing a string") && memmem(buf, len, "\\u", 2)) {
        n_escape_diff++;
        return;
    } else {
        why = "different verdicts";
    }
    n_failed++;
    if (n_failed <= 10) {
        fprintf(stderr, "decode_json: %s: new %s \"%s\", reference %s \"%s\"\n", why,
                decode_error_str(r_new), err_new, decode_error_str(r_ref), err_ref);
        show("input", buf, len);
    }
}

/* ---- mutations ---------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 17;
}

static const char *const splices[] = {
    "\\u0000",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\n",
    "\\\"",
    "\\\\",
    "\\u00e9",
    "\\q",
    "\\u12",
    "\xff",
    "\xc3",
    "\xed\xa0\x80",
    "\xc0\xaf",
    "\xe2\x82",
    "\x01",
    "\x1f",
    "\x7f",
    "01",
    "+1",
    ".5",
    "1.",
    "1e999",
    "43434343434343434343",
    "-0",
    "1E+2",
    "true",
    "null",
    "{}",
    "[]",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"labels\":",
    "\"a\":\"\"",
    " ",
    "\t",
    "\r\n",
    "\xef\xbb\xbf",
    "\"status\":1",
    "\"endsAt\":\"2023-11-14T22:13:20Z\"",
};
#define N_SPLICES (sizeof splices / sizeof *splices)

/* One mutation of src into dst (cap >= len + 64); returns the new length. */
static size_t mutate(const uint8_t *src, size_t len, uint8_t *dst)
{
    memcpy(dst, src, len);
    size_t at = len ? next_rand() % len : 0;
    switch (next_rand() % 5) {
    case 0: /* flip a bit */
        if (len) dst[at] ^= (uint8_t)(1u << (next_rand() % 8));
        return len;
    case 1: /* truncate */ return at;
    case 2: /* delete a byte */
        if (!len) return 0;
        memmove(dst + at, dst + at + 1, len - at - 1);
        return len - 1;
    default: { /* splice something in (twice as likely: the interesting part) */
        const char *s = splices[next_rand() % N_SPLICES];
        size_t n = strlen(s);
        bool replace = next_rand() % 2 && at + n <= len;
        if (!replace) memmove(dst + at + n, dst + at, len - at);
        memcpy(dst + at, s, n);
        return replace ? len : len + n;
    }
    }
}

static void run_seed(const uint8_t *buf, size_t len, int mutations)
{
    static uint8_t a[1 << 19], b[1 << 19];
    if (len + 64 * 4 > sizeof a) return;
    compare(&roomy, buf, len);
    compare(&tight, buf, len);
    for (int m = 0; m < mutations; m++) {
        size_t n = mutate(buf, len, a);
        int stack = (int)(next_rand() % 3); /* 0-2 more on top */
        for (int k = 0; k < stack; k++) {
            n = mutate(a, n, b);
            memcpy(a, b, n);
        }
        compare(m % 4 ? &roomy : &tight, a, n);
    }
}

static int walk(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int files = 0;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 8) files += walk(path, depth + 1);
            continue;
        }
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0) continue;
        size_t len = 0;
        char *buf = check_read_file(path, &len);
        if (!buf) continue;
        files++;
        run_seed((const uint8_t *)buf, len, len > 32 * 1024 ? 16 : 500);
        free(buf);
    }
    closedir(d);
    return files;
}

static void test_shared_data(void)
{
    char root[1024];
    if (!CHECK_DATA(root, "payloads")) return;
    snprintf(root, sizeof root, "%s", check_test_data());
    int files = walk(root, 0);
    fprintf(stderr, "decode_json: %d JSON files under %s\n", files, root);
    CHECK(files >= 40);
}

static void test_gen_storm(void)
{
    gen_opts_t o;
    gen_opts_defaults(&o);
    o.alerts = 1500;
    o.format = GEN_JSON;
    o.flood_share = 0.3;
    o.transient_share = 0.1;
    char e[256];
    gen_t *g = gen_new(&o, e, sizeof e);
    CHECK(g != NULL);
    const void *msg;
    size_t len;
    int seeds = 0;
    while (g && gen_next(g, &msg, &len, NULL, NULL)) {
        run_seed(msg, len, 12);
        seeds++;
    }
    gen_destroy(g);
    CHECK_EQ_INT(seeds, 1500);
}

/* Fixed inputs for each kind of difference, so none of them goes unseen. */
static void test_known_differences(void)
{
    static const char *const cases[] = {
        "{\"labels\":{\"a\":\"b\"},\"groupKey\":\"\xff\"}",            /* ignored field */
        "{\"labels\":{\"a\":\"b\"},\"annotations\":{\"k\":\"\xc3\"}}", /* checked field */
        "{\"labels\":{\"a\":\"b\"},\"n\":01}",
        "{\"labels\":{\"a\":\"b\"},\"n\":-01.e5}",
        "{\"labels\":{\"a\":\"b\"},\"n\":1.}",
        "{\"labels\":{\"a\":01}}",
        "{\"labels\":{\"a\":\"x\ty\"}}",
        "{\"labels\":{\"a\":\"b\"},\"x\":\"line\nbreak\"}",
        "{\"labels\":{\"a\":\"\\u12pk\"}}",
    };
    uint64_t before = n_utf8_diff + n_number_diff + n_raw_diff + n_escape_diff;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        compare(&roomy, (const uint8_t *)cases[i], strlen(cases[i]));
    CHECK_EQ_INT(n_utf8_diff + n_number_diff + n_raw_diff + n_escape_diff - before,
                 sizeof cases / sizeof *cases);
}

/* jd_parse reads a text where it lies when the 64 bytes after it are on
 * its page (json_dom.cpp), else copies it: texts ending 0 to 80 bytes
 * before an unreadable page, followed by bytes that would change them if
 * read as JSON, decode as the reference decodes them. */
static void test_page_edges(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    if (map == MAP_FAILED) return;
    CHECK(mprotect(map + page, page, PROT_NONE) == 0);
    static const char *const texts[] = {
        "{\"labels\":{\"alertname\":\"Edge\",\"job\":\"x\"},\"annotations\":{\"s\":\"t\"}}",
        "[{\"labels\":{\"a\":\"1\"}},{\"labels\":{\"b\":\"2\"}}]",
        "{\"labels\":{\"a\":\"b\"},\"n\":12345",  /* cut short */
        "{\"labels\":{\"a\":\"b\"},\"n\":12345}", /* a number just before the end */
        "{\"labels\":{\"a\":\"b\"}} trailing",
        "12345",
        "\"string\"",
    };
    uint64_t failed = n_failed, seen = n_same_ok + n_same_refused;
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        size_t len = strlen(texts[t]);
        for (size_t gap = 0; gap <= 80; gap++) {
            for (size_t i = 0; i < page; i++) map[i] = "\"\\1{,]"[i % 6];
            uint8_t *at = map + page - gap - len;
            memcpy(at, texts[t], len);
            compare(&roomy, at, len);
        }
    }
    CHECK_EQ_INT(n_failed, failed);
    CHECK_EQ_INT(n_same_ok + n_same_refused - seen, 81 * (sizeof texts / sizeof *texts));
    munmap(map, 2 * page);
}

int main(void)
{
    arena_init(&arena_new, 64 * 1024);
    arena_init(&arena_ref, 64 * 1024);
    test_known_differences();
    test_page_edges();
    test_shared_data();
    test_gen_storm();
    fprintf(stderr,
            "decode_json: %llu accepted alike, %llu refused alike (same sentence), %llu "
            "refused now for invalid UTF-8, %llu for number syntax, %llu for raw control bytes "
            "in strings, %llu for bad \\u escapes; %llu disagreements\n",
            (unsigned long long)n_same_ok, (unsigned long long)n_same_refused,
            (unsigned long long)n_utf8_diff, (unsigned long long)n_number_diff,
            (unsigned long long)n_raw_diff, (unsigned long long)n_escape_diff,
            (unsigned long long)n_failed);
    CHECK_EQ_INT(n_failed, 0);
    /* Most agreements come from mutating the shared payloads. */
    if (check_data_present())
        CHECK(n_same_ok > 4000 && n_same_refused > 25000);
    else
        CHECK(n_same_ok > 4000 && n_same_refused > 10000);
    arena_free(&arena_new);
    arena_free(&arena_ref);
    return check_summary("decode_json");
}
