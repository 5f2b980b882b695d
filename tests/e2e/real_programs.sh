#!/usr/bin/env bash
# Real programs on heapscope's allocator: each workload runs natively, then
# under LD_PRELOAD=build/libheapscope.so, in the same (fresh) directory, and
# stdout and exit status must match byte for byte. A hang fails through
# `timeout`. A clean program that makes the shim report a heap error
# ("invalid free", "double free", ..., on stderr or as an `E` line in any
# of its traces) fails too: that is a false positive. The shim runs with
# its default settings, heap checks (canaries, quarantine) included.
#   REAL_ONLY=name,name   run only these cases
#   HEAPSCOPE_LIB=path    preload another allocator (to check this script)
set -u
cd "$(dirname "$0")/../.."
lib=${HEAPSCOPE_LIB:-$PWD/build/libheapscope.so}
[ -f "$lib" ] || { echo "real_programs.sh: $lib not built"; exit 1; }
# A preload that fails to load is only a warning from ld.so: make sure it
# really is in the process, or every comparison below passes vacuously.
HEAPSCOPE_RECORD=0 LD_PRELOAD=$lib grep -qF "$lib" /proc/self/maps ||
  { echo "real_programs.sh: $lib does not load with LD_PRELOAD"; exit 1; }
TMO=${REAL_TIMEOUT:-60}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)

work=$(mktemp -d "${TMPDIR:-/tmp}/hs-real.XXXXXX")
trap 'rm -rf "$work"' EXIT
in=$work/input; mkdir -p "$in" "$work/traces"
fail=0; failed=()

# Deterministic environment for both runs: no user config, fixed locale,
# fixed hash seed, fixed dates for git.
export LC_ALL=C TZ=UTC PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 HOME=$work/home
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=Ada GIT_AUTHOR_EMAIL=ada@example.org
export GIT_COMMITTER_NAME=Ada GIT_COMMITTER_EMAIL=ada@example.org
export GIT_AUTHOR_DATE='2020-01-02T03:04:05Z' GIT_COMMITTER_DATE='2020-01-02T03:04:05Z'
mkdir -p "$HOME"

want() {   # case name -> run it?
  [ -z "${REAL_ONLY:-}" ] && return 0
  [[ ",$REAL_ONLY," == *",$1,"* ]]
}

# case NAME PROGRAM SCRIPT: SCRIPT runs with bash in an empty directory
# ($PWD), with $IN (inputs) and $PY set.
case_() {
  local name=$1 prog=$2 script=$3
  want "$name" || return 0
  if ! command -v "$prog" >/dev/null; then
    echo "FAIL $name: $prog not installed (scripts/deps.sh test installs it)"
    fail=1; failed+=("$name"); return
  fi
  local d=$work/run r
  for mode in native shim; do
    rm -rf "$d"; mkdir -p "$d"
    if [ $mode = native ]; then
      (cd "$d" && IN=$in PY=$PY timeout -k 5 "$TMO" bash -c "$script") \
        >"$work/$name.$mode.out" 2>"$work/$name.$mode.err"
    else
      (cd "$d" && IN=$in PY=$PY LD_PRELOAD=$lib HEAPSCOPE_OUT="$work/traces/$name.%p.trace" \
         timeout -k 5 "$TMO" bash -c "$script") \
        >"$work/$name.$mode.out" 2>"$work/$name.$mode.err"
    fi
    echo $? >"$work/$name.$mode.rc"
  done
  local rn rs; rn=$(cat "$work/$name.native.rc"); rs=$(cat "$work/$name.shim.rc")
  local why=""
  [ "$rn" = 0 ] || why="native run exited $rn (the test itself is broken)"
  [ -z "$why" ] && [ "$rs" = 124 ] && why="hung under the shim (timeout ${TMO}s)"
  [ -z "$why" ] && [ "$rn" != "$rs" ] && why="exit status $rn natively, $rs under the shim"
  [ -z "$why" ] && ! cmp -s "$work/$name.native.out" "$work/$name.shim.out" && why="stdout differs"
  [ -z "$why" ] && grep -qE 'heapscope: (invalid free|double free|realloc freed|mismatched free|heap overflow|write after free)' \
    "$work/$name.shim.err" && why="the shim reported a heap error in a clean program"
  # errors found at exit may miss a stderr the program closed: the traces
  # (every process of the case, children included) hold them all
  [ -z "$why" ] && grep -q '^E ' "$work/traces/$name".*.trace 2>/dev/null &&
    why="heap error in the trace of a clean program: $(grep -h '^E ' "$work/traces/$name".*.trace | head -n 2)"
  [ -z "$why" ] && [ ! -s "$work/$name.native.out" ] && why="no output (the test itself is broken)"
  if [ -z "$why" ]; then
    echo "ok   $name ($(wc -c <"$work/$name.native.out") bytes of stdout identical)"
  else
    echo "FAIL $name: $why"
    diff "$work/$name.native.out" "$work/$name.shim.out" | head -n 15 | sed 's/^/  diff: /'
    tail -n 8 "$work/$name.shim.err" | sed 's/^/  shim stderr: /'
    [ "$rn" = 0 ] || tail -n 8 "$work/$name.native.err" | sed 's/^/  native stderr: /'
    fail=1; failed+=("$name")
  fi
}

