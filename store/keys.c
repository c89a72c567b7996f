#include "store/keys.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util/codec.h"
#include "util/fsutil.h"
#include "util/grow.h"
#include "store/layout.h"
#include "store/seal.h"

/* Key file layout (docs/FORMAT.md):
 *   0  magic "CAIRNKEY"      8
 *   8  version (1)           u32le
 *  12  kdf (1 = Argon2id13)  u32le
 *  16  opslimit              u64le
 *  24  memlimit              u64le
 *  32  salt                  16
 *  48  sealed master key     24 nonce + 32 + 16 tag, AD = bytes 0..47
 * 120  BLAKE2b-128 of 0..119 (tells a damaged file from a wrong password)
 */
enum {
    KF_MAGIC_LEN = 8,
    KF_VERSION = 1,
    KF_KDF_ARGON2ID = 1,
    KF_HEADER = 48,
    KF_SEALED = KF_HEADER,
    KF_CHECK = KF_HEADER + 32 + SEAL_OVERHEAD,
    KF_CHECK_LEN = 16,
};
static const char kf_magic[KF_MAGIC_LEN] = {'C', 'A', 'I', 'R', 'N', 'K', 'E', 'Y'};

/* Subkey numbers for crypto_kdf; never reuse a number for another purpose. */
enum { SUBKEY_ID = 1, SUBKEY_SEAL = 2, SUBKEY_CHUNKER = 3, SUBKEY_FILE = 4 };
static const char kdf_context[crypto_kdf_CONTEXTBYTES] = {'c', 'a', 'i', 'r', 'n', 'k', 'e', 'y'};

struct keyring {
    uint8_t master[32];
    uint8_t id_key[32];
    uint8_t seal_key[32];
    uint8_t chunker_secret[32];
    uint8_t file_secret[KEYS_FILE_SECRET];
};

cairn_err keys_kdf_preset(const char *name, keys_kdf *out)
{
    if (!name || strcmp(name, "moderate") == 0) {
        out->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
        out->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
    } else if (strcmp(name, "interactive") == 0) {
        out->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        out->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    } else if (strcmp(name, "sensitive") == 0) {
        out->opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE;
        out->memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
    } else if (strcmp(name, "minimum") == 0) {
        /* Argon2id's floor, for test suites and throwaway stores: the same
         * derivation, without the cost that protects a real password */
        out->opslimit = crypto_pwhash_OPSLIMIT_MIN;
        out->memlimit = crypto_pwhash_MEMLIMIT_MIN;
    } else {
        return err_set(CAIRN_EINVAL,
                       "unknown KDF profile '%s' (use interactive, moderate, sensitive or "
                       "minimum)",
                       name);
    }
    return CAIRN_OK;
}

static cairn_err keyring_derive(keyring *kr)
{
    crypto_kdf_derive_from_key(kr->id_key, sizeof kr->id_key, SUBKEY_ID, kdf_context, kr->master);
    crypto_kdf_derive_from_key(kr->seal_key, sizeof kr->seal_key, SUBKEY_SEAL, kdf_context,
                               kr->master);
    crypto_kdf_derive_from_key(kr->chunker_secret, sizeof kr->chunker_secret, SUBKEY_CHUNKER,
                               kdf_context, kr->master);
    /* crypto_kdf gives at most 64 bytes per call: three calls of 64 */
    for (unsigned i = 0; i < KEYS_FILE_SECRET / 64; i++)
        crypto_kdf_derive_from_key(kr->file_secret + 64 * i, 64, (uint64_t)SUBKEY_FILE << 8 | i,
                                   kdf_context, kr->master);
    if (sodium_mprotect_readonly(kr) != 0)
        return err_set(CAIRN_ENOMEM, "cannot protect key memory");
    return CAIRN_OK;
}

static keyring *keyring_alloc(void)
{
    keyring *const kr = sodium_malloc(sizeof *kr);
    if (kr)
        sodium_memzero(kr, sizeof *kr);
    return kr;
}

void keyring_free(keyring *kr)
{
    if (kr)
        sodium_free(kr); /* zeroes the memory and unlocks it */
}

