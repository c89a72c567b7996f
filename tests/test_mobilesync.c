/* test_mobilesync.c - engine/ios/mobilesync against fixture backups built here.
 *
 * Each test builds a small backup folder in a temp dir: Info.plist (XML),
 * Manifest.plist and Status.plist (binary) with libplist, Manifest.db with
 * the real schema through SQLite, MBFile records as real NSKeyedArchiver
 * archives, and content files at xx/<fileID>. */
#define _XOPEN_SOURCE 700

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <plist/plist.h>
#include <sqlite3.h>

#include "engine/ios/mobilesync.h"

#define COCOA_EPOCH 978307200
#define T_BACKUP 1709634030 /* 2024-03-05T10:20:30Z */
#define T_MTIME 1700000000
#define T_CTIME 1700000100
#define T_BIRTH 1690000000

/* ---- fixture building --------------------------------------------------- */

struct fx {
    char dir[64];
};

/* One MBFile record.  order chooses where objects sit in $objects, so tests
 * catch any reader that assumes Apple's usual layout. */
struct mbspec {
    uint64_t size;
    uint32_t mode;
    int64_t mtime, ctime, birth;
    uint64_t inode;
    uint64_t uid, gid; /* as stored: int32 values sign-extended */
    int pclass;
    const char *relpath;
    const char *target;
    const uint8_t *key;
    size_t key_len;
    int key_inline;   /* EncryptionKey as plain data, not an NSData object */
    int shuffled;     /* root last, class first */
    uint64_t bad_uid; /* nonzero: RelativePath points here */
    const char *classname;
};

enum { OBJ_NULL, OBJ_ROOT, OBJ_PATH, OBJ_CLASS, OBJ_TARGET, OBJ_KEY, OBJ_KEYCLASS, OBJ_N };

static void add_class(plist_t objs, const char *name, const char *const *chain)
{
    plist_t cls = plist_new_dict();
    plist_t classes = plist_new_array();
    for (; *chain; chain++)
        plist_array_append_item(classes, plist_new_string(*chain));
    plist_dict_set_item(cls, "$classname", plist_new_string(name));
    plist_dict_set_item(cls, "$classes", classes);
    plist_array_append_item(objs, cls);
}

static uint8_t *mbfile_blob(const struct mbspec *s, size_t *len)
{
    static const int plain[OBJ_N] = {OBJ_NULL,   OBJ_ROOT, OBJ_PATH,    OBJ_CLASS,
                                     OBJ_TARGET, OBJ_KEY,  OBJ_KEYCLASS};
    static const int mixed[OBJ_N] = {OBJ_NULL, OBJ_CLASS,  OBJ_KEYCLASS, OBJ_KEY,
                                     OBJ_PATH, OBJ_TARGET, OBJ_ROOT};
    const int *const order = s->shuffled ? mixed : plain;
    int idx[OBJ_N];
    int n = 0;
    for (int i = 0; i < OBJ_N; i++) {
        const int o = order[i];
        if ((o == OBJ_TARGET && !s->target) || ((o == OBJ_KEY || o == OBJ_KEYCLASS) && !s->key) ||
            (o == OBJ_KEYCLASS && s->key_inline))
            continue;
        idx[o] = n++;
    }
    plist_t objs = plist_new_array();
    for (int i = 0; i < OBJ_N; i++) {
        const int o = order[i];
        if ((o == OBJ_TARGET && !s->target) || ((o == OBJ_KEY || o == OBJ_KEYCLASS) && !s->key) ||
            (o == OBJ_KEYCLASS && s->key_inline))
            continue;
        switch (o) {
        case OBJ_NULL:
            plist_array_append_item(objs, plist_new_string("$null"));
            break;
        case OBJ_ROOT: {
            plist_t r = plist_new_dict();
            plist_dict_set_item(r, "LastModified", plist_new_uint((uint64_t)s->mtime));
            plist_dict_set_item(r, "Flags", plist_new_uint(0));
            plist_dict_set_item(r, "GroupID", plist_new_uint(s->gid));
            plist_dict_set_item(r, "LastStatusChange", plist_new_uint((uint64_t)s->ctime));
            plist_dict_set_item(r, "Birth", plist_new_uint((uint64_t)s->birth));
            plist_dict_set_item(r, "Size", plist_new_uint(s->size));
            plist_dict_set_item(r, "InodeNumber", plist_new_uint(s->inode));
            plist_dict_set_item(r, "Mode", plist_new_uint(s->mode));
            plist_dict_set_item(r, "UserID", plist_new_uint(s->uid));
            plist_dict_set_item(r, "ProtectionClass", plist_new_uint((uint64_t)s->pclass));
            plist_dict_set_item(r, "RelativePath",
                                plist_new_uid(s->bad_uid ? s->bad_uid : (uint64_t)idx[OBJ_PATH]));
            plist_dict_set_item(r, "$class", plist_new_uid((uint64_t)idx[OBJ_CLASS]));
            if (s->target)
                plist_dict_set_item(r, "Target", plist_new_uid((uint64_t)idx[OBJ_TARGET]));
            if (s->key)
                plist_dict_set_item(r, "EncryptionKey", plist_new_uid((uint64_t)idx[OBJ_KEY]));
            plist_array_append_item(objs, r);
            break;
        }
        case OBJ_PATH:
            plist_array_append_item(objs, plist_new_string(s->relpath));
            break;
        case OBJ_CLASS: {
            const char *const chain[] = {s->classname ? s->classname : "MBFile", "NSObject", NULL};
            add_class(objs, s->classname ? s->classname : "MBFile", chain);
            break;
        }
        case OBJ_TARGET:
            plist_array_append_item(objs, plist_new_string(s->target));
            break;
        case OBJ_KEY:
            if (s->key_inline) {
                plist_array_append_item(objs, plist_new_data((const char *)s->key, s->key_len));
            } else {
                plist_t k = plist_new_dict();
                plist_dict_set_item(k, "NS.data", plist_new_data((const char *)s->key, s->key_len));
                plist_dict_set_item(k, "$class", plist_new_uid((uint64_t)idx[OBJ_KEYCLASS]));
                plist_array_append_item(objs, k);
            }
            break;
        case OBJ_KEYCLASS: {
            const char *const chain[] = {"NSMutableData", "NSData", "NSObject", NULL};
            add_class(objs, "NSMutableData", chain);
            break;
        }
        }
    }
    plist_t top = plist_new_dict();
    plist_dict_set_item(top, "root", plist_new_uid((uint64_t)idx[OBJ_ROOT]));
    plist_t ar = plist_new_dict();
    plist_dict_set_item(ar, "$version", plist_new_uint(100000));
    plist_dict_set_item(ar, "$archiver", plist_new_string("NSKeyedArchiver"));
    plist_dict_set_item(ar, "$top", top);
    plist_dict_set_item(ar, "$objects", objs);
    char *bin = NULL;
    uint32_t blen = 0;
    plist_to_bin(ar, &bin, &blen);
    plist_free(ar);
    assert_non_null(bin);
    uint8_t *const out = malloc(blen);
    assert_non_null(out);
    memcpy(out, bin, blen);
    free(bin);
    *len = blen;
    return out;
}

