/*
 * Atomic file replacement, for every state file quell keeps (the dedup
 * snapshot, the inhibition state, the routing groups): the new content is
 * written beside the old as PATH.tmp, flushed and fsynced, then renamed over
 * PATH. A crash at any point leaves either the old file or the new one,
 * never half of one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

char *file_read_all(const char *path, size_t *len_out)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    /* A regular file in one allocation of its size (plus a byte, so the
     * read that finds its end needs no growth): doubling from 1 MiB
     * touched 128 + 256 MB on the way to a 159 MB file. A pipe, or a file
     * that grows meanwhile, doubles. */
    struct stat st;
    size_t len = 0, cap = fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0
                              ? (size_t)st.st_size + 1
                              : 1 << 20;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        errno = ENOMEM;
        return NULL;
    }
    for (;;) {
        if (len == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(fp);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) break;
    }
    bool failed = ferror(fp);
    fclose(fp);
    if (failed) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

qerr_t file_replace(const char *path, qerr_t (*write)(FILE *f, void *ctx), void *ctx, char *errbuf,
                    size_t errlen)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(errbuf, errlen, "%s: path too long", path);
        return QERR_INVALID;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(errbuf, errlen, "%s: %s", tmp, strerror(errno));
        return QERR_IO;
    }
    qerr_t rc = write(f, ctx);
    bool ok = rc == QERR_OK && !ferror(f);
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(errbuf, errlen, "%s: cannot write: %s", path,
                 rc != QERR_OK ? qerr_str(rc) : strerror(errno));
        unlink(tmp);
        return rc != QERR_OK ? rc : QERR_IO;
    }
    return QERR_OK;
}
