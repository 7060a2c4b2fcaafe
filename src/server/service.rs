//! Requests, replies, user handlers and the built-in services.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::config::Service;

/// The transport a request came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Unix,
    Udp,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
            Transport::Udp => "udp",
        }
    }
}

/// One request, as bytes: never decoded, so invalid UTF-8, NUL bytes and binary reach handlers
/// unchanged. The line ending (line framing, and a trailing one in message framing and UDP) is
/// removed.
#[derive(Debug)]
pub struct Request<'a> {
    pub line: &'a [u8],
    /// The client: `IP:PORT`, or `unix` for Unix-socket clients.
    pub peer: &'a str,
    pub transport: Transport,
}

impl<'a> Request<'a> {
    /// The first word (up to the first ASCII whitespace).
    pub fn command(&self) -> &'a [u8] {
        split_command(self.line).0
    }
    /// Everything after the first word, without surrounding whitespace.
    pub fn args(&self) -> &'a [u8] {
        split_command(self.line).1
    }
}

/// What a handler answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Send these bytes (line framing: as one line; an embedded newline is sent as `\n`).
    Reply(Vec<u8>),
    /// Send the bytes, then close the connection.
    ReplyAndClose(Vec<u8>),
    /// Close the connection without a reply.
    Close,
    /// Send nothing.
    NoReply,
    /// Send `error: <text>` and count an error.
    Error(String),
}

