#!/bin/bash
# fuzz_regress.sh — replay every input the fuzzers ever tripped on
# (tests/fuzz/regress/NAME/*) and the seed corpora (tests/fuzz/corpus/NAME/*)
# through the same harnesses, built without libFuzzer: gcc with
# AddressSanitizer + UBSan and a small main() (tests/fuzz/replay_main.c),
# so this runs on any machine with gcc's sanitizer runtimes, clang or not.
# Any sanitizer report, abort or leak fails the test. No sanitizer
# runtime: prints SKIP and passes, as there is nothing it could check.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/fuzz/harnesses.sh

CC=${CC:-gcc}
OUT=build/fuzz-replay
mkdir -p "$OUT"
probe=$OUT/probe
if ! echo 'int main(void){return 0;}' | $CC -x c -fsanitize=address,undefined -o "$probe" - 2>/dev/null \
   || ! "$probe"; then
	echo "SKIP: $CC cannot build with -fsanitize=address,undefined (libasan/libubsan missing)"
	exit 0
fi

FLAGS="-std=gnu11 -D_GNU_SOURCE -Iinclude -g -O1 -fno-omit-frame-pointer
       -fsanitize=address,undefined -fno-sanitize-recover=all"
# halt_on_error: the first report fails the run; leaks are findings too.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fail=0
for h in $HARNESSES; do
	# shellcheck disable=SC2086
	if ! $CC $FLAGS -o "$OUT/replay_$h" tests/fuzz/replay_main.c $(harness_flags "$h") 2> "$OUT/$h.build.log"; then
		cat "$OUT/$h.build.log"
		echo "FAIL: building replay_$h"
		fail=1
		continue
	fi
	inputs=()
	for f in tests/fuzz/regress/"$h"/* tests/fuzz/corpus/"$h"/*; do
		[ -f "$f" ] && inputs+=("$f")
	done
	if [ ${#inputs[@]} -eq 0 ]; then
		echo "FAIL: no inputs for $h (the seed corpus should never be empty)"
		fail=1
		continue
	fi
	# One input per run: a report names the input that caused it.
	n=0
	for f in "${inputs[@]}"; do
		if ! "$OUT/replay_$h" "$f" > "$OUT/$h.last.log" 2>&1; then
			echo "FAIL: replay_$h $f"
			tail -n 30 "$OUT/$h.last.log"
			fail=1
		else
			n=$((n + 1))
		fi
	done
	echo "$h: $n/${#inputs[@]} inputs replayed clean"
done
exit $fail
