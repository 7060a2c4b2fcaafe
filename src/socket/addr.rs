//! Socket addresses as Python's `socket` module takes and returns them.
//!
//! [`Address`] is what a caller passes (`(host, port)`, `(host, port, flowinfo, scope_id)`, a
//! Unix path); [`resolve`] turns it into a kernel `sockaddr` the way CPython's
//! `getsockaddrarg` does, in the same order and with the same errors (the host is resolved
//! before the port is range-checked). [`SockName`] is what the kernel hands back
//! (`getsockname`, `accept`, `recvfrom`), decoded as CPython's `makesockaddr` does.

use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr};

use socket2::SockAddr;

use crate::error::{Error, Result};
use crate::resolve;

/// An address argument, already taken apart from its Python shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `(host, port)` for AF_INET. `host` is ASCII (IDNA-encoded) text: a name, a literal,
    /// `""` (any address) or `"<broadcast>"`.
    Inet { host: String, port: i64 },
    /// `(host, port[, flowinfo[, scope_id]])` for AF_INET6.
    Inet6 { host: String, port: i64, flowinfo: u32, scope_id: u32 },
    /// An AF_UNIX path as bytes; a leading NUL byte names a Linux abstract socket.
    Unix(Vec<u8>),
}

/// An address the kernel reported, in the form Python shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockName {
    /// `(host, port)`.
    Inet(Ipv4Addr, u16),
    /// `(host, port, flowinfo, scope_id)`.
    Inet6(Ipv6Addr, u16, u32, u32),
    /// A Unix path (Python shows it as `str`); empty for an unnamed socket.
    UnixPath(Vec<u8>),
    /// A Linux abstract name, leading NUL included (Python shows it as `bytes`).
    UnixAbstract(Vec<u8>),
    /// Another family: `(family, raw bytes)`.
    Other(i32, Vec<u8>),
    /// No address at all (a zero-length address, as `recvfrom` on a connected stream gives).
    None,
}

/// The longest AF_UNIX path the kernel takes.
pub const UNIX_PATH_MAX: usize = 108;

/// Turns an address argument into a kernel address for a socket of `family`.
/// `caller` names the method in messages, as CPython does (`"connect(): port must be 0-65535."`).
pub fn resolve(family: i32, addr: &Address, caller: &str) -> Result<SockAddr> {
    let port_range = || Error::Overflow(format!("{caller}(): port must be 0-65535."));
    match (family, addr) {
        (libc::AF_INET, Address::Inet { host, port }) => {
            let ip = resolve::resolve_ip(host, libc::AF_INET)?;
            let std::net::IpAddr::V4(v4) = ip else {
                return Err(Error::Failed("address family mismatched".into()));
            };
            let port = u16::try_from(*port).map_err(|_| port_range())?;
            Ok(SockAddr::from(std::net::SocketAddrV4::new(v4, port)))
        }
        (libc::AF_INET6, Address::Inet6 { host, port, flowinfo, scope_id }) => {
            let ip = resolve::resolve_ip(host, libc::AF_INET6)?;
            let v6 = match ip {
                std::net::IpAddr::V6(v6) => v6,
                std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            };
            let port = u16::try_from(*port).map_err(|_| port_range())?;
            if *flowinfo > 0xfffff {
                return Err(Error::Overflow(format!("{caller}(): flowinfo must be 0-1048575.")));
            }
            Ok(SockAddr::from(std::net::SocketAddrV6::new(v6, port, *flowinfo, *scope_id)))
        }
        (libc::AF_UNIX, Address::Unix(path)) => unix_sockaddr(path),
        (libc::AF_INET, _) => Err(Error::TypeMismatch(format!("{caller}(): AF_INET address must be tuple"))),
        (libc::AF_INET6, _) => Err(Error::TypeMismatch(format!("{caller}(): AF_INET6 address must be tuple"))),
        (libc::AF_UNIX, _) => Err(Error::TypeMismatch("a bytes-like object is required".into())),
        _ => Err(Error::Failed(format!("{caller}(): bad family"))),
    }
}

/// An AF_UNIX sockaddr for a path or (leading NUL) abstract name, as CPython builds it.
pub fn unix_sockaddr(path: &[u8]) -> Result<SockAddr> {
    if path.len() > UNIX_PATH_MAX {
        return Err(Error::Failed("AF_UNIX path too long".into()));
    }
    // SAFETY: sockaddr_un fits in sockaddr_storage, the storage is zeroed, and the length
    // passed covers only the family and the bytes written.
    unsafe {
        let mut storage = socket2::SockAddrStorage::zeroed();
        let un = storage.view_as::<libc::sockaddr_un>();
        un.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in un.sun_path.iter_mut().zip(path) {
            *dst = *src as libc::c_char;
        }
        let len = mem::size_of::<libc::sa_family_t>() + path.len();
        Ok(SockAddr::new(storage, len as libc::socklen_t))
    }
}

