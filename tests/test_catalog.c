/* test_catalog.c - the device file table: domains interned (one string per
 * domain, shared by its entries, whatever the order they come in); the
 * streaming decoder fed in pieces of every size gives exactly the entries
 * catalog_decode gives, and rejects what it rejects (truncation at every
 * length, trailing bytes, wrong order, bad flags, a callback's error);
 * catalog_save cuts the same chunks as the whole encoding stored at once,
 * and catalog_load and catalog_each read them back; entries with row
 * digests make a version-2 catalog (the version-1 bytes plus 16 per
 * entry), one entry without makes the whole catalog version 1, byte for
 * byte as before, and both versions decode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/catalog.h"
#include "engine/core/tree_store.h"
#include "testutil.h"

static const char PW[] = "catalog-test-password";
enum { N = 3000 };

static int with_digests; /* add gives entries a row digest */

static void add(catalog *c, const char *domain, const char *path, uint32_t i, const char *target)
{
    catalog_entry e;
    memset(&e, 0, sizeof e);
    if (with_digests) {
        e.has_digest = 1;
        for (size_t k = 0; k < CATALOG_ROW_DIGEST_LEN; k++)
            e.row_digest[k] = (uint8_t)(i * 131u + k * 7u);
    }
    e.domain = (char *)domain;
    e.path = (char *)path;
    memcpy(e.file_id, &i, sizeof i);
    e.flags = target ? CATALOG_SYMLINK : CATALOG_FILE;
    e.size = (uint64_t)i * 4099;
    e.mode = 0100644;
    e.mtime = (int64_t)i * 1000 - 1700000000; /* negative too */
    e.target = (char *)target;
    assert_int_equal(catalog_add(c, &e), CAIRN_OK);
}

/* N entries over 7 domains, added out of order, some symlinks, an empty
 * domain and path among them; sorted. */
static void build(catalog *c)
{
    static const char *const domains[] = {"HomeDomain",
                                          "AppDomain-com.example.a",
                                          "MediaDomain",
                                          "",
                                          "AppDomainGroup-group.x",
                                          "CameraRollDomain",
                                          "SysSharedContainerDomain-systemgroup.y"};
    char path[96];
    catalog_init(c);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(path, sizeof path, "Library/%u/file-%u.plist", (i * 7919u) % 101, i);
        add(c, domains[(i * 31u) % 7], i == 5 ? "" : path, i, i % 97 == 3 ? "../target" : NULL);
    }
    catalog_sort(c);
}

static void assert_entry_equal(const catalog_entry *a, const catalog_entry *b)
{
    assert_string_equal(a->domain, b->domain);
    assert_string_equal(a->path, b->path);
    assert_memory_equal(a->file_id, b->file_id, CATALOG_FILE_ID_LEN);
    assert_int_equal(a->flags, b->flags);
    assert_true(a->size == b->size);
    assert_int_equal(a->mode, b->mode);
    assert_true(a->mtime == b->mtime);
    assert_int_equal(a->target != NULL, b->target != NULL);
    if (a->target)
        assert_string_equal(a->target, b->target);
    assert_int_equal(a->has_digest, b->has_digest);
    if (a->has_digest)
        assert_memory_equal(a->row_digest, b->row_digest, CATALOG_ROW_DIGEST_LEN);
}

static void assert_catalog_equal(const catalog *a, const catalog *b)
{
    assert_int_equal(a->count, b->count);
    for (size_t i = 0; i < a->count; i++)
        assert_entry_equal(&a->entries[i], &b->entries[i]);
}

static void test_interned_domains(void **state)
{
    (void)state;
    catalog c;
    build(&c);
    const char *seen[8];
    size_t nseen = 0;
    for (size_t i = 0; i < c.count; i++) {
        size_t k = 0;
        while (k < nseen && strcmp(seen[k], c.entries[i].domain) != 0)
            k++;
        if (k == nseen) {
            assert_true(nseen < 8);
            seen[nseen++] = c.entries[i].domain;
        }
        /* the same domain is the same string, not an equal copy */
        assert_ptr_equal(seen[k], c.entries[i].domain);
        if (i > 0) {
            const int d = strcmp(c.entries[i - 1].domain, c.entries[i].domain);
            assert_true(d < 0 || (d == 0 && strcmp(c.entries[i - 1].path, c.entries[i].path) < 0));
        }
    }
    assert_int_equal(nseen, 7);
    /* a caller's strings are copied: changing them changes nothing stored */
    catalog one;
    char domain[] = "HomeDomain", path[] = "a/b";
    catalog_init(&one);
    add(&one, domain, path, 1, NULL);
    domain[0] = 'X';
    path[0] = 'X';
    assert_string_equal(one.entries[0].domain, "HomeDomain");
    assert_string_equal(one.entries[0].path, "a/b");
    catalog_free(&one);
    catalog_free(&c);
}

typedef struct collect {
    catalog *c;
    size_t stop_after; /* 0: never */
} collect;

