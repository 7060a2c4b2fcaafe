//! Name and service look-ups with the semantics of Python's `socket` module:
//! the same inputs give the same results and the same errors.

pub mod services;
mod sys;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::error::{Error, Result};

pub use services::{getservbyname, getservbyport, ServiceEntry, ServicesDb};
pub use sys::{gethostname, HostEntry, RawAddrInfo as AddrInfo};

/// How long `getfqdn` waits for a reverse look-up before it settles for the name it has.
pub const DEFAULT_FQDN_TIMEOUT: Duration = Duration::from_secs(2);

/// Resolves a host name or address literal to one address, as CPython's `setipaddr` does:
/// `""` is the wildcard, `"<broadcast>"` is 255.255.255.255, literals skip the resolver.
pub fn resolve_ip(name: &str, family: i32) -> Result<IpAddr> {
    if name.is_empty() {
        let found = sys::getaddrinfo(None, Some("0"), family, libc::SOCK_DGRAM, 0, libc::AI_PASSIVE)?;
        if found.len() > 1 {
            return Err(Error::Failed("wildcard resolved to multiple address".into()));
        }
        return found
            .first()
            .map(|ai| ai.addr.ip())
            .ok_or_else(|| Error::Failed("wildcard resolved to no address".into()));
    }
    if name == "<broadcast>" || name == "255.255.255.255" {
        if family != libc::AF_INET && family != libc::AF_UNSPEC {
            return Err(Error::Failed("address family mismatched".into()));
        }
        return Ok(Ipv4Addr::BROADCAST.into());
    }
    if family == libc::AF_INET || family == libc::AF_UNSPEC {
        if let Ok(v4) = name.parse::<Ipv4Addr>() {
            return Ok(v4.into());
        }
    }
    if family == libc::AF_INET6 || family == libc::AF_UNSPEC {
        if let Ok(v6) = name.parse::<std::net::Ipv6Addr>() {
            return Ok(v6.into());
        }
    }
    let found = sys::getaddrinfo(Some(name), None, family, 0, 0, 0)?;
    found
        .first()
        .map(|ai| ai.addr.ip())
        .ok_or_else(|| Error::AddressInfo { code: libc::EAI_NONAME, message: "Name or service not known".into() })
}

/// Python's `socket.gethostbyname(host)`: one IPv4 address.
pub fn gethostbyname(host: &str) -> Result<Ipv4Addr> {
    reject_nul("gethostbyname", host)?;
    match resolve_ip(host, libc::AF_INET)? {
        IpAddr::V4(v4) => Ok(v4),
        IpAddr::V6(_) => Err(Error::Failed("address family mismatched".into())),
    }
}

/// Python's `socket.gethostbyname_ex(host)`: (name, aliases, IPv4 addresses).
pub fn gethostbyname_ex(host: &str) -> Result<HostEntry> {
    reject_nul("gethostbyname_ex", host)?;
    resolve_ip(host, libc::AF_INET)?;
    sys::gethostbyname_r_ex(host)
}

/// Python's `socket.gethostbyaddr(ip_or_name)`: the host entry for an address.
pub fn gethostbyaddr(host: &str) -> Result<HostEntry> {
    reject_nul("gethostbyaddr", host)?;
    let ip = resolve_ip(host, libc::AF_UNSPEC)?;
    sys::gethostbyaddr_r_ex(ip)
}

/// Python's `socket.getfqdn(name)`, bounded: a reverse look-up that takes longer than
/// `timeout` is abandoned and the name known so far is returned.
pub fn getfqdn(name: &str, timeout: Duration) -> Result<String> {
    let mut name = name.trim().to_string();
    if name.is_empty() || name == "0.0.0.0" || name == "::" {
        name = gethostname()?;
    }
    if name.contains('\0') {
        return Ok(name);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let query = name.clone();
    // The look-up runs on its own thread so a hung resolver cannot hold the caller.
    let spawned = std::thread::Builder::new().name("netcore-getfqdn".into()).spawn(move || {
        let _ = tx.send(gethostbyaddr(&query));
    });
    if spawned.is_err() {
        return Ok(name);
    }
    let entry = match rx.recv_timeout(timeout) {
        Ok(Ok(entry)) => entry,
        _ => return Ok(name),
    };
    let dotted = std::iter::once(&entry.name).chain(entry.aliases.iter()).find(|n| n.contains('.'));
    Ok(dotted.cloned().unwrap_or(entry.name))
}

/// Python's `socket.getaddrinfo`: `port` is the decimal port or a service name.
pub fn getaddrinfo(
    host: Option<&str>,
    port: Option<&str>,
    family: i32,
    socktype: i32,
    protocol: i32,
    flags: i32,
) -> Result<Vec<AddrInfo>> {
    sys::getaddrinfo(host, port, family, socktype, protocol, flags)
}

/// The address argument of `getnameinfo`: Python's `(host, port[, flowinfo[, scope_id]])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameInfoAddr {
    pub host: String,
    pub port: i64,
    /// `Some` when the tuple had more than two items (then it must be an IPv6 address).
    pub flowinfo: Option<u32>,
    pub scope_id: Option<u32>,
}

