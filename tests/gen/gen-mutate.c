/* gen-mutate.c - "cairn-gen mutate": the next day of the same phone.
 *
 * New photos, grown and edited databases (changed in place through SQLite, so
 * only some pages differ), deleted and rewritten settings files, and the
 * matching Manifest.db rows and top-level plists.  --pattern says what a
 * day does to a database: "everyday" (the default) adds rows to two tables
 * and updates and deletes a few, "append" appends rows to the main table and
 * edits one to three old rows in place.  Every choice comes from a
 * PRNG keyed by (seed, day) and walks rows in fileID order, so equal state,
 * seed and day give an identical result.  The exact logical change list
 * (regular files only; directories and symlinks never change) can be written
 * for tests to compare against.
 *
 * An encrypted backup (--encrypt PASSWORD) keeps its keybag: Manifest.db is
 * decrypted to a scratch copy for the day's edits, each file that changes is
 * decrypted next to itself, changed and encrypted again under its own key,
 * and new files get new keys.  The day's plaintext is the same as for a
 * plain backup made with the same options. */
#define _XOPEN_SOURCE 700

#include "gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { KIB = 1024, SMALL_MAX = 64 * KIB, MIN_PHOTO = 300 * KIB };

typedef enum role { R_OTHER, R_PLIST, R_DB } role;

typedef struct mrow {
    char file_id[41];
    char *domain;
    char *path;
    unsigned flags;
    uint64_t size;
    role role;
    int taken;       /* already deleted or changed today */
    uint8_t key[44]; /* EncryptionKey, encrypted backups only */
} mrow;

typedef struct changes {
    char **line;
    size_t n, cap;
} changes;

typedef struct day {
    const char *dir;
    char *db_path;  /* Manifest.db */
    char *sql_path; /* the plaintext copy edited, for encrypted backups */
    gen_crypt *crypt;
    sqlite3 *db;
    sqlite3_stmt *ins;
    mrow *rows;
    size_t nrows;
    gen_rng r;
    uint64_t seed;
    gen_pattern pattern;
    int64_t now;
    changes ch;
} day;

/* ---- rows ---- */

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s);
    const size_t m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Sizes are plaintext sizes: for encrypted backups the record's (the
 * content file is bigger by its padding). */
static int classify(const day *d, mrow *row)
{
    if (row->flags != MB_FILE)
        return 0;
    char *const path = gen_content_path(d->dir, row->file_id);
    if (!path || (!d->crypt && gen_file_size(path, &row->size))) {
        free(path);
        return -1;
    }
    int rc = 0;
    if (ends_with(row->path, ".plist") && row->size < SMALL_MAX) {
        row->role = R_PLIST;
    } else if (ends_with(row->path, ".db") || ends_with(row->path, ".sqlite") ||
               ends_with(row->path, ".sqlitedb") || ends_with(row->path, ".storedata")) {
        rc = d->crypt ? gen_crypt_is_sqlite(d->crypt, path, row->key) : gen_is_sqlite(path);
        row->role = rc == 1 ? R_DB : R_OTHER;
        rc = rc < 0 ? -1 : 0;
    }
    free(path);
    return rc;
}

static int add_row(day *d, sqlite3_stmt *st, size_t *cap)
{
    if (d->nrows == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        mrow *const rows = realloc(d->rows, *cap * sizeof *rows);
        if (!rows)
            return gen_err(d->db_path, "cannot allocate %zu rows", *cap);
        d->rows = rows;
    }
    mrow *const row = &d->rows[d->nrows];
    memset(row, 0, sizeof *row);
    const char *const id = (const char *)sqlite3_column_text(st, 0);
    const char *const domain = (const char *)sqlite3_column_text(st, 1);
    const char *const path = (const char *)sqlite3_column_text(st, 2);
    if (!id || strlen(id) != 40 || !domain || !path)
        return gen_err(d->db_path, "malformed Files row");
    memcpy(row->file_id, id, 41);
    row->flags = (unsigned)sqlite3_column_int(st, 3);
    row->domain = gen_strdup(domain);
    row->path = gen_strdup(path);
    d->nrows++;
    if (!row->domain || !row->path)
        return -1;
    if (d->crypt && row->flags == MB_FILE) {
        gen_mbfile_info info;
        if (gen_mbfile_read(sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4), &info))
            return -1;
        const int has_key = info.has_key;
        row->size = info.size;
        memcpy(row->key, info.key, sizeof row->key);
        gen_mbfile_info_clear(&info);
        if (!has_key)
            return gen_err(d->db_path, "%s-%s has no EncryptionKey", domain, path);
    }
    return classify(d, row);
}

