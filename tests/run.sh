#!/usr/bin/env bash
# Runs every unit test binary and every end-to-end script, then prints one
# closing line "N passed, N failed". A suite passes when it exits 0.
#   tests/run.sh [PATTERN]   only suites whose path contains PATTERN
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
pass=0; fail=0; failed=()
logdir=build/test-logs; mkdir -p "$logdir"

run_one() {  # name, command...
  local name=$1; shift
  local log="$logdir/$(echo "$name" | tr '/' '_').log"
  local t0=$SECONDS
  if "$@" >"$log" 2>&1; then
    pass=$((pass+1)); printf 'PASS  %-48s %3ss\n' "$name" $((SECONDS-t0))
  else
    fail=$((fail+1)); failed+=("$name")
    printf 'FAIL  %-48s %3ss  (log: %s)\n' "$name" $((SECONDS-t0)) "$log"
    tail -n 25 "$log" | sed 's/^/      | /'
  fi
}

for t in $(find build/tests/unit -type f -perm -u+x | sort); do
  [ -x "$t" ] && [ -f "$t" ] || continue
  case "$t" in *.d|*.o) continue ;; esac
  [ -n "$pattern" ] && [[ "$t" != *"$pattern"* ]] && continue
  # Shim unit tests run on our malloc: keep them from writing traces here.
  run_one "${t#build/tests/}" env HEAPSCOPE_RECORD=0 "$t"
done
for s in tests/e2e/*.sh; do
  [ -f "$s" ] || continue
  [ -n "$pattern" ] && [[ "$s" != *"$pattern"* ]] && continue
  run_one "${s#tests/}" bash "$s"
done

if [ "$fail" -gt 0 ]; then
  echo "failed suites: ${failed[*]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
