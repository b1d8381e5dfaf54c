/* vswap torture: flushed data after a clean restart, with GC busy and
 * pages changing kind (issue 13 A).
 *
 * A store small enough that GC runs all the time (a 64 MiB file, 1 MiB
 * segments, the default two open segments, three quarters of the logical
 * size in use) takes "episodes" among random overwrites of 1-32 pages
 * of data: a few pages are written as zeros (zero pages, WRITE_ZEROES or
 * TRIM) or as same-filled pages, then, some requests later, as data.  After each
 * cycle of requests: FLUSH, read every page (it must already be right),
 * stop the server cleanly (SIGTERM), start it again on the same store and
 * read every page: each must read what was last written to it.  A page
 * that reads its earlier zeros or pattern is the bug of issue 13 A: the
 * order of one page's records across the two write heads is lost.
 *
 * Exit status 0 when every page read right after every restart, 1 when
 * any did not (or on any other failure), 77 without nbdkit.
 *
 * Environment (the defaults are the quick size; VSWAP_TORTURE=slow the
 * long one):
 *   VSWAP_SEED                   first seed (default: the clock)
 *   VSWAP_TORTURE_SEEDS          stores, one seed each (quick 2, slow 8)
 *   VSWAP_TORTURE_CYCLES         restarts per store (quick 6, slow 12)
 *   VSWAP_TORTURE_OPERATIONS     requests per cycle (800)
 *   VSWAP_TORTURE_EPISODE_PERCENT  requests that start an episode (2; as
 *                                many end one; the rest overwrite 1-32
 *                                pages with data)
 *   VSWAP_TORTURE_BURST_PERCENT  the same in the last quarter of each
 *                                cycle (30)
 *   VSWAP_TORTURE_ERASE_BLOCK    segment size (default 1M)
 *   VSWAP_TORTURE_OPEN_SEGMENTS  write heads (default: format's, 2)
 *   VSWAP_TORTURE_BUFFER         the plugin's buffer= (default: a file in
 *                                the work directory; "none" for none)
 *   VSWAP_TORTURE_KEEP=1         keep the work directory
 * and VSWAP (tools/vswap), VSWAP_PLUGIN, set by make torture.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torture-nbd.h"

#define MEDIUM_SIZE "64M"
#define MAX_REQUEST_PAGES 32
#define MAX_EPISODES 64
#define BAD_SIZE 4096

struct episode {
  uint64_t page;
  unsigned count;
};

static struct torture_model model;
static uint64_t used_pages;     /* pages 0..used_pages-1 hold data */
static uint8_t buffer[MAX_REQUEST_PAGES * TORTURE_PAGE];
static uint64_t bad[BAD_SIZE];

/* Data, as most of what swap writes is.  Same-filled pages and zeros come
 * only from episodes, and stay rare: GC seals its head after collecting a
 * segment that holds any such record, and the trouble needs a GC copy
 * that waits unsealed while the page is written. */
static enum torture_kind
data_kind (struct test_random *r)
{
  return test_random_below (r, 4) ? TORTURE_RANDOM : TORTURE_TEXT;
}

/* Write COUNT pages from PAGE, each a new version of KIND (or of a kind
 * chosen per page if KIND is TORTURE_KINDS). */
static void
write_pages (struct nbd_handle *h, struct test_random *r, uint64_t page,
             unsigned count, enum torture_kind kind)
{
  for (unsigned i = 0; i < count; i++) {
    const enum torture_kind k = kind == TORTURE_KINDS ? data_kind (r) : kind;
    const uint64_t v = torture_model_set (&model, page + i, k, false);
    torture_page_fill (buffer + i * TORTURE_PAGE, page + i, v, k);
  }
  if (nbd_pwrite (h, buffer, (size_t) count * TORTURE_PAGE,
                  page * TORTURE_PAGE, 0) == -1)
    torture_die ("write of %u pages at page %" PRIu64 ": %s", count, page,
                 nbd_get_error ());
}

/* Pages PAGE..PAGE+COUNT-1 become zeros or a same-filled page, the first
 * half of an episode.  Returns what it did, for the statistics. */
static const char *
episode_start (struct nbd_handle *h, struct test_random *r, uint64_t page,
               unsigned count)
{
  const unsigned x = test_random_below (r, 100);
  int ret = 0;

  if (x < 45) {
    write_pages (h, r, page, count, TORTURE_ZERO);
    return "zero page";
  }
  if (x < 65) {
    write_pages (h, r, page, count, TORTURE_SAME);
    return "same-filled";
  }
  if (x < 75) {
    write_pages (h, r, page, count, TORTURE_SAME_COMMON);
    return "same-filled";
  }
  for (unsigned i = 0; i < count; i++)
    torture_model_set (&model, page + i, TORTURE_ZERO, false);
  if (x < 88)
    ret = nbd_zero (h, (uint64_t) count * TORTURE_PAGE, page * TORTURE_PAGE,
                    0);
  else
    ret = nbd_trim (h, (uint64_t) count * TORTURE_PAGE, page * TORTURE_PAGE,
                    0);
  if (ret == -1)
    torture_die ("%s of %u pages at page %" PRIu64 ": %s",
                 x < 88 ? "zero" : "trim", count, page, nbd_get_error ());
  return x < 88 ? "WRITE_ZEROES" : "TRIM";
}

