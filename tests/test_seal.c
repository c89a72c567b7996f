/* test_seal.c - XChaCha20-Poly1305 boxes and keyed IDs: round trips, and any
 * change to the sealed bytes, the key or the associated data is detected. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "store/seal.h"

static void fill_key(uint8_t key[SEAL_KEY_LEN], uint8_t tag)
{
    for (int i = 0; i < SEAL_KEY_LEN; i++)
        key[i] = (uint8_t)(tag * 31 + i);
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t key[SEAL_KEY_LEN];
    fill_key(key, 1);
    const uint8_t ad[] = "associated";
    static const size_t lens[] = {0, 1, 15, 16, 17, 100, 4096, 65537};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        const size_t n = lens[i];
        uint8_t *const plain = malloc(n + 1);
        uint8_t *const sealed = malloc(n + SEAL_OVERHEAD);
        uint8_t *const back = malloc(n + 1);
        assert_non_null(plain);
        assert_non_null(sealed);
        assert_non_null(back);
        randombytes_buf(plain, n);
        seal_box(key, ad, sizeof ad, plain, n, sealed);
        /* the ciphertext is not the plaintext */
        if (n >= 16)
            assert_memory_not_equal(sealed + SEAL_NONCE_LEN, plain, n);
        memset(back, 0xee, n + 1);
        assert_int_equal(seal_open(key, ad, sizeof ad, sealed, n + SEAL_OVERHEAD, back), CAIRN_OK);
        if (n)
            assert_memory_equal(back, plain, n);
        assert_int_equal(back[n], 0xee); /* wrote exactly n bytes */
        free(plain);
        free(sealed);
        free(back);
    }
    /* no associated data at all */
    uint8_t sealed[5 + SEAL_OVERHEAD], back[5];
    seal_box(key, NULL, 0, (const uint8_t *)"hello", 5, sealed);
    assert_int_equal(seal_open(key, NULL, 0, sealed, sizeof sealed, back), CAIRN_OK);
    assert_memory_equal(back, "hello", 5);
}

static void test_nonce_is_random(void **state)
{
    (void)state;
    uint8_t key[SEAL_KEY_LEN];
    fill_key(key, 2);
    uint8_t a[8 + SEAL_OVERHEAD], b[8 + SEAL_OVERHEAD];
    seal_box(key, NULL, 0, (const uint8_t *)"samesame", 8, a);
    seal_box(key, NULL, 0, (const uint8_t *)"samesame", 8, b);
    assert_memory_not_equal(a, b, SEAL_NONCE_LEN);
    assert_memory_not_equal(a + SEAL_NONCE_LEN, b + SEAL_NONCE_LEN, 8 + SEAL_TAG_LEN);
}

/* Flipping any one byte of the sealed output (nonce, ciphertext or tag),
 * by any of several bit patterns, fails authentication. */
static void test_every_byte_flip_detected(void **state)
{
    (void)state;
    uint8_t key[SEAL_KEY_LEN];
    fill_key(key, 3);
    const uint8_t ad[] = {1, 2, 3};
    const uint8_t msg[] = "a short message!";
    enum { N = sizeof msg, S = N + SEAL_OVERHEAD };
    uint8_t sealed[S], copy[S], out[N];
    seal_box(key, ad, sizeof ad, msg, N, sealed);
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x5a};
    for (size_t pos = 0; pos < S; pos++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, sealed, S);
            copy[pos] ^= masks[m];
            assert_int_equal(seal_open(key, ad, sizeof ad, copy, S, out), CAIRN_ECORRUPT);
        }
    }
    /* the untouched box still opens */
    assert_int_equal(seal_open(key, ad, sizeof ad, sealed, S, out), CAIRN_OK);
    assert_memory_equal(out, msg, N);
}

