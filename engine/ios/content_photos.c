/* content_photos.c - the camera roll from Photos.sqlite (content_photos.h). */
#include "engine/ios/content_photos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"

void content_photos_free(content_photos *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->photo[i].uuid);
        free(p->photo[i].path);
    }
    free(p->photo);
    memset(p, 0, sizeof *p);
}

const char *content_photo_kind_name(content_photo_kind k)
{
    return k == CONTENT_PHOTO ? "photo" : k == CONTENT_VIDEO ? "video" : "other";
}

/* The asset table with the columns a reader needs, or CAIRN_ESOURCE. */
static cairn_err asset_table(sqlite3 *db, const char *file, const char **table)
{
    static const char *const tables[] = {"ZASSET", "ZGENERICASSET"};
    const char *const t = content_first_table(db, tables, 2);
    if (!t)
        return err_set(CAIRN_ESOURCE,
                       "%s: no table ZASSET or ZGENERICASSET: not a Photos library this cairn "
                       "knows",
                       file);
    static const char *const needed[] = {"Z_PK", "ZDIRECTORY", "ZFILENAME"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        if (!content_has_column(db, t, needed[i]))
            return err_set(CAIRN_ESOURCE, "%s: table %s has no column %s", file, t, needed[i]);
    }
    *table = t;
    return CAIRN_OK;
}

/* "Media/<dir>/<name>" ("Media/<name>" without a folder) into a malloc'd
 * *out; the two texts end at their first NUL, as printed. */
static cairn_err photo_path(const unsigned char *dir, const unsigned char *name, char **out)
{
    const char *const sub = dir ? (const char *)dir : "";
    const size_t len = 6 + strlen(sub) + 1 + strlen((const char *)name) + 1;
    if (!(*out = malloc(len)))
        return err_set(CAIRN_ENOMEM, "out of memory");
    snprintf(*out, len, "Media/%s%s%s", sub, *sub ? "/" : "", (const char *)name);
    return CAIRN_OK;
}

cairn_err content_photo_keys_read(sqlite3 *db, const char *file, content_photo_key_fn fn, void *ctx)
{
    const char *t = NULL;
    cairn_err rc = asset_table(db, file, &t);
    sqlite3_stmt *st = NULL;
    /* no ORDER BY: the table in its own order, read once from start to end */
    if (!rc)
        rc = content_prepare(
            db, file,
            sqlite3_mprintf("SELECT %s, ZDIRECTORY, ZFILENAME FROM %s "
                            "WHERE ZFILENAME IS NOT NULL",
                            content_column_or_null(db, file, t, "ZUUID", "ZUUID", NULL, NULL), t),
            "reading assets", &st);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        char *key = NULL;
        rc = content_column_text(st, 0, &key);
        const unsigned char *const name = sqlite3_column_text(st, 2);
        if (!rc && !key && name)
            rc = photo_path(sqlite3_column_text(st, 1), name, &key);
        /* a NULL name is no photo, whatever its UUID (content_photos_read) */
        if (!rc && name)
            rc = fn(ctx, key);
        free(key);
    }
    if (!rc && step != SQLITE_DONE)
        rc = content_sql_error(db, file, "reading assets");
    sqlite3_finalize(st);
    return rc;
}

cairn_err content_photos_read(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                              content_photos *out)
{
    memset(out, 0, sizeof *out);
    const char *t = NULL;
    const cairn_err trc = asset_table(db, file, &t);
    if (trc)
        return trc;
    const char *const date =
        content_column_or_null(db, file, t, "ZDATECREATED", "ZDATECREATED", warn, ctx);
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    cairn_err rc = content_prepare(
        db, file,
        sqlite3_mprintf(
            "SELECT Z_PK, %s, %s, %s, %s, ZDIRECTORY, ZFILENAME FROM %s "
            "WHERE ZFILENAME IS NOT NULL ORDER BY 2, Z_PK",
            date, content_column_or_null(db, file, t, "ZKIND", "ZKIND", warn, ctx),
            content_column_or_null(db, file, t, "ZTRASHEDSTATE", "ZTRASHEDSTATE", warn, ctx),
            content_column_or_null(db, file, t, "ZUUID", "ZUUID", warn, ctx), t),
        "reading assets", &st);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = util_grow(&out->photo, &cap, out->n + 1, sizeof *out->photo);
        if (rc)
            break;
        content_photo *const p = &out->photo[out->n++];
        memset(p, 0, sizeof *p);
        p->pk = sqlite3_column_int64(st, 0);
        const double d = sqlite3_column_double(st, 1);
        /* Core Data dates are REAL seconds since 2001; keep out of range values sane */
        p->time = d > -1e12 && d < 1e12 ? content_apple_time((int64_t)d) : 0;
        const int kind = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
        p->kind = kind == 0 ? CONTENT_PHOTO : kind == 1 ? CONTENT_VIDEO : CONTENT_OTHER;
        p->trashed = sqlite3_column_int(st, 3) != 0;
        rc = content_column_text(st, 4, &p->uuid);
        const unsigned char *const name = sqlite3_column_text(st, 6);
        if (!rc && name)
            rc = photo_path(sqlite3_column_text(st, 5), name, &p->path);
        if (!rc && !p->path) {
            free(p->uuid); /* a NULL name: nothing to point at */
            out->n--;
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = content_sql_error(db, file, "reading assets");
    sqlite3_finalize(st);
    if (rc)
        content_photos_free(out);
    return rc;
}

cairn_err content_photos_load(content_snap *c, content_warn_fn warn, void *ctx, content_photos *out)
{
    content_db db;
    memset(out, 0, sizeof *out);
    cairn_err rc = content_db_open(c, CONTENT_PHOTOS_DOMAIN, CONTENT_PHOTOS_PATH, &db);
    if (rc)
        return rc;
    rc = content_photos_read(db.db, CONTENT_PHOTOS_PATH, warn, ctx, out);
    content_db_close(&db);
    for (size_t i = 0; !rc && i < out->n; i++) {
        const catalog_entry *const e = content_find(c, CONTENT_PHOTOS_DOMAIN, out->photo[i].path);
        out->photo[i].in_snapshot = e != NULL;
        out->photo[i].size = e ? e->size : 0;
    }
    return rc;
}