/* Rewrite the pages a verification found wrong, so that the next cycle
 * counts only its own. */
static void
rewrite_bad (struct nbd_handle *h, struct test_random *r, size_t count)
{
  for (size_t i = 0; i < count; i++)
    write_pages (h, r, bad[i], 1, TORTURE_RANDOM);
}

int
main (void)
{
  torture_program = "torture-restart";
  const bool slow = torture_slow ();
  const uint64_t seeds = torture_env_number ("VSWAP_TORTURE_SEEDS",
                                             slow ? 8 : 2);
  const uint64_t cycles = torture_env_number ("VSWAP_TORTURE_CYCLES",
                                              slow ? 12 : 6);
  const uint64_t operations =
    torture_env_number ("VSWAP_TORTURE_OPERATIONS", 800);
  const uint64_t quiet_percent =
    torture_env_number ("VSWAP_TORTURE_EPISODE_PERCENT", 2);
  const uint64_t burst_percent =
    torture_env_number ("VSWAP_TORTURE_BURST_PERCENT", 30);
  const char *erase_block = getenv ("VSWAP_TORTURE_ERASE_BLOCK");
  const char *open_segments = getenv ("VSWAP_TORTURE_OPEN_SEGMENTS");
  const char *tool = torture_tool ();
  const uint64_t first_seed = torture_seed ();
  struct torture_tally total_after = { .eio = 0 }, total_before = { .eio = 0 };
  uint64_t total_operations = 0, total_episodes = 0, restarts = 0;
  uint64_t failed_seeds = 0;
  char text[256];
  const double start = torture_now ();

  /* Static: the clean-up at exit kills it if it still runs. */
  static struct torture_server server = { .pid = -1 };

  torture_plugin ();
  torture_workdir ("restart");
  if (erase_block == NULL || *erase_block == '\0')
    erase_block = "1M";
  const bool buffered = torture_needs_buffered (torture_path ("."));

  char store_arg[4200], buffer_arg[4200], stats_arg[4200];
  snprintf (store_arg, sizeof store_arg, "store=%s", torture_path ("store"));
  const char *buffer_choice = getenv ("VSWAP_TORTURE_BUFFER");
  if (buffer_choice && *buffer_choice)
    snprintf (buffer_arg, sizeof buffer_arg, "buffer=%s", buffer_choice);
  else
    snprintf (buffer_arg, sizeof buffer_arg, "buffer=%s",
              torture_path ("buffer"));
  snprintf (stats_arg, sizeof stats_arg, "statsfile=%s",
            torture_path ("stats.json"));
  const char *server_args[] = {
    store_arg, buffer_arg, stats_arg, "pressure-guard=no",
    buffered ? "buffered=yes" : "buffered=no", NULL
  };

  for (uint64_t s = 0; s < seeds; s++) {
    const uint64_t seed = first_seed + s;
    struct test_random rng = torture_random (seed);
    struct torture_tally seed_after = { .eio = 0 };

    /* A new store for each seed. */
    remove (torture_path ("store"));
    const char *format[16] = {
      tool, "format", "--size", MEDIUM_SIZE, "--erase-block", erase_block,
    };
    int argc = 6;
    if (open_segments && *open_segments) {
      format[argc++] = "--open-segments";
      format[argc++] = open_segments;
    }
    if (buffered)
      format[argc++] = "--buffered";
    format[argc++] = torture_path ("store");
    format[argc] = NULL;
    if (torture_run (format, torture_path ("format.out"),
                     torture_path ("format.err"), 120, NULL) != 0) {
      torture_show_file (torture_path ("format.err"));
      torture_die ("vswap format failed");
    }

    torture_server_start (&server, server_args);
    struct nbd_handle *h = torture_nbd_connect (&server);
    const int64_t size = nbd_get_size (h);
    if (size <= 0)
      torture_die ("export size: %s", nbd_get_error ());
    free (model.version);
    free (model.kind);
    free (model.pending_version);
    free (model.pending_kind);
    torture_model_init (&model, (uint64_t) size / TORTURE_PAGE);
    used_pages = model.pages * 3 / 4;

    /* Three quarters of the logical size in use, mostly incompressible. */
    for (uint64_t p = 0; p < used_pages; p += MAX_REQUEST_PAGES) {
      const unsigned n = used_pages - p < MAX_REQUEST_PAGES
        ? (unsigned) (used_pages - p) : MAX_REQUEST_PAGES;
      write_pages (h, &rng, p, n, TORTURE_KINDS);
    }
    /* Overwrite as much again at random, so that GC is already at work
     * when the first cycle starts. */
    for (uint64_t i = 0; i < used_pages / MAX_REQUEST_PAGES; i++)
      write_pages (h, &rng,
                   test_random_below (&rng, used_pages - MAX_REQUEST_PAGES),
                   MAX_REQUEST_PAGES, TORTURE_KINDS);

    for (uint64_t c = 0; c < cycles; c++) {
      struct episode episodes[MAX_EPISODES];
      unsigned open_episodes = 0;
      uint64_t episodes_done = 0;
      struct torture_tally before = { .eio = 0 }, after = { .eio = 0 };
      size_t bad_count;
      char when[128];

      bool finish_next = false;
      for (uint64_t i = 0; i < operations; i++) {
        const unsigned x = test_random_below (&rng, 100);
        /* The last quarter of a cycle is a burst of episodes: a page
         * whose records cross the heads shortly before the restart is the
         * one at risk (later, GC moves or erases one of them). */
        const uint64_t episode_percent = i >= operations * 3 / 4
          ? burst_percent : quiet_percent;
        if (!finish_next && x < episode_percent &&
            open_episodes < MAX_EPISODES) {
          struct episode *e = &episodes[open_episodes++];
          e->count = 1 + test_random_below (&rng, 4);
          e->page = test_random_below (&rng, used_pages - e->count);
          episode_start (h, &rng, e->page, e->count);
          /* Half of them end with the very next request. */
          finish_next = test_random_below (&rng, 2);
        }
        else if ((finish_next || x < 2 * episode_percent) &&
                 open_episodes > 0) {
          /* The last one begun, or now and then an older one. */
          const unsigned which = !finish_next && test_random_below (&rng, 4) == 0
            ? test_random_below (&rng, open_episodes) : open_episodes - 1;
          finish_next = false;
          const struct episode e = episodes[which];
          episodes[which] = episodes[--open_episodes];
          write_pages (h, &rng, e.page, e.count,
                       test_random_below (&rng, 3) ? TORTURE_RANDOM
                       : TORTURE_TEXT);
          episodes_done++;
        }
        else {
          const unsigned n = 1 + test_random_below (&rng, MAX_REQUEST_PAGES);
          write_pages (h, &rng, test_random_below (&rng, used_pages - n), n,
                       TORTURE_KINDS);
        }
      }
      if (nbd_flush (h, 0) == -1)
        torture_die ("flush: %s", nbd_get_error ());
      const int64_t gc_runs = torture_statistic (torture_path ("stats.json"),
                                                 "gc_runs");
      const int64_t gc_moved =
        torture_statistic (torture_path ("stats.json"), "gc_records_moved");

      snprintf (when, sizeof when, "seed %" PRIu64 " cycle %" PRIu64
                " before the restart", seed, c + 1);
      torture_nbd_verify (h, &model, &before, bad, BAD_SIZE, &bad_count,
                          when);
      rewrite_bad (h, &rng, bad_count);
      if (bad_count && nbd_flush (h, 0) == -1)
        torture_die ("flush: %s", nbd_get_error ());
      nbd_close (h);
      torture_server_stop (&server);
      torture_server_start (&server, server_args);
      h = torture_nbd_connect (&server);
      restarts++;
      snprintf (when, sizeof when, "seed %" PRIu64 " cycle %" PRIu64
                " after the restart", seed, c + 1);
      torture_nbd_verify (h, &model, &after, bad, BAD_SIZE, &bad_count,
                          when);
      rewrite_bad (h, &rng, bad_count);

      torture_say ("seed %" PRIu64 " cycle %" PRIu64 ": %" PRIu64
                   " requests, %" PRIu64 " zero/same-then-data episodes, "
                   "%" PRId64 " GC runs (%" PRId64 " records moved) since the "
                   "start; before the restart %s; after it %s", seed, c + 1,
                   operations, episodes_done, gc_runs, gc_moved, torture_tally_format (&before, text, sizeof text),
                   torture_tally_format (&after, text + 128, 128));
      total_operations += operations;
      total_episodes += episodes_done;
      torture_tally_add (&total_before, &before);
      torture_tally_add (&total_after, &after);
      torture_tally_add (&seed_after, &after);
    }
    nbd_close (h);
    torture_server_stop (&server);
    if (torture_tally_wrong (&seed_after) + seed_after.eio)
      failed_seeds++;
  }

  torture_say ("%" PRIu64 " seeds from %" PRIu64 ", %" PRIu64 " requests, "
               "%" PRIu64 " episodes, %" PRIu64 " clean restarts, %.0f s: "
               "before the restarts %s; after them %s (%" PRIu64 " of %"
               PRIu64 " seeds lost flushed pages)", seeds, first_seed,
               total_operations, total_episodes, restarts,
               torture_now () - start,
               torture_tally_format (&total_before, text, 128),
               torture_tally_format (&total_after, text + 128, 128),
               failed_seeds, seeds);
  if (torture_tally_wrong (&total_before) + total_before.eio +
      torture_tally_wrong (&total_after) + total_after.eio) {
    printf ("%s: FAIL\n", torture_program);
    return 1;
  }
  printf ("%s: PASS\n", torture_program);
  return 0;
}
