//! Runs inputs through a target without AFL, to see a finding's message and backtrace:
//! `cargo run --release --example replay -- api_sequence FILE...`
fn main() {
    let mut args = std::env::args().skip(1);
    let target = args
        .next()
        .expect("usage: replay api_sequence|template_build FILE...");
    let run: fn(&[u8]) = match target.as_str() {
        "api_sequence" => vpp_ipfix_fuzz::api_sequence::run,
        "template_build" => vpp_ipfix_fuzz::template_build::run,
        t => panic!("unknown target {t}"),
    };
    for path in args {
        eprintln!("{target}: {path}");
        run(&std::fs::read(&path).expect("an input file"));
    }
}
