/* vswap: tests of nbd-plugin/prefault.c, the walk that faults in the
 * server's memory before memory is short.
 *
 * What is asserted is what the kernel reports of each mapping in
 * /proc/self/smaps: "Anonymous" counts the pages a process has of its
 * own; a page that was only read maps the shared zero page and does not
 * count, which is exactly the page a later write would have to allocate.
 */

#include <config.h>

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helpers.h"
#include "prefault.h"

#define KIB 1024u
#define MIB (1024u * KIB)

/* KiB of FIELD ("Anonymous:", "Rss:") in the smaps block of the mapping
 * that starts at ADDRESS, or -1 if there is none. */
static long
smaps_kib (const void *address, const char *field)
{
  char head[32], line[256];
  FILE *f = fopen ("/proc/self/smaps", "r");
  bool in_block = false;
  long kib = -1;

  ck_assert_ptr_nonnull (f);
  snprintf (head, sizeof head, "%lx-", (unsigned long) (uintptr_t) address);
  while (fgets (line, sizeof line, f)) {
    if (strchr (line, '-') && strncmp (line, head, strlen (head)) == 0)
      in_block = true;
    else if (in_block && strncmp (line, field, strlen (field)) == 0) {
      kib = strtol (line + strlen (field), NULL, 10);
      break;
    }
  }
  fclose (f);
  return kib;
}

static long
anonymous_kib (const void *address)
{
  return smaps_kib (address, "Anonymous:");
}

/* Map LENGTH bytes between two PROT_NONE guards (so that the kernel
 * cannot merge the mapping with a neighbour) and read every page: the
 * zero page.  A guard of a page below makes it look like a
 * thread stack; one of 128 KiB does not (see prefault.c). */
