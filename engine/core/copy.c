/* copy.c - one sync algorithm between a store folder and a target, in
 * either direction (push: local store -> target; fetch: target -> local
 * mirror).  Both sides are backends; the local one also has a root folder,
 * so a push uploads its files in place and a fetch downloads straight into
 * the mirror's tmp/ before renaming. */
#include "engine/core/copy.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "util/fsutil.h"
#include "util/grow.h"
#include "util/idset.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree.h"
#include "engine/core/tree_walk.h"

enum { SMALL_MAX = 1 << 20, HEX_ID = 2 * ID_LEN };

/* What a store folder holds that a copy carries is an object (store/layout.h);
 * everything else (index, locks, tmp/, the targets file, foreign files) is
 * STORE_OBJ_UNKNOWN and ignored. */

typedef struct obj {
    char *name;
    uint64_t size;
    int kind;
    int at_dst; /* source objects: present at the destination (found or sent) */
} obj;

typedef struct objlist {
    obj *v;
    size_t n, cap;
} objlist;

typedef struct side {
    backend *b;
    const char *root; /* the local folder, or NULL for a network target */
} side;

typedef struct job {
    side src, dst;
    int fetch;    /* dst is a local mirror (a cache: reset, never refuse) */
    int refetch;  /* transfer even what the destination has */
    int no_packs; /* fetch: leave the packs (read on demand) */
    int append_only;
    const idset *only_packs, *only_snaps;
    const copy_opts *opts; /* may be NULL */
    objlist s, d;
    copy_result *r;
    work_progress prog; /* objects to transfer (unit "objects") */
} job;

/* The ID in an object name (packs, snapshots, chains). */
static void name_id(const obj *o, uint8_t id[ID_LEN])
{
    (void)store_name_parse(o->name, id);
}

static void objlist_free(objlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static cairn_err collect(void *ctx, const char *name, uint64_t size)
{
    objlist *const l = ctx;
    const int kind = store_name_parse(name, NULL);
    if (kind == STORE_OBJ_UNKNOWN)
        return CAIRN_OK;
    if (util_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v) != CAIRN_OK)
        return CAIRN_ENOMEM;
    obj *const o = &l->v[l->n];
    o->name = strdup(name);
    if (!o->name)
        return err_set(CAIRN_ENOMEM, "out of memory");
    o->size = size;
    o->kind = kind;
    o->at_dst = 0;
    l->n++;
    return CAIRN_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const obj *)a)->name, ((const obj *)b)->name);
}

static obj *find(const objlist *l, const char *name)
{
    const obj key = {(char *)name, 0, 0, 0};
    return l->n ? bsearch(&key, l->v, l->n, sizeof *l->v, by_name) : NULL;
}

/* Snapshots are listed before packs: a snapshot that appears in between
 * (a backup running now) had its packs written first, so every snapshot
 * listed has its packs in the listing too. */
static cairn_err list_side(const side *sd, objlist *out)
{
    static const store_object_kind kinds[] = {STORE_OBJ_SNAPSHOT, STORE_OBJ_CHAIN, STORE_OBJ_KEY,
                                              STORE_OBJ_CONFIG, STORE_OBJ_PACK};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const cairn_err rc = backend_list(sd->b, store_name_prefix(kinds[i]), collect, out);
        if (rc)
            return rc;
    }
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, by_name);
    return CAIRN_OK;
}

