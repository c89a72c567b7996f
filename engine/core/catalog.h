/* catalog.h - the file table of a device backup (Manifest.db's Files rows
 * with their MBFile records), kept in the snapshot so that ls, extract and
 * diff work by domain and path without restoring anything.  Encoded sorted
 * by (domain, path) and stored as chunks, so consecutive snapshots share
 * the unchanged stretches. */
#ifndef CAIRN_CATALOG_H
#define CAIRN_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "util/codec.h"
#include "util/err.h"
#include "store/store.h"
#include "engine/core/chunker.h"
#include "engine/core/tree_store.h"

enum { CATALOG_FILE_ID_LEN = 20 };
enum { CATALOG_FILE = 1, CATALOG_DIR = 2, CATALOG_SYMLINK = 4 }; /* Manifest.db flags */

typedef struct catalog_entry {
    char *domain;
    char *path;
    uint8_t file_id[CATALOG_FILE_ID_LEN]; /* SHA-1 of "domain-path": the content file name */
    uint8_t flags;
    uint64_t size;
    uint32_t mode;
    int64_t mtime;
    char *target; /* symlinks; NULL otherwise */
} catalog_entry;

typedef struct catalog {
    catalog_entry *entries;
    size_t count;
    size_t cap;
} catalog;

void catalog_init(catalog *c);
void catalog_free(catalog *c);

/* Appends a copy of e. */
cairn_err catalog_add(catalog *c, const catalog_entry *e);
/* Sorts by (domain, path), the order the encoding requires, then file ID. */
void catalog_sort(catalog *c);

cairn_err catalog_encode(const catalog *c, cbuf *out);
/* Strict decoder for untrusted bytes. */
cairn_err catalog_decode(const uint8_t *data, size_t len, catalog *out);

/* Stores c as chunks; *ids (malloc'd), *n receive the list. */
cairn_err catalog_save(store *s, store_worker *w, const chunker *ck, const catalog *c,
                       uint8_t (**ids)[ID_LEN], uint32_t *n, treestore_stats *stats);
cairn_err catalog_load(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                       catalog *out);

/* The content file's path in the backup folder: "xx/<40 hex>". */
void catalog_content_path(const catalog_entry *e, char out[44]);

/* Whether e is selected by a "DOMAIN" or "DOMAIN/PATH" pattern: the same
 * domain and, if a path is given, that path or anything below it. */
int catalog_matches(const catalog_entry *e, const char *pattern);

#endif
