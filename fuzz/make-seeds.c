/* Make the seed corpora of the fuzz targets from real stores.
 *
 * Usage: make-seeds DIRECTORY
 * Writes DIRECTORY/recovery/NAME (whole medium images: 24 segments of
 * 64 KiB), DIRECTORY/superblock/NAME, DIRECTORY/chunk-header/NAME and
 * DIRECTORY/record-header/NAME (the structures found in those images, in
 * each target's input layout).  The stores are made through the core
 * API as the plugin would make them: writes of every kind (random pages
 * stored raw, compressible ones, zero and same-filled pages), trims,
 * zeroes, flushes, then a clean close or an abandon (a crash, which
 * loses what was not written), sometimes followed by a second life.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "medium.h"
#include "on_medium.h"
#include "store.h"

#define SEGMENT (UINT64_C (64) << 10)
#define SEGMENTS 24
#define MEDIUM_SIZE (SEGMENTS * SEGMENT)
#define PAGE 4096

struct scenario {
  const char *name;
  bool compress;
  uint32_t open_segments;
  unsigned operations;
  unsigned flush_every;         /* 0: never */
  bool crash;                   /* abandon instead of close */
  bool second_life;             /* reopen and write more, then close */
};

static const struct scenario scenarios[] = {
  { "empty", true, 2, 0, 0, false, false },
  { "few-clean", true, 2, 40, 10, false, false },
  { "few-crash", true, 2, 40, 0, true, false },
  { "raw-clean", false, 2, 300, 50, false, false },
  { "raw-crash", false, 2, 300, 37, true, false },
  { "gc-clean", true, 2, 1500, 100, false, false },
  { "gc-crash", true, 2, 1500, 61, true, false },
  { "one-head-gc", false, 1, 1200, 80, false, false },
  { "one-head-crash", true, 1, 900, 0, true, false },
  { "crash-then-life", true, 2, 700, 45, true, true },
};

static uint64_t rng;

