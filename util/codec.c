#include "util/codec.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"

void cbuf_init(cbuf *b)
{
    memset(b, 0, sizeof *b);
}

void cbuf_free(cbuf *b)
{
    free(b->data);
    cbuf_init(b);
}

void cbuf_reset(cbuf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

uint8_t *cbuf_reserve(cbuf *b, size_t n)
{
    assert(b->len <= b->cap && (b->data || b->cap == 0));
    if (b->failed)
        return NULL;
    if (n > SIZE_MAX - b->len) {
        b->failed = 1;
        return NULL;
    }
    /* a fresh buffer gets storage even for n == 0: callers may use the pointer */
    const size_t need = b->len + n ? b->len + n : 1;
    if (util_grow(&b->data, &b->cap, need, 1) != CAIRN_OK) {
        b->failed = 1;
        return NULL;
    }
    return b->data + b->len;
}

void cbuf_put(cbuf *b, const void *p, size_t n)
{
    /* one more byte for the NUL that keeps text a C string */
    uint8_t *const dst = n < SIZE_MAX ? cbuf_reserve(b, n + 1) : NULL;
    if (!dst) {
        b->failed = 1;
        return;
    }
    if (n)
        memcpy(dst, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cbuf_vprintf(cbuf *b, const char *fmt, va_list ap)
{
    va_list again;
    if (b->failed)
        return;
    /* first into what room there is; most text fits, so one pass */
    const size_t room = b->cap - b->len;
    va_copy(again, ap);
    const int n = vsnprintf(room ? (char *)b->data + b->len : NULL, room, fmt, ap);
    if (n >= 0 && (size_t)n < room) {
        b->len += (size_t)n;
    } else {
        char *const dst = n >= 0 ? (char *)cbuf_reserve(b, (size_t)n + 1) : NULL;
        if (dst) {
            vsnprintf(dst, (size_t)n + 1, fmt, again);
            b->len += (size_t)n;
        } else {
            b->failed = 1;
            /* the first pass may have left part of the text after len */
            if (room)
                b->data[b->len] = '\0';
        }
    }
    va_end(again);
}

void cbuf_printf(cbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void cbuf_puts(cbuf *b, const char *s)
{
    cbuf_put(b, s, strlen(s));
}

const char *cbuf_text(const cbuf *b)
{
    return b->data ? (const char *)b->data : "";
}

char *cbuf_take_text(cbuf *b)
{
    if (!b->failed && !b->data)
        cbuf_put(b, "", 0);
    char *const text = b->failed ? NULL : (char *)b->data;
    if (!text)
        free(b->data);
    cbuf_init(b);
    return text;
}

void cbuf_u8(cbuf *b, uint8_t v)
{
    cbuf_put(b, &v, 1);
}

void cbuf_u32(cbuf *b, uint32_t v)
{
    uint8_t t[4];
    put_u32le(t, v);
    cbuf_put(b, t, 4);
}

void cbuf_u64(cbuf *b, uint64_t v)
{
    uint8_t t[8];
    put_u64le(t, v);
    cbuf_put(b, t, 8);
}

void cbuf_varint(cbuf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    cbuf_put(b, t, n);
}

void cbuf_svarint(cbuf *b, int64_t v)
{
    cbuf_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void cbuf_str(cbuf *b, const void *p, size_t n)
{
    cbuf_varint(b, n);
    cbuf_put(b, p, n);
}

void cbuf_cstr(cbuf *b, const char *s)
{
    cbuf_str(b, s ? s : "", s ? strlen(s) : 0);
}

void cr_init(creader *r, const void *p, size_t n)
{
    r->p = p;
    r->left = n;
    r->failed = 0;
}

const uint8_t *cr_bytes(creader *r, size_t n)
{
    if (r->failed || n > r->left) {
        r->failed = 1;
        return NULL;
    }
    const uint8_t *const p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint8_t cr_u8(creader *r)
{
    const uint8_t *const p = cr_bytes(r, 1);
    return p ? p[0] : 0;
}

uint32_t cr_u32(creader *r)
{
    const uint8_t *const p = cr_bytes(r, 4);
    return p ? get_u32le(p) : 0;
}

uint64_t cr_u64(creader *r)
{
    const uint8_t *const p = cr_bytes(r, 8);
    return p ? get_u64le(p) : 0;
}

uint64_t cr_varint(creader *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        const uint8_t *const p = cr_bytes(r, 1);
        if (!p)
            return 0;
        v |= (uint64_t)(p[0] & 0x7f) << shift;
        if (!(p[0] & 0x80)) {
            /* the tenth byte may only carry the top bit */
            if (shift == 63 && p[0] > 1)
                break;
            return v;
        }
    }
    r->failed = 1;
    return 0;
}

int64_t cr_svarint(creader *r)
{
    const uint64_t u = cr_varint(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

const uint8_t *cr_str(creader *r, size_t max, size_t *len)
{
    const uint64_t n = cr_varint(r);
    if (r->failed || n > max) {
        r->failed = 1;
        *len = 0;
        return NULL;
    }
    *len = (size_t)n;
    return cr_bytes(r, (size_t)n);
}

char *cr_cstr(creader *r, size_t max)
{
    size_t n;
    const uint8_t *const p = cr_str(r, max, &n);
    if (!p && n)
        return NULL;
    if (r->failed)
        return NULL;
    if (n && memchr(p, '\0', n)) {
        r->failed = 1;
        return NULL;
    }
    char *const s = malloc(n + 1);
    if (!s) {
        r->failed = 1;
        return NULL;
    }
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

void cbuf_json_str(cbuf *b, const char *s)
{
    cbuf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            cbuf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            cbuf_printf(b, "\\u%04x", *p);
        else
            cbuf_put(b, p, 1);
    }
    cbuf_puts(b, "\"");
}
