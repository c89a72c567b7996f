/* test_chunk_reuse.c - chunk-level change detection: a changed file's
 * chunks whose offset, length and keyed fingerprint match the parent
 * snapshot's keep their IDs without being stored again.  A SQLite-like file
 * with one page edited stores exactly one new chunk; the edited chunk keeps
 * its length but gets a new ID; shrinking and growing files; --force-read
 * reuses nothing; a parent written in the old tree format (no
 * fingerprints) reuses nothing and still backs up right; the device path
 * (snapshot_edit) records fingerprints and reuses the same way, also for a
 * file received under a temporary name (stream_file_compare_with); a file
 * cut by content, whose unchanged chunks skip the chunker's scan, is cut
 * exactly as a backup ignoring the parent cuts it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "store/keys.h"
#include "engine/core/backup.h"
#include "engine/core/chunker.h"
#include "engine/core/snapshot_edit.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree.h"
#include "engine/core/tree_store.h"
#include "testutil.h"

static const char PW[] = "chunk-reuse-test-password";
/* SQLite in fixed 16 KiB chunks: 4 pages of 4 KiB each */
enum { PAGE = 4096, CHUNK = 16384, PAGES = 64, DB_LEN = PAGES * PAGE, NCHUNKS = DB_LEN / CHUNK };

typedef struct fixture {
    char dir[64];
    char path[128];
    char src[128];
    char db[160];
    store *s;
    store_worker *w;
    uint8_t *data;
    size_t len;
} fixture;

static int setup(void **state)
{
    const store_params params = {4096, 16384, 65536, 256 * 1024, 3, CHUNK, 0, STORE_SQLITE_FIXED};
    fixture *const f = calloc(1, sizeof *f);
    if (!f || test_store_new_params("reuse", PW, f->dir, f->path, &params, &f->s) != 0 ||
        store_worker_new(f->s, &f->w) != CAIRN_OK)
        return -1;
    snprintf(f->src, sizeof f->src, "%s/src", f->dir);
    snprintf(f->db, sizeof f->db, "%s/db.sqlite", f->src);
    if (mkdir(f->src, 0755) != 0)
        return -1;
    f->len = DB_LEN;
    f->data = malloc(DB_LEN + 4 * CHUNK);
    if (!f->data)
        return -1;
    randombytes_buf(f->data, DB_LEN + 4 * CHUNK);
    memcpy(f->data, "SQLite format 3", 16);
    f->data[16] = PAGE >> 8;
    f->data[17] = PAGE & 0xff;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    store_worker_free(f->w);
    store_close(f->s);
    test_rmtree(f->dir);
    free(f->data);
    free(f);
    return 0;
}

/* Writes f->data[0..len) over the file in place (same inode), with an
 * mtime that differs from every earlier write. */
static void write_db(fixture *f, size_t len)
{
    static int64_t tick = 1700000000;
    const int fd = open(f->db, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, f->data, len, 0), (ssize_t)len);
    assert_int_equal(ftruncate(fd, (off_t)len), 0);
    const struct timespec ts[2] = {{tick, 0}, {tick, 0}};
    tick++;
    assert_int_equal(futimens(fd, ts), 0);
    assert_int_equal(close(fd), 0);
    f->len = len;
}

static void run_backup(fixture *f, int force_read, backup_result *r)
{
    backup_opts o;
    memset(&o, 0, sizeof o);
    o.source = f->src;
    o.threads = 2;
    o.force_read = force_read;
    const cairn_err rc = backup_run(f->s, &o, r);
    if (rc)
        fail_msg("backup_run: %s", err_msg());
}

/* Snapshot id of the store's, loaded into *l. */
static const snapshot *load_snap(fixture *f, const uint8_t id[ID_LEN], snaplist *l)
{
    assert_int_equal(snaplist_load(f->s, l), CAIRN_OK);
    for (size_t i = 0; i < l->count; i++)
        if (memcmp(l->items[i].id, id, ID_LEN) == 0)
            return &l->items[i];
    fail_msg("no such snapshot");
    return NULL;
}