static void test_length_changes_detected(void **state)
{
    (void)state;
    uint8_t key[SEAL_KEY_LEN];
    fill_key(key, 4);
    uint8_t sealed[64 + SEAL_OVERHEAD + 1], out[64 + 1];
    uint8_t msg[64];
    randombytes_buf(msg, sizeof msg);
    seal_box(key, NULL, 0, msg, sizeof msg, sealed);
    sealed[64 + SEAL_OVERHEAD] = 0;
    /* every shorter length, including those below the overhead */
    for (size_t n = 0; n < 64 + SEAL_OVERHEAD; n++)
        assert_int_equal(seal_open(key, NULL, 0, sealed, n, out), CAIRN_ECORRUPT);
    /* one byte appended */
    assert_int_equal(seal_open(key, NULL, 0, sealed, sizeof sealed, out), CAIRN_ECORRUPT);
    assert_int_equal(seal_open(key, NULL, 0, sealed, 64 + SEAL_OVERHEAD, out), CAIRN_OK);
}

static void test_wrong_ad_detected(void **state)
{
    (void)state;
    uint8_t key[SEAL_KEY_LEN];
    fill_key(key, 5);
    const uint8_t ad[] = {'i', 'd', 0, 7};
    uint8_t sealed[10 + SEAL_OVERHEAD], out[10];
    seal_box(key, ad, sizeof ad, (const uint8_t *)"0123456789", 10, sealed);
    uint8_t bad[sizeof ad];
    for (size_t i = 0; i < sizeof ad; i++) {
        memcpy(bad, ad, sizeof ad);
        bad[i] ^= 1;
        assert_int_equal(seal_open(key, bad, sizeof bad, sealed, sizeof sealed, out),
                         CAIRN_ECORRUPT);
    }
    /* shorter, longer or missing AD */
    assert_int_equal(seal_open(key, ad, sizeof ad - 1, sealed, sizeof sealed, out), CAIRN_ECORRUPT);
    const uint8_t longer[] = {'i', 'd', 0, 7, 0};
    assert_int_equal(seal_open(key, longer, sizeof longer, sealed, sizeof sealed, out),
                     CAIRN_ECORRUPT);
    assert_int_equal(seal_open(key, NULL, 0, sealed, sizeof sealed, out), CAIRN_ECORRUPT);
    assert_int_equal(seal_open(key, ad, sizeof ad, sealed, sizeof sealed, out), CAIRN_OK);
    assert_memory_equal(out, "0123456789", 10);
}

static void test_wrong_key_detected(void **state)
{
    (void)state;
    uint8_t key[SEAL_KEY_LEN], other[SEAL_KEY_LEN];
    fill_key(key, 6);
    uint8_t sealed[10 + SEAL_OVERHEAD], out[10];
    seal_box(key, NULL, 0, (const uint8_t *)"0123456789", 10, sealed);
    for (int i = 0; i < SEAL_KEY_LEN; i++) {
        memcpy(other, key, sizeof key);
        other[i] ^= 0x10;
        assert_int_equal(seal_open(other, NULL, 0, sealed, sizeof sealed, out), CAIRN_ECORRUPT);
    }
    memset(other, 0, sizeof other);
    assert_int_equal(seal_open(other, NULL, 0, sealed, sizeof sealed, out), CAIRN_ECORRUPT);
}

static void test_seal_id_keyed_and_deterministic(void **state)
{
    (void)state;
    uint8_t k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN];
    fill_key(k1, 7);
    fill_key(k2, 8);
    const uint8_t data[] = "chunk contents";
    uint8_t a[ID_LEN], b[ID_LEN], c[ID_LEN], d[ID_LEN], e[ID_LEN], unkeyed[ID_LEN];
    seal_id(k1, data, sizeof data, a);
    seal_id(k1, data, sizeof data, b);
    assert_memory_equal(a, b, ID_LEN); /* deterministic */
    seal_id(k2, data, sizeof data, c);
    assert_memory_not_equal(a, c, ID_LEN); /* keyed */
    seal_id(k1, data, sizeof data - 1, d);
    assert_memory_not_equal(a, d, ID_LEN); /* depends on every byte, length included */
    uint8_t data2[sizeof data];
    memcpy(data2, data, sizeof data);
    data2[0] ^= 1;
    seal_id(k1, data2, sizeof data2, e);
    assert_memory_not_equal(a, e, ID_LEN);
    crypto_generichash(unkeyed, ID_LEN, data, sizeof data, NULL, 0);
    assert_memory_not_equal(a, unkeyed, ID_LEN);
    /* it is keyed BLAKE2b-256 */
    uint8_t ref[ID_LEN];
    crypto_generichash(ref, ID_LEN, data, sizeof data, k1, SEAL_KEY_LEN);
    assert_memory_equal(a, ref, ID_LEN);
    /* empty input has a well-defined, key-dependent ID */
    seal_id(k1, NULL, 0, a);
    seal_id(k2, NULL, 0, b);
    assert_memory_not_equal(a, b, ID_LEN);
}

