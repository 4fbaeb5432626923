//! Three IPFIX decoders we did not write read what `flowprobe_like` (ffi-tests/, the
//! flowprobe-like C exporter) exports through the standalone host
//! (`vpp_ipfix_main_create_standalone`):
//!
//! - nfdump's `nfcapd` collects the UDP export on loopback; `nfdump -r` lists the flows;
//! - libfixbuf's `ipfixDump` reads the RFC 5655 IPFIX file of the same messages;
//! - tshark reads the pcap of the same packets.
//!
//! Each must see exactly the records flowprobe_like reports, with the values record `i`
//! of worker `t` holds (the scheme of tests/harness.rs). Where a decoder cannot show
//! something of ours, the test says what and why, and checks exactly what it shows.
//! The tools come from Debian's nfdump, libfixbuf-tools and tshark packages
//! (scripts/setup-debian.sh installs them).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::accounting::{check_sequences, decode_datagrams};
use common::ipfix::{Decoder, Message, Template};
use common::packet::datagrams_from_pcap;
use common::programs::{build_ffi_tests, fields_of, num, text};

/// Records each worker exports: a few hundred datagrams per run.
const RECORDS: u32 = 3000;
/// Records per second per worker. Paced, nfcapd keeps up even with the kernel's default
/// receive buffer (net.core.rmem_max 212992 on Debian caps nfcapd's -B) on a loaded
/// machine; in one burst, two workers' 200 datagrams can overflow such a buffer while
/// nfcapd waits for a CPU, and the kernel drops them before nfcapd sees them.
const RATE: u32 = 20_000;
/// nfcapd's socket buffer (-B): the kernel grants at most net.core.rmem_max.
const NFCAPD_BUFFER: &str = "4000000";
/// No wait in these tests lasts longer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The private enterprise number and element of report C's last field.
const C_ENTERPRISE: u32 = 6871;
const C_ELEMENT: u16 = 1;

// ---------------------------------------------------------------------------------------
// Building flowprobe_like, as tests/harness.rs does (its own output directory, so the two
// test programs never run make in one directory at once).

/// flowprobe_like, built once for these tests.
fn flowprobe_like_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_ffi_tests("ffi-tests-collectors", false).join("flowprobe_like"))
        .clone()
}

/// Fails, saying how to install it, when `tool` is not on the PATH.
fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).is_file()));
    assert!(
        found,
        "{tool} is not installed (Debian package {package}): run scripts/setup-debian.sh"
    );
}

/// Runs a decoder to completion; its output.
fn run_tool(cmd: &mut Command) -> Output {
    cmd.env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

// ---------------------------------------------------------------------------------------
// What one run exports.

#[derive(Clone, Copy, Debug)]
struct Case {
    ipv6: bool,
    threads: u32,
    reliability_options: bool,
}

impl Case {
    fn name(&self) -> String {
        format!(
            "{}-{}t{}",
            if self.ipv6 { "ipv6" } else { "ipv4" },
            self.threads,
            if self.reliability_options {
                "-options"
            } else {
                ""
            }
        )
    }

    /// The exporter's source address, as nfdump prints the exporter.
    fn exporter(&self) -> &'static str {
        if self.ipv6 {
            "::1"
        } else {
            "127.0.0.2"
        }
    }
}

/// One report as flowprobe_like prints it.
#[derive(Clone, Debug)]
struct Report {
    name: String,
    domain: u32,
    template: u16,
    records: u64,
    packets: u64,
}

/// What flowprobe_like says it sent.
#[derive(Debug)]
struct Sent {
    reports: Vec<Report>,
    records: u64,
    packets: u64,
    templates: u64,
    sent_datagrams: u64,
    dropped_packets: u64,
    dropped_records: u64,
    output: String,
}

impl Sent {
    fn report(&self, name: &str) -> &Report {
        self.reports.iter().find(|r| r.name == name).unwrap()
    }
}

fn parse_sent(output: String) -> Sent {
    let sent = fields_of(&output, "sent:");
    let udp = fields_of(&output, "udp:");
    assert!(sent.len() == 1 && udp.len() == 1, "{output}");
    let (sent, udp) = (&sent[0], &udp[0]);
    let reports = fields_of(&output, "report ")
        .iter()
        .map(|r| Report {
            name: r["name"].clone(),
            domain: num(r, "domain") as u32,
            template: num(r, "template") as u16,
            records: num(r, "records"),
            packets: num(r, "packets"),
        })
        .collect::<Vec<_>>();
    assert_eq!(reports.len(), 3, "{output}");
    assert_eq!(num(sent, "dropped_records"), num(udp, "dropped_records"));
    Sent {
        records: num(sent, "records"),
        packets: num(sent, "packets"),
        templates: num(sent, "templates"),
        sent_datagrams: num(udp, "sent_datagrams"),
        dropped_packets: num(udp, "dropped_packets"),
        dropped_records: num(udp, "dropped_records"),
        reports,
        output,
    }
}

