/* api.h - (private to web/) the handlers behind the routes: each answers
 * one web_route with a web_reply, JSON built in memory or a file of a
 * snapshot to stream.  They use the engine API only, and run on the
 * server's one thread, so the store is never used by two at once. */
#ifndef CAIRN_WEB_API_H
#define CAIRN_WEB_API_H

#include <stdint.h>

#include "util/codec.h"
#include "store/store.h"
#include "engine/core/snapshot_files.h"
#include "route.h"

typedef struct web_reply {
    int status;
    const char *type; /* Content-Type */
    cbuf body;        /* the whole answer, unless file is set */
    /* a download: streamed from file, which files must outlive */
    snapfiles *files;
    snapfiles_file *file;
    uint64_t size;
    char filename[256]; /* for Content-Disposition, quotes and controls removed */
} web_reply;

typedef struct web_api {
    store *s;
    snapfiles_cache *cache;
} web_api;

/* Answers r (not WEB_ROUTE_ERROR nor WEB_ROUTE_ASSET) into *out (zeroed
 * first): 200 with JSON or a file, else a 4xx/5xx JSON error. */
void web_api_handle(web_api *w, const web_route *r, web_reply *out);

/* *out := {"error": msg} with status. */
void web_reply_error(web_reply *out, int status, const char *msg);

/* Closes a download and frees the body. */
void web_reply_free(web_reply *r);

#endif