static uint8_t *
map_and_read (size_t length, size_t guard_below)
{
  uint8_t *base = mmap (NULL, guard_below + length + 4096,
                        PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  volatile uint8_t sum = 0;

  ck_assert_ptr_ne (base, MAP_FAILED);
  ck_assert_int_eq (mprotect (base, guard_below, PROT_NONE), 0);
  ck_assert_int_eq (mprotect (base + guard_below + length, 4096, PROT_NONE),
                    0);
  uint8_t *p = base + guard_below;
  /* The first 4 MiB: enough to see, and quick under the sanitizers. */
  for (size_t i = 0; i < length && i < 4 * MIB; i += 4096)
    sum += p[i];
  ck_assert_int_eq (sum, 0);
  return p;
}

static void
unmap (uint8_t *p, size_t length, size_t guard_below)
{
  munmap (p - guard_below, guard_below + length + 4096);
}

#define NOT_A_STACK (128 * KIB)

START_TEST (test_read_only_pages_become_private)
{
  const size_t length = 4 * MIB;
  uint8_t *p = map_and_read (length, NOT_A_STACK);
  struct prefault_report report;

  ck_assert_int_eq (anonymous_kib (p), 0);
  ck_assert_int_eq (prefault_process_memory (&report), 0);
  ck_assert_int_eq (anonymous_kib (p), length / KIB);
  ck_assert_uint_ge (report.bytes, length);
  /* The contents are unchanged. */
  for (size_t i = 0; i < length; i += 4096)
    ck_assert_int_eq (p[i], 0);
  unmap (p, length, NOT_A_STACK);
}
END_TEST

/* A thread stack (a guard page right below): only its top is faulted in. */
START_TEST (test_stacks_only_their_top)
{
  const size_t length = 2 * MIB;
  uint8_t *p = map_and_read (length, 4096);
  struct prefault_report report;

  ck_assert_int_eq (prefault_process_memory (&report), 0);
  ck_assert_int_eq (anonymous_kib (p), PREFAULT_STACK_BYTES / KIB);
  ck_assert_uint_ge (report.stacks, 1);
  /* The top: the last page is present, the first is not. */
  unsigned char in;
  ck_assert_int_eq (mincore (p + length - 4096, 4096, &in), 0);
  ck_assert_int_eq (in & 1, 1);
  unmap (p, length, 4096);
}
END_TEST

/* Written data survives, and a mapping too large is left alone. */
START_TEST (test_written_data_kept_and_huge_mappings_skipped)
{
  const size_t huge = PREFAULT_MAXIMUM_MAPPING + 4 * MIB;
  uint8_t *small = map_and_read (64 * KIB, NOT_A_STACK);
  uint8_t *big = map_and_read (huge, NOT_A_STACK);
  struct prefault_report report;

  memset (small, 0xa5, 8 * KIB);
  ck_assert_int_eq (prefault_process_memory (&report), 0);
  ck_assert_int_eq (anonymous_kib (small), 64);
  for (size_t i = 0; i < 8 * KIB; i++)
    ck_assert_int_eq (small[i], 0xa5);
  ck_assert_int_eq (small[8 * KIB], 0);
  ck_assert_int_eq (anonymous_kib (big), 0);
  ck_assert_uint_ge (report.skipped, 1);
  unmap (small, 64 * KIB, NOT_A_STACK);
  unmap (big, huge, NOT_A_STACK);
}
END_TEST

/* Code and read-only data are mapped in (and so, under mlockall,
 * locked): a file mapped read-only and never touched has its pages
 * mapped afterwards. */
START_TEST (test_read_only_file_mapped_in)
{
  char path[] = "/var/tmp/vswap-test-prefault.XXXXXX";
  const size_t length = 256 * KIB;
  const int fd = mkstemp (path);
  uint8_t *page = calloc (1, length);
  struct prefault_report report;

  ck_assert_int_ge (fd, 0);
  ck_assert_ptr_nonnull (page);
  memset (page, 0x5a, length);
  ck_assert_int_eq (write (fd, page, length), (ssize_t) length);
  free (page);
  unlink (path);
  uint8_t *p = mmap (NULL, length, PROT_READ, MAP_PRIVATE, fd, 0);
  ck_assert_ptr_ne (p, MAP_FAILED);
  close (fd);
  ck_assert_int_eq (smaps_kib (p, "Rss:"), 0);
  ck_assert_int_eq (prefault_process_memory (&report), 0);
  ck_assert_int_eq (smaps_kib (p, "Rss:"), length / KIB);
  ck_assert_int_eq (p[length - 1], 0x5a);
  munmap (p, length);
}
END_TEST

/* The calling thread's stack: the 256 KiB below its frame are present. */
START_TEST (test_this_stack)
{
  char line[256], here_text[32];
  uintptr_t here = (uintptr_t) &line;
  unsigned long start = 0, end = 0;
  FILE *f;

  prefault_this_stack ();
  f = fopen ("/proc/self/maps", "r");
  ck_assert_ptr_nonnull (f);
  while (fgets (line, sizeof line, f))
    if (sscanf (line, "%lx-%lx", &start, &end) == 2 &&
        here >= start && here < end)
      break;
  fclose (f);
  ck_assert_uint_gt (end, here);
  /* mincore: every page from 200 KiB below us up to our frame is in. */
  const uintptr_t page = (here & ~(uintptr_t) 4095) - 200 * KIB;
  unsigned char in[50];
  ck_assert_uint_ge (page, start);
  ck_assert_int_eq (mincore ((void *) page, sizeof in * 4096, in), 0);
  for (size_t i = 0; i < sizeof in; i++)
    ck_assert_msg (in[i] & 1, "stack page %zu below %s not present", i,
                   (snprintf (here_text, sizeof here_text, "%lx",
                              (unsigned long) here), here_text));
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("prefault");
  TCase *tc = tcase_create ("prefault");
  tcase_add_test (tc, test_read_only_pages_become_private);
  tcase_add_test (tc, test_stacks_only_their_top);
  tcase_add_test (tc, test_written_data_kept_and_huge_mappings_skipped);
  tcase_add_test (tc, test_read_only_file_mapped_in);
  tcase_add_test (tc, test_this_stack);
  /* A loaded machine, and the sanitizers, slow the walks down. */
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  return test_run_suite (s);
}
