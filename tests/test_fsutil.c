/* test_fsutil.c - the file helpers' failures, on real conditions: a file
 * where a folder is expected, a folder where a file is expected, a file
 * shorter than it says, /dev/full, a file size limit (RLIMIT_FSIZE, which
 * binds root too), names that do not fit.  Each failure must give the
 * right code and a message naming the path, and leave nothing behind: no
 * temporary file, the old content unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/fsutil.h"

typedef struct fixture {
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-fsutil-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    test_rmtree(f->dir);
    free(f);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *const fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* err_msg() is exactly "<path>: <what>". */
static void assert_msg(const char *path, const char *what)
{
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want, "%s: %s", path, what);
    assert_string_equal(err_msg(), want);
}

static void assert_content(const char *path, const char *text)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fs_read_file(path, 1 << 20, &buf, &len), CAIRN_OK);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(buf, text, len);
    free(buf);
}

static void test_read_file(void **state)
{
    fixture *const f = *state;
    char path[PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 99;

    snprintf(path, sizeof path, "%s/none", f->dir);
    assert_int_equal(fs_read_file(path, 100, &buf, &len), CAIRN_ENOTFOUND);
    assert_msg(path, "No such file or directory");
    assert_null(buf);

    /* a folder, and a file over the limit: neither is read */
    assert_int_equal(fs_read_file(f->dir, 1 << 20, &buf, &len), CAIRN_ECORRUPT);
    assert_msg(f->dir, "not a regular file of at most 1048576 bytes");
    snprintf(path, sizeof path, "%s/eleven", f->dir);
    write_text(path, "eleven char");
    assert_int_equal(fs_read_file(path, 10, &buf, &len), CAIRN_ECORRUPT);
    assert_msg(path, "not a regular file of at most 10 bytes");
    assert_null(buf);
    assert_int_equal(fs_read_file(path, 11, &buf, &len), CAIRN_OK);
    assert_int_equal(len, 11);
    assert_memory_equal(buf, "eleven char", 11);
    free(buf);
    buf = NULL;

    /* an empty file is a valid, empty result */
    snprintf(path, sizeof path, "%s/empty", f->dir);
    write_text(path, "");
    assert_int_equal(fs_read_file(path, 0, &buf, &len), CAIRN_OK);
    assert_int_equal(len, 0);
    assert_non_null(buf);
    free(buf);
}

/* A sysfs attribute says it holds a page but holds a line: a file that
 * ends before its size, as a truncated pack would. */
static void test_read_file_shorter_than_its_size(void **state)
{
    (void)state;
    static const char *const candidates[] = {
        "/sys/kernel/mm/transparent_hugepage/enabled",
        "/sys/kernel/uevent_seqnum",
        "/sys/power/state",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        struct stat st;
        uint8_t *buf = NULL;
        size_t len = 0;
        if (stat(candidates[i], &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 4096)
            continue;
        assert_int_equal(fs_read_file(candidates[i], 1 << 20, &buf, &len), CAIRN_ECORRUPT);
        assert_msg(candidates[i], "file is truncated");
        assert_null(buf);
        return;
    }
    skip(); /* no sysfs here */
}

static void test_write_and_pread(void **state)
{
    fixture *const f = *state;
    char path[PATH_MAX];
    uint8_t buf[16];
    snprintf(path, sizeof path, "%s/data", f->dir);
    write_text(path, "0123456789");

    /* a descriptor not open for writing */
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fs_write_all(fd, "x", 1, path), CAIRN_EIO);
    assert_msg(path, "Bad file descriptor");
    /* a read past the end is a truncated file, not a short success */
    assert_int_equal(fs_pread_all(fd, buf, 4, 8, path), CAIRN_ECORRUPT);
    assert_msg(path, "file is truncated");
    assert_int_equal(fs_pread_all(fd, buf, 4, 6, path), CAIRN_OK);
    assert_memory_equal(buf, "6789", 4);
    close(fd);
    assert_content(path, "0123456789");

    /* a folder's descriptor cannot be read */
    fd = open(f->dir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_int_equal(fs_pread_all(fd, buf, 4, 0, f->dir), CAIRN_EIO);
    assert_msg(f->dir, "Is a directory");
    close(fd);

    /* a device that is always full */
    fd = open("/dev/full", O_WRONLY);
    if (fd < 0)
        return;
    assert_int_equal(fs_write_all(fd, "abc", 3, "/dev/full"), CAIRN_ENOSPC);
    assert_msg("/dev/full", "No space left on device");
    close(fd);
}

static void test_fsync_dir(void **state)
{
    fixture *const f = *state;
    char path[PATH_MAX];
    assert_int_equal(fs_fsync_dir(f->dir), CAIRN_OK);
    snprintf(path, sizeof path, "%s/gone", f->dir);
    assert_int_equal(fs_fsync_dir(path), CAIRN_ENOTFOUND);
    assert_msg(path, "No such file or directory");
    snprintf(path, sizeof path, "%s/file", f->dir);
    write_text(path, "x");
    assert_int_equal(fs_fsync_dir(path), CAIRN_EIO);
    assert_msg(path, "Not a directory");
}

/* Both ways of asking the page cache, past mincore's first 64 MiB window:
 * a sparse file has no page cached until a byte of it is read. */
static void test_page_cached(void **state)
{
    fixture *const f = *state;
    char path[PATH_MAX];
    struct statfs fs;
    enum { LEN = 80 << 20, AT = 70 << 20 };
    char c;
    snprintf(path, sizeof path, "%s/sparse", f->dir);
    const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fstatfs(fd, &fs), 0);
    if (fs.f_type == TMPFS_MAGIC) { /* reads of its holes cache nothing */
        print_message("skipped: %s is on tmpfs\n", f->dir);
        close(fd);
        return;
    }
    assert_int_equal(ftruncate(fd, LEN), 0);
    assert_int_equal(fs_page_cached(fd, LEN), 0);
    assert_int_equal(fs_page_cached_mincore(fd, LEN), 0);
    assert_int_equal(pread(fd, &c, 1, AT), 1);
    assert_int_equal(fs_page_cached(fd, LEN), 1);
    assert_int_equal(fs_page_cached_mincore(fd, LEN), 1);
    assert_int_equal(fs_page_cached(fd, AT), 0); /* the range asked stops before it */
    assert_int_equal(fs_page_cached_mincore(fd, AT), 0);
    assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    assert_int_equal(fs_page_cached(fd, LEN), 0);
    assert_int_equal(fs_page_cached_mincore(fd, LEN), 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(fs_page_cached(-1, LEN), -1);
    assert_int_equal(fs_page_cached_mincore(-1, LEN), -1);
}

static void test_mkdirs(void **state)
{
    fixture *const f = *state;
    char path[PATH_MAX], file[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof path, "%s/a/b/c", f->dir);
    assert_int_equal(fs_mkdirs(path, 0750), CAIRN_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0750 & ~umask(umask(0)));
    /* all there already */
    assert_int_equal(fs_mkdirs(path, 0700), CAIRN_OK);

    /* a file where a folder is expected: as the parent, as a grandparent */
    snprintf(file, sizeof file, "%s/plain", f->dir);
    write_text(file, "not a folder");
    snprintf(path, sizeof path, "%s/plain/sub", f->dir);
    assert_int_equal(fs_mkdirs(path, 0700), CAIRN_EIO);
    assert_msg(path, "Not a directory");
    snprintf(path, sizeof path, "%s/plain/sub/deeper", f->dir);
    assert_int_equal(fs_mkdirs(path, 0700), CAIRN_EIO);
    snprintf(path, sizeof path, "%s/plain/sub", f->dir);
    assert_msg(path, "Not a directory");
    assert_content(file, "not a folder");
    /* the folder itself a file: refused, not taken for a folder (regression:
     * its EEXIST passed for success, and the first write into it failed) */
    assert_int_equal(fs_mkdirs(file, 0700), CAIRN_EIO);
    snprintf(path, sizeof path, "%s/plain", f->dir);
    assert_msg(path, "Not a directory");
    assert_content(file, "not a folder");
    /* a link to a folder is a folder */
    snprintf(path, sizeof path, "%s/link", f->dir);
    snprintf(file, sizeof file, "%s/a", f->dir);
    assert_int_equal(symlink(file, path), 0);
    assert_int_equal(fs_mkdirs(path, 0700), CAIRN_OK);

    /* nothing to create, or a name no system call takes */
    assert_int_equal(fs_mkdirs("", 0700), CAIRN_EINVAL);
    assert_string_equal(err_msg(), ": path too long");
    char *const huge = malloc(PATH_MAX + 1);
    assert_non_null(huge);
    memset(huge, 'x', PATH_MAX);
    huge[0] = '/';
    huge[PATH_MAX] = '\0';
    assert_int_equal(fs_mkdirs(huge, 0700), CAIRN_EINVAL);
    /* the message names the path, cut at the message's limit */
    assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 1);
    assert_memory_equal(err_msg(), huge, ERR_MSG_MAX - 1);
    free(huge);
}

static void test_write_atomic(void **state)
{
    fixture *const f = *state;
    char path[PATH_MAX], sub[PATH_MAX];
    static uint8_t big[8192];
    struct rlimit old;
    struct sigaction old_sa;

    assert_int_equal(fs_write_atomic(f->dir, "config", "first", 5, 0600), CAIRN_OK);
    snprintf(path, sizeof path, "%s/config", f->dir);
    assert_content(path, "first");
    assert_int_equal(test_count_entries(f->dir), 1);

    /* a write that fails half-way (here: over the file size limit) keeps
     * the old content and leaves no temporary file */
    memset(big, 'b', sizeof big);
    assert_int_equal(test_limit_file_size(4096, &old, &old_sa), 0);
    const cairn_err rc = fs_write_atomic(f->dir, "config", big, sizeof big, 0600);
    assert_int_equal(test_unlimit_file_size(&old, &old_sa), 0);
    assert_int_equal(rc, CAIRN_EIO);
    assert_non_null(strstr(err_msg(), "/.tmp-config-"));
    assert_non_null(strstr(err_msg(), ": File too large"));
    assert_content(path, "first");
    assert_int_equal(test_count_entries(f->dir), 1);

    /* a folder holds the name: the rename fails, the folder stays */
    snprintf(sub, sizeof sub, "%s/taken", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/taken/inside", f->dir);
    write_text(path, "kept");
    assert_int_equal(fs_write_atomic(f->dir, "taken", "new", 3, 0600), CAIRN_EIO);
    assert_msg(sub, "Is a directory");
    assert_content(path, "kept");
    assert_int_equal(test_count_entries(f->dir), 2);

    /* a folder that does not exist */
    snprintf(sub, sizeof sub, "%s/missing", f->dir);
    assert_int_equal(fs_write_atomic(sub, "config", "x", 1, 0600), CAIRN_ENOTFOUND);
    assert_non_null(strstr(err_msg(), "/missing/.tmp-config-"));
    assert_non_null(strstr(err_msg(), ": No such file or directory"));

    /* a name that does not fit in a path */
    char *const huge = malloc(PATH_MAX + 1);
    assert_non_null(huge);
    memset(huge, 'n', PATH_MAX);
    huge[PATH_MAX] = '\0';
    assert_int_equal(fs_write_atomic(f->dir, huge, "x", 1, 0600), CAIRN_EINVAL);
    assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 1);
    assert_memory_equal(err_msg(), f->dir, strlen(f->dir));
    assert_memory_equal(err_msg() + strlen(f->dir), "/nnnn", 5);
    free(huge);
    assert_int_equal(test_count_entries(f->dir), 2);
}

static void test_hex(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x00, 0x9f, 0xab, 0xff};
    uint8_t back[4];
    char hex[9];
    fs_hex(bytes, sizeof bytes, hex);
    assert_string_equal(hex, "009fabff");
    assert_int_equal(fs_unhex(hex, back, sizeof back), 0);
    assert_memory_equal(back, bytes, sizeof bytes);
    /* either case */
    assert_int_equal(fs_unhex("009FABFF", back, sizeof back), 0);
    assert_memory_equal(back, bytes, sizeof bytes);
    /* a bad first or second digit of a byte, a length that is off */
    assert_int_equal(fs_unhex("009fagff", back, sizeof back), -1);
    assert_int_equal(fs_unhex("009fgbff", back, sizeof back), -1);
    assert_int_equal(fs_unhex("009fabff0", back, sizeof back), -1);
    assert_int_equal(fs_unhex("009fab", back, sizeof back), -1);
    assert_int_equal(fs_hexval('F'), 15);
    assert_int_equal(fs_hexval('/'), -1);
    assert_int_equal(fs_hexval(':'), -1);
    assert_int_equal(fs_hexval('`'), -1);
    assert_int_equal(fs_hexval('G'), -1);
}

static void test_join(void **state)
{
    (void)state;
    char *const s = fs_join("/a/b", "c");
    assert_non_null(s);
    assert_string_equal(s, "/a/b/c");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_file_shorter_than_its_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_and_pread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
