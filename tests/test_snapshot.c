/* test_snapshot.c - snapshot objects: round trips of every field and the
 * metadata, and the decoder refuses malformed fields, trailing bytes and
 * every truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/snapshot.h"

static char *dup_or_fail(const char *s)
{
    char *const d = strdup(s);
    assert_non_null(d);
    return d;
}

static void sample(snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->time_sec = 1712345678;
    s->time_nsec = 999999999;
    s->hostname = dup_or_fail("host.example");
    s->source = dup_or_fail("/home/user/Documents");
    s->chain = dup_or_fail("path:/home/user/Documents");
    s->has_parent = 1;
    memset(s->parent, 0x5a, ID_LEN);
    s->flags = SNAP_PARTIAL | SNAP_INCOMPLETE;
    s->ntree = 3;
    s->tree = malloc(3 * ID_LEN);
    assert_non_null(s->tree);
    for (int i = 0; i < 3; i++)
        memset(s->tree[i], 0x30 + i, ID_LEN);
    s->ncatalog = 2;
    s->catalog = malloc(2 * ID_LEN);
    assert_non_null(s->catalog);
    for (int i = 0; i < 2; i++)
        memset(s->catalog[i], 0x60 + i, ID_LEN);
    s->files = 12345;
    s->dirs = 678;
    s->bytes = UINT64_MAX;
    s->new_chunks = 1;
    s->new_bytes = (uint64_t)1 << 40;
    s->new_raw = 0;
    s->errors = 2;
    assert_int_equal(snapshot_set_meta(s, "device.name", "Anna's iPhone"), CAIRN_OK);
    assert_int_equal(snapshot_set_meta(s, "device.udid", "00008030-001A"), CAIRN_OK);
    assert_int_equal(snapshot_set_meta(s, "empty", NULL), CAIRN_OK);
}

static void assert_same(const snapshot *a, const snapshot *b)
{
    assert_true(a->time_sec == b->time_sec);
    assert_int_equal(a->time_nsec, b->time_nsec);
    assert_string_equal(a->hostname, b->hostname);
    assert_string_equal(a->source, b->source);
    assert_string_equal(a->chain, b->chain);
    assert_int_equal(!!a->has_parent, !!b->has_parent);
    if (a->has_parent)
        assert_memory_equal(a->parent, b->parent, ID_LEN);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->ntree, b->ntree);
    if (a->ntree)
        assert_memory_equal(a->tree, b->tree, (size_t)a->ntree * ID_LEN);
    assert_int_equal(a->ncatalog, b->ncatalog);
    if (a->ncatalog)
        assert_memory_equal(a->catalog, b->catalog, (size_t)a->ncatalog * ID_LEN);
    assert_true(a->files == b->files);
    assert_true(a->dirs == b->dirs);
    assert_true(a->bytes == b->bytes);
    assert_true(a->new_chunks == b->new_chunks);
    assert_true(a->new_bytes == b->new_bytes);
    assert_true(a->new_raw == b->new_raw);
    assert_true(a->errors == b->errors);
    assert_int_equal(a->nmeta, b->nmeta);
    for (size_t i = 0; i < a->nmeta; i++) {
        assert_string_equal(a->meta[i].key, b->meta[i].key);
        assert_string_equal(a->meta[i].value, b->meta[i].value);
    }
}

static cairn_err decode_exact(const uint8_t *p, size_t n, snapshot *out)
{
    uint8_t *const d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n)
        memcpy(d, p, n);
    memset(out, 0, sizeof *out);
    const cairn_err rc = snapshot_decode(d, n, out);
    free(d);
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    snapshot s, back;
    cbuf b, b2;
    sample(&s);
    cbuf_init(&b);
    assert_int_equal(snapshot_encode(&s, &b), CAIRN_OK);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    assert_same(&s, &back);
    assert_string_equal(snapshot_get_meta(&back, "device.name"), "Anna's iPhone");
    assert_string_equal(snapshot_get_meta(&back, "empty"), "");
    assert_null(snapshot_get_meta(&back, "device"));
    cbuf_init(&b2);
    assert_int_equal(snapshot_encode(&back, &b2), CAIRN_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    cbuf_free(&b);
    cbuf_free(&b2);
    snapshot_free(&back);
    snapshot_free(&s);
    assert_null(s.hostname);
    assert_int_equal(s.nmeta, 0);
}

static void test_minimal_round_trip(void **state)
{
    (void)state;
    snapshot s, back;
    cbuf b;
    memset(&s, 0, sizeof s);
    s.time_sec = -86400; /* before 1970 */
    s.hostname = dup_or_fail("");
    s.source = dup_or_fail("/");
    s.chain = dup_or_fail("");
    cbuf_init(&b);
    assert_int_equal(snapshot_encode(&s, &b), CAIRN_OK);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    assert_same(&s, &back);
    assert_false(back.has_parent);
    assert_null(back.tree);
    assert_null(back.catalog);
    assert_null(back.meta);
    snapshot_free(&back);
    /* NULL strings are encoded as empty ones */
    free(s.hostname);
    s.hostname = NULL;
    cbuf_reset(&b);
    assert_int_equal(snapshot_encode(&s, &b), CAIRN_OK);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    assert_string_equal(back.hostname, "");
    snapshot_free(&back);
    snapshot_free(&s);
    cbuf_free(&b);
    /* extremes of time */
    memset(&s, 0, sizeof s);
    s.time_sec = INT64_MIN;
    cbuf_init(&b);
    assert_int_equal(snapshot_encode(&s, &b), CAIRN_OK);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    assert_true(back.time_sec == INT64_MIN);
    snapshot_free(&back);
    s.time_sec = INT64_MAX;
    cbuf_reset(&b);
    assert_int_equal(snapshot_encode(&s, &b), CAIRN_OK);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    assert_true(back.time_sec == INT64_MAX);
    snapshot_free(&back);
    cbuf_free(&b);
}

