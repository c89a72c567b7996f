/* test_backup_cache.c - backup_run's page-cache policy: a source file of at
 * least 256 KiB none of whose pages were cached has them dropped once read,
 * whichever way it is read (whole by a worker, in pieces, by the walking
 * thread, or only for its digest); a file someone had cached keeps its
 * pages, and so does a small file.  The snapshot restores the same bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "engine/core/backup.h"
#include "engine/core/restore.h"
#include "engine/core/snapshot_list.h"
#include "util/fsutil.h"
#include "testutil.h"

static const char PW[] = "backup-cache-test-password";
enum { BIG = 1 << 20, SMALL = 8 << 10 };

typedef struct fixture {
    char dir[64];
    char path[128];
    char src[128];
    store *s;
    uint8_t *bytes;
} fixture;

static void src_path(const fixture *f, const char *name, char *p, size_t size)
{
    snprintf(p, size, "%s/%s", f->src, name);
}

/* Writes name with len of f->bytes (first byte set to first, so the planner
 * picks its way of reading), durably; cold: dropped from the cache. */
static void put_file(const fixture *f, const char *name, size_t len, int first, int cold)
{
    char p[192];
    src_path(f, name, p, sizeof p);
    const int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    f->bytes[0] = (uint8_t)first;
    assert_int_equal(write(fd, f->bytes, len), (ssize_t)len);
    assert_int_equal(fsync(fd), 0);
    if (cold)
        assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    assert_int_equal(close(fd), 0);
}

static int cached(const fixture *f, const char *name)
{
    char p[192];
    struct stat st;
    src_path(f, name, p, sizeof p);
    const int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    const int c = fs_page_cached(fd, (uint64_t)st.st_size);
    assert_int_equal(close(fd), 0);
    assert_true(c >= 0);
    return c;
}

static void read_all(const fixture *f, const char *name)
{
    char p[192];
    uint8_t buf[65536];
    src_path(f, name, p, sizeof p);
    const int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    while (read(fd, buf, sizeof buf) > 0) {
    }
    assert_int_equal(close(fd), 0);
}

static void backup(const fixture *f, int read_serial)
{
    backup_opts o;
    backup_result r;
    memset(&o, 0, sizeof o);
    o.source = f->src;
    o.read_serial = read_serial;
    if (backup_run(f->s, &o, &r) != CAIRN_OK)
        fail_msg("backup_run: %s", err_msg());
    assert_int_equal(r.errors, 0);
}

/* tmpfs keeps every page whatever it is told: nothing to check there */
static int skip_tmpfs(const fixture *f)
{
    struct statfs fs;
    assert_int_equal(statfs(f->src, &fs), 0);
    if (fs.f_type != TMPFS_MAGIC)
        return 0;
    print_message("skipped: %s is on tmpfs, which keeps every page\n", f->src);
    return 1;
}

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    if (!f || test_store_new("bkcache", PW, f->dir, f->path, &f->s) != 0)
        return -1;
    snprintf(f->src, sizeof f->src, "%s/src", f->dir);
    if (mkdir(f->src, 0755) != 0 || !(f->bytes = malloc(BIG)))
        return -1;
    randombytes_buf(f->bytes, BIG);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    store_close(f->s);
    test_rmtree(f->dir);
    free(f->bytes);
    free(f);
    return 0;
}

/* The snapshot's copy of name is the bytes put there. */
static void assert_restored(const fixture *f, const char *name, size_t len, int first)
{
    snaplist l;
    restore_opts o;
    restore_result r;
    char target[160], p[224];
    uint8_t *got = NULL;
    size_t n = 0;
    snprintf(target, sizeof target, "%s/restored-%s", f->dir, name);
    assert_int_equal(snaplist_load(f->s, &l), CAIRN_OK);
    assert_true(l.count > 0);
    memset(&o, 0, sizeof o);
    o.target = target;
    if (restore_run(f->s, &l.items[l.count - 1], &o, &r) != CAIRN_OK)
        fail_msg("restore_run: %s", err_msg());
    snaplist_free(&l);
    snprintf(p, sizeof p, "%s/%s", target, name);
    assert_int_equal(fs_read_file(p, BIG, &got, &n), CAIRN_OK);
    assert_int_equal(n, len);
    f->bytes[0] = (uint8_t)first;
    assert_memory_equal(got, f->bytes, len);
    free(got);
}

