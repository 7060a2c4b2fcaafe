//! Batches (issue 13) from Rust: the requests a client pipelined reach the handlers of one
//! lane together, in order, with whatever the lane costs paid once per batch; closures and
//! handlers (`Lane::Inline` by default), ones marked `Blocking` (`Lane::Blocking`), an
//! `Enter` context and `Offload` threads all go through the one request path.

mod lanes;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use lanes::{Counting, Thread};
use netcore::server::{Blocking, BoundAddr, Handler, Lane, Request, Response, Server, ServerConfig, Service};

const T: Duration = Duration::from_secs(20);

fn addr(s: &Server) -> SocketAddr {
    s.local_addrs()
        .iter()
        .find_map(|a| if let BoundAddr::Tcp(a) = a { Some(*a) } else { None })
        .expect("a TCP listener")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(T)).unwrap();
    c
}

/// Sends every line in one write, half-closes, returns the reply lines.
fn pipelined(addr: SocketAddr, lines: &[String]) -> Vec<String> {
    let mut c = connect(addr);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    c.write_all(text.as_bytes()).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out.lines().map(str::to_string).collect()
}

fn inc(r: &Request<'_>) -> Response {
    let n: i64 = std::str::from_utf8(r.args()).unwrap().parse().unwrap();
    Response::Reply((n + 1).to_string().into_bytes())
}

/// `inc` in a lane of our choosing.
struct InLane(Lane);

impl Handler for InLane {
    fn handle(&self, request: &Request<'_>) -> Response {
        inc(request)
    }
    fn lane(&self) -> Lane {
        self.0.clone()
    }
}

#[test]
fn a_pipelined_batch_enters_its_lane_once_and_keeps_the_order() {
    let counting = Arc::new(Counting::default());
    let thread = Thread::start();
    let config = ServerConfig::new(Service::Command)
        .tcp("127.0.0.1:0".parse().unwrap())
        .command("entered", InLane(Lane::Entered(counting.clone())))
        .command("offloaded", InLane(Lane::Offloaded(thread.clone())))
        .command("inline", InLane(Lane::Inline))
        .command("closure", inc);
    let server = Server::start(config).unwrap();
    for kind in ["entered", "offloaded", "inline", "closure"] {
        let lines: Vec<String> = (0..200).map(|i| format!("{kind} {i}")).collect();
        let expected: Vec<String> = (0..200).map(|i| (i + 1).to_string()).collect();
        assert_eq!(pipelined(addr(&server), &lines), expected, "{kind}");
    }
    // 200 short lines in one write arrive in one read or a few: far fewer batches than requests.
    let entered = counting.0.load(Ordering::SeqCst);
    let offloaded = thread.batches.load(Ordering::SeqCst);
    assert!((1..=20).contains(&entered), "entered {entered} times for 200 requests");
    assert!((1..=20).contains(&offloaded), "offloaded {offloaded} batches for 200 requests");
}

#[test]
fn lanes_and_builtins_mixed_in_one_read_keep_the_order_and_a_panic_answers_only_itself() {
    let thread = Thread::start();
    let config = ServerConfig::new(Service::Command)
        .tcp("127.0.0.1:0".parse().unwrap())
        .command("a", InLane(Lane::Offloaded(thread)))
        .command("b", InLane(Lane::Inline))
        .command("boom", |_: &Request<'_>| -> Response { panic!("handler bug") });
    let server = Server::start(config).unwrap();
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for i in 0..300 {
        let (line, reply) = match i % 5 {
            0 => (format!("a {i}"), (i + 1).to_string()),
            1 => (format!("b {i}"), (i + 1).to_string()),
            2 => ("os".to_string(), "[posix]".to_string()),
            3 if i == 53 => ("boom".to_string(), "error: internal error in handler".to_string()),
            _ => (format!("a {i}"), (i + 1).to_string()),
        };
        lines.push(line);
        expected.push(reply);
    }
    assert_eq!(pipelined(addr(&server), &lines), expected);
    assert_eq!(server.stats().errors, 1);
}

#[test]
fn closures_run_inline_unless_marked_blocking() {
    // The default is the cheap lane (no hand-off, docs/benchmarks.md); blocking is asked for.
    let quick = |_: &Request<'_>| Response::Reply(b"x".to_vec());
    assert!(matches!(quick.lane(), Lane::Inline));
    assert!(matches!(Blocking(quick).lane(), Lane::Blocking));
    assert!(matches!(Blocking(InLane(Lane::Inline)).lane(), Lane::Blocking));
}

#[test]
fn a_closure_marked_blocking_stalls_no_other_client_on_one_worker() {
    let (entered_tx, entered) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let entered_tx = Mutex::new(entered_tx);
    let mut config = ServerConfig::new(Service::Command).tcp("127.0.0.1:0".parse().unwrap()).command(
        "block",
        Blocking(move |_: &Request<'_>| {
            entered_tx.lock().unwrap().send(()).unwrap();
            released.lock().unwrap().recv_timeout(T).unwrap();
            Response::Reply(b"released".to_vec())
        }),
    );
    config.workers = Some(1);
    let server = Server::start(config).unwrap();
    let mut slow = connect(addr(&server));
    slow.write_all(b"block\nos\n").unwrap();
    entered.recv_timeout(T).unwrap();
    for _ in 0..3 {
        let lines = vec!["os".to_string(), "os".to_string()];
        assert_eq!(pipelined(addr(&server), &lines), ["[posix]", "[posix]"]);
    }
    release.send(()).unwrap();
    let mut r = BufReader::new(slow);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "released\n");
    line.clear();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "[posix]\n");
}

#[test]
fn a_closing_reply_ends_the_batch_and_the_rest_is_never_run() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let config = ServerConfig::new(Service::Custom)
        .tcp("127.0.0.1:0".parse().unwrap())
        .command("n", move |r: &Request<'_>| {
            seen.fetch_add(1, Ordering::SeqCst);
            inc(r)
        })
        .command("bye", |_: &Request<'_>| Response::ReplyAndClose(b"bye".to_vec()));
    let server = Server::start(config).unwrap();
    let lines: Vec<String> = ["n 1", "n 2", "bye", "n 3", "n 4"].iter().map(|s| s.to_string()).collect();
    assert_eq!(pipelined(addr(&server), &lines), ["2", "3", "bye"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
