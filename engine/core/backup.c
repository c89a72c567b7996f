#include "engine/core/backup.h"

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
#include <time.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/grow.h"
#include "util/xxh.h"
#include "engine/core/chunker.h"
#include "engine/core/chunk_pipeline.h"
#include "engine/core/chunk_slots.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree.h"
#include "engine/core/tree_store.h"

/* How many directories may wait for their chunks before the walker stops
 * to let the workers catch up: bounds memory for trees of any size.  Two
 * chunk buffers per worker (one being stored, one queued) keep the workers
 * busy as well as three did (the same CPU and wall time on the bench's 2 GB
 * backup) for a chunk_max (4 MiB) less of peak memory per worker. */
enum { MAX_WAITING_DIRS = 4096, JOBS_PER_WORKER = 2, CIPHER_READ = 1 << 20, TASK_READ = 1 << 20 };

/* Reading ahead (POSIX_FADV_WILLNEED), so that a source read from a disk
 * has reads in flight while the bytes already read are cut, hashed and
 * sealed, not one file's (or one readahead window's) read at a time: the
 * first WILLNEED_FIRST bytes of each of the next PREFETCH_FILES entries of
 * a folder that will be read, up to PREFETCH_BYTES in all; within a file,
 * the reader (or the worker of a piece) asks for what comes WILLNEED_FIRST
 * (WILLNEED_PIECES pieces) after what it reads. */
enum {
    WILLNEED_FIRST = 16 << 20,
    WILLNEED_PIECES = 4,
    PREFETCH_FILES = 32,
    PREFETCH_BYTES = 32 << 20,
};

/* A file of at least UNCACHE_MIN bytes none of whose pages were cached
 * before it was asked for has them dropped once read (the pages it read
 * are of no use to anyone after, and a backup larger than memory made the
 * kernel reclaim them at a higher cost: at 20 GB, 1.2 s more system time
 * per GB).  Pages someone had cached stay.  Files of at least 256 KiB hold
 * 99.6 % of a device backup's bytes, in 9 % of its files. */
enum { UNCACHE_MIN = 256 << 10 };

/* The entries of one folder asked ahead: [done, next) counted in bytes.
 * Entry i's stat is taken once, here, at i % PREFETCH_FILES (still before
 * it is read, as change detection needs). */
typedef struct bk_prefetch {
    size_t done, next;
    uint64_t bytes;
    uint64_t len[PREFETCH_FILES]; /* what entry i asked */
    struct stat st[PREFETCH_FILES];
    int st_ok[PREFETCH_FILES];
    int uncache[PREFETCH_FILES]; /* none of its pages was cached: drop them once read */
    int fd[PREFETCH_FILES];      /* the file as asked (-1: none), for backup_file */
} bk_prefetch;

typedef struct bk_dir bk_dir;

/* What the parent snapshot had at a piece's offset (its length and
 * fingerprint the same: its ID is reused). */
typedef struct bk_expect {
    uint8_t hash[TREE_DIGEST_LEN];
    uint8_t id[ID_LEN];
    int have;
} bk_expect;

/* A file read by the workers, so that reading and cutting run on every
 * core instead of on the walking thread alone.  Either cut in fixed pieces
 * (its boundaries known from its size alone): every worker preads its own
 * pieces straight into its chunk buffer, and the whole-file digest still
 * takes the bytes in file order (the worker holding piece k waits until
 * piece k-1's bytes are in; piece k-1 was taken first, so it is being
 * filled right then).  Or cut by content (whole): one worker's task reads
 * and cuts it all (cut_file), as chunk_file does on the walking thread. */
typedef struct bk_file bk_file;

struct bk_file {
    pthread_mutex_t mu;
    pthread_cond_t turn_cv;
    int fd;
    int refs;      /* the walking thread and every piece not yet filled */
    uint32_t turn; /* the piece whose bytes go into the digest next */
    uint32_t count;
    size_t piece;
    uint64_t size;
    const uint8_t *secret;
    XXH3_state_t *st;
    tree_fprint *fprints; /* the node's: room for every piece, it never moves */
    bk_expect *expect;    /* NULL, or one per piece */
    int read_err;         /* errno of the first failed read, -1: shorter than its size */
    int uncache;          /* its pages are dropped when it is closed (UNCACHE_MIN) */
    uint64_t reused_chunks, reused_bytes;
    uint8_t digest[TREE_DIGEST_LEN];
    size_t node_index;
    char *path; /* for the warning when a read failed */
    bk_file *next_file;
    /* a whole file's */
    int whole;
    const chunker *ck; /* the store's main chunker */
    chunk_plan plan;
    chunk_owner *owner;
    chunk_slots slots; /* its chunk list while it is cut, copied into the node after */
    tree_node old;     /* a copy of the parent's chunks and fingerprints, if any */
    const work_hooks *hooks;
};

/* Reading a file the source stores encrypted: decrypted as it is read (the
 * decoder holds the last block back for its padding). */
typedef struct bk_cipher {
    const file_decoder *codec;
    void *dec;
    uint8_t *raw;   /* CIPHER_READ: ciphertext */
    uint8_t *plain; /* CIPHER_READ + 2 * FILE_CIPHER_BLOCK_MAX */
    size_t plain_pos, plain_len;
    int finished;
    int padded;
} bk_cipher;

struct bk_dir {
    /* the pipeline writes chunk IDs into its files' chunk arrays, which
     * stay put while any is pending */
    chunk_owner chunks;
    tree t;
    bk_dir *parent;
    size_t index_in_parent;
    int open_subdirs; /* subdirectories not yet encoded into t */
    bk_dir *next_waiting;
    bk_file *files; /* read by the workers: digests and errors not yet in t */
};

/* ---- the device's catalog, stored while the walk runs ---- */

/* The catalog is whole before the walk starts, so a thread of its own
 * stores it meanwhile (a next-day backup waited 30 ms for it after the
 * walk).  It only adds chunks: a backup that fails after it leaves them
 * for the next backup or prune, as it does the walk's. */
typedef struct catalog_saver {
    store *s;
    store_worker *w;
    const chunker *ck;
    const catalog *cat;
    uint8_t (*ids)[ID_LEN];
    uint32_t n;
    treestore_stats st;
    cairn_err rc;
    char msg[ERR_MSG_MAX];
    pthread_t thread;
    int running;
} catalog_saver;

typedef struct bk_ctx {
    store *s;
    const backup_opts *opts;
    chunker ck;
    chunk_planner planner; /* how a file is cut, from its first bytes */
    store_worker *main_worker;
    const uint8_t *file_secret;

    chunk_pipeline *pipeline;

    bk_dir *waiting_head, *waiting_tail; /* walked, not yet encoded */
    int waiting;

    uint8_t (*root)[ID_LEN];
    uint32_t nroot;

    uint8_t *rbuf;
    size_t rbuf_cap;
    bk_cipher cipher;  /* cipher.dec set while such a file is read */
    size_t source_len; /* of the absolute source path, a prefix of path */
    int uncache;       /* the file backup_file reads: drop its pages once read */
    char path[PATH_MAX];
    backup_result *res;
    work_progress prog;    /* for opts->hooks */
    catalog_saver catalog; /* its catalog set while it is stored */
} bk_ctx;

static void *catalog_saver_main(void *arg)
{
    catalog_saver *const cs = arg;
    cs->rc = catalog_save(cs->s, cs->w, cs->ck, cs->cat, &cs->ids, &cs->n, &cs->st);
    if (cs->rc)
        snprintf(cs->msg, sizeof cs->msg, "%s", err_msg());
    return NULL;
}

/* Starts storing cat; without a thread (or a worker) it is stored by
 * catalog_saver_finish instead. */
