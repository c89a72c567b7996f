/* zstd_dict.c - does a zstd dictionary pay for small SQLite chunks (issue 14)?
 *
 * Cuts the SQLite databases under DAY0 (and DAY1) as a default store cuts
 * them (FastCDC, 16 KiB average, chunk_planner), keeps each distinct chunk
 * once (day 1: only the chunks day 0 did not have, as a store would add), and
 * compresses them one by one at zstd levels 1 and 3: without a dictionary,
 * and with dictionaries of 16, 64 and 112 KiB trained (ZDICT_trainFromBuffer)
 * on a sample of day 0's chunks; compressing through a ZSTD_CDict prepared
 * once, decompressing through a ZSTD_DDict.  Prints a Markdown table: stored
 * bytes (a chunk that does not shrink is stored raw, as store/blob.c does),
 * ratio, compression and decompression MB/s in CPU time of one thread.
 *
 * usage: cairn-zstd-dict [--chunk BYTES] [--sample MB] [--attach] DAY0_DIR [DAY1_DIR]
 * --attach: the compressor references the dictionary's tables instead of
 * copying them for every chunk (ZSTD_dictForceAttach; zstd copies them for
 * sources above a per-strategy cutoff, 16 KiB at level 3).
 * Not a test: its numbers go to docs/BENCHMARKS.md. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>
#include <zdict.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_forceAttachDict, for --attach */
#include <zstd.h>

#include "engine/core/chunker.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* One day's distinct chunks, concatenated, with their sizes. */
typedef struct chunks {
    uint8_t *data;
    size_t len, cap;
    size_t *sizes;
    size_t n, ncap;
} chunks;

/* The walk's state is file-static because nftw's callback takes no context.
 * Distinct chunk hashes seen so far (both days): open addressing on XXH3. */
static XXH128_hash_t *seen;
static size_t seen_cap, seen_n;

static int seen_add(XXH128_hash_t h)
{
    if (seen_n * 2 >= seen_cap) {
        const size_t old = seen_cap;
        XXH128_hash_t *const o = seen;
        seen_cap = old ? old * 2 : 1 << 16;
        seen = calloc(seen_cap, sizeof *seen);
        if (!seen)
            exit(1);
        seen_n = 0;
        for (size_t i = 0; i < old; i++)
            if (o[i].low64 | o[i].high64)
                seen_add(o[i]);
        free(o);
    }
    size_t i = (size_t)h.low64 & (seen_cap - 1);
    while (seen[i].low64 | seen[i].high64) {
        if (XXH128_isEqual(seen[i], h))
            return 0;
        i = (i + 1) & (seen_cap - 1);
    }
    seen[i] = h;
    seen_n++;
    return 1;
}

static chunk_planner planner;
static chunks *cur;
static uint64_t files_n, files_bytes;
static int force_attach;

static void add_chunk(const uint8_t *p, size_t n)
{
    if (!seen_add(XXH3_128bits(p, n)))
        return;
    if (cur->len + n > cur->cap) {
        cur->cap = (cur->len + n) * 2;
        cur->data = xrealloc(cur->data, cur->cap);
    }
    memcpy(cur->data + cur->len, p, n);
    cur->len += n;
    if (cur->n == cur->ncap) {
        cur->ncap = cur->ncap ? cur->ncap * 2 : 1024;
        cur->sizes = xrealloc(cur->sizes, cur->ncap * sizeof *cur->sizes);
    }
    cur->sizes[cur->n++] = n;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || st->st_size < CHUNKER_PLAN_HEAD)
        return 0;
    FILE *const fp = fopen(path, "rb");
    if (!fp)
        return 0;
    uint8_t *const buf = xrealloc(NULL, (size_t)st->st_size);
    const size_t len = fread(buf, 1, (size_t)st->st_size, fp);
    fclose(fp);
    const chunk_plan plan = chunk_planner_plan(&planner, buf, len);
    if (plan.cdc || (plan.fixed && !plan.no_zstd)) { /* a SQLite database */
        files_n++;
        files_bytes += len;
        for (size_t pos = 0; pos < len;) {
            const size_t cut = chunker_next_planned(plan.cdc, &plan, buf + pos, len - pos, 1);
            add_chunk(buf + pos, cut);
            pos += cut;
        }
    }
    free(buf);
    return 0;
}

