#include "engine/core/tree.h"
#include "util/grow.h"

#include <stdlib.h>
#include <string.h>

enum {
    TREE_VERSION = 1,
    TREE_MAX_NODES = 1 << 24,
    FLAG_DIGEST = 1,
    FLAG_TARGET = 2,
    FLAG_CIPHER = 4
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

cairn_err tree_encode(const tree *t, cbuf *out)
{
    cbuf_varint(out, TREE_VERSION);
    cbuf_varint(out, t->count);
    for (size_t i = 0; i < t->count; i++) {
        const tree_node *const n = &t->nodes[i];
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
                               (n->cipher ? FLAG_CIPHER : 0)));
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
    }
    return out->failed ? err_set(CAIRN_ENOMEM, "out of memory encoding a tree") : CAIRN_OK;
}

static int valid_name(const char *s)
{
    return *s && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

cairn_err tree_decode(const uint8_t *data, size_t len, tree *out)
{
    creader r;
    tree t;
    tree_init(&t);
    cr_init(&r, data, len);
    const uint64_t version = cr_varint(&r);
    const uint64_t count = cr_varint(&r);
    if (r.failed || version != TREE_VERSION)
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
        if (r.failed || !n->name || !valid_name(n->name) || n->type < NODE_FILE ||
            n->type > NODE_SYMLINK || mode > 07777 || nsec >= 1000000000 || uid > UINT32_MAX ||
            gid > UINT32_MAX || (flags & ~(FLAG_DIGEST | FLAG_TARGET | FLAG_CIPHER)) ||
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
