/* test_chunker.c - FastCDC chunker: determinism, bounds, streaming contract,
 * average size and boundary stability across an edit; chunker_next_known's
 * choice between a parent chunk and the chunker's cut. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/chunker.h"
#include "store/keys.h"
#include "util/xxh.h"

/* Small sizes give hundreds of chunks per test, so statistical checks have
 * something to bite on; the defaults are exercised as well. */
enum {
    T_MIN = 16 * 1024,
    T_AVG = 64 * 1024,
    T_MAX = 256 * 1024,
    DATA_LEN = 64 * 1024 * 1024,
    HASH_LEN = 16,
};

typedef struct fixture {
    uint8_t *data; /* DATA_LEN bytes of deterministic random data */
} fixture;

typedef struct chunk_list {
    size_t *len;
    size_t n;
} chunk_list;

static void secret_of(uint8_t secret[32], const uint8_t tag)
{
    memset(secret, 0, 32);
    secret[0] = tag;
}

static void init_or_fail(chunker *c, const size_t min, const size_t avg, const size_t max,
                         const uint8_t tag)
{
    uint8_t secret[32];
    secret_of(secret, tag);
    assert_int_equal(chunker_init(c, min, avg, max, secret), CAIRN_OK);
}

/* Whole input in memory: the reference every other way of chunking must
 * agree with. */
static chunk_list chunk_all(const chunker *c, const uint8_t *data, const size_t n)
{
    chunk_list l = {malloc((n / c->min_size + 2) * sizeof(size_t)), 0};
    assert_non_null(l.len);
    size_t off = 0;
    while (off < n) {
        const size_t k = chunker_next(c, data + off, n - off, 1);
        assert_true(k >= 1 && k <= n - off);
        l.len[l.n++] = k;
        off += k;
    }
    assert_int_equal(chunker_next(c, data + n, 0, 1), 0);
    return l;
}

static void check_bounds(const chunker *c, const chunk_list *l, const size_t total)
{
    size_t sum = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (i + 1 < l->n) {
            assert_true(l->len[i] > c->min_size);
            assert_true(l->len[i] <= c->max_size);
        } else {
            assert_true(l->len[i] >= 1 && l->len[i] <= c->max_size);
        }
        sum += l->len[i];
    }
    assert_int_equal(sum, total);
}

static int lists_equal(const chunk_list *a, const chunk_list *b)
{
    return a->n == b->n && memcmp(a->len, b->len, a->n * sizeof(size_t)) == 0;
}

static int group_setup(void **state)
{
    fixture *f = malloc(sizeof *f);
    if (f == NULL)
        return -1;
    f->data = malloc(DATA_LEN);
    if (f->data == NULL) {
        free(f);
        return -1;
    }
    uint8_t seed[32];
    secret_of(seed, 0xd0);
    randombytes_buf_deterministic(f->data, DATA_LEN, seed);
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    free(f->data);
    free(f);
    return 0;
}

static void test_bad_params(void **state)
{
    (void)state;
    chunker c;
    uint8_t secret[32];
    secret_of(secret, 1);
    const struct {
        size_t min, avg, max;
    } bad[] = {
        {T_MIN, 3 * 16384, T_MAX}, /* avg not a power of two */
        {T_MIN, 0, T_MAX},         /* avg zero */
        {32, 128, 1024},           /* min below 64 */
        {T_AVG, T_AVG, T_MAX},     /* min == avg */
        {T_AVG + 1, T_AVG, T_MAX}, /* min > avg */
        {T_MIN, T_AVG, T_AVG},     /* max == avg */
        {T_MIN, T_AVG, T_AVG - 1}, /* max < avg */
        {T_MIN, T_MAX, T_AVG},     /* order reversed */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_set(CAIRN_OK, "%s", "");
        assert_int_equal(chunker_init(&c, bad[i].min, bad[i].avg, bad[i].max, secret),
                         CAIRN_EINVAL);
        assert_true(strlen(err_msg()) > 0);
    }
    assert_int_equal(chunker_init(&c, T_MIN, T_AVG, T_MAX, NULL), CAIRN_EINVAL);
    assert_int_equal(chunker_init(NULL, T_MIN, T_AVG, T_MAX, secret), CAIRN_EINVAL);
#if SIZE_MAX > 0xffffffffu
    /* Too many mask bits for the 64-bit hash. */
    assert_int_equal(chunker_init(&c, 64, (size_t)1 << 50, (size_t)1 << 51, secret), CAIRN_EINVAL);
#endif

    /* The smallest and the default legal settings are accepted. */
    assert_int_equal(chunker_init(&c, 64, 128, 129, secret), CAIRN_OK);
    assert_int_equal(
        chunker_init(&c, CHUNKER_MIN_DEFAULT, CHUNKER_AVG_DEFAULT, CHUNKER_MAX_DEFAULT, secret),
        CAIRN_OK);
}

