#!/usr/bin/env bash
# Runs flowprobe_like (the flowprobe-like C exporter) and shows what it sent next to what
# tshark, an IPFIX decoder we did not write, reads back from its pcap.
set -euo pipefail
bin=$1 threads=$2 records=$3 pcap=$4
mkdir -p "$(dirname "$pcap")"

echo "== flowprobe_like: $threads worker threads, $records records each, pcap $pcap"
"$bin" --threads "$threads" --records "$records" --pcap "$pcap"

if ! command -v tshark >/dev/null 2>&1; then
  echo "tshark is not installed: run scripts/setup-debian.sh to see the decoded side" >&2
  exit 1
fi
echo
echo "== what tshark decodes from $pcap"
tshark -n -r "$pcap" -d udp.port==4739,cflow -T fields \
  -e cflow.od_id -e cflow.template_id -e cflow.flowset_id -e cflow.inputint 2>/dev/null |
  awk -F'\t' '
    { packets++
      if ($2 != "") templates++
      n = split($4, v, ","); if ($4 == "") n = 0
      records += n; per_domain[$1] += n }
    END {
      printf "packets: %d (template packets: %d)\n", packets, templates
      printf "data records: %d\n", records
      for (d in per_domain) printf "  observation domain %s: %d records\n", d, per_domain[d]
    }'
bad=$(tshark -n -r "$pcap" -d udp.port==4739,cflow \
  -Y '_ws.malformed || _ws.expert.severity >= "error"' 2>/dev/null | wc -l)
echo "malformed or erroneous packets according to tshark: $bad"
echo
echo "first data packet, as tshark dissects it:"
{ tshark -n -r "$pcap" -d udp.port==4739,cflow -Y 'cflow.flowset_id >= 256' -O cflow 2>/dev/null || true; } |
  awk '/^Cisco NetFlow/ { p = 1 } /^ +Flow 2$/ { exit } p && !/^ +\.\.\.\./'
