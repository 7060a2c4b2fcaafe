//! Sockets with the semantics of Python's `socket.socket`: the same timeout modes (None blocks,
//! 0 never waits, > 0 raises a timeout at one deadline), the same errno values, the same
//! address rules, EINTR retried (PEP 475), and `EBADF` from every call on a closed socket.
//!
//! Every blocking method has a `*_with` form taking an [`Interrupt`] hook; the plain form
//! uses [`Interrupt::none`]. The Python layer passes a hook that runs signal handlers.
//!
//! ```no_run
//! use netcore::socket::{Address, Socket};
//! let server = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0)?;
//! server.bind(&Address::Inet { host: "127.0.0.1".into(), port: 0 })?;
//! server.listen(None)?;
//! # Ok::<(), netcore::Error>(())
//! ```

pub mod addr;
pub mod constants;
mod create;
pub mod msg;
pub mod sendfile;
pub mod stream;
mod timeout;
pub mod utility;
pub mod wait;

use std::io;
use std::mem::{self, MaybeUninit};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering::Relaxed};
use std::time::Duration;

use socket2::SockAddr;

pub use addr::{Address, SockName};
pub use create::{create_connection, has_dualstack_ipv6, server_socket, ConnectTimeout};
pub use timeout::{getdefaulttimeout, parse_timeout, seconds_to_duration, setdefaulttimeout};
use timeout::{ns_to_timeout, timeout_to_ns, NO_TIMEOUT};
use wait::{sock_call, Call};
pub use wait::{Interrupt, Mode};

use crate::error::{Error, Result};

const READ: Call = Call { writing: false, wait_first: false };
const WRITE: Call = Call { writing: true, wait_first: false };
const CONNECT_WAIT: Call = Call { writing: true, wait_first: true };

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cvt_size(r: libc::ssize_t) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

fn set_nonblocking(fd: RawFd, nonblocking: bool) -> io::Result<()> {
    // SAFETY: fcntl on an integer fd; an invalid fd gives EBADF.
    unsafe {
        let flags = cvt(libc::fcntl(fd, libc::F_GETFL))?;
        let new = if nonblocking { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
        if new != flags {
            cvt(libc::fcntl(fd, libc::F_SETFL, new))?;
        }
    }
    Ok(())
}

fn getsockopt_int(fd: RawFd, level: i32, name: i32) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len describe a c_int buffer.
    cvt(unsafe { libc::getsockopt(fd, level, name, &mut value as *mut _ as *mut libc::c_void, &mut len) })?;
    Ok(value)
}

/// Storage for an address the kernel writes (accept, recvfrom, getsockname).
fn with_sockaddr<T>(
    f: impl FnOnce(*mut libc::sockaddr, *mut libc::socklen_t) -> io::Result<T>,
) -> io::Result<(T, SockAddr)> {
    // SAFETY: try_init hands f a zeroed sockaddr_storage and its length.
    unsafe { SockAddr::try_init(|storage, len| f(storage as *mut libc::sockaddr, len)) }
}

/// The `how` argument of [`Socket::shutdown`]: `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
pub type Shutdown = i32;

/// A value for [`Socket::setsockopt`].
#[derive(Debug, Clone, Copy)]
pub enum OptValue<'a> {
    /// An `int` option.
    Int(i32),
    /// A raw option buffer.
    Bytes(&'a [u8]),
    /// A NULL option value with this length (`setsockopt(level, opt, None, optlen)`).
    Null(u32),
}

/// A socket with Python's semantics. Safe to share between threads: every method takes
/// `&self`; `close` from one thread makes later calls in any thread fail with EBADF.
#[derive(Debug)]
pub struct Socket {
    fd: AtomicI32,
    family: i32,
    sock_type: i32,
    proto: i32,
    timeout_ns: AtomicI64,
}

impl Drop for Socket {
    fn drop(&mut self) {
        let fd = self.fd.swap(-1, Relaxed);
        if fd >= 0 {
            // SAFETY: we own fd and nothing else closes it.
            unsafe { libc::close(fd) };
        }
    }
}

