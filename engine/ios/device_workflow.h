/* device_workflow.h - what every device workflow (device_backup.h,
 * device_restore.h, device_password.h) shares with its caller: the
 * callbacks through which it asks for passwords and tells what happens,
 * progress, and the list of connected devices.
 *
 * A workflow is one call that takes options and these callbacks and fills
 * a result struct; it never prints.  Promises:
 *  - a password handed to the workflow is wiped (sodium_memzero) and freed
 *    (sodium_free) by it as soon as it is used, on every path;
 *  - note lines come in the order a user should read them, before the call
 *    returns; the caller shows them as results (standard output);
 *  - event and warning lines are about trouble or waiting (standard error);
 *  - progress may be called from a thread libimobiledevice runs; the other
 *    callbacks only from the calling thread or, for event and warning while
 *    the device works, that same notification thread. */
#ifndef CAIRN_DEVICE_WORKFLOW_H
#define CAIRN_DEVICE_WORKFLOW_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "engine/ios/device_connection.h"

typedef enum device_password_kind {
    DEVICE_PASSWORD_BACKUP,     /* the backup password a device backup is encrypted with */
    DEVICE_PASSWORD_NEW_BACKUP, /* a new backup password: worth asking twice */
} device_password_kind;

typedef struct device_password_request {
    device_password_kind kind;
    const char *prompt; /* shown when the user is asked at a terminal */
    int optional;       /* "none given" is an answer (the backup is stored as it is) */
} device_password_request;

typedef struct device_progress {
    uint64_t files_received; /* from the device, this session */
    uint64_t bytes_received;
    uint64_t files_sent; /* to the device */
    uint64_t bytes_sent;
    double device_percent; /* the device's own estimate, 0-100 */
} device_progress;

typedef struct device_callbacks {
    void *ctx;
    /* *text: sodium_malloc'd and NUL-terminated, *len its length; *text
     * NULL with CAIRN_OK means none was given (only when req->optional).
     * An error ends the workflow with it. */
    cairn_err (*password)(void *ctx, const device_password_request *req, char **text, size_t *len);
    void (*progress)(void *ctx, const device_progress *p); /* may be NULL */
    /* an item that was left out or kept as it is (path NULL: the whole
     * backup); the workflow goes on */
    void (*warning)(void *ctx, const char *path, const char *message);
    /* a line of what was done: the device, its encryption, chains archived */
    void (*note)(void *ctx, const char *line);
    /* what the user should know while it happens: waiting for the device,
     * its passcode, that nothing was saved after a failure */
    void (*event)(void *ctx, const char *message);
} device_callbacks;

/* device_summary: one connected device (engine/ios/device_connection.h). */
/* Every device usbmuxd knows (USB and Wi-Fi), one entry per UDID. */
cairn_err device_list(device_summary **out, size_t *count);
void device_list_free(device_summary *list, size_t count);

#endif
