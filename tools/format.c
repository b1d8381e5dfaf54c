/* vswap format: write a new, empty store onto a file or block device.
 *
 * Everything the store does is vswap_store_format's; this file checks the
 * command line, makes sure we are not about to destroy something the user
 * wanted to keep, and reports progress and the geometry that was chosen.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "life.h"
#include "medium.h"
#include "store.h"
#include "superblock.h"
#include "tools.h"

#define COMMAND "format"

/* Format progress is worth lines in a log only when there are enough
 * segments for 10% steps to mean something. */
#define PROGRESS_LOG_MIN_SEGMENTS 256

#define MAX_ERASE_BLOCK (1u << 30)
#define MAX_OPEN_SEGMENTS 1024
#define MAX_ZSTD_LEVEL 22

struct format_args {
  const char *store;
  bool size_given;
  uint64_t size;
  struct vswap_medium_options medium;
  struct vswap_format_options format;
  const char *endurance;        /* --endurance, parsed once the medium is open */
  bool force;
};

enum {
  OPT_SIZE = 256,
  OPT_LOGICAL_SIZE,
  OPT_ERASE_BLOCK,
  OPT_WRITE_UNIT,
  OPT_OPEN_SEGMENTS,
  OPT_COMPRESS,
  OPT_FORCE,
  OPT_BUFFERED,
  OPT_ENDURANCE,
};

