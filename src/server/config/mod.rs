//! What a server serves, where, and within which limits: `ServerConfig` and its rules,
//! `Limits` and the timeouts every face takes. The names of services and framings are in
//! `names.rs`, listen addresses in `listen.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::service::Handler;
use crate::error::{Error, Result};

mod listen;
mod names;

pub use listen::{listen_addr, parse_addr, Listen, ProxyProtocol};
pub use names::{Framing, Service, DEFAULT_BANNER};

/// Resource limits. Every one is enforced per server (connections) or per connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Stream clients served at once, over all TCP and Unix listeners. Client number
    /// `max_connections + 1` gets `error: too many connections` and is closed.
    pub max_connections: usize,
    /// Longest request line in bytes, without its line ending (line framing), or the largest
    /// chunk read as one request (message framing), or the largest request in RESP framing
    /// (the whole array with its headers, or an inline line; it also bounds each bulk string
    /// and the argument count). A longer line gets `error: line too long (limit N bytes)`, a
    /// larger RESP request `-ERR Protocol error: ...`, and the connection is closed.
    pub max_line: usize,
    /// A connection with no complete read or write for this long is closed; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Replies buffered per connection before the server waits for the client to read. A client
    /// that never reads stalls only its own connection (until `idle_timeout`).
    pub max_output: usize,
    /// How long a new connection has to complete its handshake (the PROXY protocol header)
    /// before it is refused; `None`: no limit.
    pub handshake_timeout: Option<Duration>,
    /// The kernel's queue of connections not yet accepted, per TCP listener (`listen(2)`'s
    /// backlog; the kernel caps it at `net.core.somaxconn`). Raise both for bursts of many
    /// thousands of new connections (docs/deploy.md).
    pub backlog: usize,
}

pub use crate::busy_poll::{DEFAULT_BUSY_POLL, MAX_BUSY_POLL};

impl Limits {
    /// The defaults, the only place they are written: faces pass "not given" and docs, stubs
    /// and `--help` quote these.
    pub const DEFAULT: Limits = Limits {
        max_connections: 1024,
        max_line: 64 * 1024,
        idle_timeout: Some(Duration::from_secs(300)),
        max_output: 256 * 1024,
        handshake_timeout: Some(Duration::from_secs(10)),
        backlog: 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The idle timeout for `seconds` as every face takes it: 0 means no timeout; negative or not
/// a number is an error.
pub fn idle_timeout_secs(seconds: f64) -> Result<Option<Duration>> {
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(Error::InvalidArgument("idle_timeout must be a non-negative number of seconds (0: never)".into()));
    }
    if seconds == 0.0 {
        return Ok(None);
    }
    crate::socket::seconds_to_duration(seconds).map(Some)
}

/// The handshake timeout for `seconds` as every face takes it: positive and finite.
pub fn handshake_timeout_secs(seconds: f64) -> Result<Duration> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(Error::InvalidArgument("handshake_timeout must be a positive number of seconds".into()));
    }
    crate::socket::seconds_to_duration(seconds)
}

