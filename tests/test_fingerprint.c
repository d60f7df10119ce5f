/* Fingerprint vectors: every Alertmanager/Prometheus vector in the shared
 * conformance data must come out identical in `alertmanager` mode; `xxh3`
 * mode must equal XXH3-64 over the documented encoding. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <xxhash.h>

#include "../dedup/dedup.h"
#include "check.h"

static int label_cmp(const void *a, const void *b)
{
    const label_t *x = a, *y = b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = memcmp(x->name.ptr, y->name.ptr, n);
    return c ? c : (int)x->name.len - (int)y->name.len;
}

/* Labels from a JSON object, sorted as the decoder would hand them over. */
static uint32_t labels_from_json(const cJSON *obj, label_t *out)
{
    uint32_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        out[n].name = (str_t){it->string, (uint32_t)strlen(it->string)};
        out[n].value = (str_t){it->valuestring, (uint32_t)strlen(it->valuestring)};
        n++;
    }
    qsort(out, n, sizeof(label_t), label_cmp);
    return n;
}

static strlist_t list_from_json(const cJSON *arr, char **storage)
{
    strlist_t l = {storage, 0};
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) storage[l.n++] = it->valuestring;
    return l;
}

static void test_conformance_vectors(void)
{
    char path[1024];
    if (!CHECK_DATA(path, "conformance/alertmanager/fingerprint/fingerprint_vectors.json")) return;
    char *text = check_read_file(path, NULL);
    CHECK(text != NULL);
    if (!text) return;
    cJSON *doc = cJSON_Parse(text);
    CHECK(doc != NULL);
    int checked = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(doc, "vectors"))
    {
        const char *fn = cJSON_GetObjectItem(v, "function")->valuestring;
        if (strstr(fn, "FastFingerprint")) continue; /* not an alert identity */
        label_t labels[16];
        uint32_t n = labels_from_json(cJSON_GetObjectItem(v, "labels"), labels);
        char *storage[16];
        strlist_t only = {0}, ignore = {0};
        const cJSON *inc = cJSON_GetObjectItem(v, "include_labels");
        const cJSON *exc = cJSON_GetObjectItem(v, "exclude_labels");
        if (inc && cJSON_IsArray(inc)) only = list_from_json(inc, storage);
        if (exc && cJSON_IsArray(exc)) ignore = list_from_json(exc, storage);
        /* SignatureForLabels with an empty or nil list hashes nothing. */
        bool hash_nothing = strstr(fn, "SignatureForLabels") && only.n == 0;
        dedup_fp_conf_t fc;
        dedup_fp_conf_init(&fc, FP_ALERTMANAGER, &only, &ignore);
        uint64_t got =
            hash_nothing ? dedup_fingerprint(&fc, labels, 0) : dedup_fingerprint(&fc, labels, n);
        char hex[17];
        hex16(got, hex);
        const char *want = cJSON_GetObjectItem(v, "expected_hex")->valuestring;
        if (strcmp(hex, want) != 0)
            fprintf(stderr, "vector %s (%s): got %s want %s\n",
                    cJSON_GetObjectItem(v, "origin")->valuestring, fn, hex, want);
        CHECK_EQ_STR(hex, want);
        checked++;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "prefix_vectors"), "cases"))
    {
        label_t labels[16];
        uint32_t n = labels_from_json(cJSON_GetObjectItem(c, "labels"), labels);
        dedup_fp_conf_t fc = {FP_ALERTMANAGER, NULL, NULL, NULL, NULL};
        char hex[17];
        hex16(dedup_fingerprint(&fc, labels, n), hex);
        CHECK(strncmp(hex, cJSON_GetObjectItem(c, "expected_hex_prefix")->valuestring, 7) == 0);
        checked++;
    }
    CHECK(checked >= 25);
    cJSON_Delete(doc);
    free(text);
}

static void test_issue_vectors(void)
{
    label_t a[2] = {{{"alertname", 9}, {"alert1", 6}}, {{"severity", 8}, {"critical", 8}}};
    label_t b[2] = {{{"job", 3}, {"foo", 3}}, {{"severity", 8}, {"warning", 7}}};
    dedup_fp_conf_t am = {FP_ALERTMANAGER, NULL, NULL, NULL, NULL};
    char hex[17];
    hex16(dedup_fingerprint(&am, a, 2), hex);
    CHECK_EQ_STR(hex, "0223b772b51c29e1");
    hex16(dedup_fingerprint(&am, b, 2), hex);
    CHECK_EQ_STR(hex, "9266ef3da838ad95");
}

