#!/usr/bin/env bash
# heapscope as a drop-in for valgrind (docs/VALGRIND.md), each check made
# against valgrind itself on the same binaries:
#  1. CTest: the tests/clients project under `ctest -T memcheck` with
#     MEMORYCHECK_COMMAND=heapscope (MEMORYCHECK_TYPE=Valgrind) gives the
#     same "Memory checking results" as with valgrind (Memory Leak - 1,
#     FIM - 1) and no defect for the clean test.
#  2. Meson: `meson test --wrap='X --error-exitcode=1 --leak-check=full'`
#     passes and fails the same tests for X = heapscope and valgrind.
#  3. Exit status with valgrind's options: --error-exitcode counts leaks
#     only with --leak-check=full, as valgrind does.
#  4. --xml=yes --xml-file: the same structure as valgrind's XML (the
#     protocol's elements in its order, errors of the same kinds, leaked
#     bytes and blocks, and the program's frames fn/file/line); with
#     --xml=yes valgrind's default summary becomes a full leak check.
#  5. --gen-suppressions=all: the printed entries, given back with
#     --suppressions, hide the records, under heapscope and valgrind.
#  6. The option layer: an unknown option, a bad value, --tool=helgrind
#     and --vgdb=yes are one line and exit 2 with the program not run;
#     --track-origins=yes is one note; --log-fd and --log-file work; no
#     trace is left behind.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
hs=$root/build/heapscope
out=$root/build/tests/valgrind_compat
rm -rf "$out"; mkdir -p "$out/tmp"
export TMPDIR=$out/tmp
fail=0
bad() { echo "FAIL: $*"; fail=1; }
for tool in cmake ctest meson ninja valgrind python3; do
	command -v $tool >/dev/null || { echo "valgrind_compat.sh: $tool is missing (make test-deps)"; exit 1; }
done

# ---- 1. CTest ---------------------------------------------------------------
ctest_results() {  # checker, build dir: prints the "Memory checking results" lines
	local checker=$1 dir=$2
	cmake -S tests/clients -B "$dir" -DMEMORYCHECK_COMMAND="$checker" \
		-DMEMORYCHECK_TYPE=Valgrind >"$dir.cmake.log" 2>&1 &&
		cmake --build "$dir" >>"$dir.cmake.log" 2>&1 ||
		{ bad "cmake for $checker failed: $(tail -n 5 "$dir.cmake.log")"; return; }
	(cd "$dir" && ctest -T memcheck >"$dir.ctest.log" 2>&1)
	sed -n '/^Memory checking results:/,$p' "$dir.ctest.log" | grep -E ' - [0-9]+$' | sort
}
ctest_results "$hs" "$out/ctest-hs" > "$out/ctest-hs.results"
ctest_results "$(command -v valgrind)" "$out/ctest-vg" > "$out/ctest-vg.results"
printf 'FIM - 1\nMemory Leak - 1\n' > "$out/ctest.want"
diff -u "$out/ctest-vg.results" "$out/ctest-hs.results" >/dev/null ||
	bad "ctest -T memcheck: heapscope [$(tr '\n' ';' < "$out/ctest-hs.results")] but valgrind [$(tr '\n' ';' < "$out/ctest-vg.results")]"
diff -u "$out/ctest.want" "$out/ctest-hs.results" >/dev/null ||
	bad "ctest -T memcheck with heapscope: [$(tr '\n' ';' < "$out/ctest-hs.results")], want FIM - 1, Memory Leak - 1"
for d in ctest-hs ctest-vg; do
	grep -q 'MemCheck: #3: clean .*Defects' "$out/$d.ctest.log" && bad "$d: the clean test has defects"
	grep -q '100% tests passed' "$out/$d.ctest.log" || bad "$d: not every test ran: $(grep -E 'tests passed|Failed' "$out/$d.ctest.log")"
done
[ "$fail" = 0 ] && echo "ok   ctest -T memcheck: $(tr '\n' ',' < "$out/ctest-hs.results") with heapscope and valgrind; clean passes"

