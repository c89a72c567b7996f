/* test_backend_sftp.c - the SFTP copy-target backend against a real sshd.
 *
 * tests/e2e/backend_sftp.sh starts a throwaway OpenSSH server on 127.0.0.1
 * (tests/servers/sshd.sh) and runs this with its assignments in the
 * environment: SFTP_URL_BASE, SFTP_KEY, SFTP_KNOWN_HOSTS, SSHD_PORT, and for
 * the fault tests SSHD_SCRIPT and SSHD_DIR (pause, kill, restart the server);
 * SFTP_FULL_DIR, if set, is a small file system for the disk-full test.
 * Without SFTP_URL_BASE the program skips (exit 77).
 *
 * The server runs on this machine, so each test's target folder is a local
 * folder too: the tests look at it directly (modes, leftovers, contents). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "store/backend/backend.h"

enum { BIG = 20 << 20, BENCH = 64 << 20, FAULT_SIZE = 128 << 20 };

static const char PASSWORD[] = "pw-Vq3-not-for-messages";
static const char PASSPHRASE[] = "pp-Jx9-not-for-messages";

typedef struct fixture {
    char dir[64];       /* the local view of the target */
    char work[128];     /* local scratch files: dir.work */
    char url[PATH_MAX]; /* SFTP_URL_BASE + dir + key and known_hosts */
    backend *b;
} fixture;

static const char *env(const char *name)
{
    const char *const v = getenv(name);
    return v && *v ? v : NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* sftp URL of folder dir with the given key and known_hosts files. */
static void make_url(char *out, size_t cap, const char *dir, const char *key, const char *kh)
{
    snprintf(out, cap, "%s%s?key=%s&known_hosts=%s", env("SFTP_URL_BASE"), dir, key, kh);
}

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-sftp-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->work, sizeof f->work, "%s.work", f->dir);
    if (mkdir(f->work, 0700) != 0)
        return -1;
    make_url(f->url, sizeof f->url, f->dir, env("SFTP_KEY"), env("SFTP_KNOWN_HOSTS"));
    if (backend_open(f->url, &f->b) != CAIRN_OK) {
        fprintf(stderr, "backend_open: %s\n", err_msg());
        test_rmtree(f->dir);
        test_rmtree(f->work);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    backend_close(f->b);
    test_rmtree(f->dir);
    test_rmtree(f->work);
    free(f);
    unsetenv("CAIRN_SFTP_PASSWORD");
    unsetenv("CAIRN_SFTP_KEY_PASSPHRASE");
    unsetenv("CAIRN_SFTP_TIMEOUT");
    return 0;
}

/* Writes n deterministic random bytes to path. */
static void write_random(const char *path, size_t n, uint32_t seed)
{
    uint8_t key[randombytes_SEEDBYTES] = {0};
    uint8_t *const buf = malloc(n ? n : 1);
    assert_non_null(buf);
    memcpy(key, &seed, sizeof seed);
    randombytes_buf_deterministic(buf, n, key);
    FILE *const fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    free(buf);
}

static void write_text(const char *path, const char *text)
{
    FILE *const fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static void assert_same_file(const char *a, const char *b)
{
    FILE *const fa = fopen(a, "rb"), *const fb = fopen(b, "rb");
    static uint8_t ba[1 << 16], bb[1 << 16];
    assert_non_null(fa);
    assert_non_null(fb);
    for (;;) {
        const size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        assert_int_equal(na, nb);
        if (na == 0)
            break;
        assert_memory_equal(ba, bb, na);
    }
    fclose(fa);
    fclose(fb);
}

static int exists(const char *dir, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return lstat(path, &st) == 0;
}

static unsigned mode_of(const char *dir, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* Number of .part files in dir/tmp. */
static int count_parts(const char *dir)
{
    char path[PATH_MAX];
    int n = 0;
    snprintf(path, sizeof path, "%s/tmp", dir);
    DIR *const d = opendir(path);
    if (!d)
        return 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const size_t len = strlen(e->d_name);
        n += len > 5 && strcmp(e->d_name + len - 5, ".part") == 0;
    }
    closedir(d);
    return n;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* sshd.sh CMD on the test server; 0 if the wrapper gave no control. */
static int server(const char *cmd)
{
    if (!env("SSHD_SCRIPT") || !env("SSHD_DIR"))
        return 0;
    assert_int_equal(
        run("bash '%s' %s '%s' >/dev/null 2>&1", env("SSHD_SCRIPT"), cmd, env("SSHD_DIR")), 0);
    return 1;
}

static void object_name(char *out, size_t cap, const char *folder, int i)
{
    uint8_t h[32];
    char hex[65];
    crypto_generichash(h, sizeof h, (const uint8_t *)&i, sizeof i, NULL, 0);
    for (int k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", h[k]);
    if (strcmp(folder, "packs") == 0)
        snprintf(out, cap, "packs/%.2s/%s", hex, hex);
    else
        snprintf(out, cap, "%s/%s", folder, hex);
}

/* ---- round trips ---- */

static void test_small_roundtrip(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], dst[PATH_MAX];
    uint64_t size = 0;
    snprintf(src, sizeof src, "%s/config", f->work);
    snprintf(dst, sizeof dst, "%s/config.back", f->work);
    write_random(src, 1000, 1);
    assert_int_equal(backend_put_file(f->b, "config", src), CAIRN_OK);
    assert_int_equal(f->b->bytes_sent, 1000);
    assert_int_equal(backend_stat(f->b, "config", &size), CAIRN_OK);
    assert_int_equal(size, 1000);
    assert_int_equal(backend_get_file(f->b, "config", dst), CAIRN_OK);
    assert_int_equal(f->b->bytes_received, 1000);
    assert_same_file(src, dst);
    /* what the server holds, seen directly */
    snprintf(dst, sizeof dst, "%s/config", f->dir);
    assert_same_file(src, dst);
    assert_int_equal(mode_of(f->dir, "config"), 0600);
    assert_int_equal(mode_of(f->dir, "tmp"), 0700);
    assert_int_equal(count_parts(f->dir), 0);
    /* an empty object */
    write_random(src, 0, 2);
    assert_int_equal(backend_put_file(f->b, "keys/0123456789abcdef", src), CAIRN_OK);
    assert_int_equal(backend_stat(f->b, "keys/0123456789abcdef", &size), CAIRN_OK);
    assert_int_equal(size, 0);
    assert_int_equal(backend_get_file(f->b, "keys/0123456789abcdef", dst), CAIRN_OK);
    assert_same_file(src, dst);
}

static void test_big_roundtrip(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], dst[PATH_MAX], name[128], path[PATH_MAX];
    uint64_t size = 0;
    object_name(name, sizeof name, "packs", 7);
    snprintf(src, sizeof src, "%s/big", f->work);
    snprintf(dst, sizeof dst, "%s/big.back", f->work);
    write_random(src, BIG + 12345, 3);
    assert_int_equal(backend_put_file(f->b, name, src), CAIRN_OK);
    assert_int_equal(f->b->bytes_sent, BIG + 12345);
    assert_int_equal(backend_stat(f->b, name, &size), CAIRN_OK);
    assert_int_equal(size, BIG + 12345);
    assert_int_equal(backend_get_file(f->b, name, dst), CAIRN_OK);
    assert_int_equal(f->b->bytes_received, BIG + 12345);
    assert_same_file(src, dst);
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    assert_same_file(src, path);
    assert_int_equal(mode_of(f->dir, "packs"), 0700);
    name[8] = '\0'; /* packs/xy */
    assert_int_equal(mode_of(f->dir, name), 0700);
    assert_int_equal(count_parts(f->dir), 0);
    /* get overwrites what the local file held */
    write_random(dst, 100, 4);
    name[8] = '/';
    assert_int_equal(backend_get_file(f->b, name, dst), CAIRN_OK);
    assert_same_file(src, dst);
}

typedef struct listing {
    int n;
    char names[16][128];
    uint64_t sizes[16];
} listing;

static cairn_err collect(void *ctx, const char *name, uint64_t size)
{
    listing *const l = ctx;
    if (l->n >= 16)
        return err_set(CAIRN_EINVAL, "too many");
    snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    l->sizes[l->n++] = size;
    return CAIRN_OK;
}

static cairn_err stop_listing(void *ctx, const char *name, uint64_t size)
{
    (void)name;
    (void)size;
    ++*(int *)ctx;
    return err_set(CAIRN_EIO, "stop");
}

static int listed(const listing *l, const char *name, uint64_t size)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return l->sizes[i] == size;
    return 0;
}

