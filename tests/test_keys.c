/* test_keys.c - key files: create, unlock, add; wrong passwords and damaged
 * files are told apart; derived keys do not depend on which file opened. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/codec.h"
#include "store/keys.h"

/* Key file layout (keys.c): header 0..47 with ops at 16 and mem at 24,
 * sealed master key 48..119, unkeyed BLAKE2b-128 of 0..119 at 120. */
enum { KF_OPS = 16, KF_MEM = 24, KF_CHECK = 120 };

static const char PW1[] = "correct horse battery staple";
static const char PW2[] = "another password";

typedef struct fixture {
    char dir[64];
    keys_kdf kdf; /* the cheapest Argon2id libsodium accepts */
} fixture;

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-keys-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    f->kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    test_rmtree(f->dir);
    free(f);
    return 0;
}

static void key_path(const fixture *f, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->dir, id);
}

static size_t read_all(const char *path, uint8_t *buf, size_t cap)
{
    FILE *const fp = fopen(path, "rb");
    assert_non_null(fp);
    const size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static void write_all(const char *path, const uint8_t *buf, size_t n)
{
    FILE *const fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void fix_checksum(uint8_t *file)
{
    crypto_generichash(file + KF_CHECK, 16, file, KF_CHECK, NULL, 0);
}

static int count_key_files(const char *dir)
{
    DIR *const d = opendir(dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void assert_same_keys(const keyring *a, const keyring *b)
{
    assert_memory_equal(keyring_id_key(a), keyring_id_key(b), 32);
    assert_memory_equal(keyring_seal_key(a), keyring_seal_key(b), 32);
    assert_memory_equal(keyring_chunker_secret(a), keyring_chunker_secret(b), 32);
    assert_memory_equal(keyring_file_secret(a), keyring_file_secret(b), KEYS_FILE_SECRET);
}

static void test_presets(void **state)
{
    (void)state;
    keys_kdf k;
    assert_int_equal(keys_kdf_preset("interactive", &k), CAIRN_OK);
    assert_true(k.opslimit == crypto_pwhash_OPSLIMIT_INTERACTIVE);
    assert_true(k.memlimit == crypto_pwhash_MEMLIMIT_INTERACTIVE);
    assert_int_equal(keys_kdf_preset("moderate", &k), CAIRN_OK);
    assert_true(k.memlimit == crypto_pwhash_MEMLIMIT_MODERATE);
    assert_int_equal(keys_kdf_preset(NULL, &k), CAIRN_OK); /* default: moderate */
    assert_true(k.opslimit == crypto_pwhash_OPSLIMIT_MODERATE);
    assert_int_equal(keys_kdf_preset("sensitive", &k), CAIRN_OK);
    assert_true(k.memlimit == crypto_pwhash_MEMLIMIT_SENSITIVE);
    assert_int_equal(keys_kdf_preset("minimum", &k), CAIRN_OK);
    assert_true(k.opslimit == crypto_pwhash_OPSLIMIT_MIN);
    assert_true(k.memlimit == crypto_pwhash_MEMLIMIT_MIN);
    assert_int_equal(keys_kdf_preset("bogus", &k), CAIRN_EINVAL);
}

static void test_create_then_unlock(void **state)
{
    fixture *const f = *state;
    keyring *kr = NULL, *kr2 = NULL;
    char id[KEYS_ID_HEX + 1], id2[KEYS_ID_HEX + 1];
    assert_int_equal(keys_create(f->dir, PW1, strlen(PW1), &f->kdf, &kr, id), CAIRN_OK);
    assert_non_null(kr);
    assert_int_equal(strlen(id), KEYS_ID_HEX);
    assert_int_equal(strspn(id, "0123456789abcdef"), KEYS_ID_HEX);
    assert_int_equal(count_key_files(f->dir), 1);

    /* the working keys are distinct from one another */
    assert_memory_not_equal(keyring_id_key(kr), keyring_seal_key(kr), 32);
    assert_memory_not_equal(keyring_id_key(kr), keyring_chunker_secret(kr), 32);
    assert_memory_not_equal(keyring_seal_key(kr), keyring_chunker_secret(kr), 32);

    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr2, id2), CAIRN_OK);
    assert_non_null(kr2);
    assert_string_equal(id, id2);
    assert_same_keys(kr, kr2);
    keyring_free(kr2);

    /* an unlocked session's master key gives the very same working keys */
    assert_int_equal(keys_from_master(keyring_master(kr), &kr2), CAIRN_OK);
    assert_same_keys(kr, kr2);
    keyring_free(kr2);

    /* a second store has other keys */
    fixture other = *f;
    snprintf(other.dir, sizeof other.dir, "%s/sub", f->dir);
    assert_int_equal(mkdir(other.dir, 0700), 0);
    assert_int_equal(keys_create(other.dir, PW1, strlen(PW1), &f->kdf, &kr2, id2), CAIRN_OK);
    assert_memory_not_equal(keyring_id_key(kr), keyring_id_key(kr2), 32);
    keyring_free(kr2);
    keyring_free(kr);
}

static void test_wrong_password(void **state)
{
    fixture *const f = *state;
    keyring *kr = NULL;
    char id[KEYS_ID_HEX + 1];
    assert_int_equal(keys_create(f->dir, PW1, strlen(PW1), &f->kdf, &kr, id), CAIRN_OK);
    keyring_free(kr);
    kr = NULL;
    assert_int_equal(keys_unlock(f->dir, PW2, strlen(PW2), &kr, id), CAIRN_EPASSWORD);
    assert_null(kr);
    /* a prefix of the password, and the password with one more byte */
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1) - 1, &kr, id), CAIRN_EPASSWORD);
    char longer[sizeof PW1 + 1];
    snprintf(longer, sizeof longer, "%s!", PW1);
    assert_int_equal(keys_unlock(f->dir, longer, strlen(longer), &kr, id), CAIRN_EPASSWORD);
    assert_int_equal(keys_unlock(f->dir, "", 0, &kr, id), CAIRN_EPASSWORD);
    assert_null(kr);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_OK);
    keyring_free(kr);
}

