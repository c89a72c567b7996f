/* test_stream.c - snapshots built from operations: files written in odd
 * pieces read back exactly (before and after commit), folders are made,
 * moved, copied and removed like a file system would, bad requests are
 * refused without changing anything, a stream freed without commit leaves
 * no snapshot, and a stream on top of a snapshot keeps the chunk lists of
 * the folders it never touched; a stream whose base does not load fails
 * to begin and frees what it made. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/snapshot_list.h"
#include "engine/core/snapshot_edit.h"
#include "engine/core/tree_store.h"
#include "testutil.h"

static const char PW[] = "stream-test-password";

enum { BIG = 300 * 1024 };

typedef struct fixture {
    char dir[64];
    char path[128];
    store *s;
    uint8_t *big;
} fixture;

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    /* small chunks: a few hundred KiB make many, and the cut buffer fills */
    const store_params params = {4096, 16384, 65536, 256 * 1024, 3, 0, 0, 0};
    if (!f || sodium_init() < 0)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-stream-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/store", f->dir);
    if (store_create(f->path, PW, strlen(PW), &kdf, &params) != CAIRN_OK ||
        store_open(f->path, PW, strlen(PW), STORE_WRITE, &f->s) != CAIRN_OK)
        return -1;
    f->big = malloc(BIG);
    if (!f->big)
        return -1;
    randombytes_buf(f->big, BIG);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    store_close(f->s);
    test_rmtree(f->dir);
    free(f->big);
    free(f);
    return 0;
}

static stream *begin(fixture *f, const snapshot *base)
{
    stream *st = NULL;
    const stream_opts o = {.base = base, .threads = 2};
    const cairn_err rc = stream_begin(f->s, &o, &st);
    if (rc)
        fail_msg("stream_begin: %s", err_msg());
    return st;
}

/* Writes data in pieces of growing, odd sizes. */
static void put_pieces(stream *st, const char *path, const uint8_t *data, size_t len)
{
    stream_file *file = NULL;
    assert_int_equal(stream_file_begin(st, path, &file), CAIRN_OK);
    size_t off = 0, piece = 1;
    while (off < len) {
        const size_t n = piece < len - off ? piece : len - off;
        assert_int_equal(stream_file_write(file, data + off, n), CAIRN_OK);
        off += n;
        piece = piece * 3 + 7;
    }
    assert_int_equal(stream_file_end(file), CAIRN_OK);
}

static void assert_content(stream *st, const char *path, const uint8_t *data, size_t len)
{
    cbuf b;
    cbuf_init(&b);
    assert_int_equal(stream_read_all(st, path, len + 1, &b), CAIRN_OK);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, data, len);
    cbuf_free(&b);
}

typedef struct names {
    char buf[512];
} names;

static cairn_err add_name(void *ctx, const stream_entry *e)
{
    names *const n = ctx;
    const size_t used = strlen(n->buf);
    snprintf(n->buf + used, sizeof n->buf - used, "%s%s%s", used ? " " : "", e->name,
             e->is_dir ? "/" : "");
    return CAIRN_OK;
}

static void assert_listing(stream *st, const char *path, const char *want)
{
    names n = {{0}};
    assert_int_equal(stream_list(st, path, add_name, &n), CAIRN_OK);
    assert_string_equal(n.buf, want);
}

static void commit(stream *st, const char *chain, const snapshot *parent, stream_result *res)
{
    const stream_commit_opts o = {.source = "test", .chain = chain, .parent = parent};
    const cairn_err rc = stream_commit(st, &o, res);
    if (rc)
        fail_msg("stream_commit: %s", err_msg());
}

