//! Thin safe wrappers over the C library's resolver calls. Everything unsafe about
//! name look-ups lives here; the rest of the crate sees owned Rust values.

use std::ffi::{CStr, CString};
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use crate::error::{Error, Result};

extern "C" {
    // Declared here: the libc crate does not bind the reentrant hostent calls on every target.
    fn gethostbyname_r(
        name: *const c_char,
        ret: *mut libc::hostent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn gethostbyaddr_r(
        addr: *const c_void,
        len: libc::socklen_t,
        family: c_int,
        ret: *mut libc::hostent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn hstrerror(err: c_int) -> *const c_char;
}

/// One getaddrinfo result, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAddrInfo {
    pub family: i32,
    pub socktype: i32,
    pub protocol: i32,
    pub canonname: String,
    pub addr: SocketAddr,
}

/// A host entry (gethostbyname_ex / gethostbyaddr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub name: String,
    pub aliases: Vec<String>,
    pub addresses: Vec<std::net::IpAddr>,
}

pub(crate) fn c_string(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::InvalidArgument(format!("{what}: embedded null character")))
}

/// The error Python raises for an EAI_* code: EAI_SYSTEM becomes the errno behind it.
pub(crate) fn gai_error(code: c_int) -> Error {
    if code == libc::EAI_SYSTEM {
        return Error::Os(std::io::Error::last_os_error());
    }
    // SAFETY: gai_strerror returns a static NUL-terminated string.
    let message = unsafe { CStr::from_ptr(libc::gai_strerror(code)) };
    Error::AddressInfo { code, message: message.to_string_lossy().into_owned() }
}

fn host_error(code: c_int) -> Error {
    // SAFETY: hstrerror returns a static NUL-terminated string.
    let message = unsafe { CStr::from_ptr(hstrerror(code)) };
    Error::Host { code, message: message.to_string_lossy().into_owned() }
}

