/* content_usage.c - bytes per app and domain (content_usage.h). */
#include "engine/ios/content_usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"

void content_usage_app_of(const char *domain, char *out, size_t cap)
{
    static const char app[] = "AppDomain-", group[] = "AppDomainGroup-",
                      plugin[] = "AppDomainPlugin-";
    if (strncmp(domain, group, sizeof group - 1) == 0) {
        const char *b = domain + sizeof group - 1;
        if (strncmp(b, "group.", 6) == 0)
            b += 6;
        snprintf(out, cap, "%s", b);
    } else if (strncmp(domain, plugin, sizeof plugin - 1) == 0) {
        /* an extension's identifier is its app's with one more component */
        snprintf(out, cap, "%s", domain + sizeof plugin - 1);
        char *const dot = strrchr(out, '.');
        if (dot && dot != out)
            *dot = '\0';
    } else if (strncmp(domain, app, sizeof app - 1) == 0) {
        snprintf(out, cap, "%s", domain + sizeof app - 1);
    } else {
        snprintf(out, cap, "%s", domain);
    }
}

void content_usage_free(content_usage *u)
{
    for (size_t i = 0; i < u->napps; i++) {
        for (size_t k = 0; k < u->apps[i].ndomains; k++)
            free(u->apps[i].domains[k].domain);
        free(u->apps[i].domains);
        free(u->apps[i].name);
    }
    free(u->apps);
    memset(u, 0, sizeof *u);
}

static int bigger_app(const void *x, const void *y)
{
    const content_usage_app *const a = x, *const b = y;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int bigger_domain(const void *x, const void *y)
{
    const content_usage_domain *const a = x, *const b = y;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return strcmp(a->domain, b->domain);
}

static content_usage_app *app_named(content_usage *u, size_t *cap, const char *name)
{
    for (size_t i = 0; i < u->napps; i++) {
        if (strcmp(u->apps[i].name, name) == 0)
            return &u->apps[i];
    }
    if (util_grow(&u->apps, cap, u->napps + 1, sizeof *u->apps))
        return NULL;
    content_usage_app *const a = &u->apps[u->napps];
    memset(a, 0, sizeof *a);
    if (!(a->name = strdup(name))) {
        err_set(CAIRN_ENOMEM, "out of memory");
        return NULL;
    }
    u->napps++;
    return a;
}

cairn_err content_usage_read(content_snap *c, content_usage *out)
{
    const catalog *const cat = content_catalog(c);
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    /* the catalog is sorted by domain: each domain is one run */
    for (size_t i = 0; i < cat->count;) {
        const char *const domain = cat->entries[i].domain;
        content_usage_domain d = {NULL, 0, 0};
        for (; i < cat->count && strcmp(cat->entries[i].domain, domain) == 0; i++) {
            if (cat->entries[i].flags != CATALOG_FILE)
                continue;
            d.files++;
            d.bytes += cat->entries[i].size;
        }
        char name[512];
        content_usage_app_of(domain, name, sizeof name);
        content_usage_app *const a = app_named(out, &cap, name);
        content_usage_domain *const grown =
            a ? realloc(a->domains, (a->ndomains + 1) * sizeof *grown) : NULL;
        if (!grown || !(d.domain = strdup(domain))) {
            if (grown)
                a->domains = grown;
            content_usage_free(out);
            return err_set(CAIRN_ENOMEM, "out of memory");
        }
        a->domains = grown;
        a->domains[a->ndomains++] = d;
        a->files += d.files;
        a->bytes += d.bytes;
        out->files += d.files;
        out->bytes += d.bytes;
    }
    for (size_t i = 0; i < out->napps; i++)
        qsort(out->apps[i].domains, out->apps[i].ndomains, sizeof *out->apps[i].domains,
              bigger_domain);
    qsort(out->apps, out->napps, sizeof *out->apps, bigger_app);
    return CAIRN_OK;
}