static cairn_err collect_entry(void *ctx, const catalog_entry *e)
{
    collect *const k = ctx;
    if (k->stop_after && k->c->count == k->stop_after)
        return err_set(CAIRN_EINTERRUPTED, "stopped by the callback");
    return catalog_add(k->c, e);
}

/* Feeds data in pieces of step bytes; the decoder's verdict. */
static cairn_err feed(const uint8_t *data, size_t len, size_t step, collect *k)
{
    catalog_decoder *d = NULL;
    cairn_err rc = catalog_decoder_new(collect_entry, k, &d);
    for (size_t pos = 0; !rc && pos < len; pos += step)
        rc = catalog_decoder_feed(d, data + pos, len - pos < step ? len - pos : step);
    if (!rc)
        rc = catalog_decoder_finish(d);
    catalog_decoder_free(d);
    return rc;
}

/* c encoded into *enc (initialised here) and decoded whole into *back:
 * the same entries. */
static void round_trip(const catalog *c, cbuf *enc, catalog *back)
{
    cbuf_init(enc);
    assert_int_equal(catalog_encode(c, enc), CAIRN_OK);
    assert_int_equal(catalog_decode(enc->data, enc->len, back), CAIRN_OK);
    assert_catalog_equal(c, back);
}

/* enc fed in pieces of each of the n sizes decodes to want. */
static void assert_feeds_to(const cbuf *enc, const size_t *steps, size_t n, const catalog *want)
{
    for (size_t i = 0; i < n; i++) {
        catalog got;
        collect k = {&got, 0};
        catalog_init(&got);
        assert_int_equal(feed(enc->data, enc->len, steps[i], &k), CAIRN_OK);
        assert_catalog_equal(want, &got);
        catalog_free(&got);
    }
}

static void test_stream_decode(void **state)
{
    (void)state;
    catalog c, whole;
    cbuf enc;
    build(&c);
    round_trip(&c, &enc, &whole);
    static const size_t steps[] = {1, 2, 3, 7, 26, 27, 64, 100, 1000, 4096, 65536};
    assert_feeds_to(&enc, steps, sizeof steps / sizeof steps[0], &c);
    /* an empty catalog */
    catalog empty, back;
    cbuf e0;
    catalog_init(&empty);
    round_trip(&empty, &e0, &back);
    assert_int_equal(back.count, 0);
    catalog_free(&back);
    cbuf_free(&e0);
    catalog_free(&whole);
    catalog_free(&c);
    cbuf_free(&enc);
}

static cairn_err decode_pieces(const uint8_t *data, size_t len, size_t step)
{
    catalog got;
    collect k = {&got, 0};
    catalog_init(&got);
    const cairn_err rc = feed(data, len, step, &k);
    catalog_free(&got);
    return rc;
}

static void test_stream_rejects(void **state)
{
    (void)state;
    catalog c, out;
    cbuf enc, bad;
    catalog_init(&c);
    add(&c, "HomeDomain", "a", 1, NULL);
    add(&c, "HomeDomain", "b", 2, "t");
    add(&c, "MediaDomain", "c", 3, NULL);
    cbuf_init(&enc);
    cbuf_init(&bad);
    assert_int_equal(catalog_encode(&c, &enc), CAIRN_OK);
    /* every truncation, whole and in pieces */
    for (size_t len = 0; len < enc.len; len++) {
        assert_int_equal(catalog_decode(enc.data, len, &out), CAIRN_ECORRUPT);
        assert_int_equal(decode_pieces(enc.data, len, 3), CAIRN_ECORRUPT);
    }
    /* a trailing byte */
    cbuf_put(&bad, enc.data, enc.len);
    cbuf_u8(&bad, 0);
    assert_int_equal(catalog_decode(bad.data, bad.len, &out), CAIRN_ECORRUPT);
    assert_int_equal(decode_pieces(bad.data, bad.len, 5), CAIRN_ECORRUPT);
    /* a version this build does not know */
    cbuf_reset(&bad);
    cbuf_put(&bad, enc.data, enc.len);
    bad.data[0] = 3;
    assert_int_equal(catalog_decode(bad.data, bad.len, &out), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "catalog: unknown version");
    /* out of order: the first two entries swapped (same length: "a" and "b") */
    cbuf_reset(&bad);
    cbuf_put(&bad, enc.data, enc.len);
    uint8_t *const a = memmem(bad.data, bad.len, "\001a", 2);
    assert_non_null(a);
    a[1] = 'z';
    assert_int_equal(catalog_decode(bad.data, bad.len, &out), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "catalog: malformed entry");
    assert_int_equal(decode_pieces(bad.data, bad.len, 1), CAIRN_ECORRUPT);
    /* the target flag must be 0 or 1: the last entry's (no target) set to 2 */
    cbuf_reset(&bad);
    cbuf_put(&bad, enc.data, enc.len);
    bad.data[bad.len - 1] = 2;
    assert_int_equal(catalog_decode(bad.data, bad.len, &out), CAIRN_ECORRUPT);
    /* the callback's error stops decoding and is what comes back */
    catalog got;
    collect k = {&got, 2};
    catalog_init(&got);
    assert_int_equal(feed(enc.data, enc.len, 4, &k), CAIRN_EINTERRUPTED);
    assert_int_equal(got.count, 2);
    catalog_free(&got);
    cbuf_free(&bad);
    cbuf_free(&enc);
    catalog_free(&c);
}