/* Reads a small object (config, chain record) of either side. */
static cairn_err read_small(const side *sd, const char *name, uint8_t **data, size_t *len)
{
    char path[PATH_MAX];
    const char *const tmpdir = getenv("TMPDIR");
    if (sd->root) {
        snprintf(path, sizeof path, "%s/%s", sd->root, name);
        return fs_read_file(path, SMALL_MAX, data, len);
    }
    snprintf(path, sizeof path, "%s/cairn-copy-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    const int fd = mkstemp(path);
    if (fd < 0)
        return err_errno(errno, path);
    close(fd);
    cairn_err rc = backend_get_file(sd->b, name, path);
    if (!rc)
        rc = fs_read_file(path, SMALL_MAX, data, len);
    unlink(path);
    return rc;
}

static cairn_err same_content(const job *sy, const char *name, int *same)
{
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    cairn_err rc = read_small(&sy->src, name, &a, &alen);
    if (!rc)
        rc = read_small(&sy->dst, name, &b, &blen);
    *same = !rc && alen == blen && memcmp(a, b, alen) == 0;
    free(a);
    free(b);
    return rc;
}

/* Puts a downloaded file in its place in the mirror: it is renamed only
 * once whole and durable, like every other write into a store folder. */
static cairn_err install(const char *root, const char *tmp, const char *name)
{
    char final[PATH_MAX];
    if (snprintf(final, sizeof final, "%s/%s", root, name) >= (int)sizeof final)
        return err_set(CAIRN_EINVAL, "%s/%s: path too long", root, name);
    const int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(errno, tmp);
    if (fsync(fd) != 0) {
        const int e = errno;
        close(fd);
        return err_errno(e, tmp);
    }
    close(fd);
    char *const slash = strrchr(final, '/');
    *slash = '\0';
    cairn_err rc = fs_mkdirs(final, 0700);
    *slash = '/';
    if (rc)
        return rc;
    if (rename(tmp, final) != 0)
        return err_errno(errno, final);
    *slash = '\0';
    return fs_fsync_dir(final);
}

static cairn_err fetch_one(job *sy, const obj *o, int *done)
{
    char tmp[PATH_MAX], rhex[33];
    uint8_t rnd[16];
    struct stat st;
    const uint64_t before = sy->src.b->bytes_received;
    randombytes_buf(rnd, sizeof rnd);
    fs_hex(rnd, sizeof rnd, rhex);
    snprintf(tmp, sizeof tmp, "%s/" STORE_DIR_TMP "/%s.part", sy->dst.root, rhex);
    cairn_err rc = backend_get_file(sy->src.b, o->name, tmp);
    sy->r->bytes += sy->src.b->bytes_received - before;
    if (rc == CAIRN_ENOTFOUND) {
        unlink(tmp); /* removed at the target since it was listed */
        return CAIRN_OK;
    }
    if (!rc && stat(tmp, &st) != 0)
        rc = err_errno(errno, tmp);
    if (!rc && (uint64_t)st.st_size != o->size)
        rc = err_set(CAIRN_EREMOTE, "%s: %s: received %llu bytes, the listing says %llu",
                     sy->src.b->url, o->name, (unsigned long long)st.st_size,
                     (unsigned long long)o->size);
    if (!rc)
        rc = install(sy->dst.root, tmp, o->name);
    if (rc)
        unlink(tmp);
    *done = rc == CAIRN_OK;
    return rc;
}

static int gone_locally(const char *path)
{
    return access(path, F_OK) != 0 && errno == ENOENT;
}

static cairn_err push_one(job *sy, const obj *o, int *done)
{
    char path[PATH_MAX];
    const uint64_t before = sy->dst.b->bytes_sent;
    snprintf(path, sizeof path, "%s/%s", sy->src.root, o->name);
    /* snapshots forgotten, keys removed since the listing: nothing to send */
    if (gone_locally(path))
        return CAIRN_OK;
    cairn_err rc = backend_put_file(sy->dst.b, o->name, path);
    sy->r->bytes += sy->dst.b->bytes_sent - before;
    if (rc && gone_locally(path))
        return CAIRN_OK;
    *done = rc == CAIRN_OK;
    return rc;
}

static int selected(const job *sy, const obj *o)
{
    uint8_t id[ID_LEN];
    if (o->kind == STORE_OBJ_PACK && sy->only_packs) {
        name_id(o, id);
        return idset_has(sy->only_packs, id);
    }
    if (o->kind == STORE_OBJ_SNAPSHOT && sy->only_snaps) {
        name_id(o, id);
        return idset_has(sy->only_snaps, id);
    }
    return 1;
}

/* Sends every source object of one kind that the destination lacks (or
 * holds with another size: a damaged or foreign leftover). */
static cairn_err send_kind(job *sy, int kind)
{
    for (size_t i = 0; i < sy->s.n; i++) {
        obj *const o = &sy->s.v[i];
        if (o->kind != kind || (kind == STORE_OBJ_PACK && sy->no_packs))
            continue;
        const obj *const d = find(&sy->d, o->name);
        if (!selected(sy, o)) {
            o->at_dst = d && d->size == o->size; /* copied before: still held */
            continue;
        }
        int need = !d || d->size != o->size || sy->refetch, done = 0;
        cairn_err rc = CAIRN_OK;
        if (!need && kind == STORE_OBJ_CHAIN) {
            /* the one kind rewritten in place (a chain archived) */
            int same;
            rc = same_content(sy, o->name, &same);
            need = !same;
        }
        if (!rc && !need) {
            o->at_dst = 1;
            sy->r->present++;
            continue;
        }
        if (!rc && sy->opts && work_stopped(sy->opts->hooks))
            rc = err_set(CAIRN_EINTERRUPTED, "interrupted");
        if (!rc && d && sy->append_only) {
            /* never overwritten there: a chain record is an older state of
             * the same chain, anything else a leftover it keeps */
            o->at_dst = kind == STORE_OBJ_CHAIN;
            sy->r->kept++;
            continue;
        }
        if (!rc)
            rc = sy->fetch ? fetch_one(sy, o, &done) : push_one(sy, o, &done);
        if (rc)
            return rc;
        sy->prog.files_done++;
        sy->prog.bytes_done += o->size;
        /* a chain rewritten in place was not in the totals */
        if (sy->prog.files_done > sy->prog.files_total)
            sy->prog.files_total = sy->prog.files_done;
        if (sy->prog.bytes_done > sy->prog.bytes_total)
            sy->prog.bytes_total = sy->prog.bytes_done;
        if (sy->opts)
            work_report(sy->opts->hooks, &sy->prog);
        if (!done)
            continue;
        o->at_dst = 1;
        sy->r->objects++;
        sy->r->packs += kind == STORE_OBJ_PACK;
        sy->r->snapshots += kind == STORE_OBJ_SNAPSHOT;
        if (sy->opts && sy->opts->progress)
            sy->opts->progress(sy->opts->progress_ctx, sy->r);
    }
    return CAIRN_OK;
}

/* Removes what the source no longer has: a target is a copy of the store,
 * and without this the space prune frees would never be freed there. */
static cairn_err delete_kind(job *sy, int kind)
{
    for (size_t i = 0; i < sy->d.n; i++) {
        const obj *const d = &sy->d.v[i];
        if (d->kind != kind || find(&sy->s, d->name))
            continue;
        if (sy->opts && work_stopped(sy->opts->hooks))
            return err_set(CAIRN_EINTERRUPTED, "interrupted");
        const cairn_err rc = backend_remove(sy->dst.b, d->name);
        if (rc)
            return rc;
        sy->r->deleted++;
    }
    return CAIRN_OK;
}

/* The destination must be empty, an interrupted first copy, or a copy of
 * this very store (same config bytes); a mirror is reset instead. */
static cairn_err preflight(job *sy)
{
    const obj *const sc = find(&sy->s, STORE_NAME_CONFIG);
    const obj *const dc = find(&sy->d, STORE_NAME_CONFIG);
    const char *const where = sy->fetch ? sy->src.b->url : sy->dst.b->url;
    int same;
    if (!sc)
        return err_set(CAIRN_ENOSTORE, "%s holds no cairn store (no config)",
                       sy->fetch ? where : sy->src.root);
    if (dc) {
        const cairn_err rc = same_content(sy, STORE_NAME_CONFIG, &same);
        if (rc || same)
            return rc;
        if (!sy->fetch)
            return err_set(CAIRN_EEXIST,
                           "%s holds another store (its config differs from this store's); "
                           "refusing to copy over it",
                           where);
        for (size_t i = 0; i < sy->d.n; i++) {
            const cairn_err rrc = backend_remove(sy->dst.b, sy->d.v[i].name);
            if (rrc)
                return rrc;
        }
        objlist_free(&sy->d);
        return CAIRN_OK;
    }
    if (sy->fetch)
        return CAIRN_OK;
    for (size_t i = 0; i < sy->d.n; i++) {
        const obj *const s = find(&sy->s, sy->d.v[i].name);
        if (!s || s->size != sy->d.v[i].size)
            return err_set(CAIRN_EEXIST,
                           "%s is not empty and holds no copy of this store (%s is not this "
                           "store's); refusing to copy into it",
                           where, sy->d.v[i].name);
    }
    return CAIRN_OK;
}

static size_t count_kind(const objlist *l, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].kind == kind;
    return n;
}