/* The node of path in snapshot id (loaded from the store). */
static void node_of(fixture *f, const uint8_t id[ID_LEN], const char *path, tree_node *out)
{
    snaplist l;
    const snapshot *const sn = load_snap(f, id, &l);
    assert_int_equal(
        treestore_lookup(f->s, f->w, (const uint8_t(*)[ID_LEN])sn->tree, sn->ntree, path, out),
        CAIRN_OK);
    snaplist_free(&l);
}

/* The node's chunks read back are data[0..len), and its fingerprints (when
 * it has them) describe exactly those chunks. */
static void assert_node_content(fixture *f, const tree_node *n, const uint8_t *data, size_t len,
                                int with_fprints)
{
    cbuf b;
    size_t at = 0;
    cbuf_init(&b);
    assert_true(n->size == len);
    assert_int_equal(tree_node_has_fprints(n), with_fprints);
    for (uint32_t k = 0; k < n->nchunks; k++) {
        b.len = 0;
        assert_int_equal(store_get_chunk(f->s, f->w, n->chunks[k], &b), CAIRN_OK);
        assert_true(at + b.len <= len);
        assert_memory_equal(b.data, data + at, b.len);
        if (with_fprints) {
            uint8_t h[TREE_DIGEST_LEN];
            assert_int_equal(n->fprints[k].len, b.len);
            XXH128_canonicalFromHash((XXH128_canonical_t *)h,
                                     XXH3_128bits_withSecret(b.data, b.len,
                                                             keyring_file_secret(store_keys(f->s)),
                                                             KEYS_FILE_SECRET));
            assert_memory_equal(n->fprints[k].hash, h, TREE_DIGEST_LEN);
        }
        at += b.len;
    }
    assert_true(at == len);
    cbuf_free(&b);
}

static void assert_db_is(fixture *f, const uint8_t id[ID_LEN], const uint8_t *data, size_t len)
{
    tree_node n;
    node_of(f, id, "db.sqlite", &n);
    assert_node_content(f, &n, data, len, 1);
    tree_node_free(&n);
}

static void test_one_page_edit(void **state)
{
    fixture *const f = *state;
    backup_result r1, r2, r3;
    write_db(f, DB_LEN);
    run_backup(f, 0, &r1);
    assert_true(r1.reused_chunks == 0);
    assert_db_is(f, r1.id, f->data, DB_LEN);
    tree_node n1, n2;
    node_of(f, r1.id, "db.sqlite", &n1);
    assert_int_equal(n1.nchunks, NCHUNKS);

    /* one page in the middle: the chunk holding it keeps its length */
    f->data[21 * PAGE + 100] ^= 0x5a;
    write_db(f, DB_LEN);
    run_backup(f, 0, &r2);
    assert_true(r2.files_read == 1);
    assert_true(r2.reused_chunks == NCHUNKS - 1);
    assert_true(r2.reused_bytes == DB_LEN - CHUNK);
    assert_true(r2.new_chunks == 2); /* the edited chunk and the root tree */
    assert_db_is(f, r2.id, f->data, DB_LEN);
    node_of(f, r2.id, "db.sqlite", &n2);
    for (uint32_t k = 0; k < NCHUNKS; k++) {
        const int edited = k == 21 * PAGE / CHUNK;
        assert_int_equal(n2.fprints[k].len, n1.fprints[k].len);
        assert_int_equal(memcmp(n2.chunks[k], n1.chunks[k], ID_LEN) != 0, edited);
        assert_int_equal(memcmp(n2.fprints[k].hash, n1.fprints[k].hash, TREE_DIGEST_LEN) != 0,
                         edited);
    }
    tree_node_free(&n1);
    tree_node_free(&n2);

    /* --force-read bypasses the fingerprints too (everything hashed again,
     * nothing new: the same IDs) */
    f->data[3 * PAGE] ^= 1;
    write_db(f, DB_LEN);
    run_backup(f, 1, &r3);
    assert_true(r3.reused_chunks == 0);
    assert_true(r3.new_chunks == 2);
    assert_db_is(f, r3.id, f->data, DB_LEN);
}

/* The whole-file digest that chunking records equals the one a plain read
 * computes: a file rewritten with the same bytes (new mtime, same size) is
 * taken whole by its digest, with no chunk looked at, after an edit as after
 * the first backup. */
