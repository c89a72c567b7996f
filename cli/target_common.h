/* target_common.h - what the commands on copy targets share (target,
 * copy, status, check --target, restore --from-target): the store folder
 * without a password, target URLs and folders, the local mirror of a
 * network target, progress on a terminal and the bookkeeping of results
 * for 'status'. */
#ifndef CAIRN_CLI_TARGET_COMMON_H
#define CAIRN_CLI_TARGET_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/copy.h"
#include "engine/core/copy_targets.h"
#include "cli.h"

/* Resolves the store path and requires a store there (no password). */
cairn_err cli_local_store(cli *c);
/* The folder of a folder target's URL, or NULL for a network target. */
const char *cli_folder_of(const char *url);

/* One result for the targets file: a copy (copied or failed) or a check. */
typedef struct record_ctx {
    const char *name;
    int64_t when;
    const copy_result *copied; /* a successful copy */
    const char *failed;        /* a failed copy's message */
    const char *checked;       /* a check's result */
} record_ctx;
/* Records r; a failure to write it is only a warning. */
void cli_record(const char *store_dir, record_ctx *r);

/* JSON: a time as an ISO 8601 string, or null for 0. */
void cli_print_time_or_null(int64_t t);
/* A running count on a terminal (copy_opts.progress), and its erasure. */
void cli_show_progress(void *ctx, const copy_result *r);
void cli_end_progress(const copy_opts *o);

/* NAME from the targets file (*named), else a URL given as is. */
cairn_err cli_resolve_target(cli *c, const char *name, char *url, size_t cap, int *named);
/* The folder a target opens from: itself, or its local mirror brought up
 * to date (every object downloaded again with refetch). */
cairn_err cli_target_folder(const char *label, const char *url, int refetch, char *out, size_t cap);

/* Opens the target NAME|URL for reading: a folder target where it is, a
 * network one through a copy view (c->view: its small objects fetched now,
 * with refetch again, and every pack fetched again at its first read);
 * c->store_arg is then the folder to open.  _end says what was fetched and
 * closes the view. */
cairn_err cli_open_target(cli *c, const char *name, int refetch);
void cli_open_target_end(cli *c, const char *name);

/* The limit of a target's cache of packs: --cache-size-mb, else the default. */
uint64_t cli_cache_max(const cli *c);

#endif