const uint8_t *keyring_master(const keyring *kr)
{
    return kr->master;
}

const uint8_t *keyring_id_key(const keyring *kr)
{
    return kr->id_key;
}

const uint8_t *keyring_seal_key(const keyring *kr)
{
    return kr->seal_key;
}

const uint8_t *keyring_chunker_secret(const keyring *kr)
{
    return kr->chunker_secret;
}

const uint8_t *keyring_file_secret(const keyring *kr)
{
    return kr->file_secret;
}

/* Derives the wrapping key for one key file into locked memory. */
static cairn_err wrap_key(const uint8_t *header, const char *password, size_t password_len,
                          uint8_t *key)
{
    const unsigned long long ops = get_u64le(header + 16);
    const uint64_t mem = get_u64le(header + 24);
    if (crypto_pwhash(key, SEAL_KEY_LEN, password, password_len, header + 32, ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return err_set(CAIRN_ENOMEM, "Argon2id needs %llu MiB of memory that is not available",
                       (unsigned long long)(mem >> 20));
    return CAIRN_OK;
}

static cairn_err write_key_file(const char *keys_dir, const uint8_t *master, const char *password,
                                size_t password_len, const keys_kdf *kdf,
                                char key_id[KEYS_ID_HEX + 1])
{
    uint8_t file[KEYS_FILE_LEN];
    uint8_t id[KEYS_ID_HEX / 2];
    cairn_err rc;
    uint8_t *const key = sodium_malloc(SEAL_KEY_LEN);
    if (!key)
        return err_set(CAIRN_ENOMEM, "out of memory for keys");
    memcpy(file, kf_magic, KF_MAGIC_LEN);
    put_u32le(file + 8, KF_VERSION);
    put_u32le(file + 12, KF_KDF_ARGON2ID);
    put_u64le(file + 16, kdf->opslimit);
    put_u64le(file + 24, kdf->memlimit);
    randombytes_buf(file + 32, 16);
    rc = wrap_key(file, password, password_len, key);
    if (rc)
        goto done;
    seal_box(key, file, KF_HEADER, master, 32, file + KF_SEALED);
    crypto_generichash(file + KF_CHECK, KF_CHECK_LEN, file, KF_CHECK, NULL, 0);
    randombytes_buf(id, sizeof id);
    fs_hex(id, sizeof id, key_id);
    rc = fs_write_atomic(keys_dir, key_id, file, sizeof file, 0600);
done:
    sodium_free(key);
    return rc;
}

cairn_err keys_create(const char *keys_dir, const char *password, size_t password_len,
                      const keys_kdf *kdf, keyring **out, char key_id[KEYS_ID_HEX + 1])
{
    keyring *const kr = keyring_alloc();
    cairn_err rc;
    if (!kr)
        return err_set(CAIRN_ENOMEM, "out of memory for keys");
    randombytes_buf(kr->master, sizeof kr->master);
    rc = write_key_file(keys_dir, kr->master, password, password_len, kdf, key_id);
    if (rc)
        goto fail;
    rc = keyring_derive(kr);
    if (rc)
        goto fail;
    *out = kr;
    return CAIRN_OK;
fail:
    keyring_free(kr);
    return rc;
}

cairn_err keys_from_master(const uint8_t master[KEYS_MASTER_LEN], keyring **out)
{
    keyring *const kr = keyring_alloc();
    if (!kr)
        return err_set(CAIRN_ENOMEM, "out of memory for keys");
    memcpy(kr->master, master, sizeof kr->master);
    const cairn_err rc = keyring_derive(kr);
    if (rc) {
        keyring_free(kr);
        return rc;
    }
    *out = kr;
    return CAIRN_OK;
}

cairn_err keys_add(const char *keys_dir, const keyring *kr, const char *password,
                   size_t password_len, const keys_kdf *kdf, char key_id[KEYS_ID_HEX + 1])
{
    return write_key_file(keys_dir, kr->master, password, password_len, kdf, key_id);
}

/* Checks a key file's structure; the password is not involved yet. */
static cairn_err key_file_valid(const char *path, const uint8_t *file, size_t len)
{
    uint8_t check[KF_CHECK_LEN];
    if (len != KEYS_FILE_LEN || memcmp(file, kf_magic, KF_MAGIC_LEN) != 0)
        return err_set(CAIRN_EKEYFILE, "%s: not a cairn key file (damaged)", path);
    crypto_generichash(check, sizeof check, file, KF_CHECK, NULL, 0);
    if (sodium_memcmp(check, file + KF_CHECK, KF_CHECK_LEN) != 0)
        return err_set(CAIRN_EKEYFILE, "%s: key file is damaged (checksum mismatch)", path);
    if (get_u32le(file + 8) != KF_VERSION || get_u32le(file + 12) != KF_KDF_ARGON2ID)
        return err_set(CAIRN_EVERSION, "%s: unsupported key file version %u", path,
                       (unsigned)get_u32le(file + 8));
    const uint64_t ops = get_u64le(file + 16), mem = get_u64le(file + 24);
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > 64 || mem < crypto_pwhash_MEMLIMIT_MIN ||
        mem > (uint64_t)4 << 30)
        return err_set(CAIRN_EKEYFILE, "%s: key file has implausible Argon2id parameters", path);
    return CAIRN_OK;
}

cairn_err keys_unlock(const char *keys_dir, const char *password, size_t password_len,
                      keyring **out, char key_id[KEYS_ID_HEX + 1])
{
    cairn_err rc = CAIRN_OK, damaged = CAIRN_OK;
    char damaged_msg[512] = "";
    int files = 0;
    struct dirent *de;
    keyring *kr = NULL;
    uint8_t *const key = sodium_malloc(SEAL_KEY_LEN);
    DIR *const dir = opendir(keys_dir);
    if (!key || !dir) {
        rc = key ? err_errno(errno, keys_dir) : err_set(CAIRN_ENOMEM, "out of memory for keys");
        goto done;
    }
    kr = keyring_alloc();
    if (!kr) {
        rc = err_set(CAIRN_ENOMEM, "out of memory for keys");
        goto done;
    }
    while ((de = readdir(dir)) != NULL) {
        uint8_t *file = NULL;
        size_t len;
        if (strlen(de->d_name) != KEYS_ID_HEX ||
            strspn(de->d_name, "0123456789abcdef") != KEYS_ID_HEX)
            continue;
        char *const path = fs_join(keys_dir, de->d_name);
        if (!path) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
            goto done;
        }
        files++;
        rc = fs_read_file(path, 4096, &file, &len);
        if (rc == CAIRN_OK)
            rc = key_file_valid(path, file, len);
        if (rc == CAIRN_OK)
            rc = wrap_key(file, password, password_len, key);
        if (rc == CAIRN_OK && seal_open(key, file, KF_HEADER, file + KF_SEALED, 32 + SEAL_OVERHEAD,
                                        kr->master) == CAIRN_OK) {
            memcpy(key_id, de->d_name, KEYS_ID_HEX + 1);
            free(file);
            free(path);
            rc = keyring_derive(kr);
            if (rc)
                goto done;
            *out = kr;
            kr = NULL;
            goto done;
        }
        if (rc == CAIRN_ENOMEM) {
            free(file);
            free(path);
            goto done;
        }
        if (rc != CAIRN_OK && damaged == CAIRN_OK) {
            damaged = rc == CAIRN_EVERSION ? rc : CAIRN_EKEYFILE;
            snprintf(damaged_msg, sizeof damaged_msg, "%s", err_msg());
        }
        free(file);
        free(path);
    }
    if (files == 0)
        rc = err_set(CAIRN_EKEYFILE, "%s: no key files (store is damaged)", keys_dir);
    else if (damaged != CAIRN_OK)
        rc = err_set(damaged, "%s", damaged_msg);
    else
        rc = err_set(CAIRN_EPASSWORD, "wrong password: no key file of this store opens with it");
done:
    if (dir)
        closedir(dir);
    keyring_free(kr);
    sodium_free(key);
    return rc;
}