static void test_digest_matches_reread(void **state)
{
    fixture *const f = *state;
    backup_result r;
    write_db(f, DB_LEN);
    run_backup(f, 0, &r);
    for (int round = 0; round < 2; round++) {
        write_db(f, DB_LEN); /* the same bytes, touched */
        run_backup(f, 0, &r);
        assert_true(r.files_read == 1);
        assert_true(r.bytes_read == DB_LEN);
        assert_true(r.reused_chunks == 0);
        assert_true(r.new_chunks == 1); /* the root tree: the mtime changed */
        assert_db_is(f, r.id, f->data, DB_LEN);
        f->data[5 * PAGE] ^= 0x11; /* then an edit, chunked */
        write_db(f, DB_LEN);
        run_backup(f, 0, &r);
        assert_true(r.reused_chunks == NCHUNKS - 1);
    }
}

static void test_shrink_and_grow(void **state)
{
    fixture *const f = *state;
    backup_result r;
    write_db(f, DB_LEN);
    run_backup(f, 0, &r);

    /* cut in the middle of the last chunk: the rest stays */
    write_db(f, DB_LEN - CHUNK / 2);
    run_backup(f, 0, &r);
    assert_true(r.reused_chunks == NCHUNKS - 1);
    assert_db_is(f, r.id, f->data, DB_LEN - CHUNK / 2);

    /* grown by two chunks and a half: the shortened chunk is whole again */
    write_db(f, DB_LEN + 2 * CHUNK);
    run_backup(f, 0, &r);
    assert_true(r.reused_chunks == NCHUNKS - 1);
    assert_true(r.reused_bytes == DB_LEN - CHUNK);
    assert_db_is(f, r.id, f->data, DB_LEN + 2 * CHUNK);

    /* a page inserted at the start: every offset moves, nothing is reused
     * by fingerprint (their content still deduplicates by ID) */
    memmove(f->data + PAGE, f->data, DB_LEN + 2 * CHUNK);
    memcpy(f->data, f->data + PAGE, 100);
    write_db(f, DB_LEN + 2 * CHUNK + PAGE);
    run_backup(f, 0, &r);
    assert_true(r.reused_chunks == 0);
    assert_db_is(f, r.id, f->data, DB_LEN + 2 * CHUNK + PAGE);
}

/* Snapshots a and b hold db.sqlite in exactly the same chunks. */
static void assert_same_cuts(fixture *f, const uint8_t a[ID_LEN], const uint8_t b[ID_LEN])
{
    tree_node na, nb;
    node_of(f, a, "db.sqlite", &na);
    node_of(f, b, "db.sqlite", &nb);
    assert_int_equal(na.nchunks, nb.nchunks);
    for (uint32_t k = 0; k < na.nchunks; k++) {
        assert_int_equal(na.fprints[k].len, nb.fprints[k].len);
        assert_memory_equal(na.chunks[k], nb.chunks[k], ID_LEN);
    }
    tree_node_free(&na);
    tree_node_free(&nb);
}

/* A changed file the chunker cuts by content (not SQLite here): a parent
 * chunk whose bytes are still there at its offset is taken by its
 * fingerprint without the chunker's scan, and the chunks come out exactly
 * as a backup that ignores the parent (--force-read) cuts them: after an
 * edit in place, after an append (the old last chunk was cut by the file's
 * end; now the content cuts it), after a truncation. */
static void test_cdc_same_cuts(void **state)
{
    fixture *const f = *state;
    backup_result r, forced;
    f->data[0] = 'X'; /* no SQLite header: FastCDC, 4-16-64 KiB */
    write_db(f, DB_LEN);
    run_backup(f, 0, &r);
    tree_node n;
    node_of(f, r.id, "db.sqlite", &n);
    const uint32_t before = n.nchunks;
    tree_node_free(&n);
    assert_true(before > 8);

    f->data[DB_LEN / 2] ^= 0x33;
    write_db(f, DB_LEN);
    run_backup(f, 0, &r);
    assert_true(r.reused_chunks + 2 >= before); /* the edited chunk, maybe the next */
    run_backup(f, 1, &forced);
    assert_true(forced.reused_chunks == 0);
    assert_same_cuts(f, r.id, forced.id);
    assert_db_is(f, r.id, f->data, DB_LEN);

    const size_t sizes[] = {DB_LEN + 3 * CHUNK, DB_LEN + 3 * CHUNK - 5000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        write_db(f, sizes[i]);
        run_backup(f, 0, &r);
        assert_true(r.reused_chunks > 0);
        run_backup(f, 1, &forced);
        assert_same_cuts(f, r.id, forced.id);
        assert_db_is(f, r.id, f->data, sizes[i]);
    }
}

