/* device_steps.h - the steps the device workflows (device_backup.c,
 * device_restore.c, device_password.c) share; private to engine/ios.
 * Each step reports through the caller's device_callbacks and never
 * prints. */
#ifndef CAIRN_DEVICE_STEPS_H
#define CAIRN_DEVICE_STEPS_H

#include <stddef.h>

#include "store/store.h"
#include "engine/core/snapshot_list.h"
#include "engine/ios/backup_encryption.h"
#include "engine/ios/backup_folder.h"
#include "engine/ios/device_connection.h"
#include "engine/ios/device_workflow.h"
#include "engine/ios/mobilebackup2_host.h"

/* A password from the caller; text is NULL when none was given. */
typedef struct device_secret {
    char *text;
    size_t len;
} device_secret;

/* Asks through cb->password; a required password that is not given is
 * CAIRN_EPASSWORD. */
cairn_err device_ask(const device_callbacks *cb, device_password_kind kind, const char *prompt,
                     int optional, device_secret *out);
/* Wipes and frees the password (safe on an empty one). */
void device_secret_wipe(device_secret *s);

/* printf-style lines through cb->note, cb->event and cb->warning. */
void device_note(const device_callbacks *cb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void device_event(const device_callbacks *cb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void device_warn(const device_callbacks *cb, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The mb2host events that forward to cb (which must outlive them). */
mb2host_events device_events(const device_callbacks *cb);

/* "device: NAME (MODEL, iOS X), UDID U" as a note. */
void device_announce(idev *d, const device_callbacks *cb);

/* The newest snapshot of the device in any of its chains, or NULL. */
const snapshot *device_newest_snapshot(const snaplist *l, const char *udid);

/* A new encryption identity for the device archives its current chain
 * (noted); archived receives the chain's name, or "" when none was. */
cairn_err device_rotate_chain(store *s, const snaplist *l, const device_info *dev,
                              const device_callbacks *cb, char *archived, size_t cap);

/* The class keys of a snapshot of an encrypted backup, unlocked from its
 * stored Manifest.plist with the backup password. */
cairn_err device_snapshot_keys(store *s, const snapshot *sn, const device_secret *pw,
                               iosenc_keys **out);

/* The completeness policy: an incomplete backup is refused unless
 * allow_incomplete, then stored marked incomplete (warned), the number of
 * content files missing recorded in its metadata (SNAP_META_MISSING_COUNT). */
cairn_err device_completeness(device_info *dev, int allow_incomplete, const device_callbacks *cb);

#endif
