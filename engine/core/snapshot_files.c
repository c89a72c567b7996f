/* snapshot_files.c - one snapshot opened for browsing (snapshot_files.h).
 *
 * A device snapshot's catalog becomes, once at open, a sorted array of
 * nodes keyed by (parent folder, name): its entries and the folders they
 * imply, each a prefix of one entry's "domain/path" string (no copies), so
 * stat is a binary search and a listing a contiguous range.  Folder trees
 * (a folder snapshot's, or a device backup's content folders "xx") are
 * decoded once, on first use, and kept until close.  File bytes come from
 * the chunk cache, shared by every snapshot open on the store. */
#include "engine/core/snapshot_files.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"
#include "engine/core/catalog.h"
#include "engine/core/extract.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree_store.h"

enum { CACHE_DEFAULT = 64 << 20, CACHE_BUCKETS = 4096, TREE_BUCKETS = 1024 };

/* ---- the chunk cache ---- */

typedef struct cached_chunk {
    uint8_t id[ID_LEN];
    uint8_t *data;
    size_t len;
    struct cached_chunk *newer, *older; /* LRU list */
    struct cached_chunk *next;          /* hash chain */
} cached_chunk;

struct snapfiles_cache {
    store *s;
    size_t max_bytes;
    pthread_mutex_t mu; /* guards everything below */
    cached_chunk *buckets[CACHE_BUCKETS];
    cached_chunk *newest, *oldest;
    snapfiles_cache_stats stats;
    store_worker **idle; /* workers no thread is using */
    size_t nidle, cap_idle;
};

static size_t bucket_of(const uint8_t id[ID_LEN], size_t nbuckets)
{
    size_t h; /* IDs are keyed hashes: any bytes spread well */
    memcpy(&h, id, sizeof h);
    return h % nbuckets;
}

cairn_err snapfiles_cache_new(store *s, size_t max_bytes, snapfiles_cache **out)
{
    snapfiles_cache *const c = calloc(1, sizeof *c);
    if (!c)
        return err_set(CAIRN_ENOMEM, "out of memory");
    c->s = s;
    c->max_bytes = max_bytes ? max_bytes : CACHE_DEFAULT;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return CAIRN_OK;
}

void snapfiles_cache_free(snapfiles_cache *c)
{
    if (!c)
        return;
    for (cached_chunk *e = c->newest, *next; e; e = next) {
        next = e->older;
        free(e->data);
        free(e);
    }
    for (size_t i = 0; i < c->nidle; i++)
        store_worker_free(c->idle[i]);
    free(c->idle);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void snapfiles_cache_get_stats(snapfiles_cache *c, snapfiles_cache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}

/* A store worker for this thread's call (each has its own buffers and open
 * pack files); given back with worker_put. */
static cairn_err worker_take(snapfiles_cache *c, store_worker **w)
{
    pthread_mutex_lock(&c->mu);
    *w = c->nidle ? c->idle[--c->nidle] : NULL;
    pthread_mutex_unlock(&c->mu);
    return *w ? CAIRN_OK : store_worker_new(c->s, w);
}

static void worker_put(snapfiles_cache *c, store_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&c->mu);
    const int kept = util_grow(&c->idle, &c->cap_idle, c->nidle + 1, sizeof *c->idle) == CAIRN_OK;
    if (kept)
        c->idle[c->nidle++] = w;
    pthread_mutex_unlock(&c->mu);
    if (!kept)
        store_worker_free(w);
}

