/* test_codec.c - byte encoding: fixed integers, varints, zigzag varints and
 * length-prefixed strings; truncated and malformed input must fail without
 * reading past the end of the buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"

static const uint64_t uvals[] = {
    0,
    1,
    127,
    128,
    255,
    300,
    16383,
    16384,
    UINT32_MAX,
    (uint64_t)UINT32_MAX + 1,
    ((uint64_t)1 << 56) - 1,
    (uint64_t)1 << 56,
    ((uint64_t)1 << 63) - 1,
    (uint64_t)1 << 63,
    UINT64_MAX - 1,
    UINT64_MAX,
};

static const int64_t svals[] = {
    0,
    1,
    -1,
    63,
    -64,
    64,
    -65,
    1000000,
    -1000000,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    INT64_MIN + 1,
    INT64_MAX - 1,
};

/* Number of bytes a LEB128 varint of v takes. */
static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* An exact-size heap copy, so a read past its end is caught by ASan. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
    uint8_t *const d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n)
        memcpy(d, p, n);
    return d;
}

static void test_varint_known_encodings(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    cbuf_varint(&b, 0);
    cbuf_varint(&b, 127);
    cbuf_varint(&b, 128);
    cbuf_varint(&b, 300);
    assert_false(b.failed);
    const uint8_t expect[] = {0x00, 0x7f, 0x80, 0x01, 0xac, 0x02};
    assert_int_equal(b.len, sizeof expect);
    assert_memory_equal(b.data, expect, sizeof expect);

    cbuf_reset(&b);
    cbuf_varint(&b, UINT64_MAX);
    assert_int_equal(b.len, 10);
    for (int i = 0; i < 9; i++)
        assert_int_equal(b.data[i], 0xff);
    assert_int_equal(b.data[9], 0x01);

    cbuf_reset(&b);
    cbuf_varint(&b, (uint64_t)1 << 63);
    assert_int_equal(b.len, 10);
    for (int i = 0; i < 9; i++)
        assert_int_equal(b.data[i], 0x80);
    assert_int_equal(b.data[9], 0x01);
    cbuf_free(&b);
}

static void test_varint_round_trip(void **state)
{
    (void)state;
    const size_t n = sizeof uvals / sizeof uvals[0];
    cbuf b;
    cbuf_init(&b);
    for (size_t i = 0; i < n; i++) {
        const size_t before = b.len;
        cbuf_varint(&b, uvals[i]);
        assert_int_equal(b.len - before, varint_len(uvals[i]));
    }
    assert_false(b.failed);
    uint8_t *const d = dup_exact(b.data, b.len);
    creader r;
    cr_init(&r, d, b.len);
    for (size_t i = 0; i < n; i++)
        assert_true(cr_varint(&r) == uvals[i]);
    assert_false(r.failed);
    assert_int_equal(r.left, 0);
    /* nothing left: one more read fails */
    assert_true(cr_varint(&r) == 0);
    assert_true(r.failed);
    free(d);
    cbuf_free(&b);
}

static void test_svarint_round_trip(void **state)
{
    (void)state;
    const size_t n = sizeof svals / sizeof svals[0];
    cbuf b;
    cbuf_init(&b);
    for (size_t i = 0; i < n; i++)
        cbuf_svarint(&b, svals[i]);
    assert_false(b.failed);
    uint8_t *const d = dup_exact(b.data, b.len);
    creader r;
    cr_init(&r, d, b.len);
    for (size_t i = 0; i < n; i++)
        assert_true(cr_svarint(&r) == svals[i]);
    assert_false(r.failed);
    assert_int_equal(r.left, 0);
    free(d);

    /* zigzag: small magnitudes take one byte whatever their sign */
    const struct {
        int64_t v;
        uint64_t zz;
    } zz[] = {{0, 0},
              {-1, 1},
              {1, 2},
              {-2, 3},
              {63, 126},
              {-64, 127},
              {INT64_MAX, UINT64_MAX - 1},
              {INT64_MIN, UINT64_MAX}};
    for (size_t i = 0; i < sizeof zz / sizeof zz[0]; i++) {
        cbuf_reset(&b);
        cbuf_svarint(&b, zz[i].v);
        cr_init(&r, b.data, b.len);
        assert_true(cr_varint(&r) == zz[i].zz);
        assert_false(r.failed);
        assert_int_equal(r.left, 0);
    }
    cbuf_free(&b);
}

