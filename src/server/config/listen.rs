//! Where a server listens: the kinds of listener, which take a PROXY protocol header, and
//! the one parser of listen addresses every face uses.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::error::{Error, Result};

/// One place to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// Plain TCP; TLS too when the server has `tls` set and no `Listen::Tls` is configured.
    Tcp(SocketAddr),
    /// TLS over TCP with the server's `tls` certificate, whatever the other listeners are.
    Tls(SocketAddr),
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

/// Parses a listen address as text (the CLI, C): `HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT`
/// (meaning 127.0.0.1, never all interfaces). `HOST` is anything `listen_addr` takes.
pub fn parse_addr(text: &str) -> Result<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    let invalid =
        || Error::InvalidArgument(format!("invalid listen address {text:?} (expected HOST:PORT, [IPV6]:PORT or PORT)"));
    let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
        return Err(invalid());
    }
    listen_addr(host, port)
}

/// The listen address for `host` and `port` as a `(host, port)` pair gives them (Python): an
/// IP literal (IPv6 with or without brackets), `""` for every IPv4 interface as in `socket`, or
/// a host name, resolved with IPv4 preferred (as socketserver's AF_INET default). An unknown
/// name is the resolver's error (`socket.gaierror` in Python).
pub fn listen_addr(host: &str, port: u16) -> Result<SocketAddr> {
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.contains('\0') {
        return Err(Error::InvalidArgument("listen address contains a NUL byte".into()));
    }
    let ip = match crate::resolve::resolve_ip(host, libc::AF_INET) {
        Ok(ip) => ip,
        Err(v4_failure) => crate::resolve::resolve_ip(host, libc::AF_INET6).map_err(|_| v4_failure)?,
    };
    Ok(SocketAddr::new(ip, port))
}
