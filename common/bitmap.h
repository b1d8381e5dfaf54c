/* vswap: bitmaps kept as arrays of uint64_t, bit I in word I / 64.  The
 * caller sizes the array ((bits + 63) / 64 words) and locks it.
 */
#ifndef VSWAP_BITMAP_H
#define VSWAP_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

static inline bool
vswap_bitmap_get (const uint64_t *bitmap, uint64_t i)
{
  return (bitmap[i / 64] >> (i % 64)) & 1;
}

static inline void
vswap_bitmap_set (uint64_t *bitmap, uint64_t i, bool value)
{
  if (value)
    bitmap[i / 64] |= UINT64_C (1) << (i % 64);
  else
    bitmap[i / 64] &= ~(UINT64_C (1) << (i % 64));
}

#endif /* VSWAP_BITMAP_H */
