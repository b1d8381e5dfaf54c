/* vswap fuzz targets: what they share.
 *
 * Each target is a libFuzzer entry point (LLVMFuzzerTestOneInput) built
 * with clang's -fsanitize=fuzzer, ASan and UBSan (./configure
 * --enable-fuzz CC=clang; "make fuzz" runs them).  A target aborts on any
 * property it finds broken, so that libFuzzer keeps the input.
 */
#ifndef VSWAP_FUZZ_H
#define VSWAP_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A property the code under test promised, broken: report and abort. */
#define FUZZ_ASSERT(condition)                                          \
  do {                                                                  \
    if (!(condition)) {                                                 \
      fprintf (stderr, "%s:%d: property broken: %s\n", __FILE__,        \
               __LINE__, #condition);                                   \
      abort ();                                                         \
    }                                                                   \
  } while (0)

#endif /* VSWAP_FUZZ_H */
