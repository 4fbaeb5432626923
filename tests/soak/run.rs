//! A run: the instance, the collectors, the workers and the control thread set up and
//! driven for a while, then the verdict.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vpp_ipfix::ffi::exporter::vpp_ipfix_exporter_set;
use vpp_ipfix::ffi::instance::{
    vpp_ipfix_flush, vpp_ipfix_main_create_standalone, vpp_ipfix_main_destroy,
    vpp_ipfix_standalone_config_t, vpp_ipfix_templates_send_due,
};
use vpp_ipfix::ffi::timer::vpp_ipfix_timer_stop;

use crate::abi::{counters, MainPtr};
use crate::barrier::Barrier;
use crate::collector::{Collector, CollectorState};
use crate::common::udp::UdpCollector;
use crate::control::{Control, OpCounts, Slot};
use crate::ledger::{ExporterEntry, Ledger, StreamEntry};
use crate::os::{free_ports, kernel_drop_hints};
use crate::record::Rng;
use crate::shared::{Shared, Snapshot};
use crate::summary::{Growth, Sample, Summary};
use crate::worker::{Worker, WorkerStats};
use crate::{
    DEADLINE, HEAP_TOLERANCE, MAX_EXPORTERS, MEAN_BARRIER_GAP, PORTS, RCVBUF, RSS_TOLERANCE,
    TEMPLATES_EVERY,
};

