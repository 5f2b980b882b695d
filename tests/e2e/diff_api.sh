#!/usr/bin/env bash
# Differential API test: diff_api runs a seeded random sequence of
# malloc-family calls (every entry point, odd sizes and alignments,
# realloc grow/shrink/zero, overflowing requests, cross-thread frees) and
# logs each outcome without addresses. The log under heapscope (recording
# on) must be identical to glibc's for the same seed, report zero contract
# violations, and the trace must hold no heap error (E line).
# `diff_api info` compares the statistics API (mallopt, mallinfo,
# mallinfo2, malloc_info, malloc_trim, malloc_stats) the same way: its
# log must be glibc's, and malloc_stats must print glibc's eight lines.
set -u
cd "$(dirname "$0")/../.."
lib=${HEAPSCOPE_LIB:-$PWD/build/libheapscope.so}
prog=build/tests/progs/diff_api
[ -x "$prog" ] || { echo "diff_api.sh: $prog not built"; exit 1; }
[ -f "$lib" ] || { echo "diff_api.sh: $lib not built"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
for seed in 1 7; do
  timeout -k 5 60 "$prog" "$seed" 20000 >"$tmp/native.$seed" 2>&1; nrc=$?
  timeout -k 5 60 env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/hs.$seed.trace" \
    "$prog" "$seed" 20000 >"$tmp/hs.$seed" 2>"$tmp/err.$seed"; rc=$?
  why=""
  if [ "$nrc" != 0 ]; then why="native run failed ($nrc): $(grep -m3 VIOLATION "$tmp/native.$seed")"
  elif [ "$rc" != 0 ]; then why="exit status $rc under heapscope"
  elif ! cmp -s "$tmp/native.$seed" "$tmp/hs.$seed"; then why="outcome log differs from glibc"
  elif grep -q '^E ' "$tmp/hs.$seed.trace"; then why="heap error in trace: $(grep -m1 '^E ' "$tmp/hs.$seed.trace")"
  elif ! grep -q '^X exit 0' "$tmp/hs.$seed.trace"; then why="trace has no 'X exit 0'"
  fi
  if [ -n "$why" ]; then
    echo "FAIL diff_api seed $seed: $why"
    diff "$tmp/native.$seed" "$tmp/hs.$seed" | head -n 20 | sed 's/^/  /'
    head -n 5 "$tmp/err.$seed" | sed 's/^/  stderr: /'
    fail=1
  else
    echo "ok   diff_api seed $seed: $(wc -l <"$tmp/hs.$seed") outcomes identical to glibc ($(tail -n 1 "$tmp/hs.$seed"))"
  fi
done
# the statistics API
"$prog" info >"$tmp/info.native" 2>"$tmp/info.native.err"; nrc=$?
env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/info.trace" "$prog" info \
  >"$tmp/info.hs" 2>"$tmp/info.hs.err"; rc=$?
labels() { sed 's/=.*//' "$1"; }
why=""
if [ "$nrc" != 0 ]; then why="native run failed: $(grep -m3 VIOLATION "$tmp/info.native")"
elif [ "$rc" != 0 ]; then why="exit status $rc under heapscope: $(grep -m3 VIOLATION "$tmp/info.hs")"
elif ! cmp -s "$tmp/info.native" "$tmp/info.hs"; then why="outcome log differs from glibc"
elif [ "$(labels "$tmp/info.native.err")" != "$(labels "$tmp/info.hs.err")" ]; then
  why="malloc_stats lines differ from glibc's: $(head -c 300 "$tmp/info.hs.err")"
elif [ "$(wc -l <"$tmp/info.hs.err")" != 8 ]; then why="malloc_stats did not print its 8 lines"
elif grep -q '^E ' "$tmp/info.trace"; then why="heap error in trace: $(grep -m1 '^E ' "$tmp/info.trace")"
fi
if [ -n "$why" ]; then
  echo "FAIL diff_api info: $why"
  diff "$tmp/info.native" "$tmp/info.hs" | head -n 20 | sed 's/^/  /'
  fail=1
else
  echo "ok   diff_api info: $(wc -l <"$tmp/info.hs") outcomes of the statistics API identical to glibc's"
fi
exit $fail
