//! What a server serves, where, and within which limits.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::service::Handler;
use crate::error::{Error, Result};

/// How a byte stream is cut into requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Framing {
    /// One request per line (`\n`, `\r\n` accepted); every reply is one line ending in `\n`.
    #[default]
    Line,
    /// Every chunk one `recv` returns is one request and the reply goes back as it is, with no
    /// newline added: the tutorials' model, so their original clients work unchanged.
    Message,
}

impl FromStr for Framing {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "line" => Ok(Framing::Line),
            "message" => Ok(Framing::Message),
            other => {
                Err(Error::InvalidArgument(format!("unknown framing {other:?} (expected \"line\" or \"message\")")))
            }
        }
    }
}

/// The text the `banner` service sends when none is configured (seed 003's thank-you server).
pub const DEFAULT_BANNER: &str = "Thank you for connection";

/// The built-in services, named for the seeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Service {
    /// Seed 000's multi-command server: date, os, ls, help, quit/exit; else `welcome`.
    Command,
    /// Seed 002's greeting server: a banner on connect, `Hello, <msg>!` per message.
    Greet,
    /// Seeds 003/004: send the text, then close.
    Banner(Vec<u8>),
    /// Every request comes back unchanged.
    Echo,
    /// Only user commands and the default handler; anything else is an error reply.
    Custom,
}

impl Service {
    /// The service called `name` (`command`, `greet`, `banner`, `echo`, `custom`); `banner`
    /// uses `banner_text` or `DEFAULT_BANNER`.
    pub fn from_name(name: &str, banner_text: Option<&[u8]>) -> Result<Service> {
        Ok(match name {
            "command" => Service::Command,
            "greet" => Service::Greet,
            "banner" => Service::Banner(banner_text.unwrap_or(DEFAULT_BANNER.as_bytes()).to_vec()),
            "echo" => Service::Echo,
            "custom" => Service::Custom,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown service {other:?} (expected command, greet, banner, echo or custom)"
                )))
            }
        })
    }

    /// The service's name, as `from_name` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Service::Command => "command",
            Service::Greet => "greet",
            Service::Banner(_) => "banner",
            Service::Echo => "echo",
            Service::Custom => "custom",
        }
    }
}

/// One place to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    Udp(SocketAddr),
    Unix(PathBuf),
    /// A socket bound by someone else (systemd socket activation, a parent process): a
    /// listening TCP or Unix stream socket, or a UDP socket. The server owns and closes the
    /// descriptor once started.
    Fd(std::os::fd::RawFd),
}

/// Which stream listeners expect a PROXY protocol header (v1 or v2) from a load balancer
/// before the client's bytes. Off by default: a header on a listener without it is an
/// ordinary (rejected) request, so clients cannot claim another address.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ProxyProtocol {
    #[default]
    Off,
    /// Every TCP and Unix stream listener (passed descriptors included).
    All,
    /// Only these configured listeners (compared with the values in `listen`).
    Only(Vec<Listen>),
}

impl ProxyProtocol {
    pub(crate) fn expects_header(&self, listen: &Listen) -> bool {
        match self {
            ProxyProtocol::Off => false,
            ProxyProtocol::All => !matches!(listen, Listen::Udp(_)),
            ProxyProtocol::Only(list) => list.contains(listen),
        }
    }
}

/// Parses a listen address: `HOST:PORT` with an IPv4 literal, `[IPv6]:PORT`, `localhost:PORT`,
/// or a bare `PORT` (meaning 127.0.0.1, never all interfaces).
pub fn parse_addr(text: &str) -> Result<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        if let Ok(port) = port.parse::<u16>() {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        }
    }
    Err(Error::InvalidArgument(format!("invalid listen address {text:?} (expected HOST:PORT, [IPV6]:PORT or PORT)")))
}

/// Resource limits. Every one is enforced per server (connections) or per connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Stream clients served at once, over all TCP and Unix listeners. Client number
    /// `max_connections + 1` gets `error: too many connections` and is closed. Default 1024.
    pub max_connections: usize,
    /// Longest request line in bytes, without its line ending (line framing), or the largest
    /// chunk read as one request (message framing). A longer line gets
    /// `error: line too long (limit N bytes)` and the connection is closed. Default 64 KiB.
    pub max_line: usize,
    /// A connection with no complete read or write for this long is closed. Default 300 s.
    pub idle_timeout: Option<Duration>,
    /// Replies buffered per connection before the server waits for the client to read. A client
    /// that never reads stalls only its own connection (until `idle_timeout`). Default 256 KiB.
    pub max_output: usize,
    /// How long a new connection has to complete its handshake (the PROXY protocol header)
    /// before it is refused. Default 10 s.
    pub handshake_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_line: 64 * 1024,
            idle_timeout: Some(Duration::from_secs(300)),
            max_output: 256 * 1024,
            handshake_timeout: Some(Duration::from_secs(10)),
        }
    }
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
            limits: Limits::default(),
            token: None,
            dual_stack: true,
            workers: None,
            reuse_port: false,
            proxy_protocol: ProxyProtocol::Off,
            metrics: None,
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
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root = Some(dir.into());
        self
    }
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
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
    pub(crate) fn add_command_arc(&mut self, name: &[u8], handler: Arc<dyn Handler>) {
        self.commands.insert(name.to_vec(), handler);
    }
    pub(crate) fn set_default_arc(&mut self, handler: Arc<dyn Handler>) {
        self.default_handler = Some(handler);
    }

    /// Checks the values that do not need the system: limits, token, command names.
    pub(crate) fn validate(&self) -> Result<()> {
        let l = &self.limits;
        at_least_one("max_connections", l.max_connections)?;
        at_least_one("max_line", l.max_line)?;
        at_least_one("max_output", l.max_output)?;
        if l.idle_timeout == Some(Duration::ZERO) {
            return Err(Error::InvalidArgument("idle_timeout must be positive (or none)".into()));
        }
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
        }
        if let Some(t) = &self.token {
            if t.is_empty() || t.iter().any(|b| b.is_ascii_whitespace() || *b == 0) {
                return Err(Error::InvalidArgument("token must be non-empty, without spaces, newlines or NUL".into()));
            }
        }
        for name in self.commands.keys() {
            check_command_name(name)?;
        }
        if let Some(workers) = self.workers {
            at_least_one("workers", workers)?;
        }
        Ok(())
    }
}

/// `value`, or an error naming the setting when it is 0 (limits and worker counts).
pub(crate) fn at_least_one(name: &str, value: usize) -> Result<usize> {
    if value == 0 {
        return Err(Error::InvalidArgument(format!("{name} must be at least 1")));
    }
    Ok(value)
}

/// A command name is one non-empty word without whitespace or NUL.
pub(crate) fn check_command_name(name: &[u8]) -> Result<()> {
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
    }

    #[test]
    fn names_parse() {
        assert_eq!("message".parse::<Framing>().unwrap(), Framing::Message);
        assert!("lines".parse::<Framing>().is_err());
        assert_eq!(Service::from_name("banner", None).unwrap(), Service::Banner(DEFAULT_BANNER.into()));
        assert!(Service::from_name("shell", None).is_err());
    }

    #[test]
    fn bad_limits_are_refused() {
        let mut c = ServerConfig::new(Service::Echo);
        c.limits.max_connections = 0;
        assert!(c.validate().is_err());
        let c = ServerConfig::new(Service::Echo).token("two words");
        assert!(c.validate().is_err());
        assert!(check_command_name(b"a b").is_err());
        assert!(check_command_name(b"").is_err());
        assert!(ServerConfig::new(Service::Echo).validate().is_ok());
    }
}
