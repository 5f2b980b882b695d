#!/usr/bin/env bash
# The shim's own code under AddressSanitizer + UndefinedBehaviorSanitizer:
# the preload core (preload/**/*.c without the hooks/hook_*.c entry points, so the
# sanitizer runtime keeps its own malloc) is compiled with
# -fsanitize=address,undefined into build/asan/, every Check unit test in
# tests/unit/{alloc,record,faults,leaks}/ is linked against it and run. Any sanitizer report
# fails (halt_on_error, UBSan made fatal), as does a failing unit test.
# Prints a SKIP line and passes when gcc's sanitizer runtimes are missing.
set -u
cd "$(dirname "$0")/../.."
cc=${CC:-gcc}
out=build/asan
mkdir -p "$out/preload" "$out/tests"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo 'int main(void){return 0;}' >"$tmp/probe.c"
if ! "$cc" -fsanitize=address,undefined -o "$tmp/probe" "$tmp/probe.c" 2>/dev/null || ! "$tmp/probe"; then
  echo "SKIP sanitized_core: $cc cannot build/run -fsanitize=address,undefined (libasan/libubsan missing)"
  exit 0
fi
check_libs=$(pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

# The Makefile's shim flags minus what the sanitizers need otherwise
# (stack protector off is harmless; -fno-builtin-* kept: the core must
# not let gcc turn its code into calls to malloc).
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Iinclude -O1 -g -fPIC
  -fvisibility=hidden -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free
  -fno-builtin-calloc -fno-builtin-realloc $san"
objs=()
for src in $(find preload -name '*.c' | sort); do
  case $src in preload/hooks/hook_*) continue ;; esac
  o="$out/preload/$(basename "${src%.c}").o"
  if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find preload -name '*.h' -newer "$o")" ]; then
    $cc $cflags -Ipreload -c -o "$o" "$src" || { echo "FAIL sanitized_core: compiling $src"; exit 1; }
  fi
  objs+=("$o")
done

fail=0
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export CK_FORK=no   # one process per test binary: a report is attributed to it
# test_leakroots runs the root scan over this whole process, and under
# ASan that includes the ~15 TB read-write shadow mapping: the scan would
# read 8 bytes of /proc/self/pagemap per 4 KiB page of it (~30 GB), which
# takes minutes. It is linked with the same core built for UBSan only.
ubsan_objs=()
for src in $(find preload -name '*.c' | sort); do
  case $src in preload/hooks/hook_*) continue ;; esac
  o="$out/preload/$(basename "${src%.c}").ubsan.o"
  if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find preload -name '*.h' -newer "$o")" ]; then
    $cc ${cflags//-fsanitize=address,undefined/-fsanitize=undefined} -Ipreload -c -o "$o" "$src" ||
      { echo "FAIL sanitized_core: compiling $src (UBSan)"; exit 1; }
  fi
  ubsan_objs+=("$o")
done

for t in tests/unit/{alloc,record,checks,faults,leaks}/*.c; do
  [ -f "$t" ] || continue
  name=$(basename "${t%.c}")
  bin="$out/tests/$name"
  f=$cflags o=("${objs[@]}") what="ASan+UBSan"
  if [ "$name" = test_leakroots ]; then
    f=${cflags//-fsanitize=address,undefined/-fsanitize=undefined} o=("${ubsan_objs[@]}") what="UBSan only"
  fi
  $cc $f -Ipreload -Itests/unit -o "$bin" "$t" "${o[@]}" -lunwind -lpthread -ldl $check_libs ||
    { echo "FAIL sanitized_core: linking $name"; fail=1; continue; }
  start=$(date +%s.%N)
  timeout -k 5 60 "$bin" >"$tmp/$name.out" 2>&1; rc=$?
  secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo "?")
  if [ "$rc" != 0 ] || grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/$name.out"; then
    echo "FAIL sanitized_core $name (exit $rc)"
    grep -m 1 -A 12 -E 'ERROR: |runtime error:|[0-9]+%: Checks' "$tmp/$name.out" | sed 's/^/  /'
    fail=1
  else
    echo "ok   sanitized_core $name [$what]: $(grep -m1 -E '[0-9]+%: Checks' "$tmp/$name.out") (${secs}s)"
  fi
done
exit $fail
