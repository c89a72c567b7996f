/* device_password.h - a device's backup encryption as one call: turning it
 * on or off, or changing the backup password.  Changing the password
 * archives the device's newest chain in the store (its snapshots need the
 * old password; the next backup starts a new chain).  Passwords are asked
 * through the callbacks (device_workflow.h) and wiped after use; what
 * changed is said in notes and the result. */
#ifndef CAIRN_DEVICE_PASSWORD_H
#define CAIRN_DEVICE_PASSWORD_H

#include "store/store.h"
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

#endif
