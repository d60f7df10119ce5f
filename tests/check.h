/*
 * A minimal assertion harness for quell's C tests: each test executable is
 * one ctest test; CHECK records a failure with file:line and goes on, so a
 * run reports every broken expectation, and check_summary() sets the exit
 * code ctest reads.
 */
#ifndef QUELL_CHECK_H
#define QUELL_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_passes;

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

static inline int check_summary(const char *name)
{
    printf("%s: %d checks passed, %d failed\n", name, check_passes, check_failures);
    return check_failures ? 1 : 0;
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

/* Where ../shared/data is: QUELL_SHARED_DATA, set by CMake for every test. */
static inline const char *check_shared_data(void)
{
    const char *d = getenv("QUELL_SHARED_DATA");
    return d ? d : "../shared/data";
}

#endif