static void catalog_saver_start(catalog_saver *cs, store *s, const chunker *ck, const catalog *cat)
{
    memset(cs, 0, sizeof *cs);
    cs->s = s;
    cs->ck = ck;
    cs->cat = cat;
    if (store_worker_new(s, &cs->w) == CAIRN_OK &&
        pthread_create(&cs->thread, NULL, catalog_saver_main, cs) == 0)
        cs->running = 1;
}

/* Waits for the catalog; its chunk list in *ids (the caller's to free). */
static cairn_err catalog_saver_finish(catalog_saver *cs, store_worker *w, uint8_t (**ids)[ID_LEN],
                                      uint32_t *n, treestore_stats *st)
{
    if (cs->running) {
        pthread_join(cs->thread, NULL);
        cs->running = 0;
        if (cs->rc)
            err_set(cs->rc, "%s", cs->msg);
    } else {
        cs->rc = catalog_save(cs->s, w, cs->ck, cs->cat, &cs->ids, &cs->n, &cs->st);
    }
    *ids = cs->ids;
    *n = cs->n;
    *st = cs->st;
    cs->ids = NULL;
    return cs->rc;
}

/* After catalog_saver_start, whether or not it was finished: waits for
 * the thread and frees what is left. */
static void catalog_saver_end(catalog_saver *cs)
{
    if (cs->running)
        pthread_join(cs->thread, NULL);
    store_worker_free(cs->w);
    free(cs->ids);
    memset(cs, 0, sizeof *cs);
}

/* ---- the chunk pipeline ---- */

static void place_chunk(chunk_owner *o, uintptr_t slot, const uint8_t id[ID_LEN])
{
    (void)o;
    memcpy((uint8_t *)slot, id, ID_LEN);
}

static void wait_dir_idle(bk_ctx *c, bk_dir *d)
{
    chunk_pipeline_wait(c->pipeline, &d->chunks);
}

/* ---- encoding finished directories ---- */

static bk_dir *new_dir(bk_dir *parent, size_t index_in_parent)
{
    bk_dir *const d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->chunks.place = place_chunk;
    d->parent = parent;
    d->index_in_parent = index_in_parent;
    if (parent)
        parent->open_subdirs++;
    return d;
}

static void file_free(bk_file *f)
{
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->turn_cv);
    XXH3_freeState(f->st);
    tree_node_free(&f->old);
    free(f->expect);
    chunk_slots_free(&f->slots);
    free(f->path);
    free(f);
}

