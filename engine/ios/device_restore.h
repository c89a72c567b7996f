/* device_restore.h - a snapshot given back as one call: into a folder (a
 * device backup exactly as the device wrote it, optionally re-keyed under
 * a new backup password) or onto a connected device.
 *
 * A snapshot of an encrypted backup stored decrypted needs its backup
 * password to be given back as the device's ciphertext; the password is
 * asked through the callbacks (device_workflow.h) and wiped after use.
 * Nothing is printed: the result says what was written. */
#ifndef CAIRN_DEVICE_RESTORE_H
#define CAIRN_DEVICE_RESTORE_H

#include "store/store.h"
#include "engine/core/file_cipher.h"
#include "engine/core/snapshot.h"
#include "engine/core/progress.h"
#include "engine/ios/device_workflow.h"

/* What a restore of a snapshot needs to re-encrypt: the class keys of its
 * backup and, for --reencrypt, the new backup password. */
typedef struct device_keys device_keys;

/* *out stays NULL when sn restores as stored (not stored decrypted and no
 * re-keying asked).  Re-keying a snapshot that is not an encrypted device
 * backup is CAIRN_EINVAL; a wrong password CAIRN_EPASSWORD. */
cairn_err device_restore_keys(store *s, const snapshot *sn, int reencrypt,
                              const device_callbacks *cb, device_keys **out);
/* Files stored decrypted given back as the device's ciphertext. */
const file_encrypter *device_keys_encrypter(const device_keys *k);
void device_keys_free(device_keys *k);

typedef struct device_restore_result {
    int restored; /* the restore ran: the counts below are what it wrote */
    int partial;  /* some items were not restored or not sent */
    uint64_t files;
    uint64_t dirs;
    uint64_t bytes;
    uint64_t failed;       /* folder: files not restored (each warned) */
    int reencrypted;       /* folder: Manifest.plist now opens with the new password */
    uint64_t files_sent;   /* device */
    uint64_t bytes_sent;   /* device */
    uint64_t refused;      /* device: items that could not be sent */
    char device_udid[128]; /* device: the one restored to */
} device_restore_result;

typedef struct device_restore_folder_opts {
    const char *target;
    int overwrite;           /* allow a non-empty target */
    int threads;             /* 0: one per core */
    int reencrypt;           /* re-key the restored backup under a new backup password */
    const work_hooks *hooks; /* the restore's progress and stop (restore.h); may be NULL.
                              * Stopped: CAIRN_EINTERRUPTED, files/dirs/bytes say what
                              * was restored */
} device_restore_folder_opts;

/* Any snapshot into a folder.  CAIRN_EPARTIAL (result filled) when some
 * files could not be restored; then nothing is re-keyed. */
cairn_err device_restore_to_folder(store *s, const snapshot *sn,
                                   const device_restore_folder_opts *o, const device_callbacks *cb,
                                   device_restore_result *r);

typedef struct device_restore_device_opts {
    const char *device; /* UDID, or NULL: the only device connected */
    int system;         /* also restore system files */
    int settings;       /* restore the device's settings too */
    int no_reboot;      /* do not reboot when done */
    int remove;         /* remove items that are not in the backup */
} device_restore_device_opts;

/* A complete device backup onto a device.  A snapshot that is not a device
 * backup, or is incomplete, is CAIRN_EINVAL before any device is touched.
 * result.refused counts items the device could not be sent (CAIRN_OK). */
cairn_err device_restore_to_device(store *s, const snapshot *sn,
                                   const device_restore_device_opts *o, const device_callbacks *cb,
                                   device_restore_result *r);

#endif
