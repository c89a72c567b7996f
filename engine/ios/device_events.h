/* device_events.h - devices as usbmuxd sees them come and go (USB and
 * Wi-Fi), through libimobiledevice's event subscription (prefix
 * devevents_).  libimobiledevice allows one subscription per process; the
 * callback runs on its own thread.  Through the module cairn-device.so
 * (device_connection.h), loaded by the first devevents_subscribe or
 * devevents_list. */
#ifndef CAIRN_DEVICE_EVENTS_H
#define CAIRN_DEVICE_EVENTS_H

#include <stddef.h>

#include "util/err.h"

typedef struct devevents_event {
    int attached; /* 1: appeared (or was there when subscribing), 0: left */
    const char *udid;
    int network; /* over Wi-Fi rather than USB */
    int paired;  /* 1 (attached too): a host has just paired it, i.e. it trusts
                  * that host now (usbmuxd's Paired, after a pairing by any
                  * program on this computer) */
} devevents_event;

typedef struct devevents_sub {
    void (*fn)(void *ctx, const devevents_event *e);
    void *ctx;
} devevents_sub;

/* Calls s->fn for every device present now and every change from now on,
 * from libimobiledevice's event thread, until devevents_unsubscribe; s
 * must live until then. */
cairn_err devevents_subscribe(const devevents_sub *s);
void devevents_unsubscribe(void);

/* The devices present now, each as an attached event (one per UDID and
 * connection); free with devevents_list_free. */
cairn_err devevents_list(devevents_event **out, size_t *count);
void devevents_list_free(devevents_event *list, size_t count);

#endif
