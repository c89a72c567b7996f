/* test_copy.c - copy targets below the command line: the folder backend
 * (atomic verified puts, what it lists, names it refuses), the sync in both
 * directions (push sends exactly what is missing, mirrors deletions,
 * refuses another store's target; fetch makes an openable mirror and resets
 * one that holds another store), the targets file and the 3-2-1 rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/core/copy.h"
#include "engine/core/copy_targets.h"
#include "store/backend/backend.h"
#include "util/fsutil.h"
#include "store/store.h"

static const char PW[] = "copy password";

typedef struct fixture {
    char dir[64];
    char store[128];
    char target[128];
    char mirror[128];
    keys_kdf kdf;
    store_params params;
} fixture;

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-copy-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->store, sizeof f->store, "%s/store", f->dir);
    snprintf(f->target, sizeof f->target, "%s/target", f->dir);
    snprintf(f->mirror, sizeof f->mirror, "%s/mirror", f->dir);
    f->kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    f->kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    f->params = (store_params){4096, 16384, 65536, 64 * 1024, 3, 0, 0, 0};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    test_rmtree(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *const fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static int same_file(const char *a, const char *b)
{
    uint8_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int same = fs_read_file(a, 1 << 26, &x, &nx) == CAIRN_OK &&
               fs_read_file(b, 1 << 26, &y, &ny) == CAIRN_OK && nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

/* ---- the folder backend ---- */

typedef struct names {
    char v[16][128];
    uint64_t size[16];
    int n;
} names;

static cairn_err collect(void *ctx, const char *name, uint64_t size)
{
    names *const l = ctx;
    assert_true(l->n < 16);
    snprintf(l->v[l->n], sizeof l->v[0], "%s", name);
    l->size[l->n++] = size;
    return CAIRN_OK;
}

static int has_name(const names *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return 1;
    return 0;
}

