/* vswap: unit tests of the store's promises (core/store.c and friends),
 * each on a small RAM medium. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "medium.h"
#include "on_medium.h"
#include "store.h"

#define PAGE 4096
#define SEGMENT (256 * 1024)

static struct vswap_medium *medium;
static uint8_t page[PAGE], back[PAGE];

static void
random_page (uint8_t *p, uint64_t seed)
{
  uint64_t x = seed * 0x9e3779b97f4a7c15 + 1;
  for (int i = 0; i < PAGE; i += 8) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    memcpy (p + i, &x, 8);
  }
}

static void
make_segments (uint64_t medium_size, uint64_t logical_size, bool compress,
               uint32_t segment)
{
  struct vswap_error err = { "" };
  const struct vswap_medium_options mo = { .erase_block = segment };
  char spec[64];
  snprintf (spec, sizeof spec, "memory:%" PRIu64, medium_size);
  medium = vswap_medium_open (spec, &mo, &err);
  ck_assert_msg (medium != NULL, "%s", err.message);
  const struct vswap_format_options fo = {
    .logical_size = logical_size,
    .compression = compress ? VSWAP_COMPRESS_ZSTD : VSWAP_COMPRESS_NONE,
    .compression_chosen = true,
  };
  ck_assert_msg (vswap_store_format (medium, &fo, NULL, NULL, &err) == 0,
                 "%s", err.message);
}

static void
make (uint64_t medium_size, uint64_t logical_size, bool compress)
{
  make_segments (medium_size, logical_size, compress, SEGMENT);
}

static struct vswap_store *
open_store (enum vswap_readtrim readtrim)
{
  struct vswap_error err = { "" };
  const struct vswap_open_options o = { .readtrim = readtrim };
  struct vswap_store *s = vswap_store_open (medium, &o, &err);
  ck_assert_msg (s != NULL, "%s", err.message);
  return s;
}

static void
teardown (void)
{
  vswap_medium_close (medium);
  medium = NULL;
}

START_TEST (test_zero_and_same_pages_cost_no_data)
{
  make (16 << 20, 8 << 20, true);
  struct vswap_store *s = open_store (VSWAP_READTRIM_HINT);
  struct vswap_statistics st;

  memset (page, 0, PAGE);
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  ck_assert_int_eq (vswap_store_flush (s), 0);
  vswap_store_statistics (s, &st);
  ck_assert_uint_eq (st.pages_zero, 1000);
  ck_assert_uint_eq (st.media_write_bytes, 0);

  /* Same-filled pages cost a 32-byte record each, and an 8-byte entry in
   * their chunk's summary; no page. */
  memset (page, 0xff, PAGE);
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  ck_assert_int_eq (vswap_store_flush (s), 0);
  vswap_store_statistics (s, &st);
  ck_assert_uint_eq (st.pages_same_filled, 1000);
  ck_assert_uint_le (st.media_write_bytes, 1000 * (32 + 8) + 3 * 4096);
  ck_assert_uint_eq (st.mapped_same_filled, 1000);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 7 * PAGE), 0);
  ck_assert_mem_eq (back, page, PAGE);
  ck_assert_int_eq (vswap_store_close (s), 0);

  s = open_store (VSWAP_READTRIM_HINT);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 999 * PAGE), 0);
  ck_assert_mem_eq (back, page, PAGE);
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

/* Find the medium offset of a byte string (the first 4 KiB unit holding
 * all of it). */
static uint64_t
find_on_medium (const uint8_t *needle, size_t length)
{
  uint8_t *unit = aligned_alloc (4096, 2 * PAGE);
  for (uint64_t off = 0; off + 2 * PAGE <= medium->geometry.capacity;
       off += PAGE) {
    ck_assert_int_eq (vswap_medium_read (medium, unit, 2 * PAGE, off), 0);
    for (size_t i = 0; i < PAGE; i++)
      if (memcmp (unit + i, needle, length) == 0) {
        free (unit);
        return off + i;
      }
  }
  free (unit);
  ck_abort_msg ("not found on the medium");
  return 0;
}

