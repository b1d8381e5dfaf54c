/* vswap torture: SIGKILL under GC with the write buffer on and no flush
 * (issue 13 B).
 *
 * The write buffer (doc/write-buffer.md) promises that a server killed
 * with SIGKILL loses no acknowledged write.  A store small enough that GC
 * runs all the time (a 64 MiB file, three quarters of the logical size in
 * use) takes random requests at a queue depth of 2 to 32: writes of 1-16
 * pages of data (random or compressible), and among them (3% of the
 * requests by default) writes of same-filled or zero pages, WRITE_ZEROES
 * and TRIM of 1-32 pages; never a FLUSH.  At a random point nbdkit gets
 * SIGKILL with requests in flight; a new server starts on the same store
 * and the same buffer= file, and every page is read:
 *   - a page whose last write was acknowledged must read exactly that;
 *   - a page with a write in flight at the kill may read either version.
 * Two requests in flight never touch the same page.  Each kill's wrong
 * pages are counted and rewritten, so that each kill counts its own.
 * After the last kill the server is stopped cleanly, started again, and
 * every page read once more.
 *
 * Runs with 1 MiB and 4 MiB segments (the default two open segments).
 * A server that cannot start on the store after a kill (it could not
 * write out what the buffer held, say) fails the test too, and ends that
 * segment size's run.  Exit status 0 when no acknowledged write was lost
 * and every restart worked, 1 otherwise, 77 without nbdkit.
 *
 * Environment (the defaults are the quick size; VSWAP_TORTURE=slow the
 * long one):
 *   VSWAP_SEED                  seed (default: the clock)
 *   VSWAP_TORTURE_KILLS         kills per segment size (quick 15, slow 260)
 *   VSWAP_TORTURE_ERASE_BLOCKS  segment sizes (default "1M 4M")
 *   VSWAP_TORTURE_MAX_REQUESTS  most requests between two kills (4000)
 *   VSWAP_TORTURE_SPECIAL_PERCENT  requests that are not data (3)
 *   VSWAP_TORTURE_KEEP=1        keep the work directory
 * and VSWAP (tools/vswap), VSWAP_PLUGIN, set by make torture.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torture-nbd.h"

#define MEDIUM_SIZE "64M"
#define MAX_WRITE_PAGES 16
#define MAX_RANGE_PAGES 32
#define MAX_DEPTH 32
#define BAD_SIZE 8192

/* One request in flight. */
struct slot {
  bool busy;
  uint64_t page;
  unsigned count;
  uint8_t data[MAX_WRITE_PAGES * TORTURE_PAGE];
};

static struct torture_model model;
static uint64_t used_pages;
static uint8_t *page_busy;      /* a request in flight covers the page */
static struct slot slots[MAX_DEPTH];
static unsigned in_flight;
static uint64_t completed;
static bool killed;             /* replies after this are not counted */
static const char *failure;     /* an error reply before the kill */
static uint64_t bad[BAD_SIZE];

/* A reply: the request's pages hold the new version for sure. */
static int
request_done (void *opaque, int *error)
{
  struct slot *s = opaque;

  if (killed)
    return 1;
  if (*error) {
    failure = strerror (*error);
    return 1;
  }
  for (unsigned i = 0; i < s->count; i++) {
    torture_model_acknowledge (&model, s->page + i);
    page_busy[s->page + i] = 0;
  }
  s->busy = false;
  in_flight--;
  completed++;
  return 1;
}

static enum torture_kind
data_kind (struct test_random *r)
{
  return test_random_below (r, 4) ? TORTURE_RANDOM : TORTURE_TEXT;
}

/* What a request does. */
enum request {
  REQUEST_DATA,                 /* pages of data */
  REQUEST_ZERO_PAGES,           /* zero pages, written */
  REQUEST_SAME,                 /* same-filled pages, written */
  REQUEST_WRITE_ZEROES,
  REQUEST_TRIM,
};

