#include "engine/core/restore.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/grow.h"
#include "engine/core/worker_pool.h"
#include "engine/core/tree.h"
#include "engine/core/tree_store.h"

/* Files are restored by a pool of threads, one file per task; directories
 * get their modes and mtimes last, deepest first, since writing into a
 * directory changes its mtime. */

typedef struct rs_file {
    char *path;
    tree_node node;      /* owns a copy of the chunk list */
    uint32_t prefetched; /* its first chunks the walker asked the kernel to read */
    uint64_t ahead;      /* their share of rs_ctx.queued_bytes */
    size_t dirlen;       /* path[0..dirlen) names its folder */
    struct rs_file *next;
} rs_file;

typedef struct rs_dir {
    char *path;
    uint32_t mode;
    int64_t mtime_sec;
    uint32_t mtime_nsec;
} rs_dir;

typedef struct rs_ctx {
    store *s;
    const restore_opts *opts;
    store_worker *main_worker;
    restore_result *res;

    pthread_mutex_t mu;
    pthread_cond_t has_work; /* workers wait: a file queued, or the walk done */
    pthread_cond_t has_room; /* the walker waits: the queue below its bound */
    rs_file *head, *tail;
    rs_file *working; /* taken by a worker and not yet done */
    int queued;
    uint64_t queued_bytes; /* prefetched file data in the queue */
    int walker_waits;
    int done_walking;
    cairn_err failed;
    char failed_msg[1024];

    rs_dir *dirs;
    size_t ndirs, capdirs;
    work_progress prog;   /* under mu */
    uint64_t cache_bytes; /* restore_opts.cache_bytes, or its default */
} rs_ctx;

/* The walker stays at most this far ahead of the workers, and asks the
 * kernel to read each file's first PREFETCH bytes from the packs as it
 * queues it: the disk then reads while the workers decode and write (a
 * store read from the disk otherwise stalls a worker on every pread).  The
 * workers read ahead within a file the same way.  The walker is woken
 * once the queue is half empty, not for every file (a context switch each). */
enum {
    MAX_QUEUED_FILES = 4096,
    QUEUE_AHEAD = 32 << 20,
    PREFETCH = 8 << 20,
};

/* How far down the queue a worker looks for a file in a folder no other
 * worker is writing in: creating and renaming a file lock its folder, and
 * ext4 holds that lock while it allocates the inode, so two workers in one
 * folder wait on each other (perf: most of a restore's sleeps). */
enum { PICK_WINDOW = 32 };

static int queue_full(const rs_ctx *c)
{
    return c->queued >= MAX_QUEUED_FILES || c->queued_bytes >= QUEUE_AHEAD;
}

static int queue_half_empty(const rs_ctx *c)
{
    return c->queued <= MAX_QUEUED_FILES / 2 && c->queued_bytes <= QUEUE_AHEAD / 2;
}

static void report(rs_ctx *c, const char *path, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    c->res->failed++;
    if (c->opts->warn)
        c->opts->warn(c->opts->warn_ctx, path, msg);
    pthread_mutex_unlock(&c->mu);
}

static void set_times(int dirfd, const char *path, int64_t sec, uint32_t nsec, int flags)
{
    const struct timespec ts[2] = {{sec, (long)nsec}, {sec, (long)nsec}};
    utimensat(dirfd, path, ts, flags);
}

/* Once a restore has written restore_opts.cache_bytes, large files are
 * written behind: each WRITE_BEHIND window goes to the disk as soon as it
 * is full and leaves the page cache once the next one is full, so that
 * restoring a whole phone does not push everything else out of the cache.
 * Before that, writing is left to the kernel's writeback, which a small
 * restore does not wait for (docs/DESIGN.md "Restore"). */
enum { WRITE_BEHIND = 8 << 20 };

/* Small chunks (SQLite pages) are gathered into writes of about this size:
 * a write per 16 KiB chunk cost a system call each and, with large folios,
 * small page-cache folios. */
enum { WRITE_BATCH = 1 << 20 };

typedef struct rs_out {
    int fd;
    const char *path;
    uint64_t off;    /* bytes written */
    uint64_t queued; /* bytes handed to writeback */
    int behind;      /* hand full windows to the disk (past the cache budget) */
} rs_out;

