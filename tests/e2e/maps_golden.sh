#!/usr/bin/env bash
# Pictures and figures from a checked-in trace (tests/golden/maps.trace:
# 11 samples over 1 s growing 20 MiB/s, an api, an exit and a peak
# snapshot, five live blocks at exit). The expected numbers below were
# worked out by hand from the trace (see the comments), not taken from a
# run; the SVG checks are structural (elements, classes, titles, counts),
# so the layout may change without breaking them but the content may not.
# (golden.sh separately pins the exact text and JSON of the same trace.)
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
[ -x "$hs" ] || { echo "maps_golden.sh: $hs is not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$hs" report --json "$tmp/r.json" --svg "$tmp/svg" --html "$tmp/r.html" \
	tests/golden/maps.trace >"$tmp/out.txt" 2>"$tmp/err.txt"
echo "heapscope report: rc=$?"

python3 - "$tmp" <<'EOF'
import json, sys, os, re
import xml.etree.ElementTree as ET
tmp = sys.argv[1]
fails = []
def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        fails.append(what)
def near(a, b, tol=1e-4):
    return a is not None and abs(a - b) <= tol * max(1.0, abs(b))

r = json.load(open(f"{tmp}/r.json"))
fr, vm = r["fragmentation"], r["vmsize"]
# exit sample: nr_free from the exit snapshot's cells, by hand:
#   arena 0: F1 f2 f3 f5 f6 f7 f8 f9, arena 1: f3 f5 f7 f8
check(fr["free_blocks_per_order"] == [0, 1, 1, 2, 0, 2, 1, 2, 2, 1, 0], "free blocks per order")
free = 2 + 4 + 16 + 64 + 64 + 256 + 512 + 512          # = 1430 pages
check(fr["free_pages"] == free and fr["free_bytes"] == free * 4096, "free pages 1430")
check(fr["largest_free_order"] == 9 and fr["largest_free_bytes"] == 2 << 20, "largest free: order 9")
# F_j = (1430 - sum_{i>=j} 2^i k_i) / 1430
want = [0, 0, 2, 6, 22, 22, 86, 150, 406, 918, 1430]
check(all(near(u, w / 1430) for u, w in zip(fr["unusable_index"], want)), "unusable index per order")
check(fr["internal_bytes"] == 10502240 - 10440056, "internal = granted - live")
check(fr["header_bytes"] == 5 * 16, "headers: 16 bytes x 5 live blocks")
check(near(fr["heap_efficiency"], 10440056 / 16392192), "heap efficiency = live / held")
check(fr["exit_snapshot"] is True and fr["dirty_free_pages"] == 2, "exit snapshot, F1 = 2 dirty pages")
b = fr["bins"]
# two 48-byte slabs (2 and 0 of 341 used); the live blocks in them: 24 + 32 bytes
check(len(b) == 1 and b[0]["slot_size"] == 48 and b[0]["slabs"] == 2 and b[0]["pages"] == 8
      and b[0]["capacity"] == 682 and b[0]["used"] == 2, "bin 48: 2 slabs, 2/682 used")
check(b[0]["live_blocks"] == 2 and b[0]["live_bytes"] == 56 and b[0]["internal_bytes"] == 96 - 56,
      "bin 48: 56 requested bytes, 40 internal")
# large: l10 (40000 live) and l600 (2400000 live): 610 pages
check(fr["large"] == {"blocks": 2, "pages": 610, "live_bytes": 2440000,
                      "slack_bytes": 610 * 4096 - 2440000}, "large blocks and slack")
check(fr["huge"] == {"blocks": 1, "usable_bytes": 8003520, "requested_bytes": 8000000}, "huge block")
check(len(fr["over_time"]) == 11, "fragmentation over time: one entry per sample")
# VmSize: 10240 kB + 2048 kB per 100 ms = 20 MiB/s, exactly linear
check(vm["samples"] == 11 and vm["duration_ms"] == 1000, "11 samples over 1000 ms")
check(vm["first_kb"] == 10240 and vm["last_kb"] == 30720 and vm["peak_kb"] == 30720, "VmSize range")
check(near(vm["growth_bytes_per_s"], 20 * 1024 * 1024), "growth rate 20 MiB/s")
check(vm["verdict"] == "likely_leak", "verdict likely_leak")
check(vm["rss"]["verdict"] == "likely_leak" and near(vm["rss"]["growth_bytes_per_s"], 10 * 1024 * 1024),
      "VmRSS 10 MiB/s")
check(len(vm["series"]) == 11 and vm["series"][10] == [1000, 30720, 12288, 10440056], "series")

svg = f"{tmp}/svg"
names = sorted(os.listdir(svg))
check(names == ["efficiency.svg", "free-orders.svg", "heapmap-api-after_setup.svg",
                "heapmap-exit.svg", "heapmap-peak.svg", "vmsize.svg"], "SVG files: " + " ".join(names))
NS = "{http://www.w3.org/2000/svg}"
def load(name):
    return ET.parse(f"{svg}/{name}").getroot()          # must be well-formed XML
def texts(root):
    return " ".join("".join(t.itertext()) for t in root.iter(NS + "text"))
def cls(root, tag, c):
    return [e for e in root.iter(NS + tag) if e.get("class") == c]

g = load("vmsize.svg")
check(len(cls(g, "polyline", "hs-series")) == 4, "vmsize: 4 series (VmSize, VmRSS, held, live)")
check(len(cls(g, "line", "hs-trend")) == 1, "vmsize: the fitted trend line")
t = texts(g)
check("likely leak" in t and "time since start (s)" in t and "memory (MiB)" in t, "vmsize: verdict, axis titles, unit")
check(all(s in t for s in ("VmSize (address space)", "VmRSS (resident)", "live heap")), "vmsize: legend")

o = load("free-orders.svg")
bars = cls(o, "rect", "hs-bar")
check(len(bars) == 11, "free-orders: 11 bars")
check("order 9 (2M blocks): 1 free blocks, 2.00 MiB" in "".join(bars[9].itertext()), "free-orders: bar 9 title")
check(float(bars[4].get("height")) == 0 and float(bars[9].get("height")) > float(bars[8].get("height")) * 0.99,
      "free-orders: empty order 4, order 9 (512 pages) as tall as order 8 (2 x 256)")

m = load("heapmap-exit.svg")
t = texts(m)
check("Heap map at exit" in t and "2 arenas (8.00 MiB)" in t and "1 cell = 1 page" in t, "exit map: title and scale")
check("0x7f0000400000" in t and "0x7f0000800000" in t, "exit map: arena addresses")
check("0x7f1000000040: 7.63 MiB (leaked)" in t, "exit map: the leaked huge block listed")
check(len(cls(m, "rect", "hs-legend")) == 11, "exit map: 11 legend entries")
paths = {p.get("fill"): p.get("d") for p in cls(m, "path", "hs-cells")}
# leaked pages: arena 0 page 0 (24-byte block in a slab), pages 8-17 (the
# l10 block), arena 1 pages 0-599 (l600): rows of 128 cells -> 1 + 1 + 5 rectangles
check(paths.get("#b3001b", "").count("z") == 7, "exit map: 7 leaked rectangles")
cells = 0
for d in paths.values():
    for w in re.findall(r"h(\d+)v", d):
        cells += int(w) // 7
check(cells == 2048, "exit map: the rectangles cover 2048 cells (2 arenas x 1024 pages)")
titles = [ "".join(r.itertext()) for r in m.iter(NS + "rect") if r.find(NS + "title") is not None]
check(any("arena 1 at 0x7f0000800000: 424 pages free, 0 in slabs, 0 in large blocks, 600 leaked" in x
          for x in titles), "exit map: arena 1 hover title")
p = load("heapmap-peak.svg")
check("near the peak of live bytes" in texts(p), "peak map: title")
check(not any(x.get("fill") == "#b3001b" for x in cls(p, "path", "hs-cells")), "peak map: no leak colour")
a = load("heapmap-api-after_setup.svg")
check("'after setup'" in texts(a) and "1 arena (4.00 MiB)" in texts(a), "api map: label and size")

h = open(f"{tmp}/r.html").read()
check(h.count("<svg ") == 6, "HTML: 6 inline SVG pictures")
check("http://" not in h.replace("http://www.w3.org/2000/svg", "") and "<script" not in h
      and "<link" not in h, "HTML: self-contained (no links, no script)")
check(h.count("<tr><td class=\"bad\">definitely_lost</td>") == 1, "HTML: the definite leak row")
if fails:
    print(f"{len(fails)} check(s) failed")
    sys.exit(1)
print("maps_golden: all checks pass")
EOF
