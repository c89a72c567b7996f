/* received_backup.h - what a device backup built in a stream (straight from the
 * device, engine/ios/mobilebackup2_host.h) says about itself, read from the stream the way
 * device_inspect and device_read_contents read a backup folder: the three
 * plists give the device, its chain and the metadata kept in the snapshot;
 * for an unencrypted backup Manifest.db gives the catalog, and every file
 * it lists must have its content file in the stream. */
#ifndef CAIRN_DEVSTREAM_H
#define CAIRN_DEVSTREAM_H

#include "engine/ios/backup_folder.h"
#include "engine/core/snapshot_edit.h"

/* udid names the device when the plists do not.  tmp_path is where
 * Manifest.db is copied for SQLite while it is read (removed again): one
 * file, on the store's disk.  An incomplete backup gives CAIRN_OK with
 * out->complete == 0 and the problem named; missing or malformed plists
 * and a Manifest.db that is not a database give CAIRN_ESOURCE. */
cairn_err devstream_inspect(stream *st, const char *udid, const char *tmp_path, device_info *out);

/* An encrypted backup whose password is known: every file the device sent
 * encrypted (and Manifest.db) is replaced in the stream by its plaintext,
 * keeping its wrapped key (as a folder backup with the password stores it),
 * then the catalog is read from the decrypted Manifest.db.  Files already
 * stored decrypted (unchanged since a decrypted parent) are left alone.
 * CAIRN_EPASSWORD naming Manifest.plist for a wrong password. */
cairn_err devstream_decrypt(stream *st, const char *tmp_path, const char *password,
                            size_t password_len, device_info *out);

#endif
