/* mobilesync.h - understand a MobileSync (iTunes/Finder/idevicebackup2) backup folder.
 *
 * A backup folder holds Info.plist (written by the host), Manifest.plist and
 * Status.plist (from the device), Manifest.db (SQLite index of every file)
 * and the file contents at <fileID[0:2]>/<fileID>.  This module reads the
 * metadata, walks Manifest.db and checks that a backup is complete.  It never
 * decrypts anything: for encrypted backups it hands out the raw BackupKeyBag,
 * ManifestKey and per-file EncryptionKey bytes, and reads a Manifest.db that
 * another module has already decrypted.
 *
 * Everything read here comes from a device or a folder we did not write, so
 * every size is bounded and every reference is checked; malformed input gives
 * CAIRN_ESOURCE (a bad or incomplete backup) or CAIRN_ECORRUPT (one record
 * that does not decode), with a one-line message naming the file (err_msg()).
 *
 * Ownership: every ms_* object is owned by whoever received it and is freed
 * with the matching ms_*_free/close.  Strings and byte arrays inside a record
 * live exactly as long as the record.  Functions never print.
 *
 * Thread safety: handles are not shared between threads; distinct handles
 * may be used concurrently. */
#ifndef CAIRN_MOBILESYNC_H
#define CAIRN_MOBILESYNC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* ---- detection ---------------------------------------------------------- */

enum {
    MS_NOT_BACKUP = 0,
    MS_BACKUP = 1,       /* iOS 10 and later: Manifest.db */
    MS_BACKUP_LEGACY = 2 /* before iOS 10: Manifest.mbdb only (not readable yet) */
};

/* Sets *is_backup to MS_BACKUP or MS_BACKUP_LEGACY when dir holds Info.plist,
 * Manifest.plist, Status.plist and Manifest.db (or Manifest.mbdb) as regular
 * files, else MS_NOT_BACKUP.  Looks only at names and types, not contents.
 * A dir that is not a directory is simply not a backup; fails only when dir or
 * one of those names cannot be examined (CAIRN_ENOTFOUND, CAIRN_EIO). */
cairn_err ms_detect(const char *dir, int *is_backup);

/* ---- metadata (Info.plist, Manifest.plist, Status.plist) ---------------- */

/* Fields absent from the plists are NULL (strings, bytes) or 0 (numbers).
 * Dates are unix seconds.  All pointers are owned by the ms_meta. */
typedef struct ms_meta {
    /* Info.plist */
    const char *device_name;
    const char *display_name;
    const char *product_name;
    const char *product_type; /* e.g. "iPhone15,2" */
    const char *product_version;
    const char *build_version;
    const char *serial_number;
    const char *unique_identifier; /* the UDID */
    const char *target_identifier;
    const char *itunes_version;
    int64_t last_backup_date;

    /* Manifest.plist */
    int is_encrypted;
    int was_passcode_set;
    const char *manifest_version;
    int64_t manifest_date;
    const char *lockdown_udid; /* Lockdown/UniqueDeviceID */
    const char *lockdown_device_name;
    const char *lockdown_product_type;
    const char *lockdown_product_version;
    const char *lockdown_build_version;
    const char *lockdown_serial_number;
    const uint8_t *backup_keybag; /* raw BackupKeyBag TLV (encrypted backups) */
    size_t backup_keybag_len;
    const uint8_t *manifest_key; /* raw ManifestKey: 4-byte LE class + wrapped key */
    size_t manifest_key_len;

    /* Status.plist */
    const char *snapshot_state; /* "finished" when the backup is complete */
    const char *backup_state;
    int is_full_backup;
    int64_t status_date;
    const char *status_uuid;
    const char *status_version;
} ms_meta;

/* Which plist a buffer holds, for ms_meta_load. */
typedef enum ms_source { MS_INFO_PLIST, MS_MANIFEST_PLIST, MS_STATUS_PLIST } ms_source;

/* Reads the three plists of the backup in dir.  A missing or malformed plist
 * gives CAIRN_ESOURCE naming it ("Status.plist: file is missing").  Free the
 * result with ms_meta_free. */
