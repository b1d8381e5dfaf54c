/* vswap: what the C tests share (tests/helpers.h). */
#include <config.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "medium.h"

uint64_t
test_random_next (struct test_random *random)
{
  random->state ^= random->state >> 12;
  random->state ^= random->state << 25;
  random->state ^= random->state >> 27;
  return random->state * UINT64_C (2685821657736338717);
}

uint64_t
test_random_below (struct test_random *random, uint64_t n)
{
  return n ? test_random_next (random) % n : 0;
}

void
test_random_fill (struct test_random *random, void *buffer, size_t length)
{
  unsigned char *p = buffer;

  for (size_t i = 0; i < length; i += 8) {
    const uint64_t word = test_random_next (random);

    memcpy (p + i, &word, length - i < 8 ? length - i : 8);
  }
}

void *
test_buffer (size_t length)
{
  void *p = NULL;

  ck_assert_int_eq (posix_memalign (&p, VSWAP_MEDIUM_BUFFER_ALIGN, length),
                    0);
  return p;
}

void
test_fill_pattern (void *buffer, size_t length, unsigned seed)
{
  unsigned char *p = buffer;

  for (size_t i = 0; i < length; i++)
    p[i] = (unsigned char) (seed * 131 + i * 7 + (i >> 12));
}

Suite *
test_suite (const char *name, ...)
{
  Suite *suite = suite_create (name);
  TCase *tc = tcase_create (name);
  const TTest *test;
  va_list tests;

  va_start (tests, name);
  while ((test = va_arg (tests, const TTest *)) != NULL)
    tcase_add_test (tc, test);
  va_end (tests);
  suite_add_tcase (suite, tc);
  return suite;
}

int
test_run_suite (Suite *suite)
{
  SRunner *runner = srunner_create (suite);
  int failed;

  srunner_run_all (runner, CK_NORMAL);
  failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
