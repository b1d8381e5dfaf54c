#!/usr/bin/env bash
# The nbdkit plugin as a user meets it: --help names every key,
# --dump-plugin says what it supports, a bad value is one clear line and a
# failed start, a file that is not a store is refused and left untouched,
# nbdinfo sees the advertised flags, an image copied in with nbdcopy comes
# back out byte for byte after a restart, and the statistics file appears
# (without a flush too) as JSON with every field the man page documents.
set -u

. "$(dirname "$0")/functions.sh"

requires_env VSWAP_PLUGIN
[ -f "$VSWAP_PLUGIN" ] || fail "$VSWAP_PLUGIN has not been built"
requires_env VSWAP_MAKE_STORE
requires_cmd nbdkit nbdinfo nbdcopy python3 cmp

# nbdkit -U - --run never outlives its command, so there is no server to
# kill here; only files.
make_tmpdir plugin-captive
store=$tmp/store

# one_line WHAT: stderr is exactly one line.
one_line () {
  [ "$(wc -l <"$err")" = 1 ] ||
    fail "$1: expected one line on stderr, got: $(cat "$err")"
}

"$VSWAP_MAKE_STORE" "$store" 64M 16M || fail "make-store"

### --help lists every key.
run 0 vswap_nbdkit "$VSWAP_PLUGIN" --help
for key in store readtrim compress statsfile io-contexts lock-memory buffered; do
  grep -q "^$key=" "$out" || fail "--help does not list $key=: $(cat "$out")"
done

### --dump-plugin.
run 0 vswap_nbdkit "$VSWAP_PLUGIN" --dump-plugin
for line in "name=vswap" "thread_model=parallel" "vswap_version=" \
            "vswap_readtrim=off,hint,on" "vswap_compress=none,zstd"; do
  grep -q "^$line" "$out" || fail "--dump-plugin lacks $line: $(cat "$out")"
done

### Bad values: one line naming key and value, and no server.
for kv in readtrim=sometimes compress=lz4 compress=zstd:99 compress=zstd: \
          io-contexts=0 io-contexts=many io-contexts=-1 lock-memory=maybe \
          buffered=2 store=memory:1G statsfile=; do
  case $kv in
    store=*) args=("$kv") ;;
    *) args=("store=$store" "$kv") ;;
  esac
  run nonzero vswap_nbdkit -U - "$VSWAP_PLUGIN" "${args[@]}" --run 'exit 0'
  [ -s "$err" ] || fail "$kv: no message"
  one_line "$kv"
  grep -qF -- "$kv" "$err" || fail "$kv: message does not name it: $(cat "$err")"
done
run nonzero vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$store" colour=blue \
  --run 'exit 0'
grep -q colour "$err" || fail "unknown key not named: $(cat "$err")"
run nonzero vswap_nbdkit -U - "$VSWAP_PLUGIN" --run 'exit 0'
grep -q "store=" "$err" || fail "missing store= not named: $(cat "$err")"
run nonzero vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$tmp/nonexistent" \
  --run 'exit 0'
grep -q nonexistent "$err" || fail "missing file not named: $(cat "$err")"

### Files that are not stores are refused before serving, and untouched.
refused () {
  local file=$1 what=$2 before
  before=$(cksum <"$file")
  run nonzero vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$file" \
    --run 'echo served; exit 0'
  grep -q served "$out" && fail "$what: nbdkit served it"
  [ -s "$err" ] || fail "$what: no message"
  one_line "$what"
  grep -qF "$file" "$err" || fail "$what: message does not name the file: $(cat "$err")"
  [ "$(cksum <"$file")" = "$before" ] || fail "$what: the file was modified"
}
truncate -s 64M "$tmp/zeros" || fail truncate
refused "$tmp/zeros" "an unformatted file"
head -c 16M /dev/urandom >"$tmp/random" || fail "head"
refused "$tmp/random" "a file of random bytes"
if command -v mkswap >/dev/null; then
  truncate -s 64M "$tmp/swap" && mkswap "$tmp/swap" >/dev/null 2>&1 &&
    refused "$tmp/swap" "a swap area"
fi
if command -v mkfs.ext4 >/dev/null; then
  truncate -s 64M "$tmp/ext4" && mkfs.ext4 -F -q "$tmp/ext4" 2>/dev/null &&
    refused "$tmp/ext4" "an ext4 file system"
fi

### nbdinfo sees the size and the flags; store= may be left out.
run 0 vswap_nbdkit -U - "$VSWAP_PLUGIN" "$store" \
  --run 'unset LD_PRELOAD; nbdinfo --json "$uri"'
