/* gen-sqlite.c - deterministic SQLite databases shaped like the ones on a phone.
 *
 * Each kind of database is a constant description (schema + per-column value
 * generators) so that creating, growing and editing share one code path and a
 * mutation can recognise an existing file by its tables alone.  Determinism:
 * fixed page size, no auto-vacuum, rollback journal, and every value comes from
 * the PRNG or the caller's "now" (never SQLite's clock or random()). */
#define _XOPEN_SOURCE 700

#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PAGE_SIZE = 4096, ROWS_PER_CHECK = 32, YEAR = 365 * GEN_DAY };

typedef enum col_kind {
    C_INT,      /* integer in [lo, hi] */
    C_DATE,     /* integer seconds since 2001 */
    C_DATE_NS,  /* integer nanoseconds since 2001 (Messages) */
    C_REALDATE, /* REAL seconds since 2001 (Core Data) */
    C_REAL,     /* REAL in [lo, hi] */
    C_UUID,
    C_TEXT,  /* lo..hi words of prose */
    C_NAME,  /* a capitalised word */
    C_PHONE, /* +1 555 number */
    C_EMAIL,
    C_WORD,
    C_CHOICE, /* one of the '|'-separated choices */
    C_BLOB,   /* lo..hi random bytes */
} col_kind;

typedef struct col_spec {
    const char *name;
    col_kind kind;
    int64_t lo, hi;
    const char *choices;
} col_spec;

typedef struct table_spec {
    const char *name;
    const col_spec *cols;
    size_t ncols;
    unsigned weight; /* share of the database's bytes */
} table_spec;

typedef struct db_spec {
    const char *schema;
    const table_spec *tables;
    size_t ntables;
} db_spec;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TABLE(name, cols, weight)                                                                  \
    {                                                                                              \
        name, cols, COUNT(cols), weight                                                            \
    }

/* ---- Messages: Library/SMS/sms.db ---- */

static const col_spec sms_handle[] = {
    {"id", C_PHONE, 0, 0, NULL},
    {"country", C_CHOICE, 0, 0, "us|gb|de|fr"},
    {"service", C_CHOICE, 0, 0, "iMessage|SMS"},
    {"uncanonicalized_id", C_PHONE, 0, 0, NULL},
};
static const col_spec sms_chat[] = {
    {"guid", C_UUID, 0, 0, NULL},
    {"style", C_CHOICE, 0, 0, "45|43"},
    {"state", C_INT, 2, 3, NULL},
    {"chat_identifier", C_PHONE, 0, 0, NULL},
    {"service_name", C_CHOICE, 0, 0, "iMessage|SMS"},
    {"display_name", C_TEXT, 0, 3, NULL},
};
static const col_spec sms_message[] = {
    {"guid", C_UUID, 0, 0, NULL},
    {"text", C_TEXT, 2, 40, NULL},
    {"handle_id", C_INT, 1, 300, NULL},
    {"service", C_CHOICE, 0, 0, "iMessage|iMessage|iMessage|SMS"},
    {"account", C_EMAIL, 0, 0, NULL},
    {"date", C_DATE_NS, 0, 0, NULL},
    {"date_read", C_DATE_NS, 0, 0, NULL},
    {"date_delivered", C_DATE_NS, 0, 0, NULL},
    {"is_from_me", C_INT, 0, 1, NULL},
    {"is_read", C_INT, 0, 1, NULL},
};
static const col_spec sms_join[] = {
    {"chat_id", C_INT, 1, 60, NULL},
    {"message_id", C_INT, 1, 2000000, NULL},
    {"message_date", C_DATE_NS, 0, 0, NULL},
};
static const table_spec sms_tables[] = {
    TABLE("handle", sms_handle, 2),
    TABLE("chat", sms_chat, 1),
    TABLE("message", sms_message, 90),
    TABLE("chat_message_join", sms_join, 7),
};
static const char sms_schema[] =
    "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, "
    "country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT);"
    "CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, "
    "style INTEGER, state INTEGER, chat_identifier TEXT, service_name TEXT, display_name TEXT);"
    "CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, "
    "text TEXT, handle_id INTEGER DEFAULT 0, service TEXT, account TEXT, date INTEGER, "
    "date_read INTEGER, date_delivered INTEGER, is_from_me INTEGER DEFAULT 0, "
    "is_read INTEGER DEFAULT 0);"
    "CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE, "
    "message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER "
    "DEFAULT 0, PRIMARY KEY (chat_id, message_id));"
    "CREATE INDEX message_idx_handle ON message(handle_id, date);"
    "CREATE INDEX chat_message_join_idx_message_date_id_chat_id ON "
    "chat_message_join(chat_id, message_date, message_id);";

/* ---- Contacts: Library/AddressBook/AddressBook.sqlitedb ---- */