# ---- inputs, made once, natively ------------------------------------------
awk 'BEGIN { srand(7); for (i = 0; i < 80000; i++)
  printf "%08d %s line-%d %.3f\n", int(rand()*1e8), substr("kqzjxwvmbnlcpdfghrtsyeuioa", 1+int(rand()*26), 1+int(rand()*20)), i, rand()*1000 }' \
  >"$in/lines.txt"                               # ~3 MB
{
  echo '#include <stddef.h>'
  for i in $(seq 1 60); do
    echo "struct s$i { int a; long b[$((i % 7 + 1))]; const char *name; };"
    echo "static int helper$i(int x) { int r = x; for (int k = 0; k < $i; k++) r = r * 31 + k; return r ^ $i; }"
    echo "long api$i(struct s$i *p, int n) { long t = 0; for (int k = 0; k < n; k++) t += p->b[k % $((i % 7 + 1))] + helper$i(k); return t + (p->name ? p->name[0] : 0); }"
  done
} >"$in/gen.c"

# ---- the workloads ----------------------------------------------------------
case_ python_work "$PY" '
cat >w.py <<"EOF"
import json, re, random, hashlib, collections
rnd = random.Random(12345)
letters = "abcdefghijklmnopqrstuvwxyz"
words = ["".join(rnd.choice(letters) for _ in range(rnd.randint(3, 12))) for _ in range(30000)]
counts = collections.Counter(words)
print("distinct", len(counts), "top", counts.most_common(3))
index = {}
for i, w in enumerate(words):
    index.setdefault(w[:2], []).append(i)
print("prefixes", len(index), sum(len(v) for v in index.values()))
doc = {"items": [{"id": i, "name": w, "tags": [w[:2], w[-2:]], "score": i * 0.5}
                 for i, w in enumerate(words[:15000])]}
s = json.dumps(doc, sort_keys=True)
assert json.loads(s) == doc
print("json", len(s), hashlib.sha256(s.encode()).hexdigest())
pat = re.compile(r"^([aeiou])[a-z]*?(ing|ed|er|ly)?$")
m = [w for w in words if pat.match(w)]
print("re", len(m), sorted(m)[:5], len(re.findall(r"[xyz]{2}", " ".join(words))))
big = [(i * 7919) % 1000003 for i in range(1000000)]   # 8 MB array grown by realloc
big.sort()
print("sorted", big[:3], big[-3:], sum(big[::1000]))
srt = sorted(words, key=lambda w: (len(w), w[::-1]))
print("sort", srt[:3], srt[-3:])
blob = b"".join(w.encode() for w in words) * 4
print("blob", len(blob), hashlib.md5(blob).hexdigest())
EOF
"$PY" w.py'

case_ python_threads "$PY" '
cat >t.py <<"EOF"
import threading, hashlib
results = [None] * 6
def work(k):
    d = {}
    for i in range(40000):
        key = "k%d-%d" % (k, i)
        d[key] = [i, key * 3, str(i * k)]
    parts = sorted(d)[::997]
    h = hashlib.sha1("".join(parts).encode()).hexdigest()
    results[k] = (k, len(d), h)
ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
for t in ts: t.start()
for t in ts: t.join()
for r in results: print(*r)
EOF
"$PY" t.py'

case_ python_multiprocessing "$PY" '
cat >m.py <<"EOF"
import multiprocessing as mp
def f(n):
    d = {i: str(i) * (i % 17) for i in range(n)}
    return n, sum(len(v) for v in d.values())
if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Pool(3) as pool:
        out = pool.map(f, [1000 * k for k in range(1, 25)], chunksize=2)
    for n, total in out: print(n, total)
    p = mp.Process(target=f, args=(5000,)); p.start(); p.join(); print("exit", p.exitcode)