/* Mostly data, as swap writes.  The rest is kept rare by default: GC
 * seals its head after collecting a segment that holds any same-filled
 * page or tombstone, and a GC copy that waits unsealed is where user
 * writes can be routed out of the buffer's reach. */
static unsigned special_percent = 3;

static enum request
choose_request (struct test_random *r)
{
  if (test_random_below (r, 100) >= special_percent)
    return REQUEST_DATA;
  return (enum request) (1 + test_random_below (r, 4));
}

/* Pages [PAGE, PAGE+COUNT) with no request in flight? */
static bool
range_free (uint64_t page, unsigned count)
{
  for (unsigned i = 0; i < count; i++)
    if (page_busy[page + i])
      return false;
  return true;
}

/* Issue one random request into a free slot. */
static void
issue (struct nbd_handle *h, struct test_random *r)
{
  struct slot *s = NULL;
  const enum request what = choose_request (r);
  const bool is_write = what <= REQUEST_SAME;
  unsigned count = 1 + test_random_below (r, is_write ? MAX_WRITE_PAGES
                                      : MAX_RANGE_PAGES);
  uint64_t page;
  int tries = 0;
  int64_t cookie;

  for (unsigned i = 0; i < MAX_DEPTH && !s; i++)
    if (!slots[i].busy)
      s = &slots[i];
  if (s == NULL)
    torture_die ("no free slot with %u requests in flight", in_flight);
  do
    page = test_random_below (r, used_pages - count);
  while (!range_free (page, count) && ++tries < 100);
  if (tries == 100)
    return;

  s->busy = true;
  s->page = page;
  s->count = count;
  for (unsigned i = 0; i < count; i++) {
    page_busy[page + i] = 1;
    const enum torture_kind k = what == REQUEST_DATA ? data_kind (r)
      : what == REQUEST_SAME ? (test_random_below (r, 3) ? TORTURE_SAME
                                : TORTURE_SAME_COMMON)
      : TORTURE_ZERO;
    const uint64_t v = torture_model_set (&model, page + i, k, true);
    if (is_write)
      torture_page_fill (s->data + i * TORTURE_PAGE, page + i, v, k);
  }
  const nbd_completion_callback done = {
    .callback = request_done, .user_data = s
  };
  if (is_write)
    cookie = nbd_aio_pwrite (h, s->data, (size_t) count * TORTURE_PAGE,
                             page * TORTURE_PAGE, done, 0);
  else if (what == REQUEST_WRITE_ZEROES)
    cookie = nbd_aio_zero (h, (uint64_t) count * TORTURE_PAGE,
                           page * TORTURE_PAGE, done, 0);
  else
    cookie = nbd_aio_trim (h, (uint64_t) count * TORTURE_PAGE,
                           page * TORTURE_PAGE, done, 0);
  if (cookie == -1)
    torture_die ("issuing a request: %s", nbd_get_error ());
  in_flight++;
}

/* Forget every request: the server is gone. */
static void
reset_slots (void)
{
  memset (page_busy, 0, model.pages);
  for (unsigned i = 0; i < MAX_DEPTH; i++)
    slots[i].busy = false;
  in_flight = 0;
  killed = false;
}

/* Write pages synchronously (the fill, and rewriting wrong pages). */
static void
write_now (struct nbd_handle *h, struct test_random *r, uint64_t page,
           unsigned count, bool random_kind)
{
  for (unsigned i = 0; i < count; i++) {
    const enum torture_kind k = random_kind ? data_kind (r)
      : TORTURE_RANDOM;
    const uint64_t v = torture_model_set (&model, page + i, k, false);
    torture_page_fill (slots[0].data + i * TORTURE_PAGE, page + i, v, k);
  }
  if (nbd_pwrite (h, slots[0].data, (size_t) count * TORTURE_PAGE,
                  page * TORTURE_PAGE, 0) == -1)
    torture_die ("write at page %" PRIu64 ": %s", page, nbd_get_error ());
}

