/* test_tree.c - tree encoding: round trips of every field, and the strict
 * decoder refuses names that are not single sorted path components, bad
 * types and fields, trailing bytes and every truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/tree.h"

static tree_node *add_node(tree *t, const char *name, uint8_t type)
{
    tree_node *const n = tree_add(t);
    assert_non_null(n);
    n->name = strdup(name);
    assert_non_null(n->name);
    n->type = type;
    n->mode = 0644;
    return n;
}

static void set_chunks(tree_node *n, uint32_t count, uint8_t seed)
{
    n->chunks = malloc((size_t)count * ID_LEN);
    assert_non_null(n->chunks);
    for (uint32_t i = 0; i < count; i++)
        memset(n->chunks[i], (int)(seed + i), ID_LEN);
    n->nchunks = n->cap_chunks = count;
}

/* Fingerprints for n's chunks with these lengths (n->size set to their sum). */
static void set_fprints(tree_node *n, const uint32_t *lens, uint32_t count, uint8_t seed)
{
    set_chunks(n, count, seed);
    n->fprints = calloc(count, sizeof *n->fprints);
    assert_non_null(n->fprints);
    n->size = 0;
    for (uint32_t i = 0; i < count; i++) {
        n->fprints[i].len = lens[i];
        memset(n->fprints[i].hash, (int)(seed + 0x80 + i), TREE_DIGEST_LEN);
        n->size += lens[i];
    }
}

/* A tree with every kind of node and the edge values of every field. */
static void sample_tree(tree *t)
{
    tree_init(t);
    tree_node *n = add_node(t, "a-dir", NODE_DIR);
    n->mode = 0755;
    n->mtime_sec = 1700000000;
    n->mtime_nsec = 999999999;
    n->inode = 42;
    n->uid = 1000;
    n->gid = 1000;
    set_chunks(n, 2, 0x10);
    n = add_node(t, "b-file", NODE_FILE);
    n->mode = 07777;
    n->mtime_sec = -1; /* before 1970 */
    n->size = UINT64_MAX;
    n->inode = UINT64_MAX;
    n->uid = UINT32_MAX;
    n->gid = UINT32_MAX;
    n->has_digest = 1;
    for (int i = 0; i < TREE_DIGEST_LEN; i++)
        n->digest[i] = (uint8_t)(0xd0 + i);
    set_chunks(n, 5, 0x20);
    n = add_node(t, "c-link", NODE_SYMLINK);
    n->mode = 0777;
    n->mtime_sec = INT64_MIN;
    n->target = strdup("../some/where else");
    assert_non_null(n->target);
    n = add_node(t, "d-empty-file", NODE_FILE);
    n->mtime_sec = INT64_MAX;
    n->has_digest = 1; /* digest of empty content, no chunks */
    n = add_node(t, "\xc3\xa9t\xc3\xa9 (unicode) \x01\x7f", NODE_FILE);
    n->mode = 0;
    n = add_node(t, "f-encrypted", NODE_FILE);
    n->size = 100;
    n->cipher = TREE_CIPHER_CBC | TREE_CIPHER_PADDED;
    for (int i = 0; i < TREE_CIPHER_KEY_LEN; i++)
        n->cipher_key[i] = (uint8_t)(0x40 + i);
    set_chunks(n, 1, 0x30);
    n = add_node(t, "g-encrypted-unpadded", NODE_FILE);
    n->size = 32;
    n->cipher = TREE_CIPHER_CBC;
    n->cipher_key[0] = 4;
    n = add_node(t, "h-fingerprinted", NODE_FILE);
    const uint32_t lens[] = {1, 200, UINT32_MAX};
    set_fprints(n, lens, 3, 0x50);
}