static void test_key_file_mode_and_size(void **state)
{
    fixture *const f = *state;
    keyring *kr = NULL;
    char id[KEYS_ID_HEX + 1], path[256];
    struct stat st;
    const mode_t old = umask(0);
    assert_int_equal(keys_create(f->dir, PW1, strlen(PW1), &f->kdf, &kr, id), CAIRN_OK);
    umask(old);
    key_path(f, id, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, KEYS_FILE_LEN);
    uint8_t file[KEYS_FILE_LEN];
    assert_int_equal(read_all(path, file, sizeof file), KEYS_FILE_LEN);
    assert_memory_equal(file, "CAIRNKEY", 8);
    /* the cost parameters are recorded in the file */
    assert_true(get_u64le(file + KF_OPS) == f->kdf.opslimit);
    assert_true(get_u64le(file + KF_MEM) == f->kdf.memlimit);
    keyring_free(kr);
}

/* Any flipped byte breaks the unkeyed checksum: the file is reported as
 * damaged, not as a wrong password, and without running Argon2. */
static void test_flipped_byte_is_keyfile_error(void **state)
{
    fixture *const f = *state;
    keyring *kr = NULL;
    char id[KEYS_ID_HEX + 1], path[256];
    uint8_t file[KEYS_FILE_LEN], copy[KEYS_FILE_LEN];
    assert_int_equal(keys_create(f->dir, PW1, strlen(PW1), &f->kdf, &kr, id), CAIRN_OK);
    keyring_free(kr);
    key_path(f, id, path, sizeof path);
    assert_int_equal(read_all(path, file, sizeof file), KEYS_FILE_LEN);
    for (size_t pos = 0; pos < KEYS_FILE_LEN; pos++) {
        memcpy(copy, file, sizeof file);
        copy[pos] ^= (uint8_t)(1u << (pos % 8));
        write_all(path, copy, sizeof copy);
        kr = NULL;
        const cairn_err rc = keys_unlock(f->dir, PW1, strlen(PW1), &kr, id);
        if (rc != CAIRN_EKEYFILE)
            fail_msg("flip at byte %zu: got %s, want keyfile", pos, err_name(rc));
        assert_null(kr);
        assert_non_null(strstr(err_msg(), path));
    }
    write_all(path, file, sizeof file);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_OK);
    keyring_free(kr);
}

static void test_truncated_or_extended_key_file(void **state)
{
    fixture *const f = *state;
    keyring *kr = NULL;
    char id[KEYS_ID_HEX + 1], path[256];
    uint8_t file[KEYS_FILE_LEN + 1];
    assert_int_equal(keys_create(f->dir, PW1, strlen(PW1), &f->kdf, &kr, id), CAIRN_OK);
    keyring_free(kr);
    key_path(f, id, path, sizeof path);
    assert_int_equal(read_all(path, file, KEYS_FILE_LEN), KEYS_FILE_LEN);
    static const size_t cuts[] = {0, 1, 8, 47, 48, 119, 120, KEYS_FILE_LEN - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_all(path, file, cuts[i]);
        kr = NULL;
        assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_EKEYFILE);
        assert_null(kr);
    }
    file[KEYS_FILE_LEN] = 0;
    write_all(path, file, KEYS_FILE_LEN + 1);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_EKEYFILE);
    /* a huge file is not read whole */
    uint8_t *const big = calloc(1, 1 << 20);
    assert_non_null(big);
    memcpy(big, file, KEYS_FILE_LEN);
    write_all(path, big, 1 << 20);
    free(big);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_EKEYFILE);
    write_all(path, file, KEYS_FILE_LEN);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_OK);
    keyring_free(kr);
}

/* With a correct checksum, implausible Argon2 parameters are still refused
 * before any memory is allocated for them. */
