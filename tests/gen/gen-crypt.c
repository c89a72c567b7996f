/* gen-crypt.c - encrypted MobileSync backups for cairn-gen, and the
 * "changepw" and "decrypt" commands.
 *
 * An encrypted backup as iOS writes it (see engine/ios/backup_encryption.h): Manifest.plist
 * has IsEncrypted, BackupKeyBag and ManifestKey; every content file is
 * AES-256-CBC (zero IV, PKCS#7) under its own key, wrapped into the MBFile's
 * EncryptionKey; MBFile Size stays the plaintext size.  Manifest.db is
 * encrypted the same way under the ManifestKey key, with PKCS#7 padding:
 * iphone_backup_decrypt's chunked decryptor, which reads real iOS 13+
 * backups, requires valid padding on it (mvt's iOSbackup ignores padding,
 * which SQLite tolerates), so padding is what real ones carry.
 *
 * Keys come from the generator's PRNG (keybag: the seed; file keys: the seed
 * and the fileID), so equal options still give bit-identical folders; only
 * the layer on top differs from a plain backup: a plain and an encrypted
 * backup made with the same options decrypt to the same files. */
#define _XOPEN_SOURCE 700

#include "gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "engine/ios/backup_encryption.h"

enum { STREAM_KEYBAG = 0xc0ffee, STREAM_FILE_KEY = 0x6b6579 };

struct gen_crypt {
    iosenc_keys *keys;
    uint8_t *keybag;
    size_t keybag_len;
    uint8_t manifest_tagged[IOSENC_TAGGED_LEN];
    uint8_t *manifest_key; /* guarded memory */
};

void gen_crypt_free(gen_crypt *c)
{
    if (!c)
        return;
    iosenc_keys_free(c->keys);
    iosenc_key_free(c->manifest_key);
    free(c->keybag);
    free(c);
}

static void rng_random(void *ctx, void *buf, size_t len)
{
    rng_fill(ctx, buf, len);
}

static int crypt_err(const char *where)
{
    return gen_err(where, "%s", err_msg());
}

static gen_crypt *crypt_alloc(void)
{
    gen_crypt *const c = calloc(1, sizeof *c);
    if (!c) {
        gen_err("keybag", "out of memory");
        return NULL;
    }
    if (!(c->manifest_key = iosenc_key_alloc())) {
        free(c);
        gen_err("keybag", "cannot allocate key memory");
        return NULL;
    }
    return c;
}

