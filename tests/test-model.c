/* vswap: the model test.  Random operations against the store and an
 * in-memory reference: writes of random, zero, same-filled and
 * compressible data at random offsets and lengths (unaligned too), trims,
 * write-zeroes, flushes, clean reopens and crash reopens, at logical fills
 * where GC runs all the time.  Every read is compared; after a crash every
 * page must hold what it held at the last flush or something written
 * since.
 *
 * VSWAP_MODEL_OPERATIONS sets the operations per case (default 20000, five
 * cases), VSWAP_MODEL_SEED the seed.  "make soak" runs it long.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <xxhash.h>

#include "medium.h"
#include "store.h"

#define PAGE 4096
#define CANDIDATES 24

struct model {
  struct vswap_medium *medium;
  struct vswap_store *store;
  struct vswap_open_options open_options;
  bool background;              /* run the background collector */
  uint64_t size, pages;
  uint8_t *reference;
  uint64_t *durable;            /* hash of each page at the last flush */
  uint8_t *candidate_count;     /* versions written since the last flush */
  uint64_t *candidates;         /* pages × CANDIDATES */
  uint8_t *buffer;
  uint64_t rng;
  uint64_t host_bytes, reads, crashes, reopens;
  uint64_t media_written, host_written;  /* over every open of the store */
};

static uint64_t
next (struct model *m)
{
  /* xorshift64*: fast, and the seed makes a failure reproducible. */
  m->rng ^= m->rng >> 12;
  m->rng ^= m->rng << 25;
  m->rng ^= m->rng >> 27;
  return m->rng * UINT64_C (2685821657736338717);
}

static uint64_t
below (struct model *m, uint64_t n)
{
  return next (m) % n;
}

static uint64_t
page_hash (const uint8_t *p)
{
  return XXH3_64bits (p, PAGE);
}

/* Fill LENGTH bytes with data of one kind, as swap would see it. */
static void
fill (struct model *m, uint8_t *out, size_t length)
{
  const unsigned kind = below (m, 100);
  if (kind < 40) {                      /* random: incompressible */
    for (size_t i = 0; i < length; i++) {
      if (i % 8 == 0) {
        uint64_t v = next (m);
        memcpy (out + i, &v, length - i < 8 ? length - i : 8);
      }
    }
  }
  else if (kind < 55)                   /* zero */
    memset (out, 0, length);
  else if (kind < 65) {                 /* same-filled */
    const uint64_t pattern = below (m, 4) == 0 ? UINT64_MAX
      : (next (m) | 1);
    for (size_t i = 0; i < length; i++)
      out[i] = ((const uint8_t *) &pattern)[i % 8];
  }
  else {                                /* heap-like: compressible */
    memset (out, 0, length);
    for (size_t i = 0; i + 8 <= length; i += 8)
      if (below (m, 4) == 0) {
        const uint64_t v = below (m, 3) ? below (m, 1000)
          : UINT64_C (0x7f0000000000) + below (m, 1 << 20) * 16;
        memcpy (out + i, &v, 8);
      }
  }
}

static void
note_version (struct model *m, uint64_t page)
{
  uint8_t *n = &m->candidate_count[page];
  if (*n < CANDIDATES)
    m->candidates[page * CANDIDATES + (*n)++] =
      page_hash (m->reference + page * PAGE);
  else
    /* Keep the newest: replace the last one. */
    m->candidates[page * CANDIDATES + CANDIDATES - 1] =
      page_hash (m->reference + page * PAGE);
}

static void
note_range (struct model *m, uint64_t offset, uint64_t length)
{
  for (uint64_t p = offset / PAGE; p * PAGE < offset + length; p++)
    note_version (m, p);
}

static void
open_store (struct model *m)
{
  struct vswap_error err = { "" };
  m->store = vswap_store_open (m->medium, &m->open_options, &err);
  ck_assert_msg (m->store != NULL, "open: %s", err.message);
  if (m->background)
    ck_assert_int_eq (vswap_store_start_background (m->store), 0);
}

/* Add this open's counters to the totals before the store goes away. */
static void
tally (struct model *m)
{
  struct vswap_statistics st;
  vswap_store_statistics (m->store, &st);
  m->media_written += st.media_write_bytes;
  m->host_written += st.host_write_bytes;
}

static void
flushed (struct model *m)
{
  for (uint64_t p = 0; p < m->pages; p++)
    if (m->candidate_count[p]) {
      m->durable[p] = page_hash (m->reference + p * PAGE);
      m->candidate_count[p] = 0;
    }
}

static void
verify_all (struct model *m, const char *when)
{
  uint8_t *page = m->buffer;
  for (uint64_t p = 0; p < m->pages; p++) {
    const int r = vswap_store_read (m->store, page, PAGE, p * PAGE);
    ck_assert_msg (r == 0, "%s: read page %" PRIu64 ": %s", when, p,
                   strerror (-r));
    ck_assert_msg (memcmp (page, m->reference + p * PAGE, PAGE) == 0,
                   "%s: page %" PRIu64 " differs", when, p);
  }
}

