//! Reading a client's bytes: the worker thread's scratch buffer and the optional busy poll.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::ReadBuf;

use super::Stream;
use crate::busy_poll;

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

/// A server's busy poll (`ServerConfig::busy_poll`): the window and the spin slots its
/// connections share. A connection spins only while its client keeps coming back within the
/// window (`Pace`), and at most one connection per worker thread spins at a time: with many
/// clients a worker is seldom idle, and connections spinning side by side would only spend
/// its rounds on reads that find nothing.
pub(in crate::server::engine) struct BusyPoll {
    window: Duration,
    spinning: AtomicUsize,
    slots: usize,
}

/// One connection's busy-poll state: its client's pace (the core's rule) and the wait in
/// progress.
#[derive(Default)]
pub(super) struct Pace {
    rule: busy_poll::Pace,
    spun: bool,
    waiting_since: Option<Instant>,
}

/// A held spin slot, released when the spin ends (or the connection is dropped mid-spin).
struct SpinSlot<'a>(&'a AtomicUsize);

impl Drop for SpinSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl BusyPoll {
    /// `window` zero: off. `workers`: the engine's threads, one spin slot each.
    pub(in crate::server::engine) fn new(window: Duration, workers: usize) -> Self {
        BusyPoll { window, spinning: AtomicUsize::new(0), slots: workers.max(1) }
    }

    fn try_spin(&self) -> Option<SpinSlot<'_>> {
        // A plain load first: a full set of slots costs no write to the shared line.
        if self.spinning.load(Ordering::Relaxed) >= self.slots {
            return None;
        }
        self.spinning.fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| (n < self.slots).then_some(n + 1)).ok()?;
        Some(SpinSlot(&self.spinning))
    }

    /// Looks for the client's next bytes for up to the window before the connection waits
    /// for them the ordinary way, yielding to the worker's other tasks (and letting tokio
    /// poll for I/O) and the thread's CPU to other threads (a client on the same CPU can
    /// send only while the spinner lets it run) between looks. A client that sends its next request within the window
    /// is read without this thread going to sleep and being woken, the two context switches
    /// that are most of a round trip's cost at one request in flight. `None`: off, the
    /// client is not quick, no slot was free, or nothing came within the window.
    pub(super) async fn read<S: Stream>(
        &self,
        pace: &mut Pace,
        stream: &mut S,
        input: &mut Vec<u8>,
        room: usize,
    ) -> Option<io::Result<usize>> {
        if self.window.is_zero() {
            return None;
        }
        let since = Instant::now();
        pace.waiting_since = Some(since);
        pace.spun = false;
        if !pace.rule.may_spin() {
            return None;
        }
        let _slot = self.try_spin()?;
        pace.spun = true;
        let until = since + self.window;
        loop {
            let got = std::future::poll_fn(|cx| match poll_read_input(stream, input, room, cx) {
                Poll::Ready(r) => Poll::Ready(Some(r)),
                Poll::Pending => Poll::Ready(None),
            })
            .await;
            if got.is_some() || Instant::now() >= until {
                return got;
            }
            std::thread::yield_now();
            tokio::task::yield_now().await;
        }
    }

    /// Records that the client's bytes arrived at `at`, after `read` (spun or not).
    pub(super) fn came_back(&self, pace: &mut Pace, at: Instant) {
        if let Some(since) = pace.waiting_since.take() {
            pace.rule.record(at.saturating_duration_since(since), self.window, pace.spun);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spin_slot_per_worker_released_when_the_spin_ends() {
        let poll = BusyPoll::new(Duration::from_micros(50), 2);
        let (a, b) = (poll.try_spin(), poll.try_spin());
        assert!(a.is_some() && b.is_some());
        assert!(poll.try_spin().is_none(), "two workers: two spinners at most");
        drop(a);
        assert!(poll.try_spin().is_some(), "a finished spin frees its slot");
        assert!(BusyPoll::new(Duration::from_micros(50), 0).try_spin().is_some(), "at least one slot");
    }

    #[test]
    fn a_read_spins_only_with_a_free_slot_and_gives_it_back() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (mut stream, _) = listener.accept().await.unwrap();
            let poll = BusyPoll::new(Duration::from_millis(1), 1);
            let (mut pace, mut input) = (Pace::default(), Vec::new());
            let held = poll.try_spin();
            assert!(poll.read(&mut pace, &mut stream, &mut input, 64).await.is_none(), "nothing was sent");
            assert!(!pace.spun, "the one slot is taken: no spin");
            drop(held);
            assert!(poll.read(&mut pace, &mut stream, &mut input, 64).await.is_none(), "nothing was sent");
            assert!(pace.spun, "a free slot: spun for the window");
            assert_eq!(poll.spinning.load(Ordering::Relaxed), 0, "the spin gave its slot back");
            poll.came_back(&mut pace, Instant::now());
            assert!(pace.waiting_since.is_none(), "the wait was recorded");
            let off = BusyPoll::new(Duration::ZERO, 1);
            assert!(off.read(&mut pace, &mut stream, &mut input, 64).await.is_none());
            assert!(pace.waiting_since.is_none(), "off: no clock read, nothing recorded");
        });
    }
}
