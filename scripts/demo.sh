#!/usr/bin/env bash
# The demo: flowprobe_like (the flowprobe-like C exporter) exports over UDP to a real
# collector, nfdump's nfcapd, for a few seconds, also writing a pcap and an RFC 5655
# IPFIX file of what it sent. Then three IPFIX decoders we did not write read it back:
# nfcapd/nfdump (the UDP export), tshark (the pcap) and libfixbuf's ipfixDump (the IPFIX
# file). The summary puts what the exporter says it sent next to what each one decoded.
#
#   scripts/demo.sh BIN THREADS SECONDS RATE DIR
#
# BIN is flowprobe_like; each of THREADS workers exports for SECONDS at RATE records per
# second; DIR receives this run's files (emptied first). Exits 1 when a decoder is
# missing or the decoders disagree with the exporter.
set -euo pipefail

bin=$1 threads=$2 seconds=$3 rate=$4 dir=$5

run_dir=$dir/run          # everything this run writes, kept for a look afterwards
flow_dir=$run_dir/nfcapd  # nfcapd's files only: nfdump -R reads every file in it
pcap=$run_dir/flowprobe_like.pcap
ipfix=$run_dir/flowprobe_like.ipfix
report=$run_dir/flowprobe_like.txt
nfcapd_log=$run_dir/nfcapd.log
nfcapd_pid=
port=

# Tool -> the Debian package that has it.
declare -A package=([nfcapd]=nfdump [nfdump]=nfdump [tshark]=tshark
  [ipfixDump]=libfixbuf-tools)

have() { command -v "$1" >/dev/null 2>&1; }

# A count that is there ("-": the tool did not run) and not 0.
nonzero() { [ "$1" != "-" ] && [ "$1" != 0 ]; }

# Says which decoder cannot run, and why, once.
missing() {
  echo "  $1 is not installed (Debian package ${package[$1]}): run scripts/setup-debian.sh"
}

# key=value from the first line of $report starting with $1.
field() {
  awk -v prefix="$1" -v key="$2" '
    index($0, prefix) == 1 {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) { print kv[2]; exit } }
    }' "$report"
}

# The line of /proc/net/udp for the socket bound to 127.0.0.1:$1 (the kernel's view of
# nfcapd's socket: receive queue and drops), empty when nothing listens there.
udp_socket() {
  awk -v want="$(printf '0100007F:%04X' "$1")" '$2 == want' /proc/net/udp
}

# Starts nfcapd on a free port of 127.0.0.1. A port is free when no UDP socket holds it;
# another program may still take it first, so a few are tried. -B asks for a large
# socket buffer (the kernel caps it at net.core.rmem_max): a receive queue that
# overflows loses datagrams before nfcapd sees them.
start_nfcapd() {
  local try
  for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    [ -z "$(udp_socket "$port")" ] || continue
    nfcapd -w "$flow_dir" -b 127.0.0.1 -4 -p "$port" -B 4000000 >"$nfcapd_log" 2>&1 &
    nfcapd_pid=$!
    local waited
    for waited in $(seq 50); do
      if ! kill -0 "$nfcapd_pid" 2>/dev/null; then
        break # could not bind: try another port
      fi
      if [ -n "$(udp_socket "$port")" ]; then
        return 0
      fi
      sleep 0.1
    done
    stop_nfcapd
  done
  echo "demo: nfcapd did not start listening; its log:" >&2
  cat "$nfcapd_log" >&2
  exit 1
}

# Waits (at most 10 s) until nfcapd has read every datagram the kernel queued for it.
wait_drained() {
  local waited queue
  for waited in $(seq 100); do
    queue=$(udp_socket "$port" | awk '{ split($5, q, ":"); print q[2] }')
    [ "$queue" != "00000000" ] || return 0
    sleep 0.1
  done
  echo "demo: nfcapd still has datagrams queued after 10 s" >&2
}

