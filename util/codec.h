/* codec.h - the byte encoding shared by every on-disk structure: little-endian
 * fixed integers, LEB128 varints, length-prefixed byte strings.
 *
 * Both directions keep a sticky failure flag, so an encoder or decoder runs
 * straight through and checks once at the end; a reader never moves past
 * its end, whatever the input.
 *
 * cbuf is also the one growable buffer for text (request bodies, URLs,
 * signatures): every append keeps a NUL after the data, not counted in
 * len, so a buffer built of text reads as a C string (cbuf_text). */
#ifndef CAIRN_CODEC_H
#define CAIRN_CODEC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct cbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed; /* out of memory */
} cbuf;

void cbuf_init(cbuf *b);
void cbuf_free(cbuf *b);
/* Empties the buffer (keeping its storage) and clears the failure flag. */
void cbuf_reset(cbuf *b);
/* Makes room for n more bytes and returns where they go (NULL on failure);
 * the caller writes them and adds n to len itself (no NUL is kept then). */
uint8_t *cbuf_reserve(cbuf *b, size_t n);
void cbuf_put(cbuf *b, const void *p, size_t n);
/* Appends printf-formatted text (without its NUL). */
void cbuf_printf(cbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cbuf_vprintf(cbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends the text of s (without its NUL; unlike cbuf_cstr, no length). */
void cbuf_puts(cbuf *b, const char *s);
/* The contents as a C string ("" before anything was appended).  After a
 * failure it is what was appended before it: check failed before using it. */
const char *cbuf_text(const cbuf *b);
/* Hands the contents over as a malloc'd C string (the caller frees it) and
 * leaves the buffer empty; NULL after a failure (the buffer is freed). */
char *cbuf_take_text(cbuf *b);
/* Appends s as a JSON string, quotes included: '"' and '\\' escaped, control
 * characters as \u00XX, other bytes as they are (UTF-8 passes through). */
void cbuf_json_str(cbuf *b, const char *s);
void cbuf_u8(cbuf *b, uint8_t v);
void cbuf_u32(cbuf *b, uint32_t v);
void cbuf_u64(cbuf *b, uint64_t v);
void cbuf_varint(cbuf *b, uint64_t v);
void cbuf_svarint(cbuf *b, int64_t v);           /* zigzag */
void cbuf_str(cbuf *b, const void *p, size_t n); /* varint length + bytes */
void cbuf_cstr(cbuf *b, const char *s);

typedef struct creader {
    const uint8_t *p;
    size_t left;
    int failed; /* ran past the end or met a malformed value */
} creader;

void cr_init(creader *r, const void *p, size_t n);
uint8_t cr_u8(creader *r);
uint32_t cr_u32(creader *r);
uint64_t cr_u64(creader *r);
uint64_t cr_varint(creader *r);
int64_t cr_svarint(creader *r);
/* Points *p at the next n bytes (NULL and failed when fewer remain). */
const uint8_t *cr_bytes(creader *r, size_t n);
/* A varint-length string of at most max bytes; *len receives its length. */
const uint8_t *cr_str(creader *r, size_t max, size_t *len);
/* The same copied into a malloc'd NUL-terminated string, rejecting embedded
 * NULs (NULL and failed on error). */
char *cr_cstr(creader *r, size_t max);

static inline void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_u64le(uint8_t *p, uint64_t v)
{
    put_u32le(p, (uint32_t)v);
    put_u32le(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t get_u64le(const uint8_t *p)
{
    return (uint64_t)get_u32le(p) | (uint64_t)get_u32le(p + 4) << 32;
}

#endif
