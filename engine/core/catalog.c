#include "engine/core/catalog.h"

#include <stdlib.h>
#include <string.h>

#include "util/fsutil.h"
#include "util/grow.h"
#include "engine/core/tree_store.h"

enum { CATALOG_V1 = 1, CATALOG_V2 = 2, STR_MAX = 1 << 16, MAX_ENTRIES = 1 << 24 };
/* The most bytes one entry can take: three strings with their varint
 * lengths, the file ID, flags, three varints, the target flag.  A decoder
 * holding more than this unread and still unable to decode is looking at
 * garbage, not at an entry cut by a chunk boundary. */
enum {
    ENTRY_MAX =
        3 * (STR_MAX + 3) + CATALOG_FILE_ID_LEN + 1 + 10 + 10 + 10 + 1 + CATALOG_ROW_DIGEST_LEN
};
/* Pool blocks: large enough that the block headers and malloc's own are
 * noise, small enough that a small catalog stays small. */
enum { POOL_BLOCK = 64 * 1024 };

typedef struct pool_block {
    struct pool_block *prev;
    char data[];
} pool_block;

struct catalog_pool {
    pool_block *last;
    char *next; /* free bytes of the last block */
    size_t left;
    char **domains; /* interned domains: open addressing, dcap a power of two */
    size_t ndomains, dcap;
};

void catalog_init(catalog *c)
{
    memset(c, 0, sizeof *c);
}

static void pool_free(struct catalog_pool *p)
{
    if (!p)
        return;
    for (pool_block *b = p->last, *prev; b; b = prev) {
        prev = b->prev;
        free(b);
    }
    free(p->domains);
    free(p);
}

void catalog_free(catalog *c)
{
    free(c->entries);
    pool_free(c->pool);
    catalog_init(c);
}

/* n bytes from the pool (no alignment: strings only). */
static char *pool_alloc(struct catalog_pool *p, size_t n)
{
    if (n > p->left) {
        const size_t size = n > POOL_BLOCK ? n : POOL_BLOCK;
        pool_block *const b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->prev = p->last;
        p->last = b;
        p->next = b->data;
        p->left = size;
    }
    char *const r = p->next;
    p->next += n;
    p->left -= n;
    return r;
}

static char *pool_str(struct catalog_pool *p, const char *s, size_t len)
{
    char *const r = pool_alloc(p, len + 1);
    if (r) {
        memcpy(r, s, len);
        r[len] = '\0';
    }
    return r;
}

static size_t str_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211u;
    return (size_t)h;
}

/* The pool's one copy of domain (added on first use). */
static char *pool_domain(struct catalog_pool *p, const char *domain, size_t len)
{
    if (2 * (p->ndomains + 1) > p->dcap) {
        const size_t cap = p->dcap ? 2 * p->dcap : 64;
        char **const t = calloc(cap, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; i < p->dcap; i++) {
            if (!p->domains[i])
                continue;
            size_t k = str_hash(p->domains[i], strlen(p->domains[i])) & (cap - 1);
            while (t[k])
                k = (k + 1) & (cap - 1);
            t[k] = p->domains[i];
        }
        free(p->domains);
        p->domains = t;
        p->dcap = cap;
    }
    size_t k = str_hash(domain, len) & (p->dcap - 1);
    for (; p->domains[k]; k = (k + 1) & (p->dcap - 1))
        if (strncmp(p->domains[k], domain, len) == 0 && p->domains[k][len] == '\0')
            return p->domains[k];
    char *const d = pool_str(p, domain, len);
    if (d) {
        p->domains[k] = d;
        p->ndomains++;
    }
    return d;
}

cairn_err catalog_add(catalog *c, const catalog_entry *src)
{
    if (!c->pool && !(c->pool = calloc(1, sizeof *c->pool)))
        return err_set(CAIRN_ENOMEM, "out of memory");
    if (util_grow(&c->entries, &c->cap, c->count + 1, sizeof *c->entries) != CAIRN_OK)
        return CAIRN_ENOMEM;
    catalog_entry *const e = &c->entries[c->count];
    *e = *src;
    const char *const domain = src->domain ? src->domain : "";
    const char *const path = src->path ? src->path : "";
    e->domain = pool_domain(c->pool, domain, strlen(domain));
    e->path = pool_str(c->pool, path, strlen(path));
    e->target = src->target ? pool_str(c->pool, src->target, strlen(src->target)) : NULL;
    if (!e->domain || !e->path || (src->target && !e->target))
        return err_set(CAIRN_ENOMEM, "out of memory");
    c->count++;
    return CAIRN_OK;
}

