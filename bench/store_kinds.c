/* store_kinds.c - where a store's bytes go, by kind of data (issue 14: is
 * cairn's store larger than restic's, and why?).
 *
 * Reads every pack's trailer, walks every snapshot's trees and attributes
 * each chunk to the first file that uses it; a file's kind is decided from
 * the first bytes of the same path under SOURCE (the folder that was backed
 * up, still as it was): SQLite, media (the magic bytes of docs/FORMAT.md),
 * or other.  Chunks of encoded trees and catalogs are metadata.  Prints a
 * Markdown table per kind: chunks, plaintext bytes, stored payload (zstd or
 * raw), the seal's 40 bytes per chunk and the trailer entry per chunk
 * (exact varints), then the per-pack bytes (header, footer, trailer seal and
 * count) and their sum, which must equal the pack files' sizes.
 *
 * With --levels L,L,..., each SQLite chunk is also read back and compressed
 * alone at each zstd level (kept raw unless 2% smaller, as store/blob.c
 * does): stored payload and CPU seconds of one thread per level, and the
 * CPU of store/blob.c's compressibility probe over the same chunks.
 *
 * usage: CAIRN_PASSWORD=... cairn-store-kinds [--levels L,L,...] STORE SOURCE
 * Not a test: its numbers go to docs/BENCHMARKS.md. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include <sodium.h>

#include "engine/core/snapshot_list.h"
#include "engine/core/tree_walk.h"
#include "store/blob.h"
#include "store/seal.h"

enum kind { K_NONE, K_SQLITE, K_MEDIA, K_OTHER, K_TREE, K_CATALOG, K_COUNT };
static const char *const kind_name[K_COUNT] = {"unreferenced", "SQLite", "media",
                                               "other files",  "trees",  "catalogs"};

typedef struct chunk {
    pack_entry e;
    enum kind kind;
} chunk;

typedef struct kinds_acct {
    chunk *chunks;
    size_t n, cap;
    uint64_t packs, pack_bytes, pack_fixed; /* header + footer + trailer seal + count */
    const char *source;
    uint64_t files[K_COUNT];
} kinds_acct;

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t entry_size(const pack_entry *e)
{
    return ID_LEN + 1 + varint_size(e->offset) + varint_size(e->stored_len) +
           varint_size(e->raw_len);
}

static int by_id(const void *a, const void *b)
{
    return memcmp(((const chunk *)a)->e.id, ((const chunk *)b)->e.id, ID_LEN);
}

/* store_each_pack gives no store to its callback: keep it here. */
static store *g_store;

static cairn_err on_pack_entries(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path,
                                 uint64_t size)
{
    (void)path;
    kinds_acct *const a = ctx;
    pack_entry *es = NULL;
    size_t count = 0;
    uint64_t psize = 0;
    const cairn_err rc = store_pack_entries(g_store, pack, &es, &count, &psize);
    if (rc)
        return rc;
    uint64_t blobs = 0, entries = 0;
    for (size_t i = 0; i < count; i++) {
        if (a->n == a->cap) {
            a->cap = a->cap ? 2 * a->cap : 65536;
            a->chunks = realloc(a->chunks, a->cap * sizeof *a->chunks);
            if (!a->chunks)
                return err_set(CAIRN_ENOMEM, "out of memory");
        }
        a->chunks[a->n++] = (chunk){es[i], K_NONE};
        blobs += es[i].stored_len;
        entries += entry_size(&es[i]);
    }
    free(es);
    a->packs++;
    a->pack_bytes += size;
    /* header 8, the trailer's seal 40 and entry count, footer 16 */
    a->pack_fixed += size - blobs - entries;
    (void)psize;
    return CAIRN_OK;
}

static void mark(kinds_acct *a, const uint8_t (*ids)[ID_LEN], uint32_t n, enum kind k)
{
    for (uint32_t i = 0; i < n; i++) {
        chunk key;
        memcpy(key.e.id, ids[i], ID_LEN);
        chunk *const c = bsearch(&key, a->chunks, a->n, sizeof *a->chunks, by_id);
        if (c && c->kind == K_NONE)
            c->kind = k;
    }
}

