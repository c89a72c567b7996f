/* test_backend_s3.c - the S3 copy-target backend against a real S3 server.
 *
 * tests/e2e/backend_s3.sh starts Ceph's radosgw on 127.0.0.1
 * (tests/servers/s3.sh) and runs this with its assignments in the
 * environment: S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, and when available S3_ENDPOINT_VHOST (virtual-host
 * style), S3_QUOTA_BUCKET (a bucket with a 1 MiB quota) and S3_SCRIPT plus
 * S3_DIR (to pause and resume the server).  Without S3_ENDPOINT the
 * program skips (exit 77).
 *
 * Each test works under its own prefix of the bucket.  The retry rules are
 * checked against a scripted HTTP server in a thread, since a real server
 * cannot be made to answer 503 on demand.  Whether the first put aborts
 * stale multipart uploads is checked by the wrapper script, which can list
 * them (the backend interface cannot). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/backend/backend.h"

enum { BIG = 40 << 20, PART = 8 << 20, MANY = 45, PAGE = 7, MANY_DEFAULT_PAGE = 1005 };

typedef struct fixture {
    char work[64]; /* local scratch folder */
    char file[PATH_MAX], back[PATH_MAX];
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

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->work, sizeof f->work, "/tmp/cairn-test-s3-XXXXXX");
    if (!mkdtemp(f->work))
        return -1;
    snprintf(f->file, sizeof f->file, "%s/up", f->work);
    snprintf(f->back, sizeof f->back, "%s/down", f->work);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    test_rmtree(f->work);
    free(f);
    unsetenv("CAIRN_S3_RETRIES");
    unsetenv("CAIRN_S3_STALL_SECS");
    unsetenv("CAIRN_S3_TIMEOUT");
    unsetenv("CAIRN_S3_LIST_PAGE");
    unsetenv("CAIRN_S3_STALE_SECS");
    return 0;
}

/* The URL of prefix in the test bucket, path style. */
static void make_url(char *out, size_t cap, const char *bucket, const char *prefix)
{
    snprintf(out, cap, "s3://%s/%s?endpoint=%s", bucket, prefix, env("S3_ENDPOINT"));
}

/* A backend for exactly this prefix of the test bucket. */
static backend *open_fixed(const char *prefix)
{
    char url[PATH_MAX];
    backend *b = NULL;
    make_url(url, sizeof url, env("S3_BUCKET"), prefix);
    if (backend_open(url, &b) != CAIRN_OK)
        fail_msg("backend_open %s: %s", url, err_msg());
    return b;
}

/* A backend for prefix below this run's own folder ("r<pid>/"), so that
 * the tests can run again against the same server. */
static backend *open_at(const char *prefix)
{
    char run[PATH_MAX];
    snprintf(run, sizeof run, "r%d/%s", (int)getpid(), prefix);
    return open_fixed(run);
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

static void assert_msg_has(const char *needle)
{
    if (!strstr(err_msg(), needle))
        fail_msg("message \"%s\" lacks \"%s\"", err_msg(), needle);
}

/* ---- listings ------------------------------------------------------------ */

typedef struct listing {
    char **names;
    uint64_t *sizes;
    size_t n, cap;
} listing;

static cairn_err collect(void *ctx, const char *name, uint64_t size)
{
    listing *const l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->names = realloc(l->names, l->cap * sizeof *l->names);
        l->sizes = realloc(l->sizes, l->cap * sizeof *l->sizes);
        assert_non_null(l->names);
        assert_non_null(l->sizes);
    }
    l->names[l->n] = strdup(name);
    assert_non_null(l->names[l->n]);
    l->sizes[l->n++] = size;
    return CAIRN_OK;
}

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->sizes);
    memset(l, 0, sizeof *l);
}

/* The index of name in l, or -1. */
static long listing_find(const listing *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return (long)i;
    return -1;
}

static void list_into(backend *b, const char *prefix, listing *l)
{
    if (backend_list(b, prefix, collect, l) != CAIRN_OK)
        fail_msg("list %s: %s", prefix, err_msg());
}

/* ---- against the real server --------------------------------------------- */

