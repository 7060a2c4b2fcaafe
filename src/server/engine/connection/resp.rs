//! RESP framing on a connection: cutting requests with the RESP parser, answering session
//! commands and built-ins at once and user handlers' requests in batches of one lane (as
//! line framing does), rendering replies in the session's RESP version.

use std::io;

use super::{Connection, Pending, Stream};
use crate::server::engine::stats::add;
use crate::server::reply::{Outcome, ReplyOut};
use crate::server::resp::session::{ServerView, Session};
use crate::server::resp::{RequestLimits, RequestParser};
use crate::server::service::{looks_like_http, Request};

/// Arguments of one request are kept on the stack up to this many.
const STACK_ARGS: usize = 16;

/// A RESP connection's state beside the engine's.
pub(in crate::server::engine) struct RespState {
    parser: RequestParser,
    session: Session,
    /// An array request's elements joined with spaces: the request's `line`.
    line: Vec<u8>,
}

impl RespState {
    pub(in crate::server::engine) fn new(max_request: usize, authed: bool) -> Box<Self> {
        Box::new(RespState {
            parser: RequestParser::new(RequestLimits::new(max_request)),
            session: Session::new(authed),
            line: Vec::new(),
        })
    }
}

impl<S: Stream> Connection<S> {
    /// Answers every complete request in the input, keeping an unfinished one; true if the
    /// connection closes now (QUIT, a protocol error, an HTTP request, a wrong token).
    pub(super) async fn answer_resp_input(&mut self) -> io::Result<bool> {
        let Some(mut state) = self.resp.take() else { return Ok(true) };
        let input = std::mem::take(&mut self.input);
        let answered = self.answer_resp_requests(&mut state, &input).await;
        self.input = input;
        self.resp = Some(state);
        let (start, close) = answered?;
        self.input.drain(..start);
        if self.input.is_empty() && self.input.capacity() > 1024 {
            self.input = Vec::new();
        }
        Ok(close)
    }

    /// Answers the complete requests of `input` in order: session commands and built-ins at
    /// once, consecutive requests for user handlers of one lane as one batch. Returns where
    /// the unfinished rest starts and whether the connection closes.
    async fn answer_resp_requests(&mut self, state: &mut RespState, input: &[u8]) -> io::Result<(usize, bool)> {
        let mut start = 0;
        let mut pending = Pending::new(state.session.wire);
        loop {
            let consumed = match state.parser.parse(&input[start..]) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    if !self.answer_pending(&[], &mut pending).await? {
                        add(&self.inner.counters.errors, 1);
                        ReplyOut::new(&mut self.output, state.session.wire).error(format_args!("ERR {e}"));
                    }
                    return Ok((start, true));
                }
            };
            let request_bytes = &input[start..start + consumed];
            start += consumed;
            let RespState { parser, session, line } = &mut *state;
            let argc = parser.argc();
            if argc == 0 {
                continue; // an empty line or `*0`: redis answers nothing
            }
            let mut stack: [&[u8]; STACK_ARGS] = [&[]; STACK_ARGS];
            let heap: Vec<&[u8]>;
            let argv: &[&[u8]] = if argc <= STACK_ARGS {
                for (i, slot) in stack.iter_mut().enumerate().take(argc) {
                    *slot = parser.arg(request_bytes, i);
                }
                &stack[..argc]
            } else {
                heap = (0..argc).map(|i| parser.arg(request_bytes, i)).collect();
                &heap
            };
            let request_line: &[u8] = match parser.inline_line(request_bytes) {
                Some(inline) => inline,
                None => {
                    line.clear();
                    for (i, arg) in argv.iter().enumerate() {
                        if i > 0 {
                            line.push(b' ');
                        }
                        line.extend_from_slice(arg);
                    }
                    line
                }
            };
            // The HTTP guard: a browser's request line arrives as an inline command.
            if looks_like_http(request_line)
                || argv[0].eq_ignore_ascii_case(b"post")
                || argv[0].eq_ignore_ascii_case(b"host:")
            {
                if !self.answer_pending(&[], &mut pending).await? {
                    self.uncounted += 1;
                    add(&self.inner.counters.rejected, 1);
                }
                return Ok((start, true));
            }
            let close = if session.takes(argv) {
                if self.answer_pending(&[], &mut pending).await? {
                    return Ok((start, true));
                }
                let close = self.answer_session(session, argv);
                pending.wire = session.wire; // HELLO may have changed it
                close
            } else {
                self.count_command(argv[0]);
                let request = Request {
                    line: request_line,
                    argv,
                    peer: &self.peer,
                    transport: self.transport,
                    peer_cert: self.peer_cert.as_deref(),
                };
                let route = self.inner.dispatcher.route(&request, session.wire);
                match route {
                    Some(handler) => {
                        let (joins, lane) = pending.joins(&*handler);
                        if !joins {
                            if self.answer_pending(&[], &mut pending).await? {
                                return Ok((start, true));
                            }
                            pending.lane = Some(lane);
                        }
                        pending.push_argv(handler, request_line, argv);
                        continue;
                    }
                    None => {
                        if self.answer_pending(&[], &mut pending).await? {
                            return Ok((start, true));
                        }
                        self.uncounted += 1;
                        let request = Request {
                            line: request_line,
                            argv,
                            peer: &self.peer,
                            transport: self.transport,
                            peer_cert: self.peer_cert.as_deref(),
                        };
                        let out = &mut ReplyOut::new(&mut self.output, session.wire);
                        let outcome = self.inner.dispatcher.dispatch_builtin(&request, out);
                        self.finish_reply(0, outcome)
                    }
                }
            };
            if close {
                return Ok((start, true));
            }
            if self.output.len() >= self.inner.max_output {
                // Bounded output: wait for the client to read before going on.
                self.flush().await?;
            }
        }
        if self.answer_pending(&[], &mut pending).await? {
            return Ok((start, true));
        }
        pending.recycle();
        Ok((start, false))
    }

    /// Answers a session command (or refuses a command before the token); true if the
    /// connection closes now.
    fn answer_session(&mut self, session: &mut Session, argv: &[&[u8]]) -> bool {
        self.uncounted += 1;
        let inner = &*self.inner;
        let stats = || inner.counters.snapshot();
        let view = ServerView {
            token: inner.token.as_deref(),
            dispatcher: &inner.dispatcher,
            stats: &stats,
            peer: &self.peer,
            uptime_s: inner.started.elapsed().as_secs(),
        };
        let was_authed = session.authed;
        let outcome = session.answer(argv, &view, &mut self.output).unwrap_or(Outcome::REPLY);
        if was_authed == session.authed && outcome.close && outcome.error {
            add(&inner.counters.rejected, 1);
        }
        self.finish_reply(0, outcome)
    }
}
