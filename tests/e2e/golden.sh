#!/usr/bin/env bash
# Golden tests for the analyzer (heaptrack's idea): a checked-in trace in,
# the expected reports out. For each tests/golden/NAME.trace, with the
# options in NAME.args if present, `heapscope report` must print exactly
# NAME.txt (stdout), NAME.err (stderr), write exactly NAME.json and exit
# with NAME.rc. The traces point at modules that do not exist, so frames
# are '???' and the expected output does not depend on this machine.
#   tests/e2e/golden.sh            compare
#   tests/e2e/golden.sh --update   rewrite the expected files (then review
#                                  the diff before committing it)
set -u
shopt -s nullglob
cd "$(dirname "$0")/../.."
hs=$PWD/build/heapscope
[ -x "$hs" ] || { echo "golden.sh: $hs is not built"; exit 1; }
update=0
[ "${1:-}" = --update ] && update=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
cd tests/golden
for trace in *.trace; do
	name=${trace%.trace}
	n=$((n + 1))
	args=()
	[ -f "$name.args" ] && read -ra args < "$name.args"
	"$hs" report "${args[@]}" --json "$tmp/$name.json" "$trace" \
		>"$tmp/$name.txt" 2>"$tmp/$name.err"
	echo $? > "$tmp/$name.rc"
	# the version changes with every release, the report does not
	sed -i 's/"heapscope": "[^"]*"/"heapscope": "VERSION"/' "$tmp/$name.json"
	if ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/$name.json"; then
		echo "FAIL $name: the JSON report does not parse"
		fail=1
	fi
	for ext in txt err json rc; do
		if [ $update = 1 ]; then
			cp "$tmp/$name.$ext" "$name.$ext"
		elif ! diff -u "$name.$ext" "$tmp/$name.$ext" > "$tmp/diff"; then
			echo "FAIL $name.$ext differs (expected -, got +):"
			cat "$tmp/diff"
			fail=1
		fi
	done
done
[ $n -gt 0 ] || { echo "golden.sh: no traces in tests/golden"; exit 1; }
[ $update = 1 ] && echo "golden.sh: rewrote the expected files of $n traces"
[ $update = 0 ] && [ $fail = 0 ] && echo "golden.sh: $n traces match"
exit $fail
