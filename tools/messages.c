/* vswap: how the tool complains.  Every error is one line on stderr that
 * names the subcommand, the problem and, where there is one, the fix.
 */
#include <config.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include "tools.h"

void
tool_error (const char *command, const char *fmt, ...)
{
  va_list ap;

  if (command)
    fprintf (stderr, "vswap %s: ", command);
  else
    fprintf (stderr, "vswap: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

/* getopt's own messages take two lines with the "Try --help" we would
 * add, and name the program rather than the subcommand. */
int
tool_bad_option (const char *command, int c, char *argv[])
{
  const char *arg = argv[optind - 1];

  if (c == ':')
    tool_error (command, "%s needs a value: see vswap %s --help",
                arg, command);
  else if (optopt > 0 && optopt < 256)
    tool_error (command, "unknown option -%c: see vswap %s --help",
                optopt, command);
  else
    /* An unknown long option, or "--force=yes" for a flag. */
    tool_error (command, "bad option %s: see vswap %s --help",
                arg, command);
  return EXIT_USAGE;
}
