/* snapshot_files.h - one snapshot opened for browsing (prefix snapfiles_):
 * what the mount and the web page read files through, without restoring
 * anything.
 *
 * Contract:
 *  - Paths are relative to the snapshot's root, '/'-separated, without a
 *    leading or trailing '/' ("" is the root).  A device snapshot is seen
 *    as <domain>/<path...> from its catalog (real names, sizes, modes,
 *    mtimes; folders the catalog implies but does not list appear as
 *    folders); a folder snapshot as its tree.  "." and ".." components are
 *    never accepted (CAIRN_ENOTFOUND).
 *  - A snapshot stored as Apple ciphertext (an encrypted device backup kept
 *    without its password) has no browsable content: snapfiles_ciphertext
 *    says so, its root is an empty folder, and snapfiles_ciphertext_note is
 *    the text a front-end shows instead (a README).  Ciphertext is never
 *    served as if it were content.
 *  - Reads are random access: a read at offset X fetches only the chunks
 *    that cover [X, X+len), each opened (decompressed, authenticated) once
 *    into a snapfiles_cache shared by every reader, bounded in bytes
 *    (least recently used chunks leave first).  No whole-file staging.
 *  - Thread safety: a snapfiles_cache, a snapfiles and a snapfiles_file may
 *    be used from any number of threads at once (FUSE threads, HTTP
 *    connections).  The store must outlive the cache and every snapfiles
 *    opened on it; the cache must outlive the snapfiles that use it; a
 *    snapfiles must outlive its open files.
 *  - Errors: CAIRN_ENOTFOUND (naming the path) for a path that does not
 *    exist, CAIRN_EINVAL for a file operation on a folder or the reverse,
 *    CAIRN_ECORRUPT / CAIRN_EIO when the store cannot give a chunk. */
#ifndef CAIRN_SNAPSHOT_FILES_H
#define CAIRN_SNAPSHOT_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "store/store.h"
#include "engine/core/snapshot.h"

typedef struct snapfiles_cache snapfiles_cache;
typedef struct snapfiles snapfiles;
typedef struct snapfiles_file snapfiles_file;

enum snapfiles_type { SNAPFILES_FILE = 1, SNAPFILES_DIR = 2, SNAPFILES_SYMLINK = 3 };

typedef struct snapfiles_stat {
    int type;      /* enum snapfiles_type */
    uint32_t mode; /* permission bits (07777) */
    uint64_t size; /* content bytes (files), target length (symlinks), 0 (folders) */
    int64_t mtime_sec;
    uint32_t mtime_nsec;
} snapfiles_stat;

/* A bounded cache of opened chunks, shared by every snapshot opened on s.
 * max_bytes bounds the plaintext it keeps (0: a default of 64 MiB); a chunk
 * larger than the bound is read without being kept. */
cairn_err snapfiles_cache_new(store *s, size_t max_bytes, snapfiles_cache **out);
void snapfiles_cache_free(snapfiles_cache *c);

typedef struct snapfiles_cache_stats {
    size_t bytes;     /* plaintext kept now (<= the bound) */
    size_t chunks;    /* chunks kept now */
    uint64_t fetches; /* chunks read from the store so far */
    uint64_t hits;    /* reads served from the cache so far */
} snapfiles_cache_stats;
void snapfiles_cache_get_stats(snapfiles_cache *c, snapfiles_cache_stats *out);

/* Opens sn (copied: the caller may free it after) for browsing; a device
 * snapshot's catalog is loaded here. */
cairn_err snapfiles_open(snapfiles_cache *c, const snapshot *sn, snapfiles **out);
void snapfiles_close(snapfiles *f);

/* 1 for a snapshot stored as Apple ciphertext (see the contract above). */
int snapfiles_ciphertext(const snapfiles *f);
/* The README text for such a snapshot (static, one paragraph, ends in '\n'). */
const char *snapfiles_ciphertext_note(void);

cairn_err snapfiles_stat_path(snapfiles *f, const char *path, snapfiles_stat *st);

/* Calls fn for each entry of the folder at path, sorted by name; a
 * non-CAIRN_OK result of fn stops the walk and is returned. */
typedef cairn_err (*snapfiles_list_fn)(void *ctx, const char *name, const snapfiles_stat *st);
cairn_err snapfiles_list(snapfiles *f, const char *path, snapfiles_list_fn fn, void *ctx);

/* A symlink's target (*target malloc'd). */
cairn_err snapfiles_readlink(snapfiles *f, const char *path, char **target);

/* Opens the regular file at path for reading. */
cairn_err snapfiles_file_open(snapfiles *f, const char *path, snapfiles_file **out);
uint64_t snapfiles_file_size(const snapfiles_file *h);
/* Reads up to len bytes at off into buf; *got is less than len only at the
 * end of the file (0 at or past it). */
cairn_err snapfiles_read(snapfiles_file *h, uint64_t off, void *buf, size_t len, size_t *got);
void snapfiles_file_close(snapfiles_file *h);

#endif
