/* test_content_chunks.c - content-aware chunking (store_params sqlite_chunk
 * and media_chunk), through both ways files reach the store: the folder
 * backup (backup_run) and the snapshot built from operations (stream_*).
 * A SQLite database is cut with FastCDC at its own small sizes or, with
 * STORE_SQLITE_FIXED, into page-aligned fixed chunks, so that an edited
 * page changes exactly one chunk and no other chunk moves; media is cut
 * into fixed chunks and stored without compression; other files keep
 * FastCDC.  A store without the parameters (its config as before) keeps
 * cutting everything with FastCDC.  Also: the plan from a file's first
 * bytes, and the config round trip. */
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

#include "engine/core/backup.h"
#include "engine/core/chunker.h"
#include "engine/core/snapshot_edit.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree_store.h"
#include "testutil.h"

static const char PW[] = "content-chunks-test-password";

enum {
    PAGE = 4096,
    PAGES = 64,
    DB_LEN = PAGE * PAGES,
    SQ_CHUNK = 16384,
    MEDIA_CHUNK = 65536,
    MEDIA_LEN = 3 * MEDIA_CHUNK + 1000,
};

typedef struct fixture {
    char dir[64];
    char src[128];
    store *s;
    uint8_t db[DB_LEN];
} fixture;

/* Media-sized bytes that compress well and never repeat a chunk: numbered
 * text lines behind the given magic. */
static uint8_t *compressible(const char *magic, size_t magic_len)
{
    uint8_t *const b = malloc(MEDIA_LEN + 32);
    assert_non_null(b);
    size_t off = 0;
    for (unsigned line = 0; off < MEDIA_LEN; line++)
        off += (size_t)snprintf((char *)b + off, 32, "line %u of the text\n", line);
    memcpy(b, magic, magic_len);
    return b;
}

static fixture *make(void **state, uint32_t sqlite_chunk, uint32_t media_chunk, uint32_t flags)
{
    fixture *const f = calloc(1, sizeof *f);
    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    const store_params params = {4096, 16384,        65536,       256 * 1024,
                                 3,    sqlite_chunk, media_chunk, flags};
    char path[160];
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-content-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof path, "%s/store", f->dir);
    snprintf(f->src, sizeof f->src, "%s/src", f->dir);
    assert_int_equal(mkdir(f->src, 0700), 0);
    assert_int_equal(store_create(path, PW, strlen(PW), &kdf, &params), CAIRN_OK);
    assert_int_equal(store_open(path, PW, strlen(PW), STORE_WRITE, &f->s), CAIRN_OK);
    /* a database of random pages behind a real header: page size 4096 */
    randombytes_buf(f->db, sizeof f->db);
    memcpy(f->db, "SQLite format 3", 16);
    f->db[16] = PAGE >> 8;
    f->db[17] = PAGE & 0xff;
    *state = f;
    return f;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    if (f) {
        store_close(f->s);
        test_rmtree(f->dir);
        free(f);
    }
    return 0;
}

