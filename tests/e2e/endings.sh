#!/usr/bin/env bash
# endings.sh — the leak scan on every way a process can end.
#
# tests/progs/end_cases makes the same leaks, then ends as its argument
# says (return, exit, _exit, abort, SIGSEGV, SIGTERM with the default
# action, SIGTERM with a handler that calls exit, SIGKILL from outside).
# For each, tests/endings.expected holds memcheck's answer: the exit
# status and the program's own leak records (rule: tests/e2e/lib/
# leakrows.sh). Checked for each:
#   - the status natively, and from `heapscope run` (the program's own,
#     128 + N for a signal);
#   - heapscope's records, from the trace and from the JSON report, equal
#     the table; the C line agrees with the B lines; the trace ends with
#     `X exit N` / `X signal N` and says `W complete`;
#   - SIGKILL: no scan can run, and the report says so ("killed by
#     SIGKILL: no leak scan", JSON summary.leak_scan.status "not_run");
#   - the raw wait status (signal and core dump flag) is the same with the
#     shim as without it;
#   - valgrind, where installed, still gives the table (HS_NO_VALGRIND=1
#     skips it).
# Then exit statuses of every value: exit(-1), exit(255), exit(256),
# exit(300): the trace's X line and `heapscope run`'s own status are what
# the parent of a native run sees (N & 255).
set -u
cd "$(dirname "$0")/../.."
root=$PWD
shim=$root/build/libheapscope.so
cli=$root/build/heapscope
exe=$(readlink -f build/tests/progs/end_cases)
table=$root/tests/endings.expected
command -v addr2line >/dev/null || { echo "addr2line (binutils) is needed"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }
[ -e "$shim" ] && [ -x "$cli" ] && [ -x "$exe" ] || { echo "build first (make check)"; exit 1; }

dir=$(mktemp -d /tmp/hs-e2e-endings.XXXXXX)
if [ -n "${HS_KEEP_TMP:-}" ]; then echo "files kept in $dir"; else trap 'rm -rf "$dir"' EXIT; fi
fails=0
bad() { echo "FAIL [$mode]: $*"; fails=$((fails + 1)); }

. "$root/tests/e2e/lib/leakrows.sh"

use_valgrind=0
if [ "${HS_NO_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null; then
  use_valgrind=1
fi

modes=$(awk '!/^#/ && NF { print $1 }' "$table" | uniq)

# the table's lines still point at the LEAK markers
mode=table
while read -r kind site; do
  text=$(sed -n "${site##*:}p" tests/progs/end_cases.c)
  case "$text" in *LEAK*"$kind"*) ;; *) bad "$site is not a 'LEAK $kind' line: $text" ;; esac
done < <(awk '!/^#/ && NF && $3 != "none" { print $3, $6 }' "$table" | sort -u)

# valgrind is slow: all modes first, two at a time, read in the loop
if [ "$use_valgrind" = 1 ]; then
  for mode in $modes; do mkdir -p "$dir/$mode"; echo "$mode"; done |
    xargs -P 2 -I{} sh -c 'cd "$1/{}" && timeout 120 valgrind -q --leak-check=full \
        --show-leak-kinds=all --xml=yes --xml-file=vg.xml "$2" {} >/dev/null 2>&1
        echo $? > vg.status' sh "$dir" "$exe"
fi

# raw_status CMD...: the wait status as waitpid gives it (signal, core flag)
raw_status() {
  python3 -c 'import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(os.waitpid(p.pid, 0)[1])' "$@"
}

