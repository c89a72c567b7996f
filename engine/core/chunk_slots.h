/* chunk_slots.h - the chunk list of a file while it is being cut: a chunk
 * ID and fingerprint per chunk, in blocks that never move, so that pipeline
 * workers can place IDs into slots (chunk_pipeline's "where") while the
 * cutter appends more.
 *
 * Promises:
 * - The first block holds the count the caller expects (a file's size over
 *   its chunker's average); each later one twice the one before, from
 *   SLOT_BLOCK_MIN to SLOT_BLOCK_MAX slots.  The memory follows the chunks
 *   cut, not the most a file could have (one per min_size bytes, 4x the
 *   likely count of a SQLite file), for as long as the file's folder waits
 *   to be encoded.
 * - chunk_slots_add is for one thread at a time (the cutter); a slot's
 *   address, once returned, stays valid until chunk_slots_free.
 * - chunk_slots_take copies the list out at its length, into two arrays
 *   the caller then owns (a tree node's chunks and fprints). */
#ifndef CAIRN_CHUNK_SLOTS_H
#define CAIRN_CHUNK_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/tree.h"

typedef struct chunk_slot {
    uint8_t id[ID_LEN];
    tree_fprint fp;
} chunk_slot;

typedef struct chunk_slots {
    chunk_slot **blocks;
    size_t nblocks;
    uint32_t first;     /* slots in blocks[0] */
    uint32_t last_room; /* slots in blocks[nblocks - 1] */
    uint32_t last_used;
    uint32_t count; /* slots added */
} chunk_slots;

enum { SLOT_BLOCK_MIN = 16, SLOT_BLOCK_MAX = 1024 };

/* An empty list whose first block will hold expect slots (at least 1). */
void chunk_slots_init(chunk_slots *l, uint32_t expect);

/* Appends a slot (contents undefined) and returns it in *out. */
cairn_err chunk_slots_add(chunk_slots *l, chunk_slot **out);

/* Copies the l->count IDs and fingerprints into new arrays (of at least
 * one element each, so an empty list also yields two allocations). */
cairn_err chunk_slots_take(const chunk_slots *l, uint8_t (**ids)[ID_LEN], tree_fprint **fprints);

void chunk_slots_free(chunk_slots *l);

#endif