/* Closes a source file, dropping the pages it read if it is to (uncache). */
static void close_source(int fd, int uncache)
{
    if (uncache)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

/* Drops a reference; the last one closes the file. */
static void file_release(bk_file *f, int n)
{
    pthread_mutex_lock(&f->mu);
    f->refs -= n;
    const int last = f->refs == 0;
    pthread_mutex_unlock(&f->mu);
    if (last)
        close_source(f->fd, f->uncache);
}

static void dir_free(bk_dir *d)
{
    while (d->files) {
        bk_file *const f = d->files;
        d->files = f->next_file;
        file_free(f);
    }
    tree_free(&d->t);
    free(d);
}

/* Stores d's tree and hands its chunk list to the entry in its parent (or
 * to the snapshot root).  Runs on the walking thread only. */
static cairn_err encode_dir(bk_ctx *c, bk_dir *d)
{
    uint8_t(*ids)[ID_LEN] = NULL;
    uint32_t n = 0;
    treestore_stats st = {0, 0, 0};
    const cairn_err rc = treestore_save(c->s, c->main_worker, &c->ck, &d->t, &ids, &n, &st);
    if (rc)
        return rc;
    c->res->new_chunks += st.new_chunks;
    c->res->new_bytes += st.new_bytes;
    c->res->new_raw += st.new_raw;
    if (d->parent) {
        tree_node *const node = &d->parent->t.nodes[d->index_in_parent];
        free(node->chunks);
        node->chunks = ids;
        node->nchunks = node->cap_chunks = n;
    } else {
        c->root = ids;
        c->nroot = n;
    }
    return CAIRN_OK;
}

/* Copies whole file f's chunk list into its node n, at its length. */
static cairn_err take_chunk_list(tree_node *n, const bk_file *f)
{
    const cairn_err rc = chunk_slots_take(&f->slots, &n->chunks, &n->fprints);
    if (!rc)
        n->nchunks = n->cap_chunks = f->slots.count;
    return rc;
}

/* Puts what the workers found of d's pieced files into d's tree, once none
 * has a piece in flight: their digests, or, for a file a read failed on, a
 * warning and the file left out (like a file that cannot be read).  Its
 * subdirectories are encoded already (drain_waiting), so dropping nodes
 * moves no index they hold. */
static cairn_err finish_files(bk_ctx *c, bk_dir *d)
{
    int dropped = 0;
    while (d->files) {
        bk_file *const f = d->files;
        tree_node *const n = &d->t.nodes[f->node_index];
        c->res->reused_chunks += f->reused_chunks;
        c->res->reused_bytes += f->reused_bytes;
        if (f->read_err) {
            c->res->errors++;
            if (c->opts->warn)
                c->opts->warn(c->opts->warn_ctx, f->path,
                              f->read_err < 0 ? "changed while read (shorter than its size)"
                                              : strerror(f->read_err));
            c->res->files--;
            c->res->bytes -= n->size;
            c->res->bytes_read -= n->size;
            tree_node_free(n); /* its name NULL: dropped below */
            dropped = 1;
        } else {
            memcpy(n->digest, f->digest, TREE_DIGEST_LEN);
            n->has_digest = 1;
            if (f->whole) {
                const cairn_err rc = take_chunk_list(n, f);
                if (rc)
                    return rc; /* f is still d's: freed with it */
                /* a file that shrank while read is kept as read */
                c->res->bytes -= n->size - f->size;
                c->res->bytes_read -= n->size - f->size;
                n->size = f->size;
            }
        }
        d->files = f->next_file;
        file_free(f);
    }
    if (!dropped)
        return CAIRN_OK;
    size_t k = 0;
    for (size_t j = 0; j < d->t.count; j++)
        if (d->t.nodes[j].name)
            d->t.nodes[k++] = d->t.nodes[j];
    d->t.count = k;
    return CAIRN_OK;
}

/* Encodes the waiting directories that are ready: none of their chunks in
 * flight and every subdirectory encoded.  One slow file then holds back
 * its own folder and that folder's parents, not every folder walked after
 * it: those are freed as they finish, so memory follows the chunks in
 * flight rather than the files walked meanwhile.  Siblings go in any
 * order (each fills its own node in the parent); children are queued
 * before their parent, so one pass reaches a parent after them.  With
 * block set, waits for each one's chunks instead of skipping it. */
static cairn_err drain_waiting(bk_ctx *c, int block)
{
    bk_dir **link = &c->waiting_head;
    bk_dir *prev = NULL;
    while (*link) {
        bk_dir *const d = *link;
        assert(!block || !d->open_subdirs);
        if (block && !d->open_subdirs)
            wait_dir_idle(c, d);
        if (d->open_subdirs || chunk_pipeline_busy(c->pipeline, &d->chunks)) {
            prev = d;
            link = &d->next_waiting;
            continue;
        }
        cairn_err rc = chunk_pipeline_error(c->pipeline);
        if (rc)
            return rc;
        rc = finish_files(c, d);
        if (!rc)
            rc = encode_dir(c, d);
        if (rc)
            return rc;
        *link = d->next_waiting;
        if (c->waiting_tail == d)
            c->waiting_tail = prev;
        c->waiting--;
        if (d->parent)
            d->parent->open_subdirs--;
        dir_free(d);
    }
    return CAIRN_OK;
}

/* ---- reading files ---- */

static void warn(bk_ctx *c, const char *what)
{
    c->res->errors++;
    if (c->opts->warn)
        c->opts->warn(c->opts->warn_ctx, c->path, what);
}

static cairn_err grow_chunks(bk_ctx *c, bk_dir *d, tree_node *n)
{
    /* workers write into the array: let them finish before moving it */
    wait_dir_idle(c, d);
    size_t cap = n->cap_chunks;
    const cairn_err rc = util_grow(&n->chunks, &cap, (size_t)n->nchunks + 1, sizeof *n->chunks);
    if (rc)
        return rc;
    tree_fprint *const fp = realloc(n->fprints, cap * sizeof *fp);
    if (!fp)
        return err_set(CAIRN_ENOMEM, "out of memory");
    n->fprints = fp;
    n->cap_chunks = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
    return CAIRN_OK;
}

/* Decrypts the next piece of the file into cs->plain; returns -1 with
 * errno set on a read error (EBADMSG: not whole AES blocks). */
static int cipher_fill(bk_cipher *cs, int fd)
{
    ssize_t n;
    do
        n = read(fd, cs->raw, CIPHER_READ);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    cs->plain_pos = cs->plain_len = 0;
    if (n == 0) {
        cs->finished = 1;
        if (cs->codec->final(cs->dec, cs->plain, &cs->plain_len, &cs->padded) != CAIRN_OK) {
            errno = EBADMSG;
            return -1;
        }
        return 0;
    }
    if (cs->codec->update(cs->dec, cs->raw, (size_t)n, cs->plain, &cs->plain_len) != CAIRN_OK) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* read(2) for the file being chunked, decrypting when it is encrypted. */
static ssize_t file_read(bk_ctx *c, int fd, uint8_t *buf, size_t room)
{
    bk_cipher *const cs = &c->cipher;
    if (!cs->dec)
        return read(fd, buf, room);
    while (cs->plain_pos == cs->plain_len && !cs->finished)
        if (cipher_fill(cs, fd) != 0)
            return -1;
    size_t n = cs->plain_len - cs->plain_pos;
    if (n > room)
        n = room;
    memcpy(buf, cs->plain + cs->plain_pos, n);
    cs->plain_pos += n;
    return (ssize_t)n;
}

/* Reads fd to the end, hashing only: lets a rewritten but unchanged file
 * reuse its old chunks without chunking, hashing and sealing it again. */
static cairn_err digest_file(bk_ctx *c, int fd, uint8_t digest[TREE_DIGEST_LEN], int *read_err)
{
    XXH3_state_t *const st = XXH3_createState();
    if (!st)
        return err_set(CAIRN_ENOMEM, "out of memory");
    XXH3_128bits_reset_withSecret(st, c->file_secret, KEYS_FILE_SECRET);
    for (;;) {
        const ssize_t n = read(fd, c->rbuf, c->rbuf_cap);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *read_err = errno;
            break;
        }
        if (n == 0)
            break;
        XXH3_128bits_update(st, c->rbuf, (size_t)n);
    }
    XXH128_canonicalFromHash((XXH128_canonical_t *)digest, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    return CAIRN_OK;
}

/* Chunks the file in fd into n's chunk list, each chunk with its
 * fingerprint; a chunk old (the file in the parent snapshot, or NULL) had at
 * the same offset with the same fingerprint keeps its ID without being
 * stored again.  *read_err gets errno if the file could not be read to the
 * end. */
static cairn_err chunk_file(bk_ctx *c, bk_dir *d, size_t node_index, int fd, const tree_node *old,
                            int *read_err)
{
    size_t have = 0;
    int eof = 0, planned = 0;
    uint64_t total = 0, off = 0;
    tree_fprint_cursor prev = {old && tree_node_has_fprints(old) ? old : NULL, 0, 0};
    chunk_plan plan = {NULL, 0, 0, 0};
    cairn_err rc = CAIRN_OK;
    XXH3_state_t *const st = XXH3_createState();
    if (!st)
        return err_set(CAIRN_ENOMEM, "out of memory");
    XXH3_128bits_reset_withSecret(st, c->file_secret, KEYS_FILE_SECRET);
    while (!rc) {
        while (!eof && have < c->rbuf_cap) {
            const ssize_t n = file_read(c, fd, c->rbuf + have, c->rbuf_cap - have);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                *read_err = errno;
                goto done;
            }
            if (n == 0)
                eof = 1;
            have += (size_t)n;
            total += (uint64_t)n;
        }
        if (!eof && total + WILLNEED_FIRST < d->t.nodes[node_index].size)
            posix_fadvise(fd, (off_t)(total + WILLNEED_FIRST), (off_t)c->rbuf_cap,
                          POSIX_FADV_WILLNEED);
        if (!planned) {
            /* the buffer holds the file's start (or all of it) */
            plan = chunk_planner_plan(&c->planner, c->rbuf, have);
            planned = 1;
        }
        size_t pos = 0;
        while (pos < have) {
            tree_node *n = &d->t.nodes[node_index];
            if (n->nchunks == n->cap_chunks) {
                rc = grow_chunks(c, d, n);
                if (rc)
                    goto done;
            }
            tree_fprint *const fp = &n->fprints[n->nchunks];
            const uint8_t *same;
            const size_t cut = chunker_next_known(&c->ck, &plan, &prev, off, c->rbuf + pos,
                                                  have - pos, eof, c->file_secret, fp, &same);
            if (cut == 0)
                break;
            /* the whole-file digest chunk by chunk, while the chunk is in
             * the cache (every byte read is cut into a chunk by EOF) */
            XXH3_128bits_update(st, c->rbuf + pos, cut);
            if (same) {
                /* workers write other slots of this array, never this one */
                memcpy(n->chunks[n->nchunks], same, ID_LEN);
                c->res->reused_chunks++;
                c->res->reused_bytes += cut;
            } else {
                rc = chunk_pipeline_put_flags(c->pipeline, &d->chunks,
                                              (uintptr_t)n->chunks[n->nchunks], c->rbuf + pos, cut,
                                              chunk_plan_store_flags(&plan));
                if (rc)
                    goto done;
            }
            n->nchunks++;
            pos += cut;
            off += cut;
        }
        memmove(c->rbuf, c->rbuf + pos, have - pos);
        have -= pos;
        if (c->opts->hooks) {
            /* a large file: progress and Ctrl-C within it, not only after it */
            work_progress p = c->prog;
            p.bytes_done += total;
            work_report(c->opts->hooks, &p);
            if (work_stopped(c->opts->hooks)) {
                rc = err_set(CAIRN_EINTERRUPTED, "interrupted");
                goto done;
            }
        }
        if (eof && have == 0)
            break;
        rc = chunk_pipeline_error(c->pipeline);
    }
    {
        tree_node *const n = &d->t.nodes[node_index];
        n->size = total;
        n->has_digest = 1;
        XXH128_canonicalFromHash((XXH128_canonical_t *)n->digest, XXH3_128bits_digest(st));
    }
done:
    XXH3_freeState(st);
    return rc;
}

static int same_stat(const tree_node *old, const struct stat *st)
{
    return old && old->type == NODE_FILE && tree_source_size(old) == (uint64_t)st->st_size &&
           old->mtime_sec == st->st_mtim.tv_sec &&
           old->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec && old->inode == (uint64_t)st->st_ino;
}

static cairn_err reuse_chunks(tree_node *n, const tree_node *old)
{
    const cairn_err rc = tree_node_copy_chunks(n, old);
    if (rc)
        return rc;
    n->has_digest = old->has_digest;
    memcpy(n->digest, old->digest, TREE_DIGEST_LEN);
    n->cipher = old->cipher;
    memcpy(n->cipher_key, old->cipher_key, TREE_CIPHER_KEY_LEN);
    n->size = old->size;
    return CAIRN_OK;
}

/* Whether the source stores the file at c->path encrypted with a key cairn
 * can unwrap: then *tagged is its wrapped key.  A file that cannot be
 * decrypted is kept as the device wrote it (a restore is still exact). */
static int wants_decrypt(bk_ctx *c, const struct stat *st, const uint8_t **tagged)
{
    const file_decoder *const codec = c->opts->decoder;
    if (!codec || !codec->lookup(codec->ctx, c->path + c->source_len + 1, tagged))
        return 0;
    if ((size_t)st->st_size % codec->block != 0) {
        if (c->opts->warn)
            c->opts->warn(c->opts->warn_ctx, c->path,
                          "not whole AES blocks: stored as the device wrote it");
        return 0;
    }
    return 1;
}

static int same_cipher(const tree_node *old, int decrypt, const uint8_t *tagged)
{
    if (!decrypt)
        return old->cipher == 0;
    return old->cipher && memcmp(old->cipher_key, tagged, TREE_CIPHER_KEY_LEN) == 0;
}

/* Sets up c->cipher for the file, or leaves it off when its key does not
 * unwrap (the file is then stored as it is). */
static cairn_err cipher_start(bk_ctx *c, const uint8_t *tagged)
{
    bk_cipher *const cs = &c->cipher;
    const cairn_err rc = cs->codec->open(cs->codec->ctx, tagged, &cs->dec);
    if (rc)
        cs->dec = NULL;
    if (rc == CAIRN_ECORRUPT || rc == CAIRN_ESOURCE) {
        if (c->opts->warn)
            c->opts->warn(c->opts->warn_ctx, c->path,
                          "its EncryptionKey does not unwrap: stored as the device wrote it");
        return CAIRN_OK;
    }
    if (rc)
        return rc;
    cs->plain_pos = cs->plain_len = 0;
    cs->finished = cs->padded = 0;
    return CAIRN_OK;
}

static void cipher_stop(bk_cipher *cs)
{
    if (cs->dec)
        cs->codec->close(cs->dec);
    cs->dec = NULL;
}

/* chunk_fill_fn of a pieced file's piece k. */
static int fill_piece(void *ctx, uintptr_t k, uint8_t *buf, size_t len, uint8_t id[ID_LEN])
{
    bk_file *const f = ctx;
    const uint64_t off = (uint64_t)k * f->piece;
    const uint64_t ahead = off + (uint64_t)WILLNEED_PIECES * f->piece;
    size_t got = 0;
    int err = 0, filled = CHUNK_FILL_STORE;
    if (ahead >= WILLNEED_FIRST && ahead < f->size)
        posix_fadvise(f->fd, (off_t)ahead, (off_t)f->piece, POSIX_FADV_WILLNEED);
    while (got < len) {
        const ssize_t n = pread(f->fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? errno : -1;
            break;
        }
        got += (size_t)n;
    }
    pthread_mutex_lock(&f->mu);
    while (f->turn != k)
        pthread_cond_wait(&f->turn_cv, &f->mu);
    if (err && !f->read_err)
        f->read_err = err;
    if (!f->read_err)
        XXH3_128bits_update(f->st, buf, len);
    f->turn++;
    if (f->turn == f->count && !f->read_err)
        XXH128_canonicalFromHash((XXH128_canonical_t *)f->digest, XXH3_128bits_digest(f->st));
    const int failed = f->read_err != 0;
    pthread_cond_broadcast(&f->turn_cv);
    pthread_mutex_unlock(&f->mu);
    if (failed) {
        filled = CHUNK_FILL_NONE;
    } else {
        tree_fprint *const fp = &f->fprints[k];
        XXH128_canonicalFromHash((XXH128_canonical_t *)fp->hash,
                                 XXH3_128bits_withSecret(buf, len, f->secret, KEYS_FILE_SECRET));
        const bk_expect *const e = f->expect ? &f->expect[k] : NULL;
        if (e && e->have && memcmp(e->hash, fp->hash, TREE_DIGEST_LEN) == 0) {
            memcpy(id, e->id, ID_LEN);
            filled = CHUNK_FILL_HAVE;
            pthread_mutex_lock(&f->mu);
            f->reused_chunks++;
            f->reused_bytes += len;
            pthread_mutex_unlock(&f->mu);
        }
    }
    file_release(f, 1);
    return filled;
}

/* For each piece of f, what old (the file in the parent snapshot) had at
 * its offset with its length: what tree_fprint_match would compare. */
static cairn_err expect_pieces(bk_file *f, const tree_node *old)
{
    tree_fprint_cursor cur = {old, 0, 0};
    f->expect = calloc(f->count, sizeof *f->expect);
    if (!f->expect)
        return err_set(CAIRN_ENOMEM, "out of memory");
    for (uint32_t k = 0; k < f->count; k++) {
        const uint64_t off = (uint64_t)k * f->piece;
        while (cur.k < old->nchunks && cur.at < off)
            cur.at += old->fprints[cur.k++].len;
        if (cur.k == old->nchunks || cur.at != off || old->fprints[cur.k].len != f->fprints[k].len)
            continue;
        memcpy(f->expect[k].hash, old->fprints[cur.k].hash, TREE_DIGEST_LEN);
        memcpy(f->expect[k].id, old->chunks[cur.k], ID_LEN);
        f->expect[k].have = 1;
    }
    return CAIRN_OK;
}

/* The task of a whole file (chunk_pipeline_put_task): chunk_file's work on
 * a worker, for the f->size bytes the file had when the walk saw it. */
static cairn_err cut_file(void *ctx, chunk_sink *sink)
{
    bk_file *const f = ctx;
    const chunker *const ck = f->plan.cdc ? f->plan.cdc : f->ck;
    /* at least 2 x max_size, so a chunk is never cut short for want of
     * bytes, and no less than TASK_READ, so that the tail the chunker scans
     * in vain before each refill is a small share of what is read */
    const size_t least = 2 * ck->max_size > TASK_READ ? 2 * ck->max_size : TASK_READ;
    const size_t room = f->size < least ? (size_t)f->size : least;
    uint8_t *const buf = chunk_sink_scratch(sink, room);
    tree_fprint_cursor prev = {f->old.nchunks ? &f->old : NULL, 0, 0};
    const unsigned flags = chunk_plan_store_flags(&f->plan);
    uint64_t total = 0, off = 0;
    size_t have = 0;
    int eof = 0;
    cairn_err rc = buf ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
    while (!rc && !f->read_err) {
        /* bytes added after the walk saw the file are left for the next
         * backup, which sees its new size and mtime */
        while (!eof && have < room && total < f->size) {
            const uint64_t left = f->size - total;
            const size_t want = room - have < left ? room - have : (size_t)left;
            const ssize_t n = pread(f->fd, buf + have, want, (off_t)total);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                f->read_err = errno;
            if (n <= 0) {
                eof = 1; /* a file that shrank ends where its bytes end */
                break;
            }
            have += (size_t)n;
            total += (uint64_t)n;
        }
        if (f->read_err)
            break;
        eof = eof || total == f->size;
        if (!eof && total + WILLNEED_FIRST < f->size)
            posix_fadvise(f->fd, (off_t)(total + WILLNEED_FIRST), (off_t)room, POSIX_FADV_WILLNEED);
        size_t pos = 0;
        while (pos < have && !rc) {
            tree_fprint fp;
            const uint8_t *same;
            const size_t cut = chunker_next_known(f->ck, &f->plan, &prev, off, buf + pos,
                                                  have - pos, eof, f->secret, &fp, &same);
            if (cut == 0)
                break;
            chunk_slot *sl;
            rc = chunk_slots_add(&f->slots, &sl);
            if (rc)
                break;
            sl->fp = fp;
            XXH3_128bits_update(f->st, buf + pos, cut);
            if (same) {
                memcpy(sl->id, same, ID_LEN);
                f->reused_chunks++;
                f->reused_bytes += cut;
            } else {
                rc = chunk_sink_put(sink, f->owner, (uintptr_t)sl->id, buf + pos, cut, flags,
                                    eof && pos + cut == have);
            }
            pos += cut;
            off += cut;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (eof && have == 0)
            break;
        if (!rc && work_stopped(f->hooks))
            rc = err_set(CAIRN_EINTERRUPTED, "interrupted");
    }
    if (!rc && !f->read_err) {
        f->size = total;
        XXH128_canonicalFromHash((XXH128_canonical_t *)f->digest, XXH3_128bits_digest(f->st));
    }
    close_source(f->fd, f->uncache);
    return rc;
}

/* A file for the workers to read: the fields pieces and whole files share. */
static bk_file *new_file(bk_ctx *c, int fd, size_t i, uint64_t size)
{
    bk_file *const f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->st = XXH3_createState();
    f->path = strdup(c->path);
    if (!f->st || !f->path) {
        XXH3_freeState(f->st);
        free(f->path);
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->turn_cv, NULL);
    XXH3_128bits_reset_withSecret(f->st, c->file_secret, KEYS_FILE_SECRET);
    f->fd = fd;
    f->uncache = c->uncache;
    f->size = size;
    f->secret = c->file_secret;
    f->node_index = i;
    return f;
}

/* Queues a whole file (cut by content) for a worker's task. */
static cairn_err queue_whole(bk_ctx *c, bk_dir *d, size_t i, int fd, const tree_node *old,
                             const chunk_plan *plan, uint64_t size)
{
    const chunker *const ck = plan->cdc ? plan->cdc : &c->ck;
    tree_node *const n = &d->t.nodes[i];
    if (size / ck->min_size + 2 > UINT32_MAX) /* the most chunks it can have */
        return err_set(CAIRN_EINVAL, "%s: too large", c->path);
    bk_file *const f = new_file(c, fd, i, size);
    cairn_err rc = f ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
    if (!rc && old && tree_node_has_fprints(old)) {
        f->old.type = NODE_FILE;
        f->old.size = old->size;
        rc = tree_node_copy_chunks(&f->old, old);
    }
    if (rc) {
        if (f)
            file_free(f);
        return rc;
    }
    n->size = size;
    f->whole = 1;
    f->ck = &c->ck;
    f->plan = *plan;
    f->owner = &d->chunks;
    chunk_slots_init(&f->slots, (uint32_t)(size / ck->avg_size + 1));
    f->hooks = c->opts->hooks;
    rc = chunk_pipeline_put_task(c->pipeline, &d->chunks, cut_file, f);
    if (rc) {
        file_free(f);
        return rc;
    }
    /* from here the task owns fd */
    f->next_file = d->files;
    d->files = f;
    return CAIRN_OK;
}

/* Queues the file open as fd for the workers to read: in pieces when its
 * plan cuts it at fixed offsets, else whole; *queued says it did (fd is
 * then the file's: closed once it is read).  Otherwise (an empty file, or
 * one whose start cannot be read) the file is left to chunk_file. */
static cairn_err queue_file(bk_ctx *c, bk_dir *d, size_t i, int fd, const tree_node *old,
                            int *queued)
{
    uint8_t head[CHUNKER_PLAN_HEAD];
    struct stat st;
    *queued = 0;
    ssize_t hn;
    do
        hn = pread(fd, head, sizeof head, 0);
    while (hn < 0 && errno == EINTR);
    if (hn <= 0 || fstat(fd, &st) != 0 || st.st_size <= 0)
        return CAIRN_OK; /* chunk_file reads it (and reports a read error) */
    const chunk_plan plan = chunk_planner_plan(&c->planner, head, (size_t)hn);
    const uint64_t size = (uint64_t)st.st_size;
    if (!plan.fixed) {
        const cairn_err rc = queue_whole(c, d, i, fd, old, &plan, size);
        *queued = rc == CAIRN_OK;
        return rc;
    }
    if (size / plan.fixed >= INT_MAX - 1) /* refs counts the pieces */
        return CAIRN_OK;
    const uint32_t count = (uint32_t)((size + plan.fixed - 1) / plan.fixed);
    tree_node *const n = &d->t.nodes[i];
    bk_file *const f = new_file(c, fd, i, size);
    n->chunks = malloc((size_t)count * ID_LEN);
    n->fprints = malloc((size_t)count * sizeof *n->fprints);
    if (!f || !n->chunks || !n->fprints) {
        if (f)
            file_free(f);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    n->cap_chunks = count;
    f->refs = 1 + (int)count;
    f->count = count;
    f->piece = plan.fixed;
    f->fprints = n->fprints;
    for (uint32_t k = 0; k < count; k++)
        n->fprints[k].len =
            (uint32_t)(k + 1 < count ? plan.fixed : size - (uint64_t)k * plan.fixed);
    cairn_err rc = old && tree_node_has_fprints(old) ? expect_pieces(f, old) : CAIRN_OK;
    if (rc) {
        file_free(f);
        return rc;
    }
    n->size = size;
    /* from here the pieces own fd: chunk_file must not read it */
    f->next_file = d->files;
    d->files = f;
    *queued = 1;
    const unsigned flags = chunk_plan_store_flags(&plan);
    uint32_t k = 0;
    for (; k < count && !rc; k++) {
        if (work_stopped(c->opts->hooks)) {
            rc = err_set(CAIRN_EINTERRUPTED, "interrupted");
            break;
        }
        rc = chunk_pipeline_error(c->pipeline);
        if (!rc)
            rc = chunk_pipeline_put_fill(c->pipeline, &d->chunks, (uintptr_t)n->chunks[k],
                                         n->fprints[k].len, flags, fill_piece, f, k);
        if (!rc)
            n->nchunks = k + 1;
    }
    /* the pieces never queued will not be filled */
    file_release(f, 1 + (int)(count - n->nchunks));
    return rc;
}

/* Backs up one regular file into d->t.nodes[i], read from fd (the
 * prefetch's, closed here) or, when fd is -1, opened here.  A file that
 * cannot be read is reported and left out (the node is dropped by the
 * caller). */
static cairn_err backup_file(bk_ctx *c, int dirfd, int fd, const struct stat *st, bk_dir *d,
                             size_t i, const tree_node *old, int *skipped)
{
    int read_err = 0;
    cairn_err rc = CAIRN_OK;
    tree_node *const n = &d->t.nodes[i];
    const char *const name = n->name;
    const uint8_t *tagged = NULL;
    const int decrypt = wants_decrypt(c, st, &tagged);
    *skipped = 0;
    if (!c->opts->force_read && same_stat(old, st) && same_cipher(old, decrypt, tagged)) {
        if (fd >= 0)
            close(fd);
        return reuse_chunks(n, old);
    }
    if (fd < 0)
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    const int fd2 = fd >= 0 ? fd : openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd2 < 0) {
        warn(c, strerror(errno));
        *skipped = 1;
        return CAIRN_OK;
    }
    if (st->st_size > TASK_READ) /* else read whole by its first read */
        posix_fadvise(fd2, 0, 0, POSIX_FADV_SEQUENTIAL);
    c->res->files_read++;
    /* same size but touched: likely rewritten with the same bytes */
    if (!c->opts->force_read && !decrypt && old && old->type == NODE_FILE && !old->cipher &&
        old->has_digest && old->size == n->size) {
        uint8_t digest[TREE_DIGEST_LEN];
        rc = digest_file(c, fd2, digest, &read_err);
        if (!rc && !read_err && memcmp(digest, old->digest, TREE_DIGEST_LEN) == 0) {
            c->res->bytes_read += n->size;
            close_source(fd2, c->uncache);
            return reuse_chunks(n, old);
        }
        if (!rc && !read_err && lseek(fd2, 0, SEEK_SET) != 0)
            read_err = errno;
    }
    if (!rc && !read_err && !decrypt && !c->opts->read_serial) {
        int queued = 0;
        rc = queue_file(c, d, i, fd2, c->opts->force_read ? NULL : old, &queued);
        if (queued) {
            c->res->bytes_read += d->t.nodes[i].size;
            return rc;
        }
    }
    if (!rc && !read_err) {
        /* room for every chunk the file can have at its current size, so the
         * list never moves while workers write into it (moving it means
         * waiting for them: only a file that grows while read does that) */
        tree_node *const fn = &d->t.nodes[i];
        const uint64_t cap = fn->size / store_get_params(c->s)->chunk_min + 2;
        fn->chunks = malloc((size_t)cap * ID_LEN);
        fn->fprints = malloc((size_t)cap * sizeof *fn->fprints);
        if (!fn->chunks || !fn->fprints)
            rc = err_set(CAIRN_ENOMEM, "out of memory");
        fn->cap_chunks = fn->chunks && fn->fprints ? (uint32_t)cap : 0;
    }
    if (!rc && !read_err && decrypt)
        rc = cipher_start(c, tagged);
    if (!rc && !read_err)
        rc = chunk_file(c, d, i, fd2, c->opts->force_read ? NULL : old, &read_err);
    if (!rc && !read_err && c->cipher.dec) {
        tree_node *const fn = &d->t.nodes[i];
        fn->cipher = TREE_CIPHER_CBC | (c->cipher.padded ? TREE_CIPHER_PADDED : 0);
        memcpy(fn->cipher_key, tagged, TREE_CIPHER_KEY_LEN);
    }
    cipher_stop(&c->cipher);
    close_source(fd2, c->uncache);
    if (rc)
        return rc;
    if (read_err) {
        warn(c, read_err == EBADMSG ? "ciphertext is not whole AES blocks (changed while read?)"
                                    : strerror(read_err));
        *skipped = 1;
        return CAIRN_OK;
    }
    c->res->bytes_read += d->t.nodes[i].size;
    return CAIRN_OK;
}

/* ---- walking ---- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static cairn_err list_dir(bk_ctx *c, int dirfd, char ***names_out, size_t *count)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    const int fd = dup(dirfd);
    DIR *const dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        warn(c, strerror(errno));
        *names_out = NULL;
        *count = 0;
        return CAIRN_OK;
    }
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (util_grow(&names, &cap, n + 1, sizeof *names) != CAIRN_OK)
            goto nomem;
        names[n] = strdup(de->d_name);
        if (!names[n])
            goto nomem;
        n++;
    }
    closedir(dir);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    *names_out = names;
    *count = n;
    return CAIRN_OK;
nomem:
    closedir(dir);
    free_names(names, n);
    return err_set(CAIRN_ENOMEM, "out of memory listing %s", c->path);
}

static size_t path_push(bk_ctx *c, const char *name)
{
    const size_t len = strlen(c->path);
    snprintf(c->path + len, sizeof c->path - len, "/%s", name);
    return len;
}

static void node_from_stat(tree_node *n, const struct stat *st)
{
    n->mode = st->st_mode & 07777;
    n->mtime_sec = st->st_mtim.tv_sec;
    n->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
    n->inode = (uint64_t)st->st_ino;
    n->uid = st->st_uid;
    n->gid = st->st_gid;
}

static cairn_err walk_dir(bk_ctx *c, int dirfd, bk_dir *d, const tree *old);

/* How much of entry name (st) is asked ahead: its first bytes if it is a
 * file that will be read. */
static uint64_t prefetch_len(const bk_ctx *c, const tree *old, const char *name,
                             const struct stat *st)
{
    if (!S_ISREG(st->st_mode) || st->st_size <= 0)
        return 0;
    if (!c->opts->force_read && same_stat(old ? tree_find(old, name) : NULL, st))
        return 0;
    return (uint64_t)st->st_size < WILLNEED_FIRST ? (uint64_t)st->st_size : WILLNEED_FIRST;
}

/* Lets go of the entries asked ahead before k (all: SIZE_MAX), closing the
 * files nobody took (not backed up after all, or the walk stopped). */
static void prefetch_release(bk_prefetch *pf, size_t k)
{
    for (; pf->done < k && pf->done < pf->next; pf->done++) {
        pf->bytes -= pf->len[pf->done % PREFETCH_FILES];
        if (pf->fd[pf->done % PREFETCH_FILES] >= 0)
            close(pf->fd[pf->done % PREFETCH_FILES]);
    }
}

/* Stats the folder's entries from k (the one about to be backed up) on and
 * asks the kernel for the next files that will be read. */
static void prefetch(const bk_ctx *c, int dirfd, char *const *names, size_t count, size_t k,
                     const tree *old, bk_prefetch *pf)
{
    prefetch_release(pf, k);
    if (pf->next < k)
        pf->done = pf->next = k;
    while (pf->next < count && pf->next < k + PREFETCH_FILES && pf->bytes < PREFETCH_BYTES) {
        const size_t j = pf->next++;
        struct stat *const st = &pf->st[j % PREFETCH_FILES];
        uint64_t len = 0;
        int uncache = 0;
        pf->fd[j % PREFETCH_FILES] = -1;
        pf->st_ok[j % PREFETCH_FILES] = fstatat(dirfd, names[j], st, AT_SYMLINK_NOFOLLOW) == 0;
        if (pf->st_ok[j % PREFETCH_FILES])
            len = prefetch_len(c, old, names[j], st);
        if (len) {
            /* O_NONBLOCK: never stuck on a FIFO put in the file's place */
            const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
            int fd = openat(dirfd, names[j], flags | O_NOATIME);
            if (fd < 0)
                fd = openat(dirfd, names[j], flags);
            if (fd >= 0) {
                /* asked before the read ahead below brings any in */
                uncache =
                    st->st_size >= UNCACHE_MIN && fs_page_cached(fd, (uint64_t)st->st_size) == 0;
                posix_fadvise(fd, 0, (off_t)len, POSIX_FADV_WILLNEED);
                pf->fd[j % PREFETCH_FILES] = fd; /* read through it, not opened again */
            } else {
                len = 0;
            }
        }
        pf->uncache[j % PREFETCH_FILES] = uncache;
        pf->len[j % PREFETCH_FILES] = len;
        pf->bytes += len;
    }
    assert(pf->next > k); /* entry k's stat is in pf */
}

/* Entry k's file as the prefetch opened it (-1: it did not), now the
 * caller's to close. */
static int prefetch_take_fd(bk_prefetch *pf, size_t k)
{
    const int fd = pf->fd[k % PREFETCH_FILES];
    pf->fd[k % PREFETCH_FILES] = -1;
    return fd;
}

static cairn_err walk_subdir(bk_ctx *c, int dirfd, const char *name, bk_dir *d, size_t i,
                             const tree_node *old)
{
    tree old_sub;
    cairn_err rc;
    tree_init(&old_sub);
    const int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        warn(c, strerror(errno));
        return CAIRN_OK; /* kept as an empty directory */
    }
    bk_dir *const sub = new_dir(d, i);
    if (!sub) {
        close(fd);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (old && old->type == NODE_DIR) {
        rc = treestore_load(c->s, c->main_worker, (const uint8_t(*)[ID_LEN])old->chunks,
                            old->nchunks, &old_sub);
        if (rc) {
            /* a damaged parent only costs re-reading this subtree */
            tree_init(&old_sub);
        }
    }
    rc = walk_dir(c, fd, sub, &old_sub);
    tree_free(&old_sub);
    close(fd);
    return rc;
}

/* Walks the directory open as dirfd (path in c->path) into d, then queues
 * d for encoding.  old is the same directory in the parent snapshot. */
static cairn_err walk_dir(bk_ctx *c, int dirfd, bk_dir *d, const tree *old)
{
    char **names = NULL;
    size_t count = 0;
    bk_prefetch pf;
    cairn_err rc = list_dir(c, dirfd, &names, &count);
    if (rc) {
        dir_free(d);
        return rc;
    }
    memset(&pf, 0, sizeof pf);
    for (size_t k = 0; k < count && !rc; k++) {
        struct stat st;
        if (work_stopped(c->opts->hooks)) {
            rc = err_set(CAIRN_EINTERRUPTED, "interrupted");
            break;
        }
        prefetch(c, dirfd, names, count, k, old, &pf); /* stats entry k too */
        const size_t saved = path_push(c, names[k]);
        if (pf.st_ok[k % PREFETCH_FILES])
            st = pf.st[k % PREFETCH_FILES];
        else if (fstatat(dirfd, names[k], &st, AT_SYMLINK_NOFOLLOW) != 0) {
            warn(c, strerror(errno));
            c->path[saved] = '\0';
            continue;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
            if (c->opts->warn)
                c->opts->warn(c->opts->warn_ctx, c->path, "not a file, folder or symlink: skipped");
            c->path[saved] = '\0';
            continue;
        }
        tree_node *const n = tree_add(&d->t);
        if (!n) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
            break;
        }
        const size_t i = d->t.count - 1;
        n->name = names[k];
        names[k] = NULL;
        node_from_stat(n, &st);
        const tree_node *const prev = old ? tree_find(old, n->name) : NULL;
        if (S_ISDIR(st.st_mode)) {
            n->type = NODE_DIR;
            c->res->dirs++;
            rc = walk_subdir(c, dirfd, n->name, d, i, prev);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            const ssize_t len = readlinkat(dirfd, n->name, target, sizeof target - 1);
            n->type = NODE_SYMLINK;
            if (len < 0) {
                warn(c, strerror(errno));
                tree_node_free(n);
                d->t.count--;
            } else {
                target[len] = '\0';
                n->target = strdup(target);
                if (!n->target)
                    rc = err_set(CAIRN_ENOMEM, "out of memory");
            }
        } else {
            int skipped;
            n->type = NODE_FILE;
            n->size = (uint64_t)st.st_size;
            c->uncache = pf.uncache[k % PREFETCH_FILES];
            rc = backup_file(c, dirfd, prefetch_take_fd(&pf, k), &st, d, i, prev, &skipped);
            if (!rc && skipped) {
                wait_dir_idle(c, d); /* queued chunks of the file point into it */
                tree_node_free(&d->t.nodes[i]);
                d->t.count--;
            } else if (!rc) {
                c->res->files++;
                c->res->bytes += d->t.nodes[i].size;
            }
            c->prog.files_done++;
            c->prog.bytes_done += (uint64_t)st.st_size;
            work_report(c->opts->hooks, &c->prog);
        }
        c->path[saved] = '\0';
    }
    prefetch_release(&pf, SIZE_MAX);
    free_names(names, count);
    if (rc) {
        /* jobs may still point into d's chunk arrays */
        wait_dir_idle(c, d);
        dir_free(d);
        return rc;
    }
    d->next_waiting = NULL;
    if (c->waiting_tail)
        c->waiting_tail->next_waiting = d;
    else
        c->waiting_head = d;
    c->waiting_tail = d;
    c->waiting++;
    return drain_waiting(c, c->waiting > MAX_WAITING_DIRS);
}

/* ---- the whole run ---- */

/* Counts the regular files and their bytes under dirfd (closed here), so
 * that progress can show totals and an estimate of the time left.  Only a
 * stat per entry: cheap beside reading the files.  Unreadable parts are
 * left out (the walk reports them). */
static void count_tree(int dirfd, work_progress *p, const work_hooks *h)
{
    DIR *const dir = fdopendir(dirfd);
    struct dirent *de;
    if (!dir) {
        close(dirfd);
        return;
    }
    while ((de = readdir(dir)) != NULL && !work_stopped(h)) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            p->files_total++;
            p->bytes_total += (uint64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode)) {
            const int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub >= 0)
                count_tree(sub, p, h);
        }
    }
    closedir(dir);
}

