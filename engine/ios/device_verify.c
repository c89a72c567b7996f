/* device_verify.c - a restore drill without a device (device_verify.h). */
#include "engine/ios/device_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/grow.h"
#include "engine/core/extract.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree_store.h"
#include "engine/ios/device_steps.h"
#include "engine/ios/encrypted_folder.h"

/* The main databases a restored phone needs whole (Manifest.db sits at
 * the top of the backup folder, the others are catalog entries). */
static const struct {
    const char *domain, *path, *name;
} main_dbs[] = {
    {"HomeDomain", "Library/SMS/sms.db", "sms.db"},
    {"CameraRollDomain", "Media/PhotoData/Photos.sqlite", "Photos.sqlite"},
    {"HomeDomain", "Library/AddressBook/AddressBook.sqlitedb", "AddressBook.sqlitedb"},
    {"HomeDomain", "Library/CallHistoryDB/CallHistory.storedata", "CallHistory.storedata"},
};

/* A file of the snapshot as the data walk saw it. */
typedef struct vfile {
    char *path; /* relative to the backup folder: "ab/<40 hex>", "Manifest.db" */
    uint64_t size;
    int sound;
    uint8_t cipher;
    uint8_t cipher_key[TREE_CIPHER_KEY_LEN];
} vfile;

typedef struct verify_ctx {
    store *s;
    const snapshot *sn;
    const device_verify_opts *o;
    device_verify_result *r;
    char name[9];
    vfile *files;
    size_t nfiles, cap;
    char tmp[PATH_MAX]; /* the private folder of materialised files, "" until made */
    devcrypt *dc;       /* stored as ciphertext, with the password: its keys */
} verify_ctx;

/* The private folder (made once): files are copied there for SQLite. */
static cairn_err private_dir(verify_ctx *v)
{
    if (v->tmp[0])
        return CAIRN_OK;
    const char *const t = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (snprintf(v->tmp, sizeof v->tmp, "%s/cairn-verify.XXXXXX", t) >= (int)sizeof v->tmp ||
        !mkdtemp(v->tmp)) {
        v->tmp[0] = '\0';
        return err_errno(errno, t);
    }
    return CAIRN_OK;
}

const char *verify_verdict_name(verify_verdict v)
{
    return v == VERIFY_OK ? "ok" : v == VERIFY_SKIPPED ? "skipped" : "failed";
}

static void item(verify_ctx *v, const char *name, verify_verdict verdict, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void item(verify_ctx *v, const char *name, verify_verdict verdict, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    v->r->items++;
    v->r->failed += verdict == VERIFY_FAILED;
    v->r->skipped += verdict == VERIFY_SKIPPED;
    if (v->o->item)
        v->o->item(v->o->item_ctx, name, verdict, detail);
}

static void problem(verify_ctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(verify_ctx *v, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (v->o->report)
        v->o->report(v->o->report_ctx, line);
}

static cairn_err on_file(void *ctx, const char *path, const tree_node *node, int sound)
{
    verify_ctx *const v = ctx;
    if (node->type != NODE_FILE)
        return CAIRN_OK;
    cairn_err rc = util_grow(&v->files, &v->cap, v->nfiles + 1, sizeof *v->files);
    if (rc)
        return rc;
    vfile *const f = &v->files[v->nfiles];
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(*path == '/' ? path + 1 : path)))
        return err_set(CAIRN_ENOMEM, "out of memory");
    f->size = node->size;
    f->sound = sound;
    f->cipher = node->cipher;
    memcpy(f->cipher_key, node->cipher_key, sizeof f->cipher_key);
    v->nfiles++;
    return CAIRN_OK;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const vfile *)a)->path, ((const vfile *)b)->path);
}

static const vfile *find_file(const verify_ctx *v, const char *path)
{
    const vfile key = {.path = (char *)path};
    return bsearch(&key, v->files, v->nfiles, sizeof *v->files, by_path);
}

