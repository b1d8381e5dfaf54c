/* vswap: unit test of what the C tests share (tests/helpers.h): the
 * generator gives xorshift64*'s sequence (the one the tests' seeds were
 * chosen with), fills byte for byte from it, test_suite holds every test
 * it is given, and a suite's result becomes the exit status. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "helpers.h"

START_TEST (test_sequence)
{
  /* xorshift64* from state 1, worked out by hand (Python). */
  struct test_random random = { 1 };

  ck_assert_uint_eq (test_random_next (&random),
                     UINT64_C (0x47e4ce4b896cdd1d));
  ck_assert_uint_eq (test_random_next (&random),
                     UINT64_C (0xabcfa6a8e079651d));
  ck_assert_uint_eq (test_random_next (&random),
                     UINT64_C (0xb9d10d8feb731f57));
}
END_TEST

START_TEST (test_fill)
{
  struct test_random a = { 7 }, b = { 7 };
  unsigned char buffer[21], expected[24];

  memset (buffer, 0xaa, sizeof buffer);
  test_random_fill (&a, buffer, 20);
  for (int i = 0; i < 3; i++) {
    const uint64_t word = test_random_next (&b);
    memcpy (expected + 8 * i, &word, 8);
  }
  ck_assert_mem_eq (buffer, expected, 20);
  ck_assert_uint_eq (buffer[20], 0xaa);         /* not a byte more */
  /* The state moved on by three words. */
  ck_assert_uint_eq (a.state, b.state);
}
END_TEST

START_TEST (test_below)
{
  struct test_random random = { 99 };

  ck_assert_uint_eq (test_random_below (&random, 0), 0);
  for (int i = 0; i < 1000; i++)
    ck_assert_uint_lt (test_random_below (&random, 7), 7);
}
END_TEST

START_TEST (test_passing)
{
}
END_TEST

START_TEST (test_failing)
{
  ck_abort_msg ("this failure is expected: test-helpers checks that a "
                "failing suite fails");
}
END_TEST

START_TEST (test_run_result)
{
  ck_assert_int_eq (test_run_suite (test_suite ("inner", test_passing,
                                                NULL)), EXIT_SUCCESS);
  ck_assert_int_eq (test_run_suite (test_suite ("inner", test_passing,
                                                test_failing, NULL)),
                    EXIT_FAILURE);
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("helpers", test_sequence, test_fill,
                                     test_below, test_run_result, NULL));
}