static void lru_unlink(snapfiles_cache *c, cached_chunk *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(snapfiles_cache *c, cached_chunk *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    c->newest = e;
    if (!c->oldest)
        c->oldest = e;
}

static cached_chunk *cache_find(snapfiles_cache *c, const uint8_t id[ID_LEN])
{
    for (cached_chunk *e = c->buckets[bucket_of(id, CACHE_BUCKETS)]; e; e = e->next)
        if (memcmp(e->id, id, ID_LEN) == 0)
            return e;
    return NULL;
}

static void cache_evict_oldest(snapfiles_cache *c)
{
    cached_chunk *const e = c->oldest;
    cached_chunk **p = &c->buckets[bucket_of(e->id, CACHE_BUCKETS)];
    while (*p != e)
        p = &(*p)->next;
    *p = e->next;
    lru_unlink(c, e);
    c->stats.bytes -= e->len;
    c->stats.chunks--;
    free(e->data);
    free(e);
}

/* Keeps the chunk in b (taking its storage) unless it is there already or
 * larger than the bound; called with the lock held. */
static void cache_insert(snapfiles_cache *c, const uint8_t id[ID_LEN], cbuf *b)
{
    if (b->len > c->max_bytes || cache_find(c, id))
        return;
    cached_chunk *const e = calloc(1, sizeof *e);
    if (!e)
        return; /* a cache that keeps nothing is still correct */
    memcpy(e->id, id, ID_LEN);
    e->data = b->data;
    e->len = b->len;
    cbuf_init(b);
    while (c->oldest && c->stats.bytes + e->len > c->max_bytes)
        cache_evict_oldest(c);
    const size_t k = bucket_of(id, CACHE_BUCKETS);
    e->next = c->buckets[k];
    c->buckets[k] = e;
    lru_push(c, e);
    c->stats.bytes += e->len;
    c->stats.chunks++;
}

/* Copies n bytes at off of the chunk id, whose plaintext is expect bytes,
 * into dst: from the cache, or read from the store (outside the lock, so
 * readers of other chunks go on) and kept. */
static cairn_err cache_read(snapfiles_cache *c, const uint8_t id[ID_LEN], size_t expect, size_t off,
                            uint8_t *dst, size_t n)
{
    pthread_mutex_lock(&c->mu);
    cached_chunk *const hit = cache_find(c, id);
    if (hit && hit->len == expect) {
        lru_unlink(c, hit);
        lru_push(c, hit);
        memcpy(dst, hit->data + off, n);
        c->stats.hits++;
        pthread_mutex_unlock(&c->mu);
        return CAIRN_OK;
    }
    pthread_mutex_unlock(&c->mu);

    store_worker *w = NULL;
    cbuf b;
    cbuf_init(&b);
    cairn_err rc = worker_take(c, &w);
    if (!rc)
        rc = store_get_chunk(c->s, w, id, &b);
    worker_put(c, w);
    if (!rc && b.len != expect) {
        char hex[9];
        snaplist_short_id(id, hex);
        rc = err_set(CAIRN_ECORRUPT, "chunk %s holds %zu bytes where the index says %zu", hex,
                     b.len, expect);
    }
    if (!rc) {
        memcpy(dst, b.data + off, n);
        pthread_mutex_lock(&c->mu);
        c->stats.fetches++;
        cache_insert(c, id, &b);
        pthread_mutex_unlock(&c->mu);
    }
    cbuf_free(&b);
    return rc;
}

/* ---- a snapshot opened ---- */

/* A folder's decoded tree, kept until close (its nodes are pointed to). */
typedef struct tree_slot {
    char *path;
    tree t;
    struct tree_slot *next;
} tree_slot;

/* A device node: the path full[0..len), whose last '/' is at split
 * (SPLIT_TOP: a domain, at the top); cat is its catalog entry, or -1 for a
 * folder the catalog implies only. */
enum { SPLIT_TOP = UINT32_MAX };
typedef struct dev_node {
    const char *full;
    uint32_t len, split;
    int64_t cat;
} dev_node;

struct snapfiles {
    snapfiles_cache *c;
    uint8_t (*root)[ID_LEN];
    uint32_t nroot;
    int ciphertext;
    int device;
    snapfiles_stat root_st;
    catalog cat;
    char **fulls; /* per catalog entry: "domain/path" */
    dev_node *nodes;
    size_t nnodes;
    pthread_mutex_t mu; /* guards trees */
    tree_slot *trees[TREE_BUCKETS];
};

struct snapfiles_file {
    snapfiles *f;
    uint64_t size;
    uint32_t n;
    uint8_t (*ids)[ID_LEN];
    uint64_t *ends; /* ends[k]: the file offset where chunk k ends */
};

int snapfiles_ciphertext(const snapfiles *f)
{
    return f->ciphertext;
}

const char *snapfiles_ciphertext_note(void)
{
    return "This snapshot is an encrypted iPhone/iPad backup that cairn stored as the device "
           "wrote it, without its backup password: its files are Apple ciphertext, so they are "
           "not shown here. Restore it to a folder or a device with 'cairn restore', or back "
           "the device up again with --backup-password-file (or CAIRN_BACKUP_PASSWORD) so that "
           "cairn keeps it decrypted and browsable.\n";
}

/* Whether every '/'-separated component of p[0..len) is a real name. */
static int names_ok(const char *p, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != '/')
            continue;
        const size_t n = i - start;
        if (n == 0 || (n == 1 && p[start] == '.') ||
            (n == 2 && p[start] == '.' && p[start + 1] == '.'))
            return 0;
        start = i + 1;
    }
    return 1;
}

