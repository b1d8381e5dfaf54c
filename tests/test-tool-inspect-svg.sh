#!/usr/bin/env bash
# vswap inspect --svg: the picture of a store says what inspect --json
# says.  A store worn by vswap replay (uniform overwrites at 80% fill, so
# that segments are erased unevenly) and a fresh one are drawn; the SVG is
# rendered with rsvg-convert, and then:
# - one cell per data segment in each map, in the states inspect counts
#   (free, GC's reserve, open, releasing, closed), live fractions in the
#   buckets of inspect's histogram, erase counts from its min to its max,
#   the histogram's bars holding every segment;
# - the rendered picture shows those colours where the cells are: a free
#   cell is the free grey, the fullest cell the darkest of the live map;
# - a --svg file that cannot be written is one line naming it, exit 1,
#   and the store is left as it was.
set -u

. "$(dirname "$0")/functions.sh"

requires_program VSWAP
requires_cmd rsvg-convert cksum
# PIL reads the rendered picture; it may live only in the system's python3
# (a pyenv python3 earlier in PATH does not see it).
python=
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import PIL' 2>/dev/null; then python=$p; break; fi
done
[ -n "$python" ] || skip "no python3 with PIL (python3-pil)"

make_tmpdir tool-inspect-svg

# A worn store: 1 MiB segments, every page written once, then overwrites.
store=$tmp/worn
truncate -s 32M "$store" || fail "truncate"
run 0 "$VSWAP" replay --synthetic uniform --fill 80 --warmup 1 \
  --overwrites 1 --medium "$store" --erase-block 1M --json

check_picture () {
  local store=$1 svg=$2 png=$3
  run 0 "$VSWAP" inspect --json --svg "$svg" "$store"
  cp "$out" "$tmp/inspect.json"
  rsvg-convert "$svg" -o "$png" 2>"$err" ||
    fail "rsvg-convert cannot render $svg: $(cat "$err")"
  "$python" - "$tmp/inspect.json" "$svg" "$png" <<'PY' || fail "the picture of $store is wrong (see above)"
import json, sys
import xml.etree.ElementTree as ET
from PIL import Image

info = json.load(open(sys.argv[1]))
svg = ET.parse(sys.argv[2]).getroot()
png = Image.open(sys.argv[3]).convert("RGB")
ns = {"s": "http://www.w3.org/2000/svg"}
failures = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)

count = info["geometry"]["segment_count"]
live = svg.findall(".//s:g[@id='live']/s:rect[@class='segment']", ns)
wear = svg.findall(".//s:g[@id='wear']/s:rect[@class='segment']", ns)
check(len(live) == count and len(wear) == count,
      "one cell per data segment in each map: %d, %d of %d"
      % (len(live), len(wear), count))
check([int(c.get("data-segment")) for c in live] == list(range(count)),
      "the cells are the segments in medium order")

states = [c.get("data-state") for c in live]
seg = info["segments"]
free = states.count("free") + states.count("reserve")
check(free == seg["free"], "free cells %d = inspect's free %d" % (free, seg["free"]))
check(states.count("open") == seg["open"],
      "open cells %d = inspect's open %d" % (states.count("open"), seg["open"]))
check(states.count("reserve") == min(2, free),
      "GC's reserve marked on %d free cells" % states.count("reserve"))
reserve_wear = [int(c.get("data-erases")) for c in live if c.get("data-state") == "reserve"]
free_wear = [int(c.get("data-erases")) for c in live if c.get("data-state") == "free"]
check(not free_wear or not reserve_wear or min(reserve_wear) >= max(free_wear),
      "the reserve is the most worn free segments")

# The live fractions fall in inspect's histogram buckets.
buckets = {}
for c in live:
    s = c.get("data-state")
    if s in ("free", "reserve"):
        name = "free"
    elif s == "open":
        name = "open"
    else:
        b = min(10, 1 + int(float(c.get("data-live")) * 10 + 1e-9))
        name = "%d-%d%%" % ((b - 1) * 10, b * 10)
    buckets[name] = buckets.get(name, 0) + 1
