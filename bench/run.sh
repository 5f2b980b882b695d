#!/usr/bin/env bash
# bench/run.sh — time heapscope against other allocators and other tools.
#
# Two tables, each over the workloads in bench/work/ (built by `make bench`)
# and three real programs users run (sqlite3 on an SQL script, gcc's cc1 on
# a generated C file, python3 on a dict/list churn; inputs made by
# bench/inputs/gen.py, their output compared like a workload's checksum):
#   alloc   glibc, jemalloc, mimalloc, tcmalloc and heapscope as a plain
#           allocator
#           (HEAPSCOPE_RECORD=0): time and peak RSS as ratios to glibc.
#   record  native, heapscope recording, heaptrack, valgrind memcheck and
#           LeakSanitizer: what a diagnostic run costs, ratio to native;
#           heapscope also without its heap error checks (hs-nochecks,
#           and through the CLI: hs-run-nochecks) and without the
#           quarantine (hs-noquar), so the report shows what each costs,
#           and as the allocator alone (hs-plain, HEAPSCOPE_RECORD=0), so
#           it shows what recording adds to the allocator's own time.
# Every configuration in a table runs the same workload with the same
# arguments; runs are interleaved round by round with the configuration
# order rotated, so drift on this shared machine hits all of them alike.
# Results: bench/RESULTS.md (also printed); raw rows in build/bench/raw.tsv.
#
# Environment:
#   BENCH_RUNS=5           runs per configuration (medians are reported)
#   BENCH_QUICK=1          one run, small sizes: for development
#   BENCH_TABLES="alloc record"   which tables
#   BENCH_ONLY="churn1 large"     which workloads (default: all)
#   BENCH_VALGRIND=0       skip valgrind;  BENCH_VALGRIND_RUNS (default 3)
#   BENCH_TIMEOUT=120      seconds before a run counts as hung
#   BENCH_NOISE_BUDGET=40  seconds the suite may spend waiting for a quiet
#                          machine and retrying disturbed runs (0 in quick
#                          mode); BENCH_RETRIES=2 retries per run at most
#   HS_LIB                 the heapscope library (build/libheapscope.so)
#   HS_RECORD_CMD          how heapscope records; leading NAME=VALUE words
#                          become the program's environment, the rest is a
#                          command prefix. @LIB@ is the library, @OUT@ the
#                          trace file name. Default: 'build/heapscope run
#                          -o @OUT@ --' when the CLI is built, else the
#                          library alone: 'LD_PRELOAD=@LIB@ HEAPSCOPE_OUT=@OUT@'
#   BENCH_RESULTS          where to write the tables (bench/RESULTS.md;
#                          build/bench/RESULTS-quick.md in quick mode)
set -u
cd "$(dirname "$0")/.."

B=build/bench
RUNS=${BENCH_RUNS:-5}
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 1 ] && RUNS=1
TABLES=${BENCH_TABLES:-alloc record}
VG_RUNS=${BENCH_VALGRIND_RUNS:-3}
[ "$VG_RUNS" -gt "$RUNS" ] && VG_RUNS=$RUNS
TIMEOUT=${BENCH_TIMEOUT:-120}
# Quick numbers are not results: keep them out of the committed file.
if [ "$QUICK" = 1 ]; then RESULTS=${BENCH_RESULTS:-$B/RESULTS-quick.md}
else RESULTS=${BENCH_RESULTS:-bench/RESULTS.md}; fi
# Absolute, so that LD_PRELOAD does not depend on the program's cwd.
HS_LIB=$(realpath -m "${HS_LIB:-build/libheapscope.so}")
# A user records with the CLI, so once it is built that is what we time
# (all of it, report included, as heaptrack's interpreter is counted);
# before that, the preload library alone.
if [ -x build/heapscope ]; then
	HS_RECORD_CMD=${HS_RECORD_CMD:-build/heapscope run -o @OUT@ --}
