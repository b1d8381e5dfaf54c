#!/usr/bin/env bash
# vswap format: creates a store and shows its geometry; refuses to destroy
# a store, a filesystem, a partition table or a swap area without --force,
# leaving the medium byte for byte as it was; rejects bad options with one
# line and exit 2 without creating or touching anything.
set -u

. "$(dirname "$0")/functions.sh"

requires_program VSWAP
command -v cksum >/dev/null || skip "cksum is missing"

make_tmpdir tool-format

sum () { cksum <"$1"; }

# refused FILE WHAT: format is refused, names WHAT and --force, and leaves
# FILE unchanged, with or without --size.
refused () {
  local file=$1 what=$2 before
  before=$(sum "$file")
  run 1 "$VSWAP" format --buffered "$file"
  cp "$err" "$tmp/refused.err"
  grep -qF "contains $what" "$err" || fail "did not name $what: $(cat "$err")"
  grep -q -- "--force" "$err" || fail "no --force hint: $(cat "$err")"
  [ "$(sum "$file")" = "$before" ] || fail "$what was modified"
  run 1 "$VSWAP" format --buffered --size 32M "$file"
  [ "$(sum "$file")" = "$before" ] || fail "$what was modified by --size"
}

store=$tmp/store

### Create a store, see the geometry.
run 0 "$VSWAP" format --buffered --size 64M --compress zstd "$store"
[ "$(stat -c %s "$store")" = 67108864 ] || fail "store is not 64 MiB"
for field in "capacity:" "segment size:" "segments:" "write unit:" \
             "logical size:" "compression:     zstd" "open segments:" \
             "uuid:"; do
  grep -q "$field" "$out" || fail "geometry lacks \"$field\": $(cat "$out")"
done
grep -q "capacity: *64 MiB" "$out" || fail "capacity is not 64 MiB"

# The chosen values show up.
run 0 "$VSWAP" format --buffered --force --size 16M --erase-block 1M \
    --logical-size 8M --open-segments 1 --compress zstd:3 "$store"
grep -q "segment size: *1 MiB" "$out" || fail "segment size: $(cat "$out")"
grep -q "logical size: *8 MiB" "$out" || fail "logical size: $(cat "$out")"
grep -q "open segments: *1\$" "$out" || fail "open segments: $(cat "$out")"
grep -q "zstd level 3" "$out" || fail "compression: $(cat "$out")"

### Our own store is refused, and left alone.
run 0 "$VSWAP" format --buffered --force --size 64M "$store"
# Without --compress: zstd, which the plugin's compress= may change.
grep -q "compression: *zstd level 1 (the plugin's compress= may change it)" "$out" ||
  fail "default compression: $(cat "$out")"
refused "$store" "a vswap store"
run 0 "$VSWAP" format --buffered --force "$store"
grep -q "overwriting" "$err" || fail "--force did not say what it overwrote"

### Other people's signatures, recognised and named by libblkid.
# Each is made by its own tool on a fresh 64 MiB file, refused without
# --force naming blkid's TYPE, left byte for byte as it was (with --size
# too), and overwritten with --force into a store that inspect opens.
f=$tmp/foreign
made=0
# foreign WHAT COMMAND...: COMMAND makes WHAT on $f (its last argument).
foreign () {
  local what=$1
  shift
  if ! command -v "$1" >/dev/null; then
    echo "$1 is missing: not testing $what"
    return
  fi
  rm -f "$f"
  truncate -s 64M "$f" || fail "truncate"
  "$@" >"$tmp/mkfs.out" 2>&1 || fail "$*: $(cat "$tmp/mkfs.out")"
  refused "$f" "$what"
  run 0 "$VSWAP" format --buffered --force "$f"
  grep -F "contains $what" "$err" | grep -qF "overwriting it (--force)" ||
    fail "--force did not say it overwrote $what: $(cat "$err")"
  run 0 "$VSWAP" inspect "$f"
  made=$((made + 1))
}
gpt () { printf 'label: gpt\n,16M\n' | sfdisk -q "$1"; }
mbr () { printf 'label: dos\n,16M\n' | sfdisk -q "$1"; }
foreign 'a filesystem of type "ext4"' mkfs.ext4 -q -F "$f"
grep -qF "contains a filesystem of type \"ext4\": refusing to overwrite it; pass --force if you are sure" \
     "$tmp/refused.err" || fail "message: $(cat "$tmp/refused.err")"
foreign 'a swap area of type "swap"' mkswap "$f"
foreign 'a filesystem of type "f2fs"' mkfs.f2fs -q -f "$f"
foreign 'a filesystem of type "exfat"' mkfs.exfat "$f"
foreign 'a filesystem of type "vfat"' mkfs.vfat "$f"
command -v sfdisk >/dev/null && foreign 'a partition table of type "gpt"' gpt "$f"
command -v sfdisk >/dev/null && foreign 'a partition table of type "dos"' mbr "$f"
# An LVM physical volume: pvcreate takes only block devices, so the file
# is a loop device for a moment (root only).  No MD member: mdadm needs
# the md driver to create an array, which this host may not have.
lvm_member () {
  local loop r
  loop=$(losetup -f --show "$1") || return 1
  LVM_SUPPRESS_FD_WARNINGS=1 pvcreate -ff -y --config \
    'devices { use_devicesfile=0 obtain_device_list_from_udev=0 } activation { udev_sync=0 udev_rules=0 }' \
    "$loop"
  r=$?
  losetup -d "$loop"
  return $r
}
if [ "$(id -u)" = 0 ] && command -v pvcreate >/dev/null &&
   losetup -f >/dev/null 2>&1; then
  foreign 'a RAID or LVM member of type "LVM2_member"' lvm_member "$f"