static void
flip_bit (uint64_t offset)
{
  uint8_t *unit = aligned_alloc (4096, PAGE);
  const uint64_t base = offset / PAGE * PAGE;
  ck_assert_int_eq (vswap_medium_read (medium, unit, PAGE, base), 0);
  unit[offset - base] ^= 0x10;
  ck_assert_int_eq (vswap_medium_write (medium, unit, PAGE, base), 0);
  free (unit);
}

static void
count_problem (void *opaque, bool failing, const char *message)
{
  int *n = opaque;
  ck_assert_ptr_nonnull (strstr (message, "page 5 "));
  *n += failing;
}

START_TEST (test_flipped_bit_is_eio_for_that_page_only)
{
  make (16 << 20, 8 << 20, false);
  struct vswap_store *s = open_store (VSWAP_READTRIM_OFF);
  for (int i = 0; i < 10; i++) {
    random_page (page, i);
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  }
  ck_assert_int_eq (vswap_store_close (s), 0);

  random_page (page, 5);
  flip_bit (find_on_medium (page + 100, 32) + 7);

  s = open_store (VSWAP_READTRIM_OFF);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 5 * PAGE), -EIO);
  /* A read spanning the page fails too; its neighbours are fine. */
  ck_assert_int_eq (vswap_store_read (s, back, 100, 5 * PAGE + 4000), -EIO);
  for (int i = 0; i < 10; i++) {
    if (i == 5)
      continue;
    random_page (page, i);
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, i * PAGE), 0);
    ck_assert_mem_eq (back, page, PAGE);
  }
  struct vswap_statistics st;
  vswap_store_statistics (s, &st);
  ck_assert_uint_eq (st.checksum_failures, 2);

  int problems = 0;
  struct vswap_check_result result;
  ck_assert_int_eq (vswap_store_check (s, count_problem, &problems, &result),
                    0);
  ck_assert_int_eq (problems, 1);
  ck_assert_uint_eq (result.pages_failing, 1);
  ck_assert_uint_ge (result.records_checked, 9);

  /* Overwriting the page heals it. */
  random_page (page, 55);
  ck_assert_int_eq (vswap_store_write (s, page, PAGE, 5 * PAGE, false), 0);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 5 * PAGE), 0);
  ck_assert_mem_eq (back, page, PAGE);
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

START_TEST (test_readtrim)
{
  make (16 << 20, 8 << 20, true);
  struct vswap_statistics st;

  /* hint: re-reads are counted, data stays. */
  struct vswap_store *s = open_store (VSWAP_READTRIM_HINT);
  random_page (page, 1);
  ck_assert_int_eq (vswap_store_write (s, page, PAGE, 0, false), 0);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, 0), 0);
    ck_assert_mem_eq (back, page, PAGE);
  }
  vswap_store_statistics (s, &st);
  ck_assert_uint_eq (st.readin_pages, 1);
  ck_assert_uint_eq (st.readin_rereads, 2);
  ck_assert_int_eq (vswap_store_close (s), 0);

  /* on: freed on read; a second read is EIO, never zeros or stale. */
  s = open_store (VSWAP_READTRIM_ON);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 0), 0);
  ck_assert_mem_eq (back, page, PAGE);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 0), -EIO);
  vswap_store_statistics (s, &st);
  ck_assert_uint_eq (st.readin_dropped, 1);
  ck_assert_uint_eq (st.readin_eio, 1);
  ck_assert_uint_eq (st.mapped_dropped, 1);
  /* A write makes it readable again. */
  random_page (page, 2);
  ck_assert_int_eq (vswap_store_write (s, page, PAGE, 0, false), 0);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 0), 0);
  ck_assert_mem_eq (back, page, PAGE);
  ck_assert_int_eq (vswap_store_close (s), 0);

  /* off: nothing counted. */
  s = open_store (VSWAP_READTRIM_OFF);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 0), 0);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 0), 0);
  vswap_store_statistics (s, &st);
  ck_assert_uint_eq (st.readin_pages + st.readin_rereads + st.readin_dropped,
                     0);
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