static enum kind classify(const uint8_t *h, size_t n)
{
    if (n >= 18 && memcmp(h, "SQLite format 3", 16) == 0)
        return K_SQLITE;
    if (n >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF)
        return K_MEDIA;
    if (n >= 8 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0)
        return K_MEDIA;
    if (n >= 8 && (memcmp(h + 4, "ftyp", 4) == 0 || memcmp(h + 4, "moov", 4) == 0 ||
                   memcmp(h + 4, "mdat", 4) == 0 || memcmp(h + 4, "wide", 4) == 0))
        return K_MEDIA;
    return K_OTHER;
}

static cairn_err on_tree_chunks(void *ctx, const char *path, const uint8_t (*ids)[ID_LEN],
                                uint32_t n, int *damaged)
{
    (void)path;
    (void)damaged;
    mark(ctx, ids, n, K_TREE);
    return CAIRN_OK;
}

static cairn_err on_file(void *ctx, const char *path, tree_node *node, int *damaged)
{
    (void)damaged;
    kinds_acct *const a = ctx;
    char full[4096];
    uint8_t head[100];
    ssize_t got = 0;
    snprintf(full, sizeof full, "%s%s", a->source, path);
    const int fd = open(full, O_RDONLY);
    if (fd >= 0) {
        got = read(fd, head, sizeof head);
        close(fd);
    }
    const enum kind k = got > 0 ? classify(head, (size_t)got) : K_OTHER;
    a->files[k]++;
    mark(a, (const uint8_t(*)[ID_LEN])node->chunks, node->nchunks, k);
    return CAIRN_OK;
}

static cairn_err on_catalog(void *ctx, const snapshot *sn, int *damaged)
{
    (void)damaged;
    mark(ctx, (const uint8_t(*)[ID_LEN])sn->catalog, sn->ncatalog, K_CATALOG);
    return CAIRN_OK;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every SQLite chunk compressed alone at each level of the list. */
static cairn_err levels(store *s, store_worker *w, const kinds_acct *a, const char *list)
{
    enum { MAXL = 16 };
    int lv[MAXL], nl = 0;
    for (const char *p = list; *p && nl < MAXL;) {
        char *end;
        lv[nl++] = (int)strtol(p, &end, 10);
        p = *end == ',' ? end + 1 : end + strlen(end);
    }
    uint64_t out[MAXL] = {0}, raw = 0, probed = 0;
    double cpu[MAXL] = {0}, probe_cpu = 0;
    cbuf plain, dst;
    cbuf_init(&plain);
    cbuf_init(&dst);
    ZSTD_CCtx *const cc = ZSTD_createCCtx();
    blob_ctx *bc = NULL;
    cairn_err rc = blob_ctx_new(1, &bc);
    for (size_t i = 0; !rc && i < a->n; i++) {
        if (a->chunks[i].kind != K_SQLITE)
            continue;
        rc = store_get_chunk(s, w, a->chunks[i].e.id, &plain);
        if (rc)
            break;
        raw += plain.len;
        const size_t bound = ZSTD_compressBound(plain.len);
        cbuf_reset(&dst);
        uint8_t *const d = cbuf_reserve(&dst, bound);
        if (!d) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
            break;
        }
        double t0 = cpu_now();
        probed += (uint64_t)blob_incompressible(bc, plain.data, plain.len);
        probe_cpu += cpu_now() - t0;
        for (int l = 0; l < nl; l++) {
            ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, lv[l]);
            t0 = cpu_now();
            const size_t n = ZSTD_compress2(cc, d, bound, plain.data, plain.len);
            cpu[l] += cpu_now() - t0;
            out[l] += !ZSTD_isError(n) && n * 50 < plain.len * 49 ? n : plain.len;
        }
    }
    if (!rc) {
        printf("\nSQLite chunks alone, %llu bytes: probe %.2f s CPU (%llu found "
               "incompressible)\n\n| zstd level | stored payload | ratio | CPU s | MB/s |\n"
               "|--:|--:|--:|--:|--:|\n",
               (unsigned long long)raw, probe_cpu, (unsigned long long)probed);
        for (int l = 0; l < nl; l++)
            printf("| %d | %llu | %.3f | %.2f | %.0f |\n", lv[l], (unsigned long long)out[l],
                   (double)raw / (double)out[l], cpu[l], (double)raw / 1e6 / cpu[l]);
    }
    blob_ctx_free(bc);
    ZSTD_freeCCtx(cc);
    cbuf_free(&plain);
    cbuf_free(&dst);
    return rc;
}

