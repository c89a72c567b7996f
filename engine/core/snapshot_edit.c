#include "engine/core/snapshot_edit.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/grow.h"
#include "util/xxh.h"
#include "engine/core/chunker.h"
#include "engine/core/chunk_pipeline.h"
#include "engine/core/tree.h"
#include "engine/core/tree_store.h"

/* Chunk buffers in flight per worker: enough to keep every worker busy
 * while the caller receives the next piece, few enough to bound memory. */
enum { JOBS_PER_WORKER = 2, FILE_MODE = 0644, DIR_MODE = 0755 }; /* as backup.c */

typedef struct sn_dir sn_dir;

typedef struct sn_node {
    tree_node n;        /* folders: n.chunks is the stored tree while the folder is clean */
    sn_dir *dir;        /* folders: the items once loaded, else NULL */
    int fresh;          /* a file written here: its chunks may be in flight or unflushed */
    uint64_t flush_gen; /* fresh files: st->flushes when it was installed */
} sn_node;

struct sn_dir {
    sn_node *items; /* sorted by name, bytewise */
    size_t count, cap;
    int dirty; /* changed since loaded: its tree is stored again at commit */
};

struct stream_file {
    stream *st;
    char *path;
    /* the workers write chunk IDs into this array under the pipeline's
     * lock, so it is grown under that lock too; once the file is
     * installed, the node owns it */
    uint8_t (*chunks)[ID_LEN];
    tree_fprint *fprints; /* one per chunk (room for cap), on the caller's thread */
    uint32_t nchunks, cap;
    chunk_owner owner;          /* its chunks in the pipeline */
    tree_node prev;             /* the file it replaces, when stored with fingerprints:
                                 * its chunks and fingerprints (copies) */
    tree_fprint_cursor prev_at; /* on prev */
    uint64_t off;               /* where the next chunk starts */
    int installed;
    uint64_t size;
    XXH3_state_t *xx;
    uint8_t cipher; /* stream_file_set_cipher */
    uint8_t cipher_key[TREE_CIPHER_KEY_LEN];
    stream_file *next_retired;
    chunk_plan plan; /* how it is cut, from its first bytes */
    int planned;
};

struct stream {
    store *s;
    chunker ck;
    chunk_planner planner; /* how a file is cut, from its first bytes */
    store_worker *w;       /* the driving thread's: trees and reads */
    const uint8_t *file_secret;
    int read_only;
    const file_encrypter *encrypter; /* reads give the source's ciphertext */
    sn_node root;                    /* root.dir is always loaded */

    chunk_pipeline *pipeline; /* NULL when read-only */
    stream_file *retired;     /* ended while their chunks were stored: freed when idle */
    stream_file *open;
    int unflushed;    /* chunks put since the last store_flush */
    uint64_t flushes; /* store_flush calls so far: a fresh file installed
                       * before the latest one is readable as it is */

    uint8_t *rbuf; /* the open file's bytes from its current chunk's start */
    size_t rbuf_cap, have;
    stream_stats stats; /* new_*: the trees'; the pipeline counts the files' */
    cbuf chunk;
};

/* ---- the chunk pipeline ---- */

static void place_chunk(chunk_owner *o, uintptr_t index, const uint8_t id[ID_LEN])
{
    stream_file *const f = (stream_file *)((char *)o - offsetof(stream_file, owner));
    memcpy(f->chunks[index], id, ID_LEN);
}

static cairn_err worker_error(stream *st)
{
    return chunk_pipeline_error(st->pipeline);
}

static void file_free(stream_file *f)
{
    if (!f)
        return;
    if (!f->installed) {
        free(f->chunks);
        free(f->fprints);
    }
    tree_node_free(&f->prev);
    XXH3_freeState(f->xx);
    free(f->path);
    free(f);
}

/* Waits until no job is in flight, so every chunk list is final and every
 * node may be freed or read. */
static cairn_err settle(stream *st)
{
    /* no pipeline: read-only, or stream_begin failed before starting it */
    if (st->read_only || !st->pipeline)
        return CAIRN_OK;
    chunk_pipeline_wait(st->pipeline, NULL);
    stream_file *f = st->retired;
    st->retired = NULL;
    while (f) {
        stream_file *const next = f->next_retired;
        file_free(f);
        f = next;
    }
    return worker_error(st);
}

/* Chunks put since the last flush are not readable until their pack is
 * durable and indexed. */
static cairn_err make_readable(stream *st)
{
    cairn_err rc = settle(st);
    if (!rc && st->unflushed) {
        rc = store_flush(st->s);
        if (!rc) {
            st->unflushed = 0;
            st->flushes++;
        }
    }
    return rc;
}

/* Queues data[0..len) as the next chunk of f (fingerprint fp), or gives it
 * same: the ID of the chunk the replaced file had at this offset with the
 * same fingerprint (chunker_next_known). */
