/* vswap: rounding to a multiple of a unit (write units, erase blocks,
 * buffer alignment).  UNIT need not be a power of two: a medium's erase
 * block may be, say, 3 MiB.
 */
#ifndef VSWAP_ROUNDING_H
#define VSWAP_ROUNDING_H

#include <stdint.h>

/* The smallest multiple of UNIT that is >= N.  UNIT must not be 0. */
static inline uint64_t
round_up (uint64_t n, uint64_t unit)
{
  return (n + unit - 1) / unit * unit;
}

/* The largest multiple of UNIT that is <= N.  UNIT must not be 0. */
static inline uint64_t
round_down (uint64_t n, uint64_t unit)
{
  return n / unit * unit;
}

#endif /* VSWAP_ROUNDING_H */
