/* test_pack.c - pack files and blobs: write, read the trailer back, decode
 * every blob; any damaged or missing byte is detected; the trailer decoder
 * rejects malformed plaintext; entries must tile the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"
#include "util/codec.h"
#include "store/pack.h"
#include "store/seal.h"

enum { NBLOBS = 6 };

typedef struct fixture {
    char dir[64];
    char tmp[128];
    char packs[128];
    uint8_t seal_key[SEAL_KEY_LEN];
    uint8_t id_key[SEAL_KEY_LEN];
    blob_ctx *bc;
    /* the pack written by write_sample() */
    uint8_t *data[NBLOBS];
    size_t len[NBLOBS];
    pack_entry entries[NBLOBS];
    uint8_t pack_id[PACK_ID_LEN];
    char path[PATH_MAX];
    uint64_t size;
} fixture;

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-pack-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->tmp, sizeof f->tmp, "%s/tmp", f->dir);
    snprintf(f->packs, sizeof f->packs, "%s/packs", f->dir);
    if (mkdir(f->tmp, 0700) || mkdir(f->packs, 0700))
        return -1;
    randombytes_buf(f->seal_key, sizeof f->seal_key);
    randombytes_buf(f->id_key, sizeof f->id_key);
    if (blob_ctx_new(3, &f->bc) != CAIRN_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    for (int i = 0; i < NBLOBS; i++)
        free(f->data[i]);
    blob_ctx_free(f->bc);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

static uint8_t *text_data(size_t n, unsigned seed)
{
    static const char words[] = "the quick brown fox jumps over the lazy dog; ";
    uint8_t *const p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)words[(i + seed) % (sizeof words - 1)];
    return p;
}

static uint8_t *random_data(size_t n)
{
    uint8_t *const p = malloc(n ? n : 1);
    assert_non_null(p);
    randombytes_buf(p, n);
    return p;
}

/* Writes a pack: compressible text, random data, a tree chunk, a tiny
 * chunk, an empty chunk and a random chunk smaller than the probe. */
static void write_sample(fixture *f, size_t big)
{
    pack_writer *w = NULL;
    cbuf blob;
    cbuf_init(&blob);
    f->len[0] = big;
    f->data[0] = text_data(big, 0);
    f->len[1] = big;
    f->data[1] = random_data(big);
    f->len[2] = 3000;
    f->data[2] = text_data(3000, 5);
    f->len[3] = 7;
    f->data[3] = random_data(7);
    f->len[4] = 0;
    f->data[4] = random_data(0);
    f->len[5] = 1000;
    f->data[5] = random_data(1000);
    assert_int_equal(pack_writer_open(f->tmp, &w), CAIRN_OK);
    assert_int_equal(pack_writer_size(w), PACK_HEADER_LEN);
    for (int i = 0; i < NBLOBS; i++) {
        pack_entry *const e = &f->entries[i];
        memset(e, 0, sizeof *e);
        seal_id(f->id_key, f->data[i], f->len[i], e->id);
        e->flags = i == 2 ? PACK_TREE : 0;
        assert_int_equal(blob_encode(f->bc, f->seal_key, e, f->data[i], f->len[i], &blob),
                         CAIRN_OK);
        assert_int_equal(e->raw_len, f->len[i]);
        const uint64_t before = pack_writer_size(w);
        assert_int_equal(pack_writer_add(w, e, blob.data, blob.len), CAIRN_OK);
        assert_int_equal(e->offset, before);
        assert_int_equal(e->stored_len, blob.len);
        assert_int_equal(pack_writer_size(w), before + blob.len);
    }
    assert_int_equal(pack_writer_count(w), NBLOBS);
    assert_memory_equal(pack_writer_entries(w), f->entries, sizeof f->entries);
    assert_int_equal(pack_writer_finish(w, f->seal_key, f->packs, f->pack_id), CAIRN_OK);
    f->size = pack_writer_size(w);
    pack_writer_free(w);
    assert_int_equal(pack_path(f->packs, f->pack_id, f->path, sizeof f->path), CAIRN_OK);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, f->size);
    cbuf_free(&blob);
}

static cairn_err read_trailer_path(const fixture *f, const char *path, pack_entry **e, size_t *n,
                                   uint64_t *size)
{
    const int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    const cairn_err rc = pack_read_trailer(fd, path, f->seal_key, e, n, size);
    close(fd);
    return rc;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    uint8_t *const p = malloc(st.st_size ? (size_t)st.st_size : 1);
    assert_non_null(p);
    const int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return p;
}

static void spit(const char *path, const uint8_t *p, size_t n)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    if (n)
        assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

/* 0 if the pack at path is intact: trailer reads and every blob decodes to
 * its ID; otherwise nonzero. */
static int pack_fails(const fixture *f, const char *path)
{
    pack_entry *e = NULL;
    size_t n = 0, flen;
    uint64_t size;
    if (read_trailer_path(f, path, &e, &n, &size) != CAIRN_OK)
        return 1;
    uint8_t *const file = slurp(path, &flen);
    cbuf out;
    cbuf_init(&out);
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        assert_true((uint64_t)e[i].offset + e[i].stored_len <= flen);
        bad =
            blob_decode(f->bc, f->seal_key, f->id_key, &e[i], file + e[i].offset, &out) != CAIRN_OK;
    }
    cbuf_free(&out);
    free(file);
    free(e);
    return bad;
}

