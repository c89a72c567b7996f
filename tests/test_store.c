/* test_store.c - the store layer end to end: create and open, concurrent
 * chunk puts with deduplication, the reasons a store does not open, the
 * writer lock, the index as a rebuildable cache, snapshot objects, and the
 * primitives repair heals and salvages with. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/codec.h"
#include "util/fsutil.h"
#include "store/store.h"

static const char PW[] = "store password";

enum { NCHUNKS = 240, PACK_TARGET = 64 * 1024 };

typedef struct fixture {
    char dir[64];
    char path[128]; /* the store: dir/store */
    keys_kdf kdf;
    store_params params;
    uint8_t *data[NCHUNKS];
    size_t len[NCHUNKS];
} fixture;

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/store", f->dir);
    f->kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    f->kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    f->params.chunk_min = 4096;
    f->params.chunk_avg = 16384;
    f->params.chunk_max = 65536;
    f->params.pack_target = PACK_TARGET;
    f->params.zstd_level = 3;
    /* distinct chunks of 1..8 KiB: half random, half compressible text */
    for (int i = 0; i < NCHUNKS; i++) {
        const size_t n = 16 + randombytes_uniform(8192 - 16);
        uint8_t *const p = malloc(n + 4);
        if (!p)
            return -1;
        if (i % 2) {
            randombytes_buf(p, n);
        } else {
            for (size_t k = 0; k < n; k++)
                p[k] = (uint8_t)("lorem ipsum dolor sit amet "[k % 27]);
        }
        memcpy(p, &i, sizeof i); /* distinct whatever the random draw */
        f->data[i] = p;
        f->len[i] = n;
    }
    if (store_create(f->path, PW, strlen(PW), &f->kdf, &f->params) != CAIRN_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    for (int i = 0; i < NCHUNKS; i++)
        free(f->data[i]);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

static store *open_or_fail(const fixture *f, unsigned flags)
{
    store *s = NULL;
    const cairn_err rc = store_open(f->path, PW, strlen(PW), flags, &s);
    if (rc != CAIRN_OK)
        fail_msg("store_open: %s: %s", err_name(rc), err_msg());
    assert_non_null(s);
    return s;
}

static void put_all(fixture *f, store *s, int from, int to, int *added_total)
{
    store_worker *w = NULL;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    for (int i = from; i < to; i++) {
        uint8_t id[ID_LEN];
        int added;
        uint64_t stored;
        store_chunk_id(s, f->data[i], f->len[i], id);
        assert_int_equal(store_put_chunk(s, w, id, f->data[i], f->len[i], 0, &added, &stored),
                         CAIRN_OK);
        *added_total += added;
        if (added)
            assert_true(stored >= SEAL_OVERHEAD);
        else
            assert_int_equal(stored, 0);
    }
    store_worker_free(w);
}

/* Every chunk [from, to) is in the store with exactly its bytes. */
static void check_all(fixture *f, store *s, int from, int to)
{
    store_worker *w = NULL;
    cbuf out;
    cbuf_init(&out);
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    for (int i = from; i < to; i++) {
        uint8_t id[ID_LEN];
        int has = 0;
        store_chunk_id(s, f->data[i], f->len[i], id);
        assert_int_equal(store_has_chunk(s, id, &has), CAIRN_OK);
        assert_true(has);
        const cairn_err rc = store_get_chunk(s, w, id, &out);
        if (rc != CAIRN_OK)
            fail_msg("chunk %d: %s: %s", i, err_name(rc), err_msg());
        assert_int_equal(out.len, f->len[i]);
        assert_memory_equal(out.data, f->data[i], f->len[i]);
    }
    store_worker_free(w);
    cbuf_free(&out);
}

static uint64_t chunk_count(store *s)
{
    uint64_t chunks = 0, packs = 0;
    assert_int_equal(store_index_count(s, &chunks, &packs), CAIRN_OK);
    return chunks;
}

static uint64_t pack_count(store *s)
{
    uint64_t chunks = 0, packs = 0;
    assert_int_equal(store_index_count(s, &chunks, &packs), CAIRN_OK);
    return packs;
}

static cairn_err count_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    (void)pack;
    (void)path;
    ++*(int *)ctx;
    return CAIRN_OK;
}

static int pack_files(store *s)
{
    int n = 0;
    assert_int_equal(store_each_pack_file(s, count_pack, &n), CAIRN_OK);
    return n;
}