static void write_bytes(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_plist(const char *dir, const char *name, plist_t p, int binary)
{
    char *buf = NULL;
    uint32_t len = 0;
    if (binary)
        plist_to_bin(p, &buf, &len);
    else
        plist_to_xml(p, &buf, &len);
    assert_non_null(buf);
    write_bytes(dir, name, buf, len);
    free(buf);
    plist_free(p);
}

static plist_t date_node(int64_t unix_secs)
{
    return plist_new_date((int32_t)(unix_secs - COCOA_EPOCH), 0);
}

static void put_str(plist_t d, const char *k, const char *v)
{
    plist_dict_set_item(d, k, plist_new_string(v));
}

static void make_info(const char *dir)
{
    plist_t d = plist_new_dict();
    put_str(d, "Build Version", "21E236");
    put_str(d, "Device Name", "Ada's iPhone");
    put_str(d, "Display Name", "Ada's iPhone");
    put_str(d, "GUID", "0123456789ABCDEF0123456789ABCDEF");
    put_str(d, "IMEI", "350000000000000");
    plist_dict_set_item(d, "Last Backup Date", date_node(T_BACKUP));
    put_str(d, "Product Name", "iPhone 14 Pro");
    put_str(d, "Product Type", "iPhone15,2");
    put_str(d, "Product Version", "17.4.1");
    put_str(d, "Serial Number", "F2LZK0AAAAAA");
    put_str(d, "Target Identifier", "00008120-001A2B3C4D5E6F70");
    put_str(d, "Target Type", "Device");
    put_str(d, "Unique Identifier", "00008120-001A2B3C4D5E6F70");
    put_str(d, "iTunes Version", "12.13");
    plist_t apps = plist_new_dict();
    plist_t app = plist_new_dict();
    put_str(app, "CFBundleIdentifier", "com.example.notes");
    plist_dict_set_item(app, "iTunesMetadata", plist_new_data("\x01\x02\x03", 3));
    plist_dict_set_item(apps, "com.example.notes", app);
    plist_dict_set_item(d, "Applications", apps);
    write_plist(dir, "Info.plist", d, 0);
}

static const uint8_t keybag[] = "VERS\0\0\0\x04\0\0\0\x05TYPE\0\0\0\x04\0\0\0\x01"
                                "UUID\0\0\0\x10"
                                "0123456789abcdef";
static const uint8_t manifest_key[44] = {3, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 9};

static void make_manifest_plist(const char *dir, int encrypted)
{
    plist_t d = plist_new_dict();
    plist_dict_set_item(d, "IsEncrypted", plist_new_bool(encrypted));
    put_str(d, "Version", "10.0");
    plist_dict_set_item(d, "Date", date_node(T_BACKUP - 60));
    plist_dict_set_item(d, "WasPasscodeSet", plist_new_bool(1));
    plist_t l = plist_new_dict();
    put_str(l, "UniqueDeviceID", "00008120-001A2B3C4D5E6F70");
    put_str(l, "DeviceName", "Ada's iPhone");
    put_str(l, "ProductType", "iPhone15,2");
    put_str(l, "ProductVersion", "17.4.1");
    put_str(l, "BuildVersion", "21E236");
    put_str(l, "SerialNumber", "F2LZK0AAAAAA");
    plist_dict_set_item(d, "Lockdown", l);
    plist_dict_set_item(d, "Applications", plist_new_dict());
    if (encrypted) {
        plist_dict_set_item(d, "BackupKeyBag",
                            plist_new_data((const char *)keybag, sizeof keybag - 1));
        plist_dict_set_item(d, "ManifestKey",
                            plist_new_data((const char *)manifest_key, sizeof manifest_key));
    }
    write_plist(dir, "Manifest.plist", d, 1);
}

static void make_status(const char *dir, const char *state)
{
    plist_t d = plist_new_dict();
    put_str(d, "BackupState", "new");
    plist_dict_set_item(d, "Date", date_node(T_BACKUP - 30));
    plist_dict_set_item(d, "IsFullBackup", plist_new_bool(1));
    put_str(d, "SnapshotState", state);
    put_str(d, "UUID", "5E3C2A1B-0000-4000-8000-00000000AB12");
    put_str(d, "Version", "3.3");
    write_plist(dir, "Status.plist", d, 1);
}

struct row {
    const char *id, *domain, *path;
    int flags;
    struct mbspec mb;
};

static const uint8_t file_key[44] = {2, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};

/* Listed out of order on purpose; the reader sorts by domain, relativePath. */
static const struct row rows[] = {
    {"3d0d7e5fb2ce288813306e4d4636395e047a3d28",
     "HomeDomain",
     "Library/SMS/sms.db",
     1,
     {.size = 5,
      .mode = 0100644,
      .mtime = T_MTIME,
      .ctime = T_CTIME,
      .birth = T_BIRTH,
      .inode = 123456,
      .uid = 501,
      .gid = 501,
      .pclass = 3,
      .relpath = "Library/SMS/sms.db"}},
    {"12b144c0bd44f2b3fffd9186d3f9c05b917cee3c",
     "CameraRollDomain",
     "Media/DCIM",
     2,
     {.mode = 040755,
      .mtime = T_MTIME,
      .ctime = T_CTIME,
      .birth = T_BIRTH,
      .inode = 77,
      .uid = 501,
      .gid = 501,
      .relpath = "Media/DCIM",
      .shuffled = 1}},
    {"a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
     "HomeDomain",
     "Library/link",
     4,
     {.mode = 0120755,
      .mtime = T_MTIME,
      .ctime = T_CTIME,
      .birth = T_BIRTH,
      .inode = 78,
      .uid = UINT64_C(0xFFFFFFFFFFFFFFFE),
      .gid = 0,
      .relpath = "Library/link",
      .target = "/var/mobile/Library/target"}},
    {"ffeeddccbbaa99887766554433221100ffeeddcc",
     "AppDomain-com.example.notes",
     "Documents/note.txt",
     1,
     {.size = 3,
      .mode = 0100600,
      .mtime = T_MTIME + 1,
      .ctime = T_CTIME,
      .birth = T_BIRTH,
      .inode = 9,
      .uid = 501,
      .gid = 501,
      .pclass = 2,
      .relpath = "Documents/note.txt",
      .key = file_key,
      .key_len = sizeof file_key,
      .shuffled = 1}},
    {"0000000000000000000000000000000000000001",
     "HomeDomain",
     "Library/Keys.plist",
     1,
     {.size = 0,
      .mode = 0100644,
      .mtime = T_MTIME,
      .ctime = T_CTIME,
      .birth = T_BIRTH,
      .inode = 10,
      .uid = 501,
      .gid = 501,
      .pclass = 4,
      .relpath = "Library/Keys.plist",
      .key = file_key,
      .key_len = sizeof file_key,
      .key_inline = 1}},
    /* The root of a domain: empty relativePath, as in real backups. */
    {"a8b6c2f1e0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b",
     "HomeDomain",
     "",
     2,
     {.mode = 040755,
      .mtime = T_MTIME,
      .ctime = T_CTIME,
      .birth = T_BIRTH,
      .inode = 2,
      .uid = 501,
      .gid = 501,
      .relpath = ""}},
};
#define NROWS (sizeof rows / sizeof rows[0])

static sqlite3 *db_create(const char *dir)
{
    char path[256];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/Manifest.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath "
                     "TEXT, flags INTEGER, file BLOB);"
                     "CREATE INDEX FilesDomainIdx ON Files(domain);"
                     "CREATE INDEX FilesRelativePathIdx ON Files(relativePath);"
                     "CREATE INDEX FilesFlagsIdx ON Files(flags);"
                     "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    return db;
}

static void db_insert(sqlite3 *db, const char *id, const char *domain, const char *path, int flags,
                      const void *blob, size_t blen)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "INSERT INTO Files VALUES (?, ?, ?, ?, ?)", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, flags);
    sqlite3_bind_blob(st, 5, blob, (int)blen, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
}