static void put_get_check(fixture *f, backend *b, const char *name, size_t size, uint32_t seed)
{
    uint64_t got = 0;
    write_random(f->file, size, seed);
    if (backend_put_file(b, name, f->file) != CAIRN_OK)
        fail_msg("put %s: %s", name, err_msg());
    assert_int_equal(backend_stat(b, name, &got), CAIRN_OK);
    assert_int_equal(got, size);
    unlink(f->back);
    if (backend_get_file(b, name, f->back) != CAIRN_OK)
        fail_msg("get %s: %s", name, err_msg());
    assert_same_file(f->file, f->back);
}

static void test_roundtrip(void **state)
{
    fixture *const f = *state;
    backend *const b = open_at("t-roundtrip");
    static const size_t sizes[] = {0, 1, 1000, (1 << 20) + 7};
    static const char *const names[] = {"packs/00/empty", "packs/00/one", "config",
                                        "snapshots/mib"};
    /* characters that need %-escapes in the URL and entities in the XML */
    static const char odd[] = "odd/a b&c+d=e%f~g<h>'i\"j\xc3\xa9.txt";
    uint64_t want_sent = 0;
    for (size_t i = 0; i < 4; i++) {
        put_get_check(f, b, names[i], sizes[i], (uint32_t)i);
        want_sent += sizes[i];
    }
    put_get_check(f, b, odd, 4321, 99);
    want_sent += 4321;
    assert_int_equal(b->bytes_sent, want_sent);
    assert_int_equal(b->bytes_received, want_sent);

    listing l = {0};
    list_into(b, "", &l);
    assert_int_equal(l.n, 5);
    for (size_t i = 0; i < 4; i++) {
        const long at = listing_find(&l, names[i]);
        assert_true(at >= 0);
        assert_int_equal(l.sizes[at], sizes[i]);
    }
    assert_true(listing_find(&l, odd) >= 0);
    listing_free(&l);
    list_into(b, "packs/", &l);
    assert_int_equal(l.n, 2);
    listing_free(&l);
    list_into(b, "nothing/", &l);
    assert_int_equal(l.n, 0);
    listing_free(&l);

    /* put again (an interrupted copy's second try): same object */
    put_get_check(f, b, "config", 1000, 2);
    backend_close(b);
}

static void test_list_pages(void **state)
{
    (void)state;
    char name[64], page[16];
    listing l = {0};
    snprintf(page, sizeof page, "%d", PAGE);
    setenv("CAIRN_S3_LIST_PAGE", page, 1);
    backend *const b = open_at("t-pages");
    backend *const other = open_at("t-pagesx"); /* shares "t-pages" as a string prefix */
    fixture *const f = *state;
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof name, "many/%03d", i);
        write_random(f->file, (size_t)i, (uint32_t)i);
        assert_int_equal(backend_put_file(b, name, f->file), CAIRN_OK);
    }
    assert_int_equal(backend_put_file(other, "many/999", f->file), CAIRN_OK);
    assert_int_equal(backend_put_file(b, "top", f->file), CAIRN_OK);
    list_into(b, "many/", &l);
    assert_int_equal(l.n, MANY); /* over 6 pages of 7 */
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof name, "many/%03d", i);
        const long at = listing_find(&l, name);
        assert_true(at >= 0);
        assert_int_equal(l.sizes[at], i);
    }
    listing_free(&l);
    list_into(b, "", &l);
    assert_int_equal(l.n, MANY + 1);
    assert_true(listing_find(&l, "many/999") < 0);
    listing_free(&l);
    backend_close(other);
    backend_close(b);
}

/* S3's own page size (1000) and continuation tokens, without the knob. */
static void test_list_over_1000(void **state)
{
    fixture *const f = *state;
    backend *const b = open_at("t-thousand");
    char name[64];
    listing l = {0};
    write_random(f->file, 10, 7);
    const double t0 = now_s();
    for (int i = 0; i < MANY_DEFAULT_PAGE; i++) {
        snprintf(name, sizeof name, "snapshots/%04d", i);
        if (backend_put_file(b, name, f->file) != CAIRN_OK)
            fail_msg("put %s: %s", name, err_msg());
    }
    const double t1 = now_s();
    list_into(b, "snapshots/", &l);
    assert_int_equal(l.n, MANY_DEFAULT_PAGE);
    for (int i = 0; i < MANY_DEFAULT_PAGE; i++) {
        snprintf(name, sizeof name, "snapshots/%04d", i);
        assert_true(listing_find(&l, name) >= 0);
    }
    fprintf(stderr, "  %d puts in %.1f s, listed in %.2f s\n", MANY_DEFAULT_PAGE, t1 - t0,
            now_s() - t1);
    listing_free(&l);
    backend_close(b);
}

