#!/usr/bin/env bash
# world_stop.sh — the exit scan with other threads in every state
# (docs/LEAK-SCAN.md, "A still world").
#
#   exit_phdr ×50   a thread allocates and frees from a dl_iterate_phdr
#                   callback (so it holds the loader's lock) while main
#                   returns: no hang (each run under a timeout), exit 0,
#                   the scan complete, and none of the blocks it juggles
#                   reported lost (memcheck: no definite, indirect or
#                   possible record of the program's own; checked with
#                   valgrind where installed);
#   leak_busy ×20   threads allocating small, page and huge blocks during
#                   exit: exit 0, no heap error, main's leak found;
#   world_cases idle      threads in nanosleep and read() are left alone
#                   (no EINTR) and counted idle;
#   world_cases sigblock  a thread with every signal blocked is named in
#                   the W line and the report as not stopped;
#   leak_busy forever ×20  four threads allocating until timeout(1) sends
#                   SIGTERM (to the process, then to its group: a second
#                   SIGTERM while the first is being handled must wait for
#                   our handler, not kill the process before it; one that
#                   lands inside malloc is put off until malloc returns):
#                   each run ends `X signal 15` after a scan, no heap error;
#   world_cases lock      a thread frozen inside the allocator holding its
#                   lock (a library loaded before the shim makes the
#                   arena's mmap never return) while main dies of
#                   SIGSEGV: the process still dies of SIGSEGV, within the
#                   timeout, and the report says why there is no scan.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
shim=$root/build/libheapscope.so
cli=$root/build/heapscope
P=$root/build/tests/progs
[ -e "$shim" ] && [ -x "$cli" ] && [ -x "$P/exit_phdr" ] && [ -x "$P/world_cases" ] ||
  { echo "build first (make check)"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }

dir=$(mktemp -d /tmp/hs-e2e-world.XXXXXX)
if [ -n "${HS_KEEP_TMP:-}" ]; then echo "files kept in $dir"; else trap 'rm -rf "$dir"' EXIT; fi
fails=0
bad() { echo "FAIL [$case]: $*"; fails=$((fails + 1)); }

. "$root/tests/e2e/lib/leakrows.sh"

# own_rows TRACE EXE: the program's own records, as table rows
own_rows() { hs_owned "$1" "$2" 2>/dev/null | symbolize "$2" | aggregate; }

# shimmed NAME TIMEOUT PROG ARGS...: run under the shim, trace in $dir/NAME
shimmed() {
  local name=$1 tmo=$2; shift 2
  mkdir -p "$dir/$name"
  (cd "$dir/$name" && timeout -k 5 "$tmo" env HEAPSCOPE_OUT="$dir/$name/t.trace" \
     LD_PRELOAD="$shim" "$@" >"$dir/$name/out" 2>"$dir/$name/err")
}

case=exit_phdr
exe=$(readlink -f "$P/exit_phdr")
hangs=0 lost=0 runs=50
for run in $(seq 1 $runs); do
  shimmed "phdr$run" 20 "$exe"
  rc=$?
  t=$dir/phdr$run/t.trace
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    hangs=$((hangs + 1)); bad "run $run hung"; continue
  fi
  [ "$rc" = 0 ] || bad "run $run: exit status $rc: $(head -c 200 "$dir/phdr$run/err")"
  grep -q '^W complete ' "$t" || bad "run $run: $(grep '^W' "$t")"
  rows=$(own_rows "$t" "$exe" | grep -v '^reachable ')
  if [ -n "$rows" ]; then lost=$((lost + 1)); bad "run $run reports lost blocks: $rows"; fi
