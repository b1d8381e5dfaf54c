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
# test-guest-nbd-client.sh (VSWAP_GUEST_MEMORY, _MIB, _PASSES, _ORDER,
# _LIMIT, _TIMEOUT, _KEEP).  VSWAP_GUEST_TRACE=PATH records the kernel's request
# stream there (the plugin's trace=PATH key) for vswap replay and
# bench/endurance --kernel-trace.
set -u
. "$(dirname "$0")/guest/common.sh"
guest_require VSWAP_PLUGIN VSWAP VSWAP_PAGE_VERIFIER
command -v nbdkit >/dev/null || fail "nbdkit is not installed"

# 256 MiB: at 192 the workload's cgroup (2/3 of what is available) is
# so small that the memory cgroup's OOM killer struck while swap-out to
# the host was still under way.
memory=${VSWAP_GUEST_MEMORY:-256}
mib=${VSWAP_GUEST_MIB:-$((3 * memory))}
passes=${VSWAP_GUEST_PASSES:-1}
order=${VSWAP_GUEST_ORDER:-sequential}
pagecluster=${VSWAP_GUEST_PAGE_CLUSTER:-5}
limit=${VSWAP_GUEST_LIMIT:-128}
timeout_s=${VSWAP_GUEST_TIMEOUT:-600}

guest_workdir qemu-nbd
guest_build

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
  GUEST_APPEND="vswap.mode=vda vswap.mib=$mib vswap.passes=$passes vswap.order=$order vswap.limit=$limit vswap.pagecluster=$pagecluster"
# shellcheck disable=SC2016
guest_run env LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0 \
nbdkit -f -U - "$VSWAP_PLUGIN" "store=$store" "statsfile=$stats" \
  ${VSWAP_GUEST_TRACE:+"trace=$VSWAP_GUEST_TRACE" trace-reads=yes} \
  --run 'unset LD_PRELOAD
         exec "$GUEST_RUN" --guest "$GUEST_DIR" --log "$GUEST_DIR/console.log" \
           --memory "$GUEST_MEMORY" --timeout "$GUEST_TIMEOUT" --quiet \
           --append "$GUEST_APPEND" \
           --drive "file=nbd+unix:///?socket=$unixsocket,if=virtio,format=raw,cache=none,discard=unmap,werror=report,rerror=report"' \
  > "$workdir/run.out" 2> "$workdir/nbdkit.err"
status=$?
log=$workdir/console.log
cat "$workdir/run.out"
if [ -s "$workdir/nbdkit.err" ]; then
  echo "---- nbdkit's messages ----"
  cat "$workdir/nbdkit.err"
fi
if [ $status != 0 ]; then
  guest_console_tail $status 80
  fail "nbdkit --run run-guest exited $status"
fi

"$VSWAP" check "$store" > "$workdir/check.out" 2>&1 ||
  { cat "$workdir/check.out"; fail "vswap check $store after the guest"; }

# ---- figures -----------------------------------------------------------------
result=$(grep -a '^GUEST-RESULT:' "$log" | tail -n 1 | tr -d '\r')
[ -s "$stats" ] || fail "nbdkit wrote no statistics to $stats"
stats=$(cat "$stats")
guest_verifier_figures "$result"
guest_store_figures "$stats"
guest_store_verdict "$stats"
echo "ok   $result"
