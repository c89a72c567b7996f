/* mount.c - a store's snapshots as a read-only FUSE file system (mount.h).
 *
 * The folders above the snapshots (devices, their chains, the folder
 * snapshots) are built once, from the snapshot list, as a small tree of
 * vnodes sorted by name; a path is walked through it until it reaches a
 * snapshot, and the rest of the path goes to that snapshot's snapfiles,
 * opened on first use and kept until unmount (a device snapshot's catalog
 * is read once).  Every snapshot shares one chunk cache. */
#define FUSE_USE_VERSION 31
#include "mount/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/grow.h"
#include "engine/core/chains.h"
#include "engine/core/snapshot_files.h"
#include "engine/core/snapshot_list.h"

enum vkind { V_DIR, V_LINK, V_SNAP };

typedef struct vnode {
    char *name;
    int kind;
    char *target;       /* V_LINK */
    size_t snap;        /* V_SNAP: its index in the snapshot list */
    int64_t mtime;      /* the newest snapshot below */
    struct vnode *kids; /* V_DIR, sorted by name once built */
    size_t nkids, cap;
} vnode;

/* What fi->fh holds: an open snapshot file, or the README's text; linked
 * into the state's list, since files still open at unmount are never
 * released by libfuse. */
typedef struct open_file {
    snapfiles_file *h;
    const char *text;
    struct open_file *prev, *next;
} open_file;

typedef struct mount_state {
    store *s;
    const mount_opts *o;
    snaplist l;
    vnode root;
    snapfiles_cache *cache;
    pthread_mutex_t open_mu; /* guards files */
    snapfiles **files;       /* per snapshot, opened on first use */
    pthread_mutex_t list_mu; /* guards open */
    open_file *open;
    uid_t uid;
    gid_t gid;
} mount_state;

static const char README[] = "README";

/* ---- the folders above the snapshots ---- */

static void vnode_free(vnode *v)
{
    for (size_t i = 0; i < v->nkids; i++)
        vnode_free(&v->kids[i]);
    free(v->kids);
    free(v->name);
    free(v->target);
}

static vnode *vnode_find(const vnode *dir, const char *name, size_t len)
{
    for (size_t i = 0; i < dir->nkids; i++)
        if (strlen(dir->kids[i].name) == len && memcmp(dir->kids[i].name, name, len) == 0)
            return &dir->kids[i];
    return NULL;
}

/* The child folder name of dir, added if absent (NULL: out of memory).
 * Adding moves dir's other children: pointers to them are not kept. */
static vnode *vnode_child(vnode *dir, const char *name, int kind)
{
    vnode *const old = vnode_find(dir, name, strlen(name));
    if (old)
        return old;
    if (util_grow(&dir->kids, &dir->cap, dir->nkids + 1, sizeof *dir->kids))
        return NULL;
    vnode *const v = &dir->kids[dir->nkids];
    memset(v, 0, sizeof *v);
    if (!(v->name = strdup(name)))
        return NULL;
    v->kind = kind;
    dir->nkids++;
    return v;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const vnode *)a)->name, ((const vnode *)b)->name);
}

static void vnode_sort(vnode *v)
{
    if (v->nkids)
        qsort(v->kids, v->nkids, sizeof *v->kids, by_name);
    for (size_t i = 0; i < v->nkids; i++)
        vnode_sort(&v->kids[i]);
}

/* A name that is one path component: '/' becomes '_'; "", "." and ".."
 * become fallback. */
