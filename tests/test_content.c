/* test_content.c - the readers of Messages, Photos and Contacts on
 * databases the generator writes in the schemas of iOS 13, 14 and 17
 * (attributedBody-only text on 17, ZGENERICASSET on 13), each giving
 * exactly the rows the generator holds; a database lacking a table or a
 * column gives its one-line message and the reader either fails naming it
 * (a table it needs) or goes on without it; the attributedBody decoder
 * reads short, long and non-ASCII text and refuses damaged blobs; Apple
 * times in seconds and nanoseconds.
 *
 * usage: test_content /path/to/cairn-gen */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "engine/ios/content_contacts.h"
#include "engine/ios/content_messages.h"
#include "engine/ios/content_photos.h"
#include "engine/ios/content_typedstream.h"
#include "testutil.h"

static const char *gen_path;
static char top[64];

/* Generates a content backup (once per version and state) and opens the
 * database domain/path of it as a private copy, so a test may change it. */
static sqlite3 *open_db(const char *ios, int state, const char *domain, const char *path)
{
    char dir[128], cmd[512], manifest[160], copy[160];
    snprintf(dir, sizeof dir, "%s/ios%s-%d", top, ios, state);
    snprintf(cmd, sizeof cmd,
             "test -d %s || '%s' device %s --content %d --ios %s --size-mb 1 >/dev/null", dir,
             gen_path, dir, state, ios);
    assert_int_equal(system(cmd), 0);
    snprintf(manifest, sizeof manifest, "%s/Manifest.db", dir);
    sqlite3 *m = NULL, *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(manifest, &m, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(m,
                                        "SELECT fileID FROM Files WHERE domain=?1 AND "
                                        "relativePath=?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const char *const id = (const char *)sqlite3_column_text(st, 0);
    snprintf(copy, sizeof copy, "%s/work.db", top);
    snprintf(cmd, sizeof cmd, "cp %s/%.2s/%s %s", dir, id, id, copy);
    assert_int_equal(system(cmd), 0);
    sqlite3_finalize(st);
    sqlite3_close(m);
    assert_int_equal(sqlite3_open_v2(copy, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static void collect(void *ctx, const char *msg)
{
    cbuf *const b = ctx;
    cbuf_printf(b, "%s\n", msg);
}

static const char *str(const cbuf *b)
{
    return b->len ? (const char *)b->data : "";
}

static void dump_messages(const content_messages *m, cbuf *b)
{
    for (size_t i = 0; i < m->nchat; i++) {
        const content_chat *const c = &m->chat[i];
        cbuf_printf(b, "chat %" PRId64 " %s %s %s %s\n", c->rowid, c->guid, c->identifier,
                    c->name ? c->name : "-", c->service);
        for (size_t k = 0; k < c->nmsg; k++) {
            const content_message *const g = &c->msg[k];
            cbuf_printf(b, " %" PRId64 " %s %" PRId64 " %s %s\n", g->rowid, g->guid, g->time,
                        g->from_me  ? "me"
                        : g->sender ? g->sender
                                    : "?",
                        g->text ? g->text : "-");
            for (size_t a = 0; a < g->natt; a++)
                cbuf_printf(b, "  att %s %s %s %" PRIu64 "\n", g->att[a].name, g->att[a].mime,
                            g->att[a].path, g->att[a].size);
        }
    }
    cbuf_put(b, "", 1);
}

static const char MOTH[] =
    "Bug found in relay #70 of the Mark II: a moth, taped into the log book at 15:45 as the "
    "first actual case of bug being found. We should keep this one for the museum.";

static void expect_messages(const char *ios, int state, const char *expected)
{
    sqlite3 *const db = open_db(ios, state, "HomeDomain", "Library/SMS/sms.db");
    content_messages m;
    cbuf b, w;
    cbuf_init(&b);
    cbuf_init(&w);
    assert_int_equal(content_messages_read(db, "sms.db", collect, &w, &m), CAIRN_OK);
    dump_messages(&m, &b);
    assert_string_equal(str(&b), expected);
    assert_int_equal(w.len, 0); /* the generator's schemas have every column */
    content_messages_free(&m);
    cbuf_free(&b);
    cbuf_free(&w);
    sqlite3_close(db);
}

static char *state0_messages(void)
{
    static char s[2048];
    snprintf(s, sizeof s,
             "chat 1 iMessage;-;+15550100 +15550100 - iMessage\n"
             " 1 MSG-0000-0001 1717200060 +15550100 Hello from Ada\n"
             " 2 MSG-0000-0002 1717200120 me Hi Ada!\n"
             " 3 MSG-0000-0003 1717200180 +15550100 Look at this\n"
             "  att IMG_0101.jpeg image/jpeg "
             "Library/SMS/Attachments/0a/10/AT-0A10-0001/IMG_0101.jpeg 5000\n"
             "chat 2 SMS;-;+15550101 +15550101 - SMS\n"
             " 4 MSG-0000-0004 1717200240 +15550101 Enigma?\n"
             " 5 MSG-0000-0005 1717200300 me Cracked.\n"
             "chat 3 iMessage;+;chat424242 chat424242 Compilers iMessage\n"
             " 6 MSG-0000-0006 1717200360 grace@example.com %s\n"
             " 7 MSG-0000-0007 1717200420 +15550100 Moth! \xf0\x9f\xa6\x8b\n",
             MOTH);
    return s;
}

static void messages_ios14(void **state)
{
    (void)state;
    expect_messages("14.8", 0, state0_messages());
}

/* iOS 17: text is NULL, every message is decoded from attributedBody */
static void messages_ios17(void **state)
{
    (void)state;
    expect_messages("17.5", 0, state0_messages());
}

static void messages_state2(void **state)
{
    (void)state;
    static char s[2048];
    snprintf(s, sizeof s,
             "chat 1 iMessage;-;+15550100 +15550100 - iMessage\n"
             " 1 MSG-0000-0001 1717200060 +15550100 Hello from Ada\n"
             " 3 MSG-0000-0003 1717200180 +15550100 Look at this\n"
             "  att IMG_0101.jpeg image/jpeg "
             "Library/SMS/Attachments/0a/10/AT-0A10-0001/IMG_0101.jpeg 5000\n"
             " 8 MSG-0000-0008 1717200480 me See you tomorrow\n"
             "chat 3 iMessage;+;chat424242 chat424242 Compilers iMessage\n"
             " 6 MSG-0000-0006 1717200360 grace@example.com %s\n"
             " 7 MSG-0000-0007 1717200420 +15550100 Moth! \xf0\x9f\xa6\x8b\n"
             " 9 MSG-0000-0009 1717200540 me Logged it\n",
             MOTH);
    expect_messages("17.5", 2, s);
}

/* a missing optional table or column: one line each, the rest is read;
 * a missing needed table: the reader fails naming it */
static void messages_schema_gaps(void **state)
{
    (void)state;
    sqlite3 *const db = open_db("17.5", 0, "HomeDomain", "Library/SMS/sms.db");
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE attachment; DROP TABLE handle; "
                                  "ALTER TABLE message DROP COLUMN attributedBody",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    content_messages m;
    cbuf w;
    cbuf_init(&w);
    assert_int_equal(content_messages_read(db, "sms.db", collect, &w, &m), CAIRN_OK);
    cbuf_put(&w, "", 1);
    assert_string_equal(str(&w), "sms.db: no table handle: senders left out\n"
                                 "sms.db: table message has no column attributedBody: left out\n"
                                 "sms.db: no table attachment: attachments left out\n");
    assert_int_equal(m.nchat, 3);
    assert_int_equal(m.chat[0].nmsg, 3);
    assert_null(m.chat[0].msg[0].text); /* iOS 17 kept it only in attributedBody */
    assert_null(m.chat[0].msg[0].sender);
    content_messages_free(&m);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE chat_message_join", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(content_messages_read(db, "sms.db", NULL, NULL, &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(),
                        "sms.db: no table chat_message_join: not a Messages database this cairn "
                        "knows");
    cbuf_free(&w);
    sqlite3_close(db);
}

static void dump_photos(const content_photos *p, cbuf *b)
{
    for (size_t i = 0; i < p->n; i++)
        cbuf_printf(b, "%" PRId64 " %s %" PRId64 " %s%s %s\n", p->photo[i].pk, p->photo[i].uuid,
                    p->photo[i].time, content_photo_kind_name(p->photo[i].kind),
                    p->photo[i].trashed ? " trashed" : "", p->photo[i].path);
    cbuf_put(b, "", 1);
}

static void expect_photos(const char *ios, int state, const char *expected)
{
    sqlite3 *const db = open_db(ios, state, "CameraRollDomain", "Media/PhotoData/Photos.sqlite");
    content_photos p;
    cbuf b, w;
    cbuf_init(&b);
    cbuf_init(&w);
    assert_int_equal(content_photos_read(db, "Photos.sqlite", collect, &w, &p), CAIRN_OK);
    dump_photos(&p, &b);
    assert_string_equal(str(&b), expected);
    assert_int_equal(w.len, 0);
    content_photos_free(&p);
    cbuf_free(&b);
    cbuf_free(&w);
    sqlite3_close(db);
}

static const char PHOTOS_STATE2[] =
    "1 PHOTO000-0000-4000-8000-000000000001 1716003600 photo Media/DCIM/100APPLE/IMG_0001.HEIC\n"
    "3 PHOTO000-0000-4000-8000-000000000003 1716010800 photo Media/DCIM/100APPLE/IMG_0003.HEIC\n"
    "4 PHOTO000-0000-4000-8000-000000000004 1716014400 video Media/DCIM/100APPLE/IMG_0004.MOV\n"
    "5 PHOTO000-0000-4000-8000-000000000005 1716018000 photo Media/DCIM/100APPLE/IMG_0005.HEIC\n"
    "21 PHOTO000-0000-4000-8000-000000000021 1716075600 photo "
    "Media/DCIM/100APPLE/IMG_0021.HEIC\n";

/* ZGENERICASSET (iOS 13) and ZASSET (iOS 17) give the same assets */
static void photos_both_tables(void **state)
{
    (void)state;
    expect_photos("13.7", 2, PHOTOS_STATE2);
    expect_photos("17.5", 2, PHOTOS_STATE2);
}

static void photos_schema_gaps(void **state)
{
    (void)state;
    sqlite3 *const db = open_db("17.5", 2, "CameraRollDomain", "Media/PhotoData/Photos.sqlite");
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE ZASSET DROP COLUMN ZKIND", NULL, NULL, NULL),
                     SQLITE_OK);
    content_photos p;
    cbuf w;
    cbuf_init(&w);
    assert_int_equal(content_photos_read(db, "Photos.sqlite", collect, &w, &p), CAIRN_OK);
    cbuf_put(&w, "", 1);
    assert_string_equal(str(&w), "Photos.sqlite: table ZASSET has no column ZKIND: left out\n");
    assert_int_equal(p.n, 5);
    assert_int_equal(p.photo[2].kind, CONTENT_OTHER);
    content_photos_free(&p);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE ZASSET RENAME TO ZOTHER", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(content_photos_read(db, "Photos.sqlite", NULL, NULL, &p), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Photos.sqlite: no table ZASSET or ZGENERICASSET: not a "
                                   "Photos library this cairn knows");
    cbuf_free(&w);
    sqlite3_close(db);
}

static cairn_err keep_key(void *ctx, const char *key)
{
    cbuf_printf(ctx, "%s\n", key);
    return CAIRN_OK;
}

static cairn_err refuse_key(void *ctx, const char *key)
{
    (void)key;
    ++*(int *)ctx;
    return err_set(CAIRN_ENOSPC, "no room");
}

static int line_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* b's lines sorted, in place (the alarm reads keys in table order). */
static void sort_lines(cbuf *b)
{
    char *lines[64];
    size_t n = 0;
    cbuf_put(b, "", 1);
    char *const text = strdup(str(b));
    assert_non_null(text);
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        assert_true(n < sizeof lines / sizeof lines[0]);
        lines[n++] = l;
    }
    qsort(lines, n, sizeof lines[0], line_cmp);
    b->len = 0;
    for (size_t i = 0; i < n; i++)
        cbuf_printf(b, "%s\n", lines[i]);
    cbuf_put(b, "", 1);
    free(text);
}

/* content_photo_keys_read gives exactly the keys of content_photos_read's
 * assets (UUID, else path) and fails as it does; returns how many. */
static size_t expect_same_photo_keys(sqlite3 *db)
{
    content_photos p;
    cbuf full, keys;
    cbuf_init(&full);
    cbuf_init(&keys);
    const cairn_err rc = content_photos_read(db, "Photos.sqlite", NULL, NULL, &p);
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", err_msg());
    assert_int_equal(content_photo_keys_read(db, "Photos.sqlite", keep_key, &keys), rc);
    const size_t n = rc ? 0 : p.n;
    if (rc) {
        assert_string_equal(err_msg(), msg);
    } else {
        for (size_t i = 0; i < p.n; i++)
            cbuf_printf(&full, "%s\n", p.photo[i].uuid ? p.photo[i].uuid : p.photo[i].path);
        content_photos_free(&p);
        sort_lines(&full);
        sort_lines(&keys);
        assert_string_equal(str(&keys), str(&full));
    }
    cbuf_free(&full);
    cbuf_free(&keys);
    return n;
}

static void photo_keys(void **state)
{
    (void)state;
    for (int st = 0; st <= 2; st++) {
        sqlite3 *db = open_db("13.7", st, "CameraRollDomain", "Media/PhotoData/Photos.sqlite");
        assert_true(expect_same_photo_keys(db) > 0);
        sqlite3_close(db);
        db = open_db("17.5", st, "CameraRollDomain", "Media/PhotoData/Photos.sqlite");
        assert_true(expect_same_photo_keys(db) > 0);
        sqlite3_close(db);
    }
    sqlite3 *const db = open_db("17.5", 2, "CameraRollDomain", "Media/PhotoData/Photos.sqlite");
    /* no UUID (the path is the key), no folder, no file name (no photo) */
    assert_int_equal(
        sqlite3_exec(db,
                     "UPDATE ZASSET SET ZUUID = NULL WHERE Z_PK = 1;"
                     "UPDATE ZASSET SET ZUUID = NULL, ZDIRECTORY = NULL WHERE Z_PK = 3;"
                     "UPDATE ZASSET SET ZFILENAME = NULL WHERE Z_PK = 4;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    cbuf keys;
    cbuf_init(&keys);
    assert_int_equal(content_photo_keys_read(db, "Photos.sqlite", keep_key, &keys), CAIRN_OK);
    sort_lines(&keys);
    assert_string_equal(str(&keys), "Media/DCIM/100APPLE/IMG_0001.HEIC\n"
                                    "Media/IMG_0003.HEIC\n"
                                    "PHOTO000-0000-4000-8000-000000000005\n"
                                    "PHOTO000-0000-4000-8000-000000000021\n");
    assert_int_equal(expect_same_photo_keys(db), 4);
    /* the callback's error stops the read at once */
    int calls = 0;
    assert_int_equal(content_photo_keys_read(db, "Photos.sqlite", refuse_key, &calls),
                     CAIRN_ENOSPC);
    assert_int_equal(calls, 1);
    assert_string_equal(err_msg(), "no room");
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE ZASSET DROP COLUMN ZUUID", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(expect_same_photo_keys(db), 4);
    assert_int_equal(
        sqlite3_exec(db, "ALTER TABLE ZASSET DROP COLUMN ZDIRECTORY", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(expect_same_photo_keys(db), 0);
    assert_string_equal(err_msg(), "Photos.sqlite: table ZASSET has no column ZDIRECTORY");
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE ZASSET RENAME TO ZOTHER", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(expect_same_photo_keys(db), 0);
    cbuf_free(&keys);
    sqlite3_close(db);
}

/* content_chats_read gives content_messages_read's conversations, without
 * their messages, and fails as it does. */
static void expect_same_chats(sqlite3 *db)
{
    content_messages full, chats;
    const cairn_err rc = content_messages_read(db, "sms.db", NULL, NULL, &full);
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", err_msg());
    assert_int_equal(content_chats_read(db, "sms.db", &chats), rc);
    if (rc) {
        assert_string_equal(err_msg(), msg);
        return;
    }
    assert_true(full.nchat > 0);
    assert_int_equal(chats.nchat, full.nchat);
    for (size_t i = 0; i < full.nchat; i++) {
        const content_chat *const a = &full.chat[i], *const b = &chats.chat[i];
        assert_int_equal(b->rowid, a->rowid);
        assert_string_equal(b->guid ? b->guid : "(null)", a->guid ? a->guid : "(null)");
        assert_string_equal(b->identifier ? b->identifier : "(null)",
                            a->identifier ? a->identifier : "(null)");
        assert_string_equal(b->name ? b->name : "(null)", a->name ? a->name : "(null)");
        assert_int_equal(b->nmsg, 0);
    }
    content_messages_free(&full);
    content_messages_free(&chats);
}

static void chats_only(void **state)
{
    (void)state;
    for (int st = 0; st <= 2; st++) {
        sqlite3 *const db = open_db("17.5", st, "HomeDomain", "Library/SMS/sms.db");
        expect_same_chats(db);
        sqlite3_close(db);
    }
    sqlite3 *const db = open_db("14.8", 1, "HomeDomain", "Library/SMS/sms.db");
    expect_same_chats(db);
    assert_int_equal(
        sqlite3_exec(db, "ALTER TABLE chat RENAME COLUMN guid TO old_guid", NULL, NULL, NULL),
        SQLITE_OK);
    expect_same_chats(db);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE chat_message_join", NULL, NULL, NULL), SQLITE_OK);
    expect_same_chats(db);
    assert_string_equal(err_msg(),
                        "sms.db: no table chat_message_join: not a Messages database this cairn "
                        "knows");
    sqlite3_close(db);
}

static void dump_contacts(const content_contacts *c, cbuf *b)
{
    for (size_t i = 0; i < c->n; i++) {
        const content_contact *const p = &c->contact[i];
        char name[256];
        content_contact_name(p, name, sizeof name);
        cbuf_printf(b, "%" PRId64 " %s (%s)", p->rowid, name, p->org ? p->org : "-");
        for (size_t k = 0; k < p->nphone; k++)
            cbuf_printf(b, " tel:%s", p->phone[k]);
        for (size_t k = 0; k < p->nemail; k++)
            cbuf_printf(b, " mail:%s", p->email[k]);
        cbuf_printf(b, "\n");
    }
    cbuf_put(b, "", 1);
}

static void contacts_states(void **state)
{
    (void)state;
    static const char *const expected[2] = {
        "1 Ada Lovelace (Analytical Engines) tel:+1 555 0100 mail:ada@example.com\n"
        "2 Alan Turing (-) tel:+1 555 0101\n"
        "3 Grace Hopper (US Navy) tel:+1 555 0103 mail:grace@example.com\n",
        "1 Ada Lovelace (Analytical Engines) tel:+1 555 0100 mail:ada@example.com\n"
        "3 Grace Hopper (US Navy) tel:+1 555 0103 mail:grace.hopper@example.com\n"
        "4 Edsger Dijkstra (-) tel:+31 555 0104\n",
    };
    for (int s = 0; s < 2; s++) {
        sqlite3 *const db = open_db(s ? "17.5" : "14.8", s, "HomeDomain",
                                    "Library/AddressBook/AddressBook.sqlitedb");
        content_contacts c;
        cbuf b;
        cbuf_init(&b);
        assert_int_equal(content_contacts_read(db, "AddressBook.sqlitedb", NULL, NULL, &c),
                         CAIRN_OK);
        dump_contacts(&c, &b);
        assert_string_equal(str(&b), expected[s]);
        content_contacts_free(&c);
        cbuf_free(&b);
        sqlite3_close(db);
    }
}

static void contacts_schema_gaps(void **state)
{
    (void)state;
    sqlite3 *const db =
        open_db("17.5", 0, "HomeDomain", "Library/AddressBook/AddressBook.sqlitedb");
    assert_int_equal(sqlite3_exec(db, "DROP TABLE ABMultiValue", NULL, NULL, NULL), SQLITE_OK);
    content_contacts c;
    cbuf w;
    cbuf_init(&w);
    assert_int_equal(content_contacts_read(db, "AB", collect, &w, &c), CAIRN_OK);
    cbuf_put(&w, "", 1);
    assert_string_equal(str(&w),
                        "AB: no table ABMultiValue: phone numbers and e-mail addresses left out\n");
    assert_int_equal(c.n, 3);
    assert_int_equal(c.contact[0].nphone, 0);
    content_contacts_free(&c);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE ABPerson", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(content_contacts_read(db, "AB", NULL, NULL, &c), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "AB: no table ABPerson: not an address book this cairn knows");
    cbuf_free(&w);
    sqlite3_close(db);
}

/* a typedstream as iOS writes it, around text of n bytes */
static size_t make_body(uint8_t *out, const char *text, size_t n)
{
    static const uint8_t head[] = "\x04\x0bstreamtyped\x81\xe8\x03\x84\x01\x40\x84\x84\x84\x12"
                                  "NSAttributedString\x00\x84\x84\x08NSObject\x00\x85\x92\x84"
                                  "\x84\x84\x08NSString\x01\x94\x84\x01+";
    size_t len = sizeof head - 1;
    memcpy(out, head, len);
    if (n < 0x80) {
        out[len++] = (uint8_t)n;
    } else {
        out[len++] = 0x81;
        out[len++] = (uint8_t)(n & 0xff);
        out[len++] = (uint8_t)(n >> 8);
    }
    memcpy(out + len, text, n);
    len += n;
    memcpy(out + len, "\x86\x84\x02iI\x01\x86", 7);
    return len + 7;
}

static void typedstream_decoder(void **state)
{
    (void)state;
    uint8_t blob[1024];
    char *text = NULL;
    size_t n = make_body(blob, "Hi \xc3\xa9t\xc3\xa9", 8);
    assert_int_equal(content_attributed_text(blob, n, &text), CAIRN_OK);
    assert_string_equal(text, "Hi \xc3\xa9t\xc3\xa9");
    free(text);
    char long_text[300];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    n = make_body(blob, long_text, strlen(long_text));
    assert_int_equal(content_attributed_text(blob, n, &text), CAIRN_OK);
    assert_string_equal(text, long_text);
    free(text);
    /* length past the end */
    const size_t cut = make_body(blob, "hello", 5) - 7 - 3;
    assert_int_equal(content_attributed_text(blob, cut, &text), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "attributedBody: string of 5 bytes overruns the blob");
    /* invalid UTF-8, a NUL, no header, no NSString, a bad length tag */
    n = make_body(blob, "a\xc0\x80", 3);
    assert_int_equal(content_attributed_text(blob, n, &text), CAIRN_ECORRUPT);
    n = make_body(blob, "a\0b", 3);
    assert_int_equal(content_attributed_text(blob, n, &text), CAIRN_ECORRUPT);
    assert_int_equal(content_attributed_text((const uint8_t *)"bplist00", 8, &text),
                     CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "attributedBody: not a typedstream");
    assert_int_equal(
        content_attributed_text((const uint8_t *)"\x04\x0bstreamtypedNSStrin", 20, &text),
        CAIRN_ECORRUPT);
    n = make_body(blob, "hello", 5);
    blob[n - 7 - 5 - 1] = 0x90;
    assert_int_equal(content_attributed_text(blob, n, &text), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "attributedBody: bad string length tag 0x90");
    assert_null(text);
}

static void apple_time(void **state)
{
    (void)state;
    assert_int_equal(content_apple_time(0), 978307200);
    assert_int_equal(content_apple_time(738892860), 1717200060);            /* seconds */
    assert_int_equal(content_apple_time(738892860123456789LL), 1717200060); /* ns */
    assert_int_equal(content_apple_time(-86400), 978307200 - 86400);        /* before 2001 */
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s /path/to/cairn-gen\n", argv[0]);
        return 2;
    }
    gen_path = argv[1];
    snprintf(top, sizeof top, "/tmp/cairn-test-content-XXXXXX");
    if (!mkdtemp(top))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(messages_ios14),      cmocka_unit_test(messages_ios17),
        cmocka_unit_test(messages_state2),     cmocka_unit_test(messages_schema_gaps),
        cmocka_unit_test(photos_both_tables),  cmocka_unit_test(photos_schema_gaps),
        cmocka_unit_test(contacts_states),     cmocka_unit_test(contacts_schema_gaps),
        cmocka_unit_test(photo_keys),          cmocka_unit_test(chats_only),
        cmocka_unit_test(typedstream_decoder), cmocka_unit_test(apple_time),
    };
    const int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_rmtree(top);
    return rc;
}