static void test_write_and_read_back(void **state)
{
    fixture *const f = *state;
    write_sample(f, 64 * 1024);
    pack_entry *e = NULL;
    size_t n = 0;
    uint64_t size = 0;
    assert_int_equal(read_trailer_path(f, f->path, &e, &n, &size), CAIRN_OK);
    assert_int_equal(n, NBLOBS);
    assert_int_equal(size, f->size);
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(e[i].id, f->entries[i].id, ID_LEN);
        assert_int_equal(e[i].flags, f->entries[i].flags);
        assert_int_equal(e[i].offset, f->entries[i].offset);
        assert_int_equal(e[i].stored_len, f->entries[i].stored_len);
        assert_int_equal(e[i].raw_len, f->entries[i].raw_len);
    }
    size_t flen;
    uint8_t *const file = slurp(f->path, &flen);
    assert_memory_equal(file, "CAIRNPK", 7);
    assert_memory_equal(file + flen - 8, "CAIRNEND", 8);
    cbuf out;
    cbuf_init(&out);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(
            blob_decode(f->bc, f->seal_key, f->id_key, &e[i], file + e[i].offset, &out), CAIRN_OK);
        assert_int_equal(out.len, f->len[i]);
        if (f->len[i])
            assert_memory_equal(out.data, f->data[i], f->len[i]);
    }
    /* the wrong keys fail */
    uint8_t other[SEAL_KEY_LEN];
    randombytes_buf(other, sizeof other);
    assert_int_equal(blob_decode(f->bc, other, f->id_key, &e[0], file + e[0].offset, &out),
                     CAIRN_ECORRUPT);
    assert_int_equal(blob_decode(f->bc, f->seal_key, other, &e[0], file + e[0].offset, &out),
                     CAIRN_ECORRUPT);
    /* without the ID hash, the tag alone still binds a blob to its ID: the
     * entry of another chunk pointing at this blob fails */
    assert_int_equal(blob_decode(f->bc, f->seal_key, NULL, &e[0], file + e[0].offset, &out),
                     CAIRN_OK);
    pack_entry moved = e[1];
    moved.offset = e[0].offset;
    moved.stored_len = e[0].stored_len;
    moved.raw_len = e[0].raw_len;
    moved.flags = e[0].flags;
    assert_int_equal(blob_decode(f->bc, f->seal_key, NULL, &moved, file + e[0].offset, &out),
                     CAIRN_ECORRUPT);
    const int fd = open(f->path, O_RDONLY);
    pack_entry *e2 = NULL;
    size_t n2 = 0;
    assert_int_equal(pack_read_trailer(fd, f->path, other, &e2, &n2, &size), CAIRN_ECORRUPT);
    close(fd);
    assert_null(e2);
    cbuf_free(&out);
    free(file);
    free(e);
}

static void test_compression_flags(void **state)
{
    fixture *const f = *state;
    write_sample(f, 64 * 1024);
    /* text compresses and is stored smaller */
    assert_true(f->entries[0].flags & PACK_ZSTD);
    assert_true(f->entries[0].stored_len < f->entries[0].raw_len / 4);
    assert_false(blob_incompressible(f->bc, f->data[0], f->len[0]));
    /* random data is probed as incompressible and stored raw */
    assert_true(blob_incompressible(f->bc, f->data[1], f->len[1]));
    assert_false(f->entries[1].flags & PACK_ZSTD);
    assert_int_equal(f->entries[1].stored_len, f->entries[1].raw_len + SEAL_OVERHEAD);
    /* the tree bit is kept and combined with compression */
    assert_int_equal(f->entries[2].flags, PACK_TREE | PACK_ZSTD);
    /* tiny, empty and small random chunks are stored raw */
    for (int i = 3; i < NBLOBS; i++) {
        assert_int_equal(f->entries[i].flags, 0);
        assert_int_equal(f->entries[i].stored_len, f->len[i] + SEAL_OVERHEAD);
    }
    /* a flag the caller must not set is cleared by blob_encode */
    pack_entry e;
    cbuf blob;
    cbuf_init(&blob);
    memset(&e, 0, sizeof e);
    e.flags = 0xf0 | PACK_ZSTD;
    assert_int_equal(blob_encode(f->bc, f->seal_key, &e, f->data[1], f->len[1], &blob), CAIRN_OK);
    assert_int_equal(e.flags, 0);
    cbuf_free(&blob);
}

/* blob_encode_unprobed compresses what the probe would have skipped: a
 * chunk whose probe samples are random but which is mostly zeros (the
 * probe looks at 4 KiB at 0, 20 KiB, 40 KiB and 60 KiB of 64 KiB).  It still
 * keeps a chunk raw when compression does not save 2%, and both decode. */