/// Python's `socket.getnameinfo(sockaddr, flags)`: (host, service).
pub fn getnameinfo(addr: &NameInfoAddr, flags: i32) -> Result<(String, String)> {
    let flowinfo = addr.flowinfo.unwrap_or(0);
    if flowinfo > 0xfffff {
        return Err(Error::Overflow("getnameinfo(): flowinfo must be 0-1048575.".into()));
    }
    let found = sys::getaddrinfo(
        Some(&addr.host),
        Some(&addr.port.to_string()),
        libc::AF_UNSPEC,
        libc::SOCK_DGRAM,
        0,
        libc::AI_NUMERICHOST,
    )?;
    if found.len() > 1 {
        return Err(Error::Failed("sockaddr resolved to multiple addresses".into()));
    }
    let mut target =
        found.first().map(|ai| ai.addr).ok_or_else(|| Error::Failed("sockaddr resolved to no address".into()))?;
    match &mut target {
        SocketAddr::V4(_) if addr.flowinfo.is_some() => {
            return Err(Error::Failed("IPv4 sockaddr must be 2 tuple".into()));
        }
        SocketAddr::V4(_) => {}
        SocketAddr::V6(v6) => {
            v6.set_flowinfo(flowinfo);
            v6.set_scope_id(addr.scope_id.unwrap_or(0));
        }
    }
    sys::getnameinfo(&target, flags)
}

fn reject_nul(what: &str, s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(Error::TypeMismatch(format!(
            "{what}() argument 1 must be encoded string without null bytes, not str"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_and_literals() {
        assert_eq!(gethostbyname("localhost").unwrap(), Ipv4Addr::LOCALHOST);
        assert_eq!(gethostbyname("127.0.0.1").unwrap(), Ipv4Addr::LOCALHOST);
        assert_eq!(gethostbyname("").unwrap(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(gethostbyname("<broadcast>").unwrap(), Ipv4Addr::BROADCAST);
    }

    #[test]
    fn unknown_host_is_an_address_info_error() {
        match gethostbyname("no-such-host.invalid") {
            Err(Error::AddressInfo { code, .. }) => assert!(code < 0),
            other => panic!("expected AddressInfo error, got {other:?}"),
        }
    }

    #[test]
    fn host_entry_for_localhost() {
        let entry = gethostbyname_ex("localhost").unwrap();
        assert_eq!(entry.name, "localhost");
        assert!(entry.addresses.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn getaddrinfo_numeric_port() {
        let found = getaddrinfo(Some("127.0.0.1"), Some("80"), 0, libc::SOCK_STREAM, 0, 0).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(found[0].protocol, libc::IPPROTO_TCP);
    }

    #[test]
    fn getnameinfo_checks_tuple_shape() {
        let v4 = NameInfoAddr { host: "127.0.0.1".into(), port: 80, flowinfo: Some(1), scope_id: None };
        assert_eq!(getnameinfo(&v4, 0).unwrap_err().to_string(), "IPv4 sockaddr must be 2 tuple");
        let numeric = NameInfoAddr { flowinfo: None, ..v4 };
        let flags = libc::NI_NUMERICHOST | libc::NI_NUMERICSERV;
        assert_eq!(getnameinfo(&numeric, flags).unwrap(), ("127.0.0.1".into(), "80".into()));
        let big = NameInfoAddr { host: "::1".into(), port: 80, flowinfo: Some(0x100000), scope_id: Some(0) };
        assert!(matches!(getnameinfo(&big, 0), Err(Error::Overflow(_))));
    }

    #[test]
    fn getfqdn_returns_a_name_in_time() {
        let start = std::time::Instant::now();
        let name = getfqdn("localhost", Duration::from_millis(500)).unwrap();
        assert!(!name.is_empty());
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
