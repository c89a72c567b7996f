#include "engine/service/state.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/codec.h"
#include "util/fsutil.h"
#include "util/grow.h"

static const char MAGIC[] = "cairn-service-state 1";
enum { STATE_MAX_BYTES = 4 << 20, FIELDS_MAX = 12 };

cairn_err svcstate_path(const char *store_path, char *out, size_t cap)
{
    const char *const xdg = getenv("XDG_CACHE_HOME");
    const char *const home = getenv("HOME");
    char abs[PATH_MAX], base[PATH_MAX], hex[33];
    uint8_t h[16];
    if (!realpath(store_path, abs))
        snprintf(abs, sizeof abs, "%s", store_path);
    if (xdg && *xdg)
        snprintf(base, sizeof base, "%s/cairn/service", xdg);
    else if (home && *home)
        snprintf(base, sizeof base, "%s/.cache/cairn/service", home);
    else
        return err_set(CAIRN_EINVAL, "no cache folder for the service state (set XDG_CACHE_HOME)");
    crypto_generichash(h, sizeof h, (const uint8_t *)abs, strlen(abs), NULL, 0);
    fs_hex(h, sizeof h, hex);
    if (snprintf(out, cap, "%s/%s.state", base, hex) >= (int)cap)
        return err_set(CAIRN_EINVAL, "state path too long");
    return CAIRN_OK;
}

void svcstate_free(svcstate *st)
{
    free(st->devices);
    free(st->alarms);
    free(st->jobs);
    memset(st, 0, sizeof *st);
}

svcstate_device *svcstate_device_get(svcstate *st, const char *udid, int create)
{
    for (size_t i = 0; i < st->ndevices; i++)
        if (strcmp(st->devices[i].udid, udid) == 0)
            return &st->devices[i];
    if (!create || strlen(udid) >= sizeof st->devices[0].udid ||
        util_grow(&st->devices, &st->cap_devices, st->ndevices + 1, sizeof *st->devices))
        return NULL;
    svcstate_device *const d = &st->devices[st->ndevices++];
    memset(d, 0, sizeof *d);
    snprintf(d->udid, sizeof d->udid, "%s", udid);
    return d;
}

int svcstate_alarm_raised(const svcstate *st, const char *key)
{
    for (size_t i = 0; i < st->nalarms; i++)
        if (strcmp(st->alarms[i].key, key) == 0)
            return 1;
    return 0;
}

cairn_err svcstate_alarm_raise(svcstate *st, const char *key, int64_t now)
{
    if (svcstate_alarm_raised(st, key))
        return CAIRN_OK;
    if (strlen(key) >= sizeof st->alarms[0].key)
        return err_set(CAIRN_EINVAL, "alarm key too long");
    const cairn_err rc =
        util_grow(&st->alarms, &st->cap_alarms, st->nalarms + 1, sizeof *st->alarms);
    if (rc)
        return rc;
    svcstate_alarm *const a = &st->alarms[st->nalarms++];
    snprintf(a->key, sizeof a->key, "%s", key);
    a->since = now;
    return CAIRN_OK;
}

int svcstate_alarm_clear(svcstate *st, const char *key)
{
    for (size_t i = 0; i < st->nalarms; i++)
        if (strcmp(st->alarms[i].key, key) == 0) {
            st->alarms[i] = st->alarms[--st->nalarms];
            return 1;
        }
    return 0;
}

/* Tabs and line breaks cannot be in a field: they become spaces. */
static void set_text(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s ? s : "");
    for (char *p = out; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
}

cairn_err svcstate_add_job(svcstate *st, int64_t when, const char *udid, const char *result,
                           const char *message)
{
    if (st->njobs == SVCSTATE_JOBS) {
        memmove(st->jobs, st->jobs + 1, (st->njobs - 1) * sizeof *st->jobs);
        st->njobs--;
    }
    const cairn_err rc = util_grow(&st->jobs, &st->cap_jobs, st->njobs + 1, sizeof *st->jobs);
    if (rc)
        return rc;
    svcstate_job *const j = &st->jobs[st->njobs++];
    memset(j, 0, sizeof *j);
    j->time = when;
    set_text(j->udid, sizeof j->udid, udid);
    set_text(j->result, sizeof j->result, result);
    set_text(j->message, sizeof j->message, message);
    return CAIRN_OK;
}

/* ---- the file ---- */

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    const long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || (*s != '-' && (*s < '0' || *s > '9')))
        return -1;
    *out = v;
    return 0;
}

static int field(char *out, size_t cap, const char *s)
{
    if (strlen(s) >= cap)
        return -1;
    snprintf(out, cap, "%s", s);
    return 0;
}