/* A key file's name in the keys folder. */
static int is_key_name(const char *name)
{
    char rel[STORE_NAME_MAX];
    return strlen(name) == KEYS_ID_HEX &&
           snprintf(rel, sizeof rel, "%s%s", store_name_prefix(STORE_OBJ_KEY), name) > 0 &&
           store_name_parse(rel, NULL) == STORE_OBJ_KEY;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const keys_info *)a)->id, ((const keys_info *)b)->id);
}

cairn_err keys_list(const char *keys_dir, keys_info **out, size_t *count)
{
    DIR *const dir = opendir(keys_dir);
    struct dirent *de;
    keys_info *list = NULL;
    size_t n = 0, cap = 0;
    if (!dir)
        return err_errno(errno, keys_dir);
    while ((de = readdir(dir)) != NULL) {
        uint8_t *file = NULL;
        size_t len;
        struct stat st;
        if (!is_key_name(de->d_name))
            continue;
        if (util_grow(&list, &cap, n + 1, sizeof *list) != CAIRN_OK) {
            free(list);
            closedir(dir);
            return CAIRN_ENOMEM;
        }
        keys_info *const k = &list[n++];
        memset(k, 0, sizeof *k);
        memcpy(k->id, de->d_name, KEYS_ID_HEX + 1);
        char *const path = fs_join(keys_dir, de->d_name);
        if (path && stat(path, &st) == 0)
            k->mtime = st.st_mtime;
        if (!path || fs_read_file(path, 4096, &file, &len) != CAIRN_OK ||
            key_file_valid(path, file, len) != CAIRN_OK) {
            k->damaged = 1;
        } else {
            k->opslimit = get_u64le(file + 16);
            k->memlimit = (size_t)get_u64le(file + 24);
        }
        free(file);
        free(path);
    }
    closedir(dir);
    if (n > 1)
        qsort(list, n, sizeof *list, by_id);
    *out = list;
    *count = n;
    return CAIRN_OK;
}

