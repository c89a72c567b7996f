/* diff.h - what changed between two snapshots: files added, removed and
 * modified.  Device snapshots compare by domain and relative path using
 * their catalogs; folders compare by path.  Unchanged subtrees are skipped
 * by comparing their chunk IDs, never walked. */
#ifndef CAIRN_DIFF_H
#define CAIRN_DIFF_H

#include "store/store.h"
#include "engine/core/snapshot.h"

typedef struct diff_item {
    char status;        /* 'A' added, 'D' removed, 'M' content or size changed */
    const char *domain; /* device snapshots; NULL for folders */
    const char *path;
    uint64_t old_size; /* 0 for added */
    uint64_t new_size; /* 0 for removed */
} diff_item;

typedef void (*diff_fn)(void *ctx, const diff_item *item);

typedef struct diff_summary {
    uint64_t added;
    uint64_t removed;
    uint64_t modified;
    uint64_t bytes_added;   /* size of added files, plus growth of modified ones */
    uint64_t bytes_removed; /* size of removed files, plus shrinkage of modified ones */
} diff_summary;

/* Calls fn for each change, in path order (domain, then path). */
cairn_err diff_run(store *s, const snapshot *a, const snapshot *b, diff_fn fn, void *ctx,
                   diff_summary *sum);

#endif