/* Write random page N to page N from 0 on until the store refuses one
 * (it must: the tests below export more than the medium holds), and
 * return how many it took. */
static uint64_t
fill_until_full (struct vswap_store *s)
{
  uint64_t written = 0;
  int r = 0;
  random_page (page, 0);
  while (written < 4096 && (r = vswap_store_write (s, page, PAGE,
                                                   written * PAGE, false))
         == 0) {
    written++;
    random_page (page, written);
  }
  ck_assert_int_eq (r, -ENOSPC);
  return written;
}

START_TEST (test_enospc_loses_nothing)
{
  /* 8 MiB of medium exporting 16 MiB: incompressible data cannot fit. */
  make (8 << 20, 16 << 20, true);
  struct vswap_store *s = open_store (VSWAP_READTRIM_OFF);
  const uint64_t written = fill_until_full (s);
  ck_assert_uint_gt (written, 100);
  struct vswap_statistics st;
  vswap_store_statistics (s, &st);
  ck_assert_uint_ge (st.enospc_errors, 1);

  /* Everything acknowledged is intact, and survives a reopen. */
  for (int pass = 0; pass < 2; pass++) {
    for (uint64_t i = 0; i < written; i++) {
      random_page (page, i);
      ck_assert_int_eq (vswap_store_read (s, back, PAGE, i * PAGE), 0);
      ck_assert_mem_eq (back, page, PAGE);
    }
    ck_assert_int_eq (vswap_store_close (s), 0);
    s = open_store (VSWAP_READTRIM_OFF);
  }

  /* Trimming gives the space back. */
  ck_assert_int_eq (vswap_store_trim (s, written / 2 * PAGE, 0, false), 0);
  random_page (page, 1000000);
  ck_assert_int_eq (vswap_store_write (s, page, PAGE, written * PAGE, false),
                    0);
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

/* A full store must take many scattered trims (each one page, its own
 * tombstone), though each frees too little for GC to collect anything:
 * the tombstones borrow one of the two reserved segments (see
 * open_segment in core/log_writer.c). */
START_TEST (test_full_store_takes_scattered_trims)
{
  make (8 << 20, 16 << 20, false);
  struct vswap_store *s = open_store (VSWAP_READTRIM_OFF);
  const uint64_t written = fill_until_full (s);

  /* Every 5th page, one trim each, many more than a segment's records:
   * each frees too little in its segment for GC to collect it. */
  uint64_t trims = 0;
  for (uint64_t i = 0; i < written; i += 5, trims++)
    ck_assert_msg (vswap_store_trim (s, PAGE, i * PAGE, false) == 0,
                   "trim %" PRIu64 " of page %" PRIu64 " on a full store "
                   "failed", trims, i);
  ck_assert_uint_gt (trims, 64);

  /* Trimmed pages read as zeros, the rest as written, also after a
   * reopen (recovery replays the tombstones wherever they went). */
  for (int pass = 0; pass < 2; pass++) {
    for (uint64_t i = 0; i < written; i++) {
      ck_assert_int_eq (vswap_store_read (s, back, PAGE, i * PAGE), 0);
      if (i % 5 == 0) {
        memset (page, 0, PAGE);
        ck_assert_msg (memcmp (back, page, PAGE) == 0,
                       "trimmed page %" PRIu64 " does not read zeros", i);
      }
      else {
        random_page (page, i);
        ck_assert_mem_eq (back, page, PAGE);
      }
    }
    ck_assert_int_eq (vswap_store_close (s), 0);
    s = open_store (VSWAP_READTRIM_OFF);
  }

  /* What the trims freed can be written again (half of it: the store
   * was full). */
  for (uint64_t i = 0; i < written; i += 10) {
    random_page (page, i + 1000000);
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  }
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

START_TEST (test_trim_survives_gc_and_crash)
{
  make (8 << 20, 4 << 20, false);
  struct vswap_store *s = open_store (VSWAP_READTRIM_OFF);
  const uint64_t pages = (4 << 20) / PAGE;

  for (uint64_t i = 0; i < 64; i++) {
    random_page (page, i);
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  }
  ck_assert_int_eq (vswap_store_flush (s), 0);
  ck_assert_int_eq (vswap_store_trim (s, 32 * PAGE, 0, false), 0);
  ck_assert_int_eq (vswap_store_zero (s, 16 * PAGE, 32 * PAGE, false), 0);

  /* Churn the rest of the device many times over, so GC moves or drops
   * the tombstones and erases the segments of the old data. */
  for (int round = 0; round < 8; round++)
    for (uint64_t i = 64; i < pages; i++) {
      random_page (page, i + round * pages);
      ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false),
                        0);
    }
  ck_assert_int_eq (vswap_store_flush (s), 0);
  struct vswap_statistics st;
  vswap_store_statistics (s, &st);
  ck_assert_uint_gt (st.gc_runs, 0);
  vswap_store_abandon (s);              /* crash */

  s = open_store (VSWAP_READTRIM_OFF);
  memset (page, 0, PAGE);
  for (uint64_t i = 0; i < 48; i++) {
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, i * PAGE), 0);
    ck_assert_msg (memcmp (back, page, PAGE) == 0,
                   "page %" PRIu64 " came back after its trim", i);
  }
  for (uint64_t i = 48; i < 64; i++) {
    random_page (page, i);
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, i * PAGE), 0);
    ck_assert_mem_eq (back, page, PAGE);
  }
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