static void test_deterministic(void **state)
{
    const fixture *f = *state;
    const size_t n = 8 * 1024 * 1024;
    chunker a, b, other;
    init_or_fail(&a, T_MIN, T_AVG, T_MAX, 7);
    init_or_fail(&b, T_MIN, T_AVG, T_MAX, 7);
    init_or_fail(&other, T_MIN, T_AVG, T_MAX, 8);
    assert_memory_equal(a.gear, b.gear, sizeof a.gear);

    chunk_list la = chunk_all(&a, f->data, n);
    chunk_list lb = chunk_all(&b, f->data, n);
    chunk_list lo = chunk_all(&other, f->data, n);
    assert_true(la.n > 50);
    assert_true(lists_equal(&la, &lb));
    assert_false(lists_equal(&la, &lo));

    /* Not just some boundary moved: with an independent gear table the
     * first few boundaries should essentially never all coincide. */
    size_t off_a = 0, off_o = 0, shared = 0, ia = 0, io = 0;
    while (ia < la.n && io < lo.n) {
        if (off_a == off_o && off_a != 0)
            shared++;
        if (off_a <= off_o)
            off_a += la.len[ia++];
        else
            off_o += lo.len[io++];
    }
    assert_true(shared < la.n / 4);
    free(la.len);
    free(lb.len);
    free(lo.len);
}

/* Reads the input through a buffer of exactly max_size bytes, refilled in
 * odd-sized pieces, as the backup will.  Boundaries must match chunking the
 * whole input at once, and the copied-out chunks must rebuild the input. */
static void stream_and_compare(const chunker *c, const uint8_t *data, const size_t n)
{
    uint8_t *buf = malloc(c->max_size);
    uint8_t *out = malloc(n);
    assert_non_null(buf);
    assert_non_null(out);
    const chunk_list ref = chunk_all(c, data, n);
    check_bounds(c, &ref, n);

    size_t in = 0, fill = 0, written = 0, k = 0;
    uint32_t rng = 0x9e3779b9u;
    for (;;) {
        const size_t got = chunker_next(c, buf, fill, in == n);
        assert_true(got <= fill);
        if (got == 0) {
            if (in == n)
                break;
            /* 0 is only allowed while the window could still grow. */
            assert_true(fill < c->max_size);
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            size_t want = 1 + rng % 70000;
            if (want > c->max_size - fill)
                want = c->max_size - fill;
            if (want > n - in)
                want = n - in;
            memcpy(buf + fill, data + in, want);
            fill += want;
            in += want;
            continue;
        }
        assert_true(k < ref.n);
        assert_int_equal(got, ref.len[k]);
        k++;
        memcpy(out + written, buf, got);
        written += got;
        memmove(buf, buf + got, fill - got);
        fill -= got;
    }
    assert_int_equal(k, ref.n);
    assert_int_equal(written, n);
    assert_memory_equal(out, data, n);
    free(ref.len);
    free(out);
    free(buf);
}

