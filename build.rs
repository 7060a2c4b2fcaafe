//! Build steps: the C library's SONAME, and Python's socket constants from the platform's
//! C headers (src/socket/constants.list).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    soname();
    socket_constants();
}

/// Gives the C library a SONAME so programs link against the ABI major version, not the
/// unversioned development symlink. The Python extension needs none.
fn soname() {
    let is_linux = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let python = env::var_os("CARGO_FEATURE_PYTHON").is_some();
    if is_linux && !python {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnetcore.so.{major}");
    }
}

/// The headers CPython's socketmodule.c takes its Linux constants from.
const HEADERS: &[&str] = &[
    "errno.h",
    "sys/socket.h",
    "sys/un.h",
    "sys/ioctl.h",
    "netinet/in.h",
    "netinet/tcp.h",
    "netinet/udp.h",
    "arpa/inet.h",
    "netdb.h",
    "net/if.h",
    "netpacket/packet.h",
    "linux/netlink.h",
    "linux/tipc.h",
    "linux/can.h",
    "linux/can/raw.h",
    "linux/can/bcm.h",
    "linux/can/isotp.h",
    "linux/can/j1939.h",
    "linux/vm_sockets.h",
    "linux/if_alg.h",
    "linux/qrtr.h",
    "linux/rds.h",
];

/// Writes `$OUT_DIR/socket_constants.rs`, a `&[(&str, i64)]` of the constants the headers
/// define, by compiling and running a C program made from the list. Each value goes through
/// `long`, as CPython's `PyModule_AddIntMacro` does.
fn socket_constants() {
    let list_path = "src/socket/constants.list";
    println!("cargo:rerun-if-changed={list_path}");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let table = out.join("socket_constants.rs");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        fs::write(&table, "[]\n").expect("write socket_constants.rs");
        return;
    }
    if env::var("HOST") != env::var("TARGET") {
        panic!("netcore generates its socket constants by running a C program for the target; cross-compiling is not supported");
    }
    let list = fs::read_to_string(list_path).expect("read src/socket/constants.list");
    let mut fallbacks = String::new();
    let mut body = String::new();
    for line in list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (name, rest) = line.split_once(char::is_whitespace).map_or((line, ""), |(n, r)| (n, r.trim()));
        let print = |expr: &str| format!("    printf(\"    (\\\"{name}\\\", %ld),\\n\", (long)({expr}));\n");
        if let Some(value) = rest.strip_prefix("?=") {
            let _ = write!(fallbacks, "#ifndef {name}\n#define {name} {}\n#endif\n", value.trim());
            body += &print(name);
        } else if let Some(expr) = rest.strip_prefix('=') {
            body += &print(expr.trim());
        } else {
            let _ = write!(body, "#ifdef {name}\n{}#endif\n", print(name));
        }
    }
    let mut c = String::from("#define _GNU_SOURCE\n#include <stdio.h>\n");
    for h in HEADERS {
        let _ = writeln!(c, "#include <{h}>");
    }
    c += &fallbacks;
    c += "int main(void) {\n    printf(\"[\\n\");\n";
    c += &body;
    c += "    printf(\"]\\n\");\n    return 0;\n}\n";
    let src = out.join("socket_constants.c");
    let exe = out.join("socket_constants");
    fs::write(&src, c).expect("write socket_constants.c");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc).arg("-o").arg(&exe).arg(&src).status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!("compiling {} with {cc} failed ({other:?}): netcore needs a C compiler and the Linux headers (linux-libc-dev)", src.display()),
    }
    let output = Command::new(&exe).output().expect("run the socket constants generator");
    assert!(output.status.success(), "the socket constants generator failed");
    fs::write(&table, output.stdout).expect("write socket_constants.rs");
}
