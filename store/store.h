/* store.h - a cairn store: config, keys, packs, snapshot objects, the index
 * and the locks that let one writer and many readers share it.
 *
 * Layout (docs/FORMAT.md; the names are built and parsed in store/layout.h):
 *   config            format version (plain) + sealed store parameters
 *   keys/<id>         key files (0600)
 *   packs/xx/<id>     pack files
 *   snapshots/<id>    sealed snapshot objects
 *   chains/<id>       sealed chain records (archived chains)
 *   tmp/              packs being written
 *   index/            LMDB index (a cache; elsewhere if the store is remote)
 *   lock              flock()ed by the one writer
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/codec.h"
#include "util/err.h"
#include "store/keys.h"
#include "store/layout.h"
#include "store/pack.h"
#include "store/session_key.h"

enum { STORE_FORMAT_VERSION = 1, SNAPSHOT_ID_LEN = 32 };

typedef struct store store;
typedef struct store_worker store_worker;

typedef struct store_params {
    uint32_t chunk_min;
    uint32_t chunk_avg;
    uint32_t chunk_max;
    uint32_t pack_target; /* a pack is closed once it reaches this size */
    int zstd_level;
    /* Content-aware chunking (0: off, FastCDC with the sizes above for
     * everything, as in stores made before it existed).  A SQLite database
     * is cut with FastCDC at sqlite_chunk on average (min a quarter, max
     * four times, at most chunk_max), or with STORE_SQLITE_FIXED at fixed
     * page-aligned boundaries every sqlite_chunk bytes (a page larger than
     * that is one chunk).  Media (HEIC, JPEG, PNG, MOV/MP4 by magic bytes)
     * is cut every media_chunk bytes and stored without a compression
     * attempt.  Sizes are powers of two from 512 to chunk_max. */
    uint32_t sqlite_chunk;
    uint32_t media_chunk;
    uint32_t chunk_flags; /* STORE_SQLITE_FIXED */
} store_params;

enum { STORE_SQLITE_FIXED = 1 };

/* What store_put_chunk is told about a chunk. */
enum store_chunk_flags {
    STORE_CHUNK_TREE = 1,    /* part of an encoded tree */
    STORE_CHUNK_NO_ZSTD = 2, /* known not to compress: seal it as it is */
    STORE_CHUNK_ZSTD = 4,    /* known to compress (SQLite pages): no probe first */
};

enum store_flags {
    STORE_WRITE = 1,      /* take the writer lock (backup, index rebuild) */
    STORE_NO_SESSION = 2, /* the password only, never an unlocked session (unlock, key) */
};

/* Resolves the store path: explicit, else $CAIRN_STORE, else
 * $XDG_DATA_HOME/cairn/store, else ~/.local/share/cairn/store. */
cairn_err store_default_path(const char *explicit_path, char *out, size_t cap);

cairn_err store_create(const char *path, const char *password, size_t password_len,
                       const keys_kdf *kdf, const store_params *params);

/* Is there a store at path that this cairn reads?  Checks the folder and
 * its config header only (no password): CAIRN_ENOSTORE, CAIRN_EVERSION, or
 * CAIRN_OK.  Front-ends call it before asking for a password. */
cairn_err store_probe(const char *path);
/* CAIRN_ENOSTORE, CAIRN_EVERSION, CAIRN_EPASSWORD, CAIRN_EKEYFILE or
 * CAIRN_ELOCKED say why a store does not open.  Unless flags has
 * STORE_NO_SESSION, an unlocked session of this store (store_session_unlock)
 * opens it first, with no key derivation and whatever the password; password
 * may be NULL, and then without a session it is CAIRN_EPASSWORD. */
cairn_err store_open(const char *path, const char *password, size_t password_len, unsigned flags,
                     store **out);
void store_close(store *s);

/* How store_open_wait waits when another process holds the writer lock. */
typedef struct store_wait {
    unsigned seconds; /* give up (CAIRN_ELOCKED) after this long; 0: at once */
    /* Called once, when the lock is first found held, with the holder's pid
     * as its lock file names it ("unknown" if it does not). */
    void (*waiting)(void *ctx, const char *holder_pid);
    void *ctx;
} store_wait;

/* store_open, but with STORE_WRITE a lock held by another process is
 * waited for as wait says (NULL: not at all).  A reader waits while a prune
 * deletes packs: as long as that takes, or with wait->seconds at most that
 * long (CAIRN_ELOCKED after), calling waiting once. */
