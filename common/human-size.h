/* vswap: sizes written for people: "4 MiB", "57.6 MiB", "512 bytes".
 * (Sizes written by people are parsed by vswap_parse_size in
 * flash/medium.h.)
 */
#ifndef VSWAP_HUMAN_SIZE_H
#define VSWAP_HUMAN_SIZE_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* BYTES in the largest binary unit it reaches: "4 MiB" when it is a whole
 * number of that unit, else one decimal ("57.6 MiB").  Writes at most SIZE
 * bytes into BUFFER and returns BUFFER, so that it can stand in a printf
 * argument list. */
static inline const char *
vswap_human_size (uint64_t bytes, char *buffer, size_t size)
{
  static const char *const units[] = { "bytes", "KiB", "MiB", "GiB",
                                       "TiB", "PiB", "EiB" };
  unsigned i = 0;

  while (i + 1 < sizeof units / sizeof units[0]
         && bytes >= ((uint64_t) 1024 << (10 * i)))
    i++;
  if (i == 0)
    snprintf (buffer, size, "%" PRIu64 " bytes", bytes);
  else if (bytes % ((uint64_t) 1 << (10 * i)) == 0)
    snprintf (buffer, size, "%" PRIu64 " %s", bytes >> (10 * i), units[i]);
  else
    snprintf (buffer, size, "%.1f %s",
              (double) bytes / (double) ((uint64_t) 1 << (10 * i)), units[i]);
  return buffer;
}

#endif /* VSWAP_HUMAN_SIZE_H */
