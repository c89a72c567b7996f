#include "engine/core/catalog.h"

#include <stdlib.h>
#include <string.h>

#include "util/fsutil.h"
#include "util/grow.h"
#include "engine/core/tree_store.h"

enum { CATALOG_VERSION = 1, STR_MAX = 1 << 16, MAX_ENTRIES = 1 << 24 };

void catalog_init(catalog *c)
{
    memset(c, 0, sizeof *c);
}

/* An entry's domain, path and target share one allocation owned by domain:
 * a device has hundreds of thousands of rows, and three allocations a row
 * were a fifth of a big backup's catalog memory. */
static void entry_free(catalog_entry *e)
{
    free(e->domain);
    e->domain = e->path = e->target = NULL;
}

/* Copies the three strings into one block; target NULL: none.  Lengths
 * exclude the terminator. */
static int entry_strings(catalog_entry *e, const char *domain, size_t dlen, const char *path,
                         size_t plen, const char *target, size_t tlen)
{
    const size_t n = dlen + 1 + plen + 1 + (target ? tlen + 1 : 0);
    char *const b = malloc(n);
    if (!b)
        return -1;
    memcpy(b, domain, dlen);
    b[dlen] = '\0';
    memcpy(b + dlen + 1, path, plen);
    b[dlen + 1 + plen] = '\0';
    e->domain = b;
    e->path = b + dlen + 1;
    e->target = NULL;
    if (target) {
        e->target = e->path + plen + 1;
        memcpy(e->target, target, tlen);
        e->target[tlen] = '\0';
    }
    return 0;
}

void catalog_free(catalog *c)
{
    for (size_t i = 0; i < c->count; i++)
        entry_free(&c->entries[i]);
    free(c->entries);
    catalog_init(c);
}

static catalog_entry *grow(catalog *c)
{
    if (util_grow(&c->entries, &c->cap, c->count + 1, sizeof *c->entries) != CAIRN_OK)
        return NULL;
    catalog_entry *const e = &c->entries[c->count];
    memset(e, 0, sizeof *e);
    return e;
}

