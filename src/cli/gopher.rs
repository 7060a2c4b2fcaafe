//! `netcore gopher`: seed 003's Gopher client, one clear line and its own exit code per
//! failure stage.

use std::io::{self, Read, Write};

use clap::Args;

use super::client::seconds;
use super::Failure;
use crate::client::gopher::{self, Stage};
use crate::client::Target;

/// Exit code: the host name did not resolve.
pub const EXIT_LOOKUP: i32 = 3;
/// Exit code: the connection failed (refused, unreachable, timed out).
pub const EXIT_CONNECT: i32 = 4;
/// Exit code: sending the selector failed.
pub const EXIT_SEND: i32 = 5;
/// Exit code: receiving the reply failed.
pub const EXIT_RECEIVE: i32 = 6;
/// Exit code: the server answered with an error item (no such selector).
pub const EXIT_NOT_FOUND: i32 = 7;

const GOPHER_EXAMPLES: &str = "  netcore gopher localhost               # server: a Gopher server on port 70
  netcore gopher localhost /about --port 7070   # server: a Gopher server on port 7070";

/// Fetch a Gopher document or menu and print it (seed 003's Gopher client).
///
/// Sends SELECTOR and CRLF to HOST on port 70 (or --port) and copies the reply to stdout
/// until the server closes the connection.
#[derive(Args, Debug)]
#[command(after_help = super::exit::help("gopher", GOPHER_EXAMPLES))]
pub struct GopherArgs {
    /// Gopher server host name or address
    pub host: String,
    /// The selector to ask for (empty: the root menu)
    #[arg(default_value = "")]
    pub selector: String,
    /// Server port
    #[arg(long, short, default_value_t = gopher::DEFAULT_PORT)]
    pub port: u16,
    /// Seconds to wait for connecting and for each read
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
}

pub fn gopher(args: &GopherArgs) -> Result<(), Failure> {
    let timeout = seconds("timeout", args.timeout)?;
    let _sigint = super::client::SigintGuard::default_action();
    if args.selector.contains(['\r', '\n', '\t']) {
        return Err(Failure::usage("a selector must not contain CR, LF or TAB"));
    }
    let target = Target::Tcp { host: args.host.clone(), port: args.port };
    let fail = |e: gopher::GopherError| {
        let why = super::client::explain(&e.error, timeout);
        let (code, message) = match e.stage {
            Stage::Lookup => (EXIT_LOOKUP, format!("gopher: look-up of {} failed: {why}", args.host)),
            Stage::Connect => (EXIT_CONNECT, format!("gopher: cannot connect to {target}: {why}")),
            Stage::Send => (EXIT_SEND, format!("gopher: sending the selector to {target} failed: {why}")),
            Stage::Receive => (EXIT_RECEIVE, format!("gopher: receiving from {target} failed: {why}")),
            Stage::NotFound => {
                (EXIT_NOT_FOUND, format!("gopher: selector {:?} not found on {target}: {why}", args.selector))
            }
        };
        Failure { message, code }
    };
    let mut reader = gopher::open(&args.host, args.port, &args.selector, Some(timeout)).map_err(fail)?;
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(fail(gopher::GopherError { stage: Stage::Receive, error: gopher::io_error(e) }));
            }
        };
        out.write_all(&buf[..n]).map_err(|e| Failure::network(format!("cannot write the output: {e}")))?;
    }
    out.flush().map_err(|e| Failure::network(format!("cannot write the output: {e}")))?;
    Ok(())
}
