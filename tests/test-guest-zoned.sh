#!/usr/bin/env bash
# vswap on a zoned block device, in a real Linux guest: QEMU (TCG) emulates
# a zoned NVMe namespace (ZNS: 4 MiB zones, at most 2 open and 2 active),
# which the host kernel here could not offer.  In the guest (see
# tests/guest/init, vswap.mode=zoned): vswap format /dev/nvme0n1 must take
# its geometry from the zones (segments are zones, the open-segment budget
# from max_open_zones/max_active_zones), nbdkit vswap serves it,
# nbd-client, mkswap, swapon --discard, page-verifier touches 3x the guest's
# RAM from a memory cgroup; then a clean close and vswap check.  Two more
# lives follow: serve again (appending at the zones' write pointers), swap
# half as much, kill -9 the server (a crash: zones left open), check;
# serve again (the zones the crash left open must be finished, or the
# device refuses a new active zone), swap a quarter, close, check.
#
# Passes when the guest says GUEST-RESULT: PASS, format reported the zone
# geometry, the store reset zones (GC or trims freed segments) and counted
# no I/O or checksum errors: the device itself refuses a write off the
# write pointer or a third active zone, so an error count of 0 is the
# proof that vswap kept both rules.  Prints the figures.
#
# Skips (77) without qemu-system-x86_64.  Knobs as in
# test-guest-nbd-client.sh (VSWAP_GUEST_MEMORY, _MIB, _PASSES, _LIMIT,
# _TIMEOUT, _KEEP), VSWAP_GUEST_ZONES (default 128 zones of 4 MiB) and
# VSWAP_GUEST_ZONE_LIMIT (max_open and max_active of the namespace,
# default 2; with 1 the store must share one segment between user data
# and GC).
set -u
. "$(dirname "$0")/guest/common.sh"
guest_require VSWAP_PLUGIN VSWAP VSWAP_PAGE_VERIFIER
qemu-system-x86_64 -device nvme-ns,help 2>/dev/null | grep -q zoned ||
  skip "this QEMU has no zoned NVMe namespaces (nvme-ns zoned=true, QEMU 6.0+)"

memory=${VSWAP_GUEST_MEMORY:-256}
mib=${VSWAP_GUEST_MIB:-$((3 * memory))}
passes=${VSWAP_GUEST_PASSES:-1}
limit=${VSWAP_GUEST_LIMIT:-128}
timeout_s=${VSWAP_GUEST_TIMEOUT:-1500}
zones=${VSWAP_GUEST_ZONES:-128}
zone_mib=4
zone_limit=${VSWAP_GUEST_ZONE_LIMIT:-2}
budget=$(( zone_limit < 2 ? zone_limit : 2 ))

guest_workdir zoned
guest_build

# The zoned namespace: a sparse file on the host, 4 KiB blocks.  The
# virtio disk run-guest always gives the guest stays small and unused.
truncate -s $((zones * zone_mib))M "$workdir/zns.img" || exit 1
guest_run "$guestdir/run-guest" --guest "$workdir" --log "$workdir/console.log" \
  --disk-size 16M --memory "$memory" --timeout "$timeout_s" --quiet \
  --append "vswap.mode=zoned vswap.mib=$mib vswap.passes=$passes vswap.limit=$limit vswap.pagecluster=5" \
  -- -device nvme,id=nvme0,serial=vswap-zns \
  -drive "file=$workdir/zns.img,id=zns,format=raw,if=none,cache=unsafe" \
  -device "nvme-ns,drive=zns,bus=nvme0,nsid=1,logical_block_size=4096,physical_block_size=4096,zoned=true,zoned.zone_size=${zone_mib}M,zoned.max_open=$zone_limit,zoned.max_active=$zone_limit" \
  > "$workdir/run.out" 2>&1
status=$?
log=$workdir/console.log
cat "$workdir/run.out"
if [ $status != 0 ]; then
  guest_console_tail $status 100
  fail "run-guest exited $status"
fi

# ---- figures -----------------------------------------------------------------
lines () { grep -a "^$1" "$log" | tr -d '\r' | sed "s/^$1 *//"; }
result=$(lines GUEST-RESULT: | tail -n 1)
stats=$(lines GUEST-STATS: | tail -n 1)
stats2=$(lines GUEST-STATS-LIFE2: | tail -n 1)
stats3=$(lines GUEST-STATS-LIFE3: | tail -n 1)
echo "zoned device:    $(lines GUEST-ZONED: | head -n 1)"
lines GUEST-FORMAT: | grep -E 'medium:|segment size|segments:|open segments|geometry from' | sed 's/^ */format:          /'
echo "pages verified:  $(field "$result" pages) ($mib MiB x $passes passes) in $(field "$result" seconds) s; kernel pswpout $(field "$result" pswpout), pswpin $(field "$result" pswpin)"
for s in "$stats" "$stats2" "$stats3"; do
  [ -n "$s" ] || fail "the guest printed no plugin statistics"
  echo "store:           host wrote $(json_number "$s" host_write_pages) pages, media wrote $(json_number "$s" media_write_bytes) bytes, discarded $(json_number "$s" media_discard_bytes) bytes ($(json_number "$s" segments_erased) segments erased = zone resets), gc $(json_number "$s" gc_runs) runs, trims $(json_number "$s" trim_requests), errors: io $(json_number "$s" io_errors) checksum $(json_number "$s" checksum_failures) enospc $(json_number "$s" enospc_errors)"
done
lines GUEST-ZONED: | tail -n +2 | sed 's/^/zones:           /'

bad=
lines GUEST-FORMAT: | grep -q 'zoned block device' || bad="$bad; format did not open the namespace as zoned"
lines GUEST-FORMAT: | grep -q "segment size: *$zone_mib MiB" || bad="$bad; the segment size is not the zone size"
lines GUEST-FORMAT: | grep -q "open segments: *$budget (the medium allows $zone_limit)" || bad="$bad; the open-segment budget is not $budget"
for s in "$stats" "$stats2" "$stats3"; do
  [ "$(json_number "$s" io_errors)" = 0 ] && [ "$(json_number "$s" checksum_failures)" = 0 ] &&
    [ "$(json_number "$s" enospc_errors)" = 0 ] || bad="$bad; the store counted errors"
done
[ "$(json_number "$stats" segments_erased)" -gt 0 ] 2>/dev/null || bad="$bad; no zone was reset"
[ -z "$bad" ] || fail "${bad#; }"
echo "ok   $result"