static cairn_err write_snapshot(bk_ctx *c, const char *abs_source, const char *chain,
                                const snapshot *parent, const struct stat *root_st)
{
    snapshot snap;
    cbuf enc;
    struct timespec now;
    char host[256], buf[64];
    cairn_err rc = CAIRN_OK;
    memset(&snap, 0, sizeof snap);
    cbuf_init(&enc);
    clock_gettime(CLOCK_REALTIME, &now);
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    snap.time_sec = now.tv_sec;
    snap.time_nsec = (uint32_t)now.tv_nsec;
    snap.hostname = strdup(host);
    snap.source = strdup(abs_source);
    snap.chain = strdup(chain);
    if (!snap.hostname || !snap.source || !snap.chain) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto done;
    }
    if (parent) {
        snap.has_parent = 1;
        memcpy(snap.parent, parent->id, ID_LEN);
    }
    snap.flags = c->opts->extra_flags | (c->res->errors ? SNAP_PARTIAL : 0);
    snap.ntree = c->nroot;
    snap.tree = c->root;
    c->root = NULL;
    if (c->opts->ncatalog_ids) {
        snap.catalog = malloc((size_t)c->opts->ncatalog_ids * ID_LEN);
        if (!snap.catalog) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
            goto done;
        }
        memcpy(snap.catalog, c->opts->catalog_ids, (size_t)c->opts->ncatalog_ids * ID_LEN);
        snap.ncatalog = c->opts->ncatalog_ids;
    } else if (c->opts->catalog) {
        treestore_stats st = {0, 0, 0};
        rc = catalog_saver_finish(&c->catalog, c->main_worker, &snap.catalog, &snap.ncatalog, &st);
        if (rc)
            goto done;
        c->res->new_chunks += st.new_chunks;
        c->res->new_bytes += st.new_bytes;
        c->res->new_raw += st.new_raw;
    }
    snap.files = c->res->files;
    snap.dirs = c->res->dirs;
    snap.bytes = c->res->bytes;
    snap.new_chunks = c->res->new_chunks;
    snap.new_bytes = c->res->new_bytes;
    snap.new_raw = c->res->new_raw;
    snap.errors = c->res->errors;
    snprintf(buf, sizeof buf, "%o", (unsigned)(root_st->st_mode & 07777));
    rc = snapshot_set_meta(&snap, SNAP_META_ROOT_MODE, buf);
    snprintf(buf, sizeof buf, "%lld.%09ld", (long long)root_st->st_mtim.tv_sec,
             (long)root_st->st_mtim.tv_nsec);
    if (!rc)
        rc = snapshot_set_meta(&snap, SNAP_META_ROOT_MTIME, buf);
    for (size_t i = 0; i < c->opts->nmeta && !rc; i++)
        rc = snapshot_set_meta(&snap, c->opts->meta[i].key, c->opts->meta[i].value);
    if (!rc)
        rc = snapshot_encode(&snap, &enc);
    /* everything the snapshot refers to must be durable before it exists */
    if (!rc)
        rc = store_flush(c->s);
    if (!rc)
        rc = store_put_snapshot(c->s, enc.data, enc.len, c->res->id);
