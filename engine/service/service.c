#include "engine/service/service.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "util/fsutil.h"
#include "util/grow.h"
#include "engine/core/check.h"
#include "engine/core/copy.h"
#include "engine/core/copy_targets.h"
#include "engine/core/prune.h"
#include "engine/core/snapshot_list.h"
#include "engine/ios/device_backup.h"
#include "engine/ios/device_events.h"
#include "engine/service/alarm_sink.h"

enum {
    UDID_MAX = 64,
    BACKOFF_MAX = 6 * 3600,
    REVISIT_SECONDS = 60, /* present devices are looked at again this often (real time) */
};

typedef struct svc_event {
    char udid[UDID_MAX];
    int attached, network, paired;
} svc_event;

typedef struct svc_present {
    char udid[UDID_MAX];
    int usb, wifi; /* connections it is present over */
    int queued;
} svc_present;

typedef struct svc {
    const service_opts *o;
    /* events come from libimobiledevice's thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    svc_event *events;
    size_t nevents, cap_events;
    char current[UDID_MAX]; /* the device being backed up (under mu) */
    int current_left;       /* it left meanwhile (under mu) */
    /* the rest: the service's thread only */
    svc_present *present;
    size_t npresent, cap_present;
    char policy_path[PATH_MAX], state_path[PATH_MAX];
    policy_file *pf;
    svcstate st;
    char *password; /* sodium_malloc'd when read from the policy's file */
    size_t password_len;
    store *held;          /* once: the store, open for the whole run */
    const char *job_udid; /* for the device callbacks */
    const policy *job_policy;
} svc;

int64_t service_clock(void)
{
    const char *const t = getenv("CAIRN_TEST_NOW");
    if (t && *t) {
        char *end;
        const long long v = strtoll(t, &end, 10);
        if (!*end && v > 0)
            return v;
    }
    return (int64_t)time(NULL);
}

static int64_t now(const svc *v)
{
    return v->o->now ? v->o->now(v->o->now_ctx) : service_clock();
}