/// One soak run with `n_workers` workers for `seconds`; the errors it found.
pub(crate) fn run(n_workers: u32, seconds: f64, seed: u64, rate: f64) -> (Summary, Vec<String>) {
    let hints_before = kernel_drop_hints();
    let n_threads = n_workers + 1;
    let v6 = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    let mut collectors: Vec<Collector> = vec![Collector {
        addr: (Ipv4Addr::LOCALHOST, 0).into(),
        src: Ipv4Addr::LOCALHOST.into(),
    }];
    if v6 {
        collectors.push(Collector {
            addr: (Ipv6Addr::LOCALHOST, 0).into(),
            src: Ipv6Addr::LOCALHOST.into(),
        });
    }
    collectors.push(Collector {
        addr: (Ipv4Addr::new(127, 0, 0, 2), 0).into(),
        src: Ipv4Addr::LOCALHOST.into(),
    });

    let config = vpp_ipfix_standalone_config_t {
        n_threads,
        max_exporters: MAX_EXPORTERS,
        udp: 1,
        pcap_path: std::ptr::null(),
        ipfix_file_path: std::ptr::null(),
    };
    let mut main = std::ptr::null_mut();
    assert_eq!(vpp_ipfix_main_create_standalone(&config, &mut main), 0);
    let shared = Arc::new(Shared {
        main: MainPtr(main as usize),
        n_threads,
        barrier: Barrier::default(),
        snapshot: Mutex::new(Arc::new(Snapshot::default())),
        ledger: Mutex::new(Ledger {
            n_threads,
            ..Default::default()
        }),
        written: AtomicU64::new(0),
        decoded: AtomicU64::new(0),
        rate,
    });
    let deadline = Duration::from_secs_f64(seconds) + DEADLINE * 2;
    let running: Vec<UdpCollector<CollectorState>> = collectors
        .iter_mut()
        .enumerate()
        .map(|(id, c)| {
            let state = CollectorState {
                id,
                shared: shared.clone(),
                decoders: HashMap::new(),
                waiting: Vec::new(),
                swept: Instant::now(),
            };
            let collector = UdpCollector::start(c.addr, RCVBUF, deadline, state, |st, from, p| {
                st.on_datagram(from, p)
            })
            .unwrap();
            c.addr = collector.addr;
            collector
        })
        .collect();
    let names: &[&str] = if v6 {
        &["e0/v4", "v6", "v4b"]
    } else {
        &["e0/v4", "v4b"]
    };
    let slots = collectors
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (c, name))| Slot {
            name,
            collector: i,
            addr: c.addr,
            src: c.src,
            ports: free_ports(c.src, PORTS),
            live: None,
        })
        .collect();
    let mut control = Control {
        shared: shared.clone(),
        rng: Rng(seed ^ u64::from(n_workers) << 40),
        slots,
        streams: Vec::new(),
        reports: Vec::new(),
        next_domain: 0,
        next_uid: 0,
        timer_on: false,
        ops: OpCounts::default(),
    };
    // Exporter 0 is there from the start; the others are created.
    let config0 = control.config(0);
    assert_eq!(vpp_ipfix_exporter_set(main, 0, &config0), 0);
    control
        .shared
        .ledger()
        .exporters
        .push(ExporterEntry::new(control.slots[0].name, 0));
    control.slots[0].live = Some((0, 0));
    for s in 1..control.slots.len() {
        control.create_exporter(s);
    }
    for s in 0..control.slots.len() {
        for _ in 0..2 {
            if control.slots[s].live.is_some() {
                control.add_report(s);
            }
        }
    }
    control.publish();

    let started = Instant::now();
    let workers: Vec<_> = (1..=n_workers)
        .map(|t| {
            let w = Worker {
                t,
                shared: shared.clone(),
                rng: Rng(seed ^ u64::from(n_workers) << 40 ^ u64::from(t) << 48),
                stats: WorkerStats::default(),
                record: Vec::new(),
                last_flush: Instant::now(),
            };
            std::thread::spawn(move || w.run())
        })
        .collect();

    let run_for = Duration::from_secs_f64(seconds);
    let mut samples = vec![Sample::now(0.0)];
    samples.reserve(4096);
    let (mut next_sample, mut next_templates) = (Duration::ZERO, Duration::ZERO);
    let mut next_barrier = Duration::from_secs_f64(MEAN_BARRIER_GAP);
    let mut barriers = 0u64;
    let mut failed_barrier = None;
    while started.elapsed() < run_for {
        let now = started.elapsed();
        if now >= next_sample {
            shared.ledger().retire();
            samples.push(Sample::now(now.as_secs_f64()));
            next_sample += Duration::from_secs(1);
        }
        if now >= next_templates {
            if !control.timer_on {
                let rc =
                    vpp_ipfix_templates_send_due(main, std::ptr::null_mut(), std::ptr::null_mut());
                control.check("templates_send_due", rc);
            }
            next_templates = now + TEMPLATES_EVERY;
        }
        if now >= next_barrier {
            if let Err(e) = shared.barrier.hold(n_workers) {
                failed_barrier = Some(e);
                break;
            }
            control.reconfigure();
            control.publish();
            shared.barrier.release(false);
            barriers += 1;
            // Exponential gaps: sometimes two barriers close together, sometimes long
            // stretches of plain export.
            let gap = -MEAN_BARRIER_GAP * (1.0 - control.rng.unit()).ln();
            next_barrier = now + Duration::from_secs_f64(gap.min(1.0));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    samples.push(Sample::now(started.elapsed().as_secs_f64()));
    let exported_for = started.elapsed().as_secs_f64();
    if let Some(e) = failed_barrier {
        panic!("{e}");
    }
    shared.barrier.hold(n_workers).unwrap();
    shared.barrier.release(true);
    let stats: Vec<WorkerStats> = workers.into_iter().map(|w| w.join().unwrap()).collect();

    // Everything still under construction goes out; the last counters are read.
    if control.timer_on {
        control.check("timer_stop", vpp_ipfix_timer_stop(main));
    }
    assert_eq!(vpp_ipfix_flush(main), 0);
    for slot in control.live_slots() {
        let (e, entry) = control.slots[slot].live.unwrap();
        let uids = control.uids_of_slot(slot);
        control.read_drops(e, &uids);
        let c = counters(shared.main, e);
        let mut ledger = shared.ledger();
        ledger.exporters[entry].last = Some(c);
        for uid in uids {
            ledger.close_report(uid);
        }
    }
    // Wait for the collectors to see all of it (or to stop making progress).
    let total: u64 = stats.iter().map(|s| s.written).sum();
    let mut last = (Instant::now(), 0);
    loop {
        let decoded = shared.decoded.load(Relaxed);
        let dropped: u64 = shared.ledger().streams.values().map(|s| s.dropped).sum();
        if decoded + dropped >= total || last.0.elapsed() > Duration::from_secs(2) {
            break;
        }
        if decoded != last.1 {
            last = (Instant::now(), decoded);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let received: Vec<_> = running.into_iter().map(UdpCollector::finish).collect();
    vpp_ipfix_main_destroy(main);
    let hints_after = kernel_drop_hints();

    // --- The verdict.
    let mut ledger = shared.ledger();
    let mut errors = std::mem::take(&mut ledger.errors);
    let n_errors = ledger.n_errors;
    if n_errors > errors.len() as u64 {
        errors.push(format!("... {} errors in all", n_errors));
    }
    for (t, s) in stats.iter().enumerate() {
        for u in &s.unexpected {
            errors.push(format!("worker {}: {u}", t + 1));
        }
    }
    let kernel_drops: u64 = received.iter().map(|r| r.kernel_drops).sum();
    if kernel_drops > 0 {
        errors.push(format!(
            "the kernel dropped {kernel_drops} datagrams at the collectors (receive buffers of \
             {:?} bytes full): the accounting cannot be exact",
            received.iter().map(|r| r.rcvbuf).collect::<Vec<_>>()
        ));
    }
    for r in &received {
        for (from, payload) in &r.state.waiting {
            errors.push(format!(
                "{} bytes from {from} never decodable: no template for domain {}",
                payload.len(),
                u32::from_be_bytes(payload[12..16].try_into().unwrap())
            ));
        }
    }
    // Streams retired during the run had every record decoded and none dropped.
    let written = ledger.retired.written + ledger.epochs.values().map(|e| e.total).sum::<u64>();
    if written != total {
        errors.push(format!(
            "the workers wrote {total} records, the epochs hold {written}"
        ));
    }
    let mut decoded = ledger.retired.written;
    let mut report_dropped = 0;
    for (domain, s) in &ledger.streams {
        let stream_written: u64 = s.epochs.iter().map(|e| ledger.epochs[e].total).sum();
        decoded += s.decoded;
        report_dropped += s.dropped;
        let name = ledger.exporters[s.exporter].name;
        if stream_written != s.decoded + s.dropped {
            errors.push(format!(
                "stream (domain {domain}, port {}, exporter {name} #{}): written {stream_written} \
                 != decoded {} + dropped {}",
                s.port, ledger.exporters[s.exporter].index, s.decoded, s.dropped
            ));
        }
        for e in &s.epochs {
            let ep = &ledger.epochs[e];
            if (s.dropped == 0 && !ep.complete()) || ep.seqs.end() > ep.total {
                errors.push(format!(
                    "domain {domain} epoch {e}: sequence numbers do not tile 0..{}: gaps {:?}, \
                     last {}",
                    ep.total,
                    ep.seqs.gaps(ep.total),
                    ep.seqs.end()
                ));
            }
        }
        if s.dropped == 0 && !s.pending_templates.is_empty() {
            errors.push(format!(
                "domain {domain}: templates with sequence numbers no data passes through: {:?}",
                &s.pending_templates[..s.pending_templates.len().min(5)]
            ));
        }
    }
    for (uid, rep) in &ledger.reports {
        for (t, th) in rep.threads.iter().enumerate() {
            let end = th.end.unwrap_or(0);
            if (rep.dropped == 0 && !th.received.is_whole(end)) || th.received.end() > end {
                errors.push(format!(
                    "report {uid} thread {t}: records decoded are not 0..{end}: gaps {:?}",
                    th.received.gaps(end)
                ));
            }
        }
    }
    // Each exporter's counters against what its collector decoded.
    let mut host_lost = 0;
    for (i, x) in ledger.exporters.iter().enumerate() {
        let Some(c) = x.last else { continue };
        let streams: Vec<&StreamEntry> = ledger
            .streams
            .values()
            .filter(|s| s.exporter == i)
            .collect();
        let got = x.retired.0 + streams.iter().map(|s| s.decoded).sum::<u64>();
        let data_messages = x.retired.1 + streams.iter().map(|s| s.data_messages).sum::<u64>();
        let templates = x.retired.2 + streams.iter().map(|s| s.template_messages).sum::<u64>();
        let lost_by_host = c.dropped_records.saturating_sub(x.report_drops);
        host_lost += lost_by_host;
        let (records_ok, packets_ok, templates_ok) = if x.deleted {
            (
                got == c.data_records + x.flushed_records,
                (c.packets..=c.packets + x.flushed_packets).contains(&data_messages),
                (c.templates..=c.templates + x.reports_at_delete).contains(&templates),
            )
        } else {
            (
                got == c.data_records,
                data_messages == c.packets,
                templates == c.templates,
            )
        };
        if !records_ok || !packets_ok || !templates_ok || lost_by_host > 0 || c.alloc_failures > 0 {
            errors.push(format!(
                "exporter {} #{} ({}): counters {c:?}, report drops {}, flushed by its deletion \
                 {} records in {} packets; the collector decoded {got} records in \
                 {data_messages} data messages and {templates} template messages",
                x.name,
                x.index,
                if x.deleted { "deleted" } else { "at the end" },
                x.report_drops,
                x.flushed_records,
                x.flushed_packets
            ));
        }
    }
    let dropped = report_dropped + host_lost;
    let lost = written as i64 - decoded as i64 - dropped as i64;
    if (kernel_drops > 0 || lost != 0) && hints_after != hints_before {
        errors.push(format!(
            "machine-wide, loopback backlog drops went from {} to {} and UDP receive buffer \
             errors from {} to {} during the run",
            hints_before.0, hints_after.0, hints_before.1, hints_after.1
        ));
    }

    // Memory: flat after warm-up (the first half).
    let rss = Growth::of(&samples, exported_for, |s| s.rss);
    let heap = Growth::of(&samples, exported_for, |s| s.heap);
    let trace = || {
        let every = samples.len().div_ceil(40);
        let kib = |b: i64| b >> 10;
        samples
            .iter()
            .step_by(every)
            .map(|s| (s.at as u32, kib(s.rss), kib(s.heap)))
            .collect::<Vec<_>>()
    };
    if std::env::var_os("SOAK_TRACE").is_some() {
        println!("  (seconds, RSS KiB, heap KiB): {:?}", trace());
    }
    for (what, g, allowed) in [
        ("RSS", &rss, RSS_TOLERANCE),
        ("heap", &heap, HEAP_TOLERANCE),
    ] {
        if g.peak > g.warm + allowed {
            errors.push(format!(
                "{what} grew by {} KiB over the second half (allowed {} KiB); (seconds, RSS KiB, \
                 heap KiB): {:?}",
                (g.peak - g.warm) >> 10,
                allowed >> 10,
                trace()
            ));
        }
    }

    let by_path = stats.iter().fold([0u64; 4], |mut a, s| {
        for (x, y) in a.iter_mut().zip(s.by_path) {
            *x += y;
        }
        a
    });
    let reconfigurations: u64 = control.ops.done.values().sum();
    println!(
        "  {n_workers} workers: paths get/write {} reserve {} append {} records_append {}; \
         refused on purpose {} (+{} configuration calls), appended while the timer ran {}; \
         {barriers} barriers: {:?}; {} streams, {} epochs ({} retired during the run); \
         data before its template {}; kernel drops {kernel_drops}",
        by_path[0],
        by_path[1],
        by_path[2],
        by_path[3],
        stats.iter().map(|s| s.refused).sum::<u64>(),
        control.ops.refused_on_purpose,
        stats.iter().map(|s| s.timer_fallbacks).sum::<u64>(),
        control.ops.done,
        ledger.streams.len() as u64 + ledger.retired.streams,
        ledger.n_epochs,
        ledger.retired.epochs,
        ledger.data_before_template,
    );
    let summary = Summary {
        threads: n_workers,
        seconds: exported_for,
        written,
        decoded,
        dropped,
        lost,
        reconfigurations,
        rss,
        heap,
    };
    (summary, errors)
}
