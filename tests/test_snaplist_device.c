/* test_snaplist_device.c - how --device names a device among the store's
 * snapshots (UDID in any case, then a whole name in any case, then a prefix
 * that fits one device), and how "latest" is scoped to it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine/core/snapshot_list.h"

static const char UA[] = "00008110-000A1B2C3D4E5F60";
static const char UB[] = "00008101-0019283746ABCDEF";
static const char UC[] = "3F2A9C1E5B7D4A6F8E0C1B2A3D4E5F6A7B8C9D0E";

/* Appends a snapshot (newer than the ones before it); udid NULL: a folder. */
static void add(snaplist *l, const char *udid, const char *name)
{
    snapshot *const s = &l->items[l->count];
    memset(s, 0, sizeof *s);
    s->time_sec = (int64_t)l->count + 1;
    s->id[0] = (uint8_t)(0x10 + l->count);
    if (udid)
        assert_int_equal(snapshot_set_meta(s, SNAP_META_UDID, udid), CAIRN_OK);
    if (name)
        assert_int_equal(snapshot_set_meta(s, SNAP_META_DEVICE_NAME, name), CAIRN_OK);
    l->count++;
}

static snaplist make(void)
{
    snaplist l = {calloc(8, sizeof(snapshot)), 0, 0};
    assert_non_null(l.items);
    return l;
}

static const char *pick(const snaplist *l, const char *sel, cairn_err want)
{
    const char *udid = NULL;
    assert_int_equal(snaplist_device(l, sel, &udid), want);
    return udid;
}

static void test_one_device(void **state)
{
    (void)state;
    snaplist l = make();
    const snapshot *sn = NULL;
    add(&l, UA, "Alice iPhone");
    add(&l, NULL, NULL); /* a folder backed up after it */
    assert_string_equal(pick(&l, NULL, CAIRN_OK), UA);
    assert_string_equal(pick(&l, "", CAIRN_OK), UA);
    /* a device command's latest is the device's; any other command's the newest */
    assert_int_equal(snaplist_find_for(&l, "latest", NULL, 1, &sn), CAIRN_OK);
    assert_ptr_equal(sn, &l.items[0]);
    assert_int_equal(snaplist_find_for(&l, "latest", NULL, 0, &sn), CAIRN_OK);
    assert_ptr_equal(sn, &l.items[1]);
    assert_int_equal(snaplist_find_for(&l, "latest", "alice", 0, &sn), CAIRN_OK);
    assert_ptr_equal(sn, &l.items[0]);
    pick(&l, "Bob", CAIRN_ENOTFOUND);
    snaplist_free(&l);
}

static void test_no_devices(void **state)
{
    (void)state;
    snaplist l = make();
    const snapshot *sn = NULL;
    add(&l, NULL, NULL);
    pick(&l, NULL, CAIRN_ENOTFOUND);
    pick(&l, "alice", CAIRN_ENOTFOUND);
    /* no device at all: a device command's latest keeps its plain meaning */
    assert_int_equal(snaplist_find_for(&l, "latest", NULL, 1, &sn), CAIRN_OK);
    assert_ptr_equal(sn, &l.items[0]);
    assert_int_equal(snaplist_find_for(&l, "latest", "alice", 1, &sn), CAIRN_ENOTFOUND);
    snaplist_free(&l);
}

static void test_several_devices(void **state)
{
    (void)state;
    snaplist l = make();
    const snapshot *sn = NULL;
    add(&l, UA, "Alice iPhone");
    add(&l, UB, "Bob");
    add(&l, UC, "Bobby iPad");
    add(&l, UA, "Alice iPhone");
    add(&l, UC, "Bobby iPad");
    pick(&l, NULL, CAIRN_EAMBIGUOUS);
    assert_int_equal(snaplist_find_for(&l, "latest", NULL, 1, &sn), CAIRN_EAMBIGUOUS);
    assert_non_null(strstr(err_msg(), "3 devices"));
    /* UDID in any case, and its prefix */
    assert_string_equal(pick(&l, "00008110-000a1b2c3d4e5f60", CAIRN_OK), UA);
    assert_string_equal(pick(&l, "3f2a", CAIRN_OK), UC);
    pick(&l, "0000", CAIRN_EAMBIGUOUS);
    /* a whole name in any case wins over a longer name it is a prefix of */
    assert_string_equal(pick(&l, "bob", CAIRN_OK), UB);
    assert_string_equal(pick(&l, "BOBB", CAIRN_OK), UC);
    assert_string_equal(pick(&l, "alice IPHONE", CAIRN_OK), UA);
    assert_string_equal(pick(&l, "Al", CAIRN_OK), UA);
    pick(&l, "Carol", CAIRN_ENOTFOUND);
    assert_non_null(strstr(err_msg(), "Bobby iPad ("
                                      "3F2A9C1E5B7D4A6F8E0C1B2A3D4E5F6A7B8C9D0E)"));
    /* latest of a device is its newest snapshot */
    assert_int_equal(snaplist_find_for(&l, "latest", "alice", 1, &sn), CAIRN_OK);
    assert_ptr_equal(sn, &l.items[3]);
    assert_int_equal(snaplist_find_for(&l, "latest", "bob", 0, &sn), CAIRN_OK);
    assert_ptr_equal(sn, &l.items[1]);
    /* an ID is never scoped */
    assert_int_equal(snaplist_find_for(&l, "1100", "alice", 1, &sn), CAIRN_OK);
    assert_ptr_equal(sn, &l.items[1]);
    snaplist_free(&l);
}

static void test_renamed_device(void **state)
{
    (void)state;
    snaplist l = make();
    add(&l, UA, "Old Name");
    add(&l, UB, "Bob");
    add(&l, UA, "New Name");
    /* any name its snapshots carried finds it; messages use the newest */
    assert_string_equal(pick(&l, "old name", CAIRN_OK), UA);
    assert_string_equal(pick(&l, "new", CAIRN_OK), UA);
    pick(&l, "x", CAIRN_ENOTFOUND);
    assert_non_null(strstr(err_msg(), "New Name (00008110-000A1B2C3D4E5F60)"));
    assert_null(strstr(err_msg(), "Old Name"));
    snaplist_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_device),
        cmocka_unit_test(test_no_devices),
        cmocka_unit_test(test_several_devices),
        cmocka_unit_test(test_renamed_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
