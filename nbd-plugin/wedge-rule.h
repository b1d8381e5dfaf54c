/* wedge-rule: when does a still swap path mean the server is wedged?
 *
 * The pressure guard (pressure-guard.c) samples, once a second, whether
 * every task was stalled on memory for most of that second and whether
 * the server was asked anything meanwhile.  Seconds of full stall with no
 * request at all mean that swap-out waits on a server that cannot answer:
 * the guard then gets the OOM killer to act.
 *
 * A stall with no request has an innocent cause too.  When a server is
 * killed and started again, the kernel's nbd client resends the requests
 * the dead server never answered only when they time out (30 s by
 * default, nbd-client -timeout otherwise), and the task that waits for
 * them stalls meanwhile, though the new server is idle and well.  So the
 * rule gives a client that connects to a server with no client
 * GRACE_SECONDS before it may fire (a second client, nbdinfo say, next to
 * the kernel's, changes nothing): longer than the kernel's default
 * timeout, which starts when the request went to the old server, i.e.
 * before the new connection.  A real wedge in that time is only put off,
 * not missed: the count goes on, and the rule fires once the grace has
 * passed.  With no client connected, the server is nobody's swap path,
 * and a stall is none of its business.
 *
 * Header-only and free of side effects, so that tests/test-wedge-rule.c
 * can drive it with made-up seconds.
 */
#ifndef VSWAP_WEDGE_RULE_H
#define VSWAP_WEDGE_RULE_H

#include <stdbool.h>

/* Seconds in a row of full stall with no request. */
#define WEDGE_RULE_SECONDS 5

/* Seconds after a client connects to a server with none before the rule
 * may fire. */
#define WEDGE_RULE_GRACE_SECONDS 35

struct wedge_rule {
  unsigned stalled_seconds;     /* in a row, up to now */
};

/* One sample, about a second after the last: STALLED, every task was
 * stalled on memory for most of it; ASKED, the server began a request;
 * CONNECTIONS, clients connected now; SINCE_CONNECT, seconds since a
 * client last connected to the server with none.  Returns true when the
 * guard must fire (and starts counting afresh). */
static inline bool
wedge_rule_sample (struct wedge_rule *rule, bool stalled, bool asked,
                   unsigned connections, double since_connect)
{
  if (!stalled || asked || connections == 0) {
    rule->stalled_seconds = 0;
    return false;
  }
  rule->stalled_seconds++;
  if (rule->stalled_seconds < WEDGE_RULE_SECONDS ||
      since_connect < WEDGE_RULE_GRACE_SECONDS)
    return false;
  rule->stalled_seconds = 0;
  return true;
}

#endif /* VSWAP_WEDGE_RULE_H */
