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

fail () { echo "FAIL: $*" >&2; exit 1; }
skip () { echo "SKIP: $*" >&2; exit 77; }

command -v qemu-system-x86_64 >/dev/null ||
  skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
[ -n "${VSWAP_PLUGIN-}" ] || fail "VSWAP_PLUGIN is not set: run this through make check"
[ -n "${VSWAP-}" ] || fail "VSWAP is not set: run this through make check"
[ -n "${VSWAP_PAGE_VERIFIER-}" ] || fail "VSWAP_PAGE_VERIFIER is not set"
[ -n "${VSWAP_NBD_RECONNECT-}" ] || fail "VSWAP_NBD_RECONNECT is not set"
guestdir=${VSWAP_GUEST_SCRIPTS:-$(cd "$(dirname "$0")" && pwd)/guest}

memory=${VSWAP_GUEST_MEMORY:-256}
mib=${VSWAP_GUEST_MIB:-$((3 * memory))}
passes=${VSWAP_GUEST_PASSES:-1}
pagecluster=${VSWAP_GUEST_PAGE_CLUSTER:-5}
limit=${VSWAP_GUEST_LIMIT:-128}
kills=${VSWAP_GUEST_KILLS:-3}
every=${VSWAP_GUEST_KILL_EVERY:-20}
timeout_s=${VSWAP_GUEST_TIMEOUT:-900}
plugin_keys=${VSWAP_GUEST_PLUGIN:+ vswap.plugin=$VSWAP_GUEST_PLUGIN}

workdir=$(mktemp -d "$PWD/guest-kill.XXXXXX") || exit 1
child=
finish () {
  local status=$?
  trap '' INT TERM HUP
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  if [ "${VSWAP_GUEST_KEEP-}" = 1 ]; then
    echo "kept $workdir" >&2
  else
    rm -rf "$workdir"
  fi
  exit $status
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

t0=$(date +%s)
"$guestdir/build-guest" --out "$workdir" --reconnect "$VSWAP_NBD_RECONNECT" &
child=$!
wait $child
status=$?
child=
[ $status = 0 ] || fail "build-guest exited $status (see above)"
echo "build-guest: $(( $(date +%s) - t0 )) s"

"$guestdir/run-guest" --guest "$workdir" --log "$workdir/console.log" \
  --memory "$memory" --timeout "$timeout_s" --quiet \
  --append "vswap.mode=kill vswap.kills=$kills vswap.killevery=$every vswap.mib=$mib vswap.passes=$passes vswap.limit=$limit vswap.pagecluster=$pagecluster$plugin_keys" \
  > "$workdir/run.out" 2>&1 &
child=$!
wait $child
status=$?
child=
log=$workdir/console.log
cat "$workdir/run.out"
grep -a -E '^GUEST-(KILL|KILLS|RECONNECT):' "$log" | tr -d '\r'
grep -a -E '^GUEST-NBDKIT: .*write buffer' "$log" | tr -d '\r'
if [ $status != 0 ]; then
  echo "---- the guest's console (last 80 lines) ----" >&2
  tail -n 80 "$log" | tr -d '\r' >&2
  [ $status = 77 ] && fail "run-guest skipped although qemu-system-x86_64 exists"
  fail "run-guest exited $status"
fi

# ---- figures -----------------------------------------------------------------
result=$(grep -a '^GUEST-RESULT:' "$log" | tail -n 1 | tr -d '\r')
stats=$(grep -a '^GUEST-STATS:' "$log" | tail -n 1 | tr -d '\r' | sed 's/^GUEST-STATS: //')
field () { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
stat () { echo "$stats" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
pages=$(field "$result" pages)
seconds=$(field "$result" seconds)
killed=$(grep -a '^GUEST-KILLS:' "$log" | tr -d '\r' | awk '{ print $2 }')
reconnects=$(grep -a -c '^GUEST-RECONNECT: .*reconnected' "$log")
replays=$(grep -a -c 'they are written now' "$log")
echo "kills:           ${killed:-0} of $kills (every $every s), nbd-reconnect reattached $reconnects times, $replays restarts replayed a write buffer"
echo "pages verified:  $pages ($mib MiB x $passes passes) in $seconds s"
echo "kernel swap:     pswpout $(field "$result" pswpout), pswpin $(field "$result" pswpin)"
echo "last server:     host wrote $(stat host_write_pages) pages, errors: checksum $(stat checksum_failures), io $(stat io_errors), enospc $(stat enospc_errors)"

bad=
[ "${killed:-0}" -gt 0 ] 2>/dev/null || bad="$bad; no kill happened while the verifier ran"
[ "$reconnects" -ge "${killed:-0}" ] || bad="$bad; nbd-reconnect reattached $reconnects times for $killed kills"
[ -z "$stats" ] || { [ "$(stat checksum_failures)" = 0 ] && [ "$(stat io_errors)" = 0 ]; } ||
  bad="$bad; the last server counted errors"
[ -z "$bad" ] || fail "${bad#; }"
echo "ok   $result"
