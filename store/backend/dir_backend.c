/* dir_backend.c - a copy target in a local folder (an external drive, a
 * mounted share).
 *
 * A put copies the file to <root>/tmp/<random>.part, fsyncs it, drops it
 * from the page cache and reads it back (so the comparison sees what the
 * medium returns, not what we just wrote), compares length and BLAKE2b
 * with the source, then renames it into place and fsyncs the folder.  A
 * reader of the folder therefore never sees half an object, and a copy
 * killed at any moment leaves only a .part file, removed by the next open. */
#include "store/backend/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util/fsutil.h"
#include "store/layout.h"

enum { COPY_BUF = 1 << 20, HASH_LEN = 32 };

typedef struct dir_backend {
    backend base; /* first: the ops see a backend * */
    char root[PATH_MAX];
    char tmp[PATH_MAX];
    uint8_t *buf; /* COPY_BUF bytes, reused by every transfer */
} dir_backend;

/* Names are the store's relative paths: no absolute paths, no "..", no
 * empty components, so an object can never land outside the root. */
static int valid_name(const char *name)
{
    if (!*name || *name == '/')
        return 0;
    for (const char *p = name; *p;) {
        const size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n;
        if (*p == '/' && !*++p)
            return 0;
    }
    return 1;
}

static cairn_err object_path(const dir_backend *d, const char *name, char *out, size_t cap)
{
    if (!valid_name(name))
        return err_set(CAIRN_EINVAL, "%s: bad object name '%s'", d->base.url, name);
    if (snprintf(out, cap, "%s/%s", d->root, name) >= (int)cap)
        return err_set(CAIRN_EINVAL, "%s/%s: path too long", d->root, name);
    return CAIRN_OK;
}

/* A full target gets a message that names it, whatever call ran out
 * (other messages already name the path below the root). */
static cairn_err target_err(const dir_backend *d, cairn_err rc, const char *name)
{
    if (rc == CAIRN_ENOSPC)
        return err_set(CAIRN_ENOSPC, "target %s is full (no space left writing %s)", d->base.url,
                       name);
    return rc;
}

/* Creates the folders of a relative object name below the root (0700),
 * fsyncing the parent of every folder it creates so the new entry is
 * durable before an object is renamed into it. */
static cairn_err make_parents(const dir_backend *d, const char *name)
{
    char path[PATH_MAX];
    const char *slash = name;
    while ((slash = strchr(slash, '/')) != NULL) {
        if (snprintf(path, sizeof path, "%s/%.*s", d->root, (int)(slash - name), name) >=
            (int)sizeof path)
            return err_set(CAIRN_EINVAL, "%s/%s: path too long", d->root, name);
        if (mkdir(path, 0700) == 0) {
            *strrchr(path, '/') = '\0';
            const cairn_err rc = fs_fsync_dir(path);
            if (rc)
                return rc;
        } else if (errno != EEXIST) {
            return err_errno(errno, path);
        }
        slash++;
    }
    return CAIRN_OK;
}

/* Streams fd into out_fd (when >= 0), hashing it; *len gets the byte count. */
static cairn_err stream(dir_backend *d, int fd, const char *path, int out_fd, const char *out_path,
                        uint8_t hash[HASH_LEN], uint64_t *len)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASH_LEN);
    *len = 0;
    for (;;) {
        const ssize_t n = read(fd, d->buf, COPY_BUF);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_errno(errno, path);
        }
        if (n == 0)
            break;
        crypto_generichash_update(&st, d->buf, (size_t)n);
        *len += (uint64_t)n;
        if (out_fd >= 0) {
            const cairn_err rc = fs_write_all(out_fd, d->buf, (size_t)n, out_path);
            if (rc)
                return rc;
        }
    }
    crypto_generichash_final(&st, hash, HASH_LEN);
    return CAIRN_OK;
}

