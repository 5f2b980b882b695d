#!/usr/bin/env bash
# bench/cachegrind.sh — deterministic cost of a command: instructions and
# simulated cache misses under valgrind's cachegrind, for comparing two
# builds or settings when wall time on a shared machine is too noisy.
#
#   bench/cachegrind.sh "NAME|ENV=V ENV2=V2|command args" ...
#
# Prints per spec: instructions (Ir), L1 data misses, last-level misses
# (the simulated LL is a 2 MiB, 16-way L2, the per-core L2 of the machine
# the numbers in docs/ARCHITECTURE.md come from), and a crude cycle
# estimate Ir + 10 x L1 misses + 80 x LL misses. Prefetches are not
# modelled, so misses a prefetch would hide are counted in full.
# Output files stay in $CGDIR (default: a new temporary directory).
set -u
[ $# -gt 0 ] || { sed -n '2,14p' "$0"; exit 2; }
command -v valgrind >/dev/null || { echo "cachegrind.sh: valgrind is not installed" >&2; exit 1; }
d=${CGDIR:-$(mktemp -d)}
mkdir -p "$d"
for spec in "$@"; do
	name=${spec%%|*}; rest=${spec#*|}; envs=${rest%%|*}; cmd=${rest#*|}
	f=$d/cg.$name.out
	# shellcheck disable=SC2086  # envs and cmd are word lists on purpose
	env $envs HEAPSCOPE_OUT="$d/trace.%p" valgrind --tool=cachegrind --cache-sim=yes \
		--D1=49152,12,64 --LL=2097152,16,64 --cachegrind-out-file="$f" $cmd \
		>/dev/null 2>"$d/$name.err" || { echo "$name: failed (see $d/$name.err)"; continue; }
	python3 - "$name" "$f" <<'PY'
import sys
name, f = sys.argv[1], sys.argv[2]
ev = tot = None
for line in open(f):
    if line.startswith('events:'):
        ev = line.split()[1:]
    if line.startswith('summary:'):
        tot = list(map(int, line.split()[1:]))
d = dict(zip(ev, tot))
d1 = d['D1mr'] + d['D1mw']
ll = d['DLmr'] + d['DLmw']
est = d['Ir'] + 10 * d1 + 80 * ll
print(f"{name:16s} Ir {d['Ir']/1e6:8.1f}M  L1 misses {d1/1e6:6.2f}M  "
      f"LL misses {ll/1e6:6.2f}M  est {est/1e6:8.1f}M")
PY
done
echo "(cachegrind files: $d)"
