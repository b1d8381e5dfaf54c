#!/usr/bin/env bash
# A real Linux guest swaps through vswap, the way a small machine would
# swap onto an SD card: under QEMU (TCG), the guest's virtio disk plays the
# card; the guest formats it with vswap format, serves it with nbdkit vswap
# on a unix socket, attaches it with nbd-client, mkswap, swapon --discard,
# and page-verifier touches 3x the guest's RAM from a memory cgroup, then
# checks every page on every pass.  See tests/guest/.
#
# Passes when the guest says GUEST-RESULT: PASS (every page verified, the
# kernel swapped in and out, vswap check is clean afterwards) and the
# plugin's statistics show trims, elided zero and same-filled pages and no
# checksum, I/O, ENOSPC or read-in errors.  Prints the figures.
#
# The first run downloads a Debian kernel package (about 70 MB) into
# $VSWAP_GUEST_CACHE (default /var/tmp/vswap-guest); later runs reuse it.
# Skips (77) only without qemu-system-x86_64.  Needs busybox-static,
# nbd-client, nbdkit, cpio and apt-get with Debian's package lists.
#
# Knobs: VSWAP_GUEST_MEMORY (MiB, default 192), VSWAP_GUEST_MIB (default
# 3 x memory), VSWAP_GUEST_PASSES (default 1), VSWAP_GUEST_PAGE_CLUSTER
# (vm.page-cluster, default 5), VSWAP_GUEST_LIMIT (cgroup
# MiB, default 128), VSWAP_GUEST_TIMEOUT (seconds, default 600),
# VSWAP_GUEST_KEEP=1 keeps the console log and the disk image.
set -u

fail () { echo "FAIL: $*" >&2; exit 1; }
skip () { echo "SKIP: $*" >&2; exit 77; }

[ -z "${VSWAP_SANITIZERS-}" ] ||
  skip "a sanitizer build: the guest's nbdkit cannot load an ASan plugin"
command -v qemu-system-x86_64 >/dev/null ||
  skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
[ -n "${VSWAP_PLUGIN-}" ] || fail "VSWAP_PLUGIN is not set: run this through make check"
[ -n "${VSWAP-}" ] || fail "VSWAP is not set: run this through make check"
[ -n "${VSWAP_PAGE_VERIFIER-}" ] || fail "VSWAP_PAGE_VERIFIER is not set"
guestdir=${VSWAP_GUEST_SCRIPTS:-$(cd "$(dirname "$0")" && pwd)/guest}

# 192 MiB (of which the kernel and the initramfs take about 110): the
# verifier still touches 3x the guest's RAM, and the two
# guest tests together fit CI's time (about 5 minutes here).
memory=${VSWAP_GUEST_MEMORY:-192}
mib=${VSWAP_GUEST_MIB:-$((3 * memory))}
passes=${VSWAP_GUEST_PASSES:-1}
pagecluster=${VSWAP_GUEST_PAGE_CLUSTER:-5}
limit=${VSWAP_GUEST_LIMIT:-128}
timeout_s=${VSWAP_GUEST_TIMEOUT:-600}

workdir=$(mktemp -d "$PWD/guest-nbd-client.XXXXXX") || exit 1
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
"$guestdir/build-guest" --out "$workdir" &
child=$!
wait $child
status=$?
child=
[ $status = 0 ] || fail "build-guest exited $status (see above)"
echo "build-guest: $(( $(date +%s) - t0 )) s"

# The run-guest child has its own traps: it kills QEMU on TERM.
"$guestdir/run-guest" --guest "$workdir" --log "$workdir/console.log" \
  --memory "$memory" --timeout "$timeout_s" --quiet \
  --append "vswap.mode=nbd-client vswap.mib=$mib vswap.passes=$passes vswap.limit=$limit vswap.pagecluster=$pagecluster vswap.overcommit=1" \
  > "$workdir/run.out" 2>&1 &
child=$!
wait $child
status=$?
child=
log=$workdir/console.log
cat "$workdir/run.out"
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
echo "boot:            $(sed -n 's/^boot: //p' "$workdir/run.out")"
echo "pages verified:  $pages ($mib MiB x $passes passes) in $seconds s, $(awk -v p="$pages" -v s="$seconds" 'BEGIN { printf "%.1f", (s > 0) ? p * 4 / 1024 / s : 0 }') MiB/s"
echo "kernel swap:     pswpout $(field "$result" pswpout), pswpin $(field "$result" pswpin)"
[ -n "$stats" ] || fail "the guest printed no plugin statistics (GUEST-STATS)"
echo "store:           host wrote $(stat host_write_pages) pages ($(stat host_write_bytes) bytes), media wrote $(stat media_write_bytes) bytes: media/host $(stat media_per_host_bytes)"
echo "elided:          $(stat pages_zero) zero and $(stat pages_same_filled) same-filled pages (no payload)"
echo "trims:           $(stat trim_requests) requests, $(stat host_trim_bytes) bytes"
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
