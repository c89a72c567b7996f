/* snapshot_edit.h - a snapshot built from operations rather than a folder walk.
 *
 * A stream starts from a base snapshot's tree (or from nothing) and is
 * changed by operations: files written in pieces, folders made, items
 * removed, moved and copied.  It can be read while it is built (listing a
 * folder, a file's bytes), which is what lets a device talk to it as if it
 * were a backup folder on disk.  File data goes through the chunker to a
 * pool of workers that hash, compress, seal and pack it, so nothing is
 * staged on disk and memory stays bounded whatever the file sizes.
 *
 * Only what an operation touches is loaded: an untouched folder keeps the
 * chunk list of its stored tree and costs nothing at commit.  Commit writes
 * the snapshot object after store_flush; a stream freed without commit
 * leaves at most unreferenced chunks (freed by prune), like a killed backup.
 *
 * Paths are relative to the snapshot's root ("ab/abcdef...", "Status.plist"):
 * components separated by single '/', never empty, "." or "..".
 *
 * One thread drives a stream (its workers are internal); at most one file
 * is open for writing at a time. */
#ifndef CAIRN_STREAM_H
#define CAIRN_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "util/codec.h"
#include "store/store.h"
#include "engine/core/catalog.h"
#include "engine/core/file_cipher.h"
#include "engine/core/tree.h"
#include "engine/core/snapshot.h"

typedef struct stream stream;
typedef struct stream_file stream_file;

typedef struct stream_opts {
    const snapshot *base; /* the tree to start from; NULL: an empty root */
    int threads;          /* workers; 0: one per core */
    int read_only;        /* only list and read (no workers, no commit) */
} stream_opts;

cairn_err stream_begin(store *s, const stream_opts *opts, stream **out);

/* Frees the stream; without a commit nothing is recorded. */
void stream_free(stream *st);

/* ---- building ---- */

/* Opens path for writing; the file replaces whatever is there when it is
 * ended.  Its folder must exist (CAIRN_ENOTFOUND) and path must not name a
 * folder (CAIRN_EEXIST). */
cairn_err stream_file_begin(stream *st, const char *path, stream_file **out);
cairn_err stream_file_write(stream_file *f, const uint8_t *data, size_t len);
/* Installs the file and frees f (also on failure). */
cairn_err stream_file_end(stream_file *f);
/* Drops the file: the tree is left as it was. */
void stream_file_abort(stream_file *f);

/* Compares f's chunks (by fingerprint, docs/DESIGN.md "Change detection")
 * with those of the file at path, when f's own path had no such file: for
 * a file received under a temporary name and moved into place later (the
 * device's Snapshot/Manifest.db).  Best effort, before the first write. */
void stream_file_compare_with(stream_file *f, const char *path);

/* Marks the file's bytes as the decryption of what the source stored
 * encrypted (tree.h: TREE_CIPHER_* and the wrapped key). */
void stream_file_set_cipher(stream_file *f, uint8_t cipher, const uint8_t key[TREE_CIPHER_KEY_LEN]);

/* The whole of a small file at once (begin, write, end). */
cairn_err stream_put(stream *st, const char *path, const uint8_t *data, size_t len);

/* Makes a folder and its missing parents; an existing folder is fine, an
 * existing file is CAIRN_EEXIST. */
cairn_err stream_mkdir(stream *st, const char *path);

/* Removes a file or a whole folder: CAIRN_ENOTFOUND if nothing is there. */
cairn_err stream_remove(stream *st, const char *path);

/* Renames from to to, replacing what to names; to's folder must exist. */
cairn_err stream_move(stream *st, const char *from, const char *to);

/* Copies a file or a whole folder (chunk lists are shared, no data moves). */
cairn_err stream_copy(stream *st, const char *from, const char *to);

/* ---- reading ---- */

typedef struct stream_entry {
    const char *name;
    int is_dir;
    uint64_t size; /* files: content bytes */
    int64_t mtime; /* Unix seconds */
    int decrypted; /* files: stored decrypted (tree.h cipher fields) */
} stream_entry;

/* What path is: CAIRN_ENOTFOUND if nothing (out->name is NULL). */
cairn_err stream_stat(stream *st, const char *path, stream_entry *out);

/* Calls fn for each item of the folder at path ("" is the root), by name.
 * CAIRN_ENOTFOUND if there is no folder there. */
typedef cairn_err (*stream_list_fn)(void *ctx, const stream_entry *e);
cairn_err stream_list(stream *st, const char *path, stream_list_fn fn, void *ctx);

/* With an encrypter, files stored decrypted (tree.h cipher fields) are read
 * as the source's exact ciphertext, as restore writes them; NULL: as stored.
 * The encrypter must outlive the reads. */
void stream_set_encrypter(stream *st, const file_encrypter *encrypter);

/* Hands a file's bytes to fn in order, each chunk verified on the way.
 * CAIRN_ENOTFOUND if there is no file there. */
typedef cairn_err (*stream_read_fn)(void *ctx, const uint8_t *data, size_t len);
cairn_err stream_read(stream *st, const char *path, stream_read_fn fn, void *ctx);

/* A whole file of at most max bytes (plists): CAIRN_ESOURCE if larger. */
cairn_err stream_read_all(stream *st, const char *path, size_t max, cbuf *out);

/* ---- committing ---- */

typedef struct stream_stats {
    uint64_t files_written; /* files ended in this stream */
    uint64_t bytes_written; /* their bytes */
    uint64_t new_chunks;
    uint64_t new_bytes; /* sealed bytes added to packs */
    uint64_t new_raw;
    uint64_t reused_chunks; /* chunks given the replaced file's ID by
                             * fingerprint: not hashed or stored */
    uint64_t reused_bytes;
} stream_stats;

/* Live counters (for progress). */
void stream_get_stats(stream *st, stream_stats *out);

typedef struct stream_commit_opts {
    const char *source;        /* what was backed up, as shown to users */
    const char *chain;         /* the chain the snapshot joins */
    const snapshot *parent;    /* recorded as its parent (newest of chain), or NULL */
    uint32_t flags;            /* SNAP_PARTIAL, SNAP_INCOMPLETE */
    uint64_t errors;           /* items that could not be stored */
    const snapshot_meta *meta; /* kept in the snapshot */
    size_t nmeta;
    const catalog *catalog; /* device backups: the file table, or NULL */
} stream_commit_opts;

typedef struct stream_result {
    uint8_t id[ID_LEN];
    uint64_t files;
    uint64_t dirs;
    uint64_t bytes;
    stream_stats stats;
} stream_result;

/* Waits for the workers, stores the changed trees, makes everything durable
 * (store_flush) and only then writes the snapshot object. */
cairn_err stream_commit(stream *st, const stream_commit_opts *opts, stream_result *out);

#endif
