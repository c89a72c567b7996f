/* replay.c - runs a fuzz target on its inputs once each, without libFuzzer.
 * In every build that is not the fuzz build, each fuzz_<name>.c is linked
 * with this file as replay_<name>, and ctest runs it on fuzz/corpus/<name>:
 * the seeds, and the inputs that once crashed a target, are regression tests
 * in the normal and the sanitizer builds too, and count in their coverage;
 * the fuzz build mutates them.
 *
 * usage: replay_<name> FILE_OR_FOLDER...   (exit 1 when no input was run) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"

/* not every target has one */
#pragma weak LLVMFuzzerInitialize

static int run_file(const char *path)
{
    FILE *const f = fopen(path, "rb");
    long len = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    uint8_t *const data = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!f || !data || fseek(f, 0, SEEK_SET) != 0 ||
        fread(data, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        free(data);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, (size_t)len);
    free(data);
    return 0;
}

static int regular_file(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    size_t runs = 0;
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        struct dirent **names = NULL;
        if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) != 0)
                return 1;
            runs++;
            continue;
        }
        const int n = scandir(argv[i], &names, regular_file, alphasort);
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
            if (run_file(path) != 0)
                return 1;
            runs++;
            free(names[k]);
        }
        free(names);
    }
    printf("replay: %zu inputs\n", runs);
    return runs ? 0 : 1;
}