static void test_nested_and_list(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], names[6][128], path[PATH_MAX];
    listing l;
    object_name(names[0], sizeof names[0], "packs", 1);
    object_name(names[1], sizeof names[1], "packs", 2);
    object_name(names[2], sizeof names[2], "packs", 3);
    object_name(names[3], sizeof names[3], "snapshots", 4);
    snprintf(names[4], sizeof names[4], "keys/00112233aabbccdd");
    snprintf(names[5], sizeof names[5], "config");
    snprintf(src, sizeof src, "%s/obj", f->work);
    for (int i = 0; i < 6; i++) {
        write_random(src, 100 + (size_t)i, 10 + (uint32_t)i);
        assert_int_equal(backend_put_file(f->b, names[i], src), CAIRN_OK);
    }
    /* leftovers that are no objects */
    snprintf(path, sizeof path, "%s/tmp/feedfacefeedface.part", f->dir);
    write_text(path, "partial");
    snprintf(path, sizeof path, "%s/%s.part", f->dir, names[0]);
    write_text(path, "partial");

    memset(&l, 0, sizeof l);
    assert_int_equal(backend_list(f->b, "", collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 6);
    for (int i = 0; i < 6; i++)
        assert_true(listed(&l, names[i], 100 + (uint64_t)i));

    memset(&l, 0, sizeof l);
    assert_int_equal(backend_list(f->b, "packs/", collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 3);
    for (int i = 0; i < 3; i++)
        assert_true(listed(&l, names[i], 100 + (uint64_t)i));

    memset(&l, 0, sizeof l);
    char sub[16];
    snprintf(sub, sizeof sub, "%.8s", names[1]); /* packs/xy: one folder */
    assert_int_equal(backend_list(f->b, sub, collect, &l), CAIRN_OK);
    assert_true(l.n >= 1);
    for (int i = 0; i < l.n; i++)
        assert_memory_equal(l.names[i], sub, 8);

    memset(&l, 0, sizeof l);
    assert_int_equal(backend_list(f->b, "snapshots/", collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 1);
    assert_true(listed(&l, names[3], 103));

    memset(&l, 0, sizeof l);
    assert_int_equal(backend_list(f->b, "chains/", collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 0);

    /* a folder moved elsewhere and symlinked is followed */
    char other[PATH_MAX];
    snprintf(other, sizeof other, "%s/elsewhere", f->work);
    assert_int_equal(mkdir(other, 0700), 0);
    snprintf(path, sizeof path, "%s/c1", other);
    write_text(path, "chain");
    snprintf(path, sizeof path, "%s/chains", f->dir);
    assert_int_equal(symlink(other, path), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(backend_list(f->b, "chains/", collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 1);
    assert_true(listed(&l, "chains/c1", 5));

    /* the callback's error ends the listing and comes back as is */
    int calls = 0;
    assert_int_equal(backend_list(f->b, "", stop_listing, &calls), CAIRN_EIO);
    assert_int_equal(calls, 1);
    assert_string_equal(err_msg(), "stop");
    /* and the backend still works */
    uint64_t size = 0;
    assert_int_equal(backend_stat(f->b, "config", &size), CAIRN_OK);
    assert_int_equal(size, 105);
}

static void test_remove_and_missing(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], dst[PATH_MAX], name[128];
    uint64_t size = 0;
    object_name(name, sizeof name, "snapshots", 9);
    snprintf(src, sizeof src, "%s/obj", f->work);
    snprintf(dst, sizeof dst, "%s/obj.back", f->work);
    write_random(src, 5000, 5);
    assert_int_equal(backend_put_file(f->b, name, src), CAIRN_OK);
    assert_int_equal(backend_remove(f->b, name), CAIRN_OK);
    assert_false(exists(f->dir, name));
    assert_int_equal(backend_stat(f->b, name, &size), CAIRN_ENOTFOUND);
    assert_non_null(strstr(err_msg(), name));
    assert_int_equal(backend_get_file(f->b, name, dst), CAIRN_ENOTFOUND);
    assert_non_null(strstr(err_msg(), name));
    /* absent is fine */
    assert_int_equal(backend_remove(f->b, name), CAIRN_OK);
    assert_int_equal(backend_remove(f->b, "packs/zz/nothing"), CAIRN_OK);
    /* names that are not object names */
    assert_int_equal(backend_put_file(f->b, "../escape", src), CAIRN_EINVAL);
    assert_int_equal(backend_put_file(f->b, "tmp/x", src), CAIRN_EINVAL);
    assert_int_equal(backend_put_file(f->b, "a//b", src), CAIRN_EINVAL);
    assert_int_equal(backend_put_file(f->b, "/abs", src), CAIRN_EINVAL);
    assert_int_equal(backend_stat(f->b, "x.part", &size), CAIRN_EINVAL);
    /* a local file that is not there */
    snprintf(src, sizeof src, "%s/none", f->work);
    assert_int_equal(backend_put_file(f->b, "config", src), CAIRN_EIO);
    assert_int_equal(count_parts(f->dir), 0);
}

/* The name exists already: from an interrupted copy (same bytes, kept) or
 * a stray file of another size (replaced). */
static void test_put_existing(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], path[PATH_MAX], name[128];
    object_name(name, sizeof name, "packs", 11);
    snprintf(src, sizeof src, "%s/obj", f->work);
    write_random(src, 70000, 6);
    assert_int_equal(backend_put_file(f->b, name, src), CAIRN_OK);
    assert_int_equal(backend_put_file(f->b, name, src), CAIRN_OK);
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    assert_same_file(src, path);
    write_text(path, "junk");
    assert_int_equal(backend_put_file(f->b, name, src), CAIRN_OK);
    assert_same_file(src, path);
    assert_int_equal(count_parts(f->dir), 0);
}

static void set_mtime(const char *path, time_t t)
{
    const struct timeval tv[2] = {{t, 0}, {t, 0}};
    assert_int_equal(utimes(path, tv), 0);
}

/* Opening removes the .part files nobody wrote to for an hour, keeps the
 * others (someone may be uploading them). */
static void test_cleanup_on_open(void **state)
{
    fixture *const f = *state;
    char old[PATH_MAX], fresh[PATH_MAX];
    backend *b2 = NULL;
    snprintf(old, sizeof old, "%s/tmp/0000000000000001.part", f->dir);
    snprintf(fresh, sizeof fresh, "%s/tmp/0000000000000002.part", f->dir);
    write_text(old, "left by a crash");
    write_text(fresh, "being uploaded");
    set_mtime(old, time(NULL) - 2 * 3600);
    assert_int_equal(backend_open(f->url, &b2), CAIRN_OK);
    assert_false(exists(f->dir, "tmp/0000000000000001.part"));
    assert_true(exists(f->dir, "tmp/0000000000000002.part"));
    backend_close(b2);
}

/* The target folder need not exist; /~/ is relative to the home folder. */
static void test_new_folder_and_home(void **state)
{
    fixture *const f = *state;
    char dir[PATH_MAX], url[2 * PATH_MAX], src[PATH_MAX], rel[PATH_MAX] = "";
    backend *b2 = NULL;
    snprintf(dir, sizeof dir, "%s/new/deeper", f->dir);
    make_url(url, sizeof url, dir, env("SFTP_KEY"), env("SFTP_KNOWN_HOSTS"));
    assert_int_equal(backend_open(url, &b2), CAIRN_OK);
    assert_int_equal(mode_of(f->dir, "new/deeper"), 0700);
    assert_int_equal(mode_of(f->dir, "new/deeper/tmp"), 0700);
    snprintf(src, sizeof src, "%s/obj", f->work);
    write_random(src, 10, 7);
    assert_int_equal(backend_put_file(b2, "config", src), CAIRN_OK);
    assert_true(exists(f->dir, "new/deeper/config"));
    backend_close(b2);

    /* the server resolves /~/rel from the login's home folder */
    const struct passwd *const pw = getpwuid(getuid());
    if (!pw || pw->pw_dir[0] != '/')
        return;
    for (const char *p = pw->pw_dir; *p; p++)
        if (*p == '/' && p[1])
            strcat(rel, "../");
    snprintf(dir, sizeof dir, "/~/%s%s/home", rel, f->dir + 1);
    make_url(url, sizeof url, dir, env("SFTP_KEY"), env("SFTP_KNOWN_HOSTS"));
    assert_int_equal(backend_open(url, &b2), CAIRN_OK);
    assert_int_equal(backend_put_file(b2, "config", src), CAIRN_OK);
    assert_true(exists(f->dir, "home/config"));
    backend_close(b2);
}

/* err_msg() holds needle. */
static void assert_msg_has(const char *needle)
{
    if (!strstr(err_msg(), needle))
        fail_msg("'%s' not in: %s", needle, err_msg());
}

/* ---- ranges ---- */

/* Exact bytes, counted; a range past the end is an error naming how much
 * there was (the server's short answer is asked again from where it
 * stopped before that is concluded); the backend works on afterwards. */
static void test_get_range(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], name[128], want[PATH_MAX];
    uint8_t *const data = malloc(100000), *const got = malloc(50000);
    uint64_t size = 0;
    assert_non_null(data);
    assert_non_null(got);
    object_name(name, sizeof name, "packs", 21);
    snprintf(src, sizeof src, "%s/obj", f->work);
    write_random(src, 100000, 21);
    FILE *const fp = fopen(src, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(data, 1, 100000, fp), 100000);
    fclose(fp);
    assert_int_equal(backend_put_file(f->b, name, src), CAIRN_OK);

    assert_int_equal(backend_get_range(f->b, name, 30000, 50000, got), CAIRN_OK);
    assert_memory_equal(got, data + 30000, 50000);
    assert_int_equal(f->b->bytes_received, 50000);
    assert_int_equal(backend_get_range(f->b, name, 99999, 1, got), CAIRN_OK);
    assert_int_equal(got[0], data[99999]);
    assert_int_equal(f->b->bytes_received, 50001);

    assert_int_equal(backend_get_range(f->b, name, 90000, 20000, got), CAIRN_EREMOTE);
    snprintf(want, sizeof want, "%s: read %s: it ends after 10000 of 20000 bytes", f->b->url, name);
    assert_string_equal(err_msg(), want);
    assert_int_equal(f->b->bytes_received, 50001);

    object_name(name, sizeof name, "packs", 22);
    assert_int_equal(backend_get_range(f->b, name, 0, 10, got), CAIRN_ENOTFOUND);
    snprintf(want, sizeof want, "%s: get %s: no such file", f->b->url, name);
    assert_string_equal(err_msg(), want);
    assert_int_equal(backend_get_range(f->b, "packs/../x", 0, 10, got), CAIRN_EINVAL);

    assert_int_equal(backend_stat(f->b, "config", &size), CAIRN_ENOTFOUND);
    object_name(name, sizeof name, "packs", 21);
    assert_int_equal(backend_stat(f->b, name, &size), CAIRN_OK);
    assert_int_equal(size, 100000);
    free(data);
    free(got);
}

/* ---- leftovers of this machine ---- */

/* The tag that starts this machine's .part names (see sftp_backend.c). */
static void host_tag(char out[9])
{
    char host[256] = "";
    uint8_t h[4];
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    crypto_generichash(h, sizeof h, (const uint8_t *)host, strlen(host), NULL, 0);
    for (int i = 0; i < 4; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Under the target's lock, this machine's .part files go whatever their
 * age; another machine's fresh one may be an upload in progress and stays. */
static void test_clean_parts(void **state)
{
    fixture *const f = *state;
    char tag[9], mine[PATH_MAX], other[PATH_MAX], note[PATH_MAX], rel[64];
    host_tag(tag);
    snprintf(rel, sizeof rel, "tmp/%s-0123456789abcdef.part", tag);
    snprintf(mine, sizeof mine, "%s/%s", f->dir, rel);
    write_text(mine, "interrupted here");
    snprintf(other, sizeof other, "%s/tmp/%s-fedcba9876543210.part", f->dir,
             strcmp(tag, "00000000") ? "00000000" : "11111111");
    write_text(other, "someone else's upload");
    snprintf(note, sizeof note, "%s/tmp/%s-notes.txt", f->dir, tag);
    write_text(note, "not a .part");
    assert_int_equal(backend_clean_parts(f->b), CAIRN_OK);
    assert_false(exists(f->dir, rel));
    assert_int_equal(count_parts(f->dir), 1);
    assert_int_equal(access(other, F_OK), 0);
    assert_int_equal(access(note, F_OK), 0);
}

/* ---- refusals of a working server ---- */

/* Things in the way on the server and locally: each is refused with the
 * object's name, not retried, leaves no .part, and changes nothing stored. */
static void test_things_in_the_way(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], path[PATH_MAX], want[2 * PATH_MAX], name[128];
    uint64_t size = 0;
    snprintf(src, sizeof src, "%s/obj", f->work);
    write_random(src, 3000, 30);
    assert_int_equal(backend_put_file(f->b, "config", src), CAIRN_OK);

    /* a folder where an object is expected */
    snprintf(path, sizeof path, "%s/snapshots/adir", f->dir);
    assert_int_equal(run("mkdir -p '%s' && echo x > '%s/inside'", path, path), 0);
    assert_int_equal(backend_stat(f->b, "snapshots/adir", &size), CAIRN_EREMOTE);
    snprintf(want, sizeof want, "%s: stat snapshots/adir: not a file", f->b->url);
    assert_string_equal(err_msg(), want);
    assert_int_equal(backend_get_file(f->b, "snapshots/adir", path), CAIRN_EREMOTE);
    snprintf(want, sizeof want, "%s: get snapshots/adir: not a file", f->b->url);
    assert_string_equal(err_msg(), want);
    assert_int_equal(backend_remove(f->b, "snapshots/adir"), CAIRN_EREMOTE);
    snprintf(want, sizeof want, "%s: remove snapshots/adir: failure", f->b->url);
    assert_string_equal(err_msg(), want);
    assert_true(exists(f->dir, "snapshots/adir/inside"));
    assert_int_equal(backend_put_file(f->b, "snapshots/adir", src), CAIRN_EREMOTE);
    snprintf(want, sizeof want, "%s: put snapshots/adir: something other than a file has that name",
             f->b->url);
    assert_string_equal(err_msg(), want);
    assert_true(exists(f->dir, "snapshots/adir/inside"));
    assert_int_equal(count_parts(f->dir), 0);

    /* a listing follows a symlink to a file, skips a dangling one and
     * what is neither file nor folder */
    assert_int_equal(run("cd '%s/snapshots' && ln -s ../config link && ln -s /nonexistent dangling "
                         "&& mkfifo fifo",
                         f->dir),
                     0);
    listing l = {0};
    assert_int_equal(backend_list(f->b, "snapshots/", collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 2);
    assert_true(listed(&l, "snapshots/link", 3000));
    assert_true(listed(&l, "snapshots/adir/inside", 2));

    /* a file where the object's folder belongs */
    snprintf(path, sizeof path, "%s/packs", f->dir);
    write_text(path, "in the way");
    object_name(name, sizeof name, "packs", 31);
    assert_int_equal(backend_put_file(f->b, name, src), CAIRN_EREMOTE);
    /* OpenSSH 9 says the name exists; older ones only "failure" */
    snprintf(want, sizeof want, "%s: cannot create folder %s/packs: ", f->b->url, f->dir);
    assert_memory_equal(err_msg(), want, strlen(want));
    if (strcmp(err_msg() + strlen(want), "file already exists") != 0)
        assert_string_equal(err_msg() + strlen(want), "failure");
    assert_int_equal(count_parts(f->dir), 0);
    FILE *const fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(want, sizeof want, fp));
    fclose(fp);
    assert_string_equal(want, "in the way");

    /* local paths that cannot be used */
    assert_int_equal(backend_put_file(f->b, "snapshots/b", f->work), CAIRN_EINVAL);
    snprintf(want, sizeof want, "%s: not a regular file", f->work);
    assert_string_equal(err_msg(), want);
    assert_int_equal(backend_get_file(f->b, "config", f->work), CAIRN_EIO);
    snprintf(want, sizeof want, "%s: Is a directory", f->work);
    assert_string_equal(err_msg(), want);
    /* a missing local folder is no missing object */
    snprintf(path, sizeof path, "%s/no/such/file", f->work);
    assert_int_equal(backend_get_file(f->b, "config", path), CAIRN_EIO);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(err_msg(), want);

    /* names no object has */
    assert_int_equal(backend_put_file(f->b, "snapshots/", src), CAIRN_EINVAL);
    assert_int_equal(backend_put_file(f->b, "snap\001shots", src), CAIRN_EINVAL);
    snprintf(want, sizeof want, "%s: snap\001shots: not a valid object name", f->b->url);
    assert_string_equal(err_msg(), want);
    assert_int_equal(backend_list(f->b, "/etc", collect, &(listing){0}), CAIRN_EINVAL);
    snprintf(want, sizeof want, "%s: /etc: not a valid prefix", f->b->url);
    assert_string_equal(err_msg(), want);

    /* what was stored before is intact */
    snprintf(path, sizeof path, "%s/config", f->dir);
    assert_same_file(src, path);

    /* tmp/ removed behind the backend's back: the next put makes it again */
    snprintf(path, sizeof path, "%s/tmp", f->dir);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(backend_put_file(f->b, "snapshots/c", src), CAIRN_OK);
    assert_int_equal(mode_of(f->dir, "tmp"), 0700);
    snprintf(path, sizeof path, "%s/snapshots/c", f->dir);
    assert_same_file(src, path);
}

/* A server that refuses every change (internal-sftp -R, see
 * backend_sftp.sh): opening an existing target works (what it cannot
 * clean stays), reading works, every change is "permission denied" and
 * changes nothing. */
static void test_read_only_server(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], dst[PATH_MAX], url[2 * PATH_MAX], want[2 * PATH_MAX], dir[PATH_MAX],
        old[PATH_MAX];
    backend *b = NULL;
    if (!env("SFTP_RO_URL_BASE"))
        skip();
    snprintf(src, sizeof src, "%s/obj", f->work);
    write_random(src, 2000, 40);
    assert_int_equal(backend_put_file(f->b, "config", src), CAIRN_OK);
    snprintf(old, sizeof old, "%s/tmp/0000000000000009.part", f->dir);
    write_text(old, "left by a crash");
    set_mtime(old, time(NULL) - 2 * 3600);

    snprintf(url, sizeof url, "%s%s?key=%s&known_hosts=%s", env("SFTP_RO_URL_BASE"), f->dir,
             env("SFTP_RO_KEY"), env("SFTP_RO_KNOWN_HOSTS"));
    assert_int_equal(backend_open(url, &b), CAIRN_OK);
    assert_int_equal(access(old, F_OK), 0);

    snprintf(dst, sizeof dst, "%s/back", f->work);
    assert_int_equal(backend_get_file(b, "config", dst), CAIRN_OK);
    assert_same_file(src, dst);

    assert_int_equal(backend_put_file(b, "snapshots/x", src), CAIRN_EREMOTE);
    snprintf(want, sizeof want, "%s: put snapshots/x: permission denied", b->url);
    assert_string_equal(err_msg(), want);
    assert_false(exists(f->dir, "snapshots/x"));
    assert_int_equal(count_parts(f->dir), 1);

    assert_int_equal(backend_remove(b, "config"), CAIRN_EREMOTE);
    snprintf(want, sizeof want, "%s: remove config: permission denied", b->url);
    assert_string_equal(err_msg(), want);
    snprintf(dst, sizeof dst, "%s/config", f->dir);
    assert_same_file(src, dst);
    backend_close(b);

    /* a target that does not exist yet cannot be made */
    snprintf(dir, sizeof dir, "%s/new", f->dir);
    snprintf(url, sizeof url, "%s%s?key=%s&known_hosts=%s", env("SFTP_RO_URL_BASE"), dir,
             env("SFTP_RO_KEY"), env("SFTP_RO_KNOWN_HOSTS"));
    b = NULL;
    assert_int_equal(backend_open(url, &b), CAIRN_EREMOTE);
    assert_null(b);
    snprintf(want, sizeof want, "%s%s: cannot create folder %s: permission denied",
             env("SFTP_RO_URL_BASE"), dir, dir);
    assert_string_equal(err_msg(), want);
    assert_false(exists(f->dir, "new"));
}

/* ---- refusals ---- */

static void test_bad_urls(void **state)
{
    (void)state;
    backend *b = NULL;
    char url[PATH_MAX];
    static const char *const bad[] = {
        "sftp://host",     "sftp://u@h/",   "sftp://u@h:0/x",           "sftp://u@h:99999/x",
        "sftp://u@h:2x/x", "sftp://u@/x",   "sftp://u@h/x?foo=bar",     "sftp://u@h/x?key=",
        "sftp://u@h/x%zz", "sftp://[::1/x", "sftp://u@h/x?key=a&key=b", "sftp://u@h/x#frag",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(backend_open(bad[i], &b), CAIRN_EINVAL);
        assert_null(b);
    }
    /* a password in the URL is refused without being repeated */
    assert_int_equal(backend_open("sftp://u:Sekr1t-in-url@h/x", &b), CAIRN_EINVAL);
    assert_null(strstr(err_msg(), "Sekr1t"));
    assert_int_equal(backend_open("sftp://u:Sekr1t-in-url@h", &b), CAIRN_EINVAL);
    assert_null(strstr(err_msg(), "Sekr1t"));
    /* a key file that does not exist */
    snprintf(url, sizeof url, "%s/tmp/x?key=/nonexistent/key", env("SFTP_URL_BASE"));
    assert_int_equal(backend_open(url, &b), CAIRN_EINVAL);
    assert_non_null(strstr(err_msg(), "/nonexistent/key"));
    /* a bad timeout */
    setenv("CAIRN_SFTP_TIMEOUT", "soon", 1);
    make_url(url, sizeof url, "/tmp/x", env("SFTP_KEY"), env("SFTP_KNOWN_HOSTS"));
    assert_int_equal(backend_open(url, &b), CAIRN_EINVAL);
    unsetenv("CAIRN_SFTP_TIMEOUT");
}

/* Forms of URL the parser must take apart, or refuse with a reason. */
static void test_url_forms(void **state)
{
    fixture *const f = *state;
    backend *b = NULL;
    char url[2 * PATH_MAX], want[2 * PATH_MAX], src[PATH_MAX];
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"http://h/x", "http://h/x: not an sftp:// URL"},
        {"sftp://@h/x", "sftp://@h/x: bad user name"},
        {"sftp://u@h%zz/x", "sftp://u@h%zz/x: bad host"},
        {"sftp://u@h%2Fx/x", "sftp://u@h%2Fx/x: bad host"},
        {"sftp://u@[::1]x/p", "sftp://u@[::1]x/p: bad host"},
        {"sftp://u@h/x?key=%zz", "sftp://u@h/x: bad escape in a URL option"},
        {"sftp://u@h/x?key", "sftp://u@h/x: URL option without a value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(backend_sftp_open(bad[i].url, &b), CAIRN_EINVAL);
        assert_null(b);
        assert_string_equal(err_msg(), bad[i].why);
    }

    /* a trailing slash names the same folder */
    snprintf(url, sizeof url, "%s%s/?key=%s&known_hosts=%s", env("SFTP_URL_BASE"), f->dir,
             env("SFTP_KEY"), env("SFTP_KNOWN_HOSTS"));
    assert_int_equal(backend_open(url, &b), CAIRN_OK);
    snprintf(src, sizeof src, "%s/obj", f->work);
    write_random(src, 10, 50);
    assert_int_equal(backend_put_file(b, "config", src), CAIRN_OK);
    assert_true(exists(f->dir, "config"));
    backend_close(b);

    /* nobody listens there: an IPv6 literal with a port, and port 22
     * (which known_hosts names without brackets) */
    setenv("CAIRN_SFTP_TIMEOUT", "5", 1);
    snprintf(url, sizeof url, "sftp://u@[::1]:%s%s?known_hosts=%s", env("SSHD_PORT"), f->dir,
             env("SFTP_KNOWN_HOSTS"));
    b = NULL;
    assert_int_equal(backend_open(url, &b), CAIRN_EREMOTE);
    assert_null(b);
    snprintf(want, sizeof want,
             "sftp://u@[::1]:%s%s: cannot connect to [::1]:%s: ", env("SSHD_PORT"), f->dir,
             env("SSHD_PORT"));
    assert_memory_equal(err_msg(), want, strlen(want));
    snprintf(url, sizeof url, "sftp://u@127.0.0.1%s?known_hosts=%s", f->dir,
             env("SFTP_KNOWN_HOSTS"));
    assert_int_equal(backend_open(url, &b), CAIRN_EREMOTE);
    assert_null(b);
    /* refused, or a system sshd whose key our known_hosts does not hold */
    assert_null(strstr(err_msg(), "[127.0.0.1]"));
    assert_non_null(strstr(err_msg(), " 127.0.0.1"));
    unsetenv("CAIRN_SFTP_TIMEOUT");
}

/* Copies file a to b. */
static void copy_file(const char *a, const char *b)
{
    assert_int_equal(run("cp '%s' '%s' && chmod 600 '%s'", a, b, b), 0);
}

/* Without ?key= and ?known_hosts=, ~/.ssh decides; ~/ in a value is $HOME,
 * else the password database's home; no usable key is a refusal that says
 * what was tried. */
static void test_defaults_from_home(void **state)
{
    fixture *const f = *state;
    char home[PATH_MAX], ssh[PATH_MAX], path[PATH_MAX], url[2 * PATH_MAX], want[2 * PATH_MAX];
    char *const saved = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    backend *b = NULL;
    snprintf(home, sizeof home, "%s/home", f->work);
    snprintf(ssh, sizeof ssh, "%s/.ssh", home);
    assert_int_equal(run("mkdir -p '%s'", ssh), 0);
    snprintf(path, sizeof path, "%s/known_hosts", ssh);
    copy_file(env("SFTP_KNOWN_HOSTS"), path);
    snprintf(path, sizeof path, "%s/id_ed25519", ssh);
    copy_file(env("SFTP_KEY"), path);
    setenv("HOME", home, 1);

    snprintf(url, sizeof url, "%s%s", env("SFTP_URL_BASE"), f->dir);
    assert_int_equal(backend_open(url, &b), CAIRN_OK);
    backend_close(b);
    snprintf(url, sizeof url, "%s%s?key=~/.ssh/id_ed25519", env("SFTP_URL_BASE"), f->dir);
    assert_int_equal(backend_open(url, &b), CAIRN_OK);
    backend_close(b);

    /* a file that is no key, then no key at all */
    snprintf(path, sizeof path, "%s/garbage", home);
    write_text(path, "not a key\n");
    snprintf(url, sizeof url, "%s%s?key=~/garbage", env("SFTP_URL_BASE"), f->dir);
    b = NULL;
    assert_int_equal(backend_open(url, &b), CAIRN_EREMOTE);
    assert_null(b);
    snprintf(want, sizeof want,
             "%s%s: the server refused the login (key %s: cannot read it; $CAIRN_SFTP_PASSWORD "
             "unset)",
             env("SFTP_URL_BASE"), f->dir, path);
    assert_string_equal(err_msg(), want);
    snprintf(path, sizeof path, "%s/id_ed25519", ssh);
    assert_int_equal(unlink(path), 0);
    snprintf(url, sizeof url, "%s%s", env("SFTP_URL_BASE"), f->dir);
    assert_int_equal(backend_open(url, &b), CAIRN_EREMOTE);
    assert_msg_has("(no key (~/.ssh/id_ed25519 and ~/.ssh/id_rsa do not exist); "
                   "$CAIRN_SFTP_PASSWORD unset)");

    /* a home that does not fit in a path */
    char *const huge = malloc(PATH_MAX + 2);
    assert_non_null(huge);
    memset(huge, 'h', PATH_MAX + 1);
    huge[0] = '/';
    huge[PATH_MAX + 1] = '\0';
    setenv("HOME", huge, 1);
    free(huge);
    assert_int_equal(backend_open(url, &b), CAIRN_EINVAL);
    assert_string_equal(err_msg(), "sftp: home folder path too long");
    snprintf(url, sizeof url, "%s%s?key=~/k&known_hosts=/x", env("SFTP_URL_BASE"), f->dir);
    assert_int_equal(backend_open(url, &b), CAIRN_EINVAL);
    assert_string_equal(err_msg(), "sftp: home folder path too long");

    /* no $HOME: the password database's */
    unsetenv("HOME");
    const struct passwd *const pw = getpwuid(getuid());
    snprintf(url, sizeof url, "%s%s?key=~/.cairn-test-no-such-key", env("SFTP_URL_BASE"), f->dir);
    assert_int_equal(backend_open(url, &b), CAIRN_EINVAL);
    if (pw) {
        snprintf(want, sizeof want, "key file %s/.cairn-test-no-such-key: No such file",
                 pw->pw_dir);
        assert_msg_has(want);
    }
    if (saved)
        setenv("HOME", saved, 1);
    free(saved);
    assert_null(b);
}

static void expect_refusal(const char *url, const char *needle)
{
    backend *b = NULL;
    assert_int_equal(backend_open(url, &b), CAIRN_EREMOTE);
    assert_null(b);
    if (!strstr(err_msg(), needle))
        fail_msg("'%s' not in: %s", needle, err_msg());
    print_message("[   INFO   ] %s\n", err_msg());
    assert_null(strstr(err_msg(), PASSWORD));
    assert_null(strstr(err_msg(), PASSPHRASE));
}

static void test_unknown_host(void **state)
{
    fixture *const f = *state;
    char kh[PATH_MAX], url[2 * PATH_MAX];
    snprintf(kh, sizeof kh, "%s/known_hosts.empty", f->work);
    write_text(kh, "");
    make_url(url, sizeof url, f->dir, env("SFTP_KEY"), kh);
    expect_refusal(url, "SHA256:");
    assert_non_null(strstr(err_msg(), "ssh-keyscan"));
    /* no known_hosts file at all */
    snprintf(kh, sizeof kh, "%s/known_hosts.none", f->work);
    make_url(url, sizeof url, f->dir, env("SFTP_KEY"), kh);
    expect_refusal(url, "SHA256:");
}

static void test_changed_host_key(void **state)
{
    fixture *const f = *state;
    char kh[PATH_MAX], key[PATH_MAX], url[2 * PATH_MAX], line[512];
    snprintf(key, sizeof key, "%s/other_host", f->work);
    assert_int_equal(run("ssh-keygen -q -t ed25519 -N '' -f '%s' </dev/null", key), 0);
    snprintf(kh, sizeof kh, "%s/known_hosts.changed", f->work);
    snprintf(line, sizeof line, "%s.pub", key);
    FILE *const in = fopen(line, "r");
    assert_non_null(in);
    assert_non_null(fgets(line, sizeof line, in));
    fclose(in);
    char *const comment = strchr(strchr(line, ' ') + 1, ' ');
    if (comment)
        *comment = '\0';
    FILE *const out = fopen(kh, "w");
    assert_non_null(out);
    fprintf(out, "[127.0.0.1]:%s %s\n", env("SSHD_PORT"), line);
    fclose(out);
    make_url(url, sizeof url, f->dir, env("SFTP_KEY"), kh);
    expect_refusal(url, "is not the one in");
    assert_non_null(strstr(err_msg(), "SHA256:"));
}

static void test_wrong_user_key(void **state)
{
    fixture *const f = *state;
    char key[PATH_MAX], url[2 * PATH_MAX];
    snprintf(key, sizeof key, "%s/stranger", f->work);
    assert_int_equal(run("ssh-keygen -q -t ed25519 -N '' -f '%s' </dev/null", key), 0);
    make_url(url, sizeof url, f->dir, key, env("SFTP_KNOWN_HOSTS"));
    expect_refusal(url, "refused");
    /* the server takes no passwords; the message must not show ours */
    setenv("CAIRN_SFTP_PASSWORD", PASSWORD, 1);
    expect_refusal(url, "refused");
}

/* A key with a passphrase: never a prompt; $CAIRN_SFTP_KEY_PASSPHRASE. */
static void test_encrypted_key(void **state)
{
    fixture *const f = *state;
    char key[PATH_MAX], url[2 * PATH_MAX];
    backend *b = NULL;
    if (!env("SSHD_DIR"))
        skip();
    snprintf(key, sizeof key, "%s/locked", f->work);
    assert_int_equal(run("ssh-keygen -q -t ed25519 -N '%s' -f '%s' </dev/null && "
                         "cat '%s.pub' >> '%s/authorized_keys'",
                         PASSPHRASE, key, key, env("SSHD_DIR")),
                     0);
    make_url(url, sizeof url, f->dir, key, env("SFTP_KNOWN_HOSTS"));
    expect_refusal(url, "needs a passphrase");
    setenv("CAIRN_SFTP_KEY_PASSPHRASE", "wrong", 1);
    expect_refusal(url, "cannot decrypt");
    setenv("CAIRN_SFTP_KEY_PASSPHRASE", PASSPHRASE, 1);
    assert_int_equal(backend_open(url, &b), CAIRN_OK);
    backend_close(b);
}

/* ---- speed ---- */

static void test_throughput(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], dst[PATH_MAX], name[128];
    object_name(name, sizeof name, "packs", 64);
    snprintf(src, sizeof src, "%s/bench", f->work);
    snprintf(dst, sizeof dst, "%s/bench.back", f->work);
    write_random(src, BENCH, 8);
    double t0 = now_s();
    assert_int_equal(backend_put_file(f->b, name, src), CAIRN_OK);
    const double put = now_s() - t0;
    t0 = now_s();
    assert_int_equal(backend_get_file(f->b, name, dst), CAIRN_OK);
    const double get = now_s() - t0;
    assert_same_file(src, dst);
    print_message("[   INFO   ] 64 MiB on loopback: put %.0f MB/s (upload, fsync, read-back, "
                  "rename), get %.0f MB/s\n",
                  BENCH / 1e6 / put, BENCH / 1e6 / get);
}