static uint64_t
next_random (void)
{
  uint64_t z = (rng += UINT64_C (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void
fail (const char *what, const char *message)
{
  fprintf (stderr, "make-seeds: %s: %s\n", what, message);
  exit (EXIT_FAILURE);
}

static void
check (int r, const char *what)
{
  if (r < 0)
    fail (what, strerror (-r));
}

/* One page of KIND: 0 random, 1 compressible text-like, 2 zero, 3
 * same-filled. */
static void
make_page (uint8_t *page, unsigned kind)
{
  switch (kind) {
  case 0:
    for (size_t i = 0; i < PAGE; i += 8) {
      const uint64_t v = next_random ();
      memcpy (page + i, &v, 8);
    }
    break;
  case 1: {
    const uint64_t base = next_random ();
    for (size_t i = 0; i < PAGE; i++)
      page[i] = "vswap seeds "[(i + base) % 12] ^ (i % 512 == 0);
    break;
  }
  case 2:
    memset (page, 0, PAGE);
    break;
  default: {
    const uint64_t v = next_random () | 1;
    for (size_t i = 0; i < PAGE; i += 8)
      memcpy (page + i, &v, 8);
  }
  }
}

static void
traffic (struct vswap_store *store, const struct scenario *s,
         unsigned operations, uint8_t *page)
{
  const uint64_t pages = vswap_store_size (store) / PAGE;

  for (unsigned i = 0; i < operations; i++) {
    const uint64_t slot = next_random () % pages;
    const unsigned choice = next_random () % 16;
    if (choice < 12) {
      make_page (page, choice % 4);
      check (vswap_store_write (store, page, PAGE, slot * PAGE,
                                choice == 11), "write");
    }
    else if (choice < 14) {
      const uint64_t n = 1 + next_random () % 8;
      const uint64_t first = slot + n <= pages ? slot : pages - n;
      check (vswap_store_trim (store, n * PAGE, first * PAGE, false),
             "trim");
    }
    else if (choice == 14) {
      check (vswap_store_zero (store, PAGE, slot * PAGE, false), "zero");
    }
    else {
      /* A partial write, as mkswap sends. */
      make_page (page, 1);
      check (vswap_store_write (store, page, 1024, slot * PAGE + 1024,
                                false), "partial write");
    }
    if (s->flush_every && i % s->flush_every == s->flush_every - 1)
      check (vswap_store_flush (store), "flush");
  }
}

static void
write_file (const char *directory, const char *target, const char *name,
            const void *bytes, size_t size)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", directory, target);
  mkdir (path, 0777);
  snprintf (path, sizeof path, "%s/%s/%s", directory, target, name);
  FILE *f = fopen (path, "w");
  if (!f || fwrite (bytes, 1, size, f) != size || fclose (f) != 0)
    fail (path, strerror (errno));
}

/* The structures in IMAGE, as the header targets take them. */
static void
extract (const char *directory, const char *name, const uint8_t *image)
{
  char file[256];
  uint8_t input[1 + 16 + VSWAP_RECORD_HEADER_SIZE];
  struct vswap_superblock sb;
  struct vswap_chunk_header h;

  /* fuzz-superblock: mode, 8 bytes of geometry, the superblock. */
  uint8_t superblock[9 + VSWAP_SUPERBLOCK_SIZE] = { 0, 0x9b, 16, 2, 0, 1 };
  memcpy (superblock + 9, image, VSWAP_SUPERBLOCK_SIZE);
  write_file (directory, "superblock", name, superblock, sizeof superblock);
  if (!vswap_superblock_decode (image, &sb))
    fail (name, "no superblock");
  const uint64_t seed = vswap_store_seed (sb.uuid);

  unsigned chunks = 0, records = 0;
  for (uint64_t segment = 1; segment + 1 < SEGMENTS; segment++) {
    const uint8_t *at = image + segment * SEGMENT;
    if (!vswap_chunk_header_decode (at, &h))
      continue;
    if (chunks < 8) {
      uint8_t chunk[1 + VSWAP_CHUNK_HEADER_SIZE] = { 0 };
      memcpy (chunk + 1, at, VSWAP_CHUNK_HEADER_SIZE);
      snprintf (file, sizeof file, "%s-%u", name, chunks++);
      write_file (directory, "chunk-header", file, chunk, sizeof chunk);
    }
    if (records < 8 && h.record_count > 0) {
      input[0] = 0;
      vswap_put64 (input + 1, seed);
      vswap_put64 (input + 9, h.generation);
      memcpy (input + 17, at + vswap_chunk_records_start (sb.address_shift),
              VSWAP_RECORD_HEADER_SIZE);
      snprintf (file, sizeof file, "%s-%u", name, records++);
      write_file (directory, "record-header", file, input, sizeof input);
    }
  }
}

int
main (int argc, char *argv[])
{
  if (argc != 2) {
    fprintf (stderr, "usage: make-seeds DIRECTORY\n");
    return EXIT_FAILURE;
  }
  const char *directory = argv[1];
  mkdir (directory, 0777);
  uint8_t *page, *image;
  if (posix_memalign ((void **) &page, 4096, PAGE) != 0 ||
      posix_memalign ((void **) &image, 4096, MEDIUM_SIZE) != 0)
    fail ("memory", "out of memory");

  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    const struct scenario *s = &scenarios[i];
    struct vswap_medium_options medium_options = { .erase_block = SEGMENT };
    struct vswap_error err;
    char spec[64];

    rng = i + 1;
    snprintf (spec, sizeof spec, "memory:%" PRIu64, MEDIUM_SIZE);
    struct vswap_medium *medium = vswap_medium_open (spec, &medium_options,
                                                     &err);
    if (!medium)
      fail (s->name, err.message);
    const struct vswap_format_options format = {
      .segment_size = SEGMENT,
      .open_segments = s->open_segments,
      .compression = s->compress ? VSWAP_COMPRESS_ZSTD : VSWAP_COMPRESS_NONE,
      .compression_chosen = true,
    };
    if (vswap_store_format (medium, &format, NULL, NULL, &err) < 0)
      fail (s->name, err.message);

    const struct vswap_open_options options = { .io_contexts = 1 };
    struct vswap_store *store = vswap_store_open (medium, &options, &err);
    if (!store)
      fail (s->name, err.message);
    traffic (store, s, s->operations, page);
    if (s->crash)
      vswap_store_abandon (store);
    else
      check (vswap_store_close (store), "close");
    if (s->second_life) {
      store = vswap_store_open (medium, &options, &err);
      if (!store)
        fail (s->name, err.message);
      traffic (store, s, s->operations / 2, page);
      check (vswap_store_close (store), "close");
    }

    check (vswap_medium_read (medium, image, MEDIUM_SIZE, 0), "read");
    vswap_medium_close (medium);
    write_file (directory, "recovery", s->name, image, MEDIUM_SIZE);
    extract (directory, s->name, image);
  }
  free (page);
  free (image);
  return EXIT_SUCCESS;
}
