#!/usr/bin/env bash
# On a board for real (issue 17): a Debian 12 guest with systemd as PID 1
# installs the vswap package built from this tree, formats its second
# virtio disk, writes the one documented line of /etc/nbdtab and reboots;
# swap must then be active on /dev/nbd0 by itself, page-verifier must
# swap through it with every page verified, and a clean poweroff must turn
# swap off before nbd-client detaches and before the server stops (read
# from the journal at the next boot), with vswap check clean in between.
#
# The root file system is built once with mmdebstrap (tests/guest/
# build-rootfs) and cached; each run boots a copy-on-write overlay of it.
# The package is built here with dpkg-buildpackage from a copy of the
# source tree, unless VSWAP_DEB names one.  QEMU runs with TCG
# (-accel tcg,thread=multi).  In make check-long; skips (77) without
# QEMU, mmdebstrap, dpkg-buildpackage or root, and in a sanitizer build.
set -u

. "$(dirname "$0")/guest/common.sh"
guest_require VSWAP VSWAP_PAGE_VERIFIER
command -v qemu-img >/dev/null || skip "qemu-img is not installed (apt-get install qemu-utils)"
[ -n "${VSWAP_SOURCE-}" ] || fail "VSWAP_SOURCE is not set: run this through make check-long"
if [ -z "${VSWAP_DEB-}" ]; then
  command -v dpkg-buildpackage >/dev/null && dpkg-query -W -f='${Status}' debhelper 2>/dev/null | grep -q "ok installed" ||
    skip "dpkg-buildpackage or debhelper is missing (scripts/install-deps), and VSWAP_DEB names no package"
fi

guest_workdir systemd
mem=${VSWAP_GUEST_MEM:-512}
timeout_s=${VSWAP_GUEST_TIMEOUT:-1500}

# ---- the root file system (cached) ---------------------------------------
t0=$(date +%s)
guest_run "$guestdir/build-rootfs" --out "$workdir"
status=$?
[ $status = 77 ] && skip "build-rootfs skipped (see above)"
[ $status = 0 ] || fail "build-rootfs exited $status (see above)"
. "$workdir/rootfs.env"
echo "build-rootfs: $(( $(date +%s) - t0 )) s"

# ---- the package ---------------------------------------------------------
deb=${VSWAP_DEB-}
if [ -z "$deb" ]; then
  t0=$(date +%s)
  mkdir -p "$workdir/deb/vswap"
  if git -C "$VSWAP_SOURCE" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$VSWAP_SOURCE" && git ls-files -co --exclude-standard | while read -r f; do
       [ -e "$f" ] && printf '%s\n' "$f"
     done | tar -c -T - | tar -x -C "$workdir/deb/vswap") || fail "copying the source"
  else
    (cd "$VSWAP_SOURCE" && tar -c --exclude='./build*' --exclude='./_build' . |
       tar -x -C "$workdir/deb/vswap") || fail "copying the source"
  fi
  (cd "$workdir/deb/vswap" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) \
    > "$workdir/deb/build.log" 2>&1 ||
    { tail -n 30 "$workdir/deb/build.log" >&2; fail "dpkg-buildpackage failed"; }
  deb=$(ls "$workdir"/deb/vswap_*.deb)
  echo "dpkg-buildpackage: $(( $(date +%s) - t0 )) s, $(basename "$deb")"
fi
[ -f "$deb" ] || fail "no package: $deb"

# ---- the disks: root overlay, the medium, the steps ----------------------
qemu-img create -q -f qcow2 -F raw -b "$ROOTFS" "$workdir/root.qcow2" || fail "qemu-img create"
truncate -s 1G "$workdir/medium.img" || fail "truncate"
mkdir "$workdir/steps"
cp "$deb" "$workdir/steps/vswap.deb"
cp "$VSWAP_PAGE_VERIFIER" "$workdir/steps/page-verifier"
cp "$guestdir/systemd-step" "$workdir/steps/guest-step"
chmod +x "$workdir/steps/guest-step" "$workdir/steps/page-verifier"
cat > "$workdir/steps/settings" <<EOF
mib=${VSWAP_GUEST_MIB:-384}
passes=${VSWAP_GUEST_PASSES:-2}
limit=${VSWAP_GUEST_LIMIT:-96}
EOF
tar -C "$workdir/steps" -cf "$workdir/steps.tar" . || fail "tar"

# boot LABEL: run QEMU until the guest powers off (through however many
# reboots), with the hard limit; the console goes to console-LABEL.log.
boot () {
  local label=$1 status start
  start=$(date +%s.%N)
  guest_run timeout --kill-after=10 "$timeout_s" \
    qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -m "$mem" \
      -display none -no-user-config -nodefaults -serial "file:$workdir/console-$label.log" \
      -kernel "$KERNEL" -initrd "$INITRD" \
      -append "root=/dev/vda rw console=ttyS0 loglevel=4 systemd.show_status=0 panic=-1" \
      -drive "file=$workdir/root.qcow2,if=virtio,format=qcow2,cache=unsafe" \
      -drive "file=$workdir/medium.img,if=virtio,format=raw,cache=none,aio=threads" \
      -drive "file=$workdir/steps.tar,if=virtio,format=raw,readonly=on" \
      -device virtio-rng-pci
  status=$?
  cp "$workdir/console-$label.log" "$workdir/console.log"
  echo "QEMU ($label): exit $status after $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s"
  grep -a '^GUEST-' "$workdir/console-$label.log" | tr -d '\r'
  [ $status = 124 ] && { guest_console_tail 1 60; fail "$label: no poweroff within $timeout_s s"; }
  return $status
}

# Boots 1 and 2 in one QEMU: install, format, configure, reboot; swap
# comes up by itself, the verifier runs, poweroff.
boot install-and-swap || { guest_console_tail 1 60; fail "QEMU exited with an error"; }
grep -aq '^GUEST-RESULT: FAIL' "$workdir/console.log" && { guest_console_tail 1 80; fail "$(grep -a '^GUEST-RESULT:' "$workdir/console.log" | tail -n 1 | tr -d '\r')"; }
grep -aq '^GUEST-NEXT: poweroff' "$workdir/console.log" || { guest_console_tail 1 80; fail "the guest did not get through its swap boot"; }

# The store as the clean poweroff left it.
echo "---- vswap check on the medium after the poweroff"
"$VSWAP" check "$workdir/medium.img" > "$workdir/check.out" 2>&1
check_status=$?
cat "$workdir/check.out"
[ $check_status = 0 ] || fail "vswap check: exit $check_status"
"$VSWAP" inspect "$workdir/medium.img" | grep -E "^Lifetime|media / host|^  used:|projected life" 

# Boot 3: the journal of the last shutdown.
boot journal || { guest_console_tail 1 60; fail "QEMU exited with an error"; }
result=$(grep -a '^GUEST-RESULT:' "$workdir/console.log" | tail -n 1 | tr -d '\r')
case $result in
  "GUEST-RESULT: PASS"*) echo "$result" ;;
  *) guest_console_tail 1 80; fail "${result:-no verdict from the journal boot}" ;;
esac
exit 0