static cairn_err dir_put_file(backend *b, const char *name, const char *local_path)
{
    dir_backend *const d = (dir_backend *)b;
    char final[PATH_MAX], tmp[PATH_MAX], rhex[33];
    uint8_t rnd[16], src_hash[HASH_LEN], got_hash[HASH_LEN];
    uint64_t src_len = 0, got_len = 0;
    int out = -1;
    cairn_err rc = object_path(d, name, final, sizeof final);
    if (rc)
        return rc;
    const int in = open(local_path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return err_errno(errno, local_path);
    randombytes_buf(rnd, sizeof rnd);
    fs_hex(rnd, sizeof rnd, rhex);
    snprintf(tmp, sizeof tmp, "%s/%s.part", d->tmp, rhex);
    out = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = err_errno(errno, tmp);
        goto fail;
    }
    rc = stream(d, in, local_path, out, tmp, src_hash, &src_len);
    if (!rc && fsync(out) != 0)
        rc = err_errno(errno, tmp);
    if (rc)
        goto fail;
    /* read back what the medium holds, not the pages we just wrote */
    (void)posix_fadvise(out, 0, 0, POSIX_FADV_DONTNEED);
    if (lseek(out, 0, SEEK_SET) != 0) {
        rc = err_errno(errno, tmp);
        goto fail;
    }
    rc = stream(d, out, tmp, -1, NULL, got_hash, &got_len);
    if (rc)
        goto fail;
    if (got_len != src_len || sodium_memcmp(got_hash, src_hash, HASH_LEN) != 0) {
        rc = err_set(CAIRN_EIO,
                     "%s: %s reads back differently from what was written (%llu of %llu bytes, "
                     "hash differs); the medium may be failing",
                     d->base.url, name, (unsigned long long)got_len, (unsigned long long)src_len);
        goto fail;
    }
    if (close(out) != 0) {
        out = -1;
        rc = err_errno(errno, tmp);
        goto fail;
    }
    out = -1;
    rc = make_parents(d, name);
    if (rc)
        goto fail;
    if (rename(tmp, final) != 0) {
        rc = err_errno(errno, final);
        goto fail;
    }
    close(in);
    *strrchr(final, '/') = '\0';
    rc = fs_fsync_dir(final);
    if (rc)
        return target_err(d, rc, name);
    b->bytes_sent += src_len;
    return CAIRN_OK;
fail:
    if (out >= 0)
        close(out);
    unlink(tmp);
    close(in);
    return target_err(d, rc, name);
}

static cairn_err dir_get_file(backend *b, const char *name, const char *local_path)
{
    dir_backend *const d = (dir_backend *)b;
    char path[PATH_MAX];
    uint8_t hash[HASH_LEN];
    uint64_t len = 0;
    cairn_err rc = object_path(d, name, path, sizeof path);
    if (rc)
        return rc;
    const int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? err_set(CAIRN_ENOTFOUND, "%s: %s: no such object", b->url, name)
                               : err_errno(errno, path);
    const int out = open(local_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = err_errno(errno, local_path);
        close(in);
        return rc;
    }
    rc = stream(d, in, path, out, local_path, hash, &len);
    if (close(out) != 0 && !rc)
        rc = err_errno(errno, local_path);
    close(in);
    if (!rc)
        b->bytes_received += len;
    return rc;
}

static cairn_err dir_get_range(backend *b, const char *name, uint64_t offset, size_t len,
                               uint8_t *buf)
{
    dir_backend *const d = (dir_backend *)b;
    char path[PATH_MAX];
    cairn_err rc = object_path(d, name, path, sizeof path);
    if (rc)
        return rc;
    const int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? err_set(CAIRN_ENOTFOUND, "%s: %s: no such object", b->url, name)
                               : err_errno(errno, path);
    rc = fs_pread_all(in, buf, len, offset, path);
    close(in);
    if (!rc)
        b->bytes_received += len;
    return target_err(d, rc, name);
}

static cairn_err dir_stat(backend *b, const char *name, uint64_t *size)
{
    dir_backend *const d = (dir_backend *)b;
    char path[PATH_MAX];
    struct stat st;
    const cairn_err rc = object_path(d, name, path, sizeof path);
    if (rc)
        return rc;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? err_set(CAIRN_ENOTFOUND, "%s: %s: no such object", b->url, name)
                               : err_errno(errno, path);
    if (!S_ISREG(st.st_mode))
        return err_set(CAIRN_ENOTFOUND, "%s: %s: not a file", b->url, name);
    *size = (uint64_t)st.st_size;
    return CAIRN_OK;
}

static cairn_err dir_remove(backend *b, const char *name)
{
    dir_backend *const d = (dir_backend *)b;
    char path[PATH_MAX];
    const cairn_err rc = object_path(d, name, path, sizeof path);
    if (rc)
        return rc;
    if (unlink(path) != 0)
        return errno == ENOENT ? CAIRN_OK : err_errno(errno, path);
    *strrchr(path, '/') = '\0';
    return fs_fsync_dir(path);
}

/* What a store folder holds besides its objects: the temporary folder, the
 * local index, lock files, and fs_write_atomic's hidden temporary names. */
static int skipped(const char *rel, const char *entry)
{
    if (entry[0] == '.')
        return 1;
    if (*rel)
        return 0;
    return strcmp(entry, STORE_DIR_TMP) == 0 || strcmp(entry, STORE_DIR_INDEX) == 0 ||
           strncmp(entry, STORE_NAME_LOCK, strlen(STORE_NAME_LOCK)) == 0;
}

