/* test_device_backup.c - device_backup_folder through the API, without the
 * command line: a generated iPhone backup becomes a snapshot of its
 * device's chain with the result filled and the device announced in a
 * note; the second backup reuses the catalog and reads nothing; an
 * encrypted backup of the same device asks for its password through the
 * callback, is stored decrypted and archives the unencrypted chain (said
 * in a note and in the result) and restores, with the password, as the
 * device's exact ciphertext; a plain folder is no device; a missing
 * folder never opens the store; chain rotation finds the device's
 * snapshots whatever the case of their UDID; a snapshot's database read in
 * place from the store reads as its copy on disk does; a snapshot opened
 * for a few files only (the deletion alarm's) finds exactly what the whole
 * catalog finds for them; a next day's catalog, its rows known from the
 * parent's catalog taken undecoded, is exactly the one decoding every row
 * gives (and the one stored), with a version-1 parent (or one whose catalog
 * cannot be read) nothing is taken, and
 * a content file missing for a known row is found missing all the same;
 * an encrypted backup's next day takes known rows too.
 *
 * usage: test_device_backup /path/to/cairn-gen */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/core/catalog.h"
#include "engine/core/chains.h"
#include "engine/core/snapshot_list.h"
#include "engine/ios/content_messages.h"
#include "engine/ios/backup_folder.h"
#include "engine/ios/content_photos.h"
#include "engine/ios/device_backup.h"
#include "engine/ios/device_restore.h"
#include "engine/ios/encrypted_folder.h"
#include "testutil.h"

static const char PW[] = "device-backup-test-password";
static const char BACKUP_PW[] = "backup-password";
static const char UDID[] = "00008120-001A2B3C4D5E6F70";
static const char *gen_path; /* argv[1] */

typedef struct fixture {
    char dir[64];
    char store_path[128];
    char notes[8192];
    int opened;
    int passwords;
    int warnings;
    int optional_asked; /* the last request allowed "none given" */
} fixture;

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    const store_params params = {4096, 16384, 65536, 256 * 1024, 3, 0, 0, 0};
    if (!f || sodium_init() < 0)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-devbackup-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->store_path, sizeof f->store_path, "%s/store", f->dir);
    if (store_create(f->store_path, PW, strlen(PW), &kdf, &params) != CAIRN_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    test_rmtree(f->dir);
    free(f);
    return 0;
}

static cairn_err open_store(void *ctx, store **out)
{
    fixture *const f = ctx;
    f->opened++;
    return store_open(f->store_path, PW, strlen(PW), STORE_WRITE, out);
}

static void on_note(void *ctx, const char *line)
{
    fixture *const f = ctx;
    strncat(f->notes, line, sizeof f->notes - strlen(f->notes) - 2);
    strcat(f->notes, "\n");
}

static void on_warning(void *ctx, const char *path, const char *msg)
{
    (void)path;
    (void)msg;
    ((fixture *)ctx)->warnings++;
}

static cairn_err on_password(void *ctx, const device_password_request *req, char **text,
                             size_t *len)
{
    fixture *const f = ctx;
    f->passwords++;
    f->optional_asked = req->optional;
    assert_int_equal(req->kind, DEVICE_PASSWORD_BACKUP);
    /* the engine wipes and frees it with sodium_free */
    *text = sodium_malloc(sizeof BACKUP_PW);
    assert_non_null(*text);
    memcpy(*text, BACKUP_PW, sizeof BACKUP_PW);
    *len = strlen(BACKUP_PW);
    return CAIRN_OK;
}

static device_callbacks callbacks(fixture *f)
{
    const device_callbacks cb = {
        .ctx = f, .password = on_password, .warning = on_warning, .note = on_note};
    return cb;
}

static void gen(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null", gen_path, args);
    assert_int_equal(system(cmd), 0);
}

