/* snapshot.h - what one backup recorded: when, from where, in which chain,
 * its root tree, what it added, and free-form metadata (device details). */
#ifndef CAIRN_SNAPSHOT_H
#define CAIRN_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "util/codec.h"
#include "util/err.h"
#include "store/seal.h"

enum snapshot_flags {
    SNAP_PARTIAL = 1,    /* some source files could not be read */
    SNAP_INCOMPLETE = 2, /* the source itself was incomplete (stored on request) */
    SNAP_REPAIRED = 4,   /* rewritten by repair without data that was lost */
};

typedef struct snapshot_meta {
    char *key;
    char *value;
} snapshot_meta;

typedef struct snapshot {
    uint8_t id[ID_LEN]; /* filled in when stored or loaded, not encoded */
    int64_t time_sec;
    uint32_t time_nsec;
    char *hostname;
    char *source; /* absolute path backed up */
    char *chain;  /* e.g. "path:/abs/source" or "device:<udid>" */
    int has_parent;
    uint8_t parent[ID_LEN];
    uint32_t flags;
    uint32_t ntree;
    uint8_t (*tree)[ID_LEN]; /* chunks of the root tree */
    uint32_t ncatalog;
    uint8_t (*catalog)[ID_LEN]; /* device backups: chunks of the file catalog */
    /* statistics */
    uint64_t files;
    uint64_t dirs;
    uint64_t bytes;      /* logical size of all file contents */
    uint64_t new_chunks; /* chunks this backup added to the store */
    uint64_t new_bytes;  /* bytes those chunks take in packs */
    uint64_t new_raw;    /* their size before compression */
    uint64_t errors;     /* source items that could not be read */
    size_t nmeta;
    snapshot_meta *meta;
} snapshot;

void snapshot_free(snapshot *s);
/* Frees an array of n metadata pairs and their strings. */
void snapshot_meta_free(snapshot_meta *meta, size_t n);

cairn_err snapshot_encode(const snapshot *s, cbuf *out);
cairn_err snapshot_decode(const uint8_t *data, size_t len, snapshot *out);

/* Adds a copy of key=value to the metadata. */
cairn_err snapshot_set_meta(snapshot *s, const char *key, const char *value);
/* The value for key, or NULL. */
const char *snapshot_get_meta(const snapshot *s, const char *key);

/* ---- metadata keys ----
 * Device backups keep what their plists say as "device.<snake_case key>"
 * (the iOS layer's MobileSync parser names them); cairn's own facts are "cairn.*".
 * Every key a program reads or writes is named here, so a spelling mistake
 * is a compile error rather than a silently missing value. */
#define SNAP_META_DEVICE_PREFIX "device."
#define SNAP_META_DEVICE_NAME "device.device_name"
#define SNAP_META_PRODUCT_TYPE "device.product_type"
#define SNAP_META_PRODUCT_VERSION "device.product_version"
#define SNAP_META_UDID "device.udid"
#define SNAP_META_LAST_BACKUP_DATE "device.last_backup_date"
#define SNAP_META_IS_ENCRYPTED "device.is_encrypted"     /* "true" / "false" */
#define SNAP_META_SNAPSHOT_STATE "device.snapshot_state" /* Status.plist: "finished" */
#define SNAP_META_CONTENTS "device.contents"             /* encrypted backups: SNAP_CONTENTS_* */
#define SNAP_META_ROOT_MODE "cairn.root_mode"
#define SNAP_META_ROOT_MTIME "cairn.root_mtime"
#define SNAP_META_REPAIRED_FROM "cairn.repaired_from"
#define SNAP_META_LOST "cairn.lost"
#define SNAP_META_LOST_COUNT "cairn.lost_count"
/* a device backup stored with --allow-incomplete: the content files its
 * Manifest.db lists that were not there (decimal) */
#define SNAP_META_MISSING_COUNT "cairn.missing_count"

/* Values of SNAP_META_CONTENTS: an encrypted device backup stored as
 * plaintext (opened with its password) or as the device's ciphertext. */
#define SNAP_CONTENTS_DECRYPTED "decrypted"
#define SNAP_CONTENTS_ENCRYPTED "encrypted"

/* ---- typed accessors (NULL / 0 when the snapshot does not say) ---- */

/* A backup of an iOS device (it names the device's UDID). */
int snapshot_is_device(const snapshot *s);
const char *snapshot_udid(const snapshot *s);
const char *snapshot_device_name(const snapshot *s);
/* UDIDs are hex: Finder names folders in lower case, Info.plist in upper;
 * they are compared case-insensitively everywhere. */
int snapshot_udid_is(const snapshot *s, const char *udid);
/* The device backup was encrypted on the device (whatever cairn stored). */
int snapshot_is_encrypted_backup(const snapshot *s);
/* An encrypted device backup stored decrypted: restoring it as the device
 * wrote it needs the backup password. */
int snapshot_is_decrypted(const snapshot *s);
/* Status.plist said the device finished writing the backup. */
int snapshot_device_finished(const snapshot *s);
/* For a device detail (a SNAP_META_DEVICE_PREFIX key) the name of its field
 * ("device_name"), else NULL. */
const char *snapshot_meta_device_field(const char *key);
/* The key holds a time in Unix seconds (its name says "date"). */
int snapshot_meta_is_time(const char *key);
/* A user's device selector: NULL selects every snapshot; otherwise the
 * device's UDID (any case) or its exact name. */
int snapshot_matches_device(const snapshot *s, const char *selector);

#endif
