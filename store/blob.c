#include "store/blob.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "store/seal.h"

/* Probe: compress a few small samples at the fastest level.  Media (HEIC,
 * JPEG, MOV) is already compressed and is most of a device backup; trying
 * to compress it at full cost would be the single biggest waste. */
enum { PROBE_SAMPLES = 4, PROBE_LEN = 4096, PROBE_MIN_INPUT = 4 * PROBE_LEN };

/* Below this the samples are a quarter or more of the chunk (all of a 16 KiB
 * SQLite chunk): the probe costs about as much as compressing it, and at
 * the fast levels zstd passes incompressible input through quickly, so the
 * chunk is compressed outright and the 2% rule decides (a next-day backup of
 * SQLite chunks spent as much CPU in the probe as in zstd itself). */
enum { PROBE_WORTH_INPUT = 4 * PROBE_SAMPLES * PROBE_LEN, PROBE_SKIP_LEVEL_MAX = 3 };

struct blob_ctx {
    ZSTD_CCtx *cctx;
    ZSTD_CCtx *probe;
    ZSTD_DCtx *dctx;
    int level;
    cbuf packed; /* compressed or sealed intermediate */
    uint8_t probe_out[PROBE_LEN + 512];
};

cairn_err blob_ctx_new(int level, blob_ctx **out)
{
    blob_ctx *const c = calloc(1, sizeof *c);
    if (!c)
        return err_set(CAIRN_ENOMEM, "out of memory");
    c->cctx = ZSTD_createCCtx();
    c->probe = ZSTD_createCCtx();
    c->dctx = ZSTD_createDCtx();
    c->level = level;
    cbuf_init(&c->packed);
    if (!c->cctx || !c->probe || !c->dctx) {
        blob_ctx_free(c);
        return err_set(CAIRN_ENOMEM, "out of memory for zstd");
    }
    ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c->probe, ZSTD_c_compressionLevel, 1);
    *out = c;
    return CAIRN_OK;
}

void blob_ctx_free(blob_ctx *c)
{
    if (!c)
        return;
    ZSTD_freeCCtx(c->cctx);
    ZSTD_freeCCtx(c->probe);
    ZSTD_freeDCtx(c->dctx);
    cbuf_free(&c->packed);
    free(c);
}

static int probe_pays(const blob_ctx *c, size_t len)
{
    return len >= PROBE_WORTH_INPUT || c->level > PROBE_SKIP_LEVEL_MAX;
}

int blob_incompressible(blob_ctx *c, const uint8_t *data, size_t len)
{
    if (len < PROBE_MIN_INPUT)
        return 0;
    size_t in = 0, outlen = 0;
    const size_t step = (len - PROBE_LEN) / (PROBE_SAMPLES - 1);
    for (int i = 0; i < PROBE_SAMPLES; i++) {
        const size_t n = ZSTD_compress2(c->probe, c->probe_out, sizeof c->probe_out,
                                        data + (size_t)i * step, PROBE_LEN);
        if (ZSTD_isError(n))
            return 0;
        in += PROBE_LEN;
        outlen += n;
    }
    /* less than 3% saved on the samples: not worth a full pass */
    return outlen * 100 > in * 97;
}

/* Seals payload (data itself, or its zstd frame when e->flags says so)
 * into out with the chunk's ID and flags as associated data. */
static cairn_err blob_seal(const uint8_t key[SEAL_KEY_LEN], const pack_entry *e,
                           const uint8_t *payload, size_t payload_len, cbuf *out)
{
    uint8_t ad[ID_LEN + 1];
    pack_blob_ad(e, ad);
    cbuf_reset(out);
    uint8_t *const sealed = cbuf_reserve(out, payload_len + SEAL_OVERHEAD);
    if (!sealed)
        return err_set(CAIRN_ENOMEM, "out of memory");
    seal_box(key, ad, sizeof ad, payload, payload_len, sealed);
    out->len = payload_len + SEAL_OVERHEAD;
    return CAIRN_OK;
}

cairn_err blob_encode_raw(const uint8_t key[SEAL_KEY_LEN], pack_entry *e, const uint8_t *data,
                          size_t len, cbuf *out)
{
    e->flags &= PACK_TREE;
    e->raw_len = (uint32_t)len;
    return blob_seal(key, e, data, len, out);
}

/* Whether mode asks for a compression attempt of these len bytes. */
static int wants_zstd(blob_ctx *c, blob_zstd mode, const uint8_t *data, size_t len)
{
    return mode == BLOB_ZSTD_SURE || (mode == BLOB_ZSTD_PROBED &&
                                      (!probe_pays(c, len) || !blob_incompressible(c, data, len)));
}

/* Compresses data into c->packed after room bytes (with a seal's overhead to
 * spare, for sealing in place) and sets *frame to the start of c->packed, or
 * to NULL when the frame does not save 2% (the chunk then stays raw). */
static cairn_err compress_if_pays(blob_ctx *c, const uint8_t *data, size_t len, size_t room,
                                  uint8_t **frame, size_t *n)
{
    const size_t bound = ZSTD_compressBound(len);
    assert(room <= SEAL_NONCE_LEN); /* the tag's room follows the frame */
    *frame = NULL;
    cbuf_reset(&c->packed);
    uint8_t *const dst = cbuf_reserve(&c->packed, bound + SEAL_OVERHEAD);
    if (!dst)
        return err_set(CAIRN_ENOMEM, "out of memory");
    *n = ZSTD_compress2(c->cctx, dst + room, bound, data, len);
    if (ZSTD_isError(*n))
        return err_set(CAIRN_EIO, "zstd: %s", ZSTD_getErrorName(*n));
    if (*n * 50 < len * 49)
        *frame = dst;
    return CAIRN_OK;
}