static void test_unprobed(void **state)
{
    fixture *const f = *state;
    enum { LEN = 64 * 1024, SAMPLE = 4096, STEP = (LEN - SAMPLE) / 3 };
    uint8_t *const data = calloc(1, LEN);
    uint8_t *const noise = random_data(LEN);
    assert_non_null(data);
    for (int i = 0; i < 4; i++)
        randombytes_buf(data + i * STEP, SAMPLE);
    cbuf blob, out;
    cbuf_init(&blob);
    cbuf_init(&out);
    pack_entry e;
    memset(&e, 0, sizeof e);
    seal_id(f->id_key, data, LEN, e.id);
    assert_int_equal(blob_encode(f->bc, f->seal_key, &e, data, LEN, &blob), CAIRN_OK);
    assert_int_equal(e.flags, 0); /* the probe said no */
    assert_int_equal(blob.len, LEN + SEAL_OVERHEAD);
    e.flags = PACK_TREE;
    assert_int_equal(blob_encode_unprobed(f->bc, f->seal_key, &e, data, LEN, &blob), CAIRN_OK);
    assert_int_equal(e.flags, PACK_TREE | PACK_ZSTD);
    assert_true(blob.len < LEN / 3);
    e.stored_len = (uint32_t)blob.len;
    assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob.data, &out), CAIRN_OK);
    assert_int_equal(out.len, LEN);
    assert_memory_equal(out.data, data, LEN);
    /* random bytes do not compress: raw, unprobed or not */
    memset(&e, 0, sizeof e);
    seal_id(f->id_key, noise, LEN, e.id);
    assert_int_equal(blob_encode_unprobed(f->bc, f->seal_key, &e, noise, LEN, &blob), CAIRN_OK);
    assert_int_equal(e.flags, 0);
    assert_int_equal(blob.len, LEN + SEAL_OVERHEAD);
    e.stored_len = (uint32_t)blob.len;
    assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob.data, &out), CAIRN_OK);
    assert_memory_equal(out.data, noise, LEN);
    cbuf_free(&blob);
    cbuf_free(&out);
    free(noise);
    free(data);
}

/* blob_encode_inplace makes what blob_encode makes (flags, lengths; the
 * nonce differs) from a chunk buffer with the seal's room around it, with
 * and without a compression attempt, and the blob decodes to the chunk. */
static void test_encode_inplace(void **state)
{
    fixture *const f = *state;
    enum { BIG = 64 * 1024 };
    uint8_t *const text = text_data(BIG, 3), *const rnd = random_data(BIG);
    const struct {
        const uint8_t *data;
        size_t len;
        blob_zstd zstd;
        uint8_t flags;
    } cases[] = {
        {text, BIG, BLOB_ZSTD_PROBED, PACK_ZSTD},
        {text, BIG, BLOB_RAW, 0},
        {rnd, BIG, BLOB_ZSTD_PROBED, 0},
        {text, 3000, BLOB_ZSTD_PROBED, PACK_ZSTD},
        {rnd, 7, BLOB_ZSTD_PROBED, 0},
        {rnd, 0, BLOB_ZSTD_PROBED, 0},
        {text, BIG, BLOB_ZSTD_SURE, PACK_ZSTD},
        {rnd, BIG, BLOB_ZSTD_SURE, 0},
    };
    uint8_t *const buf = malloc(BIG + SEAL_OVERHEAD);
    cbuf ref, out, kept;
    cbuf_init(&ref);
    cbuf_init(&out);
    cbuf_init(&kept);
    assert_non_null(buf);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pack_entry e, r;
        memset(&e, 0, sizeof e);
        seal_id(f->id_key, cases[i].data, cases[i].len, e.id);
        e.flags = (uint8_t)(i == 3 ? PACK_TREE : 0);
        r = e;
        memcpy(buf + SEAL_NONCE_LEN, cases[i].data, cases[i].len);
        const uint8_t *sealed = NULL;
        assert_int_equal(
            blob_encode_inplace(f->bc, f->seal_key, &e, buf, cases[i].len, cases[i].zstd, &sealed),
            CAIRN_OK);
        assert_int_equal(e.flags, cases[i].flags | (i == 3 ? PACK_TREE : 0));
        assert_int_equal(e.raw_len, cases[i].len);
        cbuf_reset(&kept); /* a compressed blob lives in f->bc until its next use */
        cbuf_put(&kept, sealed, e.stored_len);
        if (cases[i].zstd != BLOB_RAW) {
            assert_int_equal((cases[i].zstd == BLOB_ZSTD_SURE ? blob_encode_unprobed : blob_encode)(
                                 f->bc, f->seal_key, &r, cases[i].data, cases[i].len, &ref),
                             CAIRN_OK);
            assert_int_equal(r.flags, e.flags);
            assert_int_equal(ref.len, e.stored_len);
        } else {
            assert_ptr_equal(sealed, buf); /* sealed where it lay */
            assert_int_equal(e.stored_len, cases[i].len + SEAL_OVERHEAD);
        }
        assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, kept.data, &out), CAIRN_OK);
        assert_int_equal(out.len, cases[i].len);
        if (cases[i].len)
            assert_memory_equal(out.data, cases[i].data, cases[i].len);
    }
    cbuf_free(&ref);
    cbuf_free(&out);
    cbuf_free(&kept);
    free(buf);
    free(text);
    free(rnd);
}

/* Data whose probe samples (4 KiB at the start, the end and two points
 * evenly between) are random and the rest zeros: the probe says it does not
 * compress, compressing it all saves most of it. */
static uint8_t *probe_fooling_data(size_t n)
{
    uint8_t *const p = calloc(1, n);
    assert_non_null(p);
    const size_t step = (n - 4096) / 3;
    for (int i = 0; i < 4; i++)
        randombytes_buf(p + (size_t)i * step, 4096);
    return p;
}

