#!/usr/bin/env bash
# The heapscope command line: usage errors are one line and exit 2, a
# missing program is 127 as in a shell, the program's exit status and
# signals come through, and `run` hands the shim its settings in the
# environment. The program used here is built static so that the shim
# (whatever state it is in) is never loaded into it: these checks are
# about the CLI alone.
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
[ -x "$hs" ] || { echo "cli.sh: $hs is not built"; exit 1; }

check() {   # description, expected exit, pattern expected on stderr+stdout ('' = any), command...
	local what=$1 want=$2 pat=$3
	shift 3
	"$@" > "$tmp/out" 2>&1
	local rc=$?
	if [ "$rc" != "$want" ]; then
		echo "FAIL: $what: exit $rc, expected $want"; cat "$tmp/out"; fail=1
	elif [ -n "$pat" ] && ! grep -qE -- "$pat" "$tmp/out"; then
		echo "FAIL: $what: output lacks /$pat/"; cat "$tmp/out"; fail=1
	fi
}
one_line() {   # the last check printed exactly one line
	[ "$(wc -l < "$tmp/out")" = 1 ] || { echo "FAIL: $1: not one line:"; cat "$tmp/out"; fail=1; }
}

check "--help" 0 "^usage: heapscope run" "$hs" --help
check "run --help" 0 "--error-exitcode N" "$hs" run --help
check "help fail" 0 "^  nth=N " "$hs" help fail
# every term the shim's parser knows is in the grammar help
"$hs" help fail > "$tmp/grammar"
terms=$(sed -n '/term_name\[T_COUNT\] = {/,/};/p' preload/faults/fault_policy.c | grep -o '"[a-z]*"' | tr -d '"')
[ "$(echo "$terms" | wc -w)" -ge 10 ] || { echo "FAIL: help fail: could not read the parser's terms"; fail=1; }
for t in $terms; do
	grep -qE "(^  |,)$t=" "$tmp/grammar" || { echo "FAIL: help fail: term '$t' is not described"; fail=1; }
done
check "--version" 0 "^heapscope $(cat VERSION)$" "$hs" --version
check "no command" 2 "^usage:" "$hs"
check "unknown command" 2 "unknown command 'frobnicate'" "$hs" frobnicate; one_line "unknown command"
check "unknown option" 2 "unknown option '--bogus'" "$hs" run --bogus true; one_line "unknown option"
check "no program" 2 "no program given" "$hs" run --quiet; one_line "no program"
check "no trace" 2 "no trace given" "$hs" report; one_line "no trace"
check "two traces, one missing" 1 "^heapscope: a: No such file or directory$" "$hs" report a b
one_line "two traces, one missing"
check "bad number" 2 "--error-exitcode: 'x' is not a number from 0 to 255" \
	"$hs" run --error-exitcode x true; one_line "bad number"
check "error-exitcode 0 is off" 0 "" "$hs" run -q --error-exitcode 0 true
check "error-exitcode 256" 2 "from 0 to 255" "$hs" run --error-exitcode 256 true
check "depth 0" 2 "--stack-depth: '0' is not a number" "$hs" run --stack-depth 0 true
check "missing value" 2 "--json needs a value" "$hs" report --json
check "bad kind" 2 "unknown kind 'lots'" "$hs" report --leak-kinds=definite,lots x
check "-o with report" 2 "-o names the trace that 'run' writes" "$hs" report -o x y
check "--fail with report" 2 "only applies to 'heapscope run'" "$hs" report --fail nth=1 y
# a policy the shim would refuse is refused here, by the shim's own parser,
# before anything runs
check "bad policy" 2 "^heapscope run: --fail nth=banana: 'nth=banana': not a number$" \
	"$hs" run --fail nth=banana -- touch "$tmp/ran"; one_line "bad policy"
[ -e "$tmp/ran" ] && { echo "FAIL: bad policy: the program ran"; fail=1; }
check "bad policy term" 2 "'func=foo': unknown function 'foo'" \
	"$hs" run --fail=nth=3,func=foo true; one_line "bad policy term"
check "two triggers" 2 "'every=2': only one trigger" "$hs" run --fail nth=1,every=2 true
check "missing trace" 1 "/nonexistent/t.trace: No such file or directory" \
	"$hs" report /nonexistent/t.trace; one_line "missing trace"

printf '{\n  x\n  Memcheck:Leak\n  fun:a\n' > "$tmp/bad.supp"
check "bad suppressions (report)" 2 "bad.supp:1: suppression 'x' is not closed" \
	"$hs" report --suppressions "$tmp/bad.supp" /nonexistent/t.trace; one_line "bad supp"
printf 'leak:a\nrace:b\n' > "$tmp/bad2.supp"
check "bad suppressions (run)" 2 "bad2.supp:2: unknown suppression type 'race'" \
	"$hs" run --suppressions "$tmp/bad2.supp" -- /bin/true