python3 - "$out" <<'EOF' || fail "nbdinfo: $(cat "$out")"
import json, sys
info = json.load(open(sys.argv[1]))
export = info["exports"][0]
want = {"export-size": 16 << 20, "is_read_only": False, "is_rotational": False,
        "can_flush": True, "can_fua": True, "can_trim": True,
        "can_zero": True, "can_fast_zero": True, "can_multi_conn": True,
        "can_cache": False}
for key, value in want.items():
    if export.get(key) != value:
        sys.exit("%s is %r, expected %r" % (key, export.get(key), value))
if "base:allocation" not in export.get("contexts", []):
    sys.exit("no base:allocation")
EOF

### nbdcopy in (zstd, no flush: the statistics come from the 2-second
### thread) and out again after a restart.
python3 - "$tmp/image" <<'EOF' || fail "making the image"
import os, sys
page = 4096
out = bytearray()
text = b"vswap keeps swap pages in a log; " * 200
for i in range(16 << 20 >> 12):
    kind = i % 7
    if kind in (0, 1):
        out += bytes(page)
    elif kind == 2:
        out += bytes([i % 251 + 1]) * page
    elif kind in (3, 4):
        out += text[(i * 13) % 1000:][:page]
    else:
        out += os.urandom(page)
open(sys.argv[1], "wb").write(out)
EOF
stats=$tmp/stats.json
run 0 vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$store" compress=zstd \
  statsfile="$stats" readtrim=hint io-contexts=4 lock-memory=no \
  --run 'unset LD_PRELOAD
         nbdcopy "'"$tmp/image"'" "$uri" || exit 1
         sleep 3
         python3 -c "import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if s[\"host_write_bytes\"] > 0 else \"no writes counted\")" \
           "'"$stats"'"'
[ -f "$stats.tmp" ] && fail "$stats.tmp left behind"

# The final file (written at exit) has every field nbdkit-vswap-plugin(1)
# documents, and counts what we did.
python3 - "$stats" <<'EOF' || fail "statistics: $(cat "$stats")"
import json, sys
s = json.load(open(sys.argv[1]))
documented = """host_read_bytes host_write_bytes host_read_pages host_write_pages
host_trim_bytes host_zero_bytes trim_requests zero_requests flush_requests
pages_zero pages_same_filled pages_compressed pages_raw
compressed_input_bytes compressed_output_bytes media_write_bytes
media_read_bytes media_discard_bytes media_writes media_padding_bytes gc_runs
gc_bytes_moved gc_records_moved segments_erased checksum_failures io_errors
enospc_errors readin_pages readin_rereads readin_dropped readin_eio
logical_pages mapped_unmapped mapped_zero mapped_same_filled mapped_stored
mapped_dropped stored_live_bytes segments_total segments_free segments_open
metadata_bytes metadata_bytes_per_page media_per_host_bytes
compression_ratio""".split()
missing = [k for k in documented if k not in s]
if missing:
    sys.exit("missing fields: %s" % " ".join(missing))
if s["logical_pages"] != 4096:
    sys.exit("logical_pages is %r, expected 4096" % s["logical_pages"])
if s["pages_compressed"] == 0:
    sys.exit("compress=zstd compressed nothing")
if s["checksum_failures"] != 0 or s["io_errors"] != 0:
    sys.exit("trouble counted")
EOF

run 0 vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$store" \
  --run 'unset LD_PRELOAD; nbdcopy "$uri" "'"$tmp/copy"'"'
cmp "$tmp/image" "$tmp/copy" || fail "the image did not come back unchanged"

# And with the other policies, buffered, over a statsfile that exists.
run 0 vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$store" readtrim=off \
  compress=none buffered=yes statsfile="$stats" \
  --run 'unset LD_PRELOAD; nbdcopy "$uri" "'"$tmp/copy2"'"'
cmp "$tmp/image" "$tmp/copy2" || fail "second copy differs"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$stats" ||
  fail "statsfile is not JSON after the second run"

### A store formatted with --compress keeps its choice over compress=,
### and the plugin says so in one warning.
if [ -n "${VSWAP-}" ]; then
  chosen=$tmp/chosen
  run 0 "$VSWAP" format --buffered --size 64M --compress none "$chosen"
  run 0 vswap_nbdkit -U - "$VSWAP_PLUGIN" "store=$chosen" compress=zstd \
    lock-memory=no statsfile="$stats" \
    --run 'unset LD_PRELOAD; nbdcopy "'"$tmp/image"'" "$uri"'
  grep -q "warning: compress= ignored: .*--compress none" "$err" ||
    fail "no warning that compress= was ignored: $(cat "$err")"
  python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
sys.exit("compressed %d pages on a --compress none store" % s["pages_compressed"]
         if s["pages_compressed"] else 0)' "$stats" || fail "compress= overrode the store"
fi

echo "PASS"