static void test_multipart(void **state)
{
    fixture *const f = *state;
    backend *const b = open_at("t-multipart");
    uint64_t got = 0;
    listing l = {0};
    write_random(f->file, BIG, 42);
    double t0 = now_s();
    if (backend_put_file(b, "packs/ab/big", f->file) != CAIRN_OK)
        fail_msg("put: %s", err_msg());
    const double up = now_s() - t0;
    assert_int_equal(b->bytes_sent, BIG); /* no retries against a healthy server */
    assert_int_equal(backend_stat(b, "packs/ab/big", &got), CAIRN_OK);
    assert_int_equal(got, BIG);
    t0 = now_s();
    if (backend_get_file(b, "packs/ab/big", f->back) != CAIRN_OK)
        fail_msg("get: %s", err_msg());
    const double down = now_s() - t0;
    assert_int_equal(b->bytes_received, BIG);
    assert_same_file(f->file, f->back);
    list_into(b, "packs/", &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.sizes[0], BIG);
    listing_free(&l);
    fprintf(stderr, "  40 MiB: up %.0f MiB/s (multipart), down %.0f MiB/s\n", 40 / up, 40 / down);

    /* just over the single-PUT size: two parts, the second one small */
    put_get_check(f, b, "packs/ab/edge", (16 << 20) + 1, 43);
    backend_close(b);
}

static void test_remove_and_missing(void **state)
{
    fixture *const f = *state;
    backend *const b = open_at("t-remove");
    uint64_t got = 0;
    put_get_check(f, b, "keys/0123", 100, 5);
    assert_int_equal(backend_remove(b, "keys/0123"), CAIRN_OK);
    assert_int_equal(backend_stat(b, "keys/0123", &got), CAIRN_ENOTFOUND);
    assert_msg_has("keys/0123");
    assert_msg_has("s3://");
    assert_int_equal(backend_remove(b, "keys/0123"), CAIRN_OK); /* absent is fine */
    unlink(f->back);
    assert_int_equal(backend_get_file(b, "keys/0123", f->back), CAIRN_ENOTFOUND);
    assert_int_equal(access(f->back, F_OK), -1); /* no empty file left behind */
    listing l = {0};
    list_into(b, "", &l);
    assert_int_equal(l.n, 0);
    listing_free(&l);
    backend_close(b);
}

static void test_wrong_secret(void **state)
{
    fixture *const f = *state;
    char *const real = strdup(env("AWS_SECRET_ACCESS_KEY"));
    static const char wrong[] = "wrong-Secret-Zq7-never-shown";
    uint64_t got = 0;
    listing l = {0};
    assert_non_null(real);
    setenv("AWS_SECRET_ACCESS_KEY", wrong, 1);
    backend *const b = open_at("t-wrong");
    setenv("AWS_SECRET_ACCESS_KEY", real, 1);
    write_random(f->file, 100, 1);
    const double t0 = now_s();
    assert_int_equal(backend_put_file(b, "config", f->file), CAIRN_EREMOTE);
    assert_true(now_s() - t0 < 2); /* a refusal is final: no retries */
    assert_msg_has("SignatureDoesNotMatch");
    assert_msg_has(env("S3_BUCKET"));
    assert_null(strstr(err_msg(), wrong));
    assert_null(strstr(err_msg(), real));
    assert_int_equal(backend_list(b, "", collect, &l), CAIRN_EREMOTE);
    assert_msg_has("SignatureDoesNotMatch");
    assert_null(strstr(err_msg(), wrong));
    assert_int_equal(backend_stat(b, "config", &got), CAIRN_EREMOTE);
    assert_msg_has("403");
    assert_null(strstr(err_msg(), wrong));
    backend_close(b);
    listing_free(&l);

    /* a wrong access key id */
    char *const ak = strdup(env("AWS_ACCESS_KEY_ID"));
    assert_non_null(ak);
    setenv("AWS_ACCESS_KEY_ID", "AKNOSUCHKEY", 1);
    backend *const c = open_at("t-wrong");
    setenv("AWS_ACCESS_KEY_ID", ak, 1);
    free(ak);
    assert_int_equal(backend_put_file(c, "config", f->file), CAIRN_EREMOTE);
    assert_msg_has("InvalidAccessKeyId");
    assert_null(strstr(err_msg(), real));
    backend_close(c);
    free(real);
}

