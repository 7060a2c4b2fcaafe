//! The sockets under the clients: resolving a host, connecting within a deadline, sending
//! everything. Every wait is `crate::socket::wait`'s, its hook also run every `CHECK_SLICE`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use super::Target;
use crate::error::{Error, Result};
use crate::socket::wait::{wait_fd, Interrupt, CHECK_SLICE};

pub(super) fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// Waits for `events` on `fd` as every client wait does: `crate::socket`'s wait, with the
/// hook also run every `CHECK_SLICE`.
pub fn wait_ready(fd: i32, events: i16, deadline: Option<Instant>, intr: &mut Interrupt<'_>) -> Result<i16> {
    wait_fd(fd, events, deadline, Some(CHECK_SLICE), intr)
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
    intr: &mut Interrupt<'_>,
) -> Result<Socket> {
    let socket = Socket::new(domain, Type::STREAM.cloexec(), None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(addr) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock => {
            wait_ready(socket.as_raw_fd(), libc::POLLOUT, deadline, intr)?;
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
pub fn connect_socket(target: &Target, timeout: Option<Duration>, intr: &mut Interrupt<'_>) -> Result<Socket> {
    let deadline = deadline_after(timeout);
    match target {
        Target::Unix(path) => {
            let addr = SockAddr::unix(path)?;
            connect_one(&addr, Domain::UNIX, deadline, intr)
        }
        Target::Tcp { host, port } => {
            let mut last = None;
            for addr in resolve_stream(host, *port, libc::SOCK_STREAM)? {
                match connect_one(&SockAddr::from(addr), Domain::for_address(addr), deadline, intr) {
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
pub(crate) fn send_all(
    socket: &Socket,
    data: &[u8],
    timeout: Option<Duration>,
    intr: &mut Interrupt<'_>,
) -> Result<()> {
    let mut sent = 0;
    while sent < data.len() {
        match socket.send_with_flags(&data[sent..], libc::MSG_NOSIGNAL) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_ready(socket.as_raw_fd(), libc::POLLOUT, deadline_after(timeout), intr)?;
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
