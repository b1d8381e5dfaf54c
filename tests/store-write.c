/* vswap tests: write a known mix of pages into a store, or read them back,
 * through the core API alone (no nbdkit), for the tool tests.
 *
 *   store-write [--first F] [--pages N] [--seed S] STORE
 *     Writes pages F..F+N-1 in one write: page i is random (incompressible)
 *     when i%4 == 0, zero when 1, same-filled when 2, compressible text
 *     when 3.  Flushes, closes, then prints
 *       raw_page=P            a random page, stored raw
 *       raw_hex=HEX           16 of its bytes, unique in the medium
 *     so that a test can find page P's data on the medium and damage it.
 *
 *   store-write --read P [--seed S] STORE
 *   store-write --read-all [--first F] [--pages N] [--seed S] STORE
 *     Reads page P (or every page written) read-only and prints "page P:
 *     ok", "page P: EIO", "page P: wrong data (...)" or "page P: error
 *     ..." per page.  Exit status 0 if every page read was ok, else 1.
 *
 * The content is a function of (seed, page), so reads are checked without
 * keeping anything between runs.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "medium.h"
#include "store.h"

/* Where in the raw page the printed bytes come from, and how many. */
#define HEX_OFFSET 2048
#define HEX_BYTES 16

static void
fill_page (uint64_t seed, uint64_t page, unsigned char *buffer)
{
  struct test_random random;
  size_t i, n;

  switch (page % 4) {
  case 0:
    random.state = (seed + 1) * UINT64_C (0x9e3779b97f4a7c15) ^ (page + 1);
    test_random_fill (&random, buffer, VSWAP_PAGE_SIZE);
    break;
  case 1:
    memset (buffer, 0, VSWAP_PAGE_SIZE);
    break;
  case 2:
    /* Same byte everywhere: same-filled whatever word size the store
     * looks at. */
    memset (buffer, 0x11 * (1 + page % 15), VSWAP_PAGE_SIZE);
    break;
  default:
    for (i = 0; i < VSWAP_PAGE_SIZE; i += n) {
      char line[80];

      n = snprintf (line, sizeof line,
                    "page %" PRIu64 " seed %" PRIu64 " offset %zu: "
                    "all work and no play\n", page, seed, i);
      if (n > VSWAP_PAGE_SIZE - i)
        n = VSWAP_PAGE_SIZE - i;
      memcpy (buffer + i, line, n);
    }
    break;
  }
}

static int
write_pages (struct vswap_medium *medium, uint64_t first, uint64_t pages,
             uint64_t seed)
{
  struct vswap_open_options options = { .readtrim = VSWAP_READTRIM_OFF };
  struct vswap_error err;
  struct vswap_store *store;
  unsigned char *buffer;
  /* The second random page: not the first page of the batch. */
  uint64_t raw = pages > 4 ? (first + 4) / 4 * 4 - first : 0;
  uint64_t i;
  int r;

  store = vswap_store_open (medium, &options, &err);
  if (store == NULL) {
    fprintf (stderr, "store-write: open: %s\n", err.message);
    return -1;
  }
  if ((first + pages) * VSWAP_PAGE_SIZE > vswap_store_size (store)) {
    fprintf (stderr, "store-write: %" PRIu64 " pages do not fit in %"
             PRIu64 " bytes\n", pages, vswap_store_size (store));
    vswap_store_close (store);
    return -1;
  }

  buffer = aligned_alloc (VSWAP_MEDIUM_BUFFER_ALIGN,
                          pages * VSWAP_PAGE_SIZE);
  if (buffer == NULL) {
    perror ("store-write: aligned_alloc");
    vswap_store_close (store);
    return -1;
  }
  for (i = 0; i < pages; i++)
    fill_page (seed, first + i, buffer + i * VSWAP_PAGE_SIZE);

  /* One write for all of it: the multi-page path is the one swap uses. */
  r = vswap_store_write (store, buffer, pages * VSWAP_PAGE_SIZE,
                         first * VSWAP_PAGE_SIZE, false);
  if (r < 0)
    fprintf (stderr, "store-write: write: %s\n", strerror (-r));
  else {
    r = vswap_store_flush (store);
    if (r < 0)
      fprintf (stderr, "store-write: flush: %s\n", strerror (-r));
  }
  if (vswap_store_close (store) < 0 && r == 0) {
    fprintf (stderr, "store-write: close failed\n");
    r = -1;
  }

  if (r == 0) {
    printf ("raw_page=%" PRIu64 "\nraw_hex=", first + raw);
    for (i = 0; i < HEX_BYTES; i++)
      printf ("%02x", buffer[raw * VSWAP_PAGE_SIZE + HEX_OFFSET + i]);
    printf ("\n");
  }
  free (buffer);
  return r < 0 ? -1 : 0;
}

