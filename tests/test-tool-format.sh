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

# A file with MAGIC (printf escapes) at byte OFFSET of 64 MiB of zeros.
signed_file () {
  local file=$1 offset=$2 magic=$3
  rm -f "$file"
  truncate -s 64M "$file" || fail "truncate"
  printf "$magic" | dd of="$file" bs=1 seek="$offset" conv=notrunc \
                       status=none || fail "dd"
}

# refused FILE WHAT: format is refused, names WHAT and --force, and leaves
# FILE unchanged, with or without --size.
refused () {
  local file=$1 what=$2 before
  before=$(sum "$file")
  run 1 "$VSWAP" format --buffered "$file"
  grep -q "contains $what" "$err" || fail "did not name $what: $(cat "$err")"
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

### Other people's signatures.
f=$tmp/foreign
signed_file "$f" 1080 '\x53\xef';          refused "$f" "an ext2 filesystem"
signed_file "$f" 4086 'SWAPSPACE2';        refused "$f" "a Linux swap area"
signed_file "$f" 4086 'SWAP-SPACE';        refused "$f" "a Linux swap area"
signed_file "$f" 0 'XFSB';                 refused "$f" "an XFS filesystem"
signed_file "$f" 65600 '_BHRfS_M';         refused "$f" "a btrfs filesystem"
signed_file "$f" 510 '\x55\xaa';           refused "$f" "an MBR partition table"
signed_file "$f" 512 'EFI PART';           refused "$f" "a GPT partition table"
signed_file "$f" 0 'LUKS\xba\xbe';         refused "$f" "a LUKS encrypted volume"
signed_file "$f" 54 'FAT16   ';            refused "$f" "a FAT filesystem"
signed_file "$f" 82 'FAT32   ';            refused "$f" "a FAT filesystem"
signed_file "$f" 32769 'CD001';            refused "$f" "an ISO 9660 filesystem"
signed_file "$f" 0 'hsqs';                 refused "$f" "a squashfs filesystem"

# The real tools, where we have them.
if command -v mkswap >/dev/null; then
  rm -f "$f"; truncate -s 64M "$f"
  mkswap "$f" >/dev/null 2>&1 || fail "mkswap failed"
  refused "$f" "a Linux swap area"
else
  echo "mkswap is missing: testing a hand-made swap signature only"
fi
if command -v mkfs.ext4 >/dev/null; then
  rm -f "$f"; truncate -s 64M "$f"
  mkfs.ext4 -q -F "$f" >/dev/null 2>&1 || fail "mkfs.ext4 failed"
  refused "$f" "an ext4 filesystem"
  grep -q "contains an ext4 filesystem: refusing to overwrite it; pass --force if you are sure" \
       "$err" || fail "message: $(cat "$err")"
else
  echo "mkfs.ext4 is missing: testing a hand-made ext signature only"
fi

# --force goes through, and the result is a store.
run 0 "$VSWAP" format --buffered --force "$f"
grep -q "overwriting" "$err" || fail "--force did not say what it overwrote"
run 0 "$VSWAP" inspect "$f"

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
