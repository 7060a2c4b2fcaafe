//! The engine: a tokio multi-thread runtime per server, one task per listener and per client.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use tokio::runtime::Runtime;
use tokio::sync::{watch, Semaphore};

use super::config::{Framing, Listen, ServerConfig};
use super::service::{looks_like_http, Dispatched, Dispatcher, Handler, Outcome, Request, Transport};
use super::unix::UnixSocketFile;
use crate::error::{Error, Result};

/// Counters of a running server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Stream clients connected now.
    pub connections_open: u64,
    /// Stream clients accepted since start (rejected ones not included).
    pub connections_total: u64,
    /// Requests received (lines, messages, datagrams).
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Error replies, failed handlers, I/O errors and limit violations.
    pub errors: u64,
    /// Clients turned away: over max_connections, wrong token, HTTP-looking requests.
    pub rejected: u64,
}

#[derive(Default)]
struct Counters {
    open: AtomicU64,
    total: AtomicU64,
    requests: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    errors: AtomicU64,
    rejected: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

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

struct Inner {
    id: usize,
    dispatcher: Dispatcher,
    framing: Framing,
    max_line: usize,
    max_output: usize,
    idle: Option<Duration>,
    token: Option<Vec<u8>>,
    slots: Arc<Semaphore>,
    counters: Counters,
    /// Listener tasks still running.
    listeners: AtomicUsize,
    shutdown: watch::Sender<bool>,
    stop_requested: Mutex<bool>,
    stop_cv: Condvar,
}

impl Inner {
    fn request_stop(&self) {
        self.shutdown.send_replace(true);
        let mut flag = self.stop_requested.lock().unwrap_or_else(|e| e.into_inner());
        *flag = true;
        self.stop_cv.notify_all();
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// The id of the server whose runtime owns this thread (0: none).
    static CURRENT_SERVER: Cell<usize> = const { Cell::new(0) };
}

/// A running server. Dropping it stops it (waiting up to one second for replies in flight).
///
/// The engine is a tokio multi-thread runtime owned by the server; it does not survive
/// `fork()`: in a child process every call fails with `InvalidState` and dropping the server
/// leaves the parent's socket files alone.
pub struct Server {
    inner: Arc<Inner>,
    runtime: Mutex<Option<Runtime>>,
    addrs: Vec<BoundAddr>,
    unix_files: Mutex<Vec<UnixSocketFile>>,
    pid: u32,
    stopped: AtomicBool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("service", &self.inner.dispatcher.service.name())
            .field("addrs", &self.addrs)
            .finish()
    }
}

enum Bound {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
    Unix(std::os::unix::net::UnixListener),
}

fn bind_tcp(addr: SocketAddr, dual_stack: bool) -> Result<std::net::TcpListener> {
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

fn bind_udp(addr: SocketAddr, dual_stack: bool) -> Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(!(dual_stack && addr.ip().is_unspecified()))?;
    }
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

impl Server {
    /// Binds every listener (all or nothing), then serves in the background on a runtime with
    /// one worker per core. With no listener configured it listens on 127.0.0.1, port 0.
    pub fn start(config: ServerConfig) -> Result<Server> {
        config.validate()?;
        let root = match &config.root {
            Some(dir) => {
                let real = dir
                    .canonicalize()
                    .map_err(|e| Error::InvalidArgument(format!("root directory {}: {e}", dir.display())))?;
                if !real.is_dir() {
                    return Err(Error::InvalidArgument(format!("root {} is not a directory", dir.display())));
                }
                Some(real)
            }
            None => None,
        };
        let mut listen = config.listen.clone();
        if listen.is_empty() {
            listen.push(Listen::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
        }

        let mut bound = Vec::new();
        let mut addrs = Vec::new();
        // Until the server exists, a failure removes the socket files bound so far.
        struct PendingFiles(Vec<UnixSocketFile>);
        impl Drop for PendingFiles {
            fn drop(&mut self) {
                for f in self.0.drain(..) {
                    f.remove();
                }
            }
        }
        let mut unix_files = PendingFiles(Vec::new());
        for l in &listen {
            match l {
                Listen::Tcp(a) => {
                    let s = bind_tcp(*a, config.dual_stack)?;
                    addrs.push(BoundAddr::Tcp(s.local_addr()?));
                    bound.push(Bound::Tcp(s));
                }
                Listen::Udp(a) => {
                    let s = bind_udp(*a, config.dual_stack)?;
                    addrs.push(BoundAddr::Udp(s.local_addr()?));
                    bound.push(Bound::Udp(s));
                }
                Listen::Unix(p) => {
                    let (s, file) = super::unix::bind(p)?;
                    addrs.push(BoundAddr::Unix(p.clone()));
                    bound.push(Bound::Unix(s));
                    unix_files.0.push(file);
                }
            }
        }

        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let workers = config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("netcore-server")
            .on_thread_start(move || CURRENT_SERVER.with(|c| c.set(id)))
            .enable_all()
            .build()?;

        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            id,
            dispatcher: Dispatcher::new(
                config.service.clone(),
                root,
                config.commands.clone(),
                config.default_handler.clone(),
            ),
            framing: config.framing,
            max_line: config.limits.max_line,
            max_output: config.limits.max_output,
            idle: config.limits.idle_timeout,
            token: config.token.clone(),
            slots: Arc::new(Semaphore::new(config.limits.max_connections)),
            counters: Counters::default(),
            listeners: AtomicUsize::new(0),
            shutdown,
            stop_requested: Mutex::new(false),
            stop_cv: Condvar::new(),
        });

