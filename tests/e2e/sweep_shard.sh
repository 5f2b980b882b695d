#!/usr/bin/env bash
# heapscope sweep split across machines (docs/SWEEP.md, "Sharding"):
#  1. --mode=nth on samples/oom_unchecked, whole and as three shards: each
#     shard runs exactly the plan indices K-1, K-1+3, ...; --merge of the
#     three (in any order) gives the whole sweep's JSON (timings and load
#     addresses aside), the same table and the same exit status.
#  2. The same for site mode in two shards.
#  3. Refusals, one line each and exit 2: a shard of another program, of
#     other options, a missing shard, a shard given twice, a result made
#     without --shard, a file that is not JSON; and the usage errors of
#     --shard itself.
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
out=$PWD/build/tests/sweep_shard
rm -rf "$out"; mkdir -p "$out/tmp"
export TMPDIR=$out/tmp
fail=0
bad() { echo "FAIL: $*"; fail=1; }
unchecked=build/samples/oom_unchecked
checked=build/samples/oom_checked

# same.py WHOLE MERGED: equal but for timings and load addresses
cat > "$out/same.py" <<'EOF'
import json, sys
def norm(p):
    d = json.load(open(p))
    for k in ("wall_seconds", "timeout_seconds", "jobs"):
        d.pop(k)
    d["clean"].pop("seconds")
    for r in d["runs"]:
        r.pop("seconds")
    for s in d["sites"]:
        for f in s["stack"]:
            f.pop("address")
    return d
a, b = norm(sys.argv[1]), norm(sys.argv[2])
if a != b:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            print("%s: whole %s / merged %s" % (k, str(a.get(k))[:200], str(b.get(k))[:200]))
    sys.exit(1)
print("%d runs, %d sites" % (len(a["runs"]), len(a["sites"])))
EOF
# shard_ok.py PART K N: the part holds exactly the plan indices of shard K/N
cat > "$out/shard_ok.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); k, n = int(sys.argv[2]), int(sys.argv[3])
got = [r["index"] for r in d["runs"]]
want = list(range(k - 1, d["planned_runs"], n))
if d["shard"] != {"index": k, "count": n} or got != want:
    print("shard %s, indices %s, want %s" % (d["shard"], got[:10], want[:10])); sys.exit(1)
EOF
tables_same() {  # whole.txt merged.txt: the same but for the times (N.N s)
	diff <(sed -E 's/[0-9]+\.[0-9]+ s/T s/g' "$1") <(sed -E 's/[0-9]+\.[0-9]+ s/T s/g' "$2") \
		>/dev/null
}

split_check() {  # name, shards, sweep options...
	local name=$1 n=$2; shift 2
	"$hs" sweep --quiet -j 2 --json "$out/$name.whole.json" "$@" -- "$unchecked" \
		>"$out/$name.whole.txt" 2>&1
	local want=$?
	local parts=()
	for k in $(seq "$n" -1 1); do      # given to --merge last first
		"$hs" sweep --quiet -j 2 --shard "$k/$n" --json "$out/$name.$k.json" "$@" \
			-- "$unchecked" >"$out/$name.$k.txt" 2>&1
		python3 "$out/shard_ok.py" "$out/$name.$k.json" "$k" "$n" ||
			bad "$name: shard $k/$n ran other runs"
		parts+=("$out/$name.$k.json")
	done
	"$hs" sweep --merge --json "$out/$name.merged.json" "${parts[@]}" >"$out/$name.merged.txt" 2>&1
	local rc=$?
	[ "$rc" = "$want" ] || bad "$name: merge exit $rc, the whole sweep's $want"
	local r
	if r=$(python3 "$out/same.py" "$out/$name.whole.json" "$out/$name.merged.json"); then
		echo "ok   $name: $n shards merged equal the whole sweep ($r, exit $want)"
	else
		bad "$name: merged JSON differs: $r"
	fi
	tables_same "$out/$name.whole.txt" "$out/$name.merged.txt" ||
		bad "$name: merged table differs: $(diff "$out/$name.whole.txt" "$out/$name.merged.txt" | head -n 6)"
}
split_check nth 3 --mode=nth
split_check site 2

# ---- refusals ------------------------------------------------------------------
refused() {  # description, pattern, sweep args...
	local what=$1 pat=$2; shift 2
	"$hs" sweep "$@" >"$out/refused.out" 2>&1
	local rc=$?
	[ "$rc" = 2 ] || bad "$what: exit $rc, want 2: $(head -n 3 "$out/refused.out")"
	[ "$(wc -l < "$out/refused.out")" = 1 ] || bad "$what: not one line: $(cat "$out/refused.out")"
	grep -qF -- "$pat" "$out/refused.out" || bad "$what: lacks '$pat': $(cat "$out/refused.out")"
}
"$hs" sweep --quiet --mode=nth --shard 2/3 --json "$out/other-prog.json" -- "$checked" >/dev/null 2>&1
"$hs" sweep --quiet --mode=nth --flavour=transient --shard 2/3 --json "$out/other-opt.json" \
	-- "$unchecked" >/dev/null 2>&1
n1=$out/nth.1.json n2=$out/nth.2.json n3=$out/nth.3.json
refused "another program" "other-prog.json is not a shard of the same sweep as $n1: its program" \
	--merge "$n1" "$out/other-prog.json" "$n3"
refused "other options" "other-opt.json is not a shard of the same sweep as $n1: its --flavour" \
	--merge "$n1" "$out/other-opt.json" "$n3"
refused "a missing shard" "shard 3/3 is missing" --merge "$n1" "$n2"
refused "a shard twice" "are the same shard (2/3)" --merge "$n1" "$n2" "$n2" "$n3"
refused "not a shard" "nth.whole.json: not a shard" --merge "$out/nth.whole.json" "$n1"
echo '{"tool": "heapscope sweep", oops' > "$out/broken.json"
refused "not JSON" "broken.json: not JSON: byte" --merge "$out/broken.json" "$n1"
refused "--shard without --json" "--shard writes its part with --json" --shard 1/2 -- "$unchecked"
refused "--shard 4/3" "--shard needs K/N" --shard 4/3 --json x -- "$unchecked"
refused "--merge with --shard" "--merge joins shards" --merge --shard 1/2 "$n1"
left=$(find "$TMPDIR" -mindepth 1 | head -n 3)
[ -z "$left" ] || bad "temporary files left: $left"
[ "$fail" = 0 ] && echo "ok   refusals: other program, other options, missing, twice, unsharded, broken; usage"
exit $fail