int gen_crypt_create(const char *password, uint32_t iter, uint32_t dpic, uint64_t seed,
                     gen_crypt **out)
{
    *out = NULL;
    gen_crypt *const c = crypt_alloc();
    if (!c)
        return -1;
    gen_rng r;
    rng_init(&r, seed, STREAM_KEYBAG);
    const iosenc_params p = {.iter = iter, .dpic = dpic, .random = rng_random, .random_ctx = &r};
    if (iosenc_new_keybag(password, strlen(password), &p, &c->keybag, &c->keybag_len, &c->keys) !=
        CAIRN_OK) {
        crypt_err("keybag");
        goto fail;
    }
    rng_fill(&r, c->manifest_key, IOSENC_KEY_LEN);
    if (iosenc_wrap_file_key(c->keys, IOSENC_MANIFEST_CLASS, c->manifest_key, c->manifest_tagged) !=
        CAIRN_OK) {
        crypt_err("ManifestKey");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    gen_crypt_free(c);
    return -1;
}

/* A data item of a Manifest.plist dict, malloc'd. */
static int plist_bytes(const char *path, plist_t dict, const char *key, uint8_t **out, size_t *len)
{
    plist_t const node = plist_dict_get_item(dict, key);
    if (!node || plist_get_node_type(node) != PLIST_DATA)
        return gen_err(path, "no %s", key);
    char *data = NULL;
    uint64_t n = 0;
    plist_get_data_val(node, &data, &n);
    if (!data)
        return gen_err(path, "cannot read %s", key);
    *out = (uint8_t *)data;
    *len = (size_t)n;
    return 0;
}

static int read_manifest_plist(const char *dir, plist_t *out, int *binary, char **path)
{
    *out = NULL;
    if (!(*path = gen_strf("%s/Manifest.plist", dir)))
        return -1;
    if (gen_read_plist(*path, out, binary))
        return -1;
    if (plist_get_node_type(*out) != PLIST_DICT)
        return gen_err(*path, "root is not a dictionary");
    return 0;
}

int gen_backup_encrypted(const char *dir, int *yes)
{
    plist_t p = NULL;
    char *path = NULL;
    int rc = read_manifest_plist(dir, &p, NULL, &path);
    if (rc == 0) {
        plist_t const enc = plist_dict_get_item(p, "IsEncrypted");
        uint8_t v = 0;
        if (enc && plist_get_node_type(enc) == PLIST_BOOLEAN)
            plist_get_bool_val(enc, &v);
        *yes = v != 0;
    }
    plist_free(p);
    free(path);
    return rc;
}

int gen_crypt_open(const char *dir, const char *password, gen_crypt **out)
{
    *out = NULL;
    plist_t p = NULL;
    char *path = NULL;
    uint8_t *mk = NULL;
    size_t mk_len = 0;
    gen_crypt *c = NULL;
    int rc = -1;
    if (read_manifest_plist(dir, &p, NULL, &path) || !(c = crypt_alloc()) ||
        plist_bytes(path, p, "BackupKeyBag", &c->keybag, &c->keybag_len) ||
        plist_bytes(path, p, "ManifestKey", &mk, &mk_len))
        goto fail;
    if (iosenc_unlock(c->keybag, c->keybag_len, password, strlen(password), &c->keys) != CAIRN_OK ||
        iosenc_unwrap_manifest_key(c->keys, mk, mk_len, c->manifest_key) != CAIRN_OK) {
        crypt_err(path);
        goto fail;
    }
    memcpy(c->manifest_tagged, mk, IOSENC_TAGGED_LEN);
    *out = c;
    c = NULL;
    rc = 0;
fail:
    gen_crypt_free(c);
    free(mk);
    plist_free(p);
    free(path);
    return rc;
}

void gen_crypt_manifest_items(const gen_crypt *c, plist_t manifest)
{
    plist_dict_set_item(manifest, "IsEncrypted", plist_new_bool(1));
    plist_dict_set_item(manifest, "BackupKeyBag",
                        plist_new_data((const char *)c->keybag, c->keybag_len));
    plist_dict_set_item(manifest, "ManifestKey",
                        plist_new_data((const char *)c->manifest_tagged, IOSENC_TAGGED_LEN));
}

/* Spread over three classes, so that readers must take the class from each
 * EncryptionKey rather than assume one. */
unsigned gen_crypt_class(const char *file_id)
{
    static const unsigned classes[] = {1, 3, 3, 4};
    return classes[gen_hash_str(file_id) % 4];
}

/* ---- contents ---- */

/* Encrypts or decrypts the whole file src into dst (which may be src). */
static int transform(const char *src, const char *dst, const uint8_t *key, int encrypt,
                     uint64_t *plain_size)
{
    char *in = NULL;
    size_t len = 0;
    if (gen_read_file(src, &in, &len))
        return -1;
    uint8_t *const out = malloc(len + IOSENC_BLOCK);
    int rc = -1;
    size_t n = 0;
    int padded = 0;
    if (!out) {
        gen_err(src, "cannot allocate %zu bytes", len + IOSENC_BLOCK);
        goto fail;
    }
    const cairn_err e = encrypt ? iosenc_encrypt(key, (const uint8_t *)in, len, 1, out, &n)
                                : iosenc_decrypt(key, (const uint8_t *)in, len, out, &n, &padded);
    if (e != CAIRN_OK) {
        crypt_err(src);
        goto fail;
    }
    if (!encrypt && !padded)
        fprintf(stderr, "cairn-gen: %s: no valid padding, kept all %zu bytes\n", src, n);
    if (plain_size)
        *plain_size = encrypt ? len : n;
    rc = gen_write_file(dst, out, n);
fail:
    free(out);
    free(in);
    return rc;
}

static int with_file_key(gen_crypt *c, const char *path, const uint8_t ek[IOSENC_TAGGED_LEN],
                         const char *src, const char *dst, int encrypt, uint64_t *size)
{
    uint8_t *const key = iosenc_key_alloc();
    if (!key)
        return gen_err(path, "cannot allocate key memory");
    int rc = -1;
    if (iosenc_unwrap_file_key(c->keys, ek, IOSENC_TAGGED_LEN, key) != CAIRN_OK)
        crypt_err(path);
    else
        rc = transform(src, dst, key, encrypt, size);
    iosenc_key_free(key);
    return rc;
}

int gen_crypt_seal_new(gen_crypt *c, const char *path, const char *file_id, uint64_t seed,
                       unsigned cls, uint8_t ek[IOSENC_TAGGED_LEN])
{
    uint8_t *const key = iosenc_key_alloc();
    if (!key)
        return gen_err(path, "cannot allocate key memory");
    gen_rng r;
    rng_init_str(&r, seed ^ STREAM_FILE_KEY, file_id);
    rng_fill(&r, key, IOSENC_KEY_LEN);
    int rc = -1;
    if (iosenc_wrap_file_key(c->keys, cls, key, ek) != CAIRN_OK)
        crypt_err(path);
    else
        rc = transform(path, path, key, 1, NULL);
    iosenc_key_free(key);
    sodium_memzero(&r, sizeof r); /* the state would give the key back */
    return rc;
}

int gen_crypt_seal(gen_crypt *c, const char *plain, const char *path,
                   const uint8_t ek[IOSENC_TAGGED_LEN])
{
    return with_file_key(c, path, ek, plain, path, 1, NULL);
}

int gen_crypt_unseal(gen_crypt *c, const char *path, const char *plain,
                     const uint8_t ek[IOSENC_TAGGED_LEN], uint64_t *size)
{
    return with_file_key(c, path, ek, path, plain, 0, size);
}

int gen_crypt_is_sqlite(gen_crypt *c, const char *path, const uint8_t ek[IOSENC_TAGGED_LEN])
{
    static const char magic[16] = "SQLite format 3";
    uint8_t head[IOSENC_BLOCK], plain[IOSENC_BLOCK];
    FILE *const f = fopen(path, "rb");
    if (!f)
        return gen_errno(path, "cannot open");
    const size_t n = fread(head, 1, sizeof head, f);
    const int err = ferror(f);
    if (fclose(f) != 0 || err)
        return gen_errno(path, "read failed");
    if (n < sizeof head)
        return 0;
    uint8_t *const key = iosenc_key_alloc();
    if (!key)
        return gen_err(path, "cannot allocate key memory");
    int rc = -1;
    size_t got = 0;
    int padded = 0;
    /* CBC with a zero IV: the first block decrypts on its own */
    if (iosenc_unwrap_file_key(c->keys, ek, IOSENC_TAGGED_LEN, key) != CAIRN_OK ||
        iosenc_decrypt(key, head, sizeof head, plain, &got, &padded) != CAIRN_OK)
        crypt_err(path);
    else
        rc = got == sizeof plain && memcmp(plain, magic, sizeof magic) == 0;
    iosenc_key_free(key);
    return rc;
}

int gen_crypt_seal_manifest(gen_crypt *c, const char *plain, const char *path)
{
    return transform(plain, path, c->manifest_key, 1, NULL);
}

int gen_crypt_unseal_manifest(gen_crypt *c, const char *path, const char *plain)
{
    return transform(path, plain, c->manifest_key, 0, NULL);
}

/* ---- "changepw" ---- */

int gen_changepw(const char *dir, const gen_opts *o)
{
    if (!o->old_pw || !o->new_pw)
        return gen_err(dir, "changepw needs --old and --new");
    plist_t p = NULL;
    char *path = NULL;
    gen_crypt *c = NULL;
    uint8_t *kb = NULL;
    size_t kb_len = 0;
    int binary = 1;
    int rc = -1;
    struct stat st;
    if (read_manifest_plist(dir, &p, &binary, &path))
        goto fail;
    if (stat(path, &st) != 0) {
        gen_errno(path, "cannot stat");
        goto fail;
    }
    if (gen_crypt_open(dir, o->old_pw, &c))
        goto fail;
    /* The keybag keeps its UUID and class keys, so the files and ManifestKey
     * of the folder stay valid; only the password layer changes. */
    gen_rng r;
    rng_init_str(&r, o->seed ^ STREAM_KEYBAG, o->new_pw);
    const iosenc_params q = {.iter = (uint32_t)o->kdf_iter,
                             .dpic = (uint32_t)o->kdf_dpic,
                             .random = rng_random,
                             .random_ctx = &r};
    if (iosenc_rewrap_keybag(c->keybag, c->keybag_len, c->keys, o->new_pw, strlen(o->new_pw), &q,
                             &kb, &kb_len) != CAIRN_OK) {
        crypt_err(path);
        goto fail;
    }
    plist_dict_set_item(p, "BackupKeyBag", plist_new_data((const char *)kb, kb_len));
    if (gen_write_plist(path, p, binary) || gen_set_meta(path, 0644, st.st_mtime))
        goto fail;
    printf("%s: backup password changed (keybag UUID and class keys kept)\n", dir);
    rc = 0;
fail:
    free(kb);
    gen_crypt_free(c);
    plist_free(p);
    free(path);
    return rc;
}

/* ---- "decrypt" ---- */

/* domain/relativePath must stay inside the output folder. */
static int safe_rel(const char *s, int allow_empty)
{
    if (!*s)
        return allow_empty;
    if (*s == '/')
        return 0;
    for (const char *p = s; *p;) {
        const char *const end = strchr(p, '/');
        const size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n + (end != NULL);
        if (end && !*p)
            return 0;
    }
    return 1;
}

typedef struct dtally {
    size_t files, dirs, links;
} dtally;

static int parent_dirs(const char *path)
{
    char *const parent = gen_strdup(path);
    if (!parent)
        return -1;
    char *const slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    const int rc = slash ? gen_mkdir_p(parent, 0755) : 0;
    free(parent);
    return rc;
}

static int copy_file(const char *src, const char *dst)
{
    char *data = NULL;
    size_t len = 0;
    if (gen_read_file(src, &data, &len))
        return -1;
    const int rc = gen_write_file(dst, data, len);
    free(data);
    return rc;
}

static int decrypt_row(const char *dir, const char *to, gen_crypt *c, sqlite3_stmt *st, dtally *t)
{
    const char *const id = (const char *)sqlite3_column_text(st, 0);
    const char *const domain = (const char *)sqlite3_column_text(st, 1);
    const char *const rel = (const char *)sqlite3_column_text(st, 2);
    const int flags = sqlite3_column_int(st, 3);
    const void *const blob = sqlite3_column_blob(st, 4);
    const size_t blob_len = (size_t)sqlite3_column_bytes(st, 4);
    if (!id || !domain || !rel || strlen(id) != 40 || !safe_rel(domain, 0) || strchr(domain, '/') ||
        !safe_rel(rel, 1))
        return gen_err("Manifest.db", "unsafe or malformed row %s", id ? id : "(null)");
    gen_mbfile_info info;
    if (gen_mbfile_read(blob, blob_len, &info))
        return -1;
    char *const out = gen_strf("%s/%s%s%s", to, domain, *rel ? "/" : "", rel);
    char *const src = gen_content_path(dir, id);
    int rc = -1;
    struct stat st_src;
    if (!out || !src || parent_dirs(out))
        goto fail;
    if (flags == MB_DIR) {
        rc = gen_mkdir_p(out, 0755);
        t->dirs++;
    } else if (flags == MB_LINK) {
        if (!info.target) {
            gen_err(src, "symlink row without Target");
            goto fail;
        }
        rc = symlink(info.target, out) == 0 ? 0 : gen_errno(out, "cannot create symlink");
        t->links++;
    } else if (flags == MB_FILE) {
        uint64_t size = 0;
        if (stat(src, &st_src) != 0) {
            gen_errno(src, "cannot stat");
            goto fail;
        }
        if (c && !info.has_key) {
            gen_err(src, "no EncryptionKey in an encrypted backup");
            goto fail;
        }
        rc = c ? gen_crypt_unseal(c, src, out, info.key, &size) : copy_file(src, out);
        if (rc == 0 && c && size != info.size)
            fprintf(stderr, "cairn-gen: %s/%s: %llu bytes, MBFile Size says %llu\n", domain, rel,
                    (unsigned long long)size, (unsigned long long)info.size);
        if (rc == 0)
            rc = gen_set_meta(out, 0644, st_src.st_mtime);
        t->files++;
    } else {
        gen_err(src, "unknown flags %d", flags);
    }
fail:
    gen_mbfile_info_clear(&info);
    free(out);
    free(src);
    return rc;
}

int gen_decrypt(const char *dir, const gen_opts *o)
{
    if (!o->to)
        return gen_err(dir, "decrypt needs --to DIR");
    int encrypted = 0;
    gen_crypt *c = NULL;
    char *db_path = NULL;
    char *tmp = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    dtally t = {0};
    int rc = -1;
    if (gen_backup_encrypted(dir, &encrypted) || gen_make_fresh_dir(o->to))
        goto fail;
    if (!(db_path = gen_strf("%s/Manifest.db", dir)))
        goto fail;
    if (encrypted) {
        if (!o->password) {
            gen_err(dir, "backup is encrypted: give --password");
            goto fail;
        }
        /* SQLite needs a file: the plaintext copy lives in the output
         * folder only while it is read */
        if (!(tmp = gen_strf("%s/.cairn-gen-Manifest.db", o->to)) ||
            gen_crypt_open(dir, o->password, &c) || gen_crypt_unseal_manifest(c, db_path, tmp))
            goto fail;
    }
    const char *const open_path = tmp ? tmp : db_path;
    if (sqlite3_open_v2(open_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT fileID, domain, relativePath, flags, file FROM Files "
                           "ORDER BY domain, relativePath",
                           -1, &st, NULL) != SQLITE_OK) {
        gen_err(open_path, "cannot read: %s", db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (decrypt_row(dir, o->to, c, st, &t))
            goto fail;
    }
    if (step != SQLITE_DONE) {
        gen_err(open_path, "cannot read Files: %s", sqlite3_errmsg(db));
        goto fail;
    }
    printf("%s: %zu files, %zu directories, %zu symlinks\n", o->to, t.files, t.dirs, t.links);
    rc = 0;
fail:
    sqlite3_finalize(st);
    if (db)
        sqlite3_close(db);
    if (tmp && unlink(tmp) != 0 && errno != ENOENT && rc == 0)
        rc = gen_errno(tmp, "cannot remove");
    free(tmp);
    free(db_path);
    gen_crypt_free(c);
    return rc;
}
