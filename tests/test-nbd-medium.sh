#!/usr/bin/env bash
# A store on a remote NBD export, through the tools and the plugin: a
# connection failure is one line naming the URI, the problem and the fix;
# vswap format, inspect and check take a URI; pages written through the
# core API (store-write) read back; the plugin serves a store that lives on
# another NBD export (vswap plugin → store → nbdkit memory), byte for byte;
# and the remote server sees what a disk would: writes in whole aligned
# write units, in large pieces, and whole segments trimmed.
set -u

. "$(dirname "$0")/functions.sh"

requires_program VSWAP
requires_env STORE_WRITE VSWAP_PLUGIN
requires_cmd nbdkit nbdcopy cmp
# The libnbd Python bindings may live only in the system's python3 (a
# pyenv or venv python3 earlier in PATH does not see them).
nbd_python=
for python in python3 /usr/bin/python3; do
  if "$python" -c 'import nbd' 2>/dev/null; then
    nbd_python=$python
    break
  fi
done
[ -n "$nbd_python" ] || skip "no python3 with the libnbd bindings (python3-libnbd)"

make_tmpdir nbd-medium

# start_server NAME NBDKIT-ARGS...: nbdkit in the background on
# $tmp/NAME.sock, logging requests to $tmp/NAME.log; sets $uri.
start_server () {
  local name=$1
  shift
  rm -f "$tmp/$name.log"
  start_nbdkit "$name" --filter=log "$@" logfile="$tmp/$name.log"
}

### A server that is not there: one line, the URI, the problem, the fix.
missing="nbd+unix:///?socket=$tmp/nonexistent.sock"
run 1 "$VSWAP" inspect "$missing"
[ "$(cat "$err")" = "vswap inspect: $missing: cannot connect: No such file or directory: is the NBD server running?" ] ||
  fail "missing server: $(cat "$err")"
run 2 "$STORE_WRITE" "$missing"
[ "$(wc -l <"$err")" = 1 ] && grep -qF "$missing: cannot connect" "$err" ||
  fail "store-write, missing server: $(cat "$err")"

### vswap format on a 256 MiB memory export.
start_server main memory 256M
"$VSWAP" format "$uri" >"$out" 2>"$err" || fail "vswap format $uri: $(cat "$err")"
grep -q "NBD export" "$out" || fail "format does not show the medium: $(cat "$out")"
# A store is a store, remote or not; and an export has its own size.
run 1 "$VSWAP" format "$uri"
grep -q "contains a vswap store" "$err" || fail "second format: $(cat "$err")"
run 1 "$VSWAP" format --force --size 64M "$uri"
grep -qF "$uri: a remote NBD export cannot be created" "$err" ||
  fail "format --size: $(cat "$err")"

### The core API on it: 8192 pages in, every one back.
run 0 "$STORE_WRITE" --pages 8192 --seed 7 "$uri"
run 0 "$STORE_WRITE" --read-all --pages 8192 --seed 7 "$uri"
[ "$(grep -c ': ok$' "$out")" = 8192 ] || fail "read-all: $(grep -v ': ok$' "$out" | head)"
run 0 "$VSWAP" inspect "$uri"
grep -q "NBD export" "$out" || fail "inspect does not show the medium: $(cat "$out")"
grep -q "stored: *4096 pages" "$out" || fail "inspect: $(cat "$out")"
run 0 "$VSWAP" check "$uri"
grep -q " 0 pages failing" "$out" || fail "check: $(cat "$out")"

### The plugin serving a store that lives on the export.
image=$tmp/image
"$nbd_python" - "$image" <<'EOF' || fail "making the image"
import os, sys
page = 4096
out = bytearray()
for i in range(32 << 20 >> 12):
    kind = i % 4
    if kind == 0:
        out += bytes(page)
    elif kind == 1:
        out += bytes([i % 251 + 1]) * page
    elif kind == 2:
        out += (b"vswap on a remote export %d " % i * 200)[:page]
    else:
        out += os.urandom(page)
open(sys.argv[1], "wb").write(out)
EOF
# Copy in, trim the second half, flush; copy out after a restart.
run 0 vswap_nbdkit -U - "$VSWAP_PLUGIN" store="$uri" lock-memory=no \
  --run 'unset LD_PRELOAD
         nbdcopy "'"$image"'" "$uri" || exit 1
         "'"$nbd_python"'" -c "
import nbd, sys
h = nbd.NBD()
h.connect_uri(sys.argv[1])
h.trim(16 << 20, 16 << 20)
h.flush()
h.shutdown()" "$uri"'
run 0 vswap_nbdkit -U - "$VSWAP_PLUGIN" store="$uri" lock-memory=no \
  --run 'unset LD_PRELOAD; nbdcopy "$uri" "'"$tmp/copy"'"'
head -c 16M "$image" >"$tmp/expected"
head -c 16M /dev/zero >>"$tmp/expected"
head -c 32M "$tmp/copy" | cmp "$tmp/expected" - ||
  fail "the image did not come back through the chained plugin"
run 0 "$VSWAP" check "$uri"
grep -q " 0 pages failing" "$out" || fail "check after the plugin: $(cat "$out")"

### What the remote server saw.
stop_nbdkit main
"$nbd_python" - "$tmp/main.log" true <<'EOF' || fail "the server's log: see above"
import re, sys
log, formatted_here = sys.argv[1], sys.argv[2] == "true"
writes = []; trims = []; flushes = 0
for line in open(log):
    m = re.search(r"connection=\d+ (Write|Trim|Flush) id=\d+(.*)", line)
    if not m:
        continue
    kind, rest = m.groups()
    if kind == "Flush":
        flushes += 1
        continue
    offset = int(re.search(r"offset=(0x[0-9a-f]+)", rest).group(1), 16)
    count = int(re.search(r"count=(0x[0-9a-f]+)", rest).group(1), 16)
    (writes if kind == "Write" else trims).append((offset, count))
problems = []
odd = [w for w in writes if w[0] % 4096 or w[1] % 4096]
if odd:
    problems.append("writes not in whole 4K units: %r" % odd[:5])
data = [c for o, c in writes if c > 4096]
if not data or sum(data) / len(data) < 256 << 10:
    problems.append("data written in small pieces: %r" % data[:20])
segment = 4 << 20
odd = [t for t in trims if t[0] % segment or t[1] % segment]
if odd:
    problems.append("trims of partial segments: %r" % odd[:5])
# format discards every segment; without it only GC would, and this
# workload is too small to need GC.
if formatted_here and len(trims) < 62:
    problems.append("only %d trims" % len(trims))
if flushes == 0:
    problems.append("no flush")
print("server saw %d writes (%d bytes, %d on average for data), %d trims, "
      "%d flushes" % (len(writes), sum(c for o, c in writes),
                      sum(data) // max(len(data), 1), len(trims), flushes))
if problems:
    sys.exit("\n".join(problems))
EOF

echo "PASS"
