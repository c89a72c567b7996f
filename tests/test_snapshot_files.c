/* test_snapshot_files.c - a snapshot opened for browsing: random-offset
 * reads equal the original bytes, a read across chunk boundaries, a read
 * fetches only the chunks that cover it, the cache stays within its bound,
 * eight concurrent readers, paths that do not exist, a device snapshot seen
 * as <domain>/<path> (folders it only implies included), and a snapshot
 * stored as Apple ciphertext shown as such. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/keys.h"
#include "engine/core/backup.h"
#include "engine/core/snapshot_files.h"
#include "engine/core/snapshot_list.h"
#include "testutil.h"

static const char PW[] = "snapfiles-test-password";
enum { BIG = 700 * 1000, CHUNK_MAX = 65536, SMS_LEN = 150 * 1000 };

typedef struct fixture {
    char dir[64];
    char path[128];
    store *s;
    snaplist l;
    const snapshot *folder, *device;
    uint8_t *big, *sms;
} fixture;

static void write_file(const char *dir, const char *rel, const void *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *const fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void mkdir_in(const char *dir, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void backup_folder(fixture *f, const char *src, const catalog *cat, const char *udid)
{
    const snapshot_meta meta[] = {{(char *)SNAP_META_UDID, (char *)udid}};
    backup_opts o;
    backup_result r;
    memset(&o, 0, sizeof o);
    o.source = src;
    o.threads = 1;
    o.catalog = cat;
    o.meta = udid ? meta : NULL;
    o.nmeta = udid ? 1 : 0;
    assert_int_equal(backup_run(f->s, &o, &r), CAIRN_OK);
}

static void add_entry(catalog *cat, const char *domain, const char *path, uint8_t flags,
                      uint8_t id_byte, uint32_t mode, const char *target)
{
    catalog_entry e;
    memset(&e, 0, sizeof e);
    e.domain = (char *)domain;
    e.path = (char *)path;
    memset(e.file_id, id_byte, sizeof e.file_id);
    e.flags = flags;
    e.mode = mode;
    e.mtime = 1700000000;
    e.size = flags == CATALOG_FILE ? SMS_LEN : 0;
    e.target = (char *)target;
    assert_int_equal(catalog_add(cat, &e), CAIRN_OK);
}

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    const keys_kdf kdf = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    const store_params params = {4096, 16384, CHUNK_MAX, 256 * 1024, 3};
    char src[128];
    if (!f || sodium_init() < 0)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-snapfiles-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/store", f->dir);
    if (store_create(f->path, PW, strlen(PW), &kdf, &params) != CAIRN_OK ||
        store_open(f->path, PW, strlen(PW), STORE_WRITE, &f->s) != CAIRN_OK)
        return -1;
    f->big = malloc(BIG);
    f->sms = malloc(SMS_LEN);
    randombytes_buf(f->big, BIG);
    randombytes_buf(f->sms, SMS_LEN);

    /* a folder snapshot */
    snprintf(src, sizeof src, "%s/folder", f->dir);
    mkdir_in(f->dir, "folder");
    write_file(src, "big.bin", f->big, BIG);
    write_file(src, "empty", "", 0);
    mkdir_in(src, "dir");
    mkdir_in(src, "dir/sub");
    write_file(src, "dir/sub/small.txt", "hello\n", 6);
    char link[256];
    snprintf(link, sizeof link, "%s/link", src);
    if (symlink("big.bin", link) != 0)
        return -1;
    backup_folder(f, src, NULL, NULL);

    /* a device snapshot: a backup folder with its content files "xx/<40 hex>" */
    catalog cat;
    char content[44];
    catalog_init(&cat);
    add_entry(&cat, "HomeDomain", "", CATALOG_DIR, 0, 0755, NULL);
    /* "HomeDomain/Library" and ".../SMS" are implied, not listed */
    add_entry(&cat, "HomeDomain", "Library/SMS/sms.db", CATALOG_FILE, 0x3d, 0600, NULL);
    add_entry(&cat, "HomeDomain", "Library/SMS/link", CATALOG_SYMLINK, 0x11, 0777, "sms.db");
    add_entry(&cat, "CameraRollDomain", "Media", CATALOG_DIR, 0x12, 0700, NULL);
    add_entry(&cat, "HomeDomain", "../escape", CATALOG_FILE, 0x13, 0644, NULL);
    catalog_sort(&cat);
    snprintf(src, sizeof src, "%s/device", f->dir);
    mkdir_in(f->dir, "device");
    mkdir_in(src, "3d");
    for (size_t i = 0; i < cat.count; i++)
        if (cat.entries[i].file_id[0] == 0x3d) {
            catalog_content_path(&cat.entries[i], content);
            write_file(src, content, f->sms, SMS_LEN);
        }
    write_file(src, "Manifest.db", "not a database", 14);
    backup_folder(f, src, &cat, "00008030-001234567890802e");
    catalog_free(&cat);

    if (snaplist_load(f->s, &f->l) != CAIRN_OK || f->l.count != 2)
        return -1;
    for (size_t i = 0; i < 2; i++) {
        if (snapshot_is_device(&f->l.items[i]))
            f->device = &f->l.items[i];
        else
            f->folder = &f->l.items[i];
    }
    if (!f->device || !f->folder)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    snaplist_free(&f->l);
    store_close(f->s);
    test_rmtree(f->dir);
    free(f->big);
    free(f->sms);
    free(f);
    return 0;
}