/* After a crash each page may hold its flushed version or any later one;
 * whichever it holds becomes the reference. */
static void
verify_after_crash (struct model *m)
{
  uint8_t *page = m->buffer;
  for (uint64_t p = 0; p < m->pages; p++) {
    const int r = vswap_store_read (m->store, page, PAGE, p * PAGE);
    ck_assert_msg (r == 0, "after crash: read page %" PRIu64 ": %s", p,
                   strerror (-r));
    const uint64_t h = page_hash (page);
    bool ok = h == m->durable[p];
    for (unsigned i = 0; !ok && i < m->candidate_count[p]; i++)
      ok = h == m->candidates[p * CANDIDATES + i];
    ck_assert_msg (ok, "after crash: page %" PRIu64 " holds neither its "
                   "flushed version nor a later one (%u later versions)",
                   p, m->candidate_count[p]);
    memcpy (m->reference + p * PAGE, page, PAGE);
    m->durable[p] = h;
    m->candidate_count[p] = 0;
  }
}

static void
random_range (struct model *m, uint64_t *offset, uint64_t *length)
{
  if (below (m, 10) < 7) {      /* page-aligned, as swap sends */
    const uint64_t n = 1 + below (m, 32);
    *offset = below (m, m->pages) * PAGE;
    *length = n * PAGE;
  }
  else {                        /* anything: mkswap, odd clients */
    *offset = below (m, m->size);
    *length = 1 + below (m, 3 * PAGE);
  }
  if (*offset + *length > m->size)
    *length = m->size - *offset;
}

static void
operation (struct model *m)
{
  uint64_t offset, length;
  const unsigned op = below (m, 1000);
  int r;

  random_range (m, &offset, &length);
  if (op < 600) {
    for (uint64_t done = 0; done < length; done += PAGE)
      fill (m, m->buffer + done, length - done < PAGE ? length - done : PAGE);
    r = vswap_store_write (m->store, m->buffer, length, offset,
                           below (m, 50) == 0);
    ck_assert_msg (r == 0, "write %" PRIu64 "+%" PRIu64 ": %s", offset,
                   length, strerror (-r));
    memcpy (m->reference + offset, m->buffer, length);
    note_range (m, offset, length);
    m->host_bytes += length;
  }
  else if (op < 800) {
    r = vswap_store_read (m->store, m->buffer, length, offset);
    ck_assert_msg (r == 0, "read %" PRIu64 "+%" PRIu64 ": %s", offset,
                   length, strerror (-r));
    ck_assert_msg (memcmp (m->buffer, m->reference + offset, length) == 0,
                   "read %" PRIu64 "+%" PRIu64 " differs from the reference",
                   offset, length);
    m->reads++;
  }
  else if (op < 860) {
    r = vswap_store_trim (m->store, length, offset, false);
    ck_assert_msg (r == 0, "trim: %s", strerror (-r));
    memset (m->reference + offset, 0, length);
    note_range (m, offset, length);
  }
  else if (op < 920) {
    r = vswap_store_zero (m->store, length, offset, false);
    ck_assert_msg (r == 0, "zero: %s", strerror (-r));
    memset (m->reference + offset, 0, length);
    note_range (m, offset, length);
  }
  else if (op < 990) {
    r = vswap_store_flush (m->store);
    ck_assert_msg (r == 0, "flush: %s", strerror (-r));
    flushed (m);
  }
  else if (op < 997) {
    tally (m);
    ck_assert_int_eq (vswap_store_close (m->store), 0);
    flushed (m);
    open_store (m);
    m->reopens++;
  }
  else {
    tally (m);
    vswap_store_abandon (m->store);
    open_store (m);
    verify_after_crash (m);
    m->crashes++;
  }
}

/* Run OPERATIONS random operations on a store whose live data fills about
 * FILL of the medium's data area. */
