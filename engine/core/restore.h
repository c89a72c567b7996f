/* restore.h - a snapshot back into a folder: same names, bytes, layout,
 * modes and mtimes.
 *
 * A file is written under a hidden temporary name beside its final one
 * (".NAME" RESTORE_PART_SUFFIX) and renamed when whole, so an interrupted
 * restore never leaves a truncated file under its real name.  While
 * restore_run works, the target folder holds RESTORE_MARKER, a note saying
 * the restore is incomplete; it is removed when the run ends (also when
 * some files could not be restored: those are reported), and stays when
 * the run is killed or stops on an error. */
#ifndef CAIRN_RESTORE_H
#define CAIRN_RESTORE_H

#include "store/store.h"
#include "engine/core/file_cipher.h"
#include "engine/core/progress.h"
#include "engine/core/snapshot.h"
#include "engine/core/tree.h"

#define RESTORE_PART_SUFFIX ".cairn-part"
#define RESTORE_MARKER ".cairn-restore-incomplete"

typedef void (*restore_warn_fn)(void *ctx, const char *path, const char *message);

typedef struct restore_opts {
    const char *target;
    int overwrite;                   /* allow a non-empty target; existing files are replaced */
    int threads;                     /* 0: one per core */
    const file_encrypter *encrypter; /* re-encrypt files the source stored
                                      * encrypted; NULL: write their plaintext */
    uint64_t cache_bytes;            /* restored bytes left to the kernel's own writeback
                                      * before large files are written behind; 0: a tenth
                                      * of the memory */
    restore_warn_fn warn;            /* a file that could not be restored; the rest goes on */
    void *warn_ctx;
    const work_hooks *hooks; /* progress (totals from the snapshot) and stop; NULL: neither.
                              * Stopped: CAIRN_EINTERRUPTED, the files restored so far in
                              * result */
} restore_opts;

typedef struct restore_result {
    uint64_t files;
    uint64_t dirs;
    uint64_t bytes;
    uint64_t failed; /* files not restored (each reported through warn) */
} restore_result;

/* Writes one file node's content to path with the given mode and mtime,
 * verifying every chunk; on failure nothing is left at path (nor under
 * its temporary name), and with overwrite the file that was there stays.  With an
 * encrypter, a
 * node the source stored encrypted is written as that exact ciphertext. */
cairn_err restore_node(store *s, store_worker *w, const tree_node *n,
                       const file_encrypter *encrypter, const char *path, int overwrite,
                       uint32_t mode, int64_t mtime_sec, uint32_t mtime_nsec, cbuf *buf,
                       uint64_t *written);

/* CAIRN_EPARTIAL when some files could not be restored. */
cairn_err restore_run(store *s, const snapshot *snap, const restore_opts *opts,
                      restore_result *result);

#endif
