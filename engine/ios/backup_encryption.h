/* backup_encryption.h - the encryption of iOS device backups (MobileSync, iOS 10.2 and later).
 *
 * An encrypted backup protects each file with its own random AES-256 key.
 * That key is stored in the file's MBFile record (EncryptionKey: 4-byte
 * little-endian protection class, then the key wrapped with RFC 3394 AES key
 * wrap under the class key), and the file's bytes are AES-256-CBC with a zero
 * IV and PKCS#7 padding.  The class keys live in the BackupKeyBag of
 * Manifest.plist, a tag/length/value blob, each wrapped under a key derived
 * from the backup password:
 *
 *     k1 = PBKDF2-HMAC-SHA256(password, DPSL, DPIC rounds, 32 bytes)
 *     k  = PBKDF2-HMAC-SHA1(k1, SALT, ITER rounds, 32 bytes)
 *
 * Keybags without DPSL/DPIC (before iOS 10.2) skip the first step and use the
 * password itself.  Manifest.db is encrypted like a file under the key that
 * ManifestKey (Manifest.plist, same layout as EncryptionKey) wraps.
 *
 * This module parses keybags (strictly: they come from outside), unlocks them,
 * unwraps and wraps file keys, and does the CBC layer in a way that is exactly
 * reversible, so that a backup stored as plaintext chunks can be re-encrypted
 * byte-identical.  It also makes keybags, for tests and for re-encrypting a
 * restore under another password.  It does no file I/O.
 *
 * Secrets: the password-derived key and every class key live in guarded,
 * locked memory (libsodium) that is read-only once filled and zeroed when
 * freed.  File keys are written into buffers the caller provides: give it
 * memory from iosenc_key_alloc().  Nothing here prints or logs.
 *
 * Errors: a malformed keybag or ManifestKey is CAIRN_ESOURCE naming
 * Manifest.plist; a wrong password is CAIRN_EPASSWORD; a damaged per-file key
 * or ciphertext is CAIRN_ECORRUPT; err_msg() has the one-line reason.
 *
 * Needs sodium_init() (the functions that allocate key memory call it too).
 * Objects are not shared between threads while being created; an unlocked
 * iosenc_keys is read-only and may be used from several threads at once. */
#ifndef CAIRN_IOSENC_H
#define CAIRN_IOSENC_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum {
    IOSENC_KEY_LEN = 32,      /* AES-256 keys: class keys, file keys */
    IOSENC_WRAPPED_LEN = 40,  /* a key after RFC 3394 wrapping */
    IOSENC_TAGGED_LEN = 44,   /* EncryptionKey / ManifestKey: 4-byte LE class + wrapped key */
    IOSENC_BLOCK = 16,        /* AES block; ciphertexts are whole blocks */
    IOSENC_UUID_LEN = 16,     /* keybag and class key UUIDs */
    IOSENC_SALT_LEN = 20,     /* SALT and DPSL of keybags iOS writes */
    IOSENC_CLASS_MAX = 31,    /* protection classes are 1..IOSENC_CLASS_MAX */
    IOSENC_MANIFEST_CLASS = 4 /* iOS wraps ManifestKey with NSFileProtectionNone */
};

/* Class key wrapping flags (WRAP): the key is wrapped with a key derived from
 * the device UID, with the password-derived key, or both.  Only the password
 * layer can be removed off the device. */
enum { IOSENC_WRAP_DEVICE = 1, IOSENC_WRAP_PASSCODE = 2 };

/* The KDF costs iOS uses (10 million SHA-256 rounds take seconds on purpose),
 * and the ceilings a keybag may ask for: a hostile keybag must not be able to
 * keep an unlock busy for hours. */
#define IOSENC_ITER_IOS 10000u
#define IOSENC_DPIC_IOS 10000000u
#define IOSENC_ITER_MAX 10000000u
#define IOSENC_DPIC_MAX 100000000u

/* ---- keybags ------------------------------------------------------------ */

/* What a keybag says, without unlocking it. */
typedef struct iosenc_info {
    uint32_t version; /* VERS */
    uint32_t type;    /* TYPE: 0 system, 1 backup, 2 escrow, 3 iCloud */
    uint32_t iter;    /* ITER: PBKDF2-HMAC-SHA1 rounds */
    uint32_t dpic;    /* DPIC: PBKDF2-HMAC-SHA256 rounds; 0 when the keybag has no DPSL stage */
    uint8_t uuid[IOSENC_UUID_LEN];
    size_t salt_len; /* SALT */
    size_t dpsl_len; /* DPSL, 0 if absent */
    unsigned nclasses;
    uint32_t classes;          /* bit c set: an entry for protection class c */
    uint32_t passcode_wrapped; /* bit c: class c's key opens with the password */
    uint32_t device_wrapped;   /* bit c: class c's key also needs the device */
} iosenc_info;

/* Parses a BackupKeyBag and reports its header and classes.  Strict: every
 * length is checked against the buffer, known tags must have their exact
 * sizes and appear at most once (per class entry), class numbers are unique
 * and in range, iteration counts are within the ceilings above.  Unknown tags
 * with printable names are skipped.  CAIRN_ESOURCE ("Manifest.plist:
 * BackupKeyBag: ...") on anything else. */
