#!/usr/bin/env bash
# The HTML report of samples/fragment.c rendered by a real browser
# (headless Chromium, no network): the page must render (a screenshot
# with many colours, the charts' and the heap map's own colours among
# them), the pictures must be in the DOM, and the browser must log no
# console message (the page has no script; a parse problem would show).
# Chromium is a test dependency (Debian package `chromium`); this test
# installs it when it can and says SKIP only when it cannot.
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
[ -x "$hs" ] && [ -x build/samples/fragment ] && [ -x build/tests/progs/profile_cases ] \
	|| { echo "html_render.sh: build first"; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1
	browser=$(command -v chromium || true)
fi
if [ -z "$browser" ]; then
	echo "SKIP: chromium is not installed and could not be installed"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && "$hs" run -o f.trace --html report.html "$OLDPWD/build/samples/fragment" \
	>run.out 2>run.err) || { echo "FAIL: heapscope run: $(tail -3 "$tmp/run.err")"; exit 1; }

chrome() {  # chrome ARGS... : headless, no network, no profile, bounded
	timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$(mktemp -d -p "$tmp")" --hide-scrollbars "$@"
}
chrome --screenshot="$tmp/top.png" --window-size=1200,2000 \
	--enable-logging=stderr --v=0 "file://$tmp/report.html" >/dev/null 2>"$tmp/chrome.log"
# the maps are further down: the same page in a frame scrolled to #maps
printf '<!DOCTYPE html><body style="margin:0"><iframe src="report.html#maps" %s></iframe>' \
	'style="border:0;width:1200px;height:2000px"' >"$tmp/maps.html"
chrome --screenshot="$tmp/maps.png" --window-size=1200,2000 \
	"file://$tmp/maps.html" >/dev/null 2>>"$tmp/chrome.log"
chrome --dump-dom "file://$tmp/report.html" >"$tmp/dom.html" 2>>"$tmp/chrome.log"
# the heap profile of a program with a growing site: the flame graph
(cd "$tmp" && "$hs" run -o p.trace --html profile.html "$OLDPWD/build/tests/progs/profile_cases" \
	grow 1200 >prun.out 2>prun.err) || { echo "FAIL: heapscope run (profile): $(tail -3 "$tmp/prun.err")"; exit 1; }
printf '<!DOCTYPE html><body style="margin:0"><iframe src="profile.html#profile" %s></iframe>' \
	'style="border:0;width:1200px;height:2000px"' >"$tmp/prof.html"
chrome --screenshot="$tmp/profile.png" --window-size=1200,2000 --enable-logging=stderr --v=0 \
	"file://$tmp/prof.html" >/dev/null 2>>"$tmp/chrome.log"
chrome --dump-dom "file://$tmp/profile.html" >"$tmp/pdom.html" 2>>"$tmp/chrome.log"
for f in top.png maps.png dom.html profile.png pdom.html; do
	[ -s "$tmp/$f" ] || { echo "FAIL: chromium wrote no $f"; tail -20 "$tmp/chrome.log"; exit 1; }
done
[ "${HS_KEEP_SCREENSHOT:-}" ] && cp "$tmp/top.png" "$HS_KEEP_SCREENSHOT" && cp "$tmp/maps.png" "${HS_KEEP_SCREENSHOT%.png}-maps.png"

python3 - "$tmp" <<'EOF'
import re, struct, sys, zlib
tmp = sys.argv[1]
fails = []
def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        fails.append(what)

