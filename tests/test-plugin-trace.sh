#!/usr/bin/env bash
# The plugin's trace=PATH key: nbdcopy writes an image through nbdkit (a
# parallel client: several requests in flight), nbdkit exits, and
# vswap replay runs the trace against a fresh store: every byte written
# was recorded (nothing lost at exit), and the replayed store reads back
# the same image; --card-time prints card-seconds both ways.  A trace path that cannot be created stops nbdkit.
set -u

. "$(dirname "$0")/functions.sh"

requires_env VSWAP_PLUGIN VSWAP_MAKE_STORE VSWAP
requires_cmd nbdkit nbdcopy

make_tmpdir plugin-trace
export TRACE_TEST=$tmp

"$VSWAP_MAKE_STORE" "$tmp/store" 64M 16M || fail "make-store"
# 16 MiB: random first half, zeros, then a text-like quarter.
head -c 8M /dev/urandom > "$tmp/image"
head -c 4M /dev/zero >> "$tmp/image"
yes "vswap trace test line" | head -c 4M >> "$tmp/image"

vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$tmp/store" "trace=$tmp/trace" \
  --run 'unset LD_PRELOAD; nbdcopy --requests=8 "$TRACE_TEST/image" "$uri"' \
  2> "$tmp/err" || { cat "$tmp/err" >&2; fail "nbdcopy through nbdkit"; }
[ -s "$tmp/trace" ] || fail "no trace written"

# --medium takes an existing file (replay formats it): make one.
"$VSWAP_MAKE_STORE" "$tmp/replayed" 64M 16M || fail "make-store"
"$VSWAP" replay "$tmp/trace" --medium "$tmp/replayed" --json \
  > "$tmp/replay.json" 2> "$tmp/err" ||
  { cat "$tmp/err" >&2; fail "vswap replay"; }
grep -q '"errors":0' "$tmp/replay.json" || fail "replay errors: $(cat "$tmp/replay.json")"
# Zeros may reach the plugin as zero requests, not writes: host bytes
# written are at least the 12 MiB that are not zeros.
written=$(sed -n 's/.*"host_write_bytes":\([0-9]*\).*/\1/p' "$tmp/replay.json")
[ "$written" -ge $((12 << 20)) ] ||
  fail "the trace holds $written bytes of writes, expected at least 12 MiB"

# The card's time model: card-seconds through vswap and straight onto
# the card, only with --card-time.
seconds () { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$tmp/timed.json"; }
"$VSWAP" replay "$tmp/trace" --size 64M --erase-block 4M --straight \
  --card-time --json > "$tmp/timed.json" 2> "$tmp/err" ||
  { cat "$tmp/err" >&2; fail "vswap replay --card-time"; }
awk -v a="$(seconds card_seconds)" -v b="$(seconds straight_card_seconds)" \
  'BEGIN { exit !(a > 0 && b > 0) }' ||
  fail "replay --card-time: no card-seconds: $(cat "$tmp/timed.json")"
"$VSWAP" replay "$tmp/trace" --size 64M --erase-block 4M --straight \
  --json > "$tmp/timed.json" 2> "$tmp/err" ||
  { cat "$tmp/err" >&2; fail "vswap replay --straight"; }
[ "$(seconds card_seconds)" = 0.000 ] && [ "$(seconds straight_card_seconds)" = 0.000 ] ||
  fail "card-seconds without --card-time: $(cat "$tmp/timed.json")"

# The replayed store serves the same image.
vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$tmp/replayed" \
  --run 'unset LD_PRELOAD; nbdcopy "$uri" "$TRACE_TEST/back"' 2> "$tmp/err" ||
  { cat "$tmp/err" >&2; fail "reading the replayed store"; }
cmp <(head -c 16M "$tmp/back") "$tmp/image" ||
  fail "the replayed store does not read back the image"

# A trace that cannot be created is an error at start.
if vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$tmp/store" \
     "trace=$tmp/no/such/dir/trace" --run true 2> "$tmp/err"; then
  fail "nbdkit started with an uncreatable trace"
fi
grep -q "trace" "$tmp/err" || fail "the error does not name the trace: $(cat "$tmp/err")"
echo "trace: $(stat -c %s "$tmp/trace") bytes for 16 MiB written; replay: $(cat "$tmp/replay.json")"
