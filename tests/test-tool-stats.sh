#!/usr/bin/env bash
# vswap stats, and the endurance behind the projected life (issue 17):
# - vswap format --endurance records the rating (bad ones are one line);
#   inspect shows it and a projected life, in text and JSON;
# - vswap stats reads a running server's statsfile= and shows it as a
#   table, as JSON (with the life added) and in the Prometheus text
#   format, which is checked by a strict parser of the format written
#   here and, where Debian's python3-prometheus-client is installed, by
#   its parser too; the numbers are the server's;
# - --output replaces the file whole, --watch repeats, a file that is
#   missing or not statistics is one line and exit 1.
set -u

. "$(dirname "$0")/functions.sh"

requires_program VSWAP
requires_env VSWAP_PLUGIN
requires_cmd nbdkit nbdcopy python3 timeout

make_tmpdir tool-stats
export T=$tmp

### format --endurance: bad ratings are one line, and nothing is made.
for bad in 40TiB -3TBW 0 lots 40TBWx; do
  run 2 "$VSWAP" format --size 64M --endurance "$bad" "$tmp/bad"
  [ "$(wc -l <"$err")" = 1 ] || fail "--endurance $bad: not one line: $(cat "$err")"
  grep -qF -- "$bad" "$err" || fail "--endurance $bad: not named: $(cat "$err")"
  [ -e "$tmp/bad" ] && fail "--endurance $bad: a store was made"
done
# P/E cycles times the medium's capacity: 64 MiB x 1000.
run 0 "$VSWAP" format --buffered --size 64M --endurance 1000x "$tmp/cycles"
grep -q "endurance: .*(67108864000 bytes" "$out" || fail "1000x of 64M: $(cat "$out")"

### A store rated for 1 GB written, so that a few MB show.
store=$tmp/store
run 0 "$VSWAP" format --buffered --size 64M --endurance 1GBW "$store"
grep -q "endurance: *1 GB written (1000000000 bytes" "$out" ||
  fail "format does not show the endurance: $(cat "$out")"
run 0 "$VSWAP" inspect "$store"
grep -q "^  endurance: *1 GB written" "$out" || fail "inspect: no endurance: $(cat "$out")"
grep -q "^  projected life: *no end in sight" "$out" ||
  fail "inspect: a fresh store's life: $(cat "$out")"
run 0 "$VSWAP" inspect --json "$store"
python3 - "$out" <<'EOF' || fail "inspect --json: $(cat "$out")"
import json, sys
life = json.load(open(sys.argv[1]))["life"]
assert life["endurance_bytes"] == 10**9, life
assert life["worn"] == 0 and life["seconds_left"] is None, life
EOF
unrated=$tmp/unrated
run 0 "$VSWAP" format --buffered --size 64M "$unrated"
run 0 "$VSWAP" inspect "$unrated"
grep -q "^  endurance: *unknown" "$out" || fail "inspect: unknown endurance: $(cat "$out")"

### A running server: 8 MiB written (4 random, 4 of a word repeated),
### then every format read while it runs.
head -c 4M /dev/urandom >"$tmp/data"
python3 -c 'import sys; sys.stdout.buffer.write(b"\xab\xcd\xef\x01\x23\x45\x67\x89" * (4 << 17))' >>"$tmp/data"
[ "$(stat -c %s "$tmp/data")" = 8388608 ] || fail "the data is not 8 MiB"
vswap_nbdkit -U - "$VSWAP_PLUGIN" "$store" buffer=none statsfile="$tmp/board.json" \
  --run 'unset LD_PRELOAD
         nbdcopy "$T/data" "$uri" || exit 1
         # the file is rewritten on flush (nbdcopy flushes) and every 2 s
         for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/board.json" ] && break; sleep 0.5; done
         "$VSWAP" stats "$T/board.json" > "$T/table" 2>&1 &&
         "$VSWAP" stats --json "$T/board.json" > "$T/json" 2>&1 &&
         mkdir "$T/snapshot" && cp "$T/board.json" "$T/snapshot/" &&
         "$VSWAP" stats --prometheus "$T/snapshot/board.json" > "$T/prom" 2>&1 &&
         "$VSWAP" stats --prometheus --output "$T/board.prom" "$T/board.json" &&
         timeout 3 "$VSWAP" stats --watch=0.5 --json "$T/board.json" > "$T/watch"
         [ $? = 124 ] || echo "--watch ended by itself" >&2' \
  >"$out" 2>"$err" || fail "the session: $(cat "$err")"
