//! The module functions that make ready sockets: `create_connection` (every address of a
//! host in turn), the steps of `create_server` before bind, and `has_dualstack_ipv6`.

use std::time::Duration;

use super::{Address, Interrupt, OptValue, Socket};
use crate::error::{Error, Result};

/// Python's `socket.has_dualstack_ipv6()`.
pub fn has_dualstack_ipv6() -> bool {
    match Socket::new(libc::AF_INET6, libc::SOCK_STREAM, 0) {
        Ok(s) => s.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, OptValue::Int(0)).is_ok(),
        Err(_) => false,
    }
}

/// The timeout `create_connection` gives the new socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectTimeout {
    /// Leave the default timeout (`socket._GLOBAL_DEFAULT_TIMEOUT`).
    Default,
    /// Set this timeout (None blocks).
    Set(Option<Duration>),
}

/// Python's `socket.create_connection((host, port), timeout, source_address)`: tries each
/// address `getaddrinfo` gives, in order, and returns the first that connects. On failure the
/// error list holds one error per address tried (Python raises the last, or all of them
/// with `all_errors=True`); a failed look-up is returned on its own.
pub fn create_connection(
    host: Option<&str>,
    port: Option<&str>,
    timeout: ConnectTimeout,
    source: Option<(&str, i64)>,
    intr: &mut Interrupt<'_>,
) -> std::result::Result<Socket, Vec<Error>> {
    let found = crate::resolve::getaddrinfo(host, port, 0, libc::SOCK_STREAM, 0, 0).map_err(|e| vec![e])?;
    if found.is_empty() {
        return Err(vec![Error::Failed("getaddrinfo returns an empty list".into())]);
    }
    let mut errors = Vec::new();
    for ai in found {
        let attempt = (|| {
            let sock = Socket::new(ai.family, ai.socktype, ai.protocol)?;
            if let ConnectTimeout::Set(t) = timeout {
                sock.settimeout(t)?;
            }
            if let Some((host, port)) = source {
                let host = host.to_string();
                sock.bind(&match ai.family {
                    libc::AF_INET6 => Address::Inet6 { host, port, flowinfo: 0, scope_id: 0 },
                    _ => Address::Inet { host, port },
                })?;
            }
            let target = match ai.addr {
                std::net::SocketAddr::V4(v4) => Address::Inet { host: v4.ip().to_string(), port: v4.port().into() },
                std::net::SocketAddr::V6(v6) => Address::Inet6 {
                    host: v6.ip().to_string(),
                    port: v6.port().into(),
                    flowinfo: v6.flowinfo(),
                    scope_id: v6.scope_id(),
                },
            };
            sock.connect_with(&target, intr)?;
            Ok(sock)
        })();
        match attempt {
            Ok(sock) => return Ok(sock),
            // Python only goes on after OSError; anything else (an interruption) stops here.
            Err(e) if is_os_level(&e) => errors.push(e),
            Err(e) => return Err(vec![e]),
        }
    }
    Err(errors)
}

/// Errors Python reports as OSError (or a subclass): the ones create_connection moves past.
fn is_os_level(e: &Error) -> bool {
    match e {
        Error::Os(io) => io.raw_os_error() != Some(libc::EINTR),
        Error::Timeout | Error::AddressInfo { .. } | Error::Host { .. } | Error::Failed(_) => true,
        _ => false,
    }
}

/// The steps of Python's `socket.create_server` before bind: a stream socket of `family`
/// with SO_REUSEADDR, SO_REUSEPORT if asked, and IPV6_V6ONLY set for AF_INET6 (cleared for
/// a dual-stack socket). The caller binds and listens.
pub fn server_socket(family: i32, reuse_port: bool, dualstack_ipv6: bool) -> Result<Socket> {
    if dualstack_ipv6 {
        if !has_dualstack_ipv6() {
            return Err(Error::InvalidArgument("dualstack_ipv6 not supported on this platform".into()));
        }
        if family != libc::AF_INET6 {
            return Err(Error::InvalidArgument("dualstack_ipv6 requires AF_INET6 family".into()));
        }
    }
    let sock = Socket::new(family, libc::SOCK_STREAM, 0)?;
    // Failure here shows up at bind(), as in CPython.
    let _ = sock.setsockopt(libc::SOL_SOCKET, libc::SO_REUSEADDR, OptValue::Int(1));
    if reuse_port {
        sock.setsockopt(libc::SOL_SOCKET, libc::SO_REUSEPORT, OptValue::Int(1))?;
    }
    if family == libc::AF_INET6 {
        sock.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, OptValue::Int(if dualstack_ipv6 { 0 } else { 1 }))?;
    }
    Ok(sock)
}