/* Overwrite random pages of [0, PAGES) ROUNDS times the device, each
 * with a new version (VERSIONS counts them). */
static void
churn (struct vswap_store *s, uint32_t *versions, uint64_t pages,
       unsigned rounds, uint64_t *rng)
{
  for (uint64_t n = 0; n < rounds * pages; n++) {
    *rng ^= *rng << 13; *rng ^= *rng >> 7; *rng ^= *rng << 17;
    const uint64_t p = *rng % pages;
    random_page (page, p + ++versions[p] * pages);
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, p * PAGE, false), 0);
  }
}

/* 1 MiB segments of raw pages hold 253 records in one chunk, with the
 * summary of the segment before (2,112 bytes): 2,016 bytes of padding a
 * segment, 0.19%.  A chunk sealed early leaves room for 252 and pads
 * more.  When no segment is free and the collected victims wait for the
 * GC head's copies, user writes fill the GC head's segment rather than
 * seal it (gc.c): uniform overwrites at 77% fill, with no flush, then pad
 * little more than that (forced seals padded another 0.13% of the media
 * bytes).  The user records in the GC head must read back, after a crash
 * and after a clean reopen. */
START_TEST (test_full_store_fills_gc_head_unpadded)
{
  const uint32_t segment = 1 << 20;
  const uint64_t pages = (17 << 20) / PAGE;
  make_segments (24 << 20, pages * PAGE, false, segment);
  struct vswap_store *s = open_store (VSWAP_READTRIM_OFF);
  uint32_t *versions = calloc (pages, sizeof *versions);
  ck_assert (versions);
  uint64_t rng = 88172645463325252;

  for (uint64_t p = 0; p < pages; p++) {
    random_page (page, p);
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, p * PAGE, false), 0);
  }
  churn (s, versions, pages, 4, &rng);
  struct vswap_statistics st;
  vswap_store_statistics (s, &st);
  ck_assert_uint_gt (st.gc_runs, 0);
  ck_assert_msg (st.media_padding_bytes * 350 < st.media_write_bytes,
                 "%" PRIu64 " bytes of padding in %" PRIu64 " media bytes",
                 st.media_padding_bytes, st.media_write_bytes);
  vswap_store_abandon (s);              /* crash, nothing flushed */

  /* Each page reads as one of its versions. */
  s = open_store (VSWAP_READTRIM_OFF);
  for (uint64_t p = 0; p < pages; p++) {
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, p * PAGE), 0);
    uint32_t v = versions[p] + 1;
    do {
      v--;
      random_page (page, p + v * pages);
    } while (v > 0 && memcmp (back, page, PAGE) != 0);
    ck_assert_msg (memcmp (back, page, PAGE) == 0,
                   "page %" PRIu64 " reads as none of its versions", p);
    versions[p] = v;
  }
  churn (s, versions, pages, 2, &rng);
  ck_assert_int_eq (vswap_store_close (s), 0);

  /* After a clean close, each page reads as its last version. */
  s = open_store (VSWAP_READTRIM_OFF);
  for (uint64_t p = 0; p < pages; p++) {
    random_page (page, p + versions[p] * pages);
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, p * PAGE), 0);
    ck_assert_msg (memcmp (back, page, PAGE) == 0,
                   "page %" PRIu64 " is not its last version", p);
  }
  ck_assert_int_eq (vswap_store_close (s), 0);
  free (versions);
}
END_TEST

