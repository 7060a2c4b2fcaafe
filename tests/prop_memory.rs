//! Properties of the engine's connection path served from memory (`Server::exchange_in_memory`,
//! the path the fuzz target `connection_memory` drives): for line and RESP framing, however
//! the client's bytes are split into writes, the replies are the same and come in request
//! order; the in-memory exchange gives exactly what a loopback client gets.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use netcore::server::{BoundAddr, Framing, Limits, Server, ServerConfig, Service};
use proptest::prelude::*;

const MAX_LINE: usize = 40;
const TIMEOUT: Duration = Duration::from_secs(20);

fn start(service: Service, framing: Framing) -> Server {
    let limits = Limits { max_line: MAX_LINE, ..Limits::default() };
    let mut config = ServerConfig::new(service).tcp("127.0.0.1:0".parse().unwrap()).limits(limits);
    config.framing = framing;
    config.workers = Some(1);
    Server::start(config).unwrap()
}

fn line_echo() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| start(Service::Echo, Framing::Line))
}

fn resp_command() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| start(Service::Command, Framing::Resp))
}

/// `bytes` cut at `cuts` (taken modulo its length, sorted) into writes.
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut writes = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        writes.push(&bytes[start..cut]);
        start = cut;
    }
    writes
}

fn over_loopback(server: &Server, bytes: &[u8]) -> Vec<u8> {
    let BoundAddr::Tcp(addr) = server.local_addrs()[0].clone() else { panic!("a TCP server") };
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(TIMEOUT)).unwrap();
    let _ = c.write_all(bytes);
    let _ = c.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    out
}

/// A RESP request and the exact reply the command service gives it.
fn resp_request(pick: usize, arg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let bulk = |b: &[u8]| [format!("${}\r\n", b.len()).into_bytes(), b.to_vec(), b"\r\n".to_vec()].concat();
    match pick {
        0 => (b"*1\r\n$4\r\nPING\r\n".to_vec(), b"+PONG\r\n".to_vec()),
        1 => ([b"*2\r\n".to_vec(), bulk(b"ECHO"), bulk(arg)].concat(), bulk(arg)),
        2 => (b"*1\r\n$2\r\nos\r\n".to_vec(), b"$7\r\n[posix]\r\n".to_vec()),
        _ => (b"PING\r\n".to_vec(), b"+PONG\r\n".to_vec()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn line_replies_do_not_depend_on_the_split(
        reqs in proptest::collection::vec("[a-z0-9 ]{0,12}", 1..16),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let bytes: Vec<u8> = reqs.iter().flat_map(|r| format!("{r}\n").into_bytes()).collect();
        let whole = line_echo().exchange_in_memory(&[&bytes], TIMEOUT).unwrap();
        let split_up = line_echo().exchange_in_memory(&split(&bytes, &cuts), TIMEOUT).unwrap();
        prop_assert_eq!(&split_up, &whole, "cut at {:?}", cuts);
        prop_assert_eq!(whole, bytes);
    }

    #[test]
    fn resp_replies_do_not_depend_on_the_split(
        picks in proptest::collection::vec((0..4usize, proptest::collection::vec(any::<u8>(), 0..20)), 1..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let (requests, replies): (Vec<_>, Vec<_>) = picks.iter().map(|(p, arg)| resp_request(*p, arg)).unzip();
        let bytes = requests.concat();
        let got = resp_command().exchange_in_memory(&split(&bytes, &cuts), TIMEOUT).unwrap();
        prop_assert_eq!(got, replies.concat(), "cut at {:?}", cuts);
    }
}

#[test]
fn memory_and_loopback_give_the_same_bytes() {
    let inputs: [&[u8]; 4] =
        [b"hello\nworld\r\n", b"no newline at the end", &[b'x'; MAX_LINE * 2], b"\xff\xfe binary \x00 line\n"];
    for input in inputs {
        let memory = line_echo().exchange_in_memory(&[input], TIMEOUT).unwrap();
        assert_eq!(memory, over_loopback(line_echo(), input), "{input:?}");
    }
    let resp = b"*2\r\n$4\r\nECHO\r\n$3\r\na\x00b\r\nPING\r\n*1\r\n$3\r\nBAD\r\n";
    assert_eq!(resp_command().exchange_in_memory(&[resp], TIMEOUT).unwrap(), over_loopback(resp_command(), resp));
}
