/* Alertmanager's matcher language, case for case: every file of
 * ../shared/data/conformance/alertmanager/matchers is loaded and each
 * applicable case checked (parse results, refusals, lexer tokens, match
 * semantics, rendering), then quell's own table of edge cases: Go-only regex
 * syntax refused, escapes, unicode, missing labels, config nodes.
 *
 * Skipped on purpose:
 *  - matcher_semantics.json `json_cases`: the v1 API JSON form of a matcher;
 *    quell has no such API.
 *  - Go's exact error wording: only "refused or not" is compared, except for
 *    the lexer, whose messages quell reproduces word for word.
 */
#include <cjson/cJSON.h>
#include <dirent.h>

#include "../dedup/rules_int.h"
#include "check.h"

static int checked_in_file;

static match_op_t op_of(const char *t)
{
    if (strcmp(t, "=") == 0) return MATCH_EQ;
    if (strcmp(t, "!=") == 0) return MATCH_NE;
    if (strcmp(t, "=~") == 0) return MATCH_RE;
    return MATCH_NRE;
}

/* Does the parsed list equal the expected JSON list (null = empty)? */
static bool same_list(const matcher_list_t *l, const cJSON *exp)
{
    size_t n = cJSON_IsArray(exp) ? (size_t)cJSON_GetArraySize(exp) : 0;
    if (l->n != n) return false;
    for (size_t i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(exp, (int)i);
        const char *name = cJSON_GetObjectItem(e, "name")->valuestring;
        const char *value = cJSON_GetObjectItem(e, "value")->valuestring;
        const char *type = cJSON_GetObjectItem(e, "type")->valuestring;
        const matcher_t *m = &l->v[i];
        if (m->name_len != strlen(name) || memcmp(m->name, name, m->name_len) != 0) return false;
        if (m->value_len != strlen(value) || memcmp(m->value, value, m->value_len) != 0)
            return false;
        if (m->op != op_of(type)) return false;
    }
    return true;
}

typedef qerr_t (*parse_fn)(const char *, size_t, matcher_list_t *, size_t *, char *, size_t);

/* Parses `input` with `fn`; expects an error when exp_error, else `exp`. */
static void expect_parse(parse_fn fn, const char *what, const char *input, bool exp_error,
                         const cJSON *exp, bool single)
{
    matcher_list_t l = {0};
    size_t col = 0;
    char err[512] = "";
    qerr_t rc = fn(input, strlen(input), &l, &col, err, sizeof err);
    if (rc != QERR_OK) CHECK(col >= 1);
    if (rc == QERR_OK && single && l.n != 1) {
        rc = QERR_INVALID; /* parse.Matcher: exactly one */
        matcher_list_free(&l);
    }
    bool ok = exp_error ? rc != QERR_OK : (rc == QERR_OK && same_list(&l, exp));
    if (!ok)
        fprintf(stderr, "  %s: input '%s': expected %s, got %s (%s)\n", what, input,
                exp_error ? "an error" : "matchers", rc == QERR_OK ? "matchers" : "error", err);
    CHECK(ok);
    checked_in_file++;
    matcher_list_free(&l);
}

