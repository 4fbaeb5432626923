//! `make install` as a C user runs it: the files it lays out (the soname link chain,
//! modes), the pkg-config file, `examples/c/hello.c` built against the installed copy with
//! nothing but pkg-config's flags (shared, and static with `--static`), and a DESTDIR
//! install and uninstall. The first install builds the release library through make,
//! which takes a while on a fresh tree.
//!
//! Needs make, a C compiler, pkg-config and readelf: `scripts/setup-debian.sh` (which
//! `make test` runs) installs them.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::accounting::{check_sequences, decode_datagrams};
use common::ipfix::{be_uint, Decoder};
use common::packet::datagrams_from_pcap;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const SO_REAL: &str = concat!(
    "libvpp_ipfix.so.",
    env!("CARGO_PKG_VERSION_MAJOR"),
    ".",
    env!("CARGO_PKG_VERSION_MINOR"),
    ".",
    env!("CARGO_PKG_VERSION_PATCH")
);
const SO_MAJOR: &str = concat!("libvpp_ipfix.so.", env!("CARGO_PKG_VERSION_MAJOR"));

/// One installed file, relative to the prefix.
enum Entry {
    File { mode: u32 },
    Link { to: &'static str },
}

/// Everything an install lays out, relative to the prefix (LIBDIR, INCLUDEDIR and
/// PKGCONFIGDIR at their defaults).
fn layout() -> BTreeMap<String, Entry> {
    BTreeMap::from([
        (format!("lib/{SO_REAL}"), Entry::File { mode: 0o755 }),
        (format!("lib/{SO_MAJOR}"), Entry::Link { to: SO_REAL }),
        ("lib/libvpp_ipfix.so".into(), Entry::Link { to: SO_MAJOR }),
        ("lib/libvpp_ipfix.a".into(), Entry::File { mode: 0o644 }),
        ("include/vpp_ipfix.h".into(), Entry::File { mode: 0o644 }),
        (
            "lib/pkgconfig/vpp-ipfix.pc".into(),
            Entry::File { mode: 0o644 },
        ),
    ])
}

/// A directory of its own under the system temp dir, removed when the test passes (kept
/// for a look when it fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("vpp-ipfix-install-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `command`; its stdout when it succeeds, else a panic showing `what` and its output.
fn run(what: &str, command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| {
        if e.kind() == ErrorKind::NotFound {
            panic!(
                "{what}: {:?} is not installed: run scripts/setup-debian.sh (make test does)",
                command.get_program()
            )
        }
        panic!("{what}: cannot run {:?}: {e}", command.get_program())
    });
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `make -C <repo> <args>`, one at a time in this process (the first builds the release
/// library), with none of the install variables inherited from the environment or from
/// an outer make (`make test`).
fn make(args: &[&str]) -> String {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut command = Command::new("make");
    command.arg("-C").arg(ROOT).args(args);
    for var in [
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "DESTDIR",
        "PREFIX",
        "LIBDIR",
        "INCLUDEDIR",
        "PKGCONFIGDIR",
    ] {
        command.env_remove(var);
    }
    run(&format!("make {}", args.join(" ")), &mut command)
}

/// `make install PREFIX=<prefix>`, no DESTDIR.
fn install(prefix: &Path) {
    make(&["install", &format!("PREFIX={}", prefix.display())]);
}

/// Points pkg-config at the `vpp-ipfix.pc` of `prefix`.
fn find_pc_in<'a>(command: &'a mut Command, prefix: &Path) -> &'a mut Command {
    command
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .env_remove("PKG_CONFIG_SYSROOT_DIR")
}

/// `pkg-config <args> vpp-ipfix` of `prefix`.
fn pkg_config(prefix: &Path, args: &[&str]) -> String {
    let what = format!("pkg-config {} vpp-ipfix", args.join(" "));
    run(
        &what,
        find_pc_in(&mut Command::new("pkg-config"), prefix)
            .args(args)
            .arg("vpp-ipfix"),
    )
}

/// Files, symlinks and directories below `dir`: path relative to it -> is a directory.
fn tree(dir: &Path) -> BTreeMap<String, bool> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, bool>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            let is_dir = fs::symlink_metadata(&path).expect("stat").is_dir();
            let rel = path.strip_prefix(root).expect("below root");
            out.insert(rel.display().to_string(), is_dir);
            if is_dir {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The files (not directories) below `dir`.
fn files_below(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|(_, is_dir)| !is_dir)
        .map(|(path, _)| path)
        .collect()
}

