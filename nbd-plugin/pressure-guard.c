/* pressure-guard: see pressure-guard.h for why. */

#include <config.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pressure-guard.h"

/* At most one OOM kill per this many nanoseconds: the OOM reaper needs a
 * moment to free the victim's memory, and the trigger fires at most once
 * per window anyway. */
#define MINIMUM_INTERVAL_NS 1000000000LL

/* The thread's stack, in the plugin's own data: no mmap when the thread
 * starts, and touched before the thread runs, so that mlockall's
 * MCL_ONFAULT has locked every page of it. */
#define STACK_SIZE (64 * 1024)
static alignas (4096) unsigned char guard_stack[STACK_SIZE];

/* /proc/meminfo is about 1.5 KiB. */
static char meminfo[8192];

static int trigger_fd = -1;             /* /proc/pressure/memory */
static int meminfo_fd = -1;             /* /proc/meminfo */
static uint64_t free_limit_kib;         /* 2 x vm.min_free_kbytes */
static int sysrq_fd = -1;               /* /proc/sysrq-trigger */
static int stop_fd = -1;                /* eventfd: wakes the thread to stop */
static pthread_t guard_thread;
static bool running;
static atomic_uint_fast64_t firings;
/* Why it did not fire, for the statistics: trigger events seen, and those
 * left alone because free memory was above the limit (the MemFree seen
 * the last time). */
static atomic_uint_fast64_t events;
static atomic_uint_fast64_t skipped;
static atomic_uint_fast64_t skipped_free_kib;

static long long
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* MemFree of /proc/meminfo in KiB, or UINT64_MAX if unreadable.  The
 * file stays open: the kernel keeps its buffer between reads. */
static uint64_t
free_kib (void)
{
  static const char key[] = "MemFree:";
  ssize_t n;
  char *p;

  n = pread (meminfo_fd, meminfo, sizeof meminfo - 1, 0);
  if (n <= 0)
    return UINT64_MAX;
  meminfo[n] = '\0';
  p = strstr (meminfo, key);
  if (p == NULL)
    return UINT64_MAX;
  return strtoull (p + sizeof key - 1, NULL, 10);
}

/* The firing path.  DRY_RUN runs all of it but the write, once when the
 * thread starts, so that its code and stack pages have been faulted in
 * (and locked) before the day they are needed. */
static void
fire (bool dry_run, long long *last_ns)
{
  const long long t = now_ns ();
  ssize_t r;

  if (!dry_run)
    atomic_fetch_add (&events, 1);
  if (*last_ns != 0 && t - *last_ns < MINIMUM_INTERVAL_NS)
    return;
  /* PSI is the whole machine's: a workload stalled at its own cgroup's
   * memory.max stalls it too, with plenty of memory free, and must be
   * left to its cgroup.  Only when free memory is down at the kernel's
   * watermarks is the machine as a whole out of memory. */
  const uint64_t free_now = free_kib ();
  if (dry_run)
    return;
  if (free_now >= free_limit_kib) {
    atomic_fetch_add (&skipped, 1);
    atomic_store (&skipped_free_kib, free_now);
    return;
  }
  *last_ns = t;
  /* 'f': the kernel's OOM killer picks and kills a task now (from a
   * work item: this write returns at once and allocates nothing). */
  do
    r = write (sysrq_fd, "f", 1);
  while (r == -1 && errno == EINTR);
  atomic_fetch_add (&firings, 1);
}

static void *
guard_main (void *arg)
{
  struct pollfd fds[2] = {
    { .fd = trigger_fd, .events = POLLPRI },
    { .fd = stop_fd, .events = POLLIN },
  };
  long long last_ns = 0;

  fire (true, &last_ns);
  for (;;) {
    const int n = poll (fds, 2, -1);

    if (n == -1) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[1].revents)
      break;
    /* POLLERR: the trigger is gone (the file was closed under us). */
    if (fds[0].revents & POLLERR)
      break;
    if (fds[0].revents & POLLPRI)
      fire (false, &last_ns);
  }
  return arg;
}

/* vm.min_free_kbytes: the kernel's "min" watermark, summed over zones;
 * "low" and "high" are a little above it.  Read once, when armed. */
