/* grow.h - the one way an array grows: capacity doubles (from a small
 * start) so appending n elements costs O(n) copies, and the byte count is
 * checked for overflow before any allocation, so a huge count fails with
 * CAIRN_ENOMEM instead of wrapping around to a small buffer. */
#ifndef CAIRN_GROW_H
#define CAIRN_GROW_H

#include <stddef.h>

#include "util/err.h"

/* Makes room for need elements of elem bytes in the array whose pointer is
 * at array (a T **, passed as void * so any element type goes without a
 * cast); *cap is its capacity in elements.  Nothing changes when *cap >=
 * need already.  On failure (CAIRN_ENOMEM, message set) the array and *cap
 * are as they were, so the caller still owns and frees the old array. */
cairn_err util_grow(void *array, size_t *cap, size_t need, size_t elem);

#endif
