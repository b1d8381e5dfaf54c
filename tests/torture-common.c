/* vswap torture tests: what the torture programs share (see the header). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "torture-common.h"

const char *torture_program = "torture";

/* ---- reporting ---- */

void
torture_say (const char *fmt, ...)
{
  va_list ap;

  printf ("%s: ", torture_program);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
  fflush (stdout);
}

void
torture_die (const char *fmt, ...)
{
  va_list ap;

  fflush (stdout);
  fprintf (stderr, "%s: FAIL: ", torture_program);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (EXIT_FAILURE);          /* atexit removes servers and files */
}

void *
torture_malloc (size_t size)
{
  void *p = malloc (size ? size : 1);
  if (p == NULL)
    torture_die ("out of memory (%zu bytes)", size);
  return p;
}

void *
torture_calloc (size_t count, size_t size)
{
  void *p = calloc (count ? count : 1, size ? size : 1);
  if (p == NULL)
    torture_die ("out of memory (%zu x %zu bytes)", count, size);
  return p;
}

/* ---- sizes ---- */

bool
torture_slow (void)
{
  const char *tier = getenv ("VSWAP_TORTURE");
  return tier && strcmp (tier, "slow") == 0;
}

uint64_t
torture_env_number (const char *name, uint64_t fallback)
{
  const char *text = getenv (name);
  char *end;

  if (text == NULL || *text == '\0')
    return fallback;
  errno = 0;
  const uint64_t n = strtoull (text, &end, 0);
  if (errno || *end != '\0')
    torture_die ("%s=%s: not a number", name, text);
  return n;
}

double
torture_now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* ---- random numbers ---- */

uint64_t
torture_mix64 (uint64_t x)
{
  x ^= x >> 30;
  x *= UINT64_C (0xbf58476d1ce4e5b9);
  x ^= x >> 27;
  x *= UINT64_C (0x94d049bb133111eb);
  x ^= x >> 31;
  return x;
}

struct test_random
torture_random (uint64_t seed)
{
  return (struct test_random) { torture_mix64 (seed) | 1 };
}

uint64_t
torture_seed (void)
{
  const uint64_t seed = torture_env_number ("VSWAP_SEED",
                                            (uint64_t) time (NULL));
  torture_say ("VSWAP_SEED=%" PRIu64, seed);
  return seed;
}

/* ---- page content ---- */

#define TAG UINT64_C (0x5452524f54505753)      /* "SWPTORRT" */
#define SAME_MARK UINT64_C (0xa5)

const char *const torture_kind_names[TORTURE_KINDS] = {
  "zero", "same-filled", "common same-filled", "compressible", "random",
};

const char *const torture_verdict_names[TORTURE_VERDICTS] = {
  "ok", "zeros", "older version", "newer version", "another page's data",
  "a common pattern", "garbage",
};

static const uint64_t common_patterns[] = {
  UINT64_C (0xffffffffffffffff), UINT64_C (0x0101010101010101),
  UINT64_C (0xdeadbeefdeadbeef), UINT64_C (0x0000000100000001),
};
#define COMMON_PATTERNS (sizeof common_patterns / sizeof common_patterns[0])

static uint64_t
same_pattern (uint64_t page, uint64_t version, enum torture_kind kind)
{
  if (kind == TORTURE_SAME_COMMON)
    return common_patterns[torture_mix64 (page ^ (version << 20))
                           % COMMON_PATTERNS];
  return SAME_MARK << 56 | (page & 0xffffff) << 32 | (version & 0xffffffff);
}

void
torture_page_fill (uint8_t *buffer, uint64_t page, uint64_t version,
                   enum torture_kind kind)
{
  uint64_t w[TORTURE_PAGE / 8];    /* BUFFER need not be aligned */
  const unsigned words = TORTURE_PAGE / 8;
  uint64_t state = torture_mix64 (page * UINT64_C (0x9e3779b97f4a7c15)
                                  ^ version ^ ((uint64_t) kind << 56));

