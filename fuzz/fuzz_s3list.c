/* fuzz_s3list.c - libFuzzer target for the S3 listing parser.
 *
 * Input: the body of a ListObjectsV2 answer (untrusted bytes from a copy
 * target's server).  Every name handed on must be non-empty, a C string
 * inside the input's length budget, and below the prefix; a continuation
 * token comes only with success.  Seeds in fuzz/corpus/s3list are answers
 * of Ceph's radosgw. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend/backend.h"
#include "fuzz/fuzz.h"

typedef struct seen {
    size_t len;
    unsigned count;
} seen;

static cairn_err on_object(void *ctx, const char *name, uint64_t size)
{
    seen *const s = ctx;
    (void)size;
    const size_t n = strlen(name);
    /* entities only shrink text: a name is never longer than the input */
    if (n == 0 || n > s->len)
        abort();
    s->count++;
    return CAIRN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the parser gets the body as it arrives: not NUL-terminated */
    char *const body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    for (int with_prefix = 0; with_prefix < 2; with_prefix++) {
        seen s = {size, 0};
        char *token = NULL;
        const cairn_err rc =
            backend_s3_parse_listing(body, size, with_prefix ? "cairn" : "", on_object, &s, &token);
        if (rc != CAIRN_OK && token)
            abort();
        if (token && (!token[0] || strlen(token) > size))
            abort();
        free(token);
    }
    free(body);
    return 0;
}