static cJSON *load(const char *file)
{
    char path[1024];
    char rel[256];
    snprintf(rel, sizeof rel, "conformance/alertmanager/matchers/%s", file);
    if (!CHECK_DATA(path, rel)) return NULL;
    char *text = check_read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        CHECK(0);
        return NULL;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    CHECK(j != NULL);
    return j;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void file_classic(void)
{
    cJSON *j = load("classic_parse_matchers.json");
    if (!j) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
    {
        expect_parse(matchers_parse_classic, "classic", str_of(c, "input"),
                     str_of(c, "error") != NULL, cJSON_GetObjectItem(c, "expected"), false);
    }
    cJSON_Delete(j);
}

static void file_utf8(void)
{
    cJSON *j = load("utf8_parse_matchers.json");
    if (!j) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
    {
        bool single = strcmp(str_of(c, "api"), "Matcher") == 0;
        const cJSON *exp = cJSON_GetObjectItem(c, "expected");
        bool err = str_of(c, "error") != NULL;
        /* Matchers("") and Matchers("{}") give no matchers and no error. */
        expect_parse(matchers_parse_utf8, single ? "utf8 single" : "utf8", str_of(c, "input"), err,
                     exp, single);
    }
    cJSON_Delete(j);
}

static void file_compliance(void)
{
    cJSON *j = load("compliance_classic_vs_utf8.json");
    if (!j) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
    {
        const char *in = str_of(c, "input");
        bool skip = cJSON_IsTrue(cJSON_GetObjectItem(c, "upstream_skip"));
        bool err = cJSON_IsTrue(cJSON_GetObjectItem(c, "error_expected"));
        if (!skip) {
            expect_parse(matchers_parse_utf8, "compliance utf8", in, err,
                         cJSON_GetObjectItem(c, "classic_expected"), false);
        } else {
            /* A known divergence: the UTF-8 parser must do what upstream's
             * does (recorded in utf8_actual). */
            const cJSON *ua = cJSON_GetObjectItem(c, "utf8_actual");
            expect_parse(matchers_parse_utf8, "compliance utf8 (divergent)", in,
                         str_of(ua, "error") != NULL, cJSON_GetObjectItem(ua, "matchers"), false);
        }
        /* Fallback mode: whatever the classic parser accepts, as it reads it. */
        expect_parse(matchers_parse_fallback, "compliance fallback", in, err,
                     cJSON_GetObjectItem(c, "classic_expected"), false);
    }
    cJSON_Delete(j);
}

static void file_fallback(void)
{
    cJSON *j = load("fallback_parser_and_label_names.json");
    if (!j) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
    {
        bool single = strstr(str_of(c, "api"), "(single)") != NULL;
        expect_parse(single ? matchers_parse_fallback_single : matchers_parse_fallback,
                     single ? "fallback single" : "fallback", str_of(c, "input"),
                     str_of(c, "error") != NULL, cJSON_GetObjectItem(c, "expected"), false);
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "label_name_validity"))
    {
        const char *name = str_of(c, "label_name");
        bool classic = strcmp(str_of(c, "mode"), "classic") == 0;
        bool valid = classic ? label_name_valid_classic(name, strlen(name))
                             : label_name_valid_utf8(name, strlen(name));
        CHECK(valid == cJSON_IsTrue(cJSON_GetObjectItem(c, "valid")));
        checked_in_file++;
    }
    cJSON_Delete(j);
}

static bool match_one(const char *name, const char *type, const char *value, const label_t *ls,
                      uint32_t n)
{
    matcher_set_t *ms = matcher_set_new();
    char err[256];
    CHECK(matcher_set_add(ms, name, op_of(type), value, err, sizeof err) == QERR_OK);
    bool r = matcher_set_matches(ms, ls, n);
    matcher_set_destroy(ms);
    return r;
}

#define S(s)                                                                                       \
    {                                                                                              \
        (s), (uint32_t)strlen(s)                                                                   \
    }

static void file_semantics(void)
{
    cJSON *j = load("matcher_semantics.json");
    if (!j) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "match_cases"))
    {
        const char *lv = str_of(c, "label_value");
        label_t l = {S("foo"), S(lv)};
        bool got = match_one("foo", str_of(c, "type"), str_of(c, "matcher_value"), &l, 1);
        if (got != cJSON_IsTrue(cJSON_GetObjectItem(c, "match")))
            fprintf(stderr, "  match: %s %s '%s'\n", str_of(c, "type"), str_of(c, "matcher_value"),
                    lv);
        CHECK(got == cJSON_IsTrue(cJSON_GetObjectItem(c, "match")));
        checked_in_file++;
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "string_cases"))
    {
        matcher_set_t *ms = matcher_set_new();
        char err[256], out[256];
        CHECK(matcher_set_add(ms, str_of(c, "name"), op_of(str_of(c, "type")), str_of(c, "value"),
                              err, sizeof err) == QERR_OK);
        matcher_set_format(ms, out, sizeof out);
        CHECK_EQ_STR(out, str_of(c, "string"));
        matcher_set_destroy(ms);
        checked_in_file++;
    }
    const cJSON *ls = cJSON_GetObjectItem(j, "label_set_match_cases");
    label_t l = {S("foo"), S("bar")};
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(ls, "cases"))
    {
        bool got = match_one(str_of(c, "name"), str_of(c, "type"), str_of(c, "value"), &l, 1);
        CHECK(got == cJSON_IsTrue(cJSON_GetObjectItem(c, "match")));
        checked_in_file++;
    }
    cJSON_Delete(j);
}

