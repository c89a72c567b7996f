#include "engine/core/check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "util/fsutil.h"
#include "util/idset.h"
#include "util/grow.h"
#include "store/keys.h"
#include "engine/core/worker_pool.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree.h"
#include "engine/core/tree_store.h"

typedef struct ck_pack {
    uint8_t id[PACK_ID_LEN];
    char *path;
} ck_pack;

typedef struct ck_ctx {
    store *s;
    store_worker *w;
    /* packs are verified by a pool of workers; mu guards what they share
     * (results, the sets of damage, report lines) */
    pthread_mutex_t mu;
    ck_pack *packs;
    size_t npacks, cap_packs, next_pack;
    const check_opts *opts;
    check_result *res;
    idset bad_chunks; /* damaged chunks found in packs */
    idset bad_packs;  /* packs whose trailer does not open */
    idset good_trees; /* subtrees already walked without damage */
    idset bad_trees;  /* subtrees already walked with damage */
    const char *snap_name;
    int snap_damaged;
    cairn_err fatal;
} ck_ctx;

static void say(ck_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(ck_ctx *c, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&c->mu);
    if (c->opts->report)
        c->opts->report(c->opts->report_ctx, line);
    pthread_mutex_unlock(&c->mu);
}

static void add_id(ck_ctx *c, idset *set, const uint8_t id[ID_LEN])
{
    int added;
    if (idset_add(set, id, &added) != CAIRN_OK && !c->fatal)
        c->fatal = CAIRN_ENOMEM;
}

typedef struct bad_chunk_ctx {
    ck_ctx *c;
    const char *path;
} bad_chunk_ctx;

static void on_bad_chunk(void *ctx, const pack_entry *e, const char *msg)
{
    bad_chunk_ctx *const b = ctx;
    char hex[2 * ID_LEN + 1];
    fs_hex(e->id, ID_LEN, hex);
    pthread_mutex_lock(&b->c->mu);
    b->c->res->chunks_damaged++;
    add_id(b->c, &b->c->bad_chunks, e->id);
    pthread_mutex_unlock(&b->c->mu);
    say(b->c, "damaged: pack %s: chunk %.16s at offset %u: %s", b->path, hex, e->offset, msg);
}

/* One pack, on a pool worker. */
static cairn_err check_pack(ck_ctx *c, store_worker *w, const uint8_t pack[PACK_ID_LEN],
                            const char *path)
{
    pack_entry *e = NULL;
    size_t n = 0;
    uint64_t bytes = 0;
    cairn_err rc;
    if (c->opts->read_data) {
        bad_chunk_ctx b = {c, path};
        rc = store_verify_pack(c->s, w, path, &e, &n, on_bad_chunk, &b);
        for (size_t i = 0; i < n; i++)
            bytes += e[i].stored_len;
    } else {
        uint64_t size;
        const int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return err_errno(errno, path);
        rc = pack_read_trailer(fd, path, keyring_seal_key(store_keys(c->s)), &e, &n, &size);
        close(fd);
    }
    free(e);
    if (rc == CAIRN_ENOMEM)
        return rc;
    pthread_mutex_lock(&c->mu);
    c->res->packs++;
    c->res->bytes_read += bytes;
    if (c->opts->read_data)
        c->res->chunks_read += n;
    /* n == 0: the trailer itself failed: every chunk indexed there is lost */
    const int lost = rc && (!c->opts->read_data || n == 0);
    if (rc)
        c->res->packs_damaged++;
    if (lost)
        add_id(c, &c->bad_packs, pack);
    pthread_mutex_unlock(&c->mu);
    if (lost)
        say(c, "damaged: %s", err_msg());
    return CAIRN_OK;
}

static cairn_err collect_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    ck_ctx *const c = ctx;
    const cairn_err rc = util_grow(&c->packs, &c->cap_packs, c->npacks + 1, sizeof *c->packs);
    if (rc)
        return rc;
    ck_pack *const p = &c->packs[c->npacks];
    memcpy(p->id, pack, PACK_ID_LEN);
    if (!(p->path = strdup(path)))
        return err_set(CAIRN_ENOMEM, "out of memory");
    c->npacks++;
    return CAIRN_OK;
}

