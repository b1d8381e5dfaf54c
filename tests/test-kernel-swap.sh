#!/usr/bin/env bash
# The kernel swaps through vswap for real: scripts/swap-through serves a
# store with the uninstalled plugin, mounts it with nbdfuse, swaps onto a
# direct-I/O loop device over it with discard, and runs page-verifier in a
# 48 MiB memory cgroup while it touches 192 MiB (4x).  Then:
#   - every page the workload wrote came back right, on every pass;
#   - the kernel really swapped (pswpout covers at least the overflow);
#   - zero pages cost the media no page: they are counted (pages_zero) and
#     what the media gained while they were written is record headers and
#     padding only (Linux >= 6.12 keeps zero pages out of swap itself, so
#     swap-through also writes zeros through the device after swapoff,
#     the way Linux 6.1 swaps them);
#   - same-filled pages arrived from swap and every byte the media took is
#     accounted for by data payloads plus per-record overhead: no page of
#     the same-filled (or zero) kind was stored;
#   - swapon --discard reached the store as trims covering the swap area;
#   - nothing is left behind: no swap, no loop device, no mount, no server,
#     no cgroup.
# Takes about a minute (longer on a loaded machine).  Skips (77) without root, /dev/fuse, loop devices,
# nbdfuse or a memory cgroup.
set -u

. "$(dirname "$0")/functions.sh"

requires_env VSWAP_PLUGIN VSWAP VSWAP_PAGE_VERIFIER VSWAP_SWAP_THROUGH
requires_root "swapon, losetup and cgroups need root"
[ -c /dev/fuse ] || skip "no /dev/fuse"
[ -e /dev/loop-control ] || modprobe loop 2>/dev/null
[ -e /dev/loop-control ] || skip "no loop device support"
requires_cmd nbdkit nbdfuse fusermount3 losetup mkswap swapon python3 timeout setsid
has_memory_cgroup () {
  local m
  while read -r m; do
    grep -qw memory "$m/cgroup.controllers" 2>/dev/null && return 0
  done < <(awk '$3 == "cgroup2" { print $2 }' /proc/mounts)
  awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { f = 1 } END { exit !f }' /proc/mounts
}
has_memory_cgroup || skip "no memory cgroup controller (v1 or v2)"
[ -f "$VSWAP_PLUGIN" ] || fail "$VSWAP_PLUGIN has not been built"
[ -x "$VSWAP" ] || fail "$VSWAP has not been built"
[ -x "$VSWAP_PAGE_VERIFIER" ] || fail "$VSWAP_PAGE_VERIFIER has not been built"

# The verifier checks itself first: a damaged page must be caught.
"$VSWAP_PAGE_VERIFIER" --mib 4 --passes 2 --corrupt 100 --quiet >/dev/null 2>&1
[ $? = 1 ] || fail "page-verifier does not notice a damaged page"

# In the build tree, on disk: /tmp may be tmpfs, and a store on tmpfs can
# itself be swapped out.
workdir=$(mktemp -d "$PWD/kernel-swap.XXXXXX") || exit 1
results=$workdir/results.json
child=
finish () {
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  # Only a SIGKILLed swap-through leaves WORKDIR/state; undo it.
  if [ -f "$workdir/state" ]; then
    "$VSWAP_SWAP_THROUGH" --cleanup "$workdir" >&2 || exit_status=1
  fi
  if [ -f "$workdir/state" ]; then
    echo "FAIL: $workdir/state is left: see it" >&2
    exit_status=1
    return
  fi
  rm -rf "$workdir"
}
cleanup_fn finish

# In the background, so that a signal to this test is passed on and
# swap-through gets to clean up.
"$VSWAP_SWAP_THROUGH" --verifier "$VSWAP_PAGE_VERIFIER" \
  --limit 48 --mib 192 --passes 2 --timeout 240 --zero-probe 16 \
  --results "$results" \
  "$VSWAP_PLUGIN" "$VSWAP" "$workdir" &
child=$!
wait $child
status=$?
child=
[ $status = 77 ] && skip "swap-through skipped (see above)"
[ -s "$results" ] || fail "swap-through exited $status without results"
[ $status = 0 ] || fail "swap-through exited $status"

python3 - "$results" <<'EOF' || fail "see above"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["stats"]
failures = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)

check(r["verifier_status"] == 0 and r["mismatches"] == 0
      and r["pages_verified"] == r["pages_expected"],
      "verifier: %d of %d pages verified, %s mismatches, status %d"
      % (r["pages_verified"], r["pages_expected"], r["mismatches"], r["verifier_status"]))

# /proc/vmstat is global (other swap areas, other tests count too); the
# loop device's own counters and the cgroup's swap usage are ours alone.
# The workload overflows its cgroup by (mib - limit) MiB: at least half
# of that (a fifth of the pages are zero, which Linux >= 6.12 keeps out
# of swap) must have been written to the device and charged as swap.
overflow = (r["workload_mib"] - r["limit_mib"]) * 256
check(r["pswpout"] > 0 and r["pswpin"] > 0,
      "kernel swapped: pswpout %d, pswpin %d (global)" % (r["pswpout"], r["pswpin"]))
