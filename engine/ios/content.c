/* content.c - a device snapshot's databases, read-only (content.h). */
#define _XOPEN_SOURCE 700
#include "engine/ios/content.h"

#include <errno.h>
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

cairn_err content_open(store *s, const snapshot *sn, content_snap **out)
{
    content_snap *const c = calloc(1, sizeof *c);
    if (!c)
        return err_set(CAIRN_ENOMEM, "out of memory");
    c->s = s;
    c->sn = sn;
    catalog_init(&c->cat);
    cbuf_init(&c->buf);
    cairn_err rc = extract_catalog(s, sn, &c->cat);
    if (!rc)
        rc = store_worker_new(s, &c->w);
    if (rc) {
        content_close(c);
        return rc;
    }
    *out = c;
    return CAIRN_OK;
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

void content_db_close(content_db *db)
{
    if (db->db)
        sqlite3_close(db->db);
    db->db = NULL;
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
    if (code == SQLITE_NOMEM)
        return err_set(CAIRN_ENOMEM, "out of memory");
    return err_set(CAIRN_ESOURCE, "%s: %s: %s", file, what, sqlite3_errmsg(db));
}
