//! AFL target: element lists through report add (see `vpp_ipfix_fuzz::template_build`).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        vpp_ipfix_fuzz::template_build::run(data);
    });
}
