#!/usr/bin/env python3
"""Inputs for bench/run.sh's real-program workloads, generated on demand so
that nothing large is committed. Deterministic: the same size always gives
the same bytes.

usage: gen.py KIND SIZE OUT
  sqlite3  SIZE rows inserted in one transaction, an index, a self-join
  cc1      about SIZE lines of C: structs, loops, switches, calls that the
           optimiser inlines and unrolls
  python3  a dict/list churn script (SIZE is passed to it at run time)
"""
import sys


def sqlite3(n):
    out = ["create table t(a integer primary key, b text, c real);", "begin;"]
    out += ["insert into t(b,c) values('row%d-%s', %d.5);" % (i, "x" * (i % 50), i)
            for i in range(n)]
    out += ["commit;", "create index tb on t(b);",
            "select count(*), sum(length(t.b)) from t join t as u on t.a = u.a where t.c > 10;",
            "create table g as select a % 97 as k, group_concat(b) as v from t group by k;",
            "select k, length(v) from g order by length(v) desc limit 3;",
            "update t set b = b || '-' || c where a % 3 = 0;",
            "select count(*) from t as x join t as y on x.b = y.b where x.a < 5000;",
            "delete from t where a % 5 = 0;",
            "select count(*), max(length(b)) from t;"]
    return "\n".join(out) + "\n"


def cc1(lines):
    """Many small functions: parsing, types and calls dominate, as in real
    code, rather than the optimiser's loop passes."""
    out = ["struct rec%d { int a, b; long c; char name[16]; };" % k for k in range(8)]
    out += ["long f%d(void *p, int n);" % i for i in range(lines // 9 + 1)]
    fn = 0
    while len(out) < lines:
        k = fn % 8
        call = ("f%d(p, n - 1)" % (fn % 8)) if fn >= 8 else "n"
        out += [
            "long f%d(void *p, int n)" % fn, "{",
            "\tstruct rec%d *r = p;" % k,
            "\tlong s = r->a * %d + (r->b << %d) - r->c;" % (fn % 13 + 1, fn % 7),
            "\tif (n > %d && r->name[%d] != 'x')" % (fn % 5, fn % 16),
            "\t\ts += %s;" % call,
            "\treturn s ^ %d;" % fn,
            "}", ""]
        fn += 1
    return "\n".join(out) + "\n"


def python3(_n):
    return '''import sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
d, keep = {}, []
for i in range(n):
    k = "k%d" % (i % 5000)
    d[k] = [i, str(i) * (i % 7), {"a": i, "b": (i, i + 1)}]
    if i % 3 == 0:
        d.pop("k%d" % ((i * 7) % 5000), None)
    if i % 50 == 0:
        keep.append(" ".join(sorted(d)[:20]))
        if len(keep) > 200:
            keep = keep[100:]
print(len(d), sum(len(v[1]) for v in d.values()), len(keep))
'''


def main():
    kind, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    text = {"sqlite3": sqlite3, "cc1": cc1, "python3": python3}[kind](size)
    with open(out, "w") as f:
        f.write(text)


main()