/// Runs flowprobe_like over UDP to `port`, also writing `pcap` and `ipfix`.
fn export(case: Case, port: u16, rate: Option<u32>, pcap: &Path, ipfix: &Path) -> Sent {
    let mut cmd = Command::new(flowprobe_like_bin());
    cmd.args(["--threads", &case.threads.to_string()])
        .args(["--records", &RECORDS.to_string()])
        .args(["--collector", if case.ipv6 { "ipv6" } else { "ipv4" }])
        .args(["--udp", &port.to_string()])
        .arg("--pcap")
        .arg(pcap)
        .arg("--ipfix-file")
        .arg(ipfix);
    if let Some(rate) = rate {
        cmd.args(["--rate", &rate.to_string()]);
    }
    if case.reliability_options {
        cmd.arg("--reliability-options");
    }
    let out = cmd.output().expect("flowprobe_like runs");
    let t = text(&out);
    assert!(
        out.status.success(),
        "flowprobe_like failed ({}):\n{t}",
        out.status
    );
    parse_sent(t)
}

// ---------------------------------------------------------------------------------------
// The records flowprobe_like writes (tests/harness.rs `expected_values`, by field).

/// The report record `i` goes to: A, B, C for i % 3 = 0, 1, 2.
fn report_of(i: u32) -> &'static str {
    ["A", "B", "C"][i as usize % 3]
}

fn src_addr(t: u32, i: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, t as u8, (i >> 8) as u8, i as u8)
}

fn dst_addr(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, (i % 251) as u8)
}

fn protocol(i: u32) -> u8 {
    if i.is_multiple_of(2) {
        6
    } else {
        17
    }
}

fn tcp_flags(i: u32) -> u16 {
    (i & 0x3f) as u16
}

/// Report C's enterprise field: t * 1000000 + i.
fn c_enterprise_value(t: u32, i: u32) -> u32 {
    t * 1_000_000 + i
}

/// Every (worker, record) pair of report `name` a run exports.
fn expected_pairs(threads: u32, name: &str) -> BTreeSet<(u32, u32)> {
    (1..=threads)
        .flat_map(|t| (0..RECORDS).map(move |i| (t, i)))
        .filter(|&(_, i)| report_of(i) == name)
        .collect()
}

// ---------------------------------------------------------------------------------------
// nfcapd, started for one test and always stopped.

/// The kernel's view of a UDP socket (/proc/net/udp, /proc/net/udp6).
struct SocketState {
    rx_queue: u64,
    drops: u64,
}

/// The socket bound to 127.0.0.1:port or [::1]:port, if any.
fn udp_socket(ipv6: bool, port: u16) -> Option<SocketState> {
    let (file, addr) = if ipv6 {
        ("/proc/net/udp6", "00000000000000000000000001000000")
    } else {
        ("/proc/net/udp", "0100007F")
    };
    let local = format!("{addr}:{port:04X}");
    let table = fs::read_to_string(file).unwrap_or_default();
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(1) != Some(&local.as_str()) {
            return None;
        }
        let rx = cols.get(4)?.split(':').nth(1)?;
        Some(SocketState {
            rx_queue: u64::from_str_radix(rx, 16).ok()?,
            drops: cols.last()?.parse().ok()?,
        })
    })
}

/// A port nothing is bound to on the loopback address right now.
fn free_port(ipv6: bool) -> u16 {
    let socket = if ipv6 {
        UdpSocket::bind((Ipv6Addr::LOCALHOST, 0))
    } else {
        UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
    }
    .expect("bind a UDP socket on loopback");
    socket.local_addr().unwrap().port()
}

/// A running nfcapd writing into `flow_dir`; killed when dropped, so no test leaves one
/// behind, whatever fails.
struct Nfcapd {
    child: Child,
    ipv6: bool,
    port: u16,
    flow_dir: PathBuf,
    log: PathBuf,
}