cairn_err ms_read_meta(const char *dir, ms_meta **out);

/* The same extraction from bytes already in memory (binary or XML plist):
 * ms_meta_new gives an empty record, ms_meta_load fills the fields that
 * belong to `which`.  ms_read_meta is new + load of each file. */
cairn_err ms_meta_new(ms_meta **out);
cairn_err ms_meta_load(ms_meta *meta, ms_source which, const uint8_t *buf, size_t len);

void ms_meta_free(ms_meta *meta);

/* Calls fn(ctx, key, value) for every field present, in a fixed order, with
 * stable snake_case keys ("device_name", "udid", "last_backup_date", ...;
 * numbers in decimal, booleans "true"/"false").  Key bags and keys are byte
 * arrays and are left out.  Stops at, and returns, the first non-CAIRN_OK
 * result of fn. */
typedef cairn_err (*ms_pair_fn)(void *ctx, const char *key, const char *value);
cairn_err ms_meta_pairs(const ms_meta *meta, ms_pair_fn fn, void *ctx);

/* ---- Manifest.db -------------------------------------------------------- */

enum { MS_FLAG_FILE = 1, MS_FLAG_DIR = 2, MS_FLAG_SYMLINK = 4 }; /* Files.flags */

/* One Files row and its decoded MBFile record. */
enum { MS_ROW_DIGEST_LEN = 16 };

typedef struct ms_file {
    /* From the row; NULL/0 when filled by ms_mbfile_decode alone, except
     * relative_path, which then comes from the record's RelativePath. */
    const char *file_id; /* 40 lowercase hex digits (checked) */
    const char *domain;
    const char *relative_path;
    int64_t flags; /* MS_FLAG_* */

    /* From the MBFile record. */
    uint64_t size; /* for encrypted files often not the plaintext size */
    uint32_t mode; /* st_mode: type and permission bits */
    uint32_t uid;
    uint32_t gid;
    uint64_t inode;
    int64_t mtime; /* LastModified, unix seconds */
    int64_t ctime; /* LastStatusChange */
    int64_t birth;
    int32_t protection_class;
    const char *target;            /* symlink target, NULL if none */
    const uint8_t *encryption_key; /* EncryptionKey as stored (4-byte LE class, */
    size_t encryption_key_len;     /* then the wrapped key), NULL/0 if none */

    /* Set by ms_manifest_next: XXH3-128 (canonical, big-endian) of the row's
     * fileID (its 40 bytes), flags (8 bytes, little-endian) and MBFile
     * record bytes.  Rows with equal digests decode alike. */
    uint8_t row_digest[MS_ROW_DIGEST_LEN];
    int known; /* 1: a known-row callback recognised the row; the record fields above are 0 */

    void *owned_; /* private: the storage target and encryption_key point into */
} ms_file;

/* Decodes an MBFile NSKeyedArchiver blob (the Files.file column) into the
 * record fields of *out (and relative_path; file_id, domain, flags stay
 * NULL/0).  Follows $top/root
 * and every UID through $objects; never assumes positions.  Gives
 * CAIRN_ECORRUPT ("MBFile: UID 9 out of range (7 objects)") on anything
 * undecodable, with *out zeroed.  On success release with ms_file_clear. */
cairn_err ms_mbfile_decode(const uint8_t *blob, size_t len, ms_file *out);

/* Frees what ms_mbfile_decode stored in f and zeroes it. */
void ms_file_clear(ms_file *f);

typedef struct ms_manifest ms_manifest;

/* Opens a plaintext Manifest.db read-only (for encrypted backups, the copy
 * decrypted by the crypto module), runs PRAGMA quick_check and checks the
 * Files table.  CAIRN_ESOURCE names the file on a missing, truncated, garbage
 * or malformed database ("Manifest.db: file is not a database"). */
cairn_err ms_manifest_open(const char *db_path, ms_manifest **out);

/* Number of rows in Files. */
cairn_err ms_manifest_count(ms_manifest *m, uint64_t *count);