cairn_err iosenc_keybag_inspect(const uint8_t *keybag, size_t len, iosenc_info *out);

/* The class keys of an unlocked keybag (opaque, in locked read-only memory). */
typedef struct iosenc_keys iosenc_keys;

/* Derives the password key and unwraps every class key whose WRAP has
 * IOSENC_WRAP_PASSCODE.  A failed integrity check on every class key means
 * the password is wrong: CAIRN_EPASSWORD "backup password is wrong: the
 * keybag does not unlock".  Takes as long as the keybag's DPIC/ITER ask
 * (seconds for real backups).  Free *out with iosenc_keys_free. */
cairn_err iosenc_unlock(const uint8_t *keybag, size_t len, const char *password,
                        size_t password_len, iosenc_keys **out);

void iosenc_keys_free(iosenc_keys *keys);

/* 1 when keys hold a usable key for class cls (present, and not still
 * wrapped by the device UID), else 0. */
int iosenc_keys_has_class(const iosenc_keys *keys, uint32_t cls);

/* The UUID of the keybag the keys came from (the backup's encryption
 * identity: it survives a password change made by iosenc_rewrap_keybag). */
const uint8_t *iosenc_keys_uuid(const iosenc_keys *keys);

/* Parameters for making a keybag.  Salts are IOSENC_SALT_LEN bytes. */
typedef void (*iosenc_random_fn)(void *ctx, void *buf, size_t len);
typedef struct iosenc_params {
    uint32_t iter;           /* ITER, 1..IOSENC_ITER_MAX */
    uint32_t dpic;           /* DPIC, 0..IOSENC_DPIC_MAX; 0 writes no DPSL stage */
    const uint8_t *salt;     /* SALT, NULL: random */
    const uint8_t *dpsl;     /* DPSL, NULL: random */
    iosenc_random_fn random; /* source of keys, UUIDs and salts; NULL: randombytes_buf */
    void *random_ctx;        /* (tests pass a seeded generator to get equal keybags) */
} iosenc_params;

/* Makes a backup keybag protected by password: a random UUID and random class
 * keys for classes 1-4 (files) and 6-11 (keychain), all wrapped with
 * IOSENC_WRAP_PASSCODE.  *keybag is malloc'd (free()); *keys is the same as
 * iosenc_unlock of it would give. */
cairn_err iosenc_new_keybag(const char *password, size_t password_len, const iosenc_params *params,
                            uint8_t **keybag, size_t *keybag_len, iosenc_keys **keys);

/* A password change: the keybag old (which keys unlocked) rewritten with new
 * SALT, DPSL, ITER, DPIC and every password-wrapped key re-wrapped under the
 * new password.  The UUID, the class keys and every other tag stay as they
 * were, so files and ManifestKey stay valid and keys open the new keybag too.
 * CAIRN_EINVAL if keys do not belong to old.  *out is malloc'd. */
cairn_err iosenc_rewrap_keybag(const uint8_t *old, size_t old_len, const iosenc_keys *keys,
                               const char *new_password, size_t new_password_len,
                               const iosenc_params *params, uint8_t **out, size_t *out_len);

/* ---- file keys ---------------------------------------------------------- */

/* Guarded memory for one IOSENC_KEY_LEN key (NULL when out of memory);
 * iosenc_key_free zeroes and frees it. */
uint8_t *iosenc_key_alloc(void);
void iosenc_key_free(uint8_t *key);

/* The protection class an EncryptionKey/ManifestKey names (its first 4 bytes,
 * little-endian); CAIRN_ECORRUPT if it is not IOSENC_TAGGED_LEN bytes. */
cairn_err iosenc_tagged_class(const uint8_t *tagged, size_t len, uint32_t *cls);

/* Unwraps a file's EncryptionKey with its class key into key.
 * CAIRN_ECORRUPT when the bytes are malformed or fail the unwrap check,
 * CAIRN_ESOURCE when the keybag has no usable key for the class. */
cairn_err iosenc_unwrap_file_key(const iosenc_keys *keys, const uint8_t *tagged, size_t len,
                                 uint8_t key[IOSENC_KEY_LEN]);

/* The same for Manifest.plist's ManifestKey; every failure is CAIRN_ESOURCE
 * naming Manifest.plist (without it nothing in the backup can be read). */
cairn_err iosenc_unwrap_manifest_key(const iosenc_keys *keys, const uint8_t *tagged, size_t len,
                                     uint8_t key[IOSENC_KEY_LEN]);

/* Wraps key under class cls into out (class, then the wrapped key): the
 * inverse of the two functions above. */
cairn_err iosenc_wrap_file_key(const iosenc_keys *keys, uint32_t cls,
                               const uint8_t key[IOSENC_KEY_LEN], uint8_t out[IOSENC_TAGGED_LEN]);

/* RFC 3394 with the default IV, for one 256-bit key under a 256-bit KEK.
 * Unwrap fails with CAIRN_ECORRUPT when the integrity check fails. */