static cairn_err backup(fixture *f, const char *source, device_backup_result *r)
{
    const device_callbacks cb = callbacks(f);
    const device_backup_folder_opts o = {
        .source = source, .threads = 2, .open_store = open_store, .open_ctx = f};
    f->notes[0] = '\0';
    return device_backup_folder(&o, &cb, r);
}

static void load(fixture *f, snaplist *l)
{
    store *s = NULL;
    assert_int_equal(store_open(f->store_path, PW, strlen(PW), 0, &s), CAIRN_OK);
    assert_int_equal(snaplist_load(s, l), CAIRN_OK);
    store_close(s);
}

static void test_device_folder(void **state)
{
    fixture *const f = *state;
    char src[128], args[512], chain[128];
    device_backup_result r1, r2;
    snaplist l;
    snprintf(src, sizeof src, "%s/plain", f->dir);
    snprintf(args, sizeof args, "device '%s' --seed 3 --size-mb 1 --udid %s --name 'Test Phone'",
             src, UDID);
    gen(args);

    assert_int_equal(backup(f, src, &r1), CAIRN_OK);
    assert_int_equal(f->opened, 1);
    assert_int_equal(f->passwords, 0);
    assert_true(r1.is_device);
    assert_false(r1.has_parent);
    assert_false(r1.incomplete);
    assert_false(r1.partial);
    assert_true(r1.files > 0);
    assert_int_equal(r1.files_read, r1.files);
    assert_int_equal(r1.errors, 0);
    assert_string_equal(r1.archived_chain, "");
    assert_non_null(strstr(f->notes, "device backup: Test Phone ("));
    assert_non_null(strstr(f->notes, "UDID 00008120-001A2B3C4D5E6F70\n"));

    /* unchanged: the parent's catalog is reused and no file is read */
    assert_int_equal(backup(f, src, &r2), CAIRN_OK);
    assert_true(r2.has_parent);
    assert_memory_equal(r2.parent, r1.id, ID_LEN);
    assert_int_equal(r2.files, r1.files);
    assert_int_equal(r2.files_read, 0);
    assert_int_equal(r2.new_chunks, 0);

    load(f, &l);
    assert_int_equal(l.count, 2);
    snprintf(chain, sizeof chain, "device:%s/unencrypted", UDID);
    assert_string_equal(l.items[1].chain, chain);
    assert_true(snapshot_udid_is(&l.items[1], "00008120-001a2b3c4d5e6f70"));
    assert_string_equal(snapshot_device_name(&l.items[1]), "Test Phone");
    assert_false(snapshot_is_decrypted(&l.items[1]));
    assert_true(l.items[1].ncatalog > 0);
    /* the parent's catalog kept as it was stored: the same chunk list */
    assert_int_equal(l.items[1].ncatalog, l.items[0].ncatalog);
    assert_memory_equal(l.items[1].catalog, l.items[0].catalog,
                        (size_t)l.items[0].ncatalog * ID_LEN);
    snaplist_free(&l);

    /* encryption turned on: the password is asked, files are stored
     * decrypted, the unencrypted chain is archived */
    snprintf(src, sizeof src, "%s/enc", f->dir);
    snprintf(args, sizeof args,
             "device '%s' --seed 3 --size-mb 1 --udid %s --name 'Test Phone' --encrypt %s "
             "--kdf-iter 10 --kdf-dpic 100",
             src, UDID, BACKUP_PW);
    gen(args);
    device_backup_result r3;
    assert_int_equal(backup(f, src, &r3), CAIRN_OK);
    assert_int_equal(f->passwords, 1);
    assert_true(f->optional_asked);
    assert_true(r3.is_device);
    assert_false(r3.has_parent);
    assert_string_equal(r3.archived_chain, chain);
    assert_non_null(strstr(f->notes, ", encrypted\n"));
    assert_non_null(strstr(f->notes,
                           "  encrypted: unlocked; files are stored decrypted and restored "
                           "re-encrypted\n"));
    char want[512];
    snprintf(want, sizeof want,
             "chain %s archived: backup encryption was turned on; it stays restorable and is "
             "never pruned by policy\nnew chain device:%s/keybag-",
             chain, UDID);
    assert_non_null(strstr(f->notes, want));
    load(f, &l);
    assert_int_equal(l.count, 3);
    assert_true(snapshot_is_encrypted_backup(&l.items[2]));
    assert_true(snapshot_is_decrypted(&l.items[2]));
    assert_true(l.items[2].ncatalog > 0);

    /* restored with its password: the device's exact ciphertext again */
    store *s = NULL;
    device_restore_result rr;
    char target[128], cmd[512];
    const device_callbacks cb = callbacks(f);
    snprintf(target, sizeof target, "%s/restored", f->dir);
    const device_restore_folder_opts ro = {.target = target, .threads = 2};
    assert_int_equal(store_open(f->store_path, PW, strlen(PW), 0, &s), CAIRN_OK);
    assert_int_equal(device_restore_to_folder(s, &l.items[2], &ro, &cb, &rr), CAIRN_OK);
    store_close(s);
    assert_int_equal(f->passwords, 2);
    assert_false(f->optional_asked);
    assert_true(rr.restored);
    assert_false(rr.reencrypted);
    assert_false(rr.partial);
    assert_int_equal(rr.files, r3.files);
    assert_int_equal(rr.failed, 0);
    snprintf(cmd, sizeof cmd, "diff -r '%s' '%s' >/dev/null", src, target);
    assert_int_equal(system(cmd), 0);
    snaplist_free(&l);
    assert_int_equal(f->warnings, 0);
}

