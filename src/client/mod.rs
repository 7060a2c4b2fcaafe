//! Clients for line and message servers, over TCP (IPv4 or IPv6) or a Unix socket, plus a UDP
//! request/reply helper (`udp`), URL fetching (`url`) and Gopher (`gopher`).
//!
//! # Framing
//! - **Line** (`request`, `pipeline`): a request is one line; netcore appends `\n`. A reply is
//!   the bytes up to the next `\n`; a `\r` before it is dropped too. A reply longer than
//!   `Options::max_reply` bytes fails with `Error::LineTooLong`.
//! - **Message** (`message`, `receive`), the framing of the tutorials' servers, which answer
//!   with a bare `send()` and no terminator: the chunk is sent as it is, then netcore reads
//!   until the server has been quiet for `Options::quiet` (default 200 ms) after the first
//!   byte, or closed the connection, or `max_reply` bytes arrived. No byte within `timeout`
//!   fails with `Error::Timeout`; the server closing before the first byte fails with
//!   `Error::ConnectionClosed`.
//!
//! # Timeouts and errors
//! `Options::timeout` bounds connecting and each wait for the server, like Python's
//! `socket.settimeout`: every time netcore waits for bytes (or for room to send), it waits
//! at most that long. Errors are typed: refused (`Error::Os(ECONNREFUSED)`), reset
//! (`Error::Os(ECONNRESET | EPIPE)`), `Error::Timeout`, `Error::ConnectionClosed` (the server
//! closed before or in the middle of a reply) and `Error::LineTooLong`. After any of those
//! the connection is closed, because a late or partial reply would be taken for the answer
//! to the next request; later calls fail with `Error::InvalidState`.
//!
//! # Interrupting a wait
//! The `*_checked` methods call `check` between waits of at most `CHECK_SLICE`; an error from
//! `check` abandons the operation (the Python face uses it to honour Ctrl+C).

pub mod download;
pub mod gopher;
mod pipeline;
pub mod resp;
pub mod udp;
pub mod url;

pub use pipeline::ReplyLines;

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::error::{Error, Result};

/// How often an interruptible wait wakes to run its check.
pub const CHECK_SLICE: Duration = Duration::from_millis(50);
/// Default bound on connecting and on each wait for the server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default longest reply accepted (line or message), in bytes.
pub const DEFAULT_MAX_REPLY: usize = 1 << 20;
/// Default quiet period that ends a message reply.
pub const DEFAULT_QUIET: Duration = Duration::from_millis(200);

/// A check run between slices of a wait; an error abandons the operation.
pub type Check<'a> = Option<&'a mut dyn FnMut() -> Result<()>>;

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host name or address literal and a port.
    Tcp { host: String, port: u16 },
    /// A Unix stream socket path.
    Unix(PathBuf),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "{host}:{port}"),
            Target::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Bound on connecting and on each wait for the server; `None` waits forever.
    pub timeout: Option<Duration>,
    /// Longest reply accepted, in bytes (line without its terminator, or whole message).
    pub max_reply: usize,
    /// Message framing: the silence after the first byte that ends a reply.
    pub quiet: Duration,
    /// Speak TLS over the connection (docs/tls.md). `None`: plain bytes.
    pub tls: Option<crate::tls::ClientTls>,
}

impl Default for Options {
    fn default() -> Self {
        Options { timeout: Some(DEFAULT_TIMEOUT), max_reply: DEFAULT_MAX_REPLY, quiet: DEFAULT_QUIET, tls: None }
    }
}

fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
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
fn block_in_slices(socket: &Socket) -> Result<()> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(CHECK_SLICE))?;
    socket.set_write_timeout(Some(CHECK_SLICE))?;
    Ok(())
}

/// `recv(2)` into `buf` with `flags`.
fn recv_into(socket: &Socket, buf: &mut [u8], flags: i32) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length for the duration of the call.
    let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Outcome of one read attempt.
enum Filled {
    Bytes,
    Eof,
}

