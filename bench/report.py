#!/usr/bin/env python3
"""Turn bench/run.sh's raw rows into the markdown tables of RESULTS.md.

usage: report.py RAW.tsv META.tsv   (markdown on stdout)

RAW rows: table workload config round status wall_ms user_ms sys_ms
maxrss_kib checksum trace_bytes args note loadavg other_cpu_ms attempt. Every number shown is a median
over the runs of one (table, workload, config); ratios are median over
median of the table's baseline (glibc, or native). A configuration with any
failed run shows FAILED, one whose checksum differs from the baseline's
shows WRONG: neither ever shows a number.
"""
import collections
import statistics
import sys

TABLES = {
    "alloc": {
        "title": "Allocators",
        "baseline": "glibc",
        "configs": [("glibc", "glibc"), ("jemalloc", "jemalloc"),
                    ("mimalloc", "mimalloc"), ("tcmalloc", "tcmalloc"),
                    ("heapscope", "heapscope (HEAPSCOPE_RECORD=0)")],
    },
    "record": {
        "title": "Recording cost",
        "baseline": "native",
        "configs": [("native", "native"), ("hs-record", "heapscope recording"),
                    ("hs-run-nochecks", "heapscope recording --no-checks"),
                    ("hs-lib", "heapscope library alone (recording)"),
                    ("hs-noquar", "heapscope library alone, checks without quarantine"),
                    ("hs-nochecks", "heapscope library alone, no heap checks"),
                    ("hs-plain", "heapscope library, not recording (HEAPSCOPE_RECORD=0)"),
                    ("heaptrack", "heaptrack"),
                    ("valgrind", "valgrind --leak-check=full"),
                    ("lsan", "LeakSanitizer")],
    },
}
WORKLOAD_ORDER = ["churn1", "churnmt", "realloc", "large", "aligned", "deepstack",
                  "sqlite3", "cc1", "python3", "leakheap"]


# (table, workload, config) that cannot apply: LeakSanitizer needs the
# program rebuilt with clang, which a real program (sqlite3, cc1) is not.
NOT_APPLICABLE = set()


def load(raw_path, meta_path):
    runs = collections.defaultdict(list)
    args = {}
    for line in open(raw_path):
        f = line.rstrip("\n").split("\t")
        if len(f) < 16:
            continue
        (table, w, cfg, _round, status, wall, user, sys_, rss, csum, tbytes, a, note,
         load, other, attempt) = f[:16]
        runs[(table, w, cfg)].append({
            "status": status, "wall": float(wall), "cpu": float(user) + float(sys_),
            "rss": int(rss), "sum": csum, "load": float(load),
            "other": float(other), "attempt": int(attempt),
            "bytes": None if tbytes == "-" else int(tbytes), "note": note})
        args[(table, w)] = a
    meta = {}
    configs = collections.defaultdict(dict)     # table -> cfg -> reason
    cmds = collections.defaultdict(dict)        # table -> cfg -> command
    for line in open(meta_path):
        f = line.rstrip("\n").split("\t")
        if f[0] == "config":
            configs[f[1]][f[2]] = f[3] if len(f) > 3 else ""
        elif f[0] == "cmd":
            cmds[f[1]][f[2]] = f[3]
        elif f[0] == "na":                      # table, workload, config
            NOT_APPLICABLE.add((f[1], f[2], f[3]))
        elif len(f) >= 2:
            meta[f[0]] = f[1]
    return runs, args, meta, configs, cmds


def fmt_ms(v):
    return f"{v:.0f} ms" if v >= 100 else f"{v:.1f} ms"


def fmt_mib(kib):
    return f"{kib / 1024:.1f} MiB"


def fmt_bytes(b):
    if b >= 1 << 20:
        return f"{b / (1 << 20):.1f} MiB"
    if b >= 1 << 10:
        return f"{b / 1024:.1f} KiB"
    return f"{b} B"


def spread(values):
    """Run-to-run spread as +-half the range, in percent of the median."""
    if len(values) < 2:
        return ""
    m = statistics.median(values)
    return f" ±{50 * (max(values) - min(values)) / m:.0f}%" if m else ""