/* A port that nothing listens on. */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_unreachable(void **state)
{
    fixture *const f = *state;
    char url[256];
    backend *b = NULL;
    uint64_t got = 0;
    snprintf(url, sizeof url, "s3://%s/t-unreachable?endpoint=http://127.0.0.1:%d",
             env("S3_BUCKET"), closed_port());
    assert_int_equal(backend_open(url, &b), CAIRN_OK); /* opening does no I/O */
    write_random(f->file, 100, 1);
    double t0 = now_s();
    assert_int_equal(backend_put_file(b, "config", f->file), CAIRN_EREMOTE);
    const double took = now_s() - t0;
    assert_true(took < 8);   /* 5 attempts: 0.2 + 0.4 + 0.8 + 1.6 s at most */
    assert_true(took > 0.3); /* but it did retry */
    assert_msg_has(url);
    assert_msg_has("5 attempts");
    t0 = now_s();
    assert_int_equal(backend_stat(b, "config", &got), CAIRN_EREMOTE);
    assert_true(now_s() - t0 < 8);
    backend_close(b);
    fprintf(stderr, "  unreachable: CAIRN_EREMOTE after %.1f s\n", took);

    /* a host that does not resolve */
    setenv("CAIRN_S3_RETRIES", "1", 1);
    assert_int_equal(backend_open("s3://b/p?endpoint=http://no-such-host.invalid:9", &b), CAIRN_OK);
    assert_int_equal(backend_stat(b, "config", &got), CAIRN_EREMOTE);
    assert_msg_has("no-such-host.invalid");
    backend_close(b);
}

static int s3_script(const char *verb)
{
    char cmd[PATH_MAX * 2 + 64];
    snprintf(cmd, sizeof cmd, "bash '%s' %s '%s' >/dev/null", env("S3_SCRIPT"), verb,
             env("S3_DIR"));
    return system(cmd);
}

/* A server that stops answering (SIGSTOP: the kernel still accepts
 * connections) is noticed by the low-speed limit, and the backend works
 * again once the server does. */
static void test_server_paused(void **state)
{
    fixture *const f = *state;
    uint64_t got = 0;
    if (!env("S3_SCRIPT") || !env("S3_DIR")) {
        skip();
        return;
    }
    backend *const b = open_at("t-paused");
    put_get_check(f, b, "config", 1000, 3); /* a live connection to reuse */
    setenv("CAIRN_S3_STALL_SECS", "2", 1);
    setenv("CAIRN_S3_RETRIES", "2", 1);
    backend *const c = open_at("t-paused");
    assert_int_equal(backend_stat(c, "config", &got), CAIRN_OK);
    assert_int_equal(s3_script("pause"), 0);
    const double t0 = now_s();
    const cairn_err rc = backend_stat(c, "config", &got);
    const double took = now_s() - t0;
    assert_int_equal(rc, CAIRN_EREMOTE);
    assert_msg_has("2 attempts");
    /* the server already stalled: the next request gives up after one
     * stall, not two (a copy against a dead server took 9 timeouts) */
    const cairn_err rc2 = backend_put_file(c, "other", f->file);
    assert_int_equal(rc2, CAIRN_EREMOTE);
    assert_msg_has("1 attempts");
    assert_int_equal(s3_script("resume"), 0);
    assert_true(took < 10);
    assert_int_equal(backend_stat(c, "config", &got), CAIRN_OK);
    assert_int_equal(got, 1000);
    assert_int_equal(backend_put_file(b, "other", f->file), CAIRN_OK);
    fprintf(stderr, "  paused server: CAIRN_EREMOTE after %.1f s\n", took);
    backend_close(c);
    backend_close(b);
}

