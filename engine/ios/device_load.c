/* device_load.c - device_connection.h and device_events.h in the
 * executable: each call goes to the module cairn-device.so
 * (device_module_private.h), loaded by the first call that can fail
 * (idev_list, idev_open, devevents_subscribe, devevents_list), so that only
 * a process that talks to a device maps libimobiledevice, libusbmuxd and
 * libssl.  Every other call needs an idev, a client or a subscription that
 * one of those made, so the module is there by then. */
#include "engine/ios/device_module_private.h"

#include <stdlib.h>

/* Present only where the static library cairn_device is linked (tests);
 * the cairn executable loads the module instead. */
extern const cairn_module device_module __attribute__((weak));

static cairn_err ops_of(const device_module_ops **ops)
{
    const void *p = NULL;
    const cairn_err rc = module_load("device", &device_module, &p);
    *ops = p;
    return rc;
}

static const device_module_ops *loaded_ops(void)
{
    return module_loaded("device", &device_module);
}

cairn_err idev_list(device_summary **out, size_t *count)
{
    const device_module_ops *ops = NULL;
    *out = NULL;
    *count = 0;
    const cairn_err rc = ops_of(&ops);
    return rc ? rc : ops->list(out, count);
}

void idev_list_free(device_summary *list, size_t count)
{
    for (size_t i = 0; list && i < count; i++) {
        free(list[i].udid);
        free(list[i].name);
        free(list[i].product_type);
        free(list[i].product_version);
    }
    free(list);
}

cairn_err idev_open(const char *udid, idev **out)
{
    const device_module_ops *ops = NULL;
    *out = NULL;
    const cairn_err rc = ops_of(&ops);
    return rc ? rc : ops->open(udid, out);
}

void idev_close(idev *d)
{
    if (d)
        loaded_ops()->close(d);
}

const char *idev_udid(const idev *d)
{
    return loaded_ops()->udid(d);
}

cairn_err idev_get_string(idev *d, const char *domain, const char *key, char **out)
{
    return loaded_ops()->get_string(d, domain, key, out);
}

cairn_err idev_will_encrypt(idev *d, int *on)
{
    return loaded_ops()->will_encrypt(d, on);
}

cairn_err idev_observe(idev *d, idev_note_fn note, void *ctx)
{
    return loaded_ops()->observe(d, note, ctx);
}

void idev_observe_end(idev *d)
{
    loaded_ops()->observe_end(d);
}

int idev_cancelled(idev *d)
{
    return loaded_ops()->cancelled(d);
}

cairn_err idev_sync_begin(idev *d)
{
    return loaded_ops()->sync_begin(d);
}

void idev_sync_end(idev *d)
{
    loaded_ops()->sync_end(d);
}

cairn_err idev_info_plist(idev *d, cbuf *xml)
{
    return loaded_ops()->info_plist(d, xml);
}

cairn_err idev_afc_put(idev *d, const char *path, const uint8_t *data, size_t len)
{
    return loaded_ops()->afc_put(d, path, data, len);
}

void idev_afc_remove(idev *d, const char *path)
{
    loaded_ops()->afc_remove(d, path);
}

cairn_err idev_start_backup_service(idev *d, mobilebackup2_client_t *out)
{
    return loaded_ops()->start_backup_service(d, out);
}

mobilebackup2_error_t idev_mb2_free(mobilebackup2_client_t c)
{
    return loaded_ops()->mb2_free(c);
}

mobilebackup2_error_t idev_mb2_send_message(mobilebackup2_client_t c, const char *message,
                                            plist_t options)
{
    return loaded_ops()->mb2_send_message(c, message, options);
}

mobilebackup2_error_t idev_mb2_receive_message(mobilebackup2_client_t c, plist_t *msg,
                                               char **dlmessage)
{
    return loaded_ops()->mb2_receive_message(c, msg, dlmessage);
}

mobilebackup2_error_t idev_mb2_send_raw(mobilebackup2_client_t c, const char *data, uint32_t len,
                                        uint32_t *sent)
{
    return loaded_ops()->mb2_send_raw(c, data, len, sent);
}

mobilebackup2_error_t idev_mb2_receive_raw(mobilebackup2_client_t c, char *data, uint32_t len,
                                           uint32_t *got)
{
    return loaded_ops()->mb2_receive_raw(c, data, len, got);
}

mobilebackup2_error_t idev_mb2_version_exchange(mobilebackup2_client_t c, double local[],
                                                char count, double *remote)
{
    return loaded_ops()->mb2_version_exchange(c, local, count, remote);
}

mobilebackup2_error_t idev_mb2_send_request(mobilebackup2_client_t c, const char *request,
                                            const char *target, const char *source, plist_t options)
{
    return loaded_ops()->mb2_send_request(c, request, target, source, options);
}

mobilebackup2_error_t idev_mb2_send_status_response(mobilebackup2_client_t c, int code,
                                                    const char *status1, plist_t status2)
{
    return loaded_ops()->mb2_send_status_response(c, code, status1, status2);
}

cairn_err devevents_subscribe(const devevents_sub *s)
{
    const device_module_ops *ops = NULL;
    const cairn_err rc = ops_of(&ops);
    return rc ? rc : ops->events_subscribe(s);
}

void devevents_unsubscribe(void)
{
    loaded_ops()->events_unsubscribe();
}

cairn_err devevents_list(devevents_event **out, size_t *count)
{
    const device_module_ops *ops = NULL;
    *out = NULL;
    *count = 0;
    const cairn_err rc = ops_of(&ops);
    return rc ? rc : ops->events_list(out, count);
}

void devevents_list_free(devevents_event *list, size_t count)
{
    for (size_t i = 0; list && i < count; i++)
        free((char *)list[i].udid);
    free(list);
}