cairn_err iosenc_key_wrap(const uint8_t kek[IOSENC_KEY_LEN], const uint8_t key[IOSENC_KEY_LEN],
                          uint8_t out[IOSENC_WRAPPED_LEN]);
cairn_err iosenc_key_unwrap(const uint8_t kek[IOSENC_KEY_LEN],
                            const uint8_t wrapped[IOSENC_WRAPPED_LEN], uint8_t key[IOSENC_KEY_LEN]);

/* ---- contents: AES-256-CBC, zero IV -------------------------------------- */

/* Decrypts len bytes (a multiple of IOSENC_BLOCK, else CAIRN_ECORRUPT) into
 * out (room for len bytes).  When the plaintext ends in valid PKCS#7 padding
 * it is stripped and *padded is 1; otherwise all len bytes are kept and
 * *padded is 0.  iosenc_encrypt(key, out, *out_len, *padded) gives back the
 * exact ciphertext in both cases. */
cairn_err iosenc_decrypt(const uint8_t key[IOSENC_KEY_LEN], const uint8_t *in, size_t len,
                         uint8_t *out, size_t *out_len, int *padded);

/* Encrypts len bytes into out, which needs iosenc_encrypted_len(len, padded)
 * bytes.  padded: append PKCS#7 padding (always 1-16 bytes); unpadded input
 * must be a multiple of IOSENC_BLOCK (else CAIRN_EINVAL).  Deterministic. */
cairn_err iosenc_encrypt(const uint8_t key[IOSENC_KEY_LEN], const uint8_t *in, size_t len,
                         int padded, uint8_t *out, size_t *out_len);

/* Ciphertext size for iosenc_encrypt (SIZE_MAX if it would overflow). */
size_t iosenc_encrypted_len(size_t len, int padded);

/* The PKCS#7 padding length (1..16) if the last block of a plaintext of len
 * bytes (a multiple of IOSENC_BLOCK) is validly padded, else 0.  Reads only
 * the last block. */
size_t iosenc_pkcs7_len(const uint8_t *plain, size_t len);

/* Streaming CBC over whole blocks, for files too big for one buffer: the
 * same as the one-shot functions without the padding step (the caller keeps
 * the last block, pads it with iosenc_pkcs7_len's rule or strips it). */
typedef struct iosenc_cbc iosenc_cbc;
typedef enum iosenc_dir { IOSENC_DECRYPT = 0, IOSENC_ENCRYPT = 1 } iosenc_dir;

cairn_err iosenc_cbc_new(const uint8_t key[IOSENC_KEY_LEN], iosenc_dir dir, iosenc_cbc **out);
/* len must be a multiple of IOSENC_BLOCK; out may be in. */
cairn_err iosenc_cbc_update(iosenc_cbc *c, const uint8_t *in, size_t len, uint8_t *out);
void iosenc_cbc_free(iosenc_cbc *c);

/* A whole file decrypted as it streams in, its length known only at the
 * end: whole blocks are decrypted as they come, the last one is held back
 * until iosenc_dec_final, which strips it of valid PKCS#7 padding (the
 * iosenc_decrypt rule, so iosenc_encrypt gives back the exact input). */
typedef struct iosenc_dec iosenc_dec;

cairn_err iosenc_dec_new(const uint8_t key[IOSENC_KEY_LEN], iosenc_dec **out);
/* Any len; out needs len + 2 * IOSENC_BLOCK bytes, *out_len are ready. */
cairn_err iosenc_dec_update(iosenc_dec *d, const uint8_t *in, size_t len, uint8_t *out,
                            size_t *out_len);
/* The held block (out: IOSENC_BLOCK bytes); CAIRN_ECORRUPT when the input
 * was not whole blocks. */
cairn_err iosenc_dec_final(iosenc_dec *d, uint8_t *out, size_t *out_len, int *padded);
void iosenc_dec_free(iosenc_dec *d);

/* The inverse, for writing a file's exact ciphertext from its plaintext as
 * it streams out: whole blocks are encrypted as they come; final pads
 * (padded: PKCS#7, as iosenc_encrypt) or requires whole blocks. */
typedef struct iosenc_enc iosenc_enc;

cairn_err iosenc_enc_new(const uint8_t key[IOSENC_KEY_LEN], int padded, iosenc_enc **out);
/* Any len; out needs len + IOSENC_BLOCK bytes, *out_len are ready. */
cairn_err iosenc_enc_update(iosenc_enc *e, const uint8_t *in, size_t len, uint8_t *out,
                            size_t *out_len);
/* The last block (out: IOSENC_BLOCK bytes); unpadded input that was not
 * whole blocks is CAIRN_ECORRUPT. */
cairn_err iosenc_enc_final(iosenc_enc *e, uint8_t *out, size_t *out_len);
void iosenc_enc_free(iosenc_enc *e);

/* iosenc_enc_new under the key a file's EncryptionKey (or ManifestKey)
 * wraps, unwrapped with keys into locked memory and wiped again. */
cairn_err iosenc_enc_for_file(const iosenc_keys *keys, const uint8_t *tagged, size_t len,
                              int padded, iosenc_enc **out);

#endif