static void say(svc *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(svc *v, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (v->o->log)
        v->o->log(v->o->log_ctx, line);
}

static int stopped(const svc *v)
{
    return v->o->stop && atomic_load(v->o->stop);
}

int64_t service_next_due(const svcstate_device *d, const policy *p)
{
    int64_t due = d->last_success ? d->last_success + p->interval : 0;
    if (d->next_try > due)
        due = d->next_try;
    return due;
}

static void save_state(svc *v)
{
    if (svcstate_save(v->state_path, &v->st))
        say(v, "warning: cannot save the service state: %s", err_msg());
}

/* ---- secrets: read from a file the policy names, into locked memory ---- */

static cairn_err read_secret(const char *setting, char **out, size_t *len)
{
    char path[PATH_MAX];
    uint8_t *data = NULL;
    size_t n = 0;
    cairn_err rc = policy_secret_path(setting, path, sizeof path);
    if (!rc)
        rc = fs_read_file(path, 4096, &data, &n);
    if (rc)
        return rc;
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        n--;
    *out = sodium_malloc(n + 1);
    if (*out) {
        memcpy(*out, data, n);
        (*out)[n] = '\0';
        *len = n;
    }
    sodium_memzero(data, n);
    free(data);
    return *out ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
}

/* ---- alarms ---- */

/* Sends the alarm once per condition key (cleared when the condition ends). */
static void raise_alarm(svc *v, const policy *p, alarm_kind kind, const char *key,
                        const char *device, const char *title, const char *body)
{
    if (svcstate_alarm_raised(&v->st, key))
        return;
    const int64_t t = now(v);
    if (svcstate_alarm_raise(&v->st, key, t)) {
        say(v, "warning: %s", err_msg());
        return;
    }
    save_state(v);
    const struct alarm a = {kind, device, title, body, t};
    size_t sent = 0, tried = 0;
    char specs[sizeof p->alarms];
    snprintf(specs, sizeof specs, "%s", p->alarms);
    for (char *save = NULL, *spec = strtok_r(specs, ";", &save); spec;
         spec = strtok_r(NULL, ";", &save)) {
        while (*spec == ' ')
            spec++;
        if (!*spec)
            continue;
        alarm_sink *sink = NULL;
        tried++;
        cairn_err rc = alarm_sink_parse(spec, &sink);
        if (!rc)
            rc = alarm_sink_send(sink, &a);
        alarm_sink_free(sink);
        if (rc)
            say(v, "alarm %s: could not be sent: %s", alarm_kind_name(kind), err_msg());
        else
            sent++;
    }
    say(v, "alarm %s%s%s: %s (sent to %zu of %zu sink(s))", alarm_kind_name(kind),
        device ? " for " : "", device ? device : "", title, sent, tried);
}

static void clear_alarm(svc *v, const char *key)
{
    if (svcstate_alarm_clear(&v->st, key))
        save_state(v);
}

static void device_key(char *out, size_t cap, const char *what, const char *udid)
{
    snprintf(out, cap, "%s %s", what, udid);
}

static void load_policy(svc *v)
{
    policy_file *f = NULL;
    if (policy_load(v->policy_path, &f)) {
        say(v, "policy: %s (the previous one stays in force)", err_msg());
        return;
    }
    policy_file_free(v->pf);
    v->pf = f;
}

/* Overdue devices and a 3-2-1 rule not met for too long. */
static void evaluate_alarms(svc *v)
{
    const int64_t t = now(v);
    char key[160], title[256];
    for (size_t i = 0; i < v->st.ndevices; i++) {
        const svcstate_device *const d = &v->st.devices[i];
        policy p;
        policy_for(v->pf, d->udid, d->name, &p);
        const int64_t ref = d->last_success ? d->last_success : d->first_seen;
        device_key(key, sizeof key, "overdue", d->udid);
        if (ref && t - ref > (int64_t)p.overdue_days * 86400) {
            snprintf(title, sizeof title, "no backup of %s for %d days",
                     *d->name ? d->name : d->udid, (int)((t - ref) / 86400));
            raise_alarm(v, &p, ALARM_OVERDUE, key, d->udid, title,
                        d->last_success ? "connect the device to back it up"
                                        : "it was never backed up: connect it");
        } else {
            clear_alarm(v, key);
        }
    }
    target_list l = {NULL, 0};
    uint8_t(*snaps)[ID_LEN] = NULL;
    size_t nsnaps = 0;
    rule321 r;
    memset(&r, 0, sizeof r);
    if (targets_load(v->o->store_path, &l) ||
        copy_store_snapshots(v->o->store_path, &snaps, &nsnaps) ||
        targets_rule321(&l, (const uint8_t(*)[ID_LEN])snaps, nsnaps, &r)) {
        say(v, "warning: cannot evaluate the 3-2-1 rule: %s", err_msg());
    } else if (nsnaps && !r.met) {
        policy p;
        policy_for(v->pf, NULL, NULL, &p);
        if (!v->st.behind_since) {
            v->st.behind_since = t;
            save_state(v);
        }
        if (t - v->st.behind_since > (int64_t)p.copies_behind_days * 86400) {
            char needs[256];
            targets_rule321_needs(&r, needs, sizeof needs);
            snprintf(title, sizeof title, "3-2-1 not met for %d days: need %s",
                     (int)((t - v->st.behind_since) / 86400), needs);
            raise_alarm(v, &p, ALARM_COPIES_BEHIND, "copies-behind", NULL, title,
                        "run 'cairn status' to see what each target misses");
        }
    } else if (r.met || !nsnaps) {
        if (v->st.behind_since) {
            v->st.behind_since = 0;
            save_state(v);
        }
        clear_alarm(v, "copies-behind");
    }
    targets_rule321_free(&r);
    targets_free(&l);
    free(snaps);
}

/* ---- device events ---- */

static void on_device_event(void *ctx, const devevents_event *e)
{
    svc *const v = ctx;
    pthread_mutex_lock(&v->mu);
    if (strlen(e->udid) < UDID_MAX &&
        !util_grow(&v->events, &v->cap_events, v->nevents + 1, sizeof *v->events)) {
        svc_event *const ev = &v->events[v->nevents++];
        snprintf(ev->udid, sizeof ev->udid, "%s", e->udid);
        ev->attached = e->attached;
        ev->network = e->network;
        ev->paired = e->paired;
        if (!e->attached && strcmp(e->udid, v->current) == 0)
            v->current_left = 1;
    }
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
}

static svc_present *find_present(svc *v, const char *udid)
{
    for (size_t i = 0; i < v->npresent; i++)
        if (strcmp(v->present[i].udid, udid) == 0)
            return &v->present[i];
    return NULL;
}

static void apply_event(svc *v, const svc_event *e)
{
    svc_present *p = find_present(v, e->udid);
    if (e->attached) {
        if (!p) {
            if (util_grow(&v->present, &v->cap_present, v->npresent + 1, sizeof *v->present))
                return;
            p = &v->present[v->npresent++];
            memset(p, 0, sizeof *p);
            snprintf(p->udid, sizeof p->udid, "%s", e->udid);
        }
        if (e->network)
            p->wifi = 1;
        else
            p->usb = 1;
        say(v, "device %s %s (%s)", e->udid, e->paired ? "was paired again" : "appeared",
            e->network ? "Wi-Fi" : "USB");
        svcstate_device *const d = svcstate_device_get(&v->st, e->udid, 0);
        if (d && strncmp(d->reason, "pairing lost: ", 14) == 0)
            d->next_try = 0; /* replugged (perhaps paired again) or paired again */
        if (!p->queued) {
            p->queued = 1;
            say(v, "device %s queued", e->udid);
        }
        return;
    }
    say(v, "device %s left (%s)", e->udid, e->network ? "Wi-Fi" : "USB");
    if (!p)
        return;
    if (e->network)
        p->wifi = 0;
    else
        p->usb = 0;
    if (!p->usb && !p->wifi)
        *p = v->present[--v->npresent];
}

/* Takes the events that came in; waits up to wait_ms for one when none. */
static void drain_events(svc *v, int wait_ms)
{
    svc_event *evs;
    size_t n;
    pthread_mutex_lock(&v->mu);
    if (!v->nevents && wait_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&v->cv, &v->mu, &ts);
    }
    evs = v->events;
    n = v->nevents;
    v->events = NULL;
    v->nevents = v->cap_events = 0;
    pthread_mutex_unlock(&v->mu);
    for (size_t i = 0; i < n; i++)
        apply_event(v, &evs[i]);
    free(evs);
}

