//! The public client API from outside the crate: interrupt checks, Unix sockets, greetings
//! then lines, and the state after an error.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use netcore::client::{Client, Interrupt, Options, Target};
use netcore::Error;

fn silent_server() -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        // Read until the client goes away, never answering.
        for _ in BufReader::new(stream).lines() {}
    });
    (port, handle)
}

#[test]
fn a_failing_check_abandons_the_wait_and_closes() {
    let (port, server) = silent_server();
    let mut c = Client::connect("127.0.0.1", port, Options { timeout: None, ..Options::default() }).unwrap();
    let mut calls = 0;
    let mut check = || {
        calls += 1;
        if calls == 3 {
            Err(Error::Failed("interrupted".into()))
        } else {
            Ok(())
        }
    };
    let started = Instant::now();
    let err = c.request_checked(b"anyone?", Interrupt::new(&mut check)).unwrap_err();
    assert!(matches!(err, Error::Failed(ref m) if m == "interrupted"), "{err}");
    // Three checks, about 50 ms apart: well under the (absent) timeout.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!c.is_open());
    assert!(matches!(c.request(b"x"), Err(Error::InvalidState(_))));
    drop(c);
    server.join().unwrap();
}

#[test]
fn greeting_then_lines_then_server_close() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(b"220 ready\r\n").unwrap();
        let mut lines = BufReader::new(stream.try_clone().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        stream.write_all(format!("echo {first}\n").as_bytes()).unwrap();
        // Then hang up without answering the next request.
        let _ = lines.next();
    });
    let mut c = Client::connect_to(Target::Tcp { host: "localhost".into(), port }, Options::default()).unwrap();
    assert_eq!(c.read_line().unwrap(), b"220 ready");
    assert_eq!(c.request(b"one").unwrap(), b"echo one");
    assert!(matches!(c.request(b"two"), Err(Error::ConnectionClosed)));
    server.join().unwrap();
    assert_eq!(Target::Tcp { host: "::1".into(), port: 7 }.to_string(), "[::1]:7");
}

#[test]
fn unknown_host_and_bad_options() {
    let err = Client::connect("no-such-host.invalid", 80, Options::default()).unwrap_err();
    assert!(matches!(err, Error::AddressInfo { .. }), "{err}");
    let err = Client::connect("127.0.0.1", 80, Options { max_reply: 0, ..Options::default() }).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let err = Client::connect_unix("/nonexistent/dir/sock", Options::default()).unwrap_err();
    assert_eq!(err.code(), libc::ENOENT, "{err}");
}
