//! Generates include/vpp_ipfix.h from the Rust sources with cbindgen.
//!
//! The header is written to OUT_DIR on every build; outside CI it is also copied to
//! include/ when it changed, so a developer's build keeps the checked-in copy current.
//! Under CI (CI set) include/ is left alone and tests/header.rs fails on any difference.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let crate_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=CI");

    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut raw = Vec::new();
    bindings.write(&mut raw);
    let text = plain_pointers(&String::from_utf8_lossy(&raw)).into_bytes();
    let generated = out_dir.join("vpp_ipfix.h");
    fs::write(&generated, &text).expect("write the generated header");

    let checked_in = crate_dir.join("include").join("vpp_ipfix.h");
    if env::var_os("CI").is_none() && fs::read(&checked_in).ok().as_deref() != Some(&text[..]) {
        fs::create_dir_all(crate_dir.join("include")).expect("create include/");
        fs::write(&checked_in, &text).expect("update include/vpp_ipfix.h");
    }
}

/// cbindgen prints a field of type `AtomicPtr<T>` as `VPP_IPFIX_ATOMIC_PTR<T> name` (the
/// rename in cbindgen.toml); C sees the same bytes as `T *name`.
fn plain_pointers(text: &str) -> String {
    const MARK: &str = "VPP_IPFIX_ATOMIC_PTR<";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + MARK.len()..];
        let end = after.find('>').expect("AtomicPtr<...> is closed");
        out.push_str(after[..end].trim());
        out.push_str(" *");
        rest = after[end + 1..].trim_start();
    }
    out.push_str(rest);
    out
}