/* Runs the lexer to the end: tokens must equal `tokens`, then the error. */
static void expect_lex(const char *in, const cJSON *tokens, const char *error)
{
    lexer_t lx;
    lexer_init(&lx, in, strlen(in));
    const cJSON *e = tokens ? tokens->child : NULL;
    tok_t t;
    bool ok = true;
    while (lexer_scan(&lx, &t) && t.kind != TOK_EOF) {
        if (!e) {
            ok = false;
            break;
        }
        const char *v = str_of(e, "value");
        ok &= strcmp(tok_kind_name(t.kind), str_of(e, "kind")) == 0;
        ok &= t.off_end - t.off_start == strlen(v) && memcmp(in + t.off_start, v, strlen(v)) == 0;
        ok &= (int)t.off_start == cJSON_GetObjectItem(e, "offsetStart")->valueint;
        ok &= (int)t.off_end == cJSON_GetObjectItem(e, "offsetEnd")->valueint;
        ok &= (int)t.col_start == cJSON_GetObjectItem(e, "columnStart")->valueint;
        ok &= (int)t.col_end == cJSON_GetObjectItem(e, "columnEnd")->valueint;
        e = e->next;
    }
    ok &= e == NULL;
    if (error && *error) {
        char got[300];
        snprintf(got, sizeof got, "%zu:%zu: %s", lx.err_col, lx.err_col_end, lx.err);
        ok &= lx.failed && strcmp(got, error) == 0;
        if (!ok) fprintf(stderr, "  lexer '%s': error '%s' want '%s'\n", in, got, error);
    } else {
        ok &= !lx.failed;
    }
    if (!ok) fprintf(stderr, "  lexer '%s' differs\n", in);
    CHECK(ok);
    checked_in_file++;
}

static void file_lexer(void)
{
    cJSON *j = load("utf8_lexer_tokens.json");
    if (!j) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
    {
        expect_lex(str_of(c, "input"), cJSON_GetObjectItem(c, "tokens"), str_of(c, "error"));
    }
    cJSON_Delete(j);
}

static void file_reference(void)
{
    cJSON *j = load("reference_outputs_all_inputs.json");
    if (!j) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "results"))
    {
        const char *in = str_of(c, "input");
        const cJSON *cl = cJSON_GetObjectItem(c, "classic");
        const cJSON *u = cJSON_GetObjectItem(c, "utf8");
        const cJSON *us = cJSON_GetObjectItem(c, "utf8_single");
        bool cl_err = str_of(cl, "error") && *str_of(cl, "error");
        bool u_err = str_of(u, "error") && *str_of(u, "error");
        expect_parse(matchers_parse_classic, "reference classic", in, cl_err,
                     cJSON_GetObjectItem(cl, "matchers"), false);
        expect_parse(matchers_parse_utf8, "reference utf8", in, u_err,
                     cJSON_GetObjectItem(u, "matchers"), false);
        expect_parse(matchers_parse_utf8, "reference utf8 single", in,
                     str_of(us, "error") && *str_of(us, "error"),
                     cJSON_GetObjectItem(us, "matchers"), true);
        /* Fallback, derived: classic if it accepts, else UTF-8. */
        expect_parse(matchers_parse_fallback, "reference fallback", in, cl_err && u_err,
                     cJSON_GetObjectItem(cl_err ? u : cl, "matchers"), false);
        expect_lex(in, cJSON_GetObjectItem(c, "lexer_tokens"), str_of(c, "lexer_error"));
    }
    cJSON_Delete(j);
}

/* Every file of the folder has a loader: a new file fails the test until it
 * is wired in. */
static void every_file_loaded(void)
{
    static const char *const known[] = {"classic_parse_matchers.json",
                                        "compliance_classic_vs_utf8.json",
                                        "fallback_parser_and_label_names.json",
                                        "matcher_semantics.json",
                                        "reference_outputs_all_inputs.json",
                                        "utf8_lexer_tokens.json",
                                        "utf8_parse_matchers.json"};
    char dir[1024];
    if (!CHECK_DATA(dir, "conformance/alertmanager/matchers")) return;
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return;
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok |= strcmp(known[i], de->d_name) == 0;
        if (!ok) fprintf(stderr, "  no loader for %s\n", de->d_name);
        CHECK(ok);
        files++;
    }
    closedir(d);
    CHECK_EQ_INT(files, 7);
}

