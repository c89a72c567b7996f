#include "engine/core/diff.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fsutil.h"
#include "util/idset.h"
#include "engine/core/catalog.h"
#include "engine/core/tree.h"
#include "engine/core/tree_store.h"

typedef struct df_ctx {
    store *s;
    store_worker *w;
    diff_fn fn;
    void *fn_ctx;
    diff_summary *sum;
} df_ctx;

static void emit(df_ctx *c, char status, const char *domain, const char *path, uint64_t old_size,
                 uint64_t new_size)
{
    const diff_item it = {status, domain, path, old_size, new_size};
    if (status == 'A')
        c->sum->added++;
    else if (status == 'D')
        c->sum->removed++;
    else
        c->sum->modified++;
    if (new_size > old_size)
        c->sum->bytes_added += new_size - old_size;
    else
        c->sum->bytes_removed += old_size - new_size;
    c->fn(c->fn_ctx, &it);
}

static cairn_err load_tree(df_ctx *c, const tree_node *n, tree *t)
{
    tree_init(t);
    if (!n || n->type != NODE_DIR)
        return CAIRN_OK;
    return treestore_load(c->s, c->w, (const uint8_t(*)[ID_LEN])n->chunks, n->nchunks, t);
}

static int node_changed(const tree_node *a, const tree_node *b)
{
    if (a->type != b->type)
        return 1;
    if (a->type == NODE_SYMLINK)
        return strcmp(a->target, b->target) != 0;
    return a->size != b->size || !tree_same_chunks(a, b);
}

/* ---- folders: merge two trees by name ---- */

static cairn_err report_subtree(df_ctx *c, char *path, const tree_node *n, char status);

static cairn_err walk_pair(df_ctx *c, char *path, const tree *ta, const tree *tb)
{
    size_t i = 0, k = 0;
    cairn_err rc = CAIRN_OK;
    const size_t base = strlen(path);
    while (!rc && (i < ta->count || k < tb->count)) {
        const tree_node *const a = i < ta->count ? &ta->nodes[i] : NULL;
        const tree_node *const b = k < tb->count ? &tb->nodes[k] : NULL;
        const int cmp = !a ? 1 : !b ? -1 : strcmp(a->name, b->name);
        const tree_node *const n = cmp <= 0 ? a : b;
        snprintf(path + base, PATH_MAX - base, "%s%s", base ? "/" : "", n->name);
        if (cmp < 0) {
            rc = report_subtree(c, path, a, 'D');
            i++;
        } else if (cmp > 0) {
            rc = report_subtree(c, path, b, 'A');
            k++;
        } else {
            if (a->type == NODE_DIR && b->type == NODE_DIR) {
                if (!tree_same_chunks(a, b)) {
                    tree sa, sb;
                    rc = load_tree(c, a, &sa);
                    if (!rc) {
                        rc = load_tree(c, b, &sb);
                        if (!rc)
                            rc = walk_pair(c, path, &sa, &sb);
                        tree_free(&sb);
                    }
                    tree_free(&sa);
                }
            } else if (a->type == NODE_DIR || b->type == NODE_DIR) {
                rc = report_subtree(c, path, a, 'D');
                if (!rc)
                    rc = report_subtree(c, path, b, 'A');
            } else if (node_changed(a, b)) {
                emit(c, 'M', NULL, path, a->size, b->size);
            }
            i++;
            k++;
        }
        path[base] = '\0';
    }
    return rc;
}

/* Everything below n was added or removed. */
static cairn_err report_subtree(df_ctx *c, char *path, const tree_node *n, char status)
{
    if (n->type != NODE_DIR) {
        emit(c, status, NULL, path, status == 'D' ? n->size : 0, status == 'A' ? n->size : 0);
        return CAIRN_OK;
    }
    tree t, empty;
    tree_init(&empty);
    cairn_err rc = load_tree(c, n, &t);
    if (!rc)
        rc = status == 'A' ? walk_pair(c, path, &empty, &t) : walk_pair(c, path, &t, &empty);
    tree_free(&t);
    return rc;
}

static cairn_err diff_folders(df_ctx *c, const snapshot *a, const snapshot *b)
{
    const tree_node ra = {.type = NODE_DIR, .nchunks = a->ntree, .chunks = a->tree};
    const tree_node rb = {.type = NODE_DIR, .nchunks = b->ntree, .chunks = b->tree};
    char path[PATH_MAX] = "";
    tree ta, tb;
    if (tree_same_chunks(&ra, &rb))
        return CAIRN_OK;
    cairn_err rc = load_tree(c, &ra, &ta);
    if (rc)
        return rc;
    rc = load_tree(c, &rb, &tb);
    if (!rc)
        rc = walk_pair(c, path, &ta, &tb);
    tree_free(&ta);
    tree_free(&tb);
    return rc;
}

/* ---- device backups: merge two catalogs by (domain, path) ---- */

/* Content files (named by fileID) whose bytes differ between the two
 * snapshots; the two-hex-digit folders with equal IDs are skipped whole. */
