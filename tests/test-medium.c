/* vswap: unit tests of the media (flash/): size parsing, the memory
 * medium, and the file medium with and without O_DIRECT and io_uring
 * (its I/O threads, their rings and io-wq workers).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"
#include "medium.h"

#define MiB (UINT64_C (1) << 20)

/* Tests with an index run once for each of these file setups. */
struct file_setup {
  const char *dir;              /* NULL: $TMPDIR or /tmp */
  bool buffered;
  bool no_uring;
};

static const struct file_setup setups[] = {
  { ".", false, false },        /* the build directory: O_DIRECT */
  { ".", true, false },
  { ".", false, true },
  { NULL, false, false },       /* tmpfs may refuse O_DIRECT: fallback */
  { "/dev/shm", false, false },
};
#define NR_SETUPS ((int) (sizeof setups / sizeof setups[0]))

static bool no_uring_outside;

static bool
all_zero (const unsigned char *buffer, size_t length)
{
  size_t i;

  for (i = 0; i < length; i++)
    if (buffer[i])
      return false;
  return true;
}

/* Messages are for a terminal: one line, starting with what failed. */
static void
check_message (const struct vswap_error *err, const char *start)
{
  ck_assert_msg (err->message[0] != '\0', "no message");
  ck_assert_msg (strchr (err->message, '\n') == NULL,
                 "message is more than one line: %s", err->message);
  ck_assert_msg (strncmp (err->message, start, strlen (start)) == 0,
                 "message \"%s\" does not start with \"%s\"",
                 err->message, start);
  ck_assert_msg (strchr (err->message, ':') != NULL,
                 "message names no fix: %s", err->message);
}

/* ---- vswap_parse_size ---- */

START_TEST (test_parse_size_good)
{
  static const struct {
    const char *text;
    uint64_t bytes;
  } cases[] = {
    { "0", 0 },
    { "4096", 4096 },
    { "4096b", 4096 },
    { "4096B", 4096 },
    { "512K", 512 << 10 },
    { "512k", 512 << 10 },
    { "512KiB", 512 << 10 },
    { "4M", 4 * MiB },
    { "4m", 4 * MiB },
    { "4MiB", 4 * MiB },
    { "4mib", 4 * MiB },
    { "1G", UINT64_C (1) << 30 },
    { "1GiB", UINT64_C (1) << 30 },
    { "1T", UINT64_C (1) << 40 },
    { "3P", UINT64_C (3) << 50 },
    { "15E", UINT64_C (15) << 60 },
    { "007", 7 },
    { "18446744073709551615", UINT64_MAX },
    { "17179869183G", UINT64_C (17179869183) << 30 },
  };
  size_t i;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t bytes = 12345;

    ck_assert_msg (vswap_parse_size (cases[i].text, &bytes) == 0,
                   "\"%s\" refused", cases[i].text);
    ck_assert_msg (bytes == cases[i].bytes,
                   "\"%s\" gave %" PRIu64, cases[i].text, bytes);
  }
}
END_TEST

START_TEST (test_parse_size_bad)
{
  static const char *const cases[] = {
    "", "K", "M", "-1", "+1", " 1", "1 ", "1.5G", "0x10", "1KB", "1MB",
    "1Ki", "1KiBB", "1Q", "1GG", "12abc", "1e3", "4 M",
    "18446744073709551616",       /* 2^64 */
    "99999999999999999999999",
    "16E", "17179869184G", "16777216T",
  };
  size_t i;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t bytes = 12345;

    ck_assert_msg (vswap_parse_size (cases[i], &bytes) == -EINVAL,
                   "\"%s\" accepted", cases[i]);
    ck_assert_msg (bytes == 12345, "\"%s\" wrote the result", cases[i]);
  }
  ck_assert_int_eq (vswap_parse_size (NULL, &(uint64_t) { 0 }), -EINVAL);
}
END_TEST

/* ---- what every medium must do ---- */

/* Write, read back, discard, flush, and count, on an opened medium of at
 * least two erase blocks. */