/// Everything a server needs to start. Build it, then `Server::start(config)`.
#[derive(Clone)]
pub struct ServerConfig {
    pub service: Service,
    pub framing: Framing,
    pub listen: Vec<Listen>,
    /// The directory `ls` is confined to (default: the working directory).
    pub root: Option<PathBuf>,
    pub limits: Limits,
    /// A shared secret each stream client must send as its first line (UDP: as the first word
    /// of every datagram). `None`: no authentication.
    pub token: Option<Vec<u8>>,
    /// IPv6 wildcard listeners also accept IPv4 clients (IPV6_V6ONLY off). Default true.
    pub dual_stack: bool,
    /// Worker threads of the engine (default: one per core).
    pub workers: Option<usize>,
    /// SO_REUSEPORT on TCP and UDP listeners: several processes bind the same address and
    /// the kernel spreads new connections across them. Default false.
    pub reuse_port: bool,
    /// Listeners that expect a PROXY protocol header first. Default off.
    pub proxy_protocol: ProxyProtocol,
    /// Where to serve the Prometheus metrics (`GET /metrics`). Default none.
    pub metrics: Option<SocketAddr>,
    /// After answering, a stream client's connection looks for its next request for this long
    /// before it waits for it (yielding to the worker's other clients in between), so a client
    /// with one request in flight is read without the worker sleeping and being woken. Only
    /// while the client keeps coming back within the window, and one connection per worker at
    /// a time; the price is the worker's CPU while it spins. Default `DEFAULT_BUSY_POLL`; zero:
    /// off; at most `MAX_BUSY_POLL`.
    pub busy_poll: Duration,
    /// Writes one line to stderr per stream client accepted, with its address (the real
    /// client's, behind a PROXY protocol balancer). Default false.
    pub log_connections: bool,
    /// The certificate of the TLS listeners (docs/tls.md). Set with no `Listen::Tls`, every
    /// TCP listener is TLS; with some `Listen::Tls`, only those are.
    pub tls: Option<crate::tls::ServerTls>,
    pub(crate) commands: HashMap<Vec<u8>, Arc<dyn Handler>>,
    pub(crate) default_handler: Option<Arc<dyn Handler>>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("service", &self.service)
            .field("framing", &self.framing)
            .field("listen", &self.listen)
            .field("root", &self.root)
            .field("limits", &self.limits)
            .field("tls", &self.tls)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field(
                "commands",
                &self.commands.keys().map(|k| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ServerConfig {
    /// A server for `service` with default limits, line framing and no listeners yet
    /// (started with none, it listens on 127.0.0.1 with an ephemeral port).
    pub fn new(service: Service) -> Self {
        ServerConfig {
            service,
            framing: Framing::Line,
            listen: Vec::new(),
            root: None,
            limits: Limits::DEFAULT,
            token: None,
            dual_stack: true,
            workers: None,
            reuse_port: false,
            proxy_protocol: ProxyProtocol::Off,
            metrics: None,
            busy_poll: DEFAULT_BUSY_POLL,
            log_connections: false,
            tls: None,
            commands: HashMap::new(),
            default_handler: None,
        }
    }

    pub fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }
    pub fn tcp(mut self, addr: SocketAddr) -> Self {
        self.listen.push(Listen::Tcp(addr));
        self
    }
    pub fn udp(mut self, addr: SocketAddr) -> Self {
        self.listen.push(Listen::Udp(addr));
        self
    }
    pub fn unix(mut self, path: impl Into<PathBuf>) -> Self {
        self.listen.push(Listen::Unix(path.into()));
        self
    }
    /// Serves TLS with this certificate (see `tls`).
    pub fn tls(mut self, tls: crate::tls::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }
    /// A TLS listener (needs `tls`); the other TCP listeners stay plain.
    pub fn tls_listener(mut self, addr: SocketAddr) -> Self {
        self.listen.push(Listen::Tls(addr));
        self
    }
    /// Whether the TCP listener `l` serves TLS under this configuration.
    pub(crate) fn is_tls(&self, l: &Listen) -> bool {
        match l {
            Listen::Tls(_) => true,
            Listen::Tcp(_) => self.tls.is_some() && !self.listen.iter().any(|l| matches!(l, Listen::Tls(_))),
            _ => false,
        }
    }
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root = Some(dir.into());
        self
    }
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }
    /// Sets `busy_poll` (see the field).
    pub fn busy_poll(mut self, window: Duration) -> Self {
        self.busy_poll = window;
        self
    }
    /// Serves a socket someone else bound (see `Listen::Fd`).
    pub fn fd(mut self, fd: std::os::fd::RawFd) -> Self {
        self.listen.push(Listen::Fd(fd));
        self
    }
    /// Serves the sockets systemd passed (`LISTEN_FDS`, `LISTEN_PID`), if any, and tells how
    /// many. Reads the variables once and removes them.
    pub fn systemd_sockets(&mut self) -> Result<usize> {
        let passed = super::activation::take_passed_fds()?.unwrap_or_default();
        self.listen.extend(passed.iter().map(|p| Listen::Fd(p.fd)));
        Ok(passed.len())
    }
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }
    pub fn proxy_protocol(mut self, which: ProxyProtocol) -> Self {
        self.proxy_protocol = which;
        self
    }
    pub fn metrics(mut self, addr: SocketAddr) -> Self {
        self.metrics = Some(addr);
        self
    }
    pub fn token(mut self, token: impl Into<Vec<u8>>) -> Self {
        self.token = Some(token.into());
        self
    }
    /// Adds (or replaces) the user command `name`: requests whose first word is `name` go to
    /// `handler`. Works for the `command` and `custom` services.
    pub fn command(mut self, name: &str, handler: impl Handler + 'static) -> Self {
        self.commands.insert(name.as_bytes().to_vec(), Arc::new(handler));
        self
    }
    /// The handler for requests no command matches (instead of `welcome` or an error).
    pub fn default_handler(mut self, handler: impl Handler + 'static) -> Self {
        self.default_handler = Some(Arc::new(handler));
        self
    }
    #[cfg_attr(not(feature = "c-api"), allow(dead_code))] // the C face's
    pub(crate) fn add_command_arc(&mut self, name: &[u8], handler: Arc<dyn Handler>) {
        self.commands.insert(name.to_vec(), handler);
    }
    #[cfg_attr(not(feature = "c-api"), allow(dead_code))] // the C face's
    pub(crate) fn set_default_arc(&mut self, handler: Arc<dyn Handler>) {
        self.default_handler = Some(handler);
    }

    /// Sets the `banner` service's text (see `Service::with_banner`).
    pub fn banner(mut self, text: &[u8]) -> Result<Self> {
        self.service = self.service.with_banner(text)?;
        Ok(self)
    }

    /// Applies `change` if the result is valid; otherwise keeps `self` as it was. The C setters
    /// use it so that a bad value is refused when set, by the same rules as `Server::start`.
    pub fn update(&mut self, change: impl FnOnce(&mut ServerConfig)) -> Result<()> {
        let mut next = self.clone();
        change(&mut next);
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Checks the values that do not need the system: limits, token, command names, workers.
    /// `Server::start` calls it; so does `update`.
    pub fn validate(&self) -> Result<()> {
        let l = &self.limits;
        at_least_one("max_connections", l.max_connections)?;
        at_least_one("max_line", l.max_line)?;
        at_least_one("max_output", l.max_output)?;
        at_least_one("backlog", l.backlog)?;
        if l.backlog > i32::MAX as usize {
            return Err(Error::InvalidArgument(format!("backlog must be at most {}", i32::MAX)));
        }
        if l.idle_timeout == Some(Duration::ZERO) {
            return Err(Error::InvalidArgument("idle_timeout must be positive (or none)".into()));
        }
        crate::busy_poll::check_window(self.busy_poll)?;
        if l.handshake_timeout == Some(Duration::ZERO) {
            return Err(Error::InvalidArgument("handshake_timeout must be positive (or none)".into()));
        }
        if let ProxyProtocol::Only(list) = &self.proxy_protocol {
            if let Some(l) = list.iter().find(|l| !self.listen.contains(l)) {
                return Err(Error::InvalidArgument(format!("PROXY protocol on {l:?}, which is not a listener")));
            }
            if let Some(l) = list.iter().find(|l| matches!(l, Listen::Udp(_))) {
                return Err(Error::InvalidArgument(format!("PROXY protocol is for stream listeners, not {l:?}")));
            }
            // Listeners are named by their configured address: two alike cannot be told apart.
            if let Some(l) = list.iter().find(|l| self.listen.iter().filter(|x| x == l).count() > 1) {
                return Err(Error::InvalidArgument(format!(
                    "PROXY protocol on {l:?}, which names several listeners (give the balancer's listener its own address)"
                )));
            }
        }
        if let Some(t) = &self.token {
            check_token(t)?;
        }
        if self.listen.iter().any(|l| matches!(l, Listen::Unix(p) if p.as_os_str().is_empty())) {
            return Err(Error::InvalidArgument("the socket path is empty".into()));
        }
        for name in self.commands.keys() {
            check_command_name(name)?;
        }
        if let Some(workers) = self.workers {
            at_least_one("workers", workers)?;
        }
        // A greeting or banner sent on connect is not a RESP reply: redis clients would take
        // it for the answer to their first command.
        if self.framing == Framing::Resp && matches!(self.service, Service::Greet | Service::Banner(_)) {
            return Err(Error::InvalidArgument(format!(
                "the {} service sends text on connect, which RESP clients cannot read: use line or message framing",
                self.service.name()
            )));
        }
        match &self.tls {
            Some(tls) => tls.validate()?,
            None if self.listen.iter().any(|l| matches!(l, Listen::Tls(_))) => {
                return Err(Error::InvalidArgument(
                    "a TLS listener needs a certificate and key (tls_cert, tls_key)".into(),
                ))
            }
            None => {}
        }
        Ok(())
    }
}

