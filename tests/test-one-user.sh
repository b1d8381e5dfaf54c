#!/usr/bin/env bash
# One user per store (issue 13 G): while a server writes a store, a second
# server (without a write buffer, or with a buffer of its own), vswap
# format --force, vswap check and vswap inspect are refused with one line
# naming the server (process name and pid); the store is left byte for
# byte as it was, and every page the server flushed is still there after
# its restart.  Readers share: inspect works beside nbdkit -r, a writer
# does not start beside it.  A remote NBD medium: a second vswap on this
# host is refused by the lock file, one on another host (another lock
# directory) by nbdkit's limit filter with limit=1.
#
# Before the lock (ae7537c) every one of these second users went ahead:
# two servers served one store at once and format --force destroyed a
# store being served.
set -u

. "$(dirname "$0")/functions.sh"

requires_program VSWAP
requires_env VSWAP_PLUGIN
[ -f "$VSWAP_PLUGIN" ] || fail "$VSWAP_PLUGIN has not been built"
requires_cmd nbdkit cksum
# The libnbd Python bindings may live only in the system's python3 (a
# pyenv or venv python3 earlier in PATH does not see them).
nbd_python=
for python in python3 /usr/bin/python3; do
  if "$python" -c 'import nbd' 2>/dev/null; then
    nbd_python=$(command -v "$python")
    break
  fi
done
[ -n "$nbd_python" ] || skip "no python3 with the libnbd bindings (python3-libnbd)"

# Every server here is captive (nbdkit -U - --run): none outlives its
# command, so only files are left to remove.
make_tmpdir one-user
store=$tmp/store
export VSWAP_LOCK_DIRECTORY=$tmp/locks

# serve ARGS...: nbdkit with the plugin (and the sanitizers' runtime when
# the plugin was built with them), as a script so that --run commands can
# start a second one.
cat >"$tmp/serve" <<EOF
#!/bin/sh
if [ -n "${VSWAP_NBDKIT_PRELOAD-}" ]; then
  export LD_PRELOAD="${VSWAP_NBDKIT_PRELOAD-}" ASAN_OPTIONS=detect_leaks=0
fi
exec nbdkit -U - "$VSWAP_PLUGIN" "\$@" lock-memory=no
EOF
chmod +x "$tmp/serve"
serve=$tmp/serve

# second NAME EXPECTED COMMAND...: run COMMAND while a server runs (from
# its --run), keeping its exit status, stdout and stderr in $tmp/NAME.*,
# and the server's pid ($PPID of the --run shell) in $tmp/NAME.server.
# The command line is quoted for the --run shell.
second () {
  local name=$1
  shift
  printf '%q ' "$@" >"$tmp/$name.command"
}
run_second () {
  local name=$1
  echo "unset LD_PRELOAD; echo \$PPID >$tmp/$name.server; \
        $(cat "$tmp/$name.command") >$tmp/$name.out 2>$tmp/$name.err; \
        echo \$? >$tmp/$name.status"
}

# refused NAME WHAT: the second user NAME failed, with one line naming the
# server that holds the store; WHAT says who it was.
refused () {
  local name=$1 what=$2 status pid
  status=$(cat "$tmp/$name.status") || fail "$what did not run"
  pid=$(cat "$tmp/$name.server")
  [ "$status" != 0 ] || fail "$what was not refused: $(cat "$tmp/$name.out")"
  grep -q "in use by nbdkit (pid $pid)" "$tmp/$name.err" ||
    fail "$what: the refusal does not name nbdkit (pid $pid): $(cat "$tmp/$name.err")"
  grep -q -- "--force does not change that" "$tmp/$name.err" ||
    fail "$what: no word on --force: $(cat "$tmp/$name.err")"
}

"$VSWAP" format --buffered --size 64M "$store" >/dev/null ||
  fail "vswap format"

### Two servers, neither with a write buffer.
second two-none "$serve" store="$store" buffer=none --run true
"$serve" store="$store" buffer=none --run "$(run_second two-none)" ||
  fail "the first server failed"
refused two-none "a second server with buffer=none"
[ "$(grep -c . "$tmp/two-none.err")" -le 2 ] ||
  fail "a second server: more than the refusal: $(cat "$tmp/two-none.err")"

### Two servers, each with a write buffer of its own.
second two-buffers "$serve" store="$store" buffer="$tmp/b2" --run true
"$serve" store="$store" buffer="$tmp/b1" --run "$(run_second two-buffers)" ||
  fail "the first server failed"
refused two-buffers "a second server with another buffer="

### format --force, check and inspect while a server writes the store.
# The pages the server writes and flushes: page I holds I in every byte
# of its first 8 bytes and a pattern after.
cat >"$tmp/pages.py" <<'EOF'
import nbd, sys
h = nbd.NBD()
h.connect_uri(sys.argv[2])
def page(i):
    return (i.to_bytes(8, "little") + bytes((i * 7 + j) % 251 for j in range(4088)))