# ---- 2. Meson ---------------------------------------------------------------
meson setup "$out/meson" tests/clients >"$out/meson.setup.log" 2>&1 &&
	ninja -C "$out/meson" >>"$out/meson.setup.log" 2>&1 || bad "meson setup failed: $(tail -n 5 "$out/meson.setup.log")"
meson_verdicts() {  # wrapper command: "name OK|FAIL" per test
	(cd "$out/meson" && meson test --wrap="$1" >"$out/meson.$2.log" 2>&1)
	grep -E '^ *[0-9]+/[0-9]+ ' "$out/meson.$2.log" | awk '{print $2, $3}' | sort
}
meson_verdicts "$hs --error-exitcode=1 --leak-check=full" hs > "$out/meson-hs"
meson_verdicts "valgrind --error-exitcode=1 --leak-check=full" vg > "$out/meson-vg"
printf 'clean OK\ndouble_free FAIL\nleak FAIL\n' > "$out/meson.want"
diff -u "$out/meson-vg" "$out/meson-hs" >/dev/null ||
	bad "meson test --wrap: heapscope [$(tr '\n' ';' < "$out/meson-hs")], valgrind [$(tr '\n' ';' < "$out/meson-vg")]"
diff -u "$out/meson.want" "$out/meson-hs" >/dev/null ||
	bad "meson test --wrap with heapscope: [$(tr '\n' ';' < "$out/meson-hs")]"
[ "$fail" = 0 ] && echo "ok   meson test --wrap: $(tr '\n' ',' < "$out/meson-hs") with both"

bin=$out/ctest-hs
# ---- 3. exit status ---------------------------------------------------------
for opts in "--error-exitcode=9" "--error-exitcode=9 --leak-check=full" \
            "--error-exitcode=9 --leak-check=full --errors-for-leak-kinds=reachable"; do
	for prog in leak clean_exit double_free; do
		# shellcheck disable=SC2086
		"$hs" $opts "$bin/$prog" >/dev/null 2>&1; h=$?
		# shellcheck disable=SC2086
		valgrind $opts "$bin/$prog" >/dev/null 2>&1; v=$?
		[ "$h" = "$v" ] || bad "exit status of '$opts $prog': heapscope $h, valgrind $v"
	done
done
[ "$fail" = 0 ] && echo "ok   exit statuses match valgrind's (leaks count only with --leak-check=full)"

# ---- 4. XML -----------------------------------------------------------------
cat > "$out/xmlcmp.py" <<'EOF'
# xmlcmp.py VALGRIND.xml HEAPSCOPE.xml: compare the structure; exit 1 with
# what differs. valgrind's frames inside itself (vgpreload) are dropped:
# heapscope's stacks begin at the program's call.
import sys, xml.etree.ElementTree as ET
def load(p):
    return ET.parse(p).getroot()
vg, hs = load(sys.argv[1]), load(sys.argv[2])
problems = []
def need(c, what):
    if not c: problems.append(what)
order = ["protocolversion", "protocoltool", "preamble", "pid", "ppid", "tool", "args", "status"]
for name, root in (("valgrind", vg), ("heapscope", hs)):
    tags = [c.tag for c in root]
    need(tags[:len(order)] == order, "%s: top-level order %s" % (name, tags[:9]))
    need(tags[-2:] == ["errorcounts", "suppcounts"], "%s: ends with %s" % (name, tags[-2:]))
    need(tags.count("status") == 2, "%s: %d status elements" % (name, tags.count("status")))
    need(root.findtext("protocolversion") == "4" and root.findtext("protocoltool") == "memcheck",
         "%s: protocol" % name)
    need(root.find("args/vargv/exe") is not None and root.find("args/argv/exe") is not None,
         "%s: args" % name)
    for e in root.findall("error"):
        kids = [c.tag for c in e]
        need(kids[:3] == ["unique", "tid", "kind"], "%s: error starts %s" % (name, kids[:3]))
        need(kids[3] in ("what", "xwhat") and "stack" in kids, "%s: error body %s" % (name, kids))
        for f in e.iter("frame"):
            need(f[0].tag == "ip", "%s: frame without ip first" % name)
