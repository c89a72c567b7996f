/* check.h - is the store whole?  Structure: every pack trailer opens, every
 * snapshot and tree decodes, every chunk a snapshot needs (trees, files,
 * catalogs) is indexed in a sound pack, every key file is well-formed.
 * With read_data: every chunk of every pack decrypts and hashes to its ID;
 * with read_data_subset, that of a random share of the packs.
 * Damage is reported with the pack, and with the snapshots and files it
 * affects. */
#ifndef CAIRN_CHECK_H
#define CAIRN_CHECK_H

#include "store/store.h"
#include "engine/core/progress.h"
#include "engine/core/snapshot.h"
#include "engine/core/tree.h"

typedef void (*check_report_fn)(void *ctx, const char *line);

typedef struct check_opts {
    int read_data;
    /* 1..100: read every chunk of this percent of the packs (rounded up),
     * chosen at random each run, so that regular checks cover the store
     * over time at a fraction of the cost; 0: read_data decides */
    int read_data_subset;
    check_report_fn report;
    void *report_ctx;
    const work_hooks *hooks; /* progress over the packs, and stop (CAIRN_EINTERRUPTED,
                              * the check incomplete); NULL: neither */
} check_opts;

typedef struct check_result {
    uint64_t packs;
    uint64_t packs_damaged;
    uint64_t chunks_read;
    uint64_t chunks_damaged;
    uint64_t snapshots;
    uint64_t snapshots_damaged; /* objects that do not open, or with missing data */
    uint64_t files_damaged;
    uint64_t keys_damaged;   /* key files that are not well-formed */
    uint64_t chains_damaged; /* chain records that do not open or decode */
    uint64_t bytes_read;
    uint64_t packs_read; /* packs whose chunks were all read (read_data or the subset) */
} check_result;

/* CAIRN_ECORRUPT if anything is damaged (all of it reported). */
cairn_err check_run(store *s, const check_opts *opts, check_result *result);

/* Each file of the snapshot as check_snapshot_data walks it: path below
 * the snapshot root ("/ab/<40 hex>"), the node, and whether all its chunks
 * read back sound. */
typedef cairn_err (*check_file_fn)(void *ctx, const char *path, const tree_node *node, int sound);

/* read_data for one snapshot: every chunk sn needs (its trees, files and
 * catalog) is read and authenticated, each distinct chunk once, and each
 * file is passed to on_file (may be NULL).  Damage is reported through
 * opts->report; result counts chunks_read, chunks_damaged, bytes_read
 * (plaintext) and files_damaged.  CAIRN_ECORRUPT if anything is damaged. */
cairn_err check_snapshot_data(store *s, const snapshot *sn, const check_opts *opts,
                              check_file_fn file_fn, void *file_ctx, check_result *result);

#endif
