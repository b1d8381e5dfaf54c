#!/usr/bin/env bash
# bench/endurance --plot and --record, on a small card (seconds, not the
# minutes of the real table):
# - the plot (SVG, drawn by gnuplot) renders with rsvg-convert and shows
#   the table's own numbers: one mark per logical fill for each of the
#   four workloads, every mark at the height its figure calls for on one
#   linear scale, the greedy reference as lines through its four points,
#   the goals as marks;
# - --record keeps the output in bench/results/DATE-TOPIC.md (here in a
#   temporary directory) with the command and the commit;
# - a --plot file that cannot be written is one line and exit 2, before
#   any run.
set -u

. "$(dirname "$0")/functions.sh"

requires_program VSWAP
requires_cmd gnuplot rsvg-convert python3 numfmt
endurance=$(cd "$(dirname "$0")/../bench" && pwd)/endurance
[ -x "$endurance" ] || fail "$endurance is missing"
builddir=$(cd "$(dirname "$VSWAP")/.." && pwd)

make_tmpdir bench-endurance
fills="50 70 80"
run 0 "$endurance" --builddir "$builddir" --size 32M --fills "$fills" \
  --warmup 1 --overwrites 1 --plot "$tmp/plot.svg"
cp "$out" "$tmp/table"
rsvg-convert "$tmp/plot.svg" -o "$tmp/plot.png" 2>"$err" ||
  fail "rsvg-convert cannot render the plot: $(cat "$err")"

python3 - "$tmp/table" "$tmp/plot.svg" "$tmp/plot.png" "$fills" <<'PY' || fail "the plot does not show the table (see above)"
import re, struct, sys
import xml.etree.ElementTree as ET

table, svg_path, png_path, fills = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
failures = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)

rows = {}
for line in open(table):
    m = re.match(r"(uniform|hotcold) (none|zstd heap)\s+([0-9. ]+)$", line.rstrip())
    if m:
        rows[m.group(1) + " " + m.group(2)] = [float(v) for v in m.group(3).split()]
check(len(rows) == 4 and all(len(v) == len(fills) for v in rows.values()),
      "the table has four workloads at %d fills" % len(fills))

SVG = "{http://www.w3.org/2000/svg}"
root = ET.parse(svg_path).getroot()
groups = {}
for g in root.iter(SVG + "g"):
    gid = g.get("id") or ""
    if gid.startswith("gnuplot_plot_") and gid not in groups:
        groups[gid] = g                 # the first is the data, then the key
def title(g):
    t = g.find(SVG + "title")
    return t.text if t is not None else ""
def marks(g):
    points = []
    for use in g.iter(SVG + "use"):
        m = re.match(r"translate\(([-0-9.]+),([-0-9.]+)\)", use.get("transform", ""))
        if m:
            points.append((float(m.group(1)), float(m.group(2))))
    return sorted(points)
def path_points(g):
    points = []
    for p in g.iter(SVG + "path"):
        points += [(float(x), float(y)) for x, y in
                   re.findall(r"[ML]([-0-9.]+),([-0-9.]+)", p.get("d", ""))]
    return points

series = {"uniform none": "uniform, no compression",
          "hotcold none": "80/20 hot/cold, no compression",
          "uniform zstd heap": "uniform, zstd heap pages",
          "hotcold zstd heap": "80/20, zstd heap pages"}
by_title = {title(g): g for g in groups.values()}
pairs = []                              # (figure, y), (fill, x)
xs = []
for row, name in series.items():
    g = by_title.get(name)
    check(g is not None, "a line for %s" % name)
    if g is None:
        continue
    pts = marks(g)
    check(len(pts) == len(fills), "%s: %d marks for %d fills" % (name, len(pts), len(fills)))
    for (x, y), value, fill in zip(pts, rows.get(row, []), fills):
        pairs.append((value, y))
        xs.append((float(fill), x))

def linear(points):
    """Largest distance of POINTS from the line through the two furthest apart."""
    lo, hi = min(points), max(points)
    if hi[0] == lo[0]:
        return float("inf")
    slope = (hi[1] - lo[1]) / (hi[0] - lo[0])
    return max(abs(lo[1] + slope * (v - lo[0]) - p) for v, p in points), slope
err, slope = linear(pairs)
check(err < 1.5 and slope < 0,
      "every mark sits at its figure's height on one scale (off by %.2f px at most)" % err)
err_x, slope_x = linear(xs)
check(err_x < 1.5 and slope_x > 0, "and at its fill across (off by %.2f px)" % err_x)

for name in ("uniform, greedy reference", "80/20, greedy reference"):
    g = by_title.get(name)
    check(g is not None and len(path_points(g)) == 4,
          "%s: a line through its 4 points" % name)
g = by_title.get("goals at 80% (at most)")
check(g is not None and len(marks(g)) == 3, "three goal marks")

with open(png_path, "rb") as f:
    head = f.read(24)
w, h = struct.unpack(">II", head[16:24])
check(head[:8] == b"\x89PNG\r\n\x1a\n" and (w, h) == (800, 520),
      "rendered as an 800x520 PNG (%dx%d)" % (w, h))
sys.exit(1 if failures else 0)
PY

### --record: the output, the command and the commit, in a dated file.
VSWAP_BENCH_RESULTS=$tmp/results run 0 "$endurance" --builddir "$builddir" \
  --size 32M --fills 50 --warmup 1 --overwrites 1 --record=test-topic
recorded=$tmp/results/$(date -u +%F)-test-topic.md
[ -s "$recorded" ] || fail "--record wrote no $recorded: $(ls -R "$tmp/results" 2>&1)"
grep -q '^# test-topic, ' "$recorded" || fail "no title in $recorded"
grep -q '^- command: `.*endurance --builddir .* --fills 50 ' "$recorded" ||
  fail "the command is not recorded: $(cat "$recorded")"
grep '^- command: ' "$recorded" | grep -q -- '--record' &&
  fail "--record itself was recorded as part of the command"
grep -q '^- commit: ' "$recorded" || fail "the commit is not recorded"
grep -q '^uniform none  *[0-9.]*$' "$recorded" || fail "the table is not recorded: $(cat "$recorded")"
grep -q 'took [0-9]* s, exit status 0$' "$recorded" || fail "no time and status: $(cat "$recorded")"
echo "ok   --record kept the output, the command and the commit"

### A plot that cannot be written: one line, exit 2, nothing run.
run 2 "$endurance" --builddir "$builddir" --plot "$tmp/no/such/dir/plot.svg"
[ "$(wc -l <"$err")" = 1 ] && grep -qF "$tmp/no/such/dir/plot.svg" "$err" ||
  fail "an unwritable --plot: $(cat "$err")"
[ ! -s "$out" ] || fail "an unwritable --plot still ran: $(cat "$out")"
echo "ok   an unwritable --plot is one line, before any run"