class Table:
    def __init__(self, name, runs, args, configs):
        self.name = name
        self.spec = TABLES[name]
        self.runs = runs
        self.args = args
        self.reasons = configs.get(name, {})
        present = {w for (t, w, _c) in runs if t == name}
        self.workloads = [w for w in WORKLOAD_ORDER if w in present] + \
            sorted(present - set(WORKLOAD_ORDER))
        self.configs = [(c, label) for c, label in self.spec["configs"] if c in self.reasons]

    def state(self, w, cfg):
        """(text, runs, note): text replaces the number for n/a, FAILED and
        WRONG; note explains a failure for the Failures section."""
        reason = self.reasons.get(cfg, "")
        if reason:
            return reason, [], None
        rs = self.runs.get((self.name, w, cfg), [])
        if not rs:
            if (self.name, w, cfg) in NOT_APPLICABLE:
                return "n/a (needs a rebuild)", [], None
            return "not run", [], None
        bad = [r for r in rs if r["status"] != "exit:0"]
        if bad:
            st = bad[0]["status"].replace(":", " ")
            return (f"FAILED ({st}, {len(bad)}/{len(rs)} runs)", rs,
                    f"{cfg} on {w}: {bad[0]['status']}: {bad[0]['note'] or '(no message)'}")
        ref = self.reference_sum(w)
        wrong = [r["sum"] for r in rs if r["sum"] != ref]
        if ref and wrong:
            return ("WRONG (checksum)", rs,
                    f"{cfg} on {w}: checksum {wrong[0]} differs from "
                    f"{self.spec['baseline']}'s {ref}: wrong memory contents")
        return None, rs, None

    def reference_sum(self, w):
        rs = self.runs.get((self.name, w, self.spec["baseline"]), [])
        sums = collections.Counter(r["sum"] for r in rs if r["status"] == "exit:0")
        return sums.most_common(1)[0][0] if sums else None

    def median(self, w, cfg, key):
        text, rs, _n = self.state(w, cfg)
        if text:
            return None
        vals = [r[key] for r in rs]
        if any(v is None for v in vals):
            return None
        return statistics.median(vals)

    def cell(self, w, cfg, key, fmt):
        text, rs, _n = self.state(w, cfg)
        if text:
            return text
        vals = [r[key] for r in rs]
        m = statistics.median(vals)
        base = self.spec["baseline"]
        if cfg == base:
            return f"{fmt(m)}{spread(vals)}"
        b = self.median(w, base, key)
        ratio = f"{m / b:.2f}x" if b else "n/a (baseline failed)"
        return f"**{ratio}** ({fmt(m)}{spread(vals)})"

    def grid(self, title, key, fmt, configs=None):
        configs = configs or self.configs
        out = [f"### {title}", "",
               "| workload | args | " + " | ".join(label for _c, label in configs) + " |",
               "|---|---|" + "---|" * len(configs)]
        for w in self.workloads:
            cells = [self.cell(w, c, key, fmt) for c, _l in configs]
            out.append(f"| {w} | {self.args.get((self.name, w), '')} | " + " | ".join(cells) + " |")
        return out + [""]

    def trace_grid(self):
        cols = [(c, l) for c, l in self.configs if c in ("hs-record", "hs-lib", "heaptrack")]
        if not cols:
            return []
        out = ["### Trace size (median bytes on disk)", "",
               "| workload | args | " + " | ".join(l for _c, l in cols) + " |",
               "|---|---|" + "---|" * len(cols)]
        for w in self.workloads:
            cells = []
            for c, _l in cols:
                text, rs, _n = self.state(w, c)
                if text:
                    cells.append(text)
                    continue
                bs = [r["bytes"] for r in rs if r["bytes"] is not None]
                cells.append(fmt_bytes(statistics.median(bs)) if bs else "no trace file")
            out.append(f"| {w} | {self.args.get((self.name, w), '')} | " + " | ".join(cells) + " |")
        return out + [""]

    def checks_grid(self):
        """What each part of the heap checks costs, by CPU time: canaries,
        vetting and free stacks (checks without quarantine against no
        checks), then the quarantine with its fill (checks against checks
        without quarantine)."""
        have = dict(self.configs)
        if not all(c in have for c in ("hs-lib", "hs-noquar", "hs-nochecks")):
            return []
        out = ["### What the heap checks cost (CPU time ratios, recording on)", "",
               "| workload | args | canaries, vetting, free stacks | quarantine and fill "
               "| all checks (on / off) |", "|---|---|---|---|---|"]
        parts = (("hs-noquar", "hs-nochecks"), ("hs-lib", "hs-noquar"),
                 ("hs-lib", "hs-nochecks"))
        for w in self.workloads:
            cells = []
            for cfg, base in parts:
                v = ratio(self, w, cfg, "cpu", base)
                cells.append(f"{v:.2f}x" if v is not None else "n/a")
            out.append(f"| {w} | {self.args.get((self.name, w), '')} | " + " | ".join(cells) + " |")
        return out + [""]

    def disturbance(self):
        """One sentence on how busy the rest of the machine was."""
        rs = [r for (t, _w, _c), v in self.runs.items() if t == self.name for r in v]
        if not rs:
            return ""
        loads = [r["load"] for r in rs]
        known = [r for r in rs if r["other"] >= 0]
        busy = [r for r in known if r["other"] > 0.25 * max(r["wall"], 1)]
        retried = sum(1 for r in rs if r["attempt"] > 1)
        share = statistics.median(r["other"] / max(r["wall"], 1) for r in known) if known else 0
        return (f"Other processes on the machine: 1-minute load average median "
                f"{statistics.median(loads):.2f} (max {max(loads):.2f}); during a run they "
                f"used a median {share:.2f} CPUs; {len(busy)} of {len(rs)} kept runs were "
                f"disturbed (others above 0.25 CPU), {retried} kept runs are retries.")

    def notes(self):
        return [n for w in self.workloads for c, _l in self.configs
                for n in [self.state(w, c)[2]] if n]


