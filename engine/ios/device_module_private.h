/* device_module_private.h - (private to engine/ios/device_*.c) the module
 * cairn-device.so (util/module.h): device_connection.c and
 * device_events.c, the only code that links libimobiledevice (and through
 * it libusbmuxd and libssl).  device_load.c, in the executable, implements
 * device_connection.h and device_events.h through the module's ops, so a
 * command that never talks to a device (a backup of a MobileSync folder,
 * a restore to a folder, check, prune ...) never maps those libraries. */
#ifndef CAIRN_DEVICE_MODULE_PRIVATE_H
#define CAIRN_DEVICE_MODULE_PRIVATE_H

#include "engine/ios/device_connection.h"
#include "engine/ios/device_events.h"
#include "util/module.h"

/* What cairn-device.so does behind the functions of the same names
 * (idev_*, idev_mb2_*, devevents_*). */
typedef struct device_module_ops {
    cairn_err (*list)(device_summary **out, size_t *count);
    cairn_err (*open)(const char *udid, idev **out);
    void (*close)(idev *d);
    const char *(*udid)(const idev *d);
    cairn_err (*get_string)(idev *d, const char *domain, const char *key, char **out);
    cairn_err (*will_encrypt)(idev *d, int *on);
    cairn_err (*observe)(idev *d, idev_note_fn note, void *ctx);
    void (*observe_end)(idev *d);
    int (*cancelled)(idev *d);
    cairn_err (*sync_begin)(idev *d);
    void (*sync_end)(idev *d);
    cairn_err (*info_plist)(idev *d, cbuf *xml);
    cairn_err (*afc_put)(idev *d, const char *path, const uint8_t *data, size_t len);
    void (*afc_remove)(idev *d, const char *path);
    cairn_err (*start_backup_service)(idev *d, mobilebackup2_client_t *out);
    /* libimobiledevice's own functions */
    mobilebackup2_error_t (*mb2_free)(mobilebackup2_client_t c);
    mobilebackup2_error_t (*mb2_send_message)(mobilebackup2_client_t c, const char *message,
                                              plist_t options);
    mobilebackup2_error_t (*mb2_receive_message)(mobilebackup2_client_t c, plist_t *msg,
                                                 char **dlmessage);
    mobilebackup2_error_t (*mb2_send_raw)(mobilebackup2_client_t c, const char *data, uint32_t len,
                                          uint32_t *sent);
    mobilebackup2_error_t (*mb2_receive_raw)(mobilebackup2_client_t c, char *data, uint32_t len,
                                             uint32_t *got);
    mobilebackup2_error_t (*mb2_version_exchange)(mobilebackup2_client_t c, double local[],
                                                  char count, double *remote);
    mobilebackup2_error_t (*mb2_send_request)(mobilebackup2_client_t c, const char *request,
                                              const char *target, const char *source,
                                              plist_t options);
    mobilebackup2_error_t (*mb2_send_status_response)(mobilebackup2_client_t c, int code,
                                                      const char *status1, plist_t status2);
    cairn_err (*events_subscribe)(const devevents_sub *s);
    void (*events_unsubscribe)(void);
    cairn_err (*events_list)(devevents_event **out, size_t *count);
} device_module_ops;
extern const cairn_module device_module;

/* device_events.c's part of the table */
cairn_err device_events_subscribe(const devevents_sub *s);
void device_events_unsubscribe(void);
cairn_err device_events_list(devevents_event **out, size_t *count);

#endif