static void test_create_and_open(void **state)
{
    fixture *const f = *state;
    store *s = open_or_fail(f, 0);
    const store_params *const p = store_get_params(s);
    assert_int_equal(p->chunk_min, f->params.chunk_min);
    assert_int_equal(p->chunk_avg, f->params.chunk_avg);
    assert_int_equal(p->chunk_max, f->params.chunk_max);
    assert_int_equal(p->pack_target, f->params.pack_target);
    assert_int_equal(p->zstd_level, f->params.zstd_level);
    assert_string_equal(store_path(s), f->path);
    assert_non_null(store_keys(s));
    assert_false(store_index_was_rebuilt(s));
    assert_int_equal(chunk_count(s), 0);
    store_close(s);
    s = open_or_fail(f, STORE_WRITE);
    store_close(s);
    /* the layout is there */
    char sub[256];
    struct stat st;
    static const char *const parts[] = {"config",   "keys",      "packs", "packs/00",
                                        "packs/ff", "snapshots", "tmp"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        snprintf(sub, sizeof sub, "%s/%s", f->path, parts[i]);
        assert_int_equal(stat(sub, &st), 0);
    }
    /* no second store on top of the first, nor in a non-empty folder */
    assert_int_equal(store_create(f->path, PW, strlen(PW), &f->kdf, &f->params), CAIRN_EEXIST);
    snprintf(sub, sizeof sub, "%s/other", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof sub, "%s/other/file", f->dir);
    FILE *fp = fopen(sub, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(sub, sizeof sub, "%s/other", f->dir);
    assert_int_equal(store_create(sub, PW, strlen(PW), &f->kdf, &f->params), CAIRN_EEXIST);
    /* an empty existing folder is fine */
    snprintf(sub, sizeof sub, "%s/empty", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(store_create(sub, PW, strlen(PW), &f->kdf, &f->params), CAIRN_OK);
}

typedef struct put_job {
    fixture *f;
    store *s;
    int reverse;
    int added;
    cairn_err rc;
    char msg[256];
} put_job;

static void *put_thread(void *arg)
{
    put_job *const j = arg;
    store_worker *w = NULL;
    j->rc = store_worker_new(j->s, &w);
    /* every chunk twice, in opposite orders in the two threads */
    for (int round = 0; round < 2 && j->rc == CAIRN_OK; round++) {
        for (int k = 0; k < NCHUNKS && j->rc == CAIRN_OK; k++) {
            const int i = j->reverse ? NCHUNKS - 1 - k : k;
            uint8_t id[ID_LEN];
            int added = 0;
            uint64_t stored = 0;
            store_chunk_id(j->s, j->f->data[i], j->f->len[i], id);
            j->rc = store_put_chunk(j->s, w, id, j->f->data[i], j->f->len[i], 0, &added, &stored);
            j->added += added;
        }
    }
    if (j->rc)
        snprintf(j->msg, sizeof j->msg, "%s", err_msg());
    store_worker_free(w);
    return NULL;
}

static void test_concurrent_puts_dedup(void **state)
{
    fixture *const f = *state;
    store *s = open_or_fail(f, STORE_WRITE);
    put_job jobs[2] = {{f, s, 0, 0, CAIRN_OK, ""}, {f, s, 1, 0, CAIRN_OK, ""}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, put_thread, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 2; i++)
        if (jobs[i].rc != CAIRN_OK)
            fail_msg("thread %d: %s: %s", i, err_name(jobs[i].rc), jobs[i].msg);
    /* each distinct chunk was added exactly once */
    assert_int_equal(jobs[0].added + jobs[1].added, NCHUNKS);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(chunk_count(s), NCHUNKS);
    assert_true(pack_count(s) >= 2); /* several packs at this pack_target */
    assert_int_equal(pack_count(s), pack_files(s));
    check_all(f, s, 0, NCHUNKS);
    /* putting them again adds nothing */
    int added = 0;
    put_all(f, s, 0, NCHUNKS, &added);
    assert_int_equal(added, 0);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(chunk_count(s), NCHUNKS);
    store_close(s);
    /* nor in a later session (the index, not the session's set, knows) */
    s = open_or_fail(f, STORE_WRITE);
    put_all(f, s, 0, NCHUNKS, &added);
    assert_int_equal(added, 0);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(chunk_count(s), NCHUNKS);
    check_all(f, s, 0, NCHUNKS);
    store_close(s);
    /* and a reader sees them */
    s = open_or_fail(f, 0);
    check_all(f, s, 0, NCHUNKS);
    store_close(s);
}

static void test_get_missing_chunk(void **state)
{
    fixture *const f = *state;
    store *s = open_or_fail(f, 0);
    store_worker *w = NULL;
    cbuf out;
    cbuf_init(&out);
    uint8_t id[ID_LEN];
    int has = 1;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    store_chunk_id(s, (const uint8_t *)"nope", 4, id);
    assert_int_equal(store_has_chunk(s, id, &has), CAIRN_OK);
    assert_false(has);
    assert_int_equal(store_get_chunk(s, w, id, &out), CAIRN_ECORRUPT);
    /* the ID is keyed: same bytes, same store, same ID */
    uint8_t id2[ID_LEN];
    store_chunk_id(s, (const uint8_t *)"nope", 4, id2);
    assert_memory_equal(id, id2, ID_LEN);
    store_worker_free(w);
    cbuf_free(&out);
    store_close(s);
}

/* The store with every chunk of the fixture, opened again for reading,
 * and the chunks' IDs in *ids (the caller frees them). */
static store *filled_reader(fixture *f, uint8_t (**ids)[ID_LEN])
{
    store *s = open_or_fail(f, STORE_WRITE);
    int added = 0;
    put_all(f, s, 0, NCHUNKS, &added);
    assert_int_equal(store_flush(s), CAIRN_OK);
    store_close(s);
    s = open_or_fail(f, 0);
    *ids = calloc(NCHUNKS, ID_LEN);
    assert_non_null(*ids);
    for (int i = 0; i < NCHUNKS; i++)
        store_chunk_id(s, f->data[i], f->len[i], (*ids)[i]);
    return s;
}

static cairn_err remove_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    (void)ctx;
    (void)pack;
    return unlink(path) == 0 ? CAIRN_OK : err_errno(errno, path);
}

/* store_prefetch is advice: it must count the chunks it covered exactly
 * (the restore's read-ahead window rests on it) and stop quietly at a
 * chunk it cannot find or a pack that is gone, leaving the error to the read. */
static void test_prefetch(void **state)
{
    fixture *const f = *state;
    uint8_t(*ids)[ID_LEN];
    store *const s = filled_reader(f, &ids);
    const uint8_t(*const c)[ID_LEN] = (const uint8_t(*)[ID_LEN])ids;
    store_worker *w = NULL, *w2 = NULL;
    cbuf out;
    cbuf_init(&out);
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    uint64_t stored3 = 0;
    for (int i = 0; i < NCHUNKS; i++) {
        uint8_t pack[PACK_ID_LEN];
        pack_entry e;
        assert_int_equal(store_locate(s, ids[i], pack, &e), CAIRN_OK);
        if (i < 3)
            stored3 += e.stored_len;
    }
    assert_int_equal(store_prefetch(s, w, c, 0, 1 << 20), 0);
    assert_int_equal(store_prefetch(s, w, c, NCHUNKS, 0), 1); /* at least one */
    assert_int_equal(store_prefetch(s, w, c, NCHUNKS, stored3), 3);
    assert_int_equal(store_prefetch(s, w, c, NCHUNKS, stored3 + 1), 4);
    assert_int_equal(store_prefetch(s, w, c, NCHUNKS, UINT64_MAX), NCHUNKS);
    /* an unknown chunk: the advice stops before it, or covers just it */
    store_chunk_id(s, (const uint8_t *)"nope", 4, ids[5]);
    assert_int_equal(store_prefetch(s, w, c, NCHUNKS, UINT64_MAX), 5);
    assert_int_equal(store_prefetch(s, w, c + 5, NCHUNKS - 5, UINT64_MAX), 1);
    assert_int_equal(store_get_chunk(s, w, ids[5], &out), CAIRN_ECORRUPT);
    check_all(f, s, 0, NCHUNKS); /* the reads see the same bytes */
    /* the packs gone: nothing to advise, the read says so */
    assert_int_equal(store_each_pack_file(s, remove_pack, NULL), CAIRN_OK);
    assert_int_equal(store_worker_new(s, &w2), CAIRN_OK);
    assert_int_equal(store_prefetch(s, w2, c + 6, NCHUNKS - 6, UINT64_MAX), 1);
    assert_int_equal(store_get_chunk(s, w2, ids[6], &out), CAIRN_ECORRUPT);
    assert_non_null(strstr(err_msg(), "pack is missing"));
    free(ids);
    cbuf_free(&out);
    store_worker_free(w);
    store_worker_free(w2);
    store_close(s);
}

/* Flips one byte of the pack file that holds id, at the chunk's offset + at. */
static void damage_chunk(store *s, const char *store_path, const uint8_t id[ID_LEN], uint32_t at)
{
    uint8_t pack[PACK_ID_LEN];
    pack_entry e;
    char hex[2 * PACK_ID_LEN + 1], path[PATH_MAX];
    assert_int_equal(store_locate(s, id, pack, &e), CAIRN_OK);
    fs_hex(pack, PACK_ID_LEN, hex);
    snprintf(path, sizeof path, "%s/packs/%.2s/%s", store_path, hex, hex);
    chmod(path, 0600);
    const int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, e.offset + at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, e.offset + at), 1);
    close(fd);
}

