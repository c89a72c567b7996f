/* device_connection.h - a connected iOS device through libimobiledevice: finding it
 * (USB or Wi-Fi), a trusted lockdown session (with a clear word when the
 * device is locked or waits for "Trust"), its values, the sync lock and
 * notifications that frame a backup or restore, the Info.plist a backup
 * host writes, and the mobilebackup2 service.
 *
 * Nothing here knows about stores or snapshots.  libimobiledevice is
 * reached only through the module cairn-device.so, loaded by the first
 * idev_list or idev_open (device_module_private.h): CAIRN_EMODULE, one
 * line, when it cannot be. */
#ifndef CAIRN_IDEV_H
#define CAIRN_IDEV_H

#include <stddef.h>
#include <stdint.h>

#include <libimobiledevice/mobilebackup2.h>

#include "util/codec.h"
#include "util/err.h"

typedef struct idev idev;

/* One connected device as "cairn devices" shows it.  Strings are NULL when
 * unknown (the device did not let us ask). */
typedef struct device_summary {
    char *udid;
    char *name;
    char *product_type;
    char *product_version;
    int network;       /* reached over Wi-Fi rather than USB */
    int paired;        /* a trusted session opened */
    int encrypt;       /* backup encryption: 1 on, 0 off, -1 unknown */
    char problem[256]; /* why it is not paired, or "" */
} device_summary;

/* Every device usbmuxd knows (USB and Wi-Fi), one entry per UDID. */
cairn_err idev_list(device_summary **out, size_t *count);
void idev_list_free(device_summary *list, size_t count);

/* Opens a trusted session with the device udid, or with the only device
 * connected when udid is NULL or "".  CAIRN_ESOURCE says why not: no such
 * device, several devices, locked with a passcode, waiting for "Trust". */
cairn_err idev_open(const char *udid, idev **out);
void idev_close(idev *d);

const char *idev_udid(const idev *d);

/* A value of the device as a string (domain NULL: the main domain);
 * *out is NULL (and CAIRN_OK) when the device has no such value. */
cairn_err idev_get_string(idev *d, const char *domain, const char *key, char **out);

/* Whether the device encrypts its backups (WillEncrypt). */
cairn_err idev_will_encrypt(idev *d, int *on);

/* What the host tells the user while the device is busy: its user asked to
 * cancel, or it shows its passcode prompt. */
typedef void (*idev_note_fn)(void *ctx, const char *message);

/* Observes the device's sync notifications (cancel, passcode prompt):
 * note is called from another thread. */
cairn_err idev_observe(idev *d, idev_note_fn note, void *ctx);
/* Stops observing (in the background: idev_close waits for it). */
void idev_observe_end(idev *d);
int idev_cancelled(idev *d);

/* The sync lock a host holds while it backs up or restores (the device's
 * own apps stay out of the way meanwhile), with the notifications around
 * it.  idev_sync_end releases it; it is a no-op without a lock. */
cairn_err idev_sync_begin(idev *d);
void idev_sync_end(idev *d);

/* The Info.plist a backup host writes (as idevicebackup2 1.3.0 does: the
 * device's values, its user apps with their icons, iTunes files), XML. */
cairn_err idev_info_plist(idev *d, cbuf *xml);

/* Writes a small file on the device's media partition (AFC), making its
 * folder first. */
cairn_err idev_afc_put(idev *d, const char *path, const uint8_t *data, size_t len);
/* Removes a file or an empty folder there, best effort and without a
 * message (the cleanup after a failure keeps the failure's). */
void idev_afc_remove(idev *d, const char *path);

/* Starts mobilebackup2 (with the pair record's escrow bag, which newer
 * iOS asks for); free it with idev_mb2_free. */
cairn_err idev_start_backup_service(idev *d, mobilebackup2_client_t *out);

/* libimobiledevice's mobilebackup2_client_free, mobilebackup2_send_message
 * ... under these names, for a client idev_start_backup_service made. */
mobilebackup2_error_t idev_mb2_free(mobilebackup2_client_t c);
mobilebackup2_error_t idev_mb2_send_message(mobilebackup2_client_t c, const char *message,
                                            plist_t options);
mobilebackup2_error_t idev_mb2_receive_message(mobilebackup2_client_t c, plist_t *msg,
                                               char **dlmessage);
mobilebackup2_error_t idev_mb2_send_raw(mobilebackup2_client_t c, const char *data, uint32_t len,
                                        uint32_t *sent);
mobilebackup2_error_t idev_mb2_receive_raw(mobilebackup2_client_t c, char *data, uint32_t len,
                                           uint32_t *got);
mobilebackup2_error_t idev_mb2_version_exchange(mobilebackup2_client_t c, double local[],
                                                char count, double *remote);
mobilebackup2_error_t idev_mb2_send_request(mobilebackup2_client_t c, const char *request,
                                            const char *target, const char *source,
                                            plist_t options);
mobilebackup2_error_t idev_mb2_send_status_response(mobilebackup2_client_t c, int code,
                                                    const char *status1, plist_t status2);

#endif
