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
//! The `*_checked` methods take an [`Interrupt`] hook (`crate::socket`'s, the one hook type)
//! and run it after a signal and every `CHECK_SLICE` of waiting (`Interrupt::sliced`); an
//! error from it (`Error::Interrupted`) abandons the operation (the Python face and the CLI
//! use it to honour Ctrl+C). The connection is a `crate::socket::Socket`: every connect,
//! send, receive and wait is the socket layer's (`Mode::Sliced` for plain connections).

pub mod download;
pub mod gopher;
mod net;
mod pipeline;
pub mod resp;
pub mod udp;
pub mod url;

pub use crate::socket::wait::CHECK_SLICE;
pub use crate::socket::Interrupt;
pub use net::connect_socket;
use net::{client_hook, deadline_after, recv_into, spin_recv, unless_would_block};
pub(crate) use net::{connect_one, resolve_stream, send_all};
pub use pipeline::ReplyLines;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::socket::wait::{wait_fd, Mode};
use crate::socket::Socket;

/// Default bound on connecting and on each wait for the server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default longest reply accepted (line or message), in bytes.
pub const DEFAULT_MAX_REPLY: usize = 1 << 20;
/// Default quiet period that ends a message reply.
pub const DEFAULT_QUIET: Duration = Duration::from_millis(200);

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
    /// Waiting for the reply to a request or command on a plain connection, look for it for
    /// this long before sleeping, while the server keeps answering that quickly (the rule of
    /// `crate::busy_poll`). Default `DEFAULT_BUSY_POLL`; zero: off; at most `MAX_BUSY_POLL`.
    pub busy_poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Some(DEFAULT_TIMEOUT),
            max_reply: DEFAULT_MAX_REPLY,
            quiet: DEFAULT_QUIET,
            tls: None,
            busy_poll: crate::busy_poll::DEFAULT_BUSY_POLL,
        }
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
    /// The framed request being sent, kept between requests so none allocates.
    out: Vec<u8>,
    opts: Options,
    target: Target,
    /// Why the connection was closed, when an error closed it.
    closed_by: Option<String>,
    /// The server closed after sending part of a reply (not before its first byte).
    closed_mid_reply: bool,
    /// How quickly the server has been answering (`Options::busy_poll`).
    pace: crate::busy_poll::Pace,
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
        Client::connect_checked(target, opts, Interrupt::none())
    }

    /// `connect_to` with an interrupt check.
    pub fn connect_checked(target: Target, opts: Options, intr: Interrupt<'_>) -> Result<Client> {
        let mut intr = client_hook(intr);
        if opts.max_reply == 0 {
            return Err(Error::InvalidArgument("max_reply must be at least 1".into()));
        }
        crate::busy_poll::check_window(opts.busy_poll)?;
        let deadline = deadline_after(opts.timeout);
        let socket = connect_socket(&target, opts.timeout, &mut intr)?;
        let tls = match &opts.tls {
            None => {
                socket.block_in_slices()?;
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
                Some(crate::tls::session::TlsSession::handshake(&socket, config, name, deadline, &mut intr)?)
            }
        };
        Ok(Client {
            socket: Some(socket),
            tls,
            buf: Vec::new(),
            out: Vec::new(),
            opts,
            target,
            closed_by: None,
            closed_mid_reply: false,
            pace: Default::default(),
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

    /// Changes the busy-poll window (`Options::busy_poll`) for later replies.
    pub fn set_busy_poll(&mut self, window: Duration) -> Result<()> {
        crate::busy_poll::check_window(window)?;
        self.opts.busy_poll = window;
        Ok(())
    }

    /// Changes the quiet period that ends a message reply.
    pub fn set_quiet(&mut self, quiet: Duration) {
        self.opts.quiet = quiet;
    }

    /// The local address of a TCP connection.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.as_ref()?.local_addr()
    }

    /// The server's address of a TCP connection.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.socket.as_ref()?.peer_addr()
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
        match self.fill(Some(wait), &mut Interrupt::none()) {
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

    /// Runs an operation with the clients' hook (`client_hook`); any error closes the
    /// connection (see the module docs).
    fn guarded<T>(
        &mut self,
        intr: Interrupt<'_>,
        op: impl FnOnce(&mut Self, &mut Interrupt<'_>) -> Result<T>,
    ) -> Result<T> {
        self.socket()?;
        let result = op(self, &mut client_hook(intr));
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

    /// Reads what is available into `buf`, waiting up to `wait` (None: no limit): on a plain
    /// connection one `recv` in `Mode::Sliced` (straight into `buf`'s spare room).
    fn fill(&mut self, wait: Option<Duration>, intr: &mut Interrupt<'_>) -> Result<Filled> {
        let n = match (&mut self.tls, &self.socket) {
            (Some(tls), Some(socket)) => tls.read(socket, &mut self.buf, deadline_after(wait), intr)?,
            (None, Some(socket)) => recv_into(socket, &mut self.buf, 16384, 0, Mode::Sliced(wait), intr)?,
            (_, None) => return self.socket().map(|_| Filled::Eof),
        };
        Ok(if n == 0 { Filled::Eof } else { Filled::Bytes })
    }

    /// `fill` for the reply to a request or command: on a plain connection it first looks for
    /// the reply for up to `Options::busy_poll` without sleeping, while the server keeps
    /// answering within it. A round trip to a server on the same machine is then read
    /// without this thread going to sleep and being woken (docs/engine.md, "Busy poll").
    fn fill_reply(&mut self, intr: &mut Interrupt<'_>) -> Result<Filled> {
        let window = self.opts.busy_poll;
        let (Some(socket), None, false) = (&self.socket, &self.tls, window.is_zero()) else {
            return self.fill(self.opts.timeout, intr);
        };
        let started = std::time::Instant::now();
        let spun = self.pace.may_spin();
        if spun {
            if let Some(n) = spin_recv(socket, &mut self.buf, started + window, intr)? {
                self.pace.record(started.elapsed(), window, true);
                return Ok(if n == 0 { Filled::Eof } else { Filled::Bytes });
            }
        }
        let filled = self.fill(self.opts.timeout, intr);
        self.pace.record(started.elapsed(), window, spun);
        filled
    }

    /// Sends all of `data`, encrypted when the connection is TLS.
    fn send_data(&mut self, data: &[u8], intr: &mut Interrupt<'_>) -> Result<()> {
        let timeout = self.opts.timeout;
        match (&mut self.tls, &self.socket) {
            (Some(tls), Some(socket)) => tls.send_all(socket, data, deadline_after(timeout), intr),
            _ => send_all(self.socket()?, data, timeout, intr),
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

    fn read_line_inner(&mut self, intr: &mut Interrupt<'_>) -> Result<Vec<u8>> {
        let mut scanned = 0;
        loop {
            if let Some(line) = self.take_line(&mut scanned)? {
                return Ok(line);
            }
            match self.fill_reply(intr)? {
                Filled::Bytes => {}
                Filled::Eof => {
                    self.closed_mid_reply = !self.buf.is_empty();
                    return Err(Error::ConnectionClosed);
                }
            }
        }
    }

    /// Sends one line (netcore adds the `\n`) and returns the reply line without its terminator.
    pub fn request(&mut self, line: &[u8]) -> Result<Vec<u8>> {
        self.request_checked(line, Interrupt::none())
    }

    /// `request` with an interrupt check.
    pub fn request_checked(&mut self, line: &[u8], intr: Interrupt<'_>) -> Result<Vec<u8>> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        Client::push_line(&mut out, line)?;
        let reply = self.guarded(intr, |c, intr| {
            c.send_data(&out, intr)?;
            c.read_line_inner(intr)
        });
        self.out = out;
        reply
    }

    /// Sends raw bytes as they are (no terminator added).
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        self.send_checked(data, Interrupt::none())
    }

    /// `send` with an interrupt check.
    pub fn send_checked(&mut self, data: &[u8], intr: Interrupt<'_>) -> Result<()> {
        self.guarded(intr, |c, intr| c.send_data(data, intr))
    }

    /// Reads one line (a greeting, or the reply to something sent with `send`).
    pub fn read_line(&mut self) -> Result<Vec<u8>> {
        self.read_line_checked(Interrupt::none())
    }

    /// `read_line` with an interrupt check.
    pub fn read_line_checked(&mut self, intr: Interrupt<'_>) -> Result<Vec<u8>> {
        self.guarded(intr, |c, intr| c.read_line_inner(intr))
    }

    fn read_message_inner(&mut self, intr: &mut Interrupt<'_>) -> Result<Vec<u8>> {
        let limit = self.opts.max_reply;
        // Bytes left over from earlier line reads are the start of this reply.
        let mut eof = false;
        if self.buf.is_empty() {
            match self.fill(self.opts.timeout, intr)? {
                Filled::Bytes => {}
                Filled::Eof => {
                    self.closed_mid_reply = false;
                    return Err(Error::ConnectionClosed);
                }
            }
        }
        while !eof && self.buf.len() <= limit {
            match self.fill(Some(self.opts.quiet), intr) {
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
        self.message_checked(data, Interrupt::none())
    }

    /// `message` with an interrupt check.
    pub fn message_checked(&mut self, data: &[u8], intr: Interrupt<'_>) -> Result<Vec<u8>> {
        if data.is_empty() {
            return Err(Error::InvalidArgument("a message must not be empty".into()));
        }
        self.guarded(intr, |c, intr| {
            c.send_data(data, intr)?;
            c.read_message_inner(intr)
        })
    }

    /// Waits up to `wait` for unsolicited bytes (a greeting); none is `Ok(None)` and the
    /// connection stays open. Otherwise reads them with message framing, as `receive`.
    pub fn greeting(&mut self, wait: Duration) -> Result<Option<Vec<u8>>> {
        if self.buf.is_empty() && self.tls.is_some() {
            // The socket may be readable with only TLS records (session tickets): wait for
            // decrypted bytes instead.
            match self.fill(Some(wait), &mut Interrupt::none()) {
                Err(Error::Timeout) => return Ok(None),
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        } else if self.buf.is_empty() {
            let fd = self.socket()?.fileno();
            match wait_fd(fd, libc::POLLIN, Some(Instant::now() + wait), &mut Interrupt::none()) {
                Err(Error::Timeout) => return Ok(None),
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        self.receive().map(Some)
    }

    /// Message framing without sending: reads a greeting or an unsolicited reply.
    pub fn receive(&mut self) -> Result<Vec<u8>> {
        self.receive_checked(Interrupt::none())
    }

    /// `receive` with an interrupt check.
    pub fn receive_checked(&mut self, intr: Interrupt<'_>) -> Result<Vec<u8>> {
        self.guarded(intr, |c, intr| c.read_message_inner(intr))
    }
}

#[cfg(test)]
mod tests;