static uint8_t encode_flags(blob_ctx *bc, const fixture *f, const uint8_t *data, size_t len)
{
    pack_entry e;
    cbuf blob, back;
    cbuf_init(&blob);
    cbuf_init(&back);
    memset(&e, 0, sizeof e);
    seal_id(f->id_key, data, len, e.id);
    assert_int_equal(blob_encode(bc, f->seal_key, &e, data, len, &blob), CAIRN_OK);
    e.stored_len = (uint32_t)blob.len;
    assert_int_equal(blob_decode(bc, f->seal_key, f->id_key, &e, blob.data, &back), CAIRN_OK);
    assert_int_equal(back.len, len);
    assert_memory_equal(back.data, data, len);
    cbuf_free(&blob);
    cbuf_free(&back);
    return e.flags;
}

/* A chunk under 64 KiB is compressed without the probe at the fast levels
 * (the probe would cost as much as compressing it); a larger chunk, or any
 * chunk at a slow level, is still probed first. */
static void test_probe_only_where_it_pays(void **state)
{
    fixture *const f = *state;
    uint8_t *const small = probe_fooling_data(48 * 1024);
    uint8_t *const large = probe_fooling_data(256 * 1024);
    uint8_t *const noise = random_data(48 * 1024);
    blob_ctx *slow = NULL;
    assert_int_equal(blob_ctx_new(9, &slow), CAIRN_OK);
    assert_true(blob_incompressible(f->bc, small, 48 * 1024));
    assert_true(blob_incompressible(f->bc, large, 256 * 1024));
    assert_int_equal(encode_flags(f->bc, f, small, 48 * 1024), PACK_ZSTD);
    assert_int_equal(encode_flags(f->bc, f, large, 256 * 1024), 0);
    assert_int_equal(encode_flags(slow, f, small, 48 * 1024), 0);
    /* random data still ends up raw, by the 2% rule */
    assert_int_equal(encode_flags(f->bc, f, noise, 48 * 1024), 0);
    blob_ctx_free(slow);
    free(small);
    free(large);
    free(noise);
}

/* The AD binds a blob to its ID, flags and lengths. */
static void test_blob_bound_to_entry(void **state)
{
    fixture *const f = *state;
    write_sample(f, 32 * 1024);
    size_t flen;
    uint8_t *const file = slurp(f->path, &flen);
    cbuf out;
    cbuf_init(&out);
    for (int i = 0; i < NBLOBS; i++) {
        const pack_entry *const orig = &f->entries[i];
        const uint8_t *const blob = file + orig->offset;
        pack_entry e = *orig;
        e.id[5] ^= 1;
        assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob, &out),
                         CAIRN_ECORRUPT);
        e = *orig;
        e.flags ^= PACK_TREE;
        assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob, &out),
                         CAIRN_ECORRUPT);
        e = *orig;
        e.flags ^= PACK_ZSTD;
        assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob, &out),
                         CAIRN_ECORRUPT);
        e = *orig;
        e.raw_len += 1;
        assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob, &out),
                         CAIRN_ECORRUPT);
        if (orig->raw_len) {
            e = *orig;
            e.raw_len -= 1;
            assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob, &out),
                             CAIRN_ECORRUPT);
        }
        e = *orig;
        e.stored_len -= 1;
        assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob, &out),
                         CAIRN_ECORRUPT);
        e = *orig;
        e.stored_len = SEAL_OVERHEAD - 1;
        assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob, &out),
                         CAIRN_ECORRUPT);
        e = *orig;
        assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob, &out), CAIRN_OK);
    }
    /* a blob with the right tag but the wrong ID (sealed under an ID that
     * is not its keyed hash) is refused */
    pack_entry e;
    cbuf blob;
    cbuf_init(&blob);
    memset(&e, 0, sizeof e);
    memset(e.id, 0x42, ID_LEN);
    assert_int_equal(blob_encode(f->bc, f->seal_key, &e, f->data[3], f->len[3], &blob), CAIRN_OK);
    e.stored_len = (uint32_t)blob.len;
    assert_int_equal(blob_decode(f->bc, f->seal_key, f->id_key, &e, blob.data, &out),
                     CAIRN_ECORRUPT);
    cbuf_free(&blob);
    cbuf_free(&out);
    free(file);
}

/* Flipping any single byte of a small pack, at every position, is caught
 * by the trailer read or by decoding some blob. */
static void test_every_byte_flip_detected(void **state)
{
    fixture *const f = *state;
    write_sample(f, 200);
    size_t flen;
    uint8_t *const file = slurp(f->path, &flen);
    char copy[PATH_MAX + 8];
    snprintf(copy, sizeof copy, "%s/copy", f->dir);
    spit(copy, file, flen);
    assert_false(pack_fails(f, copy));
    for (size_t pos = 0; pos < flen; pos++) {
        file[pos] ^= 0x04;
        spit(copy, file, flen);
        if (!pack_fails(f, copy))
            fail_msg("flip at byte %zu of %zu went unnoticed", pos, flen);
        file[pos] ^= 0x04;
    }
    free(file);
}

