#!/usr/bin/env bash
# proc_tree.sh — `heapscope run` reports every process of the tree it
# started, and leaves one thing behind (tests/progs/proc_tree.c).
#
# For a child made by fork, an image made by exec, and the children of
# system() and popen(): the leaking process's report is in the text under
# its own ==PID==, and in its own JSON file (FILE for the process started,
# FILE.PID for the others, or %p); the processes with nothing to report
# get one line each; --error-exitcode counts a child's leak; the run
# leaves exactly one entry in its working directory, and `heapscope report`
# gives the same reports from that directory or from its files. Where
# valgrind is installed, memcheck --trace-children=yes must find the same
# definitely lost bytes per process (HS_NO_VALGRIND=1 skips that).
# Bad input: a child whose trace stays empty, a child killed by SIGKILL,
# an exec'd program whose trace cannot be created: each is named in one
# line and the rest of the tree is still reported.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
hs=$root/build/heapscope
prog=$root/build/tests/progs/proc_tree
[ -x "$hs" ] && [ -x "$prog" ] || { echo "proc_tree.sh: build first (make check)"; exit 1; }
command -v python3 >/dev/null || { echo "proc_tree.sh: python3 is needed"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL proc_tree [$mode]: $*"; fail=1; }
ok() { echo "ok   proc_tree [$mode]: $*"; }
use_valgrind=0
if [ "${HS_NO_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null; then use_valgrind=1; fi

# The definitely lost bytes of every process that lost some, sorted: from
# the JSON reports (argument: their files), or from memcheck's log (stdin).
json_lost() {
  python3 - "$@" <<'PY'
import json, sys
lost = sorted(json.load(open(f))["summary"]["definitely_lost"]["bytes"] for f in sys.argv[1:])
print(" ".join(str(b) for b in lost if b))
PY
}
memcheck_lost() {
  sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' | tr -d , | grep -v '^0$' | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# mode, definitely lost per process (sorted), processes traced
for spec in "fork 777 2" "exec 555 2" "system 555 3" "popen 555 3"; do
  read -r mode want nproc <<<"$spec"
  d=$tmp/$mode.cwd; mkdir "$d"
  (cd "$d" && "$hs" run --json "$tmp/$mode.json" "$prog" "$mode" >"$tmp/$mode.out" 2>"$tmp/$mode.err")
  rc=$?
  [ "$rc" = 0 ] || bad "exit status $rc: $(tail -n 3 "$tmp/$mode.err")"
  entries=$(ls -A "$d")
  if [ "$(echo "$entries" | wc -l)" != 1 ] || [[ "$entries" != heapscope.proc_tree.* ]]; then
    bad "the run left more than its directory: $(echo $entries | head -c 300)"
  else
    ok "one entry left in the working directory: $entries"
  fi
  rundir=$d/$entries
  got=$(json_lost "$tmp/$mode".json*)
  [ "$got" = "$want" ] && ok "definitely lost per process (JSON): $got" ||
    bad "definitely lost per process in the JSON reports: '$got', want '$want' ($(ls "$tmp" | grep "^$mode.json" | tr '\n' ' '))"
  [ "$(ls "$tmp" | grep -c "^$mode\.json")" = "$nproc" ] ||
    bad "$nproc JSON reports expected: $(ls "$tmp" | grep "^$mode.json" | tr '\n' ' ')"
  # the leak in the text, under the pid of the process that leaked
  leaker=$(python3 -c 'import json,sys
for f in sys.argv[1:]:
    r = json.load(open(f))
    if r["summary"]["definitely_lost"]["bytes"]: print(r["pid"])' "$tmp/$mode".json*)
  grep -q "^==$leaker== $want bytes in 1 blocks are definitely lost in loss record" "$tmp/$mode.err" &&
    ok "the text reports the leak under ==$leaker==" ||
    bad "no '==$leaker== $want bytes ... definitely lost' line in the text"
  grep -q "^heapscope: $nproc processes traced, 1 with leaks or errors; their traces: $rundir$" \
    "$tmp/$mode.err" || bad "no closing line for $nproc processes: $(tail -n 1 "$tmp/$mode.err")"
  # a process with nothing to report is one line
  case $mode in system|popen)
    n=$(grep -c "^==[0-9]*== sh -c .*: exited with code 0; .*; no leaks, no heap errors$" "$tmp/$mode.err")
    [ "$n" = 1 ] && ok "the shell is one line" || bad "the shell's one line: found $n";;
  esac
  # heapscope report: the directory, or its files, give the same reports
  "$hs" report --json "$tmp/$mode.r.json" "$rundir" >"$tmp/$mode.r.out" 2>"$tmp/$mode.r.err"
  got=$(json_lost "$tmp/$mode".r.json*)
  [ "$got" = "$want" ] && grep -q "definitely lost in loss record" "$tmp/$mode.r.out" &&
    ok "heapscope report DIR: the same leaks" || bad "heapscope report DIR: '$got'"
  "$hs" report "$rundir"/*.trace >"$tmp/$mode.f.out" 2>"$tmp/$mode.f.err"
  grep -q "^heapscope: $nproc processes traced" "$tmp/$mode.f.err" ||
    bad "heapscope report FILES: $(tail -n 1 "$tmp/$mode.f.err")"
  if [ $use_valgrind = 1 ]; then
    got=$(cd "$d" && valgrind --trace-children=yes --leak-check=full "$prog" "$mode" 2>&1 | memcheck_lost)
    [ "$got" = "$want" ] && ok "memcheck --trace-children=yes agrees: $got" ||
      bad "memcheck says '$got', heapscope '$want'"
  fi
done

mode=error-exitcode
(cd "$tmp" && "$hs" run -q --error-exitcode 42 -o "$tmp/ec.%p" "$prog" fork >/dev/null 2>&1); rc=$?
[ "$rc" = 42 ] && ok "a leak in a child alone gives --error-exitcode" || bad "exit $rc, want 42"

mode=%p
(cd "$tmp" && "$hs" run --json "$tmp/p.%p.json" -o "$tmp/pt.%p" "$prog" popen >/dev/null 2>"$tmp/p.err")
n=$(ls "$tmp" | grep -c '^p\.[0-9.]*\.json$')
[ "$n" = 3 ] && ok "--json with %p: one file per process" || bad "--json with %p: $n files"
[ "$(json_lost "$tmp"/p.*.json)" = 555 ] || bad "--json with %p: the leak is missing"

mode=--log-file   # one file for all processes, or one per process with %p
(cd "$tmp" && "$hs" run --log-file "$tmp/all.log" -o "$tmp/l1.%p" "$prog" popen 2>/dev/null)
n=$(sed -n 's/^==\([0-9]*\)== .*/\1/p' "$tmp/all.log" | sort -u | wc -l)
[ "$n" = 3 ] && ok "one file holds the reports of the 3 processes" || bad "$n processes in all.log"
(cd "$tmp" && "$hs" run --log-file "$tmp/one.%p.log" -o "$tmp/l2.%p" "$prog" popen 2>/dev/null)
n=$(ls "$tmp" | grep -c '^one\.[0-9.]*\.log$')
[ "$n" = 3 ] && grep -q "definitely lost in loss record" "$tmp"/one.*.log &&
  ok "with %p a file per process" || bad "$n per-process log files"

mode=wrapper   # a script that runs commands, then execs the program (pyenv's shims)
printf '#!/bin/sh\nenv >/dev/null\nls >/dev/null\nexec "%s" leaf\n' "$prog" >"$tmp/wrap.sh"
chmod +x "$tmp/wrap.sh"
d=$tmp/wrap.cwd; mkdir "$d"
(cd "$d" && "$hs" run "$tmp/wrap.sh" >/dev/null 2>"$tmp/wrap.err")
[ "$(ls -A "$d" | wc -l)" = 1 ] && ok "one entry: $(ls -A "$d"), $(ls "$d"/* | wc -l) traces in it" ||
  bad "entries left: $(ls -A "$d" | tr '\n' ' ')"
grep -q "^heapscope: 4 processes traced, 1 with leaks or errors" "$tmp/wrap.err" ||
  bad "$(tail -n 1 "$tmp/wrap.err")"

# Bad input. (a) a shell whose writes fail (ulimit -f 0, SIGXFSZ ignored)
# execs the program: its trace stays empty. (b) a forked child is killed by
# SIGKILL. (c) an exec'd program finds its trace's name taken.
mode=bad-input
cat >"$tmp/bad.sh" <<EOF
#!/bin/sh
(trap '' XFSZ; ulimit -f 0; exec "$prog" leaf)
"$prog" killchild
sh -c 'mkdir "\${HEAPSCOPE_OUT%/*}/\$\$.1.trace"; exec "$prog" leaf'
exit 0
EOF
chmod +x "$tmp/bad.sh"
d=$tmp/bad.cwd; mkdir "$d"
(cd "$d" && "$hs" run "$tmp/bad.sh" >/dev/null 2>"$tmp/bad.err"); rc=$?
[ "$rc" = 0 ] || bad "exit status $rc"
n=$(grep -c "^heapscope: ==[0-9.]*== .*: empty trace: the process ended before it wrote anything" "$tmp/bad.err")
[ "$n" = 1 ] && ok "an empty trace is one line" || bad "empty trace: $n lines"
n=$(grep -c "^==[0-9]*== $prog killchild: no end record (killed, or still running); no leak scan" "$tmp/bad.err")
[ "$n" = 1 ] && ok "a child killed by SIGKILL is one line" || bad "killed child: $n lines"
n=$(grep -c "^heapscope: ==[0-9]*== .* called exec, and the program it started wrote no trace" "$tmp/bad.err")
[ "$n" = 1 ] && ok "an exec'd program without a trace is one line" || bad "no trace after exec: $n lines"
grep -q "^==[0-9]*== Command: /bin/sh $tmp/bad.sh$" "$tmp/bad.err" &&
  grep -q "^heapscope: [0-9]* processes traced, 0 with leaks or errors (some traces unusable, said above)" \
    "$tmp/bad.err" && ok "the rest of the tree is reported" ||
  bad "the rest of the tree: $(tail -n 2 "$tmp/bad.err")"

# --no-children: the exec'd program is not traced on purpose, and the
# line says so instead of guessing at a static or setuid program
d=$tmp/nochildren.cwd; mkdir "$d"
(cd "$d" && "$hs" run --no-children "$prog" exec >/dev/null 2>"$tmp/nochildren.err")
grep -q "^heapscope: ==[0-9]*== .* called exec; the program it started was not traced (--no-children)$" \
  "$tmp/nochildren.err" && ! grep -q "static or setuid" "$tmp/nochildren.err" &&
  ok "--no-children: the exec'd program is said to be untraced on purpose" ||
  bad "--no-children: $(grep exec "$tmp/nochildren.err")"

exit $fail