static void test_bounds_and_concat(void **state)
{
    const fixture *f = *state;
    chunker c;
    init_or_fail(&c, T_MIN, T_AVG, T_MAX, 1);
    stream_and_compare(&c, f->data, 16 * 1024 * 1024 + 12345);
    /* A tail shorter than min_size becomes its own final chunk. */
    stream_and_compare(&c, f->data, T_MIN / 2);

    init_or_fail(&c, CHUNKER_MIN_DEFAULT, CHUNKER_AVG_DEFAULT, CHUNKER_MAX_DEFAULT, 1);
    stream_and_compare(&c, f->data, 24 * 1024 * 1024 + 3);

    /* Constant input never hits the mask after the hash settles: every
     * chunk but the last must be a max_size hard cut or a real cut, never
     * short. */
    const size_t zn = 4 * 1024 * 1024 + 777;
    uint8_t *zero = calloc(zn, 1);
    assert_non_null(zero);
    init_or_fail(&c, T_MIN, T_AVG, T_MAX, 1);
    stream_and_compare(&c, zero, zn);
    free(zero);
}

static void check_average(const fixture *f, const size_t min, const size_t avg, const size_t max)
{
    chunker c;
    init_or_fail(&c, min, avg, max, 3);
    chunk_list l = chunk_all(&c, f->data, DATA_LEN);
    check_bounds(&c, &l, DATA_LEN);
    const double mean = (double)DATA_LEN / (double)l.n;
    print_message("avg %zu: %zu chunks, mean %.0f\n", avg, l.n, mean);
    assert_true(mean >= 0.5 * (double)avg);
    assert_true(mean <= 2.0 * (double)avg);

    /* Normalized chunking should keep most chunks away from both limits. */
    size_t at_max = 0;
    for (size_t i = 0; i + 1 < l.n; i++)
        at_max += l.len[i] == max;
    assert_true(at_max * 20 < l.n);
    free(l.len);
}

static void test_average(void **state)
{
    const fixture *f = *state;
    check_average(f, T_MIN, T_AVG, T_MAX);
    check_average(f, CHUNKER_MIN_DEFAULT, CHUNKER_AVG_DEFAULT, CHUNKER_MAX_DEFAULT);
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, HASH_LEN);
}

/* Content hashes of the chunks, sorted, so two chunkings compare as
 * multisets. */
static uint8_t *chunk_hashes(const chunk_list *l, const uint8_t *data)
{
    uint8_t *h = malloc(l->n * HASH_LEN);
    assert_non_null(h);
    size_t off = 0;
    for (size_t i = 0; i < l->n; i++) {
        assert_int_equal(
            crypto_generichash(h + i * HASH_LEN, HASH_LEN, data + off, l->len[i], NULL, 0), 0);
        off += l->len[i];
    }
    qsort(h, l->n, HASH_LEN, cmp_hash);
    return h;
}

static size_t shared_chunks(const uint8_t *a, const size_t na, const uint8_t *b, const size_t nb)
{
    size_t i = 0, j = 0, shared = 0;
    while (i < na && j < nb) {
        const int r = memcmp(a + i * HASH_LEN, b + j * HASH_LEN, HASH_LEN);
        if (r == 0) {
            shared++;
            i++;
            j++;
        } else if (r < 0) {
            i++;
        } else {
            j++;
        }
    }
    return shared;
}

static void check_stability(const fixture *f, const size_t min, const size_t avg, const size_t max,
                            const size_t at, const size_t ins)
{
    const size_t n = 32 * 1024 * 1024;
    uint8_t *edited = malloc(n + ins);
    assert_non_null(edited);
    memcpy(edited, f->data, at);
    memcpy(edited + at, f->data + DATA_LEN - ins, ins); /* bytes from elsewhere */
    memcpy(edited + at + ins, f->data + at, n - at);

    chunker c;
    init_or_fail(&c, min, avg, max, 5);
    chunk_list lo = chunk_all(&c, f->data, n);
    chunk_list le = chunk_all(&c, edited, n + ins);
    uint8_t *ho = chunk_hashes(&lo, f->data);
    uint8_t *he = chunk_hashes(&le, edited);
    const size_t shared = shared_chunks(ho, lo.n, he, le.n);
    print_message("avg %zu, insert %zu: %zu/%zu chunks shared\n", avg, ins, shared, lo.n);
    assert_true(lo.n >= 20);
    assert_true(shared + 3 >= lo.n);
    assert_true(shared + 3 >= le.n);
    free(ho);
    free(he);
    free(lo.len);
    free(le.len);
    free(edited);
}

