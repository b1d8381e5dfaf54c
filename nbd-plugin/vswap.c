/* vswap: the nbdkit plugin.
 *
 * Thin glue: it parses the configuration keys, hardens the server for
 * serving swap (locked memory, IO_FLUSHER threads), and turns every NBD
 * request into one call of the store (core/store.h).  Every behaviour a
 * client can see is a core function with its own tests; nothing here
 * decides what happens to a page.
 *
 * Usage: nbdkit vswap store=PATH [readtrim=…] [compress=…] …
 * See nbdkit-vswap-plugin(1).
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <stdarg.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "medium.h"
#include "prefault.h"
#include "pressure-guard.h"
#include "readonly-option.h"
#include "store.h"
#include "trace.h"

/* Older C libraries lack these; the kernel decides whether it knows them,
 * and we warn if it does not. */
#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

/* Every store function is thread-safe (core/store.h), so requests from
 * all connections may run at once: that is what multi-conn promises. */
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

/* io-uring=yes: I/O threads, each owning a ring (flash/io-pool.h).  One
 * submits far faster than a medium of a board or a guest completes. */
#define IO_URING_THREADS 1

/* How often the statistics file is rewritten, besides on every flush. */
#define STATISTICS_INTERVAL 2

/* Configuration. */
static char *store_path;                /* store=, absolute */
static enum vswap_readtrim readtrim = VSWAP_READTRIM_HINT;
static bool override_compression;       /* compress= given */
static enum vswap_compression compression;
static int compression_level;
static char *statsfile;                 /* statsfile=, absolute, or NULL */
static char *statsfile_tmp;             /* statsfile.tmp, renamed over it */
static unsigned io_contexts = 16;
static bool lock_memory = true;
static bool buffered;
static bool io_uring;                   /* io-uring= */
/* buffer=: the write-back buffer file, or a directory ending in '/' for
 * vswap-UUID.buffer; NULL for none.  The default directory is used only
 * if it exists. */
#define DEFAULT_BUFFER_DIRECTORY "/dev/shm/"
static char *write_buffer;
static bool write_buffer_default = true;
static bool pressure_guard = true;
static unsigned pressure_guard_stall_ms = PRESSURE_GUARD_DEFAULT_STALL_MS;
static char *trace_path;                /* trace=, absolute, or NULL */
static bool trace_reads;                /* trace-reads=yes */
/* nbdkit -r: the store is opened read-only and nothing is written to it
 * (no recovery, no write buffer, no garbage collector). */
static bool read_only;

/* Opened in .get_ready, closed in .unload. */
static struct vswap_medium *medium;
static struct vswap_store *store;
/* trace=: every request that succeeded, in a file for vswap replay. */
static struct vswap_trace_writer *trace;

/* The statistics file.  The buffers are static so that writing the file
 * on the flush path allocates nothing. */
static pthread_mutex_t statistics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vswap_statistics statistics;
static char statistics_json[32768];
/* When the store was opened: statistics say how long this run has been
 * (vswap stats divides by it for the write rate). */
static struct timespec server_started;
static bool statistics_failing;         /* warned about the current failure */

static pthread_mutex_t statistics_thread_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t statistics_thread_cond;
static pthread_t statistics_thread;
static bool statistics_thread_running;
static bool statistics_thread_stop;

/* A warning: the server goes on.  nbdkit 1.32 has no call for one, and
 * nbdkit_error would print "error: warning: ...".  So it is written where
 * nbdkit writes its own messages: standard error (the terminal, or the
 * journal under systemd), unless nbdkit forked into the background and
 * pointed standard error at /dev/null, and then the system log.  Like
 * nbdkit_error it allocates only to reach syslog. */
static void warning (const char *format, ...)
  __attribute__ ((format (printf, 1, 2)));

static bool
stderr_is_dev_null (void)
{
  struct stat st;

  return fstat (STDERR_FILENO, &st) == 0 && S_ISCHR (st.st_mode) &&
    major (st.st_rdev) == 1 && minor (st.st_rdev) == 3;
}