grep -q "ended by itself" "$err" && fail "--watch did not keep going"

# The table: a header, and a row named after the file.
echo "--- vswap stats:"; cat "$tmp/table"
head -n 1 "$tmp/table" | grep -q "^NAME *DISKSIZE *DATA *STORED *MEDIA *SAVED .*WEAR *LIFE" ||
  fail "table header: $(cat "$tmp/table")"
grep -q "^board " "$tmp/table" || fail "no row for board: $(cat "$tmp/table")"
# 8 MiB of data, of which 4 stored: DATA 8.0M, STORED 4.0M.
grep -q "^board  *[0-9.]*M  *8.0M  *4.0M " "$tmp/table" ||
  fail "DATA and STORED are not 8.0M and 4.0M: $(cat "$tmp/table")"

# JSON: the server's numbers, and the life derived from them.
python3 - "$tmp/json" <<'EOF' || fail "stats --json: $(cat "$tmp/json")"
import json, sys
[entry] = json.load(open(sys.argv[1]))
s = entry["statistics"]
assert entry["name"] == "board" and entry["stale"] is False, entry
assert s["host_write_bytes"] == 8 << 20, s["host_write_bytes"]
assert s["mapped_stored"] == 1024 and s["mapped_same_filled"] == 1024, s
assert s["endurance_bytes"] == 10**9, s
life = entry["life"]
assert life["known"], life
# By bytes: what the store wrote over its life, over 1 GB.
assert abs(life["worn_by_bytes"] - s["lifetime_media_write_bytes"] / 1e9) < 1e-9, life
assert life["worn"] >= life["worn_by_bytes"] > 0, life
assert entry["media_write_bytes_per_second"] > 0, entry
assert life["seconds_left"] > 0, life
EOF
# --watch printed a JSON array per sample, the later ones with rates
# measured between samples.
[ "$(wc -l <"$tmp/watch")" -ge 3 ] || fail "--watch printed $(wc -l <"$tmp/watch") samples in 3 s"
python3 - "$tmp/watch" <<'EOF' || fail "--watch --json: $(cat "$tmp/watch")"
import json, sys
for line in open(sys.argv[1]):
    [entry] = json.loads(line)
    assert entry["statistics"]["host_write_bytes"] == 8 << 20
EOF

# Prometheus: the strict parser first, then Debian's where it is.
cmp -s "$tmp/prom" "$tmp/board.prom" || {
  # Written at different moments: only the file's age may differ.
  diff <(grep -v "^vswap_statsfile_age_seconds\|^vswap_media_write_bytes_per_second\|^vswap_life_seconds_left\|^vswap_server_seconds" "$tmp/prom") \
       <(grep -v "^vswap_statsfile_age_seconds\|^vswap_media_write_bytes_per_second\|^vswap_life_seconds_left\|^vswap_server_seconds" "$tmp/board.prom") ||
    fail "--output wrote something else than stdout"
}
[ -e "$tmp/board.prom.tmp" ] && fail "--output left its .tmp file"
python3 - "$tmp/prom" "$tmp/snapshot/board.json" <<'EOF' || fail "the Prometheus text is not valid: $(cat "$tmp/prom")"
# A strict reader of the Prometheus text exposition format 0.0.4.
import json, math, re, sys
text = open(sys.argv[1]).read()
stats = json.load(open(sys.argv[2]))
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label_re = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample_re = re.compile(r"^(%s)(\{(?:%s)(?:,(?:%s))*\})? (\S+)$" % (name_re, label_re, label_re))
assert text.endswith("\n"), "no final newline"
types, helps, seen, order = {}, {}, set(), []
for number, line in enumerate(text.split("\n")[:-1], 1):
    where = "line %d: %r" % (number, line)
    assert line, "empty " + where
    if line.startswith("#"):
        m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % name_re, line)
        assert m, where
        kind, name, rest = m.groups()
        table = helps if kind == "HELP" else types
        assert name not in table, "second %s for %s, %s" % (kind, name, where)
        assert name not in seen, "%s after the samples of %s, %s" % (kind, name, where)
        if kind == "TYPE":
            assert rest in ("counter", "gauge"), where
            if rest == "counter":
                assert name.endswith("_total"), "counter not named _total, " + where
        else:
            assert rest.strip(), "empty HELP, " + where
        table[name] = rest
        continue
    m = sample_re.match(line)
    assert m, "not a sample, " + where
    name, labels, value = m.groups()
    assert name in types and name in helps, "sample before its HELP and TYPE, " + where
    assert (name, labels) not in seen, "duplicate sample, " + where
    seen.add((name, labels)); seen.add(name)
    assert labels == '{store="board"}', where
    v = float(value)
    assert math.isfinite(v), where
    if types[name] == "counter":
        assert v >= 0, where
    order.append(name)