/// A user command. Called on an engine worker thread (`netcore-server`), possibly on several
/// threads at once for different clients; it may block (the engine moves other work away).
pub trait Handler: Send + Sync {
    fn handle(&self, request: &Request<'_>) -> Response;

    /// Whether `handle` may block for long. True (the default): it runs inside
    /// `block_in_place`, which hands the worker's other clients to another thread first — safe
    /// for any code, but that hand-off costs more than a quick handler itself. False: it runs
    /// directly on the worker (other workers keep serving and can steal its queued clients).
    fn blocking(&self) -> bool {
        true
    }

    /// For handlers that run on threads of their own (the Python face): take the request and
    /// return where the response will arrive; the client's task waits for it without holding
    /// a worker thread. `None` (the default): `handle` is called on the worker.
    fn submit(&self, _request: &Request<'_>) -> Option<tokio::sync::oneshot::Receiver<Response>> {
        None
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

/// A request line's first word (up to the first ASCII whitespace) and the rest without
/// surrounding whitespace: what `Request::command` and `Request::args` return.
pub fn split_command(line: &[u8]) -> (&[u8], &[u8]) {
    let end = line.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(line.len());
    (&line[..end], line[end..].trim_ascii())
}

/// Built-in behaviour plus the user's commands; shared by every connection of a server.
pub(crate) struct Dispatcher {
    pub service: Service,
    root: Option<PathBuf>,
    commands: RwLock<HashMap<Vec<u8>, Arc<dyn Handler>>>,
    /// Set once a command is added (they are never removed): without user commands a
    /// request skips the lock and the hash look-up.
    has_commands: AtomicBool,
    default_handler: RwLock<Option<Arc<dyn Handler>>>,
    /// The `stats` command's reply, from the engine's counters (set once the engine exists).
    stats_source: std::sync::OnceLock<StatsSource>,
}

/// Makes the `stats` reply; `None` once the server is gone.
pub(crate) type StatsSource = Box<dyn Fn() -> Option<String> + Send + Sync>;

/// The command service's built-in commands.
const BUILTINS: &[&[u8]] = &[b"date", b"os", b"ls", b"help", b"quit", b"exit", b"ping", b"stats"];

/// What the engine does after a request whose reply, if any, the dispatcher has appended to
/// the connection's output as raw bytes (the engine then frames it: `Connection::seal_reply`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// A reply was appended (possibly empty: in line framing that is an empty line).
    pub replied: bool,
    /// The reply is an error line; counted in the stats.
    pub error: bool,
    pub close: bool,
}

impl Outcome {
    const REPLY: Outcome = Outcome { replied: true, error: false, close: false };
    const CLOSE: Outcome = Outcome { replied: false, error: false, close: true };
}

impl Dispatcher {
    pub fn new(
        service: Service,
        root: Option<PathBuf>,
        commands: HashMap<Vec<u8>, Arc<dyn Handler>>,
        default_handler: Option<Arc<dyn Handler>>,
    ) -> Self {
        let has_commands = AtomicBool::new(!commands.is_empty());
        Dispatcher {
            service,
            root,
            commands: RwLock::new(commands),
            has_commands,
            default_handler: RwLock::new(default_handler),
            stats_source: std::sync::OnceLock::new(),
        }
    }

    pub fn set_stats_source(&self, source: StatsSource) {
        let _ = self.stats_source.set(source);
    }

    /// Whether `name` is a command of this server (built-in or user's): the per-command
    /// counts name only those, so random words cannot grow them.
    pub fn is_command(&self, name: &[u8]) -> bool {
        (self.service == Service::Command && BUILTINS.contains(&name)) || self.user_command(name).is_some()
    }

    pub fn add_command(&self, name: &[u8], handler: Arc<dyn Handler>) {
        self.commands.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_vec(), handler);
        self.has_commands.store(true, Ordering::Release);
    }

    pub fn set_default(&self, handler: Option<Arc<dyn Handler>>) {
        *self.default_handler.write().unwrap_or_else(|e| e.into_inner()) = handler;
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
    pub fn dispatch(&self, request: &Request<'_>, out: &mut Vec<u8>) -> Dispatched {
        Dispatched::Done(match &self.service {
            Service::Echo => reply(out, &[request.line]),
            Service::Banner(text) => reply_and_close(out, text),
            Service::Greet => greet(request, out),
            Service::Command => return self.command(request, true, out),
            Service::Custom => return self.command(request, false, out),
        })
    }

    fn user_command(&self, name: &[u8]) -> Option<Arc<dyn Handler>> {
        if !self.has_commands.load(Ordering::Acquire) {
            return None;
        }
        self.commands.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    fn command(&self, request: &Request<'_>, builtins: bool, out: &mut Vec<u8>) -> Dispatched {
        let (name, args) = split_command(request.line);
        if let Some(handler) = self.user_command(name) {
            return call_user(&*handler, request, out);
        }
        if builtins {
            if let Some(outcome) = self.builtin(name, args, out) {
                return Dispatched::Done(outcome);
            }
        }
        let default = self.default_handler.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(handler) = default {
            return call_user(&*handler, request, out);
        }
        Dispatched::Done(if let Some(problem) = text_problem(request.line) {
            error_reply(out, format_args!("{problem}"))
        } else if builtins {
            reply(out, &[b"welcome"])
        } else {
            error_reply(out, format_args!("unknown command: {}", String::from_utf8_lossy(name)))
        })
    }

    /// Answers the built-in command `name`; `None` if there is none of that name.
    fn builtin(&self, name: &[u8], args: &[u8], out: &mut Vec<u8>) -> Option<Outcome> {
        if !BUILTINS.contains(&name) {
            return None;
        }
        if let Some(problem) = text_problem(args) {
            return Some(error_reply(out, format_args!("{problem}")));
        }
        Some(match name {
            b"date" => {
                let _ = write!(out, "[{}] date", ctime_now());
                Outcome::REPLY
            }
            b"os" => reply(out, &[b"[posix]"]),
            // The health check of load balancers (HAProxy's `tcp-check send ping`).
            b"ping" => reply(out, &[b"pong"]),
            b"stats" => match self.stats_source.get().and_then(|source| source()) {
                Some(line) => reply(out, &[line.as_bytes()]),
                None => error_reply(out, format_args!("stats are not available")),
            },
            b"ls" => {
                // Checked above: the arguments are UTF-8 without NUL.
                let arg = std::str::from_utf8(args).unwrap_or_default();
                match self.list(arg) {
                    Ok(names) => reply(out, &[json_array(&names).as_bytes()]),
                    Err(e) => error_reply(out, format_args!("{e}")),
                }
            }
            b"help" => {
                let mut user: Vec<String> = self
                    .commands
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .keys()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .collect();
                user.sort();
                out.extend_from_slice(b"commands: date, os, ls [PATH], help, quit, exit, ping, stats");
                for u in user {
                    out.extend_from_slice(b", ");
                    out.extend_from_slice(u.as_bytes());
                }
                Outcome::REPLY
            }
            _ => reply_and_close(out, b"bye"), // quit, exit
        })
    }

    fn list(&self, arg: &str) -> Result<Vec<String>, String> {
        let root = match &self.root {
            Some(r) => r.clone(),
            None => {
                std::env::current_dir().and_then(|d| d.canonicalize()).map_err(|e| format!("no root directory: {e}"))?
            }
        };
        list_confined(&root, arg)
    }
}

/// Appends a reply made of `parts`.
fn reply(out: &mut Vec<u8>, parts: &[&[u8]]) -> Outcome {
    for part in parts {
        out.extend_from_slice(part);
    }
    Outcome::REPLY
}

/// Appends a reply, after which the connection closes.
fn reply_and_close(out: &mut Vec<u8>, bytes: &[u8]) -> Outcome {
    out.extend_from_slice(bytes);
    Outcome { close: true, ..Outcome::REPLY }
}

/// Appends `error: <text>`.
fn error_reply(out: &mut Vec<u8>, text: std::fmt::Arguments<'_>) -> Outcome {
    out.extend_from_slice(b"error: ");
    let _ = out.write_fmt(text);
    Outcome { error: true, ..Outcome::REPLY }
}

/// A dispatched request: answered already, or by a handler running elsewhere.
pub(crate) enum Dispatched {
    /// Answered: the reply, if any, is in the output.
    Done(Outcome),
    /// A handler on another thread answers (see `outcome`).
    Pending(tokio::sync::oneshot::Receiver<Response>),
}

impl Dispatched {
    /// The outcome; for a handler running elsewhere, waits for its answer and appends it to
    /// `out` (an error reply if the handler went away).
    pub async fn outcome(self, out: &mut Vec<u8>) -> Outcome {
        match self {
            Dispatched::Done(outcome) => outcome,
            Dispatched::Pending(rx) => write_response(rx.await.unwrap_or_else(|_| handler_failed()), out),
        }
    }
}

/// What a client gets when a handler panicked or went away.
fn handler_failed() -> Response {
    Response::Error("internal error in handler".into())
}

/// Appends a handler's response to `out`.
fn write_response(response: Response, out: &mut Vec<u8>) -> Outcome {
    match response {
        Response::Reply(b) => reply(out, &[&b]),
        Response::ReplyAndClose(b) => reply_and_close(out, &b),
        Response::Close => Outcome::CLOSE,
        Response::NoReply => Outcome::default(),
        Response::Error(text) => error_reply(out, format_args!("{text}")),
    }
}

/// Runs a user handler, inside `block_in_place` when it says it may block (see
/// `Handler::blocking`). Built-in services never block and never get here.
fn call_user(handler: &dyn Handler, request: &Request<'_>, out: &mut Vec<u8>) -> Dispatched {
    if let Ok(Some(rx)) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.submit(request))) {
        return Dispatched::Pending(rx);
    }
    let run = || std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.handle(request)));
    let result = if handler.blocking() { tokio::task::block_in_place(run) } else { run() };
    Dispatched::Done(write_response(result.unwrap_or_else(|_| handler_failed()), out))
}

