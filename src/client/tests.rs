//! The line and message client against small servers on loopback.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread;

/// A line server on 127.0.0.1 that answers each line with `f(line)`, for one connection.
fn serve_once(f: impl Fn(&str) -> Option<String> + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut out = stream.try_clone().unwrap();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            match f(&line) {
                Some(reply) => out.write_all(reply.as_bytes()).unwrap(),
                None => break,
            }
        }
    });
    port
}

fn opts() -> Options {
    Options { timeout: Some(Duration::from_secs(5)), ..Options::default() }
}

#[test]
fn request_strips_crlf_and_pipeline_keeps_order() {
    let port = serve_once(|l| Some(format!("got {l}\r\n")));
    let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
    assert_eq!(c.request(b"a").unwrap(), b"got a");
    let lines: Vec<String> = (0..2000).map(|i| format!("n{i}")).collect();
    let replies = c.pipeline(&lines).unwrap();
    assert_eq!(replies.len(), 2000);
    assert_eq!(replies[1999], b"got n1999");
    assert_eq!(replies[0], b"got n0");
}

#[test]
fn newline_in_request_is_rejected_and_connection_survives() {
    let port = serve_once(|l| Some(format!("{l}\n")));
    let mut c = Client::connect("localhost", port, opts()).unwrap();
    assert!(matches!(c.request(b"a\nb"), Err(Error::InvalidArgument(_))));
    assert_eq!(c.request(b"ok").unwrap(), b"ok");
}

#[test]
fn closed_mid_reply_and_then_invalid_state() {
    let port = serve_once(|_| None);
    let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
    assert!(matches!(c.request(b"x"), Err(Error::ConnectionClosed)));
    assert!(!c.closed_mid_reply(), "nothing of the reply had arrived");
    assert!(matches!(c.request(b"x"), Err(Error::InvalidState(_))));
    // A partial reply, then EOF, is "closed" too.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let port = serve_once(move |_| {
        (calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0).then(|| "partial".to_string())
    });
    let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
    assert!(matches!(c.pipeline(&["a", "b"]), Err(Error::ConnectionClosed)));
    assert!(c.closed_mid_reply());
}

#[test]
fn wait_for_close_sees_the_server_hang_up_and_keeps_early_bytes() {
    let port = serve_once(|l| (l != "bye").then(|| format!("{l}\n")));
    let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
    assert_eq!(c.request(b"a").unwrap(), b"a");
    assert!(!c.wait_for_close(Duration::ZERO).unwrap());
    assert!(!c.wait_for_close(Duration::from_millis(20)).unwrap());
    c.send(b"bye\n").unwrap();
    assert!(c.wait_for_close(Duration::from_secs(5)).unwrap());
    assert!(!c.is_open());

    let port = serve_once(|l| Some(format!("{l}\nunasked\n")));
    let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
    assert_eq!(c.request(b"b").unwrap(), b"b");
    assert!(!c.wait_for_close(Duration::from_secs(5)).unwrap(), "bytes, not a close");
    assert_eq!(c.read_line().unwrap(), b"unasked");
}

#[test]
fn reply_too_long_and_timeout() {
    let port = serve_once(|_| Some("x".repeat(100) + "\n"));
    let mut c = Client::connect("127.0.0.1", port, Options { max_reply: 10, ..opts() }).unwrap();
    assert!(matches!(c.request(b"q"), Err(Error::LineTooLong { limit: 10 })));

    let port = serve_once(|_| Some(String::new()));
    let mut c =
        Client::connect("127.0.0.1", port, Options { timeout: Some(Duration::from_millis(100)), ..opts() }).unwrap();
    assert!(matches!(c.request(b"q"), Err(Error::Timeout)));
}

#[test]
fn refused_is_typed() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = Client::connect("127.0.0.1", port, opts()).unwrap_err();
    assert_eq!(err.code(), libc::ECONNREFUSED, "{err}");
}

#[test]
fn message_framing_reads_until_quiet() {
    let port = serve_once(|l| Some(format!("[{l}]")));
    let mut c = Client::connect("127.0.0.1", port, Options { quiet: Duration::from_millis(50), ..opts() }).unwrap();
    assert_eq!(c.message(b"date\n").unwrap(), b"[date]");
    assert!(matches!(c.message(b""), Err(Error::InvalidArgument(_))));
}

#[test]
fn greeting_is_optional() {
    let port = serve_once(|l| Some(format!("{l}\n")));
    let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
    assert_eq!(c.greeting(Duration::from_millis(50)).unwrap(), None);
    assert!(c.is_open());
    assert_eq!(c.request(b"x").unwrap(), b"x");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"Thank you for connection").unwrap();
    });
    let mut c = Client::connect("127.0.0.1", port, Options { quiet: Duration::from_millis(50), ..opts() }).unwrap();
    assert_eq!(c.greeting(Duration::from_secs(5)).unwrap().unwrap(), b"Thank you for connection");
    assert!(!c.is_open(), "the server closed after its greeting");
}

#[test]
fn a_unix_socket_with_a_full_backlog_refuses_at_once_with_eagain() {
    // As CPython's socket with a timeout: a Unix listener whose queue is full makes connect
    // fail with EAGAIN; the client does not wait out its timeout or take itself for connected.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // SAFETY: a second listen on a listening socket only changes its backlog.
    assert_eq!(unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 0) }, 0);
    let started = std::time::Instant::now();
    let mut queued = Vec::new();
    let refused = loop {
        match Client::connect_unix(&path, opts()) {
            Ok(c) => queued.push(c),
            Err(e) => break e,
        }
        assert!(queued.len() < 16, "a backlog of 0 queued {} clients", queued.len());
    };
    assert_eq!(refused.code(), libc::EAGAIN, "{refused}");
    assert!(started.elapsed() < Duration::from_secs(2), "waited {:?} for a full queue", started.elapsed());
    drop(listener);
}

#[test]
fn unix_socket_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        s.write_all(&buf[..n]).unwrap();
    });
    let mut c = Client::connect_unix(&path, opts()).unwrap();
    assert_eq!(c.request(b"unix").unwrap(), b"unix");

    if let Ok(listener) = TcpListener::bind("[::1]:0") {
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"six\n").unwrap();
        });
        let mut c = Client::connect("::1", port, opts()).unwrap();
        assert_eq!(c.read_line().unwrap(), b"six");
        assert!(c.peer_addr().unwrap().is_ipv6());
    }
}

#[test]
fn a_zero_wait_for_close_still_looks_once() {
    // Mode::Sliced with no budget left makes one poll of 0 ms before the timeout.
    let port = serve_once(|l| (l != "bye").then(|| format!("{l}\n")));
    let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
    c.send(b"bye\n").unwrap();
    let seen = (0..500).any(|_| {
        thread::sleep(Duration::from_millis(10));
        c.wait_for_close(Duration::ZERO).unwrap()
    });
    assert!(seen, "the close was there to see");
}
