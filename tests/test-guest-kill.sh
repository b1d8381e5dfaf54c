#!/usr/bin/env bash
# The server may die; the pages may not.  A real Linux guest swaps through
# vswap as in test-guest-nbd-client.sh (nbdkit vswap serving the virtio
# disk on a unix socket, page-verifier in a memory cgroup), but /dev/nbd0
# is attached by nbd-reconnect (netlink, with a dead-connection timeout, so
# that the kernel holds the requests while no server listens and resends
# them to the next one), and nbdkit is killed with SIGKILL and restarted on
# the same store, several times, in the middle of the swapping.  Swap never
# flushes: the pages the killed server had acknowledged but not yet written
# come back from its write buffer (buffer=, here in the guest's /run).
#
# Passes when the guest says GUEST-RESULT: PASS (every page verified after
# the kills, the kernel swapped, vswap check is clean afterwards), at least
# one kill happened while the verifier ran, nbd-reconnect reattached after
# each, and the last server counted no checksum or I/O errors.  Prints the
# kills, the pages verified and the time.
#
# Knobs: those of test-guest-nbd-client.sh, and VSWAP_GUEST_KILLS (default
# 3), VSWAP_GUEST_KILL_EVERY (seconds, default 20), VSWAP_GUEST_PLUGIN
# (extra plugin keys, commas between: buffer=none shows what the test
# catches without the write buffer).  Skips (77) without
# qemu-system-x86_64.
set -u
. "$(dirname "$0")/guest/common.sh"
guest_require VSWAP_PLUGIN VSWAP VSWAP_PAGE_VERIFIER VSWAP_NBD_RECONNECT

memory=${VSWAP_GUEST_MEMORY:-256}
mib=${VSWAP_GUEST_MIB:-$((3 * memory))}
passes=${VSWAP_GUEST_PASSES:-1}
pagecluster=${VSWAP_GUEST_PAGE_CLUSTER:-5}
limit=${VSWAP_GUEST_LIMIT:-128}
kills=${VSWAP_GUEST_KILLS:-3}
every=${VSWAP_GUEST_KILL_EVERY:-20}
timeout_s=${VSWAP_GUEST_TIMEOUT:-900}
plugin_keys=${VSWAP_GUEST_PLUGIN:+ vswap.plugin=$VSWAP_GUEST_PLUGIN}

guest_workdir kill
guest_build --reconnect "$VSWAP_NBD_RECONNECT"

guest_run "$guestdir/run-guest" --guest "$workdir" --log "$workdir/console.log" \
  --memory "$memory" --timeout "$timeout_s" --quiet \
  --append "vswap.mode=kill vswap.kills=$kills vswap.killevery=$every vswap.mib=$mib vswap.passes=$passes vswap.limit=$limit vswap.pagecluster=$pagecluster$plugin_keys" \
  > "$workdir/run.out" 2>&1
status=$?
log=$workdir/console.log
cat "$workdir/run.out"
grep -a -E '^GUEST-(KILL|KILLS|RECONNECT):' "$log" | tr -d '\r'
grep -a -E '^GUEST-NBDKIT: .*write buffer' "$log" | tr -d '\r'
if [ $status != 0 ]; then
  guest_console_tail $status 80
  fail "run-guest exited $status"
fi

# ---- figures -----------------------------------------------------------------
result=$(grep -a '^GUEST-RESULT:' "$log" | tail -n 1 | tr -d '\r')
stats=$(grep -a '^GUEST-STATS:' "$log" | tail -n 1 | tr -d '\r' | sed 's/^GUEST-STATS: //')
pages=$(field "$result" pages)
seconds=$(field "$result" seconds)
killed=$(grep -a '^GUEST-KILLS:' "$log" | tr -d '\r' | awk '{ print $2 }')
reconnects=$(grep -a -c '^GUEST-RECONNECT: .*reconnected' "$log")
replays=$(grep -a -c 'they are written now' "$log")
echo "kills:           ${killed:-0} of $kills (every $every s), nbd-reconnect reattached $reconnects times, $replays restarts replayed a write buffer"
echo "pages verified:  $pages ($mib MiB x $passes passes) in $seconds s"
echo "kernel swap:     pswpout $(field "$result" pswpout), pswpin $(field "$result" pswpin)"
echo "last server:     host wrote $(json_number "$stats" host_write_pages) pages, errors: checksum $(json_number "$stats" checksum_failures), io $(json_number "$stats" io_errors), enospc $(json_number "$stats" enospc_errors)"

bad=
[ "${killed:-0}" -gt 0 ] 2>/dev/null || bad="$bad; no kill happened while the verifier ran"
[ "$reconnects" -ge "${killed:-0}" ] || bad="$bad; nbd-reconnect reattached $reconnects times for $killed kills"
[ -z "$stats" ] || { [ "$(json_number "$stats" checksum_failures)" = 0 ] && [ "$(json_number "$stats" io_errors)" = 0 ]; } ||
  bad="$bad; the last server counted errors"
[ -z "$bad" ] || fail "${bad#; }"
echo "ok   $result"