/* Returns true if PAGE read back as written. */
static bool
read_page (struct vswap_store *store, uint64_t seed, uint64_t page,
           unsigned char *buffer, unsigned char *expected)
{
  int r;

  r = vswap_store_read (store, buffer, VSWAP_PAGE_SIZE,
                        page * VSWAP_PAGE_SIZE);
  if (r == -EIO) {
    printf ("page %" PRIu64 ": EIO\n", page);
    return false;
  }
  if (r < 0) {
    printf ("page %" PRIu64 ": error %s\n", page, strerror (-r));
    return false;
  }
  fill_page (seed, page, expected);
  if (memcmp (buffer, expected, VSWAP_PAGE_SIZE) != 0) {
    /* Zeros are what a lost record turns into: say so. */
    static const unsigned char zeros[VSWAP_PAGE_SIZE];

    printf ("page %" PRIu64 ": wrong data (%s)\n", page,
            memcmp (buffer, zeros, VSWAP_PAGE_SIZE) == 0
            ? "all zeros" : "not zeros");
    return false;
  }
  printf ("page %" PRIu64 ": ok\n", page);
  return true;
}

static int
read_pages (struct vswap_medium *medium, uint64_t first, uint64_t count,
            uint64_t seed)
{
  struct vswap_open_options options = {
    .read_only = true,
    .readtrim = VSWAP_READTRIM_OFF,
  };
  struct vswap_error err;
  struct vswap_store *store;
  unsigned char *buffer, *expected;
  uint64_t i;
  bool ok = true;

  store = vswap_store_open (medium, &options, &err);
  if (store == NULL) {
    fprintf (stderr, "store-write: open: %s\n", err.message);
    return -1;
  }
  buffer = aligned_alloc (VSWAP_MEDIUM_BUFFER_ALIGN, VSWAP_PAGE_SIZE);
  expected = malloc (VSWAP_PAGE_SIZE);
  if (buffer == NULL || expected == NULL) {
    perror ("store-write: malloc");
    exit (EXIT_FAILURE);
  }
  for (i = first; i < first + count; i++)
    if (!read_page (store, seed, i, buffer, expected))
      ok = false;
  free (buffer);
  free (expected);
  vswap_store_close (store);
  return ok ? 0 : -1;
}

static bool
parse_u64 (const char *text, uint64_t *value)
{
  char *end;

  if (text[0] < '0' || text[0] > '9')
    return false;
  errno = 0;
  *value = strtoull (text, &end, 10);
  return errno == 0 && *end == '\0';
}

static void __attribute__ ((noreturn))
usage (void)
{
  fprintf (stderr, "usage: store-write [--first F] [--pages N] [--seed S] "
           "[--read PAGE | --read-all] STORE\n");
  exit (2);
}

int
main (int argc, char *argv[])
{
  enum { OPT_FIRST = 256, OPT_PAGES, OPT_SEED, OPT_READ, OPT_READ_ALL };
  static const struct option long_options[] = {
    { "first", required_argument, NULL, OPT_FIRST },
    { "pages", required_argument, NULL, OPT_PAGES },
    { "seed", required_argument, NULL, OPT_SEED },
    { "read", required_argument, NULL, OPT_READ },
    { "read-all", no_argument, NULL, OPT_READ_ALL },
    { NULL, 0, NULL, 0 },
  };
  struct vswap_medium_options medium_options = { .create = false };
  struct vswap_medium *medium;
  struct vswap_error err;
  uint64_t first = 0, pages = 64, seed = 1, page = 0;
  bool read_one = false, read_all = false;
  int c, r;

  while ((c = getopt_long (argc, argv, "", long_options, NULL)) != -1) {
    switch (c) {
    case OPT_FIRST:
      if (!parse_u64 (optarg, &first))
        usage ();
      break;
    case OPT_PAGES:
      if (!parse_u64 (optarg, &pages) || pages == 0)
        usage ();
      break;
    case OPT_SEED:
      if (!parse_u64 (optarg, &seed))
        usage ();
      break;
    case OPT_READ:
      if (!parse_u64 (optarg, &page))
        usage ();
      read_one = true;
      break;
    case OPT_READ_ALL:
      read_all = true;
      break;
    default:
      usage ();
    }
  }
  if (optind + 1 != argc || (read_one && read_all))
    usage ();

  medium_options.read_only = read_one || read_all;
  medium = vswap_medium_open (argv[optind], &medium_options, &err);
  if (medium == NULL) {
    fprintf (stderr, "store-write: %s\n", err.message);
    return 2;
  }
  if (read_one)
    r = read_pages (medium, page, 1, seed);
  else if (read_all)
    r = read_pages (medium, first, pages, seed);
  else
    r = write_pages (medium, first, pages, seed);
  vswap_medium_close (medium);
  return r < 0 ? 1 : 0;
}