for mode in $modes; do
  want_status=$(awk -v m="$mode" '$1 == m { print $2; exit }' "$table")
  want=$(awk -v m="$mode" '$1 == m && $3 != "none" { print $3, $4, $5, $6, $7 }' "$table" | sort)
  d=$dir/$mode
  mkdir -p "$d"

  (cd "$d" && timeout 30 "$exe" "$mode" >/dev/null 2>&1)
  rc=$?
  [ "$rc" = "$want_status" ] || bad "native exit status $rc, the table says $want_status"

  (cd "$d" && timeout 60 "$cli" run -o "$d/t.trace" --leak-kinds=all --json "$d/r.json" \
     -- "$exe" "$mode" >"$d/out" 2>"$d/err")
  rc=$?
  [ "$rc" = "$want_status" ] || bad "heapscope run exited $rc, want $want_status: $(tail -n 3 "$d/err")"
  trace=$d/t.trace
  [ -s "$trace" ] || { bad "no trace"; continue; }

  got=$(hs_owned "$trace" "$exe" 2>/dev/null | symbolize "$exe" | aggregate)
  if [ "$got" != "$want" ]; then
    bad "heapscope's trace differs from the table"
    diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
  fi
  js=$(json_owned "$d/r.json" "$exe" | sort)
  if [ "$js" != "$want" ]; then
    bad "heapscope's JSON report differs from the table"
    diff <(echo "$want") <(echo "$js") | sed 's/^/    /'
  fi
  scan=$(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["summary"]["leak_scan"]
print(s["status"], s["reason"])' "$d/r.json")

  if [ "$mode" = sigkill ]; then
    grep -q '^[WCX] ' "$trace" && bad "a killed process wrote: $(grep '^[WCX] ' "$trace")"
    grep -q 'LEAK SUMMARY: not available: killed by SIGKILL: no leak scan' "$d/err" ||
      bad "the report does not say why there is no scan: $(grep 'LEAK SUMMARY' "$d/err")"
    [ "$scan" = "not_run killed by SIGKILL: no leak scan" ] || bad "JSON leak_scan: $scan"
  else
    [ "$scan" = "complete None" ] || bad "JSON leak_scan: $scan"
    grep -q '^W complete ' "$trace" || bad "W line: $(grep '^W' "$trace")"
    cl=$(awk '$1 == "C" { c = $5 " " $6 } $1 == "B" { n += $4; b += $5 }
              END { if (c != b + 0 " " n + 0) print "C says " c ", the B lines " b + 0 " " n + 0 }' "$trace")
    [ -z "$cl" ] || bad "$cl"
    if [ "$want_status" -gt 128 ]; then end="X signal $((want_status - 128))"; else end="X exit $want_status"; fi
    [ "$(tail -n 1 "$trace")" = "$end" ] || bad "trace ends with '$(tail -n 1 "$trace")', want '$end'"
  fi

  # the same death: signal and core flag, with and without the shim
  if [ "$want_status" -gt 128 ] && [ "$mode" != sigkill ]; then
    mkdir -p "$d/core"
    native=$(cd "$d/core" && ulimit -S -c unlimited 2>/dev/null; raw_status "$exe" "$mode")
    shimmed=$(cd "$d/core" && ulimit -S -c unlimited 2>/dev/null
              HEAPSCOPE_OUT="$d/core/%p.trace" LD_PRELOAD="$shim" raw_status "$exe" "$mode")
    [ "$native" = "$shimmed" ] || bad "wait status $shimmed with the shim, $native without"
    rm -rf "$d/core"
  fi

  if [ "$use_valgrind" = 1 ]; then
    vg=$(vg_owned "$d/vg.xml" "$exe" 2>/dev/null)
    [ "$vg" = "$want" ] || { bad "valgrind now differs from the table"
                             diff <(echo "$want") <(echo "$vg") | sed 's/^/    /'; }
    [ "$(cat "$d/vg.status")" = "$want_status" ] ||
      bad "valgrind's exit status $(cat "$d/vg.status"), the table says $want_status"
  fi
done

# Exit statuses of every value.
for v in -1 255 256 300 1; do
  mode="exit=$v"
  d=$dir/status$v
  mkdir -p "$d"
  (cd "$d" && "$exe" "$mode" >/dev/null 2>&1)
  native=$?
  [ "$native" = $((v & 255)) ] || bad "native status $native"
  (cd "$d" && timeout 60 "$cli" run -q -o "$d/t.trace" -- "$exe" "$mode" >/dev/null 2>"$d/err")
  rc=$?
  [ "$rc" = "$native" ] || bad "heapscope run exited $rc, the program $native"
  [ "$(tail -n 1 "$d/t.trace")" = "X exit $native" ] || bad "trace ends with: $(tail -n 1 "$d/t.trace")"
  grep -q 'damaged' "$d/err" && bad "the report calls the trace damaged: $(grep damaged "$d/err")"
done

echo "endings: $(echo "$modes" | wc -w) endings, valgrind $([ "$use_valgrind" = 1 ] && echo compared || echo "not run"), $fails failure(s)"
[ "$fails" = 0 ]