static void component(const char *name, const char *fallback, char *out, size_t cap)
{
    if (!name || !name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        name = fallback;
    snprintf(out, cap, "%s", name);
    for (char *p = out; *p; p++)
        if (*p == '/')
            *p = '_';
}

/* The folder name of a device: its name, with its UDID's start added when
 * another device in the store has the same name. */
static void device_folder(const snaplist *l, const char *udid, char *out, size_t cap)
{
    const char *name = NULL;
    for (size_t i = 0; i < l->count; i++)
        if (snapshot_udid_is(&l->items[i], udid) && snapshot_device_name(&l->items[i]))
            name = snapshot_device_name(&l->items[i]);
    for (size_t i = 0; name && i < l->count; i++) {
        const char *const other = snapshot_device_name(&l->items[i]);
        if (snapshot_is_device(&l->items[i]) && !snapshot_udid_is(&l->items[i], udid) && other &&
            strcmp(other, name) == 0) {
            char both[512];
            snprintf(both, sizeof both, "%s (%.8s)", name, udid);
            component(both, udid, out, cap);
            return;
        }
    }
    component(name, udid, out, cap);
}

/* Adds the snapshot i under dir as <date-time> (or <date-time>_<id>). */
static cairn_err add_snapshot(vnode *dir, const snaplist *l, size_t i, const char **added)
{
    const snapshot *const sn = &l->items[i];
    char name[64], id[9];
    struct tm tm;
    const time_t t = (time_t)sn->time_sec;
    localtime_r(&t, &tm);
    strftime(name, sizeof name, "%Y-%m-%d_%H-%M-%S", &tm);
    if (vnode_find(dir, name, strlen(name))) {
        snaplist_short_id(sn->id, id);
        const size_t len = strlen(name);
        snprintf(name + len, sizeof name - len, "_%s", id);
    }
    vnode *const v = vnode_child(dir, name, V_SNAP);
    if (!v)
        return err_set(CAIRN_ENOMEM, "out of memory");
    v->snap = i;
    v->mtime = sn->time_sec;
    if (dir->mtime < sn->time_sec)
        dir->mtime = sn->time_sec;
    *added = v->name;
    return CAIRN_OK;
}

static cairn_err build_tree(mount_state *m)
{
    chain_list chains = {NULL, 0};
    cairn_err rc = chains_load(m->s, &chains);
    vnode *devices, *folders;
    m->root.kind = V_DIR;
    if (!rc && (!(devices = vnode_child(&m->root, "devices", V_DIR)) ||
                !(folders = vnode_child(&m->root, "snapshots", V_DIR))))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    /* both exist now: the pointers stay valid (root gets no more children) */
    for (size_t i = 0; !rc && i < m->l.count; i++) {
        const snapshot *const sn = &m->l.items[i];
        const char *added;
        if (!snapshot_is_device(sn)) {
            char id[9];
            snaplist_short_id(sn->id, id);
            vnode *const v = vnode_child(folders, id, V_SNAP);
            if (!v) {
                rc = err_set(CAIRN_ENOMEM, "out of memory");
                break;
            }
            v->snap = i;
            v->mtime = folders->mtime = sn->time_sec;
            continue;
        }
        char dev_name[300];
        device_folder(&m->l, snapshot_udid(sn), dev_name, sizeof dev_name);
        vnode *const dev = vnode_child(devices, dev_name, V_DIR);
        if (!dev) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
            break;
        }
        devices->mtime = dev->mtime = sn->time_sec;
        if (chains_is_archived(&chains, sn->chain)) {
            const char *const slash = strchr(sn->chain, '/');
            char chain_name[256];
            component(slash ? slash + 1 : sn->chain, "chain", chain_name, sizeof chain_name);
            vnode *const arch = vnode_child(dev, "archived", V_DIR);
            vnode *const ch = arch ? vnode_child(arch, chain_name, V_DIR) : NULL;
            if (arch)
                arch->mtime = sn->time_sec;
            rc = ch ? add_snapshot(ch, &m->l, i, &added) : err_set(CAIRN_ENOMEM, "out of memory");
            continue;
        }
        rc = add_snapshot(dev, &m->l, i, &added);
        if (rc)
            break;
        /* oldest first: the last one seen is the newest */
        vnode *const latest = vnode_child(dev, "latest", V_LINK);
        if (!latest) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
            break;
        }
        free(latest->target);
        if (!(latest->target = strdup(added)))
            rc = err_set(CAIRN_ENOMEM, "out of memory");
        latest->mtime = sn->time_sec;
    }
    chains_free(&chains);
    if (!rc) {
        m->root.mtime = m->l.count ? m->l.items[m->l.count - 1].time_sec : 0;
        vnode_sort(&m->root);
    }
    return rc;
}

/* ---- paths ---- */

/* Walks path through the vnodes: *v is where it ends or the snapshot it
 * enters, *rest (without a leading '/') what is left inside that snapshot. */