static void test_plain_folder(void **state)
{
    fixture *const f = *state;
    char src[128], args[256];
    device_backup_result r;
    snprintf(src, sizeof src, "%s/folder", f->dir);
    snprintf(args, sizeof args, "folder '%s' --seed 5 --size-mb 1", src);
    gen(args);
    assert_int_equal(backup(f, src, &r), CAIRN_OK);
    assert_false(r.is_device);
    assert_true(r.files > 0);
    assert_string_equal(f->notes, "");
    assert_int_equal(f->passwords, 0);
}

static void test_missing_folder(void **state)
{
    fixture *const f = *state;
    char src[128], want[160];
    device_backup_result r;
    snprintf(src, sizeof src, "%s/nothing-here", f->dir);
    assert_int_equal(backup(f, src, &r), CAIRN_ESOURCE);
    snprintf(want, sizeof want, "%s: no such folder", src);
    assert_string_equal(err_msg(), want);
    assert_int_equal(f->opened, 0);
}

/* Finder names backup folders by UDID in lower case, Info.plist spells it
 * in upper case: the device's chain rotates whichever case its newest
 * snapshot has. */
static void test_rotation_ignores_udid_case(void **state)
{
    fixture *const f = *state;
    store *s = NULL;
    snapshot sn;
    snaplist l;
    chain_list chains = {NULL, 0};
    char *archived = NULL, reason[256];
    const char old_chain[] = "device:00008120-001a2b3c4d5e6f70/unencrypted";
    memset(&sn, 0, sizeof sn);
    sn.chain = strdup(old_chain);
    assert_non_null(sn.chain);
    assert_int_equal(snapshot_set_meta(&sn, SNAP_META_UDID, "00008120-001a2b3c4d5e6f70"), CAIRN_OK);
    l.items = &sn;
    l.count = 1;
    l.damaged = 0;
    assert_int_equal(store_open(f->store_path, PW, strlen(PW), STORE_WRITE, &s), CAIRN_OK);
    assert_int_equal(chains_load(s, &chains), CAIRN_OK);
    assert_int_equal(chains_rotate(s, &l, &chains, UDID,
                                   "device:00008120-001A2B3C4D5E6F70/keybag-0011223344556677",
                                   &archived, reason, sizeof reason),
                     CAIRN_OK);
    assert_non_null(archived);
    assert_string_equal(archived, old_chain);
    assert_string_equal(reason, "backup encryption was turned on");
    free(archived);
    chains_free(&chains);
    assert_int_equal(chains_load(s, &chains), CAIRN_OK);
    assert_true(chains_is_archived(&chains, old_chain));
    chains_free(&chains);
    store_close(s);
    snapshot_free(&sn);
}