static void test_dir_backend(void **state)
{
    fixture *const f = *state;
    backend *b = NULL;
    char src[256], path[512], hex[65];
    uint8_t data[100000], id[32];
    struct stat st;
    names l = {0};
    uint64_t size = 0;
    randombytes_buf(data, sizeof data);
    randombytes_buf(id, sizeof id);
    fs_hex(id, sizeof id, hex);
    snprintf(src, sizeof src, "%s/src.bin", f->dir);
    write_file(src, data, sizeof data);

    /* a leftover of a killed copy disappears on open */
    snprintf(path, sizeof path, "%s/tmp", f->target);
    assert_int_equal(fs_mkdirs(path, 0700), CAIRN_OK);
    snprintf(path, sizeof path, "%s/tmp/dead.part", f->target);
    write_file(path, "x", 1);
    assert_int_equal(backend_dir_open(f->target, &b), CAIRN_OK);
    assert_int_not_equal(access(path, F_OK), 0);

    char name[128];
    snprintf(name, sizeof name, "packs/%.2s/%s", hex, hex);
    assert_int_equal(backend_put_file(b, name, src), CAIRN_OK);
    assert_int_equal(b->bytes_sent, sizeof data);
    snprintf(path, sizeof path, "%s/%s", f->target, name);
    assert_true(same_file(src, path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/packs/%.2s", f->target, hex);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(backend_stat(b, name, &size), CAIRN_OK);
    assert_int_equal(size, sizeof data);
    assert_int_equal(backend_stat(b, "snapshots/none", &size), CAIRN_ENOTFOUND);

    /* what a store folder holds besides objects is never listed */
    assert_int_equal(backend_put_file(b, "config", src), CAIRN_OK);
    snprintf(path, sizeof path, "%s/index", f->target);
    assert_int_equal(fs_mkdirs(path, 0700), CAIRN_OK);
    snprintf(path, sizeof path, "%s/index/data.mdb", f->target);
    write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/lock.readers", f->target);
    write_file(path, "", 0);
    snprintf(path, sizeof path, "%s/.tmp-config-1234", f->target);
    write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/tmp/half.part", f->target);
    write_file(path, "x", 1);
    assert_int_equal(backend_list(b, "", collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 2);
    assert_true(has_name(&l, name));
    assert_true(has_name(&l, "config"));
    memset(&l, 0, sizeof l);
    assert_int_equal(backend_list(b, "packs/", collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], name);
    assert_int_equal(l.size[0], sizeof data);

    /* get, remove, names that would leave the root */
    snprintf(path, sizeof path, "%s/back.bin", f->dir);
    assert_int_equal(backend_get_file(b, name, path), CAIRN_OK);
    assert_true(same_file(src, path));
    assert_int_equal(b->bytes_received, sizeof data);
    assert_int_equal(backend_get_file(b, "snapshots/none", path), CAIRN_ENOTFOUND);
    assert_int_equal(backend_remove(b, name), CAIRN_OK);
    assert_int_equal(backend_remove(b, name), CAIRN_OK);
    assert_int_equal(backend_stat(b, name, &size), CAIRN_ENOTFOUND);
    assert_int_equal(backend_put_file(b, "../escape", src), CAIRN_EINVAL);
    assert_int_equal(backend_put_file(b, "/abs", src), CAIRN_EINVAL);
    assert_int_equal(backend_put_file(b, "a//b", src), CAIRN_EINVAL);
    assert_int_equal(backend_put_file(b, "keys/../../x", src), CAIRN_EINVAL);
    /* a missing source is reported as such, and nothing is left behind */
    assert_int_equal(backend_put_file(b, "config2", "/nonexistent/file"), CAIRN_ENOTFOUND);
    backend_close(b);
    assert_int_equal(backend_dir_open("relative/path", &b), CAIRN_EINVAL);
    /* a drive that is not mounted: its mount point's folder is never created */
    snprintf(path, sizeof path, "%s/not-mounted/cairn", f->dir);
    assert_int_equal(backend_dir_open(path, &b), CAIRN_EREMOTE);
    snprintf(path, sizeof path, "%s/not-mounted", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);
}

/* err_msg() starts with "<a>" and ends with "<b>". */
static void assert_msg(const char *a, const char *b)
{
    const char *const m = err_msg();
    const size_t lm = strlen(m), la = strlen(a), lb = strlen(b);
    if (lm < la + lb || memcmp(m, a, la) != 0 || strcmp(m + lm - lb, b) != 0)
        fail_msg("'%s' is not '%s...%s'", m, a, b);
}

/* A put that fails on the way (unreadable source, a file or folder in the
 * way, a write over the file size limit) reports the path and leaves no
 * .part and no object behind; what was stored before stays as it was. */
static void test_dir_backend_faults(void **state)
{
    fixture *const f = *state;
    backend *b = NULL;
    char src[256], path[512], tmpdir[256], kept[256];
    uint8_t data[50000];
    uint64_t size = 0;
    struct rlimit old;
    struct sigaction old_sa;
    randombytes_buf(data, sizeof data);
    snprintf(src, sizeof src, "%s/src.bin", f->dir);
    write_file(src, data, sizeof data);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", f->target);
    snprintf(kept, sizeof kept, "%s/config", f->target);

    /* trailing slashes are not part of the target's name */
    snprintf(path, sizeof path, "%s///", f->target);
    assert_int_equal(backend_dir_open(path, &b), CAIRN_OK);
    assert_string_equal(b->url, f->target);
    assert_int_equal(backend_put_file(b, "config", src), CAIRN_OK);

    /* the source is a folder */
    assert_int_equal(backend_put_file(b, "snapshots/a", f->dir), CAIRN_EIO);
    assert_msg(f->dir, ": Is a directory");
    snprintf(path, sizeof path, "%s/snapshots/a", f->target);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(test_count_entries(tmpdir), 0);

    /* a file where the object's folder belongs */
    snprintf(path, sizeof path, "%s/packs", f->target);
    write_file(path, "in the way", 10);
    assert_int_equal(backend_put_file(b, "packs/ab/abcd", src), CAIRN_EIO);
    snprintf(path, sizeof path, "%s/packs/ab", f->target);
    assert_msg(path, ": Not a directory");
    assert_int_equal(test_count_entries(tmpdir), 0);
    snprintf(path, sizeof path, "%s/packs", f->target);
    assert_int_equal(unlink(path), 0);

    /* a folder holds the object's name */
    snprintf(path, sizeof path, "%s/keys/0011223344556677", f->target);
    assert_int_equal(fs_mkdirs(path, 0700), CAIRN_OK);
    snprintf(path, sizeof path, "%s/keys/0011223344556677/x", f->target);
    write_file(path, "x", 1);
    assert_int_equal(backend_put_file(b, "keys/0011223344556677", src), CAIRN_EIO);
    snprintf(path, sizeof path, "%s/keys/0011223344556677", f->target);
    assert_msg(path, ": Is a directory");
    assert_int_equal(test_count_entries(tmpdir), 0);
    assert_int_equal(backend_stat(b, "keys/0011223344556677", &size), CAIRN_ENOTFOUND);
    assert_msg(f->target, ": keys/0011223344556677: not a file");

    /* the target takes no more than 16 KiB per file */
    assert_int_equal(test_limit_file_size(16384, &old, &old_sa), 0);
    const cairn_err rc = backend_put_file(b, "snapshots/b", src);
    assert_int_equal(test_unlimit_file_size(&old, &old_sa), 0);
    assert_int_equal(rc, CAIRN_EIO);
    assert_msg(tmpdir, ".part: File too large");
    assert_int_equal(test_count_entries(tmpdir), 0);
    snprintf(path, sizeof path, "%s/snapshots/b", f->target);
    assert_int_not_equal(access(path, F_OK), 0);

    /* names that are no object names, for every operation */
    assert_int_equal(backend_put_file(b, "packs/", src), CAIRN_EINVAL);
    assert_msg(f->target, ": bad object name 'packs/'");
    assert_int_equal(backend_get_file(b, "./config", path), CAIRN_EINVAL);
    assert_msg(f->target, ": bad object name './config'");
    assert_int_equal(backend_stat(b, "", &size), CAIRN_EINVAL);
    assert_int_equal(backend_remove(b, "../config"), CAIRN_EINVAL);
    assert_msg(f->target, ": bad object name '../config'");
    char *const huge = malloc(PATH_MAX + 1);
    assert_non_null(huge);
    memset(huge, 'n', PATH_MAX);
    huge[PATH_MAX] = '\0';
    assert_int_equal(backend_put_file(b, huge, src), CAIRN_EINVAL);
    assert_msg(f->target, "");
    assert_int_equal(test_count_entries(tmpdir), 0);

    /* get into a local path that is a folder */
    assert_int_equal(backend_get_file(b, "config", f->dir), CAIRN_EIO);
    assert_msg(f->dir, ": Is a directory");

    /* the temporary folder replaced by a file: the put fails, the file stays */
    assert_int_equal(rmdir(tmpdir), 0);
    write_file(tmpdir, "in the way", 10);
    assert_int_equal(backend_put_file(b, "snapshots/c", src), CAIRN_EIO);
    assert_msg(tmpdir, ".part: Not a directory");
    backend_close(b);
    /* an open finds it so too, and says so (regression: the open took the
     * file for its folder and the failure showed only at the first put) */
    b = NULL;
    assert_int_equal(backend_dir_open(f->target, &b), CAIRN_EIO);
    assert_null(b);
    assert_msg(tmpdir, ": Not a directory");
    assert_int_equal(unlink(tmpdir), 0);

    /* what was stored before every failure is intact */
    assert_true(same_file(src, kept));

    /* the target itself is a file, or a name that does not fit */
    assert_int_equal(backend_dir_open(kept, &b), CAIRN_EIO);
    assert_null(b);
    snprintf(path, sizeof path, "%s/tmp: Not a directory", kept);
    assert_string_equal(err_msg(), path);
    assert_true(same_file(src, kept));
    huge[0] = '/';
    assert_int_equal(backend_dir_open(huge, &b), CAIRN_EINVAL);
    assert_null(b);
    assert_memory_equal(err_msg(), huge, 100);
    free(huge);
}

/* Ranges of an object: exact bytes, counted; a missing object; a range
 * past the end is a truncated object, never a short success. */
static void test_dir_backend_range(void **state)
{
    fixture *const f = *state;
    backend *b = NULL;
    char src[256];
    uint8_t data[30000], got[5000];
    randombytes_buf(data, sizeof data);
    snprintf(src, sizeof src, "%s/src.bin", f->dir);
    write_file(src, data, sizeof data);
    assert_int_equal(backend_dir_open(f->target, &b), CAIRN_OK);
    assert_int_equal(backend_put_file(b, "packs/00/0001", src), CAIRN_OK);

    assert_int_equal(backend_get_range(b, "packs/00/0001", 12345, sizeof got, got), CAIRN_OK);
    assert_memory_equal(got, data + 12345, sizeof got);
    assert_int_equal(b->bytes_received, sizeof got);
    assert_int_equal(backend_get_range(b, "packs/00/0001", 0, 1, got), CAIRN_OK);
    assert_int_equal(got[0], data[0]);
    assert_int_equal(b->bytes_received, sizeof got + 1);

    assert_int_equal(backend_get_range(b, "packs/00/0001", sizeof data - 10, 20, got),
                     CAIRN_ECORRUPT);
    char want[512];
    snprintf(want, sizeof want, "%s/packs/00/0001: file is truncated", f->target);
    assert_string_equal(err_msg(), want);
    assert_int_equal(b->bytes_received, sizeof got + 1);

    assert_int_equal(backend_get_range(b, "packs/00/0002", 0, 1, got), CAIRN_ENOTFOUND);
    snprintf(want, sizeof want, "%s: packs/00/0002: no such object", f->target);
    assert_string_equal(err_msg(), want);
    assert_int_equal(backend_get_range(b, "packs//0001", 0, 1, got), CAIRN_EINVAL);
    /* a folder's name */
    assert_int_equal(backend_get_range(b, "packs/00", 0, 1, got), CAIRN_EIO);
    assert_msg(f->target, "/packs/00: Is a directory");
    backend_close(b);
}

/* ---- push and fetch ---- */

/* Adds n chunks of fresh random data and one snapshot object to the store;
 * returns the snapshot ID in id. */
static void add_backup(const fixture *f, int n, uint8_t id[SNAPSHOT_ID_LEN])
{
    store *s = NULL;
    store_worker *w = NULL;
    uint8_t buf[20000], cid[ID_LEN];
    int added;
    uint64_t stored;
    assert_int_equal(store_open(f->store, PW, strlen(PW), STORE_WRITE, &s), CAIRN_OK);
    assert_int_equal(store_worker_new(s, &w), CAIRN_OK);
    for (int i = 0; i < n; i++) {
        randombytes_buf(buf, sizeof buf);
        store_chunk_id(s, buf, sizeof buf, cid);
        assert_int_equal(store_put_chunk(s, w, cid, buf, sizeof buf, 0, &added, &stored), CAIRN_OK);
    }
    assert_int_equal(store_flush(s), CAIRN_OK);
    randombytes_buf(buf, 64); /* the object's plaintext: copy never looks inside */
    assert_int_equal(store_put_snapshot(s, buf, 64, id), CAIRN_OK);
    store_worker_free(w);
    store_close(s);
}

/* Every object file of store folder a is in b with the same bytes. */
static void assert_objects_in(const char *a, const char *b)
{
    static const char *const dirs[] = {"keys", "snapshots", "chains"};
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/config", a);
    snprintf(pb, sizeof pb, "%s/config", b);
    assert_true(same_file(pa, pb));
    for (int d = 0; d < 3; d++) {
        snprintf(pa, sizeof pa, "%s/%s", a, dirs[d]);
        DIR *const dir = opendir(pa);
        struct dirent *de;
        if (!dir)
            continue;
        while ((de = readdir(dir)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(pa, sizeof pa, "%s/%s/%s", a, dirs[d], de->d_name);
            snprintf(pb, sizeof pb, "%s/%s/%s", b, dirs[d], de->d_name);
            assert_true(same_file(pa, pb));
        }
        closedir(dir);
    }
    for (int x = 0; x < 256; x++) {
        snprintf(pa, sizeof pa, "%s/packs/%02x", a, x);
        DIR *const dir = opendir(pa);
        struct dirent *de;
        if (!dir)
            continue;
        while ((de = readdir(dir)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(pa, sizeof pa, "%s/packs/%02x/%s", a, x, de->d_name);
            snprintf(pb, sizeof pb, "%s/packs/%02x/%s", b, x, de->d_name);
            assert_true(same_file(pa, pb));
        }
        closedir(dir);
    }
}

static void test_push_fetch(void **state)
{
    fixture *const f = *state;
    backend *t = NULL;
    store *s = NULL, *m = NULL;
    copy_result r;
    uint8_t id1[SNAPSHOT_ID_LEN], id2[SNAPSHOT_ID_LEN];
    char path[512], hex[65];
    assert_int_equal(store_create(f->store, PW, strlen(PW), &f->kdf, &f->params), CAIRN_OK);
    add_backup(f, 20, id1);

    assert_int_equal(backend_dir_open(f->target, &t), CAIRN_OK);
    assert_int_equal(store_open(f->store, PW, strlen(PW), 0, &s), CAIRN_OK);
    assert_int_equal(copy_push(s, t, NULL, &r), CAIRN_OK);
    assert_true(r.objects >= 4); /* key, config, packs, snapshot */
    assert_int_equal(r.snapshots, 1);
    assert_int_equal(r.nheld, 1);
    assert_memory_equal(r.held[0], id1, SNAPSHOT_ID_LEN);
    assert_int_equal(r.bytes, t->bytes_sent);
    copy_result_free(&r);
    assert_objects_in(f->store, f->target);
    assert_objects_in(f->target, f->store);

    /* nothing new: nothing sent */
    const uint64_t sent = t->bytes_sent;
    assert_int_equal(copy_push(s, t, NULL, &r), CAIRN_OK);
    assert_int_equal(r.objects, 0);
    assert_int_equal(r.bytes, 0);
    assert_int_equal(t->bytes_sent, sent);
    copy_result_free(&r);
    store_close(s);

    /* one more backup: exactly its new packs and its snapshot travel */
    add_backup(f, 5, id2);
    assert_int_equal(store_open(f->store, PW, strlen(PW), 0, &s), CAIRN_OK);
    assert_int_equal(copy_push(s, t, NULL, &r), CAIRN_OK);
    assert_int_equal(r.snapshots, 1);
    assert_int_equal(r.objects, r.packs + 1);
    assert_true(r.packs >= 1);
    assert_int_equal(r.nheld, 2);
    copy_result_free(&r);
    assert_objects_in(f->store, f->target);

    /* a forgotten snapshot is forgotten on the target too, past the cap on
     * deletions (1 of 2 snapshots: over a 10 % cap, at the default 50 %
     * not over it) only when deletions are allowed */
    fs_hex(id1, SNAPSHOT_ID_LEN, hex);
    assert_int_equal(store_delete_snapshot(s, id1), CAIRN_OK);
    const copy_opts capped = {.max_delete_percent = 10};
    assert_int_equal(copy_push(s, t, &capped, &r), CAIRN_EREFUSED);
    snprintf(path, sizeof path, "%s/snapshots/%s", f->target, hex);
    assert_int_equal(access(path, F_OK), 0);
    const copy_opts allow = {.allow_deletes = 1};
    assert_int_equal(copy_push(s, t, &allow, &r), CAIRN_OK);
    assert_int_equal(r.deleted, 1);
    assert_int_equal(r.nheld, 1);
    copy_result_free(&r);
    snprintf(path, sizeof path, "%s/snapshots/%s", f->target, hex);
    assert_int_not_equal(access(path, F_OK), 0);
    store_close(s);

    /* fetch: the mirror is the same store, and opens */
    const uint64_t received = t->bytes_received; /* the pushes read the target's config */
    assert_int_equal(copy_fetch(t, f->mirror, NULL, &r), CAIRN_OK);
    assert_int_equal(r.snapshots, 1);
    assert_int_equal(r.bytes, t->bytes_received - received);
    copy_result_free(&r);
    assert_objects_in(f->target, f->mirror);
    assert_objects_in(f->mirror, f->target);
    assert_int_equal(store_open(f->mirror, PW, strlen(PW), 0, &m), CAIRN_OK);
    uint8_t *plain = NULL;
    size_t len = 0;
    assert_int_equal(store_get_snapshot(m, id2, &plain, &len), CAIRN_OK);
    free(plain);
    store_close(m);
    /* incremental: nothing new to fetch; refetch downloads everything again */
    assert_int_equal(copy_fetch(t, f->mirror, NULL, &r), CAIRN_OK);
    assert_int_equal(r.objects, 0);
    copy_result_free(&r);
    const copy_opts again = {.refetch = 1};
    assert_int_equal(copy_fetch(t, f->mirror, &again, &r), CAIRN_OK);
    assert_true(r.objects >= 4);
    assert_int_equal(r.present, 0);
    copy_result_free(&r);
    backend_close(t);
}

static void test_other_store(void **state)
{
    fixture *const f = *state;
    backend *t = NULL;
    store *s = NULL;
    copy_result r;
    uint8_t id[SNAPSHOT_ID_LEN];
    char other[160];
    snprintf(other, sizeof other, "%s/other", f->dir);
    assert_int_equal(store_create(f->store, PW, strlen(PW), &f->kdf, &f->params), CAIRN_OK);
    add_backup(f, 3, id);
    assert_int_equal(store_create(other, PW, strlen(PW), &f->kdf, &f->params), CAIRN_OK);

    /* the target holds the first store: the second one is refused */
    assert_int_equal(backend_dir_open(f->target, &t), CAIRN_OK);
    assert_int_equal(store_open(f->store, PW, strlen(PW), 0, &s), CAIRN_OK);
    assert_int_equal(copy_push(s, t, NULL, &r), CAIRN_OK);
    copy_result_free(&r);
    store_close(s);
    assert_int_equal(store_open(other, PW, strlen(PW), 0, &s), CAIRN_OK);
    assert_int_equal(copy_push(s, t, NULL, &r), CAIRN_EEXIST);
    assert_non_null(strstr(err_msg(), "another store"));
    store_close(s);
    assert_objects_in(f->store, f->target);

    /* a mirror holding another store is a stale cache: reset, then equal */
    assert_int_equal(copy_fetch(t, other, NULL, &r), CAIRN_OK);
    copy_result_free(&r);
    assert_objects_in(f->target, other);
    assert_objects_in(other, f->target);
    backend_close(t);

    /* a target with no config holding something else is refused too */
    char odd[200], file[260];
    snprintf(odd, sizeof odd, "%s/odd", f->dir);
    snprintf(file, sizeof file, "%s/keys", odd);
    assert_int_equal(fs_mkdirs(file, 0700), CAIRN_OK);
    snprintf(file, sizeof file, "%s/keys/0123456789abcdef", odd);
    write_file(file, "not a key", 9);
    assert_int_equal(backend_dir_open(odd, &t), CAIRN_OK);
    assert_int_equal(store_open(f->store, PW, strlen(PW), 0, &s), CAIRN_OK);
    assert_int_equal(copy_push(s, t, NULL, &r), CAIRN_EEXIST);
    store_close(s);
    backend_close(t);

    /* fetching from something that holds no store */
    assert_int_equal(backend_dir_open(odd, &t), CAIRN_OK);
    assert_int_equal(copy_fetch(t, f->mirror, NULL, &r), CAIRN_ENOSTORE);
    backend_close(t);
}

/* ---- the targets file and 3-2-1 ---- */

typedef struct add_args {
    const char *name, *url, *media;
    int offsite;
} add_args;

static cairn_err add_one(void *ctx, target_list *l)
{
    const add_args *const a = ctx;
    return targets_add(l, a->name, a->url, a->media, a->offsite);
}

static cairn_err mark_copied(void *ctx, target_list *l)
{
    const uint8_t(*const held)[ID_LEN] = ctx;
    target *const t = targets_find(l, "usb");
    assert_non_null(t);
    assert_int_equal(targets_set_failed(t, 100, "first try\nfailed"), CAIRN_OK);
    return targets_set_copied(t, 200, 7, 7000, held, 2);
}

static void test_targets_file(void **state)
{
    fixture *const f = *state;
    target_list l = {NULL, 0};
    uint8_t snaps[3][ID_LEN];
    rule321 r;
    char needs[256], path[256];
    randombytes_buf(snaps, sizeof snaps);
    assert_int_equal(fs_mkdirs(f->store, 0700), CAIRN_OK);

    assert_int_equal(targets_load(f->store, &l), CAIRN_OK); /* no file: none */
    assert_int_equal(l.count, 0);
    const add_args usb = {"usb", "/mnt/usb/cairn", "disk", 0};
    const add_args nas = {"nas-1", "sftp://me@nas/vol/cairn", "nas", 0};
    const add_args cloud = {"cloud.b2", "s3://bucket/cairn", "cloud", 1};
    const add_args dup = {"usb", "/elsewhere", "disk", 0};
    const add_args bad = {"no/slash", "/x", "disk", 0};
    const add_args badm = {"m", "/y", "tape", 0};
    assert_int_equal(targets_update(f->store, add_one, (void *)&usb), CAIRN_OK);
    assert_int_equal(targets_update(f->store, add_one, (void *)&nas), CAIRN_OK);
    assert_int_equal(targets_update(f->store, add_one, (void *)&dup), CAIRN_EEXIST);
    assert_int_equal(targets_update(f->store, add_one, (void *)&bad), CAIRN_EINVAL);
    assert_int_equal(targets_update(f->store, add_one, (void *)&badm), CAIRN_EINVAL);
    assert_int_equal(targets_update(f->store, mark_copied, snaps), CAIRN_OK);
    snprintf(path, sizeof path, "%s/targets", f->store);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(targets_load(f->store, &l), CAIRN_OK);
    assert_int_equal(l.count, 2);
    const target *const t = targets_find(&l, "usb");
    assert_non_null(t);
    assert_string_equal(t->url, "/mnt/usb/cairn");
    assert_int_equal(t->copy_time, 200);
    assert_int_equal(t->copy_objects, 7);
    assert_int_equal(t->copy_bytes, 7000);
    assert_int_equal(t->fail_time, 0); /* a later good copy clears the failure */
    assert_int_equal(t->nheld, 2);
    assert_memory_equal(t->held, snaps, 2 * ID_LEN);

    /* the store has 3 snapshots; usb holds 2: behind, so only the store counts */
    assert_int_equal(targets_rule321(&l, (const uint8_t(*)[ID_LEN])snaps, 3, &r), CAIRN_OK);
    assert_int_equal(r.copies, 1);
    assert_false(r.targets[0].current);
    assert_int_equal(r.targets[0].nmissing, 1);
    assert_memory_equal(r.targets[0].missing[0], snaps[2], ID_LEN);
    assert_false(r.targets[1].current); /* never copied */
    assert_false(r.met);
    targets_rule321_needs(&r, needs, sizeof needs);
    assert_string_equal(needs,
                        "2 more current copies, a copy on a second kind of media, an offsite copy");
    targets_rule321_free(&r);

    /* with 2 snapshots usb is current: 2 copies, one kind of media */
    assert_int_equal(targets_rule321(&l, (const uint8_t(*)[ID_LEN])snaps, 2, &r), CAIRN_OK);
    assert_int_equal(r.copies, 2);
    assert_int_equal(r.media_kinds, 1);
    targets_rule321_free(&r);

    /* nas and an offsite cloud, both current: met */
    target *const n = targets_find(&l, "nas-1");
    assert_int_equal(targets_set_copied(n, 300, 1, 1, (const uint8_t(*)[ID_LEN])snaps, 2),
                     CAIRN_OK);
    assert_int_equal(targets_add(&l, cloud.name, cloud.url, cloud.media, 1), CAIRN_OK);
    target *const c = targets_find(&l, "cloud.b2");
    assert_int_equal(targets_set_copied(c, 300, 1, 1, (const uint8_t(*)[ID_LEN])snaps, 3),
                     CAIRN_OK);
    assert_int_equal(targets_rule321(&l, (const uint8_t(*)[ID_LEN])snaps, 2, &r), CAIRN_OK);
    assert_int_equal(r.copies, 4);
    assert_int_equal(r.media_kinds, 3);
    assert_int_equal(r.offsite, 1);
    assert_true(r.met);
    targets_rule321_needs(&r, needs, sizeof needs);
    assert_string_equal(needs, "");
    targets_rule321_free(&r);

    /* a check that found damage takes the offsite copy out */
    targets_set_checked(c, 400, "damaged");
    assert_int_equal(targets_rule321(&l, (const uint8_t(*)[ID_LEN])snaps, 2, &r), CAIRN_OK);
    assert_int_equal(r.copies, 3);
    assert_int_equal(r.offsite, 0);
    assert_false(r.met);
    targets_rule321_free(&r);
    assert_int_equal(targets_remove(&l, "nope"), CAIRN_ENOTFOUND);
    assert_int_equal(targets_remove(&l, "usb"), CAIRN_OK);
    assert_int_equal(l.count, 2);
    targets_free(&l);

    /* a damaged file is reported with its line */
    write_file(path, "cairn-targets 1\ntarget x\nurl /x\nmedia floppy\nend\n", 47);
    assert_int_equal(targets_load(f->store, &l), CAIRN_ECORRUPT);
    assert_non_null(strstr(err_msg(), "line 4"));
    write_file(path, "something else\n", 15);
    assert_int_equal(targets_load(f->store, &l), CAIRN_ECORRUPT);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dir_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_backend_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_backend_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targets_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