/* $CAIRN_S3_TIMEOUT is the S3 twin of $CAIRN_SFTP_TIMEOUT (issue 16): a
 * server that stops answering is given up after about twice the timeout,
 * with the default number of attempts (5 x 30 s, about 158 s, before). */
static void test_timeout_setting(void **state)
{
    fixture *const f = *state;
    uint64_t got = 0;
    if (!env("S3_SCRIPT") || !env("S3_DIR")) {
        skip();
        return;
    }
    backend *const b = open_at("t-timeout");
    put_get_check(f, b, "config", 1000, 3);
    setenv("CAIRN_S3_TIMEOUT", "2", 1);
    backend *const c = open_at("t-timeout");
    assert_int_equal(backend_stat(c, "config", &got), CAIRN_OK);
    assert_int_equal(s3_script("pause"), 0);
    const double t0 = now_s();
    const cairn_err rc = backend_stat(c, "config", &got);
    const double took = now_s() - t0;
    assert_int_equal(s3_script("resume"), 0);
    assert_int_equal(rc, CAIRN_EREMOTE);
    assert_true(took < 10);
    fprintf(stderr, "  paused server, CAIRN_S3_TIMEOUT=2: CAIRN_EREMOTE after %.1f s\n", took);
    assert_int_equal(backend_stat(c, "config", &got), CAIRN_OK);
    backend_close(c);
    backend_close(b);
}

static void test_virtual_host(void **state)
{
    fixture *const f = *state;
    char url[PATH_MAX];
    backend *b = NULL;
    listing l = {0};
    if (!env("S3_ENDPOINT_VHOST")) {
        skip();
        return;
    }
    snprintf(url, sizeof url, "s3://%s/r%d/t-vhost/sub/?endpoint=%s&style=virtual&region=us-east-1",
             env("S3_BUCKET"), (int)getpid(), env("S3_ENDPOINT_VHOST"));
    if (backend_open(url, &b) != CAIRN_OK)
        fail_msg("open %s: %s", url, err_msg());
    put_get_check(f, b, "packs/cd/x", 5000, 11);
    put_get_check(f, b, "packs/cd/big", (16 << 20) + 4096, 12);
    list_into(b, "", &l);
    assert_int_equal(l.n, 2);
    listing_free(&l);
    assert_int_equal(backend_remove(b, "packs/cd/x"), CAIRN_OK);
    backend_close(b);

    /* the same objects, path style */
    b = open_at("t-vhost/sub");
    list_into(b, "", &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.names[0], "packs/cd/big");
    listing_free(&l);
    backend_close(b);
}

static void test_quota_full(void **state)
{
    fixture *const f = *state;
    char url[PATH_MAX];
    backend *b = NULL;
    uint64_t got = 0;
    if (!env("S3_QUOTA_BUCKET")) {
        skip();
        return;
    }
    make_url(url, sizeof url, env("S3_QUOTA_BUCKET"), "t-full");
    assert_int_equal(backend_open(url, &b), CAIRN_OK);
    write_random(f->file, 2 << 20, 4);
    assert_int_equal(backend_put_file(b, "packs/ef/x", f->file), CAIRN_ENOSPC);
    assert_msg_has("QuotaExceeded");
    assert_msg_has("packs/ef/x");
    write_random(f->file, 20 << 20, 4);
    assert_int_equal(backend_put_file(b, "packs/ef/y", f->file), CAIRN_ENOSPC);
    assert_int_equal(backend_stat(b, "packs/ef/x", &got), CAIRN_ENOTFOUND);
    assert_int_equal(backend_stat(b, "packs/ef/y", &got), CAIRN_ENOTFOUND);
    write_random(f->file, 1000, 4); /* what fits still goes */
    assert_int_equal(backend_put_file(b, "config", f->file), CAIRN_OK);
    backend_close(b);
}

/* Incomplete multipart uploads: the wrapper started one under stale/ and
 * one under fresh/; the first put under stale/ (with a zero age) aborts it,
 * the one under fresh/ (with the default hour) does not.  The wrapper
 * checks what is left. */