def program_frames(e):
    st = e.find("stack")
    fr = [f for f in st.findall("frame") if "vgpreload" not in (f.findtext("obj") or "")]
    return [(f.findtext("fn"), f.findtext("file"), f.findtext("line")) for f in fr]
def errors(root):
    out = []
    for e in root.findall("error"):
        x = e.find("xwhat")
        lb = x.findtext("leakedbytes") if x is not None else None
        # memcheck counts the blocks hanging from a definitely lost one in
        # its bytes, "160 (16 direct, 144 indirect) bytes"; heapscope's
        # record has its own bytes only (docs/VALGRIND.md): compare those
        t = x.findtext("text") if x is not None else ""
        if " direct, " in t:
            lb = t.split("(")[1].split(" direct")[0].replace(",", "")
        bl = x.findtext("leakedblocks") if x is not None else None
        out.append((e.findtext("kind"), lb, bl, program_frames(e)))
    return sorted(out, key=repr)
ev, eh = errors(vg), errors(hs)
need(ev == eh, "errors differ:\n  valgrind  %s\n  heapscope %s" % (ev, eh))
cv = sorted(int(p.findtext("count")) for p in vg.findall("errorcounts/pair"))
ch = sorted(int(p.findtext("count")) for p in hs.findall("errorcounts/pair"))
need(cv == ch, "errorcounts: valgrind %s heapscope %s" % (cv, ch))
if problems:
    print("\n".join(problems)); sys.exit(1)
print("%d errors: %s" % (len(eh), ", ".join(sorted(set(k for k, *_ in eh)))))
EOF
progs=$root/build/tests/progs
xml_case() {  # name, options, program and args
	local name=$1 opts=$2; shift 2
	# shellcheck disable=SC2086
	valgrind $opts --xml=yes --xml-file="$out/$name.vg.xml" "$@" >/dev/null 2>&1
	# shellcheck disable=SC2086
	"$hs" $opts --xml=yes --xml-file="$out/$name.hs.xml" "$@" >/dev/null 2>"$out/$name.hs.err" ||
		{ [ -s "$out/$name.hs.xml" ] || bad "xml $name: heapscope wrote no XML: $(head -n 3 "$out/$name.hs.err")"; }
	local r
	if r=$(python3 "$out/xmlcmp.py" "$out/$name.vg.xml" "$out/$name.hs.xml" 2>&1); then
		echo "ok   xml $name: same structure as valgrind's; $r"
	else
		bad "xml $name: $r"
	fi
}
xml_case leak "--leak-check=full" "$bin/leak"
xml_case double_free "--leak-check=full" "$bin/double_free"
xml_case clean "--leak-check=full --show-leak-kinds=all" "$bin/clean_exit"
xml_case leak_list "--leak-check=full --show-leak-kinds=all" "$progs/leak_list"
xml_case mismatched "--leak-check=full" "$progs/err_mismatched" new_free
xml_case summary "" "$bin/leak"

# ---- 5. --gen-suppressions ----------------------------------------------------
"$hs" --leak-check=full --gen-suppressions=all --log-file="$out/gen.log" "$bin/double_free" >/dev/null 2>&1
"$hs" --leak-check=full --gen-suppressions=all --log-file="$out/gen2.log" "$bin/leak" >/dev/null 2>&1
cat "$out/gen.log" "$out/gen2.log" | sed -n '/^{/,/^}/p' > "$out/gen.supp"
[ "$(grep -c '^{' "$out/gen.supp")" = 2 ] || bad "gen-suppressions: $(grep -c '^{' "$out/gen.supp") entries, want 2"
for checker in "$hs" valgrind; do
	for prog in leak double_free; do
		"$checker" --leak-check=full --error-exitcode=7 --suppressions="$out/gen.supp" \
			"$bin/$prog" >/dev/null 2>"$out/gen.$prog.err"
		rc=$?
		[ "$rc" = 0 ] || bad "gen-suppressions: $(basename "$checker") $prog still reports (exit $rc): $(grep -m2 -E 'lost in|Invalid free' "$out/gen.$prog.err")"
	done
