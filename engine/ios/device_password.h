/* device_password.h - a device's backup encryption as one call: turning it
 * on or off, or changing the backup password.  Changing the password
 * archives the device's newest chain in the store (its snapshots need the
 * old password; the next backup starts a new chain).  Passwords are asked
 * through the callbacks (device_workflow.h) and wiped after use; what
 * changed is said in notes and the result. */
#ifndef CAIRN_DEVICE_PASSWORD_H
#define CAIRN_DEVICE_PASSWORD_H

#include "store/store.h"
#include "engine/core/snapshot.h"
#include "engine/ios/device_workflow.h"

typedef enum device_password_action {
    DEVICE_ENCRYPTION_ON,
    DEVICE_ENCRYPTION_OFF,
    DEVICE_CHANGE_PASSWORD,
} device_password_action;

typedef struct device_password_opts {
    device_password_action action;
    const char *device; /* UDID, or NULL: the only device connected */
} device_password_opts;

typedef struct device_password_result {
    char device_udid[128];
    char archived_chain[256]; /* DEVICE_CHANGE_PASSWORD: the chain archived, or "" */
} device_password_result;

/* s: the store open for writing (DEVICE_CHANGE_PASSWORD, opened before the
 * device changes anything), else NULL.  Asking for the state the device
 * is already in is CAIRN_EINVAL, as is changing a password that is off. */
cairn_err device_change_password(store *s, const device_password_opts *o,
                                 const device_callbacks *cb, device_password_result *r);

/* ---- device password-test: the backup password against each chain ----
 * Offline: the password is tried on the keybag of the stored Manifest.plist
 * of each chain's newest snapshot (current and archived chains alike), so
 * a user can learn long before a restore whether they still know it. */

typedef enum device_pw_verdict {
    DEVICE_PW_OK,          /* the password unlocks the chain's keybag */
    DEVICE_PW_WRONG,       /* it does not */
    DEVICE_PW_UNENCRYPTED, /* the chain's backups are not encrypted */
    DEVICE_PW_UNREADABLE,  /* the keybag could not be read (detail says why) */
} device_pw_verdict;

typedef struct device_pw_chain {
    const char *chain;
    int archived;
    const snapshot *newest; /* the snapshot whose keybag was tried */
    device_pw_verdict verdict;
    const char *detail; /* DEVICE_PW_UNREADABLE: why */
} device_pw_chain;

typedef struct device_pw_test_result {
    char device_udid[128];
    unsigned chains, ok, wrong, unencrypted, unreadable;
} device_pw_test_result;

/* device: a selector as snaplist_device takes it (NULL: the only device in
 * the store).  The password is asked once (required).  Each chain goes to
 * fn, oldest chain first.  CAIRN_EPASSWORD when it is wrong for a chain,
 * CAIRN_ECORRUPT when a keybag could not be read, CAIRN_EINVAL when the
 * device has no encrypted chain. */
cairn_err device_password_test(store *s, const char *device, const device_callbacks *cb,
                               void (*fn)(void *ctx, const device_pw_chain *c), void *ctx,
                               device_pw_test_result *r);

#endif
