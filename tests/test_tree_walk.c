/* test_tree_walk.c - the one walker over snapshot trees: a subtree two
 * snapshots share is walked once; a tree that does not load goes to the
 * error callback and the walk goes on; a damaged subtree met again is
 * reported as such (or walked again when asked); a damaged folder can be
 * rewritten; without an error callback a tree that does not load stops the
 * walk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "engine/core/chunker.h"
#include "engine/core/tree_store.h"
#include "engine/core/tree_walk.h"
#include "testutil.h"

static const char PW[] = "walk-test-password";

typedef struct fixture {
    char dir[64];
    char path[128];
    store *s;
    store_worker *w;
    chunker ck;
    /* three snapshots: sn[0] has /a -> shared; sn[1] has /b -> shared,
     * /broken (a tree whose chunks the store never had) and /z; sn[2]
     * has /again -> the same broken tree */
    snapshot sn[3];
    uint8_t broken[2][ID_LEN];
} fixture;

static void add_node(tree *t, const char *name, int type, const uint8_t (*ids)[ID_LEN], uint32_t n)
{
    tree_node *const nd = tree_add(t);
    assert_non_null(nd);
    nd->name = strdup(name);
    assert_non_null(nd->name);
    nd->type = (uint8_t)type;
    nd->mode = 0644;
    if (n) {
        nd->chunks = malloc((size_t)n * ID_LEN);
        assert_non_null(nd->chunks);
        memcpy(nd->chunks, ids, (size_t)n * ID_LEN);
    }
    nd->nchunks = nd->cap_chunks = n;
}

/* Stores t (then frees it) as a snapshot's root. */
static void save_root(fixture *f, tree *t, snapshot *sn)
{
    treestore_stats st = {0, 0, 0};
    tree_sort(t);
    assert_int_equal(treestore_save(f->s, f->w, &f->ck, t, &sn->tree, &sn->ntree, &st), CAIRN_OK);
    tree_free(t);
}

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    const store_params params = {4096, 16384, 65536, 256 * 1024, 3, 0, 0, 0};
    uint8_t content[ID_LEN];
    tree t;
    snapshot shared;
    if (!f || sodium_init() < 0)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-walk-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/store", f->dir);
    if (store_create(f->path, PW, strlen(PW), &kdf, &params) != CAIRN_OK ||
        store_open(f->path, PW, strlen(PW), STORE_WRITE, &f->s) != CAIRN_OK ||
        store_worker_new(f->s, &f->w) != CAIRN_OK ||
        chunker_init(&f->ck, params.chunk_min, params.chunk_avg, params.chunk_max,
                     keyring_chunker_secret(store_keys(f->s))) != CAIRN_OK)
        return -1;
    /* file chunks are never read by the walker: any IDs do */
    memset(content, 0x5a, sizeof content);
    randombytes_buf(f->broken, sizeof f->broken);
    memset(&shared, 0, sizeof shared);

    tree_init(&t);
    add_node(&t, "inside", NODE_FILE, (const uint8_t(*)[ID_LEN])content, 1);
    save_root(f, &t, &shared);

    tree_init(&t);
    add_node(&t, "a", NODE_DIR, (const uint8_t(*)[ID_LEN])shared.tree, shared.ntree);
    add_node(&t, "f1", NODE_FILE, (const uint8_t(*)[ID_LEN])content, 1);
    save_root(f, &t, &f->sn[0]);

    tree_init(&t);
    add_node(&t, "b", NODE_DIR, (const uint8_t(*)[ID_LEN])shared.tree, shared.ntree);
    add_node(&t, "broken", NODE_DIR, (const uint8_t(*)[ID_LEN])f->broken, 2);
    add_node(&t, "z", NODE_FILE, (const uint8_t(*)[ID_LEN])content, 1);
    save_root(f, &t, &f->sn[1]);

    tree_init(&t);
    add_node(&t, "again", NODE_DIR, (const uint8_t(*)[ID_LEN])f->broken, 2);
    save_root(f, &t, &f->sn[2]);

    free(shared.tree);
    /* what was put is readable once flushed */
    if (store_flush(f->s) != CAIRN_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    for (int i = 0; i < 3; i++)
        free(f->sn[i].tree);
    store_worker_free(f->w);
    store_close(f->s);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---- a log of the callbacks ---- */

typedef struct walk_log {
    char text[4096];
    fixture *f;
    int rewrites;
} walk_log;

static void log_line(walk_log *l, const char *what, const char *path)
{
    const size_t len = strlen(l->text);
    snprintf(l->text + len, sizeof l->text - len, "%s %s\n", what, path);
}

static cairn_err on_tree_chunks(void *ctx, const char *path, const uint8_t (*ids)[ID_LEN],
                                uint32_t n, int *damaged)
{
    (void)ids;
    (void)n;
    (void)damaged;
    log_line(ctx, "tree", *path ? path : "/");
    return CAIRN_OK;
}

static cairn_err on_file(void *ctx, const char *path, tree_node *node, int *damaged)
{
    (void)node;
    (void)damaged;
    log_line(ctx, "file", path);
    return CAIRN_OK;
}

static cairn_err on_error(void *ctx, const char *path, cairn_err rc, int *damaged)
{
    assert_int_not_equal(rc, CAIRN_OK);
    log_line(ctx, "error", path);
    *damaged = 1;
    return CAIRN_OK;
}

static void on_seen_damaged(void *ctx, const char *path)
{
    log_line(ctx, "seen", path);
}

static cairn_err on_catalog(void *ctx, const snapshot *sn, int *damaged)
{
    (void)sn;
    (void)damaged;
    log_line(ctx, "catalog", "");
    return CAIRN_OK;
}

static const tree_walk_ops log_ops = {
    .on_tree_chunks = on_tree_chunks,
    .on_file = on_file,
    .on_error = on_error,
    .on_seen_damaged = on_seen_damaged,
    .on_catalog = on_catalog,
};

static void walk_all(fixture *f, const tree_walk_ops *ops, unsigned flags, walk_log *l,
                     int damaged[3])
{
    tree_walk *tw = NULL;
    assert_int_equal(tree_walk_new(f->s, f->w, ops, l, flags, &tw), CAIRN_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tree_walk_snapshot(tw, &f->sn[i], &damaged[i], NULL, NULL), CAIRN_OK);
        log_line(l, "--", "");
    }
    tree_walk_free(tw);
}