def ratio(t, w, cfg, key, base=None):
    base = base or t.spec["baseline"]
    a, b = t.median(w, cfg, key), t.median(w, base, key)
    return a / b if a is not None and b else None


def targets(tables):
    """The project's targets, measured; a missing number says why."""
    rows = []

    def row(what, value, limit, cpu=None, cmp="<="):
        cpu_s = f"{cpu:.2f}x" if cpu is not None else ""
        if value is None:
            rows.append(f"| {what} | n/a | {cpu_s} | {cmp} {limit}x | — |")
            return
        met = value <= limit if cmp == "<=" else value < limit
        rows.append(f"| {what} | {value:.2f}x | {cpu_s} | {cmp} {limit}x | "
                    f"{'met' if met else 'missed'} |")

    def seconds_row(what, t, w, cfg, base, limit):
        """What cfg adds to base in seconds: medians of wall and of CPU."""
        walls = [t.median(w, c, "wall") for c in (cfg, base)]
        cpus = [t.median(w, c, "cpu") for c in (cfg, base)]
        if None in walls:
            rows.append(f"| {what} | n/a | | < {limit} s | — |")
            return
        added = (walls[0] - walls[1]) / 1000
        cpu_s = f"{(cpus[0] - cpus[1]) / 1000:.2f} s" if None not in cpus else ""
        rows.append(f"| {what} | {added:.2f} s | {cpu_s} | < {limit} s | "
                    f"{'met' if added < limit else 'missed'} |")

    def time_row(what, t, w, cfg, limit, base=None, cmp="<="):
        row(what, ratio(t, w, cfg, "wall", base), limit,
            ratio(t, w, cfg, "cpu", base), cmp)

    a = tables.get("alloc")
    if a and "heapscope" in dict(a.configs):
        # issue #17: the allocator at tcmalloc's pace, RSS kept
        limits = {"churn1": 0.75, "churnmt": 0.75, "large": 0.6, "realloc": 0.6}
        for w in a.workloads:
            if w in limits:
                time_row(f"heapscope time, {w} / glibc", a, w, "heapscope", limits[w])
        rss_limits = {"churn1": 1.2, "churnmt": 1.2, "large": 1.0}
        for w in a.workloads:
            row(f"heapscope peak RSS, {w} / glibc", ratio(a, w, "heapscope", "rss"),
                rss_limits.get(w, 1.25))
    r = tables.get("record")
    if r and "hs-record" in dict(r.configs):
        for w in ("churn1", "churnmt"):
            if w in r.workloads:
                time_row(f"recording time, {w} / native", r, w, "hs-record", 2)
                if "hs-lib" in dict(r.configs):
                    time_row(f"(library alone) recording time, {w} / native",
                             r, w, "hs-lib", 2)
        # Issue #3's scope is recording for the leak report (LeakSanitizer's
        # job); the heap checks (#6) have their own budget below.
        for w in ("churn1", "churnmt"):
            if w in r.workloads and "hs-run-nochecks" in dict(r.configs):
                time_row(f"recording --no-checks time, {w} / native", r, w,
                         "hs-run-nochecks", 2)
                if "hs-nochecks" in dict(r.configs):
                    time_row(f"(library alone) recording --no-checks time, {w} / native",
                             r, w, "hs-nochecks", 2)
        for cfg, what in (("hs-nochecks", "recording --no-checks"),
                          ("hs-lib", "recording with checks")):
            if cfg in dict(r.configs):
                for w in r.workloads:
                    row(f"(library alone) {what}: the program's peak RSS, {w} / native",
                        ratio(r, w, cfg, "rss"), 1.3)
        if "heaptrack" in dict(r.configs):
            for w in r.workloads:
                time_row(f"recording time / heaptrack time, {w}", r, w, "hs-record", 1,
                         base="heaptrack", cmp="<")
        # The leak scan on a 1 GiB heap (#13): recording, scan at exit
        # included, against the same library not recording; and the
        # peak RSS of the recording program against the native one.
        if "leakheap" in r.workloads:
            rec = "hs-lib" if "hs-lib" in dict(r.configs) else "hs-record"
            if "hs-plain" in dict(r.configs):
                seconds_row("leakheap: what recording adds over the allocator alone "
                            "(wall, CPU)", r, "leakheap", rec, "hs-plain", 1.0)
            row(f"leakheap: peak RSS recording ({rec}) / native",
                ratio(r, "leakheap", rec, "rss"), 1.3)
        if "lsan" in dict(r.configs):
            # issue #17: the default run (checks on) costs at most what
            # LeakSanitizer costs, workload by workload, in the same run
            for w in r.workloads:
                time_row(f"recording time / LeakSanitizer time, {w}", r, w, "hs-record", 1,
                         base="lsan")
    if not rows:
        return []
    return ["## Targets (heapscope)", "",
            "Judged on wall time; the CPU-time ratio is shown beside it because "
            "wall time on a shared machine also measures the neighbours.", "",
            "| target | measured | CPU ratio | limit | |", "|---|---|---|---|---|"] + rows + [""]


