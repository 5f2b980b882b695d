#!/usr/bin/env bash
# `heapscope run` end to end: the shim records, the program's exit status
# comes through, and the report names the leaking function and line with
# the right kinds and sizes.
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
prog=$PWD/build/tests/progs/run_report
src=$PWD/tests/progs/run_report.c
[ -x "$hs" ] && [ -x "$prog" ] || { echo "run_report.sh: build first (make check)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
line() { grep -n "@$1\b" "$src" | cut -d: -f1; }

cd "$tmp"
"$hs" run --json out.json -o run.%p.trace "$prog" 3 > stdout 2> report
rc=$?
[ $rc = 3 ] || { echo "FAIL: exit $rc, the program's own status is 3"; fail=1; }
[ -s stdout ] && { echo "FAIL: heapscope wrote to the program's stdout"; fail=1; }
ls run.*.trace > /dev/null 2>&1 || { echo "FAIL: no trace run.PID.trace"; fail=1; }
grep -qF "40 bytes in 1 blocks are definitely lost" report \
	|| { echo "FAIL: no definite 40-byte record"; fail=1; }
grep -qF ": leaky (run_report.c:$(line definite))" report \
	|| { echo "FAIL: the leak is not placed at leaky (run_report.c:$(line definite))"; fail=1; }
python3 - out.json "$(line definite)" "$(line reachable)" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
want = {"definitely_lost": (1, 40), "indirectly_lost": (0, 0),
        "possibly_lost": (0, 0), "still_reachable": (1, 24)}
for k, (blocks, nbytes) in want.items():
    got = (s[k]["blocks"], s[k]["bytes"])
    # the C runtime may hold blocks of its own: reachable is at least ours
    ok = got == (blocks, nbytes) if k != "still_reachable" else got[1] >= nbytes
    if not ok:
        print("FAIL: %s is %s, expected %s" % (k, got, (blocks, nbytes))); sys.exit(1)
leak = [l for l in r["leaks"] if l["kind"] == "definitely_lost"][0]
top = leak["stack"][0]
if (top["function"], top["line"]) != ("leaky", int(sys.argv[2])):
    print("FAIL: innermost frame %s:%s" % (top["function"], top["line"])); sys.exit(1)
if r["exit"] != {"code": 3}:
    print("FAIL: exit %s" % r["exit"]); sys.exit(1)
PY
"$hs" run --quiet --error-exitcode 7 -o run2.%p.trace "$prog" 0 2> report2
rc=$?
[ $rc = 7 ] || { echo "FAIL: --error-exitcode 7 with a definite leak gave $rc"; fail=1; }
printf 'leak:leaky\n' > s.supp
"$hs" run --quiet --error-exitcode 7 --suppressions s.supp -o run3.%p.trace "$prog" 0 2> report3
rc=$?
[ $rc = 0 ] || { echo "FAIL: the only leak was suppressed, exit $rc"; cat report3; fail=1; }
[ $fail = 0 ] || { echo "---- report:"; cat report; }
[ $fail = 0 ] && echo "run_report.sh: all checks passed"
exit $fail
