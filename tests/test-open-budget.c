/* vswap: the writer and GC never have more segments open than the budget
 * the superblock records.
 *
 * The simulated medium counts the erase blocks that are partly programmed
 * and not yet finished (flash/simulated.h, max_open_blocks): what a zoned
 * device or a card counts against its open-zone or open-AU limit.  A card
 * that keeps open_aus AUs open makes format record that budget; random
 * swap writes with trims, enough to make GC run many times, a clean close
 * and a reopen, must stay within it.  With a budget of 2 both heads (user
 * and GC) must also really be open at once, or the test proves nothing.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "helpers.h"
#include "medium.h"
#include "simulated.h"
#include "store.h"

#define KiB (UINT64_C (1) << 10)
#define PAGES 6144                      /* 24 MiB of swap on a 32 MiB card */

static uint64_t
next_random (uint64_t *state)
{
  uint64_t z = (*state += UINT64_C (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Random pages (incompressible, never zero) to random slots, a trim now
 * and then: the store fills up and GC copies live records while the user
 * head is open. */
static void
swap_traffic (struct vswap_store *store, uint64_t writes, uint64_t *rng)
{
  uint8_t *page = NULL;

  ck_assert_int_eq (posix_memalign ((void **) &page, 4096, 4 * KiB), 0);
  for (uint64_t i = 0; i < writes; i++) {
    const uint64_t slot = next_random (rng) % PAGES;

    if (i % 16 == 15) {
      ck_assert_int_eq (vswap_store_trim (store, 16 * 4 * KiB,
                                          slot / 16 * 16 * 4 * KiB, false),
                         0);
      continue;
    }
    for (size_t j = 0; j < 4 * KiB; j += 8) {
      const uint64_t v = next_random (rng);
      memcpy (page + j, &v, 8);
    }
    ck_assert_int_eq (vswap_store_write (store, page, 4 * KiB,
                                         slot * 4 * KiB, false), 0);
  }
  free (page);
}

static void
run_budget (uint32_t open_aus)
{
  char spec[128];
  struct vswap_error err = { "" };
  struct vswap_simulated_counters c;
  struct vswap_statistics statistics;
  uint64_t rng = open_aus;

  snprintf (spec, sizeof spec, "sim:32M,erase-block=512K,au=512K,"
            "open-aus=%" PRIu32, open_aus);
  struct vswap_medium *m = vswap_medium_open (spec, NULL, &err);
  ck_assert_msg (m != NULL, "%s: %s", spec, err.message);
  ck_assert_uint_eq (m->geometry.max_open_segments, open_aus);

  const struct vswap_format_options fo = {
    .logical_size = PAGES * 4 * KiB,
    .compression_chosen = true,
  };
  ck_assert_msg (vswap_store_format (m, &fo, NULL, NULL, &err) == 0, "%s",
                 err.message);
  const struct vswap_open_options oo = { .readtrim = VSWAP_READTRIM_OFF };
  for (int life = 0; life < 2; life++) {
    struct vswap_store *store = vswap_store_open (m, &oo, &err);
    struct vswap_store_info info;

    ck_assert_msg (store != NULL, "%s", err.message);
    vswap_store_get_info (store, &info);
    ck_assert_uint_eq (info.open_segments, open_aus);
    swap_traffic (store, 3 * PAGES, &rng);
    vswap_store_statistics (store, &statistics);
    ck_assert_uint_gt (statistics.gc_runs, 0);
    ck_assert_int_eq (vswap_store_close (store), 0);
  }
  ck_assert_int_eq (vswap_simulated_counters (m, &c), 0);
  vswap_medium_close (m);

  printf ("budget %" PRIu32 ": at most %" PRIu32 " erase blocks open at "
          "once, %" PRIu64 " GC runs in the last life, %" PRIu64
          " blocks erased\n", open_aus, c.max_open_blocks,
          statistics.gc_runs, c.block_erases);
  ck_assert_uint_le (c.max_open_blocks, open_aus);
  ck_assert_uint_eq (c.max_open_blocks, open_aus);
}

START_TEST (test_budget_one) { run_budget (1); }
END_TEST

START_TEST (test_budget_two) { run_budget (2); }
END_TEST

int
main (void)
{
  Suite *s = suite_create ("open-budget");
  TCase *tc = tcase_create ("open-budget");

  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_budget_one);
  tcase_add_test (tc, test_budget_two);
  suite_add_tcase (s, tc);

  return test_run_suite (s);
}
