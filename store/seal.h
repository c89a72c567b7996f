/* seal.h - authenticated encryption and keyed IDs for everything cairn
 * writes: XChaCha20-Poly1305 with a random 192-bit nonce (random nonces are
 * safe at this size, so no counter state must survive crashes) and keyed
 * BLAKE2b-256 IDs.  Large buffers go through OpenSSL (its vectorized
 * ChaCha20-Poly1305 after libsodium's HChaCha20, and its BLAKE2b), small ones
 * through libsodium alone: the same bytes either way. */
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

/* seal_box without a second buffer: buf holds the len bytes to seal at
 * buf + SEAL_NONCE_LEN and room for the tag after them; it receives what
 * seal_box would write to out (the same bytes for the same nonce).  Fails
 * (CAIRN_ENOMEM) only when OpenSSL cannot finish after it began: the text
 * is then lost. */
cairn_err seal_box_inplace(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                           uint8_t *buf, size_t len);

/* Opens what seal_box wrote; out receives in_len - SEAL_OVERHEAD bytes.
 * CAIRN_ECORRUPT if the bytes, the key or the associated data differ. */
cairn_err seal_open(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                    const uint8_t *in, size_t in_len, uint8_t *out);

/* The two implementations behind seal_box and seal_open, for the test that
 * proves them byte-identical and for bench/primitives.c; nothing else calls
 * them.  seal_box_with_nonce seals under a caller-chosen nonce through
 * OpenSSL (a nonce must never repeat under one key: only tests choose it). */
void seal_box_sodium(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                     const uint8_t *plain, size_t len, uint8_t *out);
void seal_box_with_nonce(const uint8_t key[SEAL_KEY_LEN], const uint8_t nonce[SEAL_NONCE_LEN],
                         const uint8_t *ad, size_t ad_len, const uint8_t *plain, size_t len,
                         uint8_t *out);
cairn_err seal_open_sodium(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                           const uint8_t *in, size_t in_len, uint8_t *out);
/* 1 if seal_open of in_len bytes goes through OpenSSL (else libsodium). */
int seal_open_uses_openssl(size_t in_len);

/* Keyed BLAKE2b-256: the ID of a chunk or object.  From 2 KiB through
 * OpenSSL (faster), below through libsodium: the same bytes either way. */
void seal_id(const uint8_t key[SEAL_KEY_LEN], const uint8_t *data, size_t len, uint8_t out[ID_LEN]);
/* seal_id through libsodium alone, for the test that proves the two
 * byte-identical and for bench/primitives.c. */
void seal_id_sodium(const uint8_t key[SEAL_KEY_LEN], const uint8_t *data, size_t len,
                    uint8_t out[ID_LEN]);

#endif