static void
exercise (struct vswap_medium *m)
{
  const struct vswap_geometry *g = &m->geometry;
  size_t eb = g->erase_block;
  unsigned char *out = test_buffer (2 * eb), *in = test_buffer (2 * eb);

  /* Room for the writes below to land in distinct places. */
  ck_assert_uint_ge (g->capacity, 3 * eb);
  ck_assert_uint_eq (g->capacity % g->write_unit, 0);
  ck_assert_uint_eq (eb % g->write_unit, 0);
  ck_assert_uint_eq (g->write_unit % g->read_unit, 0);
  ck_assert_uint_eq (m->reads + m->writes + m->discards + m->flushes, 0);

  /* Never-written space reads as zeros (sparse file, fresh mapping). */
  ck_assert_int_eq (vswap_medium_read (m, in, eb, 0), 0);
  ck_assert (all_zero (in, eb));

  /* Two whole erase blocks, then one write unit in the middle of the
   * second, then the last write unit of the medium. */
  test_fill_pattern (out, 2 * eb, 1);
  ck_assert_int_eq (vswap_medium_write (m, out, 2 * eb, 0), 0);
  test_fill_pattern (out, g->write_unit, 2);
  ck_assert_int_eq (vswap_medium_write (m, out, g->write_unit,
                                        eb + 2 * g->write_unit), 0);
  test_fill_pattern (out, g->write_unit, 3);
  ck_assert_int_eq (vswap_medium_write (m, out, g->write_unit,
                                        g->capacity - g->write_unit), 0);
  ck_assert_int_eq (vswap_medium_flush (m), 0);

  ck_assert_int_eq (vswap_medium_read (m, in, 2 * eb, 0), 0);
  test_fill_pattern (out, 2 * eb, 1);
  ck_assert (memcmp (in, out, eb + 2 * g->write_unit) == 0);
  test_fill_pattern (out, g->write_unit, 2);
  ck_assert (memcmp (in + eb + 2 * g->write_unit, out, g->write_unit) == 0);
  test_fill_pattern (out, 2 * eb, 1);
  ck_assert (memcmp (in + eb + 3 * g->write_unit,
                     out + eb + 3 * g->write_unit,
                     eb - 3 * g->write_unit) == 0);
  /* A single read unit, in the middle. */
  ck_assert_int_eq (vswap_medium_read (m, in, g->read_unit,
                                       eb + 2 * g->write_unit), 0);
  test_fill_pattern (out, g->write_unit, 2);
  ck_assert (memcmp (in, out, g->read_unit) == 0);
  test_fill_pattern (out, g->write_unit, 3);
  ck_assert_int_eq (vswap_medium_read (m, in, g->write_unit,
                                       g->capacity - g->write_unit), 0);
  ck_assert (memcmp (in, out, g->write_unit) == 0);

  /* Past the end is refused, and zero lengths do nothing. */
  ck_assert_int_eq (vswap_medium_read (m, in, g->write_unit, g->capacity),
                    -EINVAL);
  ck_assert_int_eq (vswap_medium_write (m, out, 2 * (size_t) g->write_unit,
                                        g->capacity - g->write_unit),
                    -EINVAL);
  ck_assert_int_eq (vswap_medium_read (m, in, 0, g->capacity), 0);
  ck_assert_int_eq (vswap_medium_discard (m, g->capacity, eb), -EINVAL);

  if (g->can_discard) {
    ck_assert_int_eq (vswap_medium_discard (m, eb, eb), 0);
    ck_assert_uint_eq (m->discards, 1);
    ck_assert_uint_eq (m->bytes_discarded, eb);
    ck_assert_int_eq (vswap_medium_read (m, in, 2 * eb, 0), 0);
    test_fill_pattern (out, 2 * eb, 1);
    ck_assert (memcmp (in, out, eb) == 0);
    if (g->discard_zeroes)
      ck_assert (all_zero (in + eb, eb));
  }
  else
    ck_assert_int_eq (vswap_medium_discard (m, eb, eb), -EOPNOTSUPP);

  ck_assert_uint_eq (m->writes, 3);
  ck_assert_uint_eq (m->bytes_written, 2 * eb + 2 * g->write_unit);
  ck_assert_uint_eq (m->reads, (g->can_discard ? 5 : 4));
  ck_assert_uint_eq (m->bytes_read,
                     eb + 2 * eb + g->read_unit + g->write_unit
                     + (g->can_discard ? 2 * eb : 0));
  ck_assert_uint_eq (m->flushes, 1);

  free (in);
  free (out);
}

/* A batch of reads: more than the io_uring path takes at once, of
 * several lengths, one out of range (refused, the others still done). */