static void test_stale_uploads(void **state)
{
    fixture *const f = *state;
    write_random(f->file, 10, 1);
    backend *const fresh = open_fixed("fresh");
    assert_int_equal(backend_put_file(fresh, "config", f->file), CAIRN_OK);
    backend_close(fresh);
    setenv("CAIRN_S3_STALE_SECS", "0", 1);
    backend *const stale = open_fixed("stale");
    assert_int_equal(backend_put_file(stale, "config", f->file), CAIRN_OK);
    backend_close(stale);
}

/* Bytes the process has read (from /proc/PID/io), or -1. */
static long long read_bytes(pid_t pid)
{
    char path[64], line[128];
    long long n = -1;
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *const fp = fopen(path, "r");
    if (!fp)
        return -1;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "rchar: %lld", &n) == 1)
            break;
    fclose(fp);
    return n;
}

/* A copy killed in the middle of a multipart upload leaves nothing under
 * the object's name; the next copy's first put aborts the leftover (the
 * wrapper checks that none is left under killed/). */
static void test_killed_upload(void **state)
{
    fixture *const f = *state;
    uint64_t got = 0;
    write_random(f->file, BIG, 8);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        backend *b = NULL;
        char url[PATH_MAX];
        make_url(url, sizeof url, env("S3_BUCKET"), "killed");
        if (backend_open(url, &b) != CAIRN_OK)
            _exit(2);
        if (backend_put_file(b, "packs/ee/big", f->file) != CAIRN_OK)
            fprintf(stderr, "  the put to kill failed: %s\n", err_msg());
        _exit(1);
    }
    /* each part is read twice (hash, send): past 3 parts' worth the
     * upload has started, and it ends only after 2 * BIG */
    long long rd = 0;
    for (int i = 0; i < 6000 && rd < 3 * PART; i++) {
        usleep(5000);
        rd = read_bytes(pid);
        if (rd < 0)
            break;
    }
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status))
        fail_msg("the put to kill ended by itself (exit %d)", WEXITSTATUS(status));
    assert_true(rd >= 3 * PART && rd < 2LL * BIG);
    backend *const b = open_fixed("killed");
    assert_int_equal(backend_stat(b, "packs/ee/big", &got), CAIRN_ENOTFOUND);
    listing l = {0};
    list_into(b, "packs/", &l);
    assert_int_equal(l.n, 0);
    listing_free(&l);
    backend_close(b);
    setenv("CAIRN_S3_STALE_SECS", "0", 1);
    backend *const again = open_fixed("killed");
    write_random(f->file, 10, 1);
    assert_int_equal(backend_put_file(again, "config", f->file), CAIRN_OK);
    backend_close(again);
}

static void test_bad_urls(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "s3://",
        "s3:///prefix",
        "s3://bucket/p?style=sideways",
        "s3://bucket/p?endpoint=ftp://host",
        "s3://bucket/p?endpoint=http://user@host:9000",
        "s3://bucket/p?endpoint=http://host:9000/path",
        "s3://bucket/p?color=blue",
        "s3://AKID:sekrit@bucket/p",
        "s3://bucket/p?endpoint=http://AKID:sekrit@127.0.0.1:9000",
        "s3://bucket/p?region=us-east-1&region=eu-west-1",
        "s3://bucket/p?region=US East",
        "s3://bucket/p?endpoint=",
        "s3://bucket/p%zz",
        "s3://bucket/a//b",
        "s3://Bad_Bucket/p",                                          /* virtual by default */
        "s3://bucket/p?endpoint=http://127.0.0.1:9000&style=virtual", /* an IP address */
    };
    backend *b = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (backend_open(bad[i], &b) != CAIRN_EINVAL)
            fail_msg("%s opened (or failed otherwise): %s", bad[i], err_msg());
        assert_null(b);
        assert_true(strlen(err_msg()) > 0);
        assert_null(strstr(err_msg(), "sekrit"));
    }
    /* fine ones: no prefix, path style with odd bucket names, AWS defaults */
    static const char *const good[] = {
        "s3://bucket",
        "s3://bucket/",
        "s3://Bad_Bucket/p?endpoint=http://127.0.0.1:9000",
        "s3://bucket/a/b/?region=eu-west-3",
        "s3://bucket/p?endpoint=https%3A%2F%2Fs3.example.com&style=virtual",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (backend_open(good[i], &b) != CAIRN_OK)
            fail_msg("%s: %s", good[i], err_msg());
        backend_close(b);
    }

    /* credentials come from the environment only */
    char *const ak = strdup(env("AWS_ACCESS_KEY_ID"));
    assert_non_null(ak);
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_int_equal(backend_open("s3://bucket/p", &b), CAIRN_EINVAL);
    assert_msg_has("AWS_ACCESS_KEY_ID");
    setenv("AWS_ACCESS_KEY_ID", ak, 1);
    setenv("CAIRN_S3_RETRIES", "zero", 1);
    assert_int_equal(backend_open("s3://bucket/p", &b), CAIRN_EINVAL);
    free(ak);
}

