# Turns the benchmark lines into the table of docs/performance.md (benches/run.sh).
# Input, tab-separated:
#   instr <case> <records> <packets> <instructions>       (callgrind, measured loop only)
#   time  <case> <records> <packets> <ns/record> <packets/s>
#   pair  <udp case> <udp-bare case> <median ratio of packets/s, runs in turn>
# A case is kind/mtuN/ip/threads[/work], e.g. ours-get/mtu1450/ip4csum/2t-sep.

function kind(c) { split(c, p, "/"); return p[1] }
function rest(c) { return substr(c, length(kind(c)) + 2) }
function field(c, i) { split(c, p, "/"); return p[i] }
function fmt(x, d) { return x == "" ? "-" : sprintf("%." d "f", x) }
function ratio(a, b, d) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%." d "f", a / b) }
function has(c) { return (c in ns) || (c in ipr) }
function baseline(c,    k) {
  k = kind(c)
  if (k ~ /^ours-get/) return "plainc-get/" rest(c)
  if (k ~ /^(ours-append|ours-reserve|ours-batch|rust-)/) return "plainc-append/" rest(c)
  return ""
}
function floor_of(c,    t) {
  t = field(c, 4)
  if (t ~ /^2t/) t = "2t-sep"
  return "floor/" field(c, 2) "/ip4/" t
}
function verdict(ok) { return ok ? "**met**" : "**not met**" }

$1 == "pair" { pair[$2] = $4 }
$1 == "instr" && $3 > 0 { ipr[$2] = $5 / $3; if (!($2 in order)) { order[$2] = ++n; names[n] = $2 } }
$1 == "time" && $3 > 0 {
  ns[$2] = $5; pps[$2] = $6; rpp[$2] = $4 > 0 ? $3 / $4 : 0
  if (!($2 in order)) { order[$2] = ++n; names[n] = $2 }
}