static const col_spec ab_person[] = {
    {"First", C_NAME, 0, 0, NULL},
    {"Last", C_NAME, 0, 0, NULL},
    {"Organization", C_TEXT, 0, 3, NULL},
    {"Department", C_WORD, 0, 0, NULL},
    {"Note", C_TEXT, 0, 30, NULL},
    {"Kind", C_INT, 0, 1, NULL},
    {"JobTitle", C_TEXT, 1, 3, NULL},
    {"CreationDate", C_DATE, 0, 0, NULL},
    {"ModificationDate", C_DATE, 0, 0, NULL},
    {"guid", C_UUID, 0, 0, NULL},
};
static const col_spec ab_multi[] = {
    {"record_id", C_INT, 1, 5000, NULL}, {"property", C_CHOICE, 0, 0, "3|4|5|22"},
    {"identifier", C_INT, 0, 4, NULL},   {"label", C_INT, 1, 12, NULL},
    {"value", C_EMAIL, 0, 0, NULL},      {"guid", C_UUID, 0, 0, NULL},
};
static const col_spec ab_group[] = {
    {"Name", C_TEXT, 1, 3, NULL},
};
static const table_spec ab_tables[] = {
    TABLE("ABGroup", ab_group, 1),
    TABLE("ABPerson", ab_person, 55),
    TABLE("ABMultiValue", ab_multi, 44),
};
static const char ab_schema[] =
    "CREATE TABLE ABPerson (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, Last TEXT, "
    "Organization TEXT, Department TEXT, Note TEXT, Kind INTEGER, JobTitle TEXT, "
    "CreationDate INTEGER, ModificationDate INTEGER, guid TEXT);"
    "CREATE TABLE ABMultiValue (UID INTEGER PRIMARY KEY, record_id INTEGER, property INTEGER, "
    "identifier INTEGER, label INTEGER, value TEXT, guid TEXT);"
    "CREATE TABLE ABGroup (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, Name TEXT);"
    "CREATE INDEX ABMultiValueRecordIDIndex ON ABMultiValue(record_id);";

/* ---- Notes: Library/Notes/NotesV7.storedata (Core Data) ---- */

static const col_spec notes_note[] = {
    {"Z_ENT", C_INT, 8, 8, NULL},
    {"Z_OPT", C_INT, 1, 9, NULL},
    {"ZCONTAINSCJK", C_INT, 0, 0, NULL},
    {"ZBODY", C_INT, 1, 20000, NULL},
    {"ZCREATIONDATE", C_REALDATE, 0, 0, NULL},
    {"ZMODIFICATIONDATE", C_REALDATE, 0, 0, NULL},
    {"ZTITLE", C_TEXT, 1, 6, NULL},
    {"ZSUMMARY", C_TEXT, 5, 20, NULL},
    {"ZGUID", C_UUID, 0, 0, NULL},
};
static const col_spec notes_body[] = {
    {"Z_ENT", C_INT, 7, 7, NULL},
    {"Z_OPT", C_INT, 1, 9, NULL},
    {"ZOWNER", C_INT, 1, 20000, NULL},
    {"ZCONTENT", C_TEXT, 40, 500, NULL},
};
static const table_spec notes_tables[] = {
    TABLE("ZNOTE", notes_note, 20),
    TABLE("ZNOTEBODY", notes_body, 80),
};
static const char notes_schema[] =
    "CREATE TABLE ZNOTE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, "
    "ZCONTAINSCJK INTEGER, ZBODY INTEGER, ZCREATIONDATE TIMESTAMP, ZMODIFICATIONDATE "
    "TIMESTAMP, ZTITLE VARCHAR, ZSUMMARY VARCHAR, ZGUID VARCHAR );"
    "CREATE TABLE ZNOTEBODY ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, "
    "ZOWNER INTEGER, ZCONTENT VARCHAR );"
    "CREATE INDEX ZNOTEBODY_ZOWNER_INDEX ON ZNOTEBODY (ZOWNER);"
    "CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);";

/* ---- Phone: Library/CallHistoryDB/CallHistory.storedata ---- */

