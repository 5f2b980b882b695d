#!/usr/bin/env bash
# trace_lifecycle.sh — the trace file through every way a process ends:
# return from main, exit(3), _exit(4), abort, SIGSEGV, SIGKILL mid-run,
# fork (child's own trace, parent's intact), exec (new image, own file),
# and the file rules (0600, an existing file or symlink is never opened,
# %p, the default name). Stacks: the S line of a known malloc call maps,
# through the M line's load bias and addr2line, to that function and line.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
shim=$root/build/libheapscope.so
prog=$root/build/tests/progs/trace_life
src=$root/tests/progs/trace_life.c
for f in "$shim" "$prog"; do
  [ -e "$f" ] || { echo "missing $f (run make check)"; exit 1; }
done
command -v addr2line >/dev/null || { echo "addr2line (binutils) is needed"; exit 1; }

dir=$(mktemp -d /tmp/hs-e2e-trace.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fails=0
bad() { echo "FAIL [$case]: $*"; fails=$((fails + 1)); }

# run CASE [env...] -- args: runs the program in $dir/CASE with the shim.
# Sets rc; stdout/stderr in $dir/CASE/out, err.
run() {
  case=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  mkdir -p "$dir/$case"
  (cd "$dir/$case" && timeout 20 env "${envs[@]}" LD_PRELOAD="$shim" "$prog" "$@") \
    >"$dir/$case/out" 2>"$dir/$case/err"
  rc=$?
}

# hex(s): mawk has no strtonum; a double holds a 48-bit address exactly.
AWK_HEX='function hex(s,  i, v) { v = 0; s = tolower(s)
  for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
  return v }
'