check(r["device_write_pages"] >= overflow // 2 and r["device_read_pages"] > 0,
      "this device: %d pages written >= %d, %d read"
      % (r["device_write_pages"], overflow // 2, r["device_read_pages"]))
check(r["cgroup_swap_peak_kib"] >= overflow * 4 // 2,
      "the workload's cgroup had %d KiB in swap at its peak >= %d KiB"
      % (r["cgroup_swap_peak_kib"], overflow * 4 // 2))
check(s["host_write_pages"] >= r["device_write_pages"],
      "the store saw every page written to the device: %d page writes >= %d"
      % (s["host_write_pages"], r["device_write_pages"]))

unit = r["address_unit"]
# A record's header and alignment, and its entry in the summary the next
# chunk carries (16 bytes for a range); per chunk its header, a PAD that
# keeps a summary 512 bytes from what it describes, and the headers of up
# to two summary records.
record_max = 32 + unit + 16
chunk_header = 64 + unit + 512 + unit + 2 * (72 + unit)

# Zero pages.  On Linux < 6.12 they come from swap itself.
check(s["pages_zero"] > 0, "pages_zero %d > 0" % s["pages_zero"])
if r["swpout_zero"] == 0:
    check(s["pages_zero"] > (r["zero_probe"] or {}).get("pages_zero", 0),
          "this kernel sends zero pages to swap, and the store elided some")
z = r["zero_probe"]
check(z is not None, "the zero-page probe ran")
if z:
    pages = z["host_write_pages"]
    check(pages == 16 * 256 and z["pages_zero"] == pages,
          "probe: %d zero pages written, pages_zero +%d" % (pages, z["pages_zero"]))
    allowed = pages * record_max + z["media_writes"] * chunk_header + z["media_padding_bytes"]
    check(z["media_write_bytes"] <= allowed,
          "probe: media +%d bytes for %d zero pages <= %d (records + chunk headers + "
          "padding; storing them would be %d)"
          % (z["media_write_bytes"], pages, allowed, pages * 4096))

# Same-filled pages from swap; media bytes all accounted for by payloads.
check(s["pages_same_filled"] > 0, "pages_same_filled %d > 0 (from swap)" % s["pages_same_filled"])
payload = s["compressed_output_bytes"] + s["pages_raw"] * 4096
records = s["host_write_pages"] + 3 * (s["trim_requests"] + s["zero_requests"])
overhead = (records * record_max + s["media_writes"] * chunk_header
            + s["media_padding_bytes"] + s["gc_bytes_moved"])
check(s["media_write_bytes"] <= payload + overhead,
      "media %d bytes <= data payloads %d + overhead bound %d: the %d zero and %d "
      "same-filled pages cost no payload (%d bytes if stored)"
      % (s["media_write_bytes"], payload, overhead, s["pages_zero"],
         s["pages_same_filled"], (s["pages_zero"] + s["pages_same_filled"]) * 4096))
check(s["media_write_bytes"] < s["host_write_bytes"],
      "media/host %.3f < 1" % (s["media_write_bytes"] / s["host_write_bytes"]))

# swapon --discard trims the whole area (all but the header page) at once.
area = s["logical_pages"] * 4096
check(s["trim_requests"] > 0 and s["host_trim_bytes"] >= area - 1024 * 1024,
      "trims: %d requests, %d bytes >= swap area %d - 1 MiB"
      % (s["trim_requests"], s["host_trim_bytes"], area))

check(s["checksum_failures"] == 0 and s["io_errors"] == 0 and s["enospc_errors"] == 0
      and s["readin_eio"] == 0,
      "no checksum, I/O, ENOSPC or read-in errors")
check(r["server_exit_status"] == 0,
      "nbdkit exited with status %d after TERM" % r["server_exit_status"])
sys.exit(1 if failures else 0)
EOF

# Nothing left behind.
{ read -r loopdev; read -r server_pid; read -r cgroup; read -r mountdir; } < <(
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("loopdev", "server_pid", "cgroup", "mountdir"):
    print(r[k])' "$results")
! grep -q "^$loopdev " /proc/swaps || fail "$loopdev is still swap"
[ "$(cat "/sys/block/${loopdev#/dev/}/loop/backing_file" 2>/dev/null)" != "$mountdir/nbd" ] ||
  fail "$loopdev is still attached to $mountdir/nbd"
! awk -v m="$mountdir" '$2 == m { f = 1 } END { exit !f }' /proc/mounts ||
  fail "$mountdir is still mounted"
! kill -0 "$server_pid" 2>/dev/null || fail "nbdkit $server_pid is still running"
[ ! -d "$cgroup" ] || fail "cgroup $cgroup is left"
[ ! -f "$workdir/state" ] || fail "swap-through left $workdir/state"
echo "ok   nothing left behind"
