#!/usr/bin/env bash
# heapscope sweep, end to end.
#
#  1. samples/oom_unchecked: the crashed sites are exactly the lines marked
#     UNCHECKED in its source (file:line of the innermost frame), each with
#     SIGSEGV, in both flavours; every other site is handled; exit 1.
#  2. samples/oom_checked: every site handled, exit 0.
#  3. tests/progs/sweep_cases: the CASE-LEAKED line is "leaked", the
#     CASE-RETRY line "hung" (persistent) and handled (transient), the
#     CASE-HANDLED line handled; exit 1 (a hang counts like a crash).
#  4. --mode=nth on the unchecked sample: one run per allocation call
#     (the clean run's count), every one injected, same crashed lines.
#     4b: a program leaving through _exit gets its count too.
#     4c: so does one whose clean run ends by a signal (SIGTERM): a run
#         ending by that signal is handled, a SIGSEGV is a crash.
#  5. Behind a bash wrapper that forks a command substitution and then
#     execs the sample: the same sites, found in exec'd image 1.
#  6. Bad usage exits 2, a missing program 3, and no temporary directory
#     is left behind.
# Every --json output is checked with python3's json module against the
# fields DESIGN.md names for sweep (`runs`, `sites` of {stack, outcome,
# runs, signal}).
set -u
cd "$(dirname "$0")/../.."
hs=build/heapscope
out=build/tests/sweep
rm -rf "$out"; mkdir -p "$out/tmp"
export TMPDIR=$PWD/$out/tmp          # sweep's private dirs go here
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# lines of FILE that carry MARK, as "file.c:N" sorted
marked() { grep -nF "/* $2 */" "$1" | cut -d: -f1 | sed "s|^|$(basename "$1"):|" | sort; }

# check.py JSON EXPECT... : validates the schema, prints "outcome file:line"
# per site (innermost frame) to stdout, and the run count and clean call
# count to stderr as "runs=N calls=N not_injected=N".
cat > "$out/check.py" <<'EOF'
import json, sys, os
d = json.load(open(sys.argv[1]))
def need(cond, what):
    if not cond:
        print("schema: " + what, file=sys.stderr); sys.exit(3)
for k in ("version", "program", "mode", "runs", "sites", "clean", "summary"):
    need(k in d, "missing top-level key " + k)
need(isinstance(d["runs"], list) and isinstance(d["sites"], list), "runs/sites not lists")
outcomes = {"handled", "crashed", "hung", "leaked"}
for s in d["sites"]:
    for k in ("stack", "outcome", "runs", "signal"):
        need(k in s, "site without " + k)
    need(s["outcome"] in outcomes, "bad outcome " + str(s["outcome"]))
    need(isinstance(s["runs"], int) and s["runs"] >= 1, "site runs")
    need(s["signal"] is None or isinstance(s["signal"], int), "signal type")
    need((s["signal"] is not None) == (s["outcome"] == "crashed"), "signal without a crash")
    need(isinstance(s["stack"], list) and s["stack"], "empty stack")
    for f in s["stack"]:
        for k in ("function", "file", "line", "module", "address"):
            need(k in f, "frame without " + k)
    top = s["stack"][0]
    loc = "%s:%s" % (os.path.basename(top["file"] or "?"), top["line"])
    print(s["outcome"], s["signal"] if s["signal"] else "-", loc)
n = 0
for r in d["runs"]:
    for k in ("nth", "flavour", "outcome", "signal", "site", "injected"):
        need(k in r, "run without " + k)
    need(r["outcome"] in outcomes, "run outcome")
    need(r["site"] is None or 0 <= r["site"] < len(d["sites"]), "run site index")
    n += 1
need(sum(s["runs"] for s in d["sites"]) == sum(1 for r in d["runs"] if r["injected"]),
     "site run counts do not add up")