/* A snapshot as older cairn wrote it: the same tree without fingerprints
 * (version 1), newer than the latest, in the same chain. */
static void put_old_format_snapshot(fixture *f, const uint8_t latest[ID_LEN], uint8_t id[ID_LEN])
{
    snaplist l;
    tree t;
    chunker ck;
    cbuf enc;
    snapshot sn;
    uint8_t(*ids)[ID_LEN] = NULL;
    uint32_t nids = 0;
    treestore_stats st = {0, 0, 0};
    const store_params *const p = store_get_params(f->s);
    assert_int_equal(chunker_init(&ck, p->chunk_min, p->chunk_avg, p->chunk_max,
                                  keyring_chunker_secret(store_keys(f->s))),
                     CAIRN_OK);
    const snapshot *const base = load_snap(f, latest, &l);
    assert_int_equal(
        treestore_load(f->s, f->w, (const uint8_t(*)[ID_LEN])base->tree, base->ntree, &t),
        CAIRN_OK);
    for (size_t i = 0; i < t.count; i++) {
        free(t.nodes[i].fprints);
        t.nodes[i].fprints = NULL;
    }
    cbuf_init(&enc);
    assert_int_equal(tree_encode(&t, &enc), CAIRN_OK);
    assert_int_equal(enc.data[0], 1); /* the old version byte */
    cbuf_free(&enc);
    assert_int_equal(treestore_save(f->s, f->w, &ck, &t, &ids, &nids, &st), CAIRN_OK);
    tree_free(&t);

    memset(&sn, 0, sizeof sn);
    sn.time_sec = base->time_sec + 1;
    sn.hostname = strdup("old");
    sn.source = strdup(base->source);
    sn.chain = strdup(base->chain);
    assert_true(sn.hostname && sn.source && sn.chain);
    sn.tree = ids;
    sn.ntree = nids;
    snaplist_free(&l);
    cbuf_init(&enc);
    assert_int_equal(snapshot_encode(&sn, &enc), CAIRN_OK);
    assert_int_equal(store_flush(f->s), CAIRN_OK);
    assert_int_equal(store_put_snapshot(f->s, enc.data, enc.len, id), CAIRN_OK);
    cbuf_free(&enc);
    snapshot_free(&sn);
}

static void test_parent_without_fingerprints(void **state)
{
    fixture *const f = *state;
    backup_result r;
    uint8_t old_id[ID_LEN];
    tree_node n;
    write_db(f, DB_LEN);
    run_backup(f, 0, &r);
    put_old_format_snapshot(f, r.id, old_id);
    node_of(f, old_id, "db.sqlite", &n);
    assert_node_content(f, &n, f->data, DB_LEN, 0);
    tree_node_free(&n);

    f->data[40 * PAGE] ^= 0xff;
    write_db(f, DB_LEN);
    run_backup(f, 0, &r);
    assert_memory_equal(r.parent, old_id, ID_LEN);
    assert_true(r.reused_chunks == 0);
    assert_true(r.new_chunks == 2); /* the rest deduplicated by ID */
    /* the new snapshot has fingerprints again */
    assert_db_is(f, r.id, f->data, DB_LEN);
}

/* ---- the device path: snapshot_edit ---- */

static void stream_write(fixture *f, const snapshot *base, const uint8_t *data, size_t len,
                         stream_result *res)
{
    stream *st = NULL;
    const stream_opts o = {.base = base, .threads = 2};
    assert_int_equal(stream_begin(f->s, &o, &st), CAIRN_OK);
    assert_int_equal(stream_put(st, "db.sqlite", data, len), CAIRN_OK);
    const stream_commit_opts co = {.source = "test", .chain = "device:test", .parent = base};
    const cairn_err rc = stream_commit(st, &co, res);
    if (rc)
        fail_msg("stream_commit: %s", err_msg());
    stream_free(st);
}