struct extent { uint64_t offset, length; enum vswap_extent_kind kind; };

static int
collect_extent (void *opaque, uint64_t offset, uint64_t length,
                enum vswap_extent_kind kind)
{
  struct extent *e = opaque;
  while (e->length)
    e++;
  e->offset = offset;
  e->length = length;
  e->kind = kind;
  return 0;
}

START_TEST (test_extents)
{
  make (16 << 20, 8 << 20, true);
  struct vswap_store *s = open_store (VSWAP_READTRIM_OFF);
  random_page (page, 3);
  ck_assert_int_eq (vswap_store_write (s, page, PAGE, 2 * PAGE, false), 0);
  ck_assert_int_eq (vswap_store_write (s, page, PAGE, 3 * PAGE, false), 0);
  ck_assert_int_eq (vswap_store_write (s, page, PAGE, 4 * PAGE, false), 0);
  ck_assert_int_eq (vswap_store_zero (s, PAGE, 4 * PAGE, false), 0);

  struct extent e[8];
  memset (e, 0, sizeof e);
  ck_assert_int_eq (vswap_store_extents (s, 6 * PAGE - 100, 100,
                                         collect_extent, e), 0);
  ck_assert_uint_eq (e[0].offset, 100);
  ck_assert_uint_eq (e[0].length, 2 * PAGE - 100);
  ck_assert_int_eq (e[0].kind, VSWAP_EXTENT_HOLE);
  ck_assert_uint_eq (e[1].length, 2 * PAGE);
  ck_assert_int_eq (e[1].kind, VSWAP_EXTENT_DATA);
  ck_assert_uint_eq (e[2].length, PAGE);
  ck_assert_int_eq (e[2].kind, VSWAP_EXTENT_ZERO);
  ck_assert_uint_eq (e[3].offset, 5 * PAGE);
  ck_assert_uint_eq (e[3].length, PAGE);
  ck_assert_int_eq (e[3].kind, VSWAP_EXTENT_HOLE);
  ck_assert_uint_eq (e[4].length, 0);
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

START_TEST (test_bad_input_changes_nothing)
{
  make (16 << 20, 8 << 20, true);
  struct vswap_store *s = open_store (VSWAP_READTRIM_OFF);
  const uint64_t size = vswap_store_size (s);
  ck_assert_int_eq (vswap_store_write (s, page, PAGE, size, false), -ERANGE);
  ck_assert_int_eq (vswap_store_read (s, back, 2, size - 1), -ERANGE);
  ck_assert_int_eq (vswap_store_trim (s, PAGE, size - 1, false), -ERANGE);
  ck_assert_int_eq (vswap_store_close (s), 0);

  /* A medium that is no store is refused with a sentence. */
  struct vswap_error err = { "" };
  const struct vswap_medium_options mo = { 0 };
  struct vswap_medium *blank = vswap_medium_open ("memory:16M", &mo, &err);
  const struct vswap_open_options o = { 0 };
  ck_assert_ptr_null (vswap_store_open (blank, &o, &err));
  ck_assert_ptr_nonnull (strstr (err.message, "vswap format"));
  ck_assert_int_eq (vswap_store_probe (blank, NULL), 0);
  ck_assert_int_eq (vswap_store_probe (medium, NULL), 1);
  vswap_medium_close (blank);

  /* A geometry that does not fit is refused before anything is written. */
  const struct vswap_medium_options small = { .erase_block = SEGMENT };
  struct vswap_medium *tiny = vswap_medium_open ("memory:1M", &small, &err);
  ck_assert_ptr_nonnull (tiny);
  const struct vswap_format_options fo = { .segment_size = 256 * 1024 };
  ck_assert_int_eq (vswap_store_format (tiny, &fo, NULL, NULL, &err),
                    -ENOSPC);
  ck_assert_ptr_nonnull (strstr (err.message, "larger medium"));
  const struct vswap_format_options odd = { .segment_size = 3 * 65536 };
  ck_assert_int_eq (vswap_store_format (medium, &odd, NULL, NULL, &err),
                    -EINVAL);
  ck_assert_int_eq (vswap_store_probe (medium, NULL), 1);
  vswap_medium_close (tiny);
}
END_TEST

/* A medium over 128 GiB needs record addresses in units larger than a
 * chunk header: a sparse file of 200 GiB exercises that path. */
START_TEST (test_large_medium_address_units)
{
  char path[] = "/var/tmp/vswap-test-large.XXXXXX";
  const int fd = mkstemp (path);
  ck_assert_int_ge (fd, 0);
  close (fd);
  struct vswap_error err = { "" };
  const struct vswap_medium_options mo = {
    .create = true, .create_size = UINT64_C (200) << 30, .buffered = true,
  };
  medium = vswap_medium_open (path, &mo, &err);
  if (!medium) {
    unlink (path);
    ck_abort_msg ("%s", err.message);
  }
  const struct vswap_format_options fo = { .logical_size = 64 << 20 };
  ck_assert_msg (vswap_store_format (medium, &fo, NULL, NULL, &err) == 0,
                 "%s", err.message);
  struct vswap_store *s = open_store (VSWAP_READTRIM_OFF);
  struct vswap_store_info info;
  vswap_store_get_info (s, &info);
  ck_assert_uint_ge (info.address_unit, 128);
  for (uint64_t i = 0; i < 2000; i++) {
    random_page (page, i);
    if (i % 3 == 0)
      memset (page + 64, 0, PAGE - 64);         /* compressible */
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  }
  ck_assert_int_eq (vswap_store_close (s), 0);
  s = open_store (VSWAP_READTRIM_OFF);
  for (uint64_t i = 0; i < 2000; i++) {
    random_page (page, i);
    if (i % 3 == 0)
      memset (page + 64, 0, PAGE - 64);
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, i * PAGE), 0);
    ck_assert_mem_eq (back, page, PAGE);
  }
  struct vswap_check_result result;
  ck_assert_int_eq (vswap_store_check (s, NULL, NULL, &result), 0);
  ck_assert_uint_eq (result.pages_failing, 0);
  ck_assert_uint_eq (result.damage_notes, 0);
  ck_assert_int_eq (vswap_store_close (s), 0);
  unlink (path);
}
END_TEST