/* ---- one job ---- */

static cairn_err job_password(void *ctx, const device_password_request *req, char **text,
                              size_t *len)
{
    svc *const v = ctx;
    *text = NULL;
    *len = 0;
    if (*v->job_policy->backup_password_file)
        return read_secret(v->job_policy->backup_password_file, text, len);
    if (req->optional)
        return CAIRN_OK;
    return err_set(CAIRN_EPASSWORD,
                   "device %s: its backups are encrypted and its policy names no "
                   "backup-password-file",
                   v->job_udid);
}

static void job_warning(void *ctx, const char *path, const char *message)
{
    svc *const v = ctx;
    if (path)
        say(v, "device %s: warning: %s: %s", v->job_udid, path, message);
    else
        say(v, "device %s: warning: %s", v->job_udid, message);
}

static void job_note(void *ctx, const char *line)
{
    svc *const v = ctx;
    say(v, "device %s: %s", v->job_udid, line);
}

/* Events may come from libimobiledevice's notification thread while the
 * calling thread waits in the workflow (which touches neither the state
 * nor the policy meanwhile): the passcode prompt is alarmed from there. */
static void job_event(void *ctx, const char *message)
{
    svc *const v = ctx;
    say(v, "device %s: %s", v->job_udid, message);
    if (strstr(message, "passcode")) {
        char key[160];
        device_key(key, sizeof key, "unlock", v->job_udid);
        raise_alarm(v, v->job_policy, ALARM_UNLOCK_DEVICE, key, v->job_udid,
                    "unlock the iPhone to let the backup start",
                    "the device waits for its passcode before it sends its backup");
    }
}

