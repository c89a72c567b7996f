/* web.h - the local web page (prefix web_): the one header of web/ that
 * cli/ includes.  web_serve runs an HTTP server (libmicrohttpd) on
 * 127.0.0.1 only, read-only, over an open store: the page (built into the
 * binary) and the JSON API under /api/ it uses (docs/WEB.md).
 *
 * Every request needs the access token: 32 random bytes (libsodium), in hex,
 * given as ?token=, the header X-Cairn-Token or the cookie cairn_token
 * (set when the page is opened with ?token=); else 401.  Bad requests get a
 * 4xx and a JSON error, never a crash.
 *
 * The library never prints: it hands the URL to ready() once it listens,
 * and returns when stop() says so (polled a few times a second). */
#ifndef CAIRN_WEB_H
#define CAIRN_WEB_H

#include <stddef.h>

#include "util/err.h"
#include "util/module.h"
#include "store/store.h"

enum { WEB_DEFAULT_PORT = 8770 };

typedef struct web_options {
    unsigned port; /* 0: any free port */
    /* called once, listening: the URL with the token, the port bound */
    void (*ready)(void *ctx, const char *url, unsigned port);
    int (*stop)(void *ctx); /* non-zero: shut down */
    void *ctx;
} web_options;

/* Serves s until o->stop says so.  CAIRN_EIO naming the port if it cannot
 * listen (taken, or not allowed). */
cairn_err web_serve(store *s, const web_options *o);

/* web/ is the module cairn-web.so (util/module.h), the only part of cairn
 * that links libmicrohttpd: cli/ loads it and calls ops->serve. */
typedef struct web_module_ops {
    cairn_err (*serve)(store *s, const web_options *o);
} web_module_ops;
extern const cairn_module web_module;

#endif