/// Reads a socket address the C library handed back.
///
/// # Safety
/// `sa` must point to a valid sockaddr of at least `len` bytes.
pub(crate) unsafe fn sockaddr_to_std(sa: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    match (*sa).sa_family as c_int {
        libc::AF_INET if len as usize >= mem::size_of::<libc::sockaddr_in>() => {
            let sin = &*(sa as *const libc::sockaddr_in);
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 if len as usize >= mem::size_of::<libc::sockaddr_in6>() => {
            let sin6 = &*(sa as *const libc::sockaddr_in6);
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// getaddrinfo(3): `host` and `service` may each be absent, not both (the C library says so).
pub fn getaddrinfo(
    host: Option<&str>,
    service: Option<&str>,
    family: i32,
    socktype: i32,
    protocol: i32,
    flags: i32,
) -> Result<Vec<RawAddrInfo>> {
    let host = host.map(|h| c_string("getaddrinfo", h)).transpose()?;
    let service = service.map(|s| c_string("getaddrinfo", s)).transpose()?;
    // SAFETY: a zeroed addrinfo is the documented way to start hints.
    let mut hints: libc::addrinfo = unsafe { mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_protocol = protocol;
    hints.ai_flags = flags;
    let mut res: *mut libc::addrinfo = ptr::null_mut();
    // SAFETY: all pointers are valid for the call; `res` is freed below.
    let rc = unsafe {
        libc::getaddrinfo(
            host.as_ref().map_or(ptr::null(), |h| h.as_ptr()),
            service.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        )
    };
    if rc != 0 {
        return Err(gai_error(rc));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` walks the list getaddrinfo returned, which stays valid until freeaddrinfo.
        unsafe {
            let ai = &*cur;
            if let Some(addr) = sockaddr_to_std(ai.ai_addr, ai.ai_addrlen) {
                let canonname = if ai.ai_canonname.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(ai.ai_canonname).to_string_lossy().into_owned()
                };
                out.push(RawAddrInfo {
                    family: ai.ai_family,
                    socktype: ai.ai_socktype,
                    protocol: ai.ai_protocol,
                    canonname,
                    addr,
                });
            }
            cur = ai.ai_next;
        }
    }
    // SAFETY: `res` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

/// getnameinfo(3) on an address: returns (host, service).
pub fn getnameinfo(addr: &SocketAddr, flags: i32) -> Result<(String, String)> {
    let sa: socket2::SockAddr = (*addr).into();
    let mut host = [0 as c_char; libc::NI_MAXHOST as usize];
    let mut serv = [0 as c_char; 32];
    // SAFETY: buffers are sized as passed; `sa` is a valid sockaddr of the given length.
    let rc = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast(),
            sa.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            serv.as_mut_ptr(),
            serv.len() as libc::socklen_t,
            flags,
        )
    };
    if rc != 0 {
        return Err(gai_error(rc));
    }
    // SAFETY: getnameinfo NUL-terminates both buffers on success.
    unsafe {
        Ok((
            CStr::from_ptr(host.as_ptr()).to_string_lossy().into_owned(),
            CStr::from_ptr(serv.as_ptr()).to_string_lossy().into_owned(),
        ))
    }
}

/// Copies a hostent the C library filled in.
///
/// # Safety
/// `h` must point to a valid hostent whose storage is still alive.
unsafe fn hostent_to_entry(h: &libc::hostent) -> HostEntry {
    let name = if h.h_name.is_null() { String::new() } else { CStr::from_ptr(h.h_name).to_string_lossy().into_owned() };
    let mut aliases = Vec::new();
    let mut p = h.h_aliases;
    while !p.is_null() && !(*p).is_null() {
        aliases.push(CStr::from_ptr(*p).to_string_lossy().into_owned());
        p = p.add(1);
    }
    let mut addresses = Vec::new();
    let mut p = h.h_addr_list;
    while !p.is_null() && !(*p).is_null() {
        let bytes = *p as *const u8;
        match h.h_addrtype {
            libc::AF_INET if h.h_length == 4 => {
                let mut a = [0u8; 4];
                ptr::copy_nonoverlapping(bytes, a.as_mut_ptr(), 4);
                addresses.push(Ipv4Addr::from(a).into());
            }
            libc::AF_INET6 if h.h_length == 16 => {
                let mut a = [0u8; 16];
                ptr::copy_nonoverlapping(bytes, a.as_mut_ptr(), 16);
                addresses.push(Ipv6Addr::from(a).into());
            }
            _ => {}
        }
        p = p.add(1);
    }
    HostEntry { name, aliases, addresses }
}

/// Runs a reentrant hostent call, growing the scratch buffer while it reports ERANGE.
fn with_hostent(
    call: impl Fn(*mut libc::hostent, *mut c_char, usize, *mut *mut libc::hostent, *mut c_int) -> c_int,
) -> Result<HostEntry> {
    let mut buf_len = 16 * 1024;
    loop {
        let mut buf = vec![0 as c_char; buf_len];
        // SAFETY: zeroed hostent is a valid out-parameter.
        let mut storage: libc::hostent = unsafe { mem::zeroed() };
        let mut result: *mut libc::hostent = ptr::null_mut();
        let mut h_err: c_int = 0;
        let rc = call(&mut storage, buf.as_mut_ptr(), buf.len(), &mut result, &mut h_err);
        if rc == libc::ERANGE && buf_len < 1 << 22 {
            buf_len *= 4;
            continue;
        }
        if result.is_null() {
            return Err(host_error(if h_err == 0 { 1 } else { h_err }));
        }
        // SAFETY: on success `result` points at `storage`, whose strings live in `buf`.
        return Ok(unsafe { hostent_to_entry(&*result) });
    }
}

/// gethostbyname_r(3): IPv4 host entry by name.
pub fn gethostbyname_r_ex(name: &str) -> Result<HostEntry> {
    let c_name = c_string("gethostbyname_ex", name)?;
    with_hostent(|ret, buf, len, result, h_err| {
        // SAFETY: all pointers come from `with_hostent` and are valid for the call.
        unsafe { gethostbyname_r(c_name.as_ptr(), ret, buf, len, result, h_err) }
    })
}

/// gethostbyaddr_r(3): host entry by address.
pub fn gethostbyaddr_r_ex(ip: std::net::IpAddr) -> Result<HostEntry> {
    let (bytes, family): (Vec<u8>, c_int) = match ip {
        std::net::IpAddr::V4(v4) => (v4.octets().to_vec(), libc::AF_INET),
        std::net::IpAddr::V6(v6) => (v6.octets().to_vec(), libc::AF_INET6),
    };
    with_hostent(|ret, buf, len, result, h_err| {
        // SAFETY: `bytes` holds an address of the stated family and length.
        unsafe {
            gethostbyaddr_r(bytes.as_ptr().cast(), bytes.len() as libc::socklen_t, family, ret, buf, len, result, h_err)
        }
    })
}

/// gethostname(2).
pub fn gethostname() -> Result<String> {
    let mut buf = [0 as c_char; 1024];
    // SAFETY: the buffer length is passed; the last byte stays NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr(), buf.len() - 1) };
    if rc != 0 {
        return Err(Error::Os(std::io::Error::last_os_error()));
    }
    // SAFETY: NUL-terminated by gethostname or by the zeroed last byte.
    Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned())
}
