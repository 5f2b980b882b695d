#!/usr/bin/env bash
# Racing frees (issue #15): sixteen threads free the same block at once
# (tests/progs/race_free). Exactly one free wins (LIVE -> FREED is one
# compare-and-swap on the header, header.h); each of the other fifteen is
# reported as a double free, nothing else is reported, the process runs on
# to its end and exits 0. For a bin slot (64 B), buddy pages (2 MiB) and a
# huge mapping (6 MiB, whose winner may unmap it while the others look),
# 50 runs each with the default checks, 10 each with --no-checks.
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
prog=$PWD/build/tests/progs/race_free
for f in "$hs" "$prog"; do
	[ -x "$f" ] || { echo "race_free.sh: $f not built"; exit 1; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

race() {  # label runs size [run options]
	local label=$1 runs=$2 size=$3 bad=0 i rc df other
	shift 3
	for ((i = 1; i <= runs; i++)); do
		timeout 60 "$hs" run -q "$@" -o "$tmp/t.%p.trace" -- "$prog" "$size" 16 \
			>"$tmp/out" 2>"$tmp/err"
		rc=$?
		df=$(grep -c '^==[0-9]*== heapscope: double free: ' "$tmp/err")
		other=$(grep '^==[0-9]*== heapscope: [a-z ]*: ' "$tmp/err" | grep -vc ': double free: ')
		if [ "$rc" != 0 ] || [ "$(cat "$tmp/out")" != done ] || [ "$df" != 15 ] || [ "$other" != 0 ]; then
			echo "FAIL: $label run $i: exit $rc, stdout '$(cat "$tmp/out")', $df double frees (want 15), $other other errors"
			grep 'heapscope: ' "$tmp/err" | grep -v ': double free: ' | head -n 3
			bad=$((bad + 1))
		fi
		rm -f "$tmp"/t.*.trace
	done
	if [ "$bad" = 0 ]; then
		echo "ok   $label: $runs runs, 15 double frees reported in each"
	else
		fail=1
	fi
}

race "64-byte block" 50 64
race "2 MiB block" 50 2097152
race "6 MiB block" 50 6291456
race "64-byte block, --no-checks" 10 64 --no-checks
race "2 MiB block, --no-checks" 10 2097152 --no-checks
race "6 MiB block, --no-checks" 10 6291456 --no-checks
exit $fail
