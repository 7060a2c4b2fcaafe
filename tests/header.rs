//! The committed C header must be exactly what cbindgen makes of the sources today, and its
//! version macros must match Cargo.toml. `NETCORE_BLESS=1` rewrites it (scripts/regen-header).
#![cfg(feature = "c-api")] // the C ABI the header declares

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn version_macros() -> String {
    format!(
        "#define NETCORE_VERSION_MAJOR {}\n#define NETCORE_VERSION_MINOR {}\n#define NETCORE_VERSION_PATCH {}\n#define NETCORE_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    )
}

fn generate() -> String {
    let mut config = cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("read cbindgen.toml");
    config.after_includes = Some(version_macros());
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root())
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

#[test]
fn committed_header_matches_sources() {
    let path = root().join("include/netcore.h");
    let fresh = generate();
    if std::env::var_os("NETCORE_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/netcore.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let first = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "include/netcore.h is out of date with src/ffi (first difference at line {}).\n\
             committed: {:?}\ngenerated: {:?}\nRun scripts/regen-header and commit the result.",
            first + 1,
            committed.lines().nth(first),
            fresh.lines().nth(first)
        );
    }
}

#[test]
fn header_version_matches_cargo_toml() {
    let header = std::fs::read_to_string(root().join("include/netcore.h")).expect("read header");
    assert!(
        header.contains(&version_macros()),
        "the header's NETCORE_VERSION_* macros differ from Cargo.toml's version {}",
        env!("CARGO_PKG_VERSION")
    );
    let from_lib = unsafe { std::ffi::CStr::from_ptr(netcore::ffi::netcore_version()) };
    assert_eq!(from_lib.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}
