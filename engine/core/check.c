#include "engine/core/check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util/fsutil.h"
#include "util/idset.h"
#include "util/grow.h"
#include "store/keys.h"
#include "engine/core/chains.h"
#include "engine/core/worker_pool.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree.h"
#include "engine/core/tree_walk.h"

typedef struct ck_pack {
    uint8_t id[PACK_ID_LEN];
    char *path;
    uint64_t size; /* of the file, for progress */
    int read;      /* read every chunk (read_data, or chosen for the subset) */
} ck_pack;

typedef struct ck_ctx {
    store *s;
    store_worker *w;
    /* packs are verified by a pool of workers; mu guards what they share
     * (results, the sets of damage, report lines) */
    pthread_mutex_t mu;
    ck_pack *packs;
    size_t npacks, cap_packs, next_pack;
    work_progress prog; /* under mu */
    const check_opts *opts;
    check_result *res;
    idset bad_chunks; /* damaged chunks found in packs */
    idset bad_packs;  /* packs whose trailer does not open */
    const char *snap_name;
    int snap_damaged;
    cairn_err fatal;
    /* check_snapshot_data: chunks read sound, the reading buffer, the files' callback */
    idset seen;
    cbuf buf;
    char why[512];
    check_file_fn file_fn;
    void *file_ctx;
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
static cairn_err check_pack(ck_ctx *c, store_worker *w, const ck_pack *p)
{
    const uint8_t *const pack = p->id;
    const char *const path = p->path;
    pack_entry *e = NULL;
    size_t n = 0;
    uint64_t bytes = 0;
    bad_chunk_ctx b = {c, path};
    const cairn_err rc =
        store_check_pack(c->s, w, pack, path, p->size, p->read, &e, &n, on_bad_chunk, &b);
    if (p->read)
        for (size_t i = 0; i < n; i++)
            bytes += e[i].stored_len;
    free(e);
    /* a target that cannot be reached, or a full cache disk, says nothing
     * about the pack: the check ends there */
    if (rc == CAIRN_ENOMEM || rc == CAIRN_EREMOTE || rc == CAIRN_ENOSPC)
        return rc;
    pthread_mutex_lock(&c->mu);
    c->res->packs++;
    c->res->bytes_read += bytes;
    if (p->read) {
        c->res->chunks_read += n;
        c->res->packs_read++;
    }
    /* n == 0: the trailer itself failed: every chunk indexed there is lost */
    const int lost = rc && (!p->read || n == 0);
    if (rc)
        c->res->packs_damaged++;
    if (lost)
        add_id(c, &c->bad_packs, pack);
    pthread_mutex_unlock(&c->mu);
    if (lost)
        say(c, "damaged: %s", err_msg());
    return CAIRN_OK;
}

static cairn_err collect_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path,
                              uint64_t size)
{
    ck_ctx *const c = ctx;
    const cairn_err rc = util_grow(&c->packs, &c->cap_packs, c->npacks + 1, sizeof *c->packs);
    if (rc)
        return rc;
    ck_pack *const p = &c->packs[c->npacks];
    memcpy(p->id, pack, PACK_ID_LEN);
    p->size = size;
    p->read = c->opts->read_data;
    c->prog.files_total++;
    c->prog.bytes_total += p->size;
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
        if (!c->fatal && work_stopped(c->opts->hooks))
            c->fatal = CAIRN_EINTERRUPTED;
        const int stop = c->fatal != CAIRN_OK;
        pthread_mutex_unlock(&c->mu);
        if (stop || i >= c->npacks)
            return;
        const cairn_err rc = check_pack(c, w, &c->packs[i]);
        pthread_mutex_lock(&c->mu);
        if (rc && !c->fatal)
            c->fatal = rc;
        c->prog.files_done++;
        c->prog.bytes_done += c->packs[i].size;
        work_report(c->opts->hooks, &c->prog);
        pthread_mutex_unlock(&c->mu);
    }
}

/* read_data_subset: the first k packs of a random permutation (Fisher-Yates
 * over the pack list's order) are read whole. */
