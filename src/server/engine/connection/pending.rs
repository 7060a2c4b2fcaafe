//! The requests a connection has cut but not answered yet: where each goes (`Route`), and
//! the pending batch of one lane with where its lines and arguments are.

use std::sync::Arc;

use crate::server::batch::Lane;
use crate::server::reply::Wire;
use crate::server::service::{Handler, Request, Transport};

/// Where a request goes, decided before anything of it is answered.
pub(super) enum Route {
    /// Answered already (the token line): whether the connection closes.
    Done(bool),
    /// An HTTP-looking line: close once the requests before it are answered.
    Close,
    /// A built-in command or service.
    Builtin,
    /// A user handler: joins the pending batch of its lane.
    User(Arc<dyn Handler>),
}

/// A request for a user handler, cut but not answered yet: where its line is and (RESP) which
/// of `Pending::args` are its arguments.
pub(super) struct Cut {
    pub(super) handler: Arc<dyn Handler>,
    pub(super) line: (usize, usize),
    pub(super) args: (usize, usize),
}

/// Requests of the current read for user handlers of one lane, not answered yet, with the
/// wire their replies go out in. Line and message framing: the lines are in the input. RESP:
/// each request's line and arguments are copied to `text` (the parser's view of a request
/// lasts until it cuts the next one).
pub(super) struct Pending {
    pub(super) lane: Option<Lane>,
    pub(super) requests: Vec<Cut>,
    pub(super) wire: Wire,
    pub(super) text: Vec<u8>,
    pub(super) args: Vec<(usize, usize)>,
}

thread_local! {
    /// The last batch's buffers, emptied, for the next read on this worker: a read's batch
    /// then grows no vector (callgrind: growing them was ~1 allocation per pipelined request).
    /// Kept per thread, not per connection, so idle clients still hold no buffer.
    static SPARE: std::cell::Cell<Option<Pending>> = const { std::cell::Cell::new(None) };
}

/// A batch bigger than this is not kept for the next read (its memory goes back).
const SPARE_MAX_BYTES: usize = 64 * 1024;

impl Pending {
    /// An empty batch, with the buffers of an earlier one of this thread if there is one.
    pub(super) fn new(wire: Wire) -> Self {
        match SPARE.take() {
            Some(mut spare) => {
                spare.wire = wire;
                spare
            }
            None => Pending { lane: None, requests: Vec::new(), wire, text: Vec::new(), args: Vec::new() },
        }
    }

    /// Hands the (answered) batch's buffers to the next `new` on this thread.
    pub(super) fn recycle(mut self) {
        let bytes = self.requests.capacity() * std::mem::size_of::<Cut>()
            + self.text.capacity()
            + self.args.capacity() * std::mem::size_of::<(usize, usize)>();
        if bytes > SPARE_MAX_BYTES {
            return;
        }
        self.lane = None;
        self.requests.clear();
        self.text.clear();
        self.args.clear();
        SPARE.set(Some(self));
    }

    /// Adds a request of the input (line framing).
    pub(super) fn push_line(&mut self, handler: Arc<dyn Handler>, from: usize, to: usize) {
        self.requests.push(Cut { handler, line: (from, to), args: (0, 0) });
    }

    /// Adds a RESP request: its line and its arguments are copied.
    pub(super) fn push_argv(&mut self, handler: Arc<dyn Handler>, line: &[u8], argv: &[&[u8]]) {
        let from = self.text.len();
        self.text.extend_from_slice(line);
        let line = (from, self.text.len());
        let first = self.args.len();
        for arg in argv {
            let from = self.text.len();
            self.text.extend_from_slice(arg);
            self.args.push((from, self.text.len()));
        }
        self.requests.push(Cut { handler, line, args: (first, self.args.len()) });
    }

    /// Whether a request for `handler` joins this batch; if not, the batch is answered first.
    pub(super) fn joins(&self, handler: &dyn Handler) -> (bool, Lane) {
        let lane = handler.lane();
        (self.lane.as_ref().is_some_and(|l| l.same(&lane)), lane)
    }
}

/// Where a pending batch's requests are: their lines (and RESP arguments) in `source`.
pub(super) struct Cuts<'a> {
    pub(super) source: &'a [u8],
    pub(super) args: &'a [(usize, usize)],
    pub(super) wire: Wire,
}

impl Cuts<'_> {
    pub(super) fn line(&self, cut: &Cut) -> &[u8] {
        &self.source[cut.line.0..cut.line.1]
    }

    pub(super) fn spans(&self, cut: &Cut) -> &[(usize, usize)] {
        &self.args[cut.args.0..cut.args.1]
    }
}

/// The request of `line` from a connection's client: its address, transport and, over
/// mutual TLS, its certificate's subject.
pub(super) fn client_request<'a>(
    line: &'a [u8],
    peer: &'a str,
    transport: Transport,
    peer_cert: &'a Option<String>,
) -> Request<'a> {
    Request { peer_cert: peer_cert.as_deref(), ..Request::from_line(line, peer, transport) }
}