static void test_shared_subtree_once_damage_goes_on(void **state)
{
    fixture *const f = *state;
    walk_log l;
    int damaged[3];
    memset(&l, 0, sizeof l);
    walk_all(f, &log_ops, 0, &l, damaged);
    /* /b is the subtree /a was: not walked again; /broken is reported and
     * /z after it still visited; /again is the same damaged tree */
    assert_string_equal(l.text, "tree /\n"
                                "tree /a\n"
                                "file /a/inside\n"
                                "file /f1\n"
                                "catalog \n"
                                "-- \n"
                                "tree /\n"
                                "tree /broken\n"
                                "error /broken\n"
                                "file /z\n"
                                "catalog \n"
                                "-- \n"
                                "tree /\n"
                                "seen /again\n"
                                "catalog \n"
                                "-- \n");
    assert_int_equal(damaged[0], 0);
    assert_int_equal(damaged[1], 1);
    assert_int_equal(damaged[2], 1);
}

static void test_rewalk_damaged(void **state)
{
    fixture *const f = *state;
    walk_log l;
    int damaged[3];
    memset(&l, 0, sizeof l);
    walk_all(f, &log_ops, TREE_WALK_REWALK_DAMAGED, &l, damaged);
    assert_non_null(strstr(l.text, "tree /again\nerror /again\n"));
    assert_null(strstr(l.text, "seen"));
    /* whole subtrees are still walked once */
    assert_null(strstr(l.text, "/b/inside"));
    assert_int_equal(damaged[2], 1);
}

/* Drops nothing, stores the folder as it now is: a damaged subfolder
 * above points to what its own rewrite gave (none for /broken). */
static cairn_err on_damaged_folder(void *ctx, const char *path, tree *t, uint8_t (**ids)[ID_LEN],
                                   uint32_t *n)
{
    walk_log *const l = ctx;
    treestore_stats st = {0, 0, 0};
    log_line(l, "rewrite", *path ? path : "/");
    l->rewrites++;
    return treestore_save(l->f->s, l->f->w, &l->f->ck, t, ids, n, &st);
}

static void test_rewrite_damaged_folder(void **state)
{
    fixture *const f = *state;
    tree_walk_ops ops = log_ops;
    walk_log l;
    tree_walk *tw = NULL;
    uint8_t(*root)[ID_LEN] = NULL;
    uint32_t nroot = 0;
    int damaged = 0;
    tree t;
    ops.on_damaged_folder = on_damaged_folder;
    memset(&l, 0, sizeof l);
    l.f = f;
    assert_int_equal(tree_walk_new(f->s, f->w, &ops, &l, 0, &tw), CAIRN_OK);
    assert_int_equal(tree_walk_snapshot(tw, &f->sn[1], &damaged, &root, &nroot), CAIRN_OK);
    tree_walk_free(tw);
    assert_int_equal(damaged, 1);
    assert_int_equal(l.rewrites, 1);
    assert_non_null(root);
    assert_int_equal(store_flush(f->s), CAIRN_OK);
    assert_int_equal(treestore_load(f->s, f->w, (const uint8_t(*)[ID_LEN])root, nroot, &t),
                     CAIRN_OK);
    assert_int_equal(t.count, 3);
    assert_string_equal(t.nodes[1].name, "broken");
    assert_int_equal(t.nodes[1].nchunks, 0); /* restores as an empty folder */
    assert_string_equal(t.nodes[0].name, "b");
    assert_int_equal(t.nodes[0].nchunks, 1); /* whole: untouched */
    tree_free(&t);
    free(root);
}

static void test_no_error_callback_stops(void **state)
{
    fixture *const f = *state;
    tree_walk_ops ops = log_ops;
    walk_log l;
    tree_walk *tw = NULL;
    int damaged = 0;
    ops.on_error = NULL;
    memset(&l, 0, sizeof l);
    assert_int_equal(tree_walk_new(f->s, f->w, &ops, &l, 0, &tw), CAIRN_OK);
    assert_int_not_equal(tree_walk_snapshot(tw, &f->sn[1], &damaged, NULL, NULL), CAIRN_OK);
    tree_walk_free(tw);
    /* nothing after the tree that did not load, not even the catalog */
    assert_string_equal(l.text, "tree /\n"
                                "tree /b\n"
                                "file /b/inside\n"
                                "tree /broken\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_subtree_once_damage_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewalk_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_damaged_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_error_callback_stops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
