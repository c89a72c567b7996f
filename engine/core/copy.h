/* copy.h - copies of a store on a target (folder, SFTP, S3), and back.
 *
 * A target is a complete store: config, key files, packs, chain records
 * and snapshot objects, byte for byte as the store holds them (never
 * decrypted, never the local index, locks or temporary files).  One
 * algorithm syncs in both directions: copy_push sends a local store to a
 * target, copy_fetch brings a target into a local mirror folder (for
 * restore and check of a network target).
 *
 * Order, so that a reader of the destination never sees a snapshot whose
 * data is missing, and a copy killed at any moment leaves it consistent:
 * key files, config, missing packs, chain records, snapshot objects; then,
 * with the new state complete, deletions mirrored from the source
 * (snapshots and chain records first, then packs, then key files).  Every
 * object is put atomically and verified by the backend, so an interrupted
 * copy resumes by sending only what did not arrive whole. */
#ifndef CAIRN_COPY_H
#define CAIRN_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/progress.h"
#include "store/backend/backend.h"
#include "store/store.h"

struct copy_result;

typedef struct copy_opts {
    /* push: only these snapshots and the packs they need (NULL: everything) */
    const uint8_t (*only)[SNAPSHOT_ID_LEN];
    size_t nonly;
    /* fetch: download every object again, replacing the mirror's copy (so a
     * check reads what the target holds now) */
    int refetch;
    /* fetch: everything but the packs (a copy_view reads those on demand) */
    int no_packs;
    /* called after every object transferred, with the counts so far (NULL:
     * quiet); a copy of a whole store to a slow target takes hours */
    void (*progress)(void *ctx, const struct copy_result *so_far);
    void *progress_ctx;
    /* progress over the objects to send (phase "copy", unit "objects") and
     * stop (CAIRN_EINTERRUPTED between objects: the destination is as a
     * kill would leave it, consistent); NULL: neither */
    const work_hooks *hooks;
    /* copy_to_url: when another cairn holds the target's lock, wait up to
     * this long (0: CAIRN_ELOCKED at once), calling waiting once */
    unsigned wait_seconds;
    void (*waiting)(void *ctx, const char *url);
    void *waiting_ctx;
    /* push: an append-only target: nothing there is ever deleted or
     * overwritten (forget and prune are not mirrored; a chain record that
     * changed here, or an object held there with another size, is left as
     * it is and counted in kept; leftovers of interrupted uploads stay) */
    int append_only;
    /* push: a copy that would delete more than this percentage of the
     * target's snapshots, or of its pack bytes, is refused before anything
     * is sent (CAIRN_EREFUSED) unless allow_deletes; 0: COPY_MAX_DELETE_DEFAULT */
    unsigned max_delete_percent;
    int allow_deletes;
} copy_opts;

enum { COPY_MAX_DELETE_DEFAULT = 50 };

typedef struct copy_result {
    uint64_t objects;   /* transferred */
    uint64_t bytes;     /* payload bytes transferred (as the backend counted them) */
    uint64_t packs;     /* of the objects: packs */
    uint64_t snapshots; /* of the objects: snapshot objects */
    uint64_t present;   /* already at the destination, not sent */
    uint64_t deleted;   /* removed at the destination (gone at the source) */
    uint64_t kept;      /* append-only: objects held there otherwise, left as they are */
    uint8_t (*held)[SNAPSHOT_ID_LEN]; /* snapshots the destination holds now (malloc'd) */
    size_t nheld;
} copy_result;

void copy_result_free(copy_result *r);

/* Sends the open store s (held open as a reader, so prune cannot delete
 * packs under the copy) to dst.  A destination written by another store
 * (different config), or holding objects that are not this store's, is
 * refused (CAIRN_EEXIST). */
cairn_err copy_push(store *s, backend *dst, const copy_opts *opts, copy_result *r);

/* Brings src into the local folder mirror (created if needed) so that it
 * can be opened with store_open.  The mirror is a cache: one that holds
 * another store is emptied first.  CAIRN_ENOSTORE if src holds no store. */
cairn_err copy_fetch(backend *src, const char *mirror, const copy_opts *opts, copy_result *r);

/* ${XDG_CACHE_HOME:-~/.cache}/cairn/targets/<hash of url>: the mirror of a
 * network target. */
cairn_err copy_mirror_dir(const char *url, char *out, size_t cap);

/* Takes the local lock of a target URL (<mirror>.lock, exclusive, not
 * waiting): one copy or fetch per target at a time.  CAIRN_ELOCKED if
 * another cairn holds it.  Release with copy_unlock. */
cairn_err copy_lock(const char *url, int *fd);
void copy_unlock(int fd);

/* The whole copy to one target, as the front-ends run it: its lock, the
 * backend for url, copy_push, then everything closed.  The message of a
 * failure is the copy's own (a backend's close cannot overwrite it). */
cairn_err copy_to_url(store *s, const char *url, const copy_opts *opts, copy_result *r);

/* The folder a target opens from with store_open: a folder target itself
 * (*fetched 0), else its local mirror brought up to date under the
 * target's lock (*fetched 1, r says what came; every object is downloaded
 * again with opts->refetch, so a check reads what the target holds now). */
cairn_err copy_target_folder(const char *url, const copy_opts *opts, char *out, size_t cap,
                             int *fetched, copy_result *r);

/* ---- a network target opened for reading, fetching only what is read ----
 *
 * The target's small objects (config, key files, snapshot objects, chain
 * records) are brought into its local cache folder (copy_mirror_dir) as
 * copy_fetch brings them; its packs stay there until a chunk in one is
 * read: the index is filled from the pack trailers, read by range (S3
 * Range, SFTP seek), and a pack is fetched whole into the cache on first
 * need.  The packs in the cache are kept to cache_max bytes, the least
 * recently used removed first (the pack being read is never removed, so one
 * larger than the limit still works).  The target's lock is held from open
 * to close: one cairn reads or copies a target at a time. */

typedef struct copy_view copy_view;

enum { COPY_CACHE_DEFAULT_MB = 256 };

/* Opens url (a network target; a folder target needs no cache and is opened
 * with store_open) and fetches its small objects (r says what came). */
cairn_err copy_view_open(const char *url, uint64_t cache_max, const copy_opts *opts,
                         copy_view **out, copy_result *r);
/* The store of the view (store_open_remote); close it before the view. */
cairn_err copy_view_store(copy_view *v, const char *password, size_t password_len, store **out);
/* The cache folder, and the payload bytes downloaded since copy_view_open
 * (small objects, trailers and packs). */
const char *copy_view_folder(const copy_view *v);
uint64_t copy_view_bytes(const copy_view *v);
/* The objects fetched whole since copy_view_open (small objects, packs). */
uint64_t copy_view_objects(const copy_view *v);
/* The bytes of packs in the cache now. */
uint64_t copy_view_cached(const copy_view *v);
/* Trims the cache to its limit and closes everything (NULL is fine). */
void copy_view_close(copy_view *v);

/* Removes the local cache folder of a target URL and its lock (target
 * remove); nothing there is not a cache. */
cairn_err copy_cache_remove(const char *url);

/* The snapshot IDs of a store folder, read from its file names (no
 * password needed: for reports). */
cairn_err copy_store_snapshots(const char *store_dir, uint8_t (**ids)[SNAPSHOT_ID_LEN],
                               size_t *count);

#endif