static const col_spec calls_record[] = {
    {"Z_ENT", C_INT, 2, 2, NULL},
    {"Z_OPT", C_INT, 1, 3, NULL},
    {"ZANSWERED", C_INT, 0, 1, NULL},
    {"ZCALLTYPE", C_CHOICE, 0, 0, "1|1|8|16"},
    {"ZORIGINATED", C_INT, 0, 1, NULL},
    {"ZREAD", C_INT, 0, 1, NULL},
    {"ZDATE", C_REALDATE, 0, 0, NULL},
    {"ZDURATION", C_REAL, 0, 3600, NULL},
    {"ZADDRESS", C_PHONE, 0, 0, NULL},
    {"ZISO_COUNTRY_CODE", C_CHOICE, 0, 0, "us|gb|de"},
    {"ZNAME", C_NAME, 0, 0, NULL},
    {"ZSERVICE_PROVIDER", C_CHOICE, 0, 0, "com.apple.Telephony|com.apple.FaceTime"},
    {"ZUNIQUE_ID", C_UUID, 0, 0, NULL},
};
static const table_spec calls_tables[] = {
    TABLE("ZCALLRECORD", calls_record, 100),
};
static const char calls_schema[] =
    "CREATE TABLE ZCALLRECORD ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, "
    "ZANSWERED INTEGER, ZCALLTYPE INTEGER, ZORIGINATED INTEGER, ZREAD INTEGER, ZDATE "
    "TIMESTAMP, ZDURATION FLOAT, ZADDRESS VARCHAR, ZISO_COUNTRY_CODE VARCHAR, ZNAME VARCHAR, "
    "ZSERVICE_PROVIDER VARCHAR, ZUNIQUE_ID VARCHAR );"
    "CREATE INDEX ZCALLRECORD_ZDATE_INDEX ON ZCALLRECORD (ZDATE);";

/* ---- Photos: Media/PhotoData/Photos.sqlite ---- */

static const col_spec photos_asset[] = {
    {"Z_ENT", C_INT, 3, 3, NULL},
    {"Z_OPT", C_INT, 1, 12, NULL},
    {"ZKIND", C_INT, 0, 1, NULL},
    {"ZWIDTH", C_CHOICE, 0, 0, "4032|3024|1920"},
    {"ZHEIGHT", C_CHOICE, 0, 0, "3024|4032|1080"},
    {"ZFAVORITE", C_INT, 0, 1, NULL},
    {"ZHIDDEN", C_INT, 0, 0, NULL},
    {"ZDATECREATED", C_REALDATE, 0, 0, NULL},
    {"ZMODIFICATIONDATE", C_REALDATE, 0, 0, NULL},
    {"ZLATITUDE", C_REAL, -60, 70, NULL},
    {"ZLONGITUDE", C_REAL, -170, 170, NULL},
    {"ZDIRECTORY", C_CHOICE, 0, 0, "DCIM/100APPLE"},
    {"ZFILENAME", C_UUID, 0, 0, NULL},
    {"ZUNIFORMTYPEIDENTIFIER", C_CHOICE, 0, 0, "public.heic|public.jpeg|com.apple.quicktime-movie"},
    {"ZUUID", C_UUID, 0, 0, NULL},
};
static const col_spec photos_attrs[] = {
    {"Z_ENT", C_INT, 1, 1, NULL},
    {"Z_OPT", C_INT, 1, 4, NULL},
    {"ZASSET", C_INT, 1, 50000, NULL},
    {"ZORIGINALFILESIZE", C_INT, 500000, 6000000, NULL},
    {"ZORIGINALFILENAME", C_WORD, 0, 0, NULL},
    {"ZTITLE", C_TEXT, 0, 5, NULL},
    {"ZACCESSIBILITYDESCRIPTION", C_TEXT, 4, 20, NULL},
};
static const table_spec photos_tables[] = {
    TABLE("ZASSET", photos_asset, 60),
    TABLE("ZADDITIONALASSETATTRIBUTES", photos_attrs, 40),
};
static const char photos_schema[] =
    "CREATE TABLE ZASSET ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZKIND "
    "INTEGER, ZWIDTH INTEGER, ZHEIGHT INTEGER, ZFAVORITE INTEGER, ZHIDDEN INTEGER, ZDATECREATED "
    "TIMESTAMP, ZMODIFICATIONDATE TIMESTAMP, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZDIRECTORY "
    "VARCHAR, ZFILENAME VARCHAR, ZUNIFORMTYPEIDENTIFIER VARCHAR, ZUUID VARCHAR );"
    "CREATE TABLE ZADDITIONALASSETATTRIBUTES ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT "
    "INTEGER, ZASSET INTEGER, ZORIGINALFILESIZE INTEGER, ZORIGINALFILENAME VARCHAR, ZTITLE "
    "VARCHAR, ZACCESSIBILITYDESCRIPTION VARCHAR );"
    "CREATE INDEX ZASSET_ZDATECREATED ON ZASSET (ZDATECREATED);";

/* ---- a third-party app's store ---- */

