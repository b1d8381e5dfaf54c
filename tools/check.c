/* vswap check: read and verify every record of a store.
 *
 * Exit status: 0 clean, 1 problems found, 2 the check could not run (bad
 * command line, cannot open, not a store), so that a script can tell
 * "damaged" from "wrong name".
 */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "tools.h"

#define COMMAND "check"

static const struct option long_options[] = {
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static void
usage (void)
{
  printf ("Usage: vswap check STORE\n"
          "\n"
          "Read every segment of the vswap store on STORE, past any damage,\n"
          "and read back every page, without writing anything.  Each page\n"
          "that would fail (its newest record lost or damaged) is printed;\n"
          "damage that cost no page is printed as a note.\n"
          "\n"
          "Exit status: 0 every page reads, 1 pages fail, 2 could not check.\n"
          "\n"
          "Options:\n"
          "  -h, --help   show this help\n");
}

static void
warn (void *opaque, const char *message)
{
  tool_error (COMMAND, "warning: %s", message);
}

static void
problem (void *opaque, bool failing, const char *message)
{
  printf ("%s%s\n", failing ? "" : "note: ", message);
}

int
vswap_check_main (int argc, char *argv[])
{
  struct vswap_medium *medium;
  struct vswap_store *store;
  struct vswap_check_result result;
  int c;

  opterr = 0;
  while ((c = getopt_long (argc, argv, ":h", long_options, NULL)) != -1) {
    switch (c) {
    case 'h':
      usage ();
      return EXIT_OK;
    default:
      return tool_bad_option (COMMAND, c, argv);
    }
  }
  if (optind + 1 != argc) {
    tool_error (COMMAND, "%s: usage: vswap check STORE",
                optind >= argc ? "no STORE given" : "one STORE at a time");
    return EXIT_USAGE;
  }

  store = tool_open_store (COMMAND, argv[optind], warn, NULL, &medium);
  if (store == NULL)
    return EXIT_USAGE;

  const int r = vswap_store_check (store, problem, NULL, &result);
  tool_close_store (store, medium);
  if (r < 0) {
    tool_error (COMMAND, "%s: the check stopped: %s", argv[optind],
                strerror (-r));
    return EXIT_USAGE;
  }

  printf ("%" PRIu64 " records checked, %" PRIu64 " page%s failing, %"
          PRIu64 " note%s of damage that cost no page\n",
          result.records_checked, result.pages_failing,
          result.pages_failing == 1 ? "" : "s", result.damage_notes,
          result.damage_notes == 1 ? "" : "s");
  return result.pages_failing == 0 ? EXIT_OK : EXIT_PROBLEMS;
}
