#!/usr/bin/env bash
# The NBD conventions a client expects of the plugin (issue 17):
# - nbdinfo sees block sizes 512 (minimum) and 4096 (preferred), with no
#   -b 4096 anywhere;
# - nbdkit -r serves the store without writing a byte to it: its sha256 is
#   the same before and after a session that reads everything and tries
#   to write, no write buffer file is made, and a store file the server
#   may only read is served (as root: the server runs as nobody);
# - start-up warnings say "warning:", not "error: warning:";
# - statsfile= in a directory that does not exist stops nbdkit at start.
set -u

. "$(dirname "$0")/functions.sh"

requires_env VSWAP_PLUGIN
[ -f "$VSWAP_PLUGIN" ] || fail "$VSWAP_PLUGIN has not been built"
requires_env VSWAP_MAKE_STORE
requires_cmd nbdkit nbdinfo nbdcopy sha256sum cmp

make_tmpdir plugin-conventions
chmod 755 "$tmp"
export T=$tmp                   # for the --run commands
store=$tmp/store

"$VSWAP_MAKE_STORE" "$store" 64M 16M || fail "make-store"

### Block sizes, without -b anywhere.
vswap_nbdkit -U - "$VSWAP_PLUGIN" "$store" buffer=none \
  --run 'unset LD_PRELOAD; nbdinfo "$uri"' >"$out" 2>"$err" ||
  fail "nbdinfo: $(cat "$err")"
for want in "block_size_minimum: 512" "block_size_preferred: 4096"; do
  grep -q "^[[:space:]]*$want\$" "$out" || fail "nbdinfo does not show $want: $(cat "$out")"
done

### Warnings are warnings.  A compress= the store overrides is one that
### every host gives.
"$VSWAP_MAKE_STORE" --compress=none "$tmp/none" 64M 16M ||
  fail "make-store with compression none"
vswap_nbdkit -U - "$VSWAP_PLUGIN" "$tmp/none" compress=zstd buffer=none \
  --run 'exit 0' >"$out" 2>"$err" || fail "nbdkit: $(cat "$err")"
grep -q "^nbdkit: vswap: warning: compress= ignored" "$err" ||
  fail "no warning line for compress=: $(cat "$err")"
grep -q "error: warning" "$err" && fail "a warning printed as an error: $(cat "$err")"
grep -q "error:" "$err" && fail "an error at a start that worked: $(cat "$err")"

### statsfile= in a missing directory: refused at start, naming it.
vswap_nbdkit -U - "$VSWAP_PLUGIN" "$store" statsfile="$tmp/no/such/dir/stats.json" \
  --run 'echo served' >"$out" 2>"$err" && fail "statsfile in a missing directory was accepted"
grep -q served "$out" && fail "nbdkit served with statsfile in a missing directory"
[ "$(wc -l <"$err")" = 1 ] || fail "expected one line: $(cat "$err")"
grep -qF "$tmp/no/such/dir" "$err" || fail "the message does not name the directory: $(cat "$err")"

### nbdkit -r writes nothing.  Fill part of the store first, and leave a
### write buffer behind as a killed server would not: this one is clean.
head -c 4M /dev/urandom >"$tmp/data" || fail "head"
vswap_nbdkit -U - "$VSWAP_PLUGIN" "$store" buffer="$tmp/" \
  --run 'unset LD_PRELOAD; nbdcopy "$T/data" "$uri"' 2>"$err" ||
  fail "filling the store: $(cat "$err")"
before=$(sha256sum <"$store")
vswap_nbdkit -r -U - "$VSWAP_PLUGIN" "$store" buffer="$tmp/" \
  statsfile="$tmp/stats.json" \
  --run 'unset LD_PRELOAD
         nbdinfo --json "$uri" > "$T/ro.info" &&
         nbdcopy "$uri" "$T/ro.copy" &&
         ! nbdcopy "$T/data" "$uri" 2>/dev/null' >"$out" 2>"$err" ||
  fail "the read-only session: $(cat "$err")"
after=$(sha256sum <"$store")
echo "sha256 before nbdkit -r: $before"
echo "sha256 after nbdkit -r:  $after"
[ "$before" = "$after" ] || fail "nbdkit -r changed the store"
grep -q '"is_read_only": true' "$tmp/ro.info" || fail "the export is not read-only: $(cat "$tmp/ro.info")"
cmp -n 4194304 "$tmp/data" "$tmp/ro.copy" || fail "nbdkit -r served other data"
ls "$tmp"/vswap-*.buffer >/dev/null 2>&1 && fail "nbdkit -r made a write buffer file"
[ -s "$tmp/stats.json" ] || fail "no statistics under nbdkit -r"

### A store the server may only read.  As root nothing is refused for
### permissions, so the server runs as nobody.
chmod 444 "$store"
mkdir -m 1777 "$tmp/other"      # where the other user may write
as_other=()
if [ "$(id -u)" = 0 ]; then
  if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    as_other=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
  else
    echo "no setpriv or no user nobody: a read-only file is not tried" >&2
    exit 0
  fi
fi
# Without -r: refused, naming the store.
"${as_other[@]}" env ${VSWAP_NBDKIT_PRELOAD:+LD_PRELOAD="$VSWAP_NBDKIT_PRELOAD" ASAN_OPTIONS=detect_leaks=0} \
  nbdkit -U - "$VSWAP_PLUGIN" "$store" buffer=none pressure-guard=no lock-memory=no \
  --run 'echo served' >"$out" 2>"$err" && fail "a read-only file was served writable"
grep -qF "$store" "$err" || fail "the refusal does not name the store: $(cat "$err")"
# With -r: served.
"${as_other[@]}" env ${VSWAP_NBDKIT_PRELOAD:+LD_PRELOAD="$VSWAP_NBDKIT_PRELOAD" ASAN_OPTIONS=detect_leaks=0} \
  nbdkit -r -U - "$VSWAP_PLUGIN" "$store" buffer=none pressure-guard=no lock-memory=no \
  --run 'unset LD_PRELOAD; nbdcopy "$uri" "$T/other/copy"' >"$out" 2>"$err" ||
  fail "nbdkit -r refused a read-only store file: $(cat "$err")"
cmp -n 4194304 "$tmp/data" "$tmp/other/copy" || fail "nbdkit -r served other data from a read-only file"
[ "$after" = "$(sha256sum <"$store")" ] || fail "the read-only file changed"
exit 0
