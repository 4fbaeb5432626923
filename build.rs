//! Generates include/vpp_ipfix.h from the Rust sources with cbindgen.
//!
//! The header is written to OUT_DIR on every build; outside CI it is also copied to
//! include/ when it changed, so a developer's build keeps the checked-in copy current.
//! Under CI (CI set) include/ is left alone and tests/header.rs fails on any difference.
//!
//! It also gives the shared library its soname, `libvpp_ipfix.so.<major>` (the crate
//! version's major), as installed copies are named (`make install`), and links that name
//! to the library in cargo's output directory so programs linked there still load it.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    soname();
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
    let text = vpp_callback_types(&plain_vectors(&plain_pointers(&String::from_utf8_lossy(
        &raw,
    ))))
    .into_bytes();
    let generated = out_dir.join("vpp_ipfix.h");
    fs::write(&generated, &text).expect("write the generated header");

    let checked_in = crate_dir.join("include").join("vpp_ipfix.h");
    if env::var_os("CI").is_none() && fs::read(&checked_in).ok().as_deref() != Some(&text[..]) {
        fs::create_dir_all(crate_dir.join("include")).expect("create include/");
        fs::write(&checked_in, &text).expect("update include/vpp_ipfix.h");
    }
}

/// `-Wl,-soname,libvpp_ipfix.so.<major>` for the cdylib on ELF targets. A program linked
/// against the library then needs `libvpp_ipfix.so.<major>` at run time, which cargo does
/// not create: a relative symlink to `libvpp_ipfix.so` next to it keeps programs linked in
/// the build tree (ffi-tests/, the demo) loading it through their rpath.
fn soname() {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|f| f.split(',').any(|f| f == "unix"))
        && !matches!(
            os.as_str(),
            "macos" | "ios" | "tvos" | "watchos" | "visionos" | "aix"
        );
    if !elf {
        return;
    }
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let soname = format!("libvpp_ipfix.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");

    // OUT_DIR is <target>/<profile>/build/<package>-<hash>/out.
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let profile_dir = out_dir.ancestors().nth(3).filter(|_| {
        out_dir
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            == Some("build".as_ref())
    });
    match profile_dir {
        Some(dir) => link_soname(&dir.join(&soname)),
        None => println!(
            "cargo:warning=unexpected OUT_DIR {}: no {soname} link made next to the library",
            out_dir.display()
        ),
    }
}

#[cfg(unix)]
fn link_soname(link: &Path) {
    let target = Path::new("libvpp_ipfix.so");
    if fs::read_link(link).is_ok_and(|t| t == target) {
        return;
    }
    let _ = fs::remove_file(link);
    match std::os::unix::fs::symlink(target, link) {
        // Another build of the same profile may have just made it.
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => println!("cargo:warning=cannot link {}: {e}", link.display()),
    }
}

#[cfg(not(unix))]
fn link_soname(_link: &Path) {}
/// cbindgen prints `VppVec<T>` (a transparent `AtomicPtr<T>`) as a typedef
/// `VppVec_T` of `T *`; C callers (VPP's `vec_len`, `vec_validate`) want the field to be
/// a plain `T *`, so the typedefs go and their uses become pointers.
fn plain_vectors(text: &str) -> String {
    const MARK: &str = "VppVec_";
    let mut out = String::with_capacity(text.len());
    for block in text.split_inclusive("\n\n") {
        if block.contains("*VppVec_") && block.trim_end().ends_with(';') {
            continue;
        }
        out.push_str(block);
    }
    let mut fixed = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find(MARK) {
        fixed.push_str(&rest[..at]);
        let after = &rest[at + MARK.len()..];
        let end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .expect("a type name ends");
        fixed.push_str(c_type_name(&after[..end]));
        fixed.push_str(" *");
        rest = after[end..].trim_start();
    }
    fixed.push_str(rest);
    fixed
}

/// The C name of an element type cbindgen spells as in Rust inside a typedef's name
/// (`VppVec_u8`): Rust's integer names become `<stdint.h>`'s.
fn c_type_name(rust: &str) -> &str {
    match rust {
        "u8" => "uint8_t",
        "u16" => "uint16_t",
        "u32" => "uint32_t",
        "u64" => "uint64_t",
        other => other,
    }
}

/// VPP declares its callback types as function types (`typedef u8
/// *(vnet_flow_rewrite_callback_t) (...)`) and its fields as pointers to them, with
/// `flow_report_main_t *` and `vlib_frame_t *` parameters; callers name the types that
/// way (`vnet_flow_rewrite_callback_t *cb`), so the header does too.
fn vpp_callback_types(text: &str) -> String {
    let replacements = [
        (
            "typedef uint8_t *(*vnet_flow_rewrite_callback_t)(",
            "typedef uint8_t *(vnet_flow_rewrite_callback_t)(",
        ),
        (
            "typedef void *(*vnet_flow_data_callback_t)(void *frm,",
            "typedef struct vlib_frame_t *(vnet_flow_data_callback_t)(struct flow_report_main *frm,",
        ),
        (
            "void *frame,\n",
            "struct vlib_frame_t *frame,\n",
        ),
        (
            "vnet_flow_rewrite_callback_t rewrite_callback;",
            "vnet_flow_rewrite_callback_t *rewrite_callback;",
        ),
        (
            "vnet_flow_data_callback_t flow_data_callback;",
            "vnet_flow_data_callback_t *flow_data_callback;",
        ),
    ];
    let mut out = text.to_string();
    for (from, to) in replacements {
        assert!(out.contains(from), "generated header has no `{from}`");
        out = out.replace(from, to);
    }
    out
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
