//! `netcore bench`: a load generator for line servers in the spirit of redis-benchmark.
//!
//! One thread drives every connection through poll(2). Each connection sends a batch of
//! `--pipeline` requests, waits for all their replies, then sends the next batch, as
//! redis-benchmark does with `-P`; a request's latency runs from the moment its batch's first
//! byte was written to the moment its reply line arrived. Latencies go into an HDR histogram
//! (nanosecond resolution, 3 significant digits). Every reply is checked: it must be a
//! complete line no longer than 1 MiB and, with `--expect`, equal to TEXT. A wrong reply
//! counts as an error and the connection goes on; a connection that closes, resets or
//! leaves a request unanswered for `--timeout` counts its outstanding requests as errors
//! and is dropped. The run ends when the request count is reached, or the duration is over
//! and the last replies are in, or every connection is gone.
//!
//! `--greeting-lines N` reads and discards N lines each connection gets on connect (the
//! `greet` service's `Hello, I am server`) before the clock starts. The report includes the
//! generator's own CPU time during the run (user + system, getrusage), so a benchmark on a
//! small machine can see how much of the cores the load generator itself took.

use std::io::{self, IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{ArgGroup, Args};
use hdrhistogram::Histogram;

use super::client::{interrupted, seconds, SigintGuard};
use super::Failure;
use crate::client::Target;
use crate::error::Error;

mod conn;
mod report;

use conn::{drop_conn, has_output, open_conn, read_replies, send_pending};
use report::{summary_json, summary_text};
pub use report::{Errors, Report};

/// Examples naming 127.0.0.1:21560 measure `netcore` itself; the others name their server.
const BENCH_EXAMPLES: &str = "  netcore bench 127.0.0.1 21560 --conns 50 --requests 100000 --request os --expect '[posix]'
  netcore bench 127.0.0.1 21560 --conns 4 --pipeline 16 --duration 2 --request date --json
  netcore bench 127.0.0.1 6379 --conns 50 --requests 100000 --request PING --expect +PONG   # server: redis-server
  netcore bench --unix /tmp/netcore.sock --conns 8 --requests 50000 --request os   # server: netcore serve --unix /tmp/netcore.sock
  netcore bench localhost 8443 --tls --cafile certs/ca.pem --reconnect --conns 8 --duration 2 --request os   # server: netcore serve --listen 8443 --tls-cert certs/server.pem --tls-key certs/server.key (certs: scripts/make-test-certs certs)
  netcore bench 127.0.0.1 21562 --resp --pipeline 16 --requests 100000 --request PING --expect PONG   # server: netcore serve --framing resp --listen 127.0.0.1:21562";

/// Measure a line server: requests per second and latency percentiles.
///
/// Opens --conns connections, keeps --pipeline requests in flight on each and sends
/// --request TEXT (plus a newline) until --requests replies have arrived or --duration
/// seconds have passed. A progress line is shown on stderr while it runs; the summary
/// (or --json) goes to stdout. Ctrl+C stops sending early and still prints the summary.
#[derive(Args, Debug)]
#[command(
    group(ArgGroup::new("amount").required(true).args(["requests", "duration"])),
    after_help = super::exit::help("bench", BENCH_EXAMPLES)
)]
pub struct BenchArgs {
    /// Server host name or address
    #[arg(required_unless_present = "unix")]
    pub host: Option<String>,
    /// Server port
    #[arg(required_unless_present = "unix")]
    pub port: Option<u16>,
    /// Measure a server on a Unix stream socket instead of HOST PORT
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
    pub unix: Option<std::path::PathBuf>,
    /// Parallel connections
    #[arg(long, short = 'c', default_value_t = 50)]
    pub conns: usize,
    /// Requests in flight per connection (sent as one batch)
    #[arg(long, short = 'P', default_value_t = 1)]
    pub pipeline: usize,
    /// Total requests to complete
    #[arg(long, short = 'n')]
    pub requests: Option<u64>,
    /// Seconds to keep sending (then the outstanding replies are awaited)
    #[arg(long, short = 'd', value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// The request line sent each time
    #[arg(long, value_name = "TEXT")]
    pub request: String,
    /// The reply every request must get (exact, without the line terminator)
    #[arg(long, value_name = "TEXT")]
    pub expect: Option<String>,
    /// End requests with \r\n instead of \n
    #[arg(long)]
    pub crlf: bool,
    /// Speak RESP (redis's protocol): --request's words go out as an array of bulk strings,
    /// replies are parsed as RESP and --expect is compared with the reply's value (`PONG`)
    #[arg(long, conflicts_with = "crlf")]
    pub resp: bool,
    /// Seconds a request may wait for its reply (and for connecting)
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Lines the server sends on connect (a greeting or banner), read and discarded before
    /// the first request
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub greeting_lines: usize,
    /// Print the summary as one JSON object
    #[arg(long)]
    pub json: bool,
    /// No progress line
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Open a new connection for every batch (with --pipeline 1: every request); with --tls
    /// the summary gives handshakes per second
    #[arg(long)]
    pub reconnect: bool,
    #[command(flatten)]
    pub tls: super::tls_args::TlsArgs,
}