static cairn_err record_held(job *sy)
{
    copy_result *const r = sy->r;
    r->held = malloc((count_kind(&sy->s, STORE_OBJ_SNAPSHOT) + 1) * ID_LEN);
    if (!r->held)
        return err_set(CAIRN_ENOMEM, "out of memory");
    for (size_t i = 0; i < sy->s.n; i++)
        if (sy->s.v[i].kind == STORE_OBJ_SNAPSHOT && sy->s.v[i].at_dst)
            name_id(&sy->s.v[i], r->held[r->nheld++]);
    return CAIRN_OK;
}

static int snapshot_or_pack(int kind)
{
    return kind == STORE_OBJ_SNAPSHOT || kind == STORE_OBJ_PACK;
}

/* The cap on deletions: an emptied or damaged local store must not empty
 * its copies.  Judged before anything is sent, so a refused copy changes
 * nothing there. */
static cairn_err deletion_cap(const job *sy)
{
    const unsigned max = sy->opts && sy->opts->max_delete_percent ? sy->opts->max_delete_percent
                                                                  : COPY_MAX_DELETE_DEFAULT;
    uint64_t snaps = 0, gone_snaps = 0, bytes = 0, gone_bytes = 0;
    if (sy->fetch || sy->append_only || (sy->opts && sy->opts->allow_deletes))
        return CAIRN_OK;
    for (size_t i = 0; i < sy->d.n; i++) {
        const obj *const d = &sy->d.v[i];
        if (!snapshot_or_pack(d->kind))
            continue;
        const int gone = !find(&sy->s, d->name);
        if (d->kind == STORE_OBJ_SNAPSHOT) {
            snaps++;
            gone_snaps += gone;
        } else {
            bytes += d->size;
            gone_bytes += gone ? d->size : 0;
        }
    }
    if (gone_snaps * 100 > (uint64_t)max * snaps || gone_bytes * 100 > (uint64_t)max * bytes)
        return err_set(CAIRN_EREFUSED,
                       "%s: this copy would delete %llu of its %llu snapshot(s) and %llu of its "
                       "%llu pack bytes, more than %u%%; nothing was changed there (if the "
                       "local store lost them, run 'cairn repair --from-target'; if they were "
                       "forgotten on purpose, copy again with --allow-deletes)",
                       sy->dst.b->url, (unsigned long long)gone_snaps, (unsigned long long)snaps,
                       (unsigned long long)gone_bytes, (unsigned long long)bytes, max);
    return CAIRN_OK;
}

