/* vswap torture tests: what the torture programs share.
 *
 * - The tier: VSWAP_TORTURE=slow selects the long sizes, anything else
 *   (or nothing) the quick ones.
 * - Seeds for tests/helpers.h's random generator.
 * - Page content that names itself: every page a test writes is a pure
 *   function of (page, version, kind), and a data page carries its page
 *   and version in its first bytes, so that a page read back wrong can be
 *   told apart: zeros, an older version of the same page, another page's
 *   data, or garbage.
 * - A work directory under $TMPDIR (default /tmp), removed at exit, on
 *   SIGINT/SIGTERM and on failure.
 * - nbdkit servers of the uninstalled plugin, killed at exit.
 * - Running a command with a time limit and its output in a file.
 */
#ifndef VSWAP_TORTURE_COMMON_H
#define VSWAP_TORTURE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "helpers.h"

#define TORTURE_PAGE 4096u

/* ---- reporting ---- */

/* The program's name, for messages. */
extern const char *torture_program;

void torture_say (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void torture_die (const char *fmt, ...)
  __attribute__ ((noreturn, format (printf, 1, 2)));
void *torture_malloc (size_t size);
void *torture_calloc (size_t count, size_t size);

/* ---- sizes ---- */

/* VSWAP_TORTURE=slow. */
bool torture_slow (void);
/* The environment variable NAME as a number, or FALLBACK. */
uint64_t torture_env_number (const char *name, uint64_t fallback);
/* Seconds since some fixed point. */
double torture_now (void);

/* ---- random numbers ---- */

/* The generator is tests/helpers.h's; a seed becomes its state here (any
 * seed, 0 included, and nearby seeds far apart). */
uint64_t torture_mix64 (uint64_t x);
struct test_random torture_random (uint64_t seed);
/* The seed: VSWAP_SEED if set, else from the clock; printed. */
uint64_t torture_seed (void);

/* ---- page content ---- */

enum torture_kind {
  TORTURE_ZERO,                 /* all zero bytes */
  TORTURE_SAME,                 /* one word repeated, naming page+version */
  TORTURE_SAME_COMMON,          /* one of a few common words repeated */
  TORTURE_TEXT,                 /* compressible, tagged */
  TORTURE_RANDOM,               /* incompressible, tagged */
  TORTURE_KINDS
};

extern const char *const torture_kind_names[TORTURE_KINDS];

/* Fill BUFFER (4096 bytes) with version VERSION of PAGE, of KIND. */
void torture_page_fill (uint8_t *buffer, uint64_t page, uint64_t version,
                        enum torture_kind kind);

/* How a page read back compares with what it must hold. */
enum torture_verdict {
  TORTURE_OK,
  TORTURE_ZEROS,                /* zeros where data was */
  TORTURE_OLDER,                /* an older version of this page */
  TORTURE_NEWER,                /* a version newer than expected (!) */
  TORTURE_OTHER_PAGE,           /* another page's data */
  TORTURE_PATTERN,              /* a common same-filled word: some older
                                   version, or another page's */
  TORTURE_GARBAGE,              /* none of the above */
  TORTURE_VERDICTS
};

extern const char *const torture_verdict_names[TORTURE_VERDICTS];

enum torture_verdict torture_page_classify (const uint8_t *buffer,
                                            uint64_t page, uint64_t version,
                                            enum torture_kind kind);

/* Counts of wrong pages by verdict, and a one-line summary. */
struct torture_tally {
  uint64_t count[TORTURE_VERDICTS];
  uint64_t eio;
};
uint64_t torture_tally_wrong (const struct torture_tally *t);
/* "12 wrong (3 zeros, 9 older), 1 EIO" into BUFFER. */
const char *torture_tally_format (const struct torture_tally *t,
                                  char *buffer, size_t size);
void torture_tally_add (struct torture_tally *sum,
                        const struct torture_tally *t);

/* What a page read back holds, in words: "page 12 version 345
 * (random)", "zeros", "the word 0x... repeated". */
const char *torture_page_describe (const uint8_t *buffer, char *text,
                                   size_t size);

/* ---- the reference: what every page must hold ---- */

struct torture_model {
  uint64_t pages;
  uint64_t next_version;        /* versions are unique over all pages */
  uint64_t *version;            /* acknowledged: what the page must read */
  uint8_t *kind;
  /* A write in flight when the server died: the page may read this
   * instead (version 0: nothing in flight). */
  uint64_t *pending_version;
  uint8_t *pending_kind;
};

void torture_model_init (struct torture_model *m, uint64_t pages);
/* A new version of PAGE, of KIND, acknowledged (PENDING false) or in
 * flight; returns the version for torture_page_fill. */
uint64_t torture_model_set (struct torture_model *m, uint64_t page,
                            enum torture_kind kind, bool pending);
/* The write in flight on PAGE was acknowledged after all. */
void torture_model_acknowledge (struct torture_model *m, uint64_t page);
/* Compare what PAGE read (BUFFER) with the model: TORTURE_OK if it is
 * the acknowledged version, or the one in flight (which then becomes the
 * acknowledged one); else how it is wrong, relative to the acknowledged
 * version.  Forgets the write in flight either way. */
enum torture_verdict torture_model_settle (struct torture_model *m,
                                           uint64_t page,
                                           const uint8_t *buffer);

/* ---- the work directory ---- */

/* Make $TMPDIR/torture-NAME-XXXXXX (default /tmp) and remove it, with all
 * it holds, at exit, on SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV,
 * SIGBUS, and in torture_die.
 * Returns its path. */
const char *torture_workdir (const char *name);
/* NAME inside the work directory (allocated, never freed). */
const char *torture_path (const char *name);

/* ---- nbdkit ---- */

struct torture_server {
  pid_t pid;                    /* -1: not running */
  char socket[4200];
  char pidfile[4200];
  char log[4200];               /* nbdkit's stderr, appended */
};

/* Skip (exit 77) unless nbdkit and VSWAP_PLUGIN are there. */
const char *torture_plugin (void);
/* The vswap tool (VSWAP), or skip. */
const char *torture_tool (void);
/* Start "nbdkit -f --exit-with-parent -U SOCKET -P PIDFILE PLUGIN
 * ARGS..." (ARGS ends with NULL) and wait until it listens; dies if it
 * exits instead. */
void torture_server_start (struct torture_server *s,
                           const char *const *args);
/* The same, but false (with the server's log on stderr) if nbdkit exits
 * at start-up, as it does when it cannot open the store. */
bool torture_server_try_start (struct torture_server *s,
                               const char *const *args);
/* SIGTERM, and the server must exit 0 within 60 s (a clean close). */
void torture_server_stop (struct torture_server *s);
/* SIGKILL, and reap it. */
void torture_server_kill (struct torture_server *s);
/* The last lines of the server's log, on stderr. */
void torture_server_show_log (const struct torture_server *s);

/* A counter from the plugin's statsfile= (JSON), or -1. */
int64_t torture_statistic (const char *statsfile, const char *name);

/* The file system of DIRECTORY cannot do O_DIRECT (tmpfs): the store
 * must be opened buffered. */
bool torture_needs_buffered (const char *directory);

/* Copy the file at PATH to stderr (the last 40 lines). */
void torture_show_file (const char *path);

/* ---- commands ---- */

/* Run ARGV with stdout into OUT and stderr into ERR (NULL: /dev/null),
 * killed after TIMEOUT seconds.  Returns the exit status (0..255), or
 * -SIGNAL if a signal ended it (SIGKILL after a timeout: *TIMED_OUT). */
int torture_run (const char *const *argv, const char *out, const char *err,
                 unsigned timeout, bool *timed_out);

#endif /* VSWAP_TORTURE_COMMON_H */