/* ---- against a scripted HTTP server -------------------------------------- */

typedef struct fake {
    int fd, port;
    const char *const *answers; /* request i gets answers[min(i, n - 1)] */
    int n;
    int requests;
    int stop;
    pthread_t th;
} fake;

/* Reads one request (headers and a Content-Length body); 0 at EOF. */
static int fake_read_request(int c)
{
    char buf[65536];
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n + 1 >= sizeof buf)
            return 0;
        const ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            return 0;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    long body = 0;
    for (char *p = buf; p && p < end; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL)
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            body = strtol(p + 15, NULL, 10);
    long have = (long)(buf + n - (end + 4));
    while (have < body) {
        const ssize_t r = read(c, buf, sizeof buf);
        if (r <= 0)
            return 0;
        have += r;
    }
    return 1;
}

static void *fake_main(void *arg)
{
    fake *const f = arg;
    while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        const int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (fake_read_request(c)) {
            const int i = __atomic_fetch_add(&f->requests, 1, __ATOMIC_ACQ_REL);
            const char *const a = f->answers[i < f->n ? i : f->n - 1];
            if (write(c, a, strlen(a)) < 0) {
                /* the client gave up: fine */
            }
        }
        close(c);
    }
    return NULL;
}

static void fake_start(fake *f, const char *const *answers, int n)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    memset(f, 0, sizeof *f);
    f->answers = answers;
    f->n = n;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->fd >= 0);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->fd, 16), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static int fake_stop(fake *f)
{
    __atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
    pthread_join(f->th, NULL);
    close(f->fd);
    return __atomic_load_n(&f->requests, __ATOMIC_ACQUIRE);
}

static backend *fake_open(const fake *f)
{
    char url[128];
    backend *b = NULL;
    snprintf(url, sizeof url, "s3://bucket/pre?endpoint=http://127.0.0.1:%d", f->port);
    assert_int_equal(backend_open(url, &b), CAIRN_OK);
    return b;
}

