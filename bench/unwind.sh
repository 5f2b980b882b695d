#!/usr/bin/env bash
# bench/unwind.sh — wall time of stack-heavy programs natively and under
# the shim (checks off, default, and HEAPSCOPE_UNWIND=libunwind), runs
# alternated, median of $RUNS (default 5). Issue #13's numbers.
#   bench/unwind.sh [cc1|sqlite|capture ...]
set -u
cd "$(dirname "$0")/.."
lib=$PWD/build/libheapscope.so
runs=${RUNS:-5}
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
# A generated C file of about 20,000 lines for gcc's compiler proper.
python3 - "$w/big.c" <<'PY'
import sys
out = ["int snprintf(char *, unsigned long, const char *, ...);",
       "struct node { int key; double val; struct node *next; char name[16]; };"]
i = 0
while len(out) < 20000:
    prev = f"helper_{i-1}(p->next, k - 1)" if i else "0"
    out += [f"static int helper_{i}(struct node *p, int k) {{", f"  int acc = {i};",
            f"  for (int j = 0; j < k; j++) {{",
            f"    if (p && p->key > j * {i % 7 + 1}) acc += p->key ^ j; else acc -= j * {i % 5 + 2};",
            f"    switch (acc & 3) {{ case 0: acc += {i}; break; case 1: acc *= 3; break; default: acc >>= 1; }}",
            f"  }}", f"  struct node local = {{ .key = acc, .val = acc * {i}.5, .next = p }};",
            f"  snprintf(local.name, sizeof local.name, \"n%d\", acc);",
            f"  return acc + (int)local.val + (p ? {prev} : 0);", f"}}",
            f"double calc_{i}(double x, double y) {{ return x * {i}.25 + y / ({i} + 1.0) - (x > y ? x - y : y - x); }}",
            f"int use_{i}(int a) {{ int t[{i % 13 + 3}]; for (int q = 0; q < {i % 13 + 3}; q++) t[q] = a * {i} + q; return t[a % {i % 13 + 3}]; }}", ""]
    i += 1
out.append(f"int main(void) {{ struct node n = {{0}}; return helper_{i-1}(&n, 3) + use_1(2); }}")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
# 20,000 rows inserted, indexed, joined.
cat > "$w/sql" <<'SQL'
create table t(a integer, b text, c real);
create table u(a integer, d text);
with recursive s(x) as (select 1 union all select x + 1 from s where x < 20000)
  insert into t select x, hex(randomblob(16)), x * 1.5 from s;
with recursive s(x) as (select 1 union all select x + 1 from s where x < 20000)
  insert into u select x, 'v' || (x * 7 % 1000) from s;
create index tb on t(b); create index ud on u(d);
select count(*), sum(t.c) from t join u on t.a = u.a where u.d like 'v1%';
select d, count(*) from u group by d order by 2 desc limit 3;
SQL
cc1=$(gcc -print-prog-name=cc1)
declare -A cmd=(
  [cc1]="$cc1 -quiet -O2 $w/big.c -o /dev/null"
  [sqlite]="sqlite3 :memory: -init $w/sql .quit"
  [capture]="build/tests/progs/capture_cost"
)
configs=(native checks0 default libunwind)
run1() {  # config command...
  local c=$1; shift
  local e=()
  case $c in
    native) ;;
    checks0) e=(HEAPSCOPE_CHECKS=0 LD_PRELOAD="$lib") ;;
    default) e=(LD_PRELOAD="$lib") ;;
    libunwind) e=(HEAPSCOPE_CHECKS=0 HEAPSCOPE_UNWIND=libunwind LD_PRELOAD="$lib") ;;
  esac
  rm -f "$w"/t.*
  local t0 t1
  t0=$(date +%s.%N)
  env "${e[@]}" HEAPSCOPE_OUT="$w/t.%p" "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
for name in "${@:-cc1 sqlite capture}"; do
  for name1 in $name; do
    declare -A times=()
    for ((r = 0; r < runs; r++)); do
      for c in "${configs[@]}"; do
        # shellcheck disable=SC2086
        times[$c]+="$(run1 "$c" ${cmd[$name1]}) "
      done
    done
    line="$name1:"
    nat=$(echo ${times[native]} | tr ' ' '\n' | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    for c in "${configs[@]}"; do
      med=$(echo ${times[$c]} | tr ' ' '\n' | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
      line+=$(printf '  %s %.3fs (%.2fx)' "$c" "$med" "$(echo "$med / $nat" | bc -l)")
    done
    echo "$line"
    unset times
  done
done