static size_t node_parent_len(const dev_node *d)
{
    return d->split == SPLIT_TOP ? 0 : d->split;
}

static const char *node_name(const dev_node *d, size_t *n)
{
    const size_t start = d->split == SPLIT_TOP ? 0 : d->split + 1;
    *n = d->len - start;
    return d->full + start;
}

static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
    const int r = memcmp(a, b, na < nb ? na : nb);
    return r ? r : (na > nb) - (na < nb);
}

/* Orders nodes by (parent, name); a node with a catalog entry before the
 * implied folder of the same path, so deduplication keeps the entry. */
static int cmp_key(const char *parent, size_t np, const char *name, size_t nn, const dev_node *d)
{
    size_t dn;
    const char *const dname = node_name(d, &dn);
    const int r = cmp_bytes(parent, np, d->full, node_parent_len(d));
    return r ? r : cmp_bytes(name, nn, dname, dn);
}

static int cmp_nodes(const void *pa, const void *pb)
{
    const dev_node *const a = pa, *const b = pb;
    size_t an;
    const char *const aname = node_name(a, &an);
    const int r = cmp_key(a->full, node_parent_len(a), aname, an, b);
    return r ? r : (a->cat < b->cat) - (a->cat > b->cat);
}

static cairn_err add_node(snapfiles *f, size_t *cap, const char *full, size_t len, int64_t cat)
{
    if (util_grow(&f->nodes, cap, f->nnodes + 1, sizeof *f->nodes))
        return CAIRN_ENOMEM;
    const char *const slash = memrchr(full, '/', len);
    f->nodes[f->nnodes++] =
        (dev_node){full, (uint32_t)len, slash ? (uint32_t)(slash - full) : SPLIT_TOP, cat};
    return CAIRN_OK;
}

