//! Gopher (RFC 1436), seed 003's client: connect to port 70, send the selector and CRLF,
//! read to EOF. Every failure says at which stage it happened.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use socket2::SockAddr;

use super::{connect_one, resolve_stream, send_all, Interrupt};
use crate::error::Error;
use crate::socket::stream::io_error as socket_io_error;
use crate::socket::wait::Mode;
use crate::socket::Socket;

/// The standard Gopher port.
pub const DEFAULT_PORT: u16 = 70;

/// Where a Gopher fetch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The host name did not resolve.
    Lookup,
    /// No address of the host accepted the connection.
    Connect,
    /// Sending the selector failed.
    Send,
    /// Reading the reply failed (reset, timeout).
    Receive,
    /// The server answered with an error item (type `3`): no such selector.
    NotFound,
}

impl Stage {
    /// A short name for messages: "look-up", "connect", ...
    pub fn name(self) -> &'static str {
        match self {
            Stage::Lookup => "look-up",
            Stage::Connect => "connect",
            Stage::Send => "send",
            Stage::Receive => "receive",
            Stage::NotFound => "selector not found",
        }
    }
}

/// A failed Gopher fetch: the stage and the underlying error.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", stage.name())]
pub struct GopherError {
    pub stage: Stage,
    pub error: Error,
}

impl From<GopherError> for Error {
    fn from(e: GopherError) -> Self {
        match e.stage {
            Stage::NotFound => Error::Failed(format!("gopher: {}", e.error)),
            _ => e.error,
        }
    }
}

fn at(stage: Stage) -> impl FnOnce(Error) -> GopherError {
    move |error| GopherError { stage, error }
}

/// An open Gopher reply: `Read` gives the document to EOF.
#[derive(Debug)]
pub struct GopherReader {
    socket: Socket,
    /// The first bytes, read to check for an error item, handed out before the rest.
    head: Vec<u8>,
    head_pos: usize,
    timeout: Option<Duration>,
    eof: bool,
}

impl GopherReader {
    fn read_socket(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        let mode = Mode::Sliced(self.timeout);
        match self.socket.recv_in(buf, 0, mode, &mut Interrupt::none()).map_err(socket_io_error)? {
            0 => {
                self.eof = true;
                Ok(0)
            }
            n => Ok(n),
        }
    }
}

impl Read for GopherReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.head_pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.head_pos);
            buf[..n].copy_from_slice(&self.head[self.head_pos..self.head_pos + n]);
            self.head_pos += n;
            return Ok(n);
        }
        self.read_socket(buf)
    }
}

/// True when the reply starts with a Gopher error item: `3<text>\t<selector>\t<host>\t<port>`.
pub fn is_error_item(head: &[u8]) -> bool {
    let first = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    first.first() == Some(&b'3') && first.contains(&b'\t')
}

/// The display text of an error item (`'/x' does not exist`); `None` when `head` does not
/// start with one.
pub fn error_item_text(head: &[u8]) -> Option<String> {
    if !is_error_item(head) {
        return None;
    }
    let first = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let text = first[1..].split(|&b| b == b'\t').next().unwrap_or(&[]);
    Some(String::from_utf8_lossy(text).trim().to_string())
}

/// A read error as a core error: a timeout is `Error::Timeout`.
pub fn io_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::TimedOut {
        Error::Timeout
    } else {
        Error::Os(e)
    }
}

/// Connects to `host:port`, sends `selector` and CRLF, and returns the reply as a reader.
/// `timeout` bounds connecting and each wait for data.
pub fn open(host: &str, port: u16, selector: &str, timeout: Option<Duration>) -> Result<GopherReader, GopherError> {
    if selector.contains(['\r', '\n', '\t']) {
        return Err(GopherError {
            stage: Stage::Send,
            error: Error::InvalidArgument("a selector must not contain CR, LF or TAB".into()),
        });
    }
    let addrs = resolve_stream(host, port, libc::SOCK_STREAM).map_err(at(Stage::Lookup))?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut last = None;
    let mut socket = None;
    for addr in addrs {
        match connect_one(&SockAddr::from(addr), deadline, &mut Interrupt::none()) {
            Ok(s) => {
                socket = Some(s);
                break;
            }
            Err(e @ Error::Timeout) => return Err(at(Stage::Connect)(e)),
            Err(e) => last = Some(e),
        }
    }
    let socket = match socket {
        Some(s) => s,
        None => return Err(at(Stage::Connect)(last.expect("an address was tried"))),
    };
    socket.block_in_slices().map_err(at(Stage::Connect))?;
    send_all(&socket, format!("{selector}\r\n").as_bytes(), timeout, &mut Interrupt::none())
        .map_err(at(Stage::Send))?;
    let mut reader = GopherReader { socket, head: Vec::new(), head_pos: 0, timeout, eof: false };
    // Read the first line (or up to 4 KiB) to tell an error item from a document.
    while !reader.eof && reader.head.len() < 4096 && !reader.head.contains(&b'\n') {
        let mut chunk = [0u8; 4096];
        let n = reader.read_socket(&mut chunk).map_err(|e| at(Stage::Receive)(io_error(e)))?;
        reader.head.extend_from_slice(&chunk[..n]);
    }
    if let Some(text) = error_item_text(&reader.head) {
        let shown = if text.is_empty() { format!("'{selector}' does not exist") } else { text };
        return Err(GopherError { stage: Stage::NotFound, error: Error::Failed(shown) });
    }
    Ok(reader)
}

/// Fetches a whole document into memory.
pub fn fetch(host: &str, port: u16, selector: &str, timeout: Option<Duration>) -> Result<Vec<u8>, GopherError> {
    let mut reader = open(host, port, selector, timeout)?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).map_err(|e| GopherError { stage: Stage::Receive, error: io_error(e) })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_items_are_recognised() {
        assert!(is_error_item(b"3'/nope' does not exist\t\terror.host\t1\r\n.\r\n"));
        assert_eq!(
            error_item_text(b"3'/nope' does not exist\t\terror.host\t1\r\n").as_deref(),
            Some("'/nope' does not exist")
        );
        assert_eq!(error_item_text(b"0About\t/about\tlocalhost\t70\r\n"), None);
        assert!(!is_error_item(b"0About\t/about\tlocalhost\t70\r\n"));
        assert!(!is_error_item(b"3 little pigs, a story\n"));
    }

    #[test]
    fn bad_selector_and_unknown_host_have_stages() {
        assert_eq!(open("localhost", 70, "a\r\nb", None).unwrap_err().stage, Stage::Send);
        let err = open("no-such-host.invalid", 70, "", Some(Duration::from_secs(5))).unwrap_err();
        assert_eq!(err.stage, Stage::Lookup, "{err}");
    }
}
