#include "store/seal.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "util/idset.h"

_Static_assert((int)IDSET_ID_LEN == (int)ID_LEN, "util/idset.h holds IDs of this length");

/* XChaCha20-Poly1305 is HChaCha20 (a subkey from the key and the first 16
 * nonce bytes) followed by ChaCha20-Poly1305-IETF under that subkey with the
 * nonce 0x00000000 || the last 8 nonce bytes (RFC draft-irtf-cfrg-xchacha,
 * and libsodium's own construction).  OpenSSL's ChaCha20-Poly1305 is
 * vectorized (AVX2/AVX-512) where libsodium's is not, so the bulk goes there
 * and the bytes stay exactly libsodium's: no store changes format.  Below
 * SEAL_OSSL_MIN the cost of setting up an EVP context outweighs the faster
 * bulk (measured in bench/primitives.c, docs/BENCHMARKS.md), so small objects
 * keep libsodium's one call. */
enum { SEAL_OSSL_MIN = 2048, IETF_NONCE_LEN = 12, HCHACHA_IN_LEN = 16 };

_Static_assert(crypto_core_hchacha20_INPUTBYTES == HCHACHA_IN_LEN, "HChaCha20 input");
_Static_assert(crypto_core_hchacha20_OUTPUTBYTES == SEAL_KEY_LEN, "HChaCha20 subkey");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == SEAL_NONCE_LEN, "nonce length");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == SEAL_TAG_LEN, "tag length");

/* The IETF key and nonce that the XChaCha20 nonce selects. */
static void xchacha_ietf(const uint8_t key[SEAL_KEY_LEN], const uint8_t nonce[SEAL_NONCE_LEN],
                         uint8_t subkey[SEAL_KEY_LEN], uint8_t ietf_nonce[IETF_NONCE_LEN])
{
    crypto_core_hchacha20(subkey, nonce, key, NULL);
    memset(ietf_nonce, 0, 4);
    memcpy(ietf_nonce + 4, nonce + HCHACHA_IN_LEN, SEAL_NONCE_LEN - HCHACHA_IN_LEN);
}

/* One EVP pass over in (encrypting or decrypting: OpenSSL's update is the
 * same call for both once the context is set up), in pieces that fit an
 * int.  0 on success. */
static int ossl_update(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t len, uint8_t *out)
{
    while (len > 0) {
        const int n = len > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)len;
        int outl = 0;
        if (EVP_CipherUpdate(ctx, out, &outl, in, n) != 1 || outl != n)
            return -1;
        in += n;
        out += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ChaCha20-Poly1305-IETF through OpenSSL; enc 1 seals plain into out and
 * writes tag, enc 0 opens into out and checks tag.  0 on success, -1 on a
 * failure before out was written (the caller falls back to libsodium for
 * sealing, which gives the same bytes, and reports damage for opening), -2
 * on one after (in may be gone if it was out).  The context holds the
 * subkey's schedule; EVP_CIPHER_CTX_free cleanses it. */
static int ossl_aead(int enc, const uint8_t subkey[SEAL_KEY_LEN],
                     const uint8_t nonce[IETF_NONCE_LEN], const uint8_t *ad, size_t ad_len,
                     const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[SEAL_TAG_LEN])
{
    int ok = -1, outl = 0;
    EVP_CIPHER_CTX *const ctx = EVP_CIPHER_CTX_new();
    if (!ctx || ad_len > (size_t)INT_MAX)
        goto done;
    if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, subkey, nonce, enc) != 1)
        goto done;
    if (ad_len && EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)ad_len) != 1)
        goto done;
    ok = -2;
    if (ossl_update(ctx, in, len, out) != 0)
        goto done;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN, tag) != 1)
        goto done;
    if (EVP_CipherFinal_ex(ctx, out + len, &outl) != 1 || outl != 0)
        goto done;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_LEN, tag) != 1)
        goto done;
    ok = 0;
done:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

void seal_box_sodium(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                     const uint8_t *plain, size_t len, uint8_t *out)
{
    randombytes_buf(out, SEAL_NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_NONCE_LEN, NULL, plain, len, ad, ad_len,
                                               NULL, out, key);
}

void seal_box_with_nonce(const uint8_t key[SEAL_KEY_LEN], const uint8_t nonce[SEAL_NONCE_LEN],
                         const uint8_t *ad, size_t ad_len, const uint8_t *plain, size_t len,
                         uint8_t *out)
{
    uint8_t subkey[SEAL_KEY_LEN], ietf_nonce[IETF_NONCE_LEN];
    memmove(out, nonce, SEAL_NONCE_LEN);
    xchacha_ietf(key, out, subkey, ietf_nonce);
    const int rc = ossl_aead(1, subkey, ietf_nonce, ad, ad_len, plain, len, out + SEAL_NONCE_LEN,
                             out + SEAL_NONCE_LEN + len);
    sodium_memzero(subkey, sizeof subkey);
    if (rc != 0) /* OpenSSL out of memory: libsodium writes the same bytes */
        crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_NONCE_LEN, NULL, plain, len, ad,
                                                   ad_len, NULL, out, key);
}

