//! The stream types a connection serves (TCP, Unix, TLS, and memory in `memory.rs`) and
//! what the connection loop needs from each beyond reading and writing.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::server::TlsStream;

/// What the connection loop needs from TCP, Unix and TLS streams, besides reading and
/// writing: a write that never waits (the common flush), and, for the short drain before
/// closing, the raw socket.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Waits until the socket under the stream has bytes.
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;
    /// Reads the socket's bytes as they are (TLS: still encrypted), for discarding.
    fn try_read_raw(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes what fits now without waiting.
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Whether written bytes still wait inside the stream (TLS records not yet sent).
    fn has_buffered_output(&self) -> bool {
        false
    }
}

impl Stream for TcpStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        TcpStream::readable(self)
    }
    fn try_read_raw(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_read(buf)
    }
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.try_write(buf)
    }
}

impl Stream for UnixStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        UnixStream::readable(self)
    }
    fn try_read_raw(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_read(buf)
    }
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.try_write(buf)
    }
}

impl Stream for TlsStream<TcpStream> {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        self.get_ref().0.readable()
    }
    fn try_read_raw(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.get_ref().0.try_read(buf)
    }
    /// Encrypts into rustls and sends what the socket takes now: polled once with a waker
    /// that wakes nothing, since the caller waits properly (`write_all`, `flush`) for a rest.
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(self).poll_write(&mut cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Ok(0),
        }
    }
    fn has_buffered_output(&self) -> bool {
        self.get_ref().1.wants_write()
    }
}