impl Nfcapd {
    /// Starts nfcapd on a free port of ::1 or 127.0.0.1 and waits until it listens. The
    /// port was free a moment ago; if something takes it first, nfcapd exits and another
    /// port is tried.
    fn start(dir: &Path, ipv6: bool) -> Nfcapd {
        let flow_dir = dir.join("nfcapd");
        fs::create_dir_all(&flow_dir).unwrap();
        for attempt in 0..5 {
            let port = free_port(ipv6);
            let log = dir.join(format!("nfcapd-{attempt}.log"));
            let log_file = fs::File::create(&log).unwrap();
            let child = Command::new("nfcapd")
                .arg("-w")
                .arg(&flow_dir)
                .args(if ipv6 {
                    ["-6", "-b", "::1"]
                } else {
                    ["-4", "-b", "127.0.0.1"]
                })
                .args(["-p", &port.to_string(), "-B", NFCAPD_BUFFER])
                .stdout(log_file.try_clone().unwrap())
                .stderr(log_file)
                .spawn()
                .expect("nfcapd starts");
            let mut nfcapd = Nfcapd {
                child,
                ipv6,
                port,
                flow_dir: flow_dir.clone(),
                log,
            };
            let started = Instant::now();
            while started.elapsed() < TIMEOUT {
                if udp_socket(ipv6, port).is_some() {
                    return nfcapd;
                }
                if nfcapd.child.try_wait().unwrap().is_some() {
                    break; // could not bind: another port
                }
                sleep(Duration::from_millis(10));
            }
            eprintln!(
                "nfcapd on port {port} did not listen:\n{}",
                nfcapd.log_text()
            );
        }
        panic!("nfcapd did not start listening on five ports");
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until nfcapd has read every datagram queued for it (the exporter has
    /// exited: whatever the kernel took is in the queue or was dropped), and returns the
    /// datagrams the kernel dropped at its socket because the queue was full.
    fn drain(&self) -> u64 {
        let started = Instant::now();
        loop {
            let s = udp_socket(self.ipv6, self.port).expect("nfcapd's socket is there");
            if s.rx_queue == 0 {
                return s.drops;
            }
            assert!(
                started.elapsed() < TIMEOUT,
                "nfcapd still has {} bytes queued after {TIMEOUT:?}",
                s.rx_queue
            );
            sleep(Duration::from_millis(10));
        }
    }

    /// Stops nfcapd with SIGTERM, which makes it write out its file, and returns the
    /// files it wrote (more than one when the run crossed its 5-minute rotation).
    fn stop(&mut self) -> Vec<PathBuf> {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with our own child's pid, which we have not reaped yet (so it
        // names no other process), touches no memory of ours.
        assert_eq!(
            unsafe { libc::kill(pid, libc::SIGTERM) },
            0,
            "SIGTERM to nfcapd"
        );
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < TIMEOUT,
                "nfcapd did not exit on SIGTERM"
            );
            sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "nfcapd: {status}\n{}", self.log_text());
        let mut files: Vec<PathBuf> = fs::read_dir(&self.flow_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("nfcapd.") && !n.contains("current"))
            })
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "nfcapd wrote no file:\n{}",
            self.log_text()
        );
        files
    }
}

impl Drop for Nfcapd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// nfdump.

/// nfdump's flows: its csv output, one column name -> value map per flow.
fn nfdump_flows(file: &Path) -> Vec<HashMap<String, String>> {
    let out = run_tool(
        Command::new("nfdump")
            .arg("-r")
            .arg(file)
            .args(["-o", "csv"]),
    );
    assert!(out.status.success(), "nfdump -r failed:\n{}", text(&out));
    let csv = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    assert_eq!(header.first(), Some(&"ts"), "not nfdump's csv:\n{csv}");
    // A file with no flow (nfcapd rotates its file at each 5-minute mark of the clock,
    // so a run that crosses one leaves a file holding only what came before it) says
    // "No matching flows" where the flows would be.
    lines
        .take_while(|l| *l != "Summary" && *l != "No matching flows" && !l.is_empty())
        .map(|l| {
            let values: Vec<&str> = l.split(',').collect();
            assert_eq!(values.len(), header.len(), "csv line: {l}");
            header
                .iter()
                .zip(values)
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect()
        })
        .collect()
}