/// Checks that `prefix` holds exactly `layout()`, each file with its mode, each link
/// pointing where it should, and the header as the tree has it.
fn check_layout(prefix: &Path) {
    let want = layout();
    assert_eq!(
        files_below(prefix),
        want.keys().cloned().collect::<Vec<_>>(),
        "files under {}",
        prefix.display()
    );
    for (rel, entry) in &want {
        let path = prefix.join(rel);
        let meta = fs::symlink_metadata(&path).expect("stat");
        match entry {
            Entry::File { mode } => {
                assert!(meta.file_type().is_file(), "{rel} is not a regular file");
                assert_eq!(
                    meta.permissions().mode() & 0o7777,
                    *mode,
                    "mode of {rel}: {:o}",
                    meta.permissions().mode()
                );
            }
            Entry::Link { to } => {
                assert!(meta.file_type().is_symlink(), "{rel} is not a symlink");
                assert_eq!(fs::read_link(&path).expect("readlink"), Path::new(to));
            }
        }
    }
    assert_eq!(
        fs::read(prefix.join("include/vpp_ipfix.h")).expect("installed header"),
        fs::read(Path::new(ROOT).join("include/vpp_ipfix.h")).expect("tree's header"),
        "installed header differs from include/vpp_ipfix.h"
    );
}

fn readelf_dynamic(file: &Path) -> String {
    run(
        &format!("readelf -d {}", file.display()),
        Command::new("readelf").arg("-d").arg(file),
    )
}

