/* Fuzz target: recovery as a whole.  The input is the image of a small
 * medium (padded with zeros to whole 64 KiB segments, at least 10 of
 * them, at most 64); the target opens the store on it as the tools do
 * (read-only: check, then every page read), then as the plugin does
 * (read-write: recovery writes, every page read, a write, a flush, a
 * clean close), and once more read-only after that close.  Any crash,
 * hang, leak or sanitizer report is a finding; so is a page that read
 * back before the read-write open and after its clean close but differs,
 * or a store that opened read-write and then does not open again.
 *
 * The seeds are real stores (fuzz/make-seeds.c).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <xxhash.h>

#include "fuzz.h"
#include "medium.h"
#include "store.h"

#define SEGMENT (UINT64_C (64) << 10)
#define MIN_SEGMENTS 10
#define MAX_SEGMENTS 64
#define PAGE 4096
#define READ_SIZE (32 * PAGE)

static uint8_t *image;
static uint8_t *buffer;
/* XXH3 of each page as the first read-only open read it (0: did not). */
static uint64_t *first_read;
static uint64_t first_pages;

static void
quiet (void *opaque, const char *message)
{
  (void) opaque;
  (void) message;
}

static void
quiet_check (void *opaque, bool problem, const char *message)
{
  (void) opaque;
  (void) problem;
  (void) message;
}

static void
allocate (void)
{
  if (image)
    return;
  if (posix_memalign ((void **) &image, VSWAP_MEDIUM_BUFFER_ALIGN,
                      MAX_SEGMENTS * SEGMENT) != 0 ||
      posix_memalign ((void **) &buffer, VSWAP_MEDIUM_BUFFER_ALIGN,
                      READ_SIZE) != 0)
    abort ();
}

static uint64_t
page_hash (const uint8_t *page)
{
  const uint64_t h = XXH3_64bits (page, PAGE);
  return h ? h : 1;
}

/* Read every page, in runs and then one by one where a run fails.
 * RECORD: note each page's hash; else compare with the notes. */
static void
read_all (struct vswap_store *store, bool record, bool compare)
{
  const uint64_t size = vswap_store_size (store);
  const uint64_t pages = size / PAGE;

  if (record) {
    free (first_read);
    first_read = calloc (pages ? pages : 1, sizeof *first_read);
    if (!first_read)
      abort ();
    first_pages = pages;
  }
  for (uint64_t offset = 0; offset < size; offset += READ_SIZE) {
    const uint64_t length = size - offset < READ_SIZE ? size - offset
      : READ_SIZE;
    int r = vswap_store_read (store, buffer, length, offset);
    for (uint64_t p = 0; p < length / PAGE; p++) {
      const uint64_t page = offset / PAGE + p;
      if (r != 0 &&
          vswap_store_read (store, buffer + p * PAGE, PAGE, page * PAGE) != 0)
        continue;
      const uint64_t h = page_hash (buffer + p * PAGE);
      if (record)
        first_read[page] = h;
      else if (compare && page < first_pages && first_read[page])
        FUZZ_ASSERT (first_read[page] == h);
    }
  }
}

static struct vswap_store *
open_store (struct vswap_medium *medium, bool read_only)
{
  const struct vswap_open_options options = {
    .read_only = read_only,
    .readtrim = VSWAP_READTRIM_OFF,
    .io_contexts = 1,
    .report = quiet,
  };
  struct vswap_error err;
  return vswap_store_open (medium, &options, &err);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vswap_medium_options medium_options = { .erase_block = SEGMENT };
  struct vswap_error err;
  char spec[64];

  allocate ();
  uint64_t segments = (size + SEGMENT - 1) / SEGMENT;
  if (segments < MIN_SEGMENTS)
    segments = MIN_SEGMENTS;
  if (segments > MAX_SEGMENTS)
    segments = MAX_SEGMENTS;
  const uint64_t medium_size = segments * SEGMENT;
  const size_t used = size < medium_size ? size : medium_size;
  if (used)
    memcpy (image, data, used);
  memset (image + used, 0, medium_size - used);

  snprintf (spec, sizeof spec, "memory:%" PRIu64, medium_size);
  struct vswap_medium *medium = vswap_medium_open (spec, &medium_options,
                                                   &err);
  if (!medium) {
    fprintf (stderr, "fuzz-recovery: %s\n", err.message);
    abort ();
  }
  if (vswap_medium_write (medium, image, medium_size, 0) != 0)
    abort ();

  /* As vswap check and vswap inspect open it. */
  struct vswap_store *store = open_store (medium, true);
  const bool opened = store != NULL;
  if (store) {
    struct vswap_check_result result;
    (void) vswap_store_check (store, quiet_check, NULL, &result);
    read_all (store, true, false);
    struct vswap_statistics statistics;
    vswap_store_statistics (store, &statistics);
    vswap_store_close (store);
  }

  /* As the plugin opens it: recovery may write. */
  store = open_store (medium, false);
  if (store) {
    FUZZ_ASSERT (opened);
    read_all (store, false, false);
    memset (buffer, 0x5a, PAGE);
    buffer[0] = 1;
    if (vswap_store_size (store) >= PAGE) {
      (void) vswap_store_write (store, buffer, PAGE, 0, false);
      (void) vswap_store_trim (store, PAGE, vswap_store_size (store) - PAGE,
                               false);
    }
    (void) vswap_store_flush (store);
    const int closed = vswap_store_close (store);

    /* After a clean close it opens again, and the pages that read back
     * before still do (the first and the last were just rewritten). */
    store = open_store (medium, true);
    FUZZ_ASSERT (store != NULL || closed != 0);
    if (store) {
      if (first_pages > 0) {
        first_read[0] = 0;
        first_read[first_pages - 1] = 0;
      }
      read_all (store, false, closed == 0);
      vswap_store_close (store);
    }
  }
  vswap_medium_close (medium);
  return 0;
}