static void
exercise_batch (struct vswap_medium *m)
{
  const struct vswap_geometry *g = &m->geometry;
  const size_t span = 2 * MiB;
  const unsigned n = 41;
  unsigned char *data = test_buffer (span);
  unsigned char *in = test_buffer ((size_t) n * 8192);
  struct vswap_medium_read reads[41];

  /* Away from what exercise left for the callers to check. */
  const uint64_t base = 8 * MiB;

  test_fill_pattern (data, span, 7);
  ck_assert_int_eq (vswap_medium_write (m, data, span, base), 0);
  for (unsigned i = 0; i < n; i++)
    reads[i] = (struct vswap_medium_read) {
      .buffer = in + (size_t) i * 8192,
      .length = (i % 2 + 1) * (size_t) g->read_unit,
      .offset = base + (uint64_t) (i * 37 % 61) * 32768
                + (i % 3) * g->read_unit,
      .result = 1,              /* set by the call */
    };
  reads[20].offset = g->capacity;
  ck_assert_int_eq (vswap_medium_read_batch (m, reads, n), -EINVAL);
  for (unsigned i = 0; i < n; i++) {
    if (i == 20) {
      ck_assert_int_eq (reads[i].result, -EINVAL);
      continue;
    }
    ck_assert_int_eq (reads[i].result, 0);
    ck_assert (memcmp (reads[i].buffer, data + (reads[i].offset - base),
                       reads[i].length) == 0);
  }
  reads[20].offset = base;
  const uint64_t before = m->reads;
  ck_assert_int_eq (vswap_medium_read_batch (m, reads, n), 0);
  ck_assert_uint_eq (m->reads, before + n);
  /* Give the space back: callers check how much the file takes. */
  if (g->can_discard)
    ck_assert_int_eq (vswap_medium_discard (m, base, g->erase_block), 0);
  free (data);
  free (in);
}

/* ---- the memory medium ---- */

START_TEST (test_memory)
{
  struct vswap_medium_options options = { 0 };
  struct vswap_error err;
  struct vswap_medium *m;

  m = vswap_medium_open ("memory:17M", &options, &err);
  ck_assert_msg (m != NULL, "%s", err.message);
  ck_assert_str_eq (m->operations->name, "memory");
  /* Whole write units: the store cuts its own segments. */
  ck_assert_uint_eq (m->geometry.capacity, 17 * MiB);
  ck_assert_uint_eq (m->geometry.erase_block, 4 * MiB);
  ck_assert_uint_eq (m->geometry.write_unit, 4096);
  ck_assert_uint_eq (m->geometry.read_unit, 4096);
  ck_assert_uint_eq (m->geometry.max_open_segments, 0);
  ck_assert (!m->geometry.sequential_only);
  ck_assert (m->geometry.can_discard);
  ck_assert (m->geometry.discard_zeroes);
  exercise (m);
  exercise_batch (m);
  vswap_medium_close (m);
}
END_TEST

START_TEST (test_memory_overrides)
{
  struct vswap_medium_options options = {
    .erase_block = 128 << 10, .write_unit = 512,
  };
  struct vswap_error err;
  struct vswap_medium *m;

  m = vswap_medium_open ("memory:1M", &options, &err);
  ck_assert_msg (m != NULL, "%s", err.message);
  ck_assert_uint_eq (m->geometry.capacity, 1 * MiB);
  ck_assert_uint_eq (m->geometry.erase_block, 128 << 10);
  ck_assert_uint_eq (m->geometry.write_unit, 512);
  ck_assert_uint_eq (m->geometry.read_unit, 512);
  exercise (m);
  vswap_medium_close (m);

  /* A discard of an erase block that is not whole pages must still
   * zero exactly that range. */
  options.erase_block = 6144;
  options.write_unit = 1024;
  m = vswap_medium_open ("memory:64K", &options, &err);
  ck_assert_msg (m != NULL, "%s", err.message);
  exercise (m);
  vswap_medium_close (m);
}
END_TEST

