//! Once warm, exporting allocates nothing: not per record, not per packet. A counting
//! global allocator watches the library export 20,000 records through the C ABI on this
//! thread (it counts per thread: the test harness's threads allocate on their own).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::datapath::{vpp_ipfix_buffer_send, vpp_ipfix_record_append};
use vpp_ipfix::ffi::instance::{vpp_ipfix_main_destroy, vpp_ipfix_main_t};
use vpp_ipfix::ops::{BufferHandle, Embedder, EnqueueRefused, PacketInfo};
use vpp_ipfix::report::ReportSpec;
use vpp_ipfix::transport::BufferPool;
use vpp_ipfix::types::ip_address_t;
use vpp_ipfix::wire::{FieldSpec, PacketBuf};
use vpp_ipfix::Instance;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

/// A host that recycles buffers and discards packets, as a VPP frame or socket would.
struct Sink {
    pool: BufferPool,
    packets: AtomicU64,
}

impl Embedder for Sink {
    fn buffer_alloc(&self, _t: u32, min: u32) -> Option<(BufferHandle, PacketBuf)> {
        self.pool.take(min)
    }
    fn buffer_free(&self, _t: u32, _h: BufferHandle, p: PacketBuf) {
        self.pool.give_back(p);
    }
    fn enqueue(
        &self,
        _t: u32,
        _h: BufferHandle,
        p: PacketBuf,
        _i: &PacketInfo,
    ) -> Result<(), EnqueueRefused> {
        self.packets.fetch_add(1, Relaxed);
        self.pool.give_back(p);
        Ok(())
    }
    fn now(&self) -> f64 {
        1_700_000_000.0
    }
}

#[test]
fn exporting_allocates_nothing_once_warm() {
    let sink = std::sync::Arc::new(Sink {
        pool: BufferPool::new(2048),
        packets: AtomicU64::new(0),
    });
    let mut inst = Instance::new(Box::new(sink.clone()), 1, 0).unwrap();
    let config = vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([127, 0, 0, 1]),
        src_address: ip_address_t::v4([127, 0, 0, 2]),
        path_mtu: 1450,
        udp_checksum: 1,
        ..Default::default()
    };
    inst.exporter_set(0, &config).unwrap();
    let spec = ReportSpec {
        domain_id: 1,
        src_port: 30001,
        fields: vec![
            FieldSpec::new(1, 8),
            FieldSpec::new(2, 8),
            FieldSpec::new(8, 4),
            FieldSpec::new(12, 4),
        ],
        ..Default::default()
    };
    inst.report_add(0, spec).unwrap();
    let main = vpp_ipfix_main_t::into_raw(inst);
    let record = [7u8; 24];
    let export = |n: u32| {
        for _ in 0..n {
            assert_eq!(
                vpp_ipfix_record_append(main, 0, 0, 0, record.as_ptr(), record.len()),
                0
            );
        }
        assert_eq!(vpp_ipfix_buffer_send(main, 0, 0, 0), 0);
    };
    export(1000); // warm: the pool fills
    let before = allocations();
    let packets_before = sink.packets.load(Relaxed);
    export(20_000);
    let allocations = allocations() - before;
    let packets = sink.packets.load(Relaxed) - packets_before;
    vpp_ipfix_main_destroy(main);
    assert!(packets > 300, "{packets} packets sent");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {packets} packets"
    );
}