done
echo "exit_phdr: $runs runs, $hangs hung, $lost with blocks reported lost"
if [ "${HS_NO_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null; then
  (cd "$dir" && timeout 120 valgrind -q --leak-check=full --show-leak-kinds=all --xml=yes \
     --xml-file=vg.xml "$exe" >/dev/null 2>&1)
  vg=$(vg_owned "$dir/vg.xml" "$exe" 2>/dev/null | grep -v '^reachable ')
  [ -z "$vg" ] || bad "memcheck now reports lost blocks: $vg"
fi

case=leak_busy
exe=$(readlink -f "$P/leak_busy")
for run in $(seq 1 20); do
  shimmed "busy$run" 30 "$exe"
  rc=$?
  t=$dir/busy$run/t.trace
  [ "$rc" = 0 ] || { bad "run $run: exit status $rc: $(head -c 200 "$dir/busy$run/err")"; continue; }
  grep -q '^E ' "$t" && bad "run $run: heap errors: $(grep '^E ' "$t" | head -n 2)"
  grep -q '^W \(complete\|partial\) ' "$t" || bad "run $run: $(grep '^W' "$t")"
  own_rows "$t" "$exe" | grep -q '^definite 1 77 leak_busy.c:34 drop$' ||
    bad "run $run: main's leak: $(own_rows "$t" "$exe")"
done

exe=$(readlink -f "$P/world_cases")
leak="definite 1 100 world_cases.c:$(grep -n 'LEAK definite 100' tests/progs/world_cases.c | cut -d: -f1) make_leak"

case=idle
shimmed idle 30 "$exe" idle
rc=$?
t=$dir/idle/t.trace
[ "$rc" = 0 ] || bad "exit status $rc: $(cat "$dir/idle/err")"
grep -q 'interrupted' "$dir/idle/err" && bad "$(cat "$dir/idle/err")"
[ "$(grep '^W' "$t")" = "W complete 2 0 2 0" ] || bad "W line: $(grep '^W' "$t")"
[ "$(own_rows "$t" "$exe")" = "$leak" ] || bad "records: $(own_rows "$t" "$exe")"

case=sigblock
mkdir -p "$dir/sigblock"
(cd "$dir/sigblock" && timeout -k 5 30 "$cli" run -o "$dir/sigblock/t.trace" \
   --json "$dir/sigblock/r.json" -- "$exe" sigblock >/dev/null 2>"$dir/sigblock/err")
rc=$?
t=$dir/sigblock/t.trace
[ "$rc" = 0 ] || bad "exit status $rc: $(tail -n 3 "$dir/sigblock/err")"
grep -q '^W partial 1 0 0 1 thread [0-9]* blocks the stop signal$' "$t" || bad "W line: $(grep '^W' "$t")"
grep -q 'NOTE: the leak scan ran while 1 other thread kept running (thread [0-9]* blocks the stop signal)' \
  "$dir/sigblock/err" || bad "the report does not say it: $(grep NOTE "$dir/sigblock/err")"
st=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["summary"]["leak_scan"]["status"])' \
     "$dir/sigblock/r.json")
[ "$st" = partial ] || bad "JSON leak_scan.status: $st"
own_rows "$t" "$exe" | grep -qx "$leak" || bad "records: $(own_rows "$t" "$exe")"

case=busy
for run in $(seq 1 20); do
  mkdir -p "$dir/term$run"
  timeout -s TERM -k 20 0.$((run % 4 + 1)) env HEAPSCOPE_OUT="$dir/term$run/t.trace" \
    LD_PRELOAD="$shim" "$P/leak_busy" forever >/dev/null 2>"$dir/term$run/err"
  rc=$?
  t=$dir/term$run/t.trace
  [ "$rc" = 124 ] || { bad "run $run: status $rc: $(head -c 200 "$dir/term$run/err")"; continue; }
  [ "$(tail -n 1 "$t")" = "X signal 15" ] || bad "run $run: trace ends with: $(tail -n 1 "$t" | cut -c1-80)"
  # a SIGTERM that lands inside malloc waits for it to finish: never skipped
  grep -q '^W \(complete\|partial\) ' "$t" || bad "run $run: $(grep '^W' "$t" || echo no W line)"
  grep -q '^E ' "$t" && bad "run $run: heap errors: $(grep '^E ' "$t" | head -n 2)"
done

# The freezing library: the thread named in freeze_tid stops for good in
# the mmap that maps a new arena (8 MiB, MAP_NORESERVE: buddy.c), which
# runs under the buddy lock.
case=lock
cat > "$dir/freeze.c" <<'LIB'
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
atomic_int freeze_tid, frozen;
void *mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	if (freeze_tid && l == (8u << 20) && (f & MAP_NORESERVE) &&
	    syscall(SYS_gettid) == freeze_tid) {
		frozen = 1;
		for (;;)
			pause();
	}
	return (void *)syscall(SYS_mmap, a, l, p, f, fd, o);
}
LIB
if gcc -shared -fPIC -O1 -o "$dir/freeze.so" "$dir/freeze.c"; then
  mkdir -p "$dir/lock"
  (cd "$dir/lock" && LD_PRELOAD="$dir/freeze.so" timeout -k 5 30 "$cli" run \
     -o "$dir/lock/t.trace" -- "$exe" lock >/dev/null 2>"$dir/lock/err")
  rc=$?
  t=$dir/lock/t.trace
  [ "$rc" = 139 ] || bad "exit status $rc, want 139 (SIGSEGV): $(tail -n 3 "$dir/lock/err")"
  [ "$(grep '^W' "$t")" = "W skipped 0 0 0 0 an allocator lock stayed held by another thread" ] ||
    bad "W line: $(grep '^W' "$t")"
  [ "$(tail -n 1 "$t")" = "X signal 11" ] || bad "trace ends with: $(tail -n 1 "$t")"
  grep -q 'LEAK SUMMARY: not available: an allocator lock stayed held by another thread' \
    "$dir/lock/err" || bad "the report does not say why: $(grep 'LEAK SUMMARY' "$dir/lock/err")"
else
  bad "cannot build the freezing library"
fi

echo "world stop: $fails failure(s)"
[ "$fails" = 0 ]