static void
run_model (double fill, bool compress, uint32_t open_segments,
           bool background, uint64_t operations)
{
  struct model m = { .rng = 0x9e3779b97f4a7c15, .background = background };
  struct vswap_error err = { "" };
  const char *seed = getenv ("VSWAP_MODEL_SEED");
  if (seed)
    m.rng = strtoull (seed, NULL, 0) | 1;
  const uint64_t segment = 1024 * 1024;
  const uint64_t medium_size = 128 * 1024 * 1024;
  const struct vswap_medium_options mo = { .erase_block = segment };
  char spec[64];
  snprintf (spec, sizeof spec, "memory:%" PRIu64, medium_size);
  m.medium = vswap_medium_open (spec, &mo, &err);
  ck_assert_msg (m.medium != NULL, "medium: %s", err.message);

  /* Data segments less the reserve and heads, times the fill. */
  const uint64_t usable = (medium_size / segment - 2 - 4) * segment;
  struct vswap_format_options fo = {
    .logical_size = (uint64_t) (usable * fill) / PAGE * PAGE,
    .open_segments = open_segments,
    .compression = compress ? VSWAP_COMPRESS_ZSTD : VSWAP_COMPRESS_NONE,
    .compression_chosen = true,
  };
  ck_assert_msg (vswap_store_format (m.medium, &fo, NULL, NULL, &err) == 0,
                 "format: %s", err.message);
  m.open_options.readtrim = VSWAP_READTRIM_HINT;
  open_store (&m);

  m.size = vswap_store_size (m.store);
  m.pages = m.size / PAGE;
  m.reference = calloc (m.pages, PAGE);
  m.durable = calloc (m.pages, sizeof *m.durable);
  m.candidate_count = calloc (m.pages, 1);
  m.candidates = calloc (m.pages * CANDIDATES, sizeof *m.candidates);
  m.buffer = malloc (64 * PAGE);
  ck_assert (m.reference && m.durable && m.candidate_count && m.candidates
             && m.buffer);
  const uint64_t zero_hash = page_hash (m.reference);
  for (uint64_t p = 0; p < m.pages; p++)
    m.durable[p] = zero_hash;

  /* Fill the device once with incompressible data, so that the live
   * data really is FILL of the medium before the random phase. */
  for (uint64_t p = 0; p < m.pages; p++) {
    for (size_t i = 0; i < PAGE; i += 8) {
      const uint64_t v = next (&m);
      memcpy (m.buffer + i, &v, 8);
    }
    ck_assert_int_eq (vswap_store_write (m.store, m.buffer, PAGE, p * PAGE,
                                         false), 0);
    memcpy (m.reference + p * PAGE, m.buffer, PAGE);
    note_version (&m, p);
  }
  m.host_bytes += m.size;

  for (uint64_t i = 0; i < operations; i++) {
    operation (&m);
    if (getenv ("VSWAP_MODEL_VERBOSE") && i % 1000 == 0) {
      struct vswap_statistics v;
      vswap_store_statistics (m.store, &v);
      fprintf (stderr, "op %" PRIu64 ": gc runs %" PRIu64 " moved %" PRIu64
               " free %" PRIu64 "\n", i, v.gc_runs, v.gc_bytes_moved,
               v.segments_free);
    }
  }
  verify_all (&m, "at the end");

  struct vswap_statistics st;
  vswap_store_statistics (m.store, &st);
  tally (&m);
  printf ("model: fill %.0f%% %s, %u open segment(s): %" PRIu64 " operations"
          " (%" PRIu64 " reads compared, %" PRIu64 " reopens, %" PRIu64
          " crashes): media/host bytes %.3f, metadata %.3f bytes/page\n",
          fill * 100, compress ? "zstd" : "uncompressed", open_segments,
          operations, m.reads, m.reopens, m.crashes,
          (double) m.media_written / m.host_written,
          st.metadata_bytes_per_page);
  ck_assert_int_eq (st.checksum_failures, 0);
  ck_assert_int_eq (st.enospc_errors, 0);

  /* Reopen once more: recovery must rebuild the very same contents. */
  ck_assert_int_eq (vswap_store_close (m.store), 0);
  open_store (&m);
  verify_all (&m, "after the final reopen");
  ck_assert_int_eq (vswap_store_close (m.store), 0);
  vswap_medium_close (m.medium);
  free (m.reference);
  free (m.durable);
  free (m.candidate_count);
  free (m.candidates);
  free (m.buffer);
}

static uint64_t
operations (void)
{
  const char *s = getenv ("VSWAP_MODEL_OPERATIONS");
  return s ? strtoull (s, NULL, 0) : 20000;
}

START_TEST (test_model_80_uncompressed)
{
  run_model (0.80, false, 2, false, operations ());
}
END_TEST

START_TEST (test_model_80_zstd)
{
  run_model (0.80, true, 2, false, operations ());
}
END_TEST

START_TEST (test_model_95_zstd)
{
  run_model (0.95, true, 2, false, operations ());
}
END_TEST

START_TEST (test_model_95_uncompressed)
{
  run_model (0.95, false, 2, false, operations ());
}
END_TEST

START_TEST (test_model_one_open_segment)
{
  run_model (0.90, true, 1, false, operations ());
}
END_TEST

/* The background collector runs beside the operations, so that every
 * interleaving of a collection (which lets go of the lock while it reads
 * and flushes) with writes, trims, flushes and crashes gets its chance. */
START_TEST (test_model_95_background)
{
  run_model (0.95, false, 2, true, operations ());
}
END_TEST

START_TEST (test_model_one_open_segment_background)
{
  run_model (0.90, true, 1, true, operations ());
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("model");
  const struct { const char *name; const TTest *test; } cases[] = {
    { "fill80", test_model_80_uncompressed },
    { "fill80zstd", test_model_80_zstd },
    { "fill95zstd", test_model_95_zstd },
    { "fill95", test_model_95_uncompressed },
    { "onehead", test_model_one_open_segment },
    { "fill95background", test_model_95_background },
    { "oneheadbackground", test_model_one_open_segment_background },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    /* Separate cases: CK_RUN_CASE=fill95 runs one. */
    TCase *tc = tcase_create (cases[i].name);
    tcase_set_timeout (tc, 1200);
    tcase_add_test (tc, cases[i].test);
    suite_add_tcase (s, tc);
  }
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