static void test_insert_stability(void **state)
{
    const fixture *f = *state;
    check_stability(f, T_MIN, T_AVG, T_MAX, 16 * 1024 * 1024 + 4321, 5);
    check_stability(f, T_MIN, T_AVG, T_MAX, 9 * 1024 * 1024 + 1, 1000);
    check_stability(f, CHUNKER_MIN_DEFAULT, CHUNKER_AVG_DEFAULT, CHUNKER_MAX_DEFAULT,
                    16 * 1024 * 1024 + 4321, 5);
}

/* Offers a chunk start with len bytes in a buffer of exactly len bytes (so
 * the sanitizer catches any read past it) and checks the answer against the
 * cut p found with plenty of data: p if it fits, else len at eof, else 0. */
static void check_window(const chunker *c, const uint8_t *data, const size_t len, const size_t p)
{
    uint8_t *w = malloc(len ? len : 1);
    assert_non_null(w);
    memcpy(w, data, len);
    const size_t more = chunker_next(c, w, len, 0);
    const size_t eof = chunker_next(c, w, len, 1);
    assert_true(more <= len);
    assert_true(eof <= len);
    assert_int_equal(more, len >= p ? p : 0);
    assert_int_equal(eof, len >= p ? p : len);
    free(w);
}

static void test_need_more(void **state)
{
    const fixture *f = *state;
    chunker c;
    init_or_fail(&c, T_MIN, T_AVG, T_MAX, 9);

    assert_int_equal(chunker_next(&c, f->data, 0, 0), 0);
    assert_int_equal(chunker_next(&c, f->data, 0, 1), 0);
    assert_int_equal(chunker_next(&c, f->data, T_MIN, 0), 0);
    assert_int_equal(chunker_next(&c, f->data, T_MIN, 1), T_MIN);
    assert_int_equal(chunker_next(&c, f->data, 1, 1), 1);

    uint32_t rng = 12345;
    size_t real_cuts = 0;
    for (size_t s = 0; s < 100; s++) {
        const uint8_t *start = f->data + s * 613 * 1024;
        const size_t p = chunker_next(&c, start, 2 * T_MAX, 0);
        assert_true(p > T_MIN && p <= T_MAX);
        real_cuts += p < T_MAX;
        /* Around the cut and at the edges of every region. */
        const size_t lens[] = {p - 1, p,         p + 1, T_MIN,    T_MIN + 1,
                               T_AVG, T_MAX - 1, T_MAX, T_MAX + 1};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
            check_window(&c, start, lens[i], p);
        for (size_t i = 0; i < 5; i++) {
            rng = rng * 1103515245u + 12345u;
            check_window(&c, start, (rng >> 8) % (2 * T_MAX), p);
        }
    }
    assert_true(real_cuts > 50);
}

static void fprint_set(tree_fprint *fp, const uint8_t *p, size_t len, const uint8_t *secret)
{
    fp->len = (uint32_t)len;
    XXH128_canonicalFromHash((XXH128_canonical_t *)fp->hash,
                             XXH3_128bits_withSecret(p, len, secret, KEYS_FILE_SECRET));
}

/* chunker_next_known with a parent node of three chunks: d's first two
 * cuts and 100 bytes after them.  Returns the cut; *same as it set it. */
