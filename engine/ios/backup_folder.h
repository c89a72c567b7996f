/* backup_folder.h - what a MobileSync backup folder says about itself, gathered
 * before its bytes are backed up: the device (its chain), the metadata kept
 * in the snapshot, whether the backup is complete, and its file catalog. */
#ifndef CAIRN_DEVICE_H
#define CAIRN_DEVICE_H

#include "store/store.h"
#include "engine/core/catalog.h"
#include "engine/core/snapshot.h"

typedef struct device_info {
    char *udid;
    char *chain; /* "device:<udid>/unencrypted" or "device:<udid>/keybag-<16 hex>" */
    int encrypted;
    snapshot_meta *meta; /* SNAP_META_DEVICE_PREFIX pairs */
    size_t nmeta;
    catalog cat;                    /* empty for encrypted backups until device_read_contents */
    uint8_t (*catalog_ids)[ID_LEN]; /* device_reuse_contents: the parent's catalog,
                                     * kept by reference (cat stays empty) */
    uint32_t ncatalog_ids;
    int complete;
    char problem[1024];  /* the first problem when not complete */
    uint64_t missing;    /* content files listed but absent */
    uint64_t rows_known; /* device_read_contents: rows taken from the parent's catalog undecoded */
} device_info;

/* Sets *is_device when dir is a MobileSync backup (iOS 10 or later). */
cairn_err device_detect(const char *dir, int *is_device);

/* What a folder given to backup is. */
typedef enum device_folder_kind {
    DEVICE_FOLDER_PLAIN,  /* neither of the below: a plain folder */
    DEVICE_FOLDER_BACKUP, /* a MobileSync backup (device_detect) */
    DEVICE_FOLDER_BROKEN, /* looks like one (Info.plist or Manifest.db) but lacks a required file */
    DEVICE_FOLDER_PARENT, /* not one itself, but a subfolder is BACKUP or BROKEN (MobileSync's
                             Backup/ folder, one subfolder per device) */
} device_folder_kind;

/* Sorts dir into a kind.  BROKEN sets missing to the required files absent
 * ("Status.plist, Manifest.plist"); PARENT sets *subdirs (sorted, each
 * malloc'd, the array too; the caller frees them) to the subfolders that
 * are BACKUP or BROKEN and *others to the other entries (names starting
 * with '.' left out).  A missing dir is CAIRN_ENOTFOUND; a legacy backup
 * CAIRN_ESOURCE as device_detect says. */
cairn_err device_classify(const char *dir, device_folder_kind *kind, char *missing,
                          size_t missing_size, char ***subdirs, size_t *nsubdirs, char ***others,
                          size_t *nothers);
void device_names_free(char **names, size_t n);

/* Reads the plists: the device, its chain and metadata.  The completeness
 * check and the catalog come from device_read_contents or
 * device_reuse_contents.  A malformed plist gives CAIRN_ESOURCE naming it. */
cairn_err device_inspect(const char *dir, device_info *out);
void device_info_free(device_info *d);

/* The same from the three plists already read (a backup that is not a
 * folder: a stream from the device): device, chain, metadata, and whether
 * Status.plist says finished; the catalog is left empty.  fallback_udid
 * names the device when the plists do not. */
struct ms_meta;
cairn_err device_from_meta(const struct ms_meta *meta, const char *fallback_udid, device_info *out);

/* The completeness check and catalog, from the Manifest.db at db_path (NULL:
 * the folder's own; an encrypted backup needs its decrypted copy, see
 * encrypted_folder.h), in one pass.  A backup that can be read but is incomplete
 * gives CAIRN_OK with complete == 0 and the problem named; garbage in
 * Manifest.db is CAIRN_ESOURCE naming it.  Given a parent snapshot (s open,
 * parent NULL for none), a row whose digest its catalog (version 2) holds
 * is taken from there and not decoded: the same catalog, less work. */
cairn_err device_read_contents(store *s, const snapshot *parent, const char *dir,
                               const char *db_path, device_info *out);

/* device_read_contents begun before the store is open: Manifest.db is read
 * on a thread of its own while the caller derives the store's key.  Rows
 * are decoded until device_contents_end hands over the parent's catalog;
 * later rows it knows are taken from there.  The catalog is the same
 * whenever that happens.  Every read begun is ended or cancelled (NULL:
 * nothing). */
typedef struct device_contents_read device_contents_read;
cairn_err device_contents_begin(const char *dir, const char *db_path, device_contents_read **out);
/* Ends r (freed) as device_read_contents(s, parent, dir, db_path, out) would. */
cairn_err device_contents_end(device_contents_read *r, store *s, const snapshot *parent,
                              device_info *out);
/* Stops the read, unread rows left, and frees r. */
void device_contents_cancel(device_contents_read *r);

/* The same without reading Manifest.db when it is the one parent stored
 * (same size, mtime and inode, kept as it was): the parent's catalog is
 * kept by reference (catalog_ids; never decoded into a catalog: it is
 * streamed once) and only the content files are checked for presence.
 * *reused is 0 (and nothing done) when Manifest.db changed. */
cairn_err device_reuse_contents(store *s, const snapshot *parent, const char *dir, device_info *out,
                                int *reused);

/* Adds a Manifest.db row to a catalog (rows whose file ID is not 40 hex
 * digits are left out). */
struct ms_file;
cairn_err device_catalog_add(catalog *cat, const struct ms_file *f);

/* Adds key = value (a SNAP_META_* key, engine/core/snapshot.h) to the
 * metadata kept in the snapshot. */
cairn_err device_add_meta(device_info *d, const char *key, const char *value);

/* A metadata value by its SNAP_META_* key, or NULL. */
const char *device_info_meta(const device_info *d, const char *key);

#endif
