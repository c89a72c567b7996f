/* pack.h - pack files: sealed chunks appended one after another, closed by a
 * sealed trailer that lists them, so the index can be rebuilt from packs
 * alone.  Layout in docs/FORMAT.md. */
#ifndef CAIRN_PACK_H
#define CAIRN_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "store/seal.h"

enum {
    PACK_ID_LEN = 32,
    PACK_HEADER_LEN = 8,
    PACK_FOOTER_LEN = 16,
    PACK_MAX_ENTRIES = 1 << 20,
    PACK_MAX_BLOB = 64 << 20,
    PACK_TARGET_DEFAULT = 16 << 20, /* few enough files for FAT/exFAT drives, NAS and S3 */
};

/* Entry flags: how the chunk is stored and what it holds. */
enum { PACK_ZSTD = 1, PACK_TREE = 2, PACK_FLAGS_KNOWN = 3 };

typedef struct pack_entry {
    uint8_t id[ID_LEN];
    uint8_t flags;
    uint32_t offset;     /* where the sealed blob starts in the pack */
    uint32_t stored_len; /* sealed length: payload + SEAL_OVERHEAD */
    uint32_t raw_len;    /* length of the chunk's plaintext */
} pack_entry;

typedef struct pack_writer pack_writer;

/* Starts a pack under a temporary name in tmp_dir. */
cairn_err pack_writer_open(const char *tmp_dir, pack_writer **out);

/* Appends a sealed blob; e->offset and e->stored_len are filled in.  The
 * bytes may stay in the writer's memory until a later add or
 * pack_writer_finish writes them; one thread at a time adds. */
cairn_err pack_writer_add(pack_writer *w, pack_entry *e, const uint8_t *blob, size_t len);

uint64_t pack_writer_size(const pack_writer *w);
size_t pack_writer_count(const pack_writer *w);
const pack_entry *pack_writer_entries(const pack_writer *w);

/* Writes the trailer, fsyncs the file, renames it to packs_dir/<id[0]>/<id>
 * and fsyncs that directory: once this returns the pack is durable.  The
 * writer keeps its entries until pack_writer_free. */
cairn_err pack_writer_finish(pack_writer *w, const uint8_t key[SEAL_KEY_LEN], const char *packs_dir,
                             uint8_t pack_id[PACK_ID_LEN]);

/* Frees the writer; an unfinished pack's temporary file is removed. */
void pack_writer_free(pack_writer *w);

/* Reads and opens the trailer of the pack in fd.  Entries are checked to
 * tile the file exactly (header, blobs, trailer, footer) so that every byte
 * of a pack is covered by some authentication tag. */
cairn_err pack_read_trailer(int fd, const char *path, const uint8_t key[SEAL_KEY_LEN],
                            pack_entry **entries, size_t *count, uint64_t *file_size);

/* The same from a pack of size bytes that is read through rd (a copy
 * target's pack read by range: header, footer and trailer only). */
typedef cairn_err (*pack_read_fn)(void *ctx, uint64_t off, size_t len, uint8_t *buf,
                                  const char *path);
cairn_err pack_read_trailer_with(pack_read_fn rd, void *ctx, uint64_t size, const char *path,
                                 const uint8_t key[SEAL_KEY_LEN], pack_entry **entries,
                                 size_t *count, uint64_t *file_size);

/* Decodes a trailer's plaintext (exposed for the fuzzer). */
cairn_err pack_decode_entries(const uint8_t *plain, size_t len, pack_entry **entries,
                              size_t *count);

/* Associated data that binds a blob to its ID and flags. */
void pack_blob_ad(const pack_entry *e, uint8_t ad[ID_LEN + 1]);

/* Path of a pack: packs_dir/xx/<64 hex>; out holds PATH_MAX bytes. */
cairn_err pack_path(const char *packs_dir, const uint8_t id[PACK_ID_LEN], char *out, size_t cap);

#endif
