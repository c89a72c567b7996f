/* gen.h - shared pieces of cairn-gen, the deterministic test-data generator.
 *
 * Everything here is a pure function of its inputs (a seed, a path, a state on
 * disk): the generator must produce bit-identical trees for equal seeds so
 * that tests can compare a restore or a diff against an exact expectation. */
#ifndef CAIRN_GEN_H
#define CAIRN_GEN_H

#include <stddef.h>
#include <stdint.h>

#include <sys/stat.h>

#include <plist/plist.h>
#include <sqlite3.h>

enum {
    GEN_MIB = 1024 * 1024,
    GEN_DAY = 86400,
    /* plist dates count from 2001-01-01 (Core Foundation's epoch). */
    GEN_MAC_EPOCH = 978307200,
    /* 2024-06-01 12:00:00 UTC: the default "now", so no output depends on the clock. */
    GEN_DEFAULT_DATE = 1717243200,
};

/* ---- errors (gen-util.c) ---- */

/* Prints "cairn-gen: <where>: <message>" to stderr and returns -1, so callers can
 * write "return gen_err(path, "...")". */
int gen_err(const char *where, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with strerror(errno) as the message after "what". */
int gen_errno(const char *where, const char *what);

/* ---- deterministic PRNG: xoshiro256** seeded by splitmix64 (gen-util.c) ---- */

typedef struct gen_rng {
    uint64_t s[4];
} gen_rng;

/* Independent streams: equal (seed, stream) give equal sequences. */
void rng_init(gen_rng *r, uint64_t seed, uint64_t stream);
/* A stream keyed by a string (e.g. a fileID), so a file's bytes do not depend
 * on the order in which files are generated. */
void rng_init_str(gen_rng *r, uint64_t seed, const char *key);
uint64_t rng_next(gen_rng *r);
/* Uniform in [0, n); n == 0 gives 0. */
uint64_t rng_below(gen_rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
uint64_t rng_range(gen_rng *r, uint64_t lo, uint64_t hi);
/* True with probability num/den. */
int rng_chance(gen_rng *r, unsigned num, unsigned den);
void rng_fill(gen_rng *r, void *buf, size_t len);
uint64_t gen_hash_str(const char *s);

/* ---- text (gen-util.c) ---- */

/* A growable byte buffer; len excludes the NUL kept after the data. */
typedef struct gen_buf {
    char *data;
    size_t len;
    size_t cap;
} gen_buf;

int buf_reserve(gen_buf *b, size_t extra);
int buf_printf(gen_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_put(gen_buf *b, const void *p, size_t n);
void buf_free(gen_buf *b);

const char *gen_word(gen_rng *r);
/* Appends n words separated by spaces, with a capital and a full stop. */
int gen_sentence(gen_rng *r, gen_buf *b, unsigned nwords);
/* Appends whole sentences until at least len bytes were added. */
int gen_text(gen_rng *r, gen_buf *b, size_t len);
/* Writes an uppercase 8-4-4-4-12 UUID into out[37]. */
void gen_uuid(gen_rng *r, char out[37]);
/* Writes n uppercase hex digits and a NUL into out. */
void gen_hex(gen_rng *r, char *out, size_t n);

/* ---- files (gen-util.c) ---- */

int gen_sha1_hex(const void *data, size_t len, char out[41]);
/* fileID = SHA-1 hex of "domain-relativePath". */
int gen_file_id(const char *domain, const char *path, char out[41]);
int gen_mkdir_p(const char *path, unsigned mode);
/* Creates dir, which must not exist or be an empty directory. */
int gen_make_fresh_dir(const char *dir);
int gen_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file; *out is NUL-terminated and must be freed. */
int gen_read_file(const char *path, char **out, size_t *len);
/* Writes len pseudo-random bytes framed by a header and a trailer (either may
 * be empty): the media-like payload. */
int gen_write_random_file(const char *path, const void *head, size_t head_len, const void *tail,
                          size_t tail_len, uint64_t len, gen_rng *r);
/* Sets mode and mtime (also atime) without following a final symlink. */
int gen_set_meta(const char *path, unsigned mode, int64_t mtime);
int gen_set_link_time(const char *path, int64_t mtime);
/* Calls fn for every entry under root (root last), names in byte order, a
 * directory after its contents; symlinks are not followed.  A non-zero return
 * from fn stops the walk and is returned. */
typedef int (*gen_walk_fn)(void *ctx, const char *path, const struct stat *st);
int gen_walk(const char *root, gen_walk_fn fn, void *ctx);
/* Gives every directory in the tree (root included) mode 0755 and mtime. */
int gen_fix_dir_times(const char *root, int64_t mtime);
int gen_file_size(const char *path, uint64_t *size);
int gen_path_exists(const char *path);
char *gen_strdup(const char *s);
/* malloc'd printf, or NULL after reporting. */
char *gen_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- media headers (gen-media.c) ---- */

typedef enum gen_media_kind {
    MEDIA_HEIC,
    MEDIA_JPEG,
    MEDIA_MOV,
    MEDIA_M4A,
} gen_media_kind;

/* Writes a plausible container header followed by random bytes (incompressible,
 * like real compressed media), exactly len bytes.  seed must be specific to the
 * file (not to where the tree is written). */
int gen_media_file(const char *path, gen_media_kind kind, uint64_t len, uint64_t seed);

/* ---- plists (gen-plist.c) ---- */

typedef struct gen_mbfile {
    const char *relative_path;
    const char *target; /* symlinks only, else NULL */
    uint64_t size;
    unsigned mode;
    int64_t mtime;
    int64_t birth;
    int64_t ctime;
    uint64_t inode;
    unsigned protection_class;
    const void *xattr_plist; /* binary plist of xattrs, or NULL */
    size_t xattr_len;
    const uint8_t *encryption_key; /* encrypted backups: 44 bytes (class, wrapped key), else NULL */
} gen_mbfile;

/* What the readers of an archived MBFile need back (gen_mbfile_read). */
typedef struct gen_mbfile_info {
    uint64_t size;
    int64_t mtime;
    unsigned protection_class;
    char *target; /* malloc'd, NULL if none */
    int has_key;
    uint8_t key[44]; /* EncryptionKey when has_key */
} gen_mbfile_info;

int gen_write_plist(const char *path, plist_t p, int binary);
int gen_read_plist(const char *path, plist_t *out, int *binary);
/* Binary encoding into a malloc'd buffer (what names the data in errors). */
int gen_plist_bin(plist_t p, const char *what, char **out, size_t *len);
/* NSKeyedArchiver binary plist of an MBFile; *out freed with free(). */
int gen_mbfile_archive(const gen_mbfile *f, char **out, size_t *len);
/* Rewrites Size, LastModified and LastStatusChange of an archived MBFile,
 * following the archive's UIDs rather than assuming positions. */
int gen_mbfile_update(const void *in, size_t in_len, uint64_t size, int64_t mtime, char **out,
                      size_t *out_len);
/* Decodes Size, LastModified, ProtectionClass, Target and EncryptionKey of an
 * archived MBFile (following UIDs); free with gen_mbfile_info_clear. */
int gen_mbfile_read(const void *in, size_t in_len, gen_mbfile_info *out);
void gen_mbfile_info_clear(gen_mbfile_info *info);
/* A small preferences-style plist; binary or XML as asked. */
int gen_prefs_plist(const char *path, gen_rng *r, size_t approx, int binary, int64_t now);
/* Changes a few values of an existing plist (always "LastUpdate" to now),
 * keeping its format; *changed says whether the bytes differ. */
int gen_prefs_touch(const char *path, gen_rng *r, int64_t now, int *changed);
plist_t gen_plist_date(int64_t unix_seconds);

/* ---- SQLite (gen-sqlite.c) ---- */

typedef enum gen_db_kind {
    DB_SMS,
    DB_ADDRESSBOOK,
    DB_NOTES,
    DB_CALLS,
    DB_PHOTOS,
    DB_APP,
    DB_CELLULAR,
    DB_MAIL,
    DB_KIND_COUNT,
} gen_db_kind;

/* Creates a deterministic database of roughly target bytes. */
int gen_db_create(const char *path, gen_db_kind kind, uint64_t target, uint64_t seed, int64_t now);
/* What a day does to a database.  GEN_EVERYDAY: rows added to two tables,
 * a few updated and deleted; GEN_APPEND: rows appended to the main table and
 * one to three old rows edited in place. */
typedef enum gen_pattern { GEN_EVERYDAY, GEN_APPEND } gen_pattern;
/* A day of use: inserts about growth bytes of rows and changes a few, in
 * place, as pattern says, so only some pages change.  Fails if the file is
 * not one of ours. */
int gen_db_mutate(const char *path, gen_pattern pattern, uint64_t growth, gen_rng *r, int64_t now);
/* Rewrites a few rows near the middle of the largest table with text of equal
 * length, so only the pages holding them (and the header page) change. */
int gen_db_edit_middle(const char *path, gen_rng *r);
int gen_is_sqlite(const char *path);

/* ---- known content: Messages, Photos, Contacts (gen-content.c) ---- */

/* Called for each media file a content state holds. */
typedef int (*gen_content_file_fn)(void *ctx, const char *domain, const char *path,
                                   gen_media_kind kind, uint64_t size, int is_photo);
int gen_content_files(unsigned state, gen_content_file_fn fn, void *ctx);
/* sms.db (DB_SMS), Photos.sqlite (DB_PHOTOS) or AddressBook.sqlitedb
 * (DB_ADDRESSBOOK) of a state, in the schema of iOS version ios. */
int gen_content_db(const char *path, gen_db_kind kind, const char *ios, unsigned state);
/* Appends the typedstream NSAttributedString iOS stores for text. */
int gen_attributed_body(const char *text, gen_buf *out);

/* ---- device backup pieces shared by "device" and "mutate" (gen-device.c) ---- */

enum { MB_FILE = 1, MB_DIR = 2, MB_LINK = 4 };

/* One Manifest.db row. */
typedef struct gen_row {
    const char *domain;
    const char *path;
    const char *target; /* links only */
    char file_id[41];
    unsigned flags;
    uint64_t size;
    int64_t mtime;
    int64_t birth;
    int is_photo;                  /* carries Photos' xattrs */
    unsigned protection_class;     /* 0: the default */
    const uint8_t *encryption_key; /* encrypted backups: 44 bytes, else NULL */
} gen_row;

/* Runs SQL statements; a failure is reported naming path. */
int gen_sql_exec(const char *path, sqlite3 *db, const char *sql);
/* "<dir>/<fileID[0:2]>/<fileID>", malloc'd. */
char *gen_content_path(const char *dir, const char *file_id);
sqlite3_stmt *gen_manifest_insert_stmt(const char *db_path, sqlite3 *db);
/* Encodes the row's MBFile and inserts it (seed makes inode and xattrs). */
int gen_manifest_put(const char *db_path, sqlite3 *db, sqlite3_stmt *ins, const gen_row *row,
                     uint64_t seed);
/* Camera roll name: "Media/DCIM/<folder>APPLE/IMG_<n>.EXT". */
char *gen_photo_path(unsigned folder, unsigned n, gen_media_kind kind);
/* A camera-roll item kind and size, at most max bytes. */
gen_media_kind gen_photo_pick(gen_rng *r, uint64_t max, uint64_t *size);
int gen_write_status(const char *dir, int64_t now, gen_rng *r);

/* ---- encrypted backups (gen-crypt.c) ---- */

typedef struct gen_crypt gen_crypt;

/* A new keybag (classes 1-4, 6-11) and ManifestKey, from the seed. */
int gen_crypt_create(const char *password, uint32_t iter, uint32_t dpic, uint64_t seed,
                     gen_crypt **out);
/* Unlocks the keybag in dir/Manifest.plist and unwraps its ManifestKey. */
int gen_crypt_open(const char *dir, const char *password, gen_crypt **out);
void gen_crypt_free(gen_crypt *c);
/* Whether dir/Manifest.plist says IsEncrypted. */
int gen_backup_encrypted(const char *dir, int *yes);
/* Sets IsEncrypted, BackupKeyBag and ManifestKey in a Manifest.plist dict. */
void gen_crypt_manifest_items(const gen_crypt *c, plist_t manifest);
/* The protection class a file gets (from its fileID). */
unsigned gen_crypt_class(const char *file_id);
/* Encrypts the plaintext at path in place under a new key made from seed
 * and file_id, wrapped with class cls into ek. */
int gen_crypt_seal_new(gen_crypt *c, const char *path, const char *file_id, uint64_t seed,
                       unsigned cls, uint8_t ek[44]);
/* Encrypts the file plain into path under the key ek wraps. */
int gen_crypt_seal(gen_crypt *c, const char *plain, const char *path, const uint8_t ek[44]);
/* Decrypts path into plain (a file); *size (may be NULL) gets its length. */
int gen_crypt_unseal(gen_crypt *c, const char *path, const char *plain, const uint8_t ek[44],
                     uint64_t *size);
/* 1 if the encrypted file at path holds an SQLite database, 0 if not, -1. */
int gen_crypt_is_sqlite(gen_crypt *c, const char *path, const uint8_t ek[44]);
/* Manifest.db under the ManifestKey key (plain and path may be equal). */
int gen_crypt_seal_manifest(gen_crypt *c, const char *plain, const char *path);
int gen_crypt_unseal_manifest(gen_crypt *c, const char *path, const char *plain);

/* ---- commands ---- */

typedef struct gen_opts {
    uint64_t seed;
    uint64_t size_mb;
    uint64_t day;
    int64_t date;
    const char *udid;
    const char *name;
    const char *product;
    const char *ios;
    const char *changes;
    const char *encrypt; /* device, mutate: the backup password */
    uint64_t kdf_iter;   /* ITER and DPIC of new keybags (0 DPIC: none) */
    uint64_t kdf_dpic;
    const char *old_pw; /* changepw */
    const char *new_pw;
    const char *password; /* decrypt */
    const char *to;
    int content;         /* device: -1 random databases and media, else a content state */
    gen_pattern pattern; /* mutate: what a day does to the databases */
    uint64_t files;      /* device: file and symlink rows wanted (0: from size-mb) */
} gen_opts;

int gen_device(const char *dir, const gen_opts *o);
int gen_mutate(const char *dir, const gen_opts *o);
int gen_folder(const char *dir, const gen_opts *o);
int gen_edit(const char *dir, const gen_opts *o);
int gen_changepw(const char *dir, const gen_opts *o);
int gen_decrypt(const char *dir, const gen_opts *o);

#endif