/* The ID through OpenSSL is libsodium's keyed BLAKE2b-256: for random keys
 * and inputs of lengths on both sides of the switch between the two (and
 * past the 128-byte block at every offset near it), seal_id equals
 * crypto_generichash byte for byte, and a flipped input byte or key byte
 * changes it. */
static void test_seal_id_openssl_matches_libsodium(void **state)
{
    (void)state;
    static const size_t lens[] = {0,    1,    127,  128,  129,   2047,  2048,    2049,
                                  2175, 2176, 4096, 8191, 65536, 65537, 1 << 20, (1 << 20) + 3};
    uint8_t *const buf = malloc((1 << 20) + 3);
    assert_non_null(buf);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t key[SEAL_KEY_LEN], a[ID_LEN], b[ID_LEN], ref[ID_LEN];
        randombytes_buf(key, sizeof key);
        randombytes_buf(buf, lens[i]);
        seal_id(key, buf, lens[i], a);
        seal_id_sodium(key, buf, lens[i], b);
        crypto_generichash(ref, ID_LEN, buf, lens[i], key, SEAL_KEY_LEN);
        assert_memory_equal(a, ref, ID_LEN);
        assert_memory_equal(b, ref, ID_LEN);
        if (lens[i] == 0)
            continue;
        buf[lens[i] / 2] ^= 0x40;
        seal_id(key, buf, lens[i], b);
        assert_memory_not_equal(a, b, ID_LEN);
        buf[lens[i] / 2] ^= 0x40;
        key[SEAL_KEY_LEN - 1] ^= 1;
        seal_id(key, buf, lens[i], b);
        assert_memory_not_equal(a, b, ID_LEN);
    }
    free(buf);
}

/* The OpenSSL path writes libsodium's bytes: for random keys, nonces, AD
 * and plaintexts of lengths on both sides of the switch between the two,
 * seal_box_with_nonce (and seal_box_inplace, under the nonce it drew)
 * equals libsodium's XChaCha20-Poly1305 byte for byte,
 * each side opens what the other sealed, and seal_open (whichever path the
 * length picks) opens both. */
static void test_openssl_matches_libsodium(void **state)
{
    (void)state;
    static const size_t lens[] = {0,    1,    63,   64,    255,   1023,   1024,
                                  2047, 2048, 2049, 16383, 65536, 1048577};
    int via_openssl = 0;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        const size_t n = lens[i];
        uint8_t key[SEAL_KEY_LEN], nonce[SEAL_NONCE_LEN], ad[33];
        randombytes_buf(key, sizeof key);
        randombytes_buf(nonce, sizeof nonce);
        randombytes_buf(ad, sizeof ad);
        const size_t ad_len = i % 3 == 0 ? 0 : sizeof ad;
        uint8_t *const plain = malloc(n + 1);
        uint8_t *const ours = malloc(n + SEAL_OVERHEAD);
        uint8_t *const ref = malloc(n + SEAL_OVERHEAD);
        uint8_t *const back = malloc(n + 1);
        assert_true(plain && ours && ref && back);
        randombytes_buf(plain, n);
        seal_box_with_nonce(key, nonce, ad, ad_len, plain, n, ours);
        memcpy(ref, nonce, SEAL_NONCE_LEN);
        crypto_aead_xchacha20poly1305_ietf_encrypt(ref + SEAL_NONCE_LEN, NULL, plain, n, ad, ad_len,
                                                   NULL, nonce, key);
        assert_memory_equal(ours, ref, n + SEAL_OVERHEAD);
        /* libsodium opens OpenSSL's box */
        assert_int_equal(seal_open_sodium(key, ad, ad_len, ours, n + SEAL_OVERHEAD, back),
                         CAIRN_OK);
        assert_memory_equal(back, plain, n);
        /* seal_open opens libsodium's box, and a random-nonce seal_box */
        assert_int_equal(seal_open(key, ad, ad_len, ref, n + SEAL_OVERHEAD, back), CAIRN_OK);
        assert_memory_equal(back, plain, n);
        seal_box(key, ad, ad_len, plain, n, ours);
        assert_int_equal(seal_open_sodium(key, ad, ad_len, ours, n + SEAL_OVERHEAD, back),
                         CAIRN_OK);
        assert_memory_equal(back, plain, n);
        /* sealed in place: the same bytes as seal_box_with_nonce under the
         * nonce it drew (so libsodium's, by the check above) */
        uint8_t *const inplace = malloc(n + SEAL_OVERHEAD);
        assert_non_null(inplace);
        memcpy(inplace + SEAL_NONCE_LEN, plain, n);
        assert_int_equal(seal_box_inplace(key, ad, ad_len, inplace, n), CAIRN_OK);
        seal_box_with_nonce(key, inplace, ad, ad_len, plain, n, ours);
        assert_memory_equal(inplace, ours, n + SEAL_OVERHEAD);
        free(inplace);
        via_openssl += seal_open_uses_openssl(n + SEAL_OVERHEAD);
        free(plain);
        free(ours);
        free(ref);
        free(back);
    }
    /* both paths were exercised */
    assert_in_range(via_openssl, 1, sizeof lens / sizeof lens[0] - 1);
}

