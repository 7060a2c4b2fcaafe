//! Properties of the stream path through a real server on loopback: however the client's
//! bytes are split into writes, the replies are the same, one per request, in request order,
//! and the line limit holds. Bounded: a few dozen cases, each a short connection.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use netcore::server::{BoundAddr, Limits, Server, ServerConfig, Service};
use proptest::prelude::*;

const MAX_LINE: usize = 40;

fn server(service: Service) -> SocketAddr {
    let limits = Limits { max_line: MAX_LINE, ..Limits::default() };
    // `ls` lists a directory nobody changes while the test runs.
    let root = tempfile::tempdir().unwrap().keep();
    std::fs::write(root.join("a file"), "").unwrap();
    let config = ServerConfig::new(service).tcp("127.0.0.1:0".parse().unwrap()).limits(limits).root(root);
    let server = Server::start(config).unwrap();
    let addr = match &server.local_addrs()[0] {
        BoundAddr::Tcp(a) => *a,
        other => panic!("{other:?}"),
    };
    std::mem::forget(server); // lives for the whole test process
    addr
}

fn echo_server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| server(Service::Echo))
}

fn command_server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| server(Service::Command))
}

/// Sends `bytes` in writes cut at `cuts` (a short pause after each, so the server reads them
/// apart), half-closes, and returns everything the server sent until it closed.
fn exchange(addr: SocketAddr, bytes: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        // A write after the server closed (after an over-long line) may fail: that is its answer.
        if c.write_all(&bytes[start..cut]).is_err() {
            break;
        }
        start = cut;
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = c.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    out
}

/// Request lines: printable words (never starting like an HTTP method), some with `\r\n`.
fn requests() -> impl Strategy<Value = Vec<(String, bool)>> {
    proptest::collection::vec(("[a-z0-9 ]{0,12}", any::<bool>()), 1..12)
}

fn stream_of(requests: &[(String, bool)]) -> Vec<u8> {
    requests.iter().flat_map(|(r, crlf)| format!("{r}{}", if *crlf { "\r\n" } else { "\n" }).into_bytes()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_same_replies_in_request_order(
        reqs in requests(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = stream_of(&reqs);
        let whole = exchange(echo_server(), &bytes, &[]);
        let split = exchange(echo_server(), &bytes, &cuts);
        prop_assert_eq!(&split, &whole, "cut at {:?}", cuts);
        let expected: Vec<u8> = reqs.iter().flat_map(|(r, _)| format!("{r}\n").into_bytes()).collect();
        prop_assert_eq!(whole, expected);
    }

    #[test]
    fn command_replies_do_not_depend_on_the_split(
        picks in proptest::collection::vec(0..5usize, 1..10),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let words = ["os", "help", "ls", "hello there", "ls /"];
        let bytes: Vec<u8> = picks.iter().flat_map(|&i| format!("{}\n", words[i]).into_bytes()).collect();
        let whole = exchange(command_server(), &bytes, &[]);
        let split = exchange(command_server(), &bytes, &cuts);
        prop_assert_eq!(&split, &whole);
        prop_assert_eq!(whole.iter().filter(|&&b| b == b'\n').count(), picks.len(), "one reply line per request");
    }

    #[test]
    fn the_line_limit_holds_at_every_length_and_split(
        lens in proptest::collection::vec(0..(MAX_LINE * 2), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let reqs: Vec<String> = lens.iter().map(|&n| "x".repeat(n)).collect();
        let bytes: Vec<u8> = reqs.iter().flat_map(|r| format!("{r}\n").into_bytes()).collect();
        let out = String::from_utf8(exchange(echo_server(), &bytes, &cuts)).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        // Requests up to the limit come back; the first longer one gets the error, then the close.
        let ok = lens.iter().take_while(|&&n| n <= MAX_LINE).count();
        for (i, line) in lines.iter().enumerate() {
            if i < ok {
                prop_assert_eq!(*line, reqs[i].as_str());
            } else {
                prop_assert_eq!(*line, format!("error: line too long (limit {MAX_LINE} bytes)"));
            }
        }
        prop_assert_eq!(lines.len(), if ok < lens.len() { ok + 1 } else { ok }, "{:?}", out);
    }
}
