/* test_buf.c - the one growable buffer (cbuf) as a text builder, and the one
 * grow step (util_grow): printf output of any length, the NUL kept after
 * text, and sizes that would overflow refused before any allocation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "util/grow.h"

static void test_printf_grows(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    assert_string_equal(cbuf_text(&b), "");
    cbuf_printf(&b, "%s=%d;", "a", 1);
    assert_string_equal(cbuf_text(&b), "a=1;");
    assert_int_equal(b.len, 4);
    /* far longer than any room the buffer has: the second pass formats it */
    char *const big = malloc(10001);
    assert_non_null(big);
    memset(big, 'x', 10000);
    big[10000] = '\0';
    cbuf_printf(&b, "[%s]%u", big, 42u);
    assert_false(b.failed);
    assert_int_equal(b.len, 4 + 1 + 10000 + 1 + 2);
    assert_int_equal(strlen(cbuf_text(&b)), b.len);
    assert_memory_equal(b.data, "a=1;[xxx", 8);
    assert_string_equal(cbuf_text(&b) + b.len - 4, "x]42");
    /* many small appends, each exactly filling what is left at some point */
    cbuf_reset(&b);
    assert_string_equal(cbuf_text(&b), "");
    for (int i = 0; i < 1000; i++)
        cbuf_printf(&b, "%d,", i % 10);
    assert_int_equal(b.len, 2000);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(b.data[2 * i], '0' + i % 10);
        assert_int_equal(b.data[2 * i + 1], ',');
    }
    assert_int_equal(b.data[b.len], '\0');
    free(big);
    cbuf_free(&b);
}

static void test_put_keeps_text_terminated(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    cbuf_put(&b, "abc", 3);
    assert_string_equal(cbuf_text(&b), "abc");
    cbuf_put(&b, "", 0);
    cbuf_printf(&b, "%c", 'd');
    cbuf_put(&b, "ef", 2);
    assert_string_equal(cbuf_text(&b), "abcdef");
    assert_int_equal(b.len, 6);
    char *const s = cbuf_take_text(&b);
    assert_string_equal(s, "abcdef");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    /* an empty buffer hands over an empty string, not NULL */
    char *const e = cbuf_take_text(&b);
    assert_non_null(e);
    assert_string_equal(e, "");
    free(e);
    cbuf_free(&b);
}

static void test_failure_is_sticky(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    cbuf_printf(&b, "kept");
    assert_null(cbuf_reserve(&b, SIZE_MAX));
    assert_true(b.failed);
    cbuf_printf(&b, "%s", "more");
    assert_int_equal(b.len, 4);
    /* what came before the failure stays readable, terminated */
    assert_string_equal(cbuf_text(&b), "kept");
    assert_null(cbuf_take_text(&b));
    assert_null(b.data);
    cbuf_free(&b);
}

static void test_grow(void **state)
{
    (void)state;
    uint64_t *v = NULL;
    size_t cap = 0;
    assert_int_equal(util_grow(&v, &cap, 0, sizeof *v), CAIRN_OK);
    assert_null(v);
    assert_int_equal(cap, 0);
    for (size_t n = 0; n < 1000; n++) {
        assert_int_equal(util_grow(&v, &cap, n + 1, sizeof *v), CAIRN_OK);
        assert_true(cap >= n + 1);
        v[n] = n * 3;
    }
    for (size_t n = 0; n < 1000; n++)
        assert_int_equal(v[n], n * 3);
    /* doubling: 1000 appends took at most a handful of reallocations */
    assert_true(cap < 2048);
    /* a big step goes straight to what is needed */
    assert_int_equal(util_grow(&v, &cap, 100000, sizeof *v), CAIRN_OK);
    assert_true(cap >= 100000);
    free(v);
}

static void test_grow_refuses_overflow(void **state)
{
    (void)state;
    uint64_t *v = NULL;
    size_t cap = 0;
    assert_int_equal(util_grow(&v, &cap, 4, sizeof *v), CAIRN_OK);
    uint64_t *const before = v;
    const size_t cap_before = cap;
    /* need * elem wraps around size_t: a naive realloc(need * elem) would
     * get a tiny buffer */
    const size_t wrap = SIZE_MAX / sizeof *v + 2;
    assert_int_equal(util_grow(&v, &cap, wrap, sizeof *v), CAIRN_ENOMEM);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, cap_before);
    assert_int_equal(util_grow(&v, &cap, SIZE_MAX, 1), CAIRN_ENOMEM);
    assert_int_equal(util_grow(&v, &cap, (size_t)PTRDIFF_MAX / 8 + 1, 8), CAIRN_ENOMEM);
    /* a capacity near the top does not wrap when doubled */
    size_t huge = SIZE_MAX / 2 + 1;
    assert_int_equal(util_grow(&v, &huge, SIZE_MAX, 1), CAIRN_ENOMEM);
    assert_int_equal(huge, SIZE_MAX / 2 + 1);
    assert_ptr_equal(v, before);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printf_grows),
        cmocka_unit_test(test_put_keeps_text_terminated),
        cmocka_unit_test(test_failure_is_sticky),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_grow_refuses_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
