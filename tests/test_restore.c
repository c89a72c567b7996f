/* test_restore.c - restore_run's cache policy: once a restore has written
 * restore_opts.cache_bytes, a large file is written behind (its earlier
 * windows handed to the disk and dropped from the page cache); below that
 * the file is left to the kernel's writeback and stays cached.  Either
 * way the restored bytes are the backed-up ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <linux/magic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "engine/core/backup.h"
#include "engine/core/restore.h"
#include "engine/core/snapshot_list.h"
#include "testutil.h"

static const char PW[] = "restore-test-password";
/* three of restore.c's 8 MiB write-behind windows */
enum { BIG = 24 << 20, WINDOW = 8 << 20 };

typedef struct fixture {
    char dir[64];
    char path[128];
    char src[128];
    store *s;
    uint8_t *big;
    snaplist l;
    const snapshot *snap;
} fixture;

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    char p[192];
    backup_opts o;
    backup_result r;
    if (!f || test_store_new("restore", PW, f->dir, f->path, &f->s) != 0)
        return -1;
    snprintf(f->src, sizeof f->src, "%s/src", f->dir);
    if (mkdir(f->src, 0755) != 0 || !(f->big = malloc(BIG)))
        return -1;
    randombytes_buf(f->big, BIG);
    snprintf(p, sizeof p, "%s/big.bin", f->src);
    write_file(p, f->big, BIG);
    snprintf(p, sizeof p, "%s/small.txt", f->src);
    write_file(p, (const uint8_t *)"small\n", 6);
    memset(&o, 0, sizeof o);
    o.source = f->src;
    if (backup_run(f->s, &o, &r) != CAIRN_OK || snaplist_load(f->s, &f->l) != CAIRN_OK ||
        f->l.count != 1)
        return -1;
    f->snap = &f->l.items[0];
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    snaplist_free(&f->l);
    store_close(f->s);
    test_rmtree(f->dir);
    free(f->big);
    free(f);
    return 0;
}

/* Restores the snapshot into DIR/name with cache_bytes and checks the
 * bytes; returns how many pages of big.bin's first window are cached (-1:
 * the file system keeps every page, tmpfs). */
static long restore_and_count(fixture *f, const char *name, uint64_t cache_bytes)
{
    char target[128], p[192];
    restore_opts o;
    restore_result r;
    struct statfs fs;
    unsigned char resident[WINDOW / 4096];
    snprintf(target, sizeof target, "%s/%s", f->dir, name);
    memset(&o, 0, sizeof o);
    o.target = target;
    o.threads = 2;
    o.cache_bytes = cache_bytes;
    if (restore_run(f->s, f->snap, &o, &r) != CAIRN_OK)
        fail_msg("restore_run: %s", err_msg());
    assert_int_equal(r.files, 2);
    assert_int_equal(r.failed, 0);

    snprintf(p, sizeof p, "%s/big.bin", target);
    const int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    const long page = sysconf(_SC_PAGESIZE);
    assert_int_equal(page, 4096);
    uint8_t *const m = mmap(NULL, BIG, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    /* before reading it: reading brings every page in */
    assert_int_equal(mincore(m, WINDOW, resident), 0);
    long cached = 0;
    for (size_t i = 0; i < sizeof resident; i++)
        cached += resident[i] & 1;
    assert_memory_equal(m, f->big, BIG);
    assert_int_equal(munmap(m, BIG), 0);
    assert_int_equal(fstatfs(fd, &fs), 0);
    assert_int_equal(close(fd), 0);

    char small[8] = {0};
    snprintf(p, sizeof p, "%s/small.txt", target);
    const int sfd = open(p, O_RDONLY);
    assert_true(sfd >= 0);
    assert_int_equal(read(sfd, small, sizeof small), 6);
    assert_int_equal(close(sfd), 0);
    assert_string_equal(small, "small\n");
    return fs.f_type == TMPFS_MAGIC ? -1 : cached;
}

static void test_written_behind_past_the_budget(void **state)
{
    fixture *const f = *state;
    /* the first file already passes one byte: big.bin is written behind */
    const long cached = restore_and_count(f, "behind", 1);
    if (cached >= 0)
        assert_true(cached < WINDOW / 4096 / 4);
}

static void test_left_to_the_kernel_below_the_budget(void **state)
{
    fixture *const f = *state;
    const long cached = restore_and_count(f, "cached", UINT64_MAX);
    if (cached >= 0)
        assert_int_equal(cached, WINDOW / 4096);
}

static void test_default_budget_keeps_a_small_restore_cached(void **state)
{
    fixture *const f = *state;
    /* 0: a tenth of the memory, far above 24 MiB on any machine that runs this */
    const long cached = restore_and_count(f, "default", 0);
    if (cached >= 0)
        assert_int_equal(cached, WINDOW / 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written_behind_past_the_budget),
        cmocka_unit_test(test_left_to_the_kernel_below_the_budget),
        cmocka_unit_test(test_default_budget_keeps_a_small_restore_cached),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