/* ---- quell's own table ---------------------------------------------- */

static bool re_ok(const char *re)
{
    char err[256];
    pcre2_code *c = go_regex_compile_anchored(re, strlen(re), err, sizeof err);
    pcre2_code_free(c);
    return c != NULL;
}

static bool re_match(const char *re, const char *s)
{
    char err[256];
    pcre2_code *c = go_regex_compile_anchored(re, strlen(re), err, sizeof err);
    if (!c) {
        fprintf(stderr, "  regex %s refused: %s\n", re, err);
        return false;
    }
    bool r = go_regex_match(c, s, strlen(s)) == 1;
    pcre2_code_free(c);
    return r;
}

static void test_go_regex_syntax(void)
{
    /* Refused by Go's regexp, accepted by PCRE2: refused here too. */
    static const char *const refused[] = {
        "(a)\\1", "(?=a)a", "(?!a)b",  "(?<=a)b", "(?<!a)b", "(?>a)",  "a*+",   "a++",
        "a?+",    "a{2}+",  "a**",     "a{2}{3}", "\\C",     "\\Z",    "\\G",   "\\K",
        "\\R",    "\\X",    "\\h",     "\\e",     "\\ga",    "\\k<a>", "(?#c)", "(*FAIL)",
        "(?R)",   "(?1)",   "(?x)a",   "a{1001}", "a{3,2}",  "\\8",    "[\\b]", "(?|a)",
        "(?P=n)", "(?P>n)", "\\",      "*a",      "(*)",     "[a",     "\\N",   "[[:foo:]]",
        "\\xZ1",  "\\p",    "\\u0041",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        if (re_ok(refused[i])) fprintf(stderr, "  regex %s accepted\n", refused[i]);
        CHECK(!re_ok(refused[i]));
    }
    static const char *const accepted[] = {
        "",           "a{2}",    "a{2,}",       "a{,2}",
        "a{x}",       "x{1000}", "(?i)abc",     "(?s:.)",
        "(?P<n>a)",   "(?<n>a)", "(?i-s:a)",    "\\pL",
        "\\p{Greek}", "\\PL",    "[[:alpha:]]", "[^[:^digit:]]",
        "\\Qa.b\\E",  "\\x41",   "\\x{1F642}",  "\\012",
        "\\0",        "a|",      "[]a]",        "[a-]",
        "\\.\\-\\#",  "a*?",     "(a)|(b)",     "\\d+\\s\\w",
        "[\\d\\s]",   "a)|(b",
    };
    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
        if (!re_ok(accepted[i])) fprintf(stderr, "  regex %s refused\n", accepted[i]);
        CHECK(re_ok(accepted[i]));
    }
    /* Go meanings where PCRE2's differ. */
    CHECK(!re_match("a$", "a\n")); /* $ is end of text */
    CHECK(!re_match("a", "a\n"));  /* anchoring: no final newline */
    CHECK(!re_match("\\s", "\v")); /* Go's \s has no \v */
    CHECK(re_match("\\S", "\v"));
    CHECK(re_match("\\v", "\v"));
    CHECK(!re_match("\\v", "\n"));     /* PCRE2's \v is all vertical space */
    CHECK(re_match("\\012", "\n"));    /* octal, not a backreference */
    CHECK(re_match("a{,2}", "a{,2}")); /* not a repeat: literal */
    CHECK(re_match("x{1000}", "x{1000}") == false);
    CHECK(re_match("(?i)straße", "STRASSE") == false);
    CHECK(re_match("(?i)ΣΑΣ", "σας")); /* Unicode case folding */
    CHECK(re_match("🙂+", "🙂🙂"));
    CHECK(re_match(".", "🙂")); /* a character, not a byte */
    CHECK(!re_match(".", "\n"));
    CHECK(re_match("(?s).", "\n"));
    CHECK(re_match("a)|(b", "a")); /* ^(?:a)|(b)$: Alertmanager's own quirk */
    CHECK(re_match("a)|(b", "xb"));
    CHECK(re_match("", ""));
    CHECK(!re_match("", "x"));
    CHECK(re_match("[[:alpha:]]+", "abc"));
    CHECK(re_match("\\Qa.b\\E", "a.b"));
    CHECK(!re_match("\\Qa.b\\E", "axb"));
    /* Catastrophic backtracking is cut off, not hung on; it counts as no
     * match for both operators. */
    char subject[64];
    memset(subject, 'a', 40);
    subject[40] = 'b';
    subject[41] = '\0';
    char err[256];
    pcre2_code *c = go_regex_compile_anchored("(a|a)*", 6, err, sizeof err);
    CHECK(c != NULL);
    if (c) {
        uint64_t before = matcher_regex_limit_hits();
        CHECK_EQ_INT(go_regex_match(c, subject, strlen(subject)), -1);
        CHECK(matcher_regex_limit_hits() > before);
        pcre2_code_free(c);
    }
}

