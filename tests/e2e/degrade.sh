#!/usr/bin/env bash
# When heapscope cannot record, the program must not notice: same output,
# same exit status, one line on stderr, never a crash. And the files it
# writes are never turned against the user.
#   - the trace's disk fills up mid-run (a tiny tmpfs; skipped where mount
#     is not allowed)
#   - the trace cannot be created at all (no such directory: the same path
#     as EMFILE or EACCES)
#   - a symlink is planted where the trace will go: refused, not followed
#   - a set-user-ID program: the loader ignores LD_PRELOAD, so no trace
set -u
cd "$(dirname "$0")/../.."
lib=$PWD/build/libheapscope.so
tmp=$(mktemp -d); mnt=""
cleanup() { [ -n "$mnt" ] && umount "$mnt" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
sql='create table t(a,b); with recursive c(x) as (select 1 union all select x+1 from c where x<20000) insert into t select x, hex(randomblob(20)) from c; select count(*), sum(x) from t, (select 1 as x);'
want=$(sqlite3 :memory: "$sql")

# 1. disk full
mkdir -p "$tmp/tiny"
if mount -t tmpfs -o size=48k tmpfs "$tmp/tiny" 2>/dev/null; then
  mnt=$tmp/tiny
  head -c 40000 /dev/zero > "$mnt/fill"
  got=$(HEAPSCOPE_OUT="$mnt/t.trace" LD_PRELOAD="$lib" sqlite3 :memory: "$sql" 2>"$tmp/err1"); rc=$?
  [ "$rc" = 0 ] || bad "disk full: exit status $rc"
  [ "$got" = "$want" ] || bad "disk full: output differs"
  n=$(grep -c 'writing the trace failed' "$tmp/err1")
  [ "$n" = 1 ] || bad "disk full: expected one notice on stderr, got $n: $(head -c 300 "$tmp/err1")"
  echo "ok   disk full: program unaffected, one notice"
else
  echo "SKIP disk full: cannot mount a tmpfs here"
fi

# 2. the trace cannot be created
got=$(HEAPSCOPE_OUT="$tmp/no/such/dir/t.trace" LD_PRELOAD="$lib" sqlite3 :memory: "$sql" 2>"$tmp/err2"); rc=$?
[ "$rc" = 0 ] && [ "$got" = "$want" ] || bad "uncreatable trace: status $rc or output differs"
n=$(grep -c 'cannot create trace file' "$tmp/err2")
[ "$n" = 1 ] || bad "uncreatable trace: expected one notice, got $n: $(head -c 300 "$tmp/err2")"
echo "ok   uncreatable trace: program unaffected, one notice"

# 3. a planted symlink is refused and its target untouched
echo "precious" > "$tmp/victim"
ln -s "$tmp/victim" "$tmp/link.trace"
got=$(HEAPSCOPE_OUT="$tmp/link.trace" LD_PRELOAD="$lib" sqlite3 :memory: "$sql" 2>"$tmp/err3"); rc=$?
[ "$rc" = 0 ] && [ "$got" = "$want" ] || bad "symlink: status $rc or output differs"
[ "$(cat "$tmp/victim")" = "precious" ] || bad "symlink: the target was written"
grep -q 'already exists' "$tmp/err3" || bad "symlink: no notice: $(head -c 300 "$tmp/err3")"
echo "ok   planted symlink refused, target untouched"

# 4. set-user-ID: the loader ignores LD_PRELOAD for an unprivileged user
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
  cp /usr/bin/true "$tmp/suid_true" && chmod 4755 "$tmp/suid_true"
  chmod 755 "$tmp"; chmod 1777 "$tmp" 2>/dev/null
  out=$(cd "$tmp" && setpriv --reuid=65534 --regid=65534 --clear-groups \
        env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/suid.%p.trace" "$tmp/suid_true" 2>&1); rc=$?
  [ "$rc" = 0 ] || bad "setuid: exit status $rc: $out"
  ls "$tmp"/suid.*.trace >/dev/null 2>&1 && bad "setuid: a trace was written"
  echo "ok   set-user-ID program: no preload, no trace"
else
  echo "SKIP set-user-ID: needs root and setpriv"
fi
exit $fail
