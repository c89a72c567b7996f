/* prune.h - forgetting snapshots by a retention policy, and freeing the
 * chunks no snapshot refers to.
 *
 * Prune marks every chunk reachable from every snapshot (trees, file
 * contents, catalogs), then deletes packs holding nothing live and repacks
 * packs that are mostly garbage.  New packs are made durable and indexed
 * before any old pack is deleted, so a kill at any point loses nothing a
 * snapshot needs; a damaged snapshot stops prune before it deletes
 * anything. */
#ifndef CAIRN_PRUNE_H
#define CAIRN_PRUNE_H

#include "store/store.h"
#include "engine/core/chains.h"
#include "engine/core/progress.h"
#include "engine/core/snapshot_list.h"

typedef struct forget_policy {
    int last, hourly, daily, weekly, monthly, yearly;
} forget_policy;

typedef struct forget_item {
    const snapshot *snap;
    int keep;
    char reason[96]; /* which rules kept it */
} forget_item;

/* Decides, for every snapshot of the selected chains (chain == NULL: all),
 * which to keep.  A policy that keeps nothing is refused. Items are newest
 * first within each chain; *items is malloc'd. */
cairn_err forget_plan(const snaplist *l, const char *chain, const forget_policy *p,
                      forget_item **items, size_t *count);

/* Keeps the pinned snapshots among items (chains.h), whatever the policy
 * decided: their reason says "pinned". */
void forget_keep_pinned(const chain_list *chains, forget_item *items, size_t count);

typedef struct prune_opts {
    int dry_run;
    int max_unused;             /* repack packs with more than this % unused (0..100); a pack with
                                   nothing in use is always deleted */
    void (*waiting)(void *ctx); /* called once if prune must wait for readers */
    void *waiting_ctx;
    /* progress (phase "prune": the snapshots read, then the packs repacked
     * or deleted) and stop (CAIRN_EINTERRUPTED; what was deleted so far is
     * in the result, the rest is left for the next prune); NULL: neither */
    const work_hooks *hooks;
} prune_opts;

typedef struct prune_result {
    uint64_t snapshots;
    uint64_t packs;
    uint64_t packs_deleted;
    uint64_t packs_to_delete; /* planned (an interrupted prune deleted fewer) */
    uint64_t packs_repacked;
    uint64_t chunks_live;
    uint64_t chunks_unused;
    uint64_t bytes_unused;    /* in packs before pruning */
    uint64_t bytes_freed;     /* packs removed minus what was written */
    uint64_t bytes_rewritten; /* live data copied into new packs */
} prune_result;

cairn_err prune_run(store *s, const prune_opts *opts, prune_result *result);

#endif
