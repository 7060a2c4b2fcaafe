//! The module-level functions of Python's `socket` that are not socket methods: address text
//! (`inet_aton`, `inet_pton`, ...), interface names, protocol numbers, the host name, and
//! closing or duplicating a socket descriptor. Same results and errors as CPython's.

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

use crate::error::{Error, Result};

fn c_string(text: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::InvalidArgument("embedded null character".into()))
}

/// `socket.inet_aton(text)`: the four bytes of an IPv4 address in any form the C library's
/// `inet_aton` takes ("1.2.3.4", "127.1", "0x7f000001").
pub fn inet_aton(text: &str) -> Result<[u8; 4]> {
    let c = c_string(text)?;
    let mut addr = libc::in_addr { s_addr: 0 };
    // SAFETY: c is NUL-terminated; addr is a valid in_addr.
    if unsafe { inet_aton_c(c.as_ptr(), &mut addr) } == 0 {
        return Err(Error::Failed("illegal IP address string passed to inet_aton".into()));
    }
    Ok(addr.s_addr.to_ne_bytes())
}

/// `socket.inet_ntoa(packed)`: dotted-quad text of four packed bytes.
pub fn inet_ntoa(packed: &[u8]) -> Result<String> {
    let b: [u8; 4] = packed.try_into().map_err(|_| Error::Failed("packed IP wrong length for inet_ntoa".into()))?;
    Ok(std::net::Ipv4Addr::from(b).to_string())
}

/// `socket.inet_pton(family, text)`: the packed address, strictly parsed by the C library.
pub fn inet_pton(family: i32, text: &str) -> Result<Vec<u8>> {
    let size = match family {
        libc::AF_INET => 4,
        libc::AF_INET6 => 16,
        _ => return Err(Error::from_errno(libc::EAFNOSUPPORT)),
    };
    let c = c_string(text)?;
    let mut buf = [0u8; 16];
    // SAFETY: c is NUL-terminated; buf has room for either family's address.
    match unsafe { inet_pton_c(family, c.as_ptr(), buf.as_mut_ptr() as *mut libc::c_void) } {
        1 => Ok(buf[..size].to_vec()),
        0 => Err(Error::Failed("illegal IP address string passed to inet_pton".into())),
        _ => Err(std::io::Error::last_os_error().into()),
    }
}

/// `socket.inet_ntop(family, packed)`: the text the C library writes for a packed address.
pub fn inet_ntop(family: i32, packed: &[u8]) -> Result<String> {
    let size = match family {
        libc::AF_INET => 4,
        libc::AF_INET6 => 16,
        other => return Err(Error::InvalidArgument(format!("unknown address family {other}"))),
    };
    if packed.len() != size {
        return Err(Error::InvalidArgument("invalid length of packed IP address string".into()));
    }
    if family == libc::AF_INET {
        return inet_ntoa(packed);
    }
    let octets: [u8; 16] = packed.try_into().expect("16 bytes");
    Ok(super::addr::ipv6_text(&std::net::Ipv6Addr::from(octets)))
}

/// `socket.if_nameindex()`: every interface as (index, name).
pub fn if_nameindex() -> Result<Vec<(u32, String)>> {
    // SAFETY: if_nameindex returns an array ended by a zero entry, freed below.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return Err(std::io::Error::last_os_error().into());
    }
    let mut out = Vec::new();
    // SAFETY: we walk the array up to its zero entry, then free it once.
    unsafe {
        let mut p = list;
        while (*p).if_index != 0 && !(*p).if_name.is_null() {
            out.push(((*p).if_index, CStr::from_ptr((*p).if_name).to_string_lossy().into_owned()));
            p = p.add(1);
        }
        libc::if_freenameindex(list);
    }
    Ok(out)
}

/// `socket.if_nametoindex(name)`.
pub fn if_nametoindex(name: &[u8]) -> Result<u32> {
    let c = CString::new(name).map_err(|_| Error::InvalidArgument("embedded null byte".into()))?;
    // SAFETY: c is NUL-terminated.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(Error::Failed("no interface with this name".into())),
        n => Ok(n),
    }
}

/// `socket.if_indextoname(index)`.
pub fn if_indextoname(index: u32) -> Result<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes, as the call requires.
    if unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) }.is_null() {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: the call wrote a NUL-terminated name.
    Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned())
}