/// `nfdump -I`: the file's statistics, name -> value.
fn nfdump_stats(file: &Path) -> HashMap<String, u64> {
    let out = run_tool(Command::new("nfdump").arg("-r").arg(file).arg("-I"));
    assert!(out.status.success(), "nfdump -I failed:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
        .collect()
}

/// nfdump's flag letters (CWR ECE URG ACK PSH RST SYN FIN), '.' for a clear bit.
fn nfdump_tcp_flags(flags: u16) -> String {
    "CEUAPRSF"
        .chars()
        .enumerate()
        .map(|(k, c)| if flags & (0x80 >> k) != 0 { c } else { '.' })
        .collect()
}

/// What nfdump shows of record `i` of worker `t`: column -> value. Its IPFIX decoder
/// maps the IANA elements it knows onto its own flow record and skips the rest:
/// - flowStartNanoseconds and flowEndNanoseconds (156, 157) are not among them (nfdump
///   1.7.1 maps flowStart/EndSeconds, -Milliseconds and -DeltaMicroseconds, 150-153,
///   158, 159), so every flow starts and ends at 0: "1970-01-01 00:00:00", duration 0;
/// - report C's enterprise field (PEN 6871, element 1) is skipped: nfdump maps only
///   two yaf elements of that enterprise, 18 and its reverse, to payload;
/// - report B has no ports, destination or packet count: nfdump shows 0 for them.
fn nfdump_expected(case: Case, t: u32, i: u32) -> Vec<(&'static str, String)> {
    let proto = if protocol(i) == 6 { "TCP" } else { "UDP" };
    let bytes = (64 * (u64::from(i) + 1)).to_string();
    let mut v = vec![
        ("ts", "1970-01-01 00:00:00".to_string()),
        ("te", "1970-01-01 00:00:00".to_string()),
        ("td", "0.000".to_string()),
        ("sa", src_addr(t, i).to_string()),
        ("ibyt", bytes),
        ("in", t.to_string()),
        ("out", i.to_string()),
        ("ra", case.exporter().to_string()),
    ];
    if report_of(i) == "B" {
        v.extend([
            ("da", "0.0.0.0".to_string()),
            ("sp", "0".to_string()),
            ("dp", "0".to_string()),
            ("pr", "UDP".to_string()),
            ("flg", nfdump_tcp_flags(0)),
            ("ipkt", "0".to_string()),
            ("dir", "0".to_string()),
        ]);
    } else {
        v.extend([
            ("da", dst_addr(i).to_string()),
            ("sp", (1024 + i % 50000).to_string()),
            ("dp", "443".to_string()),
            ("pr", proto.to_string()),
            ("flg", nfdump_tcp_flags(tcp_flags(i))),
            ("ipkt", (u64::from(i) + 1).to_string()),
            ("dir", (i & 1).to_string()),
        ]);
    }
    v
}

/// Everything nfdump lists from nfcapd's files is exactly what flowprobe_like sent.
fn check_nfdump(case: Case, sent: &Sent, files: &[PathBuf]) {
    let mut flows = Vec::new();
    let (mut flow_count, mut sequence_failures) = (0, 0);
    for f in files {
        flows.extend(nfdump_flows(f));
        let stats = nfdump_stats(f);
        flow_count += stats["Flows"];
        sequence_failures += stats["Sequence failures"];
    }
    // Options records (reliability statistics) are not flows: nfdump reads options
    // records only for sampling, NBAR application names, interface and VRF names and
    // the exporter's uptime. Every data record of ours is
    // one flow, none merged (nfcapd does not aggregate).
    assert_eq!(flow_count, sent.records, "flows in nfcapd's files");
    assert_eq!(flows.len() as u64, sent.records, "flows nfdump lists");

    // Each flow is identified by its input interface (the worker) and output interface
    // (the record number): every (t, i) exactly once, each with its values.
    let mut seen: BTreeMap<&str, BTreeSet<(u32, u32)>> = BTreeMap::new();
    let mut exporter_ids: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for flow in &flows {
        let t: u32 = flow["in"].parse().unwrap();
        let i: u32 = flow["out"].parse().unwrap();
        let expected = nfdump_expected(case, t, i);
        let got: Vec<(&str, &str)> = expected.iter().map(|(c, _)| (*c, &*flow[*c])).collect();
        let want: Vec<(&str, &str)> = expected.iter().map(|(c, v)| (*c, v.as_str())).collect();
        assert_eq!(got, want, "nfdump's columns of record t={t} i={i}");
        let report = report_of(i);
        assert!(
            seen.entry(report).or_default().insert((t, i)),
            "t={t} i={i} twice"
        );
        exporter_ids
            .entry(report)
            .or_default()
            .insert(flow["exid"].clone());
    }
    for name in ["A", "B", "C"] {
        assert_eq!(
            seen.remove(name).unwrap_or_default(),
            expected_pairs(case.threads, name),
            "report {name}: the flows nfdump lists"
        );
    }
    // nfdump numbers each (exporter address, observation domain) it meets: A and B
    // share domain 1, C has domain 2.
    let ids = |r: &str| exporter_ids[r].iter().cloned().collect::<Vec<_>>();
    assert_eq!(ids("A").len(), 1);
    assert_eq!(
        ids("A"),
        ids("B"),
        "reports A and B: one exporter (domain 1)"
    );
    assert_eq!(ids("C").len(), 1);
    assert_ne!(ids("A"), ids("C"), "report C: another exporter (domain 2)");

    // nfcapd counts a sequence failure at each message whose sequence number does not
    // continue the previous one of its (exporter, domain) as the messages arrive. One
    // worker sends a stream's messages in sequence order. Two take their numbers from
    // the stream's one counter as they finish packets and send their own batches, so
    // their messages interleave out of order: nfcapd's count then depends on the
    // scheduling (nothing is lost: the flows above are all there). nfcapd does not
    // count options records in the sequence it expects (RFC 7011 does), so an options
    // message in mid-stream would also count as a failure; ours goes first, before any
    // data record, where nfcapd only takes up the stream's sequence number.
    if case.threads == 1 {
        assert_eq!(sequence_failures, 0, "nfcapd's sequence failures");
    }
}

// ---------------------------------------------------------------------------------------
// The IPFIX file, split by domain, and ipfixDump.

/// The messages of an RFC 5655 file, decoded by tests/common (the file is one session).
fn read_ipfix_file(path: &Path) -> (Vec<Vec<u8>>, Vec<Message>) {
    let bytes = fs::read(path).unwrap();
    let mut raw = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        assert!(at + 16 <= bytes.len(), "truncated message header at {at}");
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        assert!(
            len >= 16 && at + len <= bytes.len(),
            "bad message length at {at}"
        );
        raw.push(bytes[at..at + len].to_vec());
        at += len;
    }
    let mut decoder = Decoder::new();
    let messages = raw
        .iter()
        .enumerate()
        .map(|(k, m)| {
            decoder
                .decode("file", m)
                .unwrap_or_else(|e| panic!("message {k}: {e}"))
        })
        .collect();
    (raw, messages)
}

