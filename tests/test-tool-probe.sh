#!/usr/bin/env bash
# vswap probe: refuses without --destructive, and on simulated cards
# (whose cost is the pages the card programs, from the simulator's own
# counters) finds the configured AU size and open-AU count, and proposes
# a format line that uses them.
set -u

. "$(dirname "$0")/functions.sh"

requires_program VSWAP

make_tmpdir tool-probe

# Without --destructive: one line, exit 2, and the medium untouched.
truncate -s 8M "$tmp/card"
printf 'keep me' | dd of="$tmp/card" conv=notrunc status=none
"$VSWAP" probe "$tmp/card" >"$out" 2>"$err"
status=$?
[ $status = 2 ] || fail "probe without --destructive exited $status, expected 2"
[ "$(wc -l < "$err")" = 1 ] && grep -q -- '--destructive' "$err" ||
  fail "probe without --destructive: expected one line naming --destructive, got: $(cat "$err")"
[ "$(head -c 7 "$tmp/card")" = "keep me" ] || fail "probe without --destructive wrote to the medium"

# AU SIZE, OPEN AUS, the erase-block argument format should get.
for card in "1M 3 1M" "512K 2 512K" "4M 5 4M" "256K 8 256K"; do
  set -- $card
  au=$1 open=$2 arg=$3
  spec="sim:64M,erase-block=$au,au=$au,open-aus=$open,overwrite=on"
  "$VSWAP" probe --destructive "$spec" >"$out" 2>"$err" ||
    { cat "$out" "$err" >&2; fail "probe $spec exited $?"; }
  human=$(echo "$au" | sed 's/M$/ MiB/; s/K$/ KiB/')
  grep -q "erase block: *$human " "$out" ||
    { cat "$out" >&2; fail "probe $spec did not find the $au AU"; }
  grep -q "open AUs: *$open " "$out" ||
    { cat "$out" >&2; fail "probe $spec did not find $open open AUs"; }
  segments=$(( open >= 2 ? 2 : 1 ))
  grep -q "^Proposed: vswap format --erase-block $arg --open-segments $segments $spec\$" "$out" ||
    { cat "$out" >&2; fail "probe $spec proposed something else"; }
  echo "ok   $spec: $(grep -E 'erase block:|open AUs:' "$out" | tr -s ' ' | tr '\n' ' ')"
done

# One open AU: no spacing is cheap; the probe says so and proposes one
# open segment.
spec="sim:32M,erase-block=1M,au=1M,open-aus=1,overwrite=on"
"$VSWAP" probe --destructive "$spec" >"$out" 2>"$err" || fail "probe $spec exited $?"
grep -q "erase block: *not found" "$out" && grep -q -- "--open-segments 1 " "$out" ||
  { cat "$out" >&2; fail "probe $spec: expected no AU found and one open segment"; }
echo "ok   $spec: one open AU"

# The simulated NAND without overwrite=on refuses the probe's rewrites:
# a clear error, not a wrong answer.
"$VSWAP" probe --destructive sim:16M >"$out" 2>"$err"
[ $? = 1 ] && grep -q 'overwrite=on' "$err" ||
  { cat "$out" "$err" >&2; fail "probe of a program-once sim: expected the overwrite=on hint"; }
echo "ok   a program-once sim: $(cat "$err")"