static const col_spec app_items[] = {
    {"uuid", C_UUID, 0, 0, NULL},  {"title", C_TEXT, 1, 8, NULL},   {"body", C_TEXT, 10, 120, NULL},
    {"tags", C_TEXT, 0, 4, NULL},  {"created", C_DATE, 0, 0, NULL}, {"updated", C_DATE, 0, 0, NULL},
    {"flags", C_INT, 0, 15, NULL},
};
static const col_spec app_events[] = {
    {"ts", C_DATE, 0, 0, NULL},
    {"kind", C_CHOICE, 0, 0, "open|close|sync|tap|scroll|purchase"},
    {"payload", C_TEXT, 4, 30, NULL},
};
static const col_spec app_kv[] = {
    {"key", C_WORD, 0, 0, NULL},
    {"value", C_TEXT, 1, 10, NULL},
};
static const table_spec app_tables[] = {
    TABLE("kv", app_kv, 3),
    TABLE("items", app_items, 62),
    TABLE("events", app_events, 35),
};
static const char app_schema[] =
    "CREATE TABLE kv (id INTEGER PRIMARY KEY, key TEXT, value TEXT);"
    "CREATE TABLE items (id INTEGER PRIMARY KEY, uuid TEXT UNIQUE, title TEXT, body TEXT, "
    "tags TEXT, created INTEGER, updated INTEGER, flags INTEGER);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER, kind TEXT, payload TEXT);"
    "CREATE INDEX events_ts ON events(ts);";

/* ---- WirelessDomain: Library/Databases/CellularUsage.db ---- */

static const col_spec cell_sub[] = {
    {"subscriber_id", C_PHONE, 0, 0, NULL},
    {"subscriber_mdn", C_PHONE, 0, 0, NULL},
    {"last_update_time", C_DATE, 0, 0, NULL},
};
static const col_spec cell_usage[] = {
    {"bundle_name", C_CHOICE, 0, 0,
     "com.apple.mobilesafari|com.apple.Maps|com.apple.MobileSMS|com.apple.news|"
     "com.example.social|com.example.video"},
    {"wifi_in", C_INT, 0, 900000000, NULL},
    {"wifi_out", C_INT, 0, 90000000, NULL},
    {"wwan_in", C_INT, 0, 900000000, NULL},
    {"wwan_out", C_INT, 0, 90000000, NULL},
    {"timestamp", C_DATE, 0, 0, NULL},
};
static const table_spec cell_tables[] = {
    TABLE("subscriber_info", cell_sub, 5),
    TABLE("usage", cell_usage, 95),
};
static const char cell_schema[] =
    "CREATE TABLE subscriber_info (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, subscriber_id TEXT, "
    "subscriber_mdn TEXT, last_update_time INTEGER);"
    "CREATE TABLE usage (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, bundle_name TEXT, wifi_in "
    "INTEGER, wifi_out INTEGER, wwan_in INTEGER, wwan_out INTEGER, timestamp INTEGER);";

/* ---- a desktop mail index (for the generic folder) ---- */

static const col_spec mail_boxes[] = {
    {"url", C_UUID, 0, 0, NULL},
    {"total_count", C_INT, 0, 90000, NULL},
    {"unread_count", C_INT, 0, 900, NULL},
};
static const col_spec mail_addresses[] = {
    {"address", C_EMAIL, 0, 0, NULL},
    {"comment", C_TEXT, 1, 3, NULL},
};
static const col_spec mail_messages[] = {
    {"message_id", C_UUID, 0, 0, NULL},    {"sender", C_INT, 1, 5000, NULL},
    {"subject", C_TEXT, 3, 10, NULL},      {"date_sent", C_DATE, 0, 0, NULL},
    {"date_received", C_DATE, 0, 0, NULL}, {"mailbox", C_INT, 1, 40, NULL},
    {"flags", C_INT, 0, 255, NULL},        {"size", C_INT, 1000, 900000, NULL},
    {"snippet", C_TEXT, 8, 20, NULL},      {"body", C_TEXT, 20, 200, NULL},
};
static const table_spec mail_tables[] = {
    TABLE("mailboxes", mail_boxes, 1),
    TABLE("addresses", mail_addresses, 4),
    TABLE("messages", mail_messages, 95),
};
static const char mail_schema[] =
    "CREATE TABLE mailboxes (ROWID INTEGER PRIMARY KEY, url TEXT UNIQUE, total_count INTEGER, "
    "unread_count INTEGER);"
    "CREATE TABLE addresses (ROWID INTEGER PRIMARY KEY, address TEXT, comment TEXT);"
    "CREATE TABLE messages (ROWID INTEGER PRIMARY KEY, message_id TEXT, sender INTEGER, "
    "subject TEXT, date_sent INTEGER, date_received INTEGER, mailbox INTEGER, flags INTEGER, "
    "size INTEGER, snippet TEXT, body TEXT);"
    "CREATE INDEX messages_mailbox_date ON messages(mailbox, date_received);";

#define DB(schema, tables)                                                                         \
    {                                                                                              \
        schema, tables, COUNT(tables)                                                              \
    }

/* Indexed by gen_db_kind. */
static const db_spec db_specs[DB_KIND_COUNT] = {
    DB(sms_schema, sms_tables),       DB(ab_schema, ab_tables),
    DB(notes_schema, notes_tables),   DB(calls_schema, calls_tables),
    DB(photos_schema, photos_tables), DB(app_schema, app_tables),
    DB(cell_schema, cell_tables),     DB(mail_schema, mail_tables),
};

/* ---- values ---- */

