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
    let mut text = Vec::new();
    bindings.write(&mut text);
    let generated = out_dir.join("vpp_ipfix.h");
    fs::write(&generated, &text).expect("write the generated header");

    let checked_in = crate_dir.join("include").join("vpp_ipfix.h");
    if env::var_os("CI").is_none() && fs::read(&checked_in).ok().as_deref() != Some(&text[..]) {
        fs::create_dir_all(crate_dir.join("include")).expect("create include/");
        fs::write(&checked_in, &text).expect("update include/vpp_ipfix.h");
    }
}
