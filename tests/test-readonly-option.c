/* vswap: tests of nbd-plugin/readonly-option.h, which reads nbdkit's
 * command line the way nbdkit's getopt_long does to learn whether it was
 * started with -r, before any connection says so.
 */

#include <config.h>

#include <check.h>
#include <stdbool.h>

#include "helpers.h"
#include "readonly-option.h"

/* Is -r seen in the words of LINE (NULL-terminated)? */
#define GIVEN(...) given ((char *[]) { "nbdkit", __VA_ARGS__, NULL }, false)
#define GIVEN_POSIXLY(...) \
  given ((char *[]) { "nbdkit", __VA_ARGS__, NULL }, true)

static bool
given (char *words[], bool posixly_correct)
{
  int argc = 0;
  while (words[argc])
    argc++;
  return readonly_option_given (argc, words, posixly_correct);
}

START_TEST (test_every_spelling)
{
  ck_assert (GIVEN ("-r", "vswap", "store=s"));
  ck_assert (GIVEN ("--readonly", "vswap", "s"));
  ck_assert (GIVEN ("--read-only", "vswap", "s"));
  /* Unambiguous prefixes, as getopt_long takes them. */
  ck_assert (GIVEN ("--read", "vswap", "s"));
  ck_assert (GIVEN ("--readon", "vswap", "s"));
  /* In a cluster of short options. */
  ck_assert (GIVEN ("-fr", "vswap", "s"));
  ck_assert (GIVEN ("-vfr", "-U", "sock", "vswap", "s"));
  /* After the plugin name: getopt permutes. */
  ck_assert (GIVEN ("vswap", "store=s", "-r"));
  ck_assert (GIVEN ("-U", "/run/s.sock", "vswap", "s", "--readonly"));
}
END_TEST

START_TEST (test_not_given)
{
  ck_assert (!GIVEN ("vswap", "store=s"));
  ck_assert (!GIVEN ("-f", "-U", "-", "vswap", "s"));
  /* The argument of an option is not an option. */
  ck_assert (!GIVEN ("-U", "-r", "vswap", "s"));
  ck_assert (!GIVEN ("-Ur", "vswap", "s"));            /* socket "r" */
  ck_assert (!GIVEN ("-t", "4", "-P", "-r", "vswap", "s"));
  ck_assert (!GIVEN ("--run", "nbdinfo -r $uri", "vswap", "s"));
  ck_assert (!GIVEN ("--run=-r", "vswap", "s"));
  ck_assert (!GIVEN ("--unix", "-r", "vswap", "s"));
  ck_assert (!GIVEN ("--filter", "-r", "vswap", "s"));
  /* An abbreviated long option with an argument skips it too. */
  ck_assert (!GIVEN ("--uni", "-r", "vswap", "s"));
  /* After "--" nothing is an option. */
  ck_assert (!GIVEN ("vswap", "--", "-r"));
  /* Plugin keys that merely contain r. */
  ck_assert (!GIVEN ("vswap", "store=/dev/sdr", "readtrim=on"));
  /* "-" alone is a word, not an option. */
  ck_assert (!GIVEN ("-U", "-", "vswap", "-"));
}
END_TEST

START_TEST (test_posixly_correct_stops_at_the_plugin)
{
  ck_assert (GIVEN_POSIXLY ("-r", "vswap", "s"));
  ck_assert (!GIVEN_POSIXLY ("vswap", "s", "-r"));
}
END_TEST

START_TEST (test_this_process)
{
  /* This test's own command line has no -r. */
  ck_assert (!readonly_option_of_this_process ());
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("readonly-option", test_every_spelling,
                                     test_not_given,
                                     test_posixly_correct_stops_at_the_plugin,
                                     test_this_process, NULL));
}