done:
    snapshot_free(&snap);
    cbuf_free(&enc);
    return rc;
}

cairn_err backup_run(store *s, const backup_opts *opts, backup_result *result)
{
    bk_ctx c;
    snaplist snaps = {NULL, 0, 0};
    tree old_root;
    char abs_source[PATH_MAX], *chain = NULL;
    struct stat root_st;
    chunk_pipeline_stats chunk_stats;
    int rootfd = -1;
    const snapshot *parent = NULL;
    cairn_err rc;
    memset(&c, 0, sizeof c);
    memset(result, 0, sizeof *result);
    tree_init(&old_root);
    c.s = s;
    c.opts = opts;
    c.res = result;
    c.file_secret = keyring_file_secret(store_keys(s));

    if (!realpath(opts->source, abs_source)) {
        rc = err_errno(errno, opts->source);
        if (rc == CAIRN_ENOTFOUND || rc == CAIRN_EIO)
            rc = err_set(CAIRN_ESOURCE, "%s: %s", opts->source, strerror(errno));
        goto done;
    }
    rootfd = open(abs_source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0 || fstat(rootfd, &root_st) != 0) {
        rc = err_set(CAIRN_ESOURCE, "%s: cannot open folder: %s", abs_source, strerror(errno));
        goto done;
    }
    if (opts->chain) {
        chain = strdup(opts->chain);
    } else {
        chain = malloc(strlen(abs_source) + 6);
        if (chain)
            sprintf(chain, "path:%s", abs_source);
    }
    if (!chain) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto done;
    }
    const store_params *const p = store_get_params(s);
    rc = chunker_init(&c.ck, p->chunk_min, p->chunk_avg, p->chunk_max,
                      keyring_chunker_secret(store_keys(s)));
    if (!rc)
        rc =
            chunk_planner_init(&c.planner, p->sqlite_chunk, p->chunk_flags & STORE_SQLITE_FIXED,
                               p->media_chunk, p->chunk_max, keyring_chunker_secret(store_keys(s)));
    if (rc)
        goto done;
    c.rbuf_cap = 2 * (size_t)p->chunk_max;
    c.rbuf = malloc(c.rbuf_cap);
    if (!c.rbuf) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto done;
    }
    c.source_len = strlen(abs_source);
    if (opts->decoder) {
        c.cipher.codec = opts->decoder;
        c.cipher.raw = malloc(CIPHER_READ);
        c.cipher.plain = malloc(CIPHER_READ + 2 * FILE_CIPHER_BLOCK_MAX);
        if (!c.cipher.raw || !c.cipher.plain) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
            goto done;
        }
    }
    rc = store_worker_new(s, &c.main_worker);
    if (rc)
        goto done;
    if (!opts->snaps && (rc = snaplist_load(s, &snaps)) != CAIRN_OK)
        goto done;
    parent = snaplist_latest_in_chain(opts->snaps ? opts->snaps : &snaps, chain);
    if (parent) {
        result->has_parent = 1;
        memcpy(result->parent, parent->id, ID_LEN);
        if (treestore_load(s, c.main_worker, (const uint8_t(*)[ID_LEN])parent->tree, parent->ntree,
                           &old_root) != CAIRN_OK)
            tree_init(&old_root); /* unreadable parent: everything is read again */
    }

    int jobs_max =
        (opts->threads > 0 ? opts->threads : (int)sysconf(_SC_NPROCESSORS_ONLN)) * JOBS_PER_WORKER;
    if (jobs_max < JOBS_PER_WORKER)
        jobs_max = JOBS_PER_WORKER;
    rc = chunk_pipeline_start(s, opts->threads, jobs_max, &c.pipeline);
    if (rc)
        goto done;
    if (opts->catalog && !opts->ncatalog_ids)
        catalog_saver_start(&c.catalog, s, &c.ck, opts->catalog);

    bk_dir *const root = new_dir(NULL, 0);
    if (!root) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto stop;
    }
    snprintf(c.path, sizeof c.path, "%s", abs_source);
    c.prog.phase = "backup";
    if (opts->hooks && opts->hooks->progress) {
        const int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
            count_tree(fd, &c.prog, opts->hooks);
        work_report(opts->hooks, &c.prog);
    }
    rc = walk_dir(&c, rootfd, root, &old_root);
    if (!rc)
        rc = drain_waiting(&c, 1);