static void test_meta(void **state)
{
    (void)state;
    snapshot s;
    memset(&s, 0, sizeof s);
    assert_null(snapshot_get_meta(&s, "a"));
    assert_int_equal(snapshot_set_meta(&s, "a", "1"), CAIRN_OK);
    assert_int_equal(snapshot_set_meta(&s, "b", "2"), CAIRN_OK);
    assert_int_equal(s.nmeta, 2);
    assert_string_equal(snapshot_get_meta(&s, "a"), "1");
    assert_string_equal(snapshot_get_meta(&s, "b"), "2");
    /* a copy is kept */
    char key[] = "k", value[] = "v";
    assert_int_equal(snapshot_set_meta(&s, key, value), CAIRN_OK);
    key[0] = 'x';
    value[0] = 'y';
    assert_string_equal(snapshot_get_meta(&s, "k"), "v");
    assert_null(snapshot_get_meta(&s, "x"));
    snapshot_free(&s);
}

/* Field by field, for values the encoder cannot produce. */
typedef struct raw_snap {
    uint64_t version, nsec;
    uint8_t has_parent;
    uint64_t flags, ntree, tree_bytes, nmeta, npairs; /* npairs: meta pairs actually written */
    uint64_t ncatalog, catalog_bytes;
    const char *host;
    size_t host_len;
    int extra_meta_nul;
} raw_snap;

static void put_raw(cbuf *b, const raw_snap *r)
{
    uint8_t id[ID_LEN];
    memset(id, 7, sizeof id);
    cbuf_varint(b, r->version);
    cbuf_svarint(b, 1000);
    cbuf_varint(b, r->nsec);
    cbuf_str(b, r->host, r->host_len);
    cbuf_cstr(b, "/src");
    cbuf_cstr(b, "path:/src");
    cbuf_u8(b, r->has_parent);
    if (r->has_parent)
        cbuf_put(b, id, ID_LEN);
    cbuf_varint(b, r->flags);
    cbuf_varint(b, r->ntree);
    for (uint64_t i = 0; i < r->tree_bytes; i++)
        cbuf_u8(b, (uint8_t)i);
    cbuf_varint(b, r->ncatalog);
    for (uint64_t i = 0; i < r->catalog_bytes; i++)
        cbuf_u8(b, (uint8_t)(0x80 | i));
    for (int i = 0; i < 7; i++)
        cbuf_varint(b, (uint64_t)i);
    cbuf_varint(b, r->nmeta);
    for (uint64_t i = 0; i < r->npairs; i++) {
        cbuf_cstr(b, "key");
        cbuf_cstr(b, "value");
    }
    if (r->extra_meta_nul)
        cbuf_str(b, "k\0", 2);
}

static cairn_err decode_raw(const raw_snap *r)
{
    cbuf b;
    snapshot out;
    cbuf_init(&b);
    put_raw(&b, r);
    const cairn_err rc = decode_exact(b.data, b.len, &out);
    if (rc == CAIRN_OK)
        snapshot_free(&out);
    cbuf_free(&b);
    return rc;
}