/* The same on a larger pack at the interesting places: header, first blob,
 * middle, trailer, footer. */
static void test_flip_at_landmarks(void **state)
{
    fixture *const f = *state;
    write_sample(f, 256 * 1024);
    size_t flen;
    uint8_t *const file = slurp(f->path, &flen);
    const pack_entry *const e = f->entries;
    const uint64_t trailer = e[NBLOBS - 1].offset + e[NBLOBS - 1].stored_len;
    const size_t pos[] = {
        0,
        PACK_HEADER_LEN - 1,
        e[0].offset,
        e[0].offset + SEAL_NONCE_LEN,
        e[0].offset + e[0].stored_len / 2,
        e[0].offset + e[0].stored_len - 1,
        e[1].offset + e[1].stored_len / 2,
        flen / 2,
        e[4].offset,
        e[4].offset + e[4].stored_len - 1,
        trailer,
        trailer + 30,
        flen - PACK_FOOTER_LEN - 1,
        flen - PACK_FOOTER_LEN,     /* trailer length */
        flen - PACK_FOOTER_LEN + 3, /* its top byte */
        flen - PACK_FOOTER_LEN + 4, /* footer version */
        flen - 8,                   /* footer magic */
        flen - 1,
    };
    char copy[PATH_MAX + 8];
    snprintf(copy, sizeof copy, "%s/copy", f->dir);
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        assert_true(pos[i] < flen);
        for (unsigned bit = 0; bit < 8; bit += 7) {
            file[pos[i]] ^= (uint8_t)(1u << bit);
            spit(copy, file, flen);
            if (!pack_fails(f, copy))
                fail_msg("flip of bit %u at byte %zu of %zu went unnoticed", bit, pos[i], flen);
            file[pos[i]] ^= (uint8_t)(1u << bit);
        }
    }
    free(file);
}

static void test_truncation_detected(void **state)
{
    fixture *const f = *state;
    write_sample(f, 100);
    size_t flen;
    uint8_t *const file = slurp(f->path, &flen);
    char copy[PATH_MAX + 8];
    snprintf(copy, sizeof copy, "%s/copy", f->dir);
    pack_entry *e = NULL;
    size_t n;
    uint64_t size;
    /* every shorter length */
    for (size_t cut = 0; cut < flen; cut++) {
        spit(copy, file, cut);
        if (read_trailer_path(f, copy, &e, &n, &size) != CAIRN_ECORRUPT)
            fail_msg("pack cut to %zu of %zu bytes was accepted", cut, flen);
    }
    /* bytes appended after the footer */
    uint8_t *const longer = malloc(flen + PACK_FOOTER_LEN);
    assert_non_null(longer);
    memcpy(longer, file, flen);
    spit(copy, longer, flen);
    assert_int_equal(read_trailer_path(f, copy, &e, &n, &size), CAIRN_OK);
    free(e);
    longer[flen] = 0;
    spit(copy, longer, flen + 1);
    assert_int_equal(read_trailer_path(f, copy, &e, &n, &size), CAIRN_ECORRUPT);
    /* even a second copy of the footer */
    memcpy(longer + flen, file + flen - PACK_FOOTER_LEN, PACK_FOOTER_LEN);
    spit(copy, longer, flen + PACK_FOOTER_LEN);
    assert_int_equal(read_trailer_path(f, copy, &e, &n, &size), CAIRN_ECORRUPT);
    /* a blob cut out of the middle */
    const pack_entry *const b = &f->entries[1];
    memcpy(longer, file, b->offset);
    memcpy(longer + b->offset, file + b->offset + b->stored_len, flen - b->offset - b->stored_len);
    spit(copy, longer, flen - b->stored_len);
    assert_int_equal(read_trailer_path(f, copy, &e, &n, &size), CAIRN_ECORRUPT);
    free(longer);
    free(file);
}

/* Finishes w and frees it; its file's path into path, its entries as read
 * back from the trailer into *e and *n; returns the file's size (the size
 * the writer said). */
static uint64_t finish_and_read_back(const fixture *f, pack_writer *w, char path[PATH_MAX],
                                     pack_entry **e, size_t *n)
{
    uint8_t id[PACK_ID_LEN];
    uint64_t size = 0;
    assert_int_equal(pack_writer_finish(w, f->seal_key, f->packs, id), CAIRN_OK);
    const uint64_t written = pack_writer_size(w);
    pack_writer_free(w);
    assert_int_equal(pack_path(f->packs, id, path, PATH_MAX), CAIRN_OK);
    assert_int_equal(read_trailer_path(f, path, e, n, &size), CAIRN_OK);
    assert_int_equal(size, written);
    return size;
}

static void test_empty_pack(void **state)
{
    fixture *const f = *state;
    pack_writer *w = NULL;
    char path[PATH_MAX];
    pack_entry *e = NULL;
    size_t n = 99;
    assert_int_equal(pack_writer_open(f->tmp, &w), CAIRN_OK);
    assert_int_equal(pack_writer_size(w), PACK_HEADER_LEN);
    const uint64_t size = finish_and_read_back(f, w, path, &e, &n);
    assert_int_equal(n, 0);
    assert_int_equal(size, PACK_HEADER_LEN + 1 + SEAL_OVERHEAD + PACK_FOOTER_LEN);
    free(e);
}

