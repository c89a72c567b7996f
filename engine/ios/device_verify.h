/* device_verify.h - workflow: a restore drill without a device (cairn
 * verify).  One snapshot is judged item by item, each with a verdict:
 *
 *   data        every chunk it needs (trees, files, catalog) read and
 *               authenticated (check_snapshot_data)
 *   complete    the source was whole when it was stored
 *   catalog     device backups: every file of the catalog is in the
 *               snapshot with its size
 *   password    encrypted device backups, with the backup password: the
 *               keybag unlocks; stored decrypted, every file's key unwraps
 *               (a restore can give back the device's ciphertext); stored
 *               as the device's ciphertext, every encrypted file decrypts
 *               to valid PKCS#7 padding
 *   sqlite X    the main databases (Manifest.db, sms.db, Photos.sqlite,
 *               AddressBook, CallHistory) pass PRAGMA integrity_check, run
 *               on a plaintext copy in a private temporary folder (removed
 *               after); a backup stored as ciphertext needs the password
 *   ios         the iOS version the backup came from: a device restores it
 *               only with that version or later
 *
 * The password is asked through the callbacks as optional: none given
 * leaves the password item skipped.  Nothing is printed. */
#ifndef CAIRN_DEVICE_VERIFY_H
#define CAIRN_DEVICE_VERIFY_H

#include "store/store.h"
#include "engine/core/check.h"
#include "engine/core/snapshot.h"
#include "engine/ios/device_workflow.h"

typedef enum verify_verdict { VERIFY_OK, VERIFY_SKIPPED, VERIFY_FAILED } verify_verdict;

/* "ok", "skipped", "failed" */
const char *verify_verdict_name(verify_verdict v);

typedef void (*verify_item_fn)(void *ctx, const char *item, verify_verdict v, const char *detail);

typedef struct device_verify_opts {
    verify_item_fn item; /* each item's verdict, in the order above */
    void *item_ctx;
    check_report_fn report; /* each problem found, one line */
    void *report_ctx;
    const work_hooks *hooks; /* progress over the snapshot's files, and stop */
} device_verify_opts;

typedef struct device_verify_result {
    unsigned items, failed, skipped;
    check_result data;
    uint64_t catalog_files;    /* catalog files checked */
    uint64_t catalog_problems; /* missing, or another size */
    uint64_t keys_checked;     /* encrypted files whose key unwrapped */
    char ios_version[64];      /* "" when the snapshot does not say */
} device_verify_result;

/* CAIRN_OK when no item failed (the snapshot would restore); CAIRN_ECORRUPT
 * when one did, or CAIRN_EPASSWORD when only the password did; other errors
 * (out of memory, interrupted, a temporary file) stop the drill. */
cairn_err device_verify(store *s, const snapshot *sn, const device_verify_opts *o,
                        const device_callbacks *cb, device_verify_result *r);

#endif
