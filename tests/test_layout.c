/* test_layout.c - object names: every builder's name parses back to its kind
 * and ID, and the parser refuses what a builder never writes (bad or
 * uppercase hex, wrong length, trailing junk, a pack filed under another
 * folder than its ID names). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "store/layout.h"

static void fill_id(uint8_t id[ID_LEN], uint8_t first)
{
    for (size_t i = 0; i < ID_LEN; i++)
        id[i] = (uint8_t)(first + 37 * i);
}

static void test_pack_name_round_trip(void **state)
{
    (void)state;
    uint8_t id[ID_LEN], back[ID_LEN];
    char name[STORE_NAME_MAX];
    fill_id(id, 0xab);
    store_name_pack(id, name);
    assert_string_equal(
        name, "packs/ab/abd0f51a3f6489aed3f81d42678cb1d6fb20456a8fb4d9fe23486d92b7dc0126");
    assert_int_equal(store_name_parse(name, back), STORE_OBJ_PACK);
    assert_memory_equal(back, id, ID_LEN);
    assert_int_equal(store_name_parse(name, NULL), STORE_OBJ_PACK);
}

static void test_snapshot_and_chain_round_trip(void **state)
{
    (void)state;
    uint8_t id[ID_LEN], back[ID_LEN];
    char name[STORE_NAME_MAX];
    fill_id(id, 0x00);
    store_name_snapshot(id, name);
    assert_int_equal(strncmp(name, "snapshots/0025", 14), 0);
    assert_int_equal(strlen(name), 10 + 2 * ID_LEN);
    assert_int_equal(store_name_parse(name, back), STORE_OBJ_SNAPSHOT);
    assert_memory_equal(back, id, ID_LEN);
    store_name_chain(id, name);
    assert_int_equal(strncmp(name, "chains/0025", 11), 0);
    assert_int_equal(store_name_parse(name, back), STORE_OBJ_CHAIN);
    assert_memory_equal(back, id, ID_LEN);
}

static void test_key_and_config(void **state)
{
    (void)state;
    uint8_t back[ID_LEN];
    const uint8_t want[ID_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    char name[STORE_NAME_MAX];
    assert_int_equal(store_name_key("0123456789abcdef", name), CAIRN_OK);
    assert_string_equal(name, "keys/0123456789abcdef");
    memset(back, 0xff, sizeof back);
    assert_int_equal(store_name_parse(name, back), STORE_OBJ_KEY);
    assert_memory_equal(back, want, ID_LEN);
    assert_int_equal(store_name_key("0123456789ABCDEF", name), CAIRN_EINVAL);
    assert_int_equal(store_name_key("0123456789abcde", name), CAIRN_EINVAL);
    assert_int_equal(store_name_key("../config", name), CAIRN_EINVAL);
    assert_int_equal(store_name_parse("config", NULL), STORE_OBJ_CONFIG);
    assert_string_equal(STORE_NAME_CONFIG, "config");
}

static void test_prefixes(void **state)
{
    (void)state;
    assert_string_equal(store_name_prefix(STORE_OBJ_PACK), "packs/");
    assert_string_equal(store_name_prefix(STORE_OBJ_SNAPSHOT), "snapshots/");
    assert_string_equal(store_name_prefix(STORE_OBJ_CHAIN), "chains/");
    assert_string_equal(store_name_prefix(STORE_OBJ_KEY), "keys/");
    assert_string_equal(store_name_prefix(STORE_OBJ_CONFIG), "config");
    assert_null(store_name_prefix(STORE_OBJ_UNKNOWN));
}

static void test_rejects(void **state)
{
    (void)state;
    uint8_t id[ID_LEN];
    char good[STORE_NAME_MAX], bad[STORE_NAME_MAX + 8];
    fill_id(id, 0xab);
    store_name_pack(id, good);
    /* the folder must be the ID's first two digits: copy.c checked this,
     * repair.c and the index rebuild did not */
    strcpy(bad, good);
    bad[6] = 'c';
    assert_int_equal(store_name_parse(bad, id), STORE_OBJ_UNKNOWN);
    strcpy(bad, good);
    bad[7] = '0';
    assert_int_equal(store_name_parse(bad, NULL), STORE_OBJ_UNKNOWN);
    /* bad hex, uppercase hex, wrong length, trailing junk */
    strcpy(bad, good);
    bad[20] = 'g';
    assert_int_equal(store_name_parse(bad, NULL), STORE_OBJ_UNKNOWN);
    strcpy(bad, good);
    bad[20] = 'A';
    assert_int_equal(store_name_parse(bad, NULL), STORE_OBJ_UNKNOWN);
    strcpy(bad, good);
    bad[strlen(bad) - 1] = '\0';
    assert_int_equal(store_name_parse(bad, NULL), STORE_OBJ_UNKNOWN);
    snprintf(bad, sizeof bad, "%s0", good);
    assert_int_equal(store_name_parse(bad, NULL), STORE_OBJ_UNKNOWN);
    snprintf(bad, sizeof bad, "%s.part", good);
    assert_int_equal(store_name_parse(bad, NULL), STORE_OBJ_UNKNOWN);
    snprintf(bad, sizeof bad, "%s/", good);
    assert_int_equal(store_name_parse(bad, NULL), STORE_OBJ_UNKNOWN);
    store_name_snapshot(id, good);
    snprintf(bad, sizeof bad, "%s~", good);
    assert_int_equal(store_name_parse(bad, NULL), STORE_OBJ_UNKNOWN);
    /* a snapshot ID under packs/ without its folder */
    snprintf(bad, sizeof bad, "packs/%s", good + 10);
    assert_int_equal(store_name_parse(bad, NULL), STORE_OBJ_UNKNOWN);
    /* names that only look alike */
    assert_int_equal(store_name_parse("configx", NULL), STORE_OBJ_UNKNOWN);
    assert_int_equal(store_name_parse("config/", NULL), STORE_OBJ_UNKNOWN);
    assert_int_equal(store_name_parse("", NULL), STORE_OBJ_UNKNOWN);
    assert_int_equal(store_name_parse("keys/0123456789abcdef0", NULL), STORE_OBJ_UNKNOWN);
    assert_int_equal(store_name_parse("keys/.0123456789abcde", NULL), STORE_OBJ_UNKNOWN);
    assert_int_equal(store_name_parse("keysx/0123456789abcdef", NULL), STORE_OBJ_UNKNOWN);
    assert_int_equal(store_name_parse("tmp/0123456789abcdef", NULL), STORE_OBJ_UNKNOWN);
    assert_int_equal(store_name_parse("lock", NULL), STORE_OBJ_UNKNOWN);
    assert_int_equal(store_name_parse("targets", NULL), STORE_OBJ_UNKNOWN);
    /* a rejected name leaves no stale ID behind */
    memset(id, 0xff, sizeof id);
    assert_int_equal(store_name_parse("snapshots/xyz", id), STORE_OBJ_UNKNOWN);
    const uint8_t zero[ID_LEN] = {0};
    assert_memory_equal(id, zero, ID_LEN);
}

static void test_object_path(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(store_object_path("/s", STORE_NAME_CONFIG, out, sizeof out), CAIRN_OK);
    assert_string_equal(out, "/s/config");
    assert_int_equal(store_object_path("/s", STORE_DIR_KEYS, out, sizeof out), CAIRN_OK);
    assert_string_equal(out, "/s/keys");
    assert_int_equal(store_object_path("/a/very/long/store/folder", "snapshots", out, sizeof out),
                     CAIRN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_name_round_trip),
        cmocka_unit_test(test_snapshot_and_chain_round_trip),
        cmocka_unit_test(test_key_and_config),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_object_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