/* store_get_chunk_of reads neighbours in one pread: every chunk of a list
 * still comes out exact in any order, and an unknown or damaged chunk
 * fails alone (its neighbours in the same read decode). */
static void test_get_chunk_of(void **state)
{
    fixture *const f = *state;
    uint8_t(*ids)[ID_LEN];
    store *const s = filled_reader(f, &ids);
    const uint8_t(*const c)[ID_LEN] = (const uint8_t(*)[ID_LEN])ids;
    store_worker *w = NULL;
    cbuf out;
    cbuf_init(&out);
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    static const uint32_t order[] = {0, 1, 2, 7, 3, 3, 4, 5, 239, 6, 8, 9, 10, 11};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        const uint32_t i = order[k];
        cbuf_reset(&out);
        assert_int_equal(store_get_chunk_of(s, w, c, NCHUNKS, i, &out), CAIRN_OK);
        assert_int_equal(out.len, f->len[i]);
        assert_memory_equal(out.data, f->data[i], f->len[i]);
    }
    /* appended: the list's data one after another */
    cbuf_reset(&out);
    size_t at = 0;
    for (uint32_t i = 0; i < NCHUNKS; i++) {
        assert_int_equal(store_get_chunk_of(s, w, c, NCHUNKS, i, &out), CAIRN_OK);
        assert_int_equal(out.len, at + f->len[i]);
        assert_memory_equal(out.data + at, f->data[i], f->len[i]);
        at = out.len;
    }
    /* an unknown chunk in the list: it fails, the next ones read */
    uint8_t keep[ID_LEN];
    memcpy(keep, ids[20], ID_LEN);
    store_chunk_id(s, (const uint8_t *)"nope", 4, ids[20]);
    for (uint32_t i = 18; i < 24; i++) {
        cbuf_reset(&out);
        cbuf_put(&out, "x", 1);
        const cairn_err rc = store_get_chunk_of(s, w, c, NCHUNKS, i, &out);
        assert_int_equal(rc, i == 20 ? CAIRN_ECORRUPT : CAIRN_OK);
        if (i != 20)
            assert_memory_equal(out.data + 1, f->data[i], f->len[i]);
        else
            assert_int_equal(out.len, 1); /* unchanged */
    }
    memcpy(ids[20], keep, ID_LEN);
    /* a damaged chunk inside one read: it fails naming its pack, the
     * one after it, from the same read, decodes */
    uint32_t mid = 0; /* three chunks one after another in one pack */
    for (uint32_t i = 1; i + 1 < NCHUNKS && !mid; i++) {
        uint8_t p0[PACK_ID_LEN], p1[PACK_ID_LEN], p2[PACK_ID_LEN];
        pack_entry e0, e1, e2;
        assert_int_equal(store_locate(s, ids[i - 1], p0, &e0), CAIRN_OK);
        assert_int_equal(store_locate(s, ids[i], p1, &e1), CAIRN_OK);
        assert_int_equal(store_locate(s, ids[i + 1], p2, &e2), CAIRN_OK);
        if (!memcmp(p0, p1, PACK_ID_LEN) && !memcmp(p1, p2, PACK_ID_LEN) &&
            e0.offset + e0.stored_len == e1.offset && e1.offset + e1.stored_len == e2.offset)
            mid = i;
    }
    assert_true(mid > 0);
    damage_chunk(s, f->path, ids[mid], 1);
    store_worker_free(w);
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    for (uint32_t i = mid - 1; i <= mid + 1; i++) {
        cbuf_reset(&out);
        const cairn_err rc = store_get_chunk_of(s, w, c, NCHUNKS, i, &out);
        if (i == mid) {
            assert_int_equal(rc, CAIRN_ECORRUPT);
            assert_int_equal(out.len, 0);
            assert_non_null(strstr(err_msg(), "/packs/"));
        } else {
            assert_int_equal(rc, CAIRN_OK);
            assert_memory_equal(out.data, f->data[i], f->len[i]);
        }
    }
    free(ids);
    cbuf_free(&out);
    store_worker_free(w);
    store_close(s);
}

static void test_wrong_password(void **state)
{
    fixture *const f = *state;
    store *s = NULL;
    assert_int_equal(store_open(f->path, "wrong", 5, 0, &s), CAIRN_EPASSWORD);
    assert_null(s);
    assert_int_equal(store_open(f->path, "wrong", 5, STORE_WRITE, &s), CAIRN_EPASSWORD);
    assert_null(s);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *const fp = fopen(path, "wb");
    assert_non_null(fp);
    if (n)
        assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* store_open in a child process, so that a crash fails this test only;
 * returns the child's result code and its err_msg(). */
static cairn_err open_in_child(const char *path, unsigned flags, char *msg, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store *s = NULL;
        close(fds[0]);
        const cairn_err rc = store_open(path, PW, strlen(PW), flags, &s);
        const char *const m = err_msg();
        if (write(fds[1], m, strlen(m)) < 0)
            _exit(1);
        store_close(s);
        _exit(64 - (int)rc); /* 64..80: a result; anything else: a crash */
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fds[0], msg + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    msg[n] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("store_open(%s) crashed with signal %d", path, WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) < 64 || WEXITSTATUS(status) > 80)
        fail_msg("store_open(%s) crashed (exit status %d, a sanitizer report?)", path,
                 WEXITSTATUS(status));
    return (cairn_err)(64 - WEXITSTATUS(status));
}

