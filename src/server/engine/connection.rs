//! One stream client: reading, cutting requests, answering, framing replies, flushing.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use super::scan::{constant_time_eq, find_newline, has_line_break, has_telnet_bytes, strip_line_ending, strip_telnet};
use super::stats::add;
use super::ServerState;
use crate::server::config::{Framing, Service};
use crate::server::metrics::{CommandTally, OTHER};
use crate::server::reply::{Outcome, ReplyOut, Wire};
use crate::server::service::{looks_like_http, lower_name, split_command, Answer, Request, Transport};

/// Stopping, a connection closes once it has answered all it read and nothing new came for
/// this long: a request already on its way (a load balancer forwarding it) is still answered.
const DRAIN_QUIET: Duration = Duration::from_millis(100);

/// What the connection loop needs from TCP and Unix streams.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;
    fn try_read_slice(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn try_write_now(&self, buf: &[u8]) -> io::Result<usize>;
}

impl Stream for TcpStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        TcpStream::readable(self)
    }
    fn try_read_slice(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_read(buf)
    }
    fn try_write_now(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_write(buf)
    }
}

impl Stream for UnixStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        UnixStream::readable(self)
    }
    fn try_read_slice(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_read(buf)
    }
    fn try_write_now(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_write(buf)
    }
}

const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// Each worker thread's read buffer: a read goes here, then only its bytes that are
    /// still needed (an unfinished line) are kept by the connection.
    static SCRATCH: std::cell::RefCell<Box<[u8; READ_CHUNK]>> = std::cell::RefCell::new(Box::new([0u8; READ_CHUNK]));
}

pub(super) struct Connection<S> {
    inner: Arc<ServerState>,
    stream: S,
    peer: String,
    transport: Transport,
    input: Vec<u8>,
    output: Vec<u8>,
    authed: bool,
    /// Requests answered since the last flush, added to the shared counter once per flush
    /// (one atomic per batch instead of one per request).
    uncounted: u64,
    /// Requests per command since the last flush, added to the shared counts with it.
    tally: CommandTally,
    /// The start of a telnet command cut off at the end of the last read (scan::strip_telnet).
    telnet_pending: Vec<u8>,
}

impl<S: Stream> Connection<S> {
    pub(super) fn new(inner: Arc<ServerState>, stream: S, peer: String, transport: Transport) -> Self {
        let authed = inner.token.is_none();
        Connection {
            inner,
            stream,
            peer,
            transport,
            input: Vec::new(),
            output: Vec::new(),
            authed,
            uncounted: 0,
            tally: CommandTally::default(),
            telnet_pending: Vec::new(),
        }
    }

    pub(super) async fn run(mut self) {
        let _ = self.serve().await;
        // Send what is pending, then a FIN; errors here only mean the client is gone.
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
        self.linger().await;
    }