/* How far back generated timestamps reach: years for the initial history,
 * one day for what a day of use adds. */
typedef struct value_ctx {
    gen_rng *r;
    int64_t now;
    int64_t span;
    gen_buf text;
} value_ctx;

static int64_t pick_time(value_ctx *v)
{
    return v->now - (int64_t)rng_below(v->r, (uint64_t)v->span) - GEN_MAC_EPOCH;
}

static const char *pick_choice(gen_rng *r, const char *choices, size_t *len)
{
    size_t n = 1;
    for (const char *p = choices; *p; p++)
        n += *p == '|';
    size_t k = (size_t)rng_below(r, n);
    const char *s = choices;
    while (k--)
        s = strchr(s, '|') + 1;
    const char *const end = strchr(s, '|');
    *len = end ? (size_t)(end - s) : strlen(s);
    return s;
}

static int text_value(value_ctx *v, const col_spec *c)
{
    gen_rng *const r = v->r;
    gen_buf *const b = &v->text;
    b->len = 0;
    switch (c->kind) {
    case C_UUID: {
        char u[37];
        gen_uuid(r, u);
        return buf_put(b, u, 36);
    }
    case C_TEXT: {
        const unsigned n = (unsigned)rng_range(r, (uint64_t)c->lo, (uint64_t)c->hi);
        return n ? gen_sentence(r, b, n) : buf_put(b, "", 0);
    }
    case C_NAME: {
        const char *const w = gen_word(r);
        const char first = (char)(w[0] >= 'a' && w[0] <= 'z' ? w[0] - 32 : w[0]);
        return buf_put(b, &first, 1) || buf_put(b, w + 1, strlen(w + 1));
    }
    case C_PHONE:
        return buf_printf(b, "+1555%07llu", (unsigned long long)rng_below(r, 10000000));
    case C_EMAIL:
        return buf_printf(b, "%s.%s@example.com", gen_word(r), gen_word(r));
    case C_WORD: {
        const char *const w = gen_word(r);
        return buf_put(b, w, strlen(w));
    }
    default: {
        size_t len = 0;
        const char *const s = pick_choice(r, c->choices, &len);
        return buf_put(b, s, len);
    }
    }
}

static int bind_value(sqlite3_stmt *st, int idx, const col_spec *c, value_ctx *v)
{
    unsigned char blob[256];
    switch (c->kind) {
    case C_INT:
        return sqlite3_bind_int64(st, idx,
                                  c->lo + (int64_t)rng_below(v->r, (uint64_t)(c->hi - c->lo + 1)));
    case C_DATE:
        return sqlite3_bind_int64(st, idx, pick_time(v));
    case C_DATE_NS:
        return sqlite3_bind_int64(
            st, idx, pick_time(v) * 1000000000LL + (int64_t)rng_below(v->r, 1000000000));
    case C_REALDATE:
        return sqlite3_bind_double(st, idx,
                                   (double)pick_time(v) + (double)rng_below(v->r, 1000) / 1000.0);
    case C_REAL:
        return sqlite3_bind_double(st, idx,
                                   (double)c->lo + (double)rng_below(v->r, 1000000) / 1e6 *
                                                       (double)(c->hi - c->lo));
    case C_BLOB: {
        const size_t n = (size_t)rng_range(v->r, (uint64_t)c->lo, (uint64_t)c->hi) % sizeof blob;
        rng_fill(v->r, blob, n);
        return sqlite3_bind_blob(st, idx, blob, (int)n, SQLITE_TRANSIENT);
    }
    default:
        if (text_value(v, c))
            return SQLITE_NOMEM;
        return sqlite3_bind_text(st, idx, v->text.data, (int)v->text.len, SQLITE_TRANSIENT);
    }
}

/* ---- plumbing ---- */

