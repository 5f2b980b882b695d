#!/usr/bin/env bash
# The sampler and snapshot triggers in a real process under the shim:
# samples at the interval and at exit (HEAPSCOPE_SAMPLE_MS, 0 = exit
# only), SIGUSR2 snapshots only when asked for, hs_snapshot() labels, a
# fork child's own samples, peak snapshots, and the T line's invariants;
# an exit that interrupted a sample ends.
set -u
cd "$(dirname "$0")/../.."
lib=build/libheapscope.so prog=build/tests/progs/snap_prog
[ -x "$prog" ] && [ -f "$lib" ] || { echo "sampler.sh: build first"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok    $*"; }
run() {  # name env... -- args
	local name=$1; shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
	env "${envs[@]}" HEAPSCOPE_OUT="$tmp/$name.%p" LD_PRELOAD=$lib "$prog" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" || bad "$name: exit status $?"
}
one() { ls "$tmp"/$1.* 2>/dev/null | grep -v '\.out$\|\.err$' | head -n1; }
count() { grep -c "$2" "$1"; }

# 300 ms of churn at 20 ms: ~15 samples, t ascending, exit sample last
run busy HEAPSCOPE_SAMPLE_MS=20 -- busy
t=$(one busy)
n=$(count "$t" '^T ')
[ "$n" -ge 8 ] && [ "$n" -le 40 ] && ok "busy, 20 ms: $n samples" || bad "busy: $n samples"
awk '$1=="T" { if ($2 < last) bad=1; last=$2; n=NF }
     END { exit !(n == 21 && !bad) }' "$t" && ok "T lines: 21 fields, time ascending" \
	|| bad "T lines malformed or out of order"
awk '$1=="T" && ($6 > $7 + 300000 || $7 > $8 || $10 > $9) { bad=1 }
     END { exit bad }' "$t" && ok "T lines: live <= granted <= held, frees <= allocs" \
	|| bad "T invariants broken: $(grep '^T' "$t" | head -3)"
grep -q '^H exit ' "$t" && ok "exit snapshot" || bad "no exit snapshot"
grep -q '^H peak ' "$t" && ok "peak snapshot (live passed 64 KiB)" || bad "no peak snapshot"
[ "$(count "$t" '^H peak ')" = 1 ] || bad "more than one peak snapshot written"
# every h line covers 1024 pages (the analyzer re-checks the grammar)
build/heapscope report "$t" >/dev/null 2>"$tmp/rep.err" && ok "the trace reads back" \
	|| bad "report failed: $(cat "$tmp/rep.err")"

# interval 0: only the first and the exit sample, no peak snapshot
run off HEAPSCOPE_SAMPLE_MS=0 -- busy
t=$(one off)
[ "$(count "$t" '^T ')" = 2 ] && ok "HEAPSCOPE_SAMPLE_MS=0: 2 samples (start, exit)" \
	|| bad "SAMPLE_MS=0: $(count "$t" '^T ') samples"
grep -q '^H peak' "$t" && bad "SAMPLE_MS=0 took a peak snapshot" || ok "SAMPLE_MS=0: no peak snapshot"
grep -q '^H exit' "$t" || bad "SAMPLE_MS=0: no exit snapshot"

run badval HEAPSCOPE_SAMPLE_MS=fast -- busy
grep -q 'HEAPSCOPE_SAMPLE_MS=fast: expected milliseconds' "$tmp/badval.err" \
	&& ok "a bad HEAPSCOPE_SAMPLE_MS is named on stderr" || bad "bad value not reported"

# SIGUSR2: default action (terminate) unless opted in
(env HEAPSCOPE_OUT="$tmp/usr2off.%p" LD_PRELOAD=$lib "$prog" signal >/dev/null 2>&1) 2>/dev/null
rc=$?
[ $rc = $((128 + 12)) ] && ok "SIGUSR2 without opt-in keeps its default action" || bad "SIGUSR2 not opted in: rc=$rc"
run usr2 HEAPSCOPE_SNAPSHOT_SIGNAL=1 -- signal
t=$(one usr2)
grep -q '^H signal [0-9]* [0-9]* 1 signal$' "$t" && ok "SIGUSR2 snapshot (deferred to a slow path)" \
	|| bad "no signal snapshot in $t"

# hs_snapshot: label cleaned, empty label -> "api"
run api -- api
t=$(one api)
grep -qx 'api: 1 1' "$tmp/api.out" && ok "hs_snapshot returns 1" || bad "hs_snapshot: $(cat "$tmp/api.out")"
grep -q '^H api [0-9]* [0-9]* 1 two_words$' "$t" && grep -q '^H api [0-9]* [0-9]* 1 api$' "$t" \
	&& ok "hs_snapshot labels: 'two words' -> two_words, '' -> api" || bad "api labels: $(grep '^H' "$t")"

# fork: the child's trace has its own samples, starting again at t=0
run fork HEAPSCOPE_SAMPLE_MS=20 -- fork
files=$(ls "$tmp"/fork.* | grep -v '\.out$\|\.err$' | wc -l)
[ "$files" = 2 ] || bad "fork: $files traces"
for t in $(ls "$tmp"/fork.* | grep -v '\.out$\|\.err$'); do
	n=$(count "$t" '^T ')
	first=$(awk '$1=="T" { print $2; exit }' "$t")
	big=$(awk '$1=="T" && $7 >= 8388608 { print "yes"; exit }' "$t")
	if [ "$big" = yes ]; then
		[ "$n" -ge 4 ] && [ "$first" -lt 5 ] && ok "fork child: $n samples from t=$first ms" \
			|| bad "fork child: $n samples, first at $first"
		grep -q '^H exit' "$t" || bad "fork child: no exit snapshot"
		childseen=1
	fi
done
[ "${childseen:-0}" = 1 ] || bad "no trace with the child's 8 MiB"

# exit() from a signal handler that interrupted a sample (hs_snapshot in
# a loop, SIGALRM's handler calls exit(7)): the ending must not wait for
# the sampler this very thread holds. It once did, for ever, in every run.
for i in 1 2 3 4 5; do
	rm -f "$tmp"/alarm.*
	timeout 30 env HEAPSCOPE_OUT="$tmp/alarm.%p" LD_PRELOAD=$lib "$prog" alarm \
		>/dev/null 2>&1
	rc=$?
	[ "$rc" = 7 ] || { bad "alarm run $i: exit status $rc (124: hung), expected 7"; break; }
	build/heapscope report "$(one alarm)" >/dev/null 2>&1 || bad "alarm run $i: trace unreadable"
	# when the handler interrupted the trace writer itself, the lines
	# written so far and the end marker still come
	[ "$(tail -n1 "$(one alarm)")" = "X exit 7" ] ||
		bad "alarm run $i: the trace does not end with 'X exit 7'"
done
[ "$rc" = 7 ] && ok "exit from a handler that interrupted a sample: 5 runs ended, status 7"

[ $fail = 0 ] && echo "sampler: pass"
exit $fail