static void
warning (const char *format, ...)
{
  const int saved_errno = errno;
  va_list args;

  va_start (args, format);
  if (stderr_is_dev_null ()) {
    char message[1024];
    vsnprintf (message, sizeof message, format, args);
    syslog (LOG_DAEMON | LOG_WARNING, "vswap: warning: %s", message);
  }
  else {
    flockfile (stderr);
    fputs ("nbdkit: vswap: warning: ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    funlockfile (stderr);
  }
  va_end (args);
  errno = saved_errno;
}

/* Set once a thread has asked to be an IO_FLUSHER.  initial-exec keeps
 * the variable in the static TLS block: the default model for a
 * dlopen'd module allocates each thread's copy with malloc on first use,
 * which is exactly the allocation on the I/O path we must not make. */
static __thread bool thread_marked
  __attribute__ ((tls_model ("initial-exec")));
static atomic_flag io_flusher_warned = ATOMIC_FLAG_INIT;

/* Requests answered: the pressure guard's sign that swap still moves. */
static atomic_uint_fast64_t requests_served;

/* PR_SET_IO_FLUSHER keeps a thread's allocations from recursing into
 * reclaim, i.e. into swapping to us.  The flag is inherited by threads
 * created afterwards, so marking the main thread in .after_fork covers the
 * worker threads nbdkit creates for each connection; but nbdkit offers no
 * hook where it creates them, so each thread also checks the first time
 * it enters a callback, in case it escaped (one predictable branch). */
static void prefault_memory (void);

/* The kernel's nbd client sends requests of at most 128 KiB (its
 * max_sectors); 1 MiB leaves room for larger ones and for realloc's copy. */
#define REQUEST_BUFFER_ROOM (1024 * 1024)

static inline void
mark_io_thread (void)
{
  if (__builtin_expect (thread_marked, true))
    return;
  thread_marked = true;
  /* A new thread: its stack, and the malloc arena it may have made, are
   * not faulted in yet.  nbdkit reads each request into a per-thread
   * buffer that it reallocs when a larger request comes: make room for
   * that in this thread's arena now (glibc keeps what is freed, see
   * .after_fork), so that the buffer grows into memory already there. */
  if (lock_memory) {
    void *volatile room = malloc (REQUEST_BUFFER_ROOM);
    if (room) {
      memset (room, 0, REQUEST_BUFFER_ROOM);
      free (room);
    }
    prefault_this_stack ();
    prefault_memory ();
  }

  if (prctl (PR_SET_IO_FLUSHER, 1, 0, 0, 0) == -1 &&
      !atomic_flag_test_and_set (&io_flusher_warned)) {
    int e = errno;
    warning ("PR_SET_IO_FLUSHER refused (%s): under memory "
             "pressure the server's threads may wait on reclaim that "
             "waits on them; %s",
             vswap_strerror (e),
             e == EPERM ? "run nbdkit with CAP_SYS_RESOURCE"
             : "this needs Linux 5.6 or later");
  }
}

/* Every callback that serves a request starts here. */
static inline void
begin_request (void)
{
  atomic_fetch_add_explicit (&requests_served, 1, memory_order_relaxed);
  mark_io_thread ();
}

static void write_statistics (void);
static void vswap_cleanup (void);

static void
vswap_unload (void)
{
  /* .cleanup is not guaranteed to run, so do its work here too. */
  vswap_cleanup ();

  if (store) {
    int r;

    /* Flush first so that the last statistics include it. */
    r = vswap_store_flush (store);
    if (r < 0)
      nbdkit_error ("store=%s: flush at exit: %s", store_path,
                    vswap_strerror (-r));
    write_statistics ();
    r = vswap_store_close (store);
    if (r < 0)
      nbdkit_error ("store=%s: close: %s", store_path, vswap_strerror (-r));
    store = NULL;
  }
  if (trace) {
    const int r = vswap_trace_writer_close (trace);
    if (r < 0)
      nbdkit_error ("trace=%s: the trace is incomplete: %s", trace_path,
                    vswap_strerror (-r));
    trace = NULL;
  }
  if (medium) {
    vswap_medium_close (medium);
    medium = NULL;
  }

  free (store_path);
  free (write_buffer);
  free (statsfile);
  free (statsfile_tmp);
  free (trace_path);
}

/* yes/no keys.  nbdkit_parse_bool's message does not name the key. */
static int
parse_yes_no (const char *key, const char *value, bool *result)
{
  static const char *const yes[] = { "yes", "on", "true", "1" };
  static const char *const no[] = { "no", "off", "false", "0" };
  size_t i;

  for (i = 0; i < sizeof yes / sizeof yes[0]; ++i) {
    if (strcasecmp (value, yes[i]) == 0) {
      *result = true;
      return 0;
    }
    if (strcasecmp (value, no[i]) == 0) {
      *result = false;
      return 0;
    }
  }
  nbdkit_error ("%s=%s is not valid: use yes or no", key, value);
  return -1;
}

static int
parse_compress (const char *value)
{
  const char *level;
  char *end;
  long n;

  if (strcmp (value, "none") == 0) {
    override_compression = true;
    compression = VSWAP_COMPRESS_NONE;
    compression_level = 0;
    return 0;
  }
  if (strcmp (value, "zstd") == 0) {
    override_compression = true;
    compression = VSWAP_COMPRESS_ZSTD;
    compression_level = 0;      /* the core's default */
    return 0;
  }
  if (strncmp (value, "zstd:", 5) == 0) {
    level = value + 5;
    errno = 0;
    n = strtol (level, &end, 10);
    if (errno == 0 && end != level && *end == '\0' && n >= 1 && n <= 22) {
      override_compression = true;
      compression = VSWAP_COMPRESS_ZSTD;
      compression_level = n;
      return 0;
    }
  }
  nbdkit_error ("compress=%s is not valid: use none, zstd or zstd:LEVEL "
                "(LEVEL 1 to 22)", value);
  return -1;
}

static int
vswap_config (const char *key, const char *value)
{
  if (strcmp (key, "store") == 0) {
    if (store_path) {
      nbdkit_error ("store= given twice (%s and %s): give one store",
                    store_path, value);
      return -1;
    }
    /* vswap_medium_open would make an empty RAM medium of this, which
     * has no store on it to serve. */
    if (strncmp (value, "memory:", 7) == 0) {
      nbdkit_error ("store=%s is not valid: a memory medium starts "
                    "unformatted; give a file or block device formatted "
                    "with vswap format", value);
      return -1;
    }
    /* Absolute, because the server changes directory when it forks;
     * and it must exist now, so that a typo stops nbdkit at once.  A
     * remote export is checked when the medium is opened. */
    if (vswap_medium_is_nbd_uri (value))
      store_path = strdup (value);
    else
      store_path = realpath (value, NULL);
    if (store_path == NULL) {
      nbdkit_error ("store=%s: %s", value, vswap_strerror (errno));
      return -1;
    }
  }
  else if (strcmp (key, "readtrim") == 0) {
    if (strcmp (value, "off") == 0)
      readtrim = VSWAP_READTRIM_OFF;
    else if (strcmp (value, "hint") == 0)
      readtrim = VSWAP_READTRIM_HINT;
    else if (strcmp (value, "on") == 0)
      readtrim = VSWAP_READTRIM_ON;
    else {
      nbdkit_error ("readtrim=%s is not valid: use off, hint or on", value);
      return -1;
    }
  }
  else if (strcmp (key, "compress") == 0) {
    if (parse_compress (value) == -1)
      return -1;
  }
  else if (strcmp (key, "statsfile") == 0) {
    if (*value == '\0') {
      nbdkit_error ("statsfile= is empty: give the path of a file to write");
      return -1;
    }
    free (statsfile);
    /* The file need not exist yet, so not nbdkit_realpath. */
    statsfile = nbdkit_absolute_path (value);
    if (statsfile == NULL)
      return -1;
  }
  else if (strcmp (key, "io-contexts") == 0) {
    char *end;
    unsigned long n;

    errno = 0;
    n = strtoul (value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || value[0] == '-' ||
        n < 1 || n > 4096) {
      nbdkit_error ("io-contexts=%s is not valid: use a number from 1 to 4096",
                    value);
      return -1;
    }
    io_contexts = n;
  }
  else if (strcmp (key, "lock-memory") == 0) {
    if (parse_yes_no (key, value, &lock_memory) == -1)
      return -1;
  }
  else if (strcmp (key, "buffer") == 0) {
    free (write_buffer);
    write_buffer = NULL;
    write_buffer_default = false;
    if (strcmp (value, "none") == 0)
      return 0;
    if (*value == '\0') {
      nbdkit_error ("buffer= is empty: give a file on tmpfs (or a "
                    "directory ending in /), or buffer=none");
      return -1;
    }
    /* The file need not exist yet; keep a trailing '/'. */
    const size_t n = strlen (value);
    char *absolute = nbdkit_absolute_path (value);
    if (absolute == NULL)
      return -1;
    if (value[n - 1] == '/' && absolute[strlen (absolute) - 1] != '/') {
      if (asprintf (&write_buffer, "%s/", absolute) == -1) {
        nbdkit_error ("asprintf: %s", vswap_strerror (errno));
        free (absolute);
        return -1;
      }
      free (absolute);
    }
    else
      write_buffer = absolute;
  }
  else if (strcmp (key, "buffered") == 0) {
    if (parse_yes_no (key, value, &buffered) == -1)
      return -1;
  }
  else if (strcmp (key, "io-uring") == 0) {
    if (parse_yes_no (key, value, &io_uring) == -1)
      return -1;
  }
  else if (strcmp (key, "pressure-guard") == 0) {
    if (parse_yes_no (key, value, &pressure_guard) == -1)
      return -1;
  }
  else if (strcmp (key, "pressure-guard-stall") == 0) {
    char *end;
    unsigned long n;

    errno = 0;
    n = strtoul (value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || value[0] == '-' ||
        n < 1 || n >= PRESSURE_GUARD_WINDOW_US / 1000) {
      nbdkit_error ("pressure-guard-stall=%s is not valid: use milliseconds "
                    "from 1 to %d (of every %d ms)", value,
                    PRESSURE_GUARD_WINDOW_US / 1000 - 1,
                    PRESSURE_GUARD_WINDOW_US / 1000);
      return -1;
    }
    pressure_guard_stall_ms = n;
  }
  else if (strcmp (key, "trace") == 0) {
    free (trace_path);
    trace_path = nbdkit_absolute_path (value);
    if (trace_path == NULL)
      return -1;
  }
  else if (strcmp (key, "trace-reads") == 0) {
    if (parse_yes_no (key, value, &trace_reads) == -1)
      return -1;
  }
  else {
    nbdkit_error ("unknown parameter '%s': see nbdkit vswap --help", key);
    return -1;
  }
  return 0;
}

static int
vswap_config_complete (void)
{
  if (store_path == NULL) {
    nbdkit_error ("store=PATH is required: a file or block device formatted "
                  "with vswap format");
    return -1;
  }
  if (statsfile) {
    if (asprintf (&statsfile_tmp, "%s.tmp", statsfile) == -1) {
      nbdkit_error ("asprintf: %s", vswap_strerror (errno));
      return -1;
    }
  }
  return 0;
}

#define vswap_config_help \
  "store=<PATH>         (required) File or block device formatted with\n" \
  "                     'vswap format'.\n" \
  "readtrim=off|hint|on What reading a page does (default hint).\n" \
  "compress=none|zstd|zstd:<LEVEL>\n" \
  "                     Compression of new writes (default: the store's).\n" \
  "statsfile=<PATH>     Write statistics as JSON every 2 s and on flush.\n" \
  "io-contexts=<N>      Requests served at once (default 16).\n" \
  "lock-memory=yes|no   Lock the server's memory (default yes).\n" \
  "buffered=yes|no      Do not use O_DIRECT on the medium (default no).\n" \
  "io-uring=yes|no      io_uring rather than pread/pwrite on the medium\n" \
  "                     (default no: a swap server must not allocate).\n" \
  "buffer=PATH|DIR/|none\n" \
  "                     Keep unwritten pages in this tmpfs file, so that\n" \
  "                     a killed server loses none (default " \
  DEFAULT_BUFFER_DIRECTORY ").\n" \
  "pressure-guard=yes|no\n" \
  "                     Invoke the OOM killer when memory stalls (default yes).\n" \
  "pressure-guard-stall=<MS>\n" \
  "                     Full memory stall per second that fires it (300).\n" \
  "trace=<PATH>         Record every request, with its data, for\n" \
  "                     'vswap replay' (a zstd stream; grows fast).\n" \
  "trace-reads=yes|no   Record reads too (default no)."

static void
vswap_dump_plugin (void)
{
  printf ("vswap_version=%s\n", PACKAGE_VERSION);
  printf ("vswap_page_size=%d\n", VSWAP_PAGE_SIZE);
  printf ("vswap_readtrim=off,hint,on\n");
  printf ("vswap_compress=none,zstd\n");
  printf ("vswap_statsfile=yes\n");
  printf ("vswap_lock_memory=yes\n");
  printf ("vswap_io_flusher=yes\n");
  printf ("vswap_write_buffer=yes\n");
  printf ("vswap_pressure_guard=yes\n");
}

/* A message from the core about the store.  Most name the medium
 * already; the others get its name in front. */
static void
store_error (const char *message)
{
  if (strstr (message, store_path))
    nbdkit_error ("%s", message);
  else
    nbdkit_error ("store=%s: %s", store_path, message);
}

/* Damage found while the map is rebuilt is not fatal (the pages
 * concerned read as EIO), but the operator must hear of it. */
static void
report_damage (void *opaque, const char *message)
{
  store_error (message);
}

/* A statistics file in a directory that is not there would only be
 * reported after the fork, two seconds in; refuse it at start, as trace=
 * is. */
static int
check_statsfile_directory (void)
{
  char *directory = strdup (statsfile);
  struct stat st;
  int e = 0;

  if (directory == NULL) {
    nbdkit_error ("strdup: %s", vswap_strerror (errno));
    return -1;
  }
  /* statsfile is absolute (nbdkit_absolute_path): there is a '/'. */
  char *slash = strrchr (directory, '/');
  if (slash == directory)
    slash[1] = '\0';
  else
    *slash = '\0';
  if (stat (directory, &st) == -1)
    e = errno;
  else if (!S_ISDIR (st.st_mode))
    e = ENOTDIR;
  else if (access (directory, W_OK | X_OK) == -1)
    e = errno;
  if (e)
    nbdkit_error ("statsfile=%s: cannot write in %s: %s: give a path in a "
                  "directory that exists and is writable", statsfile,
                  directory, vswap_strerror (e));
  free (directory);
  return e ? -1 : 0;
}

/* Open here rather than in .after_fork so that a foreign, unformatted or
 * damaged store stops nbdkit while its messages still reach the user. */
static int
vswap_get_ready (void)
{
  /* nbdkit -r: open the medium O_RDONLY (a read-only file is served)
   * and the store read-only, which writes nothing. */
  read_only = readonly_option_of_this_process ();
  struct vswap_medium_options medium_options = {
    .buffered = buffered,
    .avoid_io_uring = !io_uring,
    .read_only = read_only,
    /* One user per store: nbdkit -r shares with readers (inspect,
     * check), a writer with nobody. */
    .lock = read_only ? VSWAP_MEDIUM_LOCK_SHARED : VSWAP_MEDIUM_LOCK_EXCLUSIVE,
  };
  struct vswap_open_options open_options = {
    .read_only = read_only,
    .readtrim = readtrim,
    .override_compression = override_compression,
    .compression = compression,
    .compression_level = compression_level,
    .io_contexts = io_contexts,
    .report = report_damage,
  };
  struct vswap_error err;
  struct stat st;

  if (statsfile && check_statsfile_directory () == -1)
    return -1;
  clock_gettime (CLOCK_MONOTONIC, &server_started);

  /* A read-only store writes nothing, so it needs no write buffer. */
  if (read_only)
    ;
  else if (write_buffer_default) {
    if (stat (DEFAULT_BUFFER_DIRECTORY, &st) == 0 && S_ISDIR (st.st_mode))
      open_options.buffer = DEFAULT_BUFFER_DIRECTORY;
    else
      warning ("%s does not exist: running without a write "
               "buffer, so a killed server loses the pages it had not "
               "written out yet; give buffer=PATH on tmpfs",
               DEFAULT_BUFFER_DIRECTORY);
  }
  else
    open_options.buffer = write_buffer;

  vswap_error_clear (&err);
  medium = vswap_medium_open (store_path, &medium_options, &err);
  if (medium == NULL) {
    store_error (err.message[0] ? err.message : "cannot open the medium");
    return -1;
  }

  /* A trace that cannot be created is bad input: refuse it before the
   * store and its write buffer are opened, so that nothing is left
   * behind (nbdkit does not unload a plugin whose get_ready failed). */
  if (trace_path) {
    const int fd = open (trace_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
      nbdkit_error ("trace=%s: cannot create it: %s: give a path in a "
                    "directory that exists and is writable", trace_path,
                    vswap_strerror (errno));
      vswap_medium_close (medium);
      medium = NULL;
      return -1;
    }
    close (fd);
  }

  vswap_error_clear (&err);
  store = vswap_store_open (medium, &open_options, &err);
  if (store == NULL) {
    store_error (err.message[0] ? err.message : "cannot open the store");
    vswap_medium_close (medium);
    medium = NULL;
    return -1;
  }

  if (trace_path) {
    vswap_error_clear (&err);
    trace = vswap_trace_writer_open (trace_path, vswap_store_size (store),
                                     &err);
    if (trace == NULL) {
      nbdkit_error ("%s", err.message);
      return -1;
    }
  }

  /* The store's own choice wins (vswap format --compress): say so rather
   * than leave the user believing the key took effect. */
  struct vswap_store_info info;
  vswap_store_get_info (store, &info);
  if (override_compression && info.compression_chosen &&
      (info.compression != compression ||
       (compression == VSWAP_COMPRESS_ZSTD && compression_level != 0 &&
        info.compression_level != compression_level))) {
    char chosen[16] = "none";
    if (info.compression == VSWAP_COMPRESS_ZSTD)
      snprintf (chosen, sizeof chosen, "zstd:%d", info.compression_level);
    warning ("compress= ignored: %s was formatted with "
             "vswap format --compress %s, which keeps its choice; "
             "format it again without --compress to let the key "
             "decide", store_path, chosen);
  }
  nbdkit_debug ("store=%s: %" PRIu64 " bytes on %s%s", store_path,
                vswap_store_size (store), medium->description,
                read_only ? ", read-only (nbdkit -r)" : "");
  return 0;
}

/* Record a request that succeeded (trace=).  A trace that cannot be
 * written is reported once; requests still succeed. */
static void
record (enum vswap_trace_operation operation, uint32_t flags,
        uint64_t offset, uint32_t count, const void *data)
{
  static atomic_flag warned = ATOMIC_FLAG_INIT;

  if (trace == NULL)
    return;
  const int r = vswap_trace_append (trace, operation,
                                    (flags & NBDKIT_FLAG_FUA) ?
                                    VSWAP_TRACE_FUA : 0,
                                    offset, count, data);
  if (r < 0 && !atomic_flag_test_and_set (&warned))
    nbdkit_error ("trace=%s: recording stopped: %s", trace_path,
                  vswap_strerror (-r));
}

/* Write PATH.tmp, then rename it over PATH, so that a reader never sees a
 * half-written file.  Called from the flush path: it takes a lock and
 * makes system calls, but allocates nothing. */
static void
write_statistics (void)
{
  const char *problem = NULL;
  int n, fd, e = 0;
  size_t done;
  ssize_t w;

  if (statsfile == NULL || store == NULL)
    return;

  pthread_mutex_lock (&statistics_lock);

  vswap_store_statistics (store, &statistics);
  /* Leave a byte for the newline. */
  n = vswap_statistics_json (&statistics, statistics_json,
                             sizeof statistics_json - 1);
  if (n < 0) {
    problem = "statistics do not fit the buffer";
    e = -n;
    goto out;
  }
  /* The plugin's own counter, inside the core's object. */
  if (n > 0 && statistics_json[n - 1] == '}') {
    struct pressure_guard_counters guard;
    pressure_guard_counters (&guard);
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    const double server_seconds = (now.tv_sec - server_started.tv_sec)
      + (now.tv_nsec - server_started.tv_nsec) / 1e9;
    const int m = snprintf (statistics_json + n - 1,
                            sizeof statistics_json - n,
                            ",\"server_seconds\":%.3f"
                            ",\"pressure_guard_firings\":%" PRIu64
                            ",\"pressure_guard_events\":%" PRIu64
                            ",\"pressure_guard_skipped\":%" PRIu64
                            ",\"pressure_guard_skipped_free_kib\":%" PRIu64
                            ",\"pressure_guard_wedges\":%" PRIu64 "}",
                            server_seconds,
                            guard.firings, guard.events, guard.skipped,
                            guard.skipped_free_kib, guard.wedges);
    if (m < 0 || (size_t) m >= sizeof statistics_json - n) {
      problem = "statistics do not fit the buffer";
      e = ENOBUFS;
      goto out;
    }
    n += m - 1;
  }
  statistics_json[n++] = '\n';

  fd = open (statsfile_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1) {
    problem = "open";
    e = errno;
    goto out;
  }
  for (done = 0; done < (size_t) n; done += w) {
    w = write (fd, statistics_json + done, n - done);
    if (w == -1) {
      if (errno == EINTR) {
        w = 0;
        continue;
      }
      problem = "write";
      e = errno;
      close (fd);
      unlink (statsfile_tmp);
      goto out;
    }
  }
  if (close (fd) == -1) {
    problem = "close";
    e = errno;
    unlink (statsfile_tmp);
    goto out;
  }
  if (rename (statsfile_tmp, statsfile) == -1) {
    problem = "rename";
    e = errno;
    unlink (statsfile_tmp);
    goto out;
  }

 out:
  /* Warn once per run of failures, not every two seconds. */
  if (problem && !statistics_failing)
    warning ("statsfile=%s: %s: %s", statsfile, problem,
             vswap_strerror (e));
  statistics_failing = problem != NULL;
  pthread_mutex_unlock (&statistics_lock);
}

static void *
statistics_thread_main (void *arg)
{
  struct timespec deadline;

  pthread_mutex_lock (&statistics_thread_lock);
  while (!statistics_thread_stop) {
    clock_gettime (CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += STATISTICS_INTERVAL;
    while (!statistics_thread_stop &&
           pthread_cond_timedwait (&statistics_thread_cond,
                                   &statistics_thread_lock,
                                   &deadline) != ETIMEDOUT)
      ;
    if (statistics_thread_stop)
      break;
    pthread_mutex_unlock (&statistics_thread_lock);
    write_statistics ();
    pthread_mutex_lock (&statistics_thread_lock);
  }
  pthread_mutex_unlock (&statistics_thread_lock);
  return NULL;
}

/* The guard is a safety net, not a condition for serving: a kernel
 * without PSI, or a server without root, gets a one-line warning. */
static void
arm_pressure_guard (void)
{
  const char *what;
  int adj_error;
  const int r = pressure_guard_start (pressure_guard_stall_ms,
                                      &requests_served, &what, &adj_error);

  if (r < 0) {
    warning ("pressure-guard=yes: %s: %s: under global memory "
             "exhaustion the machine may wedge; %s", what,
             vswap_strerror (-r),
             r != -ENOENT && r != -EOPNOTSUPP
             ? "run nbdkit as root, or set pressure-guard=no"
             : strstr (what, "sysrq")
             ? "this needs a kernel with CONFIG_MAGIC_SYSRQ"
             : "this needs a kernel with PSI (CONFIG_PSI, not psi=0)");
    return;
  }
  if (adj_error)
    warning ("pressure-guard=yes: oom_score_adj -1000 refused "
             "(%s): the OOM killer may pick the server; run nbdkit "
             "with CAP_SYS_RESOURCE", vswap_strerror (adj_error));
}

/* Fault in all the process's memory (see prefault.h); one thread at a
 * time, as the walk uses a static buffer. */
static void
prefault_memory (void)
{
  static pthread_mutex_t prefault_lock = PTHREAD_MUTEX_INITIALIZER;
  struct prefault_report report;
  int r;

  pthread_mutex_lock (&prefault_lock);
  r = prefault_process_memory (&report);
  pthread_mutex_unlock (&prefault_lock);
  if (r < 0)
    warning ("lock-memory=yes: cannot read /proc/self/maps "
             "(%s): memory is faulted in as it is used, perhaps while "
             "memory is short", vswap_strerror (-r));
  else
    nbdkit_debug ("vswap: faulted in %u mappings (%u of them stacks, their "
                  "top %u KiB), %" PRIu64 " KiB; %u left alone",
                  report.mappings, report.stacks,
                  PREFAULT_STACK_BYTES / 1024, report.bytes / 1024,
                  report.skipped);
}

/* After nbdkit's fork: memory locks and threads do not survive fork. */
static int
vswap_after_fork (void)
{
  pthread_condattr_t attr;
  int r;

  /* MCL_ONFAULT: locking every thread stack and buffer up front is what
   * got nbdkit --swap OOM-killed at start in a small guest.  Refusal is
   * a warning: the server still works, it is only less safe. */
  if (lock_memory &&
      mlockall (MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == -1) {
    int e = errno;
    warning ("lock-memory=yes: mlockall refused (%s): the "
             "server's own memory may be swapped out to itself; %s",
             vswap_strerror (e),
             e == EPERM || e == ENOMEM
             ? "raise the memlock limit (ulimit -l) or grant "
               "CAP_IPC_LOCK, or set lock-memory=no"
             : "this needs Linux 4.4 or later");
  }

  /* glibc gives memory back to the kernel when enough is free at the top
   * of a heap, and serves large requests with fresh mmaps: both mean a
   * page allocated again later, on the I/O path.  A swap server keeps
   * what it once had. */
  if (lock_memory) {
    mallopt (M_TRIM_THRESHOLD, INT_MAX);
    mallopt (M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  }

  /* Every thread nbdkit creates from now on inherits the flag (and the
   * main thread faults in the store's memory, see prefault.h). */
  mark_io_thread ();

  /* io-uring=yes: the medium's I/O threads, their rings and their io-wq
   * workers, all made now, while memory is plentiful; clones of this
   * thread, so IO_FLUSHER too.  Before the collector, which does I/O. */
  if (io_uring) {
    struct vswap_error err;
    vswap_error_clear (&err);
    r = vswap_medium_start (medium, IO_URING_THREADS, &err);
    if (r < 0)
      warning ("io-uring=yes: %s", err.message);
    nbdkit_debug ("store=%s: medium %s", store_path, medium->description);
  }

  /* After the flag: the collector writes to the medium too. */
  r = vswap_store_start_background (store);
  if (r < 0)
    warning ("cannot start the background garbage collector "
             "(%s): writers will collect when they must",
             vswap_strerror (-r));

  /* After mlockall, so that the guard's stack is locked as it is touched. */
  if (pressure_guard)
    arm_pressure_guard ();

  if (statsfile) {
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&statistics_thread_cond, &attr);
    pthread_condattr_destroy (&attr);

    statistics_thread_stop = false;
    r = pthread_create (&statistics_thread, NULL, statistics_thread_main,
                        NULL);
    if (r != 0) {
      nbdkit_error ("statsfile=%s: pthread_create: %s", statsfile,
                    vswap_strerror (r));
      return -1;
    }
    statistics_thread_running = true;
  }
  /* Again, now that the collector, the guard and the statistics thread
   * have their stacks. */
  if (lock_memory)
    prefault_memory ();
  return 0;
}

static void
vswap_cleanup (void)
{
  pressure_guard_stop ();
  if (!statistics_thread_running)
    return;
  pthread_mutex_lock (&statistics_thread_lock);
  statistics_thread_stop = true;
  pthread_cond_signal (&statistics_thread_cond);
  pthread_mutex_unlock (&statistics_thread_lock);
  pthread_join (statistics_thread, NULL);
  statistics_thread_running = false;
}

static void *
vswap_open (int readonly)
{
  begin_request ();
  pressure_guard_connected ();
  /* All state is the store's; connections share it. */
  return NBDKIT_HANDLE_NOT_NEEDED;
}

static void
vswap_close (void *handle)
{
  pressure_guard_disconnected ();
}

static int64_t
vswap_get_size (void *handle)
{
  begin_request ();
  return vswap_store_size (store);
}

/* Answered from how the store was opened, not from nbdkit's -r alone: a
 * store opened read-only must never be offered for writing. */
static int
vswap_can_write (void *handle)
{
  return !read_only;
}

/* The store takes any offset and length (read-modify-write inside a
 * page), so 512 is the least a client may send, as on a disk; 4096, a
 * page, is what costs nothing extra.  No maximum of our own. */
static int
vswap_block_size (void *handle, uint32_t *minimum, uint32_t *preferred,
                  uint32_t *maximum)
{
  *minimum = 512;
  *preferred = VSWAP_PAGE_SIZE;
  *maximum = 0xffffffff;
  return 0;
}

static int
vswap_can_multi_conn (void *handle)
{
  /* One store behind every connection: a flush on one connection makes
   * the writes of all of them durable. */
  return 1;
}

static int
vswap_can_trim (void *handle)
{
  return 1;
}

static int
vswap_can_zero (void *handle)
{
  /* For a plugin, true means .zero is called (NBDKIT_ZERO_NATIVE is the
   * filter spelling of the same thing). */
  return 1;
}

static int
vswap_can_fast_zero (void *handle)
{
  /* A zeroed page is a map entry plus a small record, never a page of
   * zeros written out: zeroing is always fast. */
  return 1;
}

static int
vswap_can_flush (void *handle)
{
  return 1;
}

static int
vswap_can_fua (void *handle)
{
  return NBDKIT_FUA_NATIVE;
}

static int
vswap_can_extents (void *handle)
{
  return 1;
}

static int
vswap_is_rotational (void *handle)
{
  return 0;
}

/* Negative errno from the core → NBD error.  nbdkit_error allocates, but
 * only on the error path. */
static int
fail (const char *what, uint32_t count, uint64_t offset, int r)
{
  nbdkit_error ("%s of %" PRIu32 " bytes at %" PRIu64 ": %s",
                what, count, offset, vswap_strerror (-r));
  nbdkit_set_error (-r);
  return -1;
}

static int
vswap_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
  int r;

  begin_request ();
  r = vswap_store_read (store, buf, count, offset);
  if (r < 0)
    return fail ("read", count, offset, r);
  if (trace_reads)
    record (VSWAP_TRACE_READ, flags, offset, count, NULL);
  return 0;
}

static int
vswap_pwrite (void *handle, const void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
  int r;

  begin_request ();
  r = vswap_store_write (store, buf, count, offset,
                         (flags & NBDKIT_FLAG_FUA) != 0);
  if (r < 0)
    return fail ("write", count, offset, r);
  record (VSWAP_TRACE_WRITE, flags, offset, count, buf);
  return 0;
}

static int
vswap_trim (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  int r;

  begin_request ();
  r = vswap_store_trim (store, count, offset, (flags & NBDKIT_FLAG_FUA) != 0);
  if (r < 0)
    return fail ("trim", count, offset, r);
  record (VSWAP_TRACE_TRIM, flags, offset, count, NULL);
  return 0;
}

/* With or without MAY_TRIM the result is the same: zero pages cost a map
 * entry and no data, so there is nothing a hole would save. */
static int
vswap_zero (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  int r;

  begin_request ();
  r = vswap_store_zero (store, count, offset, (flags & NBDKIT_FLAG_FUA) != 0);
  if (r < 0)
    return fail ("zero", count, offset, r);
  record (VSWAP_TRACE_ZERO, flags, offset, count, NULL);
  return 0;
}

static int
vswap_flush (void *handle, uint32_t flags)
{
  int r;

  begin_request ();
  r = vswap_store_flush (store);
  if (r < 0) {
    nbdkit_error ("flush: %s", vswap_strerror (-r));
    nbdkit_set_error (-r);
    return -1;
  }
  record (VSWAP_TRACE_FLUSH, 0, 0, 0, NULL);
  /* What was recorded so far survives a crash of nbdkit. */
  if (trace)
    vswap_trace_sync (trace);
  write_statistics ();
  return 0;
}

struct extents_context {
  struct nbdkit_extents *extents;
  bool req_one;
  bool stopped;                 /* REQ_ONE and the first extent is added */
  int error;                    /* errno from nbdkit_add_extent */
};

static int
add_extent (void *opaque, uint64_t offset, uint64_t length,
            enum vswap_extent_kind kind)
{
  struct extents_context *ctx = opaque;
  uint32_t type;

  switch (kind) {
  case VSWAP_EXTENT_HOLE:
    type = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
    break;
  case VSWAP_EXTENT_ZERO:
    type = NBDKIT_EXTENT_ZERO;
    break;
  default:
    type = 0;
    break;
  }
  if (nbdkit_add_extent (ctx->extents, offset, length, type) == -1) {
    ctx->error = errno ? errno : EIO;
    return -ctx->error;
  }
  /* The client wants only the first extent.  A negative return is the
   * only way to stop the store's walk; ctx->stopped says it is not an
   * error. */
  if (ctx->req_one) {
    ctx->stopped = true;
    return -ECANCELED;
  }
  return 0;
}

static int
vswap_extents (void *handle, uint32_t count, uint64_t offset, uint32_t flags,
               struct nbdkit_extents *extents)
{
  struct extents_context ctx = {
    .extents = extents,
    .req_one = (flags & NBDKIT_FLAG_REQ_ONE) != 0,
  };
  int r;

  begin_request ();
  r = vswap_store_extents (store, count, offset, add_extent, &ctx);
  if (ctx.error) {
    nbdkit_set_error (ctx.error);
    return -1;
  }
  if (r < 0 && !ctx.stopped)
    return fail ("block status", count, offset, r);
  return 0;
}

static struct nbdkit_plugin plugin = {
  .name              = "vswap",
  .longname          = "vswap virtual swap device",
  .version           = PACKAGE_VERSION,
  .description       = "Log-structured, compressing page store for swap",
  .unload            = vswap_unload,
  .config            = vswap_config,
  .config_complete   = vswap_config_complete,
  .config_help       = vswap_config_help,
  .magic_config_key  = "store",
  .dump_plugin       = vswap_dump_plugin,
  .get_ready         = vswap_get_ready,
  .after_fork        = vswap_after_fork,
  .cleanup           = vswap_cleanup,
  .open              = vswap_open,
  .close             = vswap_close,
  .get_size          = vswap_get_size,
  .can_write         = vswap_can_write,
  .block_size        = vswap_block_size,
  .can_multi_conn    = vswap_can_multi_conn,
  .can_trim          = vswap_can_trim,
  .can_zero          = vswap_can_zero,
  .can_fast_zero     = vswap_can_fast_zero,
  .can_flush         = vswap_can_flush,
  .can_fua           = vswap_can_fua,
  .can_extents       = vswap_can_extents,
  .is_rotational     = vswap_is_rotational,
  .pread             = vswap_pread,
  .pwrite            = vswap_pwrite,
  .trim              = vswap_trim,
  .zero              = vswap_zero,
  .flush             = vswap_flush,
  .extents           = vswap_extents,
  .errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN (plugin)