static int db_fail(const char *path, sqlite3 *db, const char *what)
{
    return gen_err(path, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

static int db_exec(const char *path, sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        gen_err(path, "SQL failed: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int db_open(const char *path, int create, sqlite3 **db)
{
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
        db_fail(path, *db, "cannot open database");
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    /* page_size and auto_vacuum only take effect on a new file; the rest keeps
     * output deterministic (no WAL, no leftover journal) and generation fast. */
    const char *const sql = create ? "PRAGMA page_size=4096; PRAGMA auto_vacuum=NONE;"
                                     "PRAGMA journal_mode=DELETE; PRAGMA synchronous=OFF;"
                                     "PRAGMA cache_size=-65536;"
                                   : "PRAGMA journal_mode=DELETE; PRAGMA synchronous=OFF;"
                                     "PRAGMA cache_size=-65536;";
    if (db_exec(path, *db, sql)) {
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

static int db_close(const char *path, sqlite3 *db)
{
    if (sqlite3_close(db) != SQLITE_OK)
        return db_fail(path, db, "cannot close database");
    return 0;
}

static int db_int(const char *path, sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot prepare query");
    const int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(path, db, "query failed");
    return 0;
}

static int db_bytes(const char *path, sqlite3 *db, int64_t *bytes)
{
    int64_t pages = 0;
    if (db_int(path, db, "PRAGMA page_count", &pages))
        return -1;
    *bytes = pages * PAGE_SIZE;
    return 0;
}

static sqlite3_stmt *prepare_insert(const char *path, sqlite3 *db, const table_spec *t)
{
    sqlite3_str *const s = sqlite3_str_new(db);
    sqlite3_str_appendf(s, "INSERT OR IGNORE INTO \"%w\"(", t->name);
    for (size_t i = 0; i < t->ncols; i++)
        sqlite3_str_appendf(s, "%s\"%w\"", i ? "," : "", t->cols[i].name);
    sqlite3_str_appendall(s, ") VALUES(");
    for (size_t i = 0; i < t->ncols; i++)
        sqlite3_str_appendall(s, i ? ",?" : "?");
    sqlite3_str_appendall(s, ")");
    char *const sql = sqlite3_str_finish(s);
    sqlite3_stmt *st = NULL;
    if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(path, db, "cannot prepare insert");
        st = NULL;
    }
    sqlite3_free(sql);
    return st;
}

static int insert_row(const char *path, sqlite3 *db, sqlite3_stmt *st, const table_spec *t,
                      value_ctx *v)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (bind_value(st, (int)i + 1, &t->cols[i], v) != SQLITE_OK)
            return db_fail(path, db, "cannot bind value");
    }
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(path, db, "insert failed");
    return 0;
}

/* Inserts rows into t until the file reaches goal bytes (at least min_rows). */
static int fill_table(const char *path, sqlite3 *db, const table_spec *t, value_ctx *v,
                      int64_t goal, unsigned min_rows)
{
    sqlite3_stmt *const st = prepare_insert(path, db, t);
    if (!st)
        return -1;
    int rc = -1;
    int64_t bytes = 0;
    for (unsigned n = 0;; n++) {
        if (n >= min_rows && (n - min_rows) % ROWS_PER_CHECK == 0) {
            if (db_bytes(path, db, &bytes))
                goto fail;
            if (bytes >= goal)
                break;
        }
        if (insert_row(path, db, st, t, v))
            goto fail;
    }
    rc = 0;
fail:
    sqlite3_finalize(st);
    return rc;
}

int gen_db_create(const char *path, gen_db_kind kind, uint64_t target, uint64_t seed, int64_t now)
{
    const db_spec *const spec = &db_specs[kind];
    gen_rng r;
    rng_init(&r, seed, 0x5351 + (uint64_t)kind);
    value_ctx v = {.r = &r, .now = now, .span = 3 * YEAR};
    sqlite3 *db = NULL;
    if (db_open(path, 1, &db))
        return -1;
    int rc = -1;
    if (db_exec(path, db, spec->schema) || db_exec(path, db, "BEGIN"))
        goto fail;
    unsigned total_weight = 0;
    for (size_t i = 0; i < spec->ntables; i++)
        total_weight += spec->tables[i].weight;
    uint64_t acc = 0;
    for (size_t i = 0; i < spec->ntables; i++) {
        acc += spec->tables[i].weight;
        const int64_t goal = (int64_t)(target / total_weight * acc);
        if (fill_table(path, db, &spec->tables[i], &v, goal, 4))
            goto fail;
    }
    if (db_exec(path, db, "COMMIT"))
        goto fail;
    rc = 0;
fail:
    buf_free(&v.text);
    if (db_close(path, db))
        rc = -1;
    return rc;
}

/* ---- recognising and changing existing databases ---- */

int gen_is_sqlite(const char *path)
{
    static const char magic[16] = "SQLite format 3";
    char head[16];
    FILE *const f = fopen(path, "rb");
    if (!f)
        return gen_errno(path, "cannot open");
    const size_t n = fread(head, 1, sizeof head, f);
    const int err = ferror(f);
    if (fclose(f) != 0 || err)
        return gen_errno(path, "read failed");
    return n == sizeof head && memcmp(head, magic, sizeof magic) == 0;
}

static int has_table(const char *path, sqlite3 *db, const char *name, int *yes)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_finalize(st);
        return db_fail(path, db, "cannot read schema");
    }
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(path, db, "cannot read schema");
    *yes = rc == SQLITE_ROW;
    return 0;
}

/* The spec whose every table the file has. */
static const db_spec *detect(const char *path, sqlite3 *db)
{
    for (size_t k = 0; k < DB_KIND_COUNT; k++) {
        int all = 1;
        for (size_t i = 0; i < db_specs[k].ntables && all; i++) {
            if (has_table(path, db, db_specs[k].tables[i].name, &all))
                return NULL;
        }
        if (all)
            return &db_specs[k];
    }
    gen_err(path, "not a database cairn-gen knows how to change");
    return NULL;
}

static const table_spec *heaviest(const db_spec *spec)
{
    const table_spec *best = &spec->tables[0];
    for (size_t i = 1; i < spec->ntables; i++) {
        if (spec->tables[i].weight > best->weight)
            best = &spec->tables[i];
    }
    return best;
}

static const col_spec *text_column(const table_spec *t)
{
    const col_spec *best = NULL;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].kind == C_TEXT && (!best || t->cols[i].hi > best->hi))
            best = &t->cols[i];
    }
    return best;
}