static void assert_same_node(const tree_node *a, const tree_node *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->mode, b->mode);
    assert_true(a->mtime_sec == b->mtime_sec);
    assert_int_equal(a->mtime_nsec, b->mtime_nsec);
    assert_true(a->size == b->size);
    assert_true(a->inode == b->inode);
    assert_int_equal(a->uid, b->uid);
    assert_int_equal(a->gid, b->gid);
    assert_int_equal(!!a->has_digest, !!b->has_digest);
    if (a->has_digest)
        assert_memory_equal(a->digest, b->digest, TREE_DIGEST_LEN);
    assert_int_equal(a->target != NULL, b->target != NULL);
    if (a->target)
        assert_string_equal(a->target, b->target);
    assert_int_equal(a->cipher, b->cipher);
    assert_memory_equal(a->cipher_key, b->cipher_key, TREE_CIPHER_KEY_LEN);
    assert_true(tree_source_size(a) == tree_source_size(b));
    assert_int_equal(a->nchunks, b->nchunks);
    if (a->nchunks)
        assert_memory_equal(a->chunks, b->chunks, (size_t)a->nchunks * ID_LEN);
    assert_true(tree_same_chunks(a, b));
    assert_int_equal(tree_node_has_fprints(a), tree_node_has_fprints(b));
    if (tree_node_has_fprints(a))
        assert_memory_equal(a->fprints, b->fprints, (size_t)a->nchunks * sizeof *a->fprints);
}

static cairn_err decode_exact(const uint8_t *p, size_t n, tree *out)
{
    /* exact-size heap copy: an overread is an ASan error */
    uint8_t *const d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n)
        memcpy(d, p, n);
    tree_init(out);
    const cairn_err rc = tree_decode(d, n, out);
    free(d);
    return rc;
}

static void encode_or_fail(const tree *t, cbuf *b)
{
    cbuf_init(b);
    assert_int_equal(tree_encode(t, b), CAIRN_OK);
}

static void expect_corrupt(const tree *t, const char *what)
{
    cbuf b;
    tree out;
    encode_or_fail(t, &b);
    const cairn_err rc = decode_exact(b.data, b.len, &out);
    if (rc != CAIRN_ECORRUPT) {
        if (rc == CAIRN_OK)
            tree_free(&out);
        fail_msg("%s: decoder returned %s", what, err_name(rc));
    }
    cbuf_free(&b);
}

static void test_round_trip(void **state)
{
    (void)state;
    tree t, back;
    cbuf b, b2;
    sample_tree(&t);
    tree_sort(&t);
    encode_or_fail(&t, &b);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    assert_int_equal(back.count, t.count);
    for (size_t i = 0; i < t.count; i++)
        assert_same_node(&t.nodes[i], &back.nodes[i]);
    /* the encoding is canonical: re-encoding gives the same bytes */
    encode_or_fail(&back, &b2);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    cbuf_free(&b);
    cbuf_free(&b2);
    tree_free(&back);
    tree_free(&t);
    assert_null(t.nodes);
    assert_int_equal(t.count, 0);
}

static void test_empty_tree(void **state)
{
    (void)state;
    tree t, back;
    cbuf b;
    tree_init(&t);
    encode_or_fail(&t, &b);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    assert_int_equal(back.count, 0);
    tree_free(&back);
    cbuf_free(&b);
    assert_null(tree_find(&t, "x"));
}

static void test_sort_and_find(void **state)
{
    (void)state;
    tree t;
    tree_init(&t);
    const char *const names[] = {"zeta", "Alpha", "alpha", "beta", "\xff", "a", "b.txt", "b"};
    const size_t n = sizeof names / sizeof names[0];
    for (size_t i = 0; i < n; i++)
        add_node(&t, names[i], NODE_FILE);
    tree_sort(&t);
    for (size_t i = 1; i < t.count; i++) /* bytewise: "Z" < "a" < "\xff" */
        assert_true(strcmp(t.nodes[i - 1].name, t.nodes[i].name) < 0);
    assert_string_equal(t.nodes[0].name, "Alpha");
    assert_string_equal(t.nodes[t.count - 1].name, "\xff");
    for (size_t i = 0; i < n; i++) {
        const tree_node *const f = tree_find(&t, names[i]);
        assert_non_null(f);
        assert_string_equal(f->name, names[i]);
    }
    assert_null(tree_find(&t, "gamma"));
    assert_null(tree_find(&t, ""));
    assert_null(tree_find(&t, "zeta2"));
    /* a sorted tree decodes */
    cbuf b;
    tree back;
    encode_or_fail(&t, &b);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    assert_int_equal(back.count, n);
    tree_free(&back);
    cbuf_free(&b);
    tree_free(&t);
}

