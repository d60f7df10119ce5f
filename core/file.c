/*
 * Atomic file replacement, for every state file quell keeps (the dedup
 * snapshot, the inhibition state, the routing groups): the new content is
 * written beside the old as PATH.tmp, flushed and fsynced, then renamed over
 * PATH. A crash at any point leaves either the old file or the new one,
 * never half of one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

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
