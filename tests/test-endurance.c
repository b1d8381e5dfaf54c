/* vswap: endurance pieces.  Erase counts survive restarts (free segments
 * included) and wear levelling keeps them even; a request trace written
 * by several threads reads back whole, and a truncated one is reported.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"
#include "medium.h"
#include "simulated.h"
#include "store.h"
#include "trace.h"

#define PAGE 4096

static struct vswap_medium *
open_card (void)
{
  struct vswap_error err;
  const struct vswap_simulated_options options = {
    .size = 32 << 20, .erase_block = 256 << 10, .au = 256 << 10,
  };
  struct vswap_medium *medium = vswap_simulated_medium_open (&options, &err);
  ck_assert_msg (medium, "%s", err.message);
  return medium;
}

static struct vswap_store *
open_store (struct vswap_medium *medium)
{
  struct vswap_error err;
  const struct vswap_open_options options = { .io_contexts = 1 };
  struct vswap_store *store = vswap_store_open (medium, &options, &err);
  ck_assert_msg (store, "%s", err.message);
  return store;
}

/* Erase counts of the data segments: returns their sum, fills max/min. */
static uint64_t
erase_counts (struct vswap_store *store, uint32_t *counts, uint64_t *n,
              uint32_t *max)
{
  struct vswap_segment_info info;
  uint64_t sum = 0;
  *max = 0;
  for (*n = 0; vswap_store_segment_info (store, *n, &info) == 0; (*n)++) {
    counts[*n] = info.erase_count;
    sum += info.erase_count;
    if (info.erase_count > *max)
      *max = info.erase_count;
  }
  return sum;
}

/* 50 full overwrites, 80% full, the store closed and opened again after
 * each: no segment's erase count goes down across a restart (free ones
 * included: their chunk headers are erased), and the most erased segment
 * is at most twice the mean. */
START_TEST (test_wear_survives_restarts)
{
  struct vswap_medium *medium = open_card ();
  struct vswap_error err;
  const struct vswap_format_options format = {
    .segment_size = 256 << 10,
    .logical_size = (uint64_t) (32 << 20) * 7 / 10 / PAGE * PAGE,
  };
  ck_assert_msg (vswap_store_format (medium, &format, NULL, NULL, &err)
                 == 0, "%s", err.message);

  uint32_t before[512], after[512];
  uint64_t n, seed = 7;
  uint32_t max;
  uint8_t *page = aligned_alloc (PAGE, PAGE);
  struct vswap_store *store = open_store (medium);
  const uint64_t pages = vswap_store_size (store) / PAGE;
  uint64_t free_with_count = 0;

  for (int round = 0; round < 50; round++) {
    for (uint64_t i = 0; i < pages; i++) {
      /* Random pages, a random order: every page once per round. */
      seed = seed * 6364136223846793005u + 1442695040888963407u;
      memset (page, (int) (seed >> 56), PAGE);
      memcpy (page, &seed, sizeof seed);
      const uint64_t p = (i * 7919 + (uint64_t) round * 104729) % pages;
      ck_assert_int_eq (vswap_store_write (store, page, PAGE, p * PAGE,
                                           false), 0);
    }
    erase_counts (store, before, &n, &max);
    for (uint64_t i = 0; i < n; i++) {
      struct vswap_segment_info info;
      vswap_store_segment_info (store, i, &info);
      if (info.free && info.erase_count > 0)
        free_with_count++;
    }
    ck_assert_int_eq (vswap_store_close (store), 0);
    store = open_store (medium);
    erase_counts (store, after, &n, &max);
    for (uint64_t i = 0; i < n; i++)
      ck_assert_msg (after[i] >= before[i], "round %d: segment %" PRIu64
                     " had %" PRIu32 " erases before the restart, %" PRIu32
                     " after", round, i, before[i], after[i]);
  }
  /* The test must have seen free segments that had been erased. */
  ck_assert_uint_gt (free_with_count, 0);

  const uint64_t sum = erase_counts (store, after, &n, &max);
  const double mean = (double) sum / (double) n;
  printf ("wear: %" PRIu64 " data segments after 50 overwrites with "
          "restarts: max %" PRIu32 " erases, mean %.2f, spread %.2f\n",
          n, max, mean, max / mean);
  ck_assert_msg (mean > 10, "mean erase count %.2f: the test did not wear "
                 "the medium", mean);
  ck_assert_msg (max <= 2 * mean, "spread %.2f > 2", max / mean);
  vswap_store_close (store);
  vswap_medium_close (medium);
  free (page);
}
END_TEST

/* ---- traces ---- */

#define THREADS 4
#define PER_THREAD 500

