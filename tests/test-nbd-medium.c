/* vswap: unit tests of the NBD medium (flash/nbd.c) against nbdkit.
 *
 * Every test starts its own nbdkit (memory plugin, with filters to play
 * other servers: read-only, block sizes, no multi-conn, the log filter to
 * see what reached the wire), so that each sees a fresh export.  Skips
 * (77) when nbdkit is not installed.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"
#include "medium.h"
#include "store.h"

#define KiB (UINT64_C (1) << 10)
#define MiB (UINT64_C (1) << 20)

/* ---- a private nbdkit per test ---- */

struct server {
  pid_t pid;
  char dir[64];
  char socket[128];
  char pidfile[128];
  char log[128];
  char uri[256];
};

/* Start "nbdkit -f -U SOCKET ARGS…" and wait until it accepts
 * connections.  "@LOG@" in ARGS becomes the path of a log file. */
static void
start_server (struct server *s, const char *const *args)
{
  const char *argv[32];
  char logfile[160];
  struct timespec pause = { 0, 10 * 1000 * 1000 };
  int n = 0, i;

  snprintf (s->dir, sizeof s->dir, "/tmp/vswap-nbd-medium.XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (s->dir));
  snprintf (s->socket, sizeof s->socket, "%s/socket", s->dir);
  snprintf (s->pidfile, sizeof s->pidfile, "%s/pid", s->dir);
  snprintf (s->log, sizeof s->log, "%s/log", s->dir);
  snprintf (logfile, sizeof logfile, "logfile=%s", s->log);
  snprintf (s->uri, sizeof s->uri, "nbd+unix:///?socket=%s", s->socket);

  argv[n++] = "nbdkit";
  argv[n++] = "-f";
  /* If a test dies, its server goes with it. */
  argv[n++] = "--exit-with-parent";
  argv[n++] = "-U";
  argv[n++] = s->socket;
  /* Written once the socket accepts connections. */
  argv[n++] = "-P";
  argv[n++] = s->pidfile;
  for (i = 0; args[i]; i++)
    argv[n++] = strcmp (args[i], "@LOG@") == 0 ? logfile : args[i];
  argv[n] = NULL;
  ck_assert_int_lt (n, 32);

  s->pid = fork ();
  ck_assert_int_ne (s->pid, -1);
  if (s->pid == 0) {
    char errfile[160];
    int fd;

    /* The server's complaints about what tests do on purpose are noise;
     * they stay in its directory. */
    snprintf (errfile, sizeof errfile, "%s/nbdkit.err", s->dir);
    fd = open (errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0)
      dup2 (fd, STDERR_FILENO);
    /* Not into the server: the test's sanitizer runtime. */
    unsetenv ("LD_PRELOAD");
    execvp ("nbdkit", (char **) argv);
    perror ("nbdkit");
    _exit (126);
  }

  for (i = 0; i < 1000; i++) {
    struct stat st;
    int status;

    if (stat (s->pidfile, &st) == 0 && st.st_size > 0)
      return;
    ck_assert_msg (waitpid (s->pid, &status, WNOHANG) == 0,
                   "nbdkit exited at start");
    nanosleep (&pause, NULL);
  }
  ck_abort_msg ("nbdkit did not start on %s", s->socket);
}

static void
stop_server (struct server *s)
{
  int status;

  if (s->pid > 0) {
    kill (s->pid, SIGTERM);
    waitpid (s->pid, &status, 0);
    s->pid = 0;
  }
}

static void
remove_server (struct server *s)
{
  char errfile[160];

  stop_server (s);
  snprintf (errfile, sizeof errfile, "%s/nbdkit.err", s->dir);
  unlink (errfile);
  unlink (s->socket);
  unlink (s->pidfile);
  unlink (s->log);
  rmdir (s->dir);
}

/* ---- reading nbdkit's log filter ---- */

struct request {
  unsigned connection;
  char type[16];                /* Read, Write, Trim, Flush, Zero… */
  uint64_t offset, count;
};

/* The requests in the log, in order.  Returns how many (at most MAX). */
static size_t
read_log (const char *path, struct request *requests, size_t max)
{
  FILE *fp = fopen (path, "r");
  char line[512];
  size_t n = 0;

  ck_assert_ptr_nonnull (fp);
  while (n < max && fgets (line, sizeof line, fp)) {
    struct request *r = &requests[n];
    const char *p = strstr (line, "connection=");
    const char *q;

    /* Requests ("connection=1 Write id=1 offset=…"), not their replies
     * ("connection=1 ...Write id=1 return=0") or Connect lines. */
    if (p == NULL || strstr (line, " id=") == NULL)
      continue;
    if (sscanf (p, "connection=%u %15s", &r->connection, r->type) != 2
        || r->type[0] == '.')
      continue;
    r->offset = r->count = 0;
    if ((q = strstr (line, "offset=")))
      r->offset = strtoull (q + 7, NULL, 0);
    if ((q = strstr (line, "count=")))
      r->count = strtoull (q + 6, NULL, 0);
    n++;
  }
  fclose (fp);
  return n;
}

/* ---- helpers ---- */

static void
fill (unsigned char *buffer, size_t length, uint64_t offset, unsigned seed)
{
  size_t i;

  for (i = 0; i < length; i++) {
    uint64_t x = offset + i;

    buffer[i] = (unsigned char) (seed * 131 + x * 7 + (x >> 12) * 13);
  }
}

static void
check_filled (const unsigned char *buffer, size_t length, uint64_t offset,
              unsigned seed)
{
  size_t i;

  for (i = 0; i < length; i++) {
    uint64_t x = offset + i;

    if (buffer[i] != (unsigned char) (seed * 131 + x * 7 + (x >> 12) * 13))
      ck_abort_msg ("byte %" PRIu64 " is wrong (seed %u)", x, seed);
  }
}

static struct vswap_medium *
open_ok (const char *uri, const struct vswap_medium_options *options)
{
  struct vswap_error err;
  struct vswap_medium *m = vswap_medium_open (uri, options, &err);

  ck_assert_msg (m != NULL, "open %s: %s", uri, err.message);
  return m;
}

/* ---- the tests ---- */

START_TEST (test_geometry)
{
  static const char *const args[] = { "memory", "256M", NULL };
  struct vswap_medium_options options = { 0 };
  struct vswap_medium *m;
  struct server s;

  start_server (&s, args);
  m = open_ok (s.uri, &options);
  ck_assert_str_eq (m->operations->name, "nbd");
  ck_assert_uint_eq (m->geometry.capacity, 256 * MiB);
  ck_assert_uint_eq (m->geometry.write_unit, 4096);
  ck_assert_uint_eq (m->geometry.read_unit, 512);
  ck_assert_uint_eq (m->geometry.erase_block, 4 * MiB);
  ck_assert (!m->geometry.sequential_only);
  ck_assert (m->geometry.can_discard);
  /* Trim promises nothing about what reads back. */
  ck_assert (!m->geometry.discard_zeroes);
  ck_assert_msg (strstr (m->description, s.uri) != NULL, "%s",
                 m->description);
  /* nbdkit memory advertises multi-conn: a writer and four readers. */
  ck_assert_msg (strstr (m->description, "5 connections, multi-conn"),
                 "%s", m->description);
  vswap_medium_close (m);

  /* Overrides, as vswap format --write-unit/--erase-block give them. */
  options.write_unit = 16 * KiB;
  options.erase_block = 1 * MiB;
  m = open_ok (s.uri, &options);
  ck_assert_uint_eq (m->geometry.write_unit, 16 * KiB);
  ck_assert_uint_eq (m->geometry.erase_block, 1 * MiB);
  vswap_medium_close (m);
  remove_server (&s);
}
END_TEST

/* A size that is not a whole number of write units is cut down; one
 * smaller than an erase block is refused by name. */
START_TEST (test_odd_sizes)
{
  static const char *const odd[] = { "memory", "33558528", NULL };
  static const char *const tiny[] = { "memory", "1M", NULL };
  struct vswap_medium_options options = { 0 };
  struct vswap_medium *m;
  struct vswap_error err;
  struct server s;

  start_server (&s, odd);       /* 32 MiB + 5 KiB */
  m = open_ok (s.uri, &options);
  ck_assert_uint_eq (m->geometry.capacity, 32 * MiB + 4 * KiB);
  vswap_medium_close (m);
  remove_server (&s);

  start_server (&s, tiny);
  ck_assert_ptr_null (vswap_medium_open (s.uri, &options, &err));
  ck_assert_msg (strstr (err.message, s.uri) != NULL
                 && strstr (err.message, "erase block") != NULL,
                 "%s", err.message);
  remove_server (&s);
}
END_TEST

/* The export's block sizes set the units, and requests never exceed its
 * maximum: a 4 MiB segment goes out as four 1 MiB writes. */
START_TEST (test_block_sizes)
{
  static const char *const args[] = {
    "--filter=log", "--filter=blocksize-policy", "memory", "64M",
    "blocksize-minimum=4096", "blocksize-preferred=64K",
    "blocksize-maximum=1M", "@LOG@", NULL,
  };
  static const char *const huge[] = {
    "--filter=blocksize-policy", "memory", "64M",
    "blocksize-preferred=8M", NULL,
  };
  struct vswap_medium_options options = { 0 };
  struct request requests[256];
  struct vswap_medium *m;
  unsigned char *buffer, *back;
  struct server s;
  size_t n, i, writes = 0, reads = 0;

  start_server (&s, args);
  m = open_ok (s.uri, &options);
  ck_assert_uint_eq (m->geometry.read_unit, 4096);
  ck_assert_uint_eq (m->geometry.write_unit, 64 * KiB);
  ck_assert_uint_eq (m->geometry.erase_block, 4 * MiB);

  buffer = test_buffer (4 * MiB);
  back = test_buffer (4 * MiB);
  fill (buffer, 4 * MiB, 8 * MiB, 1);
  ck_assert_int_eq (vswap_medium_write (m, buffer, 4 * MiB, 8 * MiB), 0);
  ck_assert_int_eq (vswap_medium_read (m, back, 4 * MiB, 8 * MiB), 0);
  check_filled (back, 4 * MiB, 8 * MiB, 1);
  vswap_medium_close (m);
  stop_server (&s);

  n = read_log (s.log, requests, 256);
  for (i = 0; i < n; i++) {
    if (strcmp (requests[i].type, "Write") == 0) {
      ck_assert_uint_eq (requests[i].count, 1 * MiB);
      ck_assert_uint_eq (requests[i].offset, 8 * MiB + writes * MiB);
      writes++;
    }
    if (strcmp (requests[i].type, "Read") == 0) {
      ck_assert_uint_le (requests[i].count, 1 * MiB);
      reads++;
    }
  }
  ck_assert_uint_eq (writes, 4);
  ck_assert_uint_eq (reads, 4);
  remove_server (&s);

  /* A server that prefers huge blocks gets the largest write unit the
   * store accepts, not segments of padding. */
  start_server (&s, huge);
  m = open_ok (s.uri, &options);
  ck_assert_uint_eq (m->geometry.write_unit, 1 * MiB);
  vswap_medium_close (m);
  remove_server (&s);
  free (buffer);
  free (back);
}
END_TEST

START_TEST (test_read_only)
{
  static const char *const args[] = { "-r", "memory", "64M", NULL };
  struct vswap_medium_options options = { 0 };
  struct vswap_medium *m;
  struct vswap_error err;
  unsigned char *buffer;
  struct server s;

  start_server (&s, args);
  ck_assert_ptr_null (vswap_medium_open (s.uri, &options, &err));
  ck_assert_msg (strstr (err.message, s.uri) == err.message
                 && strstr (err.message, "read-only") != NULL,
                 "%s", err.message);

  options.read_only = true;
  m = open_ok (s.uri, &options);
  ck_assert (!m->geometry.can_discard);
  ck_assert_msg (strstr (m->description, "read-only"), "%s",
                 m->description);
  buffer = test_buffer (4096);
  ck_assert_int_eq (vswap_medium_read (m, buffer, 4096, 0), 0);
  ck_assert_int_eq (vswap_medium_write (m, buffer, 4096, 0), -EROFS);
  ck_assert_int_eq (vswap_medium_flush (m), 0);
  vswap_medium_close (m);
  remove_server (&s);
  free (buffer);
}
END_TEST

START_TEST (test_errors)
{
  struct vswap_medium_options options = { 0 };
  struct vswap_error err;
  const char *uri;

  /* The message the issue asks for, word for word. */
  uri = "nbd+unix:///?socket=/nonexistent/vswap.sock";
  ck_assert_ptr_null (vswap_medium_open (uri, &options, &err));
  ck_assert_str_eq (err.message,
                    "nbd+unix:///?socket=/nonexistent/vswap.sock: cannot "
                    "connect: No such file or directory: is the NBD server "
                    "running?");

  /* A URI libnbd cannot use: say how to write one. */
  uri = "nbd+unix:///";
  ck_assert_ptr_null (vswap_medium_open (uri, &options, &err));
  ck_assert_msg (strncmp (err.message, "nbd+unix:///: cannot connect: ",
                          30) == 0
                 && strstr (err.message, "?socket=PATH") != NULL,
                 "%s", err.message);

  /* Nothing to create on a server. */
  options.create = true;
  options.create_size = 64 * MiB;
  uri = "nbd://localhost/x";
  ck_assert_ptr_null (vswap_medium_open (uri, &options, &err));
  ck_assert_msg (strncmp (err.message, uri, strlen (uri)) == 0
                 && strstr (err.message, "drop the size") != NULL,
                 "%s", err.message);
}
END_TEST

/* A server that is there but has no such export: the fix is the name,
 * not starting a server. */
START_TEST (test_export_name)
{
  static const char *const args[] = {
    "--filter=exportname", "memory", "64M", "exportname=swap",
    "exportname-strict=true", NULL,
  };
  struct vswap_medium_options options = { 0 };
  struct vswap_medium *m;
  struct vswap_error err;
  struct server s;
  char uri[300];

  start_server (&s, args);
  snprintf (uri, sizeof uri, "nbd+unix:///other?socket=%s", s.socket);
  ck_assert_ptr_null (vswap_medium_open (uri, &options, &err));
  ck_assert_msg (strncmp (err.message, uri, strlen (uri)) == 0
                 && strstr (err.message, "check the export name") != NULL,
                 "%s", err.message);
  snprintf (uri, sizeof uri, "nbd+unix:///swap?socket=%s", s.socket);
  m = open_ok (uri, &options);
  vswap_medium_close (m);
  remove_server (&s);
}
END_TEST

/* Reads of what was written since the last flush go to the writer (only
 * a flush makes writes visible on other connections); others go to the
 * readers; after a flush the readers serve everything. */
START_TEST (test_routing)
{
  static const char *const args[] = {
    "--filter=log", "memory", "256M", "@LOG@", NULL,
  };
  struct vswap_medium_options options = { 0 };
  struct request requests[1024];
  struct vswap_medium *m;
  unsigned char *buffer;
  struct server s;
  size_t n, i, flushes = 0, writes = 0;
  size_t dirty_reads = 0, clean_reads = 0, after_flush_reads = 0;
  bool flushed = false;

  start_server (&s, args);
  m = open_ok (s.uri, &options);
  buffer = test_buffer (1 * MiB);

  fill (buffer, 1 * MiB, 0, 2);
  ck_assert_int_eq (vswap_medium_write (m, buffer, 1 * MiB, 0), 0);
  /* Dirty: inside, and straddling the end of, what was written. */
  ck_assert_int_eq (vswap_medium_read (m, buffer, 4096, 64 * KiB), 0);
  check_filled (buffer, 4096, 64 * KiB, 2);
  ck_assert_int_eq (vswap_medium_read (m, buffer, 8192, 1 * MiB - 4096), 0);
  /* Clean: never written. */
  ck_assert_int_eq (vswap_medium_read (m, buffer, 4096, 8 * MiB), 0);
  ck_assert_int_eq (vswap_medium_flush (m), 0);
  ck_assert_int_eq (vswap_medium_read (m, buffer, 4096, 64 * KiB), 0);
  check_filled (buffer, 4096, 64 * KiB, 2);

  /* 70 scattered writes: more ranges than the writer remembers, so it
   * flushes once by itself to make room. */
  for (i = 0; i < 70; i++) {
    fill (buffer, 4096, 2 * MiB * (i + 1), 3);
    ck_assert_int_eq (vswap_medium_write (m, buffer, 4096,
                                          2 * MiB * (i + 1)), 0);
  }
  for (i = 0; i < 70; i++) {
    ck_assert_int_eq (vswap_medium_read (m, buffer, 4096,
                                         2 * MiB * (i + 1)), 0);
    check_filled (buffer, 4096, 2 * MiB * (i + 1), 3);
  }
  vswap_medium_close (m);
  stop_server (&s);

  /* The writer connected first: connection 1. */
  n = read_log (s.log, requests, 1024);
  for (i = 0; i < n; i++) {
    const struct request *r = &requests[i];

    if (strcmp (r->type, "Write") == 0 || strcmp (r->type, "Trim") == 0) {
      ck_assert_uint_eq (r->connection, 1);
      writes++;
    }
    else if (strcmp (r->type, "Flush") == 0) {
      ck_assert_uint_eq (r->connection, 1);
      flushes++;
      flushed = true;
    }
    else if (strcmp (r->type, "Read") == 0 && writes == 1) {
      if (flushed) {
        ck_assert_uint_ne (r->connection, 1);
        after_flush_reads++;
      }
      else if (r->offset >= 8 * MiB) {
        ck_assert_uint_ne (r->connection, 1);
        clean_reads++;
      }
      else {
        ck_assert_uint_eq (r->connection, 1);
        dirty_reads++;
      }
    }
  }
  ck_assert_uint_eq (dirty_reads, 2);
  ck_assert_uint_eq (clean_reads, 1);
  ck_assert_uint_eq (after_flush_reads, 1);
  ck_assert_uint_eq (writes, 71);
  /* Ours, and the one that made room. */
  ck_assert_uint_eq (flushes, 2);
  remove_server (&s);
  free (buffer);
}
END_TEST

/* Without multi-conn everything shares one connection. */
START_TEST (test_single_connection)
{
  static const char *const args[] = {
    "--filter=log", "--filter=multi-conn", "memory", "64M",
    "multi-conn-mode=disable", "@LOG@", NULL,
  };
  struct vswap_medium_options options = { 0 };
  struct request requests[64];
  struct vswap_medium *m;
  unsigned char *buffer;
  struct server s;
  size_t n, i;

  start_server (&s, args);
  m = open_ok (s.uri, &options);
  ck_assert_msg (strstr (m->description, "1 connection)"), "%s",
                 m->description);
  buffer = test_buffer (64 * KiB);
  fill (buffer, 64 * KiB, 0, 4);
  ck_assert_int_eq (vswap_medium_write (m, buffer, 64 * KiB, 0), 0);
  ck_assert_int_eq (vswap_medium_flush (m), 0);
  memset (buffer, 0, 64 * KiB);
  ck_assert_int_eq (vswap_medium_read (m, buffer, 64 * KiB, 0), 0);
  check_filled (buffer, 64 * KiB, 0, 4);
  ck_assert_int_eq (vswap_medium_discard (m, 0, 4 * MiB), 0);
  vswap_medium_close (m);
  stop_server (&s);

  n = read_log (s.log, requests, 64);
  ck_assert_uint_ge (n, 4);
  for (i = 0; i < n; i++)
    ck_assert_uint_eq (requests[i].connection, 1);
  remove_server (&s);
  free (buffer);
}
END_TEST

/* Several threads read while one writes and flushes, as the store does:
 * every read sees what was last written there. */
#define THREADS 8
#define REGION (4 * MiB)        /* per thread, preloaded and flushed */

struct reader_args {
  struct vswap_medium *medium;
  unsigned index;
  bool *stop;
  unsigned long reads;
};

static void *
reader_main (void *opaque)
{
  struct reader_args *a = opaque;
  unsigned char *buffer = test_buffer (64 * KiB);
  uint64_t base = a->index * REGION;
  unsigned seed = a->index + 1;
  unsigned step = 0;

  while (!__atomic_load_n (a->stop, __ATOMIC_RELAXED)) {
    uint64_t offset = base + (step++ * 37 * 4096) % (REGION - 64 * KiB);

    ck_assert_int_eq (vswap_medium_read (a->medium, buffer, 64 * KiB,
                                         offset), 0);
    check_filled (buffer, 64 * KiB, offset, 10 + seed);
    a->reads++;
  }
  free (buffer);
  return NULL;
}

START_TEST (test_threads)
{
  static const char *const args[] = { "memory", "256M", NULL };
  struct vswap_medium_options options = { 0 };
  struct reader_args readers[THREADS];
  pthread_t threads[THREADS];
  struct vswap_medium *m;
  unsigned char *buffer, *back;
  struct server s;
  struct timespec start, now;
  bool stop = false;
  uint64_t offset, writes = 0;
  unsigned i;

  start_server (&s, args);
  m = open_ok (s.uri, &options);
  buffer = test_buffer (REGION);
  back = test_buffer (256 * KiB);
  for (i = 0; i < THREADS; i++) {
    fill (buffer, REGION, i * REGION, 10 + i + 1);
    ck_assert_int_eq (vswap_medium_write (m, buffer, REGION, i * REGION),
                      0);
  }
  ck_assert_int_eq (vswap_medium_flush (m), 0);

  for (i = 0; i < THREADS; i++) {
    readers[i] = (struct reader_args) { m, i, &stop, 0 };
    ck_assert_int_eq (pthread_create (&threads[i], NULL, reader_main,
                                      &readers[i]), 0);
  }

  /* Meanwhile: write sequentially above the readers' regions, read each
   * write back at once (unflushed), flush now and then. */
  clock_gettime (CLOCK_MONOTONIC, &start);
  offset = THREADS * REGION;
  do {
    unsigned seed = 100 + writes % 50;

    fill (buffer, 256 * KiB, offset, seed);
    ck_assert_int_eq (vswap_medium_write (m, buffer, 256 * KiB, offset), 0);
    ck_assert_int_eq (vswap_medium_read (m, back, 256 * KiB, offset), 0);
    check_filled (back, 256 * KiB, offset, seed);
    if (++writes % 16 == 0)
      ck_assert_int_eq (vswap_medium_flush (m), 0);
    offset += 256 * KiB;
    if (offset + 256 * KiB > m->geometry.capacity)
      offset = THREADS * REGION;
    clock_gettime (CLOCK_MONOTONIC, &now);
  } while (now.tv_sec - start.tv_sec < 2);

  __atomic_store_n (&stop, true, __ATOMIC_RELAXED);
  for (i = 0; i < THREADS; i++) {
    ck_assert_int_eq (pthread_join (threads[i], NULL), 0);
    ck_assert_uint_gt (readers[i].reads, 0);
  }
  ck_assert_uint_eq (m->writes, THREADS + writes);
  vswap_medium_close (m);
  remove_server (&s);
  free (buffer);
  free (back);
}
END_TEST

/* The server goes away: requests fail with an errno (not a crash, not a
 * hang), and stderr says once what happened. */
START_TEST (test_server_gone)
{
  static const char *const args[] = { "memory", "64M", NULL };
  struct vswap_medium_options options = { 0 };
  struct vswap_medium *m;
  unsigned char *buffer;
  struct server s;
  char errfile[160], text[1024];
  FILE *fp;
  size_t n;
  int fd, saved;

  start_server (&s, args);
  m = open_ok (s.uri, &options);
  buffer = test_buffer (4096);
  kill (s.pid, SIGKILL);
  stop_server (&s);

  /* Catch what the medium prints. */
  snprintf (errfile, sizeof errfile, "%s/stderr", s.dir);
  fd = open (errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ck_assert_int_ge (fd, 0);
  fflush (stderr);
  saved = dup (STDERR_FILENO);
  ck_assert_int_ge (saved, 0);
  dup2 (fd, STDERR_FILENO);
  close (fd);
  ck_assert_int_lt (vswap_medium_read (m, buffer, 4096, 0), 0);
  ck_assert_int_lt (vswap_medium_write (m, buffer, 4096, 0), 0);
  ck_assert_int_lt (vswap_medium_flush (m), 0);
  fflush (stderr);
  dup2 (saved, STDERR_FILENO);
  close (saved);

  fp = fopen (errfile, "r");
  ck_assert_ptr_nonnull (fp);
  n = fread (text, 1, sizeof text - 1, fp);
  text[n] = '\0';
  fclose (fp);
  unlink (errfile);
  ck_assert_msg (strstr (text, s.uri) != NULL
                 && strstr (text, "is the NBD server still running") != NULL,
                 "%s", text);
  /* One line, however many failures. */
  ck_assert_ptr_eq (strchr (text, '\n'), text + n - 1);
  vswap_medium_close (m);
  remove_server (&s);
  free (buffer);
}
END_TEST

/* The store itself on an NBD export: format, write a mix, overwrite until
 * GC frees segments, close, reopen (recovery from the segments) and read
 * everything back.  The log shows what a remote server sees: writes in
 * write units at aligned offsets, and whole segments trimmed. */
#define STORE_PAGES 2048        /* 8 MiB of logical pages */

static void
fill_page (unsigned char *page, uint64_t n, unsigned round)
{
  switch (n % 4) {
  case 0:
    memset (page, 0, 4096);
    break;
  case 1:
    memset (page, (int) (n + round) | 1, 4096);
    break;
  default:
    fill (page, 4096, n * 4096, round * 7 + 1);
    break;
  }
}

START_TEST (test_store)
{
  static const char *const args[] = {
    "--filter=log", "memory", "64M", "@LOG@", NULL,
  };
  struct vswap_medium_options options = { .erase_block = 1 * MiB };
  struct vswap_format_options format = { .logical_size = 16 * MiB };
  struct vswap_open_options open_options = { 0 };
  static struct request requests[100000];
  struct vswap_statistics stats;
  struct vswap_medium *m;
  struct vswap_store *store;
  struct vswap_error err;
  unsigned char *buffer, *page;
  struct server s;
  size_t n, i;
  uint64_t p, trims = 0, writes = 0, written = 0, erased;
  const unsigned rounds = 32;
  unsigned round;

  start_server (&s, args);
  m = open_ok (s.uri, &options);
  ck_assert_msg (vswap_store_format (m, &format, NULL, NULL, &err) == 0,
                 "%s", err.message);
  store = vswap_store_open (m, &open_options, &err);
  ck_assert_msg (store != NULL, "%s", err.message);

  buffer = test_buffer (STORE_PAGES * 4096);
  page = test_buffer (4096);
  /* Half the pages are zero or same-filled and cost no medium: still
   * 32 × 4 MiB into a 64 MiB medium, so GC has to free segments. */
  for (round = 0; round < rounds; round++) {
    for (p = 0; p < STORE_PAGES; p++)
      fill_page (buffer + p * 4096, p, round);
    ck_assert_int_eq (vswap_store_write (store, buffer, STORE_PAGES * 4096,
                                         0, false), 0);
  }
  for (p = 0; p < STORE_PAGES; p++) {
    ck_assert_int_eq (vswap_store_read (store, page, 4096, p * 4096), 0);
    fill_page (buffer, p, rounds - 1);
    ck_assert_msg (memcmp (page, buffer, 4096) == 0, "page %" PRIu64, p);
  }
  vswap_store_statistics (store, &stats);
  ck_assert_uint_gt (stats.gc_runs, 0);
  ck_assert_uint_gt (stats.media_discard_bytes, 0);
  erased = stats.segments_erased;
  ck_assert_uint_eq (stats.checksum_failures, 0);
  ck_assert_uint_eq (stats.io_errors, 0);
  ck_assert_int_eq (vswap_store_close (store), 0);
  vswap_medium_close (m);

  /* A new medium (new connections), and the map rebuilt from what the
   * server holds. */
  options.read_only = true;
  open_options.read_only = true;
  m = open_ok (s.uri, &options);
  store = vswap_store_open (m, &open_options, &err);
  ck_assert_msg (store != NULL, "%s", err.message);
  for (p = 0; p < STORE_PAGES; p++) {
    ck_assert_int_eq (vswap_store_read (store, page, 4096, p * 4096), 0);
    fill_page (buffer, p, rounds - 1);
    ck_assert_msg (memcmp (page, buffer, 4096) == 0,
                   "page %" PRIu64 " after reopening", p);
  }
  ck_assert_int_eq (vswap_store_close (store), 0);
  vswap_medium_close (m);
  stop_server (&s);

  n = read_log (s.log, requests, sizeof requests / sizeof requests[0]);
  for (i = 0; i < n; i++) {
    const struct request *r = &requests[i];

    if (strcmp (r->type, "Write") == 0) {
      ck_assert_uint_eq (r->offset % 4096, 0);
      ck_assert_uint_eq (r->count % 4096, 0);
      writes++;
      written += r->count;
    }
    else if (strcmp (r->type, "Trim") == 0) {
      /* Whole segments. */
      ck_assert_uint_eq (r->offset % MiB, 0);
      ck_assert_uint_eq (r->count, 1 * MiB);
      trims++;
    }
  }
  /* Format trims every segment, and GC the ones it freed. */
  ck_assert_uint_ge (trims, 64 + erased);
  /* Large writes: the store batches a multi-page write into chunks. */
  ck_assert_msg (written / writes >= 64 * KiB,
                 "%" PRIu64 " writes of %" PRIu64 " bytes on average",
                 writes, written / writes);
  remove_server (&s);
  free (buffer);
  free (page);
}
END_TEST

static Suite *
nbd_medium_suite (void)
{
  Suite *s = suite_create ("nbd-medium");
  TCase *tc;

  tc = tcase_create ("nbd");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_geometry);
  tcase_add_test (tc, test_odd_sizes);
  tcase_add_test (tc, test_block_sizes);
  tcase_add_test (tc, test_read_only);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_export_name);
  tcase_add_test (tc, test_routing);
  tcase_add_test (tc, test_single_connection);
  tcase_add_test (tc, test_threads);
  tcase_add_test (tc, test_server_gone);
  tcase_add_test (tc, test_store);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  if (system ("nbdkit --version >/dev/null 2>&1") != 0) {
    fprintf (stderr, "SKIP: nbdkit is not installed\n");
    return 77;
  }
  return test_run_suite (nbd_medium_suite ());
}