static void test_same_chunks(void **state)
{
    (void)state;
    tree t;
    tree_init(&t);
    add_node(&t, "a", NODE_FILE);
    add_node(&t, "b", NODE_FILE);
    tree_node *const a = &t.nodes[0], *const b = &t.nodes[1];
    assert_true(tree_same_chunks(a, b)); /* both empty */
    set_chunks(a, 3, 1);
    assert_false(tree_same_chunks(a, b));
    set_chunks(b, 3, 1);
    assert_true(tree_same_chunks(a, b));
    b->chunks[2][31] ^= 1;
    assert_false(tree_same_chunks(a, b));
    b->chunks[2][31] ^= 1;
    b->nchunks = 2;
    assert_false(tree_same_chunks(a, b));
    b->nchunks = 3;
    tree_free(&t);
}

static void test_rejects_bad_names(void **state)
{
    (void)state;
    static const char *const bad[] = {"", ".", "..", "a/b", "/", "/a", "a/", "..."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tree t;
        tree_init(&t);
        add_node(&t, bad[i], NODE_FILE);
        if (i == sizeof bad / sizeof bad[0] - 1) {
            /* "..." is a legal name: the control case */
            cbuf b;
            tree back;
            encode_or_fail(&t, &b);
            assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
            tree_free(&back);
            cbuf_free(&b);
        } else {
            expect_corrupt(&t, bad[i]);
        }
        /* also when it is not the first node */
        tree_free(&t);
        tree_init(&t);
        add_node(&t, "!", NODE_FILE); /* sorts before every bad name */
        add_node(&t, bad[i], NODE_FILE);
        if (i != sizeof bad / sizeof bad[0] - 1)
            expect_corrupt(&t, bad[i]);
        tree_free(&t);
    }
    /* a name longer than TREE_NAME_MAX */
    char *const longname = malloc(TREE_NAME_MAX + 2);
    assert_non_null(longname);
    memset(longname, 'x', TREE_NAME_MAX + 1);
    longname[TREE_NAME_MAX + 1] = '\0';
    tree t;
    tree_init(&t);
    add_node(&t, longname, NODE_FILE);
    expect_corrupt(&t, "long name");
    tree_free(&t);
    free(longname);
}

/* tree_sorted (what treestore_save asserts) agrees with the decoder: names
 * strictly increasing, bytewise ("B" < "a", "a" < "a.txt" < "ab") */
static void test_sorted_matches_the_decoder(void **state)
{
    (void)state;
    tree t;
    tree_init(&t);
    assert_true(tree_sorted(&t));
    add_node(&t, "a", NODE_FILE);
    assert_true(tree_sorted(&t));
    add_node(&t, "ab", NODE_FILE);
    add_node(&t, "a.txt", NODE_FILE);
    add_node(&t, "B", NODE_DIR);
    assert_false(tree_sorted(&t));
    tree_sort(&t);
    assert_true(tree_sorted(&t));
    assert_string_equal(t.nodes[0].name, "B");
    assert_string_equal(t.nodes[2].name, "a.txt");
    add_node(&t, "ab", NODE_DIR);
    assert_false(tree_sorted(&t)); /* a name twice */
    expect_corrupt(&t, "duplicate");
    tree_free(&t);
}

static void test_rejects_unsorted_and_duplicates(void **state)
{
    (void)state;
    tree t;
    tree_init(&t);
    add_node(&t, "b", NODE_FILE);
    add_node(&t, "a", NODE_FILE);
    expect_corrupt(&t, "unsorted");
    tree_sort(&t);
    cbuf b;
    tree back;
    encode_or_fail(&t, &b);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    tree_free(&back);
    cbuf_free(&b);
    add_node(&t, "b", NODE_DIR);
    expect_corrupt(&t, "duplicate");
    tree_free(&t);

    tree_init(&t);
    add_node(&t, "a", NODE_FILE);
    add_node(&t, "c", NODE_FILE);
    add_node(&t, "b", NODE_FILE);
    expect_corrupt(&t, "unsorted at the end");
    tree_free(&t);

    tree_init(&t);
    add_node(&t, "ab", NODE_FILE);
    add_node(&t, "a", NODE_FILE); /* a prefix sorts first */
    expect_corrupt(&t, "prefix after longer name");
    tree_free(&t);
}