static void local_time(int64_t t, char *out, size_t cap)
{
    const time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M", &tm);
}

static int in_hours(const policy *p, int64_t t)
{
    if (p->hour_from == p->hour_to)
        return 1;
    const time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    if (p->hour_from < p->hour_to)
        return tm.tm_hour >= p->hour_from && tm.tm_hour < p->hour_to;
    return tm.tm_hour >= p->hour_from || tm.tm_hour < p->hour_to; /* over midnight */
}

static int wanted_target(const policy *p, const char *name)
{
    if (strcmp(p->targets, "all") == 0)
        return 1;
    const size_t n = strlen(name);
    for (const char *s = p->targets; *s;) {
        const char *const comma = strchr(s, ',');
        const size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len == n && strncmp(s, name, n) == 0)
            return 1;
        s += len + (comma ? 1 : 0);
    }
    return 0;
}

typedef struct record_copy {
    const char *name;
    int64_t when;
    const copy_result *r;
    const char *failed;
} record_copy;

static cairn_err do_record(void *ctx, target_list *l)
{
    const record_copy *const rec = ctx;
    target *const t = targets_find(l, rec->name);
    if (!t)
        return CAIRN_OK;
    if (rec->failed)
        return targets_set_failed(t, rec->when, rec->failed);
    return targets_set_copied(t, rec->when, rec->r->objects, rec->r->bytes,
                              (const uint8_t(*)[ID_LEN])rec->r->held, rec->r->nheld);
}

/* Copies the store to the policy's targets; returns how many failed. */
static size_t copy_targets(svc *v, store *s, const policy *p, const char *udid)
{
    target_list l = {NULL, 0};
    size_t failed = 0;
    char key[200], title[256];
    if (strcmp(p->targets, "none") == 0)
        return 0;
    if (targets_load(v->o->store_path, &l)) {
        say(v, "copy: %s", err_msg());
        return 1;
    }
    for (size_t i = 0; i < l.count && !stopped(v); i++) {
        const target *const t = &l.items[i];
        if (!wanted_target(p, t->name))
            continue;
        copy_result r;
        memset(&r, 0, sizeof r);
        const cairn_err rc = copy_to_url(s, t->url, NULL, &r);
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", rc ? err_msg() : "");
        record_copy rec = {t->name, now(v), &r, rc ? msg : NULL};
        if (rc != CAIRN_ELOCKED && targets_update(v->o->store_path, do_record, &rec))
            say(v, "warning: target %s: could not record the result: %s", t->name, err_msg());
        snprintf(key, sizeof key, "copy-failed %s", t->name);
        if (rc) {
            failed++;
            say(v, "copy to %s failed: %s", t->name, msg);
            snprintf(title, sizeof title, "copy to target %s failed", t->name);
            raise_alarm(v, p, rc == CAIRN_ENOSPC ? ALARM_DISK_FULL : ALARM_JOB_FAILED, key, udid,
                        title, msg);
        } else {
            say(v,
                "copied to %s: %" PRIu64 " objects, %" PRIu64 " bytes sent, %" PRIu64
                " deleted; it holds %zu snapshot(s)",
                t->name, r.objects, r.bytes, r.deleted, r.nheld);
            clear_alarm(v, key);
        }
        copy_result_free(&r);
    }
    targets_free(&l);
    return failed;
}

