/* vswap tests: every NBD request type through nbdkit and the plugin,
 * checked against an in-memory reference of the disk.
 *
 * Phases:
 *   single   one connection (nbdkit -s): aligned, unaligned and 512-byte
 *            I/O, trim, zero with every flag, FUA, flush, block status,
 *            concurrent sub-page writes, random operations; then a clean
 *            shutdown and a restart that must read the same disk.
 *   multi    several connections from several threads, writing disjoint
 *            byte ranges that share pages and overlapping whole pages,
 *            then cross-reading (io-uring=yes); clean restart.
 *   crash    kill -9 (of a server with io-uring=yes) after a flush (and
 *            after FUA requests): what was
 *            flushed survives, later writes are old or new, never torn;
 *            then kill -9 again straight after recovery.
 *   killed   with a write buffer (buffer=): kill -9 in the middle of
 *            writes nobody flushed, and after trims and zeroes; every
 *            acknowledged byte must read back after the restart, three
 *            times over; a second server on the store is refused.
 *   policy   readtrim=on (a re-read is EIO), compress=zstd then none,
 *            daemon mode (nbdkit forks) with a statsfile.
 *
 * Environment: VSWAP_PLUGIN (the plugin .so), VSWAP_MAKE_STORE (default
 * ./make-store), VSWAP_SEED (random seed), VSWAP_NBDKIT_PRELOAD (a
 * sanitizer runtime nbdkit must preload).  Exit 77 if nbdkit is missing.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

/* Random numbers (struct test_random): reproducible from VSWAP_SEED, one
 * state per thread. */
#include "helpers.h"

#define PAGE 4096u
#define MEDIUM_SIZE "64M"
#define DISK_SIZE (16u << 20)
#define NR_THREADS 4

static const char *plugin;
static const char *make_store;
/* A sanitizer runtime the plugin was built with, for nbdkit (NULL: none). */
static const char *preload;

/* In a child about to run nbdkit: the sanitizer runtime must come first
 * in nbdkit, which was not built with it; nbdkit's own leaks are not
 * ours.  Only there: preloaded into the shell that system() runs, or
 * into a program built with ThreadSanitizer, it crashes. */
static void
set_preload (void)
{
  if (!preload)
    return;
  setenv ("LD_PRELOAD", preload, 1);
  setenv ("ASAN_OPTIONS", "detect_leaks=0", 1);
}
static char workdir[PATH_MAX];
static char store_path[PATH_MAX + 16];
static char store_arg[PATH_MAX + 32];
static char socket_path[PATH_MAX + 16];
static char pid_path[PATH_MAX + 16];
static char stats_path[PATH_MAX + 16];
static char stats_arg[PATH_MAX + 32];
static char buffer_path[PATH_MAX + 16];
static char buffer_arg[PATH_MAX + 32];
static pid_t server_pid = -1;   /* our child, or the daemon from its pidfile */
static bool server_is_child;
static const char *phase = "setup";

static uint8_t *ref;            /* what the disk must hold */
static uint64_t disk_size;

static void __attribute__ ((noreturn, format (printf, 1, 2)))
die (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "test-plugin-requests: %s: ", phase);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (EXIT_FAILURE);
}

