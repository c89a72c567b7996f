/* fuzz.h - the entry points libFuzzer calls in every fuzz_<name>.c target
 * (declared here so that -Wmissing-prototypes holds for the targets too). */
#ifndef CAIRN_FUZZ_H
#define CAIRN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
