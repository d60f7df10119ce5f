/*
 * json_dom: a small C view of simdjson's DOM parser, internal to ingest
 * (decode.c is its only user; ingest.h stays the folder's public header).
 *
 * simdjson's DOM API in the shared library picks its kernels at run time
 * (AVX2, SSE4.2, ...), so no -march flag is needed; its header-only
 * "ondemand" API would compile to the portable fallback kernel instead.
 *
 * Threads: each thread has its own parser (thread_local in json_dom.cpp).
 * Every pointer handed out (strings, keys, refs) points into that parser and
 * is valid until the next jd_parse() or jd_release() on the same thread, so
 * the caller copies what it keeps. No C++ exception crosses into C.
 */
#ifndef QUELL_JSON_DOM_H
#define QUELL_JSON_DOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define JD_NOEXCEPT noexcept
extern "C" {
#else
#define JD_NOEXCEPT
#endif

typedef enum { JD_NULL = 0, JD_BOOL, JD_NUMBER, JD_STRING, JD_ARRAY, JD_OBJECT } jd_type_t;

/* Parse outcomes; JD_SYNTAX covers every other simdjson refusal. */
typedef enum {
    JD_OK = 0,
    JD_SYNTAX,
    JD_BAD_UTF8,    /* the text is not UTF-8 (simdjson validates all of it) */
    JD_BAD_NUMBER,  /* not JSON number syntax, or beyond 64-bit integers / doubles */
    JD_RAW_CONTROL, /* a byte < 0x20 inside a string, not escaped */
    JD_TOO_DEEP,    /* nested deeper than JD_MAX_DEPTH */
    JD_NO_MEMORY
} jd_status_t;

/* cJSON's limit (CJSON_NESTING_LIMIT), kept so that the same documents pass. */
#define JD_MAX_DEPTH 1000

/* A value. Strings are simdjson's unescaped copies: valid UTF-8 (NUL only
 * where the text said \u0000), `len` bytes, not to be relied on as
 * NUL-terminated. */
typedef struct {
    jd_type_t type;
    size_t n; /* JD_ARRAY, JD_OBJECT: number of items or members */
    union {
        struct {
            const char *ptr;
            size_t len;
        } str;           /* JD_STRING */
        uint64_t ref[2]; /* JD_ARRAY, JD_OBJECT: a simdjson::dom::element */
    } u;
} jd_val_t;

typedef struct {
    const char *key; /* unescaped, like strings */
    size_t key_len;
    jd_val_t val;
} jd_member_t;

/* Parses `len` bytes, read where they lie when the 64 bytes after them are
 * on the same page, else copied into the thread's padded buffer: `buf`
 * needs no padding and may be freed right after. On JD_OK *root is the
 * value. On failure *why (if not NULL) gets simdjson's sentence for the
 * error. */
jd_status_t jd_parse(const char *buf, size_t len, jd_val_t *root, const char **why) JD_NOEXCEPT;

/* The members of an object / the items of an array, in document order
 * (duplicate keys kept, as written), into out[0 .. v->n - 1]; out must hold
 * v->n entries. Returns the number written (v->n). */
size_t jd_members(const jd_val_t *obj, jd_member_t *out) JD_NOEXCEPT;
size_t jd_items(const jd_val_t *arr, jd_val_t *out) JD_NOEXCEPT;

/* Ends this thread's use of the last parse: a parser that grew past a
 * modest size for one big message gives its memory back. */
void jd_release(void) JD_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif
