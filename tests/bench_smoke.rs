//! The C benchmark (benches/c, what `make bench` times) still builds against the current
//! header and library, and each of its cases exports what it says it does: every record,
//! in packets that hold as many records as the path MTU allows. Nothing is timed here
//! (benchmarks are measured by `make bench`, not asserted by tests).

mod common;

use std::process::Command;

use common::programs::{build_c_programs, text};

const RECORD_LEN: usize = 56;

/// One `time` line: case, records, packets, ns per record.
fn time_lines(output: &str) -> Vec<(String, u64, u64, f64)> {
    output
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["time", case, records, packets, ns, _pps] => Some((
                    case.to_string(),
                    records.parse().ok()?,
                    packets.parse().ok()?,
                    ns.parse().ok()?,
                )),
                _ => None,
            }
        })
        .collect()
}

/// Records of 56 bytes a packet holds under `mtu`: after IP, UDP, the IPFIX message
/// header and the data set header.
fn records_a_packet(mtu: usize, ip6: bool) -> u64 {
    let headers = if ip6 { 40 } else { 20 } + 8 + 16 + 4;
    ((mtu - headers) / RECORD_LEN) as u64
}

#[test]
fn every_benchmark_case_exports_every_record_in_full_packets() {
    let bench = build_c_programs("benches/c", "bench-smoke", false).join("bench");
    let list = Command::new(&bench)
        .arg("--list")
        .output()
        .expect("bench runs");
    assert!(list.status.success(), "{}", text(&list));
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    for (filter, mtu, ip6) in [("mtu512/ip4/1t", 512, false), ("mtu512/ip6/1t", 512, true)] {
        let expected: Vec<&str> = listed.lines().filter(|c| c.contains(filter)).collect();
        assert!(
            expected.iter().any(|c| c.starts_with("ours-batch/"))
                && expected.iter().any(|c| c.starts_with("plainc-get/")),
            "{filter}: cases listed {expected:?}"
        );
        let run = Command::new(&bench)
            .args([
                "--time",
                "--runs",
                "1",
                "--records",
                "4000",
                "--only",
                filter,
            ])
            .output()
            .expect("bench runs");
        assert!(run.status.success(), "{}", text(&run));
        let lines = time_lines(&String::from_utf8_lossy(&run.stdout));
        let per_packet = records_a_packet(mtu, ip6);
        for case in &expected {
            let (_, records, packets, ns) = lines
                .iter()
                .find(|(c, ..)| c == case)
                .unwrap_or_else(|| panic!("{case}: no result in\n{}", text(&run)));
            assert!(
                *records > 0 && *ns > 0.0,
                "{case}: {records} records, {ns} ns"
            );
            assert_eq!(
                *packets,
                records.div_ceil(per_packet),
                "{case}: {records} records of {RECORD_LEN} bytes at MTU {mtu}"
            );
        }
    }
}