static void write_content(const char *dir, const char *id, size_t size)
{
    char sub[128], name[128];
    snprintf(sub, sizeof sub, "%s/%.2s", dir, id);
    mkdir(sub, 0755);
    snprintf(name, sizeof name, "%.2s/%s", id, id);
    char buf[64];
    memset(buf, 'x', sizeof buf);
    write_bytes(dir, name, buf, size < sizeof buf ? size : sizeof buf);
}

static void make_db(const char *dir, size_t filler)
{
    sqlite3 *db = db_create(dir);
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    for (size_t i = 0; i < NROWS; i++) {
        size_t len;
        uint8_t *blob = mbfile_blob(&rows[i].mb, &len);
        db_insert(db, rows[i].id, rows[i].domain, rows[i].path, rows[i].flags, blob, len);
        free(blob);
        if (rows[i].flags == 1)
            write_content(dir, rows[i].id, rows[i].mb.size);
    }
    /* Enough extra directory rows to spread the table over many pages. */
    for (size_t i = 0; i < filler; i++) {
        char id[41], path[64];
        snprintf(id, sizeof id, "%040zx", i + 0x100);
        snprintf(path, sizeof path, "Library/Filler/dir%05zu", i);
        struct mbspec s = {.mode = 040755, .mtime = T_MTIME, .relpath = path};
        size_t len;
        uint8_t *blob = mbfile_blob(&s, &len);
        db_insert(db, id, "ZFillerDomain", path, 2, blob, len);
        free(blob);
    }
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void make_backup(const char *dir, const char *state, int encrypted)
{
    make_info(dir);
    make_manifest_plist(dir, encrypted);
    make_status(dir, state);
    make_db(dir, 0);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ms_test.XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    test_rmtree(fx->dir);
    free(fx);
    return 0;
}

static char *path_in(const struct fx *fx, const char *name)
{
    static _Thread_local char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", fx->dir, name);
    return buf;
}

/* ---- detection ---------------------------------------------------------- */

static void test_detect(void **state)
{
    struct fx *fx = *state;
    int is = -1;
    assert_int_equal(ms_detect(fx->dir, &is), CAIRN_OK);
    assert_int_equal(is, MS_NOT_BACKUP);

    make_backup(fx->dir, "finished", 0);
    assert_int_equal(ms_detect(fx->dir, &is), CAIRN_OK);
    assert_int_equal(is, MS_BACKUP);

    assert_int_equal(unlink(path_in(fx, "Manifest.db")), 0);
    assert_int_equal(ms_detect(fx->dir, &is), CAIRN_OK);
    assert_int_equal(is, MS_NOT_BACKUP);
    write_bytes(fx->dir, "Manifest.mbdb", "mbdb\x05\x00", 6);
    assert_int_equal(ms_detect(fx->dir, &is), CAIRN_OK);
    assert_int_equal(is, MS_BACKUP_LEGACY);

    assert_int_equal(unlink(path_in(fx, "Status.plist")), 0);
    assert_int_equal(ms_detect(fx->dir, &is), CAIRN_OK);
    assert_int_equal(is, MS_NOT_BACKUP);

    /* A directory where a file belongs does not count. */
    assert_int_equal(mkdir(path_in(fx, "Status.plist"), 0755), 0);
    assert_int_equal(ms_detect(fx->dir, &is), CAIRN_OK);
    assert_int_equal(is, MS_NOT_BACKUP);

    assert_int_equal(ms_detect(path_in(fx, "nonexistent"), &is), CAIRN_ENOTFOUND);
}

/* ---- metadata ----------------------------------------------------------- */

struct pairs {
    int n;
    char keys[40][40];
    char vals[40][64];
};

static cairn_err collect(void *ctx, const char *key, const char *value)
{
    struct pairs *p = ctx;
    assert_true(p->n < 40);
    snprintf(p->keys[p->n], sizeof p->keys[0], "%s", key);
    snprintf(p->vals[p->n], sizeof p->vals[0], "%s", value);
    p->n++;
    return CAIRN_OK;
}

static const char *pair(const struct pairs *p, const char *key)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->keys[i], key) == 0)
            return p->vals[i];
    return NULL;
}