static void test_not_a_store_plain_folders(void **state)
{
    fixture *const f = *state;
    store *s = NULL;
    char path[256];
    snprintf(path, sizeof path, "%s/plain", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(store_open(path, PW, strlen(PW), 0, &s), CAIRN_ENOSTORE);
    assert_null(s);
    snprintf(path, sizeof path, "%s/does-not-exist", f->dir);
    assert_int_equal(store_open(path, PW, strlen(PW), 0, &s), CAIRN_ENOSTORE);
    assert_null(s);
}

/* A folder whose config is not a cairn config.  FAILS (crashes in the
 * child: double free) until store.c's read_config_head stops freeing *cfg
 * that store_open frees again. */
static void test_not_a_store_foreign_config(void **state)
{
    fixture *const f = *state;
    char path[256], msg[1024];
    snprintf(path, sizeof path, "%s/plain", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    static const char *const configs[] = {"[core]\nbare = false\n", "CAIRN", ""};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        snprintf(path, sizeof path, "%s/plain/config", f->dir);
        write_file(path, configs[i], strlen(configs[i]));
        snprintf(path, sizeof path, "%s/plain", f->dir);
        assert_int_equal(open_in_child(path, 0, msg, sizeof msg), CAIRN_ENOSTORE);
    }
}

/* Config version 99.  FAILS (crashes in the child: double free) until
 * store.c's read_config_head stops freeing *cfg that store_open frees
 * again. */
static void test_version(void **state)
{
    fixture *const f = *state;
    char path[256];
    uint8_t cfg[512];
    snprintf(path, sizeof path, "%s/config", f->path);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    const size_t n = fread(cfg, 1, sizeof cfg, fp);
    fclose(fp);
    assert_true(n > 12);
    assert_memory_equal(cfg, "CAIRNCFG", 8);
    assert_int_equal(get_u32le(cfg + 8), STORE_FORMAT_VERSION);
    put_u32le(cfg + 8, 99);
    write_file(path, cfg, n);
    store *s = NULL;
    char msg[1024];
    assert_int_equal(open_in_child(f->path, 0, msg, sizeof msg), CAIRN_EVERSION);
    assert_non_null(strstr(msg, "99"));
    assert_int_equal(open_in_child(f->path, STORE_WRITE, msg, sizeof msg), CAIRN_EVERSION);
    /* with the version restored, a damaged sealed body is corruption */
    put_u32le(cfg + 8, STORE_FORMAT_VERSION);
    cfg[n - 1] ^= 1;
    write_file(path, cfg, n);
    assert_int_equal(store_open(f->path, PW, strlen(PW), 0, &s), CAIRN_ECORRUPT);
    cfg[n - 1] ^= 1;
    write_file(path, cfg, n);
    s = open_or_fail(f, 0);
    store_close(s);
}

static void test_writer_lock(void **state)
{
    fixture *const f = *state;
    store *a = open_or_fail(f, STORE_WRITE), *b = NULL;
    assert_int_equal(store_open(f->path, PW, strlen(PW), STORE_WRITE, &b), CAIRN_ELOCKED);
    assert_null(b);
    /* the failed attempt did not release the first lock */
    assert_int_equal(store_open(f->path, PW, strlen(PW), STORE_WRITE, &b), CAIRN_ELOCKED);
    assert_null(b);
    store_close(a);
    b = open_or_fail(f, STORE_WRITE);
    store_close(b);
}

/* Puts all chunks in one session and closes the store. */
static void fill(fixture *f)
{
    store *s = open_or_fail(f, STORE_WRITE);
    int added = 0;
    put_all(f, s, 0, NCHUNKS, &added);
    assert_int_equal(added, NCHUNKS);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(chunk_count(s), NCHUNKS);
    store_close(s);
}

static void test_index_deleted_is_rebuilt(void **state)
{
    fixture *const f = *state;
    fill(f);
    char ix[256];
    snprintf(ix, sizeof ix, "%s/index", f->path);
    struct stat st;
    assert_int_equal(stat(ix, &st), 0);
    assert_int_equal(test_rmtree(ix), 0);
    assert_int_not_equal(stat(ix, &st), 0);
    store *s = open_or_fail(f, 0);
    assert_int_equal(chunk_count(s), NCHUNKS);
    assert_int_equal(pack_count(s), pack_files(s));
    check_all(f, s, 0, NCHUNKS);
    store_close(s);
}

static void test_garbage_index_is_rebuilt(void **state)
{
    fixture *const f = *state;
    fill(f);
    char path[256];
    snprintf(path, sizeof path, "%s/index/data.mdb", f->path);
    uint8_t junk[16384];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    write_file(path, junk, sizeof junk);
    store *s = open_or_fail(f, STORE_WRITE);
    assert_int_equal(store_index_was_rebuilt(s), 1);
    assert_int_equal(chunk_count(s), NCHUNKS);
    check_all(f, s, 0, NCHUNKS);
    store_close(s);
    /* the rebuilt index is good: the next open does not rebuild */
    s = open_or_fail(f, 0);
    assert_int_equal(store_index_was_rebuilt(s), 0);
    check_all(f, s, 0, NCHUNKS);
    store_close(s);
    /* a short garbage file too */
    write_file(path, "garbage", 7);
    s = open_or_fail(f, 0);
    assert_int_equal(store_index_was_rebuilt(s), 1);
    assert_int_equal(chunk_count(s), NCHUNKS);
    store_close(s);
}

static void test_index_rebuild_counts(void **state)
{
    fixture *const f = *state;
    fill(f);
    store *s = open_or_fail(f, STORE_WRITE);
    const int files = pack_files(s);
    assert_true(files >= 2);
    uint64_t packs = 0, chunks = 0;
    assert_int_equal(store_index_rebuild(s, &packs, &chunks), CAIRN_OK);
    assert_int_equal(packs, files);
    assert_int_equal(chunks, NCHUNKS);
    assert_int_equal(chunk_count(s), NCHUNKS);
    assert_int_equal(pack_count(s), files);
    check_all(f, s, 0, NCHUNKS);
    store_close(s);
}

typedef struct first_pack {
    char path[PATH_MAX];
    uint8_t id[PACK_ID_LEN];
    int found;
} first_pack;

static cairn_err grab_pack(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    first_pack *const fp = ctx;
    if (!fp->found) {
        snprintf(fp->path, sizeof fp->path, "%s", path);
        memcpy(fp->id, pack, PACK_ID_LEN);
        fp->found = 1;
    }
    return CAIRN_OK;
}

/* A pack file filed under another xx folder than its ID names is not read
 * there (pack_path), so it is no pack: the walk and the index rebuild skip
 * it.  FAILS on the old walk, which took any 64-hex name in any xx folder. */
static void test_misplaced_pack_is_ignored(void **state)
{
    fixture *const f = *state;
    fill(f);
    store *s = open_or_fail(f, STORE_WRITE);
    const int files = pack_files(s);
    first_pack fp = {.found = 0};
    assert_int_equal(store_each_pack_file(s, grab_pack, &fp), CAIRN_OK);
    assert_true(fp.found);
    char hex[2 * PACK_ID_LEN + 1], wrong[PATH_MAX + 128];
    fs_hex(fp.id, PACK_ID_LEN, hex);
    const char other = hex[1] == '0' ? '1' : '0';
    snprintf(wrong, sizeof wrong, "%s/packs/%c%c/%s", f->path, hex[0], other, hex);
    assert_int_equal(link(fp.path, wrong), 0);
    assert_int_equal(pack_files(s), files);
    uint64_t packs = 0, chunks = 0;
    assert_int_equal(store_index_rebuild(s, &packs, &chunks), CAIRN_OK);
    assert_int_equal(packs, files);
    assert_int_equal(chunks, NCHUNKS);
    check_all(f, s, 0, NCHUNKS);
    store_close(s);
}

/* Chunks of pack fp (per the current index), as a bitmap over data[]. */
static void chunks_in_pack(fixture *f, store *s, const first_pack *fp, int in[NCHUNKS])
{
    for (int i = 0; i < NCHUNKS; i++) {
        uint8_t id[ID_LEN], pack[PACK_ID_LEN];
        pack_entry e;
        store_chunk_id(s, f->data[i], f->len[i], id);
        assert_int_equal(store_locate(s, id, pack, &e), CAIRN_OK);
        assert_memory_equal(e.id, id, ID_LEN);
        assert_int_equal(e.raw_len, f->len[i]);
        in[i] = memcmp(pack, fp->id, PACK_ID_LEN) == 0;
    }
}

/* The open-time sync drops packs that vanished and skips damaged ones; the
 * chunks they held can be stored again. */
static void test_sync_with_missing_and_damaged_packs(void **state)
{
    fixture *const f = *state;
    fill(f);
    store *s = open_or_fail(f, STORE_WRITE);
    first_pack fp = {.found = 0};
    assert_int_equal(store_each_pack_file(s, grab_pack, &fp), CAIRN_OK);
    assert_true(fp.found);
    int in[NCHUNKS], nin = 0;
    chunks_in_pack(f, s, &fp, in);
    for (int i = 0; i < NCHUNKS; i++)
        nin += in[i];
    assert_true(nin > 0 && nin < NCHUNKS);
    const uint64_t packs_before = pack_count(s);
    store_close(s);

    /* damage the pack's trailer and drop the index: the pack is skipped */
    struct stat st;
    assert_int_equal(stat(fp.path, &st), 0);
    const int fd = open(fp.path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    const off_t at = st.st_size - PACK_FOOTER_LEN - 5;
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 0x20;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);
    char ix[256];
    snprintf(ix, sizeof ix, "%s/index", f->path);
    assert_int_equal(test_rmtree(ix), 0);
    s = open_or_fail(f, STORE_WRITE);
    assert_int_equal(chunk_count(s), NCHUNKS - nin);
    assert_int_equal(pack_count(s), packs_before - 1);
    for (int i = 0; i < NCHUNKS; i++) {
        uint8_t id[ID_LEN];
        int has = -1;
        store_chunk_id(s, f->data[i], f->len[i], id);
        assert_int_equal(store_has_chunk(s, id, &has), CAIRN_OK);
        assert_int_equal(has, !in[i]);
    }
    /* store_verify_pack names the damage */
    store_worker *w = NULL;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    assert_int_equal(store_verify_pack(s, w, fp.path, NULL, NULL, NULL, NULL), CAIRN_ECORRUPT);
    store_worker_free(w);
    /* the lost chunks go in again */
    int added = 0;
    put_all(f, s, 0, NCHUNKS, &added);
    assert_int_equal(added, nin);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(chunk_count(s), NCHUNKS);
    check_all(f, s, 0, NCHUNKS);
    store_close(s);

    /* a pack deleted behind the index's back is forgotten on open */
    s = open_or_fail(f, 0);
    first_pack gone = {.found = 1};
    uint8_t id0[ID_LEN];
    pack_entry e0;
    char packs_dir[256];
    snprintf(packs_dir, sizeof packs_dir, "%s/packs", f->path);
    store_chunk_id(s, f->data[0], f->len[0], id0);
    assert_int_equal(store_locate(s, id0, gone.id, &e0), CAIRN_OK);
    assert_int_equal(pack_path(packs_dir, gone.id, gone.path, sizeof gone.path), CAIRN_OK);
    int ngone = 0;
    chunks_in_pack(f, s, &gone, in);
    for (int i = 0; i < NCHUNKS; i++)
        ngone += in[i];
    assert_true(ngone > 0);
    const uint64_t packs_now = pack_count(s);
    store_close(s);
    assert_int_equal(unlink(gone.path), 0);
    s = open_or_fail(f, 0);
    assert_int_equal(chunk_count(s), NCHUNKS - ngone);
    assert_int_equal(pack_count(s), packs_now - 1);
    for (int i = 0; i < NCHUNKS; i++) {
        uint8_t id[ID_LEN];
        int has = -1;
        store_chunk_id(s, f->data[i], f->len[i], id);
        assert_int_equal(store_has_chunk(s, id, &has), CAIRN_OK);
        assert_int_equal(has, !in[i]);
    }
    store_close(s);
}

typedef struct bad_count {
    int n;
} bad_count;

static void on_bad(void *ctx, const pack_entry *e, const char *msg)
{
    (void)e;
    (void)msg;
    ((bad_count *)ctx)->n++;
}

static void test_verify_pack(void **state)
{
    fixture *const f = *state;
    fill(f);
    store *s = open_or_fail(f, 0);
    first_pack fp = {.found = 0};
    assert_int_equal(store_each_pack_file(s, grab_pack, &fp), CAIRN_OK);
    store_worker *w = NULL;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    pack_entry *e = NULL;
    size_t n = 0;
    bad_count bad = {0};
    assert_int_equal(store_verify_pack(s, w, fp.path, &e, &n, on_bad, &bad), CAIRN_OK);
    assert_true(n > 0);
    assert_int_equal(bad.n, 0);
    /* damage the middle of the second blob */
    assert_true(n >= 2);
    const int fd = open(fp.path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    const off_t at = e[1].offset + e[1].stored_len / 2;
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 1;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);
    free(e);
    e = NULL;
    assert_int_equal(store_verify_pack(s, w, fp.path, &e, &n, on_bad, &bad), CAIRN_ECORRUPT);
    assert_int_equal(bad.n, 1);
    free(e);
    store_worker_free(w);
    store_close(s);
}

static void copy_file(const char *from, const char *to)
{
    uint8_t *data = NULL;
    size_t len = 0;
    FILE *const in = fopen(from, "rb");
    assert_non_null(in);
    assert_int_equal(fseek(in, 0, SEEK_END), 0);
    len = (size_t)ftell(in);
    rewind(in);
    data = malloc(len ? len : 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, len, in), len);
    fclose(in);
    FILE *const out = fopen(to, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(data, 1, len, out), len);
    fclose(out);
    free(data);
}

