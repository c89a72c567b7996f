#include "engine/ios/encrypted_folder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plist/plist.h>
#include <sodium.h>

#include "util/fsutil.h"
#include "util/grow.h"
#include "engine/ios/mobilesync.h"

/* Manifest.db of a large phone is tens of MB; the cap only stops absurd input. */
enum { DB_MAX = 1u << 30, PLIST_MAX = 16u << 20, FILE_ID_BYTES = 20 };

typedef struct file_key {
    uint8_t id[FILE_ID_BYTES];
    uint8_t tagged[IOSENC_TAGGED_LEN];
} file_key;

struct devcrypt {
    iosenc_keys *keys;
    uint8_t manifest_tagged[IOSENC_TAGGED_LEN];
    char tmp_dir[PATH_MAX]; /* private (0700) folder of the decrypted Manifest.db */
    char db_path[PATH_MAX + 16];
    file_key *files; /* sorted by id */
    size_t nfiles;
    uint8_t *file_key; /* the decoder's one key at a time (locked memory) */
};

static int by_id(const void *a, const void *b)
{
    return memcmp(((const file_key *)a)->id, ((const file_key *)b)->id, FILE_ID_BYTES);
}

/* Decrypts Manifest.db into an anonymous in-memory file. */
static cairn_err decrypt_db(devcrypt *d, const char *path)
{
    uint8_t *cipher = NULL, *plain = NULL, *key = iosenc_key_alloc();
    size_t len = 0, plain_len = 0;
    int padded = 0;
    cairn_err rc = CAIRN_OK;
    if (!key) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto fail;
    }
    rc = iosenc_unwrap_manifest_key(d->keys, d->manifest_tagged, IOSENC_TAGGED_LEN, key);
    if (!rc)
        rc = fs_read_file(path, DB_MAX, &cipher, &len);
    if (rc == CAIRN_ENOTFOUND)
        rc = err_set(CAIRN_ESOURCE, "Manifest.db: file is missing");
    if (rc)
        goto fail;
    if (!(plain = malloc(len ? len : 1))) {
        rc = err_set(CAIRN_ENOMEM, "Manifest.db: out of memory");
        goto fail;
    }
    rc = iosenc_decrypt(key, cipher, len, plain, &plain_len, &padded);
    if (rc) {
        rc = err_set(CAIRN_ESOURCE, "Manifest.db: %s", err_msg());
        goto fail;
    }
    /* SQLite opens databases by path and resolves /proc/self/fd links to
     * the memfd's pseudo-name, so the copy lives in a private folder */
    const char *const tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (snprintf(d->tmp_dir, sizeof d->tmp_dir, "%s/cairn-db.XXXXXX", tmp) >=
            (int)sizeof d->tmp_dir ||
        !mkdtemp(d->tmp_dir)) {
        d->tmp_dir[0] = '\0';
        rc = err_errno(errno, tmp);
        goto fail;
    }
    snprintf(d->db_path, sizeof d->db_path, "%s/Manifest.db", d->tmp_dir);
    const int fd = open(d->db_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = err_errno(errno, d->db_path);
        goto fail;
    }
    rc = fs_write_all(fd, plain, plain_len, d->db_path);
    if (close(fd) != 0 && !rc)
        rc = err_errno(errno, d->db_path);
fail:
    if (plain) {
        memset(plain, 0, plain_len);
        free(plain);
    }
    free(cipher);
    iosenc_key_free(key);
    return rc;
}

/* Every file's EncryptionKey, by file ID. */
static cairn_err index_files(devcrypt *d)
{
    ms_manifest *m = NULL;
    const ms_file *f = NULL;
    size_t cap = 0;
    cairn_err rc = ms_manifest_open(d->db_path, &m);
    while (!rc) {
        rc = ms_manifest_next(m, &f);
        if (rc == CAIRN_ECORRUPT) {
            rc = CAIRN_OK; /* the completeness check reports undecodable rows */
            continue;
        }
        if (rc || !f)
            break;
        if (f->encryption_key_len != IOSENC_TAGGED_LEN)
            continue;
        if (util_grow(&d->files, &cap, d->nfiles + 1, sizeof *d->files) != CAIRN_OK) {
            rc = err_set(CAIRN_ENOMEM, "Manifest.db: out of memory");
            break;
        }
        file_key *const k = &d->files[d->nfiles];
        if (fs_unhex(f->file_id, k->id, FILE_ID_BYTES) != 0)
            continue;
        memcpy(k->tagged, f->encryption_key, IOSENC_TAGGED_LEN);
        d->nfiles++;
    }
    ms_manifest_close(m);
    if (!rc && d->nfiles > 1)
        qsort(d->files, d->nfiles, sizeof *d->files, by_id);
    return rc;
}