/* forget by the policy within the new snapshot's chain, then prune; the
 * number of snapshots removed. */
static size_t apply_retention(svc *v, store *s, const policy *p, const uint8_t id[ID_LEN])
{
    const forget_policy *const k = &p->keep;
    if (!k->last && !k->hourly && !k->daily && !k->weekly && !k->monthly && !k->yearly)
        return 0;
    snaplist l = {NULL, 0, 0};
    forget_item *items = NULL;
    size_t n = 0, removed = 0;
    char hex[2 * ID_LEN + 1];
    const snapshot *sn = NULL;
    fs_hex(id, ID_LEN, hex);
    cairn_err rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find(&l, hex, &sn);
    if (!rc)
        rc = forget_plan(&l, sn->chain, k, &items, &n);
    for (size_t i = 0; !rc && i < n; i++)
        if (!items[i].keep) {
            rc = store_delete_snapshot(s, items[i].snap->id);
            removed += rc == CAIRN_OK;
        }
    if (rc)
        say(v, "retention: %s", err_msg());
    free(items);
    snaplist_free(&l);
    if (!removed)
        return 0;
    prune_result pr;
    const prune_opts po = {.max_unused = 20};
    memset(&pr, 0, sizeof pr);
    if (prune_run(s, &po, &pr))
        say(v, "retention: removed %zu snapshot(s); prune failed: %s", removed, err_msg());
    else
        say(v,
            "retention: removed %zu snapshot(s); prune freed %" PRIu64 " bytes (%" PRIu64
            " packs deleted, %" PRIu64 " repacked)",
            removed, pr.bytes_freed, pr.packs_deleted, pr.packs_repacked);
    return removed;
}

static void check_sample(svc *v, store *s, const policy *p, const char *udid)
{
    if (!p->check_subset)
        return;
    check_result r;
    memset(&r, 0, sizeof r);
    const check_opts o = {.read_data_subset = p->check_subset};
    const cairn_err rc = check_run(s, &o, &r);
    if (!rc) {
        say(v,
            "check: %" PRIu64 " packs, %" PRIu64 " read whole (%d%%), %" PRIu64
            " snapshots: no errors",
            r.packs, r.packs_read, p->check_subset, r.snapshots);
        clear_alarm(v, "check-failed");
        return;
    }
    say(v, "check failed: %s", err_msg());
    raise_alarm(v, p, ALARM_CHECK_FAILED, "check-failed", udid,
                rc == CAIRN_ECORRUPT ? "the store is damaged" : "the check of the store failed",
                "run 'cairn check --read-data' and 'cairn repair'");
}

static void store_waiting(void *ctx, const char *holder)
{
    svc *const v = ctx;
    say(v, "the store is busy (pid %s): waiting up to %u s", holder, v->o->wait_seconds);
}

static int64_t backoff(int failures)
{
    /* the first failure is retried at the device's next appearance */
    if (failures <= 1)
        return 0;
    int64_t b = 60;
    for (int i = 2; i < failures && b < BACKOFF_MAX; i++)
        b *= 2;
    return b < BACKOFF_MAX ? b : BACKOFF_MAX;
}

