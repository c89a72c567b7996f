#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sodium.h>

cairn_err fs_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
    cairn_err rc;
    uint8_t *buf = NULL;
    struct stat st;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(errno, path);
    if (fstat(fd, &st) != 0) {
        rc = err_errno(errno, path);
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        rc = err_set(CAIRN_ECORRUPT, "%s: not a regular file of at most %zu bytes", path, max);
        goto fail;
    }
    buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    rc = fs_pread_all(fd, buf, (size_t)st.st_size, 0, path);
    if (rc)
        goto fail;
    close(fd);
    *out = buf;
    *out_len = (size_t)st.st_size;
    return CAIRN_OK;
fail:
    free(buf);
    close(fd);
    return rc;
}

cairn_err fs_write_all(int fd, const void *buf, size_t len, const char *path)
{
    const uint8_t *p = buf;
    while (len > 0) {
        const ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_errno(errno, path);
        }
        p += n;
        len -= (size_t)n;
    }
    return CAIRN_OK;
}

cairn_err fs_pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path)
{
    uint8_t *p = buf;
    while (len > 0) {
        const ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_errno(errno, path);
        }
        if (n == 0)
            return err_set(CAIRN_ECORRUPT, "%s: file is truncated", path);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return CAIRN_OK;
}

/* cachestat(2)'s number is 451 on every architecture that has a unified
 * table; C libraries of before it do not name it. */
#if !defined(SYS_cachestat) && defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define SYS_cachestat 451
#endif

/* A window's vector on the stack: one byte per page of at least 4 KiB. */
enum { MINCORE_WINDOW = 64 << 20, MINCORE_PAGES = MINCORE_WINDOW / 4096 };

int fs_page_cached_mincore(int fd, uint64_t len)
{
    unsigned char vec[MINCORE_PAGES];
    const long page = sysconf(_SC_PAGESIZE);
    if (page < 4096 || MINCORE_WINDOW % page)
        return -1;
    for (uint64_t off = 0; off < len; off += MINCORE_WINDOW) {
        const size_t n = len - off < MINCORE_WINDOW ? (size_t)(len - off) : MINCORE_WINDOW;
        void *const m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, (off_t)off);
        if (m == MAP_FAILED)
            return -1;
        const int rc = mincore(m, n, vec);
        munmap(m, n);
        if (rc != 0)
            return -1;
        for (size_t i = 0; i < (n + (size_t)page - 1) / (size_t)page; i++)
            if (vec[i] & 1)
                return 1;
    }
    return 0;
}

int fs_page_cached(int fd, uint64_t len)
{
#ifdef SYS_cachestat
    struct {
        uint64_t off, len;
    } range = {0, len};
    struct {
        uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
    } cs;
    if (syscall(SYS_cachestat, fd, &range, &cs, 0) == 0)
        return cs.nr_cache > 0;
    if (errno != ENOSYS)
        return -1;
#endif
    return fs_page_cached_mincore(fd, len);
}

cairn_err fs_fsync_dir(const char *dir)
{
    const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(errno, dir);
    if (fsync(fd) != 0 && errno != EINVAL) {
        const int e = errno;
        close(fd);
        return err_errno(e, dir);
    }
    close(fd);
    return CAIRN_OK;
}

cairn_err fs_mkdirs(const char *dir, mode_t mode)
{
    char path[PATH_MAX];
    const size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path)
        return err_set(CAIRN_EINVAL, "%s: path too long", dir);
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, mode) != 0 && errno != EEXIST)
            return err_errno(errno, path);
        *p = '/';
    }
    if (mkdir(path, mode) != 0) {
        struct stat st;
        if (errno != EEXIST)
            return err_errno(errno, path);
        /* a file in its place fails here, naming it, not at the first
         * file written into it */
        if (stat(path, &st) != 0)
            return err_errno(errno, path);
        if (!S_ISDIR(st.st_mode))
            return err_errno(ENOTDIR, path);
    }
    return CAIRN_OK;
}

cairn_err fs_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                          mode_t mode)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    uint8_t rnd[8];
    char rhex[17];
    cairn_err rc;
    randombytes_buf(rnd, sizeof rnd);
    fs_hex(rnd, sizeof rnd, rhex);
    if (snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%s", dir, name, rhex) >= (int)sizeof tmp ||
        snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final)
        return err_set(CAIRN_EINVAL, "%s/%s: path too long", dir, name);
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return err_errno(errno, tmp);
    rc = fs_write_all(fd, data, len, tmp);
    if (rc)
        goto fail;
    if (fsync(fd) != 0) {
        rc = err_errno(errno, tmp);
        goto fail;
    }
    if (close(fd) != 0) {
        rc = err_errno(errno, tmp);
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, final) != 0) {
        rc = err_errno(errno, final);
        unlink(tmp);
        return rc;
    }
    return fs_fsync_dir(dir);
fail:
    close(fd);
    unlink(tmp);
    return rc;
}

char *fs_join(const char *a, const char *b)
{
    const size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

void fs_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

int fs_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int fs_unhex(const char *hex, uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const int hi = fs_hexval(hex[2 * i]);
        if (hi < 0)
            return -1;
        const int lo = fs_hexval(hex[2 * i + 1]);
        if (lo < 0)
            return -1;
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[2 * n] == '\0' ? 0 : -1;
}
