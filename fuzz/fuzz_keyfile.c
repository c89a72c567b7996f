/* fuzz_keyfile.c - libFuzzer target for key file validation and unlock.
 *
 * Each input is written as the only key file of a temporary keys folder and
 * keys_unlock runs on it with a fixed password ("fuzz-password", the one the
 * seeds in fuzz/corpus/keyfile were made with).
 *
 * Argon2id cost is kept tiny so every run is fast: Argon2 parameters that
 * are plausible (the range key files may carry) but above opslimit 2 or
 * memlimit 64 KiB are lowered to the libsodium minimum (1, 8 KiB) before
 * the file is written; implausible values are left alone so that their
 * rejection is exercised.  If the input had a valid checksum, the checksum
 * is recomputed after lowering, so real key files still open.
 *
 * Mutations almost always break the unkeyed BLAKE2b checksum, which stops
 * the validation early.  To get past it, an input of exactly 137 bytes is
 * a key file plus one control byte: if its low bit is set the harness
 * recomputes the checksum, so the version, KDF, parameter checks, the
 * Argon2 run and the sealed master key all see mutated data. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "util/codec.h"
#include "store/keys.h"
#include "fuzz/fuzz.h"

enum { KF_OPS = 16, KF_MEM = 24, KF_CHECK = 120, KF_CHECK_LEN = 16 };

static char dir[64];
static char path[128];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    snprintf(dir, sizeof dir, "/tmp/cairn-fuzz-keyfile-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/0123456789abcdef", dir);
    atexit(cleanup);
    return 0;
}

static int checksum_ok(const uint8_t *file)
{
    uint8_t check[KF_CHECK_LEN];
    crypto_generichash(check, sizeof check, file, KF_CHECK, NULL, 0);
    return memcmp(check, file + KF_CHECK, KF_CHECK_LEN) == 0;
}

/* Lowers plausible but costly Argon2 parameters. */
static void cheapen(uint8_t *file)
{
    const uint64_t ops = get_u64le(file + KF_OPS), mem = get_u64le(file + KF_MEM);
    if (ops > 2 && ops <= 64)
        put_u64le(file + KF_OPS, crypto_pwhash_OPSLIMIT_MIN);
    if (mem > 64 * 1024 && mem <= (uint64_t)4 << 30)
        put_u64le(file + KF_MEM, crypto_pwhash_MEMLIMIT_MIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *const file = malloc(size ? size : 1);
    if (!file)
        abort();
    if (size)
        memcpy(file, data, size);
    size_t len = size;
    int fix = 0;
    if (size == KEYS_FILE_LEN + 1) {
        fix = data[KEYS_FILE_LEN] & 1;
        len = KEYS_FILE_LEN;
    }
    if (len == KEYS_FILE_LEN) {
        fix |= checksum_ok(file);
        cheapen(file);
        if (fix)
            crypto_generichash(file + KF_CHECK, KF_CHECK_LEN, file, KF_CHECK, NULL, 0);
    }
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (len && write(fd, file, len) != (ssize_t)len) || close(fd) != 0)
        abort();
    free(file);

    keyring *kr = NULL;
    char id[KEYS_ID_HEX + 1];
    static const char pw[] = "fuzz-password";
    const cairn_err rc = keys_unlock(dir, pw, sizeof pw - 1, &kr, id);
    switch (rc) {
    case CAIRN_OK:
        if (!kr || strcmp(id, "0123456789abcdef") != 0)
            abort();
        keyring_free(kr);
        break;
    case CAIRN_EPASSWORD:
    case CAIRN_EKEYFILE:
    case CAIRN_EVERSION:
        if (kr)
            abort();
        break;
    default:
        /* ENOMEM would mean the parameters were not kept cheap */
        fprintf(stderr, "unexpected result %s: %s\n", err_name(rc), err_msg());
        abort();
    }
    return 0;
}
