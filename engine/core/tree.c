#include "engine/core/tree.h"
#include "util/grow.h"

#include <stdlib.h>
#include <string.h>

enum {
    TREE_VERSION = 1,
    TREE_VERSION_FPRINTS = 2, /* FLAG_FPRINTS allowed */
    TREE_MAX_NODES = 1 << 24,
    FLAG_DIGEST = 1,
    FLAG_TARGET = 2,
    FLAG_CIPHER = 4,
    FLAG_FPRINTS = 8
};

void tree_init(tree *t)
{
    memset(t, 0, sizeof *t);
}

void tree_node_free(tree_node *n)
{
    free(n->name);
    free(n->target);
    free(n->chunks);
    free(n->fprints);
    memset(n, 0, sizeof *n);
}

void tree_free(tree *t)
{
    for (size_t i = 0; i < t->count; i++)
        tree_node_free(&t->nodes[i]);
    free(t->nodes);
    tree_init(t);
}

tree_node *tree_add(tree *t)
{
    if (util_grow(&t->nodes, &t->cap, t->count + 1, sizeof *t->nodes) != CAIRN_OK)
        return NULL;
    tree_node *const n = &t->nodes[t->count++];
    memset(n, 0, sizeof *n);
    return n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const tree_node *)a)->name, ((const tree_node *)b)->name);
}

void tree_sort(tree *t)
{
    if (t->count > 1)
        qsort(t->nodes, t->count, sizeof *t->nodes, by_name);
}

int tree_sorted(const tree *t)
{
    for (size_t i = 1; i < t->count; i++)
        if (strcmp(t->nodes[i - 1].name, t->nodes[i].name) >= 0)
            return 0;
    return 1;
}

cairn_err tree_node_copy_chunks(tree_node *out, const tree_node *src)
{
    const size_t n = src->nchunks;
    const int fp = tree_node_has_fprints(src);
    out->chunks = n ? malloc(n * ID_LEN) : NULL;
    out->fprints = n && fp ? malloc(n * sizeof *out->fprints) : NULL;
    out->nchunks = out->cap_chunks = 0;
    if (n && (!out->chunks || (fp && !out->fprints))) {
        free(out->chunks);
        free(out->fprints);
        out->chunks = NULL;
        out->fprints = NULL;
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (n)
        memcpy(out->chunks, src->chunks, n * ID_LEN);
    if (out->fprints)
        memcpy(out->fprints, src->fprints, n * sizeof *out->fprints);
    out->nchunks = out->cap_chunks = (uint32_t)n;
    return CAIRN_OK;
}

int tree_node_has_fprints(const tree_node *n)
{
    if (n->type != NODE_FILE || !n->fprints || n->nchunks == 0)
        return 0;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n->nchunks; i++)
        sum += n->fprints[i].len;
    return sum == n->size;
}

/* Moves c to off: 1 when a chunk of c's node starts there (c->k). */
static int fprint_seek(tree_fprint_cursor *c, uint64_t off)
{
    const tree_node *const n = c->n;
    if (!n || !n->fprints)
        return 0;
    while (c->k < n->nchunks && c->at < off)
        c->at += n->fprints[c->k++].len;
    return c->k < n->nchunks && c->at == off;
}

uint32_t tree_fprint_expect(tree_fprint_cursor *c, uint64_t off, size_t avail, int eof)
{
    if (!fprint_seek(c, off))
        return 0;
    const uint32_t len = c->n->fprints[c->k].len;
    if (c->k + 1 == c->n->nchunks)
        return eof && avail == len ? len : 0;
    return avail >= len ? len : 0;
}

const uint8_t *tree_fprint_match(tree_fprint_cursor *c, uint64_t off, const tree_fprint *fp)
{
    if (!fprint_seek(c, off))
        return NULL;
    const tree_node *const n = c->n;
    const tree_fprint *const o = &n->fprints[c->k];
    return o->len == fp->len && memcmp(o->hash, fp->hash, TREE_DIGEST_LEN) == 0 ? n->chunks[c->k]
                                                                                : NULL;
}

