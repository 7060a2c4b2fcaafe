//! Binding the configured addresses and accepting clients: one task per listener.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener};

use super::connection::{Connection, Stream};
use super::stats::add;
use super::ServerState;
use crate::error::{Error, Result};
use crate::server::config::Framing;
use crate::server::proxy::{read_proxy_header, ProxySource};
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
    /// A TCP listener, and whether it serves TLS.
    Tcp(std::net::TcpListener, bool),
    Udp(std::net::UdpSocket),
    Unix(std::os::unix::net::UnixListener),
}

pub(super) fn bind_tcp(
    addr: SocketAddr,
    dual_stack: bool,
    reuse_port: bool,
    backlog: usize,
) -> Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        sock.set_only_v6(!(dual_stack && addr.ip().is_unspecified()))?;
    }
    sock.bind(&addr.into())?;
    // Checked by ServerConfig::validate: 1..=i32::MAX.
    sock.listen(backlog as i32)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// A bind failure naming the address: "cannot listen on 127.0.0.1:21560: address already in
/// use". Errors that are not the socket's own (a bad path) pass through unchanged.
pub(super) fn listen_error(addr: String, e: Error) -> Error {
    match e {
        Error::Os(source) if source.raw_os_error().is_some() => Error::Listen { addr, source },
        other => other,
    }
}

pub(super) fn bind_udp(addr: SocketAddr, dual_stack: bool, reuse_port: bool) -> Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        sock.set_only_v6(!(dual_stack && addr.ip().is_unspecified()))?;
    }
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

pub(super) type Accepting = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs a listener until shutdown; counts it for `stop`. A body that `drains` ends by itself
/// once stopping (stream listeners hand over their queued clients first); others are cut.
pub(super) async fn listener_task(
    inner: Arc<ServerState>,
    drains: bool,
    body: impl FnOnce(Arc<ServerState>) -> Accepting,
) {
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
        _ = shutdown.wait_for(|s| *s), if !drains => {}
        _ = work => {}
    }
}

/// What the accept loop needs from a TCP or Unix listener.
trait Accept: Send + Sync + 'static {
    type Stream: Send + 'static;
    /// Waits for the next client: its stream and how the server names it.
    fn next(&self) -> impl Future<Output = io::Result<(Self::Stream, String)>> + Send;
    /// The clients the kernel has queued already, without waiting (the drain on stop).
    fn queued(self) -> Vec<(Self::Stream, String)>;
}

impl Accept for TcpListener {
    type Stream = TcpStream;

    async fn next(&self) -> io::Result<(TcpStream, String)> {
        self.accept().await.map(|(stream, peer)| (stream, peer.to_string()))
    }

    fn queued(self) -> Vec<(TcpStream, String)> {
        let Ok(listener) = self.into_std() else { return Vec::new() };
        std::iter::from_fn(|| listener.accept().ok())
            .filter_map(|(stream, peer)| {
                stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream))
                    .ok()
                    .map(|s| (s, peer.to_string()))
            })
            .collect()
    }
}

impl Accept for UnixListener {
    type Stream = tokio::net::UnixStream;

    async fn next(&self) -> io::Result<(Self::Stream, String)> {
        self.accept().await.map(|(stream, _)| (stream, "unix".to_string()))
    }

    fn queued(self) -> Vec<(Self::Stream, String)> {
        let Ok(listener) = self.into_std() else { return Vec::new() };
        std::iter::from_fn(|| listener.accept().ok())
            .filter_map(|(stream, _)| {
                let stream = stream.set_nonblocking(true).and_then(|()| tokio::net::UnixStream::from_std(stream));
                stream.ok().map(|s| (s, "unix".to_string()))
            })
            .collect()
    }
}

/// The accept loop of one listener, until the server stops; then it serves the clients the
/// kernel has queued already and closes the listener, so a client that got a connection is
/// answered rather than reset.
fn accept_loop<L: Accept>(
    listener: L,
    admit_one: impl Fn(&Arc<ServerState>, L::Stream, String) + Send + 'static,
) -> impl FnOnce(Arc<ServerState>) -> Accepting {
    move |inner| {
        Box::pin(async move {
            let mut shutdown = inner.shutdown.subscribe();
            loop {
                let accepted = tokio::select! {
                    biased;
                    r = listener.next() => r,
                    _ = shutdown.wait_for(|s| *s) => break,
                };
                match accepted {
                    Ok((stream, peer)) => admit_one(&inner, stream, peer),
                    Err(e) => accept_failed(&inner, e).await,
                }
            }
            for (stream, peer) in listener.queued() {
                admit_one(&inner, stream, peer);
            }
        })
    }
}

/// Accepts TCP clients: plain, or with `tls` a TLS handshake first (after the PROXY header
/// when `proxy`: a balancer sends it in clear before the client's TLS).
pub(super) fn accept_tcp(listener: TcpListener, proxy: bool, tls: bool) -> impl FnOnce(Arc<ServerState>) -> Accepting {
    accept_loop(listener, move |inner, stream: TcpStream, peer| {
        let _ = stream.set_nodelay(true);
        match tls {
            true => admit_tls(inner, stream, peer, proxy),
            false => admit(inner, stream, peer, Transport::Tcp, proxy),
        }
    })
}

pub(super) fn accept_unix(listener: UnixListener, proxy: bool) -> impl FnOnce(Arc<ServerState>) -> Accepting {
    accept_loop(listener, move |inner, stream, peer| admit(inner, stream, peer, Transport::Unix, proxy))
}

