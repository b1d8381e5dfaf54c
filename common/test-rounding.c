/* vswap: unit test of common/rounding.h. */
#include <config.h>

#include <stdlib.h>

#include <check.h>

#include "helpers.h"
#include "rounding.h"

START_TEST (test_round_up)
{
  ck_assert_uint_eq (round_up (0, 4096), 0);
  ck_assert_uint_eq (round_up (1, 4096), 4096);
  ck_assert_uint_eq (round_up (4096, 4096), 4096);
  ck_assert_uint_eq (round_up (4097, 4096), 8192);
  /* Units need not be powers of two: a 3 MiB erase block. */
  ck_assert_uint_eq (round_up (1, 3 << 20), 3 << 20);
  ck_assert_uint_eq (round_up ((3 << 20) + 1, 3 << 20), 6 << 20);
  ck_assert_uint_eq (round_up (7, 1), 7);
  ck_assert_uint_eq (round_up (UINT64_C (1) << 40, 512),
                     UINT64_C (1) << 40);
}
END_TEST

START_TEST (test_round_down)
{
  ck_assert_uint_eq (round_down (0, 4096), 0);
  ck_assert_uint_eq (round_down (4095, 4096), 0);
  ck_assert_uint_eq (round_down (4096, 4096), 4096);
  ck_assert_uint_eq (round_down (8191, 4096), 4096);
  ck_assert_uint_eq (round_down ((6 << 20) - 1, 3 << 20), 3 << 20);
  ck_assert_uint_eq (round_down (UINT64_MAX, 2), UINT64_MAX - 1);
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("rounding", test_round_up,
                                     test_round_down, NULL));
}