/* A medium in front of the RAM medium whose flush lets another client
 * write meanwhile (its pages land while the medium flushes, so the flush
 * does not cover them), and which checks every durability marker.  A
 * marker (a CLEAN chunk) tells recovery that every chunk of a lower
 * sequence is complete: damage there is rot, an error, where damage to
 * a chunk a power cut tore keeps the page's previous copy. */
struct flush_window {
  struct vswap_medium medium;   /* first: the operations cast */
  struct vswap_medium *inner;
  struct vswap_store *store;
  bool armed;                   /* the next flush lets the client write */
  bool in_window;
  uint64_t next_page;           /* the client's next (fresh) page */
  unsigned window_chunks;       /* chunks written in the window */
  bool window_unflushed;        /* one of them, since the last flush */
  unsigned markers;             /* CLEAN chunks written */
  unsigned false_markers;       /* of those, after an unflushed one */
};

static int
window_read (struct vswap_medium *m, void *buffer, size_t length,
             uint64_t offset)
{
  return vswap_medium_read (((struct flush_window *) m)->inner, buffer,
                            length, offset);
}

static int
window_write (struct vswap_medium *m, const void *buffer, size_t length,
              uint64_t offset)
{
  struct flush_window *w = (struct flush_window *) m;
  struct vswap_chunk_header h;

  /* A chunk goes out in one write that starts with its header. */
  if (length >= VSWAP_CHUNK_HEADER_SIZE &&
      vswap_chunk_header_decode (buffer, &h)) {
    if (w->in_window) {
      w->window_chunks++;
      w->window_unflushed = true;
    }
    else if (h.flags & VSWAP_CHUNK_CLEAN) {
      w->markers++;
      if (w->window_unflushed)
        w->false_markers++;
    }
  }
  return vswap_medium_write (w->inner, buffer, length, offset);
}

