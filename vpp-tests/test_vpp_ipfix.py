#!/usr/bin/env python3
"""vpp-ipfix inside a real VPP: what VPP's own IPFIX tests do not check.

Run by VPP's test framework from our repository (EXTERN_TESTS=<repo>/vpp-tests,
TEST=test_vpp_ipfix; scripts/test-vpp.sh does it). Every test decodes the
collector's capture itself (IPFIXMessage below, RFC 7011 section 3) and checks
exact numbers.

flowprobe is the exporter's only in-tree caller that produces data. It builds
its data packets itself (src/plugins/flowprobe/node.c, flowprobe_export_send):
they never pass through our core, and it advances the stream's sequence number
by one per packet, without an atomic. The core sends flowprobe's templates,
from the main thread, with the stream's current sequence number.
"""

import re
import socket
import struct
import time
import unittest

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.error import Scapy_Exception
from scapy.packet import Raw
from scapy.utils import rdpcap

from asfframework import VppTestRunner
from framework import VppTestCase
from vpp_papi import VppEnum
from vpp_papi_exceptions import CliFailedCommandError

IPFIX_PORT = 4739
FLOWPROBE_DOMAIN = 1
# flowprobe's IPv4 L3+L4 template, (element, length): 6 common, 4 L3 and 3 L4
# fields, 56 bytes a record.
FLOWPROBE_IP4_L3L4_FIELDS = [
    (10, 4),
    (14, 4),
    (61, 1),
    (2, 8),
    (156, 8),
    (157, 8),
    (8, 4),
    (12, 4),
    (4, 1),
    (1, 8),
    (7, 2),
    (11, 2),
    (6, 2),
]
FLOWPROBE_IP4_L3L4_RECORD = 56
# IPv4 + UDP + IPFIX message header + set header (flowprobe_get_headersize).
FLOWPROBE_HEADERS = 20 + 8 + 16 + 4
# flowprobe's template set: set and template headers and 13 field specifiers.
FLOWPROBE_TEMPLATE_SET = 4 + 4 + 13 * 4
EXPORTER_STATS = (
    "packets",
    "records",
    "bytes",
    "templates",
    "alloc-failures",
    "dropped-packets",
    "dropped-records",
)


class IPFIXMessage:
    """One IPFIX message as captured on the collector's interface."""

    def __init__(self, pkt):
        ip = pkt[IP] if IP in pkt else pkt[IPv6]
        self.time = float(pkt.time)
        self.af = 4 if IP in pkt else 6
        self.src, self.dst = ip.src, ip.dst
        self.sport, self.dport = pkt[UDP].sport, pkt[UDP].dport
        self.udp_checksum = pkt[UDP].chksum
        self.pkt = pkt
        raw = bytes(pkt[UDP].payload)
        version, length, self.export_time, self.seq, self.domain = struct.unpack(
            "!HHIII", raw[:16]
        )
        if version != 10 or length != len(raw):
            raise ValueError("version %d length %d of %d" % (version, length, len(raw)))
        # templates: {id: [(element, length)]}; data: [(set id, bytes)]
        self.templates, self.data = {}, []
        at = 16
        while at < length:
            set_id, set_len = struct.unpack("!HH", raw[at : at + 4])
            if set_len < 4 or at + set_len > length:
                raise ValueError("set %d length %d at %d" % (set_id, set_len, at))
            body = raw[at + 4 : at + set_len]
            if set_id == 2:
                self._templates(body)
            elif set_id >= 256:
                self.data.append((set_id, body))
            else:
                raise ValueError("unexpected set id %d" % set_id)
            at += set_len

    def _templates(self, body):
        at = 0
        while len(body) - at >= 4:
            tid, count = struct.unpack("!HH", body[at : at + 4])
            at += 4
            fields = []
            for _ in range(count):
                ie, size = struct.unpack("!HH", body[at : at + 4])
                at += 4
                if ie & 0x8000:
                    at += 4  # enterprise number
                fields.append((ie, size))
            self.templates[tid] = fields

    @property
    def session(self):
        """Transport session and observation domain: one sequence space."""
        return (self.af, self.src, self.dst, self.sport, self.dport, self.domain)

    @property
    def is_template(self):
        return bool(self.templates)