/* ---- faults ---- */

/* Runs "sshd.sh CMD" once an upload into dir/tmp has passed `after` bytes. */
typedef struct saboteur {
    const char *dir;
    const char *cmd;
    off_t after;
    int fired;
} saboteur;

static off_t biggest_part(const char *dir)
{
    char path[PATH_MAX];
    off_t best = -1;
    snprintf(path, sizeof path, "%s/tmp", dir);
    DIR *const d = opendir(path);
    if (!d)
        return -1;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        char p[2 * PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (strstr(e->d_name, ".part") && stat(p, &st) == 0 && st.st_size > best)
            best = st.st_size;
    }
    closedir(d);
    return best;
}

static void *saboteur_main(void *arg)
{
    saboteur *const s = arg;
    const double end = now_s() + 60;
    while (now_s() < end) {
        if (biggest_part(s->dir) >= s->after) {
            s->fired = run("bash '%s' %s '%s' >/dev/null 2>&1", env("SSHD_SCRIPT"), s->cmd,
                           env("SSHD_DIR")) == 0;
            return NULL;
        }
        usleep(1000);
    }
    return NULL;
}

/* put_file of a big file while the saboteur strikes: CAIRN_EREMOTE within
 * limit seconds and nothing under the final name. */
static void interrupted_put(fixture *f, backend *b, const char *cmd, double limit)
{
    char src[PATH_MAX], name[128];
    pthread_t th;
    saboteur s = {f->dir, cmd, 16 << 20, 0};
    object_name(name, sizeof name, "packs", 99);
    snprintf(src, sizeof src, "%s/fault", f->work);
    write_random(src, FAULT_SIZE, 9);
    assert_int_equal(pthread_create(&th, NULL, saboteur_main, &s), 0);
    const double t0 = now_s();
    const cairn_err rc = backend_put_file(b, name, src);
    const double took = now_s() - t0;
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("[   INFO   ] sshd %s during put: %s after %.1f s: %s\n", cmd, err_name(rc), took,
                  err_msg());
    assert_true(s.fired);
    assert_int_equal(rc, CAIRN_EREMOTE);
    assert_true(took < limit);
    assert_false(exists(f->dir, name));
}

