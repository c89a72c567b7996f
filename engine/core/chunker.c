/* chunker.c - FastCDC (Xia et al., USENIX ATC 2016 / IEEE TPDS 2020).
 *
 * Gear hash h = (h << 1) + gear[byte]: bit k of h depends only on the last
 * k + 1 bytes, so the hash needs no explicit window and no "remove the
 * outgoing byte" step.  On top of it: cut-point skipping (nothing is hashed
 * below min_size) and normalized chunking level 2 (a mask two bits harder
 * than log2(avg_size) before avg_size, two bits easier after it), which
 * pulls chunk sizes towards avg_size without hurting boundary stability. */
#include "engine/core/chunker.h"

#include <sodium.h>
#include <string.h>

#include "store/keys.h"
#include "store/store.h"
#include "util/xxh.h"

enum {
    /* Normalized chunking level: mask_small has log2(avg) + NC bits,
     * mask_large log2(avg) - NC.  Level 2 is the paper's recommendation. */
    CHUNKER_NC_LEVEL = 2,
    /* Mask bits are spread over positions [MASK_TOP - MASK_SPAN + 1,
     * MASK_TOP].  Bit k of the hash sees the last k + 1 bytes, so high,
     * spread-out bits give a ~63-byte window (the paper's reason for
     * spreading the ones).  Bit 63 stays clear so that mask << 1 loses
     * nothing, which the paper's two-bytes-per-step loop relies on. */
    CHUNKER_MASK_TOP = 62,
    CHUNKER_MASK_SPAN = 48,
};

/* n ones, evenly spaced downwards from CHUNKER_MASK_TOP; the caller
 * guarantees 1 <= n <= CHUNKER_MASK_SPAN, which makes the positions
 * distinct. */
static uint64_t chunker_mask(const unsigned n)
{
    uint64_t m = 0;
    for (unsigned j = 0; j < n; j++)
        m |= UINT64_C(1) << (CHUNKER_MASK_TOP - j * CHUNKER_MASK_SPAN / n);
    return m;
}

cairn_err chunker_init(chunker *c, const size_t min_size, const size_t avg_size,
                       const size_t max_size, const uint8_t secret[32])
{
    if (c == NULL || secret == NULL)
        return err_set(CAIRN_EINVAL, "chunker: missing chunker or secret");
    if (avg_size == 0 || (avg_size & (avg_size - 1)) != 0)
        return err_set(CAIRN_EINVAL, "chunker: average size %zu is not a power of two", avg_size);
    if (min_size < 64 || min_size >= avg_size || avg_size >= max_size)
        return err_set(CAIRN_EINVAL,
                       "chunker: sizes min %zu, avg %zu, max %zu do not satisfy "
                       "64 <= min < avg < max",
                       min_size, avg_size, max_size);

    unsigned bits = 0;
    while ((avg_size >> bits) > 1)
        bits++;
    /* avg >= 128 follows from min >= 64, so bits - NC >= 5. */
    if (bits + CHUNKER_NC_LEVEL > CHUNKER_MASK_SPAN)
        return err_set(CAIRN_EINVAL, "chunker: average size %zu is too large", avg_size);

    _Static_assert(randombytes_SEEDBYTES == 32, "secret is used directly as the seed");
    uint8_t raw[sizeof c->gear];
    randombytes_buf_deterministic(raw, sizeof raw, secret);
    /* Decode little-endian explicitly: boundaries must not depend on the
     * host's byte order, or two machines would not deduplicate against each
     * other. */
    for (size_t i = 0; i < 256; i++) {
        uint64_t g = 0;
        for (unsigned b = 0; b < 8; b++)
            g |= (uint64_t)raw[i * 8 + b] << (8 * b);
        c->gear[i] = g;
    }
    /* The table is a function of the secret; do not leave it on the stack. */
    sodium_memzero(raw, sizeof raw);

    c->mask_small = chunker_mask(bits + CHUNKER_NC_LEVEL);
    c->mask_large = chunker_mask(bits - CHUNKER_NC_LEVEL);
    c->min_size = min_size;
    c->avg_size = avg_size;
    c->max_size = max_size;
    return CAIRN_OK;
}

/* First index in [i, to) at which the running hash has no bit of mask set,
 * or to if there is none; *hp carries the hash in and out.  Deliberately a
 * plain loop: the hash chain is one lea per byte and the test and branch
 * (almost never taken) run beside it, so gcc -O2 already does about a byte
 * per cycle.  Unrolling by four with one combined test was slower, and the
 * 2020 paper's two-bytes-per-step variant gained under 5%, within noise. */
static inline size_t chunker_scan(const uint64_t *const gear, const uint64_t mask,
                                  const uint8_t *const data, size_t i, const size_t to,
                                  uint64_t *const hp)
{
    uint64_t h = *hp;
    for (; i < to; i++) {
        h = (h << 1) + gear[data[i]];
        if ((h & mask) == 0)
            return i;
    }
    *hp = h;
    return to;
}

size_t chunker_next(const chunker *const c, const uint8_t *const data, const size_t len,
                    const int at_eof)
{
    /* Cut-point skipping: no boundary can fall at or below min_size, so
     * those bytes are not even hashed. */
    if (len <= c->min_size)
        return at_eof ? len : 0;

    const size_t end = len < c->max_size ? len : c->max_size;
    const size_t normal = c->avg_size < end ? c->avg_size : end;
    uint64_t h = 0;

    /* The chunk includes the byte whose hash hit the mask, so a boundary
     * depends only on bytes inside its own chunk. */
    size_t i = chunker_scan(c->gear, c->mask_small, data, c->min_size, normal, &h);
    if (i < normal)
        return i + 1;
    i = chunker_scan(c->gear, c->mask_large, data, normal, end, &h);
    if (i < end)
        return i + 1;

    if (end == c->max_size || at_eof)
        return end;
    return 0;
}

