/* content_usage.h - a device snapshot's bytes per app and per domain,
 * from its catalog (the sizes the backup recorded, before deduplication
 * and compression).
 *
 * An app's domains are AppDomain-<bundle>, AppDomainGroup-group.<bundle>
 * and AppDomainPlugin-<bundle>.<extension>; Apple's own domains
 * (HomeDomain, CameraRollDomain, MediaDomain, ...) are each their own
 * entry.  Sorted by bytes, largest first, then by name. */
#ifndef CAIRN_CONTENT_USAGE_H
#define CAIRN_CONTENT_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/ios/content.h"

typedef struct content_usage_domain {
    char *domain;
    uint64_t files, bytes;
} content_usage_domain;

typedef struct content_usage_app {
    char *name; /* a bundle identifier, or an Apple domain's name */
    uint64_t files, bytes;
    size_t ndomains;
    content_usage_domain *domains; /* sorted like the apps */
} content_usage_app;

typedef struct content_usage {
    uint64_t files, bytes;
    size_t napps;
    content_usage_app *apps;
} content_usage;

cairn_err content_usage_read(content_snap *c, content_usage *out);
void content_usage_free(content_usage *u);
/* The app a domain belongs to, into out: the bundle identifier, or the
 * domain itself. */
void content_usage_app_of(const char *domain, char *out, size_t cap);

#endif
