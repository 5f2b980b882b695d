#!/usr/bin/env bash
# Multi-threaded allocator stress (tests/progs/stress.c), natively first —
# which validates the program itself — then on heapscope's allocator.
# Pass: both runs exit 0 and print exactly "stress ok".
#   STRESS_SECONDS (default 3) and STRESS_THREADS (default 4) tune it.
set -u
cd "$(dirname "$0")/../.."
prog=build/tests/progs/stress
# HEAPSCOPE_LIB: run against another allocator (jemalloc...) to check the test
lib=${HEAPSCOPE_LIB:-$PWD/build/libheapscope.so}
secs=${STRESS_SECONDS:-3}
threads=${STRESS_THREADS:-4}
[ -x "$prog" ] || { echo "stress.sh: $prog not built (make check builds it)"; exit 1; }
[ -f "$lib" ] || { echo "stress.sh: $lib not built"; exit 1; }

HEAPSCOPE_RECORD=0 LD_PRELOAD=$lib grep -qF "$lib" /proc/self/maps ||
  { echo "stress.sh: $lib does not load with LD_PRELOAD"; exit 1; }
fail=0
run() {  # label, env...
  local label=$1; shift
  local out err rc
  err=$(mktemp)
  out=$(env "$@" timeout 60 "$prog" "$threads" "$secs" 2>"$err"); rc=$?
  if [ "$rc" != 0 ] || [ "$out" != "stress ok" ]; then
    echo "FAIL stress ($label): exit $rc, stdout '$out'"
    sed 's/^/  stderr: /' "$err" | head -20
    [ "$rc" = 124 ] && echo "  (killed by timeout: hang)"
    fail=1
  else
    echo "ok   stress ($label): $(tail -n 1 "$err")"
  fi
  rm -f "$err"
}

run native
# Tracing is not what this test is about: keep the trace out of the tree.
tmp=$(mktemp -d)
run heapscope LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/stress.%p.trace"
rm -rf "$tmp"
exit $fail
