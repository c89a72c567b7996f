/* content.c - a device snapshot's databases, read-only (content.h). */
#define _XOPEN_SOURCE 700
#include "engine/ios/content.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/core/extract.h"
#include "engine/core/restore.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree_store.h"

struct content_snap {
    store *s;
    const snapshot *sn;
    store_worker *w;
    catalog cat;
    cbuf buf;
};

/* content_open_only's filter: the catalog entries of the files asked for. */
typedef struct content_keep {
    catalog *cat;
    const content_file *files;
    size_t n;
} content_keep;

static cairn_err keep_entry(void *ctx, const catalog_entry *e)
{
    const content_keep *const k = ctx;
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(e->path, k->files[i].path) == 0 && strcmp(e->domain, k->files[i].domain) == 0)
            return catalog_add(k->cat, e);
    return CAIRN_OK;
}

/* files NULL: the whole catalog; else only the entries of files[0..n). */
static cairn_err open_snap(store *s, const snapshot *sn, const content_file *files, size_t n,
                           content_snap **out)
{
    content_snap *const c = calloc(1, sizeof *c);
    if (!c)
        return err_set(CAIRN_ENOMEM, "out of memory");
    c->s = s;
    c->sn = sn;
    catalog_init(&c->cat);
    cbuf_init(&c->buf);
    content_keep keep = {&c->cat, files, n};
    /* the stream comes sorted by (domain, path) without repeats, so what is
     * kept is sorted as content_find needs */
    cairn_err rc =
        files ? extract_catalog_each(s, sn, keep_entry, &keep) : extract_catalog(s, sn, &c->cat);
    if (!rc)
        rc = store_worker_new(s, &c->w);
    if (rc) {
        content_close(c);
        return rc;
    }
    *out = c;
    return CAIRN_OK;
}

cairn_err content_open(store *s, const snapshot *sn, content_snap **out)
{
    return open_snap(s, sn, NULL, 0, out);
}

cairn_err content_open_only(store *s, const snapshot *sn, const content_file *files, size_t n,
                            content_snap **out)
{
    static const content_file none = {"", ""}; /* open_snap takes NULL for all */
    return open_snap(s, sn, n ? files : &none, n, out);
}

void content_close(content_snap *c)
{
    if (!c)
        return;
    store_worker_free(c->w);
    catalog_free(&c->cat);
    cbuf_free(&c->buf);
    free(c);
}

const snapshot *content_snapshot(const content_snap *c)
{
    return c->sn;
}

const catalog *content_catalog(const content_snap *c)
{
    return &c->cat;
}