/* quell's own table, on top of Alertmanager's: escapes, empty values,
 * unicode, unquoted values, =~"" and lists, through the public API. */
static void test_own_table(void)
{
    static const struct {
        const char *in;
        int n;                         /* -1: refused */
        const char *name, *op, *value; /* the first matcher */
    } cases[] = {
        {"a=\"\"", 1, "a", "=", ""},
        {"a=~\"\"", 1, "a", "=~", ""},
        {"a!~\"\"", 1, "a", "!~", ""},
        {"a=", 1, "a", "=", ""},
        {"a=b", 1, "a", "=", "b"},
        {"a=\"x\\ny\"", 1, "a", "=", "x\ny"},
        {"a=\"q\\\"q\"", 1, "a", "=", "q\"q"},
        {"a=\"b\\\\s\"", 1, "a", "=", "b\\s"},
        {"{\"a b\"=\"\\t\"}", 1, "a b", "=", "\t"},
        {"{\"\u00e9t\u00e9\"=\"\u2603\"}", 1, "\u00e9t\u00e9", "=", "\u2603"},
        {"service=caf\u00e9", 1, "service", "=", "caf\u00e9"},
        {"a=1,b!=2,c=~3.*,d!~4", 4, "a", "=", "1"},
        {"{a=\"1\", b=~\"x|y\",}", 2, "a", "=", "1"},
        {"  a = 1 ,  b = 2  ", 2, "a", "=", "1"},
        {"a=\"1,2\"", 1, "a", "=", "1,2"},
        {"", 0, NULL, NULL, NULL},
        {"{}", 0, NULL, NULL, NULL},
        {"a", -1, NULL, NULL, NULL},
        {"=b", -1, NULL, NULL, NULL},
        {"a==", 1, "a", "=", "="},
        {"a=~\"[\"", -1, NULL, NULL, NULL},
        {"a=~\"(a)\\\\1\"", -1, NULL, NULL, NULL},
        {"a=~\"x(?=y)\"", -1, NULL, NULL, NULL},
        {"a=\"unterminated", -1, NULL, NULL, NULL},
        {"{a=\"b\"", 1, "a", "=", "b"},   /* classic: braces trimmed one at a time */
        {"a=\xff", -1, NULL, NULL, NULL}, /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        matcher_set_t *ms = matcher_set_new();
        char err[256] = "";
        qerr_t rc = matcher_set_parse(ms, cases[i].in, err, sizeof err);
        bool ok = cases[i].n < 0 ? rc == QERR_INVALID
                                 : rc == QERR_OK && (int)matcher_set_count(ms) == cases[i].n;
        if (ok && cases[i].n > 0) {
            matcher_view_t v;
            matcher_set_get(ms, 0, &v);
            ok = strcmp(v.name, cases[i].name) == 0 && strcmp(v.value, cases[i].value) == 0 &&
                 v.op == op_of(cases[i].op);
        }
        if (!ok) fprintf(stderr, "  own table: '%s' (%s)\n", cases[i].in, err);
        CHECK(ok);
        matcher_set_destroy(ms);
    }
}

