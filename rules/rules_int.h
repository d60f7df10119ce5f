/*
 * rules internals: shared by the rules/ sources and the unit tests, not by other
 * modules (they use rules.h).
 */
#ifndef QUELL_RULES_INT_H
#define QUELL_RULES_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules.h"

/* One compiled matcher. Strings are NUL-terminated copies (lengths kept:
 * a quoted "\x00" makes an embedded NUL possible). */
typedef struct {
    char *name;
    size_t name_len;
    match_op_t op;
    char *value;
    size_t value_len;
    pcre2_code *re; /* MATCH_RE / MATCH_NRE only */
} matcher_t;

/* A growable list, what the parsers produce. */
typedef struct {
    matcher_t *v;
    size_t n, cap;
} matcher_list_t;

void matcher_list_free(matcher_list_t *l); /* frees items and array; leaves l empty */

/* Builds one matcher (copies name/value, compiles regexes). On error writes
 * a message (no position) and returns QERR_INVALID. */
qerr_t matcher_make(matcher_t *out, const char *name, size_t name_len, match_op_t op,
                    const char *value, size_t value_len, char *errbuf, size_t errlen);
void matcher_free(matcher_t *m);
bool matcher_matches_value(const matcher_t *m, const char *v, size_t len);

/* The parsers. `err_col` receives the 1-based column (in characters) the
 * error is about. On error `out` is left empty. */
qerr_t matchers_parse_classic(const char *text, size_t len, matcher_list_t *out, size_t *err_col,
                              char *errbuf, size_t errlen);
qerr_t matchers_parse_utf8(const char *text, size_t len, matcher_list_t *out, size_t *err_col,
                           char *errbuf, size_t errlen);
/* Alertmanager's fallback mode (the default): classic when it accepts, else
 * UTF-8, else the classic error. */
qerr_t matchers_parse_fallback(const char *text, size_t len, matcher_list_t *out, size_t *err_col,
                               char *errbuf, size_t errlen);

/* FallbackMatcherParser: one matcher, braces refused (tests only). */
qerr_t matchers_parse_fallback_single(const char *text, size_t len, matcher_list_t *out,
                                      size_t *err_col, char *errbuf, size_t errlen);

/* Go strconv.Unquote for a double-quoted string (quotes included), checked
 * to be valid UTF-8 afterwards. Writes a malloc'd result. */
qerr_t go_unquote(const char *s, size_t len, char **out, size_t *out_len);

/* Label name validity: classic [a-zA-Z_][a-zA-Z0-9_]*, UTF-8 any non-empty
 * valid UTF-8. */
bool label_name_valid_classic(const char *s, size_t len);
bool label_name_valid_utf8(const char *s, size_t len);
bool utf8_valid(const char *s, size_t len);

/* UTF-8 lexer tokens, exposed for the lexer conformance table. */
typedef enum {
    TOK_EOF = 0,
    TOK_OPEN_BRACE,
    TOK_CLOSE_BRACE,
    TOK_COMMA,
    TOK_EQUALS,
    TOK_NOT_EQUALS,
    TOK_MATCHES,
    TOK_NOT_MATCHES,
    TOK_QUOTED,
    TOK_UNQUOTED,
} tok_kind_t;
typedef struct {
    tok_kind_t kind;
    size_t off_start, off_end; /* bytes */
    size_t col_start, col_end; /* characters, 0-based like Alertmanager's */
} tok_t;
typedef struct {
    const char *in;
    size_t len;
    size_t start, pos, width, column, cols;
    bool failed;
    size_t err_col, err_col_end; /* 0-based columns of the failure */
    char err[160];
} lexer_t;
void lexer_init(lexer_t *l, const char *in, size_t len);
/* false on a lexing error (l->err set); a TOK_EOF token at the end. */
bool lexer_scan(lexer_t *l, tok_t *t);
const char *tok_kind_name(tok_kind_t k);

/* Translates a Go (RE2) regular expression into PCRE2 syntax, refusing what
 * Go refuses (backreferences, lookaround, possessive and atomic groups, \C,
 * nested repetition, repeat counts over 1000, unknown escapes...). Returns
 * a malloc'd pattern or NULL with a message in errbuf. */
char *go_regex_to_pcre2(const char *re, size_t len, size_t *out_len, char *errbuf, size_t errlen);
/* Compiles ^(?:RE)$ the way Alertmanager does; NULL with a message. */
pcre2_code *go_regex_compile_anchored(const char *re, size_t len, char *errbuf, size_t errlen);
/* Matches a compiled regex; -1 when the match limit was hit. Thread-safe. */
int go_regex_match(const pcre2_code *code, const char *s, size_t len);

#endif
