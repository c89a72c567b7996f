/* test_index.c - the LMDB chunk index: add packs, look chunks up, remove a
 * pack with exactly its chunks, list packs, clear, and the store_id check
 * that clears an index left by another store; a pack recorded again counts
 * its chunks once; a big index (packs of 60,000 chunks, each put in many
 * transactions) whose mapped pages are dropped from the process as it grows
 * still reads back exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/index.h"

enum { NA = 500, NB = 300 };

typedef struct fixture {
    char dir[64];
    uint8_t store_id[16];
    chunk_index *ix;
    uint8_t pack_a[PACK_ID_LEN], pack_b[PACK_ID_LEN], pack_c[PACK_ID_LEN];
    pack_entry a[NA], b[NB];
} fixture;

static void make_entries(pack_entry *e, size_t n, uint8_t tag)
{
    uint32_t off = 8;
    for (size_t i = 0; i < n; i++) {
        memset(&e[i], 0, sizeof e[i]);
        randombytes_buf(e[i].id, ID_LEN);
        e[i].id[ID_LEN - 1] = tag;
        e[i].flags = (uint8_t)(i % 4);
        e[i].offset = off;
        e[i].stored_len = (uint32_t)(100 + i);
        e[i].raw_len = (uint32_t)(1000 + i * 3);
        off += e[i].stored_len;
    }
}

static int setup(void **state)
{
    fixture *const f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-index-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    randombytes_buf(f->store_id, sizeof f->store_id);
    randombytes_buf(f->pack_a, PACK_ID_LEN);
    randombytes_buf(f->pack_b, PACK_ID_LEN);
    randombytes_buf(f->pack_c, PACK_ID_LEN);
    make_entries(f->a, NA, 0xaa);
    make_entries(f->b, NB, 0xbb);
    if (index_open(f->dir, f->store_id, &f->ix) != CAIRN_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *const f = *state;
    index_close(f->ix);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

static void assert_found(chunk_index *ix, const uint8_t pack[PACK_ID_LEN], const pack_entry *e)
{
    index_loc loc;
    memset(&loc, 0, sizeof loc);
    assert_int_equal(index_lookup(ix, e->id, &loc), CAIRN_OK);
    assert_memory_equal(loc.pack, pack, PACK_ID_LEN);
    assert_int_equal(loc.offset, e->offset);
    assert_int_equal(loc.stored_len, e->stored_len);
    assert_int_equal(loc.raw_len, e->raw_len);
    assert_int_equal(loc.flags, e->flags);
}

static void assert_missing(chunk_index *ix, const uint8_t id[ID_LEN])
{
    index_loc loc;
    assert_int_equal(index_lookup(ix, id, &loc), CAIRN_ENOTFOUND);
}

static void assert_counts(chunk_index *ix, uint64_t chunks, uint64_t packs)
{
    uint64_t c = 12345, p = 12345;
    assert_int_equal(index_count(ix, &c, &p), CAIRN_OK);
    assert_int_equal(c, chunks);
    assert_int_equal(p, packs);
}

static int has(chunk_index *ix, const uint8_t pack[PACK_ID_LEN])
{
    int h = -1;
    assert_int_equal(index_has_pack(ix, pack, &h), CAIRN_OK);
    assert_true(h == 0 || h == 1);
    return h;
}

typedef struct pack_list {
    uint8_t ids[8][PACK_ID_LEN];
    uint64_t sizes[8];
    int n;
    int stop_after; /* return an error after this many calls (0: never) */
} pack_list;

static cairn_err collect(void *ctx, const uint8_t pack[PACK_ID_LEN], uint64_t size)
{
    pack_list *const l = ctx;
    if (l->n >= 8)
        return CAIRN_EINVAL;
    memcpy(l->ids[l->n], pack, PACK_ID_LEN);
    l->sizes[l->n] = size;
    l->n++;
    if (l->stop_after && l->n >= l->stop_after)
        return CAIRN_EINTERRUPTED;
    return CAIRN_OK;
}

static int list_has(const pack_list *l, const uint8_t pack[PACK_ID_LEN], uint64_t size)
{
    for (int i = 0; i < l->n; i++)
        if (memcmp(l->ids[i], pack, PACK_ID_LEN) == 0)
            return l->sizes[i] == size;
    return 0;
}