/// `socket.getprotobyname(name)`: the protocol number from the protocols database.
pub fn getprotobyname(name: &str) -> Result<i32> {
    let c = c_string(name)?;
    // SAFETY: the reentrant form with our own storage; result points into it or is NULL.
    unsafe {
        let mut entry: libc::protoent = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::protoent = std::ptr::null_mut();
        let rc = getprotobyname_r(c.as_ptr(), &mut entry, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 || result.is_null() {
            return Err(Error::Failed("protocol not found".into()));
        }
        Ok((*result).p_proto)
    }
}

/// `socket.sethostname(name)`: needs CAP_SYS_ADMIN in the UTS namespace (else EPERM).
pub fn sethostname(name: &[u8]) -> Result<()> {
    // The kernel would take the bytes up to the NUL; CPython refuses such a name.
    if name.contains(&0) {
        return Err(Error::InvalidArgument("embedded null byte".into()));
    }
    // SAFETY: name/len describe the bytes.
    if unsafe { libc::sethostname(name.as_ptr() as *const libc::c_char, name.len()) } < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// `socket.close(fd)`: closes a socket descriptor; ECONNRESET is ignored, as CPython does.
pub fn close(fd: RawFd) -> Result<()> {
    // SAFETY: closing an integer fd the caller gives up.
    if unsafe { libc::close(fd) } < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ECONNRESET) {
            return Err(e.into());
        }
    }
    Ok(())
}

/// `socket.dup(fd)`: a non-inheritable duplicate of a descriptor.
pub fn dup(fd: RawFd) -> Result<RawFd> {
    // SAFETY: fcntl on an integer fd.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(new)
}

// Kept out of the C header: cbindgen would otherwise declare these imports there.
#[allow(unused_doc_comments)]
/// cbindgen:ignore
extern "C" {
    // Not bound by the libc crate; in every C library.
    #[link_name = "inet_aton"]
    fn inet_aton_c(cp: *const libc::c_char, inp: *mut libc::in_addr) -> libc::c_int;
    #[link_name = "inet_pton"]
    fn inet_pton_c(af: libc::c_int, src: *const libc::c_char, dst: *mut libc::c_void) -> libc::c_int;
    fn getprotobyname_r(
        name: *const libc::c_char,
        result_buf: *mut libc::protoent,
        buf: *mut libc::c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::protoent,
    ) -> libc::c_int;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_text_conversions_match_the_c_library() {
        assert_eq!(inet_aton("127.1").unwrap(), [127, 0, 0, 1]);
        assert_eq!(inet_aton("x").unwrap_err().to_string(), "illegal IP address string passed to inet_aton");
        assert_eq!(inet_ntoa(&[1, 2, 3, 4]).unwrap(), "1.2.3.4");
        assert!(inet_ntoa(&[1, 2, 3]).is_err());
        assert_eq!(inet_pton(libc::AF_INET6, "::1").unwrap()[15], 1);
        assert!(inet_pton(libc::AF_INET, "127.1").is_err());
        assert_eq!(
            inet_ntop(libc::AF_INET6, &inet_pton(libc::AF_INET6, "::ffff:1.2.3.4").unwrap()).unwrap(),
            "::ffff:1.2.3.4"
        );
        assert_eq!(
            inet_ntop(libc::AF_INET, &[1]).unwrap_err().to_string(),
            "invalid length of packed IP address string"
        );
    }

    #[test]
    fn loopback_interface_and_protocols_are_found() {
        let lo = if_nametoindex(b"lo").unwrap();
        assert_eq!(if_indextoname(lo).unwrap(), "lo");
        assert!(if_nameindex().unwrap().contains(&(lo, "lo".to_string())));
        assert!(if_nametoindex(b"no-such-if0").is_err());
        assert_eq!(getprotobyname("tcp").unwrap(), libc::IPPROTO_TCP);
        assert_eq!(getprotobyname("nope").unwrap_err().to_string(), "protocol not found");
    }

    #[test]
    fn a_host_name_with_a_nul_is_refused_before_the_kernel_sees_it() {
        assert_eq!(sethostname(b"a\0b").unwrap_err().to_string(), "embedded null byte");
    }
}