START_TEST (test_memory_errors)
{
  static const char *const bad_specs[] = {
    "memory:", "memory:0", "memory:junk", "memory:-4M", "memory:1KB",
  };
  struct vswap_medium_options options = { 0 };
  struct vswap_error err;
  size_t i;

  for (i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
    ck_assert (vswap_medium_open (bad_specs[i], &options, &err) == NULL);
    check_message (&err, bad_specs[i]);
  }

  /* Smaller than one erase block. */
  ck_assert (vswap_medium_open ("memory:1M", &options, &err) == NULL);
  check_message (&err, "memory:");

  /* Units that do not nest. */
  options.write_unit = 3000;
  ck_assert (vswap_medium_open ("memory:8M", &options, &err) == NULL);
  check_message (&err, "memory:");
  options.write_unit = 4096;
  options.erase_block = 10000;
  ck_assert (vswap_medium_open ("memory:8M", &options, &err) == NULL);
  check_message (&err, "memory:");

  ck_assert (vswap_medium_open ("", &options, &err) == NULL);
  check_message (&err, "no medium");
  ck_assert (vswap_medium_open (NULL, NULL, NULL) == NULL);
}
END_TEST

START_TEST (test_memory_read_only)
{
  struct vswap_medium_options options = { .read_only = true };
  struct vswap_error err;
  struct vswap_medium *m;
  unsigned char *buffer = test_buffer (4096);

  m = vswap_medium_open ("memory:8M", &options, &err);
  ck_assert_msg (m != NULL, "%s", err.message);
  test_fill_pattern (buffer, 4096, 1);
  ck_assert_int_eq (vswap_medium_write (m, buffer, 4096, 0), -EROFS);
  ck_assert_uint_eq (m->writes, 0);
  ck_assert_int_eq (vswap_medium_read (m, buffer, 4096, 0), 0);
  ck_assert (all_zero (buffer, 4096));
  vswap_medium_close (m);
  free (buffer);
}
END_TEST

/* ---- the file medium ---- */

static char *
temp_path (const struct file_setup *setup)
{
  const char *dir = setup->dir;
  static unsigned serial;
  char *path;
  size_t size;

  if (dir == NULL) {
    dir = getenv ("TMPDIR");
    if (dir == NULL || *dir == '\0')
      dir = "/tmp";
  }
  size = strlen (dir) + 64;
  path = malloc (size);
  ck_assert_ptr_nonnull (path);
  snprintf (path, size, "%s/test-medium.%d.%u.img", dir, (int) getpid (),
            serial++);
  return path;
}

/* Open SETUP's kind of file medium; NULL (test skipped) if SETUP's
 * directory does not exist here. */
static struct vswap_medium *
open_setup (const struct file_setup *setup, const char *path,
            struct vswap_medium_options *options)
{
  struct vswap_error err;
  struct vswap_medium *m;
  char *dir = strdup (path);
  struct stat st;

  *strrchr (dir, '/') = '\0';
  if (stat (dir, &st) == -1) {
    fprintf (stderr, "skipped: no %s here\n", dir);
    free (dir);
    return NULL;
  }
  free (dir);

  /* VSWAP_NO_IO_URING=1 from outside turns io_uring off everywhere
   * (valgrind does not see what io_uring writes into buffers). */
  if (setup->no_uring || no_uring_outside)
    setenv ("VSWAP_NO_IO_URING", "1", 1);
  else
    unsetenv ("VSWAP_NO_IO_URING");
  options->buffered = setup->buffered;
  m = vswap_medium_open (path, options, &err);
  ck_assert_msg (m != NULL, "%s", err.message);
  /* pread/pwrite until started, then two I/O threads with io_uring
   * (unless turned off: then starting changes nothing; or refused, by
   * seccomp or kernel.io_uring_disabled: then pread/pwrite and a message
   * that says so). */
  ck_assert (strstr (m->description, "pread/pwrite") != NULL);
  const int r = vswap_medium_start (m, 2, &err);
  if (setup->no_uring || no_uring_outside) {
    ck_assert_int_eq (r, 0);
    ck_assert (strstr (m->description, "pread/pwrite") != NULL);
  }
  else if (r == 0)
    ck_assert (strstr (m->description, "io_uring") != NULL);
  else {
    check_message (&err, "io_uring unavailable");
    ck_assert (strstr (m->description, "pread/pwrite") != NULL);
  }
  /* Which paths were taken goes to the test log. */
  fprintf (stderr, "opened %s\n", m->description);
  ck_assert_str_eq (m->operations->name, "file");
  return m;
}