const catalog_entry *content_find(const content_snap *c, const char *domain, const char *path)
{
    size_t lo = 0, hi = c->cat.count;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const catalog_entry *const e = &c->cat.entries[mid];
        int d = strcmp(e->domain, domain);
        if (!d)
            d = strcmp(e->path, path);
        if (!d)
            return e->flags == CATALOG_FILE ? e : NULL;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The tree node of a catalog entry's content file. */
static cairn_err content_node(content_snap *c, const catalog_entry *e, tree_node *n)
{
    char content[44];
    catalog_content_path(e, content);
    const cairn_err rc = treestore_lookup(c->s, c->w, (const uint8_t(*)[ID_LEN])c->sn->tree,
                                          c->sn->ntree, content, n);
    if (rc == CAIRN_ENOTFOUND)
        return err_set(CAIRN_ENOTFOUND, "%s/%s: content file %s is not in the snapshot", e->domain,
                       e->path, content);
    return rc;
}

cairn_err content_write_file(content_snap *c, const catalog_entry *e, const char *path,
                             uint32_t mode, int64_t mtime)
{
    tree_node n;
    uint64_t written = 0;
    cairn_err rc = content_node(c, e, &n);
    if (rc)
        return rc;
    rc = restore_node(c->s, c->w, &n, NULL, path, 1, mode, mtime, 0, &c->buf, &written);
    tree_node_free(&n);
    return rc;
}

cairn_err content_same_file(content_snap *a, content_snap *b, const char *domain, const char *path,
                            int *same)
{
    const catalog_entry *const ea = content_find(a, domain, path);
    const catalog_entry *const eb = content_find(b, domain, path);
    tree_node na, nb;
    *same = 0;
    if (!ea || !eb || ea->size != eb->size)
        return CAIRN_OK;
    cairn_err rc = content_node(a, ea, &na);
    if (rc)
        return rc == CAIRN_ENOTFOUND ? CAIRN_OK : rc;
    rc = content_node(b, eb, &nb);
    if (!rc) {
        *same = na.nchunks == nb.nchunks && na.cipher == nb.cipher &&
                (!na.nchunks || memcmp(na.chunks, nb.chunks, (size_t)na.nchunks * ID_LEN) == 0);
        tree_node_free(&nb);
    }
    tree_node_free(&na);
    return rc == CAIRN_ENOTFOUND ? CAIRN_OK : rc;
}

cairn_err content_db_open(content_snap *c, const char *domain, const char *path, content_db *out)
{
    memset(out, 0, sizeof *out);
    const catalog_entry *const e = content_find(c, domain, path);
    if (!e) {
        char id[9];
        snaplist_short_id(c->sn->id, id);
        return err_set(CAIRN_ENOTFOUND, "%s/%s: not in snapshot %s", domain, path, id);
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (snprintf(out->dir, sizeof out->dir, "%s/cairn-content-XXXXXX", tmp) >= (int)sizeof out->dir)
        return err_set(CAIRN_EINVAL, "%s: TMPDIR is too long", tmp);
    if (!mkdtemp(out->dir)) {
        const cairn_err rc = err_errno(errno, out->dir);
        out->dir[0] = '\0';
        return rc;
    }
    snprintf(out->path, sizeof out->path, "%s/db", out->dir);
    cairn_err rc = content_write_file(c, e, out->path, 0600, e->mtime);
    if (!rc) {
        /* immutable: no journal, no locks, nothing written beside it */
        char *const uri = sqlite3_mprintf("file:%s?immutable=1", out->path);
        if (!uri)
            rc = err_set(CAIRN_ENOMEM, "out of memory");
        else if (sqlite3_open_v2(uri, &out->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) !=
                 SQLITE_OK)
            rc = err_set(CAIRN_ESOURCE, "%s/%s: cannot open as SQLite: %s", domain, path,
                         out->db ? sqlite3_errmsg(out->db) : "out of memory");
        sqlite3_free(uri);
    }
    if (rc)
        content_db_close(out);
    return rc;
}

/* ---- a database read from the store in place ----
 *
 * A VFS of its own per open database (its name unique, registered while
 * open; no global state): SQLite's page reads become reads of the chunks
 * that hold them, each verified by store_get_chunk; the chunk read last is
 * kept, so a table scanned in order costs one chunk read per chunk.  The
 * file's chunk lengths come from its fingerprints.  Temporary files (a
 * sort that spills) go to the default VFS. */

typedef struct store_db {
    sqlite3_vfs vfs;
    sqlite3_vfs *os; /* the default VFS */
    char name[48];
    content_snap *c;
    tree_node node;
    uint64_t *start; /* nchunks + 1 offsets */
    int have;        /* 1: chunk `cached` is in buf */
    uint32_t cached;
    cbuf buf;
    cairn_err rc; /* the store's error behind a failed read, kept for content_sql_error */
    char msg[ERR_MSG_MAX];
} store_db;

typedef struct store_file {
    sqlite3_file base; /* first: what SQLite hands back */
    store_db *d;
} store_file;

static int sf_close(sqlite3_file *f)
{
    (void)f;
    return SQLITE_OK;
}

/* Chunk k of the file in d->buf. */
static cairn_err sf_load(store_db *d, uint32_t k)
{
    if (d->have && d->cached == k)
        return CAIRN_OK;
    d->have = 0;
    cbuf_reset(&d->buf);
    const cairn_err rc = store_get_chunk(d->c->s, d->c->w, d->node.chunks[k], &d->buf);
    if (rc)
        return rc;
    if (d->buf.len != d->start[k + 1] - d->start[k])
        return err_set(CAIRN_ECORRUPT, "%s: chunk %" PRIu32 " is not the length recorded",
                       d->node.name, k);
    d->have = 1;
    d->cached = k;
    return CAIRN_OK;
}

static int sf_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
    store_db *const d = ((store_file *)f)->d;
    const uint64_t size = d->start[d->node.nchunks];
    uint8_t *p = out;
    uint64_t at = (uint64_t)off, left = (uint64_t)amt;
    /* the chunk holding at: the last whose start is not after it */
    uint32_t lo = 0, hi = d->node.nchunks;
    while (hi - lo > 1) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (d->start[mid] <= at)
            lo = mid;
        else
            hi = mid;
    }
    for (uint32_t k = lo; left && at < size; k++) {
        const cairn_err rc = sf_load(d, k);
        if (rc) {
            d->rc = rc;
            snprintf(d->msg, sizeof d->msg, "%s", err_msg());
            return SQLITE_IOERR_READ;
        }
        const uint64_t in = at - d->start[k];
        const uint64_t n = d->buf.len - in < left ? d->buf.len - in : left;
        memcpy(p, d->buf.data + in, (size_t)n);
        p += n;
        at += n;
        left -= n;
    }
    if (!left)
        return SQLITE_OK;
    memset(p, 0, (size_t)left); /* SQLite asks for this past the end */
    return SQLITE_IOERR_SHORT_READ;
}