# Stops nfcapd with SIGTERM, the way that makes it write its file, and waits for it;
# SIGKILL after 10 s. Runs on every exit (trap), so nfcapd never outlives the demo.
stop_nfcapd() {
  [ -n "$nfcapd_pid" ] || return 0
  kill -TERM "$nfcapd_pid" 2>/dev/null || true
  local waited
  for waited in $(seq 100); do
    kill -0 "$nfcapd_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$nfcapd_pid" 2>/dev/null; then
    echo "demo: nfcapd did not stop on SIGTERM; killed" >&2
    kill -KILL "$nfcapd_pid" 2>/dev/null || true
  fi
  wait "$nfcapd_pid" 2>/dev/null || true
  nfcapd_pid=
}
trap stop_nfcapd EXIT
trap 'exit 130' INT TERM

# Splits an RFC 5655 IPFIX file (messages back to back, each with its length and
# observation domain in its header) into FILE.domainN, one per domain; prints the
# domains. ipfixDump keeps one template per template ID for a whole file, while
# template IDs belong to a domain (RFC 7011 section 3.4.1): our domains 1 and 2 both
# use 256, so read as one file, ipfixDump would skip the records of one of them. Perl
# is part of every Debian system (perl-base is essential).
split_by_domain() {
  perl -e '
    open(my $in, "<:raw", $ARGV[0]) or die "$ARGV[0]: $!\n";
    my %out;
    while (read($in, my $head, 16) == 16) {
      my ($version, $length, $time, $sequence, $domain) = unpack("nnNNN", $head);
      die "not an IPFIX message\n" if $version != 10 || $length < 16;
      read($in, my $rest, $length - 16) == $length - 16 or die "truncated message\n";
      if (!$out{$domain}) {
        open($out{$domain}, ">:raw", "$ARGV[0].domain$domain") or die "$!\n";
      }
      print { $out{$domain} } $head, $rest;
    }
    print join(" ", sort { $a <=> $b } keys %out), "\n";' "$1"
}

rm -rf "$run_dir"
mkdir -p "$flow_dir"
status=0

echo "== flowprobe_like: $threads worker threads for $seconds s at $rate records/s each, over UDP"
if have nfcapd; then
  start_nfcapd
  echo "   to nfcapd on 127.0.0.1:$port (files in $flow_dir)"
else
  # No collector: the export still runs (into the pcap and IPFIX file); the kernel
  # refuses the datagrams and flowprobe_like counts them as dropped.
  port=$((20000 + RANDOM % 40000))
  missing nfcapd
  status=1
fi
"$bin" --threads "$threads" --seconds "$seconds" --rate "$rate" --udp "$port" \
  --pcap "$pcap" --ipfix-file "$ipfix" | tee "$report"

sent_records=$(field sent: records)
nfdump_flows=- nfdump_seq=- tshark_records=- tshark_packets=- tshark_bad=-
ipfixdump_records=- ipfixdump_warnings=- kernel_drops=-

if [ -n "$nfcapd_pid" ]; then
  wait_drained
  # The kernel's count of datagrams it dropped at nfcapd's socket (last column).
  kernel_drops=$(udp_socket "$port" | awk '{ print $NF }')
  stop_nfcapd
  if have nfdump; then
    stats=$(nfdump -R "$flow_dir" -I)
    nfdump_flows=$(awk '/^Flows:/ { print $2 }' <<<"$stats")
    nfdump_seq=$(awk '/^Sequence failures:/ { print $3 }' <<<"$stats")
  fi
fi

