/* fuzz_keybag.c - libFuzzer target for the BackupKeyBag TLV parser.
 *
 * Every input goes through iosenc_keybag_inspect, which must either reject
 * it with CAIRN_ESOURCE or report a consistent keybag.  The KDF is not what
 * is fuzzed: only keybags whose ITER and DPIC are tiny (the seeds in
 * fuzz/corpus/keybag are made with ITER 1, DPIC 1 and the password
 * "fuzz-password") go on to iosenc_unlock.  When one opens, it is rewrapped
 * under another password and the result must parse, open with that password
 * only, and hold the same class keys: this runs the rewrap walk over every
 * shape of keybag the mutations produce (unknown tags, odd orders, missing
 * optional fields). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine/ios/backup_encryption.h"
#include "fuzz/fuzz.h"

enum { CHEAP = 8 };

static const char pw[] = "fuzz-password";
static const char pw2[] = "another";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

static void counter_random(void *ctx, void *buf, size_t len)
{
    uint8_t *const n = ctx;
    uint8_t *const p = buf;
    for (size_t i = 0; i < len; i++)
        p[i] = (*n)++;
}

static unsigned popcount(uint32_t v)
{
    unsigned n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static void check_info(const iosenc_info *info)
{
    if (info->nclasses < 1 || info->nclasses > IOSENC_CLASS_MAX ||
        popcount(info->classes) != info->nclasses || (info->classes & 1) ||
        (info->passcode_wrapped & ~info->classes) || (info->device_wrapped & ~info->classes) ||
        info->iter < 1 || info->iter > IOSENC_ITER_MAX || info->dpic > IOSENC_DPIC_MAX ||
        !info->dpic != !info->dpsl_len || info->salt_len < 8 || info->salt_len > 64 ||
        info->type > 3 || info->version == 0) {
        fprintf(stderr, "inconsistent keybag info\n");
        abort();
    }
}

static void rewrap_and_check(const uint8_t *data, size_t size, const iosenc_keys *keys,
                             const iosenc_info *info)
{
    uint8_t counter = 0;
    const iosenc_params q = {
        .iter = 1, .dpic = 1, .random = counter_random, .random_ctx = &counter};
    uint8_t *kb2 = NULL;
    size_t len2 = 0;
    cairn_err rc = iosenc_rewrap_keybag(data, size, keys, pw2, sizeof pw2 - 1, &q, &kb2, &len2);
    if (rc == CAIRN_EINVAL && size > 60000)
        return; /* no room for the DPSL stage under the size limit */
    if (rc != CAIRN_OK) {
        fprintf(stderr, "rewrap of an unlocked keybag failed: %s: %s\n", err_name(rc), err_msg());
        abort();
    }
    iosenc_info info2;
    iosenc_keys *k2 = NULL;
    if (iosenc_keybag_inspect(kb2, len2, &info2) != CAIRN_OK ||
        memcmp(info2.uuid, info->uuid, IOSENC_UUID_LEN) != 0 || info2.classes != info->classes ||
        info2.passcode_wrapped != info->passcode_wrapped || info2.dpic != 1 ||
        iosenc_unlock(kb2, len2, pw, sizeof pw - 1, &k2) != CAIRN_EPASSWORD ||
        iosenc_unlock(kb2, len2, pw2, sizeof pw2 - 1, &k2) != CAIRN_OK) {
        fprintf(stderr, "rewrapped keybag is not equivalent: %s\n", err_msg());
        abort();
    }
    for (uint32_t c = 0; c <= IOSENC_CLASS_MAX + 1; c++) {
        if (iosenc_keys_has_class(keys, c) != iosenc_keys_has_class(k2, c))
            abort();
    }
    iosenc_keys_free(k2);
    free(kb2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    iosenc_info info;
    const cairn_err rc = iosenc_keybag_inspect(data, size, &info);
    if (rc != CAIRN_OK) {
        if (rc != CAIRN_ESOURCE || strncmp(err_msg(), "Manifest.plist: BackupKeyBag: ", 30) != 0) {
            fprintf(stderr, "unexpected rejection %s: %s\n", err_name(rc), err_msg());
            abort();
        }
        return 0;
    }
    check_info(&info);
    if (info.iter > CHEAP || info.dpic > CHEAP)
        return 0;
    iosenc_keys *keys = NULL;
    const cairn_err u = iosenc_unlock(data, size, pw, sizeof pw - 1, &keys);
    if ((u == CAIRN_OK) != (keys != NULL) ||
        (u != CAIRN_OK && u != CAIRN_EPASSWORD && u != CAIRN_ESOURCE)) {
        fprintf(stderr, "unexpected unlock result %s: %s\n", err_name(u), err_msg());
        abort();
    }
    if (u == CAIRN_OK)
        rewrap_and_check(data, size, keys, &info);
    iosenc_keys_free(keys);
    return 0;
}
