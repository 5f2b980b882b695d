#!/usr/bin/env bash
# leak_cases.sh — heapscope's leak classification against memcheck's.
#
# Each program in tests/leak_cases.expected runs under the shim; the `B`
# lines of its trace (blocks grouped by kind and allocation stack) are
# grouped by kind and site (the innermost frame in
# the program, mapped with the M line's load bias and addr2line) and
# compared with the table, and so is the JSON report build/heapscope
# makes of the same trace (when the CLI is built). The table holds what
# valgrind said when the case was written. Where valgrind is installed it
# is run again on the same binary and its XML report must give the same
# table (so the table cannot drift from the tool it stands for). Set HS_NO_VALGRIND=1 to skip that,
# HS_KEEP_TMP=1 to keep the traces and reports.
#
# Which records count — the program's own. valgrind frees libc's own
# blocks (stdio buffers, thread stack caches, ld.so tables, the C++
# emergency pool) with __libc_freeres before it checks; heapscope scans a
# live process and sees them. So both sides count a record only when the
# allocation was made by the program's code: its innermost frame (after
# the allocator's own frames: heapscope's are never recorded, valgrind's
# vgpreload frames are dropped) is in the program's executable, or that
# frame is in libc or libstdc++ and the next one in the program (strdup,
# operator new). A block libc allocates for itself has its first program
# frame deeper down and is left out on both sides.
#
# Also checked: every line of the table still points at a LEAK marker of
# its kind in the source; the trace's C line agrees with its B lines; the
# deep case's stack names all six levels in order.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
shim=$root/build/libheapscope.so
table=$root/tests/leak_cases.expected
command -v addr2line >/dev/null || { echo "addr2line (binutils) is needed"; exit 1; }
[ -e "$shim" ] || { echo "missing $shim (run make check)"; exit 1; }

dir=$(mktemp -d /tmp/hs-e2e-leaks.XXXXXX)
if [ -n "${HS_KEEP_TMP:-}" ]; then echo "files kept in $dir"; else trap 'rm -rf "$dir"' EXIT; fi
fails=0
bad() { echo "FAIL [$case]: $*"; fails=$((fails + 1)); }

# The analyzer's JSON report is compared too once the CLI is built.
cli=$root/build/heapscope
use_json=0
if [ -x "$cli" ] && command -v python3 >/dev/null; then use_json=1; fi

