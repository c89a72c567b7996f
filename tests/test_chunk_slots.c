/* test_chunk_slots.c - a file's chunk list while it is cut: every slot
 * keeps its address while thousands more are added (workers write IDs into
 * slots they were given long before), the list comes out in order at its
 * length, only the last block has free slots, and later blocks grow from
 * SLOT_BLOCK_MIN to SLOT_BLOCK_MAX whatever the first block's size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine/core/chunk_slots.h"

static void fill(chunk_slot *s, uint32_t k)
{
    memset(s->id, (int)(k % 251), ID_LEN);
    memcpy(s->id, &k, sizeof k);
    s->fp.len = k * 7 + 1;
    memset(s->fp.hash, (int)(k % 13), sizeof s->fp.hash);
}

static void check(const uint8_t id[ID_LEN], const tree_fprint *fp, uint32_t k)
{
    chunk_slot want;
    fill(&want, k);
    assert_memory_equal(id, want.id, ID_LEN);
    assert_int_equal(fp->len, want.fp.len);
    assert_memory_equal(fp->hash, want.fp.hash, sizeof fp->hash);
}

/* Adds count slots to a list expecting expect, filling each only after
 * the next ones were added (as workers place IDs late), then checks the
 * addresses held, the copy and the blocks' sizes. */
static void run(uint32_t expect, uint32_t count)
{
    chunk_slots l;
    chunk_slot **given = calloc(count ? count : 1, sizeof *given);
    assert_non_null(given);
    chunk_slots_init(&l, expect);
    for (uint32_t k = 0; k < count; k++) {
        assert_int_equal(chunk_slots_add(&l, &given[k]), CAIRN_OK);
        if (k >= 100)
            fill(given[k - 100], k - 100);
    }
    for (uint32_t k = count > 100 ? count - 100 : 0; k < count; k++)
        fill(given[k], k);
    assert_int_equal(l.count, count);
    for (uint32_t k = 0; k < count; k++)
        check(given[k]->id, &given[k]->fp, k);

    uint8_t(*ids)[ID_LEN] = NULL;
    tree_fprint *fps = NULL;
    assert_int_equal(chunk_slots_take(&l, &ids, &fps), CAIRN_OK);
    assert_non_null(ids);
    assert_non_null(fps);
    for (uint32_t k = 0; k < count; k++)
        check(ids[k], &fps[k], k);

    /* the first block as expected; then doubling from MIN, capped at MAX */
    uint64_t room = expect ? expect : 1, total = 0;
    for (size_t b = 0; b < l.nblocks; b++) {
        if (b > 0) {
            room = room < SLOT_BLOCK_MIN / 2   ? SLOT_BLOCK_MIN
                   : room < SLOT_BLOCK_MAX / 2 ? 2 * room
                                               : SLOT_BLOCK_MAX;
            assert_true(room >= SLOT_BLOCK_MIN && room <= SLOT_BLOCK_MAX);
        }
        total += room;
    }
    if (count) {
        assert_int_equal(l.last_room, room);
        assert_true(total - count < room); /* free slots only in the last block */
    } else {
        assert_int_equal(l.nblocks, 0);
    }
    free(ids);
    free(fps);
    free(given);
    chunk_slots_free(&l);
    assert_null(l.blocks);
    assert_int_equal(l.nblocks, 0);
}

static void test_sizes(void **state)
{
    (void)state;
    static const uint32_t expects[] = {0, 1, 3, 8, 100, 5000};
    static const uint32_t counts[] = {0, 1, 2, 7, 8, 9, 100, 101, 1500, 20000};
    for (size_t e = 0; e < sizeof expects / sizeof *expects; e++)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            run(expects[e], counts[c]);
}

/* A file cut into fewer chunks than expected takes one block; one cut into
 * far more takes blocks of at most SLOT_BLOCK_MAX, not a doubling of all it
 * has. */
static void test_memory_follows_count(void **state)
{
    (void)state;
    chunk_slots l;
    chunk_slot *s;
    chunk_slots_init(&l, 4096);
    for (int k = 0; k < 10; k++)
        assert_int_equal(chunk_slots_add(&l, &s), CAIRN_OK);
    assert_int_equal(l.nblocks, 1);
    assert_int_equal(l.last_room, 4096);
    for (int k = 10; k < 4096 + 3 * SLOT_BLOCK_MAX + 1; k++)
        assert_int_equal(chunk_slots_add(&l, &s), CAIRN_OK);
    assert_int_equal(l.nblocks, 5);
    assert_int_equal(l.last_room, SLOT_BLOCK_MAX);
    assert_int_equal(l.last_used, 1);
    chunk_slots_free(&l);
}

/* A chunk list's length is a uint32_t: the next slot is refused with a
 * message, not wrapped around. */
static void test_count_limit(void **state)
{
    (void)state;
    chunk_slots l;
    chunk_slot *s = NULL;
    chunk_slots_init(&l, 1);
    assert_int_equal(chunk_slots_add(&l, &s), CAIRN_OK);
    l.count = UINT32_MAX;
    assert_int_equal(chunk_slots_add(&l, &s), CAIRN_EINVAL);
    assert_non_null(strstr(err_msg(), "more than"));
    assert_int_equal(l.nblocks, 1);
    chunk_slots_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_memory_follows_count),
        cmocka_unit_test(test_count_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
