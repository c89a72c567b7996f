/* gen-content.c - "cairn-gen device --content STATE": Messages, Photos and
 * Contacts databases with known rows, in the schema of the iOS version the
 * device claims (docs/CONTENT.md says which public facts each schema follows).
 *
 * The rows are tables in this file, so the tests can state exact expected
 * output.  States model a phone over time:
 *   0  the first backup: 3 contacts, 3 conversations (7 messages, one with a
 *      photo attached), 20 camera-roll items
 *   1  a day later: a message deleted, two sent; a photo deleted, one taken;
 *      a contact deleted, one added, one given a new e-mail address.  Loses
 *      1 photo in 20 (5 %): below the deletion alarm's default threshold
 *   2  after a clean-up: a whole conversation and 15 photos gone (alarm)
 * Schemas: iOS 16 and later store message text only in attributedBody (text
 * is NULL); Photos' asset table is ZGENERICASSET before iOS 14, ZASSET from
 * iOS 14 on. */
#define _XOPEN_SOURCE 700

#include "gen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MSG_BASE = 1717200000 /* 2024-06-01 00:00:00 UTC */, PHOTO_BASE = 1716000000 };

/* ---- the rows ---- */

typedef struct person {
    int id;
    const char *first, *last, *org, *phone, *email;
    unsigned from, to; /* present in states [from, to] */
} person;

static const person people[] = {
    {1, "Ada", "Lovelace", "Analytical Engines", "+1 555 0100", "ada@example.com", 0, 9},
    {2, "Alan", "Turing", NULL, "+1 555 0101", NULL, 0, 0},
    {3, "Grace", "Hopper", "US Navy", "+1 555 0103", "grace@example.com", 0, 0},
    {3, "Grace", "Hopper", "US Navy", "+1 555 0103", "grace.hopper@example.com", 1, 9},
    {4, "Edsger", "Dijkstra", NULL, "+31 555 0104", NULL, 1, 9},
};

typedef struct chat_row {
    int id;
    const char *guid, *identifier, *service, *display;
    int handles[2];
    unsigned to;
} chat_row;

static const chat_row chats[] = {
    {1, "iMessage;-;+15550100", "+15550100", "iMessage", NULL, {1, 0}, 9},
    {2, "SMS;-;+15550101", "+15550101", "SMS", NULL, {2, 0}, 1},
    {3, "iMessage;+;chat424242", "chat424242", "iMessage", "Compilers", {1, 3}, 9},
};

static const char *const handles[] = {NULL, "+15550100", "+15550101", "grace@example.com"};

typedef struct msg_row {
    int id, chat, handle; /* handle 0: sent from this phone */
    const char *text;
    int attachment;
    unsigned from, to;
} msg_row;

static const msg_row messages[] = {
    {1, 1, 1, "Hello from Ada", 0, 0, 9},
    {2, 1, 0, "Hi Ada!", 0, 0, 0},
    {3, 1, 1, "Look at this", 1, 0, 9},
    {4, 2, 2, "Enigma?", 0, 0, 1},
    {5, 2, 0, "Cracked.", 0, 0, 1},
    {6, 3, 3,
     "Bug found in relay #70 of the Mark II: a moth, taped into the log book at 15:45 as the "
     "first actual case of bug being found. We should keep this one for the museum.",
     0, 0, 9},
    {7, 3, 1, "Moth! \xf0\x9f\xa6\x8b", 0, 0, 9},
    {8, 1, 0, "See you tomorrow", 0, 1, 9},
    {9, 3, 0, "Logged it", 0, 1, 9},
};

static const char ATTACHMENT_GUID[] = "AT-0A10-0001";
static const char ATTACHMENT_PATH[] = "Library/SMS/Attachments/0a/10/AT-0A10-0001/IMG_0101.jpeg";
enum { ATTACHMENT_SIZE = 5000, NPHOTOS = 21 };

static int in_state(unsigned from, unsigned to, unsigned state)
{
    return state >= from && state <= to;
}