        {
            let _guard = runtime.enter();
            for b in bound {
                inner.listeners.fetch_add(1, Ordering::SeqCst);
                let inner2 = inner.clone();
                match b {
                    Bound::Tcp(s) => {
                        let l = TcpListener::from_std(s)?;
                        runtime.spawn(listener_task(inner2, accept_tcp(l)));
                    }
                    Bound::Unix(s) => {
                        let l = UnixListener::from_std(s)?;
                        runtime.spawn(listener_task(inner2, accept_unix(l)));
                    }
                    Bound::Udp(s) => {
                        let u = UdpSocket::from_std(s)?;
                        runtime.spawn(listener_task(inner2, serve_udp(u)));
                    }
                }
            }
        }

        Ok(Server {
            inner,
            runtime: Mutex::new(Some(runtime)),
            addrs,
            unix_files: Mutex::new(std::mem::take(&mut unix_files.0)),
            pid: std::process::id(),
            stopped: AtomicBool::new(false),
        })
    }

    fn check_process(&self) -> Result<()> {
        if std::process::id() != self.pid {
            return Err(Error::InvalidState(format!(
                "this server belongs to process {} (a tokio runtime does not survive fork())",
                self.pid
            )));
        }
        Ok(())
    }

    /// The addresses actually bound, in the order configured (port 0 → the real port).
    pub fn local_addrs(&self) -> &[BoundAddr] {
        &self.addrs
    }

