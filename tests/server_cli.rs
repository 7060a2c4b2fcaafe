//! `netcore serve` as a program: it reports where it listens, serves, and stops cleanly on
//! SIGTERM and SIGINT with exit code 0; bad arguments exit 2.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn netcore() -> Command {
    Command::new(env!("CARGO_BIN_EXE_netcore"))
}

/// Runs `netcore serve ARGS`, lets `exchange` talk to it, stops it with `signal` and returns
/// its last stderr line, the shutdown summary.
fn serve_and_signal(args: &[&str], signal: i32, exchange: impl FnOnce(&str)) -> String {
    let mut child = netcore().arg("serve").args(args).stderr(Stdio::piped()).spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.starts_with("netcore: serving"), "{line:?}");
    let addr = line.trim().rsplit(' ').next().unwrap().to_string();
    exchange(&addr);
    // SAFETY: signalling the child this test started, by its own pid.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("netcore: stopped after"), "{rest}");
    rest.lines().last().unwrap_or_default().to_string()
}

#[test]
fn serve_command_until_sigterm() {
    serve_and_signal(&["--service", "command", "--listen", "127.0.0.1:0"], libc::SIGTERM, |addr| {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(b"os\nquit\n").unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert_eq!(out, "[posix]\nbye\n");
    });
}

#[test]
fn serve_greet_in_message_mode_until_ctrl_c() {
    serve_and_signal(
        &["--service", "greet", "--framing", "message", "--listen", "127.0.0.1:0"],
        libc::SIGINT,
        |addr| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut buf = [0u8; 100];
            let n = c.read(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"Hello, I am server");
            c.write_all(b"cli").unwrap();
            let n = c.read(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"Hello, cli!");
        },
    );
}

#[test]
fn bad_serve_arguments_exit_2() {
    for args in [
        &["--service", "shell"][..],
        &["--listen", "nowhere"],
        &["--framing", "xml"],
        &["--root", "/no/such/dir", "--listen", "127.0.0.1:0"],
    ] {
        let out = netcore().arg("serve").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn the_shutdown_summary_gets_its_plurals_right() {
    let listen = ["--listen", "127.0.0.1:0"];
    assert_eq!(
        serve_and_signal(&listen, libc::SIGTERM, |_| {}),
        "netcore: stopped after 0 connections, 0 requests (0 errors, 0 rejected)"
    );
    let one = serve_and_signal(&listen, libc::SIGTERM, |addr| {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(b"quit\n").unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
    });
    assert_eq!(one, "netcore: stopped after 1 connection, 1 request (0 errors, 0 rejected)");
}

#[test]
fn a_port_in_use_is_named_in_the_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = netcore().args(["serve", "--listen", &addr]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("netcore: cannot listen on {addr}: address already in use\n")
    );
}
