//! A RESP command server with two user commands written in Rust, for bench/resp_bench.py:
//! `rping` (a closure, `Lane::Inline`, the default) and `rbping` (the same closure marked
//! `Blocking`, `Lane::Blocking`), both answering `+PONG` as the built-in `PING` does.
//!
//!     cargo run --release --example resp_server -- [ADDR]     (prints the bound address)

use netcore::server::{Blocking, BoundAddr, Framing, Reply, Request, Response, Server, ServerConfig, Service};

fn pong(_: &Request<'_>) -> Response {
    Response::Value(Reply::Simple("PONG".into()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let mut config = ServerConfig::new(Service::Command)
        .framing(Framing::Resp)
        .tcp(addr.parse()?)
        .command("rping", pong)
        .command("rbping", Blocking(pong));
    config.limits.max_connections = 20000;
    let server = Server::start(config)?;
    for bound in server.local_addrs() {
        if let BoundAddr::Tcp(a) = bound {
            println!("{a}");
        }
    }
    server.wait(None);
    Ok(())
}