static int max_rowid(const char *path, sqlite3 *db, const table_spec *t, int64_t *out)
{
    char *const sql = sqlite3_mprintf("SELECT max(rowid) FROM \"%w\"", t->name);
    if (!sql)
        return gen_err(path, "out of memory");
    const int rc = db_int(path, db, sql, out);
    sqlite3_free(sql);
    return rc;
}

/* Runs sql (binding ?1 = text, ?2 = rowid) for one row. */
static int change_row(const char *path, sqlite3 *db, const char *sql, const gen_buf *text,
                      int64_t rowid)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot prepare change");
    int rc = -1;
    if (text && sqlite3_bind_text(st, 1, text->data, (int)text->len, SQLITE_STATIC) != SQLITE_OK)
        goto fail;
    if (sqlite3_bind_int64(st, 2, rowid) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    rc = 0;
fail:
    if (rc)
        db_fail(path, db, "row change failed");
    sqlite3_finalize(st);
    return rc;
}

static int update_rows(const char *path, sqlite3 *db, const table_spec *t, value_ctx *v,
                       unsigned count)
{
    const col_spec *const col = text_column(t);
    if (!col)
        return 0;
    int64_t top = 0;
    if (max_rowid(path, db, t, &top))
        return -1;
    char *const sql =
        sqlite3_mprintf("UPDATE \"%w\" SET \"%w\"=?1 WHERE rowid=?2", t->name, col->name);
    if (!sql)
        return gen_err(path, "out of memory");
    int rc = 0;
    for (unsigned i = 0; i < count && top > 0 && rc == 0; i++) {
        /* Apps mostly touch recent rows (mark read, edit a draft): four in
         * five updates hit the newest 2%, which share a few pages. */
        const uint64_t recent = (uint64_t)top / 50 + 1;
        const int64_t rowid = rng_chance(v->r, 4, 5) ? top - (int64_t)rng_below(v->r, recent)
                                                     : 1 + (int64_t)rng_below(v->r, (uint64_t)top);
        rc = text_value(v, col) ? -1 : change_row(path, db, sql, &v->text, rowid);
    }
    sqlite3_free(sql);
    return rc;
}

static int delete_rows(const char *path, sqlite3 *db, const table_spec *t, gen_rng *r,
                       unsigned count)
{
    int64_t top = 0;
    if (max_rowid(path, db, t, &top))
        return -1;
    char *const sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE rowid=?2", t->name);
    if (!sql)
        return gen_err(path, "out of memory");
    int rc = 0;
    for (unsigned i = 0; i < count && top > 1 && rc == 0; i++)
        rc = change_row(path, db, sql, NULL, 1 + (int64_t)rng_below(r, (uint64_t)top - 1));
    sqlite3_free(sql);
    return rc;
}

static int mutate_open_db(const char *path, sqlite3 *db, uint64_t growth, gen_rng *r, int64_t now)
{
    const db_spec *const spec = detect(path, db);
    if (!spec)
        return -1;
    value_ctx v = {.r = r, .now = now, .span = GEN_DAY};
    const table_spec *const main_table = heaviest(spec);
    int64_t start = 0;
    int rc = -1;
    if (db_bytes(path, db, &start) || db_exec(path, db, "BEGIN"))
        goto fail;
    const table_spec *const other = &spec->tables[rng_below(r, spec->ntables)];
    if (fill_table(path, db, other, &v, 0, (unsigned)rng_range(r, 1, 4)) ||
        fill_table(path, db, main_table, &v, start + (int64_t)growth, 3) ||
        update_rows(path, db, main_table, &v, (unsigned)rng_range(r, 2, 12)) ||
        delete_rows(path, db, main_table, r, (unsigned)rng_below(r, 3)))
        goto fail;
    if (db_exec(path, db, "COMMIT"))
        goto fail;
    rc = 0;
fail:
    buf_free(&v.text);
    return rc;
}

/* Fresh text of exactly len bytes, so the row keeps its size and its cell
 * is rewritten in place. */
static int same_length_text(value_ctx *v, size_t len)
{
    v->text.len = 0;
    if (gen_text(v->r, &v->text, len + 1))
        return -1;
    v->text.len = len;
    v->text.data[len] = '\0';
    return 0;
}

