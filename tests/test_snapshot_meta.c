/* test_snapshot_meta.c - the typed accessors of snapshot metadata: UDIDs
 * compare case-insensitively, the device selector takes a UDID in any case
 * or the exact name, and the encrypted / decrypted / finished flags read
 * only their exact values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "engine/core/snapshot.h"

static const char UDID[] = "00008120-001A2B3C4D5E6F70";

static void device_snapshot(snapshot *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(snapshot_set_meta(s, SNAP_META_UDID, UDID), CAIRN_OK);
    assert_int_equal(snapshot_set_meta(s, SNAP_META_DEVICE_NAME, "Dana iPhone"), CAIRN_OK);
}

static void test_plain_folder_is_no_device(void **state)
{
    (void)state;
    snapshot s;
    memset(&s, 0, sizeof s);
    assert_false(snapshot_is_device(&s));
    assert_null(snapshot_udid(&s));
    assert_null(snapshot_device_name(&s));
    assert_false(snapshot_udid_is(&s, UDID));
    assert_false(snapshot_is_encrypted_backup(&s));
    assert_false(snapshot_is_decrypted(&s));
    assert_false(snapshot_device_finished(&s));
    assert_true(snapshot_matches_device(&s, NULL));
    assert_false(snapshot_matches_device(&s, "Dana iPhone"));
    snapshot_free(&s);
}

static void test_udid_any_case(void **state)
{
    (void)state;
    snapshot s;
    device_snapshot(&s);
    assert_true(snapshot_is_device(&s));
    assert_string_equal(snapshot_udid(&s), UDID);
    assert_string_equal(snapshot_device_name(&s), "Dana iPhone");
    assert_true(snapshot_udid_is(&s, UDID));
    assert_true(snapshot_udid_is(&s, "00008120-001a2b3c4d5e6f70"));
    assert_false(snapshot_udid_is(&s, "00008120-001A2B3C4D5E6F7"));
    assert_false(snapshot_udid_is(&s, NULL));
    assert_true(snapshot_matches_device(&s, "00008120-001a2b3c4d5e6f70"));
    assert_true(snapshot_matches_device(&s, "Dana iPhone"));
    /* names are what the user typed in Settings: exact */
    assert_false(snapshot_matches_device(&s, "dana iphone"));
    assert_false(snapshot_matches_device(&s, "Other"));
    snapshot_free(&s);
}

static void test_encryption_flags(void **state)
{
    (void)state;
    snapshot s;
    device_snapshot(&s);
    assert_int_equal(snapshot_set_meta(&s, SNAP_META_IS_ENCRYPTED, "false"), CAIRN_OK);
    assert_false(snapshot_is_encrypted_backup(&s));
    snapshot_free(&s);

    device_snapshot(&s);
    assert_int_equal(snapshot_set_meta(&s, SNAP_META_IS_ENCRYPTED, "true"), CAIRN_OK);
    assert_int_equal(snapshot_set_meta(&s, SNAP_META_CONTENTS, SNAP_CONTENTS_ENCRYPTED), CAIRN_OK);
    assert_true(snapshot_is_encrypted_backup(&s));
    assert_false(snapshot_is_decrypted(&s));
    snapshot_free(&s);

    device_snapshot(&s);
    assert_int_equal(snapshot_set_meta(&s, SNAP_META_IS_ENCRYPTED, "true"), CAIRN_OK);
    assert_int_equal(snapshot_set_meta(&s, SNAP_META_CONTENTS, SNAP_CONTENTS_DECRYPTED), CAIRN_OK);
    assert_true(snapshot_is_decrypted(&s));
    assert_string_equal(snapshot_get_meta(&s, "device.contents"), "decrypted");
    snapshot_free(&s);
}

static void test_finished_state(void **state)
{
    (void)state;
    snapshot s;
    device_snapshot(&s);
    assert_int_equal(snapshot_set_meta(&s, SNAP_META_SNAPSHOT_STATE, "uploading"), CAIRN_OK);
    assert_false(snapshot_device_finished(&s));
    snapshot_free(&s);
    device_snapshot(&s);
    assert_int_equal(snapshot_set_meta(&s, SNAP_META_SNAPSHOT_STATE, "finished"), CAIRN_OK);
    assert_true(snapshot_device_finished(&s));
    snapshot_free(&s);
}

/* The keys are what stores written before the constants hold. */
static void test_key_spelling(void **state)
{
    (void)state;
    assert_string_equal(SNAP_META_UDID, "device.udid");
    assert_string_equal(SNAP_META_DEVICE_NAME, "device.device_name");
    assert_string_equal(SNAP_META_IS_ENCRYPTED, "device.is_encrypted");
    assert_string_equal(SNAP_META_CONTENTS, "device.contents");
    assert_string_equal(SNAP_META_SNAPSHOT_STATE, "device.snapshot_state");
    assert_string_equal(SNAP_META_LAST_BACKUP_DATE, "device.last_backup_date");
    assert_string_equal(SNAP_META_ROOT_MODE, "cairn.root_mode");
    assert_string_equal(SNAP_META_REPAIRED_FROM, "cairn.repaired_from");
    assert_string_equal(SNAP_META_LOST, "cairn.lost");
    assert_string_equal(SNAP_META_LOST_COUNT, "cairn.lost_count");
}

static void test_device_fields(void **state)
{
    (void)state;
    assert_string_equal(snapshot_meta_device_field(SNAP_META_DEVICE_NAME), "device_name");
    assert_string_equal(snapshot_meta_device_field(SNAP_META_UDID), "udid");
    assert_null(snapshot_meta_device_field(SNAP_META_ROOT_MODE));
    assert_null(snapshot_meta_device_field("devices"));
    assert_true(snapshot_meta_is_time(SNAP_META_LAST_BACKUP_DATE));
    assert_true(snapshot_meta_is_time("device.status_date"));
    assert_false(snapshot_meta_is_time(SNAP_META_PRODUCT_VERSION));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_folder_is_no_device),
        cmocka_unit_test(test_udid_any_case),
        cmocka_unit_test(test_encryption_flags),
        cmocka_unit_test(test_finished_state),
        cmocka_unit_test(test_key_spelling),
        cmocka_unit_test(test_device_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
