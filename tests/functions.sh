# vswap: what every shell test shares, as nbdkit's tests/functions.sh.
# Sourced, in bash, right after "set -u":
#
#   . "$(dirname "$0")/functions.sh"
#
#   fail MESSAGE...        "FAIL: MESSAGE" on stderr, exit 1
#   skip MESSAGE...        "SKIP: MESSAGE" on stderr, exit 77: one line
#                          saying what is missing
#   requires COMMAND...    skip unless COMMAND succeeds (run quietly)
#   requires_cmd NAME...   skip unless every NAME is on PATH
#   requires_env VAR...    skip unless make check exported every VAR
#   requires_program VAR...
#                          skip unless every VAR is exported and names a
#                          program that has been built
#   requires_root WHY      skip unless root ("not root: WHY")
#   cleanup_fn COMMAND...  run COMMAND when the test exits, however it
#                          exits (failure, skip, a signal): the last
#                          registered runs first.  A hook may set
#                          exit_status=1 to fail a test that passed.
#   make_tmpdir NAME       $tmp, a fresh directory under $TMPDIR (or /tmp)
#                          removed at exit; $out and $err are files in it
#   run EXPECTED COMMAND...
#                          run COMMAND with stdout in $out and stderr in
#                          $err; fail, showing both, unless it exits with
#                          EXPECTED ("nonzero": any failure)
#   vswap_nbdkit ARGS...   nbdkit, with the sanitizers' runtime preloaded
#                          when the plugin was built with them (unset
#                          LD_PRELOAD in --run commands)
#   start_nbdkit NAME ARGS...
#                          nbdkit ARGS in the background on the socket
#                          $tmp/NAME.sock, pid in $tmp/NAME.pid, stderr in
#                          $tmp/NAME.err; waits until it serves, sets $uri,
#                          and stops it at exit.  Needs make_tmpdir.
#   stop_nbdkit NAME       stop it and wait until it has gone

fail () { echo "FAIL: $*" >&2; exit 1; }
skip () { echo "SKIP: $*" >&2; exit 77; }

requires () {
  "$@" >/dev/null 2>&1 || skip "'$*' failed: a prerequisite is missing"
}

requires_cmd () {
  local name
  for name in "$@"; do
    command -v "$name" >/dev/null || skip "$name is not installed"
  done
}

requires_env () {
  local var
  for var in "$@"; do
    [ -n "${!var-}" ] || skip "$var is not set: run this through make check"
  done
}

requires_program () {
  local var
  for var in "$@"; do
    requires_env "$var"
    [ -x "${!var}" ] || skip "${!var} has not been built"
  done
}

requires_root () {
  [ "$(id -u)" = 0 ] || skip "not root: $*"
}

# ---- cleanup at exit ----
_cleanup_hooks=()
exit_status=0

cleanup_fn () {
  _cleanup_hooks+=("$(printf '%q ' "$@")")
}

_run_cleanup_hooks () {
  exit_status=$?                # first: any command would reset $?
  local i
  trap '' INT TERM HUP
  for (( i = ${#_cleanup_hooks[@]} - 1; i >= 0; i-- )); do
    eval "${_cleanup_hooks[i]}"
  done
  exit "$exit_status"
}
trap _run_cleanup_hooks EXIT
# A signal becomes an exit, so that the hooks run.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

make_tmpdir () {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/vswap-$1.XXXXXX") || exit 1
  cleanup_fn rm -rf "$tmp"
  out=$tmp/out err=$tmp/err
}

run () {
  local expected=$1 status
  shift
  "$@" >"$out" 2>"$err"
  status=$?
  if [ "$expected" = nonzero ] && [ "$status" != 0 ]; then
    return
  fi
  if [ "$status" != "$expected" ]; then
    echo "--- stdout:" >&2; cat "$out" >&2
    echo "--- stderr:" >&2; cat "$err" >&2
    fail "exit $status, expected $expected: $*"
  fi
}

# ---- nbdkit ----
vswap_nbdkit () {
  if [ -n "${VSWAP_NBDKIT_PRELOAD-}" ]; then
    LD_PRELOAD="$VSWAP_NBDKIT_PRELOAD" ASAN_OPTIONS=detect_leaks=0 \
      nbdkit "$@"
  else
    nbdkit "$@"
  fi
}

start_nbdkit () {
  local name=$1 i
  shift
  rm -f "$tmp/$name.pid" "$tmp/$name.sock"
  vswap_nbdkit -f --exit-with-parent -U "$tmp/$name.sock" \
    -P "$tmp/$name.pid" "$@" 2>"$tmp/$name.err" &
  cleanup_fn _kill_quietly $!
  for i in $(seq 100); do
    [ -s "$tmp/$name.pid" ] && break
    sleep 0.1
  done
  [ -s "$tmp/$name.pid" ] || fail "nbdkit $*: $(cat "$tmp/$name.err")"
  uri="nbd+unix:///?socket=$tmp/$name.sock"
}

_kill_quietly () { kill "$@" 2>/dev/null; }

stop_nbdkit () {
  local pid
  pid=$(cat "$tmp/$1.pid")
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