cairn_err devcrypt_open(const char *dir, const char *password, size_t password_len, devcrypt **out)
{
    uint8_t *plist = NULL;
    size_t len = 0;
    char *const plist_path = fs_join(dir, "Manifest.plist");
    char *const db_path = fs_join(dir, "Manifest.db");
    cairn_err rc = plist_path && db_path ? fs_read_file(plist_path, PLIST_MAX, &plist, &len)
                                         : err_set(CAIRN_ENOMEM, "out of memory");
    if (rc == CAIRN_ENOTFOUND)
        rc = err_set(CAIRN_ESOURCE, "Manifest.plist: file is missing");
    if (!rc)
        rc = devcrypt_open_parts(plist, len, db_path, password, password_len, out);
    free(plist);
    free(plist_path);
    free(db_path);
    return rc;
}

cairn_err devcrypt_open_parts(const uint8_t *manifest_plist, size_t plist_len, const char *db_path,
                              const char *password, size_t password_len, devcrypt **out)
{
    ms_meta *meta = NULL;
    *out = NULL;
    devcrypt *const d = calloc(1, sizeof *d);
    if (!d)
        return err_set(CAIRN_ENOMEM, "out of memory");
    cairn_err rc = ms_meta_new(&meta);
    if (!rc)
        rc = ms_meta_load(meta, MS_MANIFEST_PLIST, manifest_plist, plist_len);
    if (rc)
        goto fail;
    if (!meta->is_encrypted || !meta->backup_keybag) {
        rc = err_set(CAIRN_EINVAL, "Manifest.plist: the backup is not encrypted");
        goto fail;
    }
    if (!meta->manifest_key || meta->manifest_key_len != IOSENC_TAGGED_LEN) {
        /* before iOS 10.2 Manifest.db was not encrypted: not supported */
        rc = err_set(CAIRN_ESOURCE, "Manifest.plist: ManifestKey is missing or malformed");
        goto fail;
    }
    memcpy(d->manifest_tagged, meta->manifest_key, IOSENC_TAGGED_LEN);
    rc = iosenc_unlock(meta->backup_keybag, meta->backup_keybag_len, password, password_len,
                       &d->keys);
    if (rc == CAIRN_EPASSWORD)
        rc = err_wrap(rc, "Manifest.plist");
    if (!rc)
        rc = decrypt_db(d, db_path);
    if (!rc)
        rc = index_files(d);
    if (rc)
        goto fail;
    ms_meta_free(meta);
    *out = d;
    return CAIRN_OK;
fail:
    ms_meta_free(meta);
    devcrypt_close(d);
    return rc;
}

void devcrypt_close(devcrypt *d)
{
    if (!d)
        return;
    iosenc_keys_free(d->keys);
    iosenc_key_free(d->file_key);
    if (d->tmp_dir[0]) {
        unlink(d->db_path);
        rmdir(d->tmp_dir);
    }
    free(d->files);
    free(d);
}

const char *devcrypt_db_path(const devcrypt *d)
{
    return d->db_path;
}

const iosenc_keys *devcrypt_keys(const devcrypt *d)
{
    return d->keys;
}

int devcrypt_lookup(const devcrypt *d, const char *relpath, const uint8_t **tagged)
{
    file_key want;
    if (strcmp(relpath, "Manifest.db") == 0) {
        *tagged = d->manifest_tagged;
        return 1;
    }
    /* content files live at ab/<40 hex>, ab being the ID's first byte */
    if (strlen(relpath) != 43 || relpath[2] != '/' || strncmp(relpath, relpath + 3, 2) != 0 ||
        fs_unhex(relpath + 3, want.id, FILE_ID_BYTES) != 0)
        return 0;
    const file_key *const k = bsearch(&want, d->files, d->nfiles, sizeof want, by_id);
    if (!k)
        return 0;
    *tagged = k->tagged;
    return 1;
}

cairn_err devcrypt_unlock_plist(const uint8_t *plist, size_t len, const char *password,
                                size_t password_len, iosenc_keys **out)
{
    ms_meta *meta = NULL;
    *out = NULL;
    cairn_err rc = ms_meta_new(&meta);
    if (!rc)
        rc = ms_meta_load(meta, MS_MANIFEST_PLIST, plist, len);
    if (!rc && !meta->backup_keybag)
        rc = err_set(CAIRN_ESOURCE, "Manifest.plist: no BackupKeyBag");
    if (!rc)
        rc = iosenc_unlock(meta->backup_keybag, meta->backup_keybag_len, password, password_len,
                           out);
    if (rc == CAIRN_EPASSWORD)
        rc = err_wrap(rc, "Manifest.plist");
    ms_meta_free(meta);
    return rc;
}

