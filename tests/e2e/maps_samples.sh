#!/usr/bin/env bash
# The three samples under `heapscope run`, judged by their JSON reports:
#   grow      a steady leak   -> vmsize verdict likely_leak, the leaked
#                                buffers definitely lost in handle_request
#   cache     grows, plateaus -> not likely_leak, nothing lost
#   fragment  free every other block, then a 2 MiB request -> megabytes
#             free but no free block of 2 MiB; maps for exit, peak and
#             the hs_snapshot() label; small free fragments on the map
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
for s in grow cache fragment; do
	[ -x build/samples/$s ] || { echo "maps_samples.sh: build/samples/$s is not built"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in grow cache fragment; do
	(cd "$tmp" && "$hs" run -o $s.trace --json $s.json --svg svg-$s "$OLDPWD/build/samples/$s" \
		>$s.out 2>$s.err)
	echo "$s: rc=$?"
done
python3 - "$tmp" <<'EOF2'
import json, os, sys
tmp = sys.argv[1]
fails = []
def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        fails.append(what)
g = json.load(open(f"{tmp}/grow.json"))
v = g["vmsize"]
check(v["verdict"] == "likely_leak", f"grow: verdict {v['verdict']} ({v['summary']})")
check(v["samples"] >= 10 and v["duration_ms"] >= 1000, f"grow: {v['samples']} samples over {v['duration_ms']} ms")
check(v["live"]["verdict"] == "likely_leak", "grow: live heap likely_leak too")
lost = [l for l in g["leaks"] if l["kind"] == "definitely_lost"]
check(any(f["function"] == "handle_request" for l in lost for f in l["stack"]),
      "grow: the lost buffers were allocated in handle_request")
c = json.load(open(f"{tmp}/cache.json"))
check(c["vmsize"]["verdict"] in ("plateau", "flat"), f"cache: verdict {c['vmsize']['verdict']} ({c['vmsize']['summary']})")
check(c["vmsize"]["live"]["verdict"] != "likely_leak", "cache: live heap not likely_leak")
check(c["summary"]["definitely_lost"]["blocks"] == 0, "cache: nothing definitely lost")
f = json.load(open(f"{tmp}/fragment.json"))
fr = f["fragmentation"]
check(fr["exit_snapshot"] and fr["free_bytes"] >= 8 << 20 and fr["largest_free_order"] < 9,
      f"fragment: {fr['free_bytes']} bytes free, largest free block order {fr['largest_free_order']} (< 9: no 2 MiB block)")
check(fr["unusable_index"][9] == 1, "fragment: unusable index for 2 MiB requests is 1")
check(f["summary"]["definitely_lost"]["blocks"] == 0, "fragment: nothing lost (the blocks stay reachable)")
svg = sorted(os.listdir(f"{tmp}/svg-fragment"))
check({"heapmap-exit.svg", "heapmap-peak.svg", "heapmap-api-after-large-request.svg"} <= set(svg),
      "fragment: maps " + " ".join(x for x in svg if x.startswith("heapmap")))
m = open(f"{tmp}/svg-fragment/heapmap-exit.svg").read()
check('fill="#e6550d"' in m and 'fill="#2f6fb5"' in m, "fragment: the exit map shows small free holes between large blocks")
if fails:
    print(f"{len(fails)} check(s) failed")
    sys.exit(1)
print("maps_samples: pass")
EOF2