static int parse_record(svcstate *st, char **f, int n)
{
    if (strcmp(f[0], "device") == 0 && n == 11) {
        svcstate_device d;
        int64_t failures;
        memset(&d, 0, sizeof d);
        if (!*f[1] || field(d.udid, sizeof d.udid, f[1]) || field(d.name, sizeof d.name, f[2]) ||
            parse_i64(f[3], &d.first_seen) || parse_i64(f[4], &d.last_attempt) ||
            parse_i64(f[5], &d.last_success) || parse_i64(f[6], &d.last_failure) ||
            parse_i64(f[7], &d.next_try) || parse_i64(f[8], &failures) || failures < 0 ||
            failures > 1000000 || field(d.last_snapshot, sizeof d.last_snapshot, f[9]) ||
            field(d.reason, sizeof d.reason, f[10]) || svcstate_device_get(st, d.udid, 0))
            return -1;
        d.failures = (int)failures;
        svcstate_device *const slot = svcstate_device_get(st, d.udid, 1);
        if (!slot)
            return -1;
        *slot = d;
        return 0;
    }
    if (strcmp(f[0], "alarm") == 0 && n == 3) {
        int64_t since;
        if (!*f[1] || parse_i64(f[2], &since) || svcstate_alarm_raised(st, f[1]))
            return -1;
        return svcstate_alarm_raise(st, f[1], since) ? -1 : 0;
    }
    if (strcmp(f[0], "behind") == 0 && n == 2)
        return parse_i64(f[1], &st->behind_since);
    if (strcmp(f[0], "job") == 0 && n == 5) {
        int64_t when;
        if (parse_i64(f[1], &when) || strlen(f[2]) >= sizeof st->jobs[0].udid ||
            strlen(f[3]) >= sizeof st->jobs[0].result || strlen(f[4]) >= sizeof st->jobs[0].message)
            return -1;
        return svcstate_add_job(st, when, f[2], f[3], f[4]) ? -1 : 0;
    }
    return -1;
}

cairn_err svcstate_parse(const char *text, size_t len, const char *name, svcstate *out)
{
    char line[1024];
    size_t lineno = 0;
    memset(out, 0, sizeof *out);
    if (len > STATE_MAX_BYTES)
        return err_set(CAIRN_ECORRUPT, "%s: larger than %d bytes", name, STATE_MAX_BYTES);
    for (size_t pos = 0; pos < len;) {
        const char *const nl = memchr(text + pos, '\n', len - pos);
        if (!nl) {
            svcstate_free(out);
            return err_set(CAIRN_ECORRUPT, "%s:%zu: the last line is cut", name, lineno + 1);
        }
        const size_t n = (size_t)(nl - (text + pos));
        lineno++;
        if (n >= sizeof line || memchr(text + pos, '\0', n)) {
            svcstate_free(out);
            return err_set(CAIRN_ECORRUPT, "%s:%zu: line too long or holds a NUL", name, lineno);
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + 1;
        if (lineno == 1) {
            if (strcmp(line, MAGIC) != 0) {
                svcstate_free(out);
                return err_set(CAIRN_ECORRUPT, "%s: not a cairn service state file", name);
            }
            continue;
        }
        char *f[FIELDS_MAX];
        int nf = 0;
        for (char *p = line;;) {
            if (nf == FIELDS_MAX) {
                nf = -1;
                break;
            }
            f[nf++] = p;
            char *const tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf < 1 || parse_record(out, f, nf)) {
            svcstate_free(out);
            return err_set(CAIRN_ECORRUPT, "%s:%zu: not a state record", name, lineno);
        }
    }
    if (len && lineno == 0) {
        svcstate_free(out);
        return err_set(CAIRN_ECORRUPT, "%s: not a cairn service state file", name);
    }
    return CAIRN_OK;
}

cairn_err svcstate_load(const char *path, svcstate *out)
{
    uint8_t *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    cairn_err rc = fs_read_file(path, STATE_MAX_BYTES, &data, &len);
    if (rc == CAIRN_ENOTFOUND)
        return CAIRN_OK;
    if (!rc)
        rc = svcstate_parse((const char *)data, len, path, out);
    free(data);
    return rc;
}

cairn_err svcstate_save(const char *path, const svcstate *st)
{
    cbuf b;
    char dir[PATH_MAX];
    cbuf_init(&b);
    cbuf_printf(&b, "%s\n", MAGIC);
    for (size_t i = 0; i < st->ndevices; i++) {
        const svcstate_device *const d = &st->devices[i];
        char name[sizeof d->name], reason[sizeof d->reason];
        set_text(name, sizeof name, d->name);
        set_text(reason, sizeof reason, d->reason);
        cbuf_printf(&b,
                    "device\t%s\t%s\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64
                    "\t%d\t%s\t%s\n",
                    d->udid, name, d->first_seen, d->last_attempt, d->last_success, d->last_failure,
                    d->next_try, d->failures, d->last_snapshot, reason);
    }
    for (size_t i = 0; i < st->nalarms; i++)
        cbuf_printf(&b, "alarm\t%s\t%" PRId64 "\n", st->alarms[i].key, st->alarms[i].since);
    if (st->behind_since)
        cbuf_printf(&b, "behind\t%" PRId64 "\n", st->behind_since);
    for (size_t i = 0; i < st->njobs; i++)
        cbuf_printf(&b, "job\t%" PRId64 "\t%s\t%s\t%s\n", st->jobs[i].time, st->jobs[i].udid,
                    st->jobs[i].result, st->jobs[i].message);
    if (b.failed) {
        cbuf_free(&b);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *const slash = strrchr(dir, '/');
    cairn_err rc;
    if (!slash) {
        rc = fs_write_atomic(".", path, b.data, b.len, 0600);
    } else {
        *slash = '\0';
        rc = fs_mkdirs(dir, 0700);
        if (!rc)
            rc = fs_write_atomic(dir, slash + 1, b.data, b.len, 0600);
    }
    cbuf_free(&b);
    return rc;
}
