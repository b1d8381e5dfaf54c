/* vswap: the write-back buffer (core/write_buffer.c).  A store dropped as
 * a killed server would leave it (vswap_store_abandon: nothing sealed,
 * nothing flushed) must give back every acknowledged page when it is
 * opened again with its buffer file; without the file, what waited in
 * RAM is gone, as before.  Stale, foreign and damaged buffers must do no
 * harm.  On a RAM medium, which outlives the store. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "medium.h"
#include "store.h"

#define PAGE 4096
#define SEGMENT (256 * 1024)
#define PAGES 300               /* written per round: several chunks */

static struct vswap_medium *medium;
static char directory[64];
static char buffer_path[128];
static char messages[8192];
static uint8_t page[PAGE], back[PAGE];

static void
collect_message (void *opaque, const char *message)
{
  (void) opaque;
  strncat (messages, message, sizeof messages - strlen (messages) - 2);
  strcat (messages, "\n");
}

/* A page for (PAGE_NUMBER, ROUND): random, compressible, same-filled or
 * zero, so that every record kind is replayed. */
static void
make_page (uint8_t *p, uint64_t number, uint64_t round)
{
  uint64_t x = (number * 1000 + round) * 0x9e3779b97f4a7c15 + 1;
  switch ((number + round) % 4) {
  case 0:                       /* random */
    for (int i = 0; i < PAGE; i += 8) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      memcpy (p + i, &x, 8);
    }
    break;
  case 1:                       /* compressible */
    memset (p, 0, PAGE);
    for (int i = 0; i < PAGE; i += 64)
      memcpy (p + i, &x, 8);
    break;
  case 2:                       /* same-filled */
    for (int i = 0; i < PAGE; i += 8)
      memcpy (p + i, &x, 8);
    break;
  default:
    memset (p, 0, PAGE);
  }
}

static void
setup (void)
{
  struct vswap_error err = { "" };
  const struct vswap_medium_options mo = { .erase_block = SEGMENT };
  medium = vswap_medium_open ("memory:16777216", &mo, &err);
  ck_assert_msg (medium != NULL, "%s", err.message);
  const struct vswap_format_options fo = {
    .logical_size = 8 << 20,
    .compression = VSWAP_COMPRESS_ZSTD,
    .compression_chosen = true,
  };
  ck_assert_msg (vswap_store_format (medium, &fo, NULL, NULL, &err) == 0,
                 "%s", err.message);
  strcpy (directory, "/tmp/vswap-write-buffer.XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (directory));
  snprintf (buffer_path, sizeof buffer_path, "%s/buffer", directory);
  messages[0] = '\0';
}

static void
teardown (void)
{
  char path[160];
  snprintf (path, sizeof path, "%s/copy", directory);
  unlink (path);
  unlink (buffer_path);
  rmdir (directory);
  vswap_medium_close (medium);
  medium = NULL;
}

static struct vswap_store *
open_with (const char *buffer, struct vswap_error *err)
{
  const struct vswap_open_options o = {
    .buffer = buffer,
    .report = collect_message,
  };
  return vswap_store_open (medium, &o, err);
}

static struct vswap_store *
open_store (const char *buffer)
{
  struct vswap_error err = { "" };
  struct vswap_store *s = open_with (buffer, &err);
  ck_assert_msg (s != NULL, "%s", err.message);
  return s;
}

static void
write_round (struct vswap_store *s, uint64_t round)
{
  for (uint64_t i = 0; i < PAGES; i++) {
    make_page (page, i, round);
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  }
  /* A trim and a zero range: tombstones are replayed too. */
  for (uint64_t i = PAGES + 10; i < PAGES + 22; i++) {
    make_page (page, i, 4 * round);     /* random */
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, i * PAGE, false), 0);
  }
  ck_assert_int_eq (vswap_store_trim (s, 4 * PAGE, (PAGES + 10) * PAGE,
                                      false), 0);
  ck_assert_int_eq (vswap_store_zero (s, 2 * PAGE, (PAGES + 20) * PAGE,
                                      false), 0);
}

