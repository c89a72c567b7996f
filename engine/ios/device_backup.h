/* device_backup.h - a backup as one call: a folder (a MobileSync backup
 * folder becomes a snapshot of its device's chain, any other folder one of
 * its path's chain), or straight from a connected device.
 *
 * Each call carries the whole policy: inspecting the backup, refusing an
 * incomplete one unless allowed, reusing the parent's catalog when
 * Manifest.db is unchanged, decrypting an encrypted backup whose password
 * is given (asked through the callbacks), archiving the device's chain when
 * its encryption identity changed, and the commit.  The store's snapshot
 * list is loaded once per call.  Nothing is printed: lines come through
 * device_callbacks (device_workflow.h), numbers in the result. */
#ifndef CAIRN_DEVICE_BACKUP_H
#define CAIRN_DEVICE_BACKUP_H

#include "store/store.h"
#include "engine/core/progress.h"
#include "engine/ios/device_workflow.h"

typedef struct device_backup_result {
    uint8_t id[ID_LEN]; /* the snapshot saved */
    int has_parent;
    uint8_t parent[ID_LEN];
    int is_device;  /* the source was a device backup */
    int incomplete; /* stored marked incomplete (allowed) */
    int partial;    /* stored marked partial: some items were left out */
    uint64_t files;
    uint64_t dirs;
    uint64_t bytes;
    uint64_t files_read; /* folder: files actually read (changed) */
    uint64_t bytes_read;
    uint64_t files_received; /* from a device: files and bytes it sent */
    uint64_t bytes_received;
    uint64_t new_chunks;
    uint64_t new_bytes;
    uint64_t new_raw;
    uint64_t reused_chunks; /* chunks of changed files kept by fingerprint */
    uint64_t reused_bytes;
    uint64_t errors;          /* items left out; the snapshot is marked partial */
    uint64_t rows_known;      /* Manifest.db rows taken from the parent's catalog undecoded */
    char archived_chain[256]; /* the chain archived before this backup, or "" */
    char alarm[256];          /* the deletion alarm's reason (the parent was pinned), or "" */
    size_t sources;           /* a folder of device backups: how many were found */
    size_t failed;            /* and how many of them were not saved */
} device_backup_result;

/* A folder of device backups reports each one as it is done: rc is
 * CAIRN_OK or CAIRN_EPARTIAL with r filled, or the error (err_msg() says
 * it) with nothing saved for that source. */
typedef void (*device_backup_each_fn)(void *ctx, const char *source, cairn_err rc,
                                      const device_backup_result *r);

/* Opens the store once the source is known to be worth it (a missing or
 * malformed source costs no store password). */
typedef cairn_err (*device_store_opener)(void *ctx, store **out);

typedef struct device_backup_folder_opts {
    const char *source; /* the folder */
    int threads;        /* 0: one per core */
    int force_read;     /* read every file even if unchanged */
    int allow_incomplete;
    int as_folder;                  /* a plain folder, whatever it holds: no device detection */
    device_store_opener open_store; /* opened for writing (once); the call closes it */
    void *open_ctx;
    const work_hooks *hooks;    /* the backup's progress and stop (backup.h); may be NULL */
    device_backup_each_fn each; /* a folder of device backups: each one (may be NULL) */
    void *each_ctx;
    int photo_alarm; /* deletion alarm: % of photos lost (0: DEVICE_PHOTO_ALARM_DEFAULT; <0: off) */
} device_backup_folder_opts;

/* The deletion alarm.  After a device backup is saved its content is
 * compared with its parent's (content_diff.h): when it lost more than
 * photo_alarm % of the photos, or a whole conversation, a warning says so
 * (path NULL), the parent is pinned (chains.h) with a reason naming the new
 * snapshot and the loss, and the result's alarm holds that reason.  A
 * parent stored as ciphertext, or without these databases, raises none. */
enum { DEVICE_PHOTO_ALARM_DEFAULT = 5 };

/* What the source is decides (unless as_folder):
 *  - a MobileSync backup: a snapshot of its device's chain;
 *  - a folder that looks like one (Info.plist or Manifest.db) but lacks a
 *    required file: CAIRN_ESOURCE naming the missing files, nothing stored;
 *  - a folder holding device backups (MobileSync's Backup/): each one into
 *    its own chain, reported through o->each in name order; the store is
 *    opened once; an entry that is not a device backup is warned about and
 *    left out.  A source that fails (CAIRN_ESOURCE) or is stored partial
 *    does not stop the others; any other error does.  The result then
 *    counts sources and failed; the return is CAIRN_OK when all were saved
 *    whole, CAIRN_EPARTIAL when some were partial, else the first failure's
 *    code with a message counting them;
 *  - any other folder: a snapshot of its path's chain.
 * CAIRN_EPARTIAL (with the result filled) when the snapshot was saved but
 * some items could not be read (each warned).  A source that is missing
 * is CAIRN_ESOURCE "DIR: no such folder". */
cairn_err device_backup_folder(const device_backup_folder_opts *o, const device_callbacks *cb,
                               device_backup_result *r);

typedef struct device_backup_device_opts {
    const char *device; /* UDID, or NULL: the only device connected */
    int full;           /* ask the device for everything, not what changed */
    int allow_incomplete;
    int threads;
    int photo_alarm; /* as for a folder */
} device_backup_device_opts;

/* Backs the device up straight into the store s (open for writing): the
 * device sees the newest snapshot of it as its previous backup.  On
 * failure no snapshot is saved and an event says so.  result.errors counts
 * files the device could not send and requests refused: the snapshot is
 * then saved marked partial (CAIRN_OK). */
cairn_err device_backup_from_device(store *s, const device_backup_device_opts *o,
                                    const device_callbacks *cb, device_backup_result *r);

#endif