cairn_err store_open_wait(const char *path, const char *password, size_t password_len,
                          unsigned flags, const store_wait *wait, store **out);

/* Where the packs of a store opened with store_open_remote live: a copy
 * target read on demand, the folder at path holding everything else (config,
 * keys, snapshots, chains) and a cache of packs. */
typedef cairn_err (*store_source_pack_fn)(void *fnctx, const uint8_t pack[PACK_ID_LEN],
                                          uint64_t size);
typedef struct store_pack_source {
    /* Every pack the source holds, with its size. */
    cairn_err (*list)(void *ctx, store_source_pack_fn fn, void *fnctx);
    /* len bytes of a pack from off (its header, footer, trailer). */
    cairn_err (*read)(void *ctx, const uint8_t pack[PACK_ID_LEN], uint64_t off, size_t len,
                      uint8_t *buf);
    /* Makes the whole pack present at path (packs/xx/<id> below the store
     * folder), fetching it if absent, and marks it just used.  Called by one
     * thread at a time. */
    cairn_err (*ensure)(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path);
    void *ctx;
} store_pack_source;

/* store_open (for reading) of the folder at path, whose packs come from src:
 * the index is filled from the trailers src reads by range, and a pack is
 * fetched whole only when a chunk in it is read.  src must outlive the
 * store. */
cairn_err store_open_remote(const char *path, const char *password, size_t password_len,
                            const store_pack_source *src, store **out);

/* Unlocked sessions (store/session_key.h): puts the open store's master key
 * into the kernel keyring (where) for seconds, replacing an older one of
 * this store; *until is when it expires.  CAIRN_EUNSUPPORTED if the kernel
 * refuses keyrings. */
cairn_err store_session_unlock(const store *s, session_keyring where, unsigned seconds,
                               int64_t *until);
/* When the store at path's unlocked session expires (Unix time), 0 if it
 * has none.  No password. */
cairn_err store_session_status(const char *path, int64_t *until);
/* Ends the store at path's unlocked session (*dropped: how many keys went;
 * 0 when it had none).  No password. */
cairn_err store_session_lock(const char *path, int *dropped);

const char *store_path(const store *s);
const keyring *store_keys(const store *s);
const store_params *store_get_params(const store *s);
/* The ID of the key file whose password opened the store. */
const char *store_key_id(const store *s);
/* 1 if store_open found the index damaged and rebuilt it from the packs. */
int store_index_was_rebuilt(const store *s);

/* Per-thread context for chunk work (compression contexts, buffers, open
 * pack files). */
cairn_err store_worker_new(store *s, store_worker **out);
void store_worker_free(store_worker *w);

/* Computes the chunk's ID.  Pure; any thread. */
void store_chunk_id(const store *s, const uint8_t *data, size_t len, uint8_t id[ID_LEN]);

/* Stores a chunk unless the store has it already.  Safe from several
 * threads at once (each with its own worker).  *added is 1 when the chunk
 * was new; *stored_bytes is what it added to the store. */
cairn_err store_put_chunk(store *s, store_worker *w, const uint8_t id[ID_LEN], const uint8_t *data,
                          size_t len, unsigned flags, int *added, uint64_t *stored_bytes);

/* store_put_chunk of a chunk in a buffer it may seal in place: buf holds
 * the len bytes at buf + STORE_INPLACE_HEAD and STORE_INPLACE_ROOM bytes
 * in all around them; they may be overwritten.  Spares a chunk-sized copy
 * (and its memory) per worker. */
enum { STORE_INPLACE_HEAD = SEAL_NONCE_LEN, STORE_INPLACE_ROOM = SEAL_OVERHEAD };
cairn_err store_put_chunk_inplace(store *s, store_worker *w, const uint8_t id[ID_LEN], uint8_t *buf,
                                  size_t len, unsigned flags, int *added, uint64_t *stored_bytes);

/* Puts an already sealed blob (copied from another pack) into the open
 * pack, unless this session put it already.  Used by prune to repack. */
cairn_err store_put_sealed(store *s, const pack_entry *e, const uint8_t *blob);

/* Makes every chunk put so far durable and indexed (finishes the open
 * packs).  Call before writing a snapshot that refers to them. */
cairn_err store_flush(store *s);

/* Reads a chunk, verifying its tag, which binds it to its ID (store_verify_pack
 * also recomputes the ID); data in out. */
