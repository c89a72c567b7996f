/* assets.h - (private to web/) the page's files, built into the binary:
 * web/assets/ turned into byte arrays at build time
 * (cmake/embed_assets.cmake writes web_assets.c), so nothing is read from
 * disk or loaded from the internet while serving. */
#ifndef CAIRN_WEB_ASSETS_H
#define CAIRN_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *name; /* "index.html" */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
} web_asset;

extern const web_asset web_assets[];
extern const size_t web_nassets;

#endif
