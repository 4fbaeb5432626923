//! AFL target: a program of C-ABI calls (see `vpp_ipfix_fuzz::api_sequence`).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        vpp_ipfix_fuzz::api_sequence::run(data);
    });
}
