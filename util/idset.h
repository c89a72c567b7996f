/* idset.h - a set of 32-byte IDs in memory (open addressing; IDs are keyed
 * hashes, so their first bytes are already uniformly spread). */
#ifndef CAIRN_IDSET_H
#define CAIRN_IDSET_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* The length of an ID: store/seal.h's ID_LEN (store/seal.c checks they are
 * equal), spelled here because util/ sits below store/. */
enum { IDSET_ID_LEN = 32 };

typedef struct idset {
    uint8_t (*slots)[IDSET_ID_LEN];
    uint8_t *used;
    size_t cap; /* power of two */
    size_t count;
} idset;

void idset_init(idset *s);
void idset_free(idset *s);
/* Adds id; *added is 1 if it was not there.  CAIRN_ENOMEM on failure. */
cairn_err idset_add(idset *s, const uint8_t id[IDSET_ID_LEN], int *added);
int idset_has(const idset *s, const uint8_t id[IDSET_ID_LEN]);
/* Removes id if present. */
void idset_remove(idset *s, const uint8_t id[IDSET_ID_LEN]);

#endif
