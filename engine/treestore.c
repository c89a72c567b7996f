#include "treestore.h"

#include <stdlib.h>
#include <string.h>

cairn_err treestore_load(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                         tree *out)
{
    cbuf all, part;
    cairn_err rc = CAIRN_OK;
    cbuf_init(&all);
    cbuf_init(&part);
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = store_get_chunk(s, w, ids[i], &part);
        if (!rc)
            cbuf_put(&all, part.data, part.len);
    }
    if (!rc && all.failed)
        rc = err_set(CAIRN_ENOMEM, "out of memory reading a tree");
    if (!rc)
        rc = tree_decode(all.data, all.len, out);
    cbuf_free(&all);
    cbuf_free(&part);
    return rc;
}

cairn_err treestore_save(store *s, store_worker *w, const chunker *ck, const tree *t,
                         uint8_t (**ids)[ID_LEN], uint32_t *n, treestore_stats *stats)
{
    cbuf enc;
    uint8_t(*list)[ID_LEN] = NULL;
    uint32_t count = 0, cap = 0;
    size_t pos = 0;
    cairn_err rc;
    cbuf_init(&enc);
    rc = tree_encode(t, &enc);
    while (!rc && pos < enc.len) {
        const size_t cut = chunker_next(ck, enc.data + pos, enc.len - pos, 1);
        int added;
        uint64_t stored;
        if (count == cap) {
            cap = cap ? 2 * cap : 4;
            void *const p = realloc(list, (size_t)cap * ID_LEN);
            if (!p) {
                rc = err_set(CAIRN_ENOMEM, "out of memory");
                break;
            }
            list = p;
        }
        store_chunk_id(s, enc.data + pos, cut, list[count]);
        rc = store_put_chunk(s, w, list[count], enc.data + pos, cut, 1, &added, &stored);
        if (!rc && added) {
            stats->new_chunks++;
            stats->new_bytes += stored;
            stats->new_raw += cut;
        }
        count++;
        pos += cut;
    }
    cbuf_free(&enc);
    if (rc) {
        free(list);
        return rc;
    }
    *ids = list;
    *n = count;
    return CAIRN_OK;
}