/// Builds `examples/c/hello.c` in a fresh `dir` with `build` (a shell command naming
/// `hello.c` and writing `program`), runs it with `env` and checks its output and its
/// pcap file: the template and five records it writes, to 127.0.0.1 from 127.0.0.2.
fn build_and_run_hello(
    dir: &Path,
    prefix: &Path,
    build: &str,
    program: &str,
    env: &[(&str, &Path)],
) -> PathBuf {
    fs::copy(
        Path::new(ROOT).join("examples/c/hello.c"),
        dir.join("hello.c"),
    )
    .expect("copy examples/c/hello.c");
    // pkg-config on its own first: a failure inside $(...) would only show as cc's.
    pkg_config(prefix, &["--cflags", "--libs"]);
    run(
        &format!("`{build}`"),
        find_pc_in(&mut Command::new("sh"), prefix)
            .current_dir(dir)
            .args(["-c", build]),
    );
    let binary = dir.join(program);
    let pcap = dir.join(format!("{program}.pcap"));
    let mut command = Command::new(&binary);
    command.current_dir(dir).arg(&pcap);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = run(program, &mut command);
    assert_eq!(out.trim(), "hello: ok", "{program} printed {out:?}");

    let datagrams = datagrams_from_pcap(&pcap).expect("hello's pcap reads");
    for d in &datagrams {
        assert_eq!(d.src, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(d.dst, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!((d.src_port, d.dst_port), (30001, 4739));
    }
    let messages = decode_datagrams(&mut Decoder::new(), &datagrams).expect("IPFIX decodes");
    let templates: Vec<_> = messages.iter().flat_map(|(_, m)| &m.templates).collect();
    assert_eq!(templates.len(), 1, "one template");
    assert_eq!(templates[0].id, 256);
    let fields: Vec<_> = templates[0]
        .fields
        .iter()
        .map(|f| (f.element_id, f.length))
        .collect();
    assert_eq!(fields, [(8, 4), (12, 4), (1, 8)]);
    let records: Vec<Vec<u64>> = messages
        .iter()
        .flat_map(|(_, m)| &m.data_records)
        .map(|r| r.values.iter().map(|v| be_uint(v)).collect())
        .collect();
    let want: Vec<Vec<u64>> = (0..5u64)
        .map(|i| vec![0x0a00_0000 + i, 0xc000_0201, 64 * (i + 1)])
        .collect();
    assert_eq!(records, want, "records in {}", pcap.display());
    assert_eq!(
        check_sequences(&messages).expect("sequence numbers").len(),
        1
    );
    binary
}

#[test]
fn make_install_lays_out_the_library_and_its_pkg_config_file() {
    let scratch = Scratch::new("prefix");
    let prefix = scratch.0.join("prefix");
    install(&prefix);
    check_layout(&prefix);

    let dynamic = readelf_dynamic(&prefix.join("lib").join(SO_REAL));
    assert!(
        dynamic.contains(&format!("Library soname: [{SO_MAJOR}]")),
        "SONAME of the installed library:\n{dynamic}"
    );

    let flags = pkg_config(&prefix, &["--cflags", "--libs"]);
    let want = format!("-I{p}/include -L{p}/lib -lvpp_ipfix", p = prefix.display());
    assert_eq!(
        flags.split_whitespace().collect::<Vec<_>>(),
        want.split_whitespace().collect::<Vec<_>>(),
        "pkg-config --cflags --libs"
    );
    let version = pkg_config(&prefix, &["--modversion"]);
    assert_eq!(version.trim(), VERSION);
    let static_libs = pkg_config(&prefix, &["--static", "--libs"]);
    for flag in ["-lvpp_ipfix", "-lpthread", "-ldl", "-lm", "-lgcc_s"] {
        assert!(
            static_libs.split_whitespace().any(|f| f == flag),
            "{flag} missing from pkg-config --static --libs: {static_libs}"
        );
    }

    // Installing again over an install is fine and changes nothing.
    install(&prefix);
    check_layout(&prefix);
}

#[test]
fn c_program_builds_with_pkg_config_against_the_installed_shared_library() {
    let scratch = Scratch::new("shared");
    let prefix = scratch.0.join("prefix");
    install(&prefix);
    let work = scratch.0.join("work");
    fs::create_dir_all(&work).expect("work dir");
    let lib = prefix.join("lib");
    let hello = build_and_run_hello(
        &work,
        &prefix,
        "cc hello.c $(pkg-config --cflags --libs vpp-ipfix) -o hello",
        "hello",
        &[("LD_LIBRARY_PATH", &lib)],
    );
    let dynamic = readelf_dynamic(&hello);
    assert!(
        dynamic.contains(&format!("Shared library: [{SO_MAJOR}]")),
        "hello does not need {SO_MAJOR}:\n{dynamic}"
    );
}

#[test]
fn c_program_links_the_installed_static_library_with_pkg_config_static() {
    let scratch = Scratch::new("static");
    let prefix = scratch.0.join("prefix");
    install(&prefix);
    // A libdir holding the archive alone, as a static-only install has it, so that
    // `-lvpp_ipfix` picks libvpp_ipfix.a and Libs.private must bring in the rest.
    let static_lib = scratch.0.join("static-lib");
    fs::create_dir_all(&static_lib).expect("static lib dir");
    std::os::unix::fs::symlink(
        prefix.join("lib/libvpp_ipfix.a"),
        static_lib.join("libvpp_ipfix.a"),
    )
    .expect("link the archive");
    let work = scratch.0.join("work");
    fs::create_dir_all(&work).expect("work dir");
    let build = format!(
        "cc hello.c $(pkg-config --define-variable=libdir={} --static --cflags --libs \
         vpp-ipfix) -o hello-static",
        static_lib.display()
    );
    let hello = build_and_run_hello(&work, &prefix, &build, "hello-static", &[]);
    let dynamic = readelf_dynamic(&hello);
    assert!(
        !dynamic.contains("libvpp_ipfix"),
        "hello-static still needs the shared library:\n{dynamic}"
    );
}

#[test]
fn destdir_install_stays_in_the_stage_and_uninstall_removes_it() {
    let scratch = Scratch::new("destdir");
    let stage = scratch.0.join("stage");
    let vars = [
        format!("DESTDIR={}", stage.display()),
        "PREFIX=/usr".to_string(),
    ];
    let vars: Vec<&str> = vars.iter().map(String::as_str).collect();

    // Before anything is written for real: no command names a path of the real /usr
    // (this test may run as root).
    let plan = make(&[&["-n", "install"][..], &vars].concat());
    for rel in layout().keys() {
        let real = format!("/usr/{rel}");
        assert!(
            !plan.split_whitespace().any(|w| w == real),
            "make -n install writes {real} outside DESTDIR:\n{plan}"
        );
    }

    make(&[&["install"][..], &vars].concat());
    check_layout(&stage.join("usr"));
    let outside: Vec<_> = tree(&scratch.0)
        .into_keys()
        .filter(|p| !Path::new(p).starts_with("stage"))
        .collect();
    assert!(
        outside.is_empty(),
        "install wrote beside the stage: {outside:?}"
    );
    let pc = fs::read_to_string(stage.join("usr/lib/pkgconfig/vpp-ipfix.pc")).expect("pc");
    for line in [
        "prefix=/usr",
        "libdir=/usr/lib",
        "includedir=/usr/include",
        &format!("Version: {VERSION}"),
    ] {
        assert!(
            pc.lines().any(|l| l == line),
            "{line:?} missing from the staged vpp-ipfix.pc:\n{pc}"
        );
    }

    make(&[&["uninstall"][..], &vars].concat());
    assert_eq!(
        files_below(&stage),
        Vec::<String>::new(),
        "left after uninstall"
    );
}
