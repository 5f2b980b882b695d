#!/usr/bin/env bash
# Heap errors, end to end: each tests/progs/err_* program makes one kind of
# mistake; `heapscope run --json` must report exactly that one error, of
# the right kind, with the innermost program frame (function and line) of
# the current, allocation and free stacks where the source marks them
# (@NAME comments: the lines are looked up, never hard-coded), and the
# program must run on to its end ("done", status 0). Then: --abort-on-error
# stops at the first error with the report written, --error-exitcode
# counts errors, --no-checks still catches bad frees, a heap smashed on
# purpose is reported without a crash, and, where valgrind is installed,
# memcheck reports the same kind on the same binary.
set -u
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
progs=$PWD/build/tests/progs
for f in "$hs" "$progs/err_invalid_free" "$progs/err_double_free" "$progs/err_mismatched" \
         "$progs/err_overflow" "$progs/err_write_after_free" "$progs/err_heap_smash"; do
	[ -x "$f" ] || { echo "heap_errors.sh: $f not built"; exit 1; }
done
command -v python3 >/dev/null || { echo "heap_errors.sh: needs python3"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

src_of() {  # program -> its source file
	local s=tests/progs/$1.c
	[ -f "$s" ] || s=tests/progs/$1.cc
	echo "$s"
}

# "func@marker" -> "func:LINE" (the line holding "@marker"); "-" stays "-"
# (no program frame expected), "*" stays "*" (not checked).
frame_of() {
	local src=$1 spec=$2
	case "$spec" in -|'*') echo "$spec"; return ;; esac
	local fn=${spec%@*} mk=${spec#*@} ln
	ln=$(grep -n "@$mk\b" "$src" | head -n 1 | cut -d: -f1)
	[ -n "$ln" ] || { echo "no-marker-$mk"; return; }
	echo "$fn:$ln"
}

# The innermost frame of each stack that lies in the program's source, as
# func:line ("-" if none); C++ names lose their parameter list.
frames_py='
import json, sys
d = json.load(open(sys.argv[1]))
src = sys.argv[2].rsplit("/", 1)[-1]
errs = d.get("errors", [])
print(len(errs))
for e in errs:
    out = [e["kind"]]
    for key in ("stack", "alloc_stack", "free_stack"):
        fr = "-"
        for f in e.get(key) or []:
            if (f.get("file") or "").endswith("/" + src):
                fr = "%s:%s" % (f["function"].split("(")[0], f["line"])
                break
        out.append(fr)
    out.append(e.get("detail", "").replace(" ", "_"))
    print(" ".join(out))
'

# id prog mode kind current alloc free detail-substring [extra run options]
check() {
	local id=$1 prog=$2 mode=$3 kind=$4 cur=$5 alc=$6 fre=$7 det=$8
	shift 8
	local src; src=$(src_of "$prog")
	local want_cur want_alc want_fre
	want_cur=$(frame_of "$src" "$cur"); want_alc=$(frame_of "$src" "$alc")
	want_fre=$(frame_of "$src" "$fre")
	"$hs" run -q "$@" --json "$tmp/$id.json" -o "$tmp/$id.%p.trace" -- \
		"$progs/$prog" $mode >"$tmp/$id.out" 2>"$tmp/$id.err"
	local rc=$?
	[ "$rc" = 0 ] || bad "$id: exit status $rc, want 0 (the program carries on)"
	[ "$(cat "$tmp/$id.out")" = done ] || bad "$id: the program did not run to its end (stdout '$(cat "$tmp/$id.out")')"
	grep -q "heapscope: ${kind//_/ }: " "$tmp/$id.err" || bad "$id: no '${kind//_/ }' line on stderr"
	python3 -c "$frames_py" "$tmp/$id.json" "$src" >"$tmp/$id.frames" 2>&1 ||
		{ bad "$id: JSON report unreadable: $(head -n 3 "$tmp/$id.frames")"; return; }
	local n got_kind got_cur got_alc got_fre got_det
	n=$(head -n 1 "$tmp/$id.frames")
	read -r got_kind got_cur got_alc got_fre got_det < <(sed -n 2p "$tmp/$id.frames")
	[ "$n" = 1 ] || bad "$id: $n errors reported, want 1: $(tail -n +2 "$tmp/$id.frames" | cut -d' ' -f1 | tr '\n' ' ')"
	[ "$got_kind" = "$kind" ] || bad "$id: kind '$got_kind', want '$kind'"
	[ "$want_cur" = '*' ] || [ "$got_cur" = "$want_cur" ] || bad "$id: current stack at $got_cur, want $want_cur"
	[ "$got_alc" = "$want_alc" ] || bad "$id: allocation stack at $got_alc, want $want_alc"
	[ "$got_fre" = "$want_fre" ] || bad "$id: free stack at $got_fre, want $want_fre"
	[ -z "$det" ] || [[ "$got_det" == *"${det// /_}"* ]] || bad "$id: detail '${got_det//_/ }' lacks '$det'"
	echo "ok   $id: $got_kind at $got_cur, alloc'd $got_alc, freed $got_fre"
}

check invalid_interior err_invalid_free interior invalid_free \
	bad_interior@free_interior make_block@alloc - "24 bytes inside a block of size 100"
check invalid_stack err_invalid_free stack invalid_free \
	bad_stack@free_stack - - "not in a heap block"
check double_free err_double_free double double_free \
	release_again@free_again make_block@alloc release@free_first "already freed"
check realloc_freed err_double_free realloc realloc_freed \
	grow@realloc_freed make_block@alloc release@free_first "already freed"
check double_free_after64k err_double_free after64k double_free \
	release_again@free_again make_block@alloc release@free_first "already freed"
check double_free_large err_double_free large double_free \
	release_again@free_again make_block@alloc release@free_first "block of size 2621440"
check realloc_freed_large err_double_free large_realloc realloc_freed \
	grow@realloc_freed make_block@alloc release@free_first "block of size 2621440"
check new_free err_mismatched new_free mismatched_free \
	release_with_free@free_new make_one@alloc_new - "allocated with operator new"
check array_delete err_mismatched array_delete mismatched_free \
	release_array_wrongly@delete_array make_array@alloc_array - "allocated with operator new[]"
check malloc_delete err_mismatched malloc_delete mismatched_free \
	release_malloced_wrongly@delete_malloc make_malloced@alloc_malloc - "allocated with malloc()"
check overflow_free err_overflow after heap_overflow \
	release@free make_block@alloc - "bytes 0..3 after the end of the block of size 100"
check overflow_realloc err_overflow realloc heap_overflow \
	grow@realloc make_block@alloc - "bytes 0..0 after the end"
check overflow_exit err_overflow exit heap_overflow \
	'*' make_block@alloc - "found at exit"
check underrun err_overflow before heap_overflow \
	release@free make_block@alloc - "header of the block"
check write_after_free err_write_after_free "" write_after_free \
	churn@churn_free make_block@alloc release@free "bytes 20..23 of a block of size 64" \
	--quarantine 64k
check write_after_free_exit err_write_after_free exit write_after_free \
	'*' make_block@alloc release@free "bytes 20..23"
check write_after_free_after64k err_write_after_free after64k write_after_free \
	'*' make_block@alloc release@free "bytes 20..23"

# --abort-on-error: the first error ends the program (SIGABRT), the report
# still holds it.
"$hs" run -q --abort-on-error --json "$tmp/abort.json" -o "$tmp/abort.%p.trace" -- \
	"$progs/err_double_free" double >"$tmp/abort.out" 2>"$tmp/abort.err"
rc=$?
[ "$rc" = 134 ] || bad "abort-on-error: exit status $rc, want 134 (SIGABRT)"
[ ! -s "$tmp/abort.out" ] || bad "abort-on-error: the program ran on: '$(cat "$tmp/abort.out")'"
python3 -c "$frames_py" "$tmp/abort.json" tests/progs/err_double_free.c >"$tmp/abort.frames" 2>&1
[ "$(sed -n 2p "$tmp/abort.frames" | cut -d' ' -f1)" = double_free ] ||
	bad "abort-on-error: report lacks the double free: $(cat "$tmp/abort.frames")"
[ "$fail" = 0 ] && echo "ok   abort-on-error: stopped with SIGABRT, error in the report"

# --error-exitcode counts heap errors.
"$hs" run -q --error-exitcode=42 -o "$tmp/ec.%p.trace" -- "$progs/err_overflow" after \
	>/dev/null 2>&1
rc=$?
[ "$rc" = 42 ] || bad "--error-exitcode=42: exit status $rc"

# --no-checks: no canary (the overrun goes unseen) but bad frees are still
# caught, and the program still runs to its end.
"$hs" run -q --no-checks --json "$tmp/nc.json" -o "$tmp/nc.%p.trace" -- \
	"$progs/err_double_free" double >"$tmp/nc.out" 2>/dev/null
python3 -c "$frames_py" "$tmp/nc.json" tests/progs/err_double_free.c >"$tmp/nc.frames"
[ "$(sed -n 2p "$tmp/nc.frames" | cut -d' ' -f1)" = double_free ] && [ "$(cat "$tmp/nc.out")" = done ] ||
	bad "--no-checks: double free not caught or run cut short: $(cat "$tmp/nc.frames")"
"$hs" run -q --no-checks --json "$tmp/nc2.json" -o "$tmp/nc2.%p.trace" -- \
	"$progs/err_overflow" after >/dev/null 2>&1
python3 -c "$frames_py" "$tmp/nc2.json" tests/progs/err_overflow.c >"$tmp/nc2.frames"
[ "$(head -n 1 "$tmp/nc2.frames")" = 0 ] || bad "--no-checks: canary still checked: $(cat "$tmp/nc2.frames")"

# A heap damaged on purpose (overruns through headers and free-list links,
# underruns, writes after free, double frees): reported, never a crash or
# a hang, and the report is complete (the trace ends with the exit).
"$hs" run -q --json "$tmp/smash.json" -o "$tmp/smash.%p.trace" -- \
	"$progs/err_heap_smash" >"$tmp/smash.out" 2>"$tmp/smash.err"
rc=$?
kinds=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted({e["kind"] for e in d["errors"]})))' "$tmp/smash.json" 2>&1)
if [ "$rc" = 0 ] && [ "$(cat "$tmp/smash.out")" = done ] &&
   grep -qx 'X exit 0' "$tmp"/smash.*.trace &&
   [[ "$kinds" == *double_free*heap_overflow*write_after_free* ]]; then
	echo "ok   smashed heap: ran to its end, report complete ($kinds)"
