/* primitives.c - the speed of each primitive a new byte goes through, on
 * this machine, in CPU time of one thread (so that other load on a shared
 * machine changes little): keyed BLAKE2b through libsodium and as cairn
 * computes it (OpenSSL from 2 KiB), XChaCha20-Poly1305 through
 * libsodium and through OpenSSL (cairn's seal), XXH3-128, and zstd at
 * levels 1 and 3 (ratio and speed) on the files given, cut into chunks.
 *
 * usage: cairn-primitives [--chunk BYTES] [FILE...]
 * Prints a Markdown table.  Not a test: its numbers go to docs/BENCHMARKS.md.
 *
 * The floor of a restore, the work any tool must do, each printed as one
 * JSON line for bench/run.sh (wall and CPU = user + sys of this process):
 *   cairn-primitives --floor-write SRC DST   every regular file of SRC
 *       created under DST with the same size, mode and mtime, written from
 *       memory in 1 MiB writes (the kernel's cost of creating and writing
 *       the restored files, which every tool pays);
 *   cairn-primitives --floor-read DIR        every file under DIR dropped
 *       from the page cache, then read in 1 MiB reads (reading a store);
 *   cairn-primitives --floor-decode FILE...  opening (ChaCha20-Poly1305,
 *       cairn's seal_open) of 1 MiB blobs, and zstd decompression of the
 *       files cut into 16 KiB chunks at level 2 (MB/s of output), and the
 *       files' bytes (SQLite files: what a store keeps compressed).
 * and of an initial backup:
 *   cairn-primitives --floor-scan DIR        every file under DIR read in
 *       1 MiB reads as the page cache has it (the backup's source);
 *   cairn-primitives --floor-encode FILE...  keyed BLAKE2b and the seal on
 *       1 MiB buffers (their best speeds), and zstd level 1 (the cheapest
 *       level) of the files cut into 16 KiB chunks, and the files' bytes;
 *   cairn-primitives --floor-sink DIR BYTES  BYTES written from memory into
 *       new 16 MiB files under DIR, each made durable (fsync), then DIR:
 *       what writing a store of that size costs the kernel and the disk;
 *   cairn-primitives --floor-pipe SRC DIR    all of that at once, as the
 *       simplest program that overlaps it would: a thread per core takes
 *       SRC's files in turn, reads each in 1 MiB reads, hashes every byte
 *       (keyed BLAKE2b), compresses the SQLite files' bytes (zstd level 1,
 *       16 KiB pieces), seals what it keeps (1 MiB at a time) and appends it
 *       to a 16 MiB file of its own under DIR, which one more thread makes
 *       durable (fsync) while the workers go on: the wall time the floor's
 *       work takes on this machine when it is overlapped, with nothing else
 *       (no cutting, no index, no catalog). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

enum {
    KIND_BLAKE,
    KIND_BLAKE_SODIUM,
    KIND_SODIUM,
    KIND_OSSL,
    KIND_XXH3,
    KIND_OPEN_SODIUM,
    KIND_OPEN_SEAL
};

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
            case KIND_BLAKE_SODIUM:
                seal_id_sodium(key, buf, len, id);
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

/* Calls fn on each chunk-sized piece of the files in turn, until it
 * returns nonzero: 1 stops there, -1 is an error. */
typedef int (*piece_fn)(void *ctx, const uint8_t *piece, size_t n);

static int each_piece(const char *const *files, int nfiles, size_t chunk, piece_fn fn, void *ctx)
{
    uint8_t *const src = malloc(chunk);
    int rc = src ? 0 : -1;
    for (int f = 0; f < nfiles && !rc; f++) {
        FILE *const fp = fopen(files[f], "rb");
        if (!fp) {
            perror(files[f]);
            rc = -1;
            break;
        }
        size_t n;
        while (!rc && (n = fread(src, 1, chunk, fp)) > 0)
            rc = fn(ctx, src, n);
        fclose(fp);
    }
    free(src);
    return rc < 0;
}

typedef struct zstd_run {
    ZSTD_CCtx *cc;
    ZSTD_DCtx *dc;
    uint8_t *z, *back;
    size_t cap;
    uint64_t in, out, limit; /* limit: stop after this much input (decompression) */
    double cpu;
} zstd_run;

