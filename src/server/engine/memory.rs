//! Serving a client from memory: the fuzz targets and property tests drive the engine's
//! whole connection path (cutting requests in every framing, batches, replies, limits,
//! closing) with no socket, so a fuzzer runs it many thousand times a second.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

use super::connection::Stream;
use super::listen::admission;
use super::Server;
use crate::server::service::Transport;

/// The server's end of an in-memory connection.
pub(super) struct MemoryStream(DuplexStream);

impl AsyncRead for MemoryStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for MemoryStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Stream for MemoryStream {
    /// Memory has no kernel that resets a connection closed with unread input, so the
    /// linger before closing has nothing to protect: it ends at once.
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        std::future::ready(Err(io::Error::other("an in-memory stream needs no linger")))
    }
    fn try_read_raw(&self, _buf: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(&mut self.0).poll_write(&mut cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Ok(0),
        }
    }
}

impl Server {
    /// Serves one client from memory: its bytes are `writes` (each written on its own, then
    /// the end of input, as a client that half-closes) and the result is everything the
    /// server sent it, or `None` if the exchange did not finish within `timeout`. For fuzz
    /// targets and tests; not part of the API. Call it from outside the server's runtime.
    #[doc(hidden)]
    pub fn exchange_in_memory(&self, writes: &[&[u8]], timeout: Duration) -> Option<Vec<u8>> {
        let handle = self.runtime.lock().ok()?.as_ref()?.handle().clone();
        let inner = self.inner.clone();
        handle.block_on(async move {
            let (client, server_end) = tokio::io::duplex(64 * 1024);
            // Served here, on the caller's thread, rather than on a worker: the same code, and
            // no thread hand-off per write (which cost a fuzzer most of its time) or
            // scheduling that varies between runs of the same input.
            let serve = admission(&inner, MemoryStream(server_end), "memory".to_string(), Transport::Tcp, false);
            let serve = async {
                if let Some(serve) = serve {
                    serve.await
                }
            };
            let (mut from_server, mut to_server) = tokio::io::split(client);
            let send = async {
                for write in writes {
                    to_server.write_all(write).await?;
                    tokio::task::yield_now().await; // let the server read this write on its own
                }
                to_server.shutdown().await
            };
            let receive = async {
                let mut out = Vec::new();
                from_server.read_to_end(&mut out).await.map(|_| out)
            };
            let exchange = async {
                // The server may close before reading everything (a line too long): not an error.
                let (_sent, received, ()) = tokio::join!(send, receive, serve);
                received.ok()
            };
            tokio::time::timeout(timeout, exchange).await.ok().flatten()
        })
    }
}