static void pack_worker(void *ctx, store_worker *w)
{
    ck_ctx *const c = ctx;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        const size_t i = c->next_pack++;
        const int stop = c->fatal != CAIRN_OK;
        pthread_mutex_unlock(&c->mu);
        if (stop || i >= c->npacks)
            return;
        const cairn_err rc = check_pack(c, w, c->packs[i].id, c->packs[i].path);
        if (rc) {
            pthread_mutex_lock(&c->mu);
            if (!c->fatal)
                c->fatal = rc;
            pthread_mutex_unlock(&c->mu);
        }
    }
}

/* Every pack: its trailer (and with read_data every chunk), in parallel,
 * the largest share of a check's work. */
static cairn_err check_packs(ck_ctx *c)
{
    pool *workers = NULL;
    cairn_err rc = store_each_pack_file(c->s, collect_pack, c);
    if (!rc)
        rc = pool_start(c->s, 0, pack_worker, c, &workers);
    if (!rc)
        pool_join(workers);
    return rc;
}

/* Whether a chunk a snapshot needs is present and sound. */
static const char *chunk_problem(ck_ctx *c, const uint8_t id[ID_LEN])
{
    uint8_t pack[PACK_ID_LEN];
    pack_entry e;
    if (idset_has(&c->bad_chunks, id))
        return "damaged chunk";
    if (store_locate(c->s, id, pack, &e) != CAIRN_OK)
        return "chunk missing from the store";
    if (idset_has(&c->bad_packs, pack))
        return "chunk in a damaged pack";
    return NULL;
}

static void list_key(const uint8_t (*ids)[ID_LEN], uint32_t n, uint8_t key[ID_LEN])
{
    crypto_generichash(key, ID_LEN, (const uint8_t *)ids, (size_t)n * ID_LEN, NULL, 0);
}

/* Walks a subtree; returns 1 if anything in it is damaged. */
static int walk(ck_ctx *c, char *path, const uint8_t (*ids)[ID_LEN], uint32_t nids)
{
    uint8_t key[ID_LEN];
    tree t;
    int damaged = 0;
    list_key(ids, nids, key);
    if (idset_has(&c->good_trees, key))
        return 0;
    if (idset_has(&c->bad_trees, key)) {
        /* the same damaged folder seen in an earlier snapshot: name this one too */
        say(c, "snapshot %s: folder %s: contains damaged data (listed above)", c->snap_name,
            *path ? path : "/");
        return 1;
    }
    for (uint32_t i = 0; i < nids; i++) {
        const char *const why = chunk_problem(c, ids[i]);
        if (why) {
            say(c, "snapshot %s: folder %s: %s", c->snap_name, *path ? path : "/", why);
            add_id(c, &c->bad_trees, key);
            return 1;
        }
    }
    if (treestore_load(c->s, c->w, ids, nids, &t) != CAIRN_OK) {
        say(c, "snapshot %s: folder %s: %s", c->snap_name, *path ? path : "/", err_msg());
        add_id(c, &c->bad_trees, key);
        return 1;
    }
    const size_t base = strlen(path);
    for (size_t i = 0; i < t.count; i++) {
        const tree_node *const n = &t.nodes[i];
        snprintf(path + base, PATH_MAX - base, "/%s", n->name);
        if (n->type == NODE_DIR) {
            damaged |= walk(c, path, (const uint8_t(*)[ID_LEN])n->chunks, n->nchunks);
        } else if (n->type == NODE_FILE) {
            for (uint32_t k = 0; k < n->nchunks; k++) {
                const char *const why = chunk_problem(c, n->chunks[k]);
                if (why) {
                    say(c, "snapshot %s: file %s: %s", c->snap_name, path, why);
                    c->res->files_damaged++;
                    damaged = 1;
                    break;
                }
            }
        }
        path[base] = '\0';
    }
    tree_free(&t);
    add_id(c, damaged ? &c->bad_trees : &c->good_trees, key);
    return damaged;
}