static int zstd_run_init(zstd_run *r, size_t chunk, int level)
{
    memset(r, 0, sizeof *r);
    r->cc = ZSTD_createCCtx();
    r->dc = ZSTD_createDCtx();
    r->cap = ZSTD_compressBound(chunk);
    r->z = malloc(r->cap);
    r->back = malloc(chunk);
    r->limit = UINT64_MAX;
    if (!r->cc || !r->dc || !r->z || !r->back)
        return 1;
    ZSTD_CCtx_setParameter(r->cc, ZSTD_c_compressionLevel, level);
    return 0;
}

static void zstd_run_free(zstd_run *r)
{
    ZSTD_freeCCtx(r->cc);
    ZSTD_freeDCtx(r->dc);
    free(r->z);
    free(r->back);
}

static int compress_piece(void *ctx, const uint8_t *p, size_t n)
{
    zstd_run *const r = ctx;
    const double t0 = cpu_now();
    const size_t z = ZSTD_compress2(r->cc, r->z, r->cap, p, n);
    r->cpu += cpu_now() - t0;
    if (ZSTD_isError(z))
        return -1;
    r->in += n;
    r->out += z < n ? z : n;
    return 0;
}

/* a piece that does not compress is stored as it is: nothing to decompress */
static int decompress_piece(void *ctx, const uint8_t *p, size_t n)
{
    zstd_run *const r = ctx;
    const size_t z = ZSTD_compress2(r->cc, r->z, r->cap, p, n);
    if (ZSTD_isError(z) || z >= n)
        return 0;
    const double t0 = cpu_now();
    const size_t d = ZSTD_decompressDCtx(r->dc, r->back, n, r->z, z);
    r->cpu += cpu_now() - t0;
    if (d != n)
        return -1;
    r->in += n;
    return r->in >= r->limit;
}

static int zstd_row(const char *const *files, int nfiles, size_t chunk, int level)
{
    zstd_run r;
    if (zstd_run_init(&r, chunk, level) || each_piece(files, nfiles, chunk, compress_piece, &r))
        return 1;
    printf("| zstd level %d, %zu KiB chunks | %.0f | ratio %.3f over %.1f MB |\n", level,
           chunk / 1024, (double)r.in / r.cpu / 1e6, (double)r.in / (double)r.out,
           (double)r.in / 1e6);
    zstd_run_free(&r);
    return 0;
}

/* ---- the floor of a restore ---- */

typedef struct clocks {
    double wall, cpu;
} clocks;

static clocks clocks_now(void)
{
    struct timespec ts;
    struct rusage ru;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    getrusage(RUSAGE_SELF, &ru);
    return (clocks){(double)ts.tv_sec + (double)ts.tv_nsec / 1e9,
                    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6};
}

static void print_floor(const char *what, clocks t0, uint64_t files, uint64_t bytes)
{
    const clocks t1 = clocks_now();
    printf("{\"floor\":\"%s\",\"files\":%llu,\"bytes\":%llu,\"wall\":%.3f,\"cpu\":%.3f}\n", what,
           (unsigned long long)files, (unsigned long long)bytes, t1.wall - t0.wall,
           t1.cpu - t0.cpu);
}

enum { IO_BUF = 1 << 20 };

typedef struct tree_entry {
    char *rel; /* path below the root */
    struct stat st;
} tree_entry;

static tree_entry *entries;
static size_t nentries, capentries;
static size_t root_len;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F && type != FTW_D)
        return 0;
    if (type == FTW_F && !S_ISREG(st->st_mode))
        return 0;
    if (nentries == capentries) {
        capentries = capentries ? 2 * capentries : 4096;
        if (!(entries = realloc(entries, capentries * sizeof *entries)))
            return -1;
    }
    entries[nentries].rel = strdup(path + root_len);
    entries[nentries].st = *st;
    return entries[nentries++].rel ? 0 : -1;
}