/* Photo n (1..21): 20 at first; state 1 deletes 2 and takes 21; state 2 keeps
 * 1, 3, 4, 5 and 21. */
static int photo_present(unsigned n, unsigned state)
{
    if (n == 21)
        return state >= 1;
    if (state == 0)
        return 1;
    if (n == 2)
        return 0;
    return state == 1 || n <= 5;
}

static gen_media_kind photo_kind(unsigned n)
{
    return n % 7 == 4 ? MEDIA_MOV : n % 5 == 2 ? MEDIA_JPEG : MEDIA_HEIC;
}

static uint64_t photo_size(unsigned n)
{
    return 3000 + 37 * (uint64_t)n;
}

int gen_content_files(unsigned state, gen_content_file_fn fn, void *ctx)
{
    for (unsigned n = 1; n <= NPHOTOS; n++) {
        if (!photo_present(n, state))
            continue;
        char *const path = gen_photo_path(100, n, photo_kind(n));
        const int rc =
            path ? fn(ctx, "CameraRollDomain", path, photo_kind(n), photo_size(n), 1) : -1;
        free(path);
        if (rc)
            return rc;
    }
    return fn(ctx, "MediaDomain", ATTACHMENT_PATH, MEDIA_JPEG, ATTACHMENT_SIZE, 0);
}

/* ---- attributedBody: an NSAttributedString in NeXT's typedstream ---- */

/* The archive iOS writes: the stream header, the class chain
 * NSAttributedString < NSObject, then NSString < NSObject holding the UTF-8
 * text as a '+' (C string) value with its length (one byte below 0x80, else
 * 0x81 and two bytes little-endian), then the attribute runs (left out: the
 * readers stop at the text). */
int gen_attributed_body(const char *text, gen_buf *out)
{
    static const unsigned char head[] = {0x04, 0x0b, 's',  't',  'r',  'e',  'a',  'm',
                                         't',  'y',  'p',  'e',  'd',  0x81, 0xe8, 0x03,
                                         0x84, 0x01, 0x40, 0x84, 0x84, 0x84, 0x12};
    static const unsigned char mid[] = {0x00, 0x84, 0x84, 0x08, 'N',  'S',  'O',  'b',  'j', 'e',
                                        'c',  't',  0x00, 0x85, 0x92, 0x84, 0x84, 0x84, 0x08};
    static const unsigned char str_tail[] = {0x01, 0x94, 0x84, 0x01, '+'};
    static const unsigned char end[] = {0x86, 0x84, 0x02, 'i', 'I', 0x01, 0x86};
    const size_t len = strlen(text);
    if (buf_put(out, head, sizeof head) || buf_put(out, "NSAttributedString", 18) ||
        buf_put(out, mid, sizeof mid) || buf_put(out, "NSString", 8) ||
        buf_put(out, str_tail, sizeof str_tail))
        return -1;
    unsigned char n[3];
    size_t nl = 1;
    if (len < 0x80) {
        n[0] = (unsigned char)len;
    } else {
        n[0] = 0x81;
        n[1] = (unsigned char)(len & 0xff);
        n[2] = (unsigned char)(len >> 8);
        nl = 3;
    }
    return buf_put(out, n, nl) || buf_put(out, text, len) || buf_put(out, end, sizeof end) ? -1 : 0;
}

/* ---- writing ---- */

/* Runs sqlite3_mprintf-formatted SQL. */
static int execf(const char *path, sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *const sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!sql)
        return gen_err(path, "out of memory");
    const int rc = gen_sql_exec(path, db, sql);
    sqlite3_free(sql);
    return rc;
}

static int64_t apple_ns(int64_t unix_seconds)
{
    return (unix_seconds - GEN_MAC_EPOCH) * 1000000000LL;
}