/* XXH3 over name 0xFF value 0xFF..., built here independently. */
static uint64_t reference_xxh3(const label_t *l, uint32_t n)
{
    static unsigned char buf[1 << 16];
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++) {
        memcpy(buf + len, l[i].name.ptr, l[i].name.len);
        len += l[i].name.len;
        buf[len++] = 0xFF;
        memcpy(buf + len, l[i].value.ptr, l[i].value.len);
        len += l[i].value.len;
        buf[len++] = 0xFF;
    }
    return XXH3_64bits(buf, len);
}

static void test_xxh3_mode(void)
{
    dedup_fp_conf_t x = {FP_XXH3, NULL, NULL, NULL, NULL};
    label_t a[2] = {{{"alertname", 9}, {"alert1", 6}}, {{"severity", 8}, {"critical", 8}}};
    CHECK(dedup_fingerprint(&x, a, 2) == reference_xxh3(a, 2));
    /* A label set larger than the one-shot buffer takes the streaming path. */
    static char big[5000];
    memset(big, 'v', sizeof(big));
    label_t l[3] = {{{"a", 1}, {big, 3000}}, {{"b", 1}, {big, 1500}}, {{"c", 1}, {"x", 1}}};
    CHECK(dedup_fingerprint(&x, l, 3) == reference_xxh3(l, 3));
    /* Values are delimited: moving a byte between name and value changes it. */
    label_t p[1] = {{{"ab", 2}, {"c", 1}}}, q[1] = {{{"a", 1}, {"bc", 2}}};
    CHECK(dedup_fingerprint(&x, p, 1) != dedup_fingerprint(&x, q, 1));

    /* ignore_labels drops a label; fingerprint_labels keeps only listed ones. */
    char *ign_items[] = {"severity"};
    strlist_t ign = {ign_items, 1};
    dedup_fp_conf_t xi;
    dedup_fp_conf_init(&xi, FP_XXH3, NULL, &ign);
    CHECK(dedup_fingerprint(&xi, a, 2) == reference_xxh3(a, 1));
    char *only_items[] = {"alertname"};
    strlist_t only = {only_items, 1};
    dedup_fp_conf_t xo;
    dedup_fp_conf_init(&xo, FP_XXH3, &only, NULL);
    CHECK(dedup_fingerprint(&xo, a, 2) == reference_xxh3(a, 1));
    /* A listed label the alert lacks hashes as an empty value. */
    char *only2_items[] = {"zone", "alertname"};
    strlist_t only2 = {only2_items, 2};
    dedup_fp_conf_t xo2;
    dedup_fp_conf_init(&xo2, FP_XXH3, &only2, NULL); /* given unsorted: init sorts */
    label_t want[2] = {a[0], {{"zone", 4}, {"", 0}}};
    CHECK(dedup_fingerprint(&xo2, a, 2) == reference_xxh3(want, 2));

    /* Both walks over lists interleaved with the labels, names the alert
     * lacks on either side, and a name listed twice. */
    label_t four[4] = {
        {{"a", 1}, {"1", 1}}, {{"b", 1}, {"2", 1}}, {{"c", 1}, {"3", 1}}, {{"d", 1}, {"4", 1}}};
    char *ign2_items[] = {"x", "d", "a", "0"};
    strlist_t ign2 = {ign2_items, 4};
    dedup_fp_conf_t xi2;
    dedup_fp_conf_init(&xi2, FP_XXH3, NULL, &ign2);
    CHECK(dedup_fingerprint(&xi2, four, 4) == reference_xxh3(four + 1, 2));
    char *only3_items[] = {"c", "zz", "b", "c"};
    strlist_t only3 = {only3_items, 4};
    dedup_fp_conf_t xo3;
    dedup_fp_conf_init(&xo3, FP_XXH3, &only3, NULL);
    label_t want3[3] = {four[1], four[2], {{"zz", 2}, {"", 0}}};
    CHECK(dedup_fingerprint(&xo3, four, 4) == reference_xxh3(want3, 3));
}

int main(void)
{
    test_conformance_vectors();
    test_issue_vectors();
    test_xxh3_mode();
    return check_summary("fingerprint");
}
