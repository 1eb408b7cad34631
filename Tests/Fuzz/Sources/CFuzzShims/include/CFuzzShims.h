#ifndef CFUZZSHIMS_H
#define CFUZZSHIMS_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for a program with its own `main` (compiler-rt FuzzerDriver.cpp):
/// parses the libFuzzer flags in argv and runs `callback` on each input.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

/// Returns 1: calling it from Swift keeps the numeric-only getaddrinfo of this target linked.
int CFuzzShims_numericOnlyResolver(void);

#endif
