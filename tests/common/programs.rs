//! Building, running and reading the C programs the tests drive: libvpp_ipfix.so from
//! the current sources, the ffi-tests/ binaries linked against it (run as they are or
//! under a checker), their verdicts and their `key=value` output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// target/debug (or release): where cargo put libvpp_ipfix.so for this test run.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/..")
        .to_path_buf()
}

/// `cargo test` builds the crate as an rlib only: build libvpp_ipfix.so from the current
/// sources too, in this test run's profile, so no program links a stale one.
pub fn build_shared_library() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cargo
            .args(["build", "--lib", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        if lib_dir().ends_with("release") {
            cargo.arg("--release");
        }
        let result = cargo.output().expect("cargo runs");
        assert!(
            result.status.success(),
            "building libvpp_ipfix.so failed:\n{}",
            String::from_utf8_lossy(&result.stderr)
        );
        assert!(
            lib_dir().join("libvpp_ipfix.so").exists(),
            "no .so in {}",
            lib_dir().display()
        );
    });
}

/// Builds ffi-tests/ into `lib_dir()/out_name` (each test program its own directory, so
/// two never run make in one at once); with AddressSanitizer and UBSan when `sanitize`.
pub fn build_ffi_tests(out_name: &str, sanitize: bool) -> PathBuf {
    build_c_programs("ffi-tests", out_name, sanitize)
}

/// Builds the C programs of `source_dir` (ffi-tests, benches/c: each has a Makefile
/// taking LIBDIR and OUT) into `lib_dir()/out_name`, against the library built from the
/// current sources; with AddressSanitizer and UBSan when `sanitize`.
pub fn build_c_programs(source_dir: &str, out_name: &str, sanitize: bool) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _one_make_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    build_shared_library();
    let out = lib_dir().join(out_name);
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(source_dir))
        .arg(format!("LIBDIR={}", lib_dir().display()))
        .arg(format!("OUT={}", out.display()));
    if sanitize {
        make.arg("SANITIZE=1");
    }
    let result = make
        .output()
        .expect("make runs (is it installed? run scripts/setup-debian.sh)");
    assert!(
        result.status.success(),
        "building {source_dir} failed:\n{}",
        text(&result)
    );
    out
}

/// A program's stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `key=value` pairs of the lines starting with `prefix`.
pub fn fields_of(out: &str, prefix: &str) -> Vec<HashMap<String, String>> {
    out.lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The number `k` of a `fields_of` line.
pub fn num(m: &HashMap<String, String>, k: &str) -> u64 {
    m.get(k)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {k} in {m:?}"))
}

/// The ffi-tests/ binaries, built once per test process and variant (plain, or with
/// AddressSanitizer and UBSan).
pub fn harness_dir(sanitize: bool) -> PathBuf {
    static PLAIN: OnceLock<PathBuf> = OnceLock::new();
    static ASAN: OnceLock<PathBuf> = OnceLock::new();
    let (cell, name) = if sanitize {
        (&ASAN, "ffi-tests-asan")
    } else {
        (&PLAIN, "ffi-tests")
    };
    cell.get_or_init(|| build_ffi_tests(name, sanitize)).clone()
}

/// valgrind memcheck as the C programs run under it: any error or definite leak fails.
pub const VALGRIND: &[&str] = &[
    "valgrind",
    "--quiet",
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
];

/// Runs `program` with `args`, under `wrapper` (e.g. [`VALGRIND`]) unless it is empty.
pub fn run(program: &Path, args: &[&str], wrapper: &[&str]) -> Output {
    let mut cmd = if let Some((first, rest)) = wrapper.split_first() {
        let mut c = Command::new(first);
        c.args(rest).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

/// Its output, after checking that it exited with 0.
pub fn expect_success(name: &str, o: &Output) -> String {
    let t = text(o);
    assert!(o.status.success(), "{name} failed ({}):\n{t}", o.status);
    t
}

/// Checks a self-checking harness's "NAME: N passed, 0 failed" line.
pub fn expect_all_passed(name: &str, o: &Output) {
    let t = expect_success(name, o);
    let line = t
        .lines()
        .find(|l| l.starts_with(&format!("{name}: ")) && l.contains(" passed, "))
        .unwrap_or_else(|| panic!("{name} printed no verdict:\n{t}"));
    let passed: u32 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(line.ends_with(" 0 failed"), "{line}");
    assert!(passed > 10, "{name} checked too little: {line}");
}
