/* usage.c - the bytes each snapshot alone holds (usage.h). */
#include "engine/core/usage.h"

#include <stdlib.h>
#include <string.h>

#include "util/idset.h"
#include "engine/core/tree_walk.h"

typedef struct collect_ctx {
    idset *mine;
} collect_ctx;

static cairn_err collect(collect_ctx *c, const uint8_t (*ids)[ID_LEN], uint32_t n)
{
    int added;
    for (uint32_t i = 0; i < n; i++) {
        const cairn_err rc = idset_add(c->mine, ids[i], &added);
        if (rc)
            return rc;
    }
    return CAIRN_OK;
}

static cairn_err on_tree(void *ctx, const char *path, const uint8_t (*ids)[ID_LEN], uint32_t n,
                         int *damaged)
{
    (void)path;
    (void)damaged;
    return collect(ctx, ids, n);
}

static cairn_err on_file(void *ctx, const char *path, tree_node *node, int *damaged)
{
    (void)path;
    (void)damaged;
    return collect(ctx, (const uint8_t(*)[ID_LEN])node->chunks, node->nchunks);
}

static cairn_err on_catalog(void *ctx, const snapshot *sn, int *damaged)
{
    (void)damaged;
    return collect(ctx, (const uint8_t(*)[ID_LEN])sn->catalog, sn->ncatalog);
}

static const tree_walk_ops collect_ops = {
    .on_tree_chunks = on_tree,
    .on_file = on_file,
    .on_catalog = on_catalog,
};

/* The chunks of one snapshot, each once. */
static cairn_err snapshot_chunks(store *s, store_worker *w, const snapshot *sn, idset *out)
{
    collect_ctx c = {out};
    tree_walk *tw = NULL;
    int damaged = 0;
    cairn_err rc = tree_walk_new(s, w, &collect_ops, &c, 0, &tw);
    if (!rc)
        rc = tree_walk_snapshot(tw, sn, &damaged, NULL, NULL);
    tree_walk_free(tw);
    return rc;
}

static uint64_t stored_len(store *s, const uint8_t id[ID_LEN])
{
    uint8_t pack[PACK_ID_LEN];
    pack_entry e;
    return store_locate(s, id, pack, &e) == CAIRN_OK ? e.stored_len : 0;
}

cairn_err usage_snapshots(store *s, const snaplist *l, usage_snapshot **out)
{
    store_worker *w = NULL;
    idset seen, shared;
    idset *const sets = calloc(l->count ? l->count : 1, sizeof *sets);
    usage_snapshot *const u = calloc(l->count ? l->count : 1, sizeof *u);
    idset_init(&seen);
    idset_init(&shared);
    cairn_err rc = sets && u ? store_worker_new(s, &w) : err_set(CAIRN_ENOMEM, "out of memory");
    for (size_t i = 0; sets && i < l->count; i++)
        idset_init(&sets[i]);
    /* first pass: each snapshot's chunks, and which are held by two or more */
    for (size_t i = 0; !rc && i < l->count; i++) {
        u[i].snap = &l->items[i];
        rc = snapshot_chunks(s, w, &l->items[i], &sets[i]);
        for (size_t k = 0; !rc && k < sets[i].cap; k++) {
            int added = 0;
            if (!sets[i].used[k])
                continue;
            rc = idset_add(&seen, sets[i].slots[k], &added);
            if (!rc && !added)
                rc = idset_add(&shared, sets[i].slots[k], &added);
        }
    }
    for (size_t i = 0; !rc && i < l->count; i++) {
        for (size_t k = 0; k < sets[i].cap; k++) {
            if (!sets[i].used[k])
                continue;
            const uint64_t len = stored_len(s, sets[i].slots[k]);
            u[i].referenced += len;
            if (!idset_has(&shared, sets[i].slots[k]))
                u[i].exclusive += len;
        }
    }
    for (size_t i = 0; sets && i < l->count; i++)
        idset_free(&sets[i]);
    free(sets);
    idset_free(&seen);
    idset_free(&shared);
    store_worker_free(w);
    if (rc) {
        free(u);
        return rc;
    }
    *out = u;
    return CAIRN_OK;
}
