//! The sockets under the clients: resolving a host, connecting within a deadline, waiting
//! for readiness with interrupt checks every `CHECK_SLICE`, sending everything.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use super::{Check, Target, CHECK_SLICE};
use crate::error::{Error, Result};

pub(super) fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// Waits until `fd` reports one of `events` (returns the reported events), the deadline
/// passes (`Error::Timeout`) or `check` fails.
pub fn wait_fd(fd: i32, events: i16, deadline: Option<Instant>, check: &mut Check<'_>) -> Result<i16> {
    loop {
        let remaining = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout);
                }
                Some(left)
            }
            None => None,
        };
        let slice = match (remaining, check.is_some()) {
            (Some(r), true) => Some(r.min(CHECK_SLICE)),
            (Some(r), false) => Some(r),
            (None, true) => Some(CHECK_SLICE),
            (None, false) => None,
        };
        // Round up so a 0.4 ms remainder does not become a busy poll of 0 ms.
        let ms = slice.map_or(-1, |s| s.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32);
        let mut pfd = libc::pollfd { fd, events, revents: 0 };
        // SAFETY: one valid pollfd for the duration of the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 {
            return Ok(pfd.revents);
        }
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::Os(err));
            }
        }
        if let Some(check) = check.as_mut() {
            check()?;
        }
    }
}

pub(crate) fn resolve_stream(host: &str, port: u16, socktype: i32) -> Result<Vec<SocketAddr>> {
    let found = crate::resolve::getaddrinfo(Some(host), Some(&port.to_string()), libc::AF_UNSPEC, socktype, 0, 0)?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for ai in found {
        if !addrs.contains(&ai.addr) {
            addrs.push(ai.addr);
        }
    }
    if addrs.is_empty() {
        return Err(Error::AddressInfo { code: libc::EAI_NONAME, message: "Name or service not known".into() });
    }
    Ok(addrs)
}

/// Starts a non-blocking connect and waits for it to finish.
pub(crate) fn connect_one(
    addr: &SockAddr,
    domain: Domain,
    deadline: Option<Instant>,
    check: &mut Check<'_>,
) -> Result<Socket> {
    let socket = Socket::new(domain, Type::STREAM.cloexec(), None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(addr) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock => {
            wait_fd(socket.as_raw_fd(), libc::POLLOUT, deadline, check)?;
            if let Some(err) = socket.take_error()? {
                return Err(Error::Os(err));
            }
        }
        Err(e) => return Err(Error::Os(e)),
    }
    if domain != Domain::UNIX {
        socket.set_tcp_nodelay(true)?;
    }
    Ok(socket)
}

/// Opens a connected, non-blocking stream socket to `target`. Tries each address of a host
/// name in turn within one overall timeout; returns the last address's error if none answer.
pub fn connect_socket(target: &Target, timeout: Option<Duration>, check: &mut Check<'_>) -> Result<Socket> {
    let deadline = deadline_after(timeout);
    match target {
        Target::Unix(path) => {
            let addr = SockAddr::unix(path)?;
            connect_one(&addr, Domain::UNIX, deadline, check)
        }
        Target::Tcp { host, port } => {
            let mut last = None;
            for addr in resolve_stream(host, *port, libc::SOCK_STREAM)? {
                match connect_one(&SockAddr::from(addr), Domain::for_address(addr), deadline, check) {
                    Ok(s) => return Ok(s),
                    Err(e @ Error::Timeout) => return Err(e),
                    Err(e @ Error::Interrupted) => return Err(e),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.expect("at least one address was tried"))
        }
    }
}

/// Sends all of `data` on a non-blocking socket (no SIGPIPE: EPIPE comes back as an error).
pub(crate) fn send_all(socket: &Socket, data: &[u8], timeout: Option<Duration>, check: &mut Check<'_>) -> Result<()> {
    let mut sent = 0;
    while sent < data.len() {
        match socket.send_with_flags(&data[sent..], libc::MSG_NOSIGNAL) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_fd(socket.as_raw_fd(), libc::POLLOUT, deadline_after(timeout), check)?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Os(e)),
        }
    }
    Ok(())
}

/// Makes a connected socket block in its system calls for at most `CHECK_SLICE` each
/// (SO_RCVTIMEO, SO_SNDTIMEO): a reply on its way then costs one `recv`, as with the stdlib's
/// blocking socket, instead of a `recv` failing with EAGAIN, a `poll` and another `recv`
/// (0.71x the stdlib's round trips before). Calls that must not wait pass `MSG_DONTWAIT`.
pub(super) fn block_in_slices(socket: &Socket) -> Result<()> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(CHECK_SLICE))?;
    socket.set_write_timeout(Some(CHECK_SLICE))?;
    Ok(())
}

/// `recv(2)` into `buf` with `flags`.
pub(super) fn recv_into(socket: &Socket, buf: &mut [u8], flags: i32) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length for the duration of the call.
    let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