static void test_fixed_little_endian(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    cbuf_u8(&b, 0xab);
    cbuf_u32(&b, 0x01020304u);
    cbuf_u64(&b, 0x0102030405060708ull);
    cbuf_u32(&b, UINT32_MAX);
    cbuf_u64(&b, UINT64_MAX);
    assert_false(b.failed);
    const uint8_t head[] = {0xab, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1};
    assert_int_equal(b.len, 1 + 4 + 8 + 4 + 8);
    assert_memory_equal(b.data, head, sizeof head);
    uint8_t *const d = dup_exact(b.data, b.len);
    creader r;
    cr_init(&r, d, b.len);
    assert_int_equal(cr_u8(&r), 0xab);
    assert_true(cr_u32(&r) == 0x01020304u);
    assert_true(cr_u64(&r) == 0x0102030405060708ull);
    assert_true(cr_u32(&r) == UINT32_MAX);
    assert_true(cr_u64(&r) == UINT64_MAX);
    assert_false(r.failed);
    assert_int_equal(r.left, 0);
    free(d);

    uint8_t t[8];
    put_u64le(t, 0x1122334455667788ull);
    assert_int_equal(t[0], 0x88);
    assert_int_equal(t[7], 0x11);
    assert_true(get_u64le(t) == 0x1122334455667788ull);
    assert_true(get_u32le(t) == 0x55667788u);
    cbuf_free(&b);
}

/* Every proper prefix of a varint fails, leaves the reader at or before the
 * end, and returns 0. */
static void test_varint_truncated(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    for (size_t i = 0; i < sizeof uvals / sizeof uvals[0]; i++) {
        cbuf_reset(&b);
        cbuf_varint(&b, uvals[i]);
        for (size_t cut = 0; cut < b.len; cut++) {
            uint8_t *const d = dup_exact(b.data, cut);
            creader r;
            cr_init(&r, d, cut);
            assert_true(cr_varint(&r) == 0);
            assert_true(r.failed);
            assert_true(r.left <= cut);
            assert_true(r.p >= d && r.p <= d + cut);
            free(d);
        }
    }
    cbuf_free(&b);
}

static void test_fixed_truncated_and_sticky(void **state)
{
    (void)state;
    const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (size_t cut = 0; cut < 8; cut++) {
        uint8_t *const d = dup_exact(bytes, cut);
        creader r;
        cr_init(&r, d, cut);
        assert_true(cr_u64(&r) == 0);
        assert_true(r.failed);
        assert_int_equal(r.left, cut); /* a failed read consumes nothing */
        free(d);
    }
    for (size_t cut = 0; cut < 4; cut++) {
        uint8_t *const d = dup_exact(bytes, cut);
        creader r;
        cr_init(&r, d, cut);
        assert_true(cr_u32(&r) == 0);
        assert_true(r.failed);
        free(d);
    }
    /* the failure is sticky: later reads fail although bytes remain */
    creader r;
    cr_init(&r, bytes, 3);
    assert_true(cr_u32(&r) == 0);
    assert_true(r.failed);
    assert_int_equal(cr_u8(&r), 0);
    assert_null(cr_bytes(&r, 1));
    assert_true(r.failed);

    cr_init(&r, bytes, 0);
    assert_int_equal(cr_u8(&r), 0);
    assert_true(r.failed);
    cr_init(&r, bytes, 4);
    assert_null(cr_bytes(&r, 5));
    assert_true(r.failed);
    cr_init(&r, bytes, 4);
    assert_ptr_equal(cr_bytes(&r, 4), bytes);
    assert_false(r.failed);
    assert_int_equal(r.left, 0);
    cr_init(&r, bytes, 4);
    assert_null(cr_bytes(&r, SIZE_MAX));
    assert_true(r.failed);
}

