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

/* blob_encode without a compression attempt: for data known not to
 * compress (media, by its magic bytes), where even the probe is waste. */
cairn_err blob_encode_raw(const uint8_t key[SEAL_KEY_LEN], pack_entry *e, const uint8_t *data,
                          size_t len, cbuf *out);

/* Opens a sealed blob described by e into out (e->raw_len bytes) and, with
 * an id_key, checks that its keyed hash is e->id.  CAIRN_ECORRUPT on any
 * mismatch.  Without id_key the blob is still authentic and bound to e->id
 * (the ID is in the AEAD's associated data): the hash only re-checks that
 * the writer hashed what it sealed, which check --read-data does. */
cairn_err blob_decode(blob_ctx *c, const uint8_t seal_key[SEAL_KEY_LEN],
                      const uint8_t id_key[SEAL_KEY_LEN], const pack_entry *e, const uint8_t *blob,
                      cbuf *out);

/* 1 if a cheap probe says compressing data will not pay. */
int blob_incompressible(blob_ctx *c, const uint8_t *data, size_t len);

#endif
