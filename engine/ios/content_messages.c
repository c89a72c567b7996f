/* content_messages.c - Messages from sms.db (content_messages.h). */
#include "engine/ios/content_messages.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"
#include "engine/ios/content_typedstream.h"

static void free_message(content_message *m)
{
    for (size_t i = 0; i < m->natt; i++) {
        free(m->att[i].name);
        free(m->att[i].mime);
        free(m->att[i].path);
    }
    free(m->att);
    free(m->guid);
    free(m->sender);
    free(m->text);
}

void content_messages_free(content_messages *m)
{
    for (size_t i = 0; i < m->nchat; i++) {
        content_chat *const c = &m->chat[i];
        for (size_t k = 0; k < c->nmsg; k++)
            free_message(&c->msg[k]);
        free(c->msg);
        free(c->guid);
        free(c->identifier);
        free(c->name);
        free(c->service);
    }
    free(m->chat);
    memset(m, 0, sizeof *m);
}
static content_chat *chat_by_rowid(content_messages *m, int64_t rowid)
{
    size_t lo = 0, hi = m->nchat;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (m->chat[mid].rowid == rowid)
            return &m->chat[mid];
        if (m->chat[mid].rowid < rowid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static cairn_err read_chats(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                            content_messages *out)
{
    size_t cap = 0;
    sqlite3_stmt *st = NULL;
    cairn_err rc = content_prepare(
        db, file,
        sqlite3_mprintf(
            "SELECT ROWID, %s, %s, %s, %s FROM chat ORDER BY ROWID",
            content_column_or_null(db, file, "chat", "guid", "guid", warn, ctx),
            content_column_or_null(db, file, "chat", "chat_identifier", "chat_identifier", warn,
                                   ctx),
            content_column_or_null(db, file, "chat", "display_name", "display_name", warn, ctx),
            content_column_or_null(db, file, "chat", "service_name", "service_name", warn, ctx)),
        "reading chats", &st);
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = util_grow(&out->chat, &cap, out->nchat + 1, sizeof *out->chat);
        if (rc)
            break;
        content_chat *const c = &out->chat[out->nchat++];
        memset(c, 0, sizeof *c);
        c->rowid = sqlite3_column_int64(st, 0);
        if (!rc)
            rc = content_column_text(st, 1, &c->guid);
        if (!rc)
            rc = content_column_text(st, 2, &c->identifier);
        if (!rc)
            rc = content_column_text(st, 3, &c->name);
        if (!rc)
            rc = content_column_text(st, 4, &c->service);
        if (!rc && c->name && !*c->name) {
            free(c->name);
            c->name = NULL;
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = content_sql_error(db, file, "reading chats");
    sqlite3_finalize(st);
    return rc;
}

static cairn_err message_text(sqlite3_stmt *st, content_message *m)
{
    cairn_err rc = content_column_text(st, 3, &m->text);
    if (rc || m->text || sqlite3_column_type(st, 4) != SQLITE_BLOB)
        return rc;
    const void *const blob = sqlite3_column_blob(st, 4);
    const int n = sqlite3_column_bytes(st, 4);
    if (!blob)
        return CAIRN_OK;
    rc = content_attributed_text(blob, (size_t)n, &m->text);
    /* a body that does not decode is a message without text, not a failure */
    return rc == CAIRN_ECORRUPT ? CAIRN_OK : rc;
}

static cairn_err read_messages(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                               content_messages *out)
{
    const int handles = content_has_table(db, "handle");
    if (!handles && warn) {
        char line[256];
        snprintf(line, sizeof line, "%s: no table handle: senders left out", file);
        warn(ctx, line);
    }
    const char *const handle_id =
        content_column_or_null(db, file, "message", "handle_id", "m.handle_id", warn, ctx);
    sqlite3_stmt *st = NULL, *hs = NULL;
    cairn_err rc = content_prepare(
        db, file,
        sqlite3_mprintf(
            "SELECT j.chat_id, m.ROWID, %s, %s, %s, %s, %s, %s FROM chat_message_join j "
            "JOIN message m ON m.ROWID = j.message_id ORDER BY j.chat_id, 6, m.ROWID",
            content_column_or_null(db, file, "message", "guid", "m.guid", warn, ctx),
            content_column_or_null(db, file, "message", "text", "m.text", warn, ctx),
            content_column_or_null(db, file, "message", "attributedBody", "m.attributedBody", warn,
                                   ctx),
            content_column_or_null(db, file, "message", "date", "m.date", warn, ctx),
            content_column_or_null(db, file, "message", "is_from_me", "m.is_from_me", warn, ctx),
            handle_id),
        "reading messages", &st);
    if (!rc && handles && content_has_column(db, "handle", "id") &&
        sqlite3_prepare_v2(db, "SELECT id FROM handle WHERE ROWID = ?1", -1, &hs, NULL) !=
            SQLITE_OK)
        rc = content_sql_error(db, file, "reading handles");
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        content_chat *const c = chat_by_rowid(out, sqlite3_column_int64(st, 0));
        if (!c)
            continue; /* a join row without its chat */
        rc = util_grow(&c->msg, &c->cap, c->nmsg + 1, sizeof *c->msg);
        if (rc)
            break;
        content_message *const m = &c->msg[c->nmsg++];
        memset(m, 0, sizeof *m);
        m->rowid = sqlite3_column_int64(st, 1);
        rc = content_column_text(st, 2, &m->guid);
        if (!rc)
            rc = message_text(st, m);
        m->time = content_apple_time(sqlite3_column_int64(st, 5));
        m->from_me = sqlite3_column_int(st, 6) != 0;
        const int64_t h = sqlite3_column_int64(st, 7);
        if (!rc && hs && !m->from_me && h > 0) {
            sqlite3_bind_int64(hs, 1, h);
            if (sqlite3_step(hs) == SQLITE_ROW)
                rc = content_column_text(hs, 0, &m->sender);
            sqlite3_reset(hs);
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = content_sql_error(db, file, "reading messages");
    sqlite3_finalize(hs);
    sqlite3_finalize(st);
    return rc;
}

typedef struct msg_ref {
    int64_t rowid;
    content_message *m;
} msg_ref;

static int ref_cmp(const void *a, const void *b)
{
    const msg_ref *const x = a, *const y = b;
    return x->rowid < y->rowid ? -1 : x->rowid > y->rowid;
}

/* "~/Library/SMS/..." or "/var/mobile/Library/SMS/..." -> "Library/SMS/..." */
static const char *home_relative(const char *f)
{
    static const char *const prefixes[] = {"~/", "/var/mobile/", "/private/var/mobile/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        const size_t n = strlen(prefixes[i]);
        if (strncmp(f, prefixes[i], n) == 0 && f[n])
            return f + n;
    }
    return NULL;
}

static cairn_err add_attachment(sqlite3_stmt *st, content_message *m)
{
    content_attachment *const a = realloc(m->att, (m->natt + 1) * sizeof *a);
    if (!a)
        return err_set(CAIRN_ENOMEM, "out of memory");
    m->att = a;
    content_attachment *const t = &a[m->natt++];
    memset(t, 0, sizeof *t);
    char *filename = NULL;
    cairn_err rc = content_column_text(st, 1, &filename);
    if (!rc)
        rc = content_column_text(st, 2, &t->mime);
    if (!rc)
        rc = content_column_text(st, 3, &t->name);
    const int64_t size = sqlite3_column_int64(st, 4);
    t->size = size > 0 ? (uint64_t)size : 0;
    const char *const rel = !rc && filename ? home_relative(filename) : NULL;
    if (rel && !(t->path = strdup(rel)))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    if (!rc && !t->name && filename) {
        const char *const slash = strrchr(filename, '/');
        if (!(t->name = strdup(slash ? slash + 1 : filename)))
            rc = err_set(CAIRN_ENOMEM, "out of memory");
    }
    free(filename);
    return rc;
}

static cairn_err read_attachments(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                                  content_messages *out)
{
    const char *const missing = !content_has_table(db, "attachment") ? "attachment"
                                : !content_has_table(db, "message_attachment_join")
                                    ? "message_attachment_join"
                                    : NULL;
    if (missing) {
        if (warn) {
            char line[256];
            snprintf(line, sizeof line, "%s: no table %s: attachments left out", file, missing);
            warn(ctx, line);
        }
        return CAIRN_OK;
    }
    size_t n = 0;
    for (size_t i = 0; i < out->nchat; i++)
        n += out->chat[i].nmsg;
    msg_ref *const refs = malloc((n ? n : 1) * sizeof *refs);
    if (!refs)
        return err_set(CAIRN_ENOMEM, "out of memory");
    n = 0;
    for (size_t i = 0; i < out->nchat; i++) {
        for (size_t k = 0; k < out->chat[i].nmsg; k++)
            refs[n++] = (msg_ref){out->chat[i].msg[k].rowid, &out->chat[i].msg[k]};
    }
    qsort(refs, n, sizeof *refs, ref_cmp);
    sqlite3_stmt *st = NULL;
    cairn_err rc = content_prepare(
        db, file,
        sqlite3_mprintf(
            "SELECT j.message_id, %s, %s, %s, %s FROM message_attachment_join j JOIN attachment a "
            "ON a.ROWID = j.attachment_id ORDER BY j.message_id, a.ROWID",
            content_column_or_null(db, file, "attachment", "filename", "a.filename", warn, ctx),
            content_column_or_null(db, file, "attachment", "mime_type", "a.mime_type", warn, ctx),
            content_column_or_null(db, file, "attachment", "transfer_name", "a.transfer_name", warn,
                                   ctx),
            content_column_or_null(db, file, "attachment", "total_bytes", "a.total_bytes", warn,
                                   ctx)),
        "reading attachments", &st);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const msg_ref key = {sqlite3_column_int64(st, 0), NULL};
        /* one message may appear in two chats: attach to each */
        msg_ref *r = bsearch(&key, refs, n, sizeof *refs, ref_cmp);
        while (r && r > refs && r[-1].rowid == key.rowid)
            r--;
        for (; !rc && r && r < refs + n && r->rowid == key.rowid; r++)
            rc = add_attachment(st, r->m);
    }
    if (!rc && step != SQLITE_DONE)
        rc = content_sql_error(db, file, "reading attachments");
    sqlite3_finalize(st);
    free(refs);
    return rc;
}

/* The tables and columns content_messages_read needs. */
static cairn_err messages_schema(sqlite3 *db, const char *file)
{
    static const char *const needed[] = {"chat", "message", "chat_message_join"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        if (!content_has_table(db, needed[i]))
            return err_set(CAIRN_ESOURCE,
                           "%s: no table %s: not a Messages database this cairn "
                           "knows",
                           file, needed[i]);
    }
    if (!content_has_column(db, "chat_message_join", "chat_id") ||
        !content_has_column(db, "chat_message_join", "message_id"))
        return err_set(CAIRN_ESOURCE, "%s: table chat_message_join lacks chat_id or message_id",
                       file);
    return CAIRN_OK;
}

cairn_err content_chats_read(sqlite3 *db, const char *file, content_messages *out)
{
    memset(out, 0, sizeof *out);
    cairn_err rc = messages_schema(db, file);
    if (!rc)
        rc = read_chats(db, file, NULL, NULL, out);
    if (rc)
        content_messages_free(out);
    return rc;
}

cairn_err content_messages_read(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                                content_messages *out)
{
    memset(out, 0, sizeof *out);
    cairn_err rc = messages_schema(db, file);
    if (!rc)
        rc = read_chats(db, file, warn, ctx, out);
    if (!rc)
        rc = read_messages(db, file, warn, ctx, out);
    if (!rc)
        rc = read_attachments(db, file, warn, ctx, out);
    if (rc)
        content_messages_free(out);
    return rc;
}

cairn_err content_messages_load(content_snap *c, content_warn_fn warn, void *ctx,
                                content_messages *out)
{
    content_db db;
    memset(out, 0, sizeof *out);
    cairn_err rc = content_db_open(c, CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH, &db);
    if (rc)
        return rc;
    rc = content_messages_read(db.db, CONTENT_SMS_PATH, warn, ctx, out);
    content_db_close(&db);
    for (size_t i = 0; !rc && i < out->nchat; i++) {
        for (size_t k = 0; k < out->chat[i].nmsg; k++) {
            content_message *const m = &out->chat[i].msg[k];
            for (size_t a = 0; a < m->natt; a++)
                m->att[a].in_snapshot = m->att[a].path && content_find(c, CONTENT_ATTACHMENT_DOMAIN,
                                                                       m->att[a].path) != NULL;
        }
    }
    return rc;
}

const content_chat *content_messages_chat(const content_messages *m, const char *id)
{
    for (size_t i = 0; i < m->nchat; i++) {
        const content_chat *const c = &m->chat[i];
        char row[24];
        snprintf(row, sizeof row, "%" PRId64, c->rowid);
        if (strcmp(row, id) == 0 || (c->guid && strcmp(c->guid, id) == 0) ||
            (c->identifier && strcmp(c->identifier, id) == 0))
            return c;
    }
    return NULL;
}
