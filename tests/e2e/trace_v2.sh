#!/usr/bin/env bash
# Trace version 2 keeps every report identical (docs/TRACE-FORMAT.md,
# "Versions"): each golden trace that reads whole (tests/golden, version
# 1, one `L` line per live block) is rewritten here as the shim now
# writes it — the `L` lines replaced by `B` (by kind and stack), `Z` (by
# slot size, placed by address in the exit snapshot) and `V` (the pages of
# lost blocks, as the heap map painted them) — and `heapscope report` of
# the rewritten trace must print, write and exit exactly as the golden
# files say for the original; its SVG heap maps must be the original's.
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
[ -x "$hs" ] || { echo "trace_v2.sh: $hs is not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0

to_v2() {   # v1 trace in, v2 trace out
  python3 - "$1" "$2" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
lines = open(src, encoding="latin-1").read().split("\n")
PAGE, ARENA = 4096, 1024

# the latest exit snapshot: arena base -> [(first page, pages, type, slot)]
snaps, cur = {}, None
for l in lines:
    f = l.split(" ")
    if f[0] == "H":
        cur = f[1]
        snaps[cur] = ({}, set())
    elif f[0] == "h" and cur:
        blocks, page = [], 0
        for cell in f[3:]:
            rep = 1
            if "*" in cell:
                cell, r = cell.split("*")
                rep = int(r)
            for _ in range(rep):
                t = cell[0]
                if t in "fF":
                    n, slot = 1 << int(cell[1:]), 0
                elif t == "l":
                    n, slot = int(cell[1:]), 0
                elif t == "s":
                    z, n, _rest = cell[1:].split(":")
                    n, slot = int(n), int(z)
                else:
                    n, slot = 1, 0
                blocks.append((page, n, t, slot))
                page += n
        snaps[cur][0][int(f[2], 16)] = blocks
    elif f[0] == "g" and cur:
        snaps[cur][1].add(int(f[1], 16))
arenas, huge = snaps.get("exit", ({}, set()))

def block_at(addr):
    base = addr & ~(ARENA * PAGE - 1)
    for b in arenas.get(base, []):
        if b[0] <= (addr - base) // PAGE < b[0] + b[1]:
            return base, b
    return None, None

groups, classes, pages = {}, {}, {"D": set(), "P": set()}
huge_runs = []
for l in lines:
    f = l.split(" ")
    if f[0] != "L":
        continue
    kind, addr, size, stack = f[1], int(f[2], 16), int(f[3]), int(f[4])
    g = groups.setdefault((kind, stack), [0, 0])
    g[0] += 1
    g[1] += size
    base, b = block_at(addr)
    if b and b[2] in "sl":
        c = classes.setdefault(b[3] if b[2] == "s" else 0, [0, 0])
        c[0] += 1
        c[1] += size
    if kind == "R":
        continue
    cat = "P" if kind == "P" else "D"
    if b and b[2] in "sl":
        if b[2] == "l":
            p0, p1 = b[0], b[0] + b[1] - 1
        else:
            p0 = (addr - 16 - base) // PAGE
            p1 = (addr + max(size, 1) - 1 - base) // PAGE
            p0, p1 = max(p0, b[0]), min(p1, b[0] + b[1] - 1)
        pages[cat].update(base + p * PAGE for p in range(p0, p1 + 1))
    elif addr in huge:
        huge_runs.append((cat, addr & ~(PAGE - 1), (addr + max(size, 1) - 1) // PAGE
                          - addr // PAGE + 1))

def runs(ps):
    out, ps = [], sorted(ps)
    for p in ps:
        if out and out[-1][0] + out[-1][1] * PAGE == p:
            out[-1][1] += 1
        else:
            out.append([p, 1])
    return out

records = [f"B {k} {s} {n} {b}" for (k, s), (n, b) in groups.items()]
records += [f"Z {z} {n} {b}" for z, (n, b) in classes.items()]
records += [f"V D {a:x} {n}" for a, n in runs(pages["D"])]
records += [f"V P {a:x} {n}" for a, n in runs(pages["P"] - pages["D"])]
records += [f"V {c} {a:x} {n}" for c, a, n in huge_runs]
out, placed = [], False
for l in lines:
    if l.startswith("HEAPSCOPE-TRACE "):
        l = "HEAPSCOPE-TRACE 2"
    if l.startswith("L "):
        if not placed:
            out += records
            placed = True
        continue
    out.append(l)
open(dst, "w", encoding="latin-1").write("\n".join(out))
PY
}

cd tests/golden
for trace in *.trace; do
  name=${trace%.trace}
  # damaged on purpose: its messages name byte offsets of the original
  grep -q ': byte [0-9]' "$name.err" && continue
  grep -q '^L ' "$trace" || continue
  n=$((n + 1))
  to_v2 "$trace" "$tmp/$name.trace" || { echo "FAIL $name: conversion"; fail=1; continue; }
  args=()
  [ -f "$name.args" ] && read -ra args < "$name.args"
  # relative paths in the args (a suppressions file) stay valid: same cwd
  "$hs" report "${args[@]}" --json "$tmp/$name.json" --svg "$tmp/$name.svg" "$tmp/$name.trace" \
    >"$tmp/$name.txt" 2>"$tmp/$name.err"
  echo $? > "$tmp/$name.rc"
  sed -i 's/"heapscope": "[^"]*"/"heapscope": "VERSION"/' "$tmp/$name.json"
  # the file name is part of some messages and reports
  sed -i "s|$tmp/$name.trace|$trace|g" "$tmp/$name.txt" "$tmp/$name.err" "$tmp/$name.json"
  for ext in txt err json rc; do
    if ! diff -u "$name.$ext" "$tmp/$name.$ext" > "$tmp/diff"; then
      echo "FAIL $name.$ext: version 2 differs from version 1 (expected -, got +):"
      head -n 30 "$tmp/diff"
      fail=1
    fi
  done
  "$hs" report "${args[@]}" --svg "$tmp/$name.v1svg" "$trace" >/dev/null 2>&1
  if ! diff -r "$tmp/$name.v1svg" "$tmp/$name.svg" >/dev/null; then
    echo "FAIL $name: its SVG pictures differ between versions 1 and 2"
    diff -r "$tmp/$name.v1svg" "$tmp/$name.svg" | head -n 10
    fail=1
  fi
  [ $fail = 0 ] && echo "ok   $name: the same reports from version 2"
done
[ $n -gt 0 ] || { echo "trace_v2.sh: no golden trace with L lines"; exit 1; }
exit $fail