static void write_file(const fixture *f, const char *name, const uint8_t *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", f->src, name);
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void backup(fixture *f, backup_result *res)
{
    const backup_opts o = {.source = f->src, .threads = 2};
    if (backup_run(f->s, &o, res) != CAIRN_OK)
        fail_msg("backup_run: %s", err_msg());
}

/* The chunk list of name in the latest snapshot; *n gets its length. */
static uint8_t (*latest_chunks(fixture *f, const char *name, uint32_t *n))[ID_LEN]
{
    snaplist l;
    const snapshot *snap = NULL;
    tree t;
    store_worker *w = NULL;
    assert_int_equal(snaplist_load(f->s, &l), CAIRN_OK);
    assert_int_equal(snaplist_find(&l, "latest", &snap), CAIRN_OK);
    assert_int_equal(store_worker_new(f->s, &w), CAIRN_OK);
    tree_init(&t);
    assert_int_equal(treestore_load(f->s, w, (const uint8_t(*)[ID_LEN])snap->tree, snap->ntree, &t),
                     CAIRN_OK);
    const tree_node *const node = tree_find(&t, name);
    assert_non_null(node);
    *n = node->nchunks;
    uint8_t(*out)[ID_LEN] = malloc((size_t)node->nchunks * ID_LEN + 1);
    assert_non_null(out);
    memcpy(out, node->chunks, (size_t)node->nchunks * ID_LEN);
    tree_free(&t);
    store_worker_free(w);
    snaplist_free(&l);
    return out;
}

/* How many places two chunk lists of equal length differ. */
static unsigned differing(const uint8_t (*a)[ID_LEN], const uint8_t (*b)[ID_LEN], uint32_t n,
                          uint32_t *where)
{
    unsigned d = 0;
    for (uint32_t i = 0; i < n; i++)
        if (memcmp(a[i], b[i], ID_LEN) != 0) {
            d++;
            *where = i;
        }
    return d;
}

/* The stored size of one chunk, read back to check its bytes. */
static void assert_chunk(fixture *f, const uint8_t id[ID_LEN], const uint8_t *want, size_t len)
{
    store_worker *w = NULL;
    cbuf b;
    cbuf_init(&b);
    assert_int_equal(store_worker_new(f->s, &w), CAIRN_OK);
    assert_int_equal(store_get_chunk(f->s, w, id, &b), CAIRN_OK);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, want, len);
    cbuf_free(&b);
    store_worker_free(w);
}

static void test_plan_from_first_bytes(void **state)
{
    (void)state;
    chunker ck;
    chunk_planner fixed, cdc, off;
    uint8_t secret[32] = {1}, head[CHUNKER_PLAN_HEAD];
    assert_int_equal(chunker_init(&ck, 4096, 16384, 65536, secret), CAIRN_OK);
    assert_int_equal(chunk_planner_init(&fixed, SQ_CHUNK, 1, MEDIA_CHUNK, 65536, secret), CAIRN_OK);
    assert_int_equal(chunk_planner_init(&cdc, SQ_CHUNK, 0, MEDIA_CHUNK, 65536, secret), CAIRN_OK);
    assert_int_equal(chunk_planner_init(&off, 0, 0, 0, 65536, secret), CAIRN_OK);
    assert_int_equal(cdc.sqlite_cdc.min_size, SQ_CHUNK / 4);
    assert_int_equal(cdc.sqlite_cdc.avg_size, SQ_CHUNK);
    assert_int_equal(cdc.sqlite_cdc.max_size, 65536);
    memset(head, 'x', sizeof head);
    memcpy(head, "SQLite format 3", 16);
    static const struct {
        uint8_t hi, lo;
        size_t fixed;
    } pages[] = {{0x02, 0x00, SQ_CHUNK}, {0x10, 0x00, SQ_CHUNK}, {0x40, 0x00, SQ_CHUNK},
                 {0x80, 0x00, 32768},    {0x00, 0x01, 65536},    {0x03, 0x00, 0},
                 {0x01, 0x00, 0},        {0x00, 0x00, 0}};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        head[16] = pages[i].hi;
        head[17] = pages[i].lo;
        chunk_plan p = chunk_planner_plan(&fixed, head, sizeof head);
        assert_int_equal(p.fixed, pages[i].fixed);
        assert_null(p.cdc);
        assert_int_equal(p.no_zstd, 0);
        /* a database compresses: stored without the probe */
        assert_int_equal(chunk_plan_store_flags(&p), pages[i].fixed ? STORE_CHUNK_ZSTD : 0);
        p = chunk_planner_plan(&cdc, head, sizeof head);
        assert_int_equal(chunk_plan_store_flags(&p), pages[i].fixed ? STORE_CHUNK_ZSTD : 0);
        assert_int_equal(p.fixed, 0);
        if (pages[i].fixed)
            assert_ptr_equal(p.cdc, &cdc.sqlite_cdc);
        else
            assert_null(p.cdc);
        /* off in this store: the main FastCDC */
        p = chunk_planner_plan(&off, head, sizeof head);
        assert_int_equal(p.fixed, 0);
        assert_null(p.cdc);
        assert_int_equal(chunk_plan_store_flags(&p), 0);
    }
    /* a header cut short, or another format version, is not a database */
    head[16] = 0x10;
    head[17] = 0;
    assert_int_equal(chunk_planner_plan(&fixed, head, 17).fixed, 0);
    head[14] = '4';
    assert_int_equal(chunk_planner_plan(&fixed, head, sizeof head).fixed, 0);
    assert_null(chunk_planner_plan(&cdc, head, sizeof head).cdc);

    static const char *const media[] = {"\xff\xd8\xff\xe1",
                                        "\x89PNG\r\n\x1a\n",
                                        "\0\0\0\x18"
                                        "ftypheic",
                                        "\0\0\0\x14"
                                        "ftypqt  ",
                                        "\0\0\0\x20"
                                        "ftypisom",
                                        "\0\0\0\x08"
                                        "wide"};
    static const size_t media_len[] = {4, 8, 12, 12, 12, 8};
    for (size_t i = 0; i < sizeof media / sizeof media[0]; i++) {
        memset(head, 0, sizeof head);
        memcpy(head, media[i], media_len[i]);
        const chunk_plan p = chunk_planner_plan(&cdc, head, sizeof head);
        assert_int_equal(p.fixed, MEDIA_CHUNK);
        assert_int_equal(p.no_zstd, 1);
        assert_int_equal(chunk_plan_store_flags(&p), STORE_CHUNK_NO_ZSTD);
        assert_int_equal(chunk_planner_plan(&off, head, sizeof head).fixed, 0);
        assert_int_equal(chunk_planner_plan(&off, head, sizeof head).no_zstd, 0);
    }
    /* anything else, and an empty file */
    memset(head, 'a', sizeof head);
    chunk_plan p = chunk_planner_plan(&cdc, head, sizeof head);
    assert_int_equal(p.fixed, 0);
    assert_null(p.cdc);
    assert_int_equal(p.no_zstd, 0);
    assert_int_equal(chunk_plan_store_flags(&p), 0);
    p = chunk_planner_plan(&cdc, head, 0);
    assert_int_equal(p.fixed, 0);

    /* fixed cutting: whole pieces, 0 while more is needed, the rest at the end */
    static uint8_t data[3 * SQ_CHUNK];
    const chunk_plan fx = {NULL, SQ_CHUNK, 0, 0};
    assert_int_equal(chunker_next_planned(&ck, &fx, data, sizeof data, 0), SQ_CHUNK);
    assert_int_equal(chunker_next_planned(&ck, &fx, data, SQ_CHUNK - 1, 0), 0);
    assert_int_equal(chunker_next_planned(&ck, &fx, data, SQ_CHUNK - 1, 1), SQ_CHUNK - 1);
    assert_int_equal(chunker_next_planned(&ck, &fx, data, 0, 1), 0);
}

