//! What the clients (`crate::client`, the TLS sessions, `netcore bench`) need of a stream
//! socket beside Python's methods: a connect bounded by a deadline whatever the timeout,
//! blocking in slices (`Mode::Sliced`), addresses as `SocketAddr`, and `Read`/`Write` in the
//! socket's own mode for code written against `std::io` (rustls).

use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use socket2::SockAddr;

use super::wait::{Interrupt, Mode, CHECK_SLICE};
use super::{set_nonblocking, ConnectFail, OptValue, SockName, Socket};
use crate::error::{Error, Result};

impl Socket {
    /// A new non-blocking stream socket (timeout 0) of `addr`'s family; the calls below say
    /// how each waits.
    pub fn stream_for(addr: &SockAddr) -> Result<Socket> {
        Socket::new(i32::from(addr.family()), libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)
    }

    /// Connects to `addr`, waiting in `poll` until `deadline` (None: as long as it takes)
    /// whatever the socket's timeout, with the hook run as it asks. A refusal is
    /// `Error::Os(ECONNREFUSED)`, the deadline `Error::Timeout`.
    pub fn connect_until(&self, addr: &SockAddr, deadline: Option<Instant>, intr: &mut Interrupt<'_>) -> Result<()> {
        match self.internal_connect(addr, Mode::until(deadline), intr)? {
            Ok(()) => Ok(()),
            Err(ConnectFail::Errno(errno)) => Err(Error::from_errno(errno)),
            Err(ConnectFail::Timeout) => Err(Error::Timeout),
        }
    }

    /// `recv` into `buf`, waiting as `mode` says.
    pub fn recv_in(&self, buf: &mut [u8], flags: i32, mode: Mode, intr: &mut Interrupt<'_>) -> Result<usize> {
        // SAFETY: the kernel only writes initialised bytes into the buffer.
        self.recv_uninit_in(unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) }, flags, mode, intr)
    }

    /// Puts the socket in the state `Mode::Sliced` calls need: the fd blocks, each call for
    /// at most `CHECK_SLICE` (SO_RCVTIMEO, SO_SNDTIMEO). A reply on its way then costs one
    /// `recv`, as on the stdlib's blocking socket, instead of a `recv` failing with EAGAIN, a
    /// `poll` and another `recv`.
    pub fn block_in_slices(&self) -> Result<()> {
        set_nonblocking(self.fileno(), false)?;
        for option in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
            self.setsockopt(libc::SOL_SOCKET, option, OptValue::Bytes(&timeval_bytes(CHECK_SLICE)))?;
        }
        Ok(())
    }

    /// TCP_NODELAY on (requests are small and answered one by one).
    pub fn set_nodelay(&self) -> Result<()> {
        self.setsockopt(libc::IPPROTO_TCP, libc::TCP_NODELAY, OptValue::Int(1))
    }

    /// The local address of an IP socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.getsockname().ok()?.socket_addr()
    }

    /// The peer's address of a connected IP socket.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.getpeername().ok()?.socket_addr()
    }
}

fn timeval_bytes(t: Duration) -> [u8; std::mem::size_of::<libc::timeval>()] {
    let tv = libc::timeval { tv_sec: t.as_secs() as libc::time_t, tv_usec: t.subsec_micros() as libc::suseconds_t };
    // SAFETY: timeval is plain old data; its bytes are what setsockopt reads.
    unsafe { std::mem::transmute(tv) }
}

impl SockName {
    /// An IPv4 or IPv6 address as `std`'s type; `None` for other families.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match *self {
            SockName::Inet(ip, port) => Some(SocketAddrV4::new(ip, port).into()),
            SockName::Inet6(ip, port, flowinfo, scope) => Some(SocketAddrV6::new(ip, port, flowinfo, scope).into()),
            _ => None,
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fileno()
    }
}

/// A socket error as `std::io` code expects it (a timeout is `TimedOut`).
pub fn io_error(e: Error) -> io::Error {
    match e {
        Error::Os(e) => e,
        Error::Timeout => io::Error::new(io::ErrorKind::TimedOut, "timed out"),
        e => io::Error::other(e.to_string()),
    }
}

/// `recv` in the socket's own mode (a non-blocking socket: `WouldBlock` when nothing is there).
impl io::Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf, 0).map_err(io_error)
    }
}

/// `send` in the socket's own mode, without SIGPIPE.
impl io::Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf, 0).map_err(io_error)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
