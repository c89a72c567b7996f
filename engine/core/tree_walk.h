/* tree_walk.h - one walk over the folder trees of a set of snapshots, for
 * the commands that look at everything snapshots hold (check, prune, copy,
 * repair).
 *
 * Promises:
 * - Each distinct subtree (keyed by its chunk list) is walked once per
 *   walker, however many snapshots or folders share it: a subtree found
 *   whole is skipped where it appears again.  A damaged subtree met again
 *   is reported through on_seen_damaged without being walked, unless
 *   TREE_WALK_REWALK_DAMAGED asks for it to be walked (and its damage
 *   reported) at every place it appears.
 * - Folders are visited depth-first in tree order, children before the
 *   folder's own on_damaged_folder; paths are "/a/b" below the snapshot
 *   root ("" for the root), cut short at PATH_MAX.
 * - A callback reports damage by setting *damaged and returning CAIRN_OK:
 *   the walk goes on, and the damage propagates to every folder above.
 *   Any other return stops the walk and is returned as it is.
 * - A tree that does not load goes to on_error; without on_error, the
 *   load's error stops the walk.
 *
 * A walker is used from one thread. */
#ifndef CAIRN_TREE_WALK_H
#define CAIRN_TREE_WALK_H

#include <stdint.h>

#include "store/store.h"
#include "engine/core/snapshot.h"
#include "engine/core/tree.h"

enum {
    /* a damaged subtree is walked again wherever it appears (repair names
     * and rewrites each snapshot's losses) */
    TREE_WALK_REWALK_DAMAGED = 1,
};

typedef struct tree_walk_ops {
    /* The chunks of a folder's tree, before the tree is loaded: set
     * *damaged if one is unusable (the folder is then not loaded). */
    cairn_err (*on_tree_chunks)(void *ctx, const char *path, const uint8_t (*ids)[ID_LEN],
                                uint32_t n, int *damaged);
    /* Every item of a loaded folder that is not a folder.  The node is the
     * walker's: the callback may free it (tree_node_free, which leaves a
     * NULL name) when it rewrites the folder in on_damaged_folder. */
    cairn_err (*on_file)(void *ctx, const char *path, tree_node *node, int *damaged);
    /* A folder's tree did not load (rc; err_msg() says why).  Neither
     * *damaged nor an error: the folder is left unjudged and walked again
     * where it appears again. */
    cairn_err (*on_error)(void *ctx, const char *path, cairn_err rc, int *damaged);
    /* A subtree found damaged earlier, met again at path (not walked). */
    void (*on_seen_damaged)(void *ctx, const char *path);
    /* A loaded folder with damage below, after its items: t is the
     * folder's tree, where damaged subfolders already point to what
     * on_damaged_folder gave for them.  *ids (malloc'd, or NULL) and *n
     * receive what the folder's entry above should point to instead. */
    cairn_err (*on_damaged_folder)(void *ctx, const char *path, tree *t, uint8_t (**ids)[ID_LEN],
                                   uint32_t *n);
    /* A snapshot's catalog, after its tree. */
    cairn_err (*on_catalog)(void *ctx, const snapshot *sn, int *damaged);
} tree_walk_ops;

typedef struct tree_walk tree_walk;

/* A walker reading through w (which stays the caller's). */
cairn_err tree_walk_new(store *s, store_worker *w, const tree_walk_ops *ops, void *ctx,
                        unsigned flags, tree_walk **out);
void tree_walk_free(tree_walk *tw);

/* Walks sn's tree, then its catalog.  *damaged: damage anywhere in it.
 * With root given, *root (malloc'd, or NULL) and *nroot receive the tree
 * on_damaged_folder made of the damaged root folder (nothing when the root
 * is not damaged). */
cairn_err tree_walk_snapshot(tree_walk *tw, const snapshot *sn, int *damaged,
                             uint8_t (**root)[ID_LEN], uint32_t *nroot);

#endif