/// Why bytes cannot be a built-in command's text, if they cannot.
fn text_problem(bytes: &[u8]) -> Option<&'static str> {
    // Checked for every built-in request, which is mostly a few ASCII bytes: one inlined
    // pass settles those without calling from_utf8 and memchr.
    if bytes.iter().all(|&b| b != 0 && b.is_ascii()) {
        return None;
    }
    if std::str::from_utf8(bytes).is_err() {
        Some("request is not valid UTF-8")
    } else if bytes.contains(&0) {
        Some("request contains a NUL byte")
    } else {
        None
    }
}

fn greet(request: &Request<'_>, out: &mut Vec<u8>) -> Outcome {
    if request.line == b"exit" {
        return Outcome::CLOSE;
    }
    if let Some(problem) = text_problem(request.line) {
        return error_reply(out, format_args!("{problem}"));
    }
    let exclamation: &[u8] = if request.transport == Transport::Udp { b"" } else { b"!" };
    reply(out, &[b"Hello, ", request.line, exclamation])
}

/// The names in `root/arg`, sorted. `arg` must be relative, without `..`, and must not lead
/// out of `root` through a symlink; `root` must be canonical.
pub(crate) fn list_confined(root: &Path, arg: &str) -> Result<Vec<String>, String> {
    let rel = Path::new(arg);
    if rel.is_absolute() {
        return Err(format!("absolute paths are not allowed: {arg}"));
    }
    if rel.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("'..' is not allowed: {arg}"));
    }
    let full = root.join(rel);
    let real = full.canonicalize().map_err(|e| format!("cannot list {arg}: {}", io_text(&e)))?;
    if !real.starts_with(root) {
        return Err(format!("path leads out of the served root: {arg}"));
    }
    let entries = std::fs::read_dir(&real).map_err(|e| format!("cannot list {arg}: {}", io_text(&e)))?;
    let mut names: Vec<String> =
        entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    Ok(names)
}

fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => crate::error::strerror(n),
        None => e.to_string(),
    }
}

