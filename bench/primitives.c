/* primitives.c - the speed of each primitive a new byte goes through, on
 * this machine, in CPU time of one thread (so that other load on a shared
 * machine changes little): keyed BLAKE2b, XChaCha20-Poly1305 through
 * libsodium and through OpenSSL (cairn's seal), XXH3-128, and zstd at
 * levels 1 and 3 (ratio and speed) on the files given, cut into chunks.
 *
 * usage: cairn-primitives [--chunk BYTES] [FILE...]
 * Prints a Markdown table.  Not a test: its numbers go to docs/BENCHMARKS.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <xxhash.h>
#include <zstd.h>

#include "store/seal.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { KIND_BLAKE, KIND_SODIUM, KIND_OSSL, KIND_XXH3, KIND_OPEN_SODIUM, KIND_OPEN_SEAL };

static volatile uint8_t sink;

/* MB/s of one primitive over buffers of len bytes, for about 0.3 s of CPU. */
static double speed(int kind, size_t len)
{
    uint8_t key[SEAL_KEY_LEN], nonce[SEAL_NONCE_LEN], id[ID_LEN], ad[ID_LEN + 1] = {0};
    uint8_t *const buf = malloc(len + SEAL_OVERHEAD);
    uint8_t *const out = malloc(len + SEAL_OVERHEAD);
    if (!buf || !out)
        exit(1);
    randombytes_buf(key, sizeof key);
    randombytes_buf(nonce, sizeof nonce);
    randombytes_buf(buf, len);
    seal_box_sodium(key, ad, sizeof ad, buf, len, out);
    size_t bytes = 0;
    const double t0 = cpu_now();
    double t = t0;
    while (t - t0 < 0.3) {
        for (int i = 0; i < 16; i++) {
            switch (kind) {
            case KIND_BLAKE:
                seal_id(key, buf, len, id);
                break;
            case KIND_SODIUM:
                seal_box_sodium(key, ad, sizeof ad, buf, len, out);
                break;
            case KIND_OSSL:
                seal_box_with_nonce(key, nonce, ad, sizeof ad, buf, len, out);
                break;
            case KIND_XXH3:
                id[0] = (uint8_t)XXH3_128bits(buf, len).low64;
                break;
            case KIND_OPEN_SODIUM:
                if (seal_open_sodium(key, ad, sizeof ad, out, len + SEAL_OVERHEAD, buf))
                    exit(1);
                break;
            default:
                if (seal_open(key, ad, sizeof ad, out, len + SEAL_OVERHEAD, buf))
                    exit(1);
                break;
            }
            bytes += len;
        }
        t = cpu_now();
    }
    sink = id[0] ^ out[0];
    free(buf);
    free(out);
    return (double)bytes / (t - t0) / 1e6;
}

static int zstd_row(const char *const *files, int nfiles, size_t chunk, int level)
{
    ZSTD_CCtx *const cc = ZSTD_createCCtx();
    uint8_t *const dst = malloc(ZSTD_compressBound(chunk));
    uint8_t *const src = malloc(chunk);
    if (!cc || !dst || !src)
        return 1;
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
    uint64_t in = 0, outb = 0;
    double cpu = 0;
    for (int f = 0; f < nfiles; f++) {
        FILE *const fp = fopen(files[f], "rb");
        if (!fp) {
            perror(files[f]);
            return 1;
        }
        size_t n;
        while ((n = fread(src, 1, chunk, fp)) > 0) {
            const double t0 = cpu_now();
            const size_t z = ZSTD_compress2(cc, dst, ZSTD_compressBound(chunk), src, n);
            cpu += cpu_now() - t0;
            if (ZSTD_isError(z))
                return 1;
            in += n;
            outb += z < n ? z : n;
        }
        fclose(fp);
    }
    printf("| zstd level %d, %zu KiB chunks | %.0f | ratio %.3f over %.1f MB |\n", level,
           chunk / 1024, (double)in / cpu / 1e6, (double)in / (double)outb, (double)in / 1e6);
    ZSTD_freeCCtx(cc);
    free(dst);
    free(src);
    return 0;
}

int main(int argc, char **argv)
{
    size_t chunk = 1 << 20;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--chunk") == 0) {
        chunk = (size_t)strtoul(argv[2], NULL, 10);
        first = 3;
    }
    if (sodium_init() < 0 || chunk == 0)
        return 1;
    static const size_t sizes[] = {256, 1024, 2048, 4096, 16384, 65536, 1 << 20};
    static const char *const names[] = {"keyed BLAKE2b-256 (libsodium)",
                                        "seal XChaCha20-Poly1305, libsodium",
                                        "seal XChaCha20-Poly1305, HChaCha20 + OpenSSL",
                                        "XXH3-128",
                                        "open, libsodium",
                                        "open, seal_open (cairn)"};
    printf("| MB/s (one thread, CPU time) |");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        printf(" %zu B |", sizes[s]);
    printf("\n|:--|");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        printf("--:|");
    printf("\n");
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++) {
        printf("| %s |", names[k]);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            printf(" %.0f |", speed(k, sizes[s]));
        printf("\n");
        fflush(stdout);
    }
    if (first < argc) {
        printf("\n| compression (CPU time) | MB/s in | |\n|:--|--:|:--|\n");
        for (int level = 1; level <= 3; level += 2)
            if (zstd_row((const char *const *)argv + first, argc - first, chunk, level))
                return 1;
    }
    return 0;
}
