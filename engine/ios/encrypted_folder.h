/* encrypted_folder.h - an encrypted MobileSync backup opened with its password.
 *
 * cairn stores encrypted device backups as plaintext (so that content
 * deduplicates although the device re-encrypts files under new keys) and
 * keeps, in each file's tree node, the wrapped key that Apple's ciphertext
 * was made with, so a restore can re-encrypt byte-identical.  This module
 * does the reading side: it unlocks the BackupKeyBag of Manifest.plist,
 * decrypts Manifest.db into a private temporary folder ($TMPDIR, removed on
 * close; the database holds names and wrapped keys, never a key in the
 * clear) and indexes every
 * file's EncryptionKey by file ID.  It also re-keys a restored backup's
 * Manifest.plist under another password.
 *
 * Secrets stay in backup_encryption's locked memory; the decrypted Manifest.db holds
 * only wrapped keys.  Errors name the file: CAIRN_EPASSWORD
 * ("Manifest.plist: backup password is wrong ..."), CAIRN_ESOURCE for a
 * malformed keybag, ManifestKey or Manifest.db. */
#ifndef CAIRN_DEVCRYPT_H
#define CAIRN_DEVCRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/file_cipher.h"
#include "engine/ios/backup_encryption.h"

typedef struct devcrypt devcrypt;

/* Opens the encrypted backup in dir.  Takes as long as the keybag's key
 * derivation (seconds for real backups). */
cairn_err devcrypt_open(const char *dir, const char *password, size_t password_len, devcrypt **out);
void devcrypt_close(devcrypt *d);

/* The same from Manifest.plist's bytes and the encrypted Manifest.db at
 * db_path (a backup streamed from the device, not in a folder). */
cairn_err devcrypt_open_parts(const uint8_t *manifest_plist, size_t plist_len, const char *db_path,
                              const char *password, size_t password_len, devcrypt **out);

/* The decrypted Manifest.db, as a path SQLite can open while d is open. */
const char *devcrypt_db_path(const devcrypt *d);

const iosenc_keys *devcrypt_keys(const devcrypt *d);

/* For a path relative to the backup folder: 1 and *tagged (the
 * IOSENC_TAGGED_LEN-byte EncryptionKey or ManifestKey) when the device
 * stored that file encrypted ("Manifest.db", "ab/<40 hex>" with a key in
 * its Manifest.db record), else 0. */
int devcrypt_lookup(const devcrypt *d, const char *relpath, const uint8_t **tagged);

/* Unlocks a keybag taken from a snapshot's Manifest.plist bytes (binary or
 * XML plist) with the backup password. */
cairn_err devcrypt_unlock_plist(const uint8_t *plist, size_t len, const char *password,
                                size_t password_len, iosenc_keys **out);

/* Rewrites the Manifest.plist at path (atomically, in its own format) so
 * that new_password opens it: the keybag's class keys are re-wrapped under
 * the new password with the same key derivation costs; the UUID, class keys
 * and therefore every file and ManifestKey stay valid.  keys must come from
 * the same keybag. */
cairn_err devcrypt_rekey_manifest(const char *path, const iosenc_keys *keys,
                                  const char *new_password, size_t new_password_len);

/* The backup's files decrypted as a folder backup reads them (core
 * backup_opts.decoder); valid while d is open. */
file_decoder devcrypt_file_decoder(devcrypt *d);

/* Files stored decrypted given back as the device's exact ciphertext (core
 * restore_opts.encrypter, stream_set_encrypter); valid while keys live. */
file_encrypter iosenc_file_encrypter(const iosenc_keys *keys);

#endif