static void job_failed(svc *v, svcstate_device *d, const policy *p, cairn_err rc, const char *msg,
                       int left)
{
    const int64_t t = now(v);
    char key[160], title[256];
    d->last_failure = t;
    d->failures++;
    const char *const who = *d->name ? d->name : d->udid;
    if (left) {
        snprintf(d->reason, sizeof d->reason,
                 "the device left during the backup (nothing stored): %s", msg);
        d->next_try = t + backoff(d->failures);
    } else if (rc == CAIRN_ENOSPC) {
        snprintf(d->reason, sizeof d->reason, "disk full: %s", msg);
        d->next_try = t + p->interval; /* no retry storm */
        snprintf(title, sizeof title, "the disk of the store is full: %s was not backed up", who);
        raise_alarm(v, p, ALARM_DISK_FULL, "disk-full", d->udid, title, msg);
    } else if (strstr(msg, "not paired") || strstr(msg, "refused to trust") ||
               strstr(msg, "tap 'Trust'")) {
        snprintf(d->reason, sizeof d->reason, "pairing lost: %s", msg);
        /* retrying cannot help until someone taps Trust, which needs the
         * device in hand: wait for it to reappear or to be paired again
         * (apply_event), at most an interval */
        d->next_try = t + p->interval;
        device_key(key, sizeof key, "pairing", d->udid);
        snprintf(title, sizeof title, "%s no longer trusts this computer", who);
        raise_alarm(v, p, ALARM_PAIRING_LOST, key, d->udid, title, msg);
    } else {
        snprintf(d->reason, sizeof d->reason, "%s", msg);
        d->next_try = t + backoff(d->failures);
        device_key(key, sizeof key, "job-failed", d->udid);
        snprintf(title, sizeof title, "the backup of %s failed", who);
        raise_alarm(v, p, ALARM_JOB_FAILED, key, d->udid, title, msg);
    }
    say(v, "device %s: backup failed: %s%s", d->udid, d->reason,
        d->next_try > t ? "; backing off" : "; retried at its next appearance");
    svcstate_add_job(&v->st, t, d->udid, "failed", d->reason);
    save_state(v);
}

static void job_succeeded(svc *v, svcstate_device *d, const uint8_t id[ID_LEN])
{
    static const char *const cleared[] = {"job-failed", "pairing", "unlock", "overdue"};
    char key[160];
    d->last_success = now(v);
    d->failures = 0;
    d->next_try = 0;
    d->reason[0] = '\0';
    fs_hex(id, ID_LEN, d->last_snapshot);
    for (size_t i = 0; i < sizeof cleared / sizeof cleared[0]; i++) {
        device_key(key, sizeof key, cleared[i], d->udid);
        clear_alarm(v, key);
    }
    clear_alarm(v, "disk-full");
}

/* The newest snapshot of udid in s (0: none). */
static int64_t newest_snapshot(store *s, const char *udid, char *name, size_t cap)
{
    snaplist l = {NULL, 0, 0};
    int64_t t = 0;
    if (snaplist_load(s, &l))
        return 0;
    for (size_t i = 0; i < l.count; i++)
        if (snapshot_udid_is(&l.items[i], udid) && l.items[i].time_sec >= t) {
            t = l.items[i].time_sec;
            if (snapshot_device_name(&l.items[i]))
                snprintf(name, cap, "%s", snapshot_device_name(&l.items[i]));
        }
    snaplist_free(&l);
    return t;
}

/* The store of a job goes back, unless the run holds it (once). */
static void release_store(const svc *v, store *s)
{
    if (s != v->held)
        store_close(s);
}

