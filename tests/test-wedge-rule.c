/* vswap: tests of nbd-plugin/wedge-rule.h, the pressure guard's rule for
 * telling a wedged swap path from a server the kernel is simply not
 * asking yet (after a restart, it waits for its request timeout).
 *
 * Each sample is one second of the guard's watch, as it would see it.
 */

#include <config.h>

#include <check.h>

#include "helpers.h"
#include <stdbool.h>

#include "wedge-rule.h"

/* Feed SECONDS stalled, unasked samples to RULE, one a second, the first
 * at SINCE_CONNECT seconds after the client connected; returns the
 * seconds after that connection at which the rule first fired, or -1. */
static double
stall_for (struct wedge_rule *rule, unsigned seconds, unsigned connections,
           double since_connect)
{
  for (unsigned i = 0; i < seconds; i++)
    if (wedge_rule_sample (rule, true, false, connections,
                           since_connect + i))
      return since_connect + i;
  return -1;
}

START_TEST (test_fires_after_five_stalled_seconds)
{
  struct wedge_rule rule = { 0 };
  const double start = WEDGE_RULE_GRACE_SECONDS + 100;

  /* The fifth stalled second in a row fires, not the fourth. */
  ck_assert (stall_for (&rule, WEDGE_RULE_SECONDS - 1, 1, start) < 0);
  ck_assert (wedge_rule_sample (&rule, true, false, 1,
                                start + WEDGE_RULE_SECONDS - 1));
  /* ... and counts afresh: five more seconds before the next. */
  ck_assert_double_eq (stall_for (&rule, 2 * WEDGE_RULE_SECONDS, 1, start),
                       start + WEDGE_RULE_SECONDS - 1);
}
END_TEST

START_TEST (test_a_request_or_a_busy_second_resets)
{
  struct wedge_rule rule = { 0 };
  const double start = WEDGE_RULE_GRACE_SECONDS + 100;

  ck_assert (stall_for (&rule, WEDGE_RULE_SECONDS - 1, 1, start) < 0);
  /* The server was asked something: swap moves, whatever the stall. */
  ck_assert (!wedge_rule_sample (&rule, true, true, 1, start + 10));
  ck_assert (stall_for (&rule, WEDGE_RULE_SECONDS - 1, 1, start + 11) < 0);
  /* A second with tasks running is no wedge either. */
  ck_assert (!wedge_rule_sample (&rule, false, false, 1, start + 20));
  ck_assert (stall_for (&rule, WEDGE_RULE_SECONDS - 1, 1, start + 21) < 0);
  ck_assert (wedge_rule_sample (&rule, true, false, 1, start + 30));
}
END_TEST

/* The case the grace is for: a killed server's successor, connected a few
 * seconds ago, idle while the kernel waits out its 30 s timeout for the
 * requests the dead one lost; then the kernel resends and swap moves. */
START_TEST (test_no_fire_while_the_kernel_waits_after_a_restart)
{
  struct wedge_rule rule = { 0 };

  /* Reconnected at 0, answered a while, then stalled from 4 s to 30 s. */
  for (unsigned t = 0; t < 4; t++)
    ck_assert (!wedge_rule_sample (&rule, false, true, 1, t));
  ck_assert (stall_for (&rule, 26, 1, 4) < 0);
  ck_assert (!wedge_rule_sample (&rule, true, true, 1, 30));
  ck_assert_uint_eq (rule.stalled_seconds, 0);
}
END_TEST

/* A real wedge soon after a connection is put off, not missed. */
START_TEST (test_a_wedge_within_the_grace_fires_when_it_ends)
{
  struct wedge_rule rule = { 0 };

  ck_assert_double_eq (stall_for (&rule, 100, 1, 2),
                       WEDGE_RULE_GRACE_SECONDS);
  /* Once past the grace, five seconds are enough again. */
  ck_assert_double_eq (stall_for (&rule, 100, 1,
                                  WEDGE_RULE_GRACE_SECONDS + 1),
                       WEDGE_RULE_GRACE_SECONDS + WEDGE_RULE_SECONDS);
}
END_TEST

START_TEST (test_no_client_no_wedge)
{
  struct wedge_rule rule = { 0 };

  /* A server nobody is connected to is nobody's swap path: between a
   * kill and the reconnect, say, or before the device is attached. */
  ck_assert (stall_for (&rule, 1000, 0, 1000) < 0);
  ck_assert_uint_eq (rule.stalled_seconds, 0);
}
END_TEST

int
main (void)
{
  Suite *s = test_suite ("wedge-rule",
                         test_fires_after_five_stalled_seconds,
                         test_a_request_or_a_busy_second_resets,
                         test_no_fire_while_the_kernel_waits_after_a_restart,
                         test_a_wedge_within_the_grace_fires_when_it_ends,
                         test_no_client_no_wedge, NULL);

  return test_run_suite (s);
}