/* Folder backup: an edited page changes one 16 KiB chunk, the others keep
 * their IDs; pages appended add chunks at the end only. */
static void test_backup_sqlite_page_edit(void **state)
{
    fixture *const f = make(state, SQ_CHUNK, MEDIA_CHUNK, STORE_SQLITE_FIXED);
    backup_result r1, r2, r3;
    uint32_t n1, n2, n3, where = 0;
    write_file(f, "db.sqlite", f->db, DB_LEN);
    backup(f, &r1);
    uint8_t(*c1)[ID_LEN] = latest_chunks(f, "db.sqlite", &n1);
    assert_int_equal(n1, DB_LEN / SQ_CHUNK);
    for (uint32_t i = 0; i < n1; i++)
        assert_chunk(f, c1[i], f->db + (size_t)i * SQ_CHUNK, SQ_CHUNK);

    /* one byte of page 37 (chunk 9), the file's size unchanged */
    f->db[37 * PAGE + 100] ^= 0x5a;
    write_file(f, "db.sqlite", f->db, DB_LEN);
    backup(f, &r2);
    uint8_t(*c2)[ID_LEN] = latest_chunks(f, "db.sqlite", &n2);
    assert_int_equal(n2, n1);
    assert_int_equal(
        differing((const uint8_t(*)[ID_LEN])c1, (const uint8_t(*)[ID_LEN])c2, n1, &where), 1);
    assert_int_equal(where, 37 * PAGE / SQ_CHUNK);
    assert_chunk(f, c2[where], f->db + (size_t)where * SQ_CHUNK, SQ_CHUNK);
    /* the one new file chunk is all the file added; the rest is the tree */
    assert_true(r2.new_raw >= SQ_CHUNK && r2.new_raw < SQ_CHUNK + 4096);

    /* three pages more (one chunk grows, one is new): the first 15 stay */
    uint8_t *const longer = malloc(DB_LEN + 3 * PAGE);
    assert_non_null(longer);
    memcpy(longer, f->db, DB_LEN);
    randombytes_buf(longer + DB_LEN, 3 * PAGE);
    write_file(f, "db.sqlite", longer, DB_LEN + 3 * PAGE);
    backup(f, &r3);
    uint8_t(*c3)[ID_LEN] = latest_chunks(f, "db.sqlite", &n3);
    assert_int_equal(n3, n1 + 1);
    assert_int_equal(
        differing((const uint8_t(*)[ID_LEN])c2, (const uint8_t(*)[ID_LEN])c3, n1, &where), 0);
    assert_chunk(f, c3[n1], longer + DB_LEN, 3 * PAGE);
    free(longer);
    free(c1);
    free(c2);
    free(c3);
}

