//! Requests, responses, user handlers and the dispatcher that routes a request to a user
//! command or a built-in one (`commands.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::batch::{call_caught, handler_failed, Batch, Lane};
use super::commands::{self, text_problem};
use super::config::Service;
use super::reply::{Outcome, Reply, ReplyOut, Wire};

/// The transport a request came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    /// TLS over TCP.
    Tls,
    Unix,
    Udp,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Unix => "unix",
            Transport::Udp => "udp",
        }
    }
}

/// One request, as bytes: never decoded, so invalid UTF-8, NUL bytes and binary reach handlers
/// unchanged.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The request as one line, without its line ending. RESP framing: an inline command as
    /// sent, an array's elements joined with single spaces.
    pub line: &'a [u8],
    /// The command name and its arguments. RESP framing: the array's elements, binary-safe
    /// (an argument may hold spaces, line breaks, NUL). Line and message framing: the words of
    /// `line` (split at ASCII whitespace) when a user handler is called; empty for the
    /// built-in services, which read `line`.
    pub argv: &'a [&'a [u8]],
    /// The client: `IP:PORT`, or `unix` for Unix-socket clients.
    pub peer: &'a str,
    pub transport: Transport,
    /// TLS with client certificates: the subject of the client's certificate
    /// (`CN=alice, O=Example`), so a command can decide who may run it.
    pub peer_cert: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// A request of one line (line and message framing, UDP), without `argv`.
    pub fn from_line(line: &'a [u8], peer: &'a str, transport: Transport) -> Self {
        Request { line, argv: &[], peer, transport, peer_cert: None }
    }

    /// The command name as sent (`argv[0]`, else the first word of `line`); matched against
    /// the commands without regard to ASCII case.
    pub fn command(&self) -> &'a [u8] {
        match self.argv.first() {
            Some(name) => name,
            None => split_command(self.line).0,
        }
    }

    /// Everything after the command name, without surrounding whitespace.
    pub fn args(&self) -> &'a [u8] {
        split_command(self.line).1
    }
}

/// What a handler answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// Send these bytes: a bulk string over RESP; line framing sends them as one line (an
    /// embedded newline goes as the two characters `\n`).
    Reply(Vec<u8>),
    /// Send the bytes, then close the connection.
    ReplyAndClose(Vec<u8>),
    /// Close the connection without a reply.
    Close,
    /// Send nothing (RESP, where every request gets a reply: a null).
    NoReply,
    /// An error reply: `error: <text>` in line framing, `-ERR <text>` over RESP (or the text's
    /// own code, see `Reply::Error`); counted as an error.
    Error(String),
    /// A typed value, rendered by the framing (`Reply`).
    Value(Reply),
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Self {
        Response::Value(reply)
    }
}

