#!/usr/bin/env bash
# operator new on heapscope when allocation fails (injected with
# HEAPSCOPE_FAIL, func=new / new[]): the throwing forms throw
# std::bad_alloc, the nothrow forms return NULL, and both first run the
# new_handler protocol (a handler is called and the allocation retried
# until it succeeds or the handler is gone). Without an injected failure
# every form works. tests/progs/cxx_new_fail.cc prints what it saw; no run
# may report a heap error.
set -u
cd "$(dirname "$0")/../.."
prog=build/tests/progs/cxx_new_fail
lib=${HEAPSCOPE_LIB:-$PWD/build/libheapscope.so}
[ -x "$prog" ] || { echo "cxx_new.sh: $prog not built"; exit 1; }
[ -f "$lib" ] || { echo "cxx_new.sh: $lib not built"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

# step, policy ("" = none), expected line
t() {
	local out rc
	out=$(env ${2:+HEAPSCOPE_FAIL=$2} LD_PRELOAD=$lib HEAPSCOPE_OUT="$tmp/t.%p.trace" \
		timeout 30 "$prog" "$1" 2>"$tmp/err")
	rc=$?
	if [ "$rc" != 0 ] || [ "$out" != "$3" ]; then
		echo "FAIL: $1 with '${2:-no policy}': got '$out' (exit $rc), want '$3'"
		sed 's/^/  stderr: /' "$tmp/err" | head -n 5
		fail=1
	elif grep -q "^E " "$tmp"/t.*.trace 2>/dev/null; then
		echo "FAIL: $1 with '${2:-no policy}': heap error reported: $(grep -h '^E ' "$tmp"/t.*.trace | head -n 1)"
		fail=1
	else
		echo "ok   $1 with '${2:-no policy}': $out"
	fi
	rm -f "$tmp"/t.*.trace
}

t throw "" "throw ok"
t throw "after=1,func=new[]" "throw bad_alloc"
t nothrow "" "nothrow ok"
t nothrow "after=1,func=new[]" "nothrow null"
t nothrow "after=1,func=new" "nothrow ok"            # only new[] is called
t handler "" "handler ok calls=0"
t handler "nth=1,func=new" "handler ok calls=1"      # one failure, handler, retry
t handler "after=1,func=new" "handler bad_alloc calls=2"
t handler_nothrow "nth=1,func=new" "handler_nothrow ok calls=1"
t handler_nothrow "after=1,func=new" "handler_nothrow null calls=2"
t aligned "" "aligned ok"
t aligned "after=1,func=new" "aligned bad_alloc"
t aligned_nothrow "after=1,func=new" "aligned_nothrow null"
t aligned_nothrow "" "aligned_nothrow ok"
# alignments that are not powers of two: NULL / bad_alloc as libstdc++,
# without calling the handler and without counting an allocation call
want_bad="bad_align 63:nnbb 0:nnbb 3:nnbb 24:nnbb 48:nnbb 1:ppcc 8:ppcc calls=0"
want_bad=${want_bad//cc/pp}
t bad_align "" "$want_bad"
# the first call that allocates (nothrow new, alignment 1) fails: the
# handler runs and the retry succeeds (the aligned nothrow form hands a
# failure to the runtime's operator with its own three arguments)
t bad_align "nth=1,func=new" "${want_bad/calls=0/calls=1}"

# natively, the same program agrees on the no-failure lines
[ "$("$prog" throw)" = "throw ok" ] || { echo "FAIL: native run"; fail=1; }
[ "$("$prog" bad_align)" = "$want_bad" ] ||
	{ echo "FAIL: native bad_align: $("$prog" bad_align)"; fail=1; }
exit $fail
