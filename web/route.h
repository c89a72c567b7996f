/* route.h - the request router of the web page (prefix web_route): a pure
 * function from a request's method and raw target ("/api/diff?a=1f2e&b=9c0d")
 * to the handler it names and its parameters, percent-decoded, the path
 * normalised.  No I/O, no allocation, no global state: whatever the bytes,
 * it fills a web_route and returns (fuzz/fuzz_webroute.c holds it to that).
 *
 * Rules (docs/WEB.md lists the routes):
 *  - only GET and HEAD; anything else is 405;
 *  - a target longer than WEB_URI_MAX, or a path or parameter value longer
 *    than WEB_PATH_MAX, is 414; a bad %-escape, a NUL, a control byte, more
 *    than WEB_PARAMS_MAX parameters, a parameter given twice, a malformed
 *    snapshot name (too long included) is 400;
 *  - a path (the URL's or ?path=) is split on '/', empty and "." parts are
 *    dropped, and any ".." is 400: nothing can climb above the snapshot's
 *    root or the page's;
 *  - an unknown URL is 404; a known one missing a parameter it needs is 400.
 * The token is only parsed here (?token=, 64 hex digits); the server checks
 * it, and a query that does not parse never reaches a handler. */
#ifndef CAIRN_WEB_ROUTE_H
#define CAIRN_WEB_ROUTE_H

#include <stddef.h>

enum {
    WEB_URI_MAX = 8192,  /* longest request target accepted */
    WEB_PARAMS_MAX = 16, /* most query parameters accepted */
    WEB_TOKEN_HEX = 64,  /* the access token: 32 random bytes in hex */
    WEB_SNAP_MAX = 64,   /* a snapshot name: "latest", an ID or a prefix */
    WEB_PATH_MAX = 4096, /* a path inside a snapshot, normalised */
};

typedef enum web_route_kind {
    WEB_ROUTE_ERROR = 0, /* status and error say why */
    WEB_ROUTE_ASSET,     /* the page or one of its files: asset names it */
    WEB_ROUTE_DEVICES,   /* /api/devices */
    WEB_ROUTE_SNAPSHOT,  /* /api/snapshot?snapshot=S */
    WEB_ROUTE_LS,        /* /api/ls?snapshot=S[&path=P] */
    WEB_ROUTE_FILE,      /* /api/file?snapshot=S&path=P (a download) */
    WEB_ROUTE_DIFF,      /* /api/diff?b=S[&a=S] (a: b's parent) */
    WEB_ROUTE_TARGETS,   /* /api/targets */
    WEB_ROUTE_STORAGE,   /* /api/storage?snapshot=S */
} web_route_kind;

typedef struct web_route {
    web_route_kind kind;
    int status;        /* ERROR: the HTTP status (400, 404, 405, 414) */
    const char *error; /* ERROR: why, static text */
    const char *asset; /* ASSET: the asset's name ("index.html", "app.js") */
    int head;          /* a HEAD request: headers only */
    int has_token;     /* ?token= was given (token holds it if it is 64 hex digits) */
    char token[WEB_TOKEN_HEX + 1];
    char snapshot[WEB_SNAP_MAX + 1]; /* "" when not given */
    char a[WEB_SNAP_MAX + 1];
    char b[WEB_SNAP_MAX + 1];
    char path[WEB_PATH_MAX + 1]; /* normalised: "" (the root) or "a/b/c" */
} web_route;

/* Routes method and target[0..len) (the raw request target: path and query,
 * as the client sent it) into *out. */
void web_route_parse(const char *method, const char *target, size_t len, web_route *out);

#endif
