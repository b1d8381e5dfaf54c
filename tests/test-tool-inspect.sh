#!/usr/bin/env bash
# vswap inspect: shows what a store holds, in text and as JSON, without
# changing a byte of it.
set -u

. "$(dirname "$0")/functions.sh"

requires_program VSWAP
command -v python3 >/dev/null || skip "python3 is missing (it checks the JSON)"

make_tmpdir tool-inspect

store=$tmp/store
run 0 "$VSWAP" format --buffered --size 64M --compress zstd "$store"
logical=$(sed -n 's/^ *logical size: .*(\([0-9]*\) bytes.*/\1/p' "$out")
uuid=$(sed -n 's/^ *uuid: *//p' "$out")
[ -n "$logical" ] && [ -n "$uuid" ] || fail "format output: $(cat "$out")"

### Text, fresh store.
before=$(cksum <"$store")
run 0 "$VSWAP" inspect "$store"
[ "$(cksum <"$store")" = "$before" ] || fail "inspect modified the store"
grep -q "logical size: .*($logical bytes" "$out" \
  || fail "logical size $logical not shown: $(cat "$out")"
grep -q "uuid: *$uuid\$" "$out" || fail "uuid $uuid not shown"
for field in "format version:" "generation:" "created:" "segment size:" \
             "unmapped:" "zero:" "same-filled:" "stored:" "dropped:" \
             "pages costing no medium bytes:" "stored live bytes:" \
             "compression ratio:" "0-10%" "90-100%" "free" "open" \
             "erase count:" "Metadata RAM:" "bytes per logical page"; do
  grep -q -- "$field" "$out" || fail "text lacks \"$field\": $(cat "$out")"
done
grep -q "stored: *0 pages" "$out" || fail "a fresh store has stored pages"

### JSON, fresh store.
run 0 "$VSWAP" inspect --json "$store"
python3 - "$out" "$logical" "$uuid" <<'PY' || fail "JSON: $(cat "$out")"
import json, sys
j = json.load(open(sys.argv[1]))
logical, uuid = int(sys.argv[2]), sys.argv[3]
for key in ("uuid", "format_version", "generation", "created", "geometry",
            "compression", "logical_size", "logical_pages", "map",
            "pages_costing_no_medium_bytes", "stored_live_bytes",
            "compression_ratio", "segments", "metadata",
            "recovery_warnings", "statistics"):
    assert key in j, key
assert j["uuid"] == uuid, j["uuid"]
assert j["logical_size"] == logical
assert j["logical_pages"] == logical // 4096
for key in ("unmapped", "zero", "same_filled", "stored", "dropped"):
    assert key in j["map"], key
assert j["map"]["unmapped"] == j["logical_pages"], j["map"]
assert j["compression_ratio"] is None
assert j["compression"]["algorithm"] == "zstd"
g = j["geometry"]
assert g["capacity"] == 64 << 20
assert g["segment_size"] > 0 and g["segment_count"] > 0
h = j["segments"]["histogram"]
assert list(h) == ["free"] + ["%d-%d%%" % (i, i + 10)
                              for i in range(0, 100, 10)] + ["open"], list(h)
assert sum(h.values()) == g["segment_count"], (h, g)
assert set(j["segments"]["erase_count"]) == {"min", "mean", "max"}
assert j["metadata"]["bytes"] > 0 and j["metadata"]["bytes_per_page"] > 0
assert isinstance(j["statistics"], dict) and j["statistics"]
PY

### A store with data in it (needs the core writer).
if [ -n "${STORE_WRITE-}" ] && [ -x "$STORE_WRITE" ]; then
  "$STORE_WRITE" --pages 64 "$store" >"$tmp/written" \
    || fail "store-write failed"
  run 0 "$VSWAP" inspect --json "$store"
  python3 - "$out" <<'PY' || fail "JSON after writes: $(cat "$out")"
import json, sys
j = json.load(open(sys.argv[1]))
m = j["map"]
# store-write: pages i%4 == 0 random, 1 zero, 2 same-filled, 3 text.
# Zeros written over a never-written page need no record, so those may
# stay unmapped.
assert m["stored"] == 32 and m["same_filled"] == 16, m
assert m["zero"] + m["unmapped"] == j["logical_pages"] - 48, m
assert j["pages_costing_no_medium_bytes"] == m["zero"] + 16
# 16 raw pages alone are 64 KiB of live records.
assert j["stored_live_bytes"] > 16 * 4096, \
    ("live bytes under 16 raw pages", j["stored_live_bytes"])
assert 0 < j["compression_ratio"] < 1, j["compression_ratio"]
assert j["segments"]["histogram"]["free"] < j["geometry"]["segment_count"]
PY
  run 0 "$VSWAP" inspect "$store"
  grep -q "stored: *32 pages" "$out" || fail "text after writes: $(cat "$out")"
  grep -q "same-filled: *16 pages" "$out" \
    || fail "same-filled pages: $(cat "$out")"
else
  echo "STORE_WRITE is not set: not testing a store with data"
fi

### Not a store, no such file, bad usage.
truncate -s 64M "$tmp/zeros"
run 1 "$VSWAP" inspect "$tmp/zeros"
grep -q "not a vswap store" "$err" || fail "not a store: $(cat "$err")"
run 1 "$VSWAP" inspect "$tmp/missing"
[ "$(wc -l <"$err")" = 1 ] || fail "missing file: $(cat "$err")"
run 2 "$VSWAP" inspect
run 2 "$VSWAP" inspect --bogus "$store"
[ "$(wc -l <"$err")" = 1 ] || fail "bad option: $(cat "$err")"

echo PASS
