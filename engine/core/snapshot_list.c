#include "engine/core/snapshot_list.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/fsutil.h"

static int by_time(const void *a, const void *b)
{
    const snapshot *const x = a, *const y = b;
    if (x->time_sec != y->time_sec)
        return x->time_sec < y->time_sec ? -1 : 1;
    if (x->time_nsec != y->time_nsec)
        return x->time_nsec < y->time_nsec ? -1 : 1;
    return memcmp(x->id, y->id, ID_LEN);
}

cairn_err snaplist_load(store *s, snaplist *out)
{
    uint8_t(*ids)[SNAPSHOT_ID_LEN] = NULL;
    size_t n = 0;
    snaplist l = {NULL, 0, 0};
    cairn_err rc = store_list_snapshots(s, &ids, &n);
    if (rc)
        return rc;
    l.items = calloc(n ? n : 1, sizeof *l.items);
    if (!l.items) {
        free(ids);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *plain;
        size_t len;
        rc = store_get_snapshot(s, ids[i], &plain, &len);
        if (rc == CAIRN_OK) {
            rc = snapshot_decode(plain, len, &l.items[l.count]);
            free(plain);
        }
        if (rc == CAIRN_ECORRUPT) {
            l.damaged++;
            continue;
        }
        if (rc) {
            snaplist_free(&l);
            free(ids);
            return rc;
        }
        memcpy(l.items[l.count++].id, ids[i], ID_LEN);
    }
    free(ids);
    qsort(l.items, l.count, sizeof *l.items, by_time);
    *out = l;
    return CAIRN_OK;
}