static cairn_err out_write(rs_out *o, const void *data, size_t len)
{
    const cairn_err rc = fs_write_all(o->fd, data, len, o->path);
    if (rc)
        return rc;
    o->off += len;
    while (o->behind && o->off - o->queued >= WRITE_BEHIND) {
        /* advice only: failures surface as write or close errors */
        sync_file_range(o->fd, (off_t)o->queued, WRITE_BEHIND, SYNC_FILE_RANGE_WRITE);
        if (o->queued >= WRITE_BEHIND) {
            const off_t prev = (off_t)(o->queued - WRITE_BEHIND);
            sync_file_range(o->fd, prev, WRITE_BEHIND,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER);
            posix_fadvise(o->fd, prev, WRITE_BEHIND, POSIX_FADV_DONTNEED);
        }
        o->queued += WRITE_BEHIND;
    }
    return CAIRN_OK;
}

/* The name a file is written under until it is whole: in its own folder
 * (so the rename is atomic), hidden, and derived from the final name, so
 * that running the restore again replaces what a killed one left. */
static cairn_err part_path(const char *path, char *out, size_t cap)
{
    const char *const slash = strrchr(path, '/');
    const size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *const name = path + dirlen;
    int n;
    if (strlen(name) + sizeof "." RESTORE_PART_SUFFIX <= NAME_MAX + 1) {
        n = snprintf(out, cap, "%.*s.%s" RESTORE_PART_SUFFIX, (int)dirlen, path, name);
    } else { /* too long with the suffix: a hash of the name (FNV-1a) */
        uint64_t h = 14695981039346656037ull;
        for (const unsigned char *p = (const unsigned char *)name; *p; p++)
            h = (h ^ *p) * 1099511628211ull;
        n = snprintf(out, cap, "%.*s.%016llx" RESTORE_PART_SUFFIX, (int)dirlen, path,
                     (unsigned long long)h);
    }
    if (n < 0 || (size_t)n >= cap)
        return err_set(CAIRN_EINVAL, "%s: path too long", path);
    return CAIRN_OK;
}

/* Gives the whole file at part its final name: replacing what is there
 * with overwrite, else failing (EEXIST) as O_EXCL did. */