/* One stream of operations with put files, committed; its stats. */
static void stream_files(fixture *f, const char *const *names, const uint8_t *const *data,
                         const size_t *len, size_t n, stream_stats *stats)
{
    stream *st = NULL;
    stream_result res;
    const stream_opts o = {.threads = 2};
    const stream_commit_opts co = {.source = "test", .chain = "test:content"};
    assert_int_equal(stream_begin(f->s, &o, &st), CAIRN_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(stream_put(st, names[i], data[i], len[i]), CAIRN_OK);
    assert_int_equal(stream_commit(st, &co, &res), CAIRN_OK);
    *stats = res.stats;
    stream_free(st);
}

/* The IDs a planner from the store's own secret gives data, and their
 * count in *n: what a backup must have recorded. */
static uint8_t (*expected_chunks(fixture *f, const uint8_t *data, size_t len, uint32_t *n))[ID_LEN]
{
    const store_params *const p = store_get_params(f->s);
    const uint8_t *const secret = keyring_chunker_secret(store_keys(f->s));
    chunker ck;
    chunk_planner pl;
    assert_int_equal(chunker_init(&ck, p->chunk_min, p->chunk_avg, p->chunk_max, secret), CAIRN_OK);
    assert_int_equal(chunk_planner_init(&pl, p->sqlite_chunk, p->chunk_flags & STORE_SQLITE_FIXED,
                                        p->media_chunk, p->chunk_max, secret),
                     CAIRN_OK);
    const chunk_plan plan = chunk_planner_plan(&pl, data, len);
    uint8_t(*ids)[ID_LEN] = malloc(len / 64 * ID_LEN);
    assert_non_null(ids);
    size_t off = 0;
    *n = 0;
    while (off < len) {
        const size_t cut = chunker_next_planned(&ck, &plan, data + off, len - off, 1);
        assert_true(cut > 0);
        if (off + cut < len) /* all but the last within the SQLite bounds */
            assert_in_range(cut, p->sqlite_chunk / 4 + 1, (size_t)p->sqlite_chunk * 4);
        store_chunk_id(f->s, data + off, cut, ids[(*n)++]);
        off += cut;
    }
    return ids;
}

/* The default: FastCDC at SQLite sizes (here 8 KiB on average, under a main
 * chunker of 16 KiB), in both ways in, before and after an edit.  (That an
 * edit or an insertion only changes the chunks around it is FastCDC's:
 * e2e incremental.sh shows it on a real database.) */
static void test_sqlite_cdc(void **state)
{
    fixture *const f = make(state, SQ_CHUNK / 2, MEDIA_CHUNK, 0);
    backup_result r;
    uint32_t n, m, k;
    write_file(f, "db.sqlite", f->db, DB_LEN);
    backup(f, &r);
    uint8_t(*got)[ID_LEN] = latest_chunks(f, "db.sqlite", &n);
    uint8_t(*want)[ID_LEN] = expected_chunks(f, f->db, DB_LEN, &m);
    assert_int_equal(n, m);
    assert_memory_equal(got, want, (size_t)n * ID_LEN);
    free(got);
    free(want);

    f->db[37 * PAGE + 100] ^= 0x5a;
    stream_stats stats;
    const char *const names[] = {"db.sqlite"};
    const uint8_t *const data[] = {f->db};
    const size_t lens[] = {DB_LEN};
    stream_files(f, names, data, lens, 1, &stats);
    got = latest_chunks(f, "db.sqlite", &n);
    want = expected_chunks(f, f->db, DB_LEN, &k);
    assert_int_equal(n, k);
    assert_memory_equal(got, want, (size_t)n * ID_LEN);
    free(got);
    free(want);
}

/* Media: fixed chunks, sealed without compression even when the bytes
 * would compress; the same bytes without the magic are compressed. */
static void test_backup_media_not_compressed(void **state)
{
    fixture *const f = make(state, SQ_CHUNK, MEDIA_CHUNK, STORE_SQLITE_FIXED);
    uint8_t *const jpeg = compressible("\xff\xd8\xff\xe0", 4);
    backup_result r1, r2;
    uint32_t n;
    write_file(f, "IMG_0001.JPG", jpeg, MEDIA_LEN);
    backup(f, &r1);
    uint8_t(*c)[ID_LEN] = latest_chunks(f, "IMG_0001.JPG", &n);
    assert_int_equal(n, 4); /* 3 × 64 KiB + the rest */
    assert_chunk(f, c[3], jpeg + 3 * MEDIA_CHUNK, 1000);
    /* the chunks went in as they are: more than their raw size with the seal */
    assert_true(r1.new_bytes > MEDIA_LEN);
    free(c);

    jpeg[0] = 'x'; /* not media any more: compressed */
    write_file(f, "IMG_0001.JPG", jpeg, MEDIA_LEN);
    backup(f, &r2);
    assert_true(r2.new_bytes < MEDIA_LEN / 10);
    free(jpeg);
}

static void backup_with(fixture *f, int threads, int force, int serial, backup_result *res)
{
    const backup_opts o = {
        .source = f->src, .threads = threads, .force_read = force, .read_serial = serial};
    if (backup_run(f->s, &o, res) != CAIRN_OK)
        fail_msg("backup_run: %s", err_msg());
}

/* Media read by the workers in pieces (pread, the digest in file order)
 * gives the snapshot the walking thread's reads give, byte for byte: every
 * chunk and tree ID (and so every digest and fingerprint) the same; an
 * edited piece is the only one stored again, and a file rewritten with the
 * same bytes is recognized by the digest the pieced read recorded. */
static void test_pieced_reads_same_snapshot(void **state)
{
    fixture *const f = make(state, SQ_CHUNK, MEDIA_CHUNK, 0);
    uint8_t *const jpeg = compressible("\xff\xd8\xff\xe0", 4);
    uint8_t *const mov = malloc(2 * MEDIA_CHUNK);
    backup_result r1, r2, r3, r4;
    uint32_t n1, n3;
    assert_non_null(mov);
    randombytes_buf(mov, 2 * MEDIA_CHUNK);
    memcpy(mov + 4, "ftyp", 4);
    write_file(f, "IMG_0001.JPG", jpeg, MEDIA_LEN);
    write_file(f, "clip.mov", mov, 2 * MEDIA_CHUNK); /* a whole number of pieces */
    write_file(f, "small.png", (const uint8_t *)"\x89PNG\r\n\x1a\nIHDR", 12);
    write_file(f, "tiny.jpg", jpeg, 3); /* the magic and nothing else */
    write_file(f, "empty.jpg", jpeg, 0);
    write_file(f, "Photos.sqlite", f->db, DB_LEN);
    write_file(f, "notes.txt", jpeg + 4, 5000);

    backup_with(f, 1, 0, 1, &r1); /* the walking thread reads every file */
    uint8_t(*c1)[ID_LEN] = latest_chunks(f, "IMG_0001.JPG", &n1);
    assert_int_equal(n1, 4);
    backup_with(f, 2, 1, 0, &r2); /* read again, media by the workers */
    assert_int_equal(r2.files, 7);
    assert_int_equal(r2.bytes, r1.bytes);
    assert_int_equal(r2.bytes_read, r1.bytes_read);
    assert_int_equal(r2.errors, 0);
    assert_int_equal(r2.new_chunks, 0); /* not one chunk or tree differs */
    assert_int_equal(r2.new_bytes, 0);

    /* one edited piece: only it is stored again */
    jpeg[MEDIA_CHUNK + 5] ^= 1;
    write_file(f, "IMG_0001.JPG", jpeg, MEDIA_LEN);
    backup_with(f, 2, 0, 0, &r3);
    assert_int_equal(r3.files_read, 1);
    assert_int_equal(r3.reused_chunks, 3);
    assert_int_equal(r3.reused_bytes, MEDIA_LEN - MEDIA_CHUNK);
    assert_int_equal(r3.new_chunks, 2); /* the piece and the tree */
    uint8_t(*c3)[ID_LEN] = latest_chunks(f, "IMG_0001.JPG", &n3);
    uint32_t where = 99;
    assert_int_equal(n3, 4);
    assert_int_equal(
        differing((const uint8_t(*)[ID_LEN])c1, (const uint8_t(*)[ID_LEN])c3, 4, &where), 1);
    assert_int_equal(where, 1);
    assert_chunk(f, c3[1], jpeg + MEDIA_CHUNK, MEDIA_CHUNK);

    /* rewritten with the same bytes: the digest says so, nothing is cut */
    write_file(f, "IMG_0001.JPG", jpeg, MEDIA_LEN);
    backup_with(f, 2, 0, 0, &r4);
    assert_int_equal(r4.files_read, 1);
    assert_int_equal(r4.reused_chunks, 0);
    assert_int_equal(r4.new_chunks, 1); /* the tree (the file's mtime) */
    free(c1);
    free(c3);
    free(mov);
    free(jpeg);
}

/* A store made without the parameters cuts a database with FastCDC, as
 * before: the chunk sizes are not the fixed ones, and media is compressed. */
static void test_old_store_keeps_fastcdc(void **state)
{
    fixture *const f = make(state, 0, 0, 0);
    const store_params *const p = store_get_params(f->s);
    assert_int_equal(p->sqlite_chunk, 0);
    assert_int_equal(p->media_chunk, 0);
    backup_result r;
    uint32_t n;
    write_file(f, "db.sqlite", f->db, DB_LEN);
    uint8_t *const jpeg = compressible("\xff\xd8\xff\xe0", 4);
    write_file(f, "IMG_0001.JPG", jpeg, MEDIA_LEN);
    backup(f, &r);
    uint8_t(*c)[ID_LEN] = latest_chunks(f, "db.sqlite", &n);
    /* FastCDC with avg 16 KiB over 256 KiB of random bytes: not 16 equal
     * cuts (the cut points depend on the gear table; equal pieces would
     * mean the fixed plan was used) */
    int all_fixed = n == DB_LEN / SQ_CHUNK;
    store_worker *w = NULL;
    cbuf b;
    cbuf_init(&b);
    assert_int_equal(store_worker_new(f->s, &w), CAIRN_OK);
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(store_get_chunk(f->s, w, c[i], &b), CAIRN_OK);
        assert_memory_equal(b.data, f->db + off, b.len);
        all_fixed &= b.len == SQ_CHUNK;
        off += b.len;
    }
    assert_int_equal(off, DB_LEN);
    assert_false(all_fixed);
    cbuf_free(&b);
    store_worker_free(w);
    free(c);
    /* the text of the "JPEG" was compressed */
    assert_true(r.new_bytes < DB_LEN + MEDIA_LEN / 10);
    free(jpeg);
}