  switch (kind) {
  case TORTURE_ZERO:
    memset (w, 0, sizeof w);
    break;
  case TORTURE_SAME:
  case TORTURE_SAME_COMMON: {
    const uint64_t p = same_pattern (page, version, kind);
    for (unsigned i = 0; i < words; i++)
      w[i] = p;
    break;
  }
  case TORTURE_TEXT:
  case TORTURE_RANDOM:
  default:
    w[0] = TAG;
    w[1] = page;
    w[2] = version;
    w[3] = kind;
    for (unsigned i = 4; i < words; i++) {
      state += UINT64_C (0x9e3779b97f4a7c15);
      const uint64_t r = torture_mix64 (state);
      if (kind == TORTURE_RANDOM)
        w[i] = r;
      else                      /* a sparse heap: zstd keeps it */
        w[i] = (r & 7) == 0 ? (r >> 16) & 0xffff : 0;
    }
    break;
  }
  memcpy (buffer, w, TORTURE_PAGE);
}

enum torture_verdict
torture_page_classify (const uint8_t *buffer, uint64_t page,
                       uint64_t version, enum torture_kind kind)
{
  uint8_t expected[TORTURE_PAGE];
  uint64_t w[TORTURE_PAGE / 8];    /* BUFFER need not be aligned */
  const unsigned words = TORTURE_PAGE / 8;
  unsigned i;

  memcpy (w, buffer, TORTURE_PAGE);
  torture_page_fill (expected, page, version, kind);
  if (memcmp (expected, buffer, TORTURE_PAGE) == 0)
    return TORTURE_OK;
  for (i = 1; i < words && w[i] == w[0]; i++)
    ;
  if (i == words) {             /* one word repeated */
    if (w[0] == 0)
      return TORTURE_ZEROS;
    if (w[0] >> 56 == SAME_MARK) {
      const uint64_t other_page = (w[0] >> 32) & 0xffffff;
      const uint64_t other_version = w[0] & 0xffffffff;
      if (other_page != (page & 0xffffff))
        return TORTURE_OTHER_PAGE;
      if (other_version < (version & 0xffffffff))
        return TORTURE_OLDER;
      if (other_version > (version & 0xffffffff))
        return TORTURE_NEWER;
      return TORTURE_GARBAGE;
    }
    for (i = 0; i < COMMON_PATTERNS; i++)
      if (w[0] == common_patterns[i])
        return TORTURE_PATTERN;
    return TORTURE_GARBAGE;
  }
  if (w[0] == TAG && w[3] < TORTURE_KINDS) {
    torture_page_fill (expected, w[1], w[2], (enum torture_kind) w[3]);
    if (memcmp (expected, buffer, TORTURE_PAGE) != 0)
      return TORTURE_GARBAGE;
    if (w[1] != page)
      return TORTURE_OTHER_PAGE;
    if (w[2] < version)
      return TORTURE_OLDER;
    if (w[2] > version)
      return TORTURE_NEWER;
  }
  return TORTURE_GARBAGE;
}

const char *
torture_page_describe (const uint8_t *buffer, char *text, size_t size)
{
  uint64_t w[TORTURE_PAGE / 8];    /* BUFFER need not be aligned */
  unsigned i;

  memcpy (w, buffer, TORTURE_PAGE);
  for (i = 1; i < TORTURE_PAGE / 8 && w[i] == w[0]; i++)
    ;
  if (i == TORTURE_PAGE / 8 && w[0] == 0)
    snprintf (text, size, "zeros");
  else if (i == TORTURE_PAGE / 8 && w[0] >> 56 == SAME_MARK)
    snprintf (text, size, "page %" PRIu64 " version %" PRIu64
              " (same-filled)", (w[0] >> 32) & 0xffffff, w[0] & 0xffffffff);
  else if (i == TORTURE_PAGE / 8)
    snprintf (text, size, "the word 0x%016" PRIx64 " repeated", w[0]);
  else if (w[0] == TAG && w[3] < TORTURE_KINDS)
    snprintf (text, size, "page %" PRIu64 " version %" PRIu64 " (%s)%s",
              w[1], w[2], torture_kind_names[w[3]],
              torture_page_classify (buffer, w[1], w[2],
                                     (enum torture_kind) w[3]) == TORTURE_OK
              ? "" : ", damaged");
  else
    snprintf (text, size, "unknown bytes (first word 0x%016" PRIx64 ")",
              w[0]);
  return text;
}

