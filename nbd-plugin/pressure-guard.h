/* pressure-guard: get the OOM killer to act before the swap path stalls.
 *
 * A swap server in userspace cannot use the kernel's memory reserves.
 * When the whole machine runs out of memory (no cgroup around the
 * workload), the kernel waits for swap-out to free pages, the swap-out
 * waits for the server's reply, and the reply waits for a socket buffer
 * that cannot be allocated; PR_SET_IO_FLUSHER keeps those allocations
 * from ever calling the OOM killer, so the machine spins for good.
 *
 * The guard watches the memory pressure stall information (PSI) with a
 * kernel trigger on /proc/pressure/memory and, when every task has been
 * stalled on memory for too long while free memory is down at the
 * kernel's watermarks (under 2 x vm.min_free_kbytes: the machine as a
 * whole, not one cgroup, is out of memory), writes 'f' to
 * /proc/sysrq-trigger: the
 * kernel's OOM killer kills the biggest task.  The server itself has
 * oom_score_adj -1000, so that task is the workload.
 *
 * It also fires, whatever memory is free, when the swap path is wedged:
 * every task stalled on memory for 80% of each of 5 seconds in a row
 * while the server answered no request (REQUESTS_SERVED, a counter the
 * server increments, did not move), a client is connected, and it came
 * long enough ago that the kernel is not just waiting to resend what a
 * killed server lost (wedge-rule.h).  Everything the
 * guard needs when it fires (the two file descriptors, its thread and
 * stack) is made when it is armed: firing allocates nothing.
 */
#ifndef VSWAP_PRESSURE_GUARD_H
#define VSWAP_PRESSURE_GUARD_H

#include <stdatomic.h>
#include <stdint.h>

/* PSI window of the trigger in microseconds: the stall is measured over
 * one second (the kernel accepts 0.5 s to 10 s). */
#define PRESSURE_GUARD_WINDOW_US 1000000

/* Default: fire when all tasks were stalled on memory ("full") for
 * 300 ms of the last second.  See nbdkit-vswap-plugin(1) for the reason. */
#define PRESSURE_GUARD_DEFAULT_STALL_MS 300

/* Arm the guard: open the trigger ("full STALL WINDOW"), its totals and
 * /proc/sysrq-trigger, set this process's oom_score_adj as low as it is
 * allowed, and start the watching thread.  Returns 0, or -errno with
 * *what naming the step that failed (nothing is left armed then).  A
 * failed oom_score_adj is not a failure: *adj_error is set to its errno
 * (0 when it worked) and the guard runs anyway. */
int pressure_guard_start (unsigned stall_ms,
                          const atomic_uint_fast64_t *requests_served,
                          const char **what, int *adj_error);

/* A client connected, or went: the wedge rule counts only while one is
 * connected, and gives time to a client that connects to a server with
 * none (see wedge-rule.h).  Safe whether or not the guard is armed; they
 * allocate nothing. */
void pressure_guard_connected (void);
void pressure_guard_disconnected (void);

/* Disarm: stop the thread and close the files.  Safe when not armed. */
void pressure_guard_stop (void);

/* How many times the guard has asked the OOM killer to act. */
uint64_t pressure_guard_firings (void);

/* What the guard saw, for the statistics. */
struct pressure_guard_counters {
  uint64_t firings;             /* OOM kills asked for */
  uint64_t events;              /* trigger events (stalls over the limit) */
  uint64_t skipped;             /* events left alone: memory was free */
  uint64_t skipped_free_kib;    /* MemFree at the last one left alone */
  uint64_t wedges;              /* firings for a wedge (see below) */
};
void pressure_guard_counters (struct pressure_guard_counters *counters);

#endif /* VSWAP_PRESSURE_GUARD_H */
