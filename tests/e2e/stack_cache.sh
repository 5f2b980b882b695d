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

# Our DWARF unwinder (preload/unwind.c) must give libunwind's stacks. Heap
# checks are off so that every S line is an allocation stack (free stacks
# come from frame pointers, which read whatever is on the stack in code
# without them); frames are written as module path + offset, because a
# library dlopen'd after our own mappings lands elsewhere when the
# unwinders map different amounts of memory.
unw_stacks() {  # mode name cmd...
  local m=$1 name=$2; shift 2
  rm -f "$tmp/$name.$m.trace"
  setarch -R env HEAPSCOPE_UNWIND=$m HEAPSCOPE_CHECKS=0 HEAPSCOPE_UNWIND_STATS=1 \
    HEAPSCOPE_OUT="$tmp/$name.$m.trace" LD_PRELOAD="$lib" "$@" >/dev/null 2>"$tmp/$name.$m.err"
  awk 'function hex(s,  i, v, c) { v = 0; s = tolower(s)
         for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)); v = v * 16 + c - 1 }
         return v }
       $1 == "M" { n++; ms[n] = hex($4); me[n] = hex($5); mb[n] = hex($4); mp[n] = $7 }
       $1 == "S" { line = ""
         for (i = 4; i <= NF; i++) { a = hex($i); w = $i
           for (j = n; j >= 1; j--) if (a >= ms[j] && a <= me[j]) { w = mp[j] "+" sprintf("%x", a - mb[j]); break }
           line = line " " w }
         print $3 line }' "$tmp/$name.$m.trace" | sort > "$tmp/$name.$m.u"
}
unw_check() {  # name cmd...
  local name=$1; shift
  unw_stacks libunwind "$name" "$@"; unw_stacks dwarf "$name" "$@"
  local n; n=$(wc -l < "$tmp/$name.libunwind.u")
  local said; said=$(grep -o 'unwind: .*' "$tmp/$name.dwarf.err" | tail -1)
  if [ "$n" -lt 3 ]; then echo "FAIL unwind $name: only $n stacks recorded"; fail=1; return; fi
  if cmp -s "$tmp/$name.libunwind.u" "$tmp/$name.dwarf.u"; then
    echo "ok   unwind $name: $n stacks identical to libunwind's ($said)"
  else
    echo "FAIL unwind $name: stacks differ from libunwind's ($said)"
    diff "$tmp/$name.libunwind.u" "$tmp/$name.dwarf.u" | head -6; fail=1
  fi
  case "$said" in *" 0 stacks by rule"*|"") echo "FAIL unwind $name: our unwinder took no stack"; fail=1 ;; esac
}
# Every stack the cache gives and every walk that reused the walk before
# checked against a fresh libunwind walk, allocation by allocation
# (HEAPSCOPE_UNWIND_VERIFY): exact whatever the program does with
# addresses. With checks on, so that the free path runs as users run it.
verify() {  # name cmd...
  local name=$1; shift
  setarch -R env HEAPSCOPE_UNWIND_VERIFY=1 HEAPSCOPE_OUT="$tmp/$name.v.%p.trace" \
    LD_PRELOAD="$lib" "$@" >/dev/null 2>"$tmp/$name.v.err"
  local line; line=$(grep -o 'stack verify: .*' "$tmp/$name.v.err" | tail -1)
  case "$line" in
  *" 0 cache hits wrong, 0 walks wrong")
    local n=${line#stack verify: }; n=${n%% *}
    if [ "$n" -lt 100 ]; then echo "FAIL verify $name: only $n stacks checked"; fail=1
    else echo "ok   verify $name: $line"; fi ;;
  "") echo "FAIL verify $name: no verify line"; head -3 "$tmp/$name.v.err"; fail=1 ;;
  *) echo "FAIL verify $name: $line"; fail=1 ;;
  esac
}
verify perl perl -e 'my %h; $h{$_}=$_ x 3 for 1..20000; print scalar(keys %h), "\n"'
verify stack_many build/tests/progs/stack_many
verify capture_cost build/tests/progs/capture_cost
unw_check sqlite3 sqlite3 :memory: 'create table t(a,b); with recursive c(x) as (select 1 union all select x+1 from c where x<5000) insert into t select x, hex(randomblob(20)) from c; create index i on t(b); select count(*) from t t1 join t t2 on t1.a = t2.a;'
unw_check perl perl -e 'my %h; $h{$_}=$_ x 3 for 1..5000; print scalar(keys %h), "\n"'
py=$(python3 -c 'import sys; print(sys.executable)')   # the interpreter, not a wrapper script
unw_check python3 "$py" -c 'import json; print(len(json.dumps({str(i): list(range(i%50)) for i in range(5000)})))'
unw_check stack_paths build/tests/progs/stack_paths
# A real program built without frame pointers, with deep and varied
# stacks: gcc's compiler proper on a generated file.
cc1=$(gcc -print-prog-name=cc1 2>/dev/null)
if [ -x "$cc1" ]; then
  python3 - "$tmp/gen.c" <<'PY'
import sys
out = ["int snprintf(char *, unsigned long, const char *, ...);",
       "struct node { int key; double val; struct node *next; char name[16]; };"]
for i in range(400):
    out += [f"static int helper_{i}(struct node *p, int k) {{",
            f"  int acc = {i};",
            f"  for (int j = 0; j < k; j++) {{ if (p && p->key > j * {i % 7 + 1}) acc += p->key ^ j; else acc -= j; }}",
            f"  struct node local = {{ .key = acc, .val = acc * {i}.5, .next = p }};",
            f"  snprintf(local.name, sizeof local.name, \"n%d\", acc);",
            f"  return acc + (int)local.val" + (f" + (p ? helper_{i-1}(p->next, k - 1) : 0);" if i else ";"),
            f"}}",
            f"double calc_{i}(double x, double y) {{ return x * {i}.25 + y / ({i} + 1.0) - (x > y ? x - y : y - x); }}"]
out += ["int main(void) { struct node n = {0}; return helper_399(&n, 3); }"]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
  # (cc1 keys hash tables by address, so its set of stacks changes when
  # the two modes map different amounts of memory: it is checked stack
  # by stack below instead)
  verify cc1 "$cc1" -quiet -O2 "$tmp/gen.c" -o /dev/null
else
  echo "skip unwind cc1: gcc's cc1 not found"
fi
exit $fail
