//! Binding the configured addresses and accepting clients: one task per listener.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};

use super::connection::{Connection, Stream};
use super::stats::add;
use super::ServerState;
use crate::error::Result;
use crate::server::config::Framing;
use crate::server::service::Transport;

/// A bound address, as the server reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoundAddr {
    Tcp(SocketAddr),
    Udp(SocketAddr),
    Unix(PathBuf),
}

impl BoundAddr {
    /// `tcp`, `udp` or `unix`.
    pub fn kind(&self) -> &'static str {
        match self {
            BoundAddr::Tcp(_) => "tcp",
            BoundAddr::Udp(_) => "udp",
            BoundAddr::Unix(_) => "unix",
        }
    }
    /// The port of an IP address (0 for Unix sockets).
    pub fn port(&self) -> u16 {
        match self {
            BoundAddr::Tcp(a) | BoundAddr::Udp(a) => a.port(),
            BoundAddr::Unix(_) => 0,
        }
    }
}

impl std::fmt::Display for BoundAddr {
    /// `127.0.0.1:4000`, `[::1]:53` or the socket's path.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BoundAddr::Tcp(a) | BoundAddr::Udp(a) => write!(f, "{a}"),
            BoundAddr::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

pub(super) enum BoundSocket {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
    Unix(std::os::unix::net::UnixListener),
}

pub(super) fn bind_tcp(addr: SocketAddr, dual_stack: bool) -> Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(!(dual_stack && addr.ip().is_unspecified()))?;
    }
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

pub(super) fn bind_udp(addr: SocketAddr, dual_stack: bool) -> Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(!(dual_stack && addr.ip().is_unspecified()))?;
    }
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

pub(super) type Accepting = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs a listener until shutdown; counts it for `stop`.
pub(super) async fn listener_task(inner: Arc<ServerState>, body: impl FnOnce(Arc<ServerState>) -> Accepting) {
    struct Done(Arc<ServerState>);
    impl Drop for Done {
        fn drop(&mut self) {
            self.0.listeners.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _done = Done(inner.clone());
    let mut shutdown = inner.shutdown.subscribe();
    let work = body(inner);
    tokio::select! {
        _ = shutdown.wait_for(|s| *s) => {}
        _ = work => {}
    }
}

pub(super) fn accept_tcp(listener: TcpListener) -> impl FnOnce(Arc<ServerState>) -> Accepting {
    move |inner| {
        Box::pin(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        admit(&inner, stream, peer.to_string(), Transport::Tcp);
                    }
                    Err(e) => accept_failed(&inner, e).await,
                }
            }
        })
    }
}

pub(super) fn accept_unix(listener: UnixListener) -> impl FnOnce(Arc<ServerState>) -> Accepting {
    move |inner| {
        Box::pin(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => admit(&inner, stream, "unix".to_string(), Transport::Unix),
                    Err(e) => accept_failed(&inner, e).await,
                }
            }
        })
    }
}

async fn accept_failed(inner: &ServerState, _e: io::Error) {
    // Out of descriptors or memory: back off instead of spinning; clients wait in the backlog.
    add(&inner.counters.errors, 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// Takes a connection slot for the client or turns it away with an error line.
fn admit<S: Stream>(inner: &Arc<ServerState>, stream: S, peer: String, transport: Transport) {
    match inner.slots.clone().try_acquire_owned() {
        Ok(permit) => {
            add(&inner.counters.open, 1);
            add(&inner.counters.total, 1);
            let inner = inner.clone();
            tokio::spawn(async move {
                // Released on every exit path, panics included: slots never leak.
                struct Slot(Arc<ServerState>, #[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);
                impl Drop for Slot {
                    fn drop(&mut self) {
                        self.0.counters.open.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                let _slot = Slot(inner.clone(), permit);
                Connection::new(inner, stream, peer, transport).run().await;
            });
        }
        Err(_) => {
            add(&inner.counters.rejected, 1);
            let msg: &[u8] = match inner.framing {
                Framing::Line => b"error: too many connections\n",
                Framing::Message => b"error: too many connections",
            };
            // Best effort and bounded: never wait on a client we are turning away.
            let n = stream.try_write_now(msg).unwrap_or(0);
            add(&inner.counters.bytes_out, n as u64);
            drop(stream);
        }
    }
}