static int write_sms(const char *path, sqlite3 *db, unsigned ios, unsigned state)
{
    /* iOS 16 added edit and unsend (date_edited, date_retracted). */
    if (execf(path, db,
              "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT "
              "NULL, country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, "
              "person_centric_id TEXT, UNIQUE (id, service));"
              "CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT "
              "NULL, style INTEGER, state INTEGER, account_id TEXT, properties BLOB, "
              "chat_identifier TEXT, service_name TEXT, room_name TEXT, account_login TEXT, "
              "is_archived INTEGER DEFAULT 0, last_addressed_handle TEXT, display_name TEXT, "
              "group_id TEXT, is_filtered INTEGER DEFAULT 0);"
              "CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE "
              "NOT NULL, text TEXT, replace INTEGER DEFAULT 0, service_center TEXT, handle_id "
              "INTEGER DEFAULT 0, subject TEXT, country TEXT, attributedBody BLOB, version "
              "INTEGER DEFAULT 0, type INTEGER DEFAULT 0, service TEXT, account TEXT, "
              "account_guid TEXT, error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER, "
              "date_delivered INTEGER, is_delivered INTEGER DEFAULT 0, is_finished INTEGER "
              "DEFAULT 0, is_from_me INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0, "
              "cache_has_attachments INTEGER DEFAULT 0, thread_originator_guid TEXT%s);"
              "CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT "
              "UNIQUE NOT NULL, created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, "
              "filename TEXT, uti TEXT, mime_type TEXT, transfer_state INTEGER DEFAULT 0, "
              "is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT, total_bytes "
              "INTEGER DEFAULT 0);"
              "CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE "
              "CASCADE, handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE "
              "(chat_id, handle_id));"
              "CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE "
              "CASCADE, message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, "
              "message_date INTEGER DEFAULT 0, PRIMARY KEY (chat_id, message_id));"
              "CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message "
              "(ROWID) ON DELETE CASCADE, attachment_id INTEGER REFERENCES attachment (ROWID) ON "
              "DELETE CASCADE, UNIQUE(message_id, attachment_id));",
              ios >= 16 ? ", date_edited INTEGER DEFAULT 0, date_retracted INTEGER DEFAULT 0" : ""))
        return -1;
    for (int h = 1; h <= 3; h++) {
        if (execf(path, db,
                  "INSERT INTO handle(ROWID, id, country, service) VALUES(%d, %Q, 'us', %Q)", h,
                  handles[h], h == 2 ? "SMS" : "iMessage"))
            return -1;
    }
    for (size_t i = 0; i < sizeof chats / sizeof chats[0]; i++) {
        const chat_row *const c = &chats[i];
        if (!in_state(0, c->to, state))
            continue;
        if (execf(path, db,
                  "INSERT INTO chat(ROWID, guid, style, state, chat_identifier, service_name, "
                  "display_name) VALUES(%d, %Q, %d, 3, %Q, %Q, %Q)",
                  c->id, c->guid, c->display ? 43 : 45, c->identifier, c->service,
                  c->display ? c->display : ""))
            return -1;
        for (int k = 0; k < 2 && c->handles[k]; k++) {
            if (execf(path, db, "INSERT INTO chat_handle_join VALUES(%d, %d)", c->id,
                      c->handles[k]))
                return -1;
        }
    }
    gen_buf body = {0};
    int rc = -1;
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        const msg_row *const m = &messages[i];
        if (!in_state(m->from, m->to, state))
            continue;
        body.len = 0;
        if (gen_attributed_body(m->text, &body))
            goto fail;
        const int64_t date = apple_ns(MSG_BASE + 60 * m->id);
        char *const sql = sqlite3_mprintf(
            "INSERT INTO message(ROWID, guid, text, handle_id, attributedBody, service, date, "
            "date_read, date_delivered, is_delivered, is_finished, is_from_me, is_read, "
            "cache_has_attachments) VALUES(%d, 'MSG-0000-%04d', %Q, %d, ?, %Q, %lld, %lld, "
            "%lld, 1, 1, %d, 1, %d)",
            m->id, m->id, ios >= 16 ? NULL : m->text, m->handle, chats[m->chat - 1].service,
            (long long)date, (long long)date + 5000000000LL, (long long)date + 1000000000LL,
            m->handle == 0, m->attachment);
        sqlite3_stmt *st = NULL;
        int ok = sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
                 sqlite3_bind_blob(st, 1, body.data, (int)body.len, SQLITE_STATIC) == SQLITE_OK &&
                 sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
        sqlite3_free(sql);
        if (!ok) {
            gen_err(path, "cannot insert message %d: %s", m->id, sqlite3_errmsg(db));
            goto fail;
        }
        if (execf(path, db, "INSERT INTO chat_message_join VALUES(%d, %d, %lld)", m->chat, m->id,
                  (long long)date))
            goto fail;
        if (m->attachment &&
            execf(path, db,
                  "INSERT INTO attachment(ROWID, guid, created_date, filename, uti, mime_type, "
                  "transfer_state, transfer_name, total_bytes) VALUES(1, %Q, %lld, "
                  "'~/%q', 'public.jpeg', 'image/jpeg', 5, 'IMG_0101.jpeg', %d);"
                  "INSERT INTO message_attachment_join VALUES(%d, 1)",
                  ATTACHMENT_GUID, (long long)(MSG_BASE + 60 * m->id - GEN_MAC_EPOCH),
                  ATTACHMENT_PATH, ATTACHMENT_SIZE, m->id))
            goto fail;
    }
    rc = 0;