struct writer_thread {
  struct vswap_trace_writer *writer;
  int id;
};

static void *
write_requests (void *opaque)
{
  const struct writer_thread *t = opaque;
  uint8_t data[2 * PAGE];
  for (int i = 0; i < PER_THREAD; i++) {
    const uint64_t offset = ((uint64_t) t->id * PER_THREAD + i) * PAGE;
    const uint32_t length = (i % 2 + 1) * PAGE;
    /* The data says which request it belongs to. */
    memset (data, (t->id * 31 + i) & 0xff, sizeof data);
    memcpy (data, &offset, sizeof offset);
    ck_assert_int_eq (vswap_trace_append (t->writer, VSWAP_TRACE_WRITE, 0,
                                          offset, length, data), 0);
    if (i % 10 == 0)
      ck_assert_int_eq (vswap_trace_append (t->writer, VSWAP_TRACE_TRIM,
                                            VSWAP_TRACE_FUA, offset, PAGE,
                                            NULL), 0);
  }
  return NULL;
}

START_TEST (test_trace_threads)
{
  char path[] = "/tmp/vswap-trace-XXXXXX";
  const int fd = mkstemp (path);
  ck_assert_int_ge (fd, 0);
  close (fd);
  struct vswap_error err;
  struct vswap_trace_writer *writer =
    vswap_trace_writer_open (path, UINT64_C (1) << 30, &err);
  ck_assert_msg (writer, "%s", err.message);

  pthread_t threads[THREADS];
  struct writer_thread args[THREADS];
  for (int i = 0; i < THREADS; i++) {
    args[i] = (struct writer_thread) { writer, i };
    pthread_create (&threads[i], NULL, write_requests, &args[i]);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join (threads[i], NULL);
  ck_assert_int_eq (vswap_trace_append (writer, VSWAP_TRACE_FLUSH, 0, 0, 0,
                                        NULL), 0);
  ck_assert_int_eq (vswap_trace_writer_close (writer), 0);

  uint64_t size;
  struct vswap_trace_reader *reader = vswap_trace_reader_open (path, &size,
                                                               &err);
  ck_assert_msg (reader, "%s", err.message);
  ck_assert_uint_eq (size, UINT64_C (1) << 30);
  struct vswap_trace_record rec;
  const void *data;
  uint64_t writes = 0, trims = 0, flushes = 0, expected_sequence = 0;
  int r;
  while ((r = vswap_trace_next (reader, &rec, &data, &err)) == 1) {
    ck_assert_uint_eq (rec.sequence, expected_sequence++);
    if (rec.operation == VSWAP_TRACE_WRITE) {
      uint64_t offset;
      memcpy (&offset, data, sizeof offset);
      ck_assert_uint_eq (offset, rec.offset);   /* data stayed whole */
      ck_assert (rec.length == PAGE || rec.length == 2 * PAGE);
      writes++;
    }
    else if (rec.operation == VSWAP_TRACE_TRIM) {
      ck_assert_int_eq (rec.flags, VSWAP_TRACE_FUA);
      trims++;
    }
    else if (rec.operation == VSWAP_TRACE_FLUSH)
      flushes++;
  }
  ck_assert_int_eq (r, 0);
  ck_assert_uint_eq (writes, THREADS * PER_THREAD);
  ck_assert_uint_eq (trims, THREADS * PER_THREAD / 10);
  ck_assert_uint_eq (flushes, 1);
  vswap_trace_reader_close (reader);

  /* Cut the file short: the reader says so instead of inventing records. */
  ck_assert_int_eq (truncate (path, 5000), 0);
  reader = vswap_trace_reader_open (path, &size, &err);
  ck_assert_msg (reader, "%s", err.message);
  while ((r = vswap_trace_next (reader, &rec, &data, &err)) == 1)
    ;
  ck_assert_int_lt (r, 0);
  ck_assert_msg (strstr (err.message, "truncated"), "%s", err.message);
  vswap_trace_reader_close (reader);

  /* Not a trace at all. */
  FILE *f = fopen (path, "w");
  fputs ("hello", f);
  fclose (f);
  ck_assert (vswap_trace_reader_open (path, &size, &err) == NULL);
  ck_assert_msg (strstr (err.message, "not a vswap trace"), "%s",
                 err.message);
  unlink (path);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("endurance");
  TCase *tc = tcase_create ("wear");
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, test_wear_survives_restarts);
  suite_add_tcase (s, tc);
  tc = tcase_create ("trace");
  tcase_add_test (tc, test_trace_threads);
  suite_add_tcase (s, tc);
  return test_run_suite (s);
}