/* Requests between two kills: log-uniform from 1 to MAX, so that kills
 * soon after a restart (the buffer just replayed) are as common as
 * kills deep into a run. */
static uint64_t
requests_before_kill (struct test_random *r, uint64_t max)
{
  const double u = (double) test_random_below (r, 1 << 20) / (1 << 20);
  return (uint64_t) exp (u * log ((double) max));
}

int
main (void)
{
  torture_program = "torture-kill";
  const bool slow = torture_slow ();
  const uint64_t kills = torture_env_number ("VSWAP_TORTURE_KILLS",
                                             slow ? 260 : 15);
  const uint64_t max_requests =
    torture_env_number ("VSWAP_TORTURE_MAX_REQUESTS", 4000);
  const char *sizes = getenv ("VSWAP_TORTURE_ERASE_BLOCKS");
  special_percent = torture_env_number ("VSWAP_TORTURE_SPECIAL_PERCENT",
                                        special_percent);
  const char *tool = torture_tool ();
  const uint64_t seed = torture_seed ();
  struct test_random rng = torture_random (seed);
  struct torture_tally total = { .eio = 0 };
  uint64_t total_kills = 0, bad_kills = 0, total_requests = 0;
  uint64_t unopenable = 0;
  char text[256];
  const double start = torture_now ();

  /* Static: the clean-up at exit kills it if it still runs. */
  static struct torture_server server = { .pid = -1 };

  torture_plugin ();
  torture_workdir ("kill");
  if (sizes == NULL || *sizes == '\0')
    sizes = "1M 4M";
  const bool buffered = torture_needs_buffered (torture_path ("."));

  char store_arg[4200], buffer_arg[4200];
  snprintf (store_arg, sizeof store_arg, "store=%s", torture_path ("store"));
  snprintf (buffer_arg, sizeof buffer_arg, "buffer=%s",
            torture_path ("buffer"));
  const char *server_args[] = {
    store_arg, buffer_arg, "pressure-guard=no",
    buffered ? "buffered=yes" : "buffered=no", NULL
  };

  char sizes_copy[256];
  snprintf (sizes_copy, sizeof sizes_copy, "%s", sizes);
  for (char *save = NULL, *size = strtok_r (sizes_copy, " ,", &save); size;
       size = strtok_r (NULL, " ,", &save)) {
    struct torture_tally size_total = { .eio = 0 };
    uint64_t size_bad_kills = 0, kills_done = 0;
    const double size_start = torture_now ();

    remove (torture_path ("store"));
    remove (torture_path ("buffer"));
    const char *format[] = {
      tool, "format", "--size", MEDIUM_SIZE, "--erase-block", size,
      buffered ? "--buffered" : torture_path ("store"),
      buffered ? torture_path ("store") : NULL, NULL
    };
    if (torture_run (format, torture_path ("format.out"),
                     torture_path ("format.err"), 120, NULL) != 0) {
      torture_show_file (torture_path ("format.err"));
      torture_die ("vswap format --erase-block %s failed", size);
    }

    torture_server_start (&server, server_args);
    struct nbd_handle *h = torture_nbd_connect (&server);
    const int64_t export_size = nbd_get_size (h);
    if (export_size <= 0)
      torture_die ("export size: %s", nbd_get_error ());
    free (model.version);
    free (model.kind);
    free (model.pending_version);
    free (model.pending_kind);
    free (page_busy);
    torture_model_init (&model, (uint64_t) export_size / TORTURE_PAGE);
    page_busy = torture_calloc (model.pages, 1);
    used_pages = model.pages * 3 / 4;

    /* Three quarters in use, then as much again overwritten: GC is at
     * work from the first kill on.  No flush, ever. */
    for (uint64_t p = 0; p + MAX_WRITE_PAGES <= used_pages;
         p += MAX_WRITE_PAGES)
      write_now (h, &rng, p, MAX_WRITE_PAGES, true);
    for (uint64_t i = 0; i < used_pages / MAX_WRITE_PAGES; i++)
      write_now (h, &rng,
                 test_random_below (&rng, used_pages - MAX_WRITE_PAGES),
                 MAX_WRITE_PAGES, true);

    for (uint64_t k = 0; k < kills; k++) {
      const unsigned depth = 2 + test_random_below (&rng, MAX_DEPTH - 1);
      const uint64_t target = requests_before_kill (&rng, max_requests);
      struct torture_tally tally = { .eio = 0 };
      size_t bad_count;
      char when[128];

      completed = 0;
      failure = NULL;
      kills_done++;
      while (completed < target) {
        while (in_flight < depth)
          issue (h, &rng);
        if (nbd_poll (h, -1) == -1)
          torture_die ("poll: %s", nbd_get_error ());
        if (failure)
          torture_die ("a request failed before the kill: %s", failure);
      }
      const unsigned at_kill = in_flight;
      killed = true;
      torture_server_kill (&server);
      nbd_close (h);
      reset_slots ();
      total_requests += completed;

      if (!torture_server_try_start (&server, server_args)) {
        /* Worse than a lost write: the store cannot be served at all. */
        torture_say ("%s segments, kill %" PRIu64 " after %" PRIu64
                     " requests: FAIL: no server can start on the store "
                     "any more (see its log above)", size, k + 1, target);
        unopenable++;
        h = NULL;
        break;
      }
      h = torture_nbd_connect (&server);
      snprintf (when, sizeof when, "%s segments, kill %" PRIu64, size,
                k + 1);
      torture_nbd_verify (h, &model, &tally, bad, BAD_SIZE, &bad_count,
                          when);
      for (size_t i = 0; i < bad_count; i++)
        write_now (h, &rng, bad[i], 1, false);
      const uint64_t wrong = torture_tally_wrong (&tally) + tally.eio;
      if (wrong || slow == false || (k + 1) % 20 == 0)
        torture_say ("%s segments, kill %" PRIu64 " after %" PRIu64
                     " requests at depth %u (%u in flight): %s", size, k + 1,
                     target, depth, at_kill,
                     torture_tally_format (&tally, text, sizeof text));
      size_bad_kills += wrong != 0;
      torture_tally_add (&size_total, &tally);
    }

    /* And a clean restart at the end. */
    struct torture_tally final = { .eio = 0 };
    size_t bad_count;
    if (h) {
      nbd_close (h);
      torture_server_stop (&server);
      torture_server_start (&server, server_args);
      h = torture_nbd_connect (&server);
      torture_nbd_verify (h, &model, &final, bad, BAD_SIZE, &bad_count,
                          "after a clean restart");
      nbd_close (h);
      torture_server_stop (&server);
    }

    torture_say ("%s segments: %" PRIu64 " kills, %" PRIu64 " of them lost "
                 "acknowledged writes: %s; after a clean restart %s; %.0f s",
                 size, kills_done, size_bad_kills,
                 torture_tally_format (&size_total, text, 128),
                 h ? torture_tally_format (&final, text + 128, 128)
                 : "(the server would not start)",
                 torture_now () - size_start);
    total_kills += kills_done;
    bad_kills += size_bad_kills;
    torture_tally_add (&total, &size_total);
    torture_tally_add (&total, &final);
  }

  torture_say ("seed %" PRIu64 ": %" PRIu64 " kills, %" PRIu64 " requests "
               "acknowledged, %" PRIu64 " kills lost acknowledged writes; "
               "pages: %s; %" PRIu64 " stores no server could open after a "
               "kill; %.0f s", seed, total_kills, total_requests, bad_kills,
               torture_tally_format (&total, text, sizeof text), unopenable,
               torture_now () - start);
  if (torture_tally_wrong (&total) + total.eio + unopenable) {
    printf ("%s: FAIL\n", torture_program);
    return 1;
  }
  printf ("%s: PASS\n", torture_program);
  return 0;
}