static cairn_err sync_run(job *sy)
{
    static const int send_order[] = {STORE_OBJ_KEY, STORE_OBJ_CONFIG, STORE_OBJ_PACK,
                                     STORE_OBJ_CHAIN, STORE_OBJ_SNAPSHOT};
    static const int delete_order[] = {STORE_OBJ_SNAPSHOT, STORE_OBJ_CHAIN, STORE_OBJ_PACK,
                                       STORE_OBJ_KEY};
    cairn_err rc = list_side(&sy->src, &sy->s);
    if (!rc)
        rc = list_side(&sy->dst, &sy->d);
    if (!rc)
        rc = preflight(sy);
    /* an unmounted or emptied packs folder must not be mirrored as deletions */
    if (!rc && count_kind(&sy->s, STORE_OBJ_SNAPSHOT) > 0 &&
        count_kind(&sy->s, STORE_OBJ_PACK) == 0)
        rc = err_set(CAIRN_ECORRUPT,
                     "%s lists snapshots but no packs; refusing to copy (run 'cairn check')",
                     sy->fetch ? sy->src.b->url : sy->src.root);
    if (!rc)
        rc = deletion_cap(sy);
    /* the totals of what is to be sent, for progress */
    sy->prog = (work_progress){.phase = sy->fetch ? "fetch" : "copy", .unit = "objects"};
    for (size_t i = 0; !rc && i < sy->s.n; i++) {
        const obj *const o = &sy->s.v[i];
        const obj *const d = find(&sy->d, o->name);
        if ((o->kind == STORE_OBJ_PACK && sy->no_packs) || !selected(sy, o) ||
            (d && d->size == o->size && !sy->refetch))
            continue;
        sy->prog.files_total++;
        sy->prog.bytes_total += o->size;
    }
    if (!rc && sy->opts)
        work_report(sy->opts->hooks, &sy->prog);
    for (size_t i = 0; !rc && i < sizeof send_order / sizeof send_order[0]; i++)
        rc = send_kind(sy, send_order[i]);
    for (size_t i = 0; !rc && !sy->append_only && i < sizeof delete_order / sizeof delete_order[0];
         i++)
        rc = delete_kind(sy, delete_order[i]);
    if (!rc)
        rc = record_held(sy);
    return rc;
}

/* ---- --snapshots: the packs some snapshots need ---- */

typedef struct need {
    store *s;
    idset packs;
} need;

static cairn_err need_chunks(need *n, const uint8_t (*ids)[ID_LEN], uint32_t count)
{
    uint8_t pack[PACK_ID_LEN];
    pack_entry e;
    int added;
    for (uint32_t i = 0; i < count; i++) {
        cairn_err rc = store_locate(n->s, ids[i], pack, &e);
        if (!rc)
            rc = idset_add(&n->packs, pack, &added);
        if (rc)
            return rc;
    }
    return CAIRN_OK;
}

static cairn_err need_tree_chunks(void *ctx, const char *path, const uint8_t (*ids)[ID_LEN],
                                  uint32_t count, int *damaged)
{
    (void)path;
    (void)damaged;
    return need_chunks(ctx, ids, count);
}

static cairn_err need_file(void *ctx, const char *path, tree_node *node, int *damaged)
{
    (void)path;
    (void)damaged;
    return need_chunks(ctx, (const uint8_t(*)[ID_LEN])node->chunks, node->nchunks);
}

static cairn_err need_catalog(void *ctx, const snapshot *sn, int *damaged)
{
    (void)damaged;
    return need_chunks(ctx, (const uint8_t(*)[ID_LEN])sn->catalog, sn->ncatalog);
}

