/* fuzz_msplist.c - libFuzzer target for the Info/Manifest/Status.plist
 * field extraction.
 *
 * Input: one selector byte (value % 3: 0 Info.plist, 1 Manifest.plist,
 * 2 Status.plist), then the plist bytes, binary or XML.  Seeds in
 * fuzz/corpus/msplist are real-format plists with their selector prepended. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/ios/mobilesync.h"
#include "fuzz/fuzz.h"

static volatile size_t sink;

static cairn_err touch(void *ctx, const char *key, const char *value)
{
    size_t *acc = ctx;
    *acc += strlen(key) + strlen(value);
    return CAIRN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_meta *meta = NULL;
    size_t acc = 0;
    if (size < 1 || ms_meta_new(&meta) != CAIRN_OK)
        return 0;
    const ms_source which = (ms_source)(data[0] % 3);
    if (ms_meta_load(meta, which, data + 1, size - 1) == CAIRN_OK) {
        ms_meta_pairs(meta, touch, &acc);
        for (size_t i = 0; i < meta->backup_keybag_len; i++)
            acc += meta->backup_keybag[i];
        for (size_t i = 0; i < meta->manifest_key_len; i++)
            acc += meta->manifest_key[i];
    }
    sink = acc;
    ms_meta_free(meta);
    return 0;
}
