#!/usr/bin/env bash
# The systemd units (systemd/) and vswap-generator: from an /etc/nbdtab
# of vswap lines and other lines, the generator makes units for the vswap
# lines only, skips bad ones with a message, orders the swap unit after
# the attach and the attach after the server (the shutdown order runs
# backwards), ties the server to its medium; and systemd-analyze verify
# finds nothing wrong with the units it makes.  The order is shown on a
# real boot by test-guest-systemd.sh (make check-long).
set -u

. "$(dirname "$0")/functions.sh"

requires_env VSWAP_SYSTEMD_BUILD
generator=$VSWAP_SYSTEMD_BUILD/vswap-generator
[ -x "$generator" ] || fail "$generator has not been built"

make_tmpdir systemd-units
out=$tmp/out
mkdir "$out"

cat >"$tmp/nbdtab" <<'NBDTAB'
# swap through vswap on an SD card's partition, and on a file
nbd0 /run/vswap/nbd0.sock vswap unix,bs=4096,_vswap=/dev/mmcblk0p3
nbd3	/run/vswap/nbd3.sock	vswap	unix,_vswap=/var/lib/vswap/store   # a file
# not vswap's
nbd1 server.example swapexport swap,persist
# vswap's, but wrong: no unix, a relative medium, not an NBD device
nbd2 /run/vswap/nbd2.sock vswap bs=4096,_vswap=/dev/sdb
nbd4 /run/vswap/nbd4.sock vswap unix,_vswap=store
sda /run/vswap/sda.sock vswap unix,_vswap=/dev/sdb
NBDTAB

VSWAP_NBDTAB=$tmp/nbdtab "$generator" "$out" "$tmp/early" "$tmp/late" 2>"$tmp/err" ||
  fail "the generator failed: $(cat "$tmp/err")"
for bad in nbd2 nbd4 sda; do
  grep -q "$bad.*line skipped" "$tmp/err" || fail "$bad: no message: $(cat "$tmp/err")"
  ls "$out" | grep -q "$bad" && fail "$bad: units were made: $(ls -R "$out")"
done
[ "$(wc -l <"$tmp/err")" = 3 ] || fail "messages: $(cat "$tmp/err")"
ls "$out" | grep -q nbd1 && fail "nbd1 is not vswap's, but units were made"

# unit FILE KEY VALUE: FILE has the line KEY=VALUE.
has () { grep -qxF "$2=$3" "$out/$1" || fail "$1 lacks $2=$3: $(cat "$out/$1")"; }
has dev-nbd0.swap What /dev/nbd0
has dev-nbd0.swap Options discard
has dev-nbd0.swap Requires nbd@nbd0.service
has dev-nbd0.swap After nbd@nbd0.service
has dev-nbd0.swap Before umount.target
[ -L "$out/swap.target.wants/dev-nbd0.swap" ] || fail "dev-nbd0.swap is not wanted by swap.target"
has nbd@nbd0.service.d/vswap.conf Requires vswap@nbd0.socket
has nbd@nbd0.service.d/vswap.conf After "vswap@nbd0.socket vswap@nbd0.service"
has vswap@nbd0.socket.d/listen.conf ListenStream /run/vswap/nbd0.sock
has vswap@nbd0.service.d/medium.conf BindsTo dev-mmcblk0p3.device
has vswap@nbd0.service.d/medium.conf After dev-mmcblk0p3.device
has vswap@nbd0.service.d/medium.conf Environment '"VSWAP_STORE=/dev/mmcblk0p3"'
has vswap@nbd0.service.d/medium.conf DeviceAllow "/dev/mmcblk0p3 rw"
has vswap@nbd3.service.d/medium.conf RequiresMountsFor /var/lib/vswap/store
has vswap@nbd3.service.d/medium.conf ReadWritePaths /var/lib/vswap/store

# The shipped units: an owner-only socket, a server with two capabilities.
units=$tmp/units
mkdir "$units"
cp "$VSWAP_SYSTEMD_SOURCE/vswap@.socket" "$VSWAP_SYSTEMD_BUILD/vswap@.service" "$units/"
grep -qxF "SocketMode=0600" "$units/vswap@.socket" || fail "the socket is not owner-only"
grep -qxF "CapabilityBoundingSet=CAP_IPC_LOCK CAP_SYS_RESOURCE" "$units/vswap@.service" ||
  fail "the server's capabilities are not bounded"

if command -v systemd-analyze >/dev/null && [ -f /lib/systemd/system/nbd@.service ]; then
  SYSTEMD_UNIT_PATH=$out:$units: systemd-analyze verify --man=no \
    dev-nbd0.swap nbd@nbd0.service vswap@nbd0.socket vswap@nbd0.service \
    >"$tmp/verify" 2>&1 || true
  # Debian's nbd@.service earns a remark of its own; ours must earn none.
  if grep -v "Before=dev-nbd[0-9]*.device ignored" "$tmp/verify" | grep -q .; then
    fail "systemd-analyze verify: $(cat "$tmp/verify")"
  fi
else
  echo "no systemd-analyze or no nbd@.service (nbd-client): units not verified"
fi
exit 0
