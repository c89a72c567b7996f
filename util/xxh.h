/* xxh.h - XXH3 (xxhash.h) through the library's own runtime dispatch on
 * x86-64: AVX2 or AVX-512 where the CPU has them instead of the SSE2 the
 * library is built for, the same hashes several times faster (the file
 * digests and chunk fingerprints of a backup hash every byte read, twice).
 * Include this instead of <xxhash.h>; elsewhere it is just <xxhash.h>. */
#ifndef CAIRN_XXH_H
#define CAIRN_XXH_H

#include <xxhash.h>

#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif
#endif

#endif
