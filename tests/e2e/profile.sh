#!/usr/bin/env bash
# The heap profile by site, on programs whose per-site truths are known
# (tests/progs/profile_cases.c; sites are found by their SITE()/CALL() tags):
#   grow      a reachable request log growing ~330 KB/s: likely_leak at
#             log_request's line, rate within 30% of what the program
#             measured; the cache that fills then stays: plateau with its
#             exact bytes; the scratch blocks: calls and temporary exact;
#             the whole process likely_leak (the live heap's verdict)
#   temp      calls and temporary allocations exact, per heaptrack's rule
#   peak      live bytes at the peak exact per site, and at exit
#   oom       --fail limit=2m and a real address-space limit: who held the
#             memory when malloc failed
#   many      65,536 sites: the report stays short, the rest is summed
# and the exports: ms_print reads --massif-out and names the top site;
# --folded has the stack of the leak with its peak bytes; `report` writes
# the same files from the saved trace; a damaged profile line is named.
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope prog=$PWD/build/tests/progs/profile_cases
[ -x "$hs" ] && [ -x "$prog" ] || { echo "profile.sh: build first"; exit 1; }
command -v ms_print >/dev/null || { echo "profile.sh: ms_print (valgrind) is not installed"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$PWD/tests/progs/profile_cases.c
run() {  # name args...: heapscope run with every output, in $tmp
	local name=$1; shift
	(cd "$tmp" && "$hs" run -o $name.trace --json $name.json --massif-out $name.massif \
		--folded $name.folded --html $name.html "$@" >$name.out 2>$name.err)
	echo "$name: rc=$?"
}
run grow "$prog" grow 3000
run temp "$prog" temp 1000
run peak "$prog" peak
run oom --fail limit=2m "$prog" oom
run realoom "$prog" realoom
run many "$prog" many 16
ms_print "$tmp/grow.massif" >"$tmp/grow.ms" 2>"$tmp/grow.ms.err"; echo "ms_print: rc=$?"
"$hs" report --massif-out "$tmp/again.massif" --folded "$tmp/again.folded" \
	"$tmp/grow.trace" >"$tmp/again.out" 2>&1; echo "report: rc=$?"
# a damaged U line: named, non-zero exit
sed '0,/^U /s/^U \([0-9]*\) \([0-9]*\) .*/U \1 \2/' "$tmp/grow.trace" >"$tmp/bad.trace"
"$hs" report "$tmp/bad.trace" >"$tmp/bad.out" 2>"$tmp/bad.err"; echo "bad: rc=$?" >"$tmp/bad.rc"

python3 - "$tmp" "$src" <<'EOF'
import json, re, sys
tmp, src = sys.argv[1], sys.argv[2]
fails = []
def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        fails.append(what)

lines = open(src).read().splitlines()
def tag(t):
    return [i + 1 for i, l in enumerate(lines) if t in l][0]
def site(rep, line, caller_line=None):
    """The profile's site whose innermost frame is at line (of our file)."""
    got = [s for s in rep["profile"]["sites"]
           if s["stack"] and s["stack"][0]["line"] == line
           and (caller_line is None or (len(s["stack"]) > 1 and s["stack"][1]["line"] == caller_line))]
    return got[0] if len(got) == 1 else None

# ---- grow ------------------------------------------------------------------
g = json.load(open(f"{tmp}/grow.json"))
out = open(f"{tmp}/grow.out").read()
m = re.search(r"records (\d+) bytes (\d+) rate (\d+)", out)
records, logged, rate = int(m[1]), int(m[2]), float(m[3])
log = site(g, tag("SITE(log)"))
check(log is not None, "grow: the request log is one site")
if log:
    check(log["stack"][0]["function"] == "log_request", "grow: ... in log_request")
    check(log["verdict"] == "likely_leak", f"grow: log verdict {log['verdict']}")
    r = log["growth_bytes_per_s"]
    check(r is not None and abs(r - rate) <= 0.3 * rate,
          f"grow: log grows {r} B/s, the program measured {rate:.0f} (within 30%)")
    check(log["calls"] == records and log["exit_live_bytes"] == logged,
          f"grow: log {log['calls']} calls, {log['exit_live_bytes']} bytes at exit "
          f"({records}, {logged})")
cache = site(g, tag("SITE(cache)"))
check(cache is not None and cache["verdict"] == "plateau",
      f"grow: cache verdict {cache and cache['verdict']}")
check(cache is not None and cache["exit_live_bytes"] == 32 * 2048 and cache["calls"] == records,
      f"grow: cache {cache and cache['exit_live_bytes']} bytes at exit, {cache and cache['calls']} calls")
scr = site(g, tag("SITE(scratch)"))
check(scr is not None and scr["calls"] == 10 * records and scr["temporary"] == 10 * records,
      f"grow: scratch {scr and scr['calls']} calls, {scr and scr['temporary']} temporary "
      f"(expected {10 * records} each)")
check(scr is not None and scr["verdict"] == "flat" and scr["exit_live_bytes"] == 0, "grow: scratch is flat")
check(g["vmsize"]["live"]["verdict"] == "likely_leak", f"grow: live heap {g['vmsize']['live']['verdict']}")
check(g["vmsize"]["verdict"] == "likely_leak" and g["vmsize"]["growth_bytes_per_s"] > 0,
      f"grow: whole process {g['vmsize']['verdict']} ({g['vmsize']['summary']})")
check([s["peak_live_bytes"] for s in g["profile"]["sites"]]
      == sorted((s["peak_live_bytes"] for s in g["profile"]["sites"]), reverse=True),
      "grow: sites sorted by peak_live_bytes")
err = open(f"{tmp}/grow.err").read()
m = re.search(r"Growing sites.*?\n.*?likely leak: grows.*?\n.*? at 0x[0-9A-F]+: (\w+) \(profile_cases.c:(\d+)\)", err)
check(m is not None and m[1] == "log_request" and int(m[2]) == tag("SITE(log)"),
      "grow: the text report lists log_request first among growing sites")
check("Top sites by live bytes at the peak" in err and "Top sites by temporary allocations" in err,
      "grow: text tables by peak bytes, calls, temporary")

# massif and folded
ms = open(f"{tmp}/grow.ms").read()
pk = ms[ms.index("(peak)"):] if "(peak)" in ms else ""
m = re.search(r"\(heap allocation functions\).*\n->\d+\.\d+% \([\d,]+B\) 0x[0-9a-f]+: (\w+) \(profile_cases.c:(\d+)\)", ms)
check("Detailed snapshots:" in ms and "(peak)" in ms, "ms_print reads the massif file (a peak snapshot)")
peak_tree = re.findall(r"(\d+\.\d+)% \(([\d,]+)B\) \(heap allocation functions\).*\n->\d+\.\d+% \(([\d,]+)B\) 0x[0-9a-f]+: (\w+)", ms)
check(bool(peak_tree) and all(t[3] == "log_request" for t in peak_tree),
      f"ms_print: the top site of every detailed tree is log_request ({[t[3] for t in peak_tree]})")
fold = dict(l.rsplit(" ", 1) for l in open(f"{tmp}/grow.folded").read().splitlines())
check(log is not None and int(fold.get("main;grow;log_request", -1)) == log["peak_live_bytes"],
      "folded: main;grow;log_request with its peak bytes")
check(open(f"{tmp}/again.folded").read() == open(f"{tmp}/grow.folded").read()
      and open(f"{tmp}/again.massif").read() == open(f"{tmp}/grow.massif").read(),
      "heapscope report writes the same massif and folded files")

# ---- temp -------------------------------------------------------------------
t = json.load(open(f"{tmp}/temp.json"))
tb, pa, pb = site(t, tag("SITE(temp)")), site(t, tag("SITE(pair_a)")), site(t, tag("SITE(pair_b)"))
check(tb and (tb["calls"], tb["temporary"], tb["bytes"]) == (1000, 1000, 100000),
      f"temp: temp_buf {tb and (tb['calls'], tb['temporary'], tb['bytes'])}")
check(pa and (pa["calls"], pa["temporary"]) == (1000, 0), f"temp: pair_a {pa and (pa['calls'], pa['temporary'])}")
check(pb and (pb["calls"], pb["temporary"]) == (1000, 1000), f"temp: pair_b {pb and (pb['calls'], pb['temporary'])}")

# ---- peak -------------------------------------------------------------------
p = json.load(open(f"{tmp}/peak.json"))
la, lb, lc = tag("SITE(a)"), tag("SITE(b)"), tag("SITE(c)")
want = {("a1", la): (0, 0), ("b1", lb): (0, 0), ("a2", la): (300000, 0),
        ("c2", lc): (400000, 0), ("b3", lb): (0, 300000)}
for (call, line), (pk_b, ex_b) in want.items():
    s = site(p, line, tag(f"CALL({call})"))
    check(s is not None and (s["peak_live_bytes"], s["exit_live_bytes"]) == (pk_b, ex_b),
          f"peak: {call} peak/exit {s and (s['peak_live_bytes'], s['exit_live_bytes'])}, want {(pk_b, ex_b)}")
pr = p["profile"]
total_peak = sum(s["peak_live_bytes"] for s in pr["sites"]) + pr["other"]["peak_live_bytes"]
check(pr["peak"]["live_bytes"] == total_peak,
      f"peak: the heap's peak {pr['peak']['live_bytes']} is the sum of the sites' {total_peak}")

# ---- oom ----------------------------------------------------------------------
for name, how in (("oom", "limit"), ("realoom", "real")):
    o = json.load(open(f"{tmp}/{name}.json"))["profile"]["oom"]
    check(o is not None and o["how"] == how, f"{name}: the moment memory ran out ({o and o['how']})")
    if o:
        top = o["sites"][0]
        check(top["stack"][0]["function"] == "hog" and top["live_bytes"] >= 0.9 * o["live_bytes"],
              f"{name}: hog held {top['live_bytes']} of {o['live_bytes']} bytes")
        check(o["stack"][0]["function"] == "hog" and o["size"] == 65536, f"{name}: the failing call is hog's")
        if how == "limit":
            check(o["live_bytes"] <= 2 << 20 and o["live_bytes"] > (2 << 20) - 65536,
                  f"{name}: {o['live_bytes']} bytes live, just under the 2 MiB limit")
    txt = open(f"{tmp}/{name}.err").read()
    check("OUT OF MEMORY" in txt and re.search(r"\d+\.\d%  hog \(profile_cases.c", txt) is not None,
          f"{name}: the text report shows who held the memory")

# ---- many ---------------------------------------------------------------------
y = json.load(open(f"{tmp}/many.json"))["profile"]
check(y["sites_total"] >= 65536, f"many: {y['sites_total']} sites")
check(len(y["sites"]) <= 4 * 200 and len(y["sites"]) + y["other"]["sites"] == y["sites_total"],
      f"many: {len(y['sites'])} listed + {y['other']['sites']} summed")
check(sum(s["calls"] for s in y["sites"]) + y["other"]["calls"] == y["calls"], "many: calls add up")
big = site({"profile": y}, tag("SITE(big)"))
check(big is not None and big["peak_live_bytes"] == 1 << 20, "many: the big site is listed")
txt = open(f"{tmp}/many.err").read().splitlines()
check(len(txt) < 150, f"many: the text report has {len(txt)} lines")
check(sum(1 for _ in open(f"{tmp}/many.folded")) <= 10001, "many: folded file bounded")

bad = open(f"{tmp}/bad.err").read()
check("U line" in bad and "bad: rc=1" in open(f"{tmp}/bad.rc").read(),
      f"a damaged U line is named and fails the report: {bad.strip()[:160]}")
if fails:
    print(f"{len(fails)} check(s) failed")
    sys.exit(1)
print("profile: pass")
EOF
