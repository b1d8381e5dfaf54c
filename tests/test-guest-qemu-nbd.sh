#!/usr/bin/env bash
# A real Linux guest swaps through vswap with QEMU as the NBD client: the
# host serves a store file with nbdkit vswap on a unix socket, QEMU gives
# it to the guest as its virtio disk (-drive file=nbd+unix:///?socket=…),
# and the guest runs mkswap, swapon --discard /dev/vda and page-verifier
# over 3x its RAM from a memory cgroup.  See tests/guest/.
#
# Passes when the guest says GUEST-RESULT: PASS, nbdkit exits cleanly,
# vswap check finds the store clean, and the plugin's statistics show
# trims, elided zero and same-filled pages and no errors.
#
# Skips (77) only without qemu-system-x86_64.  Same knobs as
# test-guest-nbd-client.sh (VSWAP_GUEST_MEMORY, _MIB, _PASSES, _LIMIT,
# _TIMEOUT, _KEEP).  VSWAP_GUEST_TRACE=PATH records the kernel's request
# stream there (the plugin's trace=PATH key) for vswap replay and
# bench/endurance --kernel-trace.
set -u

fail () { echo "FAIL: $*" >&2; exit 1; }
skip () { echo "SKIP: $*" >&2; exit 77; }

[ -z "${VSWAP_SANITIZERS-}" ] ||
  skip "a sanitizer build: the guest tests run in the plain build (a guest under TCG with an ASan server would not fit CI's time)"
command -v qemu-system-x86_64 >/dev/null ||
  skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
[ -n "${VSWAP_PLUGIN-}" ] || fail "VSWAP_PLUGIN is not set: run this through make check"
[ -n "${VSWAP-}" ] || fail "VSWAP is not set: run this through make check"
[ -n "${VSWAP_PAGE_VERIFIER-}" ] || fail "VSWAP_PAGE_VERIFIER is not set"
command -v nbdkit >/dev/null || fail "nbdkit is not installed"
guestdir=${VSWAP_GUEST_SCRIPTS:-$(cd "$(dirname "$0")" && pwd)/guest}

# 256 MiB: at 192 the workload's cgroup (2/3 of what is available) is
# so small that the memory cgroup's OOM killer struck while swap-out to
# the host was still under way.
memory=${VSWAP_GUEST_MEMORY:-256}
mib=${VSWAP_GUEST_MIB:-$((3 * memory))}
passes=${VSWAP_GUEST_PASSES:-1}
pagecluster=${VSWAP_GUEST_PAGE_CLUSTER:-5}
limit=${VSWAP_GUEST_LIMIT:-128}
timeout_s=${VSWAP_GUEST_TIMEOUT:-600}