/// Field specifiers as ipfixDump prints them: (PEN, id, length).
type Fields = Vec<(u32, u16, u16)>;

/// A template ipfixDump printed: (domain of its message, id, scope count, fields).
type DumpedTemplate = (u32, u16, u16, Fields);

/// What ipfixDump printed.
#[derive(Debug, Default)]
struct Dump {
    templates: Vec<DumpedTemplate>,
    /// (domain of the message, template id, "(id) name : value" lines).
    records: Vec<(u32, u16, Vec<String>)>,
    /// The closing "*** File Stats ***" line's data record count.
    stats_records: u64,
    /// Its standard error, line by line.
    stderr: Vec<String>,
}

/// The number after `key` in `line` (decimal, or hex with 0x).
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = line.split_once(key)?.1.trim_start();
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    match token.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => token.parse().ok(),
    }
}

fn ipfix_dump(path: &Path) -> Dump {
    let out = run_tool(Command::new("ipfixDump").arg("--in").arg(path));
    assert!(out.status.success(), "ipfixDump failed:\n{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut dump = Dump {
        stderr: String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
        ..Default::default()
    };
    let mut domain = None;
    let mut in_template = false;
    for line in stdout.lines() {
        let l = line.trim();
        if l.contains("observation domain id:") {
            domain = number_after(l, "observation domain id:").map(|d| d as u32);
        } else if l.starts_with("--- template record")
            || l.starts_with("--- options template record")
        {
            in_template = true;
        } else if l.starts_with("--- data record") || l.starts_with("--- Message Header") {
            in_template = false;
        } else if l.starts_with("tid:") && in_template {
            let tid = number_after(l, "tid:").unwrap() as u16;
            let scope = number_after(l, "scope:").unwrap() as u16;
            dump.templates
                .push((domain.unwrap(), tid, scope, Vec::new()));
        } else if l.starts_with("ent:") && in_template {
            let field = (
                number_after(l, "ent:").unwrap() as u32,
                number_after(l, " id:").unwrap() as u16,
                number_after(l, "len:").unwrap() as u16,
            );
            dump.templates.last_mut().unwrap().3.push(field);
        } else if l.starts_with("count:") {
            let tid = number_after(l, "tid:").unwrap() as u16;
            dump.records.push((domain.unwrap(), tid, Vec::new()));
        } else if l.starts_with('(') && !in_template {
            if let Some(r) = dump.records.last_mut() {
                r.2.push(l.to_string());
            }
        } else if l.starts_with("*** File Stats:") {
            dump.stats_records = number_after(l, "Messages,").unwrap();
        }
    }
    dump
}

/// The "IPFIX Message out of sequence" warnings libfixbuf gives, as (domain, expected,
/// got). It expects each message of a domain to carry the previous one's sequence
/// number plus the data records it decoded from it, and says nothing while it expects 0
/// (before the first data record); `decoded[k]` is the records it decodes of message k.
fn expected_sequence_warnings(messages: &[Message], decoded: &[u64]) -> Vec<(u32, u64, u64)> {
    let mut next: HashMap<u32, u32> = HashMap::new();
    let mut warnings = Vec::new();
    for (m, &n) in messages.iter().zip(decoded) {
        let expected = next.get(&m.domain_id).copied().unwrap_or(0);
        if expected != 0 && m.sequence_number != expected {
            warnings.push((
                m.domain_id,
                u64::from(expected),
                u64::from(m.sequence_number),
            ));
        }
        next.insert(m.domain_id, m.sequence_number.wrapping_add(n as u32));
    }
    warnings
}

/// The warnings ipfixDump printed, as (domain, expected, got); any other line on its
/// standard error fails.
fn sequence_warnings(dump: &Dump) -> Vec<(u32, u64, u64)> {
    dump.stderr
        .iter()
        .map(|l| {
            assert!(
                l.contains("WARNING") && l.contains("IPFIX Message out of sequence"),
                "ipfixDump says: {l}"
            );
            (
                number_after(l, "in domain").unwrap() as u32,
                number_after(l, "expected").unwrap(),
                number_after(l, "got").unwrap(),
            )
        })
        .collect()
}

/// The field specifiers of a template as ipfixDump prints them: (PEN, id, length).
fn spec(t: &Template) -> Fields {
    t.fields
        .iter()
        .map(|f| (f.enterprise.unwrap_or(0), f.element_id, f.length))
        .collect()
}

/// flowprobe_like's report A fields (IANA): as ffi-tests/flowprobe_like.c elts_a.
const FIELDS_A: [(u16, u16); 13] = [
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
];
const FIELDS_B: [(u16, u16); 5] = [(10, 4), (14, 4), (8, 4), (1, 8), (4, 1)];

fn fields(name: &str) -> Fields {
    let iana = |f: &[(u16, u16)]| f.iter().map(|&(id, len)| (0, id, len)).collect::<Vec<_>>();
    match name {
        "A" => iana(&FIELDS_A),
        "B" => iana(&FIELDS_B),
        "C" => {
            let mut c = iana(&FIELDS_A);
            c.push((C_ENTERPRISE, C_ELEMENT, 4));
            c
        }
        _ => unreachable!(),
    }
}

