/*
 * Compressed recorded traffic (see recorded.h: recorded_unpack): gzip
 * (concatenated members too, as `cat a.gz b.gz` and pigz write them), xz
 * and zstd, known by their magic bytes, never by the file's name. Data sets
 * and log rotations ship alerts compressed; before this, a `.gz` given by
 * name was read as binary protobuf and every line refused.
 *
 * The whole input is unpacked into memory, as an uncompressed file is read
 * whole (recorded_order.c reads each input twice). A stream that breaks or
 * ends early keeps what came out before it, and says so.
 */
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "recorded.h"

typedef enum { PACK_NONE, PACK_GZIP, PACK_XZ, PACK_ZSTD } pack_t;

static pack_t pack_of(const unsigned char *b, size_t len)
{
    if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) return PACK_GZIP;
    if (len >= 6 && !memcmp(b,
                            "\xfd"
                            "7zXZ\0",
                            6))
        return PACK_XZ;
    if (len >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) return PACK_ZSTD;
    return PACK_NONE;
}

const char *recorded_packed(const char *buf, size_t len)
{
    static const char *const names[] = {NULL, "gzip", "xz", "zstd"};
    return names[pack_of((const unsigned char *)buf, len)];
}

/* The output so far: grown by doubling, one byte kept for the NUL that
 * every reader relies on after the text. */
typedef struct {
    char *p;
    size_t len, cap;
} out_t;

static bool out_room(out_t *o, size_t want)
{
    if (o->cap - o->len > want) return true;
    size_t cap = o->cap ? o->cap : 1 << 20;
    while (cap - o->len <= want) cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) return false;
    o->p = p;
    o->cap = cap;
    return true;
}

#define CHUNK (1u << 20)

/* Each returns NULL when the stream is whole, else what went wrong. */

static const char *gunzip(const unsigned char *in, size_t len, out_t *o)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, 15 + 16) != Z_OK) return "out of memory";
    const char *why = NULL;
    size_t used = 0;
    bool in_member = true;
    for (;;) {
        if (!out_room(o, CHUNK)) {
            why = "out of memory";
            break;
        }
        s.next_in = (unsigned char *)in + used;
        s.avail_in = len - used > UINT32_MAX ? UINT32_MAX : (uInt)(len - used);
        s.next_out = (unsigned char *)o->p + o->len;
        s.avail_out = CHUNK;
        int rc = inflate(&s, Z_NO_FLUSH);
        o->len += CHUNK - s.avail_out;
        used = (size_t)((const unsigned char *)s.next_in - in);
        if (rc == Z_STREAM_END) {
            in_member = false;
            while (used < len && in[used] == 0) used++; /* padding some tools add */
            if (used >= len) break;
            if (inflateReset(&s) != Z_OK) {
                why = "out of memory";
                break;
            }
            in_member = true; /* another member: `cat a.gz b.gz`, pigz */
            continue;
        }
        if (rc == Z_OK && (used < len || !s.avail_out)) continue;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            why = rc == Z_MEM_ERROR ? "out of memory" : "its data is corrupt";
        break; /* the input ran out */
    }
    if (!why && in_member) why = "it ends early (truncated)";
    inflateEnd(&s);
    return why;
}

static const char *unxz(const unsigned char *in, size_t len, out_t *o)
{
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) return "out of memory";
    s.next_in = in;
    s.avail_in = len;
    const char *why = NULL;
    for (;;) {
        if (!out_room(o, CHUNK)) {
            why = "out of memory";
            break;
        }
        s.next_out = (uint8_t *)o->p + o->len;
        s.avail_out = CHUNK;
        lzma_ret rc = lzma_code(&s, s.avail_in ? LZMA_RUN : LZMA_FINISH);
        o->len += CHUNK - s.avail_out;
        if (rc == LZMA_STREAM_END) break;
        if (rc == LZMA_OK) continue;
        why = rc == LZMA_MEM_ERROR   ? "out of memory"
              : rc == LZMA_BUF_ERROR ? "it ends early (truncated)"
                                     : "its data is corrupt";
        break;
    }
    lzma_end(&s);
    return why;
}

static const char *unzstd(const unsigned char *in, size_t len, out_t *o)
{
    ZSTD_DStream *d = ZSTD_createDStream();
    if (!d) return "out of memory";
    ZSTD_inBuffer ib = {in, len, 0};
    const char *why = NULL;
    for (;;) {
        if (!out_room(o, CHUNK)) {
            why = "out of memory";
            break;
        }
        ZSTD_outBuffer ob = {o->p + o->len, CHUNK, 0};
        size_t rc = ZSTD_decompressStream(d, &ob, &ib);
        o->len += ob.pos;
        if (ZSTD_isError(rc)) {
            why = "its data is corrupt";
            break;
        }
        if (ib.pos == ib.size && ob.pos < ob.size) { /* all read, all flushed */
            if (rc) why = "it ends early (truncated)";
            break;
        }
    }
    ZSTD_freeDStream(d);
    return why;
}

int recorded_unpack(const char *path, char **buf, size_t *len)
{
    pack_t k = pack_of((const unsigned char *)*buf, *len);
    if (k == PACK_NONE) return 0;
    out_t o = {0};
    const unsigned char *in = (const unsigned char *)*buf;
    const char *why = k == PACK_GZIP ? gunzip(in, *len, &o)
                      : k == PACK_XZ ? unxz(in, *len, &o)
                                     : unzstd(in, *len, &o);
    if (!o.p || !out_room(&o, 0)) {
        free(o.p);
        fprintf(stderr, "quell: %s: cannot unpack it (%s): out of memory\n", path,
                recorded_packed(*buf, *len));
        return -1;
    }
    if (why)
        fprintf(stderr, "quell: %s: %s stream not whole, %s: read the %zu bytes before it\n", path,
                recorded_packed(*buf, *len), why, o.len);
    o.p[o.len] = '\0';
    free(*buf);
    *buf = o.p;
    *len = o.len;
    return why ? 1 : 0;
}