#define NBD_OK(h, call)                                                 \
  do {                                                                  \
    if ((call) == -1)                                                   \
      die ("line %d: %s: %s", __LINE__, #call, nbd_get_error ());        \
  } while (0)

static void *
xmalloc (size_t size)
{
  void *p = malloc (size);
  if (p == NULL)
    die ("malloc: %m");
  return p;
}

/* Data of the kinds the store treats differently: random (raw), zero,
 * same-filled, compressible, and pages of each mixed. */
static void
fill (struct test_random *r, uint8_t *buf, size_t len)
{
  int kind = test_random_below (r, 5);
  size_t i, j;

  for (i = 0; i < len; i += PAGE) {
    size_t n = len - i < PAGE ? len - i : PAGE;
    int k = kind == 4 ? (int) test_random_below (r, 4) : kind;

    switch (k) {
    case 0:
      for (j = 0; j < n; ++j)
        buf[i + j] = test_random_next (r) >> 56;
      break;
    case 1:
      memset (buf + i, 0, n);
      break;
    case 2:
      memset (buf + i, (int) (1 + test_random_below (r, 255)), n);
      break;
    default:
      for (j = 0; j < n; ++j)
        buf[i + j] = "swap swap, page in page out\n"[j % 28] ^
          (test_random_below (r, 64) == 0 ? 1 : 0);
      break;
    }
  }
}

/* ---- The server. ---- */

static void
remove_files (void)
{
  unlink (socket_path);
  unlink (pid_path);
}

static void
cleanup (void)
{
  if (server_pid > 0) {
    kill (server_pid, SIGKILL);
    if (server_is_child)
      waitpid (server_pid, NULL, 0);
    server_pid = -1;
  }
  if (workdir[0]) {
    remove_files ();
    unlink (store_path);
    unlink (stats_path);
    unlink (buffer_path);
    rmdir (workdir);
  }
}

static void
on_signal (int sig)
{
  cleanup ();
  signal (sig, SIG_DFL);
  raise (sig);
}

/* Start "nbdkit [-f] -U SOCKET -P PIDFILE PLUGIN store=… EXTRA…" and wait
 * until it listens.  FOREGROUND false lets nbdkit fork into the background,
 * which is the path that runs .after_fork in another process. */
static void
start_server_mode (bool foreground, const char *const *extra)
{
  const char *argv[32];
  int argc = 0, i, status;
  pid_t pid;

  remove_files ();
  argv[argc++] = "nbdkit";
  if (foreground) {
    argv[argc++] = "-f";
    argv[argc++] = "--exit-with-parent";
  }
  argv[argc++] = "-U";
  argv[argc++] = socket_path;
  argv[argc++] = "-P";
  argv[argc++] = pid_path;
  argv[argc++] = plugin;
  argv[argc++] = store_arg;
  for (i = 0; extra && extra[i]; ++i)
    argv[argc++] = extra[i];
  argv[argc] = NULL;

  pid = fork ();
  if (pid == -1)
    die ("fork: %m");
  if (pid == 0) {
    set_preload ();
    execvp ("nbdkit", (char **) argv);
    fprintf (stderr, "exec nbdkit: %m\n");
    _exit (127);
  }

  /* nbdkit writes the pidfile once it listens. */
  for (i = 0; i < 6000; ++i) {
    struct stat st;

    if (stat (pid_path, &st) == 0 && st.st_size > 0)
      break;
    if (foreground && waitpid (pid, &status, WNOHANG) == pid)
      die ("nbdkit exited at start-up (status 0x%x)", status);
    usleep (10000);
  }
  if (i == 6000) {
    kill (pid, SIGKILL);
    die ("nbdkit did not write %s within 60 s", pid_path);
  }

  if (foreground) {
    server_pid = pid;
    server_is_child = true;
  }
  else {
    FILE *fp;
    int daemon_pid;

    /* The parent exits once the child is ready. */
    if (waitpid (pid, &status, 0) != pid || !WIFEXITED (status) ||
        WEXITSTATUS (status) != 0)
      die ("nbdkit (forking) exited with status 0x%x", status);
    fp = fopen (pid_path, "r");
    if (fp == NULL || fscanf (fp, "%d", &daemon_pid) != 1)
      die ("cannot read %s", pid_path);
    fclose (fp);
    server_pid = daemon_pid;
    server_is_child = false;
  }
}

static void
start_server (const char *const *extra)
{
  start_server_mode (true, extra);
}

/* SIGTERM: nbdkit closes connections, calls .cleanup and .unload (which
 * closes the store) and must exit 0. */
static void
stop_server (void)
{
  int status, i;

  if (kill (server_pid, SIGTERM) == -1)
    die ("kill: %m");
  if (server_is_child) {
    for (i = 0; i < 6000; ++i) {
      pid_t r = waitpid (server_pid, &status, WNOHANG);
      if (r == server_pid)
        break;
      if (r == -1)
        die ("waitpid: %m");
      usleep (10000);
    }
    if (i == 6000)
      die ("nbdkit did not exit within 60 s of SIGTERM");
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
      die ("nbdkit did not exit cleanly on SIGTERM (status 0x%x)", status);
  }
  else {
    for (i = 0; i < 6000 && kill (server_pid, 0) == 0; ++i)
      usleep (10000);
    if (i == 6000)
      die ("nbdkit (daemon) did not exit within 60 s of SIGTERM");
  }
  server_pid = -1;
}

static void
kill_server (void)
{
  if (kill (server_pid, SIGKILL) == -1)
    die ("kill: %m");
  if (server_is_child)
    waitpid (server_pid, NULL, 0);
  server_pid = -1;
}

static struct nbd_handle *
new_handle (void)
{
  struct nbd_handle *h = nbd_create ();

  if (h == NULL)
    die ("nbd_create: %s", nbd_get_error ());
  NBD_OK (h, nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION));
  /* The plugin advertises a 512-byte minimum block size, as a disk does,
   * and libnbd then refuses smaller requests itself; but the kernel and
   * other clients may send any offset and length, which the plugin must
   * serve (read-modify-write).  So send them. */
  const int strict = nbd_get_strict_mode (h);
  if (strict == -1)
    die ("nbd_get_strict_mode: %s", nbd_get_error ());
  NBD_OK (h, nbd_set_strict_mode (h, strict & ~LIBNBD_STRICT_ALIGN));
  return h;
}

static struct nbd_handle *
connect_server (void)
{
  struct nbd_handle *h = new_handle ();

  NBD_OK (h, nbd_connect_unix (h, socket_path));
  return h;
}

/* nbdkit -s: the server lives as long as the connection, and nbd_close
 * waits for it to exit (after .unload). */
static struct nbd_handle *
connect_command (void)
{
  struct nbd_handle *h = new_handle ();
  char ld_preload[PATH_MAX + 16];
  char *argv[] = { "env", ld_preload, "ASAN_OPTIONS=detect_leaks=0",
                   "nbdkit", "-s", "--exit-with-parent",
                   (char *) plugin, store_arg, NULL };

  /* nbdkit gets the sanitizer runtime (see set_preload) through env. */
  snprintf (ld_preload, sizeof ld_preload, "LD_PRELOAD=%s",
            preload ? preload : "");
  NBD_OK (h, nbd_connect_command (h, preload ? argv : argv + 3));
  return h;
}

static void
check_flags (struct nbd_handle *h)
{
  if (nbd_get_size (h) != (int64_t) disk_size)
    die ("size %" PRIi64 ", expected %" PRIu64, nbd_get_size (h), disk_size);
#define EXPECT(call, value)                                             \
  if ((call) != (value))                                                \
    die ("%s is %d, expected %d", #call, (call), (value))
  EXPECT (nbd_is_read_only (h), 0);
  EXPECT (nbd_can_flush (h), 1);
  EXPECT (nbd_can_fua (h), 1);
  EXPECT (nbd_can_trim (h), 1);
  EXPECT (nbd_can_zero (h), 1);
  EXPECT (nbd_can_fast_zero (h), 1);
  EXPECT (nbd_can_multi_conn (h), 1);
  EXPECT (nbd_is_rotational (h), 0);
  EXPECT (nbd_can_cache (h), 0);
  EXPECT (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION), 1);
#undef EXPECT
}

/* ---- Requests, applied to the server and to the reference. ---- */

static uint8_t *scratch;        /* the main thread's read buffer */

static void
compare (const uint8_t *got, uint64_t offset, uint64_t length,
         const char *what)
{
  uint64_t i;

  if (memcmp (got, ref + offset, length) == 0)
    return;
  for (i = 0; i < length && got[i] == ref[offset + i]; ++i)
    ;
  die ("%s: byte %" PRIu64 " is 0x%02x, expected 0x%02x "
       "(range %" PRIu64 "+%" PRIu64 ")",
       what, offset + i, got[i], ref[offset + i], offset, length);
}

static void
verify_range (struct nbd_handle *h, uint64_t offset, uint64_t length,
              const char *what)
{
  uint64_t done, n;

  for (done = 0; done < length; done += n) {
    n = length - done < (4u << 20) ? length - done : (4u << 20);
    NBD_OK (h, nbd_pread (h, scratch, n, offset + done, 0));
    compare (scratch, offset + done, n, what);
  }
}