cairn_err store_get_chunk(store *s, store_worker *w, const uint8_t id[ID_LEN], cbuf *out);

/* Chunk i of the list ids[0..n) (a file's chunks, read in order), as
 * store_get_chunk, but appended to out's data (so that a caller can gather
 * several chunks for one write; out unchanged on failure).  When the
 * chunk must be read from the pack, the chunks behind
 * it in the list that lie right behind it in the same pack come in the same
 * read (up to 1 MiB), kept by w for the next calls (a pread per chunk cost
 * a system call and a page-cache walk each).  Each is verified when decoded. */
cairn_err store_get_chunk_of(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                             uint32_t i, cbuf *out);

/* Asks the kernel to start reading the chunks ids[0..] from their packs
 * (POSIX_FADV_WILLNEED, merged over neighbours in one pack) until max_bytes
 * of stored data are covered, and returns how many chunks that was (at
 * least one when n > 0).  Advice only, so that the disk works while the
 * caller decodes: a chunk that cannot be located or read is reported by
 * store_get_chunk.  Does nothing for a store read through a copy view. */
uint32_t store_prefetch(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                        uint64_t max_bytes);

/* 1 if the index knows the chunk. */
cairn_err store_has_chunk(store *s, const uint8_t id[ID_LEN], int *has);

/* Snapshot objects: sealed, named by the keyed hash of their plaintext. */
cairn_err store_put_snapshot(store *s, const uint8_t *plain, size_t len,
                             uint8_t id[SNAPSHOT_ID_LEN]);
cairn_err store_get_snapshot(store *s, const uint8_t id[SNAPSHOT_ID_LEN], uint8_t **plain,
                             size_t *len);
/* All snapshot IDs (malloc'd array). */
cairn_err store_list_snapshots(store *s, uint8_t (**ids)[SNAPSHOT_ID_LEN], size_t *count);

/* Chain records: small sealed objects in chains/, named by the keyed hash
 * of the chain name (so names never appear in the store). */
void store_chain_id(const store *s, const char *chain, uint8_t id[ID_LEN]);
cairn_err store_put_chain(store *s, const uint8_t id[ID_LEN], const uint8_t *plain, size_t len);
cairn_err store_get_chain(store *s, const uint8_t id[ID_LEN], uint8_t **plain, size_t *len);
cairn_err store_list_chains(store *s, uint8_t (**ids)[ID_LEN], size_t *count);
cairn_err store_delete_chain(store *s, const uint8_t id[ID_LEN]);

/* Pack walking for check and rebuild. */
typedef cairn_err (*store_pack_fn)(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path);
cairn_err store_each_pack_file(store *s, store_pack_fn fn, void *ctx);

/* Verifies one pack completely: trailer, every blob's tag and ID.  Calls
 * bad(ctx, entry, message) for each damaged chunk; returns CAIRN_ECORRUPT
 * if anything was damaged. */
typedef void (*store_bad_chunk_fn)(void *ctx, const pack_entry *e, const char *msg);
cairn_err store_verify_pack(store *s, store_worker *w, const char *path, pack_entry **entries,
                            size_t *count, store_bad_chunk_fn bad, void *ctx);

/* Every pack the store holds with where it is (or, for a store opened with
 * store_open_remote, where its cache would hold it) and its size: the pack
 * files, or the packs the source lists. */
typedef cairn_err (*store_pack_at_fn)(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path,
                                      uint64_t size);
cairn_err store_each_pack(store *s, store_pack_at_fn fn, void *ctx);

/* check's read of one pack as store_each_pack gave it: without data its
 * trailer only (a source's read by range), with data as store_verify_pack
 * (a source's pack fetched whole first, through its bounded cache). */
cairn_err store_check_pack(store *s, store_worker *w, const uint8_t pack[PACK_ID_LEN],
                           const char *path, uint64_t size, int data, pack_entry **entries,
                           size_t *count, store_bad_chunk_fn bad, void *ctx);

/* A pack's entries, read from its trailer, and its size. */
cairn_err store_pack_entries(store *s, const uint8_t pack[PACK_ID_LEN], pack_entry **entries,
                             size_t *count, uint64_t *size);

/* Copies the entries of a pack for which keep() says yes into new packs,
 * verifying each on the way; the old pack is left in place (delete it with
 * store_delete_pack once store_flush has made the copies durable). */
