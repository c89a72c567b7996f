#include "engine/core/snapshot.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { SNAPSHOT_VERSION = 1, STR_MAX = 1 << 16, META_MAX = 4096, TREE_CHUNKS_MAX = 1 << 20 };

void snapshot_free(snapshot *s)
{
    free(s->hostname);
    free(s->source);
    free(s->chain);
    free(s->tree);
    free(s->catalog);
    snapshot_meta_free(s->meta, s->nmeta);
    memset(s, 0, sizeof *s);
}

void snapshot_meta_free(snapshot_meta *meta, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(meta[i].key);
        free(meta[i].value);
    }
    free(meta);
}

cairn_err snapshot_encode(const snapshot *s, cbuf *out)
{
    cbuf_varint(out, SNAPSHOT_VERSION);
    cbuf_svarint(out, s->time_sec);
    cbuf_varint(out, s->time_nsec);
    cbuf_cstr(out, s->hostname);
    cbuf_cstr(out, s->source);
    cbuf_cstr(out, s->chain);
    cbuf_u8(out, (uint8_t)(s->has_parent != 0));
    if (s->has_parent)
        cbuf_put(out, s->parent, ID_LEN);
    cbuf_varint(out, s->flags);
    cbuf_varint(out, s->ntree);
    cbuf_put(out, s->tree, (size_t)s->ntree * ID_LEN);
    cbuf_varint(out, s->ncatalog);
    cbuf_put(out, s->catalog, (size_t)s->ncatalog * ID_LEN);
    cbuf_varint(out, s->files);
    cbuf_varint(out, s->dirs);
    cbuf_varint(out, s->bytes);
    cbuf_varint(out, s->new_chunks);
    cbuf_varint(out, s->new_bytes);
    cbuf_varint(out, s->new_raw);
    cbuf_varint(out, s->errors);
    cbuf_varint(out, s->nmeta);
    for (size_t i = 0; i < s->nmeta; i++) {
        cbuf_cstr(out, s->meta[i].key);
        cbuf_cstr(out, s->meta[i].value);
    }
    return out->failed ? err_set(CAIRN_ENOMEM, "out of memory encoding a snapshot") : CAIRN_OK;
}

cairn_err snapshot_decode(const uint8_t *data, size_t len, snapshot *out)
{
    creader r;
    snapshot s;
    memset(&s, 0, sizeof s);
    cr_init(&r, data, len);
    const uint64_t version = cr_varint(&r);
    if (r.failed || version != SNAPSHOT_VERSION)
        return err_set(CAIRN_ECORRUPT, "snapshot: unknown version %llu",
                       (unsigned long long)version);
    s.time_sec = cr_svarint(&r);
    const uint64_t nsec = cr_varint(&r);
    s.hostname = cr_cstr(&r, STR_MAX);
    s.source = cr_cstr(&r, STR_MAX);
    s.chain = cr_cstr(&r, STR_MAX);
    s.has_parent = cr_u8(&r);
    if (s.has_parent > 1 || nsec >= 1000000000)
        goto bad;
    s.time_nsec = (uint32_t)nsec;
    if (s.has_parent) {
        const uint8_t *const p = cr_bytes(&r, ID_LEN);
        if (!p)
            goto bad;
        memcpy(s.parent, p, ID_LEN);
    }
    const uint64_t flags = cr_varint(&r), ntree = cr_varint(&r);
    if (r.failed || flags > UINT32_MAX || ntree > TREE_CHUNKS_MAX || ntree > r.left / ID_LEN)
        goto bad;
    s.flags = (uint32_t)flags;
    s.ntree = (uint32_t)ntree;
    if (ntree) {
        s.tree = malloc((size_t)ntree * ID_LEN);
        if (!s.tree)
            goto nomem;
        memcpy(s.tree, cr_bytes(&r, (size_t)ntree * ID_LEN), (size_t)ntree * ID_LEN);
    }
    const uint64_t ncatalog = cr_varint(&r);
    if (r.failed || ncatalog > TREE_CHUNKS_MAX || ncatalog > r.left / ID_LEN)
        goto bad;
    s.ncatalog = (uint32_t)ncatalog;
    if (ncatalog) {
        s.catalog = malloc((size_t)ncatalog * ID_LEN);
        if (!s.catalog)
            goto nomem;
        memcpy(s.catalog, cr_bytes(&r, (size_t)ncatalog * ID_LEN), (size_t)ncatalog * ID_LEN);
    }
    s.files = cr_varint(&r);
    s.dirs = cr_varint(&r);
    s.bytes = cr_varint(&r);
    s.new_chunks = cr_varint(&r);
    s.new_bytes = cr_varint(&r);
    s.new_raw = cr_varint(&r);
    s.errors = cr_varint(&r);
    const uint64_t nmeta = cr_varint(&r);
    if (r.failed || nmeta > META_MAX || nmeta > r.left / 2)
        goto bad;
    if (nmeta) {
        s.meta = calloc((size_t)nmeta, sizeof *s.meta);
        if (!s.meta)
            goto nomem;
    }
    for (size_t i = 0; i < nmeta; i++) {
        s.meta[i].key = cr_cstr(&r, STR_MAX);
        s.meta[i].value = cr_cstr(&r, STR_MAX);
        s.nmeta = i + 1;
        if (r.failed)
            goto bad;
    }
    if (r.failed || r.left != 0 || !s.hostname || !s.source || !s.chain)
        goto bad;
    *out = s;
    return CAIRN_OK;
nomem:
    snapshot_free(&s);
    return err_set(CAIRN_ENOMEM, "out of memory decoding a snapshot");
bad:
    snapshot_free(&s);
    return err_set(CAIRN_ECORRUPT, "snapshot: malformed object");
}