/* Through OpenSSL, a flipped bit anywhere (nonce, ciphertext, tag), other
 * AD or another key fails, and no unauthenticated plaintext is left in the
 * output. */
static void test_openssl_tamper_detected(void **state)
{
    (void)state;
    enum { N = 4096 + 7, S = N + SEAL_OVERHEAD };
    uint8_t key[SEAL_KEY_LEN], ad[ID_LEN + 1];
    fill_key(key, 9);
    randombytes_buf(ad, sizeof ad);
    uint8_t *const plain = malloc(N), *const sealed = malloc(S), *const copy = malloc(S);
    uint8_t *const out = malloc(N), *const zero = calloc(1, N);
    assert_true(plain && sealed && copy && out && zero);
    assert_true(seal_open_uses_openssl(S));
    randombytes_buf(plain, N);
    seal_box(key, ad, sizeof ad, plain, N, sealed);
    static const size_t positions[] = {0, 23, 24, 25, 1000, N + 23, N + 24, S - 1};
    for (size_t p = 0; p < sizeof positions / sizeof positions[0]; p++) {
        memcpy(copy, sealed, S);
        copy[positions[p]] ^= 0x04;
        memset(out, 0xaa, N);
        assert_int_equal(seal_open(key, ad, sizeof ad, copy, S, out), CAIRN_ECORRUPT);
        assert_memory_equal(out, zero, N);
    }
    ad[3] ^= 1;
    assert_int_equal(seal_open(key, ad, sizeof ad, sealed, S, out), CAIRN_ECORRUPT);
    ad[3] ^= 1;
    key[31] ^= 0x80;
    assert_int_equal(seal_open(key, ad, sizeof ad, sealed, S, out), CAIRN_ECORRUPT);
    key[31] ^= 0x80;
    assert_int_equal(seal_open(key, ad, sizeof ad, sealed, S - 1, out), CAIRN_ECORRUPT);
    assert_int_equal(seal_open(key, ad, sizeof ad, sealed, S, out), CAIRN_OK);
    assert_memory_equal(out, plain, N);
    free(plain);
    free(sealed);
    free(copy);
    free(out);
    free(zero);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_nonce_is_random),
        cmocka_unit_test(test_every_byte_flip_detected),
        cmocka_unit_test(test_length_changes_detected),
        cmocka_unit_test(test_wrong_ad_detected),
        cmocka_unit_test(test_wrong_key_detected),
        cmocka_unit_test(test_seal_id_keyed_and_deterministic),
        cmocka_unit_test(test_seal_id_openssl_matches_libsodium),
        cmocka_unit_test(test_openssl_matches_libsodium),
        cmocka_unit_test(test_openssl_tamper_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