stop:
    /* the queued chunks are stored (or skipped after an error) first */
    chunk_pipeline_finish(c.pipeline);
    if (!rc)
        rc = chunk_pipeline_error(c.pipeline);
    chunk_pipeline_get_stats(c.pipeline, &chunk_stats);
    result->new_chunks += chunk_stats.new_chunks;
    result->new_bytes += chunk_stats.new_bytes;
    result->new_raw += chunk_stats.new_raw;
    if (!rc)
        rc = write_snapshot(&c, abs_source, chain, parent, &root_st);
    if (!rc && result->errors)
        rc = err_set(CAIRN_EPARTIAL, "%llu item(s) could not be read",
                     (unsigned long long)result->errors);
done:
    catalog_saver_end(&c.catalog);
    while (c.waiting_head) {
        bk_dir *const d = c.waiting_head;
        c.waiting_head = d->next_waiting;
        dir_free(d);
    }
    chunk_pipeline_free(c.pipeline);
    free(c.root);
    free(c.rbuf);
    free(c.cipher.raw);
    free(c.cipher.plain);
    free(chain);
    store_worker_free(c.main_worker);
    snaplist_free(&snaps);
    tree_free(&old_root);
    if (rootfd >= 0)
        close(rootfd);
    return rc;
}

/* Above 19 zstd needs far more memory per worker for little gain on this
 * data (docs/BENCHMARKS.md). */
