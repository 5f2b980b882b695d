#!/usr/bin/env bash
# The analyzer is an ordinary program that reads untrusted traces: run
# `heapscope report` under valgrind memcheck on every golden trace (with
# its .args, writing the text, JSON, HTML and SVG outputs so every writer
# runs) and on real traces recorded here from test programs (real modules,
# so libdw symbolization runs too). Any memcheck error or definite/possible
# leak fails (valgrind --error-exitcode=97; the report's own exit status
# is allowed to be non-zero, it signals findings in the trace).
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
lib=$PWD/build/libheapscope.so
command -v valgrind >/dev/null || { echo "SKIP analyzer_memcheck: valgrind not installed"; exit 0; }
[ -x "$hs" ] && [ -f "$lib" ] || { echo "analyzer_memcheck.sh: build/heapscope or $lib not built"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0 n=0

vg() {  # label, report args...
  local label=$1; shift
  local start=$SECONDS
  timeout -k 5 120 valgrind -q --error-exitcode=97 --leak-check=full \
    --errors-for-leak-kinds=definite,possible --log-file="$tmp/vg.log" \
    "$hs" report "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  echo "$rc" >"$tmp/rc"
  n=$((n + 1))
  if [ "$rc" = 97 ] || [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ -s "$tmp/vg.log" ]; then
    echo "FAIL analyzer_memcheck $label (exit $rc)"
    head -n 30 "$tmp/vg.log" | sed 's/^/  /'
    fail=1
  else
    echo "ok   analyzer_memcheck $label ($((SECONDS - start))s, report exit $rc)"
  fi
}

root=$PWD
cd tests/golden   # .args name their suppression files relative to here
for trace in *.trace; do
  name=${trace%.trace}
  args=()
  [ -f "$name.args" ] && read -ra args <"$name.args"
  mkdir -p "$tmp/svg.$name"
  vg "golden $name" "${args[@]}" --json "$tmp/$name.json" --html "$tmp/$name.html" \
    --svg "$tmp/svg.$name" "$trace"
  want=$(cat "$name.rc" 2>/dev/null)
  [ -n "$want" ] && [ "$(cat "$tmp/rc")" != "$want" ] &&
    { echo "FAIL analyzer_memcheck golden $name: report exit $(cat "$tmp/rc"), golden $want"; fail=1; }
done
cd "$root"

# Real traces: leaks with deep stacks, heap errors, threads, and the
# differential test's 20000 mixed calls (many stacks, every entry point).
for p in leak_deep err_double_free leak_thread diff_api; do
  [ -x "build/tests/progs/$p" ] || { echo "FAIL analyzer_memcheck: build/tests/progs/$p not built"; fail=1; continue; }
  LD_PRELOAD=$lib HEAPSCOPE_OUT="$tmp/$p.trace" timeout 20 "build/tests/progs/$p" >/dev/null 2>&1
  [ -s "$tmp/$p.trace" ] || { echo "FAIL analyzer_memcheck: $p wrote no trace"; fail=1; continue; }
  mkdir -p "$tmp/svg.$p"
  vg "real $p" --leak-kinds=all --json "$tmp/$p.json" --html "$tmp/$p.html" --svg "$tmp/svg.$p" "$tmp/$p.trace"
done
echo "analyzer_memcheck: $n report runs under memcheck"
exit $fail
