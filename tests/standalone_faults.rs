//! Faults in the standalone UDP host that loopback will not make on demand, injected by
//! ffi-tests/standalone_faults.c: a C program linked against libvpp_ipfix.so that defines
//! `sendmmsg`, `socket`, `recvmsg` and `clock_gettime` itself, so the library's calls
//! (Rust's `SystemTime::now` and `Instant::now` included) land there. ENOBUFS and EAGAIN
//! on chosen calls and after a short count, a collector that restarts (the ICMP errors
//! the library reads from its sockets' error queues noted as they are read), socket
//! creation failing, the wall clock standing still, jumping forward and stepping back.
//! The program decodes what its collector receives and checks every record: delivered or
//! counted dropped by the C API, exactly once. Each case runs on its own, then all of
//! them under valgrind memcheck and built with AddressSanitizer and UBSan.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use common::programs::{expect_all_passed, harness_dir, run, text, VALGRIND};

/// The cases where the library does what it documents.
const CASES: &[&str] = &[
    "interposition",
    "send_faults",
    "template_lost",
    "collector_restart",
    "collector_down_counted",
    "clock",
    "socket_retry",
    "idle_flush_after_step_back",
];

fn program(sanitize: bool) -> PathBuf {
    harness_dir(sanitize).join("standalone_faults")
}

/// Runs `cases`, checks the verdict, returns the output.
fn run_cases(cases: &[&str], sanitize: bool, wrapper: &[&str]) -> String {
    let o = run(&program(sanitize), cases, wrapper);
    expect_all_passed("standalone_faults", &o);
    text(&o)
}

/// The `word number` pairs of the line starting with `prefix` (e.g. "ENOBUFS 5"); the
/// first when a word comes twice.
fn figures(out: &str, prefix: &str) -> HashMap<String, u64> {
    let line = out
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{out}"));
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let mut pairs = HashMap::new();
    for w in words.windows(2) {
        if let Ok(n) = w[1].parse() {
            pairs.entry(w[0].to_string()).or_insert(n);
        }
    }
    pairs
}

#[test]
fn the_library_calls_reach_the_interposed_functions() {
    let out = run_cases(&["interposition"], false, &[]);
    let f = figures(&out, "interposition: clock_gettime");
    for call in ["REALTIME", "MONOTONIC", "sendmmsg", "socket", "recvmsg"] {
        assert!(f[call] > 0, "no {call} call reached the test: {f:?}");
    }
}

#[test]
fn enobufs_and_eagain_lose_exactly_the_datagrams_they_hit() {
    let out = run_cases(&["send_faults"], false, &[]);
    let f = figures(&out, "send_faults: records written");
    assert_eq!((f["ENOBUFS"], f["EAGAIN"], f["zero"]), (5, 2, 1), "{out}");
    // Records in the datagrams the kernel refused, and the C API's dropped records.
    assert_eq!(f["refused"], f["dropped"], "{out}");
}

#[test]
fn a_template_lost_to_enobufs_goes_again_at_the_next_round() {
    run_cases(&["template_lost"], false, &[]);
}

/// No datagram is lost to a stale ECONNREFUSED after the restart (checked by the
/// program: the library sends again a datagram a send refused for an earlier one).
#[test]
fn a_restarted_collector_decodes_again_after_the_template_refresh() {
    let out = run_cases(&["collector_restart"], false, &[]);
    let f = figures(&out, "collector_restart: records written");
    // Records of the datagrams whose ICMP errors the library read.
    assert!(f["ICMP"] > 0, "{out}");
    // The stale error the program injects after the restart, and the datagram it
    // failed, sent again.
    assert!(f["ECONNREFUSED"] >= 1 && f["retried"] >= 1, "{out}");
}

#[test]
fn the_wall_clock_standing_still_jumping_forward_and_stepping_back() {
    run_cases(&["clock"], false, &[]);
}

#[test]
fn a_socket_that_cannot_be_made_is_retried_one_second_later_on_instant() {
    run_cases(&["socket_retry"], false, &[]);
}

#[test]
fn every_case_runs_clean_under_valgrind() {
    run_cases(CASES, false, VALGRIND);
}

#[test]
fn every_case_runs_clean_under_address_sanitizer() {
    run_cases(CASES, true, &[]);
    let nm = Command::new("nm")
        .arg(program(true))
        .output()
        .expect("nm runs");
    assert!(
        String::from_utf8_lossy(&nm.stdout).contains("__asan_init"),
        "not built with ASan"
    );
}

/// A collector that is down answers with ICMP after the kernel took the datagram: the
/// library reads each error from the socket's error queue and counts the datagram it
/// quotes dropped, so none is counted delivered that the collector did not get.
#[test]
fn records_sent_while_the_collector_is_down_are_counted_dropped() {
    let out = run_cases(&["collector_down_counted"], false, &[]);
    let f = figures(&out, "collector_down_counted: records written");
    assert_eq!(f["unseen"], 0, "{out}");
    assert!(f["ICMP"] > 0, "{out}");
    assert_eq!(f["ICMP"] + f["refused"], f["dropped"], "{out}");
}

/// A packet begun before the clock stepped back is idle at once (its age would be
/// negative), so it does not wait for the clock to catch up.
#[test]
fn idle_flush_sends_packets_begun_before_the_clock_stepped_back() {
    run_cases(&["idle_flush_after_step_back"], false, &[]);
}