use_valgrind=0
if [ "${HS_NO_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null; then
  use_valgrind=1
fi

# the row helpers: hs_owned, symbolize, aggregate, vg_owned, json_owned
. "$root/tests/e2e/lib/leakrows.sh"

cases=$(awk '!/^#/ && NF { print $1 }' "$table" | uniq)
ncases=0

# valgrind is slow: run all cases first, two at a time (the machine's
# cores), and read the reports in the loop below.
if [ "$use_valgrind" = 1 ]; then
  for case in $cases; do mkdir -p "$dir/$case"; echo "$case"; done |
    xargs -P 2 -I{} sh -c 'cd "$1/$2" && timeout 120 valgrind -q --leak-check=full \
        --show-leak-kinds=all --xml=yes --xml-file=vg.xml "$3/build/tests/progs/$2" \
        >/dev/null 2>&1; true' sh "$dir" {} "$root"
fi
for case in $cases; do
  ncases=$((ncases + 1))
  exe=$root/build/tests/progs/$case
  src=$(ls "$root"/tests/progs/"$case".c "$root"/tests/progs/"$case".cc 2>/dev/null | head -n 1)
  [ -x "$exe" ] && [ -n "$src" ] || { bad "missing $exe or its source (run make check)"; continue; }
  exe=$(readlink -f "$exe")
  want=$(awk -v c="$case" '$1 == c && $2 != "none" { print $2, $3, $4, $5, $6 }' "$table" | sort)

  # the table's lines still point at the LEAK markers
  while read -r kind _ _ site _; do
    [ -n "$kind" ] || continue
    line=${site##*:}
    text=$(sed -n "${line}p" "$src")
    case "$text" in *LEAK*"$kind"*) ;; *) bad "$site is not a 'LEAK $kind' line: $text" ;; esac
  done <<< "$want"

  # heapscope
  mkdir -p "$dir/$case"
  (cd "$dir/$case" && timeout 30 env HEAPSCOPE_OUT="$dir/$case/t.trace" LD_PRELOAD="$shim" "$exe") \
    >"$dir/$case/out" 2>"$dir/$case/err"
  rc=$?
  trace=$dir/$case/t.trace
  [ "$rc" = 0 ] || bad "exit status $rc under the shim: $(head -c 300 "$dir/$case/err")"
  if [ ! -s "$trace" ]; then bad "no trace"; continue; fi
  grep -q '^C ' "$trace" || bad "no C line: $(grep '^[!X]' "$trace")"
  cl=$(awk '$1 == "C" { c = $5 " " $6 } $1 == "B" { n += $4; b += $5 }
            END { if (c != b + 0 " " n + 0) print "C says " c ", the B lines " b + 0 " " n + 0 }' "$trace")
  [ -z "$cl" ] || bad "$cl"
  got=$(hs_owned "$trace" "$exe" 2>"$dir/$case/other" | symbolize "$exe" | aggregate)
  if [ "$got" != "$want" ]; then
    bad "heapscope differs from the table"
    diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
    sed 's/^/    not counted: /' "$dir/$case/other" | head -n 5
  fi

  # the analyzer's JSON report of the same trace
  if [ "$use_json" = 1 ]; then
    "$cli" report --quiet --leak-kinds=all --json "$dir/$case/r.json" "$trace" \
      >/dev/null 2>"$dir/$case/report.err"
    js=$(json_owned "$dir/$case/r.json" "$exe" | sort)
    if [ "$js" != "$want" ]; then
      bad "heapscope's JSON report differs from the table"
      diff <(echo "$want") <(echo "$js") | sed 's/^/    /'
      head -n 3 "$dir/$case/report.err" | sed 's/^/    /'
    fi
  fi

  # valgrind, fresh. Its verdict can depend on the run: a stale word that
  # happens to point into a block (addresses move with ASLR) turns a
  # definite leak into a possible one now and then. So a disagreement is
  # retried twice more before it counts.
  if [ "$use_valgrind" = 1 ]; then
    [ -s "$dir/$case/vg.xml" ] || bad "valgrind wrote no report"
    vg=$(vg_owned "$dir/$case/vg.xml" "$exe" 2>/dev/null)
    for retry in 1 2; do
      [ "$vg" = "$want" ] && break
      (cd "$dir/$case" && timeout 120 valgrind -q --leak-check=full --show-leak-kinds=all \
         --xml=yes --xml-file=vg$retry.xml "$exe" >/dev/null 2>&1)
      vg=$(vg_owned "$dir/$case/vg$retry.xml" "$exe" 2>/dev/null)
    done
    if [ "$vg" != "$want" ]; then
      bad "valgrind now differs from the table (update tests/leak_cases.expected?)"
      diff <(echo "$want") <(echo "$vg") | sed 's/^/    /'
    fi
  fi
done

# The deep case: the whole chain, innermost first.
case=leak_deep
exe=$(readlink -f "$root/build/tests/progs/leak_deep")
trace=$dir/leak_deep/t.trace
if [ -f "$trace" ]; then
  chain=$(awk "$AWK_HEX"'
    $1 == "M" && $7 == exe { bias = hex($3) }
    $1 == "S" { s[$2] = $0 }
    $1 == "B" && $2 == "D" { split(s[$3], f, " "); for (i = 4; i <= 10; i++) print "0x" tohex(hex(f[i]) - 1 - bias) }
  ' exe="$exe" "$trace" | addr2line -f -e "$exe" | awk 'NR % 2' | tr '\n' ' ')
  [ "$chain" = "level6 level5 level4 level3 level2 level1 main " ] || bad "stack of the deep leak: $chain"
fi

# The underrun: the damage report names the damaged block's own
# allocation stack (its stack id sits in the part of the header the
# underrun spared), as memcheck names the block the write fell before.
case=leak_underrun
exe=$(readlink -f "$root/build/tests/progs/leak_underrun")
trace=$dir/leak_underrun/t.trace
if [ -f "$trace" ]; then
  site=$(awk "$AWK_HEX"'
    $1 == "M" && $7 == exe { bias = hex($3) }
    $1 == "S" { s[$2] = $0 }
    $1 == "E" && $2 == "heap_overflow" { split(s[$5], f, " "); print "0x" tohex(hex(f[4]) - 1 - bias); exit }
  ' exe="$exe" "$trace" | addr2line -e "$exe" | sed 's|.*/||; s/ (discriminator.*//')
  [ "$site" = "leak_underrun.c:17" ] || bad "the damage report's allocation stack starts at '$site', not the block's malloc"
fi

# A heap damaged beyond trust: no crash, no hang, the scan says what it
# skipped, the untouched block keeps its answer.
case=leak_smash
mkdir -p "$dir/smash"
(cd "$dir/smash" && timeout 30 env HEAPSCOPE_OUT="$dir/smash/t.trace" LD_PRELOAD="$shim" \
   "$root/build/tests/progs/leak_smash") >/dev/null 2>"$dir/smash/err"
rc=$?
trace=$dir/smash/t.trace
[ "$rc" = 0 ] || bad "exit status $rc: $(head -c 200 "$dir/smash/err")"
if [ -s "$trace" ]; then
  [ "$(tail -n 1 "$trace")" = "X exit 0" ] || bad "trace ends with: $(tail -n 1 "$trace")"
  n=$(sed -n 's/^! leak scan: \([0-9]*\) slot.*skipped.*/\1/p' "$trace")
  [ "${n:-0}" -ge 64 ] || bad "the scan did not say what it skipped: $(grep '^!' "$trace")"
  grep -q '^B R [0-9]* 1 200$' "$trace" || bad "the untouched block is not still reachable"
  grep -q '^E heap_overflow ' "$trace" || bad "no damage reported"
else
  bad "no trace"
fi

# Threads still allocating (small, page and huge blocks) when the process
# ends: no crash, no hang, a complete trace, and main's leak found. The
# rest varies from run to run (a block a running thread holds only in a
# register is not seen), so only main's record is compared.
case=leak_busy
exe=$(readlink -f "$root/build/tests/progs/leak_busy")
for run in 1 2 3; do
  mkdir -p "$dir/busy$run"
  (cd "$dir/busy$run" && timeout 30 env HEAPSCOPE_OUT="$dir/busy$run/t.trace" LD_PRELOAD="$shim" "$exe") \
    >/dev/null 2>"$dir/busy$run/err"
  rc=$?
  trace=$dir/busy$run/t.trace
  [ "$rc" = 0 ] || { bad "run $run: exit status $rc $(head -c 200 "$dir/busy$run/err")"; continue; }
  [ "$(tail -n 1 "$trace")" = "X exit 0" ] || bad "run $run: trace ends with: $(tail -n 1 "$trace")"
  mine=$(hs_owned "$trace" "$exe" 2>/dev/null | symbolize "$exe" | grep ' leak_busy.c:34 drop$')
  [ "$mine" = "definite 1 77 leak_busy.c:34 drop" ] || bad "run $run: main's leak: '$mine'"
done

echo "leak cases: $ncases run, JSON report $([ "$use_json" = 1 ] && echo "compared" || echo "not built"), valgrind $([ "$use_valgrind" = 1 ] && echo "compared" || echo "not run"), $fails failure(s)"
[ "$fails" = 0 ]