static int
window_discard (struct vswap_medium *m, uint64_t offset, uint64_t length)
{
  return vswap_medium_discard (((struct flush_window *) m)->inner, offset,
                               length);
}

static int
window_flush (struct vswap_medium *m)
{
  struct flush_window *w = (struct flush_window *) m;
  const int r = vswap_medium_flush (w->inner);

  w->window_unflushed = false;
  if (w->armed) {
    /* Fresh pages go to the user head; write until one seals a chunk,
     * which leaves the head with no open chunk: a marker could follow. */
    w->armed = false;
    w->in_window = true;
    while (w->window_chunks == 0) {
      random_page (page, w->next_page);
      ck_assert_int_eq (vswap_store_write (w->store, page, PAGE,
                                           w->next_page * PAGE, false), 0);
      w->next_page++;
    }
    w->in_window = false;
  }
  return r;
}

static void
window_close (struct vswap_medium *m)
{
}

static const struct vswap_medium_operations window_operations = {
  .name = "flush-window", .read = window_read, .write = window_write,
  .discard = window_discard, .flush = window_flush, .close = window_close,
};

START_TEST (test_no_marker_over_a_chunk_written_during_the_flush)
{
  struct vswap_error err = { "" };
  struct flush_window w = { .inner = NULL };

  make (8 * 1024 * 1024, 4 * 1024 * 1024, false);
  w.inner = medium;
  w.medium.operations = &window_operations;
  w.medium.geometry = medium->geometry;
  snprintf (w.medium.description, sizeof w.medium.description, "window");
  const struct vswap_open_options o = { .readtrim = VSWAP_READTRIM_OFF };
  w.store = vswap_store_open (&w.medium, &o, &err);
  ck_assert_msg (w.store != NULL, "%s", err.message);

  /* A plain flush marks what it made durable. */
  for (w.next_page = 0; w.next_page < 40; w.next_page++) {
    random_page (page, w.next_page);
    ck_assert_int_eq (vswap_store_write (w.store, page, PAGE,
                                         w.next_page * PAGE, false), 0);
  }
  ck_assert_int_eq (vswap_store_flush (w.store), 0);
  ck_assert_uint_eq (w.markers, 1);

  /* Another client writes a chunk while the medium flushes: that chunk
   * is not durable yet, so no marker may come after it. */
  random_page (page, w.next_page);
  ck_assert_int_eq (vswap_store_write (w.store, page, PAGE,
                                       w.next_page * PAGE, false), 0);
  w.next_page++;
  w.armed = true;
  ck_assert_int_eq (vswap_store_flush (w.store), 0);
  ck_assert_uint_ge (w.window_chunks, 1);
  ck_assert_msg (w.false_markers == 0, "a marker after this flush claims "
                 "complete a chunk written while the medium flushed");

  /* The next flush covers it, and marks it. */
  ck_assert_int_eq (vswap_store_flush (w.store), 0);
  ck_assert_uint_eq (w.markers, 2);
  ck_assert_uint_eq (w.false_markers, 0);

  for (uint64_t p = 0; p < w.next_page; p++) {
    random_page (page, p);
    ck_assert_int_eq (vswap_store_read (w.store, back, PAGE, p * PAGE), 0);
    ck_assert_msg (memcmp (page, back, PAGE) == 0, "page %" PRIu64, p);
  }
  ck_assert_int_eq (vswap_store_close (w.store), 0);
}
END_TEST