/* The snapshot built from operations (the device path) cuts alike: the
 * copy of a database with one page edited shares all chunks but one, and a
 * PNG is cut into fixed chunks stored without compression. */
/* Files cut by content (a SQLite database and a text file) are read and
 * cut whole by the workers' tasks: the snapshot is the walking thread's,
 * byte for byte, and with the parent's fingerprints an edit stores only
 * the chunks around it (the text file spans many read buffers: 2 x the
 * store's 64 KiB chunk_max). */
static void test_whole_reads_same_snapshot(void **state)
{
    fixture *const f = make(state, SQ_CHUNK, MEDIA_CHUNK, 0);
    enum { TEXT_LEN = 6 * MEDIA_LEN };
    uint8_t *const text = malloc(TEXT_LEN + 32);
    backup_result r1, r2, r3, r4;
    uint32_t n1, n3;
    assert_non_null(text);
    for (size_t off = 0, line = 0; off < TEXT_LEN; line++)
        off += (size_t)snprintf((char *)text + off, 32, "%zu %zu\n", line * 7919 % 100003, line);
    write_file(f, "Photos.sqlite", f->db, DB_LEN);
    write_file(f, "notes.txt", text, TEXT_LEN);
    write_file(f, "small.txt", text, 10);

    backup_with(f, 1, 0, 1, &r1); /* the walking thread cuts every file */
    uint8_t(*c1)[ID_LEN] = latest_chunks(f, "notes.txt", &n1);
    assert_true(n1 > 8);
    backup_with(f, 2, 1, 0, &r2); /* read again, cut by the workers */
    assert_int_equal(r2.files, 3);
    assert_int_equal(r2.files_read, 3);
    assert_int_equal(r2.bytes, r1.bytes);
    assert_int_equal(r2.bytes_read, r1.bytes_read);
    assert_int_equal(r2.errors, 0);
    assert_int_equal(r2.new_chunks, 0); /* not one chunk or tree differs */

    /* one byte in each: the chunks around it are new, the rest matched by
     * fingerprint (neither hashed with the keyed hash nor sealed again) */
    f->db[37 * PAGE + 100] ^= 0x5a;
    text[TEXT_LEN / 2] ^= 1;
    write_file(f, "Photos.sqlite", f->db, DB_LEN);
    write_file(f, "notes.txt", text, TEXT_LEN);
    backup_with(f, 2, 0, 0, &r3);
    assert_int_equal(r3.files_read, 2);
    assert_true(r3.reused_chunks >= n1 - 2);
    assert_true(r3.new_chunks >= 3 && r3.new_chunks <= 5); /* 1-2 a file and the tree */
    uint8_t(*c3)[ID_LEN] = latest_chunks(f, "notes.txt", &n3);
    assert_int_equal(n3, n1);
    uint32_t where = 0;
    const unsigned changed =
        differing((const uint8_t(*)[ID_LEN])c1, (const uint8_t(*)[ID_LEN])c3, n1, &where);
    assert_true(changed >= 1 && changed <= 2);
    uint32_t n;
    uint8_t(*got)[ID_LEN] = latest_chunks(f, "Photos.sqlite", &n);
    uint8_t(*want)[ID_LEN] = expected_chunks(f, f->db, DB_LEN, &n3);
    assert_int_equal(n, n3);
    assert_memory_equal(got, want, (size_t)n * ID_LEN);

    /* the walking thread, reading everything, finds the same snapshot */
    backup_with(f, 1, 1, 1, &r4);
    assert_int_equal(r4.new_chunks, 0);
    free(got);
    free(want);
    free(c1);
    free(c3);
    free(text);
}