static void test_server_killed_mid_upload(void **state)
{
    fixture *const f = *state;
    char name[128];
    uint64_t size;
    if (!env("SSHD_SCRIPT"))
        skip();
    interrupted_put(f, f->b, "kill", 20);
    assert_true(server("restart"));
    /* the backend reconnects by itself; the object is still absent */
    object_name(name, sizeof name, "packs", 99);
    assert_int_equal(backend_stat(f->b, name, &size), CAIRN_ENOTFOUND);
    assert_false(exists(f->dir, name));
}

/* The connection drops but the server lives: the put reconnects, starts
 * over and succeeds, and the first attempt's .part goes. */
static void test_connection_dropped_mid_upload(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], path[PATH_MAX], name[128];
    pthread_t th;
    saboteur s = {f->dir, "drop", 16 << 20, 0};
    if (!env("SSHD_SCRIPT"))
        skip();
    object_name(name, sizeof name, "packs", 98);
    snprintf(src, sizeof src, "%s/fault", f->work);
    write_random(src, FAULT_SIZE, 12);
    assert_int_equal(pthread_create(&th, NULL, saboteur_main, &s), 0);
    const cairn_err rc = backend_put_file(f->b, name, src);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(s.fired);
    if (rc != CAIRN_OK)
        fail_msg("put after a dropped connection: %s", err_msg());
    /* sent once in part, then whole */
    assert_true(f->b->bytes_sent > FAULT_SIZE);
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    assert_same_file(src, path);
    assert_int_equal(count_parts(f->dir), 0);
}