/* Anything unreadable stops the copy: the packs it needs are unknown. */
static const tree_walk_ops need_walk = {
    .on_tree_chunks = need_tree_chunks,
    .on_file = need_file,
    .on_catalog = need_catalog,
};

static cairn_err needed_packs(store *s, const copy_opts *o, idset *packs, idset *snaps)
{
    snaplist l = {NULL, 0, 0};
    store_worker *w = NULL;
    tree_walk *walker = NULL;
    need n;
    int added, damaged;
    memset(&n, 0, sizeof n);
    n.s = s;
    idset_init(&n.packs);
    cairn_err rc = store_worker_new(s, &w);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = tree_walk_new(s, w, &need_walk, &n, 0, &walker);
    for (size_t k = 0; !rc && k < o->nonly; k++) {
        const snapshot *sn = NULL;
        for (size_t i = 0; i < l.count && !sn; i++)
            if (memcmp(l.items[i].id, o->only[k], ID_LEN) == 0)
                sn = &l.items[i];
        if (!sn) {
            char hex[HEX_ID + 1];
            fs_hex(o->only[k], ID_LEN, hex);
            rc =
                err_set(CAIRN_ENOTFOUND, "snapshot %.8s: no such snapshot (or it is damaged)", hex);
            break;
        }
        rc = idset_add(snaps, sn->id, &added);
        if (!rc)
            rc = tree_walk_snapshot(walker, sn, &damaged, NULL, NULL);
    }
    if (!rc) {
        *packs = n.packs;
        idset_init(&n.packs);
    }
    idset_free(&n.packs);
    tree_walk_free(walker);
    snaplist_free(&l);
    store_worker_free(w);
    return rc;
}

/* ---- the two directions ---- */

void copy_result_free(copy_result *r)
{
    free(r->held);
    r->held = NULL;
    r->nheld = 0;
}

cairn_err copy_push(store *s, backend *dst, const copy_opts *opts, copy_result *r)
{
    backend *local = NULL;
    idset packs, snaps;
    char root[PATH_MAX];
    job sy;
    memset(r, 0, sizeof *r);
    memset(&sy, 0, sizeof sy);
    idset_init(&packs);
    idset_init(&snaps);
    cairn_err rc = CAIRN_OK;
    if (opts && opts->only) {
        rc = needed_packs(s, opts, &packs, &snaps);
        sy.only_packs = &packs;
        sy.only_snaps = &snaps;
    }
    if (!rc && !realpath(store_path(s), root))
        rc = err_errno(errno, store_path(s));
    if (!rc)
        rc = backend_dir_open(root, &local);
    if (!rc) {
        sy.src = (side){local, root};
        sy.dst = (side){dst, NULL};
        sy.opts = opts;
        sy.append_only = opts && opts->append_only;
        sy.r = r;
        rc = sync_run(&sy);
    }
    objlist_free(&sy.s);
    objlist_free(&sy.d);
    backend_close(local);
    idset_free(&packs);
    idset_free(&snaps);
    if (rc)
        copy_result_free(r);
    return rc;
}

cairn_err copy_fetch(backend *src, const char *mirror, const copy_opts *opts, copy_result *r)
{
    backend *local = NULL;
    job sy;
    memset(r, 0, sizeof *r);
    memset(&sy, 0, sizeof sy);
    /* a cache: its parents may be created (unlike a target's) */
    cairn_err rc = fs_mkdirs(mirror, 0700);
    if (!rc)
        rc = backend_dir_open(mirror, &local);
    if (!rc) {
        sy.src = (side){src, NULL};
        sy.dst = (side){local, mirror};
        sy.opts = opts;
        sy.fetch = 1;
        sy.refetch = opts && opts->refetch;
        sy.no_packs = opts && opts->no_packs;
        sy.r = r;
        rc = sync_run(&sy);
    }
    objlist_free(&sy.s);
    objlist_free(&sy.d);
    backend_close(local);
    if (rc)
        copy_result_free(r);
    return rc;
}

/* ---- local helpers ---- */

static cairn_err cache_base(char *out, size_t cap)
{
    const char *const xdg = getenv("XDG_CACHE_HOME");
    const char *const home = getenv("HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(out, cap, "%s/cairn/targets", xdg);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.cache/cairn/targets", home);
    else
        return err_set(CAIRN_EINVAL, "no cache folder for target mirrors (set XDG_CACHE_HOME)");
    return n < 0 || (size_t)n >= cap ? err_set(CAIRN_EINVAL, "cache path too long") : CAIRN_OK;
}

