/* vswap: watchdog, the guest's hang detector.
 *
 *   watchdog PID SECONDS [LINE [FILE...]]
 *
 * While process PID lives, it watches for progress: the kernel's swap
 * counters (pswpin + pswpout in /proc/vmstat) and PID's user time (field
 * 14 of /proc/PID/stat: time the workload spent in its own code, not
 * spinning in reclaim).  If neither moves for SECONDS, the swap path is
 * taken to be wedged: it prints
 *   LINE: no progress for SECONDS s while PID runs (pswpout=N pswpin=N)
 * (LINE defaults to "GUEST-RESULT: FAIL hang") to standard output, asks
 * the kernel for a list of blocked tasks (sysrq 'w') and powers the
 * machine off at once (sysrq 'o').  It exits 0 when PID is gone.
 *
 * Before powering off it prints each FILE, for the post-mortem (memory
 * pressure, meminfo, the server's thread states and kernel stacks): they
 * are opened at start, except a FILE written as @PATH, opened only when
 * the watchdog fires (a file that is replaced by rename, such as the
 * server's statistics).  It raises the console log level first, so that
 * the kernel's blocked-task list reaches the console too.
 *
 * A watchdog that needs memory cannot report that memory ran out: it is
 * linked statically, locks all its pages, runs at real-time priority,
 * opens every file it needs before it starts watching, reads them with
 * pread into static buffers, and formats its numbers itself.  (The kernel
 * still allocates a little to answer a read of /proc; nothing to be done
 * about that from userspace.)
 *
 * Exit status: 0 PID ended, 2 usage or set-up error; it does not return
 * when it fires.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static char vmstat_buffer[32768];
static char stat_buffer[4096];
static char message[512];
static size_t message_length;

static void
append (const char *text)
{
  const size_t n = strlen (text);

  if (message_length + n < sizeof message) {
    memcpy (message + message_length, text, n);
    message_length += n;
  }
}

static void
append_number (uint64_t value)
{
  char digits[24];
  size_t i = sizeof digits;

  digits[--i] = '\0';
  do {
    digits[--i] = '0' + value % 10;
    value /= 10;
  } while (value > 0);
  append (digits + i);
}

/* Read a whole small /proc file into BUFFER; returns its length or -1. */
static ssize_t
read_file (int fd, char *buffer, size_t size)
{
  size_t done = 0;
  ssize_t r;

  for (;;) {
    r = pread (fd, buffer + done, size - 1 - done, done);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1)
      return -1;
    if (r == 0 || done + r == size - 1)
      break;
    done += r;
  }
  done += r > 0 ? (size_t) r : 0;
  buffer[done] = '\0';
  return done;
}

/* The value of "KEY value" lines of /proc/vmstat. */
static uint64_t
vmstat_value (const char *text, const char *key)
{
  const size_t n = strlen (key);
  const char *p = text;

  while (p && *p) {
    if (strncmp (p, key, n) == 0 && p[n] == ' ')
      return strtoull (p + n + 1, NULL, 10);
    p = strchr (p, '\n');
    if (p)
      p++;
  }
  return 0;
}

/* Field 14 (utime) of /proc/PID/stat: after the ")" that ends the name. */
static uint64_t
user_time (const char *text)
{
  const char *p = strrchr (text, ')');
  int field = 2;

  while (p && *p && field < 14) {
    p = strchr (p + 1, ' ');
    field++;
  }
  return p ? strtoull (p + 1, NULL, 10) : 0;
}

#define MAXIMUM_DUMPS 256
static int dump_fds[MAXIMUM_DUMPS];
static const char *dump_names[MAXIMUM_DUMPS];
static size_t dump_count;

static void
write_all (const char *text, size_t length)
{
  while (length > 0) {
    const ssize_t r = write (STDOUT_FILENO, text, length);
    if (r == -1 && errno == EINTR)
      continue;
    if (r <= 0)
      return;
    text += r;
    length -= r;
  }
}

/* Print the FILEs of the command line, each headed by its name: those
 * opened at start, or (LATE) the @PATH ones. */
static void
dump_files (bool late)
{
  for (size_t i = 0; i < dump_count; i++) {
    int fd = dump_fds[i];
    ssize_t n;

    if ((dump_names[i][0] == '@') != late)
      continue;
    if (late)
      fd = open (dump_names[i] + 1, O_RDONLY | O_CLOEXEC);
    write_all ("WATCHDOG-FILE: ", 15);
    write_all (dump_names[i], strlen (dump_names[i]));
    write_all ("\n", 1);
    if (fd == -1) {
      write_all ("(cannot open)\n", 14);
      continue;
    }
    n = read_file (fd, vmstat_buffer, sizeof vmstat_buffer);
    if (n > 0)
      write_all (vmstat_buffer, n);
    else
      write_all ("(cannot read)\n", 14);
  }
}

