#!/usr/bin/env bash
# free() of pointers that are not live blocks (tests/progs/bad_free.c):
# the shim reports each one — "invalid free" for foreign and interior
# pointers, "double free" for a block freed twice (either, for a page or
# mapping block freed twice) — naming the address the program passed,
# exactly one line per problem, and the program survives.
# glibc aborts on these, so the bad calls only run under the shim; the
# clean mode runs natively to check the program itself.
set -u
cd "$(dirname "$0")/../.."
prog=build/tests/progs/bad_free
lib=${HEAPSCOPE_LIB:-$PWD/build/libheapscope.so}
[ -x "$prog" ] || { echo "bad_free.sh: $prog not built"; exit 1; }
[ -f "$lib" ] || { echo "bad_free.sh: $lib not built"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

out=$(timeout 30 "$prog" clean 2>"$tmp/native.err"); rc=$?
[ "$rc" = 0 ] && [ "$out" = survived ] || bad "native clean run: exit $rc, stdout '$out'"

out=$(LD_PRELOAD=$lib HEAPSCOPE_OUT="$tmp/t.%p.trace" timeout 30 "$prog" 2>"$tmp/err"); rc=$?
[ "$rc" = 0 ] || bad "exit status $rc under the shim, want 0"
[ "$out" = survived ] || bad "stdout '$out', want 'survived'"

# Walk stderr in order: after each "bad_free: expect KIND ADDR" the next
# heapscope line must name KIND and ADDR, and no other heapscope line may
# appear (one line per problem).
awk '
  /^bad_free: expect / { if (want != "") { print "no report for " want " free of " addr; bad = 1 }
                         want = $3; addr = $4; n++; next }
  /heapscope:/ {
    if (want == "") { print "unexpected shim line: " $0; bad = 1; next }
    named = (want == "double") ? index($0, "double free") : \
            (want == "invalid") ? index($0, "invalid free") : \
            index($0, "double free") || index($0, "invalid free")
    if (!named || index(tolower($0), tolower(addr) ":") == 0 && index(tolower($0), tolower(addr) ")") == 0) {
      print "for " want " free of " addr " got: " $0; bad = 1
    } else ok++
    want = ""; next }
  END { if (want != "") { print "no report for " want " free of " addr; bad = 1 }
        if (n == 0) { print "program printed no expectations"; bad = 1 }
        printf "%d of %d bad frees reported\n", ok, n
        exit bad }' "$tmp/err" >"$tmp/verdict" || fail=1
cat "$tmp/verdict"
if [ "$fail" != 0 ]; then
  echo "--- stderr under the shim:"
  head -n 40 "$tmp/err"
fi
exit $fail
