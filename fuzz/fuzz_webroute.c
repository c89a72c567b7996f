/* fuzz_webroute.c - libFuzzer target for the web page's request router
 * (web/route.h): untrusted bytes straight from a browser or any local
 * program.
 *
 * Input: the first byte's low two bits pick the method ('G' GET, 'A' HEAD,
 * 'P' POST, 'N' none), the rest
 * is the request target, not NUL-terminated.  Whatever the bytes, the
 * route is complete and sane: an error has a 4xx status and a reason;
 * every parameter is a C string within its field; a path is normalised
 * (no leading, trailing or doubled '/', no "." or "..", no control byte);
 * a token is empty or 64 characters; a snapshot name is "latest" or 4 to
 * 64 hex digits; and the same input routes the same way twice. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/route.h"
#include "fuzz/fuzz.h"

static void check_path(const char *p)
{
    const size_t n = strnlen(p, WEB_PATH_MAX + 1);
    if (n > WEB_PATH_MAX)
        abort();
    if (n && (p[0] == '/' || p[n - 1] == '/' || strstr(p, "//")))
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            abort();
    /* each part: neither "." nor ".." */
    for (const char *s = p; *s;) {
        const size_t len = strcspn(s, "/");
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            abort();
        s += len;
        if (*s)
            s++;
    }
}

static void check_snapshot(const char *s)
{
    const size_t n = strnlen(s, WEB_SNAP_MAX + 1);
    if (n > WEB_SNAP_MAX)
        abort();
    if (n == 0 || strcmp(s, "latest") == 0)
        return;
    if (n < 4 || strspn(s, "0123456789abcdefABCDEF") != n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"POST", "HEAD", NULL, "GET"};
    static web_route r1, r2;
    if (size == 0)
        return 0;
    const char *const method = methods[data[0] & 3];
    /* an exact-size copy: a read past the target is caught */
    char *const target = malloc(size - 1 ? size - 1 : 1);
    if (!target)
        return 0;
    memcpy(target, data + 1, size - 1);
    web_route_parse(method, target, size - 1, &r1);
    web_route_parse(method, target, size - 1, &r2);
    free(target);
    if (memcmp(&r1, &r2, sizeof r1) != 0)
        abort();
    if (r1.kind == WEB_ROUTE_ERROR) {
        if (r1.status < 400 || r1.status > 499 || !r1.error || !r1.error[0])
            abort();
        return 0;
    }
    if (r1.kind > WEB_ROUTE_STORAGE || (r1.kind == WEB_ROUTE_ASSET) != (r1.asset != NULL))
        abort();
    if (!method || strcmp(method, "POST") == 0)
        abort();
    const size_t tn = strnlen(r1.token, WEB_TOKEN_HEX + 1);
    if (tn != 0 && tn != WEB_TOKEN_HEX)
        abort();
    check_path(r1.path);
    check_snapshot(r1.snapshot);
    check_snapshot(r1.a);
    check_snapshot(r1.b);
    if (r1.kind == WEB_ROUTE_FILE && (!r1.path[0] || !r1.snapshot[0]))
        abort();
    if (r1.kind == WEB_ROUTE_DIFF && !r1.b[0])
        abort();
    return 0;
}
