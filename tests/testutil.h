/* testutil.h - what the unit tests share: removing a temporary tree, a
 * new store to test on. */
#ifndef CAIRN_TESTUTIL_H
#define CAIRN_TESTUTIL_H

#include <dirent.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "store/keys.h"
#include "store/store.h"

static int testutil_remove(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A file size limit for this process (it binds root too), with SIGXFSZ
 * ignored so that a write over it fails with EFBIG instead of killing the
 * test; 0 on success. */
static inline int test_limit_file_size(rlim_t bytes, struct rlimit *old, struct sigaction *old_sa)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGXFSZ, &sa, old_sa) != 0 || getrlimit(RLIMIT_FSIZE, old) != 0)
        return -1;
    const struct rlimit lim = {bytes, old->rlim_max};
    return setrlimit(RLIMIT_FSIZE, &lim);
}

static inline int test_unlimit_file_size(const struct rlimit *old, const struct sigaction *old_sa)
{
    return setrlimit(RLIMIT_FSIZE, old) != 0 || sigaction(SIGXFSZ, old_sa, NULL) != 0 ? -1 : 0;
}

/* Entries of dir other than . and .. (-1: it cannot be read). */
static inline int test_count_entries(const char *dir)
{
    DIR *const d = opendir(dir);
    const struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* rm -rf dir; 0 on success. */
static inline int test_rmtree(const char *dir)
{
    return nftw(dir, testutil_remove, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new store with the given chunking and packing and the cheapest KDF in
 * a new folder /tmp/cairn-test-TAG-XXXXXX (dir), opened for writing (path:
 * the store's folder); 0 on success. */
static inline int test_store_new_params(const char *tag, const char *password, char dir[64],
                                        char path[128], const store_params *params, store **s)
{
    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    snprintf(dir, 64, "/tmp/cairn-test-%s-XXXXXX", tag);
    if (sodium_init() < 0 || !mkdtemp(dir))
        return -1;
    snprintf(path, 128, "%s/store", dir);
    if (store_create(path, password, strlen(password), &kdf, params) != CAIRN_OK ||
        store_open(path, password, strlen(password), STORE_WRITE, s) != CAIRN_OK)
        return -1;
    return 0;
}

/* test_store_new_params with small chunks (4 KiB / 16 KiB / 64 KiB, 256
 * KiB packs). */
static inline int test_store_new(const char *tag, const char *password, char dir[64],
                                 char path[128], store **s)
{
    const store_params params = {4096, 16384, 65536, 256 * 1024, 3, 0, 0, 0};
    return test_store_new_params(tag, password, dir, path, &params, s);
}

#endif
