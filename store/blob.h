/* blob.h - one chunk on its way into or out of a pack: compress when it pays,
 * seal with the chunk ID (and flags) as associated data; the reverse checks
 * the tag, decompresses and recomputes the ID. */
#ifndef CAIRN_BLOB_H
#define CAIRN_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "util/codec.h"
#include "util/err.h"
#include "store/pack.h"

typedef struct blob_ctx blob_ctx; /* per thread: zstd contexts and buffers */

cairn_err blob_ctx_new(int level, blob_ctx **out);
void blob_ctx_free(blob_ctx *c);

/* Fills e->flags (keeping the PACK_TREE bit the caller set) and e->raw_len,
 * and leaves the sealed blob in out.  Data is compressed when that saves 2%;
 * blob_incompressible is asked first only where its probe is cheap next to
 * compressing (a chunk of 64 KiB or more, or a level above 3). */
cairn_err blob_encode(blob_ctx *c, const uint8_t key[SEAL_KEY_LEN], pack_entry *e,
                      const uint8_t *data, size_t len, cbuf *out);

/* blob_encode without the probe: for data known to compress (SQLite pages,
 * where the probe costs as much CPU as the compression itself).  Still kept
 * raw unless compression saves at least 2%. */
cairn_err blob_encode_unprobed(blob_ctx *c, const uint8_t key[SEAL_KEY_LEN], pack_entry *e,
                               const uint8_t *data, size_t len, cbuf *out);

/* blob_encode without a compression attempt: for data known not to
 * compress (media, by its magic bytes), where even the probe is waste. */
cairn_err blob_encode_raw(const uint8_t key[SEAL_KEY_LEN], pack_entry *e, const uint8_t *data,
                          size_t len, cbuf *out);

/* What blob_encode_inplace tries: no compression (media), compression where
 * blob_incompressible's probe says it may pay, or compression outright (SQLite
 * pages: the probe would cost as much as compressing). */
typedef enum { BLOB_RAW, BLOB_ZSTD_PROBED, BLOB_ZSTD_SURE } blob_zstd;

/* blob_encode without a copy of the chunk for sealing: buf holds the len
 * bytes at buf + SEAL_NONCE_LEN and SEAL_TAG_LEN bytes of room after them
 * (what a pipeline's chunk buffer reserves), and the chunk is sealed there
 * unless its zstd frame (per zstd) pays, which is sealed in c.  *sealed is
 * the blob (e->stored_len bytes, valid until c or buf is used again); the
 * chunk's bytes in buf may be overwritten. */
cairn_err blob_encode_inplace(blob_ctx *c, const uint8_t key[SEAL_KEY_LEN], pack_entry *e,
                              uint8_t *buf, size_t len, blob_zstd zstd, const uint8_t **sealed);

/* Opens a sealed blob described by e into out (e->raw_len bytes) and, with
 * an id_key, checks that its keyed hash is e->id.  CAIRN_ECORRUPT on any
 * mismatch.  Without id_key the blob is still authentic and bound to e->id
 * (the ID is in the AEAD's associated data): the hash only re-checks that
 * the writer hashed what it sealed, which check --read-data does. */
cairn_err blob_decode(blob_ctx *c, const uint8_t seal_key[SEAL_KEY_LEN],
                      const uint8_t id_key[SEAL_KEY_LEN], const pack_entry *e, const uint8_t *blob,
                      cbuf *out);
/* blob_decode, appending to out's data (out unchanged on failure). */
cairn_err blob_decode_append(blob_ctx *c, const uint8_t seal_key[SEAL_KEY_LEN],
                             const uint8_t id_key[SEAL_KEY_LEN], const pack_entry *e,
                             const uint8_t *blob, cbuf *out);

/* 1 if a cheap probe says compressing data will not pay. */
int blob_incompressible(blob_ctx *c, const uint8_t *data, size_t len);

#endif
