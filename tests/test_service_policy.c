/* test_service_policy.c - the service's policy and state files
 * (engine/service/policy.h, state.h): a device's policy is defaults, then
 * [default], then its section (UDID before name); every strictness rule is
 * an error naming the line; policy_set keeps comments, replaces a key in
 * place, adds keys and sections, refuses bad values and leaves the file as
 * it was; credential:NAME resolves under $CREDENTIALS_DIRECTORY; the state
 * file round-trips, keeps the newest jobs, refuses damage; the next due time
 * and alarm bookkeeping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "engine/service/policy.h"
#include "engine/service/service.h"
#include "engine/service/state.h"

static const char U[] = "00008110-000A1B2C3D4E5F60";

static policy_file *parse_ok(const char *text)
{
    policy_file *f = NULL;
    assert_int_equal(policy_parse(text, strlen(text), "p.conf", &f), CAIRN_OK);
    return f;
}

static void parse_fails(const char *text, const char *msg)
{
    policy_file *f = NULL;
    assert_int_equal(policy_parse(text, strlen(text), "p.conf", &f), CAIRN_EINVAL);
    assert_null(f);
    assert_string_equal(err_msg(), msg);
}

static void test_merge(void **state)
{
    (void)state;
    policy_file *f = parse_ok("# comment\n; another\n[default]\ninterval = 12h\nkeep-daily=7\n"
                              "\n[device Anna's iPhone]\nnetwork = usb\nhours = 22-06\n"
                              "[device 00008110-000A1B2C3D4E5F60]\ncheck-subset = 10%\n");
    policy p;
    policy_for(f, "other", NULL, &p);
    assert_int_equal(p.interval, 12 * 3600);
    assert_int_equal(p.keep.daily, 7);
    assert_int_equal(p.wifi, 1);
    assert_int_equal(p.overdue_days, 3);
    assert_int_equal(p.check_subset, 5);
    assert_string_equal(p.targets, "all");
    policy_for(f, "other", "Anna's iPhone", &p);
    assert_int_equal(p.wifi, 0);
    assert_int_equal(p.hour_from, 22);
    assert_int_equal(p.hour_to, 6);
    assert_int_equal(p.interval, 12 * 3600);
    /* the UDID's section wins over the name's */
    policy_for(f, U, "Anna's iPhone", &p);
    assert_int_equal(p.check_subset, 10);
    assert_int_equal(p.wifi, 1);
    assert_int_equal(policy_sections(f), 3);
    const char *name;
    assert_int_equal(policy_section(f, 1, &name, &p), CAIRN_OK);
    assert_string_equal(name, "Anna's iPhone");
    char v[64];
    policy_format(&p, "interval", v, sizeof v);
    assert_string_equal(v, "12h");
    policy_format(&p, "hours", v, sizeof v);
    assert_string_equal(v, "22-06");
    policy_file_free(f);
}