/// A JSON array of strings on one line.
pub(crate) fn json_array(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

/// The local time as Python's `time.ctime()` shows it: `Mon Nov 23 13:02:29 2026`.
pub(crate) fn ctime_now() -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    // SAFETY: time and localtime_r write only into the locals given.
    let tm = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            libc::gmtime_r(&now, &mut tm);
        }
        tm
    };
    format!(
        "{} {}{:3} {:02}:{:02}:{:02} {}",
        DAYS[tm.tm_wday.rem_euclid(7) as usize],
        MONTHS[tm.tm_mon.rem_euclid(12) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tm.tm_year + 1900
    )
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

    fn req(line: &[u8]) -> Request<'_> {
        Request { line, peer: "test", transport: Transport::Tcp }
    }

    /// The outcome and the reply bytes, waiting for a handler that runs elsewhere.
    fn answer(d: &Dispatcher, request: &Request<'_>) -> (Outcome, Vec<u8>) {
        let mut out = Vec::new();
        let outcome = match d.dispatch(request, &mut out) {
            Dispatched::Done(o) => o,
            Dispatched::Pending(rx) => write_response(rx.blocking_recv().unwrap(), &mut out),
        };
        (outcome, out)
    }

    fn reply(d: &Dispatcher, line: &[u8]) -> Vec<u8> {
        answer(d, &req(line)).1
    }

    #[test]
    fn ctime_looks_like_pythons() {
        let t = ctime_now();
        assert_eq!(t.len(), 24, "{t}");
        assert_eq!(&t[3..4], " ");
        assert_eq!(&t[13..14], ":");
    }

    #[test]
    fn command_builtins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "").unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/x\"y"), "").unwrap();
        let d = Dispatcher::new(Service::Command, Some(dir.path().canonicalize().unwrap()), HashMap::new(), None);
        assert_eq!(reply(&d, b"os"), b"[posix]");
        assert_eq!(reply(&d, b"ping"), b"pong");
        assert_eq!(reply(&d, b"stats"), b"error: stats are not available");
        d.set_stats_source(Box::new(|| Some("requests=1".into())));
        assert_eq!(reply(&d, b"stats"), b"requests=1");
        assert!(d.is_command(b"ping") && !d.is_command(b"hello"));
        assert_eq!(reply(&d, b"ls"), br#"["a", "b.txt"]"#);
        assert_eq!(reply(&d, b"ls a"), br#"["x\"y"]"#);
        assert_eq!(reply(&d, b"hello"), b"welcome");
        assert!(reply(&d, b"date").ends_with(b"] date"));
        assert_eq!(reply(&d, b"ls ../"), b"error: '..' is not allowed: ../");
        assert_eq!(reply(&d, b"ls /etc"), b"error: absolute paths are not allowed: /etc");
        assert!(reply(&d, b"ls nope").starts_with(b"error: cannot list nope: No such file"));
        assert_eq!(reply(&d, b"\xff\xfe"), b"error: request is not valid UTF-8");
        assert_eq!(reply(&d, b"ls a\0b"), b"error: request contains a NUL byte");
        assert_eq!(answer(&d, &req(b"quit")), (Outcome { replied: true, error: false, close: true }, b"bye".to_vec()));
    }

    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("in"), dir.path().join("inside")).unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert!(list_confined(&root, "out").unwrap_err().starts_with("path leads out of the served root"));
        assert_eq!(list_confined(&root, "inside").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn greet_and_user_commands() {
        let d = Dispatcher::new(Service::Greet, None, HashMap::new(), None);
        assert_eq!(reply(&d, b"client1"), b"Hello, client1!");
        assert_eq!(answer(&d, &req(b"exit")), (Outcome::CLOSE, Vec::new()));
        let udp = Request { line: b"client1", peer: "p", transport: Transport::Udp };
        assert_eq!(answer(&d, &udp).1, b"Hello, client1");

        let mut cmds: HashMap<Vec<u8>, Arc<dyn Handler>> = HashMap::new();
        cmds.insert(
            b"len".to_vec(),
            Arc::new(|r: &Request<'_>| Response::Reply(r.args().len().to_string().into_bytes())),
        );
        cmds.insert(b"boom".to_vec(), Arc::new(|_: &Request<'_>| -> Response { panic!("handler bug") }));
        let d = Dispatcher::new(Service::Custom, None, cmds, None);
        assert_eq!(reply(&d, b"len \xff\x00\x01"), b"3");
        assert_eq!(reply(&d, b"boom"), b"error: internal error in handler");
        assert_eq!(reply(&d, b"nope x"), b"error: unknown command: nope");
    }

    #[test]
    fn http_lines_are_spotted() {
        assert!(looks_like_http(b"GET / HTTP/1.1"));
        assert!(looks_like_http(b"POST /x HTTP/1.1"));
        assert!(looks_like_http(b"host: example"));
        assert!(!looks_like_http(b"GETTER"));
        assert!(!looks_like_http(b"date"));
    }
}