    /// A function that makes the thread calling it count as one of this server's own threads
    /// (for threads that run its handlers outside the engine): `stop` there only asks.
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn thread_marker(&self) -> impl FnOnce() + Send + 'static {
        let id = self.inner.id;
        move || CURRENT_SERVER.with(|c| c.set(id))
    }

    /// The service's name.
    pub fn service_name(&self) -> &'static str {
        self.inner.dispatcher.service.name()
    }

    /// Adds or replaces a user command while serving.
    pub fn add_command(&self, name: &str, handler: impl Handler + 'static) -> Result<()> {
        self.add_command_arc(name.as_bytes(), Arc::new(handler))
    }

    pub(crate) fn add_command_arc(&self, name: &[u8], handler: Arc<dyn Handler>) -> Result<()> {
        self.check_process()?;
        super::config::check_command_name(name)?;
        self.inner.dispatcher.add_command(name, handler);
        Ok(())
    }

    /// Sets (or with `None` removes) the handler for requests no command matches.
    pub(crate) fn set_default_arc(&self, handler: Option<Arc<dyn Handler>>) -> Result<()> {
        self.check_process()?;
        self.inner.dispatcher.set_default(handler);
        Ok(())
    }

    pub fn set_default_handler(&self, handler: impl Handler + 'static) -> Result<()> {
        self.set_default_arc(Some(Arc::new(handler)))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            connections_open: get(&c.open),
            connections_total: get(&c.total),
            requests: get(&c.requests),
            bytes_in: get(&c.bytes_in),
            bytes_out: get(&c.bytes_out),
            errors: get(&c.errors),
            rejected: get(&c.rejected),
        }
    }

    /// True until a stop was asked for (by `stop`, `request_stop` or a handler).
    pub fn is_running(&self) -> bool {
        !*self.inner.stop_requested.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the server to stop without waiting: safe from anywhere, handlers included.
    pub fn request_stop(&self) {
        self.inner.request_stop();
    }

    /// Blocks until a stop is asked for, or `timeout` passes; true when stopping.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut flag = self.inner.stop_requested.lock().unwrap_or_else(|e| e.into_inner());
        while !*flag {
            match deadline {
                None => flag = self.inner.stop_cv.wait(flag).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    flag = self.inner.stop_cv.wait_timeout(flag, d - now).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
        }
        true
    }

    /// Serves until something asks for a stop, then stops (waiting up to `timeout` for
    /// replies in flight).
    pub fn serve_forever(&self, timeout: Duration) -> Result<()> {
        self.check_process()?;
        self.wait(None);
        self.stop(timeout)
    }

    /// Stops accepting, lets every client finish the replies it has in flight, closes every
    /// client and releases the sockets; returns when done or after `timeout` (the remaining
    /// clients are then cut off). Called from one of this server's own handlers it only asks
    /// for the stop and returns at once (the owner's `stop`, `serve_forever` or drop finishes
    /// it), so a handler can stop its server without deadlock. Calling it again is harmless.
    pub fn stop(&self, timeout: Duration) -> Result<()> {
        self.check_process()?;
        self.inner.request_stop();
        if CURRENT_SERVER.with(|c| c.get()) == self.inner.id {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let c = &self.inner.counters;
        while Instant::now() < deadline
            && (c.open.load(Ordering::SeqCst) > 0 || self.inner.listeners.load(Ordering::SeqCst) > 0)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        // Held while the runtime shuts down, so a concurrent `stop` returns only once the
        // server is really stopped.
        let mut runtime = self.runtime.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rt) = runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100)));
            }
        }
        for f in self.unix_files.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            f.remove();
        }
        self.stopped.store(true, Ordering::SeqCst);
        drop(runtime);
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::process::id() != self.pid {
            // A forked child: the runtime's threads live only in the parent; never join them,
            // and leave the parent's socket files alone.
            if let Some(rt) = self.runtime.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
                std::mem::forget(rt);
            }
            self.unix_files.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
            return;
        }
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        self.inner.request_stop();
        if CURRENT_SERVER.with(|c| c.get()) == self.inner.id {
            // Dropped by one of its own handlers: it cannot wait for itself.
            if let Some(rt) = self.runtime.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
                rt.shutdown_background();
            }
            for f in self.unix_files.get_mut().unwrap_or_else(|e| e.into_inner()).drain(..) {
                f.remove();
            }
            return;
        }
        let _ = self.stop(Duration::from_secs(1));
    }
}

// ---------------------------------------------------------------- listeners