static int load_rows(day *d)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            d->db, "SELECT fileID, domain, relativePath, flags, file FROM Files ORDER BY fileID",
            -1, &st, NULL) != SQLITE_OK)
        return gen_err(d->db_path, "cannot read Files: %s", sqlite3_errmsg(d->db));
    size_t cap = 0;
    int rc = 0;
    int step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = add_row(d, st, &cap);
    if (rc == 0 && step != SQLITE_DONE)
        rc = gen_err(d->db_path, "cannot read Files: %s", sqlite3_errmsg(d->db));
    sqlite3_finalize(st);
    return rc;
}

/* A random not-yet-touched row of the given role, or NULL when none is left. */
static mrow *pick_row(day *d, role want)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nrows; i++)
        n += d->rows[i].role == want && !d->rows[i].taken;
    if (n == 0)
        return NULL;
    size_t k = (size_t)rng_below(&d->r, n);
    for (size_t i = 0; i < d->nrows; i++) {
        if (d->rows[i].role != want || d->rows[i].taken)
            continue;
        if (k-- == 0)
            return &d->rows[i];
    }
    return NULL;
}

static size_t count_role(const day *d, role want)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nrows; i++)
        n += d->rows[i].role == want;
    return n;
}

/* ---- the change list ---- */

static int note_change(day *d, char kind, const char *domain, const char *path, uint64_t size)
{
    if (d->ch.n == d->ch.cap) {
        const size_t cap = d->ch.cap ? d->ch.cap * 2 : 64;
        char **const line = realloc(d->ch.line, cap * sizeof *line);
        if (!line)
            return gen_err("changes", "cannot allocate %zu lines", cap);
        d->ch.line = line;
        d->ch.cap = cap;
    }
    char *const s = gen_strf("%c\t%s\t%s\t%llu", kind, domain, path, (unsigned long long)size);
    if (!s)
        return -1;
    d->ch.line[d->ch.n++] = s;
    return 0;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int write_changes(day *d, const char *path)
{
    qsort(d->ch.line, d->ch.n, sizeof d->ch.line[0], by_string);
    FILE *const f = fopen(path, "w");
    if (!f)
        return gen_errno(path, "cannot create");
    int rc = 0;
    for (size_t i = 0; i < d->ch.n && rc == 0; i++) {
        if (fprintf(f, "%s\n", d->ch.line[i]) < 0)
            rc = gen_errno(path, "write failed");
    }
    if (fclose(f) != 0 && rc == 0)
        rc = gen_errno(path, "write failed");
    return rc;
}

/* ---- Manifest.db edits ---- */

static int exec_sql(day *d, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        gen_err(d->db_path, "SQL failed: %s", msg ? msg : sqlite3_errmsg(d->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int row_sql(day *d, const char *sql, const mrow *row, const void *blob, size_t len)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
        return gen_err(d->db_path, "cannot prepare: %s", sqlite3_errmsg(d->db));
    int rc = 0;
    if (sqlite3_bind_text(st, 1, row->file_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        (blob && sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_STATIC) != SQLITE_OK) ||
        sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(d->db) != 1)
        rc = gen_err(d->db_path, "cannot change row of %s-%s: %s", row->domain, row->path,
                     sqlite3_errmsg(d->db));
    sqlite3_finalize(st);
    return rc;
}

static int read_blob(day *d, const mrow *row, char **blob, size_t *len)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->db, "SELECT file FROM Files WHERE fileID=?", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_text(st, 1, row->file_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_finalize(st);
        return gen_err(d->db_path, "cannot prepare: %s", sqlite3_errmsg(d->db));
    }
    int rc = -1;
    if (sqlite3_step(st) != SQLITE_ROW) {
        gen_err(d->db_path, "no row for %s-%s", row->domain, row->path);
        goto fail;
    }
    const void *const p = sqlite3_column_blob(st, 0);
    *len = (size_t)sqlite3_column_bytes(st, 0);
    *blob = malloc(*len ? *len : 1);
    if (!p || !*blob) {
        free(*blob);
        gen_err(d->db_path, "empty or unreadable file record for %s", row->path);
        goto fail;
    }
    memcpy(*blob, p, *len);
    rc = 0;
fail:
    sqlite3_finalize(st);
    return rc;
}

/* Records a content change of size plaintext bytes: file mtime, MBFile
 * Size/LastModified, list line. */
static int commit_modified(day *d, mrow *row, uint64_t size)
{
    const int64_t mtime = d->now - (int64_t)rng_below(&d->r, GEN_DAY / 2);
    char *const path = gen_content_path(d->dir, row->file_id);
    char *old = NULL;
    char *blob = NULL;
    size_t old_len = 0;
    size_t len = 0;
    int rc = -1;
    row->size = size;
    if (!path || gen_set_meta(path, 0644, mtime) || read_blob(d, row, &old, &old_len) ||
        gen_mbfile_update(old, old_len, row->size, mtime, &blob, &len) ||
        row_sql(d, "UPDATE Files SET file=?2 WHERE fileID=?1", row, blob, len))
        goto fail;
    row->taken = 1;
    rc = note_change(d, 'M', row->domain, row->path, row->size);
fail:
    free(path);
    free(old);
    free(blob);
    return rc;
}

/* The plaintext of a row to change: its content file, or for encrypted
 * backups a decrypted copy next to it. */
static int work_open(day *d, const mrow *row, char **work)
{
    char *const path = gen_content_path(d->dir, row->file_id);
    *work = NULL;
    if (!path || !d->crypt) {
        *work = path;
        return path ? 0 : -1;
    }
    int rc = -1;
    if ((*work = gen_strf("%s.plain", path)) != NULL)
        rc = gen_crypt_unseal(d->crypt, path, *work, row->key, NULL);
    free(path);
    return rc;
}

/* Ends work_open: for encrypted backups, encrypts the copy over the content
 * file if it changed, and removes it.  Frees work. */
static int work_close(day *d, const mrow *row, char *work, int changed)
{
    int rc = 0;
    if (d->crypt && work) {
        char *const path = gen_content_path(d->dir, row->file_id);
        rc = !path || (changed && gen_crypt_seal(d->crypt, work, path, row->key)) ? -1 : 0;
        if (unlink(work) != 0 && errno != ENOENT && rc == 0)
            rc = gen_errno(work, "cannot remove");
        free(path);
    }
    free(work);
    return rc;
}

/* Adds a new file whose plaintext is at path (encrypting it in place with a
 * new key for encrypted backups). */
static int insert_new(day *d, gen_row *row, const char *path)
{
    uint8_t key[44];
    if (d->crypt) {
        row->protection_class = gen_crypt_class(row->file_id);
        if (gen_crypt_seal_new(d->crypt, path, row->file_id, d->seed ^ (uint64_t)d->now,
                               row->protection_class, key))
            return -1;
        row->encryption_key = key;
    }
    if (gen_set_meta(path, 0644, row->mtime) ||
        gen_manifest_put(d->db_path, d->db, d->ins, row, d->seed ^ (uint64_t)d->now))
        return -1;
    return note_change(d, 'A', row->domain, row->path, row->size);
}

/* ---- the day's events ---- */

static int delete_small(day *d, mrow *row)
{
    char *const path = gen_content_path(d->dir, row->file_id);
    int rc = -1;
    if (!path)
        return -1;
    if (unlink(path) != 0) {
        gen_errno(path, "cannot delete");
        goto fail;
    }
    if (row_sql(d, "DELETE FROM Files WHERE fileID=?1", row, NULL, 0))
        goto fail;
    row->taken = 1;
    rc = note_change(d, 'D', row->domain, row->path, 0);
fail:
    free(path);
    return rc;
}

static int rewrite_small(day *d, mrow *row)
{
    char *work = NULL;
    int changed = 0;
    uint64_t size = 0;
    int rc = work_open(d, row, &work);
    if (rc == 0)
        rc = gen_prefs_touch(work, &d->r, d->now, &changed);
    if (rc == 0 && changed)
        rc = gen_file_size(work, &size);
    if (work_close(d, row, work, rc == 0 && changed))
        rc = -1;
    /* Identical bytes are no change, and must not show up as one. */
    if (rc == 0 && changed)
        rc = commit_modified(d, row, size);
    row->taken = 1;
    return rc;
}

static int use_database(day *d, mrow *row)
{
    char *work = NULL;
    uint64_t size = 0;
    const uint64_t growth = row->size * rng_range(&d->r, 2, 6) / 1000;
    int rc = work_open(d, row, &work);
    if (rc == 0)
        rc = gen_db_mutate(work, d->pattern, growth, &d->r, d->now);
    if (rc == 0)
        rc = gen_file_size(work, &size);
    if (work_close(d, row, work, rc == 0))
        rc = -1;
    if (rc == 0)
        rc = commit_modified(d, row, size);
    return rc;
}

/* The newest camera-roll shot, so new ones continue its sequence in its folder. */
static unsigned last_photo(const day *d, unsigned *folder)
{
    unsigned best = 0;
    *folder = 100;
    for (size_t i = 0; i < d->nrows; i++) {
        unsigned f = 0;
        unsigned n = 0;
        if (strcmp(d->rows[i].domain, "CameraRollDomain") == 0 &&
            sscanf(d->rows[i].path, "Media/DCIM/%uAPPLE/IMG_%u.", &f, &n) == 2 && n > best) {
            best = n;
            *folder = f;
        }
    }
    return best;
}

static int row_exists(day *d, const char *file_id, int *yes)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->db, "SELECT 1 FROM Files WHERE fileID=?", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_text(st, 1, file_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_finalize(st);
        return gen_err(d->db_path, "cannot prepare: %s", sqlite3_errmsg(d->db));
    }
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return gen_err(d->db_path, "cannot query: %s", sqlite3_errmsg(d->db));
    *yes = rc == SQLITE_ROW;
    return 0;
}

/* Directory rows for any ancestor the manifest lacks (a new DCIM folder). */
static int ensure_dirs(day *d, const char *domain, const char *rel)
{
    char *const path = gen_strdup(rel);
    if (!path)
        return -1;
    int rc = 0;
    for (char *slash = strrchr(path, '/'); rc == 0 && slash; slash = strrchr(path, '/')) {
        *slash = '\0';
        gen_row dir = {.domain = domain, .path = path, .flags = MB_DIR, .mtime = d->now};
        dir.birth = d->now;
        int yes = 0;
        rc = gen_file_id(domain, path, dir.file_id) || row_exists(d, dir.file_id, &yes);
        if (rc == 0 && !yes)
            rc = gen_manifest_put(d->db_path, d->db, d->ins, &dir, d->seed ^ (uint64_t)d->now);
    }
    free(path);
    return rc ? -1 : 0;
}

/* Prepares a new regular file's row and content path; 1 if it already exists. */
static int add_file(day *d, const char *domain, const char *rel, gen_row *row, char **path)
{
    *path = NULL;
    memset(row, 0, sizeof *row);
    row->domain = domain;
    row->path = rel;
    row->flags = MB_FILE;
    row->mtime = d->now - (int64_t)rng_below(&d->r, GEN_DAY / 2);
    row->birth = row->mtime;
    int exists = 0;
    if (gen_file_id(domain, rel, row->file_id) || row_exists(d, row->file_id, &exists))
        return -1;
    if (exists)
        return 1;
    if (ensure_dirs(d, domain, rel))
        return -1;
    char *const sub = gen_strf("%s/%.2s", d->dir, row->file_id);
    *path = gen_content_path(d->dir, row->file_id);
    const int rc = !sub || !*path || gen_mkdir_p(sub, 0755) ? -1 : 0;
    free(sub);
    return rc;
}

static int add_photos(day *d, uint64_t budget)
{
    unsigned folder = 100;
    unsigned n = last_photo(d, &folder);
    uint64_t left = budget;
    do {
        uint64_t size = 0;
        const gen_media_kind kind =
            gen_photo_pick(&d->r, left > MIN_PHOTO ? left : MIN_PHOTO, &size);
        char *const rel = gen_photo_path(folder, ++n, kind);
        char *path = NULL;
        gen_row row;
        int rc = rel ? add_file(d, "CameraRollDomain", rel, &row, &path) : -1;
        if (rc == 0) {
            row.size = size;
            row.is_photo = 1;
            rc = gen_media_file(path, kind, size, d->seed ^ gen_hash_str(row.file_id));
            if (rc == 0)
                rc = insert_new(d, &row, path);
        }
        free(path);
        free(rel);
        if (rc < 0)
            return -1;
        left = left > size ? left - size : 0;
    } while (left >= MIN_PHOTO);
    return 0;
}

/* A new settings file next to an existing one, as apps create them. */
static int add_small(day *d, unsigned i)
{
    const mrow *const near = pick_row(d, R_PLIST);
    if (!near)
        return 0;
    const char *const slash = strrchr(near->path, '/');
    const int dir_len = slash ? (int)(slash - near->path + 1) : 0;
    char *const rel = gen_strf("%.*s%s-%llu-%u.plist", dir_len, near->path, gen_word(&d->r),
                               (unsigned long long)(d->now / GEN_DAY), i);
    char *const domain = gen_strdup(near->domain);
    char *path = NULL;
    gen_row row;
    int rc = rel && domain ? add_file(d, domain, rel, &row, &path) : -1;
    if (rc == 0) {
        rc = gen_prefs_plist(path, &d->r, (size_t)rng_range(&d->r, 200, 3000),
                             rng_chance(&d->r, 85, 100), d->now);
        if (rc == 0)
            rc = gen_file_size(path, &row.size);
        if (rc == 0)
            rc = insert_new(d, &row, path);
    }
    free(path);
    free(rel);
    free(domain);
    return rc < 0 ? -1 : 0;
}

static int run_events(day *d)
{
    uint64_t total = 0;
    for (size_t i = 0; i < d->nrows; i++)
        total += d->rows[i].size;
    const size_t nsmall = count_role(d, R_PLIST);
    const size_t ndel = nsmall / 500 + 1;
    const size_t nrewrite = nsmall * 15 / 1000 + 2;
    for (size_t i = 0; i < ndel; i++) {
        mrow *const row = pick_row(d, R_PLIST);
        if (row && delete_small(d, row))
            return -1;
    }
    for (size_t i = 0; i < nrewrite; i++) {
        mrow *const row = pick_row(d, R_PLIST);
        if (row && rewrite_small(d, row))
            return -1;
    }
    /* Databases in fileID order; each is used today with probability 2/5. */
    for (size_t i = 0; i < d->nrows; i++) {
        mrow *const row = &d->rows[i];
        if (row->role == R_DB && rng_chance(&d->r, 2, 5) && use_database(d, row))
            return -1;
    }
    if (add_photos(d, total * rng_range(&d->r, 6, 16) / 1000))
        return -1;
    const unsigned nnew = (unsigned)rng_range(&d->r, 1, 3);
    for (unsigned i = 0; i < nnew; i++) {
        if (add_small(d, i))
            return -1;
    }
    return 0;
}

/* ---- top-level plists ---- */

static int read_status_date(const char *dir, int64_t *out)
{
    char *const path = gen_strf("%s/Status.plist", dir);
    plist_t p = NULL;
    int rc = -1;
    if (!path || gen_read_plist(path, &p, NULL))
        goto fail;
    plist_t const date =
        plist_get_node_type(p) == PLIST_DICT ? plist_dict_get_item(p, "Date") : NULL;
    if (!date || plist_get_node_type(date) != PLIST_DATE) {
        gen_err(path, "no Date");
        goto fail;
    }
    int32_t sec = 0;
    int32_t usec = 0;
    plist_get_date_val(date, &sec, &usec);
    *out = (int64_t)sec + GEN_MAC_EPOCH;
    rc = 0;
fail:
    plist_free(p);
    free(path);
    return rc;
}

static int set_plist_date(const char *dir, const char *name, const char *key, int64_t now)
{
    char *const path = gen_strf("%s/%s", dir, name);
    plist_t p = NULL;
    int binary = 0;
    int rc = -1;
    if (!path || gen_read_plist(path, &p, &binary))
        goto fail;
    if (plist_get_node_type(p) != PLIST_DICT) {
        gen_err(path, "root is not a dictionary");
        goto fail;
    }
    plist_dict_set_item(p, key, gen_plist_date(now));
    if (gen_write_plist(path, p, binary) || gen_set_meta(path, 0644, now))
        goto fail;
    rc = 0;
fail:
    plist_free(p);
    free(path);
    return rc;
}

static int update_top_plists(day *d)
{
    return set_plist_date(d->dir, "Info.plist", "Last Backup Date", d->now) ||
                   set_plist_date(d->dir, "Manifest.plist", "Date", d->now) ||
                   gen_write_status(d->dir, d->now, &d->r)
               ? -1
               : 0;
}

/* ---- driver ---- */

static int open_manifest(day *d, const char *password)
{
    int encrypted = 0;
    if (!(d->db_path = gen_strf("%s/Manifest.db", d->dir)))
        return -1;
    if (!gen_path_exists(d->db_path))
        return gen_err(d->db_path, "missing: not a backup folder");
    if (gen_backup_encrypted(d->dir, &encrypted))
        return -1;
    if (encrypted && !password)
        return gen_err(d->dir, "backup is encrypted: give --encrypt PASSWORD");
    if (!encrypted && password)
        return gen_err(d->dir, "backup is not encrypted: leave out --encrypt");
    if (encrypted) {
        if (!(d->sql_path = gen_strf("%s/.cairn-gen-Manifest.db", d->dir)) ||
            gen_crypt_open(d->dir, password, &d->crypt) ||
            gen_crypt_unseal_manifest(d->crypt, d->db_path, d->sql_path))
            return -1;
    }
    const char *const sql = d->sql_path ? d->sql_path : d->db_path;
    if (sqlite3_open_v2(sql, &d->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return gen_err(d->db_path, "cannot open: %s",
                       d->db ? sqlite3_errmsg(d->db) : "out of memory");
    if (exec_sql(d, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=OFF;"))
        return -1;
    d->ins = gen_manifest_insert_stmt(d->db_path, d->db);
    return d->ins ? 0 : -1;
}

/* Closes Manifest.db; with commit, an encrypted backup's edited copy is
 * encrypted over Manifest.db.  The copy is removed either way. */
static int close_manifest(day *d, int commit)
{
    int rc = 0;
    sqlite3_finalize(d->ins);
    d->ins = NULL;
    if (d->db && sqlite3_close(d->db) != SQLITE_OK)
        return gen_err(d->db_path, "cannot close: %s", sqlite3_errmsg(d->db));
    d->db = NULL;
    if (d->sql_path) {
        if (commit)
            rc = gen_crypt_seal_manifest(d->crypt, d->sql_path, d->db_path);
        if (unlink(d->sql_path) != 0 && errno != ENOENT && rc == 0)
            rc = gen_errno(d->sql_path, "cannot remove");
        free(d->sql_path);
        d->sql_path = NULL;
    }
    return rc;
}

static void day_free(day *d)
{
    close_manifest(d, 0);
    gen_crypt_free(d->crypt);
    for (size_t i = 0; i < d->nrows; i++) {
        free(d->rows[i].domain);
        free(d->rows[i].path);
    }
    free(d->rows);
    for (size_t i = 0; i < d->ch.n; i++)
        free(d->ch.line[i]);
    free(d->ch.line);
    free(d->db_path);
}

int gen_mutate(const char *dir, const gen_opts *o)
{
    day d = {.dir = dir, .seed = o->seed, .pattern = o->pattern};
    int64_t prev = 0;
    int rc = -1;
    rng_init(&d.r, o->seed, 0xda70000 + o->day);
    if (open_manifest(&d, o->encrypt) || read_status_date(dir, &prev))
        goto fail;
    d.now = prev + GEN_DAY;
    if (load_rows(&d) || exec_sql(&d, "BEGIN") || run_events(&d) || exec_sql(&d, "COMMIT"))
        goto fail;
    if (close_manifest(&d, 1) || gen_set_meta(d.db_path, 0644, d.now) || update_top_plists(&d) ||
        gen_fix_dir_times(dir, d.now))
        goto fail;
    if (o->changes && write_changes(&d, o->changes))
        goto fail;
    printf("%s: day %llu: %zu changes\n", dir, (unsigned long long)o->day, d.ch.n);
    rc = 0;
fail:
    day_free(&d);
    return rc;
}