class IPFIXTestCase(VppTestCase):
    """What every class below shares: interfaces, flowprobe, capture decoding"""

    # Flows go pg1 -> pg2, flowprobe watches pg2's output; pg0 and pg3 are
    # collectors.
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.create_pg_interfaces(range(4))
            for i in cls.pg_interfaces:
                i.admin_up()
                i.config_ip4()
                # Static neighbours: no ARP in the captures.
                i.configure_ipv4_neighbors()
            cls.pg0.config_ip6()
            cls.pg0.disable_ipv6_ra()
            cls.vapi.ip_neighbor_add_del(
                cls.pg0.sw_if_index, cls.pg0.remote_mac, cls.pg0.remote_ip6
            )
            # Active timer 0: one record per packet, no flow state.
            flags = VppEnum.vl_api_flowprobe_record_flags_t
            cls.vapi.flowprobe_set_params(
                record_flags=flags.FLOWPROBE_RECORD_FLAG_L3
                | flags.FLOWPROBE_RECORD_FLAG_L4,
                active_timer=0,
                passive_timer=0,
            )
        except Exception:
            super().tearDownClass()
            raise

    def tearDown(self):
        if getattr(self, "_flowprobe_on", False):
            self.flowprobe(False)
        super().tearDown()

    # --- configuration ----------------------------------------------------

    def set_exporter(self, collector=None, src=None, extra=""):
        collector = collector or self.pg0.remote_ip4
        src = src or self.pg0.local_ip4
        # A failing CLI raises CliFailedCommandError.
        return self.vapi.cli(
            "set ipfix exporter collector %s src %s %s" % (collector, src, extra)
        )

    def flowprobe(self, enable):
        """flowprobe on pg2's IPv4 output: adds (or deletes) its report"""
        self.vapi.flowprobe_interface_add_del(
            is_add=enable,
            which=VppEnum.vl_api_flowprobe_which_t.FLOWPROBE_WHICH_IP4,
            direction=VppEnum.vl_api_flowprobe_direction_t.FLOWPROBE_DIRECTION_TX,
            sw_if_index=self.pg2.sw_if_index,
        )
        self._flowprobe_on = enable

    def show_exporter(self):
        """`show ipfix exporter`, as {index: {name: value}} (and the idle line)"""
        out = self.vapi.cli("show ipfix exporter")
        exporters, cur = {}, None
        for line in out.splitlines():
            m = re.match(r"exporter (\d+):", line)
            if m:
                cur = exporters.setdefault(int(m.group(1)), {"text": ""})
                continue
            if cur is None:
                continue
            cur["text"] += line + "\n"
            for name, value in re.findall(
                r"(packets|records|bytes|templates|reports|streams|"
                r"dropped packets|dropped records|allocation failures) (\d+)",
                line,
            ):
                cur[name] = int(value)
        return exporters, out

    # --- traffic ----------------------------------------------------------

    def flow_packets(self, sports, count, size=100):
        """`count` UDP packets for each source port: one flow each"""
        pkts = []
        for sport in sports:
            for _ in range(count):
                p = (
                    Ether(src=self.pg1.remote_mac, dst=self.pg1.local_mac)
                    / IP(src=self.pg1.remote_ip4, dst=self.pg2.remote_ip4)
                    / UDP(sport=sport, dport=2000)
                    / Raw(b"\x5a" * size)
                )
                pkts.append(p)
        return pkts

    def send(self, pkts_per_worker):
        """Runs one pg stream on each worker (or on main without workers)"""
        for worker, pkts in pkts_per_worker.items():
            self.pg1.add_stream(pkts, worker=worker)
        self.pg_start(trace=False)

    # --- the collector's side ---------------------------------------------

    def messages(self, intf=None, dport=None):
        """The IPFIX messages captured on `intf` so far, in capture order"""
        intf = intf or self.pg0
        # Not there yet, or VPP is writing it (a header or record cut short):
        # the caller polls again.
        try:
            pkts = rdpcap(intf.out_path)
        except (OSError, EOFError, Scapy_Exception):
            return []
        msgs = []
        for p in pkts:
            if UDP not in p or (dport and p[UDP].dport != dport):
                continue
            if dport is None and p[UDP].dport not in (IPFIX_PORT, 4740):
                continue
            msgs.append(IPFIXMessage(p))
        return msgs

    def wait_messages(self, until, timeout=5, intf=None, dport=None, what=""):
        """Polls the capture until `until(messages)` holds; the messages"""
        deadline = time.time() + timeout
        while True:
            msgs = self.messages(intf, dport)
            if until(msgs):
                return msgs
            if time.time() > deadline:
                self.fail(
                    "timeout (%ss) waiting for %s; captured %d messages: %s"
                    % (timeout, what, len(msgs), describe(msgs))
                )
            time.sleep(0.1)

    def records(self, msgs):
        """Decodes every data set with the templates seen before it in the
        same session; fails on a data set whose template came later or never"""
        known, out = {}, []
        for m in msgs:
            for tid, fields in m.templates.items():
                known[(m.session, tid)] = fields
            for set_id, body in m.data:
                fields = known.get((m.session, set_id))
                self.assertIsNotNone(
                    fields,
                    "data set %d (seq %d) before any template of its id"
                    % (set_id, m.seq),
                )
                size = sum(f[1] for f in fields)
                self.assertEqual(len(body) % size, 0, "padding in a data set")
                for at in range(0, len(body), size):
                    rec, pos = {}, at
                    for ie, flen in fields:
                        rec[ie] = int.from_bytes(body[pos : pos + flen], "big")
                        pos += flen
                    out.append((m, rec))
        return out

    def check_flowprobe_records(self, recs, flows, per_flow):
        """Exactly `per_flow` one-packet records of each flow (source port)"""
        seen = {}
        for _, r in recs:
            self.assertEqual(r[10], self.pg1.sw_if_index)  # ingressInterface
            self.assertEqual(r[14], self.pg2.sw_if_index)  # egressInterface
            self.assertEqual(r[8], ip4_int(self.pg1.remote_ip4))
            self.assertEqual(r[12], ip4_int(self.pg2.remote_ip4))
            self.assertEqual(r[4], socket.IPPROTO_UDP)
            self.assertEqual(r[2], 1)  # packetDeltaCount: active timer 0
            self.assertEqual(r[11], 2000)
            seen[r[7]] = seen.get(r[7], 0) + 1
        self.assertEqual(seen, {sport: per_flow for sport in flows})


