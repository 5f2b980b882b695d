#!/usr/bin/env bash
# make demo: run the leak sample under heapscope and show the report.
set -eu
cd "$(dirname "$0")/.."
sample=build/samples/leaks
echo "== heapscope demo: $sample under the shim"
if [ -x build/heapscope ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  build/heapscope run -o "$tmp/demo.trace" --json "$tmp/demo.json" -- "$sample" || true
  echo
  echo "== JSON summary ($tmp/demo.json)"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d.get("summary"), indent=1))' "$tmp/demo.json" 2>/dev/null || true
else
  # The analyzer is not built yet: show that the program runs unchanged on
  # heapscope's allocator.
  LD_PRELOAD="$PWD/build/libheapscope.so" "$sample"
fi
