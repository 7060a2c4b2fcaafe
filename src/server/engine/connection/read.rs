//! Reading a client's bytes: the worker thread's scratch buffer and the optional busy poll.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::ReadBuf;

use super::Stream;

pub(super) const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// Each worker thread's read buffer: a read goes here, then only its bytes that are
    /// still needed (an unfinished line) are kept by the connection.
    static SCRATCH: std::cell::RefCell<Box<[u8; READ_CHUNK]>> = std::cell::RefCell::new(Box::new([0u8; READ_CHUNK]));
}

/// Reads what the client sent (at most `room` bytes) and appends it to `input`; ready with 0
/// at end of stream. The read goes to the worker thread's scratch buffer first, so a
/// connection keeps input memory only for an unfinished line, never a whole read buffer
/// (idle clients cost no input memory). A read that does not fill the buffer tells tokio the
/// socket is drained, so the next wait needs no extra read that would only fail with
/// `WouldBlock` (one system call per batch of requests fewer than `try_read` in a loop).
pub(super) fn poll_read_input<S: Stream>(
    stream: &mut S,
    input: &mut Vec<u8>,
    room: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    // The scratch buffer is the worker thread's (the read never waits), so it is not zeroed
    // for every read: a 16 KiB memset per read cost ~3% of the CPU.
    SCRATCH.with(|chunk| {
        let mut chunk = chunk.borrow_mut();
        let mut buf = ReadBuf::new(&mut chunk[..room.min(READ_CHUNK)]);
        ready!(Pin::new(stream).poll_read(cx, &mut buf))?;
        input.extend_from_slice(buf.filled());
        Poll::Ready(Ok(buf.filled().len()))
    })
}

/// `ServerConfig::busy_poll`: looks for the client's next bytes for up to `window` before the
/// connection waits for them the ordinary way, yielding to the worker's other tasks (and
/// letting tokio poll for I/O) between looks. A client that sends its next request within
/// the window is read without this thread going to sleep and being woken, the two context
/// switches that are most of a round trip's cost at one request in flight; the price is this
/// worker's CPU for the window after every reply. `None`: nothing came within the window.
pub(super) async fn busy_read<S: Stream>(
    stream: &mut S,
    input: &mut Vec<u8>,
    room: usize,
    window: Duration,
) -> Option<io::Result<usize>> {
    let until = Instant::now() + window;
    loop {
        let got = std::future::poll_fn(|cx| match poll_read_input(stream, input, room, cx) {
            Poll::Ready(r) => Poll::Ready(Some(r)),
            Poll::Pending => Poll::Ready(None),
        })
        .await;
        if got.is_some() || Instant::now() >= until {
            return got;
        }
        tokio::task::yield_now().await;
    }
}
