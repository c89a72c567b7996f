/* test_web_route.c - the web page's router (web/route.h) on exact cases:
 * each route and its parameters, percent-decoding ('+' a space in the
 * query only), path normalisation, and every refusal with its status:
 * traversal in the URL and in ?path= (plain, encoded, mixed case), bad
 * escapes, NUL and control bytes, too long, too many or repeated
 * parameters, malformed snapshot names, missing parameters, other methods.
 * The target is handed over without a NUL after it, as the server does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "web/route.h"

static web_route r;

/* Routes a copy of target without a terminating NUL (ASan sees overreads). */
static void route(const char *method, const char *target)
{
    const size_t n = strlen(target);
    char *const copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, target, n);
    web_route_parse(method, copy, n, &r);
    free(copy);
}

static void expect_error(const char *method, const char *target, int status)
{
    route(method, target);
    if (r.kind != WEB_ROUTE_ERROR || r.status != status)
        fail_msg("%s %s: kind %d status %d, expected error %d", method, target, (int)r.kind,
                 r.status, status);
    assert_non_null(r.error);
}

static void test_routes(void **state)
{
    (void)state;
    route("GET", "/");
    assert_int_equal(r.kind, WEB_ROUTE_ASSET);
    assert_string_equal(r.asset, "index.html");
    route("GET", "/app.js?token=" /* 64 hex */
                 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    assert_int_equal(r.kind, WEB_ROUTE_ASSET);
    assert_string_equal(r.asset, "app.js");
    assert_true(r.has_token);
    assert_string_equal(r.token,
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    route("HEAD", "//./style.css");
    assert_int_equal(r.kind, WEB_ROUTE_ASSET);
    assert_true(r.head);
    route("GET", "/api/devices");
    assert_int_equal(r.kind, WEB_ROUTE_DEVICES);
    assert_false(r.has_token);
    route("GET", "/api/diff?b=latest&a=1F2e3d");
    assert_int_equal(r.kind, WEB_ROUTE_DIFF);
    assert_string_equal(r.a, "1F2e3d");
    assert_string_equal(r.b, "latest");
    route("GET", "/api/file?snapshot=abcd&path=/HomeDomain//Library/./SMS/sms%2Edb/");
    assert_int_equal(r.kind, WEB_ROUTE_FILE);
    assert_string_equal(r.path, "HomeDomain/Library/SMS/sms.db");
    route("GET", "/api/ls?snapshot=latest&path=Camera%20Roll+x%2By&unknown=%41&&");
    assert_int_equal(r.kind, WEB_ROUTE_LS);
    assert_string_equal(r.path, "Camera Roll x+y");
    route("GET", "/api/ls?snapshot=latest");
    assert_int_equal(r.kind, WEB_ROUTE_LS);
    assert_string_equal(r.path, "");
    route("GET", "/api/storage?snapshot=latest");
    assert_int_equal(r.kind, WEB_ROUTE_STORAGE);
    route("GET", "/api/targets");
    assert_int_equal(r.kind, WEB_ROUTE_TARGETS);
    /* a path part that merely starts with dots is a name */
    route("GET", "/api/ls?snapshot=latest&path=..a/...");
    assert_string_equal(r.path, "..a/...");
    /* a token of the wrong length is given, but empty */
    route("GET", "/api/devices?token=abc");
    assert_true(r.has_token);
    assert_string_equal(r.token, "");
}

static void test_refusals(void **state)
{
    (void)state;
    expect_error("POST", "/api/devices", 405);
    expect_error("DELETE", "/", 405);
    expect_error(NULL, "/", 405);
    expect_error("GET", "", 400);
    expect_error("GET", "api/devices", 400);
    expect_error("GET", "/../etc/passwd", 400);
    expect_error("GET", "/%2e%2E/app.js", 400);
    expect_error("GET", "/api/ls?snapshot=latest&path=../x", 400);
    expect_error("GET", "/api/ls?snapshot=latest&path=a/%2E%2e/b", 400);
    expect_error("GET", "/api/ls?snapshot=latest&path=a%2f..%2f..%2fb", 400);
    expect_error("GET", "/api/ls?snapshot=latest&path=%zz", 400);
    expect_error("GET", "/api/ls?snapshot=latest&path=%4", 400);
    expect_error("GET", "/api/ls?snapshot=latest&path=a%00b", 400);
    expect_error("GET", "/api/ls?snapshot=latest&path=a%0ab", 400);
    expect_error("GET", "/api/ls?snapshot=latest&snapshot=latest", 400);
    expect_error("GET", "/api/ls?snapshot=abc", 400);
    expect_error("GET", "/api/ls?snapshot=latest!", 400);
    expect_error("GET", "/api/ls?snapshot=", 400);
    expect_error("GET", "/api/ls", 400);
    expect_error("GET", "/api/file?snapshot=latest", 400);
    expect_error("GET", "/api/file?snapshot=latest&path=/./", 400);
    expect_error("GET", "/api/diff?a=latest", 400);
    expect_error("GET", "/api/nothing", 404);
    expect_error("GET", "/api", 404);
    expect_error("GET", "/favicon.ico", 404);
    char many[512] = "/api/devices?";
    for (int i = 0; i < WEB_PARAMS_MAX + 1; i++)
        strcat(many, "x=1&");
    expect_error("GET", many, 400);
    /* too long: a target, a path (414); a snapshot name is then no name (400) */
    static char big[WEB_URI_MAX + 64];
    memset(big, 0, sizeof big);
    strcpy(big, "/api/devices?x=");
    memset(big + strlen(big), 'a', WEB_URI_MAX);
    expect_error("GET", big, 414);
    memset(big, 0, sizeof big);
    strcpy(big, "/api/ls?snapshot=latest&path=");
    memset(big + strlen(big), 'a', WEB_PATH_MAX + 1);
    expect_error("GET", big, 414);
    memset(big, 0, sizeof big);
    strcpy(big, "/api/ls?snapshot=");
    memset(big + strlen(big), 'a', WEB_SNAP_MAX + 1);
    expect_error("GET", big, 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