def ip4_int(addr):
    return struct.unpack("!I", socket.inet_aton(addr))[0]


def describe(msgs):
    return [("T" if m.is_template else "D", m.dport, m.seq, len(m.data)) for m in msgs][
        -30:
    ]


def data_msgs(msgs):
    return [m for m in msgs if m.data]


def template_msgs(msgs):
    return [m for m in msgs if m.is_template]


class ThreadTests:
    """flowprobe exporting from every worker at once (test classes below)"""

    flows_per_worker = 3
    packets_per_flow = 5

    def test_sequence_numbers_across_workers(self):
        """every record accounted; data and template sequence numbers

        The promise, for the one stream flowprobe exports (domain 1, port
        4739) from a fresh report (sequence 0), with D the data packets the
        collector receives in that stream:

        * With one exporting thread (this class's traffic on one worker):
          the i-th data packet carries i (the number of data packets sent
          before it in the stream: flowprobe's count, one per packet), and
          a template sent while no data is on its way carries len(D):
          templates show the stream's count and do not advance it.
        * With several workers exporting at once, flowprobe's unlocked
          `stream->sequence_number++` can race: flowprobe's flush callback
          (run by our flow-report-process) interrupts every worker, which
          all send their buffers at the same moment, and full buffers go
          out from each worker's datapath. A race gives two packets the
          same number and loses an increment. What still holds, and is all
          that is asserted then: the numbers received form the contiguous
          range 0..max (each number written is one read plus one), max < |D|
          (equal to |D| - 1 exactly when nothing raced: then the numbers are
          0..|D|-1, each once), each worker's own numbers increase, and
          every template carries a value of that range (or max + 1).
        """
        n_workers = max(1, self.vpp_worker_count)
        self.pg_enable_capture([self.pg0])
        # MTU 300: four 56-byte records a packet (flowprobe sends when the
        # next record and a template set would pass the MTU), so each worker
        # sends full packets from its datapath and the rest on the flush.
        self.set_exporter(extra="path-mtu 300 template-interval 2")
        self.flowprobe(True)
        self.vapi.ipfix_flush()
        msgs = self.wait_messages(template_msgs, what="the first template")

        flows = {
            w: [10000 + 100 * w + f for f in range(self.flows_per_worker)]
            for w in range(n_workers)
        }
        per_worker = self.flows_per_worker * self.packets_per_flow
        self.send(
            {w: self.flow_packets(sp, self.packets_per_flow) for w, sp in flows.items()}
        )
        self.vapi.ipfix_flush()
        total = n_workers * per_worker
        msgs = self.wait_messages(
            lambda ms: sum(len(b) for m in ms for _, b in m.data)
            >= total * FLOWPROBE_IP4_L3L4_RECORD,
            what="%d records" % total,
        )
        n_data = len(data_msgs(msgs))
        # A template sent after the last data packet, once nothing is in
        # flight (the template interval is 2 s).
        msgs = self.wait_messages(
            lambda ms: len(ms) > 0 and ms[-1].is_template and len(data_msgs(ms)) > 0,
            timeout=5,
            what="a template after the data",
        )

        self.assertTrue(all(m.session == msgs[0].session for m in msgs))
        self.assertEqual(msgs[0].domain, FLOWPROBE_DOMAIN)
        recs = self.records(msgs)  # also: templates before data
        self.check_flowprobe_records(
            recs, [s for sp in flows.values() for s in sp], self.packets_per_flow
        )
        data = data_msgs(msgs)
        self.assertEqual(len(data), n_data)
        # Records per packet: full ones hold 4, flushed ones the rest.
        per_packet = (300 - FLOWPROBE_HEADERS - FLOWPROBE_TEMPLATE_SET) // 56 + 1
        self.assertEqual(per_packet, 4)
        self.assertEqual(len(data), n_workers * -(-per_worker // per_packet))

        seqs = [m.seq for m in data]
        top = max(seqs)
        self.assertEqual(sorted(set(seqs)), list(range(top + 1)), seqs)
        self.assertLessEqual(top + 1, len(data))
        raced = len(data) - (top + 1)
        self.logger.info("data sequence numbers %s: %d raced" % (seqs, raced))
        # Each worker's packets hold its own flows only; their numbers grow.
        sports_of = {}
        for m, r in recs:
            sports_of.setdefault(id(m), set()).add(r[7])
        for w, sports in flows.items():
            mine = [m.seq for m in data if sports_of[id(m)] <= set(sports)]
            self.assertEqual(mine, sorted(set(mine)), "worker %d: %s" % (w, mine))
        self.assertEqual(
            sum(
                len([m for m in data if sports_of[id(m)] <= set(sp)])
                for sp in flows.values()
            ),
            len(data),
            "a data packet with records of two workers",
        )
        tseqs = [t.seq for t in template_msgs(msgs)]
        self.assertEqual(tseqs[0], 0)
        for t in tseqs:
            self.assertLessEqual(t, top + 1)
        if n_workers == 1 or raced == 0:
            self.assertEqual(sorted(seqs), list(range(len(data))))
            # The template sent last, with nothing in flight: the count.
            self.assertEqual(tseqs[-1], len(data))
        if n_workers == 1:
            # One writer: data numbered in order, and the templates (all
            # from the main thread, captured in the order sent) never go
            # back. A template sent while a data packet was on its way may
            # count it or not, so only the quiescent ones are exact.
            self.assertEqual(seqs, list(range(len(data))))
            self.assertEqual(tseqs, sorted(tseqs))

    def test_report_delete(self):
        """deleting flowprobe's report frees it; VPP exports again after"""
        self.set_exporter(extra="path-mtu 512 template-interval 20")
        before = self.show_exporter()[0][0]
        free = []
        # Three rounds of enable, export, disable: the first warms up (pg's
        # and the threads' buffer caches); then every round must leave the
        # same buffers free, and each re-enabled report exports from 0.
        for n in range(3):
            self.pg_enable_capture([self.pg0])
            self.flowprobe(True)
            self.vapi.ipfix_flush()
            self.wait_messages(template_msgs, what="templates, round %d" % n)
            exps, out = self.show_exporter()
            self.assertEqual((exps[0]["reports"], exps[0]["streams"]), (1, 1), out)
            self.send({0: self.flow_packets([3000 + n, 3100 + n], 3)})
            self.vapi.ipfix_flush()
            msgs = self.wait_messages(
                lambda ms: len(data_msgs(ms)) >= 1, what="data, round %d" % n
            )
            self.check_flowprobe_records(self.records(msgs), [3000 + n, 3100 + n], 3)
            self.assertEqual([m.seq for m in msgs], [0] * len(msgs))

            self.flowprobe(False)
            exps, out = self.show_exporter()
            self.assertEqual((exps[0]["reports"], exps[0]["streams"]), (0, 0), out)
            for k in ("dropped packets", "dropped records", "allocation failures"):
                self.assertEqual(exps[0][k], before[k], k)
            time.sleep(0.2)
            buffers = self.vapi.cli("show buffers")
            self.logger.info("round %d:\n%s" % (n, buffers))
            free.append(free_buffers(buffers))
        self.assertEqual(free[1:], [free[1]] * 2, free)


def free_buffers(show_buffers):
    """Buffers not in use, from `show buffers` (available + cached)"""
    free = 0
    for line in show_buffers.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 9 and cols[1].isdigit():
            free += int(cols[-3]) + int(cols[-2])
    return free


class TestIPFIXTwoWorkers(ThreadTests, IPFIXTestCase):
    """vpp-ipfix with flowprobe on two workers"""

    # Three VPP threads need three cores: the framework skips this class
    # on smaller machines, where TestIPFIXOneWorker runs the same tests.
    vpp_worker_count = 2


class TestIPFIXOneWorker(ThreadTests, IPFIXTestCase):
    """vpp-ipfix with flowprobe on one worker"""

    vpp_worker_count = 1


class TestIPFIXExporter(IPFIXTestCase):
    """vpp-ipfix's exporter: templates, flush, CLI, API, stats, IPv6"""

    vpp_worker_count = 0

    def send_and_flush(self, sports, count, flush=None):
        self.send({0: self.flow_packets(sports, count)})
        (flush or self.vapi.ipfix_flush)()

    def test_template_interval_and_reset(self):
        """templates first, every interval, and at once after a change"""
        self.pg_enable_capture([self.pg0, self.pg3])
        self.set_exporter(extra="template-interval 2")
        self.flowprobe(True)
        self.vapi.ipfix_flush()
        t0 = time.time()
        msgs = self.wait_messages(template_msgs, what="the first template")
        self.assertLess(time.time() - t0, 1.0)
        first = template_msgs(msgs)[0]
        self.assertEqual(first.seq, 0)
        self.assertEqual(list(first.templates.values())[0], ip4_l3l4_template())

        # Two data packets (seq 0 and 1), then the refreshes: every 2 s,
        # carrying the data packets' count, 2.
        for i in range(2):
            self.send_and_flush([4000 + i], 2)
            self.wait_messages(
                lambda ms: len(data_msgs(ms)) == i + 1, what="data %d" % i
            )
        msgs = self.wait_messages(
            lambda ms: len(template_msgs(ms)) >= 4, timeout=8, what="3 refreshes"
        )
        self.assertEqual([m.seq for m in data_msgs(msgs)], [0, 1])
        self.records(msgs)  # templates before data
        times = [m.time for m in template_msgs(msgs)]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.logger.info("template gaps %s" % gaps)
        for gap in gaps:
            self.assertAlmostEqual(gap, 2.0, delta=0.4)
        for m in template_msgs(msgs)[1:]:
            self.assertEqual(m.seq, 2)

        # Each of port, source and collector: a change resets the stream
        # (sequence 0) and sends the templates at once, though the interval
        # is now 30 s.
        changes = [
            ("port", self.pg0.remote_ip4, self.pg0.local_ip4, "port 4740", self.pg0),
            ("src", self.pg0.remote_ip4, self.pg3.local_ip4, "port 4740", self.pg0),
            ("collector", self.pg3.remote_ip4, self.pg3.local_ip4, "", self.pg3),
        ]
        for what, collector, src, extra, intf in changes:
            self.send_and_flush([4100], 1)
            self.pg_enable_capture([self.pg0, self.pg3])
            t0 = time.time()
            self.set_exporter(collector, src, extra + " template-interval 30")
            msgs = self.wait_messages(
                template_msgs, timeout=2, intf=intf, what="templates after " + what
            )
            self.assertLess(time.time() - t0, 1.5, what)
            m = template_msgs(msgs)[0]
            self.assertEqual((m.seq, m.dst, m.src), (0, collector, src), what)
            self.assertEqual(m.dport, 4740 if extra else IPFIX_PORT, what)
            self.send_and_flush([4200], 1)
            msgs = self.wait_messages(
                lambda ms: len(data_msgs(ms)) >= 1, intf=intf, what="data " + what
            )
            self.assertEqual([m.seq for m in data_msgs(msgs)], [0], what)
            self.records(msgs)
        # Nothing went to the old collector after the change.
        self.assertEqual(self.messages(self.pg0), [])

    def test_flush(self):
        """`ipfix flush` (CLI and API) sends the waiting data at once"""
        self.pg_enable_capture([self.pg0])
        # Interval 20: the process wakes every 5 s by itself.
        self.set_exporter(extra="template-interval 20")
        self.flowprobe(True)
        self.vapi.ipfix_flush()
        first = self.wait_messages(template_msgs, what="templates")
        for n, flush in enumerate(
            [lambda: self.vapi.cli("ipfix flush"), self.vapi.ipfix_flush]
        ):
            self.pg_enable_capture([self.pg0])
            # A flush runs a cycle now and the next is 5 s away: data
            # captured before that is the flush's.
            self.vapi.ipfix_flush()
            self.send({0: self.flow_packets([5000 + n, 5100 + n], 3)})
            time.sleep(0.5)
            self.assertEqual(data_msgs(self.messages()), [])
            t0 = time.time()
            flush()
            msgs = self.wait_messages(
                lambda ms: len(data_msgs(ms)) == 1, timeout=2, what="data"
            )
            self.assertLess(time.time() - t0, 1.5)
            self.check_flowprobe_records(
                self.records(first + msgs), [5000 + n, 5100 + n], 3
            )

    def test_core_data_path_and_idle_flush(self):
        """the core's own data path in VPP: sequence numbers, idle flush"""
        # `test ipfix records` writes records through vnet_ipfix_exp_get_buffer
        # and vnet_ipfix_exp_send_buffer, as an out-of-tree plugin does (no
        # in-tree caller uses them). Its stream: domain 42, source port 4740.
        self.pg_enable_capture([self.pg0])
        self.set_exporter(extra="path-mtu 512 template-interval 30 idle-flush 0.5")
        try:
            start = time.time()
            self.vapi.cli("test ipfix records 10 first 1000")

            def ours(msgs):
                return [m for m in msgs if m.domain == 42 and m.sport == 4740]

            # The template goes ahead of the first data; the 10 records wait
            # in the main thread's packet until the idle flush sends them.
            msgs = ours(
                self.wait_messages(
                    lambda ms: any(m.data for m in ours(ms)), what="idle flush"
                )
            )
            data = [m for m in msgs if m.data]
            self.assertTrue(msgs[0].is_template, describe(msgs))
            self.assertEqual([m.seq for m in msgs], [0, 0])
            waited = data[0].time - start
            self.assertGreater(waited, 0.3, "sent at once, not by the idle flush")
            self.assertLess(waited, 3.0)
            recs = self.records(msgs)
            self.assertEqual(
                [(r[8], r[1]) for _, r in recs],
                [(1000 + i, 1000 + i) for i in range(10)],
            )

            # 100 more: full packets at the MTU go at once, the rest idles.
            # Each data message's sequence number counts the records before it.
            self.vapi.cli("test ipfix records 100 first 2000")
            msgs = ours(
                self.wait_messages(
                    lambda ms: len(self.records(ours(ms))) == 110,
                    what="110 records",
                )
            )
            count = 0
            for m in msgs:
                self.assertEqual(m.seq, count, describe(msgs))
                count += sum(len(body) // 12 for _, body in m.data)
                self.assertLessEqual(len(bytes(m.pkt[IP])), 512)
            self.assertEqual(count, 110)
            values = [r[8] for _, r in self.records(msgs)]
            self.assertEqual(values[10:], list(range(2000, 2100)))
            exps, _ = self.show_exporter()
            self.assertEqual(exps[0]["records"], 110)
        finally:
            self.vapi.cli("test ipfix records delete")
            # The tests after this one expect VPP's default age.
            self.vapi.cli("set ipfix idle-flush 1")
        exps, _ = self.show_exporter()
        self.assertEqual(exps[0]["reports"], 0)

    def test_idle_flush_cli(self):
        """`set ipfix idle-flush`, its exporter option and `show`"""

        def idle_line():
            return self.show_exporter()[1].strip().splitlines()[-1]

        def idle_age():
            m = re.fullmatch(r"idle flush after (\d+) ms|idle flush off", idle_line())
            self.assertIsNotNone(m, idle_line())
            return int(m.group(1)) / 1000 if m.group(1) else 0

        self.assertEqual(idle_age(), 1.0)  # the default
        self.vapi.cli("set ipfix idle-flush 0.2")
        self.assertEqual(idle_age(), 0.2)
        self.vapi.cli("set ipfix idle-flush off")
        self.assertEqual(idle_line(), "idle flush off")
        self.set_exporter(extra="idle-flush 0.5")
        self.assertEqual(idle_age(), 0.5)
        self.set_exporter(extra="idle-flush off")
        self.assertEqual(idle_line(), "idle flush off")
        self.set_exporter(extra="idle-flush 2.25")
        self.assertEqual(idle_age(), 2.25)
        with self.assertRaisesRegex(CliFailedCommandError, "expected <seconds> or off"):
            self.vapi.cli("set ipfix idle-flush soon")
        with self.assertRaisesRegex(CliFailedCommandError, "must not be negative: -1"):
            self.vapi.cli("set ipfix idle-flush -1")
        with self.assertRaisesRegex(CliFailedCommandError, "must not be negative"):
            self.set_exporter(extra="idle-flush -2")
        self.assertEqual(idle_age(), 2.25)
        self.vapi.cli("set ipfix idle-flush 1")
        self.assertEqual(idle_age(), 1.0)

    def test_show_exporter(self):
        """`show ipfix exporter`: settings, reports, counters = capture"""
        self.pg_enable_capture([self.pg0])
        self.set_exporter(extra="path-mtu 400 template-interval 7 udp-checksum")
        exps, before = self.show_exporter()
        self.flowprobe(True)
        self.vapi.ipfix_flush()
        self.wait_messages(template_msgs, what="templates")
        self.send_and_flush([6000, 6001, 6002], 4)
        msgs = self.wait_messages(lambda ms: len(data_msgs(ms)) >= 1, what="data")
        exps2, out = self.show_exporter()
        e = exps2[0]
        self.assertIn(
            "  collector %s port %d, src %s\n"
            "  fib none, path-mtu 400, template-interval 7s, udp-checksum enabled\n"
            "  reports 1, streams 1\n"
            % (self.pg0.remote_ip4, IPFIX_PORT, self.pg0.local_ip4),
            e["text"],
        )
        # The core sent the templates; flowprobe's data packets are its own
        # (they never pass through the core), so the data counters stay.
        self.assertEqual(
            e["templates"] - exps[0]["templates"], len(template_msgs(msgs)), out
        )
        for k in ("packets", "records", "bytes"):
            self.assertEqual(e[k], exps[0][k], k)
        self.assertEqual(len(self.records(msgs)), 12)
        for k in ("dropped packets", "dropped records", "allocation failures"):
            self.assertEqual(e[k], 0, k)
        # udp-checksum: the core's templates carry a valid one.
        for m in template_msgs(msgs):
            self.assertNotEqual(m.udp_checksum, 0)
            self.assert_udp_checksum_valid(m.pkt, ignore_zero_checksum=False)

    def test_stats_segment(self):
        """the /ipfix/ gauges in the stats segment match the CLI"""
        self.pg_enable_capture([self.pg0])
        self.set_exporter(extra="template-interval 20")
        self.flowprobe(True)
        self.vapi.ipfix_flush()
        self.wait_messages(template_msgs, what="templates")
        # The process publishes the counters at the end of each cycle, the
        # flush's included.
        self.vapi.ipfix_flush()
        time.sleep(0.3)
        exps, out = self.show_exporter()
        cli_names = {
            "packets": "packets",
            "records": "records",
            "bytes": "bytes",
            "templates": "templates",
            "alloc-failures": "allocation failures",
            "dropped-packets": "dropped packets",
            "dropped-records": "dropped records",
        }
        self.assertGreater(exps[0]["templates"], 0)
        for i in range(5):
            for stat in EXPORTER_STATS:
                value = self.statistics.get_counter("/ipfix/exporter/%d/%s" % (i, stat))
                want = exps[i][cli_names[stat]] if i in exps else 0
                self.assertEqual(value, want, "exporter %d %s\n%s" % (i, stat, out))

    def test_ipv6_collector(self):
        """an IPv6 collector: the core's templates go over IPv6"""
        self.pg_enable_capture([self.pg0])
        self.set_exporter(self.pg0.remote_ip6, self.pg0.local_ip6)
        self.flowprobe(True)
        self.vapi.ipfix_flush()
        msgs = self.wait_messages(template_msgs, what="IPv6 templates")
        m = template_msgs(msgs)[0]
        self.assertEqual(
            (m.af, m.src, m.dst), (6, self.pg0.local_ip6, self.pg0.remote_ip6)
        )
        self.assertEqual(
            (m.sport, m.dport, m.domain, m.seq), (IPFIX_PORT, IPFIX_PORT, 1, 0)
        )
        self.assertEqual(list(m.templates.values()), [ip4_l3l4_template()])
        # IPv6 always has a UDP checksum (RFC 8200 section 8.1).
        self.assert_udp_checksum_valid(m.pkt, ignore_zero_checksum=False)
        # flowprobe's data packets are IPv4 only upstream (node.c writes an
        # IPv4 header from the IPv4 part of the addresses): none reaches
        # the IPv6 collector. Asserted so a change shows up here.
        self.send_and_flush([7000], 3)
        time.sleep(1)
        self.assertEqual(data_msgs(self.messages()), [])
        self.flowprobe(False)
        self.set_exporter()

    def test_two_exporters(self):
        """a second exporter through the API, listed, deleted; 0 stays"""
        self.set_exporter(extra="template-interval 20")
        reply = self.vapi.ipfix_exporter_create_delete(
            is_create=True,
            collector_address=self.pg3.remote_ip4,
            collector_port=4740,
            src_address=self.pg3.local_ip4,
            vrf_id=0xFFFFFFFF,
            path_mtu=1400,
            template_interval=10,
            udp_checksum=True,
        )
        self.assertEqual(reply.stat_index, 1)
        got = list(self.vapi.vpp.details_iter(self.vapi.ipfix_all_exporter_get))
        self.assertEqual(
            [(str(e.collector_address), e.collector_port) for e in got],
            [(self.pg0.remote_ip4, IPFIX_PORT), (self.pg3.remote_ip4, 4740)],
        )
        e = got[1]
        self.assertEqual(
            (str(e.src_address), e.path_mtu, e.template_interval, e.udp_checksum),
            (self.pg3.local_ip4, 1400, 10, True),
        )
        # The legacy dump shows exporter 0 only.
        dump = self.vapi.ipfix_exporter_dump()
        self.assertEqual(
            [str(d.collector_address) for d in dump], [self.pg0.remote_ip4]
        )
        exps, out = self.show_exporter()
        self.assertEqual(sorted(exps), [0, 1], out)
        self.assertIn(
            "collector %s port 4740, src %s"
            % (self.pg3.remote_ip4, self.pg3.local_ip4),
            exps[1]["text"],
        )
        self.assertIn(
            "path-mtu 1400, template-interval 10s, udp-checksum enabled",
            exps[1]["text"],
        )
        self.assertIn("reports 0, streams 0", exps[1]["text"])

        self.vapi.ipfix_exporter_create_delete(
            is_create=False, collector_address=self.pg3.remote_ip4
        )
        got = list(self.vapi.vpp.details_iter(self.vapi.ipfix_all_exporter_get))
        self.assertEqual([str(e.collector_address) for e in got], [self.pg0.remote_ip4])
        exps, out = self.show_exporter()
        self.assertEqual(sorted(exps), [0], out)
        # Exporter 0 is never deleted.
        with self.vapi.assert_negative_api_retval():
            self.vapi.ipfix_exporter_create_delete(
                is_create=False, collector_address=self.pg0.remote_ip4
            )
        exps, out = self.show_exporter()
        self.assertEqual(sorted(exps), [0], out)
        self.assertIn("collector %s port" % self.pg0.remote_ip4, exps[0]["text"])


def ip4_l3l4_template():
    return list(FLOWPROBE_IP4_L3L4_FIELDS)


if __name__ == "__main__":
    unittest.main(testRunner=VppTestRunner)
