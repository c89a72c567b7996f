/* state.h - what the service remembers between runs (prefix svcstate_):
 * per device the last attempt, last success, last failure and why, the
 * backoff; the alarms raised (each sent once per condition); the job
 * history (the newest SVCSTATE_JOBS).
 *
 * A small text file beside the store's caches,
 * ${XDG_CACHE_HOME:-~/.cache}/cairn/service/<hash of the store path>.state
 * (docs/SERVICE.md), rewritten atomically after each change.  The store
 * never needs it: deleting it forgets the history and the alarms sent,
 * nothing else.  The parser is strict (fuzz/fuzz_policy.c feeds it too). */
#ifndef CAIRN_SVCSTATE_H
#define CAIRN_SVCSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum { SVCSTATE_JOBS = 200, SVCSTATE_TEXT = 256 };

typedef struct svcstate_device {
    char udid[64];
    char name[128];
    int64_t first_seen;
    int64_t last_attempt;
    int64_t last_success;
    int64_t last_failure;
    int64_t next_try; /* backoff: not before this (0: any time) */
    int failures;     /* in a row */
    char last_snapshot[72];
    char reason[SVCSTATE_TEXT]; /* of the last failure */
} svcstate_device;

typedef struct svcstate_alarm {
    char key[160]; /* the condition: "overdue UDID", "disk-full", ... */
    int64_t since;
} svcstate_alarm;

typedef struct svcstate_job {
    int64_t time;
    char udid[64];
    char result[16]; /* ok, failed, skipped */
    char message[SVCSTATE_TEXT];
} svcstate_job;

typedef struct svcstate {
    svcstate_device *devices;
    size_t ndevices, cap_devices;
    svcstate_alarm *alarms;
    size_t nalarms, cap_alarms;
    svcstate_job *jobs; /* oldest first */
    size_t njobs, cap_jobs;
    int64_t behind_since; /* 3-2-1 not met since (0: met, or not known) */
} svcstate;

/* The state file of the store at store_path (made absolute first). */
cairn_err svcstate_path(const char *store_path, char *out, size_t cap);

/* An empty state for a missing file; CAIRN_ECORRUPT naming the line. */
cairn_err svcstate_load(const char *path, svcstate *out);
cairn_err svcstate_parse(const char *text, size_t len, const char *name, svcstate *out);
cairn_err svcstate_save(const char *path, const svcstate *st);
void svcstate_free(svcstate *st);

/* The device's record (created when create, else NULL if unknown). */
svcstate_device *svcstate_device_get(svcstate *st, const char *udid, int create);

/* Whether the alarm for key was raised (and not cleared since). */
int svcstate_alarm_raised(const svcstate *st, const char *key);
cairn_err svcstate_alarm_raise(svcstate *st, const char *key, int64_t now);
/* Returns 1 if it was raised. */
int svcstate_alarm_clear(svcstate *st, const char *key);

cairn_err svcstate_add_job(svcstate *st, int64_t when, const char *udid, const char *result,
                           const char *message);

#endif