static int sf_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 off)
{
    (void)f;
    (void)p;
    (void)amt;
    (void)off;
    return SQLITE_READONLY;
}

static int sf_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    (void)f;
    (void)size;
    return SQLITE_READONLY;
}

static int sf_sync(sqlite3_file *f, int flags)
{
    (void)f;
    (void)flags;
    return SQLITE_OK;
}

static int sf_size(sqlite3_file *f, sqlite3_int64 *size)
{
    const store_db *const d = ((store_file *)f)->d;
    *size = (sqlite3_int64)d->start[d->node.nchunks];
    return SQLITE_OK;
}

static int sf_lock(sqlite3_file *f, int level)
{
    (void)f;
    (void)level;
    return SQLITE_OK;
}

static int sf_reserved(sqlite3_file *f, int *out)
{
    (void)f;
    *out = 0;
    return SQLITE_OK;
}

static int sf_control(sqlite3_file *f, int op, void *arg)
{
    (void)f;
    (void)op;
    (void)arg;
    return SQLITE_NOTFOUND;
}

static int sf_sector(sqlite3_file *f)
{
    (void)f;
    return 4096;
}

static int sf_caps(sqlite3_file *f)
{
    (void)f;
    return SQLITE_IOCAP_IMMUTABLE;
}

static const sqlite3_io_methods store_io = {
    .iVersion = 1,
    .xClose = sf_close,
    .xRead = sf_read,
    .xWrite = sf_write,
    .xTruncate = sf_truncate,
    .xSync = sf_sync,
    .xFileSize = sf_size,
    .xLock = sf_lock,
    .xUnlock = sf_lock,
    .xCheckReservedLock = sf_reserved,
    .xFileControl = sf_control,
    .xSectorSize = sf_sector,
    .xDeviceCharacteristics = sf_caps,
};

static int sv_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    store_db *const d = v->pAppData;
    if (!(flags & SQLITE_OPEN_MAIN_DB))
        return d->os->xOpen(d->os, name, f, flags, out_flags);
    if (flags & (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
        return SQLITE_READONLY;
    store_file *const sf = (store_file *)f;
    sf->base.pMethods = &store_io;
    sf->d = d;
    if (out_flags)
        *out_flags = SQLITE_OPEN_READONLY;
    return SQLITE_OK;
}

static int sv_delete(sqlite3_vfs *v, const char *name, int sync)
{
    const store_db *const d = v->pAppData;
    return d->os->xDelete(d->os, name, sync);
}

/* No journal or WAL beside a database in the store. */
static int sv_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    (void)name;
    (void)flags;
    *out = 0;
    return SQLITE_OK;
}

static int sv_full(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return snprintf(out, (size_t)n, "%s", name) < n ? SQLITE_OK : SQLITE_CANTOPEN;
}

static void store_db_free(store_db *d)
{
    if (!d)
        return;
    tree_node_free(&d->node);
    free(d->start);
    cbuf_free(&d->buf);
    free(d);
}

/* The store_db of a file whose chunk lengths are known; NULL and
 * CAIRN_OK when they are not. */