static void choose_subset(ck_ctx *c)
{
    const int pct = c->opts->read_data_subset;
    if (c->opts->read_data || pct <= 0 || c->npacks == 0)
        return;
    size_t k = (c->npacks * (size_t)(pct > 100 ? 100 : pct) + 99) / 100;
    for (size_t i = 0; i < k; i++) {
        const size_t j = i + randombytes_uniform((uint32_t)(c->npacks - i));
        const ck_pack t = c->packs[i];
        c->packs[i] = c->packs[j];
        c->packs[j] = t;
        c->packs[i].read = 1;
    }
}

/* Every pack: its trailer (and with read_data every chunk), in parallel,
 * the largest share of a check's work. */
static cairn_err check_packs(ck_ctx *c)
{
    pool *workers = NULL;
    cairn_err rc = store_each_pack(c->s, collect_pack, c);
    if (!rc)
        choose_subset(c);
    c->prog.phase = "check";
    c->prog.unit = "packs";
    if (!rc)
        work_report(c->opts->hooks, &c->prog);
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

/* ---- the snapshots' trees ---- */

static const char *folder_name(const char *path)
{
    return *path ? path : "/";
}

static cairn_err on_tree_chunks(void *ctx, const char *path, const uint8_t (*ids)[ID_LEN],
                                uint32_t n, int *damaged)
{
    ck_ctx *const c = ctx;
    for (uint32_t i = 0; i < n; i++) {
        const char *const why = chunk_problem(c, ids[i]);
        if (why) {
            say(c, "snapshot %s: folder %s: %s", c->snap_name, folder_name(path), why);
            *damaged = 1;
            break;
        }
    }
    return CAIRN_OK;
}

static cairn_err on_file(void *ctx, const char *path, tree_node *node, int *damaged)
{
    ck_ctx *const c = ctx;
    if (node->type != NODE_FILE)
        return CAIRN_OK;
    for (uint32_t k = 0; k < node->nchunks; k++) {
        const char *const why = chunk_problem(c, node->chunks[k]);
        if (why) {
            say(c, "snapshot %s: file %s: %s", c->snap_name, path, why);
            c->res->files_damaged++;
            *damaged = 1;
            break;
        }
    }
    return CAIRN_OK;
}

static cairn_err on_error(void *ctx, const char *path, cairn_err rc, int *damaged)
{
    ck_ctx *const c = ctx;
    (void)rc;
    say(c, "snapshot %s: folder %s: %s", c->snap_name, folder_name(path), err_msg());
    *damaged = 1;
    return CAIRN_OK;
}

static void on_seen_damaged(void *ctx, const char *path)
{
    ck_ctx *const c = ctx;
    /* the same damaged folder seen in an earlier snapshot: name this one too */
    say(c, "snapshot %s: folder %s: contains damaged data (listed above)", c->snap_name,
        folder_name(path));
}

/* A catalog is what ls, extract and diff read: a lost chunk of it is
 * damage to the snapshot even though a restore does not need it. */
static cairn_err on_catalog(void *ctx, const snapshot *sn, int *damaged)
{
    ck_ctx *const c = ctx;
    for (uint32_t i = 0; i < sn->ncatalog; i++) {
        const char *const why = chunk_problem(c, sn->catalog[i]);
        if (why) {
            say(c, "snapshot %s: catalog: %s", c->snap_name, why);
            *damaged = 1;
            break;
        }
    }
    return CAIRN_OK;
}

static const tree_walk_ops check_walk = {
    .on_tree_chunks = on_tree_chunks,
    .on_file = on_file,
    .on_error = on_error,
    .on_seen_damaged = on_seen_damaged,
    .on_catalog = on_catalog,
};

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

/* A damaged chain record hides whether its chain was archived (forget
 * would prune an archived chain's snapshots by policy). */
static cairn_err say_damaged_chain(void *ctx, const uint8_t id[ID_LEN])
{
    ck_ctx *const c = ctx;
    (void)id;
    c->res->chains_damaged++;
    say(c, "damaged: %s", err_msg());
    return CAIRN_OK;
}

static cairn_err say_damaged(void *ctx, const uint8_t id[SNAPSHOT_ID_LEN], cairn_err why)
{
    (void)id;
    (void)why;
    say(ctx, "damaged: %s", err_msg());
    return CAIRN_OK;
}

cairn_err check_run(store *s, const check_opts *opts, check_result *result)
{
    ck_ctx c;
    snaplist snaps = {NULL, 0, 0};
    tree_walk *walker = NULL;
    cairn_err rc;
    memset(&c, 0, sizeof c);
    memset(result, 0, sizeof *result);
    c.s = s;
    c.opts = opts;
    c.res = result;
    idset_init(&c.bad_chunks);
    idset_init(&c.bad_packs);
    pthread_mutex_init(&c.mu, NULL);
    rc = store_worker_new(s, &c.w);
    if (!rc)
        rc = check_packs(&c);
    if (!rc)
        rc = check_keys(&c);
    if (!rc)
        rc = chains_each_damaged(s, say_damaged_chain, &c);
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
    rc = tree_walk_new(s, c.w, &check_walk, &c, 0, &walker);
    if (rc)
        goto done;
    for (size_t i = 0; i < snaps.count && !c.fatal; i++) {
        char name[9];
        if (work_stopped(opts->hooks)) {
            c.fatal = CAIRN_EINTERRUPTED;
            break;
        }
        int damaged = 0;
        snaplist_short_id(snaps.items[i].id, name);
        c.snap_name = name;
        result->snapshots++;
        const cairn_err wrc = tree_walk_snapshot(walker, &snaps.items[i], &damaged, NULL, NULL);
        if (wrc)
            c.fatal = wrc;
        else if (damaged)
            result->snapshots_damaged++;
    }
    rc = c.fatal == CAIRN_EINTERRUPTED ? err_set(c.fatal, "interrupted: the check is incomplete")
         : c.fatal                     ? err_set(c.fatal, "out of memory during check")
                                       : CAIRN_OK;
    if (!rc && (result->packs_damaged || result->chunks_damaged || result->snapshots_damaged ||
                result->keys_damaged || result->chains_damaged))
        rc = err_set(CAIRN_ECORRUPT,
                     "the store is damaged: %llu pack(s), %llu snapshot(s), %llu "
                     "file(s), %llu key file(s)%s affected (see 'cairn repair')",
                     (unsigned long long)result->packs_damaged,
                     (unsigned long long)result->snapshots_damaged,
                     (unsigned long long)result->files_damaged,
                     (unsigned long long)result->keys_damaged,
                     result->chains_damaged ? ", chain records" : "");
done:
    tree_walk_free(walker);
    snaplist_free(&snaps);
    store_worker_free(c.w);
    for (size_t i = 0; i < c.npacks; i++)
        free(c.packs[i].path);
    free(c.packs);
    pthread_mutex_destroy(&c.mu);
    idset_free(&c.bad_chunks);
    idset_free(&c.bad_packs);
    return rc;
}

/* ---- one snapshot, every chunk read (check_snapshot_data) ---- */

/* Reads and authenticates a chunk unless read already: NULL when sound,
 * else why not (the chunk is then remembered as damaged). */
static const char *read_chunk(ck_ctx *c, const uint8_t id[ID_LEN])
{
    if (idset_has(&c->seen, id))
        return NULL;
    if (idset_has(&c->bad_chunks, id))
        return "damaged chunk (see above)";
    const cairn_err rc = store_get_chunk(c->s, c->w, id, &c->buf);
    if (rc == CAIRN_ENOMEM) {
        c->fatal = rc;
        return "out of memory";
    }
    if (rc) {
        snprintf(c->why, sizeof c->why, "%s", err_msg());
        c->res->chunks_damaged++;
        add_id(c, &c->bad_chunks, id);
        return c->why;
    }
    c->res->chunks_read++;
    c->res->bytes_read += c->buf.len;
    add_id(c, &c->seen, id);
    return NULL;
}

static const char *read_chunks(ck_ctx *c, const uint8_t (*ids)[ID_LEN], uint32_t n)
{
    const char *first = NULL;
    for (uint32_t i = 0; i < n && !c->fatal; i++) {
        const char *const why = read_chunk(c, ids[i]);
        if (why && !first)
            first = why;
    }
    return first;
}

static cairn_err sd_tree_chunks(void *ctx, const char *path, const uint8_t (*ids)[ID_LEN],
                                uint32_t n, int *damaged)
{
    ck_ctx *const c = ctx;
    const char *const why = read_chunks(c, ids, n);
    if (why) {
        say(c, "snapshot %s: folder %s: %s", c->snap_name, folder_name(path), why);
        *damaged = 1;
    }
    return c->fatal;
}

static cairn_err sd_file(void *ctx, const char *path, tree_node *node, int *damaged)
{
    ck_ctx *const c = ctx;
    const char *why = NULL;
    if (node->type == NODE_FILE)
        why = read_chunks(c, (const uint8_t(*)[ID_LEN])node->chunks, node->nchunks);
    if (c->fatal)
        return c->fatal;
    if (why) {
        say(c, "snapshot %s: file %s: %s", c->snap_name, path, why);
        c->res->files_damaged++;
        *damaged = 1;
    }
    c->prog.files_done++;
    c->prog.bytes_done += node->type == NODE_FILE ? node->size : 0;
    work_report(c->opts->hooks, &c->prog);
    if (work_stopped(c->opts->hooks))
        return err_set(CAIRN_EINTERRUPTED, "interrupted: the verification is incomplete");
    return c->file_fn ? c->file_fn(c->file_ctx, path, node, why == NULL) : CAIRN_OK;
}

static cairn_err sd_catalog(void *ctx, const snapshot *sn, int *damaged)
{
    ck_ctx *const c = ctx;
    const char *const why = read_chunks(c, (const uint8_t(*)[ID_LEN])sn->catalog, sn->ncatalog);
    if (why) {
        say(c, "snapshot %s: catalog: %s", c->snap_name, why);
        *damaged = 1;
    }
    return c->fatal;
}

static const tree_walk_ops snapshot_data_walk = {
    .on_tree_chunks = sd_tree_chunks,
    .on_file = sd_file,
    .on_error = on_error,
    .on_seen_damaged = on_seen_damaged,
    .on_catalog = sd_catalog,
};

cairn_err check_snapshot_data(store *s, const snapshot *sn, const check_opts *opts,
                              check_file_fn file_fn, void *file_ctx, check_result *result)
{
    ck_ctx c;
    tree_walk *walker = NULL;
    char name[9];
    int damaged = 0;
    memset(&c, 0, sizeof c);
    memset(result, 0, sizeof *result);
    c.s = s;
    c.opts = opts;
    c.res = result;
    c.file_fn = file_fn;
    c.file_ctx = file_ctx;
    c.prog.phase = "verify";
    c.prog.files_total = sn->files;
    c.prog.bytes_total = sn->bytes;
    snaplist_short_id(sn->id, name);
    c.snap_name = name;
    idset_init(&c.bad_chunks);
    idset_init(&c.bad_packs);
    idset_init(&c.seen);
    cbuf_init(&c.buf);
    pthread_mutex_init(&c.mu, NULL);
    result->snapshots = 1;
    cairn_err rc = store_worker_new(s, &c.w);
    if (!rc)
        rc = tree_walk_new(s, c.w, &snapshot_data_walk, &c, 0, &walker);
    if (!rc)
        rc = tree_walk_snapshot(walker, sn, &damaged, NULL, NULL);
    if (!rc && c.fatal)
        rc = err_set(c.fatal, "out of memory during verify");
    if (!rc && damaged) {
        result->snapshots_damaged = 1;
        rc = err_set(CAIRN_ECORRUPT, "snapshot %s is damaged: %llu chunk(s), %llu file(s) affected",
                     name, (unsigned long long)result->chunks_damaged,
                     (unsigned long long)result->files_damaged);
    }
    tree_walk_free(walker);
    store_worker_free(c.w);
    cbuf_free(&c.buf);
    pthread_mutex_destroy(&c.mu);
    idset_free(&c.bad_chunks);
    idset_free(&c.bad_packs);
    idset_free(&c.seen);
    return rc;
}