static void read_check(snapfiles_file *h, const uint8_t *orig, uint64_t size, uint64_t off,
                       size_t len)
{
    uint8_t *const buf = malloc(len ? len : 1);
    size_t got = 12345;
    assert_non_null(buf);
    assert_int_equal(snapfiles_read(h, off, buf, len, &got), CAIRN_OK);
    const size_t want = off >= size ? 0 : (size - off < len ? (size_t)(size - off) : len);
    assert_int_equal(got, want);
    assert_memory_equal(buf, orig + (off < size ? off : 0), want);
    free(buf);
}

static void test_folder_random_reads(void **state)
{
    fixture *const f = *state;
    snapfiles_cache *c;
    snapfiles *sf;
    snapfiles_file *h;
    snapfiles_stat st;
    snapfiles_cache_stats cs;
    const size_t bound = 3 * CHUNK_MAX;
    assert_int_equal(snapfiles_cache_new(f->s, bound, &c), CAIRN_OK);
    assert_int_equal(snapfiles_open(c, f->folder, &sf), CAIRN_OK);
    assert_false(snapfiles_ciphertext(sf));
    assert_int_equal(snapfiles_stat_path(sf, "big.bin", &st), CAIRN_OK);
    assert_int_equal(st.type, SNAPFILES_FILE);
    assert_int_equal(st.size, BIG);
    assert_int_equal(snapfiles_file_open(sf, "big.bin", &h), CAIRN_OK);
    assert_int_equal(snapfiles_file_size(h), BIG);

    /* one byte: exactly the one chunk that holds it is fetched */
    read_check(h, f->big, BIG, 400000, 1);
    snapfiles_cache_get_stats(c, &cs);
    assert_int_equal(cs.fetches, 1);
    read_check(h, f->big, BIG, 400000, 1);
    snapfiles_cache_get_stats(c, &cs);
    assert_int_equal(cs.fetches, 1);
    assert_int_equal(cs.hits, 1);

    /* longer than the largest chunk: crosses at least one boundary */
    read_check(h, f->big, BIG, 123457, 2 * CHUNK_MAX + 17);
    snapfiles_cache_get_stats(c, &cs);
    assert_true(cs.fetches >= 3);
    for (int i = 0; i < 300; i++) {
        const uint64_t off = randombytes_uniform(BIG + 10);
        read_check(h, f->big, BIG, off, randombytes_uniform(3 * CHUNK_MAX));
        snapfiles_cache_get_stats(c, &cs);
        assert_true(cs.bytes <= bound);
    }
    read_check(h, f->big, BIG, 0, BIG);  /* the whole file */
    read_check(h, f->big, BIG, BIG, 10); /* at the end: nothing */
    snapfiles_cache_get_stats(c, &cs);
    assert_true(cs.bytes <= bound);
    assert_true(cs.chunks > 0);
    snapfiles_file_close(h);

    assert_int_equal(snapfiles_file_open(sf, "empty", &h), CAIRN_OK);
    read_check(h, (const uint8_t *)"", 0, 0, 10);
    snapfiles_file_close(h);
    assert_int_equal(snapfiles_file_open(sf, "dir/sub/small.txt", &h), CAIRN_OK);
    read_check(h, (const uint8_t *)"hello\n", 6, 2, 100);
    snapfiles_file_close(h);
    snapfiles_close(sf);
    snapfiles_cache_free(c);
}

typedef struct names {
    char text[512];
} names;