static cairn_err verify_data(verify_ctx *v)
{
    const check_opts co = {.read_data = 1,
                           .report = v->o->report,
                           .report_ctx = v->o->report_ctx,
                           .hooks = v->o->hooks};
    const cairn_err rc = check_snapshot_data(v->s, v->sn, &co, on_file, v, &v->r->data);
    if (rc && rc != CAIRN_ECORRUPT)
        return rc;
    if (v->nfiles > 1)
        qsort(v->files, v->nfiles, sizeof *v->files, by_path);
    char size[32];
    snprintf(size, sizeof size, "%llu bytes", (unsigned long long)v->r->data.bytes_read);
    if (rc)
        item(v, "data", VERIFY_FAILED, "%llu damaged chunk(s), %llu file(s) affected",
             (unsigned long long)v->r->data.chunks_damaged,
             (unsigned long long)v->r->data.files_damaged);
    else
        item(v, "data", VERIFY_OK, "%llu chunks read and authenticated (%s)",
             (unsigned long long)v->r->data.chunks_read, size);
    return CAIRN_OK;
}

static void verify_complete(verify_ctx *v)
{
    const snapshot *const sn = v->sn;
    if (sn->flags & SNAP_INCOMPLETE)
        item(v, "complete", VERIFY_FAILED, "the device had not finished this backup");
    else if (sn->flags & SNAP_PARTIAL)
        item(v, "complete", VERIFY_FAILED,
             "%llu source item(s) could not be read when it was stored",
             (unsigned long long)sn->errors);
    else if (sn->flags & SNAP_REPAIRED)
        item(v, "complete", VERIFY_FAILED, "repair rewrote it without data that was lost");
    else if (snapshot_is_device(sn) && !snapshot_device_finished(sn))
        item(v, "complete", VERIFY_FAILED, "Status.plist does not say the backup finished");
    else
        item(v, "complete", VERIFY_OK, "the source was whole when it was stored");
}

static cairn_err verify_catalog(verify_ctx *v, catalog *cat, int *have)
{
    *have = 0;
    if (v->sn->ncatalog == 0) {
        item(v, "catalog", VERIFY_SKIPPED,
             "stored as the device's ciphertext: the file table cannot be read");
        return CAIRN_OK;
    }
    cairn_err rc = extract_catalog(v->s, v->sn, cat);
    if (rc == CAIRN_ENOMEM)
        return rc;
    if (rc) {
        item(v, "catalog", VERIFY_FAILED, "does not load: %s", err_msg());
        return CAIRN_OK;
    }
    *have = 1;
    for (size_t i = 0; i < cat->count; i++) {
        const catalog_entry *const e = &cat->entries[i];
        char content[44];
        if (e->flags != CATALOG_FILE)
            continue;
        v->r->catalog_files++;
        catalog_content_path(e, content);
        const vfile *const f = find_file(v, content);
        if (!f) {
            v->r->catalog_problems++;
            problem(v, "snapshot %s: %s/%s: content file %s is missing", v->name, e->domain,
                    e->path, content);
        } else if (f->size != e->size) {
            v->r->catalog_problems++;
            problem(v, "snapshot %s: %s/%s: content file %s has %llu bytes, the catalog says %llu",
                    v->name, e->domain, e->path, content, (unsigned long long)f->size,
                    (unsigned long long)e->size);
        }
    }
    if (v->r->catalog_problems)
        item(v, "catalog", VERIFY_FAILED, "%llu of %llu file(s) missing or of another size",
             (unsigned long long)v->r->catalog_problems, (unsigned long long)v->r->catalog_files);
    else
        item(v, "catalog", VERIFY_OK, "%llu file(s) present with their sizes",
             (unsigned long long)v->r->catalog_files);
    return CAIRN_OK;
}

/* The file rel of the snapshot, chunk by chunk (each authenticated),
 * decrypted through dec when the device stored it encrypted (dec given),
 * written to path (NULL: read only).  *padded (may be NULL): 1 when it
 * was not decrypted, else whether its padding was valid. */