/* Blobs are gathered in memory and written in large pieces: whatever their
 * sizes (smaller than the writer's 1 MiB, filling it exactly, larger than
 * it), every blob's bytes end up at its entry's offset. */
static void test_gathered_writes(void **state)
{
    fixture *const f = *state;
    static const size_t sizes[] = {600 << 10, 600 << 10, 3000, (3 << 20) / 2, 40, (1 << 20) - 8,
                                   1 << 20,   64 << 10,  41,   5 << 20};
    enum { N = sizeof sizes / sizeof sizes[0] };
    uint8_t *data[N];
    pack_entry added[N];
    pack_writer *w = NULL;
    char path[PATH_MAX];
    pack_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(pack_writer_open(f->tmp, &w), CAIRN_OK);
    for (size_t i = 0; i < N; i++) {
        data[i] = random_data(sizes[i]);
        memset(&added[i], 0, sizeof added[i]);
        added[i].id[0] = (uint8_t)i;
        added[i].raw_len = (uint32_t)sizes[i];
        assert_int_equal(pack_writer_add(w, &added[i], data[i], sizes[i]), CAIRN_OK);
    }
    const uint64_t size = finish_and_read_back(f, w, path, &e, &n);
    assert_int_equal(n, N);
    size_t file_len;
    uint8_t *const file = slurp(path, &file_len);
    assert_int_equal(file_len, size);
    for (size_t i = 0; i < N; i++) {
        assert_memory_equal(&e[i], &added[i], sizeof e[i]);
        assert_memory_equal(file + e[i].offset, data[i], sizes[i]);
        free(data[i]);
    }
    free(file);
    free(e);
}

/* A write that fails (here past the file size limit, cut short first) is
 * reported with the pack's name; the writer then refuses more blobs and the
 * trailer, and leaves no file behind. */
static void test_write_failure(void **state)
{
    fixture *const f = *state;
    struct rlimit old;
    struct sigaction old_sa;
    pack_writer *w = NULL;
    pack_entry e;
    uint8_t id[PACK_ID_LEN];
    uint8_t *const big = random_data(600 << 10);
    assert_int_equal(pack_writer_open(f->tmp, &w), CAIRN_OK);
    /* the third write (at the fourth add) crosses the limit */
    assert_int_equal(test_limit_file_size((3 << 20) / 2, &old, &old_sa), 0);
    cairn_err rc = CAIRN_OK;
    int writes = 0;
    for (int i = 0; i < 4 && rc == CAIRN_OK; i++, writes++) {
        memset(&e, 0, sizeof e);
        rc = pack_writer_add(w, &e, big, 600 << 10);
    }
    assert_int_equal(test_unlimit_file_size(&old, &old_sa), 0);
    assert_int_equal(rc, CAIRN_EIO);
    assert_int_equal(writes, 4); /* the fourth add writes out the third */
    assert_non_null(strstr(err_msg(), "/pack-"));
    assert_int_equal(pack_writer_count(w), 3);
    memset(&e, 0, sizeof e);
    assert_int_equal(pack_writer_add(w, &e, big, 100), CAIRN_EIO);
    assert_non_null(strstr(err_msg(), "an earlier write failed"));
    assert_int_equal(pack_writer_finish(w, f->seal_key, f->packs, id), CAIRN_EIO);
    pack_writer_free(w);
    assert_int_equal(test_count_entries(f->tmp), 0);
    free(big);
}

static void test_pack_path_and_tmp_cleanup(void **state)
{
    fixture *const f = *state;
    uint8_t id[PACK_ID_LEN];
    char path[PATH_MAX], expect[PATH_MAX + 200];
    for (int i = 0; i < PACK_ID_LEN; i++)
        id[i] = (uint8_t)(0xa0 + i);
    assert_int_equal(pack_path("/p", id, path, sizeof path), CAIRN_OK);
    snprintf(expect, sizeof expect, "/p/a0/");
    for (int i = 0; i < PACK_ID_LEN; i++)
        snprintf(expect + strlen(expect), 3, "%02x", id[i]);
    assert_string_equal(path, expect);
    assert_int_equal(pack_path("/p", id, path, 20), CAIRN_EINVAL);

    /* an unfinished pack leaves nothing behind */
    pack_writer *w = NULL;
    pack_entry e;
    memset(&e, 0, sizeof e);
    assert_int_equal(pack_writer_open(f->tmp, &w), CAIRN_OK);
    assert_int_equal(
        pack_writer_add(w, &e, (const uint8_t *)"0123456789012345678901234567890123456789", 40),
        CAIRN_OK);
    assert_int_equal(test_count_entries(f->tmp), 1);
    pack_writer_free(w);
    assert_int_equal(test_count_entries(f->tmp), 0);
    /* a missing tmp dir is an error, not a crash */
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/none", f->dir);
    w = NULL;
    assert_int_not_equal(pack_writer_open(missing, &w), CAIRN_OK);
    assert_null(w);
}

/* Trailer plaintext, encoded by hand as pack.c does. */
static void put_entry(cbuf *b, uint8_t idbyte, uint8_t flags, uint64_t off, uint64_t stored,
                      uint64_t raw)
{
    uint8_t id[ID_LEN];
    memset(id, idbyte, sizeof id);
    cbuf_put(b, id, ID_LEN);
    cbuf_u8(b, flags);
    cbuf_varint(b, off);
    cbuf_varint(b, stored);
    cbuf_varint(b, raw);
}