/* How many of the PAGES pages read back as ROUND wrote them. */
static uint64_t
pages_of_round (struct vswap_store *s, uint64_t round)
{
  uint64_t same = 0;
  for (uint64_t i = 0; i < PAGES; i++) {
    make_page (page, i, round);
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, i * PAGE), 0);
    same += memcmp (page, back, PAGE) == 0;
  }
  return same;
}

static bool
exists (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0;
}

static void
copy_file (const char *from, const char *to)
{
  char command[512];
  snprintf (command, sizeof command, "cp '%s' '%s'", from, to);
  ck_assert_int_eq (system (command), 0);
}

START_TEST (test_killed_server_loses_nothing)
{
  struct vswap_store *s = open_store (buffer_path);
  write_round (s, 1);
  ck_assert_int_eq (vswap_store_flush (s), 0);
  write_round (s, 2);
  /* Some of round 2 was not written out: a kill would lose it. */
  vswap_store_abandon (s);
  ck_assert (exists (buffer_path));

  s = open_store (buffer_path);
  ck_assert_uint_eq (pages_of_round (s, 2), PAGES);
  ck_assert_msg (strstr (messages, "are written now"), "%s", messages);
  memset (page, 0, PAGE);
  for (uint64_t p = PAGES + 10; p < PAGES + 14; p++) {
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, p * PAGE), 0);
    ck_assert_mem_eq (back, page, PAGE);
  }
  for (uint64_t p = PAGES + 20; p < PAGES + 22; p++) {
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, p * PAGE), 0);
    ck_assert_mem_eq (back, page, PAGE);
  }

  /* Killed again, after more writes on the replayed store. */
  write_round (s, 3);
  vswap_store_abandon (s);
  s = open_store (buffer_path);
  ck_assert_uint_eq (pages_of_round (s, 3), PAGES);

  /* A clean close leaves nothing to replay, and no file. */
  ck_assert_int_eq (vswap_store_close (s), 0);
  ck_assert (!exists (buffer_path));
  s = open_store (NULL);
  ck_assert_uint_eq (pages_of_round (s, 3), PAGES);
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

START_TEST (test_without_the_buffer_as_before)
{
  struct vswap_store *s = open_store (buffer_path);
  write_round (s, 1);
  ck_assert_int_eq (vswap_store_flush (s), 0);
  write_round (s, 2);
  vswap_store_abandon (s);

  /* A reboot: the tmpfs file is gone.  The pages of the unwritten chunk
   * read as their flushed round-1 copy. */
  ck_assert_int_eq (unlink (buffer_path), 0);
  s = open_store (buffer_path);
  const uint64_t newer = pages_of_round (s, 2);
  const uint64_t older = pages_of_round (s, 1);
  ck_assert_uint_lt (newer, PAGES);
  ck_assert_uint_gt (older, 0);
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

START_TEST (test_stale_buffer_is_ignored)
{
  char copy[160];
  snprintf (copy, sizeof copy, "%s/copy", directory);

  struct vswap_store *s = open_store (buffer_path);
  write_round (s, 1);
  vswap_store_abandon (s);
  copy_file (buffer_path, copy);        /* round 1, pending */

  /* Replayed, then newer writes, closed cleanly. */
  s = open_store (buffer_path);
  ck_assert_uint_eq (pages_of_round (s, 1), PAGES);
  write_round (s, 2);
  ck_assert_int_eq (vswap_store_close (s), 0);

  /* The old buffer comes back: its pages are older than the store's. */
  copy_file (copy, buffer_path);
  messages[0] = '\0';
  s = open_store (buffer_path);
  ck_assert_uint_eq (pages_of_round (s, 2), PAGES);
  ck_assert_msg (strstr (messages, "is older than the store"), "%s",
                 messages);
  ck_assert_int_eq (vswap_store_close (s), 0);

  /* The same after a server that ran without the buffer and was killed
   * (its own unwritten tail is lost, but nothing older comes back). */
  s = open_store (buffer_path);
  write_round (s, 3);
  vswap_store_abandon (s);
  copy_file (buffer_path, copy);
  unlink (buffer_path);
  s = open_store (NULL);
  write_round (s, 4);
  ck_assert_int_eq (vswap_store_flush (s), 0);
  vswap_store_abandon (s);
  copy_file (copy, buffer_path);
  messages[0] = '\0';
  s = open_store (buffer_path);
  ck_assert_uint_eq (pages_of_round (s, 4), PAGES);
  ck_assert_msg (strstr (messages, "is older than the store"), "%s",
                 messages);
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

START_TEST (test_damaged_tail_ends_the_replay)
{
  struct vswap_store *s = open_store (buffer_path);
  write_round (s, 1);
  ck_assert_int_eq (vswap_store_flush (s), 0);
  for (uint64_t i = 0; i < 8; i++) {
    make_page (page, i * 4 + 2, 2);     /* random pages */
    ck_assert_int_eq (vswap_store_write (s, page, PAGE, (i * 4 + 2) * PAGE,
                                         false), 0);
  }
  vswap_store_abandon (s);

  /* A record cut short by the kill (fill was advanced, the bytes were
   * not all there): damage the payload of the last one. */
  struct stat st;
  ck_assert_int_eq (stat (buffer_path, &st), 0);
  const int fd = open (buffer_path, O_RDWR);
  ck_assert_int_ge (fd, 0);
  uint32_t fill;                        /* the header's "fill" field */
  ck_assert_int_eq (pread (fd, &fill, 4, 60), 4);
  uint8_t byte;
  ck_assert_int_eq (pread (fd, &byte, 1, 4096 + fill - 100), 1);
  byte ^= 1;
  ck_assert_int_eq (pwrite (fd, &byte, 1, 4096 + fill - 100), 1);
  close (fd);

  s = open_store (buffer_path);
  for (uint64_t i = 0; i < 8; i++) {
    make_page (page, i * 4 + 2, i < 7 ? 2 : 1);
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, (i * 4 + 2) * PAGE),
                      0);
    ck_assert_msg (memcmp (page, back, PAGE) == 0, "page %" PRIu64,
                   i * 4 + 2);
  }
  ck_assert_int_eq (vswap_store_close (s), 0);
}
END_TEST