/* Repair's primitives: a pack from elsewhere replaces a damaged one only
 * when it verifies whole; what a truncated pack still holds reads back
 * sealed and verified where the index places it; a damaged object is set
 * aside out of the store's view. */
static void test_repair_primitives(void **state)
{
    fixture *const f = *state;
    char good[PATH_MAX], tmp[PATH_MAX], aside[PATH_MAX + 64];
    fill(f);
    store *s = open_or_fail(f, STORE_WRITE);
    first_pack fp = {.found = 0};
    assert_int_equal(store_each_pack_file(s, grab_pack, &fp), CAIRN_OK);
    store_worker *w = NULL;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    pack_entry *e = NULL;
    size_t n = 0;
    uint64_t size = 0;
    assert_int_equal(store_pack_entries(s, fp.id, &e, &n, &size), CAIRN_OK);
    assert_true(n >= 2);
    snprintf(good, sizeof good, "%s/good-pack", f->dir);
    copy_file(fp.path, good);
    assert_int_equal(store_tmp_path(s, "import", tmp, sizeof tmp), CAIRN_OK);

    /* a damaged copy is refused and changes nothing */
    copy_file(good, tmp);
    const int fd = open(tmp, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte = 0;
    assert_int_equal(pread(fd, &byte, 1, e[1].offset + 20), 1);
    byte ^= 0x20;
    assert_int_equal(pwrite(fd, &byte, 1, e[1].offset + 20), 1);
    close(fd);
    assert_int_equal(store_import_pack(s, w, fp.id, tmp, NULL, NULL), CAIRN_ECORRUPT);

    /* truncated: the blobs before the cut still read back whole, sealed */
    assert_int_equal(truncate(fp.path, e[1].offset + e[1].stored_len / 2), 0);
    store_worker_free(w);
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    cbuf blob;
    pack_entry got;
    cbuf_init(&blob);
    assert_int_equal(store_read_sealed(s, w, e[0].id, &got, &blob), CAIRN_OK);
    assert_int_equal(blob.len, e[0].stored_len);
    assert_int_equal(got.offset, e[0].offset);
    assert_int_equal(store_read_sealed(s, w, e[1].id, &got, &blob), CAIRN_ECORRUPT);

    /* the whole copy replaces the truncated pack and is indexed */
    copy_file(good, tmp);
    pack_entry *ie = NULL;
    size_t in = 0;
    assert_int_equal(store_import_pack(s, w, fp.id, tmp, &ie, &in), CAIRN_OK);
    assert_int_equal(in, n);
    assert_int_equal(access(tmp, F_OK), -1);
    store_worker_free(w);
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    assert_int_equal(store_read_sealed(s, w, e[1].id, &got, &blob), CAIRN_OK);
    check_all(f, s, 0, NCHUNKS);

    /* set aside: out of the listing, kept under damaged/ */
    uint8_t id[SNAPSHOT_ID_LEN];
    static const uint8_t body[] = "a snapshot body";
    assert_int_equal(store_put_snapshot(s, body, sizeof body, id), CAIRN_OK);
    char rel[80] = "snapshots/";
    for (int i = 0; i < SNAPSHOT_ID_LEN; i++)
        snprintf(rel + 10 + 2 * i, 3, "%02x", id[i]);
    assert_int_equal(store_set_aside(s, rel), CAIRN_OK);
    uint8_t(*ids)[SNAPSHOT_ID_LEN] = NULL;
    size_t nids = 9;
    assert_int_equal(store_list_snapshots(s, &ids, &nids), CAIRN_OK);
    assert_int_equal(nids, 0);
    free(ids);
    snprintf(aside, sizeof aside, "%s/damaged/%s", f->path, rel);
    assert_int_equal(access(aside, F_OK), 0);
    /* a snapshot object from elsewhere is installed only if it is this one */
    assert_int_equal(store_verify_snapshot_file(s, id, aside), CAIRN_OK);
    id[0] ^= 1;
    assert_int_equal(store_import_snapshot(s, id, aside), CAIRN_ECORRUPT);
    id[0] ^= 1;
    assert_int_equal(store_import_snapshot(s, id, aside), CAIRN_OK);
    uint8_t *plain = NULL;
    size_t plen = 0;
    assert_int_equal(store_get_snapshot(s, id, &plain, &plen), CAIRN_OK);
    assert_int_equal(plen, sizeof body);
    free(plain);

    cbuf_free(&blob);
    free(ie);
    free(e);
    store_worker_free(w);
    store_close(s);
}

static int id_listed(uint8_t (*ids)[SNAPSHOT_ID_LEN], size_t n, const uint8_t id[SNAPSHOT_ID_LEN])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(ids[i], id, SNAPSHOT_ID_LEN) == 0)
            return 1;
    return 0;
}