typedef int (*store_keep_fn)(void *ctx, const pack_entry *e);
cairn_err store_repack(store *s, store_worker *w, const uint8_t pack[PACK_ID_LEN],
                       store_keep_fn keep, void *ctx, uint64_t *copied_bytes);

/* Keeps new readers out until store_close, once no reader has the store
 * open (waiting for them, or CAIRN_ELOCKED at once when !wait): packs are
 * about to disappear. */
cairn_err store_exclude_readers(store *s, int wait);

/* Removes a pack file and the index records of its entries (as read from
 * its trailer) that still point to it. */
cairn_err store_delete_pack(store *s, const uint8_t pack[PACK_ID_LEN], const pack_entry *entries,
                            size_t count);

/* Removes a snapshot object. */
cairn_err store_delete_snapshot(store *s, const uint8_t id[SNAPSHOT_ID_LEN]);

/* Drops the index and reads it back from the pack trailers. */
cairn_err store_index_rebuild(store *s, uint64_t *packs, uint64_t *chunks);

/* Counts of the index, for reports. */
cairn_err store_index_count(store *s, uint64_t *chunks, uint64_t *packs);

/* Where the index says a chunk is: its pack and entry (CAIRN_ECORRUPT,
 * naming the chunk, if the index does not know it). */
cairn_err store_locate(store *s, const uint8_t id[ID_LEN], uint8_t pack[PACK_ID_LEN],
                       pack_entry *e);

/* ---- repair: objects fetched from a copy target, and damage set aside ---- */

/* A path for name in the store's tmp/ folder: on the store's file system,
 * so that a rename from there into place is atomic; the next writer removes
 * what is left there. */
cairn_err store_tmp_path(const store *s, const char *name, char *out, size_t cap);

/* Installs the pack file src (in tmp/, obtained elsewhere: a copy target) as
 * packs/xx/<pack>, atomically replacing a damaged file of that name, and
 * indexes it.  src is verified completely first (trailer, every blob's tag
 * and ID); CAIRN_ECORRUPT leaves everything as it was.  With entries, *entries
 * (malloc'd) and *count receive the pack's entries. */
cairn_err store_import_pack(store *s, store_worker *w, const uint8_t pack[PACK_ID_LEN],
                            const char *src, pack_entry **entries, size_t *count);

/* Whether the file at path is the sealed snapshot object id of this store
 * (it opens with the store's key and matches its name): CAIRN_ECORRUPT if not. */
cairn_err store_verify_snapshot_file(store *s, const uint8_t id[SNAPSHOT_ID_LEN], const char *path);

/* Installs the snapshot object at src as snapshots/<id> once
 * store_verify_snapshot_file accepts it (replacing a damaged one). */
cairn_err store_import_snapshot(store *s, const uint8_t id[SNAPSHOT_ID_LEN], const char *src);

/* Whether the config file at cfg (one fetched from a copy target) belongs
 * to the store at path: it opens with the seal key that password unlocks
 * from the store's key files.  CAIRN_ECORRUPT (naming cfg) if not;
 * CAIRN_EPASSWORD / CAIRN_EKEYFILE as store_open says them. */
cairn_err store_verify_config(const char *path, const char *password, size_t password_len,
                              const char *cfg);
/* Installs cfg as the store's config (atomically), the damaged one moved
 * to damaged/config first (kept for inspection). */
cairn_err store_replace_config(const char *path, const char *cfg);

/* Installs the chain record at src (fetched from a copy target) as
 * chains/<id> once it opens with the store's key (CAIRN_ECORRUPT if not);
 * *plain and *len (malloc'd) receive its content, for the caller to check
 * the name it holds.  With install 0 it is only verified (a dry run). */
cairn_err store_import_chain(store *s, const uint8_t id[ID_LEN], const char *src, int install,
                             uint8_t **plain, size_t *len);

/* Reads the sealed blob of a chunk where the index locates it and verifies
 * it (tag and ID): salvages what is still whole in a pack whose trailer is
 * damaged.  *e receives its entry; blob the sealed bytes (e->stored_len). */
cairn_err store_read_sealed(store *s, store_worker *w, const uint8_t id[ID_LEN], pack_entry *e,
                            cbuf *blob);

/* Moves a damaged object that cannot be healed out of the store's view, to
 * damaged/<rel> (kept for inspection; nothing reads it there).  rel is the
 * object's name (store_name_snapshot, store_name_key). */
cairn_err store_set_aside(store *s, const char *rel);

#endif