static void test_stream_sqlite_and_media(void **state)
{
    fixture *const f = make(state, SQ_CHUNK, MEDIA_CHUNK, STORE_SQLITE_FIXED);
    uint8_t *const png = compressible("\x89PNG\r\n\x1a\n", 8);
    uint8_t *const edited = malloc(DB_LEN);
    assert_non_null(edited);
    memcpy(edited, f->db, DB_LEN);
    edited[5 * PAGE + 1] ^= 1;
    stream_stats s1, s2;
    const char *const n1[] = {"db.sqlite"};
    const uint8_t *const d1[] = {f->db};
    const size_t l1[] = {DB_LEN};
    stream_files(f, n1, d1, l1, 1, &s1);
    uint32_t na, nb, where = 0;
    uint8_t(*a)[ID_LEN] = latest_chunks(f, "db.sqlite", &na);
    assert_int_equal(na, DB_LEN / SQ_CHUNK);

    const char *const n2[] = {"db.sqlite", "a.png"};
    const uint8_t *const d2[] = {edited, png};
    const size_t l2[] = {DB_LEN, MEDIA_LEN};
    stream_files(f, n2, d2, l2, 2, &s2);
    uint8_t(*b)[ID_LEN] = latest_chunks(f, "db.sqlite", &nb);
    assert_int_equal(nb, na);
    assert_int_equal(
        differing((const uint8_t(*)[ID_LEN])a, (const uint8_t(*)[ID_LEN])b, na, &where), 1);
    assert_int_equal(where, 5 * PAGE / SQ_CHUNK);
    assert_chunk(f, b[where], edited + (size_t)where * SQ_CHUNK, SQ_CHUNK);
    free(a);
    free(b);
    a = latest_chunks(f, "a.png", &na);
    assert_int_equal(na, 4);
    assert_chunk(f, a[0], png, MEDIA_CHUNK);
    free(a);
    /* new: one database chunk, the PNG as it was (sealed: a little more) */
    assert_true(s2.new_bytes > SQ_CHUNK + MEDIA_LEN);
    assert_true(s2.new_raw >= SQ_CHUNK + MEDIA_LEN && s2.new_raw < SQ_CHUNK + MEDIA_LEN + 4096);
    free(png);
    free(edited);
}

