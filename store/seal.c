#include "store/seal.h"

#include <sodium.h>

#include "util/idset.h"

_Static_assert((int)IDSET_ID_LEN == (int)ID_LEN, "util/idset.h holds IDs of this length");

void seal_box(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
              const uint8_t *plain, size_t len, uint8_t *out)
{
    randombytes_buf(out, SEAL_NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_NONCE_LEN, NULL, plain, len, ad, ad_len,
                                               NULL, out, key);
}

cairn_err seal_open(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
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

void seal_id(const uint8_t key[SEAL_KEY_LEN], const uint8_t *data, size_t len, uint8_t out[ID_LEN])
{
    crypto_generichash(out, ID_LEN, data, len, key, SEAL_KEY_LEN);
}
