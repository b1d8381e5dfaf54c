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
#include "wedge-rule.h"

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

/* A second counts as stalled for the wedge rule (wedge-rule.h) when
 * every task was stalled on memory for this much of it. */
#define WEDGE_STALL_PERCENT 80

static int trigger_fd = -1;             /* /proc/pressure/memory */
static int totals_fd = -1;              /* the same, to read its totals */
static char totals[256];
static int meminfo_fd = -1;             /* /proc/meminfo */
static const atomic_uint_fast64_t *requests;    /* the server's progress */
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
static atomic_uint_fast64_t wedges;
/* Clients connected now, and when the last client connected to a server
 * that had none (now_ns): a restarted server, or a client back after a
 * lost connection.  A second client (nbdinfo, say) does not count. */
static atomic_uint connections;
static atomic_llong last_connection_ns;

static long long
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The number after the first AFTER that follows the first KEY in the
 * /proc file FD (read into BUFFER of SIZE bytes), or UINT64_MAX if it is
 * not there.  The files stay open: the kernel keeps its buffer between
 * reads, so reading them again allocates nothing. */
static uint64_t
proc_number (int fd, char *buffer, size_t size, const char *key,
             const char *after)
{
  const ssize_t n = pread (fd, buffer, size - 1, 0);
  char *p;

  if (n <= 0)
    return UINT64_MAX;
  buffer[n] = '\0';
  p = strstr (buffer, key);
  if (p && after)
    p = strstr (p, after);
  if (p == NULL)
    return UINT64_MAX;
  return strtoull (p + strlen (after ? after : key), NULL, 10);
}

/* MemFree of /proc/meminfo in KiB. */
static uint64_t
free_kib (void)
{
  return proc_number (meminfo_fd, meminfo, sizeof meminfo, "MemFree:", NULL);
}

/* The "full" stall total of /proc/pressure/memory in microseconds. */
static uint64_t
full_stall_us (void)
{
  return proc_number (totals_fd, totals, sizeof totals, "full ", "total=");
}

static void
oom_kill (long long t, long long *last_ns)
{
  ssize_t r;

  *last_ns = t;
  /* 'f': the kernel's OOM killer picks and kills a task now (from a
   * work item: this write returns at once and allocates nothing). */
  do
    r = write (sysrq_fd, "f", 1);
  while (r == -1 && errno == EINTR);
  atomic_fetch_add (&firings, 1);
}

/* A trigger event: the stall passed the limit within the last window.
 * DRY_RUN runs all of it but the write, once when the thread starts, so
 * that its code and stack pages have been faulted in (and locked) before
 * the day they are needed. */
static void
on_trigger (bool dry_run, long long *last_ns)
{
  const long long t = now_ns ();

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
  oom_kill (t, last_ns);
}

/* Once a second: is the swap path wedged?  Free memory is no guide then
 * (seen: 3.6 to 6 MiB free, much of it in a zone ordinary allocations may
 * not use, while a server thread spun in reclaim), and the kernel may
 * stop sending trigger events for a stall that never changes.  What
 * tells is that every task has been stalled for seconds while the server
 * answered nothing: no swap I/O is going on (wedge-rule.h decides).  A
 * workload stalled in its own cgroup still swaps through the server, so
 * it is left alone. */
struct wedge_watch {
  long long sample_ns;
  uint64_t stall_us;
  uint64_t requests;
  struct wedge_rule rule;
};

static void
watch_wedge (struct wedge_watch *w, bool dry_run, long long *last_ns)
{
  const long long t = now_ns ();
  const uint64_t stall = full_stall_us ();
  const uint64_t served = requests ? atomic_load (requests) : 0;

  if (dry_run || w->sample_ns == 0 || stall == UINT64_MAX) {
    w->sample_ns = t;
    w->stall_us = stall;
    w->requests = served;
    return;
  }
  if (t - w->sample_ns < 1000000000LL)
    return;
  const uint64_t elapsed_us = (uint64_t) (t - w->sample_ns) / 1000;
  const bool stalled = stall >= w->stall_us &&
    (stall - w->stall_us) * 100 >= elapsed_us * WEDGE_STALL_PERCENT;
  /* The count first: a client that counts has its time stored. */
  const unsigned clients = requests ? atomic_load (&connections) : 0;
  const long long connected_ns = atomic_load (&last_connection_ns);
  const bool fire =
    wedge_rule_sample (&w->rule, stalled, served != w->requests, clients,
                       (double) (t - connected_ns) / 1e9);
  w->sample_ns = t;
  w->stall_us = stall;
  w->requests = served;
  if (fire && (*last_ns == 0 || t - *last_ns >= MINIMUM_INTERVAL_NS)) {
    atomic_fetch_add (&wedges, 1);
    oom_kill (t, last_ns);
  }
}

void
pressure_guard_connected (void)
{
  /* The time first: the watch reads the count, then the time. */
  if (atomic_load (&connections) == 0)
    atomic_store (&last_connection_ns, now_ns ());
  atomic_fetch_add (&connections, 1);
}

void
pressure_guard_disconnected (void)
{
  atomic_fetch_sub (&connections, 1);
}

static void *
guard_main (void *arg)
{
  struct pollfd fds[2] = {
    { .fd = trigger_fd, .events = POLLPRI },
    { .fd = stop_fd, .events = POLLIN },
  };
  long long last_ns = 0;
  struct wedge_watch wedge = { 0 };

  on_trigger (true, &last_ns);
  watch_wedge (&wedge, true, &last_ns);
  for (;;) {
    /* Woken by the trigger, or every half second to watch for a wedge. */
    const int n = poll (fds, 2, 500);

    if (n == -1) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (n > 0 && fds[1].revents)
      break;
    /* POLLERR: the trigger is gone (the file was closed under us). */
    if (n > 0 && (fds[0].revents & POLLERR))
      break;
    if (n > 0 && (fds[0].revents & POLLPRI))
      on_trigger (false, &last_ns);
    watch_wedge (&wedge, false, &last_ns);
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
  if (totals_fd >= 0)
    close (totals_fd);
  totals_fd = -1;
  if (sysrq_fd >= 0)
    close (sysrq_fd);
  if (stop_fd >= 0)
    close (stop_fd);
  trigger_fd = sysrq_fd = stop_fd = -1;
}

int
pressure_guard_start (unsigned stall_ms,
                      const atomic_uint_fast64_t *requests_served,
                      const char **what, int *adj_error)
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

  totals_fd = open ("/proc/pressure/memory", O_RDONLY | O_CLOEXEC);
  if (totals_fd == -1)
    goto fail;
  requests = requests_served;

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
  counters->wedges = atomic_load (&wedges);
}