static int resolve(const mount_state *m, const char *path, const vnode **v, const char **rest)
{
    const vnode *cur = &m->root;
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p && cur->kind == V_DIR) {
        const char *const end = strchrnul(p, '/');
        const vnode key = {.name = strndup(p, (size_t)(end - p))};
        if (!key.name)
            return -ENOMEM;
        const vnode *const kid =
            cur->nkids ? bsearch(&key, cur->kids, cur->nkids, sizeof *cur->kids, by_name) : NULL;
        free(key.name);
        if (!kid)
            return -ENOENT;
        cur = kid;
        p = end;
        while (*p == '/')
            p++;
    }
    if (*p && cur->kind != V_SNAP)
        return -ENOTDIR;
    *v = cur;
    *rest = p;
    return 0;
}

static int errno_of(cairn_err rc)
{
    switch (rc) {
    case CAIRN_OK:
        return 0;
    case CAIRN_ENOTFOUND:
        return -ENOENT;
    case CAIRN_ENOMEM:
        return -ENOMEM;
    case CAIRN_EINVAL:
        return -EINVAL;
    default:
        return -EIO;
    }
}

static mount_state *state(void)
{
    return fuse_get_context()->private_data;
}

/* The snapfiles of snapshot i, opened on first use: outside the lock, so
 * that a catalog loading holds up no other snapshot (two threads may both
 * open it; the first to finish is kept). */
static cairn_err files_of(mount_state *m, size_t i, snapfiles **out)
{
    snapfiles *f;
    pthread_mutex_lock(&m->open_mu);
    *out = m->files[i];
    pthread_mutex_unlock(&m->open_mu);
    if (*out)
        return CAIRN_OK;
    const cairn_err rc = snapfiles_open(m->cache, &m->l.items[i], &f);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->open_mu);
    if (!m->files[i])
        m->files[i] = f;
    else
        snapfiles_close(f);
    *out = m->files[i];
    pthread_mutex_unlock(&m->open_mu);
    return CAIRN_OK;
}

static void warn(const mount_state *m, const char *path)
{
    if (m->o->warn)
        m->o->warn(m->o->ctx, path, err_msg());
}

/* The snapfiles of the snapshot v, for the FUSE call on path: 0, or the
 * negative errno to answer (a snapshot that does not open is warned of). */
static int snap_of(mount_state *m, const vnode *v, const char *path, snapfiles **f)
{
    const cairn_err rc = files_of(m, v->snap, f);
    if (rc)
        warn(m, path);
    return errno_of(rc);
}

static void fill_stat(const mount_state *m, struct stat *st, int type, uint32_t mode, uint64_t size,
                      int64_t sec, uint32_t nsec)
{
    memset(st, 0, sizeof *st);
    st->st_mode = (mode_t)((type == SNAPFILES_DIR       ? S_IFDIR
                            : type == SNAPFILES_SYMLINK ? S_IFLNK
                                                        : S_IFREG) |
                           (mode & 07777));
    st->st_nlink = type == SNAPFILES_DIR ? 2 : 1;
    st->st_size = (off_t)size;
    st->st_blocks = (blkcnt_t)((size + 511) / 512);
    st->st_blksize = 4096;
    st->st_uid = m->uid;
    st->st_gid = m->gid;
    st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = (time_t)sec;
    st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = st->st_atim.tv_nsec = (long)nsec;
}

/* ---- the file system operations ---- */

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    mount_state *const m = state();
    const vnode *v;
    const char *rest;
    snapfiles *f;
    snapfiles_stat s;
    int e = resolve(m, path, &v, &rest);
    if (e)
        return e;
    if (v->kind == V_DIR || (v->kind == V_SNAP && !*rest)) {
        /* a snapshot's root without opening it (ls -l of a device's folder) */
        fill_stat(m, st, SNAPFILES_DIR, 0555, 0, v->mtime, 0);
        return 0;
    }
    if (v->kind == V_LINK) {
        fill_stat(m, st, SNAPFILES_SYMLINK, 0777, strlen(v->target), v->mtime, 0);
        return 0;
    }
    if ((e = snap_of(m, v, path, &f)))
        return e;
    if (snapfiles_ciphertext(f)) {
        if (strcmp(rest, README) != 0)
            return -ENOENT;
        fill_stat(m, st, SNAPFILES_FILE, 0444, strlen(snapfiles_ciphertext_note()), v->mtime, 0);
        return 0;
    }
    const cairn_err rc = snapfiles_stat_path(f, rest, &s);
    if (rc && rc != CAIRN_ENOTFOUND)
        warn(m, path); /* a tree that cannot be read */
    if (rc)
        return errno_of(rc);
    fill_stat(m, st, s.type, s.mode, s.size, s.mtime_sec, s.mtime_nsec);
    return 0;
}

