//! The engine: a tokio multi-thread runtime per server, one task per listener and per client.

//!
//! `mod.rs` owns the server's lifecycle (start, stop, wait); `listen` binds and accepts,
//! `connection` runs one stream client, `udp` serves datagrams, `scan` holds the byte scans of
//! the request path and `stats` the counters.

mod connection;
mod listen;
mod memory;
mod scan;
mod stats;
mod stream;
mod udp;

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::runtime::Runtime;
use tokio::sync::{watch, Semaphore};

use super::activation::{adopt, SocketKind};
use super::config::{Framing, Listen, ServerConfig};
use super::metrics::{CommandCounts, LatencyHistogram, MetricsEndpoint, Report};
use super::service::{Dispatcher, Handler};
use super::unix::UnixSocketFile;
use crate::error::{Error, Result};
use crate::tls::ReloadableTls;
pub use listen::BoundAddr;
use listen::{accept_tcp, accept_unix, bind_tcp, bind_udp, listen_error, listener_task, BoundSocket};
pub(crate) use scan::constant_time_eq;
use stats::Counters;
pub use stats::Stats;

/// What every task of one server shares: the dispatcher, the limits, the counters and the
/// stop signal.
struct ServerState {
    id: usize,
    dispatcher: Dispatcher,
    framing: Framing,
    max_line: usize,
    max_output: usize,
    idle: Option<Duration>,
    token: Option<Vec<u8>>,
    slots: Arc<Semaphore>,
    handshake_timeout: Option<Duration>,
    log_connections: bool,
    /// `ServerConfig::busy_poll` and its spin slots.
    busy_poll: connection::BusyPoll,
    /// The TLS listeners' certificate (reloadable), and the handshakes in progress.
    tls: Option<Arc<ReloadableTls>>,
    tls_handshakes: Arc<Semaphore>,
    counters: Counters,
    commands: CommandCounts,
    latency: LatencyHistogram,
    /// Listener tasks still running.
    listeners: AtomicUsize,
    shutdown: watch::Sender<bool>,
    stop_requested: Mutex<bool>,
    stop_cv: Condvar,
    /// When the server started (RESP's INFO reports the uptime).
    started: Instant,
}

impl ServerState {
    fn report(&self) -> Report {
        Report { stats: self.counters.snapshot(), commands: self.commands.snapshot(), latency: self.latency.snapshot() }
    }

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
    inner: Arc<ServerState>,
    runtime: Mutex<Option<Runtime>>,
    addrs: Vec<BoundAddr>,
    tls_addrs: Vec<SocketAddr>,
    unix_files: Mutex<Vec<UnixSocketFile>>,
    metrics: Mutex<Option<MetricsEndpoint>>,
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
        // Certificates are read before anything binds: a bad file fails the start.
        let tls = config.tls.clone().map(ReloadableTls::new).transpose()?.map(Arc::new);
        let mut listen = config.listen.clone();
        if listen.is_empty() {
            listen.push(Listen::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
        }

        let mut bound = Vec::new();
        let mut addrs = Vec::new();
        let mut tls_addrs = Vec::new();
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
            let proxy = config.proxy_protocol.expects_header(l);
            match l {
                Listen::Tcp(a) | Listen::Tls(a) => {
                    let s = bind_tcp(*a, config.dual_stack, config.reuse_port, config.limits.backlog)
                        .map_err(|e| listen_error(a.to_string(), e))?;
                    addrs.push(BoundAddr::Tcp(s.local_addr()?));
                    if config.is_tls(l) {
                        tls_addrs.push(s.local_addr()?);
                    }
                    bound.push((BoundSocket::Tcp(s, config.is_tls(l)), proxy));
                }
                Listen::Udp(a) => {
                    let s = bind_udp(*a, config.dual_stack, config.reuse_port)
                        .map_err(|e| listen_error(format!("{a} (udp)"), e))?;
                    addrs.push(BoundAddr::Udp(s.local_addr()?));
                    bound.push((BoundSocket::Udp(s), false));
                }
                Listen::Unix(p) => {
                    let (s, file) = super::unix::bind(p).map_err(|e| listen_error(p.display().to_string(), e))?;
                    addrs.push(BoundAddr::Unix(p.clone()));
                    bound.push((BoundSocket::Unix(s), proxy));
                    unix_files.0.push(file);
                }
                Listen::Fd(fd) => {
                    let (sock, kind) = adopt(*fd)?;
                    let local = sock.local_addr()?;
                    let (b, a) = match kind {
                        SocketKind::Tcp => {
                            let s = std::net::TcpListener::from(sock);
                            (
                                BoundSocket::Tcp(s, false),
                                BoundAddr::Tcp(local.as_socket().unwrap_or(([0, 0, 0, 0], 0).into())),
                            )
                        }
                        SocketKind::Udp => {
                            let s = std::net::UdpSocket::from(sock);
                            (BoundSocket::Udp(s), BoundAddr::Udp(local.as_socket().unwrap_or(([0, 0, 0, 0], 0).into())))
                        }
                        SocketKind::Unix => {
                            let path = local.as_pathname().map(|p| p.to_path_buf()).unwrap_or_default();
                            (BoundSocket::Unix(sock.into()), BoundAddr::Unix(path))
                        }
                    };
                    let proxy = proxy && kind != SocketKind::Udp;
                    addrs.push(a);
                    bound.push((b, proxy));
                }
            }
        }
        let metrics_listener = match config.metrics {
            Some(addr) => Some(
                bind_tcp(addr, config.dual_stack, false, config.limits.backlog)
                    .map_err(|e| listen_error(format!("{addr} (metrics)"), e))?,
            ),
            None => None,
        };

        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let workers = config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("netcore-server")
            .on_thread_start(move || CURRENT_SERVER.with(|c| c.set(id)))
            .enable_all()
            .build()?;

        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(ServerState {
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
            handshake_timeout: config.limits.handshake_timeout,
            log_connections: config.log_connections,
            busy_poll: connection::BusyPoll::new(config.busy_poll, workers),
            tls_handshakes: Arc::new(Semaphore::new(
                config.tls.as_ref().map_or(1, |t| t.max_handshakes).min(Semaphore::MAX_PERMITS),
            )),
            tls,
            counters: Counters::default(),
            commands: CommandCounts::default(),
            latency: LatencyHistogram::default(),
            listeners: AtomicUsize::new(0),
            shutdown,
            stop_requested: Mutex::new(false),
            stop_cv: Condvar::new(),
            started: Instant::now(),
        });