START_TEST (test_file)
{
  const struct file_setup *setup = &setups[_i];
  struct vswap_medium_options options = {
    .create = true, .create_size = 17 * MiB,
  };
  char *path = temp_path (setup);
  struct vswap_medium *m;
  unsigned char *buffer = test_buffer (4096), *expected = test_buffer (8192);
  struct stat st;
  bool punched;

  m = open_setup (setup, path, &options);
  if (m == NULL)
    goto out;
  /* Whole write units: the store cuts its own segments. */
  ck_assert_uint_eq (m->geometry.capacity, 17 * MiB);
  ck_assert_uint_eq (m->geometry.erase_block, 4 * MiB);
  ck_assert_uint_eq (m->geometry.write_unit, 4096);
  ck_assert_uint_eq (m->geometry.max_open_segments, 0);
  ck_assert (!m->geometry.sequential_only);
  ck_assert (m->geometry.can_discard == m->geometry.discard_zeroes);
  if (strstr (m->description, "O_DIRECT")) {
    /* What the file system asks of O_DIRECT (statx), else 4096. */
    ck_assert_uint_ge (m->geometry.read_unit, 512);
    ck_assert_uint_le (m->geometry.read_unit, 4096);
    ck_assert_uint_eq (m->geometry.read_unit & (m->geometry.read_unit - 1), 0);
  }
  else
    ck_assert_uint_eq (m->geometry.read_unit, 512);
  if (setup->buffered)
    ck_assert (strstr (m->description, "buffered") != NULL);
  if (setup->no_uring || no_uring_outside)
    ck_assert (strstr (m->description, "pread/pwrite") != NULL);
  ck_assert_int_eq (stat (path, &st), 0);
  ck_assert_int_eq (st.st_size, 17 * MiB);
  exercise (m);
  exercise_batch (m);
  punched = m->geometry.can_discard;
  vswap_medium_close (m);

  /* Punched holes take no space (ext4, xfs, tmpfs punch; ramfs cannot,
   * and the medium then says so). */
  ck_assert_int_eq (stat (path, &st), 0);
  if (punched)
    ck_assert_int_le (st.st_blocks * 512, 5 * MiB);

  /* What was written is still there without create; read-only
   * refuses writes and does not discard. */
  options.create = false;
  options.read_only = true;
  m = open_setup (setup, path, &options);
  ck_assert (strstr (m->description, "read-only") != NULL);
  ck_assert (!m->geometry.can_discard);
  ck_assert_int_eq (vswap_medium_read (m, buffer, 4096, 4096), 0);
  test_fill_pattern (expected, 8192, 1);
  ck_assert (memcmp (buffer, expected + 4096, 4096) == 0);
  ck_assert_int_eq (vswap_medium_write (m, buffer, 4096, 0), -EROFS);
  vswap_medium_close (m);

  /* Create over an existing file resizes it and keeps nothing we
   * promise; a smaller size must shrink the capacity. */
  options.create = true;
  options.read_only = false;
  options.create_size = 8 * MiB;
  m = open_setup (setup, path, &options);
  ck_assert_uint_eq (m->geometry.capacity, 8 * MiB);
  vswap_medium_close (m);

 out:
  unlink (path);
  free (path);
  free (buffer);
  free (expected);
}
END_TEST

START_TEST (test_file_overrides)
{
  const struct file_setup *setup = &setups[_i];
  struct vswap_medium_options options = {
    .create = true, .create_size = 3 * MiB,
    .erase_block = 1 * MiB, .write_unit = 8192,
  };
  char *path = temp_path (setup);
  struct vswap_medium *m;

  m = open_setup (setup, path, &options);
  if (m) {
    ck_assert_uint_eq (m->geometry.capacity, 3 * MiB);
    ck_assert_uint_eq (m->geometry.erase_block, 1 * MiB);
    ck_assert_uint_eq (m->geometry.write_unit, 8192);
    exercise (m);
    vswap_medium_close (m);
  }
  unlink (path);
  free (path);
}
END_TEST

struct worker {
  struct vswap_medium *medium;
  unsigned id;
  int failures;
};

/* Each thread owns one erase block, and writes and reads it back over
 * and over, so that every ring (and the waits for one) gets used. */
static void *
worker (void *arg)
{
  struct worker *w = arg;
  uint64_t base = (uint64_t) w->id * w->medium->geometry.erase_block;
  unsigned char *out = test_buffer (65536), *in = test_buffer (65536);
  unsigned round;

  for (round = 0; round < 200; round++) {
    uint64_t offset = base + (round % 64) * 65536;

    test_fill_pattern (out, 65536, w->id * 1000 + round);
    if (vswap_medium_write (w->medium, out, 65536, offset) != 0
        || vswap_medium_read (w->medium, in, 65536, offset) != 0
        || memcmp (in, out, 65536) != 0)
      w->failures++;
  }
  free (in);
  free (out);
  return NULL;
}