def pixels(path):
    """(width, height, set of colours, white pixels) of an 8-bit RGB(A) PNG."""
    d = open(path, "rb").read()
    assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(d):
        n, t = struct.unpack(">I", d[pos:pos + 4])[0], d[pos + 4:pos + 8]
        c = d[pos + 8:pos + 8 + n]
        pos += 12 + n
        if t == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", c[:10])
        elif t == b"IDAT":
            idat += c
    assert depth == 8 and ctype in (2, 6), f"PNG depth {depth} type {ctype}"
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    # bytewise add of two rows held as big integers (no carry between bytes)
    m7 = int.from_bytes(b"\x7f" * stride, "big")
    m8 = int.from_bytes(b"\x80" * stride, "big")
    add = lambda a, b: ((a & m7) + (b & m7)) ^ ((a ^ b) & m8)
    prev, colours, white = bytes(stride), set(), 0
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if f == 0:
            cur = line
        elif f == 1:                       # Sub: a prefix sum per channel
            x, s = int.from_bytes(line, "big"), 8 * bpp
            while s < 8 * stride:
                x = add(x, x >> s)
                s *= 2
            cur = x.to_bytes(stride, "big")
        elif f == 2:                       # Up
            cur = add(int.from_bytes(line, "big"), int.from_bytes(prev, "big")).to_bytes(stride, "big")
        else:                              # Average, Paeth: byte by byte
            cur = bytearray(line)
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                if f == 3:
                    cur[i] = (cur[i] + ((a + b) >> 1)) & 255
                else:
                    c = prev[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = bytes(cur)
        px = list(zip(cur[0::bpp], cur[1::bpp], cur[2::bpp]))
        colours.update(px)
        white += px.count((255, 255, 255))
        prev = cur
    return w, h, colours, white

def rgb(s):
    return tuple(int(s[i:i + 2], 16) for i in (1, 3, 5))

w, h, cols, white = pixels(f"{tmp}/top.png")
check((w, h) == (1200, 2000), f"screenshot is {w}x{h}")
check(len(cols) >= 50, f"top of the page: {len(cols)} distinct colours (not blank)")
check(white < 0.9 * w * h, f"top of the page: {100 * white // (w * h)}% white pixels")
for name, c in (("header", "#23395d"), ("VmSize line", "#1f77b4"), ("VmRSS line", "#ff7f0e"),
                ("live heap line", "#2ca02c")):
    check(rgb(c) in cols, f"top of the page shows the {name} colour {c}")
w, h, cols, white = pixels(f"{tmp}/maps.png")
for name, c in (("small free hole", "#e6550d"), ("large block", "#2f6fb5"),
                ("slab, 50-75% used", "#5fb86f")):
    check(rgb(c) in cols, f"heap maps section shows the {name} colour {c}")

dom = open(f"{tmp}/dom.html").read()
check(len(re.findall(r"<svg [^>]*class=\"hs-heapmap\"", dom)) == 3, "DOM: 3 heap maps (exit, peak, api)")
check(len(re.findall(r"<svg [^>]*class=\"hs-chart\"", dom)) == 4, "DOM: 4 charts")
check(dom.count('class="hs-cells"') >= 9, "DOM: map cells drawn")
check(dom.count('class="hs-series"') >= 4, "DOM: chart series drawn")
check('id="leaks"' in dom and "Slabs per size class at exit" in dom, "DOM: leak and slab sections")
# the profile section: a flame graph with the growing function in it, the
# live heap split by site, both drawn in their own colours
w, h, cols, white = pixels(f"{tmp}/profile.png")
flame = [c for c in ("#c8553d", "#f0a830", "#e8743b", "#d95f3d", "#f2c14e", "#eb8c45", "#dc7633")
         if rgb(c) in cols]
check("#c8553d" in flame and len(flame) >= 3,
      f"profile section shows the flame graph's colours ({', '.join(flame)})")
check(rgb("#1f77b4") in cols, "profile section shows the top site's band #1f77b4")
pdom = open(f"{tmp}/pdom.html").read()
fl = re.search(r'<svg [^>]*class="hs-flame".*?</svg>', pdom, re.S)
check(fl is not None, "DOM: a flame graph (svg.hs-flame)")
boxes = re.findall(r'<rect class="hs-flame-box" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', fl[0] if fl else "")
check(len(boxes) >= 4, f"DOM: {len(boxes)} flame graph boxes")
check(fl is not None and ">log_request<" in fl[0] and "main" in fl[0],
      "DOM: the flame graph names main and log_request")
check(len(boxes) >= 2 and abs(float(boxes[0][1]) - 1080) < 1, "DOM: the root box spans the width")
check(pdom.count('class="hs-area"') >= 3, "DOM: the live heap split by site (stacked areas)")
log = open(f"{tmp}/chrome.log", errors="replace").read()
console = [l for l in log.splitlines() if "CONSOLE" in l or "Uncaught" in l]
check(not console, "no console messages" + ("" if not console else ": " + console[0][:200]))
if fails:
    print(f"{len(fails)} check(s) failed")
    sys.exit(1)
print("html_render: pass")
EOF
