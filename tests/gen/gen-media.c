/* gen-media.c - media-like files: a real container header, then random bytes.
 *
 * Camera output is already compressed, so random bytes model its entropy; the
 * header only has to satisfy sniffers ("file", MIME guessing) and make the
 * files look like what a device would hold. */
#include "gen.h"

#include <string.h>

enum { HEAD_MAX = 96 };

typedef struct head {
    unsigned char b[HEAD_MAX];
    size_t len;
} head;

static void put_be32(head *h, uint32_t v)
{
    h->b[h->len++] = (unsigned char)(v >> 24);
    h->b[h->len++] = (unsigned char)(v >> 16);
    h->b[h->len++] = (unsigned char)(v >> 8);
    h->b[h->len++] = (unsigned char)v;
}

static void put_be16(head *h, uint32_t v)
{
    h->b[h->len++] = (unsigned char)(v >> 8);
    h->b[h->len++] = (unsigned char)v;
}

static void put_bytes(head *h, const void *p, size_t n)
{
    memcpy(h->b + h->len, p, n);
    h->len += n;
}

/* ISO BMFF "ftyp" box: major brand, minor version, compatible brands. */
static void put_ftyp(head *h, const char *major, uint32_t minor, const char *compat)
{
    const size_t ncompat = strlen(compat) / 4;
    put_be32(h, (uint32_t)(16 + 4 * ncompat));
    put_bytes(h, "ftyp", 4);
    put_bytes(h, major, 4);
    put_be32(h, minor);
    put_bytes(h, compat, 4 * ncompat);
}

/* "mdat" box covering the rest of the file; the 64-bit form when it must be. */
static void put_mdat(head *h, uint64_t file_len)
{
    const uint64_t rest = file_len > h->len ? file_len - h->len : 0;
    if (rest + 8 <= 0xffffffffULL) {
        put_be32(h, (uint32_t)rest);
        put_bytes(h, "mdat", 4);
        return;
    }
    put_be32(h, 1);
    put_bytes(h, "mdat", 4);
    put_be32(h, (uint32_t)(rest >> 32));
    put_be32(h, (uint32_t)rest);
}

static void heic_head(head *h, uint64_t len)
{
    put_ftyp(h, "heic", 0, "mif1heic");
    /* meta box holding just the "pict" handler, as HEIF requires first. */
    put_be32(h, 12 + 33);
    put_bytes(h, "meta", 4);
    put_be32(h, 0);
    put_be32(h, 33);
    put_bytes(h, "hdlr", 4);
    put_be32(h, 0);
    put_be32(h, 0);
    put_bytes(h, "pict", 4);
    put_bytes(h, "\0\0\0\0\0\0\0\0\0\0\0\0\0", 13);
    put_mdat(h, len);
}

static void jpeg_head(head *h)
{
    put_be16(h, 0xffd8);
    /* APP1 Exif with an empty big-endian TIFF IFD. */
    put_be16(h, 0xffe1);
    put_be16(h, 2 + 6 + 8 + 2 + 4);
    put_bytes(h, "Exif\0\0", 6);
    put_bytes(h, "MM\0\x2a\0\0\0\x08", 8);
    put_be16(h, 0);
    put_be32(h, 0);
}

static void mov_head(head *h, uint64_t len)
{
    put_ftyp(h, "qt  ", 0, "qt  ");
    put_be32(h, 8);
    put_bytes(h, "wide", 4);
    put_mdat(h, len);
}

static void m4a_head(head *h, uint64_t len)
{
    put_ftyp(h, "M4A ", 0, "M4A mp42isom");
    put_mdat(h, len);
}

int gen_media_file(const char *path, gen_media_kind kind, uint64_t len, uint64_t seed)
{
    head h = {.len = 0};
    static const unsigned char jpeg_eoi[2] = {0xff, 0xd9};
    const void *tail = NULL;
    size_t tail_len = 0;
    switch (kind) {
    case MEDIA_HEIC:
        heic_head(&h, len);
        break;
    case MEDIA_JPEG:
        jpeg_head(&h);
        tail = jpeg_eoi;
        tail_len = sizeof jpeg_eoi;
        break;
    case MEDIA_MOV:
        mov_head(&h, len);
        break;
    case MEDIA_M4A:
        m4a_head(&h, len);
        break;
    }
    gen_rng r;
    rng_init(&r, seed, kind);
    return gen_write_random_file(path, h.b, h.len, tail, tail_len, len, &r);
}
