/* testutil.h - what the unit tests share: removing a temporary tree. */
#ifndef CAIRN_TESTUTIL_H
#define CAIRN_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static int testutil_remove(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* rm -rf dir; 0 on success. */
static inline int test_rmtree(const char *dir)
{
    return nftw(dir, testutil_remove, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
