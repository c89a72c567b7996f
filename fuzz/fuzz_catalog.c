/* fuzz_catalog.c - libFuzzer target for the catalog decoder, whole and
 * streamed.
 *
 * Input: one byte choosing the piece size (1 to 256), then a catalog's
 * encoding.  catalog_decode and the streaming decoder fed in those pieces
 * must agree (both refuse, or both give the same entries); what decodes
 * must re-encode to a form that decodes and re-encodes to the same bytes.
 * Seeds in fuzz/corpus/catalog come from catalog_encode (the *-v2 ones
 * are version 2: entries with row digests). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/catalog.h"
#include "fuzz/fuzz.h"

static cairn_err add(void *ctx, const catalog_entry *e)
{
    return catalog_add(ctx, e);
}

static void same(const catalog *a, const catalog *b)
{
    if (a->count != b->count)
        abort();
    for (size_t i = 0; i < a->count; i++) {
        const catalog_entry *const x = &a->entries[i], *const y = &b->entries[i];
        if (strcmp(x->domain, y->domain) || strcmp(x->path, y->path) ||
            memcmp(x->file_id, y->file_id, CATALOG_FILE_ID_LEN) || x->flags != y->flags ||
            x->size != y->size || x->mode != y->mode || x->mtime != y->mtime ||
            (x->target == NULL) != (y->target == NULL) ||
            (x->target && strcmp(x->target, y->target)) || x->has_digest != y->has_digest ||
            memcmp(x->row_digest, y->row_digest, CATALOG_ROW_DIGEST_LEN))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    catalog whole, streamed, back;
    catalog_decoder *d = NULL;
    cbuf b, b2;
    if (size < 1)
        return 0;
    const size_t step = (size_t)data[0] + 1;
    data++;
    size--;
    const int ok = catalog_decode(data, size, &whole) == CAIRN_OK;
    catalog_init(&streamed);
    cairn_err rc = catalog_decoder_new(add, &streamed, &d);
    if (rc)
        abort();
    for (size_t pos = 0; !rc && pos < size; pos += step)
        rc = catalog_decoder_feed(d, data + pos, size - pos < step ? size - pos : step);
    if (!rc)
        rc = catalog_decoder_finish(d);
    catalog_decoder_free(d);
    if ((rc == CAIRN_OK) != ok)
        abort();
    if (!ok) {
        catalog_free(&streamed);
        return 0;
    }
    same(&whole, &streamed);
    cbuf_init(&b);
    cbuf_init(&b2);
    if (catalog_encode(&whole, &b) != CAIRN_OK || b.len > size)
        abort();
    if (catalog_decode(b.data, b.len, &back) != CAIRN_OK)
        abort();
    same(&whole, &back);
    if (catalog_encode(&back, &b2) != CAIRN_OK || b2.len != b.len || memcmp(b.data, b2.data, b.len))
        abort();
    catalog_free(&back);
    catalog_free(&streamed);
    catalog_free(&whole);
    cbuf_free(&b);
    cbuf_free(&b2);
    return 0;
}
