/* docs/configuration.md's table is what `quell config` prints: the key
 * table is the single source, and this keeps the reference from drifting. */

#include <stdlib.h>

#include "../core/core.h"
#include "check.h"

int main(void)
{
    const char *src = getenv("QUELL_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/configuration.md", src ? src : "..");
    char *readme = check_read_file(path, NULL);
    CHECK(readme != NULL);
    if (!readme) return check_summary("docs");

    char *doc = NULL;
    size_t doc_len = 0;
    FILE *mem = open_memstream(&doc, &doc_len);
    conf_print_doc(mem);
    fclose(mem);

    const char *begin_mark = "<!-- config-table:begin -->\n";
    char *begin = strstr(readme, begin_mark);
    char *end = strstr(readme, "<!-- config-table:end -->");
    CHECK(begin && end && end > begin);
    if (begin && end) {
        begin += strlen(begin_mark);
        *end = '\0';
        if (strcmp(begin, doc) != 0)
            fprintf(stderr,
                    "docs/configuration.md's table differs from `quell config`; "
                    "paste this between the config-table markers:\n%s",
                    doc);
        CHECK_EQ_STR(begin, doc);
    }
    free(doc);
    free(readme);
    return check_summary("docs");
}