static cairn_err blob_encode_with(blob_ctx *c, const uint8_t key[SEAL_KEY_LEN], pack_entry *e,
                                  const uint8_t *data, size_t len, cbuf *out, blob_zstd mode)
{
    const uint8_t *payload = data;
    size_t payload_len = len;
    e->flags &= PACK_TREE;
    e->raw_len = (uint32_t)len;
    if (wants_zstd(c, mode, data, len)) {
        uint8_t *frame;
        size_t n;
        const cairn_err rc = compress_if_pays(c, data, len, 0, &frame, &n);
        if (rc)
            return rc;
        if (frame) {
            payload = frame;
            payload_len = n;
            e->flags |= PACK_ZSTD;
        }
    }
    return blob_seal(key, e, payload, payload_len, out);
}

cairn_err blob_encode(blob_ctx *c, const uint8_t key[SEAL_KEY_LEN], pack_entry *e,
                      const uint8_t *data, size_t len, cbuf *out)
{
    return blob_encode_with(c, key, e, data, len, out, BLOB_ZSTD_PROBED);
}

cairn_err blob_encode_unprobed(blob_ctx *c, const uint8_t key[SEAL_KEY_LEN], pack_entry *e,
                               const uint8_t *data, size_t len, cbuf *out)
{
    return blob_encode_with(c, key, e, data, len, out, BLOB_ZSTD_SURE);
}

cairn_err blob_encode_inplace(blob_ctx *c, const uint8_t key[SEAL_KEY_LEN], pack_entry *e,
                              uint8_t *buf, size_t len, blob_zstd zstd, const uint8_t **sealed)
{
    uint8_t ad[ID_LEN + 1];
    const uint8_t *const data = buf + SEAL_NONCE_LEN;
    uint8_t *box = buf;
    size_t box_len = len;
    e->flags &= PACK_TREE;
    e->raw_len = (uint32_t)len;
    if (wants_zstd(c, zstd, data, len)) {
        /* the frame goes where the seal wants its text, to be sealed there */
        uint8_t *frame;
        size_t n;
        const cairn_err rc = compress_if_pays(c, data, len, SEAL_NONCE_LEN, &frame, &n);
        if (rc)
            return rc;
        if (frame) {
            box = frame;
            box_len = n;
            e->flags |= PACK_ZSTD;
        }
    }
    pack_blob_ad(e, ad);
    const cairn_err rc = seal_box_inplace(key, ad, sizeof ad, box, box_len);
    if (rc)
        return rc;
    e->stored_len = (uint32_t)(box_len + SEAL_OVERHEAD);
    *sealed = box;
    return CAIRN_OK;
}

cairn_err blob_decode(blob_ctx *c, const uint8_t seal_key[SEAL_KEY_LEN],
                      const uint8_t id_key[SEAL_KEY_LEN], const pack_entry *e, const uint8_t *blob,
                      cbuf *out)
{
    cbuf_reset(out);
    return blob_decode_append(c, seal_key, id_key, e, blob, out);
}

cairn_err blob_decode_append(blob_ctx *c, const uint8_t seal_key[SEAL_KEY_LEN],
                             const uint8_t id_key[SEAL_KEY_LEN], const pack_entry *e,
                             const uint8_t *blob, cbuf *out)
{
    uint8_t ad[ID_LEN + 1], id[ID_LEN];
    cairn_err rc;
    if (e->stored_len < SEAL_OVERHEAD)
        return err_set(CAIRN_ECORRUPT, "blob too short");
    const size_t plen = e->stored_len - SEAL_OVERHEAD;
    pack_blob_ad(e, ad);
    if (e->flags & PACK_ZSTD) {
        cbuf_reset(&c->packed);
        uint8_t *const tmp = cbuf_reserve(&c->packed, plen);
        uint8_t *const dst = cbuf_reserve(out, e->raw_len);
        if ((!tmp && plen) || (!dst && e->raw_len))
            return err_set(CAIRN_ENOMEM, "out of memory");
        rc = seal_open(seal_key, ad, sizeof ad, blob, e->stored_len, tmp);
        if (rc)
            return rc;
        const size_t n = ZSTD_decompressDCtx(c->dctx, dst, e->raw_len, tmp, plen);
        if (ZSTD_isError(n) || n != e->raw_len)
            return err_set(CAIRN_ECORRUPT, "chunk does not decompress to its recorded size");
    } else {
        if (plen != e->raw_len)
            return err_set(CAIRN_ECORRUPT, "chunk length does not match its record");
        uint8_t *const dst = cbuf_reserve(out, plen);
        if (!dst && plen)
            return err_set(CAIRN_ENOMEM, "out of memory");
        rc = seal_open(seal_key, ad, sizeof ad, blob, e->stored_len, dst);
        if (rc)
            return rc;
    }
    if (id_key) {
        seal_id(id_key, out->data + out->len, e->raw_len, id);
        if (memcmp(id, e->id, ID_LEN) != 0)
            return err_set(CAIRN_ECORRUPT, "chunk content does not match its ID");
    }
    out->len += e->raw_len;
    return CAIRN_OK;
}