# In the build tree, on disk (not tmpfs).
workdir=$(mktemp -d "$PWD/guest-qemu-nbd.XXXXXX") || exit 1
child=
finish () {
  local status=$?
  trap '' INT TERM HUP
  if [ -n "$child" ]; then
    # run-guest first (nbdkit's --run child): it stops QEMU; then nbdkit.
    local p
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
  exit $status
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

t0=$(date +%s)
"$guestdir/build-guest" --out "$workdir" &
child=$!
wait $child
status=$?
child=
[ $status = 0 ] || fail "build-guest exited $status (see above)"
echo "build-guest: $(( $(date +%s) - t0 )) s"

store=$workdir/store
stats=$workdir/stats.json
# Room for the whole logical device even if nothing compressed: a full
# store pauses QEMU (werror=enospc), where no guest watchdog can act.
"$VSWAP" format --size 1200M --logical-size 1G "$store" > "$workdir/format.out" 2>&1 ||
  { cat "$workdir/format.out"; fail "vswap format $store"; }

# nbdkit --run: the server never outlives run-guest, and run-guest never
# outlives its hard timeout.  nbdkit unloads the plugin after it, which
# writes the last statistics.
preload=
[ -n "${VSWAP_NBDKIT_PRELOAD-}" ] && preload=$VSWAP_NBDKIT_PRELOAD
export GUEST_RUN="$guestdir/run-guest" GUEST_DIR="$workdir" GUEST_MEMORY="$memory" \
  GUEST_TIMEOUT="$timeout_s" \
  GUEST_APPEND="vswap.mode=vda vswap.mib=$mib vswap.passes=$passes vswap.limit=$limit vswap.pagecluster=$pagecluster"
# shellcheck disable=SC2016
LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 \
nbdkit -f -U - "$VSWAP_PLUGIN" "store=$store" "statsfile=$stats" \
  ${VSWAP_GUEST_TRACE:+"trace=$VSWAP_GUEST_TRACE" trace-reads=yes} \
  --run 'unset LD_PRELOAD
         exec "$GUEST_RUN" --guest "$GUEST_DIR" --log "$GUEST_DIR/console.log" \
           --memory "$GUEST_MEMORY" --timeout "$GUEST_TIMEOUT" --quiet \
           --append "$GUEST_APPEND" \
           --drive "file=nbd+unix:///?socket=$unixsocket,if=virtio,format=raw,cache=none,discard=unmap,werror=report,rerror=report"' \
  > "$workdir/run.out" 2> "$workdir/nbdkit.err" &
child=$!
wait $child
status=$?
child=
log=$workdir/console.log
cat "$workdir/run.out"
if [ -s "$workdir/nbdkit.err" ]; then
  echo "---- nbdkit's messages ----"
  cat "$workdir/nbdkit.err"
fi
if [ $status != 0 ]; then
  echo "---- the guest's console (last 80 lines) ----" >&2
  tail -n 80 "$log" 2>/dev/null | tr -d '\r' >&2
  fail "nbdkit --run run-guest exited $status"
fi

"$VSWAP" check "$store" > "$workdir/check.out" 2>&1 ||
  { cat "$workdir/check.out"; fail "vswap check $store after the guest"; }

# ---- figures -----------------------------------------------------------------
result=$(grep -a '^GUEST-RESULT:' "$log" | tail -n 1 | tr -d '\r')
[ -s "$stats" ] || fail "nbdkit wrote no statistics to $stats"
stats=$(cat "$stats")
field () { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
stat () { echo "$stats" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
pages=$(field "$result" pages)
seconds=$(field "$result" seconds)
echo "boot:            $(sed -n 's/^boot: //p' "$workdir/run.out")"
echo "pages verified:  $pages ($mib MiB x $passes passes) in $seconds s, $(awk -v p="$pages" -v s="$seconds" 'BEGIN { printf "%.1f", (s > 0) ? p * 4 / 1024 / s : 0 }') MiB/s"
echo "kernel swap:     pswpout $(field "$result" pswpout), pswpin $(field "$result" pswpin)"
echo "store:           host wrote $(stat host_write_pages) pages ($(stat host_write_bytes) bytes), media wrote $(stat media_write_bytes) bytes: media/host $(stat media_per_host_bytes)"
echo "elided:          $(stat pages_zero) zero and $(stat pages_same_filled) same-filled pages (no payload)"
echo "trims:           $(stat trim_requests) requests, $(stat host_trim_bytes) bytes; write-zeroes $(stat zero_requests)"
echo "reads:           $(stat host_read_pages) pages, readin_rereads $(stat readin_rereads)"
echo "gc:              $(stat gc_runs) runs, $(stat gc_bytes_moved) bytes moved, $(stat segments_erased) segments erased"
echo "errors:          checksum $(stat checksum_failures), io $(stat io_errors), enospc $(stat enospc_errors), readin_eio $(stat readin_eio)"

bad=
[ "$(stat checksum_failures)" = 0 ] && [ "$(stat io_errors)" = 0 ] &&
  [ "$(stat enospc_errors)" = 0 ] && [ "$(stat readin_eio)" = 0 ] ||
  bad="$bad; the store counted errors"
[ "$(stat trim_requests)" -gt 0 ] 2>/dev/null || bad="$bad; no trims reached the store (swapon --discard)"
[ "$(stat pages_zero)" -gt 0 ] 2>/dev/null || bad="$bad; no zero page was elided"
[ "$(stat pages_same_filled)" -gt 0 ] 2>/dev/null || bad="$bad; no same-filled page was elided"
[ "$(stat host_write_pages)" -gt 0 ] && [ "$(stat host_read_pages)" -gt 0 ] 2>/dev/null ||
  bad="$bad; the store saw no swap traffic"
[ -z "$bad" ] || fail "${bad#; }"
echo "ok   $result"