static cairn_err materialise(verify_ctx *v, store_worker *w, const char *rel,
                             const file_decoder *dec, const char *path, int *padded)
{
    tree_node n;
    cbuf buf;
    const uint8_t *wrapped = NULL;
    void *d = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0;
    int fd = -1, pad = 1;
    memset(&n, 0, sizeof n);
    cbuf_init(&buf);
    cairn_err rc =
        treestore_lookup(v->s, w, (const uint8_t(*)[ID_LEN])v->sn->tree, v->sn->ntree, rel, &n);
    if (rc)
        return rc;
    if (dec && dec->lookup(dec->ctx, rel, &wrapped))
        rc = dec->open(dec->ctx, wrapped, &d);
    if (!rc && path && (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        rc = err_errno(errno, path);
    for (uint32_t i = 0; !rc && i < n.nchunks; i++) {
        rc = store_get_chunk(v->s, w, n.chunks[i], &buf);
        const uint8_t *data = buf.data;
        size_t len = buf.len;
        if (!rc && d) {
            uint8_t *const grown = realloc(out, buf.len + 2 * FILE_CIPHER_BLOCK_MAX);
            if (!grown) {
                rc = err_set(CAIRN_ENOMEM, "out of memory");
                break;
            }
            out = grown;
            rc = dec->update(d, buf.data, buf.len, out, &out_len);
            data = out;
            len = out_len;
        }
        if (!rc && fd >= 0)
            rc = fs_write_all(fd, data, len, path);
    }
    if (!rc && d) {
        uint8_t end[FILE_CIPHER_BLOCK_MAX];
        rc = dec->final(d, end, &out_len, &pad);
        if (!rc && fd >= 0)
            rc = fs_write_all(fd, end, out_len, path);
    }
    if (d)
        dec->close(d);
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = err_errno(errno, path);
    if (padded)
        *padded = pad;
    free(out);
    tree_node_free(&n);
    cbuf_free(&buf);
    return rc;
}

/* Stored as the device's ciphertext: Manifest.db is decrypted with the
 * stored keybag (which checks the password), then every encrypted file
 * is decrypted and must end in valid PKCS#7 padding, as Apple writes it. */
static cairn_err password_ciphertext(verify_ctx *v, const device_secret *pw, int *wrong)
{
    store_worker *w = NULL;
    tree_node n;
    cbuf plist;
    char enc[PATH_MAX];
    uint64_t bad = 0, good = 0;
    memset(&n, 0, sizeof n);
    cbuf_init(&plist);
    cairn_err rc = private_dir(v);
    if (!rc)
        rc = store_worker_new(v->s, &w);
    if (!rc)
        rc = treestore_lookup(v->s, w, (const uint8_t(*)[ID_LEN])v->sn->tree, v->sn->ntree,
                              "Manifest.plist", &n);
    if (!rc)
        rc = treestore_load_bytes(v->s, w, (const uint8_t(*)[ID_LEN])n.chunks, n.nchunks, &plist);
    snprintf(enc, sizeof enc, "%s/Manifest.db.encrypted", v->tmp);
    if (!rc)
        rc = materialise(v, w, "Manifest.db", NULL, enc, NULL);
    if (!rc)
        rc = devcrypt_open_parts(plist.data, plist.len, enc, pw->text, pw->len, &v->dc);
    unlink(enc);
    if (rc == CAIRN_EPASSWORD)
        *wrong = 1;
    if (rc && rc != CAIRN_ENOMEM) {
        item(v, "password", VERIFY_FAILED, "%s", err_msg());
        rc = CAIRN_OK;
    }
    const file_decoder fd = v->dc ? devcrypt_file_decoder(v->dc) : (file_decoder){0};
    for (size_t i = 0; !rc && v->dc && i < v->nfiles; i++) {
        const uint8_t *wrapped;
        int padded = 0;
        if (strcmp(v->files[i].path, "Manifest.db") == 0 ||
            !fd.lookup(fd.ctx, v->files[i].path, &wrapped))
            continue;
        const cairn_err frc = materialise(v, w, v->files[i].path, &fd, NULL, &padded);
        if (frc == CAIRN_ENOMEM) {
            rc = frc;
        } else if (frc || !padded) {
            bad++;
            problem(v, "snapshot %s: %s: %s", v->name, v->files[i].path,
                    frc ? err_msg() : "does not decrypt to valid padding");
        } else {
            good++;
        }
    }
    v->r->keys_checked = good;
    if (!rc && v->dc && bad)
        item(v, "password", VERIFY_FAILED,
             "the keybag unlocks; %llu of %llu encrypted file(s) do not decrypt to valid padding",
             (unsigned long long)bad, (unsigned long long)(bad + good));
    else if (!rc && v->dc)
        item(v, "password", VERIFY_OK,
             "the keybag unlocks and all %llu encrypted file(s) decrypt with valid padding",
             (unsigned long long)good);
    tree_node_free(&n);
    cbuf_free(&plist);
    store_worker_free(w);
    return rc;
}

static cairn_err verify_password(verify_ctx *v, const device_callbacks *cb, int *wrong)
{
    device_secret pw = {NULL, 0};
    iosenc_keys *keys = NULL;
    *wrong = 0;
    if (!snapshot_is_encrypted_backup(v->sn))
        return CAIRN_OK;
    cairn_err rc =
        device_ask(cb, DEVICE_PASSWORD_BACKUP, "Backup password of the snapshot: ", 1, &pw);
    if (rc)
        return rc;
    if (!pw.text) {
        item(v, "password", VERIFY_SKIPPED,
             snapshot_is_decrypted(v->sn)
                 ? "no backup password given: a restore needs it to re-encrypt the files"
                 : "no backup password given");
        return CAIRN_OK;
    }
    if (!snapshot_is_decrypted(v->sn)) {
        rc = password_ciphertext(v, &pw, wrong);
        device_secret_wipe(&pw);
        return rc;
    }
    rc = device_snapshot_keys(v->s, v->sn, &pw, &keys);
    device_secret_wipe(&pw);
    if (rc == CAIRN_EPASSWORD) {
        *wrong = 1;
        item(v, "password", VERIFY_FAILED, "%s", err_msg());
        return CAIRN_OK;
    }
    if (rc == CAIRN_ENOMEM)
        return rc;
    if (rc) {
        item(v, "password", VERIFY_FAILED, "the keybag does not unlock: %s", err_msg());
        return CAIRN_OK;
    }
    /* a file stored decrypted is given back as the device's ciphertext
     * under its own key, which the class keys must unwrap */
    const file_encrypter enc = iosenc_file_encrypter(keys);
    uint64_t bad = 0;
    for (size_t i = 0; i < v->nfiles; i++) {
        const vfile *const f = &v->files[i];
        if (!(f->cipher & TREE_CIPHER_CBC))
            continue;
        tree_node n;
        void *e = NULL;
        memset(&n, 0, sizeof n);
        n.type = NODE_FILE;
        n.size = f->size;
        n.cipher = f->cipher;
        memcpy(n.cipher_key, f->cipher_key, sizeof n.cipher_key);
        rc = enc.open(enc.ctx, &n, &e);
        if (rc == CAIRN_ENOMEM)
            break;
        if (rc) {
            bad++;
            problem(v, "snapshot %s: %s: its key does not unwrap: %s", v->name, f->path, err_msg());
            rc = CAIRN_OK;
            continue;
        }
        enc.close(e);
        v->r->keys_checked++;
    }
    iosenc_keys_free(keys);
    if (rc)
        return rc;
    if (bad)
        item(v, "password", VERIFY_FAILED, "the keybag unlocks; %llu file key(s) do not unwrap",
             (unsigned long long)bad);
    else
        item(v, "password", VERIFY_OK, "the keybag unlocks and all %llu file key(s) unwrap",
             (unsigned long long)v->r->keys_checked);
    return CAIRN_OK;
}

/* 1 when PRAGMA integrity_check says ok, else 0 and its findings in why. */
static int integrity(const char *path, char *why, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = 0;
    int r = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_prepare_v2(db, "PRAGMA integrity_check(3)", -1, &st, NULL);
    if (r == SQLITE_OK) {
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            const char *const t = (const char *)sqlite3_column_text(st, 0);
            ok = t && strcmp(t, "ok") == 0;
            if (!ok) {
                snprintf(why, cap, "integrity check: %s", t ? t : "(no answer)");
                /* SQLite's findings come as lines: one line for the report */
                for (char *p = why; (p = strchr(p, '\n'));)
                    *p = ' ';
            }
        }
    }
    if (!ok && r != SQLITE_ROW)
        snprintf(why, cap, "%s", db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

static cairn_err verify_db(verify_ctx *v, store_worker *w, const char *dir, const char *name,
                           const char *rel)
{
    char path[PATH_MAX], label[64], why[512];
    const file_decoder fd = v->dc ? devcrypt_file_decoder(v->dc) : (file_decoder){0};
    snprintf(label, sizeof label, "sqlite %s", name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cairn_err rc = materialise(v, w, rel, v->dc ? &fd : NULL, path, NULL);
    if (rc == CAIRN_ENOMEM || rc == CAIRN_ENOSPC) {
        unlink(path);
        return rc;
    }
    if (rc) {
        unlink(path);
        item(v, label, VERIFY_FAILED, "cannot be read: %s", err_msg());
        return CAIRN_OK;
    }
    const int ok = integrity(path, why, sizeof why);
    unlink(path);
    if (ok) {
        item(v, label, VERIFY_OK, "PRAGMA integrity_check: ok");
    } else {
        problem(v, "snapshot %s: %s: %s", v->name, name, why);
        item(v, label, VERIFY_FAILED, "%s", why);
    }
    return CAIRN_OK;
}

static cairn_err verify_dbs(verify_ctx *v)
{
    char why[512];
    store_worker *w = NULL;
    if (snapshot_is_encrypted_backup(v->sn) && !snapshot_is_decrypted(v->sn) && !v->dc) {
        item(v, "sqlite", VERIFY_SKIPPED,
             "stored as the device's ciphertext: the databases need the backup password");
        return CAIRN_OK;
    }
    cairn_err rc = private_dir(v);
    if (!rc)
        rc = store_worker_new(v->s, &w);
    if (!rc && v->dc) {
        /* decrypted already, to read the file keys */
        if (integrity(devcrypt_db_path(v->dc), why, sizeof why)) {
            item(v, "sqlite Manifest.db", VERIFY_OK, "PRAGMA integrity_check: ok");
        } else {
            problem(v, "snapshot %s: Manifest.db: %s", v->name, why);
            item(v, "sqlite Manifest.db", VERIFY_FAILED, "%s", why);
        }
    } else if (!rc) {
        rc = verify_db(v, w, v->tmp, "Manifest.db", "Manifest.db");
    }
    /* found by their content file's name, SHA-1 of "domain-path": the
     * catalog is not needed (a backup stored as ciphertext has none) */
    for (size_t i = 0; !rc && i < sizeof main_dbs / sizeof *main_dbs; i++) {
        char full[128], rel[44], hex[41];
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        const int n = snprintf(full, sizeof full, "%s-%s", main_dbs[i].domain, main_dbs[i].path);
        if (!EVP_Digest(full, (size_t)n, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20) {
            rc = err_set(CAIRN_EIO, "SHA-1 is not available");
            break;
        }
        fs_hex(md, 20, hex);
        snprintf(rel, sizeof rel, "%.2s/%s", hex, hex);
        if (find_file(v, rel))
            rc = verify_db(v, w, v->tmp, main_dbs[i].name, rel);
    }
    store_worker_free(w);
    return rc;
}

cairn_err device_verify(store *s, const snapshot *sn, const device_verify_opts *o,
                        const device_callbacks *cb, device_verify_result *r)
{
    verify_ctx v;
    catalog cat;
    int have_cat = 0, wrong = 0;
    memset(&v, 0, sizeof v);
    memset(r, 0, sizeof *r);
    catalog_init(&cat);
    v.s = s;
    v.sn = sn;
    v.o = o;
    v.r = r;
    snaplist_short_id(sn->id, v.name);
    cairn_err rc = verify_data(&v);
    if (!rc)
        verify_complete(&v);
    if (!rc && snapshot_is_device(sn)) {
        rc = verify_catalog(&v, &cat, &have_cat);
        if (!rc)
            rc = verify_password(&v, cb, &wrong);
        if (!rc)
            rc = verify_dbs(&v);
        const char *const version = snapshot_get_meta(sn, SNAP_META_PRODUCT_VERSION);
        if (!rc && version) {
            snprintf(r->ios_version, sizeof r->ios_version, "%s", version);
            item(&v, "ios", VERIFY_OK, "restores to a device with iOS %s or later", version);
        } else if (!rc) {
            item(&v, "ios", VERIFY_SKIPPED, "the snapshot does not name its iOS version");
        }
    }
    if (!rc && r->failed)
        rc = err_set(wrong && r->failed == 1 ? CAIRN_EPASSWORD : CAIRN_ECORRUPT,
                     "snapshot %s would not restore: %u of %u item(s) failed", v.name, r->failed,
                     r->items);
    catalog_free(&cat);
    devcrypt_close(v.dc);
    if (v.tmp[0])
        rmdir(v.tmp);
    for (size_t i = 0; i < v.nfiles; i++)
        free(v.files[i].path);
    free(v.files);
    return rc;
}