static cairn_err store_db_new(content_snap *c, const catalog_entry *e, store_db **out)
{
    *out = NULL;
    sqlite3_vfs *const os = sqlite3_vfs_find(NULL);
    store_db *const d = calloc(1, sizeof *d);
    if (!d || !os) {
        free(d);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    cbuf_init(&d->buf);
    cairn_err rc = content_node(c, e, &d->node);
    if (rc) {
        free(d);
        return rc;
    }
    if (!tree_node_has_fprints(&d->node)) {
        store_db_free(d);
        return CAIRN_OK;
    }
    if (!(d->start = malloc(((size_t)d->node.nchunks + 1) * sizeof *d->start))) {
        store_db_free(d);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    d->start[0] = 0;
    for (uint32_t k = 0; k < d->node.nchunks; k++)
        d->start[k + 1] = d->start[k] + d->node.fprints[k].len;
    d->c = c;
    d->os = os;
    snprintf(d->name, sizeof d->name, "cairn-store-%p", (void *)d);
    d->vfs = *os; /* its time, randomness and sleep */
    d->vfs.szOsFile =
        os->szOsFile > (int)sizeof(store_file) ? os->szOsFile : (int)sizeof(store_file);
    d->vfs.pNext = NULL;
    d->vfs.zName = d->name;
    d->vfs.pAppData = d;
    d->vfs.xOpen = sv_open;
    d->vfs.xDelete = sv_delete;
    d->vfs.xAccess = sv_access;
    d->vfs.xFullPathname = sv_full;
    *out = d;
    return CAIRN_OK;
}

cairn_err content_db_open_in_store(content_snap *c, const char *domain, const char *path,
                                   content_db *out)
{
    memset(out, 0, sizeof *out);
    const catalog_entry *const e = content_find(c, domain, path);
    store_db *d = NULL;
    cairn_err rc = e ? store_db_new(c, e, &d) : CAIRN_OK;
    if (rc || !d)
        return rc ? rc : content_db_open(c, domain, path, out);
    if (sqlite3_vfs_register(&d->vfs, 0) != SQLITE_OK) {
        store_db_free(d);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    out->store = d;
    if (sqlite3_open_v2("db", &out->db, SQLITE_OPEN_READONLY, d->name) != SQLITE_OK)
        rc = err_set(CAIRN_ESOURCE, "%s/%s: cannot open as SQLite: %s", domain, path,
                     out->db ? sqlite3_errmsg(out->db) : "out of memory");
    /* the schema now: a chunk the store cannot give fails here, as the
     * copy would, not as a table the readers then do not find */
    else if (sqlite3_exec(out->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) !=
             SQLITE_OK) {
        char file[PATH_MAX];
        snprintf(file, sizeof file, "%s/%s", domain, path);
        rc = content_sql_error(out->db, file, "reading the schema");
    }
    if (rc)
        content_db_close(out);
    return rc;
}

void content_db_close(content_db *db)
{
    if (db->db)
        sqlite3_close(db->db);
    db->db = NULL;
    if (db->store) {
        sqlite3_vfs_unregister(&db->store->vfs);
        store_db_free(db->store);
        db->store = NULL;
    }
    if (db->path[0])
        unlink(db->path);
    if (db->dir[0])
        rmdir(db->dir);
    db->path[0] = db->dir[0] = '\0';
}

int content_has_table(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st = NULL;
    int yes = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK)
        yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return yes;
}

int content_has_column(sqlite3 *db, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    int yes = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name=?2 COLLATE NOCASE",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC) == SQLITE_OK)
        yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return yes;
}

const char *content_first_table(sqlite3 *db, const char *const *tables, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (content_has_table(db, tables[i]))
            return tables[i];
    }
    return NULL;
}

const char *content_column_or_null(sqlite3 *db, const char *file, const char *table,
                                   const char *col, const char *expr, content_warn_fn warn,
                                   void *ctx)
{
    if (content_has_column(db, table, col))
        return expr;
    if (warn) {
        char line[512];
        snprintf(line, sizeof line, "%s: table %s has no column %s: left out", file, table, col);
        warn(ctx, line);
    }
    return "NULL";
}

int64_t content_apple_time(int64_t v)
{
    enum { APPLE_EPOCH = 978307200 };
    const int64_t sec = (v > 100000000000LL || v < -100000000000LL) ? v / 1000000000 : v;
    return sec + APPLE_EPOCH;
}

cairn_err content_column_text(sqlite3_stmt *st, int i, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return CAIRN_OK;
    const unsigned char *const t = sqlite3_column_text(st, i);
    const int n = sqlite3_column_bytes(st, i);
    if (!t)
        return err_set(CAIRN_ENOMEM, "out of memory");
    if (!(*out = malloc((size_t)n + 1)))
        return err_set(CAIRN_ENOMEM, "out of memory");
    memcpy(*out, t, (size_t)n);
    (*out)[n] = '\0';
    /* an embedded NUL would cut the text anywhere it is printed */
    for (int k = 0; k < n; k++) {
        if ((*out)[k] == '\0')
            (*out)[k] = ' ';
    }
    return CAIRN_OK;
}

cairn_err content_prepare(sqlite3 *db, const char *file, char *sql, const char *what,
                          sqlite3_stmt **st)
{
    *st = NULL;
    if (!sql)
        return err_set(CAIRN_ENOMEM, "out of memory");
    const int ok = sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK;
    sqlite3_free(sql);
    return ok ? CAIRN_OK : content_sql_error(db, file, what);
}

cairn_err content_sql_error(sqlite3 *db, const char *file, const char *what)
{
    const int code = sqlite3_errcode(db);
    sqlite3_vfs *v = NULL;
    /* a read from the store that failed: the store's error, not SQLite's */
    if ((code & 0xff) == SQLITE_IOERR &&
        sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &v) == SQLITE_OK && v &&
        v->xOpen == sv_open && ((store_db *)v->pAppData)->rc) {
        const store_db *const d = v->pAppData;
        return err_set(d->rc, "%s: %s: %s", file, what, d->msg);
    }
    if (code == SQLITE_NOMEM)
        return err_set(CAIRN_ENOMEM, "out of memory");
    return err_set(CAIRN_ESOURCE, "%s: %s: %s", file, what, sqlite3_errmsg(db));
}
