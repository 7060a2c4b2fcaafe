//! The engine's connection path served from memory (`Server::exchange_in_memory`: no
//! socket, so thousands of exchanges a second), fed arbitrary bytes in arbitrary writes for
//! line, message and RESP framing with a small line limit. Line and RESP framing: the
//! replies do not depend on how the bytes were split. Every framing: the exchange ends
//! within its bounds and the server keeps serving.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netcore::server::{Framing, Limits, Server, ServerConfig, Service};
use netcore_fuzz::tree;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    LineEcho,
    LineCommand,
    MessageEcho,
    RespCommand,
}

#[derive(Arbitrary, Debug)]
struct Input {
    kind: Kind,
    writes: Vec<Vec<u8>>,
}

const MAX_LINE: usize = 64;
const BOUND: Duration = Duration::from_secs(8);

fn server(kind: Kind) -> &'static Server {
    static SERVERS: OnceLock<Vec<Server>> = OnceLock::new();
    let servers = SERVERS.get_or_init(|| {
        let make = |service: Service, framing: Framing| {
            let limits = Limits { max_line: MAX_LINE, idle_timeout: Some(Duration::from_secs(5)), ..Limits::default() };
            let mut config = ServerConfig::new(service).tcp("127.0.0.1:0".parse().unwrap()).limits(limits);
            config.framing = framing;
            config.root = Some(tree().root.clone());
            config.workers = Some(1);
            Server::start(config).expect("a server")
        };
        vec![
            make(Service::Echo, Framing::Line),
            make(Service::Command, Framing::Line),
            make(Service::Echo, Framing::Message),
            make(Service::Command, Framing::Resp),
        ]
    });
    &servers[kind as usize]
}

fuzz_target!(|input: Input| {
    let server = server(input.kind);
    let writes: Vec<&[u8]> = input.writes.iter().take(16).map(|w| &w[..w.len().min(4 * MAX_LINE)]).collect();
    let split = server.exchange_in_memory(&writes, BOUND).expect("the server answered and closed within its bounds");
    if !matches!(input.kind, Kind::MessageEcho) {
        let whole: Vec<u8> = writes.concat();
        let unsplit =
            server.exchange_in_memory(&[&whole], BOUND).expect("the server answered and closed within its bounds");
        // `date` (and RESP's CLIENT ID, INFO) differ between connections; the rest must match.
        let varies = [&b"date"[..], b"DATE", b"CLIENT", b"client", b"INFO", b"info", b"HELLO", b"hello"];
        if !varies.iter().any(|v| whole.windows(v.len()).any(|w| w.eq_ignore_ascii_case(v))) {
            assert_eq!(split, unsplit, "the split changed the replies");
        }
    }
    let probe: &[u8] = if matches!(input.kind, Kind::RespCommand) { b"PING\r\n" } else { b"still there?\n" };
    assert!(server.exchange_in_memory(&[probe], BOUND).is_some_and(|o| !o.is_empty()), "the server stopped serving");
});