# Families are contiguous.
families = [n for i, n in enumerate(order) if i == 0 or order[i - 1] != n]
assert len(families) == len(set(families)), "a family split in two"
values = {n: float(l.rsplit(" ", 1)[1]) for l in text.split("\n") if l and not l.startswith("#") for n in [l.split("{")[0]]}
# Every number of the statistics file is there, with its value.
for key, value in stats.items():
    name = "vswap_" + key
    if name + "_total" in values:
        name += "_total"
    assert name in values, "%s is missing" % key
    if key not in ("server_seconds",):
        assert abs(values[name] - value) <= 1e-9 * max(1, abs(value)), (key, value, values[name])
for derived in ("vswap_statsfile_age_seconds", "vswap_media_write_bytes_per_second",
                "vswap_life_worn_ratio", "vswap_life_seconds_left"):
    assert derived in values and types[derived] == "gauge", derived
assert types["vswap_host_write_bytes_total"] == "counter"
assert types["vswap_segments_free"] == "gauge"
print("strict parser: %d families, %d samples" % (len(families), len(order)))
EOF
# Debian's python3 has prometheus_client; a python3 of one's own may not.
for py in /usr/bin/python3 python3; do
  if "$py" -c 'import prometheus_client.parser' 2>/dev/null; then
    "$py" - "$tmp/prom" <<'EOF' || fail "prometheus_client does not parse it"
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
assert families["vswap_host_write_bytes"].type == "counter", families["vswap_host_write_bytes"]
[sample] = families["vswap_host_write_bytes"].samples
assert sample.labels == {"store": "board"} and sample.value == 8 << 20, sample
assert families["vswap_life_worn_ratio"].type == "gauge"
print("prometheus_client: %d families" % len(families))
EOF
    break
  fi
done

### After the server: the file is stale, and the table says so.
touch -d '1 minute ago' "$tmp/board.json"
run 0 "$VSWAP" stats "$tmp/board.json"
grep -q "stale" "$out" || fail "a stale file is not marked: $(cat "$out")"

### Files that are not statistics.
run 1 "$VSWAP" stats --json "$tmp/missing.json"
[ "$(wc -l <"$err")" = 1 ] && grep -qF "$tmp/missing.json" "$err" ||
  fail "a missing file: $(cat "$err")"
echo '{"hello": 1}' >"$tmp/other.json"
run 1 "$VSWAP" stats --prometheus "$tmp/other.json"
[ "$(wc -l <"$err")" = 1 ] && grep -q "not a vswap statistics file" "$err" ||
  fail "a file of other JSON: $(cat "$err")"
run 2 "$VSWAP" stats --watch=0 "$tmp/board.json"
[ "$(wc -l <"$err")" = 1 ] || fail "--watch=0: $(cat "$err")"
exit 0
