/* vswap: the command-line tool.  This file only finds the subcommand;
 * each one lives in its own file.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "tools.h"

struct command {
  const char *name;
  int (*main) (int argc, char *argv[]);
  const char *summary;
};

static const struct command commands[] = {
  { "format", vswap_format_main, "write a new, empty store onto a medium" },
  { "inspect", vswap_inspect_main, "show what a store holds and how full it is" },
  { "check", vswap_check_main, "verify every record of a store" },
  { "probe", vswap_probe_main, "measure a card's erase block and open AUs (destructive)" },
  { "replay", vswap_replay_main, "run a request trace or workload offline; report wear" },
  { "stats", vswap_stats_main, "show a running server's statistics and the medium's projected life" },
};

#define NR_COMMANDS (sizeof commands / sizeof commands[0])

static void
usage (FILE *fp)
{
  size_t i;

  fprintf (fp,
           "Usage: vswap COMMAND [OPTIONS] STORE\n"
           "       vswap COMMAND --help\n"
           "       vswap --version\n"
           "\n"
           "Manage the stores behind the vswap nbdkit plugin, a virtual swap\n"
           "device.  STORE is a regular file or a block device.\n"
           "\n"
           "Commands:\n");
  for (i = 0; i < NR_COMMANDS; i++)
    fprintf (fp, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf (fp,
           "\n"
           "See vswap(8) for examples.\n");
}

/* "format, inspect, check" for the error that names the valid ones. */
static void
list_commands (char *buffer, size_t size)
{
  size_t i, used = 0;

  buffer[0] = '\0';
  for (i = 0; i < NR_COMMANDS && used < size; i++)
    used += snprintf (buffer + used, size - used, "%s%s",
                      i ? ", " : "", commands[i].name);
}

int
main (int argc, char *argv[])
{
  const char *name;
  char valid[128];
  size_t i;

  if (argc < 2) {
    tool_error (NULL, "no command given: try vswap --help");
    return EXIT_USAGE;
  }
  name = argv[1];
  if (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0
      || strcmp (name, "help") == 0) {
    usage (stdout);
    return EXIT_OK;
  }
  if (strcmp (name, "--version") == 0 || strcmp (name, "-V") == 0) {
    printf ("vswap %s\n", PACKAGE_VERSION);
    return EXIT_OK;
  }

  for (i = 0; i < NR_COMMANDS; i++)
    if (strcmp (name, commands[i].name) == 0)
      return commands[i].main (argc - 1, argv + 1);

  list_commands (valid, sizeof valid);
  if (name[0] == '-')
    tool_error (NULL, "unknown option %s: give a command first (%s), "
                "or --help", name, valid);
  else
    tool_error (NULL, "unknown command \"%s\": the commands are %s",
                name, valid);
  return EXIT_USAGE;
}
