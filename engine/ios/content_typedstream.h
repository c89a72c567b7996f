/* content_typedstream.h - the text of a Messages attributedBody: an
 * NSAttributedString archived in NeXT's typedstream format, which iOS 16
 * and later store instead of message.text.
 *
 * A small strict decoder, for untrusted bytes: it checks the stream header
 * ("\x04\x0bstreamtyped"), finds the NSString class record, the '+' (C
 * string) value after it and its length (one byte below 0x80; 0x81 and two
 * bytes, 0x82 and four, little-endian), and returns those bytes if they lie
 * inside the blob and are valid UTF-8 without NUL.  The attribute runs
 * after the text (fonts, links) are not read.  Fuzzed (fuzz_typedstream). */
#ifndef CAIRN_CONTENT_TYPEDSTREAM_H
#define CAIRN_CONTENT_TYPEDSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* *out: malloc'd NUL-terminated UTF-8.  CAIRN_ECORRUPT (message says why)
 * for anything else. */
cairn_err content_attributed_text(const uint8_t *blob, size_t len, char **out);

#endif
