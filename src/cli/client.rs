//! `netcore client` (interactive or piped) and `netcore send` (one-shot requests).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;

use super::Failure;
use crate::client::{udp, Client, Interrupt, Options, Target};
use crate::error::Error;

/// Examples naming 127.0.0.1:21560 talk to `netcore` (the README's command server, line
/// framing); the others name the server they need after `server:`.
const CLIENT_EXAMPLES: &str = "  netcore client 127.0.0.1 21560               # type date, os, ls; quit ends it
  printf 'date\\nos\\n' | netcore client 127.0.0.1 21560
  netcore client localhost 6379                # server: redis-server (type PING, see +PONG)
  netcore client --message 127.0.0.1 21561     # seed 000's client: type date, Ctrl+D sends
                                               #   server: netcore serve --framing message --listen 127.0.0.1:21561
  netcore client --unix /tmp/netcore.sock      # server: netcore serve --unix /tmp/netcore.sock
  netcore client --resp 127.0.0.1 21562        # server: netcore serve --framing resp --listen 127.0.0.1:21562 (or redis-server)";

const SEND_EXAMPLES: &str = "  netcore send 127.0.0.1 21560 date os 'ls src'
  netcore send --udp 127.0.0.1 9000 client1 client2   # server: netcore serve --service greet --udp 127.0.0.1:9000
  netcore send --message 127.0.0.1 21561 date         # server: netcore serve --framing message --listen 127.0.0.1:21561
  netcore send localhost 6379 PING 'ECHO hi'          # server: redis-server";

/// Talk to a line server: each line is sent and the reply printed.
///
/// At a terminal you get line editing and history; Enter sends the line (empty lines are
/// not sent), Ctrl+C or Ctrl+D on an empty line quits. With --message it behaves like seed
/// 000's client: lines typed are gathered until Ctrl+D, then sent joined as one message,
/// and whatever comes back is printed (Ctrl+C, or Ctrl+D with nothing typed, quits).
/// When stdin is not a terminal each non-empty input line is one request (or, with
/// --message, one message) and the program exits 0 at the end of input.
///
/// A greeting the server sends within --greeting-wait of connecting is printed first, so it
/// is not taken for the first reply; a server that greets and hangs up (seed 003's
/// thank-you server) ends the session with exit code 0 after its greeting.
#[derive(Args, Debug)]
#[command(after_help = super::exit::help("client", CLIENT_EXAMPLES))]
pub struct ClientArgs {
    /// Server host name or address (IPv4 or IPv6)
    #[arg(required_unless_present = "unix")]
    pub host: Option<String>,
    /// Server port
    #[arg(required_unless_present = "unix")]
    pub port: Option<u16>,
    /// Connect to a Unix stream socket instead of HOST PORT
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
    pub unix: Option<PathBuf>,
    /// Seed 000's framing: send input as it is, read the reply until the server is quiet
    #[arg(long)]
    pub message: bool,
    /// Speak RESP (redis's protocol; netcore's --framing resp or redis-server): each line's
    /// words (quotes as in redis-cli) go out as one command, replies print as redis-cli shows them
    #[arg(long, conflicts_with = "message")]
    pub resp: bool,
    /// Seconds to wait for connecting and for each reply
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// With --message: the silence in seconds that ends a reply
    #[arg(long, default_value_t = 0.2, value_name = "SECONDS")]
    pub quiet: f64,
    /// How long to wait for a greeting after connecting (0: do not wait)
    #[arg(long, default_value_t = 0.2, value_name = "SECONDS")]
    pub greeting_wait: f64,
    #[command(flatten)]
    pub tls: super::tls_args::TlsArgs,
}

/// Send one or more requests and print each reply.
///
/// Over TCP each MSG is one line (a newline is added) and one reply line is printed per
/// message; with --message each MSG is sent as it is and the reply is read until the server
/// is quiet. A greeting sent within --greeting-wait of connecting is printed first. With
/// --udp each MSG is one datagram and the first datagram back is printed.
#[derive(Args, Debug)]
#[command(after_help = super::exit::help("send", SEND_EXAMPLES))]
pub struct SendArgs {
    /// Server host name or address
    pub host: String,
    /// Server port
    pub port: u16,
    /// The messages to send, in order
    #[arg(required = true, value_name = "MSG")]
    pub messages: Vec<String>,
    /// Send datagrams instead of using a TCP connection
    #[arg(long, conflicts_with = "message")]
    pub udp: bool,
    /// Message framing over TCP (no newline added, reply read until quiet)
    #[arg(long)]
    pub message: bool,
    /// Seconds to wait for connecting and for each reply (each UDP attempt)
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// UDP: resends after a silent attempt
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
    /// TCP: how long to wait for a greeting after connecting (0: do not wait)
    #[arg(long, default_value_t = 0.2, value_name = "SECONDS")]
    pub greeting_wait: f64,
    #[command(flatten)]
    pub tls: super::tls_args::TlsArgs,
}

