/* mobilebackup2_host.h - the host side of mobilebackup2, with a stream as the backup
 * folder.
 *
 * During a backup or restore the device drives: it asks the host for files
 * (DLMessageDownloadFiles), sends files (DLMessageUploadFiles), has the host
 * list, make, move, copy and remove items, and ends with a final status.
 * Here every request is answered from a stream (engine/core/snapshot_edit.h) that stands in
 * for the folder <backup dir>/<UDID>: files the device asks for are read
 * from the store, files it sends are chunked into the store as they
 * arrive, and its moves, copies and removals change the snapshot being
 * built.  Device paths are "<UDID>/..."; anything outside that folder is
 * refused like a missing file.
 *
 * The message loop follows libimobiledevice's idevicebackup2 (1.3.0) so
 * that a finished stream holds exactly what idevicebackup2 would have
 * written to disk for the same session. */
#ifndef CAIRN_MB2HOST_H
#define CAIRN_MB2HOST_H

#include <stdint.h>

#include "util/err.h"
#include "engine/ios/device_connection.h"
#include "engine/core/snapshot_edit.h"

typedef struct mb2host_progress {
    uint64_t files_received; /* from the device, this session */
    uint64_t bytes_received;
    uint64_t files_sent; /* to the device */
    uint64_t bytes_sent;
    double device_percent; /* the device's own estimate, 0-100 */
} mb2host_progress;

typedef struct mb2host_events {
    /* a file the device could not send, or a request the host refused */
    void (*warn)(void *ctx, const char *path, const char *message);
    void (*progress)(void *ctx, const mb2host_progress *p);
    /* what the user should know: waiting for the device, its passcode */
    void (*note)(void *ctx, const char *message);
    void *ctx;
} mb2host_events;

typedef struct mb2host_result {
    mb2host_progress done;
    uint64_t failed;  /* files the device reported it could not read */
    uint64_t refused; /* requests the host could not carry out */
} mb2host_result;

/* Backs the device up into st (which starts from the previous snapshot of
 * the device, so the device sends only what changed).  Writes Info.plist
 * first, as a backup host does.  space_path: where free disk space is
 * measured for the device (the store).  CAIRN_ESOURCE when the device
 * goes away or ends the backup with an error: st then holds a partial
 * session and must not be committed. */
cairn_err mb2host_backup(idev *d, stream *st, int full, const char *space_path,
                         const mb2host_events *ev, mb2host_result *r);

typedef struct mb2host_restore_opts {
    const char *source_udid;   /* the device the snapshot was taken from */
    int system;                /* also restore system files */
    int settings;              /* restore the device's settings too */
    int no_reboot;             /* do not reboot when done */
    int remove;                /* remove items that are not in the backup */
    const char *password;      /* an encrypted backup's password, or NULL */
    const uint8_t *info_plist; /* the backup's Info.plist: its Applications are put on */
    size_t info_plist_len;     /* the device for reinstalling (NULL: none) */
} mb2host_restore_opts;

/* Restores the snapshot open as the read-only view to the device. */
cairn_err mb2host_restore(idev *d, stream *view, const mb2host_restore_opts *o,
                          const mb2host_events *ev, mb2host_result *r);

/* Turns backup encryption on (old NULL), off (new NULL) or changes the
 * password.  The passwords go to the device only. */
cairn_err mb2host_change_password(idev *d, const char *old_pw, const char *new_pw,
                                  const mb2host_events *ev);

#endif