static cairn_err collect(void *ctx, const char *name, const snapfiles_stat *st)
{
    names *const n = ctx;
    const size_t len = strlen(n->text);
    snprintf(n->text + len, sizeof n->text - len, "%s%c%o ", name,
             st->type == SNAPFILES_DIR       ? '/'
             : st->type == SNAPFILES_SYMLINK ? '@'
                                             : ':',
             (unsigned)st->mode);
    return CAIRN_OK;
}

static void test_folder_paths(void **state)
{
    fixture *const f = *state;
    snapfiles_cache *c;
    snapfiles *sf;
    snapfiles_file *h = NULL;
    snapfiles_stat st;
    names n = {""};
    char *target = NULL;
    assert_int_equal(snapfiles_cache_new(f->s, 0, &c), CAIRN_OK);
    assert_int_equal(snapfiles_open(c, f->folder, &sf), CAIRN_OK);
    assert_int_equal(snapfiles_list(sf, "", collect, &n), CAIRN_OK);
    assert_string_equal(n.text, "big.bin:644 dir/755 empty:644 link@777 ");
    assert_int_equal(snapfiles_stat_path(sf, "", &st), CAIRN_OK);
    assert_int_equal(st.type, SNAPFILES_DIR);
    assert_int_equal(snapfiles_stat_path(sf, "dir/sub/small.txt", &st), CAIRN_OK);
    assert_int_equal(st.size, 6);
    assert_int_equal(snapfiles_readlink(sf, "link", &target), CAIRN_OK);
    assert_string_equal(target, "big.bin");
    free(target);

    assert_int_equal(snapfiles_stat_path(sf, "nope", &st), CAIRN_ENOTFOUND);
    assert_non_null(strstr(err_msg(), "nope"));
    assert_int_equal(snapfiles_stat_path(sf, "dir/nope/x", &st), CAIRN_ENOTFOUND);
    assert_int_equal(snapfiles_stat_path(sf, "big.bin/x", &st), CAIRN_ENOTFOUND);
    assert_int_equal(snapfiles_stat_path(sf, "dir/../big.bin", &st), CAIRN_ENOTFOUND);
    assert_int_equal(snapfiles_stat_path(sf, "dir//sub", &st), CAIRN_ENOTFOUND);
    assert_int_equal(snapfiles_file_open(sf, "nope", &h), CAIRN_ENOTFOUND);
    assert_int_equal(snapfiles_file_open(sf, "dir", &h), CAIRN_EINVAL);
    assert_int_equal(snapfiles_list(sf, "big.bin", collect, &n), CAIRN_EINVAL);
    assert_int_equal(snapfiles_readlink(sf, "big.bin", &target), CAIRN_EINVAL);
    assert_null(h);
    snapfiles_close(sf);
    snapfiles_cache_free(c);
}

typedef struct reader {
    fixture *f;
    snapfiles_file *h;
    int bad;
} reader;

static void *read_many(void *arg)
{
    reader *const r = arg;
    uint8_t *const buf = malloc(2 * CHUNK_MAX);
    for (int i = 0; buf && i < 150; i++) {
        const uint64_t off = randombytes_uniform(BIG);
        const size_t len = 1 + randombytes_uniform(2 * CHUNK_MAX - 1);
        size_t got;
        if (snapfiles_read(r->h, off, buf, len, &got) != CAIRN_OK ||
            got != (BIG - off < len ? BIG - off : len) || memcmp(buf, r->f->big + off, got) != 0)
            r->bad++;
    }
    free(buf);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    fixture *const f = *state;
    snapfiles_cache *c;
    snapfiles *sf;
    snapfiles_cache_stats cs;
    pthread_t t[8];
    reader r[8];
    const size_t bound = 4 * CHUNK_MAX; /* small: readers evict each other's chunks */
    assert_int_equal(snapfiles_cache_new(f->s, bound, &c), CAIRN_OK);
    assert_int_equal(snapfiles_open(c, f->folder, &sf), CAIRN_OK);
    for (int i = 0; i < 8; i++) {
        r[i] = (reader){f, NULL, 0};
        /* half share one open file, half have their own */
        if (i <= 4)
            assert_int_equal(snapfiles_file_open(sf, "big.bin", &r[i].h), CAIRN_OK);
        else
            r[i].h = r[4].h;
    }
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, read_many, &r[i]), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].bad, 0);
    }
    snapfiles_cache_get_stats(c, &cs);
    assert_true(cs.bytes <= bound);
    for (int i = 0; i <= 4; i++)
        snapfiles_file_close(r[i].h);
    snapfiles_close(sf);
    snapfiles_cache_free(c);
}

