/* fuzz_typedstream.c - libFuzzer target for the attributedBody decoder
 * (engine/ios/content_typedstream.h).
 *
 * Input: one message.attributedBody blob.  Seeds in fuzz/corpus/typedstream
 * are the generator's blobs: short ASCII, a text longer than 127 bytes (a
 * two-byte length) and one with a four-byte UTF-8 character. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ios/content_typedstream.h"
#include "fuzz/fuzz.h"

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = NULL;
    if (content_attributed_text(data, size, &text) != CAIRN_OK)
        return 0;
    const size_t n = strlen(text);
    /* the text lies inside the input */
    if (n > size)
        abort();
    sink = n;
    free(text);
    return 0;
}
