/* vswap: the newest record of a page wins, whatever heads, chunks and
 * segments its records sit in (DESIGN.md, invariant 8), and the write
 * buffer covers every acknowledged write wherever it lands.
 *
 * Issue 13, parts A and B, found on the format of version 1: with two
 * open segments and GC busy, a ZERO or SAME record of a page whose GC copy
 * was still unsealed went to the GC head, the page's next data to the user
 * head, and a restart replayed the older record last (2 to 10 pages in
 * 6,000 operations); and user writes that landed in the GC head were not
 * in the write buffer, so SIGKILL lost acknowledged writes.
 *
 * Each case runs on a RAM medium with 1 MiB segments (one chunk each, the
 * layout the bug showed on) and a store 85% full, so that GC runs all the
 * time, and restarts every 30 operations.  VSWAP_ORDER_ROUNDS sets the
 * restarts (default 200).  On version 1, 200 rounds found 1 wrong page
 * after a clean restart (seed 1 of 2), and 1 after a kill with the write
 * buffer for each of the 2 seeds.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "medium.h"
#include "store.h"

#define PAGE 4096
#define SEGMENT (1024 * 1024)

/* What a page holds: its kind and version; the bytes follow from them. */
enum kind { UNWRITTEN, DATA, ZERO, SAME };

struct page_state {
  uint8_t kind;
  uint32_t version;
};

struct run {
  struct vswap_medium *medium;
  struct vswap_store *store;
  struct vswap_open_options options;
  bool background;              /* the collector and the medium writer run */
  uint64_t pages;
  struct page_state *expect;
  uint64_t rng;
  uint8_t page[PAGE], back[PAGE];
  uint64_t writes;
};

static uint64_t
next (struct run *r)
{
  r->rng ^= r->rng << 13;
  r->rng ^= r->rng >> 7;
  r->rng ^= r->rng << 17;
  return r->rng;
}

static void
content (uint64_t page, struct page_state s, uint8_t *out)
{
  switch (s.kind) {
  case UNWRITTEN:
  case ZERO:
    memset (out, 0, PAGE);
    return;
  case SAME: {
    const uint64_t pattern = UINT64_C (0x0101010101010101) * (1 + s.version % 250);
    for (int i = 0; i < PAGE; i += 8)
      memcpy (out + i, &pattern, 8);
    return;
  }
  default: {
    uint64_t x = (page << 24 ^ s.version) * 0x9e3779b97f4a7c15 + 1;
    for (int i = 0; i < PAGE; i += 8) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      memcpy (out + i, &x, 8);
    }
  }
  }
}

static void
write_page (struct run *r, uint64_t page, uint8_t kind)
{
  struct page_state s = { kind, ++r->writes };
  content (page, s, r->page);
  ck_assert_int_eq (vswap_store_write (r->store, r->page, PAGE, page * PAGE,
                                       false), 0);
  r->expect[page] = s;
}

static void
open_run (struct run *r)
{
  struct vswap_error err = { "" };
  r->store = vswap_store_open (r->medium, &r->options, &err);
  ck_assert_msg (r->store != NULL, "open: %s", err.message);
  if (r->background)
    ck_assert_int_eq (vswap_store_start_background (r->store), 0);
}

/* Every page reads as what was last written to it. */
static void
verify (struct run *r, const char *when, unsigned round)
{
  uint64_t wrong = 0, first = UINT64_MAX;
  for (uint64_t p = 0; p < r->pages; p++) {
    content (p, r->expect[p], r->page);
    const int e = vswap_store_read (r->store, r->back, PAGE, p * PAGE);
    if (e != 0 || memcmp (r->page, r->back, PAGE) != 0) {
      if (first == UINT64_MAX)
        first = p;
      wrong++;
    }
  }
  ck_assert_msg (wrong == 0, "%s, round %u: %" PRIu64 " pages do not read "
                 "as last written (first: page %" PRIu64 ")", when, round,
                 wrong, first);
}

/* The bug showed when a restart came soon after the two records of a
 * page: few operations between restarts, many restarts. */
#define OPERATIONS_PER_ROUND 30

static unsigned
rounds (void)
{
  const char *s = getenv ("VSWAP_ORDER_ROUNDS");
  return s ? (unsigned) strtoul (s, NULL, 0) : 200;
}

