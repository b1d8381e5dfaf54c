/* group-commit-cost: what "seal and write before acknowledging" (group
 * commit) would cost the flash, against the write buffer (records wait in
 * RAM until 512 KiB are gathered).  Figures for doc/write-buffer.md.
 *
 * On the simulated medium (sim:, program unit 4 KiB and 16 KiB), writes
 * PAGES pages of one kind in order and, for a group of G requests, seals
 * every G pages (the open chunk is padded to the program unit and written,
 * as a group commit would do before replying to the G requests it holds).
 * G = 1 is a client at queue depth 1; G = 16 is the best case of queue
 * depth 16 (all 16 requests arrive together).  Prints media bytes per
 * host byte and padding.  Not a test: run it by hand.
 *
 * Usage: group-commit-cost [PAGES]   (default 20000)
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "medium.h"
#include "store.h"
#include "store_internal.h"

#define PAGE 4096

static void
make_page (uint8_t *p, uint64_t number, bool compressible)
{
  struct test_random random = { number * 0x9e3779b97f4a7c15 + 1 };
  for (int i = 0; i < PAGE; i += 8) {
    const uint64_t x = test_random_next (&random);
    /* Compressible: one word in four random, the rest a constant (about
     * what zstd makes 2.5:1 of, near the swap pages measured). */
    const uint64_t word = compressible && (i / 8) % 4 ? 0x0101010101010101
      : x;
    memcpy (p + i, &word, 8);
  }
}

static int
run (uint32_t program_unit, bool compressible, unsigned group,
     uint64_t pages, double *media_per_host, double *padding_per_host)
{
  struct vswap_error err = { "" };
  char spec[128];
  snprintf (spec, sizeof spec, "sim:512M,program-unit=%" PRIu32,
            program_unit);
  const struct vswap_medium_options mo = { .erase_block = 0 };
  struct vswap_medium *medium = vswap_medium_open (spec, &mo, &err);
  if (!medium) {
    fprintf (stderr, "%s\n", err.message);
    return -1;
  }
  const struct vswap_format_options fo = {
    .logical_size = 256 << 20,
    .compression = VSWAP_COMPRESS_ZSTD,
    .compression_chosen = true,
  };
  if (vswap_store_format (medium, &fo, NULL, NULL, &err) < 0) {
    fprintf (stderr, "%s\n", err.message);
    return -1;
  }
  const struct vswap_open_options oo = { .readtrim = VSWAP_READTRIM_OFF };
  struct vswap_store *store = vswap_store_open (medium, &oo, &err);
  if (!store) {
    fprintf (stderr, "%s\n", err.message);
    return -1;
  }
  uint8_t page[PAGE];
  for (uint64_t i = 0; i < pages; i++) {
    make_page (page, i, compressible);
    if (vswap_store_write (store, page, PAGE, (i % (store->pages)) * PAGE,
                           false) < 0)
      return -1;
    if (group && (i + 1) % group == 0) {
      pthread_mutex_lock (&store->lock);
      const int r = vswap_store_seal_all (store);
      pthread_mutex_unlock (&store->lock);
      if (r < 0)
        return -1;
    }
  }
  struct vswap_statistics st;
  vswap_store_statistics (store, &st);
  *media_per_host = (double) st.media_write_bytes / st.host_write_bytes;
  *padding_per_host = (double) st.media_padding_bytes / st.host_write_bytes;
  vswap_store_abandon (store);
  vswap_medium_close (medium);
  return 0;
}

int
main (int argc, char *argv[])
{
  const uint64_t pages = argc > 1 ? strtoull (argv[1], NULL, 10) : 20000;
  static const uint32_t units[] = { 4096, 16384 };
  static const unsigned groups[] = { 0, 1, 16 };

  printf ("%" PRIu64 " pages written in order; media bytes per host byte "
          "(padding per host byte)\n", pages);
  printf ("%-12s %-13s %-16s %-16s %-16s\n", "program unit", "pages",
          "write buffer", "group QD1", "group QD16");
  for (size_t u = 0; u < 2; u++)
    for (int c = 0; c < 2; c++) {
      printf ("%-12" PRIu32 " %-13s", units[u],
              c ? "compressible" : "random");
      for (size_t g = 0; g < 3; g++) {
        double media, padding;
        if (run (units[u], c, groups[g], pages, &media, &padding) < 0) {
          printf (" failed\n");
          return 1;
        }
        printf (" %6.3f (%5.3f) ", media, padding);
      }
      printf ("\n");
    }
  return 0;
}