cairn_err tree_encode(const tree *t, cbuf *out)
{
    int version = TREE_VERSION;
    for (size_t i = 0; i < t->count && version == TREE_VERSION; i++)
        if (tree_node_has_fprints(&t->nodes[i]))
            version = TREE_VERSION_FPRINTS;
    /* a tree without fingerprints keeps version 1: the bytes (and so the
     * IDs) of older cairn's trees, which it can still read */
    cbuf_varint(out, (uint64_t)version);
    cbuf_varint(out, t->count);
    for (size_t i = 0; i < t->count; i++) {
        const tree_node *const n = &t->nodes[i];
        const int fp = tree_node_has_fprints(n);
        cbuf_cstr(out, n->name);
        cbuf_u8(out, n->type);
        cbuf_varint(out, n->mode);
        cbuf_svarint(out, n->mtime_sec);
        cbuf_varint(out, n->mtime_nsec);
        cbuf_varint(out, n->size);
        cbuf_varint(out, n->inode);
        cbuf_varint(out, n->uid);
        cbuf_varint(out, n->gid);
        cbuf_u8(out, (uint8_t)((n->has_digest ? FLAG_DIGEST : 0) | (n->target ? FLAG_TARGET : 0) |
                               (n->cipher ? FLAG_CIPHER : 0) | (fp ? FLAG_FPRINTS : 0)));
        if (n->has_digest)
            cbuf_put(out, n->digest, TREE_DIGEST_LEN);
        if (n->cipher) {
            cbuf_u8(out, n->cipher);
            cbuf_put(out, n->cipher_key, TREE_CIPHER_KEY_LEN);
        }
        if (n->target)
            cbuf_cstr(out, n->target);
        cbuf_varint(out, n->nchunks);
        cbuf_put(out, n->chunks, (size_t)n->nchunks * ID_LEN);
        for (uint32_t k = 0; fp && k < n->nchunks; k++) {
            cbuf_varint(out, n->fprints[k].len);
            cbuf_put(out, n->fprints[k].hash, TREE_DIGEST_LEN);
        }
    }
    return out->failed ? err_set(CAIRN_ENOMEM, "out of memory encoding a tree") : CAIRN_OK;
}