hist = {k: v for k, v in seg["histogram"].items() if v}
# A live fraction printed with 4 decimals may sit on a bucket's edge:
# allow one segment either side per bucket, and the same total.
close = all(abs(buckets.get(k, 0) - hist.get(k, 0)) <= 1
            for k in set(buckets) | set(hist))
check(close and sum(buckets.values()) == sum(hist.values()),
      "live fractions by bucket %s match inspect's %s" % (buckets, hist))

erases = [int(c.get("data-erases")) for c in wear]
check(min(erases) == seg["erase_count"]["min"] and max(erases) == seg["erase_count"]["max"],
      "erase counts from %d to %d, as inspect says" % (min(erases), max(erases)))
bars = svg.findall(".//s:g[@id='histogram']/s:rect[@class='bar']", ns)
check(sum(int(b.get("data-segments")) for b in bars) == count,
      "the wear histogram's %d bars hold every segment" % len(bars))
titles = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
check("min %d, max %d" % (seg["erase_count"]["min"], seg["erase_count"]["max"]) in titles,
      "the erase map's heading names the min and max")

# The rendered picture: the colours are where the cells are.
width, height = int(svg.get("width")), int(svg.get("height"))
check(png.size == (width, height), "rendered %dx%d" % png.size)
def pixel(cell):
    x = float(cell.get("x")) + float(cell.get("width")) / 2
    y = float(cell.get("y")) + float(cell.get("height")) / 2
    return png.getpixel((int(x), int(y)))
def rgb(text):
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
for c in live:
    if c.get("data-state") == "free":
        check(pixel(c) == rgb(c.get("fill")) == (0xe4, 0xe4, 0xe4),
              "a free cell is drawn grey")
        break
closed = [c for c in live if c.get("data-state") == "closed"]
if closed:
    full = max(closed, key=lambda c: float(c.get("data-live")))
    empty = min(closed, key=lambda c: float(c.get("data-live")))
    check(pixel(full) == rgb(full.get("fill")), "the fullest cell is drawn in its colour")
    if float(full.get("data-live")) > float(empty.get("data-live")) + 0.05:
        check(sum(pixel(full)) < sum(pixel(empty)),
              "a fuller segment is darker (%.0f%% %s, %.0f%% %s)"
              % (100 * float(full.get("data-live")), pixel(full),
                 100 * float(empty.get("data-live")), pixel(empty)))
worn = max(wear, key=lambda c: int(c.get("data-erases")))
least = min(wear, key=lambda c: int(c.get("data-erases")))
if int(worn.get("data-erases")) > int(least.get("data-erases")):
    check(sum(pixel(worn)) < sum(pixel(least)), "a more worn segment is darker")
sys.exit(1 if failures else 0)
PY
}

echo "== a worn store"
check_picture "$store" "$tmp/worn.svg" "$tmp/worn.png"

echo "== a fresh store"
run 0 "$VSWAP" format --buffered --size 64M "$tmp/fresh"
check_picture "$tmp/fresh" "$tmp/fresh.svg" "$tmp/fresh.png"

### A picture that cannot be written: one line, exit 1, nothing changed.
before=$(cksum <"$store")
run 1 "$VSWAP" inspect --svg "$tmp/no/such/dir/x.svg" "$store"
[ "$(wc -l <"$err")" = 1 ] && grep -qF "$tmp/no/such/dir/x.svg" "$err" ||
  fail "an unwritable --svg: expected one line naming it, got: $(cat "$err")"
[ "$(cksum <"$store")" = "$before" ] || fail "inspect --svg changed the store"
run 2 "$VSWAP" inspect --svg
grep -q -- "--svg" "$err" || fail "--svg without a file: $(cat "$err")"
echo "ok   an unwritable --svg is one line, and the store is unchanged"