static void test_varint_overlong(void **state)
{
    (void)state;
    creader r;
    /* 11 bytes: ten continuation bytes, then a terminator */
    uint8_t eleven[11];
    memset(eleven, 0x80, 10);
    eleven[10] = 0x00;
    uint8_t *d = dup_exact(eleven, sizeof eleven);
    cr_init(&r, d, sizeof eleven);
    assert_true(cr_varint(&r) == 0);
    assert_true(r.failed);
    free(d);

    /* 11 bytes of 0xff (value bits all set) */
    memset(eleven, 0xff, 10);
    eleven[10] = 0x01;
    d = dup_exact(eleven, sizeof eleven);
    cr_init(&r, d, sizeof eleven);
    assert_true(cr_varint(&r) == 0);
    assert_true(r.failed);
    free(d);

    /* ten bytes whose last carries more than the 64th bit: overflow */
    uint8_t ten[10];
    memset(ten, 0xff, 9);
    ten[9] = 0x02;
    d = dup_exact(ten, sizeof ten);
    cr_init(&r, d, sizeof ten);
    assert_true(cr_varint(&r) == 0);
    assert_true(r.failed);
    free(d);
    ten[9] = 0x7f;
    d = dup_exact(ten, sizeof ten);
    cr_init(&r, d, sizeof ten);
    cr_varint(&r);
    assert_true(r.failed);
    free(d);

    /* ten continuation bytes and nothing after: truncated and overlong */
    memset(ten, 0x80, 10);
    d = dup_exact(ten, sizeof ten);
    cr_init(&r, d, sizeof ten);
    cr_varint(&r);
    assert_true(r.failed);
    free(d);

    /* the largest legal ten-byte value still decodes */
    memset(ten, 0xff, 9);
    ten[9] = 0x01;
    d = dup_exact(ten, sizeof ten);
    cr_init(&r, d, sizeof ten);
    assert_true(cr_varint(&r) == UINT64_MAX);
    assert_false(r.failed);
    assert_int_equal(r.left, 0);
    free(d);
}

static void test_str_round_trip_and_limits(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    cbuf_str(&b, "hello", 5);
    cbuf_cstr(&b, "");
    cbuf_cstr(&b, NULL); /* encoded as the empty string */
    cbuf_str(&b, "\0x\0", 3);
    assert_false(b.failed);
    uint8_t *const d = dup_exact(b.data, b.len);
    creader r;
    size_t n;
    cr_init(&r, d, b.len);
    const uint8_t *p = cr_str(&r, 5, &n);
    assert_non_null(p);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "hello", 5);
    char *s = cr_cstr(&r, 10);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    s = cr_cstr(&r, 0);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    p = cr_str(&r, 3, &n);
    assert_non_null(p);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\0x\0", 3);
    assert_false(r.failed);
    assert_int_equal(r.left, 0);
    free(d);

    /* over max: rejected (the limit is inclusive) */
    cbuf_reset(&b);
    cbuf_str(&b, "hello", 5);
    cr_init(&r, b.data, b.len);
    assert_null(cr_str(&r, 4, &n));
    assert_true(r.failed);
    assert_int_equal(n, 0);
    cr_init(&r, b.data, b.len);
    s = cr_cstr(&r, 4);
    assert_null(s);
    assert_true(r.failed);
    cr_init(&r, b.data, b.len);
    s = cr_cstr(&r, 5);
    assert_non_null(s);
    assert_string_equal(s, "hello");
    assert_int_equal(strlen(s), 5);
    free(s);

    /* the length says more than there is, at every cut */
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *const t = dup_exact(b.data, cut);
        cr_init(&r, t, cut);
        assert_null(cr_cstr(&r, 100));
        assert_true(r.failed);
        cr_init(&r, t, cut);
        assert_null(cr_str(&r, 100, &n));
        assert_true(r.failed);
        free(t);
    }

    /* a huge length prefix is rejected without reading */
    cbuf_reset(&b);
    cbuf_varint(&b, UINT64_MAX);
    cbuf_put(&b, "abc", 3);
    cr_init(&r, b.data, b.len);
    assert_null(cr_str(&r, SIZE_MAX, &n));
    assert_true(r.failed);
    cbuf_free(&b);
}

