/* vswap: unit test of common/bitmap.h. */
#include <config.h>

#include <stdlib.h>

#include <check.h>

#include "helpers.h"
#include "bitmap.h"

START_TEST (test_bitmap)
{
  uint64_t bits[3] = { 0 };
  vswap_bitmap_set (bits, 0, true);
  vswap_bitmap_set (bits, 63, true);
  vswap_bitmap_set (bits, 64, true);
  vswap_bitmap_set (bits, 191, true);
  ck_assert (vswap_bitmap_get (bits, 63) && vswap_bitmap_get (bits, 64));
  ck_assert (!vswap_bitmap_get (bits, 1) && !vswap_bitmap_get (bits, 190));
  vswap_bitmap_set (bits, 64, false);
  ck_assert (!vswap_bitmap_get (bits, 64) && vswap_bitmap_get (bits, 191));
}
END_TEST

START_TEST (test_bitmap_words)
{
  /* Bit I lives in word I / 64 at position I % 64, and setting one bit
   * touches no other. */
  uint64_t bits[2] = { 0 };
  vswap_bitmap_set (bits, 70, true);
  ck_assert_uint_eq (bits[0], 0);
  ck_assert_uint_eq (bits[1], UINT64_C (1) << 6);
  vswap_bitmap_set (bits, 70, true);
  ck_assert_uint_eq (bits[1], UINT64_C (1) << 6);
  bits[0] = UINT64_MAX;
  vswap_bitmap_set (bits, 5, false);
  ck_assert_uint_eq (bits[0], UINT64_MAX & ~(UINT64_C (1) << 5));
  ck_assert (vswap_bitmap_get (bits, 4) && !vswap_bitmap_get (bits, 5));
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("bitmap", test_bitmap, test_bitmap_words,
                                     NULL));
}