/// `value`, or an error naming the setting when it is 0 (limits and worker counts).
fn at_least_one(name: &str, value: usize) -> Result<usize> {
    if value == 0 {
        return Err(Error::InvalidArgument(format!("{name} must be at least 1")));
    }
    Ok(value)
}

/// A token is one non-empty word without whitespace or NUL.
pub fn check_token(token: &[u8]) -> Result<()> {
    if token.is_empty() || token.iter().any(|b| b.is_ascii_whitespace() || *b == 0) {
        return Err(Error::InvalidArgument("token must be one non-empty word, without spaces, newlines or NUL".into()));
    }
    Ok(())
}

/// A command name is one non-empty word without whitespace or NUL.
pub fn check_command_name(name: &[u8]) -> Result<()> {
    if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace() || *b == 0) {
        return Err(Error::InvalidArgument(format!(
            "invalid command name {:?}: one word, no spaces or NUL",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        assert_eq!(parse_addr("21560").unwrap(), "127.0.0.1:21560".parse().unwrap());
        assert_eq!(parse_addr("localhost:80").unwrap(), "127.0.0.1:80".parse().unwrap());
        assert_eq!(parse_addr("[::1]:0").unwrap(), "[::1]:0".parse().unwrap());
        assert!(matches!(parse_addr("nowhere"), Err(Error::InvalidArgument(_))));
        assert!(matches!(parse_addr("1.2.3.4:99999"), Err(Error::InvalidArgument(_))));
        assert!(matches!(parse_addr("::1:80"), Err(Error::InvalidArgument(_))));
        assert!(matches!(parse_addr(":80"), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn host_names_resolve_in_every_face() {
        // The one parser behind the C setters, the CLI and Python's (host, port) pairs.
        let host = crate::resolve::gethostname().unwrap();
        assert!(parse_addr(&format!("{host}:0")).is_ok(), "{host}");
        assert_eq!(listen_addr("localhost", 7).unwrap(), "127.0.0.1:7".parse().unwrap());
        assert_eq!(listen_addr("", 7).unwrap(), "0.0.0.0:7".parse().unwrap());
        assert_eq!(listen_addr("[::1]", 7).unwrap(), "[::1]:7".parse().unwrap());
        assert_eq!(listen_addr("::1", 7).unwrap(), "[::1]:7".parse().unwrap());
        assert!(matches!(parse_addr("no-such-host.invalid:80"), Err(Error::AddressInfo { .. })));
    }

    #[test]
    fn names_parse() {
        assert_eq!("message".parse::<Framing>().unwrap(), Framing::Message);
        assert!("lines".parse::<Framing>().is_err());
        for f in Framing::ALL {
            assert_eq!(f.name().parse::<Framing>().unwrap(), f);
        }
        assert_eq!(Framing::ALL.map(Framing::name), Framing::NAMES);
        for name in Service::NAMES {
            assert_eq!(Service::from_name(name, None).unwrap().name(), name);
        }
        assert_eq!(Service::from_name("banner", None).unwrap(), Service::Banner(DEFAULT_BANNER.into()));
        let unknown = Service::from_name("shell", None).unwrap_err().to_string();
        assert!(unknown.contains(r#""echo" or "custom""#), "{unknown}");
    }

    #[test]
    fn a_banner_needs_the_banner_service() {
        assert_eq!(Service::from_name("banner", Some(b"hi")).unwrap(), Service::Banner(b"hi".to_vec()));
        let e = Service::from_name("echo", Some(b"hi")).unwrap_err();
        assert!(e.to_string().starts_with("only the banner service takes a banner text"), "{e}");
        assert!(ServerConfig::new(Service::Greet).banner(b"x").is_err());
        assert_eq!(
            ServerConfig::new(Service::Banner(vec![])).banner(b"x").unwrap().service,
            Service::Banner(b"x".into())
        );
    }

    #[test]
    fn idle_timeouts_in_seconds() {
        assert_eq!(idle_timeout_secs(0.0).unwrap(), None);
        assert_eq!(idle_timeout_secs(1.5).unwrap(), Some(Duration::from_millis(1500)));
        assert!(idle_timeout_secs(-1.0).is_err());
        assert!(idle_timeout_secs(f64::NAN).is_err());
    }

    #[test]
    fn a_refused_update_keeps_the_config() {
        let mut c = ServerConfig::new(Service::Echo);
        assert!(c.update(|c| c.limits.max_line = 0).is_err());
        assert_eq!(c.limits, Limits::DEFAULT);
        assert!(c.update(|c| c.token = Some(b"a b".to_vec())).is_err());
        assert_eq!(c.token, None);
        for huge in [1e300, f64::MAX] {
            assert!(matches!(idle_timeout_secs(huge), Err(Error::Overflow(_))), "{huge}");
            assert!(matches!(handshake_timeout_secs(huge), Err(Error::Overflow(_))), "{huge}");
        }
        assert_eq!(idle_timeout_secs(0.0).unwrap(), None);
        assert_eq!(idle_timeout_secs(1.5).unwrap(), Some(Duration::from_millis(1500)));
        let mut too_long = ServerConfig::new(Service::Echo).busy_poll(MAX_BUSY_POLL + Duration::from_micros(1));
        assert_eq!(too_long.validate().unwrap_err().to_string(), "busy_poll must be at most 100000 µs");
        too_long.busy_poll = MAX_BUSY_POLL;
        too_long.validate().unwrap();
        c.update(|c| c.workers = Some(2)).unwrap();
        assert_eq!(c.workers, Some(2));
    }

    #[test]
    fn bad_limits_are_refused() {
        let mut c = ServerConfig::new(Service::Echo);
        c.limits.max_connections = 0;
        assert!(c.validate().is_err());
        for backlog in [0, i32::MAX as usize + 1] {
            let mut c = ServerConfig::new(Service::Echo);
            c.limits.backlog = backlog;
            assert!(c.validate().unwrap_err().to_string().contains("backlog"), "{backlog}");
        }
        let c = ServerConfig::new(Service::Echo).token("two words");
        assert!(c.validate().is_err());
        assert!(check_command_name(b"a b").is_err());
        assert!(check_command_name(b"").is_err());
        assert!(ServerConfig::new(Service::Echo).validate().is_ok());
    }
}
