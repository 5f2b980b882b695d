#!/bin/bash
# fuzz.sh — `make fuzz`: build each libFuzzer harness (tests/fuzz/) into
# build/fuzz/ and run it for FUZZ_SECONDS (default 60) from its seed corpus.
#
#   FUZZ_SECONDS=300 bash scripts/fuzz.sh            all harnesses
#   bash scripts/fuzz.sh trace suppress              some of them
#
# New inputs libFuzzer finds go to build/fuzz/corpus/NAME (the seeds in
# tests/fuzz/corpus stay small and reviewed); a crash, leak, timeout or
# sanitizer report leaves its input in build/fuzz/findings/NAME and makes
# the script exit non-zero. Keep a fixed one in tests/fuzz/regress/NAME/:
# tests/e2e/fuzz_regress.sh replays those in `make check`.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/fuzz/harnesses.sh

CLANG=${CLANG:-clang}
SECS=${FUZZ_SECONDS:-60}
OUT=build/fuzz
if ! command -v "$CLANG" >/dev/null; then
	echo "fuzz: $CLANG not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi
FLAGS="-std=gnu11 -D_GNU_SOURCE -Iinclude -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
list=${*:-$HARNESSES}
mkdir -p "$OUT"
status=0
head=$(printf '%-13s %10s %8s %8s %7s  %s' harness execs exec/s cov ft findings)
echo "$head"
for h in $list; do
	src=$(harness_flags "$h") || { echo "fuzz: no harness '$h' (have: $HARNESSES)" >&2; exit 2; }
	# shellcheck disable=SC2086
	if ! $CLANG $FLAGS -o "$OUT/fuzz_$h" $src 2> "$OUT/$h.build.log"; then
		cat "$OUT/$h.build.log" >&2
		echo "fuzz: building $h failed" >&2
		exit 2
	fi
	mkdir -p "$OUT/corpus/$h" "$OUT/findings/$h"
	log=$OUT/$h.log
	echo "== fuzz_$h: ${SECS}s, -max_len=$(harness_max_len "$h")"
	# close_fd_mask=2: the parsers' own "bad value" messages would flood the
	# terminal; libFuzzer keeps a private copy of stderr for its status
	# lines and the sanitizers' reports. -timeout: a hang is a finding.
	# The first corpus directory receives the new inputs, so the reviewed
	# seeds in tests/fuzz/corpus are read, never written.
	dict=()
	[ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
	"$OUT/fuzz_$h" "$OUT/corpus/$h" "tests/fuzz/corpus/$h" "${dict[@]}" \
		-max_total_time="$SECS" -max_len="$(harness_max_len "$h")" \
		-timeout=10 -rss_limit_mb=1024 -close_fd_mask=2 -print_final_stats=1 \
		-artifact_prefix="$OUT/findings/$h/" > "$log" 2>&1
	rc=$?
	# Last status line: "#N DONE cov: C ft: F corp: ... exec/s: E ..."
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
	ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
	eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
	found=$(find "$OUT/findings/$h" -type f | wc -l)
	printf '%-13s %10s %8s %8s %7s  %s\n' "$h" "${execs:-?}" "${eps:-?}" \
		"${cov:-?}" "${ft:-?}" "$found" | tee "$OUT/$h.summary"
	if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
		status=1
		grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written' "$log" | head -8
		echo "   full log: $log; inputs: $OUT/findings/$h/"
	fi
done
# One summary file per harness, so two runs on different harnesses can
# share build/fuzz; the table shows the latest run of each.
echo
echo "$head"
for h in $list; do cat "$OUT/$h.summary"; done
exit $status