cairn_err snapshot_set_meta(snapshot *s, const char *key, const char *value)
{
    snapshot_meta *const m = realloc(s->meta, (s->nmeta + 1) * sizeof *m);
    if (!m)
        return err_set(CAIRN_ENOMEM, "out of memory");
    s->meta = m;
    m[s->nmeta].key = strdup(key);
    m[s->nmeta].value = strdup(value ? value : "");
    if (!m[s->nmeta].key || !m[s->nmeta].value) {
        free(m[s->nmeta].key);
        free(m[s->nmeta].value);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    s->nmeta++;
    return CAIRN_OK;
}

const char *snapshot_get_meta(const snapshot *s, const char *key)
{
    for (size_t i = 0; i < s->nmeta; i++)
        if (strcmp(s->meta[i].key, key) == 0)
            return s->meta[i].value;
    return NULL;
}

static int meta_is(const snapshot *s, const char *key, const char *value)
{
    const char *const v = snapshot_get_meta(s, key);
    return v && strcmp(v, value) == 0;
}

int snapshot_is_device(const snapshot *s)
{
    return snapshot_udid(s) != NULL;
}

const char *snapshot_udid(const snapshot *s)
{
    return snapshot_get_meta(s, SNAP_META_UDID);
}

const char *snapshot_device_name(const snapshot *s)
{
    return snapshot_get_meta(s, SNAP_META_DEVICE_NAME);
}

int snapshot_udid_is(const snapshot *s, const char *udid)
{
    const char *const u = snapshot_udid(s);
    return u && udid && strcasecmp(u, udid) == 0;
}

int snapshot_is_encrypted_backup(const snapshot *s)
{
    return meta_is(s, SNAP_META_IS_ENCRYPTED, "true");
}

int snapshot_is_decrypted(const snapshot *s)
{
    return meta_is(s, SNAP_META_CONTENTS, SNAP_CONTENTS_DECRYPTED);
}

int snapshot_device_finished(const snapshot *s)
{
    return meta_is(s, SNAP_META_SNAPSHOT_STATE, "finished");
}

int snapshot_matches_device(const snapshot *s, const char *selector)
{
    if (!selector)
        return 1;
    const char *const name = snapshot_device_name(s);
    return snapshot_udid_is(s, selector) || (name && strcmp(name, selector) == 0);
}

const char *snapshot_meta_device_field(const char *key)
{
    const size_t n = strlen(SNAP_META_DEVICE_PREFIX);
    return strncmp(key, SNAP_META_DEVICE_PREFIX, n) == 0 ? key + n : NULL;
}

int snapshot_meta_is_time(const char *key)
{
    return strstr(key, "date") != NULL;
}