/// How much work to do.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    Requests(u64),
    Duration(Duration),
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    pub conns: usize,
    pub pipeline: usize,
    pub amount: Amount,
    pub request: Vec<u8>,
    pub expect: Option<Vec<u8>>,
    pub timeout: Duration,
    /// Lines read and discarded on each connection before the first request.
    pub greeting_lines: usize,
    /// TLS on every connection.
    pub tls: Option<BenchTls>,
    /// A new connection for every batch.
    pub reconnect: bool,
    /// Replies are RESP values, not lines.
    pub resp: bool,
}

/// What every TLS connection of a run uses.
#[derive(Debug, Clone)]
pub struct BenchTls {
    pub config: Arc<rustls::ClientConfig>,
    pub name: rustls::pki_types::ServerName<'static>,
}

/// CPU time used by this process so far (user, system).
fn cpu_times() -> (Duration, Duration) {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return (Duration::ZERO, Duration::ZERO);
    }
    let d = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    (d(u.ru_utime), d(u.ru_stime))
}

fn progress_line(done: u64, amount: Amount, started: Instant, errors: u64) -> String {
    let elapsed = started.elapsed().as_secs_f64();
    let rate = done as f64 / elapsed.max(1e-9);
    let of = match amount {
        Amount::Requests(n) => format!("{done}/{n} requests"),
        Amount::Duration(d) => format!("{done} requests, {:.1}/{:.1} s", elapsed, d.as_secs_f64()),
    };
    format!("{of}  {rate:.0} req/s  {errors} errors")
}

/// Runs the plan. `progress` is called about four times a second with a status line.
pub fn run(plan: &Plan, progress: &mut dyn FnMut(&str)) -> Result<Report, Failure> {
    let mut conns = Vec::with_capacity(plan.conns);
    for _ in 0..plan.conns {
        conns.push(open_conn(plan)?);
    }
    let mut reconnects = 0u64;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds");
    let mut errors = Errors::default();
    let mut ok = 0u64;
    let mut issued = 0u64;
    let mut lost = 0usize;
    let cpu_before = cpu_times();
    let started = Instant::now();
    let stop_sending_at = match plan.amount {
        Amount::Duration(d) => Some(started + d),
        Amount::Requests(_) => None,
    };
    let mut next_progress = started + Duration::from_millis(250);
    let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(conns.len());
    let mut chunk = vec![0u8; 64 * 1024];

    loop {
        let now = Instant::now();
        // Ctrl+C stops sending; the replies already due are still awaited and reported.
        let sending = !interrupted()
            && match (plan.amount, stop_sending_at) {
                (Amount::Requests(n), _) => issued < n,
                (_, Some(at)) => now < at,
                _ => false,
            };
        // --reconnect: an answered connection makes room for a new one.
        if sending && plan.reconnect {
            for c in conns.iter_mut().filter(|c| c.alive && c.used && c.in_flight.is_empty()) {
                match open_conn(plan) {
                    Ok(fresh) => {
                        *c = fresh;
                        reconnects += 1;
                    }
                    Err(f) => {
                        errors.other += 1;
                        errors.note(|| f.message.clone());
                        c.alive = false;
                        lost += 1;
                    }
                }
            }
        }
        // Start a new batch on every idle connection.
        if sending {
            for c in conns.iter_mut().filter(|c| c.alive && c.in_flight.is_empty()) {
                let batch = match plan.amount {
                    Amount::Requests(n) => (n - issued).min(plan.pipeline as u64) as usize,
                    Amount::Duration(_) => plan.pipeline,
                };
                if batch == 0 {
                    break;
                }
                c.out.clear();
                c.out_pos = 0;
                c.used = true;
                for _ in 0..batch {
                    c.out.extend_from_slice(&plan.request);
                }
                // Restamped by send_pending when the batch's first byte goes out.
                let queued = Instant::now();
                c.in_flight.extend(std::iter::repeat_n(queued, batch));
                issued += batch as u64;
            }
        }
        let busy = conns.iter().any(|c| c.alive && !c.in_flight.is_empty());
        if !busy && (!sending || conns.iter().all(|c| !c.alive)) {
            break;
        }

        // Write what is pending; sockets are non-blocking.
        for c in conns.iter_mut().filter(|c| c.alive && has_output(c)) {
            if let Err(e) = send_pending(c) {
                drop_conn(c, &mut errors, &mut lost, Error::Os(e));
            }
        }

        pfds.clear();
        for c in &conns {
            let mut events = 0;
            if c.alive && !c.in_flight.is_empty() {
                events |= libc::POLLIN;
            }
            if c.alive && has_output(c) {
                events |= libc::POLLOUT;
            }
            pfds.push(libc::pollfd { fd: if events == 0 { -1 } else { c.socket.as_raw_fd() }, events, revents: 0 });
        }
        // SAFETY: `pfds` is a valid array of pollfd for the duration of the call.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 50) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(Failure::network(format!("poll failed: {e}")));
            }
        }
        let now = Instant::now();
        for (c, p) in conns.iter_mut().zip(&pfds) {
            if !c.alive || p.revents == 0 {
                continue;
            }
            if p.revents & libc::POLLOUT != 0 && has_output(c) {
                if let Err(e) = send_pending(c) {
                    drop_conn(c, &mut errors, &mut lost, Error::Os(e));
                    continue;
                }
            }
            if p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                read_replies(c, plan, &mut chunk, now, &mut histogram, &mut ok, &mut errors, &mut lost);
            }
        }
        // Requests unanswered for too long end their connection.
        for c in conns.iter_mut().filter(|c| c.alive) {
            if let Some(&oldest) = c.in_flight.front() {
                if now.duration_since(oldest) > plan.timeout {
                    drop_conn(c, &mut errors, &mut lost, Error::Timeout);
                }
            }
        }
        if now >= next_progress {
            progress(&progress_line(ok + errors.total(), plan.amount, started, errors.total()));
            next_progress = now + Duration::from_millis(250);
        }
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_times();
    let cpu = (cpu_after.0.saturating_sub(cpu_before.0), cpu_after.1.saturating_sub(cpu_before.1));
    Ok(Report { ok, errors, elapsed, histogram, connections: plan.conns, connections_lost: lost, cpu, reconnects })
}

