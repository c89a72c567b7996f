#include "util/idset.h"

#include <stdlib.h>
#include <string.h>

#include "util/codec.h"

void idset_init(idset *s)
{
    memset(s, 0, sizeof *s);
}

void idset_free(idset *s)
{
    free(s->slots);
    free(s->used);
    idset_init(s);
}

static size_t slot_of(const idset *s, const uint8_t id[IDSET_ID_LEN])
{
    return (size_t)get_u64le(id) & (s->cap - 1);
}

static int find(const idset *s, const uint8_t id[IDSET_ID_LEN], size_t *at)
{
    size_t i = slot_of(s, id);
    while (s->used[i]) {
        if (memcmp(s->slots[i], id, IDSET_ID_LEN) == 0) {
            *at = i;
            return 1;
        }
        i = (i + 1) & (s->cap - 1);
    }
    *at = i;
    return 0;
}

static cairn_err grow(idset *s)
{
    idset bigger;
    bigger.cap = s->cap ? s->cap * 2 : 1024;
    bigger.count = 0;
    bigger.slots = malloc(bigger.cap * IDSET_ID_LEN);
    bigger.used = calloc(bigger.cap, 1);
    if (!bigger.slots || !bigger.used) {
        free(bigger.slots);
        free(bigger.used);
        return err_set(CAIRN_ENOMEM, "out of memory for the chunk set");
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->used[i])
            continue;
        size_t at;
        find(&bigger, s->slots[i], &at);
        memcpy(bigger.slots[at], s->slots[i], IDSET_ID_LEN);
        bigger.used[at] = 1;
        bigger.count++;
    }
    idset_free(s);
    *s = bigger;
    return CAIRN_OK;
}

cairn_err idset_add(idset *s, const uint8_t id[IDSET_ID_LEN], int *added)
{
    size_t at;
    /* keep the load under 1/2 so probes stay short */
    if (2 * (s->count + 1) > s->cap) {
        const cairn_err rc = grow(s);
        if (rc)
            return rc;
    }
    if (find(s, id, &at)) {
        *added = 0;
        return CAIRN_OK;
    }
    memcpy(s->slots[at], id, IDSET_ID_LEN);
    s->used[at] = 1;
    s->count++;
    *added = 1;
    return CAIRN_OK;
}

int idset_has(const idset *s, const uint8_t id[IDSET_ID_LEN])
{
    size_t at;
    return s->cap ? find(s, id, &at) : 0;
}

void idset_remove(idset *s, const uint8_t id[IDSET_ID_LEN])
{
    size_t at;
    if (!s->cap || !find(s, id, &at))
        return;
    /* backward-shift deletion keeps every probe chain unbroken */
    size_t hole = at, i = at;
    for (;;) {
        i = (i + 1) & (s->cap - 1);
        if (!s->used[i])
            break;
        const size_t home = slot_of(s, s->slots[i]);
        /* move i into the hole unless its home lies cyclically in (hole, i] */
        const int stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays)
            continue;
        memcpy(s->slots[hole], s->slots[i], IDSET_ID_LEN);
        hole = i;
    }
    s->used[hole] = 0;
    s->count--;
}