cairn_err copy_mirror_dir(const char *url, char *out, size_t cap)
{
    uint8_t h[16];
    char hex[33], base[PATH_MAX];
    cairn_err rc = cache_base(base, sizeof base);
    if (rc)
        return rc;
    crypto_generichash(h, sizeof h, (const uint8_t *)url, strlen(url), NULL, 0);
    fs_hex(h, sizeof h, hex);
    if (snprintf(out, cap, "%s/%s", base, hex) >= (int)cap)
        return err_set(CAIRN_EINVAL, "cache path too long");
    return CAIRN_OK;
}

cairn_err copy_lock(const char *url, int *fd)
{
    char dir[PATH_MAX], path[PATH_MAX + 8];
    *fd = -1;
    cairn_err rc = copy_mirror_dir(url, dir, sizeof dir);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s.lock", dir);
    *strrchr(dir, '/') = '\0';
    rc = fs_mkdirs(dir, 0700);
    if (rc)
        return rc;
    const int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0)
        return err_errno(errno, path);
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        close(f);
        if (e == EWOULDBLOCK)
            return err_set(CAIRN_ELOCKED,
                           "%s: another cairn is copying to or from this target; try again when "
                           "it has finished",
                           url);
        return err_errno(e, path);
    }
    *fd = f;
    return CAIRN_OK;
}

void copy_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

cairn_err copy_store_snapshots(const char *store_dir, uint8_t (**ids)[SNAPSHOT_ID_LEN],
                               size_t *count)
{
    struct dirent *de;
    uint8_t(*v)[SNAPSHOT_ID_LEN] = NULL;
    size_t n = 0, cap = 0;
    *ids = NULL;
    *count = 0;
    char *const dir = fs_join(store_dir, STORE_DIR_SNAPSHOTS);
    if (!dir)
        return err_set(CAIRN_ENOMEM, "out of memory");
    DIR *const d = opendir(dir);
    if (!d) {
        const cairn_err rc = errno == ENOENT ? CAIRN_OK : err_errno(errno, dir);
        free(dir);
        return rc;
    }
    free(dir);
    while ((de = readdir(d)) != NULL) {
        char name[STORE_NAME_MAX + sizeof de->d_name];
        uint8_t id[ID_LEN];
        snprintf(name, sizeof name, "%s%s", store_name_prefix(STORE_OBJ_SNAPSHOT), de->d_name);
        if (store_name_parse(name, id) != STORE_OBJ_SNAPSHOT)
            continue;
        if (util_grow(&v, &cap, n + 1, sizeof *v) != CAIRN_OK) {
            free(v);
            closedir(d);
            return CAIRN_ENOMEM;
        }
        memcpy(v[n++], id, SNAPSHOT_ID_LEN);
    }
    closedir(d);
    *ids = v;
    *count = n;
    return CAIRN_OK;
}

/* Keeps the first failure's message: a backend's close may set its own. */
static cairn_err keep_message(cairn_err rc, char *msg, size_t cap)
{
    if (rc)
        snprintf(msg, cap, "%s", *err_msg() ? err_msg() : err_name(rc));
    return rc;
}

cairn_err copy_to_url(store *s, const char *url, const copy_opts *opts, copy_result *r)
{
    backend *b = NULL;
    int lock = -1;
    char msg[ERR_MSG_MAX];
    cairn_err rc = copy_lock(url, &lock);
    const unsigned limit = opts ? opts->wait_seconds : 0;
    const time_t start = time(NULL);
    if (rc == CAIRN_ELOCKED && limit && opts->waiting)
        opts->waiting(opts->waiting_ctx, url);
    /* polled, so that the wait has an end */
    while (rc == CAIRN_ELOCKED && limit && time(NULL) - start < (time_t)limit) {
        const struct timespec tick = {0, 200 * 1000 * 1000};
        nanosleep(&tick, NULL);
        rc = copy_lock(url, &lock);
    }
    if (rc == CAIRN_ELOCKED && limit)
        rc = err_set(CAIRN_ELOCKED,
                     "%s: another cairn is still copying to or from this target after waiting "
                     "%us",
                     url, limit);
    if (!rc)
        rc = backend_open(url, &b);
    /* under the lock no upload of ours runs: our leftovers can go (not
     * from an append-only target: nothing there is removed) */
    if (!rc && !(opts && opts->append_only))
        rc = backend_clean_parts(b);
    if (!rc)
        rc = copy_push(s, b, opts, r);
    keep_message(rc, msg, sizeof msg);
    backend_close(b);
    copy_unlock(lock);
    return rc ? err_set(rc, "%s", msg) : CAIRN_OK;
}

static const char *folder_of_url(const char *url)
{
    if (strncmp(url, "file://", 7) == 0)
        return url + 7;
    return url[0] == '/' ? url : NULL;
}