static int floor_write(const char *src, const char *dst)
{
    char path[8192];
    uint8_t *const buf = malloc(IO_BUF);
    uint64_t files = 0, bytes = 0;
    root_len = strlen(src);
    if (!buf || nftw(src, collect, 64, FTW_PHYS) != 0 || mkdir(dst, 0700) != 0) {
        perror(dst);
        return 1;
    }
    randombytes_buf(buf, IO_BUF);
    const clocks t0 = clocks_now();
    for (size_t i = 0; i < nentries; i++) {
        const tree_entry *const e = &entries[i];
        snprintf(path, sizeof path, "%s%s", dst, e->rel);
        if (S_ISDIR(e->st.st_mode)) {
            if (e->rel[0] && mkdir(path, 0700) != 0) {
                perror(path);
                return 1;
            }
            continue;
        }
        const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, e->st.st_mode & 07777);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        for (off_t left = e->st.st_size; left > 0;) {
            const size_t n = left < IO_BUF ? (size_t)left : IO_BUF;
            const ssize_t w = write(fd, buf, n);
            if (w <= 0) {
                perror(path);
                return 1;
            }
            left -= w;
            bytes += (uint64_t)w;
        }
        futimens(fd, (const struct timespec[2]){e->st.st_mtim, e->st.st_mtim});
        close(fd);
        files++;
    }
    print_floor("write", t0, files, bytes);
    free(buf);
    return 0;
}