impl Socket {
    /// `socket.socket(family, type, proto)`: a new close-on-exec socket. A `SOCK_NONBLOCK`
    /// type makes it non-blocking (timeout 0); otherwise it gets the default timeout.
    pub fn new(family: i32, sock_type: i32, proto: i32) -> Result<Socket> {
        // SAFETY: plain socket(2) call.
        let fd = cvt(unsafe { libc::socket(family, sock_type | libc::SOCK_CLOEXEC, proto) })?;
        Socket::init(fd, family, sock_type, proto)
    }

    /// `socket.socket(family, type, proto, fileno=fd)`: takes ownership of `fd`. `None`
    /// fields are read from the socket (SO_DOMAIN via getsockname, SO_TYPE, SO_PROTOCOL).
    pub fn from_fd(fd: RawFd, family: Option<i32>, sock_type: Option<i32>, proto: Option<i32>) -> Result<Socket> {
        if fd == -1 {
            return Err(Error::InvalidArgument("can't use invalid socket value".into()));
        }
        if fd < 0 {
            return Err(Error::InvalidArgument("negative file descriptor".into()));
        }
        let family = match family {
            Some(f) => f,
            None => {
                let ((), addr) = with_sockaddr(|sa, len| {
                    // SAFETY: storage from with_sockaddr.
                    cvt(unsafe { libc::getsockname(fd, sa, len) }).map(drop)
                })?;
                addr.family() as i32
            }
        };
        let sock_type = match sock_type {
            Some(t) => t,
            None => getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TYPE)?,
        };
        let proto = match proto {
            Some(p) => p,
            None => getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL)?,
        };
        Socket::init(fd, family, sock_type, proto)
    }

    /// `socket.fromfd(fd, family, type, proto)`: a socket on a duplicate of `fd`.
    pub fn fromfd(fd: RawFd, family: i32, sock_type: i32, proto: i32) -> Result<Socket> {
        // SAFETY: fcntl on an integer fd.
        let new = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?;
        Socket::from_fd(new, Some(family), Some(sock_type), Some(proto)).inspect_err(|_| {
            // SAFETY: we own the duplicate.
            unsafe { libc::close(new) };
        })
    }

    /// `socket.socketpair(family, type, proto)`: two connected sockets.
    pub fn pair(family: i32, sock_type: i32, proto: i32) -> Result<(Socket, Socket)> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds has room for two descriptors.
        cvt(unsafe { libc::socketpair(family, sock_type | libc::SOCK_CLOEXEC, proto, fds.as_mut_ptr()) })?;
        let a = Socket::init(fds[0], family, sock_type, proto);
        let b = Socket::init(fds[1], family, sock_type, proto);
        Ok((a?, b?))
    }

    fn init(fd: RawFd, family: i32, sock_type: i32, proto: i32) -> Result<Socket> {
        let nonblock_type = sock_type & libc::SOCK_NONBLOCK != 0;
        let sock = Socket {
            fd: AtomicI32::new(fd),
            family,
            // The attribute never shows the creation flags (Python 3.7+).
            sock_type: sock_type & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC),
            proto,
            timeout_ns: AtomicI64::new(NO_TIMEOUT),
        };
        if nonblock_type {
            sock.timeout_ns.store(0, Relaxed);
        } else if let Some(t) = getdefaulttimeout() {
            sock.settimeout(Some(t))?;
        }
        // With no default timeout the fd's flags are left as they are (CPython does the same),
        // which also saves a system call per accepted connection.
        Ok(sock)
    }

    /// The descriptor, or -1 once closed or detached (as `fileno()`).
    pub fn fileno(&self) -> RawFd {
        self.fd.load(Relaxed)
    }

    pub fn family(&self) -> i32 {
        self.family
    }

    pub fn sock_type(&self) -> i32 {
        self.sock_type
    }

    pub fn proto(&self) -> i32 {
        self.proto
    }

    /// `gettimeout()`: None blocks, zero is non-blocking.
    pub fn gettimeout(&self) -> Option<Duration> {
        ns_to_timeout(self.timeout_ns.load(Relaxed))
    }

    /// `settimeout(t)`: stores the timeout, then puts the fd in blocking mode for None and in
    /// non-blocking mode otherwise (as CPython: the timeout is kept even if that fails).
    pub fn settimeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.timeout_ns.store(timeout_to_ns(timeout), Relaxed);
        set_nonblocking(self.fileno(), timeout.is_some())?;
        Ok(())
    }

    /// `setblocking(flag)`: True is `settimeout(None)`, False is `settimeout(0)`.
    pub fn setblocking(&self, blocking: bool) -> Result<()> {
        self.settimeout(if blocking { None } else { Some(Duration::ZERO) })
    }

    /// `getblocking()`: False only for timeout 0.
    pub fn getblocking(&self) -> bool {
        self.gettimeout() != Some(Duration::ZERO)
    }

    /// The wait mode for one call made now.
    pub fn mode(&self) -> Mode {
        Mode::from_timeout(self.gettimeout())
    }

    /// `bind(address)`.
    pub fn bind(&self, address: &Address) -> Result<()> {
        let sa = addr::resolve(self.family, address, "bind")?;
        // SAFETY: sa is a valid sockaddr of its length.
        cvt(unsafe { libc::bind(self.fileno(), sa.as_ptr() as *const libc::sockaddr, sa.len()) })?;
        Ok(())
    }

    /// `listen([backlog])`: the default is min(SOMAXCONN, 128); a negative backlog is 0.
    pub fn listen(&self, backlog: Option<i32>) -> Result<()> {
        let backlog = backlog.unwrap_or(libc::SOMAXCONN.min(128)).max(0);
        // SAFETY: plain listen(2).
        cvt(unsafe { libc::listen(self.fileno(), backlog) })?;
        Ok(())
    }

    /// `accept()`: the connection and the peer's address. The new socket has the default
    /// timeout, as Python's `socket.accept`.
    pub fn accept(&self) -> Result<(Socket, SockName)> {
        self.accept_with(&mut Interrupt::none())
    }

    pub fn accept_with(&self, intr: &mut Interrupt<'_>) -> Result<(Socket, SockName)> {
        let (fd, peer) = sock_call(&self.fd, self.mode(), READ, intr, |fd| {
            with_sockaddr(|sa, len| {
                // SAFETY: storage from with_sockaddr.
                cvt(unsafe { libc::accept4(fd, sa, len, libc::SOCK_CLOEXEC) })
            })
        })?;
        let conn = Socket::init(fd, self.family, self.sock_type, self.proto)?;
        Ok((conn, addr::sockname(&peer)))
    }

    /// `connect(address)`.
    pub fn connect(&self, address: &Address) -> Result<()> {
        self.connect_with(address, &mut Interrupt::none())
    }

    pub fn connect_with(&self, address: &Address, intr: &mut Interrupt<'_>) -> Result<()> {
        let sa = addr::resolve(self.family, address, "connect")?;
        match self.internal_connect(&sa, self.mode(), intr)? {
            Ok(()) => Ok(()),
            Err(ConnectFail::Errno(errno)) => Err(Error::from_errno(errno)),
            Err(ConnectFail::Timeout) => Err(Error::Timeout),
        }
    }

    /// `connect_ex(address)`: 0 or the errno (EWOULDBLOCK when the timeout passed, as
    /// CPython); address errors are still errors.
    pub fn connect_ex(&self, address: &Address) -> Result<i32> {
        self.connect_ex_with(address, &mut Interrupt::none())
    }

    pub fn connect_ex_with(&self, address: &Address, intr: &mut Interrupt<'_>) -> Result<i32> {
        let sa = addr::resolve(self.family, address, "connect_ex")?;
        Ok(match self.internal_connect(&sa, self.mode(), intr)? {
            Ok(()) => 0,
            Err(ConnectFail::Errno(errno)) => errno,
            Err(ConnectFail::Timeout) => libc::EWOULDBLOCK,
        })
    }

    /// CPython's `internal_connect`, waiting as `mode` says. The outer error is an
    /// interruption (the hook failed).
    fn internal_connect(&self, sa: &SockAddr, mode: Mode, intr: &mut Interrupt<'_>) -> Result<Result<(), ConnectFail>> {
        let fd = self.fileno();
        // SAFETY: sa is a valid sockaddr of its length.
        let res = unsafe { libc::connect(fd, sa.as_ptr() as *const libc::sockaddr, sa.len()) };
        if res == 0 {
            return Ok(Ok(()));
        }
        let err = io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
        let wait = if err == libc::EINTR {
            // The handshake goes on in the kernel; wait for it as CPython does.
            intr.check()?;
            mode != Mode::NonBlocking
        } else {
            err == libc::EINPROGRESS && matches!(mode, Mode::Deadline(_))
        };
        if !wait {
            return Ok(Err(ConnectFail::Errno(err)));
        }
        let waited = sock_call(&self.fd, mode, CONNECT_WAIT, intr, |fd| {
            match getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ERROR)? {
                0 | libc::EISCONN => Ok(()),
                e => Err(io::Error::from_raw_os_error(e)),
            }
        });
        match waited {
            Ok(()) => Ok(Ok(())),
            Err(Error::Timeout) => Ok(Err(ConnectFail::Timeout)),
            Err(Error::Os(e)) if e.raw_os_error().is_some_and(|n| n != libc::EINTR) => {
                Ok(Err(ConnectFail::Errno(e.raw_os_error().unwrap_or(libc::EIO))))
            }
            Err(other) => Err(other),
        }
    }

    /// `recv(bufsize[, flags])` into `buf`; returns the count (0 at end of stream).
    pub fn recv(&self, buf: &mut [u8], flags: i32) -> Result<usize> {
        self.recv_with(buf, flags, &mut Interrupt::none())
    }

    pub fn recv_with(&self, buf: &mut [u8], flags: i32, intr: &mut Interrupt<'_>) -> Result<usize> {
        // SAFETY: the kernel only writes initialised bytes into the buffer.
        self.recv_uninit_with(unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }, flags, intr)
    }

    /// `recv` into memory that need not be initialised (the first `n` bytes are afterwards),
    /// so a caller can receive straight into a fresh object without clearing it first.
    pub fn recv_uninit_with(&self, buf: &mut [MaybeUninit<u8>], flags: i32, intr: &mut Interrupt<'_>) -> Result<usize> {
        self.recv_uninit_in(buf, flags, self.mode(), intr)
    }

    /// `recv_uninit_with` waiting as `mode` says instead of as the socket's timeout does.
    pub fn recv_uninit_in(
        &self,
        buf: &mut [MaybeUninit<u8>],
        flags: i32,
        mode: Mode,
        intr: &mut Interrupt<'_>,
    ) -> Result<usize> {
        let (ptr, len) = (buf.as_mut_ptr(), buf.len());
        sock_call(&self.fd, mode, READ, intr, |fd| {
            // SAFETY: ptr/len describe `buf`, borrowed mutably for this call.
            cvt_size(unsafe { libc::recv(fd, ptr as *mut libc::c_void, len, flags) })
        })
    }

    /// `recvfrom(bufsize[, flags])` into `buf`: the count and the sender's address.
    pub fn recvfrom(&self, buf: &mut [u8], flags: i32) -> Result<(usize, SockName)> {
        self.recvfrom_with(buf, flags, &mut Interrupt::none())
    }

    pub fn recvfrom_with(&self, buf: &mut [u8], flags: i32, intr: &mut Interrupt<'_>) -> Result<(usize, SockName)> {
        // SAFETY: the kernel only writes initialised bytes into the buffer.
        self.recvfrom_uninit_with(unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }, flags, intr)
    }

    /// `recvfrom` into memory that need not be initialised (see `recv_uninit_with`).
    pub fn recvfrom_uninit_with(
        &self,
        buf: &mut [MaybeUninit<u8>],
        flags: i32,
        intr: &mut Interrupt<'_>,
    ) -> Result<(usize, SockName)> {
        let (ptr, len) = (buf.as_mut_ptr(), buf.len());
        let (n, from) = sock_call(&self.fd, self.mode(), READ, intr, |fd| {
            with_sockaddr(|sa, salen| {
                // SAFETY: ptr/len describe `buf`; sa/salen come from with_sockaddr.
                cvt_size(unsafe { libc::recvfrom(fd, ptr as *mut libc::c_void, len, flags, sa, salen) })
            })
        })?;
        Ok((n, addr::sockname(&from)))
    }

    /// `send(data[, flags])`: how many bytes went (maybe fewer than `data.len()`). Uses
    /// MSG_NOSIGNAL: a reset peer gives EPIPE/ECONNRESET, never SIGPIPE.
    pub fn send(&self, data: &[u8], flags: i32) -> Result<usize> {
        self.send_with(data, flags, &mut Interrupt::none())
    }

    pub fn send_with(&self, data: &[u8], flags: i32, intr: &mut Interrupt<'_>) -> Result<usize> {
        self.send_in(data, flags, self.mode(), intr)
    }

    /// `send_with` waiting as `mode` says instead of as the socket's timeout does.
    pub fn send_in(&self, data: &[u8], flags: i32, mode: Mode, intr: &mut Interrupt<'_>) -> Result<usize> {
        let (ptr, len) = (data.as_ptr(), data.len());
        sock_call(&self.fd, mode, WRITE, intr, |fd| {
            // SAFETY: ptr/len describe `data`.
            cvt_size(unsafe { libc::send(fd, ptr as *const libc::c_void, len, flags | libc::MSG_NOSIGNAL) })
        })
    }

    /// `sendall(data[, flags])`: sends everything or fails; with a timeout, one deadline
    /// covers all the partial sends.
    pub fn sendall(&self, data: &[u8], flags: i32) -> Result<()> {
        self.sendall_with(data, flags, &mut Interrupt::none())
    }

    pub fn sendall_with(&self, data: &[u8], flags: i32, intr: &mut Interrupt<'_>) -> Result<()> {
        let mode = self.mode();
        let mut rest = data;
        loop {
            let n = self.send_in(rest, flags, mode, intr)?;
            rest = &rest[n.min(rest.len())..];
            if rest.is_empty() {
                return Ok(());
            }
            // A partial send may hide a signal: run handlers before going on (CPython does).
            intr.check()?;
        }
    }

    /// `sendto(data[, flags], address)`.
    pub fn sendto(&self, data: &[u8], flags: i32, address: &Address) -> Result<usize> {
        self.sendto_with(data, flags, address, &mut Interrupt::none())
    }

    pub fn sendto_with(&self, data: &[u8], flags: i32, address: &Address, intr: &mut Interrupt<'_>) -> Result<usize> {
        let sa = addr::resolve(self.family, address, "sendto")?;
        let (ptr, len) = (data.as_ptr(), data.len());
        sock_call(&self.fd, self.mode(), WRITE, intr, |fd| {
            // SAFETY: ptr/len describe `data`; sa is a valid sockaddr.
            cvt_size(unsafe {
                libc::sendto(
                    fd,
                    ptr as *const libc::c_void,
                    len,
                    flags | libc::MSG_NOSIGNAL,
                    sa.as_ptr() as *const libc::sockaddr,
                    sa.len(),
                )
            })
        })
    }

    /// `shutdown(how)`.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        // SAFETY: plain shutdown(2).
        cvt(unsafe { libc::shutdown(self.fileno(), how) })?;
        Ok(())
    }

    /// `close()`: closes the fd once; later calls fail with EBADF. ECONNRESET from close is
    /// ignored, as CPython does.
    pub fn close(&self) -> Result<()> {
        let fd = self.fd.swap(-1, Relaxed);
        if fd >= 0 {
            // SAFETY: we owned fd and have just given it up.
            if unsafe { libc::close(fd) } < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::ECONNRESET) {
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// `detach()`: gives up the fd without closing it; returns it (-1 if closed).
    pub fn detach(&self) -> RawFd {
        self.fd.swap(-1, Relaxed)
    }

    /// `dup()`: a new socket on a duplicate fd, same family/type/proto and timeout.
    pub fn dup(&self) -> Result<Socket> {
        // SAFETY: fcntl on an integer fd.
        let fd = cvt(unsafe { libc::fcntl(self.fileno(), libc::F_DUPFD_CLOEXEC, 0) })?;
        let sock = Socket::init(fd, self.family, self.sock_type, self.proto)?;
        sock.settimeout(self.gettimeout())?;
        Ok(sock)
    }

    /// `getsockname()`.
    pub fn getsockname(&self) -> Result<SockName> {
        let ((), sa) = with_sockaddr(|sa, len| {
            // SAFETY: storage from with_sockaddr.
            cvt(unsafe { libc::getsockname(self.fileno(), sa, len) }).map(drop)
        })?;
        Ok(addr::sockname(&sa))
    }

    /// `getpeername()`.
    pub fn getpeername(&self) -> Result<SockName> {
        let ((), sa) = with_sockaddr(|sa, len| {
            // SAFETY: storage from with_sockaddr.
            cvt(unsafe { libc::getpeername(self.fileno(), sa, len) }).map(drop)
        })?;
        Ok(addr::sockname(&sa))
    }

    /// `setsockopt(level, optname, value)`.
    pub fn setsockopt(&self, level: i32, name: i32, value: OptValue<'_>) -> Result<()> {
        let int_value: libc::c_int;
        let (ptr, len): (*const libc::c_void, usize) = match value {
            OptValue::Int(v) => {
                int_value = v;
                (&int_value as *const libc::c_int as *const libc::c_void, mem::size_of::<libc::c_int>())
            }
            OptValue::Bytes(b) => (b.as_ptr() as *const libc::c_void, b.len()),
            OptValue::Null(n) => (std::ptr::null(), n as usize),
        };
        // SAFETY: ptr/len describe the value (or NULL, which the kernel checks).
        cvt(unsafe { libc::setsockopt(self.fileno(), level, name, ptr, len as libc::socklen_t) })?;
        Ok(())
    }

    /// `getsockopt(level, optname)`: an int option.
    pub fn getsockopt_int(&self, level: i32, name: i32) -> Result<i32> {
        Ok(getsockopt_int(self.fileno(), level, name)?)
    }

    /// `getsockopt(level, optname, buflen)`: the raw bytes (1 <= buflen <= 1024).
    pub fn getsockopt_bytes(&self, level: i32, name: i32, buflen: i64) -> Result<Vec<u8>> {
        if !(1..=1024).contains(&buflen) {
            return Err(Error::Failed("getsockopt buflen out of range".into()));
        }
        let mut buf = vec![0u8; buflen as usize];
        let mut len = buflen as libc::socklen_t;
        // SAFETY: buf/len describe a writable buffer.
        cvt(unsafe { libc::getsockopt(self.fileno(), level, name, buf.as_mut_ptr() as *mut libc::c_void, &mut len) })?;
        buf.truncate(len as usize);
        Ok(buf)
    }

    /// `get_inheritable()`.
    pub fn get_inheritable(&self) -> Result<bool> {
        // SAFETY: fcntl on an integer fd.
        let flags = cvt(unsafe { libc::fcntl(self.fileno(), libc::F_GETFD) })?;
        Ok(flags & libc::FD_CLOEXEC == 0)
    }

    /// `set_inheritable(flag)`.
    pub fn set_inheritable(&self, inheritable: bool) -> Result<()> {
        let fd = self.fileno();
        // SAFETY: fcntl on an integer fd.
        unsafe {
            let flags = cvt(libc::fcntl(fd, libc::F_GETFD))?;
            let new = if inheritable { flags & !libc::FD_CLOEXEC } else { flags | libc::FD_CLOEXEC };
            cvt(libc::fcntl(fd, libc::F_SETFD, new))?;
        }
        Ok(())
    }
}

enum ConnectFail {
    Errno(i32),
    Timeout,
}

#[cfg(test)]
mod tests;