typedef struct result {
    uint64_t in, stored;
    double c_mbs, d_mbs;
} result;

/* Compresses every chunk (with cd, or none), then decompresses the
 * compressed ones, timing both in CPU time. */
static result run(const chunks *c, int level, const ZSTD_CDict *cd, const ZSTD_DDict *dd)
{
    ZSTD_CCtx *const cc = ZSTD_createCCtx();
    ZSTD_DCtx *const dc = ZSTD_createDCtx();
    size_t maxc = 0;
    for (size_t i = 0; i < c->n; i++)
        maxc = c->sizes[i] > maxc ? c->sizes[i] : maxc;
    /* one output slot per chunk, touched before timing: page faults on
     * fresh memory would otherwise cost more than the compression */
    size_t *const zo = xrealloc(NULL, (c->n + 1) * sizeof *zo);
    zo[0] = 0;
    for (size_t i = 0; i < c->n; i++)
        zo[i + 1] = zo[i] + ZSTD_compressBound(c->sizes[i]);
    uint8_t *const z = xrealloc(NULL, zo[c->n] + 1);
    memset(z, 0, zo[c->n] + 1);
    size_t *const zl = xrealloc(NULL, (c->n + 1) * sizeof *zl);
    uint8_t *const back = xrealloc(NULL, maxc ? maxc : 1);
    result r = {0, 0, 0, 0};
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
    if (cd && force_attach)
        ZSTD_CCtx_setParameter(cc, ZSTD_c_forceAttachDict, ZSTD_dictForceAttach);
    if (cd)
        ZSTD_CCtx_refCDict(cc, cd);
    /* the best of three passes each way: the machine is shared */
    double tc = 1e30, td = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        const double t0 = cpu_now();
        size_t off = 0;
        for (size_t i = 0; i < c->n; i++) {
            zl[i] = ZSTD_compress2(cc, z + zo[i], zo[i + 1] - zo[i], c->data + off, c->sizes[i]);
            if (ZSTD_isError(zl[i]))
                exit(1);
            off += c->sizes[i];
        }
        const double t1 = cpu_now();
        tc = t1 - t0 < tc ? t1 - t0 : tc;
    }
    uint64_t dbytes = 0;
    for (int rep = 0; rep < 3; rep++) {
        const double t0 = cpu_now();
        for (size_t i = 0; i < c->n; i++)
            if (zl[i] < c->sizes[i]) {
                const size_t d =
                    dd ? ZSTD_decompress_usingDDict(dc, back, maxc, z + zo[i], zl[i], dd)
                       : ZSTD_decompressDCtx(dc, back, maxc, z + zo[i], zl[i]);
                if (d != c->sizes[i])
                    exit(1);
            }
        const double t1 = cpu_now();
        td = t1 - t0 < td ? t1 - t0 : td;
    }
    size_t off = 0;
    for (size_t i = 0; i < c->n; i++) { /* verify, untimed; a chunk that grew is stored raw */
        r.in += c->sizes[i];
        if (zl[i] < c->sizes[i]) {
            const size_t d = dd ? ZSTD_decompress_usingDDict(dc, back, maxc, z + zo[i], zl[i], dd)
                                : ZSTD_decompressDCtx(dc, back, maxc, z + zo[i], zl[i]);
            if (d != c->sizes[i] || memcmp(back, c->data + off, d) != 0) {
                fprintf(stderr, "round trip failed\n");
                exit(1);
            }
            dbytes += d;
            r.stored += zl[i];
        } else {
            r.stored += c->sizes[i];
        }
        off += c->sizes[i];
    }
    r.c_mbs = (double)r.in / tc / 1e6;
    r.d_mbs = (double)dbytes / td / 1e6;
    ZSTD_freeCCtx(cc);
    ZSTD_freeDCtx(dc);
    free(z);
    free(zl);
    free(zo);
    free(back);
    return r;
}

