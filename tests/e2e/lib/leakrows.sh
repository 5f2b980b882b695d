# leakrows.sh — sourced by tests/e2e/leak_cases.sh and endings.sh: a
# program's own leak records as table rows "kind blocks bytes site
# function", from heapscope's trace, heapscope's JSON report and
# valgrind's XML report, with the same rule on every side (see the header
# of leak_cases.sh: a record counts when its innermost frame is in the
# program, or in libc/libstdc++ called directly from the program).

# mawk has neither strtonum nor a 64-bit %x: both by hand (a double holds
# a 48-bit address exactly).
AWK_HEX='function hex(s,  i, v) { v = 0; s = tolower(s)
  for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
  return v }
function tohex(v,  s, d) { s = ""
  do { d = v % 16; s = substr("0123456789abcdef", d + 1, 1) s; v = (v - d) / 16 } while (v > 0)
  return s }
function lib(path) { return path ~ /\/libc\.so|\/libstdc\+\+\.so/ }
'
KIND_WORDS='BEGIN { word["D"] = "definite"; word["I"] = "indirect"
                    word["P"] = "possible"; word["R"] = "reachable" }'

# hs_owned TRACE EXE: one line "kind blocks bytes fileaddr" per B record
# (live blocks grouped by kind and allocation stack) that is the
# program's own (fileaddr: the call's address in the executable file, for
# addr2line); stray records go to stderr as "other ...".
hs_owned() {
  awk -v exe="$2" "$AWK_HEX$KIND_WORDS"'
    $1 == "M" { n++; bias[n] = hex($3); lo[n] = hex($4); hi[n] = hex($5); path[n] = $7 }
    $1 == "S" { ips[$2] = $0 }
    $1 == "B" {
      if (!($3 in ips)) { print "other " $2 " " $5 " (stack " $3 " not recorded)" > "/dev/stderr"; next }
      k = split(ips[$3], f, " ")
      first = -1
      for (i = 4; i <= k && i <= 5; i++) {
        ip = hex(f[i]); m = 0
        for (j = 1; j <= n; j++) if (ip >= lo[j] && ip < hi[j]) m = j
        mod[i] = m ? path[m] : "?"
        if (m && path[m] == exe) { first = i - 4; addr = ip - 1 - bias[m]; break }
      }
      if (first == 0 || (first == 1 && lib(mod[4])))
        print word[$2], $4, $5, tohex(addr)
      else
        print "other " $2 " " $5 " innermost in " mod[4] > "/dev/stderr"
    }' "$1"
}

# symbolize EXE: "kind blocks bytes addr" lines in, "kind blocks bytes
# file:line function" out
symbolize() {
  local exe=$1 lines
  lines=$(cat)
  [ -n "$lines" ] || return 0
  local addrs; addrs=$(echo "$lines" | awk '{print "0x" $4}')
  # addr2line -f prints function then file:line for each address
  paste -d' ' <(echo "$lines" | awk '{print $1, $2, $3}') \
              <(addr2line -f -C -e "$exe" $addrs | paste -d'\t' - - |
                awk -F'\t' '{ n = split($2, p, "/"); loc = p[n]; sub(/ \(discriminator.*/, "", loc)
                              gsub(/ /, "", $1); print loc, $1 }')
}

# table lines: "kind blocks bytes site function", sorted
aggregate() {
  awk '{ key = $1 " " $4 " " $5; b[key] += $2; s[key] += $3 }
       END { for (k in b) { split(k, p, " "); print p[1], b[k], s[k], p[2], p[3] } }' | sort
}

# vg_owned XML EXE: the same table from valgrind's XML report
vg_owned() {
  awk -v exe="$2" "$AWK_HEX"'
    function tag(t,  s) { s = $0; sub(".*<" t ">", "", s); sub("</" t ">.*", "", s); return s }
    /<error>/ { kind = ""; nf = 0; direct = -1 }
    /<kind>/ { kind = tag("kind") }
    /<text>/ { t = tag("text"); if (t ~ /direct, /) { sub(/^[^(]*\(/, "", t); sub(/ direct.*/, "", t); gsub(/,/, "", t); direct = t } }
    /<leakedbytes>/ { bytes = tag("leakedbytes") }
    /<leakedblocks>/ { blocks = tag("leakedblocks") }
    /<frame>/ { nf++; obj[nf] = ""; fn[nf] = ""; file[nf] = ""; line[nf] = "" }
    /<obj>/ { obj[nf] = tag("obj") }
    /<fn>/ { fn[nf] = tag("fn") }
    /<file>/ { file[nf] = tag("file") }
    /<line>/ { line[nf] = tag("line") }
    /<\/error>/ {
      if (kind !~ /^Leak_/) next
      k = 0
      for (i = 1; i <= nf; i++) if (obj[i] !~ /vgpreload_/) { k++; o[k] = obj[i]; g[k] = fn[i]; fl[k] = file[i]; ln[k] = line[i] }
      w = kind == "Leak_DefinitelyLost" ? "definite" : kind == "Leak_IndirectlyLost" ? "indirect" : \
          kind == "Leak_PossiblyLost" ? "possible" : "reachable"
      if (direct >= 0) bytes = direct
      if (o[1] == exe) at = 1; else if (o[2] == exe && lib(o[1])) at = 2; else at = 0
      gsub(/ /, "", g[at])
      if (at) print w, blocks, bytes, fl[at] ":" ln[at], g[at]
      else print "other " w " " bytes " innermost in " o[1] > "/dev/stderr"
    }' "$1" |
  awk '{ key = $1 " " $4 " " $5; b[key] += $2; s[key] += $3 }
       END { for (k in b) { split(k, p, " "); print p[1], b[k], s[k], p[2], p[3] } }' | sort
}

# json_owned JSON EXE: the same table from heapscope's JSON report (the
# analyzer's reading of the same trace), same rule.
json_owned() {
  python3 - "$1" "$2" <<'PY'
import json, os, re, sys
report, exe = json.load(open(sys.argv[1])), sys.argv[2]
lib = re.compile(r'/libc\.so|/libstdc\+\+\.so')
word = {"definitely_lost": "definite", "indirectly_lost": "indirect",
        "possibly_lost": "possible", "still_reachable": "reachable"}
rows = {}
for rec in report.get("leaks", []):
    st = [f for f in rec["stack"] if not f.get("inlined")]
    mod = [os.path.realpath(f.get("module") or "?") for f in st]
    at = 0 if mod[:1] == [exe] else 1 if mod[1:2] == [exe] and lib.search(mod[0]) else None
    if at is None:
        continue
    f = st[at]
    key = (word[rec["kind"]], "%s:%s" % (os.path.basename(f["file"]), f["line"]),
           f["function"].replace(" ", ""))
    b = rows.setdefault(key, [0, 0])
    b[0] += rec["blocks"]; b[1] += rec["bytes"]
for (k, site, fn), (n, size) in sorted(rows.items()):
    print(k, n, size, site, fn)
PY
}

