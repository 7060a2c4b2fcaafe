//! Batches: the requests of one read that go to user handlers of the same `Lane`, answered
//! together and in order. A connection cuts every complete request out of what it read, then
//! answers them in order; consecutive requests whose handlers share a lane are one batch, so
//! whatever a lane costs (taking the GIL, `block_in_place`, a hop to another thread) is paid
//! once per batch instead of once per request. Replies go out with one write per read, as
//! every reply does (`engine/connection.rs`).

use std::sync::Arc;

use super::service::{with_argv, Handler, Request, Response, Transport};

/// Where and how a user handler runs (`Handler::lane`).
#[derive(Clone)]
pub enum Lane {
    /// On the engine worker that read the requests, called directly: for handlers that never
    /// block. While one runs, that worker serves no other client (the other workers go on,
    /// and may take over its waiting clients).
    Inline,
    /// On the engine worker inside `tokio::task::block_in_place`, entered once per batch: the
    /// worker's other clients are handed to another thread first, so the handler may block.
    /// What `Handler::blocking` (true by default) asks for.
    Blocking,
    /// On the engine worker, inside `Enter::enter` once per batch (the Python face takes the
    /// GIL there), then called directly as `Inline`.
    Entered(Arc<dyn Enter>),
    /// On threads of the handler's own: the batch goes to `Offload::submit` as one job, and
    /// the connection waits for the answers without holding a worker (Python handlers marked
    /// blocking).
    Offloaded(Arc<dyn Offload>),
}

impl Lane {
    /// Whether requests for handlers of these two lanes can be one batch.
    pub(crate) fn same(&self, other: &Lane) -> bool {
        match (self, other) {
            (Lane::Inline, Lane::Inline) | (Lane::Blocking, Lane::Blocking) => true,
            (Lane::Entered(a), Lane::Entered(b)) => Arc::ptr_eq(a, b),
            (Lane::Offloaded(a), Lane::Offloaded(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Lane::Inline => "Inline",
            Lane::Blocking => "Blocking",
            Lane::Entered(_) => "Entered",
            Lane::Offloaded(_) => "Offloaded",
        })
    }
}

/// The context a batch of `Lane::Entered` handlers runs in.
pub trait Enter: Send + Sync {
    /// Runs `batch` (which calls the handlers in order) on the calling thread, inside the
    /// context they need. It must call `batch` exactly once, unless it cannot run it at all
    /// (then the handlers' `handle` is called one by one, outside it).
    fn enter(&self, batch: &mut dyn FnMut());
}

/// Threads that answer `Lane::Offloaded` batches.
pub trait Offload: Send + Sync {
    /// Takes a batch; its answers (`Batch::answer`: in order, at least one) arrive on the
    /// receiver. `Err(batch)`: the threads are gone, and the engine answers the batch on its
    /// worker (`Batch::answer` inside `block_in_place`).
    fn submit(&self, batch: Batch) -> Result<tokio::sync::oneshot::Receiver<Vec<Response>>, Batch>;
}

/// Where byte strings are in a buffer: (start, end) each.
type Spans = Vec<(usize, usize)>;

/// Requests of one connection copied out of its input, with their handlers, for another
/// thread: one copy of the peer for all of them, the lines (and RESP's arguments) in one buffer.
pub struct Batch {
    peer: String,
    transport: Transport,
    peer_cert: Option<String>,
    text: Vec<u8>,
    /// (handler, end of the request's line in `text`, where its RESP arguments are in `text`:
    /// after its line, none for a line)
    requests: Vec<(Arc<dyn Handler>, usize, Spans)>,
    /// Answering stops once the replies hold this many bytes (`Limits::max_output`).
    max_bytes: usize,
}

impl Batch {
    /// A batch of requests from the same client as `like` (its peer, transport and
    /// certificate subject).
    pub(crate) fn new(like: &Request, max_bytes: usize) -> Batch {
        Batch {
            peer: like.peer.to_string(),
            transport: like.transport,
            peer_cert: like.peer_cert.map(str::to_string),
            text: Vec::new(),
            requests: Vec::new(),
            max_bytes,
        }
    }

    /// Adds a request: its line and its `argv` (RESP's arguments; empty for a line, whose
    /// words the handler gets as `argv`).
    pub(crate) fn push(&mut self, handler: Arc<dyn Handler>, line: &[u8], argv: &[&[u8]]) {
        self.text.extend_from_slice(line);
        let line_end = self.text.len();
        let mut spans = Vec::with_capacity(argv.len());
        for arg in argv {
            let from = self.text.len();
            self.text.extend_from_slice(arg);
            spans.push((from, self.text.len()));
        }
        self.requests.push((handler, line_end, spans));
    }

    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Calls each request's handler in order, on this thread. Stops after a response that
    /// closes the connection (the requests after it are never answered, as without batches)
    /// and once the replies hold `max_bytes` (the connection sends them, then the rest again).
    pub fn answer(&self) -> Vec<Response> {
        let mut responses = Vec::with_capacity(self.requests.len());
        let mut bytes = 0;
        let mut start = 0;
        for (handler, line_end, spans) in &self.requests {
            let line = &self.text[start..*line_end];
            start = spans.last().map_or(*line_end, |&(_, end)| end);
            let response = with_spans(&self.text, spans, |argv| {
                let request = Request {
                    line,
                    argv,
                    peer: &self.peer,
                    transport: self.transport,
                    peer_cert: self.peer_cert.as_deref(),
                };
                call_caught(&**handler, &request)
            });
            bytes += response_len(&response);
            let closes = closes(&response);
            responses.push(response);
            if closes || bytes >= self.max_bytes {
                break;
            }
        }
        responses
    }

    /// Answers every request with `response` without calling a handler (the threads cannot
    /// call them any more, such as while the Python interpreter ends).
    pub fn refuse(&self, response: Response) -> Vec<Response> {
        vec![response; self.requests.len()]
    }
}

/// Arguments kept on the stack up to this many (`with_spans`).
const STACK_ARGS: usize = 16;

/// Calls `f` with the byte strings of `source` that `spans` name, as an `argv`.
pub(crate) fn with_spans<R>(source: &[u8], spans: &[(usize, usize)], f: impl FnOnce(&[&[u8]]) -> R) -> R {
    if spans.len() > STACK_ARGS {
        let argv: Vec<&[u8]> = spans.iter().map(|&(from, to)| &source[from..to]).collect();
        return f(&argv);
    }
    let mut stack: [&[u8]; STACK_ARGS] = [&[]; STACK_ARGS];
    for (slot, &(from, to)) in stack.iter_mut().zip(spans) {
        *slot = &source[from..to];
    }
    f(&stack[..spans.len()])
}

/// Calls a handler; a panic becomes the `internal error in handler` reply.
/// The request gets its words as `argv` first (`service::with_argv`).
pub(crate) fn call_caught(handler: &dyn Handler, request: &Request<'_>) -> Response {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| with_argv(request, |r| handler.handle(r))))
        .unwrap_or_else(|_| handler_failed())
}

/// What a client gets when a handler panicked or went away.
pub(crate) fn handler_failed() -> Response {
    Response::Error("internal error in handler".into())
}

/// Whether the connection closes after this response.
pub(crate) fn closes(response: &Response) -> bool {
    matches!(response, Response::Close | Response::ReplyAndClose(_))
}

fn response_len(response: &Response) -> usize {
    match response {
        Response::Reply(b) | Response::ReplyAndClose(b) => b.len() + 1,
        Response::Error(t) => t.len() + 8,
        Response::Close | Response::NoReply => 0,
        Response::Value(_) => 16,
    }
}