static cairn_err submit(stream_file *f, const uint8_t *data, size_t len, const tree_fprint *fp,
                        const uint8_t *same)
{
    stream *const st = f->st;
    if (f->nchunks == f->cap) {
        size_t cap = f->cap;
        chunk_pipeline_lock(st->pipeline);
        cairn_err grown = util_grow(&f->chunks, &cap, (size_t)f->nchunks + 1, sizeof *f->chunks);
        if (!grown) {
            tree_fprint *const more = realloc(f->fprints, cap * sizeof *more);
            if (more) {
                f->fprints = more;
                f->cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
            } else {
                grown = err_set(CAIRN_ENOMEM, "out of memory");
            }
        }
        chunk_pipeline_unlock(st->pipeline);
        if (grown)
            return grown;
    }
    f->fprints[f->nchunks] = *fp;
    if (same) {
        /* workers write other slots, under the lock this array grows under */
        chunk_pipeline_lock(st->pipeline);
        memcpy(f->chunks[f->nchunks], same, ID_LEN);
        chunk_pipeline_unlock(st->pipeline);
        st->stats.reused_chunks++;
        st->stats.reused_bytes += len;
    } else {
        const cairn_err rc = chunk_pipeline_put_flags(st->pipeline, &f->owner, f->nchunks, data,
                                                      len, chunk_plan_store_flags(&f->plan));
        if (rc)
            return rc;
        st->unflushed = 1;
    }
    f->nchunks++;
    f->off += len;
    return CAIRN_OK;
}

static void stop_workers(stream *st)
{
    if (st->pipeline)
        chunk_pipeline_finish(st->pipeline);
}

/* What the stream added so far: its trees' and, from the pipeline, its
 * files' chunks. */
static void current_stats(stream *st, stream_stats *out)
{
    chunk_pipeline_stats ps = {0, 0, 0};
    if (st->pipeline)
        chunk_pipeline_get_stats(st->pipeline, &ps);
    *out = st->stats;
    out->new_chunks += ps.new_chunks;
    out->new_bytes += ps.new_bytes;
    out->new_raw += ps.new_raw;
}

/* ---- the tree in memory ---- */

static void dir_free(sn_dir *d);

static void node_free(sn_node *n)
{
    dir_free(n->dir);
    n->dir = NULL;
    tree_node_free(&n->n);
}

static void dir_free(sn_dir *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->count; i++)
        node_free(&d->items[i]);
    free(d->items);
    free(d);
}