static void test_rejects_bad_types_and_fields(void **state)
{
    (void)state;
    const uint8_t types[] = {0, 4, 255};
    for (size_t i = 0; i < sizeof types; i++) {
        tree t;
        tree_init(&t);
        add_node(&t, "x", types[i]);
        expect_corrupt(&t, "unknown type");
        tree_free(&t);
    }
    tree t;
    /* symlink without target */
    tree_init(&t);
    add_node(&t, "link", NODE_SYMLINK);
    expect_corrupt(&t, "symlink without target");
    tree_free(&t);
    /* a target on something that is not a symlink */
    const uint8_t nonlink[] = {NODE_FILE, NODE_DIR};
    for (size_t i = 0; i < sizeof nonlink; i++) {
        tree_init(&t);
        tree_node *n = add_node(&t, "x", nonlink[i]);
        n->target = strdup("t");
        expect_corrupt(&t, "target on a non-symlink");
        tree_free(&t);
    }
    /* an empty symlink target is a target */
    tree_init(&t);
    tree_node *n = add_node(&t, "x", NODE_SYMLINK);
    n->target = strdup("");
    cbuf b;
    tree back;
    encode_or_fail(&t, &b);
    assert_int_equal(decode_exact(b.data, b.len, &back), CAIRN_OK);
    assert_non_null(back.nodes[0].target);
    assert_string_equal(back.nodes[0].target, "");
    tree_free(&back);
    cbuf_free(&b);
    tree_free(&t);
    /* mode beyond 07777, nanoseconds of a whole second */
    tree_init(&t);
    n = add_node(&t, "x", NODE_FILE);
    n->mode = 010000;
    expect_corrupt(&t, "mode");
    n->mode = 0644;
    n->mtime_nsec = 1000000000;
    expect_corrupt(&t, "nsec");
    n->mtime_nsec = UINT32_MAX;
    expect_corrupt(&t, "nsec max");
    tree_free(&t);
}

/* Encodings the encoder cannot produce, written field by field. */
typedef struct raw_node {
    const char *name;
    size_t name_len;
    uint64_t type, mode, nsec, uid, gid, flags;
} raw_node;

static void put_raw(cbuf *b, uint64_t version, uint64_t count, const raw_node *r)
{
    cbuf_varint(b, version);
    cbuf_varint(b, count);
    cbuf_str(b, r->name, r->name_len);
    cbuf_u8(b, (uint8_t)r->type);
    cbuf_varint(b, r->mode);
    cbuf_svarint(b, 0);
    cbuf_varint(b, r->nsec);
    cbuf_varint(b, 0); /* size */
    cbuf_varint(b, 0); /* inode */
    cbuf_varint(b, r->uid);
    cbuf_varint(b, r->gid);
    cbuf_u8(b, (uint8_t)r->flags);
    if (r->flags & 1)
        cbuf_put(b, "0123456789abcdef", 16);
    if (r->flags & 2)
        cbuf_cstr(b, "target");
    cbuf_varint(b, 0); /* nchunks */
}

static cairn_err decode_raw(uint64_t version, uint64_t count, const raw_node *r)
{
    cbuf b;
    tree out;
    cbuf_init(&b);
    put_raw(&b, version, count, r);
    const cairn_err rc = decode_exact(b.data, b.len, &out);
    if (rc == CAIRN_OK)
        tree_free(&out);
    cbuf_free(&b);
    return rc;
}