static void snapshot_file(const fixture *f, const uint8_t id[SNAPSHOT_ID_LEN], char *out,
                          size_t cap)
{
    int k = snprintf(out, cap, "%s/snapshots/", f->path);
    for (int i = 0; i < SNAPSHOT_ID_LEN; i++)
        k += snprintf(out + k, cap - (size_t)k, "%02x", id[i]);
}

static void test_snapshots(void **state)
{
    fixture *const f = *state;
    store *s = open_or_fail(f, STORE_WRITE);
    uint8_t(*ids)[SNAPSHOT_ID_LEN] = NULL;
    size_t n = 99;
    assert_int_equal(store_list_snapshots(s, &ids, &n), CAIRN_OK);
    assert_int_equal(n, 0);
    free(ids);

    const char *const bodies[] = {"first snapshot", "second", ""};
    uint8_t sid[3][SNAPSHOT_ID_LEN];
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            store_put_snapshot(s, (const uint8_t *)bodies[i], strlen(bodies[i]), sid[i]), CAIRN_OK);
    assert_memory_not_equal(sid[0], sid[1], SNAPSHOT_ID_LEN);
    /* a stray file in snapshots/ is not listed */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/snapshots/README", f->path);
    write_file(path, "x", 1);
    ids = NULL;
    assert_int_equal(store_list_snapshots(s, &ids, &n), CAIRN_OK);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++)
        assert_true(id_listed(ids, n, sid[i]));
    free(ids);
    for (int i = 0; i < 3; i++) {
        uint8_t *plain = NULL;
        size_t len = 99;
        assert_int_equal(store_get_snapshot(s, sid[i], &plain, &len), CAIRN_OK);
        assert_int_equal(len, strlen(bodies[i]));
        assert_memory_equal(plain, bodies[i], len);
        free(plain);
    }
    /* an unknown ID */
    uint8_t unknown[SNAPSHOT_ID_LEN];
    memset(unknown, 0x11, sizeof unknown);
    uint8_t *plain = NULL;
    size_t len;
    assert_int_equal(store_get_snapshot(s, unknown, &plain, &len), CAIRN_ENOTFOUND);
    store_close(s);

    /* visible after reopening, read-only */
    s = open_or_fail(f, 0);
    assert_int_equal(store_get_snapshot(s, sid[0], &plain, &len), CAIRN_OK);
    assert_memory_equal(plain, bodies[0], len);
    free(plain);
    store_close(s);
}

static void test_damaged_snapshot(void **state)
{
    fixture *const f = *state;
    store *s = open_or_fail(f, STORE_WRITE);
    const char body[] = "a snapshot object body";
    uint8_t sid[SNAPSHOT_ID_LEN], sid2[SNAPSHOT_ID_LEN];
    assert_int_equal(store_put_snapshot(s, (const uint8_t *)body, sizeof body, sid), CAIRN_OK);
    assert_int_equal(store_put_snapshot(s, (const uint8_t *)"other", 5, sid2), CAIRN_OK);
    char path[PATH_MAX], path2[PATH_MAX];
    snapshot_file(f, sid, path, sizeof path);
    snapshot_file(f, sid2, path2, sizeof path2);
    uint8_t sealed[sizeof body + SEAL_OVERHEAD];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(sealed, 1, sizeof sealed + 1, fp), sizeof sealed);
    fclose(fp);
    uint8_t *plain = NULL;
    size_t len;
    /* a flipped byte anywhere */
    for (size_t pos = 0; pos < sizeof sealed; pos++) {
        sealed[pos] ^= 0x08;
        write_file(path, sealed, sizeof sealed);
        const cairn_err rc = store_get_snapshot(s, sid, &plain, &len);
        if (rc != CAIRN_ECORRUPT)
            fail_msg("flip at %zu: %s", pos, err_name(rc));
        sealed[pos] ^= 0x08;
    }
    /* truncated */
    write_file(path, sealed, SEAL_OVERHEAD - 1);
    assert_int_equal(store_get_snapshot(s, sid, &plain, &len), CAIRN_ECORRUPT);
    write_file(path, sealed, sizeof sealed - 1);
    assert_int_equal(store_get_snapshot(s, sid, &plain, &len), CAIRN_ECORRUPT);
    /* a genuine object under the wrong name */
    write_file(path, sealed, sizeof sealed);
    assert_int_equal(rename(path, path2), 0);
    assert_int_equal(store_get_snapshot(s, sid2, &plain, &len), CAIRN_ECORRUPT);
    /* intact again */
    write_file(path, sealed, sizeof sealed);
    assert_int_equal(store_get_snapshot(s, sid, &plain, &len), CAIRN_OK);
    assert_int_equal(len, sizeof body);
    assert_memory_equal(plain, body, len);
    free(plain);
    store_close(s);
}

