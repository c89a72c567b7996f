/* mount.h - the FUSE front-end: a store's snapshots as a read-only file
 * system (libfuse3), through the engine's browse API (snapshot_files.h).
 *
 *   DIR/devices/<device name>/<date-time>/<domain>/<path...>
 *   DIR/devices/<device name>/latest            -> the newest <date-time>
 *   DIR/devices/<device name>/archived/<chain>/<date-time>/...
 *   DIR/snapshots/<short id>/...                 folder snapshots
 *
 * <date-time> is the snapshot's local time, "YYYY-MM-DD_HH-MM-SS" (with
 * "_<short id>" added when two share a second); <chain> is what follows
 * "device:<udid>/" in an archived chain's name.  A snapshot stored as
 * Apple ciphertext holds only a README saying so.  Names, sizes, modes and
 * mtimes are the snapshot's; every file and folder belongs to the user who
 * mounted.
 *
 * mount_run serves in the calling thread (with worker threads of its own)
 * until the file system is unmounted (fusermount3 -u DIR) or the process
 * gets SIGINT, SIGTERM or SIGHUP, then unmounts cleanly (lazily, should a
 * file still be open) and returns.  The store must stay open meanwhile. */
#ifndef CAIRN_MOUNT_H
#define CAIRN_MOUNT_H

#include <stddef.h>

#include "util/err.h"
#include "util/module.h"
#include "store/store.h"

typedef struct mount_opts {
    const char *dir;    /* an existing, empty folder */
    size_t cache_bytes; /* opened chunks kept in memory; 0: the default (64 MiB) */
    /* Called once the file system is mounted and about to serve. */
    void (*ready)(void *ctx, const char *dir);
    /* A read that failed (a damaged or missing chunk), as the path inside
     * the mount and the one-line message; the reader gets EIO. */
    void (*warn)(void *ctx, const char *path, const char *message);
    void *ctx;
} mount_opts;

/* CAIRN_ENOTFOUND when dir is not a folder; CAIRN_EIO, naming dir, when
 * FUSE cannot mount here (no /dev/fuse, not permitted); CAIRN_OK after a
 * clean unmount. */
cairn_err mount_run(store *s, const mount_opts *o);

/* mount/ is the module cairn-mount.so (util/module.h), the only part of
 * cairn that links libfuse3: cli/ loads it and calls ops->run. */
typedef struct mount_module_ops {
    cairn_err (*run)(store *s, const mount_opts *o);
} mount_module_ops;
extern const cairn_module mount_module;

#endif
