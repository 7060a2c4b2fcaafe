//! The `netcore` command-line program, compiled into the program (src/main.rs) and the Python
//! module (`python -m netcore`), never into the C library. Exit codes: the table in `exit`
//! (0 success, 1 remote or network error, 2 usage error, 3-7 gopher's stages).

mod bench;
mod client;
mod deploy;
mod exit;
mod fetch;
mod gopher;
mod lookup;
mod serve;
mod tls_args;

use std::ffi::OsString;

use clap::{Parser, Subcommand};

/// Exit code for a remote or network failure.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for a usage error.
pub const EXIT_USAGE: i32 = 2;

/// `netcore --help`'s examples: those naming 127.0.0.1:21560 talk to `netcore` itself (the
/// README's server); the others say which server they need.
const TOP_EXAMPLES: &str = "Examples:
  netcore                                        # the command server on 127.0.0.1:21560
  netcore serve --service greet --listen 127.0.0.1:8000 --udp 127.0.0.1:9000
  netcore client 127.0.0.1 21560                 # type `date`, `os`, `ls`
  netcore send 127.0.0.1 21560 date os
  netcore bench 127.0.0.1 21560 --conns 50 --requests 100000 --request os --expect '[posix]'
  netcore gopher localhost / --port 7070         # server: a Gopher server on port 7070
  netcore fetch http://127.0.0.1:8000/ -o index.html   # server: python3 -m http.server 8000 --bind 127.0.0.1
  netcore resolve localhost
  netcore port http tcp";

#[derive(Parser, Debug)]
#[command(
    name = "netcore",
    version,
    about = "A networking engine with Python's socket semantics: look-ups, servers and clients",
    long_about = "A networking engine with Python's socket semantics: look-ups, servers and clients.\n\n\
                  With no subcommand, netcore runs its default job: the command server on 127.0.0.1:21560\n\
                  (`netcore serve --service command --listen 127.0.0.1:21560`).",
    after_help = format!("{TOP_EXAMPLES}\n\n{}", exit::table())
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    Resolve(lookup::ResolveArgs),
    Port(lookup::PortArgs),
    Serve(serve::ServeArgs),
    Client(client::ClientArgs),
    Send(client::SendArgs),
    Bench(bench::BenchArgs),
    Gopher(gopher::GopherArgs),
    Fetch(fetch::FetchArgs),
}

/// Runs the program with `args` (the first is the program name) and returns its exit code.
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let outcome = match cli.command {
        Some(Command::Resolve(args)) => lookup::resolve(&args),
        Some(Command::Port(args)) => lookup::port(&args),
        Some(Command::Serve(args)) => serve::serve(&args),
        Some(Command::Client(args)) => client::client(&args),
        Some(Command::Send(args)) => client::send(&args),
        Some(Command::Bench(args)) => bench::bench(&args),
        Some(Command::Gopher(args)) => gopher::gopher(&args),
        Some(Command::Fetch(args)) => fetch::fetch(&args),
        None => serve::serve(&serve::ServeArgs::default_job()),
    };
    match outcome {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("netcore: {}", failure.message);
            failure.code
        }
    }
}

/// A failed command: one line for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn network(message: impl Into<String>) -> Self {
        Failure { message: message.into(), code: EXIT_FAILURE }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Failure { message: message.into(), code: EXIT_USAGE }
    }
}