/// Decodes a kernel address as CPython's `makesockaddr` does.
pub fn sockname(addr: &SockAddr) -> SockName {
    let len = addr.len() as usize;
    if len == 0 {
        return SockName::None;
    }
    let family = addr.family() as i32;
    // SAFETY: each cast matches the family the kernel wrote, and lengths are bounded by `len`.
    unsafe {
        match family {
            libc::AF_INET => {
                let sin = &*(addr.as_ptr() as *const libc::sockaddr_in);
                SockName::Inet(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)), u16::from_be(sin.sin_port))
            }
            libc::AF_INET6 => {
                let sin6 = &*(addr.as_ptr() as *const libc::sockaddr_in6);
                SockName::Inet6(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    u32::from_be(sin6.sin6_flowinfo),
                    sin6.sin6_scope_id,
                )
            }
            libc::AF_UNIX => {
                let un = &*(addr.as_ptr() as *const libc::sockaddr_un);
                let offset = mem::size_of::<libc::sa_family_t>();
                let n = len.saturating_sub(offset).min(UNIX_PATH_MAX);
                let bytes: Vec<u8> = un.sun_path[..n].iter().map(|&c| c as u8).collect();
                if n > 0 && bytes[0] == 0 {
                    SockName::UnixAbstract(bytes)
                } else {
                    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                    SockName::UnixPath(bytes[..end].to_vec())
                }
            }
            other => {
                let raw = std::slice::from_raw_parts(addr.as_ptr() as *const u8, len);
                SockName::Other(other, raw[mem::size_of::<libc::sa_family_t>()..].to_vec())
            }
        }
    }
}

/// An IPv6 address as the C library writes it (`inet_ntop`), which is what Python shows.
pub fn ipv6_text(ip: &Ipv6Addr) -> String {
    let mut buf = [0 as libc::c_char; 64];
    let octets = ip.octets();
    // SAFETY: the source is 16 bytes, the buffer is larger than INET6_ADDRSTRLEN.
    let p = unsafe {
        inet_ntop(
            libc::AF_INET6,
            octets.as_ptr() as *const libc::c_void,
            buf.as_mut_ptr(),
            buf.len() as libc::socklen_t,
        )
    };
    if p.is_null() {
        return ip.to_string();
    }
    // SAFETY: inet_ntop wrote a NUL-terminated string into buf.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

// Kept out of the C header: cbindgen would otherwise declare these imports there.
#[allow(unused_doc_comments)]
/// cbindgen:ignore
extern "C" {
    // Not bound by the libc crate; POSIX, in every C library.
    fn inet_ntop(
        af: libc::c_int,
        src: *const libc::c_void,
        dst: *mut libc::c_char,
        size: libc::socklen_t,
    ) -> *const libc::c_char;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_round_trip_and_port_range() {
        let a = resolve(libc::AF_INET, &Address::Inet { host: "127.0.0.1".into(), port: 80 }, "connect").unwrap();
        assert_eq!(sockname(&a), SockName::Inet(Ipv4Addr::LOCALHOST, 80));
        let e = resolve(libc::AF_INET, &Address::Inet { host: "127.0.0.1".into(), port: 65536 }, "bind").unwrap_err();
        assert_eq!(e.to_string(), "bind(): port must be 0-65535.");
        // The host is resolved first, as in CPython: an unknown host wins over a bad port.
        let e = resolve(libc::AF_INET, &Address::Inet { host: "no-such-host.invalid".into(), port: -1 }, "bind");
        assert!(matches!(e, Err(Error::AddressInfo { .. })));
    }

    #[test]
    fn inet6_and_flowinfo() {
        let a = Address::Inet6 { host: "::1".into(), port: 5, flowinfo: 0, scope_id: 0 };
        assert_eq!(
            sockname(&resolve(libc::AF_INET6, &a, "bind").unwrap()),
            SockName::Inet6(Ipv6Addr::LOCALHOST, 5, 0, 0)
        );
        let big = Address::Inet6 { host: "::1".into(), port: 5, flowinfo: 0x100000, scope_id: 0 };
        assert!(matches!(resolve(libc::AF_INET6, &big, "bind"), Err(Error::Overflow(_))));
        assert_eq!(ipv6_text(&"::ffff:1.2.3.4".parse().unwrap()), "::ffff:1.2.3.4");
    }

    #[test]
    fn unix_paths_and_abstract_names() {
        assert_eq!(sockname(&unix_sockaddr(b"/tmp/x").unwrap()), SockName::UnixPath(b"/tmp/x".to_vec()));
        assert_eq!(sockname(&unix_sockaddr(b"\0abc").unwrap()), SockName::UnixAbstract(b"\0abc".to_vec()));
        assert_eq!(unix_sockaddr(&[b'x'; 109]).unwrap_err().to_string(), "AF_UNIX path too long");
    }
}
