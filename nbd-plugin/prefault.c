/* prefault: see prefault.h for why. */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prefault.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* A glibc thread stack sits right above its guard: a PROT_NONE mapping
 * of a page or a few.  The PROT_NONE tail of a malloc arena is far larger,
 * and what follows it is another arena's heap, to be faulted in whole. */
#define MAXIMUM_GUARD_BYTES (64 * 1024)

static char maps[64 * 1024];

struct mapping {
  uintptr_t start, end;
  char permissions[5];
  bool is_main_stack;
  bool is_special;              /* [vvar], [vdso], [vsyscall] */
  bool is_file;                 /* backed by a file (inode not 0) */
};

static long page_size;
static int populate_works = -1;         /* -1: not tried yet */
/* A page of our own to learn whether the kernel knows the advice. */
static _Alignas (4096) uint8_t probe_page[4096];

/* Parse "start-end perms offset dev inode [path]". */
static bool
parse_line (const char *line, struct mapping *m)
{
  char *p;

  m->start = strtoull (line, &p, 16);
  if (*p != '-')
    return false;
  m->end = strtoull (p + 1, &p, 16);
  if (*p != ' ' || m->end <= m->start)
    return false;
  memcpy (m->permissions, p + 1, 4);
  m->permissions[4] = '\0';
  /* perms offset dev inode: the inode is the fourth field. */
  const char *field = p + 1;
  for (int i = 0; i < 3 && field; i++) {
    field = strchr (field, ' ');
    if (field)
      field++;
  }
  m->is_file = field && strtoull (field, NULL, 10) != 0;
  m->is_main_stack = strstr (p, "[stack]") != NULL;
  m->is_special = strstr (p, "[vvar]") || strstr (p, "[vdso]") ||
    strstr (p, "[vsyscall]");
  return true;
}

/* Fault in [START, END): every page present and (under mlockall)
 * locked; WRITE: writable too.  Returns false if it could not. */
static bool
populate (uintptr_t start, uintptr_t end, bool write, bool is_file)
{
  if (populate_works == -1)
    /* Before Linux 5.14 the advice is unknown: EINVAL on any range. */
    populate_works = madvise (probe_page, sizeof probe_page,
                              MADV_POPULATE_WRITE) == 0;
  if (populate_works)
    return madvise ((void *) start, end - start,
                    write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0;
  /* By hand, a page of a file mapping that lies beyond the end of its
   * file would raise SIGBUS (madvise returns an error instead): on such
   * old kernels only anonymous memory is faulted in. */
  if (is_file)
    return false;
  /* Adding 0 atomically writes each page without changing what another
   * thread may be writing there at the same moment. */
  for (uintptr_t a = start; a < end; a += page_size) {
    if (write)
      __atomic_fetch_add ((volatile uint8_t *) a, 0, __ATOMIC_RELAXED);
    else
      (void) *(volatile const uint8_t *) a;
  }
  return true;
}

static void
fault_in (const struct mapping *m, const struct mapping *previous,
          struct prefault_report *report)
{
  const bool shared = m->permissions[3] == 's';
  bool stack = m->is_main_stack;
  uintptr_t start = m->start;

  if (m->permissions[0] != 'r')
    return;
  /* Code and read-only data: on a tmpfs (an initramfs) their pages are
   * swapped out like any other, and a thread that runs code not run
   * since the fork would wait for a swap-in from the very device it
   * serves (seen in the guest: shmem_swapin_folio from a page fault).
   * Locked once present. */
  if (m->permissions[1] != 'w') {
    const uint64_t limit = m->permissions[2] == 'x'
      ? PREFAULT_MAXIMUM_MAPPING : PREFAULT_MAXIMUM_READ_ONLY_DATA;
    if (m->end - m->start > limit || m->is_special ||
        !populate (m->start, m->end, false, m->is_file)) {
      report->skipped++;
      return;
    }
    report->mappings++;
    report->bytes += m->end - m->start;
    return;
  }
  if (!shared && previous && previous->end == m->start &&
      strcmp (previous->permissions, "---p") == 0 &&
      previous->end - previous->start <= MAXIMUM_GUARD_BYTES)
    stack = true;
  if (stack) {
    if (m->end - start > PREFAULT_STACK_BYTES)
      start = m->end - PREFAULT_STACK_BYTES;
  }
  else if (m->end - m->start > PREFAULT_MAXIMUM_MAPPING) {
    report->skipped++;
    return;
  }
  if (!populate (start, m->end, true, m->is_file)) {
    report->skipped++;
    return;
  }
  report->mappings++;
  report->stacks += stack;
  report->bytes += m->end - start;
}

static void
handle_line (const char *line, struct mapping *previous, bool *have_previous,
             struct prefault_report *report)
{
  struct mapping current;

  if (!parse_line (line, &current))
    return;
  fault_in (&current, *have_previous ? previous : NULL, report);
  *previous = current;
  *have_previous = true;
}

int
prefault_process_memory (struct prefault_report *report)
{
  struct mapping previous = { 0 };
  bool have_previous = false;
  size_t kept = 0;
  int fd;

  memset (report, 0, sizeof *report);
  page_size = sysconf (_SC_PAGESIZE);
  fd = open ("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return -errno;
  for (;;) {
    const ssize_t n = read (fd, maps + kept, sizeof maps - 1 - kept);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1) {
      const int e = errno;
      close (fd);
      return -e;
    }
    maps[kept + n] = '\0';
    char *line = maps, *newline;
    while ((newline = strchr (line, '\n')) != NULL) {
      *newline = '\0';
      handle_line (line, &previous, &have_previous, report);
      line = newline + 1;
    }
    if (n == 0) {
      if (*line != '\0')
        handle_line (line, &previous, &have_previous, report);
      break;
    }
    /* An unfinished line moves to the front, to be completed. */
    kept = strlen (line);
    if (kept == sizeof maps - 1)
      kept = 0;                 /* no line is this long: drop it */
    memmove (maps, line, kept);
  }
  close (fd);
  return 0;
}

void __attribute__ ((noinline))
prefault_this_stack (void)
{
  volatile uint8_t pad[PREFAULT_STACK_BYTES - 16 * 1024];

  for (size_t i = 0; i < sizeof pad; i += 1024)
    pad[i] = 0;
}