static void test_implausible_kdf_params(void **state)
{
    fixture *const f = *state;
    keyring *kr = NULL;
    char id[KEYS_ID_HEX + 1], path[256];
    uint8_t file[KEYS_FILE_LEN], copy[KEYS_FILE_LEN];
    assert_int_equal(keys_create(f->dir, PW1, strlen(PW1), &f->kdf, &kr, id), CAIRN_OK);
    keyring_free(kr);
    key_path(f, id, path, sizeof path);
    assert_int_equal(read_all(path, file, sizeof file), KEYS_FILE_LEN);
    const struct {
        uint64_t ops, mem;
    } bad[] = {
        {0, crypto_pwhash_MEMLIMIT_MIN},
        {65, crypto_pwhash_MEMLIMIT_MIN},
        {UINT64_MAX, crypto_pwhash_MEMLIMIT_MIN},
        {1, 0},
        {1, crypto_pwhash_MEMLIMIT_MIN - 1},
        {1, ((uint64_t)4 << 30) + 1},
        {1, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(copy, file, sizeof file);
        put_u64le(copy + KF_OPS, bad[i].ops);
        put_u64le(copy + KF_MEM, bad[i].mem);
        fix_checksum(copy);
        write_all(path, copy, sizeof copy);
        kr = NULL;
        assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_EKEYFILE);
        assert_null(kr);
    }
    /* plausible but different parameters: the header is authenticated, so
     * the file no longer opens (wrong wrapping key), and it is not called
     * damaged */
    memcpy(copy, file, sizeof file);
    put_u64le(copy + KF_OPS, get_u64le(file + KF_OPS) + 1);
    fix_checksum(copy);
    write_all(path, copy, sizeof copy);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_EPASSWORD);
    /* same for the salt */
    memcpy(copy, file, sizeof file);
    copy[40] ^= 1;
    fix_checksum(copy);
    write_all(path, copy, sizeof copy);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_EPASSWORD);
    /* a future key file version */
    memcpy(copy, file, sizeof file);
    put_u32le(copy + 8, 2);
    fix_checksum(copy);
    write_all(path, copy, sizeof copy);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_EVERSION);
}

static void test_add_second_password(void **state)
{
    fixture *const f = *state;
    keyring *kr = NULL, *a = NULL, *b = NULL;
    char id[KEYS_ID_HEX + 1], id2[KEYS_ID_HEX + 1], ida[KEYS_ID_HEX + 1], idb[KEYS_ID_HEX + 1];
    assert_int_equal(keys_create(f->dir, PW1, strlen(PW1), &f->kdf, &kr, id), CAIRN_OK);
    assert_int_equal(keys_add(f->dir, kr, PW2, strlen(PW2), &f->kdf, id2), CAIRN_OK);
    assert_string_not_equal(id, id2);
    assert_int_equal(count_key_files(f->dir), 2);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &a, ida), CAIRN_OK);
    assert_int_equal(keys_unlock(f->dir, PW2, strlen(PW2), &b, idb), CAIRN_OK);
    assert_string_equal(ida, id);
    assert_string_equal(idb, id2);
    assert_same_keys(a, b);
    assert_same_keys(kr, a);
    keyring_free(a);
    keyring_free(b);
    a = b = NULL;
    assert_int_equal(keys_unlock(f->dir, "nope", 4, &a, ida), CAIRN_EPASSWORD);

    /* damage the first file: the second password still opens the store */
    char path[256];
    uint8_t file[KEYS_FILE_LEN];
    key_path(f, id, path, sizeof path);
    assert_int_equal(read_all(path, file, sizeof file), KEYS_FILE_LEN);
    file[60] ^= 0x40;
    write_all(path, file, sizeof file);
    assert_int_equal(keys_unlock(f->dir, PW2, strlen(PW2), &b, idb), CAIRN_OK);
    assert_string_equal(idb, id2);
    assert_same_keys(kr, b);
    keyring_free(b);
    b = NULL;
    /* and the first password now meets a damaged file and no other match */
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &a, ida), CAIRN_EKEYFILE);
    assert_null(a);
    keyring_free(kr);
}

static void test_empty_or_missing_keys_dir(void **state)
{
    fixture *const f = *state;
    keyring *kr = NULL;
    char id[KEYS_ID_HEX + 1], path[256];
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_EKEYFILE);
    assert_null(kr);
    /* names that are not key file names are ignored */
    snprintf(path, sizeof path, "%s/README", f->dir);
    write_all(path, (const uint8_t *)"hi", 2);
    snprintf(path, sizeof path, "%s/.tmp-0123456789abcdef-00", f->dir);
    write_all(path, (const uint8_t *)"hi", 2);
    snprintf(path, sizeof path, "%s/0123456789ABCDEF", f->dir);
    write_all(path, (const uint8_t *)"hi", 2);
    assert_int_equal(keys_unlock(f->dir, PW1, strlen(PW1), &kr, id), CAIRN_EKEYFILE);
    assert_null(kr);
    snprintf(path, sizeof path, "%s/missing", f->dir);
    assert_int_not_equal(keys_unlock(path, PW1, strlen(PW1), &kr, id), CAIRN_OK);
    assert_null(kr);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),
        cmocka_unit_test_setup_teardown(test_create_then_unlock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_mode_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_is_keyfile_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_or_extended_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_implausible_kdf_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_second_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_or_missing_keys_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
