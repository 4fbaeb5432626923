//! include/vpp_ipfix.h must be exactly what build.rs generates from the sources: C users
//! compile against the checked-in copy, so a stale one is a broken API.

#[test]
fn checked_in_header_matches_the_sources() {
    let generated_path = concat!(env!("OUT_DIR"), "/vpp_ipfix.h");
    let checked_in_path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/vpp_ipfix.h");
    let generated = std::fs::read_to_string(generated_path).expect("build.rs wrote the header");
    let checked_in = std::fs::read_to_string(checked_in_path).expect("include/vpp_ipfix.h exists");
    if generated != checked_in {
        let first = generated
            .lines()
            .zip(checked_in.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "length".to_string(), |l| format!("line {}", l + 1));
        panic!(
            "include/vpp_ipfix.h is stale (first difference at {first}): run `cargo build` \
             outside CI to regenerate it, and commit it"
        );
    }
}

#[test]
fn every_exported_function_is_documented() {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/vpp_ipfix.h"))
            .expect("include/vpp_ipfix.h exists");
    let lines: Vec<&str> = header.lines().collect();
    let mut undocumented = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let declares = line.contains("vpp_ipfix_")
            && line.contains('(')
            && !line.starts_with([' ', '\t', '#'])
            && !line.starts_with("/*")
            && !line.starts_with("typedef");
        // GNU style puts an inline function's return type on the line before.
        let doc_line = match i.checked_sub(1).map(|p| lines[p]) {
            Some(prev) if prev.starts_with("static inline") => i.checked_sub(2),
            _ => i.checked_sub(1),
        };
        if declares && !doc_line.is_some_and(|d| lines[d].trim_end().ends_with("*/")) {
            undocumented.push(line.to_string());
        }
    }
    assert!(
        undocumented.is_empty(),
        "functions without a doc comment: {undocumented:#?}"
    );
    assert!(header.matches("vpp_ipfix_").count() > 30);
}