static void
verify_all (struct nbd_handle *h, const char *what)
{
  verify_range (h, 0, disk_size, what);
}

/* Check the area around a request as well: neighbours must not change. */
static void
verify_around (struct nbd_handle *h, uint64_t offset, uint64_t length,
               const char *what)
{
  uint64_t start = offset > 2 * PAGE ? offset - 2 * PAGE : 0;
  uint64_t end = offset + length + 2 * PAGE;

  if (end > disk_size)
    end = disk_size;
  verify_range (h, start, end - start, what);
}

static void
do_write (struct nbd_handle *h, const uint8_t *data, uint64_t length,
          uint64_t offset, uint32_t flags)
{
  NBD_OK (h, nbd_pwrite (h, data, length, offset, flags));
  memcpy (ref + offset, data, length);
}

static void
do_trim (struct nbd_handle *h, uint64_t length, uint64_t offset,
         uint32_t flags)
{
  NBD_OK (h, nbd_trim (h, length, offset, flags));
  /* Partial pages are zeroed, whole pages unmapped: all reads as zeros. */
  memset (ref + offset, 0, length);
}

static void
do_zero (struct nbd_handle *h, uint64_t length, uint64_t offset,
         uint32_t flags)
{
  NBD_OK (h, nbd_zero (h, length, offset, flags));
  memset (ref + offset, 0, length);
}

/* ---- Block status. ---- */

struct extent_run {
  uint64_t offset, length;
  uint32_t flags;
};

struct extents_seen {
  uint64_t next;                /* where the next extent must start */
  struct extent_run runs[65536];
  size_t nr_runs;
  const char *problem;
};