/* ---- the reference ---- */

void
torture_model_init (struct torture_model *m, uint64_t pages)
{
  m->pages = pages;
  m->next_version = 1;
  m->version = torture_calloc (pages, sizeof *m->version);
  m->kind = torture_calloc (pages, sizeof *m->kind);
  m->pending_version = torture_calloc (pages, sizeof *m->pending_version);
  m->pending_kind = torture_calloc (pages, sizeof *m->pending_kind);
}

uint64_t
torture_model_set (struct torture_model *m, uint64_t page,
                   enum torture_kind kind, bool pending)
{
  const uint64_t version = m->next_version++;

  if (pending) {
    m->pending_version[page] = version;
    m->pending_kind[page] = kind;
  }
  else {
    m->version[page] = version;
    m->kind[page] = kind;
    m->pending_version[page] = 0;
  }
  return version;
}

void
torture_model_acknowledge (struct torture_model *m, uint64_t page)
{
  if (m->pending_version[page] == 0)
    return;
  m->version[page] = m->pending_version[page];
  m->kind[page] = m->pending_kind[page];
  m->pending_version[page] = 0;
}

enum torture_verdict
torture_model_settle (struct torture_model *m, uint64_t page,
                      const uint8_t *buffer)
{
  const enum torture_verdict v =
    torture_page_classify (buffer, page, m->version[page],
                           (enum torture_kind) m->kind[page]);

  if (v != TORTURE_OK && m->pending_version[page] &&
      torture_page_classify (buffer, page, m->pending_version[page],
                             (enum torture_kind) m->pending_kind[page])
      == TORTURE_OK) {
    torture_model_acknowledge (m, page);
    return TORTURE_OK;
  }
  m->pending_version[page] = 0;
  return v;
}

uint64_t
torture_tally_wrong (const struct torture_tally *t)
{
  uint64_t n = 0;
  for (int i = TORTURE_OK + 1; i < TORTURE_VERDICTS; i++)
    n += t->count[i];
  return n;
}

const char *
torture_tally_format (const struct torture_tally *t, char *buffer,
                      size_t size)
{
  size_t used;
  const char *separator = " (";

  used = snprintf (buffer, size, "%" PRIu64 " wrong", torture_tally_wrong (t));
  for (int i = TORTURE_OK + 1; i < TORTURE_VERDICTS && used < size; i++)
    if (t->count[i]) {
      used += snprintf (buffer + used, size - used, "%s%" PRIu64 " %s",
                        separator, t->count[i], torture_verdict_names[i]);
      separator = ", ";
    }
  if (used < size && *separator == ',')
    used += snprintf (buffer + used, size - used, ")");
  if (used < size)
    snprintf (buffer + used, size - used, ", %" PRIu64 " EIO", t->eio);
  return buffer;
}

void
torture_tally_add (struct torture_tally *sum, const struct torture_tally *t)
{
  for (int i = 0; i < TORTURE_VERDICTS; i++)
    sum->count[i] += t->count[i];
  sum->eio += t->eio;
}

/* ---- the work directory and cleaning up ---- */

static char workdir[PATH_MAX];
/* The paths handed out, freed at exit (a few dozen per run). */
static char *paths[256];
static size_t path_count;
#define MAX_SERVERS 8
static struct torture_server *servers[MAX_SERVERS];

static int
remove_one (const char *path, const struct stat *st, int type,
            struct FTW *ftw)
{
  (void) st; (void) type; (void) ftw;
  remove (path);
  return 0;
}

