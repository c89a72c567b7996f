/* usage.h - what the snapshots of a store cost: for each snapshot the
 * bytes it added when it was made (snapshot.new_bytes) and the bytes only
 * it holds, which forgetting it (then prune) would free.
 *
 * The chunks each snapshot refers to (trees, file contents, catalog) are
 * collected with one tree walk per snapshot; a chunk held by one snapshot
 * only counts, at its stored (sealed, compressed) size, as that
 * snapshot's own.  A tree that does not load stops the count (check says
 * more). */
#ifndef CAIRN_USAGE_H
#define CAIRN_USAGE_H

#include <stdint.h>

#include "store/store.h"
#include "engine/core/snapshot_list.h"

typedef struct usage_snapshot {
    const snapshot *snap;
    uint64_t referenced; /* stored bytes of every chunk it refers to */
    uint64_t exclusive;  /* stored bytes of the chunks no other snapshot refers to */
} usage_snapshot;

/* One entry per snapshot of l, in l's order; *out is malloc'd. */
cairn_err usage_snapshots(store *s, const snaplist *l, usage_snapshot **out);

#endif