static void test_stream_reuse(void **state)
{
    fixture *const f = *state;
    stream_result r1, r2;
    snaplist l;
    tree_node n;
    stream_write(f, NULL, f->data, DB_LEN, &r1);
    assert_true(r1.stats.reused_chunks == 0);
    node_of(f, r1.id, "db.sqlite", &n);
    assert_node_content(f, &n, f->data, DB_LEN, 1);
    tree_node_free(&n);

    f->data[50 * PAGE + 7] ^= 0x80;
    assert_int_equal(snaplist_load(f->s, &l), CAIRN_OK);
    assert_int_equal(l.count, 1);
    stream_write(f, &l.items[0], f->data, DB_LEN, &r2);
    snaplist_free(&l);
    assert_true(r2.stats.reused_chunks == NCHUNKS - 1);
    assert_true(r2.stats.reused_bytes == DB_LEN - CHUNK);
    node_of(f, r2.id, "db.sqlite", &n);
    assert_node_content(f, &n, f->data, DB_LEN, 1);
    tree_node_free(&n);
}

/* The same through the device path (snapshot_edit): a file edited and
 * grown is cut as a stream with no base cuts it. */
static void test_stream_cdc_same_cuts(void **state)
{
    fixture *const f = *state;
    stream_result r1, r2, r3;
    snaplist l;
    f->data[0] = 'X'; /* FastCDC */
    stream_write(f, NULL, f->data, DB_LEN, &r1);
    f->data[DB_LEN / 2] ^= 0x33;
    assert_int_equal(snaplist_load(f->s, &l), CAIRN_OK);
    assert_int_equal(l.count, 1);
    stream_write(f, &l.items[0], f->data, DB_LEN + 3 * CHUNK, &r2);
    snaplist_free(&l);
    assert_true(r2.stats.reused_chunks > 0);
    stream_write(f, NULL, f->data, DB_LEN + 3 * CHUNK, &r3);
    assert_true(r3.stats.reused_chunks == 0);
    assert_same_cuts(f, r2.id, r3.id);
    assert_db_is(f, r2.id, f->data, DB_LEN + 3 * CHUNK);
}

/* A file received under a temporary name and moved over the old one (the
 * device's Snapshot/Manifest.db) is compared with the old one. */
static void test_stream_compare_with(void **state)
{
    fixture *const f = *state;
    stream_result r1, r2;
    snaplist l;
    stream *st = NULL;
    stream_file *sf = NULL;
    tree_node n;
    stream_write(f, NULL, f->data, DB_LEN, &r1);
    f->data[9 * PAGE] ^= 0x80;
    assert_int_equal(snaplist_load(f->s, &l), CAIRN_OK);
    const stream_opts o = {.base = &l.items[0], .threads = 2};
    assert_int_equal(stream_begin(f->s, &o, &st), CAIRN_OK);
    assert_int_equal(stream_mkdir(st, "Snapshot"), CAIRN_OK);
    assert_int_equal(stream_file_begin(st, "Snapshot/db.sqlite", &sf), CAIRN_OK);
    stream_file_compare_with(sf, "db.sqlite");
    assert_int_equal(stream_file_write(sf, f->data, DB_LEN), CAIRN_OK);
    assert_int_equal(stream_file_end(sf), CAIRN_OK);
    assert_int_equal(stream_remove(st, "db.sqlite"), CAIRN_OK);
    assert_int_equal(stream_move(st, "Snapshot/db.sqlite", "db.sqlite"), CAIRN_OK);
    const stream_commit_opts co = {.source = "test", .chain = "device:test", .parent = &l.items[0]};
    assert_int_equal(stream_commit(st, &co, &r2), CAIRN_OK);
    stream_free(st);
    snaplist_free(&l);
    assert_true(r2.stats.reused_chunks == NCHUNKS - 1);
    node_of(f, r2.id, "db.sqlite", &n);
    assert_node_content(f, &n, f->data, DB_LEN, 1);
    tree_node_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_page_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_matches_reread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shrink_and_grow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cdc_same_cuts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parent_without_fingerprints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_cdc_same_cuts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_compare_with, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
