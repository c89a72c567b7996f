/* backup.h - a folder into a new snapshot.
 *
 * The calling thread walks the source; worker threads read the changed
 * files, cut them into chunks, and hash, compress, seal and pack the
 * chunks: a file cut at fixed offsets (media) in pieces, each worker its
 * own, a file cut by content whole, by one worker (a task).  Either way the
 * same chunks, digest and fingerprints as when the calling thread reads it,
 * which it still does for files the source stores encrypted (one CBC
 * stream).  Files whose size, mtime and inode match the parent snapshot are
 * not read at all. */
#ifndef CAIRN_BACKUP_H
#define CAIRN_BACKUP_H

#include "store/store.h"
#include "engine/core/catalog.h"
#include "engine/core/file_cipher.h"
#include "engine/core/progress.h"
#include "engine/core/snapshot.h"
#include "engine/core/snapshot_list.h"

typedef void (*backup_warn_fn)(void *ctx, const char *path, const char *message);

typedef struct backup_opts {
    const char *source;   /* folder to back up */
    const char *chain;    /* chain name; NULL: "path:<absolute source>" */
    int threads;          /* workers; 0: one per core */
    int force_read;       /* read every file even if unchanged */
    uint32_t extra_flags; /* snapshot flags to set (SNAP_INCOMPLETE) */
    const snapshot_meta *meta;
    size_t nmeta;
    const catalog *catalog;               /* device backups: the file table to keep */
    const uint8_t (*catalog_ids)[ID_LEN]; /* or (ncatalog_ids > 0, catalog ignored)
                                           * one already stored (the parent's,
                                           * unchanged): its chunks kept as they are */
    uint32_t ncatalog_ids;
    const file_decoder *decoder; /* a source that encrypts some files (an iOS
                                  * backup opened with its password): they
                                  * are stored decrypted, with their wrapped
                                  * keys; NULL: every file as it is */
    const snaplist *snaps;       /* the store's snapshots when the caller has
                                  * them loaded; NULL: loaded here */
    backup_warn_fn warn;         /* unreadable items; the backup goes on */
    void *warn_ctx;
    const work_hooks *hooks; /* progress (files and bytes of the source, counted
                              * first when progress is wanted) and stop; NULL:
                              * neither.  Stopped: CAIRN_EINTERRUPTED and no
                              * snapshot (chunks already packed stay for the
                              * next backup to reuse, or prune) */
    int read_serial;         /* every file read and cut by the calling
                              * thread (as before the workers read): the
                              * same snapshot, for tests to compare */
} backup_opts;

typedef struct backup_result {
    uint8_t id[ID_LEN];
    int has_parent;
    uint8_t parent[ID_LEN];
    uint64_t files;
    uint64_t dirs;
    uint64_t bytes;
    uint64_t bytes_read; /* file bytes actually read (changed files) */
    uint64_t files_read;
    uint64_t new_chunks;
    uint64_t new_bytes;
    uint64_t new_raw;
    uint64_t reused_chunks; /* chunks of changed files whose fingerprint
                             * matched the parent's: not hashed or stored */
    uint64_t reused_bytes;
    uint64_t errors;
} backup_result;

/* CAIRN_EPARTIAL when the snapshot was written but some items could not be
 * read (each reported through warn). */
cairn_err backup_run(store *s, const backup_opts *opts, backup_result *result);

/* What cairn init may choose for a new store (docs/BENCHMARKS.md says how
 * the defaults were measured). */
enum {
    BACKUP_CHUNK_DEFAULT = -1,                    /* a fixed chunk size: the default */
    BACKUP_SQLITE_CHUNK_DEFAULT = 16 * 1024,      /* SQLite: page-aligned fixed chunks */
    BACKUP_MEDIA_CHUNK_DEFAULT = 4 * 1024 * 1024, /* media: the largest chunk */
    BACKUP_ZSTD_LEVEL_DEFAULT = 2, /* on 16 KiB SQLite chunks: smaller than 1, as fast */
};
typedef struct backup_store_choice {
    int zstd_level;       /* 0: BACKUP_ZSTD_LEVEL_DEFAULT */
    int64_t sqlite_chunk; /* bytes; 0: FastCDC for SQLite too; BACKUP_CHUNK_DEFAULT */
    int64_t media_chunk;  /* bytes; 0: FastCDC and compression tried; BACKUP_CHUNK_DEFAULT */
    int sqlite_fixed;     /* SQLite in fixed page-aligned chunks, not FastCDC */
} backup_store_choice;

/* A new store with cairn's chunking and packing defaults and what choice
 * (NULL: all defaults) sets (cairn init).  CAIRN_EINVAL names a size or
 * level out of range. */
cairn_err backup_store_create(const char *path, const char *password, size_t password_len,
                              const keys_kdf *kdf, const backup_store_choice *choice);

#endif
