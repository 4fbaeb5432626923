//! The background timer: quiet workers' packets go out without the workers' help, due
//! templates are refreshed, and the per-thread gate keeps the timer and busy workers off
//! each other's packets (every record exactly once, sequence numbers exact).

mod common;

use std::time::{Duration, Instant};

use common::accounting::{check_sequences, decode_datagrams};
use common::ipfix::Decoder;
use common::packet::parse_ip_udp;
use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::datapath::vpp_ipfix_record_append;
use vpp_ipfix::ffi::exporter::vpp_ipfix_exporter_set;
use vpp_ipfix::ffi::instance::{vpp_ipfix_main_destroy, vpp_ipfix_main_t};
use vpp_ipfix::ffi::timer::{vpp_ipfix_timer_start, vpp_ipfix_timer_stop};
use vpp_ipfix::report::ReportSpec;
use vpp_ipfix::transport::Capture;
use vpp_ipfix::types::ip_address_t;
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::{Error, Instance};

const T0: f64 = 1_700_000_000.0;

fn config() -> vpp_ipfix_exporter_config_t {
    vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([127, 0, 0, 1]),
        src_address: ip_address_t::v4([127, 0, 0, 2]),
        path_mtu: 1450,
        ..Default::default()
    }
}

fn setup(threads: u32) -> (Capture, *mut vpp_ipfix_main_t) {
    let capture = Capture::new(T0);
    let mut inst = Instance::new(Box::new(capture.clone()), threads, 0).unwrap();
    inst.exporter_set(0, &config()).unwrap();
    let spec = ReportSpec {
        domain_id: 1,
        src_port: 30001,
        fields: vec![FieldSpec::new(10, 4), FieldSpec::new(14, 4)],
        ..Default::default()
    };
    inst.report_add(0, spec).unwrap();
    (capture, vpp_ipfix_main_t::into_raw(inst))
}

fn record(t: u32, i: u32) -> [u8; 8] {
    let mut r = [0u8; 8];
    r[..4].copy_from_slice(&t.to_be_bytes());
    r[4..].copy_from_slice(&i.to_be_bytes());
    r
}

/// Waits (bounded) until the capture holds `n` packets or more.
fn wait_for(
    capture: &Capture,
    got: &mut Vec<vpp_ipfix::transport::capture::CapturedPacket>,
    n: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < n && Instant::now() < deadline {
        got.extend(capture.take_packets());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_quiet_workers_packet_and_due_templates_go_out_on_their_own() {
    let (capture, main) = setup(2);
    assert_eq!(vpp_ipfix_timer_start(main, 0.5, 0.01), 0);
    let mut got = Vec::new();
    wait_for(&capture, &mut got, 1);
    assert_eq!(got.len(), 1, "the first round sends the template");
    let r = record(1, 7);
    assert_eq!(
        vpp_ipfix_record_append(main, 0, 0, 1, r.as_ptr(), r.len()),
        0
    );
    std::thread::sleep(Duration::from_millis(50));
    got.extend(capture.take_packets());
    assert_eq!(got.len(), 1, "not yet: the packet is younger than max_age");
    capture.set_now(T0 + 0.6);
    wait_for(&capture, &mut got, 2);
    assert_eq!(got.len(), 2, "the quiet worker's packet went out");
    capture.set_now(T0 + 30.0);
    wait_for(&capture, &mut got, 3);
    assert_eq!(got.len(), 3, "the template again, after its interval");
    assert_eq!(
        vpp_ipfix_timer_start(main, 0.5, 0.0),
        Error::VPP_IPFIX_ERROR_VALUE_EXIST.code()
    );
    assert_eq!(vpp_ipfix_timer_stop(main), 0);
    assert_eq!(
        vpp_ipfix_timer_stop(main),
        Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY.code()
    );
    vpp_ipfix_main_destroy(main);
    let datagrams: Vec<_> = got
        .iter()
        .map(|p| parse_ip_udp(&p.bytes).unwrap())
        .collect();
    let messages = decode_datagrams(&mut Decoder::new(), &datagrams).unwrap();
    assert_eq!(check_sequences(&messages).unwrap().values().sum::<u64>(), 1);
}

#[test]
fn busy_workers_and_the_timer_never_share_a_packet() {
    let (capture, main) = setup(4);
    assert_eq!(vpp_ipfix_timer_start(main, 0.000_001, 0.0005), 0);
    // Configuration pauses the timer: it still works while the timer runs.
    assert_eq!(vpp_ipfix_exporter_set(main, 0, &config()), 0);
    // The clock moves on its own, so every round finds aged packets to send.
    let clock = capture.clone();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let addr = main as usize;
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut now = T0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                now += 0.001;
                clock.set_now(now);
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let workers: Vec<_> = (1..4u32)
            .map(|t| {
                s.spawn(move || {
                    for i in 0..30_000u32 {
                        if i % 1000 == 0 {
                            // Pauses, as a real worker has between packets, give the
                            // timer rounds to act in.
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        let r = record(t, i);
                        let main = addr as *const vpp_ipfix_main_t;
                        assert_eq!(
                            vpp_ipfix_record_append(main, 0, 0, t, r.as_ptr(), r.len()),
                            0
                        );
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    vpp_ipfix_main_destroy(main);
    let packets = capture.take_packets();
    let small = packets.iter().filter(|p| p.bytes.len() < 1400).count();
    assert!(small > 5, "the timer sent partly filled packets ({small})");
    let datagrams: Vec<_> = packets
        .iter()
        .map(|p| parse_ip_udp(&p.bytes).unwrap())
        .collect();
    let messages = decode_datagrams(&mut Decoder::new(), &datagrams).unwrap();
    assert_eq!(
        check_sequences(&messages).unwrap().values().sum::<u64>(),
        90_000
    );
    let mut seen: Vec<(u32, u32)> = messages
        .iter()
        .flat_map(|(_, m)| m.data_records.iter())
        .map(|r| {
            (
                common::ipfix::be_uint(&r.values[0]) as u32,
                common::ipfix::be_uint(&r.values[1]) as u32,
            )
        })
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 90_000, "every record exactly once");
}

#[test]
fn while_the_timer_runs_records_are_copied_in_not_written_after_the_call() {
    use vpp_ipfix::ffi::datapath::{vpp_ipfix_buffer_get, vpp_ipfix_record_reserve};
    let (_capture, main) = setup(2);
    let r = record(1, 1);
    assert_eq!(
        vpp_ipfix_record_append(main, 0, 0, 1, r.as_ptr(), r.len()),
        0
    );
    assert_eq!(vpp_ipfix_timer_start(main, 0.5, 0.0), 0);
    let mut err = 0;
    // The timer could send the packet while the caller still writes into it.
    assert!(vpp_ipfix_record_reserve(main, 0, 0, 1, 8, &mut err).is_null());
    assert_eq!(err, Error::VPP_IPFIX_ERROR_TIMER_RUNNING.code());
    assert!(vpp_ipfix_buffer_get(main, 0, 0, 1, &mut err).is_null());
    assert_eq!(err, Error::VPP_IPFIX_ERROR_TIMER_RUNNING.code());
    assert_eq!(
        vpp_ipfix_record_append(main, 0, 0, 1, r.as_ptr(), r.len()),
        0
    );
    assert_eq!(vpp_ipfix_timer_stop(main), 0);
    assert!(!vpp_ipfix_record_reserve(main, 0, 0, 1, 8, &mut err).is_null());
    vpp_ipfix_main_destroy(main);
}