check "not found" 127 "no-such-program-hs: command not found" "$hs" run no-such-program-hs
one_line "not found"
printf 'not a program\n' > "$tmp/plain"; chmod 644 "$tmp/plain"
check "not executable" 126 "Permission denied" "$hs" run "$tmp/plain"

# a static program (LD_PRELOAD does not apply to it) that reports what
# it was given and exits or dies as asked
cat > "$tmp/envdump.c" <<'C'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	const char *keys[] = { "LD_PRELOAD", "HEAPSCOPE_OUT", "HEAPSCOPE_STACK_DEPTH",
	                       "HEAPSCOPE_CHILDREN", "HEAPSCOPE_FAIL" };
	for (int i = 0; i < 5; i++)
		printf("%s=%s\n", keys[i], getenv(keys[i]) ? getenv(keys[i]) : "(unset)");
	for (int i = 1; i < argc; i++)
		printf("arg=%s\n", argv[i]);
	if (argc > 1 && strcmp(argv[1], "kill") == 0)
		raise(SIGKILL);
	return argc > 1 ? atoi(argv[1]) : 0;
}
C
if ! gcc -static -O1 -o "$tmp/envdump" "$tmp/envdump.c" 2> "$tmp/cc.err"; then
	echo "FAIL: cannot build a static program"; cat "$tmp/cc.err"; exit 1
fi
cd "$tmp"
check "exit status" 3 "no trace was written" "$hs" run ./envdump 3
check "program options stay its own" 0 "^arg=--json$" "$hs" run ./envdump 0 --json x
check "after --" 0 "^arg=--version$" "$hs" run -- ./envdump --version
check "killed" 137 "was killed by signal 9 \(SIGKILL\)" "$hs" run ./envdump kill
check "CI mode without a trace" 9 "no trace was written" "$hs" run --error-exitcode 9 ./envdump 0
check "environment" 0 "" env LD_PRELOAD=/old/lib.so "$hs" run --stack-depth 7 --no-children \
	--fail prob=0.5,seed=2 -o "out.%p.trace" ./envdump
lib=$(dirname "$hs")/libheapscope.so
for want in "LD_PRELOAD=$lib:/old/lib.so" "HEAPSCOPE_OUT=$tmp/out.%p.trace" \
            "HEAPSCOPE_STACK_DEPTH=7" "HEAPSCOPE_CHILDREN=0" "HEAPSCOPE_FAIL=prob=0.5,seed=2"; do
	grep -qxF "$want" out || { echo "FAIL: environment lacks $want"; cat out; fail=1; }
done
check "default trace name" 0 "^HEAPSCOPE_OUT=$tmp/heapscope\.envdump\.[0-9]+/%p\.trace$" \
	"$hs" run ./envdump
# nothing was written (a static program): the run's directory is gone again
ls -d heapscope.* >/dev/null 2>&1 && { echo "FAIL: an empty run directory stays:"; ls; fail=1; }
check "defaults unset" 0 "HEAPSCOPE_FAIL=\(unset\)" "$hs" run ./envdump
touch existing.trace
check "never overwrite" 2 "existing.trace exists and a trace is never overwritten" \
	"$hs" run -o existing.trace ./envdump
one_line "never overwrite"

# report: %p in output names is the traced pid; text to --log-file
printf 'HEAPSCOPE-TRACE 1\nP 4321 1 0 /bin/x\nC 1 1 8 0 0\nX exit 0\n' > clean.trace
check "report clean" 0 "All heap blocks were freed" "$hs" report clean.trace
check "report %p" 0 "" "$hs" report --json "r.%p.json" --log-file "r.%p.txt" clean.trace
[ -s r.4321.json ] && grep -q "All heap blocks were freed" r.4321.txt \
	|| { echo "FAIL: --json/--log-file with %p"; ls; fail=1; }
check "quiet and clean" 0 "" "$hs" report --quiet clean.trace
[ -s "$tmp/out" ] && { echo "FAIL: --quiet printed on a clean trace:"; cat "$tmp/out"; fail=1; }

# errors without a stack stay apart; the text stops after 1000 contexts,
# the JSON keeps them all
{ printf 'HEAPSCOPE-TRACE 1\nP 7 1 0 /bin/x\n'
  for i in $(seq 1 1005); do printf 'E invalid_free %x 0 0 0 free(%d)\n' $i $i; done
  printf 'C 1 1 8 0 0\nX exit 0\n'; } > many.trace
check "many errors" 0 "More than 1000 error contexts" "$hs" report --json many.json many.trace
[ "$(grep -c 'Invalid free' "$tmp/out")" = 1000 ] || { echo "FAIL: not 1000 error contexts shown"; fail=1; }
python3 -c 'import json,sys; sys.exit(len(json.load(open("many.json"))["errors"]) != 1005)' \
	|| { echo "FAIL: the JSON report does not list all 1005 errors"; fail=1; }

[ $fail = 0 ] && echo "cli.sh: all checks passed"
exit $fail
