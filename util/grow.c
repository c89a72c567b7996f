#include "util/grow.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { GROW_FIRST = 16 };

cairn_err util_grow(void *array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return CAIRN_OK;
    size_t ncap = *cap > SIZE_MAX / 2 ? SIZE_MAX : 2 * *cap;
    if (ncap < GROW_FIRST)
        ncap = GROW_FIRST;
    if (ncap < need)
        ncap = need;
    /* no object may exceed PTRDIFF_MAX bytes; asking realloc for more only
     * trips sanitizers' allocation limits */
    const size_t limit = (size_t)PTRDIFF_MAX / (elem ? elem : 1);
    if (need > limit)
        return err_set(CAIRN_ENOMEM, "out of memory (%zu elements of %zu bytes)", need, elem);
    if (ncap > limit)
        ncap = limit; /* doubling overshoots; the exact need still fits */
    /* the pointer is moved through memcpy: array may point to any T * */
    void *old;
    memcpy(&old, array, sizeof old);
    void *const p = realloc(old, ncap * (elem ? elem : 1));
    if (!p)
        return err_set(CAIRN_ENOMEM, "out of memory");
    memcpy(array, &p, sizeof p);
    *cap = ncap;
    return CAIRN_OK;
}