static const struct option long_options[] = {
  { "size", required_argument, NULL, OPT_SIZE },
  { "logical-size", required_argument, NULL, OPT_LOGICAL_SIZE },
  { "erase-block", required_argument, NULL, OPT_ERASE_BLOCK },
  { "write-unit", required_argument, NULL, OPT_WRITE_UNIT },
  { "open-segments", required_argument, NULL, OPT_OPEN_SEGMENTS },
  { "compress", required_argument, NULL, OPT_COMPRESS },
  { "force", no_argument, NULL, OPT_FORCE },
  { "buffered", no_argument, NULL, OPT_BUFFERED },
  { "endurance", required_argument, NULL, OPT_ENDURANCE },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static void
usage (void)
{
  printf ("Usage: vswap format [OPTIONS] STORE\n"
          "\n"
          "Write a new, empty vswap store onto STORE, a block device or a\n"
          "regular file.  Refuses to overwrite a vswap store, or anything\n"
          "blkid recognises (a filesystem, a swap area, a RAID or LVM member,\n"
          "a partition table) unless --force is given; never a store in use.\n"
          "\n"
          "Options:\n"
          "  --size SIZE           create STORE as a file of SIZE bytes (or\n"
          "                        resize it); without it STORE must exist\n"
          "  --logical-size SIZE   size of the exported device (default: 90%%\n"
          "                        of the data area)\n"
          "  --erase-block SIZE    erase block = segment size (default: what\n"
          "                        the device reports, else 4M)\n"
          "  --write-unit SIZE     smallest write (default: what the device\n"
          "                        reports, else 4K)\n"
          "  --open-segments N     segments written at once (default 2; cheap\n"
          "                        SD cards collapse beyond 2)\n"
          "  --compress none|zstd|zstd:LEVEL\n"
          "                        compression of new pages (default: zstd,\n"
          "                        which the plugin's compress= may change)\n"
          "  --endurance RATING    what the medium is rated to write, for the\n"
          "                        projected life: 40TBW, or P/E cycles as\n"
          "                        3000x (times the medium's capacity)\n"
          "  --force               overwrite whatever STORE holds\n"
          "  --buffered            do not use O_DIRECT\n"
          "  -h, --help            show this help\n"
          "\n"
          "SIZE is a number of bytes with an optional K, M, G or T suffix\n"
          "(powers of 1024).\n");
}

/* Parse a size option that must be a whole number of PAGE bytes; EXAMPLE
 * is what the error message suggests instead. */
static int
parse_page_size (const char *option, const char *text, uint64_t *bytes,
                 const char *example)
{
  if (vswap_parse_size (text, bytes) < 0) {
    tool_error (COMMAND, "--%s %s: not a size: give e.g. %s",
                option, text, example);
    return -1;
  }
  if (*bytes == 0 || *bytes % VSWAP_PAGE_SIZE != 0) {
    tool_error (COMMAND, "--%s %s: not a whole number of 4K pages: "
                "give e.g. %s", option, text, example);
    return -1;
  }
  return 0;
}

static bool
is_power_of_2 (uint64_t n)
{
  return n != 0 && (n & (n - 1)) == 0;
}

/* A strict unsigned decimal: no sign, no spaces, no suffix. */
static bool
parse_number (const char *text, unsigned long min, unsigned long max,
              unsigned long *value)
{
  char *end;

  if (text[0] < '0' || text[0] > '9')
    return false;
  errno = 0;
  *value = strtoul (text, &end, 10);
  return errno == 0 && *end == '\0' && *value >= min && *value <= max;
}

static int
parse_compress (const char *text, struct vswap_format_options *format)
{
  unsigned long level = 0;

  if (strcmp (text, "none") == 0)
    format->compression = VSWAP_COMPRESS_NONE;
  else if (strcmp (text, "zstd") == 0)
    format->compression = VSWAP_COMPRESS_ZSTD;
  else if (strncmp (text, "zstd:", 5) == 0
           && parse_number (text + 5, 1, MAX_ZSTD_LEVEL, &level))
    format->compression = VSWAP_COMPRESS_ZSTD;
  else {
    tool_error (COMMAND, "--compress %s: not a compression: give none, "
                "zstd or zstd:LEVEL with LEVEL from 1 to %d",
                text, MAX_ZSTD_LEVEL);
    return -1;
  }
  format->compression_level = level;
  format->compression_chosen = true;
  return 0;
}

/* Parse the command line into ARGS.  Returns -1 to exit with STATUS. */
static int
parse_args (int argc, char *argv[], struct format_args *args, int *status)
{
  const char *erase_block = NULL, *write_unit = NULL;
  uint64_t bytes;
  unsigned long n;
  int c;

  opterr = 0;
  *status = EXIT_USAGE;
  while ((c = getopt_long (argc, argv, ":h", long_options, NULL)) != -1) {
    switch (c) {
    case OPT_SIZE:
      if (parse_page_size ("size", optarg, &args->size, "64M") < 0)
        return -1;
      args->size_given = true;
      break;
    case OPT_LOGICAL_SIZE:
      if (parse_page_size ("logical-size", optarg,
                           &args->format.logical_size, "1G") < 0)
        return -1;
      break;
    case OPT_ERASE_BLOCK:
      erase_block = optarg;
      break;
    case OPT_WRITE_UNIT:
      write_unit = optarg;
      break;
    case OPT_OPEN_SEGMENTS:
      if (!parse_number (optarg, 1, MAX_OPEN_SEGMENTS, &n)) {
        tool_error (COMMAND, "--open-segments %s: not a number from 1 to "
                    "%d: give e.g. 2", optarg, MAX_OPEN_SEGMENTS);
        return -1;
      }
      args->format.open_segments = n;
      break;
    case OPT_COMPRESS:
      if (parse_compress (optarg, &args->format) < 0)
        return -1;
      break;
    case OPT_FORCE:
      args->force = true;
      break;
    case OPT_BUFFERED:
      args->medium.buffered = true;
      break;
    case OPT_ENDURANCE:
      /* Checked now; "3000x" is multiplied by the capacity once the
       * medium is open. */
      if (vswap_parse_endurance (optarg, 1, &bytes) < 0) {
        tool_error (COMMAND, "--endurance %s: not a rating: give bytes "
                    "written as e.g. 40TBW or 600GBW, or P/E cycles as "
                    "e.g. 3000x", optarg);
        return -1;
      }
      args->endurance = optarg;
      break;
    case 'h':
      usage ();
      *status = EXIT_OK;
      return -1;
    default:
      *status = tool_bad_option (COMMAND, c, argv);
      return -1;
    }
  }

  /* The erase block is checked against the write unit, whichever order
   * they came in. */
  if (write_unit) {
    if (vswap_parse_size (write_unit, &bytes) < 0
        || !is_power_of_2 (bytes)
        || bytes < VSWAP_MIN_WRITE_UNIT || bytes > VSWAP_MAX_WRITE_UNIT) {
      tool_error (COMMAND, "--write-unit %s: not a power of two from 4K "
                  "to 1M (vswap writes from 4 KiB-aligned buffers): give "
                  "e.g. 4K", write_unit);
      return -1;
    }
    args->medium.write_unit = bytes;
  }
  if (erase_block) {
    uint32_t min = args->medium.write_unit ? : VSWAP_PAGE_SIZE;

    if (min < VSWAP_PAGE_SIZE)
      min = VSWAP_PAGE_SIZE;
    if (vswap_parse_size (erase_block, &bytes) < 0
        || !is_power_of_2 (bytes)
        || bytes < min || bytes > MAX_ERASE_BLOCK) {
      tool_error (COMMAND, "--erase-block %s: not a power of two "
                  "≥ the write unit: give e.g. 4M", erase_block);
      return -1;
    }
    args->medium.erase_block = bytes;
  }

  if (optind >= argc) {
    tool_error (COMMAND, "no STORE given: usage: vswap format [OPTIONS] "
                "STORE");
    return -1;
  }
  if (optind + 1 < argc) {
    tool_error (COMMAND, "one STORE at a time: \"%s\" is one too many",
                argv[optind + 1]);
    return -1;
  }
  args->store = argv[optind];
  return 0;
}

/* Is there a vswap store on SPEC already?  Opens its own read-only medium
 * so that nothing (not even resizing a file) has happened before we know.
 * Returns 1, 0, or -1 after reporting the error. */
static int
probe_store (const struct format_args *args)
{
  struct vswap_medium_options options = args->medium;
  struct vswap_medium *medium;
  struct vswap_error err;
  int r;

  options.read_only = true;
  /* A store in use is refused here, before anything at all. */
  options.lock = VSWAP_MEDIUM_LOCK_SHARED;
  medium = vswap_medium_open (args->store, &options, &err);
  if (medium == NULL) {
    /* A file too small to open as a medium holds no store we could
     * destroy, and --size is about to make it usable; without --size the
     * real open would fail the same way, so say it now. */
    if (args->size_given)
      return 0;
    tool_error (COMMAND, "%s", err.message);
    return -1;
  }
  r = vswap_store_probe (medium, &err);
  vswap_medium_close (medium);
  if (r < 0) {
    tool_error (COMMAND, "%s: looking for an existing store: %s",
                args->store, err.message);
    return -1;
  }
  return r > 0;
}

/* Refuse to destroy what is on an existing STORE unless --force.
 * Returns 0 to go on, -1 after reporting why not. */
static int
refuse_overwrite (const struct format_args *args)
{
  struct vswap_error err;
  char found[256];
  int r;

  r = probe_store (args);
  if (r < 0)
    return -1;
  if (r > 0)
    snprintf (found, sizeof found, "a vswap store");
  else {
    r = tool_find_signature (args->store, found, sizeof found, &err);
    if (r < 0) {
      tool_error (COMMAND, "%s", err.message);
      return -1;
    }
  }
  if (r == 0)
    return 0;

  if (!args->force) {
    tool_error (COMMAND, "%s contains %s: refusing to overwrite it; "
                "pass --force if you are sure", args->store, found);
    return -1;
  }
  tool_error (COMMAND, "%s contains %s: overwriting it (--force)",
              args->store, found);
  return 0;
}

struct progress {
  bool tty;
  bool line_open;               /* a \r line is waiting for its \n */
  unsigned last_tenth;
};

static void
progress (void *opaque, uint64_t done, uint64_t total)
{
  struct progress *p = opaque;

  if (total == 0)
    return;
  if (p->tty) {
    fprintf (stderr, "\rvswap format: erasing segments: %" PRIu64
             "/%" PRIu64 " (%u%%)", done, total,
             (unsigned) (done * 100 / total));
    p->line_open = done < total;
    if (!p->line_open)
      fputc ('\n', stderr);
  }
  else if (total >= PROGRESS_LOG_MIN_SEGMENTS) {
    unsigned tenth = done * 10 / total;

    if (tenth > p->last_tenth) {
      p->last_tenth = tenth;
      fprintf (stderr, "vswap format: erasing segments: %u%% (%" PRIu64
               "/%" PRIu64 ")\n", (unsigned) (done * 100 / total), done,
               total);
    }
  }
  fflush (stderr);
}

/* Read the new store back, as the plugin will, and show what was chosen:
 * the defaults depend on the device, so the user should see them. */
static int
print_geometry (const char *store, struct vswap_medium *medium)
{
  struct vswap_open_options options = { .read_only = true };
  struct vswap_store_info info;
  struct vswap_store *s;
  struct vswap_error err;
  char size1[32], size2[32], uuid[VSWAP_UUID_TEXT_SIZE], compression[32];

  s = vswap_store_open (medium, &options, &err);
  if (s == NULL) {
    tool_error (COMMAND, "%s: formatted, but cannot open the new store: %s",
                store, err.message);
    return -1;
  }
  vswap_store_get_info (s, &info);
  vswap_store_close (s);

  vswap_uuid_format (info.uuid, uuid);
  tool_compression_name (info.compression, info.compression_level,
                         compression, sizeof compression);
  printf ("Formatted %s as a vswap store.\n", store);
  printf ("  uuid:            %s\n", uuid);
  printf ("  medium:          %s\n", medium->description);
  printf ("  capacity:        %s (%" PRIu64 " bytes)\n",
          vswap_human_size (medium->geometry.capacity, size1, sizeof size1),
          medium->geometry.capacity);
  printf ("  segment size:    %s (%" PRIu32 " bytes)\n",
          vswap_human_size (info.segment_size, size1, sizeof size1),
          info.segment_size);
  printf ("  segments:        %" PRIu64 " for data\n", info.segment_count);
  printf ("  write unit:      %s\n",
          vswap_human_size (info.write_unit, size1, sizeof size1));
  printf ("  logical size:    %s (%" PRIu64 " bytes, %" PRIu64 " pages)\n",
          vswap_human_size (info.logical_size, size2, sizeof size2),
          info.logical_size, info.logical_size / VSWAP_PAGE_SIZE);
  printf ("  compression:     %s%s\n", compression,
          info.compression_chosen ? "" : " (the plugin's compress= may "
          "change it)");
  /* The budget recorded in the superblock; what the device allows, where
   * it says. */
  if (medium->geometry.max_open_segments)
    printf ("  open segments:   %" PRIu32 " (the medium allows %" PRIu32
            ")\n", info.open_segments, medium->geometry.max_open_segments);
  else
    printf ("  open segments:   %" PRIu32 "\n", info.open_segments);
  if (medium->geometry_source[0])
    printf ("  geometry from:   %s\n", medium->geometry_source);
  if (info.endurance)
    printf ("  endurance:       %s written (%" PRIu64 " bytes, as rated)\n",
            tool_decimal_size (info.endurance, size1, sizeof size1),
            info.endurance);
  return 0;
}

int
vswap_format_main (int argc, char *argv[])
{
  /* Without --compress, zstd: the cards this is for are slow and wear
   * out, and heap pages shrink to about a third (bench/endurance: 0.37
   * media bytes a host byte, against 2.9 uncompressed).  Random pages are
   * recognised and stored raw without trying zstd (page_codec.c).  Not
   * "chosen", so that the plugin's compress=none still turns it off. */
  struct format_args args = {
    .store = NULL,
    .format = { .compression = VSWAP_COMPRESS_ZSTD },
  };
  struct vswap_medium *medium;
  struct vswap_error err;
  struct progress p = { .tty = isatty (STDERR_FILENO) };
  struct stat st;
  bool existed;
  int status, r;

  if (parse_args (argc, argv, &args, &status) < 0)
    return status;

  /* A RAM medium or a remote export is there already: nothing to create,
   * and nothing to unlink if formatting fails. */
  existed = strncmp (args.store, "memory:", 7) == 0
    || vswap_medium_is_nbd_uri (args.store)
    || stat (args.store, &st) == 0;
  if (!existed && !args.size_given) {
    tool_error (COMMAND, "%s: %s: give --size SIZE to create a file",
                args.store, strerror (errno));
    return EXIT_PROBLEMS;
  }
  if (existed && refuse_overwrite (&args) < 0)
    return EXIT_PROBLEMS;

  args.medium.create = args.size_given;
  args.medium.create_size = args.size;
  /* Held until format is done: no server starts on a half-made store. */
  args.medium.lock = VSWAP_MEDIUM_LOCK_EXCLUSIVE;
  medium = vswap_medium_open (args.store, &args.medium, &err);
  if (medium == NULL) {
    tool_error (COMMAND, "%s", err.message);
    status = EXIT_PROBLEMS;
    goto failed;
  }

  if (args.endurance &&
      vswap_parse_endurance (args.endurance, medium->geometry.capacity,
                             &args.format.endurance) < 0) {
    tool_error (COMMAND, "--endurance %s: too large for %s: give the "
                "rating in bytes written, e.g. 40TBW", args.endurance,
                medium->description);
    vswap_medium_close (medium);
    status = EXIT_USAGE;
    goto failed;
  }

  r = vswap_store_format (medium, &args.format, progress, &p, &err);
  if (p.line_open)
    fputc ('\n', stderr);
  if (r < 0) {
    tool_error (COMMAND, "%s", err.message);
    vswap_medium_close (medium);
    /* EINVAL and ENOSPC are a geometry the store refused before writing
     * anything (a bad value, a medium too small for it): bad input, like
     * a bad option. */
    status = r == -EINVAL || r == -ENOSPC ? EXIT_USAGE : EXIT_PROBLEMS;
    goto failed;
  }

  r = print_geometry (args.store, medium);
  vswap_medium_close (medium);
  return r < 0 ? EXIT_PROBLEMS : EXIT_OK;

 failed:
  /* A file we created and could not format is of no use to anyone. */
  if (!existed)
    unlink (args.store);
  return status;
}