print("runs=%d calls=%s not_injected=%d off_site=%d" % (n, d["clean"]["calls"],
      d["summary"]["not_injected"], d["summary"]["off_site"]), file=sys.stderr)
EOF

sweep() {  # name, expected exit, sweep args...
  local name=$1 want=$2; shift 2
  "$hs" sweep --quiet --json "$out/$name.json" "$@" >"$out/$name.txt" 2>"$out/$name.err"
  local rc=$?
  [ "$rc" = "$want" ] || { bad "$name: exit $rc, expected $want"; cat "$out/$name.txt" "$out/$name.err"; }
  python3 "$out/check.py" "$out/$name.json" >"$out/$name.sites" 2>"$out/$name.stats" \
    || { bad "$name: JSON invalid: $(cat "$out/$name.stats")"; }
}

# ---- 1. unchecked sample ----------------------------------------------------
src=samples/oom_unchecked.c
sweep unchecked 1 build/samples/oom_unchecked
want=$(marked "$src" UNCHECKED)
got=$(awk '$1=="crashed" {print $3}' "$out/unchecked.sites" | sort)
[ "$want" = "$got" ] || bad "unchecked: crashed sites differ
  expected (UNCHECKED marks): $(echo $want)
  reported:                   $(echo $got)"
awk '$1=="crashed" && $2!=11 {exit 1}' "$out/unchecked.sites" || bad "unchecked: a crash that is not SIGSEGV"
others=$(awk '$1!="crashed" && $1!="handled"' "$out/unchecked.sites")
[ -z "$others" ] || bad "unchecked: sites neither crashed nor handled: $others"
[ "$(awk '$1=="handled"' "$out/unchecked.sites" | wc -l)" -ge 3 ] || bad "unchecked: fewer than 3 handled sites"
for loc in $want; do
  grep -q "^crashed  SIGSEGV .*$loc" "$out/unchecked.txt" || bad "unchecked: text table lacks crashed $loc"
done
# both flavours crash at each unchecked line
python3 - "$out/unchecked.json" <<'EOF' || bad "unchecked: a crashed site did not crash in both flavours"
import json, sys
d = json.load(open(sys.argv[1]))
for i, s in enumerate(d["sites"]):
    if s["outcome"] == "crashed":
        fl = {r["flavour"] for r in d["runs"] if r["site"] == i and r["outcome"] == "crashed"}
        assert fl == {"transient", "persistent"}, (s["stack"][0], fl)
EOF

# ---- 2. checked sample --------------------------------------------------------
sweep checked 0 build/samples/oom_checked
[ -s "$out/checked.sites" ] || bad "checked: no sites at all"
notok=$(awk '$1!="handled"' "$out/checked.sites")
[ -z "$notok" ] || bad "checked: sites not handled: $notok"
grep -q "not_injected=0" "$out/checked.stats" || bad "checked: runs that injected nothing: $(cat "$out/checked.stats")"

# ---- 3. leaked and hung --------------------------------------------------------
src=tests/progs/sweep_cases.c
sweep cases 1 --timeout 1 build/tests/progs/sweep_cases
for c in HANDLED:handled LEAKED:leaked RETRY:hung; do
  loc=$(marked "$src" "CASE-${c%%:*}")
  grep -qx "${c#*:} - $loc" "$out/cases.sites" || bad "cases: $loc is not ${c#*:}: $(cat "$out/cases.sites")"
done
[ "$(wc -l < "$out/cases.sites")" = 3 ] || bad "cases: expected 3 sites: $(cat "$out/cases.sites")"
python3 - "$out/cases.json" <<'EOF' || bad "cases: the retry site is not hung-persistent, handled-transient"
import json, sys
d = json.load(open(sys.argv[1]))
i = [k for k, s in enumerate(d["sites"]) if s["outcome"] == "hung"][0]
got = sorted((r["flavour"], r["outcome"]) for r in d["runs"] if r["site"] == i)
assert got == [("persistent", "hung"), ("transient", "handled")], got
EOF