else
	HS_RECORD_CMD=${HS_RECORD_CMD:-LD_PRELOAD=@LIB@ HEAPSCOPE_OUT=@OUT@}
fi
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
MIMALLOC=$(dpkg -L libmimalloc2.0 2>/dev/null | grep '/libmimalloc\.so\.2$' | head -1)
# gperftools' tcmalloc without the profiler (libtcmalloc-minimal4)
TCMALLOC=$(dpkg -L libtcmalloc-minimal4 2>/dev/null | grep '/libtcmalloc_minimal\.so\.4$' | head -1)

# Workload arguments: name, alloc table, record table, and the same two in
# quick mode. The record table is smaller because heaptrack and valgrind run
# 5-80x slower; realloc gets the deepest cut because valgrind's and LSan's
# realloc copy on every call, which is quadratic on a growing string. The
# defaults built into each program are the alloc sizes, ~0.3-1.5 s
# natively on the reference machine.
# leakheap is the exit-time leak scan's: 4M blocks of 256 bytes (1 GiB)
# at the same size in both tables, its target is set at that size.
WORKLOADS="
churn1   8000000   1000000  1000000  200000
churnmt  8000000   1000000  1000000  200000
realloc  24000000  100000   3000000  30000
large    2000      300      300      40
aligned  500000    90000    90000    10000
deepstack 400000   100000   40000    40000
sqlite3  40000     40000    5000     5000
cc1      2500      2500     400      400
python3  200000    200000   20000    20000
leakheap 4194304   4194304  262144   262144
"
# Real programs: the argument is the size of the generated input (rows,
# lines of C, loop turns). LeakSanitizer needs a program rebuilt with
# clang, so it has no row for them.
REAL_PROGRAMS="sqlite3 cc1 python3"
CC1=$(gcc -print-prog-name=cc1 2>/dev/null)
# The interpreter itself, not a wrapper script that runs it (pyenv's
# shim is a shell script: `run` would report every process it starts).
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)
is_real() { case " $REAL_PROGRAMS " in *" $1 "*) return 0 ;; esac; return 1; }
# real_cmd WORKLOAD SIZE: the command in R (inputs generated once).
real_cmd() {
	local w=$1 size=$2 in=$B/inputs
	mkdir -p "$in"
	case $w in
	sqlite3) f=$in/sqlite3.$size.sql ;;
	cc1)     f=$in/cc1.$size.c ;;
	python3) f=$in/python3.py ;;
	esac
	[ -s "$f" ] || python3 bench/inputs/gen.py "$w" "$size" "$f" || return 1
	case $w in
	sqlite3) R=(sqlite3 -batch -init "$f" :memory: .quit) ;;
	cc1)     R=("$CC1" -quiet -O2 "$f" -o /dev/null) ;;
	python3) R=("$PYTHON" "$f" "$size") ;;
	esac
}

say() { printf '%s\n' "$*" >&2; }

[ -x "$B/churn1" ] || { say "bench: workloads not built; run 'make bench'"; exit 1; }
mkdir -p "$B"
gcc -O2 -std=gnu11 -Wall -Wextra -o "$B/measure" bench/measure.c || exit 1