static void test_set_api(void)
{
    char err[256];
    matcher_set_t *ms = matcher_set_new();
    CHECK_EQ_INT(matcher_set_count(ms), 0);
    label_t none[1];
    CHECK(matcher_set_matches(ms, none, 0)); /* empty set: everything */
    CHECK(matcher_set_parse(ms, "{severity=~\"crit|warn\", team=\"\"}", err, sizeof err) ==
          QERR_OK);
    CHECK(matcher_set_parse(ms, "env!=dev", err, sizeof err) == QERR_OK);
    CHECK_EQ_INT(matcher_set_count(ms), 3);
    label_t a[] = {{S("alertname"), S("X")}, {S("severity"), S("crit")}};
    CHECK(matcher_set_matches(ms, a, 2)); /* no team = "", no env != dev */
    label_t b[] = {{S("severity"), S("crit")}, {S("team"), S("db")}};
    CHECK(!matcher_set_matches(ms, b, 2));
    label_t c[] = {{S("env"), S("dev")}, {S("severity"), S("warn")}};
    CHECK(!matcher_set_matches(ms, c, 2));
    char out[256];
    size_t need = matcher_set_format(ms, out, sizeof out);
    CHECK_EQ_STR(out, "severity=~\"crit|warn\", team=\"\", env!=\"dev\"");
    CHECK_EQ_INT(need, strlen(out));
    char small[8];
    CHECK_EQ_INT(matcher_set_format(ms, small, sizeof small), need);
    CHECK_EQ_INT(strlen(small), 7);
    /* Errors carry a 1-based column and append nothing. */
    CHECK(matcher_set_parse(ms, "a=\"b\", c=~\"(x\"", err, sizeof err) == QERR_INVALID);
    CHECK(strncmp(err, "11: ", 4) == 0);
    fprintf(stderr, "  parse error: %s\n", err);
    CHECK(matcher_set_parse(ms, "a=b, c=~\"(?=x)\"", err, sizeof err) == QERR_INVALID);
    CHECK(strstr(err, "lookahead") != NULL);
    CHECK_EQ_INT(matcher_set_count(ms), 3);
    /* UTF-8 syntax, quoted names, escapes. */
    CHECK(matcher_set_parse(ms, "{\"service name\"=\"a\\tb\"}", err, sizeof err) == QERR_OK);
    matcher_view_t v;
    CHECK(matcher_set_get(ms, 3, &v));
    CHECK_EQ_STR(v.name, "service name");
    CHECK_EQ_STR(v.value, "a\tb");
    CHECK(!matcher_set_get(ms, 4, &v));
    /* Legacy add: anchored. */
    CHECK(matcher_set_add(ms, "x", MATCH_RE, "ab", err, sizeof err) == QERR_OK);
    label_t d[] = {{S("env"), S("prod")},
                   {S("service name"), S("a\tb")},
                   {S("severity"), S("warn")},
                   {S("x"), S("xab")}};
    CHECK(!matcher_set_matches(ms, d, 4));
    d[3].value = (str_t)S("ab");
    CHECK(matcher_set_matches(ms, d, 4));
    CHECK(matcher_set_add(ms, "x", MATCH_RE, "(", err, sizeof err) == QERR_INVALID);
    matcher_set_destroy(ms);
    matcher_set_destroy(NULL);
}

/* filter= of Alertmanager 0.25's API (labels.ParseMatcher): every case
 * below is what a running Alertmanager 0.25 answered for
 * GET /api/v2/silences?filter=TEXT (NULL: accepted, else its 400 body). */
