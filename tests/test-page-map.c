/* vswap: unit test of the map entry encoding and the pattern table
 * (core/page_map.h). */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "helpers.h"
#include "page_map.h"

START_TEST (test_entries)
{
  ck_assert (!vswap_map_is_stored (VSWAP_MAP_UNMAPPED));
  ck_assert (!vswap_map_is_same (VSWAP_MAP_ZERO));
  ck_assert (!vswap_map_is_same (VSWAP_MAP_DROPPED));

  const vswap_map_entry s = vswap_map_stored (VSWAP_MAP_MAX_ADDRESS);
  ck_assert (vswap_map_is_stored (s));
  ck_assert (!vswap_map_is_same (s));
  ck_assert_uint_eq (vswap_map_address (s), VSWAP_MAP_MAX_ADDRESS);
  ck_assert_uint_eq (vswap_map_address (vswap_map_stored (0)), 0);
  ck_assert (vswap_map_stored (0) != VSWAP_MAP_UNMAPPED);

  const vswap_map_entry p = vswap_map_same (VSWAP_MAP_MAX_PATTERN_INDEX);
  ck_assert (vswap_map_is_same (p));
  ck_assert (!vswap_map_is_stored (p));
  ck_assert_uint_eq (vswap_map_pattern_index (p), VSWAP_MAP_MAX_PATTERN_INDEX);
  ck_assert (vswap_map_same (0) != VSWAP_MAP_ZERO);
}
END_TEST

START_TEST (test_pattern_table)
{
  static struct vswap_pattern_table t;
  memset (&t, 0, sizeof t);

  const int32_t a = vswap_pattern_acquire (&t, UINT64_MAX);
  ck_assert_int_ge (a, 0);
  ck_assert_int_eq (vswap_pattern_acquire (&t, UINT64_MAX), a);
  ck_assert_uint_eq (vswap_pattern_get (&t, a), UINT64_MAX);
  const int32_t b = vswap_pattern_acquire (&t, 0x0101010101010101);
  ck_assert_int_ge (b, 0);
  ck_assert_int_ne (a, b);

  /* Two references: the slot survives one release, not two. */
  vswap_pattern_release (&t, a);
  ck_assert_uint_eq (vswap_pattern_get (&t, a), UINT64_MAX);
  vswap_pattern_release (&t, a);
  ck_assert_uint_eq (t.references[a], 0);

  /* Fill the table: acquire fails cleanly instead of evicting. */
  int failures = 0;
  for (uint64_t i = 1; i <= 4 * VSWAP_PATTERN_SLOTS; i++)
    if (vswap_pattern_acquire (&t, i * 0x9e3779b97f4a7c15) < 0)
      failures++;
  ck_assert_int_gt (failures, 0);
  ck_assert_uint_eq (vswap_pattern_get (&t, b), 0x0101010101010101);
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("page-map", test_entries,
                                     test_pattern_table, NULL));
}