if have tshark; then
  # The collector's port is not IPFIX's 4739: tell tshark to decode it as IPFIX.
  decode=(-n -r "$pcap" -d "udp.port==$port,cflow")
  read -r tshark_packets tshark_records < <(tshark "${decode[@]}" -T fields \
    -e cflow.inputint 2>/dev/null |
    awk -F'\t' '{ packets++; if ($1 != "") records += split($1, v, ",") }
                END { print packets + 0, records + 0 }')
  tshark_bad=$(tshark "${decode[@]}" -Y '_ws.malformed || _ws.expert.severity >= "error"' \
    2>/dev/null | wc -l)
fi

if have ipfixDump; then
  ipfixdump_records=0 ipfixdump_warnings=0
  for domain in $(split_by_domain "$ipfix"); do
    out=$(ipfixDump --in "$ipfix.domain$domain" --stats 2>"$ipfix.domain$domain.stderr")
    n=$(sed -n 's/.*File Stats: [0-9]* Messages, \([0-9]*\) Data Records.*/\1/p' <<<"$out")
    ipfixdump_records=$((ipfixdump_records + n))
    w=$(grep -c . "$ipfix.domain$domain.stderr" || true)
    ipfixdump_warnings=$((ipfixdump_warnings + w))
  done
fi

echo
echo "== sent, by flowprobe_like's counters"
printf '  %-22s %s\n' \
  "records:" "$sent_records ($(field sent: records_per_second) records/s)" \
  "packets:" "$(field sent: packets) data + $(field sent: templates) templates = $(field udp: sent_datagrams) datagrams" \
  "bytes:" "$(field sent: bytes) (the packets, IP and UDP headers included)" \
  "dropped:" "$(field udp: dropped_packets) datagrams, $(field udp: dropped_records) records"
echo
echo "== decoded"
printf '  %-22s %s\n' \
  "nfcapd + nfdump:" "$nfdump_flows flows; kernel drops at nfcapd's socket: $kernel_drops; sequence failures: $nfdump_seq" \
  "tshark (pcap):" "$tshark_records records in $tshark_packets packets; malformed or errors: $tshark_bad" \
  "ipfixDump (file):" "$ipfixdump_records data records; warnings: $ipfixdump_warnings"
have nfdump || missing nfdump
have tshark || missing tshark
have ipfixDump || missing ipfixDump
# Decoders that could run; the first is nfcapd and nfdump together.
ran=0
if have nfcapd && have nfdump; then ran=$((ran + 1)); fi
if have tshark; then ran=$((ran + 1)); fi
if have ipfixDump; then ran=$((ran + 1)); fi
if nonzero "$nfdump_seq" || nonzero "$ipfixdump_warnings"; then
  # Every worker takes its packets' sequence numbers from its stream's one counter as it
  # finishes them, and sends its datagrams in batches: two workers' messages of a
  # stream reach nfcapd interleaved, and reach the file in the order they were finished,
  # not quite in sequence-number order. The collectors count each jump; the totals
  # above say whether anything was lost.
  echo "  (sequence failures, 'out of sequence' warnings: the $threads workers share each"
  echo "   stream's sequence numbers and send in batches, so messages arrive out of order)"
fi
if [ "$nfdump_flows" != "-" ]; then
  echo
  echo "== two of the flows, as nfdump shows them"
  nfdump -R "$flow_dir" -q -c 2 -o "fmt:%sa:%sp -> %da:%dp %pr packets %pkt bytes %byt in %in out %out"
fi

# Records exported: what the pcap and the file hold. Those the kernel did not take are
# missing from nfcapd's count only.
exported=$((sent_records + $(field udp: dropped_records)))
echo
if [ "$ran" -lt 3 ]; then
  echo "verdict: only $ran of the 3 decoders could run; install the missing packages"
  status=1
elif [ "$nfdump_flows" = "$exported" ] && [ "$tshark_records" = "$exported" ] &&
  [ "$ipfixdump_records" = "$exported" ] && [ "$tshark_bad" = 0 ]; then
  echo "verdict: all 3 decoders saw $exported of $exported records"
else
  echo "verdict: the decoders differ from the $exported records exported:" \
    "nfdump $nfdump_flows (of $sent_records delivered), tshark $tshark_records" \
    "(malformed $tshark_bad), ipfixDump $ipfixdump_records"
  status=1
fi
exit "$status"