def main():
    runs, args, meta, configs, cmds = load(sys.argv[1], sys.argv[2])
    tables = {name: Table(name, runs, args, configs) for name in TABLES if name in configs}
    out = ["# heapscope benchmarks", ""]
    if meta.get("quick") == "1":
        out += ["**Quick mode (BENCH_QUICK=1): one run, small sizes — not results.**", ""]
    out += [
        f"- date: {meta.get('date', '?')}, commit {meta.get('commit', '?')}, "
        f"suite took {meta.get('elapsed', '?')} s, of which {meta.get('noise_spent', '?')} s "
        f"waiting for a quiet machine or retrying disturbed runs "
        f"(budget {meta.get('noise_budget', '?')} s)",
        f"- machine: {meta.get('nproc', '?')} CPUs, {meta.get('cpu', '?')}; "
        f"{meta.get('kernel', '?')}; {meta.get('glibc', '?')}",
        f"- tools: {meta.get('versions', '?')}",
        f"- runs: median of {meta.get('runs', '?')} per configuration "
        f"(valgrind: {meta.get('vg_runs', '?')}), interleaved, configuration order "
        "rotated each round; ±N% is half the min-max range over the median",
        "- time is wall-clock (fork to wait4); peak RSS is wait4's ru_maxrss: the "
        "largest single process among the command and the children it waited "
        "for (for heaptrack that includes heaptrack_interpret)",
        "- every run's checksum is compared with the baseline's: an allocator "
        "that returns wrong memory shows WRONG, a crash or non-zero exit FAILED",
        "",
    ]
    for name, t in tables.items():
        base = t.spec["baseline"]
        out += [f"## {t.spec['title']} (ratio to {base}; bold is the ratio)", "",
                t.disturbance(), ""]
        if name == "record":
            out += ["LeakSanitizer's binary is built with clang -O2, the others with "
                    "gcc -O2, so its ratio includes the compiler difference.", ""]
        out += t.grid("Wall time", "wall", fmt_ms)
        out += t.grid("Peak RSS", "rss", fmt_mib)
        out += t.grid("CPU time (user + sys)", "cpu", fmt_ms)
        if name == "record":
            out += t.trace_grid()
            out += t.checks_grid()
    out += targets(tables)
    out += ["## Commands", "",
            "Run from the repository root; WORKLOAD is build/bench/NAME, ARGS the "
            "args column, $DIR a fresh directory per run.", ""]
    for name, t in tables.items():
        out.append(f"{t.spec['title']}:")
        out.append("")
        for c, label in t.configs:
            reason = t.reasons.get(c)
            out.append(f"- {label}: " + (reason if reason else f"`{cmds[name].get(c, '?')}`"))
        out.append("")
    notes = [n for t in tables.values() for n in t.notes()]
    if notes:
        out += ["## Failures", ""] + [f"- {n}" for n in notes] + [""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