struct layout_count {
  unsigned superblocks, chunks, headers, payloads, mapped;
  unsigned kinds[8];
};

static int
count_structure (void *opaque, const struct vswap_structure *st)
{
  struct layout_count *c = opaque;
  switch (st->kind) {
  case VSWAP_STRUCTURE_SUPERBLOCK: c->superblocks++; break;
  case VSWAP_STRUCTURE_CHUNK_HEADER: c->chunks++; break;
  case VSWAP_STRUCTURE_RECORD_HEADER:
    c->headers++;
    c->mapped += st->mapped;
    if (st->record_kind < 8)
      c->kinds[st->record_kind]++;
    break;
  case VSWAP_STRUCTURE_PAYLOAD:
    ck_assert_uint_gt (st->length, 0);
    c->payloads++;
    break;
  }
  return 0;
}

/* The layout lists what was written, where recovery finds it. */
START_TEST (test_layout_lists_every_structure)
{
  make (16 << 20, 8 << 20, false);
  struct vswap_store *s = open_store (VSWAP_READTRIM_OFF);
  for (int i = 0; i < 100; i++) {
    random_page (page, i);
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  }
  memset (page, 0x5a, PAGE);
  for (int i = 100; i < 110; i++)
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  ck_assert_int_eq (vswap_store_trim (s, 10 * PAGE, 0, false), 0);
  ck_assert_int_eq (vswap_store_close (s), 0);

  s = open_store (VSWAP_READTRIM_OFF);
  /* Every chunk's body checksum (gathered record by record as the chunk
   * grew) verifies. */
  struct vswap_statistics st;
  vswap_store_statistics (s, &st);
  ck_assert_uint_eq (st.chunks_damaged, 0);
  struct layout_count c = { 0 };
  ck_assert_int_eq (vswap_store_layout (s, count_structure, &c), 0);
  ck_assert_uint_eq (c.superblocks, 2);
  ck_assert_uint_ge (c.chunks, 1);
  ck_assert_uint_eq (c.kinds[VSWAP_RECORD_RAW], 100);
  ck_assert_uint_eq (c.kinds[VSWAP_RECORD_SAME], 10);
  ck_assert_uint_eq (c.kinds[VSWAP_RECORD_TRIM], 1);
  ck_assert_uint_eq (c.mapped, 90);     /* 10 of the raw pages trimmed */
  ck_assert_uint_ge (c.payloads, 100);
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("store");
  TCase *tc = tcase_create ("store");
  tcase_add_checked_fixture (tc, NULL, teardown);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_zero_and_same_pages_cost_no_data);
  tcase_add_test (tc, test_flipped_bit_is_eio_for_that_page_only);
  tcase_add_test (tc, test_readtrim);
  tcase_add_test (tc, test_enospc_loses_nothing);
  tcase_add_test (tc, test_full_store_takes_scattered_trims);
  tcase_add_test (tc, test_trim_survives_gc_and_crash);
  tcase_add_test (tc, test_full_store_fills_gc_head_unpadded);
  tcase_add_test (tc, test_extents);
  tcase_add_test (tc, test_bad_input_changes_nothing);
  tcase_add_test (tc, test_large_medium_address_units);
  tcase_add_test (tc, test_no_marker_over_a_chunk_written_during_the_flush);
  tcase_add_test (tc, test_layout_lists_every_structure);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
