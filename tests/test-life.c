/* vswap: tests of core/life.h, the projected life of the medium. */

#include <config.h>

#include <check.h>
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "life.h"

#define TB (UINT64_C (1000000000000))
#define GIB (UINT64_C (1) << 30)

START_TEST (test_unknown_endurance)
{
  struct vswap_life life;

  vswap_project_life (0, 2 * GIB, 123456789, 10, 1000, &life);
  ck_assert (!life.known);
  ck_assert_double_eq (life.worn, 0);
  ck_assert_double_eq (life.seconds_left, 0);
}
END_TEST

START_TEST (test_by_bytes)
{
  struct vswap_life life;

  /* 40 TBW, 10 TB written, erases spread thinly: a quarter worn, 30 TB
   * left, at 1 MB/s about 951 years. */
  vswap_project_life (40 * TB, 2 * GIB, 10 * TB, 1, 1e6, &life);
  ck_assert (life.known);
  ck_assert_double_eq_tol (life.worn_by_bytes, 0.25, 1e-12);
  ck_assert_double_eq (life.worn, life.worn_by_bytes);
  ck_assert_uint_eq (life.remaining_bytes, 30 * TB);
  ck_assert_double_eq_tol (life.seconds_left, 30e6, 1e-3);
}
END_TEST

START_TEST (test_by_erases)
{
  struct vswap_life life;

  /* 1000 cycles of a 1 GiB medium; one segment erased 500 times though
   * few bytes were written: half worn where it is worn most. */
  vswap_project_life (1000 * GIB, GIB, 10 * GIB, 500, 1e6, &life);
  ck_assert_double_eq_tol (life.worn_by_bytes, 0.01, 1e-12);
  ck_assert_double_eq_tol (life.worn_by_erases, 0.5, 1e-12);
  ck_assert_double_eq (life.worn, life.worn_by_erases);
  ck_assert_uint_eq (life.remaining_bytes, 500 * GIB);
}
END_TEST

START_TEST (test_no_writes_and_used_up)
{
  struct vswap_life life;

  vswap_project_life (40 * TB, 2 * GIB, TB, 1, 0, &life);
  ck_assert (life.seconds_left < 0);           /* no end in sight */
  vswap_project_life (40 * TB, 2 * GIB, 41 * TB, 1, 1e6, &life);
  ck_assert_double_eq (life.seconds_left, 0);  /* used up */
  ck_assert_uint_eq (life.remaining_bytes, 0);
  ck_assert (life.worn > 1);
}
END_TEST

START_TEST (test_parse)
{
  uint64_t bytes;

  ck_assert_int_eq (vswap_parse_endurance ("40TBW", 0, &bytes), 0);
  ck_assert_uint_eq (bytes, 40 * TB);
  ck_assert_int_eq (vswap_parse_endurance ("40tb", 0, &bytes), 0);
  ck_assert_uint_eq (bytes, 40 * TB);
  ck_assert_int_eq (vswap_parse_endurance ("1.5PBW", 0, &bytes), 0);
  ck_assert_uint_eq (bytes, 1500 * TB);
  ck_assert_int_eq (vswap_parse_endurance ("600GBW", 0, &bytes), 0);
  ck_assert_uint_eq (bytes, 600 * UINT64_C (1000000000));
  ck_assert_int_eq (vswap_parse_endurance ("3000x", 2 * GIB, &bytes), 0);
  ck_assert_uint_eq (bytes, 6000 * GIB);
  ck_assert_int_eq (vswap_parse_endurance ("3000cycles", GIB, &bytes), 0);
  ck_assert_uint_eq (bytes, 3000 * GIB);
  ck_assert_int_eq (vswap_parse_endurance ("123456", 0, &bytes), 0);
  ck_assert_uint_eq (bytes, 123456);
  /* Junk, nothing, negatives, binary suffixes (ambiguous for ratings),
   * cycles with no capacity to multiply. */
  const char *bad[] = { "", "TBW", "-1TBW", "0", "40TiB", "40T", "40 TBW",
                        "40TBWx", "1e30", "nan", "inf" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg (vswap_parse_endurance (bad[i], GIB, &bytes) == -EINVAL,
                   "%s", bad[i]);
  ck_assert_int_eq (vswap_parse_endurance ("3000x", 0, &bytes), -EINVAL);
}
END_TEST

START_TEST (test_duration_text)
{
  char text[32];

  ck_assert_str_eq (vswap_duration_text (3 * 365.25 * 86400, text,
                                         sizeof text), "3.0 years");
  ck_assert_str_eq (vswap_duration_text (41 * 86400, text, sizeof text),
                    "41 days");
  ck_assert_str_eq (vswap_duration_text (5 * 3600, text, sizeof text),
                    "5.0 hours");
  ck_assert_str_eq (vswap_duration_text (30, text, sizeof text),
                    "0.5 minutes");
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("life", test_unknown_endurance,
                                     test_by_bytes, test_by_erases,
                                     test_no_writes_and_used_up, test_parse,
                                     test_duration_text, NULL));
}
