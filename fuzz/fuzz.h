/* fuzz.h - the entry points libFuzzer calls in every fuzz_<name>.c target
 * (declared here so that -Wmissing-prototypes holds for the targets too),
 * and what several targets share. */
#ifndef CAIRN_FUZZ_H
#define CAIRN_FUZZ_H

#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline int fuzz_remove_item(const char *path, const struct stat *sb, int flag,
                                   struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the scratch folder a target made (from its atexit handler). */
static inline void fuzz_remove_tree(const char *dir)
{
    nftw(dir, fuzz_remove_item, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