static int valid_name(const char *s)
{
    return *s && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* n's fingerprints (FLAG_FPRINTS): a file's, one per chunk, each at least
 * one byte, adding up to its size.  CAIRN_ECORRUPT with r->failed set, or
 * CAIRN_ENOMEM. */
static cairn_err decode_fprints(creader *r, tree_node *n)
{
    uint64_t sum = 0;
    /* each takes at least 17 bytes: a cheap bound before allocating */
    if (n->type != NODE_FILE || n->nchunks == 0 || n->nchunks > r->left / (1 + TREE_DIGEST_LEN)) {
        r->failed = 1;
        return CAIRN_ECORRUPT;
    }
    n->fprints = malloc((size_t)n->nchunks * sizeof *n->fprints);
    if (!n->fprints)
        return CAIRN_ENOMEM;
    for (uint32_t k = 0; k < n->nchunks; k++) {
        const uint64_t len = cr_varint(r);
        const uint8_t *const h = cr_bytes(r, TREE_DIGEST_LEN);
        if (!h || len == 0 || len > UINT32_MAX) {
            r->failed = 1;
            return CAIRN_ECORRUPT;
        }
        n->fprints[k].len = (uint32_t)len;
        memcpy(n->fprints[k].hash, h, TREE_DIGEST_LEN);
        sum += len;
    }
    if (sum != n->size) {
        r->failed = 1;
        return CAIRN_ECORRUPT;
    }
    return CAIRN_OK;
}

cairn_err tree_decode(const uint8_t *data, size_t len, tree *out)
{
    creader r;
    tree t;
    tree_init(&t);
    cr_init(&r, data, len);
    const uint64_t version = cr_varint(&r);
    const uint64_t count = cr_varint(&r);
    if (r.failed || (version != TREE_VERSION && version != TREE_VERSION_FPRINTS))
        return err_set(CAIRN_ECORRUPT, "tree: unknown version %llu", (unsigned long long)version);
    /* each node takes at least 12 bytes: a cheap bound before allocating */
    if (count > TREE_MAX_NODES || count > len / 12)
        return err_set(CAIRN_ECORRUPT, "tree: bad node count");
    for (uint64_t i = 0; i < count; i++) {
        tree_node *const n = tree_add(&t);
        if (!n) {
            tree_free(&t);
            return err_set(CAIRN_ENOMEM, "out of memory decoding a tree");
        }
        n->name = cr_cstr(&r, TREE_NAME_MAX);
        n->type = cr_u8(&r);
        const uint64_t mode = cr_varint(&r);
        n->mtime_sec = cr_svarint(&r);
        const uint64_t nsec = cr_varint(&r);
        n->size = cr_varint(&r);
        n->inode = cr_varint(&r);
        const uint64_t uid = cr_varint(&r), gid = cr_varint(&r);
        const uint8_t flags = cr_u8(&r);
        const uint8_t known = FLAG_DIGEST | FLAG_TARGET | FLAG_CIPHER |
                              (version == TREE_VERSION_FPRINTS ? FLAG_FPRINTS : 0);
        if (r.failed || !n->name || !valid_name(n->name) || n->type < NODE_FILE ||
            n->type > NODE_SYMLINK || mode > 07777 || nsec >= 1000000000 || uid > UINT32_MAX ||
            gid > UINT32_MAX || (flags & ~known) ||
            (i > 0 && strcmp(t.nodes[i - 1].name, n->name) >= 0))
            goto bad;
        n->mode = (uint32_t)mode;
        n->mtime_nsec = (uint32_t)nsec;
        n->uid = (uint32_t)uid;
        n->gid = (uint32_t)gid;
        if (flags & FLAG_DIGEST) {
            const uint8_t *const d = cr_bytes(&r, TREE_DIGEST_LEN);
            if (!d)
                goto bad;
            n->has_digest = 1;
            memcpy(n->digest, d, TREE_DIGEST_LEN);
        }
        if (flags & FLAG_CIPHER) {
            n->cipher = cr_u8(&r);
            const uint8_t *const k = cr_bytes(&r, TREE_CIPHER_KEY_LEN);
            if (!k || n->type != NODE_FILE || !(n->cipher & TREE_CIPHER_CBC) ||
                (n->cipher & ~(TREE_CIPHER_CBC | TREE_CIPHER_PADDED)) ||
                (!(n->cipher & TREE_CIPHER_PADDED) && n->size % 16 != 0))
                goto bad;
            memcpy(n->cipher_key, k, TREE_CIPHER_KEY_LEN);
        }
        if (flags & FLAG_TARGET) {
            n->target = cr_cstr(&r, TREE_NAME_MAX);
            if (!n->target)
                goto bad;
        }
        const uint64_t nchunks = cr_varint(&r);
        if (r.failed || nchunks > r.left / ID_LEN)
            goto bad;
        if (nchunks) {
            n->chunks = malloc((size_t)nchunks * ID_LEN);
            if (!n->chunks) {
                tree_free(&t);
                return err_set(CAIRN_ENOMEM, "out of memory decoding a tree");
            }
            memcpy(n->chunks, cr_bytes(&r, (size_t)nchunks * ID_LEN), (size_t)nchunks * ID_LEN);
        }
        n->nchunks = n->cap_chunks = (uint32_t)nchunks;
        if ((flags & FLAG_FPRINTS) && decode_fprints(&r, n) != CAIRN_OK) {
            if (r.failed)
                goto bad;
            tree_free(&t);
            return err_set(CAIRN_ENOMEM, "out of memory decoding a tree");
        }
        if ((n->type == NODE_SYMLINK) != (n->target != NULL))
            goto bad;
    }
    if (r.left != 0)
        goto bad;
    *out = t;
    return CAIRN_OK;
bad:
    tree_free(&t);
    return err_set(CAIRN_ECORRUPT, "tree: malformed entry");
}

const tree_node *tree_find(const tree *t, const char *name)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const int c = strcmp(t->nodes[mid].name, name);
        if (c == 0)
            return &t->nodes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

uint64_t tree_source_size(const tree_node *n)
{
    if (!n->cipher)
        return n->size;
    /* whole AES blocks; PKCS#7 always adds 1-16 bytes */
    return (n->cipher & TREE_CIPHER_PADDED) ? (n->size / 16 + 1) * 16 : n->size;
}

int tree_same_chunks(const tree_node *a, const tree_node *b)
{
    return a->nchunks == b->nchunks &&
           (a->nchunks == 0 || memcmp(a->chunks, b->chunks, (size_t)a->nchunks * ID_LEN) == 0);
}