/// A reply line without the `\r` that may precede its `\n`.
fn strip_terminator(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A connected client. See the module documentation for framing, timeouts and errors.
#[derive(Debug)]
pub struct Client {
    socket: Option<Socket>,
    /// The TLS session over `socket`, when `Options::tls` is set.
    tls: Option<crate::tls::session::TlsSession>,
    /// Bytes received but not yet handed out.
    buf: Vec<u8>,
    opts: Options,
    target: Target,
    /// Why the connection was closed, when an error closed it.
    closed_by: Option<String>,
    /// The server closed after sending part of a reply (not before its first byte).
    closed_mid_reply: bool,
}

impl Client {
    /// Connects to `host:port` (a name, an IPv4 or an IPv6 literal).
    pub fn connect(host: &str, port: u16, opts: Options) -> Result<Client> {
        Client::connect_to(Target::Tcp { host: host.to_string(), port }, opts)
    }

    /// Connects to a Unix stream socket.
    pub fn connect_unix(path: impl AsRef<Path>, opts: Options) -> Result<Client> {
        Client::connect_to(Target::Unix(path.as_ref().to_path_buf()), opts)
    }

    /// Connects to `target`.
    pub fn connect_to(target: Target, opts: Options) -> Result<Client> {
        Client::connect_checked(target, opts, None)
    }

    /// `connect_to` with an interrupt check.
    pub fn connect_checked(target: Target, opts: Options, mut check: Check<'_>) -> Result<Client> {
        if opts.max_reply == 0 {
            return Err(Error::InvalidArgument("max_reply must be at least 1".into()));
        }
        let deadline = deadline_after(opts.timeout);
        let socket = connect_socket(&target, opts.timeout, &mut check)?;
        let tls = match &opts.tls {
            None => {
                block_in_slices(&socket)?;
                None
            }
            Some(tls) => {
                let host = match &target {
                    Target::Tcp { host, .. } => host.as_str(),
                    Target::Unix(_) => "localhost",
                };
                let config = tls.load()?;
                let name = tls.server_name(host)?;
                // TLS keeps the socket non-blocking: its session waits in `poll` itself.
                Some(crate::tls::session::TlsSession::handshake(&socket, config, name, deadline, &mut check)?)
            }
        };
        Ok(Client {
            socket: Some(socket),
            tls,
            buf: Vec::new(),
            opts,
            target,
            closed_by: None,
            closed_mid_reply: false,
        })
    }

    /// Where this client is connected.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The settings in force.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Changes the timeout for later calls.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.opts.timeout = timeout;
    }

    /// Changes the longest reply accepted (at least 1 byte).
    pub fn set_max_reply(&mut self, max_reply: usize) -> Result<()> {
        if max_reply == 0 {
            return Err(Error::InvalidArgument("max_reply must be at least 1".into()));
        }
        self.opts.max_reply = max_reply;
        Ok(())
    }

    /// Changes the quiet period that ends a message reply.
    pub fn set_quiet(&mut self, quiet: Duration) {
        self.opts.quiet = quiet;
    }

    /// The local address of a TCP connection.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.as_ref()?.local_addr().ok()?.as_socket()
    }

    /// The server's address of a TCP connection.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.socket.as_ref()?.peer_addr().ok()?.as_socket()
    }

    /// True until `close` or an error closed the connection.
    pub fn is_open(&self) -> bool {
        self.socket.is_some()
    }

    /// After `Error::ConnectionClosed`: true when part of a reply had arrived, false when the
    /// server closed before sending a byte of it.
    pub fn closed_mid_reply(&self) -> bool {
        self.closed_mid_reply
    }

    /// Waits up to `wait` (zero: just looks) for the server to close the connection. `Ok(true)`:
    /// it has closed, and so has this client; `Ok(false)`: still open, or bytes arrived instead
    /// (kept for the next read).
    pub fn wait_for_close(&mut self, wait: Duration) -> Result<bool> {
        if !self.buf.is_empty() {
            return Ok(false);
        }
        match self.fill(Some(Instant::now() + wait), &mut None) {
            Ok(Filled::Bytes) | Err(Error::Timeout) => Ok(false),
            Ok(Filled::Eof) => {
                self.socket = None;
                self.closed_by = Some("the server closed the connection".into());
                Ok(true)
            }
            Err(e) => {
                self.socket = None;
                self.closed_by = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Closes the connection. Closing twice is harmless.
    pub fn close(&mut self) {
        if let (Some(tls), Some(socket)) = (&mut self.tls, &self.socket) {
            tls.close(socket);
        }
        self.tls = None;
        self.socket = None;
        self.buf.clear();
        self.closed_by.get_or_insert_with(|| "closed".into());
    }

    fn socket(&self) -> Result<&Socket> {
        match &self.socket {
            Some(s) => Ok(s),
            None => Err(Error::InvalidState(match self.closed_by.as_deref() {
                Some("closed") | None => "client is closed".to_string(),
                Some(why) => format!("client is closed after an earlier error ({why})"),
            })),
        }
    }

    /// Runs an operation; any error closes the connection (see the module docs).
    fn guarded<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.socket()?;
        let result = op(self);
        if let Err(e) = &result {
            if !matches!(e, Error::InvalidArgument(_)) {
                self.socket = None;
                self.tls = None;
                self.buf.clear();
                self.closed_by = Some(e.to_string());
            }
        }
        result
    }

    /// Reads what is available into `buf` after waiting up to `deadline`: blocked in `recv`
    /// one slice at a time while a whole slice is left, then in `poll` for the rest.
    fn fill(&mut self, deadline: Option<Instant>, check: &mut Check<'_>) -> Result<Filled> {
        if let (Some(tls), Some(socket)) = (&mut self.tls, &self.socket) {
            return match tls.read(socket, &mut self.buf, deadline, check)? {
                0 => Ok(Filled::Eof),
                _ => Ok(Filled::Bytes),
            };
        }
        let socket = self.socket()?;
        let fd = socket.as_raw_fd();
        loop {
            let blocking = deadline.is_none_or(|d| d.saturating_duration_since(Instant::now()) >= CHECK_SLICE);
            let mut chunk = [0u8; 16384];
            match recv_into(socket, &mut chunk, if blocking { 0 } else { libc::MSG_DONTWAIT }) {
                Ok(0) => return Ok(Filled::Eof),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(Filled::Bytes);
                }
                // A slice passed without data (SO_RCVTIMEO), or a signal came: the check's turn.
                Err(e) if blocking && matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(Error::Timeout);
                    }
                    if let Some(check) = check.as_mut() {
                        check()?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_fd(fd, libc::POLLIN, deadline, check)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Os(e)),
            }
        }
    }

    /// Sends all of `data`, encrypted when the connection is TLS.
    fn send_data(&mut self, data: &[u8], check: &mut Check<'_>) -> Result<()> {
        let timeout = self.opts.timeout;
        match (&mut self.tls, &self.socket) {
            (Some(tls), Some(socket)) => tls.send_all(socket, data, deadline_after(timeout), check),
            _ => send_all(self.socket()?, data, timeout, check),
        }
    }

    /// Takes one complete line out of `buf`, if there is one; checks the length limit.
    fn take_line(&mut self, scanned: &mut usize) -> Result<Option<Vec<u8>>> {
        let limit = self.opts.max_reply;
        if let Some(pos) = self.buf[*scanned..].iter().position(|&b| b == b'\n') {
            let end = *scanned + pos;
            let line = strip_terminator(&self.buf[..end]).to_vec();
            self.buf.drain(..=end);
            *scanned = 0;
            if line.len() > limit {
                return Err(Error::LineTooLong { limit });
            }
            return Ok(Some(line));
        }
        *scanned = self.buf.len();
        // A trailing `\r` may be the first half of the terminator.
        let pending = self.buf.len() - usize::from(self.buf.last() == Some(&b'\r'));
        if pending > limit {
            return Err(Error::LineTooLong { limit });
        }
        Ok(None)
    }

    fn read_line_inner(&mut self, check: &mut Check<'_>) -> Result<Vec<u8>> {
        let mut scanned = 0;
        loop {
            if let Some(line) = self.take_line(&mut scanned)? {
                return Ok(line);
            }
            match self.fill(deadline_after(self.opts.timeout), check)? {
                Filled::Bytes => {}
                Filled::Eof => {
                    self.closed_mid_reply = !self.buf.is_empty();
                    return Err(Error::ConnectionClosed);
                }
            }
        }
    }

    fn framed(line: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(line.len() + 1);
        Client::push_line(&mut out, line)?;
        Ok(out)
    }

    /// Sends one line (netcore adds the `\n`) and returns the reply line without its terminator.
    pub fn request(&mut self, line: &[u8]) -> Result<Vec<u8>> {
        self.request_checked(line, None)
    }

    /// `request` with an interrupt check.
    pub fn request_checked(&mut self, line: &[u8], mut check: Check<'_>) -> Result<Vec<u8>> {
        let out = Self::framed(line)?;
        self.guarded(|c| {
            c.send_data(&out, &mut check)?;
            c.read_line_inner(&mut check)
        })
    }

    /// Sends raw bytes as they are (no terminator added).
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        self.send_checked(data, None)
    }

    /// `send` with an interrupt check.
    pub fn send_checked(&mut self, data: &[u8], mut check: Check<'_>) -> Result<()> {
        self.guarded(|c| c.send_data(data, &mut check))
    }

    /// Reads one line (a greeting, or the reply to something sent with `send`).
    pub fn read_line(&mut self) -> Result<Vec<u8>> {
        self.read_line_checked(None)
    }

    /// `read_line` with an interrupt check.
    pub fn read_line_checked(&mut self, mut check: Check<'_>) -> Result<Vec<u8>> {
        self.guarded(|c| c.read_line_inner(&mut check))
    }

    fn read_message_inner(&mut self, check: &mut Check<'_>) -> Result<Vec<u8>> {
        let limit = self.opts.max_reply;
        // Bytes left over from earlier line reads are the start of this reply.
        let mut eof = false;
        if self.buf.is_empty() {
            match self.fill(deadline_after(self.opts.timeout), check)? {
                Filled::Bytes => {}
                Filled::Eof => {
                    self.closed_mid_reply = false;
                    return Err(Error::ConnectionClosed);
                }
            }
        }
        while !eof && self.buf.len() <= limit {
            match self.fill(Some(Instant::now() + self.opts.quiet), check) {
                Ok(Filled::Bytes) => {}
                Ok(Filled::Eof) => eof = true,
                Err(Error::Timeout) => break,
                Err(e) => return Err(e),
            }
        }
        if self.buf.len() > limit {
            return Err(Error::LineTooLong { limit });
        }
        if eof {
            // The server has gone; the reply is complete but no further exchange is possible.
            self.closed_by = Some("the server closed the connection".into());
            let reply = std::mem::take(&mut self.buf);
            self.socket = None;
            return Ok(reply);
        }
        Ok(std::mem::take(&mut self.buf))
    }

    /// Message framing: sends `data` as it is and returns what comes back until a quiet
    /// period, EOF or the size limit (see the module documentation).
    pub fn message(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.message_checked(data, None)
    }

    /// `message` with an interrupt check.
    pub fn message_checked(&mut self, data: &[u8], mut check: Check<'_>) -> Result<Vec<u8>> {
        if data.is_empty() {
            return Err(Error::InvalidArgument("a message must not be empty".into()));
        }
        self.guarded(|c| {
            c.send_data(data, &mut check)?;
            c.read_message_inner(&mut check)
        })
    }

    /// Waits up to `wait` for unsolicited bytes (a greeting); none is `Ok(None)` and the
    /// connection stays open. Otherwise reads them with message framing, as `receive`.
    pub fn greeting(&mut self, wait: Duration) -> Result<Option<Vec<u8>>> {
        if self.buf.is_empty() && self.tls.is_some() {
            // The socket may be readable with only TLS records (session tickets): wait for
            // decrypted bytes instead.
            match self.fill(Some(Instant::now() + wait), &mut None) {
                Err(Error::Timeout) => return Ok(None),
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        } else if self.buf.is_empty() {
            let fd = self.socket()?.as_raw_fd();
            match wait_fd(fd, libc::POLLIN, Some(Instant::now() + wait), &mut None) {
                Err(Error::Timeout) => return Ok(None),
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        self.receive().map(Some)
    }

    /// Message framing without sending: reads a greeting or an unsolicited reply.
    pub fn receive(&mut self) -> Result<Vec<u8>> {
        self.receive_checked(None)
    }

    /// `receive` with an interrupt check.
    pub fn receive_checked(&mut self, mut check: Check<'_>) -> Result<Vec<u8>> {
        self.guarded(|c| c.read_message_inner(&mut check))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::thread;

    /// A line server on 127.0.0.1 that answers each line with `f(line)`, for one connection.
    fn serve_once(f: impl Fn(&str) -> Option<String> + Send + 'static) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                match f(&line) {
                    Some(reply) => out.write_all(reply.as_bytes()).unwrap(),
                    None => break,
                }
            }
        });
        port
    }

    fn opts() -> Options {
        Options { timeout: Some(Duration::from_secs(5)), ..Options::default() }
    }

    #[test]
    fn request_strips_crlf_and_pipeline_keeps_order() {
        let port = serve_once(|l| Some(format!("got {l}\r\n")));
        let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
        assert_eq!(c.request(b"a").unwrap(), b"got a");
        let lines: Vec<String> = (0..2000).map(|i| format!("n{i}")).collect();
        let replies = c.pipeline(&lines).unwrap();
        assert_eq!(replies.len(), 2000);
        assert_eq!(replies[1999], b"got n1999");
        assert_eq!(replies[0], b"got n0");
    }

    #[test]
    fn newline_in_request_is_rejected_and_connection_survives() {
        let port = serve_once(|l| Some(format!("{l}\n")));
        let mut c = Client::connect("localhost", port, opts()).unwrap();
        assert!(matches!(c.request(b"a\nb"), Err(Error::InvalidArgument(_))));
        assert_eq!(c.request(b"ok").unwrap(), b"ok");
    }

    #[test]
    fn closed_mid_reply_and_then_invalid_state() {
        let port = serve_once(|_| None);
        let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
        assert!(matches!(c.request(b"x"), Err(Error::ConnectionClosed)));
        assert!(!c.closed_mid_reply(), "nothing of the reply had arrived");
        assert!(matches!(c.request(b"x"), Err(Error::InvalidState(_))));
        // A partial reply, then EOF, is "closed" too.
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let port = serve_once(move |_| {
            (calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0).then(|| "partial".to_string())
        });
        let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
        assert!(matches!(c.pipeline(&["a", "b"]), Err(Error::ConnectionClosed)));
        assert!(c.closed_mid_reply());
    }

    #[test]
    fn wait_for_close_sees_the_server_hang_up_and_keeps_early_bytes() {
        let port = serve_once(|l| (l != "bye").then(|| format!("{l}\n")));
        let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
        assert_eq!(c.request(b"a").unwrap(), b"a");
        assert!(!c.wait_for_close(Duration::ZERO).unwrap());
        assert!(!c.wait_for_close(Duration::from_millis(20)).unwrap());
        c.send(b"bye\n").unwrap();
        assert!(c.wait_for_close(Duration::from_secs(5)).unwrap());
        assert!(!c.is_open());

        let port = serve_once(|l| Some(format!("{l}\nunasked\n")));
        let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
        assert_eq!(c.request(b"b").unwrap(), b"b");
        assert!(!c.wait_for_close(Duration::from_secs(5)).unwrap(), "bytes, not a close");
        assert_eq!(c.read_line().unwrap(), b"unasked");
    }

    #[test]
    fn reply_too_long_and_timeout() {
        let port = serve_once(|_| Some("x".repeat(100) + "\n"));
        let mut c = Client::connect("127.0.0.1", port, Options { max_reply: 10, ..opts() }).unwrap();
        assert!(matches!(c.request(b"q"), Err(Error::LineTooLong { limit: 10 })));

        let port = serve_once(|_| Some(String::new()));
        let mut c = Client::connect("127.0.0.1", port, Options { timeout: Some(Duration::from_millis(100)), ..opts() })
            .unwrap();
        assert!(matches!(c.request(b"q"), Err(Error::Timeout)));
    }

    #[test]
    fn refused_is_typed() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = Client::connect("127.0.0.1", port, opts()).unwrap_err();
        assert_eq!(err.code(), libc::ECONNREFUSED, "{err}");
    }

    #[test]
    fn message_framing_reads_until_quiet() {
        let port = serve_once(|l| Some(format!("[{l}]")));
        let mut c = Client::connect("127.0.0.1", port, Options { quiet: Duration::from_millis(50), ..opts() }).unwrap();
        assert_eq!(c.message(b"date\n").unwrap(), b"[date]");
        assert!(matches!(c.message(b""), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn greeting_is_optional() {
        let port = serve_once(|l| Some(format!("{l}\n")));
        let mut c = Client::connect("127.0.0.1", port, opts()).unwrap();
        assert_eq!(c.greeting(Duration::from_millis(50)).unwrap(), None);
        assert!(c.is_open());
        assert_eq!(c.request(b"x").unwrap(), b"x");

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"Thank you for connection").unwrap();
        });
        let mut c = Client::connect("127.0.0.1", port, Options { quiet: Duration::from_millis(50), ..opts() }).unwrap();
        assert_eq!(c.greeting(Duration::from_secs(5)).unwrap().unwrap(), b"Thank you for connection");
        assert!(!c.is_open(), "the server closed after its greeting");
    }

    #[test]
    fn unix_socket_and_ipv6() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap();
            s.write_all(&buf[..n]).unwrap();
        });
        let mut c = Client::connect_unix(&path, opts()).unwrap();
        assert_eq!(c.request(b"unix").unwrap(), b"unix");

        if let Ok(listener) = TcpListener::bind("[::1]:0") {
            let port = listener.local_addr().unwrap().port();
            thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                s.write_all(b"six\n").unwrap();
            });
            let mut c = Client::connect("::1", port, opts()).unwrap();
            assert_eq!(c.read_line().unwrap(), b"six");
            assert!(c.peer_addr().unwrap().is_ipv6());
        }
    }
}
