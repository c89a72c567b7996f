/* device_events.c - device_events.h behind the module cairn-device.so. */
#include "engine/ios/device_module_private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libimobiledevice/libimobiledevice.h>

static void on_event(const idevice_event_t *e, void *user)
{
    const devevents_sub *const s = user;
    if (!e->udid || (e->event != IDEVICE_DEVICE_ADD && e->event != IDEVICE_DEVICE_REMOVE &&
                     e->event != IDEVICE_DEVICE_PAIRED))
        return;
    const devevents_event ev = {e->event != IDEVICE_DEVICE_REMOVE, e->udid,
                                e->conn_type == CONNECTION_NETWORK,
                                e->event == IDEVICE_DEVICE_PAIRED};
    s->fn(s->ctx, &ev);
}

cairn_err device_events_subscribe(const devevents_sub *s)
{
    /* the callback does not change s: libimobiledevice's user data is not const */
    if (idevice_event_subscribe(on_event, (void *)(uintptr_t)s) != IDEVICE_E_SUCCESS)
        return err_set(CAIRN_ESOURCE, "cannot subscribe to device events: is usbmuxd running?");
    return CAIRN_OK;
}

void device_events_unsubscribe(void)
{
    idevice_event_unsubscribe();
}

cairn_err device_events_list(devevents_event **out, size_t *count)
{
    idevice_info_t *list = NULL;
    int n = 0;
    *out = NULL;
    *count = 0;
    if (idevice_get_device_list_extended(&list, &n) != IDEVICE_E_SUCCESS || n <= 0) {
        if (list)
            idevice_device_list_extended_free(list);
        return CAIRN_OK; /* no usbmuxd or no device: nothing present */
    }
    devevents_event *const ev = calloc((size_t)n, sizeof *ev);
    if (!ev) {
        idevice_device_list_extended_free(list);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        ev[i].attached = 1;
        ev[i].network = list[i]->conn_type == CONNECTION_NETWORK;
        if (!(ev[i].udid = strdup(list[i]->udid ? list[i]->udid : ""))) {
            devevents_list_free(ev, (size_t)i);
            idevice_device_list_extended_free(list);
            return err_set(CAIRN_ENOMEM, "out of memory");
        }
    }
    idevice_device_list_extended_free(list);
    *out = ev;
    *count = (size_t)n;
    return CAIRN_OK;
}