/* The message for a damaged snapshot keeps the reason it was refused
 * (authentication failed).  FAILS until store.c's store_get_snapshot stops
 * passing err_msg() into err_set() (source and destination overlap). */
static void test_damaged_snapshot_message(void **state)
{
    fixture *const f = *state;
    store *s = open_or_fail(f, STORE_WRITE);
    uint8_t sid[SNAPSHOT_ID_LEN];
    assert_int_equal(store_put_snapshot(s, (const uint8_t *)"body", 4, sid), CAIRN_OK);
    char path[PATH_MAX];
    snapshot_file(f, sid, path, sizeof path);
    uint8_t sealed[4 + SEAL_OVERHEAD];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(sealed, 1, sizeof sealed, fp), sizeof sealed);
    fclose(fp);
    sealed[SEAL_NONCE_LEN] ^= 1;
    write_file(path, sealed, sizeof sealed);
    uint8_t *plain = NULL;
    size_t len;
    assert_int_equal(store_get_snapshot(s, sid, &plain, &len), CAIRN_ECORRUPT);
    const char *const msg = err_msg();
    if (!strstr(msg, "authentication failed"))
        fail_msg("message lost its reason: \"%s\"", msg);
    /* the path appears once, at the start */
    assert_ptr_equal(strstr(msg, path), msg);
    assert_null(strstr(msg + strlen(path), path));
    store_close(s);
}

/* A put that fails must not leave the chunk marked as stored for the rest
 * of the session.  FAILS until store.c's store_put_chunk removes the ID
 * from s->seen (or adds it only after success): today the retry returns
 * OK with added == 0 and the chunk is never written. */
static void test_put_after_failed_put(void **state)
{
    fixture *const f = *state;
    store *s = open_or_fail(f, STORE_WRITE);
    store_worker *w = NULL;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/tmp", f->path);
    assert_int_equal(rmdir(tmp), 0); /* no pack can be started */
    uint8_t id[ID_LEN];
    int added = 0;
    uint64_t stored = 0;
    store_chunk_id(s, f->data[0], f->len[0], id);
    assert_int_not_equal(store_put_chunk(s, w, id, f->data[0], f->len[0], 0, &added, &stored),
                         CAIRN_OK);
    assert_int_equal(added, 0);
    assert_int_equal(mkdir(tmp, 0700), 0); /* the problem goes away */
    const cairn_err rc = store_put_chunk(s, w, id, f->data[0], f->len[0], 0, &added, &stored);
    assert_int_equal(store_flush(s), CAIRN_OK);
    int has = 0;
    assert_int_equal(store_has_chunk(s, id, &has), CAIRN_OK);
    if (rc != CAIRN_OK || !added || !has)
        fail_msg("retry after a failed put: rc=%s added=%d, chunk in store=%d", err_name(rc), added,
                 has);
    check_all(f, s, 0, 1);
    store_worker_free(w);
    store_close(s);
}

static int keep_all(void *ctx, const pack_entry *e)
{
    (void)ctx;
    (void)e;
    return 1;
}

/* Regression (the service backs up, then prunes, in one store session): a
 * chunk a backup found in the index is in the session's seen set; repacking
 * its pack must still copy it, and a chunk of a deleted pack must be stored
 * again by a later put of the same session. */
static void test_repack_after_put_in_same_session(void **state)
{
    fixture *const f = *state;
    store *s = open_or_fail(f, STORE_WRITE);
    store_worker *w = NULL;
    uint8_t id[ID_LEN];
    first_pack fp;
    int added = 0, has = 0;
    uint64_t stored = 0, copied = 0;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    store_chunk_id(s, f->data[0], f->len[0], id);
    assert_int_equal(store_put_chunk(s, w, id, f->data[0], f->len[0], 0, &added, &stored),
                     CAIRN_OK);
    assert_int_equal(store_flush(s), CAIRN_OK);
    store_worker_free(w);
    store_close(s);

    s = open_or_fail(f, STORE_WRITE);
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    /* the backup: found in the index, so not stored again, but now seen */
    assert_int_equal(store_put_chunk(s, w, id, f->data[0], f->len[0], 0, &added, &stored),
                     CAIRN_OK);
    assert_int_equal(added, 0);
    /* the prune: its pack repacked, then deleted */
    memset(&fp, 0, sizeof fp);
    assert_int_equal(store_each_pack_file(s, grab_pack, &fp), CAIRN_OK);
    assert_true(fp.found);
    assert_int_equal(store_repack(s, w, fp.id, keep_all, NULL, &copied), CAIRN_OK);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(store_delete_pack(s, fp.id, NULL, 0), CAIRN_OK);
    assert_int_equal(store_has_chunk(s, id, &has), CAIRN_OK);
    assert_int_equal(has, 1);
    cbuf out;
    cbuf_init(&out);
    assert_int_equal(store_get_chunk(s, w, id, &out), CAIRN_OK);
    assert_int_equal(out.len, f->len[0]);
    assert_memory_equal(out.data, f->data[0], f->len[0]);
    cbuf_free(&out);
    store_worker_free(w);
    store_close(s);
}

/* Packs are made durable and indexed by a background thread: when that
 * fails (here the rename into packs/ cannot happen), a later put or the
 * flush reports it, and the store keeps only packs that are on disk. */
