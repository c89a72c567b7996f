/* service.h - backups that happen by themselves: the loop behind
 * `cairn daemon` (prefix service_).
 *
 * It subscribes to usbmuxd's device events through libimobiledevice (USB
 * and Wi-Fi devices) and keeps a queue of the devices present; one device
 * at a time, when a device's policy (policy.h) says a backup is due (its
 * newest snapshot and its last success are older than the interval, the
 * hour is allowed, its connection is allowed, no backoff is running), it
 * backs the device up (device_backup_from_device), copies the store to the
 * policy's targets, applies the retention rules (forget and prune, then
 * copies again so the targets mirror the removals) and reads a random
 * sample of the packs (check_opts.read_data_subset).  The store is opened
 * per job (another cairn waits for it, and it waits, bounded, for another).
 *
 * What happens is told as one line per event through log; what matters
 * later is kept in the state file (state.h).  Alarms (alarm_sink.h, the
 * policy's "alarms") are sent once per condition: overdue, copies behind,
 * failed check, failed job, disk full (no retry storm: the next try waits a
 * whole interval), pairing lost, and the device waiting for its passcode.
 * A device that leaves mid-backup stores nothing and is retried at its next
 * appearance, with a backoff that doubles after each failure in a row.
 *
 * The clock is injectable (tests simulate days in seconds). */
#ifndef CAIRN_SERVICE_H
#define CAIRN_SERVICE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "engine/service/policy.h"
#include "engine/service/state.h"

typedef struct service_opts {
    const char *store_path; /* a local store */
    /* the store's password (the caller's, wiped by the caller), or NULL:
     * the [default] policy's store-password-file */
    const char *password;
    size_t password_len;
    const char *policy_path; /* NULL: policy_default_path() */
    const char *state_path;  /* NULL: svcstate_path(store_path) */
    int once;                /* handle the devices connected now, then return */
    unsigned wait_seconds;   /* the store busy with another cairn: wait this long */
    int threads;             /* backup workers (0: one per core) */
    /* the clock, Unix seconds (NULL: $CAIRN_TEST_NOW if set, else time()) */
    int64_t (*now)(void *ctx);
    void *now_ctx;
    /* one line per event, from the calling thread or, while a device
     * works, libimobiledevice's notification thread */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    const atomic_int *stop; /* set (SIGTERM): ends after the current step */
} service_opts;

/* Runs until *stop (or, with once, until the devices present at the start
 * were handled).  Errors of a job are logged, kept in the state and
 * alarmed, never returned: the return is CAIRN_OK, or the error that keeps
 * the service from running at all (no policy file that parses, no state
 * folder, no device events). */
cairn_err service_run(const service_opts *o);

/* When the device is next due under p (0: now). */
int64_t service_next_due(const svcstate_device *d, const policy *p);

/* The clock the service uses when none is given: $CAIRN_TEST_NOW, else time(). */
int64_t service_clock(void);

#endif