# ---- 4. nth mode ------------------------------------------------------------------
sweep nth 1 --mode=nth --flavour=transient build/samples/oom_unchecked
read -r runs calls ni _ < <(tr '=' ' ' < "$out/nth.stats" | awk '{print $2, $4, $6, $8}')
[ "$runs" = "$calls" ] && [ "$calls" -gt 10 ] || bad "nth: $runs runs for $calls calls"
[ "$ni" = 0 ] || bad "nth: $ni runs injected nothing"
got=$(awk '$1=="crashed" {print $3}' "$out/nth.sites" | sort)
[ "$(marked samples/oom_unchecked.c UNCHECKED)" = "$got" ] || bad "nth: crashed sites: $got"

# 4b. a clean run that leaves through _exit still reports its call count
sweep quickexit 0 --mode=nth build/tests/progs/sweep_quick_exit
read -r runs calls ni _ < <(tr '=' ' ' < "$out/quickexit.stats" | awk '{print $2, $4, $6, $8}')
[ "$runs" = 6 ] && [ "$calls" = 3 ] || bad "quickexit: $runs runs for $calls calls (want 6 for 3)"

# 4c. a clean run that ends by a signal: its count comes from the signal
# handler; ending by the same signal is its way of ending
sweep sigterm 1 --mode=nth --flavour=transient build/tests/progs/sweep_signal
read -r runs calls ni _ < <(tr '=' ' ' < "$out/sigterm.stats" | awk '{print $2, $4, $6, $8}')
[ "$runs" = 3 ] && [ "$calls" = 3 ] || bad "sigterm: $runs runs for $calls calls (want 3 for 3)"
got=$(awk '$1=="crashed" {print $2, $3}' "$out/sigterm.sites")
[ "$got" = "11 $(marked tests/progs/sweep_signal.c UNCHECKED)" ] || bad "sigterm: crashed sites: '$got'"
[ "$(awk '$1=="handled"' "$out/sigterm.sites" | wc -l)" = 2 ] || bad "sigterm: not 2 handled sites"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['clean']['exit'] == {'signal': 15}, d['clean']" \
  "$out/sigterm.json" || bad "sigterm: the clean run's exit is not signal 15"

# ---- 5. behind a wrapper script ------------------------------------------------------
cat > "$out/wrapper.sh" <<EOF
#!/usr/bin/env bash
greeting=\$(echo hello)       # a forked subshell: it must not count
exec "$PWD/build/samples/oom_unchecked" "\$@"
EOF
chmod +x "$out/wrapper.sh"
sweep wrapper 1 "$out/wrapper.sh"
cmp -s <(sort "$out/unchecked.sites") <(sort "$out/wrapper.sites") \
  || bad "wrapper: other sites than the direct sweep: $(cat "$out/wrapper.sites")"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['clean']['image'] >= 1, d['clean']" \
  "$out/wrapper.json" || bad "wrapper: the exec'd image was not the target"

# ---- 6. usage, missing program, temp dirs ------------------------------------------------
"$hs" sweep --mode=bogus build/samples/oom_checked >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || bad "--mode=bogus: exit $rc, expected 2"
"$hs" sweep >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || bad "no program: exit $rc, expected 2"
"$hs" sweep -j 0 build/samples/oom_checked >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || bad "-j 0: exit $rc, expected 2"
"$hs" sweep --quiet "$out/no-such-program" >/dev/null 2>&1; rc=$?
[ "$rc" = 3 ] || bad "missing program: exit $rc, expected 3"
left=$(ls -A "$out/tmp")
[ -z "$left" ] || bad "temporary directories left behind: $left"

if [ "$fail" = 0 ]; then
  echo "sweep: all checks passed ($(wc -l < "$out/unchecked.sites") sites in oom_unchecked, \
$(awk '{print $1}' "$out/nth.stats") nth runs)"
fi
exit $fail
