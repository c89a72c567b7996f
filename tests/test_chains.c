/* test_chains.c - chain records with pins: version 1 bytes unchanged
 * without pins, version 2 round trip, malformed pin lists refused; pin,
 * unpin and archive on a store keep each other's state, and an active
 * chain without pins has no record. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/chains.h"
#include "testutil.h"

static const char PW[] = "chains-test-password";

static void record_encoding(void **state)
{
    (void)state;
    chain_record r = {"device:X/unencrypted", 1, 1700000000, "archived by hand", 0, NULL};
    cbuf b;
    cbuf_init(&b);
    assert_int_equal(chain_record_encode(&r, &b), CAIRN_OK);
    assert_int_equal(b.data[0], 1); /* no pins: version 1, as before pins existed */
    chain_record d;
    assert_int_equal(chain_record_decode(b.data, b.len, &d), CAIRN_OK);
    assert_int_equal(d.npins, 0);
    chain_record_free(&d);
    chain_pin pins[2] = {{{1}, 1700000001, "deletion alarm: snapshot 12345678 lost 1 conversation"},
                         {{2}, 1700000002, ""}};
    r.npins = 2;
    r.pins = pins;
    cbuf_reset(&b);
    assert_int_equal(chain_record_encode(&r, &b), CAIRN_OK);
    assert_int_equal(b.data[0], 2);
    assert_int_equal(chain_record_decode(b.data, b.len, &d), CAIRN_OK);
    assert_int_equal(d.npins, 2);
    assert_int_equal(d.pins[0].snapshot[0], 1);
    assert_int_equal(d.pins[1].at, 1700000002);
    assert_string_equal(d.pins[0].reason, pins[0].reason);
    assert_string_equal(d.archived ? d.reason : "", "archived by hand");
    chain_record_free(&d);
    /* every shorter prefix and one trailing byte are malformed */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(chain_record_decode(b.data, n, &d), CAIRN_ECORRUPT);
    cbuf_u8(&b, 0);
    assert_int_equal(chain_record_decode(b.data, b.len, &d), CAIRN_ECORRUPT);
    cbuf_free(&b);
}

static void pins_on_a_store(void **state)
{
    (void)state;
    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/cairn-test-chains-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/store", dir);
    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    const store_params params = {4096, 16384, 65536, 256 * 1024, 3, 0, 0, 0};
    store *s = NULL;
    assert_int_equal(store_create(path, PW, strlen(PW), &kdf, &params), CAIRN_OK);
    assert_int_equal(store_open(path, PW, strlen(PW), STORE_WRITE, &s), CAIRN_OK);
    const uint8_t a[ID_LEN] = {0xaa}, b[ID_LEN] = {0xbb};
    int added = 0;
    chain_list l;
    assert_int_equal(chains_pin(s, "c", a, "first", &added), CAIRN_OK);
    assert_int_equal(added, 1);
    assert_int_equal(chains_pin(s, "c", a, "again", &added), CAIRN_OK);
    assert_int_equal(added, 0);
    assert_int_equal(chains_pin(s, "c", b, "second", &added), CAIRN_OK);
    assert_int_equal(chains_archive(s, "c", "archived"), CAIRN_OK);
    assert_int_equal(chains_load(s, &l), CAIRN_OK);
    assert_int_equal(l.count, 1);
    assert_true(chains_is_archived(&l, "c"));
    assert_string_equal(chains_pinned(&l, "c", a), "first");
    assert_string_equal(chains_pinned(&l, "c", b), "second");
    assert_null(chains_pinned(&l, "other", a));
    chains_free(&l);
    assert_int_equal(chains_unpin(s, "c", a), CAIRN_OK);
    assert_int_equal(chains_unpin(s, "c", a), CAIRN_ENOTFOUND);
    /* an active chain loses its record with its last pin */
    assert_int_equal(chains_pin(s, "d", a, "x", &added), CAIRN_OK);
    assert_int_equal(chains_unpin(s, "d", a), CAIRN_OK);
    assert_int_equal(chains_load(s, &l), CAIRN_OK);
    assert_int_equal(l.count, 1); /* "c" only: archived, still pinning b */
    assert_string_equal(chains_pinned(&l, "c", b), "second");
    chains_free(&l);
    store_close(s);
    test_rmtree(dir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_encoding),
        cmocka_unit_test(pins_on_a_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