static void test_server_paused_mid_upload(void **state)
{
    fixture *const f = *state;
    char name[128];
    uint64_t size;
    backend *b = NULL;
    if (!env("SSHD_SCRIPT"))
        skip();
    setenv("CAIRN_SFTP_TIMEOUT", "2", 1);
    assert_int_equal(backend_open(f->url, &b), CAIRN_OK);
    /* one timeout, then one on reconnecting: about 4 s */
    interrupted_put(f, b, "pause", 15);
    assert_true(server("resume"));
    object_name(name, sizeof name, "packs", 99);
    assert_int_equal(backend_stat(b, name, &size), CAIRN_ENOTFOUND);
    backend_close(b);
    assert_false(exists(f->dir, name));
}

static void test_server_paused_at_connect(void **state)
{
    fixture *const f = *state;
    backend *b = NULL;
    if (!env("SSHD_SCRIPT"))
        skip();
    setenv("CAIRN_SFTP_TIMEOUT", "2", 1);
    assert_true(server("pause"));
    const double t0 = now_s();
    const cairn_err rc = backend_open(f->url, &b);
    const double took = now_s() - t0;
    assert_true(server("resume"));
    print_message("[   INFO   ] open of a paused server: %s after %.1f s: %s\n", err_name(rc), took,
                  err_msg());
    assert_int_equal(rc, CAIRN_EREMOTE);
    assert_true(took < 10);
    assert_null(b);
}

