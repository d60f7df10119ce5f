/*
 * A minimal assertion harness for quell's C tests: each test executable is
 * one ctest test; CHECK records a failure with file:line and goes on, so a
 * run reports every broken expectation, and check_summary() sets the exit
 * code ctest reads.
 */
#ifndef QUELL_CHECK_H
#define QUELL_CHECK_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_failures;
static int check_passes;
static int check_skips;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passes++;                                                                        \
        } else {                                                                                   \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ == check_b_) {                                                                \
            check_passes++;                                                                        \
        } else {                                                                                   \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    check_a_, check_b_);                                                           \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) {                             \
            check_passes++;                                                                        \
        } else {                                                                                   \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");           \
        }                                                                                          \
    } while (0)

/* Exit code for ctest: 1 on a failure, 77 (SKIP_RETURN_CODE) when every
 * check of the executable was skipped, else 0. */
static inline int check_summary(const char *name)
{
    printf("%s: %d checks passed, %d failed, %d skipped\n", name, check_passes, check_failures,
           check_skips);
    if (check_failures) return 1;
    return check_passes == 0 && check_skips > 0 ? 77 : 0;
}

/* Strict UTF-8 by decoding code points, written independently of
 * ingest/decode.c (which checks byte ranges), so the two agree only if both
 * are right. `allow_nul`: whether U+0000 counts as valid. */
static inline bool check_utf8_strict(const void *str, size_t len, bool allow_nul)
{
    const unsigned char *s = str;
    for (size_t i = 0; i < len;) {
        uint32_t cp = s[i], n = 0, min = 0;
        if (cp == 0 && !allow_nul) return false;
        if (cp < 0x80)
            n = 0;
        else if ((cp & 0xe0) == 0xc0)
            n = 1, cp &= 0x1f, min = 0x80;
        else if ((cp & 0xf0) == 0xe0)
            n = 2, cp &= 0x0f, min = 0x800;
        else if ((cp & 0xf8) == 0xf0)
            n = 3, cp &= 0x07, min = 0x10000;
        else
            return false;
        if (len - i <= n) return false;
        for (uint32_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

/* Reads a whole file, NUL-terminated; NULL if it cannot be read. The
 * length (without the NUL) goes to *len when len is not NULL. */
static inline char *check_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)n, fp) : 0;
    if (buf) buf[got] = '\0';
    if (len) *len = got;
    fclose(fp);
    return buf;
}

/* The shared test data (real payloads, Alertmanager's conformance tables):
 * QUELL_TEST_DATA, which CMake sets to ../shared/data beside the source tree
 * unless the environment of the configure step names another folder. */
static inline const char *check_test_data(void)
{
    const char *d = getenv("QUELL_TEST_DATA");
    return d && *d ? d : "../shared/data";
}

/* Whether the shared test data folder exists at all. */
static inline bool check_data_present(void) { return access(check_test_data(), R_OK | X_OK) == 0; }

/* Puts "<test data>/<rel>" in buf and says whether the check that reads it
 * can run. A fresh clone has no shared data: then the check is skipped with
 * one "SKIP" line (scripts/test.sh counts them) and false is returned. Where
 * the data folder exists, a missing file is a failure, not a skip: CI has the
 * data and must skip nothing. Use through CHECK_DATA. */
static inline bool check_data_at(char *buf, size_t len, const char *rel, const char *check)
{
    snprintf(buf, len, "%s/%s", check_test_data(), rel);
    if (access(buf, R_OK) == 0) return true;
    if (check_data_present()) {
        check_failures++;
        fprintf(stderr, "%s: cannot read %s\n", check, buf);
        return false;
    }
    check_skips++;
    printf("SKIP %s: needs %s, and there is no shared test data at %s (set QUELL_TEST_DATA)\n",
           check, rel, check_test_data());
    return false;
}
#define CHECK_DATA(buf, rel) check_data_at((buf), sizeof(buf), (rel), __func__)

#endif