/* The parameters round-trip through the config; sizes that are not powers
 * of two, too small or above chunk_max are refused. */
static void test_config_params(void **state)
{
    fixture *const f = make(state, SQ_CHUNK, MEDIA_CHUNK, STORE_SQLITE_FIXED);
    char path[160], cfg[200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/store", f->dir);
    store_close(f->s);
    assert_int_equal(store_open(path, PW, strlen(PW), 0, &f->s), CAIRN_OK);
    assert_int_equal(store_get_params(f->s)->sqlite_chunk, SQ_CHUNK);
    assert_int_equal(store_get_params(f->s)->media_chunk, MEDIA_CHUNK);
    snprintf(cfg, sizeof cfg, "%s/config", path);
    assert_int_equal(stat(cfg, &sb), 0);
    assert_int_equal(sb.st_size, 108); /* 96 + two sizes and the flags */
    assert_int_equal(store_get_params(f->s)->chunk_flags, STORE_SQLITE_FIXED);

    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    static const uint32_t bad[][3] = {
        {3000, 0, 0}, {256, 0, 0}, {0, 131072, 0}, {0, 65535, 0}, {SQ_CHUNK, 0, 2}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const store_params p = {4096, 16384, 65536, 256 * 1024, 3, bad[i][0], bad[i][1], bad[i][2]};
        snprintf(path, sizeof path, "%s/bad%zu", f->dir, i);
        assert_int_equal(store_create(path, PW, strlen(PW), &kdf, &p), CAIRN_EINVAL);
        snprintf(cfg, sizeof cfg, "%s/config", path);
        assert_int_not_equal(stat(cfg, &sb), 0);
    }
    /* without them: the config of before, 96 bytes */
    const store_params p0 = {4096, 16384, 65536, 256 * 1024, 3, 0, 0, 0};
    snprintf(path, sizeof path, "%s/old", f->dir);
    assert_int_equal(store_create(path, PW, strlen(PW), &kdf, &p0), CAIRN_OK);
    snprintf(cfg, sizeof cfg, "%s/config", path);
    assert_int_equal(stat(cfg, &sb), 0);
    assert_int_equal(sb.st_size, 96);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_from_first_bytes),
        cmocka_unit_test_teardown(test_backup_sqlite_page_edit, teardown),
        cmocka_unit_test_teardown(test_sqlite_cdc, teardown),
        cmocka_unit_test_teardown(test_backup_media_not_compressed, teardown),
        cmocka_unit_test_teardown(test_old_store_keeps_fastcdc, teardown),
        cmocka_unit_test_teardown(test_pieced_reads_same_snapshot, teardown),
        cmocka_unit_test_teardown(test_whole_reads_same_snapshot, teardown),
        cmocka_unit_test_teardown(test_stream_sqlite_and_media, teardown),
        cmocka_unit_test_teardown(test_config_params, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