static void test_meta(void **state)
{
    struct fx *fx = *state;
    ms_meta *m = NULL;
    make_backup(fx->dir, "finished", 0);
    assert_int_equal(ms_read_meta(fx->dir, &m), CAIRN_OK);
    assert_string_equal(m->device_name, "Ada's iPhone");
    assert_string_equal(m->display_name, "Ada's iPhone");
    assert_string_equal(m->product_name, "iPhone 14 Pro");
    assert_string_equal(m->product_type, "iPhone15,2");
    assert_string_equal(m->product_version, "17.4.1");
    assert_string_equal(m->build_version, "21E236");
    assert_string_equal(m->serial_number, "F2LZK0AAAAAA");
    assert_string_equal(m->unique_identifier, "00008120-001A2B3C4D5E6F70");
    assert_string_equal(m->target_identifier, "00008120-001A2B3C4D5E6F70");
    assert_string_equal(m->itunes_version, "12.13");
    assert_int_equal(m->last_backup_date, T_BACKUP);

    assert_int_equal(m->is_encrypted, 0);
    assert_int_equal(m->was_passcode_set, 1);
    assert_string_equal(m->manifest_version, "10.0");
    assert_int_equal(m->manifest_date, T_BACKUP - 60);
    assert_string_equal(m->lockdown_udid, "00008120-001A2B3C4D5E6F70");
    assert_string_equal(m->lockdown_device_name, "Ada's iPhone");
    assert_string_equal(m->lockdown_product_type, "iPhone15,2");
    assert_string_equal(m->lockdown_product_version, "17.4.1");
    assert_string_equal(m->lockdown_build_version, "21E236");
    assert_string_equal(m->lockdown_serial_number, "F2LZK0AAAAAA");
    assert_null(m->backup_keybag);
    assert_int_equal(m->backup_keybag_len, 0);
    assert_null(m->manifest_key);

    assert_string_equal(m->snapshot_state, "finished");
    assert_string_equal(m->backup_state, "new");
    assert_int_equal(m->is_full_backup, 1);
    assert_int_equal(m->status_date, T_BACKUP - 30);
    assert_string_equal(m->status_uuid, "5E3C2A1B-0000-4000-8000-00000000AB12");
    assert_string_equal(m->status_version, "3.3");

    struct pairs p = {0};
    assert_int_equal(ms_meta_pairs(m, collect, &p), CAIRN_OK);
    assert_int_equal(p.n, 27);
    assert_string_equal(p.keys[0], "device_name");
    assert_string_equal(pair(&p, "udid"), "00008120-001A2B3C4D5E6F70");
    assert_string_equal(pair(&p, "last_backup_date"), "1709634030");
    assert_string_equal(pair(&p, "is_encrypted"), "false");
    assert_string_equal(pair(&p, "was_passcode_set"), "true");
    assert_string_equal(pair(&p, "snapshot_state"), "finished");
    assert_string_equal(pair(&p, "lockdown_udid"), "00008120-001A2B3C4D5E6F70");
    ms_meta_free(m);
}

static cairn_err stop_at_third(void *ctx, const char *key, const char *value)
{
    int *n = ctx;
    (void)key;
    (void)value;
    return ++*n == 3 ? CAIRN_EINTERRUPTED : CAIRN_OK;
}

static void test_meta_encrypted_and_partial(void **state)
{
    struct fx *fx = *state;
    ms_meta *m = NULL;
    make_backup(fx->dir, "finished", 1);
    assert_int_equal(ms_read_meta(fx->dir, &m), CAIRN_OK);
    assert_int_equal(m->is_encrypted, 1);
    assert_int_equal(m->backup_keybag_len, sizeof keybag - 1);
    assert_memory_equal(m->backup_keybag, keybag, sizeof keybag - 1);
    assert_int_equal(m->manifest_key_len, sizeof manifest_key);
    assert_memory_equal(m->manifest_key, manifest_key, sizeof manifest_key);
    int n = 0;
    assert_int_equal(ms_meta_pairs(m, stop_at_third, &n), CAIRN_EINTERRUPTED);
    assert_int_equal(n, 3);
    ms_meta_free(m);

    /* Optional keys absent: NULL / 0 and no pair. */
    plist_t d = plist_new_dict();
    put_str(d, "SnapshotState", "finished");
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(d, &bin, &len);
    plist_free(d);
    assert_int_equal(ms_meta_new(&m), CAIRN_OK);
    assert_int_equal(ms_meta_load(m, MS_STATUS_PLIST, (const uint8_t *)bin, len), CAIRN_OK);
    free(bin);
    assert_string_equal(m->snapshot_state, "finished");
    assert_null(m->status_uuid);
    assert_int_equal(m->is_full_backup, 0);
    assert_null(m->device_name);
    struct pairs p = {0};
    assert_int_equal(ms_meta_pairs(m, collect, &p), CAIRN_OK);
    assert_int_equal(p.n, 1);
    ms_meta_free(m);

    /* An encrypted backup without its key bag cannot be read back. */
    d = plist_new_dict();
    plist_dict_set_item(d, "IsEncrypted", plist_new_bool(1));
    bin = NULL; /* plist_to_bin writes nothing unless *bin is NULL */
    plist_to_bin(d, &bin, &len);
    plist_free(d);
    assert_int_equal(ms_meta_new(&m), CAIRN_OK);
    assert_int_equal(ms_meta_load(m, MS_MANIFEST_PLIST, (const uint8_t *)bin, len), CAIRN_ESOURCE);
    assert_string_equal(err_msg(),
                        "Manifest.plist: IsEncrypted is set but BackupKeyBag is missing");
    free(bin);
    ms_meta_free(m);
}

