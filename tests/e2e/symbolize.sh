#!/usr/bin/env bash
# Symbolization against real binaries, without the recorder: the test
# programs (tests/progs/symtarget*.c*) print their own module map and call
# stack in trace syntax, we wrap that in a trace by hand, and `heapscope
# report` must name every function with the file:line of its call. Covers
# a PIE at a random load address, a non-PIE executable (load bias 0), an
# inlined call, C++ demangling, a build-id mismatch and a suppression.
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
progs=$PWD/build/tests/progs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

for f in "$hs" "$progs/symtarget" "$progs/symtarget_cc"; do
	[ -x "$f" ] || { echo "symbolize.sh: $f is not built (make check builds it)"; exit 1; }
done

# line of the "@NAME" marker in a source file
at() { grep -n "@$2\b" "$1" | head -1 | cut -d: -f1; }

# trace PROGRAM > FILE: a trace with one 40-byte definite leak whose stack
# is the program's own call stack
trace() {
	{
		echo "HEAPSCOPE-TRACE 1"
		echo "P 1000 1 1700000000 $1"
		echo "a $(basename "$1")"
		"$1" || return 1
		echo "C 1 0 40 40 1"
		echo "L D 10000 40 1"
		echo "X exit 0"
	} > "$2"
}

expect() {   # file, text that must appear
	if ! grep -qF -- "$2" "$1"; then
		echo "FAIL: expected in $(basename "$1"): $2"
		echo "---- got:"; cat "$1"; echo "----"
		fail=1
	fi
}

check_c() {   # binary, label
	local src=tests/progs/symtarget.c
	trace "$1" "$tmp/$2.trace" || { echo "FAIL: $1 did not run"; fail=1; return; }
	"$hs" report --json "$tmp/$2.json" "$tmp/$2.trace" > "$tmp/$2.txt" 2> "$tmp/$2.err"
	expect "$tmp/$2.txt" "40 bytes in 1 blocks are definitely lost in loss record 1 of 1"
	expect "$tmp/$2.txt" ": inlined_helper (symtarget.c:$(at $src inlined_call))"
	expect "$tmp/$2.txt" ": leaf_function (symtarget.c:$(at $src inline_site))"
	expect "$tmp/$2.txt" ": middle_function (symtarget.c:$(at $src middle_call))"
	expect "$tmp/$2.txt" ": main (symtarget.c:$(at $src main_call))"
	# the JSON frames: full path, inlined flag, the module, nothing below main
	python3 - "$tmp/$2.json" "$PWD/$src" "$1" \
		"$(at $src inlined_call)" "$(at $src inline_site)" "$(at $src middle_call)" \
		"$(at $src main_call)" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
src, binary = sys.argv[2], sys.argv[3]
lines = [int(x) for x in sys.argv[4:8]]
st = r["leaks"][0]["stack"]
got = [(f["function"], f["file"], f["line"], f["module"], f["inlined"]) for f in st]
want = [("inlined_helper", src, lines[0], binary, True),
        ("leaf_function", src, lines[1], binary, False),
        ("middle_function", src, lines[2], binary, False),
        ("main", src, lines[3], binary, False)]
if got != want:
    print("FAIL: JSON stack\n got  %s\n want %s" % (got, want))
    sys.exit(1)
if st[0]["address"] != st[1]["address"]:
    print("FAIL: an inlined frame must carry its caller's address")
    sys.exit(1)
PY
}

# 1. the PIE the Makefile builds, loaded wherever ASLR put it
check_c "$progs/symtarget" pie

# 2. the same source as a non-PIE executable: load bias 0
if gcc -std=gnu11 -D_GNU_SOURCE -O0 -g -fno-omit-frame-pointer -no-pie \
	-o "$tmp/symtarget_nopie" tests/progs/symtarget.c 2> "$tmp/cc.err"; then
	check_c "$tmp/symtarget_nopie" nopie
	grep -q "^M 1 0 " "$tmp/nopie.trace" || { echo "FAIL: non-PIE bias is not 0"; fail=1; }
	# the printed address is the call site: addr2line names the same line
	if command -v addr2line > /dev/null; then
		for fn in middle_function main; do
			addr=$(grep -o "0x[0-9A-F]*: $fn " "$tmp/nopie.txt" | cut -d: -f1)
			want=$(grep -o ": $fn (symtarget.c:[0-9]*)" "$tmp/nopie.txt" | grep -o "[0-9]*)$" | tr -d ')')
			got=$(addr2line -e "$tmp/symtarget_nopie" "$addr" | sed 's/.*://; s/ .*//')
			[ -n "$addr" ] && [ "$got" = "$want" ] || {
				echo "FAIL: $fn at $addr: addr2line says line '$got', report says '$want'"; fail=1; }
		done
	fi
else
	echo "FAIL: cannot build the non-PIE program"; cat "$tmp/cc.err"; fail=1
fi

# 3. C++: demangled names, a template and a method
src=tests/progs/symtarget_cc.cc
trace "$progs/symtarget_cc" "$tmp/cc.trace" || { echo "FAIL: symtarget_cc did not run"; fail=1; }
"$hs" report "$tmp/cc.trace" > "$tmp/cc.txt" 2>&1
expect "$tmp/cc.txt" ": double shapes::make<double>(double) (symtarget_cc.cc:$(at $src template_call))"
expect "$tmp/cc.txt" ": shapes::Circle::grow(int) (symtarget_cc.cc:$(at $src method_call))"
expect "$tmp/cc.txt" ": main (symtarget_cc.cc:$(at $src main_call))"

# 4. a binary that is not the one that ran: warn, do not guess
sed 's/^\(M 1 [0-9a-f]* [0-9a-f]* [0-9a-f]*\) [0-9a-f]*/\1 00112233445566778899aabbccddeeff00112233/' \
	"$tmp/pie.trace" > "$tmp/changed.trace"
"$hs" report "$tmp/changed.trace" > "$tmp/changed.txt" 2> "$tmp/changed.err"
expect "$tmp/changed.err" "the file on disk is not the one that ran (build-id differs)"
expect "$tmp/changed.txt" ": ??? (in $progs/symtarget)"
if grep -q "leaf_function" "$tmp/changed.txt"; then
	echo "FAIL: frames of a changed binary were symbolized"; fail=1
fi

# 5. suppressions see the symbolized stack (valgrind and LSan formats)
printf '{\n  leaf\n  Memcheck:Leak\n  match-leak-kinds: definite\n  fun:inlined_helper\n  fun:leaf_function\n}\n' > "$tmp/v.supp"
printf 'leak:^middle_function$\n' > "$tmp/l.supp"
for s in v l; do
	"$hs" report --error-exitcode 5 --suppressions "$tmp/$s.supp" "$tmp/pie.trace" > "$tmp/s.txt" 2>&1
	rc=$?
	[ $rc = 0 ] || { echo "FAIL: $s.supp: exit $rc, the only leak was suppressed"; fail=1; }
	expect "$tmp/s.txt" "suppressed: 40 bytes in 1 blocks"
done
"$hs" report --error-exitcode 5 "$tmp/pie.trace" > /dev/null 2>&1
rc=$?
[ $rc = 5 ] || { echo "FAIL: --error-exitcode 5 with a definite leak gave $rc"; fail=1; }

[ $fail = 0 ] && echo "symbolize.sh: all checks passed"
exit $fail