static cairn_err install_part(const char *part, const char *path, int overwrite)
{
    if (overwrite)
        return rename(part, path) == 0 ? CAIRN_OK : err_errno(errno, path);
    if (renameat2(AT_FDCWD, part, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return CAIRN_OK;
    if (errno != EINVAL && errno != ENOSYS)
        return err_errno(errno, path);
    /* a file system without RENAME_NOREPLACE (some FUSE and network ones) */
    struct stat st;
    if (lstat(path, &st) == 0)
        return err_errno(EEXIST, path);
    return rename(part, path) == 0 ? CAIRN_OK : err_errno(errno, path);
}

/* restore_node, for a node whose first `prefetched` chunks were already
 * asked for (store_prefetch); check_exists 0 when the target folder was
 * empty at the start (a file there now is still refused, by the rename). */
static cairn_err restore_node_at(store *s, store_worker *w, const tree_node *n,
                                 const file_encrypter *encrypter, const char *path, int overwrite,
                                 int check_exists, uint32_t prefetched, uint32_t mode,
                                 int64_t mtime_sec, uint32_t mtime_nsec, int write_behind,
                                 cbuf *buf, uint64_t *written)
{
    char part[PATH_MAX];
    cairn_err rc = CAIRN_OK;
    void *enc = NULL;
    uint8_t *ct = NULL; /* ciphertext of one chunk */
    size_t ct_cap = 0, ct_len = 0;
    const int encrypt = encrypter && n->cipher;
    uint64_t plain = 0;
    *written = 0;
    rc = part_path(path, part, sizeof part);
    if (rc)
        return rc;
    if (!overwrite && check_exists) { /* fail before the work, as the O_EXCL open once did */
        struct stat st;
        if (lstat(path, &st) == 0)
            return err_errno(EEXIST, path);
    }
    if (encrypt && (rc = encrypter->open(encrypter->ctx, n, &enc)) != CAIRN_OK)
        return err_wrap(rc, path);
    /* a fresh file: never written through a link a killed run left, or
     * planted, under the temporary name (O_EXCL refuses anything there,
     * links too; only then is it removed, which spares the unlink's path
     * lookup for nearly every file) */
    int fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST) {
        unlink(part);
        fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    }
    if (fd < 0) {
        rc = err_errno(errno, path);
        if (enc)
            encrypter->close(enc);
        return rc;
    }
    rs_out out = {fd, path, 0, 0, write_behind};
    uint32_t ahead = prefetched, refill = prefetched / 2;
    cbuf_reset(buf);
    for (uint32_t i = 0; i < n->nchunks && !rc; i++) {
        if (i >= refill && ahead < n->nchunks) {
            ahead += store_prefetch(s, w, (const uint8_t(*)[ID_LEN])(n->chunks + ahead),
                                    n->nchunks - ahead, PREFETCH);
            refill = i + (ahead - i) / 2;
        }
        const size_t had = buf->len;
        rc = store_get_chunk_of(s, w, (const uint8_t(*)[ID_LEN])n->chunks, n->nchunks, i, buf);
        if (rc)
            break;
        plain += buf->len - had;
        if (encrypt) {
            if (buf->len + encrypter->block > ct_cap) {
                free(ct);
                ct_cap = buf->len + encrypter->block;
                if (!(ct = malloc(ct_cap))) {
                    rc = err_set(CAIRN_ENOMEM, "out of memory");
                    break;
                }
            }
            rc = encrypter->update(enc, buf->data, buf->len, ct, &ct_len);
            if (!rc)
                rc = out_write(&out, ct, ct_len);
            cbuf_reset(buf);
        } else if (buf->len >= WRITE_BATCH || i + 1 == n->nchunks) {
            rc = out_write(&out, buf->data, buf->len);
            cbuf_reset(buf);
        }
    }
    if (!rc && plain != n->size)
        rc = err_set(CAIRN_ECORRUPT, "%s: restored size differs from the recorded size", path);
    if (!rc && encrypt) {
        uint8_t last[FILE_CIPHER_BLOCK_MAX];
        rc = encrypter->final(enc, last, &ct_len);
        if (rc)
            rc = err_wrap(rc, path);
        else
            rc = out_write(&out, last, ct_len);
    }
    *written = encrypt ? tree_source_size(n) : plain;
    if (!rc && fchmod(fd, mode) != 0)
        rc = err_errno(errno, path);
    if (!rc) {
        const struct timespec ts[2] = {{mtime_sec, (long)mtime_nsec},
                                       {mtime_sec, (long)mtime_nsec}};
        if (futimens(fd, ts) != 0)
            rc = err_errno(errno, path);
    }
    if (close(fd) != 0 && !rc)
        rc = err_errno(errno, path);
    if (enc)
        encrypter->close(enc);
    free(ct);
    /* only a whole file gets its name: a restore that is killed or fails
     * leaves no truncated file looking whole (the old one, with overwrite,
     * stays until the new one replaces it) */
    if (!rc)
        rc = install_part(part, path, overwrite);
    if (rc)
        unlink(part);
    return rc;
}

cairn_err restore_node(store *s, store_worker *w, const tree_node *n,
                       const file_encrypter *encrypter, const char *path, int overwrite,
                       uint32_t mode, int64_t mtime_sec, uint32_t mtime_nsec, cbuf *buf,
                       uint64_t *written)
{
    return restore_node_at(s, w, n, encrypter, path, overwrite, 1, 0, mode, mtime_sec, mtime_nsec,
                           1, buf, written);
}

/* One file of a restore: damaged data fails this file only; running out of
 * memory or disk stops the restore. */
static cairn_err restore_file(rs_ctx *c, store_worker *w, cbuf *buf, const rs_file *f,
                              int write_behind)
{
    uint64_t written;
    const tree_node *const n = &f->node;
    /* without overwrite the target was empty (prepare_target): no file
     * can be there but one created meanwhile, which the rename refuses */
    const cairn_err rc = restore_node_at(c->s, w, n, c->opts->encrypter, f->path,
                                         c->opts->overwrite, 0, f->prefetched, n->mode,
                                         n->mtime_sec, n->mtime_nsec, write_behind, buf, &written);
    if (rc == CAIRN_ENOMEM || rc == CAIRN_ENOSPC)
        return rc;
    if (rc) {
        report(c, f->path, err_msg());
        return CAIRN_OK;
    }
    pthread_mutex_lock(&c->mu);
    c->res->files++;
    c->res->bytes += written;
    c->prog.files_done++;
    c->prog.bytes_done += written;
    work_report(c->opts->hooks, &c->prog);
    pthread_mutex_unlock(&c->mu);
    return CAIRN_OK;
}

static void file_free(rs_file *f)
{
    free(f->path);
    tree_node_free(&f->node);
    free(f);
}

static int same_dir(const rs_file *a, const rs_file *b)
{
    return a->dirlen == b->dirlen && memcmp(a->path, b->path, a->dirlen) == 0;
}

static int dir_busy(const rs_ctx *c, const rs_file *f)
{
    for (const rs_file *w = c->working; w; w = w->next)
        if (same_dir(w, f))
            return 1;
    return 0;
}

/* Under mu: takes the first queued file (within PICK_WINDOW) whose folder
 * no other worker writes in, else the first one, and lists it as working. */
static rs_file *take_file(rs_ctx *c)
{
    rs_file **at = &c->head, *prev = NULL;
    if (c->working) {
        rs_file *p = NULL;
        int n = 0;
        for (rs_file **q = &c->head; *q && n < PICK_WINDOW; p = *q, q = &(*q)->next, n++) {
            if (!dir_busy(c, *q)) {
                at = q;
                prev = p;
                break;
            }
        }
    }
    rs_file *const f = *at;
    if (!f)
        return NULL;
    *at = f->next;
    if (c->tail == f)
        c->tail = prev;
    f->next = c->working;
    c->working = f;
    return f;
}

static void file_done(rs_ctx *c, const rs_file *f)
{
    rs_file **q = &c->working;
    while (*q != f)
        q = &(*q)->next;
    *q = f->next;
}

static void worker_main(void *ctx, store_worker *w)
{
    rs_ctx *const c = ctx;
    cbuf buf;
    cbuf_init(&buf);
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->head && !c->done_walking)
            pthread_cond_wait(&c->has_work, &c->mu);
        rs_file *const f = take_file(c);
        if (f) {
            c->queued--;
            c->queued_bytes -= f->ahead;
            if (c->walker_waits && queue_half_empty(c)) {
                c->walker_waits = 0;
                pthread_cond_signal(&c->has_room);
            }
            assert(c->queued >= 0 && (c->queued == 0) == (c->head == NULL));
        }
        const int skip = c->failed != CAIRN_OK || work_stopped(c->opts->hooks);
        const int behind = f && c->prog.bytes_done + f->node.size > c->cache_bytes;
        pthread_mutex_unlock(&c->mu);
        if (!f)
            break;
        const cairn_err rc = skip ? CAIRN_OK : restore_file(c, w, &buf, f, behind);
        pthread_mutex_lock(&c->mu);
        file_done(c, f);
        if (rc && !c->failed) {
            c->failed = rc;
            snprintf(c->failed_msg, sizeof c->failed_msg, "%s", err_msg());
        }
        pthread_mutex_unlock(&c->mu);
        file_free(f);
    }
    cbuf_free(&buf);
}