static void dump_db(sqlite3 *db, cbuf *b)
{
    content_messages m;
    content_photos p;
    if (content_messages_read(db, "db", NULL, NULL, &m) == CAIRN_OK) {
        for (size_t i = 0; i < m.nchat; i++) {
            cbuf_printf(b, "chat %s %zu\n", m.chat[i].guid, m.chat[i].nmsg);
            for (size_t k = 0; k < m.chat[i].nmsg; k++)
                cbuf_printf(b, " %s %s\n", m.chat[i].msg[k].guid,
                            m.chat[i].msg[k].text ? m.chat[i].msg[k].text : "-");
        }
        content_messages_free(&m);
    } else if (content_photos_read(db, "db", NULL, NULL, &p) == CAIRN_OK) {
        for (size_t i = 0; i < p.n; i++)
            cbuf_printf(b, "%s %s\n", p.photo[i].uuid, p.photo[i].path);
        content_photos_free(&p);
    }
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        cbuf_printf(b, "%s\n", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    cbuf_put(b, "", 1);
}

/* A generated device with content, backed up; the store opened read-only
 * and its snapshots listed. */
static void content_backup(fixture *f, store **s, snaplist *l)
{
    char src[128], args[512];
    device_backup_result r;
    snprintf(src, sizeof src, "%s/content", f->dir);
    snprintf(args, sizeof args, "device '%s' --content 0 --size-mb 1 --udid %s", src, UDID);
    gen(args);
    assert_int_equal(backup(f, src, &r), CAIRN_OK);
    assert_int_equal(store_open(f->store_path, PW, strlen(PW), 0, s), CAIRN_OK);
    assert_int_equal(snaplist_load(*s, l), CAIRN_OK);
}

/* a and b read the same (each dumped), then both closed. */
static void assert_same_db(content_db *a, content_db *b)
{
    cbuf da, db;
    cbuf_init(&da);
    cbuf_init(&db);
    dump_db(a->db, &da);
    dump_db(b->db, &db);
    assert_true(da.len > 20);
    assert_string_equal((const char *)db.data, (const char *)da.data);
    content_db_close(a);
    content_db_close(b);
    cbuf_free(&da);
    cbuf_free(&db);
}

/* A database read in place from the store (content_db_open_in_store)
 * gives what its copy on disk gives, every page checked; a chunk the store
 * cannot give fails the query with the store's error. */
static void test_db_in_store(void **state)
{
    fixture *const f = *state;
    char cmd[512];
    snaplist l;
    store *s = NULL;
    content_snap *c = NULL;
    content_backup(f, &s, &l);
    assert_int_equal(content_open(s, &l.items[0], &c), CAIRN_OK);
    static const char *const dbs[][2] = {{CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH},
                                         {CONTENT_PHOTOS_DOMAIN, CONTENT_PHOTOS_PATH}};
    for (size_t i = 0; i < 2; i++) {
        content_db a, b;
        assert_int_equal(content_db_open(c, dbs[i][0], dbs[i][1], &a), CAIRN_OK);
        assert_int_equal(content_db_open_in_store(c, dbs[i][0], dbs[i][1], &b), CAIRN_OK);
        assert_non_null(b.store);
        assert_string_equal(b.path, "");
        assert_same_db(&a, &b);
    }
    content_db b;
    assert_int_equal(content_db_open_in_store(c, CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH, &b),
                     CAIRN_OK);
    /* every pack zeroed in place (an open descriptor reads the zeros too) */
    snprintf(cmd, sizeof cmd,
             "find '%s/packs' -type f -exec sh -c 'head -c $(stat -c%%s \"$1\") /dev/zero "
             "> \"$1\"' _ {} \\;",
             f->store_path);
    assert_int_equal(system(cmd), 0);
    content_messages m;
    const cairn_err rc = content_messages_read(b.db, "sms.db", NULL, NULL, &m);
    assert_int_not_equal(rc, CAIRN_OK);
    assert_int_not_equal(rc, CAIRN_ESOURCE); /* the store's error, not SQLite's */
    assert_non_null(strstr(err_msg(), "sms.db: reading "));
    content_db_close(&b);
    assert_int_equal(content_db_open_in_store(c, CONTENT_SMS_DOMAIN, "Library/SMS/none.db", &b),
                     CAIRN_ENOTFOUND);
    content_close(c);
    snaplist_free(&l);
    store_close(s);
}

static void assert_same_entry(const catalog_entry *a, const catalog_entry *b)
{
    if (!a || !b) {
        assert_ptr_equal(a, b);
        return;
    }
    assert_string_equal(a->domain, b->domain);
    assert_string_equal(a->path, b->path);
    assert_memory_equal(a->file_id, b->file_id, CATALOG_FILE_ID_LEN);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->mode, b->mode);
    assert_int_equal(a->mtime, b->mtime);
    assert_int_equal(a->target != NULL, b->target != NULL);
    if (a->target)
        assert_string_equal(a->target, b->target);
    assert_int_equal(a->has_digest, b->has_digest);
    assert_memory_equal(a->row_digest, b->row_digest, CATALOG_ROW_DIGEST_LEN);
}