static int op_readlink(const char *path, char *buf, size_t size)
{
    mount_state *const m = state();
    const vnode *v;
    const char *rest;
    snapfiles *f;
    char *target = NULL;
    int e = resolve(m, path, &v, &rest);
    if (e)
        return e;
    if (size == 0)
        return -EINVAL;
    if (v->kind == V_LINK) {
        snprintf(buf, size, "%s", v->target);
        return 0;
    }
    if (v->kind != V_SNAP || !*rest)
        return -EINVAL;
    cairn_err rc = files_of(m, v->snap, &f);
    if (!rc)
        rc = snapfiles_readlink(f, rest, &target);
    if (rc)
        return errno_of(rc);
    snprintf(buf, size, "%s", target);
    free(target);
    return 0;
}

typedef struct fill_ctx {
    const mount_state *m;
    void *buf;
    fuse_fill_dir_t filler;
    int plus; /* the kernel takes attributes with the names (readdirplus) */
} fill_ctx;

static cairn_err fill_one(void *ctx, const char *name, const snapfiles_stat *st)
{
    const fill_ctx *const fc = ctx;
    struct stat sb;
    /* with the attributes, ls -l and find need no lookup per name */
    if (fc->plus)
        fill_stat(fc->m, &sb, st->type, st->mode, st->size, st->mtime_sec, st->mtime_nsec);
    return fc->filler(fc->buf, name, fc->plus ? &sb : NULL, 0, fc->plus ? FUSE_FILL_DIR_PLUS : 0)
               ? CAIRN_ENOMEM
               : CAIRN_OK;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off;
    (void)fi;
    mount_state *const m = state();
    const vnode *v;
    const char *rest;
    snapfiles *f;
    int e = resolve(m, path, &v, &rest);
    if (e)
        return e;
    if (v->kind == V_LINK)
        return -ENOTDIR;
    filler(buf, ".", NULL, 0, 0);
    filler(buf, "..", NULL, 0, 0);
    if (v->kind == V_DIR) {
        for (size_t i = 0; i < v->nkids; i++)
            if (filler(buf, v->kids[i].name, NULL, 0, 0))
                break;
        return 0;
    }
    if ((e = snap_of(m, v, path, &f)))
        return e;
    if (snapfiles_ciphertext(f)) {
        if (*rest)
            return -ENOENT;
        filler(buf, README, NULL, 0, 0);
        return 0;
    }
    fill_ctx fc = {m, buf, filler, (flags & FUSE_READDIR_PLUS) != 0};
    const cairn_err rc = snapfiles_list(f, rest, fill_one, &fc);
    if (rc == CAIRN_EINVAL)
        return -ENOTDIR;
    return rc == CAIRN_ENOMEM ? 0 : errno_of(rc); /* ENOMEM here: the reply is full */
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
    mount_state *const m = state();
    const vnode *v;
    const char *rest;
    snapfiles *f;
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EROFS;
    int e = resolve(m, path, &v, &rest);
    if (e)
        return e;
    if (v->kind != V_SNAP || !*rest)
        return -EISDIR;
    open_file *const of = calloc(1, sizeof *of);
    if (!of)
        return -ENOMEM;
    cairn_err rc = files_of(m, v->snap, &f);
    if (!rc && snapfiles_ciphertext(f)) {
        if (strcmp(rest, README) == 0)
            of->text = snapfiles_ciphertext_note();
        else
            rc = err_set(CAIRN_ENOTFOUND, "%s: no such file", rest);
    } else if (!rc) {
        rc = snapfiles_file_open(f, rest, &of->h);
    }
    if (rc) {
        free(of);
        if (rc != CAIRN_ENOTFOUND && rc != CAIRN_EINVAL)
            warn(m, path);
        return rc == CAIRN_EINVAL ? -EISDIR : errno_of(rc);
    }
    pthread_mutex_lock(&m->list_mu);
    of->next = m->open;
    if (m->open)
        m->open->prev = of;
    m->open = of;
    pthread_mutex_unlock(&m->list_mu);
    fi->fh = (uint64_t)(uintptr_t)of;
    fi->keep_cache = 1; /* a snapshot never changes */
    return 0;
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    const open_file *const of = (const open_file *)(uintptr_t)fi->fh;
    size_t got = 0;
    if (off < 0)
        return -EINVAL;
    if (of->text) {
        const size_t len = strlen(of->text);
        if ((uint64_t)off >= len)
            return 0;
        got = len - (size_t)off < size ? len - (size_t)off : size;
        memcpy(buf, of->text + off, got);
        return (int)got;
    }
    const cairn_err rc = snapfiles_read(of->h, (uint64_t)off, buf, size, &got);
    if (rc) {
        warn(state(), path);
        return -EIO;
    }
    return (int)got;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    mount_state *const m = state();
    open_file *const of = (open_file *)(uintptr_t)fi->fh;
    pthread_mutex_lock(&m->list_mu);
    if (of->prev)
        of->prev->next = of->next;
    else
        m->open = of->next;
    if (of->next)
        of->next->prev = of->prev;
    pthread_mutex_unlock(&m->list_mu);
    snapfiles_file_close(of->h);
    free(of);
    return 0;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    /* nothing ever changes: the kernel may keep names, attributes and pages */
    cfg->kernel_cache = 1;
    cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 3600;
    return fuse_get_context()->private_data;
}