START_TEST (test_file_threads)
{
  const struct file_setup *setup = &setups[_i];
  struct vswap_medium_options options = {
    .create = true, .create_size = 32 * MiB,
  };
  char *path = temp_path (setup);
  struct vswap_medium *m;
  struct worker workers[8];
  pthread_t threads[8];
  unsigned i;

  m = open_setup (setup, path, &options);
  if (m) {
    for (i = 0; i < 8; i++) {
      workers[i] = (struct worker) { .medium = m, .id = i };
      ck_assert_int_eq (pthread_create (&threads[i], NULL, worker,
                                        &workers[i]), 0);
    }
    for (i = 0; i < 8; i++) {
      ck_assert_int_eq (pthread_join (threads[i], NULL), 0);
      ck_assert_int_eq (workers[i].failures, 0);
    }
    ck_assert_uint_eq (m->writes, 8 * 200);
    ck_assert_uint_eq (m->reads, 8 * 200);
    ck_assert_uint_eq (m->bytes_written, 8 * 200 * 65536);
    vswap_medium_close (m);
  }
  unlink (path);
  free (path);
}
END_TEST

/* ---- io_uring's kernel threads ---- */

/* PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE: PR_SET_IO_FLUSHER. */
#define IO_FLUSHER_FLAGS (0x00080000u | 0x00100000u)

struct io_workers {
  unsigned count;               /* iou-wrk-* threads of this process */
  unsigned without_flusher;     /* of them, not PR_SET_IO_FLUSHER */
  unsigned wrong_nice;          /* of them, not at NICE */
};

/* Count this process's io-wq workers (named iou-wrk-TID of the thread
 * they work for), and check each one's flags and nice value. */
static struct io_workers
io_workers (int nice)
{
  struct io_workers w = { 0 };
  DIR *dir = opendir ("/proc/self/task");
  struct dirent *d;

  ck_assert_ptr_nonnull (dir);
  while ((d = readdir (dir)) != NULL) {
    char path[300], stat[1024];
    if (d->d_name[0] == '.')
      continue;
    snprintf (path, sizeof path, "/proc/self/task/%s/stat", d->d_name);
    FILE *f = fopen (path, "r");
    if (f == NULL)
      continue;                 /* gone meanwhile */
    const size_t n = fread (stat, 1, sizeof stat - 1, f);
    fclose (f);
    stat[n] = '\0';
    /* "TID (COMM) STATE PPID ...": COMM may hold spaces, not ')'. */
    if (strstr (stat, "(iou-wrk-") == NULL)
      continue;
    w.count++;
    const char *p = strrchr (stat, ')');
    ck_assert_ptr_nonnull (p);
    /* Fields 3 onwards: state is 3, flags 9, nice 19. */
    unsigned long field[20] = { 0 };
    char state;
    ck_assert_int_eq (sscanf (p + 2, "%c %lu %lu %lu %lu %lu %lu %lu %lu "
                              "%lu %lu %lu %lu %lu %lu %lu %ld",
                              &state, &field[4], &field[5], &field[6],
                              &field[7], &field[8], &field[9], &field[10],
                              &field[11], &field[12], &field[13], &field[14],
                              &field[15], &field[16], &field[17], &field[18],
                              (long *) &field[19]), 17);
    if ((field[9] & IO_FLUSHER_FLAGS) != IO_FLUSHER_FLAGS)
      w.without_flusher++;
    if ((long) field[19] != nice)
      w.wrong_nice++;
  }
  closedir (dir);
  return w;
}

/* The media on which the pool's threads are checked: O_DIRECT in the
 * build directory, and tmpfs, where the kernel cannot issue a request
 * without blocking and hands every one to io-wq. */
static const struct file_setup io_thread_setups[] = {
  { ".", false, false },
  { "/dev/shm", true, false },
};

/* Everything io_uring makes in the kernel exists once vswap_medium_start
 * has returned, in threads cloned from the one that called it (its
 * nice value, its PR_SET_IO_FLUSHER), and no more of it appears however
 * many threads transfer, whatever blocks: one io-wq worker for each I/O
 * thread, before and after, and none after close. */
