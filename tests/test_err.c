/* test_err.c - the thread-local error message: a new message may be built
 * from the current one (err_set(..., "%s", err_msg()) wraps it, once or
 * again and again), a message longer than the buffer is cut cleanly (at the
 * limit, never inside a UTF-8 character), err_wrap prefixes, and each thread
 * has its own message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "util/err.h"

static void test_plain_message(void **state)
{
    (void)state;
    assert_int_equal(err_set(CAIRN_EIO, "%s: %d bytes", "f.txt", 12), CAIRN_EIO);
    assert_string_equal(err_msg(), "f.txt: 12 bytes");
    assert_int_equal(err_set(CAIRN_OK, "%s", ""), CAIRN_OK);
    assert_string_equal(err_msg(), "");
}

/* prune's "snapshot X cannot be read (%s): nothing was deleted" */
static void test_wrap_own_message(void **state)
{
    (void)state;
    err_set(CAIRN_ENOTFOUND, "packs/ab/abcdef: No such file or directory");
    assert_int_equal(err_set(CAIRN_ECORRUPT, "x (%s)", err_msg()), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "x (packs/ab/abcdef: No such file or directory)");
}

static void test_wrap_own_message_twice(void **state)
{
    (void)state;
    err_set(CAIRN_EIO, "inner");
    err_set(CAIRN_EIO, "middle (%s)", err_msg());
    err_set(CAIRN_EIO, "outer (%s): done", err_msg());
    assert_string_equal(err_msg(), "outer (middle (inner)): done");
}

/* arguments that start inside the message, and the message used twice */
static void test_arguments_inside_message(void **state)
{
    (void)state;
    err_set(CAIRN_EIO, "abc: def");
    err_set(CAIRN_EIO, "[%s] [%s] [%.3s]", err_msg() + 5, err_msg(), err_msg());
    assert_string_equal(err_msg(), "[def] [abc: def] [abc]");
}

static void test_long_message_is_cut_at_the_limit(void **state)
{
    (void)state;
    char *const big = malloc(3 * ERR_MSG_MAX);
    assert_non_null(big);
    memset(big, 'a', 3 * ERR_MSG_MAX - 1);
    big[3 * ERR_MSG_MAX - 1] = '\0';
    assert_int_equal(err_set(CAIRN_EIO, "%s", big), CAIRN_EIO);
    assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 1);
    assert_memory_equal(err_msg(), big, ERR_MSG_MAX - 1);
    /* wrapping a full message keeps the wrapper and cuts the inner one */
    err_set(CAIRN_EIO, "x (%s)", err_msg());
    assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 1);
    assert_memory_equal(err_msg(), "x (", 3);
    assert_memory_equal(err_msg() + 3, big, ERR_MSG_MAX - 4);
    free(big);
}

/* a cut through "é" (C3 A9) must not leave the lone C3 behind; a complete
 * character right at the limit stays */
static void test_cut_never_splits_a_character(void **state)
{
    (void)state;
    char text[ERR_MSG_MAX + 8];
    memset(text, 'a', ERR_MSG_MAX - 2);
    strcpy(text + ERR_MSG_MAX - 2, "\xc3\xa9tail");
    err_set(CAIRN_EIO, "%s", text);
    assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 2);
    assert_memory_equal(err_msg(), text, ERR_MSG_MAX - 2);

    memset(text, 'a', ERR_MSG_MAX - 3);
    strcpy(text + ERR_MSG_MAX - 3, "\xc3\xa9tail");
    err_set(CAIRN_EIO, "%s", text);
    assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 1);
    assert_memory_equal(err_msg(), text, ERR_MSG_MAX - 1);

    /* a 4-byte character (U+1F600) cut after 1, 2 and 3 of its bytes */
    for (size_t keep = 1; keep <= 3; keep++) {
        const size_t pad = ERR_MSG_MAX - 1 - keep;
        memset(text, 'b', pad);
        strcpy(text + pad, "\xf0\x9f\x98\x80z");
        err_set(CAIRN_EIO, "%s", text);
        assert_int_equal(strlen(err_msg()), pad);
    }
}

static void test_wrap_prefixes(void **state)
{
    (void)state;
    err_set(CAIRN_ECORRUPT, "authentication failed");
    assert_int_equal(err_wrap(CAIRN_ECORRUPT, "snapshots/12ab"), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "snapshots/12ab: authentication failed");
    /* a context taken from the message itself */
    err_set(CAIRN_EIO, "boom");
    err_wrap(CAIRN_EIO, err_msg());
    assert_string_equal(err_msg(), "boom: boom");
}