static const struct fuse_operations ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .release = op_release,
};

/* ---- running ---- */

cairn_err mount_run(store *s, const mount_opts *o)
{
    mount_state m;
    struct stat dst;
    struct fuse *fs = NULL;
    int mounted = 0, handlers = 0;
    char *argv[] = {(char *)"cairn", (char *)"-o",
                    (char *)"ro,default_permissions,fsname=cairn,subtype=cairn", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    memset(&m, 0, sizeof m);
    m.s = s;
    m.o = o;
    m.uid = getuid();
    m.gid = getgid();
    pthread_mutex_init(&m.open_mu, NULL);
    pthread_mutex_init(&m.list_mu, NULL);
    cairn_err rc = CAIRN_OK;
    if (stat(o->dir, &dst) != 0 || !S_ISDIR(dst.st_mode)) {
        rc = err_set(CAIRN_ENOTFOUND, "%s: not a folder", o->dir);
        goto done;
    }
    if ((rc = snaplist_load(s, &m.l)) || (rc = build_tree(&m)) ||
        (rc = snapfiles_cache_new(s, o->cache_bytes, &m.cache)))
        goto done;
    if (!(m.files = calloc(m.l.count ? m.l.count : 1, sizeof *m.files))) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto done;
    }
    if (access("/dev/fuse", R_OK | W_OK) != 0) {
        rc = err_set(CAIRN_EIO, "%s: FUSE cannot mount here: /dev/fuse: %s", o->dir,
                     strerror(errno));
        goto done;
    }
    if (!(fs = fuse_new(&args, &ops, sizeof ops, &m))) {
        rc = err_set(CAIRN_EIO, "%s: FUSE cannot mount here (fuse_new failed)", o->dir);
        goto done;
    }
    if (fuse_mount(fs, o->dir) != 0) {
        rc = err_set(CAIRN_EIO, "%s: FUSE cannot mount here (is it empty and yours?)", o->dir);
        goto done;
    }
    mounted = 1;
    if (fuse_set_signal_handlers(fuse_get_session(fs)) != 0) {
        rc = err_set(CAIRN_EIO, "%s: cannot catch signals to unmount cleanly", o->dir);
        goto done;
    }
    handlers = 1;
    if (o->ready)
        o->ready(o->ctx, o->dir);
    if (fuse_loop_mt(fs, 0) < 0)
        rc = err_set(CAIRN_EIO, "%s: the FUSE session failed", o->dir);
done:
    if (handlers)
        fuse_remove_signal_handlers(fuse_get_session(fs));
    if (mounted)
        fuse_unmount(fs);
    if (fs)
        fuse_destroy(fs);
    fuse_opt_free_args(&args);
    for (open_file *of = m.open, *next; of; of = next) {
        next = of->next;
        snapfiles_file_close(of->h);
        free(of);
    }
    for (size_t i = 0; m.files && i < m.l.count; i++)
        snapfiles_close(m.files[i]);
    free(m.files);
    snapfiles_cache_free(m.cache);
    vnode_free(&m.root);
    snaplist_free(&m.l);
    pthread_mutex_destroy(&m.open_mu);
    pthread_mutex_destroy(&m.list_mu);
    return rc;
}

static const mount_module_ops mount_ops = {mount_run};
CAIRN_MODULE_DEFINE(mount_module, "mount", &mount_ops);
