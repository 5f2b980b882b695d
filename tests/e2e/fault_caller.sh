#!/usr/bin/env bash
# caller=GLOB under the real shim: the functions named are static
# functions of an executable linked without -rdynamic (dladdr cannot see
# them; preload/record/symtab.c reads them from .symtab). samples/oom_unchecked:
#   caller=histogram  its calloc fails: SIGSEGV, and the F line's stack
#                     is symbolized to the UNCHECKED line in histogram
#   caller=label      the first malloc under label fails: SIGSEGV
#   caller=new_entry  a checked malloc fails: "out of memory", exit 1
#   caller=no_such_fn nothing fails: exit 0, no F line
set -u
cd "$(dirname "$0")/../.."
out=build/tests/fault_caller
rm -rf "$out"; mkdir -p "$out"
prog=build/samples/oom_unchecked
src=samples/oom_unchecked.c
fail=0
bad() { echo "FAIL: $*"; fail=1; }

nm "$prog" | grep -q " t histogram$" || bad "histogram is not a static (local) symbol in $prog"
nm -D "$prog" 2>/dev/null | grep -q " histogram$" && bad "histogram is exported: the test proves nothing"

run() {  # name, policy -> exit status in $rc, trace in $out/name.trace
  HEAPSCOPE_FAIL=$2 HEAPSCOPE_OUT=$PWD/$out/$1.trace LD_PRELOAD=$PWD/build/libheapscope.so \
    "$prog" >"$out/$1.out" 2>&1
  rc=$?
}

line_of() { grep -nF "$1" "$src" | head -1 | cut -d: -f1; }

run hist "every=1,caller=histogram"
[ "$rc" = 139 ] || bad "caller=histogram: exit $rc, expected 139 (SIGSEGV)"
[ "$(grep -c '^F ' "$out/hist.trace")" = 1 ] || bad "caller=histogram: expected exactly one F line"
grep -q '^F [0-9]* calloc 40 ' "$out/hist.trace" || bad "caller=histogram: F line is not calloc(10, 4): $(grep '^F ' "$out/hist.trace")"
want="oom_unchecked.c:$(line_of 'int *h = calloc(10')"
build/heapscope report "$out/hist.trace" >"$out/hist.report" 2>&1
grep -A1 "Injected allocation failure" "$out/hist.report" | grep -q "histogram ($want)" \
  || { bad "caller=histogram: report does not put the failure at $want"; cat "$out/hist.report"; }

run label "nth=1,caller=label"
[ "$rc" = 139 ] || bad "caller=label: exit $rc, expected 139"
grep -q '^F [0-9]* malloc ' "$out/label.trace" || bad "caller=label: no malloc F line"

run entry "nth=1,caller=new_entry"
[ "$rc" = 1 ] || bad "caller=new_entry: exit $rc, expected 1"
grep -q "out of memory" "$out/entry.out" || bad "caller=new_entry: no 'out of memory'"

run none "every=1,caller=no_such_fn"
[ "$rc" = 0 ] || bad "caller=no_such_fn: exit $rc, expected 0"
grep -q '^F ' "$out/none.trace" && bad "caller=no_such_fn: something failed"

[ "$fail" = 0 ] && echo "fault_caller: all checks passed"
exit $fail