static void
setup_run (struct run *r, uint64_t seed, const char *buffer)
{
  struct vswap_error err = { "" };
  const struct vswap_medium_options mo = { .erase_block = SEGMENT };
  /* Odd seeds run with the background threads: GC collects and the
   * medium writer writes while requests go on. */
  *r = (struct run) { .rng = seed, .background = seed & 1 };
  r->medium = vswap_medium_open ("memory:33554432", &mo, &err);
  ck_assert_msg (r->medium != NULL, "%s", err.message);
  /* 32 segments: 2 superblocks, 2 heads, a reserve of 2; 22 MiB of
   * pages fill 85% of the other 26, so that GC always has copies
   * waiting in its head. */
  const struct vswap_format_options fo = {
    .logical_size = 22 << 20,
    .open_segments = 2,
    .compression = VSWAP_COMPRESS_NONE,
    .compression_chosen = true,
  };
  ck_assert_msg (vswap_store_format (r->medium, &fo, NULL, NULL, &err) == 0,
                 "%s", err.message);
  r->options.buffer = buffer;
  open_run (r);
  r->pages = vswap_store_size (r->store) / PAGE;
  r->expect = calloc (r->pages, sizeof *r->expect);
  ck_assert (r->expect);
  for (uint64_t p = 0; p < r->pages; p++)
    write_page (r, p, DATA);
}

static void
teardown_run (struct run *r)
{
  ck_assert_int_eq (vswap_store_close (r->store), 0);
  vswap_medium_close (r->medium);
  free (r->expect);
}

/* One operation: mostly data overwrites, and zero or same-filled pages
 * followed at once by data to the same page (or left as they are). */
static void
operation (struct run *r)
{
  const uint64_t p = next (r) % r->pages;
  switch (next (r) % 8) {
  case 0:
    write_page (r, p, ZERO);
    write_page (r, p, DATA);
    break;
  case 1:
    write_page (r, p, SAME);
    write_page (r, p, DATA);
    break;
  case 2:
    write_page (r, p, next (r) % 2 ? ZERO : SAME);
    break;
  case 3: {
    /* A trim, then data into part of it. */
    const uint64_t n = 1 + next (r) % 8;
    if (p + n > r->pages)
      break;
    ck_assert_int_eq (vswap_store_trim (r->store, n * PAGE, p * PAGE, false),
                      0);
    for (uint64_t i = 0; i < n; i++)
      r->expect[p + i] = (struct page_state) { UNWRITTEN, 0 };
    write_page (r, p + next (r) % n, DATA);
    break;
  }
  default:
    write_page (r, p, DATA);
  }
}

/* A: flush, clean close, reopen: every page as last written. */
START_TEST (test_newest_record_wins_after_clean_restart)
{
  struct run r;
  setup_run (&r, 88172645463325252 + _i, NULL);
  const unsigned n = rounds ();
  for (unsigned round = 0; round < n; round++) {
    for (int i = 0; i < OPERATIONS_PER_ROUND; i++)
      operation (&r);
    ck_assert_int_eq (vswap_store_flush (r.store), 0);
    verify (&r, "before the restart", round);
    ck_assert_int_eq (vswap_store_close (r.store), 0);
    open_run (&r);
    verify (&r, "after a clean restart", round);
  }
  teardown_run (&r);
}
END_TEST

/* And after a crash that follows a flush (nothing written since). */
START_TEST (test_newest_record_wins_after_crash)
{
  struct run r;
  setup_run (&r, 1181783497276652981 + _i, NULL);
  const unsigned n = rounds ();
  for (unsigned round = 0; round < n; round++) {
    for (int i = 0; i < OPERATIONS_PER_ROUND; i++)
      operation (&r);
    ck_assert_int_eq (vswap_store_flush (r.store), 0);
    vswap_store_abandon (r.store);
    open_run (&r);
    verify (&r, "after a crash", round);
  }
  teardown_run (&r);
}
END_TEST

/* B: with the write buffer, a kill (the store abandoned, its buffer file
 * left as the process left it) loses no acknowledged write, flushed or
 * not. */
START_TEST (test_write_buffer_covers_every_write)
{
  char dir[] = "/tmp/vswap-order.XXXXXX";
  ck_assert (mkdtemp (dir) != NULL);
  char buffer[64];
  snprintf (buffer, sizeof buffer, "%s/buffer", dir);
  struct run r;
  setup_run (&r, 0x2545F4914F6CDD1D + _i, buffer);
  const unsigned n = rounds ();
  for (unsigned round = 0; round < n; round++) {
    for (int i = 0; i < OPERATIONS_PER_ROUND; i++)
      operation (&r);
    vswap_store_abandon (r.store);
    open_run (&r);
    verify (&r, "after a kill", round);
  }
  teardown_run (&r);
  unlink (buffer);
  rmdir (dir);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("record order");
  TCase *tc = tcase_create ("order");
  tcase_set_timeout (tc, 1200);
  tcase_add_loop_test (tc, test_newest_record_wins_after_clean_restart, 0, 4);
  tcase_add_loop_test (tc, test_newest_record_wins_after_crash, 0, 4);
  tcase_add_loop_test (tc, test_write_buffer_covers_every_write, 0, 4);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