static int
extent_callback (void *opaque, const char *metacontext, uint64_t offset,
                 uint32_t *entries, size_t nr_entries, int *error)
{
  struct extents_seen *seen = opaque;
  size_t i;

  if (strcmp (metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
    return 0;
  if (offset != seen->next)
    seen->problem = "reply does not start at the requested offset";
  for (i = 0; i + 1 < nr_entries; i += 2) {
    struct extent_run run = { seen->next, entries[i], entries[i + 1] };

    if (run.length == 0)
      seen->problem = "zero-length extent";
    if ((run.flags & LIBNBD_STATE_HOLE) && !(run.flags & LIBNBD_STATE_ZERO))
      seen->problem = "hole that does not read as zeros";
    if (seen->nr_runs < sizeof seen->runs / sizeof seen->runs[0])
      seen->runs[seen->nr_runs++] = run;
    seen->next += run.length;
  }
  return 0;
}

/* Collect the extents of [OFFSET, OFFSET+LENGTH), asking again where the
 * server answered for less.  Every extent claiming zeros must cover only
 * zeros of the reference. */
static struct extents_seen *
get_extents (struct nbd_handle *h, uint64_t offset, uint64_t length,
             uint32_t flags)
{
  static struct extents_seen seen;
  uint64_t end = offset + length;
  size_t i;

  memset (&seen, 0, sizeof seen);
  seen.next = offset;
  while (seen.next < end) {
    uint64_t before = seen.next;

    NBD_OK (h, nbd_block_status (h, end - seen.next, seen.next,
                                 (nbd_extent_callback) {
                                   .callback = extent_callback,
                                   .user_data = &seen },
                                 flags));
    if (seen.problem)
      die ("block status at %" PRIu64 ": %s", before, seen.problem);
    if (seen.next == before)
      die ("block status at %" PRIu64 ": no progress", before);
    if (flags & LIBNBD_CMD_FLAG_REQ_ONE) {
      if (seen.nr_runs != 1)
        die ("block status with REQ_ONE at %" PRIu64 " gave %zu extents",
             before, seen.nr_runs);
      break;
    }
  }

  for (i = 0; i < seen.nr_runs; ++i) {
    struct extent_run *run = &seen.runs[i];
    uint64_t s = run->offset, e = run->offset + run->length, j;

    if (!(run->flags & LIBNBD_STATE_ZERO))
      continue;
    if (e > disk_size)
      die ("extent %" PRIu64 "+%" PRIu64 " beyond the disk", s, run->length);
    for (j = s; j < e; ++j)
      if (ref[j] != 0)
        die ("block status says %" PRIu64 "+%" PRIu64 " (flags %" PRIu32
             ") reads as zeros, but byte %" PRIu64 " is 0x%02x",
             s, run->length, run->flags, j, ref[j]);
  }
  return &seen;
}

/* Every extent overlapping [OFFSET, OFFSET+LENGTH) must have FLAGS in the
 * bits of MASK. */
static void
expect_extents_masked (struct nbd_handle *h, uint64_t offset,
                       uint64_t length, uint32_t mask, uint32_t flags,
                       const char *what)
{
  struct extents_seen *seen = get_extents (h, offset, length, 0);
  size_t i;

  for (i = 0; i < seen->nr_runs; ++i) {
    struct extent_run *run = &seen->runs[i];

    if (run->offset >= offset + length)
      break;
    if ((run->flags & mask) != flags)
      die ("%s: block status says %" PRIu64 "+%" PRIu64 " has flags %"
           PRIu32 ", expected %" PRIu32, what, run->offset, run->length,
           run->flags, flags);
  }
}

static void
expect_extents (struct nbd_handle *h, uint64_t offset, uint64_t length,
                uint32_t flags, const char *what)
{
  expect_extents_masked (h, offset, length, ~0u, flags, what);
}

/* ---- Phase single. ---- */

/* Adjacent sub-page writes in flight at once on one connection: nbdkit
 * hands them to different threads, and every one of them is a
 * read-modify-write of a page another one is also changing. */
static void
concurrent_sub_page_writes (struct nbd_handle *h, struct test_random *r,
                            uint64_t base)
{
  enum { N = 64, PIECE = 1000 };
  static uint8_t data[N * PIECE];
  int64_t cookies[N];
  int i;

  for (i = 0; i < N * PIECE; ++i)
    data[i] = test_random_next (r) >> 56;
  for (i = 0; i < N; ++i) {
    cookies[i] = nbd_aio_pwrite (h, data + i * PIECE, PIECE,
                                 base + i * PIECE, NBD_NULL_COMPLETION, 0);
    if (cookies[i] == -1)
      die ("nbd_aio_pwrite: %s", nbd_get_error ());
  }
  while (nbd_aio_in_flight (h) > 0)
    NBD_OK (h, nbd_poll (h, -1));
  for (i = 0; i < N; ++i)
    if (nbd_aio_command_completed (h, cookies[i]) != 1)
      die ("concurrent write %d: %s", i, nbd_get_error ());
  memcpy (ref + base, data, sizeof data);
  verify_around (h, base, sizeof data, "concurrent sub-page writes");
}

static void
random_operations (struct nbd_handle *h, struct test_random *r, int count)
{
  static uint8_t data[256 * 1024];
  int i;

  for (i = 0; i < count; ++i) {
    uint64_t offset, length;
    uint32_t flags = 0;
    int op = test_random_below (r, 20);

    if (test_random_below (r, 2)) {
      length = (1 + test_random_below (r, sizeof data / PAGE)) * PAGE;
      offset = test_random_below (r, disk_size / PAGE) * PAGE;
    }
    else {
      length = 1 + test_random_below (r, test_random_below (r, 2) ? 4096
                                      : sizeof data);
      offset = test_random_below (r, disk_size);
    }
    if (offset + length > disk_size)
      length = disk_size - offset;
    if (test_random_below (r, 8) == 0)
      flags |= LIBNBD_CMD_FLAG_FUA;

    if (op < 10) {
      fill (r, data, length);
      do_write (h, data, length, offset, flags);
      verify_around (h, offset, length, "random write");
    }
    else if (op < 14)
      verify_range (h, offset, length, "random read");
    else if (op < 16) {
      do_trim (h, length, offset, flags);
      verify_around (h, offset, length, "random trim");
    }
    else if (op < 18) {
      if (test_random_below (r, 2))
        flags |= LIBNBD_CMD_FLAG_NO_HOLE;
      if (test_random_below (r, 2))
        flags |= LIBNBD_CMD_FLAG_FAST_ZERO;
      do_zero (h, length, offset, flags);
      verify_around (h, offset, length, "random zero");
    }
    else if (op < 19)
      NBD_OK (h, nbd_flush (h, 0));
    else
      get_extents (h, offset, length, test_random_below (r, 4) ? 0
                   : LIBNBD_CMD_FLAG_REQ_ONE);

    if (i % 100 == 99) {
      verify_all (h, "after random operations");
      get_extents (h, 0, disk_size, 0);
    }
  }
}

static void
phase_single (struct test_random *r)
{
  static uint8_t data[2 << 20];
  struct nbd_handle *h;
  uint64_t o;
  int i;

  phase = "single";
  h = connect_command ();
  check_flags (h);

  /* A new store is one big hole. */
  verify_all (h, "new store");
  expect_extents (h, 0, disk_size, LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO,
                  "new store");

  /* Aligned: a page, 64 KiB, a 2 MiB THP swap-out, 1280 KiB (6.12's
   * largest request). */
  for (i = 0; i < (int) PAGE; ++i)
    data[i] = test_random_next (r) >> 56;
  data[0] |= 1;
  do_write (h, data, PAGE, 0, 0);
  verify_around (h, 0, PAGE, "aligned page");
  expect_extents (h, 0, PAGE, 0, "random page");
  fill (r, data, 65536);
  do_write (h, data, 65536, 1 << 20, 0);
  verify_around (h, 1 << 20, 65536, "aligned 64K");
  fill (r, data, 2 << 20);
  do_write (h, data, 2 << 20, 4 << 20, 0);
  verify_around (h, 4 << 20, 2 << 20, "aligned 2M");
  fill (r, data, 1280 << 10);
  do_write (h, data, 1280 << 10, 8 << 20, 0);
  verify_around (h, 8 << 20, 1280 << 10, "aligned 1280K");

  /* mkswap through nbd-client: bytes 1024..4095 of page 0 in 512-byte
   * sectors, then a flush. */
  for (o = 1024; o < PAGE; o += 512) {
    fill (r, data, 512);
    do_write (h, data, 512, o, 0);
  }
  NBD_OK (h, nbd_flush (h, 0));
  verify_around (h, 0, PAGE, "512-byte sectors of page 0");
  /* A run of sectors, one request each, some straddling pages. */
  for (o = (2 << 20) + 512 * 3; o < (2 << 20) + 40 * 1024; o += 512) {
    fill (r, data, 512);
    do_write (h, data, 512, o, 0);
  }
  verify_around (h, 2 << 20, 40 * 1024, "512-byte sectors");

  /* Unaligned offsets and lengths. */
  {
    static const uint64_t cases[][2] = {
      { 4095, 2 }, { 1, 1 }, { 12345, 54321 }, { 3 * PAGE - 7, PAGE + 14 },
      { DISK_SIZE - 1, 1 }, { DISK_SIZE - PAGE - 1, PAGE + 1 },
      { DISK_SIZE - 1000, 1000 }, { (3 << 20) + 100, 300000 },
    };
    for (i = 0; i < (int) (sizeof cases / sizeof cases[0]); ++i) {
      fill (r, data, cases[i][1]);
      data[0] |= 0x80;
      do_write (h, data, cases[i][1], cases[i][0], 0);
      verify_around (h, cases[i][0], cases[i][1], "unaligned write");
    }
  }
  /* Unaligned reads. */
  for (i = 0; i < 50; ++i) {
    uint64_t off = test_random_below (r, disk_size);
    uint64_t len = 1 + test_random_below (r, 70000);
    if (off + len > disk_size)
      len = disk_size - off;
    verify_range (h, off, len, "unaligned read");
  }

  /* Trim: whole pages become holes; partial pages are zeroed. */
  do_trim (h, 65536, 1 << 20, 0);
  verify_around (h, 1 << 20, 65536, "aligned trim");
  expect_extents (h, 1 << 20, 65536, LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO,
                  "aligned trim");
  do_trim (h, 10000, (12345 + 100), 0);
  verify_around (h, 12345 + 100, 10000, "unaligned trim");
  do_trim (h, 2 * PAGE, 4 << 20, LIBNBD_CMD_FLAG_FUA);
  verify_around (h, 4 << 20, 2 * PAGE, "FUA trim");

  /* Write zeroes with every flag.  Zero pages cost nothing, so with or
   * without NO_HOLE the store drops the mapping: the range reads as zeros
   * and says so (whether it also says "hole" is the store's choice). */
  do_zero (h, 128 << 10, (4 << 20) + (64 << 10), LIBNBD_CMD_FLAG_NO_HOLE);
  verify_around (h, (4 << 20) + (64 << 10), 128 << 10, "zero NO_HOLE");
  expect_extents_masked (h, (4 << 20) + (64 << 10), 128 << 10,
                         LIBNBD_STATE_ZERO, LIBNBD_STATE_ZERO,
                         "zero NO_HOLE");
  do_zero (h, 128 << 10, (4 << 20) + (192 << 10), 0);
  verify_around (h, (4 << 20) + (192 << 10), 128 << 10, "zero MAY_TRIM");
  get_extents (h, (4 << 20) + (192 << 10), 128 << 10, 0);
  do_zero (h, 64 << 10, (5 << 20), LIBNBD_CMD_FLAG_FAST_ZERO);
  verify_around (h, 5 << 20, 64 << 10, "zero FAST_ZERO");
  get_extents (h, 5 << 20, 64 << 10, 0);
  do_zero (h, 70000, (8 << 20) + 5,
           LIBNBD_CMD_FLAG_FUA | LIBNBD_CMD_FLAG_NO_HOLE |
           LIBNBD_CMD_FLAG_FAST_ZERO);
  verify_around (h, (8 << 20) + 5, 70000, "unaligned FUA zero");

  /* Written zeros are zero pages; same-filled pages are data. */
  memset (data, 0, 3 * PAGE);
  do_write (h, data, 3 * PAGE, 12 << 20, 0);
  get_extents (h, 12 << 20, 3 * PAGE, 0);
  {
    struct extents_seen *seen = get_extents (h, 12 << 20, 3 * PAGE, 0);
    for (i = 0; i < (int) seen->nr_runs; ++i)
      if (seen->runs[i].offset < (12 << 20) + 3 * PAGE &&
          !(seen->runs[i].flags & LIBNBD_STATE_ZERO))
        die ("written zero pages are reported as data (flags %" PRIu32 ")",
             seen->runs[i].flags);
  }
  memset (data, 0xab, PAGE);
  do_write (h, data, PAGE, (12 << 20) + 3 * PAGE, 0);
  verify_around (h, (12 << 20) + 3 * PAGE, PAGE, "same-filled page");
  expect_extents (h, (12 << 20) + 3 * PAGE, PAGE, 0, "same-filled page");

  /* FUA writes. */
  fill (r, data, 3 * PAGE + 17);
  do_write (h, data, 3 * PAGE + 17, (13 << 20) + 3, LIBNBD_CMD_FLAG_FUA);
  verify_around (h, (13 << 20) + 3, 3 * PAGE + 17, "FUA write");

  /* REQ_ONE: one extent, starting at the offset asked. */
  get_extents (h, 1 << 20, 4 << 20, LIBNBD_CMD_FLAG_REQ_ONE);

  concurrent_sub_page_writes (h, r, (14 << 20) + 123);

  random_operations (h, r, 400);

  NBD_OK (h, nbd_flush (h, 0));
  verify_all (h, "end of single");
  get_extents (h, 0, disk_size, 0);
  NBD_OK (h, nbd_shutdown (h, 0));
  nbd_close (h);                /* waits for nbdkit to exit */

  /* Clean restart. */
  phase = "single-restart";
  h = connect_command ();
  check_flags (h);
  verify_all (h, "after clean restart");
  get_extents (h, 0, disk_size, 0);
  NBD_OK (h, nbd_shutdown (h, 0));
  nbd_close (h);
}

/* ---- Phase multi. ---- */

struct worker {
  pthread_t thread;
  int id;
  struct nbd_handle *h;
  struct test_random rng;
  uint64_t start, end;          /* private bytes: not page-aligned */
  uint64_t shared_start, shared_end;    /* pages anyone writes whole */
  const char *problem;
  char message[256];
};

/* A shared page holds one 8-byte tag repeated: who wrote it, when, and
 * where.  Any mixture of two writers' pages shows up as mixed tags. */
static uint64_t
tag (int id, uint64_t seq, uint64_t page)
{
  return (uint64_t) (id + 1) << 56 | (seq & 0xffffffff) << 24 |
    (page & 0xffffff);
}

static void *
worker_main (void *opaque)
{
  struct worker *w = opaque;
  struct test_random *r = &w->rng;
  uint8_t *data = malloc (128 * 1024);
  uint8_t *got = malloc (128 * 1024);
  uint64_t seq;

  if (data == NULL || got == NULL) {
    w->problem = "malloc";
    goto out;
  }

  for (seq = 0; seq < 300 && w->problem == NULL; ++seq) {
    int op = test_random_below (r, 20);
    uint64_t offset, length;

    /* Private ranges: sometimes touching the edges, whose pages the
     * neighbours are changing at the same moment. */
    length = 1 + test_random_below (r, test_random_below (r, 2) ? 3 * PAGE
                                    : 64 * 1024);
    if (length > w->end - w->start)
      length = w->end - w->start;
    switch (test_random_below (r, 5)) {
    case 0: offset = w->start; break;
    case 1: offset = w->end - length; break;
    default:
      offset = w->start
        + test_random_below (r, w->end - w->start - length + 1);
    }

    if (op < 10) {
      fill (r, data, length);
      if (nbd_pwrite (w->h, data, length, offset,
                      test_random_below (r, 10) ? 0
                      : LIBNBD_CMD_FLAG_FUA) == -1)
        goto nbd_error;
      memcpy (ref + offset, data, length);
    }
    else if (op < 12) {
      if ((test_random_below (r, 2)
           ? nbd_trim (w->h, length, offset, 0)
           : nbd_zero (w->h, length, offset, LIBNBD_CMD_FLAG_NO_HOLE)) == -1)
        goto nbd_error;
      memset (ref + offset, 0, length);
    }
    else if (op < 14) {
      if (nbd_pread (w->h, got, length, offset, 0) == -1)
        goto nbd_error;
      if (memcmp (got, ref + offset, length) != 0) {
        snprintf (w->message, sizeof w->message,
                  "private range %" PRIu64 "+%" PRIu64 " reads wrong",
                  offset, length);
        w->problem = w->message;
      }
    }
    else if (op < 19) {
      /* Whole tagged pages in the shared area. */
      uint64_t pages = (w->shared_end - w->shared_start) / PAGE;
      uint64_t first = test_random_below (r, pages);
      uint64_t n = 1 + test_random_below (r, 8), p, k;

      if (first + n > pages)
        n = pages - first;
      for (p = 0; p < n; ++p) {
        uint64_t t = tag (w->id, seq, first + p);
        for (k = 0; k < PAGE / 8; ++k)
          memcpy (data + p * PAGE + k * 8, &t, 8);
      }
      if (test_random_below (r, 6) == 0) {
        if (nbd_trim (w->h, n * PAGE, w->shared_start + first * PAGE, 0)
            == -1)
          goto nbd_error;
      }
      else if (nbd_pwrite (w->h, data, n * PAGE,
                           w->shared_start + first * PAGE, 0) == -1)
        goto nbd_error;
    }
    else if (nbd_flush (w->h, 0) == -1)
      goto nbd_error;
    continue;

  nbd_error:
    snprintf (w->message, sizeof w->message, "request failed: %s",
              nbd_get_error ());
    w->problem = w->message;
  }
  if (w->problem == NULL && nbd_flush (w->h, 0) == -1) {
    snprintf (w->message, sizeof w->message, "flush: %s", nbd_get_error ());
    w->problem = w->message;
  }

 out:
  free (data);
  free (got);
  return NULL;
}

static void
phase_multi (struct test_random *r)
{
  /* Many connections through few contexts, and through io_uring's I/O
   * thread. */
  static const char *const options[] = { "io-contexts=3", "buffered=yes",
                                         "io-uring=yes", NULL };
  struct worker workers[NR_THREADS];
  uint64_t region = disk_size / 2 / NR_THREADS - 777;
  uint64_t shared_start = disk_size / 2, p, k;
  uint8_t *snapshot = xmalloc (disk_size);
  int i, j;

  phase = "multi";
  start_server (options);

  /* The shared area starts as zeros: the only other thing a shared page
   * may hold is one writer's tagged page. */
  {
    struct nbd_handle *h = connect_server ();
    do_zero (h, disk_size - shared_start, shared_start, 0);
    nbd_close (h);
  }

  for (i = 0; i < NR_THREADS; ++i) {
    struct worker *w = &workers[i];

    memset (w, 0, sizeof *w);
    w->id = i;
    w->h = connect_server ();
    check_flags (w->h);
    w->rng.state = test_random_next (r) | 1;
    w->start = 5 + i * region;
    w->end = 5 + (i + 1) * region;
    w->shared_start = shared_start;
    w->shared_end = disk_size;
  }
  for (i = 0; i < NR_THREADS; ++i)
    if (pthread_create (&workers[i].thread, NULL, worker_main, &workers[i]))
      die ("pthread_create failed");
  for (i = 0; i < NR_THREADS; ++i)
    pthread_join (workers[i].thread, NULL);
  for (i = 0; i < NR_THREADS; ++i)
    if (workers[i].problem)
      die ("connection %d: %s", i, workers[i].problem);

  /* Every connection sees the same disk: the private ranges as written,
   * and shared pages each whole from one writer (or trimmed). */
  for (j = 0; j < NR_THREADS; ++j) {
    struct nbd_handle *h = workers[j].h;
    uint64_t done;

    for (done = 0; done < disk_size; done += 1 << 20)
      NBD_OK (h, nbd_pread (h, snapshot + done, 1 << 20, done, 0));
    if (j == 0) {
      compare (snapshot, 0, shared_start, "private ranges");
      for (p = 0; p < (disk_size - shared_start) / PAGE; ++p) {
        const uint8_t *page = snapshot + shared_start + p * PAGE;
        uint64_t t0, t;

        memcpy (&t0, page, 8);
        if (t0 != 0 && ((t0 & 0xffffff) != p || (t0 >> 56) == 0 ||
                        (t0 >> 56) > NR_THREADS))
          die ("shared page %" PRIu64 " holds a foreign tag %016" PRIx64,
               p, t0);
        for (k = 8; k < PAGE; k += 8) {
          memcpy (&t, page + k, 8);
          if (t != t0)
            die ("shared page %" PRIu64 " is torn: %016" PRIx64 " at 0, %016"
                 PRIx64 " at %" PRIu64, p, t0, t, k);
        }
      }
      memcpy (ref + shared_start, snapshot + shared_start,
              disk_size - shared_start);
    }
    else
      compare (snapshot, 0, disk_size, "cross-read from another connection");
  }
  get_extents (workers[0].h, 0, disk_size, 0);

  for (i = 0; i < NR_THREADS; ++i) {
    NBD_OK (workers[i].h, nbd_shutdown (workers[i].h, 0));
    nbd_close (workers[i].h);
  }
  stop_server ();

  phase = "multi-restart";
  start_server (NULL);
  {
    struct nbd_handle *h = connect_server ();
    verify_all (h, "after clean restart");
    nbd_close (h);
  }
  stop_server ();
  free (snapshot);
}

/* ---- Phase crash. ---- */

static void
phase_crash (struct test_random *r)
{
  static uint8_t data[256 * 1024];
  enum { UNFLUSHED = 24 };
  uint64_t pages = disk_size / PAGE;
  uint64_t slot_pages = pages / (UNFLUSHED + 2);
  struct { uint64_t offset, length; uint8_t *old, *new; } late[UNFLUSHED];
  uint64_t fua_write, fua_zero, i;
  struct nbd_handle *h;
  uint8_t *durable = xmalloc (disk_size);
  uint8_t *got = xmalloc (disk_size);

  /* Killed while io_uring's I/O thread serves (recovery is pread). */
  static const char *const io_uring[] = { "io-uring=yes", NULL };

  phase = "crash";
  start_server (io_uring);
  h = connect_server ();
  verify_all (h, "before crash");
  random_operations (h, r, 150);
  NBD_OK (h, nbd_flush (h, 0));
  memcpy (durable, ref, disk_size);

  /* After the flush: writes nobody flushed (each in its own slot of the
   * disk), one FUA write and one FUA zero. */
  for (i = 0; i < UNFLUSHED; ++i) {
    uint64_t n = 1 + test_random_below (r, 4);
    late[i].offset = (i * slot_pages
                      + test_random_below (r, slot_pages - n)) * PAGE;
    late[i].length = n * PAGE;
    late[i].old = xmalloc (n * PAGE);
    late[i].new = xmalloc (n * PAGE);
    memcpy (late[i].old, ref + late[i].offset, n * PAGE);
    fill (r, late[i].new, n * PAGE);
    NBD_OK (h, nbd_pwrite (h, late[i].new, n * PAGE, late[i].offset, 0));
  }
  fua_write = UNFLUSHED * slot_pages * PAGE + 5;
  fill (r, data, 3 * PAGE);
  data[0] |= 1;
  NBD_OK (h, nbd_pwrite (h, data, 3 * PAGE, fua_write, LIBNBD_CMD_FLAG_FUA));
  memcpy (durable + fua_write, data, 3 * PAGE);
  fua_zero = (UNFLUSHED + 1) * slot_pages * PAGE;
  NBD_OK (h, nbd_zero (h, 2 * PAGE + 100, fua_zero,
                       LIBNBD_CMD_FLAG_FUA | LIBNBD_CMD_FLAG_NO_HOLE));
  memset (durable + fua_zero, 0, 2 * PAGE + 100);

  kill_server ();
  nbd_close (h);

  phase = "crash-recovery";
  start_server (NULL);
  h = connect_server ();
  for (i = 0; i < disk_size; i += 1 << 20)
    NBD_OK (h, nbd_pread (h, got + i, 1 << 20, i, 0));
  /* Unflushed pages: each the old or the new page, nothing else. */
  for (i = 0; i < UNFLUSHED; ++i) {
    uint64_t p;
    for (p = 0; p < late[i].length; p += PAGE) {
      uint8_t *g = got + late[i].offset + p;
      if (memcmp (g, late[i].new + p, PAGE) == 0)
        memcpy (durable + late[i].offset + p, g, PAGE);
      else if (memcmp (g, late[i].old + p, PAGE) != 0)
        die ("unflushed page at %" PRIu64 " is neither old nor new",
             late[i].offset + p);
    }
    free (late[i].old);
    free (late[i].new);
  }
  memcpy (ref, durable, disk_size);
  compare (got, 0, disk_size, "flushed data after kill -9");
  get_extents (h, 0, disk_size, 0);
  nbd_close (h);

  /* Crash again straight after recovery: recovery must leave a store
   * that recovers to the same disk. */
  phase = "crash-twice";
  kill_server ();
  start_server (NULL);
  h = connect_server ();
  verify_all (h, "after a second kill -9");
  random_operations (h, r, 50);
  NBD_OK (h, nbd_flush (h, 0));
  nbd_close (h);
  stop_server ();

  free (durable);
  free (got);
}

/* ---- Phase policy. ---- */

static void
phase_policy (struct test_random *r)
{
  static uint8_t data[1 << 20];
  static const char *const readtrim_on[] = { "readtrim=on", NULL };
  static const char *const zstd[] = { "compress=zstd:3", NULL };
  static const char *const none[] = { "compress=none", "readtrim=off",
                                      NULL };
  struct nbd_handle *h;
  uint64_t page, unwritten;
  size_t i;

  /* readtrim=on: a page read once is gone; reading it again is EIO, never
   * zeros or stale data; writing it brings it back. */
  phase = "readtrim=on";
  start_server (readtrim_on);
  h = connect_server ();
  page = 7 * PAGE;
  fill (r, data, PAGE);
  data[0] = 1;                  /* data, not zero */
  data[1] = 2;                  /* nor same-filled */
  do_write (h, data, PAGE, page, 0);
  verify_range (h, page, PAGE, "first read");
  if (nbd_pread (h, scratch, PAGE, page, 0) != -1)
    die ("a page read twice with readtrim=on was returned again");
  if (nbd_get_errno () != EIO)
    die ("a page read twice with readtrim=on fails with %s, expected EIO",
         strerror (nbd_get_errno ()));
  do_write (h, data, PAGE, page, 0);
  verify_range (h, page, PAGE, "read after rewrite");
  /* A zero page holds no copy to free. */
  for (unwritten = 0; unwritten < disk_size; unwritten += PAGE)
    if (ref[unwritten] == 0 &&
        memcmp (ref + unwritten, ref + unwritten + 1, PAGE - 1) == 0)
      break;
  if (unwritten < disk_size) {
    verify_range (h, unwritten, PAGE, "zero page, first read");
    verify_range (h, unwritten, PAGE, "zero page, second read");
  }
  /* Leave the page readable for the phases after this one. */
  do_write (h, data, PAGE, page, LIBNBD_CMD_FLAG_FUA);
  nbd_close (h);
  stop_server ();

  /* compress=zstd, then reopened with compress=none. */
  phase = "compress";
  start_server (zstd);
  h = connect_server ();
  for (i = 0; i < sizeof data; ++i)
    data[i] = "compressible swap page "[i % 23]
      + (test_random_below (r, 100) == 0);
  do_write (h, data, sizeof data, 9 << 20, 0);
  verify_around (h, 9 << 20, sizeof data, "zstd write");
  nbd_close (h);
  stop_server ();
  start_server (none);
  h = connect_server ();
  verify_all (h, "zstd pages read with compress=none");
  fill (r, data, 300000);
  do_write (h, data, 300000, (9 << 20) + 1234, 0);
  verify_all (h, "compress=none");
  nbd_close (h);
  stop_server ();

  /* Daemon mode: .after_fork runs in the child, the store was opened in
   * the parent. */
  phase = "daemon";
  {
    const char *const daemon_options[] = { stats_arg, NULL };
    struct stat st;
    FILE *fp;
    char json[8192];
    size_t n;

    unlink (stats_path);
    start_server_mode (false, daemon_options);
    h = connect_server ();
    check_flags (h);
    verify_all (h, "daemon");
    random_operations (h, r, 100);
    NBD_OK (h, nbd_flush (h, 0));
    if (stat (stats_path, &st) == -1)
      die ("statsfile %s not written on flush: %m", stats_path);
    fp = fopen (stats_path, "r");
    if (fp == NULL)
      die ("%s: %m", stats_path);
    n = fread (json, 1, sizeof json - 1, fp);
    json[n] = '\0';
    fclose (fp);
    if (n == 0 || json[0] != '{' || strstr (json, "host_write_bytes") == NULL)
      die ("statsfile does not look like the statistics: %.200s", json);
    nbd_close (h);
    stop_server ();

    start_server (NULL);
    h = connect_server ();
    verify_all (h, "after daemon");
    nbd_close (h);
    stop_server ();
  }
}

/* Swap never flushes: what a killed server had acknowledged but not yet
 * written out must come back from its write buffer. */
static void
phase_killed (struct test_random *r)
{
  static uint8_t data[64 * 1024];
  const char *const with_buffer[] = { buffer_arg, NULL };
  struct nbd_handle *h;
  struct stat st;
  char command[PATH_MAX * 4];
  int round, i;

  phase = "killed";
  start_server (with_buffer);
  h = connect_server ();
  verify_all (h, "before the kills");
  for (round = 0; round < 3; ++round) {
    /* Pages, sub-page writes, a trim and a zero: no flush, no FUA. */
    for (i = 0; i < 60; ++i) {
      uint64_t length = (1 + test_random_below (r, sizeof data / PAGE)) * PAGE;
      uint64_t offset = test_random_below (r, disk_size / PAGE) * PAGE;
      if (test_random_below (r, 4) == 0) {
        length = 1 + test_random_below (r, 3 * PAGE);
        offset = test_random_below (r, disk_size - length);
      }
      if (offset + length > disk_size)
        length = disk_size - offset;
      fill (r, data, length);
      do_write (h, data, length, offset, 0);
    }
    do_trim (h, 5 * PAGE,
             test_random_below (r, disk_size / PAGE - 5) * PAGE, 0);
    do_zero (h, 3 * PAGE + 7,
             test_random_below (r, disk_size - 3 * PAGE - 7), 0);
    if (stat (buffer_path, &st) == -1)
      die ("no write buffer at %s: %m", buffer_path);

    kill_server ();
    nbd_close (h);
    start_server (with_buffer);
    h = connect_server ();
    verify_all (h, "every acknowledged write after kill -9");
  }

  /* A second server on the same store (and buffer) must refuse: the
   * medium's lock says so first, naming the server (flash/lock.c). */
  snprintf (command, sizeof command,
            "%s%s%snbdkit -U - %s %s %s --run true 2>%s/second.err",
            preload ? "LD_PRELOAD='" : "", preload ? preload : "",
            preload ? "' ASAN_OPTIONS=detect_leaks=0 " : "",
            plugin, store_arg, buffer_arg, workdir);
  if (system (command) == 0)
    die ("a second server started on a store in use: %s", command);
  snprintf (command, sizeof command,
            "grep -q 'is in use by nbdkit (pid ' %s/second.err", workdir);
  if (system (command) != 0)
    die ("the second server did not say why it refused (see %s/second.err)",
         workdir);
  snprintf (command, sizeof command, "%s/second.err", workdir);
  unlink (command);

  verify_all (h, "after a second server was refused");
  nbd_close (h);
  stop_server ();
  if (stat (buffer_path, &st) == 0)
    die ("a clean stop left the write buffer %s", buffer_path);
}

int
main (int argc, char *argv[])
{
  struct test_random rng;
  const char *seed = getenv ("VSWAP_SEED");
  char command[PATH_MAX * 2 + 256];
  int r;

  plugin = getenv ("VSWAP_PLUGIN");
  if (plugin == NULL || *plugin == '\0') {
    printf ("test-plugin-requests: SKIP: VSWAP_PLUGIN is not set\n");
    exit (77);
  }
  if (system ("nbdkit --version >/dev/null 2>&1") != 0) {
    printf ("test-plugin-requests: SKIP: nbdkit is not installed\n");
    exit (77);
  }
  if (access (plugin, R_OK) == -1)
    die ("%s: %m (build the plugin first)", plugin);
  make_store = getenv ("VSWAP_MAKE_STORE");
  if (make_store == NULL)
    make_store = "./make-store";

  preload = getenv ("VSWAP_NBDKIT_PRELOAD");
  if (preload && *preload == '\0')
    preload = NULL;

  rng.state = seed ? strtoull (seed, NULL, 0) : (uint64_t) time (NULL);
  if (rng.state == 0)
    rng.state = 1;
  printf ("test-plugin-requests: VSWAP_SEED=%" PRIu64 "\n", rng.state);
  fflush (stdout);

  strcpy (workdir, "test-plugin-requests.XXXXXX");
  if (mkdtemp (workdir) == NULL)
    die ("mkdtemp: %m");
  atexit (cleanup);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  signal (SIGPIPE, SIG_IGN);

  {
    char cwd[PATH_MAX];
    if (getcwd (cwd, sizeof cwd) == NULL)
      die ("getcwd: %m");
    snprintf (store_path, sizeof store_path, "%s/%s/store", cwd, workdir);
    snprintf (socket_path, sizeof socket_path, "%s/%s/sock", cwd, workdir);
    snprintf (pid_path, sizeof pid_path, "%s/%s/pid", cwd, workdir);
    snprintf (stats_path, sizeof stats_path, "%s/%s/stats.json", cwd,
              workdir);
  }
  snprintf (store_arg, sizeof store_arg, "store=%s", store_path);
  snprintf (stats_arg, sizeof stats_arg, "statsfile=%s", stats_path);
  /* Beside the store, not in it. */
  snprintf (buffer_path, sizeof buffer_path, "%.*s/buffer",
            (int) (strrchr (store_path, '/') - store_path), store_path);
  snprintf (buffer_arg, sizeof buffer_arg, "buffer=%s", buffer_path);

  snprintf (command, sizeof command, "%s %s %s %u", make_store, store_path,
            MEDIUM_SIZE, DISK_SIZE);
  r = system (command);
  if (r != 0)
    die ("%s failed (status 0x%x)", command, r);

  disk_size = DISK_SIZE;
  ref = calloc (1, disk_size);
  scratch = xmalloc (4u << 20);
  if (ref == NULL)
    die ("calloc: %m");

  phase_single (&rng);
  phase_multi (&rng);
  phase_crash (&rng);
  phase_killed (&rng);
  phase_policy (&rng);

  printf ("test-plugin-requests: PASS\n");
  return 0;
}