static void
cleanup (void)
{
  for (int i = 0; i < MAX_SERVERS; i++)
    if (servers[i] && servers[i]->pid > 0) {
      kill (servers[i]->pid, SIGKILL);
      waitpid (servers[i]->pid, NULL, 0);
      servers[i]->pid = -1;
    }
  if (workdir[0] && !getenv ("VSWAP_TORTURE_KEEP"))
    nftw (workdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
  else if (workdir[0])
    fprintf (stderr, "%s: kept %s (VSWAP_TORTURE_KEEP)\n", torture_program,
             workdir);
  workdir[0] = '\0';
  while (path_count > 0)
    free (paths[--path_count]);
}

static void
on_signal (int sig)
{
  cleanup ();
  signal (sig, SIG_DFL);
  raise (sig);
}

const char *
torture_workdir (const char *name)
{
  const char *tmp = getenv ("TMPDIR");

  snprintf (workdir, sizeof workdir, "%s/torture-%s-XXXXXX",
            tmp && *tmp ? tmp : "/tmp", name);
  if (mkdtemp (workdir) == NULL)
    torture_die ("mkdtemp %s: %m", workdir);
  atexit (cleanup);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  signal (SIGHUP, on_signal);
  /* A crash of the test itself (an assertion, a sanitizer's abort) must
   * not leave a 64 MiB store behind either. */
  signal (SIGABRT, on_signal);
  signal (SIGSEGV, on_signal);
  signal (SIGBUS, on_signal);
  signal (SIGPIPE, SIG_IGN);
  return workdir;
}

const char *
torture_path (const char *name)
{
  char *p;

  if (path_count == sizeof paths / sizeof paths[0])
    torture_die ("more than %zu paths", path_count);
  if (asprintf (&p, "%s/%s", workdir, name) == -1)
    torture_die ("out of memory");
  paths[path_count++] = p;
  return p;
}

/* ---- nbdkit ---- */

const char *
torture_plugin (void)
{
  const char *plugin = getenv ("VSWAP_PLUGIN");
  const char *preload = getenv ("VSWAP_NBDKIT_PRELOAD");

  if (plugin == NULL || *plugin == '\0') {
    printf ("%s: SKIP: VSWAP_PLUGIN is not set (run it through make "
            "torture)\n", torture_program);
    exit (77);
  }
  if (system ("nbdkit --version >/dev/null 2>&1") != 0) {
    printf ("%s: SKIP: nbdkit is not installed\n", torture_program);
    exit (77);
  }
  if (access (plugin, R_OK) == -1)
    torture_die ("%s: %m (build the plugin first)", plugin);
  /* A sanitizer runtime the plugin was built with must come first in
   * nbdkit, which was not; nbdkit's own leaks are not ours. */
  if (preload && *preload) {
    setenv ("LD_PRELOAD", preload, 1);
    setenv ("ASAN_OPTIONS", "detect_leaks=0", 1);
  }
  return plugin;
}

const char *
torture_tool (void)
{
  const char *tool = getenv ("VSWAP");

  if (tool == NULL || *tool == '\0' || access (tool, X_OK) == -1) {
    printf ("%s: SKIP: VSWAP (tools/vswap) is not set or not built (run "
            "it through make torture)\n", torture_program);
    exit (77);
  }
  return tool;
}

static void
register_server (struct torture_server *s)
{
  for (int i = 0; i < MAX_SERVERS; i++)
    if (servers[i] == s)
      return;
  for (int i = 0; i < MAX_SERVERS; i++)
    if (servers[i] == NULL) {
      servers[i] = s;
      return;
    }
  torture_die ("more than %d servers", MAX_SERVERS);
}

void
torture_server_start (struct torture_server *s, const char *const *args)
{
  if (!torture_server_try_start (s, args))
    torture_die ("nbdkit exited at start-up");
}

bool
torture_server_try_start (struct torture_server *s, const char *const *args)
{
  const char *argv[64];
  int argc = 0, status;
  const char *plugin = torture_plugin ();

  register_server (s);
  if (s->socket[0] == '\0') {
    snprintf (s->socket, sizeof s->socket, "%s/nbd.sock", workdir);
    snprintf (s->pidfile, sizeof s->pidfile, "%s/nbdkit.pid", workdir);
    snprintf (s->log, sizeof s->log, "%s/nbdkit.log", workdir);
  }
  unlink (s->socket);
  unlink (s->pidfile);
  argv[argc++] = "nbdkit";
  argv[argc++] = "-f";
  argv[argc++] = "--exit-with-parent";
  argv[argc++] = "-U";
  argv[argc++] = s->socket;
  argv[argc++] = "-P";
  argv[argc++] = s->pidfile;
  argv[argc++] = plugin;
  for (int i = 0; args[i] && argc < 63; i++)
    argv[argc++] = args[i];
  argv[argc] = NULL;

  const pid_t pid = fork ();
  if (pid == -1)
    torture_die ("fork: %m");
  if (pid == 0) {
    const int fd = open (s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2 (fd, 2);
      dup2 (fd, 1);
    }
    execvp ("nbdkit", (char **) argv);
    fprintf (stderr, "exec nbdkit: %m\n");
    _exit (127);
  }
  s->pid = pid;
  for (int i = 0; i < 12000; i++) {
    struct stat st;
    if (stat (s->pidfile, &st) == 0 && st.st_size > 0)
      return true;
    if (waitpid (pid, &status, WNOHANG) == pid) {
      s->pid = -1;
      torture_server_show_log (s);
      fprintf (stderr, "%s: nbdkit exited at start-up (status 0x%x)\n",
               torture_program, status);
      return false;
    }
    usleep (5000);
  }
  torture_server_show_log (s);
  torture_die ("nbdkit did not listen within 60 s");
}

void
torture_server_stop (struct torture_server *s)
{
  int status = 0, i;

  if (kill (s->pid, SIGTERM) == -1)
    torture_die ("kill nbdkit: %m");
  for (i = 0; i < 12000; i++) {
    const pid_t r = waitpid (s->pid, &status, WNOHANG);
    if (r == s->pid)
      break;
    if (r == -1)
      torture_die ("waitpid: %m");
    usleep (5000);
  }
  if (i == 12000) {
    torture_server_show_log (s);
    torture_die ("nbdkit did not exit within 60 s of SIGTERM");
  }
  s->pid = -1;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
    torture_server_show_log (s);
    torture_die ("nbdkit did not exit cleanly on SIGTERM (status 0x%x)",
                 status);
  }
}

