#include "engine/core/chunk_slots.h"

#include <stdlib.h>
#include <string.h>

/* The room of the block after one of room slots. */
static uint32_t next_room(uint32_t room)
{
    if (room < SLOT_BLOCK_MIN / 2)
        return SLOT_BLOCK_MIN;
    return room < SLOT_BLOCK_MAX / 2 ? 2 * room : SLOT_BLOCK_MAX;
}

void chunk_slots_init(chunk_slots *l, uint32_t expect)
{
    memset(l, 0, sizeof *l);
    l->first = expect ? expect : 1;
}

cairn_err chunk_slots_add(chunk_slots *l, chunk_slot **out)
{
    if (l->count == UINT32_MAX)
        return err_set(CAIRN_EINVAL, "more than %u chunks in one file", UINT32_MAX);
    if (!l->nblocks || l->last_used == l->last_room) {
        const uint32_t room = l->nblocks ? next_room(l->last_room) : l->first;
        chunk_slot **const blocks = realloc(l->blocks, (l->nblocks + 1) * sizeof *blocks);
        if (!blocks)
            return err_set(CAIRN_ENOMEM, "out of memory");
        l->blocks = blocks;
        blocks[l->nblocks] = malloc((size_t)room * sizeof **blocks);
        if (!blocks[l->nblocks])
            return err_set(CAIRN_ENOMEM, "out of memory");
        l->nblocks++;
        l->last_room = room;
        l->last_used = 0;
    }
    *out = &l->blocks[l->nblocks - 1][l->last_used++];
    l->count++;
    return CAIRN_OK;
}

cairn_err chunk_slots_take(const chunk_slots *l, uint8_t (**ids)[ID_LEN], tree_fprint **fprints)
{
    const size_t n = l->count ? l->count : 1;
    *ids = malloc(n * ID_LEN);
    *fprints = malloc(n * sizeof **fprints);
    if (!*ids || !*fprints) {
        free(*ids);
        free(*fprints);
        *ids = NULL;
        *fprints = NULL;
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    uint32_t k = 0, room = l->first;
    for (size_t b = 0; k < l->count; b++, room = next_room(room))
        for (uint32_t j = 0; j < room && k < l->count; j++, k++) {
            memcpy((*ids)[k], l->blocks[b][j].id, ID_LEN);
            (*fprints)[k] = l->blocks[b][j].fp;
        }
    return CAIRN_OK;
}

void chunk_slots_free(chunk_slots *l)
{
    for (size_t b = 0; b < l->nblocks; b++)
        free(l->blocks[b]);
    free(l->blocks);
    memset(l, 0, sizeof *l);
}