/* The SQLite page size in the database header (big-endian u16 at offset 16,
 * 1 meaning 65536), or 0 when head is not a SQLite database's start. */
static size_t sqlite_page_size(const uint8_t *head, size_t len)
{
    static const char magic[16] = "SQLite format 3";
    if (len < 18 || memcmp(head, magic, sizeof magic) != 0)
        return 0;
    const size_t v = (size_t)head[16] << 8 | head[17];
    const size_t page = v == 1 ? 65536 : v;
    if (page < 512 || page > 65536 || (page & (page - 1)) != 0)
        return 0;
    return page;
}

/* HEIC, JPEG, PNG, MOV/MP4 (an ISO BMFF or QuickTime box first). */
static int is_media(const uint8_t *head, size_t len)
{
    static const uint8_t jpeg[3] = {0xff, 0xd8, 0xff};
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const char boxes[][4] = {"ftyp", "moov", "mdat", "wide"};
    if (len >= sizeof jpeg && memcmp(head, jpeg, sizeof jpeg) == 0)
        return 1;
    if (len >= sizeof png && memcmp(head, png, sizeof png) == 0)
        return 1;
    for (size_t i = 0; len >= 8 && i < sizeof boxes / sizeof boxes[0]; i++)
        if (memcmp(head + 4, boxes[i], 4) == 0)
            return 1;
    return 0;
}

cairn_err chunk_planner_init(chunk_planner *pl, uint32_t sqlite_chunk, int sqlite_fixed,
                             uint32_t media_chunk, size_t max_size, const uint8_t secret[32])
{
    memset(pl, 0, sizeof *pl);
    pl->sqlite_chunk = sqlite_chunk;
    pl->media_chunk = media_chunk;
    pl->max_size = max_size;
    pl->sqlite_fixed = sqlite_fixed;
    if (!sqlite_chunk || sqlite_fixed)
        return CAIRN_OK;
    /* a quarter to four times the average, like the main chunker's 256 KiB /
     * 1 MiB / 4 MiB; the store keeps the maximum within chunk_max */
    const size_t max = (size_t)sqlite_chunk * 4 < max_size ? (size_t)sqlite_chunk * 4 : max_size;
    if (max <= sqlite_chunk) { /* no room above the average: fixed pieces */
        pl->sqlite_fixed = 1;
        return CAIRN_OK;
    }
    return chunker_init(&pl->sqlite_cdc, sqlite_chunk / 4, sqlite_chunk, max, secret);
}

chunk_plan chunk_planner_plan(const chunk_planner *pl, const uint8_t *head, size_t len)
{
    chunk_plan plan = {NULL, 0, 0, 0};
    const size_t page = pl->sqlite_chunk ? sqlite_page_size(head, len) : 0;
    plan.zstd_sure = page != 0;
    if (page && !pl->sqlite_fixed) {
        plan.cdc = &pl->sqlite_cdc;
    } else if (page) {
        plan.fixed = page > pl->sqlite_chunk ? page : pl->sqlite_chunk;
        if (plan.fixed > pl->max_size) /* a 64 KiB page under a smaller max */
            plan.fixed = 0;
    } else if (pl->media_chunk && is_media(head, len)) {
        plan.fixed = pl->media_chunk;
        plan.no_zstd = 1;
    }
    return plan;
}

unsigned chunk_plan_store_flags(const chunk_plan *plan)
{
    if (plan->no_zstd)
        return STORE_CHUNK_NO_ZSTD;
    return plan->zstd_sure ? STORE_CHUNK_ZSTD : 0;
}

size_t chunker_next_planned(const chunker *c, const chunk_plan *plan, const uint8_t *data,
                            size_t len, int at_eof)
{
    if (!plan->fixed)
        return chunker_next(plan->cdc ? plan->cdc : c, data, len, at_eof);
    if (len >= plan->fixed)
        return plan->fixed;
    return at_eof ? len : 0;
}

static void fprint_of(tree_fprint *fp, const uint8_t *p, size_t len, const uint8_t *secret)
{
    fp->len = (uint32_t)len;
    XXH128_canonicalFromHash((XXH128_canonical_t *)fp->hash,
                             XXH3_128bits_withSecret(p, len, secret, KEYS_FILE_SECRET));
}

size_t chunker_next_known(const chunker *ck, const chunk_plan *plan, tree_fprint_cursor *prev,
                          uint64_t off, const uint8_t *p, size_t avail, int eof,
                          const uint8_t *secret, tree_fprint *fp, const uint8_t **same)
{
    const chunker *const cdc = plan->cdc ? plan->cdc : ck;
    size_t expect = plan->fixed ? 0 : tree_fprint_expect(prev, off, avail, eof);
    /* cut under other sizes (the file's kind changed): the chunker decides,
     * and no chunk but the last is at most min_size (callers size for it) */
    if (expect > cdc->max_size || (expect <= cdc->min_size && !(eof && expect == avail)))
        expect = 0;
    *same = NULL;
    if (expect) {
        fprint_of(fp, p, expect, secret);
        if ((*same = tree_fprint_match(prev, off, fp)) != NULL)
            return expect;
    }
    const size_t cut = chunker_next_planned(ck, plan, p, avail, eof);
    if (cut && cut != expect) {
        fprint_of(fp, p, cut, secret);
        *same = tree_fprint_match(prev, off, fp);
    }
    return cut;
}
