//! One stream client: reading, cutting requests, answering, framing replies, flushing.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

mod pending;
mod read;
mod resp;

pub(crate) use super::stream::Stream;
use pending::{client_request, Cut, Cuts, Pending, Route};
pub(super) use read::BusyPoll;
use read::{poll_read_input, Pace, READ_CHUNK};

use super::scan::{constant_time_eq, find_newline, has_line_break, has_telnet_bytes, strip_line_ending, strip_telnet};
use super::stats::add;
use super::ServerState;
use crate::server::batch::{call_caught, handler_failed, with_spans, Batch, Lane, Offload};
use crate::server::config::{Framing, Service};
use crate::server::metrics::{CommandTally, OTHER};
use crate::server::reply::{Outcome, ReplyOut, Wire};
use crate::server::service::{looks_like_http, lower_name, split_command, write_response, Request, Transport};

/// Stopping, a connection closes once it has answered all it read and nothing new came for
/// this long: a request already on its way (a load balancer forwarding it) is still answered.
const DRAIN_QUIET: Duration = Duration::from_millis(100);

pub(super) struct Connection<S> {
    inner: Arc<ServerState>,
    stream: S,
    peer: String,
    transport: Transport,
    /// The subject of the client's certificate (TLS with client certificates).
    peer_cert: Option<String>,
    input: Vec<u8>,
    output: Vec<u8>,
    authed: bool,
    /// RESP framing's parser and session (None in line and message framing).
    resp: Option<Box<resp::RespState>>,
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
        let resp = (inner.framing == Framing::Resp).then(|| resp::RespState::new(inner.max_line, authed));
        Connection {
            inner,
            stream,
            peer,
            transport,
            peer_cert: None,
            input: Vec::new(),
            output: Vec::new(),
            authed,
            resp,
            uncounted: 0,
            tally: CommandTally::default(),
            telnet_pending: Vec::new(),
        }
    }

    pub(super) fn peer_cert(mut self, subject: Option<String>) -> Self {
        self.peer_cert = subject;
        self
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
                self.stream.try_read_raw(&mut scratch)
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
        let mut first_read = self.transport != Transport::Tls;
        let mut pace = Pace::default();
        loop {
            let room = match self.inner.framing {
                Framing::Line | Framing::Resp => {
                    (self.inner.max_line + 2).saturating_sub(self.input.len()).clamp(1, READ_CHUNK)
                }
                Framing::Message => self.inner.max_line.min(READ_CHUNK),
            };
            // Read at most `room` bytes, so a line can outgrow max_line by only a little and a
            // message is never longer than max_line. Data already there is read before
            // anything else is polled.
            let spun = self.inner.busy_poll.read(&mut pace, &mut self.stream, &mut self.input, room).await;
            let (stream, input) = (&mut self.stream, &mut self.input);
            let read = if let Some(r) = spun {
                r
            } else {
                tokio::select! {
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
                }
            };
            let read_at = tokio::time::Instant::now();
            self.inner.busy_poll.came_back(&mut pace, read_at.into_std());
            let n = read?;
            add(&self.inner.counters.bytes_in, n as u64);
            if first_read && self.input == [0x16] {
                // One byte of what may be a TLS record: the next decides, however it was cut.
            } else if std::mem::take(&mut first_read) && looks_like_tls_hello(&self.input) {
                // A TLS client on a plain port: close at once, so it fails its handshake
                // instead of waiting for a reply to bytes that are no request.
                add(&self.inner.counters.rejected, 1);
                self.input.clear();
                return Ok(());
            }
            if n == 0 {
                // The client half-closed: answer what it sent (a last line without its newline
                // included), flush, close.
                if !self.input.is_empty() && self.inner.framing != Framing::Resp {
                    let rest = std::mem::take(&mut self.input);
                    let line = strip_line_ending(&rest);
                    if self.inner.framing == Framing::Line && line.len() > self.inner.max_line {
                        self.line_too_long();
                    } else {
                        self.request(line).await?;
                    }
                }
                return Ok(());
            }
            match self.inner.framing {
                Framing::Resp => {
                    if self.answer_resp_input().await? {
                        return Ok(());
                    }
                }
                Framing::Message => {
                    let chunk = std::mem::take(&mut self.input);
                    if self.request(strip_line_ending(&chunk)).await? {
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
                    let input = std::mem::take(&mut self.input);
                    let answered = self.answer_lines(&input, scanned).await;
                    self.input = input;
                    let (start, close) = answered?;
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

    /// Answers the complete lines of `input` (scanned for newlines from `scanned` on), in
    /// order, into the output buffer: built-in replies at once, user handlers' requests in
    /// batches of consecutive requests of one lane. Returns where the unfinished rest starts
    /// and whether the connection closes.
    async fn answer_lines(&mut self, input: &[u8], mut scanned: usize) -> io::Result<(usize, bool)> {
        let mut start = 0;
        let mut pending = Pending::new(Wire::Text);
        while let Some(pos) = find_newline(&input[scanned..]) {
            let end = scanned + pos;
            let line_end = start + strip_line_ending(&input[start..end]).len();
            let line = &input[start..line_end];
            let line_start = start;
            start = end + 1;
            scanned = start;
            if line.len() > self.inner.max_line {
                if pending.lane.is_none() || !self.answer_pending(input, &mut pending).await? {
                    self.line_too_long();
                }
                return Ok((start, true));
            }
            match self.route(line) {
                Route::User(handler) => {
                    let (joins, lane) = pending.joins(&*handler);
                    if !joins {
                        if pending.lane.is_some() && self.answer_pending(input, &mut pending).await? {
                            return Ok((start, true));
                        }
                        pending.lane = Some(lane);
                    }
                    pending.push_line(handler, line_start, line_end);
                    continue;
                }
                Route::Done(close) => {
                    if close {
                        return Ok((start, true));
                    }
                }
                Route::Close => {
                    if pending.lane.is_some() {
                        self.answer_pending(input, &mut pending).await?;
                    }
                    return Ok((start, true));
                }
                Route::Builtin => {
                    if pending.lane.is_some() && self.answer_pending(input, &mut pending).await? {
                        return Ok((start, true));
                    }
                    // Built-in replies need no wait: no future per request (~40 instructions
                    // per request, callgrind).
                    if self.answer_builtin(line) {
                        return Ok((start, true));
                    }
                }
            }
            if self.output.len() >= self.inner.max_output {
                // Bounded output: wait for the client to read before going on.
                self.flush().await?;
            }
        }
        if pending.lane.is_some() && self.answer_pending(input, &mut pending).await? {
            return Ok((start, true));
        }
        pending.recycle();
        Ok((start, false))
    }

    /// Answers one request (message framing, a last line without its newline); true if the
    /// connection closes.
    async fn request(&mut self, line: &[u8]) -> io::Result<bool> {
        Ok(match self.route(line) {
            Route::Done(close) => close,
            Route::Close => true,
            Route::Builtin => self.answer_builtin(line),
            Route::User(handler) => {
                let mut pending = Pending::new(Wire::Text);
                pending.lane = Some(handler.lane());
                pending.push_line(handler, 0, line.len());
                self.answer_pending(line, &mut pending).await?
            }
        })
    }

    /// Where `line` goes; the checks before any dispatch (HTTP guard, token) are made here.
    /// A request is counted when answered (a batch's when its handlers ran).
    fn route(&mut self, line: &[u8]) -> Route {
        if looks_like_http_request(line, self.inner.framing) {
            self.uncounted += 1;
            add(&self.inner.counters.rejected, 1);
            return Route::Close;
        }
        if !self.authed {
            // The token is the first line: no batch is pending before it.
            self.uncounted += 1;
            let expected = self.inner.token.as_deref().unwrap_or_default();
            if constant_time_eq(line, expected) {
                self.authed = true;
                self.push_reply(b"ok");
                return Route::Done(false);
            }
            add(&self.inner.counters.rejected, 1);
            self.push_reply(b"error: authentication required");
            return Route::Done(true);
        }
        self.count_command(split_command(line).0);
        match self
            .inner
            .dispatcher
            .route(&client_request(line, &self.peer, self.transport, &self.peer_cert), Wire::Text)
        {
            Some(handler) => Route::User(handler),
            None => Route::Builtin,
        }
    }

    /// Answers a request no user handler takes; true if the connection closes.
    fn answer_builtin(&mut self, line: &[u8]) -> bool {
        self.uncounted += 1;
        let start = self.output.len();
        let request = client_request(line, &self.peer, self.transport, &self.peer_cert);
        let outcome =
            self.inner.dispatcher.dispatch_builtin(&request, &mut ReplyOut::new(&mut self.output, Wire::Text));
        self.finish_reply(start, outcome)
    }

    /// Answers the pending batch in its lane, in order, flushing whenever the output reaches
    /// its bound; true if the connection closes (the requests after the one that closed it
    /// are not answered). `input`: where line framing's lines are.
    async fn answer_pending(&mut self, input: &[u8], pending: &mut Pending) -> io::Result<bool> {
        let Some(lane) = pending.lane.take() else { return Ok(false) };
        // Taken out so the batch can be answered while `pending` starts the next one; given
        // back emptied below, keeping their capacity.
        let mut requests = std::mem::take(&mut pending.requests);
        let mut text = std::mem::take(&mut pending.text);
        let mut args = std::mem::take(&mut pending.args);
        let cut = Cuts {
            source: if self.inner.framing == Framing::Resp { &text } else { input },
            args: &args,
            wire: pending.wire,
        };
        let mut done = 0;
        while done < requests.len() {
            let rest = &requests[done..];
            let (answered, close) = match &lane {
                Lane::Inline => self.answer_here(&cut, rest),
                Lane::Blocking => tokio::task::block_in_place(|| self.answer_here(&cut, rest)),
                Lane::Entered(context) => {
                    let mut answered = None;
                    context.enter(&mut || answered = Some(self.answer_here(&cut, rest)));
                    answered.unwrap_or_else(|| self.answer_here(&cut, rest))
                }
                Lane::Offloaded(threads) => self.answer_offloaded(&**threads, &cut, rest).await,
            };
            done += answered;
            self.uncounted += answered as u64;
            if close {
                return Ok(true);
            }
            if self.output.len() >= self.inner.max_output {
                self.flush().await?;
            }
        }
        requests.clear();
        text.clear();
        args.clear();
        (pending.requests, pending.text, pending.args) = (requests, text, args);
        Ok(false)
    }

    /// Calls the handlers of `requests` in order on this thread until one closes the
    /// connection or the output reaches its bound: (requests answered, close).
    fn answer_here(&mut self, cuts: &Cuts<'_>, requests: &[Cut]) -> (usize, bool) {
        for (i, cut) in requests.iter().enumerate() {
            let line = cuts.line(cut);
            let response = with_spans(cuts.source, cuts.spans(cut), |argv| {
                call_caught(
                    &*cut.handler,
                    &Request { argv, ..client_request(line, &self.peer, self.transport, &self.peer_cert) },
                )
            });
            let start = self.output.len();
            let outcome = write_response(response, &mut ReplyOut::new(&mut self.output, cuts.wire));
            if self.finish_reply(start, outcome) {
                return (i + 1, true);
            }
            if self.output.len() >= self.inner.max_output {
                return (i + 1, false);
            }
        }
        (requests.len(), false)
    }

    /// Sends `requests` to their handlers' threads as one batch and waits for the answers
    /// (without holding the worker): (requests answered, close).
    async fn answer_offloaded(&mut self, threads: &dyn Offload, cuts: &Cuts<'_>, requests: &[Cut]) -> (usize, bool) {
        let room = self.inner.max_output.saturating_sub(self.output.len()).max(1);
        let mut batch = Batch::new(&client_request(b"", &self.peer, self.transport, &self.peer_cert), room);
        for cut in requests {
            with_spans(cuts.source, cuts.spans(cut), |argv| batch.push(cut.handler.clone(), cuts.line(cut), argv));
        }
        let mut responses = match threads.submit(batch) {
            Ok(answers) => answers.await.unwrap_or_else(|_| vec![handler_failed(); requests.len()]),
            // The threads are gone: answer here, as a blocking handler.
            Err(batch) => tokio::task::block_in_place(|| batch.answer()),
        };
        if responses.is_empty() {
            responses.push(handler_failed()); // never an empty answer: the loop must go on
        }
        let count = responses.len().min(requests.len());
        for (i, response) in responses.into_iter().enumerate() {
            let start = self.output.len();
            let outcome = write_response(response, &mut ReplyOut::new(&mut self.output, cuts.wire));
            if self.finish_reply(start, outcome) {
                return (i + 1, true);
            }
        }
        (count, false)
    }

    /// Counts a request for the per-command counts: under its lower-case name if it is one
    /// of the server's commands, else as `other` (the service's name for the seed services).
    fn count_command(&mut self, name: &[u8]) {
        let dispatcher = &self.inner.dispatcher;
        if self.tally.count_seen(name, dispatcher.generation()) {
            return;
        }
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
        self.tally.count(&self.inner.commands, name, label);
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
        if self.inner.framing != Framing::Line {
            return; // message framing sends them as they are, RESP replies are whole values
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
            [] if !self.stream.has_buffered_output() => Some(Ok(())),
            rest => {
                let stream = &mut self.stream;
                with_timeout(self.inner.idle, async move {
                    stream.write_all(rest).await?;
                    stream.flush().await
                })
                .await
            }
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

/// A TLS handshake record (type 22, version 3.x): a TLS client on a plain listener.
fn looks_like_tls_hello(input: &[u8]) -> bool {
    matches!(input, [0x16, 0x03, ..])
}

/// In message framing a chunk may hold several lines; any of them looking like HTTP counts.
fn looks_like_http_request(req: &[u8], framing: Framing) -> bool {
    match framing {
        Framing::Line | Framing::Resp => looks_like_http(req),
        Framing::Message => req.split(|&b| b == b'\n').any(looks_like_http),
    }
}

async fn with_timeout<F: Future>(limit: Option<Duration>, f: F) -> Option<F::Output> {
    match limit {
        Some(d) => tokio::time::timeout(d, f).await.ok(),
        None => Some(f.await),
    }
}