typedef struct walk {
    dir_backend *d;
    const char *prefix;
    backend_list_fn fn;
    void *ctx;
} walk;

/* Lists the folder <root>/<rel> (rel "" or ending in '/'). */
static cairn_err walk_dir(const walk *w, const char *rel)
{
    char path[PATH_MAX], name[PATH_MAX];
    struct dirent *de;
    struct stat st;
    cairn_err rc = CAIRN_OK;
    snprintf(path, sizeof path, "%s/%s", w->d->root, rel);
    DIR *const dir = opendir(path);
    if (!dir)
        return errno == ENOENT || errno == ENOTDIR ? CAIRN_OK : err_errno(errno, path);
    while (!rc && (de = readdir(dir)) != NULL) {
        if (skipped(rel, de->d_name) || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (snprintf(name, sizeof name, "%s%s", rel, de->d_name) >= (int)sizeof name)
            continue;
        /* only descend where the prefix can still match */
        const size_t nlen = strlen(name), plen = strlen(w->prefix);
        if (strncmp(name, w->prefix, nlen < plen ? nlen : plen) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", w->d->root, name);
        if (lstat(path, &st) != 0) {
            if (errno == ENOENT)
                continue; /* removed while we list */
            rc = err_errno(errno, path);
        } else if (S_ISDIR(st.st_mode)) {
            if (nlen + 2 < sizeof name) {
                name[nlen] = '/';
                name[nlen + 1] = '\0';
                rc = walk_dir(w, name);
            }
        } else if (S_ISREG(st.st_mode) && nlen >= plen) {
            rc = w->fn(w->ctx, name, (uint64_t)st.st_size);
        }
    }
    closedir(dir);
    return rc;
}

static cairn_err dir_list(backend *b, const char *prefix, backend_list_fn fn, void *ctx)
{
    const walk w = {(dir_backend *)b, prefix, fn, ctx};
    return walk_dir(&w, "");
}

static void dir_close(backend *b)
{
    dir_backend *const d = (dir_backend *)b;
    if (!d)
        return;
    free(d->buf);
    free(d->base.url);
    free(d);
}

static const backend_ops dir_ops = {
    .list = dir_list,
    .stat = dir_stat,
    .put_file = dir_put_file,
    .get_file = dir_get_file,
    .get_range = dir_get_range,
    .remove = dir_remove,
    .close = dir_close,
};

/* Leftovers of a killed copy: never visible under a final name, removed
 * here so they do not take space for ever. */
static void remove_parts(const char *tmp)
{
    char path[PATH_MAX];
    struct dirent *de;
    DIR *const dir = opendir(tmp);
    if (!dir)
        return;
    while ((de = readdir(dir)) != NULL) {
        const size_t n = strlen(de->d_name);
        if (n > 5 && strcmp(de->d_name + n - 5, ".part") == 0) {
            snprintf(path, sizeof path, "%s/%s", tmp, de->d_name);
            unlink(path);
        }
    }
    closedir(dir);
}

cairn_err backend_dir_open(const char *path, backend **out)
{
    cairn_err rc;
    *out = NULL;
    if (path[0] != '/')
        return err_set(CAIRN_EINVAL, "%s: a folder target needs an absolute path", path);
    dir_backend *const d = calloc(1, sizeof *d);
    if (!d)
        return err_set(CAIRN_ENOMEM, "out of memory");
    d->base.ops = &dir_ops;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len >= sizeof d->root - 8) {
        rc = err_set(CAIRN_EINVAL, "%s: path too long", path);
        goto fail;
    }
    memcpy(d->root, path, len);
    snprintf(d->tmp, sizeof d->tmp, "%s/" STORE_DIR_TMP, d->root);
    d->base.url = strdup(d->root);
    d->buf = malloc(COPY_BUF);
    if (!d->base.url || !d->buf) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto fail;
    }
    /* the root itself may be created, its parent never: a drive that is not
     * mounted must not turn into a folder on the system disk */
    if (mkdir(d->root, 0700) != 0 && errno != EEXIST) {
        rc = errno == ENOENT ? err_set(CAIRN_EREMOTE,
                                       "%s: the folder above it does not exist (is the drive "
                                       "mounted?)",
                                       d->root)
                             : target_err(d, err_errno(errno, d->root), "the target folder");
        goto fail;
    }
    rc = fs_mkdirs(d->tmp, 0700);
    if (rc) {
        rc = target_err(d, rc, STORE_DIR_TMP "/");
        goto fail;
    }
    remove_parts(d->tmp);
    *out = &d->base;
    return CAIRN_OK;
fail:
    dir_close(&d->base);
    return rc;
}