static void test_parse_filter(void)
{
    static const struct {
        const char *text, *error;
        match_op_t op;
        const char *name, *value;
    } cases[] = {
        {"", "bad matcher format: ", 0, NULL, NULL},
        {"foo", "bad matcher format: foo", 0, NULL, NULL},
        {"=b", "bad matcher format: =b", 0, NULL, NULL},
        {"1a=b", "bad matcher format: 1a=b", 0, NULL, NULL},
        {"{a=\"b\"}", "bad matcher format: {a=\"b\"}", 0, NULL, NULL},
        {"a=~\"(", "matcher value contains unescaped double quote: \"(", 0, NULL, NULL},
        {"a=\"b", "matcher value contains unescaped double quote: \"b", 0, NULL, NULL},
        {"a=\"b\",c=\"d\"", "matcher value contains unescaped double quote: \"b\",c=\"d\"", 0, NULL,
         NULL},
        {"a=\"b\"\"", "matcher value contains unescaped double quote: \"b\"\"", 0, NULL, NULL},
        {"a=~\"(\"", "error parsing regexp: missing closing ): `^(?:()$`", 0, NULL, NULL},
        {"a!~b", NULL, MATCH_NRE, "a", "b"},
        {"a=b=c", NULL, MATCH_EQ, "a", "b=c"},
        {"a==b", NULL, MATCH_EQ, "a", "=b"},
        {"  a = \"b c\"  ", NULL, MATCH_EQ, "a", "b c"},
        {"a=\"b\\\"c\"", NULL, MATCH_EQ, "a", "b\"c"},
        {"a=b\\", NULL, MATCH_EQ, "a", "b\\"},
        {"a=\"\"", NULL, MATCH_EQ, "a", ""},
        {"a=", NULL, MATCH_EQ, "a", ""},
        {"a:b=c", NULL, MATCH_EQ, "a:b", "c"},
        {"a=~b.*", NULL, MATCH_RE, "a", "b.*"},
        {"a!=\"x\\ny\"", NULL, MATCH_NE, "a", "x\ny"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        matcher_set_t *ms = matcher_set_new();
        char err[256] = "";
        qerr_t rc = matcher_set_parse_filter(ms, cases[i].text, err, sizeof err);
        if ((rc == QERR_OK) != !cases[i].error ||
            (cases[i].error && strcmp(err, cases[i].error) != 0))
            fprintf(stderr, "filter [%s]: rc %d, \"%s\", want %s\n", cases[i].text, (int)rc, err,
                    cases[i].error ? cases[i].error : "ok");
        if (cases[i].error) {
            CHECK_EQ_INT(rc, QERR_INVALID);
            CHECK_EQ_STR(err, cases[i].error);
            CHECK_EQ_INT(matcher_set_count(ms), 0);
        } else {
            CHECK_EQ_INT(rc, QERR_OK);
            matcher_view_t v;
            CHECK(matcher_set_get(ms, 0, &v));
            CHECK_EQ_INT(matcher_set_count(ms), 1);
            if (matcher_set_count(ms) == 1) {
                CHECK_EQ_INT(v.op, cases[i].op);
                CHECK_EQ_STR(v.name, cases[i].name);
                CHECK_EQ_STR(v.value, cases[i].value);
            }
        }
        matcher_set_destroy(ms);
    }
}

static void test_from_node(void)
{
    conf_t conf;
    conf_defaults(&conf);
    static const char yaml[] = "exclusions:\n"
                               "  - name: a\n"
                               "    matchers: ['env=\"dev\"', 'team=~\"db|web\"']\n"
                               "  - name: b\n"
                               "    matchers: 'x=\"1\", y!~\"(a\"'\n";
    char err[512];
    qerr_t rc = conf_load_buffer(&conf, "t.yaml", yaml, sizeof yaml - 1, err, sizeof err);
    CHECK(rc == QERR_OK);
    if (rc == QERR_OK && conf.exclusions && conf.exclusions->kind == CONF_NODE_SEQ) {
        matcher_set_t *ms = matcher_set_new();
        const conf_node_t *m0 = conf_node_get(&conf.exclusions->items[0], "matchers");
        CHECK(matcher_set_from_node(ms, m0, "t.yaml", err, sizeof err) == QERR_OK);
        CHECK_EQ_INT(matcher_set_count(ms), 2);
        const conf_node_t *m1 = conf_node_get(&conf.exclusions->items[1], "matchers");
        CHECK(matcher_set_from_node(ms, m1, "t.yaml", err, sizeof err) == QERR_INVALID);
        /* line 5; the value starts at column 15, the bad regex at 11 in it */
        CHECK(strncmp(err, "t.yaml:5:", 9) == 0);
        fprintf(stderr, "  from_node error: %s\n", err);
        CHECK(strstr(err, "t.yaml:5:26:") != NULL);
        matcher_set_destroy(ms);
    }
    conf_free(&conf);
}

int main(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } files[] = {
        {"classic_parse_matchers.json", file_classic},
        {"utf8_parse_matchers.json", file_utf8},
        {"compliance_classic_vs_utf8.json", file_compliance},
        {"fallback_parser_and_label_names.json", file_fallback},
        {"matcher_semantics.json", file_semantics},
        {"utf8_lexer_tokens.json", file_lexer},
        {"reference_outputs_all_inputs.json", file_reference},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        checked_in_file = 0;
        int before = check_failures, skipped_before = check_skips;
        files[i].fn();
        if (check_skips > skipped_before) continue; /* no shared data here */
        printf("%s: %d cases checked, %d failed\n", files[i].name, checked_in_file,
               check_failures - before);
        CHECK(checked_in_file > 0);
    }
    every_file_loaded();
    test_go_regex_syntax();
    test_own_table();
    test_set_api();
    test_parse_filter();
    test_from_node();
    return check_summary("test_matcher");
}