    /// Reads and discards what the client still sends, briefly, before closing: closing a
    /// socket with unread input makes the kernel send a reset, which can destroy the last
    /// reply (an error line, `bye`) before the client reads it.
    async fn linger(&mut self) {
        let mut shutdown = self.inner.shutdown.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        let mut budget = 256 * 1024usize;
        while budget > 0 {
            let ready = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                r = tokio::time::timeout_at(deadline, self.stream.readable()) => r,
            };
            if !matches!(ready, Ok(Ok(()))) {
                return;
            }
            // The scratch buffer lives on the stack, not in the connection's future.
            let read = {
                let mut scratch = [0u8; 4096];
                self.stream.try_read_slice(&mut scratch)
            };
            match read {
                Ok(0) => return,
                Ok(n) => budget = budget.saturating_sub(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    }

    async fn serve(&mut self) -> io::Result<()> {
        let inner = Arc::clone(&self.inner);
        if let Some((banner, close)) = inner.dispatcher.on_connect() {
            self.push_reply(banner);
            self.flush().await?;
            if close {
                return Ok(());
            }
        }
        let mut shutdown = self.inner.shutdown.subscribe();
        // The stop signal and the idle timer live as long as the connection rather than one
        // wait: creating them per request registered a timer and a waiter (each a shared
        // lock) twice per request, about 8% of the throughput at one request in flight. The
        // timer is set once and, when it fires, moved to the last activity plus the limit.
        let stop = shutdown.wait_for(|s| *s);
        tokio::pin!(stop);
        let idle = self.inner.idle;
        let idle_timer = tokio::time::sleep(idle.unwrap_or(Duration::from_secs(86_400)));
        tokio::pin!(idle_timer);
        let mut last_activity = tokio::time::Instant::now();
        let mut scanned = 0;
        let mut draining = false;
        loop {
            let room = match self.inner.framing {
                Framing::Line => (self.inner.max_line + 2).saturating_sub(self.input.len()).clamp(1, READ_CHUNK),
                Framing::Message => self.inner.max_line.min(READ_CHUNK),
            };
            // Read at most `room` bytes, so a line can outgrow max_line by only a little and a
            // message is never longer than max_line. Data already there is read before
            // anything else is polled.
            let (stream, input) = (&mut self.stream, &mut self.input);
            let read = tokio::select! {
                biased;
                r = std::future::poll_fn(|cx| poll_read_input(stream, input, room, cx)) => r,
                _ = &mut idle_timer, if idle.is_some() || draining => {
                    let limit = if draining { DRAIN_QUIET } else { idle.unwrap_or_default() };
                    let due = last_activity + limit;
                    if due > tokio::time::Instant::now() {
                        idle_timer.as_mut().reset(due);
                        continue;
                    }
                    if draining {
                        return Ok(()); // stopping and quiet: every request read is answered
                    }
                    add(&self.inner.counters.errors, 1);
                    return Ok(()); // idle timeout
                }
                _ = &mut stop, if !draining => {
                    // Stop accepting is the listener's part; here: answer what comes while
                    // requests keep coming, close once quiet (the stop timeout bounds it).
                    draining = true;
                    idle_timer.as_mut().reset(tokio::time::Instant::now() + DRAIN_QUIET);
                    continue;
                }
            };
            let read_at = tokio::time::Instant::now();
            let n = read?;
            add(&self.inner.counters.bytes_in, n as u64);
            if n == 0 {
                // The client half-closed: answer what it sent (a last line without its newline
                // included), flush, close.
                if !self.input.is_empty() {
                    let rest = std::mem::take(&mut self.input);
                    let line = strip_line_ending(&rest);
                    if self.inner.framing == Framing::Line && line.len() > self.inner.max_line {
                        self.line_too_long();
                    } else {
                        self.request(line).await;
                    }
                }
                return Ok(());
            }
            match self.inner.framing {
                Framing::Message => {
                    let chunk = std::mem::take(&mut self.input);
                    if self.request(strip_line_ending(&chunk)).await {
                        return Ok(());
                    }
                }
                Framing::Line => {
                    // A telnet client ends lines with CR NUL and negotiates options (RFC 854):
                    // rare bytes, looked for only in what was just read.
                    let fresh = self.input.len() - n;
                    if !self.telnet_pending.is_empty() || has_telnet_bytes(&self.input[fresh..]) {
                        strip_telnet(&mut self.input, fresh, &mut self.telnet_pending);
                    }
                    let mut start = 0;
                    let mut close = false;
                    let input = std::mem::take(&mut self.input);
                    while let Some(pos) = find_newline(&input[scanned..]) {
                        let end = scanned + pos;
                        let line = strip_line_ending(&input[start..end]);
                        start = end + 1;
                        scanned = start;
                        if line.len() > self.inner.max_line {
                            self.line_too_long();
                            close = true;
                            break;
                        }
                        // Built-in replies need no wait: skipping the future of `request` saves ~40
                        // instructions per request (callgrind).
                        let start = self.output.len();
                        let outcome = match self.answer(line) {
                            Answer::Ready(outcome) => outcome,
                            pending => self.answer_later(pending).await,
                        };
                        if self.finish_reply(start, outcome) {
                            close = true;
                            break;
                        }
                        if self.output.len() >= self.inner.max_output {
                            // Bounded output: wait for the client to read before going on.
                            if let Err(e) = self.flush().await {
                                self.input = input;
                                return Err(e);
                            }
                        }
                    }
                    self.input = input;
                    if close {
                        return Ok(());
                    }
                    self.input.drain(..start);
                    scanned = self.input.len();
                    if self.input.len() > self.inner.max_line + 1 {
                        self.line_too_long();
                        return Ok(());
                    }
                    if self.input.is_empty() && self.input.capacity() > 1024 {
                        self.input = Vec::new();
                    }
                }
            }
            let answered = self.uncounted;
            self.flush().await?;
            last_activity = tokio::time::Instant::now();
            self.inner.latency.observe(last_activity - read_at, answered);
        }
    }

    fn line_too_long(&mut self) {
        add(&self.inner.counters.errors, 1);
        let msg = format!("error: line too long (limit {} bytes)", self.inner.max_line);
        self.push_reply(msg.as_bytes());
    }

    /// Answers one request into the output buffer, waiting only for a handler that answers
    /// from another thread; true if the connection closes after it.
    async fn request(&mut self, line: &[u8]) -> bool {
        let start = self.output.len();
        let outcome = match self.answer(line) {
            Answer::Ready(outcome) => outcome,
            pending => self.answer_later(pending).await,
        };
        self.finish_reply(start, outcome)
    }

    /// Answers one request into the output buffer, unless a handler on another thread
    /// answers it: built-in replies are written there directly. Nothing is framed yet.
    fn answer(&mut self, line: &[u8]) -> Answer {
        self.uncounted += 1;
        if looks_like_http_request(line, self.inner.framing) {
            add(&self.inner.counters.rejected, 1);
            return Answer::Ready(Outcome::CLOSE);
        }
        if !self.authed {
            let expected = self.inner.token.as_deref().unwrap_or_default();
            if constant_time_eq(line, expected) {
                self.authed = true;
                self.output.extend_from_slice(b"ok");
                return Answer::Ready(Outcome::REPLY);
            }
            add(&self.inner.counters.rejected, 1);
            self.output.extend_from_slice(b"error: authentication required");
            return Answer::Ready(Outcome::REPLY.and_close());
        }
        self.count_command(split_command(line).0);
        let request = Request::from_line(line, &self.peer, self.transport);
        self.inner.dispatcher.dispatch(&request, &mut ReplyOut::new(&mut self.output, Wire::Text))
    }

    /// Counts a request for the per-command counts: under its lower-case name if it is one
    /// of the server's commands, else as `other` (the service's name for the seed services).
    fn count_command(&mut self, name: &[u8]) {
        let dispatcher = &self.inner.dispatcher;
        let mut buf = [0u8; 32];
        let lowered;
        let label: &[u8] = match dispatcher.service {
            Service::Command | Service::Custom if dispatcher.is_command(name) => {
                lowered = lower_name(name, &mut buf);
                &lowered
            }
            Service::Command | Service::Custom => OTHER,
            ref other => other.name().as_bytes(),
        };
        self.tally.count(&self.inner.commands, label);
    }

    /// Waits for the handler answering elsewhere; its reply is appended to the output.
    async fn answer_later(&mut self, pending: Answer) -> Outcome {
        pending.outcome(&mut ReplyOut::new(&mut self.output, Wire::Text)).await
    }

    /// Counts the outcome and frames the reply that starts at `start`; true if the
    /// connection closes now.
    fn finish_reply(&mut self, start: usize, outcome: Outcome) -> bool {
        if outcome.error {
            add(&self.inner.counters.errors, 1);
        }
        if outcome.replied {
            self.seal_reply(start);
        }
        outcome.close
    }

    fn push_reply(&mut self, reply: &[u8]) {
        let start = self.output.len();
        self.output.extend_from_slice(reply);
        self.seal_reply(start);
    }

    /// Makes the bytes appended to the output since `start` one reply in the connection's
    /// framing. Message framing sends them as they are; line framing makes them one line: a
    /// trailing line ending is dropped, an embedded `\n` or `\r` is sent as the two characters
    /// `\n` or `\r`, and `\n` ends the line.
    fn seal_reply(&mut self, start: usize) {
        if self.inner.framing == Framing::Message {
            return;
        }
        // A reply without `\n` or `\r` (nearly all) has nothing to strip or escape either.
        if has_line_break(&self.output[start..]) {
            let body_len = strip_line_ending(&self.output[start..]).len();
            self.output.truncate(start + body_len);
            let body = self.output.split_off(start);
            for b in body {
                match b {
                    b'\n' => self.output.extend_from_slice(b"\\n"),
                    b'\r' => self.output.extend_from_slice(b"\\r"),
                    b => self.output.push(b),
                }
            }
        }
        self.output.push(b'\n');
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.uncounted > 0 {
            add(&self.inner.counters.requests, std::mem::take(&mut self.uncounted));
            self.tally.flush();
        }
        if self.output.is_empty() {
            return Ok(());
        }
        // Most flushes fit in the socket's send buffer: one write without setting up the
        // timeout. Only a rest that does not fit waits, bounded by the idle timeout.
        let written = match self.stream.try_write_now(&self.output) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => {
                self.output.clear();
                return Err(e);
            }
        };
        let result = match &self.output[written..] {
            [] => Some(Ok(())),
            rest => with_timeout(self.inner.idle, self.stream.write_all(rest)).await,
        };
        match result {
            Some(Ok(())) => {
                add(&self.inner.counters.bytes_out, self.output.len() as u64);
                self.output.clear();
                if self.output.capacity() > 2 * self.inner.max_output.max(READ_CHUNK) {
                    self.output = Vec::new();
                }
                Ok(())
            }
            Some(Err(e)) => {
                self.output.clear();
                Err(e)
            }
            None => {
                // The client stopped reading: drop its replies and the connection.
                add(&self.inner.counters.errors, 1);
                self.output = Vec::new();
                Err(io::Error::from(io::ErrorKind::TimedOut))
            }
        }
    }
}

/// Reads what the client sent (at most `room` bytes) and appends it to `input`; ready with 0
/// at end of stream. The read goes to the worker thread's scratch buffer first, so a
/// connection keeps input memory only for an unfinished line, never a whole read buffer
/// (idle clients cost no input memory). A read that does not fill the buffer tells tokio the
/// socket is drained, so the next wait needs no extra read that would only fail with
/// `WouldBlock` (one system call per batch of requests fewer than `try_read` in a loop).
fn poll_read_input<S: Stream>(
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

/// In message framing a chunk may hold several lines; any of them looking like HTTP counts.
fn looks_like_http_request(req: &[u8], framing: Framing) -> bool {
    match framing {
        Framing::Line => looks_like_http(req),
        Framing::Message => req.split(|&b| b == b'\n').any(looks_like_http),
    }
}

async fn with_timeout<F: Future>(limit: Option<Duration>, f: F) -> Option<F::Output> {
    match limit {
        Some(d) => tokio::time::timeout(d, f).await.ok(),
        None => Some(f.await),
    }
}