static void test_rejects_raw_encodings(void **state)
{
    (void)state;
    const raw_snap good = {1, 0, 1, 0, 1, ID_LEN, 2, 2, 1, ID_LEN, "h", 1, 0};
    assert_int_equal(decode_raw(&good), CAIRN_OK);
    raw_snap r;

    r = good;
    r.version = 0;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.version = 2;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r = good;
    r.nsec = 1000000000;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.nsec = UINT64_MAX;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r = good;
    r.has_parent = 2;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.has_parent = 0xff;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r = good;
    r.flags = (uint64_t)UINT32_MAX + 1;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.flags = UINT32_MAX; /* unknown flags survive: they are for later versions */
    assert_int_equal(decode_raw(&r), CAIRN_OK);
    r = good;
    r.ntree = 2; /* more tree IDs than bytes */
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.ntree = UINT64_MAX;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.ntree = ((uint64_t)1 << 20) + 1;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r = good;
    r.ntree = 0;
    r.tree_bytes = 0;
    r.has_parent = 0;
    assert_int_equal(decode_raw(&r), CAIRN_OK);
    r = good;
    r.ncatalog = 2; /* more catalog IDs than bytes */
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.ncatalog = UINT64_MAX;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.ncatalog = ((uint64_t)1 << 20) + 1;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.ncatalog = 0;
    r.catalog_bytes = 0;
    assert_int_equal(decode_raw(&r), CAIRN_OK);
    r = good;
    r.nmeta = 3; /* only 2 pairs present */
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.nmeta = 4097;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.nmeta = UINT64_MAX;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r = good;
    r.extra_meta_nul = 1; /* a key with a NUL, counted */
    r.nmeta = 3;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r = good;
    r.host = "ho\0st";
    r.host_len = 5;
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r = good;
    r.host = NULL;
    r.host_len = 0;
    assert_int_equal(decode_raw(&r), CAIRN_OK);
}

static void test_rejects_long_strings(void **state)
{
    (void)state;
    const size_t big = (1 << 16) + 1;
    char *const s = malloc(big + 1);
    assert_non_null(s);
    memset(s, 'h', big);
    s[big] = '\0';
    raw_snap r = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, s, big, 0};
    assert_int_equal(decode_raw(&r), CAIRN_ECORRUPT);
    r.host_len = big - 1; /* exactly the limit */
    assert_int_equal(decode_raw(&r), CAIRN_OK);
    free(s);
}

static void test_rejects_trailing_bytes(void **state)
{
    (void)state;
    snapshot s, out;
    cbuf b;
    sample(&s);
    cbuf_init(&b);
    assert_int_equal(snapshot_encode(&s, &b), CAIRN_OK);
    cbuf_u8(&b, 0);
    assert_int_equal(decode_exact(b.data, b.len, &out), CAIRN_ECORRUPT);
    cbuf_free(&b);
    snapshot_free(&s);
}

static void test_every_truncation_fails(void **state)
{
    (void)state;
    snapshot s, out;
    cbuf b;
    sample(&s);
    cbuf_init(&b);
    assert_int_equal(snapshot_encode(&s, &b), CAIRN_OK);
    for (size_t cut = 0; cut < b.len; cut++) {
        const cairn_err rc = decode_exact(b.data, cut, &out);
        if (rc != CAIRN_ECORRUPT) {
            if (rc == CAIRN_OK)
                snapshot_free(&out);
            fail_msg("prefix of %zu of %zu bytes: %s", cut, b.len, err_name(rc));
        }
    }
    assert_int_equal(decode_exact(b.data, b.len, &out), CAIRN_OK);
    snapshot_free(&out);
    cbuf_free(&b);
    snapshot_free(&s);
}

static void test_mutations_never_crash(void **state)
{
    (void)state;
    snapshot s, out;
    cbuf b;
    sample(&s);
    cbuf_init(&b);
    assert_int_equal(snapshot_encode(&s, &b), CAIRN_OK);
    static const uint8_t xs[] = {0x01, 0x80, 0xff};
    for (size_t pos = 0; pos < b.len; pos++) {
        for (size_t k = 0; k < sizeof xs; k++) {
            b.data[pos] ^= xs[k];
            if (decode_exact(b.data, b.len, &out) == CAIRN_OK) {
                assert_non_null(out.hostname);
                assert_non_null(out.source);
                assert_non_null(out.chain);
                assert_true(out.time_nsec < 1000000000);
                assert_true(out.ntree == 0 || out.tree != NULL);
                assert_true(out.ncatalog == 0 || out.catalog != NULL);
                for (size_t i = 0; i < out.nmeta; i++)
                    assert_true(out.meta[i].key && out.meta[i].value);
                snapshot_free(&out);
            }
            b.data[pos] ^= xs[k];
        }
    }
    cbuf_free(&b);
    snapshot_free(&s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_minimal_round_trip),
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_rejects_raw_encodings),
        cmocka_unit_test(test_rejects_long_strings),
        cmocka_unit_test(test_rejects_trailing_bytes),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
