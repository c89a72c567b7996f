/* fuzz_mbfile.c - libFuzzer target for the MBFile record decoder.
 *
 * Input: one Files.file blob (an NSKeyedArchiver plist, binary or XML).
 * Seeds in fuzz/corpus/mbfile are real-format records: a regular file, a
 * directory and a symlink, encrypted records with the key as an NSData object
 * and as inline data, objects in Apple's order and shuffled, and one XML
 * archive whose UIDs are CF$UID dictionaries. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/ios/mobilesync.h"
#include "fuzz/fuzz.h"

/* Reading every byte we were handed lets ASan catch a pointer that outlived
 * or overran its storage. */
static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_file f;
    if (ms_mbfile_decode(data, size, &f) != CAIRN_OK)
        return 0;
    size_t acc =
        f.size + f.mode + f.uid + f.gid + f.inode + (size_t)f.mtime + (size_t)f.protection_class;
    if (f.relative_path)
        acc += strlen(f.relative_path);
    if (f.target)
        acc += strlen(f.target);
    for (size_t i = 0; i < f.encryption_key_len; i++)
        acc += f.encryption_key[i];
    sink = acc;
    ms_file_clear(&f);
    return 0;
}