/* Binary search; *pos gets the index of name or where it would go. */
static sn_node *dir_find(const sn_dir *d, const char *name, size_t *pos)
{
    size_t lo = 0, hi = d->count;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const int c = strcmp(d->items[mid].n.name, name);
        if (c == 0) {
            *pos = mid;
            return &d->items[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return NULL;
}

/* Room for one more item, so that an insert cannot fail. */
static cairn_err dir_reserve(sn_dir *d)
{
    return util_grow(&d->items, &d->cap, d->count + 1, sizeof *d->items);
}

/* Takes ownership of *n on success only. */
static cairn_err dir_insert(sn_dir *d, size_t pos, sn_node *n)
{
    const cairn_err rc = dir_reserve(d);
    if (rc)
        return rc;
    memmove(&d->items[pos + 1], &d->items[pos], (d->count - pos) * sizeof *d->items);
    d->items[pos] = *n;
    d->count++;
    return CAIRN_OK;
}

/* Removes items[pos] from d without freeing it. */
static sn_node dir_take(sn_dir *d, size_t pos)
{
    const sn_node n = d->items[pos];
    memmove(&d->items[pos], &d->items[pos + 1], (d->count - pos - 1) * sizeof *d->items);
    d->count--;
    return n;
}

/* Puts *n under its name in d, replacing (and freeing) an item of that
 * name; takes ownership of *n on success only. */
static cairn_err dir_put(sn_dir *d, sn_node *n)
{
    size_t pos;
    sn_node *const old = dir_find(d, n->n.name, &pos);
    if (old) {
        node_free(old);
        *old = *n;
        return CAIRN_OK;
    }
    return dir_insert(d, pos, n);
}

/* Loads a folder node's items from its stored tree. */
static cairn_err dir_load(stream *st, sn_node *node)
{
    tree t;
    if (node->dir)
        return CAIRN_OK;
    tree_init(&t);
    cairn_err rc = CAIRN_OK;
    if (node->n.nchunks)
        rc = treestore_load(st->s, st->w, (const uint8_t(*)[ID_LEN])node->n.chunks, node->n.nchunks,
                            &t);
    if (rc)
        return err_wrap(rc, node->n.name ? node->n.name : "(root)");
    sn_dir *const d = calloc(1, sizeof *d);
    if (!d) {
        tree_free(&t);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (t.count) {
        d->items = calloc(t.count, sizeof *d->items);
        if (!d->items) {
            free(d);
            tree_free(&t);
            return err_set(CAIRN_ENOMEM, "out of memory");
        }
        /* the nodes move into the folder: their strings and chunk lists are
         * now owned there */
        for (size_t i = 0; i < t.count; i++)
            d->items[i].n = t.nodes[i];
        d->count = d->cap = t.count;
    }
    free(t.nodes);
    node->dir = d;
    return CAIRN_OK;
}

static int valid_name(const char *p, size_t len)
{
    return len > 0 && len < TREE_NAME_MAX && !(len == 1 && p[0] == '.') &&
           !(len == 2 && p[0] == '.' && p[1] == '.');
}

static void now_ts(int64_t *sec, uint32_t *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *nsec = (uint32_t)ts.tv_nsec;
}

static cairn_err new_dir_node(const char *name, size_t len, sn_node *out)
{
    memset(out, 0, sizeof *out);
    out->n.name = strndup(name, len);
    out->dir = calloc(1, sizeof *out->dir);
    if (!out->n.name || !out->dir) {
        node_free(out);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    out->dir->dirty = 1;
    out->n.type = NODE_DIR;
    out->n.mode = DIR_MODE;
    out->n.uid = (uint32_t)getuid();
    out->n.gid = (uint32_t)getgid();
    now_ts(&out->n.mtime_sec, &out->n.mtime_nsec);
    return CAIRN_OK;
}

/* Follows path down to the folder holding its last component: *dir gets
 * that folder (loaded), leaf (cap bytes) the last component.  With create,
 * missing folders on the way are made; with dirty, every folder on the way
 * is marked changed. */
static cairn_err walk_parent(stream *st, const char *path, int create, int dirty, sn_dir **dir,
                             char *leaf, size_t cap)
{
    sn_dir *d = st->root.dir;
    const char *p = path;
    if (dirty)
        d->dirty = 1;
    for (;;) {
        const char *const slash = strchr(p, '/');
        const size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (!valid_name(p, len) || len >= cap)
            return err_set(CAIRN_EINVAL, "%s: not a valid path", path);
        if (!slash) {
            memcpy(leaf, p, len);
            leaf[len] = '\0';
            *dir = d;
            return CAIRN_OK;
        }
        memcpy(leaf, p, len);
        leaf[len] = '\0';
        size_t pos;
        sn_node *n = dir_find(d, leaf, &pos);
        if (!n) {
            if (!create)
                return err_set(CAIRN_ENOTFOUND, "%.*s: no such folder", (int)(slash - path), path);
            sn_node made;
            cairn_err rc = new_dir_node(p, len, &made);
            if (rc)
                return rc;
            rc = dir_insert(d, pos, &made);
            if (rc) {
                node_free(&made);
                return rc;
            }
            n = &d->items[pos];
        }
        if (n->n.type != NODE_DIR)
            return err_set(CAIRN_ENOTFOUND, "%.*s: not a folder", (int)(slash - path), path);
        const cairn_err rc = dir_load(st, n);
        if (rc)
            return rc;
        d = n->dir;
        if (dirty)
            d->dirty = 1;
        p = slash + 1;
    }
}

/* The node at path (NULL for ""/root), without changing anything. */
static cairn_err lookup(stream *st, const char *path, sn_node **out)
{
    char leaf[TREE_NAME_MAX];
    sn_dir *d;
    size_t pos;
    if (!*path) {
        *out = &st->root;
        return CAIRN_OK;
    }
    const cairn_err rc = walk_parent(st, path, 0, 0, &d, leaf, sizeof leaf);
    if (rc)
        return rc;
    *out = dir_find(d, leaf, &pos);
    return *out ? CAIRN_OK : err_set(CAIRN_ENOTFOUND, "%s: no such file or folder", path);
}

static cairn_err clone_dir(stream *st, const sn_dir *src, sn_dir **out);

/* A deep copy of src (a loaded folder's items too); chunk IDs are copied,
 * never the data. */
static cairn_err clone_node(stream *st, const sn_node *src, const char *name, sn_node *out)
{
    memset(out, 0, sizeof *out);
    out->n = src->n;
    out->n.name = strdup(name);
    out->n.target = src->n.target ? strdup(src->n.target) : NULL;
    out->fresh = src->fresh;
    if (tree_node_copy_chunks(&out->n, &src->n) != CAIRN_OK || !out->n.name ||
        (src->n.target && !out->n.target)) {
        node_free(out);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (src->dir) {
        const cairn_err rc = clone_dir(st, src->dir, &out->dir);
        if (rc) {
            node_free(out);
            return rc;
        }
    }
    return CAIRN_OK;
}

static cairn_err clone_dir(stream *st, const sn_dir *src, sn_dir **out)
{
    sn_dir *const d = calloc(1, sizeof *d);
    if (!d)
        return err_set(CAIRN_ENOMEM, "out of memory");
    d->dirty = src->dirty;
    if (src->count) {
        d->items = calloc(src->count, sizeof *d->items);
        if (!d->items) {
            free(d);
            return err_set(CAIRN_ENOMEM, "out of memory");
        }
        d->cap = src->count;
    }
    for (size_t i = 0; i < src->count; i++) {
        const cairn_err rc =
            clone_node(st, &src->items[i], src->items[i].n.name, &d->items[d->count]);
        if (rc) {
            dir_free(d);
            return rc;
        }
        d->count++;
    }
    *out = d;
    return CAIRN_OK;
}

/* ---- the stream ---- */

cairn_err stream_begin(store *s, const stream_opts *opts, stream **out)
{
    stream *const st = calloc(1, sizeof *st);
    if (!st)
        return err_set(CAIRN_ENOMEM, "out of memory");
    st->s = s;
    st->read_only = opts->read_only;
    st->file_secret = keyring_file_secret(store_keys(s));
    cbuf_init(&st->chunk);
    st->root.n.type = NODE_DIR;
    st->root.n.mode = DIR_MODE;
    const store_params *const p = store_get_params(s);
    cairn_err rc = chunker_init(&st->ck, p->chunk_min, p->chunk_avg, p->chunk_max,
                                keyring_chunker_secret(store_keys(s)));
    if (!rc)
        rc =
            chunk_planner_init(&st->planner, p->sqlite_chunk, p->chunk_flags & STORE_SQLITE_FIXED,
                               p->media_chunk, p->chunk_max, keyring_chunker_secret(store_keys(s)));
    if (!rc)
        rc = store_worker_new(s, &st->w);
    if (!rc && opts->base && opts->base->ntree) {
        st->root.n.chunks = malloc((size_t)opts->base->ntree * ID_LEN);
        if (!st->root.n.chunks)
            rc = err_set(CAIRN_ENOMEM, "out of memory");
        else
            memcpy(st->root.n.chunks, opts->base->tree, (size_t)opts->base->ntree * ID_LEN);
        st->root.n.nchunks = st->root.n.cap_chunks = opts->base->ntree;
    }
    if (!rc)
        rc = dir_load(st, &st->root);
    if (!rc && !st->read_only) {
        st->rbuf_cap = 2 * (size_t)p->chunk_max;
        st->rbuf = malloc(st->rbuf_cap);
        if (!st->rbuf)
            rc = err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (!rc && !st->read_only) {
        const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        const int n = opts->threads > 0 ? opts->threads : cpus < 1 ? 1 : (int)cpus;
        rc = chunk_pipeline_start(s, opts->threads, (n > 64 ? 64 : n) * JOBS_PER_WORKER,
                                  &st->pipeline);
    }
    if (rc) {
        stream_free(st);
        return rc;
    }
    *out = st;
    return CAIRN_OK;
}

void stream_free(stream *st)
{
    if (!st)
        return;
    if (st->open)
        stream_file_abort(st->open);
    settle(st);
    chunk_pipeline_free(st->pipeline);
    node_free(&st->root);
    free(st->rbuf);
    cbuf_free(&st->chunk);
    store_worker_free(st->w);
    free(st);
}

void stream_get_stats(stream *st, stream_stats *out)
{
    current_stats(st, out);
}

/* ---- writing files ---- */

/* The chunks of f that match old's (the file it replaces) by fingerprint
 * will take old's IDs. */
static cairn_err compare_with(stream_file *f, const sn_node *old)
{
    /* a file written in this stream may still have IDs in flight */
    if (old->fresh || !tree_node_has_fprints(&old->n))
        return CAIRN_OK;
    const cairn_err rc = tree_node_copy_chunks(&f->prev, &old->n);
    f->prev.type = NODE_FILE;
    f->prev_at.n = &f->prev;
    return rc;
}

void stream_file_compare_with(stream_file *f, const char *path)
{
    sn_node *old = NULL;
    if (f->prev_at.n || f->nchunks || f->st->have)
        return;
    if (lookup(f->st, path, &old) == CAIRN_OK)
        (void)compare_with(f, old);
}

cairn_err stream_file_begin(stream *st, const char *path, stream_file **out)
{
    char leaf[TREE_NAME_MAX];
    sn_dir *d;
    size_t pos;
    if (st->read_only || st->open)
        return err_set(CAIRN_EINVAL, "%s: the stream cannot take a file now", path);
    cairn_err rc = walk_parent(st, path, 0, 0, &d, leaf, sizeof leaf);
    if (rc)
        return rc;
    const sn_node *const old = dir_find(d, leaf, &pos);
    if (old && old->n.type == NODE_DIR)
        return err_set(CAIRN_EEXIST, "%s: is a folder", path);
    rc = worker_error(st);
    if (rc)
        return rc;
    stream_file *const f = calloc(1, sizeof *f);
    if (!f)
        return err_set(CAIRN_ENOMEM, "out of memory");
    f->st = st;
    f->owner.place = place_chunk;
    f->path = strdup(path);
    f->xx = XXH3_createState();
    if (old)
        rc = compare_with(f, old);
    if (rc || !f->path || !f->xx) {
        file_free(f);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    XXH3_128bits_reset_withSecret(f->xx, st->file_secret, KEYS_FILE_SECRET);
    st->have = 0;
    st->open = f;
    *out = f;
    return CAIRN_OK;
}

/* Cuts what the buffer holds into chunks; without eof the last, unfinished
 * chunk stays (shorter than the largest chunk, so the buffer has room). */
static cairn_err cut(stream_file *f, int eof)
{
    stream *const st = f->st;
    size_t pos = 0;
    if (!f->planned) {
        /* the first cut: the buffer holds the file's start (or all of it) */
        f->plan = chunk_planner_plan(&st->planner, st->rbuf, st->have);
        f->planned = 1;
    }
    while (pos < st->have) {
        tree_fprint fp;
        const uint8_t *same;
        const size_t len =
            chunker_next_known(&st->ck, &f->plan, &f->prev_at, f->off, st->rbuf + pos,
                               st->have - pos, eof, st->file_secret, &fp, &same);
        if (len == 0)
            break;
        const cairn_err rc = submit(f, st->rbuf + pos, len, &fp, same);
        if (rc)
            return rc;
        pos += len;
    }
    memmove(st->rbuf, st->rbuf + pos, st->have - pos);
    st->have -= pos;
    return worker_error(st);
}

cairn_err stream_file_write(stream_file *f, const uint8_t *data, size_t len)
{
    stream *const st = f->st;
    XXH3_128bits_update(f->xx, data, len);
    f->size += len;
    while (len > 0) {
        size_t n = st->rbuf_cap - st->have;
        if (n > len)
            n = len;
        memcpy(st->rbuf + st->have, data, n);
        st->have += n;
        data += n;
        len -= n;
        if (st->have == st->rbuf_cap) {
            const cairn_err rc = cut(f, 0);
            if (rc)
                return rc;
        }
    }
    return CAIRN_OK;
}

/* Done with f: freed now, or once its last job is done. */
static void file_release(stream_file *f)
{
    stream *const st = f->st;
    st->open = NULL;
    if (chunk_pipeline_busy(st->pipeline, &f->owner)) {
        f->next_retired = st->retired;
        st->retired = f;
    } else {
        file_free(f);
    }
}

cairn_err stream_file_end(stream_file *f)
{
    stream *const st = f->st;
    char leaf[TREE_NAME_MAX];
    sn_dir *d;
    size_t pos;
    sn_node n;
    memset(&n, 0, sizeof n);
    cairn_err rc = cut(f, 1);
    if (!rc)
        rc = walk_parent(st, f->path, 0, 1, &d, leaf, sizeof leaf);
    sn_node *const old = rc ? NULL : dir_find(d, leaf, &pos);
    if (!rc && old && old->n.type == NODE_DIR)
        rc = err_set(CAIRN_EEXIST, "%s: is a folder", f->path);
    /* the node it replaces may have jobs of its own in flight */
    if (!rc && old && old->fresh)
        rc = settle(st);
    /* from here on nothing may fail: the jobs write into the node's list */
    if (!rc)
        rc = dir_reserve(d);
    if (!rc) {
        n.n.name = strdup(leaf);
        if (!n.n.name)
            rc = err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (rc) {
        stream_file_abort(f);
        return rc;
    }
    n.n.type = NODE_FILE;
    n.n.mode = FILE_MODE;
    now_ts(&n.n.mtime_sec, &n.n.mtime_nsec);
    n.n.size = f->size;
    n.n.uid = (uint32_t)getuid();
    n.n.gid = (uint32_t)getgid();
    n.n.has_digest = 1;
    XXH128_canonicalFromHash((XXH128_canonical_t *)n.n.digest, XXH3_128bits_digest(f->xx));
    n.n.cipher = f->cipher;
    memcpy(n.n.cipher_key, f->cipher_key, TREE_CIPHER_KEY_LEN);
    n.fresh = 1;
    n.flush_gen = st->flushes;
    chunk_pipeline_lock(st->pipeline);
    n.n.chunks = f->chunks;
    n.n.fprints = f->fprints;
    n.n.nchunks = f->nchunks;
    n.n.cap_chunks = f->cap;
    f->installed = 1;
    chunk_pipeline_unlock(st->pipeline);
    st->stats.files_written++;
    st->stats.bytes_written += f->size;
    rc = dir_put(d, &n);
    file_release(f);
    return rc;
}

void stream_file_set_cipher(stream_file *f, uint8_t cipher, const uint8_t key[TREE_CIPHER_KEY_LEN])
{
    f->cipher = cipher;
    memcpy(f->cipher_key, key, TREE_CIPHER_KEY_LEN);
}

void stream_file_abort(stream_file *f)
{
    stream *const st = f->st;
    /* jobs write into f's chunk array: let them finish first */
    settle(st);
    st->open = NULL;
    st->have = 0;
    file_free(f);
}

cairn_err stream_put(stream *st, const char *path, const uint8_t *data, size_t len)
{
    stream_file *f = NULL;
    cairn_err rc = stream_file_begin(st, path, &f);
    if (rc)
        return rc;
    rc = stream_file_write(f, data, len);
    if (rc) {
        stream_file_abort(f);
        return rc;
    }
    return stream_file_end(f);
}

/* ---- other changes ---- */

static cairn_err check_writable(stream *st, const char *what)
{
    if (st->read_only || st->open)
        return err_set(CAIRN_EINVAL, "%s: the stream cannot change now", what);
    return CAIRN_OK;
}

cairn_err stream_mkdir(stream *st, const char *path)
{
    char leaf[TREE_NAME_MAX];
    sn_dir *d;
    size_t pos;
    cairn_err rc = check_writable(st, path);
    if (!rc)
        rc = walk_parent(st, path, 1, 1, &d, leaf, sizeof leaf);
    if (rc)
        return rc;
    const sn_node *const old = dir_find(d, leaf, &pos);
    if (old)
        return old->n.type == NODE_DIR ? CAIRN_OK
                                       : err_set(CAIRN_EEXIST, "%s: a file is in the way", path);
    sn_node n;
    rc = new_dir_node(leaf, strlen(leaf), &n);
    if (!rc && (rc = dir_insert(d, pos, &n)) != CAIRN_OK)
        node_free(&n);
    return rc;
}

cairn_err stream_remove(stream *st, const char *path)
{
    char leaf[TREE_NAME_MAX];
    sn_dir *d;
    size_t pos;
    cairn_err rc = check_writable(st, path);
    if (!rc)
        rc = settle(st);
    if (!rc)
        rc = walk_parent(st, path, 0, 1, &d, leaf, sizeof leaf);
    if (rc)
        return rc;
    if (!dir_find(d, leaf, &pos))
        return err_set(CAIRN_ENOTFOUND, "%s: no such file or folder", path);
    sn_node n = dir_take(d, pos);
    node_free(&n);
    return CAIRN_OK;
}

cairn_err stream_move(stream *st, const char *from, const char *to)
{
    char leaf_from[TREE_NAME_MAX], leaf_to[TREE_NAME_MAX];
    sn_dir *dfrom, *dto;
    size_t pos;
    const size_t flen = strlen(from);
    cairn_err rc = check_writable(st, from);
    if (rc)
        return rc;
    if (strcmp(from, to) == 0)
        return CAIRN_OK;
    if (strncmp(to, from, flen) == 0 && to[flen] == '/')
        return err_set(CAIRN_EINVAL, "%s: cannot move into itself (%s)", from, to);
    rc = settle(st);
    /* the destination's folder first: a failure there leaves from as it is */
    if (!rc)
        rc = walk_parent(st, to, 0, 1, &dto, leaf_to, sizeof leaf_to);
    if (!rc)
        rc = walk_parent(st, from, 0, 1, &dfrom, leaf_from, sizeof leaf_from);
    if (rc)
        return rc;
    if (!dir_find(dfrom, leaf_from, &pos))
        return err_set(CAIRN_ENOTFOUND, "%s: no such file or folder", from);
    char *const name = strdup(leaf_to);
    if (!name)
        return err_set(CAIRN_ENOMEM, "out of memory");
    sn_node n = dir_take(dfrom, pos);
    free(n.n.name);
    n.n.name = name;
    rc = dir_put(dto, &n);
    if (rc)
        node_free(&n);
    return rc;
}

cairn_err stream_copy(stream *st, const char *from, const char *to)
{
    char leaf[TREE_NAME_MAX];
    sn_dir *d;
    sn_node *src;
    sn_node n;
    cairn_err rc = check_writable(st, from);
    if (!rc)
        rc = settle(st);
    if (!rc)
        rc = lookup(st, from, &src);
    if (!rc && src == &st->root)
        rc = err_set(CAIRN_EINVAL, "the root cannot be copied");
    if (rc)
        return rc;
    const char *const slash = strrchr(to, '/');
    rc = clone_node(st, src, slash ? slash + 1 : to, &n);
    if (rc)
        return rc;
    rc = walk_parent(st, to, 0, 1, &d, leaf, sizeof leaf);
    if (!rc)
        rc = dir_put(d, &n);
    if (rc)
        node_free(&n);
    return rc;
}

/* ---- reading ---- */

static void entry_of(const sn_node *n, stream_entry *e)
{
    e->name = n->n.name;
    e->is_dir = n->n.type == NODE_DIR;
    e->size = n->n.type == NODE_FILE ? tree_source_size(&n->n) : 0;
    e->mtime = n->n.mtime_sec;
    e->decrypted = n->n.cipher != 0;
}

cairn_err stream_stat(stream *st, const char *path, stream_entry *out)
{
    sn_node *n;
    memset(out, 0, sizeof *out);
    const cairn_err rc = lookup(st, path, &n);
    if (!rc)
        entry_of(n, out);
    return rc;
}

cairn_err stream_list(stream *st, const char *path, stream_list_fn fn, void *ctx)
{
    sn_node *n;
    cairn_err rc = lookup(st, path, &n);
    if (!rc && n->n.type != NODE_DIR)
        rc = err_set(CAIRN_ENOTFOUND, "%s: not a folder", path);
    if (!rc)
        rc = dir_load(st, n);
    for (size_t i = 0; !rc && i < n->dir->count; i++) {
        stream_entry e;
        entry_of(&n->dir->items[i], &e);
        rc = fn(ctx, &e);
    }
    return rc;
}

void stream_set_encrypter(stream *st, const file_encrypter *encrypter)
{
    st->encrypter = encrypter;
}

cairn_err stream_read(stream *st, const char *path, stream_read_fn fn, void *ctx)
{
    sn_node *n;
    const file_encrypter *const fe = st->encrypter;
    void *enc = NULL;
    uint8_t *ct = NULL;
    size_t ct_cap = 0, ct_len = 0;
    cairn_err rc = lookup(st, path, &n);
    if (!rc && n->n.type != NODE_FILE)
        rc = err_set(CAIRN_ENOTFOUND, "%s: not a file", path);
    if (!rc && n->fresh && n->flush_gen >= st->flushes)
        rc = make_readable(st);
    if (!rc && fe && n->n.cipher && (rc = fe->open(fe->ctx, &n->n, &enc)) != CAIRN_OK)
        enc = NULL;
    for (uint32_t i = 0; !rc && i < n->n.nchunks; i++) {
        rc = store_get_chunk(st->s, st->w, n->n.chunks[i], &st->chunk);
        if (rc) {
            rc = err_wrap(rc, path);
        } else if (!enc) {
            rc = fn(ctx, st->chunk.data, st->chunk.len);
        } else {
            if (st->chunk.len + fe->block > ct_cap) {
                free(ct);
                ct_cap = st->chunk.len + fe->block;
                if (!(ct = malloc(ct_cap)))
                    rc = err_set(CAIRN_ENOMEM, "out of memory");
            }
            if (!rc)
                rc = fe->update(enc, st->chunk.data, st->chunk.len, ct, &ct_len);
            if (!rc && ct_len)
                rc = fn(ctx, ct, ct_len);
        }
    }
    if (!rc && enc) {
        uint8_t last[FILE_CIPHER_BLOCK_MAX];
        rc = fe->final(enc, last, &ct_len);
        if (rc)
            rc = err_wrap(rc, path);
        else if (ct_len)
            rc = fn(ctx, last, ct_len);
    }
    if (enc)
        fe->close(enc);
    free(ct);
    return rc;
}

typedef struct read_all_ctx {
    cbuf *out;
    size_t max;
    const char *path;
} read_all_ctx;

static cairn_err read_all_piece(void *ctx, const uint8_t *data, size_t len)
{
    read_all_ctx *const c = ctx;
    if (c->out->len + len > c->max)
        return err_set(CAIRN_ESOURCE, "%s: larger than %zu bytes", c->path, c->max);
    cbuf_put(c->out, data, len);
    return c->out->failed ? err_set(CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

cairn_err stream_read_all(stream *st, const char *path, size_t max, cbuf *out)
{
    read_all_ctx c = {out, max, path};
    cbuf_reset(out);
    return stream_read(st, path, read_all_piece, &c);
}

/* ---- committing ---- */

typedef struct counts {
    uint64_t files, dirs, bytes;
} counts;

static void count_node(const tree_node *n, counts *c)
{
    if (n->type == NODE_FILE) {
        c->files++;
        c->bytes += n->size;
    } else if (n->type == NODE_DIR) {
        c->dirs++;
    }
}

/* Counts what a folder that was never loaded holds, from its stored tree. */
static cairn_err count_stored(stream *st, const tree_node *dir, counts *c)
{
    tree t;
    if (dir->nchunks == 0)
        return CAIRN_OK;
    tree_init(&t);
    cairn_err rc =
        treestore_load(st->s, st->w, (const uint8_t(*)[ID_LEN])dir->chunks, dir->nchunks, &t);
    for (size_t i = 0; !rc && i < t.count; i++) {
        count_node(&t.nodes[i], c);
        if (t.nodes[i].type == NODE_DIR)
            rc = count_stored(st, &t.nodes[i], c);
    }
    tree_free(&t);
    return rc;
}

/* Counts what an unchanged folder holds. */
static cairn_err count_clean(stream *st, const sn_node *dir, counts *c)
{
    if (!dir->dir)
        return count_stored(st, &dir->n, c);
    cairn_err rc = CAIRN_OK;
    for (size_t i = 0; !rc && i < dir->dir->count; i++) {
        const sn_node *const item = &dir->dir->items[i];
        count_node(&item->n, c);
        if (item->n.type == NODE_DIR)
            rc = count_clean(st, item, c);
    }
    return rc;
}

/* Stores d's tree (changed subfolders first; a change marks every folder
 * above it changed) and counts what it holds. */
static cairn_err save_dir(stream *st, sn_dir *d, uint8_t (**ids)[ID_LEN], uint32_t *n, counts *c)
{
    tree t;
    treestore_stats ts = {0, 0, 0};
    cairn_err rc = CAIRN_OK;
    tree_init(&t);
    if (d->count) {
        t.nodes = malloc(d->count * sizeof *t.nodes);
        if (!t.nodes)
            return err_set(CAIRN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < d->count; i++) {
        sn_node *const item = &d->items[i];
        count_node(&item->n, c);
        if (item->n.type != NODE_DIR)
            continue;
        if (!item->dir || !item->dir->dirty) {
            rc = count_clean(st, item, c);
            continue;
        }
        uint8_t(*sub)[ID_LEN] = NULL;
        uint32_t nsub = 0;
        rc = save_dir(st, item->dir, &sub, &nsub, c);
        if (!rc) {
            free(item->n.chunks);
            item->n.chunks = sub;
            item->n.nchunks = item->n.cap_chunks = nsub;
            item->dir->dirty = 0;
        }
    }
    if (!rc) {
        /* shallow copies: the folder keeps owning names and chunk lists */
        for (size_t i = 0; i < d->count; i++)
            t.nodes[i] = d->items[i].n;
        t.count = d->count;
        rc = treestore_save(st->s, st->w, &st->ck, &t, ids, n, &ts);
    }
    free(t.nodes);
    st->stats.new_chunks += ts.new_chunks;
    st->stats.new_bytes += ts.new_bytes;
    st->stats.new_raw += ts.new_raw;
    return rc;
}

cairn_err stream_commit(stream *st, const stream_commit_opts *opts, stream_result *out)
{
    snapshot snap;
    cbuf enc;
    counts c = {0, 0, 0};
    char host[256], buf[64];
    memset(&snap, 0, sizeof snap);
    memset(out, 0, sizeof *out);
    cbuf_init(&enc);
    cairn_err rc = check_writable(st, "commit");
    if (!rc)
        rc = settle(st);
    stop_workers(st);
    if (!rc)
        rc = save_dir(st, st->root.dir, &snap.tree, &snap.ntree, &c);
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    now_ts(&snap.time_sec, &snap.time_nsec);
    snap.hostname = strdup(host);
    snap.source = strdup(opts->source);
    snap.chain = strdup(opts->chain);
    if (!rc && (!snap.hostname || !snap.source || !snap.chain))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    if (!rc && opts->parent) {
        snap.has_parent = 1;
        memcpy(snap.parent, opts->parent->id, ID_LEN);
    }
    if (!rc && opts->catalog) {
        treestore_stats ts = {0, 0, 0};
        rc = catalog_save(st->s, st->w, &st->ck, opts->catalog, &snap.catalog, &snap.ncatalog, &ts);
        st->stats.new_chunks += ts.new_chunks;
        st->stats.new_bytes += ts.new_bytes;
        st->stats.new_raw += ts.new_raw;
    }
    snap.flags = opts->flags | (opts->errors ? SNAP_PARTIAL : 0);
    snap.files = c.files;
    snap.dirs = c.dirs;
    snap.bytes = c.bytes;
    stream_stats added;
    current_stats(st, &added);
    snap.new_chunks = added.new_chunks;
    snap.new_bytes = added.new_bytes;
    snap.new_raw = added.new_raw;
    snap.errors = opts->errors;
    snprintf(buf, sizeof buf, "%o", (unsigned)DIR_MODE);
    if (!rc)
        rc = snapshot_set_meta(&snap, SNAP_META_ROOT_MODE, buf);
    snprintf(buf, sizeof buf, "%lld.%09u", (long long)snap.time_sec, (unsigned)snap.time_nsec);
    if (!rc)
        rc = snapshot_set_meta(&snap, SNAP_META_ROOT_MTIME, buf);
    for (size_t i = 0; i < opts->nmeta && !rc; i++)
        rc = snapshot_set_meta(&snap, opts->meta[i].key, opts->meta[i].value);
    if (!rc)
        rc = snapshot_encode(&snap, &enc);
    /* everything the snapshot refers to must be durable before it exists */
    if (!rc)
        rc = store_flush(st->s);
    if (!rc)
        rc = store_put_snapshot(st->s, enc.data, enc.len, out->id);
    if (!rc) {
        st->unflushed = 0;
        st->read_only = 1; /* committed: nothing more to change */
        out->files = c.files;
        out->dirs = c.dirs;
        out->bytes = c.bytes;
        out->stats = added;
    }
    snapshot_free(&snap);
    cbuf_free(&enc);
    return rc;
}