START_TEST (test_io_threads)
{
  const struct file_setup *setup = &io_thread_setups[_i];
  struct vswap_medium_options options = {
    .create = true, .create_size = 32 * MiB, .buffered = setup->buffered,
  };
  char *path = temp_path (setup);
  struct vswap_error err;
  struct vswap_medium *m;
  struct worker workers[8];
  pthread_t threads[8];
  struct stat st;

  if (no_uring_outside || stat (setup->dir, &st) == -1) {
    fprintf (stderr, "skipped: %s\n",
             no_uring_outside ? "VSWAP_NO_IO_URING" : setup->dir);
    free (path);
    return;
  }
  /* What the I/O threads should inherit from the thread that starts
   * them.  IO_FLUSHER needs CAP_SYS_RESOURCE. */
  const int nice = 3;
  ck_assert_int_eq (setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid),
                                 nice), 0);
  const bool flusher = prctl (PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0;
  if (!flusher)
    fprintf (stderr, "PR_SET_IO_FLUSHER refused (%m): flags not checked\n");

  m = vswap_medium_open (path, &options, &err);
  ck_assert_msg (m != NULL, "%s", err.message);
  ck_assert_uint_eq (io_workers (nice).count, 0);
  const int r = vswap_medium_start (m, 2, &err);
  if (r < 0) {
    fprintf (stderr, "skipped: %s\n", err.message);
    goto out;
  }
  fprintf (stderr, "started %s\n", m->description);

  struct io_workers w = io_workers (nice);
  ck_assert_uint_eq (w.count, 2);
  ck_assert_uint_eq (w.wrong_nice, 0);
  if (flusher)
    ck_assert_uint_eq (w.without_flusher, 0);

  for (unsigned i = 0; i < 8; i++) {
    workers[i] = (struct worker) { .medium = m, .id = i };
    ck_assert_int_eq (pthread_create (&threads[i], NULL, worker,
                                      &workers[i]), 0);
  }
  for (unsigned i = 0; i < 8; i++) {
    ck_assert_int_eq (pthread_join (threads[i], NULL), 0);
    ck_assert_int_eq (workers[i].failures, 0);
  }
  exercise_batch (m);
  w = io_workers (nice);
  ck_assert_uint_eq (w.count, 2);

 out:
  vswap_medium_close (m);
  ck_assert_uint_eq (io_workers (nice).count, 0);
  unlink (path);
  free (path);
}
END_TEST

/* Threads of this process. */
static unsigned
count_threads (void)
{
  DIR *dir = opendir ("/proc/self/task");
  struct dirent *d;
  unsigned n = 0;

  ck_assert_ptr_nonnull (dir);
  while ((d = readdir (dir)) != NULL)
    n += d->d_name[0] != '.';
  closedir (dir);
  return n;
}

/* Where io_uring is refused (a container's seccomp policy, sysctl
 * kernel.io_uring_disabled), starting fails with a message that names
 * the fix, leaves no thread behind, and the medium goes on with
 * pread/pwrite. */
