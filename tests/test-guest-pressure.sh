#!/usr/bin/env bash
# The server must survive memory pressure: RUNS page-verifier runs in a
# QEMU guest (TCG) that swaps through nbdkit vswap in the same guest
# (nbd-client mode, see tests/guest/init), with the watchdog
# (tests/guest/watchdog.c) turning a wedged swap path into a verdict.
#
#   test-guest-pressure.sh confined|global|baseline
#
#   confined  each run in a memory cgroup (memory.max below the verifier's
#             size): every page must be verified, no hang
#   global    no cgroup: the verifier exhausts the guest's RAM, server on
#             the same guest; each run must end verified or with the
#             verifier OOM-killed (the plugin's pressure guard), the
#             server alive and serving afterwards, and no hang
#   baseline  as global, but nbdkit's file plugin serves /dev/vda: a
#             report of what happens, not a test (exit 0 once every run
#             has an outcome, hangs included)
#
# A hang powers the guest off (the watchdog); the next boot goes on with
# the next run, so every run gets an outcome.  Prints a line per run and
# the server's VmLck, VmRSS and thread flags.  Not part of "make check":
# "make check-pressure" runs all three (about 10 to 15 minutes each).
#
# Knobs: VSWAP_PRESSURE_RUNS (20), VSWAP_GUEST_MEMORY (MiB, 256),
# VSWAP_PRESSURE_MIB (verifier MiB per run), VSWAP_PRESSURE_PASSES,
# VSWAP_PRESSURE_LIMIT (cgroup MiB, confined), VSWAP_PRESSURE_HANG
# (watchdog seconds, 60), VSWAP_PRESSURE_PLUGIN (more keys for nbdkit
# vswap, comma-separated, e.g. io-uring=yes; not for baseline),
# VSWAP_GUEST_KEEP=1 keeps the console logs, VSWAP_GUEST_KERNEL (6.1,
# the default, or 6.12: see tests/guest/build-guest).
set -u

. "$(dirname "$0")/guest/common.sh"

variant=${1-}
case $variant in
  confined|global|baseline) ;;
  *) echo "usage: $0 confined|global|baseline" >&2; exit 2 ;;
esac
guest_require VSWAP_PLUGIN VSWAP VSWAP_PAGE_VERIFIER VSWAP_GUEST_WATCHDOG

runs=${VSWAP_PRESSURE_RUNS:-20}
memory=${VSWAP_GUEST_MEMORY:-256}
hang=${VSWAP_PRESSURE_HANG:-60}
if [ "$variant" = confined ]; then
  mib=${VSWAP_PRESSURE_MIB:-80} passes=${VSWAP_PRESSURE_PASSES:-1}
  limit=${VSWAP_PRESSURE_LIMIT:-40}
else
  # 48 MiB more than the guest has available at the start of each run
  # (see vswap.mib=avail+N in tests/guest/init): the kernel must swap,
  # and the machine runs out of memory as a whole.
  mib=${VSWAP_PRESSURE_MIB:-avail+48} passes=${VSWAP_PRESSURE_PASSES:-1}
  limit=0
fi
server=vswap plugin=${VSWAP_PRESSURE_PLUGIN-}
[ "$variant" = baseline ] && server=file plugin=
case $plugin in *[!a-z0-9=,:-]*) fail "VSWAP_PRESSURE_PLUGIN=$plugin: give key=value,key=value" ;; esac

guest_workdir "pressure-$variant"
guest_build

t0=$(date +%s)
first=1 boot=0
: > "$workdir/runs"
while [ "$first" -le "$runs" ] && [ "$boot" -le "$runs" ]; do
  boot=$((boot + 1))
  log=$workdir/console-$boot.log
  left=$((runs - first + 1))
  "$guestdir/run-guest" --guest "$workdir" --log "$log" --memory "$memory" \
    --timeout $((120 + left * (hang + 120))) --quiet \
    --append "vswap.mode=nbd-client vswap.server=$server${plugin:+ vswap.plugin=$plugin} vswap.mib=$mib vswap.passes=$passes vswap.limit=$limit vswap.overcommit=1 vswap.pressure=$left vswap.pressure_first=$first vswap.hang=$hang" \
    > "$workdir/run-$boot.out" 2>&1 &
  child=$!
  # The guest prints a line every 15 s while its userspace lives.  A
  # console silent for much longer than the watchdog's limit means the
  # watchdog could not act either: stop QEMU rather than wait for the
  # hard timeout.
  silent=
  while kill -0 $child 2>/dev/null; do
    sleep 5
    if [ -f "$log" ] && [ $(( $(date +%s) - $(stat -c %Y "$log") )) -gt $((hang + 90)) ]; then
      silent="console silent for $((hang + 90)) s"
      kill -TERM $child 2>/dev/null
      break
    fi
  done
  wait $child
  child=
  tr -d '\r' < "$log" > "$log.txt"
  grep -a '^GUEST-RUN: ' "$log.txt" | sed 's/^GUEST-RUN: //' >> "$workdir/runs"
  grep -a '^GUEST-SERVER: ' "$log.txt" | sed "s/^/boot $boot: /" >> "$workdir/server"
  done_last=$(grep -a '^GUEST-RUN: ' "$log.txt" | tail -n 1 | awk '{ print $2 }')
  result=$(grep -a '^GUEST-RESULT:' "$log.txt" | tail -n 1)
  case $result in
    *"FAIL hang in run "*)
      n=$(echo "$result" | sed 's/.*hang in run \([0-9]*\).*/\1/')
      echo "$n hang ${result#*hang in run $n: }" >> "$workdir/runs"
      first=$((n + 1)) ;;
    *"pressure runs="*)
      break ;;
    *)
      # No verdict (hard timeout, or the guest died): the run after the
      # last reported one gets this as its outcome.
      n=$(( ${done_last:-$((first - 1))} + 1 ))
      echo "$n no-verdict ${silent:-$(tail -n 1 "$workdir/run-$boot.out")} $result" >> "$workdir/runs"
      echo "---- boot $boot: the console's last 40 lines ----"
      tail -n 40 "$log.txt"
      first=$((n + 1)) ;;
  esac
done
seconds=$(( $(date +%s) - t0 ))

echo "pressure $variant: server nbdkit $server${plugin:+ $plugin}, guest $memory MiB, verifier $mib MiB x $passes passes per run, cgroup limit $limit MiB, watchdog $hang s; $boot boots, $seconds s"
echo "---- per run ----"
sort -n -k1,1 "$workdir/runs" | sed 's/^/run /'
echo "---- the server (VmLck, VmRSS, thread flags) ----"
cat "$workdir/server" 2>/dev/null
echo "---- the guest's kernel messages of the last boot ----"
grep -a '^GUEST-DMESG:' "$log.txt" | tail -n 15

count () { awk -v w="$1" '$2 == w' "$workdir/runs" | wc -l; }
verified=$(count verified) killed=$(count oom-killed) hangs=$(count hang)
other=$(( $(wc -l < "$workdir/runs") - verified - killed - hangs ))
echo "summary: $variant runs=$runs verified=$verified oom_killed=$killed hang=$hangs other=$other"
[ "$(wc -l < "$workdir/runs")" = "$runs" ] || fail "$(wc -l < "$workdir/runs") outcomes for $runs runs"
case $variant in
  confined) [ "$verified" = "$runs" ] || fail "not every confined run verified every page" ;;
  global) [ $((verified + killed)) = "$runs" ] || fail "a global run hung, failed or lost the server" ;;
  baseline) ;;
esac
echo "ok   pressure $variant"
