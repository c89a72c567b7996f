/* repair.h - making a damaged store consistent again.
 *
 * Every pack is verified completely (as check --read-data does).  What a
 * copy target still holds whole heals the store: damaged packs, snapshot
 * objects and key files are replaced by the target's copies (each verified
 * before it replaces anything), and target packs that hold chunks no local
 * pack has are brought in.  What is still damaged is salvaged: the whole
 * blobs of a damaged pack are copied into new packs (made durable) before
 * the pack is deleted.  A snapshot that still needs lost data is replaced
 * by a repaired snapshot without the lost files (a lost folder is kept
 * empty), flagged SNAP_REPAIRED and naming what it lost and the snapshot it
 * replaces; history is never rewritten silently. */
#ifndef CAIRN_REPAIR_H
#define CAIRN_REPAIR_H

#include <stdint.h>

#include "store/store.h"

typedef void (*repair_report_fn)(void *ctx, const char *line);

typedef struct repair_opts {
    int dry_run;        /* verify and plan (fetching from the source too), change nothing */
    const char *source; /* URL of a copy target to heal from (backend_open), or NULL */
    repair_report_fn report;
    void *report_ctx;
    void (*waiting)(void *ctx); /* called once if repair must wait for readers */
    void *waiting_ctx;
} repair_opts;

typedef struct repair_result {
    /* found */
    uint64_t packs;
    uint64_t packs_damaged;    /* a damaged blob, or a trailer that does not open */
    uint64_t chunks_damaged;   /* blobs that fail their tag or ID */
    uint64_t chunks_missing;   /* needed by snapshots, in no pack (after healing) */
    uint64_t snapshot_objects; /* snapshot objects that do not open */
    uint64_t key_files;        /* key files that are not well-formed */
    uint64_t chain_records;    /* chain records that do not open or decode */
    /* healed from the source */
    uint64_t packs_healed;
    uint64_t packs_fetched; /* target packs that held missing chunks */
    uint64_t snapshots_healed;
    uint64_t keys_healed;
    uint64_t chains_healed;
    /* salvaged and set aside */
    uint64_t packs_salvaged; /* damaged packs deleted after their whole blobs were copied */
    uint64_t chunks_salvaged;
    uint64_t snapshots_set_aside; /* objects moved to damaged/ */
    uint64_t keys_set_aside;
    uint64_t chains_rebuilt;   /* rewritten from the snapshots (archive time and reason lost) */
    uint64_t chains_set_aside; /* no snapshot names their chain */
    /* what snapshots lost */
    uint64_t snapshots_repaired; /* replaced by a repaired snapshot */
    uint64_t files_lost;
    uint64_t folders_lost;  /* kept as empty folders */
    uint64_t catalogs_lost; /* device snapshots whose catalog was lost */
} repair_result;

/* Repairs the store s (open with STORE_WRITE).  CAIRN_OK when nothing was
 * damaged or everything was healed; CAIRN_EPARTIAL when data was lost (each
 * loss reported) but the store is consistent again; CAIRN_ECORRUPT when it
 * is still damaged, or, in a dry run, when damage was found.  A source that
 * cannot be reached or holds another store stops the repair before it
 * changes anything it has not healed. */
cairn_err repair_run(store *s, const repair_opts *opts, repair_result *result);

/* Heals the damaged key files of the store folder store_dir from the copy
 * target at url before the store is opened (when every key file is
 * damaged, the store does not open).  *healed counts the files replaced
 * (in a dry run: that would be). */
cairn_err repair_keys(const char *store_dir, const char *url, int dry_run, repair_report_fn report,
                      void *ctx, unsigned *healed);

/* A damaged config (store_open said CAIRN_ECORRUPT naming it) replaced by
 * the copy target's at url, once that one opens with the keys password
 * unlocks (the damaged one goes to damaged/config).  It cannot be rebuilt
 * without a copy: the store id in it ties the store to its copies and its
 * index.  *healed 1 when replaced (in a dry run: when it would be). */
cairn_err repair_config(const char *store_dir, const char *url, const char *password,
                        size_t password_len, int dry_run, repair_report_fn report, void *ctx,
                        int *healed);

#endif
