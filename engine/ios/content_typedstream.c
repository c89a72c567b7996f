/* content_typedstream.c - attributedBody text (content_typedstream.h). */
#include "engine/ios/content_typedstream.h"

#include <stdlib.h>
#include <string.h>

enum { MARKER_WINDOW = 16 };

/* Well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF), no NUL. */
static int valid_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const uint8_t c = p[i];
        size_t more;
        uint32_t cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            more = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= more)
            return 0;
        for (size_t k = 1; k <= more; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += more + 1;
    }
    return 1;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++) {
        if (memcmp(hay + i, needle, m) == 0)
            return hay + i;
    }
    return NULL;
}

cairn_err content_attributed_text(const uint8_t *blob, size_t len, char **out)
{
    static const uint8_t head[] = {0x04, 0x0b, 's', 't', 'r', 'e', 'a',
                                   'm',  't',  'y', 'p', 'e', 'd'};
    static const uint8_t value[] = {0x84, 0x01, '+'};
    *out = NULL;
    if (len < sizeof head || memcmp(blob, head, sizeof head) != 0)
        return err_set(CAIRN_ECORRUPT, "attributedBody: not a typedstream");
    const uint8_t *const end = blob + len;
    const uint8_t *p = find(blob + sizeof head, len - sizeof head, "NSString", 8);
    if (!p)
        return err_set(CAIRN_ECORRUPT, "attributedBody: no NSString");
    p += 8;
    const size_t window = (size_t)(end - p) < MARKER_WINDOW ? (size_t)(end - p) : MARKER_WINDOW;
    const uint8_t *const mark = find(p, window, value, sizeof value);
    if (!mark)
        return err_set(CAIRN_ECORRUPT, "attributedBody: no string value after NSString");
    p = mark + sizeof value;
    if (p >= end)
        return err_set(CAIRN_ECORRUPT, "attributedBody: string length missing");
    uint64_t n;
    const uint8_t tag = *p++;
    size_t width = 0;
    if (tag < 0x80) {
        n = tag;
    } else if (tag == 0x81 || tag == 0x82) {
        width = tag == 0x81 ? 2 : 4;
        if ((size_t)(end - p) < width)
            return err_set(CAIRN_ECORRUPT, "attributedBody: string length cut short");
        n = 0;
        for (size_t k = width; k-- > 0;)
            n = (n << 8) | p[k];
        p += width;
    } else {
        return err_set(CAIRN_ECORRUPT, "attributedBody: bad string length tag 0x%02x", tag);
    }
    if (n > (uint64_t)(end - p))
        return err_set(CAIRN_ECORRUPT, "attributedBody: string of %llu bytes overruns the blob",
                       (unsigned long long)n);
    if (!valid_utf8(p, (size_t)n))
        return err_set(CAIRN_ECORRUPT, "attributedBody: text is not valid UTF-8");
    char *const s = malloc((size_t)n + 1);
    if (!s)
        return err_set(CAIRN_ENOMEM, "out of memory");
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    *out = s;
    return CAIRN_OK;
}