/// The value ipfixDump prints for the field labelled `label` ("(10)", "(6871/1)").
fn value<'a>(lines: &'a [String], label: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.starts_with(label))
        .and_then(|l| l.split_once(" : "))
        .map(|(_, v)| v.trim())
        .unwrap_or_else(|| panic!("no field {label} in {lines:?}"))
}

/// Checks one data record of report `name` as ipfixDump prints it; returns (t, i).
fn check_dumped_record(name: &str, lines: &[String]) -> (u32, u32) {
    let t: u32 = value(lines, "(10)").parse().unwrap();
    let i: u32 = value(lines, "(14)").parse().unwrap();
    assert_eq!(report_of(i), name, "record t={t} i={i}");
    let src = src_addr(t, i).to_string();
    assert_eq!(value(lines, "(8)"), src, "t={t} i={i}");
    assert_eq!(
        value(lines, "(1)"),
        (64 * (u64::from(i) + 1)).to_string(),
        "octetDeltaCount t={t} i={i}"
    );
    if name == "B" {
        assert_eq!(value(lines, "(4)"), "17");
    } else {
        // dateTimeNanoseconds: 1700000000 (+ i / 2^32 s) and one second later.
        assert!(value(lines, "(156)").starts_with("2023-11-14 22:13:20."));
        assert!(value(lines, "(157)").starts_with("2023-11-14 22:13:21."));
        assert_eq!(value(lines, "(12)"), dst_addr(i).to_string());
        assert_eq!(value(lines, "(2)"), (u64::from(i) + 1).to_string());
        assert_eq!(value(lines, "(4)"), protocol(i).to_string());
        assert_eq!(value(lines, "(6)"), tcp_flags(i).to_string());
    }
    if name == "C" {
        // ipfixDump knows no element 1 of PEN 6871 (it loads CERT's elements only with
        // --yaf): it prints the unknown 4 bytes as a host-order (little-endian) integer.
        let raw = c_enterprise_value(t, i).to_be_bytes();
        assert_eq!(
            value(lines, "(6871/1)"),
            u32::from_le_bytes(raw).to_string(),
            "report C's enterprise field t={t} i={i}"
        );
    }
    (t, i)
}

/// Splits the IPFIX file into one file per observation domain; (domain, path).
fn split_by_domain(path: &Path, raw: &[Vec<u8>]) -> BTreeMap<u32, PathBuf> {
    let mut parts: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    for m in raw {
        let domain = u32::from_be_bytes([m[12], m[13], m[14], m[15]]);
        parts.entry(domain).or_default().extend_from_slice(m);
    }
    parts
        .into_iter()
        .map(|(domain, bytes)| {
            let p = path.with_extension(format!("domain{domain}.ipfix"));
            fs::write(&p, bytes).unwrap();
            (domain, p)
        })
        .collect()
}