type Accepting = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs a listener until shutdown; counts it for `stop`.
async fn listener_task(inner: Arc<Inner>, body: impl FnOnce(Arc<Inner>) -> Accepting) {
    struct Done(Arc<Inner>);
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

fn accept_tcp(listener: TcpListener) -> impl FnOnce(Arc<Inner>) -> Accepting {
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

fn accept_unix(listener: UnixListener) -> impl FnOnce(Arc<Inner>) -> Accepting {
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

async fn accept_failed(inner: &Inner, _e: io::Error) {
    // Out of descriptors or memory: back off instead of spinning; clients wait in the backlog.
    add(&inner.counters.errors, 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// Takes a connection slot for the client or turns it away with an error line.
fn admit<S: Stream>(inner: &Arc<Inner>, stream: S, peer: String, transport: Transport) {
    match inner.slots.clone().try_acquire_owned() {
        Ok(permit) => {
            add(&inner.counters.open, 1);
            add(&inner.counters.total, 1);
            let inner = inner.clone();
            tokio::spawn(async move {
                // Released on every exit path, panics included: slots never leak.
                struct Slot(Arc<Inner>, #[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);
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

// ---------------------------------------------------------------- streams

/// What the connection loop needs from TCP and Unix streams.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;
    fn try_read_slice(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn try_write_now(&self, buf: &[u8]) -> io::Result<usize>;
}

impl Stream for TcpStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        TcpStream::readable(self)
    }
    fn try_read_slice(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_read(buf)
    }
    fn try_write_now(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_write(buf)
    }
}

impl Stream for UnixStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        UnixStream::readable(self)
    }
    fn try_read_slice(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_read(buf)
    }
    fn try_write_now(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_write(buf)
    }
}

const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// Each worker thread's read buffer: a read goes here, then only its bytes that are
    /// still needed (an unfinished line) are kept by the connection.
    static SCRATCH: std::cell::RefCell<Box<[u8; READ_CHUNK]>> = std::cell::RefCell::new(Box::new([0u8; READ_CHUNK]));
}

enum Next {
    Continue,
    Close,
}

/// A request answered at once, or by a handler on another thread (with where its reply goes).
enum Answered {
    Now(Next),
    Later(Dispatched, usize),
}

/// Requests and replies are mostly short: up to this length a plain scan finds a line break
/// sooner than memchr, whose vector set-up costs more than the search (measured with
/// callgrind: memchr2 took about 100 instructions on a 7-byte reply).
const SHORT_SCAN: usize = 32;

/// Where the first `\n` in `bytes` is.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    let head = &bytes[..bytes.len().min(SHORT_SCAN)];
    match head.iter().position(|&b| b == b'\n') {
        Some(i) => Some(i),
        None if bytes.len() > head.len() => memchr::memchr(b'\n', &bytes[head.len()..]).map(|i| head.len() + i),
        None => None,
    }
}

/// Whether `bytes` hold a `\n` or `\r`. Short ones are checked eight bytes at a time.
fn has_line_break(bytes: &[u8]) -> bool {
    if bytes.len() > SHORT_SCAN {
        return memchr::memchr2(b'\n', b'\r', bytes).is_some();
    }
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `word` is `byte` (the classic "has a zero byte" test on word ^ byte).
    let holds = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH_BITS != 0
    };
    let has_break = |word: u64| holds(word, b'\n') || holds(word, b'\r');
    let mut words = bytes.chunks_exact(8);
    // The last bytes are packed into a word below zero bytes, which are neither.
    words.any(|word| has_break(u64::from_ne_bytes(word.try_into().unwrap_or_default())))
        || has_break(words.remainder().iter().fold(0, |word, &b| word << 8 | u64::from(b)))
}

struct Connection<S> {
    inner: Arc<Inner>,
    stream: S,
    peer: String,
    transport: Transport,
    input: Vec<u8>,
    output: Vec<u8>,
    authed: bool,
    /// Requests answered since the last flush, added to the shared counter once per flush
    /// (one atomic per batch instead of one per request).
    uncounted: u64,
}

impl<S: Stream> Connection<S> {
    fn new(inner: Arc<Inner>, stream: S, peer: String, transport: Transport) -> Self {
        let authed = inner.token.is_none();
        Connection { inner, stream, peer, transport, input: Vec::new(), output: Vec::new(), authed, uncounted: 0 }
    }

    async fn run(mut self) {
        let _ = self.serve().await;
        // Send what is pending, then a FIN; errors here only mean the client is gone.
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
        self.linger().await;
    }

    /// Reads and discards what the client still sends, briefly, before closing: closing a
    /// socket with unread input makes the kernel send a reset, which can destroy the last
    /// reply (an error line, `bye`) before the client reads it.
    async fn linger(&mut self) {
        let mut shutdown = self.inner.shutdown.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        let mut budget = 256 * 1024usize;
        while budget > 0 {
            let ready = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                r = tokio::time::timeout_at(deadline, self.stream.readable()) => r,
            };
            if !matches!(ready, Ok(Ok(()))) {
                return;
            }
            // The scratch buffer lives on the stack, not in the connection's future.
            let read = {
                let mut scratch = [0u8; 4096];
                self.stream.try_read_slice(&mut scratch)
            };
            match read {
                Ok(0) => return,
                Ok(n) => budget = budget.saturating_sub(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    }

    async fn serve(&mut self) -> io::Result<()> {
        let inner = Arc::clone(&self.inner);
        if let Some((banner, close)) = inner.dispatcher.on_connect() {
            self.push_reply(banner);
            self.flush().await?;
            if close {
                return Ok(());
            }
        }
        let mut shutdown = self.inner.shutdown.subscribe();
        // The stop signal and the idle timer live as long as the connection rather than one
        // wait: creating them per request registered a timer and a waiter (each a shared
        // lock) twice per request, about 8% of the throughput at one request in flight. The
        // timer is set once and, when it fires, moved to the last activity plus the limit.
        let stop = shutdown.wait_for(|s| *s);
        tokio::pin!(stop);
        let idle = self.inner.idle;
        let idle_timer = tokio::time::sleep(idle.unwrap_or(Duration::from_secs(86_400)));
        tokio::pin!(idle_timer);
        let mut last_activity = tokio::time::Instant::now();
        let mut scanned = 0;
        loop {
            let room = match self.inner.framing {
                Framing::Line => (self.inner.max_line + 2).saturating_sub(self.input.len()).clamp(1, READ_CHUNK),
                Framing::Message => self.inner.max_line.min(READ_CHUNK),
            };
            // Read at most `room` bytes, so a line can outgrow max_line by only a little and a
            // message is never longer than max_line. Data already there is read before
            // anything else is polled.
            let (stream, input) = (&mut self.stream, &mut self.input);
            let read = tokio::select! {
                biased;
                r = std::future::poll_fn(|cx| poll_read_input(stream, input, room, cx)) => r,
                _ = &mut idle_timer, if idle.is_some() => {
                    let due = last_activity + idle.unwrap_or_default();
                    if due > tokio::time::Instant::now() {
                        idle_timer.as_mut().reset(due);
                        continue;
                    }
                    add(&self.inner.counters.errors, 1);
                    return Ok(()); // idle timeout
                }
                _ = &mut stop => return Ok(()),
            };
            let n = read?;
            add(&self.inner.counters.bytes_in, n as u64);
            if n == 0 {
                // The client half-closed: answer what it sent (a last line without its newline
                // included), flush, close.
                if !self.input.is_empty() {
                    let rest = std::mem::take(&mut self.input);
                    let line = strip_line_ending(&rest);
                    if self.inner.framing == Framing::Line && line.len() > self.inner.max_line {
                        self.line_too_long();
                    } else {
                        self.request(line).await;
                    }
                }
                return Ok(());
            }
            match self.inner.framing {
                Framing::Message => {
                    let chunk = std::mem::take(&mut self.input);
                    let next = self.request(strip_line_ending(&chunk)).await;
                    if let Next::Close = next {
                        return Ok(());
                    }
                }
                Framing::Line => {
                    let mut start = 0;
                    let mut close = false;
                    let input = std::mem::take(&mut self.input);
                    while let Some(pos) = find_newline(&input[scanned..]) {
                        let end = scanned + pos;
                        let line = strip_line_ending(&input[start..end]);
                        start = end + 1;
                        scanned = start;
                        if line.len() > self.inner.max_line {
                            self.line_too_long();
                            close = true;
                            break;
                        }
                        // Built-in replies need no wait: skipping the future of `request` saves ~40
                        // instructions per request (callgrind).
                        let next = match self.answer(line) {
                            Answered::Now(next) => next,
                            Answered::Later(pending, start) => self.answer_later(pending, start).await,
                        };
                        if let Next::Close = next {
                            close = true;
                            break;
                        }
                        if self.output.len() >= self.inner.max_output {
                            // Bounded output: wait for the client to read before going on.
                            if let Err(e) = self.flush().await {
                                self.input = input;
                                return Err(e);
                            }
                        }
                    }
                    self.input = input;
                    if close {
                        return Ok(());
                    }
                    self.input.drain(..start);
                    scanned = self.input.len();
                    if self.input.len() > self.inner.max_line + 1 {
                        self.line_too_long();
                        return Ok(());
                    }
                    if self.input.is_empty() && self.input.capacity() > 1024 {
                        self.input = Vec::new();
                    }
                }
            }
            self.flush().await?;
            last_activity = tokio::time::Instant::now();
        }
    }

    fn line_too_long(&mut self) {
        add(&self.inner.counters.errors, 1);
        let msg = format!("error: line too long (limit {} bytes)", self.inner.max_line);
        self.push_reply(msg.as_bytes());
    }

    /// Answers one request into the output buffer, waiting only for a handler that answers
    /// from another thread.
    async fn request(&mut self, line: &[u8]) -> Next {
        match self.answer(line) {
            Answered::Now(next) => next,
            Answered::Later(pending, start) => self.answer_later(pending, start).await,
        }
    }

    /// Answers one request into the output buffer, unless a handler on another thread
    /// answers it: built-in replies are written there directly.
    fn answer(&mut self, line: &[u8]) -> Answered {
        self.uncounted += 1;
        if looks_like_http_request(line, self.inner.framing) {
            add(&self.inner.counters.rejected, 1);
            return Answered::Now(Next::Close);
        }
        if !self.authed {
            let expected = self.inner.token.as_deref().unwrap_or_default();
            if constant_time_eq(line, expected) {
                self.authed = true;
                self.push_reply(b"ok");
                return Answered::Now(Next::Continue);
            }
            add(&self.inner.counters.rejected, 1);
            self.push_reply(b"error: authentication required");
            return Answered::Now(Next::Close);
        }
        let start = self.output.len();
        let request = Request { line, peer: &self.peer, transport: self.transport };
        match self.inner.dispatcher.dispatch(&request, &mut self.output) {
            Dispatched::Done(outcome) => Answered::Now(self.finish_reply(start, outcome)),
            pending => Answered::Later(pending, start),
        }
    }

    /// Waits for the handler answering elsewhere and appends its reply at `start`.
    async fn answer_later(&mut self, pending: Dispatched, start: usize) -> Next {
        let outcome = pending.outcome(&mut self.output).await;
        self.finish_reply(start, outcome)
    }

    /// Counts the outcome and frames the reply that starts at `start`.
    fn finish_reply(&mut self, start: usize, outcome: Outcome) -> Next {
        if outcome.error {
            add(&self.inner.counters.errors, 1);
        }
        if outcome.replied {
            self.seal_reply(start);
        }
        if outcome.close {
            Next::Close
        } else {
            Next::Continue
        }
    }

    fn push_reply(&mut self, reply: &[u8]) {
        let start = self.output.len();
        self.output.extend_from_slice(reply);
        self.seal_reply(start);
    }

    /// Makes the bytes appended to the output since `start` one reply in the connection's
    /// framing. Message framing sends them as they are; line framing makes them one line: a
    /// trailing line ending is dropped, an embedded `\n` or `\r` is sent as the two characters
    /// `\n` or `\r`, and `\n` ends the line.
    fn seal_reply(&mut self, start: usize) {
        if self.inner.framing == Framing::Message {
            return;
        }
        // A reply without `\n` or `\r` (nearly all) has nothing to strip or escape either.
        if has_line_break(&self.output[start..]) {
            let body_len = strip_line_ending(&self.output[start..]).len();
            self.output.truncate(start + body_len);
            let body = self.output.split_off(start);
            for b in body {
                match b {
                    b'\n' => self.output.extend_from_slice(b"\\n"),
                    b'\r' => self.output.extend_from_slice(b"\\r"),
                    b => self.output.push(b),
                }
            }
        }
        self.output.push(b'\n');
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.uncounted > 0 {
            add(&self.inner.counters.requests, std::mem::take(&mut self.uncounted));
        }
        if self.output.is_empty() {
            return Ok(());
        }
        // Most flushes fit in the socket's send buffer: one write without setting up the
        // timeout. Only a rest that does not fit waits, bounded by the idle timeout.
        let written = match self.stream.try_write_now(&self.output) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => {
                self.output.clear();
                return Err(e);
            }
        };
        let result = match &self.output[written..] {
            [] => Some(Ok(())),
            rest => with_timeout(self.inner.idle, self.stream.write_all(rest)).await,
        };
        match result {
            Some(Ok(())) => {
                add(&self.inner.counters.bytes_out, self.output.len() as u64);
                self.output.clear();
                if self.output.capacity() > 2 * self.inner.max_output.max(READ_CHUNK) {
                    self.output = Vec::new();
                }
                Ok(())
            }
            Some(Err(e)) => {
                self.output.clear();
                Err(e)
            }
            None => {
                // The client stopped reading: drop its replies and the connection.
                add(&self.inner.counters.errors, 1);
                self.output = Vec::new();
                Err(io::Error::from(io::ErrorKind::TimedOut))
            }
        }
    }
}

/// Reads what the client sent (at most `room` bytes) and appends it to `input`; ready with 0
/// at end of stream. The read goes to the worker thread's scratch buffer first, so a
/// connection keeps input memory only for an unfinished line, never a whole read buffer
/// (idle clients cost no input memory). A read that does not fill the buffer tells tokio the
/// socket is drained, so the next wait needs no extra read that would only fail with
/// `WouldBlock` (one system call per batch of requests fewer than `try_read` in a loop).
fn poll_read_input<S: Stream>(
    stream: &mut S,
    input: &mut Vec<u8>,
    room: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    // The scratch buffer is the worker thread's (the read never waits), so it is not zeroed
    // for every read: a 16 KiB memset per read cost ~3% of the CPU.
    SCRATCH.with(|chunk| {
        let mut chunk = chunk.borrow_mut();
        let mut buf = ReadBuf::new(&mut chunk[..room.min(READ_CHUNK)]);
        ready!(Pin::new(stream).poll_read(cx, &mut buf))?;
        input.extend_from_slice(buf.filled());
        Poll::Ready(Ok(buf.filled().len()))
    })
}

/// In message framing a chunk may hold several lines; any of them looking like HTTP counts.
fn looks_like_http_request(req: &[u8], framing: Framing) -> bool {
    match framing {
        Framing::Line => looks_like_http(req),
        Framing::Message => req.split(|&b| b == b'\n').any(looks_like_http),
    }
}

fn strip_line_ending(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn with_timeout<F: Future>(limit: Option<Duration>, f: F) -> Option<F::Output> {
    match limit {
        Some(d) => tokio::time::timeout(d, f).await.ok(),
        None => Some(f.await),
    }
}

// ---------------------------------------------------------------- UDP

/// One datagram is one request; one reply datagram goes back to the sender (no newline is
/// added). With a token, a datagram must start with `TOKEN ` and is dropped otherwise.
fn serve_udp(sock: UdpSocket) -> impl FnOnce(Arc<Inner>) -> Accepting {
    move |inner| {
        Box::pin(async move {
            let mut buf = vec![0u8; 65536];
            let mut reply = Vec::new();
            loop {
                let (n, peer) = match sock.recv_from(&mut buf).await {
                    Ok(x) => x,
                    Err(_) => {
                        // ICMP errors from earlier replies surface here; keep serving, without
                        // spinning should an error repeat.
                        add(&inner.counters.errors, 1);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                };
                add(&inner.counters.bytes_in, n as u64);
                add(&inner.counters.requests, 1);
                let mut data = strip_line_ending(&buf[..n]);
                if let Some(token) = &inner.token {
                    match data.strip_prefix(token.as_slice()).and_then(|r| r.strip_prefix(b" ")) {
                        Some(rest) => data = rest,
                        None => {
                            add(&inner.counters.rejected, 1);
                            continue;
                        }
                    }
                }
                let peer_text = peer.to_string();
                let request = Request { line: data, peer: &peer_text, transport: Transport::Udp };
                reply.clear();
                let outcome = inner.dispatcher.dispatch(&request, &mut reply).outcome(&mut reply).await;
                if outcome.error {
                    add(&inner.counters.errors, 1);
                }
                if outcome.replied {
                    match sock.send_to(&reply, peer).await {
                        Ok(sent) => add(&inner.counters.bytes_out, sent as u64),
                        Err(_) => add(&inner.counters.errors, 1),
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_break_scans_agree_with_a_plain_search_at_every_length_and_position() {
        for len in 0..80 {
            let clean = vec![b'a'; len];
            assert_eq!(find_newline(&clean), None);
            assert!(!has_line_break(&clean));
            for pos in 0..len {
                for (byte, newline) in [(b'\n', Some(pos)), (b'\r', None)] {
                    let mut bytes = clean.clone();
                    bytes[pos] = byte;
                    assert_eq!(find_newline(&bytes), newline, "len {len}, {byte} at {pos}");
                    assert!(has_line_break(&bytes), "len {len}, {byte} at {pos}");
                }
            }
        }
        // Neighbours of the two bytes (0x0a, 0x0d) and high bytes are no line breaks.
        assert!(!has_line_break(b"\x09\x0b\x0c\x0e\x8a\x8d\xff\x00\x09\x0b\x0c\x0e\x8a"));
    }
}