enum { ZSTD_LEVEL_MAX = 19 };

cairn_err backup_store_create(const char *path, const char *password, size_t password_len,
                              const keys_kdf *kdf, const backup_store_choice *choice)
{
    const backup_store_choice none = {0, BACKUP_CHUNK_DEFAULT, BACKUP_CHUNK_DEFAULT, 0};
    const backup_store_choice *const ch = choice ? choice : &none;
    store_params params = {CHUNKER_MIN_DEFAULT,
                           CHUNKER_AVG_DEFAULT,
                           CHUNKER_MAX_DEFAULT,
                           PACK_TARGET_DEFAULT,
                           ch->zstd_level ? ch->zstd_level : BACKUP_ZSTD_LEVEL_DEFAULT,
                           BACKUP_SQLITE_CHUNK_DEFAULT,
                           BACKUP_MEDIA_CHUNK_DEFAULT,
                           ch->sqlite_fixed ? STORE_SQLITE_FIXED : 0};
    if (params.zstd_level < 1 || params.zstd_level > ZSTD_LEVEL_MAX)
        return err_set(CAIRN_EINVAL, "zstd level %d is not from 1 to %d", params.zstd_level,
                       ZSTD_LEVEL_MAX);
    if (ch->sqlite_chunk != BACKUP_CHUNK_DEFAULT)
        params.sqlite_chunk = ch->sqlite_chunk < 0 || ch->sqlite_chunk > UINT32_MAX
                                  ? 1 /* refused by store_create */
                                  : (uint32_t)ch->sqlite_chunk;
    if (ch->media_chunk != BACKUP_CHUNK_DEFAULT)
        params.media_chunk =
            ch->media_chunk < 0 || ch->media_chunk > UINT32_MAX ? 1 : (uint32_t)ch->media_chunk;
    return store_create(path, password, password_len, kdf, &params);
}
