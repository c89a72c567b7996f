#include "engine/core/tree_store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"

cairn_err treestore_load_bytes(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                               cbuf *out)
{
    cbuf part;
    cairn_err rc = CAIRN_OK;
    cbuf_init(&part);
    cbuf_reset(out);
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = store_get_chunk(s, w, ids[i], &part);
        if (!rc)
            cbuf_put(out, part.data, part.len);
    }
    if (!rc && out->failed)
        rc = err_set(CAIRN_ENOMEM, "out of memory reading metadata");
    cbuf_free(&part);
    return rc;
}

cairn_err treestore_load(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                         tree *out)
{
    cbuf all;
    /* no chunks: a folder that could not be read during backup (the
     * snapshot is marked partial); it restores as an empty folder */
    if (n == 0) {
        tree_init(out);
        return CAIRN_OK;
    }
    cbuf_init(&all);
    cairn_err rc = treestore_load_bytes(s, w, ids, n, &all);
    if (!rc)
        rc = tree_decode(all.data, all.len, out);
    cbuf_free(&all);
    return rc;
}

cairn_err treestore_save_part(store *s, store_worker *w, const chunker *ck, const uint8_t *data,
                              size_t len, int at_eof, treestore_list *list, size_t *used,
                              treestore_stats *stats)
{
    size_t pos = 0;
    cairn_err rc = CAIRN_OK;
    while (!rc && pos < len) {
        const size_t cut = chunker_next(ck, data + pos, len - pos, at_eof);
        int added;
        uint64_t stored;
        if (cut == 0)
            break; /* the rest waits for more bytes */
        rc = util_grow(&list->ids, &list->cap, (size_t)list->n + 1, sizeof *list->ids);
        if (rc)
            break;
        store_chunk_id(s, data + pos, cut, list->ids[list->n]);
        rc = store_put_chunk(s, w, list->ids[list->n], data + pos, cut, 1, &added, &stored);
        if (!rc && added) {
            stats->new_chunks++;
            stats->new_bytes += stored;
            stats->new_raw += cut;
        }
        list->n++;
        pos += cut;
    }
    *used = pos;
    return rc;
}

cairn_err treestore_save_bytes(store *s, store_worker *w, const chunker *ck, const uint8_t *data,
                               size_t len, uint8_t (**ids)[ID_LEN], uint32_t *n,
                               treestore_stats *stats)
{
    treestore_list list = {NULL, 0, 0};
    size_t used;
    const cairn_err rc = treestore_save_part(s, w, ck, data, len, 1, &list, &used, stats);
    if (rc) {
        free(list.ids);
        return rc;
    }
    *ids = list.ids;
    *n = list.n;
    return CAIRN_OK;
}

cairn_err treestore_save(store *s, store_worker *w, const chunker *ck, const tree *t,
                         uint8_t (**ids)[ID_LEN], uint32_t *n, treestore_stats *stats)
{
    cbuf enc;
    /* builders sort (tree_sort or sorted inserts) and never add a name
     * twice; a tree stored otherwise could never be read back */
    assert(tree_sorted(t));
    cbuf_init(&enc);
    cairn_err rc = tree_encode(t, &enc);
    if (!rc)
        rc = treestore_save_bytes(s, w, ck, enc.data, enc.len, ids, n, stats);
    cbuf_free(&enc);
    return rc;
}

static cairn_err copy_node(const tree_node *src, tree_node *out)
{
    *out = *src;
    out->name = strdup(src->name);
    out->target = src->target ? strdup(src->target) : NULL;
    const cairn_err rc = tree_node_copy_chunks(out, src);
    if (rc || !out->name || (src->target && !out->target)) {
        tree_node_free(out);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    return CAIRN_OK;
}

cairn_err treestore_lookup(store *s, store_worker *w, const uint8_t (*root)[ID_LEN], uint32_t nroot,
                           const char *path, tree_node *out)
{
    char part[TREE_NAME_MAX + 1];
    const uint8_t(*ids)[ID_LEN] = root;
    uint32_t nids = nroot;
    tree t;
    tree_node found;
    cairn_err rc;
    const char *p = path;
    memset(&found, 0, sizeof found);
    for (;;) {
        const size_t len = strcspn(p, "/");
        if (len == 0 || len > TREE_NAME_MAX)
            return err_set(CAIRN_ENOTFOUND, "%s: no such path in the snapshot", path);
        memcpy(part, p, len);
        part[len] = '\0';
        rc = treestore_load(s, w, ids, nids, &t);
        if (rc)
            return rc;
        const tree_node *const n = tree_find(&t, part);
        rc = n ? copy_node(n, &found)
               : err_set(CAIRN_ENOTFOUND, "%s: no such path in the snapshot", path);
        tree_free(&t);
        if (rc)
            break;
        if (ids != root)
            free((void *)ids);
        ids = NULL;
        if (!p[len])
            break;
        if (found.type != NODE_DIR) {
            rc = err_set(CAIRN_ENOTFOUND, "%s: no such path in the snapshot", path);
            break;
        }
        ids = (const uint8_t(*)[ID_LEN])found.chunks;
        nids = found.nchunks;
        found.chunks = NULL;
        tree_node_free(&found);
        p += len + 1;
    }
    if (ids && ids != root)
        free((void *)ids);
    if (rc) {
        tree_node_free(&found);
        return rc;
    }
    *out = found;
    return CAIRN_OK;
}