/* Steps through Files ORDER BY domain, relativePath, fileID.  *out points to
 * a record owned by m, valid until the next call or ms_manifest_close; it is
 * NULL at the end.  A row whose record does not decode gives CAIRN_ECORRUPT
 * naming the row; the iterator has moved past it and the next call goes on
 * with the following row.  Any other error (CAIRN_ESOURCE for a damaged
 * database) ends the iteration: later calls return the same code. */
cairn_err ms_manifest_next(ms_manifest *m, const ms_file **out);

/* Whether the caller already knows what a row's record decodes to, told
 * by the row fields and row_digest of f (its record fields still 0): 1
 * skips the decoding (and its checks: the same bytes decoded before), and
 * ms_manifest_next gives the row with f->known set. */
typedef int (*ms_known_fn)(void *ctx, const ms_file *f);
void ms_manifest_set_known(ms_manifest *m, ms_known_fn known, void *ctx);

void ms_manifest_close(ms_manifest *m);

/* ---- completeness ------------------------------------------------------- */

typedef enum ms_problem_kind {
    MS_PROBLEM_MISSING_CONTENT, /* flags==1 row without a regular file at xx/<fileID> */
    MS_PROBLEM_BAD_RECORD       /* row whose MBFile record does not decode */
} ms_problem_kind;

typedef struct ms_problem {
    ms_problem_kind kind;
    const char *file_id;
    const char *domain;
    const char *relative_path;
} ms_problem;

enum { MS_REPORT_EXAMPLES = 8 }; /* problems kept in detail; the rest are counted */

typedef struct ms_report {
    int complete;               /* 1 when nothing below is wrong */
    const char *snapshot_state; /* as found in Status.plist, NULL if absent */
    uint64_t rows;              /* Files rows seen */
    uint64_t files;             /* rows with flags == MS_FLAG_FILE */
    uint64_t missing;           /* of those, content file absent */
    uint64_t bad_records;       /* rows whose MBFile record does not decode */
    size_t n_problems;          /* entries in problems, at most MS_REPORT_EXAMPLES */
    ms_problem problems[MS_REPORT_EXAMPLES];
} ms_report;

/* Checks that the backup in dir is complete: the plists read, Status.plist
 * SnapshotState is "finished", Manifest.db opens and passes quick_check, and
 * every flags==1 row has its content file.  db_path is the Manifest.db to
 * read: NULL means <dir>/Manifest.db; an encrypted backup needs the decrypted
 * copy (NULL gives CAIRN_EINVAL).
 *
 * Returns CAIRN_OK with a complete report, or CAIRN_ESOURCE with an
 * incomplete one whose message names the first problem ("Status.plist:
 * SnapshotState is 'uploading', backup is incomplete"); in both cases *out is
 * set and the caller decides whether to keep the backup.  When the backup
 * cannot be examined at all (missing plist, unreadable Manifest.db, legacy
 * Manifest.mbdb) the error is returned with *out NULL. */
cairn_err ms_validate(const char *dir, const char *db_path, ms_report **out);

/* ms_validate that also hands every decodable row to fn (in no particular
 * order: the caller sorts what it keeps), so a caller reads Manifest.db once.  A non-CAIRN_OK
 * result of fn stops the walk and is returned with *out NULL. */
typedef cairn_err (*ms_row_fn)(void *ctx, const ms_file *f);
cairn_err ms_validate_each(const char *dir, const char *db_path, ms_row_fn fn, void *ctx,
                           ms_report **out);
/* How ms_validate_rows reads: known (see ms_manifest_set_known) is asked
 * about each row first, right before fn gets it; a known row counts as
 * decodable.  Once *stop (when given) turns nonzero, the scan and the
 * integrity check beside it give up with CAIRN_EINTERRUPTED. */
typedef struct ms_scan {
    ms_known_fn known; /* NULL: none known */
    ms_row_fn fn;      /* NULL: rows only counted and checked */
    void *ctx;
    const atomic_int *stop;
} ms_scan;
cairn_err ms_validate_rows(const char *dir, const char *db_path, const ms_scan *scan,
                           ms_report **out);

void ms_report_free(ms_report *r);

#endif