static void test_versions(void **state)
{
    (void)state;
    catalog v1, v2, back1, back2;
    cbuf e1, e2;
    build(&v1);
    with_digests = 1;
    build(&v2);
    with_digests = 0;
    round_trip(&v1, &e1, &back1);
    round_trip(&v2, &e2, &back2);
    assert_int_equal(e1.data[0], 1);
    assert_int_equal(e2.data[0], 2);
    assert_int_equal(e2.len, e1.len + (size_t)N * CATALOG_ROW_DIGEST_LEN);
    for (size_t i = 0; i < N; i++) {
        assert_false(back1.entries[i].has_digest);
        assert_true(back2.entries[i].has_digest);
    }
    /* in pieces of every awkward size */
    static const size_t steps[] = {1, 5, 17, 4096};
    assert_feeds_to(&e2, steps, sizeof steps / sizeof steps[0], &v2);
    /* one entry without a digest: version 1, the same bytes as none with */
    v2.entries[N / 2].has_digest = 0;
    cbuf mixed;
    cbuf_init(&mixed);
    assert_int_equal(catalog_encode(&v2, &mixed), CAIRN_OK);
    assert_int_equal(mixed.len, e1.len);
    assert_memory_equal(mixed.data, e1.data, e1.len);
    /* a version-2 catalog cut anywhere is rejected */
    catalog out;
    for (size_t len = 0; len < 300; len++)
        assert_int_equal(catalog_decode(e2.data, len, &out), CAIRN_ECORRUPT);
    assert_int_equal(catalog_decode(e2.data, e2.len - 1, &out), CAIRN_ECORRUPT);
    assert_int_equal(decode_pieces(e2.data, e2.len - 1, 7), CAIRN_ECORRUPT);
    cbuf_free(&mixed);
    catalog_free(&back1);
    catalog_free(&back2);
    catalog_free(&v1);
    catalog_free(&v2);
    cbuf_free(&e1);
    cbuf_free(&e2);
}

static cairn_err count_entry(void *ctx, const catalog_entry *e)
{
    (void)e;
    ++*(size_t *)ctx;
    return CAIRN_OK;
}

static void test_save_streams_same_chunks(void **state)
{
    (void)state;
    char dir[64], path[128];
    store *s = NULL;
    store_worker *w = NULL;
    chunker ck;
    uint8_t secret[32] = {7};
    catalog c, back;
    cbuf enc;
    uint8_t(*ids)[ID_LEN] = NULL, (*whole)[ID_LEN] = NULL;
    uint32_t n = 0, nwhole = 0;
    treestore_stats st = {0, 0, 0};
    assert_int_equal(test_store_new("catalog", PW, dir, path, &s), 0);
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    /* small chunks: the encoding (about 150 KB) is cut in many */
    assert_int_equal(chunker_init(&ck, 1024, 4096, 16384, secret), CAIRN_OK);
    with_digests = 1; /* version 2, as backups write it */
    build(&c);
    with_digests = 0;
    cbuf_init(&enc);
    assert_int_equal(catalog_encode(&c, &enc), CAIRN_OK);
    assert_true(enc.len > 10 * ck.max_size);
    assert_int_equal(treestore_save_bytes(s, w, &ck, enc.data, enc.len, &whole, &nwhole, &st),
                     CAIRN_OK);
    assert_int_equal(catalog_save(s, w, &ck, &c, &ids, &n, &st), CAIRN_OK);
    assert_true(nwhole > 10);
    assert_int_equal(n, nwhole);
    assert_memory_equal(ids, whole, (size_t)n * ID_LEN);
    assert_int_equal(store_flush(s), CAIRN_OK);
    assert_int_equal(catalog_load(s, w, (const uint8_t(*)[ID_LEN])ids, n, &back), CAIRN_OK);
    assert_catalog_equal(&c, &back);
    size_t seen = 0;
    assert_int_equal(catalog_each(s, w, (const uint8_t(*)[ID_LEN])ids, n, count_entry, &seen),
                     CAIRN_OK);
    assert_int_equal(seen, N);
    /* a chunk left out: the rest is not a catalog */
    assert_int_equal(catalog_each(s, w, (const uint8_t(*)[ID_LEN])ids, n - 1, count_entry, &seen),
                     CAIRN_ECORRUPT);
    catalog_free(&back);
    catalog_free(&c);
    cbuf_free(&enc);
    free(ids);
    free(whole);
    store_worker_free(w);
    store_close(s);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interned_domains),         cmocka_unit_test(test_stream_decode),
        cmocka_unit_test(test_stream_rejects),           cmocka_unit_test(test_versions),
        cmocka_unit_test(test_save_streams_same_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