static void test_background_finish_failure(void **state)
{
    fixture *const f = *state;
    char packs[256], aside[256];
    snprintf(packs, sizeof packs, "%s/packs", f->path);
    snprintf(aside, sizeof aside, "%s/packs-aside", f->path);
    store *s = open_or_fail(f, STORE_WRITE);
    store_worker *w = NULL;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    assert_int_equal(rename(packs, aside), 0);
    FILE *const blocker = fopen(packs, "w"); /* mkdir(packs/xx) fails: ENOTDIR */
    assert_non_null(blocker);
    fclose(blocker);
    cairn_err rc = CAIRN_OK;
    for (int i = 0; i < NCHUNKS && !rc; i++) {
        uint8_t id[ID_LEN];
        int added = 0;
        uint64_t stored = 0;
        store_chunk_id(s, f->data[i], f->len[i], id);
        rc = store_put_chunk(s, w, id, f->data[i], f->len[i], 0, &added, &stored);
    }
    const cairn_err frc = store_flush(s);
    if (rc == CAIRN_OK && frc == CAIRN_OK)
        fail_msg("a pack that could not be renamed was not reported");
    assert_int_equal(chunk_count(s), 0); /* nothing indexed without its pack */
    store_worker_free(w);
    store_close(s);

    assert_int_equal(unlink(packs), 0);
    assert_int_equal(rename(aside, packs), 0);
    s = open_or_fail(f, STORE_WRITE);
    assert_int_equal(chunk_count(s), 0);
    int added = 0;
    put_all(f, s, 0, NCHUNKS, &added);
    assert_int_equal(added, NCHUNKS);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(pack_count(s), pack_files(s));
    check_all(f, s, 0, NCHUNKS);
    store_close(s);
}

/* A put whose blob cannot be written (past the file size limit here, as
 * on a full disk) fails, and so does the flush, for the blobs its pack
 * held before; nothing is indexed, and the same chunks go in once the
 * problem is gone, in the same session.  (Regression: the chunks of a pack
 * that failed stayed in the session's set of chunks put, so a retry in
 * the same session, as the service makes, took them for stored.) */
static void test_put_write_failure(void **state)
{
    fixture *const f = *state;
    enum { BIG = 2 << 20 };
    char path[160];
    store_params params = f->params;
    params.pack_target = 16 << 20; /* the blobs wait in memory until one does not fit */
    snprintf(path, sizeof path, "%s/big", f->dir);
    assert_int_equal(store_create(path, PW, strlen(PW), &f->kdf, &params), CAIRN_OK);
    store *s = NULL;
    assert_int_equal(store_open(path, PW, strlen(PW), STORE_WRITE, &s), CAIRN_OK);
    store_worker *w = NULL;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    uint8_t *const big = malloc(BIG);
    assert_non_null(big);
    randombytes_buf(big, BIG);
    uint8_t small_id[ID_LEN], big_id[ID_LEN];
    int added = 0, has = 1;
    uint64_t stored = 0;
    store_chunk_id(s, f->data[1], f->len[1], small_id);
    store_chunk_id(s, big, BIG, big_id);
    assert_int_equal(store_put_chunk(s, w, small_id, f->data[1], f->len[1], STORE_CHUNK_NO_ZSTD,
                                     &added, &stored),
                     CAIRN_OK);
    assert_int_equal(added, 1);

    struct rlimit old;
    struct sigaction old_sa;
    assert_int_equal(test_limit_file_size(1 << 20, &old, &old_sa), 0);
    const cairn_err rc =
        store_put_chunk(s, w, big_id, big, BIG, STORE_CHUNK_NO_ZSTD, &added, &stored);
    assert_int_equal(test_unlimit_file_size(&old, &old_sa), 0);
    assert_int_equal(rc, CAIRN_EIO);
    assert_int_equal(added, 0);
    assert_int_not_equal(store_flush(s), CAIRN_OK); /* the small chunk's pack is lost too */
    assert_int_equal(chunk_count(s), 0);
    assert_int_equal(store_has_chunk(s, big_id, &has), CAIRN_OK);
    assert_int_equal(has, 0);

    /* the problem gone, both go in, in the same session: the small one was
     * lost with its pack, and a put must not take it for stored */
    assert_int_equal(store_put_chunk(s, w, big_id, big, BIG, STORE_CHUNK_NO_ZSTD, &added, &stored),
                     CAIRN_OK);
    assert_int_equal(added, 1);
    assert_int_equal(store_put_chunk(s, w, small_id, f->data[1], f->len[1], STORE_CHUNK_NO_ZSTD,
                                     &added, &stored),
                     CAIRN_OK);
    assert_int_equal(added, 1);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(chunk_count(s), 2);
    assert_int_equal(pack_count(s), pack_files(s));
    cbuf out;
    cbuf_init(&out);
    assert_int_equal(store_get_chunk(s, w, big_id, &out), CAIRN_OK);
    assert_int_equal(out.len, BIG);
    assert_memory_equal(out.data, big, BIG);
    cbuf_free(&out);
    store_worker_free(w);
    store_close(s);
    free(big);
}

typedef struct pack_kinds {
    store *s;
    int packs, tree_packs, mixed;
    size_t trees;
} pack_kinds;

static cairn_err count_kinds(void *ctx, const uint8_t pack[PACK_ID_LEN], const char *path)
{
    pack_kinds *const k = ctx;
    pack_entry *e = NULL;
    size_t n = 0;
    uint64_t size;
    (void)path;
    const cairn_err rc = store_pack_entries(k->s, pack, &e, &n, &size);
    if (rc)
        return rc;
    size_t trees = 0;
    for (size_t i = 0; i < n; i++)
        trees += (e[i].flags & PACK_TREE) != 0;
    free(e);
    k->packs++;
    k->tree_packs += trees > 0;
    k->mixed += trees > 0 && trees < n;
    k->trees += trees;
    return CAIRN_OK;
}

/* Trees never share a pack with file data, whichever puts come first: every
 * ls, diff and restore reads the trees, and a pack lost with file data
 * loses no folder. */
static void test_trees_apart_from_data(void **state)
{
    fixture *const f = *state;
    store *s = open_or_fail(f, STORE_WRITE);
    store_worker *w = NULL;
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    for (int i = 0; i < 40; i++) {
        uint8_t id[ID_LEN];
        int added = 0;
        uint64_t stored = 0;
        const unsigned flags = i % 3 == 0 ? STORE_CHUNK_TREE : 0;
        store_chunk_id(s, f->data[i], f->len[i], id);
        assert_int_equal(store_put_chunk(s, w, id, f->data[i], f->len[i], flags, &added, &stored),
                         CAIRN_OK);
        assert_int_equal(added, 1);
    }
    assert_int_equal(store_flush(s), CAIRN_OK);
    pack_kinds k = {s, 0, 0, 0, 0};
    assert_int_equal(store_each_pack_file(s, count_kinds, &k), CAIRN_OK);
    assert_int_equal(k.trees, 14);
    assert_int_equal(k.mixed, 0);
    assert_true(k.tree_packs >= 1 && k.packs > k.tree_packs);
    check_all(f, s, 0, 40);
    store_worker_free(w);
    store_close(s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_puts_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_missing_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_chunk_of, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_store_plain_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_store_foreign_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_deleted_is_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_index_is_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_rebuild_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_with_missing_and_damaged_packs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_pack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_primitives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_snapshot_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_after_failed_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repack_after_put_in_same_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misplaced_pack_is_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_finish_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trees_apart_from_data, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