static void test_build_read_commit(void **state)
{
    fixture *const f = *state;
    stream_result res;
    snaplist l = {NULL, 0, 0};
    stream *st = begin(f, NULL);
    assert_int_equal(stream_mkdir(st, "ab/cd"), CAIRN_OK); /* with its parent */
    assert_int_equal(stream_mkdir(st, "ab"), CAIRN_OK);    /* already there: fine */
    put_pieces(st, "ab/big", f->big, BIG);
    assert_int_equal(stream_put(st, "top", (const uint8_t *)"hello", 5), CAIRN_OK);
    assert_int_equal(stream_put(st, "empty", NULL, 0), CAIRN_OK);
    /* read before commit: the chunks are still being packed */
    assert_content(st, "ab/big", f->big, BIG);
    assert_int_equal(stream_copy(st, "ab/big", "ab/cd/copy"), CAIRN_OK);
    assert_int_equal(stream_move(st, "top", "ab/moved"), CAIRN_OK);
    assert_int_equal(stream_put(st, "ab/moved", (const uint8_t *)"again", 5), CAIRN_OK);
    assert_listing(st, "", "ab/ empty");
    assert_listing(st, "ab", "big cd/ moved");
    assert_content(st, "ab/moved", (const uint8_t *)"again", 5);
    assert_content(st, "ab/cd/copy", f->big, BIG);
    stream_entry e;
    assert_int_equal(stream_stat(st, "ab/cd/copy", &e), CAIRN_OK);
    assert_false(e.is_dir);
    assert_int_equal(e.size, BIG);
    commit(st, "test:one", NULL, &res);
    assert_int_equal(res.files, 4);
    assert_int_equal(res.dirs, 2);
    assert_int_equal(res.bytes, 2 * (uint64_t)BIG + 5);
    assert_true(res.stats.new_chunks > BIG / 65536);
    stream_free(st);

    /* the snapshot reads back through a new stream on top of it */
    assert_int_equal(snaplist_load(f->s, &l), CAIRN_OK);
    assert_int_equal(l.count, 1);
    assert_memory_equal(l.items[0].id, res.id, ID_LEN);
    assert_int_equal(l.items[0].files, 4);
    const stream_opts ro = {.base = &l.items[0], .read_only = 1};
    assert_int_equal(stream_begin(f->s, &ro, &st), CAIRN_OK);
    assert_content(st, "ab/cd/copy", f->big, BIG);
    assert_content(st, "empty", NULL, 0);
    assert_listing(st, "ab", "big cd/ moved");
    assert_int_equal(stream_put(st, "x", NULL, 0), CAIRN_EINVAL); /* read-only */
    stream_free(st);
    snaplist_free(&l);
}