START_TEST (test_second_server_and_foreign_buffer_refused)
{
  struct vswap_error err = { "" };
  struct vswap_store *s = open_store (buffer_path);
  write_round (s, 1);

  /* A second server on the same store and buffer. */
  ck_assert_ptr_null (open_with (buffer_path, &err));
  ck_assert_msg (strstr (err.message, "another vswap server"), "%s",
                 err.message);
  vswap_store_abandon (s);

  /* Another store's buffer, with pages not yet written. */
  struct vswap_medium *first = medium;
  const struct vswap_medium_options mo = { .erase_block = SEGMENT };
  medium = vswap_medium_open ("memory:16777216", &mo, &err);
  ck_assert_ptr_nonnull (medium);
  const struct vswap_format_options fo = { .logical_size = 8 << 20 };
  ck_assert_int_eq (vswap_store_format (medium, &fo, NULL, NULL, &err), 0);
  ck_assert_ptr_null (open_with (buffer_path, &err));
  ck_assert_msg (strstr (err.message, "another store"), "%s", err.message);
  ck_assert (exists (buffer_path));
  vswap_medium_close (medium);
  medium = first;

  /* Its owner still gets them. */
  s = open_store (buffer_path);
  ck_assert_uint_eq (pages_of_round (s, 1), PAGES);
  ck_assert_int_eq (vswap_store_close (s), 0);

  /* Not a buffer at all. */
  const int fd = open (buffer_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_eq (write (fd, "hello, world\n", 13), 13);
  close (fd);
  ck_assert_ptr_null (open_with (buffer_path, &err));
  ck_assert_msg (strstr (err.message, "is not a vswap write buffer"), "%s",
                 err.message);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("write-buffer");
  TCase *tc = tcase_create ("write-buffer");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_killed_server_loses_nothing);
  tcase_add_test (tc, test_without_the_buffer_as_before);
  tcase_add_test (tc, test_stale_buffer_is_ignored);
  tcase_add_test (tc, test_damaged_tail_ends_the_replay);
  tcase_add_test (tc, test_second_server_and_foreign_buffer_refused);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
