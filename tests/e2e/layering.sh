#!/usr/bin/env bash
# The folders are layers and every dependency points down (docs/
# ARCHITECTURE.md, "The tree"). Two views of "depends on" are checked:
#   - every #include "..." of every source and header, resolved the way
#     the compiler does (the file's own folder, then the part's root);
#   - every symbol an object file in build/ takes from another object
#     (nm: what it leaves undefined, and who defines it).
# An edge from a folder to one its rules do not allow fails, naming the
# two files and the symbol or header. The rules themselves must have no
# loop. Needs the objects of a build (make check builds them first).
set -u
cd "$(dirname "$0")/../.."
exec python3 - <<'PY'
import glob, os, re, subprocess, sys

# unit: (path prefix, longest match wins) -> units it may use
UNITS = {
    "preload/":           ("common",   []),
    "preload/alloc/":     ("alloc",    ["common"]),
    "preload/record/":    ("record",   ["alloc", "common"]),
    # the fault-policy parser: standalone, linked into the shim and the command
    "preload/faults/fault_policy.": ("policy", []),
    "preload/faults/":    ("faults",   ["policy", "record", "alloc", "common"]),
    "preload/checks/":    ("checks",   ["record", "alloc", "common"]),
    "preload/leaks/":     ("leaks",    ["record", "alloc", "common"]),
    "preload/hooks/":     ("hooks",    ["leaks", "checks", "faults", "policy", "record", "alloc",
                                        "common"]),
    "analyzer/":          ("a-common", []),
    "analyzer/trace/":    ("trace",    ["a-common"]),
    "analyzer/analysis/": ("analysis", ["trace", "a-common"]),
    "analyzer/report/":   ("report",   ["analysis", "trace", "a-common"]),
    "analyzer/pictures/": ("pictures", ["report", "analysis", "trace", "a-common"]),
    "cli/exit_status.h":  ("cli-exit", []),
    "cli/shim_path.":     ("cli-shim", ["a-common"]),
    "cli/sweep/":         ("sweep",    ["cli-exit", "cli-shim", "pictures", "report", "analysis", "trace", "a-common"]),
    "cli/":               ("cli",      ["cli-exit", "cli-shim", "policy", "pictures", "report", "analysis",
                                        "trace", "a-common"]),
    "cli/main.c":         ("cli-main", ["cli", "sweep", "cli-exit", "cli-shim", "pictures", "report", "analysis",
                                        "trace", "a-common"]),
}
ALLOWED = {u: set(deps) for u, deps in UNITS.values()}

def unit_of(path):
    best = None
    for prefix in UNITS:
        if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return UNITS[best][0] if best else None

SHARED = {"policy"}   # units linked into both programs

def program(path):   # the shim, or the heapscope command (analyzer + cli); None: both
    if unit_of(path) in SHARED:
        return None
    return "shim" if path.startswith("preload/") else "command"

def include_roots(path):   # the Makefile's -I folders for this part
    if path.startswith("preload/"):
        return ["preload", "include"]
    if path.startswith("cli/"):
        return ["analyzer", "cli", "preload", "include"]
    return ["analyzer", "include"]

problems = []

# The rules are a hierarchy: no loop among them.
def has_loop():
    state = {}
    def visit(u):
        if state.get(u) == 1:
            return True
        if state.get(u) == 2:
            return False
        state[u] = 1
        if any(visit(d) for d in ALLOWED[u]):
            return True
        state[u] = 2
        return False
    return any(visit(u) for u in ALLOWED)
if has_loop():
    problems.append("the layer rules in tests/e2e/layering.sh have a loop")

# 1. #include lines
sources = [p for d in ("preload", "analyzer", "cli")
           for p in glob.glob(d + "/**/*.[ch]", recursive=True)]
inc_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
include_edges = 0
for src in sorted(sources):
    text = open(src, encoding="utf-8", errors="replace").read()
    for name in inc_re.findall(text):
        cands = [os.path.normpath(os.path.join(d, name))
                 for d in [os.path.dirname(src)] + include_roots(src)]
        target = next((c for c in cands if os.path.isfile(c)), None)
        if target is None:
            problems.append(f"{src}: #include \"{name}\" is no file of this tree")
            continue
        a, b = unit_of(src), unit_of(target)
        if b is None or a == b:
            continue
        include_edges += 1
        if b not in ALLOWED[a]:
            problems.append(f"{src} ({a}) includes {target} ({b}): {a} may not use {b}")

# 2. symbols between object files
objs = sorted(glob.glob("build/preload/**/*.o", recursive=True) +
              glob.glob("build/analyzer/**/*.o", recursive=True) +
              glob.glob("build/cli/**/*.o", recursive=True))
if len(objs) < 40:
    problems.append(f"only {len(objs)} object files under build/: build first (make check does)")
defined, wanted = {}, {}
for o in objs:
    src = o[len("build/"):-2] + ".c"
    out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
    wanted[src] = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "TDBRVWCG":
            defined.setdefault(f[2], src)
        elif len(f) == 2 and f[0] in ("U", "w"):
            wanted[src].add(f[1])
symbol_edges = 0
for src, syms in sorted(wanted.items()):
    for s in sorted(syms):
        owner = defined.get(s)
        if owner is None or owner == src:
            continue
        a_prog, b_prog = program(src), program(owner)
        if a_prog and b_prog and a_prog != b_prog:   # never linked together
            continue
        a, b = unit_of(src), unit_of(owner)
        if a == b:
            continue
        symbol_edges += 1
        if b not in ALLOWED[a]:
            problems.append(f"{src} ({a}) uses {s} from {owner} ({b}): {a} may not use {b}")

for p in problems:
    print("FAIL", p)
print(f"layering: {len(sources)} files, {include_edges} includes and {symbol_edges} "
      f"symbol uses across folders checked, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