pub fn bench(args: &BenchArgs) -> Result<(), Failure> {
    if args.conns == 0 || args.conns > 10_000 {
        return Err(Failure::usage("--conns must be between 1 and 10000"));
    }
    if args.pipeline == 0 || args.pipeline > 100_000 {
        return Err(Failure::usage("--pipeline must be between 1 and 100000"));
    }
    if args.request.contains(['\n', '\r']) {
        return Err(Failure::usage("--request must be a single line"));
    }
    let amount = match (args.requests, args.duration) {
        (Some(0), _) => return Err(Failure::usage("--requests must be at least 1")),
        (Some(n), _) => Amount::Requests(n),
        (None, Some(d)) => Amount::Duration(seconds("duration", d)?),
        (None, None) => return Err(Failure::usage("give --requests N or --duration SECONDS")),
    };
    let mut request = args.request.clone().into_bytes();
    if args.resp {
        let words: Vec<&[u8]> = args.request.split_ascii_whitespace().map(str::as_bytes).collect();
        if words.is_empty() {
            return Err(Failure::usage("--request must name a command"));
        }
        request.clear();
        crate::client::resp::encode_command(&words, &mut request);
    } else {
        request.extend_from_slice(if args.crlf { b"\r\n" } else { b"\n" });
    }
    let target = match (&args.unix, &args.host, args.port) {
        (Some(path), _, _) => Target::Unix(path.clone()),
        (None, Some(host), Some(port)) => Target::Tcp { host: host.clone(), port },
        _ => return Err(Failure::usage("give HOST and PORT, or --unix PATH")),
    };
    let target_for_tls = target.clone();
    let plan = Plan {
        target,
        conns: args.conns,
        pipeline: args.pipeline,
        amount,
        request,
        expect: args.expect.clone().map(String::into_bytes),
        timeout: seconds("timeout", args.timeout)?,
        greeting_lines: args.greeting_lines,
        tls: match args.tls.client_tls()? {
            None => None,
            Some(tls) => {
                let host = match &target_for_tls {
                    Target::Tcp { host, .. } => host.clone(),
                    Target::Unix(_) => "localhost".to_string(),
                };
                let usage = |e: Error| Failure::usage(e.to_string());
                Some(BenchTls { config: tls.load().map_err(usage)?, name: tls.server_name(&host).map_err(usage)? })
            }
        },
        reconnect: args.reconnect,
        resp: args.resp,
    };
    let _sigint = SigintGuard::install();
    let stderr = io::stderr();
    let tty = stderr.is_terminal();
    let mut last_plain = Instant::now();
    let mut shown = false;
    let report = run(&plan, &mut |line| {
        if args.quiet {
            return;
        }
        let mut err = stderr.lock();
        if tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            shown = true;
        } else if last_plain.elapsed() >= Duration::from_secs(1) {
            let _ = writeln!(err, "progress: {line}");
            last_plain = Instant::now();
        }
        let _ = err.flush();
    })?;
    if shown {
        let _ = write!(stderr.lock(), "\r\x1b[2K");
    }
    let mut text = if args.json { summary_json(&plan, &report) + "\n" } else { summary_text(&plan, &report) };
    if interrupted() && !args.json {
        text += "  (interrupted by Ctrl+C before the planned amount)\n";
    }
    let _ = io::stdout().lock().write_all(text.as_bytes());
    let failed = report.errors.total();
    if failed > 0 {
        let first = report.errors.first.clone().unwrap_or_default();
        return Err(Failure::network(format!(
            "bench against {}: {failed} of {} requests failed (first: {first})",
            plan.target,
            report.completed()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
