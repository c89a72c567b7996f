/* file_cipher.h - how a source that stores some files encrypted reaches
 * the core without the core knowing the cipher.
 *
 * cairn keeps such files as plaintext (so their content deduplicates) and
 * records in the tree node how the source had them (tree.h: cipher and the
 * wrapped cipher_key).  The core calls a decoder while it backs a folder up
 * and an encrypter when a restore or a snapshot view must give back the
 * source's exact ciphertext; the iOS layer implements both for Apple's backup
 * encryption.  Each is one call per buffer, never per byte.
 *
 * Promises asked of an implementation: block is at most
 * FILE_CIPHER_BLOCK_MAX; update writes at most len + 2 * block bytes
 * (decoder) or len + block bytes (encrypter); final writes at most block
 * bytes; errors are set with err_set and name no secret. */
#ifndef CAIRN_FILE_CIPHER_H
#define CAIRN_FILE_CIPHER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "engine/core/tree.h"

enum { FILE_CIPHER_BLOCK_MAX = 64 };

/* Reading a source folder: which files are encrypted and their plaintext.
 * At most one decoder is open at a time (the walker reads one file). */
typedef struct file_decoder {
    void *ctx;
    size_t block; /* the cipher's block: such files are whole blocks */
    /* 1 and *wrapped (TREE_CIPHER_KEY_LEN bytes, kept in the tree node)
     * when the source stores relpath (relative to the folder) encrypted. */
    int (*lookup)(void *ctx, const char *relpath, const uint8_t **wrapped);
    /* A decoder for the file whose key wrapped names.  CAIRN_ECORRUPT or
     * CAIRN_ESOURCE when the key does not unwrap: the file is then kept as
     * the source has it. */
    cairn_err (*open)(void *ctx, const uint8_t *wrapped, void **dec);
    cairn_err (*update)(void *dec, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);
    /* The held-back end; *padded tells whether the file had PKCS#7 padding.
     * CAIRN_ECORRUPT when the ciphertext was not whole blocks. */
    cairn_err (*final)(void *dec, uint8_t *out, size_t *out_len, int *padded);
    void (*close)(void *dec);
} file_decoder;

/* Giving back a file stored decrypted as the source's ciphertext. */
typedef struct file_encrypter {
    void *ctx;
    size_t block;
    /* An encrypter for a file node with cipher set (its cipher_key). */
    cairn_err (*open)(void *ctx, const tree_node *n, void **enc);
    cairn_err (*update)(void *enc, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);
    cairn_err (*final)(void *enc, uint8_t *out, size_t *out_len);
    void (*close)(void *enc);
} file_encrypter;

#endif