int main(int argc, char **argv)
{
    uint32_t chunk = 16384;
    double sample_mb = 10;
    int a = 1;
    for (; a < argc && argv[a][0] == '-'; a++) {
        if (strcmp(argv[a], "--attach") == 0)
            force_attach = 1;
        else if (a + 1 < argc && strcmp(argv[a], "--chunk") == 0)
            chunk = (uint32_t)strtoul(argv[++a], NULL, 10);
        else if (a + 1 < argc && strcmp(argv[a], "--sample") == 0)
            sample_mb = strtod(argv[++a], NULL);
        else
            break;
    }
    if (a >= argc) {
        fprintf(stderr,
                "usage: cairn-zstd-dict [--chunk BYTES] [--sample MB] [--attach] DAY0 [DAY1]\n");
        return 2;
    }
    static const uint8_t secret[32] = {1};
    if (chunk_planner_init(&planner, chunk, 0, 0, 4u << 20, secret))
        return 1;
    chunks days[2];
    memset(days, 0, sizeof days);
    const int ndays = a + 1 < argc ? 2 : 1;
    for (int d = 0; d < ndays; d++) {
        cur = &days[d];
        files_n = files_bytes = 0;
        if (nftw(argv[a + d], visit, 16, FTW_PHYS) != 0) {
            perror(argv[a + d]);
            return 1;
        }
        printf("day %d: %llu SQLite files, %.1f MB; %zu new distinct chunks, %.1f MB\n", d,
               (unsigned long long)files_n, (double)files_bytes / 1e6, days[d].n,
               (double)days[d].len / 1e6);
    }

    /* sample: every k-th chunk of day 0, about sample_mb in all */
    const chunks *const d0 = &days[0];
    const size_t want = (size_t)(sample_mb * 1e6);
    const size_t step = d0->len > want ? (d0->len + want - 1) / want : 1;
    uint8_t *const sbuf = xrealloc(NULL, d0->len ? d0->len : 1);
    size_t *const ssz = xrealloc(NULL, (d0->n + 1) * sizeof *ssz);
    size_t slen = 0, sn = 0, off = 0;
    for (size_t i = 0; i < d0->n; off += d0->sizes[i], i++)
        if (i % step == 0) {
            memcpy(sbuf + slen, d0->data + off, d0->sizes[i]);
            slen += d0->sizes[i];
            ssz[sn++] = d0->sizes[i];
        }
    printf("training sample: %zu chunks, %.1f MB (every %zu-th of day 0)\n\n", sn,
           (double)slen / 1e6, step);

    printf("| level | dictionary | train s (CPU) | day 0 stored MB | ratio | day 1 stored MB | "
           "ratio | compress MB/s | decompress MB/s |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    static const size_t dsizes[] = {0, 16 << 10, 64 << 10, 112 << 10};
    for (size_t k = 0; k < sizeof dsizes / sizeof dsizes[0]; k++) {
        uint8_t *dict = NULL;
        size_t dlen = 0;
        double train = 0;
        if (dsizes[k]) {
            dict = xrealloc(NULL, dsizes[k]);
            const double t0 = cpu_now();
            dlen = ZDICT_trainFromBuffer(dict, dsizes[k], sbuf, ssz, (unsigned)sn);
            train = cpu_now() - t0;
            if (ZDICT_isError(dlen)) {
                fprintf(stderr, "training: %s\n", ZDICT_getErrorName(dlen));
                return 1;
            }
        }
        for (int level = 1; level <= 3; level += 2) {
            ZSTD_CDict *const cd = dict ? ZSTD_createCDict(dict, dlen, level) : NULL;
            ZSTD_DDict *const dd = dict ? ZSTD_createDDict(dict, dlen) : NULL;
            const result r0 = run(&days[0], level, cd, dd);
            const result r1 = ndays > 1 ? run(&days[1], level, cd, dd) : (result){0, 0, 0, 0};
            printf("| %d | %zu KiB | %.1f | %.2f | %.3f | %.2f | %.3f | %.0f | %.0f |\n", level,
                   dlen / 1024, train, (double)r0.stored / 1e6, (double)r0.in / (double)r0.stored,
                   (double)r1.stored / 1e6, r1.stored ? (double)r1.in / (double)r1.stored : 0.0,
                   r0.c_mbs, r0.d_mbs);
            fflush(stdout);
            ZSTD_freeCDict(cd);
            ZSTD_freeDDict(dd);
        }
        free(dict);
    }
    free(sbuf);
    free(ssz);
    return 0;
}
