//! The engine's stream path (reading, cutting requests, answering, framing replies) fed
//! arbitrary bytes in arbitrary writes over loopback, for line and message framing, echo and
//! command services, with a small line limit. Line framing: the replies do not depend on how
//! the bytes were split (the same bytes sent in one write give the same output). Every
//! framing: the server answers and closes within its bounds, and keeps serving.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netcore::server::{BoundAddr, Framing, Limits, Server, ServerConfig, Service};
use netcore_fuzz::tree;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    LineEcho,
    LineCommand,
    MessageEcho,
}

#[derive(Arbitrary, Debug)]
struct Input {
    kind: Kind,
    writes: Vec<Vec<u8>>,
}

const MAX_LINE: usize = 64;

fn server(kind: Kind) -> SocketAddr {
    static SERVERS: OnceLock<Vec<SocketAddr>> = OnceLock::new();
    let addrs = SERVERS.get_or_init(|| {
        let make = |service: Service, framing: Framing| {
            let limits = Limits { max_line: MAX_LINE, idle_timeout: Some(Duration::from_secs(5)), ..Limits::default() };
            let mut config = ServerConfig::new(service).tcp("127.0.0.1:0".parse().unwrap()).limits(limits);
            config.framing = framing;
            config.root = Some(tree().root.clone());
            config.workers = Some(1);
            let server = Server::start(config).expect("a loopback server");
            let BoundAddr::Tcp(addr) = server.local_addrs()[0].clone() else { unreachable!() };
            std::mem::forget(server); // serves for the whole fuzzing process
            addr
        };
        vec![
            make(Service::Echo, Framing::Line),
            make(Service::Command, Framing::Line),
            make(Service::Echo, Framing::Message),
        ]
    });
    addrs[kind as usize]
}

/// Sends each write, half-closes and reads to the end; `None` if the server did not finish.
fn exchange(addr: SocketAddr, writes: &[&[u8]]) -> Option<Vec<u8>> {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_nodelay(true).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    for w in writes {
        if c.write_all(w).is_err() {
            break; // closed after an over-long line or an HTTP-looking one: that is its answer
        }
    }
    let _ = c.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    match c.read_to_end(&mut out) {
        Ok(_) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(out),
        Err(_) => None,
    }
}

fuzz_target!(|input: Input| {
    let addr = server(input.kind);
    let writes: Vec<&[u8]> = input.writes.iter().take(16).map(|w| &w[..w.len().min(4 * MAX_LINE)]).collect();
    let split = exchange(addr, &writes).expect("the server answered and closed within its bounds");
    if let Kind::LineEcho | Kind::LineCommand = input.kind {
        let whole: Vec<u8> = writes.concat();
        let unsplit = exchange(addr, &[&whole]).expect("the server answered and closed within its bounds");
        // `date` differs from one second to the next; everything else must match exactly.
        if !whole.windows(4).any(|w| w == b"date") {
            assert_eq!(split, unsplit, "the split changed the replies");
        }
    }
    assert!(exchange(addr, &[b"still there?\n"]).is_some_and(|o| !o.is_empty()), "the server stopped serving");
});