if sys.argv[1] == "write":
    for i in range(0, 512, 3):
        h.pwrite(page(i), i * 4096)
    h.flush()
else:
    bad = [i for i in range(0, 512, 3) if h.pread(4096, i * 4096) != page(i)]
    if bad:
        print("pages lost or wrong:", len(bad), "first", bad[0])
        sys.exit(1)
EOF
second format "$VSWAP" format --buffered --force "$store"
second format-size "$VSWAP" format --buffered --force --size 32M "$store"
second check "$VSWAP" check "$store"
second inspect "$VSWAP" inspect "$store"
"$serve" store="$store" buffer="$tmp/b1" --run "
  unset LD_PRELOAD
  $nbd_python $tmp/pages.py write \"\$uri\" || exit 1
  cksum <$store >$tmp/before
  $(run_second format)
  $(run_second format-size)
  $(run_second check)
  $(run_second inspect)
  cksum <$store >$tmp/after" || fail "the server writing pages failed"
refused format "vswap format --force"
refused format-size "vswap format --force --size"
refused check "vswap check"
refused inspect "vswap inspect"
[ "$(cat "$tmp/format.status")" = 1 ] || fail "format: exit $(cat "$tmp/format.status"), expected 1"
[ "$(cat "$tmp/check.status")" = 2 ] || fail "check: exit $(cat "$tmp/check.status"), expected 2"
! grep -q "problem" "$tmp/check.out" "$tmp/check.err" ||
  fail "check reported damage instead of a store in use"
[ "$(cat "$tmp/before")" = "$(cat "$tmp/after")" ] ||
  fail "the store changed while the refused users ran"
[ "$(stat -c %s "$store")" = 67108864 ] || fail "format --size resized the store"
# Restarted, the server has every page it flushed.
"$serve" store="$store" buffer="$tmp/b1" --run \
  "unset LD_PRELOAD; $nbd_python $tmp/pages.py read \"\$uri\"" ||
  fail "the flushed pages are not all there"
# Stopped, the store is free again.
"$VSWAP" check "$store" >"$tmp/check.out" 2>&1 || fail "check after the server: $(cat "$tmp/check.out")"

### Readers share; a writer does not join them.
second reader "$VSWAP" inspect "$store"
second writer "$serve" store="$store" buffer=none --run true
"$serve" -r store="$store" --run "$(run_second reader); $(run_second writer)" ||
  fail "the read-only server failed"
[ "$(cat "$tmp/reader.status")" = 0 ] ||
  fail "inspect beside nbdkit -r: $(cat "$tmp/reader.err")"
refused writer "a writing server beside nbdkit -r"

### A remote NBD medium: a memory export holds the store.
# The server from "another host" fails to connect (the limit filter turns
# it away).  Under the sanitizers that nbdkit then hangs in exit: libnbd
# formats its error with strerror, which leaves glibc's locale lock
# unbalanced under ASan (see common/error.h); so there only this host's
# lock is tested.
other_host=yes
[ -z "${VSWAP_SANITIZERS-}" ] || other_host=
if nbdkit memory --version >/dev/null 2>&1 &&
   nbdkit --filter=limit null --version >/dev/null 2>&1; then
  cat >"$tmp/remote" <<EOF
set -u
unset LD_PRELOAD
url="nbd+unix:///?socket=\$1"
"$VSWAP" format "\$url" >/dev/null || exit 1
$(printf '%q ' "$serve") store="\$url" buffer=none --run "echo \\\$PPID >$tmp/remote.server; \\
  $(printf '%q ' "$serve") store=\$url buffer=none --run true >/dev/null 2>$tmp/remote.err; \\
  echo \\\$? >$tmp/remote.status; \\
  [ -z '$other_host' ] || \\
  VSWAP_LOCK_DIRECTORY=$tmp/other-host $(printf '%q ' "$serve") store=\$url buffer=none --run true >/dev/null 2>$tmp/host.err; \\
  echo \\\$? >$tmp/host.status"
EOF
  nbdkit -U - --filter=limit memory 64M limit=1 \
    --run "bash $tmp/remote \"\$unixsocket\"" ||
    fail "the remote export run failed"
  refused remote "a second server on the same export, same host"
  if [ -n "$other_host" ]; then
    [ "$(cat "$tmp/host.status")" != 0 ] ||
      fail "a second server on the export from another host was not refused"
  else
    echo "sanitizer build: not testing the limit filter (see above)"
  fi
else
  echo "nbdkit's memory plugin or limit filter is missing: no remote test"
fi

echo PASS
