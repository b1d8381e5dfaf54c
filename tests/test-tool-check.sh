#!/usr/bin/env bash
# vswap check: a clean store checks clean; one flipped bit in one stored
# record is found and named by its logical page, and that page (and no
# other) reads as EIO through the core.  check never writes.
set -u

. "$(dirname "$0")/functions.sh"

requires_program VSWAP
[ -n "${STORE_WRITE-}" ] && [ -x "$STORE_WRITE" ] \
  || skip "STORE_WRITE (tests/store-write) has not been built"
command -v python3 >/dev/null || skip "python3 is missing (it flips the bit)"

make_tmpdir tool-check

# flip HEX: flip one bit in the middle of the only place HEX (16 bytes of
# a raw page that store-write printed) occurs on the medium.
flip () {
  python3 - "$store" "$1" <<'PY' || fail "could not damage the record"
import sys
path, needle = sys.argv[1], bytes.fromhex(sys.argv[2])
with open(path, "r+b") as f:
    data = f.read()
    where = data.find(needle)
    assert where >= 0, "raw data not found on the medium"
    assert data.find(needle, where + 1) < 0, "raw data found twice"
    f.seek(where + 7)
    f.write(bytes([data[where + 7] ^ 0x10]))
PY
}

# damaged PAGE... : check finds exactly these pages, names each, writes
# nothing; they read as EIO, and every other page reads back right.
damaged () {
  local n=$# page before bad
  before=$(cksum <"$store")
  run 1 "$VSWAP" check "$store"
  [ "$(cksum <"$store")" = "$before" ] || fail "check modified the store"
  cp "$out" "$tmp/check"
  grep -Eq "records checked, $n pages? failing," "$tmp/check" \
    || fail "summary: $(cat "$tmp/check")"
  for page in "$@"; do
    grep -v "records checked" "$tmp/check" \
      | grep -Eq "page[^0-9]*\b$page\b" \
      || fail "check did not name logical page $page: $(cat "$tmp/check")"
    run 1 "$STORE_WRITE" --read "$page" "$store"
    grep -qx "page $page: EIO" "$out" \
      || fail "damaged page $page does not read as EIO: $(cat "$out")"
  done
  run 1 "$STORE_WRITE" --pages $pages --read-all "$store"
  bad=$(grep -v ": ok\$" "$out" | tr '\n' ' ')
  [ "$bad" = "$(printf 'page %s: EIO ' "$@")" ] \
    || fail "expected EIO for pages $* only, got: $bad"
  [ "$(grep -c ": ok\$" "$out")" = $((pages - n)) ] \
    || fail "not every other page reads back right: $(cat "$out")"
}

store=$tmp/store
pages=128
run 0 "$VSWAP" format --buffered --size 64M --compress zstd "$store"
# Two batches, each flushed and closed: damage in an older batch and in
# the newest one must both be EIO, never an older copy or zeros.
run 0 "$STORE_WRITE" --pages 64 "$store"
raw1=$(sed -n 's/^raw_page=//p' "$out")
hex1=$(sed -n 's/^raw_hex=//p' "$out")
run 0 "$STORE_WRITE" --first 64 --pages 64 "$store"
raw2=$(sed -n 's/^raw_page=//p' "$out")
hex2=$(sed -n 's/^raw_hex=//p' "$out")
[ -n "$raw1" ] && [ -n "$hex1" ] && [ -n "$raw2" ] && [ -n "$hex2" ] \
  || fail "store-write printed no raw page"

### Clean.
run 0 "$VSWAP" check "$store"
grep -q "records checked, 0 pages failing, 0 notes" "$out" || fail "summary: $(cat "$out")"
run 0 "$STORE_WRITE" --pages $pages --read-all "$store"

### One bit flipped in a record of the older batch.
flip "$hex1"
damaged "$raw1"

### And one in the newest batch.
flip "$hex2"
damaged "$raw1" "$raw2"

### Could not run: exit 2.
truncate -s 64M "$tmp/zeros"
run 2 "$VSWAP" check "$tmp/zeros"
grep -q "not a vswap store" "$err" || fail "not a store: $(cat "$err")"
run 2 "$VSWAP" check "$tmp/missing"
run 2 "$VSWAP" check
run 2 "$VSWAP" check "$store" "$store"
run 2 "$VSWAP" check --bogus "$store"

echo PASS
