//! The sockets under the clients: resolving a host, connecting within a deadline, sending
//! everything. Every socket is a `crate::socket::Socket` and every wait is its wait layer's,
//! with the hook also run every `CHECK_SLICE` (`Interrupt::sliced`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::SockAddr;

use super::Target;
use crate::error::{Error, Result};
use crate::socket::wait::{would_block, Interrupt, Mode, CHECK_SLICE};
use crate::socket::Socket;

pub(super) fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// The hook as every client wait runs it: after a signal and every `CHECK_SLICE`.
pub(super) fn client_hook(intr: Interrupt<'_>) -> Interrupt<'_> {
    intr.sliced(CHECK_SLICE)
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

/// A connected non-blocking stream socket to `addr` (TCP_NODELAY on for TCP), the connect
/// bounded by `deadline`.
pub(crate) fn connect_one(addr: &SockAddr, deadline: Option<Instant>, intr: &mut Interrupt<'_>) -> Result<Socket> {
    let socket = Socket::stream_for(addr)?;
    socket.connect_until(addr, deadline, intr)?;
    if i32::from(addr.family()) != libc::AF_UNIX {
        socket.set_nodelay()?;
    }
    Ok(socket)
}

/// Opens a connected, non-blocking stream socket to `target`. Tries each address of a host
/// name in turn within one overall timeout; returns the last address's error if none answer.
pub fn connect_socket(target: &Target, timeout: Option<Duration>, intr: &mut Interrupt<'_>) -> Result<Socket> {
    let deadline = deadline_after(timeout);
    match target {
        Target::Unix(path) => connect_one(&SockAddr::unix(path)?, deadline, intr),
        Target::Tcp { host, port } => {
            let mut last = None;
            for addr in resolve_stream(host, *port, libc::SOCK_STREAM)? {
                match connect_one(&SockAddr::from(addr), deadline, intr) {
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

/// Sends all of `data` on a socket in slices (`Socket::block_in_slices`); `timeout` bounds
/// each wait for room, as the clients' timeouts do (a partial send starts a new one).
pub(crate) fn send_all(
    socket: &Socket,
    data: &[u8],
    timeout: Option<Duration>,
    intr: &mut Interrupt<'_>,
) -> Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let n = socket.send_in(rest, 0, Mode::Sliced(timeout), intr)?;
        rest = &rest[n.min(rest.len())..];
    }
    Ok(())
}

/// Receives into the spare room of `buf` (at least `room` bytes of it), waiting as `mode`
/// says: the count, 0 at the end of the stream.
pub(super) fn recv_into(
    socket: &Socket,
    buf: &mut Vec<u8>,
    room: usize,
    flags: i32,
    mode: Mode,
    intr: &mut Interrupt<'_>,
) -> Result<usize> {
    buf.reserve(room);
    let n = socket.recv_uninit_in(buf.spare_capacity_mut(), flags, mode, intr)?;
    // SAFETY: recv initialised the first `n` bytes of the spare room.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Looks for bytes without waiting (`recv` with MSG_DONTWAIT) until `until`: `None` if none
/// came. It ends within the window (at most `MAX_BUSY_POLL`, shorter than a wait's slice), so
/// it needs no interrupt check of its own.
pub(super) fn spin_recv(
    socket: &Socket,
    buf: &mut Vec<u8>,
    until: std::time::Instant,
    intr: &mut Interrupt<'_>,
) -> Result<Option<usize>> {
    loop {
        if let Some(n) = unless_would_block(recv_into(socket, buf, 16384, libc::MSG_DONTWAIT, Mode::NonBlocking, intr))?
        {
            return Ok(Some(n));
        }
        if std::time::Instant::now() >= until {
            return Ok(None);
        }
        // A server on this CPU can answer only once this thread lets it run.
        std::thread::yield_now();
    }
}

/// `Ok(None)` for a call that would have had to wait.
pub(super) fn unless_would_block<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(Error::Os(e)) if would_block(&e) => Ok(None),
        Err(e) => Err(e),
    }
}