static void test_cstr_rejects_embedded_nul(void **state)
{
    (void)state;
    static const char *const bad[] = {"\0", "a\0", "\0a", "ab\0cd"};
    static const size_t badlen[] = {1, 2, 2, 5};
    cbuf b;
    cbuf_init(&b);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cbuf_reset(&b);
        cbuf_str(&b, bad[i], badlen[i]);
        creader r;
        cr_init(&r, b.data, b.len);
        assert_null(cr_cstr(&r, 100));
        assert_true(r.failed);
        /* cr_str itself accepts the bytes */
        size_t n;
        cr_init(&r, b.data, b.len);
        assert_non_null(cr_str(&r, 100, &n));
        assert_int_equal(n, badlen[i]);
        assert_false(r.failed);
    }
    cbuf_free(&b);
}

static void test_cbuf_growth(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    uint8_t chunk[1000];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 300; i++)
        cbuf_put(&b, chunk, sizeof chunk);
    assert_false(b.failed);
    assert_int_equal(b.len, 300 * sizeof chunk);
    assert_true(b.cap >= b.len);
    for (int i = 0; i < 300; i++)
        assert_memory_equal(b.data + (size_t)i * sizeof chunk, chunk, sizeof chunk);
    cbuf_put(&b, NULL, 0);
    assert_int_equal(b.len, 300 * sizeof chunk);
    cbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_false(b.failed);
    /* an impossible reservation fails and the failure is sticky */
    assert_null(cbuf_reserve(&b, SIZE_MAX));
    assert_true(b.failed);
    cbuf_u8(&b, 1);
    assert_int_equal(b.len, 0);
    cbuf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

/* A zero-byte reservation on a fresh buffer succeeds and says where the
 * (zero) bytes go.  FAILS until codec.c's cbuf_reserve stops returning
 * b->data + b->len while data is NULL: NULL + 0 is undefined behaviour
 * (clang's UBSan aborts on it in CAIRN_SANITIZE/CAIRN_FUZZ builds) and NULL
 * reads as failure under the "NULL on failure" contract.  Reached e.g. by
 * cbuf_put(fresh, p, 0) and by blob_decode of an empty chunk into a fresh
 * output buffer (blob.c, cbuf_reserve(out, 0)). */
static void test_reserve_zero_on_fresh_buffer(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    uint8_t *const p = cbuf_reserve(&b, 0);
    assert_false(b.failed);
    assert_non_null(p);
    assert_int_equal(b.len, 0);
    cbuf_free(&b);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_known_encodings),
        cmocka_unit_test(test_varint_round_trip),
        cmocka_unit_test(test_svarint_round_trip),
        cmocka_unit_test(test_fixed_little_endian),
        cmocka_unit_test(test_varint_truncated),
        cmocka_unit_test(test_fixed_truncated_and_sticky),
        cmocka_unit_test(test_varint_overlong),
        cmocka_unit_test(test_str_round_trip_and_limits),
        cmocka_unit_test(test_cstr_rejects_embedded_nul),
        cmocka_unit_test(test_cbuf_growth),
        cmocka_unit_test(test_reserve_zero_on_fresh_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
