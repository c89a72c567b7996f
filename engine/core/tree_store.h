/* tree_store.h - trees to and from the store: a tree is encoded, cut into
 * content-defined chunks and referenced by the list of their IDs. */
#ifndef CAIRN_TREESTORE_H
#define CAIRN_TREESTORE_H

#include "store/store.h"
#include "engine/core/chunker.h"
#include "engine/core/tree.h"

typedef struct treestore_stats {
    uint64_t new_chunks;
    uint64_t new_bytes;
    uint64_t new_raw;
} treestore_stats;

/* Any metadata object (encoded tree, catalog) as a list of chunks: cut with
 * the chunker, stored with the TREE flag; and read back whole. */
cairn_err treestore_save_bytes(store *s, store_worker *w, const chunker *ck, const uint8_t *data,
                               size_t len, uint8_t (**ids)[ID_LEN], uint32_t *n,
                               treestore_stats *stats);
/* A chunk list being built (treestore_save_part): ids[0..n), room for cap. */
typedef struct treestore_list {
    uint8_t (*ids)[ID_LEN];
    uint32_t n;
    size_t cap;
} treestore_list;

/* The same piece by piece, for an object encoded as it is stored (a
 * catalog never held whole): stores the chunks of data[0..len) that can be
 * cut now (all of them when at_eof), appends their IDs to list, and sets
 * *used to the bytes consumed; the caller offers the rest again with the
 * bytes that follow.  Cuts depend only on the bytes before them, so the
 * chunks are those of treestore_save_bytes on the whole.  Once len reaches
 * the chunker's max_size, at least one chunk is cut. */
cairn_err treestore_save_part(store *s, store_worker *w, const chunker *ck, const uint8_t *data,
                              size_t len, int at_eof, treestore_list *list, size_t *used,
                              treestore_stats *stats);
cairn_err treestore_load_bytes(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                               cbuf *out);

/* Reads and decodes the tree whose chunks are ids[0..n). */
cairn_err treestore_load(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                         tree *out);

/* Encodes and stores t; *ids (malloc'd) and *n receive its chunk list. */
cairn_err treestore_save(store *s, store_worker *w, const chunker *ck, const tree *t,
                         uint8_t (**ids)[ID_LEN], uint32_t *n, treestore_stats *stats);

/* Finds the node at a relative path ("a/b/c") below a root tree; *out gets
 * a copy (free with tree_node_free).  CAIRN_ENOTFOUND naming the path. */
cairn_err treestore_lookup(store *s, store_worker *w, const uint8_t (*root)[ID_LEN], uint32_t nroot,
                           const char *path, tree_node *out);

#endif
