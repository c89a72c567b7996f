/* snapshot_list.h - all snapshots of a store, decoded and sorted by time, and
 * the ways users name them: full ID, unique ID prefix, "latest". */
#ifndef CAIRN_SNAPLIST_H
#define CAIRN_SNAPLIST_H

#include <stddef.h>

#include "store/store.h"
#include "engine/core/snapshot.h"

typedef struct snaplist {
    snapshot *items; /* oldest first */
    size_t count;
    size_t damaged; /* snapshot objects that failed to open (check reports them) */
} snaplist;

cairn_err snaplist_load(store *s, snaplist *out);
void snaplist_free(snaplist *l);

/* "latest", a full hex ID or a unique prefix (at least 4 hex digits).
 * CAIRN_ENOTFOUND or CAIRN_EAMBIGUOUS with a message naming the input. */
cairn_err snaplist_find(const snaplist *l, const char *name, const snapshot **out);

/* The device a user's selector names among the device snapshots of the
 * list (a device is known by its UDID; its name is the newest snapshot's):
 * its UDID in any case, its name in any case, or a prefix of either that
 * fits one device only.  selector NULL or "": the only device in the list.
 * *udid points into the list.  CAIRN_ENOTFOUND (no such device, or none
 * at all) or CAIRN_EAMBIGUOUS (several fit: each named with its UDID),
 * with a message naming the selector. */
cairn_err snaplist_device(const snaplist *l, const char *selector, const char **udid);

/* How a command names its snapshot, scoped to a device:
 *  - device non-NULL ("" included): "latest" is the newest snapshot of the
 *    device snaplist_device picks;
 *  - device NULL and device_only (the command reads a device backup's
 *    catalog): "latest" is the newest snapshot of the only device in the
 *    store; with several devices it is CAIRN_EAMBIGUOUS naming them;
 *  - otherwise "latest" is the newest snapshot of all.
 * A snapshot ID is never scoped (it names one snapshot already). */
cairn_err snaplist_find_for(const snaplist *l, const char *name, const char *device,
                            int device_only, const snapshot **out);

/* The newest snapshot of a chain, or NULL. */
const snapshot *snaplist_latest_in_chain(const snaplist *l, const char *chain);

/* Calls fn for each snapshot object that does not open or decode, with
 * err_msg() naming the object's path and the problem; why is the error
 * (CAIRN_ECORRUPT for damage, else a read error).  Running out of memory,
 * or a non-CAIRN_OK result of fn, ends the walk with that result. */
typedef cairn_err (*snaplist_damaged_fn)(void *ctx, const uint8_t id[SNAPSHOT_ID_LEN],
                                         cairn_err why);
cairn_err snaplist_each_damaged(store *s, snaplist_damaged_fn fn, void *ctx);

/* Short display form of an ID: the first 8 hex digits. */
void snaplist_short_id(const uint8_t id[ID_LEN], char out[9]);

#endif