void snaplist_free(snaplist *l)
{
    for (size_t i = 0; i < l->count; i++)
        snapshot_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

cairn_err snaplist_find(const snaplist *l, const char *name, const snapshot **out)
{
    char hex[2 * ID_LEN + 1];
    const snapshot *found = NULL;
    if (strcmp(name, "latest") == 0) {
        if (l->count == 0)
            return err_set(CAIRN_ENOTFOUND, "the store has no snapshots yet");
        *out = &l->items[l->count - 1];
        return CAIRN_OK;
    }
    const size_t len = strlen(name);
    if (len < 4 || len > 2 * ID_LEN || strspn(name, "0123456789abcdef") != len)
        return err_set(CAIRN_EINVAL,
                       "'%s' is not a snapshot ID (use 'latest' or at least 4 hex digits)", name);
    for (size_t i = 0; i < l->count; i++) {
        fs_hex(l->items[i].id, ID_LEN, hex);
        if (strncmp(hex, name, len) != 0)
            continue;
        if (found)
            return err_set(CAIRN_EAMBIGUOUS, "snapshot prefix '%s' matches more than one snapshot",
                           name);
        found = &l->items[i];
    }
    if (!found)
        return err_set(CAIRN_ENOTFOUND, "no snapshot '%s' in this store", name);
    *out = found;
    return CAIRN_OK;
}

/* The devices of the list, newest first: one UDID each (pointers into the
 * list), at most max (more are counted in the return value, not kept). */
static size_t device_udids(const snaplist *l, const char **udids, size_t max,
                           int (*fits)(const snapshot *, const char *), const char *selector)
{
    size_t n = 0;
    for (size_t i = l->count; i-- > 0;) {
        const char *const u = snapshot_udid(&l->items[i]);
        if (!u || (fits && !fits(&l->items[i], selector)))
            continue;
        size_t k = 0;
        while (k < n && k < max && strcasecmp(udids[k], u) != 0)
            k++;
        if (k < n && k < max)
            continue;
        if (n < max)
            udids[n] = u;
        n++;
    }
    return n;
}

/* The newest name the list knows for a device, or its UDID. */
static const char *device_label(const snaplist *l, const char *udid)
{
    for (size_t i = l->count; i-- > 0;) {
        const char *const name = snapshot_device_name(&l->items[i]);
        if (name && snapshot_udid_is(&l->items[i], udid))
            return name;
    }
    return udid;
}

static int fits_udid(const snapshot *s, const char *sel)
{
    return snapshot_udid_is(s, sel);
}

static int fits_name(const snapshot *s, const char *sel)
{
    const char *const name = snapshot_device_name(s);
    return name && strcasecmp(name, sel) == 0;
}

static int fits_prefix(const snapshot *s, const char *sel)
{
    const char *const name = snapshot_device_name(s);
    const char *const udid = snapshot_udid(s);
    const size_t n = strlen(sel);
    return (name && strncasecmp(name, sel, n) == 0) || (udid && strncasecmp(udid, sel, n) == 0);
}

enum { MAX_LISTED = 8 };

/* "A (UDID), B (UDID)" for a message. */
static void list_devices(const snaplist *l, const char *const *udids, size_t n, char *out,
                         size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < n && k < MAX_LISTED && used < size; k++) {
        const int w = snprintf(out + used, size - used, "%s%s (%s)", k ? ", " : "",
                               device_label(l, udids[k]), udids[k]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (n > MAX_LISTED && used < size)
        snprintf(out + used, size - used, ", ...");
}

cairn_err snaplist_device(const snaplist *l, const char *selector, const char **udid)
{
    const char *found[MAX_LISTED + 1];
    char names[ERR_MSG_MAX / 2];
    size_t n;
    if (!selector || !*selector) {
        n = device_udids(l, found, MAX_LISTED, NULL, NULL);
        if (n == 1) {
            *udid = found[0];
            return CAIRN_OK;
        }
        if (n == 0)
            return err_set(CAIRN_ENOTFOUND, "the store has no device snapshots");
        list_devices(l, found, n, names, sizeof names);
        return err_set(CAIRN_EAMBIGUOUS,
                       "the store has snapshots of %zu devices: name one with --device (%s)", n,
                       names);
    }
    /* the most exact kind of match that fits anything decides */
    int (*const kinds[])(const snapshot *, const char *) = {fits_udid, fits_name, fits_prefix};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        n = device_udids(l, found, MAX_LISTED, kinds[k], selector);
        if (n == 1) {
            *udid = found[0];
            return CAIRN_OK;
        }
        if (n > 1) {
            list_devices(l, found, n, names, sizeof names);
            return err_set(CAIRN_EAMBIGUOUS, "device '%s' matches more than one device: %s",
                           selector, names);
        }
    }
    n = device_udids(l, found, MAX_LISTED, NULL, NULL);
    if (n == 0)
        return err_set(CAIRN_ENOTFOUND, "no device '%s': the store has no device snapshots",
                       selector);
    list_devices(l, found, n, names, sizeof names);
    return err_set(CAIRN_ENOTFOUND, "no device '%s' in this store (devices: %s)", selector, names);
}

cairn_err snaplist_find_for(const snaplist *l, const char *name, const char *device,
                            int device_only, const snapshot **out)
{
    const char *udid = NULL;
    if (strcmp(name, "latest") != 0)
        return snaplist_find(l, name, out);
    if (device || device_only) {
        cairn_err rc = snaplist_device(l, device, &udid);
        if (rc == CAIRN_ENOTFOUND && !device)
            return snaplist_find(l, name, out); /* no devices: the command says what it needs */
        if (rc)
            return rc;
    }
    if (!udid)
        return snaplist_find(l, name, out);
    for (size_t i = l->count; i-- > 0;)
        if (snapshot_udid_is(&l->items[i], udid)) {
            *out = &l->items[i];
            return CAIRN_OK;
        }
    return err_set(CAIRN_ENOTFOUND, "no snapshot of device %s", udid); /* not reached */
}

const snapshot *snaplist_latest_in_chain(const snaplist *l, const char *chain)
{
    for (size_t i = l->count; i-- > 0;)
        if (strcmp(l->items[i].chain, chain) == 0)
            return &l->items[i];
    return NULL;
}

void snaplist_short_id(const uint8_t id[ID_LEN], char out[9])
{
    char hex[2 * ID_LEN + 1];
    fs_hex(id, ID_LEN, hex);
    memcpy(out, hex, 8);
    out[8] = '\0';
}

cairn_err snaplist_each_damaged(store *s, snaplist_damaged_fn fn, void *ctx)
{
    uint8_t(*ids)[SNAPSHOT_ID_LEN] = NULL;
    size_t n = 0;
    cairn_err rc = store_list_snapshots(s, &ids, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        uint8_t *plain;
        size_t len;
        snapshot sn;
        char name[STORE_NAME_MAX], path[PATH_MAX];
        cairn_err orc = store_get_snapshot(s, ids[i], &plain, &len);
        if (!orc) {
            orc = snapshot_decode(plain, len, &sn);
            free(plain);
            if (!orc)
                snapshot_free(&sn);
        }
        if (orc == CAIRN_OK)
            continue;
        if (orc == CAIRN_ENOMEM) {
            rc = orc;
            break;
        }
        store_name_snapshot(ids[i], name);
        snprintf(path, sizeof path, "%s/%s", store_path(s), name);
        rc = fn(ctx, ids[i], err_wrap(orc, path));
    }
    free(ids);
    return rc;
}
