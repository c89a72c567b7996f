/* route.c - the request router (route.h): pure, bounded, fuzzed. */
#include <string.h>

#include "util/fsutil.h"
#include "route.h"

/* The page's URL paths (normalised) and the asset each one serves. */
static const struct {
    const char *path;
    const char *asset;
} page_paths[] = {
    {"", "index.html"},
    {"index.html", "index.html"},
    {"app.js", "app.js"},
    {"style.css", "style.css"},
};

static const struct {
    const char *path;
    web_route_kind kind;
} api_paths[] = {
    {"api/devices", WEB_ROUTE_DEVICES}, {"api/snapshot", WEB_ROUTE_SNAPSHOT},
    {"api/ls", WEB_ROUTE_LS},           {"api/file", WEB_ROUTE_FILE},
    {"api/diff", WEB_ROUTE_DIFF},       {"api/targets", WEB_ROUTE_TARGETS},
    {"api/storage", WEB_ROUTE_STORAGE},
};

static void fail(web_route *r, int status, const char *why)
{
    r->kind = WEB_ROUTE_ERROR;
    r->status = status;
    r->error = why;
}

/* Percent-decodes in[0..n) into out (cap bytes with the NUL); in a query
 * '+' is a space.  0, or the HTTP status that refuses it (414: too long
 * for out; 400: a bad escape, a NUL or a control byte). */
