/* fuzz_pack_trailer.c - libFuzzer target for pack trailers.
 *
 * The first input byte picks what the rest is (mod 3):
 *   0  trailer plaintext, given to pack_decode_entries directly;
 *   1  a whole pack file, read with pack_read_trailer under a fixed key
 *      (header, footer and trailer-length checks run before
 *      authentication; the seeds are real packs sealed under that key, so
 *      mutations of their blobs reach the tiling check);
 *   2  two bytes of blob length (u16le) and a trailer plaintext: the
 *      harness builds header || blobs || seal(plaintext) || footer with a
 *      fixed nonce, so the decoder and the tiling check see arbitrary
 *      entries that authenticate.
 * Whatever is accepted must keep the decoder's promises (entry count
 * bounded by the input, known flags, blobs that tile the file). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "util/codec.h"
#include "store/pack.h"
#include "fuzz/fuzz.h"

/* The key the corpus was sealed with (fuzz/corpus/pack_trailer). */
static uint8_t key[SEAL_KEY_LEN];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    memset(key, 0x42, sizeof key);
    fd = memfd_create("pack", 0);
    if (fd < 0)
        abort();
    return 0;
}

static void check_entries(const pack_entry *e, size_t n, size_t plain_len)
{
    if (n > PACK_MAX_ENTRIES || n * 36 > plain_len)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((e[i].flags & ~PACK_FLAGS_KNOWN) || e[i].stored_len < SEAL_OVERHEAD ||
            e[i].stored_len > PACK_MAX_BLOB || e[i].raw_len > PACK_MAX_BLOB)
            abort();
}

/* Runs pack_read_trailer on file[0..len) and checks the tiling it
 * promises. */
static void read_file(const uint8_t *file, size_t len)
{
    pack_entry *e = NULL;
    size_t n = 0;
    uint64_t size = 0;
    if (ftruncate(fd, 0) != 0 || (len && pwrite(fd, file, len, 0) != (ssize_t)len))
        abort();
    if (pack_read_trailer(fd, "fuzz", key, &e, &n, &size) != CAIRN_OK)
        return;
    if (size != len)
        abort();
    const uint32_t tlen = get_u32le(file + len - PACK_FOOTER_LEN);
    check_entries(e, n, tlen - SEAL_OVERHEAD);
    uint64_t at = PACK_HEADER_LEN;
    for (size_t i = 0; i < n; i++) {
        if (e[i].offset != at)
            abort();
        at += e[i].stored_len;
    }
    if (at + tlen + PACK_FOOTER_LEN != len)
        abort();
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t mode = data[0] % 3;
    data++;
    size--;
    if (mode == 0) {
        pack_entry *e = NULL;
        size_t n = 0;
        if (pack_decode_entries(data, size, &e, &n) == CAIRN_OK) {
            check_entries(e, n, size);
            free(e);
        } else if (e != NULL) {
            abort(); /* nothing is handed out on failure */
        }
    } else if (mode == 1) {
        read_file(data, size);
    } else {
        static const uint8_t magic[8] = {'C', 'A', 'I', 'R', 'N', 'P', 'K', 1};
        static const uint8_t tr_ad[8] = {'C', 'A', 'I', 'R', 'N', 'T', 'R', 1};
        static const uint8_t end[8] = {'C', 'A', 'I', 'R', 'N', 'E', 'N', 'D'};
        if (size < 2 || size - 2 > (1 << 20))
            return 0;
        const size_t body = (size_t)data[0] | (size_t)data[1] << 8;
        const uint8_t *const plain = data + 2;
        const size_t plen = size - 2, tlen = plen + SEAL_OVERHEAD;
        const size_t total = PACK_HEADER_LEN + body + tlen + PACK_FOOTER_LEN;
        uint8_t *const file = calloc(1, total);
        if (!file)
            abort();
        memcpy(file, magic, sizeof magic);
        uint8_t *const t = file + PACK_HEADER_LEN + body;
        memset(t, 0, SEAL_NONCE_LEN); /* fixed nonce: deterministic runs */
        crypto_aead_xchacha20poly1305_ietf_encrypt(t + SEAL_NONCE_LEN, NULL, plain, plen, tr_ad,
                                                   sizeof tr_ad, NULL, t, key);
        put_u32le(t + tlen, (uint32_t)tlen);
        put_u32le(t + tlen + 4, 1);
        memcpy(t + tlen + 8, end, sizeof end);
        read_file(file, total);
        free(file);
    }
    return 0;
}