/* content_open_only keeps exactly the entries of the files asked for and
 * answers for them as content_open does: the same entries, the same
 * content, the same "not in snapshot" for a missing file, NULL for a
 * folder, and the same error for a snapshot without a catalog. */
static void test_open_only(void **state)
{
    fixture *const f = *state;
    char full_msg[ERR_MSG_MAX];
    snaplist l;
    store *s = NULL;
    content_snap *full = NULL, *only = NULL;
    content_backup(f, &s, &l);
    const content_file files[] = {
        {CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH},
        {CONTENT_PHOTOS_DOMAIN, CONTENT_PHOTOS_PATH},
        {CONTENT_CONTACTS_DOMAIN, CONTENT_CONTACTS_PATH},
        {CONTENT_SMS_DOMAIN, "Library/SMS/none.db"}, /* missing */
        {CONTENT_PHOTOS_DOMAIN, CONTENT_SMS_PATH},   /* the path, another domain */
        {CONTENT_SMS_DOMAIN, "Library/SMS"},         /* a folder */
    };
    const size_t n = sizeof files / sizeof files[0];
    assert_int_equal(content_open(s, &l.items[0], &full), CAIRN_OK);
    assert_int_equal(content_open_only(s, &l.items[0], files, n, &only), CAIRN_OK);
    const catalog *const cf = content_catalog(full), *const co = content_catalog(only);
    size_t asked = 0;
    for (size_t i = 0; i < cf->count; i++)
        for (size_t k = 0; k < n; k++)
            if (strcmp(cf->entries[i].domain, files[k].domain) == 0 &&
                strcmp(cf->entries[i].path, files[k].path) == 0) {
                assert_true(asked < co->count);
                assert_same_entry(&co->entries[asked++], &cf->entries[i]);
            }
    assert_int_equal(co->count, asked);
    assert_int_equal(asked, 4); /* three databases and the folder */
    assert_true(cf->count > 20);
    for (size_t k = 0; k < n; k++)
        assert_same_entry(content_find(only, files[k].domain, files[k].path),
                          content_find(full, files[k].domain, files[k].path));
    assert_non_null(content_find(only, CONTENT_CONTACTS_DOMAIN, CONTENT_CONTACTS_PATH));
    assert_null(content_find(only, CONTENT_SMS_DOMAIN, "Library/SMS"));
    /* what was not asked for is not there */
    const catalog_entry *other = NULL;
    for (size_t i = 0; !other && i < cf->count; i++)
        if (cf->entries[i].flags == CATALOG_FILE &&
            strcmp(cf->entries[i].path, CONTENT_SMS_PATH) != 0 &&
            strcmp(cf->entries[i].path, CONTENT_PHOTOS_PATH) != 0 &&
            strcmp(cf->entries[i].path, CONTENT_CONTACTS_PATH) != 0)
            other = &cf->entries[i];
    assert_non_null(other);
    assert_null(content_find(only, other->domain, other->path));
    int same = 0;
    assert_int_equal(content_same_file(only, full, CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH, &same),
                     CAIRN_OK);
    assert_true(same);
    content_db a, b;
    assert_int_equal(content_db_open_in_store(full, CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH, &a),
                     CAIRN_OK);
    assert_int_equal(content_db_open_in_store(only, CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH, &b),
                     CAIRN_OK);
    assert_same_db(&a, &b);
    /* a missing file: the same error, the same message */
    assert_int_equal(content_db_open(full, CONTENT_SMS_DOMAIN, "Library/SMS/none.db", &a),
                     CAIRN_ENOTFOUND);
    snprintf(full_msg, sizeof full_msg, "%s", err_msg());
    assert_int_equal(content_db_open(only, CONTENT_SMS_DOMAIN, "Library/SMS/none.db", &b),
                     CAIRN_ENOTFOUND);
    assert_string_equal(err_msg(), full_msg);
    assert_non_null(strstr(full_msg, "Library/SMS/none.db: not in snapshot "));
    content_close(only);
    content_close(full);
    /* no catalog: the same refusal */
    snapshot bare = l.items[0];
    bare.ncatalog = 0;
    full = only = NULL;
    assert_int_equal(content_open(s, &bare, &full), CAIRN_EINVAL);
    snprintf(full_msg, sizeof full_msg, "%s", err_msg());
    assert_int_equal(content_open_only(s, &bare, files, n, &only), CAIRN_EINVAL);
    assert_string_equal(err_msg(), full_msg);
    assert_null(full);
    assert_null(only);
    snaplist_free(&l);
    store_close(s);
}