cairn_err keys_remove(const char *keys_dir, const char *key_id)
{
    keys_info *list = NULL;
    size_t n = 0, intact = 0;
    int found = 0;
    if (!is_key_name(key_id))
        return err_set(CAIRN_EINVAL, "'%s' is not a key ID (see 'cairn key list')", key_id);
    cairn_err rc = keys_list(keys_dir, &list, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].id, key_id) == 0)
            found = 1;
        else if (!list[i].damaged)
            intact++;
    }
    free(list);
    if (!found)
        return err_set(CAIRN_ENOTFOUND, "no key %s in this store", key_id);
    if (intact == 0)
        return err_set(CAIRN_EINVAL,
                       "key %s is the last intact key: removing it would lock the "
                       "store forever",
                       key_id);
    char *const path = fs_join(keys_dir, key_id);
    if (!path)
        return err_set(CAIRN_ENOMEM, "out of memory");
    if (unlink(path) != 0)
        rc = err_errno(errno, path);
    free(path);
    return rc ? rc : fs_fsync_dir(keys_dir);
}

/* Reads a key file and checks its structure; *file (malloc'd) gets it. */
static cairn_err read_valid(const char *path, uint8_t **file, size_t *len)
{
    cairn_err rc = fs_read_file(path, 4096, file, len);
    if (rc)
        return rc;
    rc = key_file_valid(path, *file, *len);
    if (rc) {
        free(*file);
        *file = NULL;
    }
    return rc;
}

cairn_err keys_verify_file(const char *path)
{
    uint8_t *file;
    size_t len;
    const cairn_err rc = read_valid(path, &file, &len);
    if (!rc)
        free(file);
    return rc;
}

cairn_err keys_import(const char *keys_dir, const char *key_id, const char *src)
{
    uint8_t *file;
    size_t len;
    if (!is_key_name(key_id))
        return err_set(CAIRN_EINVAL, "'%s' is not a key ID", key_id);
    cairn_err rc = read_valid(src, &file, &len);
    if (rc)
        return rc;
    rc = fs_write_atomic(keys_dir, key_id, file, len, 0600);
    free(file);
    return rc;
}