static void test_refusals(void **state)
{
    fixture *const f = *state;
    stream_file *file = NULL;
    names n = {{0}};
    stream *st = begin(f, NULL);
    assert_int_equal(stream_put(st, "d/f", (const uint8_t *)"x", 1), CAIRN_ENOTFOUND);
    assert_int_equal(stream_mkdir(st, "d"), CAIRN_OK);
    assert_int_equal(stream_put(st, "d/f", (const uint8_t *)"x", 1), CAIRN_OK);
    assert_int_equal(stream_put(st, "d", (const uint8_t *)"x", 1), CAIRN_EEXIST);
    assert_int_equal(stream_mkdir(st, "d/f"), CAIRN_EEXIST);
    assert_int_equal(stream_mkdir(st, "d/f/g"), CAIRN_ENOTFOUND);
    assert_int_equal(stream_remove(st, "d/nothing"), CAIRN_ENOTFOUND);
    assert_int_equal(stream_move(st, "d", "d/inside"), CAIRN_EINVAL);
    assert_int_equal(stream_move(st, "nothing", "d/x"), CAIRN_ENOTFOUND);
    assert_int_equal(stream_move(st, "d/f", "nowhere/f"), CAIRN_ENOTFOUND);
    assert_int_equal(stream_copy(st, "d/f", "nowhere/f"), CAIRN_ENOTFOUND);
    assert_int_equal(stream_read(st, "d", NULL, NULL), CAIRN_ENOTFOUND);
    assert_int_equal(stream_list(st, "d/f", add_name, &n), CAIRN_ENOTFOUND);
    const char *const bad[] = {"", "/d", "d/", "d//f", ".", "d/..", "../x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(stream_mkdir(st, bad[i]), CAIRN_EINVAL);
    /* one file at a time; nothing else changes meanwhile */
    assert_int_equal(stream_file_begin(st, "d/g", &file), CAIRN_OK);
    assert_int_equal(stream_mkdir(st, "e"), CAIRN_EINVAL);
    stream_file_abort(file);
    assert_listing(st, "d", "f");
    /* moving a folder takes what is below it */
    assert_int_equal(stream_move(st, "d", "e"), CAIRN_OK);
    assert_content(st, "e/f", (const uint8_t *)"x", 1);
    assert_int_equal(stream_remove(st, "e"), CAIRN_OK);
    assert_listing(st, "", "");
    stream_free(st);
}

static void test_free_without_commit(void **state)
{
    fixture *const f = *state;
    snaplist l = {NULL, 0, 0};
    stream *st = begin(f, NULL);
    put_pieces(st, "big", f->big, BIG);
    stream_file *file = NULL;
    assert_int_equal(stream_file_begin(st, "half", &file), CAIRN_OK);
    assert_int_equal(stream_file_write(file, f->big, BIG / 2), CAIRN_OK);
    stream_free(st); /* the open file too */
    assert_int_equal(snaplist_load(f->s, &l), CAIRN_OK);
    assert_int_equal(l.count, 0);
    snaplist_free(&l);
}

/* A base whose root tree the store does not have: begin fails before the
 * workers start, and the half-made stream is freed without them. */
static void test_begin_on_unreadable_base(void **state)
{
    fixture *const f = *state;
    uint8_t root[1][ID_LEN];
    snapshot base;
    stream *st = NULL;
    memset(&base, 0, sizeof base);
    randombytes_buf(root, sizeof root);
    base.tree = root;
    base.ntree = 1;
    const stream_opts opts = {&base, 2, 0};
    assert_int_not_equal(stream_begin(f->s, &opts, &st), CAIRN_OK);
    assert_null(st);
}

static void test_untouched_folders_kept(void **state)
{
    fixture *const f = *state;
    stream_result r1, r2;
    snaplist l = {NULL, 0, 0}, l2 = {NULL, 0, 0};
    tree_node a1, a2, b1, b2;
    stream *st = begin(f, NULL);
    assert_int_equal(stream_mkdir(st, "a"), CAIRN_OK);
    assert_int_equal(stream_mkdir(st, "b"), CAIRN_OK);
    put_pieces(st, "a/f", f->big, BIG / 3);
    put_pieces(st, "b/f", f->big + BIG / 3, BIG / 3);
    commit(st, "test:two", NULL, &r1);
    stream_free(st);
    assert_int_equal(snaplist_load(f->s, &l), CAIRN_OK);
    const snapshot *const first = snaplist_latest_in_chain(&l, "test:two");
    assert_non_null(first);
    st = begin(f, first);
    put_pieces(st, "b/g", f->big, 1000);
    assert_content(st, "a/f", f->big, BIG / 3);
    commit(st, "test:two", first, &r2);
    stream_free(st);
    assert_int_equal(r2.files, 3);

    assert_int_equal(snaplist_load(f->s, &l2), CAIRN_OK);
    const snapshot *const second = snaplist_latest_in_chain(&l2, "test:two");
    assert_non_null(second);
    assert_memory_equal(second->id, r2.id, ID_LEN);
    assert_true(second->has_parent);
    assert_memory_equal(second->parent, r1.id, ID_LEN);
    store_worker *w = NULL;
    assert_int_equal(store_worker_new(f->s, &w), CAIRN_OK);
    assert_int_equal(
        treestore_lookup(f->s, w, (const uint8_t(*)[ID_LEN])first->tree, first->ntree, "a", &a1),
        CAIRN_OK);
    assert_int_equal(
        treestore_lookup(f->s, w, (const uint8_t(*)[ID_LEN])second->tree, second->ntree, "a", &a2),
        CAIRN_OK);
    assert_int_equal(
        treestore_lookup(f->s, w, (const uint8_t(*)[ID_LEN])first->tree, first->ntree, "b", &b1),
        CAIRN_OK);
    assert_int_equal(
        treestore_lookup(f->s, w, (const uint8_t(*)[ID_LEN])second->tree, second->ntree, "b", &b2),
        CAIRN_OK);
    assert_true(tree_same_chunks(&a1, &a2));  /* read only: the same stored tree */
    assert_false(tree_same_chunks(&b1, &b2)); /* changed */
    tree_node_free(&a1);
    tree_node_free(&a2);
    tree_node_free(&b1);
    tree_node_free(&b2);
    store_worker_free(w);
    snaplist_free(&l2);
    snaplist_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_build_read_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_without_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untouched_folders_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_begin_on_unreadable_base, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
