/* test_alarm_sink.c - what alarm_sink_parse accepts and refuses (no
 * receiver is contacted while parsing), the kind names both ways, and
 * cbuf_json_str's escaping, which the webhook's body relies on.  Sending is
 * tested against real receivers by tests/e2e/alarm_sinks.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "engine/service/alarm_sink.h"
#include "util/codec.h"

static void accepts(const char *spec, const char *type)
{
    alarm_sink *s = NULL;
    if (alarm_sink_parse(spec, &s) != CAIRN_OK)
        fail_msg("%s refused: %s", spec, err_msg());
    assert_non_null(s);
    assert_string_equal(alarm_sink_type(s), type);
    alarm_sink_set_timeout(s, 5);
    alarm_sink_free(s);
}

static void refuses(const char *spec, const char *why)
{
    alarm_sink *s = (alarm_sink *)&s; /* must be reset to NULL */
    const cairn_err rc = alarm_sink_parse(spec, &s);
    if (rc != CAIRN_EINVAL)
        fail_msg("%s: %s, not CAIRN_EINVAL", spec, err_name(rc));
    assert_null(s);
    if (!strstr(err_msg(), why))
        fail_msg("%s: '%s' does not say '%s'", spec, err_msg(), why);
}

static void test_valid_specs(void **state)
{
    (void)state;
    accepts("dbus", "dbus");
    accepts("smtp://mail.example.test?from=a@example.test&to=b@example.test", "smtp");
    accepts("smtp://mail.example.test:2525/?from=a@x&to=b@x&to=c@x", "smtp");
    accepts("smtps://[::1]:465?from=a%40x&to=b@x&user=ann&password-file=/run/pw", "smtp");
    accepts("smtp://ann@mail.example.test?from=a@x&to=b@x&password-file=/run/pw", "smtp");
    accepts("webhook:https://hooks.example.test/T0/B1/secret?x=1", "webhook");
    accepts("webhook:http://127.0.0.1:8080", "webhook");
    accepts("command:/usr/bin/notify-send  -u critical", "command");
}

static void test_invalid_specs(void **state)
{
    (void)state;
    refuses("", "not one of dbus");
    refuses("DBUS", "not one of dbus");
    refuses("dbus:", "not one of dbus");
    refuses("smtp://?from=a@x&to=b@x", "smtp");
    refuses("smtp://h", "no ?from=ADDRESS&to=ADDRESS");
    refuses("smtp://h?from=a@x", "from= and to= are both needed");
    refuses("smtp://h?to=b@x", "from= and to= are both needed");
    refuses("smtp://h?from=a@x&from=c@x&to=b@x", "from= given twice");
    refuses("smtp://h?from=a@x&to=b@x&bcc=c@x", "unknown parameter 'bcc'");
    refuses("smtp://h?from=a@x&to=b@x&user", "parameter 'user' has no '='");
    refuses("smtp://h?from=a@x&to=b@x%0d%0aBcc:%20c@x", "to= is not an e-mail address");
    refuses("smtp://h?from=a@x&to=<b@x>", "to= is not an e-mail address");
    refuses("smtp://h?from=&to=b@x", "from= is empty");
    refuses("smtp://h/path?from=a@x&to=b@x", "has no path");
    refuses("smtp://h?from=a@x&to=b@x&user=ann", "user= and password-file= go together");
    refuses("smtp://ann@h?from=a@x&to=b@x&user=bob&password-file=/p", "a user in the URL");
    refuses("smtp://ann:SECRET@h?from=a@x&to=b@x", "a password does not belong in the URL");
    assert_null(strstr(err_msg(), "SECRET"));
    refuses("webhook:https://u:SECRET@h/x", "a password does not belong in the URL");
    assert_null(strstr(err_msg(), "SECRET"));
    refuses("webhook:ftp://h/x", "scheme ftp:// is not one of http:// or https://");
    /* found by fuzz_alarm_sink: the decoded host went into the message */
    refuses("smtp://ma87xirn%7Fosevest.destp", "the host name has a space or control");
    refuses("webhook:http://h%7Fx/", "the host name has a space or control");
    refuses("webhook:", "not a URL");
    refuses("webhook:http://", "webhook");
    refuses("command:", "no program");
    refuses("command:bin/x", "is not an absolute path");
    refuses("command:/bin/x\narg", "a control character");
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    refuses(big, "longer than");
}

static void test_kind_names(void **state)
{
    (void)state;
    for (int k = 0; k < ALARM_KIND_COUNT; k++) {
        alarm_kind back = ALARM_OVERDUE;
        const char *const name = alarm_kind_name((alarm_kind)k);
        assert_string_not_equal(name, "unknown");
        assert_int_equal(alarm_kind_parse(name, &back), CAIRN_OK);
        assert_int_equal(back, k);
    }
    assert_string_equal(alarm_kind_name(ALARM_COPIES_BEHIND), "copies-behind");
    assert_string_equal(alarm_kind_name((alarm_kind)ALARM_KIND_COUNT), "unknown");
    alarm_kind k;
    assert_int_equal(alarm_kind_parse("Overdue", &k), CAIRN_EINVAL);
}

static void test_json_str(void **state)
{
    (void)state;
    cbuf b;
    cbuf_init(&b);
    cbuf_json_str(&b, "a\"b\\c\n\t\x01 \xc3\xa9/");
    assert_false(b.failed);
    assert_string_equal(cbuf_text(&b), "\"a\\\"b\\\\c\\u000a\\u0009\\u0001 \xc3\xa9/\"");
    cbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_specs),
        cmocka_unit_test(test_invalid_specs),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_json_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
