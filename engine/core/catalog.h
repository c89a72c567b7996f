/* catalog.h - the file table of a device backup (Manifest.db's Files rows
 * with their MBFile records), kept in the snapshot so that ls, extract and
 * diff work by domain and path without restoring anything.  Encoded sorted
 * by (domain, path) and stored as chunks, so consecutive snapshots share
 * the unchanged stretches.
 *
 * A device has up to a million rows, so memory is per row: the strings of
 * all entries sit in one pool (no allocation per row) with each domain
 * string kept once (entries of a domain share it); encoding streams into
 * chunks and decoding streams from them, so a catalog's encoded bytes are
 * never held whole beside it, and a reader that only looks at each entry
 * once (catalog_each) holds no catalog at all. */
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
enum { CATALOG_ROW_DIGEST_LEN = 16 };

typedef struct catalog_entry {
    char *domain; /* in a catalog: interned, shared by the entries of a domain */
    char *path;
    char *target; /* symlinks; NULL otherwise */
    uint64_t size;
    int64_t mtime;
    uint32_t mode;
    uint8_t file_id[CATALOG_FILE_ID_LEN]; /* SHA-1 of "domain-path": the content file name */
    /* XXH3-128 of the Manifest.db row the entry was decoded from (see
     * ms_file.row_digest): a later row with the same digest decodes to the
     * same entry, so a next backup need not decode it.  Catalogs whose every
     * entry has one are stored as version 2, others as version 1.  (Fields
     * ordered for size: 88 bytes an entry.) */
    uint8_t row_digest[CATALOG_ROW_DIGEST_LEN];
    uint8_t flags;
    uint8_t has_digest;
} catalog_entry;

struct catalog_pool;

typedef struct catalog {
    catalog_entry *entries;
    size_t count;
    size_t cap;
    struct catalog_pool *pool; /* the entries' strings (private to catalog.c) */
} catalog;

void catalog_init(catalog *c);
void catalog_free(catalog *c);

/* Appends a copy of e (its strings into the pool, its domain interned). */
cairn_err catalog_add(catalog *c, const catalog_entry *e);
/* Sorts by (domain, path), the order the encoding requires, then file ID. */
void catalog_sort(catalog *c);

cairn_err catalog_encode(const catalog *c, cbuf *out);
/* Strict decoder for untrusted bytes. */
cairn_err catalog_decode(const uint8_t *data, size_t len, catalog *out);

/* One decoded entry; its strings last until the callback returns. */
typedef cairn_err (*catalog_entry_fn)(void *ctx, const catalog_entry *e);

/* The same decoder fed piece by piece (chunks as they are read): fn is
 * called for each entry as soon as its bytes are all there, so no more than
 * the latest piece and one entry's bytes are held.  The checks are
 * catalog_decode's; an error from fn stops decoding and is returned. */
typedef struct catalog_decoder catalog_decoder;
cairn_err catalog_decoder_new(catalog_entry_fn fn, void *ctx, catalog_decoder **out);
cairn_err catalog_decoder_feed(catalog_decoder *d, const uint8_t *data, size_t len);
/* All bytes given: CAIRN_ECORRUPT unless they were exactly one catalog. */
cairn_err catalog_decoder_finish(catalog_decoder *d);
void catalog_decoder_free(catalog_decoder *d);

/* Stores c as chunks; *ids (malloc'd), *n receive the list. */
cairn_err catalog_save(store *s, store_worker *w, const chunker *ck, const catalog *c,
                       uint8_t (**ids)[ID_LEN], uint32_t *n, treestore_stats *stats);
cairn_err catalog_load(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                       catalog *out);
/* Each entry of the stored catalog, in order, chunk by chunk, without
 * building a catalog (see catalog_decoder). */
cairn_err catalog_each(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                       catalog_entry_fn fn, void *ctx);

/* The content file's path in the backup folder: "xx/<40 hex>". */
void catalog_content_path(const catalog_entry *e, char out[44]);

/* Whether e is selected by a "DOMAIN" or "DOMAIN/PATH" pattern: the same
 * domain and, if a path is given, that path or anything below it. */
int catalog_matches(const catalog_entry *e, const char *pattern);

#endif