static void test_cold_files_are_dropped_once_read(void **state)
{
    fixture *const f = *state;
    put_file(f, "whole.bin", BIG, 0x00, 1);   /* cut by content on a worker */
    put_file(f, "photo.jpg", BIG, 0xff, 1);   /* JPEG magic: read in pieces */
    put_file(f, "small.bin", SMALL, 0x00, 1); /* below the size: left alone */
    put_file(f, "warm.bin", BIG, 0x00, 1);
    read_all(f, "warm.bin"); /* someone reads it: now it is cached */
    if (skip_tmpfs(f))
        return;
    assert_int_equal(cached(f, "whole.bin"), 0);
    assert_int_equal(cached(f, "warm.bin"), 1);
    backup(f, 0);
    assert_int_equal(cached(f, "whole.bin"), 0);
    assert_int_equal(cached(f, "photo.jpg"), 0);
    assert_int_equal(cached(f, "small.bin"), 1);
    assert_int_equal(cached(f, "warm.bin"), 1);
    assert_restored(f, "whole.bin", BIG, 0x00);
    assert_restored(f, "photo.jpg", BIG, 0xff);
}

static void test_cold_file_read_by_the_walker_is_dropped(void **state)
{
    fixture *const f = *state;
    put_file(f, "serial.bin", BIG, 0x01, 1);
    if (skip_tmpfs(f))
        return;
    backup(f, 1);
    assert_int_equal(cached(f, "serial.bin"), 0);
    assert_restored(f, "serial.bin", BIG, 0x01);
}

static void test_cold_file_read_for_its_digest_is_dropped(void **state)
{
    fixture *const f = *state;
    char p[192];
    put_file(f, "touched.bin", BIG, 0x02, 1);
    if (skip_tmpfs(f))
        return;
    backup(f, 0);
    /* the same bytes again, a new mtime: read only for its digest */
    put_file(f, "touched.bin", BIG, 0x02, 1);
    src_path(f, "touched.bin", p, sizeof p);
    const struct timespec later[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, later, 0), 0);
    backup(f, 0);
    assert_int_equal(cached(f, "touched.bin"), 0);
    assert_restored(f, "touched.bin", BIG, 0x02);
}

typedef struct stop_after {
    volatile sig_atomic_t stop;
    uint64_t files;
} stop_after;

static void count_and_stop(void *ctx, const work_progress *p)
{
    stop_after *const a = ctx;
    if (p->files_done >= a->files)
        a->stop = 1;
}

/* The walk opens the next files ahead of reading them (to ask the kernel
 * for them) and reads them through those descriptors: none is left open,
 * whether the files are read, unchanged since the parent, or never reached
 * because the backup was stopped. */
static void test_no_file_left_open(void **state)
{
    fixture *const f = *state;
    char name[64], p[192];
    for (int i = 0; i < 80; i++) {
        snprintf(name, sizeof name, "f%02d", i);
        put_file(f, name, SMALL + (size_t)i, i, 0);
    }
    src_path(f, "sub", p, sizeof p);
    assert_int_equal(mkdir(p, 0755), 0);
    put_file(f, "sub/inner", BIG, 0x00, 0);
    const int before = test_count_entries("/proc/self/fd");
    backup(f, 0);
    assert_int_equal(test_count_entries("/proc/self/fd"), before);
    put_file(f, "f40", SMALL, 0x41, 0); /* one changed, the rest unchanged */
    backup(f, 0);
    assert_int_equal(test_count_entries("/proc/self/fd"), before);
    assert_restored(f, "f40", SMALL, 0x41);

    stop_after a = {0, 10};
    const work_hooks hooks = {count_and_stop, &a, &a.stop};
    backup_opts o;
    backup_result r;
    memset(&o, 0, sizeof o);
    o.source = f->src;
    o.force_read = 1; /* every file read again: the prefetch opens them all */
    o.hooks = &hooks;
    assert_int_equal(backup_run(f->s, &o, &r), CAIRN_EINTERRUPTED);
    assert_int_equal(test_count_entries("/proc/self/fd"), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cold_files_are_dropped_once_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_file_left_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cold_file_read_by_the_walker_is_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cold_file_read_for_its_digest_is_dropped, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