static size_t known(const chunker *c, const tree_node *old, uint64_t off, const uint8_t *p,
                    size_t avail, int eof, const uint8_t *secret, const uint8_t **same)
{
    static const chunk_plan plan = {NULL, 0, 0, 0};
    tree_fprint_cursor cur = {old, 0, 0};
    tree_fprint fp;
    const size_t cut = chunker_next_known(c, &plan, &cur, off, p, avail, eof, secret, &fp, same);
    if (cut) {
        tree_fprint want;
        fprint_set(&want, p, cut, secret);
        assert_int_equal(fp.len, cut);
        assert_memory_equal(fp.hash, want.hash, TREE_DIGEST_LEN);
    }
    return cut;
}

/* A parent chunk whose bytes are still there is taken with its ID where
 * the chunker would cut the same; the parent's last chunk only where the
 * bytes end there again; a chunk outside the chunker's sizes (cut under
 * other sizes) and changed bytes are the chunker's to cut. */
static void test_next_known(void **state)
{
    const uint8_t *const d = ((const fixture *)*state)->data;
    chunker c;
    init_or_fail(&c, T_MIN, T_AVG, T_MAX, 7);
    uint8_t secret[KEYS_FILE_SECRET];
    randombytes_buf(secret, sizeof secret);
    const size_t n = 8 * T_MAX;
    const size_t c1 = chunker_next(&c, d, n, 0), c2 = chunker_next(&c, d + c1, n - c1, 0);
    assert_true(c1 > 0 && c2 > 0);
    uint8_t ids[3][ID_LEN];
    memset(ids, 0, sizeof ids);
    ids[0][0] = 1, ids[1][0] = 2, ids[2][0] = 3;
    tree_fprint fps[3];
    fprint_set(&fps[0], d, c1, secret);
    fprint_set(&fps[1], d + c1, c2, secret);
    fprint_set(&fps[2], d + c1 + c2, 100, secret);
    tree_node old;
    memset(&old, 0, sizeof old);
    old.nchunks = 3;
    old.chunks = ids;
    old.fprints = fps;
    old.size = c1 + c2 + 100;
    const uint8_t *same;

    assert_int_equal(known(&c, &old, 0, d, n, 0, secret, &same), c1);
    assert_ptr_equal(same, ids[0]);
    assert_int_equal(known(&c, &old, c1, d + c1, n - c1, 0, secret, &same), c2);
    assert_ptr_equal(same, ids[1]);
    /* the last chunk, with more bytes after it: the chunker cuts */
    const size_t at = c1 + c2;
    assert_int_equal(known(&c, &old, at, d + at, n - at, 0, secret, &same),
                     chunker_next(&c, d + at, n - at, 0));
    assert_null(same);
    /* ... and where the file ends there again, it is taken */
    assert_int_equal(known(&c, &old, at, d + at, 100, 1, secret, &same), 100);
    assert_ptr_equal(same, ids[2]);

    /* chunks outside this chunker's sizes: below its minimum, above its maximum */
    const size_t small = T_MIN / 2, big = T_MAX + 1;
    fprint_set(&fps[0], d, small, secret);
    assert_int_equal(known(&c, &old, 0, d, n, 0, secret, &same), c1);
    assert_null(same);
    fprint_set(&fps[0], d, big, secret);
    assert_int_equal(known(&c, &old, 0, d, n, 0, secret, &same), c1);
    assert_null(same);

    /* changed bytes: the chunker's cut, no ID */
    fprint_set(&fps[0], d, c1, secret);
    uint8_t *const edited = malloc(n);
    assert_non_null(edited);
    memcpy(edited, d, n);
    edited[c1 / 2] ^= 0x40;
    assert_int_equal(known(&c, &old, 0, edited, n, 0, secret, &same),
                     chunker_next(&c, edited, n, 0));
    assert_null(same);
    free(edited);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_params),        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bounds_and_concat), cmocka_unit_test(test_average),
        cmocka_unit_test(test_insert_stability),  cmocka_unit_test(test_need_more),
        cmocka_unit_test(test_next_known),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