static void test_disk_full(void **state)
{
    fixture *const f = *state;
    char src[PATH_MAX], url[2 * PATH_MAX], name[128];
    backend *b = NULL;
    const char *const full = env("SFTP_FULL_DIR");
    if (!full)
        skip();
    make_url(url, sizeof url, full, env("SFTP_KEY"), env("SFTP_KNOWN_HOSTS"));
    assert_int_equal(backend_open(url, &b), CAIRN_OK);
    object_name(name, sizeof name, "packs", 5);
    snprintf(src, sizeof src, "%s/huge", f->work);
    write_random(src, 32 << 20, 10);
    assert_int_equal(backend_put_file(b, name, src), CAIRN_ENOSPC);
    print_message("[   INFO   ] %s\n", err_msg());
    assert_false(exists(full, name));
    assert_int_equal(count_parts(full), 0);
    /* the failed upload's space came back */
    write_random(src, 1 << 20, 11);
    assert_int_equal(backend_put_file(b, name, src), CAIRN_OK);
    assert_int_equal(backend_remove(b, name), CAIRN_OK);
    backend_close(b);
}

int main(void)
{
    if (!env("SFTP_URL_BASE") || !env("SFTP_KEY") || !env("SFTP_KNOWN_HOSTS") ||
        !env("SSHD_PORT")) {
        fprintf(stderr, "SKIP: no SFTP server (run tests/e2e/backend_sftp.sh)\n");
        return 77;
    }
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_small_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_things_in_the_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_on_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_folder_and_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_from_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_host_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_user_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encrypted_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        /* these stop the server and bring it back */
        cmocka_unit_test_setup_teardown(test_connection_dropped_mid_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_killed_mid_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_paused_mid_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_paused_at_connect, setup, teardown),
    };
    return cmocka_run_group_tests_name("backend_sftp", tests, NULL, NULL);
}
