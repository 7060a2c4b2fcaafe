//! A RESP command server with two user commands written in Rust, for bench/resp_bench.py:
//! `rping` (a quick handler, `Lane::Inline`) and `cping` (a closure, `Lane::Blocking`, the
//! default), both answering `+PONG` as the built-in `PING` does.
//!
//!     cargo run --release --example resp_server -- [ADDR]     (prints the bound address)

use netcore::server::{BoundAddr, Framing, Handler, Reply, Request, Response, Server, ServerConfig, Service};

/// `+PONG`, on the engine worker directly (it never blocks).
struct QuickPing;

impl Handler for QuickPing {
    fn handle(&self, _: &Request<'_>) -> Response {
        Response::Value(Reply::Simple("PONG".into()))
    }
    fn blocking(&self) -> bool {
        false
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let config = ServerConfig::new(Service::Command)
        .framing(Framing::Resp)
        .tcp(addr.parse()?)
        .command("rping", QuickPing)
        .command("cping", |_: &Request<'_>| Response::Value(Reply::Simple("PONG".into())));
    let server = Server::start(config)?;
    for bound in server.local_addrs() {
        if let BoundAddr::Tcp(a) = bound {
            println!("{a}");
        }
    }
    server.wait(None);
    Ok(())
}
