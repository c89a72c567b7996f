#include "engine/core/tree_walk.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/idset.h"
#include "engine/core/tree_store.h"

struct tree_walk {
    store *s;
    store_worker *w;
    const tree_walk_ops *ops;
    void *ctx;
    unsigned flags;
    idset whole;   /* subtrees walked without damage */
    idset damaged; /* subtrees walked with damage (unless they are walked again) */
    char path[PATH_MAX];
};

cairn_err tree_walk_new(store *s, store_worker *w, const tree_walk_ops *ops, void *ctx,
                        unsigned flags, tree_walk **out)
{
    tree_walk *const tw = calloc(1, sizeof *tw);
    if (!tw)
        return err_set(CAIRN_ENOMEM, "out of memory");
    tw->s = s;
    tw->w = w;
    tw->ops = ops;
    tw->ctx = ctx;
    tw->flags = flags;
    idset_init(&tw->whole);
    idset_init(&tw->damaged);
    *out = tw;
    return CAIRN_OK;
}

void tree_walk_free(tree_walk *tw)
{
    if (!tw)
        return;
    idset_free(&tw->whole);
    idset_free(&tw->damaged);
    free(tw);
}

/* A subtree's identity: the hash of its chunk list (a tree cut into
 * several chunks has no single ID of its own). */
static void subtree_key(const uint8_t (*ids)[ID_LEN], uint32_t n, uint8_t key[ID_LEN])
{
    crypto_generichash(key, ID_LEN, (const uint8_t *)ids, (size_t)n * ID_LEN, NULL, 0);
}

static cairn_err remember(tree_walk *tw, const uint8_t key[ID_LEN], int damaged)
{
    int added;
    if (damaged && (tw->flags & TREE_WALK_REWALK_DAMAGED))
        return CAIRN_OK;
    if (idset_add(damaged ? &tw->damaged : &tw->whole, key, &added) != CAIRN_OK)
        return err_set(CAIRN_ENOMEM, "out of memory");
    return CAIRN_OK;
}

/* The items of the loaded folder t at tw->path. */
static cairn_err walk_items(tree_walk *tw, tree *t, int *damaged);

/* The folder whose tree is ids[0..n) at tw->path; *out and *nout as
 * on_damaged_folder gives them when it is damaged. */
static cairn_err walk_folder(tree_walk *tw, const uint8_t (*ids)[ID_LEN], uint32_t n, int *damaged,
                             uint8_t (**out)[ID_LEN], uint32_t *nout)
{
    const tree_walk_ops *const ops = tw->ops;
    uint8_t key[ID_LEN];
    tree t;
    cairn_err rc;
    *damaged = 0;
    *out = NULL;
    *nout = 0;
    /* no chunks: a folder backup could not read; nothing below to look at */
    if (n == 0)
        return CAIRN_OK;
    subtree_key(ids, n, key);
    if (idset_has(&tw->whole, key))
        return CAIRN_OK;
    if (idset_has(&tw->damaged, key)) {
        if (ops->on_seen_damaged)
            ops->on_seen_damaged(tw->ctx, tw->path);
        *damaged = 1;
        return CAIRN_OK;
    }
    if (ops->on_tree_chunks) {
        rc = ops->on_tree_chunks(tw->ctx, tw->path, ids, n, damaged);
        if (rc || *damaged)
            return rc ? rc : remember(tw, key, 1);
    }
    rc = treestore_load(tw->s, tw->w, ids, n, &t);
    if (rc) {
        if (!ops->on_error)
            return rc;
        rc = ops->on_error(tw->ctx, tw->path, rc, damaged);
        if (rc || !*damaged)
            return rc;
        return remember(tw, key, 1);
    }
    rc = walk_items(tw, &t, damaged);
    if (!rc && *damaged && ops->on_damaged_folder)
        rc = ops->on_damaged_folder(tw->ctx, tw->path, &t, out, nout);
    tree_free(&t);
    if (!rc)
        rc = remember(tw, key, *damaged);
    return rc;
}

static cairn_err walk_items(tree_walk *tw, tree *t, int *damaged)
{
    const tree_walk_ops *const ops = tw->ops;
    const size_t base = strlen(tw->path);
    cairn_err rc = CAIRN_OK;
    for (size_t i = 0; !rc && i < t->count; i++) {
        tree_node *const nd = &t->nodes[i];
        int bad = 0;
        snprintf(tw->path + base, sizeof tw->path - base, "/%s", nd->name);
        if (nd->type == NODE_DIR) {
            uint8_t(*sub)[ID_LEN] = NULL;
            uint32_t nsub = 0;
            rc = walk_folder(tw, (const uint8_t(*)[ID_LEN])nd->chunks, nd->nchunks, &bad, &sub,
                             &nsub);
            if (!rc && bad && ops->on_damaged_folder) {
                /* the folder above is rewritten to point to what is left */
                free(nd->chunks);
                nd->chunks = sub;
                nd->nchunks = nd->cap_chunks = nsub;
            } else {
                free(sub);
            }
        } else if (ops->on_file) {
            rc = ops->on_file(tw->ctx, tw->path, nd, &bad);
        }
        *damaged |= bad;
        tw->path[base] = '\0';
    }
    return rc;
}

cairn_err tree_walk_snapshot(tree_walk *tw, const snapshot *sn, int *damaged,
                             uint8_t (**root)[ID_LEN], uint32_t *nroot)
{
    uint8_t(*rewritten)[ID_LEN] = NULL;
    uint32_t nrewritten = 0;
    int tree_damaged = 0, catalog_damaged = 0;
    tw->path[0] = '\0';
    cairn_err rc = walk_folder(tw, (const uint8_t(*)[ID_LEN])sn->tree, sn->ntree, &tree_damaged,
                               &rewritten, &nrewritten);
    if (!rc && tw->ops->on_catalog)
        rc = tw->ops->on_catalog(tw->ctx, sn, &catalog_damaged);
    *damaged = tree_damaged | catalog_damaged;
    if (root && !rc) {
        *root = rewritten;
        *nroot = nrewritten;
        rewritten = NULL;
    }
    free(rewritten);
    return rc;
}