void
torture_server_kill (struct torture_server *s)
{
  if (kill (s->pid, SIGKILL) == -1)
    torture_die ("kill -9 nbdkit: %m");
  waitpid (s->pid, NULL, 0);
  s->pid = -1;
}

void
torture_show_file (const char *path)
{
  char command[PATH_MAX + 64];

  fflush (stdout);
  fprintf (stderr, "--- the last lines of %s:\n", path);
  fflush (stderr);
  snprintf (command, sizeof command, "tail -n 40 '%s' >&2", path);
  if (system (command) != 0)
    fprintf (stderr, "(nothing)\n");
}

void
torture_server_show_log (const struct torture_server *s)
{
  torture_show_file (s->log);
}

int64_t
torture_statistic (const char *statsfile, const char *name)
{
  char text[8192], key[128];
  FILE *fp = fopen (statsfile, "r");

  if (fp == NULL)
    return -1;
  const size_t n = fread (text, 1, sizeof text - 1, fp);
  fclose (fp);
  text[n] = '\0';
  snprintf (key, sizeof key, "\"%s\":", name);
  const char *at = strstr (text, key);
  return at ? strtoll (at + strlen (key), NULL, 10) : -1;
}

bool
torture_needs_buffered (const char *directory)
{
  struct statfs st;
  return statfs (directory, &st) == 0 && st.f_type == TMPFS_MAGIC;
}

/* ---- commands ---- */

int
torture_run (const char *const *argv, const char *out, const char *err,
             unsigned timeout, bool *timed_out)
{
  int status;
  const pid_t pid = fork ();

  if (timed_out)
    *timed_out = false;
  if (pid == -1)
    torture_die ("fork: %m");
  if (pid == 0) {
    const int o = open (out ? out : "/dev/null",
                        O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open (err ? err : "/dev/null",
                        O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0)
      _exit (126);
    dup2 (o, 1);
    dup2 (e, 2);
    execvp (argv[0], (char **) argv);
    _exit (127);
  }
  const double deadline = torture_now () + timeout;
  useconds_t pause = 200;
  for (;;) {
    const pid_t r = waitpid (pid, &status, WNOHANG);
    if (r == pid)
      break;
    if (r == -1)
      torture_die ("waitpid: %m");
    if (torture_now () > deadline) {
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      if (timed_out)
        *timed_out = true;
      break;
    }
    usleep (pause);
    if (pause < 20000)
      pause *= 2;
  }
  if (WIFSIGNALED (status))
    return -WTERMSIG (status);
  return WEXITSTATUS (status);
}