WORK=$(mktemp -d "$B/runs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RAW=$B/raw.tsv
META=$B/meta.tsv
: >"$RAW"
: >"$META"

# ---- which configurations can run here --------------------------------
# unavailable[cfg] holds the reason a configuration is not measured.
declare -A unavailable
have_lib() { [ -n "$1" ] && [ -r "$1" ]; }
have_lib "$JEMALLOC" || unavailable[jemalloc]="n/a (not installed)"
have_lib "$MIMALLOC" || unavailable[mimalloc]="n/a (not installed)"
have_lib "$TCMALLOC" || unavailable[tcmalloc]="n/a (not installed)"
[ -r "$HS_LIB" ] || { unavailable[heapscope]="n/a (not built)"; unavailable[hs-record]="n/a (not built)"; }
command -v heaptrack >/dev/null || unavailable[heaptrack]="n/a (not installed)"
command -v valgrind >/dev/null || unavailable[valgrind]="n/a (not installed)"
[ "${BENCH_VALGRIND:-1}" = 0 ] && unavailable[valgrind]="skipped (BENCH_VALGRIND=0)"

# LeakSanitizer needs the workloads rebuilt with clang; the runtime comes
# from libclang-rt-14-dev.
build_lsan() {
	command -v clang >/dev/null || { unavailable[lsan]="n/a (not installed)"; return; }
	mkdir -p "$B/lsan"
	local src name
	for src in bench/work/*.c; do
		name=$(basename "$src" .c)
		clang -std=gnu11 -D_GNU_SOURCE -O2 -g -pthread -fsanitize=leak \
			-o "$B/lsan/$name" "$src" 2>"$WORK/lsan-build.err" || {
			unavailable[lsan]="n/a (clang -fsanitize=leak failed: $(head -c 120 "$WORK/lsan-build.err" | tr '\n\t' '  '))"
			return
		}
	done
}
case " $TABLES " in *" record "*) build_lsan ;; esac

# ---- one run -----------------------------------------------------------
# cmd_for CFG WORKLOAD DIR ARGS...: fills M with measure's arguments and
# prints nothing. DIR/trace/ collects whatever trace the run writes.
cmd_for() {
	local cfg=$1 w=$2 dir=$3
	shift 3
	local P=("$B/$w" "$@")
	if is_real "$w"; then
		real_cmd "$w" "$@" && P=("${R[@]}")
	fi
	M=()
	case $cfg in
	glibc | native) M=(-- "${P[@]}") ;;
	jemalloc) M=(-e "LD_PRELOAD=$JEMALLOC" -- "${P[@]}") ;;
	mimalloc) M=(-e "LD_PRELOAD=$MIMALLOC" -- "${P[@]}") ;;
	tcmalloc) M=(-e "LD_PRELOAD=$TCMALLOC" -- "${P[@]}") ;;
	heapscope | hs-plain)
		# HEAPSCOPE_OUT too, so that a plain-mode run that writes a trace
		# anyway shows up in the trace column instead of littering.
		M=(-e "LD_PRELOAD=$HS_LIB" -e HEAPSCOPE_RECORD=0
		   -e "HEAPSCOPE_OUT=$dir/trace/hs.%p.trace" -- "${P[@]}") ;;
	hs-record)
		local word env=() pre=() in_env=1
		for word in $HS_RECORD_CMD; do
			word=${word//@LIB@/$HS_LIB}
			word=${word//@OUT@/$dir/trace/hs.%p.trace}
			if [ $in_env = 1 ] && [[ $word =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
				env+=(-e "$word")
			else
				in_env=0
				pre+=("$word")
			fi
		done
		M=("${env[@]}" -- "${pre[@]}" "${P[@]}") ;;
	hs-lib)
		M=(-e "LD_PRELOAD=$HS_LIB" -e "HEAPSCOPE_OUT=$dir/trace/hs.%p.trace"
		   -- "${P[@]}") ;;
	hs-nochecks)
		# the same without the heap error checks (--no-checks): what
		# canaries, the quarantine and free stacks cost
		M=(-e "LD_PRELOAD=$HS_LIB" -e "HEAPSCOPE_OUT=$dir/trace/hs.%p.trace"
		   -e HEAPSCOPE_CHECKS=0 -- "${P[@]}") ;;
	hs-noquar)
		# checks on but no quarantine: canaries, vetting and free stacks
		# alone; against hs-nochecks and hs-lib it splits the checks' cost
		M=(-e "LD_PRELOAD=$HS_LIB" -e "HEAPSCOPE_OUT=$dir/trace/hs.%p.trace"
		   -e HEAPSCOPE_QUARANTINE=0 -- "${P[@]}") ;;
	hs-run-nochecks)
		# what a leak hunt costs through the CLI: recording and report,
		# no heap error checks (issue #3's scope, LeakSanitizer's job)
		M=(-- build/heapscope run --no-checks -o "$dir/trace/hs.%p.trace" --
		   "${P[@]}") ;;
	heaptrack) M=(-- heaptrack -o "$dir/trace/ht" "${P[@]}") ;;
	valgrind) M=(-- valgrind --leak-check=full "${P[@]}") ;;
	# LeakSanitizer exits 23 when it finds leaks: leakheap has them on
	# purpose, and a report is what the run is for
	lsan) M=(-e LSAN_OPTIONS=exitcode=0 -- "$B/lsan/$w" "$@") ;;
	esac
}

# ---- a shared machine --------------------------------------------------
# Other people's jobs run here too. Before a run we wait (briefly) for the
# rest of the machine to be quiet, and a run during which others used more
# than a quarter of a CPU is retried, keeping the least disturbed attempt.
# Both only spend a bounded budget of extra time, so a busy machine makes
# the suite noisier, never endless; the report says how disturbed it was.
# The budget is shared out equally per round, so that the first rounds (or
# the first table) do not get all the quiet and the last none.
NOISE_BUDGET_MS=$((${BENCH_NOISE_BUDGET:-40} * 1000))
[ "$QUICK" = 1 ] && NOISE_BUDGET_MS=0
NTABLES=$(wc -w <<<"$TABLES")
ROUND_BUDGET_MS=$((NOISE_BUDGET_MS / (RUNS * NTABLES)))
round_spent_ms=0
RETRIES=${BENCH_RETRIES:-2}
TICK=$(getconf CLK_TCK)
noise_spent_ms=0
now_ms() { echo $(($(date +%s%N) / 1000000)); }
spend() {
	noise_spent_ms=$((noise_spent_ms + $1))
	round_spent_ms=$((round_spent_ms + $1))
}

# Busy jiffies of the whole machine (user nice system irq softirq steal).
busy_jiffies() {
	awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}

wait_quiet() {
	local t0 waited=0 b0 b1
	t0=$(now_ms)
	while [ $round_spent_ms -lt $ROUND_BUDGET_MS ] && [ $waited -lt 5000 ]; do
		b0=$(busy_jiffies)
		sleep 0.4
		b1=$(busy_jiffies)
		# quiet: others used under a quarter of one CPU over 0.4 s
		[ $(((b1 - b0) * 1000 / TICK)) -lt 100 ] && break
		waited=$(($(now_ms) - t0))
		spend 400
	done
}

# field NAME LINE: one value from measure's output line.
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# run_one TABLE CFG WORKLOAD ROUND ARGS...: measure once (or retry while the
# machine was busy), append a raw row.
run_one() {
	local table=$1 cfg=$2 w=$3 round=$4
	shift 4
	local attempt dir line other wall best="" best_score="" score t0 load
	# Other people's jobs share this machine: keep the load each run saw.
	load=$(cut -d' ' -f1 /proc/loadavg)
	for ((attempt = 1; attempt <= RETRIES + 1; attempt++)); do
		wait_quiet
		t0=$(now_ms)
		dir=$WORK/$table.$cfg.$w.$round.$attempt
		mkdir -p "$dir/trace"
		cmd_for "$cfg" "$w" "$dir" "$@"
		line=$("$B/measure" -t "$TIMEOUT" -o "$dir/out" -E "$dir/err" "${M[@]}")
		# a retry's own time is spent from the budget too
		[ $attempt -gt 1 ] && spend $(($(now_ms) - t0))
		other=$(field other_cpu_ms "$line")
		wall=$(field wall_ms "$line")
		# disturbance: others' CPU per ms of our wall time, in thousandths
		score=$(awk -v o="${other:-0}" -v w="${wall:-1}" 'BEGIN {print int(1000 * o / (w > 1 ? w : 1))}')
		if [ -z "$best" ] || [ "$score" -lt "$best_score" ]; then
			[ -n "$best" ] && rm -rf "${best%%|*}"
			best="$dir|$line|$attempt"
			best_score=$score
		else
			rm -rf "$dir"
		fi
		[ "$(field status "$line")" = exit:0 ] || break
		[ "$score" -le 250 ] && break
		[ $round_spent_ms -ge $ROUND_BUDGET_MS ] && break
	done
	dir=${best%%|*}
	line=${best#*|}
	attempt=${line##*|}
	line=${line%|*}

	local status user sys rss sum bytes note=""
	status=$(field status "$line")
	wall=$(field wall_ms "$line")
	user=$(field user_ms "$line")
	sys=$(field sys_ms "$line")
	rss=$(field maxrss_kib "$line")
	other=$(field other_cpu_ms "$line")
	if is_real "$w"; then       # a real program's whole output is its checksum
		# (heaptrack writes its own lines to the same stdout)
		sum=$(grep -v -e '^heaptrack output will be written' -e '^/.*libheaptrack_preload' \
			-e '^starting application, this might' -e '^Heaptrack finished' \
			-e '^  heaptrack --analyze' -e '^$' "$dir/out" | md5sum | cut -c1-16)
	else
		sum=$(grep -o 'checksum=[0-9a-f]*' "$dir/out" | tail -1 | cut -d= -f2)
	fi
	bytes=$(find "$dir/trace" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	[ -n "$(ls -A "$dir/trace")" ] || bytes=-
	if [ "$status" != "exit:0" ]; then
		# Keep the tool's own words about the failure for the notes.
		note=$(grep -v '^==[0-9]*==  *$' "$dir/err" | grep -m1 -iE 'error|fail|corrupt|abort|not aligned|sanitizer|==[0-9]+==' || head -1 "$dir/err")
		note=$(printf '%s' "$note" | tr '\t\n' '  ' | cut -c1-160)
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$table" "$w" "$cfg" "$round" "${status:-error}" "${wall:-0}" "${user:-0}" \
		"${sys:-0}" "${rss:-0}" "${sum:--}" "$bytes" "$*" "$note" "$load" \
		"${other:--1}" "$attempt" >>"$RAW"
	printf '  %-6s %-8s %-10s #%s %-12s %8s ms %8s KiB  others %5s ms  try %s\n' \
		"$table" "$w" "$cfg" "$round" "${status:-error}" "${wall:-?}" "${rss:-?}" \
		"${other:-?}" "$attempt" >&2
	rm -rf "$dir"
}

# ---- the tables --------------------------------------------------------
# args_for TABLE WORKLOAD: the workload's arguments for that table.
args_for() {
	awk -v w="$2" -v t="$1" -v q="$QUICK" '$1 == w {
		col = (t == "alloc" ? 2 : 3) + (q == 1 ? 2 : 0); print $col }' <<<"$WORKLOADS"
}

selected_workloads() {
	local w
	for w in $(awk 'NF {print $1}' <<<"$WORKLOADS"); do
		if is_real "$w"; then
			local p=$w
			[ "$w" = cc1 ] && p=$CC1
			command -v "$p" >/dev/null 2>&1 || { say "bench: $w not installed, skipped"; continue; }
		else
			[ -x "$B/$w" ] || { say "bench: $B/$w missing, skipped"; continue; }
		fi
		if [ -n "${BENCH_ONLY:-}" ]; then
			case " $BENCH_ONLY " in *" $w "*) ;; *) continue ;; esac
		fi
		echo "$w"
	done
}

# run_table TABLE CFG...: all rounds, configurations rotated each round.
run_table() {
	local table=$1
	shift
	local cfgs=("$@") n=$# round w i k cfg
	for cfg in "${cfgs[@]}"; do
		printf 'config\t%s\t%s\t%s\n' "$table" "$cfg" "${unavailable[$cfg]:-}" >>"$META"
		[ -n "${unavailable[$cfg]:-}" ] && continue
		cmd_for "$cfg" WORKLOAD '$DIR' ARGS
		# measure's -e NAME=VALUE shown as a shell prefix; its own "--"
		# (the first one) dropped, the command's kept.
		local shown="" skip=0 word sep=0
		for word in "${M[@]}"; do
			[ $skip = 1 ] && { shown+="$word "; skip=0; continue; }
			if [ "$word" = -e ] && [ $sep = 0 ]; then skip=1
			elif [ "$word" = -- ] && [ $sep = 0 ]; then sep=1
			else shown+="$word "; fi
		done
		printf 'cmd\t%s\t%s\t%s\n' "$table" "$cfg" "${shown% }" >>"$META"
	done
	for w in $(selected_workloads); do
		# One unmeasured native run pages in the program and its libraries.
		cmd_for native "$w" "$WORK" $(args_for "$table" "$w")
		"${M[@]:1}" >/dev/null 2>&1
		is_real "$w" && printf 'na\t%s\t%s\t%s\n' "$table" "$w" lsan >>"$META"
	done
	for ((round = 1; round <= RUNS; round++)); do
		round_spent_ms=0
		for w in $(selected_workloads); do
			for ((i = 0; i < n; i++)); do
				k=$(((i + round - 1) % n))
				cfg=${cfgs[$k]}
				[ -n "${unavailable[$cfg]:-}" ] && continue
				[ "$cfg" = valgrind ] && [ "$round" -gt "$VG_RUNS" ] && continue
				[ "$cfg" = lsan ] && is_real "$w" && continue
				run_one "$table" "$cfg" "$w" "$round" $(args_for "$table" "$w")
			done
		done
	done
}

start=$(date +%s)
for table in $TABLES; do
	case $table in
	alloc) run_table alloc glibc jemalloc mimalloc tcmalloc heapscope ;;
	record)
		# When recording goes through the CLI, also time the library alone:
		# it separates the in-process cost from the report's fixed cost.
		if [[ $HS_RECORD_CMD =~ ^([A-Za-z_][A-Za-z0-9_]*=[^ ]*[[:space:]]*)*$ ]]; then
			[ -r "$HS_LIB" ] || unavailable[hs-nochecks]="n/a (not built)"
			[ -r "$HS_LIB" ] || unavailable[hs-plain]="n/a (not built)"
			run_table record native hs-record hs-nochecks hs-plain heaptrack valgrind lsan
		else
			for c in hs-lib hs-nochecks hs-noquar hs-run-nochecks hs-plain; do
				[ -r "$HS_LIB" ] || unavailable[$c]="n/a (not built)"
			done
			run_table record native hs-record hs-run-nochecks hs-lib hs-noquar \
				hs-nochecks hs-plain heaptrack valgrind lsan
		fi ;;
	*) say "bench: unknown table '$table'"; exit 2 ;;
	esac
done

{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'nproc\t%s\n' "$(nproc)"
	printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	printf 'kernel\t%s\n' "$(uname -sr)"
	printf 'glibc\t%s\n' "$(ldd --version 2>&1 | head -1)"
	printf 'commit\t%s\n' "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
	printf 'runs\t%s\n' "$RUNS"
	printf 'vg_runs\t%s\n' "$VG_RUNS"
	printf 'quick\t%s\n' "$QUICK"
	printf 'elapsed\t%s\n' "$(($(date +%s) - start))"
	printf 'noise_spent\t%s\n' "$((noise_spent_ms / 1000))"
	printf 'noise_budget\t%s\n' "$((NOISE_BUDGET_MS / 1000))"
	printf 'versions\t%s\n' "$(
		v() { dpkg-query -W -f='${Package} ${Version}' "$1" 2>/dev/null; }
		echo "$(v libjemalloc2), $(v libmimalloc2.0), $(v libtcmalloc-minimal4), $(v heaptrack), $(v valgrind), $(v clang-14)"
	)"
} >>"$META"

python3 bench/report.py "$RAW" "$META" >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS" && cat "$RESULTS"