END {
  print "| case | instr/record | ns/record | packets/s | instr ÷ plain C | ns ÷ plain C | ns ÷ floor |"
  print "|---|---:|---:|---:|---:|---:|---:|"
  for (i = 1; i <= n; i++) {
    c = names[i]; b = baseline(c); f = floor_of(c)
    printf "| %s | %s | %s | %s | %s | %s | %s |\n", c, fmt(ipr[c], 1), fmt(ns[c], 2),
      (c in pps) ? sprintf("%.0f", pps[c]) : "-",
      b != "" ? ratio(ipr[c], ipr[b], 2) : "-", b != "" ? ratio(ns[c], ns[b], 2) : "-",
      kind(c) ~ /^(ours|rust|plainc)/ ? ratio(ns[c], ns[f], 2) : "-"
  }

  print ""
  print "Targets (issue 4):"
  print ""
  # 1. The C-ABI get path against plain C, every single-thread configuration.
  for (g = 1; g <= 2; g++) {
  gk = g == 1 ? "ours-get" : "ours-get-inline"
  worst_i = 0; worst_n = 0; list = ""
  for (i = 1; i <= n; i++) {
    c = names[i]
    if (kind(c) != gk || field(c, 4) != "1t" || field(c, 5) != "") continue
    b = baseline(c)
    if (!has(b)) continue
    ri = (c in ipr && b in ipr) ? ipr[c] / ipr[b] : 0
    rn = (c in ns && b in ns) ? ns[c] / ns[b] : 0
    if (ri > worst_i) worst_i = ri
    if (rn > worst_n) worst_n = rn
    list = list sprintf(" %s %s/%s;", rest(c), fmt(ri, 2), fmt(rn, 2))
  }
  if (list == "") continue
  printf "- C-ABI get path%s ≤ 1.0x plain C (instr/ns): worst %sx / %sx: %s (%s)\n",
    g == 1 ? "" : " (inline get)", fmt(worst_i, 2), fmt(worst_n, 2),
    verdict(worst_i <= 1.0 && worst_n <= 1.0), list
  }
  # 2. Record-append / batch path at MTU 1450.
  for (k = 1; k <= 5; k++) {
    split("ours-batch rust-dp-batch rust-dp-append ours-append rust-append", ks, " ")
    c = ks[k] "/mtu1450/ip4/1t"
    if (!has(c)) continue
    fl = floor_of(c)
    printf "- %s ≤ 35 instr/record, ≤ 1.5x floor ns: %s instr, %sx floor: %s\n", c,
      fmt(ipr[c], 1), ratio(ns[c], ns[fl], 2),
      verdict((c in ipr) && ipr[c] <= 35 && (c in ns) && (fl in ns) && ns[c] <= 1.5 * ns[fl])
  }
  # 3. UDP checksum: extra instructions per byte of packet.
  for (m = 1; m <= 2; m++) {
    mtu = m == 1 ? "mtu1450" : "mtu512"
    on = "ours-get/" mtu "/ip4csum/1t"; off = "ours-get/" mtu "/ip4/1t"
    if (!((on in ipr) && (off in ipr) && (off in rpp) && rpp[off] > 0)) continue
    bytes = 48 + 56 * rpp[off]
    per_byte = (ipr[on] - ipr[off]) * rpp[off] / bytes
    printf "- UDP checksum on, %s: %s extra instr per byte of a %d-byte packet (≤ 0.5): %s\n",
      mtu, fmt(per_byte, 3), bytes, verdict(per_byte <= 0.5)
  }
  # 4. Two threads.
  split("ours-get plainc-get ours-append rust-append", ks, " ")
  for (k = 1; k <= 4; k++) {
    for (m = 1; m <= 2; m++) {
      mtu = m == 1 ? "mtu1450" : "mtu512"
      one = ks[k] "/" mtu "/ip4/1t"; sep = ks[k] "/" mtu "/ip4/2t-sep"
      shr = ks[k] "/" mtu "/ip4/2t-shared"
      if (!((one in ns) && (sep in ns))) continue
      s_sep = ns[one] / ns[sep]
      line = sprintf("- 2 threads, %s/%s: separate streams %sx (≥ 1.9): %s", ks[k], mtu,
        fmt(s_sep, 2), verdict(s_sep >= 1.9))
      if (shr in ns) {
        # ns/record is wall time over both threads' records: a thread spends twice
        # that per record of its own.
        extra = 2 * (ns[shr] - ns[sep]) * rpp[sep]
        line = line sprintf("; one shared stream %sx, %s ns more per packet", \
          fmt(ns[one] / ns[shr], 2), fmt(extra, 0))
      }
      print line
    }
  }
  one = "ours-get/mtu1450/ip4/1t/work"; sep = "ours-get/mtu1450/ip4/2t-sep/work"
  shr = "ours-get/mtu1450/ip4/2t-shared/work"
  if ((one in ns) && (sep in ns) && (shr in ns))
    printf "- 2 threads with ~20 ns of other work per record (a forwarding worker): separate streams %sx, shared stream %sx\n",
      fmt(ns[one] / ns[sep], 2), fmt(ns[one] / ns[shr], 2)
  adj = "ours-get/mtu1450/ip4/2t-sep-adjacent"; one = "ours-get/mtu1450/ip4/1t"
  if ((adj in ns) && (one in ns))
    printf "- 2 threads on streams side by side in the stream table (one cache line): %sx\n",
      fmt(ns[one] / ns[adj], 2)
  # 5. Allocations: a test, not a benchmark.
  print "- 0 heap allocations per packet in steady state: `cargo test --test steady_state_allocations` (tests/steady_state_allocations.rs)"
  # 6. libfixbuf.
  for (m = 1; m <= 2; m++) {
    mtu = m == 1 ? "mtu1450" : "mtu512"
    fx = "libfixbuf/" mtu "/ip4/1t"
    if (!(fx in ipr)) continue
    line = sprintf("- libfixbuf ÷ ours ≥ 30x fewer instructions, %s (libfixbuf %s instr/record):", mtu, fmt(ipr[fx], 0))
    split("ours-get ours-append ours-batch rust-dp-append rust-dp-batch", ks, " ")
    for (k = 1; k <= 5; k++) {
      c = ks[k] "/" mtu "/ip4/1t"
      if (c in ipr)
        line = line sprintf(" %s %sx %s;", ks[k], ratio(ipr[fx], ipr[c], 1), ipr[fx] / ipr[c] >= 30 ? "met" : "not met")
    }
    print line
  }
  # 7. UDP over loopback against bare sendmmsg.
  bare = "udp-bare/mtu1450/ip4/1t"
  split("udp-ours udp-ours-batch", ks, " ")
  for (k = 1; k <= 2; k++) {
    c = ks[k] "/mtu1450/ip4/1t"
    if (c in pair)
      printf "- %s ≥ 90%% of bare sendmmsg packets/s (median of paired runs): %.0f%%: %s\n",
        ks[k], 100 * pair[c], verdict(pair[c] >= 0.9)
    else if ((c in pps) && (bare in pps) && pps[bare] > 0)
      printf "- %s ≥ 90%% of bare sendmmsg packets/s: %.0f / %.0f = %.0f%%: %s\n", ks[k],
        pps[c], pps[bare], 100 * pps[c] / pps[bare], verdict(pps[c] >= 0.9 * pps[bare])
  }
}