cairn_err devcrypt_rekey_manifest(const char *path, const iosenc_keys *keys,
                                  const char *new_password, size_t new_password_len)
{
    uint8_t *buf = NULL, *keybag = NULL;
    char *old = NULL, *out = NULL, *dir = NULL;
    uint64_t old_len = 0;
    uint32_t out_len = 0;
    size_t len = 0, keybag_len = 0;
    ms_meta *meta = NULL;
    plist_t root = NULL;
    iosenc_info info;
    struct stat st;
    int binary = 0;
    /* strict parsing first: libplist alone is not safe on hostile input */
    cairn_err rc = fs_read_file(path, PLIST_MAX, &buf, &len);
    if (!rc)
        rc = ms_meta_new(&meta);
    if (!rc)
        rc = ms_meta_load(meta, MS_MANIFEST_PLIST, buf, len);
    if (rc)
        goto fail;
    if (stat(path, &st) != 0) {
        rc = err_errno(errno, path);
        goto fail;
    }
    binary = plist_is_binary((const char *)buf, (uint32_t)len);
    plist_from_memory((const char *)buf, (uint32_t)len, &root);
    plist_t const node = root ? plist_dict_get_item(root, "BackupKeyBag") : NULL;
    if (!node || plist_get_node_type(node) != PLIST_DATA) {
        rc = err_set(CAIRN_ESOURCE, "%s: no BackupKeyBag", path);
        goto fail;
    }
    plist_get_data_val(node, &old, &old_len);
    rc = iosenc_keybag_inspect((const uint8_t *)old, (size_t)old_len, &info);
    if (rc)
        goto fail;
    const iosenc_params params = {.iter = info.iter, .dpic = info.dpic};
    rc = iosenc_rewrap_keybag((const uint8_t *)old, (size_t)old_len, keys, new_password,
                              new_password_len, &params, &keybag, &keybag_len);
    if (rc)
        goto fail;
    plist_set_data_val(node, (const char *)keybag, keybag_len);
    if (binary)
        plist_to_bin(root, &out, &out_len);
    else
        plist_to_xml(root, &out, &out_len);
    dir = strdup(path);
    if (!out || !dir) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    char *const slash = strrchr(dir, '/');
    const char *const name = slash ? slash + 1 : dir;
    if (slash)
        *slash = '\0';
    rc = fs_write_atomic(slash ? (slash == dir ? "/" : dir) : ".", name, out, out_len,
                         st.st_mode & 07777);
fail:
    if (out && binary)
        plist_to_bin_free(out);
    else if (out)
        plist_to_xml_free(out);
    free(dir);
    free(keybag);
    free(old);
    if (root)
        plist_free(root);
    ms_meta_free(meta);
    free(buf);
    return rc;
}

/* ---- the core's file_cipher.h interfaces ---- */

static int decoder_lookup(void *ctx, const char *relpath, const uint8_t **wrapped)
{
    return devcrypt_lookup(ctx, relpath, wrapped);
}

/* One key buffer per backup, not per file: locked pages are slow to get. */
static cairn_err decoder_open(void *ctx, const uint8_t *wrapped, void **dec)
{
    devcrypt *const d = ctx;
    *dec = NULL;
    if (!d->file_key && !(d->file_key = iosenc_key_alloc()))
        return err_set(CAIRN_ENOMEM, "out of memory for a key");
    cairn_err rc = iosenc_unwrap_file_key(d->keys, wrapped, IOSENC_TAGGED_LEN, d->file_key);
    if (!rc)
        rc = iosenc_dec_new(d->file_key, (iosenc_dec **)dec);
    sodium_memzero(d->file_key, IOSENC_KEY_LEN);
    return rc;
}

static cairn_err decoder_update(void *dec, const uint8_t *in, size_t len, uint8_t *out,
                                size_t *out_len)
{
    return iosenc_dec_update(dec, in, len, out, out_len);
}

static cairn_err decoder_final(void *dec, uint8_t *out, size_t *out_len, int *padded)
{
    return iosenc_dec_final(dec, out, out_len, padded);
}

static void decoder_close(void *dec)
{
    iosenc_dec_free(dec);
}

file_decoder devcrypt_file_decoder(devcrypt *d)
{
    const file_decoder fd = {.ctx = d,
                             .block = IOSENC_BLOCK,
                             .lookup = decoder_lookup,
                             .open = decoder_open,
                             .update = decoder_update,
                             .final = decoder_final,
                             .close = decoder_close};
    return fd;
}

static cairn_err encrypter_open(void *ctx, const tree_node *n, void **enc)
{
    return iosenc_enc_for_file(ctx, n->cipher_key, TREE_CIPHER_KEY_LEN,
                               n->cipher & TREE_CIPHER_PADDED, (iosenc_enc **)enc);
}

static cairn_err encrypter_update(void *enc, const uint8_t *in, size_t len, uint8_t *out,
                                  size_t *out_len)
{
    return iosenc_enc_update(enc, in, len, out, out_len);
}

static cairn_err encrypter_final(void *enc, uint8_t *out, size_t *out_len)
{
    return iosenc_enc_final(enc, out, out_len);
}

static void encrypter_close(void *enc)
{
    iosenc_enc_free(enc);
}

file_encrypter iosenc_file_encrypter(const iosenc_keys *keys)
{
    const file_encrypter fe = {.ctx = (void *)keys,
                               .block = IOSENC_BLOCK,
                               .open = encrypter_open,
                               .update = encrypter_update,
                               .final = encrypter_final,
                               .close = encrypter_close};
    return fe;
}