static cairn_err decode(const cbuf *b, pack_entry **e, size_t *n)
{
    /* an exact-size copy so ASan sees any overread */
    uint8_t *const p = malloc(b->len ? b->len : 1);
    assert_non_null(p);
    if (b->len)
        memcpy(p, b->data, b->len);
    *e = NULL;
    const cairn_err rc = pack_decode_entries(p, b->len, e, n);
    free(p);
    if (rc != CAIRN_OK)
        assert_null(*e);
    return rc;
}

static void test_decode_entries(void **state)
{
    (void)state;
    cbuf b;
    pack_entry *e;
    size_t n;
    cbuf_init(&b);

    /* a valid list */
    cbuf_varint(&b, 2);
    put_entry(&b, 1, PACK_ZSTD, 8, 100, 300);
    put_entry(&b, 2, PACK_TREE, 108, SEAL_OVERHEAD, 0);
    assert_int_equal(decode(&b, &e, &n), CAIRN_OK);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].id[0], 1);
    assert_int_equal(e[0].flags, PACK_ZSTD);
    assert_int_equal(e[0].offset, 8);
    assert_int_equal(e[0].stored_len, 100);
    assert_int_equal(e[0].raw_len, 300);
    assert_int_equal(e[1].id[31], 2);
    assert_int_equal(e[1].offset, 108);
    free(e);

    /* every truncation of it fails */
    for (size_t cut = 0; cut < b.len; cut++) {
        const cbuf t = {b.data, cut, cut, 0};
        if (decode(&t, &e, &n) != CAIRN_ECORRUPT)
            fail_msg("trailer cut to %zu of %zu bytes accepted", cut, b.len);
    }

    /* trailing bytes */
    cbuf_u8(&b, 0);
    assert_int_equal(decode(&b, &e, &n), CAIRN_ECORRUPT);

    /* empty list; empty input */
    cbuf_reset(&b);
    cbuf_varint(&b, 0);
    assert_int_equal(decode(&b, &e, &n), CAIRN_OK);
    assert_int_equal(n, 0);
    free(e);
    cbuf_reset(&b);
    assert_int_equal(decode(&b, &e, &n), CAIRN_ECORRUPT);

    /* huge counts, with and without bytes to back them */
    const uint64_t counts[] = {UINT64_MAX, (uint64_t)1 << 40, PACK_MAX_ENTRIES + 1, 3};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        cbuf_reset(&b);
        cbuf_varint(&b, counts[i]);
        put_entry(&b, 1, 0, 8, 100, 100);
        put_entry(&b, 2, 0, 108, 100, 100);
        assert_int_equal(decode(&b, &e, &n), CAIRN_ECORRUPT);
    }
    /* PACK_MAX_ENTRIES + 1 minimal entries: plenty of bytes, still too many */
    cbuf_reset(&b);
    put_entry(&b, 0, 0, 0, SEAL_OVERHEAD, 0);
    assert_int_equal(b.len, 36); /* the smallest entry */
    uint8_t minimal[36];
    memcpy(minimal, b.data, sizeof minimal);
    cbuf_reset(&b);
    cbuf_varint(&b, PACK_MAX_ENTRIES + 1);
    uint8_t *const many = cbuf_reserve(&b, (size_t)(PACK_MAX_ENTRIES + 1) * sizeof minimal);
    assert_non_null(many);
    for (size_t i = 0; i < (size_t)PACK_MAX_ENTRIES + 1; i++)
        memcpy(many + i * sizeof minimal, minimal, sizeof minimal);
    b.len += (size_t)(PACK_MAX_ENTRIES + 1) * sizeof minimal;
    assert_int_equal(decode(&b, &e, &n), CAIRN_ECORRUPT);
    /* the same bytes with the count at the limit decode (minus one entry) */
    cbuf_reset(&b);
    cbuf_varint(&b, PACK_MAX_ENTRIES);
    uint8_t *const max = cbuf_reserve(&b, (size_t)PACK_MAX_ENTRIES * sizeof minimal);
    assert_non_null(max);
    for (size_t i = 0; i < (size_t)PACK_MAX_ENTRIES; i++)
        memcpy(max + i * sizeof minimal, minimal, sizeof minimal);
    b.len += (size_t)PACK_MAX_ENTRIES * sizeof minimal;
    assert_int_equal(decode(&b, &e, &n), CAIRN_OK);
    assert_int_equal(n, PACK_MAX_ENTRIES);
    free(e);

    /* bad fields */
    const struct {
        uint8_t flags;
        uint64_t off, stored, raw;
    } bad[] = {
        {4, 8, 100, 100},
        {0x80, 8, 100, 100},
        {0, (uint64_t)UINT32_MAX + 1, 100, 100},
        {0, UINT64_MAX, 100, 100},
        {0, 8, SEAL_OVERHEAD - 1, 0},
        {0, 8, 0, 0},
        {0, 8, (uint64_t)PACK_MAX_BLOB + 1, 100},
        {0, 8, 100, (uint64_t)PACK_MAX_BLOB + 1},
        {0, 8, 100, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cbuf_reset(&b);
        cbuf_varint(&b, 1);
        put_entry(&b, 7, bad[i].flags, bad[i].off, bad[i].stored, bad[i].raw);
        if (decode(&b, &e, &n) != CAIRN_ECORRUPT)
            fail_msg("bad entry %zu accepted", i);
    }
    /* the edges that are allowed */
    cbuf_reset(&b);
    cbuf_varint(&b, 1);
    put_entry(&b, 7, PACK_FLAGS_KNOWN, UINT32_MAX, PACK_MAX_BLOB, PACK_MAX_BLOB);
    assert_int_equal(decode(&b, &e, &n), CAIRN_OK);
    assert_int_equal(e[0].offset, UINT32_MAX);
    assert_int_equal(e[0].stored_len, PACK_MAX_BLOB);
    free(e);

    /* garbage */
    uint8_t junk[512];
    for (int round = 0; round < 200; round++) {
        randombytes_buf(junk, sizeof junk);
        cbuf_reset(&b);
        cbuf_put(&b, junk, 1 + (size_t)round * 2);
        if (decode(&b, &e, &n) == CAIRN_OK) {
            /* possible only if the garbage happens to be a valid list */
            assert_true(n * 36 <= b.len);
            free(e);
        }
    }
    memset(junk, 0xff, sizeof junk);
    cbuf_reset(&b);
    cbuf_put(&b, junk, sizeof junk);
    assert_int_equal(decode(&b, &e, &n), CAIRN_ECORRUPT);
    cbuf_free(&b);
}