cairn_err copy_target_folder(const char *url, const copy_opts *opts, char *out, size_t cap,
                             int *fetched, copy_result *r)
{
    const char *const folder = folder_of_url(url);
    backend *b = NULL;
    int lock = -1;
    char msg[ERR_MSG_MAX];
    *fetched = 0;
    if (folder) {
        if (snprintf(out, cap, "%s", folder) >= (int)cap)
            return err_set(CAIRN_EINVAL, "%s: path too long", folder);
        return CAIRN_OK;
    }
    cairn_err rc = copy_mirror_dir(url, out, cap);
    if (!rc)
        rc = copy_lock(url, &lock);
    if (!rc)
        rc = backend_open(url, &b);
    if (!rc)
        rc = copy_fetch(b, out, opts, r);
    keep_message(rc, msg, sizeof msg);
    backend_close(b);
    copy_unlock(lock);
    if (rc)
        return err_set(rc, "%s", msg);
    *fetched = 1;
    return CAIRN_OK;
}

/* ---- the cache of a network target's packs ---- */

typedef struct cached {
    char *path;
    uint64_t size;
    struct timespec used; /* mtime: set when fetched and at every use */
} cached;

typedef struct cache_list {
    cached *v;
    size_t n, cap;
    uint64_t total;
} cache_list;

static void cache_list_free(cache_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Every pack file in root/packs/xx/. */
static cairn_err cache_scan(const char *root, cache_list *l)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/" STORE_DIR_PACKS, root);
    DIR *const top = opendir(dir);
    if (!top)
        return errno == ENOENT ? CAIRN_OK : err_errno(errno, dir);
    cairn_err rc = CAIRN_OK;
    struct dirent *de;
    while (!rc && (de = readdir(top)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) >= (int)sizeof sub)
            continue;
        DIR *const d = opendir(sub);
        if (!d)
            continue;
        struct dirent *fe;
        while (!rc && (fe = readdir(d)) != NULL) {
            char path[PATH_MAX];
            struct stat st;
            if (fe->d_name[0] == '.' ||
                snprintf(path, sizeof path, "%s/%s", sub, fe->d_name) >= (int)sizeof path ||
                stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            rc = util_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v);
            if (rc)
                break;
            l->v[l->n].path = strdup(path);
            if (!l->v[l->n].path) {
                rc = err_set(CAIRN_ENOMEM, "out of memory");
                break;
            }
            l->v[l->n].size = (uint64_t)st.st_size;
            l->v[l->n].used = st.st_mtim;
            l->total += (uint64_t)st.st_size;
            l->n++;
        }
        closedir(d);
    }
    closedir(top);
    return rc;
}

static int by_use(const void *a, const void *b)
{
    const struct timespec *const x = &((const cached *)a)->used;
    const struct timespec *const y = &((const cached *)b)->used;
    if (x->tv_sec != y->tv_sec)
        return x->tv_sec < y->tv_sec ? -1 : 1;
    return x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec;
}

/* Removes the least recently used packs of root until they fit in max,
 * never keep (the pack being read); *left gets what stays. */
static cairn_err cache_evict(const char *root, uint64_t max, const char *keep, uint64_t *left)
{
    cache_list l;
    memset(&l, 0, sizeof l);
    cairn_err rc = cache_scan(root, &l);
    if (!rc && l.n)
        qsort(l.v, l.n, sizeof *l.v, by_use);
    for (size_t i = 0; !rc && i < l.n && l.total > max; i++) {
        if (keep && strcmp(l.v[i].path, keep) == 0)
            continue;
        if (unlink(l.v[i].path) != 0 && errno != ENOENT)
            rc = err_errno(errno, l.v[i].path);
        else
            l.total -= l.v[i].size;
    }
    if (left)
        *left = l.total;
    cache_list_free(&l);
    return rc;
}

struct copy_view {
    char *url;
    char dir[PATH_MAX];
    backend *b;
    int lock;
    uint64_t cache_max, cached;
    uint64_t objects; /* fetched whole: small objects and packs */
    store_pack_source src;
    int refetch; /* a pack is fetched again at its first use (check) */
    idset fresh; /* with refetch: the packs fetched since the view opened */
};

static cairn_err view_list_one(void *ctx, const char *name, uint64_t size)
{
    void **const a = ctx;
    uint8_t id[ID_LEN];
    if (store_name_parse(name, id) != STORE_OBJ_PACK)
        return CAIRN_OK;
    return ((store_source_pack_fn)a[0])(a[1], id, size);
}

static cairn_err view_list(void *ctx, store_source_pack_fn fn, void *fnctx)
{
    copy_view *const v = ctx;
    void *a[2] = {(void *)fn, fnctx};
    return backend_list(v->b, store_name_prefix(STORE_OBJ_PACK), view_list_one, a);
}