pub(crate) fn seconds(name: &str, value: f64) -> Result<Duration, Failure> {
    if value.is_finite() && value > 0.0 && value < 1e9 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Failure::usage(format!("--{name} must be a positive number of seconds, not {value}")))
    }
}

/// What went wrong, said for a person: "no reply within 5 s", "connection refused", ...
pub(crate) fn explain(e: &Error, timeout: Duration) -> String {
    match e {
        Error::Timeout => format!("timed out after {} s", fmt_secs(timeout)),
        Error::ConnectionClosed => "the server closed the connection before replying in full".into(),
        e => e.to_string(),
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn connect(target: &Target, opts: Options) -> Result<Client, Failure> {
    let timeout = opts.timeout.unwrap_or_default();
    Client::connect_to(target.clone(), opts)
        .map_err(|e| Failure::network(format!("cannot connect to {target}: {}", explain(&e, timeout))))
}

/// Prints a reply; a message reply gets a newline unless it ends with one.
fn print_reply(out: &mut impl Write, reply: &[u8], add_newline: bool) -> io::Result<()> {
    out.write_all(reply)?;
    if add_newline || reply.last() != Some(&b'\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While alive, SIGINT (Ctrl+C outside line editing, e.g. while waiting for a reply) sets
/// `INTERRUPTED` instead of killing the process, so the client can stop cleanly. The
/// previous handler (Python's, under `python -m netcore`) comes back on drop.
pub(crate) struct SigintGuard {
    old: libc::sigaction,
}

impl SigintGuard {
    /// Ctrl+C sets a flag the command checks.
    pub(crate) fn install() -> Self {
        Self::set(on_sigint as *const () as usize)
    }

    /// Ctrl+C ends the process at once, as in any plain program. Under `python -m netcore`
    /// Python's own handler would otherwise hold the signal until the command returned.
    pub(crate) fn default_action() -> Self {
        Self::set(libc::SIG_DFL)
    }

    fn set(handler: usize) -> Self {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: plain sigaction calls with zero-initialised structs; the handler only
        // stores to an atomic, which is async-signal-safe. No SA_RESTART, so a wait in
        // poll(2) returns EINTR and the check runs at once.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = handler;
            libc::sigemptyset(&mut new.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, &new, &mut old);
            SigintGuard { old }
        }
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        // SAFETY: restores the handler saved by `install`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.old, std::ptr::null_mut());
        }
    }
}

pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

struct Session {
    client: Client,
    target: Target,
    message: bool,
    resp: bool,
    timeout: Duration,
}

/// How long to wait, after the reply to a `quit` or `exit` the client sent, for the server
/// to close the connection: it closes right after its `bye`, so this is only an upper bound.
const QUIT_GRACE: Duration = Duration::from_secs(1);

/// What one exchange ended with.
#[derive(Debug, PartialEq, Eq)]
enum Exchanged {
    /// The reply was printed; the connection is open.
    Replied,
    /// The server closed the connection. `after_quit`: the request was a `quit` or `exit`
    /// the client sent; `replied`: its reply arrived (and was printed) first.
    Closed { after_quit: bool, replied: bool },
    /// Ctrl+C, or stdout went away: stop quietly.
    Stopped,
}

/// `quit`, `EXIT`, ` Quit now`: a request asking the server to hang up.
fn is_quit(request: &[u8]) -> bool {
    let word = request.split(|b| b.is_ascii_whitespace()).find(|w| !w.is_empty()).unwrap_or_default();
    word.eq_ignore_ascii_case(b"quit") || word.eq_ignore_ascii_case(b"exit")
}

impl Session {
    /// Sends one request or message and prints the reply, then notices a close that came
    /// with it (waiting up to `QUIT_GRACE` for it after a quit).
    fn exchange(&mut self, data: &[u8], out: &mut impl Write) -> Result<Exchanged, Failure> {
        let after_quit = is_quit(data);
        // A server that hung up while the user typed: say so instead of failing to send.
        if self.closed_now(Duration::ZERO)? {
            return Ok(Exchanged::Closed { after_quit: false, replied: false });
        }
        let mut check = || if interrupted() { Err(Error::Interrupted) } else { Ok(()) };
        let result = if self.resp {
            resp_exchange(&mut self.client, data, Interrupt::new(&mut check))
        } else if self.message {
            self.client.message_checked(data, Interrupt::new(&mut check))
        } else {
            self.client.request_checked(data, Interrupt::new(&mut check))
        };
        match result {
            Ok(reply) => {
                // stdout closed (e.g. `| head`): stop quietly.
                if print_reply(out, &reply, !self.message).is_err() {
                    return Ok(Exchanged::Stopped);
                }
                let wait = if after_quit { QUIT_GRACE } else { Duration::ZERO };
                if !self.client.is_open() || self.closed_now(wait)? {
                    return Ok(Exchanged::Closed { after_quit, replied: true });
                }
                Ok(Exchanged::Replied)
            }
            Err(Error::Interrupted) => Ok(Exchanged::Stopped),
            Err(Error::ConnectionClosed) if self.client.closed_mid_reply() => {
                Err(Failure::network(format!("connection closed by {} before replying in full", self.target)))
            }
            Err(Error::ConnectionClosed) => Ok(Exchanged::Closed { after_quit, replied: false }),
            // A reset (the server closed with this request unread) or EPIPE is its close too.
            Err(e) if matches!(e.code(), libc::ECONNRESET | libc::EPIPE) => {
                Ok(Exchanged::Closed { after_quit, replied: false })
            }
            Err(e) => Err(Failure::network(format!("request to {} failed: {}", self.target, self.explain_failed(&e)))),
        }
    }

    /// True when the server has closed the connection (waiting up to `wait` for it).
    fn closed_now(&mut self, wait: Duration) -> Result<bool, Failure> {
        self.client.wait_for_close(wait).map_err(|e| {
            Failure::network(format!("connection to {} failed: {}", self.target, explain(&e, self.timeout)))
        })
    }

    /// `explain`, plus the likely cause when a message gets no reply at all.
    fn explain_failed(&self, e: &Error) -> String {
        let why = explain(e, self.timeout);
        if self.message && matches!(e, Error::Timeout) {
            format!("{why} with no reply (the server may be using line framing: try without --message)")
        } else {
            why
        }
    }

    /// Ends the session after the server closed: one line, exit 0 after a quit, 1 otherwise.
    fn closed(&self, after_quit: bool) -> Result<(), Failure> {
        let line = format!("connection closed by {}", self.target);
        if after_quit {
            eprintln!("netcore: {line}");
            Ok(())
        } else {
            Err(Failure::network(line))
        }
    }
}

/// Sends a typed line as one RESP command and returns the reply as redis-cli prints it.
fn resp_exchange(client: &mut Client, line: &[u8], intr: Interrupt<'_>) -> crate::error::Result<Vec<u8>> {
    let limits = crate::server::resp::RequestLimits::new(usize::MAX / 2);
    let words = match crate::server::resp::parse_request(&[line, b"\n"].concat(), limits) {
        Ok(Some((_, words))) if !words.is_empty() => words,
        Ok(_) => return Err(Error::InvalidArgument("nothing to send".into())),
        Err(e) => return Err(Error::InvalidArgument(e.to_string().replace("Protocol error: ", ""))),
    };
    let argv: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
    let reply = client.command_checked(&argv, intr)?;
    Ok(crate::client::resp::display_reply(&reply).into_bytes())
}

fn greeting_wait(value: f64) -> Result<Option<Duration>, Failure> {
    if value == 0.0 {
        Ok(None)
    } else {
        seconds("greeting-wait", value).map(Some)
    }
}

/// Prints a greeting the server sends on connecting (seed 002's "Hello, I am server", the
/// engine's greet and banner services) so that it is not taken for the first reply.
/// `Ok(false)`: the server hung up after its greeting (seed 003's thank-you server).
fn show_greeting(session: &mut Session, wait: Option<Duration>) -> Result<bool, Failure> {
    let Some(wait) = wait else { return Ok(true) };
    match session.client.greeting(wait) {
        Ok(None) => Ok(true),
        Ok(Some(text)) => {
            let _ = print_reply(&mut io::stdout(), &text, false);
            Ok(session.client.is_open())
        }
        Err(e) => Err(Failure::network(format!(
            "reading the greeting from {} failed: {}",
            session.target,
            explain(&e, session.timeout)
        ))),
    }
}

pub fn client(args: &ClientArgs) -> Result<(), Failure> {
    let timeout = seconds("timeout", args.timeout)?;
    let quiet = seconds("quiet", args.quiet)?;
    let target = match (&args.unix, &args.host, args.port) {
        (Some(path), _, _) => Target::Unix(path.clone()),
        (None, Some(host), Some(port)) => Target::Tcp { host: host.clone(), port },
        _ => return Err(Failure::usage("give HOST and PORT, or --unix PATH")),
    };
    let opts = Options { timeout: Some(timeout), quiet, tls: args.tls.client_tls()?, ..Options::default() };
    let _sigint = SigintGuard::install();
    let client = connect(&target, opts)?;
    let mut session = Session { client, target, message: args.message, resp: args.resp, timeout };
    let tty = io::stdin().is_terminal();
    // A RESP server never greets.
    let wait = if args.resp { None } else { greeting_wait(args.greeting_wait)? };
    if !show_greeting(&mut session, wait)? {
        return Ok(());
    }
    if tty {
        interactive(&mut session)
    } else {
        piped(&mut session)
    }
}

fn piped(session: &mut Session) -> Result<(), Failure> {
    let stdin = io::stdin();
    let mut out = io::stdout().lock();
    for line in stdin.lock().split(b'\n') {
        let mut line = line.map_err(|e| Failure::network(format!("cannot read standard input: {e}")))?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if interrupted() {
            break;
        }
        if line.is_empty() {
            continue;
        }
        match session.exchange(&line, &mut out)? {
            Exchanged::Replied => {}
            Exchanged::Closed { after_quit, .. } => return session.closed(after_quit),
            Exchanged::Stopped => break,
        }
    }
    Ok(())
}

fn interactive(session: &mut Session) -> Result<(), Failure> {
    use rustyline::error::ReadlineError;
    let mut editor =
        rustyline::DefaultEditor::new().map_err(|e| Failure::network(format!("cannot set up the terminal: {e}")))?;
    let mut out = io::stdout();
    let _ = writeln!(
        out,
        "connected to {}; {}",
        session.target,
        if session.message {
            "type lines, Ctrl+D sends them; Ctrl+C or Ctrl+D on nothing quits"
        } else {
            "Enter sends a line; Ctrl+C or Ctrl+D on an empty line quits"
        }
    );
    let mut gathered: Vec<u8> = Vec::new();
    loop {
        let prompt = if session.message { ">" } else { "> " };
        match editor.readline(prompt) {
            Ok(line) => {
                if line.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line.as_str());
                if session.message {
                    // Seed 000 joins the lines with nothing between them.
                    gathered.extend_from_slice(line.as_bytes());
                    continue;
                }
                match session.exchange(line.as_bytes(), &mut out)? {
                    Exchanged::Replied => {}
                    Exchanged::Closed { after_quit, .. } => return session.closed(after_quit),
                    Exchanged::Stopped => return Ok(()),
                }
            }
            Err(ReadlineError::Eof) if session.message && !gathered.is_empty() => {
                let data = std::mem::take(&mut gathered);
                match session.exchange(&data, &mut out)? {
                    Exchanged::Replied => {}
                    Exchanged::Closed { after_quit, .. } => return session.closed(after_quit),
                    Exchanged::Stopped => return Ok(()),
                }
            }
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => return Ok(()),
            Err(e) => return Err(Failure::network(format!("cannot read the terminal: {e}"))),
        }
    }
}

pub fn send(args: &SendArgs) -> Result<(), Failure> {
    let timeout = seconds("timeout", args.timeout)?;
    let _sigint = SigintGuard::default_action();
    let mut out = io::stdout().lock();
    if args.udp && args.tls.tls {
        return Err(Failure::usage("--tls is for TCP: UDP has no TLS (DTLS is not supported)"));
    }
    if args.udp {
        let opts = udp::UdpOptions { timeout, retries: args.retries };
        for msg in &args.messages {
            let reply = udp::request(&args.host, args.port, msg.as_bytes(), &opts).map_err(|e| {
                let target = Target::Tcp { host: args.host.clone(), port: args.port };
                let why = match e {
                    Error::Timeout => {
                        format!("no reply after {} attempts of {} s", args.retries + 1, fmt_secs(timeout))
                    }
                    e => e.to_string(),
                };
                Failure::network(format!("UDP request to {target} failed: {why}"))
            })?;
            let _ = print_reply(&mut out, &reply, false);
        }
        return Ok(());
    }
    if args.messages.iter().any(|m| m.is_empty() || (!args.message && m.contains('\n'))) {
        return Err(Failure::usage("a message must be non-empty and, without --message, a single line"));
    }
    let target = Target::Tcp { host: args.host.clone(), port: args.port };
    let opts = Options { timeout: Some(timeout), tls: args.tls.client_tls()?, ..Options::default() };
    let wait = greeting_wait(args.greeting_wait)?;
    let client = connect(&target, opts)?;
    let mut session = Session { client, target, message: args.message, resp: false, timeout };
    if !show_greeting(&mut session, wait)? {
        return Err(Failure::network(format!("{} closed the connection after its greeting", session.target)));
    }
    for (i, msg) in args.messages.iter().enumerate() {
        let last = i + 1 == args.messages.len();
        match session.exchange(msg.as_bytes(), &mut out)? {
            Exchanged::Replied => {}
            Exchanged::Stopped => return Ok(()),
            // Every reply arrived, or the last message was the `quit` that asked for the close.
            Exchanged::Closed { after_quit, replied } if last && (after_quit || replied) => return Ok(()),
            Exchanged::Closed { .. } => {
                return Err(Failure::network(format!(
                    "connection closed by {} after {} of {} messages",
                    session.target,
                    i + 1,
                    args.messages.len()
                )))
            }
        }
    }
    Ok(())
}
