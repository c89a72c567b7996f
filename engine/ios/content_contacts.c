/* content_contacts.c - people from AddressBook.sqlitedb (content_contacts.h). */
#include "engine/ios/content_contacts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"

void content_contacts_free(content_contacts *c)
{
    for (size_t i = 0; i < c->n; i++) {
        content_contact *const p = &c->contact[i];
        for (size_t k = 0; k < p->nphone; k++)
            free(p->phone[k]);
        for (size_t k = 0; k < p->nemail; k++)
            free(p->email[k]);
        free(p->phone);
        free(p->email);
        free(p->first);
        free(p->last);
        free(p->org);
    }
    free(c->contact);
    memset(c, 0, sizeof *c);
}

void content_contact_name(const content_contact *c, char *out, size_t cap)
{
    if (c->first || c->last)
        snprintf(out, cap, "%s%s%s", c->first ? c->first : "", c->first && c->last ? " " : "",
                 c->last ? c->last : "");
    else
        snprintf(out, cap, "%s", c->org ? c->org : "(no name)");
}

static content_contact *by_rowid(content_contacts *c, int64_t rowid)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (c->contact[mid].rowid == rowid)
            return &c->contact[mid];
        if (c->contact[mid].rowid < rowid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static cairn_err read_people(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                             content_contacts *out)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    cairn_err rc = content_prepare(
        db, file,
        sqlite3_mprintf("SELECT ROWID, %s, %s, %s FROM ABPerson ORDER BY ROWID",
                        content_column_or_null(db, file, "ABPerson", "First", "First", warn, ctx),
                        content_column_or_null(db, file, "ABPerson", "Last", "Last", warn, ctx),
                        content_column_or_null(db, file, "ABPerson", "Organization", "Organization",
                                               warn, ctx)),
        "reading ABPerson", &st);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = util_grow(&out->contact, &cap, out->n + 1, sizeof *out->contact);
        if (rc)
            break;
        content_contact *const p = &out->contact[out->n++];
        memset(p, 0, sizeof *p);
        p->rowid = sqlite3_column_int64(st, 0);
        rc = content_column_text(st, 1, &p->first);
        if (!rc)
            rc = content_column_text(st, 2, &p->last);
        if (!rc)
            rc = content_column_text(st, 3, &p->org);
    }
    if (!rc && step != SQLITE_DONE)
        rc = content_sql_error(db, file, "reading ABPerson");
    sqlite3_finalize(st);
    return rc;
}

static cairn_err append(char ***list, size_t *n, char *value)
{
    char **const l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l) {
        free(value);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    l[(*n)++] = value;
    *list = l;
    return CAIRN_OK;
}

static cairn_err read_values(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                             content_contacts *out)
{
    static const char *const cols[] = {"record_id", "property", "value"};
    const char *missing = !content_has_table(db, "ABMultiValue") ? "" : NULL;
    for (size_t i = 0; !missing && i < sizeof cols / sizeof cols[0]; i++) {
        if (!content_has_column(db, "ABMultiValue", cols[i]))
            missing = cols[i];
    }
    if (missing) {
        if (warn) {
            char line[256];
            snprintf(line, sizeof line, "%s: %s%s: phone numbers and e-mail addresses left out",
                     file, *missing ? "table ABMultiValue has no column " : "no table ABMultiValue",
                     missing);
            warn(ctx, line);
        }
        return CAIRN_OK;
    }
    sqlite3_stmt *st = NULL;
    cairn_err rc = CAIRN_OK;
    if (sqlite3_prepare_v2(db,
                           "SELECT record_id, property, value FROM ABMultiValue WHERE property "
                           "IN (3, 4) AND value IS NOT NULL ORDER BY record_id, UID",
                           -1, &st, NULL) != SQLITE_OK)
        rc = content_sql_error(db, file, "reading ABMultiValue");
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        content_contact *const p = by_rowid(out, sqlite3_column_int64(st, 0));
        char *v = NULL;
        if (!p)
            continue;
        rc = content_column_text(st, 2, &v);
        if (!rc && v)
            rc = sqlite3_column_int(st, 1) == CONTENT_AB_PHONE ? append(&p->phone, &p->nphone, v)
                                                               : append(&p->email, &p->nemail, v);
    }
    if (!rc && step != SQLITE_DONE)
        rc = content_sql_error(db, file, "reading ABMultiValue");
    sqlite3_finalize(st);
    return rc;
}

cairn_err content_contacts_read(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                                content_contacts *out)
{
    memset(out, 0, sizeof *out);
    if (!content_has_table(db, "ABPerson"))
        return err_set(CAIRN_ESOURCE, "%s: no table ABPerson: not an address book this cairn knows",
                       file);
    cairn_err rc = read_people(db, file, warn, ctx, out);
    if (!rc)
        rc = read_values(db, file, warn, ctx, out);
    if (rc)
        content_contacts_free(out);
    return rc;
}

cairn_err content_contacts_load(content_snap *c, content_warn_fn warn, void *ctx,
                                content_contacts *out)
{
    content_db db;
    memset(out, 0, sizeof *out);
    cairn_err rc = content_db_open(c, CONTENT_CONTACTS_DOMAIN, CONTENT_CONTACTS_PATH, &db);
    if (rc)
        return rc;
    rc = content_contacts_read(db.db, CONTENT_CONTACTS_PATH, warn, ctx, out);
    content_db_close(&db);
    return rc;
}