/// A user command. Called on an engine worker thread (`netcore-server`), possibly on several
/// threads at once for different clients.
///
/// By default it runs directly on the worker that read the request (`Lane::Inline`): while it
/// runs, that worker serves no other client (the other workers go on and may take over its
/// waiting clients), as an asyncio loop while a callback runs. A handler that blocks (file or
/// network I/O, sleeps, locks held by slow code) says so with `blocking() == true`, or is
/// wrapped in [`Blocking`]: it then runs inside `block_in_place`, which first hands the
/// worker's other clients to another thread. That hand-off costs ~3x a quick handler
/// (docs/benchmarks.md, "User commands in Rust and C"), which is why it is not the default.
pub trait Handler: Send + Sync {
    fn handle(&self, request: &Request<'_>) -> Response;

    /// Whether `handle` may block for long: false (the default) runs it on the worker
    /// directly; true runs it inside `block_in_place`, so it stalls no other client.
    fn blocking(&self) -> bool {
        false
    }

    /// Where `handle` runs: by default `Lane::Inline` or `Lane::Blocking`, from `blocking`.
    /// Requests of one read for handlers of the same lane are answered as one batch, in
    /// order (`batch.rs`).
    fn lane(&self) -> Lane {
        if self.blocking() {
            Lane::Blocking
        } else {
            Lane::Inline
        }
    }
}

/// A handler that may block: `ServerConfig::command("slow", Blocking(|r: &Request<'_>| ...))`
/// runs it on `Lane::Blocking` (see [`Handler`]).
pub struct Blocking<H>(pub H);

impl<H: Handler> Handler for Blocking<H> {
    fn handle(&self, request: &Request<'_>) -> Response {
        self.0.handle(request)
    }
    fn blocking(&self) -> bool {
        true
    }
}

impl<F> Handler for F
where
    F: Fn(&Request<'_>) -> Response + Send + Sync,
{
    fn handle(&self, request: &Request<'_>) -> Response {
        self(request)
    }
}

/// A line's command word and arguments: surrounding whitespace is ignored, the name ends at
/// the first ASCII whitespace, the arguments are the rest without surrounding whitespace.
pub fn split_command(line: &[u8]) -> (&[u8], &[u8]) {
    let line = line.trim_ascii_start();
    let end = line.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(line.len());
    (&line[..end], line[end..].trim_ascii())
}

/// Command names longer than this are looked up through an allocated lower-case copy.
const SHORT_NAME: usize = 32;

/// `name` in ASCII lower case, in `buf` when it fits.
pub(crate) fn lower_name<'b>(name: &'b [u8], buf: &'b mut [u8; SHORT_NAME]) -> std::borrow::Cow<'b, [u8]> {
    if !name.iter().any(u8::is_ascii_uppercase) {
        return std::borrow::Cow::Borrowed(name);
    }
    if name.len() <= SHORT_NAME {
        let dst = &mut buf[..name.len()];
        dst.copy_from_slice(name);
        dst.make_ascii_lowercase();
        return std::borrow::Cow::Borrowed(&buf[..name.len()]);
    }
    std::borrow::Cow::Owned(name.to_ascii_lowercase())
}

/// Built-in behaviour plus the user's commands; shared by every connection of a server.
pub(crate) struct Dispatcher {
    pub service: Service,
    pub(crate) root: Option<PathBuf>,
    /// Keyed by the lower-case name: `Hello` and `hello` are one command.
    /// foldhash, not SipHash: the keys are the registered names, so a client's name can only
    /// miss, never grow the map; SipHash was 40% of a user command's extra cost (callgrind).
    commands: RwLock<CommandMap>,
    /// Set once a command is added (they are never removed): without user commands a
    /// request skips the lock and the hash look-up.
    has_commands: AtomicBool,
    /// Bumped by every `add_command`: what a name means may change, so per-connection caches
    /// of "this name is that command" (the metrics tally) start over.
    generation: std::sync::atomic::AtomicU64,
    default_handler: RwLock<Option<Arc<dyn Handler>>>,
    /// The `stats` command's reply, from the engine's counters (set once the engine exists).
    stats_source: std::sync::OnceLock<StatsSource>,
}

type CommandMap = HashMap<Vec<u8>, Arc<dyn Handler>, foldhash::fast::RandomState>;

/// Makes the `stats` reply; `None` once the server is gone.
pub(crate) type StatsSource = Box<dyn Fn() -> Option<String> + Send + Sync>;

/// A dispatched request: answered already, or by a handler running on another thread.
pub(crate) enum Answer {
    /// Answered: the reply, if any, is in the output.
    Ready(Outcome),
    /// A handler on another thread answers: `Answer::outcome` waits and appends its reply.
    Pending(tokio::sync::oneshot::Receiver<Vec<Response>>),
}

impl Answer {
    /// The outcome; for a handler running elsewhere, waits for its answer and appends it to
    /// `out` (an error reply if the handler went away).
    pub async fn outcome(self, out: &mut ReplyOut<'_>) -> Outcome {
        match self {
            Answer::Ready(outcome) => outcome,
            Answer::Pending(rx) => {
                let answer = rx.await.ok().and_then(|mut all| all.pop());
                write_response(answer.unwrap_or_else(handler_failed), out)
            }
        }
    }
}

impl Dispatcher {
    pub fn new(
        service: Service,
        root: Option<PathBuf>,
        commands: HashMap<Vec<u8>, Arc<dyn Handler>>,
        default_handler: Option<Arc<dyn Handler>>,
    ) -> Self {
        let has_commands = AtomicBool::new(!commands.is_empty());
        let commands = commands.into_iter().map(|(name, h)| (name.to_ascii_lowercase(), h)).collect();
        Dispatcher {
            service,
            root,
            commands: RwLock::new(commands),
            has_commands,
            generation: std::sync::atomic::AtomicU64::new(0),
            default_handler: RwLock::new(default_handler),
            stats_source: std::sync::OnceLock::new(),
        }
    }

    pub fn set_stats_source(&self, source: StatsSource) {
        let _ = self.stats_source.set(source);
    }

    /// The `stats` command's reply, if the engine set its source and is still there.
    pub(crate) fn stats_line(&self) -> Option<String> {
        self.stats_source.get().and_then(|source| source())
    }

    /// Whether `name` (any case) is a command of this server (built-in or user's): the
    /// per-command counts name only those, so random words cannot grow them.
    pub fn is_command(&self, name: &[u8]) -> bool {
        let mut buf = [0u8; SHORT_NAME];
        let lower = lower_name(name, &mut buf);
        (self.service == Service::Command && commands::SEED_COMMANDS.contains(&&*lower)) || self.has_user_command(name)
    }

    pub fn add_command(&self, name: &[u8], handler: Arc<dyn Handler>) {
        self.commands.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_ascii_lowercase(), handler);
        self.has_commands.store(true, Ordering::Release);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Changes whenever a command is added (see the field).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn set_default(&self, handler: Option<Arc<dyn Handler>>) {
        *self.default_handler.write().unwrap_or_else(|e| e.into_inner()) = handler;
    }

    /// The user commands' names (lower case), sorted.
    pub fn user_command_names(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<Vec<u8>> = self.commands.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        names.sort();
        names
    }

    /// Sent when a stream client connects: (bytes, close afterwards).
    pub fn on_connect(&self) -> Option<(&[u8], bool)> {
        match &self.service {
            Service::Greet => Some((b"Hello, I am server", false)),
            Service::Banner(text) => Some((text, true)),
            _ => None,
        }
    }

    /// Answers one request, appending the reply to `out` (built-in replies go there directly,
    /// with no allocation of their own). Never panics: a panicking user handler becomes an
    /// error reply.
    pub fn dispatch(&self, request: &Request<'_>, out: &mut ReplyOut<'_>) -> Answer {
        match self.route(request, out.wire) {
            Some(handler) => call_user(handler, request, out),
            None => Answer::Ready(self.dispatch_builtin(request, out)),
        }
    }

    /// The user handler that answers `request`, if one does: the user command of its name,
    /// else the default handler when no built-in command has the name. Streams answer user
    /// handlers' requests in batches (`engine/connection.rs`).
    pub fn route(&self, request: &Request<'_>, wire: Wire) -> Option<Arc<dyn Handler>> {
        let seed = match &self.service {
            Service::Command => true,
            Service::Custom => false,
            Service::Echo | Service::Banner(_) | Service::Greet => return None,
        };
        if let Some(handler) = self.user_command(request.command()) {
            return Some(handler);
        }
        if commands::is_builtin(request.command(), seed, wire) {
            return None;
        }
        self.default_handler.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Answers a request that no user handler takes (`route` gave `None`).
    pub fn dispatch_builtin(&self, request: &Request<'_>, out: &mut ReplyOut<'_>) -> Outcome {
        match &self.service {
            Service::Echo => out.bulk(request.line),
            Service::Banner(text) => out.bulk(text).and_close(),
            Service::Greet => commands::greet(request, out),
            Service::Command => self.command(request, true, out),
            Service::Custom => self.command(request, false, out),
        }
    }

    fn has_user_command(&self, name: &[u8]) -> bool {
        if !self.has_commands.load(Ordering::Acquire) {
            return false;
        }
        let mut buf = [0u8; SHORT_NAME];
        let key = lower_name(name, &mut buf);
        self.commands.read().unwrap_or_else(|e| e.into_inner()).contains_key(&*key)
    }

    fn user_command(&self, name: &[u8]) -> Option<Arc<dyn Handler>> {
        if !self.has_commands.load(Ordering::Acquire) {
            return None;
        }
        let mut buf = [0u8; SHORT_NAME];
        let key = lower_name(name, &mut buf);
        self.commands.read().unwrap_or_else(|e| e.into_inner()).get(&*key).cloned()
    }

    fn command(&self, request: &Request<'_>, seed_builtins: bool, out: &mut ReplyOut<'_>) -> Outcome {
        let name = request.command();
        if let Some(outcome) = commands::builtin(self, request, seed_builtins, out) {
            return outcome;
        }
        if out.wire != Wire::Text {
            commands::unknown_command(request, out)
        } else if let Some(problem) = text_problem(request.line) {
            out.error(format_args!("{problem}"))
        } else if seed_builtins {
            out.bulk(b"welcome")
        } else {
            out.error(format_args!("unknown command: {}", String::from_utf8_lossy(name)))
        }
    }
}

/// Appends a handler's response to `out`.
pub(crate) fn write_response(response: Response, out: &mut ReplyOut<'_>) -> Outcome {
    match response {
        Response::Reply(b) => out.bulk(&b),
        Response::ReplyAndClose(b) => out.bulk(&b).and_close(),
        Response::Close => Outcome::CLOSE,
        Response::NoReply => out.null(),
        Response::Error(text) => out.error(format_args!("{text}")),
        Response::Value(value) => out.value(&value),
    }
}

/// Words of a line for a user handler's `argv`: kept on the stack up to this many.
const STACK_WORDS: usize = 16;

/// Calls `f` with `request`, its words as `argv` when it is one line (line and message
/// framing, UDP) and has none yet.
pub(crate) fn with_argv<R>(request: &Request<'_>, f: impl FnOnce(&Request<'_>) -> R) -> R {
    if !request.argv.is_empty() || request.line.is_empty() {
        return f(request);
    }
    let mut stack: [&[u8]; STACK_WORDS] = [&[]; STACK_WORDS];
    let mut n = 0;
    let mut words = request.line.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty());
    for word in words.by_ref().take(STACK_WORDS) {
        stack[n] = word;
        n += 1;
    }
    let rest: Vec<&[u8]> = words.collect();
    if rest.is_empty() {
        return f(&Request { argv: &stack[..n], ..*request });
    }
    let all: Vec<&[u8]> = stack.iter().copied().chain(rest).collect();
    f(&Request { argv: &all, ..*request })
}

/// Runs one request's user handler in its lane, as a batch of one (UDP, message framing).
fn call_user(handler: Arc<dyn Handler>, request: &Request<'_>, out: &mut ReplyOut<'_>) -> Answer {
    let response = match handler.lane() {
        Lane::Inline => call_caught(&*handler, request),
        Lane::Blocking => tokio::task::block_in_place(|| call_caught(&*handler, request)),
        Lane::Entered(context) => {
            let mut response = None;
            context.enter(&mut || response = Some(call_caught(&*handler, request)));
            response.unwrap_or_else(|| call_caught(&*handler, request))
        }
        Lane::Offloaded(threads) => {
            let mut batch = Batch::new(request, usize::MAX);
            batch.push(handler.clone(), request.line, request.argv);
            match threads.submit(batch) {
                Ok(rx) => return Answer::Pending(rx),
                Err(batch) => tokio::task::block_in_place(|| batch.answer()).remove(0),
            }
        }
    };
    Answer::Ready(write_response(response, out))
}

/// Lines a web browser would send: closing on them stops cross-protocol attacks.
pub(crate) fn looks_like_http(line: &[u8]) -> bool {
    // Checked for every request: most start with none of the letters that begin a method or
    // `Host:`, and one comparison rules them out.
    if !matches!(line.first(), Some(b'C' | b'D' | b'G' | b'H' | b'O' | b'P' | b'T' | b'h')) {
        return false;
    }
    const METHODS: &[&[u8]] =
        &[b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"CONNECT ", b"PATCH ", b"TRACE "];
    METHODS.iter().any(|m| line.starts_with(m)) || (line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"host:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_lines_are_spotted() {
        assert!(looks_like_http(b"GET / HTTP/1.1"));
        assert!(looks_like_http(b"POST /x HTTP/1.1"));
        assert!(looks_like_http(b"host: example"));
        assert!(!looks_like_http(b"GETTER"));
        assert!(!looks_like_http(b"date"));
    }

    #[test]
    fn commands_split_around_whitespace() {
        assert_eq!(split_command(b"  ls  a b \t"), (&b"ls"[..], &b"a b"[..]));
        assert_eq!(split_command(b"date\t"), (&b"date"[..], &b""[..]));
        let argv: [&[u8]; 2] = [b"a b", b"c"];
        let r = Request { line: b"a b c", argv: &argv, peer: "", transport: Transport::Tcp, peer_cert: None };
        assert_eq!(r.command(), b"a b");
    }
}