static cairn_err queue_file(rs_ctx *c, const char *path, const tree_node *n)
{
    rs_file *const f = calloc(1, sizeof *f);
    if (!f)
        return err_set(CAIRN_ENOMEM, "out of memory");
    f->path = strdup(path);
    f->node = *n;
    f->node.name = NULL;
    f->node.target = NULL;
    if (tree_node_copy_chunks(&f->node, n) != CAIRN_OK || !f->path) {
        file_free(f);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    f->ahead = n->size < PREFETCH ? n->size : PREFETCH;
    const char *const slash = strrchr(path, '/');
    f->dirlen = slash ? (size_t)(slash - path) : 0;
    pthread_mutex_lock(&c->mu);
    while (queue_full(c)) {
        c->walker_waits = 1;
        pthread_cond_wait(&c->has_room, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    /* outside the lock: the workers go on meanwhile */
    f->prefetched = store_prefetch(c->s, c->main_worker, (const uint8_t(*)[ID_LEN])n->chunks,
                                   n->nchunks, PREFETCH);
    pthread_mutex_lock(&c->mu);
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
    c->queued++;
    c->queued_bytes += f->ahead;
    assert(c->queued <= MAX_QUEUED_FILES);
    pthread_cond_signal(&c->has_work);
    pthread_mutex_unlock(&c->mu);
    return CAIRN_OK;
}

static cairn_err remember_dir(rs_ctx *c, const char *path, const tree_node *n)
{
    const cairn_err rc = util_grow(&c->dirs, &c->capdirs, c->ndirs + 1, sizeof *c->dirs);
    if (rc)
        return rc;
    rs_dir *const d = &c->dirs[c->ndirs];
    d->path = strdup(path);
    if (!d->path)
        return err_set(CAIRN_ENOMEM, "out of memory");
    d->mode = n->mode;
    d->mtime_sec = n->mtime_sec;
    d->mtime_nsec = n->mtime_nsec;
    c->ndirs++;
    return CAIRN_OK;
}

/* With --overwrite, whatever stands where a folder belongs and is not a
 * folder (a file, or a symlink that would lead the restore elsewhere) goes. */
static void clear_non_dir(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
        unlink(path);
}

static cairn_err walk(rs_ctx *c, char *path, const uint8_t (*ids)[ID_LEN], uint32_t nids)
{
    tree t;
    cairn_err rc = treestore_load(c->s, c->main_worker, ids, nids, &t);
    if (rc) {
        report(c, path, err_msg());
        return CAIRN_OK;
    }
    const size_t base = strlen(path);
    for (size_t i = 0; i < t.count && !rc; i++) {
        const tree_node *const n = &t.nodes[i];
        if (work_stopped(c->opts->hooks)) {
            rc = err_set(CAIRN_EINTERRUPTED, "interrupted");
            break;
        }
        if (base + 1 + strlen(n->name) >= PATH_MAX) {
            report(c, path, "path too long");
            continue;
        }
        path[base] = '/';
        strcpy(path + base + 1, n->name);
        if (n->type == NODE_DIR) {
            if (c->opts->overwrite)
                clear_non_dir(path);
            if (mkdir(path, 0700) != 0 && !(errno == EEXIST && c->opts->overwrite)) {
                report(c, path, strerror(errno));
            } else {
                rc = remember_dir(c, path, n);
                if (!rc) {
                    c->res->dirs++;
                    rc = walk(c, path, (const uint8_t(*)[ID_LEN])n->chunks, n->nchunks);
                }
            }
        } else if (n->type == NODE_SYMLINK) {
            if (c->opts->overwrite)
                unlink(path);
            if (symlink(n->target, path) != 0)
                report(c, path, strerror(errno));
            else
                set_times(AT_FDCWD, path, n->mtime_sec, n->mtime_nsec, AT_SYMLINK_NOFOLLOW);
        } else {
            rc = queue_file(c, path, n);
        }
        path[base] = '\0';
    }
    tree_free(&t);
    return rc;
}

static cairn_err prepare_target(const restore_opts *o)
{
    struct stat st;
    if (stat(o->target, &st) != 0) {
        if (errno != ENOENT)
            return err_errno(errno, o->target);
        return fs_mkdirs(o->target, 0700);
    }
    if (!S_ISDIR(st.st_mode))
        return err_set(CAIRN_EEXIST, "%s: exists and is not a folder", o->target);
    if (o->overwrite)
        return CAIRN_OK;
    DIR *const d = opendir(o->target);
    struct dirent *de;
    int entries = 0;
    if (!d)
        return err_errno(errno, o->target);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            entries++;
    closedir(d);
    if (entries) {
        char marker[PATH_MAX + sizeof RESTORE_MARKER + 1];
        struct stat ms;
        snprintf(marker, sizeof marker, "%s/" RESTORE_MARKER, o->target);
        if (lstat(marker, &ms) == 0)
            return err_set(CAIRN_EEXIST,
                           "%s: holds an interrupted restore (" RESTORE_MARKER
                           "); run it again with --overwrite to finish it",
                           o->target);
        return err_set(CAIRN_EEXIST, "%s: folder is not empty (use --overwrite to restore into it)",
                       o->target);
    }
    return CAIRN_OK;
}

/* The note in the target that the restore is not finished: written before
 * the first file, removed once the run has ended. */
static cairn_err write_marker(const char *dir, const snapshot *snap)
{
    char id[2 * ID_LEN + 1], text[512];
    fs_hex(snap->id, ID_LEN, id);
    const int n = snprintf(text, sizeof text,
                           "cairn is restoring snapshot %s into this folder, or was stopped "
                           "before it finished:\nfiles may be missing. Run the restore again "
                           "with --overwrite to finish it; this file goes when it completes.\n",
                           id);
    return fs_write_atomic(dir, RESTORE_MARKER, text, (size_t)n, 0644);
}

cairn_err restore_run(store *s, const snapshot *snap, const restore_opts *opts,
                      restore_result *result)
{
    rs_ctx c;
    char path[PATH_MAX];
    pool *workers = NULL;
    cairn_err rc;
    memset(&c, 0, sizeof c);
    memset(result, 0, sizeof *result);
    c.s = s;
    c.opts = opts;
    c.res = result;
    c.cache_bytes = opts->cache_bytes;
    if (!c.cache_bytes) { /* where the kernel starts writing back by itself: 10 % */
        const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        c.cache_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 10 : 0;
    }
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.has_work, NULL);
    pthread_cond_init(&c.has_room, NULL);
    rc = prepare_target(opts);
    if (rc)
        goto done;
    if (!realpath(opts->target, path)) {
        rc = err_errno(errno, opts->target);
        goto done;
    }
    rc = write_marker(path, snap);
    if (rc)
        goto done;
    rc = store_worker_new(s, &c.main_worker);
    if (rc)
        goto done;
    rc = pool_start(s, opts->threads, worker_main, &c, &workers);
    if (rc)
        goto done;
    c.prog.phase = "restore";
    c.prog.files_total = snap->files;
    c.prog.bytes_total = snap->bytes;
    work_report(opts->hooks, &c.prog);
    rc = walk(&c, path, (const uint8_t(*)[ID_LEN])snap->tree, snap->ntree);
    pthread_mutex_lock(&c.mu);
    c.done_walking = 1;
    pthread_cond_broadcast(&c.has_work);
    pthread_mutex_unlock(&c.mu);
    pool_join(workers);
    if (!rc && work_stopped(opts->hooks))
        rc = err_set(CAIRN_EINTERRUPTED, "interrupted");
    if (!rc && c.failed)
        rc = err_set(c.failed, "%s", c.failed_msg);
    if (!rc) {
        /* the run has ended (files that failed were each reported): before
         * the root gets its mode, which may forbid writing to it */
        char marker[PATH_MAX + sizeof RESTORE_MARKER + 1];
        snprintf(marker, sizeof marker, "%s/" RESTORE_MARKER, path);
        if (unlink(marker) != 0 && errno != ENOENT)
            rc = err_errno(errno, marker);
    }
    if (!rc) {
        /* deepest first: children were recorded after their parents */
        for (size_t i = c.ndirs; i-- > 0;) {
            chmod(c.dirs[i].path, c.dirs[i].mode);
            set_times(AT_FDCWD, c.dirs[i].path, c.dirs[i].mtime_sec, c.dirs[i].mtime_nsec, 0);
        }
        const char *const mode = snapshot_get_meta(snap, SNAP_META_ROOT_MODE);
        const char *const mtime = snapshot_get_meta(snap, SNAP_META_ROOT_MTIME);
        if (mode)
            chmod(path, (mode_t)strtoul(mode, NULL, 8));
        if (mtime) {
            char *end;
            const long long sec = strtoll(mtime, &end, 10);
            const long nsec = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
            set_times(AT_FDCWD, path, sec, (uint32_t)nsec, 0);
        }
    }
    if (!rc && result->failed)
        rc = err_set(CAIRN_EPARTIAL, "%llu item(s) could not be restored",
                     (unsigned long long)result->failed);
done:
    while (c.head) {
        rs_file *const f = c.head;
        c.head = f->next;
        file_free(f);
    }
    for (size_t i = 0; i < c.ndirs; i++)
        free(c.dirs[i].path);
    free(c.dirs);
    store_worker_free(c.main_worker);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.has_work);
    pthread_cond_destroy(&c.has_room);
    return rc;
}