/* A damaged key file locks out its password (and, if it is the last one,
 * everyone), so it is damage even while another key opens the store. */
static cairn_err check_keys(ck_ctx *c)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    keys_info *k = NULL;
    size_t n = 0;
    cairn_err rc = store_object_path(store_path(c->s), STORE_DIR_KEYS, dir, sizeof dir);
    if (!rc)
        rc = keys_list(dir, &k, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!k[i].damaged)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, k[i].id);
        c->res->keys_damaged++;
        if (keys_verify_file(path) == CAIRN_ENOMEM) {
            free(k);
            return CAIRN_ENOMEM;
        }
        say(c, "damaged: %s", err_msg());
    }
    free(k);
    return CAIRN_OK;
}

static cairn_err say_damaged(void *ctx, const uint8_t id[SNAPSHOT_ID_LEN], cairn_err why)
{
    (void)id;
    (void)why;
    say(ctx, "damaged: %s", err_msg());
    return CAIRN_OK;
}

/* A catalog is what ls, extract and diff read: a lost chunk of it is
 * damage to the snapshot even though a restore does not need it. */
static int catalog_damaged(ck_ctx *c, const snapshot *sn)
{
    for (uint32_t i = 0; i < sn->ncatalog; i++) {
        const char *const why = chunk_problem(c, sn->catalog[i]);
        if (why) {
            say(c, "snapshot %s: catalog: %s", c->snap_name, why);
            return 1;
        }
    }
    return 0;
}

cairn_err check_run(store *s, const check_opts *opts, check_result *result)
{
    ck_ctx c;
    snaplist snaps = {NULL, 0, 0};
    char path[PATH_MAX];
    cairn_err rc;
    memset(&c, 0, sizeof c);
    memset(result, 0, sizeof *result);
    c.s = s;
    c.opts = opts;
    c.res = result;
    idset_init(&c.bad_chunks);
    idset_init(&c.bad_packs);
    idset_init(&c.good_trees);
    idset_init(&c.bad_trees);
    pthread_mutex_init(&c.mu, NULL);
    rc = store_worker_new(s, &c.w);
    if (!rc)
        rc = check_packs(&c);
    if (!rc)
        rc = check_keys(&c);
    if (!rc)
        rc = snaplist_load(s, &snaps);
    if (rc)
        goto done;
    if (snaps.damaged) {
        rc = snaplist_each_damaged(c.s, say_damaged, &c);
        if (rc)
            goto done;
        result->snapshots_damaged += snaps.damaged;
    }
    for (size_t i = 0; i < snaps.count && !c.fatal; i++) {
        char name[9];
        snaplist_short_id(snaps.items[i].id, name);
        c.snap_name = name;
        path[0] = '\0';
        result->snapshots++;
        const int tree_damaged =
            walk(&c, path, (const uint8_t(*)[ID_LEN])snaps.items[i].tree, snaps.items[i].ntree);
        if (catalog_damaged(&c, &snaps.items[i]) | tree_damaged)
            result->snapshots_damaged++;
    }
    rc = c.fatal ? err_set(c.fatal, "out of memory during check") : CAIRN_OK;
    if (!rc && (result->packs_damaged || result->chunks_damaged || result->snapshots_damaged ||
                result->keys_damaged))
        rc = err_set(CAIRN_ECORRUPT,
                     "the store is damaged: %llu pack(s), %llu snapshot(s), %llu "
                     "file(s), %llu key file(s) affected (see 'cairn repair')",
                     (unsigned long long)result->packs_damaged,
                     (unsigned long long)result->snapshots_damaged,
                     (unsigned long long)result->files_damaged,
                     (unsigned long long)result->keys_damaged);
done:
    snaplist_free(&snaps);
    store_worker_free(c.w);
    for (size_t i = 0; i < c.npacks; i++)
        free(c.packs[i].path);
    free(c.packs);
    pthread_mutex_destroy(&c.mu);
    idset_free(&c.bad_chunks);
    idset_free(&c.bad_packs);
    idset_free(&c.good_trees);
    idset_free(&c.bad_trees);
    return rc;
}