static void run_job(svc *v, const svc_present *pr)
{
    const int64_t t = now(v);
    char udid[UDID_MAX], when[64];
    snprintf(udid, sizeof udid, "%s", pr->udid);
    const int usb = pr->usb;
    load_policy(v);
    svcstate_device *const d = svcstate_device_get(&v->st, udid, 1);
    if (!d) {
        say(v, "device %s: %s", udid, "cannot be recorded (UDID too long or out of memory)");
        return;
    }
    if (!d->first_seen) {
        d->first_seen = t;
        save_state(v);
    }
    policy p;
    policy_for(v->pf, udid, d->name, &p);
    if (!usb && !p.wifi) {
        say(v, "device %s: over Wi-Fi, and its policy says network = usb: not backed up", udid);
        return;
    }
    if (!in_hours(&p, t)) {
        say(v, "device %s: outside its hours (%02d-%02d): not now", udid, p.hour_from, p.hour_to);
        return;
    }
    if (d->next_try > t) {
        local_time(d->next_try, when, sizeof when);
        say(v, "device %s: backing off after %d failure(s) until %s", udid, d->failures, when);
        return;
    }
    if (d->last_success && t - d->last_success < p.interval) {
        local_time(d->last_success + p.interval, when, sizeof when);
        say(v, "device %s: not due (next due %s)", udid, when);
        return;
    }
    store *s = v->held;
    const store_wait w = {v->o->wait_seconds, store_waiting, v};
    cairn_err rc =
        s ? CAIRN_OK
          : store_open_wait(v->o->store_path, v->password, v->password_len, STORE_WRITE, &w, &s);
    if (rc) {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err_msg());
        d->last_attempt = t;
        job_failed(v, d, &p, rc, msg, 0);
        return;
    }
    const int64_t newest = newest_snapshot(s, udid, d->name, sizeof d->name);
    policy_for(v->pf, udid, d->name, &p); /* the name may select the section */
    /* snapshot times are the real clock; the service's may be simulated */
    if (newest && !d->last_success && t - newest < p.interval) {
        say(v, "device %s: its newest snapshot is recent: not due", udid);
        release_store(v, s);
        return;
    }
    d->last_attempt = t;
    save_state(v);
    say(v, "device %s: backing up%s%s", udid, *d->name ? " " : "", d->name);
    pthread_mutex_lock(&v->mu);
    snprintf(v->current, sizeof v->current, "%s", udid);
    v->current_left = 0;
    pthread_mutex_unlock(&v->mu);
    v->job_udid = udid;
    v->job_policy = &p;
    const device_callbacks cb = {v, job_password, NULL, job_warning, job_note, job_event};
    const device_backup_device_opts bo = {.device = udid, .threads = v->o->threads};
    device_backup_result r;
    memset(&r, 0, sizeof r);
    rc = device_backup_from_device(s, &bo, &cb, &r);
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", rc ? err_msg() : "");
    /* libimobiledevice's Detached may trail the failure a little */
    if (rc)
        drain_events(v, 200);
    pthread_mutex_lock(&v->mu);
    const int left = v->current_left || !find_present(v, udid);
    v->current[0] = '\0';
    pthread_mutex_unlock(&v->mu);
    if (rc) {
        release_store(v, s);
        job_failed(v, d, &p, rc, msg, left);
        return;
    }
    char hex[2 * ID_LEN + 1];
    fs_hex(r.id, ID_LEN, hex);
    say(v,
        "device %s: saved snapshot %.8s: %" PRIu64 " files, %" PRIu64 " received, %" PRIu64
        " new bytes%s",
        udid, hex, r.files, r.files_received, r.new_bytes, r.partial ? " (partial)" : "");
    job_succeeded(v, d, r.id);
    newest_snapshot(s, udid, d->name, sizeof d->name); /* its name, for status and alarms */
    save_state(v);
    size_t failed = copy_targets(v, s, &p, udid);
    if (apply_retention(v, s, &p, r.id) && !failed)
        failed = copy_targets(v, s, &p, udid); /* the targets mirror the removals */
    check_sample(v, s, &p, udid);
    release_store(v, s);
    svcstate_add_job(&v->st, now(v), udid, "ok",
                     failed ? "backed up; a copy failed" : "backed up and copied");
    save_state(v);
}

/* ---- the loop ---- */

static void queue_list(svc *v)
{
    devevents_event *list = NULL;
    size_t n = 0;
    if (devevents_list(&list, &n)) {
        say(v, "devices: %s", err_msg());
        return;
    }
    for (size_t i = 0; i < n; i++) {
        svc_event e;
        memset(&e, 0, sizeof e);
        if (strlen(list[i].udid) >= sizeof e.udid)
            continue;
        snprintf(e.udid, sizeof e.udid, "%s", list[i].udid);
        e.attached = 1;
        e.network = list[i].network;
        apply_event(v, &e);
    }
    devevents_list_free(list, n);
}