static void test_errno_mapping(void **state)
{
    (void)state;
    assert_int_equal(err_errno(ENOSPC, "packs/tmp"), CAIRN_ENOSPC);
    assert_string_equal(err_msg(), "packs/tmp: No space left on device");
    assert_int_equal(err_errno(ENOENT, "x"), CAIRN_ENOTFOUND);
    assert_int_equal(err_errno(EACCES, "x"), CAIRN_EIO);
    assert_string_equal(err_msg(), "x: Permission denied");
    /* a quota is a full disk to the user */
    assert_int_equal(err_errno(EDQUOT, "packs/tmp"), CAIRN_ENOSPC);
    assert_string_equal(err_msg(), "packs/tmp: Disk quota exceeded");
    assert_int_equal(err_errno(ENOMEM, "index"), CAIRN_ENOMEM);
    assert_string_equal(err_msg(), "index: Cannot allocate memory");
    assert_int_equal(err_errno(EEXIST, "lock"), CAIRN_EEXIST);
    assert_string_equal(err_msg(), "lock: File exists");
    assert_int_equal(err_errno(EINTR, "read"), CAIRN_EINTERRUPTED);
    assert_string_equal(err_msg(), "read: Interrupted system call");
}

/* an argument vsnprintf cannot encode (a lone UTF-16 surrogate) must not
 * leave a half-built or stale message: the format itself is kept */
static void test_encoding_error_keeps_the_format(void **state)
{
    (void)state;
    const wchar_t lone[] = {0xD800, 0};
    err_set(CAIRN_EIO, "an older message");
    assert_int_equal(err_set(CAIRN_ECORRUPT, "name %ls: bad", lone), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "name %ls: bad");
}

/* a context that alone fills the buffer cannot prefix anything: the inner
 * message, which says what failed, is kept whole */
static void test_wrap_with_oversized_context(void **state)
{
    (void)state;
    char ctx[ERR_MSG_MAX];
    memset(ctx, 'c', sizeof ctx - 1);
    ctx[sizeof ctx - 1] = '\0';
    err_set(CAIRN_EIO, "disk on fire");
    assert_int_equal(err_wrap(CAIRN_ENOSPC, ctx), CAIRN_ENOSPC);
    assert_string_equal(err_msg(), "disk on fire");
    /* the longest context that still fits: ctx, ": " and the terminator */
    ctx[ERR_MSG_MAX - 3] = '\0';
    assert_int_equal(err_wrap(CAIRN_EIO, ctx), CAIRN_EIO);
    assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 1);
    assert_memory_equal(err_msg(), ctx, ERR_MSG_MAX - 3);
    assert_memory_equal(err_msg() + ERR_MSG_MAX - 3, ": ", 2);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(err_name(CAIRN_OK), "ok");
    assert_string_equal(err_name(CAIRN_EIO), "io");
    assert_string_equal(err_name(CAIRN_ENOSPC), "nospace");
    assert_string_equal(err_name(CAIRN_EMODULE), "module");
    /* codes outside the table, either side */
    assert_string_equal(err_name((cairn_err)(CAIRN_EMODULE - 1)), "unknown");
    assert_string_equal(err_name((cairn_err)1), "unknown");
}

static void *set_other_message(void *arg)
{
    (void)arg;
    err_set(CAIRN_EIO, "from the other thread");
    return NULL;
}

static void test_message_per_thread(void **state)
{
    (void)state;
    err_set(CAIRN_EIO, "from this thread");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, set_other_message, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_string_equal(err_msg(), "from this thread");
}

/* CAIRN_ASSERT=ON (sanitizer, fuzz and Debug builds) must take NDEBUG out
 * of every build type's flags, or the invariant asserts are silently off */
static void test_asserts_as_configured(void **state)
{
    (void)state;
#if defined(CAIRN_EXPECT_ASSERTS) && defined(NDEBUG)
    fail_msg("built with CAIRN_ASSERT=ON, yet NDEBUG is defined: assert() does nothing");
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_message),
        cmocka_unit_test(test_wrap_own_message),
        cmocka_unit_test(test_wrap_own_message_twice),
        cmocka_unit_test(test_arguments_inside_message),
        cmocka_unit_test(test_long_message_is_cut_at_the_limit),
        cmocka_unit_test(test_cut_never_splits_a_character),
        cmocka_unit_test(test_wrap_prefixes),
        cmocka_unit_test(test_errno_mapping),
        cmocka_unit_test(test_encoding_error_keeps_the_format),
        cmocka_unit_test(test_wrap_with_oversized_context),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_message_per_thread),
        cmocka_unit_test(test_asserts_as_configured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