cairn_err catalog_add(catalog *c, const catalog_entry *src)
{
    catalog_entry *const e = grow(c);
    if (!e)
        return err_set(CAIRN_ENOMEM, "out of memory");
    *e = *src;
    const char *const domain = src->domain ? src->domain : "";
    const char *const path = src->path ? src->path : "";
    if (entry_strings(e, domain, strlen(domain), path, strlen(path), src->target,
                      src->target ? strlen(src->target) : 0)) {
        e->domain = NULL;
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    c->count++;
    return CAIRN_OK;
}

static int entry_cmp(const catalog_entry *a, const catalog_entry *b)
{
    const int d = strcmp(a->domain, b->domain);
    return d ? d : strcmp(a->path, b->path);
}

/* The file ID breaks a tie (a damaged Manifest.db can repeat a path), so
 * the order does not depend on the order the rows came in. */
static int entry_qcmp(const void *a, const void *b)
{
    const int d = entry_cmp(a, b);
    return d ? d
             : memcmp(((const catalog_entry *)a)->file_id, ((const catalog_entry *)b)->file_id,
                      CATALOG_FILE_ID_LEN);
}

void catalog_sort(catalog *c)
{
    if (c->count > 1)
        qsort(c->entries, c->count, sizeof *c->entries, entry_qcmp);
}

cairn_err catalog_encode(const catalog *c, cbuf *out)
{
    cbuf_varint(out, CATALOG_VERSION);
    cbuf_varint(out, c->count);
    for (size_t i = 0; i < c->count; i++) {
        const catalog_entry *const e = &c->entries[i];
        cbuf_cstr(out, e->domain);
        cbuf_cstr(out, e->path);
        cbuf_put(out, e->file_id, CATALOG_FILE_ID_LEN);
        cbuf_u8(out, e->flags);
        cbuf_varint(out, e->size);
        cbuf_varint(out, e->mode);
        cbuf_svarint(out, e->mtime);
        cbuf_u8(out, e->target != NULL);
        if (e->target)
            cbuf_cstr(out, e->target);
    }
    return out->failed ? err_set(CAIRN_ENOMEM, "out of memory encoding a catalog") : CAIRN_OK;
}

cairn_err catalog_decode(const uint8_t *data, size_t len, catalog *out)
{
    creader r;
    catalog c;
    catalog_init(&c);
    cr_init(&r, data, len);
    const uint64_t version = cr_varint(&r), count = cr_varint(&r);
    if (r.failed || version != CATALOG_VERSION)
        return err_set(CAIRN_ECORRUPT, "catalog: unknown version");
    if (count > MAX_ENTRIES || count > len / 26)
        return err_set(CAIRN_ECORRUPT, "catalog: bad entry count");
    for (uint64_t i = 0; i < count; i++) {
        catalog_entry *const e = grow(&c);
        if (!e) {
            catalog_free(&c);
            return err_set(CAIRN_ENOMEM, "out of memory decoding a catalog");
        }
        c.count++;
        size_t dlen = 0, plen = 0, tlen = 0;
        const uint8_t *const domain = cr_str(&r, STR_MAX, &dlen);
        const uint8_t *const path = cr_str(&r, STR_MAX, &plen);
        const uint8_t *const id = cr_bytes(&r, CATALOG_FILE_ID_LEN);
        if (id)
            memcpy(e->file_id, id, CATALOG_FILE_ID_LEN);
        e->flags = cr_u8(&r);
        e->size = cr_varint(&r);
        const uint64_t mode = cr_varint(&r);
        e->mtime = cr_svarint(&r);
        const uint8_t has_target = cr_u8(&r);
        const uint8_t *const target = has_target == 1 ? cr_str(&r, STR_MAX, &tlen) : NULL;
        if (r.failed || mode > UINT32_MAX || has_target > 1 ||
            (dlen && memchr(domain, '\0', dlen)) || (plen && memchr(path, '\0', plen)) ||
            (tlen && memchr(target, '\0', tlen)))
            goto bad;
        if (entry_strings(e, dlen ? (const char *)domain : "", dlen, plen ? (const char *)path : "",
                          plen, has_target == 1 ? (tlen ? (const char *)target : "") : NULL,
                          tlen)) {
            catalog_free(&c);
            return err_set(CAIRN_ENOMEM, "out of memory decoding a catalog");
        }
        if (i > 0 && entry_cmp(&c.entries[i - 1], e) >= 0)
            goto bad;
        e->mode = (uint32_t)mode;
    }
    if (r.left != 0)
        goto bad;
    *out = c;
    return CAIRN_OK;
bad:
    catalog_free(&c);
    return err_set(CAIRN_ECORRUPT, "catalog: malformed entry");
}

cairn_err catalog_save(store *s, store_worker *w, const chunker *ck, const catalog *c,
                       uint8_t (**ids)[ID_LEN], uint32_t *n, treestore_stats *stats)
{
    cbuf enc;
    cbuf_init(&enc);
    cairn_err rc = catalog_encode(c, &enc);
    if (!rc)
        rc = treestore_save_bytes(s, w, ck, enc.data, enc.len, ids, n, stats);
    cbuf_free(&enc);
    return rc;
}

cairn_err catalog_load(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                       catalog *out)
{
    cbuf all;
    cbuf_init(&all);
    cairn_err rc = treestore_load_bytes(s, w, ids, n, &all);
    if (!rc)
        rc = catalog_decode(all.data, all.len, out);
    cbuf_free(&all);
    return rc;
}

void catalog_content_path(const catalog_entry *e, char out[44])
{
    char hex[2 * CATALOG_FILE_ID_LEN + 1];
    fs_hex(e->file_id, CATALOG_FILE_ID_LEN, hex);
    memcpy(out, hex, 2);
    out[2] = '/';
    memcpy(out + 3, hex, sizeof hex);
}

int catalog_matches(const catalog_entry *e, const char *pattern)
{
    const char *const slash = strchr(pattern, '/');
    const size_t dlen = slash ? (size_t)(slash - pattern) : strlen(pattern);
    if (strlen(e->domain) != dlen || strncmp(e->domain, pattern, dlen) != 0)
        return 0;
    if (!slash || !slash[1])
        return 1;
    const char *const path = slash + 1;
    const size_t plen = strlen(path);
    return strncmp(e->path, path, plen) == 0 && (e->path[plen] == '\0' || e->path[plen] == '/');
}