void seal_box(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
              const uint8_t *plain, size_t len, uint8_t *out)
{
    if (len < SEAL_OSSL_MIN) {
        seal_box_sodium(key, ad, ad_len, plain, len, out);
        return;
    }
    uint8_t nonce[SEAL_NONCE_LEN];
    randombytes_buf(nonce, sizeof nonce);
    seal_box_with_nonce(key, nonce, ad, ad_len, plain, len, out);
}

cairn_err seal_box_inplace(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                           uint8_t *buf, size_t len)
{
    uint8_t *const text = buf + SEAL_NONCE_LEN;
    randombytes_buf(buf, SEAL_NONCE_LEN);
    if (len >= SEAL_OSSL_MIN) {
        uint8_t subkey[SEAL_KEY_LEN], ietf_nonce[IETF_NONCE_LEN];
        xchacha_ietf(key, buf, subkey, ietf_nonce);
        const int rc = ossl_aead(1, subkey, ietf_nonce, ad, ad_len, text, len, text, text + len);
        sodium_memzero(subkey, sizeof subkey);
        if (rc == 0)
            return CAIRN_OK;
        if (rc != -1) /* the text is partly sealed: no second try */
            return err_set(CAIRN_ENOMEM, "sealing failed (OpenSSL out of memory)");
    }
    /* libsodium encrypts in place (c == m) */
    crypto_aead_xchacha20poly1305_ietf_encrypt(text, NULL, text, len, ad, ad_len, NULL, buf, key);
    return CAIRN_OK;
}

cairn_err seal_open_sodium(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                           const uint8_t *in, size_t in_len, uint8_t *out)
{
    if (in_len < SEAL_OVERHEAD)
        return err_set(CAIRN_ECORRUPT, "sealed object is too short");
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, in + SEAL_NONCE_LEN,
                                                   in_len - SEAL_NONCE_LEN, ad, ad_len, in,
                                                   key) != 0)
        return err_set(CAIRN_ECORRUPT, "authentication failed (data damaged or tampered)");
    return CAIRN_OK;
}

cairn_err seal_open(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                    const uint8_t *in, size_t in_len, uint8_t *out)
{
    if (!seal_open_uses_openssl(in_len))
        return seal_open_sodium(key, ad, ad_len, in, in_len, out);
    uint8_t subkey[SEAL_KEY_LEN], ietf_nonce[IETF_NONCE_LEN], tag[SEAL_TAG_LEN];
    const size_t len = in_len - SEAL_OVERHEAD;
    memcpy(tag, in + SEAL_NONCE_LEN + len, SEAL_TAG_LEN);
    xchacha_ietf(key, in, subkey, ietf_nonce);
    const int rc = ossl_aead(0, subkey, ietf_nonce, ad, ad_len, in + SEAL_NONCE_LEN, len, out, tag);
    sodium_memzero(subkey, sizeof subkey);
    if (rc != 0) {
        /* Nothing unauthenticated may leave (OpenSSL decrypts before it
         * checks the tag).  libsodium then gives the verdict, so that an
         * OpenSSL allocation failure is not reported as damage. */
        sodium_memzero(out, len);
        return seal_open_sodium(key, ad, ad_len, in, in_len, out);
    }
    return CAIRN_OK;
}

/* Keyed BLAKE2b (RFC 7693's keyed mode, as libsodium's) through OpenSSL's
 * BLAKE2BMAC: 1.5-2 times libsodium's speed from 2 KiB up on the host measured
 * (bench/primitives.c), the same bytes.  Below ID_OSSL_MIN fetching the
 * MAC and setting up a context cost what the faster rounds gain. */
enum { ID_OSSL_MIN = 2048 };

/* 0 on success; -1 when OpenSSL could not (the caller asks libsodium). */
static int ossl_id(const uint8_t key[SEAL_KEY_LEN], const uint8_t *data, size_t len,
                   uint8_t out[ID_LEN])
{
    size_t outlen = ID_LEN;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *const mac = EVP_MAC_fetch(NULL, "BLAKE2BMAC", NULL);
    EVP_MAC_CTX *const ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    const int ok = ctx && EVP_MAC_init(ctx, key, SEAL_KEY_LEN, params) == 1 &&
                   EVP_MAC_update(ctx, data, len) == 1 &&
                   EVP_MAC_final(ctx, out, &outlen, ID_LEN) == 1 && outlen == ID_LEN;
    EVP_MAC_CTX_free(ctx); /* cleanses its copy of the key */
    EVP_MAC_free(mac);
    return ok ? 0 : -1;
}

void seal_id_sodium(const uint8_t key[SEAL_KEY_LEN], const uint8_t *data, size_t len,
                    uint8_t out[ID_LEN])
{
    crypto_generichash(out, ID_LEN, data, len, key, SEAL_KEY_LEN);
}

void seal_id(const uint8_t key[SEAL_KEY_LEN], const uint8_t *data, size_t len, uint8_t out[ID_LEN])
{
    if (len < ID_OSSL_MIN || ossl_id(key, data, len, out) != 0)
        seal_id_sodium(key, data, len, out);
}

int seal_open_uses_openssl(const size_t in_len)
{
    return in_len >= SEAL_OVERHEAD + SEAL_OSSL_MIN;
}
