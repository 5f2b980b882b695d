#!/usr/bin/env bash
# Threads under heapscope (tests/progs/thread_end.c): a thread's teardown
# (its cache back to the bins, its quarantine verified) runs however it
# ends, without taking a pthread key, and without a frame or a block of
# heapscope's showing in the program's report.
#   - keys: the program gets as many pthread keys as natively;
#   - churn: 200 rounds of threads ending by return, pthread_exit,
#     cancellation, detached, thrd_create: the heap stays within 16 MiB
#     (with teardown missing it grows past 150 MiB: cached slots stranded);
#   - waf: a write after free in a thread is found when the thread ends;
#   - live: threads blocked at exit; the leak report holds the thread's
#     leak with its stack (worker, start_thread, clone), no frame in
#     libheapscope.so and no record of glibc's TLS destructor list.
set -u
cd "$(dirname "$0")/../.."
prog=build/tests/progs/thread_end
lib=${HEAPSCOPE_LIB:-$PWD/build/libheapscope.so}
hs=build/heapscope
[ -x "$prog" ] || { echo "threads.sh: $prog not built"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL threads: $*"; fail=1; }
ok() { echo "ok   threads: $*"; }

native=$("$prog" keys)
for checks in 1 0; do
  got=$(env LD_PRELOAD="$lib" HEAPSCOPE_CHECKS=$checks HEAPSCOPE_OUT="$tmp/k.%p" "$prog" keys)
  [ "$got" = "$native" ] && ok "pthread keys (checks=$checks): $got, as natively" ||
    bad "pthread keys (checks=$checks): '$got' under heapscope, '$native' natively"
done

for checks in 1 0; do
  out=$(env LD_PRELOAD="$lib" HEAPSCOPE_CHECKS=$checks HEAPSCOPE_OUT="$tmp/c$checks.%p" \
        timeout 60 "$prog" churn 200 2>"$tmp/churn.err"); rc=$?
  mib=${out#arena_mib }
  if [ "$rc" != 0 ] || ! [ "$mib" -le 16 ] 2>/dev/null; then
    bad "churn (checks=$checks): exit $rc, '$out' (want arena_mib <= 16) $(head -c 200 "$tmp/churn.err")"
  else
    ok "churn, 1000 threads ended five ways (checks=$checks): heap arena $mib MiB"
  fi
  grep -h '^E ' "$tmp"/c$checks.* 2>/dev/null | head -n 1 | grep -q . &&
    bad "churn (checks=$checks): heap error $(grep -h '^E ' "$tmp"/c$checks.* | head -n 1)"
done

env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/waf.%p" timeout 30 "$prog" waf 2>/dev/null
if grep -q '^E write_after_free ' "$tmp"/waf.*; then
  ok "a write after free in a thread is reported when the thread ends"
else
  bad "waf: no write_after_free in the trace ($(grep -h '^[EX] ' "$tmp"/waf.* | head -n 2))"
fi

if [ -x "$hs" ]; then
  (cd "$tmp" && timeout 60 "$OLDPWD/$hs" run --leak-kinds=all --json live.json -o live.%p \
     "$OLDPWD/$prog" live >live.out 2>&1)
  python3 - "$tmp/live.json" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
bad = []
d = [l for l in r["leaks"] if l["kind"] == "definitely_lost"]
if len(d) != 1 or d[0]["bytes"] != 333:
    bad.append(f"definitely lost: {[(l['bytes'], l['blocks']) for l in d]}, want one of 333 bytes")
else:
    names = [f["function"] for f in d[0]["stack"]]
    if names[:2] != ["leaky_worker", "start_thread"]:
        bad.append(f"the thread's leak stack is {names}")
for l in r["leaks"]:
    for f in l["stack"]:
        if "libheapscope" in (f["module"] or "") or f["function"] == "__cxa_thread_atexit_impl":
            bad.append(f"a frame of heapscope's own in a {l['kind']} stack: {f['function']} ({f['module']})")
for b in bad:
    print("FAIL threads: live:", b)
if not bad:
    print("ok   threads: threads alive at exit: one leak of 333 bytes at leaky_worker <- start_thread, "
          "no heapscope frame or record in", len(r["leaks"]), "loss records")
sys.exit(1 if bad else 0)
PY
fi
exit $fail
