/* seal.h - authenticated encryption and keyed IDs for everything cairn
 * writes: XChaCha20-Poly1305 with a random 192-bit nonce (random nonces are
 * safe at this size, so no counter state must survive crashes) and keyed
 * BLAKE2b-256 IDs. */
#ifndef CAIRN_SEAL_H
#define CAIRN_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum {
    SEAL_KEY_LEN = 32,
    SEAL_NONCE_LEN = 24,
    SEAL_TAG_LEN = 16,
    SEAL_OVERHEAD = SEAL_NONCE_LEN + SEAL_TAG_LEN,
    ID_LEN = 32,
};

/* out receives nonce || ciphertext || tag: len + SEAL_OVERHEAD bytes. */
void seal_box(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
              const uint8_t *plain, size_t len, uint8_t *out);

/* Opens what seal_box wrote; out receives in_len - SEAL_OVERHEAD bytes.
 * CAIRN_ECORRUPT if the bytes, the key or the associated data differ. */
cairn_err seal_open(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                    const uint8_t *in, size_t in_len, uint8_t *out);

/* Keyed BLAKE2b-256: the ID of a chunk or object. */
void seal_id(const uint8_t key[SEAL_KEY_LEN], const uint8_t *data, size_t len, uint8_t out[ID_LEN]);

#endif
