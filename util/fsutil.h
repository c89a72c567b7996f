/* fsutil.h - file helpers that get durability right once, for every module. */
#ifndef CAIRN_FSUTIL_H
#define CAIRN_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

/* Reads a whole file of at most max bytes into a malloc'd buffer. */
cairn_err fs_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len);

/* Writes all of buf, retrying short writes and EINTR; path names the file
 * in the error message. */
cairn_err fs_write_all(int fd, const void *buf, size_t len, const char *path);

/* Reads exactly len bytes at off; a short read is CAIRN_ECORRUPT (the file
 * is shorter than its index says). */
cairn_err fs_pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path);

cairn_err fs_fsync_dir(const char *dir);

/* Whether any page of the first len bytes of the file open as fd is in the
 * page cache: 1 if one is, 0 if none is, -1 if the kernel does not say.
 * Asks cachestat(2) (Linux 6.5), else fs_page_cached_mincore. */
int fs_page_cached(int fd, uint64_t len);

/* The same by mincore(2) over read-only mappings of the file, a window at a
 * time; declared here for its test on kernels that have cachestat. */
int fs_page_cached_mincore(int fd, uint64_t len);

/* Creates dir and its missing parents; a non-folder (a file, or a link to
 * one) where one of them belongs fails, naming it. */
cairn_err fs_mkdirs(const char *dir, mode_t mode);

/* Durably replaces dir/name with data: writes a temporary file in dir,
 * fsyncs it, renames it over name and fsyncs dir.  A crash leaves either
 * the old file or the new one, never a mix. */
cairn_err fs_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                          mode_t mode);

/* Joins a and b with one '/' into a malloc'd string (NULL if out of memory). */
char *fs_join(const char *a, const char *b);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void fs_hex(const uint8_t *bytes, size_t n, char *out);

/* Parses exactly 2n hex digits; returns 0 on success, -1 otherwise. */
int fs_unhex(const char *hex, uint8_t *bytes, size_t n);

/* The value of one hex digit (either case), -1 if c is none. */
int fs_hexval(char c);

#endif