static void test_device_view(void **state)
{
    fixture *const f = *state;
    snapfiles_cache *c;
    snapfiles *sf;
    snapfiles_file *h;
    snapfiles_stat st;
    names n = {""};
    char *target = NULL;
    assert_int_equal(snapfiles_cache_new(f->s, 0, &c), CAIRN_OK);
    assert_int_equal(snapfiles_open(c, f->device, &sf), CAIRN_OK);
    assert_false(snapfiles_ciphertext(sf));
    /* "../escape" is left out; the backup folder's own files are not shown */
    assert_int_equal(snapfiles_list(sf, "", collect, &n), CAIRN_OK);
    assert_string_equal(n.text, "CameraRollDomain/755 HomeDomain/755 ");
    n.text[0] = '\0';
    assert_int_equal(snapfiles_list(sf, "CameraRollDomain", collect, &n), CAIRN_OK);
    assert_string_equal(n.text, "Media/700 ");
    n.text[0] = '\0';
    assert_int_equal(snapfiles_list(sf, "HomeDomain/Library/SMS", collect, &n), CAIRN_OK);
    assert_string_equal(n.text, "link@777 sms.db:600 ");
    assert_int_equal(snapfiles_stat_path(sf, "HomeDomain/Library", &st), CAIRN_OK);
    assert_int_equal(st.type, SNAPFILES_DIR);
    assert_int_equal(snapfiles_stat_path(sf, "HomeDomain/Library/SMS/sms.db", &st), CAIRN_OK);
    assert_int_equal(st.size, SMS_LEN);
    assert_int_equal(st.mtime_sec, 1700000000);
    assert_int_equal(snapfiles_readlink(sf, "HomeDomain/Library/SMS/link", &target), CAIRN_OK);
    assert_string_equal(target, "sms.db");
    free(target);
    assert_int_equal(snapfiles_stat_path(sf, "HomeDomain/escape", &st), CAIRN_ENOTFOUND);
    assert_int_equal(snapfiles_stat_path(sf, "Manifest.db", &st), CAIRN_ENOTFOUND);
    assert_int_equal(snapfiles_stat_path(sf, "HomeDomain/Library/SMS/x", &st), CAIRN_ENOTFOUND);
    assert_int_equal(snapfiles_stat_path(sf, "HomeDomain/Library/SM", &st), CAIRN_ENOTFOUND);
    assert_int_equal(snapfiles_file_open(sf, "HomeDomain/Library/SMS/sms.db", &h), CAIRN_OK);
    for (int i = 0; i < 100; i++)
        read_check(h, f->sms, SMS_LEN, randombytes_uniform(SMS_LEN),
                   randombytes_uniform(2 * CHUNK_MAX));
    read_check(h, f->sms, SMS_LEN, 0, SMS_LEN);
    snapfiles_file_close(h);
    snapfiles_close(sf);
    snapfiles_cache_free(c);
}

static void test_ciphertext(void **state)
{
    fixture *const f = *state;
    snapfiles_cache *c;
    snapfiles *sf;
    snapfiles_stat st;
    names n = {""};
    snapshot sn;
    memset(&sn, 0, sizeof sn);
    assert_int_equal(snapshot_set_meta(&sn, SNAP_META_UDID, "abc"), CAIRN_OK);
    assert_int_equal(snapshot_set_meta(&sn, SNAP_META_IS_ENCRYPTED, "true"), CAIRN_OK);
    sn.ntree = f->device->ntree;
    sn.tree = f->device->tree;
    assert_int_equal(snapfiles_cache_new(f->s, 0, &c), CAIRN_OK);
    assert_int_equal(snapfiles_open(c, &sn, &sf), CAIRN_OK);
    assert_true(snapfiles_ciphertext(sf));
    assert_non_null(strstr(snapfiles_ciphertext_note(), "ciphertext"));
    assert_int_equal(snapfiles_stat_path(sf, "", &st), CAIRN_OK);
    assert_int_equal(st.type, SNAPFILES_DIR);
    assert_int_equal(snapfiles_list(sf, "", collect, &n), CAIRN_OK);
    assert_string_equal(n.text, "");
    /* its stored files (Manifest.db here) are not served */
    assert_int_equal(snapfiles_stat_path(sf, "Manifest.db", &st), CAIRN_ENOTFOUND);
    snapfiles_close(sf);
    snapfiles_cache_free(c);
    sn.tree = NULL;
    snapshot_free(&sn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folder_random_reads), cmocka_unit_test(test_folder_paths),
        cmocka_unit_test(test_concurrent_readers),  cmocka_unit_test(test_device_view),
        cmocka_unit_test(test_ciphertext),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
