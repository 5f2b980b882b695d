# harnesses.sh — sourced by scripts/fuzz.sh and tests/e2e/fuzz_regress.sh:
# for each harness, the include flags and the project sources it links.
# One place, so the fuzzer build and the `make check` replay build can
# never drift apart.
HS_READER="analyzer/trace/trace_read.c analyzer/trace/trace_lines.c analyzer/trace/trace_sites.c analyzer/trace/heapsnap.c analyzer/util.c"
HARNESSES="trace fault_policy suppress config"
harness_flags() {
	case $1 in
	trace)        echo "-Ianalyzer tests/fuzz/fuzz_trace.c $HS_READER" ;;
	suppress)     echo "-Ianalyzer tests/fuzz/fuzz_suppress.c analyzer/analysis/suppress.c analyzer/analysis/suppress_match.c $HS_READER" ;;
	fault_policy) echo "-Ipreload tests/fuzz/fuzz_fault_policy.c preload/faults/fault_policy.c" ;;
	config)       echo "-Ipreload tests/fuzz/fuzz_config.c preload/config.c preload/util.c" ;;
	*)            return 1 ;;
	esac
}
# Longest input worth trying: a trace line may be long (`S` with many
# frames, `h` cells), the rest are one-line strings or small files.
harness_max_len() {
	case $1 in
	trace)    echo 16384 ;;
	suppress) echo 4096 ;;
	*)        echo 1024 ;;
	esac
}