static cairn_err changed_content(df_ctx *c, const snapshot *a, const snapshot *b, idset *changed)
{
    const tree_node ra = {.type = NODE_DIR, .nchunks = a->ntree, .chunks = a->tree};
    const tree_node rb = {.type = NODE_DIR, .nchunks = b->ntree, .chunks = b->tree};
    tree ta, tb;
    cairn_err rc = load_tree(c, &ra, &ta);
    if (rc)
        return rc;
    rc = load_tree(c, &rb, &tb);
    for (size_t k = 0; !rc && k < tb.count; k++) {
        const tree_node *const db = &tb.nodes[k];
        const tree_node *const da = tree_find(&ta, db->name);
        if (db->type != NODE_DIR || (da && da->type == NODE_DIR && tree_same_chunks(da, db)))
            continue;
        tree sa, sb;
        rc = load_tree(c, da, &sa);
        if (rc)
            break;
        rc = load_tree(c, db, &sb);
        for (size_t j = 0; !rc && j < sb.count; j++) {
            const tree_node *const fb = &sb.nodes[j];
            const tree_node *const fa = tree_find(&sa, fb->name);
            uint8_t key[ID_LEN] = {0};
            int added;
            if (fa && !node_changed(fa, fb))
                continue;
            if (strlen(fb->name) != 40 || fs_unhex(fb->name, key, CATALOG_FILE_ID_LEN) != 0)
                continue;
            rc = idset_add(changed, key, &added);
        }
        tree_free(&sa);
        tree_free(&sb);
    }
    tree_free(&ta);
    tree_free(&tb);
    return rc;
}

static int entry_cmp(const catalog_entry *a, const catalog_entry *b)
{
    const int d = strcmp(a->domain, b->domain);
    return d ? d : strcmp(a->path, b->path);
}

static int is_content(const catalog_entry *e)
{
    return e->flags == CATALOG_FILE || e->flags == CATALOG_SYMLINK;
}

/* The merge of a's catalog (held) with b's (streamed by): both sorted. */
typedef struct dev_merge {
    df_ctx *c;
    const catalog *ca;
    size_t i; /* a's next entry */
    const idset *changed;
} dev_merge;

static void only_in_a(dev_merge *m, const catalog_entry *ea)
{
    if (is_content(ea))
        emit(m->c, 'D', ea->domain, ea->path, ea->size, 0);
}

static cairn_err merge_b(void *ctx, const catalog_entry *eb)
{
    dev_merge *const m = ctx;
    df_ctx *const c = m->c;
    while (m->i < m->ca->count && entry_cmp(&m->ca->entries[m->i], eb) < 0)
        only_in_a(m, &m->ca->entries[m->i++]);
    if (m->i == m->ca->count || entry_cmp(&m->ca->entries[m->i], eb) > 0) {
        if (is_content(eb))
            emit(c, 'A', eb->domain, eb->path, 0, eb->size);
        return CAIRN_OK;
    }
    const catalog_entry *const ea = &m->ca->entries[m->i++];
    uint8_t key[ID_LEN] = {0};
    memcpy(key, eb->file_id, CATALOG_FILE_ID_LEN);
    if (is_content(ea) && !is_content(eb)) {
        emit(c, 'D', ea->domain, ea->path, ea->size, 0);
    } else if (!is_content(ea) && is_content(eb)) {
        emit(c, 'A', eb->domain, eb->path, 0, eb->size);
    } else if (is_content(eb) &&
               (ea->size != eb->size || ea->flags != eb->flags ||
                (eb->flags == CATALOG_FILE && idset_has(m->changed, key)) ||
                (eb->flags == CATALOG_SYMLINK &&
                 strcmp(ea->target ? ea->target : "", eb->target ? eb->target : "")))) {
        emit(c, 'M', eb->domain, eb->path, ea->size, eb->size);
    }
    return CAIRN_OK;
}

/* a's catalog is loaded, b's streamed past it: one catalog held, not two. */
static cairn_err diff_devices(df_ctx *c, const snapshot *a, const snapshot *b)
{
    catalog ca;
    idset changed;
    catalog_init(&ca);
    idset_init(&changed);
    dev_merge m = {c, &ca, 0, &changed};
    cairn_err rc = catalog_load(c->s, c->w, (const uint8_t(*)[ID_LEN])a->catalog, a->ncatalog, &ca);
    if (!rc)
        rc = changed_content(c, a, b, &changed);
    if (!rc)
        rc = catalog_each(c->s, c->w, (const uint8_t(*)[ID_LEN])b->catalog, b->ncatalog, merge_b,
                          &m);
    while (!rc && m.i < ca.count)
        only_in_a(&m, &ca.entries[m.i++]);
    idset_free(&changed);
    catalog_free(&ca);
    return rc;
}

cairn_err diff_run(store *s, const snapshot *a, const snapshot *b, diff_fn fn, void *ctx,
                   diff_summary *sum)
{
    df_ctx c = {s, NULL, fn, ctx, sum};
    memset(sum, 0, sizeof *sum);
    cairn_err rc = store_worker_new(s, &c.w);
    if (rc)
        return rc;
    if (a->ncatalog && b->ncatalog)
        rc = diff_devices(&c, a, b);
    else
        rc = diff_folders(&c, a, b);
    store_worker_free(c.w);
    return rc;
}