        {
            let _guard = runtime.enter();
            for (b, proxy) in bound {
                inner.listeners.fetch_add(1, Ordering::SeqCst);
                let inner2 = inner.clone();
                match b {
                    BoundSocket::Tcp(s, tls) => {
                        let l = TcpListener::from_std(s)?;
                        runtime.spawn(listener_task(inner2, true, accept_tcp(l, proxy, tls)));
                    }
                    BoundSocket::Unix(s) => {
                        let l = UnixListener::from_std(s)?;
                        runtime.spawn(listener_task(inner2, true, accept_unix(l, proxy)));
                    }
                    BoundSocket::Udp(s) => {
                        let u = UdpSocket::from_std(s)?;
                        runtime.spawn(listener_task(inner2, false, udp::serve_udp(u)));
                    }
                }
            }
        }

        let weak = Arc::downgrade(&inner);
        inner.dispatcher.set_stats_source(Box::new(move || weak.upgrade().map(|s| s.report().line())));
        let metrics = match metrics_listener {
            Some(l) => {
                let weak = Arc::downgrade(&inner);
                Some(MetricsEndpoint::start(l, move || weak.upgrade().map(|s| s.report()))?)
            }
            None => None,
        };

        Ok(Server {
            inner,
            runtime: Mutex::new(Some(runtime)),
            addrs,
            tls_addrs,
            unix_files: Mutex::new(std::mem::take(&mut unix_files.0)),
            metrics: Mutex::new(metrics),
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

    /// The addresses of the TCP listeners that serve TLS.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// Re-reads the TLS certificate, key and client CA files: handshakes from now on use
    /// them, connections already open keep theirs. On an error nothing changes.
    pub fn reload_tls(&self) -> Result<()> {
        self.check_process()?;
        match &self.inner.tls {
            Some(tls) => tls.reload(),
            None => Err(Error::InvalidState("this server has no TLS listener".into())),
        }
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
        self.inner.counters.snapshot()
    }

    /// Where the Prometheus metrics are served (`config.metrics`, port 0 → the real port).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|m| m.addr())
    }

    /// The counters, per-command counts and latency histogram in the Prometheus text format
    /// (what `GET /metrics` answers).
    pub fn metrics_text(&self) -> String {
        self.inner.report().prometheus_text()
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
        drop(self.metrics.lock().unwrap_or_else(|e| e.into_inner()).take());
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
            if let Some(m) = self.metrics.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
                std::mem::forget(m); // its thread is the parent's too
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