static int
read_min_free_kib (uint64_t *kib)
{
  char text[32];
  const int fd = open ("/proc/sys/vm/min_free_kbytes", O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd == -1)
    return -1;
  n = read (fd, text, sizeof text - 1);
  close (fd);
  if (n <= 0) {
    errno = EIO;
    return -1;
  }
  text[n] = '\0';
  *kib = strtoull (text, NULL, 10);
  return 0;
}

/* Ask for the lowest oom_score_adj this process may have: -1000 needs
 * CAP_SYS_RESOURCE; without it, nothing lower than now is allowed. */
static int
lower_oom_score_adj (void)
{
  const int fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  int e = 0;

  if (fd == -1)
    return errno;
  if (write (fd, "-1000", 5) != 5)
    e = errno;
  close (fd);
  return e;
}

static void
close_all (void)
{
  if (meminfo_fd >= 0)
    close (meminfo_fd);
  meminfo_fd = -1;
  if (trigger_fd >= 0)
    close (trigger_fd);
  if (sysrq_fd >= 0)
    close (sysrq_fd);
  if (stop_fd >= 0)
    close (stop_fd);
  trigger_fd = sysrq_fd = stop_fd = -1;
}

int
pressure_guard_start (unsigned stall_ms, const char **what, int *adj_error)
{
  char trigger[64];
  pthread_attr_t attr;
  int n, r;

  assert (!running);
  assert (stall_ms > 0 && stall_ms * 1000ULL < PRESSURE_GUARD_WINDOW_US);
  *adj_error = 0;

  *what = "/proc/pressure/memory";
  trigger_fd = open ("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (trigger_fd == -1)
    goto fail;
  /* The terminating NUL is part of what the kernel reads. */
  n = snprintf (trigger, sizeof trigger, "full %u %u",
                stall_ms * 1000, (unsigned) PRESSURE_GUARD_WINDOW_US);
  assert (n > 0 && (size_t) n < sizeof trigger);
  *what = "writing a trigger to /proc/pressure/memory";
  if (write (trigger_fd, trigger, n + 1) == -1) {
    if (errno != EINVAL)
      goto fail;
    /* Without CAP_SYS_RESOURCE the kernel (6.5 and later) only accepts
     * windows of whole multiples of 2 s: the same share of a 2 s window. */
    n = snprintf (trigger, sizeof trigger, "full %u %u",
                  stall_ms * 2000, (unsigned) PRESSURE_GUARD_WINDOW_US * 2);
    assert (n > 0 && (size_t) n < sizeof trigger);
    if (write (trigger_fd, trigger, n + 1) == -1)
      goto fail;
  }

  *what = "/proc/meminfo";
  meminfo_fd = open ("/proc/meminfo", O_RDONLY | O_CLOEXEC);
  if (meminfo_fd == -1)
    goto fail;
  *what = "/proc/sys/vm/min_free_kbytes";
  if (read_min_free_kib (&free_limit_kib) == -1)
    goto fail;
  free_limit_kib *= 2;

  *what = "/proc/sysrq-trigger";
  sysrq_fd = open ("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
  if (sysrq_fd == -1)
    goto fail;

  *what = "eventfd";
  stop_fd = eventfd (0, EFD_CLOEXEC);
  if (stop_fd == -1)
    goto fail;

  *adj_error = lower_oom_score_adj ();

  memset (guard_stack, 0, sizeof guard_stack);
  *what = "pthread_create";
  pthread_attr_init (&attr);
  r = pthread_attr_setstack (&attr, guard_stack, sizeof guard_stack);
  if (r == 0)
    r = pthread_create (&guard_thread, &attr, guard_main, NULL);
  pthread_attr_destroy (&attr);
  if (r != 0) {
    errno = r;
    goto fail;
  }
  running = true;
  return 0;

 fail:
  r = errno;
  close_all ();
  return -r;
}

void
pressure_guard_stop (void)
{
  const uint64_t one = 1;

  if (!running)
    return;
  if (write (stop_fd, &one, sizeof one) == sizeof one)
    pthread_join (guard_thread, NULL);
  running = false;
  close_all ();
}

uint64_t
pressure_guard_firings (void)
{
  return atomic_load (&firings);
}

void
pressure_guard_counters (struct pressure_guard_counters *counters)
{
  counters->firings = atomic_load (&firings);
  counters->events = atomic_load (&events);
  counters->skipped = atomic_load (&skipped);
  counters->skipped_free_kib = atomic_load (&skipped_free_kib);
}
