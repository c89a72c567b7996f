/* treestore.h - trees to and from the store: a tree is encoded, cut into
 * content-defined chunks and referenced by the list of their IDs. */
#ifndef CAIRN_TREESTORE_H
#define CAIRN_TREESTORE_H

#include "../store/store.h"
#include "chunker.h"
#include "tree.h"

typedef struct treestore_stats {
    uint64_t new_chunks;
    uint64_t new_bytes;
    uint64_t new_raw;
} treestore_stats;

/* Reads and decodes the tree whose chunks are ids[0..n). */
cairn_err treestore_load(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                         tree *out);

/* Encodes and stores t; *ids (malloc'd) and *n receive its chunk list. */
cairn_err treestore_save(store *s, store_worker *w, const chunker *ck, const tree *t,
                         uint8_t (**ids)[ID_LEN], uint32_t *n, treestore_stats *stats);

#endif
