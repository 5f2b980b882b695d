#!/usr/bin/env bash
# `make install` and `make uninstall` with PREFIX and DESTDIR:
#  1. the files land where the Makefile says, with their modes;
#  2. the installed tree, moved elsewhere as a whole, still runs: the
#     command finds lib/heapscope/libheapscope.so relative to itself
#     (the trace's module map shows that library, not build/'s), for
#     `run`, valgrind's form and `sweep`;
#  3. `pkg-config --cflags heapscope` gives the header's folder: a test
#     compiled with it injects a failure under the installed heapscope
#     and runs unchanged without it;
#  4. the manual page renders without a warning;
#  5. `make uninstall` removes every file it installed.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
dest=$tmp/dest prefix=/opt/hs

make -s --no-print-directory install DESTDIR="$dest" PREFIX="$prefix" >"$tmp/install.log" 2>&1 ||
	{ echo "FAIL: make install: $(tail -n 5 "$tmp/install.log")"; exit 1; }
want="bin/heapscope 755
include/heapscope.h 644
lib/heapscope/libheapscope.so 644
lib/pkgconfig/heapscope.pc 644
share/man/man1/heapscope.1 644"
got=$(cd "$dest$prefix" && find . -type f -printf '%P %m\n' | sort)
[ "$got" = "$want" ] || bad "installed files differ:
$got
want:
$want"
grep -q "^prefix=$prefix\$" "$dest$prefix/lib/pkgconfig/heapscope.pc" || bad "heapscope.pc: prefix is not $prefix"
[ "$fail" = 0 ] && echo "ok   make install: $(echo "$want" | wc -l) files under DESTDIR/PREFIX"

# 2. the tree moved as a whole still finds its shim
moved=$tmp/elsewhere
mv "$dest$prefix" "$moved"
hs=$moved/bin/heapscope
"$hs" run -q -o "$tmp/t.%p.trace" -- "$root/build/tests/progs/leak_plain" >/dev/null 2>"$tmp/run.err"
grep -q "100 bytes in 1 blocks are definitely lost" "$tmp/run.err" || bad "installed run: no leak report: $(head -n 3 "$tmp/run.err")"
grep -h '^M ' "$tmp"/t.*.trace | grep -q "$moved/lib/heapscope/libheapscope.so" ||
	bad "installed run: the trace does not show $moved/lib/heapscope/libheapscope.so loaded"
grep -h '^M ' "$tmp"/t.*.trace | grep -q "$root/build/libheapscope.so" && bad "installed run loaded build/'s shim"
"$hs" --leak-check=full --error-exitcode=3 "$root/build/tests/progs/leak_plain" >/dev/null 2>&1
rc=$?; [ "$rc" = 3 ] || bad "installed, valgrind's form: exit $rc, want 3"
"$hs" sweep --quiet -j 1 -- "$root/build/samples/oom_checked" >"$tmp/sweep.out" 2>&1
rc=$?; [ "$rc" = 0 ] || bad "installed sweep: exit $rc: $(head -n 3 "$tmp/sweep.out")"
mkdir -p "$tmp/empty/bin" && cp "$hs" "$tmp/empty/bin/"
"$tmp/empty/bin/heapscope" run -q true >/dev/null 2>"$tmp/noshim.err"
rc=$?; [ "$rc" = 1 ] && grep -q "cannot find the preload library" "$tmp/noshim.err" ||
	bad "without its shim: exit $rc, $(cat "$tmp/noshim.err")"
[ "$fail" = 0 ] && echo "ok   the installed tree, moved, finds its shim (run, valgrind's form, sweep)"

# 3. pkg-config and the header
cat > "$tmp/api.c" <<'EOF'
#include <heapscope.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	int armed = hs_fail_begin("nth=1");
	void *p = malloc(10);
	hs_fail_end();
	printf("running=%d armed=%d failed=%d\n", hs_running(), armed > 0, p == NULL);
	free(p);
	return 0;
}
EOF
cflags=$(PKG_CONFIG_PATH=$moved/lib/pkgconfig pkg-config --define-prefix --cflags heapscope | sed "s/ *$//")
[ "$cflags" = "-I$moved/include" ] || bad "pkg-config --cflags heapscope: '$cflags', want -I$moved/include"
# shellcheck disable=SC2086
gcc $cflags -o "$tmp/api" "$tmp/api.c" 2>"$tmp/cc.err" || bad "compiling with pkg-config's flags: $(head -n 3 "$tmp/cc.err")"
[ "$("$tmp/api")" = "running=0 armed=0 failed=0" ] || bad "api test natively: $("$tmp/api")"
got=$("$hs" run -q -o "$tmp/api.%p.trace" -- "$tmp/api" 2>/dev/null)
[ "$got" = "running=1 armed=1 failed=1" ] || bad "api test under the installed heapscope: '$got'"
[ "$fail" = 0 ] && echo "ok   pkg-config --cflags heapscope: $cflags; the header's calls reach the installed shim"

# 4. the manual page
groff -man -ww -z "$moved/share/man/man1/heapscope.1" 2>"$tmp/groff.err" && [ ! -s "$tmp/groff.err" ] ||
	bad "man page: $(head -n 3 "$tmp/groff.err")"
man -l "$moved/share/man/man1/heapscope.1" 2>/dev/null | grep -q "heapscope sweep --merge" ||
	bad "man page does not render its synopsis"

# 5. uninstall (from where it was installed)
mv "$moved" "$dest$prefix"
make -s --no-print-directory uninstall DESTDIR="$dest" PREFIX="$prefix" >"$tmp/uninstall.log" 2>&1 ||
	bad "make uninstall: $(tail -n 3 "$tmp/uninstall.log")"
left=$(find "$dest" -type f)
[ -z "$left" ] || bad "make uninstall left: $left"
[ -d "$dest$prefix/lib/heapscope" ] && bad "make uninstall left lib/heapscope/"
[ "$fail" = 0 ] && echo "ok   man page renders; make uninstall removes every file"
exit $fail