START_TEST (test_io_uring_refused)
{
  /* io_uring_setup fails with EPERM, as under Docker's default policy. */
  struct sock_filter filter[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {
    .len = sizeof filter / sizeof filter[0], .filter = filter,
  };
  struct vswap_medium_options options = {
    .create = true, .create_size = 17 * MiB,
  };
  char *path = temp_path (&setups[0]);
  struct vswap_error err;
  struct vswap_medium *m;

  if (no_uring_outside) {
    fprintf (stderr, "skipped: VSWAP_NO_IO_URING\n");
    free (path);
    return;
  }
  ck_assert_int_eq (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  ck_assert_int_eq (prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program),
                    0);

  m = vswap_medium_open (path, &options, &err);
  ck_assert_msg (m != NULL, "%s", err.message);
  const unsigned threads = count_threads ();
  ck_assert_int_eq (vswap_medium_start (m, 2, &err), -EPERM);
  check_message (&err, "io_uring unavailable");
  ck_assert (strstr (err.message, "io-uring=no") != NULL);
  ck_assert (strstr (m->description, "pread/pwrite") != NULL);
  ck_assert_uint_eq (count_threads (), threads);
  exercise (m);
  exercise_batch (m);
  vswap_medium_close (m);
  unlink (path);
  free (path);
}
END_TEST

START_TEST (test_file_errors)
{
  struct vswap_medium_options options = { 0 };
  struct vswap_error err;
  struct vswap_medium *m;
  char *path;

  /* The message the user sees most often. */
  ck_assert (vswap_medium_open ("/dev/sdz-vswap-missing", &options, &err)
             == NULL);
  check_message (&err, "/dev/sdz-vswap-missing: ");
  ck_assert (strstr (err.message, "No such file") != NULL);
  ck_assert (vswap_medium_open ("/nonexistent/dir/x", &options, &err)
             == NULL);
  check_message (&err, "/nonexistent/dir/x: ");

  ck_assert (vswap_medium_open ("/dev/null", &options, &err) == NULL);
  check_message (&err, "/dev/null: ");
  ck_assert (vswap_medium_open (".", &options, &err) == NULL);
  check_message (&err, ".: ");

  /* Creating over something that is not a regular file. */
  options.create = true;
  options.create_size = 8 * MiB;
  ck_assert (vswap_medium_open ("/dev/null", &options, &err) == NULL);
  check_message (&err, "/dev/null: ");
  ck_assert (strstr (err.message, "refusing") != NULL);
  ck_assert (vswap_medium_open ("/nonexistent/dir/x", &options, &err)
             == NULL);
  check_message (&err, "/nonexistent/dir/x: ");

  /* Contradictory options. */
  path = temp_path (&setups[0]);
  options.create_size = 0;
  ck_assert (vswap_medium_open (path, &options, &err) == NULL);
  check_message (&err, path);
  options.create_size = 8 * MiB;
  options.read_only = true;
  ck_assert (vswap_medium_open (path, &options, &err) == NULL);
  check_message (&err, path);
  ck_assert_int_eq (access (path, F_OK), -1);

  /* Smaller than one erase block. */
  options.read_only = false;
  options.create_size = 1 * MiB;
  ck_assert (vswap_medium_open (path, &options, &err) == NULL);
  check_message (&err, path);
  ck_assert (strstr (err.message, "erase block") != NULL);

  /* An O_DIRECT file's write unit must stay a multiple of what the file
   * system needs for O_DIRECT (512 or more; 4096 where it cannot tell). */
  options.create_size = 8 * MiB;
  options.write_unit = 512;
  m = vswap_medium_open (path, &options, &err);
  if (m) {
    ck_assert (strstr (m->description, "buffered") != NULL ||
               m->geometry.read_unit == 512);
    vswap_medium_close (m);
  }
  else
    check_message (&err, path);
  options.write_unit = 256;
  ck_assert (vswap_medium_open (path, &options, &err) == NULL);
  check_message (&err, path);

  unlink (path);
  free (path);
}
END_TEST

static Suite *
medium_suite (void)
{
  Suite *s = suite_create ("medium");
  TCase *tc;

  tc = tcase_create ("parse_size");
  tcase_add_test (tc, test_parse_size_good);
  tcase_add_test (tc, test_parse_size_bad);
  suite_add_tcase (s, tc);

  tc = tcase_create ("memory");
  tcase_add_test (tc, test_memory);
  tcase_add_test (tc, test_memory_overrides);
  tcase_add_test (tc, test_memory_errors);
  tcase_add_test (tc, test_memory_read_only);
  suite_add_tcase (s, tc);

  tc = tcase_create ("file");
  tcase_set_timeout (tc, 60);
  tcase_add_loop_test (tc, test_file, 0, NR_SETUPS);
  tcase_add_loop_test (tc, test_file_overrides, 0, NR_SETUPS);
  tcase_add_loop_test (tc, test_file_threads, 0, NR_SETUPS);
  tcase_add_test (tc, test_file_errors);
  suite_add_tcase (s, tc);

  tc = tcase_create ("io_threads");
  tcase_set_timeout (tc, 60);
  tcase_add_loop_test (tc, test_io_threads, 0,
                       sizeof io_thread_setups / sizeof io_thread_setups[0]);
  tcase_add_test (tc, test_io_uring_refused);
  suite_add_tcase (s, tc);

  return s;
}

int
main (void)
{
  const char *no_uring = getenv ("VSWAP_NO_IO_URING");

  no_uring_outside = no_uring && *no_uring && strcmp (no_uring, "0") != 0;

  return test_run_suite (medium_suite ());
}