fail:
    buf_free(&body);
    return rc;
}

static int write_photos(const char *path, sqlite3 *db, unsigned ios, unsigned state)
{
    const char *const table = ios >= 14 ? "ZASSET" : "ZGENERICASSET";
    if (execf(path, db,
              "CREATE TABLE %s ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, "
              "ZFAVORITE INTEGER, ZHIDDEN INTEGER, ZKIND INTEGER, ZKINDSUBTYPE INTEGER, "
              "ZTRASHEDSTATE INTEGER, ZHEIGHT INTEGER, ZWIDTH INTEGER, ZDATECREATED TIMESTAMP, "
              "ZMODIFICATIONDATE TIMESTAMP, ZTRASHEDDATE TIMESTAMP, ZDIRECTORY VARCHAR, "
              "ZFILENAME VARCHAR, ZUNIFORMTYPEIDENTIFIER VARCHAR, ZUUID VARCHAR%s );"
              "CREATE TABLE ZADDITIONALASSETATTRIBUTES ( Z_PK INTEGER PRIMARY KEY, Z_ENT "
              "INTEGER, Z_OPT INTEGER, ZASSET INTEGER, ZORIGINALFILESIZE INTEGER, "
              "ZORIGINALFILENAME VARCHAR, ZTITLE VARCHAR );"
              "CREATE INDEX ZADDITIONALASSETATTRIBUTES_ZASSET_INDEX ON "
              "ZADDITIONALASSETATTRIBUTES (ZASSET);",
              table,
              ios >= 14 ? ", ZADJUSTMENTTIMESTAMP TIMESTAMP, ZANALYSISSTATEMODIFICATIONDATE "
                          "TIMESTAMP"
                        : ""))
        return -1;
    static const char *const uti[] = {"public.heic", "public.jpeg", "com.apple.quicktime-movie"};
    static const char *const ext[] = {"HEIC", "JPG", "MOV"};
    for (unsigned n = 1; n <= NPHOTOS; n++) {
        if (!photo_present(n, state))
            continue;
        const gen_media_kind k = photo_kind(n);
        const double created = (double)(PHOTO_BASE + 3600 * (int64_t)n - GEN_MAC_EPOCH) + 0.25;
        if (execf(path, db,
                  "INSERT INTO %s(Z_PK, Z_ENT, Z_OPT, ZFAVORITE, ZHIDDEN, ZKIND, ZTRASHEDSTATE, "
                  "ZHEIGHT, ZWIDTH, ZDATECREATED, ZMODIFICATIONDATE, ZDIRECTORY, ZFILENAME, "
                  "ZUNIFORMTYPEIDENTIFIER, ZUUID) VALUES(%u, 3, 1, %d, 0, %d, 0, 3024, 4032, "
                  "%.3f, %.3f, 'DCIM/100APPLE', 'IMG_%04u.%s', %Q, "
                  "'PHOTO000-0000-4000-8000-%012u');"
                  "INSERT INTO ZADDITIONALASSETATTRIBUTES(Z_PK, Z_ENT, Z_OPT, ZASSET, "
                  "ZORIGINALFILESIZE, ZORIGINALFILENAME) VALUES(%u, 1, 1, %u, %llu, "
                  "'IMG_%04u.%s')",
                  table, n, n == 3, k == MEDIA_MOV, created, created + 10, n, ext[k], uti[k], n, n,
                  n, (unsigned long long)photo_size(n), n, ext[k]))
            return -1;
    }
    return 0;
}

