/* fuzz_snapshot.c - libFuzzer target for the snapshot object decoder.
 *
 * Input: a snapshot body (the plaintext of a snapshot object).  Whatever
 * decodes must have its strings, its tree and catalog lists and its
 * metadata in place, and must re-encode to a canonical form that decodes
 * and re-encodes to the same bytes.  Seeds in fuzz/corpus/snapshot come
 * from snapshot_encode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/snapshot.h"
#include "fuzz/fuzz.h"

static volatile size_t sink;

static void check(const snapshot *s)
{
    size_t acc = 0;
    if (!s->hostname || !s->source || !s->chain || s->time_nsec >= 1000000000)
        abort();
    if ((s->ntree && !s->tree) || (s->ncatalog && !s->catalog))
        abort();
    acc += strlen(s->hostname) + strlen(s->source) + strlen(s->chain);
    for (uint32_t i = 0; i < s->ntree; i++)
        acc += s->tree[i][ID_LEN - 1];
    for (uint32_t i = 0; i < s->ncatalog; i++)
        acc += s->catalog[i][ID_LEN - 1];
    for (size_t i = 0; i < s->nmeta; i++) {
        if (!s->meta[i].key || !s->meta[i].value)
            abort();
        acc += strlen(s->meta[i].key) + strlen(s->meta[i].value);
        if (!snapshot_get_meta(s, s->meta[i].key))
            abort();
    }
    sink = acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    snapshot s, s2;
    cbuf b, b2;
    if (snapshot_decode(data, size, &s) != CAIRN_OK)
        return 0;
    check(&s);
    cbuf_init(&b);
    cbuf_init(&b2);
    if (snapshot_encode(&s, &b) != CAIRN_OK || b.len > size)
        abort();
    if (snapshot_decode(b.data, b.len, &s2) != CAIRN_OK)
        abort();
    check(&s2);
    if (snapshot_encode(&s2, &b2) != CAIRN_OK || b2.len != b.len || memcmp(b.data, b2.data, b.len))
        abort();
    snapshot_free(&s2);
    snapshot_free(&s);
    cbuf_free(&b);
    cbuf_free(&b2);
    return 0;
}