static int decode(const char *in, size_t n, int query, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == '%') {
            if (n - i < 3)
                return 400;
            const int hi = fs_hexval(in[i + 1]), lo = fs_hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return 400;
            ch = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (ch == '+' && query) {
            ch = ' ';
        }
        if (ch < 0x20 || ch == 0x7f)
            return 400;
        if (o + 1 >= cap)
            return 414;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

/* Normalises a decoded '/'-separated path into out (cap with the NUL):
 * empty and "." parts dropped, no leading or trailing '/'.  0, 400 for a
 * "..", 414 if it does not fit. */
static int normalise(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = in;
    while (*p) {
        const char *const end = p + strcspn(p, "/");
        const size_t n = (size_t)(end - p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 400;
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o + (o > 0) + n + 1 > cap)
                return 414;
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p = *end ? end + 1 : end;
    }
    out[o] = '\0';
    return 0;
}

/* "latest", or 4 to 64 hex digits (snaplist_find says whether it names one). */
static int valid_snapshot(const char *s)
{
    const size_t n = strlen(s);
    if (strcmp(s, "latest") == 0)
        return 1;
    if (n < 4 || n > 2 * 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (fs_hexval(s[i]) < 0)
            return 0;
    return 1;
}

enum { P_TOKEN = 1, P_SNAPSHOT = 2, P_A = 4, P_B = 8, P_PATH = 16 };

/* One "key=value" of the query into r.  0 or an HTTP status. */
static int query_param(web_route *r, const char *kv, size_t n, unsigned *seen, const char **why)
{
    char key[16], value[WEB_PATH_MAX + 1];
    const char *const eq = memchr(kv, '=', n);
    const size_t klen = eq ? (size_t)(eq - kv) : n;
    const char *const v = eq ? eq + 1 : kv + n;
    const size_t vlen = (size_t)(kv + n - v);
    int st = decode(kv, klen, 1, key, sizeof key);
    if (st == 414)
        return 0; /* no parameter has so long a name: ignored like any unknown one */
    if (st) {
        *why = "malformed query string (a bad %-escape or a control byte)";
        return st;
    }
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {
        {"token", P_TOKEN}, {"snapshot", P_SNAPSHOT}, {"a", P_A}, {"b", P_B}, {"path", P_PATH}};
    unsigned bit = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(key, known[i].name) == 0)
            bit = known[i].bit;
    if (!bit)
        return 0;
    if (*seen & bit) {
        *why = "a query parameter is given twice";
        return 400;
    }
    *seen |= bit;
    st = decode(v, vlen, 1, value, sizeof value);
    if (bit == P_TOKEN) {
        r->has_token = 1;
        /* a token that is not 64 hex digits cannot be right: kept empty */
        if (!st && strlen(value) == WEB_TOKEN_HEX)
            memcpy(r->token, value, WEB_TOKEN_HEX + 1);
        return 0;
    }
    if (st) {
        *why = st == 414 ? "a query parameter is too long"
                         : "malformed query string (a bad %-escape or a control byte)";
        return st;
    }
    if (bit == P_PATH) {
        st = normalise(value, r->path, sizeof r->path);
        if (st)
            *why = st == 400 ? "path traversal: '..' is not allowed in a path"
                             : "the path is too long";
        return st;
    }
    char *const dst = bit == P_SNAPSHOT ? r->snapshot : bit == P_A ? r->a : r->b;
    if (!valid_snapshot(value)) {
        *why = "a snapshot is named by 'latest' or 4 to 64 hex digits of its ID";
        return 400;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

void web_route_parse(const char *method, const char *target, size_t len, web_route *r)
{
    char buf[WEB_PATH_MAX + 1], path[WEB_PATH_MAX + 1];
    memset(r, 0, sizeof *r);
    r->head = method && strcmp(method, "HEAD") == 0;
    if (!method || (!r->head && strcmp(method, "GET") != 0))
        return fail(r, 405, "only GET and HEAD: the page is read-only");
    if (len > WEB_URI_MAX)
        return fail(r, 414, "the request target is too long");
    if (len == 0 || target[0] != '/')
        return fail(r, 400, "the request target must start with '/'");
    const char *const q = memchr(target, '?', len);
    const size_t plen = q ? (size_t)(q - target) : len;
    int st = decode(target, plen, 0, buf, sizeof buf);
    if (!st)
        st = normalise(buf, path, sizeof path);
    if (st)
        return fail(r, st,
                    st == 414 ? "the URL path is too long"
                              : "malformed URL path (a bad %-escape, a control byte or '..')");

    /* the query: every parameter parsed, the token included, before the
     * route is decided, so that a bad query is refused whatever the URL */
    unsigned seen = 0, count = 0;
    const char *p = q ? q + 1 : target + len;
    const char *const end = target + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp)
            amp = end;
        if (amp > p) {
            const char *why = NULL;
            if (++count > WEB_PARAMS_MAX)
                return fail(r, 400, "too many query parameters");
            st = query_param(r, p, (size_t)(amp - p), &seen, &why);
            if (st)
                return fail(r, st, why);
        }
        p = amp + 1;
    }

    for (size_t i = 0; i < sizeof page_paths / sizeof page_paths[0]; i++) {
        if (strcmp(path, page_paths[i].path) == 0) {
            r->kind = WEB_ROUTE_ASSET;
            r->asset = page_paths[i].asset;
            return;
        }
    }
    for (size_t i = 0; i < sizeof api_paths / sizeof api_paths[0]; i++)
        if (strcmp(path, api_paths[i].path) == 0)
            r->kind = api_paths[i].kind;
    switch (r->kind) {
    case WEB_ROUTE_ERROR:
        return fail(r, 404, "no such page or API call");
    case WEB_ROUTE_SNAPSHOT:
    case WEB_ROUTE_LS:
    case WEB_ROUTE_STORAGE:
        if (!(seen & P_SNAPSHOT))
            return fail(r, 400, "missing parameter: snapshot");
        break;
    case WEB_ROUTE_FILE:
        if (!(seen & P_SNAPSHOT))
            return fail(r, 400, "missing parameter: snapshot");
        if (!r->path[0])
            return fail(r, 400, "missing parameter: path (a file of the snapshot)");
        break;
    case WEB_ROUTE_DIFF:
        if (!(seen & P_B))
            return fail(r, 400, "missing parameter: b (the newer snapshot)");
        break;
    default:
        break;
    }
}