static void test_strict(void **state)
{
    (void)state;
    parse_fails("interval = 1h\n", "p.conf:1: 'interval' comes before any [section]");
    parse_fails("[default]\nintervall = 1h\n",
                "p.conf:2: unknown key 'intervall' (see docs/SERVICE.md)");
    parse_fails("[default]\ninterval = 1h\ninterval = 2h\n",
                "p.conf:3: 'interval' given twice in this section");
    parse_fails("[default]\n[default]\n", "p.conf:2: section [default] given twice");
    parse_fails("[device X]\n[device X]\n", "p.conf:2: section [device X] given twice");
    parse_fails("[devices X]\n", "p.conf:1: sections are [default] and [device NAME|UDID]");
    parse_fails("[device ]\n", "p.conf:1: [device NAME]: a device name or UDID is needed");
    parse_fails("[default\n", "p.conf:1: a section header must end with ']'");
    parse_fails("[default]\nnetwork = cable\n", "p.conf:2: network: 'cable' is not usb or wifi");
    parse_fails("[default]\nhours = 6-6\n",
                "p.conf:2: hours: '6-6' is not 'any' or a range of hours like 01-06");
    parse_fails("[default]\nkeep-daily = -1\n",
                "p.conf:2: keep-daily: '-1' is not a number from 0 to 100000");
    parse_fails("[default]\ncheck-subset = 101%\n",
                "p.conf:2: check-subset: '101' is not a number from 0 to 100");
    parse_fails("[default]\ninterval = 0s\n",
                "p.conf:2: interval: '0s': must be longer than nothing");
    parse_fails(
        "[default]\ntargets = a b\n",
        "p.conf:2: targets: 'a b' is not 'all', 'none' or target names separated by commas");
    parse_fails(
        "[default]\nstore-password-file = pw.txt\n",
        "p.conf:2: store-password-file: 'pw.txt' is not an absolute path or credential:NAME");
    parse_fails("[default]\nalarms = a\tb\n", "p.conf:2: a control character");
    parse_fails("[default]\njust words\n", "p.conf:2: expected 'key = value'");
    policy_file *f = NULL;
    assert_int_equal(policy_parse("[default]\n\0", 11, "p.conf", &f), CAIRN_EINVAL);
    assert_string_equal(err_msg(), "p.conf:2: a NUL byte");
    int64_t s;
    assert_int_equal(policy_parse_duration("1h30m", &s), CAIRN_OK);
    assert_int_equal(s, 5400);
    assert_int_equal(policy_parse_duration("90", &s), CAIRN_OK);
    assert_int_equal(s, 90);
    assert_int_equal(policy_parse_duration("1h30", &s), CAIRN_EINVAL);
}

static char *slurp(const char *path)
{
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fs_read_file(path, 1 << 20, &d, &n), CAIRN_OK);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, d, n);
    s[n] = '\0';
    free(d);
    return s;
}