/* The device view: every catalog entry and every folder above it. */
static cairn_err build_device_nodes(snapfiles *f)
{
    size_t cap = 0;
    if (!(f->fulls = calloc(f->cat.count ? f->cat.count : 1, sizeof *f->fulls)))
        return err_set(CAIRN_ENOMEM, "out of memory");
    for (size_t i = 0; i < f->cat.count; i++) {
        const catalog_entry *const e = &f->cat.entries[i];
        cbuf b;
        cbuf_init(&b);
        cbuf_puts(&b, e->domain);
        if (e->path[0])
            cbuf_printf(&b, "/%s", e->path);
        if (!(f->fulls[i] = cbuf_take_text(&b)))
            return err_set(CAIRN_ENOMEM, "out of memory");
        const char *const full = f->fulls[i];
        const size_t len = strlen(full);
        /* a name no file system can show ("", ".", "..") is left out */
        if (len > UINT32_MAX / 2 || !names_ok(full, len))
            continue;
        if (add_node(f, &cap, full, len, (int64_t)i))
            return err_set(CAIRN_ENOMEM, "out of memory");
        for (size_t k = 0; k < len; k++)
            if (full[k] == '/' && add_node(f, &cap, full, k, -1))
                return err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (f->nnodes)
        qsort(f->nodes, f->nnodes, sizeof *f->nodes, cmp_nodes);
    size_t kept = 0;
    for (size_t i = 0; i < f->nnodes; i++) {
        size_t n;
        const char *const name = node_name(&f->nodes[i], &n);
        if (kept && cmp_key(f->nodes[i].full, node_parent_len(&f->nodes[i]), name, n,
                            &f->nodes[kept - 1]) == 0)
            continue;
        f->nodes[kept++] = f->nodes[i];
    }
    f->nnodes = kept;
    return CAIRN_OK;
}

/* The first node not ordered before (parent, name). */
static size_t lower_bound(const snapfiles *f, const char *parent, size_t np, const char *name,
                          size_t nn)
{
    size_t lo = 0, hi = f->nnodes;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(parent, np, name, nn, &f->nodes[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const dev_node *find_dev_node(const snapfiles *f, const char *path)
{
    const size_t len = strlen(path);
    const char *const slash = memrchr(path, '/', len);
    const size_t np = slash ? (size_t)(slash - path) : 0;
    const char *const name = slash ? slash + 1 : path;
    const size_t nn = len - (size_t)(name - path);
    const size_t i = lower_bound(f, path, np, name, nn);
    if (i < f->nnodes && cmp_key(path, np, name, nn, &f->nodes[i]) == 0)
        return &f->nodes[i];
    return NULL;
}

static cairn_err not_found(const char *path)
{
    return err_set(CAIRN_ENOTFOUND, "%s: no such file in the snapshot", path[0] ? path : "/");
}

/* The decoded tree of the folder at dir ("" the root), loaded on first use. */
static cairn_err get_tree(snapfiles *f, const char *dir, const tree **out)
{
    const size_t k = (size_t)(strlen(dir) * 31u + (unsigned char)dir[0]) % TREE_BUCKETS;
    pthread_mutex_lock(&f->mu);
    for (const tree_slot *t = f->trees[k]; t; t = t->next)
        if (strcmp(t->path, dir) == 0) {
            *out = &t->t;
            pthread_mutex_unlock(&f->mu);
            return CAIRN_OK;
        }
    pthread_mutex_unlock(&f->mu);

    const uint8_t(*ids)[ID_LEN] = (const uint8_t(*)[ID_LEN])f->root;
    uint32_t n = f->nroot;
    if (dir[0]) {
        const tree *parent;
        const char *const slash = strrchr(dir, '/');
        char *const pdir = strndup(dir, slash ? (size_t)(slash - dir) : 0);
        if (!pdir)
            return err_set(CAIRN_ENOMEM, "out of memory");
        cairn_err rc = get_tree(f, pdir, &parent);
        free(pdir);
        if (rc)
            return rc;
        const tree_node *const nd = tree_find(parent, slash ? slash + 1 : dir);
        if (!nd)
            return not_found(dir);
        if (nd->type != NODE_DIR)
            return err_set(CAIRN_EINVAL, "%s: not a folder", dir);
        ids = (const uint8_t(*)[ID_LEN])nd->chunks;
        n = nd->nchunks;
    }
    tree_slot *const slot = calloc(1, sizeof *slot);
    store_worker *w = NULL;
    cairn_err rc =
        slot && (slot->path = strdup(dir)) ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
    if (slot)
        tree_init(&slot->t);
    if (!rc)
        rc = worker_take(f->c, &w);
    if (!rc)
        rc = treestore_load(f->c->s, w, ids, n, &slot->t);
    worker_put(f->c, w);
    if (rc) {
        if (slot) {
            tree_free(&slot->t);
            free(slot->path);
            free(slot);
        }
        return rc;
    }
    pthread_mutex_lock(&f->mu);
    /* another thread may have loaded it meanwhile: keep the first */
    for (const tree_slot *t = f->trees[k]; t; t = t->next)
        if (strcmp(t->path, dir) == 0) {
            *out = &t->t;
            pthread_mutex_unlock(&f->mu);
            tree_free(&slot->t);
            free(slot->path);
            free(slot);
            return CAIRN_OK;
        }
    slot->next = f->trees[k];
    f->trees[k] = slot;
    *out = &slot->t;
    pthread_mutex_unlock(&f->mu);
    return CAIRN_OK;
}

/* The tree node at path (not the root) of the snapshot's tree. */
static cairn_err find_tree_node(snapfiles *f, const char *path, const tree_node **out)
{
    const char *const slash = strrchr(path, '/');
    char *const dir = strndup(path, slash ? (size_t)(slash - path) : 0);
    const tree *t;
    if (!dir)
        return err_set(CAIRN_ENOMEM, "out of memory");
    cairn_err rc = get_tree(f, dir, &t);
    free(dir);
    if (rc == CAIRN_EINVAL || rc == CAIRN_ENOTFOUND)
        return not_found(path);
    if (rc)
        return rc;
    *out = tree_find(t, slash ? slash + 1 : path);
    return *out ? CAIRN_OK : not_found(path);
}

/* The content file of a device catalog entry, in the backup folder's tree. */
static cairn_err content_node(snapfiles *f, const catalog_entry *e, const tree_node **out)
{
    char content[44];
    catalog_content_path(e, content);
    const cairn_err rc = find_tree_node(f, content, out);
    if (rc == CAIRN_ENOTFOUND)
        return err_set(CAIRN_ENOTFOUND, "%s/%s: content file %s is not in the snapshot", e->domain,
                       e->path, content);
    return rc;
}

static void stat_of_tree_node(const tree_node *n, snapfiles_stat *st)
{
    st->type = n->type == NODE_DIR       ? SNAPFILES_DIR
               : n->type == NODE_SYMLINK ? SNAPFILES_SYMLINK
                                         : SNAPFILES_FILE;
    st->mode = n->mode & 07777;
    st->size = n->type == NODE_FILE      ? n->size
               : n->type == NODE_SYMLINK ? (n->target ? strlen(n->target) : 0)
                                         : 0;
    st->mtime_sec = n->mtime_sec;
    st->mtime_nsec = n->mtime_nsec;
}

static cairn_err stat_of_dev_node(snapfiles *f, const dev_node *d, snapfiles_stat *st)
{
    memset(st, 0, sizeof *st);
    if (d->cat < 0) {
        *st = f->root_st;
        st->mode = 0755;
        return CAIRN_OK;
    }
    const catalog_entry *const e = &f->cat.entries[d->cat];
    st->mtime_sec = e->mtime;
    st->mode = e->mode & 07777;
    if (e->flags == CATALOG_DIR) {
        st->type = SNAPFILES_DIR;
        st->mode = st->mode ? st->mode : 0755;
    } else if (e->flags == CATALOG_SYMLINK) {
        st->type = SNAPFILES_SYMLINK;
        st->size = e->target ? strlen(e->target) : 0;
        st->mode = st->mode ? st->mode : 0777;
    } else {
        /* the size served is the stored content's (plaintext) size */
        const tree_node *n;
        st->type = SNAPFILES_FILE;
        st->mode = st->mode ? st->mode : 0644;
        st->size = content_node(f, e, &n) == CAIRN_OK ? n->size : e->size;
    }
    return CAIRN_OK;
}

static cairn_err check_path(const char *path)
{
    if (path[0] && !names_ok(path, strlen(path)))
        return not_found(path);
    return CAIRN_OK;
}

cairn_err snapfiles_stat_path(snapfiles *f, const char *path, snapfiles_stat *st)
{
    cairn_err rc = check_path(path);
    if (rc)
        return rc;
    if (!path[0]) {
        *st = f->root_st;
        return CAIRN_OK;
    }
    if (f->ciphertext)
        return not_found(path);
    if (f->device) {
        const dev_node *const d = find_dev_node(f, path);
        return d ? stat_of_dev_node(f, d, st) : not_found(path);
    }
    const tree_node *n;
    rc = find_tree_node(f, path, &n);
    if (!rc)
        stat_of_tree_node(n, st);
    return rc;
}

cairn_err snapfiles_list(snapfiles *f, const char *path, snapfiles_list_fn fn, void *ctx)
{
    snapfiles_stat st;
    cairn_err rc = snapfiles_stat_path(f, path, &st);
    if (rc)
        return rc;
    if (st.type != SNAPFILES_DIR)
        return err_set(CAIRN_EINVAL, "%s: not a folder", path);
    if (f->ciphertext)
        return CAIRN_OK;
    if (f->device) {
        const size_t np = strlen(path);
        for (size_t i = lower_bound(f, path, np, "", 0); !rc && i < f->nnodes; i++) {
            const dev_node *const d = &f->nodes[i];
            if (cmp_bytes(path, np, d->full, node_parent_len(d)) != 0)
                break;
            size_t nn;
            const char *const nm = node_name(d, &nn);
            char *const name = strndup(nm, nn);
            if (!name)
                return err_set(CAIRN_ENOMEM, "out of memory");
            rc = stat_of_dev_node(f, d, &st);
            if (!rc)
                rc = fn(ctx, name, &st);
            free(name);
        }
        return rc;
    }
    const tree *t;
    rc = get_tree(f, path, &t);
    for (size_t i = 0; !rc && i < t->count; i++) {
        stat_of_tree_node(&t->nodes[i], &st);
        rc = fn(ctx, t->nodes[i].name, &st);
    }
    return rc;
}

cairn_err snapfiles_readlink(snapfiles *f, const char *path, char **target)
{
    snapfiles_stat st;
    cairn_err rc = snapfiles_stat_path(f, path, &st);
    if (rc)
        return rc;
    if (st.type != SNAPFILES_SYMLINK)
        return err_set(CAIRN_EINVAL, "%s: not a symbolic link", path);
    const char *t;
    if (f->device) {
        t = f->cat.entries[find_dev_node(f, path)->cat].target;
    } else {
        const tree_node *n;
        if ((rc = find_tree_node(f, path, &n)))
            return rc;
        t = n->target;
    }
    if (!(*target = strdup(t ? t : "")))
        return err_set(CAIRN_ENOMEM, "out of memory");
    return CAIRN_OK;
}

cairn_err snapfiles_open(snapfiles_cache *c, const snapshot *sn, snapfiles **out)
{
    snapfiles *const f = calloc(1, sizeof *f);
    if (!f)
        return err_set(CAIRN_ENOMEM, "out of memory");
    f->c = c;
    pthread_mutex_init(&f->mu, NULL);
    catalog_init(&f->cat);
    cairn_err rc = CAIRN_OK;
    f->nroot = sn->ntree;
    if (!(f->root = malloc((sn->ntree ? sn->ntree : 1) * (size_t)ID_LEN))) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto fail;
    }
    if (sn->ntree)
        memcpy(f->root, sn->tree, sn->ntree * (size_t)ID_LEN);
    f->root_st = (snapfiles_stat){SNAPFILES_DIR, 0755, 0, sn->time_sec, sn->time_nsec};
    const char *const mode = snapshot_get_meta(sn, SNAP_META_ROOT_MODE);
    const char *const mtime = snapshot_get_meta(sn, SNAP_META_ROOT_MTIME);
    if (mode)
        f->root_st.mode = (uint32_t)strtoul(mode, NULL, 8) & 07777;
    if (mtime) {
        char *end;
        f->root_st.mtime_sec = strtoll(mtime, &end, 10);
        f->root_st.mtime_nsec = *end == '.' ? (uint32_t)strtoul(end + 1, NULL, 10) : 0;
    }
    f->ciphertext = snapshot_is_device(sn) && snapshot_is_encrypted_backup(sn) &&
                    !snapshot_is_decrypted(sn) && sn->ncatalog == 0;
    f->device = !f->ciphertext && sn->ncatalog > 0;
    if (f->device) {
        f->root_st.mode = 0755;
        rc = extract_catalog(c->s, sn, &f->cat);
        if (!rc)
            rc = build_device_nodes(f);
    }
    if (rc)
        goto fail;
    *out = f;
    return CAIRN_OK;
fail:
    snapfiles_close(f);
    return rc;
}

void snapfiles_close(snapfiles *f)
{
    if (!f)
        return;
    for (size_t k = 0; k < TREE_BUCKETS; k++)
        for (tree_slot *t = f->trees[k], *next; t; t = next) {
            next = t->next;
            tree_free(&t->t);
            free(t->path);
            free(t);
        }
    if (f->fulls)
        for (size_t i = 0; i < f->cat.count; i++)
            free(f->fulls[i]);
    free(f->fulls);
    free(f->nodes);
    catalog_free(&f->cat);
    free(f->root);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- files ---- */

cairn_err snapfiles_file_open(snapfiles *f, const char *path, snapfiles_file **out)
{
    snapfiles_stat st;
    const tree_node *n = NULL;
    cairn_err rc = snapfiles_stat_path(f, path, &st);
    if (rc)
        return rc;
    if (st.type != SNAPFILES_FILE)
        return err_set(CAIRN_EINVAL, "%s: not a file", path);
    if (f->device)
        rc = content_node(f, &f->cat.entries[find_dev_node(f, path)->cat], &n);
    else
        rc = find_tree_node(f, path, &n);
    if (rc)
        return rc;
    snapfiles_file *const h = calloc(1, sizeof *h);
    if (!h)
        return err_set(CAIRN_ENOMEM, "out of memory");
    h->f = f;
    h->size = n->size;
    h->n = n->nchunks;
    h->ids = malloc((n->nchunks ? n->nchunks : 1) * (size_t)ID_LEN);
    h->ends = malloc((n->nchunks ? n->nchunks : 1) * sizeof *h->ends);
    if (!h->ids || !h->ends) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto fail;
    }
    if (n->nchunks)
        memcpy(h->ids, n->chunks, n->nchunks * (size_t)ID_LEN);
    /* the chunk lengths, from the index (no chunk is read here) */
    uint64_t end = 0;
    for (uint32_t k = 0; k < h->n; k++) {
        uint8_t pack[PACK_ID_LEN];
        pack_entry e;
        if ((rc = store_locate(f->c->s, h->ids[k], pack, &e)))
            goto fail;
        end += e.raw_len;
        h->ends[k] = end;
    }
    if (end != h->size) {
        rc = err_set(CAIRN_ECORRUPT, "%s: its chunks hold %llu bytes, not %llu", path,
                     (unsigned long long)end, (unsigned long long)h->size);
        goto fail;
    }
    *out = h;
    return CAIRN_OK;
fail:
    snapfiles_file_close(h);
    return rc;
}

uint64_t snapfiles_file_size(const snapfiles_file *h)
{
    return h->size;
}

cairn_err snapfiles_read(snapfiles_file *h, uint64_t off, void *buf, size_t len, size_t *got)
{
    *got = 0;
    if (off >= h->size || len == 0)
        return CAIRN_OK;
    if (len > h->size - off)
        len = (size_t)(h->size - off);
    /* the first chunk that ends after off */
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (h->ends[mid] <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint8_t *dst = buf;
    for (size_t k = lo; k < h->n && *got < len; k++) {
        const uint64_t start = k ? h->ends[k - 1] : 0;
        const size_t clen = (size_t)(h->ends[k] - start);
        const size_t in = (size_t)(off + *got - start);
        size_t n = clen - in;
        if (n > len - *got)
            n = len - *got;
        const cairn_err rc = cache_read(h->f->c, h->ids[k], clen, in, dst + *got, n);
        if (rc)
            return rc;
        *got += n;
    }
    return CAIRN_OK;
}

void snapfiles_file_close(snapfiles_file *h)
{
    if (!h)
        return;
    free(h->ids);
    free(h->ends);
    free(h);
}
