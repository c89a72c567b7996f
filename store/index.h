/* index.h - the LMDB index: chunk ID -> where its sealed blob lives.
 *
 * A cache, never the truth: everything in it can be rebuilt from the pack
 * trailers (index_add_pack for each pack).  It lives on local disk only. */
#ifndef CAIRN_INDEX_H
#define CAIRN_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "store/pack.h"

typedef struct chunk_index chunk_index;

typedef struct index_loc {
    uint8_t pack[PACK_ID_LEN];
    uint32_t offset;
    uint32_t stored_len;
    uint32_t raw_len;
    uint8_t flags;
} index_loc;

/* Opens (creating if needed) the index in dir.  store_id ties the index to
 * one store: an index found for another store is cleared. */
cairn_err index_open(const char *dir, const uint8_t store_id[16], chunk_index **out);
void index_close(chunk_index *ix);

/* CAIRN_ENOTFOUND if the chunk is not indexed.  Safe from any thread. */
cairn_err index_lookup(chunk_index *ix, const uint8_t id[ID_LEN], index_loc *loc);

/* Records a pack and all its chunks: the chunks in transactions of a few
 * thousand (LMDB keeps a copy of every page a transaction wrote), the
 * pack's own record with the last.  A failure or crash in between leaves
 * some chunks indexed and the pack unrecorded (index_has_pack says 0), so
 * it is recorded again, whole; a chunk indexed meanwhile points into the
 * pack, durable before this is called. */
cairn_err index_add_pack(chunk_index *ix, const uint8_t pack[PACK_ID_LEN], uint64_t size,
                         const pack_entry *entries, size_t count);

/* 1 if the pack is recorded (its chunks are indexed), else 0. */
cairn_err index_has_pack(chunk_index *ix, const uint8_t pack[PACK_ID_LEN], int *has);

/* Forgets a pack and every chunk located in it.  With its entries (from
 * the trailer) only those are looked at; without them (the pack is gone)
 * every chunk record is scanned. */
cairn_err index_remove_pack(chunk_index *ix, const uint8_t pack[PACK_ID_LEN],
                            const pack_entry *entries, size_t count);

typedef cairn_err (*index_pack_fn)(void *ctx, const uint8_t pack[PACK_ID_LEN], uint64_t size);
/* Calls fn for each recorded pack (a snapshot of the list). */
cairn_err index_each_pack(chunk_index *ix, index_pack_fn fn, void *ctx);

/* Number of chunks indexed. */
cairn_err index_count(chunk_index *ix, uint64_t *chunks, uint64_t *packs);

/* Drops every entry (before a rebuild). */
cairn_err index_clear(chunk_index *ix);

#endif