/* Builds a pack file by hand: header, blob bytes, a trailer sealed from
 * the given plaintext, and the footer. */
static void craft_pack(const fixture *f, const char *path, size_t body, const cbuf *plain)
{
    static const uint8_t magic[8] = {'C', 'A', 'I', 'R', 'N', 'P', 'K', 1};
    static const uint8_t tr_ad[8] = {'C', 'A', 'I', 'R', 'N', 'T', 'R', 1};
    static const uint8_t end[8] = {'C', 'A', 'I', 'R', 'N', 'E', 'N', 'D'};
    const size_t tlen = plain->len + SEAL_OVERHEAD;
    const size_t total = PACK_HEADER_LEN + body + tlen + PACK_FOOTER_LEN;
    uint8_t *const p = calloc(1, total);
    assert_non_null(p);
    memcpy(p, magic, 8);
    memset(p + PACK_HEADER_LEN, 0x33, body);
    seal_box(f->seal_key, tr_ad, sizeof tr_ad, plain->data, plain->len, p + PACK_HEADER_LEN + body);
    uint8_t *const foot = p + PACK_HEADER_LEN + body + tlen;
    put_u32le(foot, (uint32_t)tlen);
    put_u32le(foot + 4, 1);
    memcpy(foot + 8, end, 8);
    spit(path, p, total);
    free(p);
}

static void test_entries_must_tile(void **state)
{
    fixture *const f = *state;
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/crafted", f->dir);
    const struct {
        size_t body;
        int n;
        uint32_t off[3], len[3];
        int ok;
    } cases[] = {
        {200, 2, {8, 108}, {100, 100}, 1},          /* exact tiling */
        {0, 0, {0}, {0}, 1},                        /* no blobs */
        {200, 2, {8, 108}, {100, 90}, 0},           /* gap before the trailer */
        {200, 2, {8, 118}, {100, 90}, 0},           /* gap between blobs */
        {200, 2, {8, 100}, {100, 108}, 0},          /* overlap */
        {200, 2, {9, 109}, {100, 99}, 0},           /* gap after the header */
        {200, 2, {0, 108}, {108, 100}, 0},          /* blob over the header */
        {200, 2, {108, 8}, {100, 100}, 0},          /* out of order */
        {200, 2, {8, 108}, {100, 150}, 0},          /* runs into the trailer */
        {200, 3, {8, 108, 208}, {100, 100, 50}, 0}, /* past the trailer start */
        {100, 1, {8}, {200}, 0},                    /* longer than the file */
        {200, 0, {0}, {0}, 0},                      /* bytes nobody covers */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cbuf plain;
        cbuf_init(&plain);
        cbuf_varint(&plain, (uint64_t)cases[i].n);
        for (int j = 0; j < cases[i].n; j++)
            put_entry(&plain, (uint8_t)j, 0, cases[i].off[j], cases[i].len[j],
                      cases[i].len[j] - SEAL_OVERHEAD);
        craft_pack(f, path, cases[i].body, &plain);
        pack_entry *e = NULL;
        size_t n = 0;
        uint64_t size;
        const cairn_err rc = read_trailer_path(f, path, &e, &n, &size);
        if (cases[i].ok) {
            if (rc != CAIRN_OK)
                fail_msg("case %zu: %s", i, err_msg());
            assert_int_equal(n, cases[i].n);
        } else if (rc != CAIRN_ECORRUPT) {
            fail_msg("case %zu: entries that do not tile were accepted", i);
        }
        free(e);
        cbuf_free(&plain);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compression_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_only_where_it_pays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_bound_to_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unprobed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_inplace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_flip_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flip_at_landmarks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_pack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gathered_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_path_and_tmp_cleanup, setup, teardown),
        cmocka_unit_test(test_decode_entries),
        cmocka_unit_test_setup_teardown(test_entries_must_tile, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