/* The same entries, each with its row digest. */
static void assert_same_catalog(const catalog *a, const catalog *b)
{
    assert_int_equal(a->count, b->count);
    for (size_t i = 0; i < a->count; i++) {
        assert_true(a->entries[i].has_digest);
        assert_same_entry(&a->entries[i], &b->entries[i]);
    }
}

/* The store holding two snapshots, opened with flags; *stored the second's
 * catalog. */
static void open_two(fixture *f, unsigned flags, store **s, store_worker **w, snaplist *l,
                     catalog *stored)
{
    assert_int_equal(store_open(f->store_path, PW, strlen(PW), flags, s), CAIRN_OK);
    assert_int_equal(store_worker_new(*s, w), CAIRN_OK);
    assert_int_equal(snaplist_load(*s, l), CAIRN_OK);
    assert_int_equal(l->count, 2);
    assert_int_equal(catalog_load(*s, *w, (const uint8_t(*)[ID_LEN])l->items[1].catalog,
                                  l->items[1].ncatalog, stored),
                     CAIRN_OK);
}

/* device_read_contents of src into *d (freed by the caller). */
static void read_contents(store *s, const snapshot *parent, const char *src, device_info *d)
{
    memset(d, 0, sizeof *d);
    catalog_init(&d->cat);
    assert_int_equal(device_read_contents(s, parent, src, NULL, d), CAIRN_OK);
}

/* The same read begun before the store was open (as a backup does while
 * the store's key is derived), ended with the parent's rows. */