/* Apple's ciphertext sizes: PKCS#7 always pads to the next whole block. */
static void test_cipher_sizes_and_rules(void **state)
{
    (void)state;
    tree t;
    tree_init(&t);
    tree_node *n = add_node(&t, "f", NODE_FILE);
    n->cipher = TREE_CIPHER_CBC | TREE_CIPHER_PADDED;
    n->size = 0;
    assert_true(tree_source_size(n) == 16);
    n->size = 15;
    assert_true(tree_source_size(n) == 16);
    n->size = 16;
    assert_true(tree_source_size(n) == 32);
    n->cipher = TREE_CIPHER_CBC;
    assert_true(tree_source_size(n) == 16);
    n->cipher = 0;
    n->size = 17;
    assert_true(tree_source_size(n) == 17);
    /* unpadded ciphertext is whole blocks */
    n->cipher = TREE_CIPHER_CBC;
    expect_corrupt(&t, "unpadded cipher with a partial block");
    n->size = 32;
    n->cipher = TREE_CIPHER_PADDED; /* padding without the cipher */
    expect_corrupt(&t, "cipher flags without CBC");
    n->cipher = TREE_CIPHER_CBC | 0x80;
    expect_corrupt(&t, "unknown cipher flag");
    n->cipher = TREE_CIPHER_CBC;
    n->type = NODE_DIR;
    expect_corrupt(&t, "a directory with a cipher");
    tree_free(&t);
}

static void test_rejects_raw_encodings(void **state)
{
    (void)state;
    const raw_node good = {"n", 1, NODE_FILE, 0644, 0, 0, 0, 0};
    assert_int_equal(decode_raw(1, 1, &good), CAIRN_OK);
    const raw_node link = {"n", 1, NODE_SYMLINK, 0777, 0, 0, 0, 2};
    assert_int_equal(decode_raw(1, 1, &link), CAIRN_OK);
    const raw_node digest = {"n", 1, NODE_FILE, 0644, 0, 0, 0, 1};
    assert_int_equal(decode_raw(1, 1, &digest), CAIRN_OK);

    assert_int_equal(decode_raw(0, 1, &good), CAIRN_ECORRUPT); /* version */
    assert_int_equal(decode_raw(3, 1, &good), CAIRN_ECORRUPT); /* 2: with fingerprints */
    assert_int_equal(decode_raw(1, 2, &good), CAIRN_ECORRUPT); /* count > nodes */
    assert_int_equal(decode_raw(1, 0, &good), CAIRN_ECORRUPT); /* trailing node */
    assert_int_equal(decode_raw(1, UINT64_MAX, &good), CAIRN_ECORRUPT);
    assert_int_equal(decode_raw(1, (uint64_t)1 << 30, &good), CAIRN_ECORRUPT);

    const raw_node nul = {"a\0b", 3, NODE_FILE, 0644, 0, 0, 0, 0};
    assert_int_equal(decode_raw(1, 1, &nul), CAIRN_ECORRUPT);
    const raw_node nul_end = {"a\0", 2, NODE_FILE, 0644, 0, 0, 0, 0};
    assert_int_equal(decode_raw(1, 1, &nul_end), CAIRN_ECORRUPT);
    const raw_node uid = {"n", 1, NODE_FILE, 0644, 0, (uint64_t)UINT32_MAX + 1, 0, 0};
    assert_int_equal(decode_raw(1, 1, &uid), CAIRN_ECORRUPT);
    const raw_node gid = {"n", 1, NODE_FILE, 0644, 0, 0, (uint64_t)UINT32_MAX + 1, 0};
    assert_int_equal(decode_raw(1, 1, &gid), CAIRN_ECORRUPT);
    const raw_node flags = {"n", 1, NODE_FILE, 0644, 0, 0, 0, 4};
    assert_int_equal(decode_raw(1, 1, &flags), CAIRN_ECORRUPT);
    const raw_node flags2 = {"n", 1, NODE_FILE, 0644, 0, 0, 0, 0x81};
    assert_int_equal(decode_raw(1, 1, &flags2), CAIRN_ECORRUPT);
    const raw_node mode = {"n", 1, NODE_FILE, UINT64_MAX, 0, 0, 0, 0};
    assert_int_equal(decode_raw(1, 1, &mode), CAIRN_ECORRUPT);
    const raw_node nsec = {"n", 1, NODE_FILE, 0644, UINT64_MAX, 0, 0, 0};
    assert_int_equal(decode_raw(1, 1, &nsec), CAIRN_ECORRUPT);

    /* nchunks larger than the bytes that follow */
    cbuf b;
    tree out;
    const uint64_t counts[] = {1, 2, (uint64_t)1 << 27, UINT64_MAX};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        cbuf_init(&b);
        put_raw(&b, 1, 1, &good);
        b.len--; /* drop nchunks = 0 */
        cbuf_varint(&b, counts[i]);
        cbuf_put(&b, "0123456789abcdef0123456789abcde", 31);
        assert_int_equal(decode_exact(b.data, b.len, &out), CAIRN_ECORRUPT);
        cbuf_free(&b);
    }
    cbuf_init(&b);
    put_raw(&b, 1, 1, &good);
    b.len--;
    cbuf_varint(&b, 1);
    cbuf_put(&b, "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(decode_exact(b.data, b.len, &out), CAIRN_OK);
    assert_int_equal(out.nodes[0].nchunks, 1);
    assert_memory_equal(out.nodes[0].chunks[0], "0123456789abcdef0123456789abcdef", 32);
    tree_free(&out);
    cbuf_free(&b);
}