EOF
"$PY" m.py'

case_ perl perl '
perl -e '"'"'
  my %h; srand(3);
  for my $i (0 .. 19999) { $h{sprintf("key%05d-%x", $i, $i * 7919)} = [$i, "v" x ($i % 50)]; }
  my @k = sort { $h{$a}[0] % 97 <=> $h{$b}[0] % 97 or $a cmp $b } keys %h;
  print scalar(@k), " $k[0] $k[-1]\n";
  my $n = grep { /^key0*(\d*[13579])-[0-9a-f]*f$/ } @k; print "odd-f $n\n";
  my $text = join(" ", map { "$_=$h{$_}[0]" } @k[0 .. 4999]);
  (my $t2 = $text) =~ s/key(\d+)/K<$1>/g; print length($t2), "\n";
  my %inv; push @{ $inv{ length $h{$_}[1] } }, $_ for keys %h;
  print join(",", map { scalar @{ $inv{$_} } } sort { $a <=> $b } keys %inv), "\n";
  delete $h{$_} for @k[0 .. 9999]; print scalar(keys %h), "\n";
'"'"''

case_ sqlite3 sqlite3 '
sqlite3 db.sqlite <<"EOF"
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO t SELECT x, x % 37, printf("name-%06d-%s", x, hex(x * 2654435761 % 4294967296)), (x * 7919 % 10007) / 3.0 FROM c;
CREATE INDEX t_grp ON t(grp, val);
SELECT count(*), sum(grp), printf("%.3f", avg(val)), min(name), max(name) FROM t;
SELECT grp, count(*), printf("%.2f", sum(val)) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT name FROM t WHERE val > 3000 ORDER BY val DESC, id LIMIT 3;
SELECT count(DISTINCT substr(name, 13)) FROM t;
DELETE FROM t WHERE id % 3 = 0; VACUUM;
SELECT count(*), total(val) > 0 FROM t;
EOF'

case_ git git '
git init -q -b main repo && cd repo
for i in $(seq 1 40); do printf "line %d\n" $(seq 1 $((i * 20))) >"f$((i % 7)).txt"; done
git add . && git commit -q -m "first"
git checkout -q -b side
sed -i "s/line 1\$/LINE ONE/" f1.txt && git commit -q -am "side change"
git checkout -q main
printf "more\n" >>f2.txt && git commit -q -am "main change"
git merge -q --no-edit side
git log --format="%H %an %ad %s" --date=iso
git log --stat --format=%s main~1..main
git diff --stat HEAD~2 HEAD
git gc -q --aggressive && git count-objects -v | grep -E "^(count|in-pack|packs)"
git fsck --no-progress --strict && echo fsck-ok'

case_ sort sort '
sort "$IN/lines.txt" | md5sum
sort -n -k4 -S 1M -T . "$IN/lines.txt" | md5sum
sort --parallel=2 -S 8M -u -k2,2 "$IN/lines.txt" | md5sum
sort -r -t" " -k3,3V "$IN/lines.txt" | head -n 3'

case_ gzip gzip '
gzip -c "$IN/lines.txt" >l.gz
md5sum <l.gz
gunzip -c l.gz | md5sum
md5sum <"$IN/lines.txt"
gzip -t l.gz && echo gzip-test-ok'

case_ make make '
cat >Makefile <<"EOF"
PARTS := $(foreach i,1 2 3 4 5 6 7 8,part$(i).txt)
all: summary.txt
	@cat summary.txt
part%.txt: seed.txt
	@awk -v k=$* "{ for (i = 0; i < k; i++) print \$$0, i }" seed.txt > $@
seed.txt:
	@seq 1 500 > $@
summary.txt: $(PARTS)
	@wc -l $(sort $(PARTS)) > $@
	@$(foreach p,$(PARTS),md5sum < $(p) >> $@;)
clean:
	@rm -f $(PARTS) seed.txt summary.txt
.PHONY: all clean
EOF
make -j2 -s && make -s && echo rebuild-none && make -s clean && ls'

case_ gcc gcc '
cp "$IN/gen.c" gen.c
gcc -O2 -g -c gen.c -o gen.o
nm gen.o | md5sum
objdump -d gen.o | tail -n +3 | md5sum
gcc -O0 -c -Wall gen.c -o gen0.o 2>&1 | head -n 5; nm gen0.o | wc -l'

if [ "$fail" != 0 ]; then
  echo "real_programs: FAILED: ${failed[*]}"
  exit 1
fi
echo "real_programs: all identical"
