/* chunker.h - content-defined chunking (FastCDC with normalized chunking).
 *
 * Stateless over a caller-held window: the caller keeps the bytes from the
 * start of the current chunk in a buffer and asks where the chunk ends.  The
 * gear table is derived from a per-store secret so that chunk boundaries do
 * not reveal which well-known files a store holds. */
#ifndef CAIRN_CHUNKER_H
#define CAIRN_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "engine/core/tree.h"

enum {
    CHUNKER_MIN_DEFAULT = 256 * 1024,
    CHUNKER_AVG_DEFAULT = 1024 * 1024,
    CHUNKER_MAX_DEFAULT = 4 * 1024 * 1024,
};

typedef struct chunker {
    uint64_t gear[256];
    uint64_t mask_small; /* harder cut condition, used below avg_size */
    uint64_t mask_large; /* easier cut condition, used from avg_size on */
    size_t min_size;
    size_t avg_size;
    size_t max_size;
} chunker;

/* Sets up a chunker.  avg_size must be a power of two with
 * 64 <= min_size < avg_size < max_size; the gear table is expanded from the
 * 32-byte secret (deterministically: equal secrets give equal boundaries). */
cairn_err chunker_init(chunker *c, size_t min_size, size_t avg_size, size_t max_size,
                       const uint8_t secret[32]);

/* Length of the chunk that starts at data[0].  len is how many bytes are
 * available; at_eof says no more bytes follow them.  Returns a length in
 * [1, min(len, max_size)]: a cut point (always > min_size), or max_size, or
 * len at end of input.  Returns 0 when more data is needed to decide, which
 * is only when !at_eof, len < max_size and data[0..len) holds no cut point
 * (and when len == 0 at end of input).  A cut depends only on the bytes
 * before it, so the answer does not depend on how much data was offered. */
size_t chunker_next(const chunker *c, const uint8_t *data, size_t len, int at_eof);

/* How one file is cut, decided from its first bytes (content-aware
 * chunking, docs/FORMAT.md "Chunks and IDs"). */
typedef struct chunk_plan {
    const chunker *cdc; /* FastCDC with these parameters (NULL: the main chunker) */
    size_t fixed;       /* else fixed chunks of this many bytes from offset 0 */
    int no_zstd;        /* media: already compressed, store its chunks without trying */
    int zstd_sure;      /* SQLite: compresses, so compress without the probe */
} chunk_plan;

/* The store_chunk_flags a chunk of a file cut under plan is stored with. */
unsigned chunk_plan_store_flags(const chunk_plan *plan);

/* What a store's content-aware chunking says (store_params). */
typedef struct chunk_planner {
    chunker sqlite_cdc; /* FastCDC at SQLite sizes, when sqlite_fixed is 0 */
    size_t sqlite_chunk, media_chunk, max_size;
    int sqlite_fixed;
} chunk_planner;

/* Bytes of a file's start that chunk_planner_plan looks at (it decides
 * from fewer only at the end of a short file). */
enum { CHUNKER_PLAN_HEAD = 100 };

/* sqlite_chunk and media_chunk: 0 (off) or a power of two from 512 to
 * max_size; the SQLite chunker's gear table comes from secret, like the
 * main one's. */
cairn_err chunk_planner_init(chunk_planner *pl, uint32_t sqlite_chunk, int sqlite_fixed,
                             uint32_t media_chunk, size_t max_size, const uint8_t secret[32]);

/* The plan for a file whose first len bytes are head (all of the file if it
 * is shorter than CHUNKER_PLAN_HEAD).  A SQLite database ("SQLite format
 * 3\0" and a valid page size) is cut with FastCDC at sqlite_chunk on average
 * (an edited page changes a chunk or two of about that size, bytes inserted
 * shift nothing), or with sqlite_fixed every sqlite_chunk bytes, or every
 * page when pages are larger (page-aligned: an edited page changes exactly
 * one chunk).  HEIC, JPEG, PNG and MOV/MP4 (magic bytes) are cut every
 * media_chunk bytes with no_zstd.  Everything else, and any kind whose size
 * is 0: the main chunker. */
chunk_plan chunk_planner_plan(const chunk_planner *pl, const uint8_t *head, size_t len);

/* chunker_next under a plan: plan->cdc's or c's cut, or with plan->fixed
 * the next fixed-size piece (shorter only at the end of input; 0 while more
 * data is needed). */
size_t chunker_next_planned(const chunker *c, const chunk_plan *plan, const uint8_t *data,
                            size_t len, int at_eof);

/* The next chunk of a changed file, at offset off of it: the avail bytes
 * at p (eof: no more follow), cut under plan with ck as the main chunker.
 * prev walks the file's node in the parent snapshot.  Where the parent's
 * chunk at off would be cut alike (tree_fprint_expect) and fits this
 * chunker's sizes, its fingerprint (keyed XXH3-128 under secret, the
 * store's file secret) is tested first: the same bytes make the same chunk,
 * and the chunker's scan over them, a gear hash per byte and most of a
 * next-day backup's unchanged bytes, is skipped.  Else the chunker cuts.
 * Fills *fp for the chunk; *same is the parent chunk's ID when its bytes
 * are these, else NULL.  0: more bytes are needed (as chunker_next). */
size_t chunker_next_known(const chunker *ck, const chunk_plan *plan, tree_fprint_cursor *prev,
                          uint64_t off, const uint8_t *p, size_t avail, int eof,
                          const uint8_t *secret, tree_fprint *fp, const uint8_t **same);

#endif
