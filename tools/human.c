/* vswap: numbers and identifiers written for people. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "tools.h"

const char *
tool_decimal_size (uint64_t bytes, char *buffer, size_t size)
{
  static const char *const units[] = { "bytes", "KB", "MB", "GB", "TB",
                                       "PB", "EB" };
  double value = bytes;
  unsigned i = 0;

  while (i + 1 < sizeof units / sizeof units[0] && value >= 1000) {
    value /= 1000;
    i++;
  }
  if (i == 0)
    snprintf (buffer, size, "%" PRIu64 " bytes", bytes);
  else
    snprintf (buffer, size, value == (uint64_t) value ? "%.0f %s" : "%.1f %s",
              value, units[i]);
  return buffer;
}

const char *
tool_compression_name (enum vswap_compression compression, int level,
                       char *buffer, size_t size)
{
  switch (compression) {
  case VSWAP_COMPRESS_NONE:
    snprintf (buffer, size, "none");
    break;
  case VSWAP_COMPRESS_ZSTD:
    /* The store keeps 0 for "the default", which is level 1. */
    snprintf (buffer, size, "zstd level %d", level ? level : 1);
    break;
  default:
    snprintf (buffer, size, "unknown (%d)", (int) compression);
    break;
  }
  return buffer;
}
