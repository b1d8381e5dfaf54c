/* vswap: what the C tests share: a reproducible random generator, pages
 * of random bytes, and the run of a Check suite (the same few lines at
 * the end of every test's main).  Built once into libhelpers.la; link it
 * with $(HELPERS_LIBS) (see tests/Makefile.am).
 */
#ifndef VSWAP_TEST_HELPERS_H
#define VSWAP_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include <check.h>

/* xorshift64* (Vigna): fast, plenty random for "incompressible", and the
 * same sequence from the same state on every machine, so that a seed
 * printed by a failing test replays it.  Set .state directly; it must not
 * be 0 (a zero state stays zero: seed with "seed | 1" when unsure). */
struct test_random {
  uint64_t state;
};

/* The next 64 random bits. */
uint64_t test_random_next (struct test_random *random);

/* A number from 0 to N - 1 (0 when N is 0). */
uint64_t test_random_below (struct test_random *random, uint64_t n);

/* Fill LENGTH bytes with random bytes: one test_random_next per 8 bytes,
 * stored in native byte order (the last, partial word cut short).
 * Incompressible, so zstd stores such a page raw. */
void test_random_fill (struct test_random *random, void *buffer,
                       size_t length);

/* LENGTH bytes aligned for any medium's O_DIRECT transfers
 * (VSWAP_MEDIUM_BUFFER_ALIGN); fails the running Check test when there is
 * no memory.  free() it. */
void *test_buffer (size_t length);

/* Fill LENGTH bytes with a pattern that differs from byte to byte, from
 * 4 KiB page to page and from SEED to SEED: a misplaced or stale page
 * shows. */
void test_fill_pattern (void *buffer, size_t length, unsigned seed);

/* A suite called NAME of one test case holding the tests that follow,
 * up to a NULL: "return test_run_suite (test_suite ("uuid", test_format,
 * test_extremes, NULL));" is a whole main.  (START_TEST names a const
 * TTest *: Check 0.13 and later.) */
Suite *test_suite (const char *name, ...);

/* Run every test of SUITE (CK_NORMAL: one line per failure, a summary)
 * and free it.  Returns the exit status for main: EXIT_SUCCESS when every
 * test passed, EXIT_FAILURE otherwise. */
int test_run_suite (Suite *suite);

#endif /* VSWAP_TEST_HELPERS_H */