static void
say (const char *text)
{
  (void) !write (STDERR_FILENO, text, strlen (text));
}

int
main (int argc, char *argv[])
{
  const struct sched_param fifo = { .sched_priority = 50 };
  const char *line = argc > 3 ? argv[3] : "GUEST-RESULT: FAIL hang";
  char path[64];
  struct timespec last_progress, now;
  const struct timespec second = { .tv_sec = 1 };
  uint64_t last_swaps = 0, last_user = 0, swaps, user, pswpout, pswpin;
  long pid, limit;
  int vmstat_fd, stat_fd, sysrq_fd, adj_fd;
  bool first = true;

  if (argc < 3 || (pid = strtol (argv[1], NULL, 10)) <= 0 ||
      (limit = strtol (argv[2], NULL, 10)) <= 0) {
    say ("usage: watchdog PID SECONDS [LINE [FILE...]]\n");
    return 2;
  }
  /* Everything it will need, now. */
  message_length = 0;
  append ("/proc/");
  append_number (pid);
  append ("/stat");
  memcpy (path, message, message_length);
  path[message_length] = '\0';
  message_length = 0;

  vmstat_fd = open ("/proc/vmstat", O_RDONLY | O_CLOEXEC);
  stat_fd = open (path, O_RDONLY | O_CLOEXEC);
  sysrq_fd = open ("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
  if (vmstat_fd == -1 || stat_fd == -1 || sysrq_fd == -1) {
    say ("watchdog: cannot open /proc/vmstat, /proc/PID/stat or "
         "/proc/sysrq-trigger: run it as root in the guest\n");
    return 2;
  }
  for (int i = 4; i < argc && dump_count < MAXIMUM_DUMPS; i++) {
    dump_names[dump_count] = argv[i];
    dump_fds[dump_count] = argv[i][0] == '@' ? -1 :
      open (argv[i], O_RDONLY | O_CLOEXEC);
    dump_count++;
  }
  adj_fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (adj_fd >= 0) {
    (void) !write (adj_fd, "-1000", 5);
    close (adj_fd);
  }
  if (mlockall (MCL_CURRENT | MCL_FUTURE) == -1)
    say ("watchdog: warning: mlockall refused\n");
  (void) sched_setscheduler (0, SCHED_FIFO, &fifo);
  memset (vmstat_buffer, 0, sizeof vmstat_buffer);
  memset (stat_buffer, 0, sizeof stat_buffer);
  clock_gettime (CLOCK_MONOTONIC, &last_progress);

  for (;;) {
    if (kill (pid, 0) == -1 && errno == ESRCH)
      return 0;
    if (read_file (vmstat_fd, vmstat_buffer, sizeof vmstat_buffer) < 0)
      return 0;
    /* The stat file of a reaped process reads as an error. */
    if (read_file (stat_fd, stat_buffer, sizeof stat_buffer) < 0)
      return 0;
    pswpout = vmstat_value (vmstat_buffer, "pswpout");
    pswpin = vmstat_value (vmstat_buffer, "pswpin");
    swaps = pswpout + pswpin;
    user = user_time (stat_buffer);
    clock_gettime (CLOCK_MONOTONIC, &now);
    if (first || swaps != last_swaps || user != last_user) {
      first = false;
      last_swaps = swaps;
      last_user = user;
      last_progress = now;
    }
    else if (now.tv_sec - last_progress.tv_sec >= limit)
      break;
    nanosleep (&second, NULL);
  }

  message_length = 0;
  append ("\n");
  append (line);
  append (": no progress for ");
  append_number (limit);
  append (" s while pid ");
  append_number (pid);
  append (" runs (pswpout=");
  append_number (pswpout);
  append (" pswpin=");
  append_number (pswpin);
  append (")\n");
  (void) !write (STDOUT_FILENO, message, message_length);
  dump_files (false);
  /* Log level 9: the blocked tasks' stacks are printed at KERN_INFO. */
  (void) !write (sysrq_fd, "9", 1);
  (void) !write (sysrq_fd, "w", 1);
  nanosleep (&second, NULL);
  /* Last: opening a file on tmpfs may wait for a swap-in that never
   * comes (the host then stops the guest when its console falls silent). */
  dump_files (true);
  (void) !write (STDOUT_FILENO, message, message_length);
  (void) !write (sysrq_fd, "o", 1);
  for (;;)
    pause ();
}
