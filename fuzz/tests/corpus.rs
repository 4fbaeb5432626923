//! Replays the checked-in corpus (seeds, and inputs that once failed) through both
//! targets without instrumentation: `cargo test` in `fuzz/`.

use std::fs;
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut n = 0;
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let data = fs::read(&path).expect("a corpus file");
        eprintln!("{target}: {}", path.display());
        run(&data);
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}

#[test]
fn api_sequence_corpus() {
    replay("api_sequence", |data| {
        let summary = vpp_ipfix_fuzz::api_sequence::run_summary(data);
        eprintln!("  {summary:?}");
    });
}

#[test]
fn template_build_corpus() {
    replay("template_build", vpp_ipfix_fuzz::template_build::run);
}
