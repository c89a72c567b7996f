/* extract.h - files of a device snapshot, named by domain and path, out of
 * the store: the catalog that names them, and writing the matching files
 * under a folder as <to>/<domain>/<path>.  What ls, extract and the
 * browsing front-ends (mount, web page) build on.
 *
 * A catalog entry names its content file by the backup's hashed name; the
 * bytes come from the snapshot's tree, streamed chunk by chunk.  Paths
 * that would climb out of the target folder are refused. */
#ifndef CAIRN_EXTRACT_H
#define CAIRN_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "engine/core/catalog.h"
#include "engine/core/restore.h"
#include "engine/core/snapshot.h"

/* The file table of a device snapshot.  CAIRN_EINVAL, with a message that
 * says why, for an encrypted backup stored without its password or a
 * snapshot that is not a device backup. */
cairn_err extract_catalog(store *s, const snapshot *sn, catalog *cat);
/* The same entry by entry, in order, without holding the catalog (ls of a
 * million files); an error from fn stops and is returned. */
cairn_err extract_catalog_each(store *s, const snapshot *sn, catalog_entry_fn fn, void *ctx);

typedef struct extract_result {
    uint64_t files;  /* regular files written */
    uint64_t bytes;  /* their bytes */
    uint64_t failed; /* entries that could not be written (each warned) */
} extract_result;

/* Writes every entry matching one of the patterns (catalog_matches: a
 * domain, or domain/path and everything below it) under to; an entry
 * named by two patterns is written once.  An entry that fails is passed to
 * warn (path: the pattern, message) and the others go on: CAIRN_EPARTIAL
 * at the end.  A pattern that matches nothing is CAIRN_ENOTFOUND; running
 * out of memory or disk stops at once. */
cairn_err extract_run(store *s, const snapshot *sn, const char *const *patterns, size_t npatterns,
                      const char *to, restore_warn_fn warn, void *warn_ctx, extract_result *r);

#endif
