/* vswap tests: make a store file without depending on tools/vswap.
 *
 * Usage: make-store [--erase-block=SIZE] [--compress=none|zstd]
 *                   FILE MEDIUM_SIZE [LOGICAL_SIZE]
 *
 * Replaces FILE by a new file of MEDIUM_SIZE bytes holding an empty store
 * that exports LOGICAL_SIZE bytes (default: the core's choice).
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "medium.h"
#include "store.h"

static void __attribute__ ((noreturn))
usage (void)
{
  fprintf (stderr, "usage: make-store [--erase-block=SIZE] "
           "[--compress=none|zstd] FILE MEDIUM_SIZE [LOGICAL_SIZE]\n");
  exit (2);
}

static uint64_t
size_argument (const char *what, const char *text)
{
  uint64_t bytes;

  if (vswap_parse_size (text, &bytes) < 0) {
    fprintf (stderr, "make-store: %s %s: not a size\n", what, text);
    exit (2);
  }
  return bytes;
}

int
main (int argc, char *argv[])
{
  struct vswap_medium_options medium_options = { .create = true };
  struct vswap_format_options format_options = { 0 };
  struct vswap_medium *medium;
  struct vswap_error err;
  const char *path;
  int i, r;

  for (i = 1; i < argc && strncmp (argv[i], "--", 2) == 0; ++i) {
    if (strncmp (argv[i], "--erase-block=", 14) == 0) {
      format_options.segment_size =
        size_argument ("--erase-block", argv[i] + 14);
      medium_options.erase_block = format_options.segment_size;
    }
    else if (strcmp (argv[i], "--compress=zstd") == 0) {
      format_options.compression = VSWAP_COMPRESS_ZSTD;
      format_options.compression_chosen = true;
    }
    else if (strcmp (argv[i], "--compress=none") == 0) {
      format_options.compression = VSWAP_COMPRESS_NONE;
      format_options.compression_chosen = true;
    }
    else
      usage ();
  }
  if (argc - i < 2 || argc - i > 3)
    usage ();
  path = argv[i];
  medium_options.create_size = size_argument ("MEDIUM_SIZE", argv[i + 1]);
  if (argc - i == 3)
    format_options.logical_size = size_argument ("LOGICAL_SIZE", argv[i + 2]);

  /* A fresh file every time: tests must not inherit an older store. */
  if (unlink (path) == -1 && errno != ENOENT) {
    fprintf (stderr, "make-store: %s: %s\n", path, strerror (errno));
    exit (1);
  }

  vswap_error_clear (&err);
  medium = vswap_medium_open (path, &medium_options, &err);
  if (medium == NULL) {
    fprintf (stderr, "make-store: %s\n", err.message);
    exit (1);
  }
  vswap_error_clear (&err);
  r = vswap_store_format (medium, &format_options, NULL, NULL, &err);
  if (r < 0) {
    fprintf (stderr, "make-store: %s\n", err.message[0] ? err.message
             : strerror (-r));
    vswap_medium_close (medium);
    exit (1);
  }
  r = vswap_medium_flush (medium);
  vswap_medium_close (medium);
  if (r < 0) {
    fprintf (stderr, "make-store: %s: flush: %s\n", path, strerror (-r));
    exit (1);
  }
  return 0;
}