/// ipfixDump shows our templates and every record of the IPFIX file, read one
/// observation domain at a time; and read whole, exactly what its template handling
/// lets it show.
fn check_ipfix_dump(case: Case, sent: &Sent, path: &Path) {
    let (raw, messages) = read_ipfix_file(path);
    let options_per_domain = u64::from(case.reliability_options);

    // Read whole, the file makes ipfixDump skip records, silently: libfixbuf keeps the
    // external templates per observation domain, but ipfixDump adds each one it meets
    // as the session's internal template of that ID too, and a session has one
    // internal template per ID, whatever the domain. Template IDs belong to a domain
    // (RFC 7011 section 3.4.1): domains 1 and 2 both number theirs from 256. Once
    // domain 2 has defined 256 (report C), the data sets of domain 1's 256 (report A)
    // are skipped, and so on for every ID whose latest definition, in any domain, has
    // other fields than the set's own template. The records libfixbuf skips do not
    // advance the sequence number it expects either.
    let whole = ipfix_dump(path);
    let mut latest: HashMap<u16, &Template> = HashMap::new();
    let mut own: HashMap<(u32, u16), &Template> = HashMap::new();
    let mut shown: BTreeMap<(u32, u16), u64> = BTreeMap::new();
    let mut decoded = Vec::new();
    for m in &messages {
        for t in m.templates.iter().chain(&m.options_templates) {
            latest.insert(t.id, t);
            own.insert((m.domain_id, t.id), t);
        }
        let mut n = 0;
        for &(tid, count) in &m.data_sets {
            if latest[&tid] == own[&(m.domain_id, tid)] {
                *shown.entry((m.domain_id, tid)).or_default() += count as u64;
                n += count as u64;
            }
        }
        decoded.push(n);
    }
    let mut whole_counts: BTreeMap<(u32, u16), u64> = BTreeMap::new();
    for (domain, tid, _) in &whole.records {
        *whole_counts.entry((*domain, *tid)).or_default() += 1;
    }
    assert_eq!(
        whole_counts, shown,
        "records ipfixDump shows of the whole file"
    );
    assert_eq!(whole.stats_records, shown.values().sum::<u64>());
    assert_eq!(
        sequence_warnings(&whole),
        expected_sequence_warnings(&messages, &decoded),
        "ipfixDump's warnings on the whole file"
    );
    assert!(
        !shown.contains_key(&(1, sent.report("A").template)),
        "report A is the one ipfixDump cannot show in the whole file"
    );

    // One domain per file: everything.
    let split = split_by_domain(path, &raw);
    assert_eq!(split.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    for (&domain, part) in &split {
        let dump = ipfix_dump(part);
        let ours: Vec<&Message> = messages.iter().filter(|m| m.domain_id == domain).collect();
        let reports: Vec<&Report> = sent.reports.iter().filter(|r| r.domain == domain).collect();

        // The templates: our reports', then the reliability statistics' options
        // template, each exactly once (sent once, before the workers start).
        let mut want: Vec<DumpedTemplate> = reports
            .iter()
            .map(|r| (domain, r.template, 0, fields(&r.name)))
            .collect();
        let options_template = ours
            .iter()
            .flat_map(|m| &m.options_templates)
            .map(|t| t.id)
            .next();
        if case.reliability_options {
            let id = options_template.expect("an options template");
            // Scoped by observationDomainId (149); exportedMessageTotalCount (41),
            // exportedFlowRecordTotalCount (42), exportedOctetTotalCount (40),
            // notSentFlowTotalCount (166), notSentPacketTotalCount (167).
            let ids = [(149, 4), (41, 8), (42, 8), (40, 8), (166, 8), (167, 8)];
            want.push((domain, id, 1, ids.iter().map(|&(e, l)| (0, e, l)).collect()));
        } else {
            assert_eq!(options_template, None);
        }
        assert_eq!(
            dump.templates, want,
            "templates ipfixDump shows, domain {domain}"
        );
        // What ipfixDump printed is what tests/common decoded.
        for t in ours
            .iter()
            .flat_map(|m| m.templates.iter().chain(&m.options_templates))
        {
            assert!(want.iter().any(|w| w.1 == t.id && w.3 == spec(t)));
        }

        // Every record: by template, each (t, i) once, with its values.
        let mut seen: BTreeMap<u16, BTreeSet<(u32, u32)>> = BTreeMap::new();
        let mut options_records = 0;
        for (d, tid, lines) in &dump.records {
            assert_eq!(*d, domain);
            if Some(*tid) == options_template {
                // Sent before the workers start: the domain's template messages and
                // this one, no flow record yet, nothing lost.
                options_records += 1;
                assert_eq!(value(lines, "(149)"), domain.to_string());
                assert_eq!(value(lines, "(41)"), (reports.len() + 1).to_string());
                for zero in ["(42)", "(166)", "(167)"] {
                    assert_eq!(value(lines, zero), "0", "{zero} of {lines:?}");
                }
                continue;
            }
            let r = reports
                .iter()
                .find(|r| r.template == *tid)
                .unwrap_or_else(|| panic!("a record of unknown template {tid}"));
            let ti = check_dumped_record(&r.name, lines);
            assert!(seen.entry(*tid).or_default().insert(ti), "{ti:?} twice");
        }
        for r in &reports {
            let got = seen.remove(&r.template).unwrap_or_default();
            assert_eq!(got.len() as u64, r.records, "report {} records", r.name);
            assert_eq!(
                got,
                expected_pairs(case.threads, &r.name),
                "report {}",
                r.name
            );
        }
        assert_eq!(options_records, options_per_domain);
        let data: u64 = reports.iter().map(|r| r.records).sum();
        assert_eq!(dump.stats_records, data + options_per_domain);

        // No warning but "out of sequence", exactly where the file holds a message out
        // of sequence-number order: one worker writes each stream in order; two write
        // their packets as they finish them, a little out of the order in which they
        // took their numbers.
        let own_messages: Vec<Message> = ours.iter().map(|m| (*m).clone()).collect();
        let all: Vec<u64> = own_messages
            .iter()
            .map(|m| m.data_records.len() as u64)
            .collect();
        let warnings = expected_sequence_warnings(&own_messages, &all);
        assert_eq!(sequence_warnings(&dump), warnings, "domain {domain}");
        if case.threads == 1 {
            assert!(warnings.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------
// tshark.

/// tshark's reading of the pcap: (packets, records it decoded, problem lines).
fn tshark_read(pcap: &Path, port: u16) -> (u64, u64, Vec<String>) {
    let decode_as = format!("udp.port=={port},cflow");
    let out = run_tool(Command::new("tshark").args(["-n", "-r"]).arg(pcap).args([
        "-d",
        &decode_as,
        "-T",
        "fields",
        "-e",
        "cflow.inputint",
    ]));
    assert!(out.status.success(), "tshark failed: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let packets = stdout.lines().count() as u64;
    // Every data record of ours has ingressInterface; the options records have not.
    let records = stdout
        .lines()
        .map(|l| l.split(',').filter(|v| !v.is_empty()).count() as u64)
        .sum();
    let problems = run_tool(Command::new("tshark").args(["-n", "-r"]).arg(pcap).args([
        "-d",
        &decode_as,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= \"error\"",
    ]));
    assert!(
        problems.status.success(),
        "tshark failed: {}",
        text(&problems)
    );
    let bad = String::from_utf8_lossy(&problems.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (packets, records, bad)
}

fn check_tshark(case: Case, sent: &Sent, pcap: &Path, port: u16) {
    let (packets, records, bad) = tshark_read(pcap, port);
    assert!(
        bad.is_empty(),
        "tshark: malformed or errors:\n{}",
        bad.join("\n")
    );
    assert_eq!(records, sent.records, "records tshark decodes");
    assert_eq!(packets, sent.sent_datagrams, "packets in the pcap");
    // Our own decoder agrees: every stream's sequence numbers chain without a gap.
    let datagrams = datagrams_from_pcap(pcap).unwrap();
    let messages = decode_datagrams(&mut Decoder::new(), &datagrams).unwrap();
    let totals = check_sequences(&messages).unwrap();
    let options = 2 * u64::from(case.reliability_options);
    assert_eq!(totals.values().sum::<u64>(), sent.records + options);
}

// ---------------------------------------------------------------------------------------

fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("collectors-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// One run, read back by the three decoders.
fn three_decoders(case: Case) {
    require("nfcapd", "nfdump");
    require("nfdump", "nfdump");
    require("ipfixDump", "libfixbuf-tools");
    require("tshark", "tshark");
    let dir = scratch_dir(&case.name());
    let (pcap, ipfix) = (dir.join("export.pcap"), dir.join("export.ipfix"));

    let mut nfcapd = Nfcapd::start(&dir, case.ipv6);
    let sent = export(case, nfcapd.port, Some(RATE), &pcap, &ipfix);
    let kernel_drops = nfcapd.drain();
    let files = nfcapd.stop();

    // Everything reached nfcapd's socket, and nfcapd read it all.
    assert_eq!(
        (sent.dropped_packets, sent.dropped_records),
        (0, 0),
        "flowprobe_like lost datagrams on their way:\n{}",
        sent.output
    );
    assert_eq!(
        kernel_drops,
        0,
        "the kernel dropped datagrams at nfcapd's full receive buffer (nfcapd's log: {})",
        nfcapd
            .log_text()
            .lines()
            .filter(|l| l.contains("SO_RCVBUF"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let reports: u64 = sent.reports.iter().map(|r| r.records).sum();
    assert_eq!(sent.records, reports);
    assert_eq!(sent.records, u64::from(case.threads * RECORDS));
    let data_packets: u64 = sent.reports.iter().map(|r| r.packets).sum();
    assert_eq!(sent.packets, data_packets);
    assert_eq!(sent.templates, 3);
    assert_eq!(
        sent.sent_datagrams,
        sent.packets + sent.templates + 2 * u64::from(case.reliability_options)
    );

    check_nfdump(case, &sent, &files);
    check_ipfix_dump(case, &sent, &ipfix);
    check_tshark(case, &sent, &pcap, nfcapd.port);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn ipv4_one_worker() {
    three_decoders(Case {
        ipv6: false,
        threads: 1,
        reliability_options: false,
    });
}

#[test]
fn ipv4_two_workers_with_reliability_options() {
    three_decoders(Case {
        ipv6: false,
        threads: 2,
        reliability_options: true,
    });
}

#[test]
fn ipv6_one_worker_with_reliability_options() {
    three_decoders(Case {
        ipv6: true,
        threads: 1,
        reliability_options: true,
    });
}

#[test]
fn ipv6_two_workers() {
    three_decoders(Case {
        ipv6: true,
        threads: 2,
        reliability_options: false,
    });
}

/// No collector: the kernel refuses datagrams to a closed port (ECONNREFUSED, from the
/// ICMP port unreachable the first one brings back at once on loopback). Export goes
/// on, the losses are counted and said, and that is not an error.
#[test]
fn export_goes_on_when_no_collector_listens() {
    let dir = scratch_dir("closed-port");
    let port = free_port(false); // bound a moment ago, closed now
    let sent = export(
        Case {
            ipv6: false,
            threads: 2,
            reliability_options: false,
        },
        port,
        None,
        &dir.join("export.pcap"),
        &dir.join("export.ipfix"),
    );
    assert!(
        sent.output.contains("is a collector listening there?"),
        "{}",
        sent.output
    );
    assert!(sent.dropped_packets > 0, "{}", sent.output);
    // Every record and datagram is accounted for: delivered or dropped.
    assert_eq!(
        sent.records + sent.dropped_records,
        u64::from(2 * RECORDS),
        "{}",
        sent.output
    );
    let data_packets: u64 = sent.reports.iter().map(|r| r.packets).sum();
    assert_eq!(sent.sent_datagrams + sent.dropped_packets, data_packets + 3);
    let _ = fs::remove_dir_all(&dir);
}