static void read_contents_early(store *s, const snapshot *parent, const char *src, device_info *d)
{
    device_contents_read *r = NULL;
    memset(d, 0, sizeof *d);
    catalog_init(&d->cat);
    assert_int_equal(device_contents_begin(src, NULL, &r), CAIRN_OK);
    assert_int_equal(device_contents_end(r, s, parent, d), CAIRN_OK);
}

static void test_next_day_catalog(void **state)
{
    fixture *const f = *state;
    char src[128], args[512];
    device_backup_result r1, r2;
    snprintf(src, sizeof src, "%s/days", f->dir);
    snprintf(args, sizeof args, "device '%s' --seed 5 --size-mb 1 --udid %s", src, UDID);
    gen(args);
    assert_int_equal(backup(f, src, &r1), CAIRN_OK);
    snprintf(args, sizeof args, "mutate '%s' --seed 5 --day 1 --pattern everyday", src);
    gen(args);
    assert_int_equal(backup(f, src, &r2), CAIRN_OK);
    assert_true(r2.has_parent);
    assert_false(r2.incomplete);

    store *s = NULL;
    store_worker *w = NULL;
    snaplist l;
    catalog stored, p1;
    open_two(f, STORE_WRITE, &s, &w, &l, &stored);

    /* every row decoded: the catalog the next-day backup stored */
    device_info all, known, v1;
    read_contents(NULL, NULL, src, &all);
    assert_true(all.complete);
    assert_int_equal(all.rows_known, 0);
    assert_same_catalog(&all.cat, &stored);

    /* known from the parent: the rows that did not change, not the others */
    read_contents(s, &l.items[0], src, &known);
    assert_true(known.complete);
    assert_true(known.rows_known > known.cat.count / 2);
    assert_true(known.rows_known < known.cat.count);
    assert_same_catalog(&known.cat, &all.cat);

    /* begun early: rows decoded until the parent's arrive, the same catalog */
    device_info early;
    read_contents_early(s, &l.items[0], src, &early);
    assert_true(early.complete);
    assert_true(early.rows_known <= known.rows_known);
    assert_same_catalog(&early.cat, &all.cat);
    device_info_free(&early);
    read_contents_early(NULL, NULL, src, &early);
    assert_int_equal(early.rows_known, 0);
    assert_same_catalog(&early.cat, &all.cat);
    device_info_free(&early);
    /* cancelled, whether the reader is in its check, its rows or done: all freed */
    for (int i = 0; i < 3; i++) {
        device_contents_read *rd = NULL;
        assert_int_equal(device_contents_begin(src, NULL, &rd), CAIRN_OK);
        if (i == 2)
            usleep(200000);
        else if (i == 1)
            sched_yield();
        device_contents_cancel(rd);
    }
    device_contents_cancel(NULL);

    /* a version-1 parent (its catalog without digests): every row decoded */
    assert_int_equal(
        catalog_load(s, w, (const uint8_t(*)[ID_LEN])l.items[0].catalog, l.items[0].ncatalog, &p1),
        CAIRN_OK);
    for (size_t i = 0; i < p1.count; i++)
        p1.entries[i].has_digest = 0;
    chunker ck;
    const uint8_t secret[32] = {1};
    treestore_stats ts = {0, 0, 0};
    snapshot old = l.items[0];
    cbuf first;
    cbuf_init(&first);
    assert_int_equal(chunker_init(&ck, 1024, 4096, 16384, secret), CAIRN_OK);
    assert_int_equal(catalog_save(s, w, &ck, &p1, &old.catalog, &old.ncatalog, &ts), CAIRN_OK);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(store_get_chunk(s, w, old.catalog[0], &first), CAIRN_OK);
    assert_int_equal(first.data[0], 1);
    read_contents(s, &old, src, &v1);
    assert_int_equal(v1.rows_known, 0);
    assert_same_catalog(&v1.cat, &all.cat);
    /* a parent whose catalog cannot be read: every row decoded, no error */
    uint8_t lost[1][ID_LEN] = {{0x5a, 0xa5}};
    snapshot gone = l.items[0];
    gone.catalog = lost;
    gone.ncatalog = 1;
    device_info_free(&v1);
    read_contents(s, &gone, src, &v1);
    assert_int_equal(v1.rows_known, 0);
    assert_same_catalog(&v1.cat, &all.cat);

    /* an unchanged file's content gone: missing, known row or not */
    size_t at = 0;
    while (known.cat.entries[at].flags != CATALOG_FILE)
        at++;
    char name[44], path[256];
    catalog_content_path(&known.cat.entries[at], name);
    snprintf(path, sizeof path, "%s/%s", src, name);
    assert_int_equal(unlink(path), 0);
    device_info_free(&known);
    device_info_free(&all);
    read_contents(s, &l.items[0], src, &known);
    read_contents(NULL, NULL, src, &all);
    read_contents_early(s, &l.items[0], src, &early);
    assert_true(known.rows_known > 0);
    assert_false(known.complete);
    assert_false(all.complete);
    assert_false(early.complete);
    assert_int_equal(known.missing, 1);
    assert_int_equal(all.missing, 1);
    assert_int_equal(early.missing, 1);
    assert_string_equal(known.problem, all.problem);
    assert_string_equal(early.problem, all.problem);
    assert_non_null(strstr(known.problem, name));
    device_info_free(&early);

    cbuf_free(&first);
    free(old.catalog);
    device_info_free(&v1);
    device_info_free(&known);
    device_info_free(&all);
    catalog_free(&p1);
    catalog_free(&stored);
    snaplist_free(&l);
    store_worker_free(w);
    store_close(s);
}