async fn accept_failed(inner: &ServerState, _e: io::Error) {
    // Out of descriptors or memory: back off instead of spinning; clients wait in the backlog.
    add(&inner.counters.errors, 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// With `proxy`, reads the client's PROXY protocol header first: the real client's address
/// replaces `peer` (a header from the balancer itself keeps it). `None`: the connection is
/// refused (no valid header within the handshake timeout), and counted.
async fn proxied_peer<S: Stream>(inner: &ServerState, stream: &mut S, peer: String, proxy: bool) -> Option<String> {
    if !proxy {
        return Some(peer);
    }
    // Boxed: its timer would otherwise make every connection's task bigger, PROXY or not.
    match Box::pin(read_proxy_header(stream, inner.handshake_timeout)).await {
        Ok(source) => {
            add(&inner.counters.handshakes, 1);
            Some(match source {
                ProxySource::Client(addr) => addr.to_string(),
                ProxySource::Local => peer,
            })
        }
        Err(e) => {
            add(&inner.counters.handshake_failures, 1);
            add(&inner.counters.rejected, 1);
            let msg = match inner.framing {
                Framing::Line => format!("error: {e}\n"),
                Framing::Message => format!("error: {e}"),
                Framing::Resp => format!("-ERR {}\r\n", e.to_string().replace(['\r', '\n'], " ")),
            };
            let n = stream.try_write_now(msg.as_bytes()).unwrap_or(0);
            add(&inner.counters.bytes_out, n as u64);
            None
        }
    }
}

/// A client's connection slot: counted open (and in the total) while held, released on
/// every exit path, panics included, so slots never leak.
struct Slot(Arc<ServerState>, #[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl Slot {
    fn open(inner: &Arc<ServerState>, permit: tokio::sync::OwnedSemaphorePermit) -> Slot {
        add(&inner.counters.open, 1);
        add(&inner.counters.total, 1);
        Slot(inner.clone(), permit)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.counters.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Takes a connection slot for the client and serves it on a task of its own, or turns it
/// away with an error line.
pub(super) fn admit<S: Stream>(inner: &Arc<ServerState>, stream: S, peer: String, transport: Transport, proxy: bool) {
    if let Some(serve) = admission(inner, stream, peer, transport, proxy) {
        tokio::spawn(serve);
    }
}

/// `admit` without the task: the future that serves the client in its slot, or `None` once
/// it was turned away. (Serving from memory polls it on the caller's thread.)
pub(super) fn admission<S: Stream>(
    inner: &Arc<ServerState>,
    mut stream: S,
    peer: String,
    transport: Transport,
    proxy: bool,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    match inner.slots.clone().try_acquire_owned() {
        Ok(permit) => {
            let inner = inner.clone();
            let slot = Slot::open(&inner, permit);
            Some(async move {
                let _slot = slot;
                let Some(peer) = proxied_peer(&inner, &mut stream, peer, proxy).await else {
                    return;
                };
                if inner.log_connections {
                    eprintln!("netcore: client {peer} connected over {}", transport.name());
                }
                Connection::new(inner, stream, peer, transport).run().await;
            })
        }
        Err(_) => {
            add(&inner.counters.rejected, 1);
            let msg: &[u8] = match inner.framing {
                Framing::Line => b"error: too many connections\n",
                Framing::Message => b"error: too many connections",
                Framing::Resp => b"-ERR max number of clients reached\r\n",
            };
            // Best effort and bounded: never wait on a client we are turning away.
            let n = stream.try_write_now(msg).unwrap_or(0);
            add(&inner.counters.bytes_out, n as u64);
            drop(stream);
            None
        }
    }
}

/// Like `admit`, with a TLS handshake first (after the PROXY header, if expected). A client
/// over the connection limit, or over the handshakes in progress, is closed at once (an
/// error line would not be TLS); a handshake that fails or outlasts the handshake timeout
/// closes the client. Both are counted as handshake failures.
fn admit_tls(inner: &Arc<ServerState>, mut stream: TcpStream, peer: String, proxy: bool) {
    let Some(tls) = inner.tls.clone() else { return };
    let Ok(permit) = inner.slots.clone().try_acquire_owned() else {
        add(&inner.counters.rejected, 1);
        return;
    };
    let Ok(handshake) = inner.tls_handshakes.clone().try_acquire_owned() else {
        add(&inner.counters.handshake_failures, 1);
        return;
    };
    let inner = inner.clone();
    let slot = Slot::open(&inner, permit);
    tokio::spawn(async move {
        let _slot = slot;
        let Some(peer) = proxied_peer(&inner, &mut stream, peer, proxy).await else {
            return;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
        let mut shutdown = inner.shutdown.subscribe();
        let limit = inner.handshake_timeout.unwrap_or(Duration::from_secs(86_400));
        let done = tokio::select! {
            r = tokio::time::timeout(limit, acceptor.accept(stream)) => r,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        drop(handshake);
        let Ok(Ok(stream)) = done else {
            add(&inner.counters.handshake_failures, 1);
            return;
        };
        add(&inner.counters.handshakes, 1);
        let subject = crate::tls::server::peer_subject(stream.get_ref().1);
        Connection::new(inner, stream, peer, Transport::Tls).peer_cert(subject).run().await;
    });
}