static void test_meta_bad_plists(void **state)
{
    struct fx *fx = *state;
    ms_meta *m = (ms_meta *)1;
    make_backup(fx->dir, "finished", 0);

    /* Malformed Info.plist. */
    static const char broken[] = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>"
                                 "Device Name</key><string>x</dict>";
    write_bytes(fx->dir, "Info.plist", broken, sizeof broken - 1);
    assert_int_equal(ms_read_meta(fx->dir, &m), CAIRN_ESOURCE);
    assert_null(m);
    assert_string_equal(err_msg(), "Info.plist: not a valid property list");

    /* Right syntax, wrong shape. */
    plist_t a = plist_new_array();
    write_plist(fx->dir, "Info.plist", a, 0);
    assert_int_equal(ms_read_meta(fx->dir, &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Info.plist: top level is not a dictionary");
    plist_t d = plist_new_dict();
    plist_dict_set_item(d, "Device Name", plist_new_uint(7));
    write_plist(fx->dir, "Info.plist", d, 0);
    assert_int_equal(ms_read_meta(fx->dir, &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Info.plist: Device Name is not a string");
    write_bytes(fx->dir, "Info.plist", "", 0);
    assert_int_equal(ms_read_meta(fx->dir, &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Info.plist: file is empty");
    make_info(fx->dir);

    /* Missing Manifest.plist. */
    assert_int_equal(unlink(path_in(fx, "Manifest.plist")), 0);
    assert_int_equal(ms_read_meta(fx->dir, &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Manifest.plist: file is missing");
    assert_int_equal(mkdir(path_in(fx, "Manifest.plist"), 0755), 0);
    assert_int_equal(ms_read_meta(fx->dir, &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Manifest.plist: not a regular file");
    assert_int_equal(rmdir(path_in(fx, "Manifest.plist")), 0);
    make_manifest_plist(fx->dir, 0);

    /* Status.plist with a truncated binary plist. */
    plist_t s = plist_new_dict();
    put_str(s, "SnapshotState", "finished");
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(s, &bin, &len);
    plist_free(s);
    write_bytes(fx->dir, "Status.plist", bin, len - 9);
    free(bin);
    assert_int_equal(ms_read_meta(fx->dir, &m), CAIRN_ESOURCE);
    assert_true(strncmp(err_msg(), "Status.plist: ", 14) == 0);
}

/* Inputs that would make libplist 2.2 recurse too deep or expand without
 * bound are refused before or right after parsing. */
static void test_hostile_plists(void **state)
{
    (void)state;
    ms_meta *m = NULL;
    assert_int_equal(ms_meta_new(&m), CAIRN_OK);

    /* 200k nested XML arrays: plist_free alone would overflow the stack. */
    const size_t depth = 200000;
    const char head[] = "<?xml version=\"1.0\"?><plist version=\"1.0\">";
    const char tail[] = "</plist>";
    size_t cap = sizeof head + depth * 15 + sizeof tail;
    char *x = malloc(cap), *q = x;
    assert_non_null(x);
    q += sprintf(q, "%s", head);
    for (size_t i = 0; i < depth; i++)
        q += sprintf(q, "<array>");
    for (size_t i = 0; i < depth; i++)
        q += sprintf(q, "</array>");
    q += sprintf(q, "%s", tail);
    assert_int_equal(ms_meta_load(m, MS_INFO_PLIST, (const uint8_t *)x, (size_t)(q - x)),
                     CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Info.plist: property list nests deeper than 128 levels");
    free(x);

    /* Binary: each array points twice at the next -> 2^40 nodes. */
    uint8_t b[1024];
    size_t n = 0, offs[64];
    const int N = 40;
    memcpy(b, "bplist00", 8);
    n = 8;
    for (int i = 0; i < N; i++) {
        offs[i] = n;
        if (i < N - 1) {
            b[n++] = 0xA2;
            b[n++] = (uint8_t)(i + 1);
            b[n++] = (uint8_t)(i + 1);
        } else {
            b[n++] = 0xA0;
        }
    }
    const size_t table = n;
    for (int i = 0; i < N; i++)
        b[n++] = (uint8_t)offs[i];
    memset(b + n, 0, 32);
    b[n + 6] = 1;
    b[n + 7] = 1;
    b[n + 15] = (uint8_t)N;
    b[n + 31] = (uint8_t)table;
    n += 32;
    assert_int_equal(ms_meta_load(m, MS_MANIFEST_PLIST, b, n), CAIRN_ESOURCE);
    assert_non_null(strstr(err_msg(), "expands to over"));

    /* Binary: 200 arrays each holding the next (object i at 8 + 2i). */
    n = 8;
    for (int i = 0; i < 200; i++) {
        b[n++] = i < 199 ? 0xA1 : 0xA0;
        b[n++] = (uint8_t)(i + 1); /* the last one is padding */
    }
    const size_t table2 = n;
    for (int i = 0; i < 200; i++) {
        b[n++] = (uint8_t)((8 + 2 * i) >> 8);
        b[n++] = (uint8_t)(8 + 2 * i);
    }
    memset(b + n, 0, 32);
    b[n + 6] = 2;
    b[n + 7] = 1;
    b[n + 15] = 200;
    b[n + 30] = (uint8_t)(table2 >> 8);
    b[n + 31] = (uint8_t)table2;
    n += 32;
    assert_int_equal(ms_meta_load(m, MS_MANIFEST_PLIST, b, n), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Manifest.plist: property list nests deeper than 128 levels");

    /* Binary: an array containing itself. */
    uint8_t self[8 + 3 + 32] = "bplist00\xA1\x00\x08"; /* [obj 0], offset table */
    self[11 + 6] = 1;                                  /* offset size */
    self[11 + 7] = 1;                                  /* reference size */
    self[11 + 15] = 1;                                 /* one object, root 0 */
    self[11 + 31] = 10;                                /* offset table at 10 */
    assert_int_equal(ms_meta_load(m, MS_STATUS_PLIST, self, sizeof self), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Status.plist: binary property list contains a cycle");
    ms_meta_free(m);
}

/* ---- MBFile and Manifest.db --------------------------------------------- */

static void check_row(const ms_file *f, const struct row *r)
{
    assert_string_equal(f->file_id, r->id);
    assert_string_equal(f->domain, r->domain);
    assert_string_equal(f->relative_path, r->path);
    assert_int_equal(f->flags, r->flags);
    assert_int_equal(f->size, r->mb.size);
    assert_int_equal(f->mode, r->mb.mode);
    assert_int_equal(f->mtime, r->mb.mtime);
    assert_int_equal(f->ctime, r->mb.ctime);
    assert_int_equal(f->birth, r->mb.birth);
    assert_int_equal(f->inode, r->mb.inode);
    assert_int_equal(f->uid, (uint32_t)r->mb.uid);
    assert_int_equal(f->gid, (uint32_t)r->mb.gid);
    assert_int_equal(f->protection_class, r->mb.pclass);
    if (r->mb.target)
        assert_string_equal(f->target, r->mb.target);
    else
        assert_null(f->target);
    assert_int_equal(f->encryption_key_len, r->mb.key_len);
    if (r->mb.key)
        assert_memory_equal(f->encryption_key, r->mb.key, r->mb.key_len);
    else
        assert_null(f->encryption_key);
}

static void test_manifest_rows(void **state)
{
    struct fx *fx = *state;
    ms_manifest *m = NULL;
    const ms_file *f = NULL;
    uint64_t count = 0;
    make_backup(fx->dir, "finished", 0);
    assert_int_equal(ms_manifest_open(path_in(fx, "Manifest.db"), &m), CAIRN_OK);
    assert_int_equal(ms_manifest_count(m, &count), CAIRN_OK);
    assert_int_equal(count, NROWS);

    /* ORDER BY domain, relativePath. */
    static const int expect[] = {3, 1, 5, 4, 0, 2};
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(ms_manifest_next(m, &f), CAIRN_OK);
        assert_non_null(f);
        check_row(f, &rows[expect[i]]);
    }
    assert_int_equal(ms_manifest_next(m, &f), CAIRN_OK);
    assert_null(f);
    ms_manifest_close(m);
}

static void test_mbfile_decode(void **state)
{
    (void)state;
    ms_file f;
    size_t len;
    for (size_t i = 0; i < NROWS; i++) {
        uint8_t *blob = mbfile_blob(&rows[i].mb, &len);
        assert_int_equal(ms_mbfile_decode(blob, len, &f), CAIRN_OK);
        assert_null(f.file_id);
        assert_int_equal(f.size, rows[i].mb.size);
        assert_int_equal(f.mode, rows[i].mb.mode);
        assert_int_equal(f.mtime, rows[i].mb.mtime);
        ms_file_clear(&f);
        free(blob);
    }

    /* RelativePath pointing past $objects. */
    struct mbspec s = rows[0].mb;
    s.bad_uid = 99;
    uint8_t *blob = mbfile_blob(&s, &len);
    assert_int_equal(ms_mbfile_decode(blob, len, &f), CAIRN_ECORRUPT);
    free(blob);
    assert_string_equal(err_msg(), "MBFile: RelativePath: UID 99 out of range (4 objects)");
    /* The record's own RelativePath is what ms_mbfile_decode reports. */
    s = rows[2].mb;
    s.shuffled = 1;
    blob = mbfile_blob(&s, &len);
    assert_int_equal(ms_mbfile_decode(blob, len, &f), CAIRN_OK);
    assert_string_equal(f.target, "/var/mobile/Library/target");
    assert_string_equal(f.relative_path, "Library/link");
    ms_file_clear(&f);
    free(blob);

    /* Another class at the root. */
    s = rows[0].mb;
    s.classname = "NSDictionary";
    blob = mbfile_blob(&s, &len);
    assert_int_equal(ms_mbfile_decode(blob, len, &f), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "MBFile: root object is a NSDictionary, not an MBFile");
    free(blob);

    /* A symlink with no target. */
    s = rows[2].mb;
    s.target = NULL;
    blob = mbfile_blob(&s, &len);
    assert_int_equal(ms_mbfile_decode(blob, len, &f), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "MBFile: symbolic link without a Target");
    free(blob);

    /* Not a plist at all, and an empty one. */
    assert_int_equal(ms_mbfile_decode((const uint8_t *)"hello", 5, &f), CAIRN_ECORRUPT);
    assert_int_equal(ms_mbfile_decode((const uint8_t *)"", 0, &f), CAIRN_ECORRUPT);
    assert_null(f.owned_);
}

/* Hand-made archives for the reference checks libplist cannot build wrong. */
static uint8_t *archive_with(plist_t objs, uint64_t root, size_t *len)
{
    plist_t top = plist_new_dict();
    plist_dict_set_item(top, "root", plist_new_uid(root));
    plist_t ar = plist_new_dict();
    plist_dict_set_item(ar, "$top", top);
    plist_dict_set_item(ar, "$objects", objs);
    char *bin = NULL;
    uint32_t blen = 0;
    plist_to_bin(ar, &bin, &blen);
    plist_free(ar);
    *len = blen;
    return (uint8_t *)bin;
}

static void test_mbfile_uid_checks(void **state)
{
    (void)state;
    ms_file f;
    size_t len;

    /* $top/root out of range. */
    plist_t objs = plist_new_array();
    plist_array_append_item(objs, plist_new_string("$null"));
    uint8_t *blob = archive_with(objs, 5, &len);
    assert_int_equal(ms_mbfile_decode(blob, len, &f), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "MBFile: root: UID 5 out of range (1 objects)");
    free(blob);

    /* UIDs that point at each other. */
    objs = plist_new_array();
    plist_array_append_item(objs, plist_new_uid(1));
    plist_array_append_item(objs, plist_new_uid(0));
    blob = archive_with(objs, 0, &len);
    assert_int_equal(ms_mbfile_decode(blob, len, &f), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "MBFile: root: UID references form a cycle");
    free(blob);

    /* Mode out of range, and of the wrong type. */
    struct mbspec s = rows[0].mb;
    s.mode = 0x12345;
    blob = mbfile_blob(&s, &len);
    assert_int_equal(ms_mbfile_decode(blob, len, &f), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "MBFile: Mode is out of range");
    free(blob);
}

static void test_manifest_bad_rows(void **state)
{
    struct fx *fx = *state;
    ms_manifest *m = NULL;
    const ms_file *f = NULL;
    make_info(fx->dir);
    make_manifest_plist(fx->dir, 0);
    make_status(fx->dir, "finished");
    sqlite3 *db = db_create(fx->dir);
    size_t len;
    struct mbspec s = rows[0].mb;
    uint8_t *good = mbfile_blob(&s, &len);
    db_insert(db, "1111111111111111111111111111111111111111", "A", "good1", 1, good, len);
    db_insert(db, "../../../../../../../../../../etc/passwd", "B", "escape", 1, good, len);
    db_insert(db, "3333333333333333333333333333333333333333", "D", "good2", 1, good, len);
    s.bad_uid = 42;
    uint8_t *bad = mbfile_blob(&s, &len);
    db_insert(db, "2222222222222222222222222222222222222222", "C", "baduid", 1, bad, len);
    free(bad);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    write_content(fx->dir, "1111111111111111111111111111111111111111", 5);
    write_content(fx->dir, "3333333333333333333333333333333333333333", 5);

    assert_int_equal(ms_manifest_open(path_in(fx, "Manifest.db"), &m), CAIRN_OK);
    assert_int_equal(ms_manifest_next(m, &f), CAIRN_OK);
    assert_string_equal(f->relative_path, "good1");
    assert_int_equal(ms_manifest_next(m, &f), CAIRN_ECORRUPT);
    assert_null(f);
    assert_string_equal(err_msg(),
                        "Manifest.db: B/escape (../../../../../../../../../../etc/passwd)"
                        ": fileID is not 40 hex digits");
    assert_int_equal(ms_manifest_next(m, &f), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(),
                        "Manifest.db: C/baduid (2222222222222222222222222222222222222222)"
                        ": MBFile: RelativePath: UID 42 out of range (4 objects)");
    assert_int_equal(ms_manifest_next(m, &f), CAIRN_OK);
    assert_string_equal(f->relative_path, "good2");
    assert_int_equal(ms_manifest_next(m, &f), CAIRN_OK);
    assert_null(f);
    ms_manifest_close(m);

    ms_report *r = NULL;
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_non_null(r);
    assert_int_equal(r->complete, 0);
    assert_int_equal(r->rows, 4);
    assert_int_equal(r->files, 2);
    assert_int_equal(r->bad_records, 2);
    assert_int_equal(r->missing, 0);
    assert_int_equal(r->n_problems, 2);
    assert_int_equal(r->problems[1].kind, MS_PROBLEM_BAD_RECORD);
    assert_string_equal(r->problems[1].domain, "C");
    assert_string_equal(err_msg(), "Manifest.db: 2 records do not decode, 0 content files "
                                   "missing; first: B/escape (../../../../../../../../../../etc/"
                                   "passwd)");
    ms_report_free(r);
    free(good);
}

static void test_manifest_db_damage(void **state)
{
    struct fx *fx = *state;
    ms_manifest *m = (ms_manifest *)1;
    ms_report *r = (ms_report *)1;
    make_info(fx->dir);
    make_manifest_plist(fx->dir, 0);
    make_status(fx->dir, "finished");
    make_db(fx->dir, 400);
    struct stat st;
    assert_int_equal(stat(path_in(fx, "Manifest.db"), &st), 0);
    assert_true(st.st_size > 8 * 4096);

    /* Truncated. */
    assert_int_equal(truncate(path_in(fx, "Manifest.db"), 3 * 4096), 0);
    assert_int_equal(ms_manifest_open(path_in(fx, "Manifest.db"), &m), CAIRN_ESOURCE);
    assert_null(m);
    assert_true(strncmp(err_msg(), "Manifest.db: ", 13) == 0);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_null(r);
    assert_true(strncmp(err_msg(), "Manifest.db: ", 13) == 0);

    /* Garbage. */
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7919 + 13);
    write_bytes(fx->dir, "Manifest.db", junk, sizeof junk);
    assert_int_equal(ms_manifest_open(path_in(fx, "Manifest.db"), &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Manifest.db: file is not a database");
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Manifest.db: file is not a database");

    /* Empty and missing. */
    write_bytes(fx->dir, "Manifest.db", "", 0);
    assert_int_equal(ms_manifest_open(path_in(fx, "Manifest.db"), &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Manifest.db: file is empty");
    assert_int_equal(unlink(path_in(fx, "Manifest.db")), 0);
    assert_int_equal(ms_manifest_open(path_in(fx, "Manifest.db"), &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Manifest.db: file is missing");

    /* A database without a Files table, and one where Files is a view. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path_in(fx, "Manifest.db"), &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE Other (x); CREATE VIEW Files AS SELECT 1 AS "
                                  "fileID, 2 AS domain, 3 AS relativePath, 4 AS flags, 5 AS file",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(ms_manifest_open(path_in(fx, "Manifest.db"), &m), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Manifest.db: no Files table");

    /* Only a legacy Manifest.mbdb. */
    assert_int_equal(unlink(path_in(fx, "Manifest.db")), 0);
    write_bytes(fx->dir, "Manifest.mbdb", "mbdb\x05\x00", 6);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_null(r);
    assert_string_equal(err_msg(),
                        "Manifest.mbdb: legacy (pre-iOS 10) backups are not supported yet");
}

/* A damaged index that the scan of the rows never reads: the integrity
 * check, which runs beside the scan, still decides (the backup is refused
 * in its words, no report). */
static void test_manifest_index_damage(void **state)
{
    struct fx *fx = *state;
    ms_report *r = (ms_report *)1;
    make_info(fx->dir);
    make_manifest_plist(fx->dir, 0);
    make_status(fx->dir, "finished");
    make_db(fx->dir, 400);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path_in(fx, "Manifest.db"), &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT rootpage, (SELECT page_size FROM "
                                        "pragma_page_size) FROM sqlite_master WHERE name = "
                                        "'FilesFlagsIdx'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const long root = sqlite3_column_int(st, 0), page = sqlite3_column_int(st, 1);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_true(root > 1);
    const int fd = open(path_in(fx, "Manifest.db"), O_WRONLY);
    assert_true(fd >= 0);
    const uint8_t bad_type = 0x01; /* no b-tree page has this type */
    assert_int_equal(pwrite(fd, &bad_type, 1, (off_t)((root - 1) * page)), 1);
    assert_int_equal(close(fd), 0);

    /* the rows alone still read */
    assert_int_equal(sqlite3_open(path_in(fx, "Manifest.db"), &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM Files NOT INDEXED", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), (int)NROWS + 400);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);

    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_null(r);
    assert_true(strncmp(err_msg(), "Manifest.db: ", 13) == 0);
}

/* ---- validation --------------------------------------------------------- */

static cairn_err count_row(void *ctx, const ms_file *f)
{
    (void)f;
    ++*(size_t *)ctx;
    return CAIRN_OK;
}

/* A stop flag that stays 0 changes nothing; one set gives
 * CAIRN_EINTERRUPTED and no report, before any row, on a database small
 * enough never to call SQLite's progress handler and on one large enough
 * to be stopped in its integrity check. */
static void test_validate_stop(void **state)
{
    struct fx *fx = *state;
    make_backup(fx->dir, "finished", 0);
    for (int large = 0; large <= 1; large++) {
        if (large) {
            assert_int_equal(unlink(path_in(fx, "Manifest.db")), 0);
            make_db(fx->dir, 4000);
        }
        size_t seen = 0;
        atomic_int stop;
        atomic_init(&stop, 0);
        const ms_scan scan = {.fn = count_row, .ctx = &seen, .stop = &stop};
        ms_report *r = NULL;
        assert_int_equal(ms_validate_rows(fx->dir, NULL, &scan, &r), CAIRN_OK);
        assert_non_null(r);
        assert_int_equal(r->rows, large ? NROWS + 4000 : NROWS);
        assert_int_equal(seen, r->rows);
        ms_report_free(r);

        atomic_store(&stop, 1);
        seen = 0;
        r = (ms_report *)1;
        assert_int_equal(ms_validate_rows(fx->dir, NULL, &scan, &r), CAIRN_EINTERRUPTED);
        assert_null(r);
        assert_int_equal(seen, 0);
        assert_string_equal(err_msg(), "Manifest.db: reading stopped");
    }
}

static void test_validate_complete(void **state)
{
    struct fx *fx = *state;
    ms_report *r = NULL;
    make_backup(fx->dir, "finished", 0);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_OK);
    assert_non_null(r);
    assert_int_equal(r->complete, 1);
    assert_string_equal(r->snapshot_state, "finished");
    assert_int_equal(r->rows, NROWS);
    assert_int_equal(r->files, 3);
    assert_int_equal(r->missing, 0);
    assert_int_equal(r->n_problems, 0);
    ms_report_free(r);

    /* Also via an explicit path, as for a decrypted copy. */
    assert_int_equal(ms_validate(fx->dir, path_in(fx, "Manifest.db"), &r), CAIRN_OK);
    ms_report_free(r);
}

static void test_validate_uploading(void **state)
{
    struct fx *fx = *state;
    ms_report *r = NULL;
    make_backup(fx->dir, "uploading", 0);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_string_equal(err_msg(),
                        "Status.plist: SnapshotState is 'uploading', backup is incomplete");
    assert_non_null(r);
    assert_int_equal(r->complete, 0);
    assert_string_equal(r->snapshot_state, "uploading");
    assert_int_equal(r->missing, 0);
    ms_report_free(r);
}

static void test_validate_missing_content(void **state)
{
    struct fx *fx = *state;
    ms_report *r = NULL;
    make_backup(fx->dir, "finished", 0);
    assert_int_equal(unlink(path_in(fx, "3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28")), 0);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28: content file is "
                                   "missing for HomeDomain/Library/SMS/sms.db (1 of 3 files "
                                   "missing)");
    assert_non_null(r);
    assert_int_equal(r->complete, 0);
    assert_int_equal(r->files, 3);
    assert_int_equal(r->missing, 1);
    assert_int_equal(r->n_problems, 1);
    assert_int_equal(r->problems[0].kind, MS_PROBLEM_MISSING_CONTENT);
    assert_string_equal(r->problems[0].file_id, "3d0d7e5fb2ce288813306e4d4636395e047a3d28");
    assert_string_equal(r->problems[0].domain, "HomeDomain");
    assert_string_equal(r->problems[0].relative_path, "Library/SMS/sms.db");
    ms_report_free(r);

    /* A directory in place of the content file is missing content too. */
    assert_int_equal(mkdir(path_in(fx, "3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28"), 0755), 0);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_int_equal(r->missing, 1);
    ms_report_free(r);
}

/* Rows are read in the table's order, not sorted; the problems kept as
 * examples are still the first ones in (domain, relativePath, fileID) order,
 * whatever order the rows were stored in. */
static void test_validate_examples_in_path_order(void **state)
{
    struct fx *fx = *state;
    ms_report *r = NULL;
    make_info(fx->dir);
    make_manifest_plist(fx->dir, 0);
    make_status(fx->dir, "finished");
    sqlite3 *db = db_create(fx->dir);
    char id[41], path[64];
    snprintf(id, sizeof id, "%040x", 0x999u);
    db_insert(db, id, "HomeDomain", "Library/f03b", 1, "garbage", 7);
    for (int i = 19; i >= 0; i--) {
        snprintf(id, sizeof id, "%040x", 0x1000u + (unsigned)i);
        snprintf(path, sizeof path, "Library/f%02d", i);
        struct mbspec spec = {.mode = 0100644, .mtime = T_MTIME, .size = 5, .relpath = path};
        size_t len;
        uint8_t *blob = mbfile_blob(&spec, &len);
        db_insert(db, id, "HomeDomain", path, 1, blob, len);
        free(blob);
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    size_t seen = 0;
    assert_int_equal(ms_validate_each(fx->dir, NULL, count_row, &seen, &r), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "00/0000000000000000000000000000000000001000: content file is "
                                   "missing for HomeDomain/Library/f00 (20 of 20 files missing)");
    assert_int_equal(seen, 20);
    assert_int_equal(r->rows, 21);
    assert_int_equal(r->missing, 20);
    assert_int_equal(r->bad_records, 1);
    assert_int_equal(r->n_problems, MS_REPORT_EXAMPLES);
    static const char *const want[MS_REPORT_EXAMPLES] = {
        "Library/f00",  "Library/f01", "Library/f02", "Library/f03",
        "Library/f03b", "Library/f04", "Library/f05", "Library/f06"};
    for (int i = 0; i < MS_REPORT_EXAMPLES; i++) {
        assert_string_equal(r->problems[i].relative_path, want[i]);
        assert_int_equal(r->problems[i].kind,
                         i == 4 ? MS_PROBLEM_BAD_RECORD : MS_PROBLEM_MISSING_CONTENT);
    }
    assert_string_equal(r->problems[0].file_id, "0000000000000000000000000000000000001000");
    ms_report_free(r);
}

/* Content files are found by listing their folders: a symlink to a regular
 * file counts as present (as stat says), a dangling one, a folder, an
 * absent file or an absent xx/ folder as missing. */
static void test_validate_content_kinds(void **state)
{
    struct fx *fx = *state;
    ms_report *r = NULL;
    make_backup(fx->dir, "finished", 0);
    char *const sms = strdup(path_in(fx, "3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28"));
    char *const real = strdup(path_in(fx, "real-sms.db"));
    assert_int_equal(rename(sms, real), 0);
    assert_int_equal(symlink(real, sms), 0);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_OK);
    assert_int_equal(r->missing, 0);
    ms_report_free(r);
    assert_int_equal(unlink(real), 0);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_int_equal(r->missing, 1);
    assert_string_equal(r->problems[0].relative_path, "Library/SMS/sms.db");
    ms_report_free(r);
    /* the folder gone as well */
    assert_int_equal(unlink(sms), 0);
    assert_int_equal(rmdir(path_in(fx, "3d")), 0);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_ESOURCE);
    assert_int_equal(r->missing, 1);
    assert_int_equal(r->files, 3);
    ms_report_free(r);
    free(sms);
    free(real);
}

static void test_validate_encrypted_needs_copy(void **state)
{
    struct fx *fx = *state;
    ms_report *r = (ms_report *)1;
    make_backup(fx->dir, "finished", 1);
    assert_int_equal(ms_validate(fx->dir, NULL, &r), CAIRN_EINVAL);
    assert_null(r);
    /* The "decrypted copy" here is just the plaintext fixture database. */
    assert_int_equal(ms_validate(fx->dir, path_in(fx, "Manifest.db"), &r), CAIRN_OK);
    assert_int_equal(r->complete, 1);
    ms_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_detect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_encrypted_and_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_bad_plists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_plists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mbfile_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mbfile_uid_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_bad_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_db_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_index_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_uploading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_missing_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_examples_in_path_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_content_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_encrypted_needs_copy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