static void test_rejects_trailing_bytes(void **state)
{
    (void)state;
    tree t, out;
    cbuf b;
    sample_tree(&t);
    tree_sort(&t);
    encode_or_fail(&t, &b);
    cbuf_u8(&b, 0);
    assert_int_equal(decode_exact(b.data, b.len, &out), CAIRN_ECORRUPT);
    cbuf_free(&b);
    tree_free(&t);
    /* also after an empty tree */
    tree_init(&t);
    encode_or_fail(&t, &b);
    cbuf_put(&b, "xyz", 3);
    assert_int_equal(decode_exact(b.data, b.len, &out), CAIRN_ECORRUPT);
    cbuf_free(&b);
}

/* Fingerprints: version 2 only when a node has them, version 1 (the old
 * bytes) otherwise; the IDs alone decide tree_same_chunks; fingerprints
 * that do not add up to the size are not written; the decoder refuses them
 * in version 1, on anything but a file, of length 0, or not adding up. */
static void test_fingerprints(void **state)
{
    (void)state;
    tree t, out;
    cbuf b;
    const uint32_t lens[] = {4, 6};
    tree_init(&t);
    tree_node *n = add_node(&t, "f", NODE_FILE);
    set_fprints(n, lens, 2, 0x11);
    encode_or_fail(&t, &b);
    assert_int_equal(b.data[0], 2);
    assert_int_equal(decode_exact(b.data, b.len, &out), CAIRN_OK);
    assert_same_node(&t.nodes[0], &out.nodes[0]);

    /* a copy is deep; another fingerprint does not make other chunks */
    tree_node copy = out.nodes[0];
    assert_int_equal(tree_node_copy_chunks(&copy, &out.nodes[0]), CAIRN_OK);
    assert_ptr_not_equal(copy.fprints, out.nodes[0].fprints);
    assert_memory_equal(copy.fprints, out.nodes[0].fprints, 2 * sizeof *copy.fprints);
    copy.fprints[1].hash[0] ^= 1;
    assert_true(tree_same_chunks(&copy, &out.nodes[0]));
    free(copy.chunks);
    free(copy.fprints);
    tree_free(&out);

    /* every single change to the fingerprint part is refused, as is
     * every truncation */
    const size_t fp0 = b.len - 2 * (1 + TREE_DIGEST_LEN), fp1 = b.len - (1 + TREE_DIGEST_LEN);
    const struct {
        size_t at;
        uint8_t value;
        const char *what;
    } bad[] = {
        {0, 1, "fingerprints in version 1"},
        {0, 3, "version 3"},
        {4, NODE_DIR, "fingerprints on a folder"},
        {fp0, 0, "a chunk of length 0"},
        {fp0, 5, "lengths adding up to more than the size"},
        {fp1, 5, "lengths adding up to less than the size"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const uint8_t keep = b.data[bad[i].at];
        b.data[bad[i].at] = bad[i].value;
        const cairn_err rc = decode_exact(b.data, b.len, &out);
        if (rc != CAIRN_ECORRUPT) {
            if (rc == CAIRN_OK)
                tree_free(&out);
            fail_msg("%s: decoder returned %s", bad[i].what, err_name(rc));
        }
        b.data[bad[i].at] = keep;
    }
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(decode_exact(b.data, cut, &out), CAIRN_ECORRUPT);
    cbuf_free(&b);

    /* fingerprints that do not describe the content are left out */
    t.nodes[0].size = 11;
    encode_or_fail(&t, &b);
    assert_int_equal(b.data[0], 1);
    assert_int_equal(decode_exact(b.data, b.len, &out), CAIRN_OK);
    assert_null(out.nodes[0].fprints);
    assert_int_equal(out.nodes[0].nchunks, 2);
    tree_free(&out);
    cbuf_free(&b);

    /* without fingerprints: version 1 */
    free(t.nodes[0].fprints);
    t.nodes[0].fprints = NULL;
    t.nodes[0].size = 10;
    encode_or_fail(&t, &b);
    assert_int_equal(b.data[0], 1);
    cbuf_free(&b);
    tree_free(&t);
}

/* No proper prefix of a valid encoding decodes. */
static void test_every_truncation_fails(void **state)
{
    (void)state;
    tree t, out;
    cbuf b;
    sample_tree(&t);
    tree_sort(&t);
    encode_or_fail(&t, &b);
    for (size_t cut = 0; cut < b.len; cut++) {
        const cairn_err rc = decode_exact(b.data, cut, &out);
        if (rc != CAIRN_ECORRUPT) {
            if (rc == CAIRN_OK)
                tree_free(&out);
            fail_msg("prefix of %zu of %zu bytes: %s", cut, b.len, err_name(rc));
        }
    }
    assert_int_equal(decode_exact(b.data, b.len, &out), CAIRN_OK);
    tree_free(&out);
    cbuf_free(&b);
    tree_free(&t);
}

/* Single-byte changes anywhere must not crash; what decodes must obey the
 * decoder's promises (valid, strictly sorted names; symlinks have targets). */
static void test_mutations_never_break_invariants(void **state)
{
    (void)state;
    tree t, out;
    cbuf b;
    sample_tree(&t);
    tree_sort(&t);
    encode_or_fail(&t, &b);
    static const uint8_t xs[] = {0x01, 0x80, 0xff, 0x2f ^ 0x61};
    for (size_t pos = 0; pos < b.len; pos++) {
        for (size_t k = 0; k < sizeof xs; k++) {
            b.data[pos] ^= xs[k];
            if (decode_exact(b.data, b.len, &out) == CAIRN_OK) {
                for (size_t i = 0; i < out.count; i++) {
                    const tree_node *const n = &out.nodes[i];
                    assert_true(n->name[0] != '\0');
                    assert_null(strchr(n->name, '/'));
                    assert_true(strcmp(n->name, ".") && strcmp(n->name, ".."));
                    assert_true(i == 0 || strcmp(out.nodes[i - 1].name, n->name) < 0);
                    assert_true(n->type >= NODE_FILE && n->type <= NODE_SYMLINK);
                    assert_int_equal(n->type == NODE_SYMLINK, n->target != NULL);
                    assert_true(n->mode <= 07777 && n->mtime_nsec < 1000000000);
                }
                tree_free(&out);
            }
            b.data[pos] ^= xs[k];
        }
    }
    cbuf_free(&b);
    tree_free(&t);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_tree),
        cmocka_unit_test(test_sort_and_find),
        cmocka_unit_test(test_same_chunks),
        cmocka_unit_test(test_rejects_bad_names),
        cmocka_unit_test(test_rejects_unsorted_and_duplicates),
        cmocka_unit_test(test_rejects_bad_types_and_fields),
        cmocka_unit_test(test_cipher_sizes_and_rules),
        cmocka_unit_test(test_rejects_raw_encodings),
        cmocka_unit_test(test_rejects_trailing_bytes),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_fingerprints),
        cmocka_unit_test(test_mutations_never_break_invariants),
        cmocka_unit_test(test_sorted_matches_the_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