done
[ "$fail" = 0 ] && echo "ok   --gen-suppressions=all: its entries hide the records under heapscope and valgrind"

# ---- 6. the option layer ----------------------------------------------------------
marker=$out/ran
check() {  # description, expected exit, pattern, options...
	local what=$1 want=$2 pat=$3; shift 3
	rm -f "$marker"
	"$hs" "$@" -- touch "$marker" >"$out/opt.out" 2>&1
	local rc=$?
	[ "$rc" = "$want" ] || bad "$what: exit $rc, want $want: $(cat "$out/opt.out")"
	grep -qE -- "$pat" "$out/opt.out" || bad "$what: output lacks /$pat/: $(cat "$out/opt.out")"
	if [ "$want" = 2 ]; then
		[ "$(wc -l < "$out/opt.out")" = 1 ] || bad "$what: not one line: $(cat "$out/opt.out")"
		[ ! -e "$marker" ] || bad "$what: the program ran"
	else
		[ -e "$marker" ] || bad "$what: the program did not run"
	fi
}
check "unknown option" 2 "unknown option '--frobnicate=yes'" --frobnicate=yes
check "bad value" 2 "--leak-check: 'maybe' is not one of" --leak-check=maybe
check "helgrind" 2 "--tool=helgrind: heapscope does memcheck's work only" --tool=helgrind
check "vgdb" 2 "--vgdb=yes: heapscope has no gdbserver" --vgdb=yes
check "xml without a file" 2 "--xml=yes needs a destination" --xml=yes
check "track-origins" 0 "note: --track-origins=yes is accepted" -q --track-origins=yes
[ "$(wc -l < "$out/opt.out")" = 1 ] || bad "track-origins: more than the note: $(cat "$out/opt.out")"
check "memcheck's usual line" 0 "" -q --tool=memcheck --leak-check=yes --show-reachable=yes \
	--num-callers=50 --trace-children=yes --child-silent-after-fork=yes --keep-debuginfo=yes \
	--track-origins=no --time-stamp=no --show-leak-kinds=definite --errors-for-leak-kinds=definite \
	--gen-suppressions=no -v --error-exitcode=0
"$hs" -q --leak-check=full --log-fd=3 "$bin/leak" 3>"$out/fd3.log" >/dev/null 2>"$out/fd3.err"
grep -q "definitely lost in loss record 1 of 1" "$out/fd3.log" || bad "--log-fd=3: no report on fd 3"
grep -q "==" "$out/fd3.err" && bad "--log-fd=3: report lines on stderr too: $(head -n 2 "$out/fd3.err")"
HS_CASE=abc "$hs" -q --leak-check=full --log-file="$out/log.%q{HS_CASE}.%p" "$bin/leak" >/dev/null 2>&1
ls "$out"/log.abc.[0-9]* >/dev/null 2>&1 || bad "--log-file with %q{VAR} and %p: no $out/log.abc.PID"
"$hs" "$bin/leak" >/dev/null 2>"$out/default.err"
grep -q "Rerun with --leak-check=full to see details of leaked memory" "$out/default.err" ||
	bad "default leak check is not valgrind's summary: $(cat "$out/default.err")"
grep -q "lost in loss record" "$out/default.err" && bad "default lists loss records"
grep -q "heapscope: double free" <("$hs" "$bin/double_free" 2>&1) &&
	bad "valgrind's form: the shim's own error line is on stderr too"
left=$(find "$TMPDIR" -mindepth 1 | head -n 3)
[ -z "$left" ] || bad "files left in TMPDIR: $left"
ls "$root"/heapscope.*.trace >/dev/null 2>&1 && bad "a trace was left in the current directory"
[ "$fail" = 0 ] && echo "ok   options: unknown, bad, refused (one line, exit 2, not run), noted, --log-fd, --log-file %q{}, nothing left behind"
exit $fail