/* An HTTP answer with an XML body, in a static buffer of its own. */
static const char *answer(char *buf, size_t cap, const char *status, const char *xml)
{
    snprintf(buf, cap,
             "HTTP/1.1 %s\r\nContent-Type: application/xml\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             status, strlen(xml), xml);
    return buf;
}

static void test_retry_rules(void **state)
{
    fixture *const f = *state;
    static char slow[512], denied[512], internal[512], listed[1024], no_uploads[512], full[512];
    const char *const slow_a =
        answer(slow, sizeof slow, "503 Slow Down",
               "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Reduce your "
               "request rate.</Message></Error>");
    const char *const denied_a =
        answer(denied, sizeof denied, "403 Forbidden", "<Error><Code>AccessDenied</Code></Error>");
    const char *const internal_a = answer(internal, sizeof internal, "500 Internal Server Error",
                                          "<Error><Code>InternalError</Code></Error>");
    const char *const listed_a =
        answer(listed, sizeof listed, "200 OK",
               "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>pre/a&amp;b</Key>"
               "<Size>5</Size></Contents><Contents><Key>pre/x&#x4e2d;&#20013;&lt;</Key><Size>"
               "18446744073709551615</Size></Contents><Contents><Key>prefix-not-ours</Key>"
               "<Size>1</Size></Contents></ListBucketResult>");
    const char *const no_uploads_a =
        answer(no_uploads, sizeof no_uploads, "200 OK",
               "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
               "</ListMultipartUploadsResult>");
    const char *const full_a = answer(full, sizeof full, "507 Insufficient Storage", "");
    static const char truncated[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: "
                                    "close\r\n\r\nonly fifty bytes of the hundred promised.......";
    fake fk;
    listing l = {0};
    backend *b;
    double t0;

    /* 503 SlowDown: every attempt, then the code in the message */
    setenv("CAIRN_S3_RETRIES", "3", 1);
    const char *const a1[] = {slow_a};
    fake_start(&fk, a1, 1);
    b = fake_open(&fk);
    t0 = now_s();
    assert_int_equal(backend_list(b, "", collect, &l), CAIRN_EREMOTE);
    assert_true(now_s() - t0 >= 0.3); /* backed off twice: >= 0.1 + 0.2 s */
    backend_close(b);
    assert_int_equal(fake_stop(&fk), 3);
    assert_msg_has("SlowDown");
    assert_msg_has("3 attempts");

    /* 403: final at once */
    const char *const a2[] = {denied_a};
    fake_start(&fk, a2, 1);
    b = fake_open(&fk);
    assert_int_equal(backend_list(b, "", collect, &l), CAIRN_EREMOTE);
    backend_close(b);
    assert_int_equal(fake_stop(&fk), 1);
    assert_msg_has("AccessDenied");

    /* two 500s, then the answer: entities decoded, names made relative */
    const char *const a3[] = {internal_a, slow_a, listed_a};
    fake_start(&fk, a3, 3);
    b = fake_open(&fk);
    if (backend_list(b, "", collect, &l) != CAIRN_OK)
        fail_msg("list: %s", err_msg());
    backend_close(b);
    assert_int_equal(fake_stop(&fk), 3);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[0], "a&b");
    assert_int_equal(l.sizes[0], 5);
    assert_string_equal(l.names[1], "x\xe4\xb8\xad\xe4\xb8\xad<");
    assert_true(l.sizes[1] == UINT64_MAX);
    listing_free(&l);

    /* 507: a full target */
    const char *const a4[] = {no_uploads_a, full_a};
    fake_start(&fk, a4, 2);
    b = fake_open(&fk);
    write_random(f->file, 3000, 1);
    assert_int_equal(backend_put_file(b, "config", f->file), CAIRN_ENOSPC);
    backend_close(b);
    assert_int_equal(fake_stop(&fk), 2);
    assert_msg_has("507");

    /* a body cut short: retried, then an error, and no file left */
    setenv("CAIRN_S3_RETRIES", "2", 1);
    const char *const a5[] = {truncated};
    fake_start(&fk, a5, 1);
    b = fake_open(&fk);
    assert_int_equal(backend_get_file(b, "config", f->back), CAIRN_EREMOTE);
    assert_int_equal(access(f->back, F_OK), -1);
    /* what came over the wire, both times */
    assert_int_equal(b->bytes_received, 2 * strlen(strstr(truncated, "\r\n\r\n") + 4));
    backend_close(b);
    assert_int_equal(fake_stop(&fk), 2);
    assert_msg_has("2 attempts");

    /* a malformed listing is an error, not a crash or a short list */
    static char bad[512];
    const char *const a6[] = {answer(bad, sizeof bad, "200 OK",
                                     "<ListBucketResult><Contents><Key>pre/a&bogus;</Key>"
                                     "<Size>1</Size></Contents></ListBucketResult>")};
    fake_start(&fk, a6, 1);
    b = fake_open(&fk);
    assert_int_equal(backend_list(b, "", collect, &l), CAIRN_EREMOTE);
    backend_close(b);
    fake_stop(&fk);
    assert_msg_has("malformed");
    assert_int_equal(l.n, 0);
}

int main(void)
{
    if (!env("S3_ENDPOINT") || !env("S3_BUCKET") || !env("AWS_ACCESS_KEY_ID") ||
        !env("AWS_SECRET_ACCESS_KEY")) {
        fprintf(stderr, "SKIP: no S3 server (run tests/e2e/backend_s3.sh)\n");
        return 77;
    }
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_over_1000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_virtual_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_paused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_setting, setup, teardown),
    };
    return cmocka_run_group_tests_name("backend_s3", tests, NULL, NULL);
}
