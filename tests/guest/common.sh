# vswap: what the guest tests (tests/test-guest-*.sh) share, beyond
# tests/functions.sh (which this sources).  Sourced, in bash, after
# "set -u":
#
#   guest_require VAR...    skip (77) in a sanitizer build or without QEMU,
#                           fail when a variable make check exports is unset
#   guest_workdir NAME      a fresh $workdir in the build tree (on disk, not
#                           tmpfs), removed at exit unless VSWAP_GUEST_KEEP=1;
#                           the exit trap stops the running $child (and its
#                           children first: QEMU under run-guest or nbdkit)
#   guest_build [ARGS...]   tests/guest/build-guest --out $workdir ARGS
#   guest_run COMMAND...    runs COMMAND as $child, waits, returns its status
#   guest_console_tail STATUS LINES
#                           after a failed run: the console's last lines
#   field TEXT KEY          KEY=value out of a GUEST-RESULT line
#   json_number JSON KEY    a number out of the plugin's statistics
#                           (bench/swap-report get: JSON is Python's job)
#   guest_verifier_figures RESULT
#                           boot time (from $workdir/run.out), pages verified
#                           and MiB/s ($mib, $passes), pswpout/pswpin
#   guest_store_figures JSON, guest_store_verdict JSON
#                           the figures every swap test prints, and the
#                           checks on them (errors, trims, elided pages)

. "$(dirname "$0")/functions.sh"

guest_require () {
  local v
  [ -z "${VSWAP_SANITIZERS-}" ] ||
    skip "a sanitizer build: the guest's nbdkit cannot load an ASan plugin"
  command -v qemu-system-x86_64 >/dev/null ||
    skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
  for v in "$@"; do
    [ -n "${!v-}" ] || fail "$v is not set: run this through make check"
  done
  guestdir=${VSWAP_GUEST_SCRIPTS:-$(cd "$(dirname "$0")" && pwd)/guest}
}

child=
guest_finish () {
  local p
  if [ -n "$child" ]; then
    # The child's children first (QEMU, or run-guest under nbdkit --run):
    # then the child has nothing left to wait for.
    for p in $(ps -o pid= --ppid "$child" 2>/dev/null); do
      kill -TERM "$p" 2>/dev/null
    done
    sleep 1
    kill -TERM "$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  if [ "${VSWAP_GUEST_KEEP-}" = 1 ]; then
    echo "kept $workdir" >&2
  else
    rm -rf "$workdir"
  fi
}

guest_workdir () {
  workdir=$(mktemp -d "$PWD/guest-$1.XXXXXX") || exit 1
  cleanup_fn guest_finish
}

guest_run () {
  local status
  "$@" &
  child=$!
  wait $child
  status=$?
  child=
  return $status
}

guest_build () {
  local t0 status
  t0=$(date +%s)
  guest_run "$guestdir/build-guest" --out "$workdir" "$@"
  status=$?
  [ $status = 0 ] || fail "build-guest exited $status (see above)"
  echo "build-guest: $(( $(date +%s) - t0 )) s"
}

guest_console_tail () {       # STATUS LINES
  echo "---- the guest's console (last $2 lines) ----" >&2
  tail -n "$2" "$workdir/console.log" 2>/dev/null | tr -d '\r' >&2
  [ "$1" = 77 ] && fail "run-guest skipped although qemu-system-x86_64 exists"
}

field () { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
swap_report=$(cd "$(dirname "$0")/.." && pwd)/bench/swap-report
json_number () { python3 "$swap_report" get "$1" "$2"; }

guest_verifier_figures () {   # GUEST-RESULT LINE
  local pages seconds
  pages=$(field "$1" pages)
  seconds=$(field "$1" seconds)
  echo "boot:            $(sed -n 's/^boot: //p' "$workdir/run.out")"
  echo "pages verified:  $pages ($mib MiB x $passes passes${order:+, $order order}) in $seconds s, $(awk -v p="$pages" -v s="$seconds" 'BEGIN { printf "%.1f", (s > 0) ? p * 4 / 1024 / s : 0 }') MiB/s"
  echo "kernel swap:     pswpout $(field "$1" pswpout), pswpin $(field "$1" pswpin)"
}

guest_store_figures () {      # STATISTICS
  python3 "$swap_report" figures "$1"
}

# Fails the test when the store counted errors or saw no swap traffic,
# no trim (swapon --discard) or no elided page.
guest_store_verdict () {      # STATISTICS
  local bad
  bad=$(python3 "$swap_report" verdict "$1") || fail "$bad"
}