int main(int argc, char **argv)
{
    const char *level_list = NULL;
    if (argc == 5 && strcmp(argv[1], "--levels") == 0) {
        level_list = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc != 3) {
        fprintf(stderr,
                "usage: CAIRN_PASSWORD=... cairn-store-kinds [--levels L,L,...] STORE SOURCE\n");
        return 2;
    }
    const char *const pw = getenv("CAIRN_PASSWORD");
    if (!pw) {
        fprintf(stderr, "cairn-store-kinds: set CAIRN_PASSWORD\n");
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "cairn-store-kinds: libsodium does not start\n");
        return 1;
    }
    kinds_acct a = {.source = argv[2]};
    store *s = NULL;
    store_worker *w = NULL;
    tree_walk *tw = NULL;
    snaplist l = {0};
    cairn_err rc = store_open(argv[1], pw, strlen(pw), 0, &s);
    if (rc)
        goto fail;
    g_store = s;
    rc = store_each_pack(s, on_pack_entries, &a);
    if (rc)
        goto fail;
    qsort(a.chunks, a.n, sizeof *a.chunks, by_id);
    rc = store_worker_new(s, &w);
    if (rc)
        goto fail;
    rc = snaplist_load(s, &l);
    if (rc)
        goto fail;
    const tree_walk_ops ops = {
        .on_tree_chunks = on_tree_chunks, .on_file = on_file, .on_catalog = on_catalog};
    rc = tree_walk_new(s, w, &ops, &a, 0, &tw);
    if (rc)
        goto fail;
    for (size_t i = 0; i < l.count; i++) {
        int damaged = 0;
        rc = tree_walk_snapshot(tw, &l.items[i], &damaged, NULL, NULL);
        if (rc)
            goto fail;
    }

    uint64_t cnt[K_COUNT] = {0}, raw[K_COUNT] = {0}, pay[K_COUNT] = {0}, ent[K_COUNT] = {0},
             zc[K_COUNT] = {0}, zraw[K_COUNT] = {0}, zpay[K_COUNT] = {0};
    for (size_t i = 0; i < a.n; i++) {
        const chunk *const c = &a.chunks[i];
        const enum kind k = c->kind;
        cnt[k]++;
        raw[k] += c->e.raw_len;
        pay[k] += c->e.stored_len - SEAL_OVERHEAD;
        ent[k] += entry_size(&c->e);
        if (c->e.flags & PACK_ZSTD) {
            zc[k]++;
            zraw[k] += c->e.raw_len;
            zpay[k] += c->e.stored_len - SEAL_OVERHEAD;
        }
    }
    printf("| kind | files | chunks | plaintext | stored payload | ratio | seal 40/chunk | "
           "trailer entries | total in packs | zstd chunks (raw -> payload) |\n");
    printf("|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    uint64_t total = 0;
    for (int k = 0; k < K_COUNT; k++) {
        if (!cnt[k] && !a.files[k])
            continue;
        const uint64_t seal = cnt[k] * SEAL_OVERHEAD;
        const uint64_t sum = pay[k] + seal + ent[k];
        total += sum;
        printf("| %s | %llu | %llu | %llu | %llu | %.3f | %llu | %llu | %llu | %llu (%llu -> "
               "%llu) |\n",
               kind_name[k], (unsigned long long)a.files[k], (unsigned long long)cnt[k],
               (unsigned long long)raw[k], (unsigned long long)pay[k],
               pay[k] ? (double)raw[k] / (double)pay[k] : 0.0, (unsigned long long)seal,
               (unsigned long long)ent[k], (unsigned long long)sum, (unsigned long long)zc[k],
               (unsigned long long)zraw[k], (unsigned long long)zpay[k]);
    }
    printf("| per pack (%llu packs: header, footer, trailer seal, count) | | | | | | | | %llu "
           "| |\n",
           (unsigned long long)a.packs, (unsigned long long)a.pack_fixed);
    total += a.pack_fixed;
    printf("| **sum** | | %zu | | | | | | %llu (pack files: %llu) | |\n", a.n,
           (unsigned long long)total, (unsigned long long)a.pack_bytes);
    if (level_list)
        rc = levels(s, w, &a, level_list);
fail:
    if (rc)
        fprintf(stderr, "cairn-store-kinds: %s\n", err_msg());
    tree_walk_free(tw);
    snaplist_free(&l);
    store_worker_free(w);
    store_close(s);
    free(a.chunks);
    return rc ? 1 : 0;
}