static int write_contacts(const char *path, sqlite3 *db, unsigned state)
{
    /* property 3: phone numbers, 4: e-mail addresses (ABMultiValue) */
    if (gen_sql_exec(
            path, db,
            "CREATE TABLE ABPerson (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, "
            "Last TEXT, Middle TEXT, FirstPhonetic TEXT, MiddlePhonetic TEXT, LastPhonetic "
            "TEXT, Organization TEXT, Department TEXT, Note TEXT, Kind INTEGER, Birthday "
            "TEXT, JobTitle TEXT, Nickname TEXT, Prefix TEXT, Suffix TEXT, CreationDate "
            "INTEGER, ModificationDate INTEGER, guid TEXT);"
            "CREATE TABLE ABMultiValue (UID INTEGER PRIMARY KEY, record_id INTEGER, property "
            "INTEGER, identifier INTEGER, label INTEGER, value TEXT, guid TEXT);"
            "CREATE TABLE ABMultiValueLabel (value TEXT, UNIQUE(value));"
            "INSERT INTO ABMultiValueLabel VALUES('_$!<Mobile>!$_'), ('_$!<Home>!$_');"
            "CREATE INDEX ABMultiValueRecordIDIndex ON ABMultiValue(record_id);"))
        return -1;
    int uid = 1;
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++) {
        const person *const p = &people[i];
        if (!in_state(p->from, p->to, state))
            continue;
        if (execf(path, db,
                  "INSERT INTO ABPerson(ROWID, First, Last, Organization, Kind, CreationDate, "
                  "ModificationDate, guid) VALUES(%d, %Q, %Q, %Q, 0, 700000000, %d, "
                  "'PERSON00-0000-4000-8000-%012d')",
                  p->id, p->first, p->last, p->org, 700000000 + (int)p->from, p->id))
            return -1;
        if (p->phone &&
            execf(path, db, "INSERT INTO ABMultiValue VALUES(%d, %d, 3, 0, 1, %Q, NULL)", uid++,
                  p->id, p->phone))
            return -1;
        if (p->email &&
            execf(path, db, "INSERT INTO ABMultiValue VALUES(%d, %d, 4, 0, 2, %Q, NULL)", uid++,
                  p->id, p->email))
            return -1;
    }
    return 0;
}

int gen_content_db(const char *path, gen_db_kind kind, const char *ios, unsigned state)
{
    const unsigned major = (unsigned)strtoul(ios, NULL, 10);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        gen_err(path, "cannot create database: %s", db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    int rc =
        gen_sql_exec(path, db,
                     "PRAGMA page_size=4096; PRAGMA auto_vacuum=NONE; PRAGMA journal_mode=DELETE;"
                     "PRAGMA synchronous=OFF; BEGIN");
    if (rc == 0)
        rc = kind == DB_SMS      ? write_sms(path, db, major, state)
             : kind == DB_PHOTOS ? write_photos(path, db, major, state)
                                 : write_contacts(path, db, state);
    if (rc == 0)
        rc = gen_sql_exec(path, db, "COMMIT");
    if (sqlite3_close(db) != SQLITE_OK)
        rc = gen_err(path, "cannot close database");
    return rc;
}