static int floor_read(const char *dir, int evict)
{
    char path[8192];
    uint8_t *const buf = malloc(IO_BUF);
    uint64_t files = 0, bytes = 0;
    root_len = strlen(dir);
    if (!buf || nftw(dir, collect, 64, FTW_PHYS) != 0) {
        perror(dir);
        return 1;
    }
    for (size_t i = 0; evict && i < nentries; i++) { /* as bench/run.sh's evict_store */
        snprintf(path, sizeof path, "%s%s", dir, entries[i].rel);
        const int fd = S_ISREG(entries[i].st.st_mode) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        if (fd >= 0) {
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    const clocks t0 = clocks_now();
    for (size_t i = 0; i < nentries; i++) {
        if (!S_ISREG(entries[i].st.st_mode))
            continue;
        snprintf(path, sizeof path, "%s%s", dir, entries[i].rel);
        const int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        ssize_t r;
        while ((r = read(fd, buf, IO_BUF)) > 0)
            bytes += (uint64_t)r;
        close(fd);
        files++;
    }
    print_floor(evict ? "read" : "scan", t0, files, bytes);
    free(buf);
    return 0;
}

/* zstd level 2 (new stores' level) decompression, MB/s of output, of the
 * files cut into 16 KiB pieces (the first UNZSTD_SAMPLE bytes of them, to
 * keep the bench short), and the files' bytes, which a store keeps
 * compressed (SQLite pages nearly always compress). */
enum { UNZSTD_SAMPLE = 128 << 20 };

static int floor_decode(const char *const *files, int nfiles)
{
    zstd_run r;
    uint64_t total = 0;
    if (zstd_run_init(&r, 16384, 2))
        return 1;
    r.limit = UNZSTD_SAMPLE;
    if (each_piece(files, nfiles, 16384, decompress_piece, &r))
        return 1;
    for (int f = 0; f < nfiles; f++) {
        struct stat st;
        if (stat(files[f], &st) == 0)
            total += (uint64_t)st.st_size;
    }
    printf("{\"floor\":\"decode\",\"open_mbps\":%.0f,\"unzstd_mbps\":%.0f,"
           "\"zstd_raw_bytes\":%llu}\n",
           speed(KIND_OPEN_SEAL, 1 << 20), r.cpu > 0 ? (double)r.in / r.cpu / 1e6 : 0,
           (unsigned long long)total);
    zstd_run_free(&r);
    return 0;
}

static int floor_encode(const char *const *files, int nfiles)
{
    zstd_run r;
    if (zstd_run_init(&r, 16384, 1) || each_piece(files, nfiles, 16384, compress_piece, &r))
        return 1;
    printf("{\"floor\":\"encode\",\"blake_mbps\":%.0f,\"seal_mbps\":%.0f,"
           "\"zstd_mbps\":%.0f,\"zstd_raw_bytes\":%llu}\n",
           speed(KIND_BLAKE, 1 << 20), speed(KIND_OSSL, 1 << 20),
           r.cpu > 0 ? (double)r.in / r.cpu / 1e6 : 0, (unsigned long long)r.in);
    zstd_run_free(&r);
    return 0;
}

enum { SINK_FILE = 16 << 20 }; /* a pack's size (store/pack.h) */

static int floor_sink(const char *dir, uint64_t want)
{
    char path[8192];
    uint8_t *const buf = malloc(IO_BUF);
    uint64_t files = 0, bytes = 0;
    if (!buf || mkdir(dir, 0700) != 0) {
        perror(dir);
        return 1;
    }
    randombytes_buf(buf, IO_BUF);
    const clocks t0 = clocks_now();
    while (bytes < want) {
        snprintf(path, sizeof path, "%s/%08llu", dir, (unsigned long long)files);
        const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        for (uint64_t in_file = 0; in_file < SINK_FILE && bytes < want;) {
            const uint64_t left = want - bytes;
            const ssize_t w = write(fd, buf, left < IO_BUF ? (size_t)left : IO_BUF);
            if (w <= 0) {
                perror(path);
                return 1;
            }
            in_file += (uint64_t)w;
            bytes += (uint64_t)w;
        }
        if (fsync(fd) != 0) {
            perror(path);
            return 1;
        }
        close(fd);
        files++;
    }
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        perror(dir);
        return 1;
    }
    close(dfd);
    print_floor("sink", t0, files, bytes);
    free(buf);
    return 0;
}

/* ---- the floor of an initial backup, overlapped ---- */

enum { PIPE_PIECE = 16384, PIPE_QUEUE = 64 };

typedef struct pipe_ctx {
    const char *src, *dir;
    uint8_t key[SEAL_KEY_LEN];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;              /* the next entry a worker takes */
    int sync_fds[PIPE_QUEUE]; /* full files for the syncer */
    int nsync, stop, failed;
    uint64_t files, bytes, stored, outfiles;
} pipe_ctx;

static void pipe_fail(pipe_ctx *p, const char *what)
{
    perror(what);
    pthread_mutex_lock(&p->mu);
    p->failed = 1;
    pthread_mutex_unlock(&p->mu);
}

/* Hands a full output file to the syncer (waiting while its queue is full). */
static void pipe_hand(pipe_ctx *p, int fd)
{
    pthread_mutex_lock(&p->mu);
    while (p->nsync == PIPE_QUEUE)
        pthread_cond_wait(&p->cv, &p->mu);
    p->sync_fds[p->nsync++] = fd;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *pipe_syncer(void *arg)
{
    pipe_ctx *const p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->nsync && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->nsync)
            break;
        const int fd = p->sync_fds[0];
        memmove(p->sync_fds, p->sync_fds + 1, (size_t)--p->nsync * sizeof *p->sync_fds);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        const int bad = fsync(fd) != 0;
        close(fd);
        pthread_mutex_lock(&p->mu);
        p->failed |= bad;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int pipe_open_out(pipe_ctx *p)
{
    char path[8192];
    pthread_mutex_lock(&p->mu);
    const uint64_t n = p->outfiles++;
    pthread_mutex_unlock(&p->mu);
    snprintf(path, sizeof path, "%s/%08llu", p->dir, (unsigned long long)n);
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        pipe_fail(p, path);
    return fd;
}

static void *pipe_worker(void *arg)
{
    pipe_ctx *const p = arg;
    char path[8192];
    uint8_t nonce[SEAL_NONCE_LEN], id[ID_LEN], ad[1] = {0};
    uint8_t *const buf = malloc(IO_BUF);
    const size_t zcap = ZSTD_compressBound(PIPE_PIECE) * (IO_BUF / PIPE_PIECE);
    uint8_t *const z = malloc(zcap);
    uint8_t *const sealed = malloc(zcap + SEAL_OVERHEAD);
    ZSTD_CCtx *const cc = ZSTD_createCCtx();
    uint64_t files = 0, bytes = 0, stored = 0, in_out = 0;
    int out = -1;
    if (!buf || !z || !sealed || !cc) {
        pipe_fail(p, "out of memory");
        goto done;
    }
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
    randombytes_buf(nonce, sizeof nonce);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        const size_t i = p->next++;
        const int failed = p->failed;
        pthread_mutex_unlock(&p->mu);
        if (i >= nentries || failed)
            break;
        if (!S_ISREG(entries[i].st.st_mode))
            continue;
        snprintf(path, sizeof path, "%s%s", p->src, entries[i].rel);
        const int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            pipe_fail(p, path);
            break;
        }
        int sqlite = -1;
        ssize_t r;
        while ((r = read(fd, buf, IO_BUF)) > 0) {
            const size_t n = (size_t)r;
            if (sqlite < 0)
                sqlite = n >= 16 && memcmp(buf, "SQLite format 3", 16) == 0;
            seal_id(p->key, buf, n, id);
            const uint8_t *keep = buf;
            size_t kept = n;
            if (sqlite) {
                int bad = 0;
                kept = 0;
                for (size_t at = 0; at < n && !bad; at += PIPE_PIECE) {
                    const size_t len = n - at < PIPE_PIECE ? n - at : PIPE_PIECE;
                    const size_t c = ZSTD_compressCCtx(cc, z + kept, zcap - kept, buf + at, len, 1);
                    bad = ZSTD_isError(c);
                    kept += bad ? 0 : c;
                }
                if (bad) { /* nothing half-compressed is written */
                    pipe_fail(p, "zstd");
                    break;
                }
                keep = z;
            }
            sodium_increment(nonce, sizeof nonce);
            seal_box_with_nonce(p->key, nonce, ad, sizeof ad, keep, kept, sealed);
            if (out < 0 && (out = pipe_open_out(p)) < 0)
                break;
            if (write(out, sealed, kept + SEAL_OVERHEAD) != (ssize_t)(kept + SEAL_OVERHEAD)) {
                pipe_fail(p, "write");
                break;
            }
            bytes += n;
            stored += kept + SEAL_OVERHEAD;
            in_out += kept + SEAL_OVERHEAD;
            if (in_out >= SINK_FILE) {
                pipe_hand(p, out);
                out = -1;
                in_out = 0;
            }
        }
        sink ^= id[0];
        close(fd);
        files++;
    }
    if (out >= 0)
        pipe_hand(p, out);
done:
    ZSTD_freeCCtx(cc);
    free(buf);
    free(z);
    free(sealed);
    pthread_mutex_lock(&p->mu);
    p->files += files;
    p->bytes += bytes;
    p->stored += stored;
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int floor_pipe(const char *src, const char *dir)
{
    pipe_ctx p;
    pthread_t syncer, workers[64];
    memset(&p, 0, sizeof p);
    p.src = src;
    p.dir = dir;
    randombytes_buf(p.key, sizeof p.key);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    root_len = strlen(src);
    if (nftw(src, collect, 64, FTW_PHYS) != 0 || mkdir(dir, 0700) != 0) {
        perror(dir);
        return 1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (cores > 64)
        cores = 64;
    const clocks t0 = clocks_now();
    if (pthread_create(&syncer, NULL, pipe_syncer, &p) != 0)
        return 1;
    for (long i = 0; i < cores; i++)
        if (pthread_create(&workers[i], NULL, pipe_worker, &p) != 0)
            return 1;
    for (long i = 0; i < cores; i++)
        pthread_join(workers[i], NULL);
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    pthread_join(syncer, NULL);
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0 || p.failed) {
        perror(dir);
        return 1;
    }
    close(dfd);
    const clocks t1 = clocks_now();
    printf("{\"floor\":\"pipe\",\"files\":%llu,\"bytes\":%llu,\"stored\":%llu,"
           "\"threads\":%ld,\"wall\":%.3f,\"cpu\":%.3f}\n",
           (unsigned long long)p.files, (unsigned long long)p.bytes, (unsigned long long)p.stored,
           cores, t1.wall - t0.wall, t1.cpu - t0.cpu);
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
    if (argc == 4 && strcmp(argv[1], "--floor-write") == 0)
        return floor_write(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "--floor-read") == 0)
        return floor_read(argv[2], 1);
    if (argc == 3 && strcmp(argv[1], "--floor-scan") == 0)
        return floor_read(argv[2], 0);
    if (argc >= 2 && strcmp(argv[1], "--floor-encode") == 0)
        return floor_encode((const char *const *)argv + 2, argc - 2);
    if (argc == 4 && strcmp(argv[1], "--floor-sink") == 0)
        return floor_sink(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "--floor-pipe") == 0)
        return floor_pipe(argv[2], argv[3]);
    if (argc >= 2 && strcmp(argv[1], "--floor-decode") == 0)
        return floor_decode((const char *const *)argv + 2, argc - 2);
    static const size_t sizes[] = {256, 1024, 2048, 4096, 16384, 65536, 1 << 20};
    static const char *const names[] = {"keyed BLAKE2b-256, seal_id (cairn)",
                                        "keyed BLAKE2b-256, libsodium",
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