else
	bad "smashed heap: exit $rc, stdout '$(cat "$tmp/smash.out")', kinds '$kinds'"
fi

# memcheck on the same binaries: the same kind of error.
if command -v valgrind >/dev/null; then
	vg() {  # prog mode regex-title regex-address
		timeout 60 valgrind -q "$progs/$1" $2 >/dev/null 2>"$tmp/vg.err"
		if grep -qF "$3" "$tmp/vg.err" && grep -qE "$4" "$tmp/vg.err"; then
			echo "ok   memcheck agrees on $1 $2: $3"
		else
			bad "memcheck on $1 $2: want '$3' / '$4', got: $(grep -E '^==[0-9]+== [A-Z ]' "$tmp/vg.err" | head -n 2)"
		fi
	}
	vg err_invalid_free interior "Invalid free() / delete / delete[] / realloc()" "24 bytes inside a block of size 100 alloc'd"
	vg err_invalid_free stack "Invalid free() / delete / delete[] / realloc()" "stack"
	vg err_double_free double "Invalid free() / delete / delete[] / realloc()" "inside a block of size 64 free'd"
	vg err_double_free realloc "Invalid free() / delete / delete[] / realloc()" "inside a block of size 64 free'd"
	vg err_double_free large "Invalid free() / delete / delete[] / realloc()" "inside a block of size 2,621,440 free'd"
	vg err_mismatched new_free "Mismatched free() / delete / delete []" "block of size 24 alloc'd"
	vg err_mismatched array_delete "Mismatched free() / delete / delete []" "block of size 40 alloc'd"
	vg err_mismatched malloc_delete "Mismatched free() / delete / delete []" "block of size 24 alloc'd"
	vg err_overflow after "Invalid write of size" "0 bytes after a block of size 100"
	vg err_overflow before "Invalid write of size" "1 bytes before a block of size 100"
	vg err_write_after_free "" "Invalid write of size" "20 bytes inside a block of size 64 free'd"
else
	echo "valgrind not installed: memcheck comparison skipped"
fi
if [ "$fail" != 0 ]; then
	for f in "$tmp"/*.err; do echo "--- $f"; head -n 8 "$f"; done
fi
exit $fail