static int entry_cmp(const catalog_entry *a, const catalog_entry *b)
{
    const int d = a->domain == b->domain ? 0 : strcmp(a->domain, b->domain);
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

/* Version 2 only when every entry has its row digest: a catalog without
 * them keeps its version-1 bytes (and what they dedup against). */
static unsigned catalog_version(const catalog *c)
{
    for (size_t i = 0; i < c->count; i++)
        if (!c->entries[i].has_digest)
            return CATALOG_V1;
    return c->count ? CATALOG_V2 : CATALOG_V1;
}

static void encode_entry(cbuf *out, const catalog_entry *e, unsigned version)
{
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
    if (version == CATALOG_V2)
        cbuf_put(out, e->row_digest, CATALOG_ROW_DIGEST_LEN);
}

cairn_err catalog_encode(const catalog *c, cbuf *out)
{
    const unsigned version = catalog_version(c);
    cbuf_varint(out, version);
    cbuf_varint(out, c->count);
    for (size_t i = 0; i < c->count; i++)
        encode_entry(out, &c->entries[i], version);
    return out->failed ? err_set(CAIRN_ENOMEM, "out of memory encoding a catalog") : CAIRN_OK;
}

/* ---- decoding, whole or piece by piece ---- */

struct catalog_decoder {
    catalog_entry_fn fn;
    void *ctx;
    cbuf carry;  /* bytes given but not decoded yet */
    cbuf str[2]; /* the latest two entries' strings, NUL-terminated */
    catalog_entry prev;
    int header, cur;
    unsigned version;
    uint64_t count, done;
};

cairn_err catalog_decoder_new(catalog_entry_fn fn, void *ctx, catalog_decoder **out)
{
    catalog_decoder *const d = calloc(1, sizeof *d);
    if (!d)
        return err_set(CAIRN_ENOMEM, "out of memory");
    d->fn = fn;
    d->ctx = ctx;
    cbuf_init(&d->carry);
    cbuf_init(&d->str[0]);
    cbuf_init(&d->str[1]);
    *out = d;
    return CAIRN_OK;
}

void catalog_decoder_free(catalog_decoder *d)
{
    if (!d)
        return;
    cbuf_free(&d->carry);
    cbuf_free(&d->str[0]);
    cbuf_free(&d->str[1]);
    free(d);
}

static cairn_err malformed(void)
{
    return err_set(CAIRN_ECORRUPT, "catalog: malformed entry");
}

/* The strings of one entry NUL-terminated in the decoder's scratch buffer
 * (the other one keeps the previous entry's for the order check). */
static cairn_err entry_strings(catalog_decoder *d, catalog_entry *e, const uint8_t *domain,
                               size_t dlen, const uint8_t *path, size_t plen, const uint8_t *target,
                               size_t tlen)
{
    d->cur ^= 1;
    cbuf *const b = &d->str[d->cur];
    cbuf_reset(b);
    cbuf_put(b, domain, dlen);
    cbuf_u8(b, 0);
    cbuf_put(b, path, plen);
    cbuf_u8(b, 0);
    if (target) {
        cbuf_put(b, target, tlen);
        cbuf_u8(b, 0);
    }
    if (b->failed)
        return err_set(CAIRN_ENOMEM, "out of memory decoding a catalog");
    e->domain = (char *)b->data;
    e->path = e->domain + dlen + 1;
    e->target = target ? e->path + plen + 1 : NULL;
    return CAIRN_OK;
}

/* Decodes what it can of p[0..len); *used receives the bytes consumed.
 * Without final, an entry cut short waits for more bytes. */
static cairn_err decode_some(catalog_decoder *d, const uint8_t *p, size_t len, int final,
                             size_t *used)
{
    creader r;
    cr_init(&r, p, len);
    *used = 0;
    if (!d->header) {
        const uint64_t version = cr_varint(&r), count = cr_varint(&r);
        if (r.failed && !final && len < 20)
            return CAIRN_OK;
        if (r.failed || (version != CATALOG_V1 && version != CATALOG_V2))
            return err_set(CAIRN_ECORRUPT, "catalog: unknown version");
        d->version = (unsigned)version;
        if (count > MAX_ENTRIES)
            return err_set(CAIRN_ECORRUPT, "catalog: bad entry count");
        d->header = 1;
        d->count = count;
        *used = len - r.left;
    }
    while (d->done < d->count) {
        creader e = r;
        catalog_entry ent;
        size_t dlen = 0, plen = 0, tlen = 0;
        memset(&ent, 0, sizeof ent);
        const uint8_t *const domain = cr_str(&e, STR_MAX, &dlen);
        const uint8_t *const path = cr_str(&e, STR_MAX, &plen);
        const uint8_t *const id = cr_bytes(&e, CATALOG_FILE_ID_LEN);
        if (id)
            memcpy(ent.file_id, id, CATALOG_FILE_ID_LEN);
        ent.flags = cr_u8(&e);
        ent.size = cr_varint(&e);
        const uint64_t mode = cr_varint(&e);
        ent.mtime = cr_svarint(&e);
        const uint8_t has_target = cr_u8(&e);
        const uint8_t *const target = has_target == 1 ? cr_str(&e, STR_MAX, &tlen) : NULL;
        if (d->version == CATALOG_V2) {
            const uint8_t *const digest = cr_bytes(&e, CATALOG_ROW_DIGEST_LEN);
            if (digest)
                memcpy(ent.row_digest, digest, CATALOG_ROW_DIGEST_LEN);
            ent.has_digest = 1;
        }
        if (e.failed) {
            if (final || r.left > ENTRY_MAX)
                return malformed();
            return CAIRN_OK; /* cut by the end of the piece: wait for the next */
        }
        if (mode > UINT32_MAX || has_target > 1 || (dlen && memchr(domain, '\0', dlen)) ||
            (plen && memchr(path, '\0', plen)) || (tlen && memchr(target, '\0', tlen)))
            return malformed();
        ent.mode = (uint32_t)mode;
        cairn_err rc =
            entry_strings(d, &ent, domain, dlen, path, plen,
                          has_target == 1 ? (tlen ? target : (const uint8_t *)"") : NULL, tlen);
        if (rc)
            return rc;
        if (d->done > 0 && entry_cmp(&d->prev, &ent) >= 0)
            return malformed();
        rc = d->fn(d->ctx, &ent);
        if (rc)
            return rc;
        d->prev = ent;
        d->done++;
        r = e;
        *used = len - r.left;
    }
    return r.left ? malformed() : CAIRN_OK;
}

cairn_err catalog_decoder_feed(catalog_decoder *d, const uint8_t *data, size_t len)
{
    size_t used;
    cairn_err rc;
    if (d->carry.len == 0) {
        rc = decode_some(d, data, len, 0, &used);
        if (!rc && used < len)
            cbuf_put(&d->carry, data + used, len - used);
    } else {
        cbuf_put(&d->carry, data, len);
        if (d->carry.failed)
            return err_set(CAIRN_ENOMEM, "out of memory decoding a catalog");
        rc = decode_some(d, d->carry.data, d->carry.len, 0, &used);
        if (!rc) {
            memmove(d->carry.data, d->carry.data + used, d->carry.len - used);
            d->carry.len -= used;
        }
    }
    if (!rc && d->carry.failed)
        rc = err_set(CAIRN_ENOMEM, "out of memory decoding a catalog");
    return rc;
}

cairn_err catalog_decoder_finish(catalog_decoder *d)
{
    size_t used;
    const cairn_err rc = decode_some(d, d->carry.data, d->carry.len, 1, &used);
    if (rc)
        return rc;
    return d->done == d->count ? CAIRN_OK : malformed();
}

static cairn_err add_entry(void *ctx, const catalog_entry *e)
{
    return catalog_add(ctx, e);
}

cairn_err catalog_decode(const uint8_t *data, size_t len, catalog *out)
{
    catalog_decoder *d = NULL;
    catalog c;
    catalog_init(&c);
    cairn_err rc = catalog_decoder_new(add_entry, &c, &d);
    if (!rc)
        rc = catalog_decoder_feed(d, data, len);
    if (!rc)
        rc = catalog_decoder_finish(d);
    catalog_decoder_free(d);
    if (rc) {
        catalog_free(&c);
        return rc;
    }
    *out = c;
    return CAIRN_OK;
}

cairn_err catalog_save(store *s, store_worker *w, const chunker *ck, const catalog *c,
                       uint8_t (**ids)[ID_LEN], uint32_t *n, treestore_stats *stats)
{
    treestore_list list = {NULL, 0, 0};
    cbuf win;
    size_t used;
    cairn_err rc = CAIRN_OK;
    const unsigned version = catalog_version(c);
    cbuf_init(&win);
    cbuf_varint(&win, version);
    cbuf_varint(&win, c->count);
    /* encoded as it is cut: no more than a chunk's worth is held */
    for (size_t i = 0; i <= c->count && !rc; i++) {
        const int last = i == c->count;
        if (!last)
            encode_entry(&win, &c->entries[i], version);
        if (win.failed) {
            rc = err_set(CAIRN_ENOMEM, "out of memory encoding a catalog");
            break;
        }
        if (!last && win.len < ck->max_size + POOL_BLOCK)
            continue;
        rc = treestore_save_part(s, w, ck, win.data, win.len, last, &list, &used, stats);
        if (!rc) {
            memmove(win.data, win.data + used, win.len - used);
            win.len -= used;
        }
    }
    cbuf_free(&win);
    if (rc) {
        free(list.ids);
        return rc;
    }
    *ids = list.ids;
    *n = list.n;
    return CAIRN_OK;
}

cairn_err catalog_each(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                       catalog_entry_fn fn, void *ctx)
{
    catalog_decoder *d = NULL;
    cbuf part;
    cbuf_init(&part);
    cairn_err rc = catalog_decoder_new(fn, ctx, &d);
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = store_get_chunk(s, w, ids[i], &part);
        if (!rc)
            rc = catalog_decoder_feed(d, part.data, part.len);
    }
    if (!rc)
        rc = catalog_decoder_finish(d);
    catalog_decoder_free(d);
    cbuf_free(&part);
    return rc;
}

cairn_err catalog_load(store *s, store_worker *w, const uint8_t (*ids)[ID_LEN], uint32_t n,
                       catalog *out)
{
    catalog c;
    catalog_init(&c);
    const cairn_err rc = catalog_each(s, w, ids, n, add_entry, &c);
    if (rc) {
        catalog_free(&c);
        return rc;
    }
    *out = c;
    return CAIRN_OK;
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