static cairn_err view_read(void *ctx, const uint8_t pack[PACK_ID_LEN], uint64_t off, size_t len,
                           uint8_t *buf)
{
    copy_view *const v = ctx;
    char name[STORE_NAME_MAX];
    store_name_pack(pack, name);
    return backend_get_range(v->b, name, off, len, buf);
}

static cairn_err view_ensure(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    copy_view *const v = ctx;
    char name[STORE_NAME_MAX], tmp[PATH_MAX], rhex[33];
    uint8_t rnd[16];
    store_name_pack(pack, name);
    /* a pack in the cache is the target's: its name is its content's hash,
     * and every blob read from it is verified anyway; a check reads what the
     * target holds now, so it fetches each pack again once */
    if (!v->refetch || idset_has(&v->fresh, pack)) {
        if (utimensat(AT_FDCWD, path, NULL, 0) == 0)
            return CAIRN_OK;
        if (errno != ENOENT)
            return err_errno(errno, path);
    }
    randombytes_buf(rnd, sizeof rnd);
    fs_hex(rnd, sizeof rnd, rhex);
    snprintf(tmp, sizeof tmp, "%s/" STORE_DIR_TMP "/%s.part", v->dir, rhex);
    char *const slash = strrchr(tmp, '/');
    *slash = '\0';
    cairn_err rc = fs_mkdirs(tmp, 0700);
    *slash = '/';
    if (!rc)
        rc = backend_get_file(v->b, name, tmp);
    if (!rc)
        rc = install(v->dir, tmp, name);
    if (!rc)
        v->objects++;
    if (!rc && v->refetch)
        rc = idset_add(&v->fresh, pack, &(int){0});
    if (rc) {
        unlink(tmp);
        return rc == CAIRN_ENOTFOUND
                   ? err_set(CAIRN_ECORRUPT, "%s: %s: pack is missing", v->url, name)
                   : rc;
    }
    return cache_evict(v->dir, v->cache_max, path, &v->cached);
}

cairn_err copy_view_open(const char *url, uint64_t cache_max, const copy_opts *opts,
                         copy_view **out, copy_result *r)
{
    copy_opts o = opts ? *opts : (copy_opts){0};
    char msg[ERR_MSG_MAX];
    *out = NULL;
    memset(r, 0, sizeof *r);
    copy_view *const v = calloc(1, sizeof *v);
    if (!v)
        return err_set(CAIRN_ENOMEM, "out of memory");
    v->lock = -1;
    v->cache_max = cache_max;
    v->refetch = o.refetch;
    idset_init(&v->fresh);
    v->url = strdup(url);
    cairn_err rc = v->url ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
    if (!rc)
        rc = copy_mirror_dir(url, v->dir, sizeof v->dir);
    if (!rc)
        rc = copy_lock(url, &v->lock);
    if (!rc)
        rc = backend_open(url, &v->b);
    o.no_packs = 1;
    if (!rc)
        rc = copy_fetch(v->b, v->dir, &o, r);
    if (!rc)
        rc = cache_evict(v->dir, v->cache_max, NULL, &v->cached);
    v->objects = r->objects;
    if (rc) {
        keep_message(rc, msg, sizeof msg);
        copy_view_close(v);
        return err_set(rc, "%s", msg);
    }
    v->src = (store_pack_source){view_list, view_read, view_ensure, v};
    *out = v;
    return CAIRN_OK;
}

cairn_err copy_view_store(copy_view *v, const char *password, size_t password_len, store **out)
{
    return store_open_remote(v->dir, password, password_len, &v->src, out);
}

const char *copy_view_folder(const copy_view *v)
{
    return v->dir;
}

uint64_t copy_view_bytes(const copy_view *v)
{
    return v->b ? v->b->bytes_received : 0;
}

uint64_t copy_view_objects(const copy_view *v)
{
    return v->objects;
}

uint64_t copy_view_cached(const copy_view *v)
{
    return v->cached;
}

void copy_view_close(copy_view *v)
{
    if (!v)
        return;
    backend_close(v->b);
    copy_unlock(v->lock);
    idset_free(&v->fresh);
    free(v->url);
    free(v);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

cairn_err copy_cache_remove(const char *url)
{
    char dir[PATH_MAX], lock[PATH_MAX + 8];
    int fd = -1;
    cairn_err rc = copy_mirror_dir(url, dir, sizeof dir);
    if (rc)
        return rc;
    /* not under a running restore, check or copy of this target */
    rc = copy_lock(url, &fd);
    if (rc)
        return rc;
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        rc = err_errno(errno, dir);
    snprintf(lock, sizeof lock, "%s.lock", dir);
    if (!rc && unlink(lock) != 0 && errno != ENOENT)
        rc = err_errno(errno, lock);
    copy_unlock(fd);
    return rc;
}