# check_shape FILE PID [late-M-ok]: header, P, a, M and S lines well
# formed, mode 0600, every line complete, no S line's innermost frame
# inside the shim; all M lines before the first S line unless late-M-ok.
check_shape() {
  local f=$1 pid=$2 late=${3:-} mode problems
  [ -f "$f" ] || { bad "no trace $f"; return; }
  mode=$(stat -c %a "$f")
  [ "$mode" = 600 ] || bad "$f has mode $mode, want 600"
  [ "$(head -n 1 "$f")" = "HEAPSCOPE-TRACE 2" ] || bad "first line: $(head -n 1 "$f")"
  [ -z "$(tail -c 1 "$f")" ] || bad "$f does not end with a newline (a cut line)"
  problems=$(awk -v pid="$pid" -v shim="$shim" -v late="$late" "$AWK_HEX"'
    NR == 2 { if ($1 != "P" || $2 != pid || $3 !~ /^[0-9]+$/ || $4 !~ /^[0-9]+$/ || NF < 5)
                print "line 2 is not a P line for pid " pid ": " $0 }
    NR == 3 && $1 != "a" { print "line 3 is not an a line: " $0 }
    $1 == "M" {
      if (NF < 7 || $2 !~ /^[0-9]+$/ || $3 !~ /^[0-9a-f]+$/ || $4 !~ /^[0-9a-f]+$/ ||
          $5 !~ /^[0-9a-f]+$/ || $6 !~ /^([0-9a-f]+|-)$/) print "bad M line: " $0
      if ($7 == shim) { lo = hex($4); hi = hex($5) }
      if (seen_s && !late) print "M line after an S line (fine for dlopen, not here): " $0
    }
    $1 == "S" {
      seen_s = 1
      if ($2 !~ /^[0-9]+$/ || $2 < 1 || $3 !~ /^[0-9]+$/ || NF != $3 + 3) print "bad S line: " $0
      for (i = 4; i <= NF; i++) if ($i !~ /^[0-9a-f]+$/) print "bad ip in: " $0
      if (ids[$2]++) print "stack id " $2 " written twice"
      ip = hex($4)
      if (hi && ip >= lo && ip < hi) print "innermost frame inside the shim: " $0
    }
    $1 == "X" { xs++ }
    END { if (xs > 1) print xs " X lines" }' "$f")
  [ -z "$problems" ] || bad "$f: $(echo "$problems" | head -n 5)"
}

last_line() { tail -n 1 "$1"; }
trace_of() { ls "$dir/$1"/t."$2".trace 2>/dev/null; }
only_pid() {  # the pid of the one t.PID.trace in a case directory
  local f; f=$(cd "$dir/$1" && ls t.*.trace 2>/dev/null | head -n 1)
  f=${f#t.}; echo "${f%.trace}"
}

# ---- endings ---------------------------------------------------------------
expect_end() {  # case, args, want_rc, want_x
  local c=$1 args=$2 want_rc=$3 want_x=$4 pid f
  # shellcheck disable=SC2086
  run "$c" HEAPSCOPE_OUT="$dir/$c/t.%p.trace" -- $args
  [ "$rc" = "$want_rc" ] || bad "exit status $rc, want $want_rc"
  pid=$(only_pid "$c"); f=$(trace_of "$c" "$pid")
  check_shape "$f" "$pid"
  [ "$(last_line "$f")" = "$want_x" ] || bad "last line '$(last_line "$f")', want '$want_x'"
}
expect_end return "return 0" 0 "X exit 0"
expect_end return3 "return 3" 3 "X exit 3"
expect_end exit3 "exit 3" 3 "X exit 3"
expect_end _exit4 "_exit 4" 4 "X exit 4"
expect_end abort abort 134 "X signal 6"
expect_end segv segv 139 "X signal 11"
# a program's own handler runs as without us (and its _exit ends the trace)
expect_end own own-handler 9 "X exit 9"
grep -q "own handler" "$dir/own/out" || bad "the program's handler did not run"

# ---- the known allocation's stack -----------------------------------------
# has_known_stack FILE: some S line's innermost frame maps to known_alloc at
# the KNOWN-ALLOC line, and the next frame to main.
want_line=$(grep -n '/\* KNOWN-ALLOC \*/' "$src" | cut -d: -f1)
has_known_stack() {
  local f=$1 bias found
  bias=$(awk -v p="$prog" '$1 == "M" && $7 == p { print $3; exit }' "$f")
  [ -n "$bias" ] || { bad "no M line for $prog in $f"; return; }
  # ip - load bias = file address; - 1 = inside the call, not after it
  found=$(awk '$1 == "S" && NF >= 5 { print $4, $5 }' "$f" |
          while read -r ip0 ip1; do
            a0=$(printf '0x%x' $((16#$ip0 - 16#$bias - 1)))
            a1=$(printf '0x%x' $((16#$ip1 - 16#$bias - 1)))
            inner=$(addr2line -f -e "$prog" "$a0" | paste -sd' ')
            outer=$(addr2line -f -e "$prog" "$a1" | head -n 1)
            echo "$inner <- $outer"
          done)
  echo "$found" | grep -q "^known_alloc .*trace_life.c:$want_line <- main$" ||
    bad "$f: no S line maps to known_alloc at trace_life.c:$want_line called from main; saw: $(echo "$found" | head -n 5)"
}
case=stack
has_known_stack "$(trace_of return "$(only_pid return)")"

# ---- SIGKILL mid-run: readable up to the last flush -------------------------
case=kill
mkdir -p "$dir/kill"
(cd "$dir/kill" && HEAPSCOPE_OUT="$dir/kill/t.%p.trace" LD_PRELOAD="$shim" exec "$prog" hang) \
  >"$dir/kill/out" 2>"$dir/kill/err" &
kpid=$!
for _ in $(seq 100); do grep -q ready "$dir/kill/out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$dir/kill/out" || bad "the program never became ready"
kill -KILL "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null
f=$(trace_of kill "$kpid")
check_shape "$f" "$kpid"
grep -q '^X ' "$f" && bad "a killed process has an X line"
nS=$(grep -c '^S ' "$f")
[ "$nS" -ge 100 ] || bad "only $nS S lines survived the kill (want the flushed ones, >= 100)"

# ---- SIGTERM mid-run: flushed by the handler, dies of its own signal ------
case=term
mkdir -p "$dir/term"
(cd "$dir/term" && HEAPSCOPE_OUT="$dir/term/t.%p.trace" LD_PRELOAD="$shim" exec "$prog" hang) \
  >"$dir/term/out" 2>"$dir/term/err" &
tpid=$!
for _ in $(seq 100); do grep -q ready "$dir/term/out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$tpid" 2>/dev/null; wait "$tpid"; rc=$?
[ "$rc" = 143 ] || bad "exit status $rc, want 143 (killed by SIGTERM)"
f=$(trace_of term "$tpid")
check_shape "$f" "$tpid"
[ "$(last_line "$f")" = "X signal 15" ] || bad "last line '$(last_line "$f")', want 'X signal 15'"
# every one of the 1024 walk() stacks made it out of the buffer
nS=$(grep -c '^S ' "$f")
[ "$nS" -ge 1024 ] || bad "$nS S lines, want all 1024+ flushed"

# ---- fork: the child writes its own trace, the parent's stays whole ----------
run fork HEAPSCOPE_OUT="$dir/fork/t.%p.trace" -- fork
[ "$rc" = 0 ] || bad "exit status $rc"
cpid=$(awk '$1 == "child" { print $2 }' "$dir/fork/out")
ppid=$(awk '$1 == "parent" { print $2 }' "$dir/fork/out")
grep -q "child-status 5" "$dir/fork/out" || bad "child status: $(cat "$dir/fork/out")"
pf=$(trace_of fork "$ppid"); cf=$(trace_of fork "$cpid")
check_shape "$pf" "$ppid"
check_shape "$cf" "$cpid"
[ "$(last_line "$pf")" = "X exit 0" ] || bad "parent ends '$(last_line "$pf")'"
[ "$(last_line "$cf")" = "X exit 5" ] || bad "child ends '$(last_line "$cf")'"
[ "$(awk 'NR == 2 { print $3 }' "$cf")" = "$ppid" ] || bad "child's P line does not name its parent $ppid"
[ "$(grep -c '^P ' "$pf")" = 1 ] || bad "parent trace has $(grep -c '^P ' "$pf") P lines"
grep -q '^X exit 5' "$pf" && bad "the child's end is in the parent's trace"
[ "$(grep -c '^M ' "$cf")" -ge 2 ] || bad "child trace has no module map"
# the child's own allocation (a new stack) is in its trace and resolves
pS=$(grep -c '^S ' "$pf"); cS=$(grep -c '^S ' "$cf")
[ "$cS" -ge 1 ] && [ "$pS" -ge 1 ] || bad "S lines: parent $pS, child $cS"
has_known_stack "$cf"

# without %p: the first process keeps the name, the child adds its pid
run forkplain HEAPSCOPE_OUT="$dir/forkplain/plain.trace" -- fork
cpid=$(awk '$1 == "child" { print $2 }' "$dir/forkplain/out")
[ -f "$dir/forkplain/plain.trace" ] || bad "no plain.trace for the parent"
[ -f "$dir/forkplain/plain.trace.$cpid" ] || bad "no plain.trace.$cpid for the child: $(ls "$dir/forkplain")"

# ---- exec: X exec 0, the new image writes PID.1 --------------------------------
for m in exec:7 execl:7 execlp:0 execle:7; do
  mode=${m%:*} want=${m#*:}
  run "$mode" HEAPSCOPE_OUT="$dir/$mode/t.%p.trace" -- "$mode"
  [ "$rc" = "$want" ] || bad "exit status $rc, want $want"
  epid=$(cd "$dir/$mode" && ls t.*.trace | grep -v '\.1\.trace$' | sed 's/t\.\(.*\)\.trace/\1/')
  f0=$(trace_of "$mode" "$epid"); f1=$(trace_of "$mode" "$epid.1")
  check_shape "$f0" "$epid"
  check_shape "$f1" "$epid"
  [ "$(last_line "$f0")" = "X exec 0" ] || bad "exec'ing image ends '$(last_line "$f0")'"
  [ "$(last_line "$f1")" = "X exit $want" ] || bad "exec'd image ends '$(last_line "$f1")'"
  [ "$(ls "$dir/$mode" | grep -c trace)" = 2 ] || bad "want 2 traces: $(ls "$dir/$mode")"
done

# ---- dlopen: the new module's M line precedes the S lines pointing into it --
run dlopen HEAPSCOPE_OUT="$dir/dlopen/t.%p.trace" -- dlopen
[ "$rc" = 0 ] || bad "exit status $rc: $(cat "$dir/dlopen/err")"
f=$(trace_of dlopen "$(only_pid dlopen)")
check_shape "$f" "$(only_pid dlopen)" late-M-ok
# two passes: the library's range from its M line, then the first S line
# with any ip in that range must come after the M line
order=$(awk "$AWK_HEX"'
  FNR == NR { if ($1 == "M" && $7 ~ /libpcre2-8/) { m = FNR; lo = hex($4); hi = hex($5) }; next }
  $1 == "S" && !s { for (i = 4; i <= NF; i++) { ip = hex($i); if (ip >= lo && ip < hi) s = FNR } }
  END { print m + 0, s + 0 }' "$f" "$f")
mline=${order% *}; sline=${order#* }
[ "$mline" -gt 0 ] || bad "no M line for libpcre2-8"
[ "$sline" -gt "$mline" ] || bad "first S line inside libpcre2-8 is line $sline, its M line is $mline"

# ---- file rules ---------------------------------------------------------------
case=existing
mkdir -p "$dir/existing"; echo keep >"$dir/existing/taken.trace"
run existing HEAPSCOPE_OUT="$dir/existing/taken.trace" -- return 3
[ "$rc" = 3 ] || bad "exit status $rc, want the program's own 3"
[ "$(cat "$dir/existing/taken.trace")" = keep ] || bad "an existing file was written"
[ "$(grep -c 'already exists' "$dir/existing/err")" = 1 ] || bad "want one stderr line, got: $(cat "$dir/existing/err")"

case=symlink
mkdir -p "$dir/symlink"; ln -s "$dir/symlink/target" "$dir/symlink/link.trace"
run symlink HEAPSCOPE_OUT="$dir/symlink/link.trace" -- return 0
[ -e "$dir/symlink/target" ] && bad "the symlink was followed"
grep -q 'already exists' "$dir/symlink/err" || bad "no message: $(cat "$dir/symlink/err")"

case=default
run default -- return 0
dpid=$(cd "$dir/default" && ls heapscope.trace_life.*.trace 2>/dev/null | sed 's/.*life\.\(.*\)\.trace/\1/')
[ -n "$dpid" ] || bad "no heapscope.trace_life.PID.trace: $(ls "$dir/default")"
[ -n "$dpid" ] && check_shape "$dir/default/heapscope.trace_life.$dpid.trace" "$dpid"

if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "trace lifecycle: all checks passed"