static void test_set(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-policy-XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub/policy.conf", dir);
    /* a missing file: created (folder too) */
    assert_int_equal(policy_set(path, "Phone", "network=usb"), CAIRN_OK);
    char *s = slurp(path);
    assert_string_equal(s, "[device Phone]\nnetwork = usb\n");
    free(s);
    assert_int_equal(policy_set(path, "default", "interval=6h"), CAIRN_OK);
    s = slurp(path);
    assert_string_equal(s, "[default]\ninterval = 6h\n\n[device Phone]\nnetwork = usb\n");
    free(s);
    FILE *fp = fopen(path, "w");
    fputs("# top\n[default]\n# about interval\ninterval = 6h\n\n[device Phone]\nnetwork = usb\n"
          "# end\n",
          fp);
    fclose(fp);
    assert_int_equal(policy_set(path, "default", "interval=2h"), CAIRN_OK);
    assert_int_equal(policy_set(path, "Phone", "keep-last=3"), CAIRN_OK);
    assert_int_equal(policy_set(path, U, "hours=01-05"), CAIRN_OK);
    s = slurp(path);
    assert_string_equal(s, "# top\n[default]\n# about interval\ninterval = 2h\n\n[device Phone]\n"
                           "network = usb\nkeep-last = 3\n# end\n\n[device "
                           "00008110-000A1B2C3D4E5F60]\nhours = 01-05\n");
    /* refused: nothing changes */
    assert_int_equal(policy_set(path, "Phone", "keep-last=many"), CAIRN_EINVAL);
    assert_int_equal(policy_set(path, "Phone", "nokey"), CAIRN_EINVAL);
    assert_int_equal(policy_set(path, "Ph]one", "keep-last=1"), CAIRN_EINVAL);
    assert_int_equal(policy_set(path, "Phone", "what=1"), CAIRN_EINVAL);
    char *t = slurp(path);
    assert_string_equal(s, t);
    free(t);
    free(s);
    /* a broken file is not edited */
    fp = fopen(path, "a");
    fputs("bogus = 1\n", fp);
    fclose(fp);
    assert_int_equal(policy_set(path, "Phone", "keep-last=1"), CAIRN_EINVAL);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

static void test_secret_path(void **state)
{
    (void)state;
    char out[256];
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_int_equal(policy_secret_path("credential:pw", out, sizeof out), CAIRN_EINVAL);
    setenv("CREDENTIALS_DIRECTORY", "/run/credentials/cairn.service", 1);
    assert_int_equal(policy_secret_path("credential:pw", out, sizeof out), CAIRN_OK);
    assert_string_equal(out, "/run/credentials/cairn.service/pw");
    assert_int_equal(policy_secret_path("/etc/pw", out, sizeof out), CAIRN_OK);
    assert_string_equal(out, "/etc/pw");
}

static void test_state(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-state-XXXXXX", path[256];
    svcstate st, back;
    memset(&st, 0, sizeof st);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s/x.state", dir);
    assert_int_equal(svcstate_load(path, &back), CAIRN_OK); /* missing: empty */
    assert_int_equal(back.ndevices, 0);
    svcstate_device *d = svcstate_device_get(&st, U, 1);
    assert_non_null(d);
    snprintf(d->name, sizeof d->name, "Anna\tiPhone");
    d->last_success = 100;
    d->last_failure = 200;
    d->failures = 2;
    snprintf(d->reason, sizeof d->reason, "cut\nmid-backup");
    assert_int_equal(svcstate_alarm_raise(&st, "overdue X", 5), CAIRN_OK);
    assert_int_equal(svcstate_alarm_raise(&st, "overdue X", 9), CAIRN_OK);
    assert_int_equal(st.nalarms, 1);
    for (int i = 0; i < SVCSTATE_JOBS + 5; i++)
        assert_int_equal(svcstate_add_job(&st, i, U, "ok", "fine"), CAIRN_OK);
    assert_int_equal(st.njobs, SVCSTATE_JOBS);
    assert_int_equal(st.jobs[0].time, 5);
    st.behind_since = 77;
    assert_int_equal(svcstate_save(path, &st), CAIRN_OK);
    assert_int_equal(svcstate_load(path, &back), CAIRN_OK);
    assert_int_equal(back.ndevices, 1);
    assert_string_equal(back.devices[0].name, "Anna iPhone");
    assert_string_equal(back.devices[0].reason, "cut mid-backup");
    assert_int_equal(back.devices[0].failures, 2);
    assert_int_equal(back.devices[0].last_success, 100);
    assert_true(svcstate_alarm_raised(&back, "overdue X"));
    assert_int_equal(back.alarms[0].since, 5);
    assert_int_equal(back.njobs, SVCSTATE_JOBS);
    assert_int_equal(back.behind_since, 77);
    assert_int_equal(svcstate_alarm_clear(&back, "overdue X"), 1);
    assert_int_equal(svcstate_alarm_clear(&back, "overdue X"), 0);
    svcstate_free(&back);
    /* damage is refused, naming the line */
    static const char bad[] = "cairn-service-state 1\njob\tx\tU\tok\tm\n";
    assert_int_equal(svcstate_parse(bad, sizeof bad - 1, "s", &back), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "s:2: not a state record");
    static const char cut[] = "cairn-service-state 1\nbehind\t5";
    assert_int_equal(svcstate_parse(cut, sizeof cut - 1, "s", &back), CAIRN_ECORRUPT);
    static const char other[] = "hello\n";
    assert_int_equal(svcstate_parse(other, sizeof other - 1, "s", &back), CAIRN_ECORRUPT);
    /* next due: the interval after the last success, or the backoff */
    policy p;
    policy_file *f = parse_ok("");
    policy_for(f, U, NULL, &p);
    assert_int_equal(service_next_due(d, &p), 100 + 86400);
    d->next_try = 1000000;
    assert_int_equal(service_next_due(d, &p), 1000000);
    policy_file_free(f);
    svcstate_free(&st);
    unlink(path);
    snprintf(path, sizeof path, "%s/s", dir);
    rmdir(path);
    rmdir(dir);
}

static void test_clock(void **state)
{
    (void)state;
    setenv("CAIRN_TEST_NOW", "1700000000", 1);
    assert_int_equal(service_clock(), 1700000000);
    unsetenv("CAIRN_TEST_NOW");
    assert_true(service_clock() > 1700000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge), cmocka_unit_test(test_strict),
        cmocka_unit_test(test_set),   cmocka_unit_test(test_secret_path),
        cmocka_unit_test(test_state), cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
