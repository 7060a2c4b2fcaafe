//! The command-server engine: the seeds' servers (command, greet, banner, echo) on one
//! event-driven core, over TCP, Unix stream sockets and UDP, extensible with user commands
//! from Rust, C and Python. Design notes and limits: `docs/engine.md`; wire format:
//! `docs/protocol.md`.
//!
//! ```no_run
//! use netcore::server::{Server, ServerConfig, Service, Response};
//! let config = ServerConfig::new(Service::Command)
//!     .tcp("127.0.0.1:0".parse().unwrap())
//!     .command("hello", |_req: &netcore::server::Request<'_>| Response::Reply(b"hi".to_vec()));
//! let server = Server::start(config)?;
//! println!("listening on {}", server.local_addrs()[0]);
//! server.stop(std::time::Duration::from_secs(5))?;
//! # Ok::<(), netcore::Error>(())
//! ```

pub mod activation;
mod batch;
mod commands;
mod config;
mod engine;
pub(crate) mod metrics;
pub mod proxy;
mod reply;
pub mod resp;
mod service;
#[doc(hidden)]
pub mod testing;
mod unix;

pub use batch::{Batch, Enter, Lane, Offload};
pub use config::{
    check_command_name, check_token, handshake_timeout_secs, idle_timeout_secs, listen_addr, parse_addr, Framing,
    Limits, Listen, ProxyProtocol, ServerConfig, Service, DEFAULT_BANNER, DEFAULT_BUSY_POLL, MAX_BUSY_POLL,
};
pub use engine::{BoundAddr, Server, Stats};
pub use reply::Reply;
pub use service::{split_command, Blocking, Handler, Request, Response, Transport};
