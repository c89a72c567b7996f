/* content.h - what is in a device snapshot, as the phone's own apps see it:
 * the part the readers of Messages, Photos and Contacts share
 * (content_messages.h, content_photos.h, content_contacts.h).
 *
 * A snapshot's database is found in its catalog by domain and path,
 * written from the store into a private temporary folder (0700, the file
 * 0600, both removed when the database is closed) and opened with SQLite
 * read-only: the store is never written, so this works on a read-only
 * store and beside a running backup.  Readers ask SQLite what the schema
 * holds before they query (content_has_table, content_has_column), so a
 * table or column another iOS version lacks is one line naming it, never
 * a failed query or a crash.
 *
 * Works on snapshots stored as plaintext (also encrypted backups stored
 * with their password); a snapshot stored as Apple's ciphertext has no
 * catalog and content_open says the backup password is needed and how to
 * give it. */
#ifndef CAIRN_CONTENT_H
#define CAIRN_CONTENT_H

#include <limits.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"
#include "engine/core/catalog.h"
#include "engine/core/snapshot.h"

/* Where the three databases live in a backup. */
#define CONTENT_SMS_DOMAIN "HomeDomain"
#define CONTENT_SMS_PATH "Library/SMS/sms.db"
#define CONTENT_PHOTOS_DOMAIN "CameraRollDomain"
#define CONTENT_PHOTOS_PATH "Media/PhotoData/Photos.sqlite"
#define CONTENT_CONTACTS_DOMAIN "HomeDomain"
#define CONTENT_CONTACTS_PATH "Library/AddressBook/AddressBook.sqlitedb"
/* Messages' attachments ("~/Library/SMS/Attachments/...") */
#define CONTENT_ATTACHMENT_DOMAIN "MediaDomain"

/* A schema difference a reader worked around: one line naming the table
 * or column; the reader goes on. */
typedef void (*content_warn_fn)(void *ctx, const char *message);

typedef struct content_snap content_snap;

/* Opens a device snapshot's catalog.  CAIRN_EINVAL with a message for a
 * snapshot that is not a device backup or is stored as ciphertext. */
cairn_err content_open(store *s, const snapshot *sn, content_snap **out);
/* A file of the backup, by domain and path. */
typedef struct content_file {
    const char *domain;
    const char *path;
} content_file;
/* content_open keeping only the catalog entries of files[0..n) (the
 * deletion alarm's two databases): the catalog is streamed once, so memory
 * does not grow with the snapshot's file count.  content_find and the
 * functions built on it answer for those files exactly as after
 * content_open (NULL / CAIRN_ENOTFOUND for the others); content_catalog
 * holds only them.  The same errors as content_open. */
cairn_err content_open_only(store *s, const snapshot *sn, const content_file *files, size_t n,
                            content_snap **out);
void content_close(content_snap *c);
const snapshot *content_snapshot(const content_snap *c);
const catalog *content_catalog(const content_snap *c);
/* The catalog entry of a regular file, or NULL. */
const catalog_entry *content_find(const content_snap *c, const char *domain, const char *path);
/* Writes a file of the snapshot to path (mode 0600 or the file's own,
 * mtime given), verifying every chunk. */
cairn_err content_write_file(content_snap *c, const catalog_entry *e, const char *path,
                             uint32_t mode, int64_t mtime);

/* *same: both snapshots hold domain/path with the same content (the same
 * chunks), so whatever reads it reads the same; 0 when either lacks it. */
cairn_err content_same_file(content_snap *a, content_snap *b, const char *domain, const char *path,
                            int *same);

typedef struct store_db store_db;

typedef struct content_db {
    sqlite3 *db;
    char dir[PATH_MAX]; /* the private temporary folder */
    char path[PATH_MAX];
    store_db *store; /* content_db_open_in_store: the pages' source */
} content_db;

/* Materialises domain/path and opens it read-only.  CAIRN_ENOTFOUND when
 * the snapshot does not hold it ("<domain>/<path>: not in snapshot <id>"). */
cairn_err content_db_open(content_snap *c, const char *domain, const char *path, content_db *out);
/* The same database, its pages read from the store as SQLite asks for them
 * (each chunk verified; nothing written to disk): for a query that reads a
 * small part of a large database (a table of conversations) or scans one
 * table in order.  A file stored without chunk lengths (a tree before
 * version 2) goes through content_db_open. */
cairn_err content_db_open_in_store(content_snap *c, const char *domain, const char *path,
                                   content_db *out);
/* Closes the database and removes the temporary file and folder. */
void content_db_close(content_db *db);

/* ---- for the readers ---- */

int content_has_table(sqlite3 *db, const char *table);
int content_has_column(sqlite3 *db, const char *table, const char *column);
/* The first of the tables that exists, or NULL. */
const char *content_first_table(sqlite3 *db, const char *const *tables, size_t n);
/* expr (a column, maybe qualified) when table has column col; else "NULL"
 * and one line through warn: "<file>: table T has no column C: left out". */
const char *content_column_or_null(sqlite3 *db, const char *file, const char *table,
                                   const char *col, const char *expr, content_warn_fn warn,
                                   void *ctx);
/* Apple's epoch is 2001-01-01: seconds before iOS 11, nanoseconds since
 * (values above 10^11 cannot be seconds: that is year 5170). */
int64_t content_apple_time(int64_t v);
/* A copy of column i as text (NULL for SQL NULL); CAIRN_ENOMEM. */
cairn_err content_column_text(sqlite3_stmt *st, int i, char **out);
/* Prepares sql (sqlite3_mprintf'd, freed here; NULL: CAIRN_ENOMEM) into *st. */
cairn_err content_prepare(sqlite3 *db, const char *file, char *sql, const char *what,
                          sqlite3_stmt **st);
/* CAIRN_ESOURCE "<file>: <what>: <sqlite message>" for a failed query. */
cairn_err content_sql_error(sqlite3 *db, const char *file, const char *what);

#endif