/* An encrypted backup's next day takes the rows its parent's catalog
 * knows from there too (its decrypted Manifest.db is new every time, so it
 * is never reused whole): the catalog stored is the one decoding every row
 * of the decrypted Manifest.db gives. */
static void test_encrypted_next_day(void **state)
{
    fixture *const f = *state;
    char src[128], args[512];
    device_backup_result r1, r2;
    snprintf(src, sizeof src, "%s/enc", f->dir);
    snprintf(args, sizeof args,
             "device '%s' --seed 6 --size-mb 1 --udid %s --encrypt %s --kdf-iter 10 "
             "--kdf-dpic 100",
             src, UDID, BACKUP_PW);
    gen(args);
    assert_int_equal(backup(f, src, &r1), CAIRN_OK);
    assert_int_equal(r1.rows_known, 0);
    snprintf(args, sizeof args, "mutate '%s' --seed 6 --day 1 --encrypt %s", src, BACKUP_PW);
    gen(args);
    assert_int_equal(backup(f, src, &r2), CAIRN_OK);
    assert_int_equal(f->passwords, 2);
    assert_true(r2.has_parent);
    assert_false(r2.incomplete);
    assert_true(r2.rows_known > 0);

    store *s = NULL;
    store_worker *w = NULL;
    devcrypt *crypt = NULL;
    snaplist l;
    catalog stored;
    device_info all;
    open_two(f, 0, &s, &w, &l, &stored);
    assert_true(r2.rows_known < stored.count); /* the changed rows were decoded */
    assert_int_equal(devcrypt_open(src, BACKUP_PW, strlen(BACKUP_PW), &crypt), CAIRN_OK);
    memset(&all, 0, sizeof all);
    catalog_init(&all.cat);
    assert_int_equal(device_read_contents(NULL, NULL, src, devcrypt_db_path(crypt), &all),
                     CAIRN_OK);
    assert_int_equal(all.rows_known, 0);
    assert_same_catalog(&all.cat, &stored);
    device_info_free(&all);
    devcrypt_close(crypt);
    catalog_free(&stored);
    snaplist_free(&l);
    store_worker_free(w);
    store_close(s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s /path/to/cairn-gen\n", argv[0]);
        return 2;
    }
    gen_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_device_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_ignores_udid_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_in_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_day_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encrypted_next_day, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
