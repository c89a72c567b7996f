/* keys.h - the store's master key and the key files that wrap it.
 *
 * A store has one random 256-bit master key.  Each key file wraps it under
 * a key derived from one password with Argon2id, so several passwords can
 * open a store and changing a password rewrites one small file only.
 * Working keys are derived from the master key with BLAKE2b-based KDF and
 * live in guarded, locked memory that is zeroed when freed. */
#ifndef CAIRN_KEYS_H
#define CAIRN_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum {
    KEYS_ID_HEX = 16,       /* key file names: 8 random bytes in hex */
    KEYS_FILE_SECRET = 192, /* XXH3 secret for the file-change check */
    KEYS_FILE_LEN = 136,    /* size of a key file (docs/FORMAT.md) */
    KEYS_MASTER_LEN = 32,   /* the master key */
};

typedef struct keyring keyring;

typedef struct keys_kdf {
    unsigned long long opslimit;
    size_t memlimit;
} keys_kdf;

/* Argon2id cost presets: "interactive", "moderate" (default), "sensitive",
 * and "minimum" (Argon2id's floor: test suites and throwaway stores). */
cairn_err keys_kdf_preset(const char *name, keys_kdf *out);

/* Creates a fresh master key and its first key file in keys_dir. */
cairn_err keys_create(const char *keys_dir, const char *password, size_t password_len,
                      const keys_kdf *kdf, keyring **out, char key_id[KEYS_ID_HEX + 1]);

/* Tries every key file in keys_dir.  CAIRN_EPASSWORD if none opens with
 * this password; CAIRN_EKEYFILE (naming the file) if a file is malformed
 * and no other one opened. */
cairn_err keys_unlock(const char *keys_dir, const char *password, size_t password_len,
                      keyring **out, char key_id[KEYS_ID_HEX + 1]);

/* Writes one more key file wrapping kr's master key. */
cairn_err keys_add(const char *keys_dir, const keyring *kr, const char *password,
                   size_t password_len, const keys_kdf *kdf, char key_id[KEYS_ID_HEX + 1]);

typedef struct keys_info {
    char id[KEYS_ID_HEX + 1];
    unsigned long long opslimit;
    size_t memlimit;
    int64_t mtime; /* when the file was written */
    int damaged;
} keys_info;

/* Lists the key files in keys_dir (malloc'd array, sorted by id). */
cairn_err keys_list(const char *keys_dir, keys_info **out, size_t *count);

/* Whether the file at path is a well-formed key file of this format (its
 * checksum holds); no password is involved. */
cairn_err keys_verify_file(const char *path);

/* Installs the key file at src (obtained elsewhere: a copy target) as
 * keys_dir/key_id, replacing a damaged one, once keys_verify_file accepts
 * it. */
cairn_err keys_import(const char *keys_dir, const char *key_id, const char *src);

/* Removes one key file; refuses to remove the last one left. */
cairn_err keys_remove(const char *keys_dir, const char *key_id);

/* The keys of a master key held elsewhere (an unlocked session,
 * store/session_key.h): no key file and no password are involved, so
 * nothing here says whether it is this store's; the caller checks that. */
cairn_err keys_from_master(const uint8_t master[KEYS_MASTER_LEN], keyring **out);

void keyring_free(keyring *kr);

const uint8_t *keyring_master(const keyring *kr); /* for an unlocked session only */

const uint8_t *keyring_id_key(const keyring *kr);         /* chunk and object IDs */
const uint8_t *keyring_seal_key(const keyring *kr);       /* XChaCha20-Poly1305 */
const uint8_t *keyring_chunker_secret(const keyring *kr); /* gear table seed */
const uint8_t *keyring_file_secret(const keyring *kr);    /* KEYS_FILE_SECRET bytes */

#endif