static void test_empty(void **state)
{
    fixture *const f = *state;
    assert_counts(f->ix, 0, 0);
    assert_missing(f->ix, f->a[0].id);
    assert_false(has(f->ix, f->pack_a));
    pack_list l = {.n = 0};
    assert_int_equal(index_each_pack(f->ix, collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 0);
    /* removing an unknown pack is harmless */
    assert_int_equal(index_remove_pack(f->ix, f->pack_a, NULL, 0), CAIRN_OK);
    assert_counts(f->ix, 0, 0);
}

static void test_add_and_lookup(void **state)
{
    fixture *const f = *state;
    assert_int_equal(index_add_pack(f->ix, f->pack_a, 111111, f->a, NA), CAIRN_OK);
    assert_int_equal(index_add_pack(f->ix, f->pack_b, 222222, f->b, NB), CAIRN_OK);
    assert_counts(f->ix, NA + NB, 2);
    for (size_t i = 0; i < NA; i++)
        assert_found(f->ix, f->pack_a, &f->a[i]);
    for (size_t i = 0; i < NB; i++)
        assert_found(f->ix, f->pack_b, &f->b[i]);
    uint8_t other[ID_LEN];
    memcpy(other, f->a[0].id, ID_LEN);
    other[0] ^= 1;
    assert_missing(f->ix, other);
    assert_true(has(f->ix, f->pack_a));
    assert_true(has(f->ix, f->pack_b));
    assert_false(has(f->ix, f->pack_c));

    pack_list l = {.n = 0};
    assert_int_equal(index_each_pack(f->ix, collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 2);
    assert_true(list_has(&l, f->pack_a, 111111));
    assert_true(list_has(&l, f->pack_b, 222222));

    /* an error from the callback stops the walk and is returned */
    pack_list stop = {.n = 0, .stop_after = 1};
    assert_int_equal(index_each_pack(f->ix, collect, &stop), CAIRN_EINTERRUPTED);
    assert_int_equal(stop.n, 1);

    /* a pack with no chunks is recorded too */
    assert_int_equal(index_add_pack(f->ix, f->pack_c, 65, NULL, 0), CAIRN_OK);
    assert_true(has(f->ix, f->pack_c));
    assert_counts(f->ix, NA + NB, 3);
}

static void test_remove_pack_exactly_its_chunks(void **state)
{
    fixture *const f = *state;
    assert_int_equal(index_add_pack(f->ix, f->pack_a, 1, f->a, NA), CAIRN_OK);
    assert_int_equal(index_add_pack(f->ix, f->pack_b, 2, f->b, NB), CAIRN_OK);
    assert_int_equal(index_remove_pack(f->ix, f->pack_a, NULL, 0), CAIRN_OK);
    assert_counts(f->ix, NB, 1);
    for (size_t i = 0; i < NA; i++)
        assert_missing(f->ix, f->a[i].id);
    for (size_t i = 0; i < NB; i++)
        assert_found(f->ix, f->pack_b, &f->b[i]);
    assert_false(has(f->ix, f->pack_a));
    assert_true(has(f->ix, f->pack_b));
    pack_list l = {.n = 0};
    assert_int_equal(index_each_pack(f->ix, collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 1);
    assert_true(list_has(&l, f->pack_b, 2));

    assert_int_equal(index_remove_pack(f->ix, f->pack_b, NULL, 0), CAIRN_OK);
    assert_counts(f->ix, 0, 0);
    for (size_t i = 0; i < NB; i++)
        assert_missing(f->ix, f->b[i].id);
}

/* Chunks whose IDs sort next to each other (consecutive deletes under the
 * cursor) and a pack whose chunks are all of the table. */
static void test_remove_adjacent_keys(void **state)
{
    fixture *const f = *state;
    pack_entry e[64];
    make_entries(e, 64, 0);
    for (int i = 0; i < 64; i++) {
        memset(e[i].id, 0, ID_LEN);
        e[i].id[ID_LEN - 1] = (uint8_t)i; /* 0,1,2,... in key order */
    }
    /* even IDs in pack a, odd in pack b, then a run of 16 in pack c */
    pack_entry ea[24], eb[24], ec[16];
    for (int i = 0; i < 24; i++) {
        ea[i] = e[2 * i];
        eb[i] = e[2 * i + 1];
    }
    for (int i = 0; i < 16; i++)
        ec[i] = e[48 + i];
    assert_int_equal(index_add_pack(f->ix, f->pack_a, 1, ea, 24), CAIRN_OK);
    assert_int_equal(index_add_pack(f->ix, f->pack_b, 2, eb, 24), CAIRN_OK);
    assert_int_equal(index_add_pack(f->ix, f->pack_c, 3, ec, 16), CAIRN_OK);
    assert_counts(f->ix, 64, 3);
    assert_int_equal(index_remove_pack(f->ix, f->pack_c, NULL, 0), CAIRN_OK);
    assert_counts(f->ix, 48, 2);
    for (int i = 0; i < 16; i++)
        assert_missing(f->ix, ec[i].id);
    assert_int_equal(index_remove_pack(f->ix, f->pack_a, NULL, 0), CAIRN_OK);
    assert_counts(f->ix, 24, 1);
    for (int i = 0; i < 24; i++) {
        assert_missing(f->ix, ea[i].id);
        assert_found(f->ix, f->pack_b, &eb[i]);
    }
    assert_int_equal(index_remove_pack(f->ix, f->pack_b, NULL, 0), CAIRN_OK);
    assert_counts(f->ix, 0, 0);
}

/* A chunk in two packs points at the last one added; removing the other
 * pack keeps it. */
static void test_duplicate_chunk_across_packs(void **state)
{
    fixture *const f = *state;
    pack_entry dup = f->b[0];
    memcpy(dup.id, f->a[0].id, ID_LEN);
    assert_int_equal(index_add_pack(f->ix, f->pack_a, 1, f->a, 10), CAIRN_OK);
    assert_int_equal(index_add_pack(f->ix, f->pack_b, 2, &dup, 1), CAIRN_OK);
    assert_counts(f->ix, 10, 2);
    assert_found(f->ix, f->pack_b, &dup);
    assert_int_equal(index_remove_pack(f->ix, f->pack_a, NULL, 0), CAIRN_OK);
    assert_found(f->ix, f->pack_b, &dup);
    assert_counts(f->ix, 1, 1);
    /* re-adding a pack replaces its records */
    assert_int_equal(index_add_pack(f->ix, f->pack_b, 2, &dup, 1), CAIRN_OK);
    assert_counts(f->ix, 1, 1);
}

/* Removal driven by the pack's own entries (its trailer): only records
 * that still point at the pack go; a chunk since indexed in another pack,
 * and entries the index never had, are left alone. */
static void test_remove_pack_by_entries(void **state)
{
    fixture *const f = *state;
    assert_int_equal(index_add_pack(f->ix, f->pack_a, 1, f->a, NA), CAIRN_OK);
    pack_entry moved[2] = {f->a[3], f->a[NA - 1]};
    moved[0].offset = 8;
    moved[1].offset = 8 + moved[0].stored_len;
    assert_int_equal(index_add_pack(f->ix, f->pack_b, 2, moved, 2), CAIRN_OK); /* repacked */
    assert_int_equal(index_add_pack(f->ix, f->pack_c, 3, f->b, NB), CAIRN_OK);
    assert_counts(f->ix, NA + NB, 3);
    pack_entry *const list = malloc((NA + 1) * sizeof *list);
    assert_non_null(list);
    memcpy(list, f->a, NA * sizeof *list);
    memset(list[NA].id, 0xee, ID_LEN); /* never indexed */
    assert_int_equal(index_remove_pack(f->ix, f->pack_a, list, NA + 1), CAIRN_OK);
    free(list);
    assert_false(has(f->ix, f->pack_a));
    assert_counts(f->ix, 2 + NB, 2);
    for (size_t i = 0; i < NA; i++)
        if (i != 3 && i != NA - 1)
            assert_missing(f->ix, f->a[i].id);
    assert_found(f->ix, f->pack_b, &moved[0]);
    assert_found(f->ix, f->pack_b, &moved[1]);
    for (size_t i = 0; i < NB; i++)
        assert_found(f->ix, f->pack_c, &f->b[i]);
    /* an empty list forgets just the pack record */
    assert_int_equal(index_remove_pack(f->ix, f->pack_b, moved, 0), CAIRN_OK);
    assert_false(has(f->ix, f->pack_b));
    assert_found(f->ix, f->pack_b, &moved[0]);
}

static void test_clear(void **state)
{
    fixture *const f = *state;
    assert_int_equal(index_add_pack(f->ix, f->pack_a, 1, f->a, NA), CAIRN_OK);
    assert_int_equal(index_add_pack(f->ix, f->pack_b, 2, f->b, NB), CAIRN_OK);
    assert_int_equal(index_clear(f->ix), CAIRN_OK);
    assert_counts(f->ix, 0, 0);
    assert_missing(f->ix, f->a[0].id);
    assert_missing(f->ix, f->b[NB - 1].id);
    assert_false(has(f->ix, f->pack_a));
    pack_list l = {.n = 0};
    assert_int_equal(index_each_pack(f->ix, collect, &l), CAIRN_OK);
    assert_int_equal(l.n, 0);
    /* usable again afterwards */
    assert_int_equal(index_add_pack(f->ix, f->pack_b, 2, f->b, NB), CAIRN_OK);
    assert_found(f->ix, f->pack_b, &f->b[7]);
    assert_counts(f->ix, NB, 1);
}

static void test_reopen_same_and_other_store(void **state)
{
    fixture *const f = *state;
    assert_int_equal(index_add_pack(f->ix, f->pack_a, 1, f->a, NA), CAIRN_OK);
    index_close(f->ix);
    f->ix = NULL;

    /* same store: the records survive */
    assert_int_equal(index_open(f->dir, f->store_id, &f->ix), CAIRN_OK);
    assert_counts(f->ix, NA, 1);
    assert_found(f->ix, f->pack_a, &f->a[NA - 1]);
    index_close(f->ix);
    f->ix = NULL;

    /* another store at the same path: cleared */
    uint8_t other[16];
    memcpy(other, f->store_id, 16);
    other[15] ^= 1;
    assert_int_equal(index_open(f->dir, other, &f->ix), CAIRN_OK);
    assert_counts(f->ix, 0, 0);
    assert_missing(f->ix, f->a[0].id);
    assert_false(has(f->ix, f->pack_a));
    assert_int_equal(index_add_pack(f->ix, f->pack_b, 2, f->b, NB), CAIRN_OK);
    index_close(f->ix);
    f->ix = NULL;

    /* and back: the index now belongs to the other store, so it is cleared
     * again rather than mixing the two */
    assert_int_equal(index_open(f->dir, f->store_id, &f->ix), CAIRN_OK);
    assert_counts(f->ix, 0, 0);
    assert_missing(f->ix, f->b[0].id);
}

static void test_open_creates_dir(void **state)
{
    fixture *const f = *state;
    char sub[128];
    chunk_index *ix = NULL;
    snprintf(sub, sizeof sub, "%s/deep/er/index", f->dir);
    assert_int_equal(index_open(sub, f->store_id, &ix), CAIRN_OK);
    assert_counts(ix, 0, 0);
    index_close(ix);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

/* A pack recorded again, as after a crash between the transactions of its
 * chunks and its record (index_add_pack): the same chunks, counted once. */
static void test_add_pack_again(void **state)
{
    fixture *const f = *state;
    assert_int_equal(index_add_pack(f->ix, f->pack_a, 111111, f->a, NA / 2), CAIRN_OK);
    assert_int_equal(index_add_pack(f->ix, f->pack_a, 111111, f->a, NA), CAIRN_OK);
    assert_counts(f->ix, NA, 1);
    for (size_t i = 0; i < NA; i++)
        assert_found(f->ix, f->pack_a, &f->a[i]);
    assert_true(has(f->ix, f->pack_a));
}

/* This process's resident pages of mapped files (statm's third field). */
static long mapped_file_kib(void)
{
    long pages = -1;
    FILE *const fp = fopen("/proc/self/statm", "r");
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%*s %*s %ld", &pages), 1);
    fclose(fp);
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* An index past the size whose mapped pages are dropped from the process
 * once they have grown by RELEASE_BUDGET (index.c release_map): every chunk
 * still reads back exactly, during the adds and after them, and the map
 * never holds all of it. */
static void test_big_index_pages_released(void **state)
{
    fixture *const f = *state;
    enum { PER_PACK = 60000, PACKS = 6, BUDGET_KIB = 32 << 10 };
    const long before = mapped_file_kib();
    pack_entry *const e = malloc((size_t)PER_PACK * PACKS * sizeof *e);
    uint8_t packs[PACKS][PACK_ID_LEN];
    struct stat st;
    char path[128];
    assert_non_null(e);
    for (int p = 0; p < PACKS; p++) {
        randombytes_buf(packs[p], PACK_ID_LEN);
        make_entries(e + (size_t)p * PER_PACK, PER_PACK, (uint8_t)p);
        assert_int_equal(index_add_pack(f->ix, packs[p], 1, e + (size_t)p * PER_PACK, PER_PACK),
                         CAIRN_OK);
        for (size_t i = 0; i <= (size_t)p * PER_PACK; i += 97)
            assert_found(f->ix, packs[i / PER_PACK], &e[i]);
    }
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &st), 0);
    /* big enough that holding all of it would break the bound below */
    assert_true(st.st_size / 1024 > BUDGET_KIB + (16 << 10));
    for (size_t i = 0; i < (size_t)PER_PACK * PACKS; i += 7)
        assert_found(f->ix, packs[i / PER_PACK], &e[i]);
    /* index.c's RELEASE_BUDGET, and room for the code the test ran */
    const long grown = mapped_file_kib() - before;
    print_message("mapped file pages grew by %ld KiB, data.mdb %lld KiB\n", grown,
                  (long long)st.st_size / 1024);
    assert_true(grown < BUDGET_KIB + (8 << 10));
    assert_counts(f->ix, (uint64_t)PER_PACK * PACKS, PACKS);
    free(e);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_pack_exactly_its_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_adjacent_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_chunk_across_packs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_pack_by_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_same_and_other_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_creates_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_pack_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_index_pages_released, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