static int text_length(const char *path, sqlite3 *db, const table_spec *t, const col_spec *c,
                       int64_t rowid, int64_t *len)
{
    char *const sql = sqlite3_mprintf("SELECT length(\"%w\") FROM \"%w\" WHERE rowid=%lld", c->name,
                                      t->name, (long long)rowid);
    if (!sql)
        return gen_err(path, "out of memory");
    const int rc = db_int(path, db, sql, len);
    sqlite3_free(sql);
    return rc;
}

/* Rewrites row rowid's text in column c with fresh text of its length (sql
 * from UPDATE ... SET c=?1 WHERE rowid=?2): only the page holding it changes.
 * A missing or empty row is left alone. */
static int edit_in_place(const char *path, sqlite3 *db, const table_spec *t, const col_spec *c,
                         const char *sql, value_ctx *v, int64_t rowid)
{
    int64_t len = 0;
    if (text_length(path, db, t, c, rowid, &len))
        return -1;
    if (len > 0 && (same_length_text(v, (size_t)len) || change_row(path, db, sql, &v->text, rowid)))
        return -1;
    return 0;
}

/* The usual day of Messages or call history: rows appended to the main
 * table (its last leaf page, new pages at the end of the file, and the index
 * pages the new keys fall on), and one to three old rows anywhere in it
 * edited in place (a read flag, a corrected entry): a few scattered pages, no
 * deletions, no other table touched. */
static int append_open_db(const char *path, sqlite3 *db, uint64_t growth, gen_rng *r, int64_t now)
{
    const db_spec *const spec = detect(path, db);
    if (!spec)
        return -1;
    value_ctx v = {.r = r, .now = now, .span = GEN_DAY};
    const table_spec *const t = heaviest(spec);
    const col_spec *const col = text_column(t);
    int64_t start = 0;
    int64_t top = 0;
    char *sql = NULL;
    int rc = -1;
    if (db_bytes(path, db, &start) || max_rowid(path, db, t, &top) || db_exec(path, db, "BEGIN"))
        goto fail;
    if (fill_table(path, db, t, &v, start + (int64_t)growth, 3))
        goto fail;
    if (col && top > 0) {
        sql = sqlite3_mprintf("UPDATE \"%w\" SET \"%w\"=?1 WHERE rowid=?2", t->name, col->name);
        if (!sql) {
            gen_err(path, "out of memory");
            goto fail;
        }
        const unsigned edits = (unsigned)rng_range(r, 1, 3);
        for (unsigned i = 0; i < edits; i++) {
            if (edit_in_place(path, db, t, col, sql, &v, 1 + (int64_t)rng_below(r, (uint64_t)top)))
                goto fail;
        }
    }
    rc = db_exec(path, db, "COMMIT");
fail:
    sqlite3_free(sql);
    buf_free(&v.text);
    return rc;
}

int gen_db_mutate(const char *path, gen_pattern pattern, uint64_t growth, gen_rng *r, int64_t now)
{
    sqlite3 *db = NULL;
    if (db_open(path, 0, &db))
        return -1;
    int rc = pattern == GEN_APPEND ? append_open_db(path, db, growth, r, now)
                                   : mutate_open_db(path, db, growth, r, now);
    if (db_close(path, db))
        rc = -1;
    return rc;
}

static int edit_open_db(const char *path, sqlite3 *db, gen_rng *r)
{
    const db_spec *const spec = detect(path, db);
    if (!spec)
        return -1;
    const table_spec *const t = heaviest(spec);
    const col_spec *const col = text_column(t);
    int64_t top = 0;
    if (!col)
        return gen_err(path, "largest table has no text column to edit");
    if (max_rowid(path, db, t, &top))
        return -1;
    value_ctx v = {.r = r, .now = 0, .span = 1};
    char *const sql =
        sqlite3_mprintf("UPDATE \"%w\" SET \"%w\"=?1 WHERE rowid=?2", t->name, col->name);
    int rc = -1;
    if (!sql || db_exec(path, db, "BEGIN"))
        goto fail;
    /* Three runs of neighbouring rows within 0.5% of the table's middle: a
     * few leaf pages close together, far from both ends of the file. */
    const int64_t middle = top / 2;
    for (int group = 0; group < 3; group++) {
        const int64_t first = middle + (int64_t)rng_below(r, (uint64_t)(top / 200 + 1));
        for (int64_t rowid = first; rowid < first + 3 && rowid <= top; rowid++) {
            if (edit_in_place(path, db, t, col, sql, &v, rowid))
                goto fail;
        }
    }
    rc = db_exec(path, db, "COMMIT");
fail:
    if (!sql)
        gen_err(path, "out of memory");
    sqlite3_free(sql);
    buf_free(&v.text);
    return rc;
}

int gen_db_edit_middle(const char *path, gen_rng *r)
{
    sqlite3 *db = NULL;
    if (db_open(path, 0, &db))
        return -1;
    int rc = edit_open_db(path, db, r);
    if (db_close(path, db))
        rc = -1;
    return rc;
}