else
  echo "not root, or no pvcreate or loop device: not testing an LVM member"
fi
[ "$made" -ge 4 ] || skip "only $made of the mkfs tools are installed (scripts/install-deps)"

### Bad input: one line on stderr, exit 2, nothing created or changed.
bad () {
  local pattern=$1
  shift
  run 2 "$VSWAP" "$@"
  [ "$(wc -l <"$err")" = 1 ] || fail "not one line on stderr: $*: $(cat "$err")"
  grep -q -- "$pattern" "$err" || fail "\"$pattern\" not in: $(cat "$err")"
  [ ! -s "$out" ] || fail "something on stdout: $*: $(cat "$out")"
}
new=$tmp/new
bad "--erase-block 3K: not a power of two" format --size 64M --erase-block 3K "$new"
bad "give e.g. 4M" format --size 64M --erase-block 3K "$new"
bad "--erase-block 4K: not a power of two" format --size 64M --write-unit 8K --erase-block 4K "$new"
bad "--size 12Q: not a size" format --size 12Q "$new"
bad "--size 4KB: not a size" format --size 4KB "$new"
bad "--size 1000: not a whole number" format --size 1000 "$new"
bad "--size 0" format --size 0 "$new"
bad "--logical-size 5000" format --size 64M --logical-size 5000 "$new"
bad "--write-unit 3000" format --size 64M --write-unit 3000 "$new"
bad "--write-unit 256" format --size 64M --write-unit 256 "$new"
bad "--open-segments 0" format --size 64M --open-segments 0 "$new"
bad "--open-segments -1" format --size 64M --open-segments -1 "$new"
bad "--compress lz4" format --size 64M --compress lz4 "$new"
bad "--compress zstd:99" format --size 64M --compress zstd:99 "$new"
bad "--bogus" format --size 64M --bogus "$new"
bad "--force=yes" format --size 64M --force=yes "$new"
bad "--size needs a value" format "$new" --size
bad "no STORE" format --size 64M
bad "one STORE at a time" format --size 64M "$new" "$new.2"
[ ! -e "$new" ] || fail "bad input created $new"

before=$(sum "$store")
bad "--erase-block 3K" format --force --erase-block 3K "$store"
[ "$(sum "$store")" = "$before" ] || fail "bad input modified the store"

# Write units below 4K: the store writes from 4 KiB-aligned buffers, and
# such a store used to format, then abort the plugin at its first flush.
for unit in 512 1K 2K; do
  bad "--write-unit $unit: not a power of two from 4K to 1M" \
      format --buffered --size 64M --write-unit $unit "$new"
  bad "--write-unit $unit" format --buffered --force --write-unit $unit "$store"
done
[ ! -e "$new" ] || fail "a refused write unit created $new"
[ "$(sum "$store")" = "$before" ] || fail "a refused write unit modified the store"

# Geometries the store refuses: exit 2, one line naming the fix, and the
# file created for them does not stay behind.
for args in "--size 16M" "--size 64M --logical-size 32T" \
            "--size 64M --open-segments 3" \
            "--size 64M --logical-size 8G" \
            "--size 64M --write-unit 1M --erase-block 1M" \
            "--size 64M --write-unit 512K --erase-block 1M"; do
  run 2 "$VSWAP" format --buffered $args "$new"
  [ "$(wc -l <"$err")" = 1 ] || fail "$args: not one line: $(cat "$err")"
  [ ! -e "$new" ] || fail "a refused format ($args) left $new behind"
done

# A missing file needs --size.
run 1 "$VSWAP" format "$new"
grep -q -- "--size" "$err" || fail "missing file: no --size hint: $(cat "$err")"
[ ! -e "$new" ] || fail "format without --size created $new"

### The dispatcher.
run 0 "$VSWAP" --version
grep -q "^vswap [0-9]" "$out" || fail "--version: $(cat "$out")"
run 0 "$VSWAP" --help
grep -q "format" "$out" && grep -q "inspect" "$out" && grep -q "check" "$out" \
  || fail "--help does not list the commands"
for cmd in format inspect check; do
  run 0 "$VSWAP" $cmd --help
  grep -q "^Usage: vswap $cmd" "$out" || fail "$cmd --help: $(cat "$out")"
done
bad "unknown command \"frob\": the commands are format, inspect, check" frob
bad "no command" 

# Not a terminal and only 16 segments: no progress lines.
run 0 "$VSWAP" format --buffered --force "$store"
! grep -q "erasing" "$err" || fail "progress lines for a small store"

echo PASS