static svc_present *next_queued(svc *v)
{
    for (size_t i = 0; i < v->npresent; i++)
        if (v->present[i].queued)
            return &v->present[i];
    return NULL;
}

cairn_err service_run(const service_opts *o)
{
    svc v;
    devevents_sub sub;
    int subscribed = 0;
    memset(&v, 0, sizeof v);
    v.o = o;
    pthread_mutex_init(&v.mu, NULL);
    pthread_cond_init(&v.cv, NULL);
    cairn_err rc =
        o->policy_path
            ? (snprintf(v.policy_path, sizeof v.policy_path, "%s", o->policy_path), CAIRN_OK)
            : policy_default_path(v.policy_path, sizeof v.policy_path);
    if (!rc)
        rc = o->state_path
                 ? (snprintf(v.state_path, sizeof v.state_path, "%s", o->state_path), CAIRN_OK)
                 : svcstate_path(o->store_path, v.state_path, sizeof v.state_path);
    if (!rc)
        rc = policy_load(v.policy_path, &v.pf);
    if (!rc)
        rc = svcstate_load(v.state_path, &v.st);
    if (!rc && o->password) {
        v.password = (char *)o->password;
        v.password_len = o->password_len;
    } else if (!rc) {
        policy p;
        policy_for(v.pf, NULL, NULL, &p);
        if (!*p.store_password_file)
            rc = err_set(CAIRN_EPASSWORD,
                         "no store password: give --password-file, set CAIRN_PASSWORD, or name "
                         "store-password-file in [default] of %s",
                         v.policy_path);
        else
            rc = read_secret(p.store_password_file, &v.password, &v.password_len);
    }
    if (!rc && o->once) {
        /* a short run holds the store throughout (one key derivation) */
        const store_wait w = {o->wait_seconds, store_waiting, &v};
        rc = store_open_wait(o->store_path, v.password, v.password_len, STORE_WRITE, &w, &v.held);
    } else if (!rc) {
        /* a wrong password or a missing store is said at once, not at every job */
        store *s = NULL;
        rc = store_open(o->store_path, v.password, v.password_len, 0, &s);
        store_close(s);
    }
    if (rc)
        goto done;
    say(&v, "service started: store %s, policy %s, state %s%s", o->store_path, v.policy_path,
        v.state_path, o->once ? " (once)" : "");
    if (o->once) {
        queue_list(&v);
    } else {
        sub.fn = on_device_event;
        sub.ctx = &v;
        if ((rc = devevents_subscribe(&sub)))
            goto done;
        subscribed = 1;
    }
    struct timespec last_visit;
    clock_gettime(CLOCK_MONOTONIC, &last_visit);
    evaluate_alarms(&v);
    while (!stopped(&v)) {
        drain_events(&v, 0);
        svc_present *const p = next_queued(&v);
        if (p) {
            p->queued = 0;
            run_job(&v, p);
            evaluate_alarms(&v);
            continue;
        }
        if (o->once)
            break;
        drain_events(&v, 1000);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (ts.tv_sec - last_visit.tv_sec >= REVISIT_SECONDS) {
            /* a device that stays connected (Wi-Fi) is due again after its
             * interval; an absent one may have become overdue */
            last_visit = ts;
            for (size_t i = 0; i < v.npresent; i++)
                v.present[i].queued = 1;
            evaluate_alarms(&v);
        }
    }
    say(&v, "service stopped");
done:
    if (subscribed)
        devevents_unsubscribe();
    store_close(v.held);
    if (v.password && v.password != o->password) {
        sodium_memzero(v.password, v.password_len);
        sodium_free(v.password);
    }
    policy_file_free(v.pf);
    svcstate_free(&v.st);
    free(v.events);
    free(v.present);
    pthread_cond_destroy(&v.cv);
    pthread_mutex_destroy(&v.mu);
    return rc;
}
