#!/usr/bin/env bash
# The per-thread stack cache (preload/record/stackcache.c) must never change a
# recorded stack: run deterministic programs with the cache on and off
# (address randomisation off, so addresses compare) and require the same
# set of S lines.
set -u
cd "$(dirname "$0")/../.."
lib=$PWD/build/libheapscope.so
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 PYTHONHASHSEED=0
fail=0
stacks() {  # cache(0|1) name cmd...
  local c=$1 name=$2; shift 2
  setarch -R env HEAPSCOPE_STACK_CACHE=$c HEAPSCOPE_OUT="$tmp/$name.$c.trace" \
    LD_PRELOAD="$lib" "$@" >/dev/null 2>&1
  grep '^S ' "$tmp/$name.$c.trace" | cut -d' ' -f3- | sort > "$tmp/$name.$c.s"
}
check() {  # name cmd...
  local name=$1; shift
  stacks 0 "$name" "$@"; stacks 1 "$name" "$@"
  local n; n=$(wc -l < "$tmp/$name.0.s")
  if [ "$n" -lt 3 ]; then echo "FAIL $name: only $n stacks recorded"; fail=1; return; fi
  if cmp -s "$tmp/$name.0.s" "$tmp/$name.1.s"; then
    echo "ok   $name: $n stacks identical with and without the cache"
  else
    echo "FAIL $name: stacks differ with the cache"; diff "$tmp/$name.0.s" "$tmp/$name.1.s" | head -6; fail=1
  fi
}
check sqlite3 sqlite3 :memory: 'create table t(a,b); with recursive c(x) as (select 1 union all select x+1 from c where x<5000) insert into t select x, hex(randomblob(20)) from c; select count(*) from t;'
check perl perl -e 'my %h; $h{$_}=$_ x 3 for 1..5000; print scalar(keys %h), "\n"'
check python3 python3 -c 'import json; print(len(json.dumps({str(i): list(range(i%50)) for i in range(5000)})))'
check stack_paths build/tests/progs/stack_paths
# more stacks than the cache has frames for: its pool starts over many times
check stack_many build/tests/progs/stack_many
# A fork child's trace is new: a stack its inherited cache hits must still
# get its S line there. Every stack id a B line names needs one.
fork_check() {  # cache(0|1)
  local c=$1; local d="$tmp/fork.$c"; mkdir -p "$d"
  if ! HEAPSCOPE_STACK_CACHE=$c HEAPSCOPE_OUT="$d/t.%p" LD_PRELOAD="$lib" \
       build/tests/progs/stack_fork >/dev/null 2>&1; then
    echo "FAIL fork (cache $c): stack_fork failed"; fail=1; return
  fi
  local traces=("$d"/t.*) named=0 f id
  if [ ${#traces[@]} -ne 2 ]; then echo "FAIL fork (cache $c): ${#traces[@]} traces, want 2"; fail=1; return; fi
  for f in "${traces[@]}"; do
    for id in $(awk '$1 == "B" && $3 != 0 { print $3 }' "$f"); do
      named=$((named + 1))
      if ! grep -q "^S $id " "$f"; then
        echo "FAIL fork (cache $c): $(basename "$f") names stack $id in a B line but has no S line for it"
        grep -E '^(S|B) ' "$f" | head -6; fail=1
      fi
    done
  done
  if [ "$named" -lt 1 ]; then echo "FAIL fork (cache $c): the child's block has no stack"; fail=1; return; fi
  echo "ok   fork (cache $c): every B line's stack has its S line in its own trace"
}
fork_check 0
fork_check 1
exit $fail
